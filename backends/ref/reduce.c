/* backends/ref/reduce.c - reference kernels for the reductions and
 * ArgMax/ArgMin.
 *
 * params->axes_mask says which input dimensions are reduced (a mask of 0
 * copies the input: noop_with_empty_axes). keepdims only changes the
 * output's shape, not its C-order data, so the kernel ignores it. For each
 * output element we walk the reduced sub-space; float32 accumulates in
 * double (LogSumExp subtracts the maximum first), int64 (ReduceSum, Max,
 * Min, Prod, SumSquare, L1) in wrapping integers; bool (ReduceMax-20,
 * ReduceMin-20) is any-true / all-true. An empty reduction gives the op's
 * identity (ops.h, engine_reduce_params). ArgMax/ArgMin and CumSum walk
 * one axis. */
#include <math.h>
#include <stdint.h>

#include "ref_kernels.h"

typedef enum { R_MEAN, R_SUM, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LSE, R_SSQ } reduce_kind;

static engine_status reduce(const engine_node *n, const void *const *in, void *const *out, reduce_kind k) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_reduce_params *p = n->params;
    if (!x || !y || !p || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
    if (x->dtype != ENGINE_DTYPE_F32 && !(x->dtype == ENGINE_DTYPE_I64 && k != R_MEAN && k != R_L2 && k != R_LSE) &&
        !(x->dtype == ENGINE_DTYPE_BOOL && (k == R_MAX || k == R_MIN)))
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
        double facc = k == R_MAX || k == R_LSE ? -INFINITY : k == R_MIN ? INFINITY : k == R_PROD ? 1.0 : 0.0;
        uint64_t iacc = k == R_PROD ? 1u : 0u;
        int64_t imax = INT64_MIN, imin = INT64_MAX;
        for (int pass = 0; pass < (k == R_LSE ? 2 : 1); ++pass) {
            /* LogSumExp: pass 0 finds the maximum m, pass 1 sums exp(v - m) */
            double m = facc;
            if (pass == 1) {
                if (isinf(m) || isnan(m)) break; /* all -inf (or empty), a +inf or a NaN: m is the answer */
                facc = 0.0;
            }
            for (int64_t r = 0; r < n_red; ++r) {
                int64_t off = base;
                rem = r;
                for (int d = nr - 1; d >= 0; --d) {
                    off += (rem % rdim[d]) * rstr[d];
                    rem /= rdim[d];
                }
                if (x->dtype == ENGINE_DTYPE_F32) {
                    double v = ((const float *)in[0])[off];
                    switch (k) {
                    case R_MAX: case R_LSE:
                        if (pass == 1) facc += exp(v - m);
                        else if (v > facc || isnan(v)) facc = v; /* NaN propagates, as numpy's max */
                        break;
                    case R_MIN:
                        if (v < facc || isnan(v)) facc = v;
                        break;
                    case R_PROD: facc *= v; break;
                    case R_L1: facc += fabs(v); break;
                    case R_L2: case R_SSQ: facc += v * v; break;
                    case R_MEAN: case R_SUM: facc += v; break;
                    }
                    if ((k == R_MAX || k == R_MIN) && isnan(facc)) break;
                } else if (x->dtype == ENGINE_DTYPE_BOOL) { /* ReduceMax-20: any true; ReduceMin-20: all true */
                    if (((const uint8_t *)in[0])[off]) imax = 1;
                    else imin = 0;
                } else {
                    int64_t v = ((const int64_t *)in[0])[off];
                    uint64_t u = (uint64_t)v;
                    switch (k) {
                    case R_MAX: if (v > imax) imax = v; break;
                    case R_MIN: if (v < imin) imin = v; break;
                    case R_PROD: iacc *= u; break;
                    case R_L1: iacc += v < 0 ? 0u - u : u; break;
                    case R_SSQ: iacc += u * u; break;
                    default: iacc += u; break;
                    }
                }
            }
            if (k == R_LSE && pass == 1) facc = m + log(facc);
        }
        if (x->dtype == ENGINE_DTYPE_F32) {
            if (k == R_MEAN) facc = n_red > 0 ? facc / (double)n_red : NAN;
            if (k == R_L2) facc = sqrt(facc);
            ((float *)out[0])[o] = (float)facc;
        } else if (x->dtype == ENGINE_DTYPE_BOOL) {
            /* an empty reduction: false for Max, true for Min (their identities) */
            ((uint8_t *)out[0])[o] = k == R_MAX ? imax == 1 : imin != 0;
        } else {
            ((int64_t *)out[0])[o] = k == R_MAX ? imax : k == R_MIN ? imin : (int64_t)iacc;
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

#define REDUCE_(Name, kind)                                                                      \
    engine_status ref_##Name(const engine_node *n, const void *const *in, void *const *out) {   \
        return reduce(n, in, out, kind);                                                         \
    }
REDUCE_(ReduceMin, R_MIN)
REDUCE_(ReduceProd, R_PROD)
REDUCE_(ReduceL1, R_L1)
REDUCE_(ReduceL2, R_L2)
REDUCE_(ReduceLogSumExp, R_LSE)
REDUCE_(ReduceSumSquare, R_SSQ)
#undef REDUCE_

/* ArgMax, ArgMin: float32, int64 or int32 input, int64 output. The first
 * extreme along the axis (the last with select_last); a NaN is the extreme
 * (the first NaN, or the last with select_last). */
static engine_status arg(const engine_node *n, const void *const *in, void *const *out, int is_max) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_arg_params *p = n->params;
    if (!x || !y || !p || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (y->dtype != ENGINE_DTYPE_I64) return ENGINE_ERR_UNSUPPORTED;
    if (x->dtype != ENGINE_DTYPE_F32 && x->dtype != ENGINE_DTYPE_I64 && x->dtype != ENGINE_DTYPE_I32)
        return ENGINE_ERR_UNSUPPORTED;
    if (x->rank < 1 || x->rank > ENGINE_MAX_RANK || p->axis < 0 || p->axis >= x->rank) return ENGINE_ERR_SHAPE;
    int64_t outer = 1, len = x->dims[p->axis], inner = 1;
    for (int d = 0; d < p->axis; ++d) outer *= x->dims[d];
    for (int d = p->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
    if (outer * inner != engine_value_numel(y) || (len == 0 && outer * inner > 0)) return ENGINE_ERR_SHAPE;
    int64_t *r = out[0];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const int64_t base = o * len * inner + i;
            int64_t best = 0;
            for (int64_t j = 1; j < len; ++j) {
                int64_t a = base + j * inner, b = base + best * inner;
                int better, tie;
                if (x->dtype == ENGINE_DTYPE_F32) {
                    float u = ((const float *)in[0])[a], v = ((const float *)in[0])[b];
                    if (isnan(v)) better = 0, tie = isnan(u);
                    else if (isnan(u)) better = 1, tie = 0;
                    else better = is_max ? u > v : u < v, tie = u == v;
                } else if (x->dtype == ENGINE_DTYPE_I64) {
                    int64_t u = ((const int64_t *)in[0])[a], v = ((const int64_t *)in[0])[b];
                    better = is_max ? u > v : u < v, tie = u == v;
                } else {
                    int32_t u = ((const int32_t *)in[0])[a], v = ((const int32_t *)in[0])[b];
                    better = is_max ? u > v : u < v, tie = u == v;
                }
                if (better || (tie && p->select_last)) best = j;
            }
            r[o * inner + i] = best;
        }
    return ENGINE_OK;
}

engine_status ref_ArgMax(const engine_node *n, const void *const *in, void *const *out) {
    return arg(n, in, out, 1);
}
engine_status ref_ArgMin(const engine_node *n, const void *const *in, void *const *out) {
    return arg(n, in, out, 0);
}

/* CumSum: float32 (summed in double), int64 or int32 (wrapping) running
 * sums along the axis; exclusive starts from 0, reverse runs from the end. */
engine_status ref_CumSum(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_scan_params *p = n->params;
    if (!x || !y || !p || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->dtype != y->dtype ||
        (x->dtype != ENGINE_DTYPE_F32 && x->dtype != ENGINE_DTYPE_I64 && x->dtype != ENGINE_DTYPE_I32))
        return ENGINE_ERR_UNSUPPORTED;
    if (p->axis < 0 || p->axis >= x->rank) return ENGINE_ERR_SHAPE;
    int64_t outer = 1, len = x->dims[p->axis], inner = 1;
    for (int d = 0; d < p->axis; ++d) outer *= x->dims[d];
    for (int d = p->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            double facc = 0.0;
            uint64_t iacc = 0;
            for (int64_t j = 0; j < len; ++j) {
                int64_t k = p->reverse ? len - 1 - j : j;
                int64_t at = o * len * inner + k * inner + i;
                if (x->dtype == ENGINE_DTYPE_F32) {
                    double v = ((const float *)in[0])[at];
                    if (!p->exclusive) facc += v;
                    ((float *)out[0])[at] = (float)facc;
                    if (p->exclusive) facc += v;
                } else {
                    uint64_t v = x->dtype == ENGINE_DTYPE_I64 ? (uint64_t)((const int64_t *)in[0])[at]
                                                              : (uint64_t)(int64_t)((const int32_t *)in[0])[at];
                    if (!p->exclusive) iacc += v;
                    if (x->dtype == ENGINE_DTYPE_I64) ((int64_t *)out[0])[at] = (int64_t)iacc;
                    else ((int32_t *)out[0])[at] = (int32_t)(uint32_t)iacc;
                    if (p->exclusive) iacc += v;
                }
            }
        }
    return ENGINE_OK;
}
