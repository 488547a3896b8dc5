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
#include <string.h>
#include <time.h>

#include "model.h"

typedef struct partition_rt {
    eng_backend *backend;
    engine_partition part;
    const engine_node **nodes;
    engine_value **inputs;
    engine_value **outputs;
    void *program;
    const void **in_ptrs;
    void **out_ptrs;
    int first_node; /* index in the graph's node list */
} partition_rt;

struct engine_session {
    engine_model *model;
    engine_context *ctx;
    eng_backend **order; /* priority order of usable backends */
    int n_order;
    eng_backend **placement; /* per graph node */
    partition_rt *parts;
    int n_parts;
    /* Host buffers: value index -> pointer for this run. */
    void **slot;
    unsigned char *arena;
    size_t arena_bytes;
    size_t *arena_offset; /* per value, SIZE_MAX when not in the arena */
    int copies;
    size_t copy_bytes;
    int profile;
    engine_node_timing *timings;
    double run_start_ms;
    int timing_part;
    int keep_all; /* keep_intermediates: every produced value is a seam */
    int ran;      /* a run has completed: slots hold its values */
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

const char *eng_session_node_backend(const engine_session *s, const engine_node *n);
const char *eng_session_node_backend(const engine_session *s, const engine_node *n) {
    if (!s || n->index < 0 || n->index >= s->model->graph->n_nodes || s->model->graph->nodes[n->index] != n)
        return NULL;
    return s->placement[n->index] ? s->placement[n->index]->name : NULL;
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
            engine_status st = eng_backend_ensure(ctx, found, o);
            if (st) {
                if (o->strict) return st;
                eng_log(ctx, ENGINE_LOG_WARN, "%s; falling back", ctx->message);
            } else {
                int dup = 0;
                for (int k = 0; k < n; ++k) dup |= s->order[k] == found;
                if (!dup) s->order[n++] = found;
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
            for (int j = 0; j < n; ++j) dup |= s->order[j] == b;
            if (dup) continue;
            if (eng_backend_ensure(ctx, b, o)) {
                eng_log(ctx, ENGINE_LOG_WARN, "%s", ctx->message);
                continue;
            }
            s->order[n++] = b;
        }
        for (int a = start; a < n; ++a)
            for (int b = a + 1; b < n; ++b)
                if (s->order[b]->iface->score(s->order[b]->state) > s->order[a]->iface->score(s->order[a]->state)) {
                    eng_backend *t = s->order[a];
                    s->order[a] = s->order[b];
                    s->order[b] = t;
                }
        if (o->strict && n > 1) n = 1;
    }
    if (n == 0) return eng_error(ctx, ENGINE_ERR_BACKEND, "no usable backend: %s", ctx->message);
    s->n_order = n;
    return ENGINE_OK;
}

static engine_status place(engine_session *s, int strict) {
    eng_graph *g = s->model->graph;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        for (int b = 0; b < s->n_order; ++b)
            if (s->order[b]->iface->supports(s->order[b]->state, n)) {
                s->placement[k] = s->order[b];
                break;
            }
        if (!s->placement[k]) {
            if (strict)
                return eng_node_error(s->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                      "not supported by backend '%s' and --strict forbids falling back",
                                      s->order[0]->name);
            return eng_node_error(s->ctx, n, ENGINE_ERR_UNSUPPORTED, "no loaded backend supports this node");
        }
    }
    return ENGINE_OK;
}

static int is_activation(const engine_value *v) {
    return v && !(v->flags & ENGINE_VALUE_CONST);
}

