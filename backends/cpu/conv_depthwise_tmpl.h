/*
 * conv_depthwise_tmpl.h - the depthwise convolution kernel, written once
 * over conv_special_vec.h and compiled per ISA. Include after
 * conv_special_vec.h with DW_SUFFIX defined (avx512, avx2, scalar); it
 * defines cpu_dwconv_run__<suffix> (declared in conv_depthwise.c).
 *
 * Method, per channel (threads take whole channels):
 *  1. Copy the rows the channel needs into a zero-padded plane in the
 *     thread's scratch, splitting each row into SW phases (column q*SW + p
 *     goes to phase p, index q). Output column ow, tap kw then reads phase
 *     (kw*DW) % SW at index ow + (kw*DW) / SW: consecutive outputs read
 *     consecutive floats for any stride, and no load needs a bounds check.
 *  2. For each output row, VW outputs at a time (4 vectors in flight so the
 *     FMA chains overlap), accumulate the KH*KW taps from the plane; 3x3 and
 *     5x5 get fully unrolled loops with the weights in registers.
 *  3. Epilogue in the store: + bias (the accumulator's start), + sum, act,
 *     a partial vector at the row's end.
 */
#ifndef DW_SUFFIX
#error "define DW_SUFFIX"
#endif

#include <string.h>

#include "cpu_pool.h"
#if defined(CSV_AVX2) || defined(CSV_AVX512)
#include "tr8x8_avx2.h"
#endif

#ifndef ENGINE_CPU_DW_GEOM_
#define ENGINE_CPU_DW_GEOM_
/* The padded, phase-split plane of one channel (see step 1). The layout
 * uses 16 (the widest vector) for every ISA so scratch_size need not know
 * the ISA. */
typedef struct dw_geom {
    int rows;         /* input rows the outputs reach, padding included */
    int phase_len;    /* floats per phase: the outputs rounded up to 16, plus the widest tap shift */
    int row_stride;   /* SW * phase_len */
    size_t plane_floats; /* rows * row_stride rounded up to 16 (64-byte slices per thread) */
} dw_geom;

static inline void dw_geom_init(const cpu_conv2d *d, dw_geom *g) {
    g->rows = (d->OH - 1) * d->SH + (d->KH - 1) * d->DH + 1;
    g->phase_len = (d->OW + 15) / 16 * 16 + (d->KW - 1) * d->DW / d->SW + 1;
    g->row_stride = d->SW * g->phase_len;
    g->plane_floats = ((size_t)g->rows * (size_t)g->row_stride + 15) / 16 * 16;
}

static inline int dw_threads(const cpu_conv2d *d) {
    int t = d->threads < 1 ? 1 : d->threads;
    return t < d->C ? t : d->C;
}

/* A per-channel affine: 1x1, stride 1, no pads (dw_affine_plane). */
static inline int dw_is_affine(const cpu_conv2d *d) {
    return d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && d->PT == 0 && d->PL == 0 && d->PB == 0 &&
           d->PR == 0 && d->OH == d->H && d->OW == d->W;
}

/* Bias follows the weights, 64-byte aligned. */
static inline size_t dw_bias_offset(const cpu_conv2d *d) {
    return ((size_t)d->C * (size_t)(d->KH * d->KW) * sizeof(float) + 63) / 64 * 64;
}
#endif

#define DW_CAT2_(a, b) a##__##b
#define DW_CAT_(a, b) DW_CAT2_(a, b)
#define DW_FN(name) DW_CAT_(name, DW_SUFFIX)

/* Step 1: the phase-split zero-padded plane of channel x (dw_geom). */
static void DW_FN(dw_fill_plane)(const cpu_conv2d *d, const dw_geom *g, const float *x, float *plane) {
    for (int r = 0; r < g->rows; ++r) {
        float *row = plane + (size_t)r * g->row_stride;
        const int ih = r - d->PT;
        if (ih < 0 || ih >= d->H) {
            memset(row, 0, sizeof(float) * (size_t)g->row_stride);
            continue;
        }
        const float *xr = x + (size_t)ih * d->W;
        if (d->SW == 1) {
            /* one phase: [PL zeros | the row | zeros] */
            int lead = d->PL < g->phase_len ? d->PL : g->phase_len;
            int n = d->W;
            if (lead + n > g->phase_len) n = g->phase_len - lead;
            memset(row, 0, sizeof(float) * (size_t)lead);
            memcpy(row + lead, xr, sizeof(float) * (size_t)n);
            memset(row + lead + n, 0, sizeof(float) * (size_t)(g->phase_len - lead - n));
            continue;
        }
        if (d->SW == 2) {
            /* index q of phases 0 and 1 reads columns 2q - PL and 2q + 1 - PL:
             * the few q below qs (left padding) one by one, then VW of each
             * phase at a time from 2*VW columns split with vector permutes:
             * whole vectors while the columns lie inside the row, then
             * masked loads (zeros past the row) and masked stores (the
             * phase's end). Before, the right part went one float at a time,
             * and on MobileNet v2's 56x56 stride-2 maps the fill cost as much
             * as the convolution. */
            const int qs = (d->PL + 1) / 2 < g->phase_len ? (d->PL + 1) / 2 : g->phase_len;
            float *ph0 = row, *ph1 = row + g->phase_len;
            for (int p = 0; p < 2; ++p) {
                float *ph = row + (size_t)p * g->phase_len;
                for (int k = 0; k < qs; ++k) {
                    int iw = 2 * k + p - d->PL;
                    ph[k] = iw >= 0 && iw < d->W ? xr[iw] : 0.0f;
                }
            }
            int q = qs;
            for (; q + VW <= g->phase_len && 2 * q - d->PL + 2 * VW <= d->W; q += VW) {
                vf e, o;
                csv_deint2(xr + 2 * q - d->PL, &e, &o);
                V_STORE(ph0 + q, e);
                V_STORE(ph1 + q, o);
            }
            for (; q < g->phase_len; q += VW) {
                const int c = 2 * q - d->PL, nst = g->phase_len - q < VW ? g->phase_len - q : VW;
                const int left = d->W - c; /* columns of the row from c on */
                const int n0 = left <= 0 ? 0 : left < VW ? left : VW;
                const int n1 = left - VW <= 0 ? 0 : left - VW < VW ? left - VW : VW;
                const vf a = n0 > 0 ? V_LOADN(xr + c, n0) : V_ZERO();
                const vf b = n1 > 0 ? V_LOADN(xr + c + VW, n1) : V_ZERO();
                vf e, o;
                csv_deint2v(a, b, &e, &o);
                V_STOREN(ph0 + q, e, nst);
                V_STOREN(ph1 + q, o, nst);
            }
            continue;
        }
        const int q0 = 0; /* phase indices below q0 are done */
        /* phase p, index q reads column q*SW + p - PL: zeros before q_lo and
         * from q_hi on, a plain strided copy between (no per-element test,
         * so the compiler can vectorise the deinterleave) */
        const int SW = d->SW;
        for (int p = 0; p < SW; ++p) {
            float *ph = row + (size_t)p * g->phase_len;
            const int first = d->PL - p; /* q*SW >= first */
            int q_lo = first <= 0 ? 0 : (first + SW - 1) / SW;
            int q_hi = (d->W - 1 + d->PL - p) / SW + 1; /* q*SW + p - PL <= W - 1 */
            if (d->W - 1 + d->PL - p < 0) q_hi = 0;
            if (q_lo > g->phase_len) q_lo = g->phase_len;
            if (q_hi > g->phase_len) q_hi = g->phase_len;
            if (q_lo < q0) q_lo = q0;
            if (q_hi < q_lo) q_hi = q_lo;
            int q = q0;
            for (; q < q_lo; ++q) ph[q] = 0.0f;
            const int off = p - d->PL;
            for (; q < q_hi; ++q) ph[q] = xr[q * SW + off];
            for (; q < g->phase_len; ++q) ph[q] = 0.0f;
        }
    }
}

