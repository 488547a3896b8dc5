/* ops/elementwise.c - shape inference for the broadcasting binary ops,
 * the comparisons, the logical ops, Mod, Where and the variadic
 * Min/Max/Sum/Mean (numpy broadcasting; only Mod has params). */
#include <stdio.h>
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
    return binary(g, n, ENG_DT_NUM8, ENG_DT_NUM8, 1, ENGINE_DTYPE_UNDEFINED);
}

engine_status eng_infer_Sub(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM8, ENG_DT_NUM8, 1, ENGINE_DTYPE_UNDEFINED);
}

engine_status eng_infer_Mul(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM8, ENG_DT_NUM8, 1, ENGINE_DTYPE_UNDEFINED);
}

engine_status eng_infer_Div(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT_NUM8, ENG_DT_NUM8, 1, ENGINE_DTYPE_UNDEFINED);
}

/* Pow: from opset 12 the base may be int32/int64 and the exponent may
 * have another type than the base; the output has the base's. */
engine_status eng_infer_Pow(eng_graph *g, engine_node *n) {
    int same = eng_opset(g, n) < 12;
    return binary(g, n, same ? ENG_DT_FLOAT : ENG_DT_NUM, same ? ENG_DT_FLOAT : ENG_DT_NUM, same,
                  ENGINE_DTYPE_UNDEFINED);
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

/* Comparisons: numeric inputs of one dtype (float only before opset 9 for
 * Greater/Less), bool output. GreaterOrEqual/LessOrEqual start at 12. */
static engine_status compare(eng_graph *g, engine_node *n) {
    unsigned m = ENG_DT_NUM;
    if ((n->op == ENGINE_OP_Greater || n->op == ENGINE_OP_Less) && eng_opset(g, n) < 9) m = ENG_DT_FLOAT;
    return binary(g, n, m, m, 1, ENGINE_DTYPE_BOOL);
}

engine_status eng_infer_Greater(eng_graph *g, engine_node *n) {
    return compare(g, n);
}

engine_status eng_infer_Less(eng_graph *g, engine_node *n) {
    return compare(g, n);
}

engine_status eng_infer_GreaterOrEqual(eng_graph *g, engine_node *n) {
    return compare(g, n);
}

engine_status eng_infer_LessOrEqual(eng_graph *g, engine_node *n) {
    return compare(g, n);
}

/* And, Or, Xor: bool inputs, bool output (opset 1: legacy broadcast). */
engine_status eng_infer_And(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT(ENGINE_DTYPE_BOOL), ENG_DT(ENGINE_DTYPE_BOOL), 1, ENGINE_DTYPE_BOOL);
}

engine_status eng_infer_Or(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT(ENGINE_DTYPE_BOOL), ENG_DT(ENGINE_DTYPE_BOOL), 1, ENGINE_DTYPE_BOOL);
}

engine_status eng_infer_Xor(eng_graph *g, engine_node *n) {
    return binary(g, n, ENG_DT(ENGINE_DTYPE_BOOL), ENG_DT(ENGINE_DTYPE_BOOL), 1, ENGINE_DTYPE_BOOL);
}

/* Mod (opsets 10, 13): numeric inputs of one dtype. fmod = 0 is the
 * integer modulo (the result has the divisor's sign); the spec requires
 * fmod = 1 for floating-point inputs. The attribute travels in the params'
 * `to` (ops.h). */
engine_status eng_infer_Mod(eng_graph *g, engine_node *n) {
    int64_t fmod;
    engine_status st = eng_attr_int(g, n, "fmod", 0, &fmod);
    if (st) return st;
    if (fmod != 0 && fmod != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute fmod must be 0 or 1, got %lld",
                              (long long)fmod);
    if ((st = binary(g, n, ENG_DT_NUM8, ENG_DT_NUM8, 1, ENGINE_DTYPE_UNDEFINED))) return st;
    if (n->inputs[0]->dtype == ENGINE_DTYPE_F32 && fmod == 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "floating-point inputs need attribute fmod = 1 (the spec leaves fmod = 0 to integers)");
    engine_cast_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    p->to = (int)fmod;
    p->value = 0.0;
    return ENGINE_OK;
}

/* Min, Max, Sum, Mean: one or more inputs of one dtype, all broadcast
 * together (multidirectional, opset 8 on; before it the shapes are equal,
 * which broadcasting accepts too). Float only before opset 12 (Min/Max) and
 * for Sum/Mean. */
static engine_status variadic(eng_graph *g, engine_node *n, unsigned mask) {
    if (n->n_inputs < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "needs at least one input, got none");
    int rank = 0;
    int64_t dims[ENGINE_MAX_RANK];
    engine_status st;
    for (int k = 0; k < n->n_inputs; ++k) {
        char what[24];
        snprintf(what, sizeof what, "data_%d", k);
        if (!eng_has_input(n, k))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d (%s) is missing", k, what);
        if ((st = eng_check_dtype(g, n, k, what, mask))) return st;
        if (k > 0 && (st = eng_check_same_dtype(g, n, 0, k))) return st;
        const engine_value *v = n->inputs[k];
        if (k == 0) {
            rank = v->rank;
            memcpy(dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
        } else if ((st = eng_broadcast_dims(g, n, rank, dims, v->rank, v->dims, &rank, dims))) {
            return st;
        }
    }
    return eng_set_output(g, n, 0, n->inputs[0]->dtype, rank, dims);
}

engine_status eng_infer_Min(eng_graph *g, engine_node *n) {
    return variadic(g, n, eng_opset(g, n) < 12 ? ENG_DT_FLOAT : ENG_DT_NUM8);
}

engine_status eng_infer_Max(eng_graph *g, engine_node *n) {
    return variadic(g, n, eng_opset(g, n) < 12 ? ENG_DT_FLOAT : ENG_DT_NUM8);
}

engine_status eng_infer_Sum(eng_graph *g, engine_node *n) {
    return variadic(g, n, ENG_DT_FLOAT);
}

engine_status eng_infer_Mean(eng_graph *g, engine_node *n) {
    return variadic(g, n, ENG_DT_FLOAT);
}
