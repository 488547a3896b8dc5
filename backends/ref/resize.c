/* backends/ref/resize.c - reference kernels for the resize family (placeholder until written). */
#include "ref_kernels.h"

engine_status ref_Resize(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_Upsample(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

