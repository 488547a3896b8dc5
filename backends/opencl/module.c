/* backends/opencl/module.c - the OpenCL backend module (engine-backend-opencl.so).
 *
 * compile turns a partition into a fixed list of launches:
 *   - every activation the partition touches (its inputs and outputs too)
 *     gets a slot in ONE device arena, placed by the host's liveness
 *     planner; constants (float/bool) are converted to the storage type and
 *     uploaded ONCE into one weight buffer; shapes and per-node integers go
 *     into one meta buffer;
 *   - each node becomes one or more launches: a kernel object whose
 *     arguments are all set at compile (buffers never move), or a CLBlast
 *     SGEMM (fp32; GEMM-shaped work) followed by an epilogue kernel.
 * run writes the partition inputs into the arena, enqueues the launches in
 * order on an in-order queue, and reads the outputs back: nothing is
 * allocated per run, and host<->device copies happen only at the seams.
 *
 * Storage is float, or half with precision fp16 (converted on the host at
 * the seams and at weight upload); bool values are stored as 0/1 in the
 * same type and converted at the seams. Integer tensors (int64, int32,
 * int8, uint8) are stored as long (OpenCL C 1.2's 64-bit integer, full
 * profile), converted at the seams, their constants in a weight buffer of
 * their own; kernels wrap results to the tensor's width.
 *
 * Concat aliases (ir.h, engine_value.alias_of): a value whose alias chain
 * is written entirely inside the partition is placed at its root's slot +
 * the summed offset, the root's lifetime covers every member's, and the
 * Concat skips an input that already sits at its destination slice. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/alias.h"
#include "engine/plugin.h"
#include "engine/resize_taps.h"
#include "ocl_codes.h"
#include "ocl_internal.h"

#define OCL_EXPORT __attribute__((visibility("default")))
#define OCL_ALIGN 128u
#define OCL_MAX_RANK 8

enum { BUF_NONE, BUF_ARENA, BUF_WEIGHTS, BUF_META, BUF_IWEIGHTS };

/* f_pad reads engine_pad_mode as it is. */
_Static_assert(ENGINE_PAD_CONSTANT == PAD_CONSTANT && ENGINE_PAD_REFLECT == PAD_REFLECT &&
                   ENGINE_PAD_EDGE == PAD_EDGE,
               "ocl_codes.h's PAD_* differ from engine_pad_mode");

/* A kernel argument recorded at compile, bound (clSetKernelArg) once the
 * buffers exist (realise). Build them with the A_* constructors below,
 * which the compiler type-checks; each produces the kernel parameters
 * named beside its kind. */
typedef enum ocl_arg_kind {
    OCL_ARG_TENSOR,  /* slot i + extra elements -> (buffer, int element offset) */
    OCL_ARG_META,    /* meta offset i -> (meta buffer, int offset) */
    OCL_ARG_WEIGHTS, /* the weight buffer (Resize's tap weights) */
    OCL_ARG_FLAG,    /* the error-flag buffer; the launch gets the node's error message */
    OCL_ARG_INT,     /* int i */
    OCL_ARG_FLOAT,   /* float f */
    OCL_ARG_LONG,    /* long (cl_long) ll */
    OCL_ARG_OWN,     /* plugin nodes: their own buffer i */
    OCL_ARG_NULL,    /* plugin nodes: a NULL buffer (an omitted input or output) */
    OCL_ARG_RAW      /* plugin nodes: `size` raw scalar bytes */
} ocl_arg_kind;

typedef struct ocl_arg {
    ocl_arg_kind kind;
    int i, extra;
    float f;
    long long ll;
    unsigned char raw[16];
    size_t size;
} ocl_arg;

/* A tensor: the value in `slot` (a slot index; negative only after an
 * error, which then makes the launch an internal error) at `extra`
 * elements past the slot's start. */
static inline ocl_arg A_T(int slot, int extra) {
    return (ocl_arg){.kind = OCL_ARG_TENSOR, .i = slot, .extra = extra};
}
/* The meta buffer at offset `off` (a meta_add result). */
static inline ocl_arg A_META(int off) {
    return (ocl_arg){.kind = OCL_ARG_META, .i = off};
}
/* The weight buffer itself, no offset. */
static inline ocl_arg A_W(void) {
    return (ocl_arg){.kind = OCL_ARG_WEIGHTS};
}
/* The error-flag buffer: the kernel writes step + 1 there on a run-time
 * error (Gather: an index out of range; else an integer division by
 * zero), and run returns that error naming the node. */
static inline ocl_arg A_FLAG(void) {
    return (ocl_arg){.kind = OCL_ARG_FLAG};
}
static inline ocl_arg A_I(int v) {
    return (ocl_arg){.kind = OCL_ARG_INT, .i = v};
}
static inline ocl_arg A_F(float v) {
    return (ocl_arg){.kind = OCL_ARG_FLOAT, .f = v};
}
static inline ocl_arg A_L(int64_t v) {
    return (ocl_arg){.kind = OCL_ARG_LONG, .ll = (long long)v};
}
/* A plugin node's own buffer (an ocl_own index). */
static inline ocl_arg A_OWN(int own) {
    return (ocl_arg){.kind = OCL_ARG_OWN, .i = own};
}
static inline ocl_arg A_NULL(void) {
    return (ocl_arg){.kind = OCL_ARG_NULL};
}

#define OCL_MAX_ARGS (2 * ENGINE_PLUGIN_MAX_IO + ENGINE_PLUGIN_CL_MAX_ARGS)

/* A buffer of a plugin node's own (offset 0, float32 or the constant's
 * bytes), created at compile with `data` copied in when non-NULL. */
typedef struct ocl_own {
    size_t size;
    const void *data;
} ocl_own;

typedef struct ocl_launch {
    int step;           /* node index in the partition */
    const char *kname;  /* NULL: a CLBlast SGEMM */
    size_t global;
    cl_program prog;    /* NULL: the module's program; else a plugin op's */
    int work_dim;       /* 0: 1-D over `global`, local chosen by the driver */
    size_t gsz[3], lsz[3];
    int use_local;
    int nargs;
    ocl_arg args[OCL_MAX_ARGS];
    cl_kernel kernel;
    /* SGEMM: C[m,n] = alpha * op(A) * op(B) + beta * C, row major. */
    int ta, tb, gm, gn, gk, lda, ldb, ldc;
    float alpha, beta;
    int a_slot, a_extra, b_slot, b_extra, c_slot, c_extra;
    char what[256]; /* launches that can set the error flag: the message of that error */
} ocl_launch;

/* Where a value lives: an arena slot or a weight-buffer range. */
typedef struct ocl_slot {
    const engine_value *v;
    int buf;        /* BUF_ARENA, BUF_WEIGHTS or BUF_IWEIGHTS */
    int lng;        /* stored as long (integer dtypes); else the storage type T */
    size_t esz;     /* device bytes per element */
    size_t count;   /* elements */
    int first, last;
    size_t off;     /* elements of esz bytes */
    int part_in, part_out; /* partition position or -1 */
    /* Concat alias: stored in slot `root` at element `aoff` (root -1: own
     * storage). A root is planned with the union of its members' lifetimes. */
    int root;
    size_t aoff;
} ocl_slot;

/* A partition output that no node writes. */
typedef struct ocl_copy {
    int out_index, in_index; /* in_index -1: from cdata */
    const void *cdata;
    size_t nbytes;
} ocl_copy;

typedef struct ocl_seam {
    int index, slot;
    engine_dtype dtype;
    size_t count;
    size_t staging; /* byte offset in the staging buffer (conversions) */
} ocl_seam;

typedef struct ocl_program {
    int n_steps;
    int n_launches;
    ocl_launch *launches;
    int n_slots;
    ocl_slot *slots;
    int n_in, n_out, n_copies;
    ocl_seam *ins, *outs;
    ocl_copy *copies;
    unsigned char *staging;
    size_t staging_bytes;
    cl_mem arena, weights, meta, iweights;
    cl_mem flag;      /* one int: step + 1 of a node that hit a run-time error (NULL: no such launch) */
    int flag_val;     /* read back after each run */
    int n_own;
    ocl_own *own_info;
    cl_mem *own;
    size_t arena_bytes, weight_bytes, meta_bytes;
    cl_event *events;
} ocl_program;

/* Compile-time builder. */
typedef struct builder {
    ocl_state *s;
    ocl_program *p;
    const engine_partition *part;
    int cap_launches, cap_slots;
    size_t cap_own;
    int *meta;
    size_t n_meta, cap_meta;
    float *wts;
    size_t n_wts, cap_wts;
    int64_t *iwts; /* integer constants (long on the device) */
    size_t n_iwts, cap_iwts;
    int has_flag;
    int step;
    char *err;
    size_t err_size;
    engine_status st;
} builder;

/* ---- small helpers ---- */

static size_t tsize(const ocl_state *s) {
    return s->fp16 ? 2 : 4;
}

static void *xalloc(ocl_state *s, size_t size) {
    return s->a.alloc(s->a.user, size ? size : 1, 64);
}

static void xfree(ocl_state *s, void *p) {
    if (p) s->a.free(s->a.user, p);
}

static void node_err(builder *b, const engine_node *n, engine_status st, const char *fmt, const char *what) {
    if (b->st) return;
    b->st = st;
    if (b->err && b->err_size) {
        char msg[600];
        snprintf(msg, sizeof msg, fmt, what);
        snprintf(b->err, b->err_size, "node '%s' (%s) on opencl device '%s': %s", n ? n->name : "?",
                 n ? n->op_type : "?", b->s->dev.name, msg);
    }
}

static void oom(builder *b) {
    if (b->st) return;
    b->st = ENGINE_ERR_OUT_OF_MEMORY;
    if (b->err && b->err_size) snprintf(b->err, b->err_size, "opencl: out of host memory while compiling");
}

static int grow(builder *b, void **ptr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *np = xalloc(b->s, nc * elem);
    if (!np) {
        oom(b);
        return 0;
    }
    if (*ptr) {
        memcpy(np, *ptr, *cap * elem);
        xfree(b->s, *ptr);
    }
    *ptr = np;
    *cap = nc;
    return 1;
}

/* Appends ints to the meta buffer; returns their offset (or -1). */
static int meta_add(builder *b, const int *v, int n) {
    if (b->st || !grow(b, (void **)&b->meta, &b->cap_meta, b->n_meta + (size_t)n + 1, sizeof(int))) return -1;
    if (b->n_meta + (size_t)n > INT_MAX) {
        node_err(b, NULL, ENGINE_ERR_UNSUPPORTED, "%s", "too many parameters");
        return -1;
    }
    int off = (int)b->n_meta;
    if (n) memcpy(b->meta + b->n_meta, v, sizeof(int) * (size_t)n);
    b->n_meta += (size_t)n;
    return off;
}

static int fits_int(int64_t v) {
    return v >= INT_MIN && v <= INT_MAX;
}

/* Device storage class of a dtype: 0 the storage type T (float32; bool as
 * 0/1), 1 long (the integer dtypes), -1 not on the device. */
static int dclass(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_F32: case ENGINE_DTYPE_BOOL: return 0;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_I32: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_U8: return 1;
    default: return -1;
    }
}

/* The kernels' width code of an integer dtype (NB_*, ocl_codes.h). */
static int nbits(engine_dtype t) {
    return t == ENGINE_DTYPE_I32 ? NB_I32 : t == ENGINE_DTYPE_I8 ? NB_I8 : t == ENGINE_DTYPE_U8 ? NB_U8 : NB_I64;
}

static int is_int(engine_dtype t) {
    return t == ENGINE_DTYPE_I64 || t == ENGINE_DTYPE_I32;
}

/* Host bytes per element (the module does not link libengine's
 * engine_dtype_size). */
static size_t host_size(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_BOOL: case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: return 1;
    case ENGINE_DTYPE_F16: return 2;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_F64: return 8;
    default: return 4;
    }
}

/* Integer host value k of dtype t, widened. */
static int64_t int_at(engine_dtype t, const void *p, size_t k) {
    switch (t) {
    case ENGINE_DTYPE_I64: return ((const int64_t *)p)[k];
    case ENGINE_DTYPE_I32: return ((const int32_t *)p)[k];
    case ENGINE_DTYPE_I8: return ((const int8_t *)p)[k];
    default: return ((const uint8_t *)p)[k];
    }
}

static int numel_ok(const engine_value *v) {
    if (!v || v->rank < 0 || v->rank > OCL_MAX_RANK) return 0;
    int64_t n = 1;
    for (int d = 0; d < v->rank; ++d) {
        if (v->dims[d] < 0 || (v->dims[d] && n > INT_MAX / v->dims[d])) return 0;
        n *= v->dims[d];
    }
    return 1;
}

static int64_t numel(const engine_value *v) {
    int64_t n = 1;
    for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
    return n;
}

