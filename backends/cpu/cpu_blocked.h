/*
 * cpu_blocked.h - the blocked channel layout of the SIMD CPU backend
 * (NCHW16c on AVX-512, NCHW8c on AVX2) and the kernels that work in it.
 *
 * The layout. A rank-4 float32 activation [N, C, H, W] stored blocked is
 * [N][CB][H][W][VL] with VL = cpu_blk_vl(isa) and CB = ceil(C / VL):
 * element (n, c, h, w) at ((n * CB + c / VL) * H * W + h * W + w) * VL +
 * c % VL. Lanes c >= C of the last block ("padding lanes") always hold
 * 0.0f: every kernel that writes a blocked tensor stores zeros there
 * (activations that do not map 0 to 0, such as Sigmoid, must rewrite
 * them), and every kernel may rely on reading zeros there (a conv
 * multiplies them by zero weights; an Inf would make NaNs). The portable
 * scalar path and NEON keep NCHW (cpu_blk_vl is 0 there).
 *
 * Where it is used: module.c decides per node whether it runs blocked and
 * per value in which form it is stored (docs/PERFORMANCE.md, "Layout");
 * a value read in the other form is converted by the reading step
 * (cpu_blk_from_nchw / cpu_blk_to_nchw) into the step's scratch.
 *
 * The conv algorithms below use the cpu_conv_algo contract of cpu_conv.h
 * except that x, y and sum of `run` are one image each in the blocked
 * layout ([CB][H][W][VL], [MB][OH][OW][VL]); they are not in
 * cpu_conv_algos[] (that list is the NCHW one). run_scaled is NULL.
 */
#ifndef ENGINE_CPU_BLOCKED_H
#define ENGINE_CPU_BLOCKED_H

#include <stddef.h>

#include "cpu_conv.h"

/* Floats per channel block on isa: 16 (AVX-512), 8 (AVX2), 0 (no blocked
 * layout: scalar, NEON). */
static inline int cpu_blk_vl(cpu_isa isa) {
    return isa == CPU_ISA_AVX512 ? 16 : isa == CPU_ISA_AVX2 ? 8 : 0;
}

/* Floats of one image of C channels and HW pixels in the blocked layout. */
static inline size_t cpu_blk_image_floats(int vl, int C, size_t HW) {
    return (size_t)((C + vl - 1) / vl) * (size_t)vl * HW;
}

/* conv_blocked.c: a group-1 conv of any kernel size, stride, pad and
 * dilation: for each output row, register tiles of up to two output
 * channel blocks x several pixels, the input broadcast one channel at a
 * time, weights packed once as [MB][CB][KH][KW][VL ci][VL co]. Bias, the
 * residual (blocked, same shape as y) and the activation in the epilogue;
 * padding lanes of y stored as zeros. */
extern const cpu_conv_algo cpu_conv_direct_blk;
/* conv_blocked.c: depthwise (group == C == M) of any kernel size, stride,
 * pad and dilation: one vector of VL channels per pixel, weights packed
 * as [CB][KH][KW][VL]. Same epilogue and padding-lane contract. */
extern const cpu_conv_algo cpu_conv_dw_blk;

/* conv_blocked.c: cpu_conv_direct_blk over a batch of N images (x, sum, y:
 * N blocked images one after the other) with each block pair's weights
 * read once for all of them, for convs whose weights outweigh an image
 * (a pair's weights at least a quarter of one image's input, the weights
 * past L2: ResNet's layer4 on 7x7 maps); _batched says when it is used
 * (N >= 2). scratch as the kernel's for d->threads threads. */
int cpu_conv_direct_blk_batched(const cpu_conv2d *d, cpu_isa isa, int64_t N);
void cpu_conv_direct_blk_run_n(cpu_isa isa, const cpu_conv2d *d, const void *packed, const float *x,
                               const float *sum, float *y, void *scratch, int N);

/* conv_blocked.c: a 1x1 conv (a: stride 1, unpadded, one group, no
 * residual) fused into the depthwise conv d that reads its output
 * (conv_pw_dw.c: the mobile nets' expansions on large maps): one image x
 * (a's input) -> y (d's output), both blocked, sum d's residual or NULL;
 * a's packed weights as cpu_conv_direct_blk packs them, d's as
 * cpu_conv_dw_blk does. The expanded tensor lives a few rows at a time in
 * each thread's scratch (scratch_size: for d->threads threads). */
int cpu_pw_dw_blk_applies(const cpu_conv2d *a, const cpu_conv2d *d, cpu_isa isa);
size_t cpu_pw_dw_blk_scratch_size(const cpu_conv2d *d, cpu_isa isa);
void cpu_pw_dw_blk_run(cpu_isa isa, const cpu_conv2d *a, const void *apacked, const cpu_conv2d *d,
                       const void *dpacked, const float *x, const float *sum, float *y, void *scratch);

/* conv_bf16_blk.c: --precision bf16 (d->bf16), AVX-512 only: a group-1
 * conv with more than one input channel as an implicit GEMM with pixels
 * as rows and channels as columns on AMX or AVX512_BF16. Same epilogue
 * and padding-lane contract. */
extern const cpu_conv_algo cpu_conv_bf16_blk;
/* The NCHW bf16 conv's cost on cpu_conv_bf16_blk's scale (layout choice). */
double cpu_conv_bf16_nchw_ns(const cpu_conv2d *d);

/* ops_blocked.c: layout conversion of one image (threads: OpenMP up to
 * `threads`). from_nchw writes the padding lanes as zeros. */
void cpu_blk_from_nchw(int vl, int C, size_t HW, const float *x, float *xb, int threads);
void cpu_blk_to_nchw(int vl, int C, size_t HW, const float *xb, float *x, int threads);

#endif /* ENGINE_CPU_BLOCKED_H */
