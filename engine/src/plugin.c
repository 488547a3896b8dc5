/* plugin.c - custom-op plugins: loading (dlopen), the registry of plugin
 * ops in the context, and shape inference of plugin nodes.
 *
 * The contract is in engine/include/engine/plugin.h. A plugin is loaded all
 * or nothing: the ops it registers are staged in the registry while its
 * entry point runs and dropped again (with the library) if anything fails.
 * Each registered op is a separate allocation that never moves, because
 * nodes keep pointers to it (engine_node.plugin) for as long as the context
 * lives. */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/plugin.h"
#include "graph.h"
#include "internal.h"
#include "ops_internal.h"

/* A registered op: the engine's copy of the plugin's struct (first member,
 * so a node's plugin pointer converts back) and the library it came from. */
typedef struct eng_plugin_entry {
    engine_plugin_op op;
    int lib; /* index into the registry's libraries */
} eng_plugin_entry;

typedef struct eng_plugin_lib {
    char *path;
    void *dl;
} eng_plugin_lib;

struct engine_plugin_registry {
    engine_context *ctx;
    eng_plugin_lib *libs;
    int n_libs, cap_libs;
    eng_plugin_entry **ops;
    int n_ops, cap_ops;
    int loading;      /* non-zero while an entry point runs: register_op is valid */
    int loading_lib;  /* the index the library being loaded will get */
    char reason[512]; /* why register_op refused, for the load message */
    char *rejections; /* one line per refused plugin */
};

/* ---- helpers ---- */

static const char *canon_domain(const char *d) {
    return !d || strcmp(d, "ai.onnx") == 0 ? "" : d;
}

static const char *base_name(const char *path) {
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : (path ? path : "?");
}

