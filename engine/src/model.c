/* model.c - loading models, their inputs and outputs, MACs, graph dumps. */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "infer.h"
#include "onnx.h"
#include "ops_internal.h"

static engine_status finish_load(engine_context *ctx, eng_graph *g, engine_model **out) {
    int folded = 0;
    engine_status st;
    engine_model *m = eng_calloc(ctx, 1, sizeof *m);
    if (!m) {
        eng_graph_free(g);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating the model");
    }
    m->ctx = ctx;
    m->graph = g;
    eng_weights_init(&m->weights, -1, NULL, 0);
    if ((st = eng_model_classify(m))) goto fail;
    if (!m->dynamic) {
        /* Static shapes: inferred and folded once, here. A dynamic model
         * stays a template; sessions specialise it per run (spec.c). */
        if ((st = eng_graph_infer(g, &folded))) goto fail;
        eng_graph_remove_dead(g);
        m->folded = folded;
    } else {
        /* What needs no input shape is folded once, in the template. */
        if ((st = eng_graph_fold_constants(g, &folded))) goto fail;
        eng_graph_remove_dead(g);
        m->folded = folded;
    }
    *out = m;
    return ENGINE_OK;
fail:
    engine_model_free(m);
    return st;
}

engine_status engine_model_load_memory(engine_context *ctx, const void *data, size_t size, const char *base_dir,
                                       engine_model **out) {
    if (!ctx || !data || !out) return ctx ? eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "NULL argument") : ENGINE_ERR_INVALID_ARGUMENT;
    ctx->message[0] = 0;
    eng_graph *g = NULL;
    engine_status st = eng_onnx_load(ctx, data, size, base_dir, &g);
    if (st) return st;
    return finish_load(ctx, g, out);
}

engine_status engine_model_load_file(engine_context *ctx, const char *path, engine_model **out) {
    if (!ctx || !path || !out) return ctx ? eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "NULL argument") : ENGINE_ERR_INVALID_ARGUMENT;
    ctx->message[0] = 0;
    FILE *probe = fopen(path, "rb"); /* the plain message for a file that is not there */
    if (!probe) return eng_error(ctx, ENGINE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    fclose(probe);
    /* External data is confined to the model's own folder. */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (slash) {
        size_t len = (size_t)(slash - path);
        if (len >= sizeof dir) len = sizeof dir - 1;
        memcpy(dir, path, len);
        dir[len] = 0;
        if (len == 0) strcpy(dir, "/");
    } else {
        strcpy(dir, ".");
    }
    eng_graph *g = NULL;
    eng_weights w;
    engine_status st = eng_onnx_load_file(ctx, path, dir, &g, &w);
    if (st) {
        /* Name the file in the message: the loader names what inside it failed. */
        char msg[ENG_ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ctx->message);
        eng_error(ctx, st, "%s: %s", path, msg);
        return st;
    }
    st = finish_load(ctx, g, out);
    if (st) {
        eng_weights_free(ctx, &w);
        char msg[ENG_ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ctx->message);
        eng_error(ctx, st, "%s: %s", path, msg);
        return st;
    }
    /* Released weights come back only through sessions of this model:
     * not where stages or If/Loop bodies borrow its constants (weights.h). */
    int borrowed = (*out)->data_dependent;
    for (int k = 0; k < g->n_nodes && !borrowed; ++k)
        for (int a = 0; a < g->nodes[k]->n_attrs; ++a) borrowed |= g->nodes[k]->attrs[a].type == ENGINE_ATTR_GRAPH;
    if (borrowed) eng_weights_free(ctx, &w);
    (*out)->weights = w;
    return st;
}

void engine_model_free(engine_model *model) {
    if (!model) return;
    engine_context *ctx = model->ctx;
    eng_weights_free(ctx, &model->weights);
    eng_graph_free(model->graph);
    eng_free(ctx, model->value_input);
    eng_free(ctx, model);
}

engine_status engine_model_optimize(engine_model *model, unsigned flags) {
    if (!model) return ENGINE_ERR_INVALID_ARGUMENT;
    if (flags == ENGINE_OPT_NONE) return ENGINE_OK;
    if (model->dynamic) { /* the passes run on each specialisation (spec.c) */
        model->optimized = 1;
        return ENGINE_OK;
    }
    /* The load already folded constants and removed dead nodes; the passes
     * (docs/PASSES.md) rewrite what is left, reading the weights. */
    engine_status st = eng_weights_resident(model->ctx, &model->weights);
    if (st) return st;
    eng_weights_unverify(&model->weights); /* the passes may rewrite weights in place */
    st = eng_passes_run(model->graph, model->passes, ENG_MAX_PASS_STATS, &model->n_passes);
    if (st) return st;
    model->optimized = 1;
    return ENGINE_OK;
}

