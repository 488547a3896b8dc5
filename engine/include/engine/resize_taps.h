/*
 * resize_taps.h - the ONNX Resize sampling rule along one dimension, for
 * backend modules: output position x maps to a coordinate in the input
 * (the coordinate_transformation_mode, with the scale from the params, not
 * out/in), and nearest / linear / cubic taps (input index, weight) are
 * taken around it, over a span widened by 1/scale when antialias
 * downscales. Input indices are clamped to the edge (ONNX's reference pads
 * with edge values), except that exclude_outside drops and renormalises
 * the taps outside, and tf_crop_and_resize marks a position outside the
 * input (extrapolation_value). Weights are in double, as the reference
 * computes them.
 *
 * Header-only and free of libengine symbols (modules compile it in); the
 * reference kernel and the opencl module's tap tables use it, so every
 * backend samples where ref does.
 */
#ifndef ENGINE_RESIZE_TAPS_H
#define ENGINE_RESIZE_TAPS_H

#include <math.h>
#include <stdint.h>

#include "engine/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Taps per output position without antialias; with it, see
 * engine_resize_tap_cap. */
#define ENGINE_RESIZE_MAX_TAPS 4

/* x_original of output position x along dim d of len_in -> len_out. NaN
 * for an unknown coordinate mode. */
static inline double engine_resize_x_original(const engine_resize_params *p, int d, double x, double scale,
                                              int64_t len_in, int64_t len_out) {
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
        return len_resized > 1.0 ? x * (double)(len_in - 1) / (len_resized - 1.0) : 0.0;
    }
    case ENGINE_COORD_ASYMMETRIC:
        return x / scale;
    case ENGINE_COORD_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5) / scale;
    case ENGINE_COORD_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)len_out / (scale * (double)len_in);
        double center = (double)len_in / 2.0;
        double offset = center * (1.0 - adjustment);
        return offset + (x + 0.5) / scale - 0.5;
    }
    case ENGINE_COORD_TF_CROP_AND_RESIZE: {
        if (d < 0 || d >= 8) return NAN;
        double s = (double)p->roi_start[d], e = (double)p->roi_end[d], span = (double)(len_in - 1);
        return len_out > 1 ? s * span + x * (e - s) * span / (double)(len_out - 1) : 0.5 * (s + e) * span;
    }
    default:
        return NAN;
    }
}

static inline int64_t engine_resize_clamp(int64_t i, int64_t len) {
    return i < 0 ? 0 : i >= len ? len - 1 : i;
}

/* Keys' cubic convolution weight for distance t >= 0 with coefficient a. */
static inline double engine_resize_cubic_w(double t, double a) {
    if (t <= 1.0) return ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    if (t < 2.0) return ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a;
    return 0.0;
}

/* Whether this dim is sampled with the widened (antialias) filter: linear
 * or cubic, antialias set, downscaling. */
static inline int engine_resize_widened(const engine_resize_params *p, double scale) {
    return p->antialias && scale < 1.0 && (p->mode == ENGINE_RESIZE_LINEAR || p->mode == ENGINE_RESIZE_CUBIC);
}

/* The most taps engine_resize_taps gives for one output position along a
 * dim (the room idx/w need), or 0 when the scale is unusable. The widened
 * filter spans 2 * ceil(support / scale) input positions (support 1 for
 * linear, 2 for cubic); taps clamped onto the same edge position are
 * merged, so there are never more than len_in of them. */
static inline int engine_resize_tap_cap(const engine_resize_params *p, double scale, int64_t len_in) {
    if (!engine_resize_widened(p, scale)) return ENGINE_RESIZE_MAX_TAPS;
    if (!(scale > 0.0) || len_in < 1) return 0;
    double span = 2.0 * ceil((p->mode == ENGINE_RESIZE_CUBIC ? 2.0 : 1.0) / scale);
    /* an output position exists only when len_in * scale >= 1, so the span
     * is at most about 4 * len_in: anything beyond is a bad scale */
    if (!(span <= 4.0 * (double)len_in + 8.0) || span > 1e8) return 0;
    int64_t cap = (int64_t)span < len_in ? (int64_t)span : len_in;
    return cap < ENGINE_RESIZE_MAX_TAPS ? ENGINE_RESIZE_MAX_TAPS : (int)cap;
}

