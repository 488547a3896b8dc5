/* backends/opencl/gemm.cl - Gemm and MatMul (gemm.c), OpenCL C 1.2: the
 * portable kernel used where CLBlast is not (fp16, small or broadcast
 * products, ENGINE_OPENCL_CLBLAST=0). */

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

/* Gemm with few rows (M <= 4, a batch of feature vectors) and B transposed
 * as Linear layers export it (B is [N][K], each output's weights one
 * contiguous row): one work item per output column n computes every row's
 * dot product from one pass over that weight row, 16 lanes at a time, so
 * the weights (the bulk of the bytes) stream once. f_matmul's meta (no
 * batch dims). Global size N. */
#ifdef ENGINE_FP16
#define GV_LD16(p, i) vload_half16(0, (p) + (i))
#else
#define GV_LD16(p, i) vload16(0, (p) + (i))
#endif
__kernel void f_gemv_nt(__global const int *m, int mo, __global const T *A, int ao, __global const T *B, int bo,
                        __global const T *Cm, int co, __global T *y, int yo, float alpha, float beta, float a1,
                        float b1) {
    __global const int *g = m + mo;
    const int M = g[0], N = g[1], K = g[2], n = get_global_id(0);
    if (n >= N) return;
    __global const T *w = B + bo + n * K;
    float16 acc[4] = {(float16)(0.0f), (float16)(0.0f), (float16)(0.0f), (float16)(0.0f)};
    float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const int K16 = K / 16 * 16;
    for (int k = 0; k < K16; k += 16) {
        float16 wv = GV_LD16(w, k);
        _Pragma("unroll") for (int r = 0; r < 4; ++r)
            if (r < M) acc[r] = fma(GV_LD16(A, ao + r * K + k), wv, acc[r]);
    }
    for (int k = K16; k < K; ++k) {
        float wv = LD(w, k);
        for (int r = 0; r < M; ++r) tail[r] += LD(A, ao + r * K + k) * wv;
    }
    for (int r = 0; r < M; ++r) {
        float16 v = acc[r];
        float8 s8 = v.lo + v.hi;
        float4 s4 = s8.lo + s8.hi;
        float2 s2 = s4.lo + s4.hi;
        float acc1 = (s2.x + s2.y + tail[r]) * alpha;
        if (g[7]) acc1 += beta * LD(Cm, co + r * g[8] + n * g[9]);
        ST(y, yo + r * N + n, act_f(acc1, g[10], a1, b1));
    }
}

/* Einsum of one or two operands in general form (gemm.c): one work item
 * per output element sums over every assignment of the summed labels.
 * meta: n_inputs, out rank ro, summed labels ns; per output axis its
 * extent[ro], strides in A[ro] and B[ro]; per summed label extent[ns],
 * strides in A[ns] and B[ns]. */
__kernel void f_einsum(__global const int *m, int mo, __global const T *A, int ao, __global const T *B, int bo,
                       __global T *y, int yo) {
    int i = get_global_id(0);
    __global const int *g = m + mo;
    const int ni = g[0], ro = g[1], ns = g[2];
    __global const int *od = g + 3, *oa = od + ro, *ob = oa + ro, *sd = ob + ro, *sa = sd + ns, *sb = sa + ns;
    int pa = ao, pb = bo, t = i, total = 1;
    for (int d = ro - 1; d >= 0; --d) {
        int k = t % od[d];
        t /= od[d];
        pa += k * oa[d];
        pb += k * ob[d];
    }
    for (int s = 0; s < ns; ++s) total *= sd[s];
    float acc = 0.0f;
    for (int j = 0; j < total; ++j) {
        int rem = j, qa = pa, qb = pb;
        for (int s = ns - 1; s >= 0; --s) {
            int k = rem % sd[s];
            rem /= sd[s];
            qa += k * sa[s];
            qb += k * sb[s];
        }
        acc += ni == 2 ? LD(A, qa) * LD(B, qb) : LD(A, qa);
    }
    ST(y, yo + i, acc);
}
