/* ops.c - threaded kernels for the non-convolution ops that matter in
 * CNNs (NCHW, float32): Gemm/MatMul with constant weights, MaxPool and
 * AveragePool (2-D), GlobalAveragePool/GlobalMaxPool, BatchNormalization
 * (inference), the activation ops, Add/Sub/Mul/Div with a same-shape or
 * one-sided broadcast operand, Concat, and Transpose / Slice (any dtype,
 * as one strided copy). Every other node, and any of
 * these in a form not handled here (other dtypes, 3-D pools, two-sided
 * broadcasts, MaxPool's Indices output), runs the reference kernel.
 *
 * Inner loops are plain C that the compiler vectorises with the baseline
 * ISA; the activations go through the selected ISA's act_row. Work is
 * split over channel planes (or flat chunks) with OpenMP. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpu_internal.h"
#include "ref_kernels.h"

/* Below this many elements a node runs on one thread. */
#define PAR_MIN 16384

static int all_f32(const engine_node *n) {
    for (int k = 0; k < n->n_inputs; ++k)
        if (n->inputs[k] && n->inputs[k]->dtype != ENGINE_DTYPE_F32) return 0;
    for (int k = 0; k < n->n_outputs; ++k)
        if (n->outputs[k] && n->outputs[k]->dtype != ENGINE_DTYPE_F32) return 0;
    return 1;
}

static int64_t numel(const engine_value *v) {
    return engine_value_numel(v);
}

static void *prep_alloc(const cpu_prep_ctx *c, cpu_step *s, size_t bytes) {
    s->prep = c->a->alloc(c->a->user, bytes ? bytes : 1, 64);
    s->prep_bytes = s->prep ? bytes : 0;
    return s->prep;
}

typedef struct range_ctx {
    const cpu_step *s;
    const void *const *in;
    void *const *out;
    void *scratch;
    cpu_range_fn body;
} range_ctx;

static void range_task(void *vc, int tid, int64_t u0, int64_t u1) {
    const range_ctx *c = vc;
    (void)c->body(c->s, c->in, c->out, c->scratch, tid, u0, u1);
}

engine_status cpu_run_range(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                            cpu_range_fn body, int threads, int64_t n) {
    range_ctx c = {s, in, out, scratch, body};
    cpu_parallel_for(threads, n, 0, range_task, &c);
    return ENGINE_OK;
}

/* ---- Gemm / MatMul with a constant weight operand ----
 * prep: Wt [N][K] (row n: the weights of output n, contiguous) then, for
 * Gemm, nothing else: C is read from its input at run. iparam: R, N, K,
 * has C, C rows, C cols. */
typedef struct dense_ctx {
    const float *wt, *a, *cm;
    float *y;
    int N, K, R, crow, ccol;
    float alpha, beta;
    void (*dot4)(const float *w, size_t ldw, const float *x, int K, int nm, float *acc);
} dense_ctx;

static void dense_task(void *vc, int tid, int64_t b0, int64_t b1) {
    (void)tid;
    const dense_ctx *c = vc;
    const int N = c->N, K = c->K;
    for (int b = (int)b0; b < (int)b1; ++b) {
        const int n0 = b * 4, nm = N - n0 < 4 ? N - n0 : 4;
        for (int r = 0; r < c->R; ++r) {
            float acc[4];
            c->dot4(c->wt + (size_t)n0 * (size_t)K, (size_t)K, c->a + (size_t)r * (size_t)K, K, nm, acc);
            for (int j = 0; j < nm; ++j) {
                const int n = n0 + j;
                float v = c->alpha * acc[j];
                if (c->cm) v += c->beta * c->cm[(size_t)(c->crow == 1 ? 0 : r) * (size_t)c->ccol + (size_t)(c->ccol == 1 ? 0 : n)];
                c->y[(size_t)r * (size_t)N + (size_t)n] = v;
            }
        }
    }
}

static engine_status gemm_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    (void)scratch;
    const int R = s->iparam[0], N = s->iparam[1], K = s->iparam[2], hasC = s->iparam[3];
    const int crow = s->iparam[4], ccol = s->iparam[5];
    const float *a = in[0], *wt = s->prep, *cm = hasC ? in[2] : NULL;
    float *y = out[0];
    float alpha = 1.0f, beta = 0.0f;
    engine_epilogue epi = {ENGINE_ACT_NONE, 0.0f, 0.0f, 0};
    if (s->node->op == ENGINE_OP_Gemm) {
        const engine_gemm_params *p = s->node->params;
        alpha = p->alpha;
        beta = p->beta;
        epi = p->epilogue;
    }
    int par = (int64_t)N * K > PAR_MIN && s->threads > 1;
    /* four weight rows per pass over a row of A (the ISA's dot4: four
     * independent sums, so the loop streams the weights instead of
     * waiting on one add chain: AlexNet's 9216 -> 4096 layer, 2 threads, 8.6-8.9
     * -> 5.7-7.5 ms, ~26 GB/s of weights at best) */
    const int blocks = (N + 3) / 4;
    dense_ctx dc = {wt, a, cm, y, N, K, R, crow, ccol, alpha, beta, s->k->dot4};
    cpu_parallel_for(par ? s->threads : 1, blocks, 0, dense_task, &dc);
    if (epi.act != ENGINE_ACT_NONE) s->k->act_row(&epi, y, (size_t)R * (size_t)N);
    return ENGINE_OK;
}

/* Many rows (a MatMul over every pixel of a map, a transformer's tokens):
 * the packed GEMM driver, C[R x N] = A[R x K] * W[K x N], with A packed
 * into MR-row panels per run and W pre-packed once into NR-column panels
 * (prep: panel p holds W[k][p*NR .. p*NR+NR-1] for every k, zero padded),
 * which the driver's B callback copies. Gemm's C (a row vector or a full
 * matrix, alpha = beta = 1) rides in the micro-kernel's sum operand
 * (row stride 0 for a vector); its activation in the epilogue. iparam: R,
 * N, K, has C, C rows. scratch: packed A, R zeros (the per-row bias the
 * driver wants), then the driver's own. */
#define GEMM_ROWS_MIN 8

/* The packed A's floats, none where the ISA reads A's rows in place. */
static size_t rows_a_floats(const cpu_kernels *k, int R, int K) {
    return k->gemm_rows ? 0 : (cpu_gemm_packed_a_floats(k, R, K) + 15) / 16 * 16;
}

static engine_status gemm_rows_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    const int R = s->iparam[0], N = s->iparam[1], K = s->iparam[2], hasC = s->iparam[3], crow = s->iparam[4];
    const cpu_kernels *k = s->k;
    engine_epilogue epi = {ENGINE_ACT_NONE, 0.0f, 0.0f, 0};
    if (s->node->op == ENGINE_OP_Gemm) epi = ((const engine_gemm_params *)s->node->params)->epilogue;
    epi.sum = 0;
    float *ap = scratch, *zeros = ap + rows_a_floats(k, R, K);
    void *drv = zeros + ((size_t)R + 15) / 16 * 16;
    if (!k->gemm_rows) cpu_gemm_pack_a_par(k, R, K, in[0], (size_t)K, 1, ap, s->threads);
    memset(zeros, 0, sizeof(float) * (size_t)R);
    const float *sum = hasC ? in[2] : NULL;
    cpu_gemm_run_packed_b(k, R, N, K, k->gemm_rows ? in[0] : ap, k->gemm_rows ? (size_t)K : 0, zeros, s->prep, out[0],
                          (size_t)N, sum, crow == 1 ? 0 : (size_t)N, &epi, s->threads, drv);
    return ENGINE_OK;
}

/* --precision bf16: the same GEMM with the weights packed once as bf16
 * panels (gemm_bf16.c) and A rounded to bf16 tiles per run. scratch: the
 * bf16 A, R zeros, then the driver's. iparam as gemm_rows_exec. */
typedef struct bf16_rows_ctx {
    int R, K;
    const float *a;
    uint16_t *ap;
    const cpu_bf16_ops *ops;
} bf16_rows_ctx;

static void bf16_pack_rows_task(void *vc, int tid, int64_t t0, int64_t t1) {
    (void)tid;
    const bf16_rows_ctx *c = vc;
    const size_t strip = cpu_bf16_strip_elems(c->K);
    for (int64_t t = t0; t < t1; ++t) {
        const int r0 = (int)t * 16, rows = c->R - r0 < 16 ? c->R - r0 : 16;
        c->ops->pack_a_rows(rows, c->K, c->a + (size_t)r0 * (size_t)c->K, (size_t)c->K, c->ap + (size_t)t * strip);
    }
}

static size_t bf16_rows_a_bytes(int R, int K) {
    return (cpu_bf16_packed_a_elems(R, K) * sizeof(uint16_t) + 63) / 64 * 64;
}

static engine_status gemm_rows_bf16_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    const int R = s->iparam[0], N = s->iparam[1], K = s->iparam[2], hasC = s->iparam[3], crow = s->iparam[4];
    engine_epilogue epi = {ENGINE_ACT_NONE, 0.0f, 0.0f, 0};
    if (s->node->op == ENGINE_OP_Gemm) epi = ((const engine_gemm_params *)s->node->params)->epilogue;
    epi.sum = 0;
    uint16_t *ap = scratch;
    const size_t abytes = bf16_rows_a_bytes(R, K);
    float *zeros = (float *)((char *)scratch + abytes);
    void *drv = zeros + ((size_t)R + 15) / 16 * 16;
    /* A in 16-row tile strips, each packed (and its padding zeroed) by
     * one thread; a last odd strip's partner rows are zeroed here */
    const int strips = (R + 15) / 16;
    const size_t packed = (size_t)strips * cpu_bf16_strip_elems(K) * sizeof(uint16_t);
    memset((char *)ap + packed, 0, abytes - packed);
    bf16_rows_ctx pc = {R, K, in[0], ap, cpu_bf16_ops_for(s->k->bf16)};
    cpu_parallel_for((int64_t)R * K > PAR_MIN ? s->threads : 1, strips, 1, bf16_pack_rows_task, &pc);
    memset(zeros, 0, sizeof(float) * (size_t)R);
    cpu_bf16_src src = {NULL, 0, NULL, NULL, NULL, s->prep};
    const float *sum = hasC ? in[2] : NULL;
    cpu_bf16_gemm_run(s->k, cpu_bf16_ops_for(s->k->bf16), R, N, K, ap, zeros, &src, out[0], (size_t)N, sum,
                      crow == 1 ? 0 : (size_t)N, &epi, s->threads, drv);
    return ENGINE_OK;
}

/* ---- MatMul with both operands computed at run time ----
 * (attention's Q K^T and weights V): numpy's batched matmul, batch dims
 * broadcast, each batch a packed GEMM: A's M x K block packed into MR-row
 * panels, B's K x N block read panel by panel by the driver's callback.
 * Batches spread over the threads (each GEMM on one); with fewer batches
 * than threads, the batches run in turn, each GEMM on every thread.
 * iparam: M, N, K, batches, per-batch-threaded. scratch: per worker,
 * packed A, M zeros (the driver's per-row bias) and the driver's own. */
typedef struct rowmajor_b_ctx {
    const float *b;
    int N;
} rowmajor_b_ctx;

