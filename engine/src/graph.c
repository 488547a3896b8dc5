/* graph.c - the IR container: values, nodes, attributes, name lookup,
 * validation and topological order. */
#include "graph.h"

#include <stdio.h>
#include <string.h>

#include "infer.h"
#include "ops_internal.h"

/* ---- name map: open addressing, FNV-1a, grows at half load ---- */

struct eng_name_map {
    engine_value **slots;
    size_t cap; /* power of two */
    size_t count;
};

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; ++s) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static engine_status map_insert(engine_context *ctx, eng_name_map *m, engine_value *v) {
    if ((m->count + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        engine_value **ns = eng_calloc(ctx, ncap, sizeof *ns);
        if (!ns) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory growing the value table");
        for (size_t k = 0; k < m->cap; ++k) {
            engine_value *old = m->slots[k];
            if (!old) continue;
            size_t at = hash_name(old->name) & (ncap - 1);
            while (ns[at]) at = (at + 1) & (ncap - 1);
            ns[at] = old;
        }
        eng_free(ctx, m->slots);
        m->slots = ns;
        m->cap = ncap;
    }
    size_t at = hash_name(v->name) & (m->cap - 1);
    while (m->slots[at]) at = (at + 1) & (m->cap - 1);
    m->slots[at] = v;
    m->count++;
    return ENGINE_OK;
}

static engine_value *map_find(const eng_name_map *m, const char *name) {
    if (!m->cap) return NULL;
    size_t at = hash_name(name) & (m->cap - 1);
    while (m->slots[at]) {
        if (strcmp(m->slots[at]->name, name) == 0) return m->slots[at];
        at = (at + 1) & (m->cap - 1);
    }
    return NULL;
}

/* Rebuilds the map from the value table after removals. The table only
 * shrank, so the slots are reused and nothing is allocated. */
static void map_rebuild(eng_graph *g) {
    eng_name_map *m = g->map;
    if (!m->cap) return;
    memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->count = 0;
    for (int k = 0; k < g->n_values; ++k) {
        engine_value *v = g->values[k];
        size_t at = hash_name(v->name) & (m->cap - 1);
        while (m->slots[at]) at = (at + 1) & (m->cap - 1);
        m->slots[at] = v;
        m->count++;
    }
}

/* ---- lifetime ---- */

engine_status eng_graph_create(engine_context *ctx, eng_graph **out) {
    eng_graph *g = eng_calloc(ctx, 1, sizeof *g);
    if (!g) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a graph");
    g->ctx = ctx;
    g->map = eng_calloc(ctx, 1, sizeof *g->map);
    if (!g->map) {
        eng_free(ctx, g);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a graph");
    }
    *out = g;
    return ENGINE_OK;
}

static void free_value(engine_context *ctx, engine_value *v) {
    if (!v) return;
    eng_free(ctx, v->name);
    if (!(v->flags & ENG_VALUE_BORROWED)) eng_free(ctx, v->data);
    eng_free(ctx, v);
}

static void free_attr(engine_context *ctx, engine_attr *a) {
    eng_free(ctx, a->name);
    eng_free(ctx, a->s);
    eng_free(ctx, a->floats);
    eng_free(ctx, a->ints);
    if (a->strings)
        for (int k = 0; k < a->n; ++k) eng_free(ctx, a->strings[k]);
    eng_free(ctx, a->strings);
    free_value(ctx, a->t);
}

static void free_node(engine_context *ctx, engine_node *n) {
    if (!n) return;
    eng_free(ctx, n->name);
    eng_free(ctx, n->op_type);
    eng_free(ctx, n->domain);
    eng_free(ctx, n->inputs);
    eng_free(ctx, n->outputs);
    for (int k = 0; k < n->n_attrs; ++k) free_attr(ctx, &n->attrs[k]);
    eng_free(ctx, n->attrs);
    if (n->params && (n->op == ENGINE_OP_Split)) eng_free(ctx, ((engine_axis_params *)n->params)->sizes);
    eng_free(ctx, n->params);
    eng_free(ctx, n);
}

void eng_graph_free(eng_graph *g) {
    if (!g) return;
    engine_context *ctx = g->ctx;
    for (int k = 0; k < g->n_nodes; ++k) free_node(ctx, g->nodes[k]);
    for (int k = 0; k < g->n_values; ++k) free_value(ctx, g->values[k]);
    eng_free(ctx, g->nodes);
    eng_free(ctx, g->values);
    eng_free(ctx, g->inputs);
    eng_free(ctx, g->outputs);
    eng_free(ctx, g->name);
    if (g->input_syms) {
        for (int k = 0; k < g->n_inputs * ENGINE_MAX_RANK; ++k) eng_free(ctx, g->input_syms[k]);
        eng_free(ctx, g->input_syms);
    }
    for (int k = 0; k < g->n_subs; ++k) eng_free(ctx, g->subs[k].scans);
    eng_free(ctx, g->subs);
    for (int k = 0; k < g->n_bodies; ++k) eng_graph_free(g->bodies[k]);
    eng_free(ctx, g->bodies);
    eng_free(ctx, g->outer);
    eng_free(ctx, g->out_decl);
    eng_sequences_clear(g);
    if (g->map) eng_free(ctx, g->map->slots);
    eng_free(ctx, g->map);
    eng_free(ctx, g);
}

/* ---- values ---- */

engine_value *eng_graph_find(const eng_graph *g, const char *name) {
    return name ? map_find(g->map, name) : NULL;
}

static engine_status grow(engine_context *ctx, void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return ENGINE_OK;
    int ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) ncap *= 2;
    void *p = eng_realloc(ctx, *arr, (size_t)*cap * elem, (size_t)ncap * elem);
    if (!p) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory growing the graph");
    *arr = p;
    *cap = ncap;
    return ENGINE_OK;
}

