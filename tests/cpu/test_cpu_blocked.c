/*
 * tests/cpu/test_cpu_blocked.c - the blocked-layout conv algorithms of
 * cpu_blocked.h (conv_blocked.c: cpu_conv_direct_blk, cpu_conv_dw_blk)
 * against a naive double-precision NCHW conv, on every ISA with a blocked
 * layout that this machine runs (AVX-512: NCHW16c, AVX2: NCHW8c).
 *
 * The test converts inputs to the blocked layout and outputs back with
 * helpers of its own (not ops_blocked.c: the kernels are tested alone),
 * writes NaN into every output float first (an unwritten output fails), and
 * asserts that the padding lanes of every output block are exactly 0.
 *
 * Data: seeded xorshift streams; inputs, bias and the residual sum uniform
 * in [-1, 1], weights at kaiming scale (variance 2 / fan_in). Shapes are
 * awkward on purpose: C and M not multiples of the block, 1x1 images, pads
 * larger than the kernel, strides 2 and 3, dilation 2, kernels from 1x1 to
 * 11x11, 1-D, every epilogue activation with and without sum, threads 1-3.
 *
 * Tolerance: |got - want| <= 1e-5 + 1e-4 * |want| per element. Also the
 * module's layout conversions (ops_blocked.c), exactly. And the 1x1
 * expansion fused into the depthwise conv (cpu_pw_dw_blk_run).
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

/* The ISAs this machine runs that have a blocked layout. */
static int blk_isa_list(cpu_isa *out) {
    cpu_isa all[4];
    int n = 0, na = isa_list(all);
    for (int i = 0; i < na; ++i)
        if (cpu_blk_vl(all[i]) > 0) out[n++] = all[i];
    return n;
}

/* ---- layout helpers (the test's own) ---- */

/* NCHW [C][HW] -> [CB][HW][vl], padding lanes 0. */
static float *to_blk(int vl, int C, size_t HW, const float *x) {
    size_t n = cpu_blk_image_floats(vl, C, HW);
    float *b = alloc64(n * sizeof(float));
    memset(b, 0, n * sizeof(float));
    for (int c = 0; c < C; ++c)
        for (size_t i = 0; i < HW; ++i) b[((size_t)(c / vl) * HW + i) * vl + (size_t)(c % vl)] = x[(size_t)c * HW + i];
    return b;
}

static void from_blk(int vl, int C, size_t HW, const float *b, float *x) {
    for (int c = 0; c < C; ++c)
        for (size_t i = 0; i < HW; ++i) x[(size_t)c * HW + i] = b[((size_t)(c / vl) * HW + i) * vl + (size_t)(c % vl)];
}

/* ---- one conv case ---- */

typedef struct conv_case {
    int C, M, H, W, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, group;
    engine_act act;
    int sum, bias;
} conv_case;

static void to_desc(const conv_case *k, int threads, cpu_conv2d *d) {
    memset(d, 0, sizeof *d);
    d->C = k->C, d->M = k->M, d->H = k->H, d->W = k->W;
    d->KH = k->KH, d->KW = k->KW, d->SH = k->SH, d->SW = k->SW, d->DH = k->DH, d->DW = k->DW;
    d->PT = k->PT, d->PL = k->PL, d->PB = k->PB, d->PR = k->PR;
    d->group = k->group;
    d->OH = (k->H + k->PT + k->PB - k->DH * (k->KH - 1) - 1) / k->SH + 1;
    d->OW = (k->W + k->PL + k->PR - k->DW * (k->KW - 1) - 1) / k->SW + 1;
    d->epi.act = k->act;
    /* parameters that make each activation bend inside the data's range */
    switch (k->act) {
    case ENGINE_ACT_CLIP: d->epi.alpha = -0.5f, d->epi.beta = 0.75f; break;
    case ENGINE_ACT_LEAKY_RELU: d->epi.alpha = 0.1f; break;
    case ENGINE_ACT_HARD_SIGMOID: d->epi.alpha = 0.2f, d->epi.beta = 0.5f; break;
    default: break;
    }
    d->epi.sum = k->sum;
    d->threads = threads;
}

static void case_str(const conv_case *k, char *buf, size_t n) {
    snprintf(buf, n, "C%d M%d %dx%d k%dx%d s%dx%d d%dx%d pad%d,%d,%d,%d g%d act%d sum%d bias%d", k->C, k->M, k->H,
             k->W, k->KH, k->KW, k->SH, k->SW, k->DH, k->DW, k->PT, k->PL, k->PB, k->PR, k->group, (int)k->act,
             k->sum, k->bias);
}

/* The naive conv in double: y = act(sum_taps w x + bias [+ sum]). */
static void naive_conv(const cpu_conv2d *d, const float *x, const float *w, const float *b, const float *s,
                       float *y) {
    const int Cg = d->C / d->group, Mg = d->M / d->group;
    for (int m = 0; m < d->M; ++m) {
        const int g = m / Mg;
        for (int oh = 0; oh < d->OH; ++oh)
            for (int ow = 0; ow < d->OW; ++ow) {
                double acc = b ? (double)b[m] : 0.0;
                for (int c = 0; c < Cg; ++c)
                    for (int kh = 0; kh < d->KH; ++kh) {
                        const int ih = oh * d->SH - d->PT + kh * d->DH;
                        if (ih < 0 || ih >= d->H) continue;
                        for (int kw = 0; kw < d->KW; ++kw) {
                            const int iw = ow * d->SW - d->PL + kw * d->DW;
                            if (iw < 0 || iw >= d->W) continue;
                            acc += (double)w[(((size_t)m * Cg + c) * d->KH + kh) * d->KW + kw] *
                                   (double)x[((size_t)(g * Cg + c) * d->H + ih) * d->W + iw];
                        }
                    }
                const size_t o = ((size_t)m * d->OH + oh) * d->OW + ow;
                if (s) acc += (double)s[o];
                y[o] = (float)engine_act_apply(&d->epi, acc);
            }
    }
}

