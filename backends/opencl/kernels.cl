/* backends/opencl/kernels.cl - every kernel of the OpenCL backend, OpenCL C 1.2.
 *
 * Embedded into the module at build time (embed.c) after ocl_codes.h, the
 * op codes these kernels switch on (U_*, B_*, R_*, POOL_*, PAD_*, NB_*),
 * which the C side includes too; built once per context (then kept in the
 * program-binary cache). Conventions:
 *   - A tensor argument is a (buffer, element offset) pair: activations live
 *     in one arena buffer, constants in one weight buffer (module.c).
 *   - Shapes and per-node integers come from the meta buffer `m` at `mo`
 *     (written once at compile), so launches need no per-run argument.
 *   - Storage type T is float, or half with -DENGINE_FP16: half is only ever
 *     read and written with vload_half/vstore_half (core OpenCL 1.2, no
 *     cl_khr_fp16 needed); all arithmetic is float (fp32 accumulation).
 *   - One work item per output element unless said otherwise; the global
 *     size is exactly the element count (local size left to the driver). */
#ifdef ENGINE_FP16
#define T half
#define LD(p, i) vload_half((size_t)(i), (p))
#define ST(p, i, v) vstore_half_rte((v), (size_t)(i), (p))
#else
#define T float
#define LD(p, i) ((p)[(i)])
#define ST(p, i, v) ((p)[(i)] = (v))
#endif

static float softplus_f(float x) {
    /* log(1 + e^x) without overflow */
    return log1p(exp(-fabs(x))) + fmax(x, 0.0f);
}

/* The unary ops and the epilogue activations (U_* codes, ocl_codes.h). */
static float act_f(float x, int op, float a, float b) {
    switch (op) {
    case U_RELU: return x > 0.0f ? x : 0.0f;
    case U_LEAKY: return x < 0.0f ? a * x : x;
    case U_CLIP: return x < a ? a : (x > b ? b : x);
    case U_SIGMOID: return 1.0f / (1.0f + exp(-x));
    case U_HSIGMOID: return clamp(a * x + b, 0.0f, 1.0f);
    case U_HSWISH: return x * clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);
    case U_TANH: return tanh(x);
    case U_SOFTPLUS: return softplus_f(x);
    case U_ELU: return x < 0.0f ? a * (exp(x) - 1.0f) : x;
    case U_SELU: return x <= 0.0f ? b * (a * exp(x) - a) : b * x;
    case U_MISH: return x * tanh(softplus_f(x));
    case U_SQRT: return sqrt(x);
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_SILU: return x / (1.0f + exp(-x));
    case U_TOBOOL: return x != 0.0f ? 1.0f : 0.0f;
    default: return x;
    }
}

/* A unary op (U_* code) of the storage type: activations, Sqrt/Exp/Log,
 * Neg/Abs, copies, Cast to bool. */
