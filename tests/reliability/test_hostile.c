/* The hostile-model catalogue (docs/RELIABILITY.md), through the public API
 * only: every malformed model that gen_hostile.py writes is refused with
 * its specific status and a message naming what is wrong; then every
 * prefix of a small valid model, seeded random byte flips and random
 * garbage are each either refused or loaded (and then optimised, placed
 * and run on ref), never a crash, hang or leak. Run under ASan+UBSan in
 * build-asan.
 *
 * Usage: test_hostile CATALOGUE_DIR (written by gen_hostile.py). */
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

static const char *dir;

static engine_context *new_ctx(void) {
    engine_context *ctx = NULL;
    engine_status st = engine_context_create(NULL, &ctx);
    if (st != ENGINE_OK) fail_msg("engine_context_create: %d", st);
    return ctx;
}

static void *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) fail_msg("cannot read %s", path);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void test_catalogue(void **state) {
    (void)state;
    char path[4096], line[1024];
    snprintf(path, sizeof path, "%s/manifest.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("no manifest at %s (run gen_hostile.py)", path);
    engine_context *ctx = new_ctx();
    int cases = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *name = strtok(line, "\t"), *code = strtok(NULL, "\t"), *substring = strtok(NULL, "\t");
        if (!name || !code || !substring) fail_msg("bad manifest line");
        int want = atoi(code);
        snprintf(path, sizeof path, "%s/%s/model.onnx", dir, name);
        engine_model *m = NULL;
        engine_status st = engine_model_load_file(ctx, path, &m);
        const char *msg = engine_context_error(ctx);
        if ((int)st != want || !strstr(msg, substring)) {
            fprintf(stderr, "FAIL %s: status %d (want %d), message \"%s\" (want \"%s\")\n", name, st, want, msg,
                    substring);
            bad++;
        }
        if (st == ENGINE_OK) engine_model_free(m);
        cases++;
    }
    fclose(f);
    engine_context_destroy(ctx);
    printf("catalogue: %d cases, %d failed\n", cases, bad);
    assert_true(cases >= 50);
    assert_int_equal(bad, 0);
}

/* xorshift64: seeded, the same sequence on every machine. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* Loads bytes; when they load, optimises, places on ref and runs once with
 * seeded inputs (models that grew too big to be worth running are only
 * placed). Returns the load status. Anything may be refused; only the
 * statuses a well-behaved engine returns are allowed. */
static engine_status try_bytes(engine_context *ctx, const void *data, size_t size, int *ran) {
    engine_model *m = NULL;
    engine_status st = engine_model_load_memory(ctx, data, size, NULL, &m);
    if (st < ENGINE_OK || st > ENGINE_ERR_SECURITY) fail_msg("load: status %d: %s", st, engine_context_error(ctx));
    if (st != ENGINE_OK) {
        assert_true(engine_context_error(ctx)[0] != 0); /* every refusal says why */
        return st;
    }
    engine_status ost = engine_model_optimize(m, ENGINE_OPT_DEFAULT);
    if (ost == ENGINE_ERR_INTERNAL) fail_msg("optimise: %s", engine_context_error(ctx));
    engine_session *s = NULL;
    engine_session_options so;
    memset(&so, 0, sizeof so);
    so.backends = "ref";
    so.threads = 1;
    if (ost == ENGINE_OK && engine_session_create(m, &so, &s) == ENGINE_OK) {
        int ni = engine_model_input_count(m), no = engine_model_output_count(m);
        /* Two runs; symbolic dims bound to other small sizes in each, so a
         * dynamic model specialises twice (shape-changing runs). */
        for (int run = 0; run < 2 && ni <= 16 && no <= 16 && engine_model_macs(m) < 50000000; ++run) {
            engine_tensor in[16], out[16];
            memset(in, 0, sizeof in);
            memset(out, 0, sizeof out);
            int ok = 1;
            size_t total = 0;
            for (int k = 0; ok && k < ni; ++k) {
                engine_tensor_info info;
                assert_int_equal(engine_model_input_info(m, k, &info), ENGINE_OK);
                in[k].dtype = info.dtype;
                in[k].rank = info.rank;
                size_t bytes = engine_dtype_size(info.dtype);
                for (int d = 0; d < info.rank && bytes; ++d) {
                    int64_t v = info.dims[d] >= 0 ? info.dims[d] : (int64_t)(1 + run * 3 + (int)(rnd() % 3));
                    in[k].dims[d] = v;
                    if (v > (1 << 24) || bytes * (size_t)v > ((size_t)64 << 20)) ok = 0;
                    else bytes *= (size_t)v;
                }
                total += bytes;
                if (!ok || total > ((size_t)64 << 20)) {
                    ok = 0;
                    break;
                }
                unsigned char *p = calloc(1, bytes ? bytes : 1);
                assert_non_null(p);
                if (info.dtype == ENGINE_DTYPE_F32)
                    for (size_t e = 0; e < bytes / 4; ++e) ((float *)p)[e] = (float)(rnd() % 2001) / 1000.0f - 1.0f;
                in[k].data = p;
            }
            if (ok) {
                engine_status rst = engine_session_run_tensors(s, in, ni, out, no);
                if (rst == ENGINE_ERR_INTERNAL || rst < ENGINE_OK || rst > ENGINE_ERR_SECURITY)
                    fail_msg("run: %d: %s", rst, engine_context_error(ctx));
                if (ran && rst == ENGINE_OK && run == 0) ++*ran;
            }
            for (int k = 0; k < 16; ++k) free(in[k].data);
        }
        engine_session_free(s);
    }
    engine_model_free(m);
    return ENGINE_OK;
}