/* Fails on a padding lane of y that is not +0 or an output off the tolerance. */
static void check_out(const cpu_conv_algo *algo, cpu_isa isa, const char *what, const cpu_conv2d *dp, int vl,
                      const float *yb, float *got, const float *want) {
    const cpu_conv2d d = *dp;
    const int threads = d.threads;
    const size_t OHW = (size_t)d.OH * d.OW, ny = (size_t)d.M * OHW;
    /* padding lanes of the last block */
    const int MB = (d.M + vl - 1) / vl;
    for (size_t i = 0; i < OHW; ++i)
        for (int l = d.M - (MB - 1) * vl; l < vl; ++l) {
            float v = yb[((size_t)(MB - 1) * OHW + i) * vl + (size_t)l];
            if (v != 0.0f || signbit(v))
                fail_msg("%s %s %s: padding lane %d of pixel %zu = %g", algo->name, isa_name(isa), what, l, i,
                         (double)v);
        }
    from_blk(vl, d.M, OHW, yb, got);
    for (size_t i = 0; i < ny; ++i) {
        double err = fabs((double)got[i] - (double)want[i]);
        double tol = 1e-5 + 1e-4 * fabs((double)want[i]);
        if (!(err <= tol)) /* NaN fails too */
            fail_msg("%s %s %s T%d: y[%zu] (m %zu, pixel %zu) = %.9g, want %.9g", algo->name, isa_name(isa), what,
                     threads, i, i / OHW, i % OHW, (double)got[i], (double)want[i]);
    }
}

/* Runs algo on isa for case k with `threads`; fails on the first output
 * off the tolerance or a padding lane that is not 0. */
static void run_case(const cpu_conv_algo *algo, cpu_isa isa, const conv_case *k, int threads, uint32_t seed) {
    cpu_conv2d d;
    to_desc(k, threads, &d);
    char what[200];
    case_str(k, what, sizeof what);
    if (!algo->applies(&d, isa)) fail_msg("%s %s: does not apply to %s", algo->name, isa_name(isa), what);
    assert_true(algo->estimate_ns(&d, isa) > 0.0);
    const int vl = cpu_blk_vl(isa);
    rng_state = seed ? seed : 1;
    const size_t HW = (size_t)d.H * d.W, OHW = (size_t)d.OH * d.OW;
    const size_t nx = (size_t)d.C * HW, ny = (size_t)d.M * OHW;
    const size_t nw = (size_t)d.M * (d.C / d.group) * d.KH * d.KW;
    float *x = fill(nx, 1.0f);
    float *w = fill(nw, sqrtf(6.0f / (float)((d.C / d.group) * d.KH * d.KW)));
    float *b = fill((size_t)d.M, 1.0f);
    float *s = fill(ny, 1.0f);
    float *want = malloc(ny * sizeof(float)), *got = malloc(ny * sizeof(float));
    assert_non_null(want);
    assert_non_null(got);
    naive_conv(&d, x, w, k->bias ? b : NULL, d.epi.sum ? s : NULL, want);

    float *xb = to_blk(vl, d.C, HW, x), *sb = to_blk(vl, d.M, OHW, s);
    const size_t nyb = cpu_blk_image_floats(vl, d.M, OHW);
    float *yb = alloc64(nyb * sizeof(float));
    for (size_t i = 0; i < nyb; ++i) yb[i] = NAN; /* unwritten outputs fail */
    void *packed = alloc64(algo->packed_size(&d, isa));
    algo->pack(&d, isa, w, k->bias ? b : NULL, packed);
    size_t ss = algo->scratch_size(&d, isa);
    void *scratch = ss ? alloc64(ss) : NULL;
    const int plain_in = algo == &cpu_conv_direct_blkout; /* reads NCHW, writes blocked */
    algo->run(&d, isa, packed, plain_in ? x : xb, d.epi.sum ? sb : NULL, yb, scratch);
    check_out(algo, isa, what, &d, vl, yb, got, want);
    if (ss && !plain_in) { /* without scratch: the direct kernel's checked border path */
        for (size_t i = 0; i < nyb; ++i) yb[i] = NAN;
        algo->run(&d, isa, packed, xb, d.epi.sum ? sb : NULL, yb, NULL);
        check_out(algo, isa, what, &d, vl, yb, got, want);
    }

    free(x);
    free(w);
    free(b);
    free(s);
    free(want);
    free(got);
    free(xb);
    free(sb);
    free(yb);
    free(packed);
    free(scratch);
}

/* Runs every case on every ISA at 1..3 threads; the cases before `base`
 * rotate the activations, sum and bias among themselves. */
static void run_cases(const cpu_conv_algo *algo, const char *label, const cpu_isa *isas, int ni,
                      const conv_case *cases, int nc, int base, uint32_t seed0) {
    int runs = 0;
    for (int i = 0; i < ni; ++i)
        for (int c = 0; c < nc; ++c) {
            conv_case k = cases[c];
            if (c < base) {
                k.act = (engine_act)(c % ((int)ENGINE_ACT_GELU + 1));
                k.sum = c % 3 == 1;
                k.bias = c % 4 != 2;
            }
            for (int t = 1; t <= 3; ++t) {
                run_case(algo, isas[i], &k, t, seed0 + (uint32_t)c * 7u + (uint32_t)t);
                ++runs;
            }
        }
    printf("%s: %d runs over %d ISAs within atol 1e-5 + rtol 1e-4\n", label, runs, ni);
}

/* ---- direct ---- */

static conv_case full(int C, int M, int H, int W, int K, int S, int P, int D) {
    conv_case k = {C, M, H, W, K, K, S, S, D, D, P, P, P, P, 1, ENGINE_ACT_NONE, 0, 1};
    return k;
}

