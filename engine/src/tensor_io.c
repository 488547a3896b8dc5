/* tensor_io.c - host tensors in files: .npy (NumPy format 1.0-3.0) and
 * serialized ONNX TensorProto (.pb). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <protobuf-c/protobuf-c.h>

#include "internal.h"
#include "onnx-subset.pb-c.h"
#include "onnx.h"

ENGINE_API int64_t engine_tensor_numel(const engine_tensor *t) {
    if (!t || t->rank < 0 || t->rank > ENGINE_MAX_RANK) return 0;
    int64_t n = 1;
    for (int k = 0; k < t->rank; ++k) {
        if (t->dims[k] < 0) return 0;
        if (t->dims[k] && n > INT64_MAX / t->dims[k]) return 0;
        n *= t->dims[k];
    }
    return n;
}

ENGINE_API void engine_tensor_release(engine_context *ctx, engine_tensor *t) {
    if (!t) return;
    if (ctx) {
        eng_free(ctx, t->data);
        eng_free(ctx, t->name);
    }
    memset(t, 0, sizeof *t);
}

/* Checks t's dtype and shape; writes its byte size. */
static engine_status check_tensor(engine_context *ctx, const engine_tensor *t, const char *what, size_t *nbytes) {
    size_t es = engine_dtype_size(t->dtype);
    if (!es) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%s: unknown dtype %d", what, (int)t->dtype);
    if (t->rank < 0 || t->rank > ENGINE_MAX_RANK)
        return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%s: rank %d out of range", what, t->rank);
    size_t n = 1;
    for (int k = 0; k < t->rank; ++k) {
        if (t->dims[k] < 0)
            return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%s: negative dimension %lld", what,
                             (long long)t->dims[k]);
        if ((uint64_t)t->dims[k] > SIZE_MAX || !eng_mul_size(n, (size_t)t->dims[k], &n))
            return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%s: too large", what);
    }
    if (!eng_mul_size(n, es, nbytes) || *nbytes > (size_t)INT64_MAX)
        return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%s: too large", what);
    if (*nbytes && !t->data) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "%s: data is NULL", what);
    return ENGINE_OK;
}

ENGINE_API engine_status engine_tensor_convert(engine_context *ctx, engine_tensor *t, engine_dtype dtype) {
    if (!ctx) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!t) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "engine_tensor_convert: tensor is NULL");
    size_t nbytes;
    engine_status st = check_tensor(ctx, t, "engine_tensor_convert", &nbytes);
    if (st) return st;
    if (!engine_dtype_size(dtype))
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "engine_tensor_convert: cannot convert to dtype %d", (int)dtype);
    if (dtype == t->dtype) return ENGINE_OK;
    size_t n = nbytes / engine_dtype_size(t->dtype), out_bytes;
    if (!eng_mul_size(n, engine_dtype_size(dtype), &out_bytes))
        return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "engine_tensor_convert: too large");
    void *d = eng_alloc(ctx, out_bytes);
    if (!d) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory converting a tensor (%zu bytes)", out_bytes);
    if (!eng_convert_elements(t->dtype, t->data, dtype, d, n)) {
        eng_free(ctx, d);
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "cannot convert %s to %s", engine_dtype_name(t->dtype),
                         engine_dtype_name(dtype));
    }
    eng_free(ctx, t->data);
    t->data = d;
    t->dtype = dtype;
    return ENGINE_OK;
}

static int has_pb_extension(const char *path) {
    size_t len = strlen(path);
    return len >= 3 && strcasecmp(path + len - 3, ".pb") == 0;
}

/* ---- .npy ---- */

static const struct {
    const char *descr; /* without the byte-order character */
    engine_dtype dtype;
} npy_types[] = {
    {"f4", ENGINE_DTYPE_F32}, {"f8", ENGINE_DTYPE_F64}, {"i8", ENGINE_DTYPE_I64}, {"i4", ENGINE_DTYPE_I32},
    {"b1", ENGINE_DTYPE_BOOL}, {"u1", ENGINE_DTYPE_U8}, {"i1", ENGINE_DTYPE_I8}, {"f2", ENGINE_DTYPE_F16},
};

