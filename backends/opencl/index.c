/* backends/opencl/index.c - the index family on opencl (kernels in
 * index.cl): GatherElements, GatherND, ScatterElements, ScatterND, OneHot
 * and TopK.
 *
 * NonZero runs on the host between the stages of a run (libengine,
 * session.c: its output shape depends on data); Range and Size are always
 * folded (Range's inputs decide its shape, so they are constants; Size
 * reads only a shape), so a node of them reaches a backend only with its
 * output constant, which module.c accepts and skips.
 *
 * Indices are read on the device (constant ones from the integer weight
 * buffer, where shape inference has already checked them); one out of
 * range sets the error flag, and run() fails with the reference's message
 * (builder.c). Scatters are deterministic and use no atomics (OpenCL 1.2
 * has no float ones): small ones by destination (each output element
 * gathers the updates that reach it, in the reference's order), large ones
 * by line after a copy of the data (each item applies in order the updates
 * that can meet; reduction none, where ONNX leaves duplicates undefined,
 * one item per update): emit_scatter. */
#include <stdlib.h>
#include <string.h>

#include "ocl_builder.h"

int ocl_supports_index(const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0], *ix = engine_node_input(n, 1);
    const engine_index_params *p = n->params;
    switch (n->op) {
    case ENGINE_OP_GatherElements:
        return ix && is_int(ix->dtype) && x->dtype == y->dtype;
    case ENGINE_OP_GatherND:
        /* an empty slice gathers nothing but its indices are still checked
         * (by the reference); not worth a kernel: cpu/ref do it */
        return ix && ix->dtype == ENGINE_DTYPE_I64 && x->dtype == y->dtype && (numel(y) > 0 || numel(ix) == 0);
    case ENGINE_OP_ScatterElements: case ENGINE_OP_ScatterND: {
        const engine_value *u = engine_node_input(n, 2);
        if (!ix || !u || !is_int(ix->dtype) || u->dtype != x->dtype || x->dtype != y->dtype || !numel_ok(u)) return 0;
        if (n->op == ENGINE_OP_ScatterND) {
            if (ix->dtype != ENGINE_DTYPE_I64) return 0;
            int64_t k = ix->dims[ix->rank - 1], slice = 1;
            for (int d = (int)k; d < x->rank; ++d) slice *= x->dims[d];
            if (slice == 0 && numel(ix) > 0) return 0; /* as GatherND's empty slice */
        }
        /* the reductions of the reference's dtypes (it combines float32,
         * int64 and int32; others it would only copy) */
        return p->reduction == SC_SET || x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype);
    }
    case ENGINE_OP_OneHot: {
        const engine_value *v = engine_node_input(n, 2);
        return v && dclass(v->dtype) >= 0 && v->dtype == y->dtype && numel(v) == 2 && p->depth <= INT_MAX;
    }
    case ENGINE_OP_TopK: {
        /* float32, int64, int32 (as the reference); the rank count costs
         * len^2 per row: rows of more than 4G comparisons in all go to cpu's
         * sort (O(len log len)) */
        const engine_topk_params *t = n->params;
        const engine_value *yi = n->n_outputs > 1 ? n->outputs[1] : NULL;
        int64_t len = x->dims[t->axis], rows = len ? numel(x) / len : 0;
        return (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype)) && y->dtype == x->dtype &&
               (!yi || yi->dtype == ENGINE_DTYPE_I64) && (double)len * (double)len * (double)rows <= 4294967296.0;
    }
    default: return 0; /* NonZero: host; Range, Size: folded */
    }
}

/* GatherElements: the index tensor's dims and the data's strides. */
static void emit_gather_elements(ocl_builder *b, const engine_node *n) {
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *ix = n->inputs[1];
    int r = x->rank, meta[3 + 2 * OCL_MAX_RANK];
    int64_t xst[ENGINE_MAX_RANK];
    c_strides(x, xst);
    meta[0] = r;
    meta[1] = p->axis;
    meta[2] = (int)x->dims[p->axis];
    for (int d = 0; d < r; ++d) {
        meta[3 + d] = (int)ix->dims[d];
        meta[3 + r + d] = (int)xst[d];
    }
    int mo = ocl_meta_add(b, meta, 3 + 2 * r);
    int xs = IN(0), is = IN(1), ys = OUT(0);
    if (b->st) return;
    OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_gather_el_l" : "f_gather_el", (size_t)numel(ix), A_META(mo), A_T(xs, 0),
               A_T(is, 0), A_T(ys, 0), A_FLAG(), A_I(b->step));
}

