/* ops/pool.c - shape inference for MaxPool, AveragePool and the global pools. */
#include <string.h>

#include "ops_util.h"

static engine_status check_x(eng_graph *g, const engine_node *n) {
    const engine_value *x = n->inputs[0];
    /* MaxPool takes uint8 and int8 too (opset 12) */
    unsigned mask = ENG_DT_FLOAT;
    if (n->op == ENGINE_OP_MaxPool && eng_opset(g, n) >= 12) mask |= ENG_DT(ENGINE_DTYPE_U8) | ENG_DT(ENGINE_DTYPE_I8);
    engine_status st = eng_check_dtype(g, n, 0, "X", mask);
    if (st) return st;
    if (x->rank < 3 || x->rank > 2 + ENGINE_MAX_SPATIAL)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "input 0 (X) has rank %d; expected 3 to %d (N, C and 1 to %d spatial dims)", x->rank,
                              2 + ENGINE_MAX_SPATIAL, ENGINE_MAX_SPATIAL);
    return ENGINE_OK;
}

/* Reads an ints attribute of `spatial` (or 2*spatial for pads) values. */
static engine_status spatial_ints(eng_graph *g, const engine_node *n, const char *name, int want, int64_t def,
                                  int64_t minv, int64_t *out) {
    int64_t tmp[2 * ENGINE_MAX_SPATIAL];
    int cnt;
    engine_status st = eng_attr_ints(g, n, name, tmp, 2 * ENGINE_MAX_SPATIAL, &cnt);
    if (st) return st;
    if (cnt >= 0 && cnt != want)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "%s has %d values, expected %d", name, cnt, want);
    for (int d = 0; d < want; ++d) {
        out[d] = cnt >= 0 ? tmp[d] : def;
        if (out[d] < minv || out[d] > ENG_MAX_NUMEL)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "%s[%d] = %lld is out of range", name, d,
                                  (long long)out[d]);
    }
    return ENGINE_OK;
}

static engine_status pool_common(eng_graph *g, engine_node *n, int is_max) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    if ((st = check_x(g, n))) return st;
    const engine_value *x = n->inputs[0];
    engine_pool_params p;
    memset(&p, 0, sizeof p);
    int spatial = p.spatial = x->rank - 2;
    if (!engine_node_attr(n, "kernel_shape"))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'kernel_shape' is missing");
    if ((st = spatial_ints(g, n, "kernel_shape", spatial, 1, 1, p.kernel))) return st;
    if ((st = spatial_ints(g, n, "strides", spatial, 1, 1, p.stride))) return st;
    if ((st = spatial_ints(g, n, "dilations", spatial, 1, 1, p.dilation))) return st;
    int64_t pads[2 * ENGINE_MAX_SPATIAL];
    if ((st = spatial_ints(g, n, "pads", 2 * spatial, 0, 0, pads))) return st;
    int64_t v;
    if ((st = eng_attr_int(g, n, "ceil_mode", 0, &v))) return st;
    p.ceil_mode = v != 0;
    if ((st = eng_attr_int(g, n, "count_include_pad", 0, &v))) return st;
    p.count_include_pad = v != 0;
    if ((st = eng_attr_int(g, n, "storage_order", 0, &v))) return st;
    p.storage_order = (int)(v != 0);
    const char *ap;
    if ((st = eng_attr_string(g, n, "auto_pad", "NOTSET", &ap))) return st;
    int same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
    int valid = strcmp(ap, "VALID") == 0;
    if (!same && !valid && strcmp(ap, "NOTSET") != 0 && ap[0] != '\0')
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "unknown auto_pad '%s'", ap);

    int64_t dims[ENGINE_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int d = 0; d < spatial; ++d) {
        int64_t in = x->dims[2 + d], s = p.stride[d], ext, o;
        if (!eng_mul_dims(p.dilation[d], p.kernel[d] - 1, &ext))
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "dilated kernel on spatial axis %d is too large", d);
        ext += 1;
        if (same) {
            o = (in + s - 1) / s;
            int64_t total = (o - 1) * s + ext - in;
            if (total < 0) total = 0;
            int64_t half = total / 2;
            p.pad_begin[d] = ap[5] == 'U' ? half : total - half;
            p.pad_end[d] = total - p.pad_begin[d];
        } else {
            p.pad_begin[d] = valid ? 0 : pads[d];
            p.pad_end[d] = valid ? 0 : pads[spatial + d];
            int64_t padded = in + p.pad_begin[d] + p.pad_end[d];
            if (padded < ext)
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                      "kernel extent %lld exceeds the padded input size %lld on spatial axis %d",
                                      (long long)ext, (long long)padded, d);
            o = (padded - ext + (p.ceil_mode ? s - 1 : 0)) / s + 1;
            /* ceil_mode: a last window starting in the end padding is dropped */
            if (p.ceil_mode && (o - 1) * s >= in + p.pad_begin[d]) --o;
        }
        dims[2 + d] = o;
    }
    if ((st = eng_set_output(g, n, 0, x->dtype, x->rank, dims))) return st;
    if (n->n_outputs > 1 && n->outputs[1]) {
        /* MaxPool's Indices: the flat index of each maximum (int64) */
        if (!is_max || n->n_outputs > 2)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "has %d outputs, expected %d", n->n_outputs,
                                  is_max ? 2 : 1);
        if ((st = eng_set_output(g, n, 1, ENGINE_DTYPE_I64, x->rank, dims))) return st;
    }
    engine_pool_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}

engine_status eng_infer_MaxPool(eng_graph *g, engine_node *n) {
    return pool_common(g, n, 1);
}

engine_status eng_infer_AveragePool(eng_graph *g, engine_node *n) {
    return pool_common(g, n, 0);
}

static engine_status global_pool(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    if ((st = check_x(g, n))) return st;
    const engine_value *x = n->inputs[0];
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < x->rank; ++d) dims[d] = d < 2 ? x->dims[d] : 1;
    return eng_set_output(g, n, 0, x->dtype, x->rank, dims);
}

engine_status eng_infer_GlobalAveragePool(eng_graph *g, engine_node *n) {
    return global_pool(g, n);
}

engine_status eng_infer_GlobalMaxPool(eng_graph *g, engine_node *n) {
    return global_pool(g, n);
}