/* Elements of one (n, c) plane of a [N, C, ...] value. */
static int64_t plane_of(const engine_value *v) {
    int64_t p = 1;
    for (int d = 2; d < v->rank; ++d) p *= v->dims[d];
    return p;
}

static void c_strides(const engine_value *v, int64_t *st) {
    int64_t s = 1;
    for (int d = v->rank - 1; d >= 0; --d) {
        st[d] = s;
        s *= v->dims[d];
    }
}

/* Strides of `in` over `out`'s index space (numpy broadcasting, right aligned). */
static void bcast_strides(const engine_value *in, const engine_value *out, int *st) {
    int64_t cs[ENGINE_MAX_RANK];
    c_strides(in, cs);
    for (int d = 0; d < out->rank; ++d) {
        int di = d - (out->rank - in->rank);
        st[d] = di < 0 || in->dims[di] == 1 ? 0 : (int)cs[di];
    }
}

/* ---- slots ---- */

static int find_in(engine_value *const *list, int n, const engine_value *v) {
    for (int k = 0; k < n; ++k)
        if (list[k] == v) return k;
    return -1;
}

static int slot_find(builder *b, const engine_value *v) {
    for (int k = b->p->n_slots - 1; k >= 0; --k)
        if (b->p->slots[k].v == v) return k;
    return -1;
}

static int slot_new(builder *b, const engine_value *v, engine_dtype dt, int buf, size_t count) {
    ocl_program *p = b->p;
    size_t cap = (size_t)b->cap_slots;
    if (!grow(b, (void **)&p->slots, &cap, (size_t)p->n_slots + 1, sizeof(ocl_slot))) return -1;
    b->cap_slots = (int)cap;
    ocl_slot *sl = &p->slots[p->n_slots];
    memset(sl, 0, sizeof *sl);
    sl->v = v;
    sl->buf = buf;
    sl->lng = dclass(dt) == 1;
    sl->esz = sl->lng ? 8 : tsize(b->s);
    sl->count = count;
    sl->first = sl->last = b->step;
    sl->part_in = sl->part_out = -1;
    sl->root = -1;
    return p->n_slots++;
}

/* The slot an input value is read from (uploading constants on first use). */
static int slot_read(builder *b, const engine_value *v) {
    if (b->st) return -1;
    int k = slot_find(b, v);
    if (k >= 0) {
        if (b->p->slots[k].buf == BUF_ARENA && b->p->slots[k].last < b->step) b->p->slots[k].last = b->step;
        return k;
    }
    size_t count = (size_t)numel(v);
    if (v->data && dclass(v->dtype) == 1) {
        k = slot_new(b, v, v->dtype, BUF_IWEIGHTS, count);
        if (k < 0 || !grow(b, (void **)&b->iwts, &b->cap_iwts, b->n_iwts + count + 16, sizeof(int64_t))) return -1;
        b->n_iwts = (b->n_iwts + 15) / 16 * 16;
        b->p->slots[k].off = b->n_iwts;
        for (size_t e = 0; e < count; ++e) b->iwts[b->n_iwts + e] = int_at(v->dtype, v->data, e);
        b->n_iwts += count;
        return k;
    }
    if (v->data) {
        k = slot_new(b, v, v->dtype, BUF_WEIGHTS, count);
        if (k < 0) return -1;
        size_t need = b->n_wts + count + 32;
        if (!grow(b, (void **)&b->wts, &b->cap_wts, need, sizeof(float))) return -1;
        /* Keep every weight 128-byte aligned (CLBlast and vector loads). */
        b->n_wts = (b->n_wts + 31) / 32 * 32;
        b->p->slots[k].off = b->n_wts;
        for (size_t e = 0; e < count; ++e)
            b->wts[b->n_wts + e] = v->dtype == ENGINE_DTYPE_BOOL ? (float)(((const uint8_t *)v->data)[e] != 0)
                                                                  : ((const float *)v->data)[e];
        b->n_wts += count;
        return k;
    }
    int pin = find_in(b->part->inputs, b->part->n_inputs, v);
    if (pin < 0) {
        node_err(b, b->part->nodes[b->step], ENGINE_ERR_INVALID_MODEL, "input '%s' is not produced before use",
                 v->name);
        return -1;
    }
    k = slot_new(b, v, v->dtype, BUF_ARENA, count);
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
static const engine_value *alias_root(const builder *b, const engine_value *v, size_t *elems) {
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

/* The slot a node output is written to. */
static int slot_write(builder *b, const engine_value *v) {
    if (b->st) return -1;
    int k = -1;
    if (!v->data) {
        size_t ae = 0;
        const engine_value *root = alias_root(b, v, &ae);
        if (root) {
            /* The root's slot is created by its first member (the Concat
             * that writes the root comes later) and planned once. */
            int r = slot_find(b, root);
            if (r < 0 && (r = slot_new(b, root, root->dtype, BUF_ARENA, (size_t)numel(root))) < 0) return -1;
            if ((k = slot_new(b, v, v->dtype, BUF_ARENA, (size_t)numel(v))) < 0) return -1;
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
    if (k < 0) k = slot_new(b, v->data ? NULL : v, v->dtype, BUF_ARENA, (size_t)numel(v));
    if (k < 0) return -1;
    int pout = v->data ? -1 : find_in(b->part->outputs, b->part->n_outputs, v);
    if (pout >= 0) {
        b->p->slots[k].part_out = pout;
        b->p->slots[k].last = INT_MAX; /* fixed up to the last step */
    }
    return k;
}

/* Where a slot's bytes are: (slot that owns the storage, element offset). */
static int slot_home(const ocl_program *p, int k, size_t *off) {
    *off = p->slots[k].root >= 0 ? p->slots[k].aoff : 0;
    return p->slots[k].root >= 0 ? p->slots[k].root : k;
}

/* ---- launches ---- */

static ocl_launch *launch_new(builder *b, const char *kname, size_t global) {
    if (b->st) return NULL;
    size_t cap = (size_t)b->cap_launches;
    if (!grow(b, (void **)&b->p->launches, &cap, (size_t)b->p->n_launches + 1, sizeof(ocl_launch))) return NULL;
    b->cap_launches = (int)cap;
    ocl_launch *l = &b->p->launches[b->p->n_launches++];
    memset(l, 0, sizeof *l);
    l->step = b->step;
    l->kname = kname;
    l->global = global;
    return l;
}

/* Appends a launch of the module's kernel `kname` over `global` work items
 * with args[0..nargs). Nothing is recorded when global is 0 (an empty
 * output). Use OCL_LAUNCH. */
static void launch_args(builder *b, const char *kname, size_t global, const ocl_arg *args, int nargs) {
    if (b->st || global == 0) return;
    if (nargs > OCL_MAX_ARGS) { /* a module kernel never has that many: a bug here */
        b->st = ENGINE_ERR_INTERNAL;
        return;
    }
    ocl_launch *l = launch_new(b, kname, global);
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
                         fn->op_type, b->s->dev.name,
                         fn->op == ENGINE_OP_Gather ? "an index is out of range" : "integer division by zero");
            }
        }
    }
}

/* OCL_LAUNCH(b, "f_pool", global, A_META(mo), A_T(xs, 0), A_T(ys, 0)):
 * the arguments as a compound-literal array, counted by sizeof (which does
 * not evaluate them again). */
#define OCL_LAUNCH(b, kname, global, ...)                                                                     \
    launch_args((b), (kname), (global), (const ocl_arg[]){__VA_ARGS__},                                       \
                (int)(sizeof((const ocl_arg[]){__VA_ARGS__}) / sizeof(ocl_arg)))

/* ---- supports ---- */

static int unary_code(const engine_node *n, float *a, float *bb) {
    const engine_scalar_params *p = n->params;
    *a = *bb = 0.0f;
    switch (n->op) {
    case ENGINE_OP_Relu: return U_RELU;
    case ENGINE_OP_LeakyRelu: *a = p ? p->alpha : 0.01f; return U_LEAKY;
    case ENGINE_OP_Clip:
        if (!p) return -1;
        *a = p->min;
        *bb = p->max;
        return U_CLIP;
    case ENGINE_OP_Sigmoid: return U_SIGMOID;
    case ENGINE_OP_HardSigmoid:
        if (!p) return -1;
        *a = p->alpha;
        *bb = p->beta;
        return U_HSIGMOID;
    case ENGINE_OP_HardSwish: return U_HSWISH;
    case ENGINE_OP_Tanh: return U_TANH;
    case ENGINE_OP_Softplus: return U_SOFTPLUS;
    case ENGINE_OP_Elu: *a = p ? p->alpha : 1.0f; return U_ELU;
    case ENGINE_OP_Selu:
        if (!p) return -1;
        *a = p->alpha;
        *bb = p->gamma;
        return U_SELU;
    case ENGINE_OP_Mish: return U_MISH;
    case ENGINE_OP_Sqrt: return U_SQRT;
    case ENGINE_OP_Exp: return U_EXP;
    case ENGINE_OP_Log: return U_LOG;
    case ENGINE_OP_Neg: return U_NEG;
    case ENGINE_OP_Abs: return U_ABS;
    case ENGINE_OP_Identity: case ENGINE_OP_Dropout: case ENGINE_OP_Reshape: case ENGINE_OP_Flatten:
    case ENGINE_OP_Squeeze: case ENGINE_OP_Unsqueeze:
        return U_COPY;
    case ENGINE_OP_Cast:
        return n->outputs[0]->dtype == ENGINE_DTYPE_BOOL && n->inputs[0]->dtype != ENGINE_DTYPE_BOOL ? U_TOBOOL
                                                                                                     : U_COPY;
    default: return -1;
    }
}

static int act_code(const engine_epilogue *e, float *a, float *bb) {
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
    }
    return -1;
}

/* Inputs holding data the kernels read (the others are shape operands:
 * Reshape's shape, Slice's starts, Resize's scales...). */
static int data_inputs(const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: return 4;
    case ENGINE_OP_BatchNormalization: return 5;
    case ENGINE_OP_InstanceNormalization: case ENGINE_OP_Gemm: case ENGINE_OP_Where: return 3;
    case ENGINE_OP_Add: case ENGINE_OP_Sub: case ENGINE_OP_Mul: case ENGINE_OP_Div: case ENGINE_OP_Pow:
    case ENGINE_OP_PRelu: case ENGINE_OP_Equal: case ENGINE_OP_MatMul: case ENGINE_OP_Gather:
        return 2;
    case ENGINE_OP_Concat: return INT_MAX;
    default: return 1;
    }
}

static int needs_params(engine_op op) {
    switch (op) {
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: case ENGINE_OP_MaxPool: case ENGINE_OP_AveragePool:
    case ENGINE_OP_Gemm: case ENGINE_OP_Softmax: case ENGINE_OP_LogSoftmax: case ENGINE_OP_ReduceMean:
    case ENGINE_OP_ReduceSum: case ENGINE_OP_ReduceMax: case ENGINE_OP_Resize: case ENGINE_OP_Upsample:
    case ENGINE_OP_Concat: case ENGINE_OP_Split: case ENGINE_OP_Gather: case ENGINE_OP_DepthToSpace:
    case ENGINE_OP_SpaceToDepth: case ENGINE_OP_Slice: case ENGINE_OP_Pad: case ENGINE_OP_Transpose:
    case ENGINE_OP_BatchNormalization: case ENGINE_OP_InstanceNormalization: case ENGINE_OP_LRN:
    case ENGINE_OP_Clip: case ENGINE_OP_HardSigmoid: case ENGINE_OP_Selu:
        return 1;
    default: return 0;
    }
}

/* A plugin node runs when its op brings OpenCL C and its non-constant
 * inputs and outputs are float32 (constants go up as their bytes). */
static int plugin_supported(const engine_node *n) {
    const engine_plugin_op *op = n->plugin;
    if (!op->cl_source || !op->cl_kernel_name || !op->cl_geometry) return 0;
    if (n->n_inputs > op->max_inputs || n->n_outputs > op->max_outputs || op->max_inputs > ENGINE_PLUGIN_MAX_IO ||
        op->max_outputs > ENGINE_PLUGIN_MAX_IO)
        return 0;
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *v = n->inputs[k];
        if (v && (!numel_ok(v) || (!v->data && v->dtype != ENGINE_DTYPE_F32))) return 0;
    }
    for (int k = 0; k < n->n_outputs; ++k) {
        const engine_value *v = n->outputs[k];
        if (v && (!numel_ok(v) || v->dtype != ENGINE_DTYPE_F32)) return 0;
    }
    return 1;
}

/* Every data input (the first nd) and the first output float32. */
static int all_f32(const engine_node *n, int nd) {
    for (int k = 0; k < n->n_inputs && k < nd; ++k)
        if (n->inputs[k] && n->inputs[k]->dtype != ENGINE_DTYPE_F32) return 0;
    return n->outputs[0]->dtype == ENGINE_DTYPE_F32;
}

