/*
 * ops_blocked.c - the non-conv kernels of the blocked layout (cpu_blocked.h)
 * and the conversions between it and NCHW.
 *
 * (Resize in the blocked layout lives beside its NCHW kernel, in
 * ops_lrn_resize.c.) Pools and global pools take one vector of VL channels per output pixel
 * (no per-row bookkeeping on short 7x7 / 14x14 rows), unary activations
 * and Add/Sub/Mul/Div run over the padded storage as flat rows (the
 * ISA's act_row for activations), a per-channel operand ([N or 1, C, 1,
 * 1], read NCHW) broadcast lane-wise. After a kernel whose result need
 * not be 0 where its inputs are 0 (Sigmoid, Div, a scalar Add), the
 * padding lanes are rewritten as zeros (the layout's contract).
 *
 * The loops are portable C over a compile-time VL (16 or 8, one inlined
 * copy each), so the compiler vectorises them over the lanes of a pixel.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"

/* Below this many floats an op runs on the calling thread. */
#define BLK_PAR_MIN 32768

static int64_t numel(const engine_value *v) {
    int64_t n = 1;
    for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
    return n;
}

static int is_f32_rank4(const engine_value *v) {
    return v && v->dtype == ENGINE_DTYPE_F32 && v->rank == 4;
}

