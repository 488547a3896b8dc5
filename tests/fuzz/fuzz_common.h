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

#endif
