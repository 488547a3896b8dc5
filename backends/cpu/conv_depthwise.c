/*
 * conv_depthwise.c - depthwise convolution (group == C == M, one filter per
 * channel): the cpu_conv_depthwise algorithm, its packing, and the
 * portable scalar instantiation of the kernel. The SIMD instantiations are
 * conv_depthwise_avx512.c and conv_depthwise_avx2.c, compiled with their
 * ISA flags; the kernel itself is conv_depthwise_tmpl.h.
 *
 * Kernel names: f32_dwconv<KH>x<KW>s<S>__<isa> (3x3 and 5x5 unrolled, other
 * sizes take the generic loop); strides, pads and dilations of any size.
 */
#include <string.h>

#define CSV_SCALAR
#include "cpu_blocked.h"
#include "conv_special_vec.h"
#define DW_SUFFIX scalar
#include "conv_depthwise_tmpl.h"

void cpu_dwconv_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                            void *scratch);
void cpu_dwconv_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                          void *scratch);
void cpu_dwconv16_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                              void *scratch);
void cpu_dwconv16_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                            void *scratch);

void cpu_dwconv_planes__avx512(const cpu_conv2d *d, const void *packed, int c0, int nc, const float *x,
                               size_t x_stride, const float *sum, float *y, float *plane);
void cpu_dwconv_planes__avx2(const cpu_conv2d *d, const void *packed, int c0, int nc, const float *x,
                             size_t x_stride, const float *sum, float *y, float *plane);

#if defined(__x86_64__)
#define DW_HAVE_X86 1
#else
#define DW_HAVE_X86 0
#endif

static int dw_applies(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    /* multiplier 1 only: one input channel per output channel */
    if (d->group != d->C || d->M != d->C || d->group < 1) return 0;
    if (d->KH < 1 || d->KW < 1 || d->KH > 7 || d->KW > 7) return 0;
    if (d->SH < 1 || d->SW < 1 || d->DH < 1 || d->DW < 1) return 0;
    if (d->OH < 1 || d->OW < 1) return 0;
    return 1;
}

/* Kernels the per-channel loops run at their estimates' rates: the
 * unrolled 3x3 and 5x5, and any of at most 9 taps (a 1x1, a BatchNormalization
 * made a conv; a 1x3). The generic loop over more taps (7x7) is slower. */
static int dw_fast_taps(const cpu_conv2d *d) {
    return (d->KH == d->KW && (d->KH == 3 || d->KH == 5)) || d->KH * d->KW <= 9;
}

/* Depthwise is bound by loads and the plane copy, not by FMAs. The model
 * counts the vector lanes the row kernel computes (each output row rounded
 * up to whole vectors: a 7-wide row fills 7 of 16 AVX-512 lanes) at a
 * sustained rate per ISA, plus the plane copy: cheap vector copies, but
 * a scalar deinterleave for stride 2 on rows narrower than two vectors.
 * Rates fitted with tests/cpu/bench_cpu_conv on MobileNet v2/v3 and
 * EfficientNet-B0 layers (one thread, caches flushed): AVX-512 ~17 lane
 * MACs/ns, AVX2 ~14, the portable C ~1 (NEON runs it too). The gemm path
 * runs a depthwise conv as C tiny GEMMs, far slower. */
static double dw_rate(cpu_isa isa) {
    return isa == CPU_ISA_AVX512 ? 17.0 : isa == CPU_ISA_AVX2 ? 14.0 : 1.0;
}