/* Step 2+3 for one channel, kernel KH x KW (constants at the unrolled call
 * sites). w: the channel's KH*KW weights; y, sum: the channel's planes. */
static inline __attribute__((always_inline)) void DW_FN(dw_channel)(const cpu_conv2d *d, const dw_geom *g,
                                                                   const float *plane, const float *w, float bias,
                                                                   const float *sum, float *y, const int KH,
                                                                   const int KW) {
    const int OW = d->OW, SW = d->SW, DW = d->DW;
    const engine_epilogue *e = &d->epi;
    vf wv[25];
    int tap_off[25]; /* each tap's offset within a plane row */
    const int ntap = KH * KW <= 25 ? KH * KW : 25;
    for (int k = 0; k < ntap; ++k) {
        wv[k] = V_SET1(w[k]);
        int kw = k % KW, kh = k / KW;
        int o = kw * DW;
        tap_off[k] = kh * d->DH * g->row_stride + (o % SW) * g->phase_len + o / SW;
    }
    const vf vb = V_SET1(bias);
    for (int oh = 0; oh < d->OH; ++oh) {
        const float *base = plane + (size_t)oh * d->SH * g->row_stride;
        float *yr = y + (size_t)oh * OW;
        const float *sr = sum ? sum + (size_t)oh * OW : NULL;
        int ow = 0;
        for (; ow + 4 * VW <= OW; ow += 4 * VW) {
            vf a0 = vb, a1 = vb, a2 = vb, a3 = vb;
            const float *s = base + ow;
#pragma GCC unroll 25
            for (int k = 0; k < KH * KW; ++k) {
                const float *t = s + tap_off[k];
                a0 = V_FMA(wv[k], V_LOAD(t), a0);
                a1 = V_FMA(wv[k], V_LOAD(t + VW), a1);
                a2 = V_FMA(wv[k], V_LOAD(t + 2 * VW), a2);
                a3 = V_FMA(wv[k], V_LOAD(t + 3 * VW), a3);
            }
            if (sr) {
                a0 = V_ADD(a0, V_LOAD(sr + ow));
                a1 = V_ADD(a1, V_LOAD(sr + ow + VW));
                a2 = V_ADD(a2, V_LOAD(sr + ow + 2 * VW));
                a3 = V_ADD(a3, V_LOAD(sr + ow + 3 * VW));
            }
            V_STORE(yr + ow, csv_act(e, a0));
            V_STORE(yr + ow + VW, csv_act(e, a1));
            V_STORE(yr + ow + 2 * VW, csv_act(e, a2));
            V_STORE(yr + ow + 3 * VW, csv_act(e, a3));
        }
        for (; ow < OW; ow += VW) {
            const int n = OW - ow < VW ? OW - ow : VW;
            /* two chains over even and odd taps to halve the FMA latency */
            vf a0 = vb, a1 = V_ZERO();
            const float *s = base + ow;
#pragma GCC unroll 25
            for (int k = 0; k < KH * KW; ++k) {
                if (k & 1) a1 = V_FMA(wv[k], V_LOAD(s + tap_off[k]), a1);
                else a0 = V_FMA(wv[k], V_LOAD(s + tap_off[k]), a0);
            }
            a0 = V_ADD(a0, a1);
            if (sr) a0 = V_ADD(a0, V_LOADN(sr + ow, n));
            V_STOREN(yr + ow, csv_act(e, a0), n);
        }
    }
}

/* A 1x1 depthwise conv, stride 1, no pads (dw_is_affine: a
 * BatchNormalization made a conv, DenseNet's pre-activations on its
 * concatenations) is y = act(x * w + b [+ sum]) along the whole plane: no
 * plane copy and no rows. Through the row kernel it ran at 6-7x its
 * estimate (C256 56x56: 1.0 ms, c16 0.61; AMD EPYC, one thread). */
static void DW_FN(dw_affine_plane)(const float *x, size_t n, float w, float bias, const float *sum, float *y,
                                   const engine_epilogue *e) {
    const vf wv = V_SET1(w), vb = V_SET1(bias);
    size_t i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        vf a0 = V_FMA(V_LOAD(x + i), wv, vb), a1 = V_FMA(V_LOAD(x + i + VW), wv, vb);
        if (sum) {
            a0 = V_ADD(a0, V_LOAD(sum + i));
            a1 = V_ADD(a1, V_LOAD(sum + i + VW));
        }
        V_STORE(y + i, csv_act(e, a0));
        V_STORE(y + i + VW, csv_act(e, a1));
    }
    for (; i < n; i += VW) {
        const int m = n - i < (size_t)VW ? (int)(n - i) : VW;
        vf a = V_FMA(V_LOADN(x + i, m), wv, vb);
        if (sum) a = V_ADD(a, V_LOADN(sum + i, m));
        V_STOREN(y + i, csv_act(e, a), m);
    }
}

