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
} dense_ctx;

static void dense_task(void *vc, int tid, int64_t b0, int64_t b1) {
    (void)tid;
    const dense_ctx *c = vc;
    const int N = c->N, K = c->K;
    for (int b = (int)b0; b < (int)b1; ++b) {
        const int n0 = b * 4, nm = N - n0 < 4 ? N - n0 : 4;
        for (int r = 0; r < c->R; ++r) {
            float acc[4];
            cpu_dot4(c->wt + (size_t)n0 * (size_t)K, (size_t)K, c->a + (size_t)r * (size_t)K, K, nm, acc);
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
    /* four weight rows per pass over a row of A (cpu_dot4: four
     * independent sums, so the loop streams the weights instead of
     * waiting on one add chain: AlexNet's 9216 -> 4096 layer, 2 threads, 8.6-8.9
     * -> 5.7-7.5 ms, ~26 GB/s of weights at best) */
    const int blocks = (N + 3) / 4;
    dense_ctx dc = {wt, a, cm, y, N, K, R, crow, ccol, alpha, beta};
    cpu_parallel_for(par ? s->threads : 1, blocks, 0, dense_task, &dc);
    if (epi.act != ENGINE_ACT_NONE) s->k->act_row(&epi, y, (size_t)R * (size_t)N);
    return ENGINE_OK;
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

static engine_status prepare_gemm(const cpu_prep_ctx *c, cpu_step *s) {
    const engine_node *n = s->node;
    if (!all_f32(n) || n->n_inputs < 2) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *A = n->inputs[0], *B = n->inputs[1], *C = engine_node_input(n, 2), *Y = n->outputs[0];
    if (!A || !B || !Y || !B->data || A->data || B->rank != 2) return ENGINE_ERR_UNSUPPORTED;
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
    /* Wt through the instance's store: one packing for every batch size. */
    gemm_pack_ctx gp = {B->data, N, K, transB};
    cpu_wkey key;
    memset(&key, 0, sizeof key);
    key.src[0] = B->data;
    key.layout = "gemm_wt";
    key.dims[0] = (int)N;
    key.dims[1] = (int)K;
    key.dims[2] = transB;
    engine_status st = cpu_prep_shared(c, s, &key, sizeof(float) * (size_t)N * (size_t)K, gemm_pack_wt, &gp);
    if (st) return st;
    s->iparam[0] = (int)R;
    s->iparam[1] = (int)N;
    s->iparam[2] = (int)K;
    s->iparam[3] = C != NULL;
    s->iparam[4] = crow;
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
static void maxpool_sep_channel(const float *xc, float *yc, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t PT, int64_t PL) {
    float vm[MAXPOOL_ROW];
    for (int64_t oh = 0; oh < OH; ++oh) {
        int64_t h0 = oh * SH - PT, hlo = h0 < 0 ? 0 : h0, hhi = h0 + KH < H ? h0 + KH : H;
        float *yr = yc + oh * OW;
        if (hhi <= hlo) {
            for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = -INFINITY;
            continue;
        }
        memcpy(vm, xc + hlo * W, (size_t)W * sizeof(float));
        for (int64_t ih = hlo + 1; ih < hhi; ++ih) {
            const float *row = xc + ih * W;
#pragma omp simd
            for (int64_t w = 0; w < W; ++w) vm[w] = max_nan(vm[w], row[w]);
        }
        /* outputs [o0, o1) have all KW taps inside the row: tap-major
         * vector loops; the edges take the bounded scalar loop */
        int64_t o0 = (PL + SW - 1) / SW, o1 = W - KW + PL < 0 ? 0 : (W - KW + PL) / SW + 1;
        if (o0 > OW) o0 = OW;
        if (o1 > OW) o1 = OW;
        if (o1 < o0) o1 = o0;
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
static void maxpool_s1_plane(const float *xc, float *yc, int64_t H, int64_t W, int64_t OH, int64_t KH, int64_t KW,
                             int64_t PT, int64_t PL) {
    float vbuf[MAXPOOL_PLANE + 2 * 16];
    float *vm = vbuf + 16; /* guards: interior loops read up to KW - 1 <= 15 past either end */
    const int64_t n = OH * W;
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
    /* edge columns: taps that left the row were read from the neighbour row */
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

static engine_status pool_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
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
    if (!avg && DH == 1 && DW == 1 && SH == 1 && SW == 1 && OW == W && KW <= 16 && OH * W <= MAXPOOL_PLANE) {
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, pool_exec_body, par ? s->threads : 1, (int64_t)(NC));
        for (int64_t c = (int64_t)u0; c < (int64_t)u1; ++c) maxpool_s1_plane(xp + c * H * W, yp + c * OH * OW, H, W, OH, KH, KW, PT, PL);
        return ENGINE_OK;
    }
    if (!avg && DH == 1 && DW == 1 && W <= MAXPOOL_ROW) {
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, pool_exec_body, par ? s->threads : 1, (int64_t)(NC));
        for (int64_t c = (int64_t)u0; c < (int64_t)u1; ++c)
            maxpool_sep_channel(xp + c * H * W, yp + c * OH * OW, H, W, OH, OW, KH, KW, SH, SW, PT, PL);
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
    snprintf(s->kernel, sizeof s->kernel, "f32_%s%dx%ds%d_nchw__pool", n->op == ENGINE_OP_MaxPool ? "maxpool" : "avgpool",
             (int)p->kernel[0], (int)p->kernel[1], (int)p->stride[0]);
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

static inline float bin(int op, float a, float b) {
    switch (op) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    default: return a / b;
    }
}

static engine_status binary_exec_body(const cpu_step *s, const void *const *in, void *const *out, void *scratch,
        int tid, int64_t u0, int64_t u1) {
    (void)tid;
    (void)scratch;
    const int op = s->iparam[0], si = s->iparam[1];
    const int64_t outer = s->iparam[2], mid = s->iparam[3], inner = s->iparam[4];
    const float *big = in[1 - si], *sm = in[si];
    float *y = out[0];
    const int64_t total = outer * mid * inner;
    int par = total > PAR_MIN && s->threads > 1;
    if (inner == 1) {
        if (u0 < 0) return cpu_run_range(s, in, out, scratch, binary_exec_body, par ? s->threads : 1, (int64_t)(outer));
        for (int64_t o = (int64_t)u0; o < (int64_t)u1; ++o) {
            const float *b = big + o * mid;
            float *yo = y + o * mid;
            if (si == 1)
                for (int64_t m = 0; m < mid; ++m) yo[m] = bin(op, b[m], sm[m]);
            else
                for (int64_t m = 0; m < mid; ++m) yo[m] = bin(op, sm[m], b[m]);
        }
        return ENGINE_OK;
    }
    if (u0 < 0) return cpu_run_range(s, in, out, scratch, binary_exec_body, par ? s->threads : 1, (int64_t)(outer * mid));
    for (int64_t r = (int64_t)u0; r < (int64_t)u1; ++r) {
        const float v = sm[r % mid];
        const float *b = big + r * inner;
        float *yr = y + r * inner;
        if (si == 1)
            for (int64_t i = 0; i < inner; ++i) yr[i] = bin(op, b[i], v);
        else
            for (int64_t i = 0; i < inner; ++i) yr[i] = bin(op, v, b[i]);
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

/* ---- Transpose and Slice: one strided copy ----
 * Output element c (multi-index) reads input element base + sum c[d]*st[d]
 * (Transpose: st[d] = input stride of perm[d]; Slice: step[d] * input
 * stride of d, base = the starts). Size-1 dims are dropped and output dims
 * that are also adjacent in the input are merged, so ShuffleNet's channel
 * shuffle ([1,2,C/2,H,W], perm 0 2 1 3 4) becomes C rows of H*W contiguous
 * floats and its channel-half Slice a single run: memcpy per row, rows
 * split over the threads. The reference loops per element with a
 * coordinate decode each (about 57% of ShuffleNet v2's time under perf). */
typedef struct strided_geom {
    int rank;
    int64_t base, dims[ENGINE_MAX_RANK], st[ENGINE_MAX_RANK];
} strided_geom;

/* 0 when the node is not one this copy handles as it is (ref then runs). */
static int strided_geom_of(const engine_node *n, strided_geom *g) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    if (!x || !y || !n->params || x->rank != y->rank || x->rank < 1 || x->rank > ENGINE_MAX_RANK) return 0;
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
        if (n->op == ENGINE_OP_Transpose) {
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
             s->node->op == ENGINE_OP_Transpose ? "transpose" : "slice", g.st[g.rank - 1] == 1 ? "memcpy" : "strided");
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

/* ---- Concat: memcpy of each input's slab per outer index ---- */
static engine_status concat_exec(const cpu_step *s, const void *const *in, void *const *out, void *scratch) {
    (void)scratch;
    const engine_node *n = s->node;
    const int axis = s->iparam[0];
    const engine_value *y = n->outputs[0];
    const size_t es = ref_elem_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= y->dims[d];
    for (int d = axis + 1; d < y->rank; ++d) inner *= y->dims[d];
    const size_t out_slab = (size_t)(y->dims[axis] * inner) * es;
    char *yp = out[0];
    for (int64_t o = 0; o < outer; ++o) {
        size_t off = 0;
        for (int k = 0; k < n->n_inputs; ++k) {
            size_t slab = (size_t)(n->inputs[k]->dims[axis] * inner) * es;
            char *dst = yp + (size_t)o * out_slab + off;
            const char *src = (const char *)in[k] + (size_t)o * slab;
            /* An input stored in its slice already (a storage alias, ir.h)
             * is not copied onto itself. */
            if (slab && src != dst) memcpy(dst, src, slab);
            off += slab;
        }
    }
    return ENGINE_OK;
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
    case ENGINE_OP_Slice: return prepare_strided_copy(c, s);
    case ENGINE_OP_LRN: return cpu_prepare_lrn(c, s);
    case ENGINE_OP_Resize: return cpu_prepare_resize(c, s);
    default: return prepare_act(c, s);
    }
}
