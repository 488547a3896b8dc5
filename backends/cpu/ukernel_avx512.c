/* ukernel_avx512.c - AVX-512 (F + VL/BW/DQ) with FMA; compiled with
 * -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma into its own static
 * library and only called after CPUID said yes (cpu_isa_select).
 *
 * GEMM tile 12x32: 24 zmm accumulators (12 rows x 2 vectors of 16
 * columns), 2 B loads and 12 broadcasts per k feed 24 FMAs; with the two B
 * vectors and the broadcast, 27 of the 32 registers, no spill. The 8x32
 * tile before it (16 accumulators) ran at 75-80% of the FMA probe; 12x32
 * measured (tests/cpu/bench_cpu_gemm, Intel Xeon with two 512-bit FMA
 * pipes, 2026-12-05) 1024^3 175 -> 205 GFLOP/s on one thread, ViT's 197 x
 * 768 x 3072 350-365 -> 356-385 and 784 x 192 x 768 ~360 -> 425 on two;
 * 14x32 was no better than 12x32. */
#include <immintrin.h>
#include <math.h>

#include "cpu_internal.h"

#define MR 12
#define NR 32
/* Software prefetch distance along the A panel, in floats (4 KB ahead).
 * When N is small (7x7 maps) every A panel (the weights) comes from DRAM
 * once per layer at the micro-kernel's pace; the hardware prefetcher alone
 * left a C512 7x7 M512 3x3 conv at 2.4-2.9 ms with caches flushed (2
 * threads, Zen 4), 1.6-2.2 ms with it; the square 1024^3 GEMM 99 -> 110
 * GFLOP/s on one thread. */
#define A_PREFETCH 1024

/* exp(x) for float lanes: x = n*ln2 + r, |r| <= ln2/2, exp(r) by a
 * degree-6 Taylor polynomial (relative error ~2e-7), times 2^n by scalef.
 * Inputs are clamped to the finite range of float. */
static inline __m512 exp512(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504089f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __m512 sigmoid512(__m512 x) {
    __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* GELU. erf(z) for z >= 0 as 1 - (1 + a1 z + ... + a6 z^6)^-16
 * (Abramowitz and Stegun 7.1.28, absolute error <= 3e-7), odd in z; the
 * tanh form (tanh_form) by 1 - 2 / (e^2t + 1). */
static inline __m512 gelu512(__m512 x, int tanh_form) {
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    if (tanh_form) {
        __m512 t = _mm512_mul_ps(_mm512_set1_ps(0.7978845608f),
                                 _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), _mm512_mul_ps(x, x), x));
        __m512 e2 = exp512(_mm512_add_ps(t, t));
        __m512 th = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e2, one)));
        return _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(one, th));
    }
    __m512 z = _mm512_min_ps(_mm512_abs_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.70710678f))), _mm512_set1_ps(10.0f));
    __m512 p = _mm512_set1_ps(0.0000430638f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0002765672f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0001520143f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0092705272f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0422820123f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.0705230784f));
    p = _mm512_fmadd_ps(p, z, one);
    p = _mm512_mul_ps(p, p);
    p = _mm512_mul_ps(p, p);
    p = _mm512_mul_ps(p, p);
    p = _mm512_mul_ps(p, p);
    __m512 erf_abs = _mm512_sub_ps(one, _mm512_div_ps(one, p));
    /* 1 + erf(x/sqrt2): erf takes x's sign */
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 s = _mm512_mask_sub_ps(_mm512_add_ps(one, erf_abs), neg, one, erf_abs);
    return _mm512_mul_ps(_mm512_mul_ps(half, x), s);
}

