/* backends/ref/index.c - NonZero, TopK, Range, GatherElements, GatherND,
 * ScatterElements, ScatterND.
 *
 * NonZero also has a host form (ref_nonzero_run, through ref_dd_run): its
 * output shape depends on the input values, so libengine runs it between
 * the stages of a run, with the output's extent found by the kernel.
 * Indices read at run time are checked: one out of range is
 * ENGINE_ERR_INVALID_ARGUMENT, never a read or write outside a buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_kernels.h"

static int64_t numel(const engine_value *v) {
    return engine_value_numel(v);
}

/* Element i of a numeric tensor as double. */
static double elem(const engine_value *v, const void *data, int64_t i) {
    switch (v->dtype) {
    case ENGINE_DTYPE_F32: return ((const float *)data)[i];
    case ENGINE_DTYPE_F64: return ((const double *)data)[i];
    case ENGINE_DTYPE_I64: return (double)((const int64_t *)data)[i];
    case ENGINE_DTYPE_I32: return ((const int32_t *)data)[i];
    case ENGINE_DTYPE_I8: return ((const int8_t *)data)[i];
    case ENGINE_DTYPE_U8: case ENGINE_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    case ENGINE_DTYPE_F16: {
        uint16_t h = ((const uint16_t *)data)[i];
        return (h & 0x7fffu) ? 1.0 : 0.0; /* NonZero only asks "is it zero": +-0 are */
    }
    default: return 0.0;
    }
}

/* ---- NonZero ---- */

engine_status ref_nonzero_run(const engine_node *n, const void *x, int64_t *out, int64_t cap, int64_t *dims) {
    const engine_value *v = n->inputs[0];
    int64_t total = numel(v), count = 0;
    int rank = v->rank;
    for (int64_t i = 0; i < total; ++i) count += elem(v, x, i) != 0.0;
    dims[0] = rank;
    dims[1] = count;
    if (count * rank > cap) return ENGINE_ERR_INTERNAL;
    int64_t j = 0;
    for (int64_t i = 0; i < total; ++i) {
        if (elem(v, x, i) == 0.0) continue;
        int64_t rem = i;
        for (int d = rank - 1; d >= 0; --d) {
            int64_t e = v->dims[d] > 0 ? v->dims[d] : 1;
            out[(int64_t)d * count + j] = rem % e;
            rem /= e;
        }
        ++j;
    }
    return ENGINE_OK;
}

engine_status ref_NonZero(const engine_node *n, const void *const *in, void *const *out) {
    int64_t dims[2];
    return ref_nonzero_run(n, in[0], out[0], numel(n->outputs[0]), dims);
}

/* ---- TopK ---- */

typedef struct topk_item {
    double v;
    int64_t i;
    int largest;
} topk_item;

static int topk_cmp(const void *pa, const void *pb) {
    const topk_item *a = pa, *b = pb;
    int an = isnan(a->v), bn = isnan(b->v);
    if (an != bn) return an ? -1 : 1; /* NaN ranks above every number, as numpy's sort puts it last */
    if (!an && a->v != b->v) return (a->largest ? a->v > b->v : a->v < b->v) ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

engine_status ref_TopK(const engine_node *n, const void *const *in, void *const *out) {
    const engine_topk_params *p = n->params;
    const engine_value *x = n->inputs[0];
    if (!p) return ENGINE_ERR_INVALID_ARGUMENT;
    int64_t outer = 1, inner = 1, len = x->dims[p->axis], k = p->k;
    for (int d = 0; d < p->axis; ++d) outer *= x->dims[d];
    for (int d = p->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
    if (len == 0 || k == 0 || outer * inner == 0) return ENGINE_OK;
    topk_item *items = malloc(sizeof *items * (size_t)len);
    if (!items) return ENGINE_ERR_OUT_OF_MEMORY;
    size_t es = x->dtype == ENGINE_DTYPE_I64 ? 8 : 4; /* float32, int32, int64 (ref_supports) */
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            for (int64_t j = 0; j < len; ++j) {
                items[j].v = elem(x, in[0], (o * len + j) * inner + i);
                items[j].i = j;
                items[j].largest = p->largest;
            }
            qsort(items, (size_t)len, sizeof *items, topk_cmp);
            for (int64_t j = 0; j < k; ++j) {
                int64_t dst = (o * k + j) * inner + i, src = (o * len + items[j].i) * inner + i;
                if (out[0]) memcpy((char *)out[0] + dst * (int64_t)es, (const char *)in[0] + src * (int64_t)es, es);
                if (n->n_outputs > 1 && out[1]) ((int64_t *)out[1])[dst] = items[j].i;
            }
        }
    free(items);
    return ENGINE_OK;
}

/* ---- Range ---- */

engine_status ref_Range(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *y = n->outputs[0];
    int64_t cnt = numel(y);
    switch (y->dtype) {
    case ENGINE_DTYPE_F32: {
        float a = *(const float *)in[0], d = *(const float *)in[2];
        for (int64_t i = 0; i < cnt; ++i) ((float *)out[0])[i] = a + (float)i * d;
        return ENGINE_OK;
    }
    case ENGINE_DTYPE_F64: {
        double a = *(const double *)in[0], d = *(const double *)in[2];
        for (int64_t i = 0; i < cnt; ++i) ((double *)out[0])[i] = a + (double)i * d;
        return ENGINE_OK;
    }
    case ENGINE_DTYPE_I64: {
        int64_t a = *(const int64_t *)in[0], d = *(const int64_t *)in[2];
        /* wraps like two's complement where start + i * delta leaves int64 (no UB) */
        for (int64_t i = 0; i < cnt; ++i) ((int64_t *)out[0])[i] = (int64_t)((uint64_t)a + (uint64_t)i * (uint64_t)d);
        return ENGINE_OK;
    }
    case ENGINE_DTYPE_I32: {
        int32_t a = *(const int32_t *)in[0], d = *(const int32_t *)in[2];
        for (int64_t i = 0; i < cnt; ++i)
            ((int32_t *)out[0])[i] = (int32_t)(uint32_t)((uint32_t)a + (uint32_t)i * (uint32_t)d);
        return ENGINE_OK;
    }
    default: return ENGINE_ERR_UNSUPPORTED;
    }
}

/* ---- GatherElements, GatherND, ScatterElements, ScatterND ---- */

/* Index j of an int64/int32 index tensor, negative counted from dim;
 * -1 when outside [0, dim). */
static int64_t index_at(const engine_value *idx, const void *data, int64_t j, int64_t dim) {
    int64_t i = idx->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)data)[j] : ((const int32_t *)data)[j];
    if (i < 0) i += dim;
    return i >= 0 && i < dim ? i : -1;
}

