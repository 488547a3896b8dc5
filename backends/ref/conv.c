/* backends/ref/conv.c - reference kernels for the conv family (placeholder until written). */
#include "ref_kernels.h"

engine_status ref_Conv(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_ConvTranspose(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