static void pack_rowmajor_b(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    const rowmajor_b_ctx *c = vctx;
    for (int k = 0; k < kc; ++k, panel += NR) {
        memcpy(panel, c->b + (size_t)(k0 + k) * (size_t)c->N + (size_t)n0, (size_t)nr * sizeof(float));
        if (nr < NR) memset(panel + nr, 0, (size_t)(NR - nr) * sizeof(float));
    }
}

/* Offsets of batch i's A and B blocks (in matrices) under broadcasting. */
static void batch_offsets(const engine_node *n, int64_t i, int64_t *oa, int64_t *ob) {
    const engine_value *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    int yb = y->rank - 2, ab = a->rank - 2, bb = b->rank - 2;
    int64_t sa = 1, sb = 1;
    *oa = *ob = 0;
    for (int d = yb - 1; d >= 0; --d) {
        int64_t c = i % y->dims[d];
        i /= y->dims[d];
        int da = d - (yb - ab), db = d - (yb - bb);
        if (da >= 0) {
            if (a->dims[da] != 1) *oa += c * sa;
            sa *= a->dims[da];
        }
        if (db >= 0) {
            if (b->dims[db] != 1) *ob += c * sb;
            sb *= b->dims[db];
        }
    }
}

static size_t dyn_worker_floats(const cpu_kernels *k, int M, int N, int K, int threads) {
    return rows_a_floats(k, M, K) + ((size_t)M + 15) / 16 * 16 +
           (cpu_gemm_scratch_bytes(k, M, N, K, threads) + sizeof(float) * 16 - 1) / sizeof(float) / 16 * 16;
}

static void matmul_dyn_one(const cpu_step *s, const void *const *in, void *const *out, int64_t i, float *ws,
                           int threads) {
    const int M = s->iparam[0], N = s->iparam[1], K = s->iparam[2];
    const cpu_kernels *k = s->k;
    int64_t oa, ob;
    batch_offsets(s->node, i, &oa, &ob);
    float *ap = ws, *zeros = ap + rows_a_floats(k, M, K);
    void *drv = zeros + ((size_t)M + 15) / 16 * 16;
    const float *a = (const float *)in[0] + oa * (int64_t)M * K;
    memset(zeros, 0, sizeof(float) * (size_t)M);
    rowmajor_b_ctx bc = {(const float *)in[1] + ob * (int64_t)K * N, N};
    engine_epilogue none = {ENGINE_ACT_NONE, 0.0f, 0.0f, 0};
    float *y = (float *)out[0] + i * (int64_t)M * N;
    if (k->gemm_rows) {
        cpu_gemm_run_rows_a(k, M, N, K, a, (size_t)K, zeros, pack_rowmajor_b, &bc, y, (size_t)N, NULL, 0, &none, threads,
                            drv);
        return;
    }
    cpu_gemm_pack_a_par(k, M, K, a, (size_t)K, 1, ap, threads);
    cpu_gemm_run(k, M, N, K, ap, zeros, pack_rowmajor_b, &bc, y, (size_t)N, NULL, 0, &none, threads, drv);
}

static engine_status matmul_dyn_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                                     int tid, int64_t u0, int64_t u1) {
    const int M = s->iparam[0], N = s->iparam[1], K = s->iparam[2], batches = s->iparam[3];
    if (u0 < 0) {
        if (!s->iparam[4]) { /* few batches: each GEMM on every thread */
            for (int64_t i = 0; i < batches; ++i) matmul_dyn_one(s, in, out, i, scratch, s->threads);
            return ENGINE_OK;
        }
        return cpu_run_range(s, in, out, scratch, matmul_dyn_body, s->threads, batches);
    }
    float *ws = (float *)scratch + (size_t)tid * dyn_worker_floats(s->k, M, N, K, 1);
    for (int64_t i = u0; i < u1; ++i) matmul_dyn_one(s, in, out, i, ws, 1);
    return ENGINE_OK;
}

static engine_status matmul_dyn_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return matmul_dyn_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_matmul_dyn(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_value *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
    if (a->rank < 2 || b->rank < 2 || y->rank < 2 || y->rank != (a->rank > b->rank ? a->rank : b->rank))
        return ENGINE_ERR_UNSUPPORTED;
    const int64_t M = a->dims[a->rank - 2], K = a->dims[a->rank - 1], N = b->dims[b->rank - 1];
    if (b->dims[b->rank - 2] != K || M < 1 || N < 1 || K < 1 || M > INT32_MAX / 2 || N > INT32_MAX / 2 ||
        K > INT32_MAX / 2)
        return ENGINE_ERR_UNSUPPORTED;
    const int64_t batches = numel(y) / (M * N);
    if (batches < 1 || batches > INT32_MAX / 2) return ENGINE_ERR_UNSUPPORTED;
    const int per_batch = batches >= s->threads && s->threads > 1;
    s->iparam[0] = (int)M;
    s->iparam[1] = (int)N;
    s->iparam[2] = (int)K;
    s->iparam[3] = (int)batches;
    s->iparam[4] = per_batch;
    s->scratch_bytes = sizeof(float) * (per_batch ? (size_t)s->threads * dyn_worker_floats(c->k, (int)M, (int)N, (int)K, 1)
                                                  : dyn_worker_floats(c->k, (int)M, (int)N, (int)K, s->threads));
    s->exec = matmul_dyn_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_matmul_batched_gemm_%dx%d__%s", c->k->mr, c->k->nr, c->k->isa_name);
    return ENGINE_OK;
}

typedef struct wpanel_pack_ctx {
    const float *b;
    int64_t N, K;
    int transB, NR;
} wpanel_pack_ctx;

static void gemm_pack_panels(const void *vctx, void *dst) {
    const wpanel_pack_ctx *g = vctx;
    float *w = dst;
    const int64_t NR = g->NR, panels = (g->N + NR - 1) / NR;
    for (int64_t p = 0; p < panels; ++p)
        for (int64_t k = 0; k < g->K; ++k)
            for (int64_t j = 0; j < NR; ++j) {
                const int64_t n = p * NR + j;
                *w++ = n >= g->N ? 0.0f : g->transB ? g->b[n * g->K + k] : g->b[k * g->N + n];
            }
}

static void gemm_pack_bf16(const void *vctx, void *dst) {
    const wpanel_pack_ctx *g = vctx;
    cpu_bf16_pack_b((int)g->K, (int)g->N, g->b, g->transB ? 1 : (size_t)g->N, g->transB ? (size_t)g->K : 1, dst);
}

typedef struct gemm_pack_ctx {
    const float *b;
    int64_t N, K;
    int transB;
} gemm_pack_ctx;

static void gemm_pack_wt(const void *vctx, void *dst) {
    const gemm_pack_ctx *g = vctx;
    float *wt = dst;
    for (int64_t j = 0; j < g->N; ++j)
        for (int64_t k = 0; k < g->K; ++k) wt[j * g->K + k] = g->transB ? g->b[j * g->K + k] : g->b[k * g->N + j];
}


/* The store key of a Gemm/MatMul's packed weights B (N x K, transB). */
static void gemm_wkey(cpu_wkey *key, const void *src, const char *layout, int64_t N, int64_t K, int transB, int d3) {
    memset(key, 0, sizeof *key);
    key->src[0] = src;
    key->layout = layout;
    key->dims[0] = (int)N;
    key->dims[1] = (int)K;
    key->dims[2] = transB;
    key->dims[3] = d3;
}
static engine_status prepare_gemm(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    if (!all_f32(n) || n->n_inputs < 2) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *A = n->inputs[0], *B = n->inputs[1], *C = engine_node_input(n, 2), *Y = n->outputs[0];
    if (!A || !B || !Y || A->data) return ENGINE_ERR_UNSUPPORTED;
    if (n->op == ENGINE_OP_MatMul && !B->data) return prepare_matmul_dyn(c, s);
    if (!B->data || B->rank != 2) return ENGINE_ERR_UNSUPPORTED;
    int transB = 0;
    int64_t R, K;
    if (n->op == ENGINE_OP_Gemm) {
        const engine_gemm_params *p = n->params;
        if (!p || p->trans_a || p->epilogue.sum) return ENGINE_ERR_UNSUPPORTED;
        transB = p->trans_b;
        R = p->m; /* A may be a flattened higher-rank tensor (engine.flatten_axis) */
        K = p->k;
        if (numel(A) != R * K) return ENGINE_ERR_UNSUPPORTED;
    } else {
        if (A->rank < 2 || C) return ENGINE_ERR_UNSUPPORTED;
        K = A->dims[A->rank - 1];
        R = numel(A) / (K ? K : 1);
    }
    int64_t N = transB ? B->dims[0] : B->dims[1], KB = transB ? B->dims[1] : B->dims[0];
    if (KB != K || K < 1 || N < 1 || R < 1 || numel(Y) != R * N || R > INT32_MAX / 2 || N > INT32_MAX / 2 ||
        K > INT32_MAX / 2)
        return ENGINE_ERR_UNSUPPORTED;
    int crow = 1, ccol = 1;
    if (C) {
        if (C->rank > 2 || (C->rank == 2 && C->dims[0] != 1 && C->dims[0] != R) ||
            (C->rank >= 1 && C->dims[C->rank - 1] != 1 && C->dims[C->rank - 1] != N))
            return ENGINE_ERR_UNSUPPORTED;
        crow = C->rank == 2 ? (int)C->dims[0] : 1;
        ccol = C->rank >= 1 ? (int)C->dims[C->rank - 1] : 1;
    }
    /* Many rows: the packed GEMM (C only as a row vector or a full matrix
     * added with alpha = beta = 1; otherwise the row-by-row path) */
    const engine_gemm_params *gpar = n->op == ENGINE_OP_Gemm ? n->params : NULL;
    s->iparam[0] = (int)R;
    s->iparam[1] = (int)N;
    s->iparam[2] = (int)K;
    s->iparam[3] = C != NULL;
    s->iparam[4] = crow;
    if (R >= GEMM_ROWS_MIN && (!gpar || (gpar->alpha == 1.0f && (!C || gpar->beta == 1.0f))) &&
        (!C || (ccol == N && (crow == 1 || crow == R)))) {
        if (c->k->bf16 && K >= 16 && cpu_bf16_ops_for(c->k->bf16)) { /* --precision bf16 */
            wpanel_pack_ctx wp = {B->data, N, K, transB, 32};
            cpu_wkey wkey;
            gemm_wkey(&wkey, B->data, "gemm_bf16_panels", N, K, transB, 0);
            engine_status st = cpu_prep_shared(c, s, &wkey, cpu_bf16_packed_b_elems((int)K, (int)N) * sizeof(uint16_t),
                                               gemm_pack_bf16, &wp);
            if (st) return st;
            s->scratch_bytes = bf16_rows_a_bytes((int)R, (int)K) + sizeof(float) * (((size_t)R + 15) / 16 * 16) +
                               cpu_bf16_scratch_bytes((int)N, (int)K, s->threads);
            s->exec = gemm_rows_bf16_exec; /* reads A and C: B lives on packed */
            s->weights_packed = 1u << 1;
            snprintf(s->kernel, sizeof s->kernel, "bf16_%s_gemm_32x32__%s", n->op == ENGINE_OP_Gemm ? "gemm" : "matmul",
                     cpu_bf16_ops_for(c->k->bf16)->name);
            return ENGINE_OK;
        }
        const int NR = c->k->nr;
        wpanel_pack_ctx wp = {B->data, N, K, transB, NR};
        cpu_wkey wkey;
        gemm_wkey(&wkey, B->data, "gemm_panels", N, K, transB, NR);
        size_t panels = (size_t)((N + NR - 1) / NR);
        engine_status st = cpu_prep_shared(c, s, &wkey, sizeof(float) * panels * (size_t)NR * (size_t)K,
                                           gemm_pack_panels, &wp);
        if (st) return st;
        s->scratch_bytes = sizeof(float) * (rows_a_floats(c->k, (int)R, (int)K) + ((size_t)R + 15) / 16 * 16) +
                           cpu_gemm_scratch_bytes(c->k, (int)R, (int)N, (int)K, s->threads);
        s->exec = gemm_rows_exec; /* reads A and C: B lives on packed */
        s->weights_packed = 1u << 1;
        snprintf(s->kernel, sizeof s->kernel, "f32_%s_gemm_%dx%d__%s", n->op == ENGINE_OP_Gemm ? "gemm" : "matmul",
                 c->k->mr, c->k->nr, c->k->isa_name);
        return ENGINE_OK;
    }
    if (transB) {
        /* B is [N][K] already (a Linear layer as torch exports it): the
         * kernel reads the initializer itself, which the engine keeps
         * alive and unchanged while this program lives; no copy (VGG-16's
         * classifier is 120M floats). */
        s->prep = (void *)B->data;
        s->prep_shared = 2;
        s->prep_bytes = 0;
    } else {
        /* Wt through the instance's store: one packing for every batch size. */
        gemm_pack_ctx gp = {B->data, N, K, transB};
        cpu_wkey key;
        gemm_wkey(&key, B->data, "gemm_wt", N, K, transB, 0);
        engine_status st = cpu_prep_shared(c, s, &key, sizeof(float) * (size_t)N * (size_t)K, gemm_pack_wt, &gp);
        if (st) return st;
        s->weights_packed = 1u << 1; /* gemm_exec reads A and C */
    }
    s->iparam[5] = ccol;
    s->exec = gemm_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_%s_gemv_rows__%s", n->op == ENGINE_OP_Gemm ? "gemm" : "matmul",
             c->k->isa_name);
    return ENGINE_OK;
}