static int same_dims(const engine_value *a, const engine_value *b) {
    if (a->rank != b->rank) return 0;
    for (int d = 0; d < a->rank; ++d)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* ---- conversions ---- */

/* Pixels per tile of a conversion: the destination tile (64 x VL floats,
 * 4 KB at VL 16) stays in L1 while VL source rows stream through it. */
#define CVT_TILE 64

/* One image, either way (to_blk: NCHW src into blocked dst, the padding
 * lanes written as zeros; else back). Channel block cb starts at
 * cb * VL * HW floats in both forms; inside it channel l of pixel p is at
 * l * HW + p in NCHW and at p * VL + l blocked. Tiles of (channel block,
 * CVT_TILE pixels) are the units of the threads. */
static inline void convert_vl(const int vl, const int to_blk, int C, size_t HW, const float *src, float *dst,
                              int threads, int64_t u0, int64_t u1);

typedef struct convert_ctx {
    int vl, to_blk, C;
    size_t HW;
    const float *src;
    float *dst;
} convert_ctx;

static void convert_task(void *vc, int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const convert_ctx *c = vc;
    /* one inlined copy per (VL, direction), as before */
    if (c->vl == 16 && c->to_blk) convert_vl(16, 1, c->C, c->HW, c->src, c->dst, 1, u0, u1);
    else if (c->vl == 16) convert_vl(16, 0, c->C, c->HW, c->src, c->dst, 1, u0, u1);
    else if (c->to_blk) convert_vl(8, 1, c->C, c->HW, c->src, c->dst, 1, u0, u1);
    else convert_vl(8, 0, c->C, c->HW, c->src, c->dst, 1, u0, u1);
}

#if defined(__x86_64__)
/* A full block's tile through AVX-512 / AVX2 transposes (ukernel_avx512.c,
 * ukernel_avx2.c). */
void cpu_blk_tile16__avx512(int to_blk, size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np);
void cpu_blk_tile8__avx2(int to_blk, size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np);
#endif

/* u0 < 0: the whole image on up to `threads` threads; else units [u0, u1). */
static inline void convert_vl(const int vl, const int to_blk, int C, size_t HW, const float *src, float *dst,
                              int threads, int64_t u0, int64_t u1) {
    const int CB = (C + vl - 1) / vl;
    const size_t tiles = (HW + CVT_TILE - 1) / CVT_TILE;
    const size_t nl_st = HW, nl_px = 1, bl_st = 1, bl_px = (size_t)vl; /* NCHW / blocked: lane, pixel strides */
    const size_t sl = to_blk ? nl_st : bl_st, sp = to_blk ? nl_px : bl_px;
    const size_t dl = to_blk ? bl_st : nl_st, dp = to_blk ? bl_px : nl_px;
    const int par = threads > 1 && (size_t)C * HW > BLK_PAR_MIN;
    if (u0 < 0) {
        convert_ctx c = {vl, to_blk, C, HW, src, dst};
        cpu_parallel_for(par ? threads : 1, (int64_t)CB * (int64_t)tiles, 0, convert_task, &c);
        return;
    }
    for (int64_t q = u0; q < u1; ++q) {
            const int cb = (int)(q / (int64_t)tiles);
            const size_t t = (size_t)(q % (int64_t)tiles);
            const size_t p0 = t * CVT_TILE, np = HW - p0 < CVT_TILE ? HW - p0 : CVT_TILE;
            const size_t base = (size_t)cb * (size_t)vl * HW;
            const int nl = C - cb * vl < vl ? C - cb * vl : vl;
#if defined(__x86_64__)
            /* VL 16 is AVX-512's (cpu_blk_vl); the test is for callers
             * that pick VL 16 themselves (tests/cpu) */
            if (vl == 16 && nl == 16 && __builtin_cpu_supports("avx512f")) {
                cpu_blk_tile16__avx512(to_blk, HW, src, dst, cb, p0, np);
                continue;
            }
            if (vl == 8 && nl == 8 && __builtin_cpu_supports("avx2")) {
                cpu_blk_tile8__avx2(to_blk, HW, src, dst, cb, p0, np);
                continue;
            }
#endif
            for (int l = 0; l < nl; ++l) {
                const float *s = src + base + (size_t)l * sl + p0 * sp;
                float *d = dst + base + (size_t)l * dl + p0 * dp;
                for (size_t p = 0; p < np; ++p) d[p * dp] = s[p * sp];
            }
            for (int l = nl; to_blk && l < vl; ++l) {
                float *d = dst + base + (size_t)l * dl + p0 * dp;
                for (size_t p = 0; p < np; ++p) d[p * dp] = 0.0f;
            }
        }
}

#if defined(__x86_64__)
void cpu_blk_tile16_affine__avx512(size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np,
                                   const float *w, const float *b, const engine_epilogue *epi);
void cpu_blk_tile8_affine__avx2(size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np, const float *w,
                                const float *b, const engine_epilogue *epi);
#endif

typedef struct affine_ctx {
    const cpu_kernels *k;
    int vl, C;
    size_t HW;
    const float *x, *w, *b;
    float *y;
    const engine_epilogue *epi;
} affine_ctx;

/* Units: (channel block, tile of CVT_TILE pixels), as the conversion. */
static void affine_task(void *vc, int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const affine_ctx *c = vc;
    const int vl = c->vl, C = c->C;
    const size_t HW = c->HW, tiles = (HW + CVT_TILE - 1) / CVT_TILE;
    for (int64_t q = u0; q < u1; ++q) {
        const int cb = (int)(q / (int64_t)tiles);
        const size_t p0 = (size_t)(q % (int64_t)tiles) * CVT_TILE, np = HW - p0 < CVT_TILE ? HW - p0 : CVT_TILE;
        const int nl = C - cb * vl < vl ? C - cb * vl : vl;
        const float *w = c->w + (size_t)cb * (size_t)vl, *b = c->b + (size_t)cb * (size_t)vl;
#if defined(__x86_64__)
        if (vl == 16 && nl == 16 && c->k->isa == CPU_ISA_AVX512) {
            cpu_blk_tile16_affine__avx512(HW, c->x, c->y, cb, p0, np, w, b, c->epi);
            continue;
        }
        if (vl == 8 && nl == 8 && c->k->isa == CPU_ISA_AVX2) {
            cpu_blk_tile8_affine__avx2(HW, c->x, c->y, cb, p0, np, w, b, c->epi);
            continue;
        }
#endif
        const size_t base = (size_t)cb * (size_t)vl * HW;
        float *d = c->y + base + p0 * (size_t)vl;
        for (size_t p = 0; p < np; ++p)
            for (int l = 0; l < vl; ++l)
                d[p * (size_t)vl + (size_t)l] = l < nl ? c->x[base + (size_t)l * HW + p0 + p] * w[l] + b[l] : 0.0f;
        c->k->act_row(c->epi, d, np * (size_t)vl);
        if (nl < vl) /* the padding lanes stay zero whatever act(0) is */
            for (size_t p = 0; p < np; ++p)
                for (int l = nl; l < vl; ++l) d[p * (size_t)vl + (size_t)l] = 0.0f;
    }
}

void cpu_blk_from_nchw_affine(const cpu_kernels *k, int C, size_t HW, const float *x, float *y, const float *w,
                              const float *b, const engine_epilogue *epi, int threads) {
    const int vl = cpu_blk_vl(k->isa);
    const int64_t units = (int64_t)((C + vl - 1) / vl) * (int64_t)((HW + CVT_TILE - 1) / CVT_TILE);
    affine_ctx c = {k, vl, C, HW, x, w, b, y, epi};
    cpu_parallel_for(threads > 1 && (size_t)C * HW > BLK_PAR_MIN ? threads : 1, units, 0, affine_task, &c);
}

void cpu_blk_from_nchw(int vl, int C, size_t HW, const float *x, float *xb, int threads) {
    if (vl == 16) convert_vl(16, 1, C, HW, x, xb, threads, -1, -1);
    else convert_vl(8, 1, C, HW, x, xb, threads, -1, -1);
}

void cpu_blk_to_nchw(int vl, int C, size_t HW, const float *xb, float *x, int threads) {
    if (vl == 16) convert_vl(16, 0, C, HW, xb, x, threads, -1, -1);
    else convert_vl(8, 0, C, HW, xb, x, threads, -1, -1);
}

/* Zeros the padding lanes of N images [CB][HW][vl] of C channels. */
static void zero_pad_lanes(int vl, int64_t N, int C, size_t HW, float *y) {
    const int CB = (C + vl - 1) / vl, nl = C - (CB - 1) * vl;
    if (nl == vl) return;
    for (int64_t n = 0; n < N; ++n) {
        float *last = y + ((size_t)(n * CB + CB - 1) * HW) * (size_t)vl;
        for (size_t p = 0; p < HW; ++p)
            for (int l = nl; l < vl; ++l) last[p * (size_t)vl + (size_t)l] = 0.0f;
    }
}

/* ---- MaxPool / AveragePool ----
 * iparam: avg, count_include_pad. Geometry from the node. */
static inline float max_nan(float a, float b) {
    float m = a > b ? a : b; /* b when either is NaN */
    return a != a ? a : m;
}

/* One tap of a pool window into the VL lanes of acc: sum or NaN-keeping max. */
static inline void pool_tap(const int vl, int avg, float *acc, const float *px) {
    if (avg) {
#pragma omp simd
        for (int l = 0; l < vl; ++l) acc[l] += px[l];
    } else {
#pragma omp simd
        for (int l = 0; l < vl; ++l) acc[l] = max_nan(acc[l], px[l]);
    }
}

static engine_status pool_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1);

