/*
 * tests/cpu/test_cpu_pool.c - the cpu backend's thread pool (cpu_pool.h):
 * every item of every loop runs exactly once and on a thread id below the
 * loop's thread count, whatever the spin budget; loops started from inside
 * a loop or while another thread owns the pool run on their caller; several
 * pools run at once from several threads (the concurrency of several
 * contexts, run under ThreadSanitizer by tools/test.sh); the thread count
 * from the affinity mask and cgroup quota; ENGINE_CPU_SPIN; out of memory.
 */
#if !defined(_GNU_SOURCE)
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "cpu_pool.h"
#include "cpu_test_pool.h"

#define MAX_ITEMS 4096

typedef struct count_ctx {
    atomic_int hits[MAX_ITEMS];
    atomic_int bad_tid;
    int threads;
    atomic_int tids_seen; /* bit t: thread t ran a unit */
} count_ctx;

static void count_task(void *vc, int tid, int64_t i0, int64_t i1) {
    count_ctx *c = vc;
    if (tid < 0 || tid >= c->threads) atomic_fetch_add(&c->bad_tid, 1);
    if (tid >= 0 && tid < 31) atomic_fetch_or(&c->tids_seen, 1 << tid);
    for (int64_t i = i0; i < i1; ++i) atomic_fetch_add(&c->hits[i], 1);
}

static void check_loop_mode(int threads, int n, int grain, count_ctx *c, int home) {
    for (int i = 0; i < n; ++i) atomic_store(&c->hits[i], 0);
    atomic_store(&c->bad_tid, 0);
    c->threads = threads;
    if (home) cpu_parallel_for_home(threads, n, grain, count_task, c);
    else cpu_parallel_for(threads, n, grain, count_task, c);
    for (int i = 0; i < n; ++i) assert_int_equal(atomic_load(&c->hits[i]), 1);
    assert_int_equal(atomic_load(&c->bad_tid), 0);
}

static void check_loop(int threads, int n, int grain, count_ctx *c) {
    check_loop_mode(threads, n, grain, c, 0);
}

static cpu_pool *make_pool(int threads, int spin_us) {
    const engine_allocator a = {test_pool_alloc, test_pool_free, NULL};
    cpu_pool *p = NULL;
    assert_int_equal(cpu_pool_create(&a, threads, spin_us, &p), ENGINE_OK);
    assert_non_null(p);
    return p;
}

/* Every item once, for sizes around the unit boundaries, 1-4 threads,
 * automatic and explicit grains, spin budgets 0 (block at once), small and
 * the default. */
static void test_every_item_once(void **state) {
    (void)state;
    static count_ctx c;
    const int spins[] = {0, 5, CPU_POOL_SPIN_DEFAULT_US};
    const int sizes[] = {1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, MAX_ITEMS};
    for (size_t si = 0; si < sizeof spins / sizeof spins[0]; ++si) {
        cpu_pool *p = make_pool(4, spins[si]);
        assert_int_equal(cpu_pool_start(p), 4);
        assert_int_equal(cpu_pool_start(p), 4); /* idempotent */
        cpu_pool *old = cpu_pool_bind(p);
        for (int t = 1; t <= 4; ++t)
            for (size_t ni = 0; ni < sizeof sizes / sizeof sizes[0]; ++ni)
                for (int grain = 0; grain <= 3; ++grain) check_loop(t, sizes[ni], grain, &c);
        /* more threads than the pool has: clamped */
        check_loop(64, 1000, 1, &c);
        cpu_pool_bind(old);
        cpu_pool_destroy(p);
    }
}

/* Many tiny loops back to back: the hand-over between loops (a worker
 * late for one loop must not take items of the next). */
static void test_many_small_loops(void **state) {
    (void)state;
    static count_ctx c;
    cpu_pool *p = make_pool(3, 20);
    cpu_pool_start(p);
    cpu_pool *old = cpu_pool_bind(p);
    for (int r = 0; r < 20000; ++r) check_loop(3, 1 + r % 13, 1, &c);
    cpu_pool_bind(old);
    cpu_pool_destroy(p);
}

/* The workers take part: on a loop of slow units some unit runs on a
 * thread other than the caller (tid > 0). Retried, since on a busy machine
 * the caller may take every unit before a worker wakes. */
static void slow_task(void *vc, int tid, int64_t i0, int64_t i1) {
    count_ctx *c = vc;
    count_task(vc, tid, i0, i1);
    (void)c;
    const struct timespec t = {0, 200000}; /* 0.2 ms */
    nanosleep(&t, NULL);
}

