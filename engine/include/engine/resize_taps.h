/*
 * resize_taps.h - the ONNX Resize sampling rule along one dimension, for
 * backend modules: output position x maps to a coordinate in the input
 * (the coordinate_transformation_mode, with the scale from the params, not
 * out/in), and nearest / linear / cubic taps (input index, weight) are
 * taken around it. Input indices are clamped to the edge (ONNX's
 * reference pads with edge values), except that cubic with
 * exclude_outside drops and renormalises the taps outside. Weights are in
 * double, as the reference computes them.
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

#define ENGINE_RESIZE_MAX_TAPS 4

/* x_original of output position x along a dim of len_in -> len_out. NaN
 * for an unknown coordinate mode. */
static inline double engine_resize_x_original(const engine_resize_params *p, double x, double scale,
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

/* The taps of output position x along one dim into idx/w (room for
 * ENGINE_RESIZE_MAX_TAPS each); returns their count: 1 (nearest, or a dim
 * with scale 1 and equal lengths, copied straight), 2 (linear), 4 (cubic),
 * or 0 for a bad scale or coordinate mode. */
static inline int engine_resize_taps(const engine_resize_params *p, int64_t x, double scale, int64_t len_in,
                                     int64_t len_out, int64_t *idx, double *w) {
    if (scale == 1.0 && len_in == len_out) {
        idx[0] = x;
        w[0] = 1.0;
        return 1;
    }
    double xo = engine_resize_x_original(p, (double)x, scale, len_in, len_out);
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
