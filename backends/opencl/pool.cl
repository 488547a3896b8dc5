/* backends/opencl/pool.cl - MaxPool and AveragePool (pool.c), OpenCL C 1.2.
 * The global pools are reductions (reduce.cl's f_reduce). */

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
