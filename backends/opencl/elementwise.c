/* backends/opencl/elementwise.c - the activation and elementwise families
 * (one file: both are maps over elements, on the kernels of
 * elementwise.cl), and the Cast conversions the tensor family calls.
 *
 *   - activation: the unary ops on f_unary (f_unary_l for Neg/Abs/Sign of
 *     integers; Not on bool, stored as T 0/1); PRelu is a broadcast binary
 *     op;
 *   - elementwise: Add/Sub/Mul/Div/Pow/Equal/Where, the comparisons, the
 *     logical ops and Mod with numpy broadcasting on f_broadcast, or their
 *     integer forms (f_arith_l, whose division by zero is a run-time error
 *     through the flag; f_equal_l, f_cmp_l, f_where_l, f_pow_l); the
 *     variadic Min/Max/Sum/Mean as a chain of those launches. */
#include <string.h>

#include "ocl_builder.h"

/* The U_* code and parameters of an activation-family unary op; -1 for
 * PRelu (binary) and for an op missing its params. */
static int unary_code(const engine_node *n, float *a, float *bb) {
    const engine_scalar_params *p = n->params;
    *a = *bb = 0.0f;
    switch (n->op) {
    case ENGINE_OP_Relu: return U_RELU;
    case ENGINE_OP_LeakyRelu: *a = p ? p->alpha : 0.01f; return U_LEAKY;
    case ENGINE_OP_Clip:
        if (!p) return -1;
        *a = p->min;
        *bb = p->max;
        return U_CLIP;
    case ENGINE_OP_Sigmoid: return U_SIGMOID;
    case ENGINE_OP_HardSigmoid:
        if (!p) return -1;
        *a = p->alpha;
        *bb = p->beta;
        return U_HSIGMOID;
    case ENGINE_OP_HardSwish: return U_HSWISH;
    case ENGINE_OP_Tanh: return U_TANH;
    case ENGINE_OP_Softplus: return U_SOFTPLUS;
    case ENGINE_OP_Elu: *a = p ? p->alpha : 1.0f; return U_ELU;
    case ENGINE_OP_Selu:
        if (!p) return -1;
        *a = p->alpha;
        *bb = p->gamma;
        return U_SELU;
    case ENGINE_OP_Mish: return U_MISH;
    case ENGINE_OP_Sqrt: return U_SQRT;
    case ENGINE_OP_Exp: return U_EXP;
    case ENGINE_OP_Log: return U_LOG;
    case ENGINE_OP_Neg: return U_NEG;
    case ENGINE_OP_Abs: return U_ABS;
    case ENGINE_OP_Floor: return U_FLOOR;
    case ENGINE_OP_Ceil: return U_CEIL;
    case ENGINE_OP_Round: return U_ROUND;
    case ENGINE_OP_Sign: return U_SIGN;
    case ENGINE_OP_Reciprocal: return U_RECIP;
    case ENGINE_OP_Erf: return U_ERF;
    case ENGINE_OP_Sin: return U_SIN;
    case ENGINE_OP_Cos: return U_COS;
    case ENGINE_OP_Softsign: return U_SOFTSIGN;
    case ENGINE_OP_Not: return U_NOT;
    case ENGINE_OP_Gelu:
        if (!p) return -1;
        *a = p->size == 1 ? 1.0f : 0.0f;
        return U_GELU;
    case ENGINE_OP_ThresholdedRelu:
        if (!p) return -1;
        *a = p->alpha;
        return U_THRESH;
    case ENGINE_OP_Celu:
        if (!p) return -1;
        *a = p->alpha;
        return U_CELU;
    case ENGINE_OP_Shrink:
        if (!p) return -1;
        *a = p->alpha;
        *bb = p->bias;
        return U_SHRINK;
    default: return -1;
    }
}

