/* session.c - placement of nodes on backends, partitions, seam buffers, runs.
 *
 * Placement walks the nodes in topological order and gives each one to the
 * first backend in the priority list that supports it. With strict set,
 * every node must go to the first backend. Consecutive nodes on the same
 * backend form a partition; each partition is compiled by its backend.
 * Activations crossing a partition boundary (the seams) live in host
 * buffers owned by the session (one arena, allocated at creation); graph
 * inputs and outputs are read from and written to the caller's buffers
 * directly. Nothing is allocated per run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer.h"
#include "model.h"
#include "ref_kernels.h"

typedef struct partition_rt {
    eng_binst *backend;
    engine_partition part;
    const engine_node **nodes;
    engine_value **inputs;
    engine_value **outputs;
    void *program;
    const void **in_ptrs;
    void **out_ptrs;
    int first_node; /* index in the graph's node list */
} partition_rt;

/* One compiled signature: the graph (the model's own for a static model,
 * a specialised copy for a dynamic one), its placement, partitions and
 * seam buffers. */
typedef struct eng_spec {
    eng_graph *graph;
    int owns_graph;
    eng_spec_graph info; /* folded count and pass figures (dynamic models) */
    /* The signature: every input's dims, then the bytes of the value
     * inputs, compared exactly. */
    int64_t (*key_dims)[ENGINE_MAX_RANK];
    unsigned char *key_vals;
    size_t key_vals_bytes;
    eng_binst **placement; /* per graph node */
    partition_rt *parts;
    int n_parts;
    /* Host buffers: value index -> pointer for this run. */
    void **slot;
    unsigned char *arena;
    size_t arena_bytes;
    size_t *arena_offset; /* per value, SIZE_MAX when not in the arena */
    int copies;
    size_t copy_bytes;
    engine_node_timing *timings;
    size_t bytes;      /* what it holds, for the cache bound */
    size_t weight_bytes; /* packed by its compiles */
    double build_ms;
    int ran;           /* a run has completed: slots hold its values */
    struct eng_stage *stage; /* nodes wait for data: the run goes in stages (below) */
    struct eng_spec *newer, *older; /* the cache's recency list */
    eng_wuses wuses; /* its uses of the model's file-backed weights (weights.h) */
} eng_spec;

struct engine_session {
    engine_model *model;
    engine_context *ctx;
    eng_binst **order; /* priority order of usable backends */
    int n_order;
    int strict;
    int profile;
    int keep_all; /* keep_intermediates: every produced value is a seam */
    int keep_weights; /* never releases the model's weights (weights.h) */
    eng_spec *cur;      /* the current signature (most recently used) */
    eng_spec *oldest;   /* the least recently used */
    int n_specs, max_specs;
    size_t spec_bytes, max_spec_bytes;
    long long hits, misses, evictions;
    double last_build_ms;
    double run_start_ms;
    eng_spec *timing_spec;
    int timing_part;
    /* engine_session_run_tensors: outputs the session provides. */
    void **out_store;
    size_t *out_store_bytes;
    /* scratch for one signature */
    int64_t (*want_dims)[ENGINE_MAX_RANK];
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

const char *eng_session_node_backend(const engine_session *s, const engine_node *n);
const char *eng_session_node_backend(const engine_session *s, const engine_node *n) {
    const eng_spec *sp = s ? s->cur : NULL;
    if (!sp || n->index < 0 || n->index >= sp->graph->n_nodes || sp->graph->nodes[n->index] != n) return NULL;
    return sp->placement[n->index] ? sp->placement[n->index]->mod->name : NULL;
}

/* The graph of the session's current signature (model.c's dumps), or NULL. */
const eng_graph *eng_session_graph(const engine_session *s, const eng_spec_graph **info);
const eng_graph *eng_session_graph(const engine_session *s, const eng_spec_graph **info) {
    if (!s || !s->cur) return NULL;
    if (info) *info = s->cur->owns_graph ? &s->cur->info : NULL;
    return s->cur->graph;
}

/* Resolves opts->backends into a priority list of created backends. */
static engine_status resolve_order(engine_session *s, const engine_session_options *o) {
    engine_context *ctx = s->ctx;
    const char *list = o->backends;
    int n = 0;
    if (ctx->n_backends == 0)
        return eng_error(ctx, ENGINE_ERR_NOT_FOUND, "no backend module is loaded (%s)",
                         ctx->rejections ? ctx->rejections : "none found; set ENGINE_BACKEND_PATH");
    if (list && list[0] && strcmp(list, "auto") != 0) {
        const char *p = list;
        while (*p) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char name[64];
            if (len == 0 || len >= sizeof name)
                return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "bad backend list '%s'", list);
            memcpy(name, p, len);
            name[len] = 0;
            eng_backend *found = NULL;
            eng_binst *inst = NULL;
            for (int k = 0; k < ctx->n_backends; ++k)
                if (strcmp(ctx->backends[k].name, name) == 0) found = &ctx->backends[k];
            if (!found) {
                char avail[256] = "";
                for (int k = 0; k < ctx->n_backends; ++k) {
                    strncat(avail, k ? ", " : "", sizeof avail - strlen(avail) - 1);
                    strncat(avail, ctx->backends[k].name, sizeof avail - strlen(avail) - 1);
                }
                return eng_error(ctx, ENGINE_ERR_NOT_FOUND, "backend '%s' is not loaded (loaded: %s)", name, avail);
            }
            engine_status st = eng_backend_ensure(ctx, found, o, &inst);
            if (st) {
                if (o->strict) return st;
                eng_log(ctx, ENGINE_LOG_WARN, "%s; falling back", ctx->message);
            } else {
                int dup = 0;
                for (int k = 0; k < n; ++k) dup |= s->order[k] == inst;
                if (!dup) s->order[n++] = inst;
            }
            if (!end) break;
            p = end + 1;
        }
        if (o->strict && n > 0) n = 1; /* strict: the first named backend only */
    }
    if (!o->strict || n == 0) {
        /* Then every other usable backend, best score first. */
        int start = n;
        for (int k = 0; k < ctx->n_backends; ++k) {
            eng_backend *b = &ctx->backends[k];
            int dup = 0;
            for (int j = 0; j < n; ++j) dup |= s->order[j]->mod == b;
            if (dup) continue;
            eng_binst *inst;
            if (eng_backend_ensure(ctx, b, o, &inst)) {
                eng_log(ctx, ENGINE_LOG_WARN, "%s", ctx->message);
                continue;
            }
            s->order[n++] = inst;
        }
        for (int a = start; a < n; ++a)
            for (int b = a + 1; b < n; ++b)
                if (s->order[b]->mod->iface->score(s->order[b]->state) >
                    s->order[a]->mod->iface->score(s->order[a]->state)) {
                    eng_binst *t = s->order[a];
                    s->order[a] = s->order[b];
                    s->order[b] = t;
                }
        if (o->strict && n > 1) n = 1;
    }
    if (n == 0) return eng_error(ctx, ENGINE_ERR_BACKEND, "no usable backend: %s", ctx->message);
    s->n_order = n;
    return ENGINE_OK;
}

static engine_status place(engine_session *s, eng_spec *sp) {
    eng_graph *g = sp->graph;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        for (int b = 0; b < s->n_order; ++b)
            if (s->order[b]->mod->iface->supports(s->order[b]->state, n)) {
                sp->placement[k] = s->order[b];
                break;
            }
        if (!sp->placement[k]) {
            if (s->strict)
                return eng_node_error(s->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                      "not supported by backend '%s' and --strict forbids falling back",
                                      s->order[0]->mod->name);
            return eng_node_error(s->ctx, n, ENGINE_ERR_UNSUPPORTED, "no loaded backend supports this node");
        }
    }
    return ENGINE_OK;
}

static int is_activation(const engine_value *v) {
    return v && !(v->flags & ENGINE_VALUE_CONST);
}

