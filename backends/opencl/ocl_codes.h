/*
 * ocl_codes.h - the codes the OpenCL kernels switch on, defined once for
 * both sides: the module's C files include it, and it is the first input
 * of the embedded kernel source (backends/opencl/meson.build, embed.c), so
 * the kernels see the same definitions.
 *
 * Contract: plain `#define NAME integer-literal` lines and comments only,
 * valid in C11 and in OpenCL C 1.2 alike: no enum, no #include, no type,
 * nothing that either language lacks. A code's value is what travels in a
 * kernel argument or in the meta buffer; change one here and both sides
 * follow.
 */
#ifndef ENGINE_OCL_CODES_H
#define ENGINE_OCL_CODES_H

/* Unary ops (f_unary, f_unary_l) and fused epilogue activations (act_f:
 * f_epilogue, the convolutions, f_matmul). U_COPY is also the identity
 * epilogue; U_TOBOOL is Cast to bool (x != 0). */
#define U_COPY 0
#define U_RELU 1
#define U_LEAKY 2
#define U_CLIP 3
#define U_SIGMOID 4
#define U_HSIGMOID 5
#define U_HSWISH 6
#define U_TANH 7
#define U_SOFTPLUS 8
#define U_ELU 9
#define U_SELU 10
#define U_MISH 11
#define U_SQRT 12
#define U_EXP 13
#define U_LOG 14
#define U_NEG 15
#define U_ABS 16
#define U_SILU 17
#define U_TOBOOL 18
#define U_FLOOR 19
#define U_CEIL 20
#define U_ROUND 21 /* half to even (rint) */
#define U_SIGN 22
#define U_RECIP 23
#define U_ERF 24
#define U_SIN 25
#define U_COS 26
#define U_SOFTSIGN 27
#define U_GELU 28 /* a != 0: approximate "tanh" */
#define U_THRESH 29
#define U_CELU 30
#define U_SHRINK 31 /* a: lambd, b: bias */
#define U_NOT 32    /* bool (T 0/1) */
#define U_SCALE 33  /* x * a (Mean's division by the input count) */

/* Broadcast binary and ternary ops (f_broadcast; f_arith_l takes
 * B_ADD..B_DIV, B_MIN, B_MAX, B_FMOD and B_MOD; f_cmp_l the comparisons
 * B_EQUAL and B_GT..B_LE). B_MOD (the divisor's sign) is integer only; the
 * logical ops read bool (T 0/1). */
#define B_ADD 0
#define B_SUB 1
#define B_MUL 2
#define B_DIV 3
#define B_POW 4
#define B_PRELU 5
#define B_EQUAL 6
#define B_WHERE 7
#define B_MIN 8
#define B_MAX 9
#define B_FMOD 10
#define B_MOD 11
#define B_GT 12
#define B_LT 13
#define B_GE 14
#define B_LE 15
#define B_AND 16
#define B_OR 17
#define B_XOR 18

/* Reductions (f_reduce, meta[1]): ReduceSum, ReduceMean and the global
 * average pool, ReduceMax and the global max pool, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSumExp, ReduceSumSquare. */
#define R_SUM 0
#define R_MEAN 1
#define R_MAX 2
#define R_MIN 3
#define R_PROD 4
#define R_L1 5
#define R_L2 6
#define R_LSE 7
#define R_SSQ 8

/* Pool kind (f_pool, meta[22]). */
#define POOL_MAX 0
#define POOL_AVG 1

/* Pad modes (f_pad, f_pad_l, meta[1]): the values of engine_pad_mode
 * (ops.h), passed through unchanged; the C side checks them against these
 * at compile time (_Static_assert). */
#define PAD_CONSTANT 0
#define PAD_REFLECT 1
#define PAD_EDGE 2
#define PAD_WRAP 3

/* Width of an integer tensor stored as long (the `nb` arguments:
 * narrow_l, f_to_l, f_unary_l, f_arith_l, f_cast_tl): results are wrapped
 * to it, two's complement. */
#define NB_I64 0
#define NB_I32 1
#define NB_I8 2
#define NB_U8 3

/* Scatter reductions (f_scatter_el, f_scatter_nd: `red`): the values of
 * engine_index_params.reduction (ops.h), passed through unchanged. */
#define SC_SET 0
#define SC_ADD 1
#define SC_MUL 2
#define SC_MAX 3
#define SC_MIN 4

#endif /* ENGINE_OCL_CODES_H */
