/*
 * conv_blocked.c - the blocked-layout conv algorithms of cpu_blocked.h
 * (cpu_conv_direct_blk, cpu_conv_dw_blk): applicability, cost model,
 * weight packing, and the dispatch to the per-ISA kernels. The kernels are
 * conv_blocked_tmpl.h, compiled by conv_blocked_avx512.c (NCHW16c) and
 * conv_blocked_avx2.c (NCHW8c); there is no portable form (cpu_blk_vl is 0
 * on the scalar and NEON paths, so applies() refuses them).
 *
 * Kernel names: f32_conv_blk_<NB>x<P>__<isa> (NB output blocks x P pixels
 * per register tile: 2x14 / 1x14 on AVX-512, 2x6 / 1x6 on AVX2; border
 * columns from zero-padded row copies in scratch, or, where run is given
 * no scratch, f32_conv_blk_border one pixel at a time) and
 * f32_dwconv_blk_<Q>__<isa> (Q = 8, 4, 2, 1 pixels per tile).
 */
#include <limits.h>
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_pool.h"
#define BLK_GEOM_ONLY
#include "conv_blocked_tmpl.h"

void cpu_conv_direct_blk_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                     float *y, void *scratch);
void cpu_conv_direct_blk_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                   float *y, void *scratch);
void cpu_conv_dw_blk_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                 float *y, void *scratch);
void cpu_conv_dw_blk_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                               float *y, void *scratch);

void cpu_conv_pw_dw_blk_run__avx512(const cpu_conv2d *a, const void *apacked, const cpu_conv2d *d,
                                    const void *dpacked, const float *x, const float *sum, float *y, void *scratch);
void cpu_conv_pw_dw_blk_run__avx2(const cpu_conv2d *a, const void *apacked, const cpu_conv2d *d,
                                  const void *dpacked, const float *x, const float *sum, float *y, void *scratch);

void cpu_conv_direct_blk_run_n__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                       float *y, void *scratch, int N);
void cpu_conv_direct_blk_run_n__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                     float *y, void *scratch, int N);

static int blk_cdiv(int a, int b) { return (a + b - 1) / b; }

static int blk_geom_ok(const cpu_conv2d *d) {
    return d->C >= 1 && d->M >= 1 && d->H >= 1 && d->W >= 1 && d->OH >= 1 && d->OW >= 1 && d->KH >= 1 &&
           d->KW >= 1 && d->SH >= 1 && d->SW >= 1 && d->DH >= 1 && d->DW >= 1 && d->PT >= 0 && d->PL >= 0 &&
           d->PB >= 0 && d->PR >= 0;
}

/* Work items the kernels thread over, and the threads that get one. */
static int blk_threads(const cpu_conv2d *d, int items) {
    int t = d->threads < 1 ? 1 : d->threads;
    return t < items ? t : (items < 1 ? 1 : items);
}

/* ---- direct ---- */

static int direct_blk_applies(const cpu_conv2d *d, cpu_isa isa) {
    return cpu_blk_vl(isa) > 0 && d->group == 1 && blk_geom_ok(d);
}

/* The FMAs run over whole blocks (C and M rounded up to VL); border
 * columns cost about the same as the interior (their rows are copied
 * padded, ~1% of the work). Rates measured with tests/cpu/bench_cpu_conv
 * (release, one thread, 2-core AVX-512 machine), in MACs/ns: AVX-512
 * 3x3 C256 14x14 56, C512 7x7 52, C64 56x56 55, C128->256 28x28 s2 49,
 * 1x1 C320->1280 7x7 52, C96->576 14x14 50 (the GEMM: 40-46 on the same
 * layers). AVX2 on the AMD EPYC (Zen 1: one 256-bit FMA a cycle, ~18
 * MACs/ns peak; session 25, after the 1x1 loop's unrolling): 1x1 C96->576
 * 14x14 17.3, C256->256 14x14 18.1, C320->1280 7x7 17.5, C64->256 56x56
 * 16.3; 3x3 C128 28x28 .. C512 7x7 16.2-16.9 (the rates before, 16 and
 * 25, came from another AVX2 machine and put the 3x3 kernel 1.5x too
 * fast against the others). */
