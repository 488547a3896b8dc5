/* ops/gemm.c - shape inference for Gemm, MatMul and Einsum (the equation
 * parsed against the input shapes into labels: engine_einsum_params). */
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

/* ---- Einsum ---- */

/* Letters as codes 0..51 in ASCII order ('A'..'Z', then 'a'..'z': the order
 * of an implicit output, as numpy's einsum sorts them); -1 otherwise. */
static int letter_code(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
}

static char code_letter(int c) {
    return (char)(c < 26 ? 'A' + c : 'a' + (c - 26));
}

/* One term of the equation: per subscript a letter code, or ELL_ for the
 * ellipsis (which stands for the term's `ne` dims there). */
#define ELL_ 100
typedef struct einsum_term {
    int n_letters, has_ell, ne;
    int code[ENGINE_MAX_RANK + 52];
} einsum_term;

/* Parses s[0:len) (no spaces) as one term; rank < 0: the output (its rank
 * is not known yet). */
static engine_status einsum_term_parse(eng_graph *g, const engine_node *n, const char *s, int len, int which,
                                       int rank, einsum_term *t) {
    memset(t, 0, sizeof *t);
    const char *what = which < 0 ? "the output" : "an operand";
    int axes = 0;
    for (int i = 0; i < len; ++i) {
        if (s[i] == '.') {
            if (t->has_ell || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                      "equation: %s has a '.' that is not one '...' ellipsis", what);
            if (axes >= ENGINE_MAX_RANK + 52)
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "equation: %s has too many subscripts",
                                      what);
            t->has_ell = 1;
            t->code[axes++] = ELL_;
            i += 2;
            continue;
        }
        int c = letter_code(s[i]);
        if (c < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                  "equation: character '%c' in %s is neither a letter nor '...'", s[i], what);
        if (axes >= ENGINE_MAX_RANK + 52)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "equation: %s has too many subscripts", what);
        t->code[axes++] = c;
        ++t->n_letters;
    }
    if (rank < 0) return ENGINE_OK;
    if (t->has_ell ? t->n_letters > rank : t->n_letters != rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "equation: operand %d has %d letters%s; input %d has rank %d",
                              which, t->n_letters, t->has_ell ? " and '...'" : "", which, rank);
    t->ne = t->has_ell ? rank - t->n_letters : 0;
    return ENGINE_OK;
}

/* Broadcasts extent d into *dim (numpy: 1 stretches); 0 on a mismatch. */
static int einsum_merge(int64_t *dim, int64_t d) {
    if (*dim < 0 || *dim == 1) *dim = d;
    else if (d != 1 && d != *dim) return 0;
    return 1;
}

