/* ops_lrn_resize.c - threaded float32 kernels for LRN (across channels)
 * and the 2-D Resize of NCHW maps (nearest, bilinear), with the reference
 * kernels' semantics (backends/ref/norm.c, backends/ref/resize.c):
 *
 *   LRN: y = x / (bias + alpha/size * sum of x^2 over the channel window
 *   [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped to [0, C))^beta,
 *   any size, alpha, beta, bias; any rank >= 2 the reference takes.
 *   Resize: rank 4, N and C kept (scale 1), H and W resized; mode nearest
 *   (every nearest_mode) or linear, every coordinate_transformation_mode
 *   of engine/resize_taps.h but tf_crop_and_resize. The taps of each output
 *   row and column come from engine_resize_taps, the rule the reference
 *   samples with, once at prepare.
 *
 * Cubic, antialias, 3-D/5-D Resize, a resized N or C, non-constant scales/sizes and
 * other dtypes return ENGINE_ERR_UNSUPPORTED from the preparers, so the
 * module runs the reference kernel for them.
 *
 * The reference sums in double; these kernels sum in float (well within the
 * conformance tolerance). Where the reference skips a tap of weight 0 (so
 * that an Inf there does not turn the result into NaN), so do these.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#include "cpu_internal.h"
#include "engine/resize_taps.h"

/* Below this many output elements a node runs on one thread (as ops.c). */
#define PAR_MIN 16384


/* ---- LRN ----
 * A unit is LRN_BLOCK pixels of one (n, c) plane: the window's squares are
 * summed into a block buffer channel by channel (contiguous, vectorised),
 * then divided out. Direct sums rather than a sliding one: no cancellation
 * when a large channel leaves the window, and `size` adds per output is
 * cheap next to the power. iparam: lo, hi (the window), blocks per plane,
 * power kind. */
#define LRN_BLOCK 512
enum { LRN_POW_GENERIC, LRN_POW_075 };

/* y[i] = x[i] / d[i]^0.75 = x[i] / (sqrt(d) * sqrt(sqrt(d))): two
 * correctly rounded square roots (the libm sqrtf keeps errno semantics,
 * which stops the compiler from vectorising it, hence the intrinsics). */
static void div_pow075(const float *x, const float *d, float *y, int64_t n) {
    int64_t i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= n; i += 4) {
        __m128 s = _mm_sqrt_ps(_mm_loadu_ps(d + i));
        _mm_storeu_ps(y + i, _mm_div_ps(_mm_loadu_ps(x + i), _mm_mul_ps(s, _mm_sqrt_ps(s))));
    }
#elif defined(__aarch64__) && defined(__ARM_NEON)
    for (; i + 4 <= n; i += 4) {
        float32x4_t s = vsqrtq_f32(vld1q_f32(d + i));
        vst1q_f32(y + i, vdivq_f32(vld1q_f32(x + i), vmulq_f32(s, vsqrtq_f32(s))));
    }
#endif
    for (; i < n; ++i) {
        float s = sqrtf(d[i]);
        y[i] = x[i] / (s * sqrtf(s));
    }
}

static engine_status lrn_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
    const engine_value *xv = s->node->inputs[0];
    const engine_scalar_params *p = s->node->params;
    const int64_t C = xv->dims[1], plane = engine_value_numel(xv) / (xv->dims[0] * C);
    const int64_t lo = s->iparam[0], hi = s->iparam[1], nb = s->iparam[2];
    const int kind = s->iparam[3];
    const float bias = p->bias, beta = p->beta, k = (float)((double)p->alpha / (double)p->size);
    const float *x = in[0];
    float *y = out[0];
    const int64_t units = xv->dims[0] * C * nb;
    int par = s->threads > 1 && engine_value_numel(xv) > PAR_MIN && units > 1;
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, lrn_exec_body, par ? s->threads : 1, (int64_t)(units));
    for (int64_t u = (int64_t)u0; u < (int64_t)u1; ++u) {
        const int64_t nc = u / nb, i0 = u % nb * LRN_BLOCK, c = nc % C;
        const int64_t len = plane - i0 < LRN_BLOCK ? plane - i0 : LRN_BLOCK;
        const int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi >= C ? C - 1 : c + hi;
        const float *xn = x + (nc - c) * plane + i0; /* channel 0 of this image, at the block */
        float d[LRN_BLOCK];
        for (int64_t i = 0; i < len; ++i) d[i] = 0.0f;
        for (int64_t cc = c0; cc <= c1; ++cc) {
            const float *xr = xn + cc * plane;
            for (int64_t i = 0; i < len; ++i) d[i] += xr[i] * xr[i];
        }
        for (int64_t i = 0; i < len; ++i) d[i] = bias + k * d[i];
        const float *xc = xn + c * plane;
        float *yc = y + nc * plane + i0;
        if (kind == LRN_POW_075)
            div_pow075(xc, d, yc, len);
        else
            for (int64_t i = 0; i < len; ++i) yc[i] = xc[i] / powf(d[i], beta);
    }
    return ENGINE_OK;
}

