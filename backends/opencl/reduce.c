/* backends/opencl/reduce.c - the reduce and softmax families (one file:
 * Softmax is a reduction along one axis; kernels in reduce.cl):
 * the reductions on f_reduce (which also serves the global pools, pool.c),
 * ArgMax/ArgMin on f_argmax, CumSum on f_cumsum(_l), Softmax, Hardmax and LogSoftmax on f_softmax. */
#include "ocl_builder.h"

void ocl_emit_reduction(ocl_builder *b, const engine_node *n, int op, uint32_t mask) {
    const engine_value *x = n->inputs[0];
    int meta[3 + 32];
    meta[0] = x->rank;
    meta[1] = op;
    meta[2] = (int)mask;
    for (int d = 0; d < x->rank; ++d) meta[3 + d] = (int)x->dims[d];
    int xs = IN(0), ys = OUT(0);
    int mo = ocl_meta_add(b, meta, 3 + x->rank);
    if (x->dtype == ENGINE_DTYPE_I64)
        OCL_LAUNCH(b, "f_reduce_l", (size_t)numel(n->outputs[0]), A_META(mo), A_T(xs, 0), A_T(ys, 0));
    else
        OCL_LAUNCH(b, "f_reduce", (size_t)numel(n->outputs[0]), A_META(mo), A_T(xs, 0), A_T(ys, 0));
}

/* ---- reduce ---- */

int ocl_supports_reduce(const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_ReduceMean: case ENGINE_OP_ReduceSum: case ENGINE_OP_ReduceMax: case ENGINE_OP_ReduceMin:
    case ENGINE_OP_ReduceProd: case ENGINE_OP_ReduceL1: case ENGINE_OP_ReduceL2: case ENGINE_OP_ReduceLogSumExp:
    case ENGINE_OP_ReduceSumSquare:
        /* float32; ReduceMax/ReduceMin also bool (stored as 0/1 in T: the
         * max is any, the min all) over non-empty sets; int64 for the
         * reductions that stay integers (f_reduce_l; not Mean, L2,
         * LogSumExp) */
        if ((n->op == ENGINE_OP_ReduceMax || n->op == ENGINE_OP_ReduceMin) &&
            n->inputs[0]->dtype == ENGINE_DTYPE_BOOL && n->outputs[0]->dtype == ENGINE_DTYPE_BOOL)
            return numel(n->inputs[0]) > 0 && n->inputs[0]->rank <= 31;
        if (n->inputs[0]->dtype == ENGINE_DTYPE_I64 && n->outputs[0]->dtype == ENGINE_DTYPE_I64)
            return n->op != ENGINE_OP_ReduceMean && n->op != ENGINE_OP_ReduceL2 &&
                   n->op != ENGINE_OP_ReduceLogSumExp && n->inputs[0]->rank <= 31;
        return ocl_all_f32(n, 1) && n->inputs[0]->rank <= 31;
    case ENGINE_OP_ArgMax: case ENGINE_OP_ArgMin: {
        const engine_value *x = n->inputs[0];
        return (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype)) && n->outputs[0]->dtype == ENGINE_DTYPE_I64;
    }
    case ENGINE_OP_CumSum: {
        const engine_value *x = n->inputs[0];
        return (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype)) && n->outputs[0]->dtype == x->dtype;
    }
    default: return 0;
    }
}

void ocl_emit_reduce(ocl_builder *b, const engine_node *n) {
    const engine_reduce_params *p = n->params;
    switch (n->op) {
    case ENGINE_OP_ReduceMean: ocl_emit_reduction(b, n, R_MEAN, p->axes_mask); return;
    case ENGINE_OP_ReduceSum: ocl_emit_reduction(b, n, R_SUM, p->axes_mask); return;
    case ENGINE_OP_ReduceMax: ocl_emit_reduction(b, n, R_MAX, p->axes_mask); return;
    case ENGINE_OP_ReduceMin: ocl_emit_reduction(b, n, R_MIN, p->axes_mask); return;
    case ENGINE_OP_ReduceProd: ocl_emit_reduction(b, n, R_PROD, p->axes_mask); return;
    case ENGINE_OP_ReduceL1: ocl_emit_reduction(b, n, R_L1, p->axes_mask); return;
    case ENGINE_OP_ReduceL2: ocl_emit_reduction(b, n, R_L2, p->axes_mask); return;
    case ENGINE_OP_ReduceLogSumExp: ocl_emit_reduction(b, n, R_LSE, p->axes_mask); return;
    case ENGINE_OP_ReduceSumSquare: ocl_emit_reduction(b, n, R_SSQ, p->axes_mask); return;
    case ENGINE_OP_ArgMax: case ENGINE_OP_ArgMin: {
        const engine_arg_params *a = n->params;
        const engine_value *x = n->inputs[0];
        int64_t len = x->dims[a->axis], inner = 1;
        for (int d = a->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
        int xs = IN(0), ys = OUT(0);
        if (b->st) return;
        int xl = b->p->slots[xs].lng;
        /* the input goes to the argument of its storage class; the other is
         * bound to the same buffer and never read */
        OCL_LAUNCH(b, "f_argmax", (size_t)numel(n->outputs[0]), A_T(xs, 0), A_T(xs, 0), A_T(ys, 0), A_I((int)len),
                   A_I((int)inner ? (int)inner : 1), A_I(n->op == ENGINE_OP_ArgMax), A_I(a->select_last), A_I(xl));
        return;
    }
    case ENGINE_OP_CumSum: {
        const engine_scan_params *c = n->params;
        const engine_value *x = n->inputs[0];
        int64_t len = x->dims[c->axis], inner = 1;
        for (int d = c->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
        int xs = IN(0), ys = OUT(0);
        if (b->st || len == 0) return;
        size_t rows = (size_t)(numel(x) / len);
        if (b->p->slots[xs].lng)
            OCL_LAUNCH(b, "f_cumsum_l", rows, A_T(xs, 0), A_T(ys, 0), A_I((int)len), A_I((int)inner),
                       A_I(c->exclusive), A_I(c->reverse), A_I(nbits(x->dtype)));
        else
            OCL_LAUNCH(b, "f_cumsum", rows, A_T(xs, 0), A_T(ys, 0), A_I((int)len), A_I((int)inner), A_I(c->exclusive),
                       A_I(c->reverse));
        return;
    }
    default: ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op"); return;
    }
}

/* ---- softmax ---- */

int ocl_supports_softmax(const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_Softmax: case ENGINE_OP_LogSoftmax: case ENGINE_OP_Hardmax: return ocl_all_f32(n, ocl_data_inputs(n));
    default: return 0;
    }
}

void ocl_emit_softmax(ocl_builder *b, const engine_node *n) {
    if (n->op != ENGINE_OP_Softmax && n->op != ENGINE_OP_LogSoftmax && n->op != ENGINE_OP_Hardmax) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
    const engine_softmax_params *p = n->params;
    const engine_value *x = n->inputs[0];
    /* rows of `len` elements at stride `inner`; legacy (opset < 13): every
     * dim from the axis on is one row */
    int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < x->rank; ++d) {
        if (d < p->axis) outer *= x->dims[d];
        else if (d == p->axis || p->legacy) len *= x->dims[d];
        else inner *= x->dims[d];
    }
    int xs = IN(0), ys = OUT(0);
    if (len > 0)
        OCL_LAUNCH(b, "f_softmax", (size_t)(outer * inner), A_T(xs, 0), A_T(ys, 0), A_I((int)len), A_I((int)inner),
                   A_I(n->op == ENGINE_OP_Hardmax ? 2 : n->op == ENGINE_OP_LogSoftmax));
}