void ocl_emit_map(ocl_builder *b, const engine_node *n, int code, float a, float c) {
    const engine_value *y = n->outputs[0];
    int xs = IN(0), ys = OUT(0);
    if (b->st) return;
    int xl = b->p->slots[xs].lng, yl = b->p->slots[ys].lng;
    if (xl && yl) /* integer copies, Neg/Abs, Cast between widths */
        OCL_LAUNCH(b, "f_unary_l", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(code == U_TOBOOL ? U_COPY : code),
                   A_I(nbits(y->dtype)));
    else if (yl) /* Cast float/bool -> integer */
        OCL_LAUNCH(b, "f_cast_tl", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(nbits(y->dtype)));
    else if (xl) /* Cast integer -> float/bool */
        OCL_LAUNCH(b, "f_cast_lt", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(y->dtype == ENGINE_DTYPE_BOOL));
    else
        OCL_LAUNCH(b, "f_unary", (size_t)numel(y), A_T(xs, 0), A_T(ys, 0), A_I(code), A_F(a), A_F(c));
}

void ocl_emit_cast(ocl_builder *b, const engine_node *n) {
    /* Only a cast to bool from a non-bool computes (x != 0); every other
     * pair is a copy, a width change or a class conversion (ocl_emit_map). */
    int code = n->outputs[0]->dtype == ENGINE_DTYPE_BOOL && n->inputs[0]->dtype != ENGINE_DTYPE_BOOL ? U_TOBOOL
                                                                                                   : U_COPY;
    ocl_emit_map(b, n, code, 0.0f, 0.0f);
}

/* A broadcast binary op (Where: ternary) of B_* code `op` over values
 * va, vb (vc: Where's third) in slots as, bs, cs into y's slot ys. */
