/* backends/opencl/norm.c - the norm family: BatchNormalization (inference),
 * InstanceNormalization, LRN, LpNormalization, MeanVarianceNormalization,
 * LayerNormalization and GroupNormalization (kernels in norm.cl and
 * reduce.cl). Each parameter tensor is its own (buffer, offset): the weight
 * buffer for constants, the arena for run-time values. */
#include "ocl_builder.h"

int ocl_supports_norm(const engine_node *n) {
    const engine_value *x = n->inputs[0];
    switch (n->op) {
    case ENGINE_OP_BatchNormalization: /* training_mode (params->size): f_batchnorm_train */
        return ocl_all_f32(n, 5) && x->rank >= 2 && n->n_inputs >= 5;
    case ENGINE_OP_InstanceNormalization: return ocl_all_f32(n, 3) && x->rank >= 2 && n->n_inputs >= 3;
    case ENGINE_OP_LRN: return ocl_all_f32(n, 1) && x->rank >= 2;
    case ENGINE_OP_LpNormalization: return ocl_all_f32(n, 1) && x->rank >= 1;
    case ENGINE_OP_MeanVarianceNormalization: return ocl_all_f32(n, 1) && x->rank <= 31;
    case ENGINE_OP_LayerNormalization: return ocl_all_f32(n, 3) && x->rank >= 1;
    case ENGINE_OP_GroupNormalization: return ocl_all_f32(n, 3) && x->rank >= 2 && n->n_inputs >= 3;
    default: return 0;
    }
}

static void emit_batchnorm(ocl_builder *b, const engine_node *n) {
    const engine_scalar_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int xs = IN(0), sc = IN(1), bi = IN(2), me = IN(3), va = IN(4), ys = OUT(0);
    if (b->st) return;
    int64_t plane = plane_of(x);
    if (p->size) {
        const int want_m = n->n_outputs > 1 && n->outputs[1], want_v = n->n_outputs > 2 && n->outputs[2];
        int rm = want_m ? OUT(1) : ys, rv = want_v ? OUT(2) : ys;
        if (b->st || x->dims[1] < 1) return;
        OCL_LAUNCH(b, "f_batchnorm_train", (size_t)x->dims[1], A_T(xs, 0), A_T(sc, 0), A_T(bi, 0), A_T(me, 0),
                   A_T(va, 0), A_T(ys, 0), A_T(rm, 0), A_T(rv, 0), A_I(want_m), A_I(want_v), A_I((int)x->dims[0]),
                   A_I((int)plane), A_I((int)x->dims[1]), A_F(p->epsilon), A_F(p->alpha));
        return;
    }
    OCL_LAUNCH(b, "f_batchnorm", (size_t)numel(y), A_T(xs, 0), A_T(sc, 0), A_T(bi, 0), A_T(me, 0), A_T(va, 0),
               A_T(ys, 0), A_I((int)plane), A_I((int)x->dims[1]), A_F(p->epsilon));
}

/* One work item per (n, c) plane: mean and variance, then the plane. */
static void emit_instnorm(ocl_builder *b, const engine_node *n) {
    const engine_scalar_params *p = n->params;
    const engine_value *x = n->inputs[0];
    int xs = IN(0), sc = IN(1), bi = IN(2), ys = OUT(0);
    if (b->st) return;
    int64_t plane = plane_of(x);
    if (plane > 0)
        OCL_LAUNCH(b, "f_instnorm", (size_t)(x->dims[0] * x->dims[1]), A_T(xs, 0), A_T(sc, 0), A_T(bi, 0), A_T(ys, 0),
                   A_I((int)plane), A_I((int)x->dims[1]), A_F(p->epsilon));
}

/* Across channels: the window is [c - lo, c + hi], lo = (size - 1) / 2. */
static void emit_lrn(ocl_builder *b, const engine_node *n) {
    const engine_scalar_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int64_t plane = plane_of(x);
    int lo = (int)((p->size - 1) / 2), hi = (int)(p->size - 1 - lo);
    int xs = IN(0), ys = OUT(0);
    OCL_LAUNCH(b, "f_lrn", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I((int)plane), A_I((int)x->dims[1]), A_I(lo),
               A_I(hi), A_F(p->alpha), A_F(p->beta), A_F(p->bias), A_I((int)p->size));
}

