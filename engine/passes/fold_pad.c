/* fold_pad.c - a constant-mode Pad that only pads spatial dimensions
 * (N and C untouched, every pad >= 0) is folded into the pads of a
 * consumer that pads the same way itself:
 *   Conv         pad value 0 (Conv pads with zeros);
 *   AveragePool  pad value 0, ceil_mode 0, and count_include_pad = 1, or
 *                no pool pads of its own (then every window lies inside
 *                the padded tensor and divides by the full window; with
 *                count_include_pad = 1 it still does after the fold);
 *   MaxPool      pad value -inf (MaxPool's padding never wins), ceil_mode 0.
 * The consumer reads the Pad's input and gets pads = its own + the Pad's,
 * auto_pad NOTSET. A Pad read by several consumers folds into each that
 * qualifies; it disappears (remove_dead) once nobody reads it.
 * ConvTranspose is never a target: its pads crop the output. */
#include <math.h>

#include "ops_internal.h"
#include "passes.h"

static int foldable_pad(const engine_node *pad, int *neg_inf) {
    if (pad->op != ENGINE_OP_Pad || !pad->params || !pad->inputs[0] || !pad->outputs[0]) return 0;
    const engine_pad_params *pp = pad->params;
    int r = pad->inputs[0]->rank;
    if (pp->mode != ENGINE_PAD_CONSTANT || r < 3 || r > 2 + ENGINE_MAX_SPATIAL) return 0;
    if (pp->pad_begin[0] || pp->pad_end[0] || pp->pad_begin[1] || pp->pad_end[1]) return 0;
    for (int d = 2; d < r; ++d)
        if (pp->pad_begin[d] < 0 || pp->pad_end[d] < 0) return 0;
    if (pp->value == 0.0) {
        *neg_inf = 0;
        return 1;
    }
    if (isinf(pp->value) && pp->value < 0) {
        *neg_inf = 1;
        return 1;
    }
    return 0;
}

static int accepts(const engine_node *c, int neg_inf) {
    if (!c->params) return 0;
    if (c->op == ENGINE_OP_Conv) return !neg_inf;
    if (c->op != ENGINE_OP_AveragePool && c->op != ENGINE_OP_MaxPool) return 0;
    const engine_pool_params *pp = c->params;
    if (pp->ceil_mode) return 0;
    if (c->op == ENGINE_OP_MaxPool) return neg_inf;
    if (neg_inf) return 0;
    if (pp->count_include_pad) return 1;
    for (int d = 0; d < pp->spatial; ++d)
        if (pp->pad_begin[d] || pp->pad_end[d]) return 0;
    return 1;
}

static engine_status fold(eng_graph *g, engine_node *pad, engine_node *c) {
    const engine_pad_params *pp = pad->params;
    int spatial = pad->inputs[0]->rank - 2;
    const int64_t *b, *e;
    if (c->op == ENGINE_OP_Conv) {
        const engine_conv_params *cp = c->params;
        b = cp->pad_begin;
        e = cp->pad_end;
    } else {
        const engine_pool_params *cp = c->params;
        b = cp->pad_begin;
        e = cp->pad_end;
    }
    int64_t pads[2 * ENGINE_MAX_SPATIAL];
    for (int d = 0; d < spatial; ++d) {
        pads[d] = b[d] + pp->pad_begin[2 + d];
        pads[spatial + d] = e[d] + pp->pad_end[2 + d];
    }
    engine_status st = eng_pass_set_ints(g, c, "pads", 2 * spatial, pads);
    if (!st) st = eng_pass_set_string(g, c, "auto_pad", "NOTSET");
    if (!st && c->op == ENGINE_OP_AveragePool) st = eng_pass_set_int(g, c, "count_include_pad", 1);
    if (st) return st;
    c->inputs[0] = pad->inputs[0];
    return eng_infer_node(g, c);
}

engine_status eng_pass_fold_pad(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *pad = g->nodes[k];
        int neg_inf = 0;
        if (!foldable_pad(pad, &neg_inf)) continue;
        engine_value *y = pad->outputs[0];
        /* consumers come after the Pad, so after its input too */
        for (int j = k + 1; j < g->n_nodes; ++j) {
            engine_node *c = g->nodes[j];
            if (c->n_inputs < 1 || c->inputs[0] != y || !accepts(c, neg_inf)) continue;
            int other = 0; /* y as another input too (Conv(y, y)) keeps its reader */
            for (int i = 1; i < c->n_inputs; ++i) other |= c->inputs[i] == y;
            if (other) continue;
            engine_status st = fold(g, pad, c);
            if (st) return st;
            (*changed)++;
        }
        if (!(y->flags & ENGINE_VALUE_GRAPH_OUTPUT) && eng_pass_readers(g, y, NULL, 0) == 0) {
            eng_graph_remove_node(g, pad);
            k--;
        }
    }
    return ENGINE_OK;
}
