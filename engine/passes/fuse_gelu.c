/* fuse_gelu.c - the exact GELU as exporters write it out, one Gelu node.
 *
 * PyTorch (1.13, any opset) exports nn.GELU() as
 *     y = (x * (Erf(x / sqrt 2) + 1)) * 0.5
 * and other exporters reorder it: x / sqrt 2 may be x * (1 / sqrt 2), the
 * 0.5 may multiply x first ((x * 0.5) * (1 + erf)), and every Add and Mul
 * may take its operands in either order. Five nodes and four intermediate
 * tensors become one Gelu (approximate "none", opset 20's op, which every
 * backend runs; the cpu backend vectorised). The node is given opset 20
 * whatever the model's, as it is the engine's rewrite.
 *
 * Matched only when every intermediate value is private to the pattern
 * (read once, no graph output), the constants are float32 scalars (any
 * rank, one element) within 1e-6 of their values, and x and y are float32.
 */
#include <math.h>

#include "ops_internal.h"
#include "passes.h"

/* v is a float32 constant of one element equal to want within 1e-6
 * (relative). */
static int is_scalar(const engine_value *v, double want) {
    if (!eng_pass_const_f32(v) || engine_value_numel(v) != 1) return 0;
    double got = *(const float *)v->data;
    return fabs(got - want) <= 1e-6 * fabs(want);
}

/* For a binary node n with one operand the scalar `want`: the other
 * operand, else NULL. */
static engine_value *other_than_scalar(const engine_node *n, double want) {
    if (n->n_inputs != 2 || !n->inputs[0] || !n->inputs[1]) return NULL;
    if (is_scalar(n->inputs[1], want)) return n->inputs[0];
    if (is_scalar(n->inputs[0], want)) return n->inputs[1];
    return NULL;
}

/* The one node reading v (private to the pattern), else NULL. */
static engine_node *sole_reader(const eng_graph *g, const engine_value *v) {
    engine_node *r[2];
    if (!eng_pass_private(g, v, 1) || eng_pass_readers(g, v, r, 2) != 1) return NULL;
    return r[0];
}

/* Erf node e: the whole pattern around it. On a match, *x_out is x and
 * *last the node whose output is y. */
static int match(const eng_graph *g, const engine_node *e, engine_value **x_out, engine_node **last) {
    if (e->n_inputs != 1 || e->n_outputs != 1 || !e->inputs[0] || !e->outputs[0]) return 0;
    const engine_value *d = e->inputs[0];
    engine_node *dn = d->producer;
    if (!dn || !eng_pass_private(g, d, 1)) return 0;
    engine_value *x = NULL;
    if (dn->op == ENGINE_OP_Div && dn->n_inputs == 2 && is_scalar(dn->inputs[1], M_SQRT2)) x = dn->inputs[0];
    else if (dn->op == ENGINE_OP_Mul) x = other_than_scalar(dn, M_SQRT1_2);
    if (!x || x->dtype != ENGINE_DTYPE_F32 || !eng_pass_same_shape(x, d)) return 0;
    /* a = erf + 1 */
    engine_node *an = sole_reader(g, e->outputs[0]);
    if (!an || an->op != ENGINE_OP_Add || other_than_scalar(an, 1.0) != e->outputs[0]) return 0;
    const engine_value *a = an->outputs[0];
    if (!a || !eng_pass_same_shape(a, x)) return 0;
    /* (x * a) * 0.5, or (x * 0.5) * a, or a * x * 0.5 in any order */
    engine_node *m1 = sole_reader(g, a);
    if (!m1 || m1->op != ENGINE_OP_Mul || m1->n_inputs != 2) return 0;
    const engine_value *other = m1->inputs[0] == a ? m1->inputs[1] : m1->inputs[0];
    if (other == x) {
        engine_node *m2 = sole_reader(g, m1->outputs[0]);
        if (!m2 || m2->op != ENGINE_OP_Mul || other_than_scalar(m2, 0.5) != m1->outputs[0]) return 0;
        *last = m2;
    } else {
        engine_node *h = other ? other->producer : NULL;
        if (!h || h->op != ENGINE_OP_Mul || other_than_scalar(h, 0.5) != x || !eng_pass_private(g, other, 1))
            return 0;
        *last = m1;
    }
    const engine_value *y = (*last)->outputs[0];
    if (!y || y->dtype != ENGINE_DTYPE_F32 || !eng_pass_same_shape(y, x)) return 0;
    *x_out = x;
    return 1;
}

engine_status eng_pass_fuse_gelu(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *e = g->nodes[k];
        engine_value *x;
        engine_node *last;
        if (e->op != ENGINE_OP_Erf || e->plugin || !match(g, e, &x, &last)) continue;
        /* The Gelu goes where the pattern's last node is (x and every
         * reader of y are in order around it); it takes that node's output
         * and replaces it, and the rest of the pattern is removed as dead
         * below (so that x's producer sees the Gelu as x's one reader, and
         * fuse_activation can take it). */
        engine_node *gelu;
        engine_status st = eng_pass_insert_node(g, last->index, last->name, "Gelu", 1, 1, &gelu);
        if (st) return st;
        gelu->opset = 20;
        gelu->inputs[0] = x;
        engine_value *y = last->outputs[0];
        last->outputs[0] = NULL;
        y->producer = NULL;
        if ((st = eng_node_set_output(g, gelu, 0, y))) return st;
        eng_graph_remove_node(g, last);
        if ((st = eng_infer_node(g, gelu))) return st;
        (*changed)++;
    }
    if (*changed) eng_graph_remove_dead(g);
    return ENGINE_OK;
}
