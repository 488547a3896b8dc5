/*
 * tests/cpu/test_cpu_bf16.c - the bf16 convolution (conv_gemm.c:
 * cpu_conv_bf16 over gemm_bf16.c and ukernel_bf16.c) on every bf16 level
 * this machine runs (AMX-BF16 when the OS grants it, AVX512_BF16), against
 * two double-precision convs:
 *   - of the bf16-rounded inputs and weights (what the kernels multiply):
 *     |got - want| <= 1e-5 + 1e-4 |want| + 2^-20 S, S = sum |w x| of the
 *     output (float32 accumulation over K <= 600 terms);
 *   - of the float32 inputs and weights: the same plus 2^-7 S (bf16 keeps
 *     8 significant bits, so rounding is off by at most 2^-8 relative and
 *     a product of two rounded values by (1 + 2^-8)^2 - 1 ~ 2^-7).
 * Skipped (exit 77) on a CPU without AVX512_BF16.
 *
 * Shapes: 1x1 (read straight into bf16) and gathered ones (3x3, 7x7 stride
 * 2 on 3 channels, strides 2 and 3, dilation 2, pads), M, K and N off the
 * 32-tiles (M 5, 33, 70; K 2, 27, 147; N 1, 49, 1000+), groups (serial per
 * thread and threaded), every epilogue activation with and without the
 * residual, the channel scale (run_scaled), threads 1-3. Outputs start as
 * NaN, so an unwritten one fails. Also the GEMM with B packed once (the
 * Gemm/MatMul path of ops.c) on the same two bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"

#include "cpu_test_util.h"
#include "cpu_test_pool.h"

typedef struct bcase {
    int C, M, H, W, KH, KW, SH, SW, DH, DW, P, group;
    engine_act act;
    int sum, scale;
} bcase;

static void to_desc(const bcase *k, int level, int threads, cpu_conv2d *d) {
    memset(d, 0, sizeof *d);
    d->C = k->C, d->M = k->M, d->H = k->H, d->W = k->W;
    d->KH = k->KH, d->KW = k->KW, d->SH = k->SH, d->SW = k->SW, d->DH = k->DH, d->DW = k->DW;
    d->PT = d->PL = d->PB = d->PR = k->P;
    d->group = k->group;
    d->OH = (k->H + 2 * k->P - k->DH * (k->KH - 1) - 1) / k->SH + 1;
    d->OW = (k->W + 2 * k->P - k->DW * (k->KW - 1) - 1) / k->SW + 1;
    d->epi.act = k->act;
    switch (k->act) {
    case ENGINE_ACT_CLIP: d->epi.alpha = -0.5f, d->epi.beta = 0.75f; break;
    case ENGINE_ACT_LEAKY_RELU: d->epi.alpha = 0.1f; break;
    case ENGINE_ACT_HARD_SIGMOID: d->epi.alpha = 0.2f, d->epi.beta = 0.5f; break;
    default: break;
    }
    d->epi.sum = k->sum;
    d->threads = threads;
    d->bf16 = level;
}

static float rb(float v) {
    return cpu_bf16_float(cpu_bf16_round(v));
}

/* The conv in double of x (times xs per channel, then rounded when round)
 * and w (rounded when round); mag: sum |w x| per output. */
static void naive(const cpu_conv2d *d, const float *x, const float *xs, const float *w, const float *b,
                  const float *s, int round, float *y, double *mag) {
    const int Cg = d->C / d->group, Mg = d->M / d->group;
    for (int m = 0; m < d->M; ++m) {
        const int g = m / Mg;
        for (int oh = 0; oh < d->OH; ++oh)
            for (int ow = 0; ow < d->OW; ++ow) {
                double acc = (double)b[m], mg = 0.0;
                for (int c = 0; c < Cg; ++c)
                    for (int kh = 0; kh < d->KH; ++kh) {
                        const int ih = oh * d->SH - d->PT + kh * d->DH;
                        if (ih < 0 || ih >= d->H) continue;
                        for (int kw = 0; kw < d->KW; ++kw) {
                            const int iw = ow * d->SW - d->PL + kw * d->DW;
                            if (iw < 0 || iw >= d->W) continue;
                            const int ci = g * Cg + c;
                            float wv = w[(((size_t)m * Cg + c) * d->KH + kh) * d->KW + kw];
                            float xv = x[((size_t)ci * d->H + ih) * d->W + iw] * (xs ? xs[ci] : 1.0f);
                            if (round) wv = rb(wv), xv = rb(xv);
                            acc += (double)wv * (double)xv;
                            mg += fabs((double)wv * (double)xv);
                        }
                    }
                const size_t o = ((size_t)m * d->OH + oh) * d->OW + ow;
                if (s) acc += (double)s[o];
                y[o] = (float)engine_act_apply(&d->epi, acc);
                mag[o] = mg;
            }
    }
}