/* Any kernel size: taps from memory, one vector at a time. */
static void DW_FN(dw_channel_any)(const cpu_conv2d *d, const dw_geom *g, const float *plane, const float *w,
                                  float bias, const float *sum, float *y) {
    const int OW = d->OW, KH = d->KH, KW = d->KW;
    const engine_epilogue *e = &d->epi;
    for (int oh = 0; oh < d->OH; ++oh) {
        float *yr = y + (size_t)oh * OW;
        const float *sr = sum ? sum + (size_t)oh * OW : NULL;
        for (int ow = 0; ow < OW; ow += VW) {
            const int n = OW - ow < VW ? OW - ow : VW;
            vf a = V_SET1(bias);
            for (int kh = 0; kh < KH; ++kh) {
                const float *rp = plane + (size_t)(oh * d->SH + kh * d->DH) * g->row_stride + ow;
                for (int kw = 0; kw < KW; ++kw) {
                    int o = kw * d->DW;
                    a = V_FMA(V_SET1(w[kh * KW + kw]), V_LOAD(rp + (o % d->SW) * g->phase_len + o / d->SW), a);
                }
            }
            if (sr) a = V_ADD(a, V_LOADN(sr + ow, n));
            V_STOREN(yr + ow, csv_act(e, a), n);
        }
    }
}

/* Channels c0 .. c0+nc-1 on the calling thread: channel c0+i read from
 * x + i*x_stride, its output (and sum) at channel c0+i of y (and sum);
 * plane: g.plane_floats of scratch. Also the entry of the fused 1x1 +
 * depthwise kernel (conv_pw_dw.c), which hands over channels of an
 * expanded block still in L2. */
void DW_FN(cpu_dwconv_planes)(const cpu_conv2d *d, const void *packed, int c0, int nc, const float *x,
                              size_t x_stride, const float *sum, float *y, float *plane) {
    dw_geom g;
    dw_geom_init(d, &g);
    const float *wts = packed;
    const float *bias = (const float *)((const char *)packed + dw_bias_offset(d));
    const int K2 = d->KH * d->KW;
    const size_t out_plane = (size_t)d->OH * d->OW;
    const int affine = dw_is_affine(d);
    for (int i = 0; i < nc; ++i) {
        const int c = c0 + i;
        if (affine) {
            DW_FN(dw_affine_plane)(x + (size_t)i * x_stride, out_plane, wts[c], bias[c],
                                   sum ? sum + (size_t)c * out_plane : NULL, y + (size_t)c * out_plane, &d->epi);
            continue;
        }
        DW_FN(dw_fill_plane)(d, &g, x + (size_t)i * x_stride, plane);
        const float *wc = wts + (size_t)c * K2;
        const float *sc = sum ? sum + (size_t)c * out_plane : NULL;
        float *yc = y + (size_t)c * out_plane;
        if (d->KH == 3 && d->KW == 3) DW_FN(dw_channel)(d, &g, plane, wc, bias[c], sc, yc, 3, 3);
        else if (d->KH == 5 && d->KW == 5) DW_FN(dw_channel)(d, &g, plane, wc, bias[c], sc, yc, 5, 5);
        else DW_FN(dw_channel_any)(d, &g, plane, wc, bias[c], sc, yc);
    }
}

/* packed: weights [C][KH*KW], then bias [C] at dw_bias_offset. */
/* The arguments of a run, for the pool's tasks. */
typedef struct DW_FN(dw_par) {
    const cpu_conv2d *d;
    const void *packed;
    const float *x, *sum;
    float *y;
    void *scratch;
    int phase;
} DW_FN(dw_par);

static void DW_FN(dw_row_task)(void *vc, int tid, int64_t c0, int64_t c1) {
    const DW_FN(dw_par) *a = vc;
    const cpu_conv2d *d = a->d;
    dw_geom g;
    dw_geom_init(d, &g);
    const size_t in_plane = (size_t)d->H * d->W;
    float *plane = (float *)a->scratch + (size_t)tid * g.plane_floats;
    for (int c = (int)c0; c < (int)c1; ++c)
        DW_FN(cpu_dwconv_planes)(d, a->packed, c, 1, a->x + (size_t)c * in_plane, in_plane, a->sum, a->y, plane);
}

void DW_FN(cpu_dwconv_run)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                           void *scratch) {
    DW_FN(dw_par) a = {d, packed, x, sum, y, scratch, 0};
    cpu_parallel_for(dw_threads(d), d->C, 4, DW_FN(dw_row_task), &a);
}

/* ---- Channel-vector form (f32_dwconv_c16): small maps ----
 *
 * On 7x7 and 14x14 maps the row kernel above wastes most of each vector (7
 * outputs in a 16-float vector) and pays the plane copy per channel, which
 * is a few hundred cycles against 49 outputs. Here the vector runs over 16
 * channels instead: a block of 16 channels is transposed into a
 * zero-padded tile [rows][cols][16] (the interleaved layout NCHW16c uses),
 * every output pixel is one full vector per 16 channels whatever the map
 * size or stride, and the result tile [OH*OW][16] is transposed back to
 * NCHW. The transposes are O(C*H*W) scalar moves against O(C*OH*OW*KH*KW)
 * FMAs. Weights are packed [C/16][KH*KW][16] (zero lanes past C), bias
 * [C/16][16] after them at dw16_bias_offset. */
#ifndef ENGINE_CPU_DW16_GEOM_
#define ENGINE_CPU_DW16_GEOM_
typedef struct dw16_geom {
    int rows, cols;   /* the padded input tile: input rows / columns the outputs reach */
    size_t in_floats; /* rows * cols * 16 */
    size_t per_thread; /* floats of scratch per thread: input tile + output tile */
} dw16_geom;

