/* tests/opencl/bench_conv_tiled.c - checks and times the kernels of
 * backends/opencl/conv_tiled.cl on one layer, outside the engine.
 *
 *   bench_conv_tiled [--fp16] C H W M K S PAD REPS [KERNEL...]
 *
 * Builds the module's embedded kernel program, fills X, W (packed
 * [K][Mp]), bias and a residual with seeded values, runs each named kernel
 * (default: every variant, directly, with split-K and through Winograd
 * where the layer allows; "wino:NAME" and "splitkN:NAME" name those),
 * compares it with a float64 host convolution (atol 1e-4 + rtol 1e-3 in
 * fp32; fp16 storage: 2e-2) and prints the median time of REPS runs and
 * GFLOP/s. BCT_LOCAL=X,Y,Z sets the local size of the kernels that leave
 * it to the driver. Exit 0 when every kernel matched, 1 on a mismatch, 77
 * when no OpenCL device is present. The test suite runs it on small
 * awkward shapes (tests/opencl/test_conv_kernels.sh), also under Oclgrind;
 * tools/gpu-check.sh runs it on layer shapes of the benchmark models. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static uint32_t rng = 12345u;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* The module's kernels (generated from the .cl files at build time). */
extern const char ocl_kernels_source[];

static uint16_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, e = (x >> 23) & 0xff, mant = x & 0x7fffff;
    int ee = (int)e - 127 + 15;
    if (ee <= 0) return (uint16_t)sign;
    if (ee >= 31) return (uint16_t)(sign | 0x7c00);
    uint32_t h = sign | (uint32_t)ee << 10 | mant >> 13;
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
    return (uint16_t)h;
}