engine_status eng_infer_Einsum(eng_graph *g, engine_node *n) {
    const int n_in = n->n_inputs;
    /* Every operand is required: an empty name is not an optional input here. */
    engine_status st = eng_check_input_count(g, n, n_in > 0 ? n_in : 1, n_in > 0 ? n_in : 1);
    if (st) return st;
    if (n_in > ENGINE_EINSUM_MAX_INPUTS)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "has %d inputs; at most %d are supported", n_in,
                              ENGINE_EINSUM_MAX_INPUTS);
    if ((st = eng_check_dtype(g, n, 0, "Inputs", ENG_DT_NUM))) return st;
    for (int k = 1; k < n_in; ++k)
        if ((st = eng_check_same_dtype(g, n, 0, k))) return st;
    const char *eq;
    if ((st = eng_attr_string(g, n, "equation", NULL, &eq))) return st;
    if (!eq) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'equation' is missing");
    char s[512];
    int len = 0;
    for (const char *c = eq; *c; ++c) {
        if (*c == ' ') continue;
        if (len + 1 >= (int)sizeof s)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "equation is longer than %d characters",
                                  (int)sizeof s - 1);
        s[len++] = *c;
    }
    s[len] = '\0';
    const char *arrow = strstr(s, "->");
    int lhs_len = arrow ? (int)(arrow - s) : len;
    for (int i = 0; i < len; ++i)
        if ((s[i] == '-' || s[i] == '>') && !(arrow && (s + i == arrow || s + i == arrow + 1)))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "equation '%s': a stray '%c'", eq, s[i]);

    /* the operands */
    einsum_term terms[ENGINE_EINSUM_MAX_INPUTS];
    int n_terms = 0, start = 0, ell_rank = 0;
    for (int i = 0; i <= lhs_len; ++i) {
        if (i < lhs_len && s[i] != ',') continue;
        if (n_terms >= n_in)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                  "equation '%s' has more operands than the node's %d inputs", eq, n_in);
        const engine_value *v = n->inputs[n_terms];
        if ((st = einsum_term_parse(g, n, s + start, i - start, n_terms, v->rank, &terms[n_terms]))) return st;
        if (terms[n_terms].ne > ell_rank) ell_rank = terms[n_terms].ne;
        ++n_terms;
        start = i + 1;
    }
    if (n_terms != n_in)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "equation '%s' has %d operands; the node has %d inputs",
                              eq, n_terms, n_in);

    /* labels: the ellipsis dims first (0..ell_rank-1, right-aligned across
     * operands), then each letter used */
    engine_einsum_params p;
    memset(&p, 0, sizeof p);
    int label_of[52], count[52];
    for (int c = 0; c < 52; ++c) label_of[c] = -1, count[c] = 0;
    p.n_inputs = n_in;
    p.n_labels = ell_rank;
    for (int l = 0; l < ENGINE_EINSUM_MAX_LABELS; ++l) p.label_dim[l] = -1;
    for (int k = 0; k < n_in; ++k) {
        const einsum_term *t = &terms[k];
        const engine_value *v = n->inputs[k];
        for (int a = 0, d = 0; a < t->n_letters + t->has_ell; ++a) {
            if (t->code[a] == ELL_) {
                for (int e = 0; e < t->ne; ++e, ++d) {
                    int l = ell_rank - t->ne + e;
                    p.in_label[k][d] = (signed char)l;
                    if (!einsum_merge(&p.label_dim[l], v->dims[d]))
                        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                              "equation '%s': the '...' dims of input %d do not broadcast with the "
                                              "others (dim %d is %lld, elsewhere %lld)",
                                              eq, k, d, (long long)v->dims[d], (long long)p.label_dim[l]);
                }
                continue;
            }
            int c = t->code[a];
            ++count[c];
            if (label_of[c] < 0) label_of[c] = p.n_labels++;
            int l = label_of[c];
            p.in_label[k][d] = (signed char)l;
            /* a letter twice in one operand: its diagonal, of one extent */
            for (int e = 0; e < d; ++e)
                if (p.in_label[k][e] == l && v->dims[e] != v->dims[d])
                    return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                          "equation '%s': letter '%c' repeats in input %d over dims of %lld and %lld",
                                          eq, code_letter(c), k, (long long)v->dims[e], (long long)v->dims[d]);
            if (!einsum_merge(&p.label_dim[l], v->dims[d]))
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                      "equation '%s': letter '%c' is %lld in input %d but %lld elsewhere", eq,
                                      code_letter(c), (long long)v->dims[d], k, (long long)p.label_dim[l]);
            ++d;
        }
    }

    /* the output: explicit after '->', else the ellipsis dims then the
     * letters seen once, in ASCII order */
    int out_rank = 0;
    signed char out[ENGINE_MAX_RANK];
    if (arrow) {
        einsum_term t;
        if ((st = einsum_term_parse(g, n, arrow + 2, len - lhs_len - 2, -1, -1, &t))) return st;
        if (ell_rank > 0 && !t.has_ell)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                  "equation '%s': the operands' '...' stands for %d dims but the output has no '...'",
                                  eq, ell_rank);
        if (t.n_letters + (t.has_ell ? ell_rank : 0) > ENGINE_MAX_RANK)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "equation '%s': output rank exceeds %d", eq,
                                  ENGINE_MAX_RANK);
        int seen[52] = {0};
        for (int a = 0; a < t.n_letters + t.has_ell; ++a) {
            if (t.code[a] == ELL_) {
                for (int e = 0; e < ell_rank; ++e) out[out_rank++] = (signed char)e;
                continue;
            }
            int c = t.code[a];
            if (label_of[c] < 0)
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                      "equation '%s': output letter '%c' is in no operand", eq, code_letter(c));
            if (seen[c]++)
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                      "equation '%s': output letter '%c' appears twice", eq, code_letter(c));
            out[out_rank++] = (signed char)label_of[c];
        }
    } else {
        int n_once = 0;
        for (int c = 0; c < 52; ++c) n_once += count[c] == 1;
        if (ell_rank + n_once > ENGINE_MAX_RANK)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "equation '%s': output rank exceeds %d", eq,
                                  ENGINE_MAX_RANK);
        for (int e = 0; e < ell_rank; ++e) out[out_rank++] = (signed char)e;
        for (int c = 0; c < 52; ++c)
            if (count[c] == 1) out[out_rank++] = (signed char)label_of[c];
    }
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < out_rank; ++d) {
        p.out_label[d] = out[d];
        dims[d] = p.label_dim[out[d]];
    }
    p.out_rank = out_rank;
    for (int l = 0; l < p.n_labels; ++l)
        if (p.label_dim[l] < 0) p.label_dim[l] = 1; /* cannot happen: every label has an axis */
    if ((st = eng_set_output(g, n, 0, n->inputs[0]->dtype, out_rank, dims))) return st;
    engine_einsum_params *pp = eng_node_params(g, n, sizeof *pp);
    if (!pp) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory");
    *pp = p;
    return ENGINE_OK;
}
