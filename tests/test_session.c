/* Sessions through the public API: placement with fallback across two
 * backends (a Relu-only test backend and ref), partitions and seams, strict
 * mode, auto, profiling, dumps, and an out-of-memory sweep over load +
 * compile + run in which every failure is reported and nothing leaks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#define LENET TEST_SOURCE_ROOT "/demo/lenet5.onnx"

typedef struct text {
    char buf[8192];
} text;

static void append(void *user, const char *s) {
    text *t = user;
    strncat(t->buf, s, sizeof t->buf - strlen(t->buf) - 1);
}

static engine_context *new_ctx(const engine_allocator *a) {
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.backend_path = TEST_BUILD_ROOT "/tests"; /* the reluonly test backend (and two broken modules) */
    if (a) o.allocator = *a;
    engine_context *ctx = NULL;
    engine_status st = engine_context_create(&o, &ctx);
    return st == ENGINE_OK ? ctx : NULL;
}

static float input[1 * 1 * 32 * 32];

static void fill_input(void) {
    uint32_t x = 12345;
    for (size_t k = 0; k < sizeof input / sizeof input[0]; ++k) {
        x = x * 1664525u + 1013904223u;
        input[k] = (float)(x >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
}

/* Loads and runs LeNet with the given backend list; the placement summary
 * and JSON dump go to *report when it is not NULL. */
static engine_status run_lenet(engine_context *ctx, const char *backends, int strict, float out[10], text *report) {
    engine_model *m = NULL;
    engine_session *s = NULL;
    engine_status st = engine_model_load_file(ctx, LENET, &m);
    if (st) return st;
    engine_session_options so;
    memset(&so, 0, sizeof so);
    so.backends = backends;
    so.strict = strict;
    so.profile = 1;
    st = engine_session_create(m, &so, &s);
    if (st == ENGINE_OK) {
        const void *in[1] = {input};
        void *outs[1] = {out};
        st = engine_session_run(s, in, outs);
    }
    if (st == ENGINE_OK && report) {
        report->buf[0] = 0;
        engine_session_placement(s, append, report);
        engine_model_dump(m, s, 1, append, report);
        const engine_node_timing *t;
        int count;
        assert_int_equal(engine_session_timings(s, &t, &count), ENGINE_OK);
        assert_int_equal(count, engine_model_node_count(m));
        for (int k = 0; k < count; ++k) {
            assert_non_null(t[k].backend);
            assert_true(t[k].ms >= 0);
        }
    }
    engine_session_free(s);
    engine_model_free(m);
    return st;
}

static void test_fallback_splits_into_partitions(void **state) {
    (void)state;
    engine_context *ctx = new_ctx(NULL);
    assert_non_null(ctx);
    float ref_out[10], mixed_out[10];
    text report;
    assert_int_equal(run_lenet(ctx, "ref", 1, ref_out, NULL), ENGINE_OK);
    assert_int_equal(run_lenet(ctx, "reluonly,ref", 0, mixed_out, &report), ENGINE_OK);
    /* LeNet has four Relus, each between two ref nodes: 9 partitions. */
    assert_non_null(strstr(report.buf, "placement: reluonly 4 nodes"));
    assert_non_null(strstr(report.buf, "placement: ref      8 nodes"));
    assert_non_null(strstr(report.buf, "9 partitions"));
    assert_non_null(strstr(report.buf, "\"backend\":\"reluonly\""));
    assert_memory_equal(ref_out, mixed_out, sizeof ref_out);
    engine_context_destroy(ctx);
}

static void test_strict_names_the_node(void **state) {
    (void)state;
    engine_context *ctx = new_ctx(NULL);
    float out[10];
    assert_int_equal(run_lenet(ctx, "reluonly", 1, out, NULL), ENGINE_ERR_UNSUPPORTED);
    const char *msg = engine_context_error(ctx);
    assert_non_null(strstr(msg, "(Conv)"));
    assert_non_null(strstr(msg, "reluonly"));
    assert_non_null(strstr(msg, "strict"));
    /* Without strict the same list falls back to ref for the rest. */
    assert_int_equal(run_lenet(ctx, "reluonly", 0, out, NULL), ENGINE_OK);
    engine_context_destroy(ctx);
}

static void test_auto_prefers_best_score(void **state) {
    (void)state;
    engine_context *ctx = new_ctx(NULL);
    float out[10];
    text report;
    assert_int_equal(run_lenet(ctx, "auto", 0, out, &report), ENGINE_OK);
    /* The best-scored loaded backend runs all of LeNet: cpu (score 100)
     * when its module is built beside ref (10), else ref. */
    assert_true(strstr(report.buf, "placement: cpu      12 nodes") || strstr(report.buf, "placement: ref      12 nodes"));
    assert_non_null(strstr(report.buf, "1 partition,"));
    assert_int_equal(run_lenet(ctx, "nosuch", 0, out, NULL), ENGINE_ERR_NOT_FOUND);
    assert_non_null(strstr(engine_context_error(ctx), "nosuch"));
    engine_context_destroy(ctx);
}

/* Allocator that fails the n-th allocation and counts live blocks. */
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

static void test_out_of_memory_sweep(void **state) {
    (void)state;
    float expect[10], out[10];
    engine_context *ctx = new_ctx(NULL);
    assert_int_equal(run_lenet(ctx, "ref", 1, expect, NULL), ENGINE_OK);
    engine_context_destroy(ctx);
    /* Fail allocation i for every i over context + load + compile + run on
     * ref: each attempt either succeeds with the right answer or reports
     * out of memory, and frees everything it took. */
    int failures = 0;
    for (long i = 0;; ++i) {
        failing f = {i, 0};
        engine_allocator a = {fail_alloc, fail_free, &f};
        engine_context *c = new_ctx(&a);
        if (!c) {
            assert_int_equal(f.live, 0);
            failures++;
            continue;
        }
        engine_status st = run_lenet(c, "ref", 1, out, NULL);
        if (st != ENGINE_OK) {
            if (st != ENGINE_ERR_OUT_OF_MEMORY) fail_msg("allocation %ld: status %d: %s", i, st, engine_context_error(c));
            failures++;
        } else {
            assert_memory_equal(out, expect, sizeof out);
        }
        engine_context_destroy(c);
        if (f.live != 0) fail_msg("allocation %ld: %ld blocks leaked", i, f.live);
        if (st == ENGINE_OK && f.countdown >= 0) break; /* ran to the end without reaching allocation i */
    }
    assert_true(failures > 50);
}

int main(void) {
    fill_input();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback_splits_into_partitions),
        cmocka_unit_test(test_strict_names_the_node),
        cmocka_unit_test(test_auto_prefers_best_score),
        cmocka_unit_test(test_out_of_memory_sweep),
    };
    return cmocka_run_group_tests_name("session", tests, NULL, NULL);
}
