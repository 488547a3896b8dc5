/* ops/index.c - shape functions of the ops that select, enumerate or
 * address elements by index: NonZero, TopK, Range, GatherElements,
 * GatherND, ScatterElements, ScatterND, OneHot, and Size (the element
 * count, folded like Shape).
 *
 * NonZero has an output shape that depends on its input values: its shape
 * function checks the input and leaves the data-dependent axis -1 (ops.h,
 * engine_op_data_dependent); the session runs it on the host between
 * stages. TopK needs k constant and Range its three inputs: in a
 * specialisation where those come from data, the node starts a later stage
 * in which they are constants. Indices that are constants are checked here;
 * indices computed at run time are checked by the kernels. */
#include <math.h>
#include <string.h>

#include "ops_util.h"

static engine_status oom(eng_graph *g, const engine_node *n) {
    return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory");
}

engine_status eng_set_dd_output(eng_graph *g, engine_node *n, int k, engine_dtype dt, int rank, const int64_t *dims) {
    (void)g;
    if (k >= n->n_outputs || !n->outputs[k]) return ENGINE_OK;
    engine_value *v = n->outputs[k];
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < ENGINE_MAX_RANK; ++d) v->dims[d] = d < rank ? dims[d] : 0;
    return ENGINE_OK;
}

engine_status eng_infer_NonZero(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_ANY))) return st;
    int64_t dims[2] = {n->inputs[0]->rank, -1};
    return eng_set_dd_output(g, n, 0, ENGINE_DTYPE_I64, 2, dims);
}

engine_status eng_infer_TopK(eng_graph *g, engine_node *n) {
    int opset = eng_opset(g, n);
    engine_status st = eng_check_input_count(g, n, opset < 10 ? 1 : 2, opset < 10 ? 1 : 2);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_NUM))) return st;
    const engine_value *x = n->inputs[0];
    int64_t axis, largest = 1, sorted = 1, k;
    if ((st = eng_attr_int(g, n, "axis", -1, &axis))) return st;
    if (opset >= 11) {
        if ((st = eng_attr_int(g, n, "largest", 1, &largest))) return st;
        if ((st = eng_attr_int(g, n, "sorted", 1, &sorted))) return st;
    }
    if (opset < 10) {
        if (!engine_node_attr(n, "k"))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute 'k' is required before opset 10");
        if ((st = eng_attr_int(g, n, "k", 0, &k))) return st;
    } else {
        if ((st = eng_check_dtype(g, n, 1, "K", ENG_DT(ENGINE_DTYPE_I64)))) return st;
        int64_t kv[1];
        int cnt;
        if (engine_value_numel(n->inputs[1]) != 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "K must hold one value; it has %lld",
                                  (long long)engine_value_numel(n->inputs[1]));
        if ((st = eng_const_ints(g, n, 1, kv, 1, &cnt))) return st;
        k = kv[0];
    }
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "X must have rank 1 or more");
    int ax;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    if (k < 0 || k > x->dims[ax])
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "k = %lld is outside [0, %lld] (axis %d of X)", (long long)k,
                              (long long)x->dims[ax], ax);
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < x->rank; ++d) dims[d] = d == ax ? k : x->dims[d];
    if ((st = eng_set_output(g, n, 0, x->dtype, x->rank, dims))) return st;
    if ((st = eng_set_output(g, n, 1, ENGINE_DTYPE_I64, x->rank, dims))) return st;
    engine_topk_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return oom(g, n);
    p->axis = ax;
    p->k = k;
    p->largest = largest != 0;
    p->sorted = sorted != 0;
    return ENGINE_OK;
}

engine_status eng_infer_Range(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    unsigned mask = ENG_DT_NUM | ENG_DT(ENGINE_DTYPE_F64);
    if ((st = eng_check_dtype(g, n, 0, "start", mask))) return st;
    for (int k = 1; k < 3; ++k)
        if ((st = eng_check_same_dtype(g, n, 0, k))) return st;
    double v[3];
    for (int k = 0; k < 3; ++k) {
        int present;
        if (engine_value_numel(n->inputs[k]) != 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d must be a scalar; it has %lld elements", k,
                                  (long long)engine_value_numel(n->inputs[k]));
        if ((st = eng_const_scalar(g, n, k, &v[k], &present))) return st;
    }
    if (v[2] == 0.0) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "delta is 0");
    double count = ceil((v[1] - v[0]) / v[2]);
    if (!(count >= 0.0)) count = 0.0; /* negative, or NaN from NaN inputs */
    if (count > (double)ENG_MAX_NUMEL)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "the range has %.0f elements, too many", count);
    int64_t dims[1] = {(int64_t)count};
    return eng_set_output(g, n, 0, n->inputs[0]->dtype, 1, dims);
}

