/* backends/ref/detect.c - NonMaxSuppression and RoiAlign.
 *
 * NonMaxSuppression's output shape depends on its input values: libengine
 * runs it on the host between the stages of a run (ref_nms_bound and
 * ref_nms_run, through ref_dd_run). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_kernels.h"

static int64_t numel(const engine_value *v) {
    return engine_value_numel(v);
}

/* A one-element int or float input as double. */
static double scalar(const engine_value *v, const void *data) {
    switch (v->dtype) {
    case ENGINE_DTYPE_F32: return *(const float *)data;
    case ENGINE_DTYPE_F64: return *(const double *)data;
    case ENGINE_DTYPE_I64: return (double)*(const int64_t *)data;
    case ENGINE_DTYPE_I32: return *(const int32_t *)data;
    default: return 0.0;
    }
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
        double m = scalar(v, in[2]);
        *max_per = m > 0.0 ? (m > 9.0e18 ? INT64_MAX : (int64_t)m) : 0;
    }
    if ((v = engine_node_input(n, 3)) && in[3] && numel(v) == 1) *iou_thr = (float)scalar(v, in[3]);
    if ((v = engine_node_input(n, 4)) && in[4] && numel(v) == 1) {
        *has_score = 1;
        *score_thr = (float)scalar(v, in[4]);
    }
}

int64_t ref_nms_bound(const engine_node *n, const void *const *in) {
    int64_t max_per;
    float t, s;
    int hs;
    nms_limits(n, in, &max_per, &t, &hs, &s);
    int64_t boxes = n->inputs[0]->dims[1];
    int64_t per = max_per < boxes ? max_per : boxes;
    return n->inputs[1]->dims[0] * n->inputs[1]->dims[1] * per * 3;
}

engine_status ref_nms_run(const engine_node *n, const void *const *in, int64_t *out, int64_t cap, int64_t *dims) {
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
    return ref_nms_run(n, in, out[0], numel(n->outputs[0]), dims);
}



/* ---- RoiAlign (opset 10, 16) ---- */

/* Where and how much a bilinear sample at (y, x) of an h x w plane reads,
 * as ONNX defines it: 0 outside [-1, size] (the sample contributes
 * nothing), else 1; edges clamp. The cpu backend tables these per roi. */
int ref_roialign_tap(int64_t h, int64_t w, double y, double x, int64_t off[4], double wt[4]) {
    for (int k = 0; k < 4; ++k) off[k] = 0, wt[k] = 0.0;
    if (y < -1.0 || y > (double)h || x < -1.0 || x > (double)w || h <= 0 || w <= 0) return 0;
    if (y <= 0) y = 0;
    if (x <= 0) x = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= h - 1) {
        y0 = y1 = h - 1;
        y = (double)y0;
    } else {
        y1 = y0 + 1;
    }
    if (x0 >= w - 1) {
        x0 = x1 = w - 1;
        x = (double)x0;
    } else {
        x1 = x0 + 1;
    }
    double ly = y - (double)y0, lx = x - (double)x0, hy = 1.0 - ly, hx = 1.0 - lx;
    off[0] = y0 * w + x0, wt[0] = hy * hx;
    off[1] = y0 * w + x1, wt[1] = hy * lx;
    off[2] = y1 * w + x0, wt[2] = ly * hx;
    off[3] = y1 * w + x1, wt[3] = ly * lx;
    return 1;
}

/* The four weighted taps of that sample in one channel plane (max mode
 * takes their max, avg their sum). */
static void roi_taps(const float *plane, int64_t h, int64_t w, double y, double x, double taps[4]) {
    int64_t off[4];
    double wt[4];
    int in = ref_roialign_tap(h, w, y, x, off, wt);
    for (int k = 0; k < 4; ++k) taps[k] = in ? wt[k] * plane[off[k]] : 0.0;
}

/* The checks of every roi before any is computed: its batch index and
 * coordinates (the cpu backend runs ref_roialign_rows on several threads
 * after this, so a bad roi never reaches them). */
