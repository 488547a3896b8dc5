/* test_plugins.c - custom-op plugins through the public API only.
 *
 * The example plugins (plugins/) run on every loaded, usable backend with
 * --strict semantics against numpy references (gen_plugin_models.py); each
 * refusal of plugin.h is provoked with a broken plugin and its status and
 * message checked; the context keeps working after every refusal;
 * ENGINE_PLUGIN_PATH; placement falls back around a backend without the
 * op's kernel. Paths come from meson as -D defines. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"

#define PLUGIN(name) PLUGIN_DIR "/engine-plugin-" name ".so"
#define SWISH PLUGIN("swish")
#define YOLO PLUGIN("yolo-decode")
#define BROKEN(kind) PLUGIN("broken-" kind)

static engine_context *new_ctx(void) {
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    return ctx;
}

static void assert_contains(const char *text, const char *part) {
    if (!strstr(text, part)) fail_msg("'%s' does not contain '%s'", text, part);
}

static engine_status load_case(engine_context *ctx, const char *name, engine_model **model) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/model.onnx", MODELS_DIR, name);
    return engine_model_load_file(ctx, path, model);
}

typedef struct text {
    char buf[4096];
    size_t len;
} text;

static void append(void *user, const char *s) {
    text *t = user;
    size_t n = strlen(s);
    if (t->len + n < sizeof t->buf) {
        memcpy(t->buf + t->len, s, n + 1);
        t->len += n;
    }
}

/* Runs case `name` on `backends` (strict unless told) and compares with
 * output_0.npy: |got - want| <= atol + rtol |want|. The placement summary
 * goes to *placement when given. */
static void run_case(engine_context *ctx, const char *name, const char *backends, int strict, double atol,
                     double rtol, text *placement) {
    engine_model *model = NULL;
    engine_session *session = NULL;
    engine_tensor in[2], want;
    memset(in, 0, sizeof in);
    memset(&want, 0, sizeof want);
    char path[1024];
    if (load_case(ctx, name, &model) != ENGINE_OK) fail_msg("%s: %s", name, engine_context_error(ctx));
    assert_int_equal(engine_model_optimize(model, ENGINE_OPT_DEFAULT), ENGINE_OK);
    int n_in = engine_model_input_count(model);
    assert_true(n_in >= 1 && n_in <= 2);
    const void *inputs[2];
    for (int k = 0; k < n_in; ++k) {
        snprintf(path, sizeof path, "%s/%s/input_%d.npy", MODELS_DIR, name, k);
        assert_int_equal(engine_tensor_load(ctx, path, &in[k]), ENGINE_OK);
        inputs[k] = in[k].data;
    }
    snprintf(path, sizeof path, "%s/%s/output_0.npy", MODELS_DIR, name);
    assert_int_equal(engine_tensor_load(ctx, path, &want), ENGINE_OK);
    engine_tensor_info info;
    assert_int_equal(engine_model_output_info(model, 0, &info), ENGINE_OK);
    int64_t count = engine_tensor_numel(&want);
    int64_t got_count = 1;
    for (int d = 0; d < info.rank; ++d) got_count *= info.dims[d];
    assert_int_equal(got_count, count);
    float *got = calloc((size_t)count, sizeof *got);
    assert_non_null(got);
    engine_session_options so;
    memset(&so, 0, sizeof so);
    so.backends = backends;
    so.strict = strict;
    if (engine_session_create(model, &so, &session) != ENGINE_OK)
        fail_msg("%s on %s: %s", name, backends, engine_context_error(ctx));
    void *outputs[1] = {got};
    if (engine_session_run(session, inputs, outputs) != ENGINE_OK)
        fail_msg("%s on %s: %s", name, backends, engine_context_error(ctx));
    const float *w = want.data;
    for (int64_t i = 0; i < count; ++i)
        if (!(fabs((double)got[i] - (double)w[i]) <= atol + rtol * fabs((double)w[i])))
            fail_msg("%s on %s: element %lld is %.9g, numpy says %.9g", name, backends, (long long)i, (double)got[i],
                     (double)w[i]);
    if (placement) assert_int_equal(engine_session_placement(session, append, placement), ENGINE_OK);
    free(got);
    engine_session_free(session);
    engine_model_free(model);
    for (int k = 0; k < n_in; ++k) engine_tensor_release(ctx, &in[k]);
    engine_tensor_release(ctx, &want);
}