static void emit_gather_nd(ocl_builder *b, const engine_node *n) {
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *ix = n->inputs[1], *y = n->outputs[0];
    int bd = p->batch_dims, k = (int)ix->dims[ix->rank - 1], meta[4 + 2 * OCL_MAX_RANK];
    int64_t xst[ENGINE_MAX_RANK], tuples = 1, slice = 1;
    c_strides(x, xst);
    for (int d = bd; d < ix->rank - 1; ++d) tuples *= ix->dims[d];
    for (int d = bd + k; d < x->rank; ++d) slice *= x->dims[d];
    meta[0] = k;
    meta[1] = (int)slice;
    meta[2] = (int)tuples;
    meta[3] = (int)(bd > 0 ? xst[bd - 1] : numel(x));
    for (int q = 0; q < k; ++q) {
        meta[4 + q] = (int)x->dims[bd + q];
        meta[4 + k + q] = (int)xst[bd + q];
    }
    int mo = ocl_meta_add(b, meta, 4 + 2 * k);
    int xs = IN(0), is = IN(1), ys = OUT(0);
    if (b->st) return;
    OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_gather_nd_l" : "f_gather_nd", (size_t)numel(y), A_META(mo), A_T(xs, 0),
               A_T(is, 0), A_T(ys, 0), A_FLAG(), A_I(b->step));
}

/* A scatter (nd: ScatterND, else ScatterElements) with `cand` candidate
 * updates per output element (index.cl). By destination (f_scatter_*_dst:
 * one launch, fp32 accumulation, the reference's result even with
 * duplicate indices under reduction none) while numel(y) * cand stays
 * below 2^26; else the data is copied into the output and the updates
 * applied by line (`lines` items, each in order: the reductions) or one
 * item per update (`updates` items: reduction none). The destination form
 * needs an output element to read every index: not with an empty output.
 * ENGINE_OPENCL_SCATTER=dest|line forces one (tests). */
static void emit_scatter(ocl_builder *b, const engine_node *n, int nd, int mo, int64_t cand, int64_t lines,
                         int64_t updates) {
    const engine_index_params *p = n->params;
    const engine_value *y = n->outputs[0];
    const char *force = getenv("ENGINE_OPENCL_SCATTER");
    int64_t ny = numel(y);
    int dest = ny > 0 && (force && strcmp(force, "dest") == 0  ? 1
                          : force && strcmp(force, "line") == 0 ? 0
                                                                : (double)ny * (double)cand <= 67108864.0);
    int xs = IN(0), is = IN(1), us = IN(2), ys = OUT(0);
    if (b->st) return;
    int lng = b->p->slots[ys].lng, nb = nbits(y->dtype);
    /* launches keep the kernel's name: literals only */
    if (dest) {
        const char *kd = nd ? (lng ? "f_scatter_nd_dst_l" : "f_scatter_nd_dst")
                            : (lng ? "f_scatter_el_dst_l" : "f_scatter_el_dst");
        if (lng)
            OCL_LAUNCH(b, kd, (size_t)ny, A_META(mo), A_T(xs, 0), A_T(is, 0), A_T(us, 0), A_T(ys, 0), A_I(p->reduction),
                       A_I(nb), A_FLAG(), A_I(b->step));
        else
            OCL_LAUNCH(b, kd, (size_t)ny, A_META(mo), A_T(xs, 0), A_T(is, 0), A_T(us, 0), A_T(ys, 0), A_I(p->reduction),
                       A_FLAG(), A_I(b->step));
        return;
    }
    if (lng)
        OCL_LAUNCH(b, "f_unary_l", (size_t)ny, A_T(xs, 0), A_T(ys, 0), A_I(U_COPY), A_I(nb));
    else
        OCL_LAUNCH(b, "f_unary", (size_t)ny, A_T(xs, 0), A_T(ys, 0), A_I(U_COPY), A_F(0.0f), A_F(0.0f));
    int serial = p->reduction != SC_SET;
    size_t global = (size_t)(updates == 0 ? 0 : serial ? lines : updates);
    const char *kl = nd ? (lng ? "f_scatter_nd_l" : "f_scatter_nd") : (lng ? "f_scatter_el_l" : "f_scatter_el");
    if (lng)
        OCL_LAUNCH(b, kl, global, A_META(mo), A_T(is, 0), A_T(us, 0), A_T(ys, 0), A_I(p->reduction), A_I(serial),
                   A_I(nb), A_FLAG(), A_I(b->step));
    else
        OCL_LAUNCH(b, kl, global, A_META(mo), A_T(is, 0), A_T(us, 0), A_T(ys, 0), A_I(p->reduction), A_I(serial),
                   A_FLAG(), A_I(b->step));
}

