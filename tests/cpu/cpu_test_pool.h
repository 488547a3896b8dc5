/*
 * tests/cpu/cpu_test_pool.h - a cpu_pool for the kernel tests and probes,
 * which call the kernels directly (no module, no run): without a pool
 * bound to the calling thread every kernel loop runs on that thread alone,
 * so the tests bind one of TEST_POOL_THREADS threads, and a kernel asked
 * for 2 or 3 threads then really runs on that many.
 */
#ifndef ENGINE_TESTS_CPU_TEST_POOL_H
#define ENGINE_TESTS_CPU_TEST_POOL_H

#include <stdlib.h>

#include "cpu_pool.h"

#define TEST_POOL_THREADS 4

static void *test_pool_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (align < sizeof(void *)) align = sizeof(void *);
    return aligned_alloc(align, (size + align - 1) / align * align);
}

static void test_pool_free(void *user, void *ptr) {
    (void)user;
    free(ptr);
}

static cpu_pool *test_pool;

/* Creates, starts and binds a pool of `threads`; 0 on success. */
static inline int test_pool_bind(int threads) {
    const engine_allocator a = {test_pool_alloc, test_pool_free, NULL};
    if (cpu_pool_create(&a, threads, cpu_pool_spin_from_env(), &test_pool) != ENGINE_OK) return -1;
    cpu_pool_start(test_pool);
    cpu_pool_bind(test_pool);
    return 0;
}

static inline void test_pool_unbind(void) {
    cpu_pool_bind(NULL);
    cpu_pool_destroy(test_pool);
    test_pool = NULL;
}

/* cmocka group setup / teardown */
static inline int test_pool_setup(void **state) {
    (void)state;
    return test_pool_bind(TEST_POOL_THREADS);
}

static inline int test_pool_teardown(void **state) {
    (void)state;
    test_pool_unbind();
    return 0;
}

#endif /* ENGINE_TESTS_CPU_TEST_POOL_H */