int engine_model_input_count(const engine_model *model) {
    return model ? model->graph->n_inputs : 0;
}

int engine_model_output_count(const engine_model *model) {
    return model ? model->graph->n_outputs : 0;
}

static void fill_info(const engine_value *v, engine_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = v->name;
    info->dtype = v->dtype;
    info->rank = v->rank;
    for (int k = 0; k < v->rank && k < ENGINE_MAX_RANK; ++k) info->dims[k] = v->dims[k];
}

engine_status engine_model_input_info(const engine_model *model, int index, engine_tensor_info *info) {
    if (!model || !info || index < 0 || index >= model->graph->n_inputs) return ENGINE_ERR_INVALID_ARGUMENT;
    fill_info(model->graph->inputs[index], info);
    return ENGINE_OK;
}

const char *engine_model_input_dim_name(const engine_model *model, int index, int axis) {
    if (!model || index < 0 || index >= model->graph->n_inputs || axis < 0 || axis >= ENGINE_MAX_RANK ||
        !model->graph->input_syms)
        return NULL;
    return model->graph->input_syms[index * ENGINE_MAX_RANK + axis];
}

int engine_model_is_dynamic(const engine_model *model) {
    return model && model->dynamic;
}

int engine_model_input_is_shape_param(const engine_model *model, int index) {
    if (!model || index < 0 || index >= model->graph->n_inputs || !model->value_input) return 0;
    return model->value_input[index];
}

engine_status engine_model_output_info(const engine_model *model, int index, engine_tensor_info *info) {
    if (!model || !info || index < 0 || index >= model->graph->n_outputs) return ENGINE_ERR_INVALID_ARGUMENT;
    const engine_value *v = model->graph->outputs[index];
    fill_info(v, info);
    const eng_decl *d = model->graph->out_decl ? &model->graph->out_decl[index] : NULL;
    if (model->dynamic && d && (v->rank < 0 || v->dtype == ENGINE_DTYPE_UNDEFINED)) {
        /* Not inferred yet (shapes come with each run): the file's word. */
        info->dtype = d->dtype;
        info->rank = d->rank;
        for (int k = 0; k < d->rank && k < ENGINE_MAX_RANK; ++k) info->dims[k] = d->dims[k];
    }
    return ENGINE_OK;
}

int engine_model_node_count(const engine_model *model) {
    return model ? model->graph->n_nodes : 0;
}

/* Multiply-accumulates of the compute-heavy ops (what GFLOP/s figures use). */
static int64_t node_macs(const engine_node *n) {
    const engine_value *y = n->outputs[0];
    if (!y || y->rank < 0) return 0;
    switch (n->op) {
    case ENGINE_OP_Conv: {
        const engine_value *w = n->inputs[1];
        int64_t per = 1; /* C/group * prod(kernel) */
        for (int k = 1; k < w->rank; ++k) per *= w->dims[k];
        return engine_value_numel(y) * per;
    }
    case ENGINE_OP_ConvTranspose: {
        const engine_value *x = n->inputs[0], *w = n->inputs[1];
        int64_t per = 1; /* each input element feeds (M/group) * prod(kernel) outputs */
        for (int k = 1; k < w->rank; ++k) per *= w->dims[k];
        return engine_value_numel(x) * per;
    }
    case ENGINE_OP_Gemm:
    case ENGINE_OP_MatMul: {
        const engine_value *a = n->inputs[0];
        int64_t kdim = a->rank >= 1 ? a->dims[a->rank - 1] : 1;
        if (n->op == ENGINE_OP_Gemm && n->params) kdim = ((const engine_gemm_params *)n->params)->k;
        return engine_value_numel(y) * kdim;
    }
    default: return 0;
    }
}

static int64_t graph_macs(const eng_graph *g) {
    int64_t total = 0;
    for (int k = 0; k < g->n_nodes; ++k) total += node_macs(g->nodes[k]);
    return total;
}

int64_t engine_model_macs(const engine_model *model) {
    return model ? graph_macs(model->graph) : 0;
}

/* ---- dumps ---- */

typedef struct dump_buf {
    engine_write_fn write;
    void *user;
} dump_buf;

static void emit(dump_buf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(dump_buf *d, const char *fmt, ...) {
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    d->write(d->user, line);
}

static void emit_json_string(dump_buf *d, const char *s) {
    char buf[1024];
    size_t w = 0;
    buf[w++] = '"';
    for (; *s && w < sizeof buf - 8; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[w++] = '\\';
            buf[w++] = (char)c;
        } else if (c < 0x20) {
            w += (size_t)snprintf(buf + w, sizeof buf - w, "\\u%04x", c);
        } else {
            buf[w++] = (char)c;
        }
    }
    buf[w++] = '"';
    buf[w] = 0;
    d->write(d->user, buf);
}

