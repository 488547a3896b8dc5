/* backends/opencl/index.c - the index family (NonZero, NonMaxSuppression,
 * TopK, Range) on opencl: none of them. NonZero and NonMaxSuppression run
 * on the host between the stages of a run (libengine, session.c); Range is
 * always folded (its inputs decide its shape, so they are constants); TopK
 * is a per-row sort, which placement gives to the cpu backend. */
#include "ocl_builder.h"

int ocl_supports_index(const engine_node *n) {
    (void)n;
    return 0;
}

void ocl_emit_index(ocl_builder *b, const engine_node *n) {
    ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
}
