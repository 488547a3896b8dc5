/* backends/ref/elementwise.c - reference kernels for the broadcasting binary
 * ops and Where.
 *
 * Numpy broadcasting: walk the output's indices and map each to an input
 * offset through strides that are 0 on broadcast dimensions. Integer
 * arithmetic wraps (done in unsigned, so no signed-overflow UB); integer
 * Div truncates toward zero like ONNX and C, and a zero divisor is an
 * error rather than undefined behaviour. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ref_kernels.h"

typedef struct bcast {
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
    int64_t stride[3][ENGINE_MAX_RANK];
} bcast;

/* Strides of up to three inputs seen at the output's shape. */
static engine_status bcast_init(bcast *b, const engine_value *y, const engine_value *const *xs, int nx) {
    if (y->rank < 0 || y->rank > ENGINE_MAX_RANK) return ENGINE_ERR_SHAPE;
    memset(b, 0, sizeof *b);
    b->rank = y->rank;
    memcpy(b->dims, y->dims, sizeof b->dims);
    for (int k = 0; k < nx; ++k) {
        const engine_value *x = xs[k];
        if (x->rank < 0 || x->rank > y->rank) return ENGINE_ERR_SHAPE;
        int64_t st = 1;
        for (int d = x->rank - 1; d >= 0; --d) {
            int od = d + (y->rank - x->rank);
            if (x->dims[d] != 1 && x->dims[d] != y->dims[od]) return ENGINE_ERR_SHAPE;
            b->stride[k][od] = x->dims[d] == 1 ? 0 : st;
            st *= x->dims[d];
        }
    }
    return ENGINE_OK;
}

static void bcast_offsets(const bcast *b, int64_t i, int nx, int64_t *off) {
    for (int k = 0; k < nx; ++k) off[k] = 0;
    for (int d = b->rank - 1; d >= 0; --d) {
        int64_t c = i % b->dims[d];
        i /= b->dims[d];
        for (int k = 0; k < nx; ++k) off[k] += c * b->stride[k][d];
    }
}

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV } binop;