/* Every loaded backend that starts here (score >= 0: an OpenCL module
 * without a device is loaded but unusable), strict: the plugin op must run
 * on it, not fall back. */
static void run_everywhere(engine_context *ctx, const char *name, double atol, double rtol) {
    int ran = 0;
    for (int b = 0; b < engine_backend_count(ctx); ++b) {
        if (engine_backend_score(ctx, b) < 0) continue;
        const char *backend = engine_backend_name(ctx, b);
        /* Test modules of other suites are not real backends. */
        if (strcmp(backend, "ref") != 0 && strcmp(backend, "cpu") != 0 && strcmp(backend, "opencl") != 0) continue;
        text placement = {"", 0};
        run_case(ctx, name, backend, 1, atol, rtol, &placement);
        char expect[64];
        snprintf(expect, sizeof expect, "placement: %s ", backend);
        assert_contains(placement.buf, expect);
        ran += strcmp(backend, "ref") == 0;
    }
    assert_int_equal(ran, 1); /* ref at least */
}

static void test_swish_conv_every_backend(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    assert_int_equal(engine_context_load_plugin(ctx, SWISH), ENGINE_OK);
    assert_int_equal(engine_plugin_op_count(ctx), 1);
    run_everywhere(ctx, "swish_conv", 1e-5, 0.0);
    run_everywhere(ctx, "swish_default", 1e-5, 0.0);
    engine_context_destroy(ctx);
}

static void test_yolo_every_backend(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    assert_int_equal(engine_context_load_plugin(ctx, YOLO), ENGINE_OK);
    run_everywhere(ctx, "yolo", 1e-5, 1e-4);
    run_everywhere(ctx, "yolo_noimg", 1e-5, 1e-4);
    engine_context_destroy(ctx);
}

/* One refusal: status, message parts, nothing registered, context usable. */
static void expect_refusal(engine_context *ctx, const char *path, engine_status status, const char *part) {
    int before = engine_plugin_op_count(ctx);
    assert_int_equal(engine_context_load_plugin(ctx, path), status);
    const char *msg = engine_context_error(ctx);
    assert_contains(msg, path);
    assert_contains(msg, "refused");
    assert_contains(msg, part);
    assert_contains(engine_plugin_rejections(ctx), path);
    assert_int_equal(engine_plugin_op_count(ctx), before);
}

static void test_refusals(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    assert_int_equal(engine_context_load_plugin(ctx, SWISH), ENGINE_OK);
    expect_refusal(ctx, BROKEN("bad_abi"), ENGINE_ERR_ABI, "plugin ABI version 999");
    expect_refusal(ctx, BROKEN("entry_abi"), ENGINE_ERR_ABI, "another plugin ABI version");
    expect_refusal(ctx, BROKEN("no_entry"), ENGINE_ERR_NOT_FOUND, "no engine_plugin_register entry point");
    expect_refusal(ctx, PLUGIN_DIR "/no-such-plugin.so", ENGINE_ERR_NOT_FOUND, "cannot be opened");
    expect_refusal(ctx, BROKEN("dup_builtin"), ENGINE_ERR_INVALID_ARGUMENT, "'Relu' is a built-in ONNX op");
    expect_refusal(ctx, BROKEN("dup_plugin"), ENGINE_ERR_INVALID_ARGUMENT, "duplicate op");
    assert_contains(engine_context_error(ctx), "engine-plugin-swish.so"); /* who has it already */
    expect_refusal(ctx, SWISH, ENGINE_ERR_INVALID_ARGUMENT, "duplicate op"); /* the same file twice */
    /* bad_schema registers a good op before the bad one: both go. */
    expect_refusal(ctx, BROKEN("bad_schema"), ENGINE_ERR_INVALID_ARGUMENT, "required attribute with a default");
    assert_contains(engine_context_error(ctx), "BadSchema");
    engine_model *model = NULL;
    assert_int_equal(load_case(ctx, "swish_default", &model), ENGINE_OK); /* still works */
    engine_model_free(model);
    assert_int_equal(engine_context_load_plugin(ctx, YOLO), ENGINE_OK); /* and still loads plugins */
    assert_int_equal(engine_plugin_op_count(ctx), 2);
    run_case(ctx, "swish_conv", "ref", 1, 1e-5, 0.0, NULL);
    engine_context_destroy(ctx);
}