/* The activations of ops.h, same formulas as engine_act_apply. */
static inline __m512 act512(const engine_epilogue *e, __m512 x) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    switch (e->act) {
    case ENGINE_ACT_NONE: return x;
    case ENGINE_ACT_RELU: return _mm512_max_ps(x, zero);
    case ENGINE_ACT_CLIP:
        return _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(e->alpha)), _mm512_set1_ps(e->beta));
    case ENGINE_ACT_LEAKY_RELU:
        return _mm512_mask_mul_ps(x, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), x, _mm512_set1_ps(e->alpha));
    case ENGINE_ACT_SIGMOID: return sigmoid512(x);
    case ENGINE_ACT_HARD_SIGMOID: {
        __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(e->alpha), _mm512_set1_ps(e->beta));
        return _mm512_min_ps(_mm512_max_ps(t, zero), one);
    }
    case ENGINE_ACT_HARD_SWISH: {
        __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(1.0f / 6.0f), _mm512_set1_ps(0.5f));
        return _mm512_mul_ps(x, _mm512_min_ps(_mm512_max_ps(t, zero), one));
    }
    case ENGINE_ACT_SILU: return _mm512_mul_ps(x, sigmoid512(x));
    case ENGINE_ACT_MISH: {
        /* tanh(log(1 + e^x)) = (e^2x + 2e^x) / (e^2x + 2e^x + 2); past x = 20 it is 1 in float. */
        __m512 n = exp512(_mm512_min_ps(x, _mm512_set1_ps(20.0f)));
        __m512 q = _mm512_fmadd_ps(n, n, _mm512_add_ps(n, n));
        return _mm512_mul_ps(x, _mm512_div_ps(q, _mm512_add_ps(q, _mm512_set1_ps(2.0f))));
    }
    case ENGINE_ACT_GELU: return gelu512(x, e->alpha != 0.0f);
    case ENGINE_ACT_TANH: {
        /* 1 - 2 / (e^2x + 1): absolute error ~1e-7 near 0, exact limits. */
        __m512 e2 = exp512(_mm512_add_ps(x, x));
        return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e2, one)));
    }
    }
    return x;
}

static float exp_row_avx512(float *p, size_t n, float shift) {
    const __m512 sh = _mm512_set1_ps(shift);
    __m512 acc = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(p + i), sh));
        _mm512_storeu_ps(p + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + i), sh));
        _mm512_mask_storeu_ps(p + i, m, e);
        acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(m, e));
    }
    return _mm512_reduce_add_ps(acc);
}

/* Softmax of one row, in three vector passes (max with a NaN check, exp
 * and sum, scale): ViT-B/16's attention rows (197 floats) took 0.9 ns an
 * element with a scalar max and scale around exp_row. */
static void softmax_row_avx512(const float *x, float *y, size_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m = ninf;
    __mmask16 bad = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        m = _mm512_max_ps(m, v);
    }
    const __mmask16 tail = (__mmask16)((1u << (n - i)) - 1u);
    if (i < n) {
        __m512 v = _mm512_mask_loadu_ps(ninf, tail, x + i);
        bad |= _mm512_mask_cmp_ps_mask(tail, v, v, _CMP_UNORD_Q);
        m = _mm512_max_ps(m, v);
    }
    const float mx = _mm512_reduce_max_ps(m);
    if (bad || mx == INFINITY || mx == -INFINITY) {
        for (i = 0; i < n; ++i) y[i] = NAN;
        return;
    }
    const __m512 sh = _mm512_set1_ps(mx);
    __m512 acc = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
        _mm512_storeu_ps(y + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < n) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), sh));
        _mm512_mask_storeu_ps(y + i, tail, e);
        acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(tail, e));
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
    if (i < n) _mm512_mask_storeu_ps(y + i, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, y + i), inv));
}

