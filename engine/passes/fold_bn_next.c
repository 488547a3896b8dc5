/* fold_bn_next.c - a BatchNormalization folded into the Conv that follows
 * it, when that is exact (issue 4 item 3; docs/PASSES.md).
 *
 * BN(x) = s * x + shift per input channel c, s = gamma / sqrt(var + eps),
 * shift = beta - mean * s. A Conv reading BN(x) computes
 *   y[m] = b[m] + sum_{cl,k} W[m,cl,k] * (s[c] x[c,..] + shift[c])
 * with c the input channel of (m's group, cl), so
 *   W'[m,cl,k] = W[m,cl,k] * s[c],  b'[m] = b[m] + sum_{cl,k} W[m,cl,k] * shift[c]
 * gives the same result, but only where every tap of the window reads a
 * real input element: a zero-padded tap would read 0 where the original
 * read BN(0) = shift. So the Conv must have no padding. Runs after
 * fold_batchnorm (a BN with a foldable producer is gone already) and before
 * batchnorm_to_conv (which takes whatever BN is left). Arithmetic in
 * double, rounded once to float. */
#include <math.h>
#include <string.h>

#include "passes.h"

/* The Conv that alone reads bn's output, when the fold is exact; NULL
 * otherwise. */
static engine_node *foldable_consumer(const eng_graph *g, const engine_node *bn) {
    if (bn->n_inputs != 5 || !bn->params || !bn->inputs[0] || bn->n_outputs < 1 || !bn->outputs[0]) return NULL;
    if (((const engine_scalar_params *)bn->params)->size != 0) return NULL; /* training_mode: batch statistics */
    for (int o = 1; o < bn->n_outputs; ++o)
        if (bn->outputs[o] && eng_graph_use_count(g, bn->outputs[o]) > 0) return NULL;
    const engine_value *x = bn->inputs[0], *t = bn->outputs[0];
    if (x->dtype != ENGINE_DTYPE_F32 || x->rank < 3 || t->rank != x->rank) return NULL;
    const int64_t c = x->dims[1];
    for (int k = 1; k < 5; ++k)
        if (!eng_pass_const_f32(bn->inputs[k]) || engine_value_numel(bn->inputs[k]) != c) return NULL;
    engine_node *r[1];
    if (!eng_pass_private(g, t, 1) || eng_pass_readers(g, t, r, 1) != 1) return NULL;
    engine_node *conv = r[0];
    if (conv->op != ENGINE_OP_Conv || !conv->params || conv->inputs[0] != t) return NULL;
    const engine_conv_params *p = conv->params;
    for (int d = 0; d < p->spatial; ++d)
        if (p->pad_begin[d] != 0 || p->pad_end[d] != 0) return NULL; /* a padded tap reads 0, not shift */
    const engine_value *w = engine_node_input(conv, 1), *b = engine_node_input(conv, 2);
    if (!eng_pass_const_f32(w) || w->rank != x->rank || p->group < 1 || w->dims[1] * p->group != c ||
        w->dims[0] % p->group != 0)
        return NULL;
    if (b && (!eng_pass_const_f32(b) || engine_value_numel(b) != w->dims[0])) return NULL;
    return conv;
}

static engine_status fold(eng_graph *g, engine_node *bn, engine_node *conv) {
    engine_context *ctx = g->ctx;
    const engine_value *w = conv->inputs[1], *b = engine_node_input(conv, 2);
    const float *gamma = bn->inputs[1]->data, *beta = bn->inputs[2]->data;
    const float *mean = bn->inputs[3]->data, *var = bn->inputs[4]->data;
    const double eps = ((const engine_scalar_params *)bn->params)->epsilon;
    const int64_t c = bn->inputs[0]->dims[1], m_all = w->dims[0], cg = w->dims[1];
    const int64_t group = ((const engine_conv_params *)conv->params)->group, mg = m_all / group;
    const int64_t wn = engine_value_numel(w), kk = wn / (m_all * cg);
    double *s = eng_calloc(ctx, (size_t)(2 * c), sizeof *s);
    float *nw = eng_alloc(ctx, (size_t)wn * sizeof *nw + 1);
    float *nb = eng_alloc(ctx, (size_t)m_all * sizeof *nb + 1);
    if (!s || !nw || !nb) {
        eng_free(ctx, s);
        eng_free(ctx, nw);
        eng_free(ctx, nb);
        return eng_node_error(ctx, bn, ENGINE_ERR_OUT_OF_MEMORY, "out of memory folding into '%s'", conv->name);
    }
    double *shift = s + c;
    for (int64_t ci = 0; ci < c; ++ci) {
        s[ci] = (double)gamma[ci] / sqrt((double)var[ci] + eps);
        shift[ci] = (double)beta[ci] - (double)mean[ci] * s[ci];
    }
    const float *ow = w->data, *ob = b ? b->data : NULL;
    for (int64_t m = 0; m < m_all; ++m) {
        double acc = ob ? ob[m] : 0.0;
        for (int64_t cl = 0; cl < cg; ++cl) {
            int64_t ci = (m / mg) * cg + cl;
            for (int64_t t = 0; t < kk; ++t) {
                int64_t i = (m * cg + cl) * kk + t;
                acc += (double)ow[i] * shift[ci];
                nw[i] = (float)((double)ow[i] * s[ci]);
            }
        }
        nb[m] = (float)acc;
    }
    eng_free(ctx, s);
    /* Fresh constants: the old weight may be shared; orphans go with
     * eng_graph_remove_dead. */
    engine_value *wv = NULL, *bv = NULL;
    int64_t wdims[ENGINE_MAX_RANK];
    memcpy(wdims, w->dims, sizeof wdims);
    engine_status st = eng_pass_set_inputs(g, conv, 3);
    if (st) {
        eng_free(ctx, nw);
        eng_free(ctx, nb);
        return st;
    }
    st = eng_pass_new_const(g, w->rank, wdims, nw, &wv);
    if (st) {
        eng_free(ctx, nb);
        return st;
    }
    if ((st = eng_pass_new_const(g, 1, &m_all, nb, &bv))) return st;
    /* Nothing fails from here on. */
    conv->inputs[0] = bn->inputs[0];
    conv->inputs[1] = wv;
    conv->inputs[2] = bv;
    eng_graph_remove_node(g, bn);
    return ENGINE_OK;
}

engine_status eng_pass_fold_bn_next(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes;) {
        engine_node *n = g->nodes[k];
        engine_node *conv = n->op == ENGINE_OP_BatchNormalization ? foldable_consumer(g, n) : NULL;
        if (!conv) {
            k++;
            continue;
        }
        engine_status st = fold(g, n, conv);
        if (st) return st;
        (*changed)++; /* the BN's slot now holds the next node */
    }
    return ENGINE_OK;
}
