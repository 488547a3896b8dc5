/* conv_gemm.c - the general convolution algorithm: any 2-D Conv (groups,
 * strides, dilations, pads) as one GEMM per group,
 *     Y_g [Mg x OH*OW] = W_g [Mg x Cg*KH*KW] * cols(X_g) [Cg*KH*KW x OH*OW],
 * straight on NCHW: the output rows are the output channels, so the
 * micro-kernel stores whole runs of an output plane. The weights are
 * packed once into MR-row panels. B (the columns) is never materialised
 * whole: the GEMM driver asks for one NR-column panel at a time and
 * this file fills it, by copying rows of the input for a 1x1 stride-1
 * unpadded conv (no im2col at all), or by gathering the im2col panel
 * from the image otherwise (contiguous copies along a row when the
 * stride is 1). The epilogue (bias, residual sum, activation) is applied
 * by the micro-kernel's store. run_scaled multiplies every packed row by
 * its input channel's scale (a Squeeze-Excitation Mul fused by module.c). */
#include <string.h>

#include "cpu_internal.h"

typedef struct conv_b_ctx {
    const cpu_conv2d *d;
    const float *x;     /* the group's first input channel */
    const float *scale; /* NULL, or the group's first input channel's scale */
    int Cg;
    void (*gather_s2)(const float *src, int n, float *dst); /* the ISA's, or NULL */
} conv_b_ctx;

static int is_pointwise(const cpu_conv2d *d) {
    return d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && d->PT == 0 && d->PL == 0 && d->PB == 0 &&
           d->PR == 0 && d->OH == d->H && d->OW == d->W;
}

/* How many panels ahead pack_pointwise prefetches (1: 0.95 ms, 2: 0.93,
 * 4: 0.98 on the layer named below). */
#define PF_D 2

static void pack_pointwise(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    const conv_b_ctx *c = vctx;
    size_t hw = (size_t)c->d->H * (size_t)c->d->W;
    const float *src = c->x + (size_t)k0 * hw + n0;
    /* The columns of each row PF_D panels on, prefetched: a panel reads NR
     * floats from each of kc rows hw floats apart, more streams than the
     * hardware prefetcher follows, so without this every row's lines came
     * from L3 or memory on demand (ResNet-50's 1x1 C256 -> 64 at 56x56,
     * one thread, tests/cpu/bench_cpu_conv: 1.21-1.34 -> 0.92-0.95 ms). */
    const int pf = (size_t)n0 + (PF_D + 1u) * (size_t)NR <= hw;
    for (int k = 0; k < kc; ++k, src += hw, panel += NR) {
        if (pf) {
            __builtin_prefetch(src + PF_D * NR);
            __builtin_prefetch(src + PF_D * NR + 16);
        }
        if (c->scale) {
            /* vector loop (the panel never overlaps the image): as a scalar
             * loop this pack took 4.7-10% of EfficientNet-B0 at one thread,
             * its share swinging with where the linker put it */
            const float f = c->scale[k0 + k];
            const float *restrict s = src;
            float *restrict p = panel;
#pragma omp simd
            for (int j = 0; j < nr; ++j) p[j] = s[j] * f;
        } else if (nr == 16) {
            /* a whole AVX2 panel row: a fixed-size copy the compiler
             * inlines, not a libc call per row (AVX2, 2 threads: C192 ->
             * 32 at 28x28 0.194 -> 0.188 ms, C384 -> 64 at 14x14 0.178 ->
             * 0.167) */
            memcpy(panel, src, 16 * sizeof(float));
        } else if (nr == 32) {
            memcpy(panel, src, 32 * sizeof(float));
        } else {
            memcpy(panel, src, (size_t)nr * sizeof(float));
        }
        if (nr < NR) memset(panel + nr, 0, (size_t)(NR - nr) * sizeof(float));
    }
}

