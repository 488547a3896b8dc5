/* backends/ref/norm.c - reference kernels for the norm family (placeholder until written). */
#include "ref_kernels.h"

engine_status ref_BatchNormalization(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_InstanceNormalization(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_LRN(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

