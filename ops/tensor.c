/* ops/tensor.c - shape inference for the tensor family (placeholder until written). */
#include "ops_internal.h"

engine_status eng_infer_Concat(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Split(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Slice(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Reshape(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Flatten(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Transpose(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Squeeze(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Unsqueeze(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Gather(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Shape(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Constant(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_ConstantOfShape(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Identity(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Dropout(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Pad(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Cast(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Expand(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_Tile(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_DepthToSpace(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

engine_status eng_infer_SpaceToDepth(eng_graph *g, engine_node *n) {
    ENG_UNUSED(g);
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "shape inference not implemented");
}

