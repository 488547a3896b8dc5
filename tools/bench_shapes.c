/* bench-shapes: what run-time shapes cost (docs/PERFORMANCE.md, "Shapes at
 * run time"). Built in tools/, driven by tools/bench_shapes.py.
 *
 *   bench-shapes DYNAMIC.onnx STATIC.onnx BACKEND THREADS N C H W
 *
 * DYNAMIC has symbolic batch/height/width; STATIC is the same network
 * exported at [N,C,H,W]. Prints one JSON object:
 *  - steady: alternating rounds of 15 runs, the dynamic model at [N,C,H,W]
 *    (its signature cached) and the static one; medians per round;
 *  - first: for 8 new shapes near H x W, the first run at the shape
 *    (specialisation: inference, passes, placement, compile with the
 *    session's shared packed weights) against the median of the 5 runs
 *    after it, and the OpenCL programs built meanwhile;
 *  - memory: 1,000 runs cycling 20 shapes (H-8..H+11 x W) with the default
 *    cache (8 signatures: every run a miss and an eviction), the process's
 *    resident memory after 100, 500 and 1,000 runs (CYCLE_RUNS: another
 *    count; then after 100, half and all of them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
    fclose(f);
    return resident * 4;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(engine_context *ctx, const char *what) {
    fprintf(stderr, "bench-shapes: %s: %s\n", what, ctx ? engine_context_error(ctx) : "");
    exit(1);
}

static float *input(int64_t n) {
    float *x = malloc(sizeof(float) * (size_t)n);
    uint32_t s = 42;
    for (int64_t k = 0; k < n; ++k) {
        s = s * 1664525u + 1013904223u;
        x[k] = (float)(s >> 8) / 16777216.0f * 2.0f - 1.0f;
    }
    return x;
}

static double run(engine_context *ctx, engine_session *s, float *x, int n, int c, int h, int w) {
    engine_tensor in, out[4];
    memset(&in, 0, sizeof in);
    memset(out, 0, sizeof out);
    in.dtype = ENGINE_DTYPE_F32;
    in.rank = 4;
    in.dims[0] = n;
    in.dims[1] = c;
    in.dims[2] = h;
    in.dims[3] = w;
    in.data = x;
    double t0 = now_ms();
    if (engine_session_run_tensors(s, &in, 1, out, 1) != ENGINE_OK) die(ctx, "run");
    return now_ms() - t0;
}

static engine_session *session(engine_context *ctx, engine_model *m, const char *backend, int threads) {
    engine_session_options o;
    memset(&o, 0, sizeof o);
    o.backends = backend;
    o.strict = 1;
    o.threads = threads;
    engine_session *s = NULL;
    if (engine_session_create(m, &o, &s) != ENGINE_OK) die(ctx, "session");
    return s;
}

int main(int argc, char **argv) {
    if (argc != 9 && argc != 10) {
        fprintf(stderr, "usage: bench-shapes DYNAMIC.onnx STATIC.onnx BACKEND THREADS N C H W [CYCLE_RUNS]\n");
        return 2;
    }
    const char *backend = argv[3];
    int threads = atoi(argv[4]), N = atoi(argv[5]), C = atoi(argv[6]), H = atoi(argv[7]), W = atoi(argv[8]);
    int cycles = argc > 9 ? atoi(argv[9]) : 1000;
    if (cycles < 100) cycles = 100;
    engine_context *ctx = NULL;
    if (engine_context_create(NULL, &ctx) != ENGINE_OK) die(NULL, "context");
    engine_model *dm = NULL, *sm = NULL;
    if (engine_model_load_file(ctx, argv[1], &dm) || engine_model_optimize(dm, ENGINE_OPT_DEFAULT)) die(ctx, argv[1]);
    if (engine_model_load_file(ctx, argv[2], &sm) || engine_model_optimize(sm, ENGINE_OPT_DEFAULT)) die(ctx, argv[2]);
    float *x = input((int64_t)N * C * (H + 16) * (W + 16));
    engine_session *ds = session(ctx, dm, backend, threads), *ss = session(ctx, sm, backend, threads);

    /* steady state: alternating rounds */
    enum { ROUNDS = 7, RUNS = 15 };
    double dmed[ROUNDS], smed[ROUNDS], t[RUNS];
    for (int k = 0; k < 3; ++k) run(ctx, ds, x, N, C, H, W), run(ctx, ss, x, N, C, H, W);
    for (int r = 0; r < ROUNDS; ++r) {
        for (int k = 0; k < RUNS; ++k) t[k] = run(ctx, ds, x, N, C, H, W);
        dmed[r] = median(t, RUNS);
        for (int k = 0; k < RUNS; ++k) t[k] = run(ctx, ss, x, N, C, H, W);
        smed[r] = median(t, RUNS);
    }
    double dyn = median(dmed, ROUNDS), sta = median(smed, ROUNDS);
    engine_session_free(ss);

    /* the first run at a new shape */
    enum { NEW = 8 };
    double ratio[NEW], first[NEW], steady[NEW];
    /* OpenCL: the device program is built once per backend instance (at
     * the first compile); its build time must not change at new shapes. */
    engine_session_stats st0, st1;
    engine_session_get_stats(ds, &st0);
    for (int i = 0; i < NEW; ++i) {
        int h = H - 4 + i, w = W + (i % 3) - 1;
        first[i] = run(ctx, ds, x, N, C, h, w);
        for (int k = 0; k < 5; ++k) t[k] = run(ctx, ds, x, N, C, h, w);
        steady[i] = median(t, 5);
        ratio[i] = first[i] / steady[i];
    }
    engine_session_get_stats(ds, &st1);
    const int rebuilt = st1.compile_ms != st0.compile_ms || st1.kernels_built != st0.kernels_built;
    double fmed = median(first, NEW), smed2 = median(steady, NEW), rmed = median(ratio, NEW);
    double rmax = ratio[NEW - 1]; /* sorted by median() */
    engine_session_cache_info ci;
    memset(&ci, 0, sizeof ci);
    ci.struct_size = sizeof ci;
    engine_session_cache_info_get(ds, &ci);
    size_t packed_after_new = ci.packed_weight_bytes;
    engine_session_free(ds);

    /* memory over 1,000 runs cycling 20 shapes, default cache */
    ds = session(ctx, dm, backend, threads);
    long r100 = 0, r500 = 0, r1000 = 0;
    double t0 = now_ms();
    for (int i = 1; i <= cycles; ++i) {
        run(ctx, ds, x, N, C, H - 8 + (i % 20), W);
        if (i == 100) r100 = rss_kb();
        if (i == cycles / 2) r500 = rss_kb();
        if (i == cycles) r1000 = rss_kb();
    }
    double cycle_ms = (now_ms() - t0) / cycles;
    engine_session_cache_info_get(ds, &ci);
    printf("{\"backend\":\"%s\",\"threads\":%d,\"shape\":[%d,%d,%d,%d],"
           "\"steady_dynamic_ms\":%.3f,\"steady_static_ms\":%.3f,\"first_run_ms\":%.3f,\"steady_new_ms\":%.3f,"
           "\"first_over_steady\":%.3f,\"first_over_steady_max\":%.3f,\"device_program_rebuilt\":%d,"
           "\"packed_weight_bytes\":%zu,\"cycle_run_ms\":%.3f,\"rss_kb\":[%ld,%ld,%ld],\"entries\":%d,"
           "\"misses\":%lld,\"evictions\":%lld}\n",
           backend, threads, N, C, H, W, dyn, sta, fmed, smed2, rmed, rmax, rebuilt, packed_after_new, cycle_ms, r100, r500, r1000, ci.entries, ci.misses, ci.evictions);
    engine_session_free(ds);
    engine_model_free(dm);
    engine_model_free(sm);
    engine_context_destroy(ctx);
    free(x);
    return 0;
}
