/* backends/opencl/conv.c - the conv family: Conv and ConvTranspose
 * (kernels in conv.cl).
 *
 * Paths, in the order they are tried (the first that applies runs):
 *   - a single-group 1-D/2-D Conv with constant weights: conv_tiled.cl's
 *     kernels on weights packed here once (Winograd F(2x2,3x3), vector or
 *     tiled implicit GEMM, split-K), chosen by tune.c (docs/OPENCL.md);
 *   - a depthwise 1-D/2-D Conv: f_dwconv_rv_<VN> (conv_tiled.cl);
 *   - pointwise (1x1, stride 1, unpadded, one group, CLBlast on): one
 *     CLBlast SGEMM per image, then f_epilogue;
 *   - ENGINE_OPENCL_CONV=im2col (single-group kxk, CLBlast on): f_im2col
 *     into a scratch arena slot + one SGEMM per image, then f_epilogue;
 *   - direct: f_convt (ConvTranspose), f_dwconv (depthwise), f_conv4 (four
 *     output channels per work item), f_conv (the rest), all with the fused
 *     epilogue (bias, residual sum, activation).
 * Weights and bias are read from their (buffer, offset) whatever they are:
 * constants in the weight buffer or run-time values in the arena. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_tune.h"
#include "ocl_builder.h"

int ocl_supports_conv(const engine_node *n) {
    const engine_value *x = n->inputs[0], *x1 = engine_node_input(n, 1);
    switch (n->op) {
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: {
        /* weights and bias: constants or run-time values alike */
        const engine_conv_params *p = n->params;
        return ocl_all_f32(n, 4) && x->rank >= 3 && x->rank <= 5 && p->spatial == x->rank - 2 && p->group > 0 && x1;
    }
    default: return 0;
    }
}

/* ---- fast single-group and depthwise 1-D/2-D convolutions (conv_tiled.cl, tune.c) ---- */

/* conv_tiled.cl's 19-int geometry of a 1-D or 2-D Conv (a 1-D one is a
 * 2-D one on rows of height 1); 0 when the shape is outside what its int
 * indexing covers (with room for split-K's partials). */
static int conv_geom(const engine_node *n, int *g, float *a1, float *b1) {
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int sp = p->spatial;
    int N = (int)x->dims[0], C = (int)x->dims[1], M = (int)y->dims[1];
    g[0] = C;
    g[1] = sp == 2 ? (int)x->dims[2] : 1;
    g[2] = (int)x->dims[1 + sp];
    g[3] = M;
    g[4] = sp == 2 ? (int)y->dims[2] : 1;
    g[5] = (int)y->dims[1 + sp];
    g[6] = sp == 2 ? (int)p->kernel[0] : 1;
    g[7] = (int)p->kernel[sp - 1];
    g[8] = sp == 2 && p->stride[0] > 0 ? (int)p->stride[0] : 1;
    g[9] = p->stride[sp - 1] > 0 ? (int)p->stride[sp - 1] : 1;
    g[10] = sp == 2 ? (int)p->pad_begin[0] : 0;
    g[11] = (int)p->pad_begin[sp - 1];
    g[12] = sp == 2 && p->dilation[0] > 0 ? (int)p->dilation[0] : 1;
    g[13] = p->dilation[sp - 1] > 0 ? (int)p->dilation[sp - 1] : 1;
    int Mp = (M + 7) / 8 * 8, K = C * g[6] * g[7], P = g[4] * g[5];
    g[14] = Mp;
    g[15] = ocl_act_code(&p->epilogue, a1, b1);
    g[16] = 0;
    g[17] = 1;
    g[18] = 1;
    return N >= 1 && C >= 1 && M >= 1 && P >= 1 && (int64_t)K * Mp * 16 <= INT_MAX / 16 && (int64_t)N * M * P <= INT_MAX / 16 &&
           (int64_t)N * C * g[1] * g[2] <= INT_MAX / 16;
}

