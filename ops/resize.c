/* ops/resize.c - shape inference for Resize, Upsample and GridSample. */
#include <math.h>
#include <string.h>

#include "ops_util.h"

static engine_status parse_mode(eng_graph *g, const engine_node *n, engine_resize_mode *mode) {
    const char *s;
    engine_status st = eng_attr_string(g, n, "mode", "nearest", &s);
    if (st) return st;
    if (strcmp(s, "nearest") == 0) *mode = ENGINE_RESIZE_NEAREST;
    else if (strcmp(s, "linear") == 0 || strcmp(s, "bilinear") == 0 || strcmp(s, "trilinear") == 0)
        *mode = ENGINE_RESIZE_LINEAR;
    else if (strcmp(s, "cubic") == 0 && n->op == ENGINE_OP_Resize && eng_opset(g, n) >= 11)
        *mode = ENGINE_RESIZE_CUBIC;
    else
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "mode '%s' is not supported in opset %d", s,
                              eng_opset(g, n));
    return ENGINE_OK;
}

/* Output dim from a scale: floor(in * scale), as the spec writes it. */
static engine_status scaled_dim(eng_graph *g, const engine_node *n, int d, int64_t in, float scale, int64_t *out) {
    if (!(scale > 0.0f) || !isfinite(scale))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "scale %g on axis %d must be positive", (double)scale, d);
    double o = floor((double)in * (double)scale);
    if (o > (double)ENG_MAX_NUMEL)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output size on axis %d is too large", d);
    *out = (int64_t)o;
    return ENGINE_OK;
}

static engine_status finish(eng_graph *g, engine_node *n, const engine_resize_params *p, const int64_t *dims) {
    const engine_value *x = n->inputs[0];
    engine_status st = eng_set_output(g, n, 0, x->dtype, x->rank, dims);
    if (st) return st;
    engine_resize_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = *p;
    return ENGINE_OK;
}

/* Scales for every dimension, from the scales list (one per dimension). */
static engine_status apply_scales(eng_graph *g, const engine_node *n, const float *scales, int cnt,
                                  engine_resize_params *p, int64_t *dims) {
    const engine_value *x = n->inputs[0];
    if (cnt != x->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "scales has %d values but input 0 has rank %d", cnt,
                              x->rank);
    for (int d = 0; d < x->rank; ++d) {
        engine_status st = scaled_dim(g, n, d, x->dims[d], scales[d], &dims[d]);
        if (st) return st;
        p->scales[d] = scales[d];
    }
    return ENGINE_OK;
}

static void init_params(engine_resize_params *p) {
    memset(p, 0, sizeof *p);
    p->cubic_coeff_a = -0.75f;
    for (int d = 0; d < 8; ++d) p->scales[d] = p->roi_end[d] = 1.0f;
}

static engine_status check_x(eng_graph *g, const engine_node *n) {
    const engine_value *x = n->inputs[0];
    engine_status st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT);
    if (st) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (X) is a scalar");
    return ENGINE_OK;
}

