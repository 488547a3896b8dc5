/* fold_layer_scale.c - a per-channel scale after a linear layer folded into
 * its weights and bias. ConvNeXt's blocks end in
 *   Gemm (from MatMul + Add, fuse_matmul_bias) -> Reshape -> Transpose to
 *   NCHW -> Mul(layer_scale [C, 1, 1]) -> Add(residual)
 * and y[.., n] * g[n] = sum_k A[.., k] (B[k, n] g[n]) + C[n] g[n], so the
 * Mul, a pass over the whole map, goes and the Gemm reads B' and C' scaled
 * per output column n, scaled where they lie (only where the graph owns
 * them and this Gemm alone reads them).
 *
 * Matched when: the Mul's other operand is a float32 constant that varies
 * along one axis a of the Mul's input T (every other dim 1, and the Mul's
 * output has T's shape); T is a Transpose's output whose axis a is the
 * last axis of the Transpose's input R (perm[a] = rank - 1); R is the
 * Gemm's output or a Reshape of it that keeps its last axis (N columns);
 * the Gemm's B and C (if any) are float32 constants that the graph owns
 * and this Gemm alone reads, C of N elements along its last axis; the Gemm
 * has no fused activation; and every value between the Gemm and the Mul
 * is read by the next node alone (no graph output). Arithmetic in double,
 * rounded once to float. */
#include <string.h>

#include "ops_internal.h"
#include "passes.h"

/* The node that alone reads v (no graph output), or NULL. */
static engine_node *sole_reader(const eng_graph *g, const engine_value *v) {
    engine_node *r[1];
    if (!eng_pass_private(g, v, 1) || eng_pass_readers(g, v, r, 1) != 1) return NULL;
    return r[0];
}

/* The axis of t along which the constant s varies (s broadcast to t's
 * shape from the right, every other dim 1), or -1. */
static int scale_axis(const engine_value *s, const engine_value *t) {
    if (s->rank > t->rank) return -1;
    int axis = -1;
    for (int d = 0; d < s->rank; ++d) {
        const int td = t->rank - s->rank + d;
        if (s->dims[d] == 1) continue;
        if (axis >= 0 || s->dims[d] != t->dims[td]) return -1;
        axis = td;
    }
    return axis;
}

/* A constant the graph owns (not borrowed from the model a specialisation
 * was cloned from) that gm alone reads, among the nodes still in use (an
 * earlier pass's leftovers wait for dead-node removal): it is scaled where
 * it lies. Nothing else is folded: a copy of the weights (a shared weight,
 * or a specialisation of a model with symbolic dims) raised ConvNeXt-T's
 * peak resident memory by 50 MB for 2% of speed. */
static int scale_in_place(const eng_graph *g, const engine_value *v, const engine_node *gm) {
    if (v->flags & (ENG_VALUE_BORROWED | ENGINE_VALUE_GRAPH_OUTPUT | ENGINE_VALUE_GRAPH_INPUT)) return 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        const engine_node *n = g->nodes[k];
        int reads = 0, used = 0;
        for (int i = 0; i < n->n_inputs; ++i) reads |= n->inputs[i] == v;
        if (!reads || n == gm) continue;
        for (int o = 0; o < n->n_outputs; ++o)
            used |= n->outputs[o] && ((n->outputs[o]->flags & ENGINE_VALUE_GRAPH_OUTPUT) ||
                                      eng_graph_use_count(g, n->outputs[o]) > 0);
        if (used) return 0;
    }
    return 1;
}

/* The Gemm whose columns the Mul mul scales through Transpose tr (and a
 * Reshape), or NULL. */
