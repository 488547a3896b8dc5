/* ops/reduce.c - shape inference for ReduceMean, ReduceSum, ReduceMax. */
#include "ops_util.h"

/* axes come from the attribute (ReduceSum before 13, the others before 18)
 * or from the constant input 1 (after); either form is accepted whichever
 * the opset, the input winning when both are there. No axes: reduce all,
 * or nothing when noop_with_empty_axes = 1. */
static engine_status reduce_common(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    /* ReduceMax-20 takes bool too (any true) */
    unsigned types = ENG_DT_NUM;
    if (n->op == ENGINE_OP_ReduceMax && eng_opset(g, n) >= 20) types |= ENG_DT(ENGINE_DTYPE_BOOL);
    if ((st = eng_check_dtype(g, n, 0, "data", types))) return st;
    int64_t keepdims, noop;
    if ((st = eng_attr_int(g, n, "keepdims", 1, &keepdims))) return st;
    if ((st = eng_attr_int(g, n, "noop_with_empty_axes", 0, &noop))) return st;
    int64_t axes[ENGINE_MAX_RANK * 2];
    int cnt = -1;
    if (eng_has_input(n, 1)) {
        if ((st = eng_const_ints(g, n, 1, axes, ENGINE_MAX_RANK * 2, &cnt))) return st;
    } else if ((st = eng_attr_ints(g, n, "axes", axes, ENGINE_MAX_RANK * 2, &cnt))) {
        return st;
    }
    uint32_t mask = 0;
    if (cnt <= 0) {
        if (!noop) mask = x->rank > 0 ? (uint32_t)((1ull << x->rank) - 1) : 0;
    } else {
        for (int k = 0; k < cnt; ++k) {
            int ax;
            if ((st = eng_norm_axis(g, n, axes[k], x->rank, 0, "axes value", &ax))) return st;
            mask |= 1u << ax;
        }
    }
    int rank = 0;
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < x->rank; ++d) {
        if (!(mask & (1u << d))) dims[rank++] = x->dims[d];
        else if (keepdims) dims[rank++] = 1;
    }
    if ((st = eng_set_output(g, n, 0, x->dtype, rank, dims))) return st;
    engine_reduce_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    p->axes_mask = mask;
    p->keepdims = keepdims != 0;
    return ENGINE_OK;
}

engine_status eng_infer_ReduceMean(eng_graph *g, engine_node *n) {
    return reduce_common(g, n);
}

engine_status eng_infer_ReduceSum(eng_graph *g, engine_node *n) {
    return reduce_common(g, n);
}

engine_status eng_infer_ReduceMax(eng_graph *g, engine_node *n) {
    return reduce_common(g, n);
}
