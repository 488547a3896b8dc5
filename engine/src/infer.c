/* infer.c - shape inference over the graph, folding constant nodes. */
#include "infer.h"

#include <stdio.h>
#include <string.h>

#include "model.h"
#include "ops_internal.h"
#include "ref_kernels.h"

/* Folded tensors larger than this stay nodes: folding is for shape
 * arithmetic and small constant subgraphs, not for materialising big
 * tensors (an Expand to a huge shape) in memory twice. */
#define FOLD_MAX_BYTES ((size_t)64 << 20)

static int foldable(const engine_node *n) {
    if (n->op == ENGINE_OP_UNKNOWN || engine_op_data_dependent(n->op) || !ref_kernel_for(n->op) || !ref_supports(n)) return 0;
    size_t total = 0;
    for (int o = 0; o < n->n_outputs; ++o) {
        const engine_value *v = n->outputs[o];
        if (!v) continue;
        if (v->rank < 0 || v->flags & ENGINE_VALUE_GRAPH_INPUT) return 0;
        total += engine_value_nbytes(v);
    }
    if (total > FOLD_MAX_BYTES) return 0;
    if (n->op == ENGINE_OP_Shape || n->op == ENGINE_OP_Size) return 1; /* needs only the (static) shape */
    int any = 0;
    for (int i = 0; i < n->n_inputs; ++i) {
        const engine_value *v = n->inputs[i];
        if (!v) continue;
        if (!(v->flags & ENGINE_VALUE_CONST)) return 0;
        any = 1;
    }
    return any || n->op == ENGINE_OP_Constant || n->op == ENGINE_OP_ConstantOfShape;
}

engine_status eng_fold_node(eng_graph *g, engine_node *n) {
    engine_context *ctx = g->ctx;
    const void *in[16] = {0};
    void *out[16] = {0};
    engine_status st = ENGINE_OK;
    if (n->n_inputs > 16 || n->n_outputs > 16) return ENGINE_OK; /* not worth folding */
    for (int i = 0; i < n->n_inputs; ++i) in[i] = n->inputs[i] ? n->inputs[i]->data : NULL;
    for (int o = 0; o < n->n_outputs; ++o) {
        if (!n->outputs[o]) continue;
        out[o] = eng_calloc(ctx, 1, engine_value_nbytes(n->outputs[o]) + 1);
        if (!out[o]) {
            st = eng_node_error(ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory folding constants");
            goto fail;
        }
    }
    st = ref_kernel_for(n->op)(n, in, out);
    if (st) {
        st = eng_node_error(ctx, n, st, "constant folding failed: %s", engine_status_str(st));
        goto fail;
    }
    for (int o = 0; o < n->n_outputs; ++o)
        if (n->outputs[o]) eng_value_set_data(g, n->outputs[o], out[o]);
    return ENGINE_OK;
fail:
    for (int o = 0; o < n->n_outputs; ++o) eng_free(ctx, out[o]);
    return st;
}

/* Called when node k is an op neither built in nor resolved by a plugin:
 * its message is kept and every later node whose op is not built in is
 * appended, so a user learns the whole list at once rather than one op per
 * attempt. (Later nodes are not resolved against plugins here: their
 * inputs have no shapes yet; the list says "not built in", which holds.) */
static engine_status name_unknown_ops(eng_graph *g, int k, engine_status st) {
    char list[600];
    size_t len = 0;
    int more = 0;
    list[0] = 0;
    for (int j = k + 1; j < g->n_nodes; ++j) {
        const engine_node *n = g->nodes[j];
        if (n->op != ENGINE_OP_UNKNOWN || n->plugin) continue;
        more++;
        if (len < sizeof list - 1) {
            int w = snprintf(list + len, sizeof list - len, "%s'%.64s'%s%.64s (node '%.64s')", more > 1 ? ", " : "",
                             n->op_type, n->domain[0] ? " of domain " : "", n->domain, n->name);
            if (w > 0) len = len + (size_t)w < sizeof list ? len + (size_t)w : sizeof list - 1;
        }
    }
    if (!more) return st;
    char first[ENG_ERRMSG_SIZE];
    snprintf(first, sizeof first, "%s", g->ctx->message);
    return eng_error(g->ctx, st, "%.400s; %d more ops are not built in: %s", first, more, list);
}

/* engine_context_options.max_tensor_bytes: one tensor, and the running sum
 * of activations (non-constant values), checked as shapes become known and
 * before anything is folded or allocated. */
static engine_status check_size_limit(eng_graph *g, const engine_node *n, const engine_value *v, size_t *activations) {
    size_t max = g->ctx->max_tensor_bytes, bytes = engine_value_nbytes(v);
    if (!max) return ENGINE_OK;
    if (bytes > max) {
        const char *fmt = "tensor '%s' needs %zu bytes, above the context's max_tensor_bytes (%zu)";
        return n ? eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, fmt, v->name, bytes, max)
                 : eng_error(g->ctx, ENGINE_ERR_UNSUPPORTED, fmt, v->name, bytes, max);
    }
    if (!(v->flags & ENGINE_VALUE_CONST)) {
        *activations += bytes; /* each term <= max: no overflow */
        if (*activations > max)
            return eng_error(g->ctx, ENGINE_ERR_UNSUPPORTED,
                             "the activations up to tensor '%s' need more than the context's max_tensor_bytes (%zu)",
                             v->name, max);
    }
    return ENGINE_OK;
}

