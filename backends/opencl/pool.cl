/* backends/opencl/pool.cl - MaxPool and AveragePool (pool.c), OpenCL C 1.2.
 * The global pools are reductions (reduce.cl's f_reduce). */

/* MaxPool / AveragePool over 3 spatial dims. meta: NC ID IH IW OD OH OW
 * KD KH KW SD SH SW DD DH DW PBD PBH PBW PED PEH PEW kind (POOL_*)
 * include_pad indices. MaxPool's Indices output (indices 1: row major, 2:
 * column major over the spatial dims) goes to ix: the flat index of the
 * first maximum in the whole input. */
__kernel void f_pool(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo,
                     __global long *ix, int io) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    int ID = g[1], IH = g[2], IW = g[3], OD = g[4], OH = g[5], OW = g[6];
    int avg = g[22] == POOL_AVG, incl = g[23];
    int o[3], in[3] = {ID, IH, IW};
    o[2] = i % OW;
    int t = i / OW;
    o[1] = t % OH;
    t /= OH;
    o[0] = t % OD;
    int c = t / OD;
    int padded = 1;
    for (int d = 0; d < 3; ++d) {
        int cnt = 0;
        for (int k = 0; k < g[7 + d]; ++k) {
            int pos = o[d] * g[10 + d] - g[16 + d] + k * g[13 + d];
            cnt += pos >= -g[16 + d] && pos < in[d] + g[19 + d];
        }
        padded *= cnt;
    }
    float acc = avg ? 0.0f : -INFINITY;
    int valid = 0, any = 0;
    int xc = xo + c * ID * IH * IW;
    long best = -1;
    for (int kd = 0; kd < g[7]; ++kd) {
        int id = o[0] * g[10] - g[16] + kd * g[13];
        if (id < 0 || id >= ID) continue;
        for (int kh = 0; kh < g[8]; ++kh) {
            int ih = o[1] * g[11] - g[17] + kh * g[14];
            if (ih < 0 || ih >= IH) continue;
            for (int kw = 0; kw < g[9]; ++kw) {
                int iw = o[2] * g[12] - g[18] + kw * g[15];
                if (iw < 0 || iw >= IW) continue;
                float v = LD(x, xc + (id * IH + ih) * IW + iw);
                if (avg) {
                    acc += v;
                } else if (v > acc || (isnan(v) && !isnan(acc)) || !any) {
                    acc = v;
                    best = g[24] == 2 ? id + (ih + (long)iw * IH) * ID : ((long)id * IH + ih) * IW + iw;
                }
                any = 1;
                ++valid;
            }
        }
    }
    if (avg) {
        int div = incl ? padded : valid;
        acc = div > 0 ? acc / (float)div : NAN;
    }
    ST(y, yo + i, acc);
    if (g[24]) ix[io + i] = best < 0 ? -1 : (long)c * ID * IH * IW + best;
}

/* MaxPool / AveragePool over 2-D maps (f_pool's meta, whose depth entries
 * are 1): one work item per output element on a 3-D range (ow, oh, n*C),
 * so no index is decoded by division, and the window's bounds are clipped
 * once instead of tested per tap. Same results as f_pool: max propagates
 * NaN, average divides by the taps inside the image (or, with
 * count_include_pad, by those inside the padded image). */
__kernel void f_pool2d(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    __global const int *g = m + mo;
    const int IH = g[2], IW = g[3], OH = g[5], OW = g[6];
    const int ow = get_global_id(0), oh = get_global_id(1), c = get_global_id(2);
    if (ow >= OW || oh >= OH) return;
    const int KH = g[8], KW = g[9], SH = g[11], SW = g[12], DH = g[14], DW = g[15], PH = g[17], PW = g[18];
    const int avg = g[22] == POOL_AVG, incl = g[23];
    const int h0 = oh * SH - PH, w0 = ow * SW - PW;
    /* taps inside the image: [kh0, kh1) x [kw0, kw1) */
    const int kh0 = h0 < 0 ? (-h0 + DH - 1) / DH : 0, kw0 = w0 < 0 ? (-w0 + DW - 1) / DW : 0;
    const int kh1 = min(KH, (IH - h0 + DH - 1) / DH), kw1 = min(KW, (IW - w0 + DW - 1) / DW);
    __global const T *xc = x + xo + c * IH * IW;
    float acc = avg ? 0.0f : -INFINITY;
    int any = 0;
    for (int kh = kh0; kh < kh1; ++kh) {
        __global const T *xr = xc + (h0 + kh * DH) * IW + w0;
        for (int kw = kw0; kw < kw1; ++kw) {
            float v = LD(xr, kw * DW);
            if (avg) acc += v;
            else if (v > acc || (isnan(v) && !isnan(acc)) || !any) acc = v;
            any = 1;
        }
    }
    if (avg) {
        int div;
        if (incl) {
            /* taps inside the padded image */
            int ch = 0, cw = 0;
            for (int k = 0; k < KH; ++k) {
                int pos = h0 + k * DH;
                ch += pos >= -PH && pos < IH + g[20];
            }
            for (int k = 0; k < KW; ++k) {
                int pos = w0 + k * DW;
                cw += pos >= -PW && pos < IW + g[21];
            }
            div = ch * cw;
        } else {
            div = max(kh1 - kh0, 0) * max(kw1 - kw0, 0);
        }
        acc = div > 0 ? acc / (float)div : NAN;
    }
    ST(y, yo + c * OH * OW + oh * OW + ow, acc);
}

