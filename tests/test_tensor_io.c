/* test_tensor_io.c - .npy and TensorProto files, dtype conversion, float16. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "onnx-subset.pb-c.h"

typedef struct counting {
    long live;
} counting;

static void *c_alloc(void *user, size_t size, size_t align) {
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
    ((counting *)user)->live++;
    return p;
}

static void c_free(void *user, void *ptr) {
    if (!ptr) return;
    ((counting *)user)->live--;
    free(ptr);
}

typedef struct fixture {
    counting cnt;
    engine_context *ctx;
    char dir[64];
} fixture;

static const char *py_python, *py_script;
static char fx_dir[256]; /* numpy-written files, "" if unavailable */

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.allocator.alloc = c_alloc;
    o.allocator.free = c_free;
    o.allocator.user = &f->cnt;
    o.no_default_backends = 1;
    assert_int_equal(engine_context_create(&o, &f->ctx), ENGINE_OK);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_tensor_io_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    engine_context_destroy(f->ctx);
    assert_int_equal(f->cnt.live, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

static const char *tmp(fixture *f, const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    return path;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static size_t read_bytes(const char *path, void *buf, size_t cap) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return n;
}

static void roundtrip(fixture *f, const char *file, engine_dtype dtype, int rank, const int64_t *dims,
                      const void *data, const char *name) {
    engine_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.rank = rank;
    for (int k = 0; k < rank; ++k) t.dims[k] = dims[k];
    t.data = (void *)data;
    t.name = (char *)name;
    const char *path = tmp(f, file);
    assert_int_equal(engine_tensor_save(f->ctx, path, &t), ENGINE_OK);
    engine_tensor back;
    engine_status st = engine_tensor_load(f->ctx, path, &back);
    if (st) print_error("%s: %s\n", path, engine_context_error(f->ctx));
    assert_int_equal(st, ENGINE_OK);
    assert_int_equal(back.dtype, dtype);
    assert_int_equal(back.rank, rank);
    for (int k = 0; k < rank; ++k) assert_int_equal(back.dims[k], dims[k]);
    assert_int_equal(engine_tensor_numel(&back), engine_tensor_numel(&t));
    size_t nbytes = (size_t)engine_tensor_numel(&t) * engine_dtype_size(dtype);
    if (nbytes) assert_memory_equal(back.data, data, nbytes);
    if (name) assert_string_equal(back.name, name);
    engine_tensor_release(f->ctx, &back);
    assert_null(back.data);
}

static void test_npy_roundtrip(void **state) {
    fixture *f = *state;
    float r4[2 * 3 * 4 * 5];
    for (int k = 0; k < 120; ++k) r4[k] = (float)k * 0.5f - 3.0f;
    roundtrip(f, "r4.npy", ENGINE_DTYPE_F32, 4, (int64_t[]){2, 3, 4, 5}, r4, NULL);
    int64_t scalar = -123456789012345;
    roundtrip(f, "s.npy", ENGINE_DTYPE_I64, 0, NULL, &scalar, NULL);
    uint8_t b[3] = {1, 0, 1};
    roundtrip(f, "b.npy", ENGINE_DTYPE_BOOL, 1, (int64_t[]){3}, b, NULL);
    int8_t i8[4] = {-128, -1, 0, 127};
    roundtrip(f, "i8.npy", ENGINE_DTYPE_I8, 2, (int64_t[]){2, 2}, i8, NULL);
    uint8_t u8[2] = {0, 255};
    roundtrip(f, "u8.data", ENGINE_DTYPE_U8, 1, (int64_t[]){2}, u8, NULL); /* any extension but .pb */
    int32_t i32[3] = {INT32_MIN, 0, INT32_MAX};
    roundtrip(f, "i32.npy", ENGINE_DTYPE_I32, 1, (int64_t[]){3}, i32, NULL);
    uint16_t h[2] = {0x3c00, 0xfc00};
    roundtrip(f, "h.npy", ENGINE_DTYPE_F16, 1, (int64_t[]){2}, h, NULL);
    double d[2] = {1e300, -0.5};
    roundtrip(f, "d.npy", ENGINE_DTYPE_F64, 2, (int64_t[]){2, 1}, d, NULL);
    roundtrip(f, "empty.npy", ENGINE_DTYPE_F32, 2, (int64_t[]){0, 3}, NULL, NULL);
    int64_t r8[1] = {5};
    roundtrip(f, "r8.npy", ENGINE_DTYPE_I64, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1}, r8, NULL);

    /* the header is padded to 64 bytes and ends in a newline, as numpy does */
    unsigned char buf[1024];
    size_t n = read_bytes(tmp(f, "r4.npy"), buf, sizeof buf);
    assert_true(n > 10);
    size_t hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(buf[10 + hlen - 1], '\n');
    assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
    assert_non_null(strstr((char *)buf + 10, "'shape': (2, 3, 4, 5)"));
    n = read_bytes(tmp(f, "b.npy"), buf, sizeof buf);
    assert_non_null(strstr((char *)buf + 10, "'descr': '|b1'"));
    assert_non_null(strstr((char *)buf + 10, "'shape': (3,)"));
    n = read_bytes(tmp(f, "s.npy"), buf, sizeof buf);
    assert_non_null(strstr((char *)buf + 10, "'shape': ()"));
}