static inline void dw16_geom_init(const cpu_conv2d *d, dw16_geom *g) {
    g->rows = (d->OH - 1) * d->SH + (d->KH - 1) * d->DH + 1;
    g->cols = (d->OW - 1) * d->SW + (d->KW - 1) * d->DW + 1;
    g->in_floats = (size_t)g->rows * (size_t)g->cols * 16;
    g->per_thread = g->in_floats + (size_t)d->OH * (size_t)d->OW * 16;
}

static inline int dw16_blocks(const cpu_conv2d *d) {
    return (d->C + 15) / 16;
}

static inline int dw16_threads(const cpu_conv2d *d) {
    int t = d->threads < 1 ? 1 : d->threads;
    return t < dw16_blocks(d) ? t : dw16_blocks(d);
}

static inline size_t dw16_bias_offset(const cpu_conv2d *d) {
    return (size_t)dw16_blocks(d) * (size_t)(d->KH * d->KW) * 16 * sizeof(float);
}
#endif

/* One block: tile (input, transposed) -> out [OH*OW][16], + bias, sum
 * (already transposed into out when present: acc starts from it), act.
 * KH, KW are constants at the unrolled call sites. */
static inline __attribute__((always_inline)) void DW_FN(dw16_block)(const cpu_conv2d *d, const dw16_geom *g,
                                                                   const float *tile, const float *w,
                                                                   const float *bias, int has_sum, float *out,
                                                                   const int KH, const int KW) {
    const int OW = d->OW, SH = d->SH, SW = d->SW, DH = d->DH, DW = d->DW, cols = g->cols;
    const engine_epilogue *e = &d->epi;
    for (int v = 0; v < 16; v += VW) { /* one pass per vector of the 16 lanes */
        const vf vb = V_LOAD(bias + v);
        for (int oh = 0; oh < d->OH; ++oh) {
            const float *trow = tile + (size_t)oh * SH * cols * 16 + v;
            float *orow = out + (size_t)oh * OW * 16 + v;
            int ow = 0;
            for (; ow + 4 <= OW; ow += 4) {
                vf a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                const float *s = trow + (size_t)ow * SW * 16;
#pragma GCC unroll 25
                for (int k = 0; k < KH * KW; ++k) {
                    const int kh = k / KW, kw = k % KW;
                    const float *t = s + ((size_t)kh * DH * cols + (size_t)kw * DW) * 16;
                    const vf wk = V_LOAD(w + (size_t)k * 16 + v);
                    a0 = V_FMA(wk, V_LOAD(t), a0);
                    a1 = V_FMA(wk, V_LOAD(t + SW * 16), a1);
                    a2 = V_FMA(wk, V_LOAD(t + 2 * SW * 16), a2);
                    a3 = V_FMA(wk, V_LOAD(t + 3 * SW * 16), a3);
                }
                float *o = orow + (size_t)ow * 16;
                if (has_sum) {
                    a0 = V_ADD(a0, V_LOAD(o));
                    a1 = V_ADD(a1, V_LOAD(o + 16));
                    a2 = V_ADD(a2, V_LOAD(o + 32));
                    a3 = V_ADD(a3, V_LOAD(o + 48));
                }
                V_STORE(o, csv_act(e, a0));
                V_STORE(o + 16, csv_act(e, a1));
                V_STORE(o + 32, csv_act(e, a2));
                V_STORE(o + 48, csv_act(e, a3));
            }
            for (; ow < OW; ++ow) {
                vf a0 = vb, a1 = V_ZERO(); /* two chains over even and odd taps */
                const float *s = trow + (size_t)ow * SW * 16;
#pragma GCC unroll 25
                for (int k = 0; k < KH * KW; ++k) {
                    const int kh = k / KW, kw = k % KW;
                    const float *t = s + ((size_t)kh * DH * cols + (size_t)kw * DW) * 16;
                    if (k & 1) a1 = V_FMA(V_LOAD(w + (size_t)k * 16 + v), V_LOAD(t), a1);
                    else a0 = V_FMA(V_LOAD(w + (size_t)k * 16 + v), V_LOAD(t), a0);
                }
                a0 = V_ADD(a0, a1);
                float *o = orow + (size_t)ow * 16;
                if (has_sum) a0 = V_ADD(a0, V_LOAD(o));
                V_STORE(o, csv_act(e, a0));
            }
        }
    }
}

static void DW_FN(dw16_block_any)(const cpu_conv2d *d, const dw16_geom *g, const float *tile, const float *w,
                                  const float *bias, int has_sum, float *out) {
    DW_FN(dw16_block)(d, g, tile, w, bias, has_sum, out, d->KH, d->KW);
}

/* The transposes into and out of the tile, 8 channels x 8 pixels at a
 * time in ymm registers (AVX2, also in the AVX-512 build): the scalar moves
 * (one load and one store per float) were half of a 7x7 layer's time. */
#if defined(CSV_AVX2) || defined(CSV_AVX512)
#undef DW16_T8
#define DW16_T8 1

/* 8 planes (plane i at src + i * ss, n pixels, rows of w) -> pixel p's 8
 * channels at dst + (p / w) * drow + (p % w) * 16, the last n % 8 pixels
 * one at a time. */
static void DW_FN(dw16_t8_in)(const float *src, size_t ss, int n, int w, float *dst, size_t drow) {
    int p = 0, row = 0, col = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + (size_t)i * ss + p);
        cpu_tr8x8_avx2(r);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            _mm256_storeu_ps(dst + (size_t)row * drow + (size_t)col * 16, r[j]);
            if (++col == w) col = 0, ++row;
        }
    }
    for (; p < n; ++p) {
        float *o = dst + (size_t)row * drow + (size_t)col * 16;
        for (int i = 0; i < 8; ++i) o[i] = src[(size_t)i * ss + p];
        if (++col == w) col = 0, ++row;
    }
}

/* The inverse for the output: pixel p's 8 channels at src + p * 16 -> plane
 * i at dst + i * ds. */
static void DW_FN(dw16_t8_out)(const float *src, int n, float *dst, size_t ds) {
    int p = 0;
    for (; p + 8 <= n; p += 8) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + (size_t)(p + i) * 16);
        cpu_tr8x8_avx2(r);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (size_t)j * ds + p, r[j]);
    }
    for (; p < n; ++p)
        for (int i = 0; i < 8; ++i) dst[(size_t)i * ds + p] = src[(size_t)p * 16 + i];
}
#else
#undef DW16_T8
#define DW16_T8 0
#endif

