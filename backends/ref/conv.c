/* backends/ref/conv.c - reference kernels for Conv and ConvTranspose.
 *
 * Direct loops over NCHW data with 1 to 3 spatial dimensions; missing
 * trailing spatial dims are treated as size 1 so one loop nest serves all.
 * Every output element is a gather (no scatter), accumulated in double,
 * then the fused epilogue (ops.h): + sum, activation. */
#include "ref_kernels.h"

/* Spatial geometry padded to 3 dims (size 1, stride 1, no pad beyond `spatial`). */
typedef struct conv_geom {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
} conv_geom;

static engine_status conv_setup(const engine_node *n, conv_geom *g) {
    const engine_conv_params *p = n->params;
    const engine_value *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
    if (!p || x->dtype != ENGINE_DTYPE_F32 || w->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32)
        return ENGINE_ERR_UNSUPPORTED;
    int sp = x->rank - 2;
    if (sp < 1 || sp > ENGINE_MAX_SPATIAL || w->rank != x->rank || y->rank != x->rank || p->group < 1)
        return ENGINE_ERR_SHAPE;
    for (int i = 0; i < 3; ++i) {
        int in_sp = i < sp;
        g->in[i] = in_sp ? x->dims[2 + i] : 1;
        g->out[i] = in_sp ? y->dims[2 + i] : 1;
        g->k[i] = in_sp ? w->dims[2 + i] : 1;
        g->s[i] = in_sp && p->stride[i] > 0 ? p->stride[i] : 1;
        g->d[i] = in_sp && p->dilation[i] > 0 ? p->dilation[i] : 1;
        g->pb[i] = in_sp ? p->pad_begin[i] : 0;
    }
    return ENGINE_OK;
}

/* X [N, C, in...], W [M, C/group, k...], B [M] -> Y [N, M, out...] */
engine_status ref_Conv(const engine_node *n, const void *const *in, void *const *out) {
    conv_geom g;
    engine_status st = conv_setup(n, &g);
    if (st != ENGINE_OK) return st;
    const engine_conv_params *p = n->params;
    const float *x = in[0], *w = in[1], *b = n->n_inputs > 2 ? in[2] : NULL;
    const float *sum = p->epilogue.sum ? in[3] : NULL; /* fused residual, the output's shape */
    float *y = out[0];
    const int64_t N = n->inputs[0]->dims[0], C = n->inputs[0]->dims[1];
    const int64_t M = n->inputs[1]->dims[0], Cg = n->inputs[1]->dims[1];
    const int64_t G = p->group, Mg = M / G;
    if (Cg * G != C || Mg * G != M || n->outputs[0]->dims[1] != M) return ENGINE_ERR_SHAPE;
    const int64_t in_sz = g.in[0] * g.in[1] * g.in[2], k_sz = g.k[0] * g.k[1] * g.k[2];

    for (int64_t bn = 0; bn < N; ++bn)
        for (int64_t m = 0; m < M; ++m) {
            const int64_t grp = m / Mg;
            const float *xg = x + (bn * C + grp * Cg) * in_sz;
            const float *wm = w + m * Cg * k_sz;
            for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
                for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                    for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                        double acc = b ? (double)b[m] : 0.0;
                        for (int64_t c = 0; c < Cg; ++c)
                            for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
                                int64_t i0 = o0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                                if (i0 < 0 || i0 >= g.in[0]) continue;
                                for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                                    int64_t i1 = o1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                                    if (i1 < 0 || i1 >= g.in[1]) continue;
                                    for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                                        int64_t i2 = o2 * g.s[2] - g.pb[2] + k2 * g.d[2];
                                        if (i2 < 0 || i2 >= g.in[2]) continue;
                                        acc += (double)xg[((c * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2] *
                                               (double)wm[((c * g.k[0] + k0) * g.k[1] + k1) * g.k[2] + k2];
                                    }
                                }
                            }
                        if (sum) acc += (double)*sum++;
                        *y++ = (float)engine_act_apply(&p->epilogue, acc);
                    }
        }
    return ENGINE_OK;
}

/* The input index that output position o reaches through kernel tap k,
 * or -1: o = i*s + k*d - pad_begin (pad_begin trims the full output). */
static int64_t convt_src(int64_t o, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t len) {
    int64_t t = o + pb - k * d;
    if (t < 0 || t % s != 0) return -1;
    t /= s;
    return t < len ? t : -1;
}

/* X [N, C, in...], W [C, M/group, k...], B [M] -> Y [N, M, out...]; the
 * output size (with output_padding) is already in Y's dims. */
engine_status ref_ConvTranspose(const engine_node *n, const void *const *in, void *const *out) {
    conv_geom g;
    engine_status st = conv_setup(n, &g);
    if (st != ENGINE_OK) return st;
    const engine_conv_params *p = n->params;
    const float *x = in[0], *w = in[1], *b = n->n_inputs > 2 ? in[2] : NULL;
    const float *sum = p->epilogue.sum ? in[3] : NULL; /* fused residual, the output's shape */
    float *y = out[0];
    const int64_t N = n->inputs[0]->dims[0], C = n->inputs[0]->dims[1];
    const int64_t Mg = n->inputs[1]->dims[1], G = p->group, M = Mg * G, Cg = C / G;
    if (n->inputs[1]->dims[0] != C || Cg * G != C || n->outputs[0]->dims[1] != M) return ENGINE_ERR_SHAPE;
    const int64_t in_sz = g.in[0] * g.in[1] * g.in[2], k_sz = g.k[0] * g.k[1] * g.k[2];

    for (int64_t bn = 0; bn < N; ++bn)
        for (int64_t m = 0; m < M; ++m) {
            const int64_t grp = m / Mg, mm = m % Mg;
            const float *xg = x + (bn * C + grp * Cg) * in_sz;
            for (int64_t o0 = 0; o0 < g.out[0]; ++o0)
                for (int64_t o1 = 0; o1 < g.out[1]; ++o1)
                    for (int64_t o2 = 0; o2 < g.out[2]; ++o2) {
                        double acc = b ? (double)b[m] : 0.0;
                        for (int64_t c = 0; c < Cg; ++c) {
                            const float *wc = w + ((grp * Cg + c) * Mg + mm) * k_sz;
                            for (int64_t k0 = 0; k0 < g.k[0]; ++k0) {
                                int64_t i0 = convt_src(o0, k0, g.s[0], g.d[0], g.pb[0], g.in[0]);
                                if (i0 < 0) continue;
                                for (int64_t k1 = 0; k1 < g.k[1]; ++k1) {
                                    int64_t i1 = convt_src(o1, k1, g.s[1], g.d[1], g.pb[1], g.in[1]);
                                    if (i1 < 0) continue;
                                    for (int64_t k2 = 0; k2 < g.k[2]; ++k2) {
                                        int64_t i2 = convt_src(o2, k2, g.s[2], g.d[2], g.pb[2], g.in[2]);
                                        if (i2 < 0) continue;
                                        acc += (double)xg[((c * g.in[0] + i0) * g.in[1] + i1) * g.in[2] + i2] *
                                               (double)wc[(k0 * g.k[1] + k1) * g.k[2] + k2];
                                    }
                                }
                            }
                        }
                        if (sum) acc += (double)*sum++;
                        *y++ = (float)engine_act_apply(&p->epilogue, acc);
                    }
        }
    return ENGINE_OK;
}