static void test_pb_roundtrip(void **state) {
    fixture *f = *state;
    float v[6] = {1, 2, 3, 4, 5, 6};
    roundtrip(f, "t.pb", ENGINE_DTYPE_F32, 2, (int64_t[]){2, 3}, v, "input_0");
    int64_t s = 42;
    roundtrip(f, "s.pb", ENGINE_DTYPE_I64, 0, NULL, &s, NULL);
    uint16_t h[1] = {0x3555};
    roundtrip(f, "h.PB", ENGINE_DTYPE_F16, 1, (int64_t[]){1}, h, NULL);

    /* typed fields (no raw_data), written here with protobuf-c */
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[1] = {3};
    float fd[3] = {0.5f, -1.0f, 2.0f};
    tp.n_dims = 1;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = ENGINE_DTYPE_F32;
    tp.n_float_data = 3;
    tp.float_data = fd;
    uint8_t buf[256];
    size_t len = onnx__tensor_proto__pack(&tp, buf);
    write_bytes(tmp(f, "typed.pb"), buf, len);
    engine_tensor t;
    assert_int_equal(engine_tensor_load(f->ctx, tmp(f, "typed.pb"), &t), ENGINE_OK);
    assert_null(t.name);
    assert_memory_equal(t.data, fd, sizeof fd);
    engine_tensor_release(f->ctx, &t);

    /* raw_data of the wrong size, garbage */
    tp.n_float_data = 0;
    tp.has_raw_data = 1;
    tp.raw_data.len = 8;
    tp.raw_data.data = (uint8_t *)"12345678";
    len = onnx__tensor_proto__pack(&tp, buf);
    write_bytes(tmp(f, "short.pb"), buf, len);
    assert_int_equal(engine_tensor_load(f->ctx, tmp(f, "short.pb"), &t), ENGINE_ERR_PARSE);
    assert_non_null(strstr(engine_context_error(f->ctx), "short.pb"));
    write_bytes(tmp(f, "junk.pb"), "\xff\xff\xff\xff\xff\xff", 6);
    assert_int_equal(engine_tensor_load(f->ctx, tmp(f, "junk.pb"), &t), ENGINE_ERR_PARSE);
}