typedef struct npy_parser {
    const char *p, *end;
} npy_parser;

static void skip_ws(npy_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int accept(npy_parser *ps, char c) {
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string (no escapes needed for npy keys/descr). */
static int parse_str(npy_parser *ps, char *out, size_t cap) {
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) return 0;
    char q = *ps->p++;
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *ps->p++;
    }
    if (ps->p >= ps->end) return 0;
    ps->p++;
    out[n] = '\0';
    return 1;
}

static int accept_word(npy_parser *ps, const char *w) {
    skip_ws(ps);
    size_t len = strlen(w);
    if ((size_t)(ps->end - ps->p) >= len && memcmp(ps->p, w, len) == 0) {
        ps->p += len;
        return 1;
    }
    return 0;
}

static int parse_shape(npy_parser *ps, int *rank, int64_t *dims, int *too_many) {
    if (!accept(ps, '(')) return 0;
    *rank = 0;
    for (;;) {
        if (accept(ps, ')')) return 1;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return 0;
        int64_t v = 0;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return 0;
            v = v * 10 + (*ps->p++ - '0');
        }
        if (ps->p < ps->end && *ps->p == 'L') ps->p++; /* Python 2 longs */
        if (*rank >= ENGINE_MAX_RANK) {
            *too_many = 1;
            return 0;
        }
        dims[(*rank)++] = v;
        if (accept(ps, ',')) continue;
        if (accept(ps, ')')) return 1;
        return 0;
    }
}

static engine_status npy_parse(engine_context *ctx, const char *path, const unsigned char *buf, size_t size,
                               engine_tensor *out) {
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': not a .npy file (bad magic)", path);
    unsigned major = buf[6], minor = buf[7];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': truncated .npy header", path);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "'%s': .npy format version %u.%u is not supported", path, major,
                         minor);
    }
    if (minor != 0)
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "'%s': .npy format version %u.%u is not supported", path, major,
                         minor);
    if (hlen > size - hstart) return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': truncated .npy header", path);
    npy_parser ps = {(const char *)buf + hstart, (const char *)buf + hstart + hlen};
    char key[32], descr[32] = "";
    int fortran = -1, have_shape = 0, rank = 0, too_many = 0;
    int64_t dims[ENGINE_MAX_RANK] = {0};
    if (!accept(&ps, '{')) goto bad_header;
    for (;;) {
        if (accept(&ps, '}')) break;
        if (!parse_str(&ps, key, sizeof key) || !accept(&ps, ':')) goto bad_header;
        if (strcmp(key, "descr") == 0) {
            if (!parse_str(&ps, descr, sizeof descr)) {
                return eng_error(ctx, ENGINE_ERR_UNSUPPORTED,
                                 "'%s': .npy dtype is not a simple type (structured arrays are not supported)", path);
            }
        } else if (strcmp(key, "fortran_order") == 0) {
            if (accept_word(&ps, "False")) fortran = 0;
            else if (accept_word(&ps, "True")) fortran = 1;
            else goto bad_header;
        } else if (strcmp(key, "shape") == 0) {
            if (!parse_shape(&ps, &rank, dims, &too_many)) {
                if (too_many)
                    return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "'%s': rank above %d is not supported", path,
                                     ENGINE_MAX_RANK);
                goto bad_header;
            }
            have_shape = 1;
        } else {
            goto bad_header;
        }
        if (accept(&ps, ',')) continue;
        if (accept(&ps, '}')) break;
        goto bad_header;
    }
    skip_ws(&ps);
    if (ps.p != ps.end || !descr[0] || fortran < 0 || !have_shape) goto bad_header;
    if (fortran) return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "'%s': Fortran-order .npy arrays are not supported", path);

    engine_dtype dtype = ENGINE_DTYPE_UNDEFINED;
    char order = descr[0];
    for (size_t k = 0; k < sizeof npy_types / sizeof npy_types[0]; ++k)
        if (strcmp(descr + 1, npy_types[k].descr) == 0) dtype = npy_types[k].dtype;
    if (dtype == ENGINE_DTYPE_UNDEFINED || (order != '<' && order != '>' && order != '|' && order != '='))
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "'%s': .npy dtype '%s' is not supported", path, descr);
    size_t es = engine_dtype_size(dtype);
    if (order == '>' && es > 1)
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "'%s': big-endian .npy data ('%s') is not supported", path, descr);
    if (order == '|' && es > 1) goto bad_header;

    size_t numel = 1, nbytes;
    for (int k = 0; k < rank; ++k)
        if ((uint64_t)dims[k] > SIZE_MAX || !eng_mul_size(numel, (size_t)dims[k], &numel))
            return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': .npy shape overflows", path);
    if (!eng_mul_size(numel, es, &nbytes))
        return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': .npy shape overflows", path);
    size_t avail = size - hstart - hlen;
    if (avail != nbytes)
        return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': .npy data is %zu bytes, the header says %zu (%s)", path, avail,
                         nbytes, avail < nbytes ? "truncated" : "trailing bytes");
    void *data = eng_alloc(ctx, nbytes);
    if (!data) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "'%s': out of memory (%zu bytes)", path, nbytes);
    if (nbytes) memcpy(data, buf + hstart + hlen, nbytes);
    if (dtype == ENGINE_DTYPE_BOOL)
        for (size_t k = 0; k < nbytes; ++k) ((uint8_t *)data)[k] = ((uint8_t *)data)[k] != 0;
    memset(out, 0, sizeof *out);
    out->dtype = dtype;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof dims);
    out->data = data;
    return ENGINE_OK;
