/* ops/elementwise.c - shape inference for the broadcasting binary ops,
 * Equal and Where (numpy broadcasting; no params). */
#include <string.h>

#include "ops_util.h"

/* Opsets 1-6 of Add, Sub, Mul, Div, Pow, Equal: without broadcast=1 the two
 * shapes must be equal; with it, B's dims line up with A's from `axis`
 * (default: B's last dim under A's last), each equal to A's or 1. numpy
 * broadcasting gives the same result once B has trailing 1s up to A's last
 * axis, so a constant B gets them (in place when this node is its only
 * reader and it is not a graph input, else as a fresh constant); a computed
 * B that needs them is refused. */
static engine_status legacy_broadcast(eng_graph *g, engine_node *n) {
    engine_value *a = n->inputs[0], *b = n->inputs[1];
    char sa[ENG_SHAPE_BUF], sb[ENG_SHAPE_BUF];
    int64_t bc, axis;
    engine_status st = eng_attr_int(g, n, "broadcast", 0, &bc);
    if (st) return st;
    if (!bc) {
        int same = a->rank == b->rank;
        for (int d = 0; same && d < a->rank; ++d) same = a->dims[d] == b->dims[d];
        if (!same)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                  "opset %d without broadcast=1 needs equal shapes, got %s and %s", eng_opset(g, n),
                                  eng_shape_str(a->rank, a->dims, sa), eng_shape_str(b->rank, b->dims, sb));
        return ENGINE_OK;
    }
    if ((st = eng_attr_int(g, n, "axis", a->rank - b->rank, &axis))) return st;
    if (axis < 0) axis += a->rank; /* negative axes are counted from A's end */
    if (b->rank > a->rank || axis < 0 || axis + b->rank > a->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "B of shape %s does not fit A of shape %s at axis %lld",
                              eng_shape_str(b->rank, b->dims, sb), eng_shape_str(a->rank, a->dims, sa),
                              (long long)axis);
    for (int d = 0; d < b->rank; ++d)
        if (b->dims[d] != 1 && b->dims[d] != a->dims[axis + d])
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "B of shape %s does not match A of shape %s at axis %lld",
                                  eng_shape_str(b->rank, b->dims, sb), eng_shape_str(a->rank, a->dims, sa),
                                  (long long)axis);
    int rank = a->rank - (int)axis; /* B's rank once its trailing 1s are added */
    if (rank == b->rank) return ENGINE_OK;
    if (!b->data)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "broadcast of a computed B of shape %s at axis %lld of A %s (opset %d) is not supported; "
                              "only a constant B can be aligned",
                              eng_shape_str(b->rank, b->dims, sb), (long long)axis,
                              eng_shape_str(a->rank, a->dims, sa), eng_opset(g, n));
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < rank; ++d) dims[d] = d < b->rank ? b->dims[d] : 1;
    if (!(b->flags & ENGINE_VALUE_GRAPH_INPUT) && eng_graph_use_count(g, b) == 1)
        return eng_value_set_shape(g, b, b->dtype, rank, dims);
    size_t bytes = (size_t)engine_value_numel(b) * engine_dtype_size(b->dtype);
    void *data = eng_alloc(g->ctx, bytes ? bytes : 1);
    if (!data) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory aligning input 1 (B)");
    if (bytes) memcpy(data, b->data, bytes);
    engine_value *v;
    if ((st = eng_graph_add_value(g, NULL, &v)) || (st = eng_value_set_shape(g, v, b->dtype, rank, dims))) {
        eng_free(g->ctx, data);
        return st;
    }
    eng_value_set_data(g, v, data);
    eng_node_set_input(n, 1, v);
    return ENGINE_OK;
}

static engine_status binary(eng_graph *g, engine_node *n, unsigned mask_a, unsigned mask_b, int same_dtype,
                            engine_dtype out_dtype) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "A", mask_a))) return st;
    if ((st = eng_check_dtype(g, n, 1, "B", mask_b))) return st;
    if (same_dtype && (st = eng_check_same_dtype(g, n, 0, 1))) return st;
    if (eng_opset(g, n) < 7 && (st = legacy_broadcast(g, n))) return st;
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
