/* backends/opencl/module.c - the OpenCL backend module (engine-backend-opencl.so):
 * the backend interface, the op -> family dispatch, and compile / run.
 *
 * compile turns a partition into a fixed list of launches:
 *   - every activation the partition touches (its inputs and outputs too)
 *     gets a slot in ONE device arena, placed by the host's liveness
 *     planner; constants (float/bool) are converted to the storage type and
 *     uploaded ONCE into one weight buffer; shapes and per-node integers go
 *     into one meta buffer (the builder, builder.c);
 *   - each node becomes one or more launches, recorded by its op family's
 *     emitter (conv.c, gemm.c, pool.c, elementwise.c, reduce.c, resize.c,
 *     tensor.c, norm.c; plugin.c for plugin ops): a kernel object whose
 *     arguments are all set at compile (buffers never move), or a CLBlast
 *     SGEMM (fp32; GEMM-shaped work) followed by an epilogue kernel.
 * run writes the partition inputs into the arena, enqueues the launches in
 * order on an in-order queue, and reads the outputs back: nothing is
 * allocated per run, and host<->device copies happen only at the seams.
 *
 * Storage is float, or half with precision fp16 (converted on the host at
 * the seams and at weight upload, storage.c); bool values are stored as 0/1
 * in the same type and converted at the seams. Integer tensors (int64,
 * int32, int8, uint8) are stored as long (OpenCL C 1.2's 64-bit integer,
 * full profile), converted at the seams, their constants in a weight buffer
 * of their own; kernels wrap results to the tensor's width.
 *
 * Concat aliases (ir.h, engine_value.alias_of): a value whose alias chain
 * is written entirely inside the partition is placed at its root's slot +
 * the summed offset, the root's lifetime covers every member's, and the
 * Concat skips an input that already sits at its destination slice. */
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_tune.h"
#include "ocl_builder.h"

#define OCL_EXPORT __attribute__((visibility("default")))

/* ---- dispatch: op -> family ---- */

typedef struct ocl_family {
    void (*emit)(ocl_builder *b, const engine_node *n);
    int (*supports)(const engine_node *n);
} ocl_family;

/* Each op of ENGINE_OP_LIST (ops.h) to its family's emitter and supports
 * check (ocl_builder.h): an op added to the list lands in its family's
 * file, and a new family fails to build here until it has one. */
static const ocl_family families[ENGINE_OP_COUNT_] = {
#define ENTRY_(name, family) [ENGINE_OP_##name] = {ocl_emit_##family, ocl_supports_##family},
    ENGINE_OP_LIST(ENTRY_)
#undef ENTRY_
};

/* The family of an op; NULL for ENGINE_OP_UNKNOWN and anything outside
 * the list. */
static const ocl_family *family_of(engine_op op) {
    if ((int)op <= 0 || op >= ENGINE_OP_COUNT_ || !families[op].emit) return NULL;
    return &families[op];
}

/* ---- supports ---- */

