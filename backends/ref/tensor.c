/* backends/ref/tensor.c - reference kernels for the data-movement ops, Shape,
 * Constant, ConstantOfShape and Cast.
 *
 * Data movement is generic over the element size: every kernel maps an
 * output index to an input index and copies `es` bytes. Output shapes come
 * from shape inference (n->outputs[k]->dims); the ops' extra inputs
 * (Reshape's shape, Slice's starts, Pad's pads, Tile's repeats, ...) are
 * already folded into params and output dims, so they are not read. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ref_kernels.h"

static int64_t prod(const int64_t *dims, int from, int to) {
    int64_t p = 1;
    for (int d = from; d < to; ++d) p *= dims[d];
    return p;
}

/* C-order strides of a value. */
static void strides_of(const engine_value *v, int64_t *st) {
    int64_t s = 1;
    for (int d = v->rank - 1; d >= 0; --d) {
        st[d] = s;
        s *= v->dims[d];
    }
}

/* Output index i as coordinates of y. */
static void coords_of(const engine_value *y, int64_t i, int64_t *c) {
    for (int d = y->rank - 1; d >= 0; --d) {
        c[d] = i % y->dims[d];
        i /= y->dims[d];
    }
}

static int rank_ok(const engine_value *v) {
    return v && v->rank >= 0 && v->rank <= ENGINE_MAX_RANK;
}

#define COPY_ELEM_(dst, di, src, si, es) \
    memcpy((uint8_t *)(dst) + (size_t)(di) * (es), (const uint8_t *)(src) + (size_t)(si) * (es), (es))

/* Fetches input 0 and output 0 of a data-movement op with equal dtypes. */
static engine_status io1(const engine_node *n, const void *const *in, void *const *out, const engine_value **x,
                         const engine_value **y, size_t *es) {
    *x = engine_node_input(n, 0);
    *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!*x || !*y || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if ((*x)->dtype != (*y)->dtype) return ENGINE_ERR_UNSUPPORTED;
    if (!rank_ok(*x) || !rank_ok(*y)) return ENGINE_ERR_SHAPE;
    *es = ref_elem_size((*y)->dtype);
    return *es ? ENGINE_OK : ENGINE_ERR_UNSUPPORTED;
}

/* ---- float16 ---- */

