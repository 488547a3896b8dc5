/* ops/registry.c - op lookup by name and dispatch to shape functions. */
#include <string.h>

#include "ops_util.h"

typedef struct op_entry {
    const char *name;
    eng_infer_fn infer;
} op_entry;

static const op_entry op_table[ENGINE_OP_COUNT_] = {
    [ENGINE_OP_UNKNOWN] = {"<unknown>", NULL},
#define ENTRY_(name, family) [ENGINE_OP_##name] = {#name, eng_infer_##name},
    ENGINE_OP_LIST(ENTRY_)
#undef ENTRY_
};

engine_op eng_op_lookup(const char *domain, const char *op_type) {
    if (!op_type) return ENGINE_OP_UNKNOWN;
    if (domain && domain[0] && strcmp(domain, "ai.onnx") != 0) return ENGINE_OP_UNKNOWN;
    for (int k = 1; k < ENGINE_OP_COUNT_; ++k)
        if (strcmp(op_table[k].name, op_type) == 0) return (engine_op)k;
    return ENGINE_OP_UNKNOWN;
}

const char *eng_op_name(engine_op op) {
    if ((int)op <= 0 || op >= ENGINE_OP_COUNT_) return "<unknown>";
    return op_table[op].name;
}

/* The first opset of the default domain that defines each op (ONNX's
 * Operators.md); ops not listed here exist from opset 1. The shape
 * functions read each later version's attributes and inputs themselves. */
static int op_since(engine_op op) {
    switch (op) {
    case ENGINE_OP_Sin: case ENGINE_OP_Cos: return 7;
    case ENGINE_OP_Expand: return 8;
    case ENGINE_OP_Where: case ENGINE_OP_ConstantOfShape: case ENGINE_OP_Sign: case ENGINE_OP_Erf:
    case ENGINE_OP_Shrink: case ENGINE_OP_MeanVarianceNormalization:
        return 9;
    case ENGINE_OP_Resize: case ENGINE_OP_ThresholdedRelu: case ENGINE_OP_Mod: case ENGINE_OP_QuantizeLinear:
    case ENGINE_OP_DequantizeLinear:
        return 10;
    case ENGINE_OP_Round: case ENGINE_OP_CumSum: return 11;
    case ENGINE_OP_Celu: case ENGINE_OP_GreaterOrEqual: case ENGINE_OP_LessOrEqual: case ENGINE_OP_Einsum: return 12;
    case ENGINE_OP_HardSwish: case ENGINE_OP_Trilu: return 14;
    case ENGINE_OP_GridSample: return 16;
    case ENGINE_OP_Mish: return 18;
    case ENGINE_OP_Gelu: return 20;
    default: return 1;
    }
}

engine_status eng_infer_node(eng_graph *g, engine_node *n) {
    if (n->op == ENGINE_OP_UNKNOWN) return eng_plugin_infer_node(g, n); /* plugin.c */
    if (n->op <= ENGINE_OP_UNKNOWN || n->op >= ENGINE_OP_COUNT_ || !op_table[n->op].infer)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "op '%s'%s%s is not supported", n->op_type,
                              n->domain[0] ? " of domain " : "", n->domain);
    int opset = eng_opset(g, n), since = op_since(n->op);
    if (opset < since)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "%s is not defined in opset %d (it exists from opset %d)",
                              op_table[n->op].name, opset, since);
    return op_table[n->op].infer(g, n);
}