engine_status eng_infer_Resize(eng_graph *g, engine_node *n) {
    int opset = eng_opset(g, n);
    engine_status st = eng_check_input_count(g, n, opset < 11 ? 2 : 1, opset < 11 ? 2 : 4);
    if (st) return st;
    if ((st = check_x(g, n))) return st;
    const engine_value *x = n->inputs[0];
    int rank = x->rank;
    engine_resize_params p;
    init_params(&p);
    if ((st = parse_mode(g, n, &p.mode))) return st;
    int64_t dims[ENGINE_MAX_RANK];
    float scales[ENGINE_MAX_RANK];
    int cnt;

    if (opset < 11) { /* Resize-10: like Upsample-9 */
        p.coord = ENGINE_COORD_ASYMMETRIC;
        p.nearest = ENGINE_NEAREST_FLOOR;
        if ((st = eng_const_floats(g, n, 1, scales, ENGINE_MAX_RANK, &cnt))) return st;
        if ((st = apply_scales(g, n, scales, cnt, &p, dims))) return st;
        return finish(g, n, &p, dims);
    }

    const char *s;
    if ((st = eng_attr_string(g, n, "coordinate_transformation_mode", "half_pixel", &s))) return st;
    if (strcmp(s, "half_pixel") == 0) p.coord = ENGINE_COORD_HALF_PIXEL;
    else if (strcmp(s, "pytorch_half_pixel") == 0) p.coord = ENGINE_COORD_PYTORCH_HALF_PIXEL;
    else if (strcmp(s, "align_corners") == 0) p.coord = ENGINE_COORD_ALIGN_CORNERS;
    else if (strcmp(s, "asymmetric") == 0) p.coord = ENGINE_COORD_ASYMMETRIC;
    else if (strcmp(s, "half_pixel_symmetric") == 0) p.coord = ENGINE_COORD_HALF_PIXEL_SYMMETRIC;
    else if (strcmp(s, "tf_half_pixel_for_nn") == 0 && opset < 13) /* Resize-11's, dropped in 13 */
        p.coord = ENGINE_COORD_TF_HALF_PIXEL_FOR_NN;
    else if (strcmp(s, "tf_crop_and_resize") == 0)
        p.coord = ENGINE_COORD_TF_CROP_AND_RESIZE;
    else
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "coordinate_transformation_mode '%s' is not supported in opset %d", s, opset);
    if ((st = eng_attr_string(g, n, "nearest_mode", "round_prefer_floor", &s))) return st;
    if (strcmp(s, "round_prefer_floor") == 0) p.nearest = ENGINE_NEAREST_ROUND_PREFER_FLOOR;
    else if (strcmp(s, "round_prefer_ceil") == 0) p.nearest = ENGINE_NEAREST_ROUND_PREFER_CEIL;
    else if (strcmp(s, "floor") == 0) p.nearest = ENGINE_NEAREST_FLOOR;
    else if (strcmp(s, "ceil") == 0) p.nearest = ENGINE_NEAREST_CEIL;
    else return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "nearest_mode '%s' is not supported", s);
    int64_t v;
    if ((st = eng_attr_float(g, n, "cubic_coeff_a", -0.75f, &p.cubic_coeff_a))) return st;
    if ((st = eng_attr_int(g, n, "exclude_outside", 0, &v))) return st;
    p.exclude_outside = v != 0;
    if ((st = eng_attr_float(g, n, "extrapolation_value", 0.0f, &p.extrapolation_value))) return st;
    if ((st = eng_attr_int(g, n, "antialias", 0, &v))) return st;
    p.antialias = v != 0;

    /* opset 18: axes names the dimensions scales/sizes cover */
    int64_t axes[ENGINE_MAX_RANK];
    int n_axes;
    if ((st = eng_attr_ints(g, n, "axes", axes, ENGINE_MAX_RANK, &n_axes))) return st;
    if (n_axes < 0) {
        n_axes = rank;
        for (int d = 0; d < rank; ++d) axes[d] = d;
    } else {
        uint32_t seen = 0;
        for (int k = 0; k < n_axes; ++k) {
            int ax;
            if ((st = eng_norm_axis(g, n, axes[k], rank, 0, "axes value", &ax))) return st;
            if (seen & (1u << ax))
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "axes repeats axis %d", ax);
            seen |= 1u << ax;
            axes[k] = ax;
        }
    }
    const char *policy;
    if ((st = eng_attr_string(g, n, "keep_aspect_ratio_policy", "stretch", &policy))) return st;
    int keep = 0; /* 0 stretch, 1 not_larger, 2 not_smaller */
    if (strcmp(policy, "not_larger") == 0) keep = 1;
    else if (strcmp(policy, "not_smaller") == 0) keep = 2;
    else if (strcmp(policy, "stretch") != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "unknown keep_aspect_ratio_policy '%s'", policy);

    /* roi (input 1) only matters for tf_crop_and_resize: starts then ends,
     * one per axis, normalised; it does not change the output size (ONNX's
     * reference and ONNX Runtime size the output from scales or sizes
     * alone) */
    if (p.coord == ENGINE_COORD_TF_CROP_AND_RESIZE) {
        float roi[2 * ENGINE_MAX_RANK];
        int n_roi = -1;
        if (!eng_has_input(n, 1))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "tf_crop_and_resize needs input 1 (roi)");
        if ((st = eng_const_floats(g, n, 1, roi, 2 * ENGINE_MAX_RANK, &n_roi))) return st;
        if (n_roi != 2 * n_axes)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "roi has %d values, expected %d (starts and ends of %d axes)",
                                  n_roi, 2 * n_axes, n_axes);
        for (int k = 0; k < n_axes; ++k) {
            if (!isfinite(roi[k]) || !isfinite(roi[n_axes + k]))
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "roi of axis %d is not finite", (int)axes[k]);
            p.roi_start[axes[k]] = roi[k];
            p.roi_end[axes[k]] = roi[n_axes + k];
        }
    }

    /* scales (input 2) or sizes (input 3); empty tensors mean absent */
    int n_scales = -1, n_sizes = -1;
    int64_t sizes[ENGINE_MAX_RANK];
    if (eng_has_input(n, 2) && (st = eng_const_floats(g, n, 2, scales, ENGINE_MAX_RANK, &n_scales))) return st;
    if (eng_has_input(n, 3) && (st = eng_const_ints(g, n, 3, sizes, ENGINE_MAX_RANK, &n_sizes))) return st;
    if (n_scales == 0) n_scales = -1;
    if (n_sizes == 0) n_sizes = -1;
    if ((n_scales < 0) == (n_sizes < 0))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              n_scales < 0 ? "neither scales nor sizes is given" : "both scales and sizes are given");
    for (int d = 0; d < rank; ++d) dims[d] = x->dims[d];
    if (n_scales > 0) {
        if (n_scales != n_axes)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "scales has %d values, expected %d", n_scales, n_axes);
        for (int k = 0; k < n_axes; ++k) {
            int d = (int)axes[k];
            if ((st = scaled_dim(g, n, d, x->dims[d], scales[k], &dims[d]))) return st;
            p.scales[d] = scales[k];
        }
        return finish(g, n, &p, dims);
    }
    if (n_sizes != n_axes)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "sizes has %d values, expected %d", n_sizes, n_axes);
    for (int k = 0; k < n_axes; ++k)
        if (sizes[k] < 1 || sizes[k] > ENG_MAX_NUMEL)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "sizes[%d] = %lld must be positive", k,
                                  (long long)sizes[k]);
    if (keep) {
        /* one scale for all the axes: the smallest (not_larger) or largest
         * (not_smaller) ratio; sizes round half up */
        double scale = keep == 1 ? INFINITY : 0.0;
        for (int k = 0; k < n_axes; ++k) {
            int64_t in = x->dims[axes[k]];
            if (in < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (X) is empty on axis %d", (int)axes[k]);
            double r = (double)sizes[k] / (double)in;
            scale = keep == 1 ? fmin(scale, r) : fmax(scale, r);
        }
        for (int k = 0; k < n_axes; ++k) {
            int d = (int)axes[k];
            dims[d] = (int64_t)floor(scale * (double)x->dims[d] + 0.5);
            p.scales[d] = (float)scale;
        }
        return finish(g, n, &p, dims);
    }
    for (int k = 0; k < n_axes; ++k) {
        int d = (int)axes[k];
        dims[d] = sizes[k];
        p.scales[d] = x->dims[d] > 0 ? (float)((double)sizes[k] / (double)x->dims[d]) : 1.0f;
    }
    return finish(g, n, &p, dims);
}

