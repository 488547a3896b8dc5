/* backends/ref/resize.c - reference kernels for Resize and Upsample,
 * following the ONNX Resize formulas per dimension (the taps of each
 * output position: engine/resize_taps.h, shared with the other backends),
 * and GridSample (torch's grid_sample rules, below).
 * The taps of each dim are tabled first; every output element is a
 * weighted sum over the tap combinations, in double (or
 * extrapolation_value where tf_crop_and_resize falls outside). Dims with
 * scale 1 and equal length are copied straight through. */
#include <math.h>
#include <stdlib.h>

#include "engine/resize_taps.h"
#include "ref_kernels.h"

/* The taps of every output position along one dim: cap slots each,
 * n[o] of them used. */
typedef struct dim_taps {
    int cap;
    int *n;
    int64_t *idx;
    double *w;
} dim_taps;

static void free_taps(dim_taps *t, int r) {
    for (int d = 0; d < r; ++d) {
        free(t[d].n);
        free(t[d].idx);
        free(t[d].w);
    }
}

static engine_status build_taps(const engine_resize_params *p, int d, int64_t len_in, int64_t len_out, dim_taps *t) {
    const double scale = (double)p->scales[d];
    t->cap = engine_resize_tap_cap(p, scale, len_in);
    if (t->cap < 1) return ENGINE_ERR_UNSUPPORTED;
    const size_t cnt = (size_t)len_out * (size_t)t->cap;
    t->n = malloc((size_t)len_out * sizeof *t->n + 1);
    t->idx = malloc(cnt * sizeof *t->idx + 1);
    t->w = malloc(cnt * sizeof *t->w + 1);
    if (!t->n || !t->idx || !t->w) return ENGINE_ERR_OUT_OF_MEMORY;
    for (int64_t o = 0; o < len_out; ++o) {
        size_t at = (size_t)o * (size_t)t->cap;
        t->n[o] = engine_resize_taps(p, d, o, scale, len_in, len_out, t->idx + at, t->w + at, t->cap);
        if (t->n[o] == 0) return ENGINE_ERR_UNSUPPORTED;
    }
    return ENGINE_OK;
}

static engine_status resize_run(const engine_node *n, const engine_resize_params *p, const void *const *in,
                                void *const *out) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (x->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (p->mode != ENGINE_RESIZE_NEAREST && p->mode != ENGINE_RESIZE_LINEAR && p->mode != ENGINE_RESIZE_CUBIC)
        return ENGINE_ERR_UNSUPPORTED;
    const int r = x->rank;
    if (y->rank != r || r > 8) return ENGINE_ERR_SHAPE;
    const int64_t total = engine_value_numel(y);
    if (total == 0) return ENGINE_OK;
    for (int d = 0; d < r; ++d)
        if (x->dims[d] < 1) return ENGINE_ERR_SHAPE;
    int64_t istride[ENGINE_MAX_RANK];
    int64_t s = 1;
    for (int d = r - 1; d >= 0; --d) {
        istride[d] = s;
        s *= x->dims[d];
    }
    dim_taps taps[ENGINE_MAX_RANK] = {{0}};
    engine_status st = ENGINE_OK;
    for (int d = 0; d < r && !st; ++d) st = build_taps(p, d, x->dims[d], y->dims[d], &taps[d]);
    if (st) {
        free_taps(taps, r);
        return st;
    }
    const float *src = in[0];
    float *dst = out[0];
    int64_t oidx[ENGINE_MAX_RANK] = {0};
    for (int64_t e = 0; e < total; ++e) {
        const int64_t *ti[ENGINE_MAX_RANK];
        const double *tw[ENGINE_MAX_RANK];
        int nt[ENGINE_MAX_RANK], outside = 0;
        for (int d = 0; d < r; ++d) {
            size_t at = (size_t)oidx[d] * (size_t)taps[d].cap;
            ti[d] = taps[d].idx + at;
            tw[d] = taps[d].w + at;
            nt[d] = taps[d].n[oidx[d]];
            outside |= ti[d][0] < 0;
        }
        double acc = p->extrapolation_value;
        if (!outside) {
            /* Sum over every combination of taps (an odometer over dims). */
            int k[ENGINE_MAX_RANK] = {0};
            acc = 0.0;
            for (;;) {
                double w = 1.0;
                int64_t off = 0;
                for (int d = 0; d < r; ++d) {
                    w *= tw[d][k[d]];
                    off += ti[d][k[d]] * istride[d];
                }
                if (w != 0.0) acc += w * (double)src[off];
                int d = r - 1;
                for (; d >= 0; --d) {
                    if (++k[d] < nt[d]) break;
                    k[d] = 0;
                }
                if (d < 0) break;
            }
        }
        dst[e] = (float)acc;
        for (int d = r - 1; d >= 0; --d) {
            if (++oidx[d] < y->dims[d]) break;
            oidx[d] = 0;
        }
    }
    free_taps(taps, r);
    return ENGINE_OK;
}