static int ocl_supports_node(const engine_node *n) {
    if (n && n->plugin) return plugin_supported(n);
    if (!n || n->op == ENGINE_OP_UNKNOWN || n->n_inputs < 1 || n->n_outputs < 1) return 0;
    /* Nothing to run: every output is already a constant. */
    int all_const = 1;
    for (int k = 0; k < n->n_outputs; ++k) all_const &= !n->outputs[k] || n->outputs[k]->data != NULL;
    if (all_const) return 1;
    if (!n->params && needs_params(n->op)) return 0;
    int nd = data_inputs(n);
    for (int k = 0; k < n->n_inputs && k < nd; ++k) {
        const engine_value *v = n->inputs[k];
        if (v && (dclass(v->dtype) < 0 || !numel_ok(v))) return 0;
    }
    /* Outputs: the first is data; extra outputs must be absent except
     * Split's and Dropout's mask (all true in inference); MaxPool's indices
     * and BatchNorm's training statistics are refused (so is training in
     * the reference). */
    for (int k = 0; k < n->n_outputs; ++k) {
        const engine_value *v = n->outputs[k];
        if (!v) continue;
        if (k > 0 && n->op != ENGINE_OP_Split && !(n->op == ENGINE_OP_Dropout && k == 1 && v->dtype == ENGINE_DTYPE_BOOL))
            return 0;
        if (dclass(v->dtype) < 0 || !numel_ok(v)) return 0;
    }
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!x || !y) return 0;
    const engine_value *x1 = engine_node_input(n, 1);
    switch (n->op) {
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: {
        /* weights and bias: constants or run-time values alike */
        const engine_conv_params *p = n->params;
        return all_f32(n, 4) && x->rank >= 3 && x->rank <= 5 && p->spatial == x->rank - 2 && p->group > 0 && x1;
    }
    case ENGINE_OP_MaxPool: case ENGINE_OP_AveragePool: {
        const engine_pool_params *p = n->params;
        return all_f32(n, 1) && x->rank >= 3 && x->rank <= 5 && p->storage_order == 0;
    }
    case ENGINE_OP_GlobalAveragePool: case ENGINE_OP_GlobalMaxPool:
        return all_f32(n, 1) && x->rank >= 2 && x->rank <= 31;
    case ENGINE_OP_ReduceMean: case ENGINE_OP_ReduceSum: case ENGINE_OP_ReduceMax:
        return all_f32(n, 1) && x->rank <= 31;
    case ENGINE_OP_Resize: case ENGINE_OP_Upsample: {
        const engine_resize_params *p = n->params;
        if (!all_f32(n, 1) || p->coord == ENGINE_COORD_TF_CROP_AND_RESIZE || x->rank != y->rank) return 0;
        if (n->op == ENGINE_OP_Upsample && p->mode == ENGINE_RESIZE_CUBIC) return 0;
        return p->mode <= ENGINE_RESIZE_CUBIC;
    }
    case ENGINE_OP_Gather: /* indices constant (into the meta buffer) or a run-time tensor */
        return x1 && is_int(x1->dtype) && x->dtype == y->dtype;
    case ENGINE_OP_Gemm: return all_f32(n, 3) && x1 && x1->rank == 2; /* A's view: params m, k */
    case ENGINE_OP_MatMul: return all_f32(n, 2) && x->rank >= 1 && x1 && x1->rank >= 1;
    case ENGINE_OP_BatchNormalization: return all_f32(n, 5) && x->rank >= 2 && n->n_inputs >= 5;
    case ENGINE_OP_InstanceNormalization: return all_f32(n, 3) && x->rank >= 2 && n->n_inputs >= 3;
    case ENGINE_OP_LRN: return all_f32(n, 1) && x->rank >= 2;
    case ENGINE_OP_DepthToSpace: case ENGINE_OP_SpaceToDepth: return x->rank == 4 && x->dtype == y->dtype;
    case ENGINE_OP_Shape: case ENGINE_OP_Constant: case ENGINE_OP_ConstantOfShape:
        return 0; /* only ever constant (folded) in practice; nothing to run otherwise */
    case ENGINE_OP_Add: case ENGINE_OP_Sub: case ENGINE_OP_Mul: case ENGINE_OP_Div:
        return x1 && x1->dtype == x->dtype && y->dtype == x->dtype && (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype));
    case ENGINE_OP_Pow:
        return x1 && x->dtype == ENGINE_DTYPE_F32 && y->dtype == ENGINE_DTYPE_F32 &&
               (x1->dtype == ENGINE_DTYPE_F32 || is_int(x1->dtype));
    case ENGINE_OP_Equal:
        return x1 && x1->dtype == x->dtype && y->dtype == ENGINE_DTYPE_BOOL &&
               (x->dtype == ENGINE_DTYPE_F32 || x->dtype == ENGINE_DTYPE_BOOL || is_int(x->dtype));
    case ENGINE_OP_Where:
        return n->n_inputs >= 3 && x->dtype == ENGINE_DTYPE_BOOL && x1 && n->inputs[2] &&
               x1->dtype == y->dtype && n->inputs[2]->dtype == y->dtype;
    case ENGINE_OP_Neg: case ENGINE_OP_Abs:
        return x->dtype == y->dtype && (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype));
    case ENGINE_OP_Tile: return 2 * y->rank <= 16 && x->dtype == y->dtype;
    case ENGINE_OP_Cast: return 1; /* any pair of device classes */
    case ENGINE_OP_Concat:
        for (int k = 0; k < n->n_inputs; ++k)
            if (!n->inputs[k] || n->inputs[k]->dtype != y->dtype) return 0;
        return 1;
    case ENGINE_OP_Split:
        for (int k = 0; k < n->n_outputs; ++k)
            if (n->outputs[k] && n->outputs[k]->dtype != x->dtype) return 0;
        return 1;
    case ENGINE_OP_Slice: case ENGINE_OP_Transpose: case ENGINE_OP_Pad: case ENGINE_OP_Expand:
    case ENGINE_OP_Identity: case ENGINE_OP_Dropout: case ENGINE_OP_Reshape: case ENGINE_OP_Flatten:
    case ENGINE_OP_Squeeze: case ENGINE_OP_Unsqueeze:
        return x->dtype == y->dtype; /* data movement: any device class */
    default: break;
    }
    /* The rest: float arithmetic (activations, Softmax, PRelu...). */
    return all_f32(n, nd);
}

/* ---- per-op emitters ---- */

#define IN(k) slot_read(b, n->inputs[k])
#define OUT(k) slot_write(b, n->outputs[k])

static void emit_copy_strided(builder *b, int xs, int xextra, int ys, int yextra, int r, const int64_t *count,
                              const int64_t *is, const int64_t *os) {
    int meta[1 + 3 * 16];
    int64_t total = 1;
    meta[0] = r;
    for (int d = 0; d < r; ++d) {
        meta[1 + d] = (int)count[d];
        meta[1 + r + d] = (int)is[d];
        meta[1 + 2 * r + d] = (int)os[d];
        total *= count[d];
    }
    int mo = meta_add(b, meta, 1 + 3 * r);
    if (b->st || xs < 0) return;
    OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_copy_l" : "f_copy", (size_t)total, A_META(mo), A_T(xs, xextra),
               A_T(ys, yextra));
}

static void emit_conv(builder *b, const engine_node *n) {
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    const engine_value *bias = engine_node_input(n, 2), *sum = p->epilogue.sum ? engine_node_input(n, 3) : NULL;
    int sp = p->spatial, T = n->op == ENGINE_OP_ConvTranspose;
    int g[23];
    g[0] = (int)x->dims[0];
    g[1] = (int)x->dims[1];
    g[5] = (int)y->dims[1];
    for (int i = 0; i < 3; ++i) {
        int d = i - (3 - sp); /* spatial index, negative: a leading size-1 dim */
        g[2 + i] = d >= 0 ? (int)x->dims[2 + d] : 1;
        g[6 + i] = d >= 0 ? (int)y->dims[2 + d] : 1;
        g[9 + i] = d >= 0 ? (int)p->kernel[d] : 1;
        g[12 + i] = d >= 0 && p->stride[d] > 0 ? (int)p->stride[d] : 1;
        g[15 + i] = d >= 0 && p->dilation[d] > 0 ? (int)p->dilation[d] : 1;
        g[18 + i] = d >= 0 ? (int)p->pad_begin[d] : 0;
    }
    g[21] = (int)p->group;
    float a1, b1;
    g[22] = act_code(&p->epilogue, &a1, &b1);
    int xs = IN(0), ws = IN(1), bs = bias ? slot_read(b, bias) : -1, ss = sum ? slot_read(b, sum) : -1;
    int ys = OUT(0);
    if (b->st) return;
    (void)w;
    int64_t plane = plane_of(y);
    /* 1x1, stride 1, no pad, one group: a GEMM per image through CLBlast. */
    int pointwise = !T && b->s->clblast && p->group == 1;
    for (int i = 0; i < sp; ++i)
        pointwise &= p->kernel[i] == 1 && p->stride[i] == 1 && p->pad_begin[i] == 0 && p->pad_end[i] == 0;
    if (pointwise && g[1] * (int64_t)g[5] * plane >= 4096) {
        for (int img = 0; img < g[0]; ++img) {
            ocl_launch *l = launch_new(b, NULL, 0);
            if (!l) return;
            l->gm = g[5];
            l->gn = (int)plane;
            l->gk = g[1];
            l->alpha = 1.0f;
            l->beta = 0.0f;
            l->a_slot = ws;
            l->lda = g[1];
            l->b_slot = xs;
            l->b_extra = img * g[1] * (int)plane;
            l->ldb = (int)plane;
            l->c_slot = ys;
            l->c_extra = img * g[5] * (int)plane;
            l->ldc = (int)plane;
        }
        OCL_LAUNCH(b, "f_epilogue", (size_t)numel(y), A_T(ys, 0), A_T(bs >= 0 ? bs : ys, 0), A_I(bs >= 0),
                   A_T(ss >= 0 ? ss : ys, 0), A_I(ss >= 0), A_I((int)plane), A_I(g[5]), A_I(g[22]), A_F(a1), A_F(b1));
        return;
    }
    int mo = meta_add(b, g, 23);
    /* ENGINE_OPENCL_CONV=im2col: single-group kxk convolutions as im2col
     * into a scratch slot of the arena (live for this node only), one
     * CLBlast SGEMM per image (W[M, C*K] x col[C*K, P]), then the epilogue
     * kernel. Opt-in: on POCL it is 1.5-2.5x slower than f_conv4
     * (docs/PERFORMANCE.md); it is there for devices where CLBlast's GEMM
     * wins (GPUs), to be measured where one is lent. */
    int64_t ck = (int64_t)g[1] * g[9] * g[10] * g[11];
    const char *mode = getenv("ENGINE_OPENCL_CONV");
    int im2col = !T && b->s->clblast && p->group == 1 && mode && strcmp(mode, "im2col") == 0 &&
                 ck * plane <= INT_MAX / 2 && (int64_t)g[5] * ck * plane >= 65536;
    if (im2col) {
        int cs = slot_new(b, NULL, ENGINE_DTYPE_F32, BUF_ARENA, (size_t)(ck * plane));
        if (cs < 0) return;
        for (int img = 0; img < g[0]; ++img) {
            OCL_LAUNCH(b, "f_im2col", (size_t)(ck * plane), A_META(mo), A_T(xs, img * g[1] * g[2] * g[3] * g[4]),
                       A_T(cs, 0));
            ocl_launch *l = launch_new(b, NULL, 0);
            if (!l) return;
            l->gm = g[5];
            l->gn = (int)plane;
            l->gk = (int)ck;
            l->alpha = 1.0f;
            l->beta = 0.0f;
            l->a_slot = ws;
            l->lda = (int)ck;
            l->b_slot = cs;
            l->ldb = (int)plane;
            l->c_slot = ys;
            l->c_extra = img * g[5] * (int)plane;
            l->ldc = (int)plane;
        }
        OCL_LAUNCH(b, "f_epilogue", (size_t)numel(y), A_T(ys, 0), A_T(bs >= 0 ? bs : ys, 0), A_I(bs >= 0),
                   A_T(ss >= 0 ? ss : ys, 0), A_I(ss >= 0), A_I((int)plane), A_I(g[5]), A_I(g[22]), A_F(a1), A_F(b1));
        return;
    }
    /* Depthwise (one input channel per group): its own kernel. Else four
     * output channels per work item where they share a group. */
    int dw = !T && g[1] == g[21] && !(mode && strcmp(mode, "generic") == 0);
    int four = !T && !dw && (g[5] / g[21]) % 4 == 0 && !getenv("ENGINE_OPENCL_NO_CONV4");
    OCL_LAUNCH(b, T ? "f_convt" : dw ? "f_dwconv" : four ? "f_conv4" : "f_conv", (size_t)numel(y) / (four ? 4 : 1),
               A_META(mo), A_T(xs, 0), A_T(ws, 0), A_T(bs >= 0 ? bs : ws, 0), A_I(bs >= 0), A_T(ss >= 0 ? ss : ws, 0),
               A_I(ss >= 0), A_T(ys, 0), A_F(a1), A_F(b1));
}