static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xffu) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0u)); /* inf, NaN */
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow: inf */
    uint32_t h, rem, halfway;
    if (e <= 0) {
        /* Subnormal half: m * 2^-24 with m = (1.man) * 2^(e - 14 + 23 - 23). */
        if (e < -10) return sign; /* below half the smallest subnormal: 0 */
        uint32_t m = man | 0x800000u;
        int shift = 14 - e;
        h = m >> shift;
        rem = m & ((1u << shift) - 1u);
        halfway = 1u << (shift - 1);
    } else {
        h = ((uint32_t)e << 10) | (man >> 13);
        rem = man & 0x1fffu;
        halfway = 0x1000u;
    }
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h; /* to nearest even; may carry into inf */
    return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) {
        float f = (float)man * 0x1p-24f; /* exact: man < 2^10 */
        return sign ? -f : f;
    }
    if (exp == 31) x = sign | 0x7f800000u | (man << 13);
    else x = sign | ((exp + 112u) << 23) | (man << 13);
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* ---- scalar load/store across dtypes (Cast, Pad's value, ConstantOfShape) ---- */

typedef struct scalar {
    int is_int;
    int64_t i;
    double d;
} scalar;

static scalar load(engine_dtype t, const void *p, int64_t k) {
    scalar s = {0, 0, 0.0};
    switch (t) {
    case ENGINE_DTYPE_F32: s.d = ((const float *)p)[k]; break;
    case ENGINE_DTYPE_F16: s.d = f16_to_f32(((const uint16_t *)p)[k]); break;
    case ENGINE_DTYPE_F64: s.d = ((const double *)p)[k]; break;
    case ENGINE_DTYPE_I64: s.is_int = 1; s.i = ((const int64_t *)p)[k]; break;
    case ENGINE_DTYPE_I32: s.is_int = 1; s.i = ((const int32_t *)p)[k]; break;
    case ENGINE_DTYPE_I8: s.is_int = 1; s.i = ((const int8_t *)p)[k]; break;
    case ENGINE_DTYPE_U8: s.is_int = 1; s.i = ((const uint8_t *)p)[k]; break;
    case ENGINE_DTYPE_BOOL: s.is_int = 1; s.i = ((const uint8_t *)p)[k] != 0; break;
    default: break;
    }
    return s;
}

/* float -> integer truncates toward zero; out of range saturates to int64
 * and NaN gives 0 (ONNX leaves both undefined; C would make them UB). */
static int64_t to_i64(scalar s) {
    if (s.is_int) return s.i;
    if (isnan(s.d)) return 0;
    if (s.d >= 9223372036854775808.0) return INT64_MAX;
    if (s.d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)s.d;
}

static void store(engine_dtype t, void *p, int64_t k, scalar s) {
    switch (t) {
    case ENGINE_DTYPE_F32: ((float *)p)[k] = s.is_int ? (float)s.i : (float)s.d; break;
    case ENGINE_DTYPE_F16: ((uint16_t *)p)[k] = f32_to_f16(s.is_int ? (float)s.i : (float)s.d); break;
    case ENGINE_DTYPE_F64: ((double *)p)[k] = s.is_int ? (double)s.i : s.d; break;
    /* Narrowing integers wrap (two's complement), as numpy's astype. */
    case ENGINE_DTYPE_I64: ((int64_t *)p)[k] = to_i64(s); break;
    case ENGINE_DTYPE_I32: ((int32_t *)p)[k] = (int32_t)(uint32_t)(uint64_t)to_i64(s); break;
    case ENGINE_DTYPE_I8: ((int8_t *)p)[k] = (int8_t)(uint8_t)(uint64_t)to_i64(s); break;
    case ENGINE_DTYPE_U8: ((uint8_t *)p)[k] = (uint8_t)(uint64_t)to_i64(s); break;
    case ENGINE_DTYPE_BOOL: ((uint8_t *)p)[k] = s.is_int ? s.i != 0 : s.d != 0; break;
    default: break;
    }
}

/* ---- ops ---- */

engine_status ref_Concat(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_axis_params *p = n->params;
    if (!y || !p || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    size_t es = ref_elem_size(y->dtype);
    if (!es) return ENGINE_ERR_UNSUPPORTED;
    if (!rank_ok(y) || p->axis < 0 || p->axis >= y->rank) return ENGINE_ERR_SHAPE;
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *x = n->inputs[k];
        if (!x || !in[k]) return ENGINE_ERR_INVALID_ARGUMENT;
        if (x->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
        if (x->rank != y->rank) return ENGINE_ERR_SHAPE;
    }
    int64_t outer = prod(y->dims, 0, p->axis), inner = prod(y->dims, p->axis + 1, y->rank);
    uint8_t *dst = out[0];
    for (int64_t o = 0; o < outer; ++o) {
        for (int k = 0; k < n->n_inputs; ++k) {
            size_t chunk = (size_t)(n->inputs[k]->dims[p->axis] * inner) * es;
            const uint8_t *src = (const uint8_t *)in[k] + (size_t)o * chunk;
            /* An input stored in its slice already (a storage alias, ir.h)
             * is not copied onto itself. */
            if (src != dst) memcpy(dst, src, chunk);
            dst += chunk;
        }
    }
    return ENGINE_OK;
}

engine_status ref_Split(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_axis_params *p = n->params;
    if (!x || !p || !in[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    size_t es = ref_elem_size(x->dtype);
    if (!es) return ENGINE_ERR_UNSUPPORTED;
    if (!rank_ok(x) || p->axis < 0 || p->axis >= x->rank) return ENGINE_ERR_SHAPE;
    int64_t total = 0;
    for (int k = 0; k < n->n_outputs; ++k) {
        const engine_value *y = n->outputs[k];
        if (!y) return ENGINE_ERR_INVALID_ARGUMENT;
        if (y->dtype != x->dtype) return ENGINE_ERR_UNSUPPORTED;
        if (y->rank != x->rank) return ENGINE_ERR_SHAPE;
        total += y->dims[p->axis];
    }
    if (total != x->dims[p->axis]) return ENGINE_ERR_SHAPE;
    int64_t outer = prod(x->dims, 0, p->axis), inner = prod(x->dims, p->axis + 1, x->rank);
    const uint8_t *src = in[0];
    for (int64_t o = 0; o < outer; ++o) {
        for (int k = 0; k < n->n_outputs; ++k) {
            size_t chunk = (size_t)(n->outputs[k]->dims[p->axis] * inner) * es;
            if (out[k]) memcpy((uint8_t *)out[k] + (size_t)o * chunk, src, chunk);
            src += chunk;
        }
    }
    return ENGINE_OK;
}

engine_status ref_Slice(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    const engine_slice_params *p = n->params;
    if (!p) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->rank != y->rank) return ENGINE_ERR_SHAPE;
    int64_t xs[ENGINE_MAX_RANK], c[ENGINE_MAX_RANK];
    strides_of(x, xs);
    /* Check the first and last index of every dimension once. */
    for (int d = 0; d < y->rank; ++d) {
        if (y->dims[d] == 0) return ENGINE_OK;
        int64_t last = p->start[d] + (y->dims[d] - 1) * p->step[d];
        if (p->start[d] < 0 || p->start[d] >= x->dims[d] || last < 0 || last >= x->dims[d]) return ENGINE_ERR_SHAPE;
    }
    int64_t count = engine_value_numel(y);
    for (int64_t i = 0; i < count; ++i) {
        coords_of(y, i, c);
        int64_t off = 0;
        for (int d = 0; d < y->rank; ++d) off += (p->start[d] + c[d] * p->step[d]) * xs[d];
        COPY_ELEM_(out[0], i, in[0], off, es);
    }
    return ENGINE_OK;
}

/* Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: the bytes do not change. */
static engine_status copy_through(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    if (engine_value_numel(x) != engine_value_numel(y)) return ENGINE_ERR_SHAPE;
    if (out[0] != in[0]) memmove(out[0], in[0], (size_t)engine_value_numel(y) * es);
    return ENGINE_OK;
}

engine_status ref_Reshape(const engine_node *n, const void *const *in, void *const *out) {
    return copy_through(n, in, out);
}
engine_status ref_Flatten(const engine_node *n, const void *const *in, void *const *out) {
    return copy_through(n, in, out);
}
engine_status ref_Squeeze(const engine_node *n, const void *const *in, void *const *out) {
    return copy_through(n, in, out);
}
engine_status ref_Unsqueeze(const engine_node *n, const void *const *in, void *const *out) {
    return copy_through(n, in, out);
}
engine_status ref_Identity(const engine_node *n, const void *const *in, void *const *out) {
    return copy_through(n, in, out);
}

/* A seed for a Dropout without one: a new one every run (a counter mixed
 * with the clock). */
static uint32_t fresh_seed(void) {
    static uint32_t counter;
    uint32_t c = __atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED);
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec ^ (c * 2654435761u);
}

/* Dropout in training_mode (params): drop where the draw is below ratio,
 * scale the rest by 1 / (1 - ratio); the mask is true where kept. */
static engine_status dropout_train(const engine_node *n, const engine_dropout_params *p, const void *const *in,
                                   void *const *out) {
    const engine_value *x = n->inputs[0], *mask = n->n_outputs > 1 ? n->outputs[1] : NULL;
    if (x->dtype != ENGINE_DTYPE_F32 || n->outputs[0]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (mask && out[1] && mask->dtype != ENGINE_DTYPE_BOOL) return ENGINE_ERR_UNSUPPORTED;
    const int64_t cnt = engine_value_numel(x);
    const float scale = 1.0f / (1.0f - p->ratio);
    double *u = NULL;
    if (p->ratio > 0.0f && cnt > 0) {
        u = malloc((size_t)cnt * sizeof *u);
        if (!u) return ENGINE_ERR_OUT_OF_MEMORY;
        engine_mt19937_uniform(p->has_seed ? (uint32_t)p->seed : fresh_seed(), u, cnt);
    }
    const float *xs = in[0];
    float *ys = out[0];
    uint8_t *ms = mask ? out[1] : NULL;
    for (int64_t i = 0; i < cnt; ++i) {
        int keep = !u || u[i] >= (double)p->ratio;
        ys[i] = keep ? xs[i] * scale : 0.0f;
        if (ms) ms[i] = (uint8_t)keep;
    }
    free(u);
    return ENGINE_OK;
}

/* Dropout at inference: Y = X, and the optional mask is all true (bool;
 * before opset 10 of the data's type, float32 here: all 1). */
engine_status ref_Dropout(const engine_node *n, const void *const *in, void *const *out) {
    if (n->params) return dropout_train(n, n->params, in, out);
    const engine_value *mask = n->n_outputs > 1 ? n->outputs[1] : NULL;
    if (mask && out[1] && mask->dtype != ENGINE_DTYPE_BOOL && mask->dtype != ENGINE_DTYPE_F32)
        return ENGINE_ERR_UNSUPPORTED;
    engine_status st = copy_through(n, in, out);
    if (st != ENGINE_OK) return st;
    if (mask && out[1] && mask->dtype == ENGINE_DTYPE_BOOL) memset(out[1], 1, (size_t)engine_value_numel(mask));
    if (mask && out[1] && mask->dtype == ENGINE_DTYPE_F32)
        for (int64_t i = 0, c = engine_value_numel(mask); i < c; ++i) ((float *)out[1])[i] = 1.0f;
    return ENGINE_OK;
}

engine_status ref_Transpose(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    const engine_transpose_params *p = n->params;
    if (!p) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->rank != y->rank) return ENGINE_ERR_SHAPE;
    int64_t xs[ENGINE_MAX_RANK], c[ENGINE_MAX_RANK];
    strides_of(x, xs);
    for (int d = 0; d < y->rank; ++d)
        if (p->perm[d] < 0 || p->perm[d] >= x->rank || x->dims[p->perm[d]] != y->dims[d]) return ENGINE_ERR_SHAPE;
    int64_t count = engine_value_numel(y);
    for (int64_t i = 0; i < count; ++i) {
        coords_of(y, i, c);
        int64_t off = 0;
        for (int d = 0; d < y->rank; ++d) off += c[d] * xs[p->perm[d]];
        COPY_ELEM_(out[0], i, in[0], off, es);
    }
    return ENGINE_OK;
}

/* Gather: out[o, j..., i] = data[o, idx[j...], i]; negative indices wrap once. */
engine_status ref_Gather(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    const engine_value *idx = engine_node_input(n, 1);
    const engine_axis_params *p = n->params;
    if (!idx || !in[1] || !p) return ENGINE_ERR_INVALID_ARGUMENT;
    if (idx->dtype != ENGINE_DTYPE_I64 && idx->dtype != ENGINE_DTYPE_I32) return ENGINE_ERR_UNSUPPORTED;
    if (p->axis < 0 || p->axis >= x->rank) return ENGINE_ERR_SHAPE;
    int64_t outer = prod(x->dims, 0, p->axis), ax = x->dims[p->axis], inner = prod(x->dims, p->axis + 1, x->rank);
    int64_t nidx = engine_value_numel(idx);
    if (outer * nidx * inner != engine_value_numel(y)) return ENGINE_ERR_SHAPE;
    uint8_t *dst = out[0];
    const uint8_t *src = in[0];
    size_t chunk = (size_t)inner * es;
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < nidx; ++j) {
            int64_t k = idx->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)in[1])[j] : ((const int32_t *)in[1])[j];
            if (k < 0) k += ax;
            if (k < 0 || k >= ax) return ENGINE_ERR_INVALID_ARGUMENT;
            memcpy(dst + (size_t)(o * nidx + j) * chunk, src + (size_t)(o * ax + k) * chunk, chunk);
        }
    }
    return ENGINE_OK;
}