static void act_row_avx512(const engine_epilogue *epi, float *p, size_t n) {
    if (epi->act == ENGINE_ACT_NONE) return;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(p + i, act512(epi, _mm512_loadu_ps(p + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(p + i, m, act512(epi, _mm512_maskz_loadu_ps(m, p + i)));
    }
}

/* pf: see cpu_kernels.gemm_pf; a line every GEMM_PF_EVERY rows of K (a
 * ViT-B/16 layer's panel of 768 rows is 1536 lines over 17 tiles: 90 a
 * tile, and one every 4 rows covers 192). */
#define GEMM_PF_EVERY 4
/* lda: 0, a packed A panel (element (i, k) at a[k * MR + i]); else rows
 * of A read in place, row i at a + i * lda (rows past mr read as row
 * mr - 1, their sums unused). */
static inline __attribute__((always_inline)) void gemm_12x32_body(int K, const float *a, size_t lda, const float *b,
        float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum, size_t ldsum,
        const engine_epilogue *epi, const char *pf, int pf_lines) {
    __m512 acc[MR][2];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    if (lda && mr == MR) {
        /* rows 3g, 3g + 1, 3g + 2 at p[g], p[g] + lda, p[g] + 2 lda: base +
         * index * scale addressing, nothing spilled */
        const float *p0 = a, *p1 = a + 3 * lda, *p2 = a + 6 * lda, *p3 = a + 9 * lda;
        const char *pfe = pf ? pf + (size_t)pf_lines * 64u : NULL;
#define ROWS_STEP(o)                                                                                               \
    do {                                                                                                           \
        const __m512 b0 = _mm512_load_ps(b + (o) * NR), b1 = _mm512_load_ps(b + (o) * NR + 16);                   \
        const float *const rp[4] = {p0 + (o), p1 + (o), p2 + (o), p3 + (o)};                                       \
        _Pragma("GCC unroll 12") for (int i = 0; i < MR; ++i) {                                                    \
            const __m512 ai = _mm512_set1_ps(rp[i / 3][(size_t)(i % 3) * lda]);                                    \
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);                                                        \
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);                                                        \
        }                                                                                                          \
    } while (0)
        int k = 0;
        for (; k + GEMM_PF_EVERY <= K; k += GEMM_PF_EVERY) {
            if (pf < pfe) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += 64;
            }
            ROWS_STEP(0);
            ROWS_STEP(1);
            ROWS_STEP(2);
            ROWS_STEP(3);
            p0 += GEMM_PF_EVERY, p1 += GEMM_PF_EVERY, p2 += GEMM_PF_EVERY, p3 += GEMM_PF_EVERY;
            b += GEMM_PF_EVERY * NR;
        }
        for (; k < K; ++k) {
            ROWS_STEP(0);
            ++p0, ++p1, ++p2, ++p3;
            b += NR;
        }
#undef ROWS_STEP
    } else if (lda) {
        const float *row[MR];
        for (int i = 0; i < MR; ++i) row[i] = a + (size_t)(i < mr ? i : mr - 1) * lda;
        for (int k = 0; k < K; ++k, b += NR) {
            __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
            for (int i = 0; i < MR; ++i) {
                __m512 ai = _mm512_set1_ps(row[i][k]);
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    } else
    for (int k = 0; k < K; ++k, a += MR, b += NR) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        _mm_prefetch((const char *)(a + A_PREFETCH), _MM_HINT_T0);
        if (pf && k % GEMM_PF_EVERY == 0 && k / GEMM_PF_EVERY < pf_lines)
            _mm_prefetch(pf + (size_t)(k / GEMM_PF_EVERY) * 64u, _MM_HINT_T1);
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    if (mr == MR && nr == NR) {
#pragma GCC unroll 12
        for (int i = 0; i < MR; ++i) {
            __m512 bi = _mm512_set1_ps(bias[i]);
            __m512 v0 = _mm512_add_ps(acc[i][0], bi), v1 = _mm512_add_ps(acc[i][1], bi);
            if (sum) {
                v0 = _mm512_add_ps(v0, _mm512_loadu_ps(sum + i * ldsum));
                v1 = _mm512_add_ps(v1, _mm512_loadu_ps(sum + i * ldsum + 16));
            }
            _mm512_storeu_ps(c + i * ldc, act512(epi, v0));
            _mm512_storeu_ps(c + i * ldc + 16, act512(epi, v1));
        }
        return;
    }
    float t[MR * NR] __attribute__((aligned(64)));
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
        _mm512_store_ps(t + i * NR, acc[i][0]);
        _mm512_store_ps(t + i * NR + 16, acc[i][1]);
    }
    cpu_tile_epilogue(&cpu_kernels_avx512, t, NR, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

static void gemm_12x32_avx512(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                              const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    gemm_12x32_body(K, a, 0, b, c, ldc, mr, nr, bias, sum, ldsum, epi, NULL, 0);
}

static void gemm_12x32_pf_avx512(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                                 const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi,
                                 const char *pf, int pf_lines) {
    gemm_12x32_body(K, a, 0, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
}

static void gemm_12x32_rows_avx512(int K, const float *a, size_t lda, const float *b, float *c, size_t ldc, int mr,
                                   int nr, const float *bias, const float *sum, size_t ldsum,
                                   const engine_epilogue *epi, const char *pf, int pf_lines) {
    gemm_12x32_body(K, a, lda, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
}

/* 16 x 16 floats transposed in registers: r[i][j] becomes r[j][i]. */
static inline void tr16x16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 4; ++i) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xdd);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xdd);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
        r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xdd);
    }
}