static void pack_im2col(const void *vctx, int n0, int nr, int NR, int k0, int kc, float *panel) {
    const conv_b_ctx *c = vctx;
    const cpu_conv2d *d = c->d;
    const int H = d->H, W = d->W, OW = d->OW, KHW = d->KH * d->KW;
    /* rows k0 .. k0+kc-1 of the im2col matrix: row r = (ci*KH + kh)*KW + kw */
    for (int r = k0; r < k0 + kc; ++r, panel += NR) {
        const int ci = r / KHW, kh = r % KHW / d->KW, kw = r % d->KW;
        const float *xc = c->x + (size_t)ci * (size_t)H * (size_t)W;
        int j = 0, oh = n0 / OW, ow = n0 % OW;
        while (j < nr) {
            int seg = nr - j < OW - ow ? nr - j : OW - ow; /* columns on output row oh */
            int ih = oh * d->SH - d->PT + kh * d->DH;
            float *row = panel + j;
            if (ih < 0 || ih >= H) {
                memset(row, 0, (size_t)seg * sizeof(float));
            } else {
                const float *xr = xc + (size_t)ih * (size_t)W;
                int iw0 = ow * d->SW - d->PL + kw * d->DW;
                /* Columns t in [lo, hi) read inside the row, the rest are padding. */
                const int SW = d->SW;
                int lo = iw0 >= 0 ? 0 : (-iw0 + SW - 1) / SW;
                int hi = iw0 >= W ? 0 : (W - 1 - iw0) / SW + 1;
                lo = lo > seg ? seg : lo;
                hi = hi < lo ? lo : hi > seg ? seg : hi;
                if (lo) memset(row, 0, (size_t)lo * sizeof(float));
                if (SW == 1) {
                    if (hi > lo) memcpy(row + lo, xr + (iw0 + lo), (size_t)(hi - lo) * sizeof(float));
                } else if (SW == 2 && c->gather_s2) {
                    if (hi > lo) c->gather_s2(xr + iw0 + 2 * lo, hi - lo, row + lo);
                } else {
                    for (int t = lo; t < hi; ++t) row[t] = xr[iw0 + t * SW];
                }
                if (seg > hi) memset(row + hi, 0, (size_t)(seg - hi) * sizeof(float));
            }
            j += seg;
            ow = 0;
            ++oh;
        }
        if (c->scale) { /* padding stays zero */
            const float f = c->scale[ci];
            for (int t = 0; t < nr; ++t) panel[t] *= f;
        }
        if (nr < NR) memset(panel + nr, 0, (size_t)(NR - nr) * sizeof(float));
    }
}

static int gemm_applies(const cpu_conv2d *d, cpu_isa isa) {
    return cpu_kernels_for(isa) != NULL && d->group >= 1 && d->C % d->group == 0 && d->M % d->group == 0;
}

static double gemm_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    const cpu_kernels *k = cpu_kernels_for(isa);
    /* Sustained MACs per ns and thread, rough, counting the padded tile. */
    double rate = isa == CPU_ISA_AVX512 ? 24.0 : isa == CPU_ISA_AVX2 ? 12.0 : isa == CPU_ISA_NEON ? 4.0 : 1.0;
    double G = d->group, Mg = d->M / d->group, K = (double)(d->C / d->group) * d->KH * d->KW;
    double N = (double)d->OH * d->OW;
    double Mp = ((int)Mg + k->mr - 1) / k->mr * k->mr, Np = ((long long)N + k->nr - 1) / k->nr * k->nr;
    double ns = G * Mp * Np * K / rate;
    if (!is_pointwise(d)) ns += G * K * Np * 0.5; /* gathering the panels */
    /* A depthwise conv is C GEMMs of one row each, whose packing and
     * dispatch the count above leaves out: measured 10-20x this on 1x1
     * depthwise convs (DenseNet's BatchNormalizations, C128 56x56 ..
     * C1024 7x7, AVX2, 2 threads), where the depthwise kernels apply. */
    if (d->group > 1 && d->group == d->C && d->M == d->C) ns *= 20.0;
    return ns / d->threads;
}

static size_t gemm_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    const cpu_kernels *k = cpu_kernels_for(isa);
    int K = d->C / d->group * d->KH * d->KW;
    size_t per = cpu_gemm_packed_a_floats(k, d->M / d->group, K);
    return (per * (size_t)d->group + (size_t)d->M) * sizeof(float);
}

static void gemm_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    const cpu_kernels *k = cpu_kernels_for(isa);
    int Mg = d->M / d->group, K = d->C / d->group * d->KH * d->KW;
    size_t per = cpu_gemm_packed_a_floats(k, Mg, K);
    float *p = packed;
    for (int g = 0; g < d->group; ++g)
        cpu_gemm_pack_a(k, Mg, K, w + (size_t)g * (size_t)Mg * (size_t)K, (size_t)K, 1, p + (size_t)g * per);
    float *b = p + per * (size_t)d->group;
    for (int m = 0; m < d->M; ++m) b[m] = bias ? bias[m] : 0.0f;
}

static size_t gemm_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    const int G = d->group, Mg = d->M / G, K = d->C / G * d->KH * d->KW, N = d->OH * d->OW;
    /* many groups: one serial GEMM per thread; else one threaded GEMM */
    if (G > 1 && G >= d->threads) return cpu_gemm_scratch_bytes(cpu_kernels_for(isa), Mg, N, K, 1) * (size_t)d->threads;
    return cpu_gemm_scratch_bytes(cpu_kernels_for(isa), Mg, N, K, d->threads);
}

typedef struct group_ctx {
    const cpu_conv2d *d;
    const cpu_kernels *k;
    int Cg, Mg, K, N;
    size_t per, in_g, out_g, slice;
    const float *A, *bias, *x, *xscale, *sum;
    float *y;
    cpu_pack_b_fn pack;
    void *scratch;
} group_ctx;