/* NCHW [C][HW] <-> NCHW16c [CB][HW][16] (padding lanes 0), the test's own. */
static float *to_blk16(int C, size_t HW, const float *x) {
    const size_t n = cpu_blk_image_floats(16, C, HW);
    float *b = alloc64(n * sizeof(float));
    memset(b, 0, n * sizeof(float));
    for (int c = 0; c < C; ++c)
        for (size_t i = 0; i < HW; ++i) b[((size_t)(c / 16) * HW + i) * 16 + (size_t)(c % 16)] = x[(size_t)c * HW + i];
    return b;
}

static void run_case_algo(const cpu_conv_algo *algo, int level, const bcase *k, int threads, uint32_t seed) {
    cpu_conv2d d;
    to_desc(k, level, threads, &d);
    const int blocked = algo == &cpu_conv_bf16_blk;
    char what[200];
    snprintf(what, sizeof what, "%s %s C%d M%d %dx%d k%dx%d s%dx%d d%d p%d g%d act%d sum%d scale%d T%d", algo->name,
             cpu_bf16_ops_for(level)->name, k->C, k->M, k->H, k->W, k->KH, k->KW, k->SH, k->SW, k->DH, k->P, k->group,
             (int)k->act, k->sum, k->scale, threads);
    if (!algo->applies(&d, CPU_ISA_AVX512)) fail_msg("does not apply: %s", what);
    rng_state = seed;
    const size_t HW = (size_t)d.H * d.W, OHW = (size_t)d.OH * d.OW, ny = (size_t)d.M * OHW;
    const size_t nw = (size_t)d.M * (d.C / d.group) * d.KH * d.KW;
    float *x = fill((size_t)d.C * HW, 1.0f);
    float *w = fill(nw, sqrtf(6.0f / (float)((d.C / d.group) * d.KH * d.KW)));
    float *b = fill((size_t)d.M, 1.0f), *s = fill(ny, 1.0f), *xs = fill((size_t)d.C, 2.0f);
    float *want_r = malloc(ny * sizeof(float)), *want = malloc(ny * sizeof(float));
    double *mag = malloc(ny * sizeof(double));
    assert_non_null(want_r);
    assert_non_null(want);
    assert_non_null(mag);
    naive(&d, x, k->scale ? xs : NULL, w, b, k->sum ? s : NULL, 1, want_r, mag);
    naive(&d, x, k->scale ? xs : NULL, w, b, k->sum ? s : NULL, 0, want, mag);
    const size_t nyb = blocked ? cpu_blk_image_floats(16, d.M, OHW) : ny;
    float *yb = alloc64(nyb * sizeof(float)), *y = blocked ? alloc64(ny * sizeof(float)) : yb;
    for (size_t i = 0; i < nyb; ++i) yb[i] = NAN;
    void *packed = alloc64(algo->packed_size(&d, CPU_ISA_AVX512));
    algo->pack(&d, CPU_ISA_AVX512, w, b, packed);
    size_t ss = algo->scratch_size(&d, CPU_ISA_AVX512);
    void *scratch = alloc64(ss);
    if (blocked) { /* the scale (an SE Mul) is applied by conv.c before a blocked conv */
        float *xsc = malloc((size_t)d.C * HW * sizeof(float));
        assert_non_null(xsc);
        for (int c = 0; c < d.C; ++c)
            for (size_t i = 0; i < HW; ++i) xsc[(size_t)c * HW + i] = x[(size_t)c * HW + i] * (k->scale ? xs[c] : 1.0f);
        float *xb = to_blk16(d.C, HW, xsc), *sb = to_blk16(d.M, OHW, s);
        algo->run(&d, CPU_ISA_AVX512, packed, xb, k->sum ? sb : NULL, yb, scratch);
        const int MB = (d.M + 15) / 16;
        for (size_t i = 0; i < OHW; ++i)
            for (int l = d.M - (MB - 1) * 16; l < 16; ++l) {
                const float v = yb[((size_t)(MB - 1) * OHW + i) * 16 + (size_t)l];
                if (v != 0.0f || signbit(v)) fail_msg("%s: padding lane %d of pixel %zu = %g", what, l, i, (double)v);
            }
        for (int m = 0; m < d.M; ++m)
            for (size_t i = 0; i < OHW; ++i) y[(size_t)m * OHW + i] = yb[((size_t)(m / 16) * OHW + i) * 16 + (size_t)(m % 16)];
        free(xsc);
        free(xb);
        free(sb);
    } else if (k->scale) {
        algo->run_scaled(&d, CPU_ISA_AVX512, packed, x, xs, k->sum ? s : NULL, y, scratch);
    } else {
        algo->run(&d, CPU_ISA_AVX512, packed, x, k->sum ? s : NULL, y, scratch);
    }
    for (size_t i = 0; i < ny; ++i) {
        const double tol = 1e-5 + 1e-4 * fabs((double)want_r[i]) + ldexp(mag[i], -20);
        const double e1 = fabs((double)y[i] - (double)want_r[i]), e2 = fabs((double)y[i] - (double)want[i]);
        if (!(e1 <= tol)) /* NaN fails too */
            fail_msg("%s: y[%zu] = %.9g, want %.9g (bf16 operands, tolerance %.3g)", what, i, (double)y[i],
                     (double)want_r[i], tol);
        if (!(e2 <= tol + ldexp(mag[i], -7) * 1.01))
            fail_msg("%s: y[%zu] = %.9g, float32 operands give %.9g (|w x| sum %.3g)", what, i, (double)y[i],
                     (double)want[i], mag[i]);
    }
    free(x);
    free(w);
    free(b);
    free(s);
    free(xs);
    free(want_r);
    free(want);
    free(mag);
    if (blocked) free(yb);
    free(y);
    free(packed);
    free(scratch);
}

