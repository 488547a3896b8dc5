/* control.c - If and Loop, resolved while a graph is inferred.
 *
 * A specialisation knows its input shapes and the values of its shape
 * parameters, so the conditions and trip counts of the control flow that
 * exporters emit (shape checks, loops over a batch or a list of sizes) are
 * constants by the time inference reaches them. Then:
 *  - If: the taken branch's nodes are copied into the graph in place of
 *    the If (values renamed "<if>/<name>"), its outputs fed to the If's
 *    outputs through Identity nodes (the noop pass removes them);
 *  - Loop: one iteration at a time: the body is copied before the Loop
 *    node with iter_num a constant and cond / loop-carried values from the
 *    previous iteration, and the Loop node is left after it with the new
 *    values, so inference folds that iteration (its condition included)
 *    before the next is copied. When the trip count is spent or the
 *    condition is a constant false, the Loop becomes Identity nodes for the
 *    carried values and Unsqueeze + Concat for the scan outputs.
 * An If whose condition, or a Loop whose trip count or condition (the
 * first, or one the body computes from data: a while loop) comes from data
 * starts a later stage of the run (session.c), in which those values are
 * constants: a while loop costs a stage per iteration. */
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "infer.h"

#define MAX_LOOP_ITERATIONS 4096

/* A value named after `prefix/name`, unique in g. */
engine_status eng_ctl_fresh_value(eng_graph *g, const char *prefix, const char *name, engine_value **out) {
    char buf[512];
    snprintf(buf, sizeof buf, "%.240s/%.240s", prefix, name && name[0] ? name : "v");
    if (!eng_graph_find(g, buf)) return eng_graph_add_value(g, buf, out);
    for (int k = 1;; ++k) {
        char alt[540];
        snprintf(alt, sizeof alt, "%s#%d", buf, k);
        if (!eng_graph_find(g, alt)) return eng_graph_add_value(g, alt, out);
    }
}