/* Ops whose params (n->params) the emitters read. */
static int needs_params(engine_op op) {
    switch (op) {
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: case ENGINE_OP_MaxPool: case ENGINE_OP_AveragePool:
    case ENGINE_OP_Gemm: case ENGINE_OP_Softmax: case ENGINE_OP_LogSoftmax: case ENGINE_OP_ReduceMean:
    case ENGINE_OP_ReduceSum: case ENGINE_OP_ReduceMax: case ENGINE_OP_Resize: case ENGINE_OP_Upsample:
    case ENGINE_OP_Concat: case ENGINE_OP_Split: case ENGINE_OP_Gather: case ENGINE_OP_DepthToSpace:
    case ENGINE_OP_SpaceToDepth: case ENGINE_OP_Slice: case ENGINE_OP_Pad: case ENGINE_OP_Transpose:
    case ENGINE_OP_BatchNormalization: case ENGINE_OP_InstanceNormalization: case ENGINE_OP_LRN:
    case ENGINE_OP_Clip: case ENGINE_OP_HardSigmoid: case ENGINE_OP_Selu: case ENGINE_OP_Gelu:
    case ENGINE_OP_ThresholdedRelu: case ENGINE_OP_Celu: case ENGINE_OP_Shrink: case ENGINE_OP_Mod:
    case ENGINE_OP_ReduceMin: case ENGINE_OP_ReduceProd: case ENGINE_OP_ReduceL1: case ENGINE_OP_ReduceL2:
    case ENGINE_OP_ReduceLogSumExp: case ENGINE_OP_ReduceSumSquare: case ENGINE_OP_ArgMax: case ENGINE_OP_ArgMin:
    case ENGINE_OP_Hardmax: case ENGINE_OP_LpNormalization: case ENGINE_OP_CumSum: case ENGINE_OP_Trilu:
    case ENGINE_OP_MeanVarianceNormalization: case ENGINE_OP_Einsum: case ENGINE_OP_GridSample:
    case ENGINE_OP_QuantizeLinear: case ENGINE_OP_DequantizeLinear: case ENGINE_OP_GatherElements: case ENGINE_OP_GatherND:
    case ENGINE_OP_ScatterElements: case ENGINE_OP_ScatterND: case ENGINE_OP_OneHot: case ENGINE_OP_TopK:
    case ENGINE_OP_RoiAlign: case ENGINE_OP_LayerNormalization: case ENGINE_OP_GroupNormalization:
        return 1;
    default: return 0;
    }
}

/* The checks common to every op, then the op's family's own. */
static int ocl_supports_node(const engine_node *n) {
    if (n && n->plugin) return ocl_supports_plugin(n);
    if (!n || n->op == ENGINE_OP_UNKNOWN || n->n_inputs < 1 || n->n_outputs < 1) return 0;
    /* Nothing to run: every output is already a constant. */
    int all_const = 1;
    for (int k = 0; k < n->n_outputs; ++k) all_const &= !n->outputs[k] || n->outputs[k]->data != NULL;
    if (all_const) return 1;
    if (!n->params && needs_params(n->op)) return 0;
    int nd = ocl_data_inputs(n);
    for (int k = 0; k < n->n_inputs && k < nd; ++k) {
        const engine_value *v = n->inputs[k];
        if (v && (dclass(v->dtype) < 0 || !numel_ok(v))) return 0;
    }
    /* Outputs: the first is data; extra outputs must be absent except
     * Split's, Dropout's mask (all true in inference), LayerNormalization's
     * Mean and InvStdDev, TopK's indices, MaxPool's indices (int64) and
     * BatchNorm's running statistics in training_mode. */
    for (int k = 0; k < n->n_outputs; ++k) {
        const engine_value *v = n->outputs[k];
        if (!v) continue;
        int extra_ok = n->op == ENGINE_OP_Split ||
                       (n->op == ENGINE_OP_Dropout && k == 1 &&
                        (v->dtype == ENGINE_DTYPE_BOOL || v->dtype == ENGINE_DTYPE_F32)) ||
                       (n->op == ENGINE_OP_LayerNormalization && k <= 2 && v->dtype == ENGINE_DTYPE_F32) ||
                       (n->op == ENGINE_OP_TopK && k == 1 && v->dtype == ENGINE_DTYPE_I64) ||
                       (n->op == ENGINE_OP_MaxPool && k == 1 && v->dtype == ENGINE_DTYPE_I64) ||
                       (n->op == ENGINE_OP_BatchNormalization && k <= 2 && n->params &&
                        ((const engine_scalar_params *)n->params)->size);
        if (k > 0 && !extra_ok) return 0;
        if (dclass(v->dtype) < 0 || !numel_ok(v)) return 0;
    }
    if (!n->inputs[0] || !n->outputs[0]) return 0;
    const ocl_family *f = family_of(n->op);
    return f && f->supports(n);
}

/* A node's launches, by its family's emitter. */
static void emit_node(ocl_builder *b, const engine_node *n) {
    if (n->plugin) {
        ocl_emit_plugin(b, n);
        return;
    }
    const ocl_family *f = family_of(n->op);
    if (!f) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
    f->emit(b, n);
}

/* ---- the interface ---- */

#ifdef OCL_TEST_HOOKS
const ocl_api *ocl_api_override;
#endif

