/* ukernel_avx2.c - AVX2 + FMA; compiled with -mavx2 -mfma into its own
 * static library and only called after CPUID said yes (cpu_isa_select).
 *
 * GEMM tile 6x16: 12 ymm accumulators (6 rows x 2 vectors of 8 columns),
 * plus 2 B vectors and a broadcast: 15 of the 16 ymm registers. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "tr8x8_avx2.h"

#define MR 6
#define NR 16

/* exp(x): x = n*ln2 + r, degree-6 Taylor polynomial of exp(r), times 2^n
 * built in the exponent bits; inputs clamped so 2^n stays a normal float. */
static inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504089f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* n in [-126, 128): 2^n = (n + 127) << 23; n = 128 is split in two halves. */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i half = _mm256_srai_epi32(ni, 1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

static inline __m256 sigmoid256(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* GELU, as gelu512 (ukernel_avx512.c): erf by Abramowitz and Stegun
 * 7.1.28 (absolute error <= 3e-7), or the tanh form. */
static inline __m256 gelu256(__m256 x, int tanh_form) {
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    if (tanh_form) {
        __m256 t = _mm256_mul_ps(_mm256_set1_ps(0.7978845608f),
                                 _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), x), _mm256_mul_ps(x, x), x));
        __m256 e2 = exp256(_mm256_add_ps(t, t));
        __m256 th = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e2, one)));
        return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, th));
    }
    __m256 ax = _mm256_max_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), x));
    __m256 z = _mm256_min_ps(_mm256_mul_ps(ax, _mm256_set1_ps(0.70710678f)), _mm256_set1_ps(10.0f));
    __m256 p = _mm256_set1_ps(0.0000430638f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.0002765672f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.0001520143f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.0092705272f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.0422820123f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.0705230784f));
    p = _mm256_fmadd_ps(p, z, one);
    p = _mm256_mul_ps(p, p);
    p = _mm256_mul_ps(p, p);
    p = _mm256_mul_ps(p, p);
    p = _mm256_mul_ps(p, p);
    /* erf takes x's sign: x / |x| is exactly +-1 (0 near 0, where erf is 0) */
    __m256 sgn = _mm256_div_ps(x, _mm256_max_ps(ax, _mm256_set1_ps(1e-30f)));
    __m256 e = _mm256_mul_ps(sgn, _mm256_sub_ps(one, _mm256_div_ps(one, p)));
    return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, e));
}

/* The activations of ops.h, same formulas as engine_act_apply. */
static inline __m256 act256(const engine_epilogue *e, __m256 x) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    switch (e->act) {
    case ENGINE_ACT_NONE: return x;
    case ENGINE_ACT_RELU: return _mm256_max_ps(x, zero);
    case ENGINE_ACT_CLIP:
        return _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(e->alpha)), _mm256_set1_ps(e->beta));
    case ENGINE_ACT_LEAKY_RELU:
        return _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(e->alpha)), _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
    case ENGINE_ACT_SIGMOID: return sigmoid256(x);
    case ENGINE_ACT_HARD_SIGMOID: {
        __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(e->alpha), _mm256_set1_ps(e->beta));
        return _mm256_min_ps(_mm256_max_ps(t, zero), one);
    }
    case ENGINE_ACT_HARD_SWISH: {
        __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.0f / 6.0f), _mm256_set1_ps(0.5f));
        return _mm256_mul_ps(x, _mm256_min_ps(_mm256_max_ps(t, zero), one));
    }
    case ENGINE_ACT_SILU: return _mm256_mul_ps(x, sigmoid256(x));
    case ENGINE_ACT_MISH: {
        __m256 n = exp256(_mm256_min_ps(x, _mm256_set1_ps(20.0f)));
        __m256 q = _mm256_fmadd_ps(n, n, _mm256_add_ps(n, n));
        return _mm256_mul_ps(x, _mm256_div_ps(q, _mm256_add_ps(q, _mm256_set1_ps(2.0f))));
    }
    case ENGINE_ACT_GELU: return gelu256(x, e->alpha != 0.0f);
    case ENGINE_ACT_TANH: {
        __m256 e2 = exp256(_mm256_add_ps(x, x));
        return _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e2, one)));
    }
    }
    return x;
}