/* The widened filter (antialias): the kernel stretched by 1/scale and
 * normalised to sum 1; taps outside the input clamp to the edge (merged
 * with the edge tap) or, with exclude_outside, are dropped before the
 * normalisation. */
static inline int engine_resize_taps_widened(const engine_resize_params *p, double xo, double scale, int64_t len_in,
                                             int64_t *idx, double *w, int cap) {
    double fl = floor(xo), r = xo - fl;
    int64_t i0 = (int64_t)fl;
    int cubic = p->mode == ENGINE_RESIZE_CUBIC;
    int64_t start = (int64_t)floor(-(cubic ? 2.0 : 1.0) / scale) + 1, end = 1 - start;
    int n = 0;
    double sum = 0.0;
    for (int64_t k = start; k <= end; ++k) {
        double t = fabs(((double)k - r) * scale);
        double wk = cubic ? engine_resize_cubic_w(t, (double)p->cubic_coeff_a) : (t < 1.0 ? 1.0 - t : 0.0);
        int64_t i = i0 + k;
        if (p->exclude_outside && (i < 0 || i >= len_in)) wk = 0.0;
        sum += wk;
        if (wk == 0.0) continue;
        i = engine_resize_clamp(i, len_in);
        if (n > 0 && idx[n - 1] == i) {
            w[n - 1] += wk;
            continue;
        }
        if (n == cap) return 0;
        idx[n] = i;
        w[n++] = wk;
    }
    if (n == 0 || sum == 0.0) return 0;
    for (int k = 0; k < n; ++k) w[k] /= sum;
    return n;
}

/* The taps of output position x along dim d into idx/w (room for `cap`
 * each, at least engine_resize_tap_cap); returns their count: 1 (nearest,
 * or a dim with scale 1 and equal lengths, copied straight), 2 (linear), 4
 * (cubic), up to cap with antialias, or 0 for a bad scale or coordinate
 * mode. For tf_crop_and_resize a position outside the input gives one tap
 * with index -1: the output element is extrapolation_value. */
static inline int engine_resize_taps(const engine_resize_params *p, int d, int64_t x, double scale, int64_t len_in,
                                     int64_t len_out, int64_t *idx, double *w, int cap) {
    if (cap < 1) return 0;
    if (scale == 1.0 && len_in == len_out && p->coord != ENGINE_COORD_TF_CROP_AND_RESIZE) {
        idx[0] = x;
        w[0] = 1.0;
        return 1;
    }
    double xo = engine_resize_x_original(p, d, (double)x, scale, len_in, len_out);
    if (!(fabs(xo) < 1e15)) return 0; /* NaN or absurd: bad scale or coord mode */
    if (p->coord == ENGINE_COORD_TF_CROP_AND_RESIZE && (xo < 0.0 || xo > (double)(len_in - 1))) {
        idx[0] = -1;
        w[0] = 0.0;
        return 1;
    }
    if (engine_resize_widened(p, scale)) return engine_resize_taps_widened(p, xo, scale, len_in, idx, w, cap);
    if (cap < ENGINE_RESIZE_MAX_TAPS) return 0;
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
        idx[0] = engine_resize_clamp(i, len_in);
        w[0] = 1.0;
        return 1;
    }
    case ENGINE_RESIZE_LINEAR:
        idx[0] = engine_resize_clamp(i0, len_in);
        idx[1] = engine_resize_clamp(i0 + 1, len_in);
        w[0] = 1.0 - r;
        w[1] = r;
        return 2;
    case ENGINE_RESIZE_CUBIC: {
        double sum = 0.0;
        for (int k = 0; k < 4; ++k) {
            int64_t i = i0 - 1 + k;
            w[k] = engine_resize_cubic_w(fabs(r - (double)(k - 1)), (double)p->cubic_coeff_a);
            if (p->exclude_outside && (i < 0 || i >= len_in)) w[k] = 0.0;
            sum += w[k];
            idx[k] = engine_resize_clamp(i, len_in);
        }
        if (p->exclude_outside)
            for (int k = 0; k < 4; ++k) w[k] = sum != 0.0 ? w[k] / sum : 0.0;
        return 4;
    }
    }
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_RESIZE_TAPS_H */
