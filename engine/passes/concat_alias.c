/* concat_alias.c - Concat elimination: producers write straight into their
 * slice of the Concat output (the storage contract is the comment on
 * engine_value.alias_of in ir.h; docs/PASSES.md).
 *
 * Only a Concat whose dims before the axis are all 1 takes part: each input
 * is then one contiguous run of bytes of the output, at the sum of the
 * sizes of the inputs before it. An input qualifies when it is an
 * activation written by a node (not a graph input, constant or graph
 * output), appears once in that Concat and is not yet aliased. Concats are
 * visited in topological order, so a value read by several Concats goes to
 * the first (the others copy it).
 *
 * DenseNet: torchvision exports one Concat per layer over all features so
 * far, so the Concats of a block are nested prefixes: Concat(f0,f1),
 * Concat(f0,f1,f2), ... Their features alias into the first Concat that
 * reads them, and each Concat output aliases into the next Concat whose
 * first inputs are exactly its inputs, at offset 0; then every feature sits
 * where every Concat of the block wants it and all those Concats copy
 * nothing.
 *
 * After assigning, the safety property of the contract is checked with the
 * chains fully resolved (the worst case: a backend honours a chain wholly
 * or not at all, and a chain it does not honour only separates bytes): no
 * node may read bytes of a root that overlap the bytes it writes there,
 * except a Concat input already sitting exactly at its destination slice.
 * An alias that breaks it is dropped and the check repeats.
 *
 * Aliasing is not free: a chain's root is live from the first write of any
 * member, so a member written long before the Concat (YOLO's route: a
 * shallow feature kept from early in the backbone) reserves the whole
 * Concat output for that long, and the peak can grow. So the aliases are
 * judged by the arena they give: the graph is planned with the engine's
 * planner as one partition (what the ref and cpu modules do when the whole
 * model runs there). Every candidate is aliased first (DenseNet's chains
 * only pay off whole); then, Concat by Concat, its directly aliased inputs
 * are dropped earliest-written first, and a drop is kept when the arena
 * gets strictly smaller (ties keep the alias: fewer bytes copied). */
#include <string.h>

#include "ops_internal.h"
#include "passes.h"

/* The root a value is stored in and its byte offset there (chains fully
 * honoured). Chains are acyclic by construction (a value only aliases into
 * a Concat output produced after it); the bound is a guard. */
static const engine_value *root_of(const engine_value *v, size_t *offset) {
    size_t off = 0;
    for (int depth = 0; v->alias_of && depth < 100000; ++depth) {
        off += v->alias_offset;
        v = v->alias_of;
    }
    *offset = off;
    return v;
}

/* A Concat whose inputs are single byte runs of its output: all dims
 * before the axis 1, every input present, of the output's dtype and rank.
 * *y_out receives the output. */
static int flat_concat(const engine_node *n, engine_value **y_out) {
    if (n->op != ENGINE_OP_Concat || !n->params || n->n_outputs < 1 || !n->outputs[0]) return 0;
    engine_value *y = n->outputs[0];
    const engine_axis_params *p = n->params;
    if (y->rank < 1 || p->axis < 0 || p->axis >= y->rank || engine_dtype_size(y->dtype) == 0) return 0;
    if (y->data) return 0; /* folded: nothing runs */
    for (int d = 0; d < p->axis; ++d)
        if (y->dims[d] != 1) return 0;
    size_t total = 0;
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *x = n->inputs[k];
        if (!x || x->dtype != y->dtype || x->rank != y->rank) return 0;
        total += engine_value_nbytes(x);
    }
    if (total != engine_value_nbytes(y)) return 0;
    *y_out = y;
    return 1;
}

/* The byte offset of input k in the output of a flat Concat. */
static size_t slice_offset(const engine_node *n, int k) {
    size_t off = 0;
    for (int i = 0; i < k; ++i) off += engine_value_nbytes(n->inputs[i]);
    return off;
}

static int appears_once(const engine_node *n, const engine_value *x) {
    int count = 0;
    for (int k = 0; k < n->n_inputs; ++k) count += n->inputs[k] == x;
    return count == 1;
}

/* x may be stored inside another value: an activation written by a node,
 * not a graph input or output, not yet aliased. */
static int aliasable(const eng_graph *g, const engine_value *x) {
    (void)g;
    return x && !x->data && x->producer && !x->alias_of &&
           !(x->flags & (ENGINE_VALUE_GRAPH_INPUT | ENGINE_VALUE_GRAPH_OUTPUT | ENGINE_VALUE_CONST)) &&
           engine_dtype_size(x->dtype) != 0 && x->rank >= 0;
}

/* The first Concat after position `from` whose first n_prefix inputs are
 * exactly c's inputs (in order), with more inputs after them, on the same
 * axis. NULL when none. */
