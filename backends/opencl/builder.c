/* backends/opencl/builder.c - the compile-time builder core shared by the
 * per-family emitters (ocl_builder.h): errors, growing arrays, the meta
 * buffer, slots (arena, weights, integer constants, Concat aliases),
 * launches and their typed arguments, and the small per-op facts the
 * supports checks share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alias.h"
#include "ocl_builder.h"

/* ---- errors and growing arrays ---- */

void ocl_node_err(ocl_builder *b, const engine_node *n, engine_status st, const char *fmt, const char *what) {
    if (b->st) return;
    b->st = st;
    if (b->err && b->err_size) {
        char msg[600];
        snprintf(msg, sizeof msg, fmt, what);
        snprintf(b->err, b->err_size, "node '%s' (%s) on opencl device '%s': %s", n ? n->name : "?",
                 n ? n->op_type : "?", b->s->dev.name, msg);
    }
}

void ocl_oom(ocl_builder *b) {
    if (b->st) return;
    b->st = ENGINE_ERR_OUT_OF_MEMORY;
    if (b->err && b->err_size) snprintf(b->err, b->err_size, "opencl: out of host memory while compiling");
}

int ocl_grow(ocl_builder *b, void **ptr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *np = ocl_xalloc(b->s, nc * elem);
    if (!np) {
        ocl_oom(b);
        return 0;
    }
    if (*ptr) {
        memcpy(np, *ptr, *cap * elem);
        ocl_xfree(b->s, *ptr);
    }
    *ptr = np;
    *cap = nc;
    return 1;
}

int ocl_meta_add(ocl_builder *b, const int *v, int n) {
    if (b->st || !ocl_grow(b, (void **)&b->meta, &b->cap_meta, b->n_meta + (size_t)n + 1, sizeof(int))) return -1;
    if (b->n_meta + (size_t)n > INT_MAX) {
        ocl_node_err(b, NULL, ENGINE_ERR_UNSUPPORTED, "%s", "too many parameters");
        return -1;
    }
    int off = (int)b->n_meta;
    if (n) memcpy(b->meta + b->n_meta, v, sizeof(int) * (size_t)n);
    b->n_meta += (size_t)n;
    return off;
}

/* ---- slots ---- */

int ocl_find_in(engine_value *const *list, int n, const engine_value *v) {
    for (int k = 0; k < n; ++k)
        if (list[k] == v) return k;
    return -1;
}

static int slot_find(ocl_builder *b, const engine_value *v) {
    for (int k = b->p->n_slots - 1; k >= 0; --k)
        if (b->p->slots[k].v == v) return k;
    return -1;
}

int ocl_slot_new(ocl_builder *b, const engine_value *v, engine_dtype dt, int buf, size_t count) {
    ocl_program *p = b->p;
    size_t cap = (size_t)b->cap_slots;
    if (!ocl_grow(b, (void **)&p->slots, &cap, (size_t)p->n_slots + 1, sizeof(ocl_slot))) return -1;
    b->cap_slots = (int)cap;
    ocl_slot *sl = &p->slots[p->n_slots];
    memset(sl, 0, sizeof *sl);
    sl->v = v;
    sl->buf = buf;
    sl->lng = dclass(dt) == 1;
    sl->esz = sl->lng ? 8 : ocl_tsize(b->s);
    sl->count = count;
    sl->first = sl->last = b->step;
    sl->part_in = sl->part_out = -1;
    sl->root = -1;
    return p->n_slots++;
}

