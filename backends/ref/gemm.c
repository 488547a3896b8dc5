/* backends/ref/gemm.c - reference kernels for Gemm, MatMul and Einsum: dot
 * products accumulated in double. */
#include "ref_kernels.h"

/* Y[M, N] = alpha * op(A) * op(B) + beta * C, C unidirectionally
 * broadcast (rank 0, 1 or 2; each dim either 1 or Y's). */
engine_status ref_Gemm(const engine_node *n, const void *const *in, void *const *out) {
    const engine_gemm_params *p = n->params;
    const engine_value *va = n->inputs[0], *vb = n->inputs[1], *vy = n->outputs[0];
    const engine_value *vc = engine_node_input(n, 2);
    const float *c = vc ? in[2] : NULL;
    if (!p || va->dtype != ENGINE_DTYPE_F32 || vb->dtype != ENGINE_DTYPE_F32 || vy->dtype != ENGINE_DTYPE_F32 ||
        (c && vc->dtype != ENGINE_DTYPE_F32))
        return ENGINE_ERR_UNSUPPORTED;
    /* A's 2-D view comes from the params (it may be a flattened higher-rank
     * tensor: engine.flatten_axis). */
    if (vb->rank != 2 || vy->rank != 2 || (c && vc->rank > 2)) return ENGINE_ERR_SHAPE;
    const int64_t M = p->m, N = p->n, K = p->k;
    if (vy->dims[0] != M || vy->dims[1] != N || engine_value_numel(va) != M * K ||
        (p->trans_b ? vb->dims[0] : vb->dims[1]) != N || (p->trans_b ? vb->dims[1] : vb->dims[0]) != K)
        return ENGINE_ERR_SHAPE;
    /* C's strides over Y's (m, n): 0 on broadcast dims. */
    int64_t cs_m = 0, cs_n = 0;
    if (c) {
        int64_t cm = vc->rank == 2 ? vc->dims[0] : 1, cn = vc->rank >= 1 ? vc->dims[vc->rank - 1] : 1;
        if ((cm != 1 && cm != M) || (cn != 1 && cn != N)) return ENGINE_ERR_SHAPE;
        cs_n = cn == 1 ? 0 : 1;
        cs_m = cm == 1 ? 0 : cn;
    }
    const float *a = in[0], *b = in[1];
    float *y = out[0];
    const int64_t as_m = p->trans_a ? 1 : K, as_k = p->trans_a ? M : 1;
    const int64_t bs_k = p->trans_b ? 1 : N, bs_n = p->trans_b ? K : 1;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t j = 0; j < N; ++j) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; ++k) acc += (double)a[m * as_m + k * as_k] * (double)b[k * bs_k + j * bs_n];
            acc *= (double)p->alpha;
            if (c) acc += (double)p->beta * (double)c[m * cs_m + j * cs_n];
            y[m * N + j] = (float)engine_act_apply(&p->epilogue, acc);
        }
    return ENGINE_OK;
}

/* numpy matmul: a 1-D A is [1, K] and a 1-D B is [K, 1] (the added dim is
 * dropped from Y); leading batch dims broadcast. */
engine_status ref_MatMul(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *va = n->inputs[0], *vb = n->inputs[1], *vy = n->outputs[0];
    if (va->dtype != ENGINE_DTYPE_F32 || vb->dtype != ENGINE_DTYPE_F32 || vy->dtype != ENGINE_DTYPE_F32)
        return ENGINE_ERR_UNSUPPORTED;
    const int ra = va->rank, rb = vb->rank;
    if (ra < 1 || rb < 1) return ENGINE_ERR_SHAPE;
    const int64_t M = ra >= 2 ? va->dims[ra - 2] : 1, K = va->dims[ra - 1];
    const int64_t N = rb >= 2 ? vb->dims[rb - 1] : 1, Kb = rb >= 2 ? vb->dims[rb - 2] : vb->dims[0];
    if (K != Kb) return ENGINE_ERR_SHAPE;
    /* Batch dims, right-aligned to the longer of the two. */
    const int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0, br = ba > bb ? ba : bb;
    int64_t bdims[ENGINE_MAX_RANK], sa[ENGINE_MAX_RANK], sb[ENGINE_MAX_RANK];
    int64_t batch = 1, stride_a = M * K, stride_b = K * N;
    for (int i = br - 1; i >= 0; --i) {
        int ia = i - (br - ba), ib = i - (br - bb);
        int64_t da = ia >= 0 ? va->dims[ia] : 1, db = ib >= 0 ? vb->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) return ENGINE_ERR_SHAPE;
        bdims[i] = da > db ? da : db;
        if (da == 0 || db == 0) bdims[i] = 0;
        sa[i] = da == 1 ? 0 : stride_a;
        sb[i] = db == 1 ? 0 : stride_b;
        stride_a *= da;
        stride_b *= db;
        batch *= bdims[i];
    }
    if (engine_value_numel(vy) != batch * M * N) return ENGINE_ERR_SHAPE;
    const float *a = in[0], *b = in[1];
    float *y = out[0];
    int64_t idx[ENGINE_MAX_RANK] = {0};
    for (int64_t t = 0; t < batch; ++t) {
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < br; ++i) {
            oa += idx[i] * sa[i];
            ob += idx[i] * sb[i];
        }
        const float *am = a + oa, *bm = b + ob;
        for (int64_t m = 0; m < M; ++m)
            for (int64_t j = 0; j < N; ++j) {
                double acc = 0.0;
                for (int64_t k = 0; k < K; ++k) acc += (double)am[m * K + k] * (double)bm[k * N + j];
                *y++ = (float)acc;
            }
        for (int i = br - 1; i >= 0; --i) { /* odometer over batch dims */
            if (++idx[i] < bdims[i]) break;
            idx[i] = 0;
        }
    }
    return ENGINE_OK;
}

