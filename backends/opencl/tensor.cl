/* backends/opencl/tensor.cl - the tensor family (tensor.c), OpenCL C 1.2:
 * data movement in both storage classes (the strided copy behind Transpose,
 * Slice, Concat, Split, Expand, Tile, DepthToSpace, SpaceToDepth; Gather;
 * Pad), Dropout's mask, and the float32 boundary copies of plugin nodes
 * (plugin.c). */

/* Strided copy: the data-movement ops (Transpose, Slice, Concat, Split,
 * Expand, Tile, DepthToSpace, SpaceToDepth, Reshape...). meta: r,
 * count[r], istride[r], ostride[r]; in = xo + sum k_d * is_d, out likewise. */
__kernel void f_copy(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    int i = get_global_id(0);
    int r = m[mo];
    int ii = xo, oi = yo, rem = i;
    for (int d = r - 1; d >= 0; --d) {
        int n = m[mo + 1 + d];
        int k = rem % n;
        rem /= n;
        ii += k * m[mo + 1 + r + d];
        oi += k * m[mo + 1 + 2 * r + d];
    }
    ST(y, oi, LD(x, ii));
}

#define COPY_BODY(LDX, STX)                                                                                           \
    int i = get_global_id(0);                                                                                        \
    int r = m[mo];                                                                                                   \
    int ii = xo, oi = yo, rem = i;                                                                                   \
    for (int d = r - 1; d >= 0; --d) {                                                                               \
        int n = m[mo + 1 + d];                                                                                       \
        int k = rem % n;                                                                                             \
        rem /= n;                                                                                                    \
        ii += k * m[mo + 1 + r + d];                                                                                 \
        oi += k * m[mo + 1 + 2 * r + d];                                                                             \
    }                                                                                                                \
    STX(y, oi, LDX(x, ii));

__kernel void f_copy_l(__global const int *m, int mo, __global const long *x, int xo, __global long *y, int yo) {
    COPY_BODY(LDL, STL)
}

/* Gather along an axis with constant indices (already non-negative).
 * meta: axis_len, n_idx, post, idx[n_idx]. */
__kernel void f_gather(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    int i = get_global_id(0);
    int len = m[mo], nidx = m[mo + 1], post = m[mo + 2];
    int p = i % post, rest = i / post;
    int j = rest % nidx, pre = rest / nidx;
    ST(y, yo + i, LD(x, xo + (pre * len + m[mo + 3 + j]) * post + p));
}

/* Gather along an axis with constant indices (in meta), long data. */
__kernel void f_gather_l(__global const int *m, int mo, __global const long *x, int xo, __global long *y, int yo) {
    int i = get_global_id(0);
    int len = m[mo], nidx = m[mo + 1], post = m[mo + 2];
    int p = i % post, rest = i / post;
    int j = rest % nidx, pre = rest / nidx;
    y[yo + i] = x[xo + (pre * len + m[mo + 3 + j]) * post + p];
}

/* Gather with run-time indices (a long tensor). meta: axis_len, n_idx, post. */
#define GATHER_RT_BODY(LDX, STX, ZERO)                                                                                \
    int i = get_global_id(0);                                                                                        \
    int len = m[mo], nidx = m[mo + 1], post = m[mo + 2];                                                             \
    int p = i % post, rest = i / post;                                                                               \
    int j = rest % nidx, pre = rest / nidx;                                                                          \
    int k = index_in(ix[io + j], len);                                                                               \
    if (k < 0) {                                                                                                     \
        *flag = step + 1;                                                                                            \
        STX(y, yo + i, ZERO);                                                                                        \
        return;                                                                                                      \
    }                                                                                                                \
    STX(y, yo + i, LDX(x, xo + (pre * len + k) * post + p));

__kernel void f_gather_rt(__global const int *m, int mo, __global const T *x, int xo, __global const long *ix, int io,
                          __global T *y, int yo, __global int *flag, int step) {
    GATHER_RT_BODY(LD, ST, 0.0f)
}

__kernel void f_gather_rt_l(__global const int *m, int mo, __global const long *x, int xo, __global const long *ix,
                            int io, __global long *y, int yo, __global int *flag, int step) {
    GATHER_RT_BODY(LDL, STL, 0)
}

