/* libFuzzer target: the .npy and .pb (TensorProto) readers. The first byte
 * picks the format (the reader goes by the file's extension); the rest is
 * written to a file in a private temporary folder, read back with
 * engine_tensor_load and, when read, converted to float32. There is no
 * in-memory tensor API: the file path is the public one. */
#include <stdio.h>
#include <unistd.h>

#include "fuzz_common.h"

static char folder[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    engine_context *ctx = fuzz_context(0, 0);
    if (!folder[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(folder, sizeof folder, "%s/engine-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(folder)) abort();
    }
    if (!size) return 0;
    char path[320];
    snprintf(path, sizeof path, "%s/t.%s", folder, data[0] & 1 ? "pb" : "npy");
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1) abort();
    fclose(f);
    engine_tensor t;
    memset(&t, 0, sizeof t);
    engine_status st = engine_tensor_load(ctx, path, &t);
    fuzz_check(st);
    if (st == ENGINE_OK) {
        fuzz_check(engine_tensor_convert(ctx, &t, ENGINE_DTYPE_F32));
        engine_tensor_release(ctx, &t);
    }
    remove(path);
    return 0;
}
