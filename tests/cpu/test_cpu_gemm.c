/* test_cpu_gemm.c - the cpu backend's GEMM (driver + micro-kernels of every
 * ISA this machine runs) against a naive double loop: odd sizes (1, primes,
 * sizes that are not multiples of any tile), every epilogue activation,
 * with and without the residual sum, serial and threaded. On aarch64 (run
 * under emulation by tools/check-aarch64.sh) the ISAs are NEON and scalar. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu_internal.h"
#include "cpu_test_pool.h"

typedef struct bmat {
    const float *b; /* K x N row major */
    int K, N;
} bmat;

static void pack_rows(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    const bmat *m = vctx;
    for (int k = 0; k < kc; ++k)
        for (int j = 0; j < NR; ++j)
            panel[(size_t)k * NR + j] = j < nr ? m->b[(size_t)(k0 + k) * m->N + n0 + j] : 0.0f;
}

static uint32_t rng = 12345u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static void *aalloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
    return p;
}

/* How check_gemm runs the GEMM: A packed and B copied panel by panel by
 * pack_rows (cpu_gemm_run); B pre-packed in panels as a dense layer's
 * weights with A packed, or with A's rows read in place
 * (cpu_gemm_run_packed_b); A's rows in place and B copied
 * (cpu_gemm_run_rows_a). The ROWS modes need the ISA's gemm_rows. */
enum { RUN_PLAIN, RUN_PACKED_B, RUN_PACKED_B_ROWS_A, RUN_ROWS_A, RUN_STRIDED_B };

/* Runs one GEMM on one ISA and compares; returns the number of mismatches. */
static int check_gemm(const cpu_kernels *k, int M, int N, int K, engine_act act, int with_sum, int threads, int mode) {
    float *A = malloc(sizeof(float) * (size_t)M * K + 4), *B = malloc(sizeof(float) * (size_t)K * N + 4);
    float *bias = malloc(sizeof(float) * (size_t)M), *sum = malloc(sizeof(float) * (size_t)M * N);
    float *C = malloc(sizeof(float) * (size_t)M * N);
    float *Ap = aalloc(sizeof(float) * cpu_gemm_packed_a_floats(k, M, K));
    void *scratch = aalloc(cpu_gemm_scratch_bytes(k, M, N, K, threads));
    assert_non_null(A);
    assert_non_null(B);
    assert_non_null(bias);
    assert_non_null(sum);
    assert_non_null(C);
    assert_non_null(Ap);
    assert_non_null(scratch);
    for (size_t i = 0; i < (size_t)M * K; ++i) A[i] = frand();
    for (size_t i = 0; i < (size_t)K * N; ++i) B[i] = frand();
    for (int i = 0; i < M; ++i) bias[i] = frand();
    for (size_t i = 0; i < (size_t)M * N; ++i) sum[i] = frand() * 2.0f;
    for (size_t i = 0; i < (size_t)M * N; ++i) C[i] = NAN;
    engine_epilogue epi = {act, 0.0f, 0.0f, with_sum};
    if (act == ENGINE_ACT_CLIP) epi.alpha = -0.5f, epi.beta = 0.75f;
    if (act == ENGINE_ACT_LEAKY_RELU) epi.alpha = 0.1f;
    if (act == ENGINE_ACT_HARD_SIGMOID) epi.alpha = 0.2f, epi.beta = 0.5f;
    cpu_gemm_pack_a(k, M, K, A, (size_t)K, 1, Ap);
    bmat bm = {B, K, N};
    if (mode == RUN_PACKED_B || mode == RUN_PACKED_B_ROWS_A) {
        const int panels = (N + k->nr - 1) / k->nr;
        float *bp = aalloc(sizeof(float) * (size_t)panels * (size_t)k->nr * (size_t)K);
        assert_non_null(bp);
        for (int q = 0; q < panels; ++q)
            pack_rows(&bm, q * k->nr, N - q * k->nr < k->nr ? N - q * k->nr : k->nr, k->nr, 0, K,
                      bp + (size_t)q * (size_t)k->nr * (size_t)K);
        const int rows = mode == RUN_PACKED_B_ROWS_A;
        cpu_gemm_run_packed_b(k, M, N, K, rows ? A : Ap, rows ? (size_t)K : 0, bias, bp, C, (size_t)N,
                              with_sum ? sum : NULL, (size_t)N, &epi, threads, scratch);
        free(bp);
    } else if (mode == RUN_STRIDED_B) {
        /* B's rows ldb = N + 3 floats apart in a buffer that ends with the
         * last row's N-th float: a read past a row's columns would show */
        const size_t ldb = (size_t)N + 3;
        float *Bs = malloc(sizeof(float) * (K ? (size_t)(K - 1) * ldb + (size_t)N : 1));
        assert_non_null(Bs);
        for (int kk = 0; kk < K; ++kk) memcpy(Bs + (size_t)kk * ldb, B + (size_t)kk * N, sizeof(float) * (size_t)N);
        cpu_gemm_run_strided_b(k, M, N, K, Ap, bias, Bs, ldb, pack_rows, &bm, C, (size_t)N, with_sum ? sum : NULL,
                               (size_t)N, &epi, threads, scratch);
        free(Bs);
    } else if (mode == RUN_ROWS_A) {
        cpu_gemm_run_rows_a(k, M, N, K, A, (size_t)K, bias, pack_rows, &bm, C, (size_t)N, with_sum ? sum : NULL,
                            (size_t)N, &epi, threads, scratch);
    } else {
        cpu_gemm_run(k, M, N, K, Ap, bias, pack_rows, &bm, C, (size_t)N, with_sum ? sum : NULL, (size_t)N, &epi,
                     threads, scratch);
    }
    int bad = 0;
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            double acc = bias[i];
            for (int kk = 0; kk < K; ++kk) acc += (double)A[(size_t)i * K + kk] * (double)B[(size_t)kk * N + j];
            if (with_sum) acc += sum[(size_t)i * N + j];
            double want = engine_act_apply(&epi, acc), got = C[(size_t)i * N + j];
            /* float32 rounding of a K-term sum of O(1) products grows with
             * K: the absolute bound widens past K = 256 (K = 4200: 1.6e-4
             * where the terms sum to ~65 in magnitude) */
            double atol = K > 256 ? 1e-5 * K / 256.0 : 1e-5;
            if (!(fabs(got - want) <= atol + 1e-4 * fabs(want))) {
                if (bad < 3)
                    fprintf(stderr, "%s M=%d N=%d K=%d act=%d sum=%d t=%d: C[%d][%d] = %.8g, want %.8g\n",
                            k->gemm_name, M, N, K, (int)act, with_sum, threads, i, j, got, want);
                ++bad;
            }
        }
    free(A);
    free(B);
    free(bias);
    free(sum);
    free(C);
    free(Ap);
    free(scratch);
    return bad;
}