/* ---- 2-D MaxPool / AveragePool ---- */

/* max that propagates a NaN from either side (the reference's result);
 * written without short-circuit so the compiler emits compares and masks
 * (vectorised, no data-dependent branch) */
static inline float max_nan(float a, float b) {
    float m = a > b ? a : b; /* b when either is NaN */
    return a != a ? a : m;
}

/* MaxPool without dilation and with rows of at most MAXPOOL_ROW floats:
 * separable. Per output row, the column-wise max of the KH input rows in
 * range (contiguous, vectorised by the compiler), then the max over KW
 * neighbours of that row (from L1). KH + KW instead of KH * KW taps per
 * output and no per-tap bounds tests: ResNet's 3x3 s2 pool over
 * 64x112x112 went from ~1.6 ms (generic loop) to well under that. */
#define MAXPOOL_ROW 2048
static void maxpool_sep_channel(const cpu_kernels *k, const float *xc, float *yc, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t PT, int64_t PL) {
    float vm[MAXPOOL_ROW];
    for (int64_t oh = 0; oh < OH; ++oh) {
        int64_t h0 = oh * SH - PT, hlo = h0 < 0 ? 0 : h0, hhi = h0 + KH < H ? h0 + KH : H;
        float *yr = yc + oh * OW;
        if (hhi <= hlo) {
            for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = -INFINITY;
            continue;
        }
        if (k->max_rows) {
            k->max_rows(xc + hlo * W, (size_t)W, (int)(hhi - hlo), (int)W, vm);
        } else {
            memcpy(vm, xc + hlo * W, (size_t)W * sizeof(float));
            for (int64_t ih = hlo + 1; ih < hhi; ++ih) {
                const float *row = xc + ih * W;
#pragma omp simd
                for (int64_t w = 0; w < W; ++w) vm[w] = max_nan(vm[w], row[w]);
            }
        }
        /* outputs [o0, o1) have all KW taps inside the row: tap-major
         * vector loops; the edges take the bounded scalar loop */
        int64_t o0, o1;
        cpu_pool_interior(W, OW, KW, SW, PL, &o0, &o1);
        if (k->max_win && (SW == 1 || SW == 2)) {
            if (o1 > o0) k->max_win(vm + o0 * SW - PL, (int)(o1 - o0), (int)KW, (int)SW, yr + o0);
        } else {
            for (int64_t ow = o0; ow < o1; ++ow) yr[ow] = vm[ow * SW - PL];
            for (int64_t kw = 1; kw < KW; ++kw) {
                const float *v = vm + kw - PL;
                if (SW == 1) { /* contiguous taps (GoogLeNet's 3x3 s1 pools) */
#pragma omp simd
                    for (int64_t ow = o0; ow < o1; ++ow) yr[ow] = max_nan(yr[ow], v[ow]);
                } else {
#pragma omp simd
                    for (int64_t ow = o0; ow < o1; ++ow) yr[ow] = max_nan(yr[ow], v[ow * SW]);
                }
            }
        }
        for (int64_t ow = 0; ow < OW; ++ow) {
            if (ow == o0) ow = o1;
            if (ow >= OW) break;
            int64_t w0 = ow * SW - PL, wlo = w0 < 0 ? 0 : w0, whi = w0 + KW < W ? w0 + KW : W;
            float acc = -INFINITY;
            for (int64_t w = wlo; w < whi; ++w) acc = max_nan(acc, vm[w]);
            yr[ow] = acc;
        }
    }
}

/* The stride-1 "same" MaxPool of inception blocks (3x3 s1 p1 on 7x7 ..
 * 35x35 maps) over a whole channel plane at once: rows are so short there
 * that per-row loops are mostly overhead. Vertical: KH long loops over the
 * flat plane (row shifts); horizontal: KW long loops over the flat result
 * (valid for interior columns), then the PL / PR edge columns of each row
 * recomputed with their bounds. OW == W, stride 1, OH * W <= MAXPOOL_PLANE. */
#define MAXPOOL_PLANE 8192
/* The edge columns of the flat horizontal pass: taps that left the row
 * were read from the neighbour row, so they are recomputed in bounds. */
static void maxpool_s1_edges(const float *vm, float *yc, int64_t W, int64_t OH, int64_t KW, int64_t PL) {
    for (int64_t oh = 0; oh < OH; ++oh) {
        const float *vr = vm + oh * W;
        float *yr = yc + oh * W;
        for (int64_t ow = 0; ow < W; ++ow) {
            if (ow == PL && W - KW + PL >= ow) ow = W - KW + PL + 1; /* skip the interior */
            if (ow >= W) break;
            int64_t w0 = ow - PL, wlo = w0 < 0 ? 0 : w0, whi = w0 + KW < W ? w0 + KW : W;
            float acc = -INFINITY;
            for (int64_t w = wlo; w < whi; ++w) acc = max_nan(acc, vr[w]);
            yr[ow] = acc;
        }
    }
}

static void maxpool_s1_plane(const cpu_kernels *k, const float *xc, float *yc, int64_t H, int64_t W, int64_t OH,
                             int64_t KH, int64_t KW, int64_t PT, int64_t PL) {
    float vbuf[MAXPOOL_PLANE + 2 * 16];
    float *vm = vbuf + 16; /* guards: interior loops read up to KW - 1 <= 15 past either end */
    const int64_t n = OH * W;
    if (k->max_rows && k->max_win) {
        /* the ISA's kernels: the output rows whose KH rows are all inside
         * in one flat call, the others one by one; then the horizontal max
         * over the flat plane */
        for (int64_t oh = 0; oh < OH;) {
            const int64_t r0 = oh - PT, lo = r0 < 0 ? 0 : r0, hi = r0 + KH < H ? r0 + KH : H;
            if (lo == r0 && hi == r0 + KH) {
                int64_t oe = H + PT - KH + 1;
                if (oe > OH) oe = OH;
                k->max_rows(xc + r0 * W, (size_t)W, (int)KH, (int)((oe - oh) * W), vm + oh * W);
                oh = oe;
                continue;
            }
            if (hi > lo) k->max_rows(xc + lo * W, (size_t)W, (int)(hi - lo), (int)W, vm + oh * W);
            else
                for (int64_t w = 0; w < W; ++w) vm[oh * W + w] = -INFINITY;
            ++oh;
        }
        for (int64_t i = -16; i < 0; ++i) vm[i] = -INFINITY;
        for (int64_t i = n; i < n + 16; ++i) vm[i] = -INFINITY;
        k->max_win(vm - PL, (int)n, (int)KW, 1, yc);
        maxpool_s1_edges(vm, yc, W, OH, KW, PL);
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) vm[i] = -INFINITY;
    for (int64_t kh = 0; kh < KH; ++kh) {
        /* output rows oh read input row oh - PT + kh: valid for oh in [oa, ob) */
        int64_t oa = PT - kh > 0 ? PT - kh : 0, ob = H + PT - kh < OH ? H + PT - kh : OH;
        if (ob <= oa) continue;
        const float *src = xc + (oa - PT + kh) * W;
        float *dst = vm + oa * W;
        const int64_t m = (ob - oa) * W;
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) dst[i] = max_nan(dst[i], src[i]);
    }
    for (int64_t i = -16; i < 0; ++i) vm[i] = -INFINITY;
    for (int64_t i = n; i < n + 16; ++i) vm[i] = -INFINITY;
    const float *v0 = vm - PL;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) yc[i] = v0[i];
    for (int64_t kw = 1; kw < KW; ++kw) {
        const float *v = vm + kw - PL;
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) yc[i] = max_nan(yc[i], v[i]);
    }
    maxpool_s1_edges(vm, yc, W, OH, KW, PL);
}

/* AveragePool without dilation and with rows of at most MAXPOOL_ROW
 * floats: separable like maxpool_sep_channel. Per output row, the
 * column-wise sum of the KH input rows in range, then the sum over KW
 * neighbours of that row, divided by the window's count (with
 * count_include_pad the taps inside the padded extent, else those inside
 * the input), as the generic loop below divides. DenseNet-121's 2x2 s2
 * transition pools took 0.7, 0.36 and 0.24 ms in the generic loop (two
 * threads, AMD EPYC; ORT 0.12, 0.08, 0.06). */
