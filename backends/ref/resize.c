/* backends/ref/resize.c - reference kernels for Resize and Upsample,
 * following the ONNX Resize formulas per dimension (the taps of each
 * output position: engine/resize_taps.h, shared with the other backends).
 * Every output element is a weighted sum over the tap combinations, in
 * double. Dims with scale 1 and equal length are copied straight through. */
#include <math.h>

#include "engine/resize_taps.h"
#include "ref_kernels.h"

#define RESIZE_MAX_TAPS ENGINE_RESIZE_MAX_TAPS

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
            nt[d] = engine_resize_taps(p, oidx[d], (double)p->scales[d], x->dims[d], y->dims[d], tidx[d], tw[d]);
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
