/* fuse_activation.c - an activation that alone reads the output of a Conv,
 * ConvTranspose or Gemm becomes that node's fused epilogue (ops.h). Also
 * through a Reshape between them (fuse_matmul_bias writes a MatMul over a
 * rank-3/4 input as Gemm -> Reshape, and transformers' MLPs put their GELU
 * after it): an elementwise activation commutes with the Reshape, which
 * then outputs the activation's value.
 *
 * Single-node activations: Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid,
 * HardSwish, Tanh, Mish, Gelu (fuse_gelu's, both forms). Multi-node forms
 * exporters write:
 *   SiLU       Mul(x, Sigmoid(x))                  (either operand order)
 *   HardSwish  Mul(x, HardSigmoid(x)), alpha 1/6, beta 1/2
 *   Mish       Mul(x, Tanh(Softplus(x)))
 * x must be read by the pattern only (the activation, or the first node of
 * the form and the Mul) and not be a graph output, every intermediate must
 * be read by the next node only, and the node must not have an activation
 * yet (a residual sum is fine: the epilogue adds it before the activation,
 * which is the order Add-then-activation had), except for the exact
 * compositions of clamps: Relu then Clip(lo, hi >= 0) is Clip(max(lo, 0), hi)
 * (torch exports F.relu6 as Relu -> Clip), Clip(a, b) then Relu is
 * Clip(max(a, 0), max(b, 0)), Relu then Relu is Relu. */
#include <math.h>

#include "ops_internal.h"
#include "passes.h"

/* The single activation op r as an epilogue; 0 if r is not one. */
static int single_act(const engine_node *r, engine_epilogue *e) {
    const engine_scalar_params *sp = r->params;
    switch (r->op) {
    case ENGINE_OP_Relu: e->act = ENGINE_ACT_RELU; return 1;
    case ENGINE_OP_Sigmoid: e->act = ENGINE_ACT_SIGMOID; return 1;
    case ENGINE_OP_HardSwish: e->act = ENGINE_ACT_HARD_SWISH; return 1;
    case ENGINE_OP_Tanh: e->act = ENGINE_ACT_TANH; return 1;
    case ENGINE_OP_Mish: e->act = ENGINE_ACT_MISH; return 1;
    case ENGINE_OP_Gelu:
        if (!sp) return 0;
        e->act = ENGINE_ACT_GELU;
        e->alpha = sp->size ? 1.0f : 0.0f; /* the tanh form */
        return 1;
    case ENGINE_OP_LeakyRelu:
        if (!sp) return 0;
        e->act = ENGINE_ACT_LEAKY_RELU;
        e->alpha = sp->alpha;
        return 1;
    case ENGINE_OP_HardSigmoid:
        if (!sp) return 0;
        e->act = ENGINE_ACT_HARD_SIGMOID;
        e->alpha = sp->alpha;
        e->beta = sp->beta;
        return 1;
    case ENGINE_OP_Clip:
        /* min/max are constants by now (shape inference refuses run-time
         * bounds); params hold them, +-inf when absent. */
        /* min > max: ONNX gives max everywhere, the epilogue would not */
        if (!sp || !(sp->min <= sp->max)) return 0;
        e->act = ENGINE_ACT_CLIP;
        e->alpha = sp->min;
        e->beta = sp->max;
        return 1;
    default: return 0;
    }
}

/* r = Mul whose operands are {x, v} in either order. */
static int mul_of(const engine_node *r, const engine_value *x, const engine_value *v) {
    return r->op == ENGINE_OP_Mul && r->n_inputs == 2 &&
           ((r->inputs[0] == x && r->inputs[1] == v) || (r->inputs[0] == v && r->inputs[1] == x)) &&
           r->outputs[0] && eng_pass_same_shape(r->outputs[0], x);
}

/* The node with exactly one output that reads only `in` (its input 0). */
static int unary_on(const engine_node *r, const engine_value *in) {
    return r->n_inputs >= 1 && r->inputs[0] == in && r->n_outputs == 1 && r->outputs[0];
}

/* Finds the pattern on p's output x: *last is its final node, dead[] the
 * nodes to remove (last included), *nd their count. */
static int match(const eng_graph *g, const engine_node *p, engine_epilogue *e, engine_node **dead, int *nd) {
    engine_value *x = p->outputs[0];
    if (!x || x->dtype != ENGINE_DTYPE_F32 || !eng_pass_private(g, x, eng_pass_readers(g, x, NULL, 0))) return 0;
    for (int o = 1; o < p->n_outputs; ++o)
        if (p->outputs[o]) return 0;
    engine_node *r[3];
    int nr = eng_pass_readers(g, x, r, 3);
    if (nr == 1 && unary_on(r[0], x) && r[0]->n_inputs == (r[0]->op == ENGINE_OP_Clip ? r[0]->n_inputs : 1) &&
        single_act(r[0], e) && eng_pass_same_shape(r[0]->outputs[0], x)) {
        dead[0] = r[0];
        *nd = 1;
        return 1;
    }
    if (nr != 2) return 0;
    /* the first node of the form, and the Mul */
    engine_node *f = r[0]->op == ENGINE_OP_Mul ? r[1] : r[0];
    engine_node *m = r[0]->op == ENGINE_OP_Mul ? r[0] : r[1];
    if (f == m || m->op != ENGINE_OP_Mul || !unary_on(f, x) || f->n_inputs != 1) return 0;
    engine_value *s = f->outputs[0];
    if (!eng_pass_private(g, s, 1)) return 0;
    if (f->op == ENGINE_OP_Sigmoid && mul_of(m, x, s)) {
        e->act = ENGINE_ACT_SILU;
    } else if (f->op == ENGINE_OP_HardSigmoid && f->params && mul_of(m, x, s)) {
        /* x * HardSigmoid(x) is HardSwish only with torch's constants. */
        const engine_scalar_params *sp = f->params;
        if (fabsf(sp->alpha - 1.0f / 6.0f) > 1e-7f || sp->beta != 0.5f) return 0;
        e->act = ENGINE_ACT_HARD_SWISH;
    } else if (f->op == ENGINE_OP_Softplus) {
        engine_node *t[1];
        if (eng_pass_readers(g, s, t, 1) != 1 || t[0]->op != ENGINE_OP_Tanh || !unary_on(t[0], s)) return 0;
        engine_value *th = t[0]->outputs[0];
        if (!eng_pass_private(g, th, 1) || !mul_of(m, x, th)) return 0;
        e->act = ENGINE_ACT_MISH;
        dead[(*nd)++] = t[0];
    } else {
        return 0;
    }
    dead[(*nd)++] = f;
    dead[(*nd)++] = m;
    return 1;
}

