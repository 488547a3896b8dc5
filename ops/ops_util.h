/*
 * ops_util.h - helpers the shape functions of ops/ share beyond the
 * attribute readers of ops_internal.h (implemented in ops/attr.c).
 * Private to ops/.
 */
#ifndef ENGINE_OPS_UTIL_H
#define ENGINE_OPS_UTIL_H

#include "ops_internal.h"

/* dtype sets, as bit masks over engine_dtype */
#define ENG_DT(d) (1u << (unsigned)(d))
#define ENG_DT_FLOAT ENG_DT(ENGINE_DTYPE_F32)
#define ENG_DT_INTS (ENG_DT(ENGINE_DTYPE_I64) | ENG_DT(ENGINE_DTYPE_I32))
#define ENG_DT_NUM (ENG_DT_FLOAT | ENG_DT_INTS)
/* with the 8-bit integers: the arithmetic ops that take them (Add, Sub,
 * Mul, Div, Mod, Min, Max) */
#define ENG_DT_NUM8 (ENG_DT_NUM | ENG_DT(ENGINE_DTYPE_U8) | ENG_DT(ENGINE_DTYPE_I8))
#define ENG_DT_ANY                                                                                                  \
    (ENG_DT(ENGINE_DTYPE_F32) | ENG_DT(ENGINE_DTYPE_U8) | ENG_DT(ENGINE_DTYPE_I8) | ENG_DT(ENGINE_DTYPE_I32) |       \
     ENG_DT(ENGINE_DTYPE_I64) | ENG_DT(ENGINE_DTYPE_BOOL) | ENG_DT(ENGINE_DTYPE_F16) | ENG_DT(ENGINE_DTYPE_F64))

/* Largest element count a tensor may have: its bytes (8 per element at most)
 * must fit in int64 and size_t. */
#define ENG_MAX_NUMEL (INT64_MAX / 16)

/* The node's opset: its own, else the graph's, else the newest we know. */
int eng_opset(const eng_graph *g, const engine_node *n);

/* Input k is present (slot exists and is not NULL). */
int eng_has_input(const engine_node *n, int k);

/* "[1,3,224,224]" into buf (at least ENG_SHAPE_BUF bytes); returns buf. */
#define ENG_SHAPE_BUF 200
const char *eng_shape_str(int rank, const int64_t *dims, char *buf);

/* a*b for non-negative a, b: returns 0 on overflow past ENG_MAX_NUMEL. */
int eng_mul_dims(int64_t a, int64_t b, int64_t *out);
/* Element count with overflow and negative-dim checks: 0 on failure. */
int eng_numel_checked(int rank, const int64_t *dims, int64_t *out);

/* Checks the input slot count: at least `min` inputs present in the first
 * `min` slots, at most `max` slots. */
engine_status eng_check_input_count(eng_graph *g, const engine_node *n, int min, int max);
/* Input k's dtype must be in mask; `what` names the input ("X"). */
engine_status eng_check_dtype(eng_graph *g, const engine_node *n, int k, const char *what, unsigned mask);
/* Inputs a and b must have the same dtype. */
engine_status eng_check_same_dtype(eng_graph *g, const engine_node *n, int a, int b);

/* Sets output k (skipped when absent) after checking dims (non-negative,
 * element count within ENG_MAX_NUMEL). */
engine_status eng_set_output(eng_graph *g, engine_node *n, int k, engine_dtype dtype, int rank, const int64_t *dims);
/* Copies input 0's dtype and shape to output k. */
engine_status eng_same_as_input(eng_graph *g, engine_node *n, int k);

/* Normalises axis against rank: the allowed range is [-rank, rank-1], or
 * [-rank, rank] with allow_end != 0 (Flatten). `what` names the attribute
 * in errors. */
engine_status eng_norm_axis(eng_graph *g, const engine_node *n, int64_t axis, int rank, int allow_end,
                            const char *what, int *out);

/* numpy broadcasting of two shapes given as rank/dims. */
engine_status eng_broadcast_dims(eng_graph *g, const engine_node *n, int ra, const int64_t *da, int rb,
                                 const int64_t *db, int *rank, int64_t *dims);

/* Value of constant (or absent) input k as one double: *present = 0 when
 * absent. Any numeric dtype; must hold exactly one element. */
engine_status eng_const_scalar(eng_graph *g, const engine_node *n, int k, double *out, int *present);

/* Element k of a tensor's data as double (any supported dtype). */
double eng_tensor_elem(const engine_value *v, int64_t k);

/* Output k with dtype and rank, dims as given: an axis whose extent depends
 * on data is -1 (ops whose engine_op_data_dependent is true). */
engine_status eng_set_dd_output(eng_graph *g, engine_node *n, int k, engine_dtype dt, int rank, const int64_t *dims);

#endif /* ENGINE_OPS_UTIL_H */
