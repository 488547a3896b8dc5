/*
 * ops.h - the operator catalogue: the one list of built-in ops and the
 * parameter structs their shape functions attach to nodes.
 *
 * The list is an X-macro: ENGINE_OP_LIST(X) calls X(Name, family) once per
 * op, where Name is the ONNX op_type and family the file in ops/ (and in
 * every backend) that implements it. Add an op here, then its shape
 * function in ops/<family>.c and a kernel in backends/ref/<family>.c.
 * New ops go at the END of the list, whatever their family: engine_op
 * values are part of the backend ABI (a module built against an older
 * list must read the same number as the same op).
 *
 * Parameters are normalised by shape inference: negative axes made
 * positive, auto_pad resolved into explicit pads, attribute-or-input forms
 * (Clip's min/max, Squeeze's axes, Resize's scales) merged, defaults filled.
 * A backend reads node->params cast to the struct named for the op below.
 */
#ifndef ENGINE_OPS_H
#define ENGINE_OPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ENGINE_OP_LIST(X)                                                                           \
    X(Conv, conv)                                                                                  \
    X(ConvTranspose, conv)                                                                         \
    X(BatchNormalization, norm)                                                                    \
    X(InstanceNormalization, norm)                                                                 \
    X(LRN, norm)                                                                                   \
    X(Relu, activation)                                                                            \
    X(LeakyRelu, activation)                                                                       \
    X(PRelu, activation)                                                                           \
    X(Clip, activation)                                                                            \
    X(Sigmoid, activation)                                                                         \
    X(HardSigmoid, activation)                                                                     \
    X(HardSwish, activation)                                                                       \
    X(Tanh, activation)                                                                            \
    X(Softplus, activation)                                                                        \
    X(Elu, activation)                                                                             \
    X(Selu, activation)                                                                            \
    X(Mish, activation)                                                                            \
    X(Sqrt, activation)                                                                            \
    X(Exp, activation)                                                                             \
    X(Log, activation)                                                                             \
    X(Neg, activation)                                                                             \
    X(Abs, activation)                                                                             \
    X(Add, elementwise)                                                                            \
    X(Sub, elementwise)                                                                            \
    X(Mul, elementwise)                                                                            \
    X(Div, elementwise)                                                                            \
    X(Pow, elementwise)                                                                            \
    X(Equal, elementwise)                                                                          \
    X(Where, elementwise)                                                                          \
    X(MaxPool, pool)                                                                               \
    X(AveragePool, pool)                                                                           \
    X(GlobalAveragePool, pool)                                                                     \
    X(GlobalMaxPool, pool)                                                                         \
    X(Gemm, gemm)                                                                                  \
    X(MatMul, gemm)                                                                                \
    X(Softmax, softmax)                                                                            \
    X(LogSoftmax, softmax)                                                                         \
    X(ReduceMean, reduce)                                                                          \
    X(ReduceSum, reduce)                                                                           \
    X(ReduceMax, reduce)                                                                           \
    X(Resize, resize)                                                                              \
    X(Upsample, resize)                                                                            \
    X(Concat, tensor)                                                                              \
    X(Split, tensor)                                                                               \
    X(Slice, tensor)                                                                               \
    X(Reshape, tensor)                                                                             \
    X(Flatten, tensor)                                                                             \
    X(Transpose, tensor)                                                                           \
    X(Squeeze, tensor)                                                                             \
    X(Unsqueeze, tensor)                                                                           \
    X(Gather, tensor)                                                                              \
    X(Shape, tensor)                                                                               \
    X(Constant, tensor)                                                                            \
    X(ConstantOfShape, tensor)                                                                     \
    X(Identity, tensor)                                                                            \
    X(Dropout, tensor)                                                                             \
    X(Pad, tensor)                                                                                 \
    X(Cast, tensor)                                                                                \
    X(Expand, tensor)                                                                              \
    X(Tile, tensor)                                                                                \
    X(DepthToSpace, tensor)                                                                        \
    X(SpaceToDepth, tensor)                                                                        \
    X(NonZero, index)                                                                              \
    X(NonMaxSuppression, detect)                                                                   \
    X(TopK, index)                                                                                 \
    X(Range, index)                                                                                \
    X(GatherElements, index)                                                                       \
    X(GatherND, index)                                                                             \
    X(ScatterElements, index)                                                                      \
    X(ScatterND, index)                                                                            \
    X(RoiAlign, detect)                                                                            \
    X(Floor, activation)                                                                           \
    X(Ceil, activation)                                                                            \
    X(Round, activation)                                                                           \
    X(Sign, activation)                                                                            \
    X(Reciprocal, activation)                                                                      \
    X(Erf, activation)                                                                             \
    X(Sin, activation)                                                                             \
    X(Cos, activation)                                                                             \
    X(Softsign, activation)                                                                        \
    X(Not, activation)                                                                             \
    X(Gelu, activation)                                                                            \
    X(ThresholdedRelu, activation)                                                                 \
    X(Celu, activation)                                                                            \
    X(Shrink, activation)                                                                          \
    X(Mod, elementwise)                                                                            \
    X(Min, elementwise)                                                                            \
    X(Max, elementwise)                                                                            \
    X(Sum, elementwise)                                                                            \
    X(Mean, elementwise)                                                                           \
    X(Greater, elementwise)                                                                        \
    X(Less, elementwise)                                                                           \
    X(GreaterOrEqual, elementwise)                                                                 \
    X(LessOrEqual, elementwise)                                                                    \
    X(And, elementwise)                                                                            \
    X(Or, elementwise)                                                                             \
    X(Xor, elementwise)                                                                            \
    X(ReduceMin, reduce)                                                                           \
    X(ReduceProd, reduce)                                                                          \
    X(ReduceL1, reduce)                                                                            \
    X(ReduceL2, reduce)                                                                            \
    X(ReduceLogSumExp, reduce)                                                                     \
    X(ReduceSumSquare, reduce)                                                                     \
    X(ArgMax, reduce)                                                                              \
    X(ArgMin, reduce)                                                                              \
    X(CumSum, reduce)                                                                              \
    X(Hardmax, softmax)                                                                            \
    X(LpNormalization, norm)                                                                       \
    X(MeanVarianceNormalization, norm)                                                             \
    X(Trilu, tensor)                                                                               \
    X(LayerNormalization, norm)                                                                    \
    X(GroupNormalization, norm)                                                                    \
    X(Size, index)                                                                                 \
    X(OneHot, index)                                                                               \
    X(Einsum, gemm)                                                                                \
    X(GridSample, resize)                                                                          \
    X(QuantizeLinear, quant)                                                                       \
    X(DequantizeLinear, quant)

