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
    /* Two runs; a dynamic model's symbolic dims are bound to small sizes
     * taken from the input's last bytes, other ones in the second run, so
     * the fuzzer also explores shape-changing runs (specialisations). */
    for (int run = 0; run < 2 && st == ENGINE_OK && ni <= MAX_IO && no <= MAX_IO &&
                      engine_model_macs(m) < 20000000; ++run) {
        engine_tensor in[MAX_IO], out[MAX_IO];
        memset(in, 0, sizeof in);
        memset(out, 0, sizeof out);
        int ok = 1;
        uint32_t x = 0x1234567u;
        for (int k = 0; k < ni && ok; ++k) {
            engine_tensor_info info;
            if (engine_model_input_info(m, k, &info) != ENGINE_OK) abort(); /* counts and infos disagree: a bug */
            in[k].dtype = info.dtype;
            in[k].rank = info.rank;
            size_t bytes = engine_dtype_size(info.dtype);
            for (int d = 0; d < info.rank; ++d) {
                int64_t v = info.dims[d];
                if (v < 0) v = 1 + (data[(size + (size_t)(run * 8 + d)) % size] >> (run ? 4 : 5));
                in[k].dims[d] = v;
                if (v && bytes > ((size_t)16 << 20) / (size_t)v) ok = 0;
                else bytes *= (size_t)v;
            }
            unsigned char *p = ok ? malloc(bytes ? bytes : 1) : NULL;
            if (!p) {
                ok = 0;
                break;
            }
            for (size_t e = 0; e < bytes; ++e) {
                x = x * 1664525u + 1013904223u;
                p[e] = (unsigned char)(x >> 24);
            }
            if (info.dtype == ENGINE_DTYPE_F32)
                for (size_t e = 0; e + 4 <= bytes; e += 4) {
                    x = x * 1664525u + 1013904223u;
                    float f = (float)(x >> 8) / 16777216.0f * 2.0f - 1.0f;
                    memcpy(p + e, &f, 4);
                }
            if (info.dtype == ENGINE_DTYPE_BOOL)
                for (size_t e = 0; e < bytes; ++e) p[e] &= 1;
            in[k].data = p;
        }
        if (ok) fuzz_check(engine_session_run_tensors(s, in, ni, out, no));
        for (int k = 0; k < ni; ++k) free(in[k].data);
    }
    engine_session_free(s);
    engine_model_free(m);
    return 0;
}

#endif
