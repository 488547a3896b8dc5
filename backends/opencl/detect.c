/* backends/opencl/detect.c - the detect family on opencl (kernels in
 * detect.cl): RoiAlign, one item per output element. NonMaxSuppression
 * runs on the host between the stages of a run (libengine, session.c: its
 * output shape depends on data), so it never reaches a backend.
 *
 * Batch indices and boxes are read on the device; one the reference
 * refuses (a batch index out of range, a box coordinate that is not
 * finite) sets the error flag and run() fails with the reference's
 * message (builder.c). */
#include "ocl_builder.h"

int ocl_supports_detect(const engine_node *n) {
    const engine_value *bi = engine_node_input(n, 2);
    if (n->op != ENGINE_OP_RoiAlign) return 0;
    /* X and rois float32 (stored as T), batch indices int64/int32 (long) */
    /* (no channels: nothing to write, but the reference still checks the
     * boxes: left to it) */
    return ocl_all_f32(n, 2) && bi && is_int(bi->dtype) && n->inputs[0]->rank == 4 &&
           (numel(n->outputs[0]) > 0 || bi->dims[0] == 0);
}

void ocl_emit_detect(ocl_builder *b, const engine_node *n) {
    if (n->op != ENGINE_OP_RoiAlign) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
    const engine_roialign_params *p = n->params;
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    int xs = IN(0), rs = IN(1), bs = IN(2), ys = OUT(0);
    if (b->st) return;
    OCL_LAUNCH(b, "f_roialign", (size_t)numel(y), A_T(xs, 0), A_T(rs, 0), A_T(bs, 0), A_T(ys, 0),
               A_I((int)x->dims[0]), A_I((int)x->dims[1]), A_I((int)x->dims[2]), A_I((int)x->dims[3]),
               A_I((int)p->out_h), A_I((int)p->out_w), A_I((int)p->sampling_ratio), A_F(p->spatial_scale),
               A_I(p->half_pixel), A_I(p->max_mode), A_FLAG(), A_I(b->step));
}