typedef enum engine_op {
    ENGINE_OP_UNKNOWN = 0,
#define ENGINE_OP_ENUM_(name, family) ENGINE_OP_##name,
    ENGINE_OP_LIST(ENGINE_OP_ENUM_)
#undef ENGINE_OP_ENUM_
    ENGINE_OP_COUNT_
} engine_op;

/* Spatial ops support 1 to 3 spatial dimensions (N, C, then D/H/W). */
#define ENGINE_MAX_SPATIAL 3

/* ---- fused epilogues (set by the fusion passes, docs/PASSES.md) ----
 *
 * Conv, ConvTranspose and Gemm carry an epilogue that every backend must
 * honour, applied per output element after the bias:
 *     y = act(acc + bias [+ sum])
 * `sum` (Conv and ConvTranspose only) is the residual operand: input 3, a
 * tensor of the output's shape (a fused residual Add). In the IR the
 * epilogue is written as attributes in the engine's own namespace, so a
 * dump shows it and shape inference rebuilds it:
 *     engine.activation  string: Relu, Clip, LeakyRelu, Sigmoid,
 *                        HardSigmoid, HardSwish, Silu, Mish, Tanh
 *     engine.alpha, engine.beta   floats (see engine_act)
 *     engine.sum         int 1: input 3 is the residual operand
 * A node without these attributes has ENGINE_ACT_NONE and no sum. */