/* Shape: the input's dims[start:end] as int64; the input's data is not read. */
engine_status ref_Shape(const engine_node *n, const void *const *in, void *const *out) {
    (void)in;
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_axis_params *p = n->params;
    if (!x || !y || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (y->dtype != ENGINE_DTYPE_I64) return ENGINE_ERR_UNSUPPORTED;
    if (!rank_ok(x)) return ENGINE_ERR_SHAPE;
    int64_t start = p ? p->start : 0, end = p ? p->end : x->rank;
    if (start < 0) start = 0;
    if (end > x->rank) end = x->rank;
    if (end < start) end = start;
    if (engine_value_numel(y) != end - start) return ENGINE_ERR_SHAPE;
    for (int64_t d = start; d < end; ++d) ((int64_t *)out[0])[d - start] = x->dims[d];
    return ENGINE_OK;
}

/* Constant: the value shape inference made constant, else the attribute. */
engine_status ref_Constant(const engine_node *n, const void *const *in, void *const *out) {
    (void)in;
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!y || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    size_t es = ref_elem_size(y->dtype);
    if (!es) return ENGINE_ERR_UNSUPPORTED;
    size_t nbytes = (size_t)engine_value_numel(y) * es;
    const void *src = y->data;
    const engine_attr *a;
    if (!src && (a = engine_node_attr(n, "value")) && a->type == ENGINE_ATTR_TENSOR && a->t) {
        if (a->t->dtype != y->dtype || engine_value_numel(a->t) != engine_value_numel(y)) return ENGINE_ERR_SHAPE;
        src = a->t->data;
    }
    if (src) {
        if (src != out[0]) memmove(out[0], src, nbytes);
        return ENGINE_OK;
    }
    /* The scalar and list forms (opset 12+). */
    if ((a = engine_node_attr(n, "value_float")) && a->type == ENGINE_ATTR_FLOAT && y->dtype == ENGINE_DTYPE_F32 &&
        nbytes == sizeof(float)) {
        memcpy(out[0], &a->f, sizeof(float));
        return ENGINE_OK;
    }
    if ((a = engine_node_attr(n, "value_int")) && a->type == ENGINE_ATTR_INT && y->dtype == ENGINE_DTYPE_I64 &&
        nbytes == sizeof(int64_t)) {
        memcpy(out[0], &a->i, sizeof(int64_t));
        return ENGINE_OK;
    }
    if ((a = engine_node_attr(n, "value_floats")) && a->type == ENGINE_ATTR_FLOATS && y->dtype == ENGINE_DTYPE_F32 &&
        nbytes == (size_t)a->n * sizeof(float)) {
        if (nbytes) memcpy(out[0], a->floats, nbytes);
        return ENGINE_OK;
    }
    if ((a = engine_node_attr(n, "value_ints")) && a->type == ENGINE_ATTR_INTS && y->dtype == ENGINE_DTYPE_I64 &&
        nbytes == (size_t)a->n * sizeof(int64_t)) {
        if (nbytes) memcpy(out[0], a->ints, nbytes);
        return ENGINE_OK;
    }
    return ENGINE_ERR_UNSUPPORTED;
}

engine_status ref_ConstantOfShape(const engine_node *n, const void *const *in, void *const *out) {
    (void)in;
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_cast_params *p = n->params;
    if (!y || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!ref_elem_size(y->dtype)) return ENGINE_ERR_UNSUPPORTED;
    scalar v = {0, 0, p ? p->value : 0.0};
    int64_t count = engine_value_numel(y);
    for (int64_t i = 0; i < count; ++i) store(y->dtype, out[0], i, v);
    return ENGINE_OK;
}

/* Pad: output coordinate o reads input o - pad_begin, mapped back inside by
 * the mode (negative pads crop and need no special case). */
engine_status ref_Pad(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    const engine_pad_params *p = n->params;
    if (!p) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->rank != y->rank) return ENGINE_ERR_SHAPE;
    if (p->mode != ENGINE_PAD_CONSTANT && p->mode != ENGINE_PAD_REFLECT && p->mode != ENGINE_PAD_EDGE &&
        p->mode != ENGINE_PAD_WRAP)
        return ENGINE_ERR_UNSUPPORTED;
    uint8_t fill[8];
    scalar v = {0, 0, p->value};
    store(y->dtype, fill, 0, v);
    int64_t xs[ENGINE_MAX_RANK], c[ENGINE_MAX_RANK];
    strides_of(x, xs);
    int64_t count = engine_value_numel(y);
    for (int64_t i = 0; i < count; ++i) {
        coords_of(y, i, c);
        int64_t off = 0;
        int outside = 0;
        for (int d = 0; d < y->rank && !outside; ++d) {
            int64_t k = c[d] - p->pad_begin[d], m = x->dims[d];
            if (k < 0 || k >= m) {
                if (p->mode == ENGINE_PAD_CONSTANT || m == 0) {
                    outside = 1;
                } else if (p->mode == ENGINE_PAD_EDGE) {
                    k = k < 0 ? 0 : m - 1;
                } else if (p->mode == ENGINE_PAD_WRAP) {
                    k %= m;
                    if (k < 0) k += m;
                } else if (m == 1) {
                    k = 0;
                } else {
                    /* Reflect without repeating the edge; period 2(m-1). */
                    int64_t period = 2 * (m - 1);
                    k %= period;
                    if (k < 0) k += period;
                    if (k >= m) k = period - k;
                }
            }
            off += k * xs[d];
        }
        if (outside) memcpy((uint8_t *)out[0] + (size_t)i * es, fill, es);
        else COPY_ELEM_(out[0], i, in[0], off, es);
    }
    return ENGINE_OK;
}