static engine_status binary(const engine_node *n, const void *const *in, void *const *out, binop op) {
    const engine_value *a = engine_node_input(n, 0), *b = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!a || !b || !y || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (a->dtype != b->dtype || a->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[2] = {a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 2);
    if (st != ENGINE_OK) return st;
    int64_t count = engine_value_numel(y), off[2];

    switch (y->dtype) {
    case ENGINE_DTYPE_F32: {
        const float *p = in[0], *q = in[1];
        float *r = out[0];
        for (int64_t i = 0; i < count; ++i) {
            bcast_offsets(&bc, i, 2, off);
            float u = p[off[0]], v = q[off[1]];
            r[i] = op == B_ADD ? u + v : op == B_SUB ? u - v : op == B_MUL ? u * v : u / v;
        }
        return ENGINE_OK;
    }
#define INT_CASE_(DT, T, UT, TMIN)                                                                 \
    case DT: {                                                                                     \
        const T *p = in[0], *q = in[1];                                                            \
        T *r = out[0];                                                                             \
        for (int64_t i = 0; i < count; ++i) {                                                      \
            bcast_offsets(&bc, i, 2, off);                                                         \
            T u = p[off[0]], v = q[off[1]];                                                        \
            switch (op) {                                                                          \
            case B_ADD: r[i] = (T)((UT)u + (UT)v); break;                                          \
            case B_SUB: r[i] = (T)((UT)u - (UT)v); break;                                          \
            case B_MUL: r[i] = (T)((UT)u * (UT)v); break;                                          \
            case B_DIV:                                                                            \
                if (v == 0) return ENGINE_ERR_INVALID_ARGUMENT;                                    \
                r[i] = (u == TMIN && v == -1) ? TMIN : (T)(u / v);                                 \
                break;                                                                             \
            }                                                                                      \
        }                                                                                          \
        return ENGINE_OK;                                                                          \
    }
        INT_CASE_(ENGINE_DTYPE_I64, int64_t, uint64_t, INT64_MIN)
        INT_CASE_(ENGINE_DTYPE_I32, int32_t, uint32_t, INT32_MIN)
#undef INT_CASE_
    case ENGINE_DTYPE_U8:
    case ENGINE_DTYPE_I8: {
        /* computed in int32 and wrapped to 8 bits (numpy's uint8/int8) */
        const int u8 = y->dtype == ENGINE_DTYPE_U8;
        for (int64_t i = 0; i < count; ++i) {
            bcast_offsets(&bc, i, 2, off);
            int32_t u = u8 ? ((const uint8_t *)in[0])[off[0]] : ((const int8_t *)in[0])[off[0]];
            int32_t v = u8 ? ((const uint8_t *)in[1])[off[1]] : ((const int8_t *)in[1])[off[1]];
            int32_t r = op == B_ADD ? u + v : op == B_SUB ? u - v : op == B_MUL ? u * v : 0;
            if (op == B_DIV) {
                if (v == 0) return ENGINE_ERR_INVALID_ARGUMENT;
                r = u / v; /* int8 -128 / -1 = 128 wraps to -128 below */
            }
            if (u8) ((uint8_t *)out[0])[i] = (uint8_t)(r & 0xff);
            else ((int8_t *)out[0])[i] = (int8_t)(((r & 0xff) ^ 0x80) - 0x80);
        }
        return ENGINE_OK;
    }
    default: return ENGINE_ERR_UNSUPPORTED;
    }
}

engine_status ref_Add(const engine_node *n, const void *const *in, void *const *out) {
    return binary(n, in, out, B_ADD);
}
engine_status ref_Sub(const engine_node *n, const void *const *in, void *const *out) {
    return binary(n, in, out, B_SUB);
}
engine_status ref_Mul(const engine_node *n, const void *const *in, void *const *out) {
    return binary(n, in, out, B_MUL);
}
engine_status ref_Div(const engine_node *n, const void *const *in, void *const *out) {
    return binary(n, in, out, B_DIV);
}

/* Pow: float32, int64 or int32 base; float32, int64 or int32 exponent;
 * the result has the base's type. An integer base with an integer
 * exponent >= 0 is raised exactly with wrapping (numpy); otherwise the
 * power is computed in double and, for an integer base, truncated toward
 * zero (numpy's astype) and saturated to the type's range. */
static double pow_elem(const engine_value *v, const void *p, int64_t i) {
    switch (v->dtype) {
    case ENGINE_DTYPE_F32: return (double)((const float *)p)[i];
    case ENGINE_DTYPE_I64: return (double)((const int64_t *)p)[i];
    default: return (double)((const int32_t *)p)[i];
    }
}

static int64_t pow_int_exact(int64_t base, int64_t e) {
    uint64_t r = 1, b = (uint64_t)base;
    for (uint64_t k = (uint64_t)e; k; k >>= 1) {
        if (k & 1) r *= b;
        b *= b;
    }
    return (int64_t)r;
}

engine_status ref_Pow(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *a = engine_node_input(n, 0), *b = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!a || !b || !y || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (y->dtype != a->dtype) return ENGINE_ERR_UNSUPPORTED;
    if (a->dtype != ENGINE_DTYPE_F32 && a->dtype != ENGINE_DTYPE_I64 && a->dtype != ENGINE_DTYPE_I32)
        return ENGINE_ERR_UNSUPPORTED;
    if (b->dtype != ENGINE_DTYPE_F32 && b->dtype != ENGINE_DTYPE_I64 && b->dtype != ENGINE_DTYPE_I32)
        return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[2] = {a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 2);
    if (st != ENGINE_OK) return st;
    int64_t count = engine_value_numel(y), off[2];
    const int int_exp = b->dtype != ENGINE_DTYPE_F32;
    for (int64_t i = 0; i < count; ++i) {
        bcast_offsets(&bc, i, 2, off);
        double e = pow_elem(b, in[1], off[1]);
        if (a->dtype == ENGINE_DTYPE_F32) {
            ((float *)out[0])[i] = (float)pow((double)((const float *)in[0])[off[0]], e);
            continue;
        }
        int64_t base = a->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)in[0])[off[0]]
                                                     : ((const int32_t *)in[0])[off[0]];
        int64_t r;
        if (int_exp && e >= 0.0) {
            int64_t ie = b->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)in[1])[off[1]]
                                                      : ((const int32_t *)in[1])[off[1]];
            r = pow_int_exact(base, ie);
        } else {
            double d = trunc(pow((double)base, e));
            double lo = a->dtype == ENGINE_DTYPE_I64 ? -9223372036854775808.0 : (double)INT32_MIN;
            double hi = a->dtype == ENGINE_DTYPE_I64 ? 9223372036854774784.0 : (double)INT32_MAX;
            r = isnan(d) ? 0 : d <= lo ? (int64_t)lo : d >= hi ? (int64_t)hi : (int64_t)d;
        }
        if (a->dtype == ENGINE_DTYPE_I64) ((int64_t *)out[0])[i] = r;
        else ((int32_t *)out[0])[i] = (int32_t)(uint32_t)(uint64_t)r;
    }
    return ENGINE_OK;
}