static engine_status lrn_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return lrn_exec_body(s, in, out, scratch, 0, -1, -1);
}

engine_status cpu_prepare_lrn(const cpu_prep_ctx *c, cpu_step *s) {
    (void)c;
    const engine_node *n = s->node;
    const engine_scalar_params *p = n->params;
    if (!p || n->n_inputs < 1 || n->n_outputs < 1) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!x || !y || x->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (x->rank < 2 || x->rank != y->rank || p->size < 1) return ENGINE_ERR_UNSUPPORTED;
    for (int d = 0; d < x->rank; ++d)
        if (x->dims[d] != y->dims[d] || x->dims[d] < 1) return ENGINE_ERR_UNSUPPORTED;
    const int64_t plane = engine_value_numel(x) / (x->dims[0] * x->dims[1]);
    const int64_t lo = (p->size - 1) / 2, hi = p->size - 1 - lo, nb = (plane + LRN_BLOCK - 1) / LRN_BLOCK;
    if (hi > INT32_MAX || nb > INT32_MAX) return ENGINE_ERR_UNSUPPORTED;
    /* pow(d, 0.75) as two square roots gives the same special values
     * (NaN for d < 0, 0 and Inf at the ends) except at d = -Inf, which
     * needs bias = -Inf or a negative alpha; those take powf. */
    int kind = p->beta == 0.75f && p->alpha >= 0.0f && p->bias > -INFINITY ? LRN_POW_075 : LRN_POW_GENERIC;
    s->iparam[0] = (int)lo;
    s->iparam[1] = (int)hi;
    s->iparam[2] = (int)nb;
    s->iparam[3] = kind;
    s->exec = lrn_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_lrn_nchw%s__pool", kind == LRN_POW_075 ? "_beta075" : "");
    return ENGINE_OK;
}

/* ---- Resize of H and W ----
 * prep, per output column then per output row (OW entries, then OH):
 *   nearest: int32 source index;
 *   linear:  int32 i0, int32 i1, float w0, float w1 (w1 == 0: one tap).
 * A unit is a block of output rows of one plane. Linear keeps the two
 * source rows it blends already interpolated along W in per-thread scratch
 * rows, so each source row is interpolated once per unit (upsampling
 * reuses them for several output rows); nearest copies the previous output
 * row when the source row repeats. iparam: mode, W kept (scale 1, same
 * length: rows are read as they are), rows per unit, scratch row floats. */
typedef struct resize_tap2 {
    int32_t *i0, *i1;
    float *w0, *w1;
} resize_tap2;

static resize_tap2 tap2_at(void *base, int64_t off, int64_t len) {
    resize_tap2 t;
    t.i0 = (int32_t *)base + 4 * off;
    t.i1 = t.i0 + len;
    t.w0 = (float *)(t.i1 + len);
    t.w1 = t.w0 + len;
    return t;
}

/* The taps of every output position along one dim into t (linear) or
 * idx (nearest); 0 when the sampling rule rejects the scale. With t and
 * idx NULL it only checks. */
static int resize_axis(const engine_resize_params *p, int d, int linear, double scale, int64_t len_in,
                       int64_t len_out, int32_t *idx, resize_tap2 *t) {
    for (int64_t o = 0; o < len_out; ++o) {
        int64_t ti[ENGINE_RESIZE_MAX_TAPS];
        double tw[ENGINE_RESIZE_MAX_TAPS];
        int nt = engine_resize_taps(p, d, o, scale, len_in, len_out, ti, tw, ENGINE_RESIZE_MAX_TAPS);
        if (nt < 1 || nt > 2) return 0;
        for (int k = 0; k < nt; ++k)
            if (ti[k] < 0 || ti[k] >= len_in) return 0;
        if (!linear) {
            if (nt != 1 || tw[0] != 1.0) return 0;
            if (idx) idx[o] = (int32_t)ti[0];
            continue;
        }
        /* a tap the reference weighs with a nonzero double is kept */
        if (nt == 2 && tw[1] != 0.0 && (float)tw[1] == 0.0f) return 0;
        if (tw[0] == 0.0 || (float)tw[0] == 0.0f) return 0;
        if (!t) continue;
        t->i0[o] = (int32_t)ti[0];
        t->w0[o] = (float)tw[0];
        t->i1[o] = (int32_t)(nt == 2 ? ti[1] : ti[0]);
        t->w1[o] = nt == 2 ? (float)tw[1] : 0.0f;
    }
    return 1;
}