static void test_direct_blk(void **state) {
    (void)state;
    cpu_isa isas[4];
    const int ni = blk_isa_list(isas);
    if (ni == 0) {
        printf("direct_blk: no ISA with a blocked layout on this machine, skipped\n");
        skip();
    }
    conv_case cases[96];
    int nc = 0;
    cases[nc++] = full(3, 5, 9, 11, 3, 1, 1, 1);
    cases[nc++] = full(17, 24, 14, 14, 3, 1, 1, 1);
    cases[nc++] = full(33, 17, 7, 7, 3, 1, 1, 1);
    cases[nc++] = full(24, 33, 15, 13, 3, 2, 1, 1);   /* stride 2 */
    cases[nc++] = full(5, 40, 16, 17, 3, 3, 1, 1);    /* stride 3 */
    cases[nc++] = full(17, 17, 13, 15, 3, 1, 2, 2);   /* dilation 2 */
    cases[nc++] = full(40, 36, 7, 9, 1, 1, 0, 1);     /* 1x1: the one-row form */
    cases[nc++] = full(33, 70, 5, 3, 1, 1, 0, 1);
    cases[nc++] = full(17, 19, 9, 8, 1, 2, 0, 1);     /* 1x1 stride 2: on a subsampled copy */
    cases[nc++] = full(40, 35, 14, 13, 1, 3, 0, 1);   /* 1x1 stride 3, odd sizes */
    {
        conv_case k = full(20, 33, 11, 10, 1, 1, 0, 1); /* 1x1 strides (2, 1), sum and activation */
        k.SH = 2, k.sum = 1, k.act = ENGINE_ACT_RELU;
        cases[nc++] = k;
    }
    cases[nc++] = full(9, 20, 6, 6, 1, 1, 1, 1);      /* 1x1 padded */
    cases[nc++] = full(24, 32, 28, 28, 1, 1, 0, 1);   /* one pair, 56 tiles: rows cut into parts */
    cases[nc++] = full(40, 13, 14, 15, 1, 1, 0, 1);   /* one block, parts */
    cases[nc++] = full(12, 30, 2, 41, 3, 1, 1, 1);    /* few rows with borders, parts */
    cases[nc++] = full(5, 17, 11, 12, 5, 1, 2, 1);
    cases[nc++] = full(3, 24, 19, 21, 7, 2, 3, 1);
    cases[nc++] = full(3, 9, 23, 25, 11, 4, 2, 1);
    cases[nc++] = full(16, 32, 14, 30, 3, 1, 1, 1);   /* exact blocks, long rows */
    cases[nc++] = full(1, 1, 1, 1, 3, 1, 1, 1);       /* 1x1 image */
    cases[nc++] = full(24, 5, 1, 1, 1, 1, 0, 1);
    cases[nc++] = full(17, 33, 1, 1, 3, 2, 1, 1);
    cases[nc++] = full(5, 7, 3, 4, 3, 1, 5, 1);       /* pads larger than the kernel */
    cases[nc++] = full(64, 64, 7, 7, 3, 1, 1, 1);
    cases[nc++] = full(64, 80, 10, 10, 5, 1, 2, 2);   /* dilated 5x5 */
    {
        conv_case k = full(5, 9, 14, 23, 3, 1, 0, 1); /* asymmetric pads and strides */
        k.PT = 0, k.PL = 1, k.PB = 2, k.PR = 0, k.SW = 2;
        cases[nc++] = k;
        k = full(6, 18, 2, 9, 3, 1, 0, 1);
        k.PT = 4, k.PL = 0, k.PB = 3, k.PR = 6;
        cases[nc++] = k;
        k = full(7, 11, 10, 12, 3, 1, 0, 1);
        k.KH = 3, k.KW = 5, k.PL = 2, k.PR = 2, k.PT = 1, k.PB = 1, k.DH = 2;
        cases[nc++] = k;
        k = full(17, 20, 1, 67, 1, 1, 0, 1); /* 1-D */
        k.KW = 5, k.SW = 2, k.PL = 2, k.PR = 2;
        cases[nc++] = k;
        k = full(9, 33, 1, 40, 1, 1, 0, 1); /* 1-D dilated, stride 3 */
        k.KW = 3, k.SW = 3, k.DW = 2, k.PL = 1, k.PR = 4;
        cases[nc++] = k;
        k = full(3, 5, 1, 9, 1, 1, 0, 1); /* 1-D kernel 11 wider than the row */
        k.KW = 11, k.PL = 6, k.PR = 6;
        cases[nc++] = k;
        k = full(4, 8, 40, 2, 1, 1, 0, 1); /* tall, narrow, 7x1 */
        k.KH = 7, k.PT = 3, k.PB = 3, k.SH = 2;
        cases[nc++] = k;
    }
    const int base = nc;
    /* every activation, with and without sum and bias */
    for (int a = 0; a <= (int)ENGINE_ACT_GELU; ++a)
        for (int s = 0; s < 2; ++s) {
            conv_case k = full(a % 2 ? 19 : 5, a % 2 ? 21 : 7, 9, 13, a % 2 ? 3 : 5, 1 + s, a % 2 ? 1 : 2, 1);
            k.act = (engine_act)a;
            k.sum = s;
            k.bias = (a + s) % 3 != 0;
            cases[nc++] = k;
        }
    assert_true(nc <= 96);
    run_cases(&cpu_conv_direct_blk, "direct_blk", isas, ni, cases, nc, base, 1000u);
}

/* ---- few-channel direct from NCHW into the blocked layout ---- */