/* Upsample: height_scale/width_scale attributes (opsets 1-6), the scales
 * attribute (7-8) or constant input 1 (9, and 10 where it is deprecated);
 * asymmetric coordinates, nearest rounds down. */
engine_status eng_infer_Upsample(eng_graph *g, engine_node *n) {
    int opset = eng_opset(g, n);
    engine_status st = eng_check_input_count(g, n, opset < 9 ? 1 : 2, opset < 9 ? 1 : 2);
    if (st) return st;
    if ((st = check_x(g, n))) return st;
    engine_resize_params p;
    init_params(&p);
    if ((st = parse_mode(g, n, &p.mode))) return st;
    p.coord = ENGINE_COORD_ASYMMETRIC;
    p.nearest = ENGINE_NEAREST_FLOOR;
    float scales[ENGINE_MAX_RANK];
    int cnt;
    if (opset < 7) { /* Upsample-1: height_scale and width_scale of a 4-D input */
        if (n->inputs[0]->rank != 4)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (X) has rank %d, expected 4 (opset %d)",
                                  n->inputs[0]->rank, opset);
        if (!engine_node_attr(n, "height_scale") || !engine_node_attr(n, "width_scale"))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                  "required attributes 'height_scale' and 'width_scale' are missing (opset %d)", opset);
        cnt = 4;
        scales[0] = scales[1] = 1.0f;
        if ((st = eng_attr_float(g, n, "height_scale", 1.0f, &scales[2]))) return st;
        if ((st = eng_attr_float(g, n, "width_scale", 1.0f, &scales[3]))) return st;
    } else if (opset < 9) {
        if (!engine_node_attr(n, "scales"))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'scales' is missing");
        if ((st = eng_attr_floats(g, n, "scales", scales, ENGINE_MAX_RANK, &cnt))) return st;
    } else if ((st = eng_const_floats(g, n, 1, scales, ENGINE_MAX_RANK, &cnt))) {
        return st;
    }
    int64_t dims[ENGINE_MAX_RANK];
    if ((st = apply_scales(g, n, scales, cnt, &p, dims))) return st;
    return finish(g, n, &p, dims);
}

