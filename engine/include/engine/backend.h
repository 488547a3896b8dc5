/*
 * backend.h - the backend module ABI.
 *
 * A backend is a shared module (engine-backend-<name>.so) that exports one
 * symbol, ENGINE_BACKEND_ENTRY_SYMBOL, a function returning a pointer to a
 * static engine_backend_iface. The engine checks abi_version and
 * struct_size before touching anything else; a module that does not match
 * is reported and skipped, never loaded.
 *
 * Lifecycle, driven by the engine:
 *   iface = entry();                        check version
 *   iface->create(&config, &state)          probe the device(s)
 *   iface->score(state) / describe(state)   for "auto" and --list-backends
 *   iface->supports(state, node)            per node, during placement
 *   iface->compile(state, &partition, &program, ...)   once per session
 *   iface->run(state, program, inputs, outputs, ...)   many times
 *   iface->release(state, program)
 *   iface->destroy(state)
 *
 * A partition is a list of nodes in topological order with static shapes
 * and constant weights (values whose data is not NULL). Its inputs and
 * outputs are host buffers in C order (NCHW); everything inside is the
 * backend's business: layouts, packing, memory planning, devices.
 * Functions return ENGINE_OK or an error with a message written to err
 * (at most err_size bytes, NUL-terminated) naming the node and the reason.
 * A backend must not call exit/abort and must free what it took on error.
 */
#ifndef ENGINE_BACKEND_H
#define ENGINE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/ir.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever engine_backend_iface, engine_partition, engine_value,
 * engine_node, engine_attr or an ops.h params struct changes layout.
 * v3: engine_value.alias_of / alias_offset (Concat elimination). */
#define ENGINE_BACKEND_ABI_VERSION 3u

#define ENGINE_BACKEND_ENTRY_SYMBOL "engine_backend_entry"

/* One buffer of a memory plan: `size` bytes live from step `first` to step
 * `last` (inclusive; steps are whatever the backend counts, usually nodes
 * in execution order). The planner writes `offset`. */
typedef struct engine_plan_buffer {
    size_t size;
    int first, last;
    size_t offset;
} engine_plan_buffer;

/* Services the engine offers backends (so that modules share one
 * implementation instead of linking libengine's internals). */
typedef struct engine_host_services {
    uint32_t struct_size; /* sizeof(engine_host_services) */
    /* The shared liveness planner (engine/src/planner.c): places every
     * buffer in one arena so that buffers whose lifetimes overlap never
     * share bytes, each offset a multiple of `alignment` (a power of two).
     * Greedy by size, best fit among the gaps left by the buffers already
     * placed. *arena_size receives the total. ENGINE_ERR_INVALID_ARGUMENT
     * on a bad buffer (first > last, negative step) or overflow;
     * ENGINE_ERR_OUT_OF_MEMORY when its scratch (from `allocator`, the one
     * in the backend's config) cannot be had. */
    engine_status (*plan_arena)(const engine_allocator *allocator, engine_plan_buffer *buffers, int n,
                                size_t alignment, size_t *arena_size);
    /* Appended (check struct_size before calling). Called from within
     * compile, on its thread: the program being compiled holds what it
     * needs of constant input `input` of `node` (a packed copy) and will
     * never read that value's data again, not even at run time. The engine
     * may then hand its own copy's memory back to the operating system
     * once nothing else reads it (engine/src/weights.h), which keeps a
     * model's weights from being resident twice. Calling it is optional;
     * calling it for data the program still reads is a bug (it may read
     * zeros). */
    void (*constant_consumed)(const engine_node *node, int input);
} engine_host_services;

/* What the engine hands a backend at creation. */
typedef struct engine_backend_config {
    engine_allocator allocator; /* always filled (the context's allocator) */
    engine_log_fn log;          /* may be NULL */
    void *log_user;
    int threads;                /* 0: as many as the backend sees fit */
    const char *device;         /* device selector or NULL */
    const engine_host_services *host; /* always filled */
    const char *precision;      /* "fp32" (default, also for NULL), "fp16" or "bf16" */
    /* Kernel auto-tuning level where a backend has a tuner (opencl):
     * "none" (NULL: the backend's own default), "fast" or "full".
     * Appended: a backend must accept a config without it (NULL). */
    const char *tune;
    /* How idle worker threads wait, where a backend has a pool (cpu):
     * engine_session_options.spin. Appended: NULL from older engines. */
    const char *spin;
} engine_backend_config;

typedef struct engine_partition {
    const engine_node *const *nodes; /* topological order */
    int n_nodes;
    engine_value *const *inputs;   /* activations read from outside the partition */
    int n_inputs;
    engine_value *const *outputs;  /* activations used outside the partition */
    int n_outputs;
} engine_partition;

/* Optional per-node timing sink for profiling (run's `timing`, may be NULL):
 * called once per node, in execution order, with start and duration in ms
 * from the start of run. */
typedef void (*engine_timing_fn)(void *user, int node_in_partition, double start_ms, double ms);

/* What a compiled program holds, for --bench and the docs (all optional,
 * 0 when unknown). */
typedef struct engine_program_stats {
    size_t arena_bytes;   /* activations planned inside the partition */
    size_t weight_bytes;  /* packed weights and other per-program constants */
    size_t device_bytes;  /* device memory held (GPU backends) */
    double compile_ms;    /* time spent building kernels (cold vs warm cache) */
    int kernels_from_cache; /* GPU backends: programs loaded from the binary cache */
    int kernels_built;      /* GPU backends: programs built from source */
} engine_program_stats;

typedef struct engine_backend_iface {
    uint32_t abi_version; /* ENGINE_BACKEND_ABI_VERSION */
    uint32_t struct_size; /* sizeof(engine_backend_iface) */
    const char *name;     /* "ref", "cpu", "opencl": what --backend names */

    /* Required. Create the backend state; fail (with a message) when no
     * usable device exists. */
    engine_status (*create)(const engine_backend_config *config, void **state, char *err, size_t err_size);
    /* Required. */
    void (*destroy)(void *state);
    /* Required. Higher is better for "auto": ref 10, SIMD CPU 100, GPU 1000. */
    int (*score)(void *state);
    /* Optional (NULL: the name). One line: device and capabilities. */
    const char *(*describe)(void *state);
    /* Required. Non-zero when the backend can run this node as it is. */
    int (*supports)(void *state, const engine_node *node);
    /* Required. */
    engine_status (*compile)(void *state, const engine_partition *partition, void **program, char *err,
                             size_t err_size);
    /* Required. inputs[i] / outputs[i] follow partition->inputs/outputs. */
    engine_status (*run)(void *state, void *program, const void *const *inputs, void *const *outputs,
                         engine_timing_fn timing, void *timing_user, char *err, size_t err_size);
    /* Required. */
    void (*release)(void *state, void *program);
    /* Optional (NULL: nothing to report). */
    engine_status (*program_stats)(void *state, void *program, engine_program_stats *stats);
} engine_backend_iface;

typedef const engine_backend_iface *(*engine_backend_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_BACKEND_H */
