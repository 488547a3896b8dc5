/* fuse_flatten_gemm.c - Flatten (or a Reshape to 2-D) feeding Gemm's A
 * becomes one fully connected node: the Gemm reads the Flatten's input
 * directly, with engine.flatten_axis = a, and shape inference gives it the
 * 2-D view [prod(dims[0:a]), prod(dims[a:])] in its params (m, k, n; ops.h).
 * A Flatten and a Reshape never change the bytes (C order), so the fused
 * Gemm reads exactly what it read before; every backend takes A's shape
 * from the params.
 *
 * Matches when the Gemm has transA = 0 and no engine.flatten_axis yet, its
 * A is the only output of a Flatten or Reshape that the Gemm alone reads
 * (once) and that is not a graph output, the source is float32 with a
 * static shape, and some axis a splits the source's dims into A's rows and
 * columns (for Flatten that is its own axis; a Reshape [N, -1] after a
 * pooled [N, C, 1, 1] gives a = 1). The Flatten/Reshape is removed. */
#include "ops_internal.h"
#include "passes.h"

/* The axis that splits x's dims into a's [rows, cols], or -1. Leading
 * 1s make several axes valid ([1,512,1,1] -> [1,512]: 0 and 1); the
 * largest is taken, which is what Flatten(axis=1) says. */
static int split_axis(const engine_value *x, const engine_value *a) {
    if (a->rank != 2 || x->rank < 0) return -1;
    int64_t rows = 1;
    int found = -1;
    for (int d = 0; d <= x->rank; ++d) {
        if (rows == a->dims[0]) {
            int64_t cols = 1;
            for (int e = d; e < x->rank; ++e) cols *= x->dims[e];
            if (cols == a->dims[1]) found = d;
        }
        if (d < x->rank) {
            if (x->dims[d] <= 0 || rows > a->dims[0]) break;
            rows *= x->dims[d];
        }
    }
    return found;
}

engine_status eng_pass_fuse_flatten_gemm(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes;) {
        engine_node *gemm = g->nodes[k++];
        if (gemm->op != ENGINE_OP_Gemm || !gemm->params || gemm->n_inputs < 2 || !gemm->inputs[0]) continue;
        const engine_gemm_params *p = gemm->params;
        if (p->trans_a || p->flatten_axis >= 0) continue;
        engine_value *a = gemm->inputs[0];
        engine_node *f = a->producer;
        if (!f || (f->op != ENGINE_OP_Flatten && f->op != ENGINE_OP_Reshape) || f->n_outputs != 1 ||
            f->outputs[0] != a || !f->inputs[0])
            continue;
        engine_value *x = f->inputs[0];
        if (x->dtype != ENGINE_DTYPE_F32 || a->dtype != ENGINE_DTYPE_F32 || (a->flags & ENGINE_VALUE_GRAPH_OUTPUT) ||
            !eng_pass_private(g, a, 1))
            continue;
        int axis = split_axis(x, a);
        if (axis < 0) continue;
        engine_status st = eng_pass_set_int(g, gemm, "engine.flatten_axis", axis);
        if (st) return st;
        gemm->inputs[0] = x;
        if ((st = eng_infer_node(g, gemm))) return st;
        /* The Flatten came before the Gemm: removing it shifts the Gemm (and
         * everything after) down by one. */
        eng_graph_remove_node(g, f);
        k--;
        (*changed)++;
    }
    return ENGINE_OK;
}