static engine_node *scaled_gemm(const eng_graph *g, const engine_node *mul, const engine_value *s,
                                const engine_node *tr) {
    const engine_value *t = tr->outputs[0];
    const int a = scale_axis(s, t);
    const engine_transpose_params *p = tr->params;
    if (a < 0 || !p || !tr->inputs[0] || tr->inputs[0]->rank != t->rank || a >= 8) return NULL;
    const engine_value *r = tr->inputs[0];
    if (p->perm[a] != r->rank - 1 || !eng_pass_same_shape(mul->outputs[0], t)) return NULL;
    if (sole_reader(g, r) != tr) return NULL;
    engine_node *gm = r->producer;
    if (gm && gm->op == ENGINE_OP_Reshape && !gm->plugin && gm->inputs[0]) { /* a view keeping the last axis */
        const engine_node *rs = gm;
        r = gm->inputs[0];
        if (sole_reader(g, r) != rs) return NULL;
        gm = r->producer;
    }
    if (!gm || gm->op != ENGINE_OP_Gemm || gm->plugin || !gm->params) return NULL;
    const engine_gemm_params *gp = gm->params;
    if (gp->epilogue.act != ENGINE_ACT_NONE || gp->epilogue.sum || r->rank != 2) return NULL;
    const int64_t n = r->dims[1];
    if (n != t->dims[a] || tr->inputs[0]->dims[tr->inputs[0]->rank - 1] != n) return NULL;
    const engine_value *b = engine_node_input(gm, 1), *c = engine_node_input(gm, 2);
    if (!eng_pass_const_f32(b) || b->rank != 2 || b->dims[gp->trans_b ? 0 : 1] != n) return NULL;
    if (c && (!eng_pass_const_f32(c) || engine_value_numel(c) != n || c->rank < 1 || c->dims[c->rank - 1] != n))
        return NULL;
    if (!scale_in_place(g, b, gm) || (c && !scale_in_place(g, c, gm))) return NULL;
    return gm;
}

/* v (float32) scaled where it lies: element i by sv[i / cols % n] (by_row)
 * or sv[i % n]. */
static void scale(engine_value *v, const float *sv, int64_t n, int by_row, int64_t cols) {
    const int64_t count = engine_value_numel(v);
    float *d = v->data;
    for (int64_t i = 0; i < count; ++i) d[i] = (float)((double)d[i] * (double)sv[by_row ? i / cols % n : i % n]);
}

/* B and C of gm scaled by s per column, the Transpose taking the Mul's
 * output, the Mul removed. */
static engine_status fold(eng_graph *g, engine_node *mul, const engine_value *s, engine_node *tr, engine_node *gm) {
    const engine_gemm_params *gp = gm->params;
    engine_value *b = gm->inputs[1], *c = engine_node_input(gm, 2);
    const int64_t cols = b->dims[1], n = gp->trans_b ? b->dims[0] : cols;
    engine_status st = eng_pass_take_output(g, tr, mul);
    if (st) return st;
    /* Nothing fails from here on. */
    scale(b, s->data, n, gp->trans_b, cols);
    if (c) scale(c, s->data, n, 0, 1);
    eng_graph_remove_node(g, mul);
    return ENGINE_OK;
}

engine_status eng_pass_fold_layer_scale(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes;) {
        engine_node *mul = g->nodes[k];
        engine_node *tr = NULL, *gm = NULL;
        const engine_value *s = NULL;
        if (mul->op == ENGINE_OP_Mul && !mul->plugin && mul->n_inputs == 2 && mul->n_outputs == 1 &&
            mul->outputs[0] && mul->inputs[0] && mul->inputs[1]) {
            for (int i = 0; i < 2 && !gm; ++i) {
                const engine_value *t = mul->inputs[i];
                s = mul->inputs[1 - i];
                if (!eng_pass_const_f32(s) || t == s || t->dtype != ENGINE_DTYPE_F32 || !t->producer) continue;
                tr = t->producer;
                if (tr->op != ENGINE_OP_Transpose || tr->plugin || tr->n_outputs != 1 || sole_reader(g, t) != mul)
                    continue;
                gm = scaled_gemm(g, mul, s, tr);
            }
        }
        if (!gm) {
            k++;
            continue;
        }
        engine_status st = fold(g, mul, s, tr, gm);
        if (st) return st;
        (*changed)++; /* the Mul's slot now holds the next node */
    }
    return ENGINE_OK;
}
