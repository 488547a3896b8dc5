/* backends/cpu/module.c - the SIMD CPU backend module (engine-backend-cpu.so).
 *
 * Same program shape as the ref module (a list of steps over slots that
 * resolve once, at compile, to constants, partition buffers or offsets in
 * one arena planned by the engine's shared liveness planner), with three
 * differences:
 *   - each node first gets a SIMD kernel if one takes it (conv.c for Conv,
 *     ops.c for the rest); weights are packed then, once;
 *   - a node's kernel may ask for scratch: a buffer of the plan live only
 *     during that node, so scratch shares the arena with activations;
 *   - nodes with no SIMD kernel run the reference kernel (ref_kernels, the
 *     same static library the ref module uses), and plugin nodes their
 *     host kernel, so cpu supports exactly what ref supports;
 *   - a Squeeze-Excitation Mul feeding a Conv runs inside that Conv
 *     (find_se_fusions below), and a 1x1 expansion conv inside the
 *     depthwise conv it feeds (find_pw_dw_fusions on NCHW,
 *     find_pw_dw_blk_fusions on the blocked layout; conv_pw_dw.c);
 *   - nodes may run in the blocked channel layout (cpu_blocked.h,
 *     find_blocked below), values then stored so, with conversions where a
 *     reader wants the other form (CVT_*).
 * Nothing is allocated per run. Threads: the backend's own pool
 * (cpu_pool.h), one per backend instance (per context and session
 * options); config->threads (0: the CPUs this process may use, from its
 * affinity mask and cgroup quota), spin budget ENGINE_CPU_SPIN;
 * ENGINE_CPU_POOL=shared: one pool for every instance in the process
 * (cpu_pool_acquire_shared). The ISA is chosen once at create (CPUID,
 * lowered by ENGINE_CPU_ISA); ENGINE_CPU_VERBOSE=1 prints the kernel of
 * every node at compile (also sent to the log callback at debug level). */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "engine/alias.h"
#include "engine/storage.h"
#include "engine/backend.h"
#include <stdlib.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"
#include "ref_kernels.h"

#define REF_EXPORT __attribute__((visibility("default")))
#define REF_ALIGN 64u

typedef struct ref_state {
    engine_allocator a;
    const engine_host_services *host;
    engine_log_fn log;
    void *log_user;
    const cpu_kernels *k; /* the ISA chosen at create (kb16 for a bf16 instance) */
    cpu_kernels kb16;     /* --precision bf16: the ISA's table with its bf16 level */
    int threads;
    int spin_us;          /* the pool's spin budget (ENGINE_CPU_SPIN) */
    cpu_pool *pool;       /* threads - 1 workers, started by the first run */
    int shared_pool;      /* pool is the process-wide one (ENGINE_CPU_POOL=shared) */
    int verbose;          /* ENGINE_CPU_VERBOSE: print each node's kernel */
    int blocked;          /* ENGINE_CPU_BLOCKED: 0 never, 1 by cost (default), 2 every node that can */
    char describe[160];
    cpu_wstore *store;    /* packed weights shared by the instance's programs */
} ref_state;


typedef struct ref_slot {
    engine_slot at;     /* where the value lives (engine/storage.h) */
    int blk;            /* the value is stored in the blocked layout (cpu_blocked.h) */
    int cvt;            /* CVT_*: the step converts this operand through its conversion buffer */
    size_t cvt_off;     /* the operand's place in that buffer */
    int cvt_C;          /* the operand's images: N x C channels x HW pixels */
    int64_t cvt_N;
    size_t cvt_HW;
} ref_slot;

/* An operand in a form its kernel does not take: an input is converted into
 * the step's buffer before the kernel runs; an output is written there by
 * the kernel and converted into the value's storage after. */
enum { CVT_NONE, CVT_TO_BLOCKED, CVT_TO_NCHW };

typedef struct ref_step {
    const engine_node *node;
    ref_kernel_fn fn;   /* used when cs.exec is NULL: reference or plugin host kernel */
    int first_slot; /* n_inputs slots, then n_outputs slots */
    int skip;
    int fused_into;     /* runs inside this later Conv step (an SE Mul: its in_scale; a 1x1 conv: its pre), -1: none */
    int extra_slot;     /* the fused Mul's scale operand, read as in[n_inputs]; -1: none */
    int scratch_buf;    /* plan buffer of the node's scratch, -1: none */
    size_t scratch_off;
    int cvt_buf;        /* plan buffer of the layout conversions of its operands, -1: none */
    size_t cvt_base;
    cpu_step cs;        /* the SIMD kernel, when one took the node */
} ref_step;

