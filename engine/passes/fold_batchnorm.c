/* fold_batchnorm.c - BatchNormalization folded into the Conv, ConvTranspose
 * or Gemm that feeds it: y = (conv(x) - mean) * s + beta with
 * s = gamma / sqrt(var + eps) is conv'(x) with weights scaled by s per
 * output channel and bias' = (bias - mean) * s + beta. Arithmetic in double,
 * results rounded once to float. */
#include "passes.h"

#include <math.h>
#include <string.h>

static int const_f32(const engine_value *v) {
    return v && (v->flags & ENGINE_VALUE_CONST) && v->data && v->dtype == ENGINE_DTYPE_F32;
}

/* The producer P of BN's input, when the fold is valid; NULL otherwise. */
static engine_node *foldable_producer(const eng_graph *g, const engine_node *bn) {
    if (bn->n_inputs != 5 || !bn->params || !bn->inputs[0] || !bn->outputs[0]) return NULL;
    if (((const engine_scalar_params *)bn->params)->size != 0) return NULL; /* training_mode: batch statistics */
    for (int o = 1; o < bn->n_outputs; ++o) /* training statistics: never read (shape inference refuses) */
        if (bn->outputs[o] && eng_graph_use_count(g, bn->outputs[o]) > 0) return NULL;
    for (int k = 1; k < 5; ++k)
        if (!const_f32(bn->inputs[k])) return NULL;
    engine_value *x = bn->inputs[0];
    engine_node *p = x->producer;
    if (!p || !p->params || x->dtype != ENGINE_DTYPE_F32 || p->n_outputs < 1 || p->outputs[0] != x) return NULL;
    /* Conv's output must feed only this BN: other readers want it unscaled. */
    if (eng_graph_use_count(g, x) != 1 || (x->flags & ENGINE_VALUE_GRAPH_OUTPUT)) return NULL;
    for (int o = 1; o < p->n_outputs; ++o)
        if (p->outputs[o]) return NULL;
    const engine_value *w = engine_node_input(p, 1), *b = engine_node_input(p, 2);
    if (!const_f32(w) || (b && !const_f32(b))) return NULL;
    int64_t c = x->dims[1];
    switch (p->op) {
    case ENGINE_OP_Conv:
        if (w->rank < 3 || w->dims[0] != c) return NULL;
        break;
    case ENGINE_OP_ConvTranspose: {
        const engine_conv_params *cp = p->params;
        if (w->rank < 3 || cp->group < 1 || w->dims[1] * cp->group != c) return NULL;
        break;
    }
    case ENGINE_OP_Gemm: {
        const engine_gemm_params *gp = p->params;
        if (x->rank != 2 || w->rank != 2 || gp->beta == 0.0f) return NULL;
        if ((gp->trans_b ? w->dims[0] : w->dims[1]) != c) return NULL;
        /* The bias must vary along N only: [N] or [1, N]. */
        if (b && !((b->rank == 1 && b->dims[0] == c) || (b->rank == 2 && b->dims[0] == 1 && b->dims[1] == c)))
            return NULL;
        break;
    }
    default: return NULL;
    }
    return p;
}

/* The value that will hold new contents for input k of p: the old value
 * itself when only p reads it, else a fresh constant of that shape (a shared
 * weight keeps its contents). Allocates everything the commit needs, so a
 * failure leaves the graph as it was (an unused fresh value is dead). */
static engine_status prepare_input(eng_graph *g, engine_node *p, int k, int rank, const int64_t *dims,
                                   engine_value **out) {
    engine_value *old = engine_node_input(p, k);
    if (old && eng_graph_use_count(g, old) == 1 && old->rank == rank &&
        (rank == 0 || memcmp(old->dims, dims, (size_t)rank * sizeof *dims) == 0)) {
        *out = old;
        return ENGINE_OK;
    }
    if (k >= p->n_inputs) {
        engine_value **in = eng_realloc(g->ctx, p->inputs, (size_t)p->n_inputs * sizeof *in, (size_t)(k + 1) * sizeof *in);
        if (!in) return eng_node_error(g->ctx, p, ENGINE_ERR_OUT_OF_MEMORY, "out of memory adding a bias");
        for (int i = p->n_inputs; i <= k; ++i) in[i] = NULL;
        p->inputs = in;
        p->n_inputs = k + 1;
    }
    engine_value *v;
    engine_status st = eng_graph_add_value(g, NULL, &v);
    if (st) return st;
    if ((st = eng_value_set_shape(g, v, ENGINE_DTYPE_F32, rank, dims))) return st;
    *out = v;
    return ENGINE_OK;
}

