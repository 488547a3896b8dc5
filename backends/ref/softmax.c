/* backends/ref/softmax.c - reference kernels for the softmax family (placeholder until written). */
#include "ref_kernels.h"

engine_status ref_Softmax(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_LogSoftmax(const engine_node *n, const void *const *in, void *const *out) {
    (void)n;
    (void)in;
    (void)out;
    return ENGINE_ERR_UNSUPPORTED;
}