static void emit_pool(builder *b, const engine_node *n) {
    const engine_pool_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int sp = x->rank - 2, g[24];
    g[0] = (int)(x->dims[0] * x->dims[1]);
    for (int i = 0; i < 3; ++i) {
        int d = i - (3 - sp);
        g[1 + i] = d >= 0 ? (int)x->dims[2 + d] : 1;
        g[4 + i] = d >= 0 ? (int)y->dims[2 + d] : 1;
        g[7 + i] = d >= 0 ? (int)p->kernel[d] : 1;
        g[10 + i] = d >= 0 && p->stride[d] > 0 ? (int)p->stride[d] : 1;
        g[13 + i] = d >= 0 && p->dilation[d] > 0 ? (int)p->dilation[d] : 1;
        g[16 + i] = d >= 0 ? (int)p->pad_begin[d] : 0;
        g[19 + i] = d >= 0 ? (int)p->pad_end[d] : 0;
    }
    g[22] = n->op == ENGINE_OP_AveragePool ? POOL_AVG : POOL_MAX;
    g[23] = p->count_include_pad;
    int xs = IN(0), ys = OUT(0);
    int mo = meta_add(b, g, 24);
    OCL_LAUNCH(b, "f_pool", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(ys, 0));
}

static void emit_reduce(builder *b, const engine_node *n, int op, uint32_t mask) {
    const engine_value *x = n->inputs[0];
    int meta[3 + 32];
    meta[0] = x->rank;
    meta[1] = op;
    meta[2] = (int)mask;
    for (int d = 0; d < x->rank; ++d) meta[3 + d] = (int)x->dims[d];
    int xs = IN(0), ys = OUT(0);
    int mo = meta_add(b, meta, 3 + x->rank);
    OCL_LAUNCH(b, "f_reduce", (size_t)numel(n->outputs[0]), A_META(mo), A_T(xs, 0), A_T(ys, 0));
}

static void emit_matmul(builder *b, const engine_node *n) {
    const engine_value *va = n->inputs[0], *vb = n->inputs[1], *y = n->outputs[0];
    const engine_gemm_params *gp = n->op == ENGINE_OP_Gemm ? n->params : NULL;
    const engine_value *vc = gp ? engine_node_input(n, 2) : NULL;
    int g[12 + 3 * 6] = {0};
    int M, N, K, br = 0;
    int64_t batch = 1;
    if (gp) {
        M = (int)y->dims[0];
        N = (int)y->dims[1];
        K = (int)gp->k; /* A may be a flattened higher-rank tensor (engine.flatten_axis) */
        g[3] = gp->trans_a ? 1 : K;
        g[4] = gp->trans_a ? M : 1;
        g[5] = gp->trans_b ? 1 : N;
        g[6] = gp->trans_b ? K : 1;
        if (vc) {
            int64_t cm = vc->rank == 2 ? vc->dims[0] : 1, cn = vc->rank >= 1 ? vc->dims[vc->rank - 1] : 1;
            g[7] = 1;
            g[8] = cm == 1 ? 0 : (int)cn;
            g[9] = cn == 1 ? 0 : 1;
        }
    } else {
        int ra = va->rank, rb = vb->rank;
        M = ra >= 2 ? (int)va->dims[ra - 2] : 1;
        K = (int)va->dims[ra - 1];
        N = rb >= 2 ? (int)vb->dims[rb - 1] : 1;
        g[3] = K;
        g[4] = 1;
        g[5] = N;
        g[6] = 1;
        int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
        br = ba > bb ? ba : bb;
        if (br > 6) {
            node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "more than 6 batch dims");
            return;
        }
        int64_t stride_a = (int64_t)M * K, stride_b = (int64_t)K * N;
        for (int i = br - 1; i >= 0; --i) {
            int ia = i - (br - ba), ib = i - (br - bb);
            int64_t da = ia >= 0 ? va->dims[ia] : 1, db = ib >= 0 ? vb->dims[ib] : 1;
            int64_t bd = da > db ? da : db;
            if (da == 0 || db == 0) bd = 0;
            g[12 + i] = (int)bd;
            g[12 + br + i] = da == 1 ? 0 : (int)stride_a;
            g[12 + 2 * br + i] = db == 1 ? 0 : (int)stride_b;
            stride_a *= da;
            stride_b *= db;
            batch *= bd;
        }
    }
    g[0] = M;
    g[1] = N;
    g[2] = K;
    g[11] = br;
    float a1 = 0, b1 = 0;
    g[10] = gp ? act_code(&gp->epilogue, &a1, &b1) : U_COPY;
    int as = IN(0), bs = IN(1), cs = vc ? slot_read(b, vc) : -1, ys = OUT(0);
    if (b->st) return;
    float alpha = gp ? gp->alpha : 1.0f, beta = gp ? gp->beta : 0.0f;
    /* CLBlast: no broadcast batch (each batch its own GEMM), big enough to
     * pay for the call. */
    int bcast = 0;
    for (int i = 0; i < br; ++i) bcast |= g[12 + br + i] == 0 || g[12 + 2 * br + i] == 0;
    if (b->s->clblast && !bcast && (int64_t)M * N * K >= 32768 && batch <= 64) {
        if (vc) { /* Y = C broadcast, then SGEMM with beta */
            int64_t cnt[2] = {M, N}, is[2] = {g[8], g[9]}, os[2] = {N, 1};
            emit_copy_strided(b, cs, 0, ys, 0, 2, cnt, is, os);
        }
        int64_t sa = 0, sb = 0;
        for (int64_t t = 0; t < batch; ++t) {
            /* batch offsets: the batch dims are not broadcast, so contiguous */
            ocl_launch *l = launch_new(b, NULL, 0);
            if (!l) return;
            l->ta = gp && gp->trans_a;
            l->tb = gp && gp->trans_b;
            l->gm = M;
            l->gn = N;
            l->gk = K;
            l->alpha = alpha;
            l->beta = vc ? beta : 0.0f;
            l->a_slot = as;
            l->a_extra = (int)sa;
            l->lda = l->ta ? M : K;
            l->b_slot = bs;
            l->b_extra = (int)sb;
            l->ldb = l->tb ? K : N;
            l->c_slot = ys;
            l->c_extra = (int)(t * M * N);
            l->ldc = N;
            sa += (int64_t)M * K;
            sb += (int64_t)K * N;
        }
        if (g[10] != U_COPY)
            OCL_LAUNCH(b, "f_unary", (size_t)numel(y), A_T(ys, 0), A_T(ys, 0), A_I(g[10]), A_F(a1), A_F(b1));
        return;
    }
    int mo = meta_add(b, g, 12 + 3 * br);
    OCL_LAUNCH(b, "f_matmul", (size_t)numel(y), A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs >= 0 ? cs : as, 0),
               A_T(ys, 0), A_F(alpha), A_F(beta), A_F(a1), A_F(b1));
}

/* Resize: per-dim tap tables (engine/resize_taps.h, the reference's rule)
 * in the weight buffer. */
static void emit_resize(builder *b, const engine_node *n) {
    engine_resize_params p = *(const engine_resize_params *)n->params;
    if (n->op == ENGINE_OP_Upsample) {
        p.coord = ENGINE_COORD_ASYMMETRIC;
        p.nearest = ENGINE_NEAREST_FLOOR;
    }
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int r = x->rank, head[1 + 5 * OCL_MAX_RANK];
    int64_t ist[ENGINE_MAX_RANK];
    c_strides(x, ist);
    head[0] = r;
    int xs = IN(0), ys = OUT(0);
    if (b->st) return;
    /* The weights go into the weight buffer as a pseudo-constant slot. */
    for (int d = 0; d < r; ++d) {
        int nt = 1;
        int64_t li = x->dims[d], lo = y->dims[d];
        double scale = (double)p.scales[d];
        int identity = scale == 1.0 && li == lo;
        if (!identity) nt = p.mode == ENGINE_RESIZE_NEAREST ? 1 : p.mode == ENGINE_RESIZE_LINEAR ? 2 : 4;
        head[1 + d] = (int)lo;
        head[1 + r + d] = (int)ist[d];
        head[1 + 2 * r + d] = nt;
        size_t cnt = (size_t)lo * (size_t)nt;
        int *ix = xalloc(b->s, cnt * sizeof(int) + 4);
        if (!ix) {
            oom(b);
            return;
        }
        if (!grow(b, (void **)&b->wts, &b->cap_wts, b->n_wts + cnt + 64, sizeof(float))) {
            xfree(b->s, ix);
            return;
        }
        b->n_wts = (b->n_wts + 31) / 32 * 32;
        head[1 + 4 * r + d] = (int)b->n_wts;
        for (int64_t o = 0; o < lo; ++o) {
            int64_t ti[4] = {o, 0, 0, 0};
            double tw[4] = {1.0, 0, 0, 0};
            if (!identity && engine_resize_taps(&p, o, scale, li, lo, ti, tw) != nt) {
                xfree(b->s, ix);
                node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "bad scale or coordinate mode");
                return;
            }
            for (int k = 0; k < nt; ++k) {
                ix[o * nt + k] = (int)ti[k];
                b->wts[b->n_wts + (size_t)o * nt + k] = (float)tw[k];
            }
        }
        b->n_wts += cnt;
        head[1 + 3 * r + d] = meta_add(b, ix, (int)cnt);
        xfree(b->s, ix);
        if (b->st) return;
    }
    int mo = meta_add(b, head, 1 + 5 * r);
    OCL_LAUNCH(b, "f_resize", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_W(), A_T(ys, 0));
}

static int own_new(builder *b, size_t size, const void *data) {
    if (b->st || !grow(b, (void **)&b->p->own_info, &b->cap_own, (size_t)b->p->n_own + 1, sizeof(ocl_own))) return -1;
    b->p->own_info[b->p->n_own] = (ocl_own){size ? size : 4, data};
    return b->p->n_own++;
}

/* The plugin op's program, built once per backend instance. */
static cl_program plugin_program(builder *b, const engine_node *n) {
    ocl_state *s = b->s;
    const engine_plugin_op *op = n->plugin;
    for (int k = 0; k < s->n_plugin_programs; ++k)
        if (s->plugin_programs[k].op == op) return s->plugin_programs[k].program;
    if (s->n_plugin_programs == (int)(sizeof s->plugin_programs / sizeof *s->plugin_programs)) {
        node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "more than 16 plugin ops with OpenCL kernels");
        return NULL;
    }
    cl_int e;
    const char *src = op->cl_source;
    cl_program prog = s->cl->CreateProgramWithSource(s->ctx, 1, &src, NULL, &e);
    if (!prog || e) {
        node_err(b, n, e == CL_OUT_OF_HOST_MEMORY ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND,
                 "creating the plugin's OpenCL program failed (%s)", ocl_err_name(e ? e : CL_OUT_OF_HOST_MEMORY));
        return NULL;
    }
    e = s->cl->BuildProgram(prog, 1, &s->dev.device, op->cl_build_options ? op->cl_build_options : "", NULL, NULL);
    if (e) {
        char log[400] = "", what[460];
        if (s->cl->GetProgramBuildInfo(prog, s->dev.device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL))
            log[0] = 0;
        log[sizeof log - 1] = 0;
        snprintf(what, sizeof what, "plugin kernel build failed (%s): %s", ocl_err_name(e), log);
        s->cl->ReleaseProgram(prog);
        node_err(b, n, ENGINE_ERR_BACKEND, "%s", what);
        return NULL;
    }
    s->plugin_programs[s->n_plugin_programs].op = op;
    s->plugin_programs[s->n_plugin_programs++].program = prog;
    return prog;
}

/* A plugin node: its inputs copied (converted) into float32 buffers of its
 * own, the op's kernel with the argument order of plugin.h, its outputs
 * copied back into the arena. */
