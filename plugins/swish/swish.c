/* plugins/swish/swish.c - an example custom-op plugin: Swish.
 *
 *   op:     Swish, domain "com.example", every opset of that domain
 *   input:  X, float32, any shape
 *   output: Y = X * sigmoid(beta * X), same shape
 *   attr:   beta (float, default 1.0)
 *
 * It carries a host kernel (the ref and cpu backends) and an OpenCL kernel
 * (the opencl backend); docs/PLUGINS.md walks through it line by line and
 * builds it out of tree with `pkg-config --cflags --libs engine`. */
#include <limits.h>
#include <math.h>
#include <stdio.h>

#include <engine/plugin.h>

/* y = x / (1 + exp(-beta x)) is x * sigmoid(beta x) without a second
 * multiply; for large -beta x, exp overflows to inf and y goes to -0,
 * which is the limit. */
static engine_status swish_host(const engine_node *node, const void *const *inputs, void *const *outputs) {
    const float beta = engine_plugin_attr_float(node, "beta");
    const float *x = inputs[0];
    float *y = outputs[0];
    const int64_t count = engine_value_numel(node->inputs[0]);
    for (int64_t i = 0; i < count; ++i) y[i] = x[i] / (1.0f + expf(-beta * x[i]));
    return ENGINE_OK;
}

/* The output has the input's dtype and shape; only float32 is accepted. */
static engine_status swish_shape(const engine_node *node, engine_value *const *outputs, char *err, size_t err_size) {
    const engine_value *x = node->inputs[0];
    if (x->dtype != ENGINE_DTYPE_F32) {
        snprintf(err, err_size, "input X is %s, Swish takes float32", engine_dtype_name(x->dtype));
        return ENGINE_ERR_UNSUPPORTED;
    }
    if (engine_value_numel(x) > INT_MAX) { /* the OpenCL kernel indexes with int */
        snprintf(err, err_size, "input X has more than %d elements", INT_MAX);
        return ENGINE_ERR_SHAPE;
    }
    outputs[0]->dtype = ENGINE_DTYPE_F32;
    outputs[0]->rank = x->rank;
    for (int d = 0; d < x->rank; ++d) outputs[0]->dims[d] = x->dims[d];
    return ENGINE_OK;
}

/* Arguments 0 (X) and 1 (Y) are bound by the backend; then n and beta. */
static const char swish_cl[] =
    "__kernel void swish_f32(__global const float *x, __global float *y, const int n, const float beta) {\n"
    "    const int i = (int)get_global_id(0);\n"
    "    if (i >= n) return;\n"
    "    const float v = x[i];\n"
    "    y[i] = v / (1.0f + exp(-beta * v));\n"
    "}\n";

static engine_status swish_cl_args(const engine_node *node, engine_plugin_cl_arg *args, int *n_args, char *err,
                                   size_t err_size) {
    (void)err;
    (void)err_size;
    args[0] = engine_plugin_cl_int((int32_t)engine_value_numel(node->inputs[0]));
    args[1] = engine_plugin_cl_float(engine_plugin_attr_float(node, "beta"));
    *n_args = 2;
    return ENGINE_OK;
}

/* One work-item per element, rounded up to a multiple of 64 (the kernel
 * checks i < n); an empty tensor still launches one group. */
static engine_status swish_cl_geometry(const engine_node *node, size_t global[3], size_t local[3], int *work_dim) {
    size_t count = (size_t)engine_value_numel(node->inputs[0]);
    *work_dim = 1;
    local[0] = 64;
    global[0] = count ? (count + 63) / 64 * 64 : 64;
    return ENGINE_OK;
}

static const engine_plugin_attr swish_attrs[] = {
    {.name = "beta", .type = ENGINE_ATTR_FLOAT, .default_float = 1.0f},
};

static const engine_plugin_op swish_op = {
    .abi_version = ENGINE_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(engine_plugin_op),
    .domain = "com.example",
    .op_type = "Swish",
    .opset_min = 1,
    .opset_max = ENGINE_PLUGIN_OPSET_ANY,
    .min_inputs = 1, .max_inputs = 1,
    .min_outputs = 1, .max_outputs = 1,
    .attrs = swish_attrs,
    .n_attrs = 1,
    .shape = swish_shape,
    .host_kernel = swish_host,
    .cl_source = swish_cl,
    .cl_kernel_name = "swish_f32",
    .cl_args = swish_cl_args,
    .cl_geometry = swish_cl_geometry,
};

ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host);

ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host) {
    if (host->abi_version != ENGINE_PLUGIN_ABI_VERSION) return ENGINE_ERR_ABI;
    return host->register_op(host->registry, &swish_op);
}
