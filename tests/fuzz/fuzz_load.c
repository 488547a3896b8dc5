/* libFuzzer target: ONNX bytes -> engine_model_load_memory (protobuf
 * decoding, import, shape inference, constant folding). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    engine_context *ctx = fuzz_context(0, (size_t)64 << 20);
    engine_model *m = NULL;
    /* An exactly-sized copy: a read past the end is caught by ASan even
     * when libFuzzer's buffer is larger. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    engine_status st = engine_model_load_memory(ctx, copy, size, NULL, &m);
    fuzz_check(st);
    if (st == ENGINE_OK) engine_model_free(m);
    free(copy);
    return 0;
}