static int check_one(const cpu_kernels *k, int M, int N, int K, engine_act act, int with_sum, int threads) {
    return check_gemm(k, M, N, K, act, with_sum, threads, RUN_PLAIN);
}

static const cpu_kernels *isa_table(cpu_isa isa) {
    const cpu_kernels *k = cpu_kernels_for(isa);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (isa == CPU_ISA_AVX2 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return NULL;
    if (isa == CPU_ISA_AVX512 && !(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")))
        return NULL;
#endif
    return k;
}

static void sizes_all_isas(void **state) {
    (void)state;
    static const int sizes[] = {1, 2, 3, 5, 7, 8, 13, 17, 31, 33, 47};
    const int ns = (int)(sizeof sizes / sizeof sizes[0]);
    int tested = 0;
#if defined(__aarch64__)
    assert_non_null(isa_table(CPU_ISA_NEON)); /* the NEON kernels are compiled in and tested */
#endif
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k) continue;
        ++tested;
        int bad = 0;
        for (int a = 0; a < ns; ++a)
            for (int b = 0; b < ns; ++b)
                for (int c = 0; c < ns; c += 3) {
                    int M = sizes[a], N = sizes[b], K = sizes[c];
                    bad += check_one(k, M, N, K, ENGINE_ACT_NONE, (a + b) & 1, 1);
                }
        /* K = 0 (bias only), a long K, and wide N with threads. */
        bad += check_one(k, 9, 70, 0, ENGINE_ACT_RELU, 1, 2);
        bad += check_one(k, 19, 37, 601, ENGINE_ACT_NONE, 0, 2);
        bad += check_one(k, 70, 1000, 29, ENGINE_ACT_RELU, 1, 2);
        bad += check_one(k, 3, 5, 11, ENGINE_ACT_RELU, 0, 3);
        /* several K blocks (GEMM_KC = 8192; partial sums kept in C, the residual added in the
         * first block, the activation after the last), threads split over
         * A panels (small N) and over B panels (wide N) */
        bad += check_one(k, 70, 20, 17000, ENGINE_ACT_SIGMOID, 1, 2);
        bad += check_one(k, 13, 100, 16500, ENGINE_ACT_CLIP, 1, 2);
        bad += check_one(k, 9, 45, 33000, ENGINE_ACT_RELU, 0, 1);
        /* two blocks of 6272, Faster R-CNN's fc6 (12544 = 256 x 7 x 7), split over B panels */
        bad += check_one(k, 100, 96, 12544, ENGINE_ACT_RELU, 1, 2);
        /* the small-N split (B packed once by all threads, then A panels
         * split, K blocked to the shared B budget): a 7x7 map of a 3x3 conv
         * over 512 channels (two panels, two K blocks), and three threads */
        bad += check_one(k, 100, 49, 4608, ENGINE_ACT_RELU, 1, 2);
        bad += check_one(k, 61, 70, 700, ENGINE_ACT_NONE, 0, 3);
        assert_int_equal(bad, 0);
    }
    assert_true(tested >= 1);
}

/* B pre-packed as a dense layer's weights: read in place, each next panel
 * prefetched (enough A panels and a small enough A, where the ISA has
 * gemm_pf), else copied panel by panel; A packed, or its rows read in
 * place where the ISA has gemm_rows (with B pre-packed or copied). */
static void packed_b_all_isas(void **state) {
    (void)state;
    int tested = 0;
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k) continue;
        ++tested;
        int bad = 0;
        for (int mode = RUN_PACKED_B; mode <= RUN_ROWS_A; ++mode) {
            if (mode != RUN_PACKED_B && !k->gemm_rows) continue;
            for (int threads = 1; threads <= 3; ++threads) {
                bad += check_gemm(k, 197, 100, 77, ENGINE_ACT_RELU, 1, threads, mode); /* last panel partial */
                bad += check_gemm(k, 101, 1000, 300, ENGINE_ACT_NONE, 0, threads, mode); /* runs of panels */
                bad += check_gemm(k, 197, 40, 300, ENGINE_ACT_SIGMOID, 1, threads, mode); /* A panels split */
                bad += check_gemm(k, 100, 50, 0, ENGINE_ACT_RELU, 1, threads, mode);      /* K = 0 */
                bad += check_gemm(k, 8, 70, 513, ENGINE_ACT_NONE, 1, threads, mode);      /* one A panel */
                /* A past 1 MB: in M chunks where B fits in L2, else K blocks */
                bad += check_gemm(k, 197, 70, 1500, ENGINE_ACT_NONE, 0, threads, mode);  /* M chunks, 9 + 8 panels */
                bad += check_gemm(k, 400, 100, 700, ENGINE_ACT_RELU, 1, threads, mode);  /* M chunks, 17 + 17 */
                bad += check_gemm(k, 197, 200, 1500, ENGINE_ACT_CLIP, 1, threads, mode); /* two K blocks of 750 */
                bad += check_gemm(k, 100, 20, 9000, ENGINE_ACT_RELU, 1, threads, mode);  /* four K blocks, one panel */
                /* K blocks would be 400 rows, under the bound: copied, A whole */
                if (threads == 2) bad += check_gemm(k, 600, 400, 800, ENGINE_ACT_NONE, 1, threads, mode);
                bad += check_gemm(k, 5, 37, 19, ENGINE_ACT_NONE, 1, threads, mode);      /* M under one tile */
            }
        }
        assert_int_equal(bad, 0);
    }
    assert_true(tested >= 1);
}