engine_status ref_Resize(const engine_node *n, const void *const *in, void *const *out) {
    if (!n->params) return ENGINE_ERR_UNSUPPORTED;
    return resize_run(n, n->params, in, out);
}

/* Upsample (opset 7/9): nearest picks floor(x / scale) and linear uses
 * asymmetric coordinates, whatever the params' nearest/coord fields say. */
engine_status ref_Upsample(const engine_node *n, const void *const *in, void *const *out) {
    if (!n->params) return ENGINE_ERR_UNSUPPORTED;
    engine_resize_params p = *(const engine_resize_params *)n->params;
    p.coord = ENGINE_COORD_ASYMMETRIC;
    p.nearest = ENGINE_NEAREST_FLOOR;
    if (p.mode == ENGINE_RESIZE_CUBIC) return ENGINE_ERR_UNSUPPORTED;
    return resize_run(n, &p, in, out);
}

/* ---- GridSample (torch.nn.functional.grid_sample's rules) ---- */

/* A grid value in [-1, 1] to an input coordinate. */
static double gs_unnormalize(double g, int64_t size, int align) {
    return align ? (g + 1.0) / 2.0 * (double)(size - 1) : ((g + 1.0) * (double)size - 1.0) / 2.0;
}

/* c reflected into [lo2 / 2, hi2 / 2] (bounds given doubled). */
static double gs_reflect(double c, double lo2, double hi2) {
    if (lo2 == hi2) return 0.0;
    const double lo = lo2 / 2.0, span = (hi2 - lo2) / 2.0;
    c = fabs(c - lo);
    const double extra = fmod(c, span), flips = floor(c / span);
    return fmod(flips, 2.0) == 0.0 ? extra + lo : span - extra + lo;
}

/* padding_mode: border clamps into [0, size - 1], reflection reflects
 * about the edges (align_corners: the outer pixel centres, else the outer
 * pixel borders) and then clamps; NaN stays NaN. */
static double gs_pad(double c, int64_t size, int padding, int align) {
    if (padding == 2) c = align ? gs_reflect(c, 0.0, 2.0 * (double)(size - 1)) : gs_reflect(c, -1.0, 2.0 * (double)size - 1.0);
    if (padding >= 1) {
        if (c < 0.0) c = 0.0;
        if (c > (double)(size - 1)) c = (double)(size - 1);
    }
    return c;
}

/* Not finite, or beyond int range: a coordinate outside every input. */
static double gs_safe(double c) {
    return isfinite(c) && c <= (double)INT32_MAX - 1.0 && c >= (double)INT32_MIN ? c : -100.0;
}

/* The cubic convolution weights (a = -0.75) of the four taps around t. */
static void gs_cubic(double t, double *w) {
    const double a = -0.75;
    double x = t + 1.0;
    w[0] = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    x = t;
    w[1] = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    x = 1.0 - t;
    w[2] = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    x = 2.0 - t;
    w[3] = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
}