static const char good_header[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";

/* A v1.0 .npy with this header text (padded) and data bytes. */
static size_t make_npy(unsigned char *buf, const char *header, const void *data, size_t nbytes, int major) {
    size_t pre = major == 1 ? 10 : 12;
    size_t hl = strlen(header);
    size_t total = (pre + hl + 1 + 63) / 64 * 64;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    size_t h = total - pre;
    buf[8] = (unsigned char)(h & 0xff);
    buf[9] = (unsigned char)(h >> 8);
    if (major != 1) buf[10] = buf[11] = 0;
    memcpy(buf + pre, header, hl);
    memset(buf + pre + hl, ' ', total - pre - hl - 1);
    buf[total - 1] = '\n';
    memcpy(buf + total, data, nbytes);
    return total + nbytes;
}

static engine_status load_bytes(fixture *f, const void *bytes, size_t n, engine_tensor *t) {
    write_bytes(tmp(f, "x.npy"), bytes, n);
    memset(t, 0x5a, sizeof *t);
    engine_status st = engine_tensor_load(f->ctx, tmp(f, "x.npy"), t);
    if (st == ENGINE_OK) engine_tensor_release(f->ctx, t);
    return st;
}

static void expect_npy(fixture *f, const char *header, size_t data_bytes, engine_status want, const char *needle) {
    unsigned char buf[512];
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t n = make_npy(buf, header, data, data_bytes, 1);
    engine_tensor t;
    engine_status st = load_bytes(f, buf, n, &t);
    if (st != want || (needle && !strstr(engine_context_error(f->ctx), needle)))
        print_error("header %s: status %d, message %s\n", header, st, engine_context_error(f->ctx));
    assert_int_equal(st, want);
    if (needle) assert_non_null(strstr(engine_context_error(f->ctx), needle));
    if (st) assert_non_null(strstr(engine_context_error(f->ctx), "x.npy"));
}

static void test_npy_headers(void **state) {
    fixture *f = *state;
    expect_npy(f, good_header, 8, ENGINE_OK, NULL);
    expect_npy(f, "{\"descr\":\"<f4\",\"shape\":(2L,),\"fortran_order\":False}", 8, ENGINE_OK, NULL);
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 8, ENGINE_OK, NULL);
    expect_npy(f, good_header, 4, ENGINE_ERR_PARSE, "truncated");
    expect_npy(f, good_header, 12, ENGINE_ERR_PARSE, "trailing");
    expect_npy(f, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, ENGINE_ERR_UNSUPPORTED,
               "big-endian");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, ENGINE_ERR_UNSUPPORTED, "Fortran");
    expect_npy(f, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8, ENGINE_ERR_UNSUPPORTED, "<c8");
    expect_npy(f, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, ENGINE_ERR_UNSUPPORTED,
               "structured");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,2), }", 8,
               ENGINE_ERR_UNSUPPORTED, "rank");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, ENGINE_ERR_PARSE, "header");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", 8, ENGINE_ERR_PARSE, "header");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False}", 8, ENGINE_ERR_PARSE, "header");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,)}", 8, ENGINE_ERR_PARSE, "header");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 8, ENGINE_ERR_PARSE,
               "header");
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8,
               ENGINE_ERR_PARSE, NULL);
    expect_npy(f, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", 8,
               ENGINE_ERR_PARSE, NULL);

    unsigned char buf[512];
    float data[2] = {1, 2};
    engine_tensor t;
    /* versions 2.0 and 3.0 */
    size_t n = make_npy(buf, good_header, data, 8, 2);
    assert_int_equal(load_bytes(f, buf, n, &t), ENGINE_OK);
    n = make_npy(buf, good_header, data, 8, 3);
    assert_int_equal(load_bytes(f, buf, n, &t), ENGINE_OK);
    n = make_npy(buf, good_header, data, 8, 4);
    assert_int_equal(load_bytes(f, buf, n, &t), ENGINE_ERR_UNSUPPORTED);
    /* bad magic; every truncation of a good file */
    n = make_npy(buf, good_header, data, 8, 1);
    buf[1] = 'M';
    assert_int_equal(load_bytes(f, buf, n, &t), ENGINE_ERR_PARSE);
    assert_non_null(strstr(engine_context_error(f->ctx), "magic"));
    buf[1] = 'N';
    for (size_t cut = 0; cut < n; ++cut) assert_int_equal(load_bytes(f, buf, cut, &t), ENGINE_ERR_PARSE);
    /* a header length past the end of the file */
    buf[9] = 0x7f;
    assert_int_equal(load_bytes(f, buf, n, &t), ENGINE_ERR_PARSE);
    /* the output is untouched on failure */
    memset(&t, 0x5a, sizeof t);
    assert_int_equal(engine_tensor_load(f->ctx, tmp(f, "x.npy"), &t), ENGINE_ERR_PARSE);
    assert_int_equal(((unsigned char *)&t)[0], 0x5a);
    /* a missing file */
    assert_int_equal(engine_tensor_load(f->ctx, tmp(f, "nope.npy"), &t), ENGINE_ERR_IO);
    assert_non_null(strstr(engine_context_error(f->ctx), "nope.npy"));
    /* bool bytes are normalised to 0/1 */
    n = make_npy(buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", "\x00\x07", 2, 1);
    write_bytes(tmp(f, "b.npy"), buf, n);
    assert_int_equal(engine_tensor_load(f->ctx, tmp(f, "b.npy"), &t), ENGINE_OK);
    assert_memory_equal(t.data, "\x00\x01", 2);
    engine_tensor_release(f->ctx, &t);
}

