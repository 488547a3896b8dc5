/* ukernel_neon.c - AArch64 Advanced SIMD (NEON is baseline on aarch64, so
 * no extra flags). Compiled only when the host is aarch64 (meson.build).
 *
 * GEMM tile 8x8: 16 q-register accumulators (8 rows x 2 vectors of 4
 * columns), 2 B vectors and one A vector pair per k, with lane FMAs.
 * Activations use the portable formulas (no NEON exp yet). */
#include <arm_neon.h>

#include "cpu_internal.h"

#define MR 8
#define NR 8

static void act_row_neon(const engine_epilogue *epi, float *p, size_t n) {
    if (epi->act == ENGINE_ACT_NONE) return;
    size_t i = 0;
    if (epi->act == ENGINE_ACT_RELU || epi->act == ENGINE_ACT_CLIP) {
        float32x4_t lo = vdupq_n_f32(epi->act == ENGINE_ACT_RELU ? 0.0f : epi->alpha);
        for (; i + 4 <= n; i += 4) {
            float32x4_t v = vmaxq_f32(vld1q_f32(p + i), lo);
            if (epi->act == ENGINE_ACT_CLIP) v = vminq_f32(v, vdupq_n_f32(epi->beta));
            vst1q_f32(p + i, v);
        }
    }
    for (; i < n; ++i) p[i] = cpu_act_scalar(epi, p[i]);
}

static void gemm_8x8_neon(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                          const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    float32x4_t acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = vdupq_n_f32(0.0f);
    for (int k = 0; k < K; ++k, a += MR, b += NR) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4);
        float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        acc[0][0] = vfmaq_laneq_f32(acc[0][0], b0, a0, 0);
        acc[0][1] = vfmaq_laneq_f32(acc[0][1], b1, a0, 0);
        acc[1][0] = vfmaq_laneq_f32(acc[1][0], b0, a0, 1);
        acc[1][1] = vfmaq_laneq_f32(acc[1][1], b1, a0, 1);
        acc[2][0] = vfmaq_laneq_f32(acc[2][0], b0, a0, 2);
        acc[2][1] = vfmaq_laneq_f32(acc[2][1], b1, a0, 2);
        acc[3][0] = vfmaq_laneq_f32(acc[3][0], b0, a0, 3);
        acc[3][1] = vfmaq_laneq_f32(acc[3][1], b1, a0, 3);
        acc[4][0] = vfmaq_laneq_f32(acc[4][0], b0, a1, 0);
        acc[4][1] = vfmaq_laneq_f32(acc[4][1], b1, a1, 0);
        acc[5][0] = vfmaq_laneq_f32(acc[5][0], b0, a1, 1);
        acc[5][1] = vfmaq_laneq_f32(acc[5][1], b1, a1, 1);
        acc[6][0] = vfmaq_laneq_f32(acc[6][0], b0, a1, 2);
        acc[6][1] = vfmaq_laneq_f32(acc[6][1], b1, a1, 2);
        acc[7][0] = vfmaq_laneq_f32(acc[7][0], b0, a1, 3);
        acc[7][1] = vfmaq_laneq_f32(acc[7][1], b1, a1, 3);
    }
    float t[MR * NR] __attribute__((aligned(16)));
    for (int i = 0; i < MR; ++i) {
        vst1q_f32(t + i * NR, acc[i][0]);
        vst1q_f32(t + i * NR + 4, acc[i][1]);
    }
    cpu_tile_epilogue(&cpu_kernels_neon, t, NR, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

const cpu_kernels cpu_kernels_neon = {
    .isa = CPU_ISA_NEON,
    .isa_name = "neon",
    .mr = MR,
    .nr = NR,
    .gemm_name = "f32_gemm_8x8__neon",
    .gemm = gemm_8x8_neon,
    .act_row = act_row_neon,
    .exp_row = cpu_exp_row_portable,
    .softmax_row = cpu_softmax_row_portable,
    .dot4 = cpu_dot4,
};