static void truncated(const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t size;
    unsigned char *buf = read_all(path, &size);
    engine_context *ctx = new_ctx();
    int ran = 0;
    assert_int_equal(try_bytes(ctx, buf, size, &ran), ENGINE_OK); /* the whole file is a valid model */
    assert_int_equal(ran, 1);
    int loaded = 0;
    for (size_t n = 0; n < size; ++n) {
        /* A copy of exactly n bytes, so ASan sees any read past the end. */
        unsigned char *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        if (try_bytes(ctx, cut, n, NULL) == ENGINE_OK) loaded++;
        free(cut);
    }
    printf("truncated %s: %zu prefixes, %d loaded\n", file, size, loaded);
    engine_context_destroy(ctx);
    free(buf);
}

static void test_truncated(void **state) {
    (void)state;
    truncated("small.onnx");
    truncated("small_dyn.onnx");
    truncated("small_dd.onnx");
}

static void byte_flips(const char *file, int rounds) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t size;
    unsigned char *buf = read_all(path, &size);
    unsigned char *mut = malloc(size);
    engine_context *ctx = new_ctx();
    rnd_state = 0x2545f4914f6cdd1dull;
    int loaded = 0, ran = 0;
    for (int r = 0; r < rounds; ++r) {
        memcpy(mut, buf, size);
        int flips = 1 + (int)(rnd() % 4);
        for (int k = 0; k < flips; ++k) {
            size_t at = (size_t)(rnd() % size);
            if (rnd() & 1) mut[at] ^= (unsigned char)(1u << (rnd() % 8));
            else mut[at] = (unsigned char)rnd();
        }
        if (try_bytes(ctx, mut, size, &ran) == ENGINE_OK) loaded++;
    }
    printf("byte flips %s: %d mutants, %d loaded, %d ran\n", file, rounds, loaded, ran);
    engine_context_destroy(ctx);
    free(mut);
    free(buf);
}

static void test_byte_flips(void **state) {
    (void)state;
    byte_flips("small.onnx", 3000);
    byte_flips("small_dyn.onnx", 1500);
    byte_flips("small_dd.onnx", 1500);
}

static void test_garbage(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    rnd_state = 0xda942042e4dd58b5ull;
    int loaded = 0;
    for (int r = 0; r < 1000; ++r) {
        size_t n = (size_t)(rnd() % 512);
        unsigned char *g = malloc(n ? n : 1);
        for (size_t k = 0; k < n; ++k) g[k] = (unsigned char)rnd();
        /* Half of the buffers start like a ModelProto (field 7, graph, length
         * delimited) so the decoder goes deeper than the first byte. */
        if (n > 2 && (r & 1)) g[0] = 0x3a, g[1] = (unsigned char)(n - 2 < 127 ? n - 2 : 127);
        if (try_bytes(ctx, g, n, NULL) == ENGINE_OK) loaded++;
        free(g);
    }
    printf("garbage: 1000 buffers, %d loaded\n", loaded);
    engine_context_destroy(ctx);
}

/* Writes a version 1.0 .npy file: magic, the header padded to 64 bytes,
 * then `data_bytes` bytes of data. */