/* Einsum, for any equation the shape function resolved (ops.h): every
 * output element sums, over the labels missing from the output, the
 * product of the inputs at that label assignment. Offsets move with an
 * odometer over the summed labels; float32 accumulates in double, the
 * integer types in int64 (wrapping, through unsigned arithmetic). */
engine_status ref_Einsum(const engine_node *n, const void *const *in, void *const *out) {
    const engine_einsum_params *p = n->params;
    const engine_value *vy = n->outputs[0];
    if (!p || p->n_inputs != n->n_inputs || p->n_inputs > ENGINE_EINSUM_MAX_INPUTS || p->n_labels > 64)
        return ENGINE_ERR_UNSUPPORTED;
    const engine_dtype dt = vy->dtype;
    if (dt != ENGINE_DTYPE_F32 && dt != ENGINE_DTYPE_I64 && dt != ENGINE_DTYPE_I32) return ENGINE_ERR_UNSUPPORTED;
    const int ni = p->n_inputs, nl = p->n_labels;
    int64_t st[ENGINE_EINSUM_MAX_INPUTS][ENGINE_EINSUM_MAX_LABELS];
    for (int k = 0; k < ni; ++k) {
        const engine_value *v = n->inputs[k];
        if (!v || v->dtype != dt) return ENGINE_ERR_UNSUPPORTED;
        engine_einsum_strides(p, k, v->rank, v->dims, st[k]);
    }
    /* the summed labels, and how many assignments of them there are */
    int in_out[ENGINE_EINSUM_MAX_LABELS] = {0}, sum_l[ENGINE_EINSUM_MAX_LABELS], ns = 0;
    for (int d = 0; d < p->out_rank; ++d) in_out[p->out_label[d]] = 1;
    int64_t n_sum = 1;
    for (int l = 0; l < nl; ++l)
        if (!in_out[l]) {
            sum_l[ns++] = l;
            n_sum *= p->label_dim[l];
        }
    const int64_t total = engine_value_numel(vy);
    int64_t oidx[ENGINE_MAX_RANK] = {0};
    for (int64_t e = 0; e < total; ++e) {
        int64_t base[ENGINE_EINSUM_MAX_INPUTS];
        for (int k = 0; k < ni; ++k) {
            base[k] = 0;
            for (int d = 0; d < p->out_rank; ++d) base[k] += oidx[d] * st[k][p->out_label[d]];
        }
        int64_t sidx[ENGINE_EINSUM_MAX_LABELS] = {0}, off[ENGINE_EINSUM_MAX_INPUTS];
        for (int k = 0; k < ni; ++k) off[k] = base[k];
        double accf = 0.0;
        uint64_t acci = 0;
        for (int64_t j = 0; j < n_sum; ++j) {
            if (dt == ENGINE_DTYPE_F32) {
                double prod = 1.0;
                for (int k = 0; k < ni; ++k) prod *= (double)((const float *)in[k])[off[k]];
                accf += prod;
            } else {
                uint64_t prod = 1;
                for (int k = 0; k < ni; ++k)
                    prod *= dt == ENGINE_DTYPE_I64 ? (uint64_t)((const int64_t *)in[k])[off[k]]
                                                   : (uint64_t)(int64_t)((const int32_t *)in[k])[off[k]];
                acci += prod;
            }
            /* next assignment of the summed labels (the last one fastest) */
            for (int s = ns - 1; s >= 0; --s) {
                const int l = sum_l[s];
                if (++sidx[s] < p->label_dim[l]) {
                    for (int k = 0; k < ni; ++k) off[k] += st[k][l];
                    break;
                }
                for (int k = 0; k < ni; ++k) off[k] -= (sidx[s] - 1) * st[k][l];
                sidx[s] = 0;
            }
        }
        if (dt == ENGINE_DTYPE_F32) ((float *)out[0])[e] = (float)accf;
        else if (dt == ENGINE_DTYPE_I64) ((int64_t *)out[0])[e] = (int64_t)acci;
        else ((int32_t *)out[0])[e] = (int32_t)(uint32_t)acci;
        for (int d = p->out_rank - 1; d >= 0; --d) {
            if (++oidx[d] < vy->dims[d]) break;
            oidx[d] = 0;
        }
    }
    return ENGINE_OK;
}
