/* backends/opencl/norm.cl - the norm family (norm.c), OpenCL C 1.2:
 * BatchNormalization, InstanceNormalization, LRN, MeanVarianceNormalization,
 * LayerNormalization and GroupNormalization. */

/* BatchNormalization (inference) with each parameter tensor its own
 * (buffer, offset): constants in the weight buffer or run-time values in
 * the arena alike. */
__kernel void f_batchnorm(__global const T *x, int xo, __global const T *ps, int so, __global const T *pb, int bo,
                           __global const T *pm, int mo_, __global const T *pv, int vo, __global T *y, int yo,
                           int plane, int C, float eps) {
    int i = get_global_id(0);
    int c = (i / plane) % C;
    float v = (LD(x, xo + i) - LD(pm, mo_ + c)) / sqrt(LD(pv, vo + c) + eps);
    ST(y, yo + i, v * LD(ps, so + c) + LD(pb, bo + c));
}

/* BatchNormalization with training_mode: one work item per channel takes
 * the batch's mean and population variance over N and the plane,
 * normalises with them, and writes the running statistics (input *
 * momentum + batch * (1 - momentum)) where wanted (want_m, want_v). */
__kernel void f_batchnorm_train(__global const T *x, int xo, __global const T *ps, int so, __global const T *pb,
                                int bo, __global const T *pm, int mo_, __global const T *pv, int vo, __global T *y,
                                int yo, __global T *rm, int rmo, __global T *rv, int rvo, int want_m, int want_v, int N,
                                int plane, int C, float eps, float mom) {
    int c = get_global_id(0);
    float cnt = (float)N * (float)plane, mean = 0.0f, var = 0.0f;
    for (int b = 0; b < N; ++b)
        for (int k = 0; k < plane; ++k) mean += LD(x, xo + (b * C + c) * plane + k);
    mean = cnt > 0.0f ? mean / cnt : 0.0f;
    for (int b = 0; b < N; ++b)
        for (int k = 0; k < plane; ++k) {
            float d = LD(x, xo + (b * C + c) * plane + k) - mean;
            var += d * d;
        }
    var = cnt > 0.0f ? var / cnt : 0.0f;
    if (want_m) ST(rm, rmo + c, LD(pm, mo_ + c) * mom + mean * (1.0f - mom));
    if (want_v) ST(rv, rvo + c, LD(pv, vo + c) * mom + var * (1.0f - mom));
    float inv = 1.0f / sqrt(var + eps), sc = LD(ps, so + c), sh = LD(pb, bo + c);
    for (int b = 0; b < N; ++b)
        for (int k = 0; k < plane; ++k) {
            int at = (b * C + c) * plane + k;
            ST(y, yo + at, (LD(x, xo + at) - mean) * inv * sc + sh);
        }
}

/* InstanceNormalization with scale and bias each a (buffer, offset). */
__kernel void f_instnorm(__global const T *x, int xo, __global const T *ps, int so, __global const T *pb, int bo,
                          __global T *y, int yo, int plane, int C, float eps) {
    int i = get_global_id(0);
    int c = i % C, base = i * plane;
    float mean = 0.0f, var = 0.0f;
    for (int k = 0; k < plane; ++k) mean += LD(x, xo + base + k);
    mean /= (float)plane;
    for (int k = 0; k < plane; ++k) {
        float d = LD(x, xo + base + k) - mean;
        var += d * d;
    }
    var /= (float)plane;
    float inv = 1.0f / sqrt(var + eps), sc = LD(ps, so + c), sh = LD(pb, bo + c);
    for (int k = 0; k < plane; ++k) ST(y, yo + base + k, (LD(x, xo + base + k) - mean) * inv * sc + sh);
}

/* LRN across channels: y = x / (bias + alpha / size * sum sq)^beta. */
__kernel void f_lrn(__global const T *x, int xo, __global T *y, int yo, int plane, int C, int lo, int hi, float alpha,
                    float beta, float bias, int size) {
    int i = get_global_id(0);
    int c = (i / plane) % C, p = i % plane, nb = i / (plane * C);
    int c0 = max(c - lo, 0), c1 = min(c + hi, C - 1);
    float sq = 0.0f;
    for (int k = c0; k <= c1; ++k) {
        float v = LD(x, xo + (nb * C + k) * plane + p);
        sq += v * v;
    }
    ST(y, yo + i, LD(x, xo + i) / pow(bias + alpha / (float)size * sq, beta));
}

/* MeanVarianceNormalization: one work item per group of the kept dims
 * (meta as f_reduce: r, unused, mask, dims[r]); mean and population
 * variance over the masked dims, then y = (x - mean) / (sqrt(var) + 1e-9). */
__kernel void f_mvn(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    int i = get_global_id(0);
    int r = m[mo], mask = m[mo + 2];
    __global const int *dims = m + mo + 3;
    int base = dims_offset(dims, r, mask, 0, i), count = dims_count(dims, r, mask);
    float mean = 0.0f, var = 0.0f;
    for (int pass = 0; pass < 3; ++pass)
        for (int j = 0; j < count; ++j) {
            int off = base + dims_offset(dims, r, mask, 1, j);
            float v = LD(x, xo + off);
            if (pass == 0) mean += v;
            else if (pass == 1) var += (v - mean) * (v - mean);
            else ST(y, yo + off, (v - mean) / (sqrt(var) + 1e-9f));
            if (j == count - 1) {
                if (pass == 0) mean /= (float)count;
                else if (pass == 1) var /= (float)count;
            }
        }
}

/* LayerNormalization and GroupNormalization: one work group per
 * normalised group of `len` consecutive elements (a row of the trailing
 * axes; a sample's channels of one group), its statistics reduced in local
 * memory (GROUP_SUM, fp32), two passes (the mean, then the squared
 * deviations) as the reference. Element e of group g takes scale and bias
 * k = (g % G) * cg + e / plane: LayerNormalization G 1, cg 0, plane 1
 * (k = e); GroupNormalization per channel (opset 21) G groups of cg
 * channels of `plane` elements; per group (opset 18) cg 1, plane len
 * (k = g % G). stats bit 0: write the mean to mo_ (LayerNormalization's
 * Mean), bit 1: 1 / sqrt(var + eps) to io (InvStdDev). */
__kernel void f_groupnorm(__global const T *x, int xo, __global const T *ps, int so, __global const T *pb, int bo,
                          __global T *y, int yo, __global T *pm, int mo_, __global T *pi, int io, int len, int G,
                          int cg, int plane, int has_bias, int stats, float eps) {
    __local float sh[256];
    int g = get_group_id(0), l = get_local_id(0), L = get_local_size(0);
    int base = g * len;
    float n = (float)max(len, 1), acc = 0.0f;
    for (int e = l; e < len; e += L) acc += LD(x, xo + base + e);
    float mean;
    GROUP_SUM(sh, acc, mean);
    mean /= n;
    acc = 0.0f;
    for (int e = l; e < len; e += L) {
        float d = LD(x, xo + base + e) - mean;
        acc += d * d;
    }
    float var;
    GROUP_SUM(sh, acc, var);
    float inv = 1.0f / sqrt(var / n + eps);
    int k0 = (g % G) * cg;
    for (int e = l; e < len; e += L) {
        int k = k0 + e / plane;
        float v = (LD(x, xo + base + e) - mean) * inv * LD(ps, so + k);
        ST(y, yo + base + e, has_bias ? v + LD(pb, bo + k) : v);
    }
    if (l == 0 && (stats & 1)) ST(pm, mo_ + g, mean);
    if (l == 0 && (stats & 2)) ST(pi, io + g, inv);
}
