/* ukernel_bf16.c - the bf16 kernels of the cpu backend (x86-64: AVX512_BF16
 * and AMX-BF16), compiled with their own -m flags (meson.build) and reached
 * only through the function pointers the module sets when a session asks
 * for --precision bf16 on a CPU that has them (gemm_bf16.c is the driver).
 *
 * Formats (bf16 as uint16_t, round to nearest even):
 *   A tile: 16 rows x 32 k, row-major, 64 bytes a row (1 KiB);
 *   B tile: 16 k-pairs x 16 columns x 2, 64 bytes a row (the pair layout
 *           AMX's TDPBF16PS and AVX512_BF16's VDPBF16PS both read);
 *   a k-block of a B panel: two B tiles, columns 0-15 then 16-31 (2 KiB);
 *   C: 32 x 32 floats, 32 a row.
 * Both block kernels compute the same C = A0|A1 (32 rows) x B panel (32
 * columns) over nkb k-blocks of 32, accumulating in float32. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "cpu_internal.h"

/* AVX512_BF16: 8 rows x 32 columns at a time (16 accumulators, two B
 * vectors a k-pair and one broadcast of A's pair per row): 16 dot products
 * per 10 loads. a: the first of the 8 rows in an A tile (rows 32 apart). */
static void block8x32(int nkb, const uint16_t *a, const uint16_t *b, float *c) {
    __m512 acc0[8], acc1[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
    for (int kb = 0; kb < nkb; ++kb, a += 512, b += 1024)
        for (int p = 0; p < 16; ++p) {
            const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(b + (size_t)p * 32));
            const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(b + 512 + (size_t)p * 32));
#pragma GCC unroll 8
            for (int r = 0; r < 8; ++r) {
                int32_t pair;
                memcpy(&pair, a + (size_t)r * 32 + 2 * p, sizeof pair);
                const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
                acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
                acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
            }
        }
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r) {
        _mm512_storeu_ps(c + (size_t)r * 32, acc0[r]);
        _mm512_storeu_ps(c + (size_t)r * 32 + 16, acc1[r]);
    }
}

void cpu_bf16_block_avx512(int nkb, const uint16_t *a0, const uint16_t *a1, const uint16_t *b, float *c) {
    block8x32(nkb, a0, b, c);
    block8x32(nkb, a0 + 8 * 32, b, c + 8 * 32);
    block8x32(nkb, a1, b, c + 16 * 32);
    block8x32(nkb, a1 + 8 * 32, b, c + 24 * 32);
}

/* AMX: C in tiles 0-3 (2 x 2), A in 4-5, B in 6-7. */
typedef struct amx_cfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

void cpu_bf16_amx_begin(void) {
    amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    /* the whole struct as the operand: GCC 12's _tile_loadconfig names
     * one byte of it, so the stores of the rest were dropped as dead */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

void cpu_bf16_amx_end(void) {
    _tile_release();
}

void cpu_bf16_block_amx(int nkb, const uint16_t *a0, const uint16_t *a1, const uint16_t *b, float *c) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int kb = 0; kb < nkb; ++kb, a0 += 512, a1 += 512, b += 1024) {
        _tile_loadd(4, a0, 64);
        _tile_loadd(6, b, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_loadd(7, b + 512, 64);
        _tile_dpbf16ps(1, 4, 7);
        _tile_loadd(5, a1, 64);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c, 128);
    _tile_stored(1, c + 16, 128);
    _tile_stored(2, c + 16 * 32, 128);
    _tile_stored(3, c + 16 * 32 + 16, 128);
}

/* kc rows (ld floats apart, each times scale[k] when scale) of nr floats
 * -> one k-block of a B panel; rows kc..31 and columns nr..31 are zero. */