static void emit_plugin(builder *b, const engine_node *n) {
    const engine_plugin_op *op = n->plugin;
    cl_program prog = plugin_program(b, n);
    if (!prog) return;
    ocl_arg args[OCL_MAX_ARGS];
    int na = 0, out_own[ENGINE_PLUGIN_MAX_IO], out_slot[ENGINE_PLUGIN_MAX_IO];
    memset(args, 0, sizeof args);
    for (int k = 0; k < op->max_inputs; ++k) {
        const engine_value *v = k < n->n_inputs ? n->inputs[k] : NULL;
        ocl_arg *a = &args[na++];
        *a = A_NULL();
        if (!v) continue;
        size_t es = host_size(v->dtype);
        size_t bytes = (size_t)numel(v) * es;
        if (v->data) {
            *a = A_OWN(own_new(b, bytes, v->data));
            continue;
        }
        int vs = slot_read(b, v), o = own_new(b, bytes, NULL);
        if (b->st) return;
        OCL_LAUNCH(b, "f_to_f32", (size_t)numel(v), A_T(vs, 0), A_OWN(o));
        *a = A_OWN(o);
    }
    for (int k = 0; k < op->max_outputs; ++k) {
        const engine_value *v = k < n->n_outputs ? n->outputs[k] : NULL;
        ocl_arg *a = &args[na++];
        *a = A_NULL();
        out_own[k] = -1;
        if (!v) continue;
        out_own[k] = own_new(b, (size_t)numel(v) * 4, NULL);
        *a = A_OWN(out_own[k]);
    }
    if (op->cl_args) {
        engine_plugin_cl_arg extra[ENGINE_PLUGIN_CL_MAX_ARGS];
        int ne = 0;
        char msg[256] = "";
        engine_status st = op->cl_args(n, extra, &ne, msg, sizeof msg);
        if (st || ne < 0 || ne > ENGINE_PLUGIN_CL_MAX_ARGS) {
            node_err(b, n, st ? st : ENGINE_ERR_INVALID_ARGUMENT, "the plugin's cl_args failed: %s", msg);
            return;
        }
        for (int j = 0; j < ne; ++j) {
            ocl_arg *a = &args[na++];
            if (extra[j].kind == ENGINE_PLUGIN_CL_ARG_BUFFER) {
                if (!extra[j].data || !extra[j].size) {
                    node_err(b, n, ENGINE_ERR_INVALID_ARGUMENT, "%s", "the plugin's cl_args gave an empty buffer");
                    return;
                }
                *a = A_OWN(own_new(b, extra[j].size, extra[j].data));
            } else {
                if (extra[j].size < 1 || extra[j].size > 16) {
                    node_err(b, n, ENGINE_ERR_INVALID_ARGUMENT, "%s", "a scalar argument of a bad size");
                    return;
                }
                a->kind = OCL_ARG_RAW;
                a->size = extra[j].size;
                memcpy(a->raw, extra[j].value, extra[j].size);
            }
        }
    }
    size_t gsz[3] = {1, 1, 1}, lsz[3] = {0, 0, 0};
    int wd = 0;
    if (op->cl_geometry(n, gsz, lsz, &wd) || wd < 1 || wd > 3) {
        node_err(b, n, ENGINE_ERR_INVALID_ARGUMENT, "%s", "the plugin's cl_geometry failed or gave a bad work_dim");
        return;
    }
    ocl_launch *l = launch_new(b, op->cl_kernel_name, gsz[0]);
    if (!l) return;
    l->prog = prog;
    l->work_dim = wd;
    memcpy(l->gsz, gsz, sizeof gsz);
    memcpy(l->lsz, lsz, sizeof lsz);
    l->use_local = lsz[0] != 0;
    l->nargs = na;
    memcpy(l->args, args, sizeof(ocl_arg) * (size_t)na);
    for (int k = 0; k < op->max_outputs && k < n->n_outputs; ++k) {
        if (out_own[k] < 0) continue;
        out_slot[k] = slot_write(b, n->outputs[k]);
        OCL_LAUNCH(b, "f_from_f32", (size_t)numel(n->outputs[k]), A_OWN(out_own[k]), A_T(out_slot[k], 0));
    }
}

static void emit_node(builder *b, const engine_node *n) {
    if (n->plugin) {
        emit_plugin(b, n);
        return;
    }
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    float a1, b1;
    int u = unary_code(n, &a1, &b1);
    if (u >= 0) {
        int xs = IN(0), ys = OUT(0);
        if (b->st) return;
        int xl = b->p->slots[xs].lng, yl = b->p->slots[ys].lng;
        if (xl && yl) /* integer copies, Neg/Abs, Cast between widths */
            OCL_LAUNCH(b, "f_unary_l", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(u == U_TOBOOL ? U_COPY : u),
                       A_I(nbits(y->dtype)));
        else if (yl) /* Cast float/bool -> integer */
            OCL_LAUNCH(b, "f_cast_tl", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(nbits(y->dtype)));
        else if (xl) /* Cast integer -> float/bool */
            OCL_LAUNCH(b, "f_cast_lt", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(y->dtype == ENGINE_DTYPE_BOOL));
        else
            OCL_LAUNCH(b, "f_unary", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(u), A_F(a1), A_F(b1));
        /* Dropout's mask in inference: all true. */
        if (n->op == ENGINE_OP_Dropout && n->n_outputs > 1 && n->outputs[1]) {
            int ms = OUT(1);
            OCL_LAUNCH(b, "f_fill", (size_t)numel(n->outputs[1]), A_T(ms, 0), A_F(1.0f));
        }
        return;
    }
    switch (n->op) {
    case ENGINE_OP_Add: case ENGINE_OP_Sub: case ENGINE_OP_Mul: case ENGINE_OP_Div: case ENGINE_OP_Pow:
    case ENGINE_OP_PRelu: case ENGINE_OP_Equal: case ENGINE_OP_Where: {
        int op = n->op == ENGINE_OP_Add ? B_ADD : n->op == ENGINE_OP_Sub ? B_SUB : n->op == ENGINE_OP_Mul ? B_MUL
               : n->op == ENGINE_OP_Div ? B_DIV : n->op == ENGINE_OP_Pow ? B_POW : n->op == ENGINE_OP_PRelu ? B_PRELU
               : n->op == ENGINE_OP_Equal ? B_EQUAL : B_WHERE;
        int r = y->rank, meta[1 + 4 * OCL_MAX_RANK];
        meta[0] = r;
        for (int d = 0; d < r; ++d) meta[1 + d] = (int)y->dims[d];
        bcast_strides(n->inputs[0], y, meta + 1 + r);
        bcast_strides(n->inputs[1], y, meta + 1 + 2 * r);
        if (op == B_WHERE) bcast_strides(n->inputs[2], y, meta + 1 + 3 * r);
        else memset(meta + 1 + 3 * r, 0, sizeof(int) * (size_t)r);
        int as = IN(0), bs = IN(1), cs = op == B_WHERE ? IN(2) : as, ys = OUT(0);
        int mo = meta_add(b, meta, 1 + 4 * r);
        if (b->st) return;
        size_t cnt = (size_t)numel(y);
        if (op == B_WHERE && b->p->slots[ys].lng)
            OCL_LAUNCH(b, "f_where_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs, 0), A_T(ys, 0));
        else if (op == B_EQUAL && b->p->slots[as].lng)
            OCL_LAUNCH(b, "f_equal_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(ys, 0));
        else if (op == B_POW && b->p->slots[bs].lng)
            OCL_LAUNCH(b, "f_pow_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(ys, 0));
        else if (b->p->slots[ys].lng) /* Add/Sub/Mul/Div of integers; a division by zero is an error */
            OCL_LAUNCH(b, "f_arith_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(ys, 0), A_I(op),
                       A_I(nbits(y->dtype)), A_FLAG(), A_I(b->step));
        else
            OCL_LAUNCH(b, "f_broadcast", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs, 0), A_T(ys, 0), A_I(op));
        return;
    }
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: emit_conv(b, n); return;
    case ENGINE_OP_MaxPool: case ENGINE_OP_AveragePool: emit_pool(b, n); return;
    case ENGINE_OP_GlobalAveragePool: case ENGINE_OP_GlobalMaxPool:
        emit_reduce(b, n, n->op == ENGINE_OP_GlobalMaxPool ? R_MAX : R_MEAN, ((uint32_t)1 << x->rank) - 4u);
        return;
    case ENGINE_OP_ReduceMean: case ENGINE_OP_ReduceSum: case ENGINE_OP_ReduceMax: {
        const engine_reduce_params *p = n->params;
        emit_reduce(b, n, n->op == ENGINE_OP_ReduceMax ? R_MAX : n->op == ENGINE_OP_ReduceMean ? R_MEAN : R_SUM,
                    p->axes_mask);
        return;
    }
    case ENGINE_OP_Gemm: case ENGINE_OP_MatMul: emit_matmul(b, n); return;
    case ENGINE_OP_Softmax: case ENGINE_OP_LogSoftmax: {
        const engine_softmax_params *p = n->params;
        int64_t outer = 1, len = 1, inner = 1;
        for (int d = 0; d < x->rank; ++d) {
            if (d < p->axis) outer *= x->dims[d];
            else if (d == p->axis || p->legacy) len *= x->dims[d];
            else inner *= x->dims[d];
        }
        int xs = IN(0), ys = OUT(0);
        if (len > 0)
            OCL_LAUNCH(b, "f_softmax", (size_t)(outer * inner), A_T(xs, 0), A_T(ys, 0), A_I((int)len), A_I((int)inner),
                       A_I(n->op == ENGINE_OP_LogSoftmax));
        return;
    }
    case ENGINE_OP_BatchNormalization: {
        const engine_scalar_params *p = n->params;
        int xs = IN(0), sc = IN(1), bi = IN(2), me = IN(3), va = IN(4), ys = OUT(0);
        if (b->st) return;
        int64_t plane = plane_of(x);
        /* Each parameter tensor is its own (buffer, offset): the weight
         * buffer for constants, the arena for run-time values. */
        OCL_LAUNCH(b, "f_batchnorm", (size_t)numel(y), A_T(xs, 0), A_T(sc, 0), A_T(bi, 0), A_T(me, 0), A_T(va, 0),
                   A_T(ys, 0), A_I((int)plane), A_I((int)x->dims[1]), A_F(p->epsilon));
        return;
    }
    case ENGINE_OP_InstanceNormalization: {
        const engine_scalar_params *p = n->params;
        int xs = IN(0), sc = IN(1), bi = IN(2), ys = OUT(0);
        if (b->st) return;
        int64_t plane = plane_of(x);
        if (plane > 0)
            OCL_LAUNCH(b, "f_instnorm", (size_t)(x->dims[0] * x->dims[1]), A_T(xs, 0), A_T(sc, 0), A_T(bi, 0),
                       A_T(ys, 0), A_I((int)plane), A_I((int)x->dims[1]), A_F(p->epsilon));
        return;
    }
    case ENGINE_OP_LRN: {
        const engine_scalar_params *p = n->params;
        int64_t plane = plane_of(x);
        int lo = (int)((p->size - 1) / 2), hi = (int)(p->size - 1 - lo);
        int xs = IN(0), ys = OUT(0);
        OCL_LAUNCH(b, "f_lrn", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I((int)plane), A_I((int)x->dims[1]), A_I(lo),
                   A_I(hi), A_F(p->alpha), A_F(p->beta), A_F(p->bias), A_I((int)p->size));
        return;
    }
    case ENGINE_OP_Resize: case ENGINE_OP_Upsample: emit_resize(b, n); return;
    case ENGINE_OP_Concat: {
        const engine_axis_params *p = n->params;
        int ys = OUT(0);
        int64_t os[ENGINE_MAX_RANK], at = 0;
        c_strides(y, os);
        if (b->st) return;
        size_t yoff;
        int yhome = slot_home(b->p, ys, &yoff);
        for (int k = 0; k < n->n_inputs; ++k) {
            const engine_value *v = n->inputs[k];
            if (!v) continue;
            int64_t is[ENGINE_MAX_RANK];
            c_strides(v, is);
            int vs = slot_read(b, v);
            if (vs < 0) return;
            /* An input whose storage already is its destination slice (a
             * Concat alias) needs no copy. */
            size_t voff;
            int vhome = slot_home(b->p, vs, &voff);
            int in_place = vhome == yhome && voff == yoff + (size_t)(at * os[p->axis]);
            if (numel(v) > 0 && !in_place)
                emit_copy_strided(b, vs, 0, ys, (int)(at * os[p->axis]), v->rank, v->dims, is, os);
            at += v->dims[p->axis];
        }
        return;
    }
    case ENGINE_OP_Split: {
        const engine_axis_params *p = n->params;
        int xs = IN(0);
        int64_t is[ENGINE_MAX_RANK], at = 0;
        c_strides(x, is);
        for (int k = 0; k < n->n_outputs; ++k) {
            const engine_value *v = n->outputs[k];
            if (!v) {
                at += k < p->n_sizes ? p->sizes[k] : 0;
                continue;
            }
            int64_t os[ENGINE_MAX_RANK];
            c_strides(v, os);
            int vs = slot_write(b, v);
            if (numel(v) > 0) emit_copy_strided(b, xs, (int)(at * is[p->axis]), vs, 0, v->rank, v->dims, is, os);
            at += v->dims[p->axis];
        }
        return;
    }
    case ENGINE_OP_Slice: {
        const engine_slice_params *p = n->params;
        int64_t is[ENGINE_MAX_RANK], os[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK], base = 0;
        c_strides(x, is);
        c_strides(y, os);
        for (int d = 0; d < x->rank; ++d) {
            st[d] = is[d] * p->step[d];
            if (y->dims[d] > 0) base += p->start[d] * is[d];
        }
        int xs = IN(0), ys = OUT(0);
        if (fits_int(base)) emit_copy_strided(b, xs, (int)base, ys, 0, y->rank, y->dims, st, os);
        return;
    }
    case ENGINE_OP_Transpose: {
        const engine_transpose_params *p = n->params;
        int64_t is[ENGINE_MAX_RANK], os[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK];
        c_strides(x, is);
        c_strides(y, os);
        for (int d = 0; d < y->rank; ++d) st[d] = is[p->perm[d]];
        int xs = IN(0), ys = OUT(0);
        emit_copy_strided(b, xs, 0, ys, 0, y->rank, y->dims, st, os);
        return;
    }
    case ENGINE_OP_Expand: {
        int64_t os[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK];
        int bs[ENGINE_MAX_RANK];
        c_strides(y, os);
        bcast_strides(x, y, bs);
        for (int d = 0; d < y->rank; ++d) st[d] = bs[d];
        int xs = IN(0), ys = OUT(0);
        emit_copy_strided(b, xs, 0, ys, 0, y->rank, y->dims, st, os);
        return;
    }
    case ENGINE_OP_Tile: {
        int64_t is[ENGINE_MAX_RANK], os[ENGINE_MAX_RANK], cnt[16], ist[16], ost[16];
        c_strides(x, is);
        c_strides(y, os);
        int r = y->rank;
        for (int d = 0; d < r; ++d) {
            cnt[2 * d] = x->dims[d] ? y->dims[d] / x->dims[d] : 0;
            cnt[2 * d + 1] = x->dims[d];
            ist[2 * d] = 0;
            ist[2 * d + 1] = is[d];
            ost[2 * d] = x->dims[d] * os[d];
            ost[2 * d + 1] = os[d];
        }
        int xs = IN(0), ys = OUT(0);
        emit_copy_strided(b, xs, 0, ys, 0, 2 * r, cnt, ist, ost);
        return;
    }
    case ENGINE_OP_DepthToSpace: case ENGINE_OP_SpaceToDepth: {
        const engine_axis_params *p = n->params;
        int64_t bsz = p->blocksize, N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
        int64_t cnt[6], ist[6], ost[6];
        if (n->op == ENGINE_OP_DepthToSpace) {
            int64_t Co = C / (bsz * bsz);
            int64_t sN = C * H * W, sc, sb1, sb2;
            if (p->crd) {
                sc = bsz * bsz * H * W;
                sb1 = bsz * H * W;
                sb2 = H * W;
            } else {
                sb1 = bsz * Co * H * W;
                sb2 = Co * H * W;
                sc = H * W;
            }
            int64_t c6[6] = {N, Co, H, bsz, W, bsz}, i6[6] = {sN, sc, W, sb1, 1, sb2};
            memcpy(cnt, c6, sizeof c6);
            memcpy(ist, i6, sizeof i6);
        } else {
            int64_t c6[6] = {N, bsz, bsz, C, H / bsz, W / bsz}, i6[6] = {C * H * W, W, 1, H * W, bsz * W, bsz};
            memcpy(cnt, c6, sizeof c6);
            memcpy(ist, i6, sizeof i6);
        }
        int64_t s = 1;
        for (int d = 5; d >= 0; --d) {
            ost[d] = s;
            s *= cnt[d];
        }
        int xs = IN(0), ys = OUT(0);
        emit_copy_strided(b, xs, 0, ys, 0, 6, cnt, ist, ost);
        return;
    }
    case ENGINE_OP_Gather: {
        const engine_axis_params *p = n->params;
        const engine_value *ix = n->inputs[1];
        int64_t len = x->dims[p->axis], pre = 1, post = 1, ni = numel(ix);
        for (int d = 0; d < p->axis; ++d) pre *= x->dims[d];
        for (int d = p->axis + 1; d < x->rank; ++d) post *= x->dims[d];
        if (!ix->data) {
            /* Run-time indices: read on the device, checked there (an
             * index out of range is an error of the run, as in ref). */
            int g3[3] = {(int)len, (int)ni, (int)(post ? post : 1)};
            int mo = meta_add(b, g3, 3);
            int xs = IN(0), is = IN(1), ys = OUT(0);
            if (b->st) return;
            OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_gather_rt_l" : "f_gather_rt", (size_t)numel(y), A_META(mo),
                       A_T(xs, 0), A_T(is, 0), A_T(ys, 0), A_FLAG(), A_I(b->step));
            return;
        }
        int *meta = xalloc(b->s, sizeof(int) * (size_t)(ni + 3));
        if (!meta) {
            oom(b);
            return;
        }
        meta[0] = (int)len;
        meta[1] = (int)ni;
        meta[2] = (int)(post ? post : 1);
        for (int64_t k = 0; k < ni; ++k) {
            int64_t v = ix->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)ix->data)[k]
                                                      : ((const int32_t *)ix->data)[k];
            if (v < 0) v += len;
            if (v < 0 || v >= len) {
                xfree(b->s, meta);
                node_err(b, n, ENGINE_ERR_INVALID_MODEL, "%s", "index out of range");
                return;
            }
            meta[3 + k] = (int)v;
        }
        int mo = meta_add(b, meta, (int)(ni + 3));
        xfree(b->s, meta);
        int xs = IN(0), ys = OUT(0);
        if (b->st) return;
        OCL_LAUNCH(b, b->p->slots[xs].lng ? "f_gather_l" : "f_gather", (size_t)numel(y), A_META(mo), A_T(xs, 0),
                   A_T(ys, 0));
        return;
    }
    case ENGINE_OP_Pad: {
        const engine_pad_params *p = n->params;
        int r = x->rank, meta[2 + 3 * OCL_MAX_RANK];
        meta[0] = r;
        meta[1] = (int)p->mode;
        for (int d = 0; d < r; ++d) {
            meta[2 + d] = (int)x->dims[d];
            meta[2 + r + d] = (int)y->dims[d];
            meta[2 + 2 * r + d] = (int)p->pad_begin[d];
        }
        int xs = IN(0), ys = OUT(0);
        if (numel(x) == 0 && p->mode != ENGINE_PAD_CONSTANT && numel(y) > 0) {
            node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "reflect/edge padding of an empty tensor");
            return;
        }
        int mo = meta_add(b, meta, 2 + 3 * r);
        if (b->st) return;
        if (b->p->slots[xs].lng) {
            /* the pad value as the reference stores it: toward zero, wrapped to the width */
            double v = p->value;
            int64_t iv = isnan(v) ? 0 : v >= 9223372036854775808.0 ? INT64_MAX : v <= -9223372036854775808.0 ? INT64_MIN
                                                                                                           : (int64_t)v;
            int nb = nbits(y->dtype);
            uint64_t u = (uint64_t)iv;
            iv = nb == NB_I32 ? (int64_t)(int32_t)(uint32_t)u : nb == NB_I8 ? (int64_t)(int8_t)(uint8_t)u
               : nb == NB_U8 ? (int64_t)(uint8_t)u : iv;
            OCL_LAUNCH(b, "f_pad_l", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(ys, 0), A_L(iv));
        } else {
            OCL_LAUNCH(b, "f_pad", (size_t)numel(y), A_META(mo), A_T(xs, 0), A_T(ys, 0), A_F((float)p->value));
        }
        return;
    }
    default:
        node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
}