/* Equal: float32, int64, int32 or bool inputs of one type; bool output. */
engine_status ref_Equal(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *a = engine_node_input(n, 0), *b = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!a || !b || !y || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (a->dtype != b->dtype || y->dtype != ENGINE_DTYPE_BOOL) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[2] = {a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 2);
    if (st != ENGINE_OK) return st;
    uint8_t *r = out[0];
    int64_t count = engine_value_numel(y), off[2];
    for (int64_t i = 0; i < count; ++i) {
        bcast_offsets(&bc, i, 2, off);
        switch (a->dtype) {
        case ENGINE_DTYPE_F32: r[i] = ((const float *)in[0])[off[0]] == ((const float *)in[1])[off[1]]; break;
        case ENGINE_DTYPE_I64: r[i] = ((const int64_t *)in[0])[off[0]] == ((const int64_t *)in[1])[off[1]]; break;
        case ENGINE_DTYPE_I32: r[i] = ((const int32_t *)in[0])[off[0]] == ((const int32_t *)in[1])[off[1]]; break;
        case ENGINE_DTYPE_BOOL:
            r[i] = (((const uint8_t *)in[0])[off[0]] != 0) == (((const uint8_t *)in[1])[off[1]] != 0);
            break;
        default: return ENGINE_ERR_UNSUPPORTED;
        }
    }
    return ENGINE_OK;
}

/* Where: bool condition, X and Y of any one element type, all broadcast. */
engine_status ref_Where(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *c = engine_node_input(n, 0), *a = engine_node_input(n, 1), *b = engine_node_input(n, 2);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!c || !a || !b || !y || !in[0] || !in[1] || !in[2] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    size_t es = ref_elem_size(y->dtype);
    if (c->dtype != ENGINE_DTYPE_BOOL || a->dtype != y->dtype || b->dtype != y->dtype || es == 0)
        return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[3] = {c, a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 3);
    if (st != ENGINE_OK) return st;
    const uint8_t *cond = in[0], *pa = in[1], *pb = in[2];
    uint8_t *r = out[0];
    int64_t count = engine_value_numel(y), off[3];
    for (int64_t i = 0; i < count; ++i) {
        bcast_offsets(&bc, i, 3, off);
        const uint8_t *src = cond[off[0]] ? pa + (size_t)off[1] * es : pb + (size_t)off[2] * es;
        memcpy(r + (size_t)i * es, src, es);
    }
    return ENGINE_OK;
}

/* ---- comparisons, logical ops, Mod, variadic Min/Max/Sum/Mean ---- */

typedef enum { C_GT, C_LT, C_GE, C_LE } cmp_kind;

/* Greater, Less, GreaterOrEqual, LessOrEqual: float32/int64/int32 inputs of
 * one type, bool output (a NaN compares false). */
static engine_status compare(const engine_node *n, const void *const *in, void *const *out, cmp_kind k) {
    const engine_value *a = engine_node_input(n, 0), *b = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!a || !b || !y || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (a->dtype != b->dtype || y->dtype != ENGINE_DTYPE_BOOL) return ENGINE_ERR_UNSUPPORTED;
    if (a->dtype != ENGINE_DTYPE_F32 && a->dtype != ENGINE_DTYPE_I64 && a->dtype != ENGINE_DTYPE_I32)
        return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[2] = {a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 2);
    if (st != ENGINE_OK) return st;
    uint8_t *r = out[0];
    int64_t count = engine_value_numel(y), off[2];
    for (int64_t i = 0; i < count; ++i) {
        bcast_offsets(&bc, i, 2, off);
        int gt, lt, eq;
        if (a->dtype == ENGINE_DTYPE_F32) {
            float u = ((const float *)in[0])[off[0]], v = ((const float *)in[1])[off[1]];
            gt = u > v, lt = u < v, eq = u == v;
        } else if (a->dtype == ENGINE_DTYPE_I64) {
            int64_t u = ((const int64_t *)in[0])[off[0]], v = ((const int64_t *)in[1])[off[1]];
            gt = u > v, lt = u < v, eq = u == v;
        } else {
            int32_t u = ((const int32_t *)in[0])[off[0]], v = ((const int32_t *)in[1])[off[1]];
            gt = u > v, lt = u < v, eq = u == v;
        }
        r[i] = (uint8_t)(k == C_GT ? gt : k == C_LT ? lt : k == C_GE ? gt || eq : lt || eq);
    }
    return ENGINE_OK;
}