/* B read in place (cpu_gemm_run_strided_b: a 1x1 conv's input planes):
 * through gemm_bs where the ISA has it and the shape is one it is used for
 * (rows of at least 2048 columns, at most 8 A panels), else packed; every
 * row count of a last A panel (gemm_bs computes 4, 8 or 12 rows), a last
 * B panel partial or whole, K = 0 and 1, 1-3 threads. */
static void strided_b_all_isas(void **state) {
    (void)state;
    int tested = 0;
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k) continue;
        ++tested;
        int bad = 0;
        for (int threads = 1; threads <= 3; ++threads) {
            for (int M = 1; M <= 2 * k->mr + 1; M += M < 14 ? 1 : 5)
                bad += check_gemm(k, M, 3025, 64, ENGINE_ACT_RELU, M % 2, threads, RUN_STRIDED_B); /* SqueezeNet */
            bad += check_gemm(k, 96, 2048 + 64, 33, ENGINE_ACT_SIGMOID, 1, threads, RUN_STRIDED_B); /* 8 panels, whole */
            bad += check_gemm(k, 20, 2048, 1, ENGINE_ACT_NONE, 1, threads, RUN_STRIDED_B);          /* K = 1 */
            bad += check_gemm(k, 16, 2100, 0, ENGINE_ACT_CLIP, 1, threads, RUN_STRIDED_B);         /* K = 0 */
            bad += check_gemm(k, 100, 3136, 40, ENGINE_ACT_NONE, 0, threads, RUN_STRIDED_B);       /* packed: 9 panels */
            bad += check_gemm(k, 16, 169, 300, ENGINE_ACT_RELU, 1, threads, RUN_STRIDED_B);        /* packed: short rows */
            bad += check_gemm(k, 5, 2048, 8200, ENGINE_ACT_NONE, 0, threads, RUN_STRIDED_B);       /* two K blocks */
        }
        assert_int_equal(bad, 0);
    }
    assert_true(tested >= 1);
}