/* LayerNormalization and GroupNormalization on f_groupnorm: one work
 * group per normalised group (norm.cl). */
static void emit_groupnorm(ocl_builder *b, const engine_node *n) {
    const engine_scalar_params *p = n->params;
    const engine_value *x = n->inputs[0];
    int64_t groups, len, G, cg, plane;
    if (n->op == ENGINE_OP_LayerNormalization) {
        groups = len = 1;
        for (int d = 0; d < x->rank; ++d) *(d < p->size ? &groups : &len) *= x->dims[d];
        G = 1, cg = 0, plane = 1;
    } else {
        G = p->size;
        int64_t C = x->dims[1];
        cg = C / G;
        plane = plane_of(x);
        groups = x->dims[0] * G;
        len = cg * plane;
        if (p->alpha == 0.0f) cg = 1, plane = len; /* scale and bias per group (opset 18) */
    }
    if (groups == 0) return;
    const engine_value *mv = n->n_outputs > 1 ? n->outputs[1] : NULL, *iv = n->n_outputs > 2 ? n->outputs[2] : NULL;
    const engine_value *bv = n->n_inputs > 2 ? n->inputs[2] : NULL;
    int xs = IN(0), ss = IN(1), bs = bv ? IN(2) : ss, ys = OUT(0);
    int ms = mv ? ocl_slot_write(b, mv) : ys, is = iv ? ocl_slot_write(b, iv) : ys;
    size_t L = ocl_group_size(b, "f_groupnorm", (size_t)len);
    if (b->st) return;
    OCL_LAUNCH(b, "f_groupnorm", (size_t)groups * L, A_T(xs, 0), A_T(ss, 0), A_T(bs, 0), A_T(ys, 0), A_T(ms, 0),
               A_T(is, 0), A_I((int)len), A_I((int)G), A_I((int)cg), A_I((int)(plane ? plane : 1)), A_I(bv != NULL),
               A_I((mv ? 1 : 0) | (iv ? 2 : 0)), A_F(p->epsilon));
    size_t gs[3] = {(size_t)groups * L, 1, 1}, ls[3] = {L, 1, 1};
    ocl_launch_geometry(b, gs, ls, 1);
}

void ocl_emit_norm(ocl_builder *b, const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_BatchNormalization: emit_batchnorm(b, n); return;
    case ENGINE_OP_InstanceNormalization: emit_instnorm(b, n); return;
    case ENGINE_OP_LRN: emit_lrn(b, n); return;
    case ENGINE_OP_LayerNormalization: case ENGINE_OP_GroupNormalization: emit_groupnorm(b, n); return;
    case ENGINE_OP_MeanVarianceNormalization: {
        const engine_reduce_params *p = n->params;
        const engine_value *x = n->inputs[0];
        int meta[3 + 32];
        int64_t groups = 1;
        meta[0] = x->rank;
        meta[1] = 0;
        meta[2] = (int)p->axes_mask;
        for (int d = 0; d < x->rank; ++d) {
            meta[3 + d] = (int)x->dims[d];
            if (!(p->axes_mask & (1u << d))) groups *= x->dims[d];
        }
        int xs = IN(0), ys = OUT(0);
        int mo = ocl_meta_add(b, meta, 3 + x->rank);
        if (numel(x) > 0) OCL_LAUNCH(b, "f_mvn", (size_t)groups, A_META(mo), A_T(xs, 0), A_T(ys, 0));
        return;
    }
    case ENGINE_OP_LpNormalization: {
        const engine_scan_params *p = n->params;
        const engine_value *x = n->inputs[0];
        int64_t len = x->dims[p->axis], inner = 1;
        for (int d = p->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
        int xs = IN(0), ys = OUT(0);
        if (len > 0)
            OCL_LAUNCH(b, "f_lpnorm", (size_t)(numel(x) / len), A_T(xs, 0), A_T(ys, 0), A_I((int)len),
                       A_I((int)inner), A_I(p->p));
        return;
    }
    default: ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op"); return;
    }
}
