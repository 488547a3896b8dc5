/* fuzz_common.h - what the libFuzzer targets share: one context per
 * process (made on first use and kept: libFuzzer never tears down) and a
 * deterministic input filler. Every target only calls the public API, so a
 * crash found here is a crash any application could hit. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* with_backends: scan the build tree for modules (ref is needed to place
 * and run); max_bytes: engine_context_options.max_tensor_bytes. */
static engine_context *fuzz_context(int with_backends, size_t max_bytes) {
    static engine_context *ctx;
    if (!ctx) {
        engine_context_options o;
        memset(&o, 0, sizeof o);
        o.no_default_backends = !with_backends;
        o.max_tensor_bytes = max_bytes;
        if (engine_context_create(&o, &ctx) != ENGINE_OK) abort();
    }
    return ctx;
}

/* A status outside the enum, or INTERNAL, is a bug: make libFuzzer see it. */
static void fuzz_check(engine_status st) {
    if ((int)st < 0 || (int)st > ENGINE_ERR_SECURITY) abort();
}

/* Load -> optimise -> session on ref -> one run with seeded inputs
 * (fuzz_run and fuzz_plugin). Models above 20 M multiply-accumulates are
 * only placed: the targets look for crashes, not for slow but correct
 * models. */
#define MAX_IO 16
static inline int fuzz_run_model(engine_context *ctx, const uint8_t *data, size_t size) {
    engine_model *m = NULL;
    if (!size) return 0;
    engine_status st = engine_model_load_memory(ctx, data, size, NULL, &m);
    fuzz_check(st);
    if (st != ENGINE_OK) return 0;
    st = engine_model_optimize(m, ENGINE_OPT_DEFAULT);
    fuzz_check(st);
    engine_session *s = NULL;
    engine_session_options so;
    memset(&so, 0, sizeof so);
    so.backends = "ref";
    so.threads = 1;
    if (st == ENGINE_OK) st = engine_session_create(m, &so, &s);
    fuzz_check(st);
    int ni = engine_model_input_count(m), no = engine_model_output_count(m);
    if (st == ENGINE_OK && ni <= MAX_IO && no <= MAX_IO && engine_model_macs(m) < 20000000) {
        void *bufs[2 * MAX_IO] = {0};
        int ok = 1;
        uint32_t x = 0x1234567u;
        for (int k = 0; k < ni + no && ok; ++k) {
            engine_tensor_info info;
            if ((k < ni ? engine_model_input_info(m, k, &info) : engine_model_output_info(m, k - ni, &info)) !=
                ENGINE_OK)
                abort(); /* counts and infos disagree: a bug */
            /* Every tensor passed max_tensor_bytes at load, so this fits. */
            size_t bytes = engine_dtype_size(info.dtype);
            for (int d = 0; d < info.rank; ++d) bytes *= (size_t)info.dims[d];
            unsigned char *p = malloc(bytes ? bytes : 1);
            if (!p) {
                ok = 0;
                break;
            }
            for (size_t e = 0; e < bytes; ++e) {
                x = x * 1664525u + 1013904223u;
                p[e] = (unsigned char)(x >> 24);
            }
            /* float inputs get finite values in [-1, 1); bools 0/1 */
            if (info.dtype == ENGINE_DTYPE_F32)
                for (size_t e = 0; e < bytes / 4; ++e) ((float *)p)[e] = (float)(p[e * 4] % 200) / 100.0f - 1.0f;
            if (info.dtype == ENGINE_DTYPE_BOOL)
                for (size_t e = 0; e < bytes; ++e) p[e] &= 1;
            bufs[k] = p;
        }
        if (ok) fuzz_check(engine_session_run(s, (const void *const *)bufs, bufs + ni));
        for (int k = 0; k < ni + no; ++k) free(bufs[k]);
    }
    engine_session_free(s);
    engine_model_free(m);
    return 0;
}

#endif
