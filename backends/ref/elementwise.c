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

/* Pow: float32 base; float32, int64 or int32 exponent; float32 result. */
engine_status ref_Pow(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *a = engine_node_input(n, 0), *b = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!a || !b || !y || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (a->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (b->dtype != ENGINE_DTYPE_F32 && b->dtype != ENGINE_DTYPE_I64 && b->dtype != ENGINE_DTYPE_I32)
        return ENGINE_ERR_UNSUPPORTED;
    const engine_value *xs[2] = {a, b};
    bcast bc;
    engine_status st = bcast_init(&bc, y, xs, 2);
    if (st != ENGINE_OK) return st;
    const float *p = in[0];
    float *r = out[0];
    int64_t count = engine_value_numel(y), off[2];
    for (int64_t i = 0; i < count; ++i) {
        bcast_offsets(&bc, i, 2, off);
        double e = b->dtype == ENGINE_DTYPE_F32   ? (double)((const float *)in[1])[off[1]]
                   : b->dtype == ENGINE_DTYPE_I64 ? (double)((const int64_t *)in[1])[off[1]]
                                                  : (double)((const int32_t *)in[1])[off[1]];
        r[i] = (float)pow((double)p[off[0]], e);
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

static size_t elem_size(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_BOOL: return 1;
    case ENGINE_DTYPE_F16: return 2;
    case ENGINE_DTYPE_F32: case ENGINE_DTYPE_I32: return 4;
    case ENGINE_DTYPE_I64: case ENGINE_DTYPE_F64: return 8;
    default: return 0;
    }
}

/* Where: bool condition, X and Y of any one element type, all broadcast. */
engine_status ref_Where(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *c = engine_node_input(n, 0), *a = engine_node_input(n, 1), *b = engine_node_input(n, 2);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!c || !a || !b || !y || !in[0] || !in[1] || !in[2] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    size_t es = elem_size(y->dtype);
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