/* dst[o] = the row interpolated along W (a tap of weight 0 is skipped). */
static void resize_row_w(const float *row, resize_tap2 tw, int64_t OW, float *dst) {
    for (int64_t o = 0; o < OW; ++o) {
        float v = tw.w0[o] * row[tw.i0[o]];
        float w1 = tw.w1[o];
        dst[o] = w1 != 0.0f ? v + w1 * row[tw.i1[o]] : v;
    }
}

static engine_status resize_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const engine_value *xv = s->node->inputs[0], *yv = s->node->outputs[0];
    const int64_t NC = yv->dims[0] * yv->dims[1], IH = xv->dims[2], IW = xv->dims[3], OH = yv->dims[2],
                  OW = yv->dims[3];
    const int linear = s->iparam[0], wkeep = s->iparam[1];
    const int64_t rb = s->iparam[2], rowf = s->iparam[3], nbh = (OH + rb - 1) / rb, units = NC * nbh;
    const float *x = in[0];
    float *y = out[0];
    int par = s->threads > 1 && NC * OH * OW > PAR_MIN && units > 1;
    if (!linear) {
        const int32_t *ix = s->prep, *iy = ix + OW;
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, resize_exec_body, par ? s->threads : 1, (int64_t)(units));
        for (int64_t u = (int64_t)u0; u < (int64_t)u1; ++u) {
            const int64_t nc = u / nbh, oh0 = u % nbh * rb, oh1 = oh0 + rb < OH ? oh0 + rb : OH;
            const float *xp = x + nc * IH * IW;
            float *yp = y + nc * OH * OW;
            for (int64_t oh = oh0; oh < oh1; ++oh) {
                float *yr = yp + oh * OW;
                const float *xr = xp + (int64_t)iy[oh] * IW;
                if (oh > oh0 && iy[oh] == iy[oh - 1])
                    memcpy(yr, yr - OW, (size_t)OW * sizeof(float));
                else if (wkeep)
                    memcpy(yr, xr, (size_t)OW * sizeof(float));
                else
                    for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = xr[ix[ow]];
            }
        }
        return ENGINE_OK;
    }
    const resize_tap2 tw = tap2_at(s->prep, 0, OW), th = tap2_at(s->prep, OW, OH);
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, resize_exec_body, par ? s->threads : 1, (int64_t)(units));
    for (int64_t u = (int64_t)u0; u < (int64_t)u1; ++u) {
        const int64_t nc = u / nbh, oh0 = u % nbh * rb, oh1 = oh0 + rb < OH ? oh0 + rb : OH;
        const float *xp = x + nc * IH * IW;
        float *yp = y + nc * OH * OW;
        /* two scratch rows of this thread and the source rows they hold */
        float *buf[2] = {NULL, NULL};
        int64_t held[2] = {-1, -1};
        if (!wkeep) {
            buf[0] = (float *)scratch + (size_t)tid * 2 * (size_t)rowf;
            buf[1] = buf[0] + rowf;
        }
        for (int64_t oh = oh0; oh < oh1; ++oh) {
            const int64_t r0 = th.i0[oh], r1 = th.i1[oh];
            const float a0 = th.w0[oh], a1 = th.w1[oh];
            const float *b0, *b1 = NULL;
            if (wkeep) {
                b0 = xp + r0 * IW;
                b1 = xp + r1 * IW;
            } else {
                /* slot of r0: where it is, else the one not holding r1 */
                int k0 = held[0] == r0 ? 0 : held[1] == r0 ? 1 : held[0] == r1 && a1 != 0.0f ? 1 : 0;
                if (held[k0] != r0) {
                    resize_row_w(xp + r0 * IW, tw, OW, buf[k0]);
                    held[k0] = r0;
                }
                b0 = buf[k0];
                if (a1 != 0.0f) {
                    int k1 = r1 == r0 ? k0 : 1 - k0;
                    if (held[k1] != r1) {
                        resize_row_w(xp + r1 * IW, tw, OW, buf[k1]);
                        held[k1] = r1;
                    }
                    b1 = buf[k1];
                }
            }
            float *yr = yp + oh * OW;
            if (a1 != 0.0f) {
                for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = a0 * b0[ow] + a1 * b1[ow];
            } else {
                for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = a0 * b0[ow];
            }
        }
    }
    return ENGINE_OK;
}