typedef enum engine_act {
    ENGINE_ACT_NONE = 0,
    ENGINE_ACT_RELU,         /* max(x, 0) */
    ENGINE_ACT_CLIP,         /* min(max(x, alpha), beta): ReLU6 is alpha 0, beta 6 */
    ENGINE_ACT_LEAKY_RELU,   /* x < 0 ? alpha * x : x */
    ENGINE_ACT_SIGMOID,      /* 1 / (1 + exp(-x)) */
    ENGINE_ACT_HARD_SIGMOID, /* max(0, min(1, alpha * x + beta)) */
    ENGINE_ACT_HARD_SWISH,   /* x * max(0, min(1, x / 6 + 1/2)) */
    ENGINE_ACT_SILU,         /* x * sigmoid(x) */
    ENGINE_ACT_MISH,         /* x * tanh(softplus(x)) */
    ENGINE_ACT_TANH,
    /* appended: 0.5 x (1 + erf(x / sqrt 2)); alpha != 0 the tanh form
     * 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))). The cpu backend
     * runs Gelu nodes with it; the fusion passes do not (yet) put it into
     * an epilogue. */
    ENGINE_ACT_GELU
} engine_act;

typedef struct engine_epilogue {
    engine_act act;
    float alpha, beta;
    int sum; /* non-zero: input 3 is added before the activation */
} engine_epilogue;

/* Conv, ConvTranspose. Arrays hold `spatial` entries. For ConvTranspose,
 * pad_begin/pad_end are the pads removed from the full output (after
 * output_shape / auto_pad resolution) and output_padding is the extra size
 * added at the end. Inputs: X, W, optional B (NULL when absent). */
typedef struct engine_conv_params {
    int spatial;
    int64_t group;
    int64_t kernel[ENGINE_MAX_SPATIAL];
    int64_t stride[ENGINE_MAX_SPATIAL];
    int64_t dilation[ENGINE_MAX_SPATIAL];
    int64_t pad_begin[ENGINE_MAX_SPATIAL];
    int64_t pad_end[ENGINE_MAX_SPATIAL];
    int64_t output_padding[ENGINE_MAX_SPATIAL];
    engine_epilogue epilogue;
    /* Appended (2026-12): non-zero when the node sits in a quantized region
     * (its X comes from DequantizeLinear or its output is requantized; set
     * by the mark_exact_rounding pass as engine.exact_rounding). A backend
     * then computes it as plain dot products (GEMM or direct), never with a
     * transform such as Winograd whose rounding error is larger: at a
     * QuantizeLinear a rounding flip is a whole quantisation step, and such
     * steps grow through the layers that follow. */
    int exact_rounding;
} engine_conv_params;

/* MaxPool, AveragePool (GlobalAveragePool/GlobalMaxPool have no params:
 * they reduce every spatial dimension). Output dims already reflect
 * ceil_mode; a window that starts in the padding never exists. */
typedef struct engine_pool_params {
    int spatial;
    int64_t kernel[ENGINE_MAX_SPATIAL];
    int64_t stride[ENGINE_MAX_SPATIAL];
    int64_t dilation[ENGINE_MAX_SPATIAL];
    int64_t pad_begin[ENGINE_MAX_SPATIAL];
    int64_t pad_end[ENGINE_MAX_SPATIAL];
    int ceil_mode;
    int count_include_pad; /* AveragePool: divide by the full window */
    int storage_order;     /* MaxPool's Indices: 0 row major, 1 column major (spatial dims) */
} engine_pool_params;

/* Every elementwise unary op and BatchNormalization / InstanceNormalization /
 * LRN: scalar attributes by the op's own names.
 *   LeakyRelu: alpha            Elu: alpha             Selu: alpha, gamma
 *   HardSigmoid: alpha, beta    Clip: min, max (from attributes or constant
 *   inputs, +-INFINITY when absent)
 *   ThresholdedRelu: alpha    Celu: alpha            Shrink: alpha = lambd, bias
 *   Gelu: size = 1 for approximate "tanh", 0 for "none"
 *   BatchNormalization, InstanceNormalization: epsilon; BatchNormalization
 *     with training_mode (14+): size = 1, alpha = momentum
 *   LayerNormalization: epsilon, size = the first normalised axis
 *   GroupNormalization: epsilon, size = num_groups, alpha = 1 when scale and
 *     bias are per channel (opset 21), 0 when per group (opset 18)
 *   LRN: alpha, beta, bias, size */
typedef struct engine_scalar_params {
    float alpha, beta, gamma;
    float min, max;
    float epsilon;
    float bias;
    int64_t size;
} engine_scalar_params;