engine_status ref_Cast(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!x || !y || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!ref_elem_size(x->dtype) || !ref_elem_size(y->dtype)) return ENGINE_ERR_UNSUPPORTED;
    if (engine_value_numel(x) != engine_value_numel(y)) return ENGINE_ERR_SHAPE;
    int64_t count = engine_value_numel(y);
    if (x->dtype == y->dtype) {
        if (out[0] != in[0]) memmove(out[0], in[0], (size_t)count * ref_elem_size(y->dtype));
        return ENGINE_OK;
    }
    for (int64_t i = 0; i < count; ++i) store(y->dtype, out[0], i, load(x->dtype, in[0], i));
    return ENGINE_OK;
}

/* Expand: numpy broadcasting of the input to the output's shape. */
engine_status ref_Expand(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    if (x->rank > y->rank) return ENGINE_ERR_SHAPE;
    int64_t xs[ENGINE_MAX_RANK] = {0}, c[ENGINE_MAX_RANK], s = 1;
    for (int d = x->rank - 1; d >= 0; --d) {
        int od = d + (y->rank - x->rank);
        if (x->dims[d] != 1 && x->dims[d] != y->dims[od]) return ENGINE_ERR_SHAPE;
        xs[od] = x->dims[d] == 1 ? 0 : s;
        s *= x->dims[d];
    }
    int64_t count = engine_value_numel(y);
    for (int64_t i = 0; i < count; ++i) {
        coords_of(y, i, c);
        int64_t off = 0;
        for (int d = 0; d < y->rank; ++d) off += c[d] * xs[d];
        COPY_ELEM_(out[0], i, in[0], off, es);
    }
    return ENGINE_OK;
}

