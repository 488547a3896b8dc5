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
#include "ref_kernels.h"

#define REF_EXPORT __attribute__((visibility("default")))
#define REF_ALIGN 64u

typedef struct ref_state {
    engine_allocator a;
    const engine_host_services *host;
} ref_state;

enum { SLOT_NONE, SLOT_CONST, SLOT_INPUT, SLOT_OUTPUT, SLOT_ARENA };

typedef struct ref_slot {
    int kind;
    int index;          /* SLOT_INPUT/SLOT_OUTPUT: partition position; SLOT_ARENA: buffer id */
    size_t offset;      /* SLOT_ARENA: byte offset in the arena */
    const void *cdata;  /* SLOT_CONST */
    size_t alias_off;   /* SLOT_ARENA/SLOT_OUTPUT: offset inside the alias root's storage (ir.h) */
} ref_slot;

typedef struct ref_step {
    const engine_node *node;
    ref_kernel_fn fn;
    int first_slot; /* n_inputs slots, then n_outputs slots */
    int skip;
} ref_step;

/* A partition output no node writes: copied from a constant or an input. */
typedef struct ref_copy {
    int out_index;
    int in_index;      /* -1: from cdata */
    const void *cdata;
    size_t nbytes;
} ref_copy;

typedef struct ref_program {
    int n_steps;
    ref_step *steps;
    ref_slot *slots;
    const void **in_ptrs;
    void **out_ptrs;
    int n_copies;
    ref_copy *copies;
    uint8_t *arena;
    size_t arena_size;
} ref_program;

/* A buffer of the memory plan (planned by the engine's shared planner). */
typedef struct ref_buf {
    const engine_value *value; /* NULL for a scratch slot */
    size_t size;
    int def, last;
    size_t offset;
} ref_buf;

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

static size_t dtype_size(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_BOOL: return 1;
    case ENGINE_DTYPE_F16: return 2;
    case ENGINE_DTYPE_F32: case ENGINE_DTYPE_I32: return 4;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_F64: return 8;
    case ENGINE_DTYPE_UNDEFINED: break;
    }
    return 0;
}

