/* batchnorm_to_conv.c - a BatchNormalization that fold_batchnorm left (its
 * input is a graph input, a Concat, a Relu, ...) becomes a depthwise 1x1
 * Conv: y[n,c,...] = x[n,c,...] * s[c] + (beta[c] - mean[c] * s[c]) with
 * s = gamma / sqrt(var + eps), i.e. Conv(x, W[C,1,1..], B[C]) with
 * group = C. Every backend runs Conv, and activations and residual sums
 * then fuse into it like into any conv (DenseNet's pre-activation
 * BN -> Relu becomes one node). Arithmetic in double, rounded once.
 *
 * Refuses: rank 2 inputs (BatchNorm1d; Conv needs 1 to 3 spatial dims),
 * non-constant or non-float32 statistics, read training outputs. */
#include <math.h>
#include <stdio.h>

#include "ops_internal.h"
#include "passes.h"

static int convertible(const eng_graph *g, const engine_node *bn) {
    if (bn->n_inputs != 5 || !bn->params || !bn->inputs[0] || !bn->outputs[0]) return 0;
    if (((const engine_scalar_params *)bn->params)->size != 0) return 0; /* training_mode: batch statistics */
    const engine_value *x = bn->inputs[0];
    if (x->dtype != ENGINE_DTYPE_F32 || x->rank < 3 || x->rank > 2 + ENGINE_MAX_SPATIAL) return 0;
    for (int o = 1; o < bn->n_outputs; ++o)
        if (bn->outputs[o] && (bn->outputs[o]->flags & ENGINE_VALUE_GRAPH_OUTPUT ||
                               eng_pass_readers(g, bn->outputs[o], NULL, 0) > 0))
            return 0;
    for (int k = 1; k < 5; ++k)
        if (!eng_pass_const_f32(bn->inputs[k]) || engine_value_numel(bn->inputs[k]) != x->dims[1]) return 0;
    return 1;
}

static engine_status convert(eng_graph *g, engine_node *bn) {
    engine_context *ctx = g->ctx;
    engine_value *x = bn->inputs[0], *y = bn->outputs[0];
    int64_t c = x->dims[1];
    const float *gamma = bn->inputs[1]->data, *beta = bn->inputs[2]->data;
    const float *mean = bn->inputs[3]->data, *var = bn->inputs[4]->data;
    double eps = ((const engine_scalar_params *)bn->params)->epsilon;
    float *w = eng_alloc(ctx, (size_t)c * sizeof *w + 1), *b = eng_alloc(ctx, (size_t)c * sizeof *b + 1);
    if (!w || !b) {
        eng_free(ctx, w);
        eng_free(ctx, b);
        return eng_node_error(ctx, bn, ENGINE_ERR_OUT_OF_MEMORY, "out of memory turning it into a Conv");
    }
    for (int64_t m = 0; m < c; ++m) {
        double s = (double)gamma[m] / sqrt((double)var[m] + eps);
        w[m] = (float)s;
        b[m] = (float)((double)beta[m] - (double)mean[m] * s);
    }
    int64_t wd[ENGINE_MAX_RANK] = {c, 1, 1, 1, 1};
    engine_value *wv = NULL, *bv = NULL;
    engine_status st = eng_pass_new_const(g, x->rank, wd, w, &wv);
    if (st) {
        eng_free(ctx, b);
        return st;
    }
    if ((st = eng_pass_new_const(g, 1, &c, b, &bv))) return st;
    engine_node *conv;
    if ((st = eng_pass_insert_node(g, bn->index, bn->name, "Conv", 3, 1, &conv))) return st;
    if ((st = eng_pass_set_int(g, conv, "group", c))) return st;
    conv->inputs[0] = x;
    conv->inputs[1] = wv;
    conv->inputs[2] = bv;
    y->producer = NULL;
    bn->outputs[0] = NULL;
    if ((st = eng_node_set_output(g, conv, 0, y))) return st;
    eng_graph_remove_node(g, bn);
    return eng_infer_node(g, conv);
}

engine_status eng_pass_batchnorm_to_conv(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        if (n->op != ENGINE_OP_BatchNormalization || !convertible(g, n)) continue;
        engine_status st = convert(g, n);
        if (st) return st;
        (*changed)++; /* the Conv took the BN's slot k */
    }
    return ENGINE_OK;
}
