/* merge_branches.c - Add(ConvA(x), ConvB(x)) over the same input x becomes
 * one Conv: convolution is linear in its weights, so two convs that read x
 * at the same output grid are one conv whose kernel is the sum of both,
 * each placed at its own offset in a common window. This is RepVGG's
 * re-parameterisation: after fold_batchnorm the branches are Conv3x3(+b)
 * and Conv1x1(+b), and the identity BN is a depthwise 1x1 Conv
 * (batchnorm_to_conv); Add(Add(3x3, 1x1), id) merges pairwise into one
 * Conv3x3. Weights are summed in double, rounded once.
 *
 * Window. Output i of conv X reads input i*s - pX + j for its tap j. With a
 * common begin pad P = max(pA, pB), tap j of X is tap J = j + P - pX of the
 * merged kernel, whose size is K = max over X of (P - pX + kX). The end pad
 * keeps A's padded span (so A's output size): Pe = K - P + pA + pAe - kA,
 * which must be >= 0. Zero padding reads zero in both forms, so the
 * result is the same at every output position.
 *
 * Groups. The merged conv takes the coarser grouping g = min(gA, gB); the
 * finer one must be a multiple of it, so each of its groups lies inside one
 * of g's (a depthwise identity, group C, fits any grouping).
 *
 * Requires: both Conv (not ConvTranspose), same x, same strides, dilation
 * 1, constant float32 weights and biases, no fused epilogue, outputs read by
 * the Add only and not graph outputs, Add without broadcasting. */
#include <stdlib.h>

#include "ops_internal.h"
#include "passes.h"

static engine_node *branch(const eng_graph *g, const engine_value *v) {
    engine_node *p = v->producer;
    if (!p || p->op != ENGINE_OP_Conv || !p->params || p->outputs[0] != v || p->n_outputs != 1) return NULL;
    if (!eng_pass_private(g, v, 1) || p->n_inputs > 3) return NULL;
    const engine_conv_params *cp = p->params;
    if (cp->epilogue.act != ENGINE_ACT_NONE || cp->epilogue.sum) return NULL;
    for (int d = 0; d < cp->spatial; ++d)
        if (cp->dilation[d] != 1) return NULL;
    const engine_value *b = engine_node_input(p, 2);
    if (!eng_pass_const_f32(p->inputs[1]) || (b && !eng_pass_const_f32(b))) return NULL;
    return p;
}

typedef struct window {
    int spatial;
    int64_t group;
    int64_t k[ENGINE_MAX_SPATIAL], pb[ENGINE_MAX_SPATIAL], pe[ENGINE_MAX_SPATIAL];
} window;

/* The merged window of a and b; 0 when they do not fit one. */
static int common_window(const engine_node *a, const engine_node *b, window *w) {
    const engine_conv_params *ca = a->params, *cb = b->params;
    if (ca->spatial != cb->spatial || a->inputs[0] != b->inputs[0]) return 0;
    int64_t lo = ca->group < cb->group ? ca->group : cb->group, hi = ca->group < cb->group ? cb->group : ca->group;
    if (hi % lo != 0) return 0;
    w->spatial = ca->spatial;
    w->group = lo;
    for (int d = 0; d < ca->spatial; ++d) {
        if (ca->stride[d] != cb->stride[d]) return 0;
        int64_t p = ca->pad_begin[d] > cb->pad_begin[d] ? ca->pad_begin[d] : cb->pad_begin[d];
        int64_t ka = p - ca->pad_begin[d] + ca->kernel[d], kb = p - cb->pad_begin[d] + cb->kernel[d];
        w->k[d] = ka > kb ? ka : kb;
        w->pb[d] = p;
        w->pe[d] = w->k[d] - p + ca->pad_begin[d] + ca->pad_end[d] - ca->kernel[d];
        if (w->pe[d] < 0) return 0;
    }
    return 1;
}

