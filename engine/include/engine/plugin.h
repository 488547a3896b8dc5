/*
 * plugin.h - the custom-op plugin ABI (version 1).
 *
 * A plugin is one shared library that adds ops to every backend. It exports
 * one C function named ENGINE_PLUGIN_ENTRY_SYMBOL ("engine_plugin_register"),
 * of type engine_plugin_entry_fn. The engine dlopen()s the library, calls
 * the entry point once with an engine_plugin_host, and the plugin calls
 * host->register_op() once per op. An op is identified by
 * (domain, op_type, opset range) and carries:
 *   - the number of inputs and outputs it accepts;
 *   - an attribute schema (name, type, required, default), checked twice:
 *     the schema itself at registration, every node's attributes at model
 *     load (wrong type, unknown name or missing required attribute: the
 *     model is refused with a message naming the node);
 *   - a shape function, run by shape inference like a built-in op's;
 *   - kernels: a host C function (the ref and cpu backends call it), and
 *     OpenCL C source + kernel name + an argument callback + a launch
 *     geometry callback (the opencl backend builds and launches it).
 *
 * Loading (engine.h): engine_context_load_plugin(ctx, path),
 * $ENGINE_PLUGIN_PATH (colon-separated files or folders, loaded by
 * engine_context_create), `engine-run --plugin FILE` (repeatable).
 *
 * A plugin is all or nothing: if the entry point is missing, returns an
 * error, or any one of its registrations is refused, none of its ops stay
 * registered, the library is closed again, and the load call returns the
 * status with a message naming the plugin file (and op). The context goes
 * on working. Refusals:
 *   ENGINE_ERR_ABI            op->abi_version != ENGINE_PLUGIN_ABI_VERSION,
 *                             op->struct_size too small, or the entry point
 *                             itself returned ENGINE_ERR_ABI after checking
 *                             host->abi_version;
 *   ENGINE_ERR_NOT_FOUND      no ENGINE_PLUGIN_ENTRY_SYMBOL in the library,
 *                             or the file cannot be opened;
 *   ENGINE_ERR_INVALID_ARGUMENT  a duplicate op (same domain and op_type as
 *                             a built-in op, or as an op already registered
 *                             with an overlapping opset range), a bad
 *                             schema (NULL/empty/duplicate attribute name,
 *                             an unsupported attribute type, a required
 *                             attribute with a default), a bad opset range
 *                             or input/output counts, no shape function, or
 *                             cl_source without cl_kernel_name/cl_geometry.
 * A shape function that returns an error fails that model's load (not the
 * plugin): the message names the node, the op and the plugin file and
 * carries the plugin's own text.
 *
 * Resolution: a node whose (domain, op_type) is not a built-in op and
 * matches a registered op whose [opset_min, opset_max] contains the
 * opset the model imports for the node's domain becomes a plugin node:
 * node->op == ENGINE_OP_UNKNOWN, node->plugin == the registered op (the
 * engine's copy of the plugin's struct, valid while the context lives),
 * node->params == NULL. The domain "" and "ai.onnx" are the same domain.
 * Plugin nodes are never constant-folded; graph passes leave them alone.
 *
 * Placement treats plugin nodes like built-ins: a backend runs a plugin
 * node when it has a way to run the op's kernels (ref and cpu: host_kernel
 * != NULL; opencl: cl_source != NULL, or host_kernel by the backend's own
 * choice). A backend without one falls back to the next, visible in the
 * placement summary; --strict then fails.
 *
 * Lifetime and threading: the library stays loaded until the context is
 * destroyed. Every pointer in an engine_plugin_op (strings, the schema,
 * cl_source, user) must stay valid while the library is loaded (static
 * storage is the normal choice); the engine copies the op struct itself,
 * not what it points to. Callbacks may be called from any thread that uses
 * the context, never concurrently for the same context; they must not keep
 * pointers to node, inputs or outputs after returning. They must not call
 * exit/abort; they report errors through their return value.
 */
#ifndef ENGINE_PLUGIN_H
#define ENGINE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever anything in this header changes layout or meaning (or
 * engine_node/engine_value/engine_attr in ir.h do). */
#define ENGINE_PLUGIN_ABI_VERSION 1u
#define ENGINE_PLUGIN_ENTRY_SYMBOL "engine_plugin_register"