/* cpu_blocked.h's NCHW <-> NCHW16c conversion of one tile: the 16 channels
 * of block cb at pixels [p0, p0 + np), 16 pixels at a time through an
 * in-register transpose; the pixels past the last group of 16 one by one.
 * Only a full block of 16 channels (the caller converts a partial last
 * block itself). The scalar loop before it (strided stores, one float at
 * a time) moved ~10 GB/s a direction: ConvNeXt-T's depthwise convs spent
 * more time in their two conversions than in the convolution. */
void cpu_blk_tile16__avx512(int to_blk, size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np) {
    const size_t base = (size_t)cb * 16u * HW;
    size_t p = p0;
    __m512 r[16];
    for (; p + 16 <= p0 + np; p += 16) {
        if (to_blk) {
            for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_ps(src + base + (size_t)l * HW + p);
            tr16x16(r);
            for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + base + (p + (size_t)i) * 16u, r[i]);
        } else {
            for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + base + (p + (size_t)i) * 16u);
            tr16x16(r);
            for (int l = 0; l < 16; ++l) _mm512_storeu_ps(dst + base + (size_t)l * HW + p, r[l]);
        }
    }
    for (; p < p0 + np; ++p)
        for (int l = 0; l < 16; ++l) {
            if (to_blk) dst[base + p * 16u + (size_t)l] = src[base + (size_t)l * HW + p];
            else dst[base + (size_t)l * HW + p] = src[base + p * 16u + (size_t)l];
        }
}

/* cpu_blk_tile16 NCHW -> blocked with a per-channel affine and an
 * activation on the way: y = act(x * w + b), w and b the block's 16
 * channels (a BatchNormalization and its ReLU that read a plain NCHW value
 * and write blocked: DenseNet's norm1 after the concat of its NCHW
 * layers). The last np % 16 pixels go through a 16-float row. */
void cpu_blk_tile16_affine__avx512(size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np,
                                   const float *w, const float *b, const engine_epilogue *epi) {
    const size_t base = (size_t)cb * 16u * HW;
    const __m512 wv = _mm512_loadu_ps(w), bv = _mm512_loadu_ps(b);
    size_t p = p0;
    __m512 r[16];
    for (; p + 16 <= p0 + np; p += 16) {
        for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_ps(src + base + (size_t)l * HW + p);
        tr16x16(r);
        for (int i = 0; i < 16; ++i)
            _mm512_storeu_ps(dst + base + (p + (size_t)i) * 16u, act512(epi, _mm512_fmadd_ps(r[i], wv, bv)));
    }
    for (; p < p0 + np; ++p) {
        float t[16];
        for (int l = 0; l < 16; ++l) t[l] = src[base + (size_t)l * HW + p];
        _mm512_storeu_ps(dst + base + p * 16u, act512(epi, _mm512_fmadd_ps(_mm512_loadu_ps(t), wv, bv)));
    }
}

/* Four dot products against one x (a GEMV's weight rows): two vectors of
 * each row per step into eight independent sums, so the loop streams the
 * weights at memory speed; a masked step for the last K % 16. Rows past
 * nm read row 0 (nothing beyond the nm rows is touched) and are dropped.
 * The classifier of MobileNet v2 (1280 -> 1000, one thread): 0.47 ms with
 * the baseline build's SSE loop. */