static double direct_blk_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return 1e30;
    const double rate = isa == CPU_ISA_AVX512 ? 52.0 : d->KH * d->KW == 1 ? 17.5 : 16.5;
    const double cin = (double)blk_cdiv(d->C, vl) * vl, cout = (double)blk_cdiv(d->M, vl) * vl;
    const double macs = cin * cout * d->KH * d->KW * (double)d->OH * d->OW;
    blk_geom g;
    blk_geom_init(d, &g);
    const int pairs = (blk_cdiv(d->M, vl) + 1) / 2;
    /* + streaming the input and output once, which decides convs with
     * few channels on large maps (1x1 C24 -> 144 56x56: 0.23 ms measured,
     * 0.14 from the FMA rate alone), at ~25 bytes/ns */
    const double bytes = (cin * d->H * d->W + cout * d->OH * d->OW) * sizeof(float);
    /* the rows cut into parts as the kernel does (blk_row_parts_n; its
     * widest tile: 14 pixels on AVX-512, 6 on AVX2) */
    const int parts = blk_row_parts_n(&g, pairs, d->threads < 1 ? 1 : d->threads, isa == CPU_ISA_AVX512 ? 14 : 6);
    return macs / rate / (double)blk_threads(d, pairs * g.OH * parts) + bytes / 25.0 + 1000.0;
}

static size_t direct_blk_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return 0;
    const size_t MB = (size_t)blk_cdiv(d->M, vl), CB = (size_t)blk_cdiv(d->C, vl);
    return (MB * CB * (size_t)d->KH * (size_t)d->KW * (size_t)vl * (size_t)vl + MB * (size_t)vl) * sizeof(float);
}

/* [MB][CB][KH][KW][VL ci][VL co] from W [M][C][KH][KW], then bias [MB*VL]. */
static void direct_blk_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return;
    const int CB = blk_cdiv(d->C, vl), MB = blk_cdiv(d->M, vl), KK = d->KH * d->KW;
    float *pw = packed;
    memset(packed, 0, direct_blk_packed_size(d, isa));
    for (int m = 0; m < d->M; ++m)
        for (int c = 0; c < d->C; ++c)
            for (int k = 0; k < KK; ++k) {
                size_t o = (((size_t)(m / vl) * CB + (size_t)(c / vl)) * KK + (size_t)k) * vl * vl;
                pw[o + (size_t)(c % vl) * vl + (size_t)(m % vl)] = w[((size_t)m * d->C + c) * KK + k];
            }
    float *pb = pw + (size_t)MB * CB * KK * vl * vl;
    if (bias) memcpy(pb, bias, (size_t)d->M * sizeof(float));
}


/* A strided 1x1 conv without padding (ResNet's downsampling shortcuts)
 * runs as a stride-1 one on its input subsampled into scratch: the kernel
 * then takes the whole map as one row of long tiles, and reads its input
 * contiguously instead of every SW-th pixel. The copy moves a quarter of
 * the input (stride 2). ResNet-50's C256 -> 512 56x56 s2, one thread,
 * tests/cpu/bench_cpu_conv, alternated with the build before: 1.96-2.15 ->
 * 1.53-1.59 ms; C512 -> 1024 28x28 1.63-1.78 -> 1.37-1.48; C1024 -> 2048
 * 14x14 1.72-2.19 -> 1.47-1.61. */
static int blk_subsampled(const cpu_conv2d *d) {
    return d->KH == 1 && d->KW == 1 && (d->SH > 1 || d->SW > 1) && !d->PT && !d->PL && !d->PB && !d->PR &&
           (d->OH - 1) * d->SH < d->H && (d->OW - 1) * d->SW < d->W;
}

static size_t blk_subsampled_floats(const cpu_conv2d *d, int vl) {
    return ((size_t)blk_cdiv(d->C, vl) * (size_t)d->OH * (size_t)d->OW * (size_t)vl + 15) / 16 * 16;
}