/* opset_max for "every later opset too". */
#define ENGINE_PLUGIN_OPSET_ANY 0x7fffffff

/* Most inputs / outputs a plugin op may declare (bounds the host-side
 * pointer arrays backends build). */
#define ENGINE_PLUGIN_MAX_IO 16

/* ---- attribute schema --------------------------------------------------- */

/* One attribute the op accepts. Supported types: ENGINE_ATTR_FLOAT, INT,
 * STRING, FLOATS, INTS. A node attribute of another name is refused at
 * model load ("unknown attribute"), as is one of another type. An optional
 * attribute's default is the default_* field of its type (default_n
 * elements of default_floats / default_ints for the list types; default_n
 * may be 0 for an empty list). engine_plugin_attr_*() below return the
 * node's value or this default, so kernels never handle "absent". */
typedef struct engine_plugin_attr {
    const char *name;
    engine_attr_type type;
    int required; /* non-zero: a node without it is refused; no default then */
    float default_float;
    int64_t default_int;
    const char *default_string; /* NULL reads as "" */
    const float *default_floats;
    const int64_t *default_ints;
    int default_n;
} engine_plugin_attr;

/* ---- callbacks ------------------------------------------------------------ */

/* Shape function: called once per node at model load, after the engine has
 * checked the input/output counts and the attributes against the schema.
 * Every present input has its dtype and static shape (inputs[k]->data is
 * non-NULL for constants, which the function may read). It must set dtype,
 * rank (0..ENGINE_MAX_RANK) and dims (>= 0) of every non-NULL entry of
 * `outputs` (== node->outputs) and touch nothing else. On a bad input
 * (wrong dtype, rank, shape, attribute value) it returns an error status
 * (ENGINE_ERR_SHAPE, ENGINE_ERR_UNSUPPORTED, ...) and writes a reason to
 * err (err_size bytes, NUL-terminated); the engine adds the node, op and
 * plugin. Outputs left unset or with bad dims are refused by the engine. */
typedef engine_status (*engine_plugin_shape_fn)(const engine_node *node, engine_value *const *outputs, char *err,
                                                size_t err_size);

/* Host kernel (the ref and cpu backends): inputs[k] is the host buffer of
 * node->inputs[k] (NULL for an omitted optional input), outputs[k] of
 * node->outputs[k] (NULL for an omitted output), each holding the value's
 * dtype, C order (NCHW), static shape as set by the shape function,
 * aligned to at least 16 bytes. Output buffers do not alias inputs.
 * Attributes are read with engine_plugin_attr_*(node, ...). Returns
 * ENGINE_OK, or an error status (the backend names the node). Runs on one
 * thread; a backend may run other nodes concurrently on other threads. */
typedef engine_status (*engine_plugin_kernel_fn)(const engine_node *node, const void *const *inputs,
                                                 void *const *outputs);

/* ---- OpenCL ----------------------------------------------------------------
 *
 * The opencl backend builds cl_source once per context (clBuildProgram with
 * cl_build_options, may be NULL) and creates kernel cl_kernel_name from it.
 * For each plugin node it binds kernel arguments in this fixed order:
 *
 *   arg k,              k = 0 .. max_inputs-1 : `__global const float *`
 *                       (more generally `__global const T *` for the
 *                       input's dtype), the buffer of node->inputs[k]; an
 *                       input the node omits or does not list (k >=
 *                       node->n_inputs) is bound as a NULL buffer pointer
 *                       (clSetKernelArg(k, sizeof(cl_mem), NULL)), so the
 *                       kernel's signature never depends on the node;
 *   arg max_inputs + k, k = 0 .. max_outputs-1: `__global T *`, the buffer
 *                       of node->outputs[k] (NULL pointer when omitted or
 *                       k >= node->n_outputs);
 *   arg max_inputs + max_outputs + j, j = 0 .. n_args-1: the extra
 *                       arguments the op's cl_args callback returns for
 *                       this node (none when cl_args is NULL), see
 *                       engine_plugin_cl_arg.
 *
 * max_inputs / max_outputs are the op's (engine_plugin_op). Buffers hold
 * the values' dtypes exactly as on the host (float32 for float tensors even
 * when the backend computes in fp16 elsewhere: it converts at the plugin
 * node's boundary), C order, offset 0 (a sub-buffer or its own buffer).
 * The kernel is launched with clEnqueueNDRangeKernel(work_dim, global,
 * local) from cl_geometry; local == NULL when local[0] == 0. The backend
 * never rounds global up: a kernel whose global size is padded checks its
 * own bounds (pass the element count as an extra argument).
 */