static void emit_scatter_elements(ocl_builder *b, const engine_node *n) {
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *ix = n->inputs[1];
    int r = x->rank, meta[3 + 4 * OCL_MAX_RANK];
    int64_t xst[ENGINE_MAX_RANK], ist[ENGINE_MAX_RANK];
    c_strides(x, xst);
    c_strides(ix, ist);
    meta[0] = r;
    meta[1] = p->axis;
    meta[2] = (int)x->dims[p->axis];
    for (int d = 0; d < r; ++d) {
        meta[3 + d] = (int)ix->dims[d];
        meta[3 + r + d] = (int)ist[d];
        meta[3 + 2 * r + d] = (int)xst[d];
        meta[3 + 3 * r + d] = (int)x->dims[d];
    }
    int mo = ocl_meta_add(b, meta, 3 + 4 * r);
    int64_t alen = ix->dims[p->axis];
    emit_scatter(b, n, 0, mo, alen, alen ? numel(ix) / alen : 0, numel(ix));
}

static void emit_scatter_nd(ocl_builder *b, const engine_node *n) {
    const engine_value *x = n->inputs[0], *ix = n->inputs[1];
    int k = (int)ix->dims[ix->rank - 1], meta[3 + 2 * OCL_MAX_RANK];
    int64_t xst[ENGINE_MAX_RANK], tuples = 1, slice = 1;
    c_strides(x, xst);
    for (int d = 0; d < ix->rank - 1; ++d) tuples *= ix->dims[d];
    for (int d = k; d < x->rank; ++d) slice *= x->dims[d];
    meta[0] = k;
    meta[1] = (int)slice;
    meta[2] = (int)tuples;
    for (int q = 0; q < k; ++q) {
        meta[3 + q] = (int)x->dims[q];
        meta[3 + k + q] = (int)xst[q];
    }
    int mo = ocl_meta_add(b, meta, 3 + 2 * k);
    emit_scatter(b, n, 1, mo, tuples * k, slice, tuples * slice);
}

static void emit_onehot(ocl_builder *b, const engine_node *n) {
    const engine_index_params *p = n->params;
    const engine_value *ix = n->inputs[0], *y = n->outputs[0];
    int64_t inner = 1;
    for (int d = p->axis; d < ix->rank; ++d) inner *= ix->dims[d];
    int xs = IN(0), vs = IN(2), ys = OUT(0);
    if (b->st || numel(y) == 0) return;
    /* the index goes to the argument of its storage class; the other is
     * bound to the same buffer and never read */
    OCL_LAUNCH(b, b->p->slots[ys].lng ? "f_onehot_l" : "f_onehot", (size_t)numel(y), A_T(xs, 0), A_T(xs, 0),
               A_I(b->p->slots[xs].lng), A_T(vs, 0), A_T(ys, 0), A_I((int)p->depth), A_I((int)(inner ? inner : 1)));
}

/* TopK on f_topk(_l): a 2-D range of (len padded to the work group, rows). */
static void emit_topk(ocl_builder *b, const engine_node *n) {
    const engine_topk_params *p = n->params;
    const engine_value *x = n->inputs[0];
    int64_t len = x->dims[p->axis], inner = 1;
    for (int d = p->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
    int64_t rows = len ? numel(x) / len : 0;
    /* no Indices output: the kernel writes them to scratch */
    int xs = IN(0), ys = OUT(0),
        is = n->n_outputs > 1 && n->outputs[1] ? OUT(1)
                                               : ocl_slot_new(b, NULL, ENGINE_DTYPE_I64, BUF_ARENA, (size_t)numel(n->outputs[0]));
    /* empty outputs (k = 0: a detector's level where no score passed the
     * threshold) still take their slots, or the nodes reading them find
     * nothing produced (fcos_resnet50_fpn on an AMD EPYC) */
    if (b->st || is < 0 || rows == 0 || p->k == 0) return;
    const char *kname = b->p->slots[xs].lng ? "f_topk_l" : "f_topk";
    size_t L = ocl_group_size(b, kname, (size_t)len);
    if (b->st) return;
    size_t gs[3] = {((size_t)len + L - 1) / L * L, (size_t)rows, 1}, ls[3] = {L, 1, 1};
    OCL_LAUNCH(b, kname, gs[0] * gs[1], A_T(xs, 0), A_T(ys, 0), A_T(is, 0), A_I((int)len), A_I((int)inner),
               A_I((int)p->k), A_I(p->largest));
    ocl_launch_geometry(b, gs, ls, 1);
}

void ocl_emit_index(ocl_builder *b, const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_GatherElements: emit_gather_elements(b, n); return;
    case ENGINE_OP_GatherND: emit_gather_nd(b, n); return;
    case ENGINE_OP_ScatterElements: emit_scatter_elements(b, n); return;
    case ENGINE_OP_ScatterND: emit_scatter_nd(b, n); return;
    case ENGINE_OP_OneHot: emit_onehot(b, n); return;
    case ENGINE_OP_TopK: emit_topk(b, n); return;
    default: ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op"); return;
    }
}