int ocl_slot_read(ocl_builder *b, const engine_value *v) {
    if (b->st) return -1;
    int k = slot_find(b, v);
    if (k >= 0) {
        if (b->p->slots[k].buf == BUF_ARENA && b->p->slots[k].last < b->step) b->p->slots[k].last = b->step;
        return k;
    }
    size_t count = (size_t)numel(v);
    if (v->data && dclass(v->dtype) == 1) {
        k = ocl_slot_new(b, v, v->dtype, BUF_IWEIGHTS, count);
        if (k < 0 || !ocl_grow(b, (void **)&b->iwts, &b->cap_iwts, b->n_iwts + count + 16, sizeof(int64_t)))
            return -1;
        b->n_iwts = (b->n_iwts + 15) / 16 * 16;
        b->p->slots[k].off = b->n_iwts;
        for (size_t e = 0; e < count; ++e) b->iwts[b->n_iwts + e] = int_at(v->dtype, v->data, e);
        b->n_iwts += count;
        return k;
    }
    if (v->data) {
        k = ocl_slot_new(b, v, v->dtype, BUF_WEIGHTS, count);
        if (k < 0) return -1;
        size_t need = b->n_wts + count + 32;
        if (!ocl_grow(b, (void **)&b->wts, &b->cap_wts, need, sizeof(float))) return -1;
        /* Keep every weight 128-byte aligned (CLBlast and vector loads). */
        b->n_wts = (b->n_wts + 31) / 32 * 32;
        b->p->slots[k].off = b->n_wts;
        for (size_t e = 0; e < count; ++e)
            b->wts[b->n_wts + e] = v->dtype == ENGINE_DTYPE_BOOL ? (float)(((const uint8_t *)v->data)[e] != 0)
                                                                  : ((const float *)v->data)[e];
        b->n_wts += count;
        return k;
    }
    int pin = ocl_find_in(b->part->inputs, b->part->n_inputs, v);
    if (pin < 0) {
        ocl_node_err(b, b->part->nodes[b->step], ENGINE_ERR_INVALID_MODEL, "input '%s' is not produced before use",
                     v->name);
        return -1;
    }
    k = ocl_slot_new(b, v, v->dtype, BUF_ARENA, count);
    if (k < 0) return -1;
    b->p->slots[k].first = 0;
    b->p->slots[k].part_in = pin;
    return k;
}

/* The root of v's Concat-alias chain (ir.h), with v's element offset in
 * it, when the chain may share the root's slot here: the shared rule of
 * engine/alias.h (every link and the root written inside this partition,
 * no link but the root a partition output, each slice inside its target),
 * plus one dtype throughout and an offset of whole elements, since the
 * device stores integers wider than the host does. NULL: v gets storage of
 * its own (the Concat then copies it; same result). ENGINE_OPENCL_NO_ALIAS=1
 * turns it off. */
static const engine_value *alias_root(const ocl_builder *b, const engine_value *v, size_t *elems) {
    if (!v->alias_of) return NULL;
    const char *off = getenv("ENGINE_OPENCL_NO_ALIAS");
    if (off && strcmp(off, "0") != 0) return NULL;
    engine_alias_query q = engine_alias_partition_query(b->part);
    size_t bytes = 0, hs = host_size(v->dtype);
    const engine_value *root = engine_alias_resolve(v, &q, &bytes);
    if (root == v) return NULL;
    for (const engine_value *c = v; c != root; c = c->alias_of)
        if (c->alias_of->dtype != v->dtype) return NULL;
    if (bytes % hs) return NULL;
    *elems = bytes / hs;
    return root;
}

int ocl_slot_write(ocl_builder *b, const engine_value *v) {
    if (b->st) return -1;
    int k = -1;
    if (!v->data) {
        size_t ae = 0;
        const engine_value *root = alias_root(b, v, &ae);
        if (root) {
            /* The root's slot is created by its first member (the Concat
             * that writes the root comes later) and planned once. */
            int r = slot_find(b, root);
            if (r < 0 && (r = ocl_slot_new(b, root, root->dtype, BUF_ARENA, (size_t)numel(root))) < 0) return -1;
            if ((k = ocl_slot_new(b, v, v->dtype, BUF_ARENA, (size_t)numel(v))) < 0) return -1;
            b->p->slots[k].root = r;
            b->p->slots[k].aoff = ae;
            return k;
        }
        /* An alias root written now: its slot exists when a member came first. */
        k = slot_find(b, v);
        if (k >= 0 && b->p->slots[k].buf == BUF_ARENA && b->p->slots[k].part_in < 0 && b->p->slots[k].root < 0) {
            if (b->p->slots[k].last < b->step) b->p->slots[k].last = b->step;
        } else {
            k = -1;
        }
    }
    /* A constant output of a node that still runs: scratch (readers use data). */
    if (k < 0) k = ocl_slot_new(b, v->data ? NULL : v, v->dtype, BUF_ARENA, (size_t)numel(v));
    if (k < 0) return -1;
    int pout = v->data ? -1 : ocl_find_in(b->part->outputs, b->part->n_outputs, v);
    if (pout >= 0) {
        b->p->slots[k].part_out = pout;
        b->p->slots[k].last = INT_MAX; /* fixed up to the last step */
    }
    return k;
}