engine_status ref_Tile(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    if (x->rank != y->rank) return ENGINE_ERR_SHAPE;
    int64_t xs[ENGINE_MAX_RANK], c[ENGINE_MAX_RANK];
    strides_of(x, xs);
    int64_t count = engine_value_numel(y);
    for (int64_t i = 0; i < count; ++i) {
        coords_of(y, i, c);
        int64_t off = 0;
        for (int d = 0; d < y->rank; ++d) off += (c[d] % x->dims[d]) * xs[d];
        COPY_ELEM_(out[0], i, in[0], off, es);
    }
    return ENGINE_OK;
}

/* DepthToSpace (NCHW): y[n, c, h*b+i, w*b+j] = x[n, ch, h, w] with
 * ch = (i*b + j)*C' + c (DCR) or c*b*b + i*b + j (CRD). */
engine_status ref_DepthToSpace(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    const engine_axis_params *p = n->params;
    if (!p) return ENGINE_ERR_INVALID_ARGUMENT;
    int64_t b = p->blocksize;
    if (x->rank != 4 || y->rank != 4 || b < 1) return ENGINE_ERR_SHAPE;
    int64_t N = y->dims[0], C = y->dims[1], H = x->dims[2], W = x->dims[3];
    if (x->dims[0] != N || x->dims[1] != C * b * b || y->dims[2] != H * b || y->dims[3] != W * b)
        return ENGINE_ERR_SHAPE;
    int64_t i_out = 0;
    for (int64_t nn = 0; nn < N; ++nn)
        for (int64_t c = 0; c < C; ++c)
            for (int64_t oh = 0; oh < H * b; ++oh)
                for (int64_t ow = 0; ow < W * b; ++ow, ++i_out) {
                    int64_t i = oh % b, j = ow % b;
                    int64_t ch = p->crd ? c * b * b + i * b + j : (i * b + j) * C + c;
                    int64_t off = ((nn * C * b * b + ch) * H + oh / b) * W + ow / b;
                    COPY_ELEM_(out[0], i_out, in[0], off, es);
                }
    return ENGINE_OK;
}

