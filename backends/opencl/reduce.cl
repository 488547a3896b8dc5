/* backends/opencl/reduce.cl - the reduce and softmax families (reduce.c),
 * OpenCL C 1.2: ReduceSum/Mean/Max (and the global pools), Softmax and
 * LogSoftmax. */

/* ReduceSum/Mean/Max and the global pools. meta: r, op (R_* code), mask,
 * dims[r]. One work item per output element. */
__kernel void f_reduce(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    int i = get_global_id(0);
    int r = m[mo], op = m[mo + 1], mask = m[mo + 2];
    __global const int *dims = m + mo + 3;
    int base = xo, rem = i, stride = 1, count = 1;
    for (int d = r - 1; d >= 0; --d) {
        if (mask & (1 << d)) {
            count *= dims[d];
        } else {
            base += (rem % dims[d]) * stride;
            rem /= dims[d];
        }
        stride *= dims[d];
    }
    float acc = op == R_MAX ? -INFINITY : 0.0f;
    for (int j = 0; j < count; ++j) {
        int off = 0, rj = j;
        stride = 1;
        for (int d = r - 1; d >= 0; --d) {
            if (mask & (1 << d)) {
                off += (rj % dims[d]) * stride;
                rj /= dims[d];
            }
            stride *= dims[d];
        }
        float v = LD(x, base + off);
        if (op == R_MAX) acc = (v > acc || isnan(v)) ? v : acc;
        else acc += v;
    }
    if (op == R_MEAN) acc = count > 0 ? acc / (float)count : NAN;
    ST(y, yo + i, acc);
}

/* Softmax / LogSoftmax along one axis: one work item per (outer, inner)
 * row of `len` elements at stride `inner`. */
__kernel void f_softmax(__global const T *x, int xo, __global T *y, int yo, int len, int inner, int logsm) {
    int i = get_global_id(0);
    int base = (i / inner) * len * inner + i % inner;
    float mx = -INFINITY;
    for (int k = 0; k < len; ++k) mx = fmax(mx, LD(x, xo + base + k * inner));
    float sum = 0.0f;
    for (int k = 0; k < len; ++k) sum += exp(LD(x, xo + base + k * inner) - mx);
    float ls = log(sum);
    for (int k = 0; k < len; ++k) {
        float d = LD(x, xo + base + k * inner) - mx;
        ST(y, yo + base + k * inner, logsm ? d - ls : exp(d) / sum);
    }
}
