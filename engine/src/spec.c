/* spec.c - models whose shapes are a run-time matter: which graph inputs
 * decide shapes, and the graph specialised for one run's input shapes.
 *
 * A model is dynamic when an input has a symbolic dim, or when a graph
 * input's *values* reach an op input that shape inference needs constant
 * (a Reshape shape, Slice starts, Pad pads, reduce axes, Clip bounds ...,
 * the "parameter inputs" below). The loaded graph of such a model is kept
 * as a template, neither inferred nor folded. Each run signature (every
 * input's dims, and the bytes of the parameter inputs) gets its own copy:
 * input dims bound, parameter inputs turned into constants holding the
 * run's values, then the same inference, folding and passes a static model
 * gets at load. session.c caches the compiled result per signature. */
#include <string.h>

#include "infer.h"
#include "model.h"

/* Op inputs shape inference reads as constants (ops/, eng_const_ints
 * and friends), by op type: bit k set for input k. Ops outside the list
 * never need an input's values. */
static const struct {
    const char *op;
    unsigned slots;
} param_slots[] = {
    {"Reshape", 1u << 1},       {"Expand", 1u << 1},       {"Tile", 1u << 1},
    {"ConstantOfShape", 1u << 0}, {"Slice", 0x1eu},        {"Pad", 0xeu},
    {"Squeeze", 1u << 1},       {"Unsqueeze", 1u << 1},    {"Split", 1u << 1},
    {"Resize", 0xeu},           {"Upsample", 1u << 1},     {"Clip", 0x6u},
    {"Dropout", 0x6u},          {"ReduceSum", 1u << 1},    {"ReduceMean", 1u << 1},
    {"ReduceMax", 1u << 1},     {"ReduceMin", 1u << 1},    {"ReduceProd", 1u << 1},
    {"ReduceL1", 1u << 1},      {"ReduceL2", 1u << 1},     {"ReduceLogSumExp", 1u << 1},
    {"ReduceSumSquare", 1u << 1}, {"TopK", 1u << 1},       {"Range", 0x7u},
    {"OneHot", 1u << 1},        {"If", 1u << 0},           {"Loop", 0x3u},
    {"CumSum", 1u << 1},        {"Trilu", 1u << 1},        {"SequenceInsert", 1u << 2},
    {"SequenceAt", 1u << 1},    {"SequenceErase", 1u << 1}, {"SplitToSequence", 1u << 1},
};

int eng_param_slot(const engine_node *n, int k) {
    if (n->domain[0] || k < 0 || k >= 32) return 0;
    for (size_t i = 0; i < sizeof param_slots / sizeof param_slots[0]; ++i)
        if (strcmp(param_slots[i].op, n->op_type) == 0) return (param_slots[i].slots >> k) & 1u;
    return 0;
}

/* Marks in want[] every non-constant value whose contents reach v (v
 * included), walking producers backwards. Shape and Size read only their
 * input's dims, which the signature already holds. */
static void mark_back(const eng_graph *g, const engine_value *v, unsigned char *want) {
    if (!v || (v->flags & ENGINE_VALUE_CONST) || want[v->index]) return;
    want[v->index] = 1;
    const engine_node *p = v->producer;
    if (!p || (!p->domain[0] && (strcmp(p->op_type, "Shape") == 0 || strcmp(p->op_type, "Size") == 0))) return;
    for (int i = 0; i < p->n_inputs; ++i) mark_back(g, p->inputs[i], want);
}

/* Non-zero when v's contents in body b come from anything but constants,
 * the iteration number and the incoming condition (b's inputs 0 and 1): a
 * loop-carried value, an outer-scope value or a graph input. seen[] (one
 * byte per value of b) marks the values already walked. */
static int body_value_from_data(const eng_graph *b, const engine_value *v, unsigned char *seen) {
    if (!v || (v->flags & ENGINE_VALUE_CONST) || v->index < 0 || v->index >= b->n_values || seen[v->index]) return 0;
    seen[v->index] = 1;
    const engine_node *p = v->producer;
    if (!p) return !(b->n_inputs >= 2 && (v == b->inputs[0] || v == b->inputs[1]));
    for (int i = 0; i < p->n_inputs; ++i)
        if (body_value_from_data(b, p->inputs[i], seen)) return 1;
    return 0;
}

/* 1 when g or one of its bodies has an op whose output shape depends on
 * data, or a Loop whose body computes its condition from data (a while
 * loop: each iteration waits for the last one's condition); 0 if not; -1
 * out of memory. */