static double dw_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    if (dw_is_affine(d) && isa != CPU_ISA_SCALAR) {
        /* dw_affine_plane streams x (and the sum) in and y out: ~32 bytes/ns
         * with the planes in cache, ~10 ns a channel besides (AVX2, AMD
         * EPYC, one thread: C256 56x56 0.17-0.19 ms, C512 14x14 0.025,
         * C1024 7x7 0.027; 0.53 from DRAM) */
        const double bytes = (double)d->C * d->H * (double)d->W * (d->epi.sum ? 12.0 : 8.0);
        return (bytes / 32.0 + 10.0 * d->C) / (double)dw_threads(d);
    }
    const int vw = isa == CPU_ISA_AVX512 ? 16 : isa == CPU_ISA_AVX2 ? 8 : 1;
    double lanes = (double)d->C * d->OH * (double)((d->OW + vw - 1) / vw * vw);
    double macs = lanes * d->KH * d->KW;
    dw_geom g;
    dw_geom_init(d, &g);
    double copy_ns = (double)d->C * g.rows * g.row_stride * 0.05;
    if (d->SW > 1 && (d->SW != 2 || d->W < 2 * vw + d->PL)) copy_ns += (double)d->C * d->H * d->W * 0.5;
    /* With AVX2 (AMD EPYC, Zen 1; bench_cpu_conv on the 3x3 and 5x5
     * depthwise layers of MobileNet v2/v3 and EfficientNet-B0) the kernel
     * took, at two threads, 1.4x this at 112 columns out, 1.9x at 56,
     * 2.2-2.6x at 28, 3.5-4.1x at 14 and 8x at 7 (per-row and per-plane
     * costs the model leaves out, and the threads' hand-offs), at one
     * thread about half that excess (1.7x at 56 .. 4.8x at 7), and more
     * at stride 2; the generic loop (kernels other than 3x3 and 5x5)
     * another 2.5x (ConvNeXt's 7x7 at 56x56: 5.3x its estimate). Scaled
     * so, the choice against f32_dwconv_c16 below is made on times. */
    const double per_row = d->threads > 1 ? 50.0 : 25.0;
    const double fit = isa == CPU_ISA_AVX2 ? (1.0 + per_row / d->OW) * (d->SW > 1 ? 1.3 : 1.0) *
                                                 (dw_fast_taps(d) ? 1.0 : 2.5)
                                           : 1.0;
    return fit * (macs / dw_rate(isa) + copy_ns) / (double)dw_threads(d);
}

static size_t dw_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return dw_bias_offset(d) + (size_t)d->C * sizeof(float);
}

static void dw_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    (void)isa;
    size_t wbytes = (size_t)d->C * (size_t)(d->KH * d->KW) * sizeof(float);
    memcpy(packed, w, wbytes);
    memset((char *)packed + wbytes, 0, dw_bias_offset(d) - wbytes);
    float *b = (float *)((char *)packed + dw_bias_offset(d));
    if (bias) memcpy(b, bias, (size_t)d->C * sizeof(float));
    else memset(b, 0, (size_t)d->C * sizeof(float));
}

static size_t dw_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    dw_geom g;
    dw_geom_init(d, &g);
    return (size_t)dw_threads(d) * g.plane_floats * sizeof(float);
}

static void dw_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum, float *y,
                   void *scratch) {
#if DW_HAVE_X86
    if (isa == CPU_ISA_AVX512) {
        cpu_dwconv_run__avx512(d, packed, x, sum, y, scratch);
        return;
    }
    if (isa == CPU_ISA_AVX2) {
        cpu_dwconv_run__avx2(d, packed, x, sum, y, scratch);
        return;
    }
#endif
    (void)isa;
    cpu_dwconv_run__scalar(d, packed, x, sum, y, scratch);
}

size_t cpu_dwconv_plane_floats(const cpu_conv2d *d) {
    dw_geom g;
    dw_geom_init(d, &g);
    return g.plane_floats;
}

void cpu_dwconv_planes(cpu_isa isa, const cpu_conv2d *d, const void *packed, int c0, int nc, const float *x,
                       size_t x_stride, const float *sum, float *y, float *plane) {
#if DW_HAVE_X86
    if (isa == CPU_ISA_AVX512) {
        cpu_dwconv_planes__avx512(d, packed, c0, nc, x, x_stride, sum, y, plane);
        return;
    }
    if (isa == CPU_ISA_AVX2) {
        cpu_dwconv_planes__avx2(d, packed, c0, nc, x, x_stride, sum, y, plane);
        return;
    }
#endif
    (void)isa;
    cpu_dwconv_planes__scalar(d, packed, c0, nc, x, x_stride, sum, y, plane);
}

const cpu_conv_algo cpu_conv_depthwise = {
    .name = "f32_dwconv",
    .applies = dw_applies,
    .estimate_ns = dw_estimate_ns,
    .packed_size = dw_packed_size,
    .pack = dw_pack,
    .scratch_size = dw_scratch_size,
    .run = dw_run,
};

/* ---- f32_dwconv_c16: 16 channels per vector (conv_depthwise_tmpl.h) ---- */