/* Depthwise 1-D/2-D convolutions (one input channel per group) on
 * f_dwconv_rv_<VN>; weights read as the model holds them (constants or
 * run-time values). 0: not emitted. */
static int emit_dwconv_fast(ocl_builder *b, const engine_node *n) {
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    const char *mode = getenv("ENGINE_OPENCL_CONV");
    if (n->op != ENGINE_OP_Conv || p->spatial < 1 || p->spatial > 2 || x->dims[1] != p->group ||
        y->dims[1] != p->group || (mode && *mode))
        return 0;
    int g[19];
    float a1, b1;
    if (!conv_geom(n, g, &a1, &b1)) return 0;
    const engine_value *bias = engine_node_input(n, 2), *sum = p->epilogue.sum ? engine_node_input(n, 3) : NULL;
    int xs = IN(0), ws = IN(1), bs = bias ? ocl_slot_read(b, bias) : -1, ss = sum ? ocl_slot_read(b, sum) : -1;
    int ys = OUT(0);
    int mo = ocl_meta_add(b, g, 19);
    if (b->st) return 1;
    /* 16 lanes on rows of 12 or more (GPUs, as measured on the H200, and
     * CPU devices whose float vectors are 16 wide: AVX-512), else 8 (AVX2:
     * 16 lanes are two registers and more rows end in a partial segment) */
    const ocl_device *dv = &b->s->dev;
    int wide = !(dv->type & CL_DEVICE_TYPE_CPU) || dv->vec_float == 0 || dv->vec_float >= 16;
    int vn = g[5] >= 12 && wide ? 16 : 8;
    size_t gs[3] = {(size_t)((g[5] + vn - 1) / vn), (size_t)g[0], (size_t)x->dims[0] * (size_t)g[4]}, ls[3] = {1, 1, 1};
    OCL_LAUNCH(b, vn == 16 ? "f_dwconv_rv_16" : "f_dwconv_rv_8", 1, A_META(mo), A_T(xs, 0), A_T(ws, 0),
               A_T(bs >= 0 ? bs : ws, 0), A_I(bs >= 0), A_T(ss >= 0 ? ss : ws, 0), A_I(ss >= 0), A_T(ys, 0), A_F(a1),
               A_F(b1));
    ocl_launch_geometry(b, gs, ls, 0);
    return 1;
}

typedef struct conv_pack_ctx {
    const ocl_conv_desc *d;
    int wino;
} conv_pack_ctx;

static void conv_pack_cb(const void *ctx, float *dst) {
    const conv_pack_ctx *c = ctx;
    ocl_conv_pack(c->d, c->wino, dst);
}