/* Builds partitions and their input/output lists; sizes the seam arena. */
static engine_status build_partitions(engine_session *s, eng_spec *sp) {
    engine_context *ctx = s->ctx;
    eng_graph *g = sp->graph;
    int nn = g->n_nodes;
    /* part_of[value] = partition producing it, -1 for graph inputs/consts. */
    int *part_of = eng_alloc(ctx, sizeof(int) * ((size_t)g->n_values + 1));
    int *node_part = eng_alloc(ctx, sizeof(int) * ((size_t)nn + 1));
    engine_status st = ENGINE_OK;
    if (!part_of || !node_part) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory building partitions");
        goto done;
    }
    int np = 0;
    for (int k = 0; k < nn; ++k) {
        if (k == 0 || sp->placement[k] != sp->placement[k - 1]) np++;
        node_part[k] = np - 1;
    }
    sp->parts = eng_calloc(ctx, (size_t)np + 1, sizeof *sp->parts);
    if (!sp->parts) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory building partitions");
        goto done;
    }
    sp->n_parts = np;
    for (int v = 0; v < g->n_values; ++v) part_of[v] = -1;
    for (int k = 0; k < nn; ++k)
        for (int o = 0; o < g->nodes[k]->n_outputs; ++o)
            if (g->nodes[k]->outputs[o]) part_of[g->nodes[k]->outputs[o]->index] = node_part[k];

    /* A produced value needs a host buffer if it is a graph output or read
     * by another partition. */
    unsigned char *seam = eng_calloc(ctx, (size_t)g->n_values + 1, 1);
    if (!seam) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory building partitions");
        goto done;
    }
    for (int k = 0; k < nn; ++k) {
        engine_node *n = g->nodes[k];
        for (int i = 0; i < n->n_inputs; ++i) {
            engine_value *v = n->inputs[i];
            if (is_activation(v) && part_of[v->index] >= 0 && part_of[v->index] != node_part[k]) {
                if (!seam[v->index]) {
                    sp->copies++;
                    sp->copy_bytes += engine_value_nbytes(v);
                }
                seam[v->index] = 1;
            }
        }
    }
    for (int k = 0; k < g->n_outputs; ++k) seam[g->outputs[k]->index] |= 2;
    /* keep_intermediates: every node output gets a host buffer. */
    if (s->keep_all)
        for (int k = 0; k < nn; ++k)
            for (int o = 0; o < g->nodes[k]->n_outputs; ++o)
                if (g->nodes[k]->outputs[o]) seam[g->nodes[k]->outputs[o]->index] |= 1;

    for (int p = 0; p < np; ++p) {
        partition_rt *pr = &sp->parts[p];
        int first = -1, count = 0;
        for (int k = 0; k < nn; ++k)
            if (node_part[k] == p) {
                if (first < 0) first = k;
                count++;
            }
        pr->first_node = first;
        pr->backend = sp->placement[first];
        pr->nodes = eng_calloc(ctx, (size_t)count, sizeof *pr->nodes);
        /* Upper bounds for the input and output lists. */
        int max_in = 0, max_out = 0;
        for (int k = first; k < first + count; ++k) {
            max_in += g->nodes[k]->n_inputs;
            max_out += g->nodes[k]->n_outputs;
        }
        pr->inputs = eng_calloc(ctx, (size_t)max_in + 1, sizeof *pr->inputs);
        pr->outputs = eng_calloc(ctx, (size_t)max_out + 1, sizeof *pr->outputs);
        pr->in_ptrs = eng_calloc(ctx, (size_t)max_in + 1, sizeof *pr->in_ptrs);
        pr->out_ptrs = eng_calloc(ctx, (size_t)max_out + 1, sizeof *pr->out_ptrs);
        if (!pr->nodes || !pr->inputs || !pr->outputs || !pr->in_ptrs || !pr->out_ptrs) {
            eng_free(ctx, seam);
            st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory building partitions");
            goto done;
        }
        int ni = 0, no = 0;
        for (int k = first; k < first + count; ++k) {
            engine_node *n = g->nodes[k];
            pr->nodes[k - first] = n;
            for (int i = 0; i < n->n_inputs; ++i) {
                engine_value *v = n->inputs[i];
                if (!is_activation(v) || part_of[v->index] == p) continue;
                int dup = 0;
                for (int j = 0; j < ni; ++j) dup |= pr->inputs[j] == v;
                if (!dup) pr->inputs[ni++] = v;
            }
            for (int o = 0; o < n->n_outputs; ++o) {
                engine_value *v = n->outputs[o];
                if (v && seam[v->index]) pr->outputs[no++] = v;
            }
        }
        pr->part.nodes = pr->nodes;
        pr->part.n_nodes = count;
        pr->part.inputs = pr->inputs;
        pr->part.n_inputs = ni;
        pr->part.outputs = pr->outputs;
        pr->part.n_outputs = no;
    }

    /* Arena for seam values that are not graph outputs (those go straight
     * to the caller's buffers). Simple bump layout; seams are few. */
    size_t off = 0;
    for (int v = 0; v < g->n_values; ++v) {
        sp->arena_offset[v] = SIZE_MAX;
        if (seam[v] == 1) {
            sp->arena_offset[v] = off;
            off += (engine_value_nbytes(g->values[v]) + 63) & ~(size_t)63;
        }
    }
    eng_free(ctx, seam);
    sp->arena_bytes = off;
    if (off) {
        sp->arena = eng_alloc(ctx, off);
        if (!sp->arena) {
            st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory allocating %zu bytes of seam buffers", off);
            goto done;
        }
    }
done:
    eng_free(ctx, part_of);
    eng_free(ctx, node_part);
    return st;
}

/* Compiles every partition; on failure *failed is the backend that failed. */
static engine_status compile_all(engine_session *s, eng_spec *sp, eng_binst **failed) {
    for (int p = 0; p < sp->n_parts; ++p) {
        partition_rt *pr = &sp->parts[p];
        char err[1024] = "";
        /* what the backend packs and reports consumed may be released (weights.h) */
        if (!s->keep_weights) eng_weights_compiling(&s->model->weights, &sp->wuses);
        engine_status st =
            pr->backend->mod->iface->compile(pr->backend->state, &pr->part, &pr->program, err, sizeof err);
        eng_weights_compiled();
        if (st) {
            pr->program = NULL;
            *failed = pr->backend;
            return eng_error(s->ctx, st, "backend '%s' failed to compile: %s", pr->backend->mod->name,
                             err[0] ? err : engine_status_str(st));
        }
    }
    return ENGINE_OK;
}

/* Releases the partitions, their programs and the seam arena, and clears
 * the placement (so that placement can run again). */
static void free_partitions(engine_session *s, eng_spec *sp) {
    engine_context *ctx = s->ctx;
    for (int p = 0; p < sp->n_parts; ++p) {
        partition_rt *pr = &sp->parts[p];
        if (pr->program) pr->backend->mod->iface->release(pr->backend->state, pr->program);
        eng_free(ctx, pr->nodes);
        eng_free(ctx, pr->inputs);
        eng_free(ctx, pr->outputs);
        eng_free(ctx, pr->in_ptrs);
        eng_free(ctx, pr->out_ptrs);
    }
    eng_free(ctx, sp->parts);
    eng_free(ctx, sp->arena);
    sp->parts = NULL;
    sp->n_parts = 0;
    sp->arena = NULL;
    sp->arena_bytes = 0;
    sp->copies = 0;
    sp->copy_bytes = 0;
    if (sp->placement) memset(sp->placement, 0, sizeof *sp->placement * ((size_t)sp->graph->n_nodes + 1));
}

static void stage_free(engine_session *s, struct eng_stage *stg);

static void spec_free(engine_session *s, eng_spec *sp) {
    if (!sp) return;
    engine_context *ctx = s->ctx;
    stage_free(s, sp->stage); /* before the graph its tail borrows from */
    if (sp->graph) free_partitions(s, sp);
    eng_weights_end(ctx, &s->model->weights, &sp->wuses);
    eng_free(ctx, sp->placement);
    eng_free(ctx, sp->slot);
    eng_free(ctx, sp->arena_offset);
    eng_free(ctx, sp->timings);
    eng_free(ctx, sp->key_dims);
    eng_free(ctx, sp->key_vals);
    if (sp->owns_graph) eng_graph_free(sp->graph);
    eng_free(ctx, sp);
}

/* What every compiled partition of sp reports (backend.h,
 * engine_program_stats), summed into out (zeroed first). */
static void spec_stats(const eng_spec *sp, engine_session_stats *out) {
    memset(out, 0, sizeof *out);
    out->seam_bytes = sp->arena_bytes;
    out->n_partitions = sp->n_parts;
    for (int k = 0; k < sp->n_parts; ++k) {
        const partition_rt *pr = &sp->parts[k];
        const engine_backend_iface *it = pr->backend->mod->iface;
        engine_program_stats ps;
        memset(&ps, 0, sizeof ps);
        if (!it->program_stats || !pr->program || it->program_stats(pr->backend->state, pr->program, &ps)) continue;
        out->arena_bytes += ps.arena_bytes;
        out->weight_bytes += ps.weight_bytes;
        out->device_bytes += ps.device_bytes;
        out->compile_ms += ps.compile_ms;
        out->kernels_from_cache += ps.kernels_from_cache;
        out->kernels_built += ps.kernels_built;
    }
}

/* The bytes sp holds, for the cache bound; records what it packed. */
static double spec_footprint(eng_spec *sp) {
    engine_session_stats st;
    spec_stats(sp, &st);
    sp->weight_bytes = st.weight_bytes;
    return (double)st.seam_bytes + (double)st.arena_bytes + (double)st.weight_bytes + (double)st.device_bytes;
}

/* Places, partitions and compiles graph g (taking it when owns) into a new
 * signature entry. A backend whose compile fails (a device fault, device
 * memory, a kernel build the driver refuses) is dropped from the session's
 * order and its nodes placed again on the next backends; strict fails. */
static engine_status spec_build(engine_session *s, eng_graph *g, int owns, eng_spec **out) {
    engine_context *ctx = s->ctx;
    engine_status st;
    double t0 = now_ms();
    eng_spec *sp = eng_calloc(ctx, 1, sizeof *sp);
    if (!sp) {
        if (owns) eng_graph_free(g);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    }
    sp->graph = g;
    sp->owns_graph = owns;
    sp->placement = eng_calloc(ctx, (size_t)g->n_nodes + 1, sizeof *sp->placement);
    sp->slot = eng_calloc(ctx, (size_t)g->n_values + 1, sizeof *sp->slot);
    sp->arena_offset = eng_calloc(ctx, (size_t)g->n_values + 1, sizeof *sp->arena_offset);
    sp->timings = eng_calloc(ctx, (size_t)g->n_nodes + 1, sizeof *sp->timings);
    if (!sp->placement || !sp->slot || !sp->arena_offset || !sp->timings) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
        goto fail;
    }
    for (;;) {
        eng_binst *failed = NULL;
        /* the weights back in place (a try before this one may have
         * released some) and this graph's uses of them counted */
        if ((st = eng_weights_begin(ctx, &s->model->weights, s->model->graph, g, &sp->wuses))) goto fail;
        if ((st = place(s, sp))) goto fail;
        if ((st = build_partitions(s, sp))) goto fail;
        if (!(st = compile_all(s, sp, &failed))) break;
        if (s->strict || !failed || s->n_order < 2) goto fail;
        eng_log(ctx, ENGINE_LOG_WARN, "%s; falling back", ctx->message);
        int k = 0;
        while (k < s->n_order && s->order[k] != failed) ++k;
        if (k == s->n_order) goto fail;
        for (; k + 1 < s->n_order; ++k) s->order[k] = s->order[k + 1];
        --s->n_order;
        free_partitions(s, sp);
    }
    for (int k = 0; k < g->n_nodes; ++k) {
        sp->timings[k].node = g->nodes[k]->name;
        sp->timings[k].op = g->nodes[k]->op_type;
        sp->timings[k].backend = sp->placement[k]->mod->name;
    }
    /* what no live program reads any more goes back to the system */
    if (!s->keep_weights) eng_weights_settle(&s->model->weights);
    double fp = spec_footprint(sp);
    sp->bytes = fp > (double)SIZE_MAX ? SIZE_MAX : (size_t)fp;
    sp->build_ms = now_ms() - t0;
    *out = sp;
    return ENGINE_OK;