static engine_node *prefix_successor(const eng_graph *g, const engine_node *c, int from) {
    const engine_axis_params *pc = c->params;
    for (int k = from + 1; k < g->n_nodes; ++k) {
        engine_node *d = g->nodes[k];
        engine_value *yd;
        if (!flat_concat(d, &yd) || d->n_inputs <= c->n_inputs) continue;
        if (((const engine_axis_params *)d->params)->axis != pc->axis) continue;
        int same = 1;
        for (int i = 0; i < c->n_inputs && same; ++i) same = d->inputs[i] == c->inputs[i];
        if (same) return d;
    }
    return NULL;
}

static int overlap(size_t a0, size_t a1, size_t b0, size_t b1) {
    return a0 < b1 && b0 < a1;
}

/* Finds one violation of the safety property and drops an alias to fix it;
 * returns 1 when it dropped one, 0 when the graph is safe. */
static int drop_one_violation(eng_graph *g) {
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        for (int o = 0; o < n->n_outputs; ++o) {
            engine_value *y = n->outputs[o];
            if (!y || y->data) continue;
            size_t yo;
            const engine_value *ry = root_of(y, &yo);
            size_t ys = engine_value_nbytes(y);
            for (int i = 0; i < n->n_inputs; ++i) {
                engine_value *x = n->inputs[i];
                if (!x || x->data) continue;
                size_t xo;
                const engine_value *rx = root_of(x, &xo);
                if (rx != ry || !overlap(xo, xo + engine_value_nbytes(x), yo, yo + ys)) continue;
                /* A Concat input at exactly its destination slice is the
                 * point of the pass: the Concat skips it. */
                if (n->op == ENGINE_OP_Concat && o == 0 && appears_once(n, x) && xo == yo + slice_offset(n, i))
                    continue;
                /* Drop the writer's link first (it leaves the chain, the
                 * readers stay where they are), else the reader's. */
                engine_value *drop = y->alias_of ? y : x;
                drop->alias_of = NULL;
                drop->alias_offset = 0;
                return 1;
            }
        }
    }
    return 0;
}

/* Scratch for choosing aliases by arena size. */
typedef struct sim {
    engine_plan_buffer *plan; /* one per root */
    int *slot;                /* value index -> plan buffer, -1 */
    engine_value **saved_of;  /* alias fields to restore a rejected choice */
    size_t *saved_off;
} sim;

/* The arena the graph needs as one partition with every alias honoured:
 * one buffer per root, live from the first write of any member to the last
 * read of any member; graph inputs and outputs (and chains rooted in a
 * graph output) are the caller's buffers. */
static engine_status plan_size(eng_graph *g, sim *m, size_t *out) {
    int n = 0;
    for (int k = 0; k < g->n_values; ++k) m->slot[k] = -1;
    for (int k = 0; k < g->n_nodes; ++k) {
        const engine_node *node = g->nodes[k];
        for (int o = 0; o < node->n_outputs; ++o) {
            const engine_value *v = node->outputs[o];
            size_t off;
            if (!v || v->data) continue;
            const engine_value *r = root_of(v, &off);
            if (r->flags & ENGINE_VALUE_GRAPH_OUTPUT) continue;
            int b = m->slot[r->index];
            if (b < 0) {
                b = m->slot[r->index] = n++;
                m->plan[b] = (engine_plan_buffer){(engine_value_nbytes(r) + 63) / 64 * 64, k, k, 0};
            } else if (m->plan[b].last < k) {
                m->plan[b].last = k;
            }
        }
        for (int i = 0; i < node->n_inputs; ++i) {
            const engine_value *v = node->inputs[i];
            size_t off;
            if (!v || v->data) continue;
            int b = m->slot[root_of(v, &off)->index];
            if (b >= 0 && m->plan[b].last < k) m->plan[b].last = k;
        }
    }
    engine_status st = eng_plan_arena(&g->ctx->allocator, m->plan, n, 64, out);
    if (st == ENGINE_ERR_OUT_OF_MEMORY) return eng_error(g->ctx, st, "out of memory planning Concat aliases");
    if (st) *out = SIZE_MAX; /* sizes overflow: no choice can be judged, any is as good */
    return ENGINE_OK;
}

static void save_aliases(const eng_graph *g, sim *m) {
    for (int k = 0; k < g->n_values; ++k) {
        m->saved_of[k] = g->values[k]->alias_of;
        m->saved_off[k] = g->values[k]->alias_offset;
    }
}

static void restore_aliases(eng_graph *g, const sim *m) {
    for (int k = 0; k < g->n_values; ++k) {
        g->values[k]->alias_of = m->saved_of[k];
        g->values[k]->alias_offset = m->saved_off[k];
    }
}

/* Aliases the candidate inputs of Concat c (position k, output y) written
 * at or after step `from`, and its output into the next nested Concat;
 * then restores the safety property. */
