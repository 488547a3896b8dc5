/* backends/opencl/resize.cl - Resize and Upsample (resize.c), OpenCL C 1.2. */

/* Resize: per-dim tap tables computed on the host (resize.c, in double as
 * the reference does). meta: r, dims_out[r], istride[r], ntaps[r],
 * idx_off[r] (into meta: out_len * ntaps entries), w_off[r] (into the
 * weight buffer). */
__kernel void f_resize(__global const int *m, int mo, __global const T *x, int xo, __global const T *wt,
                       __global T *y, int yo) {
    int i = get_global_id(0);
    int r = m[mo];
    __global const int *dims = m + mo + 1, *ist = dims + r, *nt = ist + r, *io = nt + r, *wo = io + r;
    int o[8], k[8];
    int rem = i;
    for (int d = r - 1; d >= 0; --d) {
        o[d] = rem % dims[d];
        rem /= dims[d];
        k[d] = 0;
    }
    float acc = 0.0f;
    for (;;) {
        float w = 1.0f;
        int off = xo;
        for (int d = 0; d < r; ++d) {
            int e = o[d] * nt[d] + k[d];
            w *= LD(wt, wo[d] + e);
            off += m[io[d] + e] * ist[d];
        }
        if (w != 0.0f) acc += w * LD(x, off);
        int d = r - 1;
        for (; d >= 0; --d) {
            if (++k[d] < nt[d]) break;
            k[d] = 0;
        }
        if (d < 0) break;
    }
    ST(y, yo + i, acc);
}
