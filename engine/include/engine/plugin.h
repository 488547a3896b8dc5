/*
 * plugin.h - custom-op plugin ABI (FIRST DRAFT: the plugin issue finishes
 * it; nothing in the engine loads plugins yet, and engine-run --plugin says
 * so).
 *
 * A plugin is one shared library exporting ENGINE_PLUGIN_ENTRY_SYMBOL, a
 * function that receives a registry and registers ops with it. An op is
 * identified by (domain, op_type, opset range) and carries:
 *   - an attribute schema (names, types, defaults), checked at load;
 *   - a shape function, run by shape inference like a built-in's;
 *   - kernels per backend: a C function (serves ref and cpu), and OpenCL C
 *     source with the kernel's name and a launch-geometry callback.
 * Backends find plugin kernels through the registry; placement treats
 * plugin ops like built-ins (a backend without a kernel falls back).
 */
#ifndef ENGINE_PLUGIN_H
#define ENGINE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENGINE_PLUGIN_ABI_VERSION 1u
#define ENGINE_PLUGIN_ENTRY_SYMBOL "engine_plugin_register"

typedef struct engine_plugin_attr {
    const char *name;
    engine_attr_type type;
    int required;        /* non-zero: a node without it is refused */
    float default_float; /* FLOAT */
    int64_t default_int; /* INT */
    const char *default_string;
} engine_plugin_attr;

/* Shape function: fill every output's dtype/rank/dims from the inputs and
 * attributes; return ENGINE_OK or an error with a message in err. */
typedef engine_status (*engine_plugin_shape_fn)(const engine_node *node, engine_value *const *outputs, char *err,
                                                size_t err_size);

/* Host kernel (ref and cpu): buffers as in the ref kernels (C order). */
typedef engine_status (*engine_plugin_kernel_fn)(const engine_node *node, const void *const *inputs,
                                                 void *const *outputs);

/* OpenCL launch geometry for a node: global (and optional local) sizes. */
typedef engine_status (*engine_plugin_cl_geometry_fn)(const engine_node *node, size_t global[3], size_t local[3],
                                                      int *work_dim);

typedef struct engine_plugin_op {
    const char *domain;  /* e.g. "com.example" */
    const char *op_type; /* e.g. "Swish" */
    int opset_min, opset_max;
    const engine_plugin_attr *attrs;
    int n_attrs;
    engine_plugin_shape_fn shape;
    engine_plugin_kernel_fn host_kernel;   /* NULL: no ref/cpu kernel */
    const char *cl_source;                 /* NULL: no OpenCL kernel */
    const char *cl_kernel_name;
    engine_plugin_cl_geometry_fn cl_geometry;
} engine_plugin_op;

typedef struct engine_plugin_registry engine_plugin_registry;

/* The table handed to a plugin's entry point. */
typedef struct engine_plugin_host {
    uint32_t abi_version; /* ENGINE_PLUGIN_ABI_VERSION */
    engine_plugin_registry *registry;
    engine_status (*register_op)(engine_plugin_registry *registry, const engine_plugin_op *op);
} engine_plugin_host;

/* The plugin's entry point: check host->abi_version, then register ops. */
typedef engine_status (*engine_plugin_entry_fn)(const engine_plugin_host *host);

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_PLUGIN_H */
