/* ops/reduce.c - shape inference for the reductions (ReduceMean, ReduceSum,
 * ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceLogSumExp,
 * ReduceSumSquare), ArgMax/ArgMin and CumSum. */
#include <string.h>

#include "ops_util.h"

/* axes come from the attribute (ReduceSum before 13, the others before 18)
 * or from the constant input 1 (after); either form is accepted whichever
 * the opset, the input winning when both are there. No axes: reduce all,
 * or nothing when noop_with_empty_axes = 1. */
static engine_status reduce_common(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    /* ReduceMax-20 and ReduceMin-20 take bool too (any true, all true) */
    unsigned types = ENG_DT_NUM;
    if ((n->op == ENGINE_OP_ReduceMax || n->op == ENGINE_OP_ReduceMin) && eng_opset(g, n) >= 20)
        types |= ENG_DT(ENGINE_DTYPE_BOOL);
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

#define REDUCE_(Name)                                                                                                 \
    engine_status eng_infer_##Name(eng_graph *g, engine_node *n) {                                                   \
        return reduce_common(g, n);                                                                                  \
    }
REDUCE_(ReduceMin)
REDUCE_(ReduceProd)
REDUCE_(ReduceL1)
REDUCE_(ReduceL2)
REDUCE_(ReduceLogSumExp)
REDUCE_(ReduceSumSquare)
#undef REDUCE_

/* ArgMax, ArgMin (opsets 1, 11, 12, 13): axis (negative from 11),
 * keepdims, select_last_index (from 12; accepted whatever the opset).
 * int64 output. */
static engine_status arg_common(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_NUM))) return st;
    int64_t axis, keepdims, last;
    if ((st = eng_attr_int(g, n, "axis", 0, &axis))) return st;
    if ((st = eng_attr_int(g, n, "keepdims", 1, &keepdims))) return st;
    if ((st = eng_attr_int(g, n, "select_last_index", 0, &last))) return st;
    if (last != 0 && last != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "attribute select_last_index must be 0 or 1, got %lld", (long long)last);
    if (x->rank < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (data) must have rank >= 1, got a scalar");
    int ax;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    if (x->dims[ax] == 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "axis %d has length 0: no element to select", ax);
    int rank = 0;
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < x->rank; ++d) {
        if (d != ax) dims[rank++] = x->dims[d];
        else if (keepdims) dims[rank++] = 1;
    }
    if ((st = eng_set_output(g, n, 0, ENGINE_DTYPE_I64, rank, dims))) return st;
    engine_arg_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    p->axis = ax;
    p->keepdims = keepdims != 0;
    p->select_last = (int)last;
    return ENGINE_OK;
}

engine_status eng_infer_ArgMax(eng_graph *g, engine_node *n) {
    return arg_common(g, n);
}

engine_status eng_infer_ArgMin(eng_graph *g, engine_node *n) {
    return arg_common(g, n);
}

/* CumSum (opsets 11, 14): x numeric, axis a constant scalar input (int32 or
 * int64), exclusive and reverse attributes (0 or 1). */
engine_status eng_infer_CumSum(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "x", ENG_DT_NUM))) return st;
    if ((st = eng_check_dtype(g, n, 1, "axis", ENG_DT_INTS))) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (x) is a scalar; expected rank >= 1");
    if (n->inputs[1]->rank > 1 || engine_value_numel(n->inputs[1]) != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 1 (axis) must hold one value, got %lld",
                              (long long)engine_value_numel(n->inputs[1]));
    int64_t axis[1], excl, rev;
    int cnt;
    if ((st = eng_const_ints(g, n, 1, axis, 1, &cnt))) return st;
    if ((st = eng_attr_int(g, n, "exclusive", 0, &excl))) return st;
    if ((st = eng_attr_int(g, n, "reverse", 0, &rev))) return st;
    if ((excl != 0 && excl != 1) || (rev != 0 && rev != 1))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "attributes exclusive and reverse must be 0 or 1, got %lld and %lld", (long long)excl,
                              (long long)rev);
    int ax;
    if ((st = eng_norm_axis(g, n, axis[0], x->rank, 0, "axis", &ax))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_scan_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    memset(p, 0, sizeof *p);
    p->axis = ax;
    p->exclusive = (int)excl;
    p->reverse = (int)rev;
    return ENGINE_OK;
}
