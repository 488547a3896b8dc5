/* ops/gemm.c - shape inference for Gemm and MatMul. */
#include <string.h>

#include "ops_util.h"

engine_status eng_infer_Gemm(eng_graph *g, engine_node *n) {
    /* C is optional from opset 11 */
    engine_status st = eng_check_input_count(g, n, eng_opset(g, n) < 11 ? 3 : 2, 3);
    if (st) return st;
    const engine_value *a = n->inputs[0], *b = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "A", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 1, "B", ENG_DT_FLOAT))) return st;
    engine_gemm_params p;
    memset(&p, 0, sizeof p);
    int64_t ta, tb, fa;
    if ((st = eng_attr_int(g, n, "transA", 0, &ta))) return st;
    if ((st = eng_attr_int(g, n, "transB", 0, &tb))) return st;
    if ((st = eng_attr_float(g, n, "alpha", 1.0f, &p.alpha))) return st;
    if ((st = eng_attr_float(g, n, "beta", 1.0f, &p.beta))) return st;
    /* The Flatten + Gemm fusion (passes/fuse_flatten_gemm.c): A is read as
     * [prod(dims[0:fa]), prod(dims[fa:])]. */
    if ((st = eng_attr_int(g, n, "engine.flatten_axis", -1, &fa))) return st;
    p.trans_a = ta != 0;
    p.trans_b = tb != 0;
    int64_t a2[2];
    if (fa >= 0) {
        if (fa > a->rank || p.trans_a)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                  "engine.flatten_axis %lld does not fit input 0 (A) of rank %d%s", (long long)fa,
                                  a->rank, p.trans_a ? " with transA" : "");
        a2[0] = a2[1] = 1;
        for (int d = 0; d < a->rank; ++d) {
            int64_t *side = &a2[d < fa ? 0 : 1];
            if (a->dims[d] != 0 && *side > INT64_MAX / a->dims[d])
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (A) is too large");
            *side *= a->dims[d];
        }
    } else {
        if (a->rank != 2)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (A) has rank %d, expected 2", a->rank);
        a2[0] = a->dims[0];
        a2[1] = a->dims[1];
    }
    if (b->rank != 2) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 1 (B) has rank %d, expected 2", b->rank);
    p.flatten_axis = (int)fa;
    int64_t m = p.trans_a ? a2[1] : a2[0], ka = p.trans_a ? a2[0] : a2[1];
    int64_t kb = p.trans_b ? b->dims[1] : b->dims[0], nn = p.trans_b ? b->dims[0] : b->dims[1];
    if (ka != kb)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "inner dimensions differ: op(A) is [%lld,%lld] but op(B) is [%lld,%lld]", (long long)m,
                              (long long)ka, (long long)kb, (long long)nn);
    if (eng_has_input(n, 2)) {
        const engine_value *c = n->inputs[2];
        if ((st = eng_check_dtype(g, n, 2, "C", ENG_DT_FLOAT))) return st;
        int64_t y[2] = {m, nn};
        int ok = c->rank <= 2;
        for (int k = 0; ok && k < c->rank; ++k) {
            int64_t cd = c->dims[c->rank - 1 - k], yd = y[1 - k];
            ok = cd == 1 || cd == yd;
        }
        if (!ok) {
            char buf[ENG_SHAPE_BUF];
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 2 (C) of shape %s does not broadcast to [%lld,%lld]",
                                  eng_shape_str(c->rank, c->dims, buf), (long long)m, (long long)nn);
        }
    }
    int64_t dims[2] = {m, nn};
    p.m = m;
    p.k = ka;
    p.n = nn;
    if ((st = eng_read_epilogue(g, n, 0, 2, dims, &p.epilogue))) return st;
    if ((st = eng_set_output(g, n, 0, ENGINE_DTYPE_F32, 2, dims))) return st;
    engine_gemm_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}

/* numpy matmul: 1-D operands get a dimension prepended (A) or appended (B)
 * that is removed from the result; batch dimensions broadcast. */
engine_status eng_infer_MatMul(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *a = n->inputs[0], *b = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "A", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 1, "B", ENG_DT_FLOAT))) return st;
    if (a->rank < 1 || b->rank < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d is a scalar; MatMul needs rank >= 1",
                              a->rank < 1 ? 0 : 1);
    int64_t am = a->rank == 1 ? 1 : a->dims[a->rank - 2], ak = a->dims[a->rank - 1];
    int64_t bk = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2], bn = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (ak != bk) {
        char sa[ENG_SHAPE_BUF], sb[ENG_SHAPE_BUF];
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "inner dimensions differ: A is %s, B is %s",
                              eng_shape_str(a->rank, a->dims, sa), eng_shape_str(b->rank, b->dims, sb));
    }
    int ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0, rank;
    int64_t dims[ENGINE_MAX_RANK + 2];
    if ((st = eng_broadcast_dims(g, n, ra, a->dims, rb, b->dims, &rank, dims))) return st;
    if (a->rank > 1) dims[rank++] = am;
    if (b->rank > 1) dims[rank++] = bn;
    return eng_set_output(g, n, 0, ENGINE_DTYPE_F32, rank, dims);
}