static void dot4_avx512(const float *w, size_t ldw, const float *x, int K, int nm, float *acc) {
    const float *r0 = w, *r1 = nm > 1 ? w + ldw : w, *r2 = nm > 2 ? w + 2 * ldw : w, *r3 = nm > 3 ? w + 3 * ldw : w;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int k = 0;
    for (; k + 32 <= K; k += 32) {
        const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + k), x0, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + k), x0, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + k), x0, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + k), x0, a3);
        b0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + k + 16), x1, b0);
        b1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + k + 16), x1, b1);
        b2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + k + 16), x1, b2);
        b3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + k + 16), x1, b3);
    }
    for (; k < K; k += 16) {
        const __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1u);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, x + k);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r0 + k), x0, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r1 + k), x0, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r2 + k), x0, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, r3 + k), x0, a3);
    }
    float s[4] = {_mm512_reduce_add_ps(_mm512_add_ps(a0, b0)), _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)),
                  _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)), _mm512_reduce_add_ps(_mm512_add_ps(a3, b3))};
    for (int j = 0; j < nm; ++j) acc[j] = s[j];
}

/* Every second float: two vectors in, their even lanes out; the second
 * load stops at lane 14 so nothing past src[2 (n - 1)] is read. */
static void gather_s2_avx512(const float *src, int n, float *dst) {
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    int t = 0;
    for (; t + 16 <= n; t += 16) {
        __m512 a = _mm512_loadu_ps(src + 2 * t), b = _mm512_maskz_loadu_ps(0x7fff, src + 2 * t + 16);
        _mm512_storeu_ps(dst + t, _mm512_permutex2var_ps(a, even, b));
    }
    for (; t < n; ++t) dst[t] = src[2 * t];
}

/* Lanes of a 16-float load at src + i of which at most `left` floats may
 * be read. */
static inline __mmask16 lanes_upto(ptrdiff_t left) {
    return left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
}

/* A NaN in any row gives NaN: the lanes seen unordered are kept in a mask
 * and set at the store (vmaxps alone returns its second operand). */
static void max_rows_avx512(const float *x, size_t stride, int nrows, int W, float *v) {
    const __m512 qnan = _mm512_set1_ps(__builtin_nanf(""));
    for (int i = 0; i < W; i += 16) {
        const __mmask16 m = lanes_upto(W - i);
        __m512 acc = _mm512_maskz_loadu_ps(m, x + i);
        __mmask16 nan = _mm512_cmp_ps_mask(acc, acc, _CMP_UNORD_Q);
        for (int r = 1; r < nrows; ++r) {
            const __m512 t = _mm512_maskz_loadu_ps(m, x + (size_t)r * stride + i);
            nan |= _mm512_cmp_ps_mask(t, t, _CMP_UNORD_Q);
            acc = _mm512_max_ps(acc, t);
        }
        _mm512_mask_storeu_ps(v + i, m, _mm512_mask_mov_ps(acc, nan, qnan));
    }
}

/* Stride 2: 32 floats from v + 2t + 2j hold taps 2j (even lanes) and
 * 2j + 1 (odd lanes) of outputs t..t+15; loads are masked to the floats
 * the outputs may read, and lanes past n are not stored. */
static void max_win_avx512(const float *v, int n, int KW, int SW, float *y) {
    const __m512 qnan = _mm512_set1_ps(__builtin_nanf(""));
    const ptrdiff_t end = (ptrdiff_t)SW * (n - 1) + KW; /* floats that may be read */
    if (SW == 2) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
        for (int t = 0; t < n; t += 16) {
            __m512 acc = _mm512_set1_ps(-__builtin_inff());
            __mmask16 nan = 0;
            for (int j = 0; j < KW; j += 2) {
                const ptrdiff_t o = 2 * (ptrdiff_t)t + j;
                const __m512 a = _mm512_maskz_loadu_ps(lanes_upto(end - o), v + o);
                const __m512 b = _mm512_maskz_loadu_ps(lanes_upto(end - o - 16), v + o + 16);
                const __m512 e = _mm512_permutex2var_ps(a, even, b);
                nan |= _mm512_cmp_ps_mask(e, e, _CMP_UNORD_Q);
                acc = _mm512_max_ps(acc, e);
                if (j + 1 < KW) {
                    const __m512 o2 = _mm512_permutex2var_ps(a, odd, b);
                    nan |= _mm512_cmp_ps_mask(o2, o2, _CMP_UNORD_Q);
                    acc = _mm512_max_ps(acc, o2);
                }
            }
            _mm512_mask_storeu_ps(y + t, lanes_upto(n - t), _mm512_mask_mov_ps(acc, nan, qnan));
        }
        return;
    }
    for (int t = 0; t < n; t += 16) {
        __m512 acc = _mm512_set1_ps(-__builtin_inff());
        __mmask16 nan = 0;
        for (int j = 0; j < KW; ++j) {
            const __m512 a = _mm512_maskz_loadu_ps(lanes_upto(end - t - j), v + t + j);
            nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
            acc = _mm512_max_ps(acc, a);
        }
        _mm512_mask_storeu_ps(y + t, lanes_upto(n - t), _mm512_mask_mov_ps(acc, nan, qnan));
    }
}