static int grow(engine_context *ctx, void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 1;
    int ncap = *cap ? *cap * 2 : 8;
    while (ncap < need) ncap *= 2;
    void *p = eng_realloc(ctx, *arr, (size_t)*cap * elem, (size_t)ncap * elem);
    if (!p) return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

static engine_plugin_registry *registry_get(engine_context *ctx) {
    if (!ctx->plugins) {
        ctx->plugins = eng_calloc(ctx, 1, sizeof *ctx->plugins);
        if (ctx->plugins) ctx->plugins->ctx = ctx;
    }
    return ctx->plugins;
}

static void add_rejection(engine_plugin_registry *r, const char *path, const char *why) {
    engine_context *ctx = r->ctx;
    size_t old = r->rejections ? strlen(r->rejections) : 0;
    size_t add = strlen(path) + strlen(why) + 4;
    char *s = eng_alloc(ctx, old + add + 1);
    if (s) { /* best effort: the log and the returned message still have it */
        if (old) memcpy(s, r->rejections, old);
        snprintf(s + old, add + 1, "%s: %s\n", path, why);
        eng_free(ctx, r->rejections);
        r->rejections = s;
    }
    eng_log(ctx, ENGINE_LOG_WARN, "plugin %s refused: %s", path, why);
}

/* Ops overlap when they share (domain, op_type) and their opset ranges meet. */
static const eng_plugin_entry *find_overlap(const engine_plugin_registry *r, const char *domain, const char *op_type,
                                            int lo, int hi) {
    for (int k = 0; k < r->n_ops; ++k) {
        const engine_plugin_op *o = &r->ops[k]->op;
        if (strcmp(canon_domain(o->domain), domain) == 0 && strcmp(o->op_type, op_type) == 0 && o->opset_min <= hi &&
            lo <= o->opset_max)
            return r->ops[k];
    }
    return NULL;
}

/* Checks one schema entry; returns a reason or NULL. */
static const char *check_attr(const engine_plugin_attr *a, const engine_plugin_attr *all, int index) {
    if (!a->name || !a->name[0]) return "an attribute without a name";
    for (int j = 0; j < index; ++j)
        if (strcmp(all[j].name, a->name) == 0) return "a duplicate attribute name";
    switch (a->type) {
    case ENGINE_ATTR_FLOAT: case ENGINE_ATTR_INT: case ENGINE_ATTR_STRING: break;
    case ENGINE_ATTR_FLOATS:
        if (!a->required && a->default_n > 0 && !a->default_floats) return "a list default without its data";
        break;
    case ENGINE_ATTR_INTS:
        if (!a->required && a->default_n > 0 && !a->default_ints) return "a list default without its data";
        break;
    default: return "an unsupported attribute type (FLOAT, INT, STRING, FLOATS, INTS only)";
    }
    if (a->default_n < 0) return "a negative default_n";
    if (a->required && (a->default_float != 0.0f || a->default_int != 0 || a->default_string || a->default_floats ||
                        a->default_ints || a->default_n))
        return "a required attribute with a default";
    return NULL;
}

/* Fills r->reason and returns the status. */
static engine_status refuse(engine_plugin_registry *r, engine_status st, const engine_plugin_op *op, const char *fmt,
                            const char *detail) {
    char what[320];
    /* A long detail (a library path) is cut to fit: the reason is a
     * message, and a cut one still names the op and the cause first. */
    if (snprintf(what, sizeof what, fmt, detail ? detail : "") >= (int)sizeof what) what[sizeof what - 2] = '~';
    if (op && op->op_type)
        snprintf(r->reason, sizeof r->reason, "op '%s' of domain '%s': %s", op->op_type,
                 op->domain ? op->domain : "", what);
    else
        snprintf(r->reason, sizeof r->reason, "%s", what);
    return st;
}

/* host->register_op. */
static engine_status register_op(engine_plugin_registry *r, const engine_plugin_op *op) {
    if (!r) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!op) return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, NULL, "register_op called with NULL%s", NULL);
    if (!r->loading)
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, NULL, "register_op called outside the entry point%s", NULL);
    /* abi_version is the first member in every version: read it alone first. */
    if (op->abi_version != ENGINE_PLUGIN_ABI_VERSION) {
        snprintf(r->reason, sizeof r->reason, "an op built for plugin ABI version %u, this engine has version %u",
                 op->abi_version, ENGINE_PLUGIN_ABI_VERSION);
        return ENGINE_ERR_ABI;
    }
    if (op->struct_size != sizeof(engine_plugin_op)) {
        snprintf(r->reason, sizeof r->reason, "an op struct of %u bytes, this engine's plugin ABI has %zu",
                 op->struct_size, sizeof(engine_plugin_op));
        return ENGINE_ERR_ABI;
    }
    if (!op->op_type || !op->op_type[0] || !op->domain)
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, NULL, "an op without an op_type or domain%s", NULL);
    if (op->opset_min < 1 || op->opset_max < op->opset_min)
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "bad opset range%s", NULL);
    if (op->min_inputs < 0 || op->max_inputs < op->min_inputs || op->max_inputs > ENGINE_PLUGIN_MAX_IO ||
        op->min_outputs < 1 || op->max_outputs < op->min_outputs || op->max_outputs > ENGINE_PLUGIN_MAX_IO)
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "bad input/output counts%s", NULL);
    if (!op->shape) return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "no shape function%s", NULL);
    if (op->cl_source && (!op->cl_kernel_name || !op->cl_kernel_name[0] || !op->cl_geometry))
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "cl_source without cl_kernel_name or cl_geometry%s", NULL);
    if (op->n_attrs < 0 || (op->n_attrs > 0 && !op->attrs))
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "bad attribute schema: n_attrs without attrs%s", NULL);
    for (int k = 0; k < op->n_attrs; ++k) {
        const char *why = check_attr(&op->attrs[k], op->attrs, k);
        if (why) {
            char detail[256];
            snprintf(detail, sizeof detail, "bad attribute schema: '%s': %s",
                     op->attrs[k].name ? op->attrs[k].name : "", why);
            return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "%s", detail);
        }
    }
    const char *domain = canon_domain(op->domain);
    if (!domain[0] && eng_op_lookup("", op->op_type) != ENGINE_OP_UNKNOWN)
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "duplicate op: '%s' is a built-in ONNX op", op->op_type);
    const eng_plugin_entry *dup = find_overlap(r, domain, op->op_type, op->opset_min, op->opset_max);
    if (dup) {
        char detail[PATH_MAX + 64];
        snprintf(detail, sizeof detail, "duplicate op: already registered for opsets %d..%d by %s", dup->op.opset_min,
                 dup->op.opset_max, dup->lib < r->n_libs ? r->libs[dup->lib].path : "this plugin");
        return refuse(r, ENGINE_ERR_INVALID_ARGUMENT, op, "%s", detail);
    }
    if (!grow(r->ctx, (void **)&r->ops, &r->cap_ops, r->n_ops + 1, sizeof *r->ops))
        return refuse(r, ENGINE_ERR_OUT_OF_MEMORY, op, "out of memory%s", NULL);
    eng_plugin_entry *e = eng_calloc(r->ctx, 1, sizeof *e);
    if (!e) return refuse(r, ENGINE_ERR_OUT_OF_MEMORY, op, "out of memory%s", NULL);
    memcpy(&e->op, op, sizeof e->op);
    e->lib = r->loading_lib;
    r->ops[r->n_ops++] = e;
    return ENGINE_OK;
}