engine_status ref_GridSample(const engine_node *n, const void *const *in, void *const *out) {
    const engine_gridsample_params *p = n->params;
    const engine_value *x = n->inputs[0], *vg = n->inputs[1], *y = n->outputs[0];
    if (!p || x->dtype != ENGINE_DTYPE_F32 || vg->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32)
        return ENGINE_ERR_UNSUPPORTED;
    const int r = p->spatial;
    if ((r != 2 && r != 3) || x->rank != r + 2 || vg->rank != r + 2 || y->rank != r + 2 || vg->dims[r + 1] != r ||
        (p->mode == ENGINE_RESIZE_CUBIC && r != 2))
        return ENGINE_ERR_SHAPE;
    const float *src = in[0], *grid = in[1];
    float *dst = out[0];
    const int64_t N = x->dims[0], C = x->dims[1];
    int64_t isz[3], plane = 1, opos = 1;
    for (int d = 0; d < r; ++d) {
        isz[d] = x->dims[2 + d];
        plane *= isz[d];
        opos *= y->dims[2 + d];
    }
    for (int64_t b = 0; b < N; ++b)
        for (int64_t o = 0; o < opos; ++o) {
            /* dim d (D, H, W order) takes grid component r - 1 - d (x is W) */
            const float *gp = grid + (b * opos + o) * r;
            double c[3];
            for (int d = 0; d < r; ++d) c[d] = gs_unnormalize((double)gp[r - 1 - d], isz[d], p->align_corners);
            /* taps: per dim up to 4 (index, weight); index < 0: outside */
            int64_t ti[3][4];
            double tw[3][4];
            int nt = 0;
            for (int d = 0; d < r; ++d) {
                if (p->mode == ENGINE_RESIZE_CUBIC) {
                    double cc = gs_safe(c[d]), f = floor(cc);
                    gs_cubic(cc - f, tw[d]);
                    for (int k = 0; k < 4; ++k) {
                        double t = gs_safe(gs_pad(f - 1.0 + k, isz[d], p->padding, p->align_corners));
                        ti[d][k] = t >= 0.0 && t < (double)isz[d] ? (int64_t)t : -1;
                    }
                    nt = 4;
                    continue;
                }
                double cc = gs_safe(gs_pad(c[d], isz[d], p->padding, p->align_corners));
                if (p->mode == ENGINE_RESIZE_NEAREST) {
                    double t = nearbyint(cc); /* the current rounding mode: to nearest, ties to even */
                    ti[d][0] = t >= 0.0 && t < (double)isz[d] ? (int64_t)t : -1;
                    tw[d][0] = 1.0;
                    nt = 1;
                } else {
                    double f = floor(cc);
                    for (int k = 0; k < 2; ++k) {
                        double t = f + k;
                        ti[d][k] = t >= 0.0 && t < (double)isz[d] ? (int64_t)t : -1;
                        tw[d][k] = k ? cc - f : 1.0 - (cc - f);
                    }
                    nt = 2;
                }
            }
            for (int64_t ch = 0; ch < C; ++ch) {
                const float *xp = src + (b * C + ch) * plane;
                double acc = 0.0;
                int k[3] = {0, 0, 0};
                for (;;) {
                    double w = 1.0;
                    int64_t off = 0, inside = 1;
                    for (int d = 0; d < r; ++d) {
                        w *= tw[d][k[d]];
                        inside &= ti[d][k[d]] >= 0;
                        off = off * isz[d] + ti[d][k[d]];
                    }
                    if (inside) acc += w * (double)xp[off];
                    int d = r - 1;
                    for (; d >= 0; --d) {
                        if (++k[d] < nt) break;
                        k[d] = 0;
                    }
                    if (d < 0) break;
                }
                dst[(b * C + ch) * opos + o] = (float)acc;
            }
        }
    return ENGINE_OK;
}
