/* onnx.c - ONNX import: ModelProto bytes -> eng_graph (see onnx.h). */
#include "onnx.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "onnx-subset.pb-c.h"
#include "weights.h"

/* The default domain's opsets the ops/ shape functions know, version by
 * version (each reads the attributes and inputs of the node's opset). */
#define ENG_OPSET_MIN 1
#define ENG_OPSET_MAX 21

/* ---- protobuf-c allocator over the context's ---- */

static void *pb_alloc(void *user, size_t size) {
    return eng_alloc((engine_context *)user, size);
}

static void pb_free(void *user, void *ptr) {
    eng_free((engine_context *)user, ptr);
}

void eng_onnx_allocator(engine_context *ctx, ProtobufCAllocator *a) {
    a->alloc = pb_alloc;
    a->free = pb_free;
    a->allocator_data = ctx;
}

/* ---- files ---- */

engine_status eng_onnx_read_file(engine_context *ctx, const char *path, void **data, size_t *size) {
    if (!path) return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "file path is NULL");
    engine_status st = ENGINE_OK;
    void *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return eng_error(ctx, ENGINE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        st = eng_error(ctx, ENGINE_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = eng_error(ctx, ENGINE_ERR_IO, "'%s' is not a regular file", path);
        goto fail;
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX / 2) {
        st = eng_error(ctx, ENGINE_ERR_IO, "'%s' is too large", path);
        goto fail;
    }
    size_t n = (size_t)sb.st_size;
    buf = eng_alloc(ctx, n);
    if (!buf) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory reading '%s' (%zu bytes)", path, n);
        goto fail;
    }
    if (n && fread(buf, 1, n, f) != n) {
        st = eng_error(ctx, ENGINE_ERR_IO, "cannot read '%s': %s", path,
                       ferror(f) ? strerror(errno) : "file shorter than expected");
        goto fail;
    }
    fclose(f);
    *data = buf;
    *size = n;
    return ENGINE_OK;
fail:
    eng_free(ctx, buf);
    fclose(f);
    return st;
}

/* ---- element conversion ---- */

static int is_float_type(engine_dtype t) {
    return t == ENGINE_DTYPE_F32 || t == ENGINE_DTYPE_F16 || t == ENGINE_DTYPE_F64;
}

static double load_f(engine_dtype t, const void *p, size_t k) {
    switch (t) {
    case ENGINE_DTYPE_F32: return ((const float *)p)[k];
    case ENGINE_DTYPE_F64: return ((const double *)p)[k];
    case ENGINE_DTYPE_F16: return eng_f16_to_f32(((const uint16_t *)p)[k]);
    default: return 0;
    }
}

static int64_t load_i(engine_dtype t, const void *p, size_t k) {
    switch (t) {
    case ENGINE_DTYPE_U8: return ((const uint8_t *)p)[k];
    case ENGINE_DTYPE_I8: return ((const int8_t *)p)[k];
    case ENGINE_DTYPE_BOOL: return ((const uint8_t *)p)[k] != 0;
    case ENGINE_DTYPE_I32: return ((const int32_t *)p)[k];
    case ENGINE_DTYPE_I64: return ((const int64_t *)p)[k];
    default: return 0;
    }
}

static int64_t sat_i(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* double -> integer in [lo, hi], truncating, NaN -> 0 (no UB on overflow). */
static int64_t f_to_i(double v, int64_t lo, int64_t hi) {
    if (v != v) return 0;
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi; /* (double)INT64_MAX rounds up: still caught here */
    return (int64_t)v;
}

int eng_convert_elements(engine_dtype st, const void *src, engine_dtype dt, void *dst, size_t n) {
    if (!engine_dtype_size(st) || !engine_dtype_size(dt)) return 0;
    int sf = is_float_type(st);
    for (size_t k = 0; k < n; ++k) {
        double fv = sf ? load_f(st, src, k) : 0.0;
        int64_t iv = sf ? 0 : load_i(st, src, k);
        switch (dt) {
        case ENGINE_DTYPE_F32: ((float *)dst)[k] = sf ? (float)fv : (float)iv; break;
        case ENGINE_DTYPE_F64: ((double *)dst)[k] = sf ? fv : (double)iv; break;
        case ENGINE_DTYPE_F16: ((uint16_t *)dst)[k] = eng_f32_to_f16(sf ? (float)fv : (float)iv); break;
        case ENGINE_DTYPE_BOOL: ((uint8_t *)dst)[k] = sf ? fv != 0.0 : iv != 0; break;
        case ENGINE_DTYPE_U8: ((uint8_t *)dst)[k] = (uint8_t)(sf ? f_to_i(fv, 0, 255) : sat_i(iv, 0, 255)); break;
        case ENGINE_DTYPE_I8:
            ((int8_t *)dst)[k] = (int8_t)(sf ? f_to_i(fv, -128, 127) : sat_i(iv, -128, 127));
            break;
        case ENGINE_DTYPE_I32:
            ((int32_t *)dst)[k] = (int32_t)(sf ? f_to_i(fv, INT32_MIN, INT32_MAX) : sat_i(iv, INT32_MIN, INT32_MAX));
            break;
        case ENGINE_DTYPE_I64: ((int64_t *)dst)[k] = sf ? f_to_i(fv, INT64_MIN, INT64_MAX) : iv; break;
        default: return 0;
        }
    }
    return 1;
}

/* ---- tensors ---- */

static engine_dtype onnx_dtype(int32_t t) {
    switch (t) {
    case ENGINE_DTYPE_F32:
    case ENGINE_DTYPE_U8:
    case ENGINE_DTYPE_I8:
    case ENGINE_DTYPE_I32:
    case ENGINE_DTYPE_I64:
    case ENGINE_DTYPE_BOOL:
    case ENGINE_DTYPE_F16:
    case ENGINE_DTYPE_F64: return (engine_dtype)t;
    default: return ENGINE_DTYPE_UNDEFINED;
    }
}

static const char *onnx_dtype_name(int32_t t) {
    static const char *const names[] = {"undefined", "float",  "uint8",  "int8",   "uint16",    "int16",
                                        "int32",     "int64",  "string", "bool",   "float16",   "double",
                                        "uint32",    "uint64", "complex64", "complex128", "bfloat16"};
    if (t >= 0 && t < (int32_t)(sizeof names / sizeof names[0])) return names[t];
    return NULL;
}

/* Checks the dtype of an ONNX tensor/elem_type code. */
static engine_status check_dtype(engine_context *ctx, int32_t t, const char *what, engine_dtype *out) {
    engine_dtype d = onnx_dtype(t);
    if (d != ENGINE_DTYPE_UNDEFINED) {
        *out = d;
        return ENGINE_OK;
    }
    const char *name = onnx_dtype_name(t);
    if (name && t != 0) /* a real ONNX type we do not implement (up to ONNX 1.12's list) */
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "%s: data type %s (%d) is not supported", what, name, (int)t);
    if (t > 16 && t <= 32) /* newer ONNX types (float8, int4, ...) */
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "%s: data type %d is not supported", what, (int)t);
    return eng_error(ctx, ENGINE_ERR_PARSE, "%s: unknown data type %d", what, (int)t);
}

static void le_fixup(void *data, size_t n, size_t esize) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    unsigned char *p = data;
    for (size_t k = 0; k < n; ++k, p += esize)
        for (size_t a = 0, b = esize - 1; a < b; ++a, --b) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
