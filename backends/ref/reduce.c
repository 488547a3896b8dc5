/* backends/ref/reduce.c - reference kernels for the reduce family (placeholder until written). */
#include "ref_kernels.h"

engine_status ref_ReduceMean(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_ReduceSum(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_ReduceMax(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