/* Bytes of a value; 0 with *ok = 0 on overflow or a bad shape. */
static size_t value_bytes(const engine_value *v, int *ok) {
    size_t total = dtype_size(v->dtype);
    *ok = total != 0 && v->rank >= 0 && v->rank <= ENGINE_MAX_RANK;
    for (int d = 0; *ok && d < v->rank; ++d) {
        if (v->dims[d] < 0) *ok = 0;
        else if (v->dims[d] != 0 && total > SIZE_MAX / 2 / (size_t)v->dims[d]) *ok = 0;
        else total *= (size_t)v->dims[d];
    }
    return *ok ? total : 0;
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

static int find_value(engine_value *const *list, int count, const engine_value *v) {
    for (int k = 0; k < count; ++k)
        if (list[k] == v) return k;
    return -1;
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
        config->host->struct_size < sizeof(engine_host_services) || !config->host->plan_arena) {
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
    ref_buf *bufs = NULL;
    engine_plan_buffer *plan = NULL;
    int *produced = NULL;
    int n_bufs = 0;
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
    p->slots = xalloc(s, sizeof *p->slots * (size_t)(n_slots + 1), _Alignof(ref_slot));
    p->in_ptrs = xalloc(s, sizeof *p->in_ptrs * (size_t)max_in, _Alignof(void *));
    p->out_ptrs = xalloc(s, sizeof *p->out_ptrs * (size_t)max_out, _Alignof(void *));
    p->copies = xalloc(s, sizeof *p->copies * (size_t)(part->n_outputs + 1), _Alignof(ref_copy));
    bufs = xalloc(s, sizeof *bufs * (size_t)(n_slots + 1), _Alignof(ref_buf));
    plan = xalloc(s, sizeof *plan * (size_t)(n_slots + 1), _Alignof(engine_plan_buffer));
    produced = xalloc(s, sizeof *produced * (size_t)(part->n_outputs + 1), _Alignof(int));
    if (!p->steps || !p->slots || !p->in_ptrs || !p->out_ptrs || !p->copies || !bufs || !plan || !produced)
        goto oom;
    memset(produced, 0, sizeof *produced * (size_t)(part->n_outputs + 1));

    /* A value whose alias chain is honoured here lives in its root's
     * storage (one plan buffer, or the caller's output buffer) at alias_off;
     * the root's buffer is made at the first write of any member and lives
     * to the last read of any member. */
    const engine_alias_query aq = engine_alias_partition_query(part);
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

        for (int j = 0; j < n->n_inputs; ++j) {
            const engine_value *v = n->inputs[j];
            ref_slot *sl = &p->slots[slot++];
            memset(sl, 0, sizeof *sl);
            int idx;
            if (!v) {
                sl->kind = SLOT_NONE;
            } else if (v->data) {
                sl->kind = SLOT_CONST;
                sl->cdata = v->data;
            } else if ((idx = find_value(part->inputs, part->n_inputs, v)) >= 0) {
                sl->kind = SLOT_INPUT;
                sl->index = idx;
            } else {
                size_t aoff;
                const engine_value *r = engine_alias_resolve(v, &aq, &aoff);
                int b;
                for (b = n_bufs - 1; b >= 0; --b)
                    if (bufs[b].value == r) break;
                if (b >= 0) {
                    sl->kind = SLOT_ARENA;
                    sl->index = b;
                    sl->alias_off = aoff;
                    if (!step->skip) bufs[b].last = k;
                } else if ((idx = find_value(part->outputs, part->n_outputs, r)) >= 0 && (produced[idx] || r != v)) {
                    sl->kind = SLOT_OUTPUT;
                    sl->index = idx;
                    sl->alias_off = aoff;
                } else {
                    set_err(err, err_size, "node '%s' (%s): input '%s' is not produced before it is used",
                            n->name ? n->name : "?", n->op_type ? n->op_type : "?", v->name ? v->name : "?");
                    st = ENGINE_ERR_INVALID_MODEL;
                    goto fail;
                }
            }
        }
        for (int j = 0; j < n->n_outputs; ++j) {
            const engine_value *v = n->outputs[j];
            ref_slot *sl = &p->slots[slot++];
            memset(sl, 0, sizeof *sl);
            int idx;
            if (!v || step->skip) {
                sl->kind = SLOT_NONE;
                continue;
            }
            size_t aoff = 0;
            const engine_value *r = v->data ? v : engine_alias_resolve(v, &aq, &aoff);
            if (!r->data && (idx = find_value(part->outputs, part->n_outputs, r)) >= 0) {
                sl->kind = SLOT_OUTPUT;
                sl->index = idx;
                sl->alias_off = aoff;
                if (r == v) produced[idx] = 1;
                continue;
            }
            if (!v->data) {
                int b;
                for (b = n_bufs - 1; b >= 0; --b)
                    if (bufs[b].value == r) break;
                if (b >= 0) { /* another member of the chain made the root's buffer */
                    sl->kind = SLOT_ARENA;
                    sl->index = b;
                    sl->alias_off = aoff;
                    if (bufs[b].last < k) bufs[b].last = k;
                    continue;
                }
            }
            /* An internal value (or the root of its chain), or scratch for
             * a constant output (never read: readers use data). */
            int ok;
            size_t size = value_bytes(r, &ok);
            if (!ok || size > SIZE_MAX / 4) {
                node_err(err, err_size, n, "output shape too large or invalid");
                st = ENGINE_ERR_SHAPE;
                goto fail;
            }
            size = (size + REF_ALIGN - 1) / REF_ALIGN * REF_ALIGN;
            if (size == 0) size = REF_ALIGN;
            bufs[n_bufs] = (ref_buf){v->data ? NULL : r, size, k, k, 0};
            sl->kind = SLOT_ARENA;
            sl->alias_off = aoff;
            sl->index = n_bufs++;
        }
    }

    /* Partition outputs that no node writes. */
    for (int j = 0; j < part->n_outputs; ++j) {
        const engine_value *v = part->outputs[j];
        if (produced[j]) continue;
        int ok, idx = -1;
        size_t nbytes = v ? value_bytes(v, &ok) : (ok = 0);
        if (ok && !v->data) idx = find_value(part->inputs, part->n_inputs, v);
        if (!ok || (!v->data && idx < 0)) {
            set_err(err, err_size, "ref: partition output '%s' is not produced%s%s",
                    v && v->name ? v->name : "?", "", "");
            st = ENGINE_ERR_INVALID_MODEL;
            goto fail;
        }
        p->copies[p->n_copies++] = (ref_copy){j, v->data ? -1 : idx, v->data, nbytes};
    }

    for (int b = 0; b < n_bufs; ++b) plan[b] = (engine_plan_buffer){bufs[b].size, bufs[b].def, bufs[b].last, 0};
    st = s->host->plan_arena(&s->a, plan, n_bufs, REF_ALIGN, &p->arena_size);
    if (st == ENGINE_ERR_OUT_OF_MEMORY) goto oom;
    if (st) {
        set_err(err, err_size, "ref: %s%s%s", "memory plan failed (buffer sizes overflow)", "", "");
        goto fail;
    }
    for (int b = 0; b < n_bufs; ++b) bufs[b].offset = plan[b].offset;
    if (p->arena_size) {
        p->arena = xalloc(s, p->arena_size, REF_ALIGN);
        if (!p->arena) goto oom;
    }
    for (int k = 0; k < slot; ++k)
        if (p->slots[k].kind == SLOT_ARENA) p->slots[k].offset = bufs[p->slots[k].index].offset + p->slots[k].alias_off;

    xfree(s, bufs);
    xfree(s, plan);
    xfree(s, produced);
    *program = p;
    return ENGINE_OK;

oom:
    set_err(err, err_size, "ref: %s%s%s", "out of memory while compiling", "", "");
    st = ENGINE_ERR_OUT_OF_MEMORY;
fail:
    xfree(s, bufs);
    xfree(s, plan);
    xfree(s, produced);
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
        const ref_slot *sl = &p->slots[step->first_slot];
        double start = timing ? now_ms() : 0.0;
        if (!step->skip) {
            for (int j = 0; j < n->n_inputs; ++j, ++sl) {
                switch (sl->kind) {
                case SLOT_CONST: p->in_ptrs[j] = sl->cdata; break;
                case SLOT_INPUT: p->in_ptrs[j] = inputs[sl->index]; break;
                case SLOT_OUTPUT: p->in_ptrs[j] = (const uint8_t *)outputs[sl->index] + sl->alias_off; break;
                case SLOT_ARENA: p->in_ptrs[j] = p->arena + sl->offset; break;
                default: p->in_ptrs[j] = NULL; break;
                }
            }
            for (int j = 0; j < n->n_outputs; ++j, ++sl) {
                switch (sl->kind) {
                case SLOT_OUTPUT: p->out_ptrs[j] = (uint8_t *)outputs[sl->index] + sl->alias_off; break;
                case SLOT_ARENA: p->out_ptrs[j] = p->arena + sl->offset; break;
                default: p->out_ptrs[j] = NULL; break;
                }
            }
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
    for (int c = 0; c < p->n_copies; ++c) {
        const ref_copy *cp = &p->copies[c];
        const void *src = cp->in_index >= 0 ? inputs[cp->in_index] : cp->cdata;
        if (cp->nbytes && src != outputs[cp->out_index]) memmove(outputs[cp->out_index], src, cp->nbytes);
    }
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