/* e = next(cur(x)) as one clamp, when exact; 0 otherwise. */
static int compose(const engine_epilogue *cur, const engine_epilogue *next, engine_epilogue *e) {
    *e = *cur;
    if (cur->act == ENGINE_ACT_RELU && next->act == ENGINE_ACT_RELU) return 1;
    if (cur->act == ENGINE_ACT_RELU && next->act == ENGINE_ACT_CLIP && next->beta >= 0.0f) {
        /* max(x, 0) >= 0, so a lower bound below 0 never bites */
        e->act = ENGINE_ACT_CLIP;
        e->alpha = next->alpha > 0.0f ? next->alpha : 0.0f;
        e->beta = next->beta;
        return 1;
    }
    if (cur->act == ENGINE_ACT_CLIP && next->act == ENGINE_ACT_RELU) {
        e->alpha = cur->alpha > 0.0f ? cur->alpha : 0.0f;
        e->beta = cur->beta > 0.0f ? cur->beta : 0.0f;
        return 1;
    }
    return 0;
}

/* p -> Reshape -> one single-node activation, each value private: the
 * Reshape in *rs, the activation in dead[0]. */
static int match_through_reshape(const eng_graph *g, const engine_node *p, engine_epilogue *e, engine_node **rs,
                                 engine_node **dead, int *nd) {
    engine_value *x = p->outputs[0];
    engine_node *r[1], *a[1];
    if (!x || x->dtype != ENGINE_DTYPE_F32 || !eng_pass_private(g, x, 1) || eng_pass_readers(g, x, r, 1) != 1) return 0;
    for (int o = 1; o < p->n_outputs; ++o)
        if (p->outputs[o]) return 0;
    if (r[0]->op != ENGINE_OP_Reshape || r[0]->inputs[0] != x || r[0]->n_outputs != 1 || !r[0]->outputs[0]) return 0;
    engine_value *y = r[0]->outputs[0];
    if (y->dtype != ENGINE_DTYPE_F32 || !eng_pass_private(g, y, 1) || eng_pass_readers(g, y, a, 1) != 1) return 0;
    if (!unary_on(a[0], y) || a[0]->n_inputs != (a[0]->op == ENGINE_OP_Clip ? a[0]->n_inputs : 1) ||
        !single_act(a[0], e) || !eng_pass_same_shape(a[0]->outputs[0], y))
        return 0;
    *rs = r[0];
    dead[0] = a[0];
    *nd = 1;
    return 1;
}

/* Fuses the pattern after p, if any; *fused = 1 when it did. */
static engine_status fuse_one(eng_graph *g, engine_node *p, int *fused) {
    *fused = 0;
    const engine_epilogue *cur = eng_pass_epilogue(p);
    if (!cur) return ENGINE_OK;
    engine_epilogue e = *cur;
    e.act = ENGINE_ACT_NONE;
    e.alpha = e.beta = 0.0f;
    engine_node *dead[3], *rs = NULL;
    int nd = 0;
    if (!match(g, p, &e, dead, &nd) && !match_through_reshape(g, p, &e, &rs, dead, &nd)) return ENGINE_OK;
    if (cur->act != ENGINE_ACT_NONE) {
        engine_epilogue both;
        if (nd != 1 || !compose(cur, &e, &both)) return ENGINE_OK;
        e = both;
    }
    engine_status st = eng_pass_set_epilogue(g, p, &e);
    /* the Reshape (when there is one) now outputs the activation's value */
    if (!st) st = eng_pass_take_output(g, rs ? rs : p, dead[nd - 1]);
    if (!st && rs) st = eng_infer_node(g, p); /* p's params again, with the activation */
    if (st) return st;
    for (int i = 0; i < nd; ++i) eng_graph_remove_node(g, dead[i]);
    *fused = 1;
    return ENGINE_OK;
}

engine_status eng_pass_fuse_activation(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        /* every removed node came after p, so p stays at k; a clamp after
         * the activation just fused may compose with it: try again */
        int fused;
        do {
            engine_status st = fuse_one(g, g->nodes[k], &fused);
            if (st) return st;
            *changed += fused;
        } while (fused);
    }
    return ENGINE_OK;
}