static void DW_FN(dw16_task)(void *vc, int tid, int64_t u0, int64_t u1);

/* u0 < 0: the whole run on the pool; else blocks [u0, u1) on thread tid_. */
static void DW_FN(dw16_range)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                              void *scratch, int tid_, int64_t u0, int64_t u1) {
    dw16_geom g;
    dw16_geom_init(d, &g);
    const float *wts = packed;
    const float *bias = (const float *)((const char *)packed + dw16_bias_offset(d));
    const int C = d->C, K2 = d->KH * d->KW, NB = dw16_blocks(d);
    const int H = d->H, W = d->W, OHW = d->OH * d->OW;
    const size_t in_plane = (size_t)H * W;
    /* the input rows / columns inside the tile: tile row r holds input row
     * r - PT, tile column q input column q - PL */
    const int r0 = d->PT, r1 = d->PT + H < g.rows ? d->PT + H : g.rows;
    const int q0 = d->PL, q1 = d->PL + W < g.cols ? d->PL + W : g.cols;
    if (u0 < 0) {
        DW_FN(dw_par) a = {d, packed, x, sum, y, scratch, 0};
        cpu_parallel_for(dw16_threads(d), NB, 1, DW_FN(dw16_task), &a);
        return;
    }
    for (int b = (int)u0; b < (int)u1; ++b) {
        const int tid = tid_;
        float *tile = (float *)scratch + (size_t)tid * g.per_thread;
        float *out = tile + g.in_floats;
        const int c0 = b * 16, nc = C - c0 < 16 ? C - c0 : 16;
        /* zeros for the padding and the lanes past C; then the channels */
        const int whole = r1 - r0 == H && q1 - q0 == W; /* every input pixel is in the tile */
        int lv = 0; /* channels [0, lv) moved 8 at a time */
        (void)whole;
#if DW16_T8
        if (whole && nc == 16) {
            const size_t rowf = (size_t)g.cols * 16;
            memset(tile, 0, (size_t)r0 * rowf * sizeof(float));
            memset(tile + (size_t)r1 * rowf, 0, (size_t)(g.rows - r1) * rowf * sizeof(float));
            for (int r = r0; r < r1; ++r) {
                memset(tile + (size_t)r * rowf, 0, (size_t)q0 * 16 * sizeof(float));
                memset(tile + (size_t)r * rowf + (size_t)q1 * 16, 0, (size_t)(g.cols - q1) * 16 * sizeof(float));
            }
        } else
#endif
            memset(tile, 0, g.in_floats * sizeof(float));
#if DW16_T8
        if (whole) {
            lv = nc / 8 * 8;
            for (int l = 0; l < lv; l += 8)
                DW_FN(dw16_t8_in)(x + (size_t)(c0 + l) * in_plane, in_plane, H * W, W,
                                  tile + ((size_t)r0 * g.cols + (size_t)q0) * 16 + l, (size_t)g.cols * 16);
        }
#endif
        for (int l = lv; l < nc; ++l) {
            const float *xc = x + (size_t)(c0 + l) * in_plane;
            for (int r = r0; r < r1; ++r) {
                const float *xr = xc + (size_t)(r - d->PT) * W - d->PL;
                float *tr = tile + (size_t)r * g.cols * 16 + l;
                for (int q = q0; q < q1; ++q) tr[(size_t)q * 16] = xr[q];
            }
        }
        if (sum) {
            if (nc < 16) memset(out, 0, (size_t)OHW * 16 * sizeof(float));
            int ls = 0;
#if DW16_T8
            ls = nc / 8 * 8;
            for (int l = 0; l < ls; l += 8)
                DW_FN(dw16_t8_in)(sum + (size_t)(c0 + l) * OHW, (size_t)OHW, OHW, OHW, out + l, (size_t)OHW * 16);
#endif
            for (int l = ls; l < nc; ++l) {
                const float *sc = sum + (size_t)(c0 + l) * OHW;
                for (int p = 0; p < OHW; ++p) out[(size_t)p * 16 + l] = sc[p];
            }
        }
        const float *wb = wts + (size_t)b * K2 * 16, *bb = bias + (size_t)b * 16;
        if (d->KH == 3 && d->KW == 3) DW_FN(dw16_block)(d, &g, tile, wb, bb, sum != NULL, out, 3, 3);
        else if (d->KH == 5 && d->KW == 5) DW_FN(dw16_block)(d, &g, tile, wb, bb, sum != NULL, out, 5, 5);
        else DW_FN(dw16_block_any)(d, &g, tile, wb, bb, sum != NULL, out);
        int lo = 0;
#if DW16_T8
        lo = nc / 8 * 8;
        for (int l = 0; l < lo; l += 8) DW_FN(dw16_t8_out)(out + l, OHW, y + (size_t)(c0 + l) * OHW, (size_t)OHW);
#endif
        for (int l = lo; l < nc; ++l) {
            float *yc = y + (size_t)(c0 + l) * OHW;
            for (int p = 0; p < OHW; ++p) yc[p] = out[(size_t)p * 16 + l];
        }
    }
}

static void DW_FN(dw16_task)(void *vc, int tid, int64_t u0, int64_t u1) {
    const DW_FN(dw_par) *a = vc;
    DW_FN(dw16_range)(a->d, a->packed, a->x, a->sum, a->y, a->scratch, tid, u0, u1);
}

void DW_FN(cpu_dwconv16_run)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                             void *scratch) {
    DW_FN(dw16_range)(d, packed, x, sum, y, scratch, 0, -1, -1);
}