/* Gemm: Y = alpha * op(A) * op(B) + beta * C (C optional, unidirectionally
 * broadcast to Y's shape). MatMul has no params (numpy matmul semantics,
 * shapes already checked).
 *
 * m, k, n are op(A)'s rows, the inner dimension and op(B)'s columns, as
 * shape inference resolved them. Backends take A's shape from here, not
 * from A's dims: after the Flatten + Gemm fusion (engine.flatten_axis = a,
 * passes/fuse_flatten_gemm.c) A is the Flatten's rank-r input, read as the
 * C-order bytes of a [prod(dims[0:a]), prod(dims[a:r])] matrix (trans_a is
 * then 0). Without the attribute A has rank 2 and m, k follow trans_a. */
typedef struct engine_gemm_params {
    float alpha, beta;
    int trans_a, trans_b;
    engine_epilogue epilogue; /* activation only: Gemm has no sum operand */
    int64_t m, k, n;
    int flatten_axis;         /* -1: A is 2-D as given; else as above */
} engine_gemm_params;

/* Einsum: the equation resolved against the input shapes. Every letter,
 * and every dim the ellipsis stands for, is a label 0..n_labels-1 of extent
 * label_dim[label] (a dim of 1 in an input broadcasts, as numpy's einsum
 * does). Axis d of input k is label in_label[k][d]; a label twice in one
 * input walks that input's diagonal. Output axis d is label out_label[d];
 * the labels missing from the output are summed over. The shape function
 * refuses more than ENGINE_EINSUM_MAX_INPUTS inputs. */
#define ENGINE_EINSUM_MAX_INPUTS 16
#define ENGINE_EINSUM_MAX_LABELS 64
typedef struct engine_einsum_params {
    int n_inputs, n_labels, out_rank;
    int64_t label_dim[ENGINE_EINSUM_MAX_LABELS];
    signed char out_label[8];
    signed char in_label[ENGINE_EINSUM_MAX_INPUTS][8];
} engine_einsum_params;

/* Element strides of Einsum input k (rank and dims as stored) per label:
 * st[label] sums the C-order strides of the input's axes with that label
 * (a diagonal), 0 for a label the input lacks or holds as a broadcast 1. */
static inline void engine_einsum_strides(const engine_einsum_params *p, int k, int rank, const int64_t *dims,
                                         int64_t *st) {
    for (int l = 0; l < p->n_labels; ++l) st[l] = 0;
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; --d) {
        int l = p->in_label[k][d];
        if (dims[d] != 1 || p->label_dim[l] == 1) st[l] += s;
        s *= dims[d];
    }
}

/* A two-operand Einsum's label roles: has[k][label] = 1 where input k
 * (rank[k], dims[k]) holds the label, has[2][label] where the output does;
 * st[k] as engine_einsum_strides for k = 0, 1. */
static inline void engine_einsum_pair(const engine_einsum_params *p, const int *rank, const int64_t *const *dims,
                                      int64_t (*st)[ENGINE_EINSUM_MAX_LABELS], int (*has)[ENGINE_EINSUM_MAX_LABELS]) {
    for (int k = 0; k < 3; ++k)
        for (int l = 0; l < ENGINE_EINSUM_MAX_LABELS; ++l) has[k][l] = 0;
    for (int k = 0; k < 2; ++k) {
        engine_einsum_strides(p, k, rank[k], dims[k], st[k]);
        for (int d = 0; d < rank[k]; ++d) has[k][p->in_label[k][d]] = 1;
    }
    for (int d = 0; d < p->out_rank; ++d) has[2][p->out_label[d]] = 1;
}

/* Softmax, LogSoftmax, Hardmax. legacy != 0 (opset < 13): the input is seen as 2-D
 * [prod(dims[0:axis]), prod(dims[axis:])] and normalised along the second
 * dimension; otherwise along `axis` only. axis is already non-negative. */
typedef struct engine_softmax_params {
    int axis;
    int legacy;
} engine_softmax_params;

/* ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
 * ReduceL2, ReduceLogSumExp, ReduceSumSquare (and MeanVarianceNormalization,
 * whose statistics run over axes_mask): axes as a bit mask over the
 * input's dimensions (after noop_with_empty_axes and the input form of
 * axes). An empty reduction gives the op's identity: 0 (Sum, L1, L2,
 * SumSquare), 1 (Prod), -inf (LogSumExp, Max), +inf (Min), NaN (Mean). */
typedef struct engine_reduce_params {
    uint32_t axes_mask;
    int keepdims;
} engine_reduce_params;

/* LpNormalization: axis (non-negative), p (1 or 2): y = x / ||x||_p along
 * axis. CumSum: axis (from the constant input 1), exclusive, reverse.
 * Trilu: upper (1: keep j - i >= k; 0: keep j - i <= k over the last two
 * dims), k (from the optional constant input 1, default 0). */
typedef struct engine_scan_params {
    int axis;
    int p;
    int exclusive, reverse;
    int upper;
    int64_t k;
} engine_scan_params;

/* ArgMax, ArgMin: the index (int64) of the first extreme along `axis`
 * (non-negative), or of the last with select_last_index (opset 12). A NaN
 * counts as the extreme (numpy's argmax/argmin). */
typedef struct engine_arg_params {
    int axis;
    int keepdims;
    int select_last;
} engine_arg_params;

typedef enum engine_resize_mode {
    ENGINE_RESIZE_NEAREST = 0,
    ENGINE_RESIZE_LINEAR = 1, /* n-linear over the dimensions that are resized */
    ENGINE_RESIZE_CUBIC = 2
} engine_resize_mode;

typedef enum engine_resize_coord {
    ENGINE_COORD_HALF_PIXEL = 0,
    ENGINE_COORD_PYTORCH_HALF_PIXEL = 1,
    ENGINE_COORD_ALIGN_CORNERS = 2,
    ENGINE_COORD_ASYMMETRIC = 3,
    ENGINE_COORD_TF_CROP_AND_RESIZE = 4, /* roi_start/roi_end, extrapolation_value outside */
    ENGINE_COORD_HALF_PIXEL_SYMMETRIC = 5,
    ENGINE_COORD_TF_HALF_PIXEL_FOR_NN = 6 /* Resize-11 only: (x + 0.5) / scale */
} engine_resize_coord;

typedef enum engine_resize_nearest {
    ENGINE_NEAREST_ROUND_PREFER_FLOOR = 0,
    ENGINE_NEAREST_ROUND_PREFER_CEIL = 1,
    ENGINE_NEAREST_FLOOR = 2,
    ENGINE_NEAREST_CEIL = 3
} engine_resize_nearest;

/* Resize, Upsample: the scale per dimension (output/input as ONNX defines
 * it: from `scales`, or output_size / input_size when `sizes` was given) and
 * the modes. Upsample maps to nearest/linear with asymmetric coordinates. */
typedef struct engine_resize_params {
    engine_resize_mode mode;
    engine_resize_coord coord;
    engine_resize_nearest nearest;
    float cubic_coeff_a;
    int exclude_outside;
    float extrapolation_value;
    float scales[8];
    /* appended: antialias (opset 18; linear/cubic downscaling widen the
     * filter by 1/scale) and, for tf_crop_and_resize, the region of
     * interest per dimension in normalised coordinates (default 0 and 1) */
    int antialias;
    float roi_start[8];
    float roi_end[8];
} engine_resize_params;

/* GridSample: input X [N, C, D1..Dn] sampled at grid [N, O1..On, n]
 * (coordinates in [-1, 1], the last one for the innermost dim: x, y, z).
 * mode: linear (n-linear), nearest (round half to even) or cubic (2-D
 * only; a = -0.75). padding: 0 zeros, 1 border, 2 reflection. As
 * torch.nn.functional.grid_sample: a coordinate that is not finite (NaN,
 * +-inf) or beyond int range after the padding rule reads as outside the
 * input (a zero), for cubic before its taps. spatial: n (2 or 3). */
typedef struct engine_gridsample_params {
    engine_resize_mode mode;
    int padding;
    int align_corners;
    int spatial;
} engine_gridsample_params;

