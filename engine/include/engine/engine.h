/*
 * engine.h - the application API of engine, a portable CNN inference engine.
 *
 * Lifecycle:  context -> load model -> (optimise) -> session (compile for the
 *             loaded backends) -> run, many times -> free.
 *
 * Contracts that hold for every function here:
 *  - Every fallible call returns an engine_status. ENGINE_OK is 0; anything
 *    else is an error and the context's message (engine_context_error) names
 *    what failed: the node, the op and the reason where there is one.
 *  - The library never calls exit() or abort() on bad input, and never keeps
 *    global mutable state: two contexts are fully independent.
 *  - Output pointers are written only on success; on failure nothing the
 *    caller passed in is freed or modified.
 *  - All memory the library takes comes from the context's allocator (the
 *    caller's, if one was given in engine_context_options).
 *  - A context and everything made from it may be used from one thread at a
 *    time; distinct contexts may be used concurrently.
 */
#ifndef ENGINE_ENGINE_H
#define ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(ENGINE_BUILDING_LIBRARY)
#define ENGINE_API __attribute__((visibility("default")))
#else
#define ENGINE_API
#endif

#define ENGINE_VERSION_MAJOR 0
#define ENGINE_VERSION_MINOR 1
#define ENGINE_VERSION_PATCH 0
#define ENGINE_VERSION_STRING "0.1.0"

/* Result codes. Stable numbers: they are part of the ABI. */
typedef enum engine_status {
    ENGINE_OK = 0,
    ENGINE_ERR_INVALID_ARGUMENT = 1, /* a NULL handle, a bad flag, a bad index */
    ENGINE_ERR_OUT_OF_MEMORY = 2,    /* an allocation failed; nothing leaked */
    ENGINE_ERR_IO = 3,               /* a file could not be opened, read or written */
    ENGINE_ERR_PARSE = 4,            /* malformed bytes: protobuf, .npy, image */
    ENGINE_ERR_INVALID_MODEL = 5,    /* well-formed bytes, invalid graph (cycle, dangling input, ...) */
    ENGINE_ERR_UNSUPPORTED = 6,      /* an op, attribute, dtype or opset we do not implement */
    ENGINE_ERR_SHAPE = 7,            /* shapes that do not fit the op's rules */
    ENGINE_ERR_BACKEND = 8,          /* a backend failed to load, compile or run */
    ENGINE_ERR_NOT_FOUND = 9,        /* no such input, output, backend or file */
    ENGINE_ERR_ABI = 10,             /* a module or plugin built for another ABI version */
    ENGINE_ERR_SECURITY = 11,        /* refused: e.g. external data escaping the model folder */
    ENGINE_ERR_INTERNAL = 12         /* a broken invariant inside the engine: a bug, please report */
} engine_status;

/* The library's version at run time ("0.1.0"): what was loaded, which may
 * differ from the ENGINE_VERSION_STRING a program was compiled against. */
ENGINE_API const char *engine_version(void);

/* A static, never-NULL name for a status ("ENGINE_OK", "out of memory", ...). */
ENGINE_API const char *engine_status_str(engine_status status);

/* Element types. The numbers are ONNX's TensorProto.DataType codes. */
typedef enum engine_dtype {
    ENGINE_DTYPE_UNDEFINED = 0,
    ENGINE_DTYPE_F32 = 1,
    ENGINE_DTYPE_U8 = 2,
    ENGINE_DTYPE_I8 = 3,
    ENGINE_DTYPE_I32 = 6,
    ENGINE_DTYPE_I64 = 7,
    ENGINE_DTYPE_BOOL = 9, /* one byte per element, 0 or 1 */
    ENGINE_DTYPE_F16 = 10,
    ENGINE_DTYPE_F64 = 11
} engine_dtype;

/* Size in bytes of one element, 0 for an unknown type. */
ENGINE_API size_t engine_dtype_size(engine_dtype dtype);
/* "float32", "int64", ...; "undefined" for unknown values. */
ENGINE_API const char *engine_dtype_name(engine_dtype dtype);

#define ENGINE_MAX_RANK 8

/*
 * Optional caller allocator. alloc must return memory aligned to at least
 * `align` bytes (a power of two, at most 4096) or NULL; free accepts NULL.
 * Leave the whole struct zeroed to use the C library.
 */
typedef struct engine_allocator {
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
    void *user;
} engine_allocator;

/* Log levels for the optional log callback. */
typedef enum engine_log_level {
    ENGINE_LOG_ERROR = 0,
    ENGINE_LOG_WARN = 1,
    ENGINE_LOG_INFO = 2,
    ENGINE_LOG_DEBUG = 3
} engine_log_level;