#if defined(__x86_64__) /* the blocked kernels' ISAs */
typedef struct blk_sub_ctx {
    const cpu_conv2d *d;
    const float *x;
    float *xs;
    int vl;
} blk_sub_ctx;

/* Rows [r0, r1) of the subsampled input, a row being (block, oh). */
static void blk_subsample_task(void *vc, int tid, int64_t r0, int64_t r1) {
    (void)tid;
    const blk_sub_ctx *c = vc;
    const cpu_conv2d *d = c->d;
    const size_t vl = (size_t)c->vl, in_cb = (size_t)d->H * (size_t)d->W * vl;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t cb = r / d->OH, oh = r % d->OH;
        const float *src = c->x + (size_t)cb * in_cb + (size_t)(oh * d->SH) * (size_t)d->W * vl;
        float *dst = c->xs + (size_t)r * (size_t)d->OW * vl;
        for (int ow = 0; ow < d->OW; ++ow) memcpy(dst + (size_t)ow * vl, src + (size_t)ow * (size_t)d->SW * vl,
                                                   vl * sizeof(float));
    }
}
#endif

/* Per thread: the padded copies of one output row's input rows (border
 * columns; conv_blocked_tmpl.h); a subsampled input instead for a
 * strided 1x1 conv (blk_subsampled). */
static size_t direct_blk_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return 0;
    if (blk_subsampled(d)) return blk_subsampled_floats(d, vl) * sizeof(float);
    blk_geom g;
    blk_geom_init(d, &g);
    /* one set of padded rows per thread the run may start: its rows may
     * be cut into parts (blk_row_parts), so up to every thread */
    return (size_t)blk_threads(d, INT_MAX) * blk_rows_floats(&g, blk_cdiv(d->C, vl), vl) * sizeof(float);
}

static void direct_blk_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum,
                           float *y, void *scratch) {
#if defined(__x86_64__)
    cpu_conv2d d1;
    if (blk_subsampled(d) && scratch) {
        const int vl = cpu_blk_vl(isa);
        blk_sub_ctx c = {d, x, scratch, vl};
        const int64_t rows = (int64_t)blk_cdiv(d->C, vl) * d->OH;
        cpu_parallel_for(blk_threads(d, (int)(rows < 1 << 30 ? rows : 1 << 30)), rows, 0, blk_subsample_task, &c);
        d1 = *d;
        d1.H = d->OH, d1.W = d->OW, d1.SH = 1, d1.SW = 1;
        d = &d1;
        x = scratch;
        scratch = NULL; /* 1x1 stride 1 unpadded: no border rows */
    }
    if (isa == CPU_ISA_AVX512) cpu_conv_direct_blk_run__avx512(d, packed, x, sum, y, scratch);
    else if (isa == CPU_ISA_AVX2) cpu_conv_direct_blk_run__avx2(d, packed, x, sum, y, scratch);
#else
    (void)d, (void)isa, (void)packed, (void)x, (void)sum, (void)y, (void)scratch; /* applies() refused */
#endif
}

const cpu_conv_algo cpu_conv_direct_blk = {
    .name = "f32_conv_blk",
    .applies = direct_blk_applies,
    .estimate_ns = direct_blk_estimate_ns,
    .packed_size = direct_blk_packed_size,
    .pack = direct_blk_pack,
    .scratch_size = direct_blk_scratch_size,
    .run = direct_blk_run,
    .run_scaled = NULL,
};

/* ---- depthwise ---- */

static int dw_blk_applies(const cpu_conv2d *d, cpu_isa isa) {
    return cpu_blk_vl(isa) > 0 && d->group == d->C && d->M == d->C && blk_geom_ok(d);
}

/* One vector load of x and one FMA per tap and pixel (the weight vector
 * shared by the tile): load-bound, and short rows pay the per-row set-up.
 * Measured with bench_cpu_conv (release, one thread), lane MACs/ns:
 * AVX-512 C576 14x14 3x3 15, C960 7x7 5x5 17, C144 56x56 3x3 s2 15,
 * C672 14x14 5x5 s2 20 (the NCHW f32_dwconv / _c16: 3.6-8.7); AVX2 8. */