fail:
    spec_free(s, sp);
    return st;
}

/* ---- stages: a signature whose graph has nodes that wait for data ----
 *
 * When an op's output shape depends on data (NonZero, NonMaxSuppression),
 * or a shape parameter (TopK's k, a Reshape shape, an If condition) is
 * computed from data, the specialised graph is inferred up to those nodes
 * (eng_graph_infer_staged) and cut in three:
 *  - the head: every node that needs no such data, compiled as any
 *    signature is; its outputs are the model outputs it produces and the
 *    values the rest reads;
 *  - the host ops: NonZero / NonMaxSuppression nodes whose inputs the head
 *    (or the caller) provides, run on the host with the reference kernels
 *    into buffers that grow and are kept;
 *  - the tail: the remaining nodes as a template of their own, whose
 *    inputs are head values and host-op results, run by an inner session
 *    with its own signature cache (so a detection count seen before costs
 *    a lookup, and a tail that has stages itself recurses).
 * On opencl the head's outputs come back to the host once per run (the
 * stage boundary is a seam). */
typedef struct eng_stage {
    eng_graph *full; /* the specialised graph, inferred up to the deferred nodes */
    eng_spec *head;  /* NULL when no node runs before the host ops */
    int n_head_out;
    int *head_out;   /* per head output: value index in full */
    void **head_buf;
    unsigned char *head_arena;
    engine_node **host; /* nodes of full, in order */
    int n_host;
    void **host_buf;
    size_t *host_cap;
    int64_t (*host_dims)[2];
    engine_model *tail_model; /* NULL when the host ops produce every remaining output */
    engine_session *tail;
    int *tail_in; /* per tail input: value index in full */
    engine_tensor *tail_tin, *tail_tout;
    int *out_tail, *out_host; /* per model output: index in the tail's outputs / host ops, or -1 */
    const void **ptr;         /* per value of full: its data in this run */
    engine_tensor *last_out;  /* per model output: dtype and dims of the last run */
    int ran;
    /* timings of the last run: the host ops' (start and length, from the
     * start of the run) and the tail's start; engine_session_timings joins
     * them with the head's and the tail's into all[] */
    double *host_t0, *host_ms, tail_t0;
    engine_node_timing *all;
    int n_all, cap_all;
} eng_stage;

static engine_status stage_oom(engine_context *ctx) {
    return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory splitting the run into stages");
}

static int value_deferred(const engine_value *v) {
    return v && (v->flags & ENG_VALUE_DEFERRED);
}

static int node_deferred(const engine_node *n) {
    for (int o = 0; o < n->n_outputs; ++o)
        if (value_deferred(n->outputs[o])) return 1;
    return 0;
}

static int host_op(const engine_node *n) {
    if (!engine_op_data_dependent(n->op) || !node_deferred(n)) return 0;
    for (int i = 0; i < n->n_inputs; ++i)
        if (value_deferred(n->inputs[i])) return 0;
    return 1;
}

/* Replaces g's output list with the n values of g listed by index. */
static engine_status set_outputs(eng_graph *g, const int *idx, int n) {
    engine_value **outs = eng_calloc(g->ctx, (size_t)n + 1, sizeof *outs);
    if (!outs) return stage_oom(g->ctx);
    for (int v = 0; v < g->n_values; ++v) g->values[v]->flags &= ~(unsigned)ENGINE_VALUE_GRAPH_OUTPUT;
    for (int k = 0; k < n; ++k) {
        outs[k] = g->values[idx[k]];
        outs[k]->flags |= ENGINE_VALUE_GRAPH_OUTPUT;
    }
    eng_free(g->ctx, g->outputs);
    g->outputs = outs;
    g->n_outputs = n;
    return ENGINE_OK;
}

static engine_status session_inner(engine_session *parent, engine_model *m, engine_session **out);
static engine_status run_spec(engine_session *s, eng_spec *sp, const void *const *inputs, void *const *outputs);

static void stage_free(engine_session *s, eng_stage *stg) {
    if (!stg) return;
    engine_context *ctx = s->ctx;
    engine_session_free(stg->tail);
    engine_model_free(stg->tail_model);
    if (stg->head) {
        stg->head->stage = NULL;
        spec_free(s, stg->head);
    }
    for (int j = 0; j < stg->n_host; ++j) eng_free(ctx, stg->host_buf ? stg->host_buf[j] : NULL);
    eng_free(ctx, stg->host_buf);
    eng_free(ctx, stg->host_cap);
    eng_free(ctx, stg->host_dims);
    eng_free(ctx, stg->host);
    eng_free(ctx, stg->head_out);
    eng_free(ctx, stg->head_buf);
    eng_free(ctx, stg->head_arena);
    eng_free(ctx, stg->tail_in);
    eng_free(ctx, stg->tail_tin);
    eng_free(ctx, stg->tail_tout);
    eng_free(ctx, stg->out_tail);
    eng_free(ctx, stg->out_host);
    eng_free(ctx, (void *)stg->ptr);
    eng_free(ctx, stg->last_out);
    eng_free(ctx, stg->host_t0);
    eng_free(ctx, stg->host_ms);
    eng_free(ctx, stg->all);
    eng_free(ctx, stg);
}

/* The head: a copy of full keeping the nodes that need no deferred data,
 * with outputs head_out; inferred again (node params), optimised and
 * compiled. */
static engine_status stage_head(engine_session *s, eng_stage *stg, eng_spec_graph *info) {
    engine_context *ctx = s->ctx;
    eng_graph *h = NULL;
    engine_status st = eng_graph_clone(stg->full, &h);
    if (st) return st;
    if ((st = set_outputs(h, stg->head_out, stg->n_head_out))) goto fail;
    for (int k = h->n_nodes - 1; k >= 0; --k) /* the deferred nodes go (remove_dead need not succeed) */
        if (node_deferred(stg->full->nodes[k])) eng_graph_remove_node(h, h->nodes[k]);
    for (int v = 0; v < h->n_values; ++v) h->values[v]->flags &= ~(unsigned)ENG_VALUE_DEFERRED;
    eng_graph_remove_dead(h);
    int folded = 0;
    if ((st = eng_graph_infer(h, &folded))) goto fail;
    eng_graph_remove_dead(h);
    info->n_passes = 0;
    if (s->model->optimized && (st = eng_passes_run(h, info->passes, ENG_MAX_PASS_STATS, &info->n_passes)))
        goto fail;
    /* spec_build takes h, also when it fails */
    if ((st = spec_build(s, h, 1, &stg->head))) return st;
    size_t off = 0;
    for (int k = 0; k < stg->n_head_out; ++k) off += (engine_value_nbytes(stg->full->values[stg->head_out[k]]) + 63) & ~(size_t)63;
    stg->head_arena = eng_alloc(ctx, off + 64);
    if (!stg->head_arena) return stage_oom(ctx);
    off = 0;
    for (int k = 0; k < stg->n_head_out; ++k) {
        stg->head_buf[k] = stg->head_arena + off;
        off += (engine_value_nbytes(stg->full->values[stg->head_out[k]]) + 63) & ~(size_t)63;
    }
    return ENGINE_OK;
fail:
    eng_graph_free(h);
    return st;
}

/* The tail: a copy of full without the head's nodes and the host ops,
 * whose inputs are the values in tail_need, as a model template of its own
 * run by an inner session. */