typedef struct ref_program {
    int n_steps;
    ref_step *steps;
    ref_slot *slots;
    const void **in_ptrs;
    void **out_ptrs;
    void **dst_ptrs; /* an output's storage while the kernel writes its conversion buffer */
    int n_copies;
    engine_storage_copy *copies;
    uint8_t *arena;
    size_t arena_size;
    size_t weight_bytes; /* packed weights held by the steps */
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

/* ---- Squeeze-Excitation scale fusion ----
 * A Mul(x [N,C,H,W], s [N or 1, C, 1, 1]) (either operand order) whose
 * product only feeds the X input of one Conv of this partition, and is no
 * partition output and no alias member, runs inside that Conv: the GEMM
 * scales the rows it packs (cpu_conv_algo.run_scaled), so the product is
 * never written nor read back. EfficientNet and MobileNet v3 end every SE
 * block so, before the projection 1x1 conv. */

/* The scale operand's index (0 or 1) when m is such a Mul, else -1. */
static int se_scale_operand(const engine_node *m) {
    if (m->op != ENGINE_OP_Mul || m->n_inputs != 2 || m->n_outputs != 1 || m->params) return -1;
    const engine_value *y = m->outputs[0];
    if (!y || y->data || y->alias_of || y->dtype != ENGINE_DTYPE_F32 || y->rank != 4) return -1;
    for (int si = 1; si >= 0; --si) {
        const engine_value *x = m->inputs[1 - si], *sc = m->inputs[si];
        if (!x || !sc || x->dtype != ENGINE_DTYPE_F32 || sc->dtype != ENGINE_DTYPE_F32) continue;
        if (x->rank != 4 || sc->rank != 4) continue;
        int same = 1;
        for (int d = 0; d < 4; ++d) same &= x->dims[d] == y->dims[d];
        if (same && (sc->dims[0] == 1 || sc->dims[0] == y->dims[0]) && sc->dims[1] == y->dims[1] &&
            sc->dims[2] == 1 && sc->dims[3] == 1)
            return si;
    }
    return -1;
}

/* The index of the one node of the partition that reads y, when y (the
 * output of node k) is read once, as input 0 of a later non-plugin node, is
 * no partition output and no alias root; else -1. */
static int sole_reader(const engine_partition *part, int k, const engine_value *y) {
    if (y->alias_of || engine_storage_find(part->outputs, part->n_outputs, y) >= 0) return -1;
    int reader = -1, reads = 0, aliased = 0;
    for (int i = 0; i < part->n_nodes; ++i) {
        const engine_node *n = part->nodes[i];
        for (int j = 0; j < n->n_inputs; ++j)
            if (n->inputs[j] == y) {
                ++reads;
                reader = i;
            }
        for (int j = 0; j < n->n_outputs; ++j) aliased |= n->outputs[j] && n->outputs[j]->alias_of == y;
    }
    if (reads != 1 || aliased || reader <= k || part->nodes[reader]->plugin || part->nodes[reader]->inputs[0] != y)
        return -1;
    return reader;
}

/* fuse[k] for each node k: the Mul node index fused into Conv k, else -1. */
static void find_se_fusions(const ref_state *s, const engine_partition *part, int *fuse) {
    for (int k = 0; k < part->n_nodes; ++k) fuse[k] = -1;
    for (int m = 0; m < part->n_nodes; ++m) {
        const engine_node *mul = part->nodes[m];
        if (mul->plugin || se_scale_operand(mul) < 0) continue;
        int reader = sole_reader(part, m, mul->outputs[0]);
        if (reader < 0 || fuse[reader] >= 0) continue;
        if (!cpu_conv_takes_input_scale(part->nodes[reader], s->k, s->threads)) continue;
        fuse[reader] = m;
    }
}

/* ---- 1x1 expansion + depthwise fusion (conv_pw_dw.c) ----
 * pwdw[k] for depthwise Conv k: the 1x1 Conv run inside it, else -1. Only
 * where the expanded tensor is large enough to leave L2: at 1 MB per
 * image. Smaller pairs (MobileNet v2's 28x28 and 14x14 blocks) run faster
 * unfused, on the blocked layout (1x1 and depthwise NCHW16c, no
 * conversions between): with 256 KB, MobileNet v2's 14x14 blocks took
 * 0.16-0.19 ms fused against 0.10 unfused (one thread), and the whole
 * model, 3 alternating rounds of `engine-run M -b cpu --bench 40` at 1
 * and 2 threads, medians (ms): MobileNet v2 8.3-8.8 -> 7.2-8.8 (1T),
 * 5.2-5.4 -> 4.6-5.5 (2T); v3-Large 4.5-4.9 -> 3.9-4.5 (2T);
 * EfficientNet-B0 8.9-9.3 -> 7.5-8.7 (2T). Never fusing was slower than 1
 * MB on the 112x112 and 56x56 blocks (MobileNet v2 features.2: 0.75 ms
 * fused against 0.87 unfused with its two layout conversions). */
#define PW_DW_MIN_BYTES (1024u * 1024u)

/* The fused pair runs in float32 under --precision bf16 too: at these
 * sizes the pair is bound by memory, which the fusion saves and bf16
 * would not (MobileNet v2/v3's 112x112 and 56x56 expansions). */
static const cpu_kernels *f32_table(const ref_state *s) {
    const cpu_kernels *k = cpu_kernels_for(s->k->isa);
    return k ? k : s->k;
}

static void find_pw_dw_fusions(const ref_state *s, const engine_partition *part, const int *fuse, int *pwdw) {
    for (int k = 0; k < part->n_nodes; ++k) pwdw[k] = -1;
    /* With AVX-512's blocked layout, now that the stems write it
     * (f32_conv_direct_blkout) and the 1x1 estimates count their memory
     * traffic, the 112x112 and 56x56 pairs ran faster unfused, blocked
     * (3 alternating rounds, medians, ms, fused -> unfused: MobileNet v2
     * 6.78-6.94 -> 6.66-6.92 at 1 thread, 4.09-4.26 -> 3.94-4.20 at 2;
     * v3-Large 5.90-6.27 -> 5.76-5.99 and 3.65-4.16 -> 3.46-3.82;
     * EfficientNet-B0 within noise). With AVX2's 8-lane blocks the
     * fusion measured as fast or faster until AVX2's blocked 1x1 kernel
     * caught up with the GEMM (session 25: its 1x1 loop unrolled) and the
     * layout search got its second start (find_blocked): MobileNet v2,
     * v3-Large and EfficientNet-B0 now run blocked there, unfused, 3-9%
     * faster (AMD EPYC, 2 threads). So this NCHW pair is fused only where
     * there is no blocked layout (scalar, NEON, ENGINE_CPU_BLOCKED=0); the
     * blocked layout has its own fused kernel (find_pw_dw_blk_fusions). */
    if (s->blocked && cpu_blk_vl(s->k->isa) > 0) return;
    for (int a = 0; a < part->n_nodes; ++a) {
        const engine_node *pw = part->nodes[a];
        if (pw->plugin || fuse[a] >= 0 || pw->n_outputs < 1 || !pw->outputs[0]) continue;
        const engine_value *y = pw->outputs[0];
        if (y->rank != 4 || y->dims[1] * y->dims[2] * y->dims[3] * 4 < (int64_t)PW_DW_MIN_BYTES) continue;
        if (!cpu_conv_fusable_pw(pw, f32_table(s), s->threads)) continue;
        int reader = sole_reader(part, a, y);
        if (reader < 0 || fuse[reader] >= 0 || pwdw[reader] >= 0) continue;
        if (!cpu_conv_fusable_dw(part->nodes[reader], f32_table(s), s->threads)) continue;
        pwdw[reader] = a;
    }
}

/* The same fusion on the blocked layout (cpu_pw_dw_blk_run), decided
 * after the layout: a 1x1 conv and the depthwise conv that alone reads its
 * output, both running blocked on the kernels the fused one is made of,
 * the expanded tensor stored blocked and at least PW_DW_BLK_MIN_BYTES per
 * image. */
#define PW_DW_BLK_MIN_BYTES (1024u * 1024u)

static void find_pw_dw_blk_fusions(const ref_state *s, const engine_partition *part, int *runs, const int *fuse,
                                   const int *mode, const int *blk_val, int *pwdw) {
    if (!cpu_blk_vl(s->k->isa) || s->k->bf16) return;
    for (int a = 0; a < part->n_nodes; ++a) {
        const engine_node *pw = part->nodes[a];
        if (!runs[a] || !mode[a] || !blk_val[a] || pw->plugin || fuse[a] >= 0 || pw->n_outputs < 1 || !pw->outputs[0])
            continue;
        const engine_value *y = pw->outputs[0];
        if (y->rank != 4 || y->dims[1] * y->dims[2] * y->dims[3] * 4 < (int64_t)PW_DW_BLK_MIN_BYTES) continue;
        int reader = sole_reader(part, a, y);
        if (reader < 0 || !runs[reader] || !mode[reader] || fuse[reader] >= 0 || pwdw[reader] >= 0 ||
            part->nodes[reader]->inputs[0] != y)
            continue;
        if (!cpu_conv_blocked_pw_dw(pw, part->nodes[reader], s->k, s->threads)) continue;
        pwdw[reader] = a;
        runs[a] = 0;
    }
}

/* ---- views ----
 * A node whose output is one contiguous run of its input (cpu_op_view:
 * Reshape and kin, a channel-range Slice of one image, a Transpose that
 * moves only size-1 dims) is not run: its readers read the input's storage
 * at the run's offset. ShuffleNet v2's channel shuffle is Reshape,
 * Transpose, Reshape, and its split two Slices: three of the five copies
 * go. Only between activations of this partition: the input written here,
 * neither value a partition output or in an alias chain. */
typedef struct ref_view {
    const engine_value *y, *x; /* y is x's bytes from off on */
    size_t off;
} ref_view;

static int aliased_into(const engine_partition *part, const engine_value *v) {
    for (int k = 0; k < part->n_nodes; ++k)
        for (int j = 0; j < part->nodes[k]->n_outputs; ++j)
            if (part->nodes[k]->outputs[j] && part->nodes[k]->outputs[j]->alias_of == v) return 1;
    return 0;
}

/* is_view[k] = 1 for the view nodes; their list in views. */
static int find_views(const engine_partition *part, const ref_step *steps, int *is_view, ref_view *views) {
    int n_views = 0;
    for (int k = 0; k < part->n_nodes; ++k) {
        const engine_node *n = part->nodes[k];
        size_t off;
        is_view[k] = 0;
        if (n->plugin || steps[k].fused_into >= 0 || !cpu_op_view(n, &off)) continue;
        const engine_value *x = n->inputs[0], *y = n->outputs[0];
        if (y->data || x->data || y->alias_of || !engine_alias_partition_writes((void *)part, x)) continue;
        if (engine_storage_find(part->outputs, part->n_outputs, x) >= 0 || engine_storage_find(part->outputs, part->n_outputs, y) >= 0)
            continue;
        if (aliased_into(part, y)) continue;
        is_view[k] = 1;
        views[n_views++] = (ref_view){y, x, off};
    }
    return n_views;
}

static size_t views_offset(const ref_view *views, int n_views, const engine_value *y) {
    for (int i = 0; i < n_views; ++i)
        if (views[i].y == y) return views[i].off;
    return 0;
}

/* ---- the blocked layout (cpu_blocked.h) ----
 * Which nodes run on a blocked kernel (mode), and in which form each value
 * is stored. Nodes with a blocked kernel are chosen by cost (find_blocked:
 * the conv estimates of both forms and the conversions they cause). A
 * value is stored blocked when its producer runs blocked, every reader
 * reads it blocked, and it is internal (no partition input or output:
 * those are the seams; no view's input; an alias chain only as a whole,
 * with one image and whole channel blocks). A reader that wants the other form
 * converts (CVT_*); a [N, C, 1, 1] value with C a multiple of VL is the
 * same bytes in both forms and is never converted.
 * ENGINE_CPU_BLOCKED=0 turns it off, =all runs every node that has a
 * blocked kernel blocked (the tests' way to cover every kernel). */

/* Converting costs about this much per float (read + strided write). */
#define CVT_NS_PER_FLOAT 0.35

static int producer_of(const engine_partition *part, const engine_value *v) {
    if (!v || v->data) return -1;
    for (int k = 0; k < part->n_nodes; ++k)
        for (int j = 0; j < part->nodes[k]->n_outputs; ++j)
            if (part->nodes[k]->outputs[j] == v) return k;
    return -1;
}

static int is_view_input(const engine_partition *part, const int *is_view, const engine_value *v) {
    for (int k = 0; k < part->n_nodes; ++k)
        if (is_view[k] && part->nodes[k]->inputs[0] == v) return 1;
    return 0;
}

/* 1 when v is in an alias chain (a Concat's in-place input or output). */
static int in_chain(const engine_partition *part, const engine_value *v) {
    return v->alias_of || aliased_into(part, v);
}

/* 1 when v may be stored blocked at all. A member of an alias chain only
 * with one image and whole channel blocks (its blocked bytes then sit
 * where its NCHW bytes would), and only with its whole chain
 * (find_blocked). */
static int blk_eligible(const engine_partition *part, const int *is_view, int vl, const engine_value *v) {
    if (!v || v->data || v->dtype != ENGINE_DTYPE_F32 || v->rank != 4) return 0;
    for (int d = 0; d < 4; ++d)
        if (v->dims[d] < 1) return 0;
    if (v->dims[1] > INT32_MAX / 2) return 0;
    if (engine_storage_find(part->inputs, part->n_inputs, v) >= 0 || engine_storage_find(part->outputs, part->n_outputs, v) >= 0)
        return 0;
    if (in_chain(part, v) && (v->dims[0] != 1 || v->dims[1] % vl)) return 0;
    return !is_view_input(part, is_view, v);
}

/* The same bytes in both forms: one pixel per channel, whole blocks. */
static int blk_neutral(const engine_value *v, int vl) {
    return v && v->rank == 4 && v->dims[2] == 1 && v->dims[3] == 1 && v->dims[1] % vl == 0;
}

/* The value step k reads as its input j (a fused Mul's or 1x1 conv's
 * input in place of the fused result). */
static const engine_value *read_value(const engine_partition *part, const int *fuse, const int *pwdw, int k, int j) {
    const engine_node *n = part->nodes[k];
    if (j == 0 && fuse[k] >= 0) {
        const engine_node *mul = part->nodes[fuse[k]];
        return mul->inputs[1 - se_scale_operand(mul)];
    }
    if (j == 0 && pwdw[k] >= 0) return part->nodes[pwdw[k]]->inputs[0];
    return n->inputs[j];
}

static double numel_f(const engine_value *v) {
    double e = 1.0;
    for (int d = 0; d < v->rank; ++d) e *= (double)v->dims[d];
    return e;
}

/* What the layout choice weighs (find_blocked). */
typedef struct blk_choice {
    const ref_state *s;
    const engine_partition *part;
    const int *runs, *fuse, *pwdw, *is_view;
    const unsigned *takes; /* the inputs node k's blocked kernel reads blocked; 0: it has none */
    const double *cost_n, *cost_b; /* node k's estimate on NCHW and on blocked kernels */
    int *mode;
} blk_choice;

/* The conversions value v (output 0 of node pk) costs with the modes as
 * they are (the rule of the header above: stored blocked when its producer
 * runs blocked, every reader wants it blocked and it may be). */
static double blk_value_cost(const blk_choice *c, int pk, const engine_value *v) {
    const int vl = cpu_blk_vl(c->s->k->isa);
    if (!v || v->rank != 4 || blk_neutral(v, vl)) return 0.0;
    int want_b = 0, want_n = 0;
    for (int r = 0; r < c->part->n_nodes; ++r) {
        if (!c->runs[r]) continue;
        const engine_node *n = c->part->nodes[r];
        for (int j = 0; j < n->n_inputs; ++j)
            if (read_value(c->part, c->fuse, c->pwdw, r, j) == v) {
                if (c->mode[r] && j < 32 && (c->takes[r] >> j & 1u)) ++want_b;
                else ++want_n;
            }
        if (c->fuse[r] >= 0 && c->part->nodes[c->fuse[r]]->inputs[se_scale_operand(c->part->nodes[c->fuse[r]])] == v)
            ++want_n;
    }
    /* per image, as the conv estimates are (a batch of 8 had weighed its
     * conversions 8x against them and ran MobileNet's 3-channel stem on
     * the blocked kernel, 2.7x slower than the direct one) */
    const double cvt = numel_f(v) / (double)(v->dims[0] > 1 ? v->dims[0] : 1) * CVT_NS_PER_FLOAT;
    const int made_b = pk >= 0 && c->mode[pk] && !cpu_blocked_writes_plain(c->part->nodes[pk]);
    if (made_b && !want_n && blk_eligible(c->part, c->is_view, vl, v)) return 0.0;
    return cvt * (double)want_b + (made_b ? cvt : 0.0); /* stored NCHW */
}

/* Node k's cost with its operands' conversions, at the modes as they are. */
static double blk_local_cost(const blk_choice *c, int k) {
    const engine_node *n = c->part->nodes[k];
    double cost = c->mode[k] ? c->cost_b[k] : c->cost_n[k];
    for (int j = 0; j < n->n_inputs; ++j) {
        const engine_value *v = read_value(c->part, c->fuse, c->pwdw, k, j);
        if (v && !v->data) {
            int pk = producer_of(c->part, v);
            if (pk >= 0 && c->part->nodes[pk]->outputs[0] == v) cost += blk_value_cost(c, pk, v);
            else if (pk < 0) cost += blk_value_cost(c, -1, v);
        } else if (v && c->mode[k] && j < 32 && (c->takes[k] >> j & 1u)) {
            cost += numel_f(v) * CVT_NS_PER_FLOAT; /* a constant read blocked */
        }
    }
    if (n->n_outputs > 0) cost += blk_value_cost(c, k, n->outputs[0]);
    return cost;
}

/* The whole plan's cost at the modes as they are: every node's estimate,
 * and each value's conversions once (blk_value_cost). */
static double blk_total_cost(const blk_choice *c) {
    double cost = 0.0;
    for (int k = 0; k < c->part->n_nodes; ++k) {
        if (!c->runs[k]) continue;
        const engine_node *n = c->part->nodes[k];
        cost += c->mode[k] ? c->cost_b[k] : c->cost_n[k];
        for (int j = 0; j < n->n_inputs; ++j) {
            const engine_value *v = read_value(c->part, c->fuse, c->pwdw, k, j);
            if (v && !v->data && producer_of(c->part, v) < 0) cost += blk_value_cost(c, -1, v); /* a graph input */
            else if (v && v->data && c->mode[k] && j < 32 && (c->takes[k] >> j & 1u))
                cost += numel_f(v) * CVT_NS_PER_FLOAT; /* a constant read blocked */
        }
        if (n->n_outputs > 0) cost += blk_value_cost(c, k, n->outputs[0]);
    }
    return cost;
}

/* Nodes whose two forms cost the same (everything but Conv) that can run
 * blocked. */
static int blk_free_node(const blk_choice *c, int k) {
    return c->runs[k] && c->takes[k] && c->part->nodes[k]->op != ENGINE_OP_Conv;
}

/* Flips, at once, each connected group of neutral nodes (linked by a
 * value one produces and another reads) where that lowers the plan's
 * cost. A chain of them between blocked convs whose every single flip
 * adds a conversion (ConvNeXt's Transpose to NCHW and residual Add, each
 * Add read by the next block's Add and depthwise conv) is only worth
 * flipping whole. grp: scratch of n_nodes ints. */
static int blk_flip_groups(const blk_choice *c, int *grp) {
    const engine_partition *part = c->part;
    const int nn = part->n_nodes;
    int flipped = 0;
    for (int k = 0; k < nn; ++k) grp[k] = -1;
    for (int k0 = 0; k0 < nn; ++k0) {
        if (!blk_free_node(c, k0) || grp[k0] >= 0) continue;
        /* the group of k0, by a fixed point over the links */
        grp[k0] = k0;
        int size = 1;
        for (int grew = 1; grew;) {
            grew = 0;
            for (int r = 0; r < nn; ++r) {
                if (!c->runs[r]) continue;
                const engine_node *n = part->nodes[r];
                for (int j = 0; j < n->n_inputs; ++j) {
                    const engine_value *v = read_value(part, c->fuse, c->pwdw, r, j);
                    const int pk = v && !v->data ? producer_of(part, v) : -1;
                    if (pk < 0 || part->nodes[pk]->outputs[0] != v) continue;
                    const int in_r = grp[r] == k0, in_p = grp[pk] == k0;
                    if (in_r && !in_p && blk_free_node(c, pk) && grp[pk] < 0) grp[pk] = k0, grew = 1, ++size;
                    if (in_p && !in_r && blk_free_node(c, r) && grp[r] < 0) grp[r] = k0, grew = 1, ++size;
                }
            }
        }
        if (size < 2) continue;
        const double before = blk_total_cost(c);
        /* all to the other form of k0's; the flipped ones marked -2 - k0 */
        const int to = !c->mode[k0];
        int changed_any = 0;
        for (int k = 0; k < nn; ++k)
            if (grp[k] == k0 && c->mode[k] != to) c->mode[k] = to, grp[k] = -2 - k0, changed_any = 1;
        if (changed_any && blk_total_cost(c) < before - 1e-9) {
            flipped = 1;
        } else {
            for (int k = 0; k < nn; ++k)
                if (grp[k] == -2 - k0) c->mode[k] = !to;
        }
        for (int k = 0; k < nn; ++k)
            if (grp[k] == -2 - k0) grp[k] = k0;
    }
    return flipped;
}

/* The local search from the modes as they are: single flips that lower
 * their neighbourhood's cost, a few passes in node order, then the groups
 * of non-convs (blk_flip_groups), up to three rounds. */
static void blk_search(const blk_choice *c, int *grp) {
    const engine_partition *part = c->part;
    for (int round = 0, again = 1; again && round < 3; ++round) {
        for (int pass = 0, changed = 1; changed && pass < 8; ++pass) {
            changed = 0;
            for (int k = 0; k < part->n_nodes; ++k) {
                if (!c->takes[k]) continue;
                double before = blk_local_cost(c, k);
                c->mode[k] = !c->mode[k];
                if (blk_local_cost(c, k) < before - 1e-9) changed = 1;
                else c->mode[k] = !c->mode[k];
            }
        }
        again = blk_flip_groups(c, grp);
    }
}

/* mode[k]: 1 when node k runs blocked (and mask[k] its blocked inputs);
 * blk_val[k]: 1 when output 0 of node k is stored blocked. runs[k]: 0 for
 * the nodes that are not run (constant, fused, views).
 * By cost (ENGINE_CPU_BLOCKED unset or 1): each Conv starts on the cheaper
 * of its two estimates, every other node NCHW; then single nodes are
 * flipped while a flip lowers the cost of the node and of the conversions
 * of its operands (pools and elementwise ops cost the same both ways, so
 * they follow their neighbours: a chain that starts and ends in blocked
 * convs stays blocked through them), a few passes in node order. */
static void find_blocked(const ref_state *s, const engine_partition *part, const int *runs, const int *fuse,
                         const int *pwdw, const int *is_view, int *mode, unsigned *mask, int *blk_val,
                         double *cost_n, double *cost_b, int *grp) {
    const int vl = cpu_blk_vl(s->k->isa);
    for (int k = 0; k < part->n_nodes; ++k) mode[k] = 0, mask[k] = 0, blk_val[k] = 0, cost_n[k] = cost_b[k] = 0.0;
    if (!vl || !s->blocked) return;
    for (int k = 0; k < part->n_nodes; ++k) {
        const engine_node *n = part->nodes[k];
        /* an SE-fused Conv may run blocked (X scaled in its scratch; the
         * scale is read NCHW), a depthwise one with a 1x1 conv inside not */
        if (!runs[k] || pwdw[k] >= 0 || n->plugin) continue;
        mask[k] = cpu_blocked_takes(n, s->k, s->threads);
        /* an SE-fused conv scales its blocked input; the kernel that reads
         * NCHW has none */
        if (fuse[k] >= 0 && (mask[k] & CPU_BLK_PLAIN_IN)) mask[k] = 0;
        if (!mask[k]) continue;
        if (s->blocked == 2) {
            mode[k] = 1;
            continue;
        }
        if (n->op == ENGINE_OP_Conv && !cpu_conv_blocked_costs(n, s->k, s->threads, &cost_n[k], &cost_b[k])) {
            mask[k] = 0;
            continue;
        }
        mode[k] = cost_b[k] < cost_n[k];
    }
    if (s->blocked == 1) {
        blk_choice c = {s, part, runs, fuse, pwdw, is_view, mask, cost_n, cost_b, mode};
        blk_search(&c, grp);
        /* A second start: every node that can run blocked, blocked; the
         * cheaper plan of the two stays. The search flips one node (or
         * one group of non-convs) at a time, so a chain of convs each
         * about as fast in both forms stays NCHW when every single flip
         * adds two conversions, though the chain blocked costs less:
         * MobileNet v2 with AVX2's blocked 1x1 kernel as fast as the GEMM
         * (23.5-24.1 ms at one thread NCHW, 22.9-23.1 blocked, AMD EPYC). */
        int *saved = grp + part->n_nodes + 1;
        const double first = blk_total_cost(&c);
        int moved = 0;
        for (int k = 0; k < part->n_nodes; ++k) {
            saved[k] = mode[k];
            if (mask[k] && !mode[k]) mode[k] = 1, moved = 1;
        }
        if (moved) {
            blk_search(&c, grp);
            if (!(blk_total_cost(&c) < first - 1e-9))
                for (int k = 0; k < part->n_nodes; ++k) mode[k] = saved[k];
        }
    }
    for (int k = 0; k < part->n_nodes; ++k)
        if (!mode[k]) mask[k] = 0;
    const engine_alias_query aq = engine_alias_partition_query(part);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int k = 0; k < part->n_nodes; ++k) {
            blk_val[k] = 0;
            if (!mode[k] || cpu_blocked_writes_plain(part->nodes[k])) continue;
            const engine_value *v = part->nodes[k]->outputs[0];
            int ok = blk_eligible(part, is_view, vl, v);
            for (int r = 0; ok && r < part->n_nodes; ++r) {
                if (!runs[r]) continue;
                const engine_node *n = part->nodes[r];
                for (int j = 0; ok && j < n->n_inputs; ++j)
                    if (read_value(part, fuse, pwdw, r, j) == v) ok = mode[r] && j < 32 && (mask[r] >> j & 1u);
                if (fuse[r] >= 0) { /* the fused Mul's scale is read too, NCHW */
                    const engine_node *mul = part->nodes[fuse[r]];
                    ok &= mul->inputs[se_scale_operand(mul)] != v;
                }
            }
            blk_val[k] = ok;
        }
        /* An alias chain is stored in one form: blocked when every member
         * is (each the output 0 of a node whose result is stored blocked),
         * else NCHW, and then no Concat of it runs blocked (it would copy
         * blocked bytes over an in-place member's NCHW ones). */
        for (int k = 0; k < part->n_nodes; ++k) {
            const engine_node *n = part->nodes[k];
            for (int j = 0; j < n->n_outputs; ++j) {
                const engine_value *v = n->outputs[j];
                if (!v || !in_chain(part, v) || (j == 0 && blk_val[k])) continue;
                /* v is NCHW: so is its chain; its Concats run NCHW */
                size_t off;
                const engine_value *root = engine_alias_resolve(v, &aq, &off);
                for (int c = 0; c < part->n_nodes; ++c) {
                    const engine_node *cn = part->nodes[c];
                    if (!mode[c] || cn->op != ENGINE_OP_Concat) continue;
                    int touches = engine_alias_resolve(cn->outputs[0], &aq, &off) == root;
                    for (int i = 0; !touches && i < cn->n_inputs; ++i)
                        touches = cn->inputs[i] && in_chain(part, cn->inputs[i]) &&
                                  engine_alias_resolve(cn->inputs[i], &aq, &off) == root;
                    if (touches) {
                        mode[c] = 0;
                        mask[c] = 0;
                        changed = 1;
                    }
                }
            }
        }
    }
}