static void test_direct_blkout(void **state) {
    (void)state;
    cpu_isa isas[4];
    const int ni = blk_isa_list(isas);
    if (ni == 0) {
        printf("direct_blkout: no ISA with a blocked layout on this machine, skipped\n");
        skip();
    }
    conv_case cases[64];
    int nc = 0;
    cases[nc++] = full(3, 32, 23, 29, 3, 2, 1, 1);  /* MobileNet's stem, odd map: every tile width */
    cases[nc++] = full(3, 64, 30, 33, 7, 2, 3, 1);  /* ResNet's: 4 blocks */
    cases[nc++] = full(3, 16, 17, 16, 3, 2, 1, 1);  /* one block */
    cases[nc++] = full(3, 24, 15, 15, 3, 2, 1, 1);  /* ShuffleNet's: a padded second block */
    cases[nc++] = full(1, 5, 9, 11, 3, 1, 1, 1);    /* one channel, padding lanes */
    cases[nc++] = full(8, 40, 12, 13, 5, 1, 2, 2);  /* 8 channels, dilated, 3 blocks */
    cases[nc++] = full(4, 17, 1, 1, 3, 1, 1, 1);    /* 1x1 image */
    cases[nc++] = full(2, 9, 31, 2, 1, 2, 0, 1);    /* 1x1 stride 2 */
    cases[nc++] = full(5, 7, 3, 4, 3, 1, 5, 1);     /* pads larger than the kernel */
    {
        conv_case k = full(3, 20, 14, 23, 3, 1, 0, 1); /* asymmetric pads and strides */
        k.PT = 0, k.PL = 1, k.PB = 2, k.PR = 0, k.SW = 2;
        cases[nc++] = k;
        k = full(6, 33, 1, 67, 1, 1, 0, 1); /* 1-D kernel 5, stride 2 */
        k.KW = 5, k.SW = 2, k.PL = 2, k.PR = 2;
        cases[nc++] = k;
        k = full(3, 8, 40, 9, 1, 1, 0, 1); /* 7x1, stride 3 */
        k.KH = 7, k.PT = 3, k.PB = 3, k.SH = 3;
        cases[nc++] = k;
    }
    const int base = nc;
    for (int a = 0; a <= (int)ENGINE_ACT_GELU; ++a)
        for (int sm = 0; sm < 2; ++sm) {
            conv_case k = full(a % 2 ? 3 : 7, a % 2 ? 21 : 35, 9, 13, a % 2 ? 3 : 5, 1 + sm, a % 2 ? 1 : 2, 1);
            k.act = (engine_act)a;
            k.sum = sm;
            k.bias = (a + sm) % 3 != 0;
            cases[nc++] = k;
        }
    assert_true(nc <= 64);
    run_cases(&cpu_conv_direct_blkout, "direct_blkout", isas, ni, cases, nc, base, 3000u);
}

/* ---- depthwise ---- */

static conv_case dw(int C, int H, int W, int K, int S, int P, int D) {
    conv_case k = {C, C, H, W, K, K, S, S, D, D, P, P, P, P, C, ENGINE_ACT_NONE, 0, 1};
    return k;
}

static void test_dw_blk(void **state) {
    (void)state;
    cpu_isa isas[4];
    const int ni = blk_isa_list(isas);
    if (ni == 0) {
        printf("dw_blk: no ISA with a blocked layout on this machine, skipped\n");
        skip();
    }
    conv_case cases[96];
    int nc = 0;
    cases[nc++] = dw(32, 28, 28, 3, 1, 1, 1);
    cases[nc++] = dw(17, 13, 17, 3, 1, 1, 1);
    cases[nc++] = dw(17, 13, 17, 3, 2, 1, 1);
    cases[nc++] = dw(3, 7, 7, 3, 1, 1, 1);
    cases[nc++] = dw(5, 7, 7, 3, 2, 1, 1);
    cases[nc++] = dw(1, 1, 1, 3, 1, 1, 1);
    cases[nc++] = dw(33, 1, 1, 3, 2, 1, 1);
    cases[nc++] = dw(24, 7, 7, 5, 1, 2, 1);
    cases[nc++] = dw(37, 14, 14, 5, 2, 2, 1);
    cases[nc++] = dw(33, 7, 9, 3, 1, 1, 1);
    cases[nc++] = dw(5, 40, 67, 5, 1, 2, 1);
    cases[nc++] = dw(4, 16, 16, 3, 1, 0, 1);  /* valid: no padding */
    cases[nc++] = dw(17, 19, 21, 5, 2, 0, 1);
    cases[nc++] = dw(3, 13, 17, 3, 1, 2, 2);  /* dilation 2 */
    cases[nc++] = dw(24, 13, 37, 3, 2, 1, 2);
    cases[nc++] = dw(17, 11, 19, 7, 1, 3, 1); /* 7x7 */
    cases[nc++] = dw(9, 15, 23, 7, 2, 3, 1);
    cases[nc++] = dw(3, 11, 19, 2, 2, 0, 1);  /* 2x2 s2 */
    cases[nc++] = dw(17, 11, 19, 1, 1, 0, 1); /* 1x1: the one-row form */
    cases[nc++] = dw(17, 11, 19, 1, 2, 1, 1); /* 1x1 strided, padded */
    cases[nc++] = dw(24, 12, 20, 3, 3, 1, 1); /* stride 3 */
    cases[nc++] = dw(9, 13, 13, 9, 1, 4, 1);  /* 9x9 */
    cases[nc++] = dw(5, 3, 4, 3, 1, 4, 1);    /* pads larger than the kernel */
    cases[nc++] = dw(64, 14, 14, 3, 1, 1, 1);
    /* short rows: even tiles (12 -> 6 6, 15 -> 8 7), through the padded
     * plane at stride 1, from the rows at stride 2 and with dilation */
    cases[nc++] = dw(16, 12, 12, 3, 1, 1, 1);
    cases[nc++] = dw(8, 15, 15, 5, 1, 2, 1);
    cases[nc++] = dw(9, 10, 11, 3, 1, 2, 2);
    cases[nc++] = dw(16, 20, 29, 3, 2, 1, 1);
    {
        conv_case k = dw(5, 14, 23, 3, 1, 0, 1); /* asymmetric pads and strides */
        k.PT = 0, k.PL = 1, k.PB = 1, k.PR = 0, k.SW = 2;
        cases[nc++] = k;
        k = dw(17, 9, 35, 5, 1, 0, 1);
        k.PT = 2, k.PL = 0, k.PB = 1, k.PR = 2, k.SH = 2;
        cases[nc++] = k;
        k = dw(2, 10, 12, 3, 1, 0, 1);
        k.KH = 3, k.KW = 5, k.PL = 2, k.PR = 2, k.PT = 1, k.PB = 1;
        cases[nc++] = k;
        k = dw(19, 1, 50, 1, 1, 0, 1); /* 1-D */
        k.KW = 3, k.SW = 2, k.DW = 2, k.PL = 1, k.PR = 1;
        cases[nc++] = k;
        k = dw(3, 5, 3, 5, 2, 0, 1);
        k.PT = 6, k.PL = 3, k.PB = 1, k.PR = 7;
        cases[nc++] = k;
    }
    const int base = nc;
    for (int a = 0; a <= (int)ENGINE_ACT_GELU; ++a)
        for (int s = 0; s < 2; ++s) {
            conv_case k = dw(a % 2 ? 17 : 24, 9, 23, a % 2 ? 5 : 3, 1 + s, a % 2 ? 2 : 1, 1);
            k.act = (engine_act)a;
            k.sum = s;
            k.bias = (a + s) % 3 != 0;
            cases[nc++] = k;
        }
    assert_true(nc <= 96);
    run_cases(&cpu_conv_dw_blk, "dw_blk", isas, ni, cases, nc, base, 5000u);
}