static int has_deferred_input(const engine_node *n) {
    for (int i = 0; i < n->n_inputs; ++i)
        if (n->inputs[i] && (n->inputs[i]->flags & ENG_VALUE_DEFERRED)) return 1;
    return 0;
}

static int has_data_param(const engine_node *n) {
    for (int i = 0; i < n->n_inputs; ++i)
        if (n->inputs[i] && eng_param_slot(n, i) && !(n->inputs[i]->flags & ENGINE_VALUE_CONST)) return 1;
    return 0;
}

/* Leaves n for a later stage. The outputs of an op whose shape depends on
 * data keep the dtype and rank its shape function gave them. */
static void defer_node(engine_node *n, int *deferred) {
    for (int o = 0; o < n->n_outputs; ++o) {
        engine_value *v = n->outputs[o];
        if (!v) continue;
        v->flags |= ENG_VALUE_DEFERRED;
        if (!engine_op_data_dependent(n->op)) v->rank = -1;
    }
    (*deferred)++;
}

static const engine_value *sequence_input(const engine_node *n) {
    for (int i = 0; i < n->n_inputs; ++i)
        if (n->inputs[i] && (n->inputs[i]->flags & ENG_VALUE_SEQUENCE)) return n->inputs[i];
    return NULL;
}

/* deferred: NULL for a graph that must infer whole (eng_graph_infer). */
static engine_status infer_nodes(eng_graph *g, int *folded, int *deferred) {
    int count = 0;
    size_t activations = 0;
    for (int k = 0; k < g->n_inputs; ++k) {
        engine_status st = check_size_limit(g, NULL, g->inputs[k], &activations);
        if (st) return st;
    }
    if (deferred) *deferred = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        if (eng_is_sequence_node(n)) {
            /* Lists of graph values; resolved also when an element waits
             * for data (what reads that element then waits too). */
            engine_status st = eng_expand_sequence(g, k);
            if (st) return st;
            --k;
            continue;
        }
        const engine_value *seq = sequence_input(n);
        if (deferred && (has_deferred_input(n) || (eng_is_control(n) && eng_control_on_data(g, n)))) {
            if (seq)
                return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                      "reads the tensor sequence '%s' but waits for the data of the run; sequences "
                                      "are supported where the input shapes fix them",
                                      seq->name);
            defer_node(n, deferred);
            continue;
        }
        if (seq && !eng_is_control(n))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input '%s' is a tensor sequence; %s takes tensors",
                                  seq->name, n->op_type);
        if (eng_is_control(n)) {
            /* If/Loop: expanded in place; go on at the same index. */
            engine_status st = eng_expand_control(g, k);
            if (st) return st;
            --k;
            continue;
        }
        for (int i = 0; i < n->n_inputs; ++i)
            if (n->inputs[i] && n->inputs[i]->rank < 0)
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d '%s' has no known shape", i,
                                      n->inputs[i]->name);
        char saved[ENG_ERRMSG_SIZE];
        if (deferred) memcpy(saved, g->ctx->message, sizeof saved);
        engine_status st = eng_infer_node(g, n);
        if (st && st != ENGINE_ERR_OUT_OF_MEMORY && deferred && has_data_param(n)) {
            /* A shape parameter computed from data: constant in a later stage. */
            memcpy(g->ctx->message, saved, sizeof saved);
            defer_node(n, deferred);
            continue;
        }
        if (st == ENGINE_ERR_UNSUPPORTED && n->op == ENGINE_OP_UNKNOWN && !n->plugin) return name_unknown_ops(g, k, st);
        if (st) return st;
        if (engine_op_data_dependent(n->op)) {
            if (!deferred)
                return eng_node_error(g->ctx, n, ENGINE_ERR_INTERNAL,
                                      "the output shape depends on data, and this graph was inferred in one stage");
            defer_node(n, deferred);
            continue;
        }
        for (int o = 0; o < n->n_outputs; ++o)
            if (n->outputs[o] && n->outputs[o]->rank < 0) {
                /* Output 0 is always the op's: a shape function that left it
                 * unset is a bug. A later one is an output the file added
                 * beyond what the op defines. */
                if (o == 0)
                    return eng_node_error(g->ctx, n, ENGINE_ERR_INTERNAL, "shape inference left output %d '%s' unset",
                                          o, n->outputs[o]->name);
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                      "has %d outputs; output %d '%s' is not one the op defines", n->n_outputs, o,
                                      n->outputs[o]->name);
            }
        for (int o = 0; o < n->n_outputs; ++o) {
            st = n->outputs[o] ? check_size_limit(g, n, n->outputs[o], &activations) : ENGINE_OK;
            if (st) return st;
        }
        int already = 1;
        for (int o = 0; o < n->n_outputs; ++o)
            if (n->outputs[o] && !(n->outputs[o]->flags & ENGINE_VALUE_CONST)) already = 0;
        if (already) {
            count++;
            continue;
        }
        if (foldable(n)) {
            st = eng_fold_node(g, n);
            if (st) return st;
            count++;
        }
    }
    for (int k = 0; k < g->n_outputs; ++k)
        if (g->outputs[k]->flags & ENG_VALUE_SEQUENCE)
            return eng_error(g->ctx, ENGINE_ERR_UNSUPPORTED,
                             "model output '%s' is a tensor sequence; outputs must be tensors", g->outputs[k]->name);
    if (folded) *folded = count;
    return ENGINE_OK;
}

