/* ops/conv.c - shape inference for Conv and ConvTranspose. */
#include <string.h>

#include "ops_util.h"

typedef enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } auto_pad_kind;

/* engine.exact_rounding (set by the mark_exact_rounding pass): 0 or 1. */
static engine_status read_exact_rounding(eng_graph *g, const engine_node *n, engine_conv_params *p) {
    int64_t v;
    engine_status st = eng_attr_int(g, n, "engine.exact_rounding", 0, &v);
    if (st) return st;
    if (v != 0 && v != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "engine.exact_rounding is %lld, expected 0 or 1",
                              (long long)v);
    p->exact_rounding = (int)v;
    return ENGINE_OK;
}

static engine_status read_auto_pad(eng_graph *g, const engine_node *n, auto_pad_kind *out) {
    const char *s;
    engine_status st = eng_attr_string(g, n, "auto_pad", "NOTSET", &s);
    if (st) return st;
    if (strcmp(s, "NOTSET") == 0 || s[0] == '\0') *out = PAD_NOTSET;
    else if (strcmp(s, "SAME_UPPER") == 0) *out = PAD_SAME_UPPER;
    else if (strcmp(s, "SAME_LOWER") == 0) *out = PAD_SAME_LOWER;
    else if (strcmp(s, "VALID") == 0) *out = PAD_VALID;
    else return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "unknown auto_pad '%s'", s);
    return ENGINE_OK;
}

/* Reads kernel_shape/strides/dilations/pads (each of `spatial` entries, pads
 * 2*spatial), checking lengths and signs. kernel_shape defaults to the
 * weight's spatial dims (wk), which it must match when given. */
static engine_status read_window(eng_graph *g, const engine_node *n, int spatial, const int64_t *wk,
                                 engine_conv_params *p) {
    int64_t tmp[2 * ENGINE_MAX_SPATIAL];
    int cnt;
    engine_status st = eng_attr_ints(g, n, "kernel_shape", tmp, ENGINE_MAX_SPATIAL, &cnt);
    if (st) return st;
    if (cnt >= 0 && cnt != spatial)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "kernel_shape has %d values, expected %d", cnt,
                              spatial);
    for (int d = 0; d < spatial; ++d) {
        p->kernel[d] = cnt >= 0 ? tmp[d] : wk[d];
        if (p->kernel[d] != wk[d])
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                  "kernel_shape[%d] = %lld but input 1 (W) has %lld on that axis", d,
                                  (long long)p->kernel[d], (long long)wk[d]);
        if (p->kernel[d] < 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "kernel size %lld on spatial axis %d is not positive",
                                  (long long)p->kernel[d], d);
    }
    static const char *const names[2] = {"strides", "dilations"};
    int64_t *dst[2] = {p->stride, p->dilation};
    for (int a = 0; a < 2; ++a) {
        st = eng_attr_ints(g, n, names[a], tmp, ENGINE_MAX_SPATIAL, &cnt);
        if (st) return st;
        if (cnt >= 0 && cnt != spatial)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "%s has %d values, expected %d", names[a], cnt,
                                  spatial);
        for (int d = 0; d < spatial; ++d) {
            dst[a][d] = cnt >= 0 ? tmp[d] : 1;
            if (dst[a][d] < 1)
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "%s[%d] = %lld must be positive", names[a],
                                      d, (long long)dst[a][d]);
        }
    }
    st = eng_attr_ints(g, n, "pads", tmp, 2 * ENGINE_MAX_SPATIAL, &cnt);
    if (st) return st;
    if (cnt >= 0 && cnt != 2 * spatial)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "pads has %d values, expected %d", cnt, 2 * spatial);
    for (int d = 0; d < spatial; ++d) {
        p->pad_begin[d] = cnt >= 0 ? tmp[d] : 0;
        p->pad_end[d] = cnt >= 0 ? tmp[spatial + d] : 0;
        if (p->pad_begin[d] < 0 || p->pad_end[d] < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "pads on spatial axis %d are negative", d);
        if (p->pad_begin[d] > ENG_MAX_NUMEL || p->pad_end[d] > ENG_MAX_NUMEL)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "pads on spatial axis %d are too large", d);
    }
    return ENGINE_OK;
}

/* Shared with nothing else: the sliding window output length of Conv.
 * Dims and attributes are bounded by ENG_MAX_NUMEL so the sums below fit. */
