/*
 * onnx.h - ONNX import: protobuf bytes -> eng_graph.
 *
 * eng_onnx_load decodes a ModelProto with protobuf-c (every allocation
 * through the context allocator), checks what the rest of the engine relies
 * on and builds the IR:
 *  - the default-domain opset must be 7..18 (g->opset); each node's opset is
 *    the version its domain imports (a domain not imported is an error);
 *  - initializers (and Constant nodes) become ENGINE_VALUE_CONST values;
 *    float16 and float64 data is converted to float32, the other supported
 *    dtypes (int64, int32, bool, uint8, int8) are kept;
 *  - external data is read from files under base_dir only (absolute paths,
 *    '..' components and symlinks leading out are refused with
 *    ENGINE_ERR_SECURITY; base_dir NULL refuses external data);
 *  - non-initializer graph inputs take their dtype and static shape from the
 *    model; a symbolic first (batch) dimension becomes 1 with a warning, any
 *    other symbolic dimension is ENGINE_ERR_UNSUPPORTED;
 *  - attributes are copied with their types (TENSOR attributes become
 *    standalone constant values in attr->t); GRAPH attributes (If, Loop)
 *    are unsupported.
 * The graph is then sorted (eng_graph_sort); no shape inference runs here.
 * On failure nothing is leaked and *out is untouched.
 */
#ifndef ENGINE_ONNX_H
#define ENGINE_ONNX_H

#include "graph.h"
#include "internal.h"

struct Onnx__TensorProto;
struct ProtobufCAllocator;

engine_status eng_onnx_load(engine_context *ctx, const void *data, size_t size, const char *base_dir,
                            eng_graph **out);
/* The same for a buffer from eng_alloc that the loader takes: it is freed
 * as soon as the message is decoded (in every case), before the graph is
 * built, so the file's bytes and the weights are not held at once. */
engine_status eng_onnx_load_owned(engine_context *ctx, void *data, size_t size, const char *base_dir,
                                  eng_graph **out);

/* Reads a whole file into an eng_alloc'd buffer (freed with eng_free).
 * ENGINE_ERR_IO names the path and the system's reason. */
engine_status eng_onnx_read_file(engine_context *ctx, const char *path, void **data, size_t *size);
/* The model file at path, without holding its bytes whole: large raw_data
 * of the main graph's initializers is read from the file straight into
 * each tensor (onnx.c, "loading a file without holding it whole"). Same
 * results and errors as eng_onnx_read_file + eng_onnx_load_owned. */
struct eng_weights;
/* weights (may be NULL) receives the records of the large payloads read
 * from the file and the file kept open for reading them back (weights.h);
 * nothing recorded on failure or when the file took the other path. */
engine_status eng_onnx_load_file(engine_context *ctx, const char *path, const char *base_dir, eng_graph **out,
                                 struct eng_weights *weights);

/* ---- shared with tensor_io.c ---- */

/* A protobuf-c allocator that allocates from ctx. */
void eng_onnx_allocator(engine_context *ctx, struct ProtobufCAllocator *a);

/* A decoded tensor: data is eng_alloc'd (never NULL, even when empty). */
typedef struct eng_onnx_tensor {
    engine_dtype dtype;
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
    void *data;
} eng_onnx_tensor;

/* Decodes tp (raw_data, typed fields or external data under base_dir).
 * `what` names the tensor in messages ("initializer 'w'"). With to_f32,
 * float16 and float64 data is converted to float32. */
engine_status eng_onnx_decode_tensor(engine_context *ctx, const struct Onnx__TensorProto *tp, const char *what,
                                     const char *base_dir, int to_f32, eng_onnx_tensor *out);

/* Converts n elements between the dtypes engine supports (float16/32/64,
 * int8/32/64, uint8, bool). Float to integer truncates toward zero and
 * saturates (NaN -> 0); anything to bool is (x != 0). Returns 0 for a
 * dtype it does not know. src and dst must not overlap. */
int eng_convert_elements(engine_dtype src_type, const void *src, engine_dtype dst_type, void *dst, size_t n);

#endif /* ENGINE_ONNX_H */