/* Constant int indices of input k: each within [-dims[axis], dims[axis]). */
static engine_status check_const_indices(eng_graph *g, const engine_node *n, int k, int64_t dim, int axis) {
    const engine_value *idx = n->inputs[k];
    if (!(idx->flags & ENGINE_VALUE_CONST) || !idx->data) return ENGINE_OK;
    for (int64_t j = 0; j < engine_value_numel(idx); ++j) {
        int64_t i = (int64_t)eng_tensor_elem(idx, j);
        if (i < -dim || i >= dim)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "index %lld is out of range for axis %d of size %lld",
                                  (long long)i, axis, (long long)dim);
    }
    return ENGINE_OK;
}

static engine_status read_reduction(eng_graph *g, const engine_node *n, int *out) {
    const char *r;
    engine_status st = eng_attr_string(g, n, "reduction", "none", &r);
    if (st) return st;
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    int opset = eng_opset(g, n), allowed = opset >= 18 ? 5 : opset >= 16 ? 3 : 1;
    for (int k = 0; k < allowed; ++k)
        if (strcmp(r, names[k]) == 0) {
            *out = k;
            return ENGINE_OK;
        }
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "reduction '%s' is not defined at opset %d", r, opset);
}

static engine_index_params *index_params(eng_graph *g, engine_node *n) {
    return eng_node_params(g, n, sizeof(engine_index_params));
}

engine_status eng_infer_GatherElements(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    if ((st = eng_check_dtype(g, n, 1, "indices", ENG_DT_INTS))) return st;
    if (x->rank < 1 || idx->rank != x->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "indices has rank %d; data has rank %d (equal, at least 1)",
                              idx->rank, x->rank);
    int64_t axis;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", 0, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    for (int d = 0; d < x->rank; ++d)
        if (d != ax && idx->dims[d] > x->dims[d])
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "indices dim %d (%lld) exceeds data's (%lld)", d,
                                  (long long)idx->dims[d], (long long)x->dims[d]);
    if ((st = check_const_indices(g, n, 1, x->dims[ax], ax))) return st;
    if ((st = eng_set_output(g, n, 0, x->dtype, idx->rank, idx->dims))) return st;
    engine_index_params *p = index_params(g, n);
    if (!p) return oom(g, n);
    p->axis = ax;
    return ENGINE_OK;
}

engine_status eng_infer_GatherND(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    if ((st = eng_check_dtype(g, n, 1, "indices", ENG_DT(ENGINE_DTYPE_I64)))) return st;
    int64_t b = 0;
    if (eng_opset(g, n) >= 12 && (st = eng_attr_int(g, n, "batch_dims", 0, &b))) return st;
    if (x->rank < 1 || idx->rank < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "data and indices need rank 1 or more");
    if (b < 0 || b >= x->rank || b >= idx->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "batch_dims %lld must be below both ranks (%d, %d)",
                              (long long)b, x->rank, idx->rank);
    for (int d = 0; d < b; ++d)
        if (x->dims[d] != idx->dims[d])
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "batch dim %d differs: data %lld, indices %lld", d,
                                  (long long)x->dims[d], (long long)idx->dims[d]);
    int64_t k = idx->dims[idx->rank - 1];
    if (k < 1 || k > x->rank - b)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "indices' last dim %lld must be in [1, %lld]", (long long)k,
                              (long long)(x->rank - b));
    int64_t dims[ENGINE_MAX_RANK];
    int r = 0;
    if (idx->rank - 1 + x->rank - b - k > ENGINE_MAX_RANK)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "output rank exceeds %d", ENGINE_MAX_RANK);
    for (int d = 0; d < idx->rank - 1; ++d) dims[r++] = idx->dims[d];
    for (int d = (int)(b + k); d < x->rank; ++d) dims[r++] = x->dims[d];
    if ((st = eng_set_output(g, n, 0, x->dtype, r, dims))) return st;
    engine_index_params *p = index_params(g, n);
    if (!p) return oom(g, n);
    p->batch_dims = (int)b;
    return ENGINE_OK;
}

