/*
 * ocl_builder.h - what compile shares with the per-family emitters: the
 * compiled program (launches, slots, seams), the compile-time builder
 * (builder.c), the typed kernel arguments, the family entry points, and
 * the host conversions (storage.c).
 *
 * How a family file (conv.c, gemm.c, pool.c, elementwise.c, reduce.c,
 * resize.c, tensor.c, norm.c, index.c, detect.c, plugin.c) turns a node
 * into launches:
 *   - ocl_slot_read / ocl_slot_write (IN(k), OUT(k)) give the slot of an
 *     input (constants uploaded on first use) or an output;
 *   - ocl_meta_add appends shapes and per-node integers to the meta buffer;
 *   - OCL_LAUNCH records a kernel of the module's program with its typed
 *     arguments (A_T, A_META, ...), in the order of the kernel's parameters;
 *     ocl_launch_new records a raw launch (a CLBlast SGEMM, a plugin kernel).
 * ocl_meta_add, ocl_slot_read, ocl_slot_write, ocl_launch_new, OCL_LAUNCH
 * and the error functions do nothing once b->st is set (the first error
 * wins and carries the message; slots come back -1), so an emitter may
 * call several in a row and test b->st once before it reads a slot's
 * record.
 *
 * Launch order is the program's order: an emitter's launches run in the
 * order it records them, after every launch of the nodes before it.
 */
#ifndef ENGINE_OCL_BUILDER_H
#define ENGINE_OCL_BUILDER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/plugin.h"
#include "engine/storage.h"
#include "ocl_codes.h"
#include "ocl_internal.h"

#define OCL_ALIGN 128u   /* arena slot alignment in bytes (CLBlast, vector loads) */
#define OCL_MAX_RANK 8   /* the most dims a device value has (f_resize's o[8], k[8]) */

/* Which device buffer a slot lives in. */
enum { BUF_NONE, BUF_ARENA, BUF_WEIGHTS, BUF_META, BUF_IWEIGHTS, BUF_SHARED };

/* ---- typed kernel arguments ----
 * A kernel argument is recorded at compile and bound (clSetKernelArg) once
 * the buffers exist (module.c, realise). Build them with the A_*
 * constructors below, which the compiler type-checks; each produces the
 * kernel parameters named beside its kind. */
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
/* The meta buffer at offset `off` (an ocl_meta_add result). */
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

/* The most arguments one launch has: a plugin kernel's inputs, outputs and
 * extra arguments (the module's own kernels take far fewer). */
#define OCL_MAX_ARGS (2 * ENGINE_PLUGIN_MAX_IO + ENGINE_PLUGIN_CL_MAX_ARGS)

/* ---- the compiled program ---- */

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
    char what[320]; /* launches that can set the error flag: the message of that error */
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
    cl_mem mem;     /* BUF_SHARED: the weight store's buffer (off 0) */
} ocl_slot;

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
    engine_storage_copy *copies; /* partition outputs no node writes (engine/storage.h) */
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
    struct ocl_wentry **shared; /* weight-store entries this program holds */
    int n_shared, cap_shared;
} ocl_program;

/* ---- the compile-time builder ---- */

typedef struct ocl_builder {
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
    int step;      /* the node being emitted (its index in the partition) */
    char *err;
    size_t err_size;
    engine_status st; /* the first error; everything below is a no-op once set */
} ocl_builder;

/* ---- small helpers (pure) ---- */

/* Device bytes of one element of the storage type T. */
static inline size_t ocl_tsize(const ocl_state *s) {
    return s->fp16 ? 2 : 4;
}

/* Host memory through the engine's allocator (size 0 allocates 1 byte). */
static inline void *ocl_xalloc(ocl_state *s, size_t size) {
    return s->a.alloc(s->a.user, size ? size : 1, 64);
}

static inline void ocl_xfree(ocl_state *s, void *p) {
    if (p) s->a.free(s->a.user, p);
}

static inline int fits_int(int64_t v) {
    return v >= INT_MIN && v <= INT_MAX;
}

/* Device storage class of a dtype: 0 the storage type T (float32; bool as
 * 0/1), 1 long (the integer dtypes), -1 not on the device. */
static inline int dclass(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_F32: case ENGINE_DTYPE_BOOL: return 0;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_I32: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_U8: return 1;
    default: return -1;
    }
}