static void test_workers_take_part(void **state) {
    (void)state;
    static count_ctx c;
    cpu_pool *p = make_pool(2, 0);
    cpu_pool_start(p);
    cpu_pool *old = cpu_pool_bind(p);
    int seen = 0;
    for (int r = 0; r < 50 && !seen; ++r) {
        atomic_store(&c.tids_seen, 0);
        c.threads = 2;
        cpu_parallel_for(2, 64, 1, slow_task, &c);
        seen = (atomic_load(&c.tids_seen) & 2) != 0;
    }
    assert_true(seen);
    cpu_pool_bind(old);
    cpu_pool_destroy(p);
}

/* Home ranges (cpu_parallel_for_home): every item once for the sizes,
 * threads and grains above, loops of both kinds interleaved back to back
 * (a worker late for one must not take units of the next, whichever
 * kind), and no unit lost when the pool has fewer threads than asked. */
static void test_home_every_item_once(void **state) {
    (void)state;
    static count_ctx c;
    const int sizes[] = {1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, MAX_ITEMS};
    for (int spin = 0; spin <= CPU_POOL_SPIN_DEFAULT_US; spin += CPU_POOL_SPIN_DEFAULT_US) {
        cpu_pool *p = make_pool(4, spin);
        assert_int_equal(cpu_pool_start(p), 4);
        cpu_pool *old = cpu_pool_bind(p);
        for (int t = 1; t <= 4; ++t)
            for (size_t ni = 0; ni < sizeof sizes / sizeof sizes[0]; ++ni)
                for (int grain = 0; grain <= 3; ++grain) check_loop_mode(t, sizes[ni], grain, &c, 1);
        check_loop_mode(64, 1000, 1, &c, 1);
        for (int r = 0; r < 20000; ++r) check_loop_mode(3, 1 + r % 13, 1, &c, r % 3 != 0);
        cpu_pool_bind(old);
        cpu_pool_destroy(p);
    }
}

/* Thread t's home range is the t-th share of the units: with every unit
 * slow enough that both threads are at work, thread 1 runs units of the
 * second half and thread 0 of the first; a worker that stalls in its first
 * unit has the rest of its range taken over by the caller (from the far
 * end), so the loop ends without waiting for the stalled thread's range. */
typedef struct home_ctx {
    atomic_int owner[64];
    atomic_int stall_done;
    int stall_ms;
} home_ctx;

static void home_task(void *vc, int tid, int64_t i0, int64_t i1) {
    home_ctx *c = vc;
    for (int64_t i = i0; i < i1; ++i) atomic_store(&c->owner[i], tid + 1);
    struct timespec t = {0, 200000}; /* 0.2 ms */
    if (tid == 1 && c->stall_ms && !atomic_exchange(&c->stall_done, 1)) t.tv_nsec = (long)c->stall_ms * 1000000L;
    nanosleep(&t, NULL);
}

static void test_home_ranges(void **state) {
    (void)state;
    static home_ctx c;
    cpu_pool *p = make_pool(2, CPU_POOL_SPIN_DEFAULT_US);
    cpu_pool_start(p);
    cpu_pool *old = cpu_pool_bind(p);
    int seen = 0;
    for (int r = 0; r < 50 && !seen; ++r) { /* retried: on a busy machine the worker may not wake in time */
        for (int i = 0; i < 64; ++i) atomic_store(&c.owner[i], 0);
        c.stall_ms = 0;
        cpu_parallel_for_home(2, 64, 1, home_task, &c);
        int ones_low = 0, twos_high = 0, twos_low = 0;
        for (int i = 0; i < 64; ++i) {
            const int o = atomic_load(&c.owner[i]);
            assert_true(o == 1 || o == 2);
            ones_low += i < 32 && o == 1;
            twos_high += i >= 32 && o == 2;
            twos_low += i < 32 && o == 2;
        }
        /* thread 1 started on unit 32 and worked up; it reaches the first
         * half only by stealing from its far end (unit 31 down) */
        seen = twos_high > 0 && ones_low > 0;
        if (twos_low) {
            int lowest2 = 64;
            for (int i = 0; i < 32; ++i)
                if (atomic_load(&c.owner[i]) == 2 && i < lowest2) lowest2 = i;
            for (int i = lowest2; i < 32; ++i) assert_int_equal(atomic_load(&c.owner[i]), 2);
        }
    }
    assert_true(seen);
    /* a stalled worker: 20 ms in its first unit, the loop's own work 6 ms */
    for (int i = 0; i < 64; ++i) atomic_store(&c.owner[i], 0);
    c.stall_ms = 20;
    atomic_store(&c.stall_done, 0);
    cpu_parallel_for_home(2, 30, 1, home_task, &c);
    int by_worker = 0;
    for (int i = 0; i < 30; ++i) {
        const int o = atomic_load(&c.owner[i]);
        assert_true(o == 1 || o == 2);
        by_worker += o == 2;
    }
    /* the worker, if it came at all, ran its stalled unit and perhaps a few
     * more: the caller took the rest of its range */
    assert_true(by_worker < 15);
    cpu_pool_bind(old);
    cpu_pool_destroy(p);
}