typedef void (*engine_log_fn)(void *user, engine_log_level level, const char *message);

typedef struct engine_context_options {
    engine_allocator allocator; /* zeroed: malloc/free */
    engine_log_fn log;          /* NULL: warnings are kept silent */
    void *log_user;
    engine_log_level log_level; /* messages above this level are dropped */
    /* Backend module search: colon-separated folders or .so files searched
     * before $ENGINE_BACKEND_PATH, the build tree and the install folder.
     * NULL for none. */
    const char *backend_path;
    /* Non-zero: do not scan for backend modules at creation (the caller
     * will call engine_context_load_backend itself). */
    int no_default_backends;
    /* Non-zero: models are refused at load (ENGINE_ERR_UNSUPPORTED) when
     * any one tensor, or the sum of the activation tensors (everything but
     * constants), would take more bytes than this. For services loading
     * untrusted models: a few hundred bytes of ONNX can describe terabytes
     * of activations. 0: no limit. */
    size_t max_tensor_bytes;
} engine_context_options;

typedef struct engine_context engine_context;
typedef struct engine_model engine_model;
typedef struct engine_session engine_session;

/* Creates a context. opts may be NULL for defaults. Backend modules are
 * discovered here; one that is missing, broken or of another ABI version is
 * logged (ENGINE_LOG_WARN) and skipped, never fatal. */
ENGINE_API engine_status engine_context_create(const engine_context_options *opts, engine_context **out);
ENGINE_API void engine_context_destroy(engine_context *ctx);
/* The message of the last error on this context ("" if none). Valid until
 * the next call on the context. */
ENGINE_API const char *engine_context_error(const engine_context *ctx);

/* Loads one more backend module from an explicit path. */
ENGINE_API engine_status engine_context_load_backend(engine_context *ctx, const char *path);
/* Loaded backends, in load order. */
ENGINE_API int engine_backend_count(const engine_context *ctx);
ENGINE_API const char *engine_backend_name(const engine_context *ctx, int index);
/* One line describing the backend's device(s) and capabilities. */
ENGINE_API const char *engine_backend_description(const engine_context *ctx, int index);
/* Higher is better; used by "auto". */
ENGINE_API int engine_backend_score(const engine_context *ctx, int index);
/* Modules that were found but refused, with the reason, one per line
 * ("" if none). */
ENGINE_API const char *engine_backend_rejections(const engine_context *ctx);

/* ---- custom-op plugins (plugin.h, docs/PLUGINS.md) ---------------------- */

/* Loads a custom-op plugin library and registers its ops in this context.
 * $ENGINE_PLUGIN_PATH (colon-separated files or folders of *.so) is loaded
 * by engine_context_create the same way (refusals there are logged and
 * listed by engine_plugin_rejections, never fatal). A refused plugin
 * (ENGINE_ERR_ABI: another plugin ABI version; ENGINE_ERR_NOT_FOUND: not
 * openable or no entry point; ENGINE_ERR_INVALID_ARGUMENT: a duplicate op
 * or a bad registration) registers nothing and the context goes on. Load
 * plugins before the models that use them. */
ENGINE_API engine_status engine_context_load_plugin(engine_context *ctx, const char *path);
/* Plugins that were refused, with the reason, one per line ("" if none). */
ENGINE_API const char *engine_plugin_rejections(const engine_context *ctx);
/* Number of plugin ops registered in the context. */
ENGINE_API int engine_plugin_op_count(const engine_context *ctx);

/* ---- models ---------------------------------------------------------- */

/* Loads an ONNX model file. External data files are resolved relative to
 * the model's folder and must stay inside it.
 *
 * A model whose inputs all have fixed dims is inferred and its constant
 * subgraphs folded here, so its graph has static shapes. A model is
 * dynamic when an input has a symbolic dim (a dim_param such as "batch",
 * or a free dim), or when the values of a graph input decide shapes (a
 * Reshape shape, Slice starts, Pad pads, reduce axes, Clip bounds ... fed
 * by the caller: engine_model_input_is_shape_param). A dynamic model keeps
 * its symbolic dims; sessions specialise it per run signature (every
 * input's dims plus the values of the shape-parameter inputs), see
 * engine_session_run_tensors. */
ENGINE_API engine_status engine_model_load_file(engine_context *ctx, const char *path, engine_model **out);
/* Same from memory. base_dir (may be NULL: external data is then refused)
 * is the folder external data files are confined to. The bytes are copied
 * as needed; the caller keeps ownership of `data`. */
ENGINE_API engine_status engine_model_load_memory(engine_context *ctx, const void *data, size_t size,
                                                  const char *base_dir, engine_model **out);
