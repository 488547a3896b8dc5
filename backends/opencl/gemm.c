/* backends/opencl/gemm.c - the gemm family: Gemm and MatMul (kernel in
 * gemm.cl).
 *
 * With CLBlast on (fp32), a product with no broadcast batch, at most 64
 * batches and M*N*K >= 32768 runs as one CLBlast SGEMM per batch (Gemm's C
 * first copied into Y, then beta), followed by f_unary for a fused
 * activation; everything else runs on f_matmul, which takes the batch
 * broadcast, transposes, C and the epilogue itself. On CPU devices a Gemm
 * of at most 4 rows with B transposed (Linear layers) runs on f_gemv_nt. */
#include <limits.h>

#include "ocl_builder.h"

int ocl_supports_gemm(const engine_node *n) {
    const engine_value *x = n->inputs[0], *x1 = engine_node_input(n, 1);
    switch (n->op) {
    case ENGINE_OP_Gemm: return ocl_all_f32(n, 3) && x1 && x1->rank == 2; /* A's view: params m, k */
    case ENGINE_OP_MatMul: return ocl_all_f32(n, 2) && x->rank >= 1 && x1 && x1->rank >= 1;
    default: return 0;
    }
}

void ocl_emit_gemm(ocl_builder *b, const engine_node *n) {
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
    if (b->s->clblast && !bcast && (int64_t)M * N * K >= 32768 && batch <= 64) {
        if (vc) { /* Y = C broadcast, then SGEMM with beta */
            int64_t cnt[2] = {M, N}, is[2] = {g[8], g[9]}, os[2] = {N, 1};
            ocl_emit_copy_strided(b, cs, 0, ys, 0, 2, cnt, is, os);
        }
        int64_t sa = 0, sb = 0;
        for (int64_t t = 0; t < batch; ++t) {
            /* batch offsets: the batch dims are not broadcast, so contiguous */
            ocl_launch *l = ocl_launch_new(b, NULL, 0);
            if (!l) return;
            l->ta = gp && gp->trans_a;
            l->tb = gp && gp->trans_b;
            l->gm = M;
            l->gn = N;
            l->gk = K;
            l->alpha = alpha;
            l->beta = vc ? beta : 0.0f;
            l->a_slot = as;
            l->a_extra = (int)sa;
            l->lda = l->ta ? M : K;
            l->b_slot = bs;
            l->b_extra = (int)sb;
            l->ldb = l->tb ? K : N;
            l->c_slot = ys;
            l->c_extra = (int)(t * M * N);
            l->ldc = N;
            sa += (int64_t)M * K;
            sb += (int64_t)K * N;
        }
        if (g[10] != U_COPY)
            OCL_LAUNCH(b, "f_unary", (size_t)numel(y), A_T(ys, 0), A_T(ys, 0), A_I(g[10]), A_F(a1), A_F(b1));
        return;
    }
    int mo = ocl_meta_add(b, g, 12 + 3 * br);
    OCL_LAUNCH(b, "f_matmul", (size_t)numel(y), A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs >= 0 ? cs : as, 0),
               A_T(ys, 0), A_F(alpha), A_F(beta), A_F(a1), A_F(b1));
}