int ocl_slot_home(const ocl_program *p, int k, size_t *off) {
    *off = p->slots[k].root >= 0 ? p->slots[k].aoff : 0;
    return p->slots[k].root >= 0 ? p->slots[k].root : k;
}

/* ---- launches ---- */

ocl_launch *ocl_launch_new(ocl_builder *b, const char *kname, size_t global) {
    if (b->st) return NULL;
    size_t cap = (size_t)b->cap_launches;
    if (!ocl_grow(b, (void **)&b->p->launches, &cap, (size_t)b->p->n_launches + 1, sizeof(ocl_launch))) return NULL;
    b->cap_launches = (int)cap;
    ocl_launch *l = &b->p->launches[b->p->n_launches++];
    memset(l, 0, sizeof *l);
    l->step = b->step;
    l->kname = kname;
    l->global = global;
    return l;
}

/* What a launch's error flag means, in the reference's words
 * (ref_kernel_failure), so that every backend reports a run-time error
 * alike. */
static const char *flag_reason(engine_op op) {
    switch (op) {
    case ENGINE_OP_Gather: case ENGINE_OP_GatherElements: case ENGINE_OP_GatherND: case ENGINE_OP_ScatterElements:
    case ENGINE_OP_ScatterND:
        return "an index read at run time is out of range";
    case ENGINE_OP_RoiAlign: return "a batch index out of range, or a box coordinate that is not finite";
    default: return "integer division by zero";
    }
}

void ocl_launch_args(ocl_builder *b, const char *kname, size_t global, const ocl_arg *args, int nargs) {
    if (b->st || global == 0) return;
    if (nargs > OCL_MAX_ARGS) { /* a module kernel never has that many: a bug here */
        b->st = ENGINE_ERR_INTERNAL;
        return;
    }
    ocl_launch *l = ocl_launch_new(b, kname, global);
    if (!l) return;
    for (int k = 0; k < nargs; ++k) {
        const ocl_arg *a = &args[k];
        l->args[l->nargs++] = *a;
        /* A tensor of no slot: an emitter read a slot after an error it
         * did not test; the launch would bind garbage. */
        if (a->kind == OCL_ARG_TENSOR && a->i < 0) b->st = b->st ? b->st : ENGINE_ERR_INTERNAL;
        if (a->kind == OCL_ARG_FLAG) {
            b->has_flag = 1;
            /* The message run returns when the kernel sets the flag. */
            if (b->step < b->part->n_nodes) {
                const engine_node *fn = b->part->nodes[b->step];
                snprintf(l->what, sizeof l->what, "node '%.80s' (%.40s) on opencl device '%.60s': %s", fn->name,
                         fn->op_type, b->s->dev.name, flag_reason(fn->op));
            }
        }
    }
}

/* ---- per-op facts shared by the supports checks ---- */

int ocl_act_code(const engine_epilogue *e, float *a, float *bb) {
    *a = e->alpha;
    *bb = e->beta;
    switch (e->act) {
    case ENGINE_ACT_NONE: return U_COPY;
    case ENGINE_ACT_RELU: return U_RELU;
    case ENGINE_ACT_CLIP: return U_CLIP;
    case ENGINE_ACT_LEAKY_RELU: return U_LEAKY;
    case ENGINE_ACT_SIGMOID: return U_SIGMOID;
    case ENGINE_ACT_HARD_SIGMOID: return U_HSIGMOID;
    case ENGINE_ACT_HARD_SWISH: return U_HSWISH;
    case ENGINE_ACT_SILU: return U_SILU;
    case ENGINE_ACT_MISH: return U_MISH;
    case ENGINE_ACT_TANH: return U_TANH;
    case ENGINE_ACT_GELU: *a = e->alpha != 0.0f ? 1.0f : 0.0f; return U_GELU;
    }
    return -1;
}

