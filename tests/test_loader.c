/* Backend module loader: the ref module is found in the build tree; a
 * missing file, a module of another ABI version and a module without the
 * entry point are refused with a message, and loading goes on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void test_default_scan_finds_ref(void **state) {
    (void)state;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    int found = -1;
    for (int k = 0; k < engine_backend_count(ctx); ++k)
        if (strcmp(engine_backend_name(ctx, k), "ref") == 0) found = k;
    assert_true(found >= 0);
    assert_int_equal(engine_backend_score(ctx, found), 10);
    assert_non_null(engine_backend_description(ctx, found));
    assert_string_equal(engine_backend_rejections(ctx), "");
    engine_context_destroy(ctx);
}

static void test_broken_modules_in_a_folder(void **state) {
    (void)state;
    /* A folder holding the two broken test modules: both refused and
     * listed with their reasons, and ref is still found after them. */
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.backend_path = TEST_BUILD_ROOT "/tests";
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
    const char *rej = engine_backend_rejections(ctx);
    assert_non_null(strstr(rej, "engine-backend-badabi.so"));
    assert_non_null(strstr(rej, "ABI version"));
    assert_non_null(strstr(rej, "engine-backend-noentry.so"));
    assert_non_null(strstr(rej, "entry point"));
    int found = 0;
    for (int k = 0; k < engine_backend_count(ctx); ++k) found |= strcmp(engine_backend_name(ctx, k), "ref") == 0;
    assert_true(found);
    engine_context_destroy(ctx);
}

static void test_explicit_loads(void **state) {
    (void)state;
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.no_default_backends = 1;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
    assert_int_equal(engine_backend_count(ctx), 0);

    assert_int_equal(engine_context_load_backend(ctx, "/nonexistent/engine-backend-x.so"), ENGINE_ERR_BACKEND);
    assert_non_null(strstr(engine_context_error(ctx), "/nonexistent/engine-backend-x.so"));

    assert_int_equal(engine_context_load_backend(ctx, TEST_BAD_ABI_MODULE), ENGINE_ERR_ABI);
    assert_non_null(strstr(engine_context_error(ctx), "ABI version"));

    assert_int_equal(engine_context_load_backend(ctx, TEST_NO_ENTRY_MODULE), ENGINE_ERR_ABI);
    assert_non_null(strstr(engine_context_error(ctx), "entry point"));
    assert_int_equal(engine_backend_count(ctx), 0);

    assert_int_equal(engine_context_load_backend(ctx, TEST_BUILD_ROOT "/backends/ref/engine-backend-ref.so"), ENGINE_OK);
    assert_int_equal(engine_backend_count(ctx), 1);
    assert_string_equal(engine_backend_name(ctx, 0), "ref");
    /* The same backend twice is refused. */
    assert_int_equal(engine_context_load_backend(ctx, TEST_BUILD_ROOT "/backends/ref/engine-backend-ref.so"),
                     ENGINE_ERR_BACKEND);
    assert_int_equal(engine_backend_count(ctx), 1);
    engine_context_destroy(ctx);
}

static void test_env_path(void **state) {
    (void)state;
    /* ENGINE_BACKEND_PATH may name a file; a bad entry is skipped. */
    setenv("ENGINE_BACKEND_PATH", "/nonexistent-dir:" TEST_BAD_ABI_MODULE, 1);
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(NULL, &ctx), ENGINE_OK);
    assert_non_null(strstr(engine_backend_rejections(ctx), "badabi"));
    assert_true(engine_backend_count(ctx) >= 1); /* ref still found in the build tree */
    engine_context_destroy(ctx);
    unsetenv("ENGINE_BACKEND_PATH");
}

static void test_session_without_backends(void **state) {
    (void)state;
    assert_string_equal(engine_status_str(ENGINE_OK), "ok");
    assert_string_equal(engine_status_str(ENGINE_ERR_ABI), "ABI version mismatch");
    assert_string_equal(engine_status_str((engine_status)999), "unknown status");
    assert_int_equal(engine_dtype_size(ENGINE_DTYPE_I64), 8);
    assert_string_equal(engine_dtype_name(ENGINE_DTYPE_BOOL), "bool");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_scan_finds_ref),
        cmocka_unit_test(test_broken_modules_in_a_folder),
        cmocka_unit_test(test_explicit_loads),
        cmocka_unit_test(test_env_path),
        cmocka_unit_test(test_session_without_backends),
    };
    return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
