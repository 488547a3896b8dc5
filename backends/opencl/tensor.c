/* backends/opencl/tensor.c - the tensor family: data movement of any device
 * dtype (kernels in tensor.cl).
 *
 * Transpose, Slice, Concat, Split, Expand, Tile, DepthToSpace and
 * SpaceToDepth are one strided copy each (f_copy, f_copy_l) described by
 * counts and strides in the meta buffer; Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity and Dropout are plain copies and Cast a conversion
 * (elementwise.c, ocl_emit_map); Gather reads constant indices from the
 * meta buffer or run-time indices from the device (an index out of range
 * is then a run-time error); Pad has its own kernels. Shape, Constant and
 * ConstantOfShape only ever run folded (their outputs constant), so they
 * are refused otherwise. */
#include <math.h>
#include <string.h>

#include "ocl_builder.h"

/* f_pad reads engine_pad_mode as it is. */
_Static_assert(ENGINE_PAD_CONSTANT == PAD_CONSTANT && ENGINE_PAD_REFLECT == PAD_REFLECT &&
                   ENGINE_PAD_EDGE == PAD_EDGE && ENGINE_PAD_WRAP == PAD_WRAP,
               "ocl_codes.h's PAD_* differ from engine_pad_mode");

void ocl_emit_copy_strided(ocl_builder *b, int xs, int xextra, int ys, int yextra, int r, const int64_t *count,
                           const int64_t *is, const int64_t *os) {
    int meta[1 + 3 * 16];
    int64_t total = 1;
    meta[0] = r;
    for (int d = 0; d < r; ++d) {
        meta[1 + d] = (int)count[d];
        meta[1 + r + d] = (int)is[d];
        meta[1 + 2 * r + d] = (int)os[d];
        total *= count[d];
    }
    int mo = ocl_meta_add(b, meta, 1 + 3 * r);
    if (b->st || xs < 0) return;
    OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_copy_l" : "f_copy", (size_t)total, A_META(mo), A_T(xs, xextra),
               A_T(ys, yextra));
}

int ocl_supports_tensor(const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0], *x1 = engine_node_input(n, 1);
    switch (n->op) {
    case ENGINE_OP_Gather: /* indices constant (into the meta buffer) or a run-time tensor */
        return x1 && is_int(x1->dtype) && x->dtype == y->dtype;
    case ENGINE_OP_DepthToSpace: case ENGINE_OP_SpaceToDepth: return x->rank == 4 && x->dtype == y->dtype;
    case ENGINE_OP_Shape: case ENGINE_OP_Constant: case ENGINE_OP_ConstantOfShape:
        return 0; /* only ever constant (folded) in practice; nothing to run otherwise */
    case ENGINE_OP_Tile: return 2 * y->rank <= 16 && x->dtype == y->dtype;
    case ENGINE_OP_Cast: return 1; /* any pair of device classes */
    case ENGINE_OP_Trilu: return x->dtype == y->dtype;
    case ENGINE_OP_Concat:
        for (int k = 0; k < n->n_inputs; ++k)
            if (!n->inputs[k] || n->inputs[k]->dtype != y->dtype) return 0;
        return 1;
    case ENGINE_OP_Split:
        for (int k = 0; k < n->n_outputs; ++k)
            if (n->outputs[k] && n->outputs[k]->dtype != x->dtype) return 0;
        return 1;
    case ENGINE_OP_Dropout:
        /* training_mode: the drops are drawn on the host at compile, so
         * only with a seed (each run the same); without one, cpu/ref */
        if (n->params && ((const engine_dropout_params *)n->params)->ratio != 0.0f)
            return ((const engine_dropout_params *)n->params)->has_seed && x->dtype == ENGINE_DTYPE_F32 &&
                   y->dtype == ENGINE_DTYPE_F32;
        return x->dtype == y->dtype;
    case ENGINE_OP_Slice: case ENGINE_OP_Transpose: case ENGINE_OP_Pad: case ENGINE_OP_Expand:
    case ENGINE_OP_Identity: case ENGINE_OP_Reshape: case ENGINE_OP_Flatten:
    case ENGINE_OP_Squeeze: case ENGINE_OP_Unsqueeze:
        return x->dtype == y->dtype; /* data movement: any device class */
    default: return 0;
    }
}