static void expect_model_refused(engine_context *ctx, const char *name, engine_status status, const char *part1,
                                 const char *part2) {
    engine_model *model = NULL;
    assert_int_equal(load_case(ctx, name, &model), status);
    assert_null(model);
    const char *msg = engine_context_error(ctx);
    assert_contains(msg, part1);
    assert_contains(msg, part2);
}

static void test_model_refusals(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    /* Without the plugin the op is unknown. */
    expect_model_refused(ctx, "swish_default", ENGINE_ERR_UNSUPPORTED, "node 'swish_default' (Swish)",
                         "of domain com.example is not supported");
    assert_int_equal(engine_context_load_plugin(ctx, BROKEN("shape_fail")), ENGINE_OK);
    assert_int_equal(engine_context_load_plugin(ctx, SWISH), ENGINE_OK);
    assert_int_equal(engine_context_load_plugin(ctx, YOLO), ENGINE_OK);
    expect_model_refused(ctx, "shape_fail", ENGINE_ERR_SHAPE, "node 'fail1' (FailShape)",
                         "engine-plugin-broken-shape_fail.so) failed: this shape function always refuses");
    expect_model_refused(ctx, "unknown_attr", ENGINE_ERR_INVALID_MODEL, "node 'swish_gamma' (Swish)",
                         "unknown attribute 'gamma'");
    expect_model_refused(ctx, "typed_attr", ENGINE_ERR_INVALID_MODEL, "node 'swish_int_beta' (Swish)",
                         "attribute 'beta' is int, plugin engine-plugin-swish.so expects float");
    expect_model_refused(ctx, "missing_attr", ENGINE_ERR_INVALID_MODEL, "node 'decode_no_anchors' (YoloDecode)",
                         "required attribute 'anchors' is missing");
    /* The context goes on. */
    run_case(ctx, "swish_default", "ref", 1, 1e-5, 0.0, NULL);
    engine_context_destroy(ctx);
}

/* A backend without the op's kernel (the Relu-only test module) falls
 * back to ref, visibly; strict fails naming the plugin node. */
static void test_placement_fallback(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    assert_int_equal(engine_context_load_backend(ctx, RELUONLY_MODULE), ENGINE_OK);
    assert_int_equal(engine_context_load_plugin(ctx, SWISH), ENGINE_OK);
    text placement = {"", 0};
    run_case(ctx, "swish_default", "reluonly,ref", 0, 1e-5, 0.0, &placement);
    assert_contains(placement.buf, "placement: ref      1 node");
    engine_model *model = NULL;
    engine_session *session = NULL;
    assert_int_equal(load_case(ctx, "swish_default", &model), ENGINE_OK);
    engine_session_options so;
    memset(&so, 0, sizeof so);
    so.backends = "reluonly";
    so.strict = 1;
    assert_int_not_equal(engine_session_create(model, &so, &session), ENGINE_OK);
    assert_contains(engine_context_error(ctx), "swish_default");
    engine_model_free(model);
    engine_context_destroy(ctx);
}

