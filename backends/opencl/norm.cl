/* backends/opencl/norm.cl - BatchNormalization, InstanceNormalization and
 * LRN (norm.c), OpenCL C 1.2. */

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
