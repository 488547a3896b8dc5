/* backends/ref/resize.c - reference kernels for Resize and Upsample,
 * following the ONNX Resize formulas per dimension: the output coordinate
 * is mapped to x_original with the scale from params (not out/in), then
 * nearest / linear / cubic weights are taken around it. Input indices are
 * clamped to the edge (ONNX's reference pads with edge values), except
 * that cubic with exclude_outside drops and renormalises outside taps.
 * Every output element is a weighted sum over the tap combinations, in
 * double. Dims with scale 1 and equal length are copied straight through. */
#include <math.h>

#include "ref_kernels.h"

#define RESIZE_MAX_TAPS 4

static double resize_coord(const engine_resize_params *p, double x, double scale, int64_t len_in,
                           int64_t len_out) {
    switch (p->coord) {
    case ENGINE_COORD_HALF_PIXEL:
        return (x + 0.5) / scale - 0.5;
    case ENGINE_COORD_PYTORCH_HALF_PIXEL:
        return len_out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case ENGINE_COORD_ALIGN_CORNERS: {
        /* ONNX's length_resized is length_original * scale, unrounded (its
         * node tests downsample 4 by 0.6 and expect the 2.4 there); with
         * `sizes` the scale is out/in and this is len_out exactly. */
        double len_resized = (double)len_in * scale;
        (void)len_out;
        return len_resized > 1.0 ? x * (double)(len_in - 1) / (len_resized - 1.0) : 0.0;
    }
    case ENGINE_COORD_ASYMMETRIC:
        return x / scale;
    case ENGINE_COORD_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)len_out / (scale * (double)len_in);
        double center = (double)len_in / 2.0;
        double offset = center * (1.0 - adjustment);
        return offset + (x + 0.5) / scale - 0.5;
    }
    default:
        return NAN;
    }
}

static int64_t clamp_idx(int64_t i, int64_t len) {
    return i < 0 ? 0 : i >= len ? len - 1 : i;
}

/* Keys' cubic convolution weight for distance t >= 0 with coefficient a. */
static double cubic_w(double t, double a) {
    if (t <= 1.0) return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    if (t < 2.0) return ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    return 0.0;
}

/* The taps (input index, weight) of output position x along one dim. */
static int resize_taps(const engine_resize_params *p, int64_t x, double scale, int64_t len_in, int64_t len_out,
                       int64_t *idx, double *w) {
    if (scale == 1.0 && len_in == len_out) {
        idx[0] = x;
        w[0] = 1.0;
        return 1;
    }
    double xo = resize_coord(p, (double)x, scale, len_in, len_out);
    if (!(fabs(xo) < 1e15)) return 0; /* NaN or absurd: bad scale or coord mode */
    double fl = floor(xo), r = xo - fl;
    int64_t i0 = (int64_t)fl;
    switch (p->mode) {
    case ENGINE_RESIZE_NEAREST: {
        int64_t i = i0;
        switch (p->nearest) {
        case ENGINE_NEAREST_ROUND_PREFER_FLOOR: i = r <= 0.5 ? i0 : i0 + 1; break;
        case ENGINE_NEAREST_ROUND_PREFER_CEIL: i = r < 0.5 ? i0 : i0 + 1; break;
        case ENGINE_NEAREST_FLOOR: i = i0; break;
        case ENGINE_NEAREST_CEIL: i = r > 0.0 ? i0 + 1 : i0; break;
        }
        idx[0] = clamp_idx(i, len_in);
        w[0] = 1.0;
        return 1;
    }
    case ENGINE_RESIZE_LINEAR:
        idx[0] = clamp_idx(i0, len_in);
        idx[1] = clamp_idx(i0 + 1, len_in);
        w[0] = 1.0 - r;
        w[1] = r;
        return 2;
    case ENGINE_RESIZE_CUBIC: {
        double sum = 0.0;
        for (int k = 0; k < 4; ++k) {
            int64_t i = i0 - 1 + k;
            w[k] = cubic_w(fabs(r - (double)(k - 1)), (double)p->cubic_coeff_a);
            if (p->exclude_outside && (i < 0 || i >= len_in)) w[k] = 0.0;
            sum += w[k];
            idx[k] = clamp_idx(i, len_in);
        }
        if (p->exclude_outside)
            for (int k = 0; k < 4; ++k) w[k] = sum != 0.0 ? w[k] / sum : 0.0;
        return 4;
    }
    }
    return 0;
}

static engine_status resize_run(const engine_node *n, const engine_resize_params *p, const void *const *in,
                                void *const *out) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (x->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (p->coord == ENGINE_COORD_TF_CROP_AND_RESIZE) return ENGINE_ERR_UNSUPPORTED;
    if (p->mode != ENGINE_RESIZE_NEAREST && p->mode != ENGINE_RESIZE_LINEAR && p->mode != ENGINE_RESIZE_CUBIC)
        return ENGINE_ERR_UNSUPPORTED;
    const int r = x->rank;
    if (y->rank != r || r > 8) return ENGINE_ERR_SHAPE;
    for (int d = 0; d < r; ++d)
        if (x->dims[d] < 1 && y->dims[d] > 0) return ENGINE_ERR_SHAPE;
    int64_t istride[ENGINE_MAX_RANK];
    int64_t s = 1;
    for (int d = r - 1; d >= 0; --d) {
        istride[d] = s;
        s *= x->dims[d];
    }
    const float *src = in[0];
    float *dst = out[0];
    const int64_t total = engine_value_numel(y);
    int64_t oidx[ENGINE_MAX_RANK] = {0};
    int64_t tidx[ENGINE_MAX_RANK][RESIZE_MAX_TAPS];
    double tw[ENGINE_MAX_RANK][RESIZE_MAX_TAPS];
    int nt[ENGINE_MAX_RANK];
    for (int64_t e = 0; e < total; ++e) {
        for (int d = 0; d < r; ++d) {
            nt[d] = resize_taps(p, oidx[d], (double)p->scales[d], x->dims[d], y->dims[d], tidx[d], tw[d]);
            if (nt[d] == 0) return ENGINE_ERR_UNSUPPORTED;
        }
        /* Sum over every combination of taps (an odometer over dims). */
        int k[ENGINE_MAX_RANK] = {0};
        double acc = 0.0;
        for (;;) {
            double w = 1.0;
            int64_t off = 0;
            for (int d = 0; d < r; ++d) {
                w *= tw[d][k[d]];
                off += tidx[d][k[d]] * istride[d];
            }
            if (w != 0.0) acc += w * (double)src[off];
            int d = r - 1;
            for (; d >= 0; --d) {
                if (++k[d] < nt[d]) break;
                k[d] = 0;
            }
            if (d < 0) break;
        }
        dst[e] = (float)acc;
        for (int d = r - 1; d >= 0; --d) {
            if (++oidx[d] < y->dims[d]) break;
            oidx[d] = 0;
        }
    }
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