ENGINE_API void engine_model_free(engine_model *model);

/* Optimisation flags for engine_model_optimize. */
enum {
    ENGINE_OPT_NONE = 0,
    ENGINE_OPT_DEFAULT = 1 /* every pass the engine has */
};
/* Runs the graph optimisation passes (see docs/PASSES.md). Every pass
 * keeps the model's outputs within float rounding of the unoptimised graph.
 * On an error (ENGINE_ERR_OUT_OF_MEMORY included) the graph may be partly
 * rewritten: it is still valid to free, but the model must not be run;
 * load it again. */
ENGINE_API engine_status engine_model_optimize(engine_model *model, unsigned flags);

/* Non-initializer graph inputs and the graph outputs. */
ENGINE_API int engine_model_input_count(const engine_model *model);
ENGINE_API int engine_model_output_count(const engine_model *model);

typedef struct engine_tensor_info {
    const char *name; /* owned by the model */
    engine_dtype dtype;
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
} engine_tensor_info;

/* Input info: a symbolic dim is -1 in dims (its name from
 * engine_model_input_dim_name). Output info: for a dynamic model, the
 * dtype and rank the model file declares (dtype ENGINE_DTYPE_UNDEFINED and
 * rank -1 when it declares none), dims -1 where not fixed; the shapes of a
 * run come from engine_session_output_info or engine_session_run_tensors. */
ENGINE_API engine_status engine_model_input_info(const engine_model *model, int index, engine_tensor_info *info);
ENGINE_API engine_status engine_model_output_info(const engine_model *model, int index, engine_tensor_info *info);
/* The name the file gives a symbolic dim of input `index` ("batch",
 * "height"; "" for an unnamed free dim); NULL for a fixed dim or a bad
 * index. Owned by the model. */
ENGINE_API const char *engine_model_input_dim_name(const engine_model *model, int index, int axis);
/* Non-zero when the model is specialised per run (above). */
ENGINE_API int engine_model_is_dynamic(const engine_model *model);
/* Non-zero when the values of input `index` decide shapes: each distinct
 * value is its own specialisation (keep such inputs few-valued). */
ENGINE_API int engine_model_input_is_shape_param(const engine_model *model, int index);
/* Number of nodes left in the graph and multiply-accumulates of one run
 * (for a dynamic model: of the template, whose MACs are unknown: 0). */
ENGINE_API int engine_model_node_count(const engine_model *model);
ENGINE_API int64_t engine_model_macs(const engine_model *model);

/* Writes a human-readable (json == 0) or JSON (json != 0) dump of the graph
 * (and of the placement, if session is not NULL) through `write`. */
typedef void (*engine_write_fn)(void *user, const char *text);
ENGINE_API engine_status engine_model_dump(const engine_model *model, const engine_session *session, int json,
                                           engine_write_fn write, void *user);

/* ---- sessions ---------------------------------------------------------- */

/* A host tensor, C order. Tensors filled by engine_tensor_load own their
 * data and name (free them with engine_tensor_release). */
typedef struct engine_tensor {
    engine_dtype dtype;
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
    void *data;
    char *name; /* TensorProto name, or NULL */
} engine_tensor;