void cpu_bf16_cvt_rows(const float *src, size_t ld, int kc, int nr, const float *scale, uint16_t *dst) {
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                         21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1u);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1u);
    for (int p = 0; p < 16; ++p) {
        const int k = 2 * p;
        for (int h = 0; h < 2; ++h) {
            const __mmask16 m = h ? m1 : m0;
            __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
            if (k < kc) {
                lo = _mm512_maskz_loadu_ps(m, src + (size_t)k * ld + 16 * h);
                if (scale) lo = _mm512_mul_ps(lo, _mm512_set1_ps(scale[k]));
            }
            if (k + 1 < kc) {
                hi = _mm512_maskz_loadu_ps(m, src + (size_t)(k + 1) * ld + 16 * h);
                if (scale) hi = _mm512_mul_ps(hi, _mm512_set1_ps(scale[k + 1]));
            }
            __m512i v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            _mm512_storeu_si512((void *)(dst + (size_t)(h * 16 + p) * 32), _mm512_permutexvar_epi16(idx, v));
        }
    }
}

/* The epilogue from a C block (rows 32 apart) into c: bias, the residual,
 * then the activation (ReLU and Clip here, the others by act_row). */
void cpu_bf16_store(const float *ct, float *c, size_t ldc, int mr, int nr, const float *bias, const float *sum,
                    size_t ldsum, const engine_epilogue *epi, cpu_act_row_fn act_row) {
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1u);
    const __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1u);
    const engine_act act = epi->act;
    const int inl = act == ENGINE_ACT_NONE || act == ENGINE_ACT_RELU || act == ENGINE_ACT_CLIP;
    const __m512 lo = _mm512_set1_ps(act == ENGINE_ACT_CLIP ? epi->alpha : 0.0f);
    const __m512 hi = _mm512_set1_ps(act == ENGINE_ACT_CLIP ? epi->beta : 0.0f);
    for (int i = 0; i < mr; ++i) {
        const __m512 b = _mm512_set1_ps(bias[i]);
        float *ci = c + (size_t)i * ldc;
        for (int h = 0; h < 2; ++h) {
            const __mmask16 m = h ? m1 : m0;
            if (!m) continue;
            __m512 v = _mm512_add_ps(_mm512_loadu_ps(ct + (size_t)i * 32 + 16 * h), b);
            if (sum) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, sum + (size_t)i * ldsum + 16 * h));
            if (act == ENGINE_ACT_RELU) v = _mm512_max_ps(v, lo);
            else if (act == ENGINE_ACT_CLIP) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            _mm512_mask_storeu_ps(ci + 16 * h, m, v);
        }
        if (!inl) act_row(epi, ci, (size_t)nr);
    }
}

/* One 16-row strip of a packed A from rows of K contiguous floats (lda
 * apart): each row's k-block of 32 as two conversions of 16; rows past
 * `rows` and k past K zero. Rounds as cpu_bf16_round does (to nearest
 * even, NaN kept a NaN), except that VCVTNEPS2BF16 flushes float32
 * denormals to zero (as the activations' conversion does too). */
void cpu_bf16_pack_a_rows(int rows, int K, const float *A, size_t lda, uint16_t *dst) {
    const int nkb = (K + 31) / 32;
    for (int r = 0; r < 16; ++r)
        for (int kb = 0; kb < nkb; ++kb) {
            uint16_t *t = dst + (size_t)kb * 512u + (size_t)r * 32u;
            if (r >= rows) {
                _mm512_storeu_si512((void *)t, _mm512_setzero_si512());
                continue;
            }
            const float *a = A + (size_t)r * lda + (size_t)kb * 32u;
            const int left = K - kb * 32;
            const __mmask16 m0 = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
            const __mmask16 m1 = left >= 32 ? (__mmask16)0xffff : left <= 16 ? (__mmask16)0 : (__mmask16)((1u << (left - 16)) - 1u);
            __m256i lo = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m0, a));
            __m256i hi = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m1, a + 16));
            _mm256_storeu_si256((__m256i *)(void *)t, lo);
            _mm256_storeu_si256((__m256i *)(void *)(t + 16), hi);
        }
}

/* ---- the blocked (NCHW16c) conv: rows = output pixels, columns = output
 * channels, k = (tap, 16-channel block, lane) (conv_bf16_blk.c) ---- */