/* ---- Small-C direct convolution (f32_conv_direct_m8; cpu_conv_direct in conv_depthwise.c) ----
 *
 * Convs with few input channels (the RGB stems: 3 x 7x7 stride 2, 3 x 3x3
 * stride 2) make a GEMM with K = C*KH*KW = 27..147 whose B panels are
 * gathered from the image (a scalar loop for stride 2) and then serve only
 * M/MR weight panels. Here every input channel gets the row kernel's
 * phase-split, zero-padded plane above (filled once, shared by the
 * threads), and each output row of a block of 8 output channels
 * accumulates the C*KH*KW taps: one vector load of the plane feeds 8 FMAs
 * with broadcast weights, so the 8 accumulators hide the FMA latency and no
 * load needs a bounds check. Grouped convs with narrow groups (RegNet's
 * group width 8, ResNeXt's 4) run the same way, per group: its Cg input
 * planes, its Mg output channels in blocks of 8. Weights are packed
 * [G][Mg/8][Cg][KH][KW][8] (zeros past Mg), the bias [G][Mg/8][8] after
 * them at direct_bias_offset. */
#ifndef ENGINE_CPU_DIRECT_GEOM_
#define ENGINE_CPU_DIRECT_GEOM_
#define DIRECT_MB 8
#define DIRECT_MAX_KW 16
/* blocks of 8 output channels per group, and in all */
static inline int direct_group_blocks(const cpu_conv2d *d) {
    return (d->M / d->group + DIRECT_MB - 1) / DIRECT_MB;
}

static inline int direct_blocks(const cpu_conv2d *d) {
    return d->group * direct_group_blocks(d);
}

/* Where tap kw of an output column's pixel lies in its phase-split plane
 * row, from the column's offset (the direct kernels read row + tap_off[kw]
 * + ow). */
static inline void direct_tap_offsets(const cpu_conv2d *d, const dw_geom *geo, int *tap_off) {
    for (int kw = 0; kw < d->KW && kw < DIRECT_MAX_KW; ++kw) {
        const int o = kw * d->DW;
        tap_off[kw] = (o % d->SW) * geo->phase_len + o / d->SW;
    }
}

static inline size_t direct_bias_offset(const cpu_conv2d *d) {
    return (size_t)direct_blocks(d) * (size_t)(d->C / d->group) * (size_t)(d->KH * d->KW) * DIRECT_MB * sizeof(float);
}
#endif

/* Vectors of output pixels per direct tile: with NV vectors x 8 output
 * channels, a tap costs NV loads of the plane and 8 weight broadcasts for
 * 8 NV FMAs, so NV = 1 waits on the loads (9 per 8 FMAs, half of the
 * plane's loads split across cache lines) and 3 keeps the FMA pipes busy
 * (24 of 32 zmm). AVX2 has 16 ymm: one vector. */
#if VW == 16
#define DIRECT_NV 3
#else
#define DIRECT_NV 1
#endif

/* One tile of an output row: NV vectors of pixels from column ow (the
 * last one n floats: planes are padded, so the loads need no check) x the
 * block's 8 output channels, over the group's Cg planes and the taps. */
static inline __attribute__((always_inline)) void DW_FN(direct_tile)(const cpu_conv2d *d, const dw_geom *geo,
                                                                    const int *tap_off, const float *planes,
                                                                    const float *wb, const float *bb, int c0, int c1,
                                                                    int oh, int ow, int n, const int NV, float *y,
                                                                    const float *sum, int m0, int mn) {
    const int KH = d->KH, KW = d->KW;
    vf acc[DIRECT_NV][DIRECT_MB];
#pragma GCC unroll 8
    for (int i = 0; i < DIRECT_MB; ++i) {
        const vf b = V_SET1(bb[i]);
#pragma GCC unroll 3
        for (int j = 0; j < NV; ++j) acc[j][i] = b;
    }
    const float *wk = wb;
    for (int c = c0; c < c1; ++c) {
        const float *pc = planes + (size_t)c * geo->plane_floats + ow;
        for (int kh = 0; kh < KH; ++kh) {
            const float *row = pc + (size_t)(oh * d->SH + kh * d->DH) * geo->row_stride;
            for (int kw = 0; kw < KW; ++kw, wk += DIRECT_MB) {
                vf xv[DIRECT_NV];
#pragma GCC unroll 3
                for (int j = 0; j < NV; ++j) xv[j] = V_LOAD(row + tap_off[kw] + j * VW);
#pragma GCC unroll 8
                for (int i = 0; i < DIRECT_MB; ++i) {
                    const vf w = V_SET1(wk[i]);
#pragma GCC unroll 3
                    for (int j = 0; j < NV; ++j) acc[j][i] = V_FMA(w, xv[j], acc[j][i]);
                }
            }
        }
    }
    const size_t out_plane = (size_t)d->OH * d->OW;
    for (int i = 0; i < mn; ++i) {
#pragma GCC unroll 3
        for (int j = 0; j < NV; ++j) {
            const int nj = j + 1 < NV ? VW : n;
            const size_t at = (size_t)(m0 + i) * out_plane + (size_t)oh * d->OW + (size_t)(ow + j * VW);
            vf v = acc[j][i];
            if (sum) v = V_ADD(v, V_LOADN(sum + at, nj));
            v = csv_act(&d->epi, v);
            if (nj == VW) V_STORE(y + at, v);
            else V_STOREN(y + at, v, nj);
        }
    }
}

/* scratch: C planes of dw_geom's plane_floats. */
static void DW_FN(direct_task)(void *vc, int tid, int64_t u0, int64_t u1);

/* phase 0: the whole run on the pool; 1: fill the planes of channels
 * [u0, u1); 2: the (block, output row) units [u0, u1). */