#else
    (void)data, (void)n, (void)esize;
#endif
}

/* Confines `location` to base_dir and writes the resolved path to out. */
static engine_status resolve_external(engine_context *ctx, const char *what, const char *base_dir,
                                      const char *location, char *out) {
    char base_real[PATH_MAX], joined[PATH_MAX];
    if (!base_dir)
        return eng_error(ctx, ENGINE_ERR_SECURITY,
                         "%s: external data '%s' refused: the model was loaded without a base folder", what, location);
    if (!location[0]) return eng_error(ctx, ENGINE_ERR_PARSE, "%s: external data has an empty location", what);
    if (location[0] == '/')
        return eng_error(ctx, ENGINE_ERR_SECURITY, "%s: external data path '%s' is absolute", what, location);
    for (const char *p = location; *p;) {
        size_t len = strcspn(p, "/\\");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return eng_error(ctx, ENGINE_ERR_SECURITY, "%s: external data path '%s' contains '..'", what, location);
        p += len;
        if (*p) ++p;
    }
    if (!realpath(base_dir, base_real))
        return eng_error(ctx, ENGINE_ERR_IO, "%s: cannot resolve model folder '%s': %s", what, base_dir,
                         strerror(errno));
    int len = snprintf(joined, sizeof joined, "%s/%s", base_real, location);
    if (len < 0 || (size_t)len >= sizeof joined)
        return eng_error(ctx, ENGINE_ERR_IO, "%s: external data path '%s' is too long", what, location);
    if (!realpath(joined, out))
        return eng_error(ctx, ENGINE_ERR_IO, "%s: cannot open external data '%s': %s", what, joined, strerror(errno));
    size_t blen = strlen(base_real);
    int inside = strcmp(base_real, "/") == 0 ? 1
                 : strncmp(out, base_real, blen) == 0 && out[blen] == '/';
    if (!inside)
        return eng_error(ctx, ENGINE_ERR_SECURITY, "%s: external data '%s' resolves to '%s', outside the model folder '%s'",
                         what, location, out, base_real);
    return ENGINE_OK;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return 0;
    uint64_t v = 0;
    for (; *s; ++s) {
        if (*s < '0' || *s > '9') return 0;
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 1;
}

/* Reads nbytes of external data into a new eng_alloc'd *dst (allocated only
 * once the file is known to hold them). */
static engine_status read_external(engine_context *ctx, const Onnx__TensorProto *tp, const char *what,
                                   const char *base_dir, void **dst, size_t nbytes) {
    const char *location = NULL, *offset_s = NULL, *length_s = NULL;
    for (size_t k = 0; k < tp->n_external_data; ++k) {
        const Onnx__StringStringEntryProto *e = tp->external_data[k];
        if (!e->key) continue;
        if (strcmp(e->key, "location") == 0) location = e->value ? e->value : "";
        else if (strcmp(e->key, "offset") == 0) offset_s = e->value;
        else if (strcmp(e->key, "length") == 0) length_s = e->value;
    }
    if (!location) return eng_error(ctx, ENGINE_ERR_PARSE, "%s: external data without a location", what);
    uint64_t offset = 0, length = nbytes;
    if (offset_s && !parse_u64(offset_s, &offset))
        return eng_error(ctx, ENGINE_ERR_PARSE, "%s: bad external data offset '%s'", what, offset_s);
    if (length_s && !parse_u64(length_s, &length))
        return eng_error(ctx, ENGINE_ERR_PARSE, "%s: bad external data length '%s'", what, length_s);
    if (length != nbytes)
        return eng_error(ctx, ENGINE_ERR_PARSE, "%s: external data length %llu, expected %zu bytes", what,
                         (unsigned long long)length, nbytes);
    char path[PATH_MAX];
    engine_status st = resolve_external(ctx, what, base_dir, location, path);
    if (st) return st;
    FILE *f = fopen(path, "rb");
    if (!f) return eng_error(ctx, ENGINE_ERR_IO, "%s: cannot open external data '%s': %s", what, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = eng_error(ctx, ENGINE_ERR_IO, "%s: external data '%s' is not a regular file", what, path);
        goto done;
    }
    /* A hard link inside the folder may name a file outside it, and no path
     * check can tell: refuse files with more than one link. */
    if (sb.st_nlink > 1) {
        st = eng_error(ctx, ENGINE_ERR_SECURITY,
                       "%s: external data '%s' has %lu hard links; refused, it may lie outside the model folder", what,
                       location, (unsigned long)sb.st_nlink);
        goto done;
    }
    if (offset > (uint64_t)sb.st_size || length > (uint64_t)sb.st_size - offset) {
        st = eng_error(ctx, ENGINE_ERR_PARSE,
                       "%s: external data '%s' is %lld bytes; offset %llu + length %llu runs past its end", what,
                       location, (long long)sb.st_size, (unsigned long long)offset, (unsigned long long)length);
        goto done;
    }
    *dst = eng_alloc(ctx, nbytes);
    if (!*dst) {
        st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "%s: out of memory (%zu bytes)", what, nbytes);
        goto done;
    }
    if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || (nbytes && fread(*dst, 1, nbytes, f) != nbytes)) {
        st = eng_error(ctx, ENGINE_ERR_IO, "%s: cannot read external data '%s': %s", what, path, strerror(errno));
        eng_free(ctx, *dst);
        *dst = NULL;
        goto done;
    }
done:
    fclose(f);
    return st;
}

/* steal: NULL, or tp itself (a message this loader unpacked and frees):
 * its raw_data buffer (the engine's allocator, 64-byte aligned) becomes the
 * tensor's data instead of being copied, so a model's weights are held
 * once, not twice, while the message is alive. */
/* A raw_data payload left in the model file (eng_onnx_load_file): read
 * from there straight into the tensor's own buffer. */
typedef struct deferred_raw {
    size_t index;          /* the main graph's initializer */
    uint64_t offset, len;  /* in the file */
} deferred_raw;

