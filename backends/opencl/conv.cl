/* backends/opencl/conv.cl - Conv and ConvTranspose kernels (conv.c), OpenCL C 1.2.
 *
 * The direct kernels (f_conv, f_conv4, f_dwconv, f_convt) share one meta
 * layout and one argument list, so conv.c picks among them without
 * changing the launch; f_im2col and f_epilogue serve the CLBlast paths
 * (pointwise and im2col convolutions). */

/* Direct convolution over 3 spatial dims (fewer: leading dims of size 1),
 * groups (depthwise included), dilation, pads, and the fused epilogue.
 * meta: N C ID IH IW M OD OH OW KD KH KW SD SH SW DD DH DW PD PH PW G act. */
__kernel void f_conv(__global const int *m, int mo, __global const T *x, int xo, __global const T *w, int wo,
                     __global const T *bias, int bo, int has_bias, __global const T *s, int so, int has_sum,
                     __global T *y, int yo, float a, float b) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    int C = g[1], ID = g[2], IH = g[3], IW = g[4], M = g[5], OD = g[6], OH = g[7], OW = g[8];
    int KD = g[9], KH = g[10], KW = g[11], G = g[21], act = g[22];
    int ow = i % OW, t = i / OW;
    int oh = t % OH;
    t /= OH;
    int od = t % OD;
    t /= OD;
    int oc = t % M, n = t / M;
    int cpg = C / G, mpg = M / G, grp = oc / mpg;
    float acc = 0.0f;
    for (int c = 0; c < cpg; ++c) {
        int xc = xo + (n * C + grp * cpg + c) * ID * IH * IW;
        int wc = wo + (oc * cpg + c) * KD * KH * KW;
        for (int kd = 0; kd < KD; ++kd) {
            int id = od * g[12] - g[18] + kd * g[15];
            if (id < 0 || id >= ID) continue;
            for (int kh = 0; kh < KH; ++kh) {
                int ih = oh * g[13] - g[19] + kh * g[16];
                if (ih < 0 || ih >= IH) continue;
                for (int kw = 0; kw < KW; ++kw) {
                    int iw = ow * g[14] - g[20] + kw * g[17];
                    if (iw < 0 || iw >= IW) continue;
                    acc += LD(x, xc + (id * IH + ih) * IW + iw) * LD(w, wc + (kd * KH + kh) * KW + kw);
                }
            }
        }
    }
    if (has_bias) acc += LD(bias, bo + oc);
    if (has_sum) acc += LD(s, so + i);
    ST(y, yo + i, act_f(acc, act, a, b));
}

/* Direct convolution, 4 output channels per work item (the same group;
 * used when M/G is a multiple of 4): each input value loaded once serves
 * four filters, and the window bounds are hoisted out of the loops. Same
 * meta and arguments as f_conv; the global size is N*M/4*OD*OH*OW. */