static void emit_concat(ocl_builder *b, const engine_node *n) {
    const engine_axis_params *p = n->params;
    const engine_value *y = n->outputs[0];
    int ys = OUT(0);
    int64_t os[ENGINE_MAX_RANK], at = 0;
    c_strides(y, os);
    if (b->st) return;
    size_t yoff;
    int yhome = ocl_slot_home(b->p, ys, &yoff);
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *v = n->inputs[k];
        if (!v) continue;
        int64_t is[ENGINE_MAX_RANK];
        c_strides(v, is);
        int vs = ocl_slot_read(b, v);
        if (vs < 0) return;
        /* An input whose storage already is its destination slice (a
         * Concat alias) needs no copy. */
        size_t voff;
        int vhome = ocl_slot_home(b->p, vs, &voff);
        int in_place = vhome == yhome && voff == yoff + (size_t)(at * os[p->axis]);
        if (numel(v) > 0 && !in_place)
            ocl_emit_copy_strided(b, vs, 0, ys, (int)(at * os[p->axis]), v->rank, v->dims, is, os);
        at += v->dims[p->axis];
    }
}

static void emit_split(ocl_builder *b, const engine_node *n) {
    const engine_axis_params *p = n->params;
    const engine_value *x = n->inputs[0];
    int xs = IN(0);
    int64_t is[ENGINE_MAX_RANK], at = 0;
    c_strides(x, is);
    for (int k = 0; k < n->n_outputs; ++k) {
        const engine_value *v = n->outputs[k];
        if (!v) {
            at += k < p->n_sizes ? p->sizes[k] : 0;
            continue;
        }
        int64_t os[ENGINE_MAX_RANK];
        c_strides(v, os);
        int vs = ocl_slot_write(b, v);
        if (numel(v) > 0) ocl_emit_copy_strided(b, xs, (int)(at * is[p->axis]), vs, 0, v->rank, v->dims, is, os);
        at += v->dims[p->axis];
    }
}

static void emit_slice(ocl_builder *b, const engine_node *n) {
    const engine_slice_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int64_t is[ENGINE_MAX_RANK], os[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK], base = 0;
    c_strides(x, is);
    c_strides(y, os);
    for (int d = 0; d < x->rank; ++d) {
        st[d] = is[d] * p->step[d];
        if (y->dims[d] > 0) base += p->start[d] * is[d];
    }
    int xs = IN(0), ys = OUT(0);
    if (fits_int(base)) ocl_emit_copy_strided(b, xs, (int)base, ys, 0, y->rank, y->dims, st, os);
}

static void emit_transpose(ocl_builder *b, const engine_node *n) {
    const engine_transpose_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int64_t is[ENGINE_MAX_RANK], os[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK];
    c_strides(x, is);
    c_strides(y, os);
    for (int d = 0; d < y->rank; ++d) st[d] = is[p->perm[d]];
    int xs = IN(0), ys = OUT(0);
    ocl_emit_copy_strided(b, xs, 0, ys, 0, y->rank, y->dims, st, os);
}

static void emit_expand(ocl_builder *b, const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int64_t os[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK];
    int bs[ENGINE_MAX_RANK];
    c_strides(y, os);
    bcast_strides(x, y, bs);
    for (int d = 0; d < y->rank; ++d) st[d] = bs[d];
    int xs = IN(0), ys = OUT(0);
    ocl_emit_copy_strided(b, xs, 0, ys, 0, y->rank, y->dims, st, os);
}

/* Tile: each dim d split in two (repeat, then the input's extent), so one
 * strided copy of 2 * rank dims. */
static void emit_tile(ocl_builder *b, const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int64_t is[ENGINE_MAX_RANK], os[ENGINE_MAX_RANK], cnt[16], ist[16], ost[16];
    c_strides(x, is);
    c_strides(y, os);
    int r = y->rank;
    for (int d = 0; d < r; ++d) {
        cnt[2 * d] = x->dims[d] ? y->dims[d] / x->dims[d] : 0;
        cnt[2 * d + 1] = x->dims[d];
        ist[2 * d] = 0;
        ist[2 * d + 1] = is[d];
        ost[2 * d] = x->dims[d] * os[d];
        ost[2 * d + 1] = os[d];
    }
    int xs = IN(0), ys = OUT(0);
    ocl_emit_copy_strided(b, xs, 0, ys, 0, 2 * r, cnt, ist, ost);
}