static engine_status decode_tensor(engine_context *ctx, const Onnx__TensorProto *tp, Onnx__TensorProto *steal,
                                   const char *what, const char *base_dir, int to_f32, FILE *file,
                                   const deferred_raw *def, eng_onnx_tensor *out) {
    engine_dtype dtype = ENGINE_DTYPE_UNDEFINED;
    engine_status st = check_dtype(ctx, tp->has_data_type ? tp->data_type : 0, what, &dtype);
    if (st) return st;
    if (tp->n_dims > ENGINE_MAX_RANK)
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "%s: rank %zu is above the supported %d", what, tp->n_dims,
                         ENGINE_MAX_RANK);
    if (tp->segment) return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "%s: segmented tensors are not supported", what);
    eng_onnx_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.rank = (int)tp->n_dims;
    size_t numel = 1;
    for (size_t k = 0; k < tp->n_dims; ++k) {
        if (tp->dims[k] < 0)
            return eng_error(ctx, ENGINE_ERR_PARSE, "%s: negative dimension %lld", what, (long long)tp->dims[k]);
        if ((uint64_t)tp->dims[k] > (uint64_t)SIZE_MAX || !eng_mul_size(numel, (size_t)tp->dims[k], &numel) ||
            numel > (size_t)INT64_MAX / 16)
            return eng_error(ctx, ENGINE_ERR_PARSE, "%s: dimensions overflow", what);
        t.dims[k] = tp->dims[k];
    }
    size_t esize = engine_dtype_size(dtype);
    size_t nbytes = numel * esize; /* cannot overflow: numel <= INT64_MAX / 16 */
    int external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    void *data = NULL;
    /* Sizes are checked against what the message or file holds before any
     * allocation, so a forged shape cannot make us allocate terabytes. */
    if (external) {
        st = read_external(ctx, tp, what, base_dir, &data, nbytes);
        if (st) goto fail;
        le_fixup(data, numel, esize);
    } else if (def) {
        if (def->len != nbytes) {
            st = eng_error(ctx, ENGINE_ERR_PARSE, "%s: raw_data has %llu bytes, expected %zu (%zu %s elements)", what,
                           (unsigned long long)def->len, nbytes, numel, engine_dtype_name(dtype));
            goto fail;
        }
        data = eng_alloc(ctx, nbytes);
        if (!data) goto oom;
        if (fseeko(file, (off_t)def->offset, SEEK_SET) != 0 || (nbytes && fread(data, 1, nbytes, file) != nbytes)) {
            st = eng_error(ctx, ENGINE_ERR_IO, "%s: cannot read its raw_data from the model file: %s", what,
                           ferror(file) ? strerror(errno) : "file shorter than expected");
            goto fail;
        }
        le_fixup(data, numel, esize);
        if (dtype == ENGINE_DTYPE_BOOL)
            for (size_t k = 0; k < numel; ++k) ((uint8_t *)data)[k] = ((uint8_t *)data)[k] != 0;
    } else if (tp->has_raw_data) {
        if (tp->raw_data.len != nbytes) {
            st = eng_error(ctx, ENGINE_ERR_PARSE, "%s: raw_data has %zu bytes, expected %zu (%zu %s elements)", what,
                           tp->raw_data.len, nbytes, numel, engine_dtype_name(dtype));
            goto fail;
        }
        if (steal && nbytes && tp->raw_data.data && ((uintptr_t)tp->raw_data.data % 64) == 0) {
            data = steal->raw_data.data;
            steal->raw_data.data = NULL;
            steal->raw_data.len = 0;
        } else {
            data = eng_alloc(ctx, nbytes);
            if (!data) goto oom;
            if (nbytes) memcpy(data, tp->raw_data.data, nbytes);
        }
        le_fixup(data, numel, esize);
        if (dtype == ENGINE_DTYPE_BOOL) /* keep bools 0/1 whatever the file says */
            for (size_t k = 0; k < numel; ++k) ((uint8_t *)data)[k] = ((uint8_t *)data)[k] != 0;
    } else {
        size_t have;
        const char *field;
        switch (dtype) {
        case ENGINE_DTYPE_F32: have = tp->n_float_data, field = "float_data"; break;
        case ENGINE_DTYPE_I64: have = tp->n_int64_data, field = "int64_data"; break;
        case ENGINE_DTYPE_F64: have = tp->n_double_data, field = "double_data"; break;
        default: have = tp->n_int32_data, field = "int32_data"; break;
        }
        if (have != numel) {
            st = eng_error(ctx, ENGINE_ERR_PARSE, "%s: %s has %zu elements, expected %zu", what, field, have, numel);
            goto fail;
        }
        data = eng_alloc(ctx, nbytes);
        if (!data) goto oom;
        for (size_t k = 0; k < numel; ++k) {
            switch (dtype) {
            case ENGINE_DTYPE_F32: ((float *)data)[k] = tp->float_data[k]; break;
            case ENGINE_DTYPE_I64: ((int64_t *)data)[k] = tp->int64_data[k]; break;
            case ENGINE_DTYPE_F64: ((double *)data)[k] = tp->double_data[k]; break;
            case ENGINE_DTYPE_I32: ((int32_t *)data)[k] = tp->int32_data[k]; break;
            case ENGINE_DTYPE_F16: ((uint16_t *)data)[k] = (uint16_t)tp->int32_data[k]; break;
            case ENGINE_DTYPE_BOOL: ((uint8_t *)data)[k] = tp->int32_data[k] != 0; break;
            case ENGINE_DTYPE_U8: ((uint8_t *)data)[k] = (uint8_t)tp->int32_data[k]; break;
            case ENGINE_DTYPE_I8: ((int8_t *)data)[k] = (int8_t)tp->int32_data[k]; break;
            default: break;
            }
        }
    }
    if (to_f32 && (dtype == ENGINE_DTYPE_F16 || dtype == ENGINE_DTYPE_F64)) {
        float *f = eng_alloc(ctx, numel * sizeof(float));
        if (!f) {
            st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "%s: out of memory converting to float32", what);
            goto fail;
        }
        eng_convert_elements(dtype, data, ENGINE_DTYPE_F32, f, numel);
        eng_free(ctx, data);
        data = f;
        t.dtype = ENGINE_DTYPE_F32;
    }
    t.data = data;
    *out = t;
    return ENGINE_OK;
oom:
    st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "%s: out of memory (%zu bytes)", what, nbytes);
fail:
    eng_free(ctx, data);
    return st;
}

engine_status eng_onnx_decode_tensor(engine_context *ctx, const Onnx__TensorProto *tp, const char *what,
                                     const char *base_dir, int to_f32, eng_onnx_tensor *out) {
    return decode_tensor(ctx, tp, NULL, what, base_dir, to_f32, NULL, NULL, out);
}

/* ---- the model ---- */

typedef struct domain_opset {
    const char *domain; /* points into the unpacked message */
    int version;
} domain_opset;

typedef struct importer {
    engine_context *ctx;
    eng_graph *g;
    const char *base_dir;
    domain_opset *domains;
    size_t n_domains;
    int depth; /* 0: the main graph; n: a body nested n deep */
    FILE *file;               /* eng_onnx_load_file: the model file, for ... */
    const deferred_raw *defs; /* ... the main graph's raw_data left there, by index */
    size_t n_defs;
    eng_wrec *recs; /* the large ones of those, where their tensors hold them (weights.h) */
    size_t n_recs;
} importer;

