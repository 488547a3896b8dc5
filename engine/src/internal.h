/*
 * internal.h - what the modules of libengine share: the context, memory
 * through the context's allocator, and error reporting.
 *
 * Conventions inside libengine:
 *  - Every allocation goes through eng_alloc/eng_calloc/eng_realloc/eng_free
 *    so that a caller's allocator (and the out-of-memory tests) see all of it.
 *  - A failing function sets the context message with eng_error() or
 *    eng_node_error() and returns the status; callers propagate it
 *    unchanged (the first, most precise message wins).
 *  - One exit path per function (`goto fail`) frees what it took.
 */
#ifndef ENGINE_INTERNAL_H
#define ENGINE_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/backend.h"
#include "engine/engine.h"
#include "engine/ir.h"

#define ENG_ERRMSG_SIZE 1024
#define ENG_MAX_BACKENDS 16

struct eng_backend;

/* One started backend: the module's state for one configuration (threads,
 * device, precision, tune). Sessions with other options get other
 * instances, so options apply per session; instances live until the
 * context is destroyed. */
typedef struct eng_binst {
    struct eng_backend *mod;
    void *state;
    int threads;
    char *device, *precision, *tune, *spin; /* never NULL ("" for the default) */
    struct eng_binst *next;
} eng_binst;

typedef struct eng_backend {
    char *name;
    char *path;
    void *dl; /* dlopen handle */
    const engine_backend_iface *iface;
    eng_binst *insts; /* started instances, created lazily by sessions */
    char *description;
} eng_backend;

struct engine_context {
    engine_allocator allocator;
    engine_log_fn log;
    void *log_user;
    engine_log_level log_level;
    char message[ENG_ERRMSG_SIZE];
    eng_backend backends[ENG_MAX_BACKENDS];
    int n_backends;
    char *rejections; /* one line per refused module */
    unsigned long alloc_failures; /* allocations that returned NULL: tells OOM from bad bytes in protobuf-c */
    size_t max_tensor_bytes;      /* engine_context_options.max_tensor_bytes; 0: no limit (infer.c) */
    struct engine_plugin_registry *plugins; /* plugin.c; NULL until the first plugin load */
};

/* ---- memory ---- */
void *eng_alloc(engine_context *ctx, size_t size);
void *eng_calloc(engine_context *ctx, size_t count, size_t size);
/* Like realloc; on failure the old block is untouched and NULL returned. */
void *eng_realloc(engine_context *ctx, void *ptr, size_t old_size, size_t new_size);
void eng_free(engine_context *ctx, void *ptr);
char *eng_strdup(engine_context *ctx, const char *s);
/* Size-checked multiplication: returns 0 and leaves *out alone on overflow. */
int eng_mul_size(size_t a, size_t b, size_t *out);

/* ---- errors and logs ---- */
engine_status eng_error(engine_context *ctx, engine_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "node 'conv1' (Conv): <reason>" */
engine_status eng_node_error(engine_context *ctx, const engine_node *node, engine_status status, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));
void eng_log(engine_context *ctx, engine_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fills ctx->allocator from a (the C library when a is NULL or incomplete). */
void eng_context_init_allocator(engine_context *ctx, const engine_allocator *a);

/* The instance of backend b for the session options o (NULL: defaults),
 * created on first use (loader.c). */
engine_status eng_backend_ensure(engine_context *ctx, eng_backend *b, const engine_session_options *o,
                                 eng_binst **out);
/* The shared memory planner handed to backends (planner.c; contract in
 * backend.h, engine_host_services.plan_arena). */
engine_status eng_plan_arena(const engine_allocator *allocator, engine_plan_buffer *buffers, int n, size_t alignment,
                             size_t *arena_size);

/* ---- custom-op plugins (plugin.c) ---- */
struct eng_graph;
struct engine_plugin_op;
/* Loads every plugin named by $ENGINE_PLUGIN_PATH; refusals are logged. */
void eng_plugins_load_env(engine_context *ctx);
/* Frees the registry and closes the plugin libraries (context destroy). */
void eng_plugins_free(engine_context *ctx);
/* Shape inference of a node that is not a built-in op: resolves it to a
 * registered plugin op (sets node->plugin), checks counts and attributes
 * against the schema and runs the op's shape function. */
engine_status eng_plugin_infer_node(struct eng_graph *g, engine_node *n);
/* The file a registered plugin op came from. */
const char *eng_plugin_path_of(const engine_context *ctx, const struct engine_plugin_op *op);

/* ---- half precision ---- */
float eng_f16_to_f32(uint16_t h);
uint16_t eng_f32_to_f16(float f);

#define ENG_UNUSED(x) (void)(x)

#endif /* ENGINE_INTERNAL_H */
