/* ukernel_scalar.c - the portable path: plain C micro-kernel and
 * activation, compiled with the baseline flags (any machine). The 4x16
 * tile keeps 64 accumulators; the compiler vectorises the j loop with
 * whatever the baseline offers (SSE2 on x86-64). */
#include "cpu_internal.h"

#define MR 4
#define NR 16

static void act_row_scalar(const engine_epilogue *epi, float *p, size_t n) {
    if (epi->act == ENGINE_ACT_NONE) return;
    for (size_t i = 0; i < n; ++i) p[i] = cpu_act_scalar(epi, p[i]);
}

static void gemm_4x16_scalar(int K, const float *a, const float *b, float *c, size_t ldc, int mr, int nr,
                             const float *bias, const float *sum, size_t ldsum, const engine_epilogue *epi) {
    float acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = 0.0f;
    for (int k = 0; k < K; ++k, a += MR, b += NR)
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    cpu_tile_epilogue(&cpu_kernels_scalar, &acc[0][0], NR, c, ldc, mr, nr, bias, sum, ldsum, epi);
}

const cpu_kernels cpu_kernels_scalar = {
    .isa = CPU_ISA_SCALAR,
    .isa_name = "scalar",
    .mr = MR,
    .nr = NR,
    .gemm_name = "f32_gemm_4x16__scalar",
    .gemm = gemm_4x16_scalar,
    .act_row = act_row_scalar,
    .exp_row = cpu_exp_row_portable,
    .softmax_row = cpu_softmax_row_portable,
    .dot4 = cpu_dot4,
};
