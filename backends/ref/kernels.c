/* backends/ref/kernels.c - the op -> kernel table and the dtype rules.
 *
 * ref_supports mirrors what each kernel accepts: float32 math everywhere;
 * int64/int32 (and bool) where shape arithmetic and the constant folder
 * need them; data movement for any element type of 1, 2, 4 or 8 bytes. */
#include "ref_kernels.h"

#include "engine/plugin.h"

static const ref_kernel_fn kernel_table[ENGINE_OP_COUNT_] = {
#define ENTRY_(name, family) [ENGINE_OP_##name] = ref_##name,
    ENGINE_OP_LIST(ENTRY_)
#undef ENTRY_
};

ref_kernel_fn ref_kernel_for(engine_op op) {
    if ((int)op <= 0 || op >= ENGINE_OP_COUNT_) return NULL;
    return kernel_table[op];
}

#define BIT_(t) (1u << (unsigned)(t))
#define FLOATS_ BIT_(ENGINE_DTYPE_F32)
#define ARITH_ (BIT_(ENGINE_DTYPE_F32) | BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_I32))
#define ARITH8_ (ARITH_ | BIT_(ENGINE_DTYPE_U8) | BIT_(ENGINE_DTYPE_I8))
#define ANY_                                                                                              \
    (BIT_(ENGINE_DTYPE_F32) | BIT_(ENGINE_DTYPE_U8) | BIT_(ENGINE_DTYPE_I8) | BIT_(ENGINE_DTYPE_I32) |   \
     BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_BOOL) | BIT_(ENGINE_DTYPE_F16) | BIT_(ENGINE_DTYPE_F64))

static int is(const engine_value *v, unsigned set) {
    return v && (int)v->dtype >= 0 && (int)v->dtype < 32 && (set & BIT_(v->dtype));
}

static const engine_value *in_(const engine_node *n, int k) {
    return engine_node_input(n, k);
}

static const engine_value *out_(const engine_node *n, int k) {
    return k < n->n_outputs ? n->outputs[k] : NULL;
}

/* Every present input and output is float32. */
static int all_f32(const engine_node *n) {
    for (int k = 0; k < n->n_inputs; ++k)
        if (n->inputs[k] && n->inputs[k]->dtype != ENGINE_DTYPE_F32) return 0;
    for (int k = 0; k < n->n_outputs; ++k)
        if (n->outputs[k] && n->outputs[k]->dtype != ENGINE_DTYPE_F32) return 0;
    return 1;
}

/* Input 0 and output 0 exist, share a dtype, and it is in `set`. */
static int same01(const engine_node *n, unsigned set) {
    return is(in_(n, 0), set) && is(out_(n, 0), set) && in_(n, 0)->dtype == out_(n, 0)->dtype;
}

static int ranks_ok(const engine_node *n) {
    for (int k = 0; k < n->n_inputs; ++k)
        if (n->inputs[k] && (n->inputs[k]->rank < 0 || n->inputs[k]->rank > ENGINE_MAX_RANK)) return 0;
    for (int k = 0; k < n->n_outputs; ++k)
        if (n->outputs[k] && (n->outputs[k]->rank < 0 || n->outputs[k]->rank > ENGINE_MAX_RANK)) return 0;
    return 1;
}

const char *ref_kernel_failure(const engine_node *n, engine_status st) {
    if (st != ENGINE_ERR_INVALID_ARGUMENT) return NULL;
    switch (n->op) {
    case ENGINE_OP_Gather: case ENGINE_OP_GatherElements: case ENGINE_OP_GatherND: case ENGINE_OP_ScatterElements:
    case ENGINE_OP_ScatterND:
        return "an index read at run time is out of range";
    case ENGINE_OP_RoiAlign: return "a batch index out of range, or a box coordinate that is not finite";
    default: return NULL;
    }
}

int64_t ref_dd_bound(const engine_node *n, const void *const *in) {
    if (n->op == ENGINE_OP_NonZero) {
        const engine_value *x = n->inputs[0];
        return engine_value_numel(x) * (x->rank > 0 ? x->rank : 1);
    }
    return n->op == ENGINE_OP_NonMaxSuppression ? ref_nms_bound(n, in) : 0;
}

engine_status ref_dd_run(const engine_node *n, const void *const *in, void *out, int64_t cap, int64_t *dims) {
    if (n->op == ENGINE_OP_NonZero) return ref_nonzero_run(n, in[0], out, cap, dims);
    if (n->op == ENGINE_OP_NonMaxSuppression) return ref_nms_run(n, in, out, cap, dims);
    return ENGINE_ERR_UNSUPPORTED;
}