/* gemm_bs: see cpu_kernels.gemm_bs. R (4, 8 or 12, a constant in each
 * instance) rows are computed: the A panel's rows past mr are zeros, and a
 * tile of 4 rows (a 1x1 conv's 16 output channels: 12 + 4) costs a third
 * of a full one instead of all of it. B's rows are a 1x1 conv's input
 * planes, ldb floats apart: a tile reads nr floats of each (masked past
 * nr, so the last panel of a plane reads nothing beyond it) and asks for
 * the same floats BS_PF_AHEAD columns on, where the thread's next panels
 * lie (more planes than the hardware prefetcher follows). */
#define BS_PF_AHEAD (2 * NR)
static inline __attribute__((always_inline)) void gemm_bs_body(const int R, int K, const float *a, const float *b,
        size_t ldb, float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum, size_t ldsum,
        const engine_epilogue *epi) {
    __m512 acc[MR][2];
    for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const __mmask16 m0 = lanes_upto(nr), m1 = lanes_upto(nr - 16);
    if (nr == NR) {
        for (int k = 0; k < K; ++k, a += MR, b += ldb) {
            const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
            _mm_prefetch((const char *)(b + BS_PF_AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(b + BS_PF_AHEAD + 16), _MM_HINT_T0);
            for (int i = 0; i < R; ++i) {
                const __m512 ai = _mm512_set1_ps(a[i]);
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    } else {
        for (int k = 0; k < K; ++k, a += MR, b += ldb) {
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
            for (int i = 0; i < R; ++i) {
                const __m512 ai = _mm512_set1_ps(a[i]);
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    }
    for (int i = 0; i < R && i < mr; ++i) {
        const __m512 bi = _mm512_set1_ps(bias[i]);
        __m512 v0 = _mm512_add_ps(acc[i][0], bi), v1 = _mm512_add_ps(acc[i][1], bi);
        if (sum) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, sum + i * ldsum));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, sum + i * ldsum + 16));
        }
        _mm512_mask_storeu_ps(c + i * ldc, m0, act512(epi, v0));
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, act512(epi, v1));
    }
}

static void gemm_bs_avx512(int K, const float *a, const float *b, size_t ldb, float *c, size_t ldc, int mr, int nr,
                           const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    if (mr <= 4) gemm_bs_body(4, K, a, b, ldb, c, ldc, mr, nr, bias, sum, ldsum, epi);
    else if (mr <= 8) gemm_bs_body(8, K, a, b, ldb, c, ldc, mr, nr, bias, sum, ldsum, epi);
    else gemm_bs_body(MR, K, a, b, ldb, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

const cpu_kernels cpu_kernels_avx512 = {
    .isa = CPU_ISA_AVX512,
    .isa_name = "avx512",
    .mr = MR,
    .nr = NR,
    .gemm_name = "f32_gemm_12x32__avx512",
    .gemm = gemm_12x32_avx512,
    .act_row = act_row_avx512,
    .exp_row = exp_row_avx512,
    .softmax_row = softmax_row_avx512,
    .dot4 = dot4_avx512,
    .gather_s2 = gather_s2_avx512,
    .max_rows = max_rows_avx512,
    .max_win = max_win_avx512,
    .gemm_pf = gemm_12x32_pf_avx512,
    .gemm_rows = gemm_12x32_rows_avx512,
    .gemm_bs = gemm_bs_avx512,
};