static void test_bad_saves(void **state) {
    fixture *f = *state;
    engine_tensor t;
    memset(&t, 0, sizeof t);
    float v = 1;
    t.dtype = ENGINE_DTYPE_F32;
    t.rank = 1;
    t.dims[0] = 1;
    t.data = &v;
    assert_int_equal(engine_tensor_save(f->ctx, "/nonexistent/dir/x.npy", &t), ENGINE_ERR_IO);
    assert_non_null(strstr(engine_context_error(f->ctx), "/nonexistent/dir/x.npy"));
    t.rank = 9;
    assert_int_equal(engine_tensor_save(f->ctx, tmp(f, "a.npy"), &t), ENGINE_ERR_INVALID_ARGUMENT);
    t.rank = 1;
    t.dims[0] = -1;
    assert_int_equal(engine_tensor_save(f->ctx, tmp(f, "a.npy"), &t), ENGINE_ERR_INVALID_ARGUMENT);
    t.dims[0] = 1;
    t.dtype = (engine_dtype)5;
    assert_int_equal(engine_tensor_save(f->ctx, tmp(f, "a.npy"), &t), ENGINE_ERR_INVALID_ARGUMENT);
    t.dtype = ENGINE_DTYPE_F32;
    t.data = NULL;
    assert_int_equal(engine_tensor_save(f->ctx, tmp(f, "a.npy"), &t), ENGINE_ERR_INVALID_ARGUMENT);
    assert_int_equal(engine_tensor_save(f->ctx, NULL, &t), ENGINE_ERR_INVALID_ARGUMENT);
    assert_int_equal(engine_tensor_load(f->ctx, tmp(f, "a.npy"), NULL), ENGINE_ERR_INVALID_ARGUMENT);
    assert_int_equal(engine_tensor_numel(NULL), 0);
    memset(&t, 0, sizeof t);
    assert_int_equal(engine_tensor_numel(&t), 1); /* a scalar */
    engine_tensor_release(f->ctx, NULL);
}

/* ---- conversions ---- */

static engine_tensor make(fixture *f, engine_dtype dtype, int n, const void *src) {
    engine_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.rank = 1;
    t.dims[0] = n;
    size_t bytes = (size_t)n * engine_dtype_size(dtype);
    t.data = eng_alloc(f->ctx, bytes);
    memcpy(t.data, src, bytes);
    return t;
}

