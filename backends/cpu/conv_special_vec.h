/*
 * conv_special_vec.h - a thin vector vocabulary for the depthwise and
 * Winograd kernels (conv_depthwise_tmpl.h, conv_winograd_tmpl.h), so each
 * kernel is written once and compiled per ISA.
 *
 * A translation unit defines exactly one of CSV_AVX512, CSV_AVX2 or
 * CSV_SCALAR before including this header, compiled with the matching
 * flags (-mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma, -mavx2 -mfma,
 * nothing). It then gets:
 *   VW                 floats per vector (16, 8, 1)
 *   vf                 the vector type
 *   V_LOAD/V_STORE     unaligned full-vector load/store
 *   V_LOADN/V_STOREN   the first n lanes (1 <= n <= VW), other lanes 0 on load
 *   V_SET1, V_ZERO, V_ADD, V_SUB, V_MUL, V_DIV, V_MIN, V_MAX
 *   V_FMA(a, b, c)     a * b + c
 *   csv_act(e, v)      the epilogue activation (ops.h formulas) on a vector
 *   csv_deint2(p, &e, &o)  the even and odd floats of p[0 .. 2*VW)
 *   csv_deint2v(a, b, &e, &o)  the same of the 2*VW floats of a then b
 *   csv_store_rows4(...)   4 vectors of VW channels (4 pixels of a row) to
 *                      VW channel planes, with bias, sum and act (below)
 * Everything is static inline: each ISA's copy stays private to its file.
 *
 * Transcendental activations (Sigmoid, SiLU, Tanh, Mish) use csv_exp, a
 * float32 exp with relative error ~2 ulp over the clamped range, which keeps
 * them well within the per-op tolerance (atol 1e-5 + rtol 1e-4) against the
 * double-precision reference formulas.
 */
#ifndef ENGINE_CPU_CONV_SPECIAL_VEC_H
#define ENGINE_CPU_CONV_SPECIAL_VEC_H

#include <math.h>

#include "cpu_conv.h"

#if defined(CSV_AVX512)
#include <immintrin.h>
#define VW 16
typedef __m512 vf;
#define CSV_MASK(n) ((__mmask16)(0xFFFFu >> (16 - (n))))
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_LOADN(p, n) _mm512_maskz_loadu_ps(CSV_MASK(n), (p))
#define V_STOREN(p, v, n) _mm512_mask_storeu_ps((p), CSV_MASK(n), (v))
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_SUB(a, b) _mm512_sub_ps((a), (b))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_DIV(a, b) _mm512_div_ps((a), (b))
#define V_MIN(a, b) _mm512_min_ps((a), (b))
#define V_MAX(a, b) _mm512_max_ps((a), (b))
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
/* 2^n for integral-valued float n in [-126, 127]: build the exponent bits. */
static inline vf csv_pow2n(vf n) {
    __m512i i = _mm512_cvtps_epi32(n);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23));
}
#define V_ROUND(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
static inline void csv_deint2v(vf a, vf b, vf *even, vf *odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *even = _mm512_permutex2var_ps(a, ie, b);
    *odd = _mm512_permutex2var_ps(a, io, b);
}
static inline void csv_deint2(const float *p, vf *even, vf *odd) {
    csv_deint2v(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), even, odd);
}

#elif defined(CSV_AVX2)
#include <immintrin.h>
#define VW 8
typedef __m256 vf;
/* Lane masks for maskload/maskstore: row n has its first n lanes set. */
static const int csv_mask_tab[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
#define CSV_MASK(n) _mm256_loadu_si256((const __m256i *)(csv_mask_tab + 8 - (n)))
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_LOADN(p, n) _mm256_maskload_ps((p), CSV_MASK(n))
/* The first n lanes stored by halves, pairs and one: AMD's Zen cores
 * microcode the masked store (VMASKMOVPS to memory, tens of cycles), and
 * the depthwise kernel's plane fill of stride-2 rows did several per row:
 * on Zen 1 its 14x14 stride-2 layers ran at 1 GFLOP/s. */
static inline void csv_storen_avx2(float *p, __m256 v, int n) {
    if (n >= 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    __m128 h = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, h);
        p += 4, n -= 4;
        h = _mm256_extractf128_ps(v, 1);
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)(void *)p, h);
        p += 2, n -= 2;
        h = _mm_movehl_ps(h, h);
    }
    if (n >= 1) _mm_store_ss(p, h);
}
#define V_STOREN(p, v, n) csv_storen_avx2((p), (v), (n))
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_SUB(a, b) _mm256_sub_ps((a), (b))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_DIV(a, b) _mm256_div_ps((a), (b))
#define V_MIN(a, b) _mm256_min_ps((a), (b))
#define V_MAX(a, b) _mm256_max_ps((a), (b))
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
static inline vf csv_pow2n(vf n) {
    __m256i i = _mm256_cvtps_epi32(n);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23));
}
#define V_ROUND(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
static inline void csv_deint2v(vf a, vf b, vf *even, vf *odd) {
    /* per 128-bit lane [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs reordered */
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}
static inline void csv_deint2(const float *p, vf *even, vf *odd) {
    csv_deint2v(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), even, odd);
}