static void test_plugin_path_env(void **state) {
    (void)state;
    /* Files: a missing one is refused and logged, the next one loads. */
    assert_int_equal(setenv("ENGINE_PLUGIN_PATH", PLUGIN_DIR "/missing.so:" SWISH, 1), 0);
    engine_context *ctx = new_ctx();
    assert_int_equal(engine_plugin_op_count(ctx), 1);
    assert_contains(engine_plugin_rejections(ctx), "missing.so");
    assert_string_equal(engine_context_error(ctx), "");
    run_case(ctx, "swish_conv", "ref", 1, 1e-5, 0.0, NULL);
    engine_context_destroy(ctx);

    /* A folder: every *.so in it, by name. */
    char dir[] = "/tmp/engine-plugin-path-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char link1[512], link2[512], link3[512], other[512];
    snprintf(link1, sizeof link1, "%s/a-bad.so", dir);
    snprintf(link2, sizeof link2, "%s/b-swish.so", dir);
    snprintf(link3, sizeof link3, "%s/c-yolo.so", dir);
    snprintf(other, sizeof other, "%s/readme.txt", dir);
    assert_int_equal(symlink(BROKEN("bad_abi"), link1), 0);
    assert_int_equal(symlink(SWISH, link2), 0);
    assert_int_equal(symlink(YOLO, link3), 0);
    FILE *f = fopen(other, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(setenv("ENGINE_PLUGIN_PATH", dir, 1), 0);
    ctx = new_ctx();
    assert_int_equal(engine_plugin_op_count(ctx), 2);
    assert_contains(engine_plugin_rejections(ctx), "a-bad.so");
    run_case(ctx, "yolo", "ref", 1, 1e-5, 1e-4, NULL);
    engine_context_destroy(ctx);
    unsetenv("ENGINE_PLUGIN_PATH");
    unlink(link1);
    unlink(link2);
    unlink(link3);
    unlink(other);
    rmdir(dir);
}

/* An allocator that fails the i-th allocation: loading a plugin and a
 * model that uses it either succeeds or fails cleanly (ASan sees leaks). */
typedef struct failing {
    long countdown;
} failing;

static void *failing_alloc(void *user, size_t size, size_t align) {
    failing *f = user;
    if (f->countdown-- == 0) return NULL;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    return posix_memalign(&p, align, size) == 0 ? p : NULL;
}

static void failing_free(void *user, void *p) {
    (void)user;
    free(p);
}

static void test_out_of_memory(void **state) {
    (void)state;
    int succeeded = 0;
    for (long i = 0; i < 400 && !succeeded; ++i) {
        failing f = {-1};
        engine_context_options o;
        memset(&o, 0, sizeof o);
        o.allocator = (engine_allocator){failing_alloc, failing_free, &f};
        o.no_default_backends = 1;
        engine_context *ctx = NULL;
        assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
        f.countdown = i;
        engine_status st = engine_context_load_plugin(ctx, SWISH);
        if (st == ENGINE_OK) st = engine_context_load_plugin(ctx, YOLO);
        engine_model *model = NULL;
        if (st == ENGINE_OK) st = load_case(ctx, "yolo", &model);
        if (st == ENGINE_OK) succeeded = 1;
        else assert_int_equal(st, ENGINE_ERR_OUT_OF_MEMORY);
        engine_model_free(model);
        engine_context_destroy(ctx);
    }
    assert_true(succeeded);
}

int main(void) {
    unsetenv("ENGINE_PLUGIN_PATH"); /* the counts below assume only what each test loads */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swish_conv_every_backend),
        cmocka_unit_test(test_yolo_every_backend),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_model_refusals),
        cmocka_unit_test(test_placement_fallback),
        cmocka_unit_test(test_plugin_path_env),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
