/* backends/opencl/resize.cl - Resize and Upsample (resize.c), OpenCL C 1.2. */

/* Resize: per-dim tap tables computed on the host (resize.c, in double as
 * the reference does). meta: r, dims_out[r], istride[r], ntaps[r],
 * idx_off[r] (into meta: out_len * ntaps entries), w_off[r] (into the
 * weight buffer). A first tap index of -1 (tf_crop_and_resize outside the
 * input) makes the element `extrap`. */
__kernel void f_resize(__global const int *m, int mo, __global const T *x, int xo, __global const T *wt,
                       __global T *y, int yo, float extrap) {
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
    for (int d = 0; d < r; ++d)
        if (m[io[d] + o[d] * nt[d]] < 0) {
            ST(y, yo + i, extrap);
            return;
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

/* ---- GridSample (resize.c; the rules of backends/ref/resize.c, in float
 * as torch computes them) ----
 * meta: r (2 or 3 spatial dims), C, mode (R* as engine_resize_mode: 0
 * nearest, 1 linear, 2 cubic), padding (0 zeros, 1 border, 2 reflection),
 * align_corners, input extents [r] (D, H, W order), output positions per
 * image. One work item per output element. */
static float gs_unnorm(float g, int size, int align) {
    return align ? (g + 1.0f) / 2.0f * (float)(size - 1) : ((g + 1.0f) * (float)size - 1.0f) / 2.0f;
}

static float gs_reflect(float c, float lo2, float hi2) {
    if (lo2 == hi2) return 0.0f;
    float lo = lo2 / 2.0f, span = (hi2 - lo2) / 2.0f;
    c = fabs(c - lo);
    float extra = fmod(c, span), flips = floor(c / span);
    return fmod(flips, 2.0f) == 0.0f ? extra + lo : span - extra + lo;
}

static float gs_pad(float c, int size, int padding, int align) {
    if (padding == 2)
        c = align ? gs_reflect(c, 0.0f, 2.0f * (float)(size - 1)) : gs_reflect(c, -1.0f, 2.0f * (float)size - 1.0f);
    if (padding >= 1) {
        if (c < 0.0f) c = 0.0f;
        if (c > (float)(size - 1)) c = (float)(size - 1);
    }
    return c;
}

/* not finite or far beyond any extent: outside (a zero) */
static float gs_safe(float c) {
    return isfinite(c) && fabs(c) < 1e9f ? c : -100.0f;
}

static int gs_index(float t, int size) {
    return t >= 0.0f && t < (float)size ? (int)t : -1;
}

__kernel void f_gridsample(__global const int *m, int mo, __global const T *x, int xo, __global const T *grid,
                           int go, __global T *y, int yo) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    const int r = g[0], C = g[1], mode = g[2], padding = g[3], align = g[4], opos = g[5 + r];
    int o = i % opos, t = i / opos, ch = t % C, b = t / C;
    int isz[3], plane = 1;
    for (int d = 0; d < r; ++d) {
        isz[d] = g[5 + d];
        plane *= isz[d];
    }
    int ti[3][4];
    float tw[3][4];
    int nt = 1;
    for (int d = 0; d < r; ++d) {
        float c = gs_unnorm(LD(grid, go + (b * opos + o) * r + r - 1 - d), isz[d], align);
        if (mode == 2) { /* cubic, a = -0.75: the taps padded one by one */
            float cc = gs_safe(c), f = floor(cc), s = cc - f, a = -0.75f;
            float x0 = s + 1.0f, x1 = s, x2 = 1.0f - s, x3 = 2.0f - s;
            tw[d][0] = ((a * x0 - 5.0f * a) * x0 + 8.0f * a) * x0 - 4.0f * a;
            tw[d][1] = ((a + 2.0f) * x1 - (a + 3.0f)) * x1 * x1 + 1.0f;
            tw[d][2] = ((a + 2.0f) * x2 - (a + 3.0f)) * x2 * x2 + 1.0f;
            tw[d][3] = ((a * x3 - 5.0f * a) * x3 + 8.0f * a) * x3 - 4.0f * a;
            for (int k = 0; k < 4; ++k)
                ti[d][k] = gs_index(gs_safe(gs_pad(f - 1.0f + (float)k, isz[d], padding, align)), isz[d]);
            nt = 4;
            continue;
        }
        float cc = gs_safe(gs_pad(c, isz[d], padding, align));
        if (mode == 0) { /* nearest: rint rounds half to even */
            ti[d][0] = gs_index(rint(cc), isz[d]);
            tw[d][0] = 1.0f;
            nt = 1;
        } else {
            float f = floor(cc);
            ti[d][0] = gs_index(f, isz[d]);
            ti[d][1] = gs_index(f + 1.0f, isz[d]);
            tw[d][0] = 1.0f - (cc - f);
            tw[d][1] = cc - f;
            nt = 2;
        }
    }
    const int base = xo + (b * C + ch) * plane;
    float acc = 0.0f;
    int k[3] = {0, 0, 0};
    for (;;) {
        float w = 1.0f;
        int off = 0, inside = 1;
        for (int d = 0; d < r; ++d) {
            w *= tw[d][k[d]];
            inside &= ti[d][k[d]] >= 0;
            off = off * isz[d] + ti[d][k[d]];
        }
        if (inside) acc += w * LD(x, base + off);
        int d = r - 1;
        for (; d >= 0; --d) {
            if (++k[d] < nt) break;
            k[d] = 0;
        }
        if (d < 0) break;
    }
    ST(y, yo + i, acc);
}