static engine_status stage_tail(engine_session *s, eng_stage *stg, const unsigned char *tail_need, const int *outs,
                                int n_outs) {
    engine_context *ctx = s->ctx;
    eng_graph *full = stg->full, *t = NULL;
    engine_status st = eng_graph_clone(full, &t);
    if (st) return st;
    int n_in = 0;
    for (int v = 0; v < full->n_values; ++v) n_in += tail_need[v] != 0;
    engine_value **ins = eng_calloc(ctx, (size_t)n_in + 1, sizeof *ins);
    engine_node **drop = eng_calloc(ctx, (size_t)t->n_nodes + 1, sizeof *drop);
    if (!ins || !drop) {
        eng_free(ctx, ins);
        eng_free(ctx, drop);
        eng_graph_free(t);
        return stage_oom(ctx);
    }
    int n_drop = 0;
    for (int k = 0; k < full->n_nodes; ++k)
        if (!node_deferred(full->nodes[k]) || host_op(full->nodes[k])) drop[n_drop++] = t->nodes[k];
    for (int k = 0; k < n_drop; ++k) eng_graph_remove_node(t, drop[k]);
    eng_free(ctx, drop);
    if ((st = set_outputs(t, outs, n_outs))) {
        eng_free(ctx, ins);
        eng_graph_free(t);
        return st;
    }
    n_in = 0;
    for (int v = 0; v < t->n_values; ++v) {
        engine_value *val = t->values[v];
        val->flags &= ~(unsigned)(ENG_VALUE_DEFERRED | ENGINE_VALUE_GRAPH_INPUT);
        if (tail_need[v]) {
            val->flags |= ENGINE_VALUE_GRAPH_INPUT;
            ins[n_in++] = val;
        }
    }
    eng_free(ctx, t->inputs);
    t->inputs = ins;
    t->n_inputs = n_in;
    eng_graph_remove_dead(t);
    engine_model *tm = eng_calloc(ctx, 1, sizeof *tm);
    if (!tm) {
        eng_graph_free(t);
        return stage_oom(ctx);
    }
    tm->ctx = ctx;
    tm->graph = t;
    eng_weights_init(&tm->weights, -1, NULL, 0); /* its constants are the model's: never released here */
    tm->optimized = s->model->optimized;
    stg->tail_model = tm;
    if ((st = eng_model_classify(tm))) return st;
    tm->dynamic = 1;
    stg->tail_in = eng_calloc(ctx, (size_t)n_in + 1, sizeof *stg->tail_in);
    stg->tail_tin = eng_calloc(ctx, (size_t)n_in + 1, sizeof *stg->tail_tin);
    stg->tail_tout = eng_calloc(ctx, (size_t)t->n_outputs + 1, sizeof *stg->tail_tout);
    if (!stg->tail_in || !stg->tail_tin || !stg->tail_tout) return stage_oom(ctx);
    for (int k = 0; k < n_in; ++k) stg->tail_in[k] = eng_graph_find(full, t->inputs[k]->name)->index;
    return session_inner(s, tm, &stg->tail);
}

/* Cuts the specialised graph full (taken) into stages: see above. */
static engine_status stage_build(engine_session *s, eng_graph *full, eng_spec_graph *info, eng_spec **out) {
    engine_context *ctx = s->ctx;
    engine_status st;
    double t0 = now_ms();
    eng_spec *sp = eng_calloc(ctx, 1, sizeof *sp);
    eng_stage *stg = eng_calloc(ctx, 1, sizeof *stg);
    unsigned char *need = eng_calloc(ctx, (size_t)full->n_values + 1, 2);
    int *outs = eng_calloc(ctx, (size_t)full->n_outputs + 1, sizeof *outs);
    if (!sp || !stg || !need || !outs) {
        eng_free(ctx, sp);
        eng_free(ctx, stg);
        eng_free(ctx, need);
        eng_free(ctx, outs);
        eng_graph_free(full);
        return stage_oom(ctx);
    }
    unsigned char *tail_need = need + full->n_values + 1;
    sp->graph = full;
    sp->owns_graph = 1;
    sp->stage = stg;
    stg->full = full;
    int nv = full->n_values, nn = full->n_nodes, no = full->n_outputs;
    sp->placement = eng_calloc(ctx, (size_t)nn + 1, sizeof *sp->placement);
    sp->slot = eng_calloc(ctx, (size_t)nv + 1, sizeof *sp->slot);
    sp->arena_offset = eng_calloc(ctx, (size_t)nv + 1, sizeof *sp->arena_offset);
    sp->timings = eng_calloc(ctx, (size_t)nn + 1, sizeof *sp->timings);
    stg->host = eng_calloc(ctx, (size_t)nn + 1, sizeof *stg->host);
    stg->head_out = eng_calloc(ctx, (size_t)nv + 1, sizeof *stg->head_out);
    stg->head_buf = eng_calloc(ctx, (size_t)nv + 1, sizeof *stg->head_buf);
    stg->ptr = eng_calloc(ctx, (size_t)nv + 1, sizeof *stg->ptr);
    stg->out_tail = eng_calloc(ctx, (size_t)no + 1, sizeof *stg->out_tail);
    stg->out_host = eng_calloc(ctx, (size_t)no + 1, sizeof *stg->out_host);
    stg->last_out = eng_calloc(ctx, (size_t)no + 1, sizeof *stg->last_out);
    if (!sp->placement || !sp->slot || !sp->arena_offset || !sp->timings || !stg->host || !stg->head_out ||
        !stg->head_buf || !stg->ptr || !stg->out_tail || !stg->out_host || !stg->last_out) {
        st = stage_oom(ctx);
        goto fail;
    }
    /* What the host ops and the tail read. */
    for (int k = 0; k < nn; ++k) {
        engine_node *n = full->nodes[k];
        if (!node_deferred(n)) continue;
        int host = host_op(n);
        if (host) stg->host[stg->n_host++] = n;
        /* its inputs, and for a Loop unrolled part way the scan outputs
         * of the iterations made so far, which it joins when it ends */
        const eng_subgraph *e = eng_is_control(n) ? eng_graph_find_sub(full, n, 0) : NULL;
        int n_read = n->n_inputs + (e ? e->n_scans : 0);
        for (int i = 0; i < n_read; ++i) {
            engine_value *v = i < n->n_inputs ? n->inputs[i] : e->scans[i - n->n_inputs];
            if (!v || (v->flags & ENGINE_VALUE_CONST)) continue;
            if (!value_deferred(v)) need[v->index] = 1;
            if (!host && (!value_deferred(v) || (v->producer && host_op(v->producer)))) tail_need[v->index] = 1;
        }
    }
    for (int k = 0; k < no; ++k) {
        engine_value *v = full->outputs[k];
        stg->out_tail[k] = stg->out_host[k] = -1;
        if (!value_deferred(v)) need[v->index] |= 2;
        for (int j = 0; j < stg->n_host; ++j)
            if (v->producer == stg->host[j]) stg->out_host[k] = j;
    }
    for (int v = 0; v < nv; ++v) {
        const engine_value *val = full->values[v];
        if (need[v] && val->producer && !(val->flags & ENGINE_VALUE_CONST)) stg->head_out[stg->n_head_out++] = v;
    }
    if (stg->n_head_out == 0 && stg->n_host == 0) {
        /* No progress: the first deferred node reads a shape parameter
         * computed from data that cannot become a constant here. */
        for (int k = 0; k < nn; ++k)
            if (node_deferred(full->nodes[k])) {
                st = eng_node_error(ctx, full->nodes[k], ENGINE_ERR_UNSUPPORTED,
                                    "an input that decides its output shape is computed from data and is too "
                                    "large to specialise on (more than 4096 elements)");
                goto fail;
            }
        st = eng_error(ctx, ENGINE_ERR_INTERNAL, "staged run without stages");
        goto fail;
    }
    stg->host_buf = eng_calloc(ctx, (size_t)stg->n_host + 1, sizeof *stg->host_buf);
    stg->host_cap = eng_calloc(ctx, (size_t)stg->n_host + 1, sizeof *stg->host_cap);
    stg->host_dims = eng_calloc(ctx, (size_t)stg->n_host + 1, sizeof *stg->host_dims);
    stg->host_t0 = eng_calloc(ctx, (size_t)stg->n_host + 1, sizeof *stg->host_t0);
    stg->host_ms = eng_calloc(ctx, (size_t)stg->n_host + 1, sizeof *stg->host_ms);
    if (!stg->host_buf || !stg->host_cap || !stg->host_dims || !stg->host_t0 || !stg->host_ms) {
        st = stage_oom(ctx);
        goto fail;
    }
    if (stg->n_head_out && (st = stage_head(s, stg, info))) goto fail;
    int n_outs = 0;
    for (int k = 0; k < no; ++k)
        if (value_deferred(full->outputs[k]) && stg->out_host[k] < 0) {
            stg->out_tail[k] = n_outs;
            outs[n_outs++] = full->outputs[k]->index;
        }
    if (n_outs && (st = stage_tail(s, stg, tail_need, outs, n_outs))) goto fail;
    eng_free(ctx, need);
    eng_free(ctx, outs);
    sp->bytes = stg->head ? stg->head->bytes : 0;
    sp->build_ms = now_ms() - t0;
    *out = sp;
    return ENGINE_OK;
fail:
    eng_free(ctx, need);
    eng_free(ctx, outs);
    spec_free(s, sp);
    return st;
}

/* Copies a run's output (data with dtype and dims) into the caller's
 * tensor, or into the session's storage when it gives none. */
static engine_status deliver_output(engine_session *s, int k, const engine_tensor *src, engine_tensor *dst) {
    engine_context *ctx = s->ctx;
    const char *name = s->model->graph->outputs[k]->name;
    size_t need = (size_t)engine_tensor_numel(src) * engine_dtype_size(src->dtype);
    void *to;
    if (dst->data) {
        if (dst->rank < 0 || dst->rank > ENGINE_MAX_RANK)
            return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "output '%s': capacity rank %d", name, dst->rank);
        if (engine_tensor_numel(dst) < engine_tensor_numel(src))
            return eng_error(ctx, ENGINE_ERR_SHAPE, "output '%s' needs %lld elements; the buffer given holds %lld", name,
                             (long long)engine_tensor_numel(src), (long long)engine_tensor_numel(dst));
        to = dst->data;
    } else {
        if (s->out_store_bytes[k] < need + 1) {
            void *nb = eng_alloc(ctx, need + 64);
            if (!nb) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for output '%s' (%zu bytes)", name, need);
            eng_free(ctx, s->out_store[k]);
            s->out_store[k] = nb;
            s->out_store_bytes[k] = need + 64;
        }
        to = s->out_store[k];
    }
    if (need && src->data != to) memmove(to, src->data, need);
    dst->dtype = src->dtype;
    dst->rank = src->rank;
    memset(dst->dims, 0, sizeof dst->dims);
    for (int d = 0; d < src->rank; ++d) dst->dims[d] = src->dims[d];
    dst->data = to;
    return ENGINE_OK;
}

