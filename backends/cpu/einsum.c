/* einsum.c - Einsum of two float32 operands as batched matrix products on
 * the blocked GEMM driver (gemm.c).
 *
 * Every label must be a batch label (both operands and the output), a row
 * label (first operand and output), a column label (second operand and
 * output) or a summed label (both operands, not the output); each role may
 * hold any number of labels (or none). Then
 *     Y[b][m][n] = sum_k A[b][m][k] * B[b][k][n]
 * where b, m, n, k run over the flattened label groups, and every operand
 * is addressed through per-group offset tables built at compile: so
 * transposed operands, permuted batch labels, diagonals (a label twice in
 * one operand) and broadcast dims (stride 0) need no copy. Per batch, A is
 * packed into the driver's row panels and B is packed panel by panel by
 * the driver's callback; Y's rows go straight into Y when Y[b] is a
 * row-major [M][N] (the usual bij,bjk->bik, bhqd,bhkd->bhqk), else through
 * scratch. Batches run in parallel (one GEMM per thread) when there are at
 * least as many as threads, else one after another on every thread.
 * Other equations, other dtypes and more operands run the reference kernel. */
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"

/* prep: this header, then the int64 offset tables it points into. */
typedef struct einsum_plan {
    int64_t nb, M, N, K;
    const int64_t *ab, *bb, *yb; /* per batch: offsets in A, B, Y */
    const int64_t *am, *ym;      /* per row */
    const int64_t *bn, *yn;      /* per column */
    const int64_t *ak, *bk;      /* per summed index */
    int direct;                  /* Y[b] is [M][N] row-major at yb[b] */
    int par_batches;             /* batches over threads (each GEMM on one) */
    size_t per_thread;           /* scratch bytes per thread */
} einsum_plan;

/* Offsets of a label group's flattened index (the first label slowest) in
 * each of `nops` operands: t[op][i] = sum over labels of index * stride. */
static void group_offsets(const engine_einsum_params *p, const int *labels, int nl, int nops,
                          const int64_t (*st)[ENGINE_EINSUM_MAX_LABELS], const int *ops, int64_t **t, int64_t count) {
    int64_t idx[ENGINE_EINSUM_MAX_LABELS] = {0};
    for (int64_t i = 0; i < count; ++i) {
        for (int o = 0; o < nops; ++o) {
            int64_t off = 0;
            for (int j = 0; j < nl; ++j) off += idx[j] * st[ops[o]][labels[j]];
            t[o][i] = off;
        }
        for (int j = nl - 1; j >= 0; --j) {
            if (++idx[j] < p->label_dim[labels[j]]) break;
            idx[j] = 0;
        }
    }
}

typedef struct einsum_bctx {
    const float *b;
    const int64_t *bk, *bn;
} einsum_bctx;

static void einsum_pack_b(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    const einsum_bctx *c = vctx;
    for (int k = 0; k < kc; ++k) {
        const float *row = c->b + c->bk[k0 + k];
        float *dst = panel + (size_t)k * (size_t)NR;
        for (int j = 0; j < nr; ++j) dst[j] = row[c->bn[n0 + j]];
        for (int j = nr; j < NR; ++j) dst[j] = 0.0f;
    }
}

static size_t up64(size_t b) {
    return (b + 63) / 64 * 64;
}

/* One batch's product on `threads` threads with scratch `sc` (per_thread
 * bytes for one thread's share). */
