/* backends/ref/reduce.c - reference kernels for ReduceMean, ReduceSum and
 * ReduceMax.
 *
 * params->axes_mask says which input dimensions are reduced (a mask of 0
 * copies the input: noop_with_empty_axes). keepdims only changes the
 * output's shape, not its C-order data, so the kernel ignores it. For each
 * output element we walk the reduced sub-space; float32 accumulates in
 * double, int64 (ReduceSum/ReduceMax) in wrapping integers; bool
 * (ReduceMax-20) is any-true. An empty reduction gives 0 (Sum), NaN (Mean)
 * or the type's lowest value (Max; false for bool). */
#include <math.h>
#include <stdint.h>

#include "ref_kernels.h"

typedef enum { R_MEAN, R_SUM, R_MAX } reduce_kind;

static engine_status reduce(const engine_node *n, const void *const *in, void *const *out, reduce_kind k) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_reduce_params *p = n->params;
    if (!x || !y || !p || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
    if (x->dtype != ENGINE_DTYPE_F32 && !(x->dtype == ENGINE_DTYPE_I64 && k != R_MEAN) &&
        !(x->dtype == ENGINE_DTYPE_BOOL && k == R_MAX))
        return ENGINE_ERR_UNSUPPORTED;
    if (x->rank < 0 || x->rank > ENGINE_MAX_RANK) return ENGINE_ERR_SHAPE;

    /* Split the input's dimensions into kept (outer) and reduced (inner). */
    int64_t stride[ENGINE_MAX_RANK];
    int64_t st = 1;
    for (int d = x->rank - 1; d >= 0; --d) {
        stride[d] = st;
        st *= x->dims[d];
    }
    int nk = 0, nr = 0;
    int64_t kdim[ENGINE_MAX_RANK], kstr[ENGINE_MAX_RANK], rdim[ENGINE_MAX_RANK], rstr[ENGINE_MAX_RANK];
    int64_t n_out = 1, n_red = 1;
    for (int d = 0; d < x->rank; ++d) {
        if (p->axes_mask & (1u << d)) {
            rdim[nr] = x->dims[d];
            rstr[nr++] = stride[d];
            n_red *= x->dims[d];
        } else {
            kdim[nk] = x->dims[d];
            kstr[nk++] = stride[d];
            n_out *= x->dims[d];
        }
    }
    if (n_out != engine_value_numel(y)) return ENGINE_ERR_SHAPE;

    for (int64_t o = 0; o < n_out; ++o) {
        int64_t base = 0, rem = o;
        for (int d = nk - 1; d >= 0; --d) {
            base += (rem % kdim[d]) * kstr[d];
            rem /= kdim[d];
        }
        double facc = k == R_MAX ? -INFINITY : 0.0;
        uint64_t isum = 0;
        int64_t imax = INT64_MIN;
        for (int64_t r = 0; r < n_red; ++r) {
            int64_t off = base;
            rem = r;
            for (int d = nr - 1; d >= 0; --d) {
                off += (rem % rdim[d]) * rstr[d];
                rem /= rdim[d];
            }
            if (x->dtype == ENGINE_DTYPE_F32) {
                double v = ((const float *)in[0])[off];
                if (k == R_MAX) {
                    if (v > facc || isnan(v)) facc = v; /* NaN propagates, as numpy's max */
                    if (isnan(facc)) break;
                } else {
                    facc += v;
                }
            } else if (x->dtype == ENGINE_DTYPE_BOOL) { /* ReduceMax-20: any true */
                if (((const uint8_t *)in[0])[off]) imax = 1;
            } else {
                int64_t v = ((const int64_t *)in[0])[off];
                if (k == R_MAX) {
                    if (v > imax) imax = v;
                } else {
                    isum += (uint64_t)v;
                }
            }
        }
        if (x->dtype == ENGINE_DTYPE_F32) {
            if (k == R_MEAN) facc = n_red > 0 ? facc / (double)n_red : NAN;
            ((float *)out[0])[o] = (float)facc;
        } else if (x->dtype == ENGINE_DTYPE_BOOL) {
            ((uint8_t *)out[0])[o] = imax == 1; /* an empty reduction: false, the lowest */
        } else {
            ((int64_t *)out[0])[o] = k == R_MAX ? imax : (int64_t)isum;
        }
    }
    return ENGINE_OK;
}

engine_status ref_ReduceMean(const engine_node *n, const void *const *in, void *const *out) {
    return reduce(n, in, out, R_MEAN);
}
engine_status ref_ReduceSum(const engine_node *n, const void *const *in, void *const *out) {
    return reduce(n, in, out, R_SUM);
}
engine_status ref_ReduceMax(const engine_node *n, const void *const *in, void *const *out) {
    return reduce(n, in, out, R_MAX);
}
