/* backends/opencl/conv_tiled.cl - the fast single-group 2-D convolutions
 * (and the pointwise GEMM) of the OpenCL backend.
 *
 * All of them compute Y[n, m, p] = act(sum_k Wp[k, m] * Xcol[n, k, p] +
 * bias[m] + sum[n, m, p]) with k = (c, kh, kw) and p = (oh, ow): an
 * implicit GEMM whose B operand (the im2col of X) is never written. The
 * weights come packed at compile (module's conv emitter): Wp is [K][Mp],
 * Mp = M rounded up to a multiple of 8 with zero rows, so a work item
 * loads its RM output channels of one k with one vector load.
 *
 * Shapes come as kernel arguments (a `conv_geom` is 16 ints in the meta
 * buffer), never as build options: one program serves every layer and
 * every input shape.
 *
 * meta layout (16 ints at mo):
 *   0 C   1 IH  2 IW  3 M   4 OH  5 OW  6 KH  7 KW
 *   8 SH  9 SW 10 PH 11 PW 12 DH 13 DW 14 Mp 15 act
 *  16 WBS 17 WBM: batch n reads the weights at w + (n % WBM) * WBS (the
 *     Winograd GEMMs: 16 weight matrices; convolutions: WBS 0, WBM 1)
 *  18 KS: split-K factor of f_conv_tile (1: none); with KS > 1 the tile
 *     kernel writes raw partial sums [KS][N][M][P] to y and f_splitk_sum
 *     adds them up with the epilogue
 *
 * Kernels:
 *   f_conv_rb_<RM>x<RN>   register-blocked direct: a work item computes
 *                         RM output channels x RN consecutive output
 *                         pixels, reading X and Wp through the caches; no
 *                         local memory and no barrier (what CPU devices
 *                         such as POCL run best; GPUs run it well on big
 *                         L1s). Global size (ceil(P/RN), Mp/RM, N).
 *   f_conv_tile_<TM>x<TN> local-memory tiled implicit GEMM: a work group
 *                         of (TN/4) x (TM/4) items computes a TM x TN tile
 *                         of Y, stepping K by 16 through local memory
 *                         (A and B tiles, 16 x (TM + TN) floats); each item
 *                         holds a 4 x 4 register tile. What GPUs run best.
 *                         Global size (ceil(P/TN)*TN/4, ceil(M/TM)*TM/4, N),
 *                         local (TN/4, TM/4, 1).
 */

/* RM consecutive weights of one k: Wp + k*Mp + m0 (m0 a multiple of RM). */
#ifdef ENGINE_FP16
#define LDW4(p, i) vload_half4(0, (p) + (i))
#define LDW8(p, i) vload_half8(0, (p) + (i))
#else
#define LDW4(p, i) vload4(0, (p) + (i))
#define LDW8(p, i) vload8(0, (p) + (i))
#endif

/* The epilogue shared by every kernel here: bias, residual sum, activation,
 * store; only for m < M and p < P. */
#define CONV_STORE(m, p, v)                                                                                      \
    do {                                                                                                         \
        float v_ = (v);                                                                                          \
        int o_ = (n * M + (m)) * P + (p);                                                                        \
        if (has_bias) v_ += LD(bias, bo + (m));                                                                  \
        if (has_sum) v_ += LD(s, so + o_);                                                                       \
        ST(y, yo + o_, act_f(v_, act, a, b));                                                                    \
    } while (0)

#define CONV_GEOM                                                                                                \
    __global const int *g = m + mo;                                                                              \
    const int C = g[0], IH = g[1], IW = g[2], M = g[3], OH = g[4], OW = g[5], KH = g[6], KW = g[7];            \
    const int SH = g[8], SW = g[9], PH = g[10], PW = g[11], DH = g[12], DW = g[13], Mp = g[14], act = g[15];    \
    const int WBS = g[16], WBM = g[17], KS = g[18];                                                              \
    const int P = OH * OW, K = C * KH * KW;                                                                      \
    (void)K;                                                                                                     \
    (void)KS

/* ---- register-blocked direct ---- */