/* Groups [g0, g1) on thread tid, each GEMM serial on that thread. */
static void group_task(void *vc, int tid, int64_t g0_, int64_t g1_) {
    const int g0 = (int)g0_, g1 = (int)g1_;
    const group_ctx *c = vc;
    for (int g = g0; g < g1; ++g) {
        conv_b_ctx ctx = {c->d, c->x + (size_t)g * c->in_g, c->xscale ? c->xscale + (size_t)g * (size_t)c->Cg : NULL, c->Cg,
                          c->k->gather_s2};
        cpu_gemm_run(c->k, c->Mg, c->N, c->K, c->A + (size_t)g * c->per, c->bias + (size_t)g * (size_t)c->Mg, c->pack,
                     &ctx, c->y + (size_t)g * c->out_g, (size_t)c->N, c->sum ? c->sum + (size_t)g * c->out_g : NULL,
                     (size_t)c->N, &c->d->epi, 1, (char *)c->scratch + c->slice * (size_t)tid);
    }
}

static void gemm_run_scaled(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x,
                            const float *xscale, const float *sum, float *y, void *scratch) {
    const cpu_kernels *k = cpu_kernels_for(isa);
    const int G = d->group, Cg = d->C / G, Mg = d->M / G, K = Cg * d->KH * d->KW, N = d->OH * d->OW;
    const size_t per = cpu_gemm_packed_a_floats(k, Mg, K);
    const size_t in_g = (size_t)Cg * (size_t)d->H * (size_t)d->W, out_g = (size_t)Mg * (size_t)N;
    const float *A = packed, *bias = A + per * (size_t)G;
    cpu_pack_b_fn pack = is_pointwise(d) ? pack_pointwise : pack_im2col;
    /* Many groups: one thread per group (a unit is one group), each GEMM
     * serial; else each group's GEMM uses all threads. A GEMM started from
     * inside a loop of the pool runs on its caller alone (cpu_pool.h), so
     * the serial GEMMs are asked for with threads = 1 anyway. */
    if (G > 1 && G >= d->threads) {
        group_ctx c = {d, k, Cg, Mg, K, N, per, in_g, out_g, cpu_gemm_scratch_bytes(k, Mg, N, K, 1),
                       A, bias, x, xscale, sum, y, pack, scratch};
        cpu_parallel_for(d->threads, G, 1, group_task, &c);
        return;
    }
    /* A pointwise conv's input planes are B's rows: the GEMM reads them in
     * place where the ISA and the shape gain from it (gemm.c, GEMM_BS_*),
     * with no packed copy. */
    const int strided = pack == pack_pointwise && !xscale;
    for (int g = 0; g < G; ++g) {
        conv_b_ctx ctx = {d, x + (size_t)g * in_g, xscale ? xscale + (size_t)g * (size_t)Cg : NULL, Cg, k->gather_s2};
        cpu_gemm_run_strided_b(k, Mg, N, K, A + (size_t)g * per, bias + (size_t)g * (size_t)Mg, x + (size_t)g * in_g,
                               strided ? (size_t)N : 0, pack, &ctx, y + (size_t)g * out_g, (size_t)N,
                               sum ? sum + (size_t)g * out_g : NULL, (size_t)N, &d->epi, d->threads, scratch);
    }
}

static void gemm_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum,
                     float *y, void *scratch) {
    gemm_run_scaled(d, isa, packed, x, NULL, sum, y, scratch);
}

const cpu_conv_algo cpu_conv_gemm = {
    .name = "f32_conv_gemm",
    .applies = gemm_applies,
    .estimate_ns = gemm_estimate_ns,
    .packed_size = gemm_packed_size,
    .pack = gemm_pack,
    .scratch_size = gemm_scratch_size,
    .run = gemm_run,
    .run_scaled = gemm_run_scaled,
};

/* ---- bf16 (--precision bf16): the same GEMMs, A and B rounded to bf16,
 * float32 accumulation (gemm_bf16.c). Packed: per group the bf16 tiles
 * (64-byte aligned), then the bias as floats. */

static int bf16_applies(const cpu_conv2d *d, cpu_isa isa) {
    /* depthwise-like groups (one input channel each) stay float32: a
     * K of KH*KW would be mostly padding in the 32-deep tiles; so do maps
     * of a few pixels (Squeeze-Excitation's 1x1 convs on one pixel): the
     * tiles would be mostly padding there too, and the float32
     * matrix-vector kernel streams the weights as fast */
    return d->bf16 && !d->exact && cpu_bf16_ops_for(d->bf16) && gemm_applies(d, isa) && d->C / d->group > 1 &&
           (int64_t)d->OH * d->OW >= CPU_BF16_MIN_PIXELS;
}