static inline void pool_vl(const int vl, const cpu_step *s, const void *const *in, void *const *out, int64_t u0,
                           int64_t u1) {
    const float *x = in[0];
    float *y = out[0];
    const engine_node *n = s->node;
    const engine_pool_params *p = n->params;
    const engine_value *xv = n->inputs[0], *yv = n->outputs[0];
    const int avg = s->iparam[0], incl = s->iparam[1];
    const int64_t N = xv->dims[0], C = xv->dims[1], H = xv->dims[2], W = xv->dims[3];
    const int64_t OH = yv->dims[2], OW = yv->dims[3], CB = (C + vl - 1) / vl;
    const int64_t KH = p->kernel[0], KW = p->kernel[1], SH = p->stride[0], SW = p->stride[1];
    const int64_t DH = p->dilation[0] > 0 ? p->dilation[0] : 1, DW = p->dilation[1] > 0 ? p->dilation[1] : 1;
    const int64_t PT = p->pad_begin[0], PL = p->pad_begin[1], PB = p->pad_end[0], PR = p->pad_end[1];
    const int par = s->threads > 1 && N * CB * OH * OW * KH * KW * vl > BLK_PAR_MIN;
    if (u0 < 0) cpu_run_range(s, in, out, NULL, pool_blk_body, par ? s->threads : 1, N * CB * OH);
    else
        for (int64_t q = u0; q < u1; ++q) {
            const int64_t r = q / OH, oh = q % OH;
            const float *xc = x + (size_t)(r * H * W) * (size_t)vl;
            float *yr = y + (size_t)((r * OH + oh) * OW) * (size_t)vl;
            const int64_t h0 = oh * SH - PT;
            int64_t khlo = h0 >= 0 ? 0 : (-h0 + DH - 1) / DH, khhi = h0 >= H ? 0 : (H - 1 - h0) / DH + 1;
            if (khhi > KH) khhi = KH;
            if (khhi < khlo) khhi = khlo;
            int64_t ph = 0;
            for (int64_t k = 0; k < KH; ++k) ph += h0 + k * DH >= -PT && h0 + k * DH < H + PB;
            /* MaxPool with the ISA's row kernel (NaN-propagating): the
             * rows in the window, max'd lane by lane into one row of W
             * pixels, then each output pixel the max of its columns'
             * vectors in it. In this file's baseline vector width it was
             * 5x ORT's time on ResNet-50's 112x112 pool (0.88 ms). */
            float vrow[4096];
            if (!avg && s->k->max_rows && DH == 1 && DW == 1 && W * vl <= 4096 && khhi > khlo) {
                s->k->max_rows(xc + (size_t)((h0 + khlo) * W) * (size_t)vl, (size_t)(W * vl), (int)(khhi - khlo),
                               (int)(W * vl), vrow);
                /* outputs [o0, o1) have all KW taps inside the row */
                int64_t o0, o1;
                cpu_pool_interior(W, OW, KW, SW, PL, &o0, &o1);
                if (vl != 8 || !s->k->max_win_blk8) o1 = o0;
                if (o1 > o0)
                    s->k->max_win_blk8(vrow + (size_t)(o0 * SW - PL) * 8u, (int)(o1 - o0), (int)KW, (int)SW,
                                       yr + (size_t)o0 * 8u);
                for (int64_t ow = 0; ow < OW; ++ow) {
                    if (ow == o0) ow = o1;
                    if (ow >= OW) break;
                    const int64_t w0 = ow * SW - PL;
                    int64_t kwlo = w0 >= 0 ? 0 : -w0, kwhi = w0 >= W ? 0 : W - w0;
                    if (kwhi > KW) kwhi = KW;
                    float *py = yr + (size_t)ow * (size_t)vl;
                    if (kwhi > kwlo) s->k->max_rows(vrow + (size_t)(w0 + kwlo) * (size_t)vl, (size_t)vl,
                                                    (int)(kwhi - kwlo), vl, py);
                    else
                        for (int l = 0; l < vl; ++l) py[l] = -INFINITY;
                }
                continue;
            }
            for (int64_t ow = 0; ow < OW; ++ow) {
                const int64_t w0 = ow * SW - PL;
                int64_t kwlo = w0 >= 0 ? 0 : (-w0 + DW - 1) / DW, kwhi = w0 >= W ? 0 : (W - 1 - w0) / DW + 1;
                if (kwhi > KW) kwhi = KW;
                if (kwhi < kwlo) kwhi = kwlo;
                float acc[16];
                for (int l = 0; l < vl; ++l) acc[l] = avg ? 0.0f : -INFINITY;
                for (int64_t kh = khlo; kh < khhi; ++kh) {
                    const float *row = xc + (size_t)((h0 + kh * DH) * W) * (size_t)vl;
                    for (int64_t kw = kwlo; kw < kwhi; ++kw) {
                        pool_tap(vl, avg, acc, row + (size_t)(w0 + kw * DW) * (size_t)vl);
                    }
                }
                float *py = yr + (size_t)ow * (size_t)vl;
                if (avg) {
                    int64_t pw = 0;
                    for (int64_t k = 0; k < KW; ++k) pw += w0 + k * DW >= -PL && w0 + k * DW < W + PR;
                    const int64_t div = incl ? ph * pw : (khhi - khlo) * (kwhi - kwlo);
                    const float inv = div > 0 ? 1.0f / (float)div : NAN;
                    if (div > 0) {
                        /* a division, as the reference does (not a multiply by 1/div) */
                        for (int l = 0; l < vl; ++l) py[l] = acc[l] / (float)div;
                    } else {
                        for (int l = 0; l < vl; ++l) py[l] = inv;
                    }
                } else {
                    for (int l = 0; l < vl; ++l) py[l] = acc[l];
                }
            }
        }
    if (u0 >= 0) return;
    /* a window with no tap in the image gives -inf / NaN in every lane */
    zero_pad_lanes(vl, N, (int)C, (size_t)(OH * OW), y);
}