engine_status eng_graph_add_value(eng_graph *g, const char *name, engine_value **out) {
    engine_context *ctx = g->ctx;
    char fresh[64];
    if (!name || !name[0]) {
        do snprintf(fresh, sizeof fresh, "_v%d", g->unnamed_counter++);
        while (map_find(g->map, fresh));
        name = fresh;
    } else if (map_find(g->map, name)) {
        return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "tensor name '%s' is defined twice", name);
    }
    engine_status st = grow(ctx, (void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values);
    if (st) return st;
    engine_value *v = eng_calloc(ctx, 1, sizeof *v);
    if (!v) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory adding tensor '%s'", name);
    v->name = eng_strdup(ctx, name);
    if (!v->name) {
        eng_free(ctx, v);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory adding tensor '%s'", name);
    }
    v->rank = -1;
    st = map_insert(ctx, g->map, v);
    if (st) {
        free_value(ctx, v);
        return st;
    }
    v->index = g->n_values;
    g->values[g->n_values++] = v;
    *out = v;
    return ENGINE_OK;
}

engine_status eng_graph_get_value(eng_graph *g, const char *name, engine_value **out) {
    engine_value *v = eng_graph_find(g, name);
    if (v) {
        *out = v;
        return ENGINE_OK;
    }
    return eng_graph_add_value(g, name, out);
}

engine_status eng_value_set_shape(eng_graph *g, engine_value *v, engine_dtype dtype, int rank, const int64_t *dims) {
    if (rank < 0 || rank > ENGINE_MAX_RANK)
        return eng_error(g->ctx, ENGINE_ERR_UNSUPPORTED, "tensor '%s' has rank %d; at most %d is supported", v->name,
                         rank, ENGINE_MAX_RANK);
    int64_t total = 1;
    for (int k = 0; k < rank; ++k) {
        if (dims[k] < 0)
            return eng_error(g->ctx, ENGINE_ERR_SHAPE, "tensor '%s' has negative dimension %lld at axis %d", v->name,
                             (long long)dims[k], k);
        if (dims[k] && total > INT64_MAX / 16 / dims[k])
            return eng_error(g->ctx, ENGINE_ERR_SHAPE, "tensor '%s' is too large", v->name);
        total *= dims[k];
    }
    v->dtype = dtype;
    v->rank = rank;
    for (int k = 0; k < ENGINE_MAX_RANK; ++k) v->dims[k] = k < rank ? dims[k] : 0;
    return ENGINE_OK;
}

