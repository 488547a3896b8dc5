/* mark_exact_rounding.c - convolutions of quantized regions computed as
 * plain dot products.
 *
 * A quantized model as ONNX writes it (torchvision's, or any QDQ export)
 * runs DequantizeLinear -> Conv -> QuantizeLinear. The engine computes the
 * Conv in float32, as ONNX defines it; the QuantizeLinear after it then
 * rounds to integers, so a float error that moves a value across a
 * rounding boundary changes it by a whole quantisation step, and the
 * layers after it carry and grow that step. A plain dot product (GEMM,
 * direct) errs by a few float32 ulps and almost never crosses a boundary
 * that an exact computation would not; Winograd's transforms err by more
 * (the cpu backend's F(4x4, 3x3) up to ~1e-5 relative), and on a
 * quantized ResNet-50 with random weights that alone moved 649 of the
 * 1000 logits by up to 4 steps and changed the top class, while the GEMM
 * path gives ONNX Runtime's integers exactly.
 *
 * So every Conv and ConvTranspose whose X is a DequantizeLinear output, or
 * whose output a QuantizeLinear reads (after fusion: the activation and
 * residual are in its epilogue), gets engine.exact_rounding = 1, which the
 * shape function puts into engine_conv_params.exact_rounding; backends
 * leave Winograd out for such nodes. *changed counts the nodes marked. */
#include "ops_internal.h"
#include "passes.h"

static int is_conv(const engine_node *n) {
    return n && (n->op == ENGINE_OP_Conv || n->op == ENGINE_OP_ConvTranspose);
}

static engine_status mark(eng_graph *g, engine_node *n, int *changed) {
    const engine_conv_params *p = n->params;
    if (!p || p->exact_rounding) return ENGINE_OK;
    engine_status st = eng_pass_set_int(g, n, "engine.exact_rounding", 1);
    if (!st) st = eng_infer_node(g, n);
    if (!st) ++*changed;
    return st;
}

engine_status eng_pass_mark_exact_rounding(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        engine_status st = ENGINE_OK;
        if (is_conv(n) && n->n_inputs > 0 && n->inputs[0] && n->inputs[0]->producer &&
            n->inputs[0]->producer->op == ENGINE_OP_DequantizeLinear)
            st = mark(g, n, changed);
        else if (n->op == ENGINE_OP_QuantizeLinear && n->n_inputs > 0 && n->inputs[0] &&
                 is_conv(n->inputs[0]->producer))
            st = mark(g, n->inputs[0]->producer, changed);
        if (st) return st;
    }
    return ENGINE_OK;
}