static engine_status pool_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1) {
    (void)scratch, (void)tid;
    if (s->blk_vl == 16) pool_vl(16, s, in, out, u0, u1);
    else pool_vl(8, s, in, out, u0, u1);
    return ENGINE_OK;
}

static engine_status pool_blk_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    pool_blk_body(s, in, out, scratch, 0, -1, -1);
    return ENGINE_OK;
}

static int pool_takes(const engine_node *n) {
    const engine_pool_params *p = n->params;
    if (!p || p->spatial != 2 || p->storage_order != 0 || n->n_inputs < 1 || n->n_outputs < 1) return 0;
    if (n->n_outputs > 1 && n->outputs[1]) return 0; /* Indices */
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!is_f32_rank4(x) || !is_f32_rank4(y) || y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1]) return 0;
    if (p->kernel[0] < 1 || p->kernel[1] < 1 || p->stride[0] < 1 || p->stride[1] < 1) return 0;
    return x->dims[1] > 0 && x->dims[1] <= INT32_MAX / 2;
}

/* ---- GlobalAveragePool / GlobalMaxPool: [N, C, H, W] -> [N, C, 1, 1] ---- */
static engine_status gpool_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1);

static inline void gpool_vl(const int vl, const cpu_step *s, const void *const *in, void *const *out, int64_t u0,
                            int64_t u1) {
    const float *x = in[0];
    float *y = out[0];
    const engine_value *xv = s->node->inputs[0];
    const int64_t N = xv->dims[0], C = xv->dims[1], HW = xv->dims[2] * xv->dims[3], CB = (C + vl - 1) / vl;
    const int avg = s->iparam[0];
    const int par = s->threads > 1 && N * CB * HW * vl > BLK_PAR_MIN;
    if (u0 < 0) cpu_run_range(s, in, out, NULL, gpool_blk_body, par ? s->threads : 1, N * CB);
    else
        for (int64_t r = u0; r < u1; ++r) {
        const float *xc = x + (size_t)(r * HW) * (size_t)vl;
        float acc[16];
        for (int l = 0; l < vl; ++l) acc[l] = avg ? 0.0f : (HW ? xc[l] : NAN);
        for (int64_t p = avg ? 0 : 1; p < HW; ++p) pool_tap(vl, avg, acc, xc + (size_t)p * (size_t)vl);
        float *py = y + (size_t)r * (size_t)vl;
        for (int l = 0; l < vl; ++l) py[l] = avg ? (HW ? acc[l] / (float)HW : NAN) : acc[l];
    }
    if (u0 >= 0) return;
    zero_pad_lanes(vl, N, (int)C, 1, y);
}

