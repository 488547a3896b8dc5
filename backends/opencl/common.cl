/* backends/opencl/common.cl - what every kernel file of the OpenCL backend
 * shares, OpenCL C 1.2.
 *
 * The kernel program is ocl_codes.h (the op codes, shared with the C side)
 * followed by this file and then one file per op family (conv.cl, gemm.cl,
 * pool.cl, elementwise.cl, reduce.cl, resize.cl, tensor.cl, norm.cl), in the
 * order backends/opencl/meson.build lists them; embed.c concatenates them
 * into one source, built once per context (then kept in the program-binary
 * cache). A file may use what the files before it define; the family
 * files use only ocl_codes.h and this file. Conventions:
 *   - A tensor argument is a (buffer, element offset) pair: activations live
 *     in one arena buffer, constants in one weight buffer (builder.c).
 *   - Shapes and per-node integers come from the meta buffer `m` at `mo`
 *     (written once at compile), so launches need no per-run argument.
 *   - Storage type T is float, or half with -DENGINE_FP16: half is only ever
 *     read and written with vload_half/vstore_half (core OpenCL 1.2, no
 *     cl_khr_fp16 needed); all arithmetic is float (fp32 accumulation).
 *   - One work item per output element unless said otherwise; the global
 *     size is exactly the element count (local size left to the driver). */
#ifdef ENGINE_FP16
#define T half
#define LD(p, i) vload_half((size_t)(i), (p))
#define ST(p, i, v) vstore_half_rte((v), (size_t)(i), (p))
#else
#define T float
#define LD(p, i) ((p)[(i)])
#define ST(p, i, v) ((p)[(i)] = (v))
#endif

static float softplus_f(float x) {
    /* log(1 + e^x) without overflow */
    return log1p(exp(-fabs(x))) + fmax(x, 0.0f);
}

/* The unary ops and the epilogue activations (U_* codes, ocl_codes.h). */
static float act_f(float x, int op, float a, float b) {
    switch (op) {
    case U_RELU: return x > 0.0f ? x : 0.0f;
    case U_LEAKY: return x < 0.0f ? a * x : x;
    case U_CLIP: return x < a ? a : (x > b ? b : x);
    case U_SIGMOID: return 1.0f / (1.0f + exp(-x));
    case U_HSIGMOID: return clamp(a * x + b, 0.0f, 1.0f);
    case U_HSWISH: return x * clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case U_TANH: return tanh(x);
    case U_SOFTPLUS: return softplus_f(x);
    case U_ELU: return x < 0.0f ? a * (exp(x) - 1.0f) : x;
    case U_SELU: return x <= 0.0f ? b * (a * exp(x) - a) : b * x;
    case U_MISH: return x * tanh(softplus_f(x));
    case U_SQRT: return sqrt(x);
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_SILU: return x / (1.0f + exp(-x));
    case U_TOBOOL: return x != 0.0f ? 1.0f : 0.0f;
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return rint(x);
    case U_SIGN: return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x);
    case U_RECIP: return 1.0f / x;
    case U_ERF: return erf(x);
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_SOFTSIGN: return x / (1.0f + fabs(x));
    case U_GELU:
        if (a != 0.0f) return 0.5f * x * (1.0f + tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
        return 0.5f * x * (1.0f + erf(x * 0.7071067811865476f));
    case U_THRESH: return x > a ? x : 0.0f;
    case U_CELU: return fmax(0.0f, x) + fmin(0.0f, a * expm1(x / a));
    case U_SHRINK: return x < -a ? x + b : (x > a ? x - b : 0.0f);
    case U_NOT: return x != 0.0f ? 0.0f : 1.0f;
    case U_SCALE: return x * a;
    default: return x;
    }
}

/* ---- integer tensors ----
 * int64, int32, int8 and uint8 tensors are stored as long on the device
 * (storage.c converts at the seams); `nb` says which width the value has
 * (NB_* codes) and results are wrapped to it (two's complement, as the
 * reference and numpy do). Bool stays in the storage type T as 0/1. Errors
 * the reference reports (an integer division by zero, a run-time Gather
 * index out of range) set *flag = step + 1 (the node's position in the
 * partition) and write 0; module.c reads the flag after the run and
 * returns the error. */
static long narrow_l(long v, int nb) {
    switch (nb) {
    case NB_I32: return ((v & 0xffffffffL) ^ 0x80000000L) - 0x80000000L;
    case NB_I8: return ((v & 0xffL) ^ 0x80L) - 0x80L;
    case NB_U8: return v & 0xffL;
    default: return v;
    }
}

/* Index v of an axis of `len` elements, negative counted from the end;
 * -1 when it is outside [-len, len) (the gathers and scatters: an index
 * read at run time is checked before it is used). */
static int index_in(long v, int len) {
    if (v < 0) v += len;
    return v >= 0 && v < len ? (int)v : -1;
}

/* Loads and stores of the long storage class, so that a kernel body
 * written once as a macro serves both classes (LD/ST for T). */
#define LDL(p, i) ((p)[(i)])
#define STL(p, i, v) ((p)[(i)] = (v))

/* ---- dims selected by a mask (f_reduce, f_mvn) ----
 * Offset in a C-order tensor of r dims of element j of the sub-tensor made
 * of the dims d whose mask bit equals sel (sel 1: the dims in mask, 0: the
 * others), and the element count of the masked dims. */
static int dims_offset(__global const int *dims, int r, int mask, int sel, int j) {
    int off = 0, stride = 1;
    for (int d = r - 1; d >= 0; --d) {
        if (((mask >> d) & 1) == sel) {
            off += (j % dims[d]) * stride;
            j /= dims[d];
        }
        stride *= dims[d];
    }
    return off;
}

static int dims_count(__global const int *dims, int r, int mask) {
    int count = 1;
    for (int d = 0; d < r; ++d)
        if (mask & (1 << d)) count *= dims[d];
    return count;
}

/* ---- work-group reductions ----
 * out = the sum of every item's v over the work group (its size a power of
 * 2 of at most 256, one dimension), through the local array sh; every item
 * gets it, and sh is free again after. A macro, not a function: with its
 * barriers in a helper called twice by one kernel, POCL 3.1 computed a
 * wrong group about once in a hundred runs (f_groupnorm); inline, never in
 * a thousand. */
#define GROUP_SUM(sh, v, out)                                                                                        \
    do {                                                                                                             \
        int l_ = get_local_id(0);                                                                                    \
        (sh)[l_] = (v);                                                                                              \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                                \
        for (int h_ = (int)get_local_size(0) / 2; h_ > 0; h_ >>= 1) {                                                \
            if (l_ < h_) (sh)[l_] += (sh)[l_ + h_];                                                                  \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                            \
        }                                                                                                            \
        (out) = (sh)[0];                                                                                             \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                                \
    } while (0)
