/* libFuzzer target: ONNX bytes -> load with small size limits
 * (max_tensor_bytes 1 MiB) -> optimise -> session on ref -> one run with
 * seeded inputs (fuzz_run_model, fuzz_common.h). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_run_model(fuzz_context(1, (size_t)1 << 20), data, size);
}