/* "float32[1,3,224,224]"; a symbolic dim by its name (syms: the input's
 * names, or NULL), "?" where unnamed or not yet inferred. */
static void shape_str_sym(const engine_value *v, char *const *syms, char *buf, size_t size) {
    if (v->rank < 0) { /* a template's value: known per specialisation */
        snprintf(buf, size, "%s", v->dtype ? engine_dtype_name(v->dtype) : "?");
        return;
    }
    size_t w = (size_t)snprintf(buf, size, "%s[", engine_dtype_name(v->dtype));
    for (int k = 0; k < v->rank && w < size; ++k) {
        if (v->dims[k] >= 0)
            w += (size_t)snprintf(buf + w, size - w, k ? ",%lld" : "%lld", (long long)v->dims[k]);
        else
            w += (size_t)snprintf(buf + w, size - w, "%s%s", k ? "," : "", syms && syms[k] && syms[k][0] ? syms[k] : "?");
    }
    if (w < size) snprintf(buf + w, size - w, "]");
}

static void shape_str(const engine_value *v, char *buf, size_t size) {
    shape_str_sym(v, NULL, buf, size);
}

/* The fused epilogue a pass gave n (docs/PASSES.md) as text: "sum+Relu",
 * "Clip(0,6)"; "" when none. */
/* The Flatten + Gemm fusion's axis (passes/fuse_flatten_gemm.c), or -1. */
static int gemm_flatten_axis(const engine_node *n) {
    if (n->op != ENGINE_OP_Gemm || !n->params) return -1;
    return ((const engine_gemm_params *)n->params)->flatten_axis;
}

static void epilogue_str(const engine_node *n, char *buf, size_t size) {
    const engine_epilogue *e = eng_pass_epilogue(n);
    buf[0] = 0;
    if (!e || (e->act == ENGINE_ACT_NONE && !e->sum)) return;
    size_t w = (size_t)snprintf(buf, size, "%s", e->sum ? "sum" : "");
    if (e->act == ENGINE_ACT_NONE || w >= size) return;
    w += (size_t)snprintf(buf + w, size - w, "%s%s", e->sum ? "+" : "", eng_act_name(e->act));
    if (w >= size) return;
    if (e->act == ENGINE_ACT_CLIP || e->act == ENGINE_ACT_HARD_SIGMOID)
        snprintf(buf + w, size - w, "(%g,%g)", (double)e->alpha, (double)e->beta);
    else if (e->act == ENGINE_ACT_LEAKY_RELU)
        snprintf(buf + w, size - w, "(%g)", (double)e->alpha);
}

static int count_aliased(const eng_graph *g) {
    int count = 0;
    for (int k = 0; k < g->n_values; ++k) count += g->values[k]->alias_of != NULL;
    return count;
}

/* Provided by session.c: the backend a node was placed on, or NULL; the
 * graph of the session's current signature. */
const char *eng_session_node_backend(const engine_session *s, const engine_node *n);
const eng_graph *eng_session_graph(const engine_session *s, const eng_spec_graph **info);