static double dw_blk_rate(cpu_isa isa) { return isa == CPU_ISA_AVX512 ? 15.0 : 8.0; }

static double dw_blk_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return 1e30;
    const int threads = blk_threads(d, blk_cdiv(d->C, vl) * d->OH);
    double lanes = (double)blk_cdiv(d->C, vl) * vl * d->OH * (double)d->OW;
    if (isa == CPU_ISA_AVX2) {
        /* ns per output vector: a part per vector (its loads, the store,
         * the tile's set-up) and a part per tap. Per lane-MAC, as before
         * (8 lane-MACs/ns: 9 ns a vector at 3x3), a 5x5 or 7x7 kernel came
         * out 2-4x its time: on an AMD EPYC Zen 3 (bench_cpu_conv, one
         * thread) a vector took 7.7-9.4 ns at 3x3, 10-14.5 at 5x5 and
         * 19-21.5 at 7x7, against f32_dwconv_c16's 1.5-3x that at 5x5 and
         * 7x7, which the estimates ranked the other way round: EfficientNet-B0
         * and MobileNet v3 then ran NCHW at one thread and at batch 8, 10-18%
         * slower than blocked. The 3x3 figure is the one fitted before (AMD
         * EPYC, Zen 1, MobileNet v2/v3 and EfficientNet-B0 layers: 1.2-1.8x
         * the per-MAC figure on 7x7 and 14x14 maps out, 0.7-1.3x on 28x28
         * and more; the rows' set-up, as the NCHW kernels' fits in
         * conv_depthwise.c); kernels of fewer taps (a BatchNormalization
         * as a 1x1, a 1x3) keep it too. */
        const double kk = (double)d->KH * d->KW, vectors = lanes / vl;
        const double per = kk < 6.4 + 0.29 * kk ? kk : 6.4 + 0.29 * kk; /* 1 ns a tap up to 3x3 */
        return (1.0 + 5.0 / d->OW) * vectors * per / (double)threads + 500.0;
    }
    double macs = lanes * d->KH * d->KW;
    return macs / dw_blk_rate(isa) / (double)threads + 500.0;
}

static size_t dw_blk_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return 0;
    const size_t CB = (size_t)blk_cdiv(d->C, vl);
    return (CB * (size_t)d->KH * (size_t)d->KW * (size_t)vl + CB * (size_t)vl) * sizeof(float);
}

/* [CB][KH][KW][VL] from W [C][1][KH][KW], then bias [CB*VL]. */
static void dw_blk_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return;
    const int CB = blk_cdiv(d->C, vl), KK = d->KH * d->KW;
    float *pw = packed;
    memset(packed, 0, dw_blk_packed_size(d, isa));
    for (int c = 0; c < d->C; ++c)
        for (int k = 0; k < KK; ++k)
            pw[((size_t)(c / vl) * KK + (size_t)k) * vl + (size_t)(c % vl)] = w[(size_t)c * KK + k];
    float *pb = pw + (size_t)CB * KK * vl;
    if (bias) memcpy(pb, bias, (size_t)d->C * sizeof(float));
}

/* The padded planes of the threads (blk_dw_pad_floats), where they apply. */
static size_t dw_blk_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return 0;
    const int CB = blk_cdiv(d->C, vl);
    return (size_t)blk_threads(d, CB) * blk_dw_pad_floats(d, vl) * sizeof(float);
}

static void dw_blk_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum,
                       float *y, void *scratch) {
#if defined(__x86_64__)
    if (isa == CPU_ISA_AVX512) cpu_conv_dw_blk_run__avx512(d, packed, x, sum, y, scratch);
    else if (isa == CPU_ISA_AVX2) cpu_conv_dw_blk_run__avx2(d, packed, x, sum, y, scratch);
#else
    (void)d, (void)isa, (void)packed, (void)x, (void)sum, (void)y, (void)scratch; /* applies() refused */
#endif
}

const cpu_conv_algo cpu_conv_dw_blk = {
    .name = "f32_dwconv_blk",
    .applies = dw_blk_applies,
    .estimate_ns = dw_blk_estimate_ns,
    .packed_size = dw_blk_packed_size,
    .pack = dw_blk_pack,
    .scratch_size = dw_blk_scratch_size,
    .run = dw_blk_run,
    .run_scaled = NULL,
};

