/* ops/elementwise.c - shape inference for the broadcasting binary ops,
 * Equal and Where (numpy broadcasting; no params). */
#include "ops_util.h"

static engine_status binary(eng_graph *g, engine_node *n, unsigned mask_a, unsigned mask_b, int same_dtype,
                            engine_dtype out_dtype) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "A", mask_a))) return st;
    if ((st = eng_check_dtype(g, n, 1, "B", mask_b))) return st;
    if (same_dtype && (st = eng_check_same_dtype(g, n, 0, 1))) return st;
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
    if ((st = eng_broadcast(g, n, n->inputs[0], n->inputs[1], &rank, dims))) return st;
    if (out_dtype == ENGINE_DTYPE_UNDEFINED) out_dtype = n->inputs[0]->dtype;
    return eng_set_output(g, n, 0, out_dtype, rank, dims);
}

engine_status eng_infer_Add(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM, ENG_DT_NUM, 1, ENGINE_DTYPE_UNDEFINED);
}

engine_status eng_infer_Sub(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM, ENG_DT_NUM, 1, ENGINE_DTYPE_UNDEFINED);
}

engine_status eng_infer_Mul(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM, ENG_DT_NUM, 1, ENGINE_DTYPE_UNDEFINED);
}

engine_status eng_infer_Div(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM, ENG_DT_NUM, 1, ENGINE_DTYPE_UNDEFINED);
}

/* Pow: from opset 12 the exponent may have another type than the base;
 * the output has the base's. */
engine_status eng_infer_Pow(eng_graph *g, engine_node *n) {
    int same = eng_opset(g, n) < 12;
    return binary(g, n, ENG_DT_FLOAT, same ? ENG_DT_FLOAT : ENG_DT_NUM, same, ENGINE_DTYPE_UNDEFINED);
}

engine_status eng_infer_Equal(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM | ENG_DT(ENGINE_DTYPE_BOOL), ENG_DT_NUM | ENG_DT(ENGINE_DTYPE_BOOL), 1,
                  ENGINE_DTYPE_BOOL);
}

engine_status eng_infer_Where(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "condition", ENG_DT(ENGINE_DTYPE_BOOL)))) return st;
    if ((st = eng_check_dtype(g, n, 1, "X", ENG_DT_ANY))) return st;
    if ((st = eng_check_same_dtype(g, n, 1, 2))) return st;
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
    if ((st = eng_broadcast(g, n, n->inputs[0], n->inputs[1], &rank, dims))) return st;
    if ((st = eng_broadcast_dims(g, n, rank, dims, n->inputs[2]->rank, n->inputs[2]->dims, &rank, dims))) return st;
    return eng_set_output(g, n, 0, n->inputs[1]->dtype, rank, dims);
}