/* gemm_bs itself, where an ISA has it: every mr and the nr that end a
 * vector or split one, B rows ldb apart with nothing past column nr
 * readable in the last row, bias, residual and an activation. */
static void gemm_bs_tiles(void **state) {
    (void)state;
    int tested = 0;
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k || !k->gemm_bs) continue;
        ++tested;
        const int MR = k->mr, NR = k->nr, nrs[] = {1, 7, 15, 16, 17, 31, 32};
        const size_t ldb = 45;
        for (int K = 0; K <= 9; K += 3)
            for (int mr = 1; mr <= MR; ++mr)
                for (size_t t = 0; t < sizeof nrs / sizeof nrs[0]; ++t) {
                    const int nr = nrs[t] < NR ? nrs[t] : NR;
                    float *a = aalloc(sizeof(float) * (size_t)(K + 1) * MR);
                    float *b = malloc(sizeof(float) * (K ? (size_t)(K - 1) * ldb + (size_t)nr : 1));
                    float bias[CPU_MAX_MR], sum[CPU_MAX_MR * 32], c[CPU_MAX_MR * 32];
                    assert_non_null(a);
                    assert_non_null(b);
                    for (int kk = 0; kk < K; ++kk)
                        for (int i = 0; i < MR; ++i) a[kk * MR + i] = i < mr ? frand() : 0.0f;
                    for (int kk = 0; kk < K; ++kk)
                        for (int j = 0; j < nr; ++j) b[(size_t)kk * ldb + (size_t)j] = frand();
                    for (int i = 0; i < MR; ++i) bias[i] = frand();
                    for (int i = 0; i < CPU_MAX_MR * 32; ++i) sum[i] = frand(), c[i] = 1234.5f;
                    engine_epilogue epi = {ENGINE_ACT_LEAKY_RELU, 0.1f, 0.0f, 1};
                    k->gemm_bs(K, a, b, ldb, c, 32, mr, nr, bias, sum, 32, &epi);
                    for (int i = 0; i < CPU_MAX_MR; ++i)
                        for (int j = 0; j < 32; ++j) {
                            if (i >= mr || j >= nr) { /* untouched */
                                assert_true(c[i * 32 + j] == 1234.5f);
                                continue;
                            }
                            double acc = bias[i] + sum[i * 32 + j];
                            for (int kk = 0; kk < K; ++kk) acc += (double)a[kk * MR + i] * b[(size_t)kk * ldb + (size_t)j];
                            const double want = engine_act_apply(&epi, acc);
                            if (!(fabs(c[i * 32 + j] - want) <= 1e-5 + 1e-4 * fabs(want)))
                                fail_msg("%s gemm_bs K=%d mr=%d nr=%d: c[%d][%d] = %.8g, want %.8g", k->isa_name, K, mr,
                                         nr, i, j, (double)c[i * 32 + j], want);
                        }
                    free(a);
                    free(b);
                }
    }
    if (!tested) skip();
}