/* ---- a batch with the weights read once (cpu_conv_direct_blk_run_n) ----
 * N images at once against the kernel run image by image: the same
 * arithmetic, so bit for bit, and against the naive conv per image. */
static void run_batch_case(cpu_isa isa, const conv_case *k, int N, int threads, uint32_t seed) {
    cpu_conv2d d;
    to_desc(k, threads, &d);
    char what[200];
    case_str(k, what, sizeof what);
    const int vl = cpu_blk_vl(isa);
    rng_state = seed;
    const size_t HW = (size_t)d.H * d.W, OHW = (size_t)d.OH * d.OW;
    const size_t nx = (size_t)d.C * HW, ny = (size_t)d.M * OHW, nw = (size_t)d.M * d.C * d.KH * d.KW;
    const size_t xi = cpu_blk_image_floats(vl, d.C, HW), yi = cpu_blk_image_floats(vl, d.M, OHW);
    float *x = fill(nx * (size_t)N, 1.0f), *w = fill(nw, sqrtf(6.0f / (float)(d.C * d.KH * d.KW)));
    float *b = fill((size_t)d.M, 1.0f), *s = fill(ny * (size_t)N, 1.0f);
    float *xb = alloc64(xi * (size_t)N * sizeof(float)), *sb = alloc64(yi * (size_t)N * sizeof(float));
    float *y0 = alloc64(yi * (size_t)N * sizeof(float)), *y1 = alloc64(yi * (size_t)N * sizeof(float));
    float *want = malloc(ny * sizeof(float)), *got = malloc(ny * sizeof(float));
    assert_non_null(want);
    assert_non_null(got);
    for (int n = 0; n < N; ++n) {
        float *t = to_blk(vl, d.C, HW, x + (size_t)n * nx);
        memcpy(xb + (size_t)n * xi, t, xi * sizeof(float));
        free(t);
        t = to_blk(vl, d.M, OHW, s + (size_t)n * ny);
        memcpy(sb + (size_t)n * yi, t, yi * sizeof(float));
        free(t);
    }
    void *packed = alloc64(cpu_conv_direct_blk.packed_size(&d, isa));
    cpu_conv_direct_blk.pack(&d, isa, w, k->bias ? b : NULL, packed);
    const size_t ss = cpu_conv_direct_blk.scratch_size(&d, isa);
    void *scratch = ss ? alloc64(ss) : NULL;
    for (size_t i = 0; i < yi * (size_t)N; ++i) y0[i] = y1[i] = NAN; /* unwritten outputs fail */
    for (int n = 0; n < N; ++n)
        cpu_conv_direct_blk.run(&d, isa, packed, xb + (size_t)n * xi, d.epi.sum ? sb + (size_t)n * yi : NULL,
                                y0 + (size_t)n * yi, scratch);
    cpu_conv_direct_blk_run_n(isa, &d, packed, xb, d.epi.sum ? sb : NULL, y1, scratch, N);
    static const cpu_conv_algo batched = {.name = "direct_blk_run_n"};
    for (int n = 0; n < N; ++n) {
        naive_conv(&d, x + (size_t)n * nx, w, k->bias ? b : NULL, d.epi.sum ? s + (size_t)n * ny : NULL, want);
        check_out(&batched, isa, what, &d, vl, y1 + (size_t)n * yi, got, want);
    }
    for (size_t i = 0; i < yi * (size_t)N; ++i)
        if (memcmp(&y0[i], &y1[i], sizeof(float)) != 0)
            fail_msg("direct_blk_run_n %s %s N%d T%d: blocked float %zu is %.9g batched, %.9g image by image",
                     isa_name(isa), what, N, threads, i, (double)y1[i], (double)y0[i]);
    free(x), free(w), free(b), free(s), free(xb), free(sb), free(y0), free(y1), free(want), free(got);
    free(packed), free(scratch);
}