/* The kernels' width code of an integer dtype (NB_*, ocl_codes.h). */
static inline int nbits(engine_dtype t) {
    return t == ENGINE_DTYPE_I32 ? NB_I32 : t == ENGINE_DTYPE_I8 ? NB_I8 : t == ENGINE_DTYPE_U8 ? NB_U8 : NB_I64;
}

static inline int is_int(engine_dtype t) {
    return t == ENGINE_DTYPE_I64 || t == ENGINE_DTYPE_I32;
}

/* Host bytes per element (the module does not link libengine's
 * engine_dtype_size). */
static inline size_t host_size(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_BOOL: case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: return 1;
    case ENGINE_DTYPE_F16: return 2;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_F64: return 8;
    default: return 4;
    }
}

/* Integer host value k of an integer dtype t, widened. */
static inline int64_t int_at(engine_dtype t, const void *p, size_t k) {
    switch (t) {
    case ENGINE_DTYPE_I64: return ((const int64_t *)p)[k];
    case ENGINE_DTYPE_I32: return ((const int32_t *)p)[k];
    case ENGINE_DTYPE_I8: return ((const int8_t *)p)[k];
    default: return ((const uint8_t *)p)[k];
    }
}

/* A value the kernels can index: rank 0..OCL_MAX_RANK, dims >= 0, and an
 * element count that fits an int (kernel indices are int). */
static inline int numel_ok(const engine_value *v) {
    if (!v || v->rank < 0 || v->rank > OCL_MAX_RANK) return 0;
    int64_t n = 1;
    for (int d = 0; d < v->rank; ++d) {
        if (v->dims[d] < 0 || (v->dims[d] && n > INT_MAX / v->dims[d])) return 0;
        n *= v->dims[d];
    }
    return 1;
}

static inline int64_t numel(const engine_value *v) {
    int64_t n = 1;
    for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
    return n;
}

/* Elements of one (n, c) plane of a [N, C, ...] value. */
static inline int64_t plane_of(const engine_value *v) {
    int64_t p = 1;
    for (int d = 2; d < v->rank; ++d) p *= v->dims[d];
    return p;
}

/* C-order element strides of v (st has v->rank entries). */
static inline void c_strides(const engine_value *v, int64_t *st) {
    int64_t s = 1;
    for (int d = v->rank - 1; d >= 0; --d) {
        st[d] = s;
        s *= v->dims[d];
    }
}

/* Strides of `in` over `out`'s index space (numpy broadcasting, right
 * aligned; 0 on a broadcast dim); st has out->rank entries. */
static inline void bcast_strides(const engine_value *in, const engine_value *out, int *st) {
    int64_t cs[ENGINE_MAX_RANK];
    c_strides(in, cs);
    for (int d = 0; d < out->rank; ++d) {
        int di = d - (out->rank - in->rank);
        st[d] = di < 0 || in->dims[di] == 1 ? 0 : (int)cs[di];
    }
}

/* ---- builder.c ---- */

/* Records the first error: "node 'NAME' (Op) on opencl device '...': "
 * followed by fmt with `what` (n may be NULL). */
void ocl_node_err(ocl_builder *b, const engine_node *n, engine_status st, const char *fmt, const char *what);
/* Records ENGINE_ERR_OUT_OF_MEMORY (host memory while compiling). */
void ocl_oom(ocl_builder *b);
/* Grows *ptr (capacity *cap elements of elem bytes, allocator memory) to
 * hold `need`; 0 (and out of memory recorded) on failure. */
int ocl_grow(ocl_builder *b, void **ptr, size_t *cap, size_t need, size_t elem);
/* Appends n ints to the meta buffer; returns their offset (-1 on error). */
int ocl_meta_add(ocl_builder *b, const int *v, int n);
/* Index of v in list[0..n), -1 when absent. */
int ocl_find_in(engine_value *const *list, int n, const engine_value *v);
/* A new slot for v (NULL: scratch) of dtype dt's storage class in buffer
 * `buf`, live at the current step; -1 on error. */
int ocl_slot_new(ocl_builder *b, const engine_value *v, engine_dtype dt, int buf, size_t count);
/* The slot an input value is read from: its existing slot (its lifetime
 * extended to this step), a constant uploaded now (float/bool into the
 * weight buffer, integers into the integer one), or a partition input.
 * -1 on error (a value neither produced before nor an input). */
