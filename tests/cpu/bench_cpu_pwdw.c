/* bench_cpu_pwdw.c - a probe, not a test: a 1x1 expansion conv and the
 * depthwise conv after it on the blocked layout (cpu_blocked.h), run as two
 * kernels (cpu_conv_direct_blk, then cpu_conv_dw_blk through the expanded
 * tensor in memory) and fused (cpu_pw_dw_blk_run), best of R runs each,
 * alternating, on seeded random data; the two results are compared.
 *     bench_cpu_pwdw C H W M K S [threads [reps]]
 * C -> M 1x1 with ReLU6, then the M-channel KxK depthwise conv of stride S
 * padded K/2, ReLU6 (MobileNet v2's expansions: 16 112 112 96 3 2,
 * 24 56 56 144 3 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"
#include "cpu_bench_util.h"
#include "cpu_test_pool.h"

static float rnd(unsigned *s, float scale) {
    *s = *s * 1664525u + 1013904223u;
    return ((float)(*s >> 20) / 4096.0f - 0.5f) * scale;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: bench_cpu_pwdw C H W M K S [threads [reps]]\n");
        return 2;
    }
    cpu_conv2d a, d;
    memset(&a, 0, sizeof a);
    a.C = atoi(argv[1]), a.H = atoi(argv[2]), a.W = atoi(argv[3]), a.M = atoi(argv[4]);
    const int K = atoi(argv[5]), S = atoi(argv[6]);
    const int T = argc > 7 ? atoi(argv[7]) : 1, R = argc > 8 ? atoi(argv[8]) : 50;
    if (a.C < 1 || a.H < 1 || a.W < 1 || a.M < 1 || K < 1 || S < 1 || T < 1 || R < 1) return 2;
    a.OH = a.H, a.OW = a.W, a.KH = a.KW = 1, a.SH = a.SW = 1, a.DH = a.DW = 1, a.group = 1, a.threads = T;
    a.epi.act = ENGINE_ACT_CLIP;
    a.epi.alpha = 0.0f, a.epi.beta = 6.0f;
    d = a;
    d.C = d.M = d.group = a.M;
    d.KH = d.KW = K, d.SH = d.SW = S;
    d.PT = d.PL = d.PB = d.PR = K / 2;
    d.OH = (d.H + 2 * d.PT - K) / S + 1;
    d.OW = (d.W + 2 * d.PL - K) / S + 1;
    if (T > 1 && test_pool_bind(T) != 0) return 1;
    const cpu_isa isa = cpu_isa_select(NULL);
    const int vl = cpu_blk_vl(isa);
    if (!vl || !cpu_pw_dw_blk_applies(&a, &d, isa)) {
        fprintf(stderr, "bench_cpu_pwdw: no blocked layout on this ISA, or the shape does not fuse\n");
        return 77;
    }
    const size_t HW = (size_t)a.H * a.W, OHW = (size_t)d.OH * d.OW;
    const size_t nx = cpu_blk_image_floats(vl, a.C, HW), nt = cpu_blk_image_floats(vl, a.M, HW),
                 ny = cpu_blk_image_floats(vl, d.M, OHW);
    float *x = bench_alloc64(nx * 4), *t = bench_alloc64(nt * 4), *y0 = bench_alloc64(ny * 4), *y1 = bench_alloc64(ny * 4);
    float *wa = bench_alloc64((size_t)a.M * a.C * 4), *ba = bench_alloc64((size_t)a.M * 4);
    float *wd = bench_alloc64((size_t)d.M * K * K * 4), *bd = bench_alloc64((size_t)d.M * 4);
    void *pa = bench_alloc64(cpu_conv_direct_blk.packed_size(&a, isa)), *pd = bench_alloc64(cpu_conv_dw_blk.packed_size(&d, isa));
    void *sa = bench_alloc64(cpu_conv_direct_blk.scratch_size(&a, isa) + 64), *sd = bench_alloc64(cpu_conv_dw_blk.scratch_size(&d, isa) + 64);
    void *sf = bench_alloc64(cpu_pw_dw_blk_scratch_size(&d, isa) + 64);
    if (!x || !t || !y0 || !y1 || !wa || !ba || !wd || !bd || !pa || !pd || !sa || !sd || !sf) return 1;
    unsigned s = 7u;
    memset(x, 0, nx * 4);
    for (int c = 0; c < a.C; ++c)
        for (size_t p = 0; p < HW; ++p) x[((size_t)(c / vl) * HW + p) * vl + (size_t)(c % vl)] = rnd(&s, 4.0f);
    for (size_t i = 0; i < (size_t)a.M * a.C; ++i) wa[i] = rnd(&s, 1.0f);
    for (size_t i = 0; i < (size_t)d.M * K * K; ++i) wd[i] = rnd(&s, 1.0f);
    for (int i = 0; i < a.M; ++i) ba[i] = rnd(&s, 1.0f), bd[i] = rnd(&s, 1.0f);
    cpu_conv_direct_blk.pack(&a, isa, wa, ba, pa);
    cpu_conv_dw_blk.pack(&d, isa, wd, bd, pd);
    double best_a = 1e30, best_d = 1e30, best_f = 1e30;
    for (int r = 0; r < R; ++r) {
        double t0 = bench_now();
        cpu_conv_direct_blk.run(&a, isa, pa, x, NULL, t, sa);
        double t1 = bench_now();
        cpu_conv_dw_blk.run(&d, isa, pd, t, NULL, y0, sd);
        double t2 = bench_now();
        cpu_pw_dw_blk_run(isa, &a, pa, &d, pd, x, NULL, y1, sf);
        double t3 = bench_now();
        if (t1 - t0 < best_a) best_a = t1 - t0;
        if (t2 - t1 < best_d) best_d = t2 - t1;
        if (t3 - t2 < best_f) best_f = t3 - t2;
    }
    double err = 0.0;
    for (size_t i = 0; i < ny; ++i) err = fmax(err, fabs((double)y0[i] - (double)y1[i]));
    printf("C%d %dx%d M%d k%d s%d T%d: 1x1 %.3f + dw %.3f = %.3f ms, fused %.3f ms (max |diff| %.3g)\n", a.C, a.H,
           a.W, a.M, K, S, T, best_a * 1e3, best_d * 1e3, (best_a + best_d) * 1e3, best_f * 1e3, err);
    free(x), free(t), free(y0), free(y1), free(wa), free(ba), free(wd), free(bd);
    free(pa), free(pd), free(sa), free(sd), free(sf);
    return err <= 1e-3 ? 0 : 1;
}