static void write_npy(const char *path, const char *header, size_t data_bytes) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    char h[512];
    size_t n = (size_t)snprintf(h, sizeof h, "%s", header);
    while ((10 + n + 1) % 64) h[n++] = ' ';
    h[n++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 255), (unsigned char)(n >> 8)};
    fwrite(pre, 1, sizeof pre, f);
    fwrite(h, 1, n, f);
    for (size_t k = 0; k < data_bytes; ++k) fputc((int)(k * 37 & 255), f);
    fclose(f);
}

/* Hostile .npy files: each refused with its status and message. */
static void test_tensor_files(void **state) {
    (void)state;
    static const struct {
        const char *header;
        size_t data_bytes;
        engine_status status;
        const char *substring;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, ENGINE_ERR_PARSE,
         ".npy data is 20 bytes, the header says 24"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 28, ENGINE_ERR_PARSE,
         ".npy data is 28 bytes, the header says 24"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 8,
         ENGINE_ERR_PARSE, ".npy shape overflows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4,
         ENGINE_ERR_UNSUPPORTED, "rank above 8"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, ENGINE_ERR_UNSUPPORTED, "Fortran-order"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, ENGINE_ERR_UNSUPPORTED, "big-endian"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, ENGINE_ERR_UNSUPPORTED,
         "dtype '<c8' is not supported"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", 24, ENGINE_ERR_PARSE, "malformed .npy header"},
        {"{'descr': '<f4', 'shape': (2,), ", 8, ENGINE_ERR_PARSE, "malformed .npy header"},
    };
    char folder[] = "/tmp/engine-hostile-npy-XXXXXX", path[64];
    assert_non_null(mkdtemp(folder));
    snprintf(path, sizeof path, "%s/t.npy", folder);
    engine_context *ctx = new_ctx();
    int bad = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        write_npy(path, cases[k].header, cases[k].data_bytes);
        engine_tensor t;
        memset(&t, 0, sizeof t);
        engine_status st = engine_tensor_load(ctx, path, &t);
        const char *msg = engine_context_error(ctx);
        if (st != cases[k].status || !strstr(msg, cases[k].substring)) {
            fprintf(stderr, "FAIL npy case %zu: status %d (want %d), message \"%s\" (want \"%s\")\n", k, st,
                    cases[k].status, msg, cases[k].substring);
            bad++;
        }
        if (st == ENGINE_OK) engine_tensor_release(ctx, &t);
    }
    remove(path);
    rmdir(folder);
    engine_context_destroy(ctx);
    assert_int_equal(bad, 0);
}

/* engine_context_options.max_tensor_bytes refuses what would be too big,
 * before anything is allocated for it, and names the tensor. */
static void test_size_limit(void **state) {
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/small.onnx", dir);
    engine_context_options o;
    memset(&o, 0, sizeof o);
    engine_context *ctx = NULL;
    engine_model *m = NULL;
    /* X is 1x2x8x8 float32: 512 bytes; the conv output 1x3x8x8: 768 bytes. */
    o.max_tensor_bytes = 600;
    assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
    assert_int_equal(engine_model_load_file(ctx, path, &m), ENGINE_ERR_UNSUPPORTED);
    assert_non_null(strstr(engine_context_error(ctx), "node 'conv' (Conv): tensor 'c' needs 768 bytes, above the context's max_tensor_bytes (600)"));
    engine_context_destroy(ctx);
    o.max_tensor_bytes = 1000; /* every tensor fits, their sum does not */
    assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
    assert_int_equal(engine_model_load_file(ctx, path, &m), ENGINE_ERR_UNSUPPORTED);
    assert_non_null(strstr(engine_context_error(ctx), "the activations up to tensor 'c' need more than"));
    engine_context_destroy(ctx);
    o.max_tensor_bytes = 1 << 20;
    assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
    assert_int_equal(engine_model_load_file(ctx, path, &m), ENGINE_OK);
    engine_model_free(m);
    engine_context_destroy(ctx);
}


/* Whether a backend module loaded (opencl only where TEST_OPENCL: not in
 * sanitizer builds, and not where no device answers). */
static int has_backend(engine_context *ctx, const char *name) {
#if !TEST_OPENCL
    if (strcmp(name, "opencl") == 0) return 0;
#endif
    for (int k = 0; k < engine_backend_count(ctx); ++k)
        if (strcmp(engine_backend_name(ctx, k), name) == 0) return 1;
    return 0;
}