/* GridSample (16: 4-D, bilinear/nearest/bicubic; 20: the modes renamed
 * linear/nearest/cubic and N-D input, of which 2-D and 3-D sampling are
 * supported, cubic in 2-D only). */
engine_status eng_infer_GridSample(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0], *grid = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 1, "grid", ENG_DT_FLOAT))) return st;
    const int opset = eng_opset(g, n);
    engine_gridsample_params p;
    memset(&p, 0, sizeof p);
    const char *mode, *pad;
    if ((st = eng_attr_string(g, n, "mode", opset >= 20 ? "linear" : "bilinear", &mode))) return st;
    if ((st = eng_attr_string(g, n, "padding_mode", "zeros", &pad))) return st;
    int64_t ac;
    if ((st = eng_attr_int(g, n, "align_corners", 0, &ac))) return st;
    static const char *const modes16[] = {"nearest", "bilinear", "bicubic"}, *const modes20[] = {"nearest", "linear",
                                                                                                 "cubic"};
    const char *const *names = opset >= 20 ? modes20 : modes16;
    int m = -1;
    for (int k = 0; k < 3; ++k)
        if (strcmp(mode, names[k]) == 0) m = k;
    if (m < 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "mode '%s' is not one of %s, %s, %s at opset %d",
                              mode, names[0], names[1], names[2], opset);
    p.mode = m == 0 ? ENGINE_RESIZE_NEAREST : m == 1 ? ENGINE_RESIZE_LINEAR : ENGINE_RESIZE_CUBIC;
    if (strcmp(pad, "zeros") == 0) p.padding = 0;
    else if (strcmp(pad, "border") == 0) p.padding = 1;
    else if (strcmp(pad, "reflection") == 0) p.padding = 2;
    else
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "padding_mode '%s' is not one of zeros, border, reflection", pad);
    p.align_corners = ac != 0;
    const int r = x->rank - 2;
    if (x->rank < 3 || (opset < 20 && x->rank != 4))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "X has rank %d; expected %s", x->rank,
                              opset < 20 ? "4 (N, C, H, W) at opset 16" : "at least 3 (N, C, D1, ...)");
    if (r != 2 && r != 3)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "sampling over %d spatial dims is not supported (2 and 3 are)", r);
    if (r == 3 && p.mode == ENGINE_RESIZE_CUBIC)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "cubic mode over 3 spatial dims is not supported");
    char b1[ENG_SHAPE_BUF];
    if (grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[grid->rank - 1] != r)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "grid has shape %s; expected [%lld, ..%d dims.., %d]",
                              eng_shape_str(grid->rank, grid->dims, b1), (long long)x->dims[0], r, r);
    p.spatial = r;
    int64_t dims[ENGINE_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int d = 0; d < r; ++d) dims[2 + d] = grid->dims[1 + d];
    if ((st = eng_set_output(g, n, 0, x->dtype, x->rank, dims))) return st;
    engine_gridsample_params *pp = eng_node_params(g, n, sizeof *pp);
    if (!pp) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory");
    *pp = p;
    return ENGINE_OK;
}