int ocl_all_f32(const engine_node *n, int nd) {
    for (int k = 0; k < n->n_inputs && k < nd; ++k)
        if (n->inputs[k] && n->inputs[k]->dtype != ENGINE_DTYPE_F32) return 0;
    return n->outputs[0]->dtype == ENGINE_DTYPE_F32;
}

int ocl_data_inputs(const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: return 4;
    case ENGINE_OP_BatchNormalization: return 5;
    case ENGINE_OP_InstanceNormalization: case ENGINE_OP_Gemm: case ENGINE_OP_Where: case ENGINE_OP_QuantizeLinear:
    case ENGINE_OP_DequantizeLinear: case ENGINE_OP_ScatterElements:
    case ENGINE_OP_ScatterND: case ENGINE_OP_LayerNormalization: case ENGINE_OP_GroupNormalization:
    case ENGINE_OP_RoiAlign:
        return 3;
    case ENGINE_OP_Add: case ENGINE_OP_Sub: case ENGINE_OP_Mul: case ENGINE_OP_Div: case ENGINE_OP_Pow:
    case ENGINE_OP_PRelu: case ENGINE_OP_Equal: case ENGINE_OP_MatMul: case ENGINE_OP_Gather:
    case ENGINE_OP_GatherElements: case ENGINE_OP_GatherND:
    case ENGINE_OP_Greater: case ENGINE_OP_Less: case ENGINE_OP_GreaterOrEqual: case ENGINE_OP_LessOrEqual:
    case ENGINE_OP_And: case ENGINE_OP_Or: case ENGINE_OP_Xor: case ENGINE_OP_Mod: case ENGINE_OP_GridSample:
        return 2;
    case ENGINE_OP_Concat: case ENGINE_OP_Min: case ENGINE_OP_Max: case ENGINE_OP_Sum: case ENGINE_OP_Mean:
    case ENGINE_OP_Einsum:
        return INT_MAX;
    default: return 1;
    }
}

void ocl_launch_geometry(ocl_builder *b, const size_t *gs, const size_t *ls, int use_local) {
    if (b->st || !b->p->n_launches) return;
    ocl_launch *l = &b->p->launches[b->p->n_launches - 1];
    if (!gs[0] || !gs[1] || !gs[2]) {
        --b->p->n_launches; /* an empty range: nothing to launch */
        return;
    }
    l->work_dim = 3;
    for (int d = 0; d < 3; ++d) {
        l->gsz[d] = gs[d];
        l->lsz[d] = ls[d];
    }
    l->use_local = use_local;
}

size_t ocl_group_size(ocl_builder *b, const char *kname, size_t want) {
    if (b->st) return 0;
    cl_int e = CL_SUCCESS;
    cl_kernel k = b->s->cl->CreateKernel(b->s->program, kname, &e);
    if (!k || e) {
        char what[96];
        snprintf(what, sizeof what, "creating kernel %s (%s)", kname, ocl_err_name(e ? e : CL_INVALID_KERNEL));
        ocl_node_err(b, b->step < b->part->n_nodes ? b->part->nodes[b->step] : NULL, ENGINE_ERR_BACKEND, "%s", what);
        return 0;
    }
    size_t wg = 1;
    while (wg * 2 <= want && wg * 2 <= 256) wg *= 2;
    while (wg > 1 && !ocl_kernel_fits(b->s, k, wg, NULL, 0)) wg /= 2;
    b->s->cl->ReleaseKernel(k);
    return wg;
}

int ocl_wts_new(ocl_builder *b, size_t count, float **data) {
    int k = ocl_slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_WEIGHTS, count);
    if (k < 0 || !ocl_grow(b, (void **)&b->wts, &b->cap_wts, b->n_wts + count + 32, sizeof(float))) return -1;
    b->n_wts = (b->n_wts + 31) / 32 * 32; /* 128-byte aligned, as constants */
    b->p->slots[k].off = b->n_wts;
    *data = b->wts + b->n_wts;
    memset(*data, 0, count * sizeof(float));
    b->n_wts += count;
    return k;
}