void eng_value_set_data(eng_graph *g, engine_value *v, void *data) {
    if (v->data && v->data != data && !(v->flags & ENG_VALUE_BORROWED)) eng_free(g->ctx, v->data);
    if (v->data != data) v->flags &= ~ENG_VALUE_BORROWED;
    v->data = data;
    v->flags |= ENGINE_VALUE_CONST;
}

/* ---- nodes ---- */

engine_status eng_graph_add_node(eng_graph *g, const char *name, const char *op_type, const char *domain,
                                 int n_inputs, int n_outputs, engine_node **out) {
    engine_context *ctx = g->ctx;
    engine_status st = grow(ctx, (void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes);
    if (st) return st;
    engine_node *n = eng_calloc(ctx, 1, sizeof *n);
    if (!n) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory adding a node");
    char fresh[96];
    if (!name || !name[0]) {
        snprintf(fresh, sizeof fresh, "%.64s_%d", op_type ? op_type : "node", g->n_nodes);
        name = fresh;
    }
    n->name = eng_strdup(ctx, name);
    n->op_type = eng_strdup(ctx, op_type);
    n->domain = eng_strdup(ctx, domain);
    n->inputs = eng_calloc(ctx, n_inputs ? (size_t)n_inputs : 1, sizeof *n->inputs);
    n->outputs = eng_calloc(ctx, n_outputs ? (size_t)n_outputs : 1, sizeof *n->outputs);
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs) {
        free_node(ctx, n);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory adding node '%s'", name);
    }
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    n->op = eng_op_lookup(n->domain, n->op_type);
    n->opset = g->opset;
    n->index = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    *out = n;
    return ENGINE_OK;
}

void eng_node_set_input(engine_node *n, int k, engine_value *v) {
    if (k >= 0 && k < n->n_inputs) n->inputs[k] = v;
}

engine_status eng_node_set_output(eng_graph *g, engine_node *n, int k, engine_value *v) {
    if (k < 0 || k >= n->n_outputs) return eng_node_error(g->ctx, n, ENGINE_ERR_INTERNAL, "output %d out of range", k);
    if (v && v->producer && v->producer != n)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "output '%s' is also produced by node '%s'",
                              v->name, v->producer->name);
    if (v && (v->flags & ENGINE_VALUE_CONST))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "output '%s' is also an initializer", v->name);
    n->outputs[k] = v;
    if (v) v->producer = n;
    return ENGINE_OK;
}