engine_status engine_model_dump(const engine_model *model, const engine_session *session, int json,
                                engine_write_fn write, void *user) {
    if (!model || !write) return ENGINE_ERR_INVALID_ARGUMENT;
    const eng_graph *g = model->graph;
    const eng_pass_stat *passes = model->passes;
    int n_passes = model->n_passes, folded = model->folded;
    char *const *syms = model->graph->input_syms;
    if (model->dynamic && session) {
        /* A dynamic model: the session's current specialisation. */
        const eng_spec_graph *info = NULL;
        const eng_graph *sg = eng_session_graph(session, &info);
        if (sg) {
            g = sg;
            syms = NULL;
            if (info) {
                passes = info->passes;
                n_passes = info->n_passes;
                folded = info->folded;
            }
        }
    }
    dump_buf d = {write, user};
    char shape[256], fused[64];
    if (json) {
        emit(&d, "{\"nodes\":[");
        for (int k = 0; k < g->n_nodes; ++k) {
            const engine_node *n = g->nodes[k];
            emit(&d, "%s{\"name\":", k ? "," : "");
            emit_json_string(&d, n->name);
            emit(&d, ",\"op\":");
            emit_json_string(&d, n->op_type);
            emit(&d, ",\"inputs\":[");
            int first = 1;
            for (int i = 0; i < n->n_inputs; ++i) {
                if (!n->inputs[i]) continue;
                if (!first) emit(&d, ",");
                emit_json_string(&d, n->inputs[i]->name);
                first = 0;
            }
            emit(&d, "],\"outputs\":[");
            first = 1;
            for (int o = 0; o < n->n_outputs; ++o) {
                if (!n->outputs[o]) continue;
                if (!first) emit(&d, ",");
                emit_json_string(&d, n->outputs[o]->name);
                first = 0;
            }
            emit(&d, "],\"shape\":");
            shape_str(n->outputs[0], shape, sizeof shape);
            emit_json_string(&d, shape);
            /* Storage aliases (Concat elimination, ir.h): where outputs live. */
            first = 1;
            for (int o = 0; o < n->n_outputs; ++o) {
                const engine_value *v = n->outputs[o];
                if (!v || !v->alias_of) continue;
                emit(&d, first ? ",\"aliases\":[{\"value\":" : ",{\"value\":");
                emit_json_string(&d, v->name);
                emit(&d, ",\"of\":");
                emit_json_string(&d, v->alias_of->name);
                emit(&d, ",\"offset\":%zu}", v->alias_offset);
                first = 0;
            }
            if (!first) emit(&d, "]");
            epilogue_str(n, fused, sizeof fused);
            if (fused[0]) {
                emit(&d, ",\"fused\":");
                emit_json_string(&d, fused);
            }
            if (gemm_flatten_axis(n) >= 0) emit(&d, ",\"flatten_axis\":%d", gemm_flatten_axis(n));
            const char *b = session ? eng_session_node_backend(session, n) : NULL;
            emit(&d, ",\"backend\":");
            if (b)
                emit_json_string(&d, b);
            else
                emit(&d, "null");
            emit(&d, "}");
        }
        emit(&d, "],\"passes\":[");
        for (int k = 0; k < n_passes; ++k) {
            emit(&d, "%s{\"name\":", k ? "," : "");
            emit_json_string(&d, passes[k].name);
            emit(&d, ",\"before\":%d,\"after\":%d,\"changed\":%d}", passes[k].before,
                 passes[k].after, passes[k].changed);
        }
        emit(&d, "],\"node_count\":%d,\"folded\":%d,\"macs\":%lld,\"aliased\":%d,\"copy_free_concats\":%d}\n",
             g->n_nodes, folded, (long long)graph_macs(g), count_aliased(g),
             eng_pass_concat_copy_free(g));
        return ENGINE_OK;
    }
    emit(&d, "graph: %d nodes, %d inputs, %d outputs, %d nodes folded into constants, %lld MACs\n", g->n_nodes,
         g->n_inputs, g->n_outputs, folded, (long long)graph_macs(g));
    for (int k = 0; k < n_passes; ++k)
        emit(&d, "  pass   %-16s %d -> %d nodes, %d rewrites\n", passes[k].name, passes[k].before,
             passes[k].after, passes[k].changed);
    if (count_aliased(g))
        emit(&d, "  concat elimination: %d values stored in a Concat output, %d Concats copy nothing\n",
             count_aliased(g), eng_pass_concat_copy_free(g));
    for (int k = 0; k < g->n_inputs; ++k) {
        shape_str_sym(g->inputs[k], syms ? syms + k * ENGINE_MAX_RANK : NULL, shape, sizeof shape);
        emit(&d, "  input  %s %s\n", g->inputs[k]->name, shape);
    }
    for (int k = 0; k < g->n_nodes; ++k) {
        const engine_node *n = g->nodes[k];
        const char *b = session ? eng_session_node_backend(session, n) : NULL;
        emit(&d, "  %4d %-20s %-24s", k, n->op_type, n->name);
        for (int i = 0; i < n->n_inputs; ++i)
            if (n->inputs[i])
                emit(&d, " %s%s", n->inputs[i]->name, n->inputs[i]->flags & ENGINE_VALUE_CONST ? "(c)" : "");
        emit(&d, " ->");
        for (int o = 0; o < n->n_outputs; ++o)
            if (n->outputs[o]) {
                shape_str(n->outputs[o], shape, sizeof shape);
                emit(&d, " %s %s", n->outputs[o]->name, shape);
                if (n->outputs[o]->alias_of)
                    emit(&d, " (alias of %s +%zu)", n->outputs[o]->alias_of->name, n->outputs[o]->alias_offset);
            }
        epilogue_str(n, fused, sizeof fused);
        if (fused[0]) emit(&d, "  fused=%s", fused);
        if (gemm_flatten_axis(n) >= 0) emit(&d, "  flatten_axis=%d", gemm_flatten_axis(n));
        if (b) emit(&d, "  @%s", b);
        emit(&d, "\n");
    }
    for (int k = 0; k < g->n_outputs; ++k) {
        shape_str(g->outputs[k], shape, sizeof shape);
        emit(&d, "  output %s %s\n", g->outputs[k]->name, shape);
    }
    return ENGINE_OK;
}