/* SpaceToDepth (NCHW): y[n, (i*b + j)*C + c, h, w] = x[n, c, h*b+i, w*b+j]. */
engine_status ref_SpaceToDepth(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x, *y;
    size_t es;
    engine_status st = io1(n, in, out, &x, &y, &es);
    if (st != ENGINE_OK) return st;
    const engine_axis_params *p = n->params;
    if (!p) return ENGINE_ERR_INVALID_ARGUMENT;
    int64_t b = p->blocksize;
    if (x->rank != 4 || y->rank != 4 || b < 1) return ENGINE_ERR_SHAPE;
    int64_t N = x->dims[0], C = x->dims[1], H = y->dims[2], W = y->dims[3];
    if (y->dims[0] != N || y->dims[1] != C * b * b || x->dims[2] != H * b || x->dims[3] != W * b)
        return ENGINE_ERR_SHAPE;
    int64_t i_out = 0;
    for (int64_t nn = 0; nn < N; ++nn)
        for (int64_t oc = 0; oc < C * b * b; ++oc)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t w = 0; w < W; ++w, ++i_out) {
                    int64_t blk = oc / C, c = oc % C, i = blk / b, j = blk % b;
                    int64_t off = ((nn * C + c) * H * b + h * b + i) * W * b + w * b + j;
                    COPY_ELEM_(out[0], i_out, in[0], off, es);
                }
    return ENGINE_OK;
}

/* Trilu: over the last two dims (rows i, columns j), keeps j - i >= k
 * (upper) or j - i <= k (lower) and writes zeros elsewhere; any element
 * type (bytes copied). */
engine_status ref_Trilu(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    const engine_scan_params *p = n->params;
    if (!x || !y || !p || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    size_t es = ref_elem_size(x->dtype);
    if (x->dtype != y->dtype || es == 0) return ENGINE_ERR_UNSUPPORTED;
    if (x->rank < 2) return ENGINE_ERR_SHAPE;
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t count = engine_value_numel(x);
    const unsigned char *src = in[0];
    unsigned char *dst = out[0];
    for (int64_t e = 0; e < count; ++e) {
        int64_t j = e % cols, i = (e / cols) % rows;
        int keep = p->upper ? j - i >= p->k : j - i <= p->k;
        if (keep) memcpy(dst + (size_t)e * es, src + (size_t)e * es, es);
        else memset(dst + (size_t)e * es, 0, es);
    }
    return ENGINE_OK;
}
