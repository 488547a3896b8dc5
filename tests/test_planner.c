/* test_planner.c - the shared liveness planner (engine/src/planner.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct fail_at {
    int count, fail;
} fail_at;

static void *t_alloc(void *user, size_t size, size_t align) {
    fail_at *f = user;
    (void)align;
    if (f && f->fail >= 0 && f->count++ == f->fail) return NULL;
    return malloc(size);
}

static void t_free(void *user, void *p) {
    (void)user;
    free(p);
}

static int overlaps(const engine_plan_buffer *a, const engine_plan_buffer *b) {
    int time = !(a->first > b->last || b->first > a->last);
    int space = !(a->offset + a->size <= b->offset || b->offset + b->size <= a->offset);
    return time && space;
}

/* Lower bound: the largest sum of sizes live at one step. */
static size_t peak_live(const engine_plan_buffer *b, int n, int steps) {
    size_t best = 0;
    for (int t = 0; t < steps; ++t) {
        size_t sum = 0;
        for (int k = 0; k < n; ++k)
            if (b[k].first <= t && t <= b[k].last) sum += b[k].size;
        if (sum > best) best = sum;
    }
    return best;
}

static void chain_reuses_memory(void **state) {
    (void)state;
    engine_allocator a = {t_alloc, t_free, NULL};
    /* A chain: each buffer lives from its producer to its one reader. */
    engine_plan_buffer b[6];
    for (int k = 0; k < 6; ++k) b[k] = (engine_plan_buffer){1024, k, k + 1, 0};
    size_t arena;
    assert_int_equal(eng_plan_arena(&a, b, 6, 64, &arena), ENGINE_OK);
    assert_int_equal(arena, 2048); /* ping-pong */
    for (int i = 0; i < 6; ++i)
        for (int j = i + 1; j < 6; ++j) assert_false(overlaps(&b[i], &b[j]));
}

static void random_plans_are_valid_and_tight(void **state) {
    (void)state;
    engine_allocator a = {t_alloc, t_free, NULL};
    srand(1234);
    for (int trial = 0; trial < 200; ++trial) {
        engine_plan_buffer b[40];
        int n = 1 + rand() % 40, steps = 1 + rand() % 30;
        for (int k = 0; k < n; ++k) {
            int f = rand() % steps, l = f + rand() % (steps - f);
            b[k] = (engine_plan_buffer){(size_t)(1 + rand() % 5000) * 64, f, l, 0};
        }
        size_t arena;
        assert_int_equal(eng_plan_arena(&a, b, n, 64, &arena), ENGINE_OK);
        size_t lower = peak_live(b, n, steps);
        assert_true(arena >= lower);
        assert_true(arena <= lower * 2); /* greedy stays near the bound on these */
        for (int i = 0; i < n; ++i) {
            assert_int_equal(b[i].offset % 64, 0);
            assert_true(b[i].offset + b[i].size <= arena);
            for (int j = i + 1; j < n; ++j) assert_false(overlaps(&b[i], &b[j]));
        }
    }
}

static void bad_arguments_and_oom(void **state) {
    (void)state;
    fail_at f = {0, -1};
    engine_allocator a = {t_alloc, t_free, &f};
    engine_plan_buffer b[2] = {{16, 0, 1, 0}, {16, 2, 1, 0}};
    size_t arena = 99;
    assert_int_equal(eng_plan_arena(&a, b, 2, 64, &arena), ENGINE_ERR_INVALID_ARGUMENT); /* last < first */
    assert_int_equal(eng_plan_arena(&a, b, 1, 48, &arena), ENGINE_ERR_INVALID_ARGUMENT); /* not a power of two */
    assert_int_equal(eng_plan_arena(&a, b, 0, 64, &arena), ENGINE_OK);
    assert_int_equal(arena, 0);
    b[1] = (engine_plan_buffer){SIZE_MAX - 8, 0, 1, 0};
    assert_int_equal(eng_plan_arena(&a, b, 2, 64, &arena), ENGINE_ERR_INVALID_ARGUMENT); /* overflow */
    b[1] = (engine_plan_buffer){16, 0, 1, 0};
    for (int i = 0; i < 3; ++i) {
        f = (fail_at){0, i};
        assert_int_equal(eng_plan_arena(&a, b, 2, 64, &arena), ENGINE_ERR_OUT_OF_MEMORY);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_reuses_memory),
        cmocka_unit_test(random_plans_are_valid_and_tight),
        cmocka_unit_test(bad_arguments_and_oom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