engine_status ref_roialign_check(const engine_node *n, const void *const *in) {
    const engine_roialign_params *p = n->params;
    const engine_value *x = n->inputs[0], *bi = n->inputs[2];
    if (!p) return ENGINE_ERR_INVALID_ARGUMENT;
    const float *rois = in[1];
    int64_t N = x->dims[0], R = n->inputs[1]->dims[0];
    double off = p->half_pixel ? 0.5 : 0.0, scale = p->spatial_scale;
    for (int64_t r = 0; r < R; ++r) {
        int64_t b = bi->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)in[2])[r] : ((const int32_t *)in[2])[r];
        if (b < 0 || b >= N) return ENGINE_ERR_INVALID_ARGUMENT;
        const float *roi = rois + r * 4;
        for (int q = 0; q < 4; ++q)
            if (!isfinite(roi[q])) return ENGINE_ERR_INVALID_ARGUMENT;
        double rw = roi[2] * scale - off - (roi[0] * scale - off), rh = roi[3] * scale - off - (roi[1] * scale - off);
        int64_t gh = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rh / (double)p->out_h);
        int64_t gw = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rw / (double)p->out_w);
        if (gh > 4096 || gw > 4096) return ENGINE_ERR_INVALID_ARGUMENT; /* a box far larger than any map */
    }
    return ENGINE_OK;
}

/* rois r0 <= r < r1 (checked by ref_roialign_check). */
void ref_roialign_rows(const engine_node *n, const void *const *in, void *const *out, int64_t r0, int64_t r1) {
    const engine_roialign_params *p = n->params;
    const engine_value *x = n->inputs[0], *bi = n->inputs[2];
    const float *X = in[0], *rois = in[1];
    float *Y = out[0];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t oh = p->out_h, ow = p->out_w;
    double off = p->half_pixel ? 0.5 : 0.0, scale = p->spatial_scale;
    for (int64_t r = r0; r < r1; ++r) {
        int64_t b = bi->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)in[2])[r] : ((const int32_t *)in[2])[r];
        if (b < 0 || b >= N) continue;
        const float *roi = rois + r * 4;
        double x0 = roi[0] * scale - off, y0 = roi[1] * scale - off;
        double rw = roi[2] * scale - off - x0, rh = roi[3] * scale - off - y0;
        if (!p->half_pixel) {
            rw = rw > 1.0 ? rw : 1.0;
            rh = rh > 1.0 ? rh : 1.0;
        }
        double bh = rh / (double)oh, bw = rw / (double)ow;
        int64_t gh = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rh / (double)oh);
        int64_t gw = p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rw / (double)ow);
        if (gh < 0) gh = 0;
        if (gw < 0) gw = 0;
        double count = gh * gw > 0 ? (double)(gh * gw) : 1.0;
        for (int64_t c = 0; c < C; ++c) {
            const float *plane = X + (b * C + c) * H * W;
            float *dst = Y + (r * C + c) * oh * ow;
            for (int64_t ph = 0; ph < oh; ++ph)
                for (int64_t pw = 0; pw < ow; ++pw) {
                    double acc = 0.0, best = -INFINITY;
                    for (int64_t iy = 0; iy < gh; ++iy) {
                        double yy = y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ++ix) {
                            double xx = x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double t[4];
                            roi_taps(plane, H, W, yy, xx, t);
                            if (p->max_mode) {
                                double m = fmax(fmax(t[0], t[1]), fmax(t[2], t[3]));
                                best = m > best ? m : best;
                            } else {
                                acc += t[0] + t[1] + t[2] + t[3];
                            }
                        }
                    }
                    dst[ph * ow + pw] = (float)(p->max_mode ? (gh * gw > 0 ? best : 0.0) : acc / count);
                }
        }
    }
}

engine_status ref_RoiAlign(const engine_node *n, const void *const *in, void *const *out) {
    engine_status st = ref_roialign_check(n, in);
    if (st) return st;
    ref_roialign_rows(n, in, out, 0, n->inputs[1]->dims[0]);
    return ENGINE_OK;
}