static int has_data_dependent_op(engine_context *ctx, const eng_graph *g) {
    for (int k = 0; k < g->n_nodes; ++k)
        if (engine_op_data_dependent(g->nodes[k]->op)) return 1;
    for (int k = 0; k < g->n_subs; ++k) {
        const eng_subgraph *e = &g->subs[k];
        int r = has_data_dependent_op(ctx, e->body);
        if (r) return r;
        if (e->node && !e->node->domain[0] && strcmp(e->node->op_type, "Loop") == 0 && e->body->n_outputs >= 1) {
            unsigned char *seen = eng_calloc(ctx, (size_t)e->body->n_values + 1, 1);
            if (!seen) return -1;
            r = body_value_from_data(e->body, e->body->outputs[0], seen);
            eng_free(ctx, seen);
            if (r) return 1;
        }
    }
    return 0;
}

engine_status eng_model_classify(engine_model *m) {
    eng_graph *g = m->graph;
    engine_context *ctx = m->ctx;
    unsigned char *want = eng_calloc(ctx, (size_t)g->n_values + 1, 1);
    m->value_input = eng_calloc(ctx, (size_t)g->n_inputs + 1, 1);
    if (!want || !m->value_input) {
        eng_free(ctx, want);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory classifying the model's inputs");
    }
    for (int k = 0; k < g->n_nodes; ++k) {
        const engine_node *n = g->nodes[k];
        for (int i = 0; i < n->n_inputs; ++i)
            if (eng_param_slot(n, i)) mark_back(g, n->inputs[i], want);
    }
    m->n_value_inputs = 0;
    int symbolic = 0;
    for (int k = 0; k < g->n_inputs; ++k) {
        const engine_value *v = g->inputs[k];
        /* Shape parameters are small tensors of fixed size (a shape, axes,
         * pads, bounds, a flag). A big or symbolic-sized input that reaches
         * such a slot is data: specialising on its values would compile per
         * run, so it stays an input and the op refuses it, by name. */
        int64_t numel = 1;
        for (int d = 0; d < v->rank; ++d) numel = v->dims[d] < 0 || numel > 4096 ? -1 : numel * v->dims[d];
        m->value_input[k] = want[v->index] && numel >= 0 && numel <= 4096;
        m->n_value_inputs += want[v->index];
        for (int d = 0; d < v->rank; ++d) symbolic |= v->dims[d] < 0;
    }
    eng_free(ctx, want);
    int dd = has_data_dependent_op(ctx, g);
    if (dd < 0) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory classifying the model's loops");
    m->data_dependent = dd;
    m->dynamic = symbolic || m->n_value_inputs > 0 || m->data_dependent;
    return ENGINE_OK;
}

engine_status eng_specialise(const engine_model *m, const int64_t (*dims)[ENGINE_MAX_RANK],
                             const void *const *values, eng_spec_graph *out) {
    engine_context *ctx = m->ctx;
    eng_graph *g = NULL;
    engine_status st = eng_graph_clone(m->graph, &g);
    if (st) return st;
    for (int k = 0; k < g->n_inputs; ++k) {
        engine_value *v = g->inputs[k];
        if ((st = eng_value_set_shape(g, v, v->dtype, v->rank, dims[k]))) goto fail;
        if (!m->value_input[k]) continue;
        /* A parameter input: a constant holding this run's values. */
        size_t bytes = engine_value_nbytes(v);
        void *data = eng_alloc(ctx, bytes + 1);
        if (!data) {
            st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory binding input '%s'", v->name);
            goto fail;
        }
        if (bytes) memcpy(data, values[k], bytes);
        eng_value_set_data(g, v, data);
    }
    int folded = 0, deferred = 0;
    out->n_passes = 0;
    if ((st = eng_graph_infer_staged(g, &folded, &deferred))) goto fail;
    out->deferred = deferred;
    if (deferred) { /* the session cuts it into stages (session.c) */
        out->graph = g;
        out->folded = folded;
        return ENGINE_OK;
    }
    eng_graph_remove_dead(g);
    if (m->optimized && (st = eng_passes_run(g, out->passes, ENG_MAX_PASS_STATS, &out->n_passes))) goto fail;
    out->graph = g;
    out->folded = folded;
    return ENGINE_OK;
fail:
    eng_graph_free(g);
    return st;
}