int main(int argc, char **argv) {
    int fp16 = 0, a = 1;
    if (a < argc && !strcmp(argv[a], "--fp16")) fp16 = 1, ++a;
    if (a + 8 > argc) {
        fprintf(stderr, "usage: %s [--fp16] C H W M K S PAD REPS [KERNEL...]\n", argv[0]);
        return 2;
    }
    int C = atoi(argv[a]), H = atoi(argv[a + 1]), W = atoi(argv[a + 2]), M = atoi(argv[a + 3]);
    int KS = atoi(argv[a + 4]), S = atoi(argv[a + 5]), PAD = atoi(argv[a + 6]), reps = atoi(argv[a + 7]);
    a += 8;
    int OH = (H + 2 * PAD - KS) / S + 1, OW = (W + 2 * PAD - KS) / S + 1, P = OH * OW;
    int Mp = (M + 7) / 8 * 8, K = C * KS * KS;
    size_t esz = fp16 ? 2 : 4;

    cl_platform_id plat;
    cl_uint np = 0;
    if (clGetPlatformIDs(1, &plat, &np) || !np) {
        printf("no OpenCL platform: skipped\n");
        return 77;
    }
    cl_device_id dev;
    if (clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL)) {
        printf("no OpenCL device: skipped\n");
        return 77;
    }
    char dname[256];
    clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof dname, dname, NULL);
    cl_int e;
    cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &e);
    const char *src = ocl_kernels_source;
    cl_program prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &e);
    double t0 = now_ms();
    e = clBuildProgram(prog, 1, &dev, fp16 ? "-cl-std=CL1.2 -DENGINE_FP16" : "-cl-std=CL1.2", NULL, NULL);
    double tb = now_ms() - t0;
    if (e) {
        static char log[1 << 16];
        clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
        fprintf(stderr, "build failed (%d):\n%s\n", e, log);
        return 1;
    }
    printf("device %s, build %.0f ms; conv C%d %dx%d -> M%d k%d s%d p%d (%dx%d), %.3f GFLOP\n", dname, tb, C, H, W,
           M, KS, S, PAD, OH, OW, 2.0 * M * (double)P * K * 1e-9);

    float *x = malloc(sizeof(float) * C * H * W), *w = malloc(sizeof(float) * M * K);
    float *wp = calloc((size_t)K * Mp, sizeof(float)), *bias = malloc(sizeof(float) * M);
    float *sum = malloc(sizeof(float) * M * P), *y = malloc(sizeof(float) * M * P);
    double *ref = malloc(sizeof(double) * M * P);
    for (int i = 0; i < C * H * W; ++i) x[i] = frand();
    for (int i = 0; i < M * K; ++i) w[i] = frand() / sqrtf((float)K);
    for (int i = 0; i < M; ++i) bias[i] = frand();
    for (int i = 0; i < M * P; ++i) sum[i] = frand();
    for (int mm = 0; mm < M; ++mm)
        for (int k = 0; k < K; ++k) wp[(size_t)k * Mp + mm] = w[(size_t)mm * K + k];
    /* fp16: the reference sees the rounded inputs the device sees */
    void *dx = x, *dw = wp, *db = bias, *ds = sum;
    uint16_t *hx = NULL, *hw = NULL, *hb = NULL, *hs = NULL;
    if (fp16) {
        hx = malloc(2 * (size_t)C * H * W);
        hw = malloc(2 * (size_t)K * Mp);
        hb = malloc(2 * (size_t)M);
        hs = malloc(2 * (size_t)M * P);
        for (int i = 0; i < C * H * W; ++i) hx[i] = to_half(x[i]);
        for (int i = 0; i < K * Mp; ++i) hw[i] = to_half(wp[i]);
        for (int i = 0; i < M; ++i) hb[i] = to_half(bias[i]);
        for (int i = 0; i < M * P; ++i) hs[i] = to_half(sum[i]);
        dx = hx, dw = hw, db = hb, ds = hs;
    }
    for (int mm = 0; mm < M; ++mm)
        for (int oh = 0; oh < OH; ++oh)
            for (int ow = 0; ow < OW; ++ow) {
                double acc = bias[mm] + sum[(mm * OH + oh) * OW + ow];
                for (int c = 0; c < C; ++c)
                    for (int kh = 0; kh < KS; ++kh)
                        for (int kw = 0; kw < KS; ++kw) {
                            int ih = oh * S - PAD + kh, iw = ow * S - PAD + kw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            acc += (double)x[(c * H + ih) * W + iw] * w[((mm * C + c) * KS + kh) * KS + kw];
                        }
                ref[(mm * OH + oh) * OW + ow] = acc > 0 ? acc : 0; /* relu */
            }
    /* meta: the conv at 0 (19 ints), the Winograd GEMM at 32 */
    int TT = ((OH + 1) / 2) * ((OW + 1) / 2);
    int meta[64] = {C, H, W, M, OH, OW, KS, KS, S, S, PAD, PAD, 1, 1, Mp, 1 /* U_RELU */, 0, 1, 1};
    int wmeta[19] = {C, 1, TT, M, 1, TT, 1, 1, 1, 1, 0, 0, 1, 1, Mp, 0, C * Mp, 16, 1};
    memcpy(meta + 32, wmeta, sizeof wmeta);
    cl_mem bm = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof meta, meta, &e);
    cl_mem bx = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, esz * C * H * W, dx, &e);
    cl_mem bw = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, esz * K * Mp, dw, &e);
    cl_mem bb = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, esz * M, db, &e);
    cl_mem bs = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, esz * M * P, ds, &e);
    cl_mem by = clCreateBuffer(ctx, CL_MEM_READ_WRITE, esz * M * P, NULL, &e);
    /* Winograd: U = G g G^T packed [16][C][Mp]; scratch V, Mo; split-K partials */
    cl_mem bu = NULL, bv = NULL, bmo = NULL;
    if (KS == 3 && S == 1 && !fp16) {
        float *u = calloc((size_t)16 * C * Mp, sizeof(float));
        static const float G[4][3] = {{1, 0, 0}, {.5f, .5f, .5f}, {.5f, -.5f, .5f}, {0, 0, 1}};
        for (int mm = 0; mm < M; ++mm)
            for (int c = 0; c < C; ++c) {
                const float *g = &w[(size_t)(mm * C + c) * 9];
                float t[4][3];
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 3; ++j) t[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
                for (int i = 0; i < 4; ++i)
                    for (int j = 0; j < 4; ++j)
                        u[((size_t)(i * 4 + j) * C + c) * Mp + mm] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
            }
        bu = clCreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, 4 * (size_t)16 * C * Mp, u, &e);
        bv = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 4 * (size_t)16 * C * TT, NULL, &e);
        bmo = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 4 * (size_t)16 * M * TT, NULL, &e);
        free(u);
    }
    cl_mem bpart = clCreateBuffer(ctx, CL_MEM_READ_WRITE, esz * M * P * 8, NULL, &e);

    /* default: every variant of the module's table that this layer allows */
    static const char *const variants[] = {"f_conv_pw_8x16",    "f_conv_pw_8x8",     "f_conv_rv_8x16",
                                           "f_conv_rv_8x8",     "f_conv_rb_8x4",     "f_conv_rb_8x8",
                                           "f_conv_tile_64x64", "f_conv_tile_32x64", "f_conv_tile_64x32",
                                           "f_conv_tile_32x32"};
    static char all[64][48];
    const char *allp[64];
    int na = 0, pointwise = KS == 1 && S == 1 && PAD == 0;
    for (size_t v = 0; v < sizeof variants / sizeof *variants; ++v) {
        const char *vn = variants[v];
        int pw = strstr(vn, "_pw_") != NULL, rv = strstr(vn, "_rv_") != NULL, tile = strstr(vn, "_tile_") != NULL;
        if (!pw || pointwise) snprintf(all[na++], sizeof all[0], "%s", vn);
        if (tile) {
            snprintf(all[na++], sizeof all[0], "splitk2:%s", vn);
            snprintf(all[na++], sizeof all[0], "splitk5:%s", vn);
        }
        if (!rv && KS == 3 && S == 1 && !fp16) snprintf(all[na++], sizeof all[0], "wino:%s", vn);
    }
    for (int i = 0; i < na; ++i) allp[i] = all[i];
    const char *const *names = a < argc ? (const char *const *)&argv[a] : allp;
    int nk = a < argc ? argc - a : na, bad = 0;
    for (int ki = 0; ki < nk; ++ki) {
        const char *kn = names[ki];
        int wino = 0, splitk = 1;
        const char *full = kn;
        if (!strncmp(kn, "wino:", 5)) {
            if (!bu) continue;
            wino = 1;
            kn += 5;
        } else if (sscanf(kn, "splitk%d:", &splitk) == 1) {
            kn = strchr(kn, ':') + 1;
        }
        cl_kernel kern = clCreateKernel(prog, kn, &e);
        if (e) {
            printf("%-20s no such kernel (%d)\n", kn, e);
            bad = 1;
            continue;
        }
        int zero = 0, mo = wino ? 32 : 0;
        cl_kernel kin = NULL, kout = NULL;
        if (splitk > 1) meta[18] = splitk;
        else meta[18] = 1;
        clEnqueueWriteBuffer(q, bm, CL_TRUE, 0, sizeof meta, meta, 0, NULL, NULL);
        float fa = 0, fb = 0;
        int ai = 0;
        clSetKernelArg(kern, ai++, sizeof(cl_mem), &bm);
        clSetKernelArg(kern, ai++, sizeof(int), &mo);
        clSetKernelArg(kern, ai++, sizeof(cl_mem), wino ? &bv : &bx);
        clSetKernelArg(kern, ai++, sizeof(int), &zero);
        clSetKernelArg(kern, ai++, sizeof(cl_mem), wino ? &bu : &bw);
        clSetKernelArg(kern, ai++, sizeof(int), &zero);
        clSetKernelArg(kern, ai++, sizeof(cl_mem), &bb);
        clSetKernelArg(kern, ai++, sizeof(int), &zero);
        int hb = !wino && splitk == 1;
        clSetKernelArg(kern, ai++, sizeof(int), &hb);
        clSetKernelArg(kern, ai++, sizeof(cl_mem), &bs);
        clSetKernelArg(kern, ai++, sizeof(int), &zero);
        clSetKernelArg(kern, ai++, sizeof(int), &hb);
        clSetKernelArg(kern, ai++, sizeof(cl_mem), wino ? &bmo : splitk > 1 ? &bpart : &by);
        clSetKernelArg(kern, ai++, sizeof(int), &zero);
        clSetKernelArg(kern, ai++, sizeof(float), &fa);
        clSetKernelArg(kern, ai++, sizeof(float), &fb);
        if (wino) {
            int z = 0, o = 1;
            float f0 = 0;
            kin = clCreateKernel(prog, "f_wino_in", &e);
            kout = clCreateKernel(prog, "f_wino_out", &e);
            clSetKernelArg(kin, 0, sizeof(cl_mem), &bm);
            clSetKernelArg(kin, 1, sizeof(int), &z);
            clSetKernelArg(kin, 2, sizeof(cl_mem), &bx);
            clSetKernelArg(kin, 3, sizeof(int), &z);
            clSetKernelArg(kin, 4, sizeof(cl_mem), &bv);
            clSetKernelArg(kin, 5, sizeof(int), &z);
            cl_mem args[] = {bm, bmo, bb, bs, by};
            clSetKernelArg(kout, 0, sizeof(cl_mem), &args[0]);
            clSetKernelArg(kout, 1, sizeof(int), &z);
            clSetKernelArg(kout, 2, sizeof(cl_mem), &args[1]);
            clSetKernelArg(kout, 3, sizeof(int), &z);
            clSetKernelArg(kout, 4, sizeof(cl_mem), &args[2]);
            clSetKernelArg(kout, 5, sizeof(int), &z);
            clSetKernelArg(kout, 6, sizeof(int), &o);
            clSetKernelArg(kout, 7, sizeof(cl_mem), &args[3]);
            clSetKernelArg(kout, 8, sizeof(int), &z);
            clSetKernelArg(kout, 9, sizeof(int), &o);
            clSetKernelArg(kout, 10, sizeof(cl_mem), &args[4]);
            clSetKernelArg(kout, 11, sizeof(int), &z);
            clSetKernelArg(kout, 12, sizeof(float), &f0);
            clSetKernelArg(kout, 13, sizeof(float), &f0);
        }
        cl_kernel ksum = NULL;
        if (splitk > 1) {
            int z = 0, o = 1, total = M * P;
            float f0 = 0;
            ksum = clCreateKernel(prog, "f_splitk_sum", &e);
            cl_mem args[] = {bm, bpart, bb, bs, by};
            int ai2 = 0;
            clSetKernelArg(ksum, ai2++, sizeof(cl_mem), &args[0]);
            clSetKernelArg(ksum, ai2++, sizeof(int), &z);
            clSetKernelArg(ksum, ai2++, sizeof(cl_mem), &args[1]);
            clSetKernelArg(ksum, ai2++, sizeof(int), &z);
            clSetKernelArg(ksum, ai2++, sizeof(int), &total);
            clSetKernelArg(ksum, ai2++, sizeof(cl_mem), &args[2]);
            clSetKernelArg(ksum, ai2++, sizeof(int), &z);
            clSetKernelArg(ksum, ai2++, sizeof(int), &o);
            clSetKernelArg(ksum, ai2++, sizeof(cl_mem), &args[3]);
            clSetKernelArg(ksum, ai2++, sizeof(int), &z);
            clSetKernelArg(ksum, ai2++, sizeof(int), &o);
            clSetKernelArg(ksum, ai2++, sizeof(cl_mem), &args[4]);
            clSetKernelArg(ksum, ai2++, sizeof(int), &z);
            clSetKernelArg(ksum, ai2++, sizeof(float), &f0);
            clSetKernelArg(ksum, ai2++, sizeof(float), &f0);
        }
        /* the GEMM's geometry: Winograd multiplies [C x TT] by 16 batches */
        int gP = wino ? TT : P, gOW = wino ? TT : OW, gOH = wino ? 1 : OH, gN = wino ? 16 : splitk;
        size_t gs[3], ls[3], *lp = NULL;
        int rm, rn, tm, tn;
        if (sscanf(kn, "f_conv_rb_%dx%d", &rm, &rn) == 2) {
            gs[0] = (size_t)((gP + rn - 1) / rn);
            gs[1] = (size_t)(Mp / rm);
            gs[2] = (size_t)gN;
        } else if (sscanf(kn, "f_conv_tile_%dx%d", &tm, &tn) == 2) {
            gs[0] = (size_t)((gP + tn - 1) / tn * (tn / 4));
            gs[1] = (size_t)((M + tm - 1) / tm * (tm / 4));
            gs[2] = (size_t)gN;
            ls[0] = (size_t)tn / 4;
            ls[1] = (size_t)tm / 4;
            ls[2] = 1;
            lp = ls;
        } else if (sscanf(kn, "f_conv_rv_%dx%d", &rm, &rn) == 2) {
            gs[0] = (size_t)((gOW + rn - 1) / rn);
            gs[1] = (size_t)(Mp / rm);
            gs[2] = (size_t)(gOH * gN);
        } else if (sscanf(kn, "f_conv_pw_%dx%d", &rm, &rn) == 2) {
            gs[0] = (size_t)((gP + rn - 1) / rn);
            gs[1] = (size_t)(Mp / rm);
            gs[2] = (size_t)gN;
        } else {
            printf("%-20s unknown geometry\n", kn);
            continue;
        }
        const char *lenv = getenv("BCT_LOCAL"); /* "X,Y,Z": a local size for the kernels that leave it free */
        if (!lp && lenv && sscanf(lenv, "%zu,%zu,%zu", &ls[0], &ls[1], &ls[2]) == 3) {
            for (int d = 0; d < 3; ++d) gs[d] = (gs[d] + ls[d] - 1) / ls[d] * ls[d];
            lp = ls;
        }
        double times[256];
        int nt = reps < 1 ? 1 : reps > 256 ? 256 : reps;
        for (int r = -1; r < nt; ++r) {
            double t = now_ms();
            if (kin) {
                size_t g3[3] = {(size_t)TT, (size_t)C, 1};
                e = clEnqueueNDRangeKernel(q, kin, 3, NULL, g3, NULL, 0, NULL, NULL);
            }
            if (!e) e = clEnqueueNDRangeKernel(q, kern, 3, NULL, gs, lp, 0, NULL, NULL);
            if (!e && kout) {
                size_t g3[3] = {(size_t)TT, (size_t)M, 1};
                e = clEnqueueNDRangeKernel(q, kout, 3, NULL, g3, NULL, 0, NULL, NULL);
            }
            if (!e && ksum) {
                size_t g1 = (size_t)M * P;
                e = clEnqueueNDRangeKernel(q, ksum, 1, NULL, &g1, NULL, 0, NULL, NULL);
            }
            clFinish(q);
            if (r >= 0) times[r] = now_ms() - t;
            if (e) break;
        }
        if (e) {
            printf("%-20s launch failed (%d)\n", kn, e);
            bad = 1;
            clReleaseKernel(kern);
            continue;
        }
        for (int i = 1; i < nt; ++i)
            for (int j = i; j > 0 && times[j] < times[j - 1]; --j) {
                double t = times[j];
                times[j] = times[j - 1];
                times[j - 1] = t;
            }
        double med = times[nt / 2];
        if (fp16) {
            uint16_t *h = malloc(2 * (size_t)M * P);
            clEnqueueReadBuffer(q, by, CL_TRUE, 0, 2 * (size_t)M * P, h, 0, NULL, NULL);
            for (int i = 0; i < M * P; ++i) {
                uint32_t hv = h[i], sgn = (hv & 0x8000) << 16, ex = (hv >> 10) & 31, mn = hv & 1023, f;
                if (ex == 0) f = sgn;
                else f = sgn | (ex - 15 + 127) << 23 | mn << 13;
                memcpy(&y[i], &f, 4);
            }
            free(h);
        } else {
            clEnqueueReadBuffer(q, by, CL_TRUE, 0, sizeof(float) * M * P, y, 0, NULL, NULL);
        }
        double maxerr = 0;
        int ok = 1;
        double at = fp16 ? 2e-2 : 1e-4, rt = fp16 ? 2e-2 : 1e-3;
        for (int i = 0; i < M * P; ++i) {
            double d = fabs(y[i] - ref[i]);
            if (d > maxerr) maxerr = d;
            if (!(d <= at + rt * fabs(ref[i]))) ok = 0;
        }
        if (kin) clReleaseKernel(kin);
        if (kout) clReleaseKernel(kout);
        if (ksum) clReleaseKernel(ksum);
        kn = full;
        printf("%-20s %8.3f ms %7.1f GFLOP/s  max|err| %.2e %s\n", kn, med, 2.0 * M * (double)P * K / (med * 1e6),
               maxerr, ok ? "ok" : "MISMATCH");
        bad |= !ok;
        clReleaseKernel(kern);
    }
    return bad;
}
