/* conv_transpose.c - ConvTranspose (1-D and 2-D, float32, constant
 * weights, any stride / dilation / pads / output_padding / groups) as one
 * GEMM per group followed by col2im:
 *     cols_g [Mg*KH*KW x H*W] = W_g^T [Mg*KH*KW x Cg] * X_g [Cg x H*W]
 *     y[m][ih*SH - PT + kh*DH][iw*SW - PL + kw*DW] += cols_g[(mm*KH + kh)*KW + kw][ih*W + iw]
 * The GEMM is the packed driver of gemm.c, B panels copied straight from
 * the input's NCHW rows (as for a 1x1 conv); the transposed weights are
 * packed into its A panels once, at compile. col2im starts each output
 * plane from the bias (plus the fused residual), scatters the columns in,
 * then applies the activation: the whole epilogue, threads over output
 * channels. Kernel name: f32_convtranspose_gemm_col2im_<MR>x<NR>__<isa>. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"

typedef struct ct_b_ctx {
    const float *x; /* the group's first input channel */
    size_t hw;      /* H * W */
} ct_b_ctx;

static void ct_pack_rows(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    const ct_b_ctx *c = vctx;
    const float *src = c->x + (size_t)k0 * c->hw + (size_t)n0;
    for (int k = 0; k < kc; ++k, src += c->hw, panel += NR) {
        memcpy(panel, src, (size_t)nr * sizeof(float));
        if (nr < NR) memset(panel + nr, 0, (size_t)(NR - nr) * sizeof(float));
    }
}

static int small_int(int64_t v) { return v >= 0 && v <= INT32_MAX / 64; }

/* d from a ConvTranspose node (C, H, W: input; M, OH, OW: output; KH, KW;
 * SH, SW; DH, DW; PT, PL the begin pads); 0 when not one this file takes. */
static int describe_ct(const engine_node *n, int threads, cpu_conv2d *d) {
    if (!cpu_conv_node_takes(n)) return 0;
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    const engine_value *b = engine_node_input(n, 2);
    for (int i = 0; i < x->rank; ++i)
        if (!small_int(x->dims[i]) || !small_int(w->dims[i]) || !small_int(y->dims[i])) return 0;
    const int two = x->rank == 4, last = p->spatial - 1;
    memset(d, 0, sizeof *d);
    d->group = (int)p->group;
    d->C = (int)x->dims[1];
    d->H = two ? (int)x->dims[2] : 1;
    d->W = (int)x->dims[x->rank - 1];
    if (d->group < 1 || w->dims[0] != d->C || d->C % d->group) return 0;
    d->M = (int)w->dims[1] * d->group;
    d->OH = two ? (int)y->dims[2] : 1;
    d->OW = (int)y->dims[y->rank - 1];
    d->KH = two ? (int)w->dims[2] : 1;
    d->KW = (int)w->dims[w->rank - 1];
    d->SH = two ? (int)p->stride[0] : 1;
    d->SW = (int)p->stride[last];
    d->DH = two ? (int)p->dilation[0] : 1;
    d->DW = (int)p->dilation[last];
    d->PT = two ? (int)p->pad_begin[0] : 0;
    d->PL = (int)p->pad_begin[last];
    d->epi = p->epilogue;
    d->threads = threads > 0 ? threads : 1;
    if (y->dims[0] != x->dims[0] || y->dims[1] != d->M || d->SH < 1 || d->SW < 1 || d->DH < 1 || d->DW < 1) return 0;
    if (b && b->dims[0] != d->M) return 0;
    /* rows x columns of one group's cols, and the output plane, index with int */
    const int64_t rows = (int64_t)(d->M / d->group) * d->KH * d->KW, cols = (int64_t)d->H * d->W;
    if (rows * cols > INT32_MAX / 4 || (int64_t)d->OH * d->OW > INT32_MAX / 4) return 0;
    return 1;
}

/* The packed layout: per group the A panels of W_g^T, then R zeros (the
 * GEMM's bias), then the M biases. */
static size_t ct_group_floats(const cpu_kernels *k, const cpu_conv2d *d) {
    const int R = d->M / d->group * d->KH * d->KW, Cg = d->C / d->group;
    return cpu_gemm_packed_a_floats(k, R, Cg);
}

static size_t ct_cols_floats(const cpu_conv2d *d) {
    const size_t R = (size_t)(d->M / d->group) * (size_t)d->KH * (size_t)d->KW;
    return (R * (size_t)d->H * (size_t)d->W + 15u) / 16u * 16u;
}

typedef struct col2im_ctx {
    const cpu_conv2d *d;
    const cpu_kernels *k;
    int g, Mg, KHW, N, OHW;
    const float *bias, *cols, *sb;
    float *yb;
} col2im_ctx;

/* Output channels [mm0, mm1) of group g: bias (+ residual), the columns
 * scattered back onto the map, the activation. */