static void einsum_batch(const cpu_step *s, const einsum_plan *pl, const float *a, const float *b, float *y,
                         int64_t t, int threads, unsigned char *sc) {
    const cpu_kernels *k = s->k;
    const int M = (int)pl->M, N = (int)pl->N, K = (int)pl->K, MR = k->mr;
    float *packed = (float *)sc;
    sc += up64(sizeof(float) * cpu_gemm_packed_a_floats(k, M, K));
    float *bias = (float *)sc;
    sc += up64(sizeof(float) * (size_t)M);
    float *cbuf = (float *)sc;
    sc += pl->direct ? 0 : up64(sizeof(float) * (size_t)M * (size_t)N);
    const float *ab = a + pl->ab[t];
    float *q = packed;
    for (int m0 = 0; m0 < M; m0 += MR)
        for (int kk = 0; kk < K; ++kk)
            for (int i = 0; i < MR; ++i) *q++ = m0 + i < M ? ab[pl->am[m0 + i] + pl->ak[kk]] : 0.0f;
    memset(bias, 0, sizeof(float) * (size_t)M);
    einsum_bctx bc = {b + pl->bb[t], pl->bk, pl->bn};
    const engine_epilogue none = {ENGINE_ACT_NONE, 0.0f, 0.0f, 0};
    float *c = pl->direct ? y + pl->yb[t] : cbuf;
    cpu_gemm_run(k, M, N, K, packed, bias, einsum_pack_b, &bc, c, (size_t)N, NULL, 0, &none, threads, sc);
    if (!pl->direct) {
        float *yb = y + pl->yb[t];
        for (int m = 0; m < M; ++m)
            for (int n = 0; n < N; ++n) yb[pl->ym[m] + pl->yn[n]] = cbuf[(size_t)m * (size_t)N + (size_t)n];
    }
}

typedef struct einsum_run {
    const cpu_step *s;
    const einsum_plan *pl;
    const float *a, *b;
    float *y;
    unsigned char *scratch;
} einsum_run;

static void einsum_task(void *vc, int tid, int64_t t0, int64_t t1) {
    const einsum_run *r = vc;
    for (int64_t t = t0; t < t1; ++t)
        einsum_batch(r->s, r->pl, r->a, r->b, r->y, t, 1, r->scratch + (size_t)tid * r->pl->per_thread);
}

static engine_status einsum_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    const einsum_plan *pl = s->prep;
    if (pl->nb == 0 || pl->M == 0 || pl->N == 0) return ENGINE_OK;
    einsum_run r = {s, pl, in[0], in[1], out[0], scratch};
    if (pl->par_batches) {
        cpu_parallel_for(s->threads, pl->nb, 1, einsum_task, &r);
    } else {
        for (int64_t t = 0; t < pl->nb; ++t) einsum_batch(s, pl, r.a, r.b, r.y, t, s->threads, scratch);
    }
    return ENGINE_OK;
}

