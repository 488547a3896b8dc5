/*
 * ir.h - the graph IR as backends and plugins see it.
 *
 * The IR is backend-neutral: values (tensors with a dtype and a static
 * shape, constant data for initializers and folded values) and nodes (an
 * op, its inputs, outputs and typed attributes). After loading, every value
 * has a static shape and every node of a built-in op carries `params`:
 * its attributes parsed, defaulted and normalised by the op's shape
 * function (see ops.h), so backends never re-parse attributes.
 *
 * These structs are read-only to backends and plugins. Their layout is part
 * of the backend ABI (ENGINE_BACKEND_ABI_VERSION in backend.h).
 */
#ifndef ENGINE_IR_H
#define ENGINE_IR_H

#include <stdint.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ENGINE_VALUE_GRAPH_INPUT = 1u << 0,  /* a non-initializer graph input */
    ENGINE_VALUE_GRAPH_OUTPUT = 1u << 1, /* a graph output */
    ENGINE_VALUE_CONST = 1u << 2         /* data holds its contents */
};

struct engine_node;
struct engine_plugin_op; /* plugin.h */

typedef struct engine_value {
    char *name;
    engine_dtype dtype;
    int rank; /* -1 until shape inference has run */
    int64_t dims[ENGINE_MAX_RANK];
    void *data;        /* constant contents (C order), NULL for activations */
    unsigned flags;    /* ENGINE_VALUE_* */
    struct engine_node *producer; /* NULL for graph inputs and constants */
    int index;         /* position in the graph's value table */
    /* Storage aliasing, set by the concat-elimination pass
     * (engine/passes/concat_alias.c); NULL/0 otherwise. When alias_of is
     * set, this activation may be stored inside alias_of's buffer, as the
     * contiguous bytes [alias_offset, alias_offset + its size): its slice of
     * a Concat output (all dims before the axis are 1, so the slice is one
     * run of bytes). alias_of may itself be aliased (a Concat feeding a
     * bigger Concat, DenseNet's prefixes); the chain ends at a root value
     * with alias_of == NULL, and offsets add up along it.
     *
     * Honouring it is optional and per partition: a backend places the
     * value at the root's buffer + the summed offset only when the value,
     * every link of its chain and the root are all written inside the same
     * partition and none of them (except possibly the root) is a partition
     * output; otherwise it gives the value its own buffer. Either way the
     * result is the same, because every backend's Concat skips an input
     * whose storage already is its destination slice, and copies the
     * others. A backend that honours aliases keeps the whole chain's bytes
     * live from the first write of any member to the last read of any
     * member. The pass guarantees that no node reads bytes of a chain that
     * overlap the bytes it writes (except a Concat input that already sits
     * exactly at its destination slice), and never aliases graph inputs,
     * constants or graph outputs. A value read by several Concats aliases
     * into one of them; the others copy it, or find it in place when their
     * slices coincide (DenseNet's nested prefixes). */
    struct engine_value *alias_of;
    size_t alias_offset;
} engine_value;

/* Attribute types: the numbers are ONNX's AttributeProto.AttributeType. */
typedef enum engine_attr_type {
    ENGINE_ATTR_UNDEFINED = 0,
    ENGINE_ATTR_FLOAT = 1,
    ENGINE_ATTR_INT = 2,
    ENGINE_ATTR_STRING = 3,
    ENGINE_ATTR_TENSOR = 4,
    ENGINE_ATTR_GRAPH = 5,
    ENGINE_ATTR_FLOATS = 6,
    ENGINE_ATTR_INTS = 7,
    ENGINE_ATTR_STRINGS = 8
} engine_attr_type;

typedef struct engine_attr {
    char *name;
    engine_attr_type type;
    float f;           /* FLOAT */
    int64_t i;         /* INT */
    char *s;           /* STRING, NUL-terminated (ONNX strings are bytes; we keep text) */
    int n;             /* element count of FLOATS / INTS / STRINGS */
    float *floats;     /* FLOATS */
    int64_t *ints;     /* INTS */
    char **strings;    /* STRINGS */
    engine_value *t;   /* TENSOR: a constant value that is not in the graph's table */
} engine_attr;

typedef struct engine_node {
    char *name;        /* never NULL; the loader names unnamed nodes "<op_type>_<k>" */
    char *op_type;
    char *domain;      /* "" for the default ONNX domain */
    engine_op op;      /* ENGINE_OP_UNKNOWN for ops not in the catalogue (plugins) */
    int opset;         /* the opset version imported for its domain */
    int n_inputs;
    engine_value **inputs;  /* NULL entries for omitted optional inputs */
    int n_outputs;
    engine_value **outputs; /* NULL entries for omitted optional outputs */
    int n_attrs;
    engine_attr *attrs;
    void *params;      /* the op's parsed parameters (ops.h), set by shape inference */
    int index;         /* position in topological order */
    /* The plugin op this node resolved to (op is then ENGINE_OP_UNKNOWN);
     * NULL for built-in ops. Backends take its kernels from here. */
    const struct engine_plugin_op *plugin;
} engine_node;

/* ---- small read helpers, usable by backends and plugins without linking ---- */

static inline const engine_attr *engine_node_attr(const engine_node *n, const char *name) {
    for (int k = 0; k < n->n_attrs; ++k)
        if (strcmp(n->attrs[k].name, name) == 0) return &n->attrs[k];
    return NULL;
}

static inline int64_t engine_value_numel(const engine_value *v) {
    int64_t count = 1;
    for (int k = 0; k < v->rank; ++k) count *= v->dims[k];
    return count;
}

static inline size_t engine_value_nbytes(const engine_value *v) {
    return (size_t)engine_value_numel(v) * engine_dtype_size(v->dtype);
}

/* The input at index k, or NULL when absent or omitted. */
static inline engine_value *engine_node_input(const engine_node *n, int k) {
    return k < n->n_inputs ? n->inputs[k] : NULL;
}

#ifdef __cplusplus
}
#endif
#endif /* ENGINE_IR_H */