/* Pad. meta: r, mode (PAD_*), in[r], out[r], begin[r]. */
__kernel void f_pad(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo, float value) {
    int i = get_global_id(0);
    int r = m[mo], mode = m[mo + 1];
    int rem = i, ii = 0, stride = 1, outside = 0;
    for (int d = r - 1; d >= 0; --d) {
        int n = m[mo + 2 + d], on = m[mo + 2 + r + d];
        int k = rem % on - m[mo + 2 + 2 * r + d];
        rem /= on;
        if (k < 0 || k >= n) {
            if (mode == PAD_CONSTANT) {
                outside = 1;
            } else if (mode == PAD_EDGE) {
                k = k < 0 ? 0 : n - 1;
            } else if (mode == PAD_WRAP) {
                k = k % n;
                if (k < 0) k += n;
            } else if (n == 1) {
                k = 0;
            } else {
                int period = 2 * (n - 1);
                k = k % period;
                if (k < 0) k += period;
                if (k >= n) k = period - k;
            }
        }
        ii += k * stride;
        stride *= n;
    }
    ST(y, yo + i, outside ? value : LD(x, xo + ii));
}

/* Pad of a long tensor; meta as f_pad. */
__kernel void f_pad_l(__global const int *m, int mo, __global const long *x, int xo, __global long *y, int yo,
                      long value) {
    int i = get_global_id(0);
    int r = m[mo], mode = m[mo + 1];
    int rem = i, ii = 0, stride = 1, outside = 0;
    for (int d = r - 1; d >= 0; --d) {
        int n = m[mo + 2 + d], on = m[mo + 2 + r + d];
        int k = rem % on - m[mo + 2 + 2 * r + d];
        rem /= on;
        if (k < 0 || k >= n) {
            if (mode == PAD_CONSTANT) {
                outside = 1;
            } else if (mode == PAD_EDGE) {
                k = k < 0 ? 0 : n - 1;
            } else if (mode == PAD_WRAP) {
                k = k % n;
                if (k < 0) k += n;
            } else if (n == 1) {
                k = 0;
            } else {
                int period = 2 * (n - 1);
                k = k % period;
                if (k < 0) k += period;
                if (k >= n) k = period - k;
            }
        }
        ii += k * stride;
        stride *= n;
    }
    y[yo + i] = outside ? value : x[xo + ii];
}

/* Zeroes a buffer in 16-bit words (module.c: the arena before the trial
 * pass at compile). */
__kernel void f_zero(__global ushort *y) {
    y[get_global_id(0)] = 0;
}

/* A constant fill (Dropout's mask in inference: all true). */
/* Dropout in training_mode: y = x * w (w: 0 where dropped, else the
 * scale, drawn on the host from the seed, in the weight buffer at wo);
 * the mask (bool in T) where wanted. */
__kernel void f_dropout(__global const T *x, int xo, __global const T *wt, int wo, __global T *y, int yo,
                        __global T *mk, int mko, int want_mask) {
    int i = get_global_id(0);
    float w = LD(wt, wo + i);
    ST(y, yo + i, LD(x, xo + i) * w);
    if (want_mask) ST(mk, mko + i, w != 0.0f ? 1.0f : 0.0f);
}

__kernel void f_fill(__global T *y, int yo, float v) {
    int i = get_global_id(0);
    ST(y, yo + i, v);
}

/* Plugin-node boundaries: plugin kernels see float32 buffers of their own
 * (offset 0) whatever the storage type; these copy to and from them. */
__kernel void f_to_f32(__global const T *x, int xo, __global float *y) {
    int i = get_global_id(0);
    y[i] = LD(x, xo + i);
}

__kernel void f_from_f32(__global const float *x, __global T *y, int yo) {
    int i = get_global_id(0);
    ST(y, yo + i, x[i]);
}

/* Trilu over the last two dims (rows, cols): keeps j - i >= k (upper) or
 * j - i <= k, zero elsewhere; f_trilu_l for long tensors. */
__kernel void f_trilu(__global const T *x, int xo, __global T *y, int yo, int rows, int cols, int upper, int k) {
    int e = get_global_id(0);
    int j = e % cols, i = (e / cols) % rows;
    int keep = upper ? j - i >= k : j - i <= k;
    ST(y, yo + e, keep ? LD(x, xo + e) : 0.0f);
}

__kernel void f_trilu_l(__global const long *x, int xo, __global long *y, int yo, int rows, int cols, int upper,
                        int k) {
    int e = get_global_id(0);
    int j = e % cols, i = (e / cols) % rows;
    int keep = upper ? j - i >= k : j - i <= k;
    y[yo + e] = keep ? x[xo + e] : 0;
}