#elif defined(CSV_SCALAR)
#define VW 1
typedef float vf;
#define V_LOAD(p) (*(p))
#define V_STORE(p, v) (*(p) = (v))
#define V_LOADN(p, n) ((n) > 0 ? *(p) : 0.0f)
#define V_STOREN(p, v, n) ((n) > 0 ? (void)(*(p) = (v)) : (void)0)
#define V_SET1(x) ((float)(x))
#define V_ZERO() 0.0f
#define V_ADD(a, b) ((a) + (b))
#define V_SUB(a, b) ((a) - (b))
#define V_MUL(a, b) ((a) * (b))
#define V_DIV(a, b) ((a) / (b))
#define V_MIN(a, b) ((a) < (b) ? (a) : (b))
#define V_MAX(a, b) ((a) > (b) ? (a) : (b))
#define V_FMA(a, b, c) ((a) * (b) + (c))
static inline void csv_deint2v(vf a, vf b, vf *even, vf *odd) {
    *even = a;
    *odd = b;
}
static inline void csv_deint2(const float *p, vf *even, vf *odd) {
    *even = p[0];
    *odd = p[1];
}
#else
#error "define CSV_AVX512, CSV_AVX2 or CSV_SCALAR before including conv_special_vec.h"
#endif

#if defined(CSV_SCALAR)
/* The portable path takes the reference formula itself. */
static inline vf csv_act(const engine_epilogue *e, vf x) { return cpu_act_scalar(e, x); }
#else
/* exp(x) in float: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 Taylor
 * polynomial (truncation < 2e-8 relative), times 2^n. x is clamped to
 * [-87, 88] so 2^n stays a normal number (e^-87 ~ 1.6e-38: callers only add
 * it to 1 or multiply it by a small value). */
static inline vf csv_exp(vf x) {
    x = V_MIN(V_MAX(x, V_SET1(-87.0f)), V_SET1(88.0f));
    vf n = V_ROUND(V_MUL(x, V_SET1(1.44269504088896341f)));
    /* ln2 split in a part exact in float and the remainder (Cody-Waite). */
    vf r = V_FMA(n, V_SET1(-0.693145751953125f), x);
    r = V_FMA(n, V_SET1(-1.428606765330187045e-6f), r);
    vf p = V_SET1(1.0f / 720.0f);
    p = V_FMA(p, r, V_SET1(1.0f / 120.0f));
    p = V_FMA(p, r, V_SET1(1.0f / 24.0f));
    p = V_FMA(p, r, V_SET1(1.0f / 6.0f));
    p = V_FMA(p, r, V_SET1(0.5f));
    p = V_FMA(p, r, V_SET1(1.0f));
    p = V_FMA(p, r, V_SET1(1.0f));
    return V_MUL(p, csv_pow2n(n));
}

