/* ops/index.c - shape functions of the ops that select or enumerate
 * elements: NonZero, NonMaxSuppression, TopK, Range.
 *
 * NonZero and NonMaxSuppression have an output shape that depends on their
 * input values: their shape functions check the inputs and leave the
 * data-dependent axis -1 (ops.h, engine_op_data_dependent); the session
 * runs them on the host between stages. TopK needs k constant and Range its
 * three inputs: in a specialisation where those come from data, the node
 * starts a later stage in which they are constants. */
#include <math.h>

#include "ops_util.h"

static engine_status oom(eng_graph *g, const engine_node *n) {
    return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory");
}

/* Output k as `rank` dims with a data-dependent axis (-1). */
static engine_status set_dd_output(eng_graph *g, engine_node *n, int k, engine_dtype dt, int rank,
                                   const int64_t *dims) {
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
    return set_dd_output(g, n, 0, ENGINE_DTYPE_I64, 2, dims);
}

engine_status eng_infer_NonMaxSuppression(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 5);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "boxes", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 1, "scores", ENG_DT_FLOAT))) return st;
    const engine_value *b = n->inputs[0], *s = n->inputs[1];
    if (b->rank != 3 || b->dims[2] != 4)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "boxes must be [batches, boxes, 4]; got rank %d", b->rank);
    if (s->rank != 3 || s->dims[0] != b->dims[0] || s->dims[2] != b->dims[1])
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "scores must be [batches, classes, boxes] = [%lld, C, %lld]", (long long)b->dims[0],
                              (long long)b->dims[1]);
    if (eng_has_input(n, 2) && (st = eng_check_dtype(g, n, 2, "max_output_boxes_per_class", ENG_DT_INTS))) return st;
    for (int k = 3; k < 5; ++k)
        if (eng_has_input(n, k) && (st = eng_check_dtype(g, n, k, k == 3 ? "iou_threshold" : "score_threshold",
                                                          ENG_DT_FLOAT)))
            return st;
    for (int k = 2; k < 5; ++k)
        if (eng_has_input(n, k) && engine_value_numel(n->inputs[k]) > 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d must hold one value; it has %lld", k,
                                  (long long)engine_value_numel(n->inputs[k]));
    int64_t cpb;
    if ((st = eng_attr_int(g, n, "center_point_box", 0, &cpb))) return st;
    if (cpb != 0 && cpb != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "center_point_box must be 0 or 1, not %lld",
                              (long long)cpb);
    engine_nms_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return oom(g, n);
    p->center_point_box = (int)cpb;
    int64_t dims[2] = {-1, 3};
    return set_dd_output(g, n, 0, ENGINE_DTYPE_I64, 2, dims);
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