static engine_status infer_graph(eng_graph *g, int *folded, int *deferred) {
    engine_status st = infer_nodes(g, folded, deferred);
    eng_sequences_clear(g); /* the lists point at values remove_dead may free */
    return st;
}

engine_status eng_graph_infer(eng_graph *g, int *folded) {
    return infer_graph(g, folded, NULL);
}

engine_status eng_graph_infer_staged(eng_graph *g, int *folded, int *deferred) {
    return infer_graph(g, folded, deferred);
}

engine_status eng_graph_fold_constants(eng_graph *g, int *folded) {
    int count = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        if (n->op == ENGINE_OP_UNKNOWN || n->op == ENGINE_OP_Shape || n->op == ENGINE_OP_Size ||
            engine_op_data_dependent(n->op))
            continue;
        int all_const = n->op == ENGINE_OP_Constant, done = 1;
        for (int i = 0; i < n->n_inputs; ++i) {
            const engine_value *v = n->inputs[i];
            if (!v) continue;
            all_const = (v->flags & ENGINE_VALUE_CONST) && v->rank >= 0;
            if (!all_const) break;
        }
        for (int o = 0; o < n->n_outputs; ++o)
            if (n->outputs[o] && !(n->outputs[o]->flags & ENGINE_VALUE_CONST)) done = 0;
        if (!all_const || done) continue;
        engine_status st = eng_infer_node(g, n);
        if (st) return st;
        if (foldable(n)) {
            if ((st = eng_fold_node(g, n))) return st;
            count++;
        } else {
            /* Not folded (too big to hold twice): each specialisation infers
             * it again, from a template left as imported. */
            for (int o = 0; o < n->n_outputs; ++o)
                if (n->outputs[o]) n->outputs[o]->rank = -1;
        }
    }
    if (folded) *folded = count;
    return ENGINE_OK;
}