static void strides_of(const engine_value *v, int64_t *st) {
    int64_t s = 1;
    for (int d = v->rank - 1; d >= 0; --d) {
        st[d] = s;
        s *= v->dims[d];
    }
}

/* dst op= src for one element; reduction as engine_index_params. */
static void combine(engine_dtype t, size_t es, int red, void *dst, const void *src) {
    if (red == 0 || ref_elem_size(t) != es) {
        memcpy(dst, src, es);
        return;
    }
/* integers add and multiply wrapping (in the unsigned type UT), as numpy's
 * do, without signed overflow */
#define COMBINE_(T, UT)                                                                                   \
    do {                                                                                                  \
        T a = *(T *)dst, b = *(const T *)src;                                                             \
        *(T *)dst = red == 1   ? (T)((UT)a + (UT)b)                                                       \
                    : red == 2 ? (T)((UT)a * (UT)b)                                                       \
                    : red == 3 ? (a > b ? a : b)                                                          \
                               : (a < b ? a : b);                                                         \
    } while (0)
    switch (t) {
    case ENGINE_DTYPE_F32: {
        float a = *(float *)dst, b = *(const float *)src;
        *(float *)dst = red == 1 ? a + b : red == 2 ? a * b : red == 3 ? (a > b ? a : b) : (a < b ? a : b);
        break;
    }
    case ENGINE_DTYPE_I64: COMBINE_(int64_t, uint64_t); break;
    case ENGINE_DTYPE_I32: COMBINE_(int32_t, uint32_t); break;
    default: memcpy(dst, src, es); break;
    }
#undef COMBINE_
}

/* Position j of `of` (C order) as the offset in `into` (strides st) with
 * axis `ax` replaced by `at`. */
static int64_t offset_with(const engine_value *of, int64_t j, const int64_t *st, int ax, int64_t at) {
    int64_t off = 0;
    for (int d = of->rank - 1; d >= 0; --d) {
        int64_t e = of->dims[d] > 0 ? of->dims[d] : 1, c = j % e;
        j /= e;
        off += (d == ax ? at : c) * st[d];
    }
    return off;
}

engine_status ref_GatherElements(const engine_node *n, const void *const *in, void *const *out) {
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    size_t es = ref_elem_size(x->dtype);
    if (!p || !es) return ENGINE_ERR_UNSUPPORTED;
    int64_t st[ENGINE_MAX_RANK];
    strides_of(x, st);
    for (int64_t j = 0; j < numel(idx); ++j) {
        int64_t i = index_at(idx, in[1], j, x->dims[p->axis]);
        if (i < 0) return ENGINE_ERR_INVALID_ARGUMENT;
        memcpy((char *)out[0] + j * (int64_t)es, (const char *)in[0] + offset_with(idx, j, st, p->axis, i) * (int64_t)es, es);
    }
    return ENGINE_OK;
}

engine_status ref_ScatterElements(const engine_node *n, const void *const *in, void *const *out) {
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    size_t es = ref_elem_size(x->dtype);
    if (!p || !es) return ENGINE_ERR_UNSUPPORTED;
    if (out[0] != in[0]) memcpy(out[0], in[0], (size_t)numel(x) * es);
    int64_t st[ENGINE_MAX_RANK];
    strides_of(x, st);
    for (int64_t j = 0; j < numel(idx); ++j) {
        int64_t i = index_at(idx, in[1], j, x->dims[p->axis]);
        if (i < 0) return ENGINE_ERR_INVALID_ARGUMENT;
        combine(x->dtype, es, p->reduction, (char *)out[0] + offset_with(idx, j, st, p->axis, i) * (int64_t)es,
                (const char *)in[2] + j * (int64_t)es);
    }
    return ENGINE_OK;
}

