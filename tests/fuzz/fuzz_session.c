/* libFuzzer target: ONNX bytes -> load (shape inference) -> optimise ->
 * place and compile on ref (engine_session_create). Nothing is run. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    engine_context *ctx = fuzz_context(1, (size_t)16 << 20);
    engine_model *m = NULL;
    if (!size) return 0;
    engine_status st = engine_model_load_memory(ctx, data, size, NULL, &m);
    fuzz_check(st);
    if (st != ENGINE_OK) return 0;
    st = engine_model_optimize(m, ENGINE_OPT_DEFAULT);
    fuzz_check(st);
    if (st == ENGINE_OK) {
        engine_session_options so;
        memset(&so, 0, sizeof so);
        so.backends = "ref";
        so.threads = 1;
        engine_session *s = NULL;
        st = engine_session_create(m, &so, &s);
        fuzz_check(st);
        if (st == ENGINE_OK) engine_session_free(s);
    }
    engine_model_free(m);
    return 0;
}
