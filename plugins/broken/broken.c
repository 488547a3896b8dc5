/* plugins/broken/broken.c - deliberately broken plugins, one per refusal
 * the engine must make (tests/plugins checks each status and message).
 * Built once per BROKEN_KIND:
 *   1 bad_abi      an op struct stamped with another plugin ABI version
 *   2 no_entry     no engine_plugin_register symbol at all
 *   3 dup_builtin  registers "Relu" in the ONNX domain, a built-in op
 *   4 dup_plugin   registers com.example Swish for opsets 1..5 (the swish
 *                  example already registers every opset)
 *   5 bad_schema   registers a good op, then one whose schema has a
 *                  required attribute with a default: neither may stay
 *   6 shape_fail   loads fine; its op's shape function always refuses, so
 *                  a model using it fails to load
 *   7 entry_abi    its entry point wants a future host ABI and says so */
#include <stdio.h>

#include <engine/plugin.h>

#ifndef BROKEN_KIND
#error "define BROKEN_KIND"
#endif

__attribute__((unused)) static engine_status copy_shape(const engine_node *node, engine_value *const *outputs, char *err, size_t err_size) {
    (void)err;
    (void)err_size;
    const engine_value *x = node->inputs[0];
    outputs[0]->dtype = x->dtype;
    outputs[0]->rank = x->rank;
    for (int d = 0; d < x->rank; ++d) outputs[0]->dims[d] = x->dims[d];
    return ENGINE_OK;
}

__attribute__((unused)) static engine_status failing_shape(const engine_node *node, engine_value *const *outputs, char *err,
                                   size_t err_size) {
    (void)node;
    (void)outputs;
    snprintf(err, err_size, "this shape function always refuses (a test of the refusal path)");
    return ENGINE_ERR_SHAPE;
}

__attribute__((unused)) static engine_status copy_host(const engine_node *node, const void *const *inputs, void *const *outputs) {
    const float *x = inputs[0];
    float *y = outputs[0];
    for (int64_t i = 0; i < engine_value_numel(node->inputs[0]); ++i) y[i] = x[i];
    return ENGINE_OK;
}

#define OP_(domain_, type_, lo_, hi_, shape_)                                                                     \
    {.abi_version = ENGINE_PLUGIN_ABI_VERSION, .struct_size = sizeof(engine_plugin_op), .domain = domain_,          \
     .op_type = type_, .opset_min = lo_, .opset_max = hi_, .min_inputs = 1, .max_inputs = 1, .min_outputs = 1,      \
     .max_outputs = 1, .shape = shape_, .host_kernel = copy_host}

#if BROKEN_KIND == 2
/* No entry point: a different, unrelated export. */
__attribute__((visibility("default"))) int broken_plugin_without_entry(void);
__attribute__((visibility("default"))) int broken_plugin_without_entry(void) {
    return 0;
}
#else

ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host);

#if BROKEN_KIND == 1
ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    engine_plugin_op op = OP_("com.broken", "Copy", 1, ENGINE_PLUGIN_OPSET_ANY, copy_shape);
    op.abi_version = 999; /* as if built against a future plugin.h */
    return host->register_op(host->registry, &op);
}
#elif BROKEN_KIND == 3
ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    static const engine_plugin_op op = OP_("", "Relu", 1, ENGINE_PLUGIN_OPSET_ANY, copy_shape);
    return host->register_op(host->registry, &op);
}
#elif BROKEN_KIND == 4
ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    static const engine_plugin_op op = OP_("com.example", "Swish", 1, 5, copy_shape);
    return host->register_op(host->registry, &op);
}
#elif BROKEN_KIND == 5
static const engine_plugin_attr bad_attrs[] = {
    {.name = "alpha", .type = ENGINE_ATTR_FLOAT, .required = 1, .default_float = 2.0f},
};
ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    static const engine_plugin_op good = OP_("com.broken", "GoodCopy", 1, ENGINE_PLUGIN_OPSET_ANY, copy_shape);
    engine_plugin_op bad = OP_("com.broken", "BadSchema", 1, ENGINE_PLUGIN_OPSET_ANY, copy_shape);
    bad.attrs = bad_attrs;
    bad.n_attrs = 1;
    engine_status st = host->register_op(host->registry, &good);
    if (st) return st;
    return host->register_op(host->registry, &bad);
}
#elif BROKEN_KIND == 6
ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    static const engine_plugin_op op = OP_("com.broken", "FailShape", 1, ENGINE_PLUGIN_OPSET_ANY, failing_shape);
    return host->register_op(host->registry, &op);
}
#elif BROKEN_KIND == 7
ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    if (host->abi_version != 2u) return ENGINE_ERR_ABI; /* built for a future engine */
    static const engine_plugin_op op = OP_("com.broken", "Future", 1, ENGINE_PLUGIN_OPSET_ANY, copy_shape);
    return host->register_op(host->registry, &op);
}
#else
#error "unknown BROKEN_KIND"
#endif
#endif