typedef struct engine_session_options {
    /* Comma-separated backend names in priority order, or "auto" / NULL:
     * every loaded backend by descending score. Nodes a backend does not
     * support fall back to the next one in the list. */
    const char *backends;
    int strict;          /* non-zero: fail instead of falling back */
    int threads;         /* 0: the CPUs this process may use (affinity mask, cgroup quota) */
    const char *device;  /* backend-specific device selector, or NULL */
    int profile;         /* non-zero: record per-node timings */
    /* "fp32" (NULL); "fp16": half storage, float arithmetic (opencl);
     * "bf16": convolutions with bf16 weights and activations, float32
     * accumulation (cpu, on CPUs with AVX512_BF16 or AMX-BF16). A backend
     * that does not offer the precision runs float32 (and logs it). */
    const char *precision;
    /* Non-zero: every node output gets a host buffer the session keeps, so
     * engine_session_node_output can read it after a run (debugging, and
     * engine-conformance --diverge). Costs memory and a seam per value: each
     * value becomes a partition output, which backends must write. */
    int keep_intermediates;
    /* Kernel auto-tuning where a backend has a tuner (opencl): "none"
     * (NULL: the backend's default, ENGINE_OPENCL_TUNE for opencl), "fast"
     * or "full". Tuning times kernel variants per layer shape on the device
     * at session creation and keeps the winners in a file beside the
     * backend's program cache, so a later session (any level) reuses them.
     * Like precision, it is taken from the first session that starts the
     * backend in a context. */
    const char *tune;
    /* Shapes at run time (dynamic models, engine_model_load_file). */
    /* Shape overrides compiled at creation, like ONNX Runtime's
     * free-dimension overrides: "NAME=1x3x224x224" per input, several
     * separated by ';' (a dim of 0 is an empty axis). NULL: none; the
     * first run compiles. Each override must fit the input's fixed dims.
     * Static models accept only their own shapes here. */
    const char *shapes;
    /* The specialisation cache: at most this many compiled signatures
     * (0: 8) and this many bytes of activations, seams and per-program
     * weights held by them (0: 1 GiB); the least recently used is evicted,
     * never the one running. */
    int max_specializations;
    size_t max_specialization_bytes;
    /* How a CPU backend's idle worker threads wait (cpu): "latency" (spin
     * 2 ms before sleeping), "default" (100 us), "shared" or "none" (sleep
     * at once: for machines whose cores other processes use), or a number
     * of microseconds. NULL: $ENGINE_CPU_SPIN, else "default". */
    const char *spin;
    /* Appended. Non-zero: this session never hands the model's weights
     * back to the system. By default, for a model loaded from a file, the
     * model's copy of a weight that every live program holds packed is
     * released, and read back from the file (checked) when a new signature
     * or session needs it (docs/ARCHITECTURE.md, "Weights released once
     * packed"); a workload that compiles new shapes all the time may
     * rather keep them resident and skip those reads. */
    int keep_weights;
} engine_session_options;

/* Places every node on a backend and compiles the partitions. The model
 * must outlive the session. */
ENGINE_API engine_status engine_session_create(engine_model *model, const engine_session_options *opts,
                                               engine_session **out);
/* The same for callers that may be built against another version of this
 * header (language bindings, plugins of other programs): opts_size is the
 * sizeof(engine_session_options) the caller knows. The struct grows by
 * appending: members past opts_size read as zero (their defaults), and a
 * caller's larger struct is read up to the members this library knows. */
ENGINE_API engine_status engine_session_create_sized(engine_model *model, const engine_session_options *opts,
                                                     size_t opts_size, engine_session **out);
ENGINE_API void engine_session_free(engine_session *session);

/* Runs the model once. inputs[i] is the data of model input i (C order,
 * the input's dtype and shape); outputs[i] receives model output i and must
 * hold engine_tensor_info's element count of its dtype. For a dynamic
 * model this runs at the session's current signature (the last run, or the
 * shapes option); ENGINE_ERR_INVALID_ARGUMENT when there is none yet. */
ENGINE_API engine_status engine_session_run(engine_session *session, const void *const *inputs, void *const *outputs);

/* Runs the model once on inputs that carry their shapes; outputs come back
 * with theirs. Works for static and dynamic models.
 *
 * inputs[0 .. n_inputs-1]: one per model input (n_inputs must equal
 * engine_model_input_count), matched by name when `name` is set, else by
 * position; dtype must be the input's, rank its rank, every fixed dim
 * equal, and one symbolic name bound to one value across all inputs
 * (ENGINE_ERR_SHAPE naming the input, axis, expected and got). Dims that
 * imply more than the context's max_tensor_bytes are refused before
 * anything is allocated.
 *
 * outputs[0 .. n_outputs-1] (n_outputs must equal the model's output
 * count), in model output order. Storage: when outputs[k].data is NULL,
 * the session provides it (valid until the next run on the session or
 * engine_session_free; the caller must not free it); otherwise data is
 * the caller's buffer and the dims passed in give its capacity (their
 * element count, of the output's dtype), and an output that does not fit
 * fails with ENGINE_ERR_SHAPE. On success dtype, rank and dims are the
 * output's; name is left as it was.
 *
 * A new signature specialises the model (inference, folding, passes,
 * placement, compile) and caches the result (session options
 * max_specializations / max_specialization_bytes); a repeat of the last
 * signature costs a comparison of the dims. */
ENGINE_API engine_status engine_session_run_tensors(engine_session *session, const engine_tensor *inputs,
                                                    int n_inputs, engine_tensor *outputs, int n_outputs);

/* Output `index` as of the session's current signature (after a run, or
 * after creation for a static model or with shape overrides):
 * ENGINE_ERR_INVALID_ARGUMENT when there is no current signature. */
ENGINE_API engine_status engine_session_output_info(const engine_session *session, int index,
                                                    engine_tensor_info *info);

/* The specialisation cache of a session. Set struct_size to
 * sizeof(engine_session_cache_info) before the call; fields past a
 * smaller struct_size are not written (the struct grows by appending). */
