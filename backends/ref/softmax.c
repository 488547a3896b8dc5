/* backends/ref/softmax.c - reference kernels for Softmax and LogSoftmax,
 * numerically stable (the max is subtracted first), sums in double; and
 * Hardmax over the same rows. */
#include <math.h>

#include "ref_kernels.h"

/* The input seen as [outer, len, inner], normalised along len. Legacy
 * (opset < 13): len is everything from axis on and inner is 1. */
static engine_status softmax_run(const engine_node *n, const void *const *in, void *const *out, int log_form) {
    const engine_softmax_params *p = n->params;
    const engine_value *x = n->inputs[0];
    if (!p || x->dtype != ENGINE_DTYPE_F32 || n->outputs[0]->dtype != ENGINE_DTYPE_F32)
        return ENGINE_ERR_UNSUPPORTED;
    if (p->axis < 0 || (x->rank > 0 && p->axis >= x->rank) || (x->rank == 0 && p->axis != 0))
        return ENGINE_ERR_SHAPE;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < x->rank; ++i) {
        if (i < p->axis)
            outer *= x->dims[i];
        else if (i == p->axis || p->legacy)
            len *= x->dims[i];
        else
            inner *= x->dims[i];
    }
    const float *src = in[0];
    float *y = out[0];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float *xs = src + o * len * inner + i;
            float *ys = y + o * len * inner + i;
            double mx = -INFINITY, sum = 0.0;
            for (int64_t k = 0; k < len; ++k)
                if (xs[k * inner] > mx) mx = xs[k * inner];
            for (int64_t k = 0; k < len; ++k) sum += exp((double)xs[k * inner] - mx);
            for (int64_t k = 0; k < len; ++k) {
                double d = (double)xs[k * inner] - mx;
                ys[k * inner] = (float)(log_form ? d - log(sum) : exp(d) / sum);
            }
        }
    return ENGINE_OK;
}

engine_status ref_Softmax(const engine_node *n, const void *const *in, void *const *out) {
    return softmax_run(n, in, out, 0);
}

engine_status ref_LogSoftmax(const engine_node *n, const void *const *in, void *const *out) {
    return softmax_run(n, in, out, 1);
}

/* Hardmax: 1 at the first maximum of each row (rows as Softmax sees
 * them), 0 elsewhere. */
engine_status ref_Hardmax(const engine_node *n, const void *const *in, void *const *out) {
    const engine_softmax_params *p = n->params;
    const engine_value *x = n->inputs[0];
    if (!p || x->dtype != ENGINE_DTYPE_F32 || n->outputs[0]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (p->axis < 0 || p->axis >= x->rank) return ENGINE_ERR_SHAPE;
    int64_t outer = 1, len = 1, inner = 1;
    for (int i = 0; i < x->rank; ++i) {
        if (i < p->axis) outer *= x->dims[i];
        else if (i == p->axis || p->legacy) len *= x->dims[i];
        else inner *= x->dims[i];
    }
    const float *src = in[0];
    float *y = out[0];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float *xs = src + o * len * inner + i;
            float *ys = y + o * len * inner + i;
            int64_t best = 0;
            for (int64_t k = 1; k < len; ++k)
                if (xs[k * inner] > xs[best * inner]) best = k;
            for (int64_t k = 0; k < len; ++k) ys[k * inner] = k == best ? 1.0f : 0.0f;
        }
    return ENGINE_OK;
}