/* Every lane is an output (bar the channels past C), so the FMA count is
 * C rounded up to 16, times OH*OW*KH*KW, at about the row kernel's rate
 * (measured ~16 MACs/ns with AVX-512); the two transposes, ~0.35 ns per
 * input and output float as scalar moves (the portable build). This form
 * wins where the rows are short (7x7 and 14x14 maps, stride 2 onto them):
 * 960 channels 7x7 5x5, one thread, 0.24 -> 0.08 ms; it loses on 56x56
 * and wider maps. The x86 builds move 8 x 8 floats at a time
 * (conv_depthwise_tmpl.h): with AVX2 (AMD EPYC, Zen 1, 2 threads) that
 * took the kernel from 1.5-2.5x this estimate to 0.9-1.3x of it on maps
 * of 14x14 and more, and 1.8x at 7x7 (a few microseconds a call the
 * estimate leaves out, at two threads: at one, 0.9-1.2x without the
 * factor), 2x for the generic loop (ConvNeXt's 7x7 at 56x56), hence the
 * AVX2 factor; the AVX-512 figure is as it was measured before that
 * change (now an overestimate). */
static double dw16_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    double macs = (double)dw16_blocks(d) * 16.0 * d->OH * d->OW * d->KH * d->KW;
    double moves_ns = ((double)d->C * d->H * d->W + (double)d->C * d->OH * d->OW * (d->epi.sum ? 2 : 1)) * 0.35;
    const double fit = isa == CPU_ISA_AVX2 ? (d->threads > 1 ? 1.0 + 5.0 / d->OW : 1.0) * (dw_fast_taps(d) ? 1.0 : 2.0)
                                           : 1.0;
    return fit * (macs / (dw_rate(isa) * 0.95) + moves_ns) / (double)dw16_threads(d);
}

static size_t dw16_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return dw16_bias_offset(d) + (size_t)dw16_blocks(d) * 16 * sizeof(float);
}

static void dw16_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    (void)isa;
    const int K2 = d->KH * d->KW;
    memset(packed, 0, dw16_packed_size(d, isa));
    float *pw = packed;
    float *pb = (float *)((char *)packed + dw16_bias_offset(d));
    for (int c = 0; c < d->C; ++c) {
        for (int k = 0; k < K2; ++k) pw[((size_t)(c / 16) * K2 + k) * 16 + c % 16] = w[(size_t)c * K2 + k];
        if (bias) pb[c] = bias[c];
    }
}

static size_t dw16_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    dw16_geom g;
    dw16_geom_init(d, &g);
    return (size_t)dw16_threads(d) * g.per_thread * sizeof(float);
}

static void dw16_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum,
                     float *y, void *scratch) {
#if DW_HAVE_X86
    if (isa == CPU_ISA_AVX512) {
        cpu_dwconv16_run__avx512(d, packed, x, sum, y, scratch);
        return;
    }
    if (isa == CPU_ISA_AVX2) {
        cpu_dwconv16_run__avx2(d, packed, x, sum, y, scratch);
        return;
    }
#endif
    (void)isa;
    cpu_dwconv16_run__scalar(d, packed, x, sum, y, scratch);
}

const cpu_conv_algo cpu_conv_depthwise_c16 = {
    .name = "f32_dwconv_c16",
    .applies = dw_applies,
    .estimate_ns = dw16_estimate_ns,
    .packed_size = dw16_packed_size,
    .pack = dw16_pack,
    .scratch_size = dw16_scratch_size,
    .run = dw16_run,
};

/* ---- f32_conv_direct_m8: few input channels (conv_depthwise_tmpl.h) ----
 * It shares the row kernel's phase-split planes: every input channel is
 * copied once into one, and each vector loaded from a plane feeds 8 FMAs
 * (8 output channels). It pays where the GEMM's im2col panels cost most
 * against their use: K = C*KH*KW small (the RGB stems). */
void cpu_conv_direct_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                                 void *scratch);
void cpu_conv_direct_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                               void *scratch);