/* ---- loading ---- */

engine_status engine_context_load_plugin(engine_context *ctx, const char *path) {
    if (!ctx || !path) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_plugin_registry *r = registry_get(ctx);
    if (!r) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory loading plugin %s", path);
    char why[768];
    engine_status st = ENGINE_OK;
    if (!grow(ctx, (void **)&r->libs, &r->cap_libs, r->n_libs + 1, sizeof *r->libs))
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory loading plugin %s", path);
    char *path_copy = eng_strdup(ctx, path);
    if (!path_copy) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory loading plugin %s", path);

    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "cannot be opened: %s", e ? e : "unknown dlopen error");
        st = ENGINE_ERR_NOT_FOUND;
        goto refused;
    }
    engine_plugin_entry_fn entry;
    void *sym = dlsym(dl, ENGINE_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, as POSIX allows */
    if (!entry) {
        snprintf(why, sizeof why, "no %s entry point", ENGINE_PLUGIN_ENTRY_SYMBOL);
        st = ENGINE_ERR_NOT_FOUND;
        goto refused;
    }
    engine_plugin_host host;
    memset(&host, 0, sizeof host);
    host.abi_version = ENGINE_PLUGIN_ABI_VERSION;
    host.struct_size = sizeof host;
    host.registry = r;
    host.register_op = register_op;
    host.plugin_path = path_copy;
    int first = r->n_ops;
    r->reason[0] = 0;
    r->loading = 1;
    r->loading_lib = r->n_libs;
    st = entry(&host);
    r->loading = 0;
    if (st == ENGINE_OK && r->reason[0]) st = ENGINE_ERR_INVALID_ARGUMENT; /* a refusal the plugin ignored */
    if (st != ENGINE_OK) {
        while (r->n_ops > first) eng_free(ctx, r->ops[--r->n_ops]);
        if (r->reason[0])
            snprintf(why, sizeof why, "%s", r->reason);
        else if (st == ENGINE_ERR_ABI)
            snprintf(why, sizeof why, "built for another plugin ABI version (its entry point refused version %u)",
                     ENGINE_PLUGIN_ABI_VERSION);
        else
            snprintf(why, sizeof why, "its entry point failed: %s", engine_status_str(st));
        goto refused;
    }
    r->libs[r->n_libs].path = path_copy;
    r->libs[r->n_libs].dl = dl;
    r->n_libs++;
    eng_log(ctx, ENGINE_LOG_INFO, "plugin %s loaded: %d op(s)", path, r->n_ops - first);
    return ENGINE_OK;
refused:
    if (dl) dlclose(dl);
    eng_free(ctx, path_copy);
    add_rejection(r, path, why);
    return eng_error(ctx, st, "plugin %s refused: %s", path, why);
}