static void avgpool_sep_channel(const float *xc, float *yc, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t KH,
                                int64_t KW, int64_t SH, int64_t SW, int64_t PT, int64_t PL, int64_t PB, int64_t PR,
                                int incl) {
    float vs[MAXPOOL_ROW];
    int64_t o0, o1;
    cpu_pool_interior(W, OW, KW, SW, PL, &o0, &o1);
    for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = oh * SH - PT, hlo = h0 < 0 ? 0 : h0, hhi = h0 + KH < H ? h0 + KH : H;
        const int64_t rows = hhi > hlo ? hhi - hlo : 0;
        int64_t ph = 0;
        for (int64_t k = 0; k < KH; ++k) ph += h0 + k >= -PT && h0 + k < H + PB;
        float *yr = yc + oh * OW;
        if (rows == 0) {
            memset(vs, 0, (size_t)W * sizeof(float));
        } else {
            memcpy(vs, xc + hlo * W, (size_t)W * sizeof(float));
            for (int64_t ih = hlo + 1; ih < hhi; ++ih) {
                const float *row = xc + ih * W;
#pragma omp simd
                for (int64_t w = 0; w < W; ++w) vs[w] += row[w];
            }
        }
        /* outputs [o0, o1) have all KW taps inside the row */
        if (o1 > o0) {
            const int64_t div = incl ? ph * KW : rows * KW;
            const float fd = (float)div;
            const float *v0 = vs - PL;
            if (SW == 1) {
#pragma omp simd
                for (int64_t ow = o0; ow < o1; ++ow) yr[ow] = v0[ow];
                for (int64_t kw = 1; kw < KW; ++kw)
#pragma omp simd
                    for (int64_t ow = o0; ow < o1; ++ow) yr[ow] += v0[ow + kw];
            } else {
#pragma omp simd
                for (int64_t ow = o0; ow < o1; ++ow) yr[ow] = v0[ow * SW];
                for (int64_t kw = 1; kw < KW; ++kw)
#pragma omp simd
                    for (int64_t ow = o0; ow < o1; ++ow) yr[ow] += v0[ow * SW + kw];
            }
            if (div > 0) {
#pragma omp simd
                for (int64_t ow = o0; ow < o1; ++ow) yr[ow] /= fd;
            } else {
                for (int64_t ow = o0; ow < o1; ++ow) yr[ow] = NAN;
            }
        }
        for (int64_t ow = 0; ow < OW; ++ow) {
            if (ow == o0) ow = o1;
            if (ow >= OW) break;
            const int64_t w0 = ow * SW - PL, wlo = w0 < 0 ? 0 : w0, whi = w0 + KW < W ? w0 + KW : W;
            float acc = 0.0f;
            for (int64_t w = wlo; w < whi; ++w) acc += vs[w];
            int64_t pw = 0;
            for (int64_t k = 0; k < KW; ++k) pw += w0 + k >= -PL && w0 + k < W + PR;
            const int64_t div = incl ? ph * pw : rows * (whi > wlo ? whi - wlo : 0);
            yr[ow] = div > 0 ? acc / (float)div : NAN;
        }
    }
}

#if defined(__x86_64__)
void cpu_blk_tile8__avx2(int to_blk, size_t HW, const float *src, float *dst, int cb, size_t p0, size_t np);
#endif

/* MaxPool of NCHW planes eight at a time through NCHW8c tiles, where the
 * ISA has max_win_blk8 (AVX2): the 8 planes transposed into a tile
 * [H][W][8], each output row the max_rows of its input rows (8 W floats
 * long) and max_win_blk8 over them, the output tile transposed back. The
 * row kernels above pay per output row (calls, row ends, a stride-2
 * shuffle per vector): SqueezeNet 1.1's 3x3 s2 pools over 64 x 111 x
 * 111, 128 x 55 x 55 and 256 x 27 x 27 took 0.33, 0.20 and 0.14 ms at two
 * threads that way (ORT 0.13, 0.05, 0.03; AMD EPYC). A tile of up to
 * MAXPOOL_TILE8_PX input pixels; N * C need not be a multiple of 8 (the
 * planes of the last images go through the rows). */
#define MAXPOOL_TILE8_PX 16384

static int maxpool_tile8_applies(const cpu_kernels *k, int64_t H, int64_t W, int64_t DH, int64_t DW, int64_t NC) {
#if defined(__x86_64__)
    return k->max_win_blk8 && k->max_rows && DH == 1 && DW == 1 && H * W <= MAXPOOL_TILE8_PX && W <= MAXPOOL_ROW && NC >= 8;
#else
    (void)k, (void)H, (void)W, (void)DH, (void)DW, (void)NC;
    return 0;
#endif
}

static size_t maxpool_tile8_floats(int64_t H, int64_t W, int64_t OH, int64_t OW) {
    return ((size_t)(H * W + OH * OW + W) * 8u + 15u) / 16u * 16u;
}

#if defined(__x86_64__)
static void maxpool_tile8(const cpu_kernels *k, const float *x8, float *y8, int64_t H, int64_t W, int64_t OH,
                          int64_t OW, int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t PT, int64_t PL, float *t) {
    float *tin = t, *tout = t + H * W * 8, *vrow = tout + OH * OW * 8;
    cpu_blk_tile8__avx2(1, (size_t)(H * W), x8, tin, 0, 0, (size_t)(H * W));
    int64_t o0, o1;
    cpu_pool_interior(W, OW, KW, SW, PL, &o0, &o1);
    for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = oh * SH - PT, hlo = h0 < 0 ? 0 : h0, hhi = h0 + KH < H ? h0 + KH : H;
        float *yr = tout + oh * OW * 8;
        if (hhi <= hlo) {
            for (int64_t i = 0; i < OW * 8; ++i) yr[i] = -INFINITY;
            continue;
        }
        k->max_rows(tin + hlo * W * 8, (size_t)(W * 8), (int)(hhi - hlo), (int)(W * 8), vrow);
        if (o1 > o0) k->max_win_blk8(vrow + (o0 * SW - PL) * 8, (int)(o1 - o0), (int)KW, (int)SW, yr + o0 * 8);
        for (int64_t ow = 0; ow < OW; ++ow) {
            if (ow == o0) ow = o1;
            if (ow >= OW) break;
            const int64_t w0 = ow * SW - PL, wlo = w0 < 0 ? 0 : w0, whi = w0 + KW < W ? w0 + KW : W;
            if (whi > wlo) k->max_rows(vrow + wlo * 8, 8, (int)(whi - wlo), 8, yr + ow * 8);
            else
                for (int l = 0; l < 8; ++l) yr[ow * 8 + l] = -INFINITY;
        }
    }
    cpu_blk_tile8__avx2(0, (size_t)(OH * OW), tout, y8, 0, 0, (size_t)(OH * OW));
}
#endif

static engine_status pool_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid; /* only the x86 tile path's scratch is per thread */
    const engine_node *n = s->node;
    const engine_pool_params *p = n->params;
    const engine_value *x = n->inputs[0], *yv = n->outputs[0];
    const int avg = n->op == ENGINE_OP_AveragePool, incl = p->count_include_pad;
    const int64_t NC = x->dims[0] * x->dims[1], H = x->dims[2], W = x->dims[3], OH = yv->dims[2], OW = yv->dims[3];
    const int64_t KH = p->kernel[0], KW = p->kernel[1], SH = p->stride[0], SW = p->stride[1];
    const int64_t DH = p->dilation[0] > 0 ? p->dilation[0] : 1, DW = p->dilation[1] > 0 ? p->dilation[1] : 1;
    const int64_t PT = p->pad_begin[0], PL = p->pad_begin[1], PB = p->pad_end[0], PR = p->pad_end[1];
    const float *xp = in[0];
    float *yp = out[0];
    int par = NC * OH * OW * KH * KW > PAR_MIN && s->threads > 1;
#if defined(__x86_64__)
    if (!avg && maxpool_tile8_applies(s->k, H, W, DH, DW, NC)) {
        const int64_t blocks = NC / 8;
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, pool_exec_body, par ? s->threads : 1, blocks + NC % 8);
        float *t = (float *)scratch + (size_t)tid * maxpool_tile8_floats(H, W, OH, OW);
        for (int64_t u = (int64_t)u0; u < (int64_t)u1; ++u) {
            if (u < blocks) {
                maxpool_tile8(s->k, xp + u * 8 * H * W, yp + u * 8 * OH * OW, H, W, OH, OW, KH, KW, SH, SW, PT, PL, t);
                continue;
            }
            const int64_t c = blocks * 8 + (u - blocks);
            maxpool_sep_channel(s->k, xp + c * H * W, yp + c * OH * OW, H, W, OH, OW, KH, KW, SH, SW, PT, PL);
        }
        return ENGINE_OK;
    }
#endif
    if (!avg && DH == 1 && DW == 1 && SH == 1 && SW == 1 && OW == W && KW <= 16 && OH * W <= MAXPOOL_PLANE) {
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, pool_exec_body, par ? s->threads : 1, (int64_t)(NC));
        for (int64_t c = (int64_t)u0; c < (int64_t)u1; ++c) maxpool_s1_plane(s->k, xp + c * H * W, yp + c * OH * OW, H, W, OH, KH, KW, PT, PL);
        return ENGINE_OK;
    }
    if (!avg && DH == 1 && DW == 1 && W <= MAXPOOL_ROW) {
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, pool_exec_body, par ? s->threads : 1, (int64_t)(NC));
        for (int64_t c = (int64_t)u0; c < (int64_t)u1; ++c)
            maxpool_sep_channel(s->k, xp + c * H * W, yp + c * OH * OW, H, W, OH, OW, KH, KW, SH, SW, PT, PL);
        return ENGINE_OK;
    }
    if (avg && DH == 1 && DW == 1 && W <= MAXPOOL_ROW) {
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, pool_exec_body, par ? s->threads : 1, (int64_t)(NC));
        for (int64_t c = (int64_t)u0; c < (int64_t)u1; ++c)
            avgpool_sep_channel(xp + c * H * W, yp + c * OH * OW, H, W, OH, OW, KH, KW, SH, SW, PT, PL, PB, PR, incl);
        return ENGINE_OK;
    }
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, pool_exec_body, par ? s->threads : 1, (int64_t)(NC));
    for (int64_t c = (int64_t)u0; c < (int64_t)u1; ++c) {
        const float *xc = xp + c * H * W;
        float *yc = yp + c * OH * OW;
        for (int64_t oh = 0; oh < OH; ++oh) {
            int64_t h0 = oh * SH - PT, ph = 0;
            for (int64_t k = 0; k < KH; ++k) {
                int64_t pos = h0 + k * DH;
                ph += pos >= -PT && pos < H + PB;
            }
            for (int64_t ow = 0; ow < OW; ++ow) {
                int64_t w0 = ow * SW - PL, pw = 0;
                /* The taps along W that land in the row: [kwlo, kwhi). */
                int64_t kwlo = w0 >= 0 ? 0 : (-w0 + DW - 1) / DW;
                int64_t kwhi = w0 >= W ? 0 : (W - 1 - w0) / DW + 1;
                if (kwhi > KW) kwhi = KW;
                if (kwhi < kwlo) kwhi = kwlo;
                float acc = avg ? 0.0f : -INFINITY;
                int64_t valid = 0;
                int nan = 0;
                for (int64_t kh = 0; kh < KH; ++kh) {
                    int64_t ih = h0 + kh * DH;
                    if (ih < 0 || ih >= H) continue;
                    const float *row = xc + ih * W;
                    /* Branch-free max (data-dependent branches mispredict);
                     * a NaN tap makes the result NaN, as in the reference. */
                    for (int64_t kw = kwlo; kw < kwhi; ++kw) {
                        float v = row[w0 + kw * DW];
                        if (avg)
                            acc += v;
                        else {
                            acc = v > acc ? v : acc;
                            nan |= v != v;
                        }
                    }
                    valid += kwhi - kwlo;
                }
                if (nan) acc = NAN;
                if (avg) {
                    for (int64_t k = 0; k < KW; ++k) {
                        int64_t pos = w0 + k * DW;
                        pw += pos >= -PL && pos < W + PR;
                    }
                    int64_t div = incl ? ph * pw : valid;
                    acc = div > 0 ? acc / (float)div : NAN;
                }
                yc[oh * OW + ow] = acc;
            }
        }
    }
    return ENGINE_OK;
}

