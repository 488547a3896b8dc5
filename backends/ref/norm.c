/* backends/ref/norm.c - reference kernels for BatchNormalization
 * (inference and training_mode), InstanceNormalization and LRN. Statistics in double. */
#include <math.h>

#include "ref_kernels.h"

static int all_f32(const engine_node *n, int n_in) {
    for (int k = 0; k < n_in; ++k)
        if (k >= n->n_inputs || !n->inputs[k] || n->inputs[k]->dtype != ENGINE_DTYPE_F32) return 0;
    return n->outputs[0]->dtype == ENGINE_DTYPE_F32;
}

/* N, C and the size of one (n, c) plane of a [N, C, ...] value. */
static engine_status nc_plane(const engine_value *x, int64_t *N, int64_t *C, int64_t *plane) {
    if (x->rank < 2) return ENGINE_ERR_SHAPE;
    *N = x->dims[0];
    *C = x->dims[1];
    *plane = 1;
    for (int i = 2; i < x->rank; ++i) *plane *= x->dims[i];
    return ENGINE_OK;
}

/* Y = (X - mean) / sqrt(var + eps) * scale + B, per channel. Inputs: X,
 * scale, B, input_mean, input_var. With training_mode (params->size) the
 * mean and (population) variance are the batch's, over every axis but 1,
 * and outputs 1 and 2, when present, are the running statistics:
 * input * momentum + batch * (1 - momentum). */
engine_status ref_BatchNormalization(const engine_node *n, const void *const *in, void *const *out) {
    const engine_scalar_params *p = n->params;
    if (!p || !all_f32(n, 5)) return ENGINE_ERR_UNSUPPORTED;
    const int training = p->size != 0;
    for (int k = 1; k < n->n_outputs; ++k)
        if (out[k] && (!training || k > 2)) return ENGINE_ERR_UNSUPPORTED;
    int64_t N, C, plane;
    engine_status st = nc_plane(n->inputs[0], &N, &C, &plane);
    if (st != ENGINE_OK) return st;
    const float *x = in[0], *scale = in[1], *bias = in[2], *mean = in[3], *var = in[4];
    float *y = out[0];
    for (int64_t c = 0; c < C; ++c) {
        double m = mean[c], v = var[c];
        if (training) {
            double sum = 0.0, sq = 0.0, cnt = (double)N * (double)plane;
            for (int64_t b = 0; b < N; ++b)
                for (int64_t i = 0; i < plane; ++i) sum += x[(b * C + c) * plane + i];
            double bm = cnt > 0 ? sum / cnt : 0.0;
            for (int64_t b = 0; b < N; ++b)
                for (int64_t i = 0; i < plane; ++i) {
                    double d = (double)x[(b * C + c) * plane + i] - bm;
                    sq += d * d;
                }
            double bv = cnt > 0 ? sq / cnt : 0.0, mom = (double)p->alpha;
            if (n->n_outputs > 1 && out[1]) ((float *)out[1])[c] = (float)(m * mom + bm * (1.0 - mom));
            if (n->n_outputs > 2 && out[2]) ((float *)out[2])[c] = (float)(v * mom + bv * (1.0 - mom));
            m = bm;
            v = bv;
        }
        double inv = 1.0 / sqrt(v + (double)p->epsilon);
        double mul = (double)scale[c] * inv, add = (double)bias[c] - m * mul;
        for (int64_t b = 0; b < N; ++b) {
            const float *xc = x + (b * C + c) * plane;
            float *yc = y + (b * C + c) * plane;
            for (int64_t i = 0; i < plane; ++i) yc[i] = (float)((double)xc[i] * mul + add);
        }
    }
    return ENGINE_OK;
}

/* Per (n, c): Y = scale[c] * (X - mean) / sqrt(var + eps) + B[c], with the
 * population mean and variance over the spatial dims. */
engine_status ref_InstanceNormalization(const engine_node *n, const void *const *in, void *const *out) {
    const engine_scalar_params *p = n->params;
    if (!p || !all_f32(n, 3)) return ENGINE_ERR_UNSUPPORTED;
    int64_t N, C, plane;
    engine_status st = nc_plane(n->inputs[0], &N, &C, &plane);
    if (st != ENGINE_OK) return st;
    const float *x = in[0], *scale = in[1], *bias = in[2];
    float *y = out[0];
    for (int64_t b = 0; b < N; ++b)
        for (int64_t c = 0; c < C; ++c) {
            const float *xc = x + (b * C + c) * plane;
            float *yc = y + (b * C + c) * plane;
            double mean = 0.0, var = 0.0;
            for (int64_t i = 0; i < plane; ++i) mean += xc[i];
            mean /= (double)plane;
            for (int64_t i = 0; i < plane; ++i) var += ((double)xc[i] - mean) * ((double)xc[i] - mean);
            var /= (double)plane;
            double mul = (double)scale[c] / sqrt(var + (double)p->epsilon);
            for (int64_t i = 0; i < plane; ++i) yc[i] = (float)(((double)xc[i] - mean) * mul + (double)bias[c]);
        }
    return ENGINE_OK;
}