static engine_status conv_out_dim(eng_graph *g, const engine_node *n, int d, int64_t in, auto_pad_kind ap,
                                  engine_conv_params *p, int64_t *out) {
    int64_t ext;
    if (!eng_mul_dims(p->dilation[d], p->kernel[d] - 1, &ext))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "dilated kernel on spatial axis %d is too large", d);
    ext += 1;
    if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
        int64_t o = (in + p->stride[d] - 1) / p->stride[d];
        int64_t total = (o - 1) * p->stride[d] + ext - in;
        if (total < 0) total = 0;
        int64_t small = total / 2;
        p->pad_begin[d] = ap == PAD_SAME_UPPER ? small : total - small;
        p->pad_end[d] = total - p->pad_begin[d];
        *out = o;
        return ENGINE_OK;
    }
    if (ap == PAD_VALID) p->pad_begin[d] = p->pad_end[d] = 0;
    int64_t span = in + p->pad_begin[d] + p->pad_end[d] - ext;
    if (span < 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "kernel extent %lld exceeds the padded input size %lld on spatial axis %d",
                              (long long)ext, (long long)(in + p->pad_begin[d] + p->pad_end[d]), d);
    *out = span / p->stride[d] + 1;
    return ENGINE_OK;
}

/* Checks X, W, B for both ops; returns the spatial count. */
static engine_status check_conv_inputs(eng_graph *g, const engine_node *n, int *spatial) {
    /* input 3: the fused residual operand (engine.sum, checked by eng_read_epilogue) */
    engine_status st = eng_check_input_count(g, n, 2, engine_node_attr(n, "engine.sum") ? 4 : 3);
    if (st) return st;
    const engine_value *x = n->inputs[0], *w = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 1, "W", ENG_DT_FLOAT))) return st;
    if (x->rank < 3 || x->rank > 2 + ENGINE_MAX_SPATIAL)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "input 0 (X) has rank %d; expected 3 to %d (N, C and 1 to %d spatial dims)", x->rank,
                              2 + ENGINE_MAX_SPATIAL, ENGINE_MAX_SPATIAL);
    if (w->rank != x->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 1 (W) has rank %d but input 0 (X) has rank %d",
                              w->rank, x->rank);
    if (eng_has_input(n, 2) && (st = eng_check_dtype(g, n, 2, "B", ENG_DT_FLOAT))) return st;
    *spatial = x->rank - 2;
    return ENGINE_OK;
}

static engine_status check_bias(eng_graph *g, const engine_node *n, int64_t m) {
    if (!eng_has_input(n, 2)) return ENGINE_OK;
    const engine_value *b = n->inputs[2];
    if (b->rank != 1 || b->dims[0] != m) {
        char buf[ENG_SHAPE_BUF];
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 2 (B) has shape %s, expected [%lld]",
                              eng_shape_str(b->rank, b->dims, buf), (long long)m);
    }
    return ENGINE_OK;
}

engine_status eng_infer_Conv(eng_graph *g, engine_node *n) {
    int spatial;
    engine_status st = check_conv_inputs(g, n, &spatial);
    if (st) return st;
    const engine_value *x = n->inputs[0], *w = n->inputs[1];
    engine_conv_params p;
    memset(&p, 0, sizeof p);
    p.spatial = spatial;
    if ((st = eng_attr_int(g, n, "group", 1, &p.group))) return st;
    if (p.group < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "group %lld must be positive", (long long)p.group);
    int64_t c = x->dims[1], m = w->dims[0];
    if (c % p.group != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (X) has %lld channels, not divisible by group %lld",
                              (long long)c, (long long)p.group);
    if (w->dims[1] != c / p.group)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "input 1 (W) has %lld channels per group but input 0 (X) has %lld (%lld channels, group %lld)",
                              (long long)w->dims[1], (long long)(c / p.group), (long long)c, (long long)p.group);
    if (m % p.group != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "input 1 (W) has %lld output channels, not divisible by group %lld", (long long)m,
                              (long long)p.group);
    if ((st = check_bias(g, n, m))) return st;
    if ((st = read_window(g, n, spatial, w->dims + 2, &p))) return st;
    auto_pad_kind ap;
    if ((st = read_auto_pad(g, n, &ap))) return st;
    int64_t dims[ENGINE_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = m;
    for (int d = 0; d < spatial; ++d)
        if ((st = conv_out_dim(g, n, d, x->dims[2 + d], ap, &p, &dims[2 + d]))) return st;
    if ((st = eng_read_epilogue(g, n, 1, x->rank, dims, &p.epilogue))) return st;
    if ((st = read_exact_rounding(g, n, &p))) return st;
    if ((st = eng_set_output(g, n, 0, ENGINE_DTYPE_F32, x->rank, dims))) return st;
    engine_conv_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}