static int emit_conv_fast(ocl_builder *b, const engine_node *n) {
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    const char *mode = getenv("ENGINE_OPENCL_CONV");
    if (n->op != ENGINE_OP_Conv || p->group != 1 || p->spatial < 1 || p->spatial > 2 || !w->data ||
        w->dtype != ENGINE_DTYPE_F32 || (mode && *mode))
        return 0;
    const engine_value *bias = engine_node_input(n, 2), *sum = p->epilogue.sum ? engine_node_input(n, 3) : NULL;
    int sp = p->spatial;
    ocl_conv_desc d;
    memset(&d, 0, sizeof d);
    int *g = d.g;
    float a1, b1;
    if (!conv_geom(n, g, &a1, &b1)) return 0;
    int N = (int)x->dims[0], C = (int)x->dims[1], M = (int)y->dims[1];
    int Mp = g[14], KH = g[6], KW = g[7], K = C * KH * KW, P = g[4] * g[5];
    d.batch = N;
    d.pointwise = KH == 1 && KW == 1 && g[8] == 1 && g[9] == 1 && g[10] == 0 && g[11] == 0;
    for (int i = 0; i < sp; ++i) d.pointwise &= p->pad_end[i] == 0;
    d.wino_ok = !b->s->fp16 && KH == 3 && KW == 3 && g[8] == 1 && g[9] == 1 && g[12] == 1 && g[13] == 1 && sp == 2 &&
                C >= 8 && M >= 8 && !p->exact_rounding && !getenv("ENGINE_OPENCL_NO_WINOGRAD");
    d.w = w->data;
    d.bias = bias && bias->data && bias->dtype == ENGINE_DTYPE_F32 ? bias->data : NULL;
    conv_choice ch;
    if (!ocl_conv_choose(b->s, &d, &ch)) {
        ocl_node_err(b, n, ENGINE_ERR_BACKEND, "%s", "creating a convolution kernel failed");
        return 1;
    }
    /* ENGINE_OPENCL_CONV_KERNEL=NAME[,direct|,ksN]: this variant for every
     * convolution it can run, without Winograd or split along K in N (the
     * tests run each one) */
    const char *force = getenv("ENGINE_OPENCL_CONV_KERNEL");
    if (force && *force) {
        char nm[64];
        snprintf(nm, sizeof nm, "%s", force);
        char *comma = strchr(nm, ',');
        int ks = 1;
        if (comma) {
            *comma = 0;
            if (strcmp(comma + 1, "direct") == 0) ch.wino = 0;
            if (sscanf(comma + 1, "ks%d", &ks) != 1 || ks < 1 || ks > 16) ks = 1;
        }
        int v = ocl_conv_variant_find(nm);
        if (v >= 0) ch.variant = v, ch.ks = ks, ch.lx = ch.ly = 0;
    }
    const conv_variant *v = &ocl_conv_variants[ch.variant];
    /* what a variant cannot run falls to its neighbour */
    if (v->kind == CV_PW && !d.pointwise && !ch.wino) v = &ocl_conv_variants[CVI_RV_8x16];
    if (v->kind == CV_RV && ch.wino) v = &ocl_conv_variants[CVI_PW_8x16];
    int xs = IN(0), bs = bias ? ocl_slot_read(b, bias) : -1, ss = sum ? ocl_slot_read(b, sum) : -1;
    if (b->st) return 1;
    /* CPU devices, Winograd on f_conv_pw_8x8: both GEMM operands in 8-wide
     * panels (f_wino_in_b8, U packed so, f_conv_pwb_8x8) */
    const int panels = ch.wino && (b->s->dev.type & CL_DEVICE_TYPE_CPU) && v == &ocl_conv_variants[CVI_PW_8x8];
    if (panels) ch.wino = 2;
    /* Packed once per instance for every shape (ocl_wts_shared). */
    ocl_wkey key;
    memset(&key, 0, sizeof key);
    key.src[0] = d.w;
    int kdims[8] = {ch.wino, C, M, Mp, K, g[6], g[7], 0};
    memcpy(key.dims, kdims, sizeof kdims);
    conv_pack_ctx pc = {&d, ch.wino};
    int ws = ocl_wts_shared(b, &key, ch.wino ? (size_t)16 * C * Mp : (size_t)K * Mp, conv_pack_cb, &pc);
    if (ws < 0) return 1;
    int ys = OUT(0);
    int mo = ocl_meta_add(b, g, 19);
    if (b->st) return 1;
    int bslot = bs >= 0 ? bs : ws, sslot = ss >= 0 ? ss : ws;
    size_t gs[3], ls[3];
    int ul;
    if (ch.wino) {
        int TT = ((g[4] + 1) / 2) * ((g[5] + 1) / 2);
        int gm[19] = {C, 1, TT, M, 1, TT, 1, 1, 1, 1, 0, 0, 1, 1, Mp, 0, C * Mp, 16, 1};
        int mo2 = ocl_meta_add(b, gm, 19);
        int TTv = panels ? (TT + 7) / 8 * 8 : TT; /* V's tiles, padded to whole panels */
        int vs = ocl_slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_ARENA, (size_t)N * 16 * C * TTv);
        int ms = ocl_slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_ARENA, (size_t)N * 16 * M * TT);
        if (b->st || vs < 0 || ms < 0) return 1;
        size_t g3[3] = {(size_t)TTv, (size_t)C, (size_t)N}, l1[3] = {1, 1, 1};
        OCL_LAUNCH(b, panels ? "f_wino_in_b8" : "f_wino_in", 1, A_META(mo), A_T(xs, 0), A_T(vs, 0));
        ocl_launch_geometry(b, g3, l1, 0);
        /* not in ocl_conv_variants: the tuner's candidates read V unpanelled */
        static const conv_variant pwb_8x8 = {"f_conv_pwb_8x8", CV_PW, 8, 8};
        if (panels) v = &pwb_8x8;
        ocl_conv_geometry(v, TT, 1, TT, M, Mp, N * 16, 1, ch.lx, ch.ly, gs, ls, &ul);
        OCL_LAUNCH(b, v->name, 1, A_META(mo2), A_T(vs, 0), A_T(ws, 0), A_T(ws, 0), A_I(0), A_T(ws, 0), A_I(0),
                   A_T(ms, 0), A_F(0.0f), A_F(0.0f));
        ocl_launch_geometry(b, gs, ls, ul);
        size_t g4[3] = {(size_t)TT, (size_t)M, (size_t)N};
        OCL_LAUNCH(b, "f_wino_out", 1, A_META(mo), A_T(ms, 0), A_T(bslot, 0), A_I(bs >= 0), A_T(sslot, 0),
                   A_I(ss >= 0), A_T(ys, 0), A_F(a1), A_F(b1));
        ocl_launch_geometry(b, g4, l1, 0);
        return 1;
    }
    /* CPU devices: a convolution bound for the row kernels runs as an
     * explicit im2col + the pointwise kernel where the output rows are
     * shorter than 32 (the row kernels gather lane by lane there, and at
     * stride 2), the column buffer a scratch slot of the arena (this node
     * only, at most 16 MiB). On POCL: ResNet-50 278 -> 246 ms; on rows of
     * 112 (the stems) it was slower, so they keep the row kernels. */
    int im2col_pw = (b->s->dev.type & CL_DEVICE_TYPE_CPU) && v->kind == CV_RV && !(force && *force) && g[5] < 32 &&
                    (int64_t)N * K * P <= ((int64_t)4 << 20);
    if (im2col_pw) {
        int cs = ocl_slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_ARENA, (size_t)N * K * P);
        int gm[19];
        memcpy(gm, g, sizeof gm);
        gm[0] = K, gm[1] = g[4], gm[2] = g[5], gm[6] = gm[7] = 1, gm[8] = gm[9] = 1, gm[10] = gm[11] = 0,
        gm[12] = gm[13] = 1;
        int mo2 = ocl_meta_add(b, gm, 19);
        if (b->st || cs < 0) return 1;
        size_t g3[3] = {(size_t)P, (size_t)K, (size_t)N}, l1[3] = {1, 1, 1};
        OCL_LAUNCH(b, "f_im2col_pw", 1, A_META(mo), A_T(xs, 0), A_T(cs, 0));
        ocl_launch_geometry(b, g3, l1, 0);
        const conv_variant *pv = &ocl_conv_variants[v->rn == 16 ? CVI_PW_8x16 : CVI_PW_8x8];
        ocl_conv_geometry(pv, P, g[4], g[5], M, Mp, N, 1, ch.lx, ch.ly, gs, ls, &ul);
        OCL_LAUNCH(b, pv->name, 1, A_META(mo2), A_T(cs, 0), A_T(ws, 0), A_T(bslot, 0), A_I(bs >= 0),
                   A_T(sslot, 0), A_I(ss >= 0), A_T(ys, 0), A_F(a1), A_F(b1));
        ocl_launch_geometry(b, gs, ls, ul);
        return 1;
    }
    int ks = v->kind == CV_TILE ? ch.ks : 1;
    ocl_conv_geometry(v, P, g[4], g[5], M, Mp, N, ks, ch.lx, ch.ly, gs, ls, &ul);
    if (ks > 1) {
        b->meta[mo + 18] = ks;
        int total = N * M * P;
        int ps = ocl_slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_ARENA, (size_t)ks * (size_t)total);
        if (ps < 0) return 1;
        OCL_LAUNCH(b, v->name, 1, A_META(mo), A_T(xs, 0), A_T(ws, 0), A_T(ws, 0), A_I(0), A_T(ws, 0), A_I(0),
                   A_T(ps, 0), A_F(0.0f), A_F(0.0f));
        ocl_launch_geometry(b, gs, ls, ul);
        OCL_LAUNCH(b, "f_splitk_sum", (size_t)total, A_META(mo), A_T(ps, 0), A_I(total), A_T(bslot, 0),
                   A_I(bs >= 0), A_T(sslot, 0), A_I(ss >= 0), A_T(ys, 0), A_F(a1), A_F(b1));
        return 1;
    }
    OCL_LAUNCH(b, v->name, 1, A_META(mo), A_T(xs, 0), A_T(ws, 0), A_T(bslot, 0), A_I(bs >= 0), A_T(sslot, 0),
               A_I(ss >= 0), A_T(ys, 0), A_F(a1), A_F(b1));
    ocl_launch_geometry(b, gs, ls, ul);
    return 1;
}