engine_status cpu_prepare_einsum(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_einsum_params *p = n->params;
    if (!p || n->n_inputs != 2 || p->n_inputs != 2 || !n->inputs[0] || !n->inputs[1] || !n->outputs[0])
        return ENGINE_ERR_UNSUPPORTED;
    for (int k = 0; k < 2; ++k)
        if (n->inputs[k]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (n->outputs[0]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    int64_t st[3][ENGINE_EINSUM_MAX_LABELS];
    int has[3][ENGINE_EINSUM_MAX_LABELS];
    const int rank[2] = {n->inputs[0]->rank, n->inputs[1]->rank};
    const int64_t *const dims[2] = {n->inputs[0]->dims, n->inputs[1]->dims};
    engine_einsum_pair(p, rank, dims, st, has);
    /* Y's strides per label (C order over the output's labels) */
    for (int l = 0; l < p->n_labels; ++l) st[2][l] = 0;
    int64_t ys = 1;
    for (int d = p->out_rank - 1; d >= 0; --d) {
        st[2][p->out_label[d]] = ys;
        ys *= p->label_dim[p->out_label[d]];
    }
    /* the roles; batch, rows and columns in the output's order */
    int gb[ENGINE_EINSUM_MAX_LABELS], gm[ENGINE_EINSUM_MAX_LABELS], gn[ENGINE_EINSUM_MAX_LABELS],
        gk[ENGINE_EINSUM_MAX_LABELS];
    int nb = 0, nm = 0, nn = 0, nk = 0;
    int64_t B = 1, M = 1, N = 1, K = 1;
    for (int d = 0; d < p->out_rank; ++d) {
        const int l = p->out_label[d];
        if (has[0][l] && has[1][l]) gb[nb++] = l, B *= p->label_dim[l];
        else if (has[0][l]) gm[nm++] = l, M *= p->label_dim[l];
        else gn[nn++] = l, N *= p->label_dim[l];
    }
    for (int l = 0; l < p->n_labels; ++l) {
        if (has[2][l]) continue;
        if (!has[0][l] || !has[1][l]) return ENGINE_ERR_UNSUPPORTED; /* summed in one operand only */
        gk[nk++] = l;
        K *= p->label_dim[l];
    }
    const int64_t lim = INT32_MAX / 4;
    if (B > lim || M > lim || N > lim || K > lim || M * N > lim || M * K > lim) return ENGINE_ERR_UNSUPPORTED;
    const size_t tables = (size_t)(3 * B + 2 * M + 2 * N + 2 * K);
    const size_t head = up64(sizeof(einsum_plan));
    unsigned char *mem = c->a->alloc(c->a->user, head + tables * sizeof(int64_t), 64);
    if (!mem) return ENGINE_ERR_OUT_OF_MEMORY;
    s->prep = mem;
    s->prep_bytes = head + tables * sizeof(int64_t);
    einsum_plan *pl = (einsum_plan *)mem;
    memset(pl, 0, sizeof *pl);
    int64_t *t = (int64_t *)(mem + head);
    int64_t *ab = t, *bb = ab + B, *yb = bb + B, *am = yb + B, *ym = am + M, *bn = ym + M, *yn = bn + N, *ak = yn + N,
            *bk = ak + K;
    const int o_ab[3] = {0, 1, 2}, o_am[2] = {0, 2}, o_bn[2] = {1, 2}, o_k[2] = {0, 1};
    int64_t *tb_[3] = {ab, bb, yb}, *tm_[2] = {am, ym}, *tn_[2] = {bn, yn}, *tk_[2] = {ak, bk};
    const int64_t(*stc)[ENGINE_EINSUM_MAX_LABELS] = (const int64_t(*)[ENGINE_EINSUM_MAX_LABELS])st;
    group_offsets(p, gb, nb, 3, stc, o_ab, tb_, B);
    group_offsets(p, gm, nm, 2, stc, o_am, tm_, M);
    group_offsets(p, gn, nn, 2, stc, o_bn, tn_, N);
    group_offsets(p, gk, nk, 2, stc, o_k, tk_, K);
    pl->nb = B, pl->M = M, pl->N = N, pl->K = K;
    pl->ab = ab, pl->bb = bb, pl->yb = yb, pl->am = am, pl->ym = ym, pl->bn = bn, pl->yn = yn, pl->ak = ak,
    pl->bk = bk;
    int direct = 1;
    for (int64_t m = 0; direct && m < M; ++m) direct = ym[m] == m * N;
    for (int64_t j = 0; direct && j < N; ++j) direct = yn[j] == j;
    pl->direct = direct;
    const int T = s->threads > 0 ? s->threads : 1;
    pl->par_batches = T > 1 && B >= T;
    const int gt = pl->par_batches ? 1 : T;
    pl->per_thread = up64(sizeof(float) * cpu_gemm_packed_a_floats(c->k, (int)M, (int)K)) +
                     up64(sizeof(float) * (size_t)M) + (direct ? 0 : up64(sizeof(float) * (size_t)(M * N))) +
                     up64(cpu_gemm_scratch_bytes(c->k, (int)M, (int)N, (int)K, gt));
    s->scratch_bytes = pl->per_thread * (size_t)(pl->par_batches ? T : 1);
    s->exec = einsum_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_einsum_gemm_%dx%d__%s", c->k->mr, c->k->nr, c->k->isa_name);
    return ENGINE_OK;
}
