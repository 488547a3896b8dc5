/* gemm.c - the blocked GEMM driver shared by every ISA, and the ISA
 * selection. The micro-kernels (ukernel_<isa>.c) do the arithmetic; this
 * file packs, tiles and threads.
 *
 * Blocking: B is consumed one panel at a time (NR columns x all K rows,
 * K*NR*4 bytes: it stays in L1/L2 while every MR-row panel of A streams
 * past it). No K blocking: the epilogue runs once, right after the last
 * FMA, while the tile is still in registers. A work unit is a (B panel,
 * block of A panels) pair; when there are few panels (7x7 feature maps)
 * the A panels are split into blocks so every thread has work. Each
 * thread packs its B panels into its own slice of the scratch. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_internal.h"

void cpu_tile_epilogue(const cpu_kernels *k, const float *t, size_t ldt, float *c, size_t ldc, int mr, int nr,
                       const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    for (int i = 0; i < mr; ++i) {
        float *ci = c + (size_t)i * ldc;
        const float *ti = t + (size_t)i * ldt;
        const float *si = sum ? sum + (size_t)i * ldsum : NULL;
        for (int j = 0; j < nr; ++j) ci[j] = ti[j] + bias[i] + (si ? si[j] : 0.0f);
        k->act_row(epi, ci, (size_t)nr);
    }
}

size_t cpu_gemm_packed_a_floats(const cpu_kernels *k, int M, int K) {
    size_t panels = (size_t)(M + k->mr - 1) / (size_t)k->mr;
    return panels * (size_t)k->mr * (size_t)K;
}

void cpu_gemm_pack_a(const cpu_kernels *k, int M, int K, const float *A, size_t rs, size_t cs, float *packed) {
    const int MR = k->mr;
    for (int m0 = 0; m0 < M; m0 += MR)
        for (int kk = 0; kk < K; ++kk)
            for (int i = 0; i < MR; ++i)
                *packed++ = m0 + i < M ? A[(size_t)(m0 + i) * rs + (size_t)kk * cs] : 0.0f;
}

/* One panel's floats, rounded up to a cache line so panels stay aligned. */
static size_t panel_floats(const cpu_kernels *k, int K) {
    return ((size_t)K * (size_t)k->nr + 15u) / 16u * 16u;
}

size_t cpu_gemm_scratch_bytes(const cpu_kernels *k, int K, int threads) {
    return panel_floats(k, K) * sizeof(float) * (size_t)(threads > 0 ? threads : 1);
}

typedef struct gemm_job {
    const cpu_kernels *k;
    int M, N, K, mt, groups;
    const float *A, *bias, *sum;
    cpu_pack_b_fn pack_b;
    const void *ctx;
    float *C;
    size_t ldc, ldsum;
    const engine_epilogue *epi;
} gemm_job;

static void run_unit(const gemm_job *j, int u, float *panel, int *packed_p) {
    const int MR = j->k->mr, NR = j->k->nr;
    int p = u / j->groups, g = u % j->groups;
    int n0 = p * NR, nr = j->N - n0 < NR ? j->N - n0 : NR;
    if (*packed_p != p) {
        j->pack_b(j->ctx, n0, nr, NR, panel);
        *packed_p = p;
    }
    int t0 = (int)((long long)g * j->mt / j->groups), t1 = (int)((long long)(g + 1) * j->mt / j->groups);
    for (int t = t0; t < t1; ++t) {
        int m0 = t * MR, mr = j->M - m0 < MR ? j->M - m0 : MR;
        j->k->gemm(j->K, j->A + (size_t)t * (size_t)MR * (size_t)j->K, panel, j->C + (size_t)m0 * j->ldc + (size_t)n0,
                   j->ldc, mr, nr, j->bias + m0, j->sum ? j->sum + (size_t)m0 * j->ldsum + (size_t)n0 : NULL,
                   j->ldsum, j->epi);
    }
}

void cpu_gemm_run(const cpu_kernels *k, int M, int N, int K, const float *Apacked, const float *bias,
                  cpu_pack_b_fn pack_b, const void *ctx, float *C, size_t ldc, const float *sum, size_t ldsum,
                  const engine_epilogue *epi, int threads, void *scratch) {
    if (M <= 0 || N <= 0) return;
    gemm_job j = {k, M, N, K, (M + k->mr - 1) / k->mr, 1, Apacked, bias, sum, pack_b, ctx, C, ldc, ldsum, epi};
    int nt = (N + k->nr - 1) / k->nr;
    if (threads > 1 && nt < 4 * threads) {
        j.groups = (4 * threads + nt - 1) / nt;
        if (j.groups > j.mt) j.groups = j.mt;
    }
    int units = nt * j.groups;
    size_t pf = panel_floats(k, K);
    if (threads <= 1 || units == 1) {
        int packed_p = -1;
        for (int u = 0; u < units; ++u) run_unit(&j, u, scratch, &packed_p);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *panel = (float *)scratch + pf * (size_t)tid;
        int packed_p = -1;
#pragma omp for schedule(static)
        for (int u = 0; u < units; ++u) run_unit(&j, u, panel, &packed_p);
    }
}

/* ---- ISA tables and selection ---- */

const cpu_kernels *cpu_kernels_for(cpu_isa isa) {
    switch (isa) {
    case CPU_ISA_SCALAR: return &cpu_kernels_scalar;
#if defined(__x86_64__)
    case CPU_ISA_AVX2: return &cpu_kernels_avx2;
    case CPU_ISA_AVX512: return &cpu_kernels_avx512;
#endif
#if defined(__aarch64__)
    case CPU_ISA_NEON: return &cpu_kernels_neon;
#endif
    default: return NULL;
    }
}

cpu_isa cpu_isa_select(const char **note) {
    cpu_isa best = CPU_ISA_SCALAR;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
        best = CPU_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = CPU_ISA_AVX2;
#elif defined(__aarch64__)
    best = CPU_ISA_NEON;
#endif
    if (note) *note = NULL;
    const char *env = getenv("ENGINE_CPU_ISA");
    if (env && *env) {
        static const struct { const char *name; cpu_isa isa; } names[] = {
            {"scalar", CPU_ISA_SCALAR}, {"neon", CPU_ISA_NEON}, {"avx2", CPU_ISA_AVX2}, {"avx512", CPU_ISA_AVX512}};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
            if (strcmp(env, names[i].name) == 0) {
                if (names[i].isa <= best && cpu_kernels_for(names[i].isa)) return names[i].isa;
                break;
            }
        if (note) *note = "ENGINE_CPU_ISA names an ISA this machine or build lacks; ignored";
    }
    return best;
}