/* Adds conv x's weights into the merged kernel nw [M, C/g, K...]. */
static void accumulate(const engine_node *x, const window *w, int64_t c, double *nw) {
    const engine_conv_params *cp = x->params;
    const engine_value *wv = x->inputs[1];
    const float *src = wv->data;
    int64_t m_all = wv->dims[0], cx = wv->dims[1]; /* C / gX input channels per group */
    int64_t mx = m_all / cp->group, mg = m_all / w->group, cg = c / w->group;
    int64_t taps = 1, ktot = 1;
    for (int d = 0; d < w->spatial; ++d) {
        taps *= cp->kernel[d];
        ktot *= w->k[d];
    }
    for (int64_t m = 0; m < m_all; ++m)
        for (int64_t j = 0; j < cx; ++j) {
            int64_t ci = (m / mx) * cx + j;        /* global input channel */
            int64_t local = ci - (m / mg) * cg;    /* its index in the merged group */
            for (int64_t t = 0; t < taps; ++t) {
                /* tap t of X -> position in the merged window */
                int64_t rest = t, pos = 0;
                int64_t coord[ENGINE_MAX_SPATIAL];
                for (int d = w->spatial - 1; d >= 0; --d) {
                    coord[d] = rest % cp->kernel[d] + w->pb[d] - cp->pad_begin[d];
                    rest /= cp->kernel[d];
                }
                for (int d = 0; d < w->spatial; ++d) pos = pos * w->k[d] + coord[d];
                nw[(m * cg + local) * ktot + pos] += (double)src[(m * cx + j) * taps + t];
            }
        }
}

static engine_status merge(eng_graph *g, engine_node *add, engine_node *a, engine_node *b, const window *w) {
    engine_context *ctx = g->ctx;
    int64_t m = a->outputs[0]->dims[1], c = a->inputs[0]->dims[1];
    int64_t ktot = 1;
    for (int d = 0; d < w->spatial; ++d) ktot *= w->k[d];
    int64_t n = m * (c / w->group) * ktot;
    double *acc = eng_calloc(ctx, (size_t)n + 1, sizeof *acc);
    float *nw = eng_alloc(ctx, (size_t)n * sizeof *nw + 1), *nb = eng_alloc(ctx, (size_t)m * sizeof *nb + 1);
    if (!acc || !nw || !nb) {
        eng_free(ctx, acc);
        eng_free(ctx, nw);
        eng_free(ctx, nb);
        return eng_node_error(ctx, add, ENGINE_ERR_OUT_OF_MEMORY, "out of memory merging '%s' and '%s'", a->name,
                              b->name);
    }
    accumulate(a, w, c, acc);
    accumulate(b, w, c, acc);
    for (int64_t i = 0; i < n; ++i) nw[i] = (float)acc[i];
    eng_free(ctx, acc);
    const engine_value *ba = engine_node_input(a, 2), *bb = engine_node_input(b, 2);
    for (int64_t i = 0; i < m; ++i)
        nb[i] = (float)((ba ? (double)((const float *)ba->data)[i] : 0.0) +
                        (bb ? (double)((const float *)bb->data)[i] : 0.0));

    int64_t wd[ENGINE_MAX_RANK] = {m, c / w->group}, pads[2 * ENGINE_MAX_SPATIAL];
    for (int d = 0; d < w->spatial; ++d) {
        wd[2 + d] = w->k[d];
        pads[d] = w->pb[d];
        pads[w->spatial + d] = w->pe[d];
    }
    engine_value *wv, *bv;
    engine_status st = eng_pass_new_const(g, 2 + w->spatial, wd, nw, &wv);
    if (st) {
        eng_free(ctx, nb);
        return st;
    }
    if ((st = eng_pass_new_const(g, 1, &m, nb, &bv))) return st;
    if ((st = eng_pass_set_inputs(g, a, 3))) return st;
    if ((st = eng_pass_set_ints(g, a, "kernel_shape", w->spatial, w->k))) return st;
    if ((st = eng_pass_set_ints(g, a, "pads", 2 * w->spatial, pads))) return st;
    if ((st = eng_pass_set_int(g, a, "group", w->group))) return st;
    if ((st = eng_pass_set_string(g, a, "auto_pad", "NOTSET"))) return st;
    a->inputs[1] = wv;
    a->inputs[2] = bv;
    if ((st = eng_pass_take_output(g, a, add))) return st;
    eng_graph_remove_node(g, add);
    eng_graph_remove_node(g, b);
    return ENGINE_OK;
}

engine_status eng_pass_merge_branches(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes;) {
        engine_node *add = g->nodes[k++];
        if (add->op != ENGINE_OP_Add || add->n_inputs != 2 || add->n_outputs != 1 || !add->outputs[0]) continue;
        engine_value *x = add->inputs[0], *y = add->inputs[1], *out = add->outputs[0];
        if (!x || !y || x == y || out->dtype != ENGINE_DTYPE_F32 || !eng_pass_same_shape(x, out) ||
            !eng_pass_same_shape(y, out))
            continue;
        engine_node *a = branch(g, x), *b = branch(g, y);
        window w;
        if (!a || !b || !common_window(a, b, &w)) continue;
        engine_status st = merge(g, add, a, b, &w);
        if (st) return st;
        (*changed)++;
        k = 0; /* the merged conv may now be a branch of a later Add; removals shifted the order */
    }
    return ENGINE_OK;
}