bad_header:
    return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': malformed .npy header", path);
}

static const char *npy_descr(engine_dtype t) {
    switch (t) {
    case ENGINE_DTYPE_F32: return "<f4";
    case ENGINE_DTYPE_F64: return "<f8";
    case ENGINE_DTYPE_I64: return "<i8";
    case ENGINE_DTYPE_I32: return "<i4";
    case ENGINE_DTYPE_BOOL: return "|b1";
    case ENGINE_DTYPE_U8: return "|u1";
    case ENGINE_DTYPE_I8: return "|i1";
    case ENGINE_DTYPE_F16: return "<f2";
    default: return NULL;
    }
}

static engine_status write_file(engine_context *ctx, const char *path, const void *a, size_t na, const void *b,
                                size_t nb) {
    FILE *f = fopen(path, "wb");
    if (!f) return eng_error(ctx, ENGINE_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    int ok = (!na || fwrite(a, 1, na, f) == na) && (!nb || fwrite(b, 1, nb, f) == nb);
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        remove(path);
        return eng_error(ctx, ENGINE_ERR_IO, "cannot write '%s': %s", path, strerror(err));
    }
    return ENGINE_OK;
}

static engine_status npy_save(engine_context *ctx, const char *path, const engine_tensor *t, size_t nbytes) {
    const char *descr = npy_descr(t->dtype);
    if (!descr)
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "'%s': dtype %s cannot be written", path,
                         engine_dtype_name(t->dtype));
    char header[512];
    memcpy(header, "\x93NUMPY\x01\x00\x00\x00", 10); /* magic, version 1.0, length filled below */
    int len = 10;
    len += snprintf(header + len, sizeof header - (size_t)len, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                    descr);
    for (int k = 0; k < t->rank; ++k)
        len += snprintf(header + len, sizeof header - (size_t)len, k ? ", %lld" : "%lld", (long long)t->dims[k]);
    len += snprintf(header + len, sizeof header - (size_t)len, "%s), }", t->rank == 1 ? "," : "");
    /* pad with spaces and a final newline to a multiple of 64 bytes */
    int total = (len + 1 + 63) / 64 * 64;
    memset(header + len, ' ', (size_t)(total - len - 1));
    header[total - 1] = '\n';
    int hlen = total - 10;
    header[8] = (char)(hlen & 0xff);
    header[9] = (char)(hlen >> 8);
    return write_file(ctx, path, header, (size_t)total, t->data, nbytes);
}

