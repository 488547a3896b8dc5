/* pass_util.c - small graph-editing helpers shared by the passes. */
#include <string.h>

#include "ops_internal.h"
#include "passes.h"

int eng_pass_const_f32(const engine_value *v) {
    return v && (v->flags & ENGINE_VALUE_CONST) && v->data && v->dtype == ENGINE_DTYPE_F32;
}

int eng_pass_readers(const eng_graph *g, const engine_value *v, engine_node **out, int max) {
    int count = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        for (int i = 0; i < n->n_inputs; ++i)
            if (n->inputs[i] == v) {
                if (count < max) out[count] = n;
                count++;
            }
    }
    return count;
}

int eng_pass_private(const eng_graph *g, const engine_value *v, int uses) {
    engine_node *r[1];
    return v && !(v->flags & (ENGINE_VALUE_GRAPH_OUTPUT | ENGINE_VALUE_GRAPH_INPUT | ENGINE_VALUE_CONST)) &&
           v->producer && eng_pass_readers(g, v, r, 0) == uses;
}

int eng_pass_same_shape(const engine_value *a, const engine_value *b) {
    if (a->dtype != b->dtype || a->rank != b->rank || a->rank < 0) return 0;
    for (int k = 0; k < a->rank; ++k)
        if (a->dims[k] != b->dims[k]) return 0;
    return 1;
}

const engine_epilogue *eng_pass_epilogue(const engine_node *n) {
    if (!n->params) return NULL;
    switch (n->op) {
    case ENGINE_OP_Conv:
    case ENGINE_OP_ConvTranspose: return &((const engine_conv_params *)n->params)->epilogue;
    case ENGINE_OP_Gemm: return &((const engine_gemm_params *)n->params)->epilogue;
    default: return NULL;
    }
}

/* The attribute `name` of n emptied and retyped, or a new one. */
static engine_status attr_slot(eng_graph *g, engine_node *n, const char *name, engine_attr_type type,
                               engine_attr **out) {
    for (int k = 0; k < n->n_attrs; ++k) {
        engine_attr *a = &n->attrs[k];
        if (strcmp(a->name, name) != 0) continue;
        eng_free(g->ctx, a->s);
        eng_free(g->ctx, a->ints);
        eng_free(g->ctx, a->floats);
        if (a->strings)
            for (int i = 0; i < a->n; ++i) eng_free(g->ctx, a->strings[i]);
        eng_free(g->ctx, a->strings);
        if (a->t) {
            eng_free(g->ctx, a->t->name);
            eng_free(g->ctx, a->t->data);
            eng_free(g->ctx, a->t);
        }
        char *keep = a->name;
        memset(a, 0, sizeof *a);
        a->name = keep;
        a->type = type;
        *out = a;
        return ENGINE_OK;
    }
    return eng_node_add_attr(g, n, name, type, out);
}

engine_status eng_pass_set_int(eng_graph *g, engine_node *n, const char *name, int64_t v) {
    engine_attr *a;
    engine_status st = attr_slot(g, n, name, ENGINE_ATTR_INT, &a);
    if (st) return st;
    a->i = v;
    return ENGINE_OK;
}

engine_status eng_pass_set_float(eng_graph *g, engine_node *n, const char *name, float v) {
    engine_attr *a;
    engine_status st = attr_slot(g, n, name, ENGINE_ATTR_FLOAT, &a);
    if (st) return st;
    a->f = v;
    return ENGINE_OK;
}

engine_status eng_pass_set_string(eng_graph *g, engine_node *n, const char *name, const char *v) {
    char *s = eng_strdup(g->ctx, v);
    if (!s) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory setting '%s'", name);
    engine_attr *a;
    engine_status st = attr_slot(g, n, name, ENGINE_ATTR_STRING, &a);
    if (st) {
        eng_free(g->ctx, s);
        return st;
    }
    a->s = s;
    return ENGINE_OK;
}

engine_status eng_pass_set_ints(eng_graph *g, engine_node *n, const char *name, int count, const int64_t *v) {
    int64_t *copy = eng_alloc(g->ctx, (size_t)count * sizeof *copy + 1);
    if (!copy) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory setting '%s'", name);
    memcpy(copy, v, (size_t)count * sizeof *copy);
    engine_attr *a;
    engine_status st = attr_slot(g, n, name, ENGINE_ATTR_INTS, &a);
    if (st) {
        eng_free(g->ctx, copy);
        return st;
    }
    a->ints = copy;
    a->n = count;
    return ENGINE_OK;
}

engine_status eng_pass_set_epilogue(eng_graph *g, engine_node *n, const engine_epilogue *e) {
    engine_status st = eng_pass_set_string(g, n, "engine.activation", eng_act_name(e->act));
    if (!st) st = eng_pass_set_float(g, n, "engine.alpha", e->alpha);
    if (!st) st = eng_pass_set_float(g, n, "engine.beta", e->beta);
    if (!st && e->sum) st = eng_pass_set_int(g, n, "engine.sum", 1);
    return st;
}

engine_status eng_pass_set_inputs(eng_graph *g, engine_node *n, int count) {
    if (count <= n->n_inputs) return ENGINE_OK;
    engine_value **in =
        eng_realloc(g->ctx, n->inputs, (size_t)n->n_inputs * sizeof *in, (size_t)count * sizeof *in);
    if (!in) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory growing its inputs");
    for (int i = n->n_inputs; i < count; ++i) in[i] = NULL;
    n->inputs = in;
    n->n_inputs = count;
    return ENGINE_OK;
}

engine_status eng_pass_take_output(eng_graph *g, engine_node *p, engine_node *last) {
    engine_value *x = p->outputs[0], *y = last->outputs[0];
    p->outputs[0] = NULL;
    if (x) x->producer = NULL;
    last->outputs[0] = NULL;
    y->producer = NULL;
    engine_status st = eng_node_set_output(g, p, 0, y);
    if (st) return st;
    return eng_infer_node(g, p);
}

engine_status eng_pass_new_const(eng_graph *g, int rank, const int64_t *dims, float *data, engine_value **out) {
    engine_value *v;
    engine_status st = eng_graph_add_value(g, NULL, &v);
    if (!st) st = eng_value_set_shape(g, v, ENGINE_DTYPE_F32, rank, dims);
    if (st) {
        eng_free(g->ctx, data);
        return st;
    }
    eng_value_set_data(g, v, data);
    *out = v;
    return ENGINE_OK;
}

engine_status eng_pass_insert_node(eng_graph *g, int at, const char *name, const char *op_type, int n_inputs,
                                   int n_outputs, engine_node **out) {
    engine_node *n;
    engine_status st = eng_graph_add_node(g, name, op_type, "", n_inputs, n_outputs, &n);
    if (st) return st;
    memmove(&g->nodes[at + 1], &g->nodes[at], (size_t)(g->n_nodes - 1 - at) * sizeof *g->nodes);
    g->nodes[at] = n;
    for (int k = at; k < g->n_nodes; ++k) g->nodes[k]->index = k;
    *out = n;
    return ENGINE_OK;
}