#define CONV_RB(RM, RN, LDWV, VT)                                                                                \
    __kernel void f_conv_rb_##RM##x##RN(__global const int *m, int mo, __global const T *x, int xo,             \
                                        __global const T *w, int wo, __global const T *bias, int bo,            \
                                        int has_bias, __global const T *s, int so, int has_sum, __global T *y,  \
                                        int yo, float a, float b) {                                             \
        CONV_GEOM;                                                                                               \
        const int p0 = get_global_id(0) * RN, m0 = get_global_id(1) * RM, n = get_global_id(2);                 \
        if (p0 >= P || m0 >= Mp) return;                                                                         \
        VT acc[RN];                                                                                              \
        _Pragma("unroll") for (int j = 0; j < RN; ++j) acc[j] = (VT)(0.0f);                                                        \
        const int plane = IH * IW;                                                                               \
        __global const T *xn = x + xo + n * C * plane;                                                           \
        __global const T *wk = w + wo + (n % WBM) * WBS + m0;                                                                      \
        if (KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0 && p0 + RN <= P) {                   \
            /* pointwise: the RN pixels are RN consecutive elements of each input plane */                      \
            for (int c = 0; c < C; ++c) {                                                                        \
                VT wv = LDWV(wk, c * Mp);                                                                        \
                __global const T *xc = xn + c * plane + p0;                                                      \
                _Pragma("unroll") for (int j = 0; j < RN; ++j) acc[j] = fma((VT)(LD(xc, j)), wv, acc[j]);                          \
            }                                                                                                    \
        } else {                                                                                                 \
            int ihb[RN], iwb[RN];                                                                                \
            _Pragma("unroll") for (int j = 0; j < RN; ++j) {                                                                       \
                int p = min(p0 + j, P - 1);                                                                      \
                int oh = p / OW, ow = p - oh * OW;                                                               \
                ihb[j] = oh * SH - PH;                                                                           \
                iwb[j] = ow * SW - PW;                                                                           \
            }                                                                                                    \
            for (int c = 0; c < C; ++c) {                                                                        \
                __global const T *xc = xn + c * plane;                                                           \
                for (int kh = 0; kh < KH; ++kh) {                                                                \
                    for (int kw = 0; kw < KW; ++kw) {                                                            \
                        VT wv = LDWV(wk, ((c * KH + kh) * KW + kw) * Mp);                                        \
                        _Pragma("unroll") for (int j = 0; j < RN; ++j) {                                                           \
                            int ih = ihb[j] + kh * DH, iw = iwb[j] + kw * DW;                                    \
                            float xv = (ih >= 0 && ih < IH && iw >= 0 && iw < IW) ? LD(xc, ih * IW + iw) : 0.0f; \
                            acc[j] = fma((VT)(xv), wv, acc[j]);                                                  \
                        }                                                                                        \
                    }                                                                                            \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
        _Pragma("unroll") for (int j = 0; j < RN; ++j) {                                                                           \
            if (p0 + j >= P) break;                                                                              \
            float r_[RM];                                                                                        \
            vstore##RM(acc[j], 0, r_);                                                                           \
            _Pragma("unroll") for (int i = 0; i < RM; ++i)                                                                         \
                if (m0 + i < M) CONV_STORE(m0 + i, p0 + j, r_[i]);                                               \
        }                                                                                                        \
    }

CONV_RB(8, 4, LDW8, float8)
CONV_RB(8, 8, LDW8, float8)

/* ---- local-memory tiled implicit GEMM ---- */

/* TM x TN output tile per work group of (TN/4) x (TM/4) items, 4x4 per
 * item (interleaved: item (tx, ty) owns rows ty + i*TM/4 and columns
 * tx + j*TN/4, so neighbouring items read neighbouring local words and
 * store neighbouring pixels), K in steps of 16 through local memory. The
 * A tile (weights) is loaded from Wp rows (contiguous in m); the B tile
 * gathers the implicit im2col: for k = (c, kh, kw) and pixel p the input
 * element, zero outside the image. Dimension 2 is n * KS + the K slice. */
#define CONV_TILE(TM, TN)                                                                                        \
    __kernel __attribute__((reqd_work_group_size(TN / 4, TM / 4, 1))) void f_conv_tile_##TM##x##TN(              \
        __global const int *m, int mo, __global const T *x, int xo, __global const T *w, int wo,                \
        __global const T *bias, int bo, int has_bias, __global const T *s, int so, int has_sum, __global T *y,  \
        int yo, float a, float b) {                                                                              \
        CONV_GEOM;                                                                                               \
        __local float As[16][TM];                                                                                \
        __local float Bs[16][TN];                                                                                \
        const int tx = get_local_id(0), ty = get_local_id(1);                                                    \
        const int n = get_global_id(2) / KS, ks = get_global_id(2) - n * KS;                                     \
        const int nth = (TN / 4) * (TM / 4), tid = ty * (TN / 4) + tx;                                          \
        const int pt = get_group_id(0) * TN, mt = get_group_id(1) * TM;                                          \
        const int plane = IH * IW, KK = KH * KW;                                                                 \
        const int pw = KK == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0;                                      \
        /* this slice's K range, in whole steps of 16 */                                                         \
        const int kstep = (K + 16 * KS - 1) / (16 * KS) * 16;                                                    \
        const int kb = ks * kstep, ke = min(K, kb + kstep);                                                      \
        __global const T *xn = x + xo + n * C * plane;                                                           \
        __global const T *wn = w + wo + (n % WBM) * WBS;                                                         \
        float acc[4][4];                                                                                         \
        _Pragma("unroll") for (int i = 0; i < 4; ++i)                                                            \
            _Pragma("unroll") for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;                                      \
        for (int k0 = kb; k0 < ke; k0 += 16) {                                                                   \
            for (int e = tid; e < 16 * TM; e += nth) {                                                           \
                int kk = e / TM, mm = e - kk * TM;                                                               \
                int k = k0 + kk, mg = mt + mm;                                                                   \
                As[kk][mm] = (k < ke && mg < Mp) ? LD(wn, k * Mp + mg) : 0.0f;                                   \
            }                                                                                                    \
            for (int e = tid; e < 16 * TN; e += nth) {                                                           \
                int kk = e / TN, pp = e - kk * TN;                                                               \
                int k = k0 + kk, p = pt + pp;                                                                    \
                float v = 0.0f;                                                                                  \
                if (k < ke && p < P) {                                                                           \
                    if (pw) {                                                                                    \
                        v = LD(xn, k * plane + p);                                                               \
                    } else {                                                                                     \
                        int c = k / KK, r = k - c * KK, kh = r / KW, kw = r - kh * KW;                           \
                        int oh = p / OW, ow = p - oh * OW;                                                       \
                        int ih = oh * SH - PH + kh * DH, iw = ow * SW - PW + kw * DW;                            \
                        if (ih >= 0 && ih < IH && iw >= 0 && iw < IW) v = LD(xn, c * plane + ih * IW + iw);      \
                    }                                                                                            \
                }                                                                                                \
                Bs[kk][pp] = v;                                                                                  \
            }                                                                                                    \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                        \
            _Pragma("unroll") for (int kk = 0; kk < 16; ++kk) {                                                  \
                float av[4], bv[4];                                                                              \
                _Pragma("unroll") for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + i * (TM / 4)];                 \
                _Pragma("unroll") for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + j * (TN / 4)];                 \
                _Pragma("unroll") for (int i = 0; i < 4; ++i)                                                    \
                    _Pragma("unroll") for (int j = 0; j < 4; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);      \
            }                                                                                                    \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                        \
        }                                                                                                        \
        const int nimg = (int)get_global_size(2) / KS;                                                           \
        _Pragma("unroll") for (int i = 0; i < 4; ++i) {                                                          \
            int mg = mt + ty + i * (TM / 4);                                                                     \
            if (mg >= M) continue;                                                                               \
            _Pragma("unroll") for (int j = 0; j < 4; ++j) {                                                      \
                int p = pt + tx + j * (TN / 4);                                                                  \
                if (p >= P) continue;                                                                            \
                if (KS > 1)                                                                                      \
                    ST(y, yo + ((ks * nimg + n) * M + mg) * P + p, acc[i][j]);                                   \
                else                                                                                             \
                    CONV_STORE(mg, p, acc[i][j]);                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }

CONV_TILE(64, 64)
CONV_TILE(32, 64)
CONV_TILE(64, 32)
CONV_TILE(32, 32)

/* Split-K: y = act(sum over the KS slices of part + bias + sum), one work
 * item per output element; part is [KS][N*M*P]. Global size N*M*P. */
__kernel void f_splitk_sum(__global const int *m, int mo, __global const T *part, int po, int total,
                           __global const T *bias, int bo, int has_bias, __global const T *s, int so, int has_sum,
                           __global T *y, int yo, float a, float b) {
    __global const int *g = m + mo;
    const int M = g[3], P = g[4] * g[5], act = g[15], KS = g[18];
    const int i = get_global_id(0);
    float v = 0.0f;
    for (int k = 0; k < KS; ++k) v += LD(part, po + k * total + i);
    if (has_bias) v += LD(bias, bo + (i / P) % M);
    if (has_sum) v += LD(s, so + i);
    ST(y, yo + i, act_f(v, act, a, b));
}

/* ---- row-vector direct (CPU devices) ----
 * A work item computes RM output channels x VN consecutive output pixels
 * of one output row as RM vectors of VN lanes: per tap, one vector load of
 * the input row (stride 1, inside the image) or a lane-wise gather, and RM
 * vector FMAs with the weights broadcast. Explicit vectors, because a CPU
 * device (POCL) does not vectorise across work items once a kernel has
 * loops with bounds inside. Global size (ceil(OW/VN), Mp/RM, N*OH). */
#ifdef ENGINE_FP16
#define LDV8(p, i) vload_half8(0, (p) + (i))
#define LDV16(p, i) vload_half16(0, (p) + (i))
#else
#define LDV8(p, i) vload8(0, (p) + (i))
#define LDV16(p, i) vload16(0, (p) + (i))
#endif

#ifdef ENGINE_FP16
#define STV8(v, p, i) vstore_half8_rte((v), 0, (p) + (i))
#define STV16(v, p, i) vstore_half16_rte((v), 0, (p) + (i))
#else
#define STV8(v, p, i) vstore8((v), 0, (p) + (i))
#define STV16(v, p, i) vstore16((v), 0, (p) + (i))
#endif

/* The epilogue on VN consecutive outputs of one channel at once (the
 * vector kernels' whole segments): bias, residual and the activations a
 * CNN fuses as vector operations, the others lane by lane through act_f.
 * Same values as CONV_STORE's (relu/clip/leaky keep NaN where act_f does:
 * x > 0 ? x : 0 gives 0 for NaN, as fmax does). On layers with few input
 * channels (MobileNetV2's 16 -> 96 at 112x112) the scalar epilogue of 64
 * outputs per item cost more than their 16-deep dot products. */
#define ACT_V_FN(VN, VT)                                                                                         \
    static VT act_v##VN(VT x, int op, float a, float b) {                                                         \
        switch (op) {                                                                                            \
        case U_COPY: return x;                                                                                   \
        case U_RELU: return fmax(x, (VT)(0.0f));                                                                 \
        case U_CLIP: return select(select(x, (VT)(b), x > (VT)(b)), (VT)(a), x < (VT)(a));                       \
        case U_LEAKY: return select(x, (VT)(a) * x, x < (VT)(0.0f));                                             \
        case U_HSWISH: return x * clamp(x / 6.0f + 0.5f, 0.0f, 1.0f);                                            \
        case U_HSIGMOID: return clamp((VT)(a) * x + (VT)(b), 0.0f, 1.0f);                                        \
        default: {                                                                                               \
            float t_[VN];                                                                                        \
            vstore##VN(x, 0, t_);                                                                                \
            for (int l = 0; l < VN; ++l) t_[l] = act_f(t_[l], op, a, b);                                         \
            return vload##VN(0, t_);                                                                             \
        }                                                                                                        \
        }                                                                                                        \
    }
ACT_V_FN(8, float8)
ACT_V_FN(16, float16)

#define CONV_VSTORE(VN, VT, LDV, m, p, vacc)                                                                     \
    do {                                                                                                         \
        VT v_ = (vacc);                                                                                          \
        int o_ = (n * M + (m)) * P + (p);                                                                        \
        if (has_bias) v_ += (VT)(LD(bias, bo + (m)));                                                            \
        if (has_sum) v_ += LDV(s, so + o_);                                                                      \
        STV##VN(act_v##VN(v_, act, a, b), y, yo + o_);                                                           \
    } while (0)

/* Every other element from i: lanes 0, 2, ... 2*VN-2 (stride-2 rows). */
#define EVEN8(p, i) (LDV16(p, i).even)
#define EVEN16(p, i) ((float16)(LDV16(p, i).even, LDV16(p, (i) + 16).even))

/* VN input elements of row xr from column iw0 at stride SW, zero outside
 * [0, IW): one vector load where the segment is inside the row (stride 1,
 * and stride 2 through EVEN), else lane by lane. A statement expression is
 * not OpenCL C, so the vector is built by a helper per width. */
#define ROW_LOAD_FN(VN, VT, LDV)                                                                                 \
    static VT row_load##VN(__global const T *xr, int iw0, int SW, int IW) {                                      \
        if (SW == 1 && iw0 >= 0 && iw0 + VN <= IW) return LDV(xr, iw0);                                          \
        if (SW == 2 && iw0 >= 0 && iw0 + 2 * VN <= IW) return EVEN##VN(xr, iw0);                                 \
        float t_[VN];                                                                                            \
        _Pragma("unroll") for (int l = 0; l < VN; ++l) {                                                         \
            int iw = iw0 + l * SW;                                                                               \
            t_[l] = iw >= 0 && iw < IW ? LD(xr, iw) : 0.0f;                                                      \
        }                                                                                                        \
        return vload##VN(0, t_);                                                                                 \
    }
