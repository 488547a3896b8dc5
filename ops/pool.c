/* ops/pool.c - shape inference for the pool family (placeholder until written). */
#include "ops_internal.h"

engine_status eng_infer_MaxPool(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_AveragePool(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_GlobalAveragePool(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_GlobalMaxPool(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