/* ---- the weight store (ocl_builder.h, ocl_wts_shared) ----
 * Reference counted by the programs; a key's source arrays stay alive and
 * unchanged while an entry does (the engine keeps a partition's constants
 * alive while a program compiled from it lives). */
typedef struct ocl_wentry {
    ocl_wkey key;
    size_t count;
    cl_mem mem;
    int refs;
    struct ocl_wentry *next;
} ocl_wentry;

static int hold(ocl_builder *b, ocl_wentry *e) {
    ocl_program *p = b->p;
    if (p->n_shared == p->cap_shared) {
        int ncap = p->cap_shared ? p->cap_shared * 2 : 16;
        ocl_wentry **ns = ocl_xalloc(b->s, (size_t)ncap * sizeof *ns);
        if (!ns) return 0;
        if (p->n_shared) memcpy(ns, p->shared, (size_t)p->n_shared * sizeof *ns);
        ocl_xfree(b->s, p->shared);
        p->shared = ns;
        p->cap_shared = ncap;
    }
    p->shared[p->n_shared++] = e;
    e->refs++;
    return 1;
}

int ocl_wts_shared(ocl_builder *b, const ocl_wkey *key, size_t count, void (*pack)(const void *ctx, float *dst),
                   const void *ctx) {
    ocl_state *s = b->s;
    if (b->st) return -1;
    ocl_wentry *e = s->wstore;
    while (e && !(e->count == count && memcmp(&e->key, key, sizeof *key) == 0)) e = e->next;
    if (!e) {
        float *host = ocl_xalloc(s, count * sizeof(float));
        void *dev = ocl_xalloc(s, count * ocl_tsize(s));
        e = ocl_xalloc(s, sizeof *e);
        if (!host || !dev || !e) {
            ocl_xfree(s, host);
            ocl_xfree(s, dev);
            ocl_xfree(s, e);
            b->st = ENGINE_ERR_OUT_OF_MEMORY;
            snprintf(b->err, b->err_size, "opencl: out of memory packing weights");
            return -1;
        }
        memset(host, 0, count * sizeof(float));
        pack(ctx, host);
        ocl_to_storage(s, ENGINE_DTYPE_F32, host, dev, count);
        ocl_xfree(s, host);
        cl_int err = CL_SUCCESS;
        cl_mem mem = s->cl->CreateBuffer(s->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, count * ocl_tsize(s), dev, &err);
        ocl_xfree(s, dev);
        if (!mem || err) {
            ocl_xfree(s, e);
            b->st = err == CL_OUT_OF_HOST_MEMORY ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND;
            snprintf(b->err, b->err_size, "opencl: device '%s': uploading packed weights failed (%s)", s->dev.name,
                     ocl_err_name(err ? err : CL_MEM_OBJECT_ALLOCATION_FAILURE));
            return -1;
        }
        e->key = *key;
        e->count = count;
        e->mem = mem;
        e->refs = 0;
        e->next = s->wstore;
        s->wstore = e;
        b->p->weight_bytes += count * ocl_tsize(s); /* packed by this compile */
    }
    if (!hold(b, e)) {
        if (e->refs == 0) ocl_wstore_unref(s, (e->refs = 1, e));
        b->st = ENGINE_ERR_OUT_OF_MEMORY;
        snprintf(b->err, b->err_size, "opencl: out of memory holding packed weights");
        return -1;
    }
    int k = ocl_slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_SHARED, count);
    if (k < 0) return -1; /* the program's reference is dropped at release */
    b->p->slots[k].mem = e->mem;
    b->p->slots[k].off = 0;
    return k;
}

void ocl_wstore_unref(ocl_state *s, ocl_wentry *e) {
    if (--e->refs > 0) return;
    for (ocl_wentry **pe = &s->wstore; *pe; pe = &(*pe)->next)
        if (*pe == e) {
            *pe = e->next;
            break;
        }
    s->cl->ReleaseMemObject(e->mem);
    ocl_xfree(s, e);
}

void ocl_wstore_free(ocl_state *s) {
    while (s->wstore) {
        ocl_wentry *e = s->wstore;
        s->wstore = e->next;
        s->cl->ReleaseMemObject(e->mem);
        ocl_xfree(s, e);
    }
}
