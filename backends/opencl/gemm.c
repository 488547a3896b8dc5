/* backends/opencl/gemm.c - the gemm family: Gemm, MatMul and Einsum
 * (kernels in gemm.cl). An Einsum that is one batched matrix product
 * (bij,bjk->bik, bhqd,bhkd->bhqk, ...ij,...jk->...ik, ij,j->i) runs as
 * MatMul does, from its label strides; other forms of one or two operands
 * run on f_einsum.
 *
 * With CLBlast on (fp32), a product with no broadcast batch, at most 64
 * batches and M*N*K >= 32768 runs as one CLBlast SGEMM per batch (Gemm's C
 * first copied into Y, then beta), followed by f_unary for a fused
 * activation; everything else runs on f_matmul, which takes the batch
 * broadcast, transposes, C and the epilogue itself. On CPU devices a Gemm
 * of at most 4 rows with B transposed (Linear layers) runs on f_gemv_nt. */
#include <limits.h>

#include "ocl_builder.h"

/* Elements an Einsum sums per output element (the product of the extents
 * of the labels missing from the output); -1 past INT_MAX. */
static int64_t einsum_sum_count(const engine_einsum_params *p) {
    int in_out[ENGINE_EINSUM_MAX_LABELS] = {0};
    for (int d = 0; d < p->out_rank; ++d) in_out[p->out_label[d]] = 1;
    int64_t c = 1;
    for (int l = 0; l < p->n_labels; ++l) {
        if (in_out[l]) continue;
        c *= p->label_dim[l];
        if (c > INT_MAX) return -1;
    }
    return c;
}

int ocl_supports_gemm(const engine_node *n) {
    const engine_value *x = n->inputs[0], *x1 = engine_node_input(n, 1);
    switch (n->op) {
    case ENGINE_OP_Einsum: { /* one or two float32 operands (three and more: cpu) */
        const engine_einsum_params *p = n->params;
        return ocl_all_f32(n, 2) && n->n_inputs <= 2 && p->n_inputs == n->n_inputs && einsum_sum_count(p) >= 0;
    }
    case ENGINE_OP_Gemm: return ocl_all_f32(n, 3) && x1 && x1->rank == 2; /* A's view: params m, k */
    case ENGINE_OP_MatMul: return ocl_all_f32(n, 2) && x->rank >= 1 && x1 && x1->rank >= 1;
    default: return 0;
    }
}

static void emit_product(ocl_builder *b, const engine_node *n, int *g, int64_t batch, int as, int bs, int cs, int ys,
                         float a1, float b1);

/* An Einsum of two operands that is one (batched) matrix product: every
 * label is a batch label (both operands and the output), the one row label
 * (first operand and output), the one column label (second operand and
 * output) or the one summed label (both operands, not the output), each of
 * the last three optional; the output lists the batch labels first, then
 * row and column in either order (*swap: column first, the operands trade
 * places). Fills f_matmul's meta from the label strides. */
