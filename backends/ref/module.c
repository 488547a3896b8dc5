/* backends/ref/module.c - the reference backend module (engine-backend-ref.so).
 *
 * compile resolves, once, where every node input and output lives:
 *   - a constant (value->data),
 *   - a partition input or output (the caller's buffers, bound at run),
 *   - an internal value, placed in one arena by a liveness-based first-fit
 *     plan: a buffer is live from the node that writes it to the last node
 *     that reads it, and buffers whose lifetimes do not overlap share bytes.
 * run then only gathers pointers and calls the kernels: nothing is
 * allocated per run.
 *
 * A node whose outputs are all constants (shape inference already knows
 * them) is skipped. A constant output of a node that still runs gets a
 * scratch slot, since constants are never written. The module uses no
 * libengine symbol, so it loads whatever exports the host has. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/alias.h"
#include "engine/backend.h"
#include "engine/storage.h"
#include "ref_kernels.h"

#define REF_EXPORT __attribute__((visibility("default")))
#define REF_ALIGN 64u

typedef struct ref_state {
    engine_allocator a;
    const engine_host_services *host;
} ref_state;

typedef struct ref_step {
    const engine_node *node;
    ref_kernel_fn fn;
    int first_slot; /* n_inputs slots, then n_outputs slots */
    int skip;
} ref_step;

typedef struct ref_program {
    int n_steps;
    ref_step *steps;
    engine_slot *slots;
    const void **in_ptrs;
    void **out_ptrs;
    int n_copies;
    engine_storage_copy *copies;
    uint8_t *arena;
    size_t arena_size;
} ref_program;

/* ---- small local helpers (no libengine symbols) ---- */

