/*
 * ref_kernels.h - the reference kernels: plain C11, one function per op,
 * short and obviously right. They are the oracle for the other backends,
 * the ref backend module's kernels, and libengine's constant folder.
 *
 * A kernel reads shapes from the node's values (n->inputs[k]->dims, which
 * are static), parameters from n->params (ops.h), and data from in[k]
 * (NULL for an omitted optional input); it writes out[k] (NULL for an
 * omitted optional output). Buffers are C order, the values' dtypes.
 * Kernels do not allocate unless they must (and then check), never call
 * exit/abort, and return ENGINE_ERR_UNSUPPORTED for a dtype they lack.
 */
#ifndef ENGINE_REF_KERNELS_H
#define ENGINE_REF_KERNELS_H

#include "engine/ir.h"

/* Bytes per element of a dtype, 0 for one the kernels do not store. Inline:
 * the modules that link these kernels must not call into libengine (the
 * program that loads them may not export its symbols). */
static inline size_t ref_elem_size(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_BOOL: return 1;
    case ENGINE_DTYPE_F16: return 2;
    case ENGINE_DTYPE_F32: case ENGINE_DTYPE_I32: return 4;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_F64: return 8;
    default: return 0;
    }
}

typedef engine_status (*ref_kernel_fn)(const engine_node *n, const void *const *in, void *const *out);

/* One kernel per op, defined in backends/ref/<family>.c. */
#define REF_DECLARE_KERNEL_(name, family) \
    engine_status ref_##name(const engine_node *n, const void *const *in, void *const *out);
ENGINE_OP_LIST(REF_DECLARE_KERNEL_)
#undef REF_DECLARE_KERNEL_

/* The kernel for a node's op, NULL for unknown ops (kernels.c). */
ref_kernel_fn ref_kernel_for(engine_op op);
/* The kernel for a node: a plugin node's host_kernel (plugin.h), else
 * ref_kernel_for(node->op). */
ref_kernel_fn ref_kernel_for_node(const engine_node *n);
/* Non-zero when ref can run the node: a known op and dtypes its kernel
 * handles (float32 everywhere; int64/int32/bool where shape arithmetic
 * needs them), or a plugin op with a host kernel. */
int ref_supports(const engine_node *n);

/* Why a kernel of node n failed with st, in words, where the status alone
 * does not say (an index read at run time out of range); else NULL. */
const char *ref_kernel_failure(const engine_node *n, engine_status st);

/* Ops whose output shape depends on their input values
 * (engine_op_data_dependent: NonZero, NonMaxSuppression), run by libengine
 * on the host between the stages of a run. ref_dd_bound: an upper bound of
 * output 0's element count from the input dims and the small data inputs
 * (NMS's max_output_boxes_per_class). ref_dd_run: writes output 0 (int64)
 * into out, which has room for cap elements, and its dims into dims[2]. */
int64_t ref_dd_bound(const engine_node *n, const void *const *in);
engine_status ref_dd_run(const engine_node *n, const void *const *in, void *out, int64_t cap, int64_t *dims);

/* RoiAlign in pieces (the cpu backend threads it over the rois): the
 * checks of every roi (batch index in range, finite coordinates, a
 * sampling grid of at most 4096 per side), then rois r0 <= r < r1, the
 * reference's arithmetic exactly. ref_RoiAlign is the two in turn. */
engine_status ref_roialign_check(const engine_node *n, const void *const *in);
int ref_roialign_tap(int64_t h, int64_t w, double y, double x, int64_t off[4], double wt[4]);
void ref_roialign_rows(const engine_node *n, const void *const *in, void *const *out, int64_t r0, int64_t r1);
/* Their op-specific halves (index.c, detect.c). */
engine_status ref_nonzero_run(const engine_node *n, const void *x, int64_t *out, int64_t cap, int64_t *dims);
int64_t ref_nms_bound(const engine_node *n, const void *const *in);
engine_status ref_nms_run(const engine_node *n, const void *const *in, int64_t *out, int64_t cap, int64_t *dims);

#endif /* ENGINE_REF_KERNELS_H */