static void DW_FN(direct_range)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                                void *scratch, int phase, int64_t u0, int64_t u1) {
    dw_geom geo;
    dw_geom_init(d, &geo);
    const int C = d->C, KH = d->KH, KW = d->KW, OH = d->OH, OW = d->OW, MB = direct_blocks(d);
    const int Cg = C / d->group, Mg = d->M / d->group, MBg = direct_group_blocks(d);
    const float *wts = packed;
    const float *bias = (const float *)((const char *)packed + direct_bias_offset(d));
    float *planes = scratch;
    const size_t in_plane = (size_t)d->H * d->W;
    int tap_off[DIRECT_MAX_KW];
    direct_tap_offsets(d, &geo, tap_off);
    const int nthr = d->threads < 1 ? 1 : d->threads;
    if (phase == 0) {
        DW_FN(dw_par) a = {d, packed, x, sum, y, scratch, 1};
        cpu_parallel_for(nthr, C, 0, DW_FN(direct_task), &a);
        a.phase = 2; /* the pool's join: every plane is filled */
        /* claims of about a quarter of a thread's share: a unit writes one
         * row of 8 planes, and rows of odd widths share their end lines
         * with the next row's, so units of 2 claimed in turn had the
         * threads writing the same lines all along (SqueezeNet's 3 -> 64
         * 3x3 s2 stem, rows of 111: 0.46 ms at one thread, 0.47 at two) */
        const int64_t units = (int64_t)MB * OH, grain = units / (4 * (int64_t)nthr);
        cpu_parallel_for(nthr, units, grain > 2 ? grain : 2, DW_FN(direct_task), &a);
        return;
    }
    if (phase == 1) {
        for (int c = (int)u0; c < (int)u1; ++c)
            DW_FN(dw_fill_plane)(d, &geo, x + (size_t)c * in_plane, planes + (size_t)c * geo.plane_floats);
        return;
    }
    {
        for (int u = (int)u0; u < (int)u1; ++u) {
            const int blk = u / OH, oh = u % OH, g = blk / MBg, mg0 = blk % MBg * DIRECT_MB;
            const int m0 = g * Mg + mg0, mn = Mg - mg0 < DIRECT_MB ? Mg - mg0 : DIRECT_MB;
            const float *wb = wts + (size_t)blk * (size_t)Cg * (size_t)(KH * KW) * DIRECT_MB;
            const float *bb = bias + blk * DIRECT_MB;
            const int c0 = g * Cg, c1 = (g + 1) * Cg;
            /* vectors of the row in tiles of DIRECT_NV, as even as that allows */
            const int nvec = (OW + VW - 1) / VW, nt = (nvec + DIRECT_NV - 1) / DIRECT_NV;
            int v0 = 0;
            for (int t = 0; t < nt; ++t) {
                const int nv = (nvec - v0 + (nt - t) - 1) / (nt - t), ow = v0 * VW;
                const int n = OW - (v0 + nv - 1) * VW < VW ? OW - (v0 + nv - 1) * VW : VW; /* the last vector's */
                if (nv >= 3) DW_FN(direct_tile)(d, &geo, tap_off, planes, wb, bb, c0, c1, oh, ow, n, DIRECT_NV, y, sum, m0, mn);
                else if (nv == 2) DW_FN(direct_tile)(d, &geo, tap_off, planes, wb, bb, c0, c1, oh, ow, n, 2 < DIRECT_NV ? 2 : DIRECT_NV, y, sum, m0, mn);
                else DW_FN(direct_tile)(d, &geo, tap_off, planes, wb, bb, c0, c1, oh, ow, n, 1, y, sum, m0, mn);
                v0 += nv;
            }
        }
    }
}

static void DW_FN(direct_task)(void *vc, int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const DW_FN(dw_par) *a = vc;
    DW_FN(direct_range)(a->d, a->packed, a->x, a->sum, a->y, a->scratch, a->phase, u0, u1);
}

void DW_FN(cpu_conv_direct_run)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                                void *scratch) {
    DW_FN(direct_range)(d, packed, x, sum, y, scratch, 0, -1, -1);
}

#ifndef ENGINE_CPU_DBO_GEOM_
#define ENGINE_CPU_DBO_GEOM_
static inline size_t dbo_bias_offset(const cpu_conv2d *d, int vw) {
    const size_t MB = (size_t)((d->M + vw - 1) / vw);
    return MB * (size_t)d->C * (size_t)(d->KH * d->KW) * (size_t)vw * sizeof(float);
}
#endif

#if VW > 1
/* ---- Few-channel direct convolution writing the blocked layout
 * (f32_conv_direct_blkout; cpu_conv_direct_blkout in conv_depthwise.c) ----
 *
 * The RGB stems of nets whose next layers run blocked (MobileNet's 3 -> 32
 * then a depthwise conv at 112x112): the NCHW direct kernel above would
 * write NCHW and the blocked layer convert it, and the blocked direct
 * kernel pads 3 input channels to a block of VW (5.3x the FMAs). Here the
 * vectors run over output channels instead of pixels: each tap loads the
 * weight vectors of one or two blocks of VW output channels and
 * broadcasts the input value of each of P pixels from the same
 * phase-split planes (row + tap_off[kw] + ow + p), so a tile of P pixels x
 * NB blocks is NB*P accumulators, already one blocked pixel each: the
 * store is whole vectors into [MB][OH][OW][VW]. Weights packed
 * [MB][C][KH][KW][VW] (zeros past M), the bias [MB][VW] after them at
 * dbo_bias_offset. The input is read plain (NCHW); the module's mask says
 * so (CPU_BLK_PLAIN_IN). */

/* Pixels per tile: 2 blocks x 14 + 2 weights + 1 broadcast of 32 zmm;
 * 2 x 6 + 3 of 16 ymm. */
#if VW == 16
#define DBO_PMAX 14
#else
#define DBO_PMAX 6
#endif

static inline __attribute__((always_inline)) void DW_FN(dbo_tile)(const cpu_conv2d *d, const dw_geom *geo,
                                                                 const int *tap_off, const float *planes,
                                                                 const float *w0, size_t w_mb, const float *b0,
                                                                 int oh, int ow, const int P, const int NB, float *y0,
                                                                 size_t y_mb, const float *s0, int nv0, int nv1) {
    const int KH = d->KH, KW = d->KW;
    vf acc0[DBO_PMAX], acc1[DBO_PMAX];
    const vf bias0 = V_LOAD(b0), bias1 = NB > 1 ? V_LOAD(b0 + VW) : V_ZERO();
#pragma GCC unroll 14
    for (int p = 0; p < P; ++p) acc0[p] = bias0, acc1[p] = bias1;
    const float *wk = w0;
    for (int c = 0; c < d->C; ++c) {
        const float *pc = planes + (size_t)c * geo->plane_floats + ow;
        for (int kh = 0; kh < KH; ++kh) {
            const float *row = pc + (size_t)(oh * d->SH + kh * d->DH) * geo->row_stride;
            for (int kw = 0; kw < KW; ++kw, wk += VW) {
                const float *xp = row + tap_off[kw];
                const vf wa = V_LOAD(wk), wb = NB > 1 ? V_LOAD(wk + w_mb) : V_ZERO();
#pragma GCC unroll 14
                for (int p = 0; p < P; ++p) {
                    const vf xv = V_SET1(xp[p]);
                    acc0[p] = V_FMA(wa, xv, acc0[p]);
                    if (NB > 1) acc1[p] = V_FMA(wb, xv, acc1[p]);
                }
            }
        }
    }
    const size_t o = ((size_t)oh * (size_t)d->OW + (size_t)ow) * VW;
#pragma GCC unroll 14
    for (int p = 0; p < P; ++p) {
        for (int b = 0; b < NB; ++b) {
            const size_t at = o + (size_t)p * VW + (size_t)b * y_mb;
            vf v = b ? acc1[p] : acc0[p];
            if (s0) v = V_ADD(v, V_LOAD(s0 + at));
            v = csv_act(&d->epi, v);
            const int nv = b ? nv1 : nv0;
            if (nv >= VW) {
                V_STORE(y0 + at, v);
            } else { /* padding lanes stay zero whatever the activation maps 0 to */
                V_STORE(y0 + at, V_ZERO());
                V_STOREN(y0 + at, v, nv);
            }
        }
    }
}