/* ---- a batch with the weights read once (conv_blocked_tmpl.h) ---- */

#define BLK_BATCH_MIN_BYTES (1024.0 * 1024.0)

int cpu_conv_direct_blk_batched(const cpu_conv2d *d, cpu_isa isa, int64_t N) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0 || N < 2 || N > INT_MAX / 4 || !direct_blk_applies(d, isa) || blk_subsampled(d)) return 0;
    /* a pair's weights against one image's input: image by image, every
     * image reads the whole weights; batched, every pair reads every
     * image's input. At a quarter of it, still faster at two threads
     * (their images' weights streamed at once), the same at one: ResNet-50's
     * layer4 1x1s and strided 3x3 at batch 8, 52.9-73.4 -> 44.0-51.3 ms in
     * 3 of 3 profiled runs; ResNet-18's strided 3x3 11.2-16.2 -> 8.4-9.8
     * (AMD EPYC Zen 3). */
    const double w_pair = 2.0 * blk_cdiv(d->C, vl) * vl * (double)d->KH * d->KW * vl * sizeof(float);
    const double x_img = (double)blk_cdiv(d->C, vl) * vl * (double)d->H * d->W * sizeof(float);
    const double w_all = w_pair / 2.0 * blk_cdiv(d->M, vl);
    /* and only weights past L2 (smaller ones stay there image by image) */
    return 4.0 * w_pair >= x_img && w_all >= BLK_BATCH_MIN_BYTES &&
           (double)blk_cdiv(d->M, vl) * d->OH * d->OW * (double)N <= (double)INT_MAX / 4;
}

void cpu_conv_direct_blk_run_n(cpu_isa isa, const cpu_conv2d *d, const void *packed, const float *x,
                               const float *sum, float *y, void *scratch, int N) {
#if defined(__x86_64__)
    if (isa == CPU_ISA_AVX512) cpu_conv_direct_blk_run_n__avx512(d, packed, x, sum, y, scratch, N);
    else if (isa == CPU_ISA_AVX2) cpu_conv_direct_blk_run_n__avx2(d, packed, x, sum, y, scratch, N);
#else
    (void)isa, (void)d, (void)packed, (void)x, (void)sum, (void)y, (void)scratch, (void)N;
#endif
}

/* ---- 1x1 expansion + depthwise, fused (conv_blocked_tmpl.h) ---- */

int cpu_pw_dw_blk_applies(const cpu_conv2d *a, const cpu_conv2d *d, cpu_isa isa) {
    return direct_blk_applies(a, isa) && dw_blk_applies(d, isa) && a->KH == 1 && a->KW == 1 && a->SH == 1 &&
           a->SW == 1 && !a->PT && !a->PL && !a->PB && !a->PR && !a->epi.sum && a->M == d->C && a->H == d->H &&
           a->W == d->W && a->OH == a->H && a->OW == a->W && (d->KH > 1 || d->KW > 1);
}

size_t cpu_pw_dw_blk_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    const int vl = cpu_blk_vl(isa);
    if (vl <= 0) return 0;
    const int t = d->threads < 1 ? 1 : d->threads;
    return (size_t)t * blk_pwdw_floats(d, vl) * sizeof(float);
}

void cpu_pw_dw_blk_run(cpu_isa isa, const cpu_conv2d *a, const void *apacked, const cpu_conv2d *d,
                       const void *dpacked, const float *x, const float *sum, float *y, void *scratch) {
#if defined(__x86_64__)
    if (isa == CPU_ISA_AVX512) cpu_conv_pw_dw_blk_run__avx512(a, apacked, d, dpacked, x, sum, y, scratch);
    else if (isa == CPU_ISA_AVX2) cpu_conv_pw_dw_blk_run__avx2(a, apacked, d, dpacked, x, sum, y, scratch);
#else
    (void)isa, (void)a, (void)apacked, (void)d, (void)dpacked, (void)x, (void)sum, (void)y, (void)scratch;
#endif
}