/* Runs staged signature sp: head, host ops, tail; then the outputs. */
static engine_status run_staged(engine_session *s, eng_spec *sp, const void *const *inputs, engine_tensor *outputs) {
    engine_context *ctx = s->ctx;
    eng_stage *stg = sp->stage;
    eng_graph *full = stg->full;
    engine_status st;
    stg->ran = 0;
    const double t_run = now_ms();
    for (int v = 0; v < full->n_values; ++v) stg->ptr[v] = full->values[v]->data;
    for (int k = 0; k < full->n_inputs; ++k)
        if (!(full->inputs[k]->flags & ENGINE_VALUE_CONST)) stg->ptr[full->inputs[k]->index] = inputs[k];
    if (stg->head) {
        if ((st = run_spec(s, stg->head, inputs, stg->head_buf))) return st;
        for (int k = 0; k < stg->n_head_out; ++k) stg->ptr[stg->head_out[k]] = stg->head_buf[k];
    }
    for (int j = 0; j < stg->n_host; ++j) {
        engine_node *n = stg->host[j];
        const void *in[8] = {0};
        if (n->n_inputs > 8) return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "too many inputs");
        for (int i = 0; i < n->n_inputs; ++i) in[i] = n->inputs[i] ? stg->ptr[n->inputs[i]->index] : NULL;
        int64_t cap = ref_dd_bound(n, in);
        if (cap < 0 || (uint64_t)cap > (uint64_t)(SIZE_MAX / 16))
            return eng_node_error(ctx, n, ENGINE_ERR_SHAPE, "its output could hold %lld elements, too many", (long long)cap);
        size_t bytes = (size_t)cap * sizeof(int64_t) + 64;
        if (ctx->max_tensor_bytes && bytes - 64 > ctx->max_tensor_bytes)
            return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "its output may need %zu bytes, above the context's max_tensor_bytes (%zu)", bytes - 64,
                                  ctx->max_tensor_bytes);
        if (stg->host_cap[j] < bytes) {
            void *nb = eng_alloc(ctx, bytes);
            if (!nb) return eng_node_error(ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for %zu bytes of output", bytes);
            eng_free(ctx, stg->host_buf[j]);
            stg->host_buf[j] = nb;
            stg->host_cap[j] = bytes;
        }
        stg->host_t0[j] = now_ms() - t_run;
        if ((st = ref_dd_run(n, in, stg->host_buf[j], cap, stg->host_dims[j])))
            return eng_node_error(ctx, n, st, "failed on the host: %s", engine_status_str(st));
        stg->host_ms[j] = now_ms() - t_run - stg->host_t0[j];
        stg->ptr[n->outputs[0]->index] = stg->host_buf[j];
    }
    const eng_graph *t = stg->tail_model ? stg->tail_model->graph : NULL;
    if (t) {
        for (int k = 0; k < t->n_inputs; ++k) {
            const engine_value *v = full->values[stg->tail_in[k]];
            engine_tensor *ti = &stg->tail_tin[k];
            memset(ti, 0, sizeof *ti);
            ti->name = t->inputs[k]->name;
            ti->dtype = v->dtype;
            ti->rank = v->rank;
            for (int d = 0; d < v->rank; ++d) ti->dims[d] = v->dims[d];
            for (int j = 0; j < stg->n_host; ++j)
                if (v->producer == stg->host[j]) {
                    ti->dims[0] = stg->host_dims[j][0];
                    ti->dims[1] = stg->host_dims[j][1];
                }
            ti->data = (void *)stg->ptr[v->index];
        }
        for (int k = 0; k < t->n_outputs; ++k) memset(&stg->tail_tout[k], 0, sizeof stg->tail_tout[k]);
        stg->tail_t0 = now_ms() - t_run;
        if ((st = engine_session_run_tensors(stg->tail, stg->tail_tin, t->n_inputs, stg->tail_tout, t->n_outputs)))
            return st;
    }
    for (int k = 0; k < full->n_outputs; ++k) {
        const engine_value *v = full->outputs[k];
        engine_tensor src;
        memset(&src, 0, sizeof src);
        if (stg->out_tail[k] >= 0) {
            src = stg->tail_tout[stg->out_tail[k]];
        } else {
            src.dtype = v->dtype;
            src.rank = v->rank;
            for (int d = 0; d < v->rank; ++d) src.dims[d] = v->dims[d];
            if (stg->out_host[k] >= 0) {
                src.dims[0] = stg->host_dims[stg->out_host[k]][0];
                src.dims[1] = stg->host_dims[stg->out_host[k]][1];
            }
            src.data = (void *)stg->ptr[v->index];
        }
        if (!src.data && engine_tensor_numel(&src))
            return eng_error(ctx, ENGINE_ERR_INTERNAL, "output '%s' was not produced by any stage", v->name);
        stg->last_out[k] = src;
        stg->last_out[k].data = NULL;
        if ((st = deliver_output(s, k, &src, &outputs[k]))) return st;
    }
    stg->ran = 1;
    return ENGINE_OK;
}

/* ---- the signature cache: a recency list, newest at s->cur ---- */

static void cache_unlink(engine_session *s, eng_spec *sp) {
    if (sp->newer) sp->newer->older = sp->older;
    if (sp->older) sp->older->newer = sp->newer;
    if (s->cur == sp) s->cur = sp->older;
    if (s->oldest == sp) s->oldest = sp->newer;
    sp->newer = sp->older = NULL;
}

static void cache_push(engine_session *s, eng_spec *sp) {
    sp->older = s->cur;
    sp->newer = NULL;
    if (s->cur) s->cur->newer = sp;
    s->cur = sp;
    if (!s->oldest) s->oldest = sp;
}

/* Evicts from the old end while over a bound; never the current entry. */
static void cache_trim(engine_session *s) {
    while (s->oldest && s->oldest != s->cur &&
           (s->n_specs > s->max_specs || s->spec_bytes > s->max_spec_bytes)) {
        eng_spec *victim = s->oldest;
        cache_unlink(s, victim);
        s->n_specs--;
        s->spec_bytes -= victim->bytes;
        s->evictions++;
        spec_free(s, victim);
    }
}

static int key_matches(const engine_session *s, const eng_spec *sp, const int64_t (*dims)[ENGINE_MAX_RANK],
                       const void *const *values) {
    const eng_graph *t = s->model->graph;
    if (!sp->key_dims) return 0;
    if (memcmp(sp->key_dims, dims, sizeof *dims * (size_t)t->n_inputs) != 0) return 0;
    size_t off = 0;
    for (int k = 0; k < t->n_inputs; ++k) {
        if (!s->model->value_input[k]) continue;
        size_t bytes = (size_t)engine_dtype_size(t->inputs[k]->dtype);
        for (int d = 0; d < t->inputs[k]->rank; ++d) bytes *= (size_t)dims[k][d];
        if (off + bytes > sp->key_vals_bytes || (bytes && memcmp(sp->key_vals + off, values[k], bytes) != 0)) return 0;
        off += bytes;
    }
    return off == sp->key_vals_bytes;
}

/* Makes the signature (dims, values) current: the last one costs a
 * comparison, a cached one a list move, a new one a specialisation. */
static engine_status select_spec(engine_session *s, const int64_t (*dims)[ENGINE_MAX_RANK],
                                 const void *const *values) {
    engine_context *ctx = s->ctx;
    engine_model *m = s->model;
    const eng_graph *t = m->graph;
    if (s->cur && key_matches(s, s->cur, dims, values)) {
        s->hits++;
        return ENGINE_OK;
    }
    for (eng_spec *sp = s->cur ? s->cur->older : NULL; sp; sp = sp->older)
        if (key_matches(s, sp, dims, values)) {
            cache_unlink(s, sp);
            cache_push(s, sp);
            s->hits++;
            return ENGINE_OK;
        }
    /* A miss. */
    size_t vbytes = 0;
    for (int k = 0; k < t->n_inputs; ++k) {
        if (!m->value_input[k]) continue;
        size_t bytes = engine_dtype_size(t->inputs[k]->dtype);
        for (int d = 0; d < t->inputs[k]->rank; ++d) bytes *= (size_t)dims[k][d];
        vbytes += bytes;
    }
    double t0 = now_ms();
    int64_t(*kd)[ENGINE_MAX_RANK] = eng_alloc(ctx, sizeof *kd * ((size_t)t->n_inputs + 1));
    unsigned char *kv = vbytes ? eng_alloc(ctx, vbytes) : NULL;
    if (!kd || (vbytes && !kv)) {
        eng_free(ctx, kd);
        eng_free(ctx, kv);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory keying a new input signature");
    }
    memcpy(kd, dims, sizeof *kd * (size_t)t->n_inputs);
    size_t off = 0;
    for (int k = 0; k < t->n_inputs; ++k) {
        if (!m->value_input[k]) continue;
        size_t bytes = engine_dtype_size(t->inputs[k]->dtype);
        for (int d = 0; d < t->inputs[k]->rank; ++d) bytes *= (size_t)dims[k][d];
        if (bytes) memcpy(kv + off, values[k], bytes);
        off += bytes;
    }
    eng_spec_graph sg;
    memset(&sg, 0, sizeof sg);
    /* the template's weights are read by the passes: back in place first */
    engine_status st = eng_weights_resident(ctx, &s->model->weights);
    if (!st) st = eng_specialise(m, dims, values, &sg);
    eng_spec *sp = NULL;
    if (!st) st = sg.deferred ? stage_build(s, sg.graph, &sg, &sp) : spec_build(s, sg.graph, 1, &sp);
    if (st) {
        eng_free(ctx, kd);
        eng_free(ctx, kv);
        return st;
    }
    sp->info = sg;
    sp->key_dims = kd;
    sp->key_vals = kv;
    sp->key_vals_bytes = vbytes;
    sp->build_ms = now_ms() - t0;
    s->last_build_ms = sp->build_ms;
    cache_push(s, sp);
    s->n_specs++;
    s->spec_bytes += sp->bytes;
    s->misses++;
    cache_trim(s);
    return ENGINE_OK;
}