static engine_status pool_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return pool_exec_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_pool(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_pool_params *p = n->params;
    if (!p || !all_f32(n) || p->spatial != 2 || p->storage_order != 0) return ENGINE_ERR_UNSUPPORTED;
    if (n->n_outputs > 1 && n->outputs[1]) return ENGINE_ERR_UNSUPPORTED; /* Indices: ref */
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (x->rank != 4 || y->rank != 4 || y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1]) return ENGINE_ERR_UNSUPPORTED;
    if (p->kernel[0] < 1 || p->kernel[1] < 1 || p->stride[0] < 1 || p->stride[1] < 1) return ENGINE_ERR_UNSUPPORTED;
    s->exec = pool_exec;
    const int64_t NC = x->dims[0] * x->dims[1], H = x->dims[2], W = x->dims[3];
    const int tile8 = n->op == ENGINE_OP_MaxPool && maxpool_tile8_applies(s->k, H, W, p->dilation[0] > 0 ? p->dilation[0] : 1,
                                                                         p->dilation[1] > 0 ? p->dilation[1] : 1, NC);
    if (tile8)
        s->scratch_bytes = sizeof(float) * (size_t)(s->threads < 1 ? 1 : s->threads) *
                           maxpool_tile8_floats(H, W, y->dims[2], y->dims[3]);
    snprintf(s->kernel, sizeof s->kernel, "f32_%s%dx%ds%d_nchw%s__pool", n->op == ENGINE_OP_MaxPool ? "maxpool" : "avgpool",
             (int)p->kernel[0], (int)p->kernel[1], (int)p->stride[0], tile8 ? "_tile8" : "");
    (void)c;
    return ENGINE_OK;
}

/* ---- global pools, and ReduceMean/Sum/Max over trailing axes ----
 * y[c] = reduce(x[c, 0:plane]) for c < NC. iparam[0]: 0 max, 1 mean, 2 sum;
 * iparam[1] the axis where the reduced run starts. */
static engine_status gpool_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
    const engine_value *x = s->node->inputs[0];
    int64_t NC = 1;
    for (int d = 0; d < s->iparam[1]; ++d) NC *= x->dims[d];
    const int64_t plane = numel(x) / (NC ? NC : 1);
    const int avg = s->iparam[0] != 0, mean = s->iparam[0] == 1;
    const float *xp = in[0];
    float *y = out[0];
    int par = NC * plane > PAR_MIN && s->threads > 1;
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, gpool_exec_body, par ? s->threads : 1, (int64_t)(NC));
    for (int64_t c = (int64_t)u0; c < (int64_t)u1; ++c) {
        const float *xc = xp + c * plane;
        if (avg) {
            float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
            for (int64_t i = 0; i < plane; ++i) acc += xc[i];
            y[c] = !mean ? acc : plane ? acc / (float)plane : NAN;
        } else {
            float m = plane ? xc[0] : NAN;
            for (int64_t i = 1; i < plane; ++i)
                if (xc[i] > m || (xc[i] != xc[i] && m == m)) m = xc[i];
            y[c] = m;
        }
    }
    return ENGINE_OK;
}

static engine_status gpool_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return gpool_exec_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_gpool(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_value *x = s->node->inputs[0], *y = s->node->outputs[0];
    if (!all_f32(s->node) || x->rank < 3 || numel(y) != x->dims[0] * x->dims[1]) return ENGINE_ERR_UNSUPPORTED;
    s->exec = gpool_exec;
    s->iparam[0] = s->node->op == ENGINE_OP_GlobalAveragePool;
    s->iparam[1] = 2;
    snprintf(s->kernel, sizeof s->kernel, "f32_global%spool_nchw__pool",
             s->node->op == ENGINE_OP_GlobalAveragePool ? "avg" : "max");
    (void)c;
    return ENGINE_OK;
}

/* ReduceMean/Sum/Max whose axes are the trailing run [a, rank) of a
 * non-empty float32 input (ShuffleNet's and the ViT-less nets' mean over
 * H, W): the global pool loop. Other axes: the reference kernel. */
static engine_status prepare_reduce(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_reduce_params *p = n->params;
    if (!p || n->n_inputs < 1 || n->n_outputs != 1 || !n->inputs[0] || !n->outputs[0]) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (x->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32 || x->rank < 1 || x->rank > 31) return ENGINE_ERR_UNSUPPORTED;
    const uint32_t all = (1u << x->rank) - 1u;
    int a = x->rank;
    while (a > 0 && (p->axes_mask >> (a - 1) & 1u)) --a;
    if (a == x->rank || (p->axes_mask & all) != (all & ~((1u << a) - 1u)) || (p->axes_mask & ~all)) return ENGINE_ERR_UNSUPPORTED;
    int64_t rows = 1;
    for (int d = 0; d < a; ++d) rows *= x->dims[d];
    if (numel(x) <= 0 || numel(y) != rows) return ENGINE_ERR_UNSUPPORTED;
    s->exec = gpool_exec;
    s->iparam[0] = n->op == ENGINE_OP_ReduceMean ? 1 : n->op == ENGINE_OP_ReduceSum ? 2 : 0;
    s->iparam[1] = a;
    snprintf(s->kernel, sizeof s->kernel, "f32_%s_trailing__pool", n->op_type);
    (void)c;
    return ENGINE_OK;
}

/* ---- BatchNormalization (inference): y = x * mul[c] + add[c] ---- */
static engine_status bn_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
    const engine_value *x = s->node->inputs[0];
    const int64_t N = x->dims[0], C = x->dims[1], plane = N * C > 0 ? numel(x) / (N * C) : 0;
    const float *mul = s->prep, *add = mul + C, *xp = in[0];
    float *y = out[0];
    int par = N * C * plane > PAR_MIN && s->threads > 1;
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, bn_exec_body, par ? s->threads : 1, (int64_t)(N * C));
    for (int64_t r = (int64_t)u0; r < (int64_t)u1; ++r) {
        const float m = mul[r % C], a = add[r % C];
        const float *xr = xp + r * plane;
        float *yr = y + r * plane;
        for (int64_t i = 0; i < plane; ++i) yr[i] = xr[i] * m + a;
    }
    return ENGINE_OK;
}

static engine_status bn_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return bn_exec_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_bn(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_scalar_params *p = n->params;
    if (!p || !all_f32(n) || n->n_inputs < 5 || n->inputs[0]->rank < 2) return ENGINE_ERR_UNSUPPORTED;
    if (p->size) return ENGINE_ERR_UNSUPPORTED; /* training_mode: the reference kernel */
    for (int k = 1; k < n->n_outputs; ++k)
        if (n->outputs[k]) return ENGINE_ERR_UNSUPPORTED;
    for (int k = 1; k < 5; ++k)
        if (!n->inputs[k] || !n->inputs[k]->data || numel(n->inputs[k]) != n->inputs[0]->dims[1])
            return ENGINE_ERR_UNSUPPORTED;
    int64_t C = n->inputs[0]->dims[1];
    float *t = prep_alloc(c, s, sizeof(float) * 2 * (size_t)C);
    if (!t) return ENGINE_ERR_OUT_OF_MEMORY;
    const float *scale = n->inputs[1]->data, *bias = n->inputs[2]->data, *mean = n->inputs[3]->data,
                *var = n->inputs[4]->data;
    for (int64_t i = 0; i < C; ++i) {
        double inv = 1.0 / sqrt((double)var[i] + (double)p->epsilon);
        double m = (double)scale[i] * inv;
        t[i] = (float)m;
        t[C + i] = (float)((double)bias[i] - (double)mean[i] * m);
    }
    s->exec = bn_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_batchnorm_nchw__pool");
    return ENGINE_OK;
}

/* ---- LayerNormalization over the trailing dims ----
 * One row per normalised group (rows split over the threads): mean and
 * population variance in float with eight partial sums (the compiler
 * vectorises them), then y = (x - mean) * inv * scale + bias. The Mean and
 * InvStdDev outputs (training) go to the reference kernel. iparam: rows,
 * inner. */
static engine_status layernorm_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                                    int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const int64_t rows = s->iparam[0], inner = s->iparam[1];
    const float eps = ((const engine_scalar_params *)s->node->params)->epsilon;
    const float *X = in[0], *S = in[1], *B = s->node->n_inputs > 2 ? in[2] : NULL;
    float *Y = out[0];
    int par = rows * inner > PAR_MIN && s->threads > 1;
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, layernorm_body, par ? s->threads : 1, rows);
    for (int64_t r = u0; r < u1; ++r) {
        const float *x = X + r * inner;
        float *y = Y + r * inner;
        float acc[8] = {0};
        int64_t i = 0;
        for (; i + 8 <= inner; i += 8)
            for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
        float sum = 0.0f;
        for (; i < inner; ++i) sum += x[i];
        for (int j = 0; j < 8; ++j) sum += acc[j];
        const float mean = sum / (float)inner;
        float sq[8] = {0};
        for (i = 0; i + 8 <= inner; i += 8)
            for (int j = 0; j < 8; ++j) sq[j] += (x[i + j] - mean) * (x[i + j] - mean);
        float var = 0.0f;
        for (; i < inner; ++i) var += (x[i] - mean) * (x[i] - mean);
        for (int j = 0; j < 8; ++j) var += sq[j];
        const float inv = 1.0f / sqrtf(var / (float)inner + eps);
        if (B)
            for (i = 0; i < inner; ++i) y[i] = (x[i] - mean) * inv * S[i] + B[i];
        else
            for (i = 0; i < inner; ++i) y[i] = (x[i] - mean) * inv * S[i];
    }
    return ENGINE_OK;
}

static engine_status layernorm_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return layernorm_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_layernorm(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_scalar_params *p = n->params;
    if (!p || !all_f32(n) || n->n_inputs < 2 || !n->inputs[1]) return ENGINE_ERR_UNSUPPORTED;
    for (int k = 1; k < n->n_outputs; ++k)
        if (n->outputs[k]) return ENGINE_ERR_UNSUPPORTED; /* Mean / InvStdDev: the reference kernel */
    const engine_value *x = n->inputs[0];
    int64_t rows = 1, inner = 1;
    for (int d = 0; d < x->rank; ++d) *(d < p->size ? &rows : &inner) *= x->dims[d];
    if (inner < 1 || rows < 1 || rows > INT32_MAX / 2 || inner > INT32_MAX / 2) return ENGINE_ERR_UNSUPPORTED;
    /* scale and bias exactly the normalised shape's size (no broadcast) */
    if (numel(n->inputs[1]) != inner || (n->n_inputs > 2 && n->inputs[2] && numel(n->inputs[2]) != inner))
        return ENGINE_ERR_UNSUPPORTED;
    s->iparam[0] = (int)rows;
    s->iparam[1] = (int)inner;
    s->exec = layernorm_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_layernorm__%s", c->k->isa_name);
    return ENGINE_OK;
}

/* ---- Softmax / LogSoftmax along the last axis (opset 13+ form, or the
 * legacy 2-D form whose inner block is the row) ----
 * Per row: the ISA's softmax_row (Softmax), or the max, the sum of
 * exp(x - max) and x - max - log(sum) (LogSoftmax).
 * Other axes go to the reference kernel. iparam: rows, len. */