engine_status ref_Greater(const engine_node *n, const void *const *in, void *const *out) {
    return compare(n, in, out, C_GT);
}
engine_status ref_Less(const engine_node *n, const void *const *in, void *const *out) {
    return compare(n, in, out, C_LT);
}
engine_status ref_GreaterOrEqual(const engine_node *n, const void *const *in, void *const *out) {
    return compare(n, in, out, C_GE);
}
engine_status ref_LessOrEqual(const engine_node *n, const void *const *in, void *const *out) {
    return compare(n, in, out, C_LE);
}

typedef enum { L_AND, L_OR, L_XOR } logic_kind;

static engine_status logic(const engine_node *n, const void *const *in, void *const *out, logic_kind k) {
    const engine_value *a = engine_node_input(n, 0), *b = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!a || !b || !y || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (a->dtype != ENGINE_DTYPE_BOOL || b->dtype != ENGINE_DTYPE_BOOL || y->dtype != ENGINE_DTYPE_BOOL)
        return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[2] = {a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 2);
    if (st != ENGINE_OK) return st;
    const uint8_t *p = in[0], *q = in[1];
    uint8_t *r = out[0];
    int64_t count = engine_value_numel(y), off[2];
    for (int64_t i = 0; i < count; ++i) {
        bcast_offsets(&bc, i, 2, off);
        int u = p[off[0]] != 0, v = q[off[1]] != 0;
        r[i] = (uint8_t)(k == L_AND ? u && v : k == L_OR ? u || v : u != v);
    }
    return ENGINE_OK;
}

engine_status ref_And(const engine_node *n, const void *const *in, void *const *out) {
    return logic(n, in, out, L_AND);
}
engine_status ref_Or(const engine_node *n, const void *const *in, void *const *out) {
    return logic(n, in, out, L_OR);
}
engine_status ref_Xor(const engine_node *n, const void *const *in, void *const *out) {
    return logic(n, in, out, L_XOR);
}

/* Mod: fmod = 1 is C's fmod (the dividend's sign; for integers the
 * truncating remainder); fmod = 0 (integers only) has the divisor's sign.
 * An integer divisor of 0 is an error, like Div. MIN % -1 is 0 (no
 * overflow trap). */
