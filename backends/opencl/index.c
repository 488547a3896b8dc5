/* backends/opencl/index.c - the index family (NonZero, TopK, Range,
 * GatherElements, GatherND, ScatterElements, ScatterND) and the detect
 * family (NonMaxSuppression, RoiAlign) on opencl: none of them yet.
 * NonZero and NonMaxSuppression run on the host between the stages of a
 * run (libengine, session.c); Range is always folded (its inputs decide its
 * shape, so they are constants); the others are placed on the cpu backend
 * (per-op fallback, shown in the placement), at the cost of a seam copy
 * each way. */
#include "ocl_builder.h"

int ocl_supports_index(const engine_node *n) {
    (void)n;
    return 0;
}

void ocl_emit_index(ocl_builder *b, const engine_node *n) {
    ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
}

int ocl_supports_detect(const engine_node *n) {
    (void)n;
    return 0;
}

void ocl_emit_detect(ocl_builder *b, const engine_node *n) {
    ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
}
