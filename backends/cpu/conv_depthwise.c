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
#include "conv_special_vec.h"
#define DW_SUFFIX scalar
#include "conv_depthwise_tmpl.h"

void cpu_dwconv_run__avx512(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                            void *scratch);
void cpu_dwconv_run__avx2(const cpu_conv2d *d, const void *packed, const float *x, const float *sum, float *y,
                          void *scratch);

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

/* Depthwise is bound by loads and the plane copy, not by FMAs: the model
 * counts every output as KH*KW FMAs at a sustained rate per ISA plus the
 * copy of the input, over the threads the channels can use. The gemm path
 * runs a depthwise conv as C tiny GEMMs, far slower, so the exact numbers
 * only matter against each other. */
static double dw_estimate_ns(const cpu_conv2d *d, cpu_isa isa) {
    double out = (double)d->C * d->OH * d->OW;
    double macs = out * d->KH * d->KW;
    /* measured on this kind of machine (one thread, 56x56 and 14x14 layers):
     * AVX-512 ~11 MACs/ns, AVX2 ~9, the portable C ~1 (NEON runs it too) */
    double macs_per_ns = isa == CPU_ISA_AVX512 ? 11.0 : isa == CPU_ISA_AVX2 ? 9.0 : 1.0;
    double copy_ns = (double)d->C * d->H * d->W * d->SW * 0.05; /* the padded plane */
    return (macs / macs_per_ns + copy_ns) / (double)dw_threads(d);
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

const cpu_conv_algo cpu_conv_depthwise = {
    .name = "f32_dwconv",
    .applies = dw_applies,
    .estimate_ns = dw_estimate_ns,
    .packed_size = dw_packed_size,
    .pack = dw_pack,
    .scratch_size = dw_scratch_size,
    .run = dw_run,
};