/* A loop started inside a loop body runs on its caller, with tid 0. */
typedef struct nest_ctx {
    atomic_int inner_items, inner_bad;
} nest_ctx;

static void inner_task(void *vc, int tid, int64_t i0, int64_t i1) {
    nest_ctx *c = vc;
    if (tid != 0 || i0 != 0 || i1 != 10) atomic_fetch_add(&c->inner_bad, 1);
    atomic_fetch_add(&c->inner_items, (int)(i1 - i0));
}

static void outer_task(void *vc, int tid, int64_t i0, int64_t i1) {
    (void)tid;
    for (int64_t i = i0; i < i1; ++i) cpu_parallel_for(4, 10, 1, inner_task, vc);
}

static void test_nested_runs_serial(void **state) {
    (void)state;
    nest_ctx c;
    atomic_init(&c.inner_items, 0);
    atomic_init(&c.inner_bad, 0);
    cpu_pool *p = make_pool(4, 50);
    cpu_pool_start(p);
    cpu_pool *old = cpu_pool_bind(p);
    cpu_parallel_for(4, 100, 1, outer_task, &c);
    assert_int_equal(atomic_load(&c.inner_items), 1000);
    assert_int_equal(atomic_load(&c.inner_bad), 0);
    cpu_pool_bind(old);
    cpu_pool_destroy(p);
}

/* No pool bound: the loop runs on the caller, in one piece. */
static void test_no_pool(void **state) {
    (void)state;
    static count_ctx c;
    cpu_pool *old = cpu_pool_bind(NULL);
    check_loop(4, 100, 1, &c);
    assert_int_equal(atomic_load(&c.tids_seen) & ~1, 0);
    cpu_pool_bind(old);
}

/* Several threads, each running loops: on one shared pool (one owns it at a
 * time, the others run on their own thread) and on a pool each (several
 * contexts at once). Every item of every loop once. */
typedef struct driver_arg {
    cpu_pool *pool;
    int loops;
    atomic_int *failures;
} driver_arg;

static void *driver(void *v) {
    driver_arg *a = v;
    count_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        atomic_fetch_add(a->failures, 1);
        return NULL;
    }
    cpu_pool_bind(a->pool);
    for (int r = 0; r < a->loops; ++r) {
        const int n = 1 + (r * 37) % 500;
        for (int i = 0; i < n; ++i) atomic_store(&c->hits[i], 0);
        c->threads = 3;
        atomic_store(&c->bad_tid, 0);
        cpu_parallel_for(3, n, 0, count_task, c);
        for (int i = 0; i < n; ++i)
            if (atomic_load(&c->hits[i]) != 1) {
                atomic_fetch_add(a->failures, 1);
                break;
            }
        if (atomic_load(&c->bad_tid)) atomic_fetch_add(a->failures, 1);
    }
    cpu_pool_bind(NULL);
    free(c);
    return NULL;
}