static void run_case(int level, const bcase *k, int threads, uint32_t seed) {
    run_case_algo(&cpu_conv_bf16, level, k, threads, seed);
    cpu_conv2d d;
    to_desc(k, level, threads, &d);
    if (cpu_conv_bf16_blk.applies(&d, CPU_ISA_AVX512)) run_case_algo(&cpu_conv_bf16_blk, level, k, threads, seed);
    else if (k->group == 1) fail_msg("the blocked bf16 conv does not apply to a group-1 case");
}

/* The levels this machine runs: AMX when granted, and AVX512_BF16. */
static int levels(int *out) {
    char note[160];
    int best = cpu_bf16_select(CPU_ISA_AVX512, note, sizeof note), n = 0;
    if (best == CPU_BF16_AMX) out[n++] = CPU_BF16_AMX;
    if (best != CPU_BF16_NONE) out[n++] = CPU_BF16_AVX512;
    return n;
}

static void shapes(void **state) {
    (void)state;
    int lv[2], nl = levels(lv);
    if (!nl) skip();
    static const bcase cases[] = {
        /* C   M   H   W  KH KW SH SW DH DW P  g  act                  sum scale */
        {64, 256, 14, 14, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_NONE, 0, 0},
        {40, 70, 7, 9, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_RELU, 1, 0},
        {2, 5, 33, 35, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_CLIP, 0, 0},
        {96, 33, 4, 4, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_NONE, 1, 1},
        {72, 48, 11, 13, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_SILU, 0, 1},
        {3, 64, 38, 38, 7, 7, 2, 2, 1, 1, 3, 1, ENGINE_ACT_RELU, 0, 0},
        {32, 40, 15, 17, 3, 3, 1, 1, 1, 1, 1, 1, ENGINE_ACT_RELU, 1, 0},
        {48, 64, 16, 16, 3, 3, 2, 2, 1, 1, 1, 1, ENGINE_ACT_HARD_SWISH, 0, 0},
        {24, 36, 20, 20, 3, 3, 1, 1, 2, 2, 2, 1, ENGINE_ACT_LEAKY_RELU, 1, 0},
        {16, 20, 23, 19, 5, 3, 3, 2, 1, 1, 2, 1, ENGINE_ACT_SIGMOID, 0, 1},
        {64, 64, 9, 9, 3, 3, 1, 1, 1, 1, 1, 2, ENGINE_ACT_TANH, 1, 0},
        {64, 96, 8, 8, 3, 3, 1, 1, 1, 1, 1, 8, ENGINE_ACT_HARD_SIGMOID, 0, 0},
        {32, 32, 37, 41, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_MISH, 1, 0},
        {130, 34, 4, 5, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_GELU, 0, 0},
    };
    uint32_t seed = 7;
    for (int l = 0; l < nl; ++l)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
            for (int t = 1; t <= 3; ++t) run_case(lv[l], &cases[i], t, ++seed);
    /* fewer than CPU_BF16_MIN_PIXELS output pixels (an SE block's 1x1 conv
     * on one pixel), one input channel per group: float32 kernels */
    static const bcase f32[] = {{96, 33, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_NONE, 0, 0},
                                {64, 64, 3, 5, 1, 1, 1, 1, 1, 1, 0, 1, ENGINE_ACT_NONE, 0, 0},
                                {32, 32, 8, 8, 3, 3, 1, 1, 1, 1, 1, 32, ENGINE_ACT_NONE, 0, 0}};
    for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; ++i) {
        cpu_conv2d d;
        to_desc(&f32[i], lv[0], 1, &d);
        assert_false(cpu_conv_bf16.applies(&d, CPU_ISA_AVX512));
        assert_false(cpu_conv_bf16_blk.applies(&d, CPU_ISA_AVX512));
    }
}

