/* noop.c - drops nodes whose output is a copy of their input 0. */
#include "passes.h"

static int same_shape(const engine_value *a, const engine_value *b) {
    if (a->dtype != b->dtype || a->rank != b->rank || a->rank < 0) return 0;
    for (int k = 0; k < a->rank; ++k)
        if (a->dims[k] != b->dims[k]) return 0;
    return 1;
}

/* Non-zero when n's output 0 equals its input 0 element for element. */
static int is_noop(const eng_graph *g, const engine_node *n) {
    if (n->n_inputs < 1 || n->n_outputs < 1 || !n->inputs[0] || !n->outputs[0]) return 0;
    if (!same_shape(n->inputs[0], n->outputs[0])) return 0;
    /* Any other output (Dropout's mask) must be unread. */
    for (int o = 1; o < n->n_outputs; ++o)
        if (n->outputs[o] && eng_graph_use_count(g, n->outputs[o]) > 0) return 0;
    switch (n->op) {
    case ENGINE_OP_Identity:
    case ENGINE_OP_Reshape:
    case ENGINE_OP_Flatten:
    case ENGINE_OP_Squeeze:
    case ENGINE_OP_Unsqueeze:
    case ENGINE_OP_Cast: /* same dtype checked above */
        return 1;
    case ENGINE_OP_Concat: /* of one input (DenseNet's first dense layer) */
        return n->n_inputs == 1;
    case ENGINE_OP_Dropout: {
        /* Only a constant false (or absent) training_mode is a copy; in
         * training the node has params (engine_dropout_params), and is a
         * copy too at ratio 0 (nothing dropped, scale 1: torchvision's
         * Swin exports its attention dropout so). */
        const engine_value *t = engine_node_input(n, 2);
        if (n->params) return ((const engine_dropout_params *)n->params)->ratio == 0.0f;
        if (!t) return 1;
        if (!(t->flags & ENGINE_VALUE_CONST) || t->dtype != ENGINE_DTYPE_BOOL || engine_value_numel(t) != 1) return 0;
        return *(const uint8_t *)t->data == 0;
    }
    case ENGINE_OP_Pad: {
        /* Zero pads copy the input whatever the mode (nothing is added, so
         * the constant value, reflection or edge never shows). */
        const engine_pad_params *p = n->params;
        if (!p) return 0;
        for (int k = 0; k < n->inputs[0]->rank; ++k)
            if (p->pad_begin[k] || p->pad_end[k]) return 0;
        return 1;
    }
    default: return 0;
    }
}

static int is_graph_output(const engine_value *v) {
    return (v->flags & ENGINE_VALUE_GRAPH_OUTPUT) != 0;
}

/* Removes n if its removal keeps every name the caller sees. Returns 1 when
 * removed. */
static engine_status remove_noop(eng_graph *g, engine_node *n, int *removed) {
    engine_value *x = n->inputs[0], *y = n->outputs[0];
    *removed = 0;
    if (!is_graph_output(y)) {
        /* Consumers read x instead; x is produced before n, so before them. */
        for (int k = 0; k < g->n_nodes; ++k) {
            engine_node *c = g->nodes[k];
            for (int i = 0; i < c->n_inputs; ++i)
                if (c->inputs[i] == y) c->inputs[i] = x;
        }
        eng_graph_remove_node(g, n);
        *removed = 1;
        return ENGINE_OK;
    }
    /* y is a graph output: its name must survive. Make x's producer write y
     * directly, when x is an activation nobody else reads. A graph input or
     * constant has no producer to rename: keep the node. */
    engine_node *p = x->producer;
    if (!p || is_graph_output(x) || (x->flags & (ENGINE_VALUE_GRAPH_INPUT | ENGINE_VALUE_CONST)) ||
        eng_graph_use_count(g, x) != 1)
        return ENGINE_OK;
    int slot = -1;
    for (int o = 0; o < p->n_outputs; ++o)
        if (p->outputs[o] == x) slot = o;
    if (slot < 0) return eng_node_error(g->ctx, p, ENGINE_ERR_INTERNAL, "producer of '%s' does not list it", x->name);
    p->outputs[slot] = NULL;
    x->producer = NULL;
    eng_graph_remove_node(g, n); /* clears y->producer */
    engine_status st = eng_node_set_output(g, p, slot, y);
    if (st) return st;
    *removed = 1;
    return ENGINE_OK;
}

engine_status eng_pass_noop(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes;) {
        engine_node *n = g->nodes[k];
        int removed = 0;
        if (is_noop(g, n)) {
            engine_status st = remove_noop(g, n, &removed);
            if (st) return st;
        }
        if (removed)
            (*changed)++; /* the next node moved into slot k */
        else
            k++;
    }
    return ENGINE_OK;
}