static void test_direct_blk_batch(void **state) {
    (void)state;
    cpu_isa isas[4];
    const int ni = blk_isa_list(isas);
    if (ni == 0) {
        printf("direct_blk_run_n: no ISA with a blocked layout on this machine, skipped\n");
        skip();
    }
    conv_case cases[16];
    int nc = 0;
    cases[nc++] = full(64, 64, 7, 7, 3, 1, 1, 1);   /* ResNet's layer4, scaled down */
    cases[nc++] = full(40, 24, 9, 11, 3, 2, 1, 1);  /* stride 2, one pair and a half */
    cases[nc++] = full(19, 37, 5, 6, 3, 1, 1, 1);   /* padding lanes both sides */
    cases[nc++] = full(16, 8, 6, 6, 5, 1, 2, 1);    /* a single block out: one pair */
    cases[nc++] = full(33, 48, 3, 3, 3, 1, 1, 2);   /* dilation, all border */
    cases[nc++] = full(24, 64, 7, 7, 1, 1, 0, 1);   /* 1x1 */
    int runs = 0;
    for (int i = 0; i < ni; ++i)
        for (int c = 0; c < nc; ++c)
            for (int t = 1; t <= 3; ++t)
                for (int N = 2; N <= 5; N += 3) {
                    conv_case k = cases[c];
                    k.act = (engine_act)(c % ((int)ENGINE_ACT_GELU + 1));
                    k.sum = c % 2;
                    k.bias = c % 3 != 2;
                    run_batch_case(isas[i], &k, N, t, 7000u + (uint32_t)c * 11u + (uint32_t)t * 3u + (uint32_t)N);
                    ++runs;
                }
    /* used where a pair's weights are at least a quarter of an image and all past L2 */
    cpu_conv2d d;
    conv_case k = full(512, 512, 7, 7, 3, 1, 1, 1);
    to_desc(&k, 2, &d);
    assert_true(cpu_conv_direct_blk_batched(&d, isas[0], 8));
    assert_false(cpu_conv_direct_blk_batched(&d, isas[0], 1));
    k = full(512, 512, 56, 56, 3, 1, 1, 1);
    to_desc(&k, 2, &d);
    assert_false(cpu_conv_direct_blk_batched(&d, isas[0], 8));
    k = full(64, 64, 7, 7, 3, 1, 1, 1);
    to_desc(&k, 2, &d);
    assert_false(cpu_conv_direct_blk_batched(&d, isas[0], 8));
    printf("direct_blk_run_n: %d runs over %d ISAs, bit-exact against image by image\n", runs, ni);
}

/* ---- 1x1 expansion + depthwise, fused (cpu_pw_dw_blk_run) ---- */

/* The pair (C -> M 1x1 with act_a, then the M-channel depthwise conv dwk)
 * fused, against the naive chain (the 1x1's output rounded to float, as
 * the kernels store it) within the tolerance, and bit for bit against the
 * two blocked kernels run one after the other (the same arithmetic) where
 * the unfused depthwise kernel also reads rows. */
static void run_pw_dw_case(cpu_isa isa, int C, engine_act act_a, const conv_case *dwk, int threads, uint32_t seed) {
    conv_case ak = full(C, dwk->C, dwk->H, dwk->W, 1, 1, 0, 1);
    ak.act = act_a;
    cpu_conv2d a, d;
    to_desc(&ak, threads, &a);
    to_desc(dwk, threads, &d);
    char what[240], dws[200];
    case_str(dwk, dws, sizeof dws);
    snprintf(what, sizeof what, "1x1 C%d act%d -> dw %s", C, (int)act_a, dws);
    if (!cpu_pw_dw_blk_applies(&a, &d, isa)) fail_msg("pw_dw_blk %s: does not apply to %s", isa_name(isa), what);
    const int vl = cpu_blk_vl(isa), M = d.C;
    rng_state = seed ? seed : 1;
    const size_t HW = (size_t)d.H * d.W, OHW = (size_t)d.OH * d.OW;
    float *x = fill((size_t)C * HW, 1.0f), *wa = fill((size_t)M * C, sqrtf(6.0f / (float)C)), *ba = fill((size_t)M, 1.0f);
    float *wd = fill((size_t)M * d.KH * d.KW, sqrtf(6.0f / (float)(d.KH * d.KW))), *bd = fill((size_t)M, 1.0f);
    float *s = fill((size_t)M * OHW, 1.0f);
    float *t = malloc((size_t)M * HW * sizeof(float)), *want = malloc((size_t)M * OHW * sizeof(float));
    float *got = malloc((size_t)M * OHW * sizeof(float));
    assert_non_null(t);
    assert_non_null(want);
    assert_non_null(got);
    naive_conv(&a, x, wa, ba, NULL, t);
    naive_conv(&d, t, wd, dwk->bias ? bd : NULL, d.epi.sum ? s : NULL, want);

    float *xb = to_blk(vl, C, HW, x), *sb = to_blk(vl, M, OHW, s);
    const size_t ntb = cpu_blk_image_floats(vl, M, HW), nyb = cpu_blk_image_floats(vl, M, OHW);
    float *tb = alloc64(ntb * sizeof(float)), *y0 = alloc64(nyb * sizeof(float)), *y1 = alloc64(nyb * sizeof(float));
    void *pa = alloc64(cpu_conv_direct_blk.packed_size(&a, isa)), *pd = alloc64(cpu_conv_dw_blk.packed_size(&d, isa));
    cpu_conv_direct_blk.pack(&a, isa, wa, ba, pa);
    cpu_conv_dw_blk.pack(&d, isa, wd, dwk->bias ? bd : NULL, pd);
    const size_t sa = cpu_conv_direct_blk.scratch_size(&a, isa), sd = cpu_conv_dw_blk.scratch_size(&d, isa);
    const size_t sf = cpu_pw_dw_blk_scratch_size(&d, isa);
    void *scr_a = sa ? alloc64(sa) : NULL, *scr_d = sd ? alloc64(sd) : NULL, *scr_f = alloc64(sf ? sf : 64);
    for (size_t i = 0; i < nyb; ++i) y0[i] = y1[i] = NAN; /* unwritten outputs fail */
    cpu_conv_direct_blk.run(&a, isa, pa, xb, NULL, tb, scr_a);
    cpu_conv_dw_blk.run(&d, isa, pd, tb, d.epi.sum ? sb : NULL, y0, scr_d);
    cpu_pw_dw_blk_run(isa, &a, pa, &d, pd, xb, d.epi.sum ? sb : NULL, y1, scr_f);
    static const cpu_conv_algo fused = {.name = "pw_dw_blk"};
    check_out(&fused, isa, what, &d, vl, y1, got, want);
    /* (the unfused depthwise kernel takes short stride-1 rows through a
     * zero-padded plane, another summation order; the fused one reads rows) */
    const int same_order = d.SW != 1 || d.OW > 16;
    for (size_t i = 0; same_order && i < nyb; ++i)
        if (memcmp(&y0[i], &y1[i], sizeof(float)) != 0)
            fail_msg("pw_dw_blk %s %s T%d: blocked float %zu is %.9g fused, %.9g unfused", isa_name(isa), what,
                     threads, i, (double)y1[i], (double)y0[i]);
    free(x), free(wa), free(ba), free(wd), free(bd), free(s), free(t), free(want), free(got);
    free(xb), free(sb), free(tb), free(y0), free(y1), free(pa), free(pd), free(scr_a), free(scr_d), free(scr_f);
}