static int is_default_domain(const char *d) {
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

static const char *str_or_empty(const char *s) {
    return s ? s : "";
}

/* Makes value `name` a constant holding t (ownership of t.data moves). */
static engine_status add_constant(importer *im, const char *name, eng_onnx_tensor *t, const char *producer) {
    eng_graph *g = im->g;
    engine_value *v = eng_graph_find(g, name);
    if (v && (v->producer || (v->flags & (ENGINE_VALUE_CONST | ENGINE_VALUE_GRAPH_INPUT)))) {
        engine_status st;
        const char *first = v->producer ? v->producer->name : NULL;
        const char *kind = (v->flags & ENGINE_VALUE_GRAPH_INPUT) ? "a graph input" : "an initializer or Constant";
        if (first)
            st = eng_error(im->ctx, ENGINE_ERR_INVALID_MODEL, "tensor '%s' is produced by node '%s' and by node '%s'",
                           name, first, producer ? producer : "(initializer)");
        else
            st = eng_error(im->ctx, ENGINE_ERR_INVALID_MODEL, "tensor '%s' is defined twice: %s and %s%s%s", name,
                           kind, producer ? "node '" : "an initializer", producer ? producer : "",
                           producer ? "'" : "");
        eng_free(im->ctx, t->data);
        t->data = NULL;
        return st;
    }
    engine_status st = v ? ENGINE_OK : eng_graph_add_value(g, name, &v);
    if (!st) st = eng_value_set_shape(g, v, t->dtype, t->rank, t->dims);
    if (st) {
        eng_free(im->ctx, t->data);
        t->data = NULL;
        return st;
    }
    eng_value_set_data(g, v, t->data);
    t->data = NULL;
    return ENGINE_OK;
}

static engine_status import_initializers(importer *im, const Onnx__GraphProto *gp) {
    char what[300];
    if (gp->n_sparse_initializer)
        return eng_error(im->ctx, ENGINE_ERR_UNSUPPORTED, "sparse initializers are not supported");
    for (size_t k = 0; k < gp->n_initializer; ++k) {
        const Onnx__TensorProto *tp = gp->initializer[k];
        if (!tp->name || !tp->name[0])
            return eng_error(im->ctx, ENGINE_ERR_INVALID_MODEL, "initializer %zu has no name", k);
        snprintf(what, sizeof what, "initializer '%.256s'", tp->name);
        eng_onnx_tensor t;
        const deferred_raw *def = NULL;
        if (im->depth == 0)
            for (size_t j = 0; j < im->n_defs && !def; ++j)
                if (im->defs[j].index == k) def = &im->defs[j];
        /* the message is the loader's own: the weights move out of it */
        engine_status st = decode_tensor(im->ctx, tp, (Onnx__TensorProto *)tp, what, im->base_dir, 1, im->file, def, &t);
        if (st) return st;
        /* the file's bytes as they are in the tensor (no conversion, no
         * bool rewrite): a record of where to read them back from */
        size_t tbytes = engine_dtype_size(t.dtype);
        for (int d = 0; d < t.rank; ++d) tbytes *= (size_t)t.dims[d]; /* checked by decode_tensor */
        if (def && im->recs && t.data && def->len >= ENG_WEIGHT_MIN_BYTES && t.dtype != ENGINE_DTYPE_BOOL &&
            tbytes == def->len)
            im->recs[im->n_recs++] = (eng_wrec){.ptr = t.data, .offset = def->offset, .len = def->len,
                                                .hash = eng_hash64(t.data, (size_t)def->len)};
        st = add_constant(im, tp->name, &t, NULL);
        if (st) return st;
    }
    return ENGINE_OK;
}

static engine_status grow_list(engine_context *ctx, engine_value ***list, int *n, engine_value *v) {
    engine_value **nl = eng_realloc(ctx, *list, (size_t)*n * sizeof *nl, (size_t)(*n + 1) * sizeof *nl);
    if (!nl) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory listing graph inputs/outputs");
    nl[(*n)++] = v;
    *list = nl;
    return ENGINE_OK;
}

static engine_status import_inputs(importer *im, const Onnx__GraphProto *gp) {
    engine_context *ctx = im->ctx;
    eng_graph *g = im->g;
    for (size_t k = 0; k < gp->n_input; ++k) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        const char *name = vi->name;
        if (!name || !name[0]) return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "graph input %zu has no name", k);
        engine_value *v = eng_graph_find(g, name);
        if (v && (v->flags & ENGINE_VALUE_CONST)) continue; /* an initializer listed as input (IR < 4) */
        if (v) return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "graph input '%s' is listed twice", name);
        const Onnx__TypeProto *type = vi->type;
        if (!type || type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !type->tensor_type)
            return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "graph input '%s' is not a tensor", name);
        const Onnx__TypeProto__Tensor *tt = type->tensor_type;
        char what[300];
        snprintf(what, sizeof what, "graph input '%.256s'", name);
        engine_dtype dtype = ENGINE_DTYPE_UNDEFINED;
        engine_status st = check_dtype(ctx, tt->has_elem_type ? tt->elem_type : 0, what, &dtype);
        if (st) return st;
        if (!tt->shape)
            return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "graph input '%s' has no shape; pass fixed shapes", name);
        const Onnx__TensorShapeProto *sp = tt->shape;
        if (sp->n_dim > ENGINE_MAX_RANK)
            return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "graph input '%s' has rank %zu; at most %d is supported",
                             name, sp->n_dim, ENGINE_MAX_RANK);
        int64_t dims[ENGINE_MAX_RANK];
        const char *syms[ENGINE_MAX_RANK] = {0};
        int n_sym = 0;
        for (size_t d = 0; d < sp->n_dim; ++d) {
            const Onnx__TensorShapeProto__Dimension *dim = sp->dim[d];
            if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                if (dim->dim_value < 0)
                    return eng_error(ctx, ENGINE_ERR_PARSE, "graph input '%s' has negative dimension %lld", name,
                                     (long long)dim->dim_value);
                dims[d] = dim->dim_value;
                continue;
            }
            /* A symbolic (dim_param) or free dim: kept, bound per run
             * (session.c specialises on the shapes a run brings). */
            syms[d] = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dim->dim_param
                          ? dim->dim_param
                          : "";
            dims[d] = 0;
            n_sym++;
        }
        st = eng_graph_add_value(g, name, &v);
        if (!st) st = eng_value_set_shape(g, v, dtype, (int)sp->n_dim, dims);
        if (!st) st = grow_list(ctx, &g->inputs, &g->n_inputs, v);
        if (st) return st;
        if (n_sym) {
            if (!g->input_syms && !(g->input_syms = eng_calloc(ctx, gp->n_input * ENGINE_MAX_RANK, sizeof(char *))))
                return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory importing graph inputs");
            for (size_t d = 0; d < sp->n_dim; ++d) {
                if (!syms[d]) continue;
                v->dims[d] = -1;
                char **slot = &g->input_syms[(size_t)(g->n_inputs - 1) * ENGINE_MAX_RANK + d];
                if (!(*slot = eng_strdup(ctx, syms[d])))
                    return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory importing graph inputs");
            }
        }
        v->flags |= ENGINE_VALUE_GRAPH_INPUT;
    }
    return ENGINE_OK;
}

static engine_status import_nodes(importer *im, const Onnx__GraphProto *gp);
static engine_status import_outputs(importer *im, const Onnx__GraphProto *gp);
static engine_status import_initializers(importer *im, const Onnx__GraphProto *gp);

/* Nesting of If/Loop bodies a model may have. */
#define MAX_BODY_DEPTH 16

/* A body's formal inputs: name, and dtype and shape where the file gives
 * them (Loop bodies often leave them out: inference fills them in). */
static engine_status import_body_inputs(importer *im, const Onnx__GraphProto *gp) {
    engine_context *ctx = im->ctx;
    eng_graph *g = im->g;
    for (size_t k = 0; k < gp->n_input; ++k) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        if (!vi->name || !vi->name[0]) return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "subgraph input %zu has no name", k);
        engine_value *v;
        engine_status st = eng_graph_add_value(g, vi->name, &v);
        if (st) return st;
        if (vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && vi->type->tensor_type &&
            vi->type->tensor_type->has_elem_type) {
            char what[300];
            snprintf(what, sizeof what, "subgraph input '%.256s'", vi->name);
            if ((st = check_dtype(ctx, vi->type->tensor_type->elem_type, what, &v->dtype))) return st;
        }
        if ((st = grow_list(ctx, &g->inputs, &g->n_inputs, v))) return st;
        v->flags |= ENGINE_VALUE_GRAPH_INPUT;
    }
    return ENGINE_OK;
}

/* Imports attribute `ap` (a GraphProto) of control node n as a body of the
 * enclosing graph; its outer-scope references become n's implicit inputs. */