static double bf16_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    return gemm_estimate_ns(d, isa) / 4.0;
}

static size_t bf16_per_group(const cpu_conv2d *d) {
    int K = d->C / d->group * d->KH * d->KW;
    return (cpu_bf16_packed_a_elems(d->M / d->group, K) * sizeof(uint16_t) + 63) / 64 * 64;
}

static size_t bf16_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return bf16_per_group(d) * (size_t)d->group + (size_t)d->M * sizeof(float);
}

static void bf16_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    (void)isa;
    const int Mg = d->M / d->group, K = d->C / d->group * d->KH * d->KW;
    const size_t per = bf16_per_group(d);
    for (int g = 0; g < d->group; ++g)
        cpu_bf16_pack_a(Mg, K, w + (size_t)g * (size_t)Mg * (size_t)K, (size_t)K, 1,
                        (uint16_t *)((char *)packed + per * (size_t)g));
    float *b = (float *)((char *)packed + per * (size_t)d->group);
    for (int m = 0; m < d->M; ++m) b[m] = bias ? bias[m] : 0.0f;
}

static size_t bf16_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    const int G = d->group, K = d->C / G * d->KH * d->KW, N = d->OH * d->OW;
    if (G > 1 && G >= d->threads) return cpu_bf16_scratch_bytes(N, K, 1) * (size_t)d->threads;
    return cpu_bf16_scratch_bytes(N, K, d->threads);
}

typedef struct bf16_group_ctx {
    const cpu_conv2d *d;
    const cpu_kernels *k;
    const cpu_bf16_ops *ops;
    int Cg, Mg, K, N;
    size_t per, in_g, out_g, slice;
    const char *A;
    const float *bias, *x, *xscale, *sum;
    float *y;
    void *scratch;
} bf16_group_ctx;

static void bf16_group(const bf16_group_ctx *c, int g, int threads, void *scratch) {
    conv_b_ctx ctx = {c->d, c->x + (size_t)g * c->in_g, c->xscale ? c->xscale + (size_t)g * (size_t)c->Cg : NULL,
                      c->Cg, c->k->gather_s2};
    /* a pointwise conv's B is the image itself: read straight into bf16 */
    cpu_bf16_src src = {NULL, 0, NULL, pack_im2col, &ctx, NULL};
    if (is_pointwise(c->d)) {
        src.b = ctx.x;
        src.ld = (size_t)c->N;
        src.scale = ctx.scale;
    }
    cpu_bf16_gemm_run(c->k, c->ops, c->Mg, c->N, c->K, (const uint16_t *)(c->A + (size_t)g * c->per),
                      c->bias + (size_t)g * (size_t)c->Mg, &src, c->y + (size_t)g * c->out_g, (size_t)c->N,
                      c->sum ? c->sum + (size_t)g * c->out_g : NULL, (size_t)c->N, &c->d->epi, threads, scratch);
}

static void bf16_group_task(void *vc, int tid, int64_t g0, int64_t g1) {
    const bf16_group_ctx *c = vc;
    for (int64_t g = g0; g < g1; ++g) bf16_group(c, (int)g, 1, (char *)c->scratch + c->slice * (size_t)tid);
}

static void bf16_run_scaled(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x,
                            const float *xscale, const float *sum, float *y, void *scratch) {
    const int G = d->group, Cg = d->C / G, Mg = d->M / G, K = Cg * d->KH * d->KW, N = d->OH * d->OW;
    const size_t per = bf16_per_group(d);
    bf16_group_ctx c = {d, cpu_kernels_for(isa), cpu_bf16_ops_for(d->bf16), Cg, Mg, K, N, per,
                        (size_t)Cg * (size_t)d->H * (size_t)d->W, (size_t)Mg * (size_t)N,
                        cpu_bf16_scratch_bytes(N, K, 1), packed,
                        (const float *)((const char *)packed + per * (size_t)G), x, xscale, sum, y, scratch};
    if (G > 1 && G >= d->threads) {
        cpu_parallel_for(d->threads, G, 1, bf16_group_task, &c);
        return;
    }
    for (int g = 0; g < G; ++g) bf16_group(&c, g, d->threads, scratch);
}

static void bf16_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum, float *y,
                     void *scratch) {
    bf16_run_scaled(d, isa, packed, x, NULL, sum, y, scratch);
}

const cpu_conv_algo cpu_conv_bf16 = {
    .name = "bf16_conv_gemm",
    .applies = bf16_applies,
    .estimate_ns = bf16_estimate_ns,
    .packed_size = bf16_packed_size,
    .pack = bf16_pack,
    .scratch_size = bf16_scratch_size,
    .run = bf16_run,
    .run_scaled = bf16_run_scaled,
};