/* The data offset (in elements) of index tuple t of an ND index tensor
 * whose last dim is k, from data dim `first` on; -1 when out of range. */
static int64_t tuple_offset(const engine_value *x, const int64_t *xst, const int64_t *tuple, int64_t k, int first) {
    int64_t off = 0;
    for (int64_t q = 0; q < k; ++q) {
        int64_t dim = x->dims[first + q], i = tuple[q];
        if (i < 0) i += dim;
        if (i < 0 || i >= dim) return -1;
        off += i * xst[first + q];
    }
    return off;
}

engine_status ref_GatherND(const engine_node *n, const void *const *in, void *const *out) {
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    size_t es = ref_elem_size(x->dtype);
    if (!p || !es) return ENGINE_ERR_UNSUPPORTED;
    int b = p->batch_dims;
    int64_t k = idx->dims[idx->rank - 1], batches = 1, tuples = 1, slice = 1;
    for (int d = 0; d < b; ++d) batches *= idx->dims[d];
    for (int d = b; d < idx->rank - 1; ++d) tuples *= idx->dims[d];
    for (int d = b + (int)k; d < x->rank; ++d) slice *= x->dims[d];
    int64_t xst[ENGINE_MAX_RANK];
    strides_of(x, xst);
    int64_t per_batch = b > 0 ? xst[b - 1] : numel(x);
    const int64_t *I = in[1];
    for (int64_t bt = 0; bt < batches; ++bt)
        for (int64_t t = 0; t < tuples; ++t) {
            int64_t off = tuple_offset(x, xst, I + (bt * tuples + t) * k, k, b);
            if (off < 0) return ENGINE_ERR_INVALID_ARGUMENT;
            memcpy((char *)out[0] + (bt * tuples + t) * slice * (int64_t)es,
                   (const char *)in[0] + (bt * per_batch + off) * (int64_t)es, (size_t)slice * es);
        }
    return ENGINE_OK;
}

engine_status ref_ScatterND(const engine_node *n, const void *const *in, void *const *out) {
    const engine_index_params *p = n->params;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    size_t es = ref_elem_size(x->dtype);
    if (!p || !es) return ENGINE_ERR_UNSUPPORTED;
    if (out[0] != in[0]) memcpy(out[0], in[0], (size_t)numel(x) * es);
    int64_t k = idx->dims[idx->rank - 1], tuples = 1, slice = 1;
    for (int d = 0; d < idx->rank - 1; ++d) tuples *= idx->dims[d];
    for (int d = (int)k; d < x->rank; ++d) slice *= x->dims[d];
    int64_t xst[ENGINE_MAX_RANK];
    strides_of(x, xst);
    const int64_t *I = in[1];
    for (int64_t t = 0; t < tuples; ++t) {
        int64_t off = tuple_offset(x, xst, I + t * k, k, 0);
        if (off < 0) return ENGINE_ERR_INVALID_ARGUMENT;
        for (int64_t e = 0; e < slice; ++e)
            combine(x->dtype, es, p->reduction, (char *)out[0] + (off + e) * (int64_t)es,
                    (const char *)in[2] + (t * slice + e) * (int64_t)es);
    }
    return ENGINE_OK;
}

/* ---- Size, OneHot ---- */

engine_status ref_Size(const engine_node *n, const void *const *in, void *const *out) {
    (void)in;
    *(int64_t *)out[0] = numel(n->inputs[0]);
    return ENGINE_OK;
}

/* OneHot: off_value everywhere, on_value where the index (negative counted
 * from depth) names the position along axis; an index outside
 * [-depth, depth) leaves its row all off (ONNX). */
engine_status ref_OneHot(const engine_node *n, const void *const *in, void *const *out) {
    const engine_index_params *p = n->params;
    const engine_value *idx = n->inputs[0], *y = n->outputs[0];
    size_t es = ref_elem_size(y->dtype);
    if (!p || !es) return ENGINE_ERR_UNSUPPORTED;
    int64_t depth = p->depth, outer = 1, inner = 1;
    for (int d = 0; d < p->axis; ++d) outer *= idx->dims[d];
    for (int d = p->axis; d < idx->rank; ++d) inner *= idx->dims[d];
    const char *off = in[2], *on = (const char *)in[2] + es;
    char *Y = out[0];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t d = 0; d < depth; ++d)
            for (int64_t i = 0; i < inner; ++i) {
                double v = elem(idx, in[0], o * inner + i);
                int64_t k = -1; /* NaN or out of range: all off */
                if (v > -(double)depth - 1.0 && v < (double)depth) {
                    k = (int64_t)v; /* toward zero, as a cast to int */
                    if (k < 0) k += depth;
                }
                memcpy(Y + ((o * depth + d) * inner + i) * (int64_t)es, k == d ? on : off, es);
            }
    return ENGINE_OK;
}