/* ---- host conversions (fp16 storage, bool seams) ---- */

static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xffu) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) ++h;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h; /* may carry into the exponent: still right */
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) {
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    if (exp == 31) x = sign | 0x7f800000u | (man << 13);
    else x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* Does a seam of this dtype go through the staging buffer (a conversion)?
 * float32 only in fp16 storage; int64 never (stored as it is); the others
 * always. */
static int needs_stage(const ocl_state *s, engine_dtype dt) {
    return dt == ENGINE_DTYPE_I64 ? 0 : dt == ENGINE_DTYPE_F32 ? s->fp16 : 1;
}

/* host values (dtype) -> device storage (T, or long for integers) */
static void to_storage(const ocl_state *s, engine_dtype dt, const void *src, void *dst, size_t count) {
    if (dclass(dt) == 1) {
        for (size_t e = 0; e < count; ++e) ((int64_t *)dst)[e] = int_at(dt, src, e);
        return;
    }
    for (size_t e = 0; e < count; ++e) {
        float v = dt == ENGINE_DTYPE_BOOL ? (float)(((const uint8_t *)src)[e] != 0) : ((const float *)src)[e];
        if (s->fp16) ((uint16_t *)dst)[e] = f32_to_f16(v);
        else ((float *)dst)[e] = v;
    }
}

static void from_storage(const ocl_state *s, engine_dtype dt, const void *src, void *dst, size_t count) {
    if (dclass(dt) == 1) {
        /* the kernels keep values wrapped to the width: plain narrowing */
        const int64_t *q = src;
        for (size_t e = 0; e < count; ++e) {
            switch (dt) {
            case ENGINE_DTYPE_I64: ((int64_t *)dst)[e] = q[e]; break;
            case ENGINE_DTYPE_I32: ((int32_t *)dst)[e] = (int32_t)q[e]; break;
            case ENGINE_DTYPE_I8: ((int8_t *)dst)[e] = (int8_t)q[e]; break;
            default: ((uint8_t *)dst)[e] = (uint8_t)q[e]; break;
            }
        }
        return;
    }
    for (size_t e = 0; e < count; ++e) {
        float v = s->fp16 ? f16_to_f32(((const uint16_t *)src)[e]) : ((const float *)src)[e];
        if (dt == ENGINE_DTYPE_BOOL) ((uint8_t *)dst)[e] = v != 0.0f;
        else ((float *)dst)[e] = v;
    }
}

/* ---- the interface ---- */

#ifdef OCL_TEST_HOOKS
const ocl_api *ocl_api_override;
#endif

static engine_status ocl_create(const engine_backend_config *config, void **state, char *err, size_t err_size) {
    if (!config || !state || !config->allocator.alloc || !config->allocator.free || !config->host ||
        config->host->struct_size < sizeof(engine_host_services) || !config->host->plan_arena) {
        if (err && err_size) snprintf(err, err_size, "opencl: no allocator or host services in the config");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    ocl_state *s = config->allocator.alloc(config->allocator.user, sizeof *s, _Alignof(ocl_state));
    if (!s) {
        if (err && err_size) snprintf(err, err_size, "opencl: out of memory");
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    memset(s, 0, sizeof *s);
    s->a = config->allocator;
    s->host = config->host;
    s->log = config->log;
    s->log_user = config->log_user;
    s->cl = ocl_api_default();
#ifdef OCL_TEST_HOOKS
    if (ocl_api_override) s->cl = ocl_api_override;
#endif
    /* The session's precision, else ENGINE_OPENCL_PRECISION (lets the case
     * runner, which has no precision option, run the fp16 suite). */
    const char *prec = config->precision ? config->precision : getenv("ENGINE_OPENCL_PRECISION");
    if (prec && strcmp(prec, "fp16") == 0) s->fp16 = 1;
    else if (prec && prec[0] && strcmp(prec, "fp32") != 0) {
        if (err && err_size) snprintf(err, err_size, "opencl: unknown precision '%s'", prec);
        s->a.free(s->a.user, s);
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    engine_status st = ocl_open(s, config, err, err_size);
    if (st) {
        ocl_close(s);
        s->a.free(s->a.user, s);
        return st;
    }
    /* CLBlast for GEMM-shaped work (fp32 only: its half GEMM accumulates in
     * half). ENGINE_OPENCL_CLBLAST=0 keeps everything on our own kernels. */
    const char *cb = getenv("ENGINE_OPENCL_CLBLAST");
    s->clblast = !s->fp16 && !(cb && strcmp(cb, "0") == 0);
    if (s->fp16 && !s->dev.fp16 && s->log) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "opencl: device '%s' has no cl_khr_fp16; fp16 storage uses vload_half/vstore_half (core OpenCL 1.2)",
                 s->dev.name);
        s->log(s->log_user, ENGINE_LOG_INFO, msg);
    }
    *state = s;
    return ENGINE_OK;
}

static void ocl_destroy(void *state) {
    ocl_state *s = state;
    if (!s) return;
    ocl_close(s);
    s->a.free(s->a.user, s);
}

/* GPU 1000; a CPU OpenCL device (POCL) below the SIMD cpu backend (100),
 * above ref (10); anything else in between. */
static int ocl_score(void *state) {
    const ocl_state *s = state;
    if (s->dev.type & CL_DEVICE_TYPE_GPU) return 1000;
    if (s->dev.type & CL_DEVICE_TYPE_CPU) return 50;
    return 500;
}

static const char *ocl_describe(void *state) {
    const ocl_state *s = state;
    return s->describe ? s->describe : "OpenCL";
}

static int ocl_supports(void *state, const engine_node *node) {
    (void)state;
    return ocl_supports_node(node);
}

static void program_free(ocl_state *s, ocl_program *p) {
    if (!p) return;
    for (int k = 0; k < p->n_launches; ++k)
        if (p->launches[k].kernel) s->cl->ReleaseKernel(p->launches[k].kernel);
    if (p->arena) s->cl->ReleaseMemObject(p->arena);
    if (p->weights) s->cl->ReleaseMemObject(p->weights);
    if (p->iweights) s->cl->ReleaseMemObject(p->iweights);
    if (p->flag) s->cl->ReleaseMemObject(p->flag);
    if (p->meta) s->cl->ReleaseMemObject(p->meta);
    for (int k = 0; k < p->n_own && p->own; ++k)
        if (p->own[k]) s->cl->ReleaseMemObject(p->own[k]);
    xfree(s, p->own);
    xfree(s, p->own_info);
    xfree(s, p->launches);
    xfree(s, p->slots);
    xfree(s, p->ins);
    xfree(s, p->outs);
    xfree(s, p->copies);
    xfree(s, p->staging);
    xfree(s, p->events);
    xfree(s, p);
}

static void ocl_release(void *state, void *program) {
    program_free(state, program);
}

static engine_status ocl_program_stats(void *state, void *program, engine_program_stats *stats) {
    const ocl_state *s = state;
    const ocl_program *p = program;
    if (!s || !p || !stats) return ENGINE_ERR_INVALID_ARGUMENT;
    memset(stats, 0, sizeof *stats);
    stats->arena_bytes = p->arena_bytes;
    stats->weight_bytes = p->weight_bytes;
    stats->device_bytes = p->arena_bytes + p->weight_bytes + p->meta_bytes;
    stats->compile_ms = s->compile_ms;
    stats->kernels_from_cache = s->from_cache;
    stats->kernels_built = s->built;
    return ENGINE_OK;
}

static engine_status cl_fail(ocl_state *s, cl_int e, const char *what, char *err, size_t err_size) {
    if (err && err_size)
        snprintf(err, err_size, "opencl: device '%s': %s failed (%s)", s->dev.name, what, ocl_err_name(e));
    return e == CL_OUT_OF_HOST_MEMORY ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND;
}

static cl_mem buf_of(const ocl_program *p, int buf) {
    return buf == BUF_ARENA ? p->arena : buf == BUF_WEIGHTS ? p->weights : buf == BUF_IWEIGHTS ? p->iweights : p->meta;
}

/* Creates the buffers and kernel objects once the plan is known. */
static engine_status realise(ocl_state *s, ocl_program *p, builder *b, char *err, size_t err_size) {
    const ocl_api *cl = s->cl;
    cl_int e = CL_SUCCESS;
    const size_t ts = tsize(s);
    p->weight_bytes = (b->n_wts ? b->n_wts : 1) * ts;
    p->meta_bytes = (b->n_meta ? b->n_meta : 1) * sizeof(int);
    size_t arena = p->arena_bytes ? p->arena_bytes : ts;
    if (s->dev.max_alloc && (arena > s->dev.max_alloc || p->weight_bytes > s->dev.max_alloc)) {
        if (err && err_size)
            snprintf(err, err_size, "opencl: device '%s': a buffer of %zu bytes exceeds the device's %llu-byte limit",
                     s->dev.name, arena > p->weight_bytes ? arena : p->weight_bytes,
                     (unsigned long long)s->dev.max_alloc);
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    p->arena = cl->CreateBuffer(s->ctx, CL_MEM_READ_WRITE, arena, NULL, &e);
    if (!p->arena || e) {
        p->arena = NULL;
        return cl_fail(s, e ? e : CL_MEM_OBJECT_ALLOCATION_FAILURE, "allocating the activation arena", err, err_size);
    }
    /* Weights converted to the storage type, uploaded once. */
    void *host = xalloc(s, p->weight_bytes);
    if (!host) return cl_fail(s, CL_OUT_OF_HOST_MEMORY, "staging the weights", err, err_size);
    memset(host, 0, p->weight_bytes);
    to_storage(s, ENGINE_DTYPE_F32, b->wts, host, b->n_wts);
    p->weights = cl->CreateBuffer(s->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, p->weight_bytes, host, &e);
    xfree(s, host);
    if (!p->weights || e) {
        p->weights = NULL;
        return cl_fail(s, e ? e : CL_MEM_OBJECT_ALLOCATION_FAILURE, "uploading the weights", err, err_size);
    }
    /* Integer constants, stored as long, uploaded once. */
    int64_t izero = 0;
    p->iweights = cl->CreateBuffer(s->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                   (b->n_iwts ? b->n_iwts : 1) * sizeof(int64_t), b->n_iwts ? (void *)b->iwts : &izero,
                                   &e);
    if (!p->iweights || e) {
        p->iweights = NULL;
        return cl_fail(s, e ? e : CL_MEM_OBJECT_ALLOCATION_FAILURE, "uploading the integer constants", err, err_size);
    }
    p->weight_bytes += b->n_iwts * sizeof(int64_t);
    int dummy = 0;
    if (b->has_flag) {
        p->flag = cl->CreateBuffer(s->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof(int), &dummy, &e);
        if (!p->flag || e) {
            p->flag = NULL;
            return cl_fail(s, e ? e : CL_MEM_OBJECT_ALLOCATION_FAILURE, "allocating the error flag", err, err_size);
        }
    }
    p->meta = cl->CreateBuffer(s->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, p->meta_bytes,
                               b->n_meta ? (void *)b->meta : (void *)&dummy, &e);
    if (!p->meta || e) {
        p->meta = NULL;
        return cl_fail(s, e ? e : CL_MEM_OBJECT_ALLOCATION_FAILURE, "uploading the kernel parameters", err, err_size);
    }
    if (p->n_own) {
        p->own = xalloc(s, sizeof *p->own * (size_t)p->n_own);
        if (!p->own) return cl_fail(s, CL_OUT_OF_HOST_MEMORY, "allocating plugin buffers", err, err_size);
        memset(p->own, 0, sizeof *p->own * (size_t)p->n_own);
        for (int k = 0; k < p->n_own; ++k) {
            const ocl_own *o = &p->own_info[k];
            p->own[k] = cl->CreateBuffer(s->ctx, o->data ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_READ_WRITE,
                                         o->size, (void *)o->data, &e);
            if (!p->own[k] || e) {
                p->own[k] = NULL;
                return cl_fail(s, e ? e : CL_MEM_OBJECT_ALLOCATION_FAILURE, "allocating a plugin buffer", err,
                               err_size);
            }
        }
    }
    for (int k = 0; k < p->n_launches; ++k) {
        ocl_launch *l = &p->launches[k];
        if (!l->kname) continue;
        l->kernel = cl->CreateKernel(l->prog ? l->prog : s->program, l->kname, &e);
        if (!l->kernel || e) {
            l->kernel = NULL;
            return cl_fail(s, e ? e : CL_OUT_OF_RESOURCES, "creating a kernel", err, err_size);
        }
        cl_uint ai = 0;
        for (int j = 0; j < l->nargs && !e; ++j) {
            const ocl_arg *a = &l->args[j];
            cl_mem m;
            int off;
            switch (a->kind) {
            case OCL_ARG_TENSOR:
                m = buf_of(p, p->slots[a->i].buf);
                off = (int)p->slots[a->i].off + a->extra;
                e = cl->SetKernelArg(l->kernel, ai++, sizeof m, &m);
                if (!e) e = cl->SetKernelArg(l->kernel, ai++, sizeof off, &off);
                break;
            case OCL_ARG_META:
                m = p->meta;
                e = cl->SetKernelArg(l->kernel, ai++, sizeof m, &m);
                if (!e) e = cl->SetKernelArg(l->kernel, ai++, sizeof a->i, &a->i);
                break;
            case OCL_ARG_WEIGHTS:
                m = p->weights;
                e = cl->SetKernelArg(l->kernel, ai++, sizeof m, &m);
                break;
            case OCL_ARG_FLAG:
                m = p->flag;
                e = cl->SetKernelArg(l->kernel, ai++, sizeof m, &m);
                break;
            case OCL_ARG_LONG: {
                cl_long v = (cl_long)a->ll;
                e = cl->SetKernelArg(l->kernel, ai++, sizeof v, &v);
                break;
            }
            case OCL_ARG_OWN:
                m = p->own[a->i];
                e = cl->SetKernelArg(l->kernel, ai++, sizeof m, &m);
                break;
            case OCL_ARG_NULL: e = cl->SetKernelArg(l->kernel, ai++, sizeof(cl_mem), NULL); break;
            case OCL_ARG_RAW: e = cl->SetKernelArg(l->kernel, ai++, a->size, a->raw); break;
            case OCL_ARG_INT: e = cl->SetKernelArg(l->kernel, ai++, sizeof a->i, &a->i); break;
            case OCL_ARG_FLOAT: e = cl->SetKernelArg(l->kernel, ai++, sizeof a->f, &a->f); break;
            }
        }
        if (e) return cl_fail(s, e, "setting kernel arguments", err, err_size);
    }
    return ENGINE_OK;
}

static engine_status enqueue_all(ocl_state *s, ocl_program *p, cl_command_queue q, int with_events, char *err,
                                 size_t err_size);

static engine_status ocl_compile(void *state, const engine_partition *part, void **program, char *err,
                                 size_t err_size) {
    ocl_state *s = state;
    if (!s || !part || !program || part->n_nodes < 0 || (part->n_nodes > 0 && !part->nodes)) {
        if (err && err_size) snprintf(err, err_size, "opencl: bad partition");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    for (int k = 0; k < part->n_nodes; ++k)
        if (!ocl_supports_node(part->nodes[k])) {
            const engine_node *n = part->nodes[k];
            if (err && err_size)
                snprintf(err, err_size, "node '%s' (%s): not supported by opencl (dtype, rank or params)", n->name,
                         n->op_type);
            return ENGINE_ERR_UNSUPPORTED;
        }
    engine_status st = ocl_build_program(s, err, err_size);
    if (st) return st;

    builder bld;
    memset(&bld, 0, sizeof bld);
    builder *b = &bld;
    b->s = s;
    b->part = part;
    b->err = err;
    b->err_size = err_size;
    engine_plan_buffer *plan = NULL;
    int *plan_slot = NULL;
    ocl_program *p = xalloc(s, sizeof *p);
    if (!p) {
        oom(b);
        goto fail;
    }
    memset(p, 0, sizeof *p);
    b->p = p;
    p->n_steps = part->n_nodes;
    for (int k = 0; k < part->n_nodes && !b->st; ++k) {
        const engine_node *n = part->nodes[k];
        b->step = k;
        int all_const = n->n_outputs > 0;
        for (int j = 0; j < n->n_outputs; ++j) all_const &= !n->outputs[j] || n->outputs[j]->data != NULL;
        if (all_const) continue;
        emit_node(b, n);
    }
    if (b->st) goto fail;

    /* Seams: inputs uploaded, outputs read back; outputs no node writes are
     * host copies (from a constant or an input). */
    p->ins = xalloc(s, sizeof *p->ins * (size_t)(part->n_inputs + 1));
    p->outs = xalloc(s, sizeof *p->outs * (size_t)(part->n_outputs + 1));
    p->copies = xalloc(s, sizeof *p->copies * (size_t)(part->n_outputs + 1));
    if (!p->ins || !p->outs || !p->copies) {
        oom(b);
        goto fail;
    }
    for (int k = 0; k < p->n_slots; ++k) {
        ocl_slot *sl = &p->slots[k];
        if (sl->part_in >= 0) p->ins[p->n_in++] = (ocl_seam){sl->part_in, k, sl->v->dtype, sl->count, 0};
        if (sl->part_out >= 0) {
            sl->last = part->n_nodes;
            p->outs[p->n_out++] = (ocl_seam){sl->part_out, k, sl->v->dtype, sl->count, 0};
        }
    }
    for (int j = 0; j < part->n_outputs; ++j) {
        int written = 0;
        for (int k = 0; k < p->n_out; ++k) written |= p->outs[k].index == j;
        if (written) continue;
        const engine_value *v = part->outputs[j];
        int in = v && !v->data ? find_in(part->inputs, part->n_inputs, v) : -1;
        if (!v || (!v->data && in < 0)) {
            if (err && err_size) snprintf(err, err_size, "opencl: partition output '%s' is not produced", v ? v->name : "?");
            b->st = ENGINE_ERR_INVALID_MODEL;
            goto fail;
        }
        size_t es = host_size(v->dtype);
        p->copies[p->n_copies++] = (ocl_copy){j, in, v->data, (size_t)numel(v) * es};
    }
    /* Staging for seams that need a conversion (fp16 storage, bool). */
    for (int pass = 0; pass < 2; ++pass) {
        ocl_seam *list = pass ? p->outs : p->ins;
        int cnt = pass ? p->n_out : p->n_in;
        for (int k = 0; k < cnt; ++k)
            if (needs_stage(s, list[k].dtype)) {
                list[k].staging = p->staging_bytes;
                p->staging_bytes += (list[k].count * 8 + 63) / 64 * 64;
            }
    }
    if (p->staging_bytes && !(p->staging = xalloc(s, p->staging_bytes))) {
        oom(b);
        goto fail;
    }

    /* The arena: every arena slot planned by the shared liveness planner. */
    plan = xalloc(s, sizeof *plan * (size_t)(p->n_slots + 1));
    plan_slot = xalloc(s, sizeof *plan_slot * (size_t)(p->n_slots + 1));
    if (!plan || !plan_slot) {
        oom(b);
        goto fail;
    }
    int np = 0;
    for (int k = 0; k < p->n_slots; ++k)
        if (p->slots[k].buf == BUF_ARENA && p->slots[k].last == INT_MAX) p->slots[k].last = part->n_nodes;
    /* An alias root lives from the first write of any member to the last
     * read of any member (ir.h's contract). */
    for (int k = 0; k < p->n_slots; ++k) {
        const ocl_slot *m = &p->slots[k];
        if (m->root < 0) continue;
        ocl_slot *r = &p->slots[m->root];
        if (m->first < r->first) r->first = m->first;
        if (m->last > r->last) r->last = m->last;
    }
    for (int k = 0; k < p->n_slots; ++k) {
        ocl_slot *sl = &p->slots[k];
        if (sl->buf != BUF_ARENA || sl->root >= 0) continue;
        size_t bytes = (sl->count * sl->esz + OCL_ALIGN - 1) / OCL_ALIGN * OCL_ALIGN;
        plan[np] = (engine_plan_buffer){bytes ? bytes : OCL_ALIGN, sl->first, sl->last, 0};
        plan_slot[np++] = k;
    }
    st = s->host->plan_arena(&s->a, plan, np, OCL_ALIGN, &p->arena_bytes);
    if (st) {
        if (st == ENGINE_ERR_OUT_OF_MEMORY) oom(b);
        else if (err && err_size) snprintf(err, err_size, "opencl: memory plan failed (sizes overflow)");
        b->st = st;
        goto fail;
    }
    if (p->arena_bytes / tsize(s) > INT_MAX || b->n_wts > INT_MAX || b->n_iwts > INT_MAX) {
        if (err && err_size)
            snprintf(err, err_size, "opencl: device '%s': activations or weights exceed 2^31 elements", s->dev.name);
        b->st = ENGINE_ERR_UNSUPPORTED;
        goto fail;
    }
    for (int k = 0; k < np; ++k) p->slots[plan_slot[k]].off = plan[k].offset / p->slots[plan_slot[k]].esz;
    for (int k = 0; k < p->n_slots; ++k)
        if (p->slots[k].root >= 0) p->slots[k].off = p->slots[p->slots[k].root].off + p->slots[k].aoff;

    if ((b->st = realise(s, p, b, err, err_size))) goto fail;
    p->events = xalloc(s, sizeof *p->events * (size_t)(p->n_launches + 1));
    if (!p->events) {
        oom(b);
        goto fail;
    }
    memset(p->events, 0, sizeof *p->events * (size_t)(p->n_launches + 1));
    /* One pass over the launches now: CLBlast compiles its kernels on the
     * first call, and a launch the device refuses fails here, at compile
     * (where placement can still react), not in the first run. */
    if ((b->st = enqueue_all(s, p, s->queue, 0, err, err_size))) goto fail;
    cl_int e = s->cl->Finish(s->queue);
    if (e) {
        b->st = cl_fail(s, e, "the trial run", err, err_size);
        goto fail;
    }
    xfree(s, plan);
    xfree(s, plan_slot);
    xfree(s, b->meta);
    xfree(s, b->wts);
    xfree(s, b->iwts);
    *program = p;
    return ENGINE_OK;
fail:
    if (s->queue) s->cl->Finish(s->queue);
    xfree(s, plan);
    xfree(s, plan_slot);
    xfree(s, b->meta);
    xfree(s, b->wts);
    xfree(s, b->iwts);
    program_free(s, p);
    return b->st ? b->st : ENGINE_ERR_INTERNAL;
}

static engine_status enqueue_all(ocl_state *s, ocl_program *p, cl_command_queue q, int with_events, char *err,
                                 size_t err_size) {
    const ocl_api *cl = s->cl;
    for (int k = 0; k < p->n_launches; ++k) {
        ocl_launch *l = &p->launches[k];
        cl_event *ev = with_events ? &p->events[k] : NULL;
        if (ev) *ev = NULL;
        if (l->kname) {
            cl_int e = l->work_dim ? cl->EnqueueNDRangeKernel(q, l->kernel, (cl_uint)l->work_dim, NULL, l->gsz,
                                                              l->use_local ? l->lsz : NULL, 0, NULL, ev)
                                   : cl->EnqueueNDRangeKernel(q, l->kernel, 1, NULL, &l->global, NULL, 0, NULL, ev);
            if (e) {
                if (ev) *ev = NULL;
                const engine_node *n = NULL;
                (void)n;
                char what[96];
                snprintf(what, sizeof what, "launching %s", l->kname);
                return cl_fail(s, e, what, err, err_size);
            }
        } else {
            const ocl_slot *A = &p->slots[l->a_slot], *B = &p->slots[l->b_slot], *C = &p->slots[l->c_slot];
            CLBlastStatusCode c = cl->Sgemm(CLBlastLayoutRowMajor, l->ta ? CLBlastTransposeYes : CLBlastTransposeNo,
                                            l->tb ? CLBlastTransposeYes : CLBlastTransposeNo, (size_t)l->gm,
                                            (size_t)l->gn, (size_t)l->gk, l->alpha, buf_of(p, A->buf),
                                            A->off + (size_t)l->a_extra, (size_t)l->lda, buf_of(p, B->buf),
                                            B->off + (size_t)l->b_extra, (size_t)l->ldb, l->beta, buf_of(p, C->buf),
                                            C->off + (size_t)l->c_extra, (size_t)l->ldc, &q, ev);
            if (c != CLBlastSuccess) {
                if (ev) *ev = NULL;
                if (err && err_size)
                    snprintf(err, err_size, "opencl: device '%s': CLBlast SGEMM %dx%dx%d failed (status %d)",
                             s->dev.name, l->gm, l->gn, l->gk, (int)c);
                return c == CLBlastOpenCLOutOfHostMemory ? ENGINE_ERR_OUT_OF_MEMORY : ENGINE_ERR_BACKEND;
            }
        }
    }
    return ENGINE_OK;
}

static void release_events(ocl_state *s, ocl_program *p, int n) {
    for (int k = 0; k < n; ++k)
        if (p->events[k]) {
            s->cl->ReleaseEvent(p->events[k]);
            p->events[k] = NULL;
        }
}

static engine_status ocl_run(void *state, void *program, const void *const *inputs, void *const *outputs,
                             engine_timing_fn timing, void *timing_user, char *err, size_t err_size) {
    ocl_state *s = state;
    ocl_program *p = program;
    if (!s || !p) {
        if (err && err_size) snprintf(err, err_size, "opencl: no program");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    const ocl_api *cl = s->cl;
    cl_int e;
    if (timing && !s->prof_queue) {
        s->prof_queue = cl->CreateCommandQueue(s->ctx, s->dev.device, CL_QUEUE_PROFILING_ENABLE, &e);
        if (!s->prof_queue || e) {
            s->prof_queue = NULL;
            return cl_fail(s, e ? e : CL_OUT_OF_RESOURCES, "creating a profiling queue", err, err_size);
        }
    }
    cl_command_queue q = timing ? s->prof_queue : s->queue;
    static const int zero = 0;
    engine_status st = ENGINE_OK;
    for (int k = 0; k < p->n_in; ++k) {
        const ocl_seam *sm = &p->ins[k];
        const ocl_slot *sl = &p->slots[sm->slot];
        const void *src = inputs[sm->index];
        if (needs_stage(s, sm->dtype)) {
            to_storage(s, sm->dtype, src, p->staging + sm->staging, sm->count);
            src = p->staging + sm->staging;
        }
        if (sm->count && (e = cl->EnqueueWriteBuffer(q, p->arena, CL_FALSE, sl->off * sl->esz, sm->count * sl->esz,
                                                     src, 0, NULL, NULL))) {
            st = cl_fail(s, e, "writing an input", err, err_size);
            goto done;
        }
    }
    /* The error flag (integer division by zero, Gather index out of range)
     * is cleared before the launches and read back with the outputs. */
    p->flag_val = 0;
    if (p->flag && (e = cl->EnqueueWriteBuffer(q, p->flag, CL_FALSE, 0, sizeof zero, &zero, 0, NULL, NULL))) {
        st = cl_fail(s, e, "clearing the error flag", err, err_size);
        goto done;
    }
    if ((st = enqueue_all(s, p, q, timing != NULL, err, err_size))) goto done;
    for (int k = 0; k < p->n_out; ++k) {
        const ocl_seam *sm = &p->outs[k];
        const ocl_slot *sl = &p->slots[sm->slot];
        void *dst = needs_stage(s, sm->dtype) ? (void *)(p->staging + sm->staging) : outputs[sm->index];
        if (sm->count && (e = cl->EnqueueReadBuffer(q, p->arena, CL_FALSE, sl->off * sl->esz, sm->count * sl->esz, dst,
                                                    0, NULL, NULL))) {
            st = cl_fail(s, e, "reading an output", err, err_size);
            goto done;
        }
    }
    if (p->flag && (e = cl->EnqueueReadBuffer(q, p->flag, CL_FALSE, 0, sizeof p->flag_val, &p->flag_val, 0, NULL,
                                              NULL))) {
        st = cl_fail(s, e, "reading the error flag", err, err_size);
        goto done;
    }
    if ((e = cl->Finish(q))) {
        st = cl_fail(s, e, "running the partition", err, err_size);
        goto done;
    }
    if (p->flag_val) {
        const char *what = "a node: run-time error";
        for (int k = 0; k < p->n_launches; ++k)
            if (p->launches[k].step == p->flag_val - 1 && p->launches[k].what[0]) {
                what = p->launches[k].what;
                break;
            }
        if (err && err_size) snprintf(err, err_size, "%s", what);
        st = ENGINE_ERR_INVALID_ARGUMENT;
        goto done;
    }
    for (int k = 0; k < p->n_out; ++k) {
        const ocl_seam *sm = &p->outs[k];
        if (needs_stage(s, sm->dtype))
            from_storage(s, sm->dtype, p->staging + sm->staging, outputs[sm->index], sm->count);
    }
    for (int c = 0; c < p->n_copies; ++c) {
        const ocl_copy *cp = &p->copies[c];
        const void *src = cp->in_index >= 0 ? inputs[cp->in_index] : cp->cdata;
        if (cp->nbytes && src != outputs[cp->out_index]) memmove(outputs[cp->out_index], src, cp->nbytes);
    }
    if (timing) {
        /* Per node: from its first launch's start to its last launch's end,
         * in device time, relative to the run's first launch. */
        cl_ulong t0 = 0;
        int have0 = 0;
        int li = 0;
        for (int step = 0; step < p->n_steps; ++step) {
            cl_ulong start = 0, end = 0;
            int any = 0;
            for (; li < p->n_launches && p->launches[li].step == step; ++li) {
                cl_ulong a = 0, z = 0;
                if (!p->events[li] ||
                    cl->GetEventProfilingInfo(p->events[li], CL_PROFILING_COMMAND_START, sizeof a, &a, NULL) ||
                    cl->GetEventProfilingInfo(p->events[li], CL_PROFILING_COMMAND_END, sizeof z, &z, NULL))
                    continue;
                if (!have0) {
                    t0 = a;
                    have0 = 1;
                }
                if (!any || a < start) start = a;
                if (!any || z > end) end = z;
                any = 1;
            }
            double sm = any && start >= t0 ? (double)(start - t0) * 1e-6 : 0.0;
            timing(timing_user, step, sm, any ? (double)(end - start) * 1e-6 : 0.0);
        }
    }
done:
    if (st) cl->Finish(q);
    if (timing) release_events(s, p, p->n_launches);
    return st;
}

static const engine_backend_iface ocl_iface = {
    .abi_version = ENGINE_BACKEND_ABI_VERSION,
    .struct_size = sizeof(engine_backend_iface),
    .name = "opencl",
    .create = ocl_create,
    .destroy = ocl_destroy,
    .score = ocl_score,
    .describe = ocl_describe,
    .supports = ocl_supports,
    .compile = ocl_compile,
    .run = ocl_run,
    .release = ocl_release,
    .program_stats = ocl_program_stats,
};

OCL_EXPORT const engine_backend_iface *engine_backend_entry(void);

OCL_EXPORT const engine_backend_iface *engine_backend_entry(void) {
    return &ocl_iface;
}