static engine_status ocl_create(const engine_backend_config *config, void **state, char *err, size_t err_size) {
    if (!config || !state || !config->allocator.alloc || !config->allocator.free || !config->host ||
        config->host->struct_size < offsetof(engine_host_services, constant_consumed) || !config->host->plan_arena) {
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
    else if (prec && strcmp(prec, "bf16") == 0) {
        /* a CPU backend's compute precision: float32 storage here */
        if (s->log) s->log(s->log_user, ENGINE_LOG_INFO, "opencl: precision bf16 is not offered; float32");
    } else if (prec && prec[0] && strcmp(prec, "fp32") != 0) {
        if (err && err_size) snprintf(err, err_size, "opencl: unknown precision '%s'", prec);
        s->a.free(s->a.user, s);
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    /* The session's tuning level, else ENGINE_OPENCL_TUNE; none by default. */
    const char *tune = config->tune ? config->tune : getenv("ENGINE_OPENCL_TUNE");
    if (tune && strcmp(tune, "fast") == 0) s->tune_level = OCL_TUNE_FAST;
    else if (tune && strcmp(tune, "full") == 0) s->tune_level = OCL_TUNE_FULL;
    else if (tune && tune[0] && strcmp(tune, "none") != 0) {
        if (err && err_size) snprintf(err, err_size, "opencl: unknown tuning level '%s' (none, fast, full)", tune);
        s->a.free(s->a.user, s);
        return ENGINE_ERR_INVALID_ARGUMENT;
    }
    /* The OpenCL platform layer's first use is not safe from two threads
     * at once (POCL crashed in its device probe when two contexts of a new
     * process created sessions together): opening is serialised per process. */
    static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&open_lock);
    engine_status st = ocl_open(s, config, err, err_size);
    pthread_mutex_unlock(&open_lock);
    if (st) {
        ocl_close(s);
        s->a.free(s->a.user, s);
        return st;
    }
    /* What a launch may use (ocl_kernel_fits): the device's limits, or
     * GPU-like ones with ENGINE_OPENCL_GPU_LIMITS=1 (the tests on POCL). */
    const char *lim = getenv("ENGINE_OPENCL_GPU_LIMITS");
    s->gpu_limits = lim && lim[0] && strcmp(lim, "0") != 0;
    s->wg_cap = s->dev.max_wg;
    s->local_cap = s->dev.local_mem;
    if (s->gpu_limits) {
        if (!s->wg_cap || s->wg_cap > 256) s->wg_cap = 256;
        if (!s->local_cap || s->local_cap > 32768) s->local_cap = 32768;
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
    ocl_xfree(s, s->proven);
    ocl_tune_close(s);
    ocl_wstore_free(s);
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
    ocl_xfree(s, p->own);
    ocl_xfree(s, p->own_info);
    ocl_xfree(s, p->launches);
    ocl_xfree(s, p->slots);
    ocl_xfree(s, p->ins);
    ocl_xfree(s, p->outs);
    ocl_xfree(s, p->copies);
    ocl_xfree(s, p->staging);
    ocl_xfree(s, p->events);
    for (int k = 0; k < p->n_shared; ++k) ocl_wstore_unref(s, p->shared[k]);
    ocl_xfree(s, p->shared);
    ocl_xfree(s, p);
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
static engine_status realise(ocl_state *s, ocl_program *p, ocl_builder *b, char *err, size_t err_size) {
    const ocl_api *cl = s->cl;
    cl_int e = CL_SUCCESS;
    const size_t ts = ocl_tsize(s);
    const size_t wbytes = (b->n_wts ? b->n_wts : 1) * ts;
    p->weight_bytes += wbytes; /* and what the weight store packed for it (ocl_wts_shared) */
    p->meta_bytes = (b->n_meta ? b->n_meta : 1) * sizeof(int);
    size_t arena = p->arena_bytes ? p->arena_bytes : ts;
    if (s->dev.max_alloc && (arena > s->dev.max_alloc || wbytes > s->dev.max_alloc)) {
        if (err && err_size)
            snprintf(err, err_size, "opencl: device '%s': a buffer of %zu bytes exceeds the device's %llu-byte limit",
                     s->dev.name, arena > wbytes ? arena : wbytes,
                     (unsigned long long)s->dev.max_alloc);
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    p->arena = cl->CreateBuffer(s->ctx, CL_MEM_READ_WRITE, arena, NULL, &e);
    if (!p->arena || e) {
        p->arena = NULL;
        return cl_fail(s, e ? e : CL_MEM_OBJECT_ALLOCATION_FAILURE, "allocating the activation arena", err, err_size);
    }
    /* Weights converted to the storage type, uploaded once. */
    void *host = ocl_xalloc(s, wbytes);
    if (!host) return cl_fail(s, CL_OUT_OF_HOST_MEMORY, "staging the weights", err, err_size);
    memset(host, 0, wbytes);
    ocl_to_storage(s, ENGINE_DTYPE_F32, b->wts, host, b->n_wts);
    p->weights = cl->CreateBuffer(s->ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, wbytes, host, &e);
    ocl_xfree(s, host);
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
        p->own = ocl_xalloc(s, sizeof *p->own * (size_t)p->n_own);
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
                m = p->slots[a->i].buf == BUF_SHARED ? p->slots[a->i].mem : buf_of(p, p->slots[a->i].buf);
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
        /* an explicit work group within what the kernel may use here */
        char why[200];
        if (l->work_dim && l->use_local &&
            !ocl_kernel_fits(s, l->kernel, l->lsz[0] * l->lsz[1] * l->lsz[2], why, sizeof why)) {
            const engine_node *n = l->step < b->part->n_nodes ? b->part->nodes[l->step] : NULL;
            if (err && err_size)
                snprintf(err, err_size, "node '%s' (%s) on opencl device '%s': kernel %s: %s", n ? n->name : "?",
                         n ? n->op_type : "?", s->dev.name, l->kname, why);
            return ENGINE_ERR_UNSUPPORTED;
        }
    }
    return ENGINE_OK;
}

/* A launch that leaves its work-group size to the driver gets, on a CPU
 * device (POCL), one from a fixed set: per dimension the largest power of
 * two that divides the global size, all dimensions together at most
 * OCL_CPU_WG items (and the instance's cap). POCL compiles a work-group
 * function per kernel and local size, and when the size is left to it
 * picks one from the global size: every new detection count (new global
 * sizes in the tail) then compiled each kernel of the tail again, 0.2-1.5
 * s a count (docs/PERFORMANCE.md). With the fixed set a kernel is compiled
 * at most a few times whatever the sizes: the demo detector's first run
 * at a new count went from 154x its steady run to 1.2x (tools/bench_tail.py,
 * a cold POCL cache), steady runs unchanged (ResNet-18, MobileNet v2,
 * GoogLeNet within noise of the driver's choice; caps of 16 and 256 the
 * same). Other devices: NULL, the driver's choice (a GPU driver compiles a
 * kernel once whatever the size). */
#define OCL_CPU_WG 64

static const size_t *cpu_local(const ocl_state *s, cl_uint dims, const size_t *g, size_t *l) {
    if (!(s->dev.type & CL_DEVICE_TYPE_CPU)) return NULL;
    size_t budget = OCL_CPU_WG;
    while (s->wg_cap && budget > s->wg_cap) budget /= 2;
    for (cl_uint d = 0; d < dims; ++d) {
        const size_t low = g[d] ? g[d] & (~g[d] + 1) : 1; /* the lowest set bit */
        l[d] = low < budget ? low : budget;
        budget /= l[d];
    }
    return l;
}

/* The trial pass runs before any input is written: the arena is zeroed
 * first (f_zero, 16-bit words: every slot's size is a multiple of 2 bytes),
 * so that kernels whose amount of work depends on the data (RoiAlign's
 * samples per bin, from the boxes) see zeros rather than whatever the
 * allocation held, and no kernel reads uninitialised memory. */
static engine_status zero_arena(ocl_state *s, ocl_program *p, char *err, size_t err_size) {
    size_t words = p->arena_bytes / 2;
    if (!p->arena || !words) return ENGINE_OK;
    cl_int e = CL_SUCCESS;
    cl_kernel k = s->cl->CreateKernel(s->program, "f_zero", &e);
    if (!k || e) return cl_fail(s, e ? e : CL_INVALID_KERNEL, "creating kernel f_zero", err, err_size);
    e = s->cl->SetKernelArg(k, 0, sizeof p->arena, &p->arena);
    size_t lw;
    if (!e) e = s->cl->EnqueueNDRangeKernel(s->queue, k, 1, NULL, &words, cpu_local(s, 1, &words, &lw), 0, NULL, NULL);
    s->cl->ReleaseKernel(k);
    return e ? cl_fail(s, e, "zeroing the arena", err, err_size) : ENGINE_OK;
}

static engine_status enqueue_all(ocl_state *s, ocl_program *p, cl_command_queue q, int with_events, char *err,
                                 size_t err_size);
static engine_status enqueue_all_masked(ocl_state *s, ocl_program *p, cl_command_queue q, int with_events,
                                        const unsigned char *mask, char *err, size_t err_size);
static uint64_t launch_key(const ocl_launch *l);
static int proven_has(const ocl_state *s, uint64_t key);
static void proven_add(ocl_state *s, uint64_t key);

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

    ocl_builder bld;
    memset(&bld, 0, sizeof bld);
    ocl_builder *b = &bld;
    b->s = s;
    b->part = part;
    b->err = err;
    b->err_size = err_size;
    engine_storage sp; /* engine/storage.h: output copies and the arena plan */
    memset(&sp, 0, sizeof sp);
    sp.a = &s->a;
    int *plan_slot = NULL;
    ocl_program *p = ocl_xalloc(s, sizeof *p);
    if (!p) {
        ocl_oom(b);
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
    p->ins = ocl_xalloc(s, sizeof *p->ins * (size_t)(part->n_inputs + 1));
    p->outs = ocl_xalloc(s, sizeof *p->outs * (size_t)(part->n_outputs + 1));
    p->copies = ocl_xalloc(s, sizeof *p->copies * (size_t)(part->n_outputs + 1));
    if (!p->ins || !p->outs || !p->copies) {
        ocl_oom(b);
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
    /* Every arena slot that is not an alias member is a buffer of the plan
     * (a member lives in its root's); at most one per slot. */
    if ((b->st = engine_storage_init(&sp, &s->a, part, OCL_ALIGN, p->n_slots + 1))) {
        ocl_oom(b);
        goto fail;
    }
    for (int k = 0; k < p->n_out; ++k) sp.produced[p->outs[k].index] = 1;
    const int unfilled = engine_storage_copies(&sp, p->copies, &p->n_copies);
    if (unfilled >= 0) {
        const engine_value *v = part->outputs[unfilled];
        if (err && err_size) snprintf(err, err_size, "opencl: partition output '%s' is not produced", v ? v->name : "?");
        b->st = ENGINE_ERR_INVALID_MODEL;
        goto fail;
    }
    /* Staging for seams that need a conversion (fp16 storage, bool). */
    for (int pass = 0; pass < 2; ++pass) {
        ocl_seam *list = pass ? p->outs : p->ins;
        int cnt = pass ? p->n_out : p->n_in;
        for (int k = 0; k < cnt; ++k)
            if (ocl_needs_stage(s, list[k].dtype)) {
                list[k].staging = p->staging_bytes;
                p->staging_bytes += (list[k].count * 8 + 63) / 64 * 64;
            }
    }
    if (p->staging_bytes && !(p->staging = ocl_xalloc(s, p->staging_bytes))) {
        ocl_oom(b);
        goto fail;
    }

    /* The arena: every arena slot planned by the shared liveness planner. */
    plan_slot = ocl_xalloc(s, sizeof *plan_slot * (size_t)(p->n_slots + 1));
    if (!plan_slot) {
        ocl_oom(b);
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
        const int pb = engine_storage_add(&sp, sl->v, sl->count * sl->esz, sl->first);
        if (pb < 0) {
            b->st = ENGINE_ERR_INTERNAL;
            goto fail;
        }
        sp.bufs[pb].last = sl->last;
        plan_slot[np++] = k;
    }
    st = engine_storage_plan(&sp, s->host, &p->arena_bytes);
    if (st) {
        if (st == ENGINE_ERR_OUT_OF_MEMORY) ocl_oom(b);
        else if (err && err_size) snprintf(err, err_size, "opencl: memory plan failed (sizes overflow)");
        b->st = st;
        goto fail;
    }
    if (p->arena_bytes / ocl_tsize(s) > INT_MAX || b->n_wts > INT_MAX || b->n_iwts > INT_MAX) {
        if (err && err_size)
            snprintf(err, err_size, "opencl: device '%s': activations or weights exceed 2^31 elements", s->dev.name);
        b->st = ENGINE_ERR_UNSUPPORTED;
        goto fail;
    }
    for (int k = 0; k < np; ++k) p->slots[plan_slot[k]].off = sp.bufs[k].offset / p->slots[plan_slot[k]].esz;
    for (int k = 0; k < p->n_slots; ++k)
        if (p->slots[k].root >= 0) p->slots[k].off = p->slots[p->slots[k].root].off + p->slots[k].aoff;

    if ((b->st = realise(s, p, b, err, err_size))) goto fail;
    p->events = ocl_xalloc(s, sizeof *p->events * (size_t)(p->n_launches + 1));
    if (!p->events) {
        ocl_oom(b);
        goto fail;
    }
    memset(p->events, 0, sizeof *p->events * (size_t)(p->n_launches + 1));
    /* A trial pass over the launches that have not run on this instance
     * before (a kernel at a work-group size, an SGEMM shape): CLBlast
     * compiles its kernels on the first call, and a launch the device
     * refuses fails here, at compile (where placement can still react),
     * not in the first run. A later specialisation of the same model
     * repeats few of them, so its first run is not a second run. */
    uint64_t *keys = ocl_xalloc(s, sizeof *keys * (size_t)(p->n_launches + 1));
    unsigned char *trial = ocl_xalloc(s, (size_t)p->n_launches + 1);
    if (!keys || !trial) {
        ocl_xfree(s, keys);
        ocl_xfree(s, trial);
        ocl_oom(b);
        goto fail;
    }
    int any_trial = 0;
    for (int k = 0; k < p->n_launches; ++k) {
        keys[k] = launch_key(&p->launches[k]);
        trial[k] = !proven_has(s, keys[k]);
        any_trial |= trial[k];
    }
    b->st = any_trial ? zero_arena(s, p, err, err_size) : ENGINE_OK;
    if (!b->st) b->st = enqueue_all_masked(s, p, s->queue, 0, trial, err, err_size);
    cl_int e = b->st ? CL_SUCCESS : s->cl->Finish(s->queue);
    if (!b->st && e) b->st = cl_fail(s, e, "the trial run", err, err_size);
    for (int k = 0; !b->st && k < p->n_launches; ++k)
        if (trial[k]) proven_add(s, keys[k]); /* a failed add only means a later trial */
    ocl_xfree(s, keys);
    ocl_xfree(s, trial);
    if (b->st) goto fail;
    engine_storage_free(&sp);
    ocl_xfree(s, plan_slot);
    ocl_xfree(s, b->meta);
    ocl_xfree(s, b->wts);
    ocl_xfree(s, b->iwts);
    if (s->tuned && s->log) {
        char msg[200];
        snprintf(msg, sizeof msg, "opencl: tuned %d convolution shape(s) in %.0f ms", s->tuned, s->tune_ms);
        s->log(s->log_user, ENGINE_LOG_INFO, msg);
    }
    s->tuned = 0;
    s->tune_ms = 0;
    ocl_tune_save(s);
    *program = p;
    return ENGINE_OK;
fail:
    if (s->queue) s->cl->Finish(s->queue);
    engine_storage_free(&sp);
    ocl_xfree(s, plan_slot);
    ocl_xfree(s, b->meta);
    ocl_xfree(s, b->wts);
    ocl_xfree(s, b->iwts);
    program_free(s, p);
    return b->st ? b->st : ENGINE_ERR_INTERNAL;
}

/* ---- the proven-launch set ---- */

static uint64_t mix64(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* What decides whether a launch can fail on the device: the kernel and
 * its work-group size; for an SGEMM, its shape and transposes (CLBlast
 * picks and compiles kernels by them). Never 0. */
static uint64_t launch_key(const ocl_launch *l) {
    uint64_t h = 0x1234567ull;
    if (l->kname) {
        for (const char *c = l->kname; *c; ++c) h = mix64(h, (unsigned char)*c);
        h = mix64(h, (uint64_t)l->work_dim);
        h = mix64(h, (uint64_t)l->use_local);
        for (int d = 0; d < 3; ++d) h = mix64(h, l->use_local ? (uint64_t)l->lsz[d] : 0);
    } else {
        h = mix64(h, 0xb1a5ull);
        h = mix64(h, (uint64_t)l->ta * 2 + (uint64_t)l->tb);
        h = mix64(h, (uint64_t)l->gm);
        h = mix64(h, (uint64_t)l->gn);
        h = mix64(h, (uint64_t)l->gk);
    }
    return h ? h : 1;
}

static int proven_has(const ocl_state *s, uint64_t key) {
    if (!s->cap_proven) return 0;
    for (size_t i = (size_t)key & (s->cap_proven - 1);; i = (i + 1) & (s->cap_proven - 1)) {
        if (s->proven[i] == key) return 1;
        if (!s->proven[i]) return 0;
    }
}

static void proven_add(ocl_state *s, uint64_t key) {
    if (proven_has(s, key)) return;
    if ((s->n_proven + 1) * 2 > s->cap_proven) {
        size_t cap = s->cap_proven ? s->cap_proven * 2 : 256;
        uint64_t *t = ocl_xalloc(s, sizeof *t * cap);
        if (!t) return;
        memset(t, 0, sizeof *t * cap);
        for (size_t k = 0; k < s->cap_proven; ++k)
            if (s->proven[k])
                for (size_t i = (size_t)s->proven[k] & (cap - 1);; i = (i + 1) & (cap - 1))
                    if (!t[i]) {
                        t[i] = s->proven[k];
                        break;
                    }
        ocl_xfree(s, s->proven);
        s->proven = t;
        s->cap_proven = cap;
    }
    for (size_t i = (size_t)key & (s->cap_proven - 1);; i = (i + 1) & (s->cap_proven - 1))
        if (!s->proven[i]) {
            s->proven[i] = key;
            s->n_proven++;
            return;
        }
}

static engine_status enqueue_all(ocl_state *s, ocl_program *p, cl_command_queue q, int with_events, char *err,
                                 size_t err_size) {
    return enqueue_all_masked(s, p, q, with_events, NULL, err, err_size);
}

/* Enqueues the launches (those with mask[k] set, or all when mask is NULL). */
static engine_status enqueue_all_masked(ocl_state *s, ocl_program *p, cl_command_queue q, int with_events,
                                        const unsigned char *mask, char *err, size_t err_size) {
    const ocl_api *cl = s->cl;
    for (int k = 0; k < p->n_launches; ++k) {
        if (mask && !mask[k]) continue;
        ocl_launch *l = &p->launches[k];
        cl_event *ev = with_events ? &p->events[k] : NULL;
        if (ev) *ev = NULL;
        if (l->kname) {
            size_t lfix[3];
            cl_int e = l->work_dim
                           ? cl->EnqueueNDRangeKernel(q, l->kernel, (cl_uint)l->work_dim, NULL, l->gsz,
                                                      l->use_local ? l->lsz : cpu_local(s, (cl_uint)l->work_dim, l->gsz, lfix),
                                                      0, NULL, ev)
                           : cl->EnqueueNDRangeKernel(q, l->kernel, 1, NULL, &l->global, cpu_local(s, 1, &l->global, lfix), 0,
                                                      NULL, ev);
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
        if (ocl_needs_stage(s, sm->dtype)) {
            ocl_to_storage(s, sm->dtype, src, p->staging + sm->staging, sm->count);
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
        void *dst = ocl_needs_stage(s, sm->dtype) ? (void *)(p->staging + sm->staging) : outputs[sm->index];
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
        if (ocl_needs_stage(s, sm->dtype))
            ocl_from_storage(s, sm->dtype, p->staging + sm->staging, outputs[sm->index], sm->count);
    }
    engine_storage_run_copies(p->copies, p->n_copies, inputs, outputs);
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

