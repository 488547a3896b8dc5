/* ops/softmax.c - shape inference for Softmax, LogSoftmax and Hardmax. */
#include "ops_util.h"

/* Before opset 13 the input is coerced to 2-D at `axis` (default 1); from
 * 13 the op normalises along `axis` only (default -1). A legacy node whose
 * axis is the last dimension means the same as the new form, so it is
 * stored as such (legacy = 0) to let backends take one path. */
static engine_status softmax_common(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_FLOAT))) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 is a scalar; expected rank >= 1");
    int legacy = eng_opset(g, n) < 13;
    int64_t axis;
    if ((st = eng_attr_int(g, n, "axis", legacy ? 1 : -1, &axis))) return st;
    int ax;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    if (legacy && ax == x->rank - 1) legacy = 0;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_softmax_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    p->axis = ax;
    p->legacy = legacy;
    return ENGINE_OK;
}

engine_status eng_infer_Softmax(eng_graph *g, engine_node *n) {
    return softmax_common(g, n);
}

engine_status eng_infer_LogSoftmax(eng_graph *g, engine_node *n) {
    return softmax_common(g, n);
}

engine_status eng_infer_Hardmax(eng_graph *g, engine_node *n) {
    return softmax_common(g, n);
}