int ocl_slot_read(ocl_builder *b, const engine_value *v);
/* The slot a node output is written to (a Concat alias member lives in its
 * root's slot, ir.h); a partition output's slot lives to the end. */
int ocl_slot_write(ocl_builder *b, const engine_value *v);
/* Where slot k's bytes are: the slot that owns the storage, with k's
 * element offset in it in *off. */
int ocl_slot_home(const ocl_program *p, int k, size_t *off);
/* Appends a launch of the current step (kname NULL: a CLBlast SGEMM) with
 * no arguments; the caller fills it. NULL on error. */
ocl_launch *ocl_launch_new(ocl_builder *b, const char *kname, size_t global);
/* Appends a launch of the module's kernel `kname` over `global` work items
 * with args[0..nargs). Nothing is recorded when global is 0 (an empty
 * output). Use OCL_LAUNCH. */
void ocl_launch_args(ocl_builder *b, const char *kname, size_t global, const ocl_arg *args, int nargs);
/* OCL_LAUNCH(b, "f_pool", global, A_META(mo), A_T(xs, 0), A_T(ys, 0)):
 * the arguments as a compound-literal array, counted by sizeof (which does
 * not evaluate them again). */
#define OCL_LAUNCH(b, kname, global, ...)                                                                     \
    ocl_launch_args((b), (kname), (global), (const ocl_arg[]){__VA_ARGS__},                                   \
                    (int)(sizeof((const ocl_arg[]){__VA_ARGS__}) / sizeof(ocl_arg)))

/* Gives the last launch recorded an explicit 3-D geometry: global gs,
 * local ls when use_local (else the driver's). Nothing when a size is 0. */
void ocl_launch_geometry(ocl_builder *b, const size_t *gs, const size_t *ls, int use_local);
/* The work-group size for kernel kname (one dimension, local-memory
 * reductions): the largest power of 2 up to `want` (at least 1) and 256
 * that the kernel may use on this device under the caps (ocl_kernel_fits).
 * 0 on error (b->st set: the kernel could not be created). */
size_t ocl_group_size(ocl_builder *b, const char *kname, size_t want);
/* A slot of `count` floats in the weight buffer, zero-filled, for weights
 * the emitter packs itself (uploaded once, like constants); *data points at
 * it until the next weight is added. -1 on error. */
int ocl_wts_new(ocl_builder *b, size_t count, float **data);

/* A slot of `count` floats of packed weights shared through the instance's
 * weight store (every specialisation of a dynamic model, and sessions of
 * one model, upload a packed weight once): the entry for `key` (its source
 * arrays and packed layout; unused members zero) if there is one, else
 * pack(ctx, dst) fills `count` zeroed floats that are converted to the
 * storage type and uploaded. The program holds a reference, dropped at
 * release (ocl_wstore_unref). -1 on error (b->st set). */
typedef struct ocl_wkey {
    const void *src[2];
    int dims[8];
} ocl_wkey;
int ocl_wts_shared(ocl_builder *b, const ocl_wkey *key, size_t count, void (*pack)(const void *ctx, float *dst),
                   const void *ctx);
/* Drops a program's reference; the last one frees the buffer. */
void ocl_wstore_unref(ocl_state *s, struct ocl_wentry *e);
/* Frees what is left of the store (the state's end). */
void ocl_wstore_free(ocl_state *s);

/* The U_* code and its two parameters of a fused epilogue's activation;
 * -1 for an activation the kernels lack. */
int ocl_act_code(const engine_epilogue *e, float *a, float *bb);
/* Every data input (the first nd) and the first output float32. */
int ocl_all_f32(const engine_node *n, int nd);
/* How many leading inputs hold data the kernels read (the others are
 * shape operands: Reshape's shape, Slice's starts, Resize's scales...). */
int ocl_data_inputs(const engine_node *n);

/* The slot of input k / output k of node n (in an emitter: b and n). */
#define IN(k) ocl_slot_read(b, n->inputs[k])
#define OUT(k) ocl_slot_write(b, n->outputs[k])

/* ---- the families ----
 * One emitter and one supports check per family of ENGINE_OP_LIST (ops.h);
 * module.c's table maps each op to its family's pair. Families that are
 * small share a file with a related one: activation is in elementwise.c
 * (the same kernels), softmax in reduce.c (a reduction along one axis).
 *
 * ocl_supports_<family>(n) is called only after module.c's checks common
 * to every op (n has an input 0 and an output 0, the params its op needs,
 * data inputs and outputs of a device class and an int-indexable size, no
 * extra output but those allowed) and only for an op of the family; it
 * adds the op's own conditions. ocl_emit_<family>(b, n) records n's
 * launches (n supported, not all of its outputs constant); an op it lacks
 * is an ENGINE_ERR_UNSUPPORTED error. */