static inline vf csv_act_any(const engine_epilogue *e, vf x) {
    const vf zero = V_ZERO(), one = V_SET1(1.0f);
    switch (e->act) {
    case ENGINE_ACT_NONE: return x;
    case ENGINE_ACT_RELU: return V_MAX(x, zero);
    case ENGINE_ACT_CLIP: return V_MIN(V_MAX(x, V_SET1(e->alpha)), V_SET1(e->beta));
    case ENGINE_ACT_LEAKY_RELU: /* max(x,0) + alpha*min(x,0) equals the select for any alpha */
        return V_FMA(V_SET1(e->alpha), V_MIN(x, zero), V_MAX(x, zero));
    case ENGINE_ACT_SIGMOID: return V_DIV(one, V_ADD(one, csv_exp(V_SUB(zero, x))));
    case ENGINE_ACT_HARD_SIGMOID:
        return V_MIN(V_MAX(V_FMA(V_SET1(e->alpha), x, V_SET1(e->beta)), zero), one);
    case ENGINE_ACT_HARD_SWISH:
        return V_MUL(x, V_MIN(V_MAX(V_FMA(x, V_SET1(1.0f / 6.0f), V_SET1(0.5f)), zero), one));
    case ENGINE_ACT_SILU: return V_DIV(x, V_ADD(one, csv_exp(V_SUB(zero, x))));
    case ENGINE_ACT_MISH: {
        /* tanh(log(1 + n)) = n (n + 2) / (n (n + 2) + 2) with n = e^x; past
         * x = 20 the ratio is 1 in float, so clamping keeps n*n finite. */
        vf nn = csv_exp(V_MIN(x, V_SET1(20.0f)));
        vf q = V_MUL(nn, V_ADD(nn, V_SET1(2.0f)));
        return V_MUL(x, V_DIV(q, V_ADD(q, V_SET1(2.0f))));
    }
    case ENGINE_ACT_GELU: {
        /* the passes do not fuse GELU into convolutions (yet); a model
         * that names it in engine.activation still gets it: erf by
         * Abramowitz and Stegun 7.1.28 (as gelu512), or the tanh form */
        vf half = V_SET1(0.5f), ax = V_MAX(x, V_SUB(zero, x)), th;
        if (e->alpha != 0.0f) {
            vf t = V_MUL(V_SET1(0.7978845608f), V_FMA(V_MUL(V_SET1(0.044715f), x), V_MUL(x, x), x));
            th = V_SUB(one, V_DIV(V_SET1(2.0f), V_ADD(csv_exp(V_ADD(t, t)), one)));
        } else {
            vf z = V_MIN(V_MUL(ax, V_SET1(0.70710678f)), V_SET1(10.0f)), p = V_SET1(0.0000430638f);
            p = V_FMA(p, z, V_SET1(0.0002765672f));
            p = V_FMA(p, z, V_SET1(0.0001520143f));
            p = V_FMA(p, z, V_SET1(0.0092705272f));
            p = V_FMA(p, z, V_SET1(0.0422820123f));
            p = V_FMA(p, z, V_SET1(0.0705230784f));
            p = V_FMA(p, z, one);
            p = V_MUL(p, p);
            p = V_MUL(p, p);
            p = V_MUL(p, p);
            p = V_MUL(p, p);
            th = V_MUL(V_DIV(x, V_MAX(ax, V_SET1(1e-30f))), V_SUB(one, V_DIV(one, p)));
        }
        return V_MUL(V_MUL(half, x), V_ADD(one, th));
    }
    case ENGINE_ACT_TANH: {
        /* 1 - 2 / (e^{2x} + 1): absolute error ~1e-7 near 0, fine for atol 1e-5 */
        vf t = csv_exp(V_ADD(x, x));
        return V_SUB(one, V_DIV(V_SET1(2.0f), V_ADD(t, one)));
    }
    }
    return x;
}

/* The activation in a kernel's store: none, Relu and Clip (the common
 * cases) inline; the rest through csv_act_any, which the compiler keeps
 * out of line (the blocked kernels called it for every stored vector, 2.7%
 * of MobileNet v2 at two threads). */
static inline __attribute__((always_inline)) vf csv_act(const engine_epilogue *e, vf x) {
    switch (e->act) {
    case ENGINE_ACT_NONE: return x;
    case ENGINE_ACT_RELU: return V_MAX(x, V_ZERO());
    case ENGINE_ACT_CLIP: return V_MIN(V_MAX(x, V_SET1(e->alpha)), V_SET1(e->beta));
    default: return csv_act_any(e, x);
    }
}
#endif

/* Four pixels of one output row, px[c] holding VW channels each, to the
 * NCHW output: channel j's 4 pixels go to yb + j*plane (ncols of them, 1 to
 * 4), for the first nm channels. bias is per channel (lanes of px); the
 * residual is read the same way from sb (NULL: none); then the activation.
 * The SIMD forms transpose 4x4 blocks inside each 128-bit lane so every
 * channel's pixels leave as one 128-bit store instead of four scalars. */