/* Whether msg says what `want` does: "node 'N' (Op): reason" may name the
 * device between the node and the reason (opencl: "node 'N' (Op) on opencl
 * device '...': reason"); any other text must appear as it is. */
static int message_says(const char *msg, const char *want) {
    if (strstr(msg, want)) return 1;
    const char *sep = strncmp(want, "node '", 6) == 0 ? strstr(want, "): ") : NULL;
    if (!sep) return 0;
    char node[512];
    size_t len = (size_t)(sep - want) + 1;
    if (len >= sizeof node) return 0;
    memcpy(node, want, len);
    node[len] = 0;
    const char *at = strstr(msg, node);
    return at && strstr(at + len, sep + 3) != NULL;
}

/* Valid models given hostile values at run time (runtime.tsv, written by
 * gen_hostile.py): indices out of range fail with the node and the reason,
 * NaN boxes and negative counts give a defined result; on ref, cpu and
 * opencl (strict: the index and detect ops run on the device there). */
static void test_runtime_values(void **state) {
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/runtime.tsv", dir);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("cannot open %s", path);
    engine_context *ctx = new_ctx();
    char line[2048];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *name = strtok(line, "\t"), *code = strtok(NULL, "\t"), *rest = strtok(NULL, "");
        if (!name || !code || !rest) fail_msg("bad runtime.tsv line");
        char *tab = strrchr(rest, '\t');
        int n_in = atoi(tab ? tab + 1 : rest);
        const char *substring = tab ? (*tab = 0, rest) : "";
        int want = atoi(code);
        snprintf(path, sizeof path, "%s/%s/model.onnx", dir, name);
        engine_model *m = NULL;
        if (engine_model_load_file(ctx, path, &m) != ENGINE_OK) fail_msg("%s: %s", name, engine_context_error(ctx));
        engine_tensor in[4], expect;
        memset(in, 0, sizeof in);
        assert_true(n_in <= 4);
        for (int k = 0; k < n_in; ++k) {
            snprintf(path, sizeof path, "%s/%s/input_%d.npy", dir, name, k);
            assert_int_equal(engine_tensor_load(ctx, path, &in[k]), ENGINE_OK);
        }
        memset(&expect, 0, sizeof expect);
        snprintf(path, sizeof path, "%s/%s/out.npy", dir, name);
        int has_expect = access(path, R_OK) == 0 && engine_tensor_load(ctx, path, &expect) == ENGINE_OK;
        const char *backends[] = {"ref", "cpu", "opencl"};
        for (int b = 0; b < 3; ++b) {
            if (!has_backend(ctx, backends[b])) continue;
            engine_session_options o;
            memset(&o, 0, sizeof o);
            o.backends = backends[b];
            o.strict = 1;
            engine_session *s = NULL;
            engine_status st = engine_session_create(m, &o, &s);
            if (st == ENGINE_OK) {
                engine_tensor out[2];
                memset(out, 0, sizeof out);
                st = engine_session_run_tensors(s, in, n_in, out, engine_model_output_count(m));
                if (st == ENGINE_OK && has_expect) {
                    assert_int_equal(out[0].rank, expect.rank);
                    for (int d = 0; d < expect.rank; ++d) assert_int_equal(out[0].dims[d], expect.dims[d]);
                    size_t bytes = (size_t)engine_tensor_numel(&expect) * engine_dtype_size(expect.dtype);
                    if (bytes && memcmp(out[0].data, expect.data, bytes) != 0) fail_msg("%s on %s: wrong output", name, backends[b]);
                }
            }
            const char *msg = engine_context_error(ctx);
            if ((int)st != want || (want && !message_says(msg, substring)))
                fail_msg("%s on %s: status %d (want %d), message \"%s\" (want \"%s\")", name, backends[b], st, want, msg,
                         substring);
            engine_session_free(s);
        }
        for (int k = 0; k < n_in; ++k) engine_tensor_release(ctx, &in[k]);
        if (has_expect) engine_tensor_release(ctx, &expect);
        engine_model_free(m);
        cases++;
    }
    fclose(f);
    engine_context_destroy(ctx);
    assert_true(cases >= 10);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CATALOGUE_DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_tensor_files),
        cmocka_unit_test(test_runtime_values),
    };
    return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
