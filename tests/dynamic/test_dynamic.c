/* Models with run-time shapes through the public API (tests/dynamic/
 * gen_dynamic_models.py writes them, with float64 torch references):
 * specialisation per signature on every loaded backend, the signature
 * cache (hit, miss, eviction by count and by bytes), shape overrides,
 * shape-parameter inputs, session-provided and caller-provided outputs,
 * every refusal of a bad input shape, two sessions with different options,
 * and an out-of-memory sweep over load + specialise + run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include "engine/engine.h"

static const char *dir; /* argv[1]: the generated models */
static const int shapes[][3] = {{1, 16, 12}, {2, 16, 12}, {3, 9, 13}, {1, 12, 16}, {4, 20, 8}};
#define N_SHAPES 5

static void path(char *buf, size_t size, const char *file) {
    snprintf(buf, size, "%s/%s", dir, file);
}

static engine_model *load(engine_context *ctx, const char *file) {
    char p[1024];
    path(p, sizeof p, file);
    engine_model *m = NULL;
    if (engine_model_load_file(ctx, p, &m) != ENGINE_OK) fail_msg("%s: %s", file, engine_context_error(ctx));
    return m;
}

static void load_npy(engine_context *ctx, const char *file, engine_tensor *t) {
    char p[1024];
    path(p, sizeof p, file);
    memset(t, 0, sizeof *t);
    if (engine_tensor_load(ctx, p, t) != ENGINE_OK) fail_msg("%s: %s", file, engine_context_error(ctx));
}

static int has_backend(engine_context *ctx, const char *name) {
    if (!TEST_OPENCL && strcmp(name, "opencl") == 0) return 0;
    for (int k = 0; k < engine_backend_count(ctx); ++k)
        if (strcmp(engine_backend_name(ctx, k), name) == 0) return 1;
    return 0;
}

static engine_session *session(engine_model *m, const char *backend, const char *shapes_opt, int max_specs,
                               size_t max_bytes) {
    engine_session_options o;
    memset(&o, 0, sizeof o);
    o.backends = backend;
    o.strict = 1;
    o.shapes = shapes_opt;
    o.max_specializations = max_specs;
    o.max_specialization_bytes = max_bytes;
    engine_session *s = NULL;
    engine_status st = engine_session_create(m, &o, &s);
    if (st) return NULL;
    return s;
}

static engine_session_cache_info cache(engine_session *s) {
    engine_session_cache_info ci;
    memset(&ci, 0, sizeof ci);
    ci.struct_size = sizeof ci;
    assert_int_equal(engine_session_cache_info_get(s, &ci), ENGINE_OK);
    return ci;
}

/* Max |a - b| / (atol + rtol |b|) over the elements, as the op cases judge. */
static double worst(const float *a, const float *b, int64_t n) {
    double w = 0;
    for (int64_t k = 0; k < n; ++k) {
        double e = fabs((double)a[k] - (double)b[k]) / (1e-5 + 1e-4 * fabs((double)b[k]));
        if (!(e <= w)) w = e;
    }
    return w;
}

/* Runs convnet at shape i; outputs compared with torch's float64. */
static void run_shape(engine_context *ctx, engine_session *s, int i) {
    char f[256];
    engine_tensor x, ref_map, ref_logits;
    snprintf(f, sizeof f, "convnet_%dx%dx%d.in.npy", shapes[i][0], shapes[i][1], shapes[i][2]);
    load_npy(ctx, f, &x);
    snprintf(f, sizeof f, "convnet_%dx%dx%d.map.npy", shapes[i][0], shapes[i][1], shapes[i][2]);
    load_npy(ctx, f, &ref_map);
    snprintf(f, sizeof f, "convnet_%dx%dx%d.logits.npy", shapes[i][0], shapes[i][1], shapes[i][2]);
    load_npy(ctx, f, &ref_logits);
    engine_tensor out[2];
    memset(out, 0, sizeof out);
    x.name = NULL;
    if (engine_session_run_tensors(s, &x, 1, out, 2) != ENGINE_OK) fail_msg("shape %d: %s", i, engine_context_error(ctx));
    assert_int_equal(out[0].rank, 4);
    for (int d = 0; d < 4; ++d) assert_int_equal(out[0].dims[d], ref_map.dims[d]);
    assert_int_equal(out[1].rank, 2);
    assert_int_equal(out[1].dims[0], shapes[i][0]);
    double w0 = worst(out[0].data, ref_map.data, engine_tensor_numel(&ref_map));
    double w1 = worst(out[1].data, ref_logits.data, engine_tensor_numel(&ref_logits));
    if (w0 > 1 || w1 > 1) fail_msg("shape %d: outside atol 1e-5 + rtol 1e-4 (x%.2f, x%.2f)", i, w0, w1);
    engine_tensor_release(ctx, &x);
    engine_tensor_release(ctx, &ref_map);
    engine_tensor_release(ctx, &ref_logits);
}

static void test_every_backend_every_shape(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "convnet.onnx");
    assert_true(engine_model_is_dynamic(m));
    engine_tensor_info info;
    assert_int_equal(engine_model_input_info(m, 0, &info), ENGINE_OK);
    assert_int_equal(info.dims[0], -1);
    assert_int_equal(info.dims[1], 3);
    assert_string_equal(engine_model_input_dim_name(m, 0, 0), "N");
    assert_string_equal(engine_model_input_dim_name(m, 0, 3), "W");
    assert_null(engine_model_input_dim_name(m, 0, 1));
    assert_int_equal(engine_model_optimize(m, ENGINE_OPT_DEFAULT), ENGINE_OK);
    const char *backends[] = {"ref", "cpu", "opencl"};
    int ran = 0;
    for (int b = 0; b < 3; ++b) {
        if (!has_backend(ctx, backends[b])) continue;
        engine_session *s = session(m, backends[b], NULL, 0, 0);
        if (!s) {
            if (b == 2) continue; /* opencl without a usable device */
            fail_msg("%s: %s", backends[b], engine_context_error(ctx));
        }
        for (int i = 0; i < N_SHAPES; ++i) run_shape(ctx, s, i);
        for (int i = N_SHAPES - 1; i >= 0; --i) run_shape(ctx, s, i); /* all cached */
        engine_session_cache_info ci = cache(s);
        assert_int_equal(ci.misses, N_SHAPES);
        assert_int_equal(ci.hits, N_SHAPES);
        assert_int_equal(ci.entries, N_SHAPES);
        assert_int_equal(ci.evictions, 0);
        engine_session_free(s);
        ran++;
    }
    assert_true(ran >= 2);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

/* Weights are packed once per session, not once per signature. Each conv
 * keeps its NCHW kernels here (ENGINE_CPU_BLOCKED=0, read when the backend
 * instance starts): the layout choice weighs the map size, so with AVX2
 * the smaller maps run some convs blocked, a second packed form of the
 * same weights (test_weights_packed_per_form). */
static void packed_once_run(int blocked_off, size_t *first_out, size_t *last_out);