static void test_pw_dw_blk(void **state) {
    (void)state;
    cpu_isa isas[4];
    const int ni = blk_isa_list(isas);
    if (ni == 0) {
        printf("pw_dw_blk: no ISA with a blocked layout on this machine, skipped\n");
        skip();
    }
    typedef struct {
        int C;
        conv_case d;
    } pw_dw_case;
    pw_dw_case cases[32];
    int nc = 0;
    /* MobileNet v2's shapes (scaled down), odd channel counts (padding
     * lanes, a single last block), wide rows (a one-row chunk: the carried
     * rows move every chunk), stride 2 and 3, 5x5, dilation, asymmetric
     * pads, pads larger than the kernel, the residual */
    cases[nc++] = (pw_dw_case){16, dw(96, 30, 28, 3, 2, 1, 1)};
    cases[nc++] = (pw_dw_case){24, dw(144, 17, 19, 3, 1, 1, 1)};
    cases[nc++] = (pw_dw_case){8, dw(21, 23, 13, 3, 1, 1, 1)};
    cases[nc++] = (pw_dw_case){5, dw(40, 9, 250, 3, 1, 1, 1)};
    cases[nc++] = (pw_dw_case){17, dw(36, 12, 230, 5, 2, 2, 1)};
    cases[nc++] = (pw_dw_case){3, dw(33, 20, 11, 3, 3, 1, 1)};
    cases[nc++] = (pw_dw_case){16, dw(64, 15, 15, 3, 1, 2, 2)};
    cases[nc++] = (pw_dw_case){7, dw(9, 6, 5, 3, 1, 4, 1)};
    cases[nc++] = (pw_dw_case){32, dw(48, 1, 40, 3, 1, 1, 1)};
    cases[nc++] = (pw_dw_case){12, dw(80, 3, 3, 3, 2, 0, 1)};
    {
        conv_case k = dw(24, 14, 23, 3, 1, 0, 1);
        k.PT = 0, k.PL = 1, k.PB = 1, k.PR = 0, k.SW = 2;
        cases[nc++] = (pw_dw_case){10, k};
        k = dw(17, 29, 35, 5, 1, 0, 1);
        k.PT = 2, k.PL = 0, k.PB = 1, k.PR = 2, k.SH = 2;
        cases[nc++] = (pw_dw_case){6, k};
        k = dw(48, 31, 33, 3, 1, 1, 1);
        k.sum = 1;
        cases[nc++] = (pw_dw_case){16, k};
    }
    int runs = 0;
    for (int i = 0; i < ni; ++i)
        for (int c = 0; c < nc; ++c)
            for (int t = 1; t <= 3; ++t) {
                conv_case k = cases[c].d;
                k.act = (engine_act)((c + 1) % ((int)ENGINE_ACT_GELU + 1));
                k.bias = c % 4 != 3;
                run_pw_dw_case(isas[i], cases[c].C, (engine_act)(c % ((int)ENGINE_ACT_GELU + 1)), &k, t,
                               9000u + (uint32_t)c * 7u + (uint32_t)t);
                ++runs;
            }
    printf("pw_dw_blk: %d runs over %d ISAs within atol 1e-5 + rtol 1e-4, bit-exact against the unfused pair where both read rows\n", runs,
           ni);
}

/* ---- applies ---- */

static void test_applies(void **state) {
    (void)state;
    cpu_conv2d d;
    conv_case k = full(16, 16, 8, 8, 3, 1, 1, 1);
    to_desc(&k, 1, &d);
    assert_true(cpu_conv_direct_blk.applies(&d, CPU_ISA_AVX512));
    assert_true(cpu_conv_direct_blk.applies(&d, CPU_ISA_AVX2));
    assert_false(cpu_conv_direct_blk.applies(&d, CPU_ISA_SCALAR));
    assert_false(cpu_conv_direct_blk.applies(&d, CPU_ISA_NEON));
    assert_false(cpu_conv_dw_blk.applies(&d, CPU_ISA_AVX512)); /* not depthwise */
    k.group = 2;                                                /* grouped */
    to_desc(&k, 1, &d);
    assert_false(cpu_conv_direct_blk.applies(&d, CPU_ISA_AVX512));
    assert_false(cpu_conv_dw_blk.applies(&d, CPU_ISA_AVX512));
    k = dw(16, 8, 8, 3, 1, 1, 1);
    to_desc(&k, 1, &d);
    assert_true(cpu_conv_dw_blk.applies(&d, CPU_ISA_AVX512));
    assert_true(cpu_conv_dw_blk.applies(&d, CPU_ISA_AVX2));
    assert_false(cpu_conv_dw_blk.applies(&d, CPU_ISA_SCALAR));
    assert_false(cpu_conv_dw_blk.applies(&d, CPU_ISA_NEON));
    assert_false(cpu_conv_direct_blk.applies(&d, CPU_ISA_AVX512)); /* group 16 */
    k.M = 32;                                                      /* multiplier 2 */
    to_desc(&k, 1, &d);
    assert_false(cpu_conv_dw_blk.applies(&d, CPU_ISA_AVX512));
    assert_null(cpu_conv_direct_blk.run_scaled);
    assert_null(cpu_conv_dw_blk.run_scaled);
}

/* ---- the module's conversions (ops_blocked.c) ----
 * NCHW -> blocked puts channel c of pixel p at [c / VL][p][c % VL] and
 * zeros in the padding lanes (the layout's contract), even over garbage;
 * blocked -> NCHW gives the image back bit for bit and writes nothing past
 * it; both alike on 1..3 threads and on sizes around the tile (64 px). */