static void col2im_task(void *vc, int tid, int64_t mm0_, int64_t mm1_) {
    const int mm0 = (int)mm0_, mm1 = (int)mm1_;
    (void)tid;
    const col2im_ctx *cx = vc;
    const cpu_conv2d *d = cx->d;
    const int g = cx->g, Mg = cx->Mg, KHW = cx->KHW, N = cx->N, OHW = cx->OHW;
    const float *bias = cx->bias, *cols = cx->cols, *sb = cx->sb;
    float *yb = cx->yb;
    for (int mm = mm0; mm < mm1; ++mm) {
        const int m = g * Mg + mm;
        float *yp = yb + (size_t)m * (size_t)OHW;
        const float *sp = sb ? sb + (size_t)m * (size_t)OHW : NULL;
        for (int i = 0; i < OHW; ++i) yp[i] = bias[m] + (sp ? sp[i] : 0.0f);
        for (int kh = 0; kh < d->KH; ++kh)
            for (int kw = 0; kw < d->KW; ++kw) {
                const float *cr = cols + ((size_t)mm * (size_t)KHW + (size_t)(kh * d->KW + kw)) * (size_t)N;
                /* input columns iw whose output column is inside [0, OW) */
                const int off = kw * d->DW - d->PL;
                int lo = off >= 0 ? 0 : (-off + d->SW - 1) / d->SW;
                int hi = off >= d->OW ? 0 : (d->OW - 1 - off) / d->SW + 1;
                if (hi > d->W) hi = d->W;
                if (hi <= lo) continue;
                for (int ih = 0; ih < d->H; ++ih) {
                    const int oh = ih * d->SH - d->PT + kh * d->DH;
                    if (oh < 0 || oh >= d->OH) continue;
                    float *yr = yp + (size_t)oh * (size_t)d->OW + off;
                    const float *c = cr + (size_t)ih * (size_t)d->W;
                    if (d->SW == 1) {
#pragma omp simd
                        for (int iw = lo; iw < hi; ++iw) yr[iw] += c[iw];
                    } else {
                        for (int iw = lo; iw < hi; ++iw) yr[iw * d->SW] += c[iw];
                    }
                }
            }
        cx->k->act_row(&d->epi, yp, (size_t)OHW);
    }
}

static engine_status ct_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    const cpu_conv2d *d = &s->conv;
    const cpu_kernels *k = s->k;
    const int G = d->group, Cg = d->C / G, Mg = d->M / G, KHW = d->KH * d->KW, R = Mg * KHW;
    const int N = d->H * d->W, OHW = d->OH * d->OW;
    const size_t per = ct_group_floats(k, d);
    const float *A = s->prep, *zeros = A + per * (size_t)G, *bias = zeros + R;
    const float *x = in[0], *sum = d->epi.sum ? in[3] : NULL;
    float *y = out[0], *cols = scratch, *gscratch = cols + ct_cols_floats(d);
    const engine_epilogue none = {ENGINE_ACT_NONE, 0.0f, 0.0f, 0};
    const int64_t batch = s->node->inputs[0]->dims[0];
    for (int64_t bn = 0; bn < batch; ++bn) {
        const float *xb = x + (size_t)bn * (size_t)d->C * (size_t)N;
        float *yb = y + (size_t)bn * (size_t)d->M * (size_t)OHW;
        const float *sb = sum ? sum + (size_t)bn * (size_t)d->M * (size_t)OHW : NULL;
        for (int g = 0; g < G; ++g) {
            ct_b_ctx ctx = {xb + (size_t)g * (size_t)Cg * (size_t)N, (size_t)N};
            cpu_gemm_run(k, R, N, Cg, A + (size_t)g * per, zeros, ct_pack_rows, &ctx, cols, (size_t)N, NULL, 0, &none,
                         s->threads, gscratch);
            col2im_ctx cc = {d, k, g, Mg, KHW, N, OHW, bias, cols, sb, yb};
            cpu_parallel_for(s->threads, Mg, 1, col2im_task, &cc);
        }
    }
    return ENGINE_OK;
}

engine_status cpu_prepare_convtranspose(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    cpu_conv2d *d = &s->conv;
    if (n->op != ENGINE_OP_ConvTranspose || !describe_ct(n, c->threads, d)) return ENGINE_ERR_UNSUPPORTED;
    const cpu_kernels *k = c->k;
    const int G = d->group, Cg = d->C / G, Mg = d->M / G, KHW = d->KH * d->KW, R = Mg * KHW;
    const size_t per = ct_group_floats(k, d);
    const size_t bytes = (per * (size_t)G + (size_t)R + (size_t)d->M) * sizeof(float);
    float *p = c->a->alloc(c->a->user, bytes, 64);
    if (!p) return ENGINE_ERR_OUT_OF_MEMORY;
    const float *w = n->inputs[1]->data;
    /* A_g[r][c] = W[g*Cg + c][r / KHW][r % KHW]: row r = mm*KHW + khw is
     * contiguous in W along r, the channel c strides by Mg*KHW. */
    for (int g = 0; g < G; ++g)
        cpu_gemm_pack_a(k, R, Cg, w + (size_t)g * (size_t)Cg * (size_t)R, 1, (size_t)R, p + (size_t)g * per);
    float *zeros = p + per * (size_t)G, *bias = zeros + R;
    memset(zeros, 0, (size_t)R * sizeof(float));
    const engine_value *b = engine_node_input(n, 2);
    for (int m = 0; m < d->M; ++m) bias[m] = b ? ((const float *)b->data)[m] : 0.0f;
    s->prep = p;
    s->prep_bytes = bytes;
    s->algo = NULL;
    s->scratch_bytes = ct_cols_floats(d) * sizeof(float) +
                       cpu_gemm_scratch_bytes(k, R, d->H * d->W, Cg, c->threads > 0 ? c->threads : 1);
    s->exec = ct_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_convtranspose_gemm_col2im_%dx%d__%s", k->mr, k->nr, k->isa_name);
    return ENGINE_OK;
}