static engine_status scalar_const(eng_graph *g, const char *prefix, const char *name, engine_dtype dt, int64_t value,
                                  engine_value **out) {
    engine_status st = eng_ctl_fresh_value(g, prefix, name, out);
    if (st) return st;
    if ((st = eng_value_set_shape(g, *out, dt, 0, NULL))) return st;
    void *data = eng_calloc(g->ctx, 1, 8);
    if (!data) return eng_error(g->ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory expanding control flow");
    if (dt == ENGINE_DTYPE_BOOL) *(uint8_t *)data = value != 0;
    else *(int64_t *)data = value;
    eng_value_set_data(g, *out, data);
    return ENGINE_OK;
}

/* Moves the nodes appended from index `from` on to position `at`. */
void eng_ctl_move_appended(eng_graph *g, int from, int at) {
    int count = g->n_nodes - from;
    if (count <= 0 || at >= from) return;
    engine_node **tmp = g->nodes + from; /* rotate [at, n) so the tail comes first */
    for (int c = 0; c < count; ++c) {
        engine_node *n = tmp[c];
        memmove(&g->nodes[at + c + 1], &g->nodes[at + c], (size_t)(from + c - at - c) * sizeof *g->nodes);
        g->nodes[at + c] = n;
    }
    for (int k = 0; k < g->n_nodes; ++k) g->nodes[k]->index = k;
}

static engine_status add_node_copy(eng_graph *g, const engine_node *src, const char *prefix, engine_node **out) {
    char name[512];
    snprintf(name, sizeof name, "%.240s/%.240s", prefix, src->name);
    engine_node *n;
    engine_status st = eng_graph_add_node(g, name, src->op_type, src->domain, src->n_inputs, src->n_outputs, &n);
    if (st) return st;
    n->opset = src->opset;
    for (int a = 0; a < src->n_attrs; ++a) {
        engine_attr *d;
        const engine_attr *s = &src->attrs[a];
        if ((st = eng_node_add_attr(g, n, s->name, s->type, &d))) return st;
        d->f = s->f;
        d->i = s->i;
        d->n = s->n;
        if (s->s && !(d->s = eng_strdup(g->ctx, s->s))) goto oom;
        if (s->floats) {
            if (!(d->floats = eng_alloc(g->ctx, (size_t)s->n * sizeof(float) + 1))) goto oom;
            memcpy(d->floats, s->floats, (size_t)s->n * sizeof(float));
        }
        if (s->ints) {
            if (!(d->ints = eng_alloc(g->ctx, (size_t)s->n * sizeof(int64_t) + 1))) goto oom;
            memcpy(d->ints, s->ints, (size_t)s->n * sizeof(int64_t));
        }
        if (s->strings) {
            if (!(d->strings = eng_calloc(g->ctx, (size_t)s->n + 1, sizeof(char *)))) goto oom;
            for (int k = 0; k < s->n; ++k)
                if (s->strings[k] && !(d->strings[k] = eng_strdup(g->ctx, s->strings[k]))) goto oom;
        }
        if (s->t) {
            if (!(d->t = eng_calloc(g->ctx, 1, sizeof *d->t))) goto oom;
            *d->t = *s->t;
            d->t->name = NULL;
            d->t->data = NULL;
            d->t->flags &= ~ENG_VALUE_BORROWED;
            size_t bytes = s->t->rank >= 0 ? engine_value_nbytes(s->t) : 0;
            if (!(d->t->name = eng_strdup(g->ctx, s->t->name ? s->t->name : ""))) goto oom;
            if (s->t->data) {
                if (!(d->t->data = eng_alloc(g->ctx, bytes + 1))) goto oom;
                memcpy(d->t->data, s->t->data, bytes);
            }
        }
    }
    *out = n;
    return ENGINE_OK;
oom:
    return eng_error(g->ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory expanding control flow");
}

/* Copies body's nodes into g (appended at the end). in[k]: the value body
 * input k becomes; outer values come from ctl's implicit inputs; body
 * outputs are returned in outs[] (fresh values or mapped ones). */
static engine_status inline_body(eng_graph *g, const engine_node *ctl, const eng_subgraph *e, const char *prefix,
                                 engine_value *const *in, engine_value **outs) {
    engine_context *ctx = g->ctx;
    const eng_graph *b = e->body;
    engine_status st = ENGINE_OK;
    engine_value **map = eng_calloc(ctx, (size_t)b->n_values + 1, sizeof *map);
    if (!map) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory expanding control flow");
    for (int k = 0; k < b->n_inputs; ++k) map[b->inputs[k]->index] = in[k];
    for (int k = 0; k < b->n_outer; ++k) map[b->outer[k]->index] = ctl->inputs[e->n_explicit + k];
    for (int k = 0; k < b->n_values; ++k) {
        const engine_value *v = b->values[k];
        if (map[k] || !(v->flags & ENGINE_VALUE_CONST)) continue;
        /* A body constant: copied (bodies may be freed before this graph). */
        size_t bytes = engine_value_nbytes(v);
        void *data = eng_alloc(ctx, bytes + 1);
        if (!data) goto oom;
        if (bytes) memcpy(data, v->data, bytes);
        if ((st = eng_ctl_fresh_value(g, prefix, v->name, &map[k])) ||
            (st = eng_value_set_shape(g, map[k], v->dtype, v->rank, v->dims))) {
            eng_free(ctx, data);
            goto done;
        }
        eng_value_set_data(g, map[k], data);
    }
    for (int k = 0; k < b->n_nodes; ++k) {
        const engine_node *s = b->nodes[k];
        engine_node *n;
        if ((st = add_node_copy(g, s, prefix, &n))) goto done;
        for (int i = 0; i < s->n_inputs; ++i) {
            const engine_value *v = s->inputs[i];
            if (!v) continue;
            if (!map[v->index]) { /* cannot happen in a sorted body */
                st = eng_node_error(ctx, ctl, ENGINE_ERR_INVALID_MODEL, "body value '%s' is used before it is made",
                                    v->name);
                goto done;
            }
            n->inputs[i] = map[v->index];
        }
        for (int o = 0; o < s->n_outputs; ++o) {
            const engine_value *v = s->outputs[o];
            if (!v) continue;
            if ((st = eng_ctl_fresh_value(g, prefix, v->name, &map[v->index]))) goto done;
            if ((st = eng_node_set_output(g, n, o, map[v->index]))) goto done;
        }
        /* A nested If/Loop keeps its bodies (owned by whoever owns b). */
        for (int br = 0; br < 2; ++br) {
            const eng_subgraph *ne = eng_graph_find_sub(b, s, br);
            if (ne && (st = eng_graph_add_sub(g, n, br, ne->n_explicit, ne->body))) goto done;
        }
    }
    for (int k = 0; k < b->n_outputs; ++k) {
        outs[k] = map[b->outputs[k]->index];
        if (!outs[k]) {
            st = eng_node_error(ctx, ctl, ENGINE_ERR_INVALID_MODEL, "body output '%s' is never made",
                                b->outputs[k]->name);
            goto done;
        }
    }
done:
    eng_free(ctx, map);
    return st;
oom:
    st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory expanding control flow");
    goto done;
}

/* Appends `op`(in...) -> out, opset 13 semantics, optional INT/INTS attr. */
engine_status eng_ctl_add_simple(eng_graph *g, const char *prefix, const char *op, engine_value *const *in, int n_in,
                                engine_value *out, const char *attr, int64_t attr_value, int attr_is_list) {
    char name[512];
    snprintf(name, sizeof name, "%.240s/%s_%d", prefix, op, g->n_nodes);
    engine_node *n;
    engine_status st = eng_graph_add_node(g, name, op, "", n_in, 1, &n);
    if (st) return st;
    n->opset = g->opset;
    for (int i = 0; i < n_in; ++i) n->inputs[i] = in[i];
    if ((st = eng_node_set_output(g, n, 0, out))) return st;
    if (attr) {
        engine_attr *a;
        if ((st = eng_node_add_attr(g, n, attr, attr_is_list ? ENGINE_ATTR_INTS : ENGINE_ATTR_INT, &a))) return st;
        if (attr_is_list) {
            if (!(a->ints = eng_alloc(g->ctx, sizeof(int64_t))))
                return eng_error(g->ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory expanding control flow");
            a->ints[0] = attr_value;
            a->n = 1;
        } else {
            a->i = attr_value;
        }
    }
    return ENGINE_OK;
}

int eng_ctl_const_scalar(const engine_value *v, int64_t *out) {
    if (!v || !(v->flags & ENGINE_VALUE_CONST) || !v->data || engine_value_numel(v) != 1) return 0;
    switch (v->dtype) {
    case ENGINE_DTYPE_BOOL:
    case ENGINE_DTYPE_U8: *out = *(const uint8_t *)v->data; return 1;
    case ENGINE_DTYPE_I32: *out = *(const int32_t *)v->data; return 1;
    case ENGINE_DTYPE_I64: *out = *(const int64_t *)v->data; return 1;
    case ENGINE_DTYPE_F32: *out = *(const float *)v->data != 0.0f; return 1;
    default: return 0;
    }
}

static engine_status expand_if(eng_graph *g, int k) {
    engine_node *n = g->nodes[k];
    int64_t cond;
    if (n->n_inputs < 1 || !n->inputs[0])
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "If needs a condition input");
    if (!eng_ctl_const_scalar(n->inputs[0], &cond))
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "the condition '%s' depends on the data of the run; If on data is not supported yet "
                              "(only conditions fixed by the input shapes and shape inputs)",
                              n->inputs[0]->name);
    const eng_subgraph *e = eng_graph_find_sub(g, n, cond ? 0 : 1);
    if (!e) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "If has no %s_branch", cond ? "then" : "else");
    if (e->body->n_outputs != n->n_outputs)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "the %s branch has %d outputs; the If has %d",
                              cond ? "then" : "else", e->body->n_outputs, n->n_outputs);
    engine_value *outs[64];
    if (n->n_outputs > 64) return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "If with more than 64 outputs");
    int from = g->n_nodes;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%.290s", n->name);
    engine_status st = inline_body(g, n, e, prefix, NULL, outs);
    if (st) return st;
    engine_value *results[64];
    for (int o = 0; o < n->n_outputs; ++o) {
        results[o] = n->outputs[o];
        if (results[o]) results[o]->producer = NULL;
        n->outputs[o] = NULL;
    }
    for (int o = 0; o < n->n_outputs; ++o)
        if (results[o] && (st = eng_ctl_add_simple(g, prefix, "Identity", &outs[o], 1, results[o], NULL, 0, 0))) return st;
    eng_ctl_move_appended(g, from, k);
    eng_graph_remove_node(g, n);
    return ENGINE_OK;
}