static engine_status gpool_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1) {
    (void)scratch, (void)tid;
    if (s->blk_vl == 16) gpool_vl(16, s, in, out, u0, u1);
    else gpool_vl(8, s, in, out, u0, u1);
    return ENGINE_OK;
}

static engine_status gpool_blk_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    gpool_blk_body(s, in, out, scratch, 0, -1, -1);
    return ENGINE_OK;
}

static int gpool_takes(const engine_node *n) {
    if (n->n_inputs < 1 || n->n_outputs != 1) return 0;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!is_f32_rank4(x) || !is_f32_rank4(y)) return 0;
    return y->dims[0] == x->dims[0] && y->dims[1] == x->dims[1] && y->dims[2] == 1 && y->dims[3] == 1 &&
           x->dims[1] > 0 && x->dims[1] <= INT32_MAX / 2;
}

/* ---- unary activations: the ISA's act_row over the padded storage ---- */
static int act_of(const engine_node *n, engine_epilogue *e) {
    const engine_scalar_params *p = n->params;
    memset(e, 0, sizeof *e);
    if (!p) return 0;
    switch (n->op) {
    case ENGINE_OP_Relu: e->act = ENGINE_ACT_RELU; break;
    case ENGINE_OP_Clip:
        if (!(p->min <= p->max)) return 0; /* NaN bounds: the reference's formula decides */
        e->act = ENGINE_ACT_CLIP, e->alpha = p->min, e->beta = p->max;
        break;
    case ENGINE_OP_LeakyRelu: e->act = ENGINE_ACT_LEAKY_RELU, e->alpha = p->alpha; break;
    case ENGINE_OP_Sigmoid: e->act = ENGINE_ACT_SIGMOID; break;
    case ENGINE_OP_HardSigmoid: e->act = ENGINE_ACT_HARD_SIGMOID, e->alpha = p->alpha, e->beta = p->beta; break;
    case ENGINE_OP_HardSwish: e->act = ENGINE_ACT_HARD_SWISH; break;
    case ENGINE_OP_Tanh: e->act = ENGINE_ACT_TANH; break;
    case ENGINE_OP_Gelu: e->act = ENGINE_ACT_GELU, e->alpha = p->size ? 1.0f : 0.0f; break;
    default: return 0;
    }
    return 1;
}

static engine_status act_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1) {
    (void)scratch, (void)tid;
    engine_epilogue e;
    act_of(s->node, &e);
    const engine_value *y = s->node->outputs[0];
    const int vl = s->blk_vl, C = (int)y->dims[1];
    const size_t HW = (size_t)(y->dims[2] * y->dims[3]);
    const size_t total = (size_t)y->dims[0] * cpu_blk_image_floats(vl, C, HW);
    const float *x = in[0];
    float *yp = out[0];
    const size_t chunk = 4096, chunks = (total + chunk - 1) / chunk;
    const int par = s->threads > 1 && total > BLK_PAR_MIN;
    if (u0 < 0) cpu_run_range(s, in, out, NULL, act_blk_body, par ? s->threads : 1, (int64_t)chunks);
    else
        for (size_t i = (size_t)u0; i < (size_t)u1; ++i) {
        const size_t i0 = i * chunk, len = total - i0 < chunk ? total - i0 : chunk;
        if (yp + i0 != x + i0) memcpy(yp + i0, x + i0, len * sizeof(float));
        s->k->act_row(&e, yp + i0, len);
    }
    if (u0 < 0) zero_pad_lanes(vl, y->dims[0], C, HW, yp);
    return ENGINE_OK;
}

static engine_status act_blk_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return act_blk_body(s, in, out, scratch, 0, -1, -1);
}

static int act_takes(const engine_node *n) {
    engine_epilogue e;
    if (!act_of(n, &e) || n->n_inputs < 1 || n->n_outputs != 1) return 0;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    return is_f32_rank4(x) && is_f32_rank4(y) && same_dims(x, y) && y->dims[1] <= INT32_MAX / 2;
}

/* ---- Add / Sub / Mul / Div ----
 * iparam: op, form (0: both operands of y's shape, both blocked; 1: the
 * operand iparam[2] is per channel [N or 1, C, 1, 1] read NCHW; 2: it is
 * a single float), small operand index. */
enum { BB_ADD, BB_SUB, BB_MUL, BB_DIV };

static inline float bb(int op, float a, float b) {
    switch (op) {
    case BB_ADD: return a + b;
    case BB_SUB: return a - b;
    case BB_MUL: return a * b;
    default: return a / b;
    }
}

static engine_status binary_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1);