/* MaxPool / AveragePool over 2-D maps for CPU devices (pool.c picks it
 * there): a work item computes 8 consecutive outputs of one row as a
 * float8, so the device's vector unit does 8 windows at once where
 * f_pool2d runs one scalar, branchy window per work item. A segment whose
 * taps all lie inside the row (stride 1, or 2 through .even) loads each
 * tap as one vector; a segment at the row's ends gathers lane by lane,
 * with -INF (max) or 0 (average) for taps outside the image and a divisor
 * per lane. Results equal f_pool2d's: max propagates NaN, average divides
 * by the taps inside the image (count_include_pad: the padded image).
 * Global (ceil(OW/8), OH, N*C), f_pool's meta. */
#ifdef ENGINE_FP16
#define PLD8(p, i) vload_half8(0, (p) + (i))
#define PLD16(p, i) vload_half16(0, (p) + (i))
#define PST8(v, p) vstore_half8_rte((v), 0, (p))
#else
#define PLD8(p, i) vload8(0, (p) + (i))
#define PLD16(p, i) vload16(0, (p) + (i))
#define PST8(v, p) vstore8((v), 0, (p))
#endif

__kernel void f_pool2d_rv8(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    __global const int *g = m + mo;
    const int IH = g[2], IW = g[3], OH = g[5], OW = g[6];
    const int ow0 = get_global_id(0) * 8, oh = get_global_id(1), c = get_global_id(2);
    if (ow0 >= OW || oh >= OH) return;
    const int KH = g[8], KW = g[9], SH = g[11], SW = g[12], DH = g[14], DW = g[15], PH = g[17], PW = g[18];
    const int avg = g[22] == POOL_AVG, incl = g[23];
    const int h0 = oh * SH - PH, w0 = ow0 * SW - PW;
    const int kh0 = h0 < 0 ? (-h0 + DH - 1) / DH : 0, kh1 = min(KH, (IH - h0 + DH - 1) / DH);
    /* every lane's every tap inside the row, and the vector loads too */
    const int inside = (SW == 1 || SW == 2) && w0 >= 0 && w0 + 8 * SW - 1 + (KW - 1) * DW < IW;
    const float fill = avg ? 0.0f : -INFINITY;
    __global const T *xc = x + xo + c * IH * IW;
    float8 acc = (float8)(fill);
    for (int kh = kh0; kh < kh1; ++kh) {
        __global const T *xr = xc + (h0 + kh * DH) * IW;
        for (int kw = 0; kw < KW; ++kw) {
            const int iw0 = w0 + kw * DW;
            float8 v;
            if (inside) {
                v = SW == 1 ? PLD8(xr, iw0) : PLD16(xr, iw0).even;
            } else {
                /* branch-free: a load clamped into the row, then the
                 * taps outside replaced */
                float t_[8];
                _Pragma("unroll") for (int l = 0; l < 8; ++l) {
                    const int iw = iw0 + l * SW;
                    const float e = LD(xr, min(max(iw, 0), IW - 1));
                    t_[l] = iw >= 0 && iw < IW ? e : fill;
                }
                v = vload8(0, t_);
            }
            if (avg) acc += v;
            else acc = select(acc, v, isgreater(v, acc) | isnan(v));
        }
    }
    if (avg) {
        /* rows counted once; columns per lane */
        int ch = 0;
        if (incl) {
            for (int k = 0; k < KH; ++k) {
                int pos = h0 + k * DH;
                ch += pos >= -PH && pos < IH + g[20];
            }
        } else {
            ch = max(kh1 - kh0, 0);
        }
        float d_[8];
        for (int l = 0; l < 8; ++l) {
            int cw = 0;
            for (int k = 0; k < KW; ++k) {
                int pos = w0 + l * SW + k * DW;
                cw += incl ? pos >= -PW && pos < IW + g[21] : pos >= 0 && pos < IW;
            }
            d_[l] = (float)(ch * cw);
        }
        float8 d = vload8(0, d_);
        acc = select((float8)(NAN), acc / d, isgreater(d, (float8)(0.0f)));
    }
    __global T *yr = y + yo + c * OH * OW + oh * OW;
    if (ow0 + 8 <= OW) {
        PST8(acc, yr + ow0);
    } else {
        float r_[8];
        vstore8(acc, 0, r_);
        for (int l = 0; l < OW - ow0; ++l) ST(yr, ow0 + l, r_[l]);
    }
}
