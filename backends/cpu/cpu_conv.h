/*
 * cpu_conv.h - the convolution algorithms of the SIMD CPU backend and the
 * contract between them and the module (backends/cpu/module.c).
 *
 * At compile time of a partition the module describes each 2-D Conv as a
 * cpu_conv2d, asks every algorithm of cpu_conv_algos[] (conv.c) whether it
 * applies on the ISA chosen at load, and takes the applicable one with the
 * lowest cost estimate (estimate_ns; ties: the earlier entry). The chosen
 * algorithm packs the weights once (pack), and at run time computes one
 * image at a time (run), threading internally with OpenMP.
 *
 * Data is NCHW float32 at this interface (the partition's internal layout
 * may differ; see module.c). Every algorithm applies the full epilogue in
 * its own output loop: bias, then the residual `sum` (same shape as y, may
 * be NULL), then the activation (ops.h, engine_epilogue). No extra pass
 * over memory.
 *
 * Kernel and algorithm names say dtype, op, tile and ISA:
 *   "f32_conv3x3s1_winograd_f4x4__avx512", "f32_dwconv3x3s2__avx2",
 *   "f32_conv1x1_gemm_6x16__avx2".
 */
#ifndef ENGINE_CPU_CONV_H
#define ENGINE_CPU_CONV_H

#include <stddef.h>

#include "engine/ops.h"

typedef enum cpu_isa {
    CPU_ISA_SCALAR = 0, /* portable C, any machine */
    CPU_ISA_NEON = 1,   /* aarch64 */
    CPU_ISA_AVX2 = 2,   /* x86-64 with AVX2 + FMA */
    CPU_ISA_AVX512 = 3  /* x86-64 with AVX-512F (+ VL/BW/DQ) */
} cpu_isa;

/* One 2-D convolution (1-D convs are described with H = KH = 1). */
typedef struct cpu_conv2d {
    int C, H, W;         /* input channels and spatial size */
    int M, OH, OW;       /* output channels and spatial size */
    int KH, KW;          /* kernel */
    int SH, SW;          /* strides */
    int DH, DW;          /* dilations */
    int PT, PL, PB, PR;  /* pads: top, left, bottom, right */
    int group;           /* C and M divisible by it */
    engine_epilogue epi; /* epi.sum: a residual tensor is passed to run */
    int threads;         /* threads the module runs with (>= 1) */
    int exact;           /* engine_conv_params.exact_rounding: no Winograd */
    int bf16;            /* --precision bf16: the level (cpu_internal.h), 0 for float32 */
} cpu_conv2d;

typedef struct cpu_conv_algo {
    const char *name; /* base name; the ISA suffix is appended by the module */
    /* Non-zero when this algorithm handles d on isa. */
    int (*applies)(const cpu_conv2d *d, cpu_isa isa);
    /* Rough cost in nanoseconds for one image, for choosing between the
     * algorithms that apply (MACs / sustained MACs per ns is enough). */
    double (*estimate_ns)(const cpu_conv2d *d, cpu_isa isa);
    /* Bytes of packed weights (and bias) for d. */
    size_t (*packed_size)(const cpu_conv2d *d, cpu_isa isa);
    /* Packs W [M, C/group, KH, KW] and bias [M] (NULL: zeros) into packed
     * (64-byte aligned, packed_size bytes). */
    void (*pack)(const cpu_conv2d *d, cpu_isa isa, const float *w, const float *bias, void *packed);
    /* Bytes of scratch run needs for all threads together (64-byte aligned
     * by the caller); 0 for none. The module puts it in its arena. */
    size_t (*scratch_size)(const cpu_conv2d *d, cpu_isa isa);
    /* One image: x [C, H, W] -> y [M, OH, OW], sum NULL or [M, OH, OW].
     * Threads with OpenMP up to d->threads. Cannot fail. */
    void (*run)(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *sum, float *y,
                void *scratch);
    /* Optional (NULL: not offered): run on x scaled per input channel,
     * x'[c] = x[c] * xscale[c] (a Squeeze-Excitation Mul the module fused
     * into this conv: the product is never written). */
    void (*run_scaled)(const cpu_conv2d *d, cpu_isa isa, const void *packed, const float *x, const float *xscale,
                       const float *sum, float *y, void *scratch);
} cpu_conv_algo;

/* The algorithms, in preference order for ties, NULL-terminated (conv.c). */
extern const cpu_conv_algo *const cpu_conv_algos[];

/* The algorithms by file (each file defines the ones it names):
 * conv_gemm.c: im2col / 1x1 packed GEMM, any conv (the general path). */
extern const cpu_conv_algo cpu_conv_gemm;
/* conv_gemm.c: the same GEMMs in bf16 (d->bf16 set: --precision bf16). */
extern const cpu_conv_algo cpu_conv_bf16;
/* conv_depthwise.c: group == C == M, 3x3 and 5x5, stride 1 and 2. */
extern const cpu_conv_algo cpu_conv_depthwise;
/* The row kernel's channels c0 .. c0+nc-1 on the calling thread, channel
 * c0+i read from x + i*x_stride; y and sum are whole [C, OH, OW] planes;
 * plane: cpu_dwconv_plane_floats(d) floats of scratch, 64-byte aligned. */
size_t cpu_dwconv_plane_floats(const cpu_conv2d *d);
void cpu_dwconv_planes(cpu_isa isa, const cpu_conv2d *d, const void *packed, int c0, int nc, const float *x,
                       size_t x_stride, const float *sum, float *y, float *plane);
/* conv_depthwise.c: the same convs with 16 channels per vector (small maps). */
extern const cpu_conv_algo cpu_conv_depthwise_c16;
/* conv_depthwise.c: few input channels (C <= 16, C*KH*KW <= 256, one
 * group; the RGB stems): a direct kernel over the depthwise planes, 8
 * output channels per vector load. */
extern const cpu_conv_algo cpu_conv_direct;
/* conv_depthwise.c: the same few-channel direct conv from NCHW input into
 * the blocked layout (cpu_blocked.h; AVX-512 and AVX2). */
extern const cpu_conv_algo cpu_conv_direct_blkout;
/* conv_gemv.c: one output pixel from a kernel covering the whole unpadded
 * input (Squeeze-Excitation 1x1 convs): a dot product per output channel. */
extern const cpu_conv_algo cpu_conv_gemv;
/* conv_winograd.c: 3x3 stride 1 dilation 1, group 1, F(4x4, 3x3) / F(6x6, 3x3). */
extern const cpu_conv_algo cpu_conv_winograd;

/* The epilogue's activation on one float (scalar tails and the portable
 * path); vector forms live beside the kernels. */
static inline float cpu_act_scalar(const engine_epilogue *e, float x) {
    return (float)engine_act_apply(e, (double)x);
}

#endif /* ENGINE_CPU_CONV_H */