/* ---- .pb (TensorProto) ---- */

static engine_status pb_load(engine_context *ctx, const char *path, const void *buf, size_t size,
                             engine_tensor *out) {
    ProtobufCAllocator alloc;
    eng_onnx_allocator(ctx, &alloc);
    unsigned long failures = ctx->alloc_failures;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&alloc, size, buf);
    if (!tp && ctx->alloc_failures != failures)
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "'%s': out of memory decoding the tensor", path);
    if (!tp) return eng_error(ctx, ENGINE_ERR_PARSE, "'%s': not a TensorProto: protobuf decoding failed", path);
    char what[600], dir[4096];
    snprintf(what, sizeof what, "'%.560s'", path);
    /* external data of a standalone tensor lives beside it */
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    eng_onnx_tensor t;
    engine_status st = eng_onnx_decode_tensor(ctx, tp, what, dir, 0, &t);
    char *name = NULL;
    if (!st && tp->name && tp->name[0]) {
        name = eng_strdup(ctx, tp->name);
        if (!name) {
            eng_free(ctx, t.data);
            st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "'%s': out of memory", path);
        }
    }
    onnx__tensor_proto__free_unpacked(tp, &alloc);
    if (st) return st;
    memset(out, 0, sizeof *out);
    out->dtype = t.dtype;
    out->rank = t.rank;
    memcpy(out->dims, t.dims, sizeof out->dims);
    out->data = t.data;
    out->name = name;
    return ENGINE_OK;
}

static engine_status pb_save(engine_context *ctx, const char *path, const engine_tensor *t, size_t nbytes) {
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[ENGINE_MAX_RANK];
    for (int k = 0; k < t->rank; ++k) dims[k] = t->dims[k];
    tp.n_dims = (size_t)t->rank;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = (int32_t)t->dtype;
    tp.has_raw_data = 1;
    tp.raw_data.len = nbytes;
    tp.raw_data.data = (uint8_t *)t->data;
    tp.name = t->name;
    size_t len = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = eng_alloc(ctx, len);
    if (!buf) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "'%s': out of memory (%zu bytes)", path, len);
    onnx__tensor_proto__pack(&tp, buf);
    engine_status st = write_file(ctx, path, buf, len, NULL, 0);
    eng_free(ctx, buf);
    return st;
}

ENGINE_API engine_status engine_tensor_load(engine_context *ctx, const char *path, engine_tensor *out) {
    if (!ctx) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!path || !out) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "engine_tensor_load: NULL argument");
    void *buf;
    size_t size;
    engine_status st = eng_onnx_read_file(ctx, path, &buf, &size);
    if (st) return st;
    engine_tensor t;
    if (has_pb_extension(path)) st = pb_load(ctx, path, buf, size, &t);
    else st = npy_parse(ctx, path, buf, size, &t);
    eng_free(ctx, buf);
    if (!st) *out = t;
    return st;
}

ENGINE_API engine_status engine_tensor_save(engine_context *ctx, const char *path, const engine_tensor *tensor) {
    if (!ctx) return ENGINE_ERR_INVALID_ARGUMENT;
    if (!path || !tensor) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "engine_tensor_save: NULL argument");
    size_t nbytes;
    char what[600];
    snprintf(what, sizeof what, "'%.560s'", path);
    engine_status st = check_tensor(ctx, tensor, what, &nbytes);
    if (st) return st;
    return has_pb_extension(path) ? pb_save(ctx, path, tensor, nbytes) : npy_save(ctx, path, tensor, nbytes);
}
