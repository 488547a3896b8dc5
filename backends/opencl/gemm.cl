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