static void test_weights_packed_once(void **state) {
    (void)state;
    size_t first = 0, last = 0;
    packed_once_run(1, &first, &last);
    assert_int_equal(last, first);
}

/* With the layout chosen by cost a conv may take a second (blocked) form,
 * never one per signature: 20 signatures stay within two forms. */
static void test_weights_packed_per_form(void **state) {
    (void)state;
    size_t first = 0, last = 0;
    packed_once_run(0, &first, &last);
    assert_true(last >= first);
    assert_true(last <= 2 * first);
}

static void packed_once_run(int blocked_off, size_t *first_out, size_t *last_out) {
    if (blocked_off) setenv("ENGINE_CPU_BLOCKED", "0", 1);
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    if (!has_backend(ctx, "cpu")) {
        engine_context_destroy(ctx);
        if (blocked_off) unsetenv("ENGINE_CPU_BLOCKED");
        skip();
    }
    engine_model *m = load(ctx, "convnet.onnx");
    assert_int_equal(engine_model_optimize(m, ENGINE_OPT_DEFAULT), ENGINE_OK);
    engine_session *s = session(m, "cpu", NULL, 32, 0);
    assert_non_null(s);
    static float x[4 * 3 * 28 * 28];
    for (size_t k = 0; k < sizeof x / sizeof x[0]; ++k) x[k] = (float)((k * 7) % 13) * 0.1f - 0.6f;
    size_t first = 0, last = 0;
    for (int i = 0; i < 20; ++i) {
        engine_tensor in, out[2];
        memset(&in, 0, sizeof in);
        memset(out, 0, sizeof out);
        in.dtype = ENGINE_DTYPE_F32;
        in.rank = 4;
        in.dims[0] = 1 + i % 4;
        in.dims[1] = 3;
        in.dims[2] = 8 + i;
        in.dims[3] = 28 - i;
        in.data = x;
        assert_int_equal(engine_session_run_tensors(s, &in, 1, out, 2), ENGINE_OK);
        engine_session_cache_info ci = cache(s);
        assert_int_equal(ci.entries, i + 1);
        if (i == 0) first = ci.packed_weight_bytes;
        assert_true(first > 0);
        assert_true(ci.packed_weight_bytes >= last);
        last = ci.packed_weight_bytes;
    }
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
    if (blocked_off) unsetenv("ENGINE_CPU_BLOCKED");
    *first_out = first, *last_out = last;
}

/* The dynamic model at the static model's shape gives the same bits. */
static void test_same_as_static(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *dm = load(ctx, "convnet.onnx"), *sm = load(ctx, "convnet_1x3x16x12.onnx");
    assert_false(engine_model_is_dynamic(sm));
    assert_int_equal(engine_model_optimize(dm, ENGINE_OPT_DEFAULT), ENGINE_OK);
    assert_int_equal(engine_model_optimize(sm, ENGINE_OPT_DEFAULT), ENGINE_OK);
    const char *backend = has_backend(ctx, "cpu") ? "cpu" : "ref";
    engine_session *ds = session(dm, backend, NULL, 0, 0), *ss = session(sm, backend, NULL, 0, 0);
    assert_non_null(ds);
    assert_non_null(ss);
    engine_tensor x;
    load_npy(ctx, "convnet_1x16x12.in.npy", &x);
    x.name = NULL;
    engine_tensor a[2], b[2];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(engine_session_run_tensors(ds, &x, 1, a, 2), ENGINE_OK);
    assert_int_equal(engine_session_run_tensors(ss, &x, 1, b, 2), ENGINE_OK);
    for (int k = 0; k < 2; ++k) {
        assert_int_equal(engine_tensor_numel(&a[k]), engine_tensor_numel(&b[k]));
        assert_memory_equal(a[k].data, b[k].data, (size_t)engine_tensor_numel(&a[k]) * sizeof(float));
    }
    /* The static model through the old call too, and its own dims only. */
    float map[8 * 8 * 6], logits[5];
    const void *in[1] = {x.data};
    void *outs[2] = {map, logits};
    assert_int_equal(engine_session_run(ss, in, outs), ENGINE_OK);
    assert_memory_equal(map, b[0].data, sizeof map);
    x.dims[0] = 2;
    assert_int_equal(engine_session_run_tensors(ss, &x, 1, a, 2), ENGINE_ERR_SHAPE);
    assert_non_null(strstr(engine_context_error(ctx), "axis 0: expected 1, got 2"));
    x.dims[0] = 1;
    engine_tensor_release(ctx, &x);
    engine_session_free(ds);
    engine_session_free(ss);
    engine_model_free(dm);
    engine_model_free(sm);
    engine_context_destroy(ctx);
}

static void test_cache_bounds(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "convnet.onnx");
    /* By count: 2 entries; A B A(hit) C(evicts B) B(miss, evicts A). */
    engine_session *s = session(m, "ref", NULL, 2, 0);
    assert_non_null(s);
    int order[] = {0, 1, 0, 2, 1};
    for (int k = 0; k < 5; ++k) run_shape(ctx, s, order[k]);
    engine_session_cache_info ci = cache(s);
    assert_int_equal(ci.hits, 1);
    assert_int_equal(ci.misses, 4);
    assert_int_equal(ci.evictions, 2);
    assert_int_equal(ci.entries, 2);
    run_shape(ctx, s, 2); /* C stayed */
    assert_int_equal(cache(s).hits, 2);
    engine_session_free(s);
    /* By bytes: a bound below one entry keeps just the current one. */
    s = session(m, "ref", NULL, 0, 1);
    assert_non_null(s);
    for (int k = 0; k < 3; ++k) run_shape(ctx, s, k);
    ci = cache(s);
    assert_int_equal(ci.entries, 1);
    assert_int_equal(ci.evictions, 2);
    assert_true(ci.bytes > 1);
    /* A smaller struct_size gets only its fields. */
    engine_session_cache_info small;
    memset(&small, 0x5a, sizeof small);
    small.struct_size = offsetof(engine_session_cache_info, hits);
    assert_int_equal(engine_session_cache_info_get(s, &small), ENGINE_OK);
    assert_int_equal(small.entries, 1);
    long long poison;
    memset(&poison, 0x5a, sizeof poison);
    assert_memory_equal(&small.hits, &poison, sizeof poison);
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