static void emit_bcast_slots(ocl_builder *b, const engine_node *n, const engine_value *va, const engine_value *vb,
                             const engine_value *vc, int as, int bs, int cs, int ys, int op) {
    const engine_value *y = n->outputs[0];
    int r = y->rank, meta[1 + 4 * OCL_MAX_RANK];
    meta[0] = r;
    for (int d = 0; d < r; ++d) meta[1 + d] = (int)y->dims[d];
    bcast_strides(va, y, meta + 1 + r);
    bcast_strides(vb, y, meta + 1 + 2 * r);
    if (vc) bcast_strides(vc, y, meta + 1 + 3 * r);
    else memset(meta + 1 + 3 * r, 0, sizeof(int) * (size_t)r);
    int mo = ocl_meta_add(b, meta, 1 + 4 * r);
    if (b->st) return;
    size_t cnt = (size_t)numel(y);
    int cmp = op == B_EQUAL || op == B_GT || op == B_LT || op == B_GE || op == B_LE;
    if (op == B_WHERE && b->p->slots[ys].lng)
        OCL_LAUNCH(b, "f_where_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs, 0), A_T(ys, 0));
    else if (op == B_EQUAL && b->p->slots[as].lng)
        OCL_LAUNCH(b, "f_equal_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(ys, 0));
    else if (cmp && b->p->slots[as].lng)
        OCL_LAUNCH(b, "f_cmp_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(ys, 0), A_I(op));
    else if (op == B_POW && b->p->slots[as].lng && b->p->slots[bs].lng)
        OCL_LAUNCH(b, "f_pow_i", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_NULL(), A_I(0), A_T(ys, 0),
                   A_I(nbits(y->dtype)));
    else if (op == B_POW && b->p->slots[as].lng)
        OCL_LAUNCH(b, "f_pow_i", cnt, A_META(mo), A_T(as, 0), A_NULL(), A_I(0), A_T(bs, 0), A_T(ys, 0),
                   A_I(nbits(y->dtype)));
    else if (op == B_POW && b->p->slots[bs].lng)
        OCL_LAUNCH(b, "f_pow_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(ys, 0));
    else if (b->p->slots[ys].lng) /* integer arithmetic; a division by zero is an error */
        OCL_LAUNCH(b, "f_arith_l", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(ys, 0), A_I(op), A_I(nbits(y->dtype)),
                   A_FLAG(), A_I(b->step));
    else
        OCL_LAUNCH(b, "f_broadcast", cnt, A_META(mo), A_T(as, 0), A_T(bs, 0), A_T(cs, 0), A_T(ys, 0), A_I(op));
}

static void emit_broadcast(ocl_builder *b, const engine_node *n, int op) {
    int as = IN(0), bs = IN(1), cs = op == B_WHERE ? IN(2) : as, ys = OUT(0);
    if (b->st) return;
    emit_bcast_slots(b, n, n->inputs[0], n->inputs[1], op == B_WHERE ? n->inputs[2] : NULL, as, bs, cs, ys, op);
}

/* Min/Max/Sum/Mean of n inputs: y = x0 (op) x1, then y = y (op) xk in place
 * (each work item reads and writes its own element of y), Mean scaled by
 * 1/n at the end; one input is a copy. */
static void emit_variadic(ocl_builder *b, const engine_node *n, int op) {
    const engine_value *y = n->outputs[0];
    int ys = OUT(0), x0 = IN(0);
    if (b->st) return;
    if (n->n_inputs == 1) {
        if (b->p->slots[ys].lng)
            OCL_LAUNCH(b, "f_unary_l", (size_t)numel(y), A_T(x0, 0), A_T(ys, 0), A_I(U_COPY), A_I(nbits(y->dtype)));
        else
            OCL_LAUNCH(b, "f_unary", (size_t)numel(y), A_T(x0, 0), A_T(ys, 0), A_I(U_COPY), A_F(0.0f), A_F(0.0f));
        return;
    }
    int x1 = IN(1);
    emit_bcast_slots(b, n, n->inputs[0], n->inputs[1], NULL, x0, x1, x0, ys, op);
    for (int k = 2; k < n->n_inputs && !b->st; ++k) {
        int xk = IN(k);
        emit_bcast_slots(b, n, y, n->inputs[k], NULL, ys, xk, ys, ys, op);
    }
    if (n->op == ENGINE_OP_Mean && !b->st)
        OCL_LAUNCH(b, "f_unary", (size_t)numel(y), A_T(ys, 0), A_T(ys, 0), A_I(U_SCALE),
                   A_F(1.0f / (float)n->n_inputs), A_F(0.0f));
}

/* ---- activation ---- */

int ocl_supports_activation(const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0];
    switch (n->op) {
    case ENGINE_OP_Neg: case ENGINE_OP_Abs: case ENGINE_OP_Sign:
        return x->dtype == y->dtype && (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype));
    case ENGINE_OP_Not:
        return x->dtype == ENGINE_DTYPE_BOOL && y->dtype == ENGINE_DTYPE_BOOL;
    default:
        /* float arithmetic (PRelu's slope included) */
        return ocl_all_f32(n, ocl_data_inputs(n));
    }
}

void ocl_emit_activation(ocl_builder *b, const engine_node *n) {
    if (n->op == ENGINE_OP_PRelu) {
        emit_broadcast(b, n, B_PRELU);
        return;
    }
    float a1, b1;
    int u = unary_code(n, &a1, &b1);
    if (u < 0) {
        ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op");
        return;
    }
    ocl_emit_map(b, n, u, a1, b1);
}

/* ---- elementwise ---- */

/* The integer types the arithmetic ops (Add, Sub, Mul, Div, Mod, Min, Max)
 * take: stored as long, wrapped to their width by f_arith_l. */
static int is_arith_int(engine_dtype t) {
    return is_int(t) || t == ENGINE_DTYPE_U8 || t == ENGINE_DTYPE_I8;
}

int ocl_supports_elementwise(const engine_node *n) {
    const engine_value *x = n->inputs[0], *y = n->outputs[0], *x1 = engine_node_input(n, 1);
    switch (n->op) {
    case ENGINE_OP_Add: case ENGINE_OP_Sub: case ENGINE_OP_Mul: case ENGINE_OP_Div:
        return x1 && x1->dtype == x->dtype && y->dtype == x->dtype &&
               (x->dtype == ENGINE_DTYPE_F32 || is_arith_int(x->dtype));
    case ENGINE_OP_Pow: /* float32, int64 or int32 base (the output's type) */
        return x1 && (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype)) && y->dtype == x->dtype &&
               (x1->dtype == ENGINE_DTYPE_F32 || is_int(x1->dtype));
    case ENGINE_OP_Equal:
        return x1 && x1->dtype == x->dtype && y->dtype == ENGINE_DTYPE_BOOL &&
               (x->dtype == ENGINE_DTYPE_F32 || x->dtype == ENGINE_DTYPE_BOOL || is_int(x->dtype));
    case ENGINE_OP_Greater: case ENGINE_OP_Less: case ENGINE_OP_GreaterOrEqual: case ENGINE_OP_LessOrEqual:
        return x1 && x1->dtype == x->dtype && y->dtype == ENGINE_DTYPE_BOOL &&
               (x->dtype == ENGINE_DTYPE_F32 || is_int(x->dtype));
    case ENGINE_OP_And: case ENGINE_OP_Or: case ENGINE_OP_Xor:
        return x1 && x->dtype == ENGINE_DTYPE_BOOL && x1->dtype == ENGINE_DTYPE_BOOL && y->dtype == ENGINE_DTYPE_BOOL;
    case ENGINE_OP_Mod: /* float32 with fmod = 1 (params->to), or integers */
        return n->params && x1 && x1->dtype == x->dtype && y->dtype == x->dtype &&
               ((x->dtype == ENGINE_DTYPE_F32 && ((const engine_cast_params *)n->params)->to) || is_arith_int(x->dtype));
    case ENGINE_OP_Min: case ENGINE_OP_Max: case ENGINE_OP_Sum: case ENGINE_OP_Mean: {
        int ints = n->op == ENGINE_OP_Min || n->op == ENGINE_OP_Max;
        if (y->dtype != ENGINE_DTYPE_F32 && !(ints && is_arith_int(y->dtype))) return 0;
        for (int k = 0; k < n->n_inputs; ++k)
            if (!n->inputs[k] || n->inputs[k]->dtype != y->dtype) return 0;
        return 1;
    }
    case ENGINE_OP_Where:
        return n->n_inputs >= 3 && x->dtype == ENGINE_DTYPE_BOOL && x1 && n->inputs[2] &&
               x1->dtype == y->dtype && n->inputs[2]->dtype == y->dtype;
    default: return 0;
    }
}

void ocl_emit_elementwise(ocl_builder *b, const engine_node *n) {
    switch (n->op) {
    case ENGINE_OP_Add: emit_broadcast(b, n, B_ADD); return;
    case ENGINE_OP_Sub: emit_broadcast(b, n, B_SUB); return;
    case ENGINE_OP_Mul: emit_broadcast(b, n, B_MUL); return;
    case ENGINE_OP_Div: emit_broadcast(b, n, B_DIV); return;
    case ENGINE_OP_Pow: emit_broadcast(b, n, B_POW); return;
    case ENGINE_OP_Equal: emit_broadcast(b, n, B_EQUAL); return;
    case ENGINE_OP_Where: emit_broadcast(b, n, B_WHERE); return;
    case ENGINE_OP_Greater: emit_broadcast(b, n, B_GT); return;
    case ENGINE_OP_Less: emit_broadcast(b, n, B_LT); return;
    case ENGINE_OP_GreaterOrEqual: emit_broadcast(b, n, B_GE); return;
    case ENGINE_OP_LessOrEqual: emit_broadcast(b, n, B_LE); return;
    case ENGINE_OP_And: emit_broadcast(b, n, B_AND); return;
    case ENGINE_OP_Or: emit_broadcast(b, n, B_OR); return;
    case ENGINE_OP_Xor: emit_broadcast(b, n, B_XOR); return;
    case ENGINE_OP_Mod:
        emit_broadcast(b, n, ((const engine_cast_params *)n->params)->to ? B_FMOD : B_MOD);
        return;
    case ENGINE_OP_Min: emit_variadic(b, n, B_MIN); return;
    case ENGINE_OP_Max: emit_variadic(b, n, B_MAX); return;
    case ENGINE_OP_Sum: case ENGINE_OP_Mean: emit_variadic(b, n, B_ADD); return;
    default: ocl_node_err(b, n, ENGINE_ERR_UNSUPPORTED, "%s", "no OpenCL kernel for this op"); return;
    }
}