/* Reads "NAME=1x3x224x224;NAME=..." into s->want_dims for the inputs it
 * names; the others keep their fixed dims (-1 where symbolic). */
static engine_status parse_shapes(engine_session *s, const char *text) {
    engine_context *ctx = s->ctx;
    const eng_graph *t = s->model->graph;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[512];
        if (len >= sizeof item) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "shape override too long: '%.64s...'", p);
        memcpy(item, p, len);
        item[len] = 0;
        char *eq = strrchr(item, '=');
        if (len && !eq)
            return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "shape override '%s' is not NAME=DIMS (e.g. x=1x3x224x224)", item);
        if (eq) {
            *eq = 0;
            int k = 0;
            while (k < t->n_inputs && strcmp(t->inputs[k]->name, item) != 0) ++k;
            if (k == t->n_inputs)
                return eng_error(ctx, ENGINE_ERR_NOT_FOUND, "shape override: the model has no input '%s'", item);
            int rank = 0;
            int64_t dims[ENGINE_MAX_RANK];
            const char *q = eq + 1;
            while (*q) {
                char *stop;
                long long v = strtoll(q, &stop, 10);
                if (stop == q || v < 0 || rank == ENGINE_MAX_RANK || (*stop && *stop != 'x'))
                    return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "shape override for '%s': bad dims '%s'", item, eq + 1);
                dims[rank++] = v;
                q = *stop ? stop + 1 : stop;
            }
            if (rank != t->inputs[k]->rank)
                return eng_error(ctx, ENGINE_ERR_SHAPE, "shape override for input '%s': rank %d given, the model has rank %d",
                                 item, rank, t->inputs[k]->rank);
            for (int d = 0; d < rank; ++d) s->want_dims[k][d] = dims[d];
        }
        if (!end) break;
        p = end + 1;
    }
    return ENGINE_OK;
}

/* Checks one input's dims against the model's: fixed dims equal, one
 * symbolic name one value (bound[] collects names across inputs). */
static engine_status check_dims(engine_session *s, int k, int rank, const int64_t *dims, const char **bound_name,
                                int64_t *bound_val, int *n_bound) {
    engine_context *ctx = s->ctx;
    const eng_graph *t = s->model->graph;
    const engine_value *v = t->inputs[k];
    if (rank != v->rank)
        return eng_error(ctx, ENGINE_ERR_SHAPE, "input '%s' has rank %d; the model expects rank %d", v->name, rank,
                         v->rank);
    for (int d = 0; d < rank; ++d) {
        if (dims[d] < 0)
            return eng_error(ctx, ENGINE_ERR_SHAPE, "input '%s' axis %d: negative dim %lld", v->name, d,
                             (long long)dims[d]);
        if (v->dims[d] >= 0) {
            if (dims[d] != v->dims[d])
                return eng_error(ctx, ENGINE_ERR_SHAPE, "input '%s' axis %d: expected %lld, got %lld", v->name, d,
                                 (long long)v->dims[d], (long long)dims[d]);
            continue;
        }
        const char *name = t->input_syms ? t->input_syms[k * ENGINE_MAX_RANK + d] : NULL;
        if (!name || !name[0]) continue; /* a free dim: any value */
        int b = 0;
        while (b < *n_bound && strcmp(bound_name[b], name) != 0) ++b;
        if (b < *n_bound) {
            if (bound_val[b] != dims[d])
                return eng_error(ctx, ENGINE_ERR_SHAPE,
                                 "input '%s' axis %d: symbolic dim '%s' is already %lld, got %lld", v->name, d, name,
                                 (long long)bound_val[b], (long long)dims[d]);
        } else if (*n_bound < ENGINE_MAX_RANK * 16) {
            bound_name[*n_bound] = name;
            bound_val[(*n_bound)++] = dims[d];
        }
    }
    return ENGINE_OK;
}

static engine_status check_signature(engine_session *s, const int64_t (*dims)[ENGINE_MAX_RANK]) {
    const char *bound_name[ENGINE_MAX_RANK * 16];
    int64_t bound_val[ENGINE_MAX_RANK * 16];
    int n_bound = 0;
    const eng_graph *t = s->model->graph;
    for (int k = 0; k < t->n_inputs; ++k) {
        engine_status st = check_dims(s, k, t->inputs[k]->rank, dims[k], bound_name, bound_val, &n_bound);
        if (st) return st;
    }
    return ENGINE_OK;
}

void engine_session_free(engine_session *s) {
    if (!s) return;
    engine_context *ctx = s->ctx;
    while (s->cur) {
        eng_spec *sp = s->cur;
        cache_unlink(s, sp);
        spec_free(s, sp);
    }
    if (s->out_store) {
        for (int k = 0; k < s->model->graph->n_outputs; ++k) eng_free(ctx, s->out_store[k]);
    }
    eng_free(ctx, s->out_store);
    eng_free(ctx, s->out_store_bytes);
    eng_free(ctx, s->want_dims);
    eng_free(ctx, s->order);
    eng_free(ctx, s);
}

/* A session over m (a stage's tail) with parent's backends and options. */
static engine_status session_inner(engine_session *parent, engine_model *m, engine_session **out) {
    engine_context *ctx = parent->ctx;
    const eng_graph *g = m->graph;
    engine_session *s = eng_calloc(ctx, 1, sizeof *s);
    if (!s) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    s->model = m;
    s->ctx = ctx;
    s->strict = parent->strict;
    s->profile = parent->profile;
    s->keep_all = parent->keep_all;
    s->max_specs = parent->max_specs;
    s->max_spec_bytes = parent->max_spec_bytes;
    s->order = eng_calloc(ctx, ENG_MAX_BACKENDS, sizeof *s->order);
    s->want_dims = eng_calloc(ctx, (size_t)g->n_inputs + 1, sizeof *s->want_dims);
    s->out_store = eng_calloc(ctx, (size_t)g->n_outputs + 1, sizeof *s->out_store);
    s->out_store_bytes = eng_calloc(ctx, (size_t)g->n_outputs + 1, sizeof *s->out_store_bytes);
    if (!s->order || !s->want_dims || !s->out_store || !s->out_store_bytes) {
        engine_session_free(s);
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    }
    memcpy(s->order, parent->order, sizeof *s->order * (size_t)parent->n_order);
    s->n_order = parent->n_order;
    *out = s;
    return ENGINE_OK;
}

engine_status engine_session_create(engine_model *model, const engine_session_options *opts, engine_session **out) {
    return engine_session_create_sized(model, opts, sizeof *opts, out);
}

engine_status engine_session_create_sized(engine_model *model, const engine_session_options *opts, size_t opts_size,
                                          engine_session **out) {
    if (!model || !out) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_context *ctx = model->ctx;
    engine_session_options o;
    memset(&o, 0, sizeof o);
    if (opts) memcpy(&o, opts, opts_size < sizeof o ? opts_size : sizeof o);
    eng_graph *g = model->graph;
    engine_status st;
    engine_session *s = eng_calloc(ctx, 1, sizeof *s);
    if (!s) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    s->model = model;
    s->ctx = ctx;
    s->strict = o.strict;
    s->profile = o.profile;
    s->keep_all = o.keep_intermediates != 0;
    s->keep_weights = o.keep_weights != 0;
    s->max_specs = o.max_specializations > 0 ? o.max_specializations : 8;
    s->max_spec_bytes = o.max_specialization_bytes ? o.max_specialization_bytes : (size_t)1 << 30;
    s->order = eng_calloc(ctx, ENG_MAX_BACKENDS, sizeof *s->order);
    s->want_dims = eng_calloc(ctx, (size_t)g->n_inputs + 1, sizeof *s->want_dims);
    s->out_store = eng_calloc(ctx, (size_t)g->n_outputs + 1, sizeof *s->out_store);
    s->out_store_bytes = eng_calloc(ctx, (size_t)g->n_outputs + 1, sizeof *s->out_store_bytes);
    if (!s->order || !s->want_dims || !s->out_store || !s->out_store_bytes) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
        goto fail;
    }
    if ((st = resolve_order(s, &o))) goto fail;
    for (int k = 0; k < g->n_inputs; ++k) memcpy(s->want_dims[k], g->inputs[k]->dims, sizeof s->want_dims[k]);
    if (o.shapes && (st = parse_shapes(s, o.shapes))) goto fail;
    if (!model->dynamic) {
        if ((st = check_signature(s, (const int64_t(*)[ENGINE_MAX_RANK])s->want_dims))) goto fail;
        eng_spec *sp;
        if ((st = spec_build(s, g, 0, &sp))) goto fail;
        s->last_build_ms = sp->build_ms;
        cache_push(s, sp);
        s->n_specs = 1;
        s->spec_bytes = sp->bytes;
    } else {
        /* Compile ahead when every dim is known (fixed, or bound by the
         * shapes overrides) and the model needs no input values to know its
         * shapes. */
        int complete = model->n_value_inputs == 0;
        for (int k = 0; k < g->n_inputs; ++k)
            for (int d = 0; d < g->inputs[k]->rank; ++d) complete &= s->want_dims[k][d] >= 0;
        if (complete) {
            if ((st = check_signature(s, (const int64_t(*)[ENGINE_MAX_RANK])s->want_dims))) goto fail;
            if ((st = select_spec(s, (const int64_t(*)[ENGINE_MAX_RANK])s->want_dims, NULL))) goto fail;
        }
    }
    *out = s;
    return ENGINE_OK;