ref_kernel_fn ref_kernel_for_node(const engine_node *n) {
    if (n && n->plugin) return n->plugin->host_kernel; /* same signature as ref_kernel_fn */
    return n ? ref_kernel_for(n->op) : NULL;
}

int ref_supports(const engine_node *n) {
    /* A plugin op runs through its host kernel, whatever the dtypes: its
     * shape function has already accepted them. */
    if (n && n->plugin) return n->plugin->host_kernel != NULL && ranks_ok(n);
    if (!n || !ref_kernel_for(n->op) || !ranks_ok(n)) return 0;
    switch (n->op) {
    /* float32 unary ops; their extra inputs (Clip's min/max) are folded into params. */
    case ENGINE_OP_Relu: case ENGINE_OP_Sigmoid: case ENGINE_OP_HardSwish: case ENGINE_OP_Tanh:
    case ENGINE_OP_Softplus: case ENGINE_OP_Mish: case ENGINE_OP_Sqrt: case ENGINE_OP_Exp: case ENGINE_OP_Log:
    case ENGINE_OP_Floor: case ENGINE_OP_Ceil: case ENGINE_OP_Round: case ENGINE_OP_Reciprocal: case ENGINE_OP_Erf:
    case ENGINE_OP_Sin: case ENGINE_OP_Cos: case ENGINE_OP_Softsign:
        return same01(n, FLOATS_);
    case ENGINE_OP_LeakyRelu: case ENGINE_OP_Clip: case ENGINE_OP_HardSigmoid: case ENGINE_OP_Elu:
    case ENGINE_OP_Selu: case ENGINE_OP_Gelu: case ENGINE_OP_ThresholdedRelu: case ENGINE_OP_Celu:
    case ENGINE_OP_Shrink:
        return n->params && same01(n, FLOATS_);
    case ENGINE_OP_Neg: case ENGINE_OP_Abs: case ENGINE_OP_Sign:
        return same01(n, ARITH_);
    case ENGINE_OP_Not:
        return same01(n, BIT_(ENGINE_DTYPE_BOOL));
    case ENGINE_OP_PRelu:
        return all_f32(n) && in_(n, 1) && out_(n, 0);

    case ENGINE_OP_Add: case ENGINE_OP_Sub: case ENGINE_OP_Mul: case ENGINE_OP_Div:
        return same01(n, ARITH8_) && is(in_(n, 1), ARITH8_) && in_(n, 1)->dtype == in_(n, 0)->dtype;
    case ENGINE_OP_Pow:
        return same01(n, ARITH_) && is(in_(n, 1), ARITH_);
    case ENGINE_OP_Equal:
        return is(in_(n, 0), ARITH_ | BIT_(ENGINE_DTYPE_BOOL)) && in_(n, 1) &&
               in_(n, 1)->dtype == in_(n, 0)->dtype && is(out_(n, 0), BIT_(ENGINE_DTYPE_BOOL));
    case ENGINE_OP_Greater: case ENGINE_OP_Less: case ENGINE_OP_GreaterOrEqual: case ENGINE_OP_LessOrEqual:
        return is(in_(n, 0), ARITH_) && in_(n, 1) && in_(n, 1)->dtype == in_(n, 0)->dtype &&
               is(out_(n, 0), BIT_(ENGINE_DTYPE_BOOL));
    case ENGINE_OP_And: case ENGINE_OP_Or: case ENGINE_OP_Xor:
        return same01(n, BIT_(ENGINE_DTYPE_BOOL)) && is(in_(n, 1), BIT_(ENGINE_DTYPE_BOOL));
    case ENGINE_OP_Mod: /* float32 needs fmod = 1 (params->to) */
        return n->params && same01(n, ARITH8_) && in_(n, 1) && in_(n, 1)->dtype == in_(n, 0)->dtype &&
               (in_(n, 0)->dtype != ENGINE_DTYPE_F32 || ((const engine_cast_params *)n->params)->to);
    case ENGINE_OP_Min: case ENGINE_OP_Max: case ENGINE_OP_Sum: case ENGINE_OP_Mean: {
        unsigned set = n->op == ENGINE_OP_Min || n->op == ENGINE_OP_Max ? ARITH8_ : FLOATS_;
        if (!is(out_(n, 0), set)) return 0;
        for (int k = 0; k < n->n_inputs; ++k)
            if (!n->inputs[k] || n->inputs[k]->dtype != out_(n, 0)->dtype) return 0;
        return n->n_inputs >= 1;
    }
    case ENGINE_OP_Where:
        return is(in_(n, 0), BIT_(ENGINE_DTYPE_BOOL)) && is(in_(n, 1), ANY_) && is(in_(n, 2), ANY_) &&
               is(out_(n, 0), ANY_) && in_(n, 1)->dtype == out_(n, 0)->dtype &&
               in_(n, 2)->dtype == out_(n, 0)->dtype;

    case ENGINE_OP_TopK:
        return n->params && same01(n, ARITH_) && is(out_(n, 1), BIT_(ENGINE_DTYPE_I64));
    case ENGINE_OP_Range:
        return same01(n, ARITH_ | BIT_(ENGINE_DTYPE_F64));
    case ENGINE_OP_Size:
        return in_(n, 0) && is(out_(n, 0), BIT_(ENGINE_DTYPE_I64));
    case ENGINE_OP_OneHot:
        return n->params && is(in_(n, 0), ARITH_) && is(in_(n, 1), ARITH_) && is(in_(n, 2), ANY_) &&
               is(out_(n, 0), ANY_) && in_(n, 2)->dtype == out_(n, 0)->dtype;
    case ENGINE_OP_GatherElements: case ENGINE_OP_GatherND:
        return n->params && same01(n, ANY_) && is(in_(n, 1), BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_I32));
    case ENGINE_OP_ScatterElements: case ENGINE_OP_ScatterND:
        if (!n->params || !same01(n, ANY_) || !is(in_(n, 1), BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_I32)) ||
            !in_(n, 2) || in_(n, 2)->dtype != in_(n, 0)->dtype)
            return 0;
        return ((const engine_index_params *)n->params)->reduction == 0 || same01(n, ARITH_);
    case ENGINE_OP_RoiAlign:
        return n->params && same01(n, FLOATS_) && is(in_(n, 1), FLOATS_) &&
               is(in_(n, 2), BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_I32));
    case ENGINE_OP_NonZero: /* host stages only (ref_dd_run); never placed on a backend */
    case ENGINE_OP_NonMaxSuppression:
        return 0;

    case ENGINE_OP_ReduceMean:
        return n->params && same01(n, FLOATS_);
    case ENGINE_OP_ReduceSum:
        return n->params && same01(n, FLOATS_ | BIT_(ENGINE_DTYPE_I64));
    case ENGINE_OP_ReduceMax: case ENGINE_OP_ReduceMin: /* bool: ReduceMax-20, ReduceMin-20 */
        return n->params && same01(n, FLOATS_ | BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_BOOL));
    case ENGINE_OP_ReduceProd: case ENGINE_OP_ReduceL1: case ENGINE_OP_ReduceSumSquare:
        return n->params && same01(n, FLOATS_ | BIT_(ENGINE_DTYPE_I64));
    case ENGINE_OP_ReduceL2: case ENGINE_OP_ReduceLogSumExp:
        return n->params && same01(n, FLOATS_);
    case ENGINE_OP_CumSum:
        return n->params && same01(n, ARITH_);
    case ENGINE_OP_ArgMax: case ENGINE_OP_ArgMin:
        return n->params && is(in_(n, 0), ARITH_) && is(out_(n, 0), BIT_(ENGINE_DTYPE_I64));

    case ENGINE_OP_Concat:
        if (!n->params || !is(out_(n, 0), ANY_)) return 0;
        for (int k = 0; k < n->n_inputs; ++k)
            if (!n->inputs[k] || n->inputs[k]->dtype != out_(n, 0)->dtype) return 0;
        return 1;
    case ENGINE_OP_Split:
        if (!n->params || !is(in_(n, 0), ANY_)) return 0;
        for (int k = 0; k < n->n_outputs; ++k)
            if (!n->outputs[k] || n->outputs[k]->dtype != in_(n, 0)->dtype) return 0;
        return 1;
    case ENGINE_OP_Slice: case ENGINE_OP_Transpose: case ENGINE_OP_Pad: case ENGINE_OP_DepthToSpace:
    case ENGINE_OP_SpaceToDepth: case ENGINE_OP_Trilu:
        return n->params && same01(n, ANY_);
    case ENGINE_OP_Reshape: case ENGINE_OP_Flatten: case ENGINE_OP_Squeeze: case ENGINE_OP_Unsqueeze:
    case ENGINE_OP_Identity: case ENGINE_OP_Expand: case ENGINE_OP_Tile:
        return same01(n, ANY_);
    case ENGINE_OP_Dropout:
        /* the mask: bool, or float32 before opset 10 */
        return same01(n, ANY_) && (!out_(n, 1) || is(out_(n, 1), BIT_(ENGINE_DTYPE_BOOL) | BIT_(ENGINE_DTYPE_F32)));
    case ENGINE_OP_Gather:
        return n->params && same01(n, ANY_) &&
               is(in_(n, 1), BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_I32));
    case ENGINE_OP_Shape:
        return in_(n, 0) && is(out_(n, 0), BIT_(ENGINE_DTYPE_I64));
    case ENGINE_OP_Constant:
        return is(out_(n, 0), ANY_);
    case ENGINE_OP_ConstantOfShape:
        return is(out_(n, 0), BIT_(ENGINE_DTYPE_F32) | BIT_(ENGINE_DTYPE_I64) | BIT_(ENGINE_DTYPE_I32) |
                                  BIT_(ENGINE_DTYPE_BOOL) | BIT_(ENGINE_DTYPE_F64));
    case ENGINE_OP_Cast:
        return is(in_(n, 0), ANY_) && is(out_(n, 0), ANY_);

    /* Conv, norm, pool, gemm, softmax and resize kernels are float32 only. */
    case ENGINE_OP_Conv: case ENGINE_OP_ConvTranspose: case ENGINE_OP_BatchNormalization:
    case ENGINE_OP_InstanceNormalization: case ENGINE_OP_LRN: case ENGINE_OP_Gemm: case ENGINE_OP_MatMul:
    case ENGINE_OP_Softmax: case ENGINE_OP_LogSoftmax:
        return all_f32(n) && in_(n, 0) && out_(n, 0);
    case ENGINE_OP_LayerNormalization: /* Mean and InvStdDev outputs are float32 too */
        return n->params && all_f32(n) && in_(n, 0) && out_(n, 0);
    case ENGINE_OP_GroupNormalization:
        return n->params && all_f32(n) && in_(n, 0) && out_(n, 0);
    case ENGINE_OP_Hardmax: case ENGINE_OP_LpNormalization: case ENGINE_OP_MeanVarianceNormalization:
        return n->params && same01(n, FLOATS_);
    case ENGINE_OP_GridSample:
        return n->params && all_f32(n) && in_(n, 1) && out_(n, 0);
    case ENGINE_OP_Einsum: {
        if (!n->params || !is(out_(n, 0), ARITH_)) return 0;
        for (int k = 0; k < n->n_inputs; ++k)
            if (!n->inputs[k] || n->inputs[k]->dtype != out_(n, 0)->dtype) return 0;
        return n->n_inputs >= 1;
    }
    case ENGINE_OP_QuantizeLinear:
        return n->params && is(in_(n, 0), BIT_(ENGINE_DTYPE_F32) | BIT_(ENGINE_DTYPE_I32)) && is(in_(n, 1), FLOATS_) &&
               is(out_(n, 0), BIT_(ENGINE_DTYPE_U8) | BIT_(ENGINE_DTYPE_I8)) &&
               (!in_(n, 2) || in_(n, 2)->dtype == out_(n, 0)->dtype);
    case ENGINE_OP_DequantizeLinear:
        return n->params && is(in_(n, 0), BIT_(ENGINE_DTYPE_U8) | BIT_(ENGINE_DTYPE_I8) | BIT_(ENGINE_DTYPE_I32)) &&
               is(in_(n, 1), FLOATS_) && is(out_(n, 0), FLOATS_) && (!in_(n, 2) || in_(n, 2)->dtype == in_(n, 0)->dtype);
    case ENGINE_OP_MaxPool: case ENGINE_OP_AveragePool: case ENGINE_OP_GlobalAveragePool:
    case ENGINE_OP_GlobalMaxPool:
        /* MaxPool's optional Indices output is int64 */
        return same01(n, n->op == ENGINE_OP_MaxPool ? FLOATS_ | BIT_(ENGINE_DTYPE_U8) | BIT_(ENGINE_DTYPE_I8) : FLOATS_) &&
               (!out_(n, 1) || (n->op == ENGINE_OP_MaxPool && out_(n, 1)->dtype == ENGINE_DTYPE_I64));
    case ENGINE_OP_Resize: case ENGINE_OP_Upsample:
        /* roi/scales/sizes are folded into params; only the data is read. */
        return same01(n, FLOATS_);

    case ENGINE_OP_UNKNOWN: case ENGINE_OP_COUNT_: break;
    }
    return 0;
}