static int einsum_product(const engine_node *n, int *g, int64_t *batch, int *swap) {
    const engine_einsum_params *p = n->params;
    if (p->n_inputs != 2) return 0;
    int64_t st[2][ENGINE_EINSUM_MAX_LABELS];
    int has[3][ENGINE_EINSUM_MAX_LABELS];
    const int rank[2] = {n->inputs[0]->rank, n->inputs[1]->rank};
    const int64_t *const dims[2] = {n->inputs[0]->dims, n->inputs[1]->dims};
    engine_einsum_pair(p, rank, dims, st, has);
    int lm = -1, ln = -1, lk = -1, nb = 0;
    for (int l = 0; l < p->n_labels; ++l) {
        const int a = has[0][l], bb = has[1][l], o = has[2][l];
        if (a && bb && o) {
            ++nb;
            continue;
        }
        int *role = a && !bb && o ? &lm : !a && bb && o ? &ln : a && bb && !o ? &lk : NULL;
        if (!role || *role >= 0) return 0; /* summed in one operand only, or two labels of one role */
        *role = l;
    }
    if (nb > 6 || p->out_rank != nb + (lm >= 0) + (ln >= 0)) return 0;
    for (int d = 0; d < nb; ++d)
        if (!(has[0][p->out_label[d]] && has[1][p->out_label[d]])) return 0;
    *swap = lm >= 0 && ln >= 0 && p->out_label[nb] == ln;
    const int A = *swap, B = 1 - A, ml = *swap ? ln : lm, nl = *swap ? lm : ln;
    g[0] = ml >= 0 ? (int)p->label_dim[ml] : 1;
    g[1] = nl >= 0 ? (int)p->label_dim[nl] : 1;
    g[2] = lk >= 0 ? (int)p->label_dim[lk] : 1;
    g[3] = ml >= 0 ? (int)st[A][ml] : 0;
    g[4] = lk >= 0 ? (int)st[A][lk] : 0;
    g[5] = lk >= 0 ? (int)st[B][lk] : 0;
    g[6] = nl >= 0 ? (int)st[B][nl] : 0;
    g[10] = U_COPY;
    g[11] = nb;
    *batch = 1;
    for (int i = 0; i < nb; ++i) {
        const int l = p->out_label[i];
        g[12 + i] = (int)p->label_dim[l];
        g[12 + nb + i] = (int)st[A][l];
        g[12 + 2 * nb + i] = (int)st[B][l];
        *batch *= p->label_dim[l];
    }
    return 1;
}

/* Einsum: a matrix-product form through emit_product (CLBlast when it
 * pays), anything else of one or two operands on f_einsum. */
static void emit_einsum(ocl_builder *b, const engine_node *n) {
    const engine_einsum_params *p = n->params;
    int g[12 + 3 * 6] = {0}, swap = 0;
    int64_t batch = 1;
    if (einsum_product(n, g, &batch, &swap)) {
        int s0 = IN(0), s1 = IN(1), ys = OUT(0);
        if (b->st) return;
        emit_product(b, n, g, batch, swap ? s1 : s0, swap ? s0 : s1, -1, ys, 0.0f, 0.0f);
        return;
    }
    /* f_einsum's meta: inputs, output rank, summed labels; per output axis
     * its extent and the two operands' strides; the same per summed label */
    int m[3 + 3 * ENGINE_EINSUM_MAX_LABELS + 3 * ENGINE_MAX_RANK];
    int64_t st[2][ENGINE_EINSUM_MAX_LABELS] = {{0}};
    for (int k = 0; k < p->n_inputs; ++k)
        engine_einsum_strides(p, k, n->inputs[k]->rank, n->inputs[k]->dims, st[k]);
    int in_out[ENGINE_EINSUM_MAX_LABELS] = {0}, ro = p->out_rank, ns = 0, sum_l[ENGINE_EINSUM_MAX_LABELS];
    for (int d = 0; d < ro; ++d) in_out[p->out_label[d]] = 1;
    for (int l = 0; l < p->n_labels; ++l)
        if (!in_out[l]) sum_l[ns++] = l;
    m[0] = p->n_inputs;
    m[1] = ro;
    m[2] = ns;
    int *o = m + 3, *s = o + 3 * ro;
    for (int d = 0; d < ro; ++d) {
        const int l = p->out_label[d];
        o[d] = (int)p->label_dim[l];
        o[ro + d] = (int)st[0][l];
        o[2 * ro + d] = (int)st[1][l];
    }
    for (int j = 0; j < ns; ++j) {
        const int l = sum_l[j];
        s[j] = (int)p->label_dim[l];
        s[ns + j] = (int)st[0][l];
        s[2 * ns + j] = (int)st[1][l];
    }
    int mo = ocl_meta_add(b, m, 3 + 3 * ro + 3 * ns);
    int s0 = IN(0), s1 = p->n_inputs > 1 ? IN(1) : s0, ys = OUT(0);
    if (b->st) return;
    OCL_LAUNCH(b, "f_einsum", (size_t)numel(n->outputs[0]), A_META(mo), A_T(s0, 0), A_T(s1, 0), A_T(ys, 0));
}

