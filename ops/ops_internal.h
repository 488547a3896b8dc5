/*
 * ops_internal.h - the catalogue's internal interface: op lookup, the
 * per-op shape functions, and attribute helpers for them.
 *
 * A shape function reads the node's inputs (dtype, rank, dims and, for
 * shape-like inputs, constant data), checks them against the op's rules,
 * attaches the op's params (ops.h) with eng_node_params, and sets every
 * output's dtype and shape with eng_value_set_shape. On bad input it
 * returns eng_node_error(...) naming what is wrong ("input 1 (W) has rank 3,
 * expected 4"). It never evaluates data: constant folding runs the ref
 * kernels afterwards (engine/src/infer.c).
 */
#ifndef ENGINE_OPS_INTERNAL_H
#define ENGINE_OPS_INTERNAL_H

#include "graph.h"

typedef engine_status (*eng_infer_fn)(eng_graph *g, engine_node *n);

/* The op for (domain, op_type): ENGINE_OP_UNKNOWN if not built in. The
 * default domain is "" or "ai.onnx". */
engine_op eng_op_lookup(const char *domain, const char *op_type);
const char *eng_op_name(engine_op op);
/* Runs the op's shape function. ENGINE_ERR_UNSUPPORTED for unknown ops. */
engine_status eng_infer_node(eng_graph *g, engine_node *n);

/* One shape function per op, defined in ops/<family>.c. */
#define ENG_DECLARE_INFER_(name, family) engine_status eng_infer_##name(eng_graph *g, engine_node *n);
ENGINE_OP_LIST(ENG_DECLARE_INFER_)
#undef ENG_DECLARE_INFER_

/* ---- attribute helpers (ops/attr.c). Each returns ENGINE_OK and the
 * default when the attribute is absent, and an error naming the node when
 * it is present with the wrong type. ---- */
engine_status eng_attr_int(eng_graph *g, const engine_node *n, const char *name, int64_t def, int64_t *out);
engine_status eng_attr_float(eng_graph *g, const engine_node *n, const char *name, float def, float *out);
/* *out points into the node (not a copy); def may be NULL. */
engine_status eng_attr_string(eng_graph *g, const engine_node *n, const char *name, const char *def,
                              const char **out);
/* Copies up to max ints; *count = -1 when absent. Error when longer than max. */
engine_status eng_attr_ints(eng_graph *g, const engine_node *n, const char *name, int64_t *out, int max,
                            int *count);
engine_status eng_attr_floats(eng_graph *g, const engine_node *n, const char *name, float *out, int max,
                              int *count);

/* The fused epilogue of a Conv/ConvTranspose/Gemm from its engine.*
 * attributes (ops.h). allow_sum: the op may take the residual operand,
 * which must then be input 3, float32, of the output's shape (rank, dims).
 * Without engine.sum, an input 3 is an error. */
engine_status eng_read_epilogue(eng_graph *g, const engine_node *n, int allow_sum, int rank, const int64_t *dims,
                                engine_epilogue *e);
/* engine.activation names <-> engine_act: NULL / ENGINE_ACT_NONE (with
 * *ok = 0) for unknown ones. */
const char *eng_act_name(engine_act act);
engine_act eng_act_from_name(const char *name, int *ok);

/* Input k must exist with known shape; error otherwise. */
engine_status eng_require_input(eng_graph *g, const engine_node *n, int k, engine_value **out);
/* Reads constant input k (int64 or int32) as int64s: up to max values.
 * *count = -1 when the input is absent/omitted. Error when present but not
 * constant (our graphs have static shapes) or too long. */
engine_status eng_const_ints(eng_graph *g, const engine_node *n, int k, int64_t *out, int max, int *count);
/* Same for float constant inputs (float32, float16 or float64, read as float). */
engine_status eng_const_floats(eng_graph *g, const engine_node *n, int k, float *out, int max, int *count);
/* numpy broadcasting of a and b into out (rank = max rank). */
engine_status eng_broadcast(eng_graph *g, const engine_node *n, const engine_value *a, const engine_value *b,
                            int *rank, int64_t *dims);

#endif /* ENGINE_OPS_INTERNAL_H */
