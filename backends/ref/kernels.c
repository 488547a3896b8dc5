/* backends/ref/kernels.c - the op -> kernel table and the dtype rules. */
#include "ref_kernels.h"

static const ref_kernel_fn kernel_table[ENGINE_OP_COUNT_] = {
#define ENTRY_(name, family) [ENGINE_OP_##name] = ref_##name,
    ENGINE_OP_LIST(ENTRY_)
#undef ENTRY_
};

ref_kernel_fn ref_kernel_for(engine_op op) {
    if ((int)op <= 0 || op >= ENGINE_OP_COUNT_) return NULL;
    return kernel_table[op];
}

int ref_supports(const engine_node *n) {
    return ref_kernel_for(n->op) != NULL;
}
