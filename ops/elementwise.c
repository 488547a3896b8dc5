/* ops/elementwise.c - shape inference for the elementwise family (placeholder until written). */
#include "ops_internal.h"

engine_status eng_infer_Add(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Sub(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Mul(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Div(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Pow(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Equal(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Where(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