static void test_shape_overrides(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "convnet.onnx");
    /* No signature yet: the old run call and output info refuse. */
    engine_session *s = session(m, "ref", NULL, 0, 0);
    assert_non_null(s);
    engine_tensor_info info;
    assert_int_equal(engine_session_output_info(s, 0, &info), ENGINE_ERR_INVALID_ARGUMENT);
    const void *in[1] = {s};
    void *outs[2] = {s, s};
    assert_int_equal(engine_session_run(s, in, outs), ENGINE_ERR_INVALID_ARGUMENT);
    engine_session_free(s);
    /* Overrides compile at creation. */
    s = session(m, "ref", "x=3x3x9x13", 0, 0);
    assert_non_null(s);
    assert_int_equal(cache(s).misses, 1);
    assert_int_equal(engine_session_output_info(s, 0, &info), ENGINE_OK);
    assert_int_equal(info.rank, 4);
    assert_int_equal(info.dims[0], 3);
    assert_int_equal(info.dims[2], 4);
    assert_int_equal(info.dims[3], 6);
    run_shape(ctx, s, 2);
    assert_int_equal(cache(s).hits, 1);
    assert_int_equal(cache(s).misses, 1);
    engine_session_free(s);
    /* Bad overrides, named. */
    struct {
        const char *opt, *msg;
        engine_status st;
    } bad[] = {
        {"y=1x3x8x8", "no input 'y'", ENGINE_ERR_NOT_FOUND},
        {"x=1x3x8", "rank 3 given", ENGINE_ERR_SHAPE},
        {"x=1x4x8x8", "axis 1: expected 3, got 4", ENGINE_ERR_SHAPE},
        {"x=1x3xAx8", "bad dims", ENGINE_ERR_INVALID_ARGUMENT},
        {"x", "NAME=DIMS", ENGINE_ERR_INVALID_ARGUMENT},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
        engine_session_options o;
        memset(&o, 0, sizeof o);
        o.backends = "ref";
        o.shapes = bad[k].opt;
        engine_session *t = NULL;
        assert_int_equal(engine_session_create(m, &o, &t), bad[k].st);
        assert_null(t);
        if (!strstr(engine_context_error(ctx), bad[k].msg))
            fail_msg("'%s': message '%s' lacks '%s'", bad[k].opt, engine_context_error(ctx), bad[k].msg);
    }
    engine_model_free(m);
    engine_context_destroy(ctx);
}

static void test_bad_inputs(void **state) {
    (void)state;
    engine_context_options co;
    memset(&co, 0, sizeof co);
    co.max_tensor_bytes = (size_t)64 << 20;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(&co, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "shared_dim.onnx");
    engine_session *s = session(m, "ref", NULL, 0, 0);
    assert_non_null(s);
    float a[3 * 4], b[3 * 4], y[3 * 4];
    for (int k = 0; k < 12; ++k) {
        a[k] = (float)k * 0.5f - 2.0f;
        b[k] = 1.0f - (float)k * 0.25f;
    }
    engine_tensor in[2];
    memset(in, 0, sizeof in);
    in[0].dtype = in[1].dtype = ENGINE_DTYPE_F32;
    in[0].rank = in[1].rank = 2;
    in[0].dims[0] = in[1].dims[0] = 3;
    in[0].dims[1] = in[1].dims[1] = 4;
    in[0].data = a;
    in[1].data = b;
    /* Caller-provided output: dims give its capacity. */
    engine_tensor out;
    memset(&out, 0, sizeof out);
    out.rank = 1;
    out.dims[0] = 12;
    out.data = y;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_OK);
    assert_ptr_equal(out.data, y);
    assert_int_equal(out.rank, 2);
    for (int k = 0; k < 12; ++k) assert_float_equal(y[k], a[k] + b[k], 0);
    /* Too small a buffer. */
    out.rank = 1;
    out.dims[0] = 11;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_ERR_SHAPE);
    assert_non_null(strstr(engine_context_error(ctx), "needs 12 elements; the buffer given holds 11"));
    /* One symbolic name, two values. */
    out.data = NULL;
    in[1].dims[0] = 2;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_ERR_SHAPE);
    assert_non_null(strstr(engine_context_error(ctx), "input 'b' axis 0: symbolic dim 'N' is already 3, got 2"));
    in[1].dims[0] = 3;
    /* Fixed dim, rank, dtype, counts, names. */
    in[1].dims[1] = 5;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_ERR_SHAPE);
    assert_non_null(strstr(engine_context_error(ctx), "input 'b' axis 1: expected 4, got 5"));
    in[1].dims[1] = 4;
    in[0].rank = 3;
    in[0].dims[2] = 1;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_ERR_SHAPE);
    assert_non_null(strstr(engine_context_error(ctx), "input 'a' has rank 3; the model expects rank 2"));
    in[0].rank = 2;
    in[0].dims[2] = 0;
    in[0].dtype = ENGINE_DTYPE_I64;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(engine_context_error(ctx), "input 'a' is int64; the model expects float32"));
    in[0].dtype = ENGINE_DTYPE_F32;
    assert_int_equal(engine_session_run_tensors(s, in, 1, &out, 1), ENGINE_ERR_INVALID_ARGUMENT);
    in[0].name = "nope";
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_ERR_NOT_FOUND);
    /* By name, in any order. */
    engine_tensor swapped[2] = {in[1], in[0]};
    swapped[0].name = "b";
    swapped[1].name = "a";
    assert_int_equal(engine_session_run_tensors(s, swapped, 2, &out, 1), ENGINE_OK);
    in[0].name = NULL;
    /* Dims implying more than max_tensor_bytes: refused before allocating. */
    in[0].dims[0] = in[1].dims[0] = (int64_t)1 << 40;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_ERR_UNSUPPORTED);
    assert_non_null(strstr(engine_context_error(ctx), "max_tensor_bytes"));
    in[0].dims[0] = in[1].dims[0] = (int64_t)1 << 62;
    assert_int_not_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_OK);
    /* Zero rows: an empty signature is valid. */
    in[0].dims[0] = in[1].dims[0] = 0;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_OK);
    assert_int_equal(out.dims[0], 0);
    /* Still good after all that. */
    in[0].dims[0] = in[1].dims[0] = 3;
    out.data = NULL;
    assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_OK);
    for (int k = 0; k < 12; ++k) assert_float_equal(((float *)out.data)[k], a[k] + b[k], 0);
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

