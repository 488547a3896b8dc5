/* backends/ref/gemm.c - reference kernels for the gemm family (placeholder until written). */
#include "ref_kernels.h"

engine_status ref_Gemm(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_MatMul(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