static int direct_applies(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    if (d->group < 1 || d->C % d->group || d->M % d->group) return 0;
    const int Cg = d->C / d->group;
    /* 3x3 stride 1, one group, C >= 16: Winograd multiplies 2.25x less and
     * measured faster (C16 112x112 -> 32, 2 threads: 0.37 vs 0.73 ms), but
     * its estimate is too cautious to win the comparison; below C = 16 the
     * direct kernel measured faster (C8 64x64 -> 16: 0.09 vs 0.15 ms). */
    if (d->group == 1 && Cg >= 16 && d->KH == 3 && d->KW == 3 && d->SH == 1 && d->SW == 1 && d->DH == 1 &&
        d->DW == 1)
        return 0;
    /* Pointwise (1x1 s1 unpadded): the GEMM copies B panels straight from
     * the rows, no plane copy (C16 112x112 -> 96, 2 threads: 0.31 vs 0.66
     * ms), and the 1x1 + depthwise fusion needs it. One-pixel full-cover
     * convs (the SE blocks'): the gemv. */
    const int unpadded = !d->PT && !d->PL && !d->PB && !d->PR;
    if (d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && unpadded) return 0;
    if (d->OH == 1 && d->OW == 1 && d->KH == d->H && d->KW == d->W && unpadded && d->DH == 1 && d->DW == 1) return 0;
    return Cg >= 1 && Cg <= 16 && Cg * d->KH * d->KW <= 640 && d->KW <= DIRECT_MAX_KW &&
           d->KH >= 1 && d->KW >= 1 && d->SH >= 1 && d->SW >= 1 && d->DH >= 1 && d->DW >= 1 && d->OH >= 1 &&
           d->OW >= 1 && d->M >= 1;
}

/* Filling the phase-split planes of the direct kernels. */
static double direct_planes_ns(const cpu_conv2d *d) {
    dw_geom g;
    dw_geom_init(d, &g);
    double copy_ns = (double)d->C * g.rows * g.row_stride * 0.05;
    if (d->SW > 1) copy_ns += (double)d->C * d->H * d->W * 0.5;
    return copy_ns;
}

/* Lanes computed (each output row rounded up to whole vectors, M to 8)
 * times the taps at a sustained rate per ISA, plus the plane copies. */
static double direct_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    const int vw = isa == CPU_ISA_AVX512 ? 16 : isa == CPU_ISA_AVX2 ? 8 : 1;
    const double rate = isa == CPU_ISA_AVX512 ? 40.0 : isa == CPU_ISA_AVX2 ? 20.0 : 1.0;
    double lanes = (double)direct_blocks(d) * DIRECT_MB * d->OH * (double)((d->OW + vw - 1) / vw * vw);
    double macs = lanes * (d->C / d->group) * d->KH * d->KW;
    return macs / rate / (double)(d->threads < 1 ? 1 : d->threads) + direct_planes_ns(d);
}

static size_t direct_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    return direct_bias_offset(d) + (size_t)direct_blocks(d) * DIRECT_MB * sizeof(float);
}

static void direct_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    const int K = d->C / d->group * d->KH * d->KW; /* per output channel: [Cg][KH][KW] */
    const int Mg = d->M / d->group, MBg = direct_group_blocks(d);
    memset(packed, 0, direct_packed_size(d, isa));
    float *pw = packed;
    float *pb = (float *)((char *)packed + direct_bias_offset(d));
    for (int m = 0; m < d->M; ++m) {
        const int g = m / Mg, mm = m % Mg, blk = g * MBg + mm / DIRECT_MB, lane = mm % DIRECT_MB;
        for (int k = 0; k < K; ++k)
            pw[((size_t)blk * (size_t)K + (size_t)k) * DIRECT_MB + lane] = w[(size_t)m * K + k];
        if (bias) pb[blk * DIRECT_MB + lane] = bias[m];
    }
}

static size_t direct_scratch_size(const cpu_conv2d *d, cpu_isa isa) {
    (void)isa;
    dw_geom g;
    dw_geom_init(d, &g);
    return (size_t)d->C * g.plane_floats * sizeof(float);
}

static void direct_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum,
                       float *y, void *scratch) {
#if DW_HAVE_X86
    if (isa == CPU_ISA_AVX512) {
        cpu_conv_direct_run__avx512(d, packed, x, sum, y, scratch);
        return;
    }
    if (isa == CPU_ISA_AVX2) {
        cpu_conv_direct_run__avx2(d, packed, x, sum, y, scratch);
        return;
    }
#endif
    (void)isa;
    cpu_conv_direct_run__scalar(d, packed, x, sum, y, scratch);
}

