/* bench_cpu_gemm.c - a probe, not a test: GFLOP/s of the cpu backend's GEMM
 * driver + micro-kernel (the selected ISA, ENGINE_CPU_ISA lowers it) on
 * shapes given on the command line, B packed from a row-major K x N matrix
 * like the 1x1-conv path does. Best of R repetitions.
 *     bench_cpu_gemm [M N K [threads [reps]]]   (default: 1024 1024 1024 1 10)
 * BENCH_DENSE=1: B pre-packed in panels as a dense layer's constant weights
 * (the Gemm node's path); BENCH_COPIES=n: n copies of B used in turn, so
 * that B comes from memory as a model's weights do (n * K * N * 4 bytes
 * well past the last-level cache); BENCH_PACK_A=1: A packed even where the
 * ISA reads its rows in place (its time not counted).
 * Compare with the single-core FMA peak of tools/bench.py's probe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_bench_util.h"
#include "cpu_test_pool.h"

typedef struct bmat {
    const float *b; /* K x N row major */
    int K, N;
} bmat;

static void pack_rows(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    const bmat *m = vctx;
    const float *src = m->b + (size_t)k0 * m->N + n0;
    for (int k = 0; k < kc; ++k, src += m->N, panel += NR) {
        memcpy(panel, src, (size_t)nr * sizeof(float));
        if (nr < NR) memset(panel + nr, 0, (size_t)(NR - nr) * sizeof(float));
    }
}

int main(int argc, char **argv) {
    int M = argc > 1 ? atoi(argv[1]) : 1024, N = argc > 2 ? atoi(argv[2]) : 1024, K = argc > 3 ? atoi(argv[3]) : 1024;
    int T = argc > 4 ? atoi(argv[4]) : 1, R = argc > 5 ? atoi(argv[5]) : 10;
    if (M < 1 || N < 1 || K < 1 || T < 1 || R < 1) {
        fprintf(stderr, "usage: bench_cpu_gemm [M N K [threads [reps]]]\n");
        return 2;
    }
    if (T > 1 && test_pool_bind(T) != 0) return 1;
    const cpu_kernels *k = cpu_kernels_for(cpu_isa_select(NULL));
    const char *dense_env = getenv("BENCH_DENSE"), *copies_env = getenv("BENCH_COPIES");
    const int norows = getenv("BENCH_PACK_A") != NULL;
    const int dense = dense_env && atoi(dense_env) > 0, copies = copies_env && atoi(copies_env) > 1 ? atoi(copies_env) : 1;
    const size_t panels = (size_t)(N + k->nr - 1) / (size_t)k->nr, bfl = panels * (size_t)k->nr * (size_t)K;
    float *A = bench_alloc64(sizeof(float) * (size_t)M * K), *B = bench_alloc64(sizeof(float) * bfl * (size_t)copies);
    float *C = bench_alloc64(sizeof(float) * (size_t)M * N), *bias = bench_alloc64(sizeof(float) * (size_t)M);
    float *Ap = bench_alloc64(sizeof(float) * cpu_gemm_packed_a_floats(k, M, K));
    void *scratch = bench_alloc64(cpu_gemm_scratch_bytes(k, M, N, K, T));
    if (!A || !B || !C || !bias || !Ap || !scratch) return 1;
    unsigned s = 1u;
    for (size_t i = 0; i < (size_t)M * K; ++i) A[i] = (float)((s = s * 1664525u + 1013904223u) >> 20) / 4096.0f - 0.5f;
    for (size_t i = 0; i < bfl * (size_t)copies; ++i) B[i] = (float)((s = s * 1664525u + 1013904223u) >> 20) / 4096.0f - 0.5f;
    for (int i = 0; i < M; ++i) bias[i] = 0.0f;
    cpu_gemm_pack_a(k, M, K, A, (size_t)K, 1, Ap);
    engine_epilogue epi = {ENGINE_ACT_RELU, 0.0f, 0.0f, 0};
    double best = 1e30;
    for (int r = 0; r < R; ++r) {
        const float *b = B + (size_t)(r % copies) * bfl;
        bmat bm = {b, K, N};
        double t0 = bench_now();
        if (dense)
            cpu_gemm_run_packed_b(k, M, N, K, k->gemm_rows && !norows ? A : Ap, k->gemm_rows && !norows ? (size_t)K : 0, bias, b, C,
                                  (size_t)N, NULL, 0, &epi, T, scratch);
        else
            cpu_gemm_run(k, M, N, K, Ap, bias, pack_rows, &bm, C, (size_t)N, NULL, 0, &epi, T, scratch);
        double dt = bench_now() - t0;
        if (dt < best) best = dt;
    }
    printf("%s M=%d N=%d K=%d threads=%d: %.3f ms, %.1f GFLOP/s\n", k->gemm_name, M, N, K, T, best * 1e3,
           2.0 * M * N * (double)K / best * 1e-9);
    free(A);
    free(B);
    free(C);
    free(bias);
    free(Ap);
    free(scratch);
    return 0;
}
