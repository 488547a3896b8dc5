/* backends/ref/quant.c - QuantizeLinear and DequantizeLinear, as ONNX's
 * reference computes them: x / scale in float32 (float64 for int32 x, as
 * numpy promotes it), rounded half to even, plus the zero point, saturated
 * to the output type; (x - zero_point) * scale in float32. */
#include <math.h>

#include "ref_kernels.h"

/* Where the scale (and zero point) of element i is (ops.h,
 * engine_quant_params): 0 per tensor, the axis index per axis, the block's
 * element in the blocked form. */
typedef struct quant_geom {
    int64_t ext, inner, blocks, bs;
    int mode; /* 0 per tensor, 1 per axis, 2 blocked */
} quant_geom;

static quant_geom geom_of(const engine_quant_params *p, const engine_value *x) {
    quant_geom g = {1, 1, 1, 1, 0};
    if (p->axis < 0 || p->axis >= x->rank) return g;
    g.ext = x->dims[p->axis];
    for (int d = p->axis + 1; d < x->rank; ++d) g.inner *= x->dims[d];
    g.mode = p->block_size > 0 ? 2 : 1;
    if (g.mode == 2) {
        g.bs = p->block_size;
        g.blocks = (g.ext + g.bs - 1) / g.bs;
    }
    return g;
}

static int64_t scale_at(const quant_geom *g, int64_t i) {
    if (g->mode == 0 || g->inner == 0 || g->ext == 0) return 0;
    const int64_t a = i / g->inner % g->ext;
    if (g->mode == 1) return a;
    const int64_t outer = i / (g->inner * g->ext);
    return (outer * g->blocks + a / g->bs) * g->inner + i % g->inner;
}

/* Zero point k; zp is NULL when the input is absent (in[] then has no
 * slot 2 to read). */
static int zp_at(const engine_value *z, const void *zp, int64_t k) {
    if (!z || !zp) return 0;
    switch (z->dtype) {
    case ENGINE_DTYPE_U8: return ((const uint8_t *)zp)[k];
    case ENGINE_DTYPE_I8: return ((const int8_t *)zp)[k];
    case ENGINE_DTYPE_I32: return ((const int32_t *)zp)[k];
    default: return 0;
    }
}

engine_status ref_QuantizeLinear(const engine_node *n, const void *const *in, void *const *out) {
    const engine_quant_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0], *z = engine_node_input(n, 2);
    if (!p || n->inputs[1]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (x->dtype != ENGINE_DTYPE_F32 && x->dtype != ENGINE_DTYPE_I32) return ENGINE_ERR_UNSUPPORTED;
    if (y->dtype != ENGINE_DTYPE_U8 && y->dtype != ENGINE_DTYPE_I8) return ENGINE_ERR_UNSUPPORTED;
    const double lo = y->dtype == ENGINE_DTYPE_U8 ? 0.0 : -128.0, hi = y->dtype == ENGINE_DTYPE_U8 ? 255.0 : 127.0;
    const quant_geom g = geom_of(p, x);
    const float *sc = in[1];
    const void *zp = z ? in[2] : NULL;
    const int64_t total = engine_value_numel(x);
    for (int64_t i = 0; i < total; ++i) {
        const int64_t k = scale_at(&g, i);
        double q;
        if (x->dtype == ENGINE_DTYPE_F32) q = (double)(((const float *)in[0])[i] / sc[k]);
        else q = (double)((const int32_t *)in[0])[i] / (double)sc[k];
        double v = isnan(q) ? 0.0 : nearbyint(q); /* ties to even: the default rounding mode */
        v += zp_at(z, zp, k);
        v = v < lo ? lo : v > hi ? hi : v;
        if (y->dtype == ENGINE_DTYPE_U8) ((uint8_t *)out[0])[i] = (uint8_t)v;
        else ((int8_t *)out[0])[i] = (int8_t)v;
    }
    return ENGINE_OK;
}

engine_status ref_DequantizeLinear(const engine_node *n, const void *const *in, void *const *out) {
    const engine_quant_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0], *z = engine_node_input(n, 2);
    if (!p || n->inputs[1]->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    const quant_geom g = geom_of(p, x);
    const float *sc = in[1];
    const void *zp = z ? in[2] : NULL;
    float *dst = out[0];
    const int64_t total = engine_value_numel(x);
    for (int64_t i = 0; i < total; ++i) {
        const int64_t k = scale_at(&g, i);
        float v;
        switch (x->dtype) {
        case ENGINE_DTYPE_U8: v = ((const uint8_t *)in[0])[i]; break;
        case ENGINE_DTYPE_I8: v = ((const int8_t *)in[0])[i]; break;
        case ENGINE_DTYPE_I32: v = (float)((const int32_t *)in[0])[i]; break;
        default: return ENGINE_ERR_UNSUPPORTED;
        }
        dst[i] = (v - (float)zp_at(z, zp, k)) * sc[k];
    }
    return ENGINE_OK;
}