static const char *status_str(engine_status s) {
    switch (s) {
    case ENGINE_OK: return "ok";
    case ENGINE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ENGINE_ERR_OUT_OF_MEMORY: return "out of memory";
    case ENGINE_ERR_IO: return "i/o error";
    case ENGINE_ERR_PARSE: return "parse error";
    case ENGINE_ERR_INVALID_MODEL: return "invalid model";
    case ENGINE_ERR_UNSUPPORTED: return "unsupported";
    case ENGINE_ERR_SHAPE: return "shape error";
    case ENGINE_ERR_BACKEND: return "backend error";
    case ENGINE_ERR_NOT_FOUND: return "not found";
    case ENGINE_ERR_ABI: return "ABI version mismatch";
    case ENGINE_ERR_SECURITY: return "refused for safety";
    case ENGINE_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

static const char *dtype_name(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_F32: return "float32";
    case ENGINE_DTYPE_U8: return "uint8";
    case ENGINE_DTYPE_I8: return "int8";
    case ENGINE_DTYPE_I32: return "int32";
    case ENGINE_DTYPE_I64: return "int64";
    case ENGINE_DTYPE_BOOL: return "bool";
    case ENGINE_DTYPE_F16: return "float16";
    case ENGINE_DTYPE_F64: return "float64";
    case ENGINE_DTYPE_UNDEFINED: break;
    }
    return "undefined";
}

static void set_err(char *err, size_t err_size, const char *fmt, const char *a, const char *b, const char *c) {
    if (err && err_size) snprintf(err, err_size, fmt, a, b, c);
}

static void node_err(char *err, size_t err_size, const engine_node *n, const char *what) {
    set_err(err, err_size, "node '%s' (%s): %s", n->name ? n->name : "?", n->op_type ? n->op_type : "?", what);
}

/* Why ref_supports refused a node, in words. */
static void unsupported_reason(const engine_node *n, char *buf, size_t size) {
    if (n->plugin) {
        snprintf(buf, size, "the plugin op has no host kernel");
        return;
    }
    if (!ref_kernel_for(n->op)) {
        snprintf(buf, size, "unknown op");
        return;
    }
    size_t len = (size_t)snprintf(buf, size, "dtypes (");
    for (int pass = 0; pass < 2 && len < size; ++pass) {
        int count = pass ? n->n_outputs : n->n_inputs;
        engine_value *const *vs = pass ? n->outputs : n->inputs;
        for (int k = 0; k < count && len < size; ++k) {
            const engine_value *v = vs[k];
            len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? ", " : "",
                                    v ? dtype_name(v->dtype) : "-");
        }
        if (len < size) len += (size_t)snprintf(buf + len, size - len, pass ? ")" : ") -> (");
    }
    if (len < size) snprintf(buf + len, size - len, " or params/ranks not handled");
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void *xalloc(ref_state *s, size_t size, size_t align) {
    return s->a.alloc(s->a.user, size ? size : 1, align);
}

static void xfree(ref_state *s, void *p) {
    if (p) s->a.free(s->a.user, p);
}

/* ---- the interface ---- */

static engine_status ref_create(const engine_backend_config *config, void **state, char *err, size_t err_size) {
    if (!config || !state || !config->allocator.alloc || !config->allocator.free || !config->host ||
        config->host->struct_size < offsetof(engine_host_services, constant_consumed) || !config->host->plan_arena) {
        set_err(err, err_size, "ref: %s%s%s", "no allocator or host services in the backend config", "", "");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    ref_state *s = config->allocator.alloc(config->allocator.user, sizeof *s, _Alignof(ref_state));
    if (!s) {
        set_err(err, err_size, "ref: %s%s%s", "out of memory", "", "");
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    s->a = config->allocator;
    s->host = config->host;
    *state = s;
    return ENGINE_OK;
}

static void ref_destroy(void *state) {
    ref_state *s = state;
    if (s) s->a.free(s->a.user, s);
}

static int ref_score(void *state) {
    (void)state;
    return 10;
}

static const char *ref_describe(void *state) {
    (void)state;
    return "reference C kernels (float32, single thread)";
}

static int ref_supports_iface(void *state, const engine_node *node) {
    (void)state;
    return ref_supports(node);
}

static void program_free(ref_state *s, ref_program *p) {
    if (!p) return;
    xfree(s, p->steps);
    xfree(s, p->slots);
    xfree(s, (void *)p->in_ptrs);
    xfree(s, p->out_ptrs);
    xfree(s, p->copies);
    xfree(s, p->arena);
    xfree(s, p);
}

static void ref_release(void *state, void *program) {
    program_free(state, program);
}

static engine_status ref_program_stats(void *state, void *program, engine_program_stats *stats) {
    (void)state;
    const ref_program *p = program;
    if (!p || !stats) return ENGINE_ERR_INVALID_ARGUMENT;
    memset(stats, 0, sizeof *stats);
    stats->arena_bytes = p->arena_size;
    return ENGINE_OK;
}

static engine_status ref_compile(void *state, const engine_partition *part, void **program, char *err,
                                 size_t err_size) {
    ref_state *s = state;
    engine_status st = ENGINE_OK;
    ref_program *p = NULL;
    engine_storage sp;
    memset(&sp, 0, sizeof sp);
    sp.a = &s->a;
    char reason[256];

    if (!s || !part || !program || part->n_nodes < 0 || (part->n_nodes > 0 && !part->nodes)) {
        set_err(err, err_size, "ref: %s%s%s", "bad partition", "", "");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    int n_slots = 0, max_in = 1, max_out = 1;
    for (int k = 0; k < part->n_nodes; ++k) {
        const engine_node *n = part->nodes[k];
        if (!ref_supports(n)) {
            unsupported_reason(n, reason, sizeof reason);
            char what[320];
            snprintf(what, sizeof what, "not supported by ref: %s", reason);
            node_err(err, err_size, n, what);
            return ENGINE_ERR_UNSUPPORTED;
        }
        n_slots += n->n_inputs + n->n_outputs;
        if (n->n_inputs > max_in) max_in = n->n_inputs;
        if (n->n_outputs > max_out) max_out = n->n_outputs;
    }

    p = xalloc(s, sizeof *p, _Alignof(ref_program));
    if (!p) goto oom;
    memset(p, 0, sizeof *p);
    p->n_steps = part->n_nodes;
    p->steps = xalloc(s, sizeof *p->steps * (size_t)(part->n_nodes + 1), _Alignof(ref_step));
    p->slots = xalloc(s, sizeof *p->slots * (size_t)(n_slots + 1), _Alignof(engine_slot));
    p->in_ptrs = xalloc(s, sizeof *p->in_ptrs * (size_t)max_in, _Alignof(void *));
    p->out_ptrs = xalloc(s, sizeof *p->out_ptrs * (size_t)max_out, _Alignof(void *));
    p->copies = xalloc(s, sizeof *p->copies * (size_t)(part->n_outputs + 1), _Alignof(engine_storage_copy));
    if (!p->steps || !p->slots || !p->in_ptrs || !p->out_ptrs || !p->copies) goto oom;
    /* where every value lives (engine/storage.h): a buffer per output at most */
    if (engine_storage_init(&sp, &s->a, part, REF_ALIGN, n_slots + 1)) goto oom;

    int slot = 0;
    for (int k = 0; k < part->n_nodes; ++k) {
        const engine_node *n = part->nodes[k];
        ref_step *step = &p->steps[k];
        step->node = n;
        step->fn = ref_kernel_for_node(n);
        step->first_slot = slot;
        /* Skip a node whose every output is already a constant. */
        int n_present = 0, n_const = 0;
        for (int j = 0; j < n->n_outputs; ++j)
            if (n->outputs[j]) {
                ++n_present;
                n_const += n->outputs[j]->data != NULL;
            }
        step->skip = n_present > 0 && n_const == n_present;

        for (int j = 0; j < n->n_inputs; ++j)
            if (!engine_storage_input(&sp, n->inputs[j], 0, k, step->skip, &p->slots[slot++])) {
                const engine_value *v = sp.missing;
                set_err(err, err_size, "node '%s' (%s): input '%s' is not produced before it is used",
                        n->name ? n->name : "?", n->op_type ? n->op_type : "?", v && v->name ? v->name : "?");
                st = ENGINE_ERR_INVALID_MODEL;
                goto fail;
            }
        for (int j = 0; j < n->n_outputs; ++j) {
            st = engine_storage_output(&sp, n->outputs[j], k, step->skip, 0, &p->slots[slot++]);
            if (st) {
                node_err(err, err_size, n, "output shape too large or invalid");
                goto fail;
            }
        }
    }

    /* Partition outputs that no node writes. */
    const int unfilled = engine_storage_copies(&sp, p->copies, &p->n_copies);
    if (unfilled >= 0) {
        const engine_value *v = part->outputs[unfilled];
        set_err(err, err_size, "ref: partition output '%s' is not produced%s%s", v && v->name ? v->name : "?", "", "");
        st = ENGINE_ERR_INVALID_MODEL;
        goto fail;
    }

    st = engine_storage_plan(&sp, s->host, &p->arena_size);
    if (st == ENGINE_ERR_OUT_OF_MEMORY) goto oom;
    if (st) {
        set_err(err, err_size, "ref: %s%s%s", "memory plan failed (buffer sizes overflow)", "", "");
        goto fail;
    }
    for (int k = 0; k < slot; ++k) engine_storage_place(&sp, &p->slots[k]);
    if (p->arena_size) {
        p->arena = xalloc(s, p->arena_size, REF_ALIGN);
        if (!p->arena) goto oom;
    }

    engine_storage_free(&sp);
    *program = p;
    return ENGINE_OK;

oom:
    set_err(err, err_size, "ref: %s%s%s", "out of memory while compiling", "", "");
    st = ENGINE_ERR_OUT_OF_MEMORY;
fail:
    engine_storage_free(&sp);
    program_free(s, p);
    return st;
}

static engine_status ref_run(void *state, void *program, const void *const *inputs, void *const *outputs,
                             engine_timing_fn timing, void *timing_user, char *err, size_t err_size) {
    (void)state;
    ref_program *p = program;
    if (!p) {
        set_err(err, err_size, "ref: %s%s%s", "no program", "", "");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    double t0 = timing ? now_ms() : 0.0;
    for (int k = 0; k < p->n_steps; ++k) {
        const ref_step *step = &p->steps[k];
        const engine_node *n = step->node;
        const engine_slot *sl = &p->slots[step->first_slot];
        double start = timing ? now_ms() : 0.0;
        if (!step->skip) {
            for (int j = 0; j < n->n_inputs; ++j, ++sl) p->in_ptrs[j] = engine_slot_in(sl, inputs, outputs, p->arena);
            for (int j = 0; j < n->n_outputs; ++j, ++sl) p->out_ptrs[j] = engine_slot_out(sl, outputs, p->arena);
            engine_status st = step->fn(n, p->in_ptrs, p->out_ptrs);
            if (st != ENGINE_OK) {
                node_err(err, err_size, n, ref_kernel_failure(n, st) ? ref_kernel_failure(n, st) : status_str(st));
                return st;
            }
        }
        if (timing) {
            double end = now_ms();
            timing(timing_user, k, start - t0, end - start);
        }
    }
    engine_storage_run_copies(p->copies, p->n_copies, inputs, outputs);
    return ENGINE_OK;
}

static const engine_backend_iface ref_iface = {
    .abi_version = ENGINE_BACKEND_ABI_VERSION,
    .struct_size = sizeof(engine_backend_iface),
    .name = "ref",
    .create = ref_create,
    .destroy = ref_destroy,
    .score = ref_score,
    .describe = ref_describe,
    .supports = ref_supports_iface,
    .compile = ref_compile,
    .run = ref_run,
    .release = ref_release,
    .program_stats = ref_program_stats,
};

REF_EXPORT const engine_backend_iface *engine_backend_entry(void);

REF_EXPORT const engine_backend_iface *engine_backend_entry(void) {
    return &ref_iface;
}