static void test_shape_parameter_input(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "reshape_param.onnx");
    assert_true(engine_model_is_dynamic(m));
    assert_false(engine_model_input_is_shape_param(m, 0));
    assert_true(engine_model_input_is_shape_param(m, 1));
    const char *backend = has_backend(ctx, "cpu") ? "cpu" : "ref";
    engine_session *s = session(m, backend, NULL, 0, 0);
    assert_non_null(s);
    float x[12];
    for (int k = 0; k < 12; ++k) x[k] = (float)k;
    int64_t shape[2];
    engine_tensor in[2];
    memset(in, 0, sizeof in);
    in[0].dtype = ENGINE_DTYPE_F32;
    in[0].rank = 2;
    in[0].dims[0] = 2;
    in[0].dims[1] = 6;
    in[0].data = x;
    in[1].dtype = ENGINE_DTYPE_I64;
    in[1].rank = 1;
    in[1].dims[0] = 2;
    in[1].data = shape;
    const int64_t want[][2] = {{3, 4}, {4, 3}, {3, 4}, {-1, 6}, {12, 1}};
    for (int k = 0; k < 5; ++k) {
        engine_tensor out;
        memset(&out, 0, sizeof out);
        shape[0] = want[k][0];
        shape[1] = want[k][1];
        assert_int_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_OK);
        assert_int_equal(out.rank, 2);
        assert_int_equal(out.dims[0], want[k][0] < 0 ? 2 : want[k][0]);
        assert_int_equal(out.dims[1], want[k][1]);
        assert_memory_equal(out.data, x, sizeof x);
    }
    engine_session_cache_info ci = cache(s);
    assert_int_equal(ci.misses, 4); /* the values are the key: [3,4] twice */
    assert_int_equal(ci.hits, 1);
    /* A value that cannot be a shape: refused by the Reshape, named. */
    shape[0] = 5;
    shape[1] = 5;
    engine_tensor out;
    memset(&out, 0, sizeof out);
    assert_int_not_equal(engine_session_run_tensors(s, in, 2, &out, 1), ENGINE_OK);
    assert_non_null(strstr(engine_context_error(ctx), "reshape"));
    /* The old call takes the values too. */
    shape[0] = 6;
    shape[1] = 2;
    float y[12];
    const void *ins[2] = {x, shape};
    void *outs[1] = {y};
    assert_int_equal(engine_session_run(s, ins, outs), ENGINE_OK);
    assert_memory_equal(y, x, sizeof x);
    engine_tensor_info info;
    assert_int_equal(engine_session_output_info(s, 0, &info), ENGINE_OK);
    assert_int_equal(info.dims[0], 6);
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

/* If and Loop whose condition and trip count the shapes fix: expanded per
 * specialisation, on every backend; on data: refused with the node. */
static void test_control_flow(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *mif = load(ctx, "if_batch.onnx"), *mloop = load(ctx, "loop_rows.onnx"),
                 *mflag = load(ctx, "if_flag.onnx");
    assert_true(engine_model_input_is_shape_param(mflag, 1));
    const float bias[4] = {0.5f, -1, 2, 0.25f};
    const char *backends[] = {"ref", "cpu", "opencl"};
    static float x[5 * 4];
    for (int k = 0; k < 20; ++k) x[k] = (float)((k * 7) % 11) - 5.0f;
    for (int b = 0; b < 3; ++b) {
        if (!has_backend(ctx, backends[b])) continue;
        engine_session *si = session(mif, backends[b], NULL, 0, 0), *sl = session(mloop, backends[b], NULL, 0, 0),
                       *sf = session(mflag, backends[b], NULL, 0, 0);
        if (!si || !sl || !sf) {
            engine_session_free(si);
            engine_session_free(sl);
            engine_session_free(sf);
            if (b == 2) continue;
            fail_msg("%s: %s", backends[b], engine_context_error(ctx));
        }
        for (int n = 1; n <= 5; n += 2) {
            engine_tensor in[2], out[2];
            memset(in, 0, sizeof in);
            memset(out, 0, sizeof out);
            in[0].dtype = ENGINE_DTYPE_F32;
            in[0].rank = 2;
            in[0].dims[0] = n;
            in[0].dims[1] = 4;
            in[0].data = x;
            assert_int_equal(engine_session_run_tensors(si, in, 1, out, 1), ENGINE_OK);
            for (int k = 0; k < n * 4; ++k)
                assert_float_equal(((float *)out[0].data)[k], n == 1 ? (x[k] > 0 ? 2 * x[k] : 0) : x[k] + bias[k % 4], 1e-6);
            memset(out, 0, sizeof out);
            if (engine_session_run_tensors(sl, in, 1, out, 2) != ENGINE_OK)
                fail_msg("loop on %s: %s", backends[b], engine_context_error(ctx));
            assert_int_equal(out[0].rank, 1);
            assert_int_equal(out[1].dims[0], n);
            for (int c = 0; c < 4; ++c) {
                float sum = (float)(c + 1);
                for (int r = 0; r < n; ++r) {
                    sum += x[r * 4 + c];
                    assert_float_equal(((float *)out[1].data)[r * 4 + c], x[r * 4 + c] * (float)r, 1e-5);
                }
                assert_float_equal(((float *)out[0].data)[c], sum, 1e-5);
            }
            /* The bool input picks the branch: both values, twice each. */
            for (int f = 0; f < 4; ++f) {
                uint8_t flag = (uint8_t)(f & 1);
                in[1].dtype = ENGINE_DTYPE_BOOL;
                in[1].rank = 0;
                in[1].data = &flag;
                memset(out, 0, sizeof out);
                assert_int_equal(engine_session_run_tensors(sf, in, 2, out, 1), ENGINE_OK);
                for (int k = 0; k < n * 4; ++k)
                    assert_float_equal(((float *)out[0].data)[k], flag ? (x[k] > 0 ? 2 * x[k] : 0) : x[k] + bias[k % 4],
                                       1e-6);
            }
        }
        assert_int_equal(cache(sf).misses, 6); /* 3 shapes x 2 flag values */
        assert_int_equal(cache(sf).hits, 6);
        engine_session_free(si);
        engine_session_free(sl);
        engine_session_free(sf);
    }
    /* A condition computed from the data: the If waits for a later stage,
     * specialised on the condition's value (two tail entries, then hits). */
    engine_model *md = load(ctx, "if_data.onnx");
    engine_session *sd = session(md, "ref", NULL, 0, 0);
    assert_non_null(sd);
    static float zeros[2 * 4];
    for (int rep = 0; rep < 6; ++rep) {
        engine_tensor in, out;
        memset(&in, 0, sizeof in);
        memset(&out, 0, sizeof out);
        in.dtype = ENGINE_DTYPE_F32;
        in.rank = 2;
        in.dims[0] = 2;
        in.dims[1] = 4;
        in.data = (rep & 1) ? zeros : x;
        if (engine_session_run_tensors(sd, &in, 1, &out, 1) != ENGINE_OK) fail_msg("%s", engine_context_error(ctx));
        const float *xi = in.data;
        assert_int_equal(out.rank, 2);
        assert_int_equal(out.dims[0], 2);
        for (int k = 0; k < 8; ++k) /* sum 0: then (relu * 2), else x + bias */
            assert_float_equal(((float *)out.data)[k], (rep & 1) ? (xi[k] > 0 ? 2 * xi[k] : 0) : xi[k] + bias[k % 4], 1e-6);
    }
    assert_int_equal(cache(sd).misses, 3); /* the signature, and the tail for each condition */
    engine_session_free(sd);
    engine_model_free(md);
    engine_model_free(mif);
    engine_model_free(mloop);
    engine_model_free(mflag);
    engine_context_destroy(ctx);
}


/* A strict session on one backend (every stage of the model on it). */
static engine_session *strict_session(engine_model *m, const char *backends) {
    engine_session_options o;
    memset(&o, 0, sizeof o);
    o.backends = backends;
    o.strict = 1;
    engine_session *s = NULL;
    return engine_session_create(m, &o, &s) == ENGINE_OK ? s : NULL;
}

/* Output shapes that depend on data: NonZero with a tail after it (zero
 * hits included), NonMaxSuppression then a Gather of the kept boxes against
 * torchvision (no detection included), TopK whose k is counted from the
 * data; on every backend; repeats are cache hits. */