/* An extra kernel argument. SCALAR: `size` bytes (1..16) at `value`, bound
 * with clSetKernelArg(idx, size, value): an int in OpenCL C is int32_t,
 * a float is float, an int4 is 16 bytes. BUFFER: `size` bytes (> 0) at
 * `data` are copied into a read-only device buffer when the node is
 * compiled and bound as `__global const T *` (e.g. a FLOATS attribute such
 * as anchors: data = attr->floats, size = n * sizeof(float)); `data` must
 * stay valid until compile returns (node attributes and static storage
 * do). */
typedef enum engine_plugin_cl_arg_kind {
    ENGINE_PLUGIN_CL_ARG_SCALAR = 0,
    ENGINE_PLUGIN_CL_ARG_BUFFER = 1
} engine_plugin_cl_arg_kind;

#define ENGINE_PLUGIN_CL_MAX_ARGS 16

typedef struct engine_plugin_cl_arg {
    engine_plugin_cl_arg_kind kind;
    size_t size;
    unsigned char value[16]; /* SCALAR: the bytes (use the setters below) */
    const void *data;        /* BUFFER */
} engine_plugin_cl_arg;

/* Extra arguments for a node: writes at most ENGINE_PLUGIN_CL_MAX_ARGS
 * entries to args and their number to *n_args. Called at compile time
 * (shapes are static, so the values hold for every run). */
typedef engine_status (*engine_plugin_cl_args_fn)(const engine_node *node, engine_plugin_cl_arg *args, int *n_args,
                                                  char *err, size_t err_size);

/* Launch geometry for a node: *work_dim in 1..3, global[0..work_dim-1] > 0,
 * local all 0 (the implementation chooses) or each dividing its global.
 * The arrays arrive zeroed. Called at compile time. */
typedef engine_status (*engine_plugin_cl_geometry_fn)(const engine_node *node, size_t global[3], size_t local[3],
                                                      int *work_dim);

/* ---- the op ---------------------------------------------------------------- */

typedef struct engine_plugin_op {
    uint32_t abi_version; /* ENGINE_PLUGIN_ABI_VERSION */
    uint32_t struct_size; /* sizeof(engine_plugin_op) */

    const char *domain;  /* e.g. "com.example"; "" (or "ai.onnx") for the ONNX domain */
    const char *op_type; /* e.g. "Swish" */
    int opset_min;       /* >= 1 */
    int opset_max;       /* >= opset_min, or ENGINE_PLUGIN_OPSET_ANY */

    /* Accepted counts (trailing inputs/outputs may be omitted down to the
     * minimum): 0 <= min <= max <= ENGINE_PLUGIN_MAX_IO, min_outputs >= 1. */
    int min_inputs, max_inputs;
    int min_outputs, max_outputs;

    const engine_plugin_attr *attrs; /* n_attrs entries, may be NULL when 0 */
    int n_attrs;

    engine_plugin_shape_fn shape;        /* required */
    engine_plugin_kernel_fn host_kernel; /* NULL: no ref/cpu kernel */

    const char *cl_source;       /* NULL: no OpenCL kernel */
    const char *cl_kernel_name;  /* required with cl_source */
    const char *cl_build_options; /* may be NULL */
    engine_plugin_cl_args_fn cl_args;         /* may be NULL: no extra args */
    engine_plugin_cl_geometry_fn cl_geometry; /* required with cl_source */

    void *user; /* the plugin's own pointer, reachable as node->plugin->user */
} engine_plugin_op;

typedef struct engine_plugin_registry engine_plugin_registry;

/* The table handed to a plugin's entry point. */
typedef struct engine_plugin_host {
    uint32_t abi_version; /* ENGINE_PLUGIN_ABI_VERSION of the engine */
    uint32_t struct_size; /* sizeof(engine_plugin_host) */
    engine_plugin_registry *registry;
    /* Registers one op (contract above). On a refusal it returns the status
     * and writes the reason to the context's message; the entry point
     * should return that status unchanged. */
    engine_status (*register_op)(engine_plugin_registry *registry, const engine_plugin_op *op);
    const char *plugin_path; /* the file being loaded, for the plugin's own messages */
} engine_plugin_host;

