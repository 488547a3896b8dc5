/* fuse_layernorm.c - layer normalisation written out, one
 * LayerNormalization node.
 *
 * Before opset 17 PyTorch (1.13) exports nn.LayerNorm as
 *     m = ReduceMean(x, trailing axes, keepdims)     d = Sub(x, m)
 *     v = ReduceMean(Pow(d, 2), same axes)           s = Sqrt(Add(v, eps))
 *     y = Add(Mul(Div(d, s), gamma), beta)
 * (Mul(d, d) in place of the Pow in other exporters; gamma and beta absent
 * without elementwise_affine). Nine nodes and their intermediate tensors
 * become one LayerNormalization(x, gamma, beta, axis, epsilon) (opset 17's
 * op; the node carries opset 17 whatever the model's), which every backend
 * runs in one pass over each row.
 *
 * Matched when the axes are the trailing dims from some axis on (the same
 * for both means), keepdims is 1, every intermediate value is read only
 * inside the pattern (d by the square and the division, the rest once) and
 * is no graph output, eps is a float32 one-element constant, and gamma and
 * beta (when present) are float32 constants of the normalised shape (1s
 * allowed in front).
 */
#include <math.h>

#include "ops_internal.h"
#include "passes.h"

/* For a binary node n with one operand a float32 one-element constant:
 * that operand's value into *c and the other operand; else NULL. */
static engine_value *scalar_operand(const engine_node *n, float *c) {
    if (n->n_inputs != 2 || !n->inputs[0] || !n->inputs[1]) return NULL;
    for (int k = 0; k < 2; ++k) {
        const engine_value *v = n->inputs[k];
        if (eng_pass_const_f32(v) && engine_value_numel(v) == 1) {
            *c = *(const float *)v->data;
            return n->inputs[1 - k];
        }
    }
    return NULL;
}

/* The one node reading v inside the pattern, else NULL. */
static engine_node *sole_reader(const eng_graph *g, const engine_value *v) {
    engine_node *r[2];
    if (!eng_pass_private(g, v, 1) || eng_pass_readers(g, v, r, 2) != 1) return NULL;
    return r[0];
}

/* n is a ReduceMean of its input over dims ax..rank-1 (keepdims); returns
 * ax, else -1. */
static int trailing_mean(const engine_node *n) {
    if (n->op != ENGINE_OP_ReduceMean || !n->params || !n->inputs[0] || n->n_outputs != 1 || !n->outputs[0]) return -1;
    const engine_reduce_params *p = n->params;
    int r = n->inputs[0]->rank;
    if (!p->keepdims || r < 1 || r > 31) return -1;
    for (int ax = r - 1; ax >= 0; --ax)
        if (p->axes_mask == ((1u << r) - 1u) - ((1u << ax) - 1u)) return ax;
    return -1;
}

/* v is a float32 constant of the normalised shape: its dims, right
 * aligned, are x's from ax on, and 1 before. */
static int affine_const(const engine_value *v, const engine_value *x, int ax) {
    if (!eng_pass_const_f32(v) || v->rank > x->rank) return 0;
    for (int k = 0; k < v->rank; ++k) {
        int d = x->rank - v->rank + k;
        if (v->dims[k] != (d >= ax ? x->dims[d] : 1)) return 0;
    }
    for (int d = ax; d < x->rank; ++d)
        if (x->rank - d > v->rank) return 0;
    return 1;
}

typedef struct ln_match {
    engine_value *x, *gamma, *beta;
    engine_node *last;
    int axis;
    float eps;
} ln_match;

