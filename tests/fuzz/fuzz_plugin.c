/* libFuzzer target: plugin attribute parsing. The example plugins (swish:
 * a float attribute with a default; yolo_decode: a required float list
 * and an int) are loaded into the context, and model bytes seeded with
 * the plugin test models go through load (the schema checks of plugin.c
 * and the plugins' own shape functions reading their attributes) ->
 * optimise -> session -> run on ref, as in fuzz_run. */
#include <stdio.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static engine_context *ctx;
    if (!ctx) {
        ctx = fuzz_context(1, (size_t)1 << 20);
        if (engine_context_load_plugin(ctx, FUZZ_SWISH_PLUGIN) != ENGINE_OK ||
            engine_context_load_plugin(ctx, FUZZ_YOLO_PLUGIN) != ENGINE_OK) {
            fprintf(stderr, "fuzz_plugin: %s\n", engine_context_error(ctx));
            abort();
        }
    }
    return fuzz_run_model(ctx, data, size);
}