/* The GEMM with B packed once (Gemm/MatMul with constant weights, ops.c):
 * A [R x K] packed by strips as ops.c does, C as a row vector (ldsum 0) or
 * a full matrix, activations, threads 1-3; B given transposed or not. */
static void gemm_case(int level, int R, int N, int K, int transB, int csum, engine_act act, int threads,
                      uint32_t seed) {
    char what[160];
    snprintf(what, sizeof what, "%s gemm R%d N%d K%d transB%d C%d act%d T%d", cpu_bf16_ops_for(level)->name, R, N,
             K, transB, csum, (int)act, threads);
    rng_state = seed;
    float *a = fill((size_t)R * K, 1.0f), *b = fill((size_t)K * N, 1.0f), *cm = fill((size_t)R * N, 1.0f);
    float *y = alloc64((size_t)R * N * sizeof(float));
    for (size_t i = 0; i < (size_t)R * N; ++i) y[i] = NAN;
    uint16_t *bp = alloc64(cpu_bf16_packed_b_elems(K, N) * sizeof(uint16_t));
    cpu_bf16_pack_b(K, N, b, transB ? 1 : (size_t)N, transB ? (size_t)K : 1, bp); /* b read as [N][K] when transB */
    const size_t strip = cpu_bf16_strip_elems(K);
    uint16_t *ap = alloc64(cpu_bf16_packed_a_elems(R, K) * sizeof(uint16_t));
    memset(ap, 0, cpu_bf16_packed_a_elems(R, K) * sizeof(uint16_t));
    for (int t = 0; t < (R + 15) / 16; ++t) /* ops.c's way: the ISA's strip packer */
        cpu_bf16_ops_for(level)->pack_a_rows(R - t * 16 < 16 ? R - t * 16 : 16, K, a + (size_t)t * 16 * K, (size_t)K,
                                             ap + (size_t)t * strip);
    /* and the portable packer gives the same bits */
    uint16_t *ap2 = alloc64(cpu_bf16_packed_a_elems(R, K) * sizeof(uint16_t));
    memset(ap2, 0, cpu_bf16_packed_a_elems(R, K) * sizeof(uint16_t));
    for (int t = 0; t < (R + 15) / 16; ++t)
        cpu_bf16_pack_a_strip(R - t * 16 < 16 ? R - t * 16 : 16, K, a + (size_t)t * 16 * K, (size_t)K, 1,
                              ap2 + (size_t)t * strip);
    if (memcmp(ap, ap2, (size_t)((R + 15) / 16) * strip * sizeof(uint16_t)) != 0)
        fail_msg("%s: the ISA's strip packer and cpu_bf16_pack_a_strip differ", what);
    free(ap2);
    float *zeros = calloc((size_t)R, sizeof(float));
    assert_non_null(zeros);
    void *scratch = alloc64(cpu_bf16_scratch_bytes(N, K, threads));
    engine_epilogue epi = {act, 0.0f, 0.0f, 0};
    cpu_bf16_src src = {NULL, 0, NULL, NULL, NULL, bp};
    const size_t ldsum = csum == 2 ? (size_t)N : 0;
    cpu_bf16_gemm_run(cpu_kernels_for(CPU_ISA_AVX512), cpu_bf16_ops_for(level), R, N, K, ap, zeros, &src, y,
                      (size_t)N, csum ? cm : NULL, ldsum, &epi, threads, scratch);
    for (int r = 0; r < R; ++r)
        for (int n = 0; n < N; ++n) {
            double acc_r = 0.0, acc = 0.0, mag = 0.0;
            for (int k = 0; k < K; ++k) {
                const float av = a[(size_t)r * K + k], bv = transB ? b[(size_t)n * K + k] : b[(size_t)k * N + n];
                acc_r += (double)rb(av) * (double)rb(bv);
                acc += (double)av * (double)bv;
                mag += fabs((double)av * (double)bv);
            }
            const double c = csum ? (double)cm[(size_t)r * ldsum + (size_t)n] : 0.0;
            const double want_r = engine_act_apply(&epi, acc_r + c), want = engine_act_apply(&epi, acc + c);
            const double got = y[(size_t)r * N + n], tol = 1e-5 + 1e-4 * fabs(want_r) + ldexp(mag, -20);
            if (!(fabs(got - want_r) <= tol))
                fail_msg("%s: y[%d][%d] = %.9g, want %.9g (bf16 operands)", what, r, n, got, want_r);
            if (!(fabs(got - want) <= tol + ldexp(mag, -7) * 1.01))
                fail_msg("%s: y[%d][%d] = %.9g, float32 operands give %.9g", what, r, n, got, want);
        }
    free(a);
    free(b);
    free(cm);
    free(y);
    free(bp);
    free(ap);
    free(zeros);
    free(scratch);
}

