/*
 * conv_gemv.c - convolutions whose output is one pixel and whose kernel
 * covers the whole (unpadded) input: the 1x1 convs of Squeeze-Excitation
 * blocks (GlobalAveragePool -> 1x1 conv -> act -> 1x1 conv -> gate), and a
 * KxK conv on a KxK map. Then y[m] = act(b[m] + sum_k W[m][k] x[k] (+ s[m]))
 * with k over C*KH*KW: W's [C][KH][KW] order is x's [C][H][W] order.
 *
 * Why: the packed GEMM (conv_gemm.c) computes a whole NR-column panel for
 * N = 1, i.e. 32x the FMAs (AVX-512) plus the panel packing; MobileNet v3's
 * SE convs (960 -> 240 -> 960 at 1x1) took 0.10-0.15 ms each there. This is
 * a dot product per output, bound by streaming the weights once.
 *
 * Kernel name: f32_conv1x1_gemv__<isa> (the loops are portable C with
 * `omp simd` reductions; memory-bound, so the baseline vector width does).
 */
#include <string.h>

#include "cpu_internal.h"

static int gemv_applies(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return d->group == 1 && d->OH == 1 && d->OW == 1 && d->KH == d->H && d->KW == d->W && !d->PT && !d->PL &&
           !d->PB && !d->PR && d->DH == 1 && d->DW == 1 && d->M >= 1 && d->C >= 1;
}

static size_t gemv_k(const cpu_conv2d *d) {
    return (size_t)d->C * (size_t)d->KH * (size_t)d->KW;
}

/* Bias after the weights, 64-byte aligned. */
static size_t gemv_bias_offset(const cpu_conv2d *d) {
    return ((size_t)d->M * gemv_k(d) * sizeof(float) + 63) / 64 * 64;
}

/* Streams M*K floats of weights once: ~0.1 ns per float on one thread
 * (bench_cpu_conv, caches flushed), split over the threads. */
static double gemv_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    int t = d->threads < 1 ? 1 : d->threads;
    return 200.0 + (double)d->M * (double)gemv_k(d) * 0.1 / t;
}

static size_t gemv_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return gemv_bias_offset(d) + (size_t)d->M * sizeof(float);
}

static void gemv_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    (void)isa;
    size_t wbytes = (size_t)d->M * gemv_k(d) * sizeof(float);
    memcpy(packed, w, wbytes);
    memset((char *)packed + wbytes, 0, gemv_bias_offset(d) - wbytes);
    float *b = (float *)((char *)packed + gemv_bias_offset(d));
    if (bias) memcpy(b, bias, (size_t)d->M * sizeof(float));
    else memset(b, 0, (size_t)d->M * sizeof(float));
}

static size_t gemv_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)d;
    (void)isa;
    return 0;
}

void cpu_dot4(const float *w, size_t ldw, const float *x, int K, int nm, float *acc) {
    if (nm == 4) {
        const float *w0 = w, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
        for (int k = 0; k < K; ++k) {
            const float xv = x[k];
            a0 += w0[k] * xv;
            a1 += w1[k] * xv;
            a2 += w2[k] * xv;
            a3 += w3[k] * xv;
        }
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
        return;
    }
    for (int j = 0; j < nm; ++j) {
        const float *wr = w + (size_t)j * ldw;
        float a = 0.0f;
#pragma omp simd reduction(+ : a)
        for (int k = 0; k < K; ++k) a += wr[k] * x[k];
        acc[j] = a;
    }
}

typedef struct gemv_ctx {
    const cpu_conv2d *d;
    const float *w, *bias, *x, *sum;
    float *y;
    int M, K;
    void (*dot4)(const float *w, size_t ldw, const float *x, int K, int nm, float *acc);
} gemv_ctx;

static void gemv_task(void *vc, int tid, int64_t b0_, int64_t b1_) {
    const int b0 = (int)b0_, b1 = (int)b1_;
    (void)tid;
    const gemv_ctx *c = vc;
    const int M = c->M, K = c->K;
    for (int b = b0; b < b1; ++b) {
        const int m0 = b * 4, nm = M - m0 < 4 ? M - m0 : 4;
        float acc[4];
        c->dot4(c->w + (size_t)m0 * K, (size_t)K, c->x, K, nm, acc);
        for (int j = 0; j < nm; ++j) {
            float v = acc[j] + c->bias[m0 + j];
            if (c->sum) v += c->sum[m0 + j];
            c->y[m0 + j] = cpu_act_scalar(&c->d->epi, v);
        }
    }
}

/* Four outputs per pass over x, so x is loaded once per four weight rows. */
static void gemv_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum, float *y,
                     void *scratch) {
    (void)scratch;
    const int M = d->M, K = (int)gemv_k(d);
    const float *w = packed;
    const float *bias = (const float *)((const char *)packed + gemv_bias_offset(d));
    const int blocks = (M + 3) / 4;
    /* a thread per block of rows only when there is enough to stream */
    const int par = d->threads > 1 && (size_t)M * (size_t)K >= 32768;
    gemv_ctx c = {d, w, bias, x, sum, y, M, K, cpu_kernels_for(isa)->dot4};
    cpu_parallel_for(par ? d->threads : 1, blocks, 0, gemv_task, &c);
}

const cpu_conv_algo cpu_conv_gemv = {
    .name = "f32_conv1x1_gemv",
    .applies = gemv_applies,
    .estimate_ns = gemv_estimate_ns,
    .packed_size = gemv_packed_size,
    .pack = gemv_pack,
    .scratch_size = gemv_scratch_size,
    .run = gemv_run,
};