static void test_data_dependent(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *mnz = load(ctx, "nonzero_tail.onnx"), *mnms = load(ctx, "nms_gather.onnx"),
                 *mtk = load(ctx, "topk_data.onnx");
    assert_true(engine_model_is_dynamic(mtk));
    /* opencl alone: every node of these models runs on the device (TopK
     * included) or on the host between stages */
    const char *backends[] = {"ref", "cpu", "opencl"};
    for (int b = 0; b < 3; ++b) {
        if (!has_backend(ctx, backends[b])) continue;
        engine_session *snz = strict_session(mnz, backends[b]), *snms = strict_session(mnms, backends[b]),
                       *stk = strict_session(mtk, backends[b]);
        if (!snz || !snms || !stk) fail_msg("%s: %s", backends[b], engine_context_error(ctx));
        static float x[5 * 4];
        for (int r = 0; r < 8; ++r) {
            int rows = 1 + r % 5;
            for (int k = 0; k < rows * 4; ++k) x[k] = r == 3 ? -1.0f : (float)(((k + r) * 7) % 11) - 5.0f;
            engine_tensor in, out[3];
            memset(&in, 0, sizeof in);
            memset(out, 0, sizeof out);
            in.dtype = ENGINE_DTYPE_F32;
            in.rank = 2;
            in.dims[0] = rows;
            in.dims[1] = 4;
            in.data = x;
            if (engine_session_run_tensors(snz, &in, 1, out, 3) != ENGINE_OK)
                fail_msg("nonzero on %s: %s", backends[b], engine_context_error(ctx));
            int64_t count = 0;
            float sum = 0;
            for (int k = 0; k < rows * 4; ++k) {
                if (x[k] > 0) {
                    const int64_t *nz = out[2].data, *nzt = out[0].data;
                    int64_t total = out[2].dims[1];
                    assert_true(count < total);
                    assert_int_equal(nz[count], k / 4);
                    assert_int_equal(nz[total + count], k % 4);
                    assert_int_equal(nzt[count * 2], k / 4);
                    assert_int_equal(nzt[count * 2 + 1], k % 4);
                    count++;
                    sum += x[k];
                }
            }
            assert_int_equal(out[2].rank, 2);
            assert_int_equal(out[2].dims[0], 2);
            assert_int_equal(out[2].dims[1], count);
            assert_int_equal(out[0].dims[0], count);
            assert_int_equal(out[0].dims[1], 2);
            assert_int_equal(out[1].rank, 0);
            assert_float_equal(*(float *)out[1].data, sum, 1e-5);
            engine_tensor_info info;
            assert_int_equal(engine_session_output_info(snz, 0, &info), ENGINE_OK);
            assert_int_equal(info.dims[0], count);
            if (r == 3) assert_int_equal(count, 0); /* a zero-size tensor through the tail */

            /* TopK: k = the number of positive values. */
            float xt[10];
            for (int k = 0; k < 10; ++k) xt[k] = (float)(((k + 3 * r) * 5) % 13) - 6.0f;
            engine_tensor tin, tout[2];
            memset(&tin, 0, sizeof tin);
            memset(tout, 0, sizeof tout);
            tin.dtype = ENGINE_DTYPE_F32;
            tin.rank = 1;
            tin.dims[0] = 10;
            tin.data = xt;
            if (engine_session_run_tensors(stk, &tin, 1, tout, 2) != ENGINE_OK)
                fail_msg("topk on %s: %s", backends[b], engine_context_error(ctx));
            int pos = 0;
            for (int k = 0; k < 10; ++k) pos += xt[k] > 0;
            assert_int_equal(tout[0].dims[0], pos);
            for (int j = 0; j < pos; ++j) { /* descending, ties by lower index */
                int64_t i = ((int64_t *)tout[1].data)[j];
                assert_float_equal(((float *)tout[0].data)[j], xt[i], 0);
                if (j) {
                    int64_t p = ((int64_t *)tout[1].data)[j - 1];
                    assert_true(xt[p] > xt[i] || (xt[p] == xt[i] && p < i));
                }
            }
        }
        for (int c = 0; c < 3; ++c) {
            char f[64];
            engine_tensor in[2], ref_sel, out[2];
            snprintf(f, sizeof f, "nms_%d.boxes.npy", c);
            load_npy(ctx, f, &in[0]);
            snprintf(f, sizeof f, "nms_%d.scores.npy", c);
            load_npy(ctx, f, &in[1]);
            snprintf(f, sizeof f, "nms_%d.sel.npy", c);
            load_npy(ctx, f, &ref_sel);
            memset(out, 0, sizeof out);
            if (engine_session_run_tensors(snms, in, 2, out, 2) != ENGINE_OK)
                fail_msg("nms on %s: %s", backends[b], engine_context_error(ctx));
            assert_int_equal(out[0].dims[0], ref_sel.dims[0]);
            assert_int_equal(out[0].dims[1], 3);
            for (int64_t k = 0; k < engine_tensor_numel(&ref_sel); ++k)
                assert_int_equal(((int64_t *)out[0].data)[k], ((int64_t *)ref_sel.data)[k]);
            assert_int_equal(out[1].dims[0], ref_sel.dims[0]);
            assert_int_equal(out[1].dims[1], 4);
            for (int64_t d = 0; d < ref_sel.dims[0]; ++d)
                for (int q = 0; q < 4; ++q)
                    assert_float_equal(((float *)out[1].data)[d * 4 + q],
                                       ((float *)in[0].data)[((int64_t *)ref_sel.data)[d * 3 + 2] * 4 + q], 0);
            if (c == 2) assert_int_equal(out[0].dims[0], 0);
            engine_tensor_release(ctx, &in[0]);
            engine_tensor_release(ctx, &in[1]);
            engine_tensor_release(ctx, &ref_sel);
        }
        /* engine_session_run cannot size outputs that depend on data. */
        const void *ins[1] = {x};
        void *outs[3] = {x, x, x};
        assert_int_equal(engine_session_run(snz, ins, outs), ENGINE_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(engine_context_error(ctx), "engine_session_run_tensors"));
        engine_session_cache_info ci = cache(snz);
        assert_true(ci.hits > 0);
        engine_session_free(snz);
        engine_session_free(snms);
        engine_session_free(stk);
    }
    engine_model_free(mnz);
    engine_model_free(mnms);
    engine_model_free(mtk);
    engine_context_destroy(ctx);
}

/* A Loop cut into stages inside every iteration (its trip count and a
 * NonZero in its body come from the data): every backend, several inputs,
 * against the loop computed here. The stages carry the loop's progress, so
 * iteration i sees i (it once restarted at 0 in every stage and never
 * ended). */
