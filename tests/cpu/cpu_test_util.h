/*
 * tests/cpu/cpu_test_util.h - what the cpu kernel tests share: seeded data
 * and the ISAs this machine runs. Include after cmocka.h and cpu_conv.h.
 */
#ifndef ENGINE_TESTS_CPU_TEST_UTIL_H
#define ENGINE_TESTS_CPU_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>

/* ---- data: a xorshift stream, seeded by the test ---- */

static uint32_t rng_state;
static inline float rnd(void) { /* uniform [-1, 1) */
    uint32_t s = rng_state;
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    rng_state = s;
    return (float)((double)(s >> 8) / 8388608.0 - 1.0);
}

static inline float *fill(size_t n, float scale) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (size_t i = 0; i < n; ++i) p[i] = rnd() * scale;
    return p;
}

static inline void *alloc64(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    assert_non_null(p);
    return p;
}

/* ---- the ISAs this machine runs, best first ---- */

static inline int isa_list(cpu_isa *out) {
    int n = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        out[n++] = CPU_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out[n++] = CPU_ISA_AVX2;
#endif
#if defined(__aarch64__)
    out[n++] = CPU_ISA_NEON; /* baseline on aarch64 */
#endif
    out[n++] = CPU_ISA_SCALAR;
    return n;
}

static inline const char *isa_name(cpu_isa isa) {
    switch (isa) {
    case CPU_ISA_AVX512: return "avx512";
    case CPU_ISA_AVX2: return "avx2";
    case CPU_ISA_NEON: return "neon";
    default: return "scalar";
    }
}

#endif /* ENGINE_TESTS_CPU_TEST_UTIL_H */