static engine_status resize_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return resize_exec_body(s, in, out, scratch, 0, -1, -1);
}

int cpu_resize_takes(const engine_node *n) {
    const engine_resize_params *p = n->params;
    if (!p || n->op != ENGINE_OP_Resize || n->n_inputs < 1 || n->n_outputs < 1) return 0;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!x || !y || x->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32) return 0;
    if (x->rank != 4 || y->rank != 4) return 0;
    if (p->mode != ENGINE_RESIZE_NEAREST && p->mode != ENGINE_RESIZE_LINEAR) return 0;
    if (p->coord == ENGINE_COORD_TF_CROP_AND_RESIZE || p->antialias) return 0;
    /* scales (2) and sizes (3) must have been constants */
    for (int k = 2; k < n->n_inputs && k < 4; ++k)
        if (n->inputs[k] && !n->inputs[k]->data && engine_value_numel(n->inputs[k]) > 0) return 0;
    for (int d = 0; d < 4; ++d)
        if (x->dims[d] < 1 || y->dims[d] < 1 || x->dims[d] > INT32_MAX / 2 || y->dims[d] > INT32_MAX / 2) return 0;
    /* N and C pass straight through (else the reference resamples them) */
    for (int d = 0; d < 2; ++d)
        if (p->scales[d] != 1.0f || x->dims[d] != y->dims[d]) return 0;
    const int linear = p->mode == ENGINE_RESIZE_LINEAR;
    return resize_axis(p, 3, linear, (double)p->scales[3], x->dims[3], y->dims[3], NULL, NULL) &&
           resize_axis(p, 2, linear, (double)p->scales[2], x->dims[2], y->dims[2], NULL, NULL);
}

/* The blocked layout (cpu_blocked.h): one vector of VL channels per
 * pixel, the same taps and the same float operations per lane as above
 * (W first, then H), so the results are those of the NCHW kernel. Units:
 * (image x channel block x output row). */
static engine_status resize_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1);

static inline void resize_blk_vl(const int vl, const cpu_step *s, const void *const *in, void *const *out,
                                 int64_t u0, int64_t u1) {
    const float *x = in[0];
    float *y = out[0];
    const engine_value *xv = s->node->inputs[0], *yv = s->node->outputs[0];
    const int64_t N = yv->dims[0], C = yv->dims[1], IH = xv->dims[2], IW = xv->dims[3], OH = yv->dims[2],
                  OW = yv->dims[3], CB = (C + vl - 1) / vl, units = N * CB * OH;
    const int linear = s->iparam[0];
    const int par = s->threads > 1 && N * CB * OH * OW * vl > PAR_MIN && units > 1;
    const int32_t *ix = s->prep, *iy = ix + OW;
    const resize_tap2 tw = tap2_at(s->prep, 0, OW), th = tap2_at(s->prep, OW, OH);
    if (u0 < 0) {
        cpu_run_range(s, in, out, NULL, resize_blk_body, par ? s->threads : 1, units);
        return;
    }
    for (int64_t u = u0; u < u1; ++u) {
        const int64_t r = u / OH, oh = u % OH;
        const float *xp = x + (size_t)(r * IH * IW) * (size_t)vl;
        float *yr = y + (size_t)((r * OH + oh) * OW) * (size_t)vl;
        if (!linear) {
            const float *xr = xp + (size_t)((int64_t)iy[oh] * IW) * (size_t)vl;
            for (int64_t ow = 0; ow < OW; ++ow)
                memcpy(yr + (size_t)ow * (size_t)vl, xr + (size_t)ix[ow] * (size_t)vl, (size_t)vl * sizeof(float));
            continue;
        }
        const float a0 = th.w0[oh], a1 = th.w1[oh];
        const float *x0 = xp + (size_t)((int64_t)th.i0[oh] * IW) * (size_t)vl;
        const float *x1 = xp + (size_t)((int64_t)th.i1[oh] * IW) * (size_t)vl;
        for (int64_t ow = 0; ow < OW; ++ow) {
            const float w0 = tw.w0[ow], w1 = tw.w1[ow];
            const size_t c0 = (size_t)tw.i0[ow] * (size_t)vl, c1 = (size_t)tw.i1[ow] * (size_t)vl;
            float *py = yr + (size_t)ow * (size_t)vl;
            float b0[16], b1[16];
#pragma omp simd
            for (int l = 0; l < vl; ++l) {
                b0[l] = w0 * x0[c0 + (size_t)l];
                b1[l] = w0 * x1[c0 + (size_t)l];
            }
            if (w1 != 0.0f) {
#pragma omp simd
                for (int l = 0; l < vl; ++l) {
                    b0[l] = b0[l] + w1 * x0[c1 + (size_t)l];
                    b1[l] = b1[l] + w1 * x1[c1 + (size_t)l];
                }
            }
            if (a1 != 0.0f) {
#pragma omp simd
                for (int l = 0; l < vl; ++l) py[l] = a0 * b0[l] + a1 * b1[l];
            } else {
#pragma omp simd
                for (int l = 0; l < vl; ++l) py[l] = a0 * b0[l];
            }
        }
    }
}