static void test_loop_data_stages(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "loop_data_stages.onnx");
    assert_true(engine_model_is_dynamic(m));
    const char *backends[] = {"ref", "cpu", "opencl"};
    for (int b = 0; b < 3; ++b) {
        if (!has_backend(ctx, backends[b])) continue;
        engine_session *s = strict_session(m, backends[b]);
        if (!s) fail_msg("%s: %s", backends[b], engine_context_error(ctx));
        for (int r = 0; r < 5; ++r) {
            float x[7];
            for (int k = 0; k < 7; ++k) x[k] = r == 4 ? -1.0f : (float)(((k + 2 * r) * 5) % 9) - 3.0f;
            int64_t want_acc[64], want_scan[7];
            int n_acc = 0, trips = 0;
            for (int k = 0; k < 7; ++k) trips += x[k] > 0;
            for (int i = 0; i < trips; ++i) {
                int cnt = 0;
                for (int k = 0; k < 7; ++k)
                    if (x[k] > x[i]) {
                        want_acc[n_acc++] = k;
                        cnt++;
                    }
                want_scan[i] = cnt + i;
            }
            engine_tensor in, out[2];
            memset(&in, 0, sizeof in);
            memset(out, 0, sizeof out);
            in.dtype = ENGINE_DTYPE_F32;
            in.rank = 1;
            in.dims[0] = 7;
            in.data = x;
            engine_status st = engine_session_run_tensors(s, &in, 1, out, 2);
            if (trips == 0) {
                /* no iteration: a scan output's shape is unknown (the body
                 * never ran); refused by name, not guessed */
                assert_int_equal(st, ENGINE_ERR_UNSUPPORTED);
                assert_non_null(strstr(engine_context_error(ctx), "no iteration"));
                continue;
            }
            if (st != ENGINE_OK) fail_msg("%s, input %d: %s", backends[b], r, engine_context_error(ctx));
            assert_int_equal(out[0].rank, 1);
            assert_int_equal(out[0].dims[0], n_acc);
            for (int k = 0; k < n_acc; ++k) assert_int_equal(((int64_t *)out[0].data)[k], want_acc[k]);
            assert_int_equal(out[1].dims[0], trips);
            for (int k = 0; k < trips; ++k) assert_int_equal(((int64_t *)out[1].data)[k], want_scan[k]);
        }
        engine_session_free(s);
    }
    engine_model_free(m);
    engine_context_destroy(ctx);
}

/* A while loop (no trip count; the body computes the condition from the
 * data): each iteration's condition becomes a constant of the next stage.
 * x is halved while its sum exceeds 1; the iteration count varies by run. */
static void test_loop_while_data(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "loop_while_data.onnx");
    assert_true(engine_model_is_dynamic(m));
    static const float xs[4][4] = {
        {3.1f, 2.7f, 5.3f, 1.9f}, {0.3f, 0.4f, 0.2f, 0.6f}, {400.0f, 250.5f, 90.25f, 300.0f}, {1.5f, -0.25f, 0.5f, 0.75f}};
    const char *backends[] = {"ref", "cpu", "opencl"};
    for (int b = 0; b < 3; ++b) {
        if (!has_backend(ctx, backends[b])) continue;
        engine_session *s = strict_session(m, backends[b]);
        if (!s) fail_msg("%s: %s", backends[b], engine_context_error(ctx));
        for (int r = 0; r < 6; ++r) {
            const float *x = xs[r % 4];
            float y[4], sums[64];
            int iters = 0;
            double sum;
            for (int k = 0; k < 4; ++k) y[k] = x[k];
            do {
                sum = 0.0;
                for (int k = 0; k < 4; ++k) sum += (y[k] *= 0.5f);
                sums[iters++] = (float)sum;
            } while (sum > 1.0 && iters < 64);
            engine_tensor in, out[2];
            memset(&in, 0, sizeof in);
            memset(out, 0, sizeof out);
            in.dtype = ENGINE_DTYPE_F32;
            in.rank = 1;
            in.dims[0] = 4;
            in.data = (void *)x;
            engine_status st = engine_session_run_tensors(s, &in, 1, out, 2);
            if (st != ENGINE_OK) fail_msg("%s, input %d: %s", backends[b], r, engine_context_error(ctx));
            assert_int_equal(out[0].rank, 1);
            assert_int_equal(out[0].dims[0], 4);
            for (int k = 0; k < 4; ++k) assert_float_equal(((float *)out[0].data)[k], y[k], 1e-6);
            assert_int_equal(out[1].rank, 1);
            if (out[1].dims[0] != iters) fail_msg("%s, input %d: %lld iterations, expected %d", backends[b], r,
                                                  (long long)out[1].dims[0], iters);
            for (int k = 0; k < iters; ++k)
                assert_float_equal(((float *)out[1].data)[k], sums[k], 1e-5 + 1e-5 * fabsf(sums[k]));
        }
        engine_session_free(s);
    }
    engine_model_free(m);
    engine_context_destroy(ctx);
}

/* A staged run's profile: the head's nodes, the host op (backend "host")
 * and the tail's nodes, every entry named, starts in order of the stages. */