__kernel void f_conv4(__global const int *m, int mo, __global const T *x, int xo, __global const T *w, int wo,
                      __global const T *bias, int bo, int has_bias, __global const T *s, int so, int has_sum,
                      __global T *y, int yo, float a, float b) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    int C = g[1], ID = g[2], IH = g[3], IW = g[4], M = g[5], OD = g[6], OH = g[7], OW = g[8];
    int KD = g[9], KH = g[10], KW = g[11], G = g[21], act = g[22];
    int ow = i % OW, t = i / OW;
    int oh = t % OH;
    t /= OH;
    int od = t % OD;
    t /= OD;
    int M4 = M / 4;
    int oc = (t % M4) * 4, n = t / M4;
    int cpg = C / G, mpg = M / G, grp = oc / mpg;
    int d0 = od * g[12] - g[18], h0 = oh * g[13] - g[19], w0 = ow * g[14] - g[20];
    int DD = g[15], DH = g[16], DW = g[17];
    /* first and one-past-last kernel taps that land inside the input */
    int kd0 = d0 < 0 ? (-d0 + DD - 1) / DD : 0, kh0 = h0 < 0 ? (-h0 + DH - 1) / DH : 0;
    int kw0 = w0 < 0 ? (-w0 + DW - 1) / DW : 0;
    int kd1 = min(KD, (ID - d0 + DD - 1) / DD), kh1 = min(KH, (IH - h0 + DH - 1) / DH);
    int kw1 = min(KW, (IW - w0 + DW - 1) / DW);
    int ksz = KD * KH * KW, wstep = cpg * ksz;
    float4 acc = (float4)(0.0f);
    for (int c = 0; c < cpg; ++c) {
        int xc = xo + (n * C + grp * cpg + c) * ID * IH * IW;
        int wc = wo + (oc * cpg + c) * ksz;
        for (int kd = kd0; kd < kd1; ++kd)
            for (int kh = kh0; kh < kh1; ++kh) {
                int xr = xc + ((d0 + kd * DD) * IH + h0 + kh * DH) * IW + w0;
                int wr = wc + (kd * KH + kh) * KW;
                for (int kw = kw0; kw < kw1; ++kw) {
                    float v = LD(x, xr + kw * DW);
                    int wk = wr + kw;
                    acc += v * (float4)(LD(w, wk), LD(w, wk + wstep), LD(w, wk + 2 * wstep), LD(w, wk + 3 * wstep));
                }
            }
    }
    int plane = OD * OH * OW, o = ((n * M + oc) * OD + od) * OH * OW + oh * OW + ow;
    float r[4] = {acc.x, acc.y, acc.z, acc.w};
    for (int k = 0; k < 4; ++k) {
        float v = r[k];
        if (has_bias) v += LD(bias, bo + oc + k);
        if (has_sum) v += LD(s, so + o + k * plane);
        ST(y, yo + o + k * plane, act_f(v, act, a, b));
    }
}

/* Depthwise convolution (one input channel per group: C == G), one output
 * per work item, the window bounds hoisted out of the loops so that the
 * inner loop has no test. Same meta and arguments as f_conv. */
__kernel void f_dwconv(__global const int *m, int mo, __global const T *x, int xo, __global const T *w, int wo,
                       __global const T *bias, int bo, int has_bias, __global const T *s, int so, int has_sum,
                       __global T *y, int yo, float a, float b) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    int C = g[1], ID = g[2], IH = g[3], IW = g[4], M = g[5], OD = g[6], OH = g[7], OW = g[8];
    int KD = g[9], KH = g[10], KW = g[11], act = g[22];
    int ow = i % OW, t = i / OW;
    int oh = t % OH;
    t /= OH;
    int od = t % OD;
    t /= OD;
    int oc = t % M, n = t / M;
    int grp = oc / (M / C);
    int d0 = od * g[12] - g[18], h0 = oh * g[13] - g[19], w0 = ow * g[14] - g[20];
    int DD = g[15], DH = g[16], DW = g[17];
    int kd0 = d0 < 0 ? (-d0 + DD - 1) / DD : 0, kh0 = h0 < 0 ? (-h0 + DH - 1) / DH : 0;
    int kw0 = w0 < 0 ? (-w0 + DW - 1) / DW : 0;
    int kd1 = min(KD, (ID - d0 + DD - 1) / DD), kh1 = min(KH, (IH - h0 + DH - 1) / DH);
    int kw1 = min(KW, (IW - w0 + DW - 1) / DW);
    int xc = xo + (n * C + grp) * ID * IH * IW, wc = wo + oc * KD * KH * KW;
    float acc = 0.0f;
    for (int kd = kd0; kd < kd1; ++kd)
        for (int kh = kh0; kh < kh1; ++kh) {
            int xr = xc + ((d0 + kd * DD) * IH + h0 + kh * DH) * IW + w0;
            int wr = wc + (kd * KH + kh) * KW;
            for (int kw = kw0; kw < kw1; ++kw) acc += LD(x, xr + kw * DW) * LD(w, wr + kw);
        }
    if (has_bias) acc += LD(bias, bo + oc);
    if (has_sum) acc += LD(s, so + i);
    ST(y, yo + i, act_f(acc, act, a, b));
}

/* Transposed convolution as a gather: output o takes input i where
 * o = i * stride - pad + k * dilation. W is [C, M/G, k...].
 * meta as f_conv (M is the output channel count). */