static engine_status resize_blk_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                   int64_t u0, int64_t u1) {
    (void)scratch, (void)tid;
    if (s->blk_vl == 16) resize_blk_vl(16, s, in, out, u0, u1);
    else resize_blk_vl(8, s, in, out, u0, u1);
    return ENGINE_OK;
}

static engine_status resize_blk_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    resize_blk_body(s, in, out, scratch, 0, -1, -1);
    return ENGINE_OK;
}

engine_status cpu_prepare_resize_blocked(const cpu_prep_ctx *c, cpu_step *s, int vl) {
    engine_status st = cpu_prepare_resize(c, s);
    if (st) return st;
    s->scratch_bytes = 0;
    s->blk_vl = vl;
    s->blk_in_mask = 1u;
    s->exec = resize_blk_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_resize_%s_nchw%dc__pool", s->iparam[0] ? "linear" : "nearest", vl);
    return ENGINE_OK;
}

engine_status cpu_prepare_resize(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    if (!cpu_resize_takes(n)) return ENGINE_ERR_UNSUPPORTED;
    const engine_resize_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    const int linear = p->mode == ENGINE_RESIZE_LINEAR;
    const int64_t IH = x->dims[2], IW = x->dims[3], OH = y->dims[2], OW = y->dims[3];
    const int wkeep = p->scales[3] == 1.0f && IW == OW;
    const size_t per = linear ? 16 : 4;
    void *prep = c->a->alloc(c->a->user, per * (size_t)(OW + OH), 64);
    if (!prep) return ENGINE_ERR_OUT_OF_MEMORY;
    int ok;
    if (linear) {
        resize_tap2 tw = tap2_at(prep, 0, OW), th = tap2_at(prep, OW, OH);
        ok = resize_axis(p, 3, 1, (double)p->scales[3], IW, OW, NULL, &tw) &&
             resize_axis(p, 2, 1, (double)p->scales[2], IH, OH, NULL, &th);
    } else {
        int32_t *ix = prep;
        ok = resize_axis(p, 3, 0, (double)p->scales[3], IW, OW, ix, NULL) &&
             resize_axis(p, 2, 0, (double)p->scales[2], IH, OH, ix + OW, NULL);
    }
    if (!ok) {
        c->a->free(c->a->user, prep);
        return ENGINE_ERR_UNSUPPORTED;
    }
    s->prep = prep;
    s->prep_bytes = per * (size_t)(OW + OH);
    /* rows per unit: whole planes when there are enough of them, else
     * planes cut into about 4 units per thread */
    const int64_t NC = x->dims[0] * x->dims[1], want = 4 * (int64_t)(c->threads > 1 ? c->threads : 1);
    int64_t rb = OH;
    if (NC < want) {
        int64_t cuts = (want + NC - 1) / NC;
        rb = (OH + cuts - 1) / cuts;
    }
    const int64_t rowf = (OW + 15) / 16 * 16; /* scratch rows 64-byte apart */
    s->iparam[0] = linear;
    s->iparam[1] = wkeep;
    s->iparam[2] = (int)rb;
    s->iparam[3] = (int)rowf;
    const size_t threads = (size_t)(c->threads > 1 ? c->threads : 1);
    s->scratch_bytes = linear && !wkeep ? threads * 2 * (size_t)rowf * sizeof(float) : 0;
    s->exec = resize_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_resize_%s_nchw__pool", linear ? "linear" : "nearest");
    return ENGINE_OK;
}