static engine_status finish_loop(eng_graph *g, engine_node *n, eng_subgraph *e, int k, int n_carried, int n_scan) {
    engine_status st;
    int from = g->n_nodes;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%.290s", n->name);
    engine_value *results[64];
    for (int o = 0; o < n->n_outputs; ++o) {
        results[o] = n->outputs[o];
        if (results[o]) results[o]->producer = NULL;
        n->outputs[o] = NULL;
    }
    for (int j = 0; j < n_carried; ++j)
        if (results[j] && (st = eng_ctl_add_simple(g, prefix, "Identity", &n->inputs[2 + j], 1, results[j], NULL, 0, 0)))
            return st;
    for (int j = 0; j < n_scan; ++j) {
        engine_value *r = n_carried + j < n->n_outputs ? results[n_carried + j] : NULL;
        if (!r) continue;
        int iters = n_scan ? e->n_scans / n_scan : 0;
        if (iters == 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "the loop runs no iteration, so its scan output '%s' has no known shape", r->name);
        engine_value **parts = eng_calloc(g->ctx, (size_t)iters, sizeof *parts);
        if (!parts) return eng_error(g->ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory expanding control flow");
        for (int i = 0; i < iters && !st; ++i) {
            if ((st = eng_ctl_fresh_value(g, prefix, "scan", &parts[i]))) break;
            st = eng_ctl_add_simple(g, prefix, "Unsqueeze", &e->scans[i * n_scan + j], 1, parts[i], "axes", 0, 1);
        }
        if (!st) st = eng_ctl_add_simple(g, prefix, "Concat", parts, iters, r, "axis", 0, 0);
        eng_free(g->ctx, parts);
        if (st) return st;
    }
    eng_ctl_move_appended(g, from, k);
    eng_graph_remove_node(g, n);
    return ENGINE_OK;
}

static engine_status expand_loop(eng_graph *g, int k) {
    engine_context *ctx = g->ctx;
    engine_node *n = g->nodes[k];
    eng_subgraph *e = eng_graph_find_sub(g, n, 0);
    if (!e) return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "Loop has no body");
    const eng_graph *b = e->body;
    int n_carried = e->n_explicit - 2;
    if (e->n_explicit < 2 || n_carried < 0 || b->n_inputs != 2 + n_carried || b->n_outputs < 1 + n_carried ||
        n->n_outputs > 64 || n->n_outputs != b->n_outputs - 1)
        return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "Loop's inputs (%d), outputs (%d) and body (%d inputs, %d outputs) do not agree",
                              e->n_explicit, n->n_outputs, b->n_inputs, b->n_outputs);
    int n_scan = b->n_outputs - 1 - n_carried;
    if (!e->started) {
        int64_t m = INT64_MAX;
        if (n->inputs[0] && !eng_ctl_const_scalar(n->inputs[0], &m))
            return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "the trip count '%s' depends on the data of the run; not supported yet",
                                  n->inputs[0]->name);
        e->remaining = m < 0 ? 0 : m;
        e->started = 1;
    }
    int64_t cond = 1;
    if (n->inputs[1] && !eng_ctl_const_scalar(n->inputs[1], &cond))
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "the loop condition '%s', computed by the body from the data of the run, is not "
                              "supported (a condition from shapes, or a trip count, is)",
                              n->inputs[1]->name);
    if (e->remaining == 0 || !cond) return finish_loop(g, n, e, k, n_carried, n_scan);
    if (e->iter >= MAX_LOOP_ITERATIONS)
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "the loop would run more than %d iterations when unrolled", MAX_LOOP_ITERATIONS);
    /* One iteration before the node. */
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%.270s/iter%lld", n->name, (long long)e->iter);
    engine_value *in[66], *outs[128];
    if (b->n_outputs > 128 || 2 + n_carried > 66)
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED, "Loop with too many values");
    engine_status st;
    if ((st = scalar_const(g, prefix, "iter_num", ENGINE_DTYPE_I64, e->iter, &in[0]))) return st;
    if (n->inputs[1]) in[1] = n->inputs[1];
    else if ((st = scalar_const(g, prefix, "cond", ENGINE_DTYPE_BOOL, 1, &in[1]))) return st;
    for (int j = 0; j < n_carried; ++j) in[2 + j] = n->inputs[2 + j];
    int from = g->n_nodes;
    if ((st = inline_body(g, n, e, prefix, in, outs))) return st;
    if (e->n_scans + n_scan > e->cap_scans) {
        int ncap = e->cap_scans ? e->cap_scans * 2 : 16;
        while (ncap < e->n_scans + n_scan) ncap *= 2;
        engine_value **ns = eng_realloc(ctx, e->scans, (size_t)e->cap_scans * sizeof *ns, (size_t)ncap * sizeof *ns);
        if (!ns) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory expanding control flow");
        e->scans = ns;
        e->cap_scans = ncap;
    }
    for (int j = 0; j < n_scan; ++j) e->scans[e->n_scans++] = outs[1 + n_carried + j];
    n->inputs[1] = outs[0];
    for (int j = 0; j < n_carried; ++j) n->inputs[2 + j] = outs[1 + j];
    e->iter++;
    e->remaining--;
    eng_ctl_move_appended(g, from, k);
    return ENGINE_OK;
}