static float exp_row_avx2(float *p, size_t n, float shift) {
    const __m256 sh = _mm256_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(p + i), sh));
        _mm256_storeu_ps(p + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8], sum = 0.0f;
    _mm256_storeu_ps(lanes, acc);
    for (int j = 0; j < 8; ++j) sum += lanes[j];
    for (; i < n; ++i) {
        p[i] = expf(p[i] - shift);
        sum += p[i];
    }
    return sum;
}

/* Softmax of one row (as softmax_row_avx512), 8 lanes; the tail in C. */
static void softmax_row_avx2(const float *x, float *y, size_t n) {
    __m256 m = _mm256_set1_ps(-INFINITY), bad = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        m = _mm256_max_ps(m, v);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, m);
    float mx = -INFINITY;
    int nan = _mm256_movemask_ps(bad) != 0;
    for (int j = 0; j < 8; ++j) mx = lanes[j] > mx ? lanes[j] : mx;
    for (size_t t = i; t < n; ++t) {
        nan |= x[t] != x[t];
        mx = x[t] > mx ? x[t] : mx;
    }
    if (nan || mx == INFINITY || mx == -INFINITY) {
        for (i = 0; i < n; ++i) y[i] = NAN;
        return;
    }
    if (y != x) memcpy(y, x, n * sizeof *y);
    const __m256 inv = _mm256_set1_ps(1.0f / exp_row_avx2(y, n, mx));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
    const float s = _mm256_cvtss_f32(inv);
    for (; i < n; ++i) y[i] *= s;
}

static void act_row_avx2(const engine_epilogue *epi, float *p, size_t n) {
    if (epi->act == ENGINE_ACT_NONE) return;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(p + i, act256(epi, _mm256_loadu_ps(p + i)));
    if (i < n) {
        float t[8] __attribute__((aligned(32))) = {0};
        for (size_t j = i; j < n; ++j) t[j - i] = p[j];
        _mm256_store_ps(t, act256(epi, _mm256_load_ps(t)));
        for (size_t j = i; j < n; ++j) p[j] = t[j - i];
    }
}

/* cpu_blocked.h's NCHW <-> NCHW8c conversion of one tile (the AVX2 form of
 * cpu_blk_tile16__avx512): the 8 channels of block cb at pixels [p0, p0 +
 * np), 8 pixels at a time through an in-register transpose, the pixels past
 * the last group of 8 one by one; a full block only (the caller converts a
 * partial last block). Before it, AVX2 converted one float at a time with
 * strided stores: ResNet-50's blocked MaxPool with its output converted to
 * NCHW took 0.71 ms at one thread, 0.55 with this (AMD EPYC). */
void cpu_blk_tile8__avx2(int to_blk, size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np) {
    const size_t base = (size_t)cb * 8u * HW;
    size_t p = p0;
    __m256 r[8];
    for (; p + 8 <= p0 + np; p += 8) {
        if (to_blk) {
            for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(src + base + (size_t)l * HW + p);
            cpu_tr8x8_avx2(r);
            for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + base + (p + (size_t)i) * 8u, r[i]);
        } else {
            for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + base + (p + (size_t)i) * 8u);
            cpu_tr8x8_avx2(r);
            for (int l = 0; l < 8; ++l) _mm256_storeu_ps(dst + base + (size_t)l * HW + p, r[l]);
        }
    }
    for (; p < p0 + np; ++p)
        for (int l = 0; l < 8; ++l) {
            if (to_blk) dst[base + p * 8u + (size_t)l] = src[base + (size_t)l * HW + p];
            else dst[base + (size_t)l * HW + p] = src[base + p * 8u + (size_t)l];
        }
}

/* cpu_blk_tile8 NCHW -> blocked with a per-channel affine and an
 * activation on the way, y = act(x * w + b) (as
 * cpu_blk_tile16_affine__avx512): the last np % 8 pixels through an
 * 8-float row. */
