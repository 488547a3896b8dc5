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

/* MeanVarianceNormalization: one work item per group of the kept dims
 * (meta as f_reduce: r, unused, mask, dims[r]); mean and population
 * variance over the masked dims, then y = (x - mean) / (sqrt(var) + 1e-9). */
__kernel void f_mvn(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    int i = get_global_id(0);
    int r = m[mo], mask = m[mo + 2];
    __global const int *dims = m + mo + 3;
    int base = 0, rem = i, stride = 1, count = 1;
    for (int d = r - 1; d >= 0; --d) {
        if (mask & (1 << d)) {
            count *= dims[d];
        } else {
            base += (rem % dims[d]) * stride;
            rem /= dims[d];
        }
        stride *= dims[d];
    }
    float mean = 0.0f, var = 0.0f;
    for (int pass = 0; pass < 3; ++pass)
        for (int j = 0; j < count; ++j) {
            int off = base, rj = j;
            stride = 1;
            for (int d = r - 1; d >= 0; --d) {
                if (mask & (1 << d)) {
                    off += (rj % dims[d]) * stride;
                    rj /= dims[d];
                }
                stride *= dims[d];
            }
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