static inline void binary_vl(const int vl, const cpu_step *s, const void *const *in, void *const *out, int64_t u0,
                             int64_t u1) {
    float *y = out[0];
    const engine_value *yv = s->node->outputs[0];
    const int op = s->iparam[0], form = s->iparam[1], si = s->iparam[2];
    const int64_t N = yv->dims[0], C = yv->dims[1], HW = yv->dims[2] * yv->dims[3], CB = (C + vl - 1) / vl;
    const size_t img = cpu_blk_image_floats(vl, (int)C, (size_t)HW);
    const int par = s->threads > 1 && (size_t)N * img > BLK_PAR_MIN;
    if (form == 0) {
        const float *a = in[0], *b = in[1];
        const size_t total = (size_t)N * img;
        if (u0 < 0) cpu_run_range(s, in, out, NULL, binary_blk_body, par ? s->threads : 1, (int64_t)total);
        else
            for (size_t i = (size_t)u0; i < (size_t)u1; ++i) y[i] = bb(op, a[i], b[i]);
    } else {
        const float *big = in[1 - si], *sm = in[si];
        const engine_value *sv = s->node->inputs[si];
        const int per_image = form == 1 && sv->dims[0] == N && N > 1;
        if (u0 < 0) cpu_run_range(s, in, out, NULL, binary_blk_body, par ? s->threads : 1, N * CB);
        else
            for (int64_t r = u0; r < u1; ++r) {
            const int64_t n = r / CB, cb = r % CB;
            float v[16];
            for (int l = 0; l < vl; ++l) {
                const int64_t c = cb * vl + l;
                v[l] = form == 2 ? sm[0] : c < C ? sm[(per_image ? n * C : 0) + c] : 0.0f;
            }
            const float *bp = big + (size_t)(r * HW) * (size_t)vl;
            float *yp = y + (size_t)(r * HW) * (size_t)vl;
            for (int64_t p = 0; p < HW; ++p) {
                const float *bq = bp + (size_t)p * (size_t)vl;
                float *yq = yp + (size_t)p * (size_t)vl;
                if (si == 1) {
#pragma omp simd
                    for (int l = 0; l < vl; ++l) yq[l] = bb(op, bq[l], v[l]);
                } else {
#pragma omp simd
                    for (int l = 0; l < vl; ++l) yq[l] = bb(op, v[l], bq[l]);
                }
            }
        }
    }
    if (u0 < 0 && (op == BB_DIV || form == 2)) zero_pad_lanes(vl, N, (int)C, (size_t)HW, y);
}

static engine_status binary_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1) {
    (void)scratch, (void)tid;
    if (s->blk_vl == 16) binary_vl(16, s, in, out, u0, u1);
    else binary_vl(8, s, in, out, u0, u1);
    return ENGINE_OK;
}

static engine_status binary_blk_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    binary_blk_body(s, in, out, scratch, 0, -1, -1);
    return ENGINE_OK;
}

/* The form (see above) and small operand of a binary node, -1: no blocked kernel. */
static int binary_form(const engine_node *n, int *si) {
    if (n->op != ENGINE_OP_Add && n->op != ENGINE_OP_Sub && n->op != ENGINE_OP_Mul && n->op != ENGINE_OP_Div) return -1;
    if (n->n_inputs != 2 || n->n_outputs != 1 || !n->inputs[0] || !n->inputs[1]) return -1;
    const engine_value *y = n->outputs[0];
    if (!is_f32_rank4(y) || y->dims[1] > INT32_MAX / 2) return -1;
    for (int k = 0; k < 2; ++k)
        if (n->inputs[k]->dtype != ENGINE_DTYPE_F32) return -1;
    if (same_dims(n->inputs[0], y) && same_dims(n->inputs[1], y)) {
        *si = 1;
        return 0;
    }
    for (int k = 0; k < 2; ++k) {
        const engine_value *big = n->inputs[1 - k], *sm = n->inputs[k];
        if (!same_dims(big, y)) continue;
        *si = k;
        if (numel(sm) == 1 && sm->rank <= 4) return 2;
        if (sm->rank == 4 && (sm->dims[0] == 1 || sm->dims[0] == y->dims[0]) && sm->dims[1] == y->dims[1] &&
            sm->dims[2] == 1 && sm->dims[3] == 1)
            return 1;
    }
    return -1;
}

/* ---- Transpose NCHW -> NHWC (perm 0, 2, 3, 1) read from the blocked layout ----
 * ConvNeXt moves each block's depthwise conv output to channels-last for
 * its LayerNorm and MLP: read blocked, each pixel's channels are a run of
 * VL floats per block, so the transpose is a copy of those runs and the
 * conversion to NCHW before it goes away. The output is plain NHWC, never
 * blocked (cpu_blocked_writes_plain). Units: the N*H output rows. */
/* A float32 rank-4 Transpose by perm p4 whose output has the permuted
 * shape (and channels that fit an int twice). */
static int transpose_rank4_takes(const engine_node *n, const int *p4) {
    const engine_transpose_params *p = n->params;
    if (!p || n->n_inputs != 1 || n->n_outputs != 1) return 0;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!is_f32_rank4(x) || !is_f32_rank4(y)) return 0;
    for (int d = 0; d < 4; ++d)
        if (p->perm[d] != p4[d] || y->dims[d] != x->dims[p4[d]]) return 0;
    return x->dims[p4[1]] <= INT32_MAX / 2;
}