__kernel void f_convt(__global const int *m, int mo, __global const T *x, int xo, __global const T *w, int wo,
                      __global const T *bias, int bo, int has_bias, __global const T *s, int so, int has_sum,
                      __global T *y, int yo, float a, float b) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    int C = g[1], ID = g[2], IH = g[3], IW = g[4], M = g[5], OD = g[6], OH = g[7], OW = g[8];
    int KD = g[9], KH = g[10], KW = g[11], SD = g[12], SH = g[13], SW = g[14], G = g[21], act = g[22];
    int ow = i % OW, t = i / OW;
    int oh = t % OH;
    t /= OH;
    int od = t % OD;
    t /= OD;
    int oc = t % M, n = t / M;
    int cpg = C / G, mpg = M / G, grp = oc / mpg, om = oc % mpg;
    float acc = 0.0f;
    for (int c = 0; c < cpg; ++c) {
        int ic = grp * cpg + c;
        int xc = xo + (n * C + ic) * ID * IH * IW;
        int wc = wo + (ic * mpg + om) * KD * KH * KW;
        for (int kd = 0; kd < KD; ++kd) {
            int pd = od + g[18] - kd * g[15];
            if (pd < 0 || pd % SD) continue;
            int id = pd / SD;
            if (id >= ID) continue;
            for (int kh = 0; kh < KH; ++kh) {
                int ph = oh + g[19] - kh * g[16];
                if (ph < 0 || ph % SH) continue;
                int ih = ph / SH;
                if (ih >= IH) continue;
                for (int kw = 0; kw < KW; ++kw) {
                    int pw = ow + g[20] - kw * g[17];
                    if (pw < 0 || pw % SW) continue;
                    int iw = pw / SW;
                    if (iw >= IW) continue;
                    acc += LD(x, xc + (id * IH + ih) * IW + iw) * LD(w, wc + (kd * KH + kh) * KW + kw);
                }
            }
        }
    }
    if (has_bias) acc += LD(bias, bo + oc);
    if (has_sum) acc += LD(s, so + i);
    ST(y, yo + i, act_f(acc, act, a, b));
}

/* im2col for one image of a single-group convolution (the CLBlast path):
 * col[r, p] with r = ((c * KD + kd) * KH + kh) * KW + kw over C*KD*KH*KW
 * rows and p = (od * OH + oh) * OW + ow over the output plane; taps that
 * fall in the padding are 0. Same meta as f_conv; one work item per
 * element of col. */
__kernel void f_im2col(__global const int *m, int mo, __global const T *x, int xo, __global T *col, int co) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    int ID = g[2], IH = g[3], IW = g[4], OD = g[6], OH = g[7], OW = g[8];
    int KD = g[9], KH = g[10], KW = g[11];
    int P = OD * OH * OW;
    int p = i % P, r = i / P;
    int ow = p % OW, oh = (p / OW) % OH, od = p / (OW * OH);
    int kw = r % KW, kh = (r / KW) % KH, kd = (r / (KW * KH)) % KD, c = r / (KW * KH * KD);
    int id = od * g[12] - g[18] + kd * g[15], ih = oh * g[13] - g[19] + kh * g[16], iw = ow * g[14] - g[20] + kw * g[17];
    float v = 0.0f;
    if (id >= 0 && id < ID && ih >= 0 && ih < IH && iw >= 0 && iw < IW) v = LD(x, xo + ((c * ID + id) * IH + ih) * IW + iw);
    ST(col, co + i, v);
}

/* Epilogue after a CLBlast GEMM: y = act(y + bias[channel] + sum). The
 * channel of element i is (i / plane) % C. */
__kernel void f_epilogue(__global T *y, int yo, __global const T *bias, int bo, int has_bias, __global const T *s,
                         int so, int has_sum, int plane, int C, int act, float a, float b) {
    int i = get_global_id(0);
    float v = LD(y, yo + i);
    if (has_bias) v += LD(bias, bo + (i / plane) % C);
    if (has_sum) v += LD(s, so + i);
    ST(y, yo + i, act_f(v, act, a, b));
}