/* DepthToSpace (DCR or CRD) and SpaceToDepth: a 6-D strided copy. */
static void emit_depth_space(ocl_builder *b, const engine_node *n) {
    const engine_axis_params *p = n->params;
    const engine_value *x = n->inputs[0];
    int64_t bsz = p->blocksize, N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t cnt[6], ist[6], ost[6];
    if (n->op == ENGINE_OP_DepthToSpace) {
        int64_t Co = C / (bsz * bsz);
        int64_t sN = C * H * W, sc, sb1, sb2;
        if (p->crd) {
            sc = bsz * bsz * H * W;
            sb1 = bsz * H * W;
            sb2 = H * W;
        } else {
            sb1 = bsz * Co * H * W;
            sb2 = Co * H * W;
            sc = H * W;
        }
        int64_t c6[6] = {N, Co, H, bsz, W, bsz}, i6[6] = {sN, sc, W, sb1, 1, sb2};
        memcpy(cnt, c6, sizeof c6);
        memcpy(ist, i6, sizeof i6);
    } else {
        int64_t c6[6] = {N, bsz, bsz, C, H / bsz, W / bsz}, i6[6] = {C * H * W, W, 1, H * W, bsz * W, bsz};
        memcpy(cnt, c6, sizeof c6);
        memcpy(ist, i6, sizeof i6);
    }
    int64_t s = 1;
    for (int d = 5; d >= 0; --d) {
        ost[d] = s;
        s *= cnt[d];
    }
    int xs = IN(0), ys = OUT(0);
    ocl_emit_copy_strided(b, xs, 0, ys, 0, 6, cnt, ist, ost);
}

static void emit_gather(ocl_builder *b, const engine_node *n) {
    const engine_axis_params *p = n->params;
    const engine_value *x = n->inputs[0], *ix = n->inputs[1], *y = n->outputs[0];
    int64_t len = x->dims[p->axis], pre = 1, post = 1, ni = numel(ix);
    for (int d = 0; d < p->axis; ++d) pre *= x->dims[d];
    for (int d = p->axis + 1; d < x->rank; ++d) post *= x->dims[d];
    if (!ix->data) {
        /* Run-time indices: read on the device, checked there (an
         * index out of range is an error of the run, as in ref). */
        int g3[3] = {(int)len, (int)ni, (int)(post ? post : 1)};
        int mo = ocl_meta_add(b, g3, 3);
        int xs = IN(0), is = IN(1), ys = OUT(0);
        if (b->st) return;
        OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_gather_rt_l" : "f_gather_rt", (size_t)numel(y), A_META(mo),
                   A_T(xs, 0), A_T(is, 0), A_T(ys, 0), A_FLAG(), A_I(b->step));
        return;
    }
    int *meta = ocl_xalloc(b->s, sizeof(int) * (size_t)(ni + 3));
    if (!meta) {
        ocl_oom(b);
        return;
    }
    meta[0] = (int)len;
    meta[1] = (int)ni;
    meta[2] = (int)(post ? post : 1);
    for (int64_t k = 0; k < ni; ++k) {
        int64_t v = ix->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)ix->data)[k] : ((const int32_t *)ix->data)[k];
        if (v < 0) v += len;
        if (v < 0 || v >= len) {
            ocl_xfree(b->s, meta);
            ocl_node_err(b, n, ENGINE_ERR_INVALID_MODEL, "%s", "index out of range");
            return;
        }
        meta[3 + k] = (int)v;
    }
    int mo = ocl_meta_add(b, meta, (int)(ni + 3));
    ocl_xfree(b->s, meta);
    int xs = IN(0), ys = OUT(0);
    if (b->st) return;
    OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_gather_l" : "f_gather", (size_t)numel(y), A_META(mo), A_T(xs, 0),
               A_T(ys, 0));
}

static void emit_pad(ocl_builder *b, const engine_node *n) {
    const engine_pad_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int r = x->rank, meta[2 + 3 * OCL_MAX_RANK];
    meta[0] = r;
    meta[1] = (int)p->mode;
    for (int d = 0; d < r; ++d) {
        meta[2 + d] = (int)x->dims[d];
        meta[2 + r + d] = (int)y->dims[d];
        meta[2 + 2 * r + d] = (int)p->pad_begin[d];
    }
    int xs = IN(0), ys = OUT(0);
    if (numel(x) == 0 && p->mode != ENGINE_PAD_CONSTANT && numel(y) > 0) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "reflect/edge/wrap padding of an empty tensor");
        return;
    }
    int mo = ocl_meta_add(b, meta, 2 + 3 * r);
    if (b->st) return;
    if (b->p->slots[xs].lng) {
        /* the pad value as the reference stores it: toward zero, wrapped to the width */
        double v = p->value;
        int64_t iv = isnan(v) ? 0 : v >= 9223372036854775808.0 ? INT64_MAX : v <= -9223372036854775808.0 ? INT64_MIN
                                                                                                       : (int64_t)v;
        int nb = nbits(y->dtype);
        uint64_t u = (uint64_t)iv;
        iv = nb == NB_I32 ? (int64_t)(int32_t)(uint32_t)u : nb == NB_I8 ? (int64_t)(int8_t)(uint8_t)u
           : nb == NB_U8 ? (int64_t)(uint8_t)u : iv;
        OCL_LAUNCH(b, "f_pad_l", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(ys, 0), A_L(iv));
    } else {
        OCL_LAUNCH(b, "f_pad", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(ys, 0), A_F((float)p->value));
    }
}

