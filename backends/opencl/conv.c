/* backends/opencl/conv.c - the conv family: Conv and ConvTranspose
 * (kernels in conv.cl).
 *
 * Paths, in the order they are tried (the first that applies runs):
 *   - pointwise (1x1, stride 1, unpadded, one group, CLBlast on): one
 *     CLBlast SGEMM per image, then f_epilogue;
 *   - ENGINE_OPENCL_CONV=im2col (single-group kxk, CLBlast on): f_im2col
 *     into a scratch arena slot + one SGEMM per image, then f_epilogue;
 *   - direct: f_convt (ConvTranspose), f_dwconv (depthwise), f_conv4 (four
 *     output channels per work item), f_conv (the rest), all with the fused
 *     epilogue (bias, residual sum, activation).
 * Weights and bias are read from their (buffer, offset) whatever they are:
 * constants in the weight buffer or run-time values in the arena. */
#include <stdlib.h>
#include <string.h>

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

void ocl_emit_conv(ocl_builder *b, const engine_node *n) {
    if (n->op != ENGINE_OP_Conv && n->op != ENGINE_OP_ConvTranspose) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
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