static void test_conversions(void **state) {
    (void)state;
    static const int Cs[] = {1, 3, 8, 16, 17, 24, 33};
    static const size_t HWs[] = {1, 7, 63, 64, 65, 196, 3136};
    int runs = 0;
    for (int vl = 8; vl <= 16; vl += 8)
        for (size_t ci = 0; ci < sizeof Cs / sizeof Cs[0]; ++ci)
            for (size_t hi = 0; hi < sizeof HWs / sizeof HWs[0]; ++hi)
                for (int threads = 1; threads <= 3; ++threads) {
                    const int C = Cs[ci];
                    const size_t HW = HWs[hi], n = (size_t)C * HW, nb = cpu_blk_image_floats(vl, C, HW);
                    rng_state = (uint32_t)(C * 7919 + (int)HW * 31 + vl + threads);
                    float *x = malloc(n * sizeof *x), *xb = malloc(nb * sizeof *xb),
                          *back = malloc((n + 1) * sizeof *back);
                    assert_non_null(x);
                    assert_non_null(xb);
                    assert_non_null(back);
                    for (size_t i = 0; i < n; ++i) x[i] = rnd();
                    for (size_t i = 0; i < nb; ++i) xb[i] = NAN;
                    cpu_blk_from_nchw(vl, C, HW, x, xb, threads);
                    for (int c = 0; c < (C + vl - 1) / vl * vl; ++c)
                        for (size_t p = 0; p < HW; ++p) {
                            const float got = xb[((size_t)(c / vl) * HW + p) * (size_t)vl + (size_t)(c % vl)];
                            if (c < C) assert_true(got == x[(size_t)c * HW + p]);
                            else assert_true(got == 0.0f && !signbit(got));
                        }
                    back[n] = 12345.0f;
                    cpu_blk_to_nchw(vl, C, HW, xb, back, threads);
                    assert_memory_equal(back, x, n * sizeof *x);
                    assert_true(back[n] == 12345.0f);
                    free(x);
                    free(xb);
                    free(back);
                    ++runs;
                }
    printf("conversions: %d shapes x VL x threads round-trip exactly\n", runs);
}

/* cpu_blk_from_nchw_affine: NCHW -> blocked with act(x * w + b) per
 * channel in one pass (the norm that reads DenseNet's NCHW concat), on
 * every blocked ISA: whole and partial blocks, pixel counts around the
 * tiles and transposes, activations whose act(0) is not 0 (the padding
 * lanes must stay 0), 1-3 threads; against the formula in float. */
static void test_affine_from_nchw(void **state) {
    (void)state;
    cpu_isa isas[4];
    const int ni = blk_isa_list(isas);
    static const int Cs[] = {16, 37, 64};
    static const size_t HWs[] = {1, 49, 70, 196};
    static const engine_act acts[] = {ENGINE_ACT_RELU, ENGINE_ACT_NONE, ENGINE_ACT_HARD_SIGMOID};
    int runs = 0;
    for (int i = 0; i < ni; ++i) {
        const cpu_kernels *k = cpu_kernels_for(isas[i]);
        const int vl = cpu_blk_vl(isas[i]);
        for (size_t ci = 0; ci < sizeof Cs / sizeof Cs[0]; ++ci)
            for (size_t hi = 0; hi < sizeof HWs / sizeof HWs[0]; ++hi)
                for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ++ai) {
                    const int C = Cs[ci], CBV = (C + vl - 1) / vl * vl, threads = 1 + (int)((hi + ai) % 3);
                    const size_t HW = HWs[hi], nb = cpu_blk_image_floats(vl, C, HW);
                    rng_state = (uint32_t)(C * 131 + (int)HW * 7 + vl + (int)ai);
                    float *x = malloc((size_t)C * HW * sizeof *x), *y = malloc(nb * sizeof *y);
                    float *w = calloc((size_t)CBV, sizeof *w), *b = calloc((size_t)CBV, sizeof *b);
                    assert_non_null(x);
                    assert_non_null(y);
                    assert_non_null(w);
                    assert_non_null(b);
                    for (size_t j = 0; j < (size_t)C * HW; ++j) x[j] = rnd();
                    for (int c = 0; c < C; ++c) w[c] = rnd(), b[c] = rnd() * 0.5f;
                    for (size_t j = 0; j < nb; ++j) y[j] = NAN;
                    engine_epilogue epi = {acts[ai], 0.0f, 0.0f, 0};
                    if (acts[ai] == ENGINE_ACT_HARD_SIGMOID) epi.alpha = 0.2f, epi.beta = 0.5f;
                    cpu_blk_from_nchw_affine(k, C, HW, x, y, w, b, &epi, threads);
                    for (int c = 0; c < CBV; ++c)
                        for (size_t p = 0; p < HW; ++p) {
                            const float got = y[((size_t)(c / vl) * HW + p) * (size_t)vl + (size_t)(c % vl)];
                            if (c >= C) {
                                assert_true(got == 0.0f);
                                continue;
                            }
                            const double want = engine_act_apply(&epi, (double)x[(size_t)c * HW + p] * w[c] + b[c]);
                            if (!(fabs(got - want) <= 1e-6 + 1e-5 * fabs(want)))
                                fail_msg("%s C=%d HW=%zu act=%d c=%d p=%zu: %g, want %g", k->isa_name, C, HW,
                                         (int)acts[ai], c, p, (double)got, want);
                        }
                    free(x);
                    free(y);
                    free(w);
                    free(b);
                    ++runs;
                }
    }
    printf("affine from NCHW: %d cases on %d ISAs\n", runs, ni);
    if (!ni) skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_applies),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_affine_from_nchw),
        cmocka_unit_test(test_direct_blk),
        cmocka_unit_test(test_direct_blkout),
        cmocka_unit_test(test_direct_blk_batch),
        cmocka_unit_test(test_dw_blk),
        cmocka_unit_test(test_pw_dw_blk),
    };
    return cmocka_run_group_tests(tests, test_pool_setup, test_pool_teardown);
}