engine_status eng_infer_ScatterElements(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1], *u = n->inputs[2];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    if ((st = eng_check_dtype(g, n, 1, "indices", ENG_DT_INTS))) return st;
    if ((st = eng_check_same_dtype(g, n, 0, 2))) return st;
    if (x->rank < 1 || idx->rank != x->rank || u->rank != idx->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "data, indices and updates need one rank (%d, %d, %d)",
                              x->rank, idx->rank, u->rank);
    int64_t axis;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", 0, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    for (int d = 0; d < x->rank; ++d) {
        if (u->dims[d] != idx->dims[d])
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "updates and indices differ at dim %d", d);
        if (d != ax && idx->dims[d] > x->dims[d])
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "indices dim %d (%lld) exceeds data's (%lld)", d,
                                  (long long)idx->dims[d], (long long)x->dims[d]);
    }
    if ((st = check_const_indices(g, n, 1, x->dims[ax], ax))) return st;
    int red;
    if ((st = read_reduction(g, n, &red))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_index_params *p = index_params(g, n);
    if (!p) return oom(g, n);
    p->axis = ax;
    p->reduction = red;
    return ENGINE_OK;
}

engine_status eng_infer_ScatterND(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1], *u = n->inputs[2];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    if ((st = eng_check_dtype(g, n, 1, "indices", ENG_DT(ENGINE_DTYPE_I64)))) return st;
    if ((st = eng_check_same_dtype(g, n, 0, 2))) return st;
    if (x->rank < 1 || idx->rank < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "data and indices need rank 1 or more");
    int64_t k = idx->dims[idx->rank - 1];
    if (k < 1 || k > x->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "indices' last dim %lld must be in [1, %d]", (long long)k,
                              x->rank);
    /* updates: indices.shape[:-1] + data.shape[k:] */
    int want = idx->rank - 1 + x->rank - (int)k;
    int ok = u->rank == want;
    for (int d = 0; ok && d < idx->rank - 1; ++d) ok = u->dims[d] == idx->dims[d];
    for (int d = (int)k; ok && d < x->rank; ++d) ok = u->dims[idx->rank - 1 + d - k] == x->dims[d];
    if (!ok)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "updates must be indices.shape[:-1] + data.shape[%lld:]",
                              (long long)k);
    int red;
    if ((st = read_reduction(g, n, &red))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_index_params *p = index_params(g, n);
    if (!p) return oom(g, n);
    p->reduction = red;
    return ENGINE_OK;
}

engine_status eng_infer_Size(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    return eng_set_output(g, n, 0, ENGINE_DTYPE_I64, 0, NULL);
}

engine_status eng_infer_OneHot(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    const engine_value *idx = n->inputs[0], *vals = n->inputs[2];
    if ((st = eng_check_dtype(g, n, 0, "indices", ENG_DT_NUM))) return st;
    if ((st = eng_check_dtype(g, n, 1, "depth", ENG_DT_NUM))) return st;
    if ((st = eng_check_dtype(g, n, 2, "values", ENG_DT_ANY))) return st;
    if (engine_value_numel(vals) != 2 || vals->rank != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "values must be [off_value, on_value]");
    if (engine_value_numel(n->inputs[1]) != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "depth must hold one value");
    double depth;
    int present;
    if ((st = eng_const_scalar(g, n, 1, &depth, &present))) return st;
    if (!present || !(depth >= 1.0) || depth > (double)ENG_MAX_NUMEL)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "depth %g must be at least 1", depth);
    if (idx->rank + 1 > ENGINE_MAX_RANK)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "output rank exceeds %d", ENGINE_MAX_RANK);
    int64_t axis;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", -1, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, idx->rank + 1, 0, "axis", &ax))) return st;
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0, k = 0; d <= idx->rank; ++d) dims[d] = d == ax ? (int64_t)depth : idx->dims[k++];
    if ((st = eng_set_output(g, n, 0, vals->dtype, idx->rank + 1, dims))) return st;
    engine_index_params *p = index_params(g, n);
    if (!p) return oom(g, n);
    p->axis = ax;
    p->depth = (int64_t)depth; /* in [1, ENG_MAX_NUMEL], checked above */
    return ENGINE_OK;
}