static engine_status import_body(importer *im, engine_node *n, const Onnx__AttributeProto *ap, int branch,
                                 int n_explicit) {
    engine_context *ctx = im->ctx;
    if (im->depth >= MAX_BODY_DEPTH)
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED, "subgraphs nested more than %d deep", MAX_BODY_DEPTH);
    eng_graph *body = NULL;
    engine_status st = eng_graph_create(ctx, &body);
    if (st) return st;
    body->opset = im->g->opset;
    if ((st = eng_graph_own_body(im->g, body))) return st; /* freed with the enclosing graph from here */
    importer sub = *im;
    sub.g = body;
    sub.depth = im->depth + 1;
    const Onnx__GraphProto *gp = ap->g;
    if (gp->n_sparse_initializer)
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED, "attribute '%s': sparse initializers", ap->name);
    if ((st = import_initializers(&sub, gp)) || (st = import_body_inputs(&sub, gp)) || (st = import_nodes(&sub, gp)) ||
        (st = import_outputs(&sub, gp))) {
        char msg[ENG_ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ctx->message);
        return eng_node_error(ctx, n, st, "in attribute '%s': %s", ap->name, msg);
    }
    if (strcmp(n->op_type, "If") == 0 && body->n_inputs)
        return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s': an If branch takes no inputs (it has %d)",
                              ap->name, body->n_inputs);
    /* What the body reads but neither defines nor receives: outer scope. */
    for (int k = 0; k < body->n_values; ++k) {
        engine_value *v = body->values[k];
        if (v->producer || (v->flags & (ENGINE_VALUE_CONST | ENGINE_VALUE_GRAPH_INPUT))) continue;
        engine_value **no = eng_realloc(ctx, body->outer, (size_t)body->n_outer * sizeof *no,
                                        (size_t)(body->n_outer + 1) * sizeof *no);
        if (!no) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory importing a subgraph");
        body->outer = no;
        body->outer[body->n_outer++] = v;
        v->flags |= ENG_VALUE_OUTER;
    }
    if ((st = eng_graph_sort(body))) {
        char msg[ENG_ERRMSG_SIZE];
        snprintf(msg, sizeof msg, "%s", ctx->message);
        return eng_node_error(ctx, n, st, "in attribute '%s': %s", ap->name, msg);
    }
    /* The outer values become implicit inputs of n, after its own. */
    int base = n->n_inputs;
    engine_value **ni = eng_realloc(ctx, n->inputs, (size_t)n->n_inputs * sizeof *ni,
                                    (size_t)(n->n_inputs + body->n_outer + 1) * sizeof *ni);
    if (!ni) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory importing a subgraph");
    n->inputs = ni;
    for (int k = 0; k < body->n_outer; ++k) {
        engine_value *v;
        if ((st = eng_graph_get_value(im->g, body->outer[k]->name, &v))) return st;
        n->inputs[base + k] = v;
    }
    n->n_inputs = base + body->n_outer;
    /* Each body lists its outer values from the node's input `base`. */
    if ((st = eng_graph_add_sub(im->g, n, branch, n_explicit, body))) return st;
    eng_subgraph *e = eng_graph_find_sub(im->g, n, branch);
    e->n_explicit = base; /* body->outer[k] is n->inputs[base + k] */
    return ENGINE_OK;
}

/* Copies one attribute into node n (a standalone value for TENSOR). */
static engine_status import_attr(importer *im, engine_node *n, const Onnx__AttributeProto *ap) {
    engine_context *ctx = im->ctx;
    eng_graph *g = im->g;
    if (!ap->name || !ap->name[0]) return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "an attribute has no name");
    if (ap->ref_attr_name && ap->ref_attr_name[0])
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED, "attribute '%s' refers to a function attribute",
                              ap->name);
    int type = ap->has_type ? (int)ap->type : 0;
    if (!type) { /* very old models omit the type: infer it from the field set */
        if (ap->has_f) type = ENGINE_ATTR_FLOAT;
        else if (ap->has_i) type = ENGINE_ATTR_INT;
        else if (ap->has_s) type = ENGINE_ATTR_STRING;
        else if (ap->t) type = ENGINE_ATTR_TENSOR;
        else if (ap->g) type = ENGINE_ATTR_GRAPH;
        else if (ap->n_floats) type = ENGINE_ATTR_FLOATS;
        else if (ap->n_ints) type = ENGINE_ATTR_INTS;
        else if (ap->n_strings) type = ENGINE_ATTR_STRINGS;
        else if (ap->n_graphs) type = 10;
        else if (ap->n_tensors) type = 9;
        else return eng_node_error(ctx, n, ENGINE_ERR_PARSE, "attribute '%s' has no type and no value", ap->name);
    }
    switch (type) {
    case ENGINE_ATTR_FLOAT:
    case ENGINE_ATTR_INT:
    case ENGINE_ATTR_STRING:
    case ENGINE_ATTR_TENSOR:
    case ENGINE_ATTR_FLOATS:
    case ENGINE_ATTR_INTS:
    case ENGINE_ATTR_STRINGS: break;
    case ENGINE_ATTR_GRAPH:
        if (ap->g && !n->domain[0] &&
            ((strcmp(n->op_type, "If") == 0 && (strcmp(ap->name, "then_branch") == 0 || strcmp(ap->name, "else_branch") == 0)) ||
             (strcmp(n->op_type, "Loop") == 0 && strcmp(ap->name, "body") == 0)))
            return import_body(im, n, ap, strcmp(ap->name, "else_branch") == 0, n->n_inputs);
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "attribute '%s' holds a subgraph; only If and Loop bodies are supported (not %s)", ap->name,
                              n->op_type);
    case 10: /* GRAPHS */
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "attribute '%s' holds subgraphs; control flow other than If and Loop is not supported",
                              ap->name);
    default:
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED, "attribute '%s' has unsupported type %d", ap->name,
                              type);
    }
    size_t count = type == ENGINE_ATTR_FLOATS ? ap->n_floats : type == ENGINE_ATTR_INTS ? ap->n_ints
                   : type == ENGINE_ATTR_STRINGS ? ap->n_strings : 0;
    if (count > (size_t)INT_MAX / 16)
        return eng_node_error(ctx, n, ENGINE_ERR_UNSUPPORTED, "attribute '%s' is too long", ap->name);
    engine_attr *a;
    engine_status st = eng_node_add_attr(g, n, ap->name, (engine_attr_type)type, &a);
    if (st) return st;
    switch (type) {
    case ENGINE_ATTR_FLOAT: a->f = ap->f; break;
    case ENGINE_ATTR_INT: a->i = ap->i; break;
    case ENGINE_ATTR_STRING: {
        a->s = eng_alloc(ctx, ap->s.len + 1);
        if (!a->s) goto oom;
        if (ap->s.len) memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = '\0';
        break;
    }
    case ENGINE_ATTR_FLOATS:
        a->floats = eng_alloc(ctx, count * sizeof *a->floats);
        if (!a->floats) goto oom;
        if (count) memcpy(a->floats, ap->floats, count * sizeof *a->floats);
        a->n = (int)count;
        break;
    case ENGINE_ATTR_INTS:
        a->ints = eng_alloc(ctx, count * sizeof *a->ints);
        if (!a->ints) goto oom;
        if (count) memcpy(a->ints, ap->ints, count * sizeof *a->ints);
        a->n = (int)count;
        break;
    case ENGINE_ATTR_STRINGS:
        a->strings = eng_calloc(ctx, count ? count : 1, sizeof *a->strings);
        if (!a->strings) goto oom;
        a->n = (int)count;
        for (size_t k = 0; k < count; ++k) {
            a->strings[k] = eng_alloc(ctx, ap->strings[k].len + 1);
            if (!a->strings[k]) goto oom;
            if (ap->strings[k].len) memcpy(a->strings[k], ap->strings[k].data, ap->strings[k].len);
            a->strings[k][ap->strings[k].len] = '\0';
        }
        break;
    case ENGINE_ATTR_TENSOR: {
        if (!ap->t) return eng_node_error(ctx, n, ENGINE_ERR_PARSE, "tensor attribute '%s' has no tensor", ap->name);
        char what[300];
        snprintf(what, sizeof what, "node '%.120s' attribute '%.120s'", n->name, ap->name);
        eng_onnx_tensor t;
        st = eng_onnx_decode_tensor(ctx, ap->t, what, im->base_dir, 1, &t);
        if (st) return st;
        engine_value *v = eng_calloc(ctx, 1, sizeof *v);
        if (!v) {
            eng_free(ctx, t.data);
            goto oom;
        }
        a->t = v; /* freed with the node from here on */
        v->data = t.data;
        v->name = eng_strdup(ctx, ap->t->name && ap->t->name[0] ? ap->t->name : ap->name);
        if (!v->name) goto oom;
        v->dtype = t.dtype;
        v->rank = t.rank;
        memcpy(v->dims, t.dims, sizeof v->dims);
        v->flags = ENGINE_VALUE_CONST;
        v->index = -1;
        break;
    }
    default: break;
    }
    return ENGINE_OK;