/* Builds partitions and their input/output lists; sizes the seam arena. */
static engine_status build_partitions(engine_session *s) {
    engine_context *ctx = s->ctx;
    eng_graph *g = s->model->graph;
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
        if (k == 0 || s->placement[k] != s->placement[k - 1]) np++;
        node_part[k] = np - 1;
    }
    s->parts = eng_calloc(ctx, (size_t)np + 1, sizeof *s->parts);
    if (!s->parts) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory building partitions");
        goto done;
    }
    s->n_parts = np;
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
                    s->copies++;
                    s->copy_bytes += engine_value_nbytes(v);
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
        partition_rt *pr = &s->parts[p];
        int first = -1, count = 0;
        for (int k = 0; k < nn; ++k)
            if (node_part[k] == p) {
                if (first < 0) first = k;
                count++;
            }
        pr->first_node = first;
        pr->backend = s->placement[first];
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
        s->arena_offset[v] = SIZE_MAX;
        if (seam[v] == 1) {
            s->arena_offset[v] = off;
            off += (engine_value_nbytes(g->values[v]) + 63) & ~(size_t)63;
        }
    }
    eng_free(ctx, seam);
    s->arena_bytes = off;
    if (off) {
        s->arena = eng_alloc(ctx, off);
        if (!s->arena) {
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
static engine_status compile_all(engine_session *s, eng_backend **failed) {
    for (int p = 0; p < s->n_parts; ++p) {
        partition_rt *pr = &s->parts[p];
        char err[1024] = "";
        engine_status st = pr->backend->iface->compile(pr->backend->state, &pr->part, &pr->program, err, sizeof err);
        if (st) {
            pr->program = NULL;
            *failed = pr->backend;
            return eng_error(s->ctx, st, "backend '%s' failed to compile: %s", pr->backend->name,
                             err[0] ? err : engine_status_str(st));
        }
    }
    return ENGINE_OK;
}

/* Releases the partitions, their programs and the seam arena, and clears
 * the placement (so that placement can run again). */
static void free_partitions(engine_session *s) {
    engine_context *ctx = s->ctx;
    for (int p = 0; p < s->n_parts; ++p) {
        partition_rt *pr = &s->parts[p];
        if (pr->program) pr->backend->iface->release(pr->backend->state, pr->program);
        eng_free(ctx, pr->nodes);
        eng_free(ctx, pr->inputs);
        eng_free(ctx, pr->outputs);
        eng_free(ctx, pr->in_ptrs);
        eng_free(ctx, pr->out_ptrs);
    }
    eng_free(ctx, s->parts);
    eng_free(ctx, s->arena);
    s->parts = NULL;
    s->n_parts = 0;
    s->arena = NULL;
    s->arena_bytes = 0;
    s->copies = 0;
    s->copy_bytes = 0;
    if (s->placement) memset(s->placement, 0, sizeof *s->placement * ((size_t)s->model->graph->n_nodes + 1));
}

void engine_session_free(engine_session *s) {
    if (!s) return;
    engine_context *ctx = s->ctx;
    free_partitions(s);
    eng_free(ctx, s->order);
    eng_free(ctx, s->placement);
    eng_free(ctx, s->slot);
    eng_free(ctx, s->arena_offset);
    eng_free(ctx, s->timings);
    eng_free(ctx, s);
}

engine_status engine_session_create(engine_model *model, const engine_session_options *opts, engine_session **out) {
    if (!model || !out) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_context *ctx = model->ctx;
    engine_session_options o;
    memset(&o, 0, sizeof o);
    if (opts) o = *opts;
    eng_graph *g = model->graph;
    engine_status st;
    engine_session *s = eng_calloc(ctx, 1, sizeof *s);
    if (!s) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    s->model = model;
    s->ctx = ctx;
    s->profile = o.profile;
    s->keep_all = o.keep_intermediates != 0;
    s->order = eng_calloc(ctx, ENG_MAX_BACKENDS, sizeof *s->order);
    s->placement = eng_calloc(ctx, (size_t)g->n_nodes + 1, sizeof *s->placement);
    s->slot = eng_calloc(ctx, (size_t)g->n_values + 1, sizeof *s->slot);
    s->arena_offset = eng_calloc(ctx, (size_t)g->n_values + 1, sizeof *s->arena_offset);
    s->timings = eng_calloc(ctx, (size_t)g->n_nodes + 1, sizeof *s->timings);
    if (!s->order || !s->placement || !s->slot || !s->arena_offset || !s->timings) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory creating a session");
        goto fail;
    }
    if ((st = resolve_order(s, &o))) goto fail;
    /* A backend whose compile fails (a device fault, device memory, a kernel
     * build the driver refuses) is dropped and its nodes placed again on
     * the next backends; --strict fails instead. */
    for (;;) {
        eng_backend *failed = NULL;
        if ((st = place(s, o.strict))) goto fail;
        if ((st = build_partitions(s))) goto fail;
        if (!(st = compile_all(s, &failed))) break;
        if (o.strict || !failed || s->n_order < 2) goto fail;
        eng_log(ctx, ENGINE_LOG_WARN, "%s; falling back", ctx->message);
        int k = 0;
        while (k < s->n_order && s->order[k] != failed) ++k;
        if (k == s->n_order) goto fail;
        for (; k + 1 < s->n_order; ++k) s->order[k] = s->order[k + 1];
        --s->n_order;
        free_partitions(s);
    }
    for (int k = 0; k < g->n_nodes; ++k) {
        s->timings[k].node = g->nodes[k]->name;
        s->timings[k].op = g->nodes[k]->op_type;
        s->timings[k].backend = s->placement[k]->name;
    }
    *out = s;
    return ENGINE_OK;
fail:
    engine_session_free(s);
    return st;
}

static void on_timing(void *user, int node_in_partition, double start_ms, double ms) {
    engine_session *s = user;
    partition_rt *pr = &s->parts[s->timing_part];
    if (node_in_partition < 0 || node_in_partition >= pr->part.n_nodes) return;
    engine_node_timing *t = &s->timings[pr->first_node + node_in_partition];
    t->start_ms = s->run_start_ms + start_ms;
    t->ms = ms;
}

engine_status engine_session_run(engine_session *s, const void *const *inputs, void *const *outputs) {
    if (!s || (!inputs && s->model->graph->n_inputs) || !outputs) return ENGINE_ERR_INVALID_ARGUMENT;
    engine_context *ctx = s->ctx;
    eng_graph *g = s->model->graph;
    for (int v = 0; v < g->n_values; ++v) {
        engine_value *val = g->values[v];
        s->slot[v] = val->data ? val->data : (s->arena_offset[v] != SIZE_MAX ? s->arena + s->arena_offset[v] : NULL);
    }
    for (int k = 0; k < g->n_inputs; ++k) {
        if (!inputs[k]) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "input %d ('%s') is NULL", k, g->inputs[k]->name);
        s->slot[g->inputs[k]->index] = (void *)inputs[k];
    }
    for (int k = 0; k < g->n_outputs; ++k) {
        engine_value *v = g->outputs[k];
        if (!outputs[k]) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "output %d ('%s') is NULL", k, v->name);
        if (v->producer) s->slot[v->index] = outputs[k];
    }
    s->ran = 0;
    double t0 = now_ms();
    for (int p = 0; p < s->n_parts; ++p) {
        partition_rt *pr = &s->parts[p];
        for (int i = 0; i < pr->part.n_inputs; ++i) pr->in_ptrs[i] = s->slot[pr->inputs[i]->index];
        for (int o = 0; o < pr->part.n_outputs; ++o) pr->out_ptrs[o] = s->slot[pr->outputs[o]->index];
        char err[1024] = "";
        s->timing_part = p;
        s->run_start_ms = now_ms() - t0;
        engine_status st = pr->backend->iface->run(pr->backend->state, pr->program, pr->in_ptrs, pr->out_ptrs,
                                                   s->profile ? on_timing : NULL, s, err, sizeof err);
        if (st)
            return eng_error(ctx, st, "backend '%s' failed to run: %s", pr->backend->name,
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
    s->ran = 1;
    return ENGINE_OK;
}

engine_status engine_session_node_output(const engine_session *s, int node, int output, const char **node_name,
                                         const char **op, engine_tensor_info *info, const void **data) {
    if (!s) return ENGINE_ERR_INVALID_ARGUMENT;
    eng_graph *g = s->model->graph;
    if (!s->keep_all)
        return eng_error(s->ctx, ENGINE_ERR_INVALID_ARGUMENT,
                         "engine_session_node_output needs a session created with keep_intermediates");
    if (!s->ran) return eng_error(s->ctx, ENGINE_ERR_INVALID_ARGUMENT, "engine_session_node_output: no run yet");
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
    if (data) *data = s->slot[v->index];
    return ENGINE_OK;
}

engine_status engine_session_placement(const engine_session *s, engine_write_fn write, void *user) {
    if (!s || !write) return ENGINE_ERR_INVALID_ARGUMENT;
    char line[256];
    eng_graph *g = s->model->graph;
    for (int b = 0; b < s->n_order; ++b) {
        int count = 0;
        for (int k = 0; k < g->n_nodes; ++k) count += s->placement[k] == s->order[b];
        snprintf(line, sizeof line, "placement: %-8s %d node%s\n", s->order[b]->name, count, count == 1 ? "" : "s");
        write(user, line);
    }
    snprintf(line, sizeof line, "placement: %d partition%s, %d cop%s at seams, %zu bytes moved per run\n", s->n_parts,
             s->n_parts == 1 ? "" : "s", s->copies, s->copies == 1 ? "y" : "ies", s->copy_bytes);
    write(user, line);
    return ENGINE_OK;
}

engine_status engine_session_timings(const engine_session *s, const engine_node_timing **timings, int *count) {
    if (!s || !timings || !count) return ENGINE_ERR_INVALID_ARGUMENT;
    *timings = s->timings;
    *count = s->model->graph->n_nodes;
    return ENGINE_OK;
}

size_t engine_session_arena_bytes(const engine_session *s) {
    return s ? s->arena_bytes : 0;
}

engine_status engine_session_get_stats(const engine_session *s, engine_session_stats *out) {
    if (!s || !out) return ENGINE_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->seam_bytes = s->arena_bytes;
    out->n_partitions = s->n_parts;
    for (int k = 0; k < s->n_parts; ++k) {
        const partition_rt *pr = &s->parts[k];
        const engine_backend_iface *it = pr->backend->iface;
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
    return ENGINE_OK;
}