engine_status ref_Mod(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *a = engine_node_input(n, 0), *b = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_cast_params *p = n->params;
    if (!a || !b || !y || !p || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (a->dtype != b->dtype || a->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[2] = {a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 2);
    if (st != ENGINE_OK) return st;
    int64_t count = engine_value_numel(y), off[2];
    int fm = p->to != 0;
    switch (y->dtype) {
    case ENGINE_DTYPE_F32: {
        if (!fm) return ENGINE_ERR_UNSUPPORTED;
        const float *u = in[0], *v = in[1];
        float *r = out[0];
        for (int64_t i = 0; i < count; ++i) {
            bcast_offsets(&bc, i, 2, off);
            r[i] = (float)fmod((double)u[off[0]], (double)v[off[1]]);
        }
        return ENGINE_OK;
    }
#define MOD_CASE_(DT, T)                                                                                   \
    case DT: {                                                                                             \
        const T *u = in[0], *v = in[1];                                                                    \
        T *r = out[0];                                                                                     \
        for (int64_t i = 0; i < count; ++i) {                                                              \
            bcast_offsets(&bc, i, 2, off);                                                                 \
            T x = u[off[0]], d = v[off[1]];                                                                \
            if (d == 0) return ENGINE_ERR_INVALID_ARGUMENT;                                                \
            T m = d == -1 ? 0 : (T)(x % d);                                                                \
            if (!fm && m != 0 && ((m < 0) != (d < 0))) m = (T)(m + d);                                     \
            r[i] = m;                                                                                      \
        }                                                                                                  \
        return ENGINE_OK;                                                                                  \
    }
        MOD_CASE_(ENGINE_DTYPE_I64, int64_t)
        MOD_CASE_(ENGINE_DTYPE_I32, int32_t)
#undef MOD_CASE_
    case ENGINE_DTYPE_U8:
    case ENGINE_DTYPE_I8: {
        const int u8 = y->dtype == ENGINE_DTYPE_U8;
        for (int64_t i = 0; i < count; ++i) {
            bcast_offsets(&bc, i, 2, off);
            int32_t x = u8 ? ((const uint8_t *)in[0])[off[0]] : ((const int8_t *)in[0])[off[0]];
            int32_t d = u8 ? ((const uint8_t *)in[1])[off[1]] : ((const int8_t *)in[1])[off[1]];
            if (d == 0) return ENGINE_ERR_INVALID_ARGUMENT;
            int32_t m = x % d;
            if (!fm && m != 0 && ((m < 0) != (d < 0))) m += d;
            if (u8) ((uint8_t *)out[0])[i] = (uint8_t)m;
            else ((int8_t *)out[0])[i] = (int8_t)m;
        }
        return ENGINE_OK;
    }
    default: return ENGINE_ERR_UNSUPPORTED;
    }
}

typedef enum { V_MIN, V_MAX, V_SUM, V_MEAN } variadic_kind;

/* Offset into input x of output element i (strides at the output's rank,
 * 0 on broadcast dims). */
static int64_t vb_offset(const engine_value *y, const int64_t *stride, int64_t i) {
    int64_t off = 0;
    for (int d = y->rank - 1; d >= 0; --d) {
        off += (i % y->dims[d]) * stride[d];
        i /= y->dims[d];
    }
    return off;
}

/* Min, Max (float32, int64, int32, uint8, int8), Sum, Mean (float32): every input
 * broadcast to the output. float32 accumulates in double; a NaN operand
 * makes Min/Max NaN (numpy's minimum/maximum). */
static engine_status variadic(const engine_node *n, const void *const *in, void *const *out, variadic_kind k) {
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!y || !out[0] || n->n_inputs < 1 || y->rank < 0 || y->rank > ENGINE_MAX_RANK)
        return ENGINE_ERR_INVALID_ARGUMENT;
    if (y->dtype != ENGINE_DTYPE_F32 &&
        !((k == V_MIN || k == V_MAX) && (y->dtype == ENGINE_DTYPE_I64 || y->dtype == ENGINE_DTYPE_I32 ||
                                         y->dtype == ENGINE_DTYPE_U8 || y->dtype == ENGINE_DTYPE_I8)))
        return ENGINE_ERR_UNSUPPORTED;
    int64_t count = engine_value_numel(y);
    for (int j = 0; j < n->n_inputs; ++j) {
        const engine_value *x = engine_node_input(n, j);
        if (!x || !in[j]) return ENGINE_ERR_INVALID_ARGUMENT;
        if (x->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
        int64_t stride[ENGINE_MAX_RANK] = {0};
        const engine_value *xs[1] = {x};
        bcast bc;
        engine_status st = bcast_init(&bc, y, xs, 1);
        if (st != ENGINE_OK) return st;
        memcpy(stride, bc.stride[0], sizeof stride);
        for (int64_t i = 0; i < count; ++i) {
            int64_t o = vb_offset(y, stride, i);
            if (y->dtype == ENGINE_DTYPE_F32) {
                float v = ((const float *)in[j])[o], *r = (float *)out[0] + i;
                if (j == 0) *r = v;
                else if (k == V_SUM || k == V_MEAN) *r = (float)((double)*r + (double)v);
                else if (isnan(v) || isnan(*r)) *r = NAN;
                else if (k == V_MIN ? v < *r : v > *r) *r = v;
            } else if (y->dtype == ENGINE_DTYPE_I64) {
                int64_t v = ((const int64_t *)in[j])[o], *r = (int64_t *)out[0] + i;
                if (j == 0 || (k == V_MIN ? v < *r : v > *r)) *r = v;
            } else if (y->dtype == ENGINE_DTYPE_I32) {
                int32_t v = ((const int32_t *)in[j])[o], *r = (int32_t *)out[0] + i;
                if (j == 0 || (k == V_MIN ? v < *r : v > *r)) *r = v;
            } else if (y->dtype == ENGINE_DTYPE_U8) {
                uint8_t v = ((const uint8_t *)in[j])[o], *r = (uint8_t *)out[0] + i;
                if (j == 0 || (k == V_MIN ? v < *r : v > *r)) *r = v;
            } else {
                int8_t v = ((const int8_t *)in[j])[o], *r = (int8_t *)out[0] + i;
                if (j == 0 || (k == V_MIN ? v < *r : v > *r)) *r = v;
            }
        }
    }
    if (k == V_MEAN && n->n_inputs > 1) {
        float *r = out[0];
        for (int64_t i = 0; i < count; ++i) r[i] = (float)((double)r[i] / (double)n->n_inputs);
    }
    return ENGINE_OK;
}

engine_status ref_Min(const engine_node *n, const void *const *in, void *const *out) {
    return variadic(n, in, out, V_MIN);
}
engine_status ref_Max(const engine_node *n, const void *const *in, void *const *out) {
    return variadic(n, in, out, V_MAX);
}
engine_status ref_Sum(const engine_node *n, const void *const *in, void *const *out) {
    return variadic(n, in, out, V_SUM);
}
engine_status ref_Mean(const engine_node *n, const void *const *in, void *const *out) {
    return variadic(n, in, out, V_MEAN);
}