oom:
    return eng_node_error(ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory copying attribute '%s'", ap->name);
}

/* A Constant node becomes a constant value, not a node. */
static engine_status import_constant(importer *im, const Onnx__NodeProto *np, const char *node_name) {
    engine_context *ctx = im->ctx;
    if (np->n_output != 1 || !np->output[0] || !np->output[0][0] || np->n_input != 0)
        return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "node '%s' (Constant): needs no inputs and one output",
                         node_name);
    if (np->n_attribute != 1)
        return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "node '%s' (Constant): needs exactly one value attribute",
                         node_name);
    const Onnx__AttributeProto *ap = np->attribute[0];
    const char *an = str_or_empty(ap->name);
    eng_onnx_tensor t;
    memset(&t, 0, sizeof t);
    engine_status st;
    if (strcmp(an, "value") == 0) {
        if (!ap->t)
            return eng_error(ctx, ENGINE_ERR_PARSE, "node '%s' (Constant): attribute 'value' has no tensor",
                             node_name);
        char what[300];
        snprintf(what, sizeof what, "node '%.200s' (Constant) value", node_name);
        st = eng_onnx_decode_tensor(ctx, ap->t, what, im->base_dir, 1, &t);
        if (st) return st;
    } else if (strcmp(an, "value_float") == 0 || strcmp(an, "value_int") == 0) {
        int is_f = an[6] == 'f';
        t.dtype = is_f ? ENGINE_DTYPE_F32 : ENGINE_DTYPE_I64;
        t.rank = 0;
        t.data = eng_alloc(ctx, 8);
        if (!t.data) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory in node '%s'", node_name);
        if (is_f) *(float *)t.data = ap->f;
        else *(int64_t *)t.data = ap->i;
    } else if (strcmp(an, "value_floats") == 0 || strcmp(an, "value_ints") == 0) {
        int is_f = an[6] == 'f';
        size_t count = is_f ? ap->n_floats : ap->n_ints;
        t.dtype = is_f ? ENGINE_DTYPE_F32 : ENGINE_DTYPE_I64;
        t.rank = 1;
        t.dims[0] = (int64_t)count;
        size_t es = is_f ? sizeof(float) : sizeof(int64_t);
        t.data = eng_alloc(ctx, count * es);
        if (!t.data) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory in node '%s'", node_name);
        if (count) memcpy(t.data, is_f ? (const void *)ap->floats : (const void *)ap->ints, count * es);
    } else if (strcmp(an, "value_string") == 0 || strcmp(an, "value_strings") == 0 ||
               strcmp(an, "sparse_value") == 0) {
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "node '%s' (Constant): attribute '%s' is not supported",
                         node_name, an);
    } else {
        return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "node '%s' (Constant): unknown attribute '%s'", node_name, an);
    }
    return add_constant(im, np->output[0], &t, node_name);
}

static engine_status import_nodes(importer *im, const Onnx__GraphProto *gp) {
    engine_context *ctx = im->ctx;
    eng_graph *g = im->g;
    char fallback[96];
    for (size_t k = 0; k < gp->n_node; ++k) {
        const Onnx__NodeProto *np = gp->node[k];
        const char *op_type = np->op_type;
        if (!op_type || !op_type[0]) return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "node %zu has no op_type", k);
        const char *name = np->name;
        if (!name || !name[0]) {
            snprintf(fallback, sizeof fallback, "%.64s_%zu", op_type, k);
            name = fallback;
        }
        int opset;
        const char *domain = np->domain;
        if (is_default_domain(domain)) {
            domain = "";
            opset = g->opset;
        } else {
            opset = -1;
            for (size_t d = 0; d < im->n_domains; ++d)
                if (strcmp(im->domains[d].domain, domain) == 0) opset = im->domains[d].version;
            if (opset < 0)
                return eng_error(ctx, ENGINE_ERR_INVALID_MODEL,
                                 "node '%s' (%s): domain '%s' is not in the model's opset_import", name, op_type, domain);
        }
        if (!domain[0] && strcmp(op_type, "Constant") == 0) {
            engine_status st = import_constant(im, np, name);
            if (st) return st;
            continue;
        }
        if (np->n_input > INT_MAX / 16 || np->n_output > INT_MAX / 16)
            return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "node '%s' (%s) has too many inputs or outputs", name,
                             op_type);
        /* Trailing omitted ("") inputs and outputs are dropped altogether. */
        size_t n_in = np->n_input, n_out = np->n_output;
        const int control = !domain[0] && (strcmp(op_type, "If") == 0 || strcmp(op_type, "Loop") == 0);
        while (!control && n_in && (!np->input[n_in - 1] || !np->input[n_in - 1][0])) n_in--;
        while (n_out && (!np->output[n_out - 1] || !np->output[n_out - 1][0])) n_out--;
        engine_node *n;
        engine_status st = eng_graph_add_node(g, name, op_type, domain, (int)n_in, (int)n_out, &n);
        if (st) return st;
        n->opset = opset;
        for (size_t i = 0; i < n_in; ++i) {
            if (!np->input[i] || !np->input[i][0]) continue;
            engine_value *v;
            st = eng_graph_get_value(g, np->input[i], &v);
            if (st) return st;
            eng_node_set_input(n, (int)i, v);
        }
        for (size_t o = 0; o < n_out; ++o) {
            if (!np->output[o] || !np->output[o][0]) continue;
            engine_value *v;
            st = eng_graph_get_value(g, np->output[o], &v);
            if (st) return st;
            if (v->flags & ENGINE_VALUE_GRAPH_INPUT)
                return eng_node_error(ctx, n, ENGINE_ERR_INVALID_MODEL, "output '%s' is also a graph input", v->name);
            st = eng_node_set_output(g, n, (int)o, v);
            if (st) return st;
        }
        for (size_t a = 0; a < np->n_attribute; ++a) {
            st = import_attr(im, n, np->attribute[a]);
            if (st) return st;
        }
    }
    return ENGINE_OK;
}