static void test_convert(void **state) {
    fixture *f = *state;
    float fv[6] = {1.5f, -2.7f, 3e10f, -3e10f, NAN, 0.0f};
    engine_tensor t = make(f, ENGINE_DTYPE_F32, 6, fv);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_I64), ENGINE_OK);
    int64_t *iv = t.data;
    assert_int_equal(iv[0], 1);
    assert_int_equal(iv[1], -2);
    assert_true(iv[2] == (int64_t)3e10f);
    assert_int_equal(iv[4], 0);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_I32), ENGINE_OK);
    int32_t *i32 = t.data;
    assert_int_equal(i32[2], INT32_MAX); /* saturated */
    assert_int_equal(i32[3], INT32_MIN);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_BOOL), ENGINE_OK);
    assert_memory_equal(t.data, "\1\1\1\1\0\0", 6);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_F32), ENGINE_OK);
    assert_true(((float *)t.data)[0] == 1.0f && ((float *)t.data)[5] == 0.0f);
    engine_tensor_release(f->ctx, &t);

    float fh[4] = {1.0f, 0.1f, 70000.0f, -0.0f};
    t = make(f, ENGINE_DTYPE_F32, 4, fh);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_F16), ENGINE_OK);
    uint16_t *h = t.data;
    assert_int_equal(h[0], 0x3c00);
    assert_int_equal(h[1], 0x2e66);
    assert_int_equal(h[2], 0x7c00);
    assert_int_equal(h[3], 0x8000);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_F64), ENGINE_OK);
    assert_true(((double *)t.data)[0] == 1.0);
    assert_true(isinf(((double *)t.data)[2]));
    engine_tensor_release(f->ctx, &t);

    int64_t big[3] = {300, -300, 7};
    t = make(f, ENGINE_DTYPE_I64, 3, big);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_U8), ENGINE_OK);
    assert_memory_equal(t.data, "\xff\x00\x07", 3);
    engine_tensor_release(f->ctx, &t);
    t = make(f, ENGINE_DTYPE_I64, 3, big);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_I8), ENGINE_OK);
    assert_memory_equal(t.data, "\x7f\x80\x07", 3);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, (engine_dtype)8), ENGINE_ERR_UNSUPPORTED);
    assert_int_equal(t.dtype, ENGINE_DTYPE_I8); /* unchanged */
    engine_tensor_release(f->ctx, &t);
}