const char *engine_plugin_rejections(const engine_context *ctx) {
    return ctx && ctx->plugins && ctx->plugins->rejections ? ctx->plugins->rejections : "";
}

int engine_plugin_op_count(const engine_context *ctx) {
    return ctx && ctx->plugins ? ctx->plugins->n_ops : 0;
}

static int has_so_suffix(const char *file) {
    size_t len = strlen(file);
    return len > 3 && strcmp(file + len - 3, ".so") == 0;
}

/* Every *.so in a folder, sorted by name so that loads are repeatable. */
static void load_dir(engine_context *ctx, const char *dir) {
    struct dirent **list = NULL;
    int count = scandir(dir, &list, NULL, alphasort);
    if (count < 0) return;
    for (int k = 0; k < count; ++k) {
        if (list[k]->d_name[0] != '.' && has_so_suffix(list[k]->d_name)) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", dir, list[k]->d_name) < (int)sizeof path)
                (void)engine_context_load_plugin(ctx, path);
        }
        free(list[k]);
    }
    free(list);
}

void eng_plugins_load_env(engine_context *ctx) {
    const char *list = getenv("ENGINE_PLUGIN_PATH");
    if (!list) return;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && len < PATH_MAX) {
            char item[PATH_MAX];
            memcpy(item, p, len);
            item[len] = 0;
            struct stat st;
            if (stat(item, &st) == 0 && S_ISDIR(st.st_mode))
                load_dir(ctx, item);
            else
                (void)engine_context_load_plugin(ctx, item);
        }
        if (!end) break;
        p = end + 1;
    }
    ctx->message[0] = 0; /* refusals are in the log and engine_plugin_rejections */
}

void eng_plugins_free(engine_context *ctx) {
    engine_plugin_registry *r = ctx->plugins;
    if (!r) return;
    for (int k = 0; k < r->n_ops; ++k) eng_free(ctx, r->ops[k]);
    eng_free(ctx, r->ops);
    for (int k = r->n_libs - 1; k >= 0; --k) {
        if (r->libs[k].dl) dlclose(r->libs[k].dl);
        eng_free(ctx, r->libs[k].path);
    }
    eng_free(ctx, r->libs);
    eng_free(ctx, r->rejections);
    eng_free(ctx, r);
    ctx->plugins = NULL;
}

/* ---- shape inference of plugin nodes ---- */

static const char *attr_type_name(engine_attr_type t) {
    switch (t) {
    case ENGINE_ATTR_FLOAT: return "float";
    case ENGINE_ATTR_INT: return "int";
    case ENGINE_ATTR_STRING: return "string";
    case ENGINE_ATTR_TENSOR: return "tensor";
    case ENGINE_ATTR_GRAPH: return "graph";
    case ENGINE_ATTR_FLOATS: return "floats";
    case ENGINE_ATTR_INTS: return "ints";
    case ENGINE_ATTR_STRINGS: return "strings";
    case ENGINE_ATTR_UNDEFINED: break;
    }
    return "undefined";
}

const char *eng_plugin_path_of(const engine_context *ctx, const engine_plugin_op *op) {
    const eng_plugin_entry *e = (const eng_plugin_entry *)op;
    if (!ctx->plugins || !e || e->lib < 0 || e->lib >= ctx->plugins->n_libs) return "?";
    return ctx->plugins->libs[e->lib].path;
}