/* The tiles of one output row of blocks [mb, mb + NB). */
#define DBO_TILE_CASE(PP)                                                                                        \
    case PP:                                                                                                     \
        if (NB > 1)                                                                                              \
            DW_FN(dbo_tile)(d, geo, tap_off, planes, w0, w_mb, b0, oh, ow, PP, 2, y0, y_mb, s0, nv0, nv1);       \
        else                                                                                                     \
            DW_FN(dbo_tile)(d, geo, tap_off, planes, w0, w_mb, b0, oh, ow, PP, 1, y0, y_mb, s0, nv0, nv1);       \
        break;

static void DW_FN(dbo_row)(const cpu_conv2d *d, const dw_geom *geo, const int *tap_off, const float *planes,
                           const float *w0, size_t w_mb, const float *b0, int oh, int NB, float *y0, size_t y_mb,
                           const float *s0, int nv0, int nv1) {
    int ow = 0;
    for (; ow + DBO_PMAX <= d->OW; ow += DBO_PMAX) {
        if (NB > 1) DW_FN(dbo_tile)(d, geo, tap_off, planes, w0, w_mb, b0, oh, ow, DBO_PMAX, 2, y0, y_mb, s0, nv0, nv1);
        else DW_FN(dbo_tile)(d, geo, tap_off, planes, w0, w_mb, b0, oh, ow, DBO_PMAX, 1, y0, y_mb, s0, nv0, nv1);
    }
    switch (d->OW - ow) {
        DBO_TILE_CASE(1)
        DBO_TILE_CASE(2)
        DBO_TILE_CASE(3)
        DBO_TILE_CASE(4)
        DBO_TILE_CASE(5)
#if DBO_PMAX > 6
        DBO_TILE_CASE(6)
        DBO_TILE_CASE(7)
        DBO_TILE_CASE(8)
        DBO_TILE_CASE(9)
        DBO_TILE_CASE(10)
        DBO_TILE_CASE(11)
        DBO_TILE_CASE(12)
        DBO_TILE_CASE(13)
#endif
    default: break;
    }
}
#undef DBO_TILE_CASE

static void DW_FN(dbo_task)(void *vc, int tid, int64_t u0, int64_t u1);

/* phase 0: the whole run on the pool; 1: fill the planes of channels
 * [u0, u1); 2: the (block pair, output row) units [u0, u1). */
static void DW_FN(dbo_range)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                             void *scratch, int phase, int64_t u0, int64_t u1) {
    dw_geom geo;
    dw_geom_init(d, &geo);
    const int OH = d->OH, MB = (d->M + VW - 1) / VW, pairs = (MB + 1) / 2;
    const size_t w_mb = (size_t)d->C * (size_t)(d->KH * d->KW) * VW, y_mb = (size_t)OH * (size_t)d->OW * VW;
    const float *wts = packed, *bias = (const float *)((const char *)packed + dbo_bias_offset(d, VW));
    float *planes = scratch;
    int tap_off[DIRECT_MAX_KW];
    direct_tap_offsets(d, &geo, tap_off);
    const int nthr = d->threads < 1 ? 1 : d->threads;
    if (phase == 0) {
        DW_FN(dw_par) a = {d, packed, x, sum, y, scratch, 1};
        cpu_parallel_for(nthr, d->C, 0, DW_FN(dbo_task), &a);
        a.phase = 2; /* the pool's join: every plane is filled */
        cpu_parallel_for(nthr, (int64_t)pairs * OH, 2, DW_FN(dbo_task), &a);
        return;
    }
    if (phase == 1) {
        const size_t in_plane = (size_t)d->H * d->W;
        for (int c = (int)u0; c < (int)u1; ++c)
            DW_FN(dw_fill_plane)(d, &geo, x + (size_t)c * in_plane, planes + (size_t)c * geo.plane_floats);
        return;
    }
    for (int u = (int)u0; u < (int)u1; ++u) {
        const int pr = u / OH, oh = u % OH, mb = 2 * pr, NB = mb + 1 < MB ? 2 : 1;
        const int nv0 = d->M - mb * VW, nv1 = d->M - (mb + 1) * VW;
        DW_FN(dbo_row)(d, &geo, tap_off, planes, wts + (size_t)mb * w_mb, w_mb, bias + (size_t)mb * VW, oh, NB,
                       y + (size_t)mb * y_mb, y_mb, sum ? sum + (size_t)mb * y_mb : NULL, nv0, nv1);
    }
}

static void DW_FN(dbo_task)(void *vc, int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const DW_FN(dw_par) *a = vc;
    DW_FN(dbo_range)(a->d, a->packed, a->x, a->sum, a->y, a->scratch, a->phase, u0, u1);
}

/* x NCHW [C, H, W]; y and sum blocked [MB][OH][OW][VW]. */
void DW_FN(cpu_conv_direct_blkout_run)(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                       float *y, void *scratch) {
    DW_FN(dbo_range)(d, packed, x, sum, y, scratch, 0, -1, -1);
}
#endif /* VW > 1 */
