/* backends/ref/index.c - NonZero, NonMaxSuppression, TopK, Range.
 *
 * NonZero and NonMaxSuppression also have a host form (ref_dd_run): their
 * output shape depends on the input values, so libengine runs them between
 * the stages of a run, with the output's extent found by the kernel. */
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

static engine_status nonzero(const engine_node *n, const void *x, int64_t *out, int64_t cap, int64_t *dims) {
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
    return nonzero(n, in[0], out[0], numel(n->outputs[0]), dims);
}

/* ---- NonMaxSuppression (ONNX opset 10/11) ---- */

typedef struct nms_box {
    float y1, x1, y2, x2; /* corners, min first */
} nms_box;

static nms_box box_at(const float *b, int cpb) {
    nms_box r;
    if (cpb) { /* [x_center, y_center, width, height] */
        float xc = b[0], yc = b[1], w = b[2], h = b[3];
        r.x1 = xc - w * 0.5f;
        r.x2 = xc + w * 0.5f;
        r.y1 = yc - h * 0.5f;
        r.y2 = yc + h * 0.5f;
    } else { /* [y1, x1, y2, x2], the diagonal in either order */
        r.y1 = fminf(b[0], b[2]);
        r.y2 = fmaxf(b[0], b[2]);
        r.x1 = fminf(b[1], b[3]);
        r.x2 = fmaxf(b[1], b[3]);
    }
    return r;
}

/* Intersection over union; 0 when either box has no area (or NaN). */
static float iou(nms_box a, nms_box b) {
    float aa = (a.y2 - a.y1) * (a.x2 - a.x1), ab = (b.y2 - b.y1) * (b.x2 - b.x1);
    if (!(aa > 0.0f) || !(ab > 0.0f)) return 0.0f;
    float ih = fminf(a.y2, b.y2) - fmaxf(a.y1, b.y1), iw = fminf(a.x2, b.x2) - fmaxf(a.x1, b.x1);
    if (!(ih > 0.0f) || !(iw > 0.0f)) return 0.0f;
    float inter = ih * iw;
    return inter / (aa + ab - inter);
}

typedef struct nms_cand {
    float score;
    int64_t index;
} nms_cand;

/* Higher score first; equal scores keep the lower box index first. */
static int cand_cmp(const void *pa, const void *pb) {
    const nms_cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* The data inputs: max boxes per class (default 0), IoU threshold (0),
 * score threshold (none). */
static void nms_limits(const engine_node *n, const void *const *in, int64_t *max_per, float *iou_thr,
                       int *has_score, float *score_thr) {
    *max_per = 0;
    *iou_thr = 0.0f;
    *has_score = 0;
    *score_thr = 0.0f;
    const engine_value *v;
    if ((v = engine_node_input(n, 2)) && in[2] && numel(v) == 1) {
        double m = elem(v, in[2], 0);
        *max_per = m > 0.0 ? (m > 9.0e18 ? INT64_MAX : (int64_t)m) : 0;
    }
    if ((v = engine_node_input(n, 3)) && in[3] && numel(v) == 1) *iou_thr = (float)elem(v, in[3], 0);
    if ((v = engine_node_input(n, 4)) && in[4] && numel(v) == 1) {
        *has_score = 1;
        *score_thr = (float)elem(v, in[4], 0);
    }
}

int64_t ref_dd_bound(const engine_node *n, const void *const *in) {
    if (n->op == ENGINE_OP_NonZero) return numel(n->inputs[0]) * (n->inputs[0]->rank > 0 ? n->inputs[0]->rank : 1);
    if (n->op != ENGINE_OP_NonMaxSuppression) return 0;
    int64_t max_per;
    float t, s;
    int hs;
    nms_limits(n, in, &max_per, &t, &hs, &s);
    int64_t boxes = n->inputs[0]->dims[1];
    int64_t per = max_per < boxes ? max_per : boxes;
    return n->inputs[1]->dims[0] * n->inputs[1]->dims[1] * per * 3;
}

static engine_status nms(const engine_node *n, const void *const *in, int64_t *out, int64_t cap, int64_t *dims) {
    const engine_nms_params *p = n->params;
    const float *boxes = in[0], *scores = in[1];
    int64_t batches = n->inputs[0]->dims[0], nb = n->inputs[0]->dims[1], classes = n->inputs[1]->dims[1];
    int64_t max_per;
    float iou_thr, score_thr;
    int has_score;
    nms_limits(n, in, &max_per, &iou_thr, &has_score, &score_thr);
    int cpb = p ? p->center_point_box : 0;
    int64_t count = 0;
    dims[0] = 0;
    dims[1] = 3;
    if (max_per == 0 || nb == 0) return ENGINE_OK;
    nms_cand *cand = malloc(sizeof *cand * (size_t)nb);
    nms_box *kept = malloc(sizeof *kept * (size_t)nb);
    if (!cand || !kept) {
        free(cand);
        free(kept);
        return ENGINE_ERR_OUT_OF_MEMORY;
    }
    engine_status st = ENGINE_OK;
    for (int64_t b = 0; b < batches && !st; ++b)
        for (int64_t c = 0; c < classes && !st; ++c) {
            const float *sc = scores + (b * classes + c) * nb;
            int64_t nc = 0;
            for (int64_t i = 0; i < nb; ++i) {
                if (isnan(sc[i]) || (has_score && !(sc[i] > score_thr))) continue;
                cand[nc].score = sc[i];
                cand[nc].index = i;
                nc++;
            }
            qsort(cand, (size_t)nc, sizeof *cand, cand_cmp);
            int64_t nk = 0;
            for (int64_t i = 0; i < nc && nk < max_per; ++i) {
                nms_box bx = box_at(boxes + (b * nb + cand[i].index) * 4, cpb);
                int keep = 1;
                for (int64_t j = 0; j < nk && keep; ++j) keep = !(iou(bx, kept[j]) > iou_thr);
                if (!keep) continue;
                if ((count + 1) * 3 > cap) {
                    st = ENGINE_ERR_INTERNAL;
                    break;
                }
                kept[nk++] = bx;
                out[count * 3 + 0] = b;
                out[count * 3 + 1] = c;
                out[count * 3 + 2] = cand[i].index;
                count++;
            }
        }
    free(cand);
    free(kept);
    dims[0] = count;
    return st;
}

engine_status ref_NonMaxSuppression(const engine_node *n, const void *const *in, void *const *out) {
    int64_t dims[2];
    return nms(n, in, out[0], numel(n->outputs[0]), dims);
}

engine_status ref_dd_run(const engine_node *n, const void *const *in, void *out, int64_t cap, int64_t *dims) {
    if (n->op == ENGINE_OP_NonZero) return nonzero(n, in[0], out, cap, dims);
    if (n->op == ENGINE_OP_NonMaxSuppression) return nms(n, in, out, cap, dims);
    return ENGINE_ERR_UNSUPPORTED;
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
        for (int64_t i = 0; i < cnt; ++i) ((int64_t *)out[0])[i] = a + i * d;
        return ENGINE_OK;
    }
    case ENGINE_DTYPE_I32: {
        int32_t a = *(const int32_t *)in[0], d = *(const int32_t *)in[2];
        for (int64_t i = 0; i < cnt; ++i) ((int32_t *)out[0])[i] = (int32_t)(a + (int32_t)i * d);
        return ENGINE_OK;
    }
    default: return ENGINE_ERR_UNSUPPORTED;
    }
}
