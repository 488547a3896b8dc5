/* backends/opencl/detect.cl - the detect family (detect.c), OpenCL C 1.2:
 * RoiAlign. NonMaxSuppression runs on the host (its output shape depends
 * on data). */

/* One channel plane of H x W sampled bilinearly at (yy, xx) as ONNX
 * defines it: a point outside [-1, H] x [-1, W] gives nothing, coordinates
 * below 0 clamp to 0 and the last row/column repeats. The four weighted
 * taps go to t (avg sums them, max takes their largest). */
static void roi_taps(__global const T *x, int base, int H, int W, float yy, float xx, float4 *t) {
#pragma OPENCL FP_CONTRACT OFF
    *t = (float4)(0.0f);
    if (yy < -1.0f || yy > (float)H || xx < -1.0f || xx > (float)W || H <= 0 || W <= 0) return;
    yy = fmax(yy, 0.0f);
    xx = fmax(xx, 0.0f);
    int y0 = (int)yy, x0 = (int)xx, y1, x1;
    if (y0 >= H - 1) {
        y0 = y1 = H - 1;
        yy = (float)y0;
    } else {
        y1 = y0 + 1;
    }
    if (x0 >= W - 1) {
        x0 = x1 = W - 1;
        xx = (float)x0;
    } else {
        x1 = x0 + 1;
    }
    float ly = yy - (float)y0, lx = xx - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
    *t = (float4)(hy * hx * LD(x, base + y0 * W + x0), hy * lx * LD(x, base + y0 * W + x1),
                  ly * hx * LD(x, base + y1 * W + x0), ly * lx * LD(x, base + y1 * W + x1));
}

/* RoiAlign (opsets 10 and 16). Computed in float in the order of
 * torchvision's roi_align (the exporter's source), with contraction into
 * fma off (FP_CONTRACT): on the same inputs it gives torch's values to the
 * bit (the reference computes in double, 1e-5 away), so that detections
 * whose scores nearly tie keep torch's order. One item per output element
 * (roi, channel, ph, pw) of X [N, C, H, W]; rois [R, 4] as (x1, y1, x2, y2), batch
 * indices (long) [R]. half_pixel: coordinates shifted by -0.5 (opset 16's
 * default); else output_half_pixel, where a box is at least 1 x 1. sr 0:
 * ceil(box / output) samples per bin. A batch index outside [0, N), a box
 * coordinate that is not finite or more than 4096 samples along a side (a
 * box far larger than any map) set the flag, as the reference fails. */
__kernel void f_roialign(__global const T *x, int xo, __global const T *rois, int ro, __global const long *bi, int bo,
                         __global T *y, int yo, int N, int C, int H, int W, int oh, int ow, int sr, float scale,
                         int half_pixel, int max_mode, __global int *flag, int step) {
#pragma OPENCL FP_CONTRACT OFF
    int i = get_global_id(0);
    int pw = i % ow, ph = (i / ow) % oh, c = (i / (ow * oh)) % C, r = i / (ow * oh * C);
    long b = bi[bo + r];
    float4 box = (float4)(LD(rois, ro + 4 * r), LD(rois, ro + 4 * r + 1), LD(rois, ro + 4 * r + 2),
                          LD(rois, ro + 4 * r + 3));
    float off = half_pixel ? 0.5f : 0.0f;
    float x0 = box.x * scale - off, y0 = box.y * scale - off;
    float rw = box.z * scale - off - x0, rh = box.w * scale - off - y0;
    if (!half_pixel) {
        rw = fmax(rw, 1.0f);
        rh = fmax(rh, 1.0f);
    }
    float bh = rh / (float)oh, bw = rw / (float)ow;
    float fgh = sr > 0 ? (float)sr : ceil(rh / (float)oh), fgw = sr > 0 ? (float)sr : ceil(rw / (float)ow);
    int finite = isfinite(box.x) && isfinite(box.y) && isfinite(box.z) && isfinite(box.w);
    if (b < 0 || b >= N || !finite || !(fgh <= 4096.0f) || !(fgw <= 4096.0f)) {
        *flag = step + 1;
        ST(y, yo + i, 0.0f);
        return;
    }
    int gh = max((int)fgh, 0), gw = max((int)fgw, 0);
    int base = xo + ((int)b * C + c) * H * W;
    float acc = 0.0f, best = -INFINITY;
    for (int iy = 0; iy < gh; ++iy) {
        float yy = y0 + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)gh;
        for (int ix = 0; ix < gw; ++ix) {
            float xx = x0 + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)gw;
            float4 t;
            roi_taps(x, base, H, W, yy, xx, &t);
            if (max_mode) best = fmax(best, fmax(fmax(t.x, t.y), fmax(t.z, t.w)));
            else acc += t.x + t.y + t.z + t.w;
        }
    }
    int count = gh * gw;
    ST(y, yo + i, max_mode ? (count > 0 ? best : 0.0f) : acc / (float)(count > 0 ? count : 1));
}
