/* context.c - contexts, the allocator, error messages, status and dtype names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *engine_version(void) {
    return ENGINE_VERSION_STRING;
}

const char *engine_status_str(engine_status status) {
    switch (status) {
    case ENGINE_OK: return "ok";
    case ENGINE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case ENGINE_ERR_OUT_OF_MEMORY: return "out of memory";
    case ENGINE_ERR_IO: return "i/o error";
    case ENGINE_ERR_PARSE: return "parse error";
    case ENGINE_ERR_INVALID_MODEL: return "invalid model";
    case ENGINE_ERR_UNSUPPORTED: return "unsupported";
    case ENGINE_ERR_SHAPE: return "shape error";
    case ENGINE_ERR_BACKEND: return "backend error";
    case ENGINE_ERR_NOT_FOUND: return "not found";
    case ENGINE_ERR_ABI: return "ABI version mismatch";
    case ENGINE_ERR_SECURITY: return "refused for safety";
    case ENGINE_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

size_t engine_dtype_size(engine_dtype dtype) {
    switch (dtype) {
    case ENGINE_DTYPE_F32: return 4;
    case ENGINE_DTYPE_U8: return 1;
    case ENGINE_DTYPE_I8: return 1;
    case ENGINE_DTYPE_I32: return 4;
    case ENGINE_DTYPE_I64: return 8;
    case ENGINE_DTYPE_BOOL: return 1;
    case ENGINE_DTYPE_F16: return 2;
    case ENGINE_DTYPE_F64: return 8;
    case ENGINE_DTYPE_UNDEFINED: return 0;
    }
    return 0;
}

const char *engine_dtype_name(engine_dtype dtype) {
    switch (dtype) {
    case ENGINE_DTYPE_F32: return "float32";
    case ENGINE_DTYPE_U8: return "uint8";
    case ENGINE_DTYPE_I8: return "int8";
    case ENGINE_DTYPE_I32: return "int32";
    case ENGINE_DTYPE_I64: return "int64";
    case ENGINE_DTYPE_BOOL: return "bool";
    case ENGINE_DTYPE_F16: return "float16";
    case ENGINE_DTYPE_F64: return "float64";
    case ENGINE_DTYPE_UNDEFINED: return "undefined";
    }
    return "undefined";
}

/* ---- memory ---- */

/* The default allocator keeps 64-byte alignment (what SIMD kernels want). */
static void *default_alloc(void *user, size_t size, size_t align) {
    (void)user;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
    return p;
}

static void default_free(void *user, void *ptr) {
    (void)user;
    free(ptr);
}

void *eng_alloc(engine_context *ctx, size_t size) {
    void *p = ctx->allocator.alloc(ctx->allocator.user, size ? size : 1, 64);
    if (!p) ctx->alloc_failures++;
    return p;
}

int eng_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

void *eng_calloc(engine_context *ctx, size_t count, size_t size) {
    size_t total;
    if (!eng_mul_size(count, size, &total)) return NULL;
    void *p = eng_alloc(ctx, total);
    if (p) memset(p, 0, total);
    return p;
}

void *eng_realloc(engine_context *ctx, void *ptr, size_t old_size, size_t new_size) {
    void *p = eng_alloc(ctx, new_size);
    if (!p) return NULL;
    if (ptr) {
        memcpy(p, ptr, old_size < new_size ? old_size : new_size);
        eng_free(ctx, ptr);
    }
    return p;
}

void eng_free(engine_context *ctx, void *ptr) {
    if (ptr) ctx->allocator.free(ctx->allocator.user, ptr);
}

char *eng_strdup(engine_context *ctx, const char *s) {
    if (!s) s = "";
    size_t len = strlen(s);
    char *d = eng_alloc(ctx, len + 1);
    if (d) memcpy(d, s, len + 1);
    return d;
}

/* ---- errors and logs ---- */

engine_status eng_error(engine_context *ctx, engine_status status, const char *fmt, ...) {
    if (!ctx) return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    return status;
}

engine_status eng_node_error(engine_context *ctx, const engine_node *node, engine_status status, const char *fmt,
                             ...) {
    if (!ctx) return status;
    int len = snprintf(ctx->message, sizeof ctx->message, "node '%s' (%s): ", node && node->name ? node->name : "?",
                       node && node->op_type ? node->op_type : "?");
    if (len < 0 || (size_t)len >= sizeof ctx->message) return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message + len, sizeof ctx->message - (size_t)len, fmt, ap);
    va_end(ap);
    return status;
}

void eng_log(engine_context *ctx, engine_log_level level, const char *fmt, ...) {
    if (!ctx || !ctx->log || level > ctx->log_level) return;
    char buf[ENG_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, buf);
}

const char *engine_context_error(const engine_context *ctx) {
    return ctx ? ctx->message : "no context";
}

/* engine_context_create / destroy live in loader.c beside module loading. */
void eng_context_init_allocator(engine_context *ctx, const engine_allocator *a) {
    if (a && a->alloc && a->free) {
        ctx->allocator = *a;
    } else {
        ctx->allocator.alloc = default_alloc;
        ctx->allocator.free = default_free;
        ctx->allocator.user = NULL;
    }
}