const cpu_conv_algo cpu_conv_direct = {
    .name = "f32_conv_direct_m8",
    .applies = direct_applies,
    .estimate_ns = direct_estimate_ns,
    .packed_size = direct_packed_size,
    .pack = direct_pack,
    .scratch_size = direct_scratch_size,
    .run = direct_run,
};

/* ---- f32_conv_direct_blkout: few input channels, output blocked (conv_depthwise_tmpl.h) ----
 * A blocked algorithm (cpu_blocked.h) whose input is NCHW: the stems of
 * nets that run blocked after them. */
void cpu_conv_direct_blkout_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                        float *y, void *scratch);
void cpu_conv_direct_blkout_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum,
                                      float *y, void *scratch);

static int dbo_vw(cpu_isa isa) { return isa == CPU_ISA_AVX512 ? 16 : isa == CPU_ISA_AVX2 ? 8 : 0; }

static int dbo_applies(const cpu_conv2d *d, cpu_isa isa) {
    /* up to 8 channels: past them the blocked direct kernel pads less than 2x */
    return DW_HAVE_X86 && dbo_vw(isa) > 0 && cpu_blk_vl(isa) == dbo_vw(isa) && d->group == 1 && d->C >= 1 &&
           d->C <= 8 && d->KW <= DIRECT_MAX_KW && d->KH >= 1 && d->KW >= 1 && d->SH >= 1 && d->SW >= 1 &&
           d->DH >= 1 && d->DW >= 1 && d->OH >= 1 && d->OW >= 1 && d->M >= 1 &&
           !(d->KH == 1 && d->KW == 1 && d->SH == 1 && d->SW == 1 && !d->PT && !d->PL && !d->PB && !d->PR);
}

/* The MACs over the output channels rounded up to blocks, at a sustained
 * rate (one pixel's broadcast feeds NB FMAs), plus the plane copies. */
static double dbo_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    const int vw = dbo_vw(isa);
    if (vw <= 0) return 1e30;
    /* AVX2 (AMD EPYC, Zen 1, one thread): the 3 -> 32 stem at 224x224
     * 0.69 ms against f32_conv_direct_m8's 0.85, as the AVX-512 rates */
    const double rate = isa == CPU_ISA_AVX512 ? 48.0 : 24.0;
    const double macs = (double)((d->M + vw - 1) / vw * vw) * d->C * d->KH * d->KW * (double)d->OH * d->OW;
    return macs / rate / (double)(d->threads < 1 ? 1 : d->threads) + direct_planes_ns(d);
}

static size_t dbo_packed_size(const cpu_conv2d *d, cpu_isa isa) {
    const int vw = dbo_vw(isa);
    if (vw <= 0) return 0;
    return dbo_bias_offset(d, vw) + (size_t)((d->M + vw - 1) / vw) * (size_t)vw * sizeof(float);
}

/* [MB][C][KH][KW][VW] from W [M][C][KH][KW], then the bias [MB*VW]. */
static void dbo_pack(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed) {
    const int vw = dbo_vw(isa);
    if (vw <= 0) return;
    const size_t K = (size_t)d->C * (size_t)(d->KH * d->KW);
    memset(packed, 0, dbo_packed_size(d, isa));
    float *pw = packed;
    float *pb = (float *)((char *)packed + dbo_bias_offset(d, vw));
    for (int m = 0; m < d->M; ++m) {
        for (size_t k = 0; k < K; ++k) pw[((size_t)(m / vw) * K + k) * (size_t)vw + (size_t)(m % vw)] = w[(size_t)m * K + k];
        if (bias) pb[m] = bias[m];
    }
}

static void dbo_run(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum, float *y,
                    void *scratch) {
#if DW_HAVE_X86
    if (isa == CPU_ISA_AVX512) cpu_conv_direct_blkout_run__avx512(d, packed, x, sum, y, scratch);
    else if (isa == CPU_ISA_AVX2) cpu_conv_direct_blkout_run__avx2(d, packed, x, sum, y, scratch);
#else
    (void)d, (void)isa, (void)packed, (void)x, (void)sum, (void)y, (void)scratch;
#endif
}

const cpu_conv_algo cpu_conv_direct_blkout = {
    .name = "f32_conv_direct_blkout",
    .applies = dbo_applies,
    .estimate_ns = dbo_estimate_ns,
    .packed_size = dbo_packed_size,
    .pack = dbo_pack,
    .scratch_size = direct_scratch_size,
    .run = dbo_run,
};
