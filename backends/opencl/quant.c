/* backends/opencl/quant.c - the quant family: QuantizeLinear (float32 x)
 * and DequantizeLinear (uint8, int8 or int32 x) on f_quantize and
 * f_dequantize (quant.cl), one work item per element. An int32 x of
 * QuantizeLinear (divided in float64 by the reference, as numpy promotes
 * it) is placed on cpu. */
#include "ocl_builder.h"

int ocl_supports_quant(const engine_node *n) {
    const engine_value *x = n->inputs[0], *s = engine_node_input(n, 1), *y = n->outputs[0];
    if (!s || s->dtype != ENGINE_DTYPE_F32) return 0;
    switch (n->op) {
    case ENGINE_OP_QuantizeLinear:
        return x->dtype == ENGINE_DTYPE_F32 && (y->dtype == ENGINE_DTYPE_U8 || y->dtype == ENGINE_DTYPE_I8);
    case ENGINE_OP_DequantizeLinear:
        return (x->dtype == ENGINE_DTYPE_U8 || x->dtype == ENGINE_DTYPE_I8 || x->dtype == ENGINE_DTYPE_I32) &&
               y->dtype == ENGINE_DTYPE_F32;
    default: return 0;
    }
}

void ocl_emit_quant(ocl_builder *b, const engine_node *n) {
    const engine_quant_params *p = n->params;
    const engine_value *x = n->inputs[0], *zv = engine_node_input(n, 2);
    int g[5] = {0, 1, 1, 1, 1};
    if (p->axis >= 0 && p->axis < x->rank) {
        int64_t inner = 1;
        for (int d = p->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
        g[0] = p->block_size > 0 ? 2 : 1;
        g[1] = (int)x->dims[p->axis];
        g[2] = (int)inner;
        if (p->block_size > 0) {
            g[4] = p->block_size < g[1] ? (int)p->block_size : g[1] > 0 ? g[1] : 1;
            g[3] = (g[1] + g[4] - 1) / g[4];
        }
    }
    int mo = ocl_meta_add(b, g, 5);
    int xs = IN(0), ss = IN(1), zs = zv ? ocl_slot_read(b, zv) : -1, ys = OUT(0);
    if (b->st) return;
    if (n->op == ENGINE_OP_QuantizeLinear)
        OCL_LAUNCH(b, "f_quantize", (size_t)numel(x), A_META(mo), A_T(xs, 0), A_T(ss, 0), A_T(zs >= 0 ? zs : ys, 0),
                   A_I(zs >= 0), A_I(n->outputs[0]->dtype == ENGINE_DTYPE_U8), A_T(ys, 0));
    else
        OCL_LAUNCH(b, "f_dequantize", (size_t)numel(x), A_META(mo), A_T(xs, 0), A_T(ss, 0),
                   A_T(zs >= 0 ? zs : xs, 0), A_I(zs >= 0), A_T(ys, 0));
}