static engine_status softmax_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                                  int tid, int64_t u0, int64_t u1) {
    (void)tid;
    const int64_t rows = s->iparam[0], len = s->iparam[1];
    const int log_form = s->node->op == ENGINE_OP_LogSoftmax;
    int par = rows * len > PAR_MIN && s->threads > 1;
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, softmax_body, par ? s->threads : 1, rows);
    for (int64_t r = u0; r < u1; ++r) {
        const float *x = (const float *)in[0] + r * len;
        float *y = (float *)out[0] + r * len;
        if (!log_form) {
            s->k->softmax_row(x, y, (size_t)len);
            continue;
        }
        float mx = x[0];
        for (int64_t i = 1; i < len; ++i) mx = x[i] > mx ? x[i] : mx;
        if (mx != mx || mx == INFINITY || mx == -INFINITY) { /* NaN or inf: the reference's formula decides */
            for (int64_t i = 0; i < len; ++i) y[i] = NAN;
            continue;
        }
        float sum = 0.0f;
        for (int64_t i = 0; i < len; ++i) sum += expf(x[i] - mx);
        const float l = logf(sum); /* (x - max) first: large x keep their precision */
        for (int64_t i = 0; i < len; ++i) y[i] = (x[i] - mx) - l;
    }
    return ENGINE_OK;
}

static engine_status softmax_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return softmax_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_softmax(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_softmax_params *p = n->params;
    const engine_value *x = n->inputs[0];
    if (!p || !all_f32(n) || x->rank < 1) return ENGINE_ERR_UNSUPPORTED;
    int64_t len = 1, rows = 1;
    if (p->legacy) {
        for (int d = 0; d < x->rank; ++d) *(d < p->axis ? &rows : &len) *= x->dims[d];
    } else {
        if (p->axis != x->rank - 1) return ENGINE_ERR_UNSUPPORTED;
        len = x->dims[x->rank - 1];
        rows = len > 0 ? numel(x) / len : 0;
    }
    if (len < 1 || rows < 1 || len > INT32_MAX / 2 || rows > INT32_MAX / 2) return ENGINE_ERR_UNSUPPORTED;
    s->iparam[0] = (int)rows;
    s->iparam[1] = (int)len;
    s->exec = softmax_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_%s_rows__%s", n->op_type, c->k->isa_name);
    return ENGINE_OK;
}

/* ---- ScatterElements without reduction: rows instead of per-element
 * coordinates ----
 * Where the indices' dims after the axis equal the data's (torchvision's
 * MultiScaleRoIAlign scatters [R,C,7,7] along axis 0 into [N,C,7,7]), the
 * element at (outer o, axis a, inner k) of the updates goes to data
 * (o, index, k): a row loop with no division per element. The reference
 * decodes every element's coordinates (rank divisions each). Writes stay
 * in the reference's order (duplicate indices: the last update wins). */
static engine_status scatter_rows_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    (void)scratch;
    const engine_node *n = s->node;
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    const size_t es = ref_elem_size(x->dtype);
    const int ax = p->axis;
    int64_t outer = 1, inner = 1;
    for (int d = ax + 1; d < x->rank; ++d) inner *= x->dims[d];
    for (int d = 0; d < ax; ++d) outer *= idx->dims[d];
    const int64_t A = idx->dims[ax], XA = x->dims[ax];
    if (out[0] != in[0]) memcpy(out[0], in[0], (size_t)numel(x) * es);
    char *y = out[0];
    const char *u = in[2];
    const int i64 = idx->dtype == ENGINE_DTYPE_I64;
    for (int64_t o = 0; o < outer; ++o) {
        /* the data row of outer position o (idx dims before the axis may be smaller than x's) */
        int64_t xo = 0, rem = o, mul = XA * inner;
        for (int d = ax - 1; d >= 0; --d) {
            xo += rem % idx->dims[d] * mul;
            rem /= idx->dims[d];
            mul *= x->dims[d];
        }
        for (int64_t a = 0; a < A; ++a) {
            const int64_t j0 = (o * A + a) * inner;
            for (int64_t k = 0; k < inner; ++k) {
                int64_t i = i64 ? ((const int64_t *)in[1])[j0 + k] : ((const int32_t *)in[1])[j0 + k];
                if (i < 0) i += XA;
                if (i < 0 || i >= XA) return ENGINE_ERR_INVALID_ARGUMENT;
                const int64_t dst = xo + i * inner + k;
                if (es == 4) ((uint32_t *)(void *)y)[dst] = ((const uint32_t *)(const void *)u)[j0 + k];
                else if (es == 8) ((uint64_t *)(void *)y)[dst] = ((const uint64_t *)(const void *)u)[j0 + k];
                else memcpy(y + dst * (int64_t)es, u + (j0 + k) * (int64_t)es, es);
            }
        }
    }
    return ENGINE_OK;
}

static engine_status prepare_scatter_rows(const cpu_prep_ctx *c, cpu_step *s) {
    (void)c;
    const engine_node *n = s->node;
    const engine_index_params *p = n->params;
    if (!p || p->reduction != 0 || n->n_inputs < 3 || !n->inputs[1] || !n->inputs[2] || !ref_supports(n))
        return ENGINE_ERR_UNSUPPORTED;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1], *upd = n->inputs[2];
    if (x->rank < 1 || idx->rank != x->rank || upd->rank != x->rank || p->axis < 0 || p->axis >= x->rank ||
        ref_elem_size(x->dtype) == 0 || (idx->dtype != ENGINE_DTYPE_I64 && idx->dtype != ENGINE_DTYPE_I32) ||
        upd->dtype != x->dtype)
        return ENGINE_ERR_UNSUPPORTED;
    for (int d = 0; d < x->rank; ++d) {
        if (upd->dims[d] != idx->dims[d] || idx->dims[d] > x->dims[d] || idx->dims[d] <= 0) return ENGINE_ERR_UNSUPPORTED;
        if (d > p->axis && idx->dims[d] != x->dims[d]) return ENGINE_ERR_UNSUPPORTED;
    }
    s->exec = scatter_rows_exec;
    snprintf(s->kernel, sizeof s->kernel, "x%d_scatter_rows__scalar", (int)(8 * ref_elem_size(x->dtype)));
    return ENGINE_OK;
}

/* ---- RoiAlign: the reference's arithmetic, rois over the threads ----
 * The sampling points of a roi (bins x samples per bin) and their four
 * bilinear taps (offsets and weights, in double as the reference) are the
 * same for every channel: computed once per roi into a table, then each
 * channel is a gather-multiply over the table, in the reference's order
 * (bit-identical results). A roi whose table does not fit (more than
 * ROI_TAPS_MAX sampling points) runs the reference's loop. */
#define ROI_TAPS_MAX 1024
typedef struct roi_tap {
    int64_t o[4];
    double w[4];
    int in; /* 0: outside the map, contributes nothing */
} roi_tap;

static void roialign_rows_tabled(const engine_node *n, const void *const *in, void *const *out, int64_t r0, int64_t r1,
                                 roi_tap *tab) {
    const engine_roialign_params *p = n->params;
    const engine_value *x = n->inputs[0], *bi = n->inputs[2];
    const float *X = in[0], *rois = in[1];
    float *Y = out[0];
    const int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    const int64_t oh = p->out_h, ow = p->out_w;
    const double off = p->half_pixel ? 0.5 : 0.0, scale = p->spatial_scale;
    for (int64_t r = r0; r < r1; ++r) {
        int64_t b = bi->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)in[2])[r] : ((const int32_t *)in[2])[r];
        if (b < 0 || b >= N) continue;
        const float *roi = rois + r * 4;
        double x0 = roi[0] * scale - off, y0 = roi[1] * scale - off;
        double rw = roi[2] * scale - off - x0, rh = roi[3] * scale - off - y0;
        if (!p->half_pixel) {
            rw = rw > 1.0 ? rw : 1.0;
            rh = rh > 1.0 ? rh : 1.0;
        }
        double bh = rh / (double)oh, bw = rw / (double)ow;
        int64_t gh = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rh / (double)oh);
        int64_t gw = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rw / (double)ow);
        if (gh < 0) gh = 0;
        if (gw < 0) gw = 0;
        if (oh * ow > ROI_TAPS_MAX || (gh * gw > 0 && oh * ow * gh * gw > ROI_TAPS_MAX)) {
            ref_roialign_rows(n, in, out, r, r + 1);
            continue;
        }
        const int64_t per = gh * gw;
        const double count = per > 0 ? (double)per : 1.0;
        for (int64_t ph = 0; ph < oh; ++ph)
            for (int64_t pw = 0; pw < ow; ++pw)
                for (int64_t iy = 0; iy < gh; ++iy) {
                    double yy = y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                    for (int64_t ix = 0; ix < gw; ++ix) {
                        double xx = x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                        {
                            roi_tap *t = &tab[((ph * ow + pw) * gh + iy) * gw + ix];
                            t->in = ref_roialign_tap(H, W, yy, xx, t->o, t->w);
                        }
                    }
                }
        for (int64_t c = 0; c < C; ++c) {
            const float *plane = X + (b * C + c) * H * W;
            float *dst = Y + (r * C + c) * oh * ow;
            for (int64_t q = 0; q < oh * ow; ++q) {
                const roi_tap *t = tab + q * per;
                double acc = 0.0, best = -INFINITY;
                for (int64_t k = 0; k < per; ++k) {
                    double t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0;
                    if (t[k].in) {
                        t0 = t[k].w[0] * plane[t[k].o[0]], t1 = t[k].w[1] * plane[t[k].o[1]];
                        t2 = t[k].w[2] * plane[t[k].o[2]], t3 = t[k].w[3] * plane[t[k].o[3]];
                    }
                    if (p->max_mode) {
                        double m = fmax(fmax(t0, t1), fmax(t2, t3));
                        best = m > best ? m : best;
                    } else {
                        acc += t0 + t1 + t2 + t3;
                    }
                }
                dst[q] = (float)(p->max_mode ? (per > 0 ? best : 0.0) : acc / count);
            }
        }
    }
}

static engine_status roialign_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
                                   int tid, int64_t u0, int64_t u1) {
    if (u0 < 0) {
        engine_status st = ref_roialign_check(s->node, in);
        if (st) return st;
        const engine_value *x = s->node->inputs[0];
        int64_t rois = s->node->inputs[1]->dims[0], work = rois * x->dims[1] * s->iparam[0];
        return cpu_run_range(s, in, out, scratch, roialign_body, work > PAR_MIN / 4 && s->threads > 1 ? s->threads : 1,
                             rois);
    }
    /* each thread its table in the step's scratch (prepare_roialign) */
    if (!scratch || tid < 0 || tid >= (s->threads < 1 ? 1 : s->threads)) ref_roialign_rows(s->node, in, out, u0, u1);
    else roialign_rows_tabled(s->node, in, out, u0, u1, (roi_tap *)scratch + (size_t)tid * ROI_TAPS_MAX);
    return ENGINE_OK;
}