static void every_activation(void **state) {
    (void)state;
    static const engine_act acts[] = {ENGINE_ACT_NONE,         ENGINE_ACT_RELU,       ENGINE_ACT_CLIP,
                                      ENGINE_ACT_LEAKY_RELU,   ENGINE_ACT_SIGMOID,    ENGINE_ACT_HARD_SIGMOID,
                                      ENGINE_ACT_HARD_SWISH,   ENGINE_ACT_SILU,       ENGINE_ACT_MISH,
                                      ENGINE_ACT_TANH,         ENGINE_ACT_GELU};
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k) continue;
        int bad = 0;
        for (size_t a = 0; a < sizeof acts / sizeof acts[0]; ++a)
            for (int with_sum = 0; with_sum < 2; ++with_sum) {
                bad += check_one(k, k->mr, k->nr, 23, acts[a], with_sum, 1);      /* full tiles */
                bad += check_one(k, k->mr + 3, 2 * k->nr + 5, 7, acts[a], with_sum, 2); /* partial tiles */
                bad += check_one(k, k->mr + 1, 2 * k->nr + 4, 11, acts[a], with_sum, 1); /* a 4-column tail */
            }
        assert_int_equal(bad, 0);
    }
}

/* The activation rows on large magnitudes (exp clamping, limits). */
static void activation_extremes(void **state) {
    (void)state;
    static const float xs[] = {-200.0f, -88.0f, -30.0f, -9.0f, -1e-6f, 0.0f, 1e-6f, 0.5f, 9.0f, 21.0f, 88.0f, 300.0f};
    const int n = (int)(sizeof xs / sizeof xs[0]);
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k) continue;
        /* ENGINE_ACT_GELU + 1: GELU's erf form (alpha 0); GELU itself gets alpha 0.2, the tanh form */
        for (int act = ENGINE_ACT_NONE; act <= ENGINE_ACT_GELU + 1; ++act) {
            engine_epilogue epi = {(engine_act)(act > ENGINE_ACT_GELU ? ENGINE_ACT_GELU : act), 0.2f, 0.5f, 0};
            if (act == ENGINE_ACT_CLIP) epi.alpha = -1.0f, epi.beta = 6.0f;
            if (act > ENGINE_ACT_GELU) epi.alpha = 0.0f;
            float v[32];
            for (int i = 0; i < n; ++i) v[i] = xs[i];
            k->act_row(&epi, v, (size_t)n);
            for (int i = 0; i < n; ++i) {
                double want = engine_act_apply(&epi, (double)xs[i]);
                if (!(fabs(v[i] - want) <= 1e-5 + 1e-4 * fabs(want)))
                    fail_msg("%s act %d x=%g: got %.9g want %.9g", k->isa_name, act, (double)xs[i], (double)v[i],
                             want);
            }
        }
    }
}

/* softmax_row of every ISA against a double softmax: lengths around the
 * vector widths (tails), ViT's 197, in place and not; a row holding a NaN,
 * +inf or -inf everywhere is all NaN (the reference's formula). */
static void softmax_rows(void **state) {
    (void)state;
    static const int lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 64, 197, 1000};
    float x[1000], y[1000];
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k) continue;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; ++li)
            for (int in_place = 0; in_place < 2; ++in_place) {
                const int n = lens[li];
                for (int i = 0; i < n; ++i) x[i] = 12.0f * frand();
                double mx = x[0], sum = 0.0;
                for (int i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
                for (int i = 0; i < n; ++i) sum += exp((double)x[i] - mx);
                float *out = in_place ? x : y;
                double want[1000];
                for (int i = 0; i < n; ++i) want[i] = exp((double)x[i] - mx) / sum;
                k->softmax_row(x, out, (size_t)n);
                for (int i = 0; i < n; ++i)
                    if (!(fabs(out[i] - want[i]) <= 1e-6 + 1e-4 * want[i]))
                        fail_msg("%s softmax n=%d in_place=%d [%d]: got %.9g want %.9g", k->isa_name, n, in_place, i,
                                 (double)out[i], want[i]);
            }
        for (int special = 0; special < 3; ++special)
            for (int n = 1; n <= 40; n += 13) {
                for (int i = 0; i < n; ++i) x[i] = special == 2 ? -INFINITY : frand();
                if (special == 0) x[n / 2] = NAN;
                if (special == 1) x[n - 1] = INFINITY;
                k->softmax_row(x, y, (size_t)n);
                for (int i = 0; i < n; ++i)
                    if (y[i] == y[i]) fail_msg("%s softmax special %d n=%d: [%d] = %g, want NaN", k->isa_name, special, n, i,
                                               (double)y[i]);
            }
    }
}