void cpu_blk_tile8_affine__avx2(size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np, const float *w,
                                const float *b, const engine_epilogue *epi) {
    const size_t base = (size_t)cb * 8u * HW;
    const __m256 wv = _mm256_loadu_ps(w), bv = _mm256_loadu_ps(b);
    size_t p = p0;
    __m256 r[8];
    for (; p + 8 <= p0 + np; p += 8) {
        for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(src + base + (size_t)l * HW + p);
        cpu_tr8x8_avx2(r);
        for (int i = 0; i < 8; ++i)
            _mm256_storeu_ps(dst + base + (p + (size_t)i) * 8u, act256(epi, _mm256_fmadd_ps(r[i], wv, bv)));
    }
    for (; p < p0 + np; ++p) {
        float t[8];
        for (int l = 0; l < 8; ++l) t[l] = src[base + (size_t)l * HW + p];
        _mm256_storeu_ps(dst + base + p * 8u, act256(epi, _mm256_fmadd_ps(_mm256_loadu_ps(t), wv, bv)));
    }
}

/* pf (cpu_kernels.gemm_pf): a line every GEMM_PF_EVERY rows of K. lda: 0,
 * a packed A panel (element (i, k) at a[k * MR + i]); else A's rows in
 * place, row i at a + i * lda (rows past mr read as row mr - 1, their sums
 * unused). As gemm_12x32_body (ukernel_avx512.c). */
#define GEMM_PF_EVERY 4

/* A panel's last nr <= 8 columns (a 7x7 map's N = 49 is three panels and
 * one column; 14x14's 196 is twelve and four): one B vector, 6 sums, half
 * the FMAs of the full tile, which computed all 16 columns and kept nr.
 * B is still the packed 16-wide panel (its upper half unread). */