/* Y = X / (bias + alpha / size * sum_{c' in window} X[c']^2)^beta, with the
 * channel window [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped. */
engine_status ref_LRN(const engine_node *n, const void *const *in, void *const *out) {
    const engine_scalar_params *p = n->params;
    if (!p || !all_f32(n, 1)) return ENGINE_ERR_UNSUPPORTED;
    if (p->size < 1) return ENGINE_ERR_SHAPE;
    int64_t N, C, plane;
    engine_status st = nc_plane(n->inputs[0], &N, &C, &plane);
    if (st != ENGINE_OK) return st;
    const int64_t lo = (p->size - 1) / 2, hi = p->size - 1 - lo;
    const float *x = in[0];
    float *y = out[0];
    for (int64_t b = 0; b < N; ++b)
        for (int64_t c = 0; c < C; ++c) {
            int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi >= C ? C - 1 : c + hi;
            for (int64_t i = 0; i < plane; ++i) {
                double sq = 0.0;
                for (int64_t cc = c0; cc <= c1; ++cc) {
                    double v = x[(b * C + cc) * plane + i];
                    sq += v * v;
                }
                double den = pow((double)p->bias + (double)p->alpha / (double)p->size * sq, (double)p->beta);
                y[(b * C + c) * plane + i] = (float)((double)x[(b * C + c) * plane + i] / den);
            }
        }
    return ENGINE_OK;
}

/* LpNormalization: y = x / ||x||_p along the axis (p 1 or 2, in double);
 * a zero norm divides by zero (NaN), as the ONNX reference does. */
engine_status ref_LpNormalization(const engine_node *n, const void *const *in, void *const *out) {
    const engine_scan_params *p = n->params;
    const engine_value *x = n->inputs[0];
    if (!p || x->dtype != ENGINE_DTYPE_F32 || n->outputs[0]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (p->axis < 0 || p->axis >= x->rank) return ENGINE_ERR_SHAPE;
    int64_t outer = 1, len = x->dims[p->axis], inner = 1;
    for (int d = 0; d < p->axis; ++d) outer *= x->dims[d];
    for (int d = p->axis + 1; d < x->rank; ++d) inner *= x->dims[d];
    const float *src = in[0];
    float *y = out[0];
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
            const float *xs = src + o * len * inner + i;
            float *ys = y + o * len * inner + i;
            double acc = 0.0;
            for (int64_t k = 0; k < len; ++k) {
                double v = xs[k * inner];
                acc += p->p == 1 ? fabs(v) : v * v;
            }
            double nrm = p->p == 1 ? acc : sqrt(acc);
            for (int64_t k = 0; k < len; ++k) ys[k * inner] = (float)((double)xs[k * inner] / nrm);
        }
    return ENGINE_OK;
}

/* MeanVarianceNormalization: y = (x - mean) / (sqrt(var) + 1e-9) with the
 * mean and the (population) variance over the axes in params->axes_mask,
 * as ONNX's function body (there var = E[x^2] - E[x]^2; here the same
 * value as E[(x - mean)^2], in double). */