typedef struct engine_session_cache_info {
    size_t struct_size;
    int entries;        /* compiled signatures held */
    long long hits;     /* runs that found their signature compiled */
    long long misses;   /* runs (and overrides) that compiled a new one */
    long long evictions;
    size_t bytes;       /* what the entries hold (the bound's measure) */
    double last_build_ms; /* time of the last specialisation, compile included */
    /* Bytes of weights packed by the entries' compiles (engine_program_stats
     * weight_bytes): a backend that shares packed weights between
     * specialisations (cpu) packs each weight once, so this stays the same
     * for 1 and 20 signatures. */
    size_t packed_weight_bytes;
    /* Appended. Bytes of the model's own weights handed back to the system
     * at present because every program reading them holds them packed (a
     * model loaded from a file, on Linux; read back from the file when a
     * new specialisation or session needs them). Model-wide: the same for
     * every session of the model. */
    size_t released_weight_bytes;
} engine_session_cache_info;
ENGINE_API engine_status engine_session_cache_info_get(const engine_session *session,
                                                       engine_session_cache_info *info);

/* Placement summary: one line per backend with its node count and the op
 * types placed there ("placement: cpu      3 nodes: TopK, Relu x2"), then
 * the copies inserted at partition seams and the bytes they move; a model
 * run in stages gives each stage's lines and the host ops between them. */
ENGINE_API engine_status engine_session_placement(const engine_session *session, engine_write_fn write, void *user);

/* Memory and build figures of a session: the seam buffers the session owns
 * plus what every compiled partition reports (backend.h,
 * engine_program_stats), summed over partitions. */
typedef struct engine_session_stats {
    size_t seam_bytes;    /* host buffers between partitions */
    size_t arena_bytes;   /* activations planned inside partitions */
    size_t weight_bytes;  /* packed weights held by backends */
    size_t device_bytes;  /* device memory held by GPU backends */
    double compile_ms;    /* total compile time reported by backends */
    int kernels_from_cache, kernels_built;
    int n_partitions;
} engine_session_stats;
ENGINE_API engine_status engine_session_get_stats(const engine_session *session, engine_session_stats *stats);

/* Per-node timing of the last run (profile must have been set): fills
 * *count and the arrays owned by the session, valid until the next run. */
typedef struct engine_node_timing {
    const char *node;
    const char *op;
    const char *backend;
    double start_ms; /* from the start of the run */
    double ms;
} engine_node_timing;
ENGINE_API engine_status engine_session_timings(const engine_session *session, const engine_node_timing **timings,
                                                int *count);

/* Output `output` of node `node` (0 .. engine_model_node_count-1, the
 * graph's topological order) as of the last successful run. Needs a session
 * created with keep_intermediates (else ENGINE_ERR_INVALID_ARGUMENT). Any
 * of node_name, op, info, data may be NULL. node_name, op, info->name and
 * data are owned by the session (data, for a graph output, is the caller's
 * output buffer of that run) and stay valid until the next run or free.
 * ENGINE_ERR_NOT_FOUND for an index out of range or an absent optional
 * output. */
ENGINE_API engine_status engine_session_node_output(const engine_session *session, int node, int output,
                                                    const char **node_name, const char **op,
                                                    engine_tensor_info *info, const void **data);

/* Bytes of activation memory the session holds (its arena). */
ENGINE_API size_t engine_session_arena_bytes(const engine_session *session);

/* ---- tensor files ------------------------------------------------------ */


/* Reads a .npy file (float32, float64, int64, int32, bool, uint8; C order;
 * version 1.0 to 3.0 headers) or a serialized ONNX TensorProto (.pb),
 * chosen by the file's extension. float16 and float64 data is kept as is
 * (engine_tensor_convert turns it into float32). */
ENGINE_API engine_status engine_tensor_load(engine_context *ctx, const char *path, engine_tensor *out);
/* Writes a .npy (any extension but .pb) or a TensorProto (.pb). */
ENGINE_API engine_status engine_tensor_save(engine_context *ctx, const char *path, const engine_tensor *tensor);
/* Converts t's data in place to dtype (float16/float64/int32/int64/bool/
 * uint8/int8 <-> float32 and the integer types among themselves). */
ENGINE_API engine_status engine_tensor_convert(engine_context *ctx, engine_tensor *t, engine_dtype dtype);
/* Frees data and name and zeroes the struct. */
ENGINE_API void engine_tensor_release(engine_context *ctx, engine_tensor *t);
/* Element count. */
ENGINE_API int64_t engine_tensor_numel(const engine_tensor *t);

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_ENGINE_H */