int eng_control_on_data(const eng_graph *g, const engine_node *n) {
    int64_t v;
    if (strcmp(n->op_type, "If") == 0) return n->n_inputs >= 1 && n->inputs[0] && !eng_ctl_const_scalar(n->inputs[0], &v);
    const eng_subgraph *e = eng_graph_find_sub(g, n, 0);
    if (!e) return 0;
    /* A started loop whose body computed its condition from data (a while
     * loop): the next iteration waits for a later stage, where that
     * condition is a constant (a shape parameter of the stage). */
    if (e->started) return n->n_inputs >= 2 && n->inputs[1] && !eng_ctl_const_scalar(n->inputs[1], &v);
    return (n->n_inputs >= 1 && n->inputs[0] && !eng_ctl_const_scalar(n->inputs[0], &v)) ||
           (n->n_inputs >= 2 && n->inputs[1] && !eng_ctl_const_scalar(n->inputs[1], &v));
}

int eng_is_control(const engine_node *n) {
    return !n->domain[0] && (strcmp(n->op_type, "If") == 0 || strcmp(n->op_type, "Loop") == 0);
}

engine_status eng_expand_control(eng_graph *g, int k) {
    return strcmp(g->nodes[k]->op_type, "If") == 0 ? expand_if(g, k) : expand_loop(g, k);
}