engine_status ref_MeanVarianceNormalization(const engine_node *n, const void *const *in, void *const *out) {
    const engine_reduce_params *p = n->params;
    const engine_value *x = n->inputs[0];
    if (!p || x->dtype != ENGINE_DTYPE_F32 || n->outputs[0]->dtype != ENGINE_DTYPE_F32) return ENGINE_ERR_UNSUPPORTED;
    if (x->rank < 0 || x->rank > ENGINE_MAX_RANK) return ENGINE_ERR_SHAPE;
    int64_t stride[ENGINE_MAX_RANK], st = 1;
    for (int d = x->rank - 1; d >= 0; --d) {
        stride[d] = st;
        st *= x->dims[d];
    }
    int nk = 0, nr = 0;
    int64_t kdim[ENGINE_MAX_RANK], kstr[ENGINE_MAX_RANK], rdim[ENGINE_MAX_RANK], rstr[ENGINE_MAX_RANK];
    int64_t n_out = 1, n_red = 1;
    for (int d = 0; d < x->rank; ++d) {
        if (p->axes_mask & (1u << d)) {
            rdim[nr] = x->dims[d];
            rstr[nr++] = stride[d];
            n_red *= x->dims[d];
        } else {
            kdim[nk] = x->dims[d];
            kstr[nk++] = stride[d];
            n_out *= x->dims[d];
        }
    }
    const float *src = in[0];
    float *y = out[0];
    for (int64_t o = 0; o < n_out; ++o) {
        int64_t base = 0, rem = o;
        for (int d = nk - 1; d >= 0; --d) {
            base += (rem % kdim[d]) * kstr[d];
            rem /= kdim[d];
        }
        double mean = 0.0, var = 0.0;
        for (int pass = 0; pass < 3; ++pass)
            for (int64_t r = 0; r < n_red; ++r) {
                int64_t off = base;
                rem = r;
                for (int d = nr - 1; d >= 0; --d) {
                    off += (rem % rdim[d]) * rstr[d];
                    rem /= rdim[d];
                }
                double v = src[off];
                if (pass == 0) mean += v / (double)n_red;
                else if (pass == 1) var += (v - mean) * (v - mean) / (double)n_red;
                else y[off] = (float)((v - mean) / (sqrt(var) + 1e-9));
            }
    }
    return ENGINE_OK;
}

/* LayerNormalization: each row of the trailing axes [axis, rank) to zero
 * mean and unit variance (population), then * Scale + B; Mean and
 * InvStdDev (optional outputs) per row. */
engine_status ref_LayerNormalization(const engine_node *n, const void *const *in, void *const *out) {
    const engine_scalar_params *p = n->params;
    const engine_value *x = n->inputs[0];
    if (!p || x->dtype != ENGINE_DTYPE_F32 || !out[0]) return ENGINE_ERR_UNSUPPORTED;
    int64_t rows = 1, inner = 1;
    for (int d = 0; d < x->rank; ++d) *(d < p->size ? &rows : &inner) *= x->dims[d];
    const float *X = in[0], *S = in[1], *B = n->n_inputs > 2 ? in[2] : NULL;
    float *Y = out[0], *M = n->n_outputs > 1 ? out[1] : NULL, *I = n->n_outputs > 2 ? out[2] : NULL;
    for (int64_t r = 0; r < rows; ++r) {
        const float *xr = X + r * inner;
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < inner; ++i) mean += xr[i];
        mean /= (double)(inner ? inner : 1);
        for (int64_t i = 0; i < inner; ++i) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        var /= (double)(inner ? inner : 1);
        double inv = 1.0 / sqrt(var + (double)p->epsilon);
        for (int64_t i = 0; i < inner; ++i)
            Y[r * inner + i] = (float)(((double)xr[i] - mean) * inv * (double)S[i] + (B ? (double)B[i] : 0.0));
        if (M) M[r] = (float)mean;
        if (I) I[r] = (float)inv;
    }
    return ENGINE_OK;
}

/* GroupNormalization: the channels in num_groups groups, each group of a
 * sample (its channels and spatial positions) normalised; scale and bias
 * per channel (opset 21) or per group (18). */
engine_status ref_GroupNormalization(const engine_node *n, const void *const *in, void *const *out) {
    const engine_scalar_params *p = n->params;
    if (!p || !all_f32(n, 3) || p->size < 1) return ENGINE_ERR_UNSUPPORTED;
    int64_t N, C, plane;
    engine_status st = nc_plane(n->inputs[0], &N, &C, &plane);
    if (st != ENGINE_OK) return st;
    int64_t G = p->size, cg = C / G, len = cg * plane;
    const float *x = in[0], *scale = in[1], *bias = in[2];
    float *y = out[0];
    for (int64_t b = 0; b < N; ++b)
        for (int64_t gi = 0; gi < G; ++gi) {
            const float *xg = x + (b * C + gi * cg) * plane;
            float *yg = y + (b * C + gi * cg) * plane;
            double mean = 0.0, var = 0.0;
            for (int64_t i = 0; i < len; ++i) mean += xg[i];
            mean /= (double)(len ? len : 1);
            for (int64_t i = 0; i < len; ++i) var += ((double)xg[i] - mean) * ((double)xg[i] - mean);
            var /= (double)(len ? len : 1);
            double inv = 1.0 / sqrt(var + (double)p->epsilon);
            for (int64_t c = 0; c < cg; ++c) {
                int64_t k = p->alpha != 0.0f ? gi * cg + c : gi;
                for (int64_t i = 0; i < plane; ++i)
                    yg[c * plane + i] = (float)(((double)xg[c * plane + i] - mean) * inv * (double)scale[k] + (double)bias[k]);
            }
        }
    return ENGINE_OK;
}