static int match(const eng_graph *g, const engine_node *m1, ln_match *o) {
    int ax = trailing_mean(m1);
    engine_value *x = m1->inputs[0];
    if (ax < 0 || x->dtype != ENGINE_DTYPE_F32) return 0;
    engine_node *sub = sole_reader(g, m1->outputs[0]);
    if (!sub || sub->op != ENGINE_OP_Sub || sub->n_inputs != 2 || sub->inputs[0] != x ||
        sub->inputs[1] != m1->outputs[0])
        return 0;
    const engine_value *d = sub->outputs[0];
    if (!d || !eng_pass_same_shape(d, x)) return 0;
    /* d's readers: the division and the square, Pow(d, 2) or Mul(d, d)
     * (which reads it twice) */
    engine_node *r[3];
    int nr = eng_pass_readers(g, d, r, 3);
    if ((nr != 2 && nr != 3) || !eng_pass_private(g, d, nr)) return 0;
    engine_node *sq = NULL, *div = NULL;
    for (int k = 0; k < nr; ++k) {
        float c;
        if (r[k]->op == ENGINE_OP_Div && r[k]->n_inputs == 2 && r[k]->inputs[0] == d && r[k]->inputs[1] != d)
            div = r[k];
        else if (r[k]->op == ENGINE_OP_Pow && r[k]->inputs[0] == d && scalar_operand(r[k], &c) == d && c == 2.0f)
            sq = r[k];
        else if (r[k]->op == ENGINE_OP_Mul && r[k]->n_inputs == 2 && r[k]->inputs[0] == d && r[k]->inputs[1] == d)
            sq = r[k];
    }
    if (!sq || !div || !sq->outputs[0] || nr != (sq->op == ENGINE_OP_Mul ? 3 : 2)) return 0;
    engine_node *m2 = sole_reader(g, sq->outputs[0]);
    if (!m2 || trailing_mean(m2) != ax) return 0;
    engine_node *add = sole_reader(g, m2->outputs[0]);
    float eps;
    if (!add || add->op != ENGINE_OP_Add || scalar_operand(add, &eps) != m2->outputs[0] || !(eps >= 0.0f)) return 0;
    engine_node *sqrt_n = sole_reader(g, add->outputs[0]);
    if (!sqrt_n || sqrt_n->op != ENGINE_OP_Sqrt || sqrt_n->n_outputs != 1) return 0;
    if (sole_reader(g, sqrt_n->outputs[0]) != div || div->inputs[1] != sqrt_n->outputs[0]) return 0;
    engine_node *last = div;
    engine_value *gamma = NULL, *beta = NULL;
    /* optional Mul(., gamma), then optional Add(., beta) */
    engine_node *mul = sole_reader(g, div->outputs[0]);
    if (mul && mul->op == ENGINE_OP_Mul && mul->n_inputs == 2) {
        engine_value *other = mul->inputs[0] == div->outputs[0] ? mul->inputs[1] : mul->inputs[0];
        if (other != div->outputs[0] && affine_const(other, x, ax)) {
            gamma = other;
            last = mul;
            engine_node *addb = sole_reader(g, mul->outputs[0]);
            if (addb && addb->op == ENGINE_OP_Add && addb->n_inputs == 2) {
                engine_value *b = addb->inputs[0] == mul->outputs[0] ? addb->inputs[1] : addb->inputs[0];
                if (b != mul->outputs[0] && affine_const(b, x, ax)) {
                    beta = b;
                    last = addb;
                }
            }
        }
    }
    if (!last->outputs[0] || !eng_pass_same_shape(last->outputs[0], x)) return 0;
    *o = (ln_match){x, gamma, beta, last, ax, eps};
    return 1;
}

engine_status eng_pass_fuse_layernorm(eng_graph *g, int *changed) {
    *changed = 0;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *m1 = g->nodes[k];
        ln_match mt;
        if (m1->plugin || !match(g, m1, &mt)) continue;
        engine_status st;
        engine_value *gamma = mt.gamma;
        if (!gamma) { /* no affine part: a scale of ones */
            int64_t inner = 1;
            for (int d = mt.axis; d < mt.x->rank; ++d) inner *= mt.x->dims[d];
            float *ones = eng_alloc(g->ctx, (size_t)inner * sizeof *ones + 1);
            if (!ones) return eng_node_error(g->ctx, m1, ENGINE_ERR_OUT_OF_MEMORY, "out of memory fusing a layer norm");
            for (int64_t i = 0; i < inner; ++i) ones[i] = 1.0f;
            if ((st = eng_pass_new_const(g, 1, &inner, ones, &gamma))) return st;
        }
        engine_node *ln;
        if ((st = eng_pass_insert_node(g, mt.last->index, mt.last->name, "LayerNormalization", mt.beta ? 3 : 2, 1,
                                       &ln)))
            return st;
        ln->opset = 17;
        if ((st = eng_pass_set_int(g, ln, "axis", mt.axis))) return st;
        if ((st = eng_pass_set_float(g, ln, "epsilon", mt.eps))) return st;
        ln->inputs[0] = mt.x;
        ln->inputs[1] = gamma;
        if (mt.beta) ln->inputs[2] = mt.beta;
        engine_value *y = mt.last->outputs[0];
        mt.last->outputs[0] = NULL;
        y->producer = NULL;
        if ((st = eng_node_set_output(g, ln, 0, y))) return st;
        eng_graph_remove_node(g, mt.last);
        if ((st = eng_infer_node(g, ln))) return st;
        (*changed)++;
    }
    return ENGINE_OK;
}