static int transpose_nhwc_takes(const engine_node *n) {
    static const int perm[4] = {0, 2, 3, 1};
    return transpose_rank4_takes(n, perm);
}

static int transpose_nchw_takes(const engine_node *n);

/* Both Transposes: rows r of the N*H rows, each W*C floats of the plain
 * NHWC side and, per channel block, W runs of VL floats on the blocked
 * side (padding lanes written as zeros). Which side is the input: the
 * node's perm. */
static engine_status transpose_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                                        int tid, int64_t u0, int64_t u1) {
    (void)scratch, (void)tid;
    const engine_value *xv = s->node->inputs[0];
    const int to_blk = transpose_nchw_takes(s->node); /* NHWC in, blocked out */
    const int64_t N = xv->dims[0], C = xv->dims[to_blk ? 3 : 1], H = xv->dims[to_blk ? 1 : 2],
                  W = xv->dims[to_blk ? 2 : 3];
    const int vl = s->blk_vl;
    const int64_t CB = (C + vl - 1) / vl;
    if (u0 < 0) {
        const int par = s->threads > 1 && N * C * H * W > BLK_PAR_MIN;
        return cpu_run_range(s, in, out, NULL, transpose_blk_body, par ? s->threads : 1, N * H);
    }
    float *plain = to_blk ? (float *)(uintptr_t)in[0] : out[0];
    float *blk = to_blk ? out[0] : (float *)(uintptr_t)in[0];
    for (int64_t r = u0; r < u1; ++r) {
        const int64_t n = r / H, h = r % H;
        float *pr = plain + (size_t)r * (size_t)(W * C);
        for (int64_t cb = 0; cb < CB; ++cb) {
            const int64_t c0 = cb * vl, nv = C - c0 < vl ? C - c0 : vl;
            float *br = blk + ((size_t)((n * CB + cb) * H + h) * (size_t)W) * (size_t)vl;
            for (int64_t w = 0; w < W; ++w) {
                if (!to_blk) {
                    memcpy(pr + w * C + c0, br + w * vl, sizeof(float) * (size_t)nv);
                    continue;
                }
                memcpy(br + w * vl, pr + w * C + c0, sizeof(float) * (size_t)nv);
                if (nv < vl) memset(br + w * vl + nv, 0, sizeof(float) * (size_t)(vl - nv));
            }
        }
    }
    return ENGINE_OK;
}

static engine_status transpose_blk_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return transpose_blk_body(s, in, out, scratch, 0, -1, -1);
}

/* ---- Transpose NHWC -> NCHW (perm 0, 3, 1, 2) written in the blocked layout ----
 * ConvNeXt's blocks move their MLP's channels-last output back to NCHW
 * before the layer scale and the residual Add. Written blocked, each
 * pixel's channels are again a run of VL floats per block (padding lanes
 * zeroed), so the residual stream stays blocked through the Add into the
 * next block's depthwise conv and its conversion goes. The input is read
 * plain: the node "takes" no blocked input (CPU_BLK_PLAIN_IN). Units: the
 * N*H input rows. */
static int transpose_nchw_takes(const engine_node *n) {
    static const int perm[4] = {0, 3, 1, 2};
    return transpose_rank4_takes(n, perm);
}

int cpu_blocked_writes_plain(const engine_node *n) { return n->op == ENGINE_OP_Transpose && transpose_nhwc_takes(n); }

/* ---- Concat over channels of one image ----
 * With N = 1 and every C a multiple of VL, an input's blocked bytes are
 * its NCHW bytes' size and sit where its NCHW bytes would: the channel
 * concat of blocked images is the byte concat, as on NCHW (ops.c's
 * kernel, which skips inputs already stored in place: concat_alias). */
static unsigned concat_takes(const engine_node *n, int vl) {
    const engine_axis_params *p = n->params;
    if (!p || n->n_outputs != 1 || n->n_inputs < 1 || n->n_inputs > 32 || vl <= 0) return 0;
    const engine_value *y = n->outputs[0];
    if (!is_f32_rank4(y) || y->dims[0] != 1 || p->axis != 1) return 0;
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *x = n->inputs[k];
        if (!is_f32_rank4(x) || x->dims[0] != 1 || x->dims[1] % vl || x->dims[2] != y->dims[2] ||
            x->dims[3] != y->dims[3])
            return 0;
    }
    return n->n_inputs == 32 ? 0xFFFFFFFFu : (1u << n->n_inputs) - 1u;
}

/* ---- the interface ---- */