static void run_drivers(int shared) {
    enum { D = 3 };
    cpu_pool *pools[D] = {NULL};
    atomic_int failures;
    atomic_init(&failures, 0);
    for (int d = 0; d < D; ++d) {
        pools[d] = shared && d > 0 ? pools[0] : make_pool(3, 30);
        cpu_pool_start(pools[d]);
    }
    pthread_t th[D];
    driver_arg args[D];
    for (int d = 0; d < D; ++d) {
        args[d] = (driver_arg){pools[d], 300, &failures};
        assert_int_equal(pthread_create(&th[d], NULL, driver, &args[d]), 0);
    }
    for (int d = 0; d < D; ++d) pthread_join(th[d], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    for (int d = 0; d < D; ++d)
        if (!shared || d == 0) cpu_pool_destroy(pools[d]);
}

static void test_threads_share_one_pool(void **state) {
    (void)state;
    run_drivers(1);
}

static void test_pools_at_once(void **state) {
    (void)state;
    run_drivers(0);
}

/* The process-wide pool: one pool for every holder, reference-counted;
 * three threads (three "contexts") run loops on it at once. */
static void test_shared_pool(void **state) {
    (void)state;
    cpu_pool *a = NULL, *b = NULL;
    assert_int_equal(cpu_pool_acquire_shared(20, &a), ENGINE_OK);
    assert_int_equal(cpu_pool_acquire_shared(20, &b), ENGINE_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(cpu_pool_threads(a), cpu_available_cpus());
    cpu_pool_start(a);
    enum { D = 3 };
    atomic_int failures;
    atomic_init(&failures, 0);
    pthread_t th[D];
    driver_arg args[D];
    for (int d = 0; d < D; ++d) {
        args[d] = (driver_arg){a, 200, &failures};
        assert_int_equal(pthread_create(&th[d], NULL, driver, &args[d]), 0);
    }
    for (int d = 0; d < D; ++d) pthread_join(th[d], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    cpu_pool_release_shared(b);
    cpu_pool_release_shared(a); /* the last holder: destroyed */
    assert_int_equal(cpu_pool_acquire_shared(0, &a), ENGINE_OK);
    assert_non_null(a);
    cpu_pool_release_shared(a);
    cpu_pool_release_shared(NULL);
}

/* A pool created and destroyed without a loop, and without being started. */
static void test_create_destroy(void **state) {
    (void)state;
    cpu_pool *p = make_pool(8, 0);
    assert_int_equal(cpu_pool_threads(p), 8);
    cpu_pool_destroy(p);
    p = make_pool(3, 0);
    cpu_pool_start(p);
    cpu_pool_destroy(p);
    cpu_pool_destroy(NULL);
}

static void *fail_alloc(void *user, size_t size, size_t align) {
    (void)user, (void)size, (void)align;
    return NULL;
}

static void test_out_of_memory(void **state) {
    (void)state;
    const engine_allocator a = {fail_alloc, test_pool_free, NULL};
    cpu_pool *p = (cpu_pool *)&a; /* must be reset */
    assert_int_equal(cpu_pool_create(&a, 4, 0, &p), ENGINE_ERR_OUT_OF_MEMORY);
    assert_null(p);
}

static void test_available_cpus(void **state) {
    (void)state;
    const int n = cpu_available_cpus();
    assert_true(n >= 1);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) assert_true(n <= CPU_COUNT(&set));
    /* one CPU in the mask: one thread */
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) {
            CPU_SET(c, &one);
            break;
        }
    if (sched_setaffinity(0, sizeof one, &one) == 0) {
        assert_int_equal(cpu_available_cpus(), 1);
        assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
    }
}

static void test_spin_env(void **state) {
    (void)state;
    const char *old = getenv("ENGINE_CPU_SPIN");
    char *saved = old ? strdup(old) : NULL;
    unsetenv("ENGINE_CPU_SPIN");
    assert_int_equal(cpu_pool_spin_from_env(), CPU_POOL_SPIN_DEFAULT_US);
    setenv("ENGINE_CPU_SPIN", "0", 1);
    assert_int_equal(cpu_pool_spin_from_env(), 0);
    setenv("ENGINE_CPU_SPIN", "250", 1);
    assert_int_equal(cpu_pool_spin_from_env(), 250);
    setenv("ENGINE_CPU_SPIN", "shared", 1);
    assert_int_equal(cpu_pool_spin_from_env(), 0);
    setenv("ENGINE_CPU_SPIN", "latency", 1);
    assert_int_equal(cpu_pool_spin_from_env(), 2000);
    setenv("ENGINE_CPU_SPIN", "12x", 1);
    assert_int_equal(cpu_pool_spin_from_env(), CPU_POOL_SPIN_DEFAULT_US);
    setenv("ENGINE_CPU_SPIN", "-3", 1);
    assert_int_equal(cpu_pool_spin_from_env(), CPU_POOL_SPIN_DEFAULT_US);
    if (saved) {
        setenv("ENGINE_CPU_SPIN", saved, 1);
        free(saved);
    } else {
        unsetenv("ENGINE_CPU_SPIN");
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_once),
        cmocka_unit_test(test_many_small_loops),
        cmocka_unit_test(test_workers_take_part),
        cmocka_unit_test(test_home_every_item_once),
        cmocka_unit_test(test_home_ranges),
        cmocka_unit_test(test_nested_runs_serial),
        cmocka_unit_test(test_no_pool),
        cmocka_unit_test(test_threads_share_one_pool),
        cmocka_unit_test(test_pools_at_once),
        cmocka_unit_test(test_shared_pool),
        cmocka_unit_test(test_create_destroy),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_available_cpus),
        cmocka_unit_test(test_spin_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