static int value_blocked(const engine_partition *part, const int *blk_val, const engine_value *v) {
    int pk = producer_of(part, v);
    return pk >= 0 && blk_val[pk] && part->nodes[pk]->outputs[0] == v;
}

/* Sets the conversion of slot sl holding v (stored blocked: have) for a
 * kernel that takes it blocked (want); returns the bytes of its buffer. */
static size_t slot_conversion(ref_slot *sl, const engine_value *v, int have, int want, int vl) {
    sl->blk = have;
    sl->cvt = CVT_NONE;
    if (!v || have == want || sl->at.kind == ENGINE_SLOT_NONE || blk_neutral(v, vl)) return 0;
    sl->cvt = want ? CVT_TO_BLOCKED : CVT_TO_NCHW;
    sl->cvt_N = v->dims[0];
    sl->cvt_C = (int)v->dims[1];
    sl->cvt_HW = (size_t)v->dims[2] * (size_t)v->dims[3];
    size_t floats = cpu_blk_image_floats(vl, sl->cvt_C, sl->cvt_HW) * (size_t)sl->cvt_N;
    return (floats * sizeof(float) + REF_ALIGN - 1) / REF_ALIGN * REF_ALIGN;
}

/* Converts N images of slot sl from src into dst (to the form sl->cvt says). */
static void run_conversion(const ref_slot *sl, int vl, int threads, const float *src, float *dst, int to_blocked) {
    const size_t nchw = (size_t)sl->cvt_C * sl->cvt_HW, blk = cpu_blk_image_floats(vl, sl->cvt_C, sl->cvt_HW);
    for (int64_t b = 0; b < sl->cvt_N; ++b) {
        if (to_blocked) cpu_blk_from_nchw(vl, sl->cvt_C, sl->cvt_HW, src + (size_t)b * nchw, dst + (size_t)b * blk, threads);
        else cpu_blk_to_nchw(vl, sl->cvt_C, sl->cvt_HW, src + (size_t)b * blk, dst + (size_t)b * nchw, threads);
    }
}