__kernel void f_unary(__global const T *x, int xo, __global T *y, int yo, int op, float a, float b) {
    int i = get_global_id(0);
    ST(y, yo + i, act_f(LD(x, xo + i), op, a, b));
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

/* Broadcast binary/ternary ops. meta: r, dims[r], sa[r], sb[r], sc[r]
 * (element strides of each input over the output's index, 0 on broadcast);
 * op is a B_* code. */
__kernel void f_broadcast(__global const int *m, int mo, __global const T *pa, int ao, __global const T *pb, int bo,
                          __global const T *pc, int co, __global T *y, int yo, int op) {
    int i = get_global_id(0);
    int r = m[mo];
    int ia = ao, ib = bo, ic = co, rem = i;
    for (int d = r - 1; d >= 0; --d) {
        int n = m[mo + 1 + d];
        int k = rem % n;
        rem /= n;
        ia += k * m[mo + 1 + r + d];
        ib += k * m[mo + 1 + 2 * r + d];
        ic += k * m[mo + 1 + 3 * r + d];
    }
    float a = LD(pa, ia), b = LD(pb, ib), v;
    switch (op) {
    case B_ADD: v = a + b; break;
    case B_SUB: v = a - b; break;
    case B_MUL: v = a * b; break;
    case B_DIV: v = a / b; break;
    case B_POW: v = pow(a, b); break;
    case B_PRELU: v = a < 0.0f ? a * b : a; break;
    case B_EQUAL: v = a == b ? 1.0f : 0.0f; break;
    default: v = a != 0.0f ? b : LD(pc, ic); break; /* Where(cond=a, x=b, y=c) */
    }
    ST(y, yo + i, v);
}

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

/* Gather along an axis with constant indices (already non-negative).
 * meta: axis_len, n_idx, post, idx[n_idx]. */
__kernel void f_gather(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
    int i = get_global_id(0);
    int len = m[mo], nidx = m[mo + 1], post = m[mo + 2];
    int p = i % post, rest = i / post;
    int j = rest % nidx, pre = rest / nidx;
    ST(y, yo + i, LD(x, xo + (pre * len + m[mo + 3 + j]) * post + p));
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

/* MaxPool / AveragePool over 3 spatial dims. meta: NC ID IH IW OD OH OW
 * KD KH KW SD SH SW DD DH DW PBD PBH PBW PED PEH PEW kind (POOL_*)
 * include_pad. */
__kernel void f_pool(__global const int *m, int mo, __global const T *x, int xo, __global T *y, int yo) {
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
                if (avg) acc += v;
                else if (v > acc || (isnan(v) && !isnan(acc)) || !any) acc = v;
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
}

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

/* Batched matrix product with the Gemm extras (portable path beside
 * CLBlast). meta: M N K as_m as_k bs_k bs_n has_c cs_m cs_n act br
 * bdims[br] sa[br] sb[br]. Y is [batch, M, N] contiguous. */
__kernel void f_matmul(__global const int *m, int mo, __global const T *A, int ao, __global const T *B, int bo,
                       __global const T *Cm, int co, __global T *y, int yo, float alpha, float beta, float a1,
                       float b1) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    int M = g[0], N = g[1], K = g[2], br = g[11];
    int n = i % N, t = i / N;
    int mm = t % M;
    t /= M;
    int oa = ao, ob = bo;
    for (int d = br - 1; d >= 0; --d) {
        int k = t % g[12 + d];
        t /= g[12 + d];
        oa += k * g[12 + br + d];
        ob += k * g[12 + 2 * br + d];
    }
    oa += mm * g[3];
    ob += n * g[6];
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc += LD(A, oa + k * g[4]) * LD(B, ob + k * g[5]);
    acc *= alpha;
    if (g[7]) acc += beta * LD(Cm, co + mm * g[8] + n * g[9]);
    ST(y, yo + i, act_f(acc, g[10], a1, b1));
}

/* Resize: per-dim tap tables computed on the host (module.c, in double as
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

/* ---- integer tensors ----
 * int64, int32, int8 and uint8 tensors are stored as long on the device
 * (module.c converts at the seams); `nb` says which width the value has
 * and results are wrapped to it (two's complement, as the reference and
 * numpy do; NB_* codes). Bool stays in the storage
 * type T as 0/1. Errors the reference reports (an integer division by
 * zero, a run-time Gather index out of range) set *flag = step + 1 (the
 * node's position in the partition) and write 0; module.c reads the flag
 * after the run and returns the error. */
static long narrow_l(long v, int nb) {
    switch (nb) {
    case NB_I32: return ((v & 0xffffffffL) ^ 0x80000000L) - 0x80000000L;
    case NB_I8: return ((v & 0xffL) ^ 0x80L) - 0x80L;
    case NB_U8: return v & 0xffL;
    default: return v;
    }
}

/* float -> integer: toward zero, NaN 0, out of range saturated to int64
 * (the reference's to_i64), then wrapped to the width. */
static long f_to_l(float f, int nb) {
    long v;
    if (isnan(f)) v = 0;
    else if (f >= 9.2233720368547758e18f) v = LONG_MAX;
    else if (f <= -9.2233720368547758e18f) v = LONG_MIN;
    else v = (long)f;
    return narrow_l(v, nb);
}

/* Loads and stores of the two storage classes, for the kernel bodies
 * written once below. */
#define LDL(p, i) ((p)[(i)])
#define STL(p, i, v) ((p)[(i)] = (v))

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
    long k = ix[io + j];                                                                                             \
    if (k < 0) k += len;                                                                                             \
    if (k < 0 || k >= len) {                                                                                         \
        *flag = step + 1;                                                                                            \
        STX(y, yo + i, ZERO);                                                                                        \
        return;                                                                                                      \
    }                                                                                                                \
    STX(y, yo + i, LDX(x, xo + (pre * len + (int)k) * post + p));

__kernel void f_gather_rt(__global const int *m, int mo, __global const T *x, int xo, __global const long *ix, int io,
                          __global T *y, int yo, __global int *flag, int step) {
    GATHER_RT_BODY(LD, ST, 0.0f)
}

__kernel void f_gather_rt_l(__global const int *m, int mo, __global const long *x, int xo, __global const long *ix,
                            int io, __global long *y, int yo, __global int *flag, int step) {
    GATHER_RT_BODY(LDL, STL, 0)
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

/* Copies (Identity, Reshape...; op U_COPY), Neg and Abs of long tensors,
 * wrapped to the width (also Cast between integer widths). */
__kernel void f_unary_l(__global const long *x, int xo, __global long *y, int yo, int op, int nb) {
    int i = get_global_id(0);
    long v = x[xo + i];
    /* negation through unsigned: wraps instead of overflowing */
    if (op == U_NEG || (op == U_ABS && v < 0)) v = (long)(0UL - (ulong)v);
    y[yo + i] = narrow_l(v, nb);
}

/* Broadcast index of element i for up to three inputs (meta as f_broadcast). */
#define BCAST_INDEX                                                                                                   \
    int i = get_global_id(0);                                                                                        \
    int r = m[mo];                                                                                                   \
    int ia = ao, ib = bo, ic = co, rem = i;                                                                          \
    for (int d = r - 1; d >= 0; --d) {                                                                               \
        int n = m[mo + 1 + d];                                                                                       \
        int k = rem % n;                                                                                             \
        rem /= n;                                                                                                    \
        ia += k * m[mo + 1 + r + d];                                                                                 \
        ib += k * m[mo + 1 + 2 * r + d];                                                                             \
        ic += k * m[mo + 1 + 3 * r + d];                                                                             \
    }

/* Add/Sub/Mul/Div of long tensors (B_* codes), wrapping; Div truncates
 * toward zero, MIN / -1 gives MIN (the reference's rule), / 0 is an error. */
__kernel void f_arith_l(__global const int *m, int mo, __global const long *pa, int ao, __global const long *pb,
                        int bo, __global long *y, int yo, int op, int nb, __global int *flag, int step) {
    int co = 0;
    BCAST_INDEX
    (void)ic;
    ulong a = (ulong)pa[ia], b = (ulong)pb[ib];
    long v;
    switch (op) {
    case B_ADD: v = (long)(a + b); break;
    case B_SUB: v = (long)(a - b); break;
    case B_MUL: v = (long)(a * b); break;
    default: {
        long sa = (long)a, sb = (long)b;
        long mn = nb == NB_I32 ? (long)INT_MIN : LONG_MIN;
        if (sb == 0) {
            *flag = step + 1;
            v = 0;
        } else if (sb == -1) {
            v = sa == mn ? mn : -sa;
        } else {
            v = sa / sb;
        }
        break;
    }
    }
    y[yo + i] = narrow_l(v, nb);
}

/* Equal of long tensors: a bool (T 0/1) result. */
__kernel void f_equal_l(__global const int *m, int mo, __global const long *pa, int ao, __global const long *pb, int bo,
                        __global T *y, int yo) {
    int co = 0;
    BCAST_INDEX
    (void)ic;
    ST(y, yo + i, pa[ia] == pb[ib] ? 1.0f : 0.0f);
}

/* Where(cond, X, Y) with long X and Y; cond is bool (T 0/1). */
__kernel void f_where_l(__global const int *m, int mo, __global const T *pa, int ao, __global const long *pb, int bo,
                        __global const long *pc, int co, __global long *y, int yo) {
    BCAST_INDEX
    y[yo + i] = LD(pa, ia) != 0.0f ? pb[ib] : pc[ic];
}

/* Pow with a float base and an integer exponent: float result. */
__kernel void f_pow_l(__global const int *m, int mo, __global const T *pa, int ao, __global const long *pb, int bo,
                      __global T *y, int yo) {
    int co = 0;
    BCAST_INDEX
    (void)ic;
    ST(y, yo + i, pow(LD(pa, ia), (float)pb[ib]));
}

/* Cast float or bool (T) -> integer (long, wrapped to nb). */
__kernel void f_cast_tl(__global const T *x, int xo, __global long *y, int yo, int nb) {
    int i = get_global_id(0);
    y[yo + i] = f_to_l(LD(x, xo + i), nb);
}

/* Cast integer (long) -> float, or -> bool when tobool. */
__kernel void f_cast_lt(__global const long *x, int xo, __global T *y, int yo, int tobool) {
    int i = get_global_id(0);
    long v = x[xo + i];
    ST(y, yo + i, tobool ? (v != 0 ? 1.0f : 0.0f) : (float)v);
}

/* A constant fill (Dropout's mask in inference: all true). */
__kernel void f_fill(__global T *y, int yo, float v) {
    int i = get_global_id(0);
    ST(y, yo + i, v);
}

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