void ocl_emit_conv(ocl_builder *b, const engine_node *n) {
    if (n->op != ENGINE_OP_Conv && n->op != ENGINE_OP_ConvTranspose) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
    if (emit_conv_fast(b, n) || emit_dwconv_fast(b, n)) return;
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    const engine_value *bias = engine_node_input(n, 2), *sum = p->epilogue.sum ? engine_node_input(n, 3) : NULL;
    int sp = p->spatial, T = n->op == ENGINE_OP_ConvTranspose;
    int g[23];
    g[0] = (int)x->dims[0];
    g[1] = (int)x->dims[1];
    g[5] = (int)y->dims[1];
    for (int i = 0; i < 3; ++i) {
        int d = i - (3 - sp); /* spatial index, negative: a leading size-1 dim */
        g[2 + i] = d >= 0 ? (int)x->dims[2 + d] : 1;
        g[6 + i] = d >= 0 ? (int)y->dims[2 + d] : 1;
        g[9 + i] = d >= 0 ? (int)p->kernel[d] : 1;
        g[12 + i] = d >= 0 && p->stride[d] > 0 ? (int)p->stride[d] : 1;
        g[15 + i] = d >= 0 && p->dilation[d] > 0 ? (int)p->dilation[d] : 1;
        g[18 + i] = d >= 0 ? (int)p->pad_begin[d] : 0;
    }
    g[21] = (int)p->group;
    float a1, b1;
    g[22] = ocl_act_code(&p->epilogue, &a1, &b1);
    int xs = IN(0), ws = IN(1), bs = bias ? ocl_slot_read(b, bias) : -1, ss = sum ? ocl_slot_read(b, sum) : -1;
    int ys = OUT(0);
    if (b->st) return;
    (void)w;
    int64_t plane = plane_of(y);
    /* 1x1, stride 1, no pad, one group: a GEMM per image through CLBlast. */
    int pointwise = !T && b->s->clblast && p->group == 1;
    for (int i = 0; i < sp; ++i)
        pointwise &= p->kernel[i] == 1 && p->stride[i] == 1 && p->pad_begin[i] == 0 && p->pad_end[i] == 0;
    if (pointwise && g[1] * (int64_t)g[5] * plane >= 4096) {
        for (int img = 0; img < g[0]; ++img) {
            ocl_launch *l = ocl_launch_new(b, NULL, 0);
            if (!l) return;
            l->gm = g[5];
            l->gn = (int)plane;
            l->gk = g[1];
            l->alpha = 1.0f;
            l->beta = 0.0f;
            l->a_slot = ws;
            l->lda = g[1];
            l->b_slot = xs;
            l->b_extra = img * g[1] * (int)plane;
            l->ldb = (int)plane;
            l->c_slot = ys;
            l->c_extra = img * g[5] * (int)plane;
            l->ldc = (int)plane;
        }
        OCL_LAUNCH(b, "f_epilogue", (size_t)numel(y), A_T(ys, 0), A_T(bs >= 0 ? bs : ys, 0), A_I(bs >= 0),
                   A_T(ss >= 0 ? ss : ys, 0), A_I(ss >= 0), A_I((int)plane), A_I(g[5]), A_I(g[22]), A_F(a1),
                   A_F(b1));
        return;
    }
    int mo = ocl_meta_add(b, g, 23);
    /* ENGINE_OPENCL_CONV=im2col: single-group kxk convolutions as im2col
     * into a scratch slot of the arena (live for this node only), one
     * CLBlast SGEMM per image (W[M, C*K] x col[C*K, P]), then the epilogue
     * kernel. Opt-in: on POCL it is 1.5-2.5x slower than f_conv4
     * (docs/PERFORMANCE.md); it is there for devices where CLBlast's GEMM
     * wins (GPUs), to be measured where one is lent. */
    int64_t ck = (int64_t)g[1] * g[9] * g[10] * g[11];
    const char *mode = getenv("ENGINE_OPENCL_CONV");
    int im2col = !T && b->s->clblast && p->group == 1 && mode && strcmp(mode, "im2col") == 0 &&
                 ck * plane <= INT_MAX / 2 && (int64_t)g[5] * ck * plane >= 65536;
    if (im2col) {
        int cs = ocl_slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_ARENA, (size_t)(ck * plane));
        if (cs < 0) return;
        for (int img = 0; img < g[0]; ++img) {
            OCL_LAUNCH(b, "f_im2col", (size_t)(ck * plane), A_META(mo), A_T(xs, img * g[1] * g[2] * g[3] * g[4]),
                       A_T(cs, 0));
            ocl_launch *l = ocl_launch_new(b, NULL, 0);
            if (!l) return;
            l->gm = g[5];
            l->gn = (int)plane;
            l->gk = (int)ck;
            l->alpha = 1.0f;
            l->beta = 0.0f;
            l->a_slot = ws;
            l->lda = (int)ck;
            l->b_slot = cs;
            l->ldb = (int)plane;
            l->c_slot = ys;
            l->c_extra = img * g[5] * (int)plane;
            l->ldc = (int)plane;
        }
        OCL_LAUNCH(b, "f_epilogue", (size_t)numel(y), A_T(ys, 0), A_T(bs >= 0 ? bs : ys, 0), A_I(bs >= 0),
                   A_T(ss >= 0 ? ss : ys, 0), A_I(ss >= 0), A_I((int)plane), A_I(g[5]), A_I(g[22]), A_F(a1),
                   A_F(b1));
        return;
    }
    /* Depthwise (one input channel per group): its own kernel. Else four
     * output channels per work item where they share a group. */
    int dw = !T && g[1] == g[21] && !(mode && strcmp(mode, "generic") == 0);
    int four = !T && !dw && (g[5] / g[21]) % 4 == 0 && !getenv("ENGINE_OPENCL_NO_CONV4");
    /* The direct kernels share one argument list (conv.cl). */
    OCL_LAUNCH(b, T ? "f_convt" : dw ? "f_dwconv" : four ? "f_conv4" : "f_conv", (size_t)numel(y) / (four ? 4 : 1),
               A_META(mo), A_T(xs, 0), A_T(ws, 0), A_T(bs >= 0 ? bs : ws, 0), A_I(bs >= 0),
               A_T(ss >= 0 ? ss : ws, 0), A_I(ss >= 0), A_T(ys, 0), A_F(a1), A_F(b1));
}