static engine_status import_outputs(importer *im, const Onnx__GraphProto *gp) {
    engine_context *ctx = im->ctx;
    eng_graph *g = im->g;
    if (gp->n_output == 0) return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "the graph has no outputs");
    for (size_t k = 0; k < gp->n_output; ++k) {
        const char *name = gp->output[k]->name;
        if (!name || !name[0]) return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "graph output %zu has no name", k);
        engine_value *v;
        engine_status st = eng_graph_get_value(g, name, &v);
        if (st) return st;
        if (v->flags & ENGINE_VALUE_GRAPH_OUTPUT)
            return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "graph output '%s' is listed twice", name);
        st = grow_list(ctx, &g->outputs, &g->n_outputs, v);
        if (st) return st;
        v->flags |= ENGINE_VALUE_GRAPH_OUTPUT;
    }
    /* What the file declares of each output (a dynamic model reports it
     * before a run; inference decides the real thing). Best effort: an
     * undeclared or unknown type stays undefined, never an error. */
    g->out_decl = eng_calloc(ctx, gp->n_output, sizeof *g->out_decl);
    if (!g->out_decl) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory reading the graph outputs");
    for (size_t k = 0; k < gp->n_output; ++k) {
        eng_decl *d = &g->out_decl[k];
        d->rank = -1;
        const Onnx__TypeProto *type = gp->output[k]->type;
        if (!type || type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !type->tensor_type) continue;
        const Onnx__TypeProto__Tensor *tt = type->tensor_type;
        char what[32];
        snprintf(what, sizeof what, "output %zu", k);
        char saved[ENG_ERRMSG_SIZE];
        memcpy(saved, ctx->message, sizeof saved);
        if (!tt->has_elem_type || check_dtype(ctx, tt->elem_type, what, &d->dtype)) d->dtype = ENGINE_DTYPE_UNDEFINED;
        memcpy(ctx->message, saved, sizeof saved);
        if (tt->shape && tt->shape->n_dim <= ENGINE_MAX_RANK) {
            d->rank = (int)tt->shape->n_dim;
            for (size_t a = 0; a < tt->shape->n_dim; ++a) {
                const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[a];
                d->dims[a] = dim && dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                                     dim->dim_value >= 0
                                 ? dim->dim_value
                                 : -1;
            }
        }
    }
    return ENGINE_OK;
}

static engine_status import_opsets(importer *im, const Onnx__ModelProto *mp) {
    engine_context *ctx = im->ctx;
    int have_default = 0;
    if (mp->n_opset_import == 0) /* required since IR 3; its absence usually means a cut file */
        return eng_error(ctx, ENGINE_ERR_PARSE, "not a complete ONNX model: it has no opset_import (truncated file?)");
    im->domains = eng_calloc(ctx, mp->n_opset_import ? mp->n_opset_import : 1, sizeof *im->domains);
    if (!im->domains) return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory reading opset imports");
    for (size_t k = 0; k < mp->n_opset_import; ++k) {
        const Onnx__OperatorSetIdProto *op = mp->opset_import[k];
        int64_t version = op->has_version ? op->version : 0;
        if (is_default_domain(op->domain)) {
            if (version < ENG_OPSET_MIN || version > ENG_OPSET_MAX)
                return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "ONNX opset %lld is not supported (supported: %d to %d)",
                                 (long long)version, ENG_OPSET_MIN, ENG_OPSET_MAX);
            if (have_default && version != im->g->opset)
                return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "the default ONNX domain is imported twice");
            im->g->opset = (int)version;
            have_default = 1;
        } else {
            if (version < 1 || version > INT_MAX)
                return eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "domain '%s' is imported with version %lld",
                                 op->domain, (long long)version);
            im->domains[im->n_domains].domain = op->domain;
            im->domains[im->n_domains].version = (int)version;
            im->n_domains++;
        }
    }
    if (!have_default)
        return eng_error(ctx, ENGINE_ERR_UNSUPPORTED, "the model imports no opset of the default ONNX domain");
    return ENGINE_OK;
}

static engine_status onnx_load(engine_context *ctx, const void *data, size_t size, void *owned, const char *base_dir,
                               FILE *file, const deferred_raw *defs, size_t n_defs, eng_graph **out,
                               eng_wrec **recs, size_t *n_recs) {
    if (!ctx || (!data && size) || !out) {
        eng_free(ctx, owned);
        return eng_error(ctx, ENGINE_ERR_INVALID_ARGUMENT, "eng_onnx_load: bad argument");
    }
    ProtobufCAllocator alloc;
    eng_onnx_allocator(ctx, &alloc);
    importer im;
    memset(&im, 0, sizeof im);
    im.ctx = ctx;
    im.base_dir = base_dir;
    im.file = file;
    im.defs = defs;
    im.n_defs = n_defs;
    eng_graph *g = NULL;
    engine_status st;
    unsigned long failures = ctx->alloc_failures;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&alloc, size, data);
    /* the message holds copies of everything: the file's bytes can go now
     * (a model's weights are then held once at a time, not three times) */
    eng_free(ctx, owned);
    if (!mp && ctx->alloc_failures != failures)
        return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory decoding the model");
    if (!mp) return eng_error(ctx, ENGINE_ERR_PARSE, "not an ONNX model: protobuf decoding failed");
    if (!mp->graph) {
        st = eng_error(ctx, ENGINE_ERR_PARSE, "not an ONNX model: it has no graph");
        goto fail;
    }
    /* As the ONNX checker: every model states its IR version (1 or more). */
    if (!mp->has_ir_version || mp->ir_version < 1) {
        st = eng_error(ctx, ENGINE_ERR_INVALID_MODEL, "the model's ir_version is %lld: a model must state its IR version (>= 1)",
                       (long long)(mp->has_ir_version ? mp->ir_version : 0));
        goto fail;
    }
    st = eng_graph_create(ctx, &g);
    if (st) goto fail;
    im.g = g;
    st = import_opsets(&im, mp);
    if (st) goto fail;
    const Onnx__GraphProto *gp = mp->graph;
    if (gp->name && gp->name[0]) {
        g->name = eng_strdup(ctx, gp->name);
        if (!g->name) {
            st = eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory loading the model");
            goto fail;
        }
    }
    if (recs && n_defs) im.recs = eng_calloc(ctx, n_defs, sizeof *im.recs); /* none: nothing recorded */
    st = import_initializers(&im, gp);
    if (!st) st = import_inputs(&im, gp);
    if (!st) st = import_nodes(&im, gp);
    if (!st) st = import_outputs(&im, gp);
    if (!st) st = eng_graph_sort(g);
    if (st) goto fail;
    eng_free(ctx, im.domains);
    onnx__model_proto__free_unpacked(mp, &alloc);
    *out = g;
    if (recs) {
        *recs = im.recs;
        *n_recs = im.n_recs;
    } else {
        eng_free(ctx, im.recs);
    }
    return ENGINE_OK;
fail:
    eng_free(ctx, im.recs);
    eng_free(ctx, im.domains);
    eng_graph_free(g);
    onnx__model_proto__free_unpacked(mp, &alloc);
    return st;
}

engine_status eng_onnx_load(engine_context *ctx, const void *data, size_t size, const char *base_dir,
                            eng_graph **out) {
    return onnx_load(ctx, data, size, NULL, base_dir, NULL, NULL, 0, out, NULL, NULL);
}