/* QuantizeLinear: y = saturate(round_half_even(x / scale) + zero_point),
 * the division in float32 (as ONNX's reference). DequantizeLinear:
 * y = (x - zero_point) * scale in float32. axis: -1 per tensor (one scale),
 * else the (normalised) axis the scales run along: per axis (block_size 0,
 * scale 1-D of x's extent there) or in blocks of block_size elements
 * (scale of x's rank, ceil(extent / block_size) there). zero_point (input
 * 2) is optional: 0. Quantized dtypes: uint8, int8 (and int32 input of
 * DequantizeLinear). A NaN quantizes to the zero point. */
typedef struct engine_quant_params {
    int axis;
    int64_t block_size;
} engine_quant_params;

/* Concat, Split, Flatten, Gather, DepthToSpace/SpaceToDepth, Shape.
 *   Concat, Split, Gather, Flatten: axis (non-negative)
 *   Split: n_outputs sizes in `sizes`, along axis
 *   DepthToSpace, SpaceToDepth: blocksize, crd (1 for DepthToSpace mode CRD)
 *   Shape: start, end (opset 15 slice of the shape, already clamped) */
/* TopK: axis (normalised), k (from input 1, or the attribute before
 * opset 10), largest, sorted. Ties keep the lower index first. */
typedef struct engine_topk_params {
    int axis;
    int largest;
    int sorted;
    int64_t k;
} engine_topk_params;

/* OneHot: axis (normalised into the output's rank), depth.
 * GatherElements, ScatterElements: axis (normalised). GatherND:
 * batch_dims. ScatterElements, ScatterND: reduction (0 none, 1 add, 2 mul,
 * 3 max, 4 min). Indices read at run time are checked by the kernels. */
typedef struct engine_index_params {
    int axis;
    int batch_dims;
    int reduction;
    int64_t depth;
} engine_index_params;

/* RoiAlign: mode (0 avg, 1 max), output size, sampling_ratio (0:
 * adaptive), spatial_scale, half_pixel (coordinate_transformation_mode,
 * from opset 16; opset 10 is output_half_pixel). */
typedef struct engine_roialign_params {
    int max_mode;
    int half_pixel;
    int64_t out_h, out_w;
    int64_t sampling_ratio;
    float spatial_scale;
} engine_roialign_params;

/* NonMaxSuppression: center_point_box. Its other inputs
 * (max_output_boxes_per_class, iou_threshold, score_threshold) are data,
 * read when it runs. */
typedef struct engine_nms_params {
    int center_point_box;
} engine_nms_params;

/* Ops whose output shape depends on input values (NonZero,
 * NonMaxSuppression): shape inference gives the data-dependent axis as -1;
 * such a node is never handed to a backend. libengine runs it on the host
 * between the stages of a run (docs/ARCHITECTURE.md, "Sync points"). */
static inline int engine_op_data_dependent(engine_op op) {
    return op == ENGINE_OP_NonZero || op == ENGINE_OP_NonMaxSuppression;
}

typedef struct engine_axis_params {
    int axis;
    int64_t blocksize;
    int crd;
    int64_t start, end;
    int n_sizes;
    int64_t *sizes; /* Split: owned by the graph */
} engine_axis_params;

/* Slice: per dimension of the input (full rank, defaults filled): the
 * first index, the step, and the output length (already in the output's
 * dims). Element k of output dim d reads input index start[d] + k*step[d]. */
typedef struct engine_slice_params {
    int64_t start[8];
    int64_t step[8];
} engine_slice_params;

typedef enum engine_pad_mode {
    ENGINE_PAD_CONSTANT = 0,
    ENGINE_PAD_REFLECT = 1,
    ENGINE_PAD_EDGE = 2,
    ENGINE_PAD_WRAP = 3 /* opset 19: the input repeats (a torus) */
} engine_pad_mode;

/* Pad: pads_begin/pads_end per input dimension (may be negative: crops),
 * the constant value for mode constant. */
typedef struct engine_pad_params {
    engine_pad_mode mode;
    int64_t pad_begin[8];
    int64_t pad_end[8];
    double value;
} engine_pad_params;

/* Transpose: out dim d is input dim perm[d]. */
typedef struct engine_transpose_params {
    int perm[8];
} engine_transpose_params;