engine_status eng_node_add_attr(eng_graph *g, engine_node *n, const char *name, engine_attr_type type,
                                engine_attr **out) {
    engine_context *ctx = g->ctx;
    for (int k = 0; k < n->n_attrs; ++k)
        if (strcmp(n->attrs[k].name, name) == 0)
            return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s' appears twice", name);
    engine_attr *na = eng_realloc(ctx, n->attrs, (size_t)n->n_attrs * sizeof *na, (size_t)(n->n_attrs + 1) * sizeof *na);
    if (!na) return eng_node_error(ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory adding attribute '%s'", name);
    n->attrs = na;
    engine_attr *a = &na[n->n_attrs];
    memset(a, 0, sizeof *a);
    a->name = eng_strdup(ctx, name);
    if (!a->name) return eng_node_error(ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory adding attribute '%s'", name);
    a->type = type;
    n->n_attrs++;
    *out = a;
    return ENGINE_OK;
}

void *eng_node_params(eng_graph *g, engine_node *n, size_t size) {
    if (n->params && n->op == ENGINE_OP_Split) eng_free(g->ctx, ((engine_axis_params *)n->params)->sizes);
    eng_free(g->ctx, n->params);
    n->params = eng_calloc(g->ctx, 1, size);
    return n->params;
}

/* ---- structure ---- */

void eng_graph_remove_node(eng_graph *g, engine_node *n) {
    int at = -1;
    for (int k = 0; k < g->n_nodes; ++k)
        if (g->nodes[k] == n) at = k;
    if (at < 0) return;
    for (int k = 0; k < n->n_outputs; ++k)
        if (n->outputs[k] && n->outputs[k]->producer == n) n->outputs[k]->producer = NULL;
    memmove(&g->nodes[at], &g->nodes[at + 1], (size_t)(g->n_nodes - at - 1) * sizeof *g->nodes);
    g->n_nodes--;
    for (int k = 0; k < g->n_nodes; ++k) g->nodes[k]->index = k;
    for (int k = 0; k < g->n_subs;) { /* its bodies' entries go (the bodies stay with their owner) */
        if (g->subs[k].node == n) {
            eng_free(g->ctx, g->subs[k].scans);
            g->subs[k] = g->subs[--g->n_subs];
        } else {
            ++k;
        }
    }
    free_node(g->ctx, n);
}

engine_status eng_graph_add_sub(eng_graph *g, engine_node *n, int branch, int n_explicit, eng_graph *body) {
    if (g->n_subs == g->cap_subs) {
        int ncap = g->cap_subs ? g->cap_subs * 2 : 4;
        eng_subgraph *ns = eng_realloc(g->ctx, g->subs, (size_t)g->cap_subs * sizeof *ns, (size_t)ncap * sizeof *ns);
        if (!ns) return eng_error(g->ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory recording a subgraph");
        g->subs = ns;
        g->cap_subs = ncap;
    }
    eng_subgraph *e = &g->subs[g->n_subs++];
    memset(e, 0, sizeof *e);
    e->node = n;
    e->branch = branch;
    e->n_explicit = n_explicit;
    e->body = body;
    return ENGINE_OK;
}

eng_subgraph *eng_graph_find_sub(const eng_graph *g, const engine_node *n, int branch) {
    for (int k = 0; k < g->n_subs; ++k)
        if (g->subs[k].node == n && g->subs[k].branch == branch) return &g->subs[k];
    return NULL;
}

engine_status eng_graph_own_body(eng_graph *g, eng_graph *body) {
    eng_graph **nb = eng_realloc(g->ctx, g->bodies, (size_t)g->n_bodies * sizeof *nb, (size_t)(g->n_bodies + 1) * sizeof *nb);
    if (!nb) {
        eng_graph_free(body);
        return eng_error(g->ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory keeping a subgraph");
    }
    g->bodies = nb;
    g->bodies[g->n_bodies++] = body;
    return ENGINE_OK;
}

int eng_graph_use_count(const eng_graph *g, const engine_value *v) {
    int uses = (v->flags & ENGINE_VALUE_GRAPH_OUTPUT) ? 1 : 0;
    for (int k = 0; k < g->n_nodes; ++k)
        for (int i = 0; i < g->nodes[k]->n_inputs; ++i)
            if (g->nodes[k]->inputs[i] == v) uses++;
    return uses;
}

/* A node is live if one of its outputs is live and not already a constant. */
static int node_is_live(const engine_node *n, const unsigned char *live) {
    for (int o = 0; o < n->n_outputs; ++o)
        if (n->outputs[o] && live[n->outputs[o]->index] && !(n->outputs[o]->flags & ENGINE_VALUE_CONST)) return 1;
    return 0;
}

int eng_graph_remove_dead(eng_graph *g) {
    engine_context *ctx = g->ctx;
    int removed = 0;
    /* Mark live values backwards from the outputs; nodes are in topological
     * order so one reverse sweep is enough. A node is live if any output is
     * live; a node whose outputs are all constant (folded) is dead. */
    unsigned char *live = eng_calloc(ctx, (size_t)g->n_values + 1, 1);
    if (!live) return 0;
    for (int k = 0; k < g->n_outputs; ++k) live[g->outputs[k]->index] = 1;
    for (int k = g->n_nodes - 1; k >= 0; --k) {
        engine_node *n = g->nodes[k];
        if (!node_is_live(n, live)) continue;
        for (int i = 0; i < n->n_inputs; ++i)
            if (n->inputs[i]) live[n->inputs[i]->index] = 1;
        /* a Loop unrolled part way reads its iterations' scan outputs */
        for (int s = 0; s < g->n_subs; ++s)
            if (g->subs[s].node == n)
                for (int j = 0; j < g->subs[s].n_scans; ++j) live[g->subs[s].scans[j]->index] = 1;
    }
    for (int k = g->n_nodes - 1; k >= 0; --k) {
        engine_node *n = g->nodes[k];
        if (!node_is_live(n, live)) {
            eng_graph_remove_node(g, n);
            removed++;
        }
    }
    /* Drop values nobody references any more. */
    for (int k = 0; k < g->n_nodes; ++k)
        for (int o = 0; o < g->nodes[k]->n_outputs; ++o)
            if (g->nodes[k]->outputs[o]) live[g->nodes[k]->outputs[o]->index] = 1;
    for (int k = 0; k < g->n_inputs; ++k) live[g->inputs[k]->index] = 1;
    /* A storage alias (ir.h) into a value that goes away would dangle:
     * the kept value then simply has its own storage. */
    for (int k = 0; k < g->n_values; ++k) {
        engine_value *v = g->values[k];
        if (live[k] && v->alias_of && !live[v->alias_of->index]) {
            v->alias_of = NULL;
            v->alias_offset = 0;
        }
    }
    int w = 0;
    for (int k = 0; k < g->n_values; ++k) {
        engine_value *v = g->values[k];
        if (live[k]) {
            v->index = w;
            g->values[w++] = v;
        } else {
            free_value(ctx, v);
        }
    }
    g->n_values = w;
    eng_free(ctx, live);
    map_rebuild(g);
    return removed;
}

engine_status eng_graph_sort(eng_graph *g) {
    engine_context *ctx = g->ctx;
    engine_status st = ENGINE_OK;
    int n = g->n_nodes;
    /* Kahn's algorithm with a stable order: repeatedly take the first
     * not-yet-placed node whose inputs are all available. Quadratic in the
     * worst case, linear for graphs already in order (the common case). */
    unsigned char *ready = eng_calloc(ctx, (size_t)g->n_values + 1, 1);
    unsigned char *placed = eng_calloc(ctx, (size_t)n + 1, 1);
    engine_node **order = eng_calloc(ctx, (size_t)n + 1, sizeof *order);
    if (!ready || !placed || !order) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory sorting the graph");
        goto done;
    }
    for (int k = 0; k < g->n_values; ++k) {
        engine_value *v = g->values[k];
        if ((v->flags & (ENGINE_VALUE_GRAPH_INPUT | ENGINE_VALUE_CONST | ENG_VALUE_OUTER)) && !v->producer) ready[k] = 1;
    }
    /* Every consumed value must have a source. */
    for (int k = 0; k < n; ++k) {
        engine_node *node = g->nodes[k];
        for (int i = 0; i < node->n_inputs; ++i) {
            engine_value *v = node->inputs[i];
            if (v && !v->producer && !ready[v->index]) {
                st = eng_node_error(ctx, node, ENGINE_ERR_INVALID_MODEL,
                                    "input %d '%s' is not produced by any node, nor a graph input or initializer", i,
                                    v->name);
                goto done;
            }
        }
    }
    for (int k = 0; k < g->n_outputs; ++k) {
        engine_value *v = g->outputs[k];
        if (!v->producer && !ready[v->index]) {
            st = eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "graph output '%s' is not produced by any node", v->name);
            goto done;
        }
    }
    int count = 0, first = 0;
    while (count < n) {
        int progress = 0;
        for (int k = first; k < n; ++k) {
            engine_node *node = g->nodes[k];
            if (placed[k]) continue;
            int ok = 1;
            for (int i = 0; i < node->n_inputs && ok; ++i)
                if (node->inputs[i] && !ready[node->inputs[i]->index]) ok = 0;
            if (!ok) continue;
            placed[k] = 1;
            order[count++] = node;
            for (int o = 0; o < node->n_outputs; ++o)
                if (node->outputs[o]) ready[node->outputs[o]->index] = 1;
            progress = 1;
            if (k == first)
                while (first < n && placed[first]) first++;
            break;
        }
        if (!progress) {
            for (int k = 0; k < n; ++k)
                if (!placed[k]) {
                    st = eng_node_error(ctx, g->nodes[k], ENGINE_ERR_INVALID_MODEL,
                                        "the graph has a cycle through this node");
                    goto done;
                }
        }
    }
    for (int k = 0; k < n; ++k) {
        g->nodes[k] = order[k];
        g->nodes[k]->index = k;
    }
done:
    eng_free(ctx, ready);
    eng_free(ctx, placed);
    eng_free(ctx, order);
    return st;
}

/* ---- clones (specialisation, session.c) ---- */

static engine_status copy_attr_value(engine_context *ctx, const engine_value *src, engine_value **out) {
    engine_value *v = eng_calloc(ctx, 1, sizeof *v);
    if (!v) return ENGINE_ERR_OUT_OF_MEMORY;
    *v = *src;
    v->name = NULL;
    v->data = NULL;
    v->flags &= ~ENG_VALUE_BORROWED;
    v->producer = NULL;
    v->alias_of = NULL;
    size_t bytes = src->rank >= 0 ? engine_value_nbytes(src) : 0;
    v->name = eng_strdup(ctx, src->name ? src->name : "");
    if (src->data) {
        v->data = eng_alloc(ctx, bytes + 1);
        if (v->data) memcpy(v->data, src->data, bytes);
    }
    *out = v;
    if (!v->name || (src->data && !v->data)) return ENGINE_ERR_OUT_OF_MEMORY;
    return ENGINE_OK;
}

static engine_status copy_attr(engine_context *ctx, const engine_attr *a, engine_attr *b) {
    memset(b, 0, sizeof *b);
    b->type = a->type;
    b->f = a->f;
    b->i = a->i;
    b->n = a->n;
    b->name = eng_strdup(ctx, a->name);
    if (!b->name) return ENGINE_ERR_OUT_OF_MEMORY;
    if (a->s && !(b->s = eng_strdup(ctx, a->s))) return ENGINE_ERR_OUT_OF_MEMORY;
    if (a->floats) {
        if (!(b->floats = eng_alloc(ctx, (size_t)a->n * sizeof *b->floats + 1))) return ENGINE_ERR_OUT_OF_MEMORY;
        memcpy(b->floats, a->floats, (size_t)a->n * sizeof *b->floats);
    }
    if (a->ints) {
        if (!(b->ints = eng_alloc(ctx, (size_t)a->n * sizeof *b->ints + 1))) return ENGINE_ERR_OUT_OF_MEMORY;
        memcpy(b->ints, a->ints, (size_t)a->n * sizeof *b->ints);
    }
    if (a->strings) {
        if (!(b->strings = eng_calloc(ctx, (size_t)a->n + 1, sizeof *b->strings))) return ENGINE_ERR_OUT_OF_MEMORY;
        for (int k = 0; k < a->n; ++k)
            if (a->strings[k] && !(b->strings[k] = eng_strdup(ctx, a->strings[k]))) return ENGINE_ERR_OUT_OF_MEMORY;
    }
    if (a->t) return copy_attr_value(ctx, a->t, &b->t);
    return ENGINE_OK;
}

engine_status eng_graph_clone(const eng_graph *src, eng_graph **out) {
    engine_context *ctx = src->ctx;
    eng_graph *g = NULL;
    engine_status st = eng_graph_create(ctx, &g);
    if (st) return st;
    g->opset = src->opset;
    g->unnamed_counter = src->unnamed_counter;
    if (src->name && !(g->name = eng_strdup(ctx, src->name))) goto oom;
    for (int k = 0; k < src->n_values; ++k) {
        const engine_value *s = src->values[k];
        engine_value *v;
        if ((st = eng_graph_add_value(g, s->name, &v))) goto fail;
        v->dtype = s->dtype;
        v->rank = s->rank;
        memcpy(v->dims, s->dims, sizeof v->dims);
        v->flags = s->flags;
        if (s->data) {
            v->data = s->data; /* constants are immutable: shared with the source */
            v->flags |= ENG_VALUE_BORROWED;
        }
    }
    for (int k = 0; k < src->n_nodes; ++k) {
        const engine_node *s = src->nodes[k];
        engine_node *n;
        if ((st = eng_graph_add_node(g, s->name, s->op_type, s->domain, s->n_inputs, s->n_outputs, &n))) goto fail;
        n->op = s->op;
        n->opset = s->opset;
        n->plugin = s->plugin;
        for (int i = 0; i < s->n_inputs; ++i) n->inputs[i] = s->inputs[i] ? g->values[s->inputs[i]->index] : NULL;
        for (int o = 0; o < s->n_outputs; ++o)
            if (s->outputs[o]) {
                n->outputs[o] = g->values[s->outputs[o]->index];
                n->outputs[o]->producer = n;
            }
        if (s->n_attrs) {
            if (!(n->attrs = eng_calloc(ctx, (size_t)s->n_attrs, sizeof *n->attrs))) goto oom;
            for (int a = 0; a < s->n_attrs; ++a) {
                n->n_attrs = a + 1;
                if (copy_attr(ctx, &s->attrs[a], &n->attrs[a])) goto oom;
            }
        }
    }
    for (int k = 0; k < src->n_subs; ++k) { /* bodies stay the source's */
        const eng_subgraph *e = &src->subs[k];
        if ((st = eng_graph_add_sub(g, g->nodes[e->node->index], e->branch, e->n_explicit, e->body))) goto fail;
        /* A Loop unrolled part way (a stage's tail cut inside it) goes on
         * from where it stands: iteration number, trips left, and the scan
         * outputs of the iterations already made. */
        eng_subgraph *d = &g->subs[g->n_subs - 1];
        d->started = e->started;
        d->iter = e->iter;
        d->remaining = e->remaining;
        if (e->n_scans) {
            if (!(d->scans = eng_calloc(ctx, (size_t)e->n_scans, sizeof *d->scans))) goto oom;
            for (int j = 0; j < e->n_scans; ++j) d->scans[j] = g->values[e->scans[j]->index];
            d->n_scans = d->cap_scans = e->n_scans;
        }
    }
    if (src->n_inputs) {
        if (!(g->inputs = eng_calloc(ctx, (size_t)src->n_inputs, sizeof *g->inputs))) goto oom;
        for (int k = 0; k < src->n_inputs; ++k) g->inputs[k] = g->values[src->inputs[k]->index];
        g->n_inputs = src->n_inputs;
    }
    if (src->n_outputs) {
        if (!(g->outputs = eng_calloc(ctx, (size_t)src->n_outputs, sizeof *g->outputs))) goto oom;
        for (int k = 0; k < src->n_outputs; ++k) g->outputs[k] = g->values[src->outputs[k]->index];
        g->n_outputs = src->n_outputs;
    }
    *out = g;
    return ENGINE_OK;
oom:
    st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory copying the graph for a new input shape");
fail:
    eng_graph_free(g);
    return st;
}