unsigned cpu_blocked_takes(const engine_node *n, const cpu_kernels *k, int threads) {
    if (!cpu_blk_vl(k->isa) || n->plugin) return 0;
    int si, form;
    switch (n->op) {
    case ENGINE_OP_Conv: /* 2-D only: the layout is of rank-4 values */
        if (n->n_inputs < 2 || !is_f32_rank4(n->inputs[0]) || !is_f32_rank4(n->outputs[0])) return 0;
        return cpu_conv_blocked_mask(n, k, threads);
    case ENGINE_OP_MaxPool:
    case ENGINE_OP_AveragePool: return pool_takes(n) ? 1u : 0u;
    case ENGINE_OP_GlobalAveragePool:
    case ENGINE_OP_GlobalMaxPool: return gpool_takes(n) ? 1u : 0u;
    case ENGINE_OP_Add:
    case ENGINE_OP_Sub:
    case ENGINE_OP_Mul:
    case ENGINE_OP_Div:
        form = binary_form(n, &si);
        return form < 0 ? 0u : form == 0 ? 3u : 1u << (1 - si);
    case ENGINE_OP_Concat: return concat_takes(n, cpu_blk_vl(k->isa));
    case ENGINE_OP_Resize: return cpu_resize_takes(n) ? 1u : 0u;
    case ENGINE_OP_Transpose: return transpose_nhwc_takes(n) ? 1u : transpose_nchw_takes(n) ? CPU_BLK_PLAIN_IN : 0u;
    default: return act_takes(n) ? 1u : 0u;
    }
}

engine_status cpu_prepare_blocked(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const int vl = cpu_blk_vl(c->k->isa);
    if (!vl || n->plugin) return ENGINE_ERR_UNSUPPORTED;
    if (n->op == ENGINE_OP_Conv) return cpu_prepare_conv_blocked(c, s);
    if (!cpu_blocked_takes(n, c->k, c->threads)) return ENGINE_ERR_UNSUPPORTED;
    s->blk_vl = vl;
    s->blk_in_mask = 1u;
    switch (n->op) {
    case ENGINE_OP_MaxPool:
    case ENGINE_OP_AveragePool: {
        const engine_pool_params *p = n->params;
        s->iparam[0] = n->op == ENGINE_OP_AveragePool;
        s->iparam[1] = p->count_include_pad;
        s->exec = pool_blk_exec;
        snprintf(s->kernel, sizeof s->kernel, "f32_%s%dx%ds%d_nchw%dc__pool",
                 s->iparam[0] ? "avgpool" : "maxpool", (int)p->kernel[0], (int)p->kernel[1], (int)p->stride[0], vl);
        return ENGINE_OK;
    }
    case ENGINE_OP_GlobalAveragePool:
    case ENGINE_OP_GlobalMaxPool:
        s->iparam[0] = n->op == ENGINE_OP_GlobalAveragePool;
        s->exec = gpool_blk_exec;
        snprintf(s->kernel, sizeof s->kernel, "f32_global%spool_nchw%dc__pool", s->iparam[0] ? "avg" : "max", vl);
        return ENGINE_OK;
    case ENGINE_OP_Add:
    case ENGINE_OP_Sub:
    case ENGINE_OP_Mul:
    case ENGINE_OP_Div: {
        int si, form = binary_form(n, &si);
        s->iparam[0] = n->op == ENGINE_OP_Add ? BB_ADD : n->op == ENGINE_OP_Sub ? BB_SUB : n->op == ENGINE_OP_Mul ? BB_MUL : BB_DIV;
        s->iparam[1] = form;
        s->iparam[2] = si;
        s->blk_in_mask = form == 0 ? 3u : 1u << (1 - si);
        s->exec = binary_blk_exec;
        snprintf(s->kernel, sizeof s->kernel, "f32_%s_%s_nchw%dc__pool", n->op_type,
                 form == 0 ? "same" : form == 1 ? "channel" : "scalar", vl);
        return ENGINE_OK;
    }
    case ENGINE_OP_Resize: return cpu_prepare_resize_blocked(c, s, vl);
    case ENGINE_OP_Transpose:
        if (transpose_nchw_takes(n)) {
            s->blk_in_mask = 0u;
            s->exec = transpose_blk_exec;
            snprintf(s->kernel, sizeof s->kernel, "x32_transpose_nhwc_to_nchw%dc__pool", vl);
            return ENGINE_OK;
        }
        s->exec = transpose_blk_exec;
        snprintf(s->kernel, sizeof s->kernel, "x32_transpose_nchw%dc_to_nhwc__pool", vl);
        return ENGINE_OK;
    case ENGINE_OP_Concat: {
        engine_status st = cpu_prepare_op(c, s); /* the NCHW byte concat */
        if (st) return st;
        s->blk_vl = vl;
        s->blk_in_mask = cpu_blocked_takes(n, c->k, c->threads);
        snprintf(s->kernel, sizeof s->kernel, "f32_concat_memcpy_nchw%dc", vl);
        return ENGINE_OK;
    }
    default:
        s->exec = act_blk_exec;
        snprintf(s->kernel, sizeof s->kernel, "f32_%s_nchw%dc__%s", n->op_type, vl, c->k->isa_name);
        return ENGINE_OK;
    }
}
