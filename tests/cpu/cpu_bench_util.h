/*
 * tests/cpu/cpu_bench_util.h - what the cpu probes (bench_cpu_*.c) share:
 * a monotonic clock and 64-byte aligned buffers (NULL on failure: the
 * probes report it and exit, they are not cmocka tests).
 */
#ifndef ENGINE_TESTS_CPU_BENCH_UTIL_H
#define ENGINE_TESTS_CPU_BENCH_UTIL_H

#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* bytes (rounded up to 64; 0 gives 64) aligned to 64, or NULL. */
static inline void *bench_alloc64(size_t bytes) {
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? (bytes + 63) / 64 * 64 : 64) ? NULL : p;
}

#endif /* ENGINE_TESTS_CPU_BENCH_UTIL_H */