/* The GEMV kernel (dot4) of every ISA: K around the vector widths and
 * their unrolls, 1-4 rows, rows padded or not; the weights are allocated
 * exactly (nm rows), so an ASan build catches a read past the last row. */
static void dot4_all_isas(void **state) {
    (void)state;
    static const int ks[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 65, 1280, 1283};
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k) continue;
        assert_non_null(k->dot4);
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ++ki)
            for (int nm = 1; nm <= 4; ++nm)
                for (int pad = 0; pad < 2; ++pad) {
                    const int K = ks[ki];
                    const size_t ldw = (size_t)K + (size_t)(pad ? 5 : 0);
                    const size_t nw = (size_t)(nm - 1) * ldw + (size_t)K;
                    float *w = malloc(nw * sizeof(float)), *x = malloc((size_t)K * sizeof(float));
                    assert_non_null(w);
                    assert_non_null(x);
                    for (size_t i = 0; i < nw; ++i) w[i] = frand();
                    for (int i = 0; i < K; ++i) x[i] = frand();
                    float acc[4] = {-1.0f, -1.0f, -1.0f, -1.0f};
                    k->dot4(w, ldw, x, K, nm, acc);
                    for (int j = 0; j < nm; ++j) {
                        double want = 0.0, mag = 0.0;
                        for (int i = 0; i < K; ++i) {
                            want += (double)w[(size_t)j * ldw + (size_t)i] * (double)x[i];
                            mag += fabs((double)w[(size_t)j * ldw + (size_t)i] * (double)x[i]);
                        }
                        if (!(fabs(acc[j] - want) <= 1e-6 + 1e-5 * mag))
                            fail_msg("%s dot4 K=%d nm=%d pad=%d row %d: got %.9g want %.9g", k->isa_name, K, nm, pad, j,
                                     (double)acc[j], want);
                    }
                    for (int j = nm; j < 4; ++j)
                        if (acc[j] != -1.0f) fail_msg("%s dot4 K=%d nm=%d: wrote acc[%d]", k->isa_name, K, nm, j);
                    free(w);
                    free(x);
                }
    }
}

/* MaxPool's row kernels of every ISA that has them, against the loops in
 * C: widths around the vector widths and their pairs, 1-3 rows, windows
 * of 1-7 taps at strides 1 and 2; inputs allocated exactly (an ASan build
 * catches a read past what the kernel may read); a NaN in a tap makes
 * exactly the outputs that read it NaN. */
static float max_nan_ref(float a, float b) { return a != a || b != b ? NAN : (a > b ? a : b); }

static void maxpool_rows_all_isas(void **state) {
    (void)state;
    static const int ws[] = {1, 2, 3, 15, 16, 17, 31, 32, 33, 34, 47, 55, 56, 111, 112};
    int tested = 0;
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k || !k->max_rows || !k->max_win) continue;
        ++tested;
        for (size_t wi = 0; wi < sizeof ws / sizeof ws[0]; ++wi)
            for (int nrows = 1; nrows <= 3; ++nrows)
                for (int nan = 0; nan < 2; ++nan) {
                    const int W = ws[wi];
                    const size_t stride = (size_t)W + 3;
                    const size_t nx = (size_t)(nrows - 1) * stride + (size_t)W;
                    float *x = malloc(nx * sizeof(float)), *v = malloc((size_t)W * sizeof(float));
                    assert_non_null(x);
                    assert_non_null(v);
                    for (size_t i = 0; i < nx; ++i) x[i] = frand();
                    if (nan) x[(size_t)(nrows - 1) * stride + (size_t)(W / 2)] = NAN;
                    k->max_rows(x, stride, nrows, W, v);
                    for (int i = 0; i < W; ++i) {
                        float want = x[i];
                        for (int r = 1; r < nrows; ++r) want = max_nan_ref(want, x[(size_t)r * stride + (size_t)i]);
                        if (!(want == v[i] || (want != want && v[i] != v[i])))
                            fail_msg("%s max_rows W=%d rows=%d nan=%d [%d]: got %g want %g", k->isa_name, W, nrows, nan,
                                     i, (double)v[i], (double)want);
                    }
                    for (int SW = 1; SW <= 2; ++SW)
                        for (int KW = 1; KW <= 7 && KW <= W; ++KW) {
                            const int n = (W - KW) / SW + 1;
                            const size_t nv = (size_t)SW * (size_t)(n - 1) + (size_t)KW;
                            float *vv = malloc(nv * sizeof(float)), *y = malloc((size_t)(n + 1) * sizeof(float));
                            assert_non_null(vv);
                            assert_non_null(y);
                            for (size_t i = 0; i < nv; ++i) vv[i] = frand();
                            if (nan) vv[nv / 3] = NAN;
                            y[n] = -2.0f;
                            k->max_win(vv, n, KW, SW, y);
                            for (int t = 0; t < n; ++t) {
                                float want = vv[(size_t)SW * (size_t)t];
                                for (int j = 1; j < KW; ++j) want = max_nan_ref(want, vv[(size_t)SW * (size_t)t + (size_t)j]);
                                if (!(want == y[t] || (want != want && y[t] != y[t])))
                                    fail_msg("%s max_win n=%d KW=%d SW=%d nan=%d [%d]: got %g want %g", k->isa_name, n,
                                             KW, SW, nan, t, (double)y[t], (double)want);
                            }
                            if (y[n] != -2.0f) fail_msg("%s max_win n=%d KW=%d SW=%d wrote y[n]", k->isa_name, n, KW, SW);
                            free(vv);
                            free(y);
                        }
                    free(x);
                    free(v);
                }
    }
    if (!tested) skip(); /* no ISA here has them (AVX-512 only) */
}

