/*
 * passes.h - graph rewrites run by engine_model_optimize (docs/PASSES.md).
 *
 * A pass reads and rewrites the IR and nothing else. It runs on a graph
 * that is sorted and shape-inferred (every value has a static shape, every
 * built-in node its params), and leaves it so: rewired nodes keep their
 * topological order, new constants get shapes. Values and nodes a pass
 * orphans are left for eng_graph_remove_dead. *changed (never NULL) is set
 * to the number of rewrites the pass made.
 */
#ifndef ENGINE_PASSES_H
#define ENGINE_PASSES_H

#include "graph.h"

/* Before/after node counts of one pass, for the model dump. */
typedef struct eng_pass_stat {
    const char *name; /* static string */
    int before, after;
    int changed;      /* the pass's own count of rewrites (*changed) */
} eng_pass_stat;

#define ENG_MAX_PASS_STATS 24

/* Drops nodes that copy their input: Identity, inference Dropout (mask
 * unused), Reshape/Flatten/Squeeze/Unsqueeze to the same shape, Cast to the
 * same dtype, Pad with all-zero pads, Concat of one input (passes/noop.c). */
engine_status eng_pass_noop(eng_graph *g, int *changed);

/* Folds a BatchNormalization into the Conv, ConvTranspose or Gemm that
 * alone feeds it, when their weights are constant (passes/fold_batchnorm.c). */
engine_status eng_pass_fold_batchnorm(eng_graph *g, int *changed);

/* Folds a BatchNormalization into the Conv that alone reads it, when that
 * Conv has no padding (then exact): weights scaled per input channel, the
 * shift summed into the bias (passes/fold_bn_next.c). */
engine_status eng_pass_fold_bn_next(eng_graph *g, int *changed);

/* Turns a BatchNormalization left after fold_batchnorm (no foldable
 * producer; rank 3 to 5) into the equivalent depthwise 1x1 Conv
 * (group C, weight s, bias beta - mean * s), so that activations and
 * residuals fuse into it and every backend runs it
 * (passes/batchnorm_to_conv.c). */
engine_status eng_pass_batchnorm_to_conv(eng_graph *g, int *changed);

/* Merges Add(ConvA(x), ConvB(x)) over the same x into one Conv when both
 * kernels fit one window (RepVGG: 3x3 + 1x1 + identity), summing weights
 * and biases (passes/merge_branches.c). */
engine_status eng_pass_merge_branches(eng_graph *g, int *changed);

/* Folds a constant-zero spatial Pad into the pads of the Conv, or of the
 * AveragePool (count_include_pad) / MaxPool (-inf pad) that reads it
 * (passes/fold_pad.c). */
engine_status eng_pass_fold_pad(eng_graph *g, int *changed);

/* Fuses Add(Conv(..), T) of equal shapes into the Conv's residual operand
 * (engine.sum, T as input 3) (passes/fuse_residual.c). */
engine_status eng_pass_fuse_residual(eng_graph *g, int *changed);

/* Fuses the activation that alone reads a Conv/ConvTranspose/Gemm output
 * into its epilogue: Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid,
 * HardSwish, Tanh, Mish, and the x*Sigmoid(x), x*HardSigmoid(x) and
 * x*Tanh(Softplus(x)) forms (passes/fuse_activation.c). */
engine_status eng_pass_fuse_activation(eng_graph *g, int *changed);

/* Concat elimination: marks the inputs of a Concat whose dims before the
 * axis are all 1 (and DenseNet's nested-prefix Concat outputs) as stored in
 * their slice of its output (engine_value.alias_of, the contract in ir.h),
 * then drops any alias that would make a node read bytes it writes. Clears
 * every alias first. *changed: the number of aliased values. Nodes do not
 * change (passes/concat_alias.c). */
/* Flatten/Reshape-to-2-D -> Gemm becomes one Gemm with engine.flatten_axis
 * (passes/fuse_flatten_gemm.c). */
engine_status eng_pass_fuse_flatten_gemm(eng_graph *g, int *changed);

/* MatMul(A [..., K], W [K, N] constant) + Add(bias [N] constant) becomes
 * one Gemm with engine.flatten_axis and C = bias, then a Reshape back when
 * A has rank above 2 (passes/fuse_matmul_bias.c). */