#if defined(CSV_AVX512)
static inline void csv_store_rows4(const vf px[4], vf bias, float *yb, const float *sb, size_t plane, int nm,
                                   int ncols, const engine_epilogue *e) {
    __m512 p0 = V_ADD(px[0], bias), p1 = V_ADD(px[1], bias), p2 = V_ADD(px[2], bias), p3 = V_ADD(px[3], bias);
    __m512 t0 = _mm512_unpacklo_ps(p0, p1), t1 = _mm512_unpackhi_ps(p0, p1);
    __m512 t2 = _mm512_unpacklo_ps(p2, p3), t3 = _mm512_unpackhi_ps(p2, p3);
    __m512 u[4]; /* u[i], 128-bit lane k: channel 4k + i, pixels 0..3 */
    u[0] = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    u[1] = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    u[2] = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    u[3] = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __mmask8 cm = (__mmask8)((1u << ncols) - 1u);
    for (int i = 0; i < 4; ++i) {
        if (sb) {
            __m512 s = _mm512_setzero_ps();
#define CSV_SUM_LANE_(k)                                                                        \
    if (4 * (k) + i < nm)                                                                       \
        s = _mm512_insertf32x4(s, _mm_maskz_loadu_ps(cm, sb + (size_t)(4 * (k) + i) * plane), (k));
            CSV_SUM_LANE_(0) CSV_SUM_LANE_(1) CSV_SUM_LANE_(2) CSV_SUM_LANE_(3)
#undef CSV_SUM_LANE_
            u[i] = V_ADD(u[i], s);
        }
        const __m512 v = csv_act(e, u[i]);
#define CSV_STORE_LANE_(k) \
    if (4 * (k) + i < nm) _mm_mask_storeu_ps(yb + (size_t)(4 * (k) + i) * plane, cm, _mm512_extractf32x4_ps(v, (k)));
        CSV_STORE_LANE_(0) CSV_STORE_LANE_(1) CSV_STORE_LANE_(2) CSV_STORE_LANE_(3)
#undef CSV_STORE_LANE_
    }
}
#elif defined(CSV_AVX2)
static inline void csv_store_rows4(const vf px[4], vf bias, float *yb, const float *sb, size_t plane, int nm,
                                   int ncols, const engine_epilogue *e) {
    __m256 p0 = V_ADD(px[0], bias), p1 = V_ADD(px[1], bias), p2 = V_ADD(px[2], bias), p3 = V_ADD(px[3], bias);
    __m256 t0 = _mm256_unpacklo_ps(p0, p1), t1 = _mm256_unpackhi_ps(p0, p1);
    __m256 t2 = _mm256_unpacklo_ps(p2, p3), t3 = _mm256_unpackhi_ps(p2, p3);
    __m256 u[4]; /* u[i], 128-bit lane k: channel 4k + i, pixels 0..3 */
    u[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    u[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    u[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    u[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m128i cm = _mm_loadu_si128((const __m128i *)(csv_mask_tab + 8 - ncols));
    for (int i = 0; i < 4; ++i) {
        if (sb) {
            __m128 s0 = i < nm ? _mm_maskload_ps(sb + (size_t)i * plane, cm) : _mm_setzero_ps();
            __m128 s1 = 4 + i < nm ? _mm_maskload_ps(sb + (size_t)(4 + i) * plane, cm) : _mm_setzero_ps();
            u[i] = V_ADD(u[i], _mm256_insertf128_ps(_mm256_castps128_ps256(s0), s1, 1));
        }
        const __m256 v = csv_act(e, u[i]);
        if (i < nm) _mm_maskstore_ps(yb + (size_t)i * plane, cm, _mm256_castps256_ps128(v));
        if (4 + i < nm) _mm_maskstore_ps(yb + (size_t)(4 + i) * plane, cm, _mm256_extractf128_ps(v, 1));
    }
}
#else
static inline void csv_store_rows4(const vf px[4], vf bias, float *yb, const float *sb, size_t plane, int nm,
                                   int ncols, const engine_epilogue *e) {
    (void)plane;
    if (nm < 1) return;
    for (int c = 0; c < ncols; ++c) {
        float v = px[c] + bias;
        if (sb) v += sb[c];
        yb[c] = csv_act(e, v);
    }
}
#endif

#endif /* ENGINE_CPU_CONV_SPECIAL_VEC_H */