engine_status eng_onnx_load_owned(engine_context *ctx, void *data, size_t size, const char *base_dir,
                                  eng_graph **out) {
    return onnx_load(ctx, data, size, data, base_dir, NULL, NULL, 0, out, NULL, NULL);
}

/* ---- loading a file without holding it whole ----
 * eng_onnx_read_file + protobuf-c hold the file's bytes and the message's
 * copies of them at once: twice the weights at the peak (VGG-16: 1.09 GB
 * for a 553 MB file). Instead, one sequential pass over the file copies it
 * into a "skeleton" with every initializer's raw_data of DEFER_MIN bytes or
 * more left out (their file offset and length kept, the enclosing
 * messages' lengths rewritten), protobuf-c decodes the skeleton, and each
 * left-out payload is read from the file straight into its tensor. Only the
 * main graph's initializers (ModelProto.graph = 7, GraphProto.initializer
 * = 5, TensorProto.raw_data = 9); everything else is copied as it is. A
 * file the pass does not understand (a malformed varint, a length past its
 * message, groups, two graphs or two raw_data in one tensor) is loaded the
 * old way, which reports what is wrong with it. */
#define DEFER_MIN 4096u

typedef struct wbuf {
    engine_context *ctx;
    unsigned char *p;
    size_t n, cap;
    int oom;
} wbuf;

static void wput(wbuf *b, const void *src, size_t n) {
    if (b->oom || !n) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *p = eng_realloc(b->ctx, b->p, b->cap, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void wvarint(wbuf *b, uint64_t v) {
    unsigned char t[10];
    int n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    wput(b, t, (size_t)n);
}

typedef struct walk {
    engine_context *ctx;
    FILE *f;
    uint64_t pos;
    deferred_raw *defs;
    size_t n_defs, cap_defs, n_init;
    int graphs;
} walk;

/* 0 on a malformed varint or the end of the region. */
static int rvarint(walk *w, uint64_t end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (w->pos >= end) return 0;
        int c = getc(w->f);
        if (c == EOF) return 0;
        ++w->pos;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return 1;
    }
    return 0;
}

static int rcopy(walk *w, wbuf *out, uint64_t n) {
    unsigned char t[4096];
    while (n) {
        size_t k = n < sizeof t ? (size_t)n : sizeof t;
        if (fread(t, 1, k, w->f) != k) return 0;
        wput(out, t, k);
        w->pos += k;
        n -= k;
    }
    return !out->oom;
}

/* Copies the message in [w->pos, end) at nesting `level` (0 model, 1 graph,
 * 2 initializer) into out; 0: not understood. */
static int walk_message(walk *w, uint64_t end, int level, wbuf *out) {
    int raw_seen = 0;
    while (w->pos < end) {
        uint64_t tag, len;
        if (!rvarint(w, end, &tag) || tag >> 3 == 0) return 0;
        const uint64_t field = tag >> 3, wt = tag & 7;
        if (wt == 0) {
            uint64_t v;
            if (!rvarint(w, end, &v)) return 0;
            wvarint(out, tag);
            wvarint(out, v);
            continue;
        }
        if (wt == 1 || wt == 5) {
            const uint64_t n = wt == 1 ? 8 : 4;
            if (end - w->pos < n) return 0;
            wvarint(out, tag);
            if (!rcopy(w, out, n)) return 0;
            continue;
        }
        if (wt != 2 || !rvarint(w, end, &len) || len > end - w->pos) return 0;
        const int child = (level == 0 && field == 7) || (level == 1 && field == 5);
        if (child) {
            if (level == 0 && ++w->graphs > 1) return 0;
            if (level == 1) ++w->n_init;
            wbuf sub = {w->ctx, NULL, 0, 0, 0};
            const int ok = walk_message(w, w->pos + len, level + 1, &sub);
            if (ok && !sub.oom) {
                wvarint(out, tag);
                wvarint(out, sub.n);
                wput(out, sub.p, sub.n);
            }
            eng_free(w->ctx, sub.p);
            if (!ok || sub.oom || out->oom) return 0;
            continue;
        }
        if (level == 2 && field == 9) {
            if (raw_seen++) return 0;
            if (len >= DEFER_MIN) {
                if (w->n_defs == w->cap_defs) {
                    size_t cap = w->cap_defs ? w->cap_defs * 2 : 64;
                    deferred_raw *d = eng_realloc(w->ctx, w->defs, w->cap_defs * sizeof *d, cap * sizeof *d);
                    if (!d) return 0;
                    w->defs = d;
                    w->cap_defs = cap;
                }
                w->defs[w->n_defs++] = (deferred_raw){w->n_init - 1, w->pos, len};
                if (fseeko(w->f, (off_t)(w->pos + len), SEEK_SET) != 0) return 0;
                w->pos += len;
                continue;
            }
        }
        wvarint(out, tag);
        wvarint(out, len);
        if (!rcopy(w, out, len)) return 0;
    }
    return w->pos == end;
}

engine_status eng_onnx_load_file(engine_context *ctx, const char *path, const char *base_dir, eng_graph **out,
                                 eng_weights *weights) {
    if (!ctx || !path || !out) return ENGINE_ERR_INVALID_ARGUMENT;
    if (weights) eng_weights_init(weights, -1, NULL, 0);
    FILE *f = fopen(path, "rb");
    if (!f) return eng_error(ctx, ENGINE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > (uint64_t)SIZE_MAX / 2) {
        fclose(f);
        void *data = NULL; /* the old way names the problem */
        size_t size = 0;
        engine_status st = eng_onnx_read_file(ctx, path, &data, &size);
        if (st) return st;
        return eng_onnx_load_owned(ctx, data, size, base_dir, out);
    }
    walk w;
    memset(&w, 0, sizeof w);
    w.ctx = ctx;
    w.f = f;
    wbuf skel = {ctx, NULL, 0, 0, 0};
    unsigned long failures = ctx->alloc_failures;
    const int ok = walk_message(&w, (uint64_t)sb.st_size, 0, &skel) && !skel.oom;
    if (!ok) {
        eng_free(ctx, skel.p);
        eng_free(ctx, w.defs);
        fclose(f);
        if (ctx->alloc_failures != failures)
            return eng_error(ctx, ENGINE_ERR_OUT_OF_MEMORY, "out of memory reading '%s'", path);
        void *data = NULL;
        size_t size = 0;
        engine_status st = eng_onnx_read_file(ctx, path, &data, &size);
        if (st) return st;
        return eng_onnx_load_owned(ctx, data, size, base_dir, out);
    }
    eng_wrec *recs = NULL;
    size_t n_recs = 0;
    engine_status st = onnx_load(ctx, skel.p, skel.n, skel.p, base_dir, f, w.defs, w.n_defs, out,
                                 weights ? &recs : NULL, &n_recs);
    eng_free(ctx, w.defs);
    /* the file stays open for reading released weights back (weights.h) */
    int fd = !st && recs && n_recs ? fcntl(fileno(f), F_DUPFD_CLOEXEC, 0) : -1;
    fclose(f);
    if (fd < 0 || st) {
        eng_free(ctx, recs);
        recs = NULL;
        n_recs = 0;
        if (fd >= 0) close(fd);
        fd = -1;
    }
    if (weights) eng_weights_init(weights, fd, recs, n_recs);
    return st;
}