engine_status eng_infer_ConvTranspose(eng_graph *g, engine_node *n) {
    int spatial;
    engine_status st = check_conv_inputs(g, n, &spatial);
    if (st) return st;
    const engine_value *x = n->inputs[0], *w = n->inputs[1];
    engine_conv_params p;
    memset(&p, 0, sizeof p);
    p.spatial = spatial;
    if ((st = eng_attr_int(g, n, "group", 1, &p.group))) return st;
    if (p.group < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "group %lld must be positive", (long long)p.group);
    int64_t c = x->dims[1];
    if (w->dims[0] != c)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "input 1 (W) has %lld input channels but input 0 (X) has %lld", (long long)w->dims[0],
                              (long long)c);
    if (c % p.group != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (X) has %lld channels, not divisible by group %lld",
                              (long long)c, (long long)p.group);
    int64_t m;
    if (!eng_mul_dims(w->dims[1], p.group, &m))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output channel count overflows");
    if ((st = check_bias(g, n, m))) return st;
    if ((st = read_window(g, n, spatial, w->dims + 2, &p))) return st;
    auto_pad_kind ap;
    if ((st = read_auto_pad(g, n, &ap))) return st;

    int64_t tmp[ENGINE_MAX_RANK];
    int cnt;
    if ((st = eng_attr_ints(g, n, "output_padding", tmp, ENGINE_MAX_SPATIAL, &cnt))) return st;
    if (cnt >= 0 && cnt != spatial)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "output_padding has %d values, expected %d", cnt,
                              spatial);
    for (int d = 0; d < spatial; ++d) {
        p.output_padding[d] = cnt >= 0 ? tmp[d] : 0;
        if (p.output_padding[d] < 0 || p.output_padding[d] > ENG_MAX_NUMEL)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "output_padding[%d] = %lld is invalid", d,
                                  (long long)p.output_padding[d]);
    }
    int64_t oshape[ENGINE_MAX_RANK];
    int ocnt;
    if ((st = eng_attr_ints(g, n, "output_shape", oshape, ENGINE_MAX_RANK, &ocnt))) return st;
    const int64_t *os = NULL;
    if (ocnt >= 0) {
        /* The spec gives spatial dims; some exporters write the full shape. */
        if (ocnt == spatial) os = oshape;
        else if (ocnt == spatial + 2) os = oshape + 2;
        else
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "output_shape has %d values, expected %d", ocnt,
                                  spatial);
    }

    int64_t dims[ENGINE_MAX_RANK];
    dims[0] = x->dims[0];
    dims[1] = m;
    for (int d = 0; d < spatial; ++d) {
        int64_t in = x->dims[2 + d], ext, full;
        if (!eng_mul_dims(p.dilation[d], p.kernel[d] - 1, &ext) || !eng_mul_dims(p.stride[d], in > 0 ? in - 1 : 0, &full))
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output size on spatial axis %d overflows", d);
        /* the un-cropped output: stride*(in-1) + output_padding + dilated kernel */
        full += p.output_padding[d] + ext + 1;
        int64_t want = -1;
        if (os) {
            want = os[d];
        } else if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
            if (!eng_mul_dims(in, p.stride[d], &want))
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output size on spatial axis %d overflows", d);
        }
        if (want >= 0) {
            int64_t total = full - want;
            if (total >= 0) {
                /* SAME_UPPER puts the smaller half first; NOTSET/SAME_LOWER the larger */
                int64_t half = total / 2;
                p.pad_begin[d] = ap == PAD_SAME_UPPER ? half : total - half;
                p.pad_end[d] = total - p.pad_begin[d];
            } else { /* the requested output is larger: extend at the end */
                p.pad_begin[d] = p.pad_end[d] = 0;
                p.output_padding[d] -= total;
            }
            dims[2 + d] = want;
        } else {
            if (ap == PAD_VALID) p.pad_begin[d] = p.pad_end[d] = 0;
            dims[2 + d] = full - p.pad_begin[d] - p.pad_end[d];
        }
        if (dims[2 + d] < 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output size %lld on spatial axis %d is not positive",
                                  (long long)dims[2 + d], d);
    }
    if ((st = eng_read_epilogue(g, n, 1, x->rank, dims, &p.epilogue))) return st;
    if ((st = read_exact_rounding(g, n, &p))) return st;
    if ((st = eng_set_output(g, n, 0, ENGINE_DTYPE_F32, x->rank, dims))) return st;
    engine_conv_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}