ROW_LOAD_FN(8, float8, LDV8)
ROW_LOAD_FN(16, float16, LDV16)
#define ROW_LOAD(VN, VT, LDV, xr, iw0) row_load##VN((xr), (iw0), SW, IW)

#define CONV_RV(RM, VN, VT, LDV, WT, LDWV)                                                                       \
    __kernel void f_conv_rv_##RM##x##VN(__global const int *m, int mo, __global const T *x, int xo,             \
                                        __global const T *w, int wo, __global const T *bias, int bo,            \
                                        int has_bias, __global const T *s, int so, int has_sum, __global T *y,  \
                                        int yo, float a, float b) {                                             \
        CONV_GEOM;                                                                                               \
        const int ow0 = get_global_id(0) * VN, m0 = get_global_id(1) * RM;                                      \
        const int n = get_global_id(2) / OH, oh = get_global_id(2) - n * OH;                                    \
        if (ow0 >= OW || m0 >= Mp || n >= (int)(get_global_size(2) / OH)) return;                               \
        const int plane = IH * IW, iwb = ow0 * SW - PW, ihb = oh * SH - PH;                                      \
        VT acc[RM];                                                                                              \
        _Pragma("unroll") for (int i = 0; i < RM; ++i) acc[i] = (VT)(0.0f);                                                        \
        __global const T *xn = x + xo + n * C * plane;                                                           \
        __global const T *wk = w + wo + (n % WBM) * WBS + m0;                                                                      \
        for (int c = 0; c < C; ++c) {                                                                            \
            __global const T *xc = xn + c * plane;                                                               \
            for (int kh = 0; kh < KH; ++kh) {                                                                    \
                int ih = ihb + kh * DH;                                                                          \
                if (ih < 0 || ih >= IH) continue;                                                                \
                __global const T *xr = xc + ih * IW;                                                             \
                __global const T *wr = wk + (c * KH + kh) * KW * Mp;                                             \
                for (int kw = 0; kw < KW; ++kw) {                                                                \
                    int iw0 = iwb + kw * DW;                                                                     \
                    VT xv = ROW_LOAD(VN, VT, LDV, xr, iw0);                                                          \
                    float w_[RM];                                                                                \
                    vstore##RM(LDWV(wr, kw * Mp), 0, w_);                                                        \
                    _Pragma("unroll") for (int i = 0; i < RM; ++i) acc[i] = fma((VT)(w_[i]), xv, acc[i]);                          \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
        const int p0 = oh * OW + ow0, nv = min(VN, OW - ow0);                                                   \
        _Pragma("unroll") for (int i = 0; i < RM; ++i) {                                                                           \
            if (m0 + i >= M) break;                                                                              \
            if (nv == VN) {                                                                                      \
                CONV_VSTORE(VN, VT, LDV, m0 + i, p0, acc[i]);                                                    \
                continue;                                                                                        \
            }                                                                                                    \
            float r_[VN];                                                                                        \
            vstore##VN(acc[i], 0, r_);                                                                           \
            for (int l = 0; l < nv; ++l) CONV_STORE(m0 + i, p0 + l, r_[l]);                                      \
        }                                                                                                        \
    }

CONV_RV(8, 16, float16, LDV16, float8, LDW8)
CONV_RV(8, 8, float8, LDV8, float8, LDW8)

/* Pointwise (1x1, stride 1, no pad): the pixels of a plane are contiguous,
 * so VN consecutive pixels of the flattened plane (rows wrap) take one
 * vector load per input channel. Global size (ceil(P/VN), Mp/RM, N). */
#define CONV_PW(RM, VN, VT, LDV, LDWV)                                                                           \
    __kernel void f_conv_pw_##RM##x##VN(__global const int *m, int mo, __global const T *x, int xo,             \
                                        __global const T *w, int wo, __global const T *bias, int bo,            \
                                        int has_bias, __global const T *s, int so, int has_sum, __global T *y,  \
                                        int yo, float a, float b) {                                             \
        CONV_GEOM;                                                                                               \
        const int p0 = get_global_id(0) * VN, m0 = get_global_id(1) * RM, n = get_global_id(2);                 \
        if (p0 >= P || m0 >= Mp) return;                                                                         \
        const int plane = IH * IW;                                                                               \
        VT acc[RM];                                                                                              \
        _Pragma("unroll") for (int i = 0; i < RM; ++i) acc[i] = (VT)(0.0f);                                                        \
        __global const T *xn = x + xo + n * C * plane + p0;                                                      \
        __global const T *wk = w + wo + (n % WBM) * WBS + m0;                                                                      \
        if (p0 + VN <= P) {                                                                                      \
            for (int c = 0; c < C; ++c) {                                                                        \
                VT xv = LDV(xn, c * plane);                                                                      \
                float w_[RM];                                                                                    \
                vstore##RM(LDWV(wk, c * Mp), 0, w_);                                                             \
                _Pragma("unroll") for (int i = 0; i < RM; ++i) acc[i] = fma((VT)(w_[i]), xv, acc[i]);                              \
            }                                                                                                    \
        } else {                                                                                                 \
            for (int c = 0; c < C; ++c) {                                                                        \
                float t_[VN];                                                                                    \
                _Pragma("unroll") for (int l = 0; l < VN; ++l) t_[l] = p0 + l < P ? LD(xn, c * plane + l) : 0.0f;                  \
                VT xv = vload##VN(0, t_);                                                                        \
                float w_[RM];                                                                                    \
                vstore##RM(LDWV(wk, c * Mp), 0, w_);                                                             \
                _Pragma("unroll") for (int i = 0; i < RM; ++i) acc[i] = fma((VT)(w_[i]), xv, acc[i]);                              \
            }                                                                                                    \
        }                                                                                                        \
        const int nv = min(VN, P - p0);                                                                          \
        _Pragma("unroll") for (int i = 0; i < RM; ++i) {                                                                           \
            if (m0 + i >= M) break;                                                                              \
            if (nv == VN) {                                                                                      \
                CONV_VSTORE(VN, VT, LDV, m0 + i, p0, acc[i]);                                                    \
                continue;                                                                                        \
            }                                                                                                    \
            float r_[VN];                                                                                        \
            vstore##VN(acc[i], 0, r_);                                                                           \
            for (int l = 0; l < nv; ++l) CONV_STORE(m0 + i, p0 + l, r_[l]);                                      \
        }                                                                                                        \
    }

CONV_PW(8, 16, float16, LDV16, LDW8)
CONV_PW(8, 8, float8, LDV8, LDW8)

/* ---- explicit im2col for the pointwise kernels (CPU devices) ----
 * col [N][K][P] (K = C*KH*KW, zero where a tap falls in the padding), so
 * that a strided or kxk convolution on a small map runs as f_conv_pw_*
 * over K "channels" with the same packed weights [K][Mp]: the row kernels
 * gather lane by lane on rows shorter than their vectors and at stride 2
 * (ResNet-50's 3x3 s2 512 -> 7x7 ran at 4.7 GFLOP/s on POCL).
 * meta: CONV_GEOM's. Global (P, K, N). */
__kernel void f_im2col_pw(__global const int *m, int mo, __global const T *x, int xo, __global T *col, int co) {
    CONV_GEOM;
    const int p = get_global_id(0), k = get_global_id(1), n = get_global_id(2);
    if (p >= P || k >= K) return;
    const int khw = KH * KW, c = k / khw, r = k - c * khw, kh = r / KW, kw = r - kh * KW;
    const int oh = p / OW, ow = p - oh * OW;
    const int ih = oh * SH - PH + kh * DH, iw = ow * SW - PW + kw * DW;
    const int in = ih >= 0 && ih < IH && iw >= 0 && iw < IW;
    const float v = in ? LD(x, xo + ((n * C + c) * IH + ih) * IW + iw) : 0.0f;
    ST(col, co + (n * K + k) * P + p, v);
}

/* ---- Winograd F(2x2, 3x3) for 3x3 stride 1 dilation 1 ----
 * Y = A^T [ sum_c (G g G^T) .* (B^T d B) ] A per 2x2 output tile: the
 * input transform writes V [N*16][C][TT] (TT = tiles per image), the 16
 * products are one batched GEMM (the pointwise/tile kernels with WBM 16:
 * U [16][C][Mp] packed at compile) into Mo [N*16][M][TT], and the output
 * transform adds bias, residual and activation as the direct kernels do.
 * 2.25x fewer multiplications than the direct convolution. meta: the
 * conv's 16+3 ints. */
#define WINO_TILES                                                                                               \
    const int TH = (OH + 1) / 2, TW = (OW + 1) / 2, TT = TH * TW;                                                \
    (void)TT

/* B^T d B of one 4x4 input tile at (ih0, iw0) of channel plane xc (zero
 * outside the image, and everywhere when !valid), its 16 elements stored at
 * vn + e * xs. */
static void wino_in_tile(__global const T *xc, int IH, int IW, int ih0, int iw0, int valid, __global T *vn, int xs) {
    float d[4][4];
    _Pragma("unroll") for (int i = 0; i < 4; ++i) {
        int ih = ih0 + i;
        _Pragma("unroll") for (int j = 0; j < 4; ++j) {
            int iw = iw0 + j;
            d[i][j] = valid && ih >= 0 && ih < IH && iw >= 0 && iw < IW ? LD(xc, ih * IW + iw) : 0.0f;
        }
    }
    /* B^T d: rows */
    float r[4][4];
    _Pragma("unroll") for (int j = 0; j < 4; ++j) {
        r[0][j] = d[0][j] - d[2][j];
        r[1][j] = d[1][j] + d[2][j];
        r[2][j] = d[2][j] - d[1][j];
        r[3][j] = d[1][j] - d[3][j];
    }
    _Pragma("unroll") for (int i = 0; i < 4; ++i) {
        ST(vn, (i * 4 + 0) * xs, r[i][0] - r[i][2]);
        ST(vn, (i * 4 + 1) * xs, r[i][1] + r[i][2]);
        ST(vn, (i * 4 + 2) * xs, r[i][2] - r[i][1]);
        ST(vn, (i * 4 + 3) * xs, r[i][1] - r[i][3]);
    }
}

__kernel void f_wino_in(__global const int *m, int mo, __global const T *x, int xo, __global T *v, int vo) {
    CONV_GEOM;
    WINO_TILES;
    const int t = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (t >= TT) return;
    const int th = t / TW, tw = t - th * TW;
    wino_in_tile(x + xo + (n * C + c) * IH * IW, IH, IW, th * 2 - PH, tw * 2 - PW, 1,
                 v + vo + (n * 16 * C + c) * TT + t, C * TT);
}

/* The same transform into V blocked by 8 tiles, [N*16][TB][C][8] (TB =
 * ceil(TT/8), zeros past TT), for f_conv_pwb_8x8 (CPU devices). Global
 * (TB*8, C, N). */
__kernel void f_wino_in_b8(__global const int *m, int mo, __global const T *x, int xo, __global T *v, int vo) {
    CONV_GEOM;
    WINO_TILES;
    const int t = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    const int TB = (TT + 7) / 8;
    if (t >= TB * 8) return;
    const int th = t / TW, tw = t - th * TW;
    wino_in_tile(x + xo + (n * C + c) * IH * IW, IH, IW, th * 2 - PH, tw * 2 - PW, t < TT,
                 v + vo + ((n * 16 * TB + t / 8) * C + c) * 8 + (t & 7), TB * C * 8);
}

/* ---- pointwise GEMM on panels (CPU devices: Winograd's 16 GEMMs) ----
 * f_conv_pw_8x8's product with both operands in 8-wide panels, so that a
 * work item streams its K-long operands contiguously instead of one row
 * of X (stride P) and one of W (stride Mp) per step: X [N][TB][C][8]
 * (f_wino_in_b8's V), W [WBM][Mp/8][C][8] (U packed so). Output as
 * f_conv_pw's, [N][M][P]. 1.4x f_conv_pw_8x8 on POCL (AVX2) on 512 x 512
 * x 3136. meta: CONV_GEOM's (IH = OH = 1, IW = OW = P). Global (TB, Mp/8,
 * N). */
__kernel void f_conv_pwb_8x8(__global const int *m, int mo, __global const T *x, int xo, __global const T *w, int wo,
                             __global const T *bias, int bo, int has_bias, __global const T *s, int so, int has_sum,
                             __global T *y, int yo, float a, float b) {
    CONV_GEOM;
    const int p0 = get_global_id(0) * 8, m0 = get_global_id(1) * 8, n = get_global_id(2);
    if (p0 >= P || m0 >= Mp) return;
    const int TB = (P + 7) / 8;
    __global const T *xb = x + xo + (n * TB * C + p0 / 8 * C) * 8;
    __global const T *wb = w + wo + (n % WBM) * WBS + m0 * C;
    float8 acc[8];
    _Pragma("unroll") for (int i = 0; i < 8; ++i) acc[i] = (float8)(0.0f);
    for (int c = 0; c < C; ++c) {
        float8 xv = LDV8(xb, c * 8);
        float w_[8];
        vstore8(LDW8(wb, c * 8), 0, w_);
        _Pragma("unroll") for (int i = 0; i < 8; ++i) acc[i] = fma((float8)(w_[i]), xv, acc[i]);
    }
    const int nv = min(8, P - p0);
    _Pragma("unroll") for (int i = 0; i < 8; ++i) {
        if (m0 + i >= M) break;
        if (nv == 8) {
            CONV_VSTORE(8, float8, LDV8, m0 + i, p0, acc[i]);
            continue;
        }
        float r_[8];
        vstore8(acc[i], 0, r_);
        for (int l = 0; l < nv; ++l) CONV_STORE(m0 + i, p0 + l, r_[l]);
    }
}

__kernel void f_wino_out(__global const int *m, int mo, __global const T *mt, int mto, __global const T *bias, int bo,
                         int has_bias, __global const T *s, int so, int has_sum, __global T *y, int yo, float a,
                         float b) {
    CONV_GEOM;
    WINO_TILES;
    const int t = get_global_id(0), oc = get_global_id(1), n = get_global_id(2);
    if (t >= TT) return;
    const int th = t / TW, tw = t - th * TW;
    __global const T *mn = mt + mto + (n * 16 * M + oc) * TT + t;
    const int xs = M * TT;
    float q[4][4];
    _Pragma("unroll") for (int i = 0; i < 4; ++i)
        _Pragma("unroll") for (int j = 0; j < 4; ++j) q[i][j] = LD(mn, (i * 4 + j) * xs);
    /* A^T q A, A^T = [1 1 1 0; 0 1 -1 -1] */
    float r[2][4];
    _Pragma("unroll") for (int j = 0; j < 4; ++j) {
        r[0][j] = q[0][j] + q[1][j] + q[2][j];
        r[1][j] = q[1][j] - q[2][j] - q[3][j];
    }
    _Pragma("unroll") for (int i = 0; i < 2; ++i) {
        int oh = th * 2 + i;
        if (oh >= OH) break;
        float o0 = r[i][0] + r[i][1] + r[i][2], o1 = r[i][1] - r[i][2] - r[i][3];
        int ow = tw * 2;
        CONV_STORE(oc, oh * OW + ow, o0);
        if (ow + 1 < OW) CONV_STORE(oc, oh * OW + ow + 1, o1);
    }
}

/* ---- depthwise, row vectors ----
 * One input channel per group (C == M == groups): a work item computes VN
 * consecutive output pixels of one row of one channel as a vector, with
 * the KH x KW taps as scalars broadcast over it; stride 1 and 2 rows inside
 * the image take vector loads, the rest a lane-wise gather. Weights as the
 * model holds them ([C][1][KH][KW]), so run-time weights work too. meta:
 * CONV_GEOM's 16 (M = C, Mp unused). Global (ceil(OW/VN), C, N*OH). */
#define DW_RV(VN, VT, LDV)                                                                                       \
    __kernel void f_dwconv_rv_##VN(__global const int *m, int mo, __global const T *x, int xo,                 \
                                   __global const T *w, int wo, __global const T *bias, int bo, int has_bias,  \
                                   __global const T *s, int so, int has_sum, __global T *y, int yo, float a,   \
                                   float b) {                                                                   \
        CONV_GEOM;                                                                                               \
        const int ow0 = get_global_id(0) * VN, c = get_global_id(1);                                            \
        const int n = get_global_id(2) / OH, oh = get_global_id(2) - n * OH;                                    \
        if (ow0 >= OW || c >= C) return;                                                                         \
        const int iwb = ow0 * SW - PW, ihb = oh * SH - PH;                                                       \
        __global const T *xc = x + xo + (n * C + c) * IH * IW;                                                   \
        __global const T *wc = w + wo + c * KH * KW;                                                             \
        VT acc = (VT)(0.0f);                                                                                     \
        for (int kh = 0; kh < KH; ++kh) {                                                                        \
            int ih = ihb + kh * DH;                                                                              \
            if (ih < 0 || ih >= IH) continue;                                                                    \
            __global const T *xr = xc + ih * IW;                                                                 \
            for (int kw = 0; kw < KW; ++kw) {                                                                    \
                int iw0 = iwb + kw * DW;                                                                         \
                VT xv = ROW_LOAD(VN, VT, LDV, xr, iw0);                                                              \
                acc = fma((VT)(LD(wc, kh * KW + kw)), xv, acc);                                                  \
            }                                                                                                    \
        }                                                                                                        \
        const int p0 = oh * OW + ow0, nv = min(VN, OW - ow0);                                                    \
        if (nv == VN) {                                                                                          \
            CONV_VSTORE(VN, VT, LDV, c, p0, acc);                                                                \
            return;                                                                                              \
        }                                                                                                        \
        float r_[VN];                                                                                            \
        vstore##VN(acc, 0, r_);                                                                                  \
        for (int l = 0; l < nv; ++l) CONV_STORE(c, p0 + l, r_[l]);                                               \
    }

DW_RV(8, float8, LDV8)
DW_RV(16, float16, LDV16)