static engine_status fold(eng_graph *g, engine_node *p, engine_node *bn) {
    engine_context *ctx = g->ctx;
    engine_status st = ENGINE_OK;
    engine_value *x = bn->inputs[0], *y = bn->outputs[0];
    const engine_value *w = p->inputs[1], *b = engine_node_input(p, 2);
    const float *gamma = bn->inputs[1]->data, *beta = bn->inputs[2]->data;
    const float *mean = bn->inputs[3]->data, *var = bn->inputs[4]->data;
    double eps = ((const engine_scalar_params *)bn->params)->epsilon;
    int64_t c = x->dims[1];
    int64_t wn = engine_value_numel(w);
    double *scale = eng_calloc(ctx, (size_t)c, sizeof *scale);
    float *nw = eng_alloc(ctx, (size_t)wn * sizeof *nw + 1);
    float *nb = eng_alloc(ctx, (size_t)c * sizeof *nb + 1);
    if (!scale || !nw || !nb) {
        st = eng_node_error(ctx, bn, ENGINE_ERR_OUT_OF_MEMORY, "out of memory folding into '%s'", p->name);
        goto fail;
    }
    for (int64_t m = 0; m < c; ++m) scale[m] = (double)gamma[m] / sqrt((double)var[m] + eps);

    const float *ow = w->data;
    double bias_div = 1.0; /* Gemm adds beta * C */
    if (p->op == ENGINE_OP_Conv) {
        int64_t per = wn / c; /* W[m, ...] */
        for (int64_t i = 0; i < wn; ++i) nw[i] = (float)((double)ow[i] * scale[i / per]);
    } else if (p->op == ENGINE_OP_ConvTranspose) {
        /* W [C_in, M/group, k...]; input channel ci is in group ci / (C_in/group)
         * and its slice j writes output channel group * (M/group) + j. */
        int64_t group = ((const engine_conv_params *)p->params)->group;
        int64_t cin = w->dims[0], mg = w->dims[1], kk = wn / (cin * mg);
        for (int64_t ci = 0; ci < cin; ++ci)
            for (int64_t j = 0; j < mg; ++j) {
                int64_t oc = (ci / (cin / group)) * mg + j;
                for (int64_t t = 0; t < kk; ++t) {
                    int64_t i = (ci * mg + j) * kk + t;
                    nw[i] = (float)((double)ow[i] * scale[oc]);
                }
            }
    } else { /* Gemm: scale column n of op(B) */
        const engine_gemm_params *gp = p->params;
        int64_t rows = w->dims[0], cols = w->dims[1];
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t q = 0; q < cols; ++q)
                nw[r * cols + q] = (float)((double)ow[r * cols + q] * scale[gp->trans_b ? r : q]);
        bias_div = gp->beta;
    }
    const float *ob = b ? b->data : NULL;
    for (int64_t m = 0; m < c; ++m) {
        double bias = ob ? ob[m] : 0.0;
        if (p->op == ENGINE_OP_Gemm)
            /* beta*C' = (beta*C - mean) * s + bn_beta */
            nb[m] = (float)(((bias * bias_div - mean[m]) * scale[m] + beta[m]) / bias_div);
        else
            nb[m] = (float)((bias - mean[m]) * scale[m] + beta[m]);
    }
    eng_free(ctx, scale);
    scale = NULL;

    engine_value *wv = NULL, *bv = NULL;
    int64_t bdims[2] = {1, c};
    if ((st = prepare_input(g, p, 1, w->rank, w->dims, &wv))) goto fail;
    if (b && b->rank == 2)
        st = prepare_input(g, p, 2, 2, bdims, &bv);
    else
        st = prepare_input(g, p, 2, 1, &bdims[1], &bv);
    if (st) goto fail;
    /* Nothing fails from here on. */
    eng_value_set_data(g, wv, nw);
    eng_value_set_data(g, bv, nb);
    p->inputs[1] = wv;
    p->inputs[2] = bv;

    /* P now writes BN's output; x is orphaned for eng_graph_remove_dead. */
    p->outputs[0] = NULL;
    x->producer = NULL;
    eng_graph_remove_node(g, bn);
    return eng_node_set_output(g, p, 0, y);
fail:
    eng_free(ctx, scale);
    eng_free(ctx, nw);
    eng_free(ctx, nb);
    return st;
}

engine_status eng_pass_fold_batchnorm(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes;) {
        engine_node *n = g->nodes[k];
        engine_node *p = n->op == ENGINE_OP_BatchNormalization ? foldable_producer(g, n) : NULL;
        if (!p) {
            k++;
            continue;
        }
        engine_status st = fold(g, p, n);
        if (st) return st;
        (*changed)++; /* BN's slot now holds the next node */
    }
    return ENGINE_OK;
}