static void gemm_packed_b(void **state) {
    (void)state;
    int lv[2], nl = levels(lv);
    if (!nl) skip();
    static const int shapes[][3] = {{8, 33, 16}, {197, 96, 64}, {50, 100, 300}, {13, 7, 20}, {64, 64, 32}, {33, 130, 47}};
    static const engine_act acts[] = {ENGINE_ACT_NONE, ENGINE_ACT_GELU, ENGINE_ACT_RELU};
    uint32_t seed = 99;
    for (int l = 0; l < nl; ++l)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
            for (int t = 1; t <= 3; ++t) {
                ++seed;
                gemm_case(lv[l], shapes[i][0], shapes[i][1], shapes[i][2], (int)(seed % 2), (int)(seed % 3),
                          acts[seed % 3], t, seed);
            }
}

/* Rounding: to nearest even, NaN kept, infinities kept. */
static void rounding(void **state) {
    (void)state;
    assert_int_equal(cpu_bf16_round(1.0f), 0x3f80);
    assert_int_equal(cpu_bf16_round(1.0f + 0x1p-8f), 0x3f80);  /* tie: to even (down) */
    assert_int_equal(cpu_bf16_round(1.0f + 0x3p-8f), 0x3f82);  /* tie: to even (up) */
    assert_int_equal(cpu_bf16_round(1.0f + 0x1.2p-8f), 0x3f81); /* above the tie */
    assert_int_equal(cpu_bf16_round(-2.0f), 0xc000);
    assert_int_equal(cpu_bf16_round(INFINITY), 0x7f80);
    assert_true(isnan(cpu_bf16_float(cpu_bf16_round(NAN))));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rounding),
        cmocka_unit_test(shapes),
        cmocka_unit_test(gemm_packed_b),
    };
    return cmocka_run_group_tests(tests, test_pool_setup, test_pool_teardown);
}