void ocl_emit_gemm(ocl_builder *b, const engine_node *n) {
    if (n->op == ENGINE_OP_Einsum) {
        emit_einsum(b, n);
        return;
    }
    if (n->op != ENGINE_OP_Gemm && n->op != ENGINE_OP_MatMul) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
    const engine_value *va = n->inputs[0], *vb = n->inputs[1], *y = n->outputs[0];
    const engine_gemm_params *gp = n->op == ENGINE_OP_Gemm ? n->params : NULL;
    const engine_value *vc = gp ? engine_node_input(n, 2) : NULL;
    int g[12 + 3 * 6] = {0};
    int M, N, K, br = 0;
    int64_t batch = 1;
    if (gp) {
        M = (int)y->dims[0];
        N = (int)y->dims[1];
        K = (int)gp->k; /* A may be a flattened higher-rank tensor (engine.flatten_axis) */
        g[3] = gp->trans_a ? 1 : K;
        g[4] = gp->trans_a ? M : 1;
        g[5] = gp->trans_b ? 1 : N;
        g[6] = gp->trans_b ? K : 1;
        if (vc) {
            int64_t cm = vc->rank == 2 ? vc->dims[0] : 1, cn = vc->rank >= 1 ? vc->dims[vc->rank - 1] : 1;
            g[7] = 1;
            g[8] = cm == 1 ? 0 : (int)cn;
            g[9] = cn == 1 ? 0 : 1;
        }
    } else {
        int ra = va->rank, rb = vb->rank;
        M = ra >= 2 ? (int)va->dims[ra - 2] : 1;
        K = (int)va->dims[ra - 1];
        N = rb >= 2 ? (int)vb->dims[rb - 1] : 1;
        g[3] = K;
        g[4] = 1;
        g[5] = N;
        g[6] = 1;
        int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
        br = ba > bb ? ba : bb;
        if (br > 6) {
            ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "more than 6 batch dims");
            return;
        }
        int64_t stride_a = (int64_t)M * K, stride_b = (int64_t)K * N;
        for (int i = br - 1; i >= 0; --i) {
            int ia = i - (br - ba), ib = i - (br - bb);
            int64_t da = ia >= 0 ? va->dims[ia] : 1, db = ib >= 0 ? vb->dims[ib] : 1;
            int64_t bd = da > db ? da : db;
            if (da == 0 || db == 0) bd = 0;
            g[12 + i] = (int)bd;
            g[12 + br + i] = da == 1 ? 0 : (int)stride_a;
            g[12 + 2 * br + i] = db == 1 ? 0 : (int)stride_b;
            stride_a *= da;
            stride_b *= db;
            batch *= bd;
        }
    }
    g[0] = M;
    g[1] = N;
    g[2] = K;
    g[11] = br;
    float a1 = 0, b1 = 0;
    g[10] = gp ? ocl_act_code(&gp->epilogue, &a1, &b1) : U_COPY;
    int as = IN(0), bs = IN(1), cs = vc ? ocl_slot_read(b, vc) : -1, ys = OUT(0);
    if (b->st) return;
    emit_product(b, n, g, batch, as, bs, cs, ys, a1, b1);
}

/* The product g describes (f_matmul's meta: M, N, K, A's m and k strides,
 * B's k and n strides, C, activation, br batch dims with their extents and
 * A and B strides; Y is [batch..., M, N] in C order) from slots as and bs
 * (cs: Gemm's C or -1) into ys: CLBlast, f_gemv_nt or f_matmul. */