static void gemm_6x8_narrow(int K, const float *a, size_t lda, const float *b, float *c, size_t ldc, int mr, int nr,
                            const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi,
                            const char *pf, int pf_lines) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    const char *pfe = pf ? pf + (size_t)pf_lines * 64u : NULL;
    if (lda) {
        const float *row[MR];
        for (int i = 0; i < MR; ++i) row[i] = a + (size_t)(i < mr ? i : mr - 1) * lda;
        for (int k = 0; k < K; ++k, b += NR) {
            if (pf && (k & (GEMM_PF_EVERY - 1)) == 0 && pf < pfe) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += 64;
            }
            const __m256 b0 = _mm256_load_ps(b);
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(row[0] + k), b0, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(row[1] + k), b0, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(row[2] + k), b0, a2);
            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(row[3] + k), b0, a3);
            a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(row[4] + k), b0, a4);
            a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(row[5] + k), b0, a5);
        }
    } else {
        for (int k = 0; k < K; ++k, a += MR, b += NR) {
            if (pf && (k & (GEMM_PF_EVERY - 1)) == 0 && pf < pfe) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += 64;
            }
            const __m256 b0 = _mm256_load_ps(b);
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 0), b0, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b0, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b0, a2);
            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b0, a3);
            a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 4), b0, a4);
            a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 5), b0, a5);
        }
    }
    float t[MR * 8] __attribute__((aligned(32)));
    _mm256_store_ps(t, a0);
    _mm256_store_ps(t + 8, a1);
    _mm256_store_ps(t + 16, a2);
    _mm256_store_ps(t + 24, a3);
    _mm256_store_ps(t + 32, a4);
    _mm256_store_ps(t + 40, a5);
    cpu_tile_epilogue(&cpu_kernels_avx2, t, 8, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

/* The last panel's nr <= 4 columns against a packed A panel: the vector
 * runs over the panel's 6 rows instead (A's k-th slice is 6 floats in a
 * row; lanes 6 and 7 are the next slice's, unused), one FMA per column
 * and k where the narrow tile spent 6 on 8 columns (a 7x7 map's N = 49
 * ends in a panel of one column). The last slice is read masked, so
 * nothing past the panel is read. */
static void gemm_cols_packed(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                             const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
    const __m256i six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
    for (int k = 0; k < K; ++k, a += MR, b += NR) {
        const __m256 ak = k + 1 < K ? _mm256_loadu_ps(a) : _mm256_maskload_ps(a, six);
        c0 = _mm256_fmadd_ps(ak, _mm256_broadcast_ss(b), c0);
        if (nr > 1) c1 = _mm256_fmadd_ps(ak, _mm256_broadcast_ss(b + 1), c1);
        if (nr > 2) c2 = _mm256_fmadd_ps(ak, _mm256_broadcast_ss(b + 2), c2);
        if (nr > 3) c3 = _mm256_fmadd_ps(ak, _mm256_broadcast_ss(b + 3), c3);
    }
    float col[4][8] __attribute__((aligned(32)));
    _mm256_store_ps(col[0], c0);
    _mm256_store_ps(col[1], c1);
    _mm256_store_ps(col[2], c2);
    _mm256_store_ps(col[3], c3);
    float t[MR * 4];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < 4; ++j) t[i * 4 + j] = col[j][i];
    cpu_tile_epilogue(&cpu_kernels_avx2, t, 4, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

/* The R x 16 tile's store: + bias, + sum, the activation; a whole tile
 * straight to C, a partial one through the stack. */
static inline __attribute__((always_inline)) void tile_store_r16(const int R, __m256 acc[MR][2], float *c, size_t ldc,
        int mr, int nr, const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    if (mr == R && nr == NR) {
#pragma GCC unroll 6
        for (int i = 0; i < R; ++i) {
            __m256 bi = _mm256_set1_ps(bias[i]);
            __m256 v0 = _mm256_add_ps(acc[i][0], bi), v1 = _mm256_add_ps(acc[i][1], bi);
            if (sum) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(sum + i * ldsum));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(sum + i * ldsum + 8));
            }
            _mm256_storeu_ps(c + i * ldc, act256(epi, v0));
            _mm256_storeu_ps(c + i * ldc + 8, act256(epi, v1));
        }
        return;
    }
    float t[MR * NR] __attribute__((aligned(32)));
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
        _mm256_store_ps(t + i * NR, acc[i][0]);
        _mm256_store_ps(t + i * NR + 8, acc[i][1]);
    }
    cpu_tile_epilogue(&cpu_kernels_avx2, t, NR, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

/* R (2, 4 or 6, a constant in each instance) rows of the tile are
 * computed: rows past mr are padding (zeros in a packed panel), and a last
 * panel of 2 or 4 rows (M = 16, 32, 64, 128 ...: 16 is two panels of 6
 * and one of 4) no longer pays for all 6. */
static inline __attribute__((always_inline)) void gemm_r16_body(const int R, int K, const float *a, size_t lda,
        const float *b, float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum, size_t ldsum,
        const engine_epilogue *epi, const char *pf, int pf_lines) {
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    if (lda) {
        /* rows 3g + j at p[g] + j lda; rows past mr clamped to the last */
        const float *row[MR];
        for (int i = 0; i < MR; ++i) row[i] = a + (size_t)(i < mr ? i : mr - 1) * lda;
        const float *p0 = row[0], *p1 = row[3];
        const size_t l1 = (size_t)(row[1] - row[0]), l2 = (size_t)(row[2] - row[0]);
        const size_t l4 = (size_t)(row[4] - row[3]), l5 = (size_t)(row[5] - row[3]);
        const char *pfe = pf ? pf + (size_t)pf_lines * 64u : NULL;
        for (int k = 0; k < K; ++k, ++p0, ++p1, b += NR) {
            if (pf && (k & (GEMM_PF_EVERY - 1)) == 0 && pf < pfe) {
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += 64;
            }
            const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
            /* one broadcast live at a time: 12 sums + 2 B + 1 of 16 registers */
#define ROW_FMA(i, ptr)                                                                                            \
    do {                                                                                                           \
        const __m256 ai = _mm256_broadcast_ss(ptr);                                                                \
        acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);                                                            \
        acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);                                                            \
    } while (0)
            ROW_FMA(0, p0);
            ROW_FMA(1, p0 + l1);
            if (R > 2) {
                ROW_FMA(2, p0 + l2);
                ROW_FMA(3, p1);
            }
            if (R > 4) {
                ROW_FMA(4, p1 + l4);
                ROW_FMA(5, p1 + l5);
            }
#undef ROW_FMA
        }
    } else {
        for (int k = 0; k < K; ++k, a += MR, b += NR) {
            if (pf && k % GEMM_PF_EVERY == 0 && k / GEMM_PF_EVERY < pf_lines)
                _mm_prefetch(pf + (size_t)(k / GEMM_PF_EVERY) * 64u, _MM_HINT_T1);
            __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
            for (int i = 0; i < R; ++i) {
                __m256 ai = _mm256_broadcast_ss(a + i);
                acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    }
    tile_store_r16(R, acc, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

/* A tile of mr rows and nr columns: the narrow form for nr <= 8, else
 * the rows rounded up to 2, 4 or 6. */
static inline __attribute__((always_inline)) void gemm_6x16_body(int K, const float *a, size_t lda, const float *b,
        float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum, size_t ldsum,
        const engine_epilogue *epi, const char *pf, int pf_lines) {
    if (nr <= 4 && !lda && !pf) gemm_cols_packed(K, a, b, c, ldc, mr, nr, bias, sum, ldsum, epi);
    else if (nr <= 8) gemm_6x8_narrow(K, a, lda, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
    else if (mr <= 2) gemm_r16_body(2, K, a, lda, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
    else if (mr <= 4) gemm_r16_body(4, K, a, lda, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
    else gemm_r16_body(MR, K, a, lda, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
}

static void gemm_6x16_avx2(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                           const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    gemm_6x16_body(K, a, 0, b, c, ldc, mr, nr, bias, sum, ldsum, epi, NULL, 0);
}

static void gemm_6x16_pf_avx2(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                              const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi,
                              const char *pf, int pf_lines) {
    gemm_6x16_body(K, a, 0, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
}

static void gemm_6x16_rows_avx2(int K, const float *a, size_t lda, const float *b, float *c, size_t ldc, int mr,
                                int nr, const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi,
                                const char *pf, int pf_lines) {
    gemm_6x16_body(K, a, lda, b, c, ldc, mr, nr, bias, sum, ldsum, epi, pf, pf_lines);
}

/* gemm_bs (cpu_kernels.gemm_bs): B's rows read in place, ldb floats apart
 * (a 1x1 conv's input planes), nr of each (masked loads past nr, so the
 * last panel of a plane reads nothing beyond it); R rows as
 * gemm_r16_body. Each row's floats two panels on are prefetched: the
 * thread's next panels, on more planes than the hardware prefetcher
 * follows. */
static inline __attribute__((always_inline)) void gemm_bs_body(const int R, int K, const float *a, const float *b,
        size_t ldb, float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum, size_t ldsum,
        const engine_epilogue *epi) {
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    if (nr == NR) {
        for (int k = 0; k < K; ++k, a += MR, b += ldb) {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            _mm_prefetch((const char *)(b + 2 * NR), _MM_HINT_T0);
#pragma GCC unroll 6
            for (int i = 0; i < R; ++i) {
                const __m256 ai = _mm256_broadcast_ss(a + i);
                acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    } else {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
        const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
        for (int k = 0; k < K; ++k, a += MR, b += ldb) {
            const __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 6
            for (int i = 0; i < R; ++i) {
                const __m256 ai = _mm256_broadcast_ss(a + i);
                acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    }
    tile_store_r16(R, acc, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

static void gemm_bs_avx2(int K, const float *a, const float *b, size_t ldb, float *c, size_t ldc, int mr, int nr,
                         const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    if (mr <= 2) gemm_bs_body(2, K, a, b, ldb, c, ldc, mr, nr, bias, sum, ldsum, epi);
    else if (mr <= 4) gemm_bs_body(4, K, a, b, ldb, c, ldc, mr, nr, bias, sum, ldsum, epi);
    else gemm_bs_body(MR, K, a, b, ldb, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

/* Four dot products against one x (as dot4_avx512), 8 lanes, two vectors
 * of each row per step; the last K % 8 in C. */
static float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static void dot4_avx2(const float *w, size_t ldw, const float *x, int K, int nm, float *acc) {
    const float *r[4] = {w, nm > 1 ? w + ldw : w, nm > 2 ? w + 2 * ldw : w, nm > 3 ? w + 3 * ldw : w};
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int k = 0;
    for (; k + 16 <= K; k += 16) {
        const __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r[0] + k), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r[1] + k), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r[2] + k), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r[3] + k), x0, a3);
        b0 = _mm256_fmadd_ps(_mm256_loadu_ps(r[0] + k + 8), x1, b0);
        b1 = _mm256_fmadd_ps(_mm256_loadu_ps(r[1] + k + 8), x1, b1);
        b2 = _mm256_fmadd_ps(_mm256_loadu_ps(r[2] + k + 8), x1, b2);
        b3 = _mm256_fmadd_ps(_mm256_loadu_ps(r[3] + k + 8), x1, b3);
    }
    for (; k + 8 <= K; k += 8) {
        const __m256 x0 = _mm256_loadu_ps(x + k);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r[0] + k), x0, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r[1] + k), x0, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r[2] + k), x0, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r[3] + k), x0, a3);
    }
    float s[4] = {hsum256(_mm256_add_ps(a0, b0)), hsum256(_mm256_add_ps(a1, b1)), hsum256(_mm256_add_ps(a2, b2)),
                  hsum256(_mm256_add_ps(a3, b3))};
    for (; k < K; ++k)
        for (int j = 0; j < 4; ++j) s[j] += r[j][k] * x[k];
    for (int j = 0; j < nm; ++j) acc[j] = s[j];
}

/* Lanes of an 8-float load of which at most `left` floats may be read, as
 * a maskload / maskstore mask. */
static inline __m256i lanes_upto_avx2(ptrdiff_t left) {
    const int n = left >= 8 ? 8 : left <= 0 ? 0 : (int)left;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The max pools' row and window kernels (cpu_kernels.max_rows / max_win,
 * as ukernel_avx512.c's); AVX2 ran the portable loops before (SqueezeNet
 * 1.1's first 3x3 s2 MaxPool 0.59-0.73 ms at one thread, 0.54 with these,
 * AMD EPYC). A NaN in any tap gives NaN: unordered lanes are collected in
 * a mask and set at the store (vmaxps alone returns its second operand). */
static void max_rows_avx2(const float *x, size_t stride, int nrows, int W, float *v) {
    const __m256 qnan = _mm256_set1_ps(__builtin_nanf(""));
    int i = 0;
    for (; i + 8 <= W; i += 8) {
        __m256 acc = _mm256_loadu_ps(x + i);
        __m256 nan = _mm256_cmp_ps(acc, acc, _CMP_UNORD_Q);
        for (int r = 1; r < nrows; ++r) {
            const __m256 t = _mm256_loadu_ps(x + (size_t)r * stride + i);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(t, t, _CMP_UNORD_Q));
            acc = _mm256_max_ps(acc, t);
        }
        _mm256_storeu_ps(v + i, _mm256_blendv_ps(acc, qnan, nan));
    }
    for (; i < W; ++i) { /* the last W % 8: vmaskmovps is slow on Zen 1 (a store ~20 uops) */
        float acc = x[i];
        int nan = acc != acc;
        for (int r = 1; r < nrows; ++r) {
            const float t = x[(size_t)r * stride + i];
            nan |= t != t;
            acc = t > acc ? t : acc;
        }
        v[i] = nan ? __builtin_nanf("") : acc;
    }
}

/* y[t] = max of v[SW t + j], j < KW, for t < n. Stride 2: 16 floats from
 * v + 2t + j hold taps j (even lanes) and j + 1 (odd lanes) of outputs
 * t..t+7; loads that would pass the floats the outputs may read are
 * masked (lanes of outputs past n read zeros and are not stored). */
static void max_win_avx2(const float *v, int n, int KW, int SW, float *y) {
    const __m256 qnan = _mm256_set1_ps(__builtin_nanf("")), ninf = _mm256_set1_ps(-__builtin_inff());
    const ptrdiff_t end = (ptrdiff_t)SW * (n - 1) + KW; /* floats that may be read */
    for (int t = 0; t < n; t += 8) {
        __m256 acc = ninf, nan = _mm256_setzero_ps();
        if (SW == 2) {
            for (int j = 0; j < KW; j += 2) {
                const ptrdiff_t o = 2 * (ptrdiff_t)t + j;
                __m256 a, b;
                if (o + 16 <= end) { /* vmaskmovps is slow (Zen 1): only at the row's end */
                    a = _mm256_loadu_ps(v + o);
                    b = _mm256_loadu_ps(v + o + 8);
                } else {
                    a = _mm256_maskload_ps(v + o, lanes_upto_avx2(end - o));
                    b = _mm256_maskload_ps(v + o + 8, lanes_upto_avx2(end - o - 8));
                }
                /* [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6], odd alike */
                const __m256 e = _mm256_castpd_ps(
                    _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
                nan = _mm256_or_ps(nan, _mm256_cmp_ps(e, e, _CMP_UNORD_Q));
                acc = _mm256_max_ps(acc, e);
                if (j + 1 < KW) {
                    const __m256 od = _mm256_castpd_ps(
                        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
                    nan = _mm256_or_ps(nan, _mm256_cmp_ps(od, od, _CMP_UNORD_Q));
                    acc = _mm256_max_ps(acc, od);
                }
            }
        } else {
            for (int j = 0; j < KW; ++j) {
                const ptrdiff_t o = (ptrdiff_t)t + j;
                const __m256 a = o + 8 <= end ? _mm256_loadu_ps(v + o) : _mm256_maskload_ps(v + o, lanes_upto_avx2(end - o));
                nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
                acc = _mm256_max_ps(acc, a);
            }
        }
        acc = _mm256_blendv_ps(acc, qnan, nan);
        if (t + 8 <= n) _mm256_storeu_ps(y + t, acc);
        else {
            float tail[8];
            _mm256_storeu_ps(tail, acc);
            for (int j = 0; j < n - t; ++j) y[t + j] = tail[j];
        }
    }
}

/* cpu_kernels.max_win_blk8: one vector per pixel, so every tap is a plain
 * load (ResNet's and DenseNet's 3x3 s2 pool over 64 x 112 x 112 blocked
 * called max_rows once per output pixel before). */
static void max_win_blk8_avx2(const float *v, int n, int KW, int SW, float *y) {
    const __m256 qnan = _mm256_set1_ps(__builtin_nanf(""));
    for (int t = 0; t < n; ++t) {
        const float *p = v + (size_t)SW * (size_t)t * 8u;
        __m256 acc = _mm256_loadu_ps(p);
        __m256 nan = _mm256_cmp_ps(acc, acc, _CMP_UNORD_Q);
        for (int j = 1; j < KW; ++j) {
            const __m256 a = _mm256_loadu_ps(p + (size_t)j * 8u);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
            acc = _mm256_max_ps(acc, a);
        }
        _mm256_storeu_ps(y + (size_t)t * 8u, _mm256_blendv_ps(acc, qnan, nan));
    }
}

const cpu_kernels cpu_kernels_avx2 = {
    .isa = CPU_ISA_AVX2,
    .isa_name = "avx2",
    .mr = MR,
    .nr = NR,
    .gemm_name = "f32_gemm_6x16__avx2",
    .gemm = gemm_6x16_avx2,
    .gemm_pf = gemm_6x16_pf_avx2,
    .gemm_rows = gemm_6x16_rows_avx2,
    .act_row = act_row_avx2,
    .max_rows = max_rows_avx2,
    .max_win = max_win_avx2,
    .exp_row = exp_row_avx2,
    .softmax_row = softmax_row_avx2,
    .dot4 = dot4_avx2,
    .gemm_bs = gemm_bs_avx2,
    .max_win_blk8 = max_win_blk8_avx2,
};