static void test_staged_timings(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    engine_model *m = load(ctx, "nonzero_tail.onnx");
    engine_session_options o;
    memset(&o, 0, sizeof o);
    o.backends = "cpu,ref";
    o.profile = 1;
    engine_session *s = NULL;
    if (engine_session_create(m, &o, &s)) fail_msg("%s", engine_context_error(ctx));
    float x[3 * 4] = {1.0f, -2.0f, 0.5f, 0.0f, 3.0f, 1.0f, -1.0f, 2.0f, 0.25f, -0.5f, 4.0f, 1.5f};
    engine_tensor in, out[3];
    memset(&in, 0, sizeof in);
    memset(out, 0, sizeof out);
    in.dtype = ENGINE_DTYPE_F32;
    in.rank = 2;
    in.dims[0] = 3;
    in.dims[1] = 4;
    in.data = x;
    for (int r = 0; r < 2; ++r) {
        if (engine_session_run_tensors(s, &in, 1, out, 3)) fail_msg("%s", engine_context_error(ctx));
        const engine_node_timing *t = NULL;
        int n = 0;
        assert_int_equal(engine_session_timings(s, &t, &n), ENGINE_OK);
        int host = -1, transpose = -1, relu = -1;
        for (int k = 0; k < n; ++k) {
            assert_non_null(t[k].node);
            assert_non_null(t[k].op);
            assert_non_null(t[k].backend);
            assert_true(t[k].ms >= 0.0);
            if (strcmp(t[k].backend, "host") == 0 && strcmp(t[k].op, "NonZero") == 0) host = k;
            if (strcmp(t[k].op, "Transpose") == 0) transpose = k;
            if (strcmp(t[k].op, "Relu") == 0) relu = k;
        }
        assert_true(relu >= 0 && host > relu && transpose > host);
        assert_true(t[relu].start_ms <= t[host].start_ms && t[host].start_ms <= t[transpose].start_ms);
    }
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

/* Two sessions of one model with different options each get what they
 * asked for (backend instances per option set): opencl fp16 vs fp32. */
static void test_two_sessions_options(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    if (!has_backend(ctx, "opencl")) {
        engine_context_destroy(ctx);
        skip();
    }
    engine_model *m = load(ctx, "convnet_1x3x16x12.onnx");
    engine_session_options o;
    memset(&o, 0, sizeof o);
    o.backends = "opencl";
    o.strict = 1;
    o.precision = "fp32";
    engine_session *s32 = NULL, *s16 = NULL, *r = NULL;
    if (engine_session_create(m, &o, &s32) != ENGINE_OK) {
        engine_model_free(m);
        engine_context_destroy(ctx);
        skip();
    }
    o.precision = "fp16";
    assert_int_equal(engine_session_create(m, &o, &s16), ENGINE_OK);
    o.backends = "ref";
    o.precision = NULL;
    assert_int_equal(engine_session_create(m, &o, &r), ENGINE_OK);
    engine_tensor x;
    load_npy(ctx, "convnet_1x16x12.in.npy", &x);
    x.name = NULL;
    engine_tensor a[2], b[2], c[2];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(c, 0, sizeof c);
    assert_int_equal(engine_session_run_tensors(s32, &x, 1, a, 2), ENGINE_OK);
    assert_int_equal(engine_session_run_tensors(s16, &x, 1, b, 2), ENGINE_OK);
    assert_int_equal(engine_session_run_tensors(r, &x, 1, c, 2), ENGINE_OK);
    int64_t n = engine_tensor_numel(&c[0]);
    assert_true(worst(a[0].data, c[0].data, n) <= 1);  /* fp32: the op tolerance */
    assert_true(worst(b[0].data, c[0].data, n) > 1);   /* fp16 storage: visibly rounded */
    double e16 = 0;
    for (int64_t k = 0; k < n; ++k) {
        double e = fabs((double)((float *)b[0].data)[k] - ((float *)c[0].data)[k]);
        if (e > e16) e16 = e;
    }
    assert_true(e16 < 0.05);
    engine_tensor_release(ctx, &x);
    engine_session_free(s32);
    engine_session_free(s16);
    engine_session_free(r);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

/* ---- the model's weights released once packed (engine/src/weights.h) ---- */

static engine_session *threads_session(engine_model *m, const char *backend, int threads) {
    engine_session_options o;
    memset(&o, 0, sizeof o);
    o.backends = backend;
    o.strict = 1;
    o.threads = threads;
    engine_session *s = NULL;
    return engine_session_create(m, &o, &s) == ENGINE_OK ? s : NULL;
}

/* bigconv at [n, 16, h, w] with seeded input: a copy of y (malloc), or NULL
 * with *st set when the run fails. */
static float *run_big(engine_session *s, int n, int h, int w, int64_t *numel, engine_status *st) {
    static float x[2 * 16 * 13 * 13];
    const int64_t count = (int64_t)n * 16 * h * w;
    for (int64_t k = 0; k < count; ++k) x[k] = (float)((k * 37 + n * 11 + h) % 101) * 0.02f - 1.0f;
    engine_tensor in, out;
    memset(&in, 0, sizeof in);
    memset(&out, 0, sizeof out);
    in.dtype = ENGINE_DTYPE_F32;
    in.rank = 4;
    in.dims[0] = n, in.dims[1] = 16, in.dims[2] = h, in.dims[3] = w;
    in.data = x;
    *st = engine_session_run_tensors(s, &in, 1, &out, 1);
    if (*st) return NULL;
    *numel = engine_tensor_numel(&out);
    float *y = malloc((size_t)*numel * sizeof *y);
    memcpy(y, out.data, (size_t)*numel * sizeof *y);
    return y;
}

static float *run_ok(engine_context *ctx, engine_session *s, int n, int h, int w, int64_t *numel) {
    engine_status st;
    float *y = run_big(s, n, h, w, numel, &st);
    if (!y) fail_msg("bigconv %dx16x%dx%d: %s", n, h, w, engine_context_error(ctx));
    return y;
}

static size_t released(engine_session *s) {
    return cache(s).released_weight_bytes;
}

static void same(const float *a, const float *b, int64_t n) {
    double w = worst(a, b, n);
    if (w > 1) fail_msg("outside atol 1e-5 + rtol 1e-4 of ref (x%.2f)", w);
}

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "r+b");
    if (!out) out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, got, out), got);
    fclose(in);
    fclose(out);
}

/* Open file descriptors (Linux: /proc/self/fd), -1 where unknown. */
static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d)) ++n;
    closedir(d);
    return n;
}

/* A cpu session hands the model's copy of the weights it packed back to
 * the system, only while no other live program reads them (a ref session
 * does), reads them back for a new signature and for a second session, and
 * stays within the op tolerance of ref throughout; a file changed after the
 * load makes a new signature fail with a message, not run on wrong weights. */
static void test_weights_released(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    if (!has_backend(ctx, "cpu")) {
        engine_context_destroy(ctx);
        skip();
    }
    const int fds = open_fds();
    engine_model *m = load(ctx, "bigconv.onnx");
    assert_int_equal(engine_model_optimize(m, ENGINE_OPT_DEFAULT), ENGINE_OK);
    int64_t n1 = 0, n2 = 0, k = 0;
    engine_session *r = threads_session(m, "ref", 1);
    assert_non_null(r);
    float *ref1 = run_ok(ctx, r, 1, 12, 10, &n1), *ref2 = run_ok(ctx, r, 2, 9, 13, &n2);
    assert_int_equal(released(r), 0);
    engine_session *c = threads_session(m, "cpu", 1);
    assert_non_null(c);
    float *y = run_ok(ctx, c, 1, 12, 10, &k);
    assert_int_equal(k, n1);
    same(y, ref1, n1);
    free(y);
    assert_int_equal(released(c), 0); /* the ref session's programs read them */
    engine_session_free(r);
    engine_session_free(c);

    engine_session_options ko; /* keep_weights: nothing released */
    memset(&ko, 0, sizeof ko);
    ko.backends = "cpu";
    ko.strict = 1;
    ko.threads = 1;
    ko.keep_weights = 1;
    c = NULL;
    assert_int_equal(engine_session_create(m, &ko, &c), ENGINE_OK);
    y = run_ok(ctx, c, 1, 12, 10, &k);
    same(y, ref1, n1);
    free(y);
    assert_int_equal(released(c), 0);
    engine_session_free(c);

    c = threads_session(m, "cpu", 1);
    assert_non_null(c);
    y = run_ok(ctx, c, 1, 12, 10, &k);
    same(y, ref1, n1);
    free(y);
    const size_t rel = released(c);
    assert_true(rel >= 100 * 1024); /* w1 72 KiB, w2 80 KiB: their whole pages */
    y = run_ok(ctx, c, 2, 9, 13, &k);    /* a new signature: read back, packed, released */
    assert_int_equal(k, n2);
    same(y, ref2, n2);
    free(y);
    assert_int_equal(released(c), rel);
    engine_session *c2 = threads_session(m, "cpu", 2); /* another backend instance: packs its own */
    assert_non_null(c2);
    y = run_ok(ctx, c2, 2, 9, 13, &k);
    same(y, ref2, n2);
    free(y);
    y = run_ok(ctx, c, 1, 12, 10, &k); /* the first session's programs are untouched */
    same(y, ref1, n1);
    free(y);
    assert_int_equal(released(c2), rel);
    engine_session_free(c);
    engine_session_free(c2);
    engine_model_free(m);

    /* the file rewritten after the load (same size, other weights) */
    char src[1024], other[1024], tmp[256];
    path(src, sizeof src, "bigconv.onnx");
    path(other, sizeof other, "bigconv_b.onnx");
    snprintf(tmp, sizeof tmp, "/tmp/test_dynamic_weights_%d.onnx", (int)getpid());
    copy_file(src, tmp);
    m = NULL;
    assert_int_equal(engine_model_load_file(ctx, tmp, &m), ENGINE_OK);
    c = threads_session(m, "cpu", 1);
    assert_non_null(c);
    y = run_ok(ctx, c, 1, 12, 10, &k);
    same(y, ref1, n1);
    free(y);
    assert_true(released(c) > 0);
    copy_file(other, tmp);
    engine_status st;
    assert_null(run_big(c, 2, 9, 13, &k, &st));
    assert_int_equal(st, ENGINE_ERR_IO);
    assert_non_null(strstr(engine_context_error(ctx), "changed since it was loaded"));
    y = run_ok(ctx, c, 1, 12, 10, &k); /* compiled before: holds its packed weights */
    same(y, ref1, n1);
    free(y);
    engine_session_free(c);
    engine_model_free(m);
    assert_int_equal(open_fds(), fds); /* the models' files are closed with them */
    unlink(tmp);
    free(ref1);
    free(ref2);
    engine_context_destroy(ctx);
}