fail:
    engine_session_free(s);
    return st;
}

static void on_timing(void *user, int node_in_partition, double start_ms, double ms) {
    engine_session *s = user;
    partition_rt *pr = &s->timing_spec->parts[s->timing_part];
    if (node_in_partition < 0 || node_in_partition >= pr->part.n_nodes) return;
    engine_node_timing *t = &s->timing_spec->timings[pr->first_node + node_in_partition];
    t->start_ms = s->run_start_ms + start_ms;
    t->ms = ms;
}

/* Runs compiled signature sp: inputs[k] in its graph's input order,
 * outputs[k] in its graph's output order. */
static engine_status run_spec(engine_session *s, eng_spec *sp, const void *const *inputs, void *const *outputs) {
    engine_context *ctx = s->ctx;
    eng_graph *g = sp->graph;
    for (int v = 0; v < g->n_values; ++v) {
        engine_value *val = g->values[v];
        sp->slot[v] = val->data ? val->data : (sp->arena_offset[v] != SIZE_MAX ? sp->arena + sp->arena_offset[v] : NULL);
    }
    for (int k = 0; k < g->n_inputs; ++k) {
        if (!inputs[k]) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "input %d ('%s') is NULL", k, g->inputs[k]->name);
        if (!(g->inputs[k]->flags & ENGINE_VALUE_CONST)) sp->slot[g->inputs[k]->index] = (void *)inputs[k];
    }
    for (int k = 0; k < g->n_outputs; ++k) {
        engine_value *v = g->outputs[k];
        if (!outputs[k]) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "output %d ('%s') is NULL", k, v->name);
        if (v->producer) sp->slot[v->index] = outputs[k];
    }
    sp->ran = 0;
    double t0 = now_ms();
    for (int p = 0; p < sp->n_parts; ++p) {
        partition_rt *pr = &sp->parts[p];
        for (int i = 0; i < pr->part.n_inputs; ++i) pr->in_ptrs[i] = sp->slot[pr->inputs[i]->index];
        for (int o = 0; o < pr->part.n_outputs; ++o) pr->out_ptrs[o] = sp->slot[pr->outputs[o]->index];
        char err[1024] = "";
        s->timing_spec = sp;
        s->timing_part = p;
        s->run_start_ms = now_ms() - t0;
        engine_status st = pr->backend->mod->iface->run(pr->backend->state, pr->program, pr->in_ptrs, pr->out_ptrs,
                                                        s->profile ? on_timing : NULL, s, err, sizeof err);
        if (st)
            return eng_error(ctx, st, "backend '%s' failed to run: %s", pr->backend->mod->name,
                             err[0] ? err : engine_status_str(st));
    }
    /* Outputs that no node produces: constants and pass-through inputs. */
    for (int k = 0; k < g->n_outputs; ++k) {
        engine_value *v = g->outputs[k];
        if (v->producer) continue;
        const void *src = v->data;
        for (int i = 0; i < g->n_inputs && !src; ++i)
            if (g->inputs[i] == v) src = inputs[i];
        if (src && src != outputs[k]) memcpy(outputs[k], src, engine_value_nbytes(v));
    }
    sp->ran = 1;
    return ENGINE_OK;
}

engine_status engine_session_run(engine_session *s, const void *const *inputs, void *const *outputs) {
    if (!s || (!inputs && s->model->graph->n_inputs) || !outputs) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!s->cur)
        return eng_error(s->ctx, ENGINE_ERR_INVALID_ARGUMENT,
                         "the model has symbolic dims or shape-parameter inputs and no shapes are bound yet: use "
                         "engine_session_run_tensors or the shapes session option");
    if (s->model->n_value_inputs) {
        /* The values of shape-parameter inputs are part of the signature. */
        engine_status st = select_spec(s, (const int64_t(*)[ENGINE_MAX_RANK])s->cur->key_dims, (const void *const *)inputs);
        if (st) return st;
    }
    if (s->cur->stage)
        return eng_error(s->ctx, ENGINE_ERR_INVALID_ARGUMENT,
                         "the model's output shapes depend on the data of each run (it runs in stages): use "
                         "engine_session_run_tensors");
    return run_spec(s, s->cur, inputs, outputs);
}

engine_status engine_session_run_tensors(engine_session *s, const engine_tensor *inputs, int n_inputs,
                                         engine_tensor *outputs, int n_outputs) {
    if (!s) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_context *ctx = s->ctx;
    engine_model *m = s->model;
    const eng_graph *t = m->graph;
    if (n_inputs != t->n_inputs || (n_inputs && !inputs))
        return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%d inputs given; the model has %d", n_inputs, t->n_inputs);
    if (n_outputs != t->n_outputs || (n_outputs && !outputs))
        return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%d outputs given; the model has %d", n_outputs,
                         t->n_outputs);
    const void *in_data[64];
    void *out_data[64];
    const void **in_ptr = in_data;
    void **out_ptr = out_data;
    engine_status st = ENGINE_OK;
    if (t->n_inputs > 64 || t->n_outputs > 64) {
        in_ptr = eng_calloc(ctx, (size_t)t->n_inputs + 1, sizeof *in_ptr);
        out_ptr = eng_calloc(ctx, (size_t)t->n_outputs + 1, sizeof *out_ptr);
        if (!in_ptr || !out_ptr) {
            st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory binding inputs");
            goto done;
        }
    }
    /* Bind inputs by name or position; check dtypes and dims. */
    const char *bound_name[ENGINE_MAX_RANK * 16];
    int64_t bound_val[ENGINE_MAX_RANK * 16];
    int n_bound = 0;
    for (int k = 0; k < t->n_inputs; ++k) {
        const engine_value *v = t->inputs[k];
        const engine_tensor *in = &inputs[k];
        for (int j = 0; j < n_inputs; ++j)
            if (inputs[j].name && strcmp(inputs[j].name, v->name) == 0) in = &inputs[j];
        if (in->name && strcmp(in->name, v->name) != 0) {
            st = eng_error(ctx, ENGINE_ERR_NOT_FOUND, "no input tensor named '%s' (given: '%s')", v->name, in->name);
            goto done;
        }
        if (in->dtype != v->dtype) {
            st = eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "input '%s' is %s; the model expects %s", v->name,
                           engine_dtype_name(in->dtype), engine_dtype_name(v->dtype));
            goto done;
        }
        if (in->rank < 0 || in->rank > ENGINE_MAX_RANK) {
            st = eng_error(ctx, ENGINE_ERR_SHAPE, "input '%s' has rank %d", v->name, in->rank);
            goto done;
        }
        if ((st = check_dims(s, k, in->rank, in->dims, bound_name, bound_val, &n_bound))) goto done;
        memset(s->want_dims[k], 0, sizeof s->want_dims[k]);
        memcpy(s->want_dims[k], in->dims, sizeof in->dims[0] * (size_t)in->rank);
        if (!in->data && engine_tensor_numel(in) != 0) {
            st = eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "input '%s' has no data", v->name);
            goto done;
        }
        in_ptr[k] = in->data ? in->data : (const void *)s; /* empty: any non-NULL pointer */
    }
    if (!m->dynamic && s->cur) {
        /* A static model: the dims were checked against the fixed ones. */
    } else if ((st = select_spec(s, (const int64_t(*)[ENGINE_MAX_RANK])s->want_dims, in_ptr))) {
        goto done;
    }
    if (s->cur->stage) {
        st = run_staged(s, s->cur, in_ptr, outputs);
        goto done;
    }
    /* Outputs: the caller's buffers when big enough, else the session's. */
    const eng_graph *g = s->cur->graph;
    for (int k = 0; k < t->n_outputs; ++k) {
        const engine_value *v = g->outputs[k];
        size_t need = engine_value_nbytes(v);
        engine_tensor *o = &outputs[k];
        if (o->data) {
            if (o->rank < 0 || o->rank > ENGINE_MAX_RANK) {
                st = eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "output '%s': capacity rank %d", v->name, o->rank);
                goto done;
            }
            int64_t cap = engine_tensor_numel(o);
            if (cap < engine_value_numel(v)) {
                st = eng_error(ctx, ENGINE_ERR_SHAPE,
                               "output '%s' needs %lld elements; the buffer given holds %lld", v->name,
                               (long long)engine_value_numel(v), (long long)cap);
                goto done;
            }
            out_ptr[k] = o->data;
        } else {
            if (s->out_store_bytes[k] < need + 1) {
                void *nb = eng_alloc(ctx, need + 64);
                if (!nb) {
                    st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for output '%s' (%zu bytes)",
                                   v->name, need);
                    goto done;
                }
                eng_free(ctx, s->out_store[k]);
                s->out_store[k] = nb;
                s->out_store_bytes[k] = need + 64;
            }
            out_ptr[k] = s->out_store[k];
        }
    }
    if ((st = run_spec(s, s->cur, in_ptr, out_ptr))) goto done;
    for (int k = 0; k < t->n_outputs; ++k) {
        const engine_value *v = g->outputs[k];
        outputs[k].dtype = v->dtype;
        outputs[k].rank = v->rank;
        memset(outputs[k].dims, 0, sizeof outputs[k].dims);
        for (int d = 0; d < v->rank; ++d) outputs[k].dims[d] = v->dims[d];
        outputs[k].data = out_ptr[k];
    }