/* The plugin's entry point. It should first check
 * host->abi_version == ENGINE_PLUGIN_ABI_VERSION (else return
 * ENGINE_ERR_ABI), then register its ops and return ENGINE_OK, or the
 * first error. Declare it as:
 *   ENGINE_PLUGIN_EXPORT engine_status engine_plugin_register(const engine_plugin_host *host);
 */
typedef engine_status (*engine_plugin_entry_fn)(const engine_plugin_host *host);

#define ENGINE_PLUGIN_EXPORT __attribute__((visibility("default")))

/* ---- helpers for callbacks (header-only, no linking needed) ----------------
 * Attribute readers: the node's value if present, else the schema's default
 * (type and presence of required attributes were checked at load, so these
 * never fail on a plugin node; on a name the schema lacks they return 0,
 * "", or an empty list). */

static inline const engine_plugin_attr *engine_plugin_schema_attr(const engine_node *node, const char *name) {
    const struct engine_plugin_op *op = node->plugin;
    if (!op) return NULL;
    for (int k = 0; k < op->n_attrs; ++k)
        if (strcmp(op->attrs[k].name, name) == 0) return &op->attrs[k];
    return NULL;
}

static inline float engine_plugin_attr_float(const engine_node *node, const char *name) {
    const engine_attr *a = engine_node_attr(node, name);
    if (a && a->type == ENGINE_ATTR_FLOAT) return a->f;
    const engine_plugin_attr *s = engine_plugin_schema_attr(node, name);
    return s ? s->default_float : 0.0f;
}

static inline int64_t engine_plugin_attr_int(const engine_node *node, const char *name) {
    const engine_attr *a = engine_node_attr(node, name);
    if (a && a->type == ENGINE_ATTR_INT) return a->i;
    const engine_plugin_attr *s = engine_plugin_schema_attr(node, name);
    return s ? s->default_int : 0;
}

static inline const char *engine_plugin_attr_string(const engine_node *node, const char *name) {
    const engine_attr *a = engine_node_attr(node, name);
    if (a && a->type == ENGINE_ATTR_STRING) return a->s ? a->s : "";
    const engine_plugin_attr *s = engine_plugin_schema_attr(node, name);
    return s && s->default_string ? s->default_string : "";
}

/* *n receives the element count; the pointer may be NULL when *n == 0. */
static inline const float *engine_plugin_attr_floats(const engine_node *node, const char *name, int *n) {
    const engine_attr *a = engine_node_attr(node, name);
    if (a && a->type == ENGINE_ATTR_FLOATS) {
        *n = a->n;
        return a->floats;
    }
    const engine_plugin_attr *s = engine_plugin_schema_attr(node, name);
    *n = s ? s->default_n : 0;
    return s ? s->default_floats : NULL;
}

static inline const int64_t *engine_plugin_attr_ints(const engine_node *node, const char *name, int *n) {
    const engine_attr *a = engine_node_attr(node, name);
    if (a && a->type == ENGINE_ATTR_INTS) {
        *n = a->n;
        return a->ints;
    }
    const engine_plugin_attr *s = engine_plugin_schema_attr(node, name);
    *n = s ? s->default_n : 0;
    return s ? s->default_ints : NULL;
}

/* SCALAR cl_args setters. */
static inline engine_plugin_cl_arg engine_plugin_cl_int(int32_t v) {
    engine_plugin_cl_arg a;
    memset(&a, 0, sizeof a);
    a.kind = ENGINE_PLUGIN_CL_ARG_SCALAR;
    a.size = sizeof v;
    memcpy(a.value, &v, sizeof v);
    return a;
}

static inline engine_plugin_cl_arg engine_plugin_cl_float(float v) {
    engine_plugin_cl_arg a;
    memset(&a, 0, sizeof a);
    a.kind = ENGINE_PLUGIN_CL_ARG_SCALAR;
    a.size = sizeof v;
    memcpy(a.value, &v, sizeof v);
    return a;
}

static inline engine_plugin_cl_arg engine_plugin_cl_buffer(const void *data, size_t size) {
    engine_plugin_cl_arg a;
    memset(&a, 0, sizeof a);
    a.kind = ENGINE_PLUGIN_CL_ARG_BUFFER;
    a.size = size;
    a.data = data;
    return a;
}

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_PLUGIN_H */