/* Allocation i fails, for every i, over context + load + two signatures:
 * each attempt succeeds with the right answer or reports out of memory,
 * and leaks nothing. */
typedef struct failing {
    long countdown;
    long live;
} failing;

static void *fail_alloc(void *user, size_t size, size_t align) {
    failing *f = user;
    if (f->countdown-- == 0) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1)) return NULL;
    f->live++;
    return p;
}

static void fail_free(void *user, void *ptr) {
    failing *f = user;
    if (ptr) f->live--;
    free(ptr);
}

static engine_status oom_attempt(const engine_allocator *a, float *out_sum, int staged) {
    engine_context_options co;
    memset(&co, 0, sizeof co);
    co.allocator = *a;
    co.no_default_backends = 1;
    engine_context *ctx = NULL;
    engine_status st = engine_context_create(&co, &ctx);
    if (st) return st;
    char p[1024];
    snprintf(p, sizeof p, "%s", REF_MODULE);
    engine_model *m = NULL;
    engine_session *s = NULL;
    if ((st = engine_context_load_backend(ctx, p))) goto done;
    path(p, sizeof p, staged ? "nonzero_tail.onnx" : "convnet.onnx");
    if ((st = engine_model_load_file(ctx, p, &m))) goto done;
    if ((st = engine_model_optimize(m, ENGINE_OPT_DEFAULT))) goto done;
    engine_session_options o;
    memset(&o, 0, sizeof o);
    o.backends = "ref";
    o.max_specializations = 1;
    if ((st = engine_session_create(m, &o, &s))) goto done;
    static float x[2 * 3 * 10 * 6];
    for (size_t k = 0; k < sizeof x / sizeof x[0]; ++k) x[k] = (float)((k * 37) % 11) * 0.1f - 0.5f;
    *out_sum = 0;
    for (int r = 0; staged && r < 4; ++r) { /* NonZero: the head, host op and tail at three counts, then a hit */
        engine_tensor in, out[3];
        memset(&in, 0, sizeof in);
        memset(out, 0, sizeof out);
        in.dtype = ENGINE_DTYPE_F32;
        in.rank = 2;
        in.dims[0] = 1 + r % 3;
        in.dims[1] = 4;
        in.data = x + r % 3;
        if ((st = engine_session_run_tensors(s, &in, 1, out, 3))) goto done;
        *out_sum += *(float *)out[1].data + (float)out[0].dims[0];
    }
    for (int r = 0; !staged && r < 3; ++r) {
        engine_tensor in, out[2];
        memset(&in, 0, sizeof in);
        memset(out, 0, sizeof out);
        in.dtype = ENGINE_DTYPE_F32;
        in.rank = 4;
        in.dims[0] = r == 1 ? 2 : 1;
        in.dims[1] = 3;
        in.dims[2] = 10;
        in.dims[3] = 6;
        in.data = x;
        if ((st = engine_session_run_tensors(s, &in, 1, out, 2))) goto done;
        for (int64_t k = 0; k < engine_tensor_numel(&out[1]); ++k) *out_sum += ((float *)out[1].data)[k];
    }
done:
    if (st && st != ENGINE_ERR_OUT_OF_MEMORY) fprintf(stderr, "oom_attempt: %s\n", engine_context_error(ctx));
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
    return st;
}

static void test_out_of_memory_sweep(void **state) {
    (void)state;
    for (int staged = 0; staged < 2; ++staged) {
        float expect = 0, got = 0;
        engine_allocator plain = {fail_alloc, fail_free, &(failing){-1, 0}};
        assert_int_equal(oom_attempt(&plain, &expect, staged), ENGINE_OK);
        int failures = 0;
        for (long i = 0;; ++i) {
            failing f = {i, 0};
            engine_allocator a = {fail_alloc, fail_free, &f};
            engine_status st = oom_attempt(&a, &got, staged);
            if (st != ENGINE_OK && st != ENGINE_ERR_OUT_OF_MEMORY) fail_msg("allocation %ld: status %d (%s)", i, st, staged ? "staged model" : "convnet");
            if (f.live != 0) fail_msg("allocation %ld: %ld blocks leaked", i, f.live);
            if (st) {
                failures++;
                continue;
            }
            assert_float_equal(got, expect, 0);
            if (f.countdown >= 0) break; /* ran to the end without reaching allocation i */
        }
        assert_true(failures > 100);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_dynamic MODELS_DIR\n");
        return 2;
    }
    dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_backend_every_shape),
        cmocka_unit_test(test_same_as_static),
        cmocka_unit_test(test_weights_packed_once),
        cmocka_unit_test(test_weights_packed_per_form),
        cmocka_unit_test(test_weights_released),
        cmocka_unit_test(test_cache_bounds),
        cmocka_unit_test(test_shape_overrides),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_shape_parameter_input),
        cmocka_unit_test(test_control_flow),
        cmocka_unit_test(test_data_dependent),
        cmocka_unit_test(test_loop_data_stages),
        cmocka_unit_test(test_loop_while_data),
        cmocka_unit_test(test_staged_timings),
        cmocka_unit_test(test_two_sessions_options),
        cmocka_unit_test(test_out_of_memory_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