static void assign(eng_graph *g, engine_node *c, int k, engine_value *y, int from) {
    size_t off = 0;
    for (int i = 0; i < c->n_inputs; ++i) {
        engine_value *x = c->inputs[i];
        if (aliasable(g, x) && appears_once(c, x) && x != y && x->producer->index >= from) {
            x->alias_of = y;
            x->alias_offset = off;
        }
        off += engine_value_nbytes(x);
    }
    /* DenseNet's nested prefixes: this output becomes the head of the next
     * Concat that starts with the same inputs. */
    if (aliasable(g, y)) {
        engine_node *d = prefix_successor(g, c, k);
        if (d) {
            y->alias_of = d->outputs[0];
            y->alias_offset = 0;
        }
    }
    /* The safety property; each drop removes one link, so this ends. */
    while (drop_one_violation(g)) {
    }
}

engine_status eng_pass_concat_alias(eng_graph *g, int *changed) {
    *changed = 0;
    /* Start from nothing: a second run (or a graph rewritten since) must
     * not keep links to what an earlier run decided. */
    for (int k = 0; k < g->n_values; ++k) {
        g->values[k]->alias_of = NULL;
        g->values[k]->alias_offset = 0;
    }
    int any = 0;
    for (int k = 0; k < g->n_nodes && !any; ++k) {
        engine_value *y;
        any = flat_concat(g->nodes[k], &y);
    }
    if (!any) return ENGINE_OK;
    engine_context *ctx = g->ctx;
    size_t nv = (size_t)g->n_values + 1;
    sim m = {eng_calloc(ctx, nv, sizeof *m.plan), eng_calloc(ctx, nv, sizeof *m.slot),
             eng_calloc(ctx, nv, sizeof *m.saved_of), eng_calloc(ctx, nv, sizeof *m.saved_off)};
    engine_status st = ENGINE_OK;
    if (!m.plan || !m.slot || !m.saved_of || !m.saved_off) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory planning Concat aliases");
        goto done;
    }
    /* Every candidate first (DenseNet's chains only pay off whole), then,
     * Concat by Concat, its directly aliased inputs dropped earliest-written
     * first while that makes the arena strictly smaller. */
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *c = g->nodes[k];
        engine_value *y;
        if (!flat_concat(c, &y)) continue;
        if (!(y->flags & ENGINE_VALUE_GRAPH_OUTPUT) && eng_graph_use_count(g, y) == 0) continue; /* dead */
        assign(g, c, k, y, 0);
    }
    size_t best;
    if ((st = plan_size(g, &m, &best))) goto done;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *c = g->nodes[k];
        engine_value *y;
        if (!flat_concat(c, &y)) continue;
        save_aliases(g, &m);
        int best_upto = -1; /* drop members written before this step; -1: keep all */
        for (;;) {
            /* The next threshold: one past the earliest member still kept. */
            int upto = INT32_MAX;
            for (int i = 0; i < c->n_inputs; ++i) {
                const engine_value *x = c->inputs[i];
                if (x->alias_of == y && x->producer && x->producer->index < upto) upto = x->producer->index;
            }
            if (upto == INT32_MAX) break;
            for (int i = 0; i < c->n_inputs; ++i) {
                engine_value *x = c->inputs[i];
                if (x->alias_of == y && x->producer && x->producer->index <= upto) {
                    x->alias_of = NULL; /* dropping a link never creates an overlap */
                    x->alias_offset = 0;
                }
            }
            size_t size;
            if ((st = plan_size(g, &m, &size))) goto done;
            if (size < best) {
                best = size;
                best_upto = upto;
            }
        }
        restore_aliases(g, &m);
        for (int i = 0; best_upto >= 0 && i < c->n_inputs; ++i) {
            engine_value *x = c->inputs[i];
            if (x->alias_of == y && x->producer && x->producer->index <= best_upto) {
                x->alias_of = NULL;
                x->alias_offset = 0;
            }
        }
    }
    int count = 0;
    for (int k = 0; k < g->n_values; ++k) count += g->values[k]->alias_of != NULL;
    *changed = count;
done:
    eng_free(ctx, m.plan);
    eng_free(ctx, m.slot);
    eng_free(ctx, m.saved_of);
    eng_free(ctx, m.saved_off);
    return st;
}

int eng_pass_concat_copy_free(const eng_graph *g) {
    int count = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        const engine_node *c = g->nodes[k];
        engine_value *y;
        if (!flat_concat(c, &y)) continue;
        size_t yo, xo;
        const engine_value *ry = root_of(y, &yo);
        int all = 1;
        for (int i = 0; i < c->n_inputs && all; ++i)
            all = root_of(c->inputs[i], &xo) == ry && xo == yo + slice_offset(c, i);
        count += all;
    }
    return count;
}
