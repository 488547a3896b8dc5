/* backends/opencl/quant.cl - QuantizeLinear and DequantizeLinear
 * (quant.c). The quantized side is stored as long (integer tensors); meta:
 * mode (0 per tensor, 1 per axis, 2 blocked), the axis extent, the
 * elements inside one axis step (inner), the blocks along the axis and the
 * block size, as backends/ref/quant.c reads them. */
static int q_scale_at(__global const int *g, int i) {
    int mode = g[0], ext = g[1], inner = g[2];
    if (mode == 0 || inner == 0 || ext == 0) return 0;
    int a = i / inner % ext;
    if (mode == 1) return a;
    int outer = i / (inner * ext);
    return (outer * g[3] + a / g[4]) * inner + i % inner;
}

/* y = saturate(rint(x / s) + z); a NaN quotient gives z. OpenCL 1.2 lets a
 * float division be 2.5 ulp off; one correction step (the remainder by fma,
 * exact near the quotient) gives the correctly rounded quotient that the
 * reference's ties-to-even rounding sees. */
__kernel void f_quantize(__global const int *m, int mo, __global const T *x, int xo, __global const T *s, int so,
                         __global const long *z, int zo, int has_z, int is_u8, __global long *y, int yo) {
    int i = get_global_id(0);
    int k = q_scale_at(m + mo, i);
    float xv = LD(x, xo + i), sv = LD(s, so + k);
    float q = xv / sv;
    if (isfinite(q) && q != 0.0f) q = fma(fma(-q, sv, xv), 1.0f / sv, q);
    float v = isnan(q) ? 0.0f : rint(q);
    if (has_z) v += (float)LDL(z, zo + k);
    v = fmin(fmax(v, is_u8 ? 0.0f : -128.0f), is_u8 ? 255.0f : 127.0f);
    STL(y, yo + i, (long)v);
}

/* y = (x - z) * s, in float. */
__kernel void f_dequantize(__global const int *m, int mo, __global const long *x, int xo, __global const T *s, int so,
                           __global const long *z, int zo, int has_z, __global T *y, int yo) {
    int i = get_global_id(0);
    int k = q_scale_at(m + mo, i);
    float v = (float)LDL(x, xo + i) - (has_z ? (float)LDL(z, zo + k) : 0.0f);
    ST(y, yo + i, v * LD(s, so + k));
}