/* ---- resolving a node's input to a slot (at compile) ---- */

/* Fills sl for value v read by step k through engine_storage_input, after
 * following copy-free views back to the value whose storage they share (a
 * view reads its input's bytes from an offset on). 0 when v is not
 * produced before step k (st->missing says which). */
static int resolve_input(engine_storage *st, const ref_view *views, int n_views, const engine_value *v, int k,
                         int skip, ref_slot *sl) {
    memset(sl, 0, sizeof *sl);
    size_t voff = 0;
    for (int i = n_views - 1; v && i >= 0; --i)
        if (views[i].y == v) { /* views are in node order: the input of view i is an earlier one's */
            voff += views[i].off;
            v = views[i].x;
        }
    return engine_storage_input(st, v, voff, k, skip, &sl->at);
}

/* ---- the interface ---- */

static engine_status ref_create(const engine_backend_config *config, void **state, char *err, size_t err_size) {
    if (!config || !state || !config->allocator.alloc || !config->allocator.free || !config->host ||
        config->host->struct_size < offsetof(engine_host_services, constant_consumed) || !config->host->plan_arena) {
        set_err(err, err_size, "cpu: %s%s%s", "no allocator or host services in the backend config", "", "");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    ref_state *s = config->allocator.alloc(config->allocator.user, sizeof *s, _Alignof(ref_state));
    if (!s) {
        set_err(err, err_size, "cpu: %s%s%s", "out of memory", "", "");
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    memset(s, 0, sizeof *s);
    s->a = config->allocator;
    s->store = cpu_wstore_new(&s->a);
    if (!s->store) {
        config->allocator.free(config->allocator.user, s);
        set_err(err, err_size, "cpu: %s%s%s", "out of memory", "", "");
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    s->host = config->host;
    s->log = config->log;
    s->log_user = config->log_user;
    const char *note = NULL;
    s->k = cpu_kernels_for(cpu_isa_select(&note));
    if (!s->k) s->k = &cpu_kernels_scalar;
    s->threads = config->threads;
    if (s->threads <= 0) s->threads = cpu_available_cpus();
    if (s->threads > POOL_THREADS_MAX) s->threads = POOL_THREADS_MAX;
    /* The session's setting (appended to the config), else the environment. */
    s->spin_us = config->spin ? cpu_pool_spin_parse(config->spin) : cpu_pool_spin_from_env();
    s->shared_pool = cpu_pool_shared_from_env();
    engine_status pst = s->shared_pool ? cpu_pool_acquire_shared(s->spin_us, &s->pool)
                                       : cpu_pool_create(&s->a, s->threads, s->spin_us, &s->pool);
    if (pst != ENGINE_OK) {
        cpu_wstore_free(s->store);
        config->allocator.free(config->allocator.user, s);
        set_err(err, err_size, "cpu: %s%s%s", "out of memory", "", "");
        return pst;
    }
    /* The session's precision, else ENGINE_CPU_PRECISION (lets the case
     * runner, which has no precision option, run the bf16 suite). fp16 is
     * an opencl storage format: float32 here, as on every backend that
     * does not offer a precision. */
    const char *prec = config->precision ? config->precision : getenv("ENGINE_CPU_PRECISION");
    if (prec && strcmp(prec, "bf16") == 0) {
        char why[160];
        int level = cpu_bf16_select(s->k->isa, why, sizeof why);
        if (level != CPU_BF16_NONE) {
            s->kb16 = *s->k;
            s->kb16.bf16 = level;
            s->k = &s->kb16;
        }
        if (why[0] && s->log) {
            char line[256];
            snprintf(line, sizeof line, "cpu: precision bf16: %s%s", why, level ? "" : "; running float32");
            s->log(s->log_user, ENGINE_LOG_WARN, line);
        }
    } else if (prec && prec[0] && strcmp(prec, "fp32") != 0 && strcmp(prec, "fp16") != 0) {
        if (s->shared_pool) cpu_pool_release_shared(s->pool);
        else cpu_pool_destroy(s->pool);
        cpu_wstore_free(s->store);
        config->allocator.free(config->allocator.user, s);
        set_err(err, err_size, "cpu: unknown precision '%s'%s%s", prec, "", "");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    const char *v = getenv("ENGINE_CPU_VERBOSE");
    s->verbose = v && *v && strcmp(v, "0") != 0;
    const char *b = getenv("ENGINE_CPU_BLOCKED");
    s->blocked = !b || !*b ? 1 : strcmp(b, "0") == 0 ? 0 : strcmp(b, "all") == 0 ? 2 : 1;
    snprintf(s->describe, sizeof s->describe, "SIMD CPU kernels (%s%s, %s, GEMM tile %dx%d, %d thread%s, spin %d us%s)",
             s->k->bf16 ? "bf16 convolutions and GEMMs on " : "float32", s->k->bf16 ? cpu_bf16_ops_for(s->k->bf16)->name : "",
             s->k->isa_name, s->k->mr, s->k->nr, s->threads, s->threads == 1 ? "" : "s", s->spin_us,
             s->shared_pool ? ", shared pool" : "");
    if (note && s->log) s->log(s->log_user, ENGINE_LOG_WARN, note);
    *state = s;
    return ENGINE_OK;
}

static void ref_destroy(void *state) {
    ref_state *s = state;
    if (!s) return;
    if (s->shared_pool) cpu_pool_release_shared(s->pool);
    else cpu_pool_destroy(s->pool);
    cpu_wstore_free(s->store);
    s->a.free(s->a.user, s);
}

static int ref_score(void *state) {
    (void)state;
    return 100;
}

static const char *ref_describe(void *state) {
    const ref_state *s = state;
    return s ? s->describe : "SIMD CPU kernels";
}

static int ref_supports_iface(void *state, const engine_node *node) {
    (void)state;
    return ref_supports(node);
}

static void program_free(ref_state *s, ref_program *p) {
    if (!p) return;
    for (int k = 0; p->steps && k < p->n_steps; ++k) {
        if (p->steps[k].cs.prep_shared == 1)
            cpu_wstore_unref(s->store, p->steps[k].cs.prep);
        else if (!p->steps[k].cs.prep_shared)
            xfree(s, p->steps[k].cs.prep);
    }
    xfree(s, p->steps);
    xfree(s, p->slots);
    xfree(s, (void *)p->in_ptrs);
    xfree(s, p->out_ptrs);
    xfree(s, p->dst_ptrs);
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
    stats->weight_bytes = p->weight_bytes;
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
    int *fuse = NULL, *pwdw = NULL, *is_view = NULL, *runs = NULL, *mode = NULL, *blk_val = NULL, *blk_grp = NULL;
    unsigned *blk_mask = NULL;
    double *cost_n = NULL, *cost_b = NULL;
    ref_view *views = NULL;
    char reason[256];

    if (!s || !part || !program || part->n_nodes < 0 || (part->n_nodes > 0 && !part->nodes)) {
        set_err(err, err_size, "cpu: %s%s%s", "bad partition", "", "");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    int n_slots = 0, max_in = 2, max_out = 1;
    for (int k = 0; k < part->n_nodes; ++k) {
        const engine_node *n = part->nodes[k];
        if (!ref_supports(n)) {
            unsupported_reason(n, reason, sizeof reason);
            char what[320];
            snprintf(what, sizeof what, "not supported by cpu: %s", reason);
            node_err(err, err_size, n, what);
            return ENGINE_ERR_UNSUPPORTED;
        }
        n_slots += n->n_inputs + n->n_outputs + 1; /* + a fused Mul's scale */
        if (n->n_inputs + 1 > max_in) max_in = n->n_inputs + 1;
        if (n->n_outputs > max_out) max_out = n->n_outputs;
    }

    p = xalloc(s, sizeof *p, _Alignof(ref_program));
    if (!p) goto oom;
    memset(p, 0, sizeof *p);
    p->n_steps = part->n_nodes;
    p->steps = xalloc(s, sizeof *p->steps * (size_t)(part->n_nodes + 1), _Alignof(ref_step));
    if (p->steps) memset(p->steps, 0, sizeof *p->steps * (size_t)(part->n_nodes + 1));
    p->slots = xalloc(s, sizeof *p->slots * (size_t)(n_slots + 1), _Alignof(ref_slot));
    p->in_ptrs = xalloc(s, sizeof *p->in_ptrs * (size_t)max_in, _Alignof(void *));
    p->out_ptrs = xalloc(s, sizeof *p->out_ptrs * (size_t)max_out, _Alignof(void *));
    p->dst_ptrs = xalloc(s, sizeof *p->dst_ptrs * (size_t)max_out, _Alignof(void *));
    p->copies = xalloc(s, sizeof *p->copies * (size_t)(part->n_outputs + 1), _Alignof(engine_storage_copy));
    fuse = xalloc(s, sizeof *fuse * (size_t)(part->n_nodes + 1), _Alignof(int));
    pwdw = xalloc(s, sizeof *pwdw * (size_t)(part->n_nodes + 1), _Alignof(int));
    is_view = xalloc(s, sizeof *is_view * (size_t)(part->n_nodes + 1), _Alignof(int));
    views = xalloc(s, sizeof *views * (size_t)(part->n_nodes + 1), _Alignof(ref_view));
    runs = xalloc(s, sizeof *runs * (size_t)(part->n_nodes + 1), _Alignof(int));
    mode = xalloc(s, sizeof *mode * (size_t)(part->n_nodes + 1), _Alignof(int));
    blk_val = xalloc(s, sizeof *blk_val * (size_t)(part->n_nodes + 1), _Alignof(int));
    blk_mask = xalloc(s, sizeof *blk_mask * (size_t)(part->n_nodes + 1), _Alignof(unsigned));
    blk_grp = xalloc(s, sizeof *blk_grp * 2u * (size_t)(part->n_nodes + 1), _Alignof(int)); /* + find_blocked's saved modes */
    cost_n = xalloc(s, sizeof *cost_n * (size_t)(part->n_nodes + 1), _Alignof(double));
    cost_b = xalloc(s, sizeof *cost_b * (size_t)(part->n_nodes + 1), _Alignof(double));
    if (!p->steps || !p->slots || !p->in_ptrs || !p->out_ptrs || !p->dst_ptrs || !p->copies || !fuse || !pwdw || !is_view || !views || !runs || !mode || !blk_val || !blk_mask || !blk_grp || !cost_n || !cost_b)
        goto oom;
    /* where every value lives (engine/storage.h): a buffer per output, a
     * scratch and a conversion buffer per node at most */
    if (engine_storage_init(&sp, &s->a, part, REF_ALIGN, n_slots + 2 * part->n_nodes + 1)) goto oom;
    find_se_fusions(s, part, fuse);
    find_pw_dw_fusions(s, part, fuse, pwdw);
    for (int k = 0; k < part->n_nodes; ++k) p->steps[k].fused_into = -1;
    for (int k = 0; k < part->n_nodes; ++k) {
        if (fuse[k] >= 0) p->steps[fuse[k]].fused_into = k;
        if (pwdw[k] >= 0) p->steps[pwdw[k]].fused_into = k;
    }
    const int n_views = find_views(part, p->steps, is_view, views);
    for (int k = 0; k < part->n_nodes; ++k) {
        const engine_node *n = part->nodes[k];
        int n_present = 0, n_const = 0;
        for (int j = 0; j < n->n_outputs; ++j)
            if (n->outputs[j]) {
                ++n_present;
                n_const += n->outputs[j]->data != NULL;
            }
        runs[k] = !(n_present > 0 && n_const == n_present) && p->steps[k].fused_into < 0 && !is_view[k];
    }
    find_blocked(s, part, runs, fuse, pwdw, is_view, mode, blk_mask, blk_val, cost_n, cost_b, blk_grp);
    find_pw_dw_blk_fusions(s, part, runs, fuse, mode, blk_val, pwdw);
    for (int k = 0; k < part->n_nodes; ++k)
        if (pwdw[k] >= 0) p->steps[pwdw[k]].fused_into = k;
    const int vl = cpu_blk_vl(s->k->isa);

    /* A value whose alias chain is honoured here lives in its root's
     * storage (one plan buffer, or the caller's output buffer) at alias_off;
     * the root's buffer is made at the first write of any member and lives
     * to the last read of any member. */
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
        const int const_skip = n_present > 0 && n_const == n_present;
        step->skip = const_skip || step->fused_into >= 0 || is_view[k]; /* fused or a view: not run */

        /* A fused Mul: X is the Mul's unscaled operand, and the scale comes
         * in one extra slot after the outputs. */
        const engine_node *mul = fuse[k] >= 0 ? part->nodes[fuse[k]] : NULL;
        const int mul_si = mul ? se_scale_operand(mul) : -1;
        /* A fused 1x1 conv in front: X is that conv's input. */
        const engine_node *pw = pwdw[k] >= 0 ? part->nodes[pwdw[k]] : NULL;
        size_t cvt_bytes = 0;
        for (int j = 0; j < n->n_inputs; ++j) {
            const engine_value *v = read_value(part, fuse, pwdw, k, j);
            ref_slot *sl = &p->slots[slot++];
            if (!resolve_input(&sp, views, n_views, v, k, step->skip, sl)) goto not_produced;
            if (!step->skip && vl) {
                size_t bytes = slot_conversion(sl, v, value_blocked(part, blk_val, v),
                                               mode[k] && j < 32 && (blk_mask[k] >> j & 1u), vl);
                sl->cvt_off = cvt_bytes;
                cvt_bytes += bytes;
            }
        }
        for (int j = 0; j < n->n_outputs; ++j) {
            const engine_value *v = n->outputs[j];
            ref_slot *sl = &p->slots[slot++];
            memset(sl, 0, sizeof *sl);
            /* a value stored blocked takes whole channel blocks (its alias
             * root's, which a new buffer is made for) */
            size_t size = 0, aoff = 0;
            if (v && j == 0 && blk_val[k]) {
                const engine_value *r = v->data ? v : engine_alias_resolve(v, &sp.aq, &aoff);
                size = cpu_blk_image_floats(vl, (int)r->dims[1], (size_t)r->dims[2] * (size_t)r->dims[3]) *
                       (size_t)r->dims[0] * sizeof(float);
            }
            st = engine_storage_output(&sp, v, k, step->skip, size, &sl->at);
            if (st) {
                node_err(err, err_size, n, "output shape too large or invalid");
                goto fail;
            }
        }
        /* the kernel's output in its form, converted to the stored one */
        for (int j = 0; j < n->n_outputs && !step->skip && vl; ++j) {
            ref_slot *sl = &p->slots[step->first_slot + n->n_inputs + j];
            const int stored_blk = j == 0 && blk_val[k];
            size_t bytes = slot_conversion(sl, n->outputs[j], j == 0 && mode[k] && !cpu_blocked_writes_plain(n),
                                           stored_blk, vl);
            sl->blk = stored_blk;
            sl->cvt_off = cvt_bytes;
            cvt_bytes += bytes;
        }
        step->extra_slot = -1;
        if (mul) {
            step->extra_slot = slot;
            ref_slot *sl = &p->slots[slot++];
            if (!resolve_input(&sp, views, n_views, mul->inputs[mul_si], k, 0, sl)) goto not_produced;
            if (vl) {
                size_t bytes = slot_conversion(sl, mul->inputs[mul_si], value_blocked(part, blk_val, mul->inputs[mul_si]), 0, vl);
                sl->cvt_off = cvt_bytes;
                cvt_bytes += bytes;
            }
        }

        /* A SIMD kernel if one takes the node; else the reference one. */
        step->scratch_buf = -1;
        step->cs.node = n;
        step->cs.k = s->k;
        step->cs.threads = s->threads;
        /* A 1x1 conv fused into the depthwise conv after it is prepared (its
         * packed weights are used there) but not run. */
        const int prepare = !const_skip && !is_view[k] && (step->fused_into < 0 || n->op == ENGINE_OP_Conv);
        if (prepare && !n->plugin) {
            cpu_prep_ctx pc = {&s->a, s->k, s->threads, s->store, &p->weight_bytes};
            if (step->fused_into >= 0 && n->op == ENGINE_OP_Conv) /* a fused pair's 1x1: float32 */
                pc.k = step->cs.k = f32_table(s);
            if (mul) {
                const engine_value *sc = mul->inputs[mul_si];
                step->cs.in_scale = sc->dims[0] == 1 ? 1 : 2;
            }
            if (mode[k]) {
                st = cpu_prepare_blocked(&pc, &step->cs);
                if (st == ENGINE_ERR_UNSUPPORTED) st = ENGINE_ERR_INTERNAL; /* cpu_blocked_takes said yes */
            } else {
                step->cs.dw_row = pw != NULL;
                st = cpu_prepare_conv(&pc, &step->cs);
                if (st == ENGINE_ERR_UNSUPPORTED) st = cpu_prepare_op(&pc, &step->cs);
            }
            if (st == ENGINE_ERR_UNSUPPORTED && (mul || pw || step->fused_into >= 0))
                st = ENGINE_ERR_INTERNAL; /* the fusion needs the kernel */
            if (st == ENGINE_OK && pw) st = cpu_fuse_pw_dw(&step->cs, &p->steps[pwdw[k]].cs);
            /* a blocked kernel that can read its NCHW input itself takes it
             * so: its conversion goes (the first slot's buffer, at offset 0) */
            ref_slot *in0 = &p->slots[step->first_slot];
            if (st == ENGINE_OK && mode[k] && n->op == ENGINE_OP_Conv && n->n_inputs > 0 && in0->cvt == CVT_TO_BLOCKED &&
                cpu_conv_blocked_plain_input(&step->cs)) {
                size_t removed = cvt_bytes;
                for (int j = step->first_slot + 1; j < slot; ++j)
                    if (p->slots[j].cvt && p->slots[j].cvt_off < removed) removed = p->slots[j].cvt_off;
                for (int j = step->first_slot + 1; j < slot; ++j)
                    if (p->slots[j].cvt) p->slots[j].cvt_off -= removed;
                cvt_bytes -= removed;
                in0->cvt = CVT_NONE;
                in0->cvt_off = 0;
            }
            if (st == ENGINE_ERR_UNSUPPORTED) {
                memset(&step->cs, 0, sizeof step->cs);
                step->cs.node = n;
                step->cs.k = s->k;
                step->cs.threads = s->threads;
                st = ENGINE_OK;
            }
            if (st == ENGINE_ERR_OUT_OF_MEMORY) goto oom;
            if (st) {
                node_err(err, err_size, n, "preparing the SIMD kernel failed");
                goto fail;
            }
            if (!step->cs.prep_shared) p->weight_bytes += step->cs.prep_bytes; /* shared: counted when packed */
            /* constants living on packed only (a Conv's W and B, a Gemm's
             * B): the engine may release its copy now, before the next
             * node packs (the peak then holds one copy) */
            if (step->cs.weights_packed && s->host->struct_size >= offsetof(engine_host_services, constant_consumed) +
                                                                       sizeof s->host->constant_consumed &&
                s->host->constant_consumed)
                for (int j = 1; j < 32 && j < n->n_inputs; ++j)
                    if (step->cs.weights_packed >> j & 1u && n->inputs[j] && n->inputs[j]->data)
                        s->host->constant_consumed(n, j);
            if (step->cs.exec && step->cs.scratch_bytes && !step->skip) {
                size_t size = step->cs.scratch_bytes;
                if (size > SIZE_MAX / 4) {
                    node_err(err, err_size, n, "kernel scratch too large");
                    st = ENGINE_ERR_SHAPE;
                    goto fail;
                }
                step->scratch_buf = engine_storage_scratch(&sp, size, k, &st);
                if (st) goto fail;
            }
        }
        step->cvt_buf = -1;
        if (cvt_bytes) {
            step->cvt_buf = engine_storage_scratch(&sp, cvt_bytes, k, &st);
            if (st) goto fail;
        }
        if (!step->cs.exec && !step->skip)
            snprintf(step->cs.kernel, sizeof step->cs.kernel, "%s_%s__ref", n->plugin ? "plugin" : "f32",
                     n->op_type ? n->op_type : "?");
        if (step->fused_into >= 0)
            snprintf(step->cs.kernel, sizeof step->cs.kernel, "%s",
                     n->op == ENGINE_OP_Conv ? "fused: runs inside the depthwise Conv it feeds"
                                             : "fused: the channel scale of the Conv it feeds");
        if (is_view[k])
            snprintf(step->cs.kernel, sizeof step->cs.kernel, "view: no copy, its input's storage from byte %zu",
                     views_offset(views, n_views, n->outputs[0]));
        if ((!step->skip || step->fused_into >= 0 || is_view[k]) && (s->verbose || s->log)) {
            char line[320], cvts[96] = "";
            int n_to_blk = 0, n_to_nchw = 0;
            for (int j = step->first_slot; j < slot; ++j) {
                n_to_blk += p->slots[j].cvt == CVT_TO_BLOCKED;
                n_to_nchw += p->slots[j].cvt == CVT_TO_NCHW;
            }
            if (n_to_blk || n_to_nchw)
                snprintf(cvts, sizeof cvts, " (layout conversions: %d to nchw%dc, %d to nchw)", n_to_blk, vl, n_to_nchw);
            snprintf(line, sizeof line, "cpu: node '%s' (%s): %s%s", n->name ? n->name : "?",
                     n->op_type ? n->op_type : "?", step->cs.kernel, cvts);
            if (s->verbose) fprintf(stderr, "%s\n", line);
            if (s->log) s->log(s->log_user, ENGINE_LOG_DEBUG, line);
        }
    }

    /* Partition outputs that no node writes. */
    const int unfilled = engine_storage_copies(&sp, p->copies, &p->n_copies);
    if (unfilled >= 0) {
        const engine_value *v = part->outputs[unfilled];
        set_err(err, err_size, "cpu: partition output '%s' is not produced%s%s", v && v->name ? v->name : "?", "", "");
        st = ENGINE_ERR_INVALID_MODEL;
        goto fail;
    }

    st = engine_storage_plan(&sp, s->host, &p->arena_size);
    if (st == ENGINE_ERR_OUT_OF_MEMORY) goto oom;
    if (st) {
        set_err(err, err_size, "cpu: %s%s%s", "memory plan failed (buffer sizes overflow)", "", "");
        goto fail;
    }
    if (p->arena_size) {
        p->arena = xalloc(s, p->arena_size, REF_ALIGN);
        if (!p->arena) goto oom;
    }
    for (int k = 0; k < slot; ++k) engine_storage_place(&sp, &p->slots[k].at);
    for (int k = 0; k < part->n_nodes; ++k) {
        if (p->steps[k].scratch_buf >= 0) p->steps[k].scratch_off = sp.bufs[p->steps[k].scratch_buf].offset;
        if (p->steps[k].cvt_buf >= 0) p->steps[k].cvt_base = sp.bufs[p->steps[k].cvt_buf].offset;
    }

    *program = p;
    p = NULL;
    st = ENGINE_OK;
    goto done;

not_produced: {
    const engine_node *n = part->nodes[sp.missing_k];
    set_err(err, err_size, "node '%s' (%s): input '%s' is not produced before it is used", n->name ? n->name : "?",
            n->op_type ? n->op_type : "?", sp.missing && sp.missing->name ? sp.missing->name : "?");
}
    st = ENGINE_ERR_INVALID_MODEL;
    goto fail;
oom:
    set_err(err, err_size, "cpu: %s%s%s", "out of memory while compiling", "", "");
    st = ENGINE_ERR_OUT_OF_MEMORY;
fail:
done: /* p is NULL on success (the caller owns it now) */
    engine_storage_free(&sp);
    xfree(s, fuse);
    xfree(s, pwdw);
    xfree(s, is_view);
    xfree(s, views);
    xfree(s, runs);
    xfree(s, mode);
    xfree(s, blk_val);
    xfree(s, blk_mask);
    xfree(s, blk_grp);
    xfree(s, cost_n);
    xfree(s, cost_b);
    program_free(s, p);
    return st;
}

static engine_status run_steps(ref_program *p, const void *const *inputs, void *const *outputs,
                               engine_timing_fn timing, void *timing_user, char *err, size_t err_size);

static engine_status ref_run(void *state, void *program, const void *const *inputs, void *const *outputs,
                             engine_timing_fn timing, void *timing_user, char *err, size_t err_size) {
    ref_state *s = state;
    ref_program *p = program;
    if (!p || !s) {
        set_err(err, err_size, "cpu: %s%s%s", "no program", "", "");
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    /* The pool serves this run's kernels through the calling thread (no
     * worker could start: they run on the caller alone, still correct). */
    cpu_pool_start(s->pool);
    cpu_pool *prev = cpu_pool_bind(s->pool);
    engine_status st = run_steps(p, inputs, outputs, timing, timing_user, err, err_size);
    cpu_pool_bind(prev);
    return st;
}

static engine_status run_steps(ref_program *p, const void *const *inputs, void *const *outputs,
                               engine_timing_fn timing, void *timing_user, char *err, size_t err_size) {
    double t0 = timing ? now_ms() : 0.0;
    for (int k = 0; k < p->n_steps; ++k) {
        const ref_step *step = &p->steps[k];
        const engine_node *n = step->node;
        const ref_slot *sl = &p->slots[step->first_slot];
        double start = timing ? now_ms() : 0.0;
        if (!step->skip) {
            const int vl = cpu_blk_vl(step->cs.k->isa), th = step->cs.threads;
            uint8_t *cvt = step->cvt_buf >= 0 ? p->arena + step->cvt_base : NULL;
            for (int j = 0; j < n->n_inputs; ++j, ++sl) {
                p->in_ptrs[j] = engine_slot_in(&sl->at, inputs, outputs, p->arena);
                if (sl->cvt && p->in_ptrs[j]) {
                    run_conversion(sl, vl, th, p->in_ptrs[j], (float *)(cvt + sl->cvt_off), sl->cvt == CVT_TO_BLOCKED);
                    p->in_ptrs[j] = cvt + sl->cvt_off;
                }
            }
            if (step->extra_slot >= 0) {
                const ref_slot *xs = &p->slots[step->extra_slot];
                p->in_ptrs[n->n_inputs] = engine_slot_in(&xs->at, inputs, outputs, p->arena);
                if (xs->cvt) {
                    run_conversion(xs, vl, th, p->in_ptrs[n->n_inputs], (float *)(cvt + xs->cvt_off), xs->cvt == CVT_TO_BLOCKED);
                    p->in_ptrs[n->n_inputs] = cvt + xs->cvt_off;
                }
            }
            const ref_slot *out_sl = sl;
            for (int j = 0; j < n->n_outputs; ++j, ++sl) {
                p->out_ptrs[j] = engine_slot_out(&sl->at, outputs, p->arena);
                p->dst_ptrs[j] = p->out_ptrs[j];
                if (sl->cvt && p->out_ptrs[j]) p->out_ptrs[j] = cvt + sl->cvt_off;
            }
            engine_status st = step->cs.exec
                                   ? step->cs.exec(&step->cs, p->in_ptrs, p->out_ptrs,
                                                   step->scratch_buf >= 0 ? p->arena + step->scratch_off : NULL)
                                   : step->fn(n, p->in_ptrs, p->out_ptrs);
            if (st != ENGINE_OK) {
                node_err(err, err_size, n, ref_kernel_failure(n, st) ? ref_kernel_failure(n, st) : status_str(st));
                return st;
            }
            for (int j = 0; j < n->n_outputs; ++j)
                if (out_sl[j].cvt && p->dst_ptrs[j])
                    run_conversion(&out_sl[j], vl, th, p->out_ptrs[j], p->dst_ptrs[j], out_sl[j].cvt == CVT_TO_BLOCKED);
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
    .name = "cpu",
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
