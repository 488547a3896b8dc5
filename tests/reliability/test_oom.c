/* Out-of-memory sweep (docs/RELIABILITY.md): an allocator that fails the
 * i-th allocation, for every i, over context + load + optimise + compile +
 * run of a small model (Conv, BatchNormalization, Relu, MaxPool, Reshape,
 * Gemm, Softmax, then SplitToSequence and ConcatFromSequence: folding,
 * fusion passes and sequence resolution run on it) on ref, and on cpu
 * when engine-backend-cpu.so is in the build. Every attempt either
 * succeeds with the same bytes as an unfailing run or returns
 * ENGINE_ERR_OUT_OF_MEMORY with a message, and nothing stays allocated
 * (the allocator counts live blocks; LeakSanitizer checks the rest in
 * build-asan).
 *
 * Usage: test_oom CATALOGUE_DIR (gen_hostile.py writes small.onnx there). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

static char model_path[4096];
static float input[1 * 2 * 8 * 8];

typedef struct failing {
    long countdown; /* allocation number that fails; -1: none */
    long live, total;
} failing;

static void *fail_alloc(void *user, size_t size, size_t align) {
    failing *f = user;
    if (f->countdown-- == 0) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1)) return NULL;
    f->live++;
    f->total++;
    return p;
}

static void fail_free(void *user, void *ptr) {
    failing *f = user;
    if (ptr) f->live--;
    free(ptr);
}

/* One attempt: every step of the lifecycle, stopping at the first error;
 * msg receives the context's message (or says the context itself failed). */
static engine_status attempt(failing *f, const char *backend, float out[5], char *msg, size_t msg_size) {
    engine_allocator a = {fail_alloc, fail_free, f};
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.allocator = a;
    engine_context *ctx = NULL;
    engine_status st = engine_context_create(&o, &ctx);
    msg[0] = 0;
    if (st) {
        snprintf(msg, msg_size, "(engine_context_create failed: no context to hold a message)");
        return st;
    }
    engine_model *m = NULL;
    engine_session *s = NULL;
    st = engine_model_load_file(ctx, model_path, &m);
    if (!st) st = engine_model_optimize(m, ENGINE_OPT_DEFAULT);
    if (!st) {
        engine_session_options so;
        memset(&so, 0, sizeof so);
        so.backends = backend;
        so.strict = 1; /* a failure must not hide behind a fallback */
        so.threads = 1;
        st = engine_session_create(m, &so, &s);
    }
    if (!st) {
        const void *in[1] = {input};
        void *outs[1] = {out};
        st = engine_session_run(s, in, outs);
    }
    if (st) snprintf(msg, msg_size, "%s", engine_context_error(ctx));
    engine_session_free(s);
    engine_model_free(m);
    engine_context_destroy(ctx);
    return st;
}

static void sweep(const char *backend) {
    float expect[5], out[5];
    char msg[1024];
    failing none = {-1, 0, 0};
    engine_status st = attempt(&none, backend, expect, msg, sizeof msg);
    if (st) fail_msg("%s: unfailing run: status %d: %s", backend, st, msg);
    assert_int_equal(none.live, 0);
    long failures = 0, absorbed = 0;
    for (long i = 0;; ++i) {
        failing f = {i, 0, 0};
        memset(out, 0, sizeof out);
        st = attempt(&f, backend, out, msg, sizeof msg);
        if (f.live != 0) fail_msg("%s: allocation %ld failed: %ld blocks leaked (status %d: %s)", backend, i, f.live, st, msg);
        if (st == ENGINE_OK) {
            /* Success must mean the right answer. Some allocations are
             * optional (a module scan that fails is logged and skipped, a
             * description is left out): a run that absorbed the failure
             * still has to produce the same bytes. */
            assert_memory_equal(out, expect, sizeof out);
            if (f.countdown >= 0) break; /* ran to the end without reaching allocation i */
            absorbed++;
            continue;
        }
        if (st != ENGINE_ERR_OUT_OF_MEMORY) fail_msg("%s: allocation %ld failed: status %d: %s", backend, i, st, msg);
        if (!msg[0]) fail_msg("%s: allocation %ld failed: out of memory without a message", backend, i);
        failures++;
    }
    printf("%s: %ld allocations failed one at a time: %ld reported out of memory, %ld absorbed with the right "
           "answer; nothing leaked\n",
           backend, failures + absorbed, failures, absorbed);
    assert_true(failures > 50);
}

static void test_ref(void **state) {
    (void)state;
    sweep("ref");
}

static void test_cpu(void **state) {
    (void)state;
    /* The cpu module is optional in a build: sweep it when it is there. */
    if (access(TEST_BUILD_ROOT "/backends/cpu/engine-backend-cpu.so", R_OK) != 0) {
        printf("cpu: engine-backend-cpu.so is not in this build; only ref was swept\n");
        return;
    }
    sweep("cpu");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CATALOGUE_DIR\n", argv[0]);
        return 2;
    }
    snprintf(model_path, sizeof model_path, "%s/small.onnx", argv[1]);
    uint32_t x = 2024;
    for (size_t k = 0; k < sizeof input / sizeof input[0]; ++k) {
        x = x * 1664525u + 1013904223u;
        input[k] = (float)(x >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref),
        cmocka_unit_test(test_cpu),
    };
    return cmocka_run_group_tests_name("oom", tests, NULL, NULL);
}
