/* Concurrency (docs/RELIABILITY.md), within engine.h's contract: "a
 * context and everything made from it may be used from one thread at a
 * time; distinct contexts may be used concurrently".
 *  - own contexts: several threads at once, each with its own context,
 *    model and session of LeNet, on ref and (when built) on cpu with two
 *    worker threads of its own: every run gives the bytes of a
 *    single-threaded run.
 *  - one shared context: one session used by several threads in turn (a
 *    mutex hands it over), as the contract allows: same bytes.
 * tools/test.sh also runs this test in a ThreadSanitizer build. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

#define LENET TEST_SOURCE_ROOT "/demo/lenet5.onnx"
#define THREADS 4
#define RUNS 3

static float input[THREADS][1 * 1 * 32 * 32];
static float expect[THREADS][10];

typedef struct job {
    const char *backend;
    int threads; /* the session's own worker threads */
    int index;
    engine_session *shared; /* NULL: make an own context */
    pthread_mutex_t *lock;
    int mismatches;
    engine_status status;
    char message[512];
} job;

static void fill_inputs(void) {
    uint32_t x = 777;
    for (int t = 0; t < THREADS; ++t)
        for (size_t k = 0; k < sizeof input[t] / sizeof input[t][0]; ++k) {
            x = x * 1664525u + 1013904223u;
            input[t][k] = (float)(x >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
        }
}

/* Context + model + session; NULL and a message on failure. */
static engine_session *open_session(const char *backend, int threads, engine_context **ctx, engine_model **m,
                                    engine_status *st, char *msg, size_t msg_size) {
    *ctx = NULL, *m = NULL;
    engine_session *s = NULL;
    *st = engine_context_create(NULL, ctx);
    if (!*st) *st = engine_model_load_file(*ctx, LENET, m);
    if (!*st) *st = engine_model_optimize(*m, ENGINE_OPT_DEFAULT);
    if (!*st) {
        engine_session_options so;
        memset(&so, 0, sizeof so);
        so.backends = backend;
        so.strict = 1;
        so.threads = threads;
        *st = engine_session_create(*m, &so, &s);
    }
    if (*st) {
        snprintf(msg, msg_size, "%s", *ctx ? engine_context_error(*ctx) : "no context");
        engine_model_free(*m);
        engine_context_destroy(*ctx);
        *ctx = NULL, *m = NULL;
    }
    return s;
}

static engine_status run_one(engine_session *s, int index, float out[10]) {
    const void *in[1] = {input[index]};
    void *outs[1] = {out};
    return engine_session_run(s, in, outs);
}

static void *worker(void *arg) {
    job *j = arg;
    engine_context *ctx = NULL;
    engine_model *m = NULL;
    engine_session *s = j->shared;
    if (!s) s = open_session(j->backend, j->threads, &ctx, &m, &j->status, j->message, sizeof j->message);
    if (!s) return NULL;
    for (int r = 0; r < RUNS; ++r) {
        float out[10];
        if (j->lock) pthread_mutex_lock(j->lock);
        engine_status st = run_one(s, j->index, out);
        if (j->lock) pthread_mutex_unlock(j->lock);
        if (st) {
            j->status = st;
            break;
        }
        if (memcmp(out, expect[j->index], sizeof out) != 0) j->mismatches++;
    }
    if (!j->shared) {
        engine_session_free(s);
        engine_model_free(m);
        engine_context_destroy(ctx);
    }
    return NULL;
}

/* The single-threaded answers for every input, on this backend. */
static void reference(const char *backend, int threads) {
    engine_context *ctx;
    engine_model *m;
    engine_status st;
    char msg[512];
    engine_session *s = open_session(backend, threads, &ctx, &m, &st, msg, sizeof msg);
    if (!s) fail_msg("%s: %s", backend, msg);
    for (int t = 0; t < THREADS; ++t) assert_int_equal(run_one(s, t, expect[t]), ENGINE_OK);
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

static void own_contexts(const char *backend, int threads) {
    reference(backend, threads);
    pthread_t tid[THREADS];
    job jobs[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].backend = backend;
        jobs[t].threads = threads;
        jobs[t].index = t;
        assert_int_equal(pthread_create(&tid[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; ++t) pthread_join(tid[t], NULL);
    for (int t = 0; t < THREADS; ++t) {
        if (jobs[t].status) fail_msg("%s thread %d: status %d: %s", backend, t, jobs[t].status, jobs[t].message);
        assert_int_equal(jobs[t].mismatches, 0);
    }
}

/* The cpu session's own worker threads: 2, or $ENGINE_TEST_CPU_THREADS.
 * The cpu backend's threads are its own pool (backends/cpu/cpu_pool.c,
 * pthreads and C11 atomics), so the ThreadSanitizer run checks them too
 * (tools/test.sh sets 2). */
static int cpu_threads(void) {
    const char *e = getenv("ENGINE_TEST_CPU_THREADS");
    int n = e ? atoi(e) : 2;
    return n > 0 ? n : 2;
}

static int have_cpu(void) {
    return access(TEST_BUILD_ROOT "/backends/cpu/engine-backend-cpu.so", R_OK) == 0;
}

static void test_own_contexts_ref(void **state) {
    (void)state;
    own_contexts("ref", 1);
}

static void test_own_contexts_cpu(void **state) {
    (void)state;
    if (!have_cpu()) {
        printf("cpu: engine-backend-cpu.so is not in this build; ref only\n");
        return;
    }
    own_contexts("cpu", cpu_threads());
}

static void test_shared_session_in_turn(void **state) {
    (void)state;
    const char *backend = have_cpu() ? "cpu" : "ref";
    int threads = have_cpu() ? cpu_threads() : 1;
    reference(backend, threads);
    engine_context *ctx;
    engine_model *m;
    engine_status st;
    char msg[512];
    engine_session *s = open_session(backend, threads, &ctx, &m, &st, msg, sizeof msg);
    if (!s) fail_msg("%s: %s", backend, msg);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_t tid[THREADS];
    job jobs[THREADS];
    for (int t = 0; t < THREADS; ++t) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].backend = backend;
        jobs[t].index = t;
        jobs[t].shared = s;
        jobs[t].lock = &lock;
        assert_int_equal(pthread_create(&tid[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; ++t) pthread_join(tid[t], NULL);
    for (int t = 0; t < THREADS; ++t) {
        if (jobs[t].status) fail_msg("thread %d: status %d", t, jobs[t].status);
        assert_int_equal(jobs[t].mismatches, 0);
    }
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
}

int main(void) {
    fill_inputs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_contexts_ref),
        cmocka_unit_test(test_own_contexts_cpu),
        cmocka_unit_test(test_shared_session_in_turn),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