static engine_status roialign_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return roialign_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_roialign(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_roialign_params *p = n->params;
    if (!p || n->n_inputs < 3 || !n->inputs[1] || !n->inputs[2] || !ref_supports(n)) return ENGINE_ERR_UNSUPPORTED;
    if (n->inputs[0]->rank != 4 || n->inputs[1]->rank != 2) return ENGINE_ERR_UNSUPPORTED;
    s->iparam[0] = (int)(p->out_h * p->out_w);
    s->scratch_bytes = (size_t)(s->threads < 1 ? 1 : s->threads) * ROI_TAPS_MAX * sizeof(roi_tap);
    s->exec = roialign_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_roialign_tabled__threaded");
    (void)c;
    return ENGINE_OK;
}

/* ---- activation ops through the ISA's act_row ---- */
static engine_status act_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
    const engine_scalar_params *p = s->node->params;
    engine_epilogue e = {(engine_act)s->iparam[0], 0.0f, 0.0f, 0};
    if (e.act == ENGINE_ACT_CLIP) e.alpha = p->min, e.beta = p->max;
    if (e.act == ENGINE_ACT_LEAKY_RELU) e.alpha = p->alpha;
    if (e.act == ENGINE_ACT_HARD_SIGMOID) e.alpha = p->alpha, e.beta = p->beta;
    if (e.act == ENGINE_ACT_GELU) e.alpha = p->size ? 1.0f : 0.0f; /* approximate "tanh" */
    const int64_t total = numel(s->node->outputs[0]);
    const float *x = in[0];
    float *y = out[0];
    const int64_t chunk = 4096;
    int par = total > PAR_MIN && s->threads > 1;
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, act_exec_body, par ? s->threads : 1, (total + chunk - 1) / chunk);
    for (int64_t u = u0; u < u1; ++u) {
        const int64_t i0 = u * chunk, len = total - i0 < chunk ? total - i0 : chunk;
        if (y + i0 != x + i0) memcpy(y + i0, x + i0, (size_t)len * sizeof(float));
        s->k->act_row(&e, y + i0, (size_t)len);
    }
    return ENGINE_OK;
}

static engine_status act_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return act_exec_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_act(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    engine_act a;
    switch (n->op) {
    case ENGINE_OP_Relu: a = ENGINE_ACT_RELU; break;
    case ENGINE_OP_Clip: a = ENGINE_ACT_CLIP; break;
    case ENGINE_OP_LeakyRelu: a = ENGINE_ACT_LEAKY_RELU; break;
    case ENGINE_OP_Sigmoid: a = ENGINE_ACT_SIGMOID; break;
    case ENGINE_OP_HardSigmoid: a = ENGINE_ACT_HARD_SIGMOID; break;
    case ENGINE_OP_HardSwish: a = ENGINE_ACT_HARD_SWISH; break;
    case ENGINE_OP_Tanh: a = ENGINE_ACT_TANH; break;
    case ENGINE_OP_Gelu: a = ENGINE_ACT_GELU; break;
    default: return ENGINE_ERR_UNSUPPORTED;
    }
    if (!all_f32(n) || !n->params || n->n_outputs != 1 || !n->inputs[0] ||
        numel(n->inputs[0]) != numel(n->outputs[0]))
        return ENGINE_ERR_UNSUPPORTED;
    if (a == ENGINE_ACT_CLIP) {
        /* NaN bounds or min > max: the reference's exact formula decides. */
        const engine_scalar_params *p = n->params;
        if (!(p->min <= p->max)) return ENGINE_ERR_UNSUPPORTED;
    }
    s->iparam[0] = (int)a;
    s->exec = act_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_%s__%s", n->op_type, c->k->isa_name);
    return ENGINE_OK;
}

/* ---- Add / Sub / Mul / Div ----
 * One operand has the output's shape ("big"), the other ("small") varies
 * along one contiguous run of the output's dims only (or is a scalar):
 * y[o, m, i] = big[o, m, i] (op) small[m], with the operand order kept.
 * iparam: op, small operand index, outer, mid, inner. */
enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

/* y[i] = a[i] (op) b[i] over n floats, where an operand whose step is 0
 * is one float read n times. The op and the steps are chosen outside the
 * loops, so each loop is a plain vector loop. */
#define BIN_LOOPS(EXPR)                                                                                           \
    do {                                                                                                          \
        if (as && bs) {                                                                                           \
            _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) { const float x = a[i], z = b[i]; y[i] = EXPR; } \
        } else if (bs) {                                                                                          \
            const float x = a[0];                                                                                 \
            _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) { const float z = b[i]; y[i] = EXPR; }           \
        } else {                                                                                                  \
            const float z = b[0];                                                                                 \
            _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) { const float x = a[i]; y[i] = EXPR; }           \
        }                                                                                                         \
    } while (0)

static void bin_span(int op, float *y, const float *a, int as, const float *b, int bs, int64_t n) {
    switch (op) {
    case BIN_ADD: BIN_LOOPS(x + z); break;
    case BIN_SUB: BIN_LOOPS(x - z); break;
    case BIN_MUL: BIN_LOOPS(x * z); break;
    default: BIN_LOOPS(x / z); break;
    }
}
#undef BIN_LOOPS

/* Units: runs of BIN_CHUNK output floats (so a same-shape or scalar
 * operand node, one row, still splits over the threads). */
#define BIN_CHUNK 4096

static engine_status binary_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
    const int op = s->iparam[0], si = s->iparam[1];
    const int64_t outer = s->iparam[2], mid = s->iparam[3], inner = s->iparam[4];
    const float *big = in[1 - si], *sm = in[si];
    float *y = out[0];
    const int64_t total = outer * mid * inner;
    if (u0 < 0) {
        const int par = total > PAR_MIN && s->threads > 1;
        return cpu_run_range(s, in, out, scratch, binary_exec_body, par ? s->threads : 1,
                             (total + BIN_CHUNK - 1) / BIN_CHUNK);
    }
    const int64_t e1 = u1 * BIN_CHUNK < total ? u1 * BIN_CHUNK : total;
    /* Rows of `row` floats that share one stretch of the small operand:
     * inner == 1: rows of mid floats read against sm[0..mid) element for
     * element; else rows of inner floats against the single sm[r % mid]. */
    const int64_t row = inner == 1 ? mid : inner;
    for (int64_t e = u0 * BIN_CHUNK; e < e1;) {
        const int64_t r = e / row, off = e - r * row;
        const int64_t n = (r + 1) * row < e1 ? row - off : e1 - e;
        const float *sp = inner == 1 ? sm + off : sm + r % mid;
        const int svec = inner == 1;
        if (si == 1) bin_span(op, y + e, big + e, 1, sp, svec, n);
        else bin_span(op, y + e, sp, svec, big + e, 1, n);
        e += n;
    }
    return ENGINE_OK;
}

static engine_status binary_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return binary_exec_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_binary(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    int op;
    switch (n->op) {
    case ENGINE_OP_Add: op = BIN_ADD; break;
    case ENGINE_OP_Sub: op = BIN_SUB; break;
    case ENGINE_OP_Mul: op = BIN_MUL; break;
    case ENGINE_OP_Div: op = BIN_DIV; break;
    default: return ENGINE_ERR_UNSUPPORTED;
    }
    if (!all_f32(n) || n->n_inputs != 2 || !n->inputs[0] || !n->inputs[1]) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *y = n->outputs[0];
    const int64_t total = numel(y);
    int si;
    if (numel(n->inputs[0]) == total && n->inputs[0]->rank == y->rank)
        si = 1;
    else if (numel(n->inputs[1]) == total && n->inputs[1]->rank == y->rank)
        si = 0;
    else
        return ENGINE_ERR_UNSUPPORTED;
    const engine_value *sm = n->inputs[si], *bg = n->inputs[1 - si];
    for (int d = 0; d < y->rank; ++d)
        if (bg->dims[d] != y->dims[d]) return ENGINE_ERR_UNSUPPORTED;
    if (sm->rank > y->rank) return ENGINE_ERR_UNSUPPORTED;
    /* The dims where small is not 1 (right-aligned) must be one run. */
    int lo = -1, hi = -1;
    for (int d = 0; d < y->rank; ++d) {
        int sd = d - (y->rank - sm->rank);
        int64_t dim = sd >= 0 ? sm->dims[sd] : 1;
        if (dim == 1) continue;
        if (dim != y->dims[d]) return ENGINE_ERR_UNSUPPORTED;
        if (lo < 0) lo = d;
        else if (hi != d) return ENGINE_ERR_UNSUPPORTED;
        hi = d + 1;
    }
    int64_t outer = 1, mid = 1, inner = 1;
    if (lo < 0) lo = hi = y->rank;
    for (int d = 0; d < y->rank; ++d) {
        if (d < lo) outer *= y->dims[d];
        else if (d < hi) mid *= y->dims[d];
        else inner *= y->dims[d];
    }
    if (outer > INT32_MAX || mid > INT32_MAX || inner > INT32_MAX) return ENGINE_ERR_UNSUPPORTED;
    if (sm->rank == y->rank && mid == total) inner = 1, outer = 1; /* same shape: one flat row */
    if (mid == 1) inner *= outer, outer = 1; /* a scalar: one flat row against sm[0] */
    s->iparam[0] = op;
    s->iparam[1] = si;
    s->iparam[2] = (int)outer;
    s->iparam[3] = (int)mid;
    s->iparam[4] = (int)inner;
    s->exec = binary_exec;
    snprintf(s->kernel, sizeof s->kernel, "f32_%s_%s__pool", n->op_type, mid == total ? "same" : "bcast");
    (void)c;
    return ENGINE_OK;
}

/* ---- Transpose, Slice and Expand: one strided copy ----
 * Output element c (multi-index) reads input element base + sum c[d]*st[d]
 * (Transpose: st[d] = input stride of perm[d]; Slice: step[d] * input
 * stride of d, base = the starts). Size-1 dims are dropped and output dims
 * that are also adjacent in the input are merged, so ShuffleNet's channel
 * shuffle ([1,2,C/2,H,W], perm 0 2 1 3 4) becomes C rows of H*W contiguous
 * floats and its channel-half Slice a single run: memcpy per row, rows
 * split over the threads. The reference loops per element with a
 * coordinate decode each (about 57% of ShuffleNet v2's time under perf).
 * Expand is the same copy with stride 0 along the repeated dims (Faster
 * R-CNN's MultiScaleRoIAlign expands its RoI indices to [R,C,7,7] int64:
 * 19% of the detector under the reference loop). */
typedef struct strided_geom {
    int rank;
    int64_t base, dims[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK];
} strided_geom;

