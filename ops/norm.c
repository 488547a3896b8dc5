/* ops/norm.c - shape inference for the norm family (placeholder until written). */
#include "ops_internal.h"

engine_status eng_infer_BatchNormalization(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_InstanceNormalization(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_LRN(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