engine_status eng_plugin_infer_node(eng_graph *g, engine_node *n) {
    engine_context *ctx = g->ctx;
    const engine_plugin_registry *r = ctx->plugins;
    const char *domain = canon_domain(n->domain);
    const engine_plugin_op *op = NULL;
    const engine_plugin_op *other_opset = NULL;
    for (int k = 0; r && k < r->n_ops && !op; ++k) {
        const engine_plugin_op *o = &r->ops[k]->op;
        if (strcmp(canon_domain(o->domain), domain) != 0 || strcmp(o->op_type, n->op_type) != 0) continue;
        if (n->opset >= o->opset_min && n->opset <= o->opset_max)
            op = o;
        else
            other_opset = o;
    }
    if (!op) {
        if (other_opset)
            return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "op '%s' of domain '%s' at opset %d is not supported: plugin %s registers it for "
                                  "opsets %d..%d",
                                  n->op_type, domain, n->opset, base_name(eng_plugin_path_of(ctx, other_opset)),
                                  other_opset->opset_min, other_opset->opset_max);
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "op '%s'%s%s is not supported (not a built-in op, and no loaded plugin registers it)",
                              n->op_type, domain[0] ? " of domain " : "", domain);
    }
    const char *plugin = base_name(eng_plugin_path_of(ctx, op));
    /* Counts: ONNX may list trailing inputs as "" (NULL here). */
    if (n->n_inputs < op->min_inputs || n->n_inputs > op->max_inputs)
        return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "%d inputs, plugin op (%s) takes %d to %d",
                              n->n_inputs, plugin, op->min_inputs, op->max_inputs);
    if (n->n_outputs < op->min_outputs || n->n_outputs > op->max_outputs)
        return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "%d outputs, plugin op (%s) gives %d to %d",
                              n->n_outputs, plugin, op->min_outputs, op->max_outputs);
    for (int k = 0; k < op->min_inputs; ++k)
        if (!n->inputs[k])
            return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "required input %d is missing (plugin %s)", k,
                                  plugin);
    for (int k = 0; k < op->min_outputs; ++k)
        if (!n->outputs[k])
            return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "required output %d is missing (plugin %s)", k,
                                  plugin);
    /* Attributes against the schema. */
    for (int k = 0; k < n->n_attrs; ++k) {
        const engine_attr *a = &n->attrs[k];
        int found = -1;
        for (int j = 0; j < op->n_attrs && found < 0; ++j)
            if (strcmp(op->attrs[j].name, a->name) == 0) found = j;
        if (found < 0)
            return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "unknown attribute '%s' (plugin %s)", a->name,
                                  plugin);
        if (op->attrs[found].type != a->type)
            return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s' is %s, plugin %s expects %s",
                                  a->name, attr_type_name(a->type), plugin, attr_type_name(op->attrs[found].type));
    }
    for (int j = 0; j < op->n_attrs; ++j)
        if (op->attrs[j].required && !engine_node_attr(n, op->attrs[j].name))
            return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute '%s' is missing (plugin %s)",
                                  op->attrs[j].name, plugin);

    n->plugin = op;
    /* Outputs start unknown so that one the shape function forgets is caught. */
    for (int o = 0; o < n->n_outputs; ++o)
        if (n->outputs[o]) {
            n->outputs[o]->rank = -1;
            n->outputs[o]->dtype = ENGINE_DTYPE_UNDEFINED;
        }
    char err[512] = "";
    engine_status st = op->shape(n, n->outputs, err, sizeof err);
    if (st != ENGINE_OK)
        return eng_node_error(ctx, n, st, "shape function of plugin op '%s' of domain '%s' (%s) failed: %s",
                              n->op_type, domain, plugin, err[0] ? err : engine_status_str(st));
    for (int o = 0; o < n->n_outputs; ++o) {
        engine_value *v = n->outputs[o];
        if (!v) continue;
        if (v->rank < 0 || v->rank > ENGINE_MAX_RANK || engine_dtype_size(v->dtype) == 0)
            return eng_node_error(ctx, n, ENGINE_ERR_SHAPE,
                                  "shape function of plugin %s left output %d '%s' without a valid dtype and rank",
                                  plugin, o, v->name);
        int64_t dims[ENGINE_MAX_RANK];
        memcpy(dims, v->dims, sizeof dims);
        /* Re-set through the graph: checks dims >= 0 and the size overflow. */
        st = eng_value_set_shape(g, v, v->dtype, v->rank, dims);
        if (st) {
            char msg[ENG_ERRMSG_SIZE];
            snprintf(msg, sizeof msg, "%s", ctx->message);
            return eng_node_error(ctx, n, st, "plugin %s: %s", plugin, msg);
        }
    }
    return ENGINE_OK;
}