/* One 16-pixel strip of A (pixels n0 .. n0+rows-1 of the output, the rest
 * zero): for each (tap, channel block), the 16 channels of the input
 * pixel under that tap as 16 bf16 (zeros where the tap falls in the pad).
 * The strip is nkb k-blocks of 16 rows x 32. */
void cpu_bf16_pack_a_conv_blk(const cpu_conv2d *d, const float *x, int n0, int rows, uint16_t *dst) {
    const int CB = (d->C + 15) / 16, taps = d->KH * d->KW, U = taps * CB, nkb = (U + 1) / 2;
    const __m256i zero = _mm256_setzero_si256();
    if (U % 2 || rows < 16) memset(dst, 0, (size_t)nkb * 1024u);
    for (int r = 0; r < rows; ++r) {
        const int n = n0 + r, oh = n / d->OW, ow = n % d->OW;
        for (int t = 0; t < taps; ++t) {
            const int kh = t / d->KW, kw = t % d->KW;
            const int ih = oh * d->SH - d->PT + kh * d->DH, iw = ow * d->SW - d->PL + kw * d->DW;
            const int in = ih >= 0 && ih < d->H && iw >= 0 && iw < d->W;
            const float *src = x + ((size_t)ih * (size_t)d->W + (size_t)iw) * 16u;
            for (int cb = 0; cb < CB; ++cb) {
                const int u = t * CB + cb;
                uint16_t *o = dst + (size_t)(u / 2) * 512u + (size_t)r * 32u + (size_t)(u % 2) * 16u;
                __m256i v = zero;
                if (in) v = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + (size_t)cb * (size_t)d->H * (size_t)d->W * 16u));
                _mm256_storeu_si256((__m256i *)(void *)o, v);
            }
        }
    }
}

/* The epilogue of a C block (32 pixels x 32 channels, rows 32 apart) into
 * the blocked output: rows n0 .. n0+rows-1, channel blocks m0/16 and
 * m0/16 + 1 (those below MB); bias per channel (padded with zeros), the
 * blocked residual, the activation, and the lanes of channels >= M zero. */
void cpu_bf16_store_blk(const float *ct, float *y, size_t OHW, int n0, int rows, int m0, int M, const float *bias,
                        const float *sum, const engine_epilogue *epi, cpu_act_row_fn act_row) {
    const engine_act act = epi->act;
    const int inl = act == ENGINE_ACT_NONE || act == ENGINE_ACT_RELU || act == ENGINE_ACT_CLIP;
    const __m512 lo = _mm512_set1_ps(act == ENGINE_ACT_CLIP ? epi->alpha : 0.0f);
    const __m512 hi = _mm512_set1_ps(act == ENGINE_ACT_CLIP ? epi->beta : 0.0f);
    const int MB = (M + 15) / 16;
    for (int h = 0; h < 2; ++h) {
        const int mb = m0 / 16 + h;
        if (mb >= MB) break;
        const int live = M - mb * 16 >= 16 ? 16 : M - mb * 16;
        const __mmask16 keep = live >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << live) - 1u);
        const __m512 b = _mm512_loadu_ps(bias + m0 + 16 * h);
        float *yb = y + ((size_t)mb * OHW + (size_t)n0) * 16u;
        const float *sb = sum ? sum + ((size_t)mb * OHW + (size_t)n0) * 16u : NULL;
        for (int r = 0; r < rows; ++r) {
            __m512 v = _mm512_add_ps(_mm512_loadu_ps(ct + (size_t)r * 32u + 16u * (size_t)h), b);
            if (sb) v = _mm512_add_ps(v, _mm512_loadu_ps(sb + (size_t)r * 16u));
            if (act == ENGINE_ACT_RELU) v = _mm512_max_ps(v, lo);
            else if (act == ENGINE_ACT_CLIP) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
            float *o = yb + (size_t)r * 16u;
            if (inl) {
                _mm512_storeu_ps(o, _mm512_maskz_mov_ps(keep, v));
            } else {
                _mm512_storeu_ps(o, v);
                act_row(epi, o, 16);
                _mm512_storeu_ps(o, _mm512_maskz_loadu_ps(keep, o));
            }
        }
    }
}