static void emit_product(ocl_builder *b, const engine_node *n, int *g, int64_t batch, int as, int bs, int cs, int ys,
                         float a1, float b1) {
    const engine_gemm_params *gp = n->op == ENGINE_OP_Gemm ? n->params : NULL;
    const engine_value *vc = gp ? engine_node_input(n, 2) : NULL, *y = n->outputs[0];
    const int M = g[0], N = g[1], K = g[2], br = g[11];
    float alpha = gp ? gp->alpha : 1.0f, beta = gp ? gp->beta : 0.0f;
    /* CLBlast: no broadcast batch (each batch its own GEMM), big enough to
     * pay for the call. */
    int bcast = 0;
    for (int i = 0; i < br; ++i) bcast |= g[12 + br + i] == 0 || g[12 + 2 * br + i] == 0;
    /* A few rows against a transposed B (Linear layers at small batch) on a
     * CPU device: f_gemv_nt streams each weight row once (CLBlast's GEMM
     * took 243 ms for VGG-16's 25088x4096 layer on POCL, f_gemv_nt 17;
     * GPUs keep CLBlast, which spreads K over more work items). */
    if (gp && !gp->trans_a && gp->trans_b && M >= 1 && M <= 4 && (b->s->dev.type & CL_DEVICE_TYPE_CPU) &&
        (int64_t)M * K <= INT_MAX && (int64_t)N * K <= INT_MAX) {
        int mo = ocl_meta_add(b, g, 12);
        OCL_LAUNCH(b, "f_gemv_nt", (size_t)N, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs >= 0 ? cs : as, 0),
                   A_T(ys, 0), A_F(alpha), A_F(beta), A_F(a1), A_F(b1));
        return;
    }
    /* CLBlast reads A and B as row-major matrices with a leading dimension,
     * transposed or not: one of each operand's strides must be 1. */
    int ta = 0, tb = 0, lda = 0, ldb = 0, lay = 1;
    if (g[4] == 1 && (M == 1 || g[3] >= K)) ta = 0, lda = M == 1 ? K : g[3];
    else if (g[3] == 1 && (K == 1 || g[4] >= M)) ta = 1, lda = K == 1 ? M : g[4];
    else lay = 0;
    if (g[6] == 1 && (K == 1 || g[5] >= N)) tb = 0, ldb = K == 1 ? N : g[5];
    else if (g[5] == 1 && (N == 1 || g[6] >= K)) tb = 1, ldb = N == 1 ? K : g[6];
    else lay = 0;
    if (b->s->clblast && !bcast && lay && (int64_t)M * N * K >= 32768 && batch <= 64) {
        if (vc) { /* Y = C broadcast, then SGEMM with beta */
            int64_t cnt[2] = {M, N}, is[2] = {g[8], g[9]}, os[2] = {N, 1};
            ocl_emit_copy_strided(b, cs, 0, ys, 0, 2, cnt, is, os);
        }
        for (int64_t t = 0; t < batch; ++t) {
            /* batch offsets from the batch strides (none is broadcast) */
            int64_t sa = 0, sb = 0, rem = t;
            for (int i = br - 1; i >= 0; --i) {
                int64_t k = rem % g[12 + i];
                rem /= g[12 + i];
                sa += k * g[12 + br + i];
                sb += k * g[12 + 2 * br + i];
            }
            ocl_launch *l = ocl_launch_new(b, NULL, 0);
            if (!l) return;
            l->ta = ta;
            l->tb = tb;
            l->gm = M;
            l->gn = N;
            l->gk = K;
            l->alpha = alpha;
            l->beta = vc ? beta : 0.0f;
            l->a_slot = as;
            l->a_extra = (int)sa;
            l->lda = lda;
            l->b_slot = bs;
            l->b_extra = (int)sb;
            l->ldb = ldb;
            l->c_slot = ys;
            l->c_extra = (int)(t * M * N);
            l->ldc = N;
        }
        if (g[10] != U_COPY)
            OCL_LAUNCH(b, "f_unary", (size_t)numel(y), A_T(ys, 0), A_T(ys, 0), A_I(g[10]), A_F(a1), A_F(b1));
        return;
    }
    int mo = ocl_meta_add(b, g, 12 + 3 * br);
    OCL_LAUNCH(b, "f_matmul", (size_t)numel(y), A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs >= 0 ? cs : as, 0),
               A_T(ys, 0), A_F(alpha), A_F(beta), A_F(a1), A_F(b1));
}