/* max_win_blk8 (rows of NCHW8c pixels) of every ISA that has it, against
 * the loops in C: 1-20 outputs, windows of 1-7 pixels at strides 1-3, the
 * row allocated exactly (ASan catches a read past its last pixel), a NaN
 * in one lane of one pixel reaching exactly the outputs whose window holds
 * that pixel, in that lane. */
static void maxpool_win_blk8_all_isas(void **state) {
    (void)state;
    int tested = 0;
    for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; ++isa) {
        const cpu_kernels *k = isa_table((cpu_isa)isa);
        if (!k || !k->max_win_blk8) continue;
        ++tested;
        for (int n = 1; n <= 20; ++n)
            for (int SW = 1; SW <= 3; ++SW)
                for (int KW = 1; KW <= 7; ++KW)
                    for (int nan = 0; nan < 2; ++nan) {
                        const size_t px = (size_t)SW * (size_t)(n - 1) + (size_t)KW;
                        float *v = malloc(px * 8 * sizeof(float)), *y = malloc(((size_t)n * 8 + 1) * sizeof(float));
                        assert_non_null(v);
                        assert_non_null(y);
                        for (size_t i = 0; i < px * 8; ++i) v[i] = frand();
                        if (nan) v[(px / 2) * 8 + 5] = NAN;
                        y[(size_t)n * 8] = -2.0f;
                        k->max_win_blk8(v, n, KW, SW, y);
                        for (int t = 0; t < n; ++t)
                            for (int l = 0; l < 8; ++l) {
                                const size_t p0 = (size_t)SW * (size_t)t;
                                float want = v[p0 * 8 + (size_t)l];
                                for (int j = 1; j < KW; ++j) want = max_nan_ref(want, v[(p0 + (size_t)j) * 8 + (size_t)l]);
                                const float got = y[(size_t)t * 8 + (size_t)l];
                                if (!(want == got || (want != want && got != got)))
                                    fail_msg("%s max_win_blk8 n=%d KW=%d SW=%d nan=%d [%d][%d]: got %g want %g",
                                             k->isa_name, n, KW, SW, nan, t, l, (double)got, (double)want);
                            }
                        if (y[(size_t)n * 8] != -2.0f) fail_msg("%s max_win_blk8 n=%d wrote past y", k->isa_name, n);
                        free(v);
                        free(y);
                    }
    }
    if (!tested) skip(); /* no ISA here has it (AVX2 only) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_all_isas),
        cmocka_unit_test(packed_b_all_isas),
        cmocka_unit_test(strided_b_all_isas),
        cmocka_unit_test(gemm_bs_tiles),
        cmocka_unit_test(every_activation),
        cmocka_unit_test(activation_extremes),
        cmocka_unit_test(softmax_rows),
        cmocka_unit_test(dot4_all_isas),
        cmocka_unit_test(maxpool_rows_all_isas),
        cmocka_unit_test(maxpool_win_blk8_all_isas),
    };
    return cmocka_run_group_tests(tests, test_pool_setup, test_pool_teardown);
}