done:
    if (in_ptr != in_data) eng_free(ctx, (void *)in_ptr);
    if (out_ptr != out_data) eng_free(ctx, out_ptr);
    return st;
}

engine_status engine_session_output_info(const engine_session *s, int index, engine_tensor_info *info) {
    if (!s || !info || index < 0 || index >= s->model->graph->n_outputs) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!s->cur) return ENGINE_ERR_INVALID_ARGUMENT;
    const engine_value *v = s->cur->graph->outputs[index];
    memset(info, 0, sizeof *info);
    info->name = v->name;
    info->dtype = v->dtype;
    info->rank = v->rank;
    for (int d = 0; d < v->rank && d < ENGINE_MAX_RANK; ++d) info->dims[d] = v->dims[d];
    const struct eng_stage *stg = s->cur->stage;
    if (stg) { /* the shape of the last run's output; -1 for what only a run tells */
        const engine_tensor *last = &stg->last_out[index];
        if (stg->ran) {
            info->dtype = last->dtype;
            info->rank = last->rank;
            for (int d = 0; d < last->rank; ++d) info->dims[d] = last->dims[d];
        } else if (info->rank < 0) {
            info->rank = 0;
        }
    }
    return ENGINE_OK;
}

engine_status engine_session_cache_info_get(const engine_session *s, engine_session_cache_info *info) {
    if (!s || !info || info->struct_size < sizeof(size_t)) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_session_cache_info full;
    memset(&full, 0, sizeof full);
    full.struct_size = info->struct_size < sizeof full ? info->struct_size : sizeof full;
    full.entries = s->n_specs;
    full.hits = s->hits;
    full.misses = s->misses;
    full.evictions = s->evictions;
    full.bytes = s->spec_bytes;
    full.last_build_ms = s->last_build_ms;
    for (const eng_spec *sp = s->cur; sp; sp = sp->older) full.packed_weight_bytes += sp->weight_bytes;
    full.released_weight_bytes = eng_weights_released(&s->model->weights);
    if (s->cur && s->cur->stage && s->cur->stage->tail) {
        /* a staged signature: its tail's cache too (signatures of the later stage) */
        engine_session_cache_info tail;
        memset(&tail, 0, sizeof tail);
        tail.struct_size = sizeof tail;
        engine_session_cache_info_get(s->cur->stage->tail, &tail);
        full.entries += tail.entries;
        full.hits += tail.hits;
        full.misses += tail.misses;
        full.evictions += tail.evictions;
        full.bytes += tail.bytes;
        full.packed_weight_bytes += tail.packed_weight_bytes;
    }
    memcpy(info, &full, full.struct_size);
    return ENGINE_OK;
}

engine_status engine_session_node_output(const engine_session *s, int node, int output, const char **node_name,
                                         const char **op, engine_tensor_info *info, const void **data) {
    if (!s) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!s->keep_all)
        return eng_error(s->ctx, ENGINE_ERR_INVALID_ARGUMENT,
                         "engine_session_node_output needs a session created with keep_intermediates");
    if (!s->cur || !s->cur->ran)
        return eng_error(s->ctx, ENGINE_ERR_INVALID_ARGUMENT, "engine_session_node_output: no run yet");
    eng_graph *g = s->cur->graph;
    if (node < 0 || node >= g->n_nodes || output < 0 || output >= g->nodes[node]->n_outputs ||
        !g->nodes[node]->outputs[output])
        return eng_error(s->ctx, ENGINE_ERR_NOT_FOUND, "no output %d of node %d", output, node);
    const engine_node *n = g->nodes[node];
    const engine_value *v = n->outputs[output];
    if (node_name) *node_name = n->name;
    if (op) *op = n->op_type;
    if (info) {
        memset(info, 0, sizeof *info);
        info->name = v->name;
        info->dtype = v->dtype;
        info->rank = v->rank;
        for (int d = 0; d < v->rank && d < ENGINE_MAX_RANK; ++d) info->dims[d] = v->dims[d];
    }
    if (data) *data = s->cur->slot[v->index];
    return ENGINE_OK;
}

engine_status engine_session_placement(const engine_session *s, engine_write_fn write, void *user) {
    if (!s || !write) return ENGINE_ERR_INVALID_ARGUMENT;
    char line[256];
    const eng_spec *sp = s->cur;
    if (!sp) {
        write(user, "placement: not yet made (the model's shapes are bound by the first run)\n");
        return ENGINE_OK;
    }
    if (sp->stage) {
        /* Stages: the head's placement, the host ops, then the tail's. */
        const struct eng_stage *stg = sp->stage;
        if (stg->head) {
            write(user, "placement: stage 1 (up to the ops whose output shapes depend on data)\n");
            engine_session head = *s;
            head.cur = stg->head;
            engine_session_placement(&head, write, user);
        }
        for (int j = 0; j < stg->n_host; ++j) {
            snprintf(line, sizeof line, "placement: host     %s '%.160s' (libengine, between stages: its output shape depends on data)\n",
                     stg->host[j]->op_type, stg->host[j]->name);
            write(user, line);
        }
        if (stg->tail) {
            write(user, "placement: next stage (specialised on the shapes and values the data gave)\n");
            engine_session_placement(stg->tail, write, user);
        }
        return ENGINE_OK;
    }
    eng_graph *g = sp->graph;
    for (int b = 0; b < s->n_order; ++b) {
        int count = 0;
        for (int k = 0; k < g->n_nodes; ++k) count += sp->placement[k] == s->order[b];
        snprintf(line, sizeof line, "placement: %-8s %d node%s", s->order[b]->mod->name, count,
                 count == 1 ? "" : "s");
        write(user, line);
        /* Which ops run there: each op type once, in graph order, with its count. */
        for (int k = 0, listed = 0; k < g->n_nodes; ++k) {
            if (sp->placement[k] != s->order[b]) continue;
            const char *op = g->nodes[k]->op_type;
            int seen = 0, n = 0;
            for (int j = 0; j < g->n_nodes; ++j)
                if (sp->placement[j] == s->order[b] && strcmp(g->nodes[j]->op_type, op) == 0) {
                    seen |= j < k;
                    n++;
                }
            if (seen) continue;
            if (n > 1) snprintf(line, sizeof line, "%s%.64s x%d", listed ? ", " : ": ", op, n);
            else snprintf(line, sizeof line, "%s%.64s", listed ? ", " : ": ", op);
            listed = 1;
            write(user, line);
        }
        write(user, "\n");
    }
    snprintf(line, sizeof line, "placement: %d partition%s, %d cop%s at seams, %zu bytes moved per run\n", sp->n_parts,
             sp->n_parts == 1 ? "" : "s", sp->copies, sp->copies == 1 ? "y" : "ies", sp->copy_bytes);
    write(user, line);
    return ENGINE_OK;
}

/* A staged signature's timings: the head's nodes, the host ops (backend
 * "host") and the tail's (recursively), start times from the start of the
 * run; kept in the stage until its next call. */
static engine_status stage_timings(const engine_session *s, eng_stage *stg, const engine_node_timing **timings,
                                   int *count) {
    const engine_node_timing *tt = NULL;
    int tn = 0;
    engine_status st;
    if (stg->tail && (st = engine_session_timings(stg->tail, &tt, &tn))) return st;
    int hn = stg->head ? stg->head->graph->n_nodes : 0;
    int need = hn + stg->n_host + tn;
    if (need > stg->cap_all) {
        engine_node_timing *na = eng_realloc(s->ctx, stg->all, (size_t)stg->cap_all * sizeof *na, (size_t)need * sizeof *na);
        if (!na) return eng_error(s->ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory gathering the stages' timings");
        stg->all = na;
        stg->cap_all = need;
    }
    int n = 0;
    for (int k = 0; k < hn; ++k) stg->all[n++] = stg->head->timings[k];
    for (int j = 0; j < stg->n_host; ++j) {
        engine_node_timing *t = &stg->all[n++];
        t->node = stg->host[j]->name;
        t->op = stg->host[j]->op_type;
        t->backend = "host";
        t->start_ms = stg->host_t0[j];
        t->ms = stg->host_ms[j];
    }
    for (int k = 0; k < tn; ++k) {
        stg->all[n] = tt[k];
        stg->all[n++].start_ms += stg->tail_t0;
    }
    *timings = stg->all;
    *count = n;
    return ENGINE_OK;
}

engine_status engine_session_timings(const engine_session *s, const engine_node_timing **timings, int *count) {
    if (!s || !timings || !count) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!s->cur) {
        *timings = NULL;
        *count = 0;
        return ENGINE_OK;
    }
    if (s->cur->stage) return stage_timings(s, s->cur->stage, timings, count);
    *timings = s->cur->timings;
    *count = s->cur->graph->n_nodes;
    return ENGINE_OK;
}

size_t engine_session_arena_bytes(const engine_session *s) {
    return s && s->cur ? s->cur->arena_bytes : 0;
}

engine_status engine_session_get_stats(const engine_session *s, engine_session_stats *out) {
    if (!s || !out) return ENGINE_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    if (s->cur) spec_stats(s->cur, out);
    return ENGINE_OK;
}
