/* backends/opencl/pool.c - the pool family: MaxPool and AveragePool on
 * f_pool (pool.cl), 2-D maps on f_pool2d (GPUs) or f_pool2d_rv8 (CPU
 * devices); GlobalAveragePool and GlobalMaxPool are reductions
 * over the spatial dims (reduce.c's f_reduce). */
#include "ocl_builder.h"

#include <stdlib.h>
#include <string.h>

int ocl_supports_pool(const engine_node *n) {
    const engine_value *x = n->inputs[0];
    switch (n->op) {
    case ENGINE_OP_MaxPool: case ENGINE_OP_AveragePool: {
        /* MaxPool's Indices output (int64) is written by f_pool */
        if (n->op == ENGINE_OP_MaxPool && n->n_outputs > 1 && n->outputs[1])
            return n->outputs[1]->dtype == ENGINE_DTYPE_I64 && x->dtype == ENGINE_DTYPE_F32 &&
                   n->outputs[0]->dtype == ENGINE_DTYPE_F32 && x->rank >= 3 && x->rank <= 5;
        return ocl_all_f32(n, 1) && x->rank >= 3 && x->rank <= 5;
    }
    case ENGINE_OP_GlobalAveragePool: case ENGINE_OP_GlobalMaxPool:
        return ocl_all_f32(n, 1) && x->rank >= 2 && x->rank <= 31;
    default: return 0;
    }
}

static void emit_pool(ocl_builder *b, const engine_node *n) {
    const engine_pool_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int sp = x->rank - 2, g[25];
    const int indices = n->op == ENGINE_OP_MaxPool && n->n_outputs > 1 && n->outputs[1];
    g[0] = (int)(x->dims[0] * x->dims[1]);
    for (int i = 0; i < 3; ++i) {
        int d = i - (3 - sp);
        g[1 + i] = d >= 0 ? (int)x->dims[2 + d] : 1;
        g[4 + i] = d >= 0 ? (int)y->dims[2 + d] : 1;
        g[7 + i] = d >= 0 ? (int)p->kernel[d] : 1;
        g[10 + i] = d >= 0 && p->stride[d] > 0 ? (int)p->stride[d] : 1;
        g[13 + i] = d >= 0 && p->dilation[d] > 0 ? (int)p->dilation[d] : 1;
        g[16 + i] = d >= 0 ? (int)p->pad_begin[d] : 0;
        g[19 + i] = d >= 0 ? (int)p->pad_end[d] : 0;
    }
    g[22] = n->op == ENGINE_OP_AveragePool ? POOL_AVG : POOL_MAX;
    g[23] = p->count_include_pad;
    g[24] = indices ? 1 + (p->storage_order != 0) : 0;
    int xs = IN(0), ys = OUT(0), is = indices ? OUT(1) : -1;
    int mo = ocl_meta_add(b, g, 25);
    if (sp == 2 && !indices) {
        /* 2-D maps on a 3-D range (no index decoding, clipped windows): GPUs
         * f_pool2d, one output per item; CPU devices f_pool2d_rv8, 8 outputs
         * of a row per item as one vector (3-5x f_pool2d on POCL: GoogLeNet's
         * 13 MaxPools 33 -> 12 ms). ENGINE_OPENCL_POOL=scalar|rv8 forces one
         * (tests). */
        const char *force = getenv("ENGINE_OPENCL_POOL");
        const int rv = force && strcmp(force, "rv8") == 0      ? 1
                       : force && strcmp(force, "scalar") == 0 ? 0
                                                               : (b->s->dev.type & CL_DEVICE_TYPE_CPU) != 0;
        size_t gs[3] = {rv ? ((size_t)g[6] + 7) / 8 : (size_t)g[6], (size_t)g[5], (size_t)g[0]}, ls[3] = {1, 1, 1};
        if (numel(y) == 0) return;
        OCL_LAUNCH(b, rv ? "f_pool2d_rv8" : "f_pool2d", 1, A_META(mo), A_T(xs, 0), A_T(ys, 0));
        ocl_launch_geometry(b, gs, ls, 0);
        return;
    }
    if (numel(y) == 0) return;
    if (indices)
        OCL_LAUNCH(b, "f_pool", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(ys, 0), A_T(is, 0));
    else
        OCL_LAUNCH(b, "f_pool", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(ys, 0), A_NULL(), A_I(0));
}

void ocl_emit_pool(ocl_builder *b, const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_MaxPool: case ENGINE_OP_AveragePool: emit_pool(b, n); return;
    case ENGINE_OP_GlobalAveragePool: case ENGINE_OP_GlobalMaxPool:
        /* every dim from 2 on: mask bits 2..rank-1 */
        ocl_emit_reduction(b, n, n->op == ENGINE_OP_GlobalMaxPool ? R_MAX : R_MEAN,
                           ((uint32_t)1 << n->inputs[0]->rank) - 4u);
        return;
    default: ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op"); return;
    }
}