/* ---- float16 ---- */

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_f16(void **state) {
    (void)state;
    /* every half value survives a trip through float */
    for (uint32_t h = 0; h < 0x10000; ++h) {
        float f = eng_f16_to_f32((uint16_t)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
            assert_true(isnan(f));
            assert_true(isnan(eng_f16_to_f32(eng_f32_to_f16(f))));
            continue;
        }
        assert_int_equal(eng_f32_to_f16(f), h);
    }
    assert_true(eng_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
    assert_true(eng_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    assert_true(eng_f16_to_f32(0x7bff) == 65504.0f);
    assert_true(isinf(eng_f16_to_f32(0xfc00)) && eng_f16_to_f32(0xfc00) < 0);
    /* round to nearest, ties to even */
    assert_int_equal(eng_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00);         /* tie -> even (down) */
    assert_int_equal(eng_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);     /* tie -> even (up) */
    assert_int_equal(eng_f32_to_f16(1.0f + ldexpf(1, -11) + ldexpf(1, -20)), 0x3c01);
    assert_int_equal(eng_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(eng_f32_to_f16(65520.0f), 0x7c00); /* overflow by rounding */
    assert_int_equal(eng_f32_to_f16(ldexpf(1, -25)), 0x0000); /* tie -> even zero */
    assert_int_equal(eng_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    assert_int_equal(eng_f32_to_f16(ldexpf(3, -25)), 0x0002); /* 1.5 ulp ties to even 2 */
    assert_int_equal(eng_f32_to_f16(ldexpf(1, -14) - ldexpf(1, -26)), 0x0400); /* rounds up to the smallest normal */
    assert_int_equal(eng_f32_to_f16(1e-30f), 0x0000);
    assert_int_equal(eng_f32_to_f16(-1e-30f), 0x8000);
    assert_int_equal(eng_f32_to_f16(INFINITY), 0x7c00);
    assert_true((eng_f32_to_f16(NAN) & 0x7fff) > 0x7c00);
    assert_true((eng_f32_to_f16(bitsf(0x7f800001)) & 0x7fff) > 0x7c00); /* a NaN with low payload stays NaN */
#if defined(__FLT16_MAX__) && defined(__x86_64__)
    /* against the compiler's conversions on random floats */
    uint32_t x = 12345;
    for (int k = 0; k < 1000000; ++k) {
        x = x * 1664525u + 1013904223u;
        float f = bitsf(x);
        if (isnan(f)) continue;
        _Float16 ref = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        if (eng_f32_to_f16(f) != rb) print_error("f=%a (0x%08x): got 0x%04x want 0x%04x\n", (double)f, fbits(f),
                                                 eng_f32_to_f16(f), rb);
        assert_int_equal(eng_f32_to_f16(f), rb);
    }
#else
    (void)fbits;
#endif
}

/* ---- files written by numpy / python onnx ---- */

static void expect_file(fixture *f, const char *name, engine_dtype dtype, int rank, const int64_t *dims) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx_dir, name);
    engine_tensor t;
    engine_status st = engine_tensor_load(f->ctx, path, &t);
    if (st) print_error("%s: %s\n", path, engine_context_error(f->ctx));
    assert_int_equal(st, ENGINE_OK);
    assert_int_equal(t.dtype, dtype);
    assert_int_equal(t.rank, rank);
    for (int k = 0; k < rank; ++k) assert_int_equal(t.dims[k], dims[k]);
    engine_tensor_release(f->ctx, &t);
}

static void test_numpy_files(void **state) {
    fixture *f = *state;
    if (!fx_dir[0]) skip();
    expect_file(f, "f32_r4.npy", ENGINE_DTYPE_F32, 4, (int64_t[]){2, 3, 4, 5});
    expect_file(f, "i64_scalar.npy", ENGINE_DTYPE_I64, 0, NULL);
    expect_file(f, "bool_3.npy", ENGINE_DTYPE_BOOL, 1, (int64_t[]){3});
    expect_file(f, "f16_4.npy", ENGINE_DTYPE_F16, 1, (int64_t[]){4});
    expect_file(f, "f64_2x2.npy", ENGINE_DTYPE_F64, 2, (int64_t[]){2, 2});
    expect_file(f, "u8_5.npy", ENGINE_DTYPE_U8, 1, (int64_t[]){5});
    expect_file(f, "i8_3.npy", ENGINE_DTYPE_I8, 1, (int64_t[]){3});
    expect_file(f, "i32_2.npy", ENGINE_DTYPE_I32, 1, (int64_t[]){2});
    expect_file(f, "empty.npy", ENGINE_DTYPE_F32, 2, (int64_t[]){0, 3});
    expect_file(f, "v2.npy", ENGINE_DTYPE_F32, 2, (int64_t[]){1, 3});
    expect_file(f, "v3.npy", ENGINE_DTYPE_F32, 2, (int64_t[]){1, 3});

    char path[512];
    engine_tensor t;
    snprintf(path, sizeof path, "%s/f32_r4.npy", fx_dir);
    assert_int_equal(engine_tensor_load(f->ctx, path, &t), ENGINE_OK);
    for (int k = 0; k < 120; ++k) assert_true(((float *)t.data)[k] == (float)k / 8);
    engine_tensor_release(f->ctx, &t);
    snprintf(path, sizeof path, "%s/i64_scalar.npy", fx_dir);
    assert_int_equal(engine_tensor_load(f->ctx, path, &t), ENGINE_OK);
    assert_int_equal(*(int64_t *)t.data, -7);
    engine_tensor_release(f->ctx, &t);
    snprintf(path, sizeof path, "%s/f16_4.npy", fx_dir);
    assert_int_equal(engine_tensor_load(f->ctx, path, &t), ENGINE_OK);
    assert_int_equal(engine_tensor_convert(f->ctx, &t, ENGINE_DTYPE_F32), ENGINE_OK);
    assert_true(((float *)t.data)[1] == -2.5f && ((float *)t.data)[2] == 65504.0f);
    engine_tensor_release(f->ctx, &t);
    snprintf(path, sizeof path, "%s/big_endian.npy", fx_dir);
    assert_int_equal(engine_tensor_load(f->ctx, path, &t), ENGINE_ERR_UNSUPPORTED);
    snprintf(path, sizeof path, "%s/fortran.npy", fx_dir);
    assert_int_equal(engine_tensor_load(f->ctx, path, &t), ENGINE_ERR_UNSUPPORTED);

    snprintf(path, sizeof path, "%s/tensor_raw.pb", fx_dir);
    if (access(path, R_OK) != 0) return; /* python onnx missing */
    assert_int_equal(engine_tensor_load(f->ctx, path, &t), ENGINE_OK);
    assert_string_equal(t.name, "t");
    assert_int_equal(t.rank, 2);
    assert_true(((float *)t.data)[5] == 5.0f);
    engine_tensor_release(f->ctx, &t);
    snprintf(path, sizeof path, "%s/tensor_typed.pb", fx_dir);
    assert_int_equal(engine_tensor_load(f->ctx, path, &t), ENGINE_OK);
    assert_int_equal(t.dtype, ENGINE_DTYPE_I64);
    assert_int_equal(((int64_t *)t.data)[0], -1);
    assert_int_equal(((int64_t *)t.data)[2], 7);
    engine_tensor_release(f->ctx, &t);
}

/* Our files read back by numpy. */
static void test_numpy_reads_ours(void **state) {
    fixture *f = *state;
    if (!py_python) skip();
    float v[6] = {1, 2, 3, 4, 5, 6};
    engine_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = ENGINE_DTYPE_F32;
    t.rank = 2;
    t.dims[0] = 2;
    t.dims[1] = 3;
    t.data = v;
    assert_int_equal(engine_tensor_save(f->ctx, tmp(f, "ours.npy"), &t), ENGINE_OK);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s' -c \"import numpy as n, sys; a = n.load(sys.argv[1]); "
             "sys.exit(0 if a.dtype == n.float32 and a.shape == (2, 3) and a[1, 2] == 6 else 1)\" '%s'",
             py_python, tmp(f, "ours.npy"));
    int rc = system(cmd);
    if (rc == 127 * 256) skip();
    assert_int_equal(rc, 0);
}

static int group_setup(void **state) {
    (void)state;
    fx_dir[0] = 0;
    if (!py_python || !py_script) return 0;
    snprintf(fx_dir, sizeof fx_dir, "/tmp/test_tensor_io_fx_XXXXXX");
    if (!mkdtemp(fx_dir)) {
        fx_dir[0] = 0;
        return 0;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", py_python, py_script, fx_dir);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
        if (system(cmd) != 0) return -1;
        fx_dir[0] = 0;
    }
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (!fx_dir[0]) return 0;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    /* numpy fixtures: argv[1] = python3, argv[2] = gen_onnx_fixtures.py, or
     * $PYTHON and the source tree's script; skipped without either. */
    if (argc >= 3) {
        py_python = argv[1];
        py_script = argv[2];
    } else if (getenv("PYTHON")) {
        py_python = getenv("PYTHON");
#ifdef TEST_SOURCE_ROOT
        py_script = TEST_SOURCE_ROOT "/tests/gen_onnx_fixtures.py";
#endif
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_npy_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pb_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_npy_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_saves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_convert, setup, teardown),
        cmocka_unit_test(test_f16),
        cmocka_unit_test_setup_teardown(test_numpy_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numpy_reads_ours, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
