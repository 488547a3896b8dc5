/* ops/softmax.c - shape inference for the softmax family (placeholder until written). */
#include "ops_internal.h"

engine_status eng_infer_Softmax(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_LogSoftmax(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

