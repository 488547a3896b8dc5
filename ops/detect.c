/* ops/detect.c - shape functions of the detection ops:
 * NonMaxSuppression and RoiAlign.
 *
 * NonMaxSuppression has an output shape that depends on its input values:
 * its shape function checks the inputs and leaves the count -1 (ops.h,
 * engine_op_data_dependent); the session runs it on the host between
 * stages. */
#include <math.h>
#include <string.h>

#include "ops_util.h"

static engine_status oom(eng_graph *g, const engine_node *n) {
    return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory");
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
    return eng_set_dd_output(g, n, 0, ENGINE_DTYPE_I64, 2, dims);
}


engine_status eng_infer_RoiAlign(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0], *rois = n->inputs[1], *bi = n->inputs[2];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 1, "rois", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 2, "batch_indices", ENG_DT_INTS))) return st;
    if (x->rank != 4) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "X must be [N, C, H, W]; it has rank %d", x->rank);
    if (rois->rank != 2 || rois->dims[1] != 4)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "rois must be [num_rois, 4]");
    if (bi->rank != 1 || bi->dims[0] != rois->dims[0])
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "batch_indices must be [num_rois] = [%lld]",
                              (long long)rois->dims[0]);
    const char *mode, *ctm;
    int64_t oh, ow, sr;
    float scale;
    if ((st = eng_attr_string(g, n, "mode", "avg", &mode))) return st;
    int opset = eng_opset(g, n);
    if ((st = eng_attr_string(g, n, "coordinate_transformation_mode", opset >= 16 ? "half_pixel" : "output_half_pixel",
                              &ctm)))
        return st;
    if ((st = eng_attr_int(g, n, "output_height", 1, &oh))) return st;
    if ((st = eng_attr_int(g, n, "output_width", 1, &ow))) return st;
    if ((st = eng_attr_int(g, n, "sampling_ratio", 0, &sr))) return st;
    if ((st = eng_attr_float(g, n, "spatial_scale", 1.0f, &scale))) return st;
    if (strcmp(mode, "avg") != 0 && strcmp(mode, "max") != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "mode '%s' is not avg or max", mode);
    if (strcmp(ctm, "half_pixel") != 0 && strcmp(ctm, "output_half_pixel") != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "coordinate_transformation_mode '%s' is not half_pixel or output_half_pixel", ctm);
    if (oh < 1 || ow < 1 || oh > 4096 || ow > 4096 || sr < 0 || sr > 4096)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "output %lldx%lld and sampling_ratio %lld must be in [1, 4096] (sampling_ratio 0: adaptive)",
                              (long long)oh, (long long)ow, (long long)sr);
    if (!(scale > 0.0f) || !isfinite(scale))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "spatial_scale %g must be positive", (double)scale);
    int64_t dims[4] = {rois->dims[0], x->dims[1], oh, ow};
    if ((st = eng_set_output(g, n, 0, x->dtype, 4, dims))) return st;
    engine_roialign_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return oom(g, n);
    p->max_mode = strcmp(mode, "max") == 0;
    p->half_pixel = strcmp(ctm, "half_pixel") == 0;
    p->out_h = oh;
    p->out_w = ow;
    p->sampling_ratio = sr;
    p->spatial_scale = scale;
    return ENGINE_OK;
}