/* 0 when the node is not one this copy handles as it is (ref then runs). */
static int strided_geom_of(const engine_node *n, strided_geom *g) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    const int expand = n->op == ENGINE_OP_Expand;
    if (!x || !y || (!expand && !n->params) || y->rank < 1 || y->rank > ENGINE_MAX_RANK || x->rank < 0 ||
        (expand ? x->rank > y->rank : x->rank != y->rank))
        return 0;
    if (x->dtype != y->dtype || ref_elem_size(y->dtype) == 0) return 0;
    int64_t xs[ENGINE_MAX_RANK], acc = 1;
    for (int d = x->rank - 1; d >= 0; --d) {
        xs[d] = acc;
        acc *= x->dims[d];
    }
    g->base = 0;
    int64_t dims[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK];
    for (int d = 0; d < y->rank; ++d) {
        dims[d] = y->dims[d];
        if (dims[d] == 0) return 0; /* empty: nothing to copy, ref does it */
        if (expand) {
            /* x aligned to the right; a size-1 (or missing) dim repeats: stride 0 */
            int xd = d - (y->rank - x->rank);
            if (xd < 0 || x->dims[xd] == 1) st[d] = 0;
            else if (x->dims[xd] == y->dims[d]) st[d] = xs[xd];
            else return 0;
        } else if (n->op == ENGINE_OP_Transpose) {
            const engine_transpose_params *p = n->params;
            int pd = p->perm[d];
            if (pd < 0 || pd >= x->rank || x->dims[pd] != y->dims[d]) return 0;
            st[d] = xs[pd];
        } else {
            const engine_slice_params *p = n->params;
            int64_t last = p->start[d] + (y->dims[d] - 1) * p->step[d];
            if (p->start[d] < 0 || p->start[d] >= x->dims[d] || last < 0 || last >= x->dims[d]) return 0;
            st[d] = p->step[d] * xs[d];
            g->base += p->start[d] * xs[d];
        }
    }
    int r = 0;
    for (int d = 0; d < y->rank; ++d) {
        if (dims[d] == 1) continue;
        if (r > 0 && g->st[r - 1] == st[d] * dims[d]) { /* contiguous with the previous dim */
            g->dims[r - 1] *= dims[d];
            g->st[r - 1] = st[d];
            continue;
        }
        g->dims[r] = dims[d];
        g->st[r] = st[d];
        ++r;
    }
    if (r == 0) g->dims[0] = 1, g->st[0] = 1, r = 1;
    g->rank = r;
    return 1;
}

static engine_status strided_copy_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
    strided_geom g;
    if (!strided_geom_of(s->node, &g)) return ENGINE_ERR_INVALID_ARGUMENT; /* checked at prepare */
    const size_t es = ref_elem_size(s->node->outputs[0]->dtype);
    const int r = g.rank;
    const int64_t inner = g.dims[r - 1], ist = g.st[r - 1];
    int64_t rows = 1;
    for (int d = 0; d < r - 1; ++d) rows *= g.dims[d];
    const char *x = in[0];
    char *y = out[0];
    int par = s->threads > 1 && rows > 1 && rows * inner > PAR_MIN;
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, strided_copy_exec_body, par ? s->threads : 1, (int64_t)(rows));
    for (int64_t row = (int64_t)u0; row < (int64_t)u1; ++row) {
        int64_t off = g.base, rem = row;
        for (int d = r - 2; d >= 0; --d) {
            off += rem % g.dims[d] * g.st[d];
            rem /= g.dims[d];
        }
        char *dst = y + (size_t)(row * inner) * es;
        const char *src = x + (ptrdiff_t)off * (ptrdiff_t)es;
        if (ist == 1) {
            memcpy(dst, src, (size_t)inner * es);
        } else if (ist == 0 && (es == 4 || es == 8)) { /* Expand along the inner run: a fill */
            if (es == 4) {
                uint32_t v;
                memcpy(&v, src, 4);
                for (int64_t i = 0; i < inner; ++i) ((uint32_t *)dst)[i] = v;
            } else {
                uint64_t v;
                memcpy(&v, src, 8);
                for (int64_t i = 0; i < inner; ++i) ((uint64_t *)dst)[i] = v;
            }
        } else if (es == 4) {
            float *d4 = (float *)dst;
            const float *s4 = (const float *)src;
            for (int64_t i = 0; i < inner; ++i) d4[i] = s4[i * ist];
        } else {
            for (int64_t i = 0; i < inner; ++i) memcpy(dst + (size_t)i * es, src + (ptrdiff_t)(i * ist) * (ptrdiff_t)es, es);
        }
    }
    return ENGINE_OK;
}

static engine_status strided_copy_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return strided_copy_exec_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_strided_copy(const cpu_prep_ctx *c, cpu_step *s) {
    (void)c;
    strided_geom g;
    if (s->node->n_inputs < 1 || s->node->n_outputs < 1 || !strided_geom_of(s->node, &g)) return ENGINE_ERR_UNSUPPORTED;
    s->exec = strided_copy_exec;
    snprintf(s->kernel, sizeof s->kernel, "x%d_%s_%s__pool", (int)(8 * ref_elem_size(s->node->outputs[0]->dtype)),
             s->node->op == ENGINE_OP_Transpose ? "transpose" : s->node->op == ENGINE_OP_Expand ? "expand" : "slice",
             g.st[g.rank - 1] == 1 ? "memcpy" : g.st[g.rank - 1] == 0 ? "fill" : "strided");
    return ENGINE_OK;
}

/* ---- Views: nodes whose output is one contiguous run of their input ---- */
int cpu_op_view(const engine_node *n, size_t *byte_offset) {
    *byte_offset = 0;
    if (n->n_inputs < 1 || n->n_outputs < 1 || !n->inputs[0] || !n->outputs[0]) return 0;
    for (int j = 1; j < n->n_outputs; ++j)
        if (n->outputs[j]) return 0;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (x->dtype != y->dtype || ref_elem_size(y->dtype) == 0 || numel(y) <= 0) return 0;
    switch (n->op) {
    case ENGINE_OP_Reshape: case ENGINE_OP_Flatten: case ENGINE_OP_Squeeze: case ENGINE_OP_Unsqueeze:
        return numel(x) == numel(y);
    case ENGINE_OP_Slice: case ENGINE_OP_Transpose: {
        strided_geom g;
        if (!strided_geom_of(n, &g) || g.rank != 1 || g.st[0] != 1) return 0;
        if (g.base < 0 || g.base + numel(y) > numel(x)) return 0;
        *byte_offset = (size_t)g.base * ref_elem_size(y->dtype);
        return 1;
    }
    default: return 0;
    }
}

/* ---- Concat: memcpy of each input's slab per outer index ----
 * The copies cut into pieces of at most CONCAT_PIECE bytes, the pieces
 * over the threads where there are CONCAT_PAR_MIN bytes to move. At batch
 * 8 no Concat is elided (an input's images are not contiguous in the
 * output), and DenseNet-121's 58 had copied 24 ms per run on one thread
 * whatever the threads. */
#define CONCAT_PIECE ((size_t)256 << 10)
#define CONCAT_PAR_MIN ((size_t)512 << 10)

static size_t concat_pieces(size_t bytes) {
    return bytes ? (bytes + CONCAT_PIECE - 1) / CONCAT_PIECE : 0;
}

/* Units [u0, u1) of the copies: unit u is piece j of input k's slab at
 * outer index o, numbered o-major, then k, then j. */
static engine_status concat_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch, int tid,
                                 int64_t u0, int64_t u1) {
    (void)scratch, (void)tid;
    const engine_node *n = s->node;
    const int axis = s->iparam[0];
    const engine_value *y = n->outputs[0];
    const size_t es = ref_elem_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= y->dims[d];
    for (int d = axis + 1; d < y->rank; ++d) inner *= y->dims[d];
    const size_t out_slab = (size_t)(y->dims[axis] * inner) * es;
    size_t per_outer = 0, bytes = 0;
    for (int k = 0; k < n->n_inputs; ++k) {
        const size_t slab = (size_t)(n->inputs[k]->dims[axis] * inner) * es;
        per_outer += concat_pieces(slab);
        bytes += slab;
    }
    if (u0 < 0) {
        const int64_t units = outer * (int64_t)per_outer;
        const int par = s->threads > 1 && bytes * (size_t)outer >= CONCAT_PAR_MIN;
        return units > 0 ? cpu_run_range(s, in, out, scratch, concat_body, par ? s->threads : 1, units) : ENGINE_OK;
    }
    char *yp = out[0];
    for (int64_t u = u0; u < u1; ++u) {
        const int64_t o = u / (int64_t)per_outer;
        size_t r = (size_t)(u % (int64_t)per_outer), off = 0;
        for (int k = 0; k < n->n_inputs; ++k) {
            const size_t slab = (size_t)(n->inputs[k]->dims[axis] * inner) * es, np = concat_pieces(slab);
            if (r < np) {
                char *dst = yp + (size_t)o * out_slab + off;
                const char *src = (const char *)in[k] + (size_t)o * slab;
                const size_t a = r * CONCAT_PIECE, len = slab - a < CONCAT_PIECE ? slab - a : CONCAT_PIECE;
                /* An input stored in its slice already (a storage alias,
                 * ir.h) is not copied onto itself. */
                if (src != dst) memcpy(dst + a, src + a, len);
                break;
            }
            r -= np;
            off += slab;
        }
    }
    return ENGINE_OK;
}

static engine_status concat_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    return concat_body(s, in, out, scratch, 0, -1, -1);
}

static engine_status prepare_concat(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    const engine_axis_params *p = n->params;
    const engine_value *y = n->outputs[0];
    if (!p || !y || p->axis < 0 || p->axis >= y->rank || ref_elem_size(y->dtype) == 0) return ENGINE_ERR_UNSUPPORTED;
    int64_t along = 0;
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *v = n->inputs[k];
        if (!v || v->dtype != y->dtype || v->rank != y->rank) return ENGINE_ERR_UNSUPPORTED;
        for (int d = 0; d < y->rank; ++d)
            if (d != p->axis && v->dims[d] != y->dims[d]) return ENGINE_ERR_UNSUPPORTED;
        along += v->dims[p->axis];
    }
    if (along != y->dims[p->axis]) return ENGINE_ERR_UNSUPPORTED;
    s->iparam[0] = p->axis;
    s->exec = concat_exec;
    snprintf(s->kernel, sizeof s->kernel, "x%d_concat_memcpy", (int)(8 * ref_elem_size(y->dtype)));
    (void)c;
    return ENGINE_OK;
}

engine_status cpu_prepare_op(const cpu_prep_ctx *c, cpu_step *s) {
    switch (s->node->op) {
    case ENGINE_OP_Gemm:
    case ENGINE_OP_MatMul: return prepare_gemm(c, s);
    case ENGINE_OP_MaxPool:
    case ENGINE_OP_AveragePool: return prepare_pool(c, s);
    case ENGINE_OP_GlobalAveragePool:
    case ENGINE_OP_GlobalMaxPool: return prepare_gpool(c, s);
    case ENGINE_OP_ReduceMean:
    case ENGINE_OP_ReduceSum:
    case ENGINE_OP_ReduceMax: return prepare_reduce(c, s);
    case ENGINE_OP_BatchNormalization: return prepare_bn(c, s);
    case ENGINE_OP_Add:
    case ENGINE_OP_Sub:
    case ENGINE_OP_Mul:
    case ENGINE_OP_Div: return prepare_binary(c, s);
    case ENGINE_OP_Concat: return prepare_concat(c, s);
    case ENGINE_OP_Transpose:
    case ENGINE_OP_Slice: case ENGINE_OP_Expand: return prepare_strided_copy(c, s);
    case ENGINE_OP_LRN: return cpu_prepare_lrn(c, s);
    case ENGINE_OP_Resize: return cpu_prepare_resize(c, s);
    case ENGINE_OP_LayerNormalization: return prepare_layernorm(c, s);
    case ENGINE_OP_Softmax:
    case ENGINE_OP_LogSoftmax: return prepare_softmax(c, s);
    case ENGINE_OP_RoiAlign: return prepare_roialign(c, s);
    case ENGINE_OP_ScatterElements: return prepare_scatter_rows(c, s);
    case ENGINE_OP_Einsum: return cpu_prepare_einsum(c, s);
    default: return prepare_act(c, s);
    }
}