/* Cast: the target type (also the output's dtype). ConstantOfShape: the
 * fill value in `value` (as double; the output dtype says how to store it).
 * Reshape, Squeeze, Unsqueeze, Flatten, Identity, Dropout (but in
 * training_mode, below), Expand, Tile, Where, Equal, the comparisons, the logical ops, Mod (its fmod in `to`,
 * see below) and the variadic Min/Max/Sum/Mean need no params: the output shape (numpy
 * broadcasting for Expand and the binary ops, repeats already applied for
 * Tile) is in the output value. */
/* Mod: `to` holds the fmod attribute (1: C fmod, the sign of the dividend;
 * 0: integer modulo with the sign of the divisor, as Python's %). */
typedef struct engine_cast_params {
    int to;
    double value;
} engine_cast_params;

/* Dropout with training_mode true (opset 12+): elements are dropped where
 * a uniform [0, 1) draw is below `ratio`, the rest scaled by
 * 1 / (1 - ratio). The draws are MT19937's, seeded as numpy's
 * np.random.seed(seed) and read as its random_sample (ONNX's reference
 * draws so), afresh every run: with a `seed` attribute every run drops the
 * same elements; without one (has_seed 0) each run takes a new seed.
 * Dropout outside training has no params (a copy). */
typedef struct engine_dropout_params {
    float ratio;
    int has_seed;
    int64_t seed;
} engine_dropout_params;

/* numpy's legacy MT19937 (np.random.seed of a 32-bit integer, then
 * random_sample): the n draws in [0, 1) into u. Header-only: every backend
 * that drops on its own draws the same. */
static inline void engine_mt19937_uniform(uint32_t seed, double *u, int64_t n) {
    uint32_t mt[624];
    mt[0] = seed;
    for (int i = 1; i < 624; ++i) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint32_t)i;
    int at = 624;
    for (int64_t k = 0; k < n; ++k) {
        uint32_t w[2];
        for (int h = 0; h < 2; ++h) {
            if (at == 624) {
                for (int i = 0; i < 624; ++i) {
                    uint32_t y = (mt[i] & 0x80000000u) | (mt[(i + 1) % 624] & 0x7fffffffu);
                    mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
                }
                at = 0;
            }
            uint32_t y = mt[at++];
            y ^= y >> 11;
            y ^= (y << 7) & 0x9d2c5680u;
            y ^= (y << 15) & 0xefc60000u;
            y ^= y >> 18;
            w[h] = y;
        }
        u[k] = ((double)(w[0] >> 5) * 67108864.0 + (double)(w[1] >> 6)) / 9007199254740992.0;
    }
}

/* The activation of an epilogue applied to one value, in double (the
 * reference computes in double; SIMD and OpenCL backends write their own
 * vector forms of the same formulas). */
static inline double engine_act_apply(const engine_epilogue *e, double x) {
    switch (e->act) {
    case ENGINE_ACT_NONE: return x;
    case ENGINE_ACT_RELU: return x > 0.0 ? x : 0.0;
    case ENGINE_ACT_CLIP: return x < (double)e->alpha ? (double)e->alpha : x > (double)e->beta ? (double)e->beta : x;
    case ENGINE_ACT_LEAKY_RELU: return x < 0.0 ? (double)e->alpha * x : x;
    case ENGINE_ACT_SIGMOID: return 1.0 / (1.0 + __builtin_exp(-x));
    case ENGINE_ACT_HARD_SIGMOID: {
        double t = (double)e->alpha * x + (double)e->beta;
        return t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    }
    case ENGINE_ACT_HARD_SWISH: {
        double t = x / 6.0 + 0.5;
        return x * (t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t);
    }
    case ENGINE_ACT_SILU: return x / (1.0 + __builtin_exp(-x));
    case ENGINE_ACT_MISH: {
        /* softplus without overflow: log1p(exp(-|x|)) + max(x, 0) */
        double sp = __builtin_log1p(__builtin_exp(-__builtin_fabs(x))) + (x > 0.0 ? x : 0.0);
        return x * __builtin_tanh(sp);
    }
    case ENGINE_ACT_TANH: return __builtin_tanh(x);
    case ENGINE_ACT_GELU:
        if (e->alpha != 0.0f)
            return 0.5 * x * (1.0 + __builtin_tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1.0 + __builtin_erf(x * 0.7071067811865476));
    }
    return x;
}

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_OPS_H */