/* Dropout in training_mode with a seed: the per-element factor (0 or
 * 1 / (1 - ratio)) from numpy's draws (engine_mt19937_uniform, as the
 * reference) goes into the weight buffer; f_dropout applies it. */
static void emit_dropout_train(ocl_builder *b, const engine_node *n) {
    const engine_dropout_params *p = n->params;
    const engine_value *x = n->inputs[0];
    int xs = IN(0), ys = OUT(0);
    const int want_mask = n->n_outputs > 1 && n->outputs[1] != NULL;
    int ms = want_mask ? OUT(1) : ys;
    if (b->st) return;
    size_t cnt = (size_t)numel(x);
    if (cnt == 0) return;
    double *u = ocl_xalloc(b->s, cnt * sizeof *u);
    if (!u) {
        ocl_oom(b);
        return;
    }
    if (!ocl_grow(b, (void **)&b->wts, &b->cap_wts, b->n_wts + cnt + 64, sizeof(float))) {
        ocl_xfree(b->s, u);
        return;
    }
    engine_mt19937_uniform((uint32_t)p->seed, u, (int64_t)cnt);
    b->n_wts = (b->n_wts + 31) / 32 * 32;
    int wo = (int)b->n_wts;
    const float scale = 1.0f / (1.0f - p->ratio);
    for (size_t i = 0; i < cnt; ++i) b->wts[b->n_wts + i] = p->ratio > 0.0f && u[i] < (double)p->ratio ? 0.0f : scale;
    b->n_wts += cnt;
    ocl_xfree(b->s, u);
    OCL_LAUNCH(b, "f_dropout", cnt, A_T(xs, 0), A_W(), A_I(wo), A_T(ys, 0), A_T(ms, 0), A_I(want_mask));
}

void ocl_emit_tensor(ocl_builder *b, const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_Concat: emit_concat(b, n); return;
    case ENGINE_OP_Split: emit_split(b, n); return;
    case ENGINE_OP_Slice: emit_slice(b, n); return;
    case ENGINE_OP_Transpose: emit_transpose(b, n); return;
    case ENGINE_OP_Expand: emit_expand(b, n); return;
    case ENGINE_OP_Tile: emit_tile(b, n); return;
    case ENGINE_OP_DepthToSpace: case ENGINE_OP_SpaceToDepth: emit_depth_space(b, n); return;
    case ENGINE_OP_Gather: emit_gather(b, n); return;
    case ENGINE_OP_Pad: emit_pad(b, n); return;
    case ENGINE_OP_Cast: ocl_emit_cast(b, n); return;
    case ENGINE_OP_Trilu: {
        const engine_scan_params *p = n->params;
        const engine_value *x = n->inputs[0];
        int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
        /* |k| past the matrix keeps all or nothing: clamp it to int */
        int64_t k = p->k < -(rows + 1) ? -(rows + 1) : p->k > cols + 1 ? cols + 1 : p->k;
        int xs = IN(0), ys = OUT(0);
        if (b->st || rows == 0 || cols == 0) return;
        OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_trilu_l" : "f_trilu", (size_t)numel(x), A_T(xs, 0), A_T(ys, 0),
                   A_I((int)rows), A_I((int)cols), A_I(p->upper), A_I((int)k));
        return;
    }
    case ENGINE_OP_Identity: case ENGINE_OP_Reshape: case ENGINE_OP_Flatten: case ENGINE_OP_Squeeze:
    case ENGINE_OP_Unsqueeze:
        /* the same elements in the same order: a copy in the value's class */
        ocl_emit_map(b, n, U_COPY, 0.0f, 0.0f);
        return;
    case ENGINE_OP_Dropout:
        if (n->params && ((const engine_dropout_params *)n->params)->ratio != 0.0f) {
            /* training_mode with a seed (ocl_supports_tensor); at ratio 0
             * nothing drops: the copy below */
            emit_dropout_train(b, n);
            return;
        }
        ocl_emit_map(b, n, U_COPY, 0.0f, 0.0f);
        /* Its mask in inference: all true. */
        if (n->n_outputs > 1 && n->outputs[1]) {
            int ms = OUT(1);
            OCL_LAUNCH(b, "f_fill", (size_t)numel(n->outputs[1]), A_T(ms, 0), A_F(1.0f));
        }
        return;
    default: ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op"); return;
    }
}
