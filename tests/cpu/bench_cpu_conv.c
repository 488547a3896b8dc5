/* bench_cpu_conv.c - a probe, not a test: single-layer timing of every conv
 * algorithm of cpu_conv_algos[] that applies to a shape, on the selected
 * ISA (ENGINE_CPU_ISA lowers it), with the cost estimate next to the
 * measured time (best of R runs, seeded random data), so A/B changes to a
 * kernel or to the estimates can be judged per layer without the noise of
 * a whole model on this shared machine.
 *     bench_cpu_conv C H W M K S PAD GROUP [threads [reps [flush]]]
 * flush = 1 evicts the caches (writes 64 MB) before each run, as in a
 * model where the weights come from memory (BENCH_FLUSH_MB=N writes N MB
 * instead: more than the last-level cache). BENCH_SUM=1 in the
 * environment adds a residual input (a ResNet block's last conv).
 * The blocked-layout algorithms (cpu_blocked.h) are timed too where they
 * apply, on the input converted to the blocked layout beforehand (the
 * conversion is not timed). BENCH_ALGO=NAME times only the algorithms whose
 * name starts with NAME (for perf record on one of them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_blocked.h"
#include "cpu_internal.h"
#include "cpu_bench_util.h"
#include "cpu_test_pool.h"

int main(int argc, char **argv) {
    if (argc < 9) {
        fprintf(stderr, "usage: bench_cpu_conv C H W M K S PAD GROUP [threads [reps [flush]]]\n");
        return 2;
    }
    cpu_conv2d d;
    memset(&d, 0, sizeof d);
    d.C = atoi(argv[1]), d.H = atoi(argv[2]), d.W = atoi(argv[3]), d.M = atoi(argv[4]);
    d.KH = d.KW = atoi(argv[5]);
    d.SH = d.SW = atoi(argv[6]);
    d.PT = d.PL = d.PB = d.PR = atoi(argv[7]);
    d.group = atoi(argv[8]);
    d.DH = d.DW = 1;
    d.threads = argc > 9 ? atoi(argv[9]) : 1;
    int R = argc > 10 ? atoi(argv[10]) : 20, flush = argc > 11 ? atoi(argv[11]) : 0;
    if (d.C < 1 || d.H < 1 || d.W < 1 || d.M < 1 || d.KH < 1 || d.SH < 1 || d.PT < 0 || d.group < 1 ||
        d.C % d.group || d.M % d.group || d.threads < 1 || R < 1)
        return 2;
    if (d.threads > 1 && test_pool_bind(d.threads) != 0) return 1;
    d.OH = (d.H + 2 * d.PT - d.KH) / d.SH + 1;
    d.OW = (d.W + 2 * d.PL - d.KW) / d.SW + 1;
    d.epi.act = ENGINE_ACT_RELU;
    cpu_isa isa = cpu_isa_select(NULL);
    size_t nx = (size_t)d.C * d.H * d.W, ny = (size_t)d.M * d.OH * d.OW, nw = (size_t)d.M * (d.C / d.group) * d.KH * d.KW;
    float *x = bench_alloc64(nx * 4), *y = bench_alloc64(ny * 4), *w = bench_alloc64(nw * 4), *b = bench_alloc64((size_t)d.M * 4);
    const char *sum_env = getenv("BENCH_SUM");
    const int with_sum = sum_env && atoi(sum_env) != 0;
    d.epi.sum = with_sum;
    float *sm = with_sum ? bench_alloc64(cpu_blk_image_floats(16, d.M, (size_t)d.OH * d.OW) * 4) : NULL;
    if (with_sum && !sm) return 1;
    if (sm) memset(sm, 0, cpu_blk_image_floats(16, d.M, (size_t)d.OH * d.OW) * 4);
    const char *fl_env = getenv("BENCH_FLUSH_MB");
    size_t fl = (size_t)(fl_env && atoi(fl_env) > 0 ? atoi(fl_env) : 64) << 20;
    char *junk = flush ? bench_alloc64(fl) : NULL;
    if (!x || !y || !w || !b || (flush && !junk)) return 1;
    unsigned s = 7u;
    for (size_t i = 0; i < nx; ++i) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 20) / 4096.0f - 0.5f;
    for (size_t i = 0; i < nw; ++i) w[i] = (float)((s = s * 1664525u + 1013904223u) >> 20) / 40960.0f - 0.05f;
    for (int i = 0; i < d.M; ++i) b[i] = 0.01f * (float)(i % 7);
    double macs = (double)ny * (d.C / d.group) * d.KH * d.KW;
    const char *only = getenv("BENCH_ALGO");
    for (int i = 0; cpu_conv_algos[i]; ++i) {
        const cpu_conv_algo *a = cpu_conv_algos[i];
        if (!a->applies(&d, isa) || (only && strncmp(a->name, only, strlen(only)) != 0)) continue;
        void *packed = bench_alloc64(a->packed_size(&d, isa) + 64), *scratch = bench_alloc64(a->scratch_size(&d, isa) + 64);
        if (!packed || !scratch) return 1;
        a->pack(&d, isa, w, b, packed);
        double best = 1e30;
        for (int r = 0; r < R; ++r) {
            if (junk) memset(junk, r, fl);
            double t0 = bench_now();
            a->run(&d, isa, packed, x, sm, y, scratch);
            double dt = bench_now() - t0;
            if (dt < best) best = dt;
        }
        printf("%-24s C%d %dx%d M%d k%d s%d g%d T%d: %.3f ms (estimate %.3f), %.1f GFLOP/s\n", a->name, d.C, d.H, d.W,
               d.M, d.KH, d.SH, d.group, d.threads, best * 1e3, a->estimate_ns(&d, isa) * 1e-6,
               2.0 * macs / best * 1e-9);
        free(packed);
        free(scratch);
    }
    /* the blocked-layout algorithms: x and y in [CB][H][W][VL] */
    const int vl = cpu_blk_vl(isa);
    const cpu_conv_algo *blk[] = {&cpu_conv_direct_blk, &cpu_conv_dw_blk, &cpu_conv_direct_blkout};
    for (size_t i = 0; vl > 0 && i < sizeof blk / sizeof blk[0]; ++i) {
        const cpu_conv_algo *a = blk[i];
        if (!a->applies(&d, isa) || (only && strncmp(a->name, only, strlen(only)) != 0)) continue;
        const size_t HW = (size_t)d.H * d.W;
        float *xb = bench_alloc64(cpu_blk_image_floats(vl, d.C, HW) * 4);
        float *yb = bench_alloc64(cpu_blk_image_floats(vl, d.M, (size_t)d.OH * d.OW) * 4);
        void *packed = bench_alloc64(a->packed_size(&d, isa) + 64), *scratch = bench_alloc64(a->scratch_size(&d, isa) + 64);
        if (!xb || !yb || !packed || !scratch) return 1;
        memset(xb, 0, cpu_blk_image_floats(vl, d.C, HW) * 4);
        for (int c = 0; c < d.C; ++c)
            for (size_t p = 0; p < HW; ++p) xb[((size_t)(c / vl) * HW + p) * vl + (size_t)(c % vl)] = x[(size_t)c * HW + p];
        a->pack(&d, isa, w, b, packed);
        double best = 1e30;
        for (int r = 0; r < R; ++r) {
            if (junk) memset(junk, r, fl);
            double t0 = bench_now();
            a->run(&d, isa, packed, a == &cpu_conv_direct_blkout ? x : xb, sm, yb, scratch); /* blkout reads NCHW */
            double dt = bench_now() - t0;
            if (dt < best) best = dt;
        }
        printf("%-24s C%d %dx%d M%d k%d s%d g%d T%d: %.3f ms (estimate %.3f), %.1f GFLOP/s (blocked)\n", a->name, d.C,
               d.H, d.W, d.M, d.KH, d.SH, d.group, d.threads, best * 1e3, a->estimate_ns(&d, isa) * 1e-6,
               2.0 * macs / best * 1e-9);
        free(xb);
        free(yb);
        free(packed);
        free(scratch);
    }
    free(x);
    free(y);
    free(w);
    free(b);
    free(junk);
    free(sm);
    return 0;
}
