/* backends/ref/pool.c - reference kernels for MaxPool, AveragePool and the
 * global pools. Windows are gathered directly; missing trailing spatial
 * dims are treated as size 1. */
#include <math.h>

#include "ref_kernels.h"

typedef struct pool_geom {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
    int64_t nc; /* N * C planes */
} pool_geom;

static engine_status pool_setup(const engine_node *n, pool_geom *g) {
    const engine_pool_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!p || x->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
    if (x->dtype != ENGINE_DTYPE_F32 &&
        !(n->op == ENGINE_OP_MaxPool && (x->dtype == ENGINE_DTYPE_U8 || x->dtype == ENGINE_DTYPE_I8)))
        return ENGINE_ERR_UNSUPPORTED;
    int sp = x->rank - 2;
    if (sp < 1 || sp > ENGINE_MAX_SPATIAL || y->rank != x->rank || y->dims[0] != x->dims[0] ||
        y->dims[1] != x->dims[1])
        return ENGINE_ERR_SHAPE;
    for (int i = 0; i < 3; ++i) {
        int in_sp = i < sp;
        g->in[i] = in_sp ? x->dims[2 + i] : 1;
        g->out[i] = in_sp ? y->dims[2 + i] : 1;
        g->k[i] = in_sp ? p->kernel[i] : 1;
        g->s[i] = in_sp && p->stride[i] > 0 ? p->stride[i] : 1;
        g->d[i] = in_sp && p->dilation[i] > 0 ? p->dilation[i] : 1;
        g->pb[i] = in_sp ? p->pad_begin[i] : 0;
        g->pe[i] = in_sp ? p->pad_end[i] : 0;
        if (g->k[i] < 1) return ENGINE_ERR_SHAPE;
    }
    g->nc = x->dims[0] * x->dims[1];
    return ENGINE_OK;
}

/* avg != 0: AveragePool, else MaxPool (with its optional Indices output:
 * the flat index of the first max in the whole input; over the spatial
 * dims row major, or column major with storage_order 1). */
static engine_status pool_run(const engine_node *n, const void *const *in, void *const *out, int avg) {
    pool_geom g;
    engine_status st = pool_setup(n, &g);
    if (st != ENGINE_OK) return st;
    int64_t *indices = NULL;
    if (!avg && n->n_outputs > 1 && n->outputs[1] && out[1]) {
        if (n->outputs[1]->dtype != ENGINE_DTYPE_I64) return ENGINE_ERR_UNSUPPORTED;
        indices = out[1];
    }
    const int include_pad = ((const engine_pool_params *)n->params)->count_include_pad;
    const int col_major = ((const engine_pool_params *)n->params)->storage_order != 0;
    const int64_t in_sz = g.in[0] * g.in[1] * g.in[2];
    /* float32; MaxPool also uint8 and int8 (exact in double) */
    const engine_dtype dt = n->inputs[0]->dtype;
    int64_t yi = 0;

    for (int64_t c = 0; c < g.nc; ++c) {
        const int64_t xc = c * in_sz;
        for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
            for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                    const int64_t o[3] = {o0, o1, o2};
                    /* Taps per dim that land in the input, and (for
                     * count_include_pad) in the padded input; a window
                     * that ceil_mode stretches past the end pad does not
                     * count the part beyond it. */
                    int64_t padded_taps = 1;
                    for (int i = 0; i < 3; ++i) {
                        int64_t cnt = 0;
                        for (int64_t k = 0; k < g.k[i]; ++k) {
                            int64_t pos = o[i] * g.s[i] - g.pb[i] + k * g.d[i];
                            cnt += pos >= -g.pb[i] && pos < g.in[i] + g.pe[i];
                        }
                        padded_taps *= cnt;
                    }
                    double acc = avg ? 0.0 : -INFINITY;
                    int64_t valid = 0, best = -1;
                    for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
                        int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                        if (i0 < 0 || i0 >= g.in[0]) continue;
                        for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                            int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                            if (i1 < 0 || i1 >= g.in[1]) continue;
                            for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                                int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                                if (i2 < 0 || i2 >= g.in[2]) continue;
                                int64_t at = xc + (i0 * g.in[1] + i1) * g.in[2] + i2;
                                double v = dt == ENGINE_DTYPE_F32  ? (double)((const float *)in[0])[at]
                                           : dt == ENGINE_DTYPE_U8 ? (double)((const uint8_t *)in[0])[at]
                                                                   : (double)((const int8_t *)in[0])[at];
                                if (avg)
                                    acc += v;
                                else if (v > acc || (isnan(v) && !isnan(acc)) || best < 0) {
                                    acc = v;
                                    best = c * in_sz + (col_major ? i0 + (i1 + i2 * g.in[1]) * g.in[0]
                                                                  : (i0 * g.in[1] + i1) * g.in[2] + i2);
                                }
                                ++valid;
                            }
                        }
                    }
                    if (avg) {
                        int64_t div = include_pad ? padded_taps : valid;
                        acc = div > 0 ? acc / (double)div : NAN;
                    }
                    if (indices) *indices++ = best;
                    if (dt == ENGINE_DTYPE_F32) ((float *)out[0])[yi++] = (float)acc;
                    else if (dt == ENGINE_DTYPE_U8) ((uint8_t *)out[0])[yi++] = (uint8_t)acc;
                    else ((int8_t *)out[0])[yi++] = (int8_t)acc;
                }
    }
    return ENGINE_OK;
}

engine_status ref_MaxPool(const engine_node *n, const void *const *in, void *const *out) {
    return pool_run(n, in, out, 0);
}

engine_status ref_AveragePool(const engine_node *n, const void *const *in, void *const *out) {
    return pool_run(n, in, out, 1);
}

/* X [N, C, spatial...] -> Y [N, C, 1...]: reduce every dim after C. */
static engine_status global_pool(const engine_node *n, const void *const *in, void *const *out, int avg) {
    const engine_value *x = n->inputs[0];
    if (x->dtype != ENGINE_DTYPE_F32 || n->outputs[0]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (x->rank < 2) return ENGINE_ERR_SHAPE;
    int64_t nc = x->dims[0] * x->dims[1], len = 1;
    for (int i = 2; i < x->rank; ++i) len *= x->dims[i];
    const float *src = in[0];
    float *y = out[0];
    for (int64_t c = 0; c < nc; ++c) {
        const float *xc = src + c * len;
        double acc = avg ? 0.0 : -INFINITY;
        for (int64_t i = 0; i < len; ++i) {
            if (avg)
                acc += xc[i];
            else if (xc[i] > acc || isnan(xc[i]))
                acc = xc[i];
        }
        y[c] = (float)(avg ? (len > 0 ? acc / (double)len : NAN) : acc);
    }
    return ENGINE_OK;
}

engine_status ref_GlobalAveragePool(const engine_node *n, const void *const *in, void *const *out) {
    return global_pool(n, in, out, 1);
}

engine_status ref_GlobalMaxPool(const engine_node *n, const void *const *in, void *const *out) {
    return global_pool(n, in, out, 0);
}
