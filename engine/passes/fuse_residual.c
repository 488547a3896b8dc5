/* fuse_residual.c - Add(Conv(..), T) becomes the Conv's residual operand:
 * the Conv (or ConvTranspose) gets engine.sum = 1 and T as input 3 (input
 * 2, the bias, stays or is an omitted NULL slot), and writes the Add's
 * output. The epilogue computes act(acc + bias + sum), so the fusion needs
 * a node without an activation yet; an activation after the Add fuses
 * afterwards (fuse_activation runs later), which gives exactly
 * Conv -> Add -> Relu.
 *
 * Matches only when a, b and the Add's output have one shape (no
 * broadcasting: the sum is read element for element), a != b, the conv
 * output is read by the Add alone and is not a graph output. When both
 * operands qualify, the conv that comes later in the order takes the sum,
 * so T is already computed; otherwise the graph is re-sorted (stable) at
 * the end. */
#include "ops_internal.h"
#include "passes.h"

static engine_node *fusable_conv(const eng_graph *g, const engine_value *c) {
    engine_node *p = c->producer;
    if (!p || (p->op != ENGINE_OP_Conv && p->op != ENGINE_OP_ConvTranspose) || !p->params) return NULL;
    if (p->outputs[0] != c || !eng_pass_private(g, c, 1)) return NULL;
    for (int o = 1; o < p->n_outputs; ++o)
        if (p->outputs[o]) return NULL;
    const engine_epilogue *e = eng_pass_epilogue(p);
    if (e->act != ENGINE_ACT_NONE || e->sum) return NULL;
    return p;
}

engine_status eng_pass_fuse_residual(eng_graph *g, int *changed) {
    *changed = 0;
    int resort = 0;
    for (int k = 0; k < g->n_nodes;) {
        engine_node *add = g->nodes[k];
        k++;
        if (add->op != ENGINE_OP_Add || add->n_inputs != 2 || add->n_outputs != 1 || !add->outputs[0]) continue;
        engine_value *a = add->inputs[0], *b = add->inputs[1], *y = add->outputs[0];
        if (!a || !b || a == b || y->dtype != ENGINE_DTYPE_F32 || !eng_pass_same_shape(a, y) ||
            !eng_pass_same_shape(b, y))
            continue;
        engine_node *pa = fusable_conv(g, a), *pb = fusable_conv(g, b);
        engine_node *p = pa;
        engine_value *t = b;
        if (!pa || (pb && pb->index > pa->index)) {
            p = pb;
            t = a;
        }
        if (!p) continue;
        engine_status st = eng_pass_set_inputs(g, p, 4);
        if (!st) st = eng_pass_set_int(g, p, "engine.sum", 1);
        if (st) return st;
        p->inputs[3] = t;
        if ((st = eng_pass_take_output(g, p, add))) return st;
        if (t->producer && t->producer->index > p->index) resort = 1;
        eng_graph_remove_node(g, add);
        k--; /* the Add's slot holds the next node */
        (*changed)++;
    }
    return resort ? eng_graph_sort(g) : ENGINE_OK;
}