#define OCL_FAMILY_DECL_(family)                                                                                \
    void ocl_emit_##family(ocl_builder *b, const engine_node *n);                                             \
    int ocl_supports_##family(const engine_node *n);
OCL_FAMILY_DECL_(conv)        /* conv.c: Conv, ConvTranspose (direct, pointwise CLBlast, im2col) */
OCL_FAMILY_DECL_(gemm)        /* gemm.c: Gemm, MatMul */
OCL_FAMILY_DECL_(pool)        /* pool.c: MaxPool, AveragePool, the global pools */
OCL_FAMILY_DECL_(activation)  /* elementwise.c: unary activations, PRelu */
OCL_FAMILY_DECL_(elementwise) /* elementwise.c: Add, Sub, Mul, Div, Pow, Equal, Where */
OCL_FAMILY_DECL_(reduce)      /* reduce.c: ReduceMean, ReduceSum, ReduceMax */
OCL_FAMILY_DECL_(softmax)     /* reduce.c: Softmax, LogSoftmax */
OCL_FAMILY_DECL_(resize)      /* resize.c: Resize, Upsample */
OCL_FAMILY_DECL_(tensor)      /* tensor.c: data movement, views, Gather, Pad, Cast... */
OCL_FAMILY_DECL_(norm)        /* norm.c: BatchNormalization, InstanceNormalization, LRN */
OCL_FAMILY_DECL_(index)       /* index.c: Gather/ScatterElements/ND, OneHot, TopK (NonZero: host; Range, Size: folded) */
OCL_FAMILY_DECL_(detect)      /* detect.c: RoiAlign (NonMaxSuppression: host) */
OCL_FAMILY_DECL_(quant)       /* quant.c: QuantizeLinear, DequantizeLinear */
#undef OCL_FAMILY_DECL_

/* plugin.c: a plugin op (plugin.h) that brings OpenCL C with float32
 * activations; its node runs on float32 buffers of its own. */
int ocl_supports_plugin(const engine_node *n);
void ocl_emit_plugin(ocl_builder *b, const engine_node *n);

/* Shared by the families. */
/* elementwise.c: input 0 -> output 0 through the U_* op `code` (a, c its
 * parameters), the kernel picked by the two storage classes (integer
 * copies, Neg/Abs and width changes on long; casts between the classes;
 * f_unary on T). */
void ocl_emit_map(ocl_builder *b, const engine_node *n, int code, float a, float c);
/* elementwise.c: Cast (a tensor op in ENGINE_OP_LIST) through ocl_emit_map. */
void ocl_emit_cast(ocl_builder *b, const engine_node *n);
/* reduce.c: f_reduce of input 0 over the dims in `mask` (bit d: dim d),
 * op an R_* code (the global pools use it too). */
void ocl_emit_reduction(ocl_builder *b, const engine_node *n, int op, uint32_t mask);
/* tensor.c: the strided copy of r dims (count[d] elements at input stride
 * is[d] and output stride os[d]) from slot xs + xextra to ys + yextra, in
 * the storage class of xs. */
void ocl_emit_copy_strided(ocl_builder *b, int xs, int xextra, int ys, int yextra, int r, const int64_t *count,
                           const int64_t *is, const int64_t *os);

/* ---- storage.c: host <-> device storage (the seams, weight upload) ---- */

/* Does a seam of this dtype go through the staging buffer (a conversion)?
 * float32 only in fp16 storage; int64 never (stored as it is); the others
 * always. */
int ocl_needs_stage(const ocl_state *s, engine_dtype dt);
/* count host values of dtype dt -> device storage (T, or long for the
 * integer dtypes; bool as 0/1; half rounded to nearest even). */
void ocl_to_storage(const ocl_state *s, engine_dtype dt, const void *src, void *dst, size_t count);
/* count device values -> host values of dtype dt (integers narrowed, bool
 * as value != 0). */
void ocl_from_storage(const ocl_state *s, engine_dtype dt, const void *src, void *dst, size_t count);

#endif /* ENGINE_OCL_BUILDER_H */