engine_status eng_pass_fuse_matmul_bias(eng_graph *g, int *changed);
/* Mul(Transpose((Reshape of) Gemm), per-channel constant) folded into the
 * Gemm's B and C: ConvNeXt's layer scale (passes/fold_layer_scale.c). */
engine_status eng_pass_fold_layer_scale(eng_graph *g, int *changed);

/* The exact GELU written out, x * 0.5 * (1 + Erf(x / sqrt 2)) in the orders
 * exporters use, becomes one Gelu node (passes/fuse_gelu.c). */
engine_status eng_pass_fuse_gelu(eng_graph *g, int *changed);

/* Layer normalisation written out (ReduceMean, Sub, Pow, ReduceMean, Add,
 * Sqrt, Div, then Mul(gamma), Add(beta)) becomes one LayerNormalization
 * (passes/fuse_layernorm.c). */
engine_status eng_pass_fuse_layernorm(eng_graph *g, int *changed);

/* Sets engine.exact_rounding on every Conv / ConvTranspose whose X comes
 * from DequantizeLinear or whose output a QuantizeLinear reads: backends
 * then compute it without Winograd (passes/mark_exact_rounding.c). */
engine_status eng_pass_mark_exact_rounding(eng_graph *g, int *changed);

engine_status eng_pass_concat_alias(eng_graph *g, int *changed);
/* The number of Concats whose inputs all sit at their destination slices
 * when every alias is honoured (they copy nothing), for the dump. */
int eng_pass_concat_copy_free(const eng_graph *g);

/* ---- helpers for the passes (passes/pass_util.c) ---- */

/* v is a float32 constant with data. */
int eng_pass_const_f32(const engine_value *v);
/* The number of input slots that read v (graph-output use not counted);
 * the first max readers go to out (a node reading v twice is listed twice). */
int eng_pass_readers(const eng_graph *g, const engine_value *v, engine_node **out, int max);
/* v is an activation produced by a node, not a graph input/output, and
 * read by exactly `uses` input slots: a pass may make it disappear. */
int eng_pass_private(const eng_graph *g, const engine_value *v, int uses);
int eng_pass_same_shape(const engine_value *a, const engine_value *b);
/* The fused epilogue in n's params (Conv, ConvTranspose, Gemm), else NULL. */
const engine_epilogue *eng_pass_epilogue(const engine_node *n);
/* Set (replace or add) an attribute. */
engine_status eng_pass_set_int(eng_graph *g, engine_node *n, const char *name, int64_t v);
engine_status eng_pass_set_float(eng_graph *g, engine_node *n, const char *name, float v);
engine_status eng_pass_set_string(eng_graph *g, engine_node *n, const char *name, const char *v);
engine_status eng_pass_set_ints(eng_graph *g, engine_node *n, const char *name, int count, const int64_t *v);
/* Writes e as the engine.* attributes of n (engine.sum only when set). */
engine_status eng_pass_set_epilogue(eng_graph *g, engine_node *n, const engine_epilogue *e);
/* Grows n's input slots to count (new slots NULL, the omitted-input form). */
engine_status eng_pass_set_inputs(eng_graph *g, engine_node *n, int count);
/* p takes over output 0 of `last` (the end of a pattern that p absorbs):
 * p's old output 0 is orphaned, `last` loses its output (the caller removes
 * it), and p's shape function runs again so its params see new attributes. */
engine_status eng_pass_take_output(eng_graph *g, engine_node *p, engine_node *last);
/* A fresh float32 constant owning data (eng_alloc'd; freed on failure). */
engine_status eng_pass_new_const(eng_graph *g, int rank, const int64_t *dims, float *data, engine_value **out);
/* A new node at position `at` of the topological order. */
engine_status eng_pass_insert_node(eng_graph *g, int at, const char *name, const char *op_type, int n_inputs,
                                   int n_outputs, engine_node **out);

/* Runs every default pass in order, then eng_graph_remove_dead, recording
 * the node counts of each step in stats (up to max entries; *n_stats
 * entries written). */
engine_status eng_passes_run(eng_graph *g, eng_pass_stat *stats, int max, int *n_stats);

#endif /* ENGINE_PASSES_H */
