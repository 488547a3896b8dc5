/* A deliberately wrong backend for testing engine-conformance --diverge: it
 * runs Relu (float32) and nothing else, and its Relu is off by a relative
 * 1e-3 on positive inputs (y = 1.001 x), ten times the cross-backend rtol.
 * Every other node falls back to ref, so on any model with a Relu node the
 * first divergence from ref must be the first Relu, and nothing before it.
 * Not installed; built for the conformance tests only. */
#include <stdio.h>
#include <string.h>

#include "engine/backend.h"

typedef struct program {
    int n;
    const engine_node *const *nodes;
    int n_in, n_out;
    engine_value *const *inputs;
    engine_value *const *outputs;
} program;

typedef struct state {
    engine_allocator a;
} state;

static engine_status create(const engine_backend_config *cfg, void **out, char *err, size_t err_size) {
    state *s = cfg->allocator.alloc(cfg->allocator.user, sizeof *s, 16);
    if (!s) {
        snprintf(err, err_size, "out of memory");
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    s->a = cfg->allocator;
    *out = s;
    return ENGINE_OK;
}

static void destroy(void *st) {
    state *s = st;
    s->a.free(s->a.user, s);
}

/* Below ref (10): "auto" never picks it. */
static int score(void *st) {
    (void)st;
    return 1;
}

static const char *describe(void *st) {
    (void)st;
    return "test backend: Relu only, off by 1e-3 relative (for --diverge tests)";
}

static int supports(void *st, const engine_node *n) {
    (void)st;
    return n->op == ENGINE_OP_Relu && n->inputs[0]->dtype == ENGINE_DTYPE_F32;
}

static engine_status compile(void *st, const engine_partition *p, void **out, char *err, size_t err_size) {
    state *s = st;
    program *pr = s->a.alloc(s->a.user, sizeof *pr, 16);
    if (!pr) {
        snprintf(err, err_size, "out of memory");
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    pr->n = p->n_nodes;
    pr->nodes = p->nodes;
    pr->n_in = p->n_inputs;
    pr->n_out = p->n_outputs;
    pr->inputs = p->inputs;
    pr->outputs = p->outputs;
    *out = pr;
    return ENGINE_OK;
}

/* Partition inputs and outputs only: a chain of Relus inside one partition
 * reads its predecessor's output, which is a partition output whenever the
 * session keeps intermediates (the --diverge case) or a later partition
 * reads it. */
static const float *find(const program *pr, const engine_value *v, const void *const *in, void *const *out) {
    for (int k = 0; k < pr->n_in; ++k)
        if (pr->inputs[k] == v) return in[k];
    for (int k = 0; k < pr->n_out; ++k)
        if (pr->outputs[k] == v) return out[k];
    return NULL;
}

static engine_status run(void *st, void *prog, const void *const *in, void *const *out, engine_timing_fn timing,
                         void *timing_user, char *err, size_t err_size) {
    (void)st;
    program *pr = prog;
    for (int k = 0; k < pr->n; ++k) {
        const engine_node *n = pr->nodes[k];
        const float *x = find(pr, n->inputs[0], in, out);
        float *y = (float *)find(pr, n->outputs[0], in, out);
        if (!x || !y) {
            snprintf(err, err_size, "node '%s' (Relu): intermediate values are not supported by this test backend",
                     n->name);
            return ENGINE_ERR_BACKEND;
        }
        int64_t count = engine_value_numel(n->outputs[0]);
        for (int64_t i = 0; i < count; ++i) y[i] = x[i] > 0 ? x[i] * 1.001f : 0;
        if (timing) timing(timing_user, k, 0.0, 0.0);
    }
    return ENGINE_OK;
}

static void release(void *st, void *prog) {
    state *s = st;
    s->a.free(s->a.user, prog);
}

static const engine_backend_iface iface = {
    .abi_version = ENGINE_BACKEND_ABI_VERSION,
    .struct_size = sizeof(engine_backend_iface),
    .name = "skew",
    .create = create,
    .destroy = destroy,
    .score = score,
    .describe = describe,
    .supports = supports,
    .compile = compile,
    .run = run,
    .release = release,
};

__attribute__((visibility("default"))) const engine_backend_iface *engine_backend_entry(void);
const engine_backend_iface *engine_backend_entry(void) {
    return &iface;
}
