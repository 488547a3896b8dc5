/* fuse_matmul_bias.c - a linear layer as exporters write it for inputs of
 * any rank, MatMul(A [..., K], W [K, N]) followed by Add(bias [N]), becomes
 * one Gemm (engine.flatten_axis = rank(A) - 1, C = the bias: [N] or
 * [1, N]), so the bias
 * is added by the GEMM's store instead of a pass over the output. PyTorch
 * exports nn.Linear on a 3-D or 4-D input (transformers' tokens,
 * ConvNeXt's channels-last blocks) so.
 *
 * The Gemm's output is 2-D [prod(A's leading dims), N]; when A has rank
 * above 2 a Reshape back to the Add's shape follows (a view on the cpu
 * backend). Matched when W and the bias are float32 constants, the bias
 * has N elements along the last axis, the MatMul's output is read by that Add alone (and is
 * no graph output), and the Add's output has the MatMul's shape.
 */
#include <string.h>

#include "ops_internal.h"
#include "passes.h"

/* The Add's other operand, when it is a float32 constant bias of n
 * elements along the last axis only; else NULL. */
static engine_value *bias_operand(const engine_node *add, const engine_value *t, int64_t n) {
    if (add->n_inputs != 2 || add->n_outputs != 1 || !add->outputs[0]) return NULL;
    engine_value *b = add->inputs[0] == t ? add->inputs[1] : add->inputs[1] == t ? add->inputs[0] : NULL;
    /* [N] or [1, N]: what Gemm's C takes */
    if (!b || b == t || !eng_pass_const_f32(b) || engine_value_numel(b) != n || b->rank < 1 || b->rank > 2) return NULL;
    if (b->dims[b->rank - 1] != n) return NULL;
    return b;
}

/* A fresh int64 constant holding vals (the Reshape's shape). */
static engine_status new_shape_const(eng_graph *g, int count, const int64_t *vals, engine_value **out) {
    int64_t *d = eng_alloc(g->ctx, (size_t)count * sizeof *d + 1);
    if (!d) return ENGINE_ERR_OUT_OF_MEMORY;
    memcpy(d, vals, (size_t)count * sizeof *d);
    engine_value *v;
    int64_t len = count;
    engine_status st = eng_graph_add_value(g, NULL, &v);
    if (!st) st = eng_value_set_shape(g, v, ENGINE_DTYPE_I64, 1, &len);
    if (st) {
        eng_free(g->ctx, d);
        return st;
    }
    eng_value_set_data(g, v, d);
    *out = v;
    return ENGINE_OK;
}

/* m: the MatMul, add: the Add reading it alone, b: the bias. */
static engine_status rewrite(eng_graph *g, engine_node *m, engine_node *add, engine_value *b) {
    engine_value *a = m->inputs[0], *w = m->inputs[1], *y = add->outputs[0];
    const int reshape = a->rank > 2;
    engine_node *gemm, *rs = NULL;
    engine_value *shape = NULL;
    engine_status st;
    if (reshape && (st = new_shape_const(g, y->rank, y->dims, &shape))) return st;
    /* The Gemm (and Reshape) go where the Add is: A, W and b are all
     * available there, and every reader of y comes after. */
    int at = add->index;
    if ((st = eng_pass_insert_node(g, at, m->name, "Gemm", 3, 1, &gemm))) return st;
    gemm->opset = 13;
    if ((st = eng_pass_set_int(g, gemm, "engine.flatten_axis", a->rank - 1))) return st;
    gemm->inputs[0] = a;
    gemm->inputs[1] = w;
    gemm->inputs[2] = b;
    engine_value *gy = y;
    if (reshape) {
        if ((st = eng_graph_add_value(g, NULL, &gy))) return st;
        if ((st = eng_pass_insert_node(g, at + 1, add->name, "Reshape", 2, 1, &rs))) return st;
        rs->opset = 13;
        rs->inputs[0] = gy;
        rs->inputs[1] = shape;
    }
    /* y changes producer: the Add gives it up and is removed */
    add->outputs[0] = NULL;
    y->producer = NULL;
    eng_graph_remove_node(g, add);
    if ((st = eng_node_set_output(g, gemm, 0, gy))) return st;
    if ((st = eng_infer_node(g, gemm))) return st;
    if (rs) {
        if ((st = eng_node_set_output(g, rs, 0, y))) return st;
        if ((st = eng_infer_node(g, rs))) return st;
    }
    return ENGINE_OK;
}

engine_status eng_pass_fuse_matmul_bias(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *m = g->nodes[k];
        if (m->op != ENGINE_OP_MatMul || m->plugin || m->n_inputs != 2 || m->n_outputs != 1) continue;
        engine_value *a = m->inputs[0], *w = m->inputs[1], *t = m->outputs[0];
        if (!a || !w || !t || a->dtype != ENGINE_DTYPE_F32 || a->rank < 2 || !eng_pass_const_f32(w) || w->rank != 2)
            continue;
        if (t->rank != a->rank || !eng_pass_private(g, t, 1)) continue;
        engine_node *add;
        if (eng_pass_readers(g, t, &add, 1) != 1 || add->op != ENGINE_OP_Add || add->plugin) continue;
        engine_value *b = bias_operand(add, t, w->dims[1]);
        if (!b || !eng_pass_same_shape(add->outputs[0], t)) continue;
        engine_status st = rewrite(g, m, add, b);
        if (st) return st;
        /* the MatMul's output is now unread: dead-node removal takes it */
        (*changed)++;
    }
    return ENGINE_OK;
}
