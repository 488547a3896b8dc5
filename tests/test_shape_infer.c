/* Unit tests of the op catalogue's shape inference (ops/): every op's
 * output shapes and normalised params, awkward attribute cases, and error
 * cases whose message must name the node. Graphs are built by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "ops_internal.h"

#define F32 ENGINE_DTYPE_F32
#define I64 ENGINE_DTYPE_I64
#define I32 ENGINE_DTYPE_I32
#define BOOL ENGINE_DTYPE_BOOL

/* An int64 list literal followed by its length. */
#define L(...) ((const int64_t[]){__VA_ARGS__}), (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define LF(...) ((const float[]){__VA_ARGS__}), (int)(sizeof((const float[]){__VA_ARGS__}) / sizeof(float))

typedef struct fx {
    engine_context *ctx;
    eng_graph *g;
    int counter;
} fx;

static int setup(void **state) {
    static fx f;
    memset(&f, 0, sizeof f);
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.no_default_backends = 1;
    if (engine_context_create(&o, &f.ctx) != ENGINE_OK) return -1;
    if (eng_graph_create(f.ctx, &f.g) != ENGINE_OK) return -1;
    f.g->opset = 13;
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    eng_graph_free(f->g);
    engine_context_destroy(f->ctx);
    return 0;
}

static engine_value *val(fx *f, engine_dtype dt, const int64_t *dims, int rank) {
    engine_value *v;
    assert_int_equal(eng_graph_add_value(f->g, NULL, &v), ENGINE_OK);
    assert_int_equal(eng_value_set_shape(f->g, v, dt, rank, dims), ENGINE_OK);
    return v;
}

/* A non-constant activation / graph input. */
static engine_value *in_f32(fx *f, const int64_t *dims, int rank) {
    engine_value *v = val(f, F32, dims, rank);
    v->flags |= ENGINE_VALUE_GRAPH_INPUT;
    return v;
}

static engine_value *in_t(fx *f, engine_dtype dt, const int64_t *dims, int rank) {
    engine_value *v = val(f, dt, dims, rank);
    v->flags |= ENGINE_VALUE_GRAPH_INPUT;
    return v;
}

/* 1-D int64 constant. */
static engine_value *ci64(fx *f, const int64_t *vals, int n) {
    int64_t d = n;
    engine_value *v = val(f, I64, &d, 1);
    int64_t *data = eng_alloc(f->ctx, (size_t)n * 8 + 8);
    assert_non_null(data);
    memcpy(data, vals, (size_t)n * 8);
    eng_value_set_data(f->g, v, data);
    return v;
}

static engine_value *cf32(fx *f, const float *vals, int n) {
    int64_t d = n;
    engine_value *v = val(f, F32, &d, 1);
    float *data = eng_alloc(f->ctx, (size_t)n * 4 + 4);
    assert_non_null(data);
    memcpy(data, vals, (size_t)n * 4);
    eng_value_set_data(f->g, v, data);
    return v;
}

static engine_value *cf32_scalar(fx *f, float x) {
    engine_value *v = val(f, F32, NULL, 0);
    float *data = eng_alloc(f->ctx, 4);
    *data = x;
    eng_value_set_data(f->g, v, data);
    return v;
}

/* An empty (0-element) float constant: "absent" for Resize. */
static engine_value *cempty(fx *f) {
    int64_t d = 0;
    engine_value *v = val(f, F32, &d, 1);
    eng_value_set_data(f->g, v, eng_alloc(f->ctx, 4));
    return v;
}

/* A node with the given inputs (NULL allowed) and n_out fresh outputs. */
static engine_node *node(fx *f, const char *op, int opset, int n_out, int n_in, ...) {
    char name[64];
    snprintf(name, sizeof name, "%s_n%d", op, f->counter++);
    engine_node *n;
    assert_int_equal(eng_graph_add_node(f->g, name, op, "", n_in, n_out, &n), ENGINE_OK);
    n->opset = opset;
    va_list ap;
    va_start(ap, n_in);
    for (int k = 0; k < n_in; ++k) eng_node_set_input(n, k, va_arg(ap, engine_value *));
    va_end(ap);
    for (int k = 0; k < n_out; ++k) {
        engine_value *o;
        assert_int_equal(eng_graph_add_value(f->g, NULL, &o), ENGINE_OK);
        assert_int_equal(eng_node_set_output(f->g, n, k, o), ENGINE_OK);
    }
    return n;
}

static engine_attr *attr(fx *f, engine_node *n, const char *name, engine_attr_type t) {
    engine_attr *a;
    assert_int_equal(eng_node_add_attr(f->g, n, name, t, &a), ENGINE_OK);
    return a;
}

static void ai(fx *f, engine_node *n, const char *name, int64_t v) {
    attr(f, n, name, ENGINE_ATTR_INT)->i = v;
}

static void af(fx *f, engine_node *n, const char *name, float v) {
    attr(f, n, name, ENGINE_ATTR_FLOAT)->f = v;
}

static void as(fx *f, engine_node *n, const char *name, const char *s) {
    attr(f, n, name, ENGINE_ATTR_STRING)->s = eng_strdup(f->ctx, s);
}

static void ais(fx *f, engine_node *n, const char *name, const int64_t *v, int cnt) {
    engine_attr *a = attr(f, n, name, ENGINE_ATTR_INTS);
    a->ints = eng_alloc(f->ctx, (size_t)cnt * 8 + 8);
    memcpy(a->ints, v, (size_t)cnt * 8);
    a->n = cnt;
}

static void afs(fx *f, engine_node *n, const char *name, const float *v, int cnt) {
    engine_attr *a = attr(f, n, name, ENGINE_ATTR_FLOATS);
    a->floats = eng_alloc(f->ctx, (size_t)cnt * 4 + 4);
    memcpy(a->floats, v, (size_t)cnt * 4);
    a->n = cnt;
}

/* A tensor attribute holding a copy of `data`. */
static void at(fx *f, engine_node *n, const char *name, engine_dtype dt, const int64_t *dims, int rank,
               const void *data) {
    engine_attr *a = attr(f, n, name, ENGINE_ATTR_TENSOR);
    engine_value *t = eng_calloc(f->ctx, 1, sizeof *t);
    t->name = eng_strdup(f->ctx, name);
    t->dtype = dt;
    t->rank = rank;
    size_t count = 1;
    for (int k = 0; k < rank; ++k) {
        t->dims[k] = dims[k];
        count *= (size_t)dims[k];
    }
    size_t bytes = count * engine_dtype_size(dt);
    t->data = eng_alloc(f->ctx, bytes + 1);
    memcpy(t->data, data, bytes);
    t->flags = ENGINE_VALUE_CONST;
    a->t = t;
}

static void ok(fx *f, engine_node *n) {
    engine_status st = eng_infer_node(f->g, n);
    if (st != ENGINE_OK) fail_msg("%s: unexpected %s: %s", n->name, engine_status_str(st), engine_context_error(f->ctx));
}

/* Inference fails with `want` and a message naming the node and holding `sub`. */
static void err(fx *f, engine_node *n, engine_status want, const char *sub) {
    f->ctx->message[0] = '\0';
    engine_status st = eng_infer_node(f->g, n);
    const char *msg = engine_context_error(f->ctx);
    if (st != want) fail_msg("%s: got %s, want %s (%s)", n->name, engine_status_str(st), engine_status_str(want), msg);
    char head[96];
    snprintf(head, sizeof head, "node '%s' (%s): ", n->name, n->op_type);
    if (strncmp(msg, head, strlen(head)) != 0) fail_msg("message does not name the node: %s", msg);
    if (sub && !strstr(msg, sub)) fail_msg("message lacks '%s': %s", sub, msg);
}

static void shape_is(const engine_value *v, engine_dtype dt, const int64_t *dims, int rank) {
    assert_non_null(v);
    assert_int_equal(v->dtype, dt);
    if (v->rank != rank) fail_msg("rank %d, want %d", v->rank, rank);
    for (int k = 0; k < rank; ++k)
        if (v->dims[k] != dims[k]) fail_msg("dim %d is %lld, want %lld", k, (long long)v->dims[k], (long long)dims[k]);
}

#define OUT(n, k) ((n)->outputs[k])

/* ---- conv ---- */

static void test_conv(void **state) {
    fx *f = *state;
    /* weights only need a shape */
    engine_value *x = in_f32(f, L(1, 3, 224, 224)), *w = in_f32(f, L(64, 3, 7, 7)), *b = in_f32(f, L(64));
    engine_node *n = node(f, "Conv", 13, 1, 3, x, w, b);
    ais(f, n, "strides", L(2, 2));
    ais(f, n, "pads", L(3, 3, 3, 3));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 64, 112, 112));
    const engine_conv_params *p = n->params;
    assert_int_equal(p->spatial, 2);
    assert_int_equal(p->group, 1);
    assert_int_equal(p->kernel[0], 7);
    assert_int_equal(p->stride[1], 2);
    assert_int_equal(p->dilation[0], 1);
    assert_int_equal(p->pad_begin[0], 3);
    assert_int_equal(p->pad_end[1], 3);

    /* SAME_UPPER, stride 2, odd (7) and even (8) sizes: pads split with the
     * extra one at the end; SAME_LOWER puts it at the start. */
    x = in_f32(f, L(1, 1, 7, 8));
    w = in_f32(f, L(2, 1, 3, 3));
    n = node(f, "Conv", 13, 1, 2, x, w);
    as(f, n, "auto_pad", "SAME_UPPER");
    ais(f, n, "strides", L(2, 2));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 2, 4, 4));
    p = n->params;
    assert_int_equal(p->pad_begin[0], 1);
    assert_int_equal(p->pad_end[0], 1);
    assert_int_equal(p->pad_begin[1], 0);
    assert_int_equal(p->pad_end[1], 1);
    n = node(f, "Conv", 13, 1, 2, x, w);
    as(f, n, "auto_pad", "SAME_LOWER");
    ais(f, n, "strides", L(2, 2));
    ok(f, n);
    p = n->params;
    assert_int_equal(p->pad_begin[1], 1);
    assert_int_equal(p->pad_end[1], 0);
    n = node(f, "Conv", 13, 1, 2, x, w);
    as(f, n, "auto_pad", "VALID");
    ais(f, n, "pads", L(5, 5, 5, 5)); /* ignored under VALID */
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 2, 5, 6));
    assert_int_equal(((const engine_conv_params *)n->params)->pad_begin[0], 0);

    /* depthwise, dilated */
    x = in_f32(f, L(2, 32, 56, 56));
    w = in_f32(f, L(32, 1, 3, 3));
    n = node(f, "Conv", 11, 1, 2, x, w);
    ai(f, n, "group", 32);
    ais(f, n, "dilations", L(2, 2));
    ais(f, n, "pads", L(2, 2, 2, 2));
    ais(f, n, "kernel_shape", L(3, 3));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 32, 56, 56));
    assert_int_equal(((const engine_conv_params *)n->params)->group, 32);
    assert_int_equal(((const engine_conv_params *)n->params)->dilation[1], 2);

    /* 1-D and 3-D */
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 4, 10)), in_f32(f, L(8, 2, 3)));
    ai(f, n, "group", 2);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 8, 8));
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 2, 5, 6, 7)), in_f32(f, L(4, 2, 3, 3, 3)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 4, 3, 4, 5));

    /* errors */
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 4, 8, 8)), in_f32(f, L(8, 3, 3, 3)));
    err(f, n, ENGINE_ERR_SHAPE, "3 channels per group but input 0 (X) has 4");
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 4)), in_f32(f, L(8, 4)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "rank 2");
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 4, 8, 8)), in_f32(f, L(8, 4, 3)));
    err(f, n, ENGINE_ERR_SHAPE, "input 1 (W) has rank 3");
    n = node(f, "Conv", 13, 1, 3, in_f32(f, L(1, 4, 8, 8)), in_f32(f, L(8, 4, 3, 3)), in_f32(f, L(7)));
    err(f, n, ENGINE_ERR_SHAPE, "input 2 (B)");
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 4, 2, 2)), in_f32(f, L(8, 4, 3, 3)));
    err(f, n, ENGINE_ERR_SHAPE, "kernel extent");
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 6, 8, 8)), in_f32(f, L(8, 3, 3, 3)));
    ai(f, n, "group", 4);
    err(f, n, ENGINE_ERR_SHAPE, "not divisible by group 4");
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 4, 8, 8)), in_f32(f, L(8, 4, 3, 3)));
    ais(f, n, "kernel_shape", L(5, 5));
    err(f, n, ENGINE_ERR_SHAPE, "kernel_shape");
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 4, 8, 8)), in_f32(f, L(8, 4, 3, 3)));
    as(f, n, "auto_pad", "SAME");
    err(f, n, ENGINE_ERR_INVALID_MODEL, "auto_pad");
    n = node(f, "Conv", 13, 1, 1, in_f32(f, L(1, 4, 8, 8)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "missing");
    n = node(f, "Conv", 13, 1, 2, in_t(f, I64, L(1, 4, 8, 8)), in_f32(f, L(8, 4, 3, 3)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "int64");
}

static void test_conv_transpose(void **state) {
    fx *f = *state;
    engine_value *x = in_f32(f, L(1, 16, 7, 7)), *w = in_f32(f, L(16, 8, 4, 4));
    engine_node *n = node(f, "ConvTranspose", 13, 1, 2, x, w);
    ais(f, n, "strides", L(2, 2));
    ais(f, n, "pads", L(1, 1, 1, 1));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 8, 14, 14));

    n = node(f, "ConvTranspose", 13, 1, 3, x, w, in_f32(f, L(16)));
    ai(f, n, "group", 2);
    ais(f, n, "strides", L(2, 2));
    ais(f, n, "pads", L(1, 1, 1, 1));
    ais(f, n, "output_padding", L(1, 0));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 16, 15, 14));
    const engine_conv_params *p = n->params;
    assert_int_equal(p->output_padding[0], 1);
    assert_int_equal(p->group, 2);

    /* output_shape: total padding 12+4-15 = 1, NOTSET puts it at the start */
    n = node(f, "ConvTranspose", 13, 1, 2, x, w);
    ais(f, n, "strides", L(2, 2));
    ais(f, n, "output_shape", L(15, 16));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 8, 15, 16));
    p = n->params;
    assert_int_equal(p->pad_begin[0], 1);
    assert_int_equal(p->pad_end[0], 0);
    assert_int_equal(p->pad_begin[1], 0);
    assert_int_equal(p->pad_end[1], 0);

    /* SAME_UPPER: output = input * stride */
    n = node(f, "ConvTranspose", 13, 1, 2, x, in_f32(f, L(16, 8, 3, 3)));
    ais(f, n, "strides", L(2, 2));
    as(f, n, "auto_pad", "SAME_UPPER");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 8, 14, 14));
    p = n->params; /* full = 12 + 3 = 15, total 1 */
    assert_int_equal(p->pad_begin[0], 0);
    assert_int_equal(p->pad_end[0], 1);

    n = node(f, "ConvTranspose", 13, 1, 2, x, in_f32(f, L(8, 8, 3, 3)));
    err(f, n, ENGINE_ERR_SHAPE, "input 1 (W) has 8 input channels but input 0 (X) has 16");
}

/* ---- pools ---- */

static void test_pool(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "MaxPool", 12, 1, 1, in_f32(f, L(1, 64, 112, 112)));
    ais(f, n, "kernel_shape", L(3, 3));
    ais(f, n, "strides", L(2, 2));
    ais(f, n, "pads", L(1, 1, 1, 1));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 64, 56, 56));
    const engine_pool_params *p = n->params;
    assert_int_equal(p->spatial, 2);
    assert_int_equal(p->kernel[0], 3);
    assert_int_equal(p->pad_end[1], 1);

    /* ceil_mode: 5 with k2 s2 is 2 floor, 3 ceil */
    engine_value *x = in_f32(f, L(1, 1, 5, 4));
    n = node(f, "MaxPool", 12, 1, 1, x);
    ais(f, n, "kernel_shape", L(2, 2));
    ais(f, n, "strides", L(2, 2));
    ai(f, n, "ceil_mode", 1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 1, 3, 2));
    assert_int_equal(((const engine_pool_params *)n->params)->ceil_mode, 1);
    /* ceil_mode with end padding: on width 4, k2 s2 pads (0,1) the ceil
     * window would start at 4, in the padding: dropped (2, not 3) */
    n = node(f, "AveragePool", 12, 1, 1, x);
    ais(f, n, "kernel_shape", L(2, 2));
    ais(f, n, "strides", L(2, 2));
    ais(f, n, "pads", L(0, 0, 1, 1));
    ai(f, n, "ceil_mode", 1);
    ai(f, n, "count_include_pad", 1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 1, 3, 2));
    assert_int_equal(((const engine_pool_params *)n->params)->count_include_pad, 1);

    /* dilation: extent 5 on 10 -> 6 */
    n = node(f, "MaxPool", 12, 1, 1, in_f32(f, L(1, 2, 10)));
    ais(f, n, "kernel_shape", L(3));
    ais(f, n, "dilations", L(2));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 2, 6));

    /* SAME_UPPER stride 2 on odd size 7: out 4, total pad 1 at the end */
    n = node(f, "AveragePool", 12, 1, 1, in_f32(f, L(1, 2, 7, 7)));
    ais(f, n, "kernel_shape", L(2, 2));
    ais(f, n, "strides", L(2, 2));
    as(f, n, "auto_pad", "SAME_UPPER");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 2, 4, 4));
    p = n->params;
    assert_int_equal(p->pad_begin[0], 0);
    assert_int_equal(p->pad_end[0], 1);

    /* unused Indices output gets a shape */
    n = node(f, "MaxPool", 12, 2, 1, in_f32(f, L(1, 2, 8, 8)));
    ais(f, n, "kernel_shape", L(2, 2));
    ais(f, n, "strides", L(2, 2));
    ok(f, n);
    shape_is(OUT(n, 1), I64, L(1, 2, 4, 4));

    n = node(f, "GlobalAveragePool", 13, 1, 1, in_f32(f, L(2, 8, 7, 5)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 8, 1, 1));
    n = node(f, "GlobalMaxPool", 13, 1, 1, in_f32(f, L(2, 8, 7)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 8, 1));

    n = node(f, "MaxPool", 12, 1, 1, in_f32(f, L(1, 2, 8, 8)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "kernel_shape");
    n = node(f, "MaxPool", 12, 1, 1, in_f32(f, L(1, 2, 8, 8)));
    ais(f, n, "kernel_shape", L(2));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "kernel_shape has 1 values, expected 2");
    n = node(f, "GlobalAveragePool", 13, 1, 1, in_f32(f, L(2, 8)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "rank 2");
}

/* ---- norm ---- */

static void test_norm(void **state) {
    fx *f = *state;
    engine_value *c3 = in_f32(f, L(3));
    engine_node *n = node(f, "BatchNormalization", 15, 1, 5, in_f32(f, L(2, 3, 4, 4)), c3, c3, c3, c3);
    af(f, n, "epsilon", 1e-3f);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 4, 4));
    assert_true(fabsf(((const engine_scalar_params *)n->params)->epsilon - 1e-3f) < 1e-9f);
    n = node(f, "BatchNormalization", 9, 1, 5, in_f32(f, L(2, 3)), c3, c3, c3, c3);
    ok(f, n);
    assert_true(fabsf(((const engine_scalar_params *)n->params)->epsilon - 1e-5f) < 1e-10f);
    n = node(f, "BatchNormalization", 15, 1, 5, in_f32(f, L(2, 3, 4, 4)), c3, c3, in_f32(f, L(4)), c3);
    err(f, n, ENGINE_ERR_SHAPE, "input 3 (mean) has shape [4] but input 0 (X) has 3 channels");
    /* training_mode: running mean and variance as outputs 1 and 2 */
    n = node(f, "BatchNormalization", 15, 3, 5, in_f32(f, L(2, 3, 4, 4)), c3, c3, c3, c3);
    ai(f, n, "training_mode", 1);
    af(f, n, "momentum", 0.5f);
    ok(f, n);
    shape_is(OUT(n, 1), F32, L(3));
    shape_is(OUT(n, 2), F32, L(3));
    assert_int_equal(((const engine_scalar_params *)n->params)->size, 1);
    assert_true(fabsf(((const engine_scalar_params *)n->params)->alpha - 0.5f) < 1e-9f);
    n = node(f, "BatchNormalization", 9, 1, 5, in_f32(f, L(2, 3, 4, 4)), c3, c3, c3, c3);
    ai(f, n, "training_mode", 1);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "training_mode is not defined in opset 9");
    n = node(f, "BatchNormalization", 15, 1, 4, in_f32(f, L(2, 3, 4, 4)), c3, c3, c3);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "input 4 is missing");

    n = node(f, "InstanceNormalization", 6, 1, 3, in_f32(f, L(1, 3, 5, 5)), c3, c3);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 5, 5));
    n = node(f, "InstanceNormalization", 6, 1, 3, in_f32(f, L(1, 4, 5, 5)), c3, c3);
    err(f, n, ENGINE_ERR_SHAPE, "input 1 (scale)");

    n = node(f, "LRN", 13, 1, 1, in_f32(f, L(1, 8, 5, 5)));
    ai(f, n, "size", 5);
    ok(f, n);
    const engine_scalar_params *p = n->params;
    assert_int_equal(p->size, 5);
    assert_true(fabsf(p->alpha - 1e-4f) < 1e-10f);
    assert_true(fabsf(p->beta - 0.75f) < 1e-7f);
    assert_true(fabsf(p->bias - 1.0f) < 1e-7f);
    n = node(f, "LRN", 13, 1, 1, in_f32(f, L(1, 8, 5, 5)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "'size'");
}

/* ---- activations ---- */

static void test_activation(void **state) {
    fx *f = *state;
    static const char *const plain[] = {"Relu", "Sigmoid", "HardSwish", "Tanh", "Softplus", "Mish",
                                        "Sqrt", "Exp",     "Log",       "Neg",  "Abs"};
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; ++k) {
        engine_node *n = node(f, plain[k], 18, 1, 1, in_f32(f, L(2, 3)));
        ok(f, n);
        shape_is(OUT(n, 0), F32, L(2, 3));
    }
    /* an op used before the opset that defines it */
    err(f, node(f, "Mish", 17, 1, 1, in_f32(f, L(2, 3))), ENGINE_ERR_INVALID_MODEL,
        "Mish is not defined in opset 17 (it exists from opset 18)");
    err(f, node(f, "Resize", 9, 1, 2, in_f32(f, L(1, 1, 2, 2)), in_f32(f, L(4))), ENGINE_ERR_INVALID_MODEL,
        "opset 9");
    engine_node *n = node(f, "Neg", 13, 1, 1, in_t(f, I64, L(4)));
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(4));
    n = node(f, "Relu", 13, 1, 1, in_t(f, I64, L(4)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "int64");

    n = node(f, "LeakyRelu", 13, 1, 1, in_f32(f, L(2)));
    ok(f, n);
    assert_true(fabsf(((const engine_scalar_params *)n->params)->alpha - 0.01f) < 1e-9f);
    n = node(f, "Elu", 13, 1, 1, in_f32(f, L(2)));
    ok(f, n);
    assert_true(((const engine_scalar_params *)n->params)->alpha == 1.0f);
    n = node(f, "Selu", 13, 1, 1, in_f32(f, L(2)));
    ok(f, n);
    assert_true(((const engine_scalar_params *)n->params)->alpha == 1.67326319217681884765625f);
    assert_true(((const engine_scalar_params *)n->params)->gamma == 1.05070102214813232421875f);
    n = node(f, "HardSigmoid", 13, 1, 1, in_f32(f, L(2)));
    af(f, n, "alpha", 0.25f);
    ok(f, n);
    assert_true(((const engine_scalar_params *)n->params)->alpha == 0.25f);
    assert_true(((const engine_scalar_params *)n->params)->beta == 0.5f);

    /* PRelu: slope [C,1,1] broadcasts one way; [C] against W does not */
    n = node(f, "PRelu", 9, 1, 2, in_f32(f, L(1, 3, 4, 5)), in_f32(f, L(3, 1, 1)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 4, 5));
    n = node(f, "PRelu", 9, 1, 2, in_f32(f, L(1, 3, 4, 5)), in_f32(f, L(3)));
    err(f, n, ENGINE_ERR_SHAPE, "slope");

    /* Clip: attributes before 11, inputs after; absent bounds infinite */
    n = node(f, "Clip", 6, 1, 1, in_f32(f, L(2, 2)));
    af(f, n, "min", 0.0f);
    af(f, n, "max", 6.0f);
    ok(f, n);
    assert_true(((const engine_scalar_params *)n->params)->min == 0.0f);
    assert_true(((const engine_scalar_params *)n->params)->max == 6.0f);
    n = node(f, "Clip", 13, 1, 3, in_f32(f, L(2, 2)), cf32_scalar(f, -1.0f), NULL);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 2));
    assert_true(((const engine_scalar_params *)n->params)->min == -1.0f);
    assert_true(isinf(((const engine_scalar_params *)n->params)->max));
    n = node(f, "Clip", 13, 1, 2, in_f32(f, L(2, 2)), in_f32(f, NULL, 0));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "not constant");
}

/* ---- elementwise ---- */

static void test_elementwise(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "Add", 13, 1, 2, in_f32(f, L(2, 3, 4, 5)), in_f32(f, L(5)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 4, 5));
    n = node(f, "Mul", 13, 1, 2, in_f32(f, L(4, 1)), in_f32(f, L(1, 3)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(4, 3));
    n = node(f, "Div", 13, 1, 2, in_t(f, I64, NULL, 0), in_t(f, I64, L(3)));
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(3));
    n = node(f, "Sub", 13, 1, 2, in_f32(f, L(3)), in_f32(f, L(4)));
    err(f, n, ENGINE_ERR_SHAPE, "cannot be broadcast");
    n = node(f, "Add", 13, 1, 2, in_f32(f, L(3)), in_t(f, I64, L(3)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "type");
    n = node(f, "Pow", 13, 1, 2, in_f32(f, L(2, 3)), in_t(f, I64, NULL, 0));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3));
    n = node(f, "Equal", 13, 1, 2, in_t(f, I64, L(2, 1)), in_t(f, I64, L(3)));
    ok(f, n);
    shape_is(OUT(n, 0), BOOL, L(2, 3));
    n = node(f, "Where", 16, 1, 3, in_t(f, BOOL, L(2, 1, 1)), in_f32(f, L(3, 1)), in_f32(f, L(4)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 4));
    n = node(f, "Where", 16, 1, 3, in_f32(f, L(2)), in_f32(f, L(2)), in_f32(f, L(2)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "condition");
}

/* ---- issue 17's ops ---- */

static void test_ops17(void **state) {
    fx *f = *state;
    static const char *const plain[] = {"Floor", "Ceil", "Round", "Sign", "Reciprocal", "Erf", "Sin", "Cos",
                                        "Softsign", "ThresholdedRelu", "Celu", "Shrink", "Gelu"};
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; ++k) {
        engine_node *n = node(f, plain[k], 20, 1, 1, in_f32(f, L(2, 3)));
        ok(f, n);
        shape_is(OUT(n, 0), F32, L(2, 3));
    }
    engine_node *n = node(f, "Sign", 13, 1, 1, in_t(f, I64, L(4)));
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(4));
    err(f, node(f, "Floor", 13, 1, 1, in_t(f, I64, L(4))), ENGINE_ERR_UNSUPPORTED, "int64");
    n = node(f, "Not", 1, 1, 1, in_t(f, BOOL, L(3)));
    ok(f, n);
    shape_is(OUT(n, 0), BOOL, L(3));
    err(f, node(f, "Not", 1, 1, 1, in_f32(f, L(3))), ENGINE_ERR_UNSUPPORTED, "float32");
    err(f, node(f, "Gelu", 19, 1, 1, in_f32(f, L(2))), ENGINE_ERR_INVALID_MODEL, "exists from opset 20");
    err(f, node(f, "Round", 10, 1, 1, in_f32(f, L(2))), ENGINE_ERR_INVALID_MODEL, "exists from opset 11");
    n = node(f, "Gelu", 20, 1, 1, in_f32(f, L(2)));
    as(f, n, "approximate", "tanh");
    ok(f, n);
    assert_int_equal(((const engine_scalar_params *)n->params)->size, 1);
    n = node(f, "Gelu", 20, 1, 1, in_f32(f, L(2)));
    as(f, n, "approximate", "fast");
    err(f, n, ENGINE_ERR_INVALID_MODEL, "approximate");
    n = node(f, "Shrink", 9, 1, 1, in_f32(f, L(2)));
    ok(f, n);
    assert_true(((const engine_scalar_params *)n->params)->alpha == 0.5f);
    n = node(f, "Celu", 12, 1, 1, in_f32(f, L(2)));
    af(f, n, "alpha", 0.0f);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "alpha");

    /* comparisons and logical ops: bool out, broadcast */
    static const char *const cmp[] = {"Greater", "Less", "GreaterOrEqual", "LessOrEqual"};
    for (size_t k = 0; k < sizeof cmp / sizeof cmp[0]; ++k) {
        n = node(f, cmp[k], 16, 1, 2, in_t(f, I64, L(2, 1)), in_t(f, I64, L(3)));
        ok(f, n);
        shape_is(OUT(n, 0), BOOL, L(2, 3));
    }
    err(f, node(f, "Greater", 7, 1, 2, in_t(f, I64, L(2)), in_t(f, I64, L(2))), ENGINE_ERR_UNSUPPORTED, "int64");
    n = node(f, "Xor", 7, 1, 2, in_t(f, BOOL, L(4, 1)), in_t(f, BOOL, L(3)));
    ok(f, n);
    shape_is(OUT(n, 0), BOOL, L(4, 3));
    err(f, node(f, "And", 7, 1, 2, in_f32(f, L(2)), in_f32(f, L(2))), ENGINE_ERR_UNSUPPORTED, "bool");

    /* Mod: float needs fmod = 1 */
    n = node(f, "Mod", 13, 1, 2, in_f32(f, L(2, 3)), in_f32(f, L(3)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "fmod = 1");
    n = node(f, "Mod", 13, 1, 2, in_f32(f, L(2, 3)), in_f32(f, L(3)));
    ai(f, n, "fmod", 1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3));
    n = node(f, "Mod", 10, 1, 2, in_t(f, I64, L(2, 3)), in_t(f, I64, L(1)));
    ok(f, n);
    assert_int_equal(((const engine_cast_params *)n->params)->to, 0);
    n = node(f, "Mod", 13, 1, 2, in_t(f, I64, L(2)), in_t(f, I64, L(2)));
    ai(f, n, "fmod", 2);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "fmod");

    /* variadic: every input broadcast; one input; dtypes */
    n = node(f, "Sum", 13, 1, 3, in_f32(f, L(2, 1, 4)), in_f32(f, L(3, 1)), in_f32(f, L(4)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 4));
    n = node(f, "Mean", 13, 1, 1, in_f32(f, L(5)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(5));
    n = node(f, "Max", 13, 1, 2, in_t(f, I64, L(2)), in_t(f, I64, L(2)));
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(2));
    err(f, node(f, "Max", 8, 1, 2, in_t(f, I64, L(2)), in_t(f, I64, L(2))), ENGINE_ERR_UNSUPPORTED, "int64");
    err(f, node(f, "Min", 13, 1, 2, in_f32(f, L(3)), in_f32(f, L(4))), ENGINE_ERR_SHAPE, "broadcast");
    err(f, node(f, "Min", 13, 1, 2, in_f32(f, L(3)), in_t(f, I64, L(3))), ENGINE_ERR_INVALID_MODEL, "type");

    /* reductions: attribute axes before 18, input from 18 */
    n = node(f, "ReduceL2", 13, 1, 1, in_f32(f, L(2, 3, 4)));
    ais(f, n, "axes", L(1, -1));
    ai(f, n, "keepdims", 0);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2));
    n = node(f, "ReduceLogSumExp", 18, 1, 2, in_f32(f, L(2, 3, 4)), ci64(f, L(1)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 1, 4));
    n = node(f, "ReduceMin", 20, 1, 1, in_t(f, BOOL, L(2, 3)));
    ok(f, n);
    shape_is(OUT(n, 0), BOOL, L(1, 1));
    err(f, node(f, "ReduceProd", 18, 1, 1, in_t(f, BOOL, L(2))), ENGINE_ERR_UNSUPPORTED, "bool");

    /* ArgMax/ArgMin: int64 out, axis normalised, keepdims */
    n = node(f, "ArgMax", 13, 1, 1, in_f32(f, L(2, 3, 4)));
    ai(f, n, "axis", -1);
    ai(f, n, "keepdims", 0);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(2, 3));
    assert_int_equal(((const engine_arg_params *)n->params)->axis, 2);
    n = node(f, "ArgMin", 12, 1, 1, in_t(f, I32, L(5, 2)));
    ai(f, n, "select_last_index", 1);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(1, 2));
    assert_int_equal(((const engine_arg_params *)n->params)->select_last, 1);
    n = node(f, "ArgMax", 13, 1, 1, in_f32(f, L(2, 3)));
    ai(f, n, "axis", 2);
    err(f, n, ENGINE_ERR_SHAPE, "axis");
    err(f, node(f, "ArgMax", 13, 1, 1, in_f32(f, NULL, 0)), ENGINE_ERR_SHAPE, "rank");

    /* Hardmax as Softmax; LpNormalization p 1 or 2 */
    n = node(f, "Hardmax", 11, 1, 1, in_f32(f, L(2, 3, 4)));
    ok(f, n);
    assert_int_equal(((const engine_softmax_params *)n->params)->legacy, 1);
    n = node(f, "LpNormalization", 1, 1, 1, in_f32(f, L(2, 3)));
    ok(f, n);
    assert_int_equal(((const engine_scan_params *)n->params)->axis, 1);
    assert_int_equal(((const engine_scan_params *)n->params)->p, 2);
    n = node(f, "LpNormalization", 1, 1, 1, in_f32(f, L(2, 3)));
    ai(f, n, "p", 3);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "p must be 1 or 2");

    /* CumSum: constant axis input; Trilu: optional constant k */
    n = node(f, "CumSum", 14, 1, 2, in_t(f, I64, L(2, 3)), ci64(f, L(-1)));
    ai(f, n, "reverse", 1);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(2, 3));
    assert_int_equal(((const engine_scan_params *)n->params)->axis, 1);
    assert_int_equal(((const engine_scan_params *)n->params)->reverse, 1);
    err(f, node(f, "CumSum", 14, 1, 2, in_f32(f, L(2, 3)), ci64(f, L(2))), ENGINE_ERR_SHAPE, "axis 2 is out of range");
    err(f, node(f, "CumSum", 10, 1, 2, in_f32(f, L(2)), ci64(f, L(0))), ENGINE_ERR_INVALID_MODEL, "opset 11");
    n = node(f, "Trilu", 14, 1, 2, in_t(f, BOOL, L(3, 4)), ci64(f, L(-1)));
    ai(f, n, "upper", 0);
    ok(f, n);
    shape_is(OUT(n, 0), BOOL, L(3, 4));
    assert_int_equal(((const engine_scan_params *)n->params)->k, -1);
    assert_int_equal(((const engine_scan_params *)n->params)->upper, 0);
    err(f, node(f, "Trilu", 14, 1, 1, in_f32(f, L(4))), ENGINE_ERR_SHAPE, "rank 1");

    /* MeanVarianceNormalization: default axes [0, 2, 3] */
    n = node(f, "MeanVarianceNormalization", 13, 1, 1, in_f32(f, L(2, 3, 4, 5)));
    ok(f, n);
    assert_int_equal(((const engine_reduce_params *)n->params)->axes_mask, 0xdu);
    err(f, node(f, "MeanVarianceNormalization", 13, 1, 1, in_f32(f, L(2, 3))), ENGINE_ERR_SHAPE, "axes value");
    n = node(f, "MeanVarianceNormalization", 9, 1, 1, in_f32(f, L(2, 3)));
    ais(f, n, "axes", L(1, -1));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "repeats axis 1");
}

/* ---- gemm ---- */

static void test_gemm(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "Gemm", 13, 1, 3, in_f32(f, L(2, 4)), in_f32(f, L(3, 4)), in_f32(f, L(3)));
    ai(f, n, "transB", 1);
    af(f, n, "alpha", 0.5f);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3));
    const engine_gemm_params *p = n->params;
    assert_int_equal(p->trans_a, 0);
    assert_int_equal(p->trans_b, 1);
    assert_true(p->alpha == 0.5f && p->beta == 1.0f);
    n = node(f, "Gemm", 13, 1, 2, in_f32(f, L(4, 2)), in_f32(f, L(4, 3)));
    ai(f, n, "transA", 1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3));
    n = node(f, "Gemm", 13, 1, 2, in_f32(f, L(2, 4)), in_f32(f, L(3, 4)));
    err(f, n, ENGINE_ERR_SHAPE, "inner dimensions");
    n = node(f, "Gemm", 13, 1, 3, in_f32(f, L(2, 4)), in_f32(f, L(4, 3)), in_f32(f, L(2, 2)));
    err(f, n, ENGINE_ERR_SHAPE, "input 2 (C)");

    n = node(f, "MatMul", 13, 1, 2, in_f32(f, L(2, 3, 4)), in_f32(f, L(4, 5)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 5));
    n = node(f, "MatMul", 13, 1, 2, in_f32(f, L(4)), in_f32(f, L(2, 4, 5)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 5));
    n = node(f, "MatMul", 13, 1, 2, in_f32(f, L(2, 1, 3, 4)), in_f32(f, L(5, 4, 6)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 5, 3, 6));
    n = node(f, "MatMul", 13, 1, 2, in_f32(f, L(3, 4)), in_f32(f, L(4)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(3));
    n = node(f, "MatMul", 13, 1, 2, in_f32(f, L(3)), in_f32(f, L(3)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, NULL, 0);
    n = node(f, "MatMul", 13, 1, 2, in_f32(f, L(3, 4)), in_f32(f, L(5, 6)));
    err(f, n, ENGINE_ERR_SHAPE, "inner dimensions");
    n = node(f, "MatMul", 13, 1, 2, in_f32(f, L(2, 3, 4)), in_f32(f, L(3, 4, 5)));
    err(f, n, ENGINE_ERR_SHAPE, "broadcast");
}

/* ---- softmax ---- */

static void test_softmax(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "Softmax", 11, 1, 1, in_f32(f, L(2, 3, 4)));
    ok(f, n);
    const engine_softmax_params *p = n->params;
    assert_int_equal(p->axis, 1);
    assert_int_equal(p->legacy, 1);
    n = node(f, "LogSoftmax", 11, 1, 1, in_f32(f, L(2, 3, 4)));
    ai(f, n, "axis", -1);
    ok(f, n);
    p = n->params;
    assert_int_equal(p->axis, 2);
    assert_int_equal(p->legacy, 0); /* the last axis: same as the new form */
    n = node(f, "Softmax", 13, 1, 1, in_f32(f, L(2, 3, 4)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 4));
    p = n->params;
    assert_int_equal(p->axis, 2);
    assert_int_equal(p->legacy, 0);
    n = node(f, "Softmax", 13, 1, 1, in_f32(f, L(2, 3, 4)));
    ai(f, n, "axis", 1);
    ok(f, n);
    assert_int_equal(((const engine_softmax_params *)n->params)->legacy, 0);
    n = node(f, "Softmax", 13, 1, 1, in_f32(f, L(2, 3, 4)));
    ai(f, n, "axis", 3);
    err(f, n, ENGINE_ERR_SHAPE, "axis 3 is out of range");
}

/* ---- reduce ---- */

static void test_reduce(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "ReduceMean", 13, 1, 1, in_f32(f, L(2, 3, 4, 5)));
    ais(f, n, "axes", L(-1, -2));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 1, 1));
    assert_int_equal(((const engine_reduce_params *)n->params)->axes_mask, 0xC);
    assert_int_equal(((const engine_reduce_params *)n->params)->keepdims, 1);
    n = node(f, "ReduceSum", 13, 1, 2, in_f32(f, L(2, 3, 4)), ci64(f, L(1)));
    ai(f, n, "keepdims", 0);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 4));
    assert_int_equal(((const engine_reduce_params *)n->params)->axes_mask, 0x2);
    n = node(f, "ReduceMax", 13, 1, 1, in_f32(f, L(2, 3, 4)));
    ai(f, n, "keepdims", 0);
    ok(f, n);
    shape_is(OUT(n, 0), F32, NULL, 0);
    assert_int_equal(((const engine_reduce_params *)n->params)->axes_mask, 0x7);
    n = node(f, "ReduceSum", 13, 1, 1, in_f32(f, L(2, 3, 4)));
    ai(f, n, "noop_with_empty_axes", 1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 4));
    assert_int_equal(((const engine_reduce_params *)n->params)->axes_mask, 0);
    n = node(f, "ReduceMean", 18, 1, 2, in_f32(f, L(2, 3, 4)), ci64(f, L(0, 2)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 1));
    n = node(f, "ReduceSum", 13, 1, 2, in_f32(f, L(2, 3, 4)), in_t(f, I64, L(1)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "not constant");
    n = node(f, "ReduceMean", 13, 1, 1, in_f32(f, L(2, 3)));
    ais(f, n, "axes", L(2));
    err(f, n, ENGINE_ERR_SHAPE, "out of range");
}

/* ---- resize ---- */

static void test_resize(void **state) {
    fx *f = *state;
    engine_value *x = in_f32(f, L(1, 3, 10, 20));
    /* opset 11 with sizes; roi and scales empty */
    engine_node *n = node(f, "Resize", 11, 1, 4, x, cempty(f), cempty(f), ci64(f, L(1, 3, 15, 40)));
    as(f, n, "mode", "linear");
    as(f, n, "coordinate_transformation_mode", "align_corners");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 15, 40));
    const engine_resize_params *p = n->params;
    assert_int_equal(p->mode, ENGINE_RESIZE_LINEAR);
    assert_int_equal(p->coord, ENGINE_COORD_ALIGN_CORNERS);
    assert_true(fabsf(p->scales[2] - 1.5f) < 1e-6f);
    assert_true(fabsf(p->scales[3] - 2.0f) < 1e-6f);
    assert_true(p->scales[0] == 1.0f);

    /* opset 13 scales, roi omitted */
    n = node(f, "Resize", 13, 1, 3, x, NULL, cf32(f, LF(1, 1, 2, 0.5f)));
    as(f, n, "mode", "cubic");
    af(f, n, "cubic_coeff_a", -0.5f);
    ai(f, n, "exclude_outside", 1);
    as(f, n, "nearest_mode", "floor");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 20, 10));
    p = n->params;
    assert_int_equal(p->mode, ENGINE_RESIZE_CUBIC);
    assert_int_equal(p->coord, ENGINE_COORD_HALF_PIXEL);
    assert_int_equal(p->nearest, ENGINE_NEAREST_FLOOR);
    assert_true(p->cubic_coeff_a == -0.5f);
    assert_int_equal(p->exclude_outside, 1);

    /* opset 10: scales is input 1; asymmetric coordinates */
    n = node(f, "Resize", 10, 1, 2, x, cf32(f, LF(1, 1, 2, 2)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 20, 40));
    assert_int_equal(((const engine_resize_params *)n->params)->coord, ENGINE_COORD_ASYMMETRIC);

    /* opset 18: axes + keep_aspect_ratio_policy not_larger: scale min(15/10, 60/20) = 1.5 */
    n = node(f, "Resize", 18, 1, 4, x, NULL, NULL, ci64(f, L(15, 60)));
    ais(f, n, "axes", L(2, 3));
    as(f, n, "keep_aspect_ratio_policy", "not_larger");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 15, 30));

    n = node(f, "Resize", 13, 1, 3, x, NULL, cf32(f, LF(1, 1, 2, 2)));
    as(f, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    err(f, n, ENGINE_ERR_INVALID_MODEL, "needs input 1 (roi)");
    n = node(f, "Resize", 13, 1, 3, x, cf32(f, LF(0, 0, 0.5f, 1, 1, 1)), cf32(f, LF(1, 1, 2, 2)));
    as(f, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    err(f, n, ENGINE_ERR_SHAPE, "roi has 6 values, expected 8");
    n = node(f, "Resize", 13, 1, 3, x, cf32(f, LF(0, 0, 0.5f, 0, 1, 1, 1, 0.5f)), cf32(f, LF(1, 1, 2, 2)));
    as(f, n, "coordinate_transformation_mode", "tf_crop_and_resize");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 20, 40));
    assert_float_equal(((const engine_resize_params *)n->params)->roi_start[2], 0.5f, 0);
    assert_float_equal(((const engine_resize_params *)n->params)->roi_end[3], 0.5f, 0);
    n = node(f, "Resize", 13, 1, 4, x, NULL, cf32(f, LF(1, 1, 2, 2)), ci64(f, L(1, 3, 20, 40)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "both scales and sizes");
    n = node(f, "Resize", 13, 1, 3, x, NULL, in_f32(f, L(4)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "not constant");
    n = node(f, "Resize", 13, 1, 3, x, NULL, cf32(f, LF(2, 2)));
    err(f, n, ENGINE_ERR_SHAPE, "scales has 2 values");

    /* Upsample: attribute (7), input (9) */
    n = node(f, "Upsample", 7, 1, 1, x);
    afs(f, n, "scales", LF(1, 1, 2, 3));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 20, 60));
    n = node(f, "Upsample", 9, 1, 2, x, cf32(f, LF(1, 1, 2, 2)));
    as(f, n, "mode", "linear");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 20, 40));
    assert_int_equal(((const engine_resize_params *)n->params)->mode, ENGINE_RESIZE_LINEAR);
    n = node(f, "Upsample", 7, 1, 1, x);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "scales");
}

/* ---- tensor ---- */

static void test_concat_split(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "Concat", 13, 1, 3, in_f32(f, L(2, 3, 4)), in_f32(f, L(2, 3, 1)), in_f32(f, L(2, 3, 5)));
    ai(f, n, "axis", -1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 10));
    assert_int_equal(((const engine_axis_params *)n->params)->axis, 2);
    n = node(f, "Concat", 13, 1, 2, in_f32(f, L(2, 3, 4)), in_f32(f, L(2, 4, 4)));
    ai(f, n, "axis", 0);
    err(f, n, ENGINE_ERR_SHAPE, "differ on axis 1");
    n = node(f, "Concat", 13, 1, 2, in_f32(f, L(2, 3)), in_f32(f, L(2, 3, 1)));
    ai(f, n, "axis", 0);
    err(f, n, ENGINE_ERR_SHAPE, "rank");

    /* Split: attribute (11), input (13), equal, num_outputs (18) */
    engine_value *x = in_f32(f, L(2, 10));
    n = node(f, "Split", 11, 2, 1, x);
    ai(f, n, "axis", -1);
    ais(f, n, "split", L(3, 7));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3));
    shape_is(OUT(n, 1), F32, L(2, 7));
    const engine_axis_params *p = n->params;
    assert_int_equal(p->axis, 1);
    assert_int_equal(p->n_sizes, 2);
    assert_int_equal(p->sizes[1], 7);
    n = node(f, "Split", 13, 3, 2, x, ci64(f, L(1, 1, 8)));
    ai(f, n, "axis", 1);
    ok(f, n);
    shape_is(OUT(n, 2), F32, L(2, 8));
    n = node(f, "Split", 13, 2, 1, x);
    ai(f, n, "axis", 1);
    ok(f, n);
    shape_is(OUT(n, 1), F32, L(2, 5));
    n = node(f, "Split", 18, 3, 1, x);
    ai(f, n, "axis", 1);
    ai(f, n, "num_outputs", 3);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 4));
    shape_is(OUT(n, 2), F32, L(2, 2));
    n = node(f, "Split", 13, 3, 1, x);
    ai(f, n, "axis", 1);
    err(f, n, ENGINE_ERR_SHAPE, "equal parts");
    n = node(f, "Split", 13, 2, 2, x, ci64(f, L(3, 3)));
    ai(f, n, "axis", 1);
    err(f, n, ENGINE_ERR_SHAPE, "sum to 6");
}

static void test_slice(void **state) {
    fx *f = *state;
    engine_value *x = in_f32(f, L(10, 20, 30));
    /* opset 9 attributes */
    engine_node *n = node(f, "Slice", 9, 1, 1, x);
    ais(f, n, "starts", L(1, -5));
    ais(f, n, "ends", L(1000, -1));
    ais(f, n, "axes", L(0, 2));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(9, 20, 4));
    const engine_slice_params *p = n->params;
    assert_int_equal(p->start[0], 1);
    assert_int_equal(p->start[1], 0);
    assert_int_equal(p->start[2], 25);
    assert_int_equal(p->step[2], 1);

    /* full reverse with INT64_MIN end, step 3, negative axis, clamped start */
    n = node(f, "Slice", 13, 1, 5, x, ci64(f, L(-1, 1, -100)), ci64(f, L(INT64_MIN, INT64_MAX, 5)),
             ci64(f, L(0, -2, 2)), ci64(f, L(-1, 3, 2)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(10, 7, 3));
    p = n->params;
    assert_int_equal(p->start[0], 9);
    assert_int_equal(p->step[0], -1);
    assert_int_equal(p->start[1], 1);
    assert_int_equal(p->step[1], 3);
    assert_int_equal(p->start[2], 0);
    /* step -2 from 8 down to (not including) 1: 8,6,4,2; start clamped to dim-1 */
    n = node(f, "Slice", 13, 1, 5, x, ci64(f, L(8, 100)), ci64(f, L(1, 0)), ci64(f, L(0, 1)), ci64(f, L(-2, -7)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(4, 3, 30));
    assert_int_equal(((const engine_slice_params *)n->params)->start[1], 19);
    /* empty result */
    n = node(f, "Slice", 13, 1, 3, x, ci64(f, L(5)), ci64(f, L(2)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(0, 20, 30));

    n = node(f, "Slice", 13, 1, 5, x, ci64(f, L(0)), ci64(f, L(5)), NULL, ci64(f, L(0)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "steps[0] is 0");
    n = node(f, "Slice", 13, 1, 3, x, in_t(f, I64, L(1)), ci64(f, L(5)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "not constant");
    n = node(f, "Slice", 13, 1, 4, x, ci64(f, L(0, 0)), ci64(f, L(5, 5)), ci64(f, L(1, -2)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "repeats axis 1");
}

static void test_reshape_family(void **state) {
    fx *f = *state;
    engine_value *x = in_f32(f, L(2, 3, 4));
    engine_node *n = node(f, "Reshape", 13, 1, 2, x, ci64(f, L(0, -1)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 12));
    n = node(f, "Reshape", 13, 1, 2, x, ci64(f, L(-1, 0, 2)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(4, 3, 2));
    n = node(f, "Reshape", 14, 1, 2, in_f32(f, L(0, 3)), ci64(f, L(3, 0)));
    ai(f, n, "allowzero", 1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(3, 0));
    n = node(f, "Reshape", 13, 1, 2, x, ci64(f, L(5, -1)));
    err(f, n, ENGINE_ERR_SHAPE, "-1");
    n = node(f, "Reshape", 13, 1, 2, x, ci64(f, L(-1, -1)));
    err(f, n, ENGINE_ERR_SHAPE, "more than one -1");
    n = node(f, "Reshape", 13, 1, 2, x, ci64(f, L(5, 5)));
    err(f, n, ENGINE_ERR_SHAPE, "cannot reshape [2,3,4]");
    n = node(f, "Reshape", 13, 1, 2, x, in_t(f, I64, L(2)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "not constant");

    n = node(f, "Flatten", 13, 1, 1, x);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 12));
    n = node(f, "Flatten", 13, 1, 1, x);
    ai(f, n, "axis", 0);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 24));
    n = node(f, "Flatten", 13, 1, 1, x);
    ai(f, n, "axis", -1);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(6, 4));
    assert_int_equal(((const engine_axis_params *)n->params)->axis, 2);
    n = node(f, "Flatten", 13, 1, 1, x);
    ai(f, n, "axis", 3);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(24, 1));

    n = node(f, "Transpose", 13, 1, 1, x);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(4, 3, 2));
    assert_int_equal(((const engine_transpose_params *)n->params)->perm[0], 2);
    n = node(f, "Transpose", 13, 1, 1, x);
    ais(f, n, "perm", L(1, 0, 2));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(3, 2, 4));
    n = node(f, "Transpose", 13, 1, 1, x);
    ais(f, n, "perm", L(1, 1, 2));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "permutation");

    engine_value *y = in_f32(f, L(1, 3, 1, 5));
    n = node(f, "Squeeze", 11, 1, 1, y);
    ais(f, n, "axes", L(-2));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 5));
    n = node(f, "Squeeze", 13, 1, 2, y, ci64(f, L(0, 2)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(3, 5));
    n = node(f, "Squeeze", 13, 1, 1, y);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(3, 5));
    n = node(f, "Squeeze", 13, 1, 2, y, ci64(f, L(1)));
    err(f, n, ENGINE_ERR_SHAPE, "cannot squeeze axis 1");

    engine_value *z = in_f32(f, L(3, 4));
    n = node(f, "Unsqueeze", 11, 1, 1, z);
    ais(f, n, "axes", L(0, -1));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 4, 1));
    n = node(f, "Unsqueeze", 13, 1, 2, z, ci64(f, L(1)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(3, 1, 4));
    n = node(f, "Unsqueeze", 13, 1, 2, in_f32(f, NULL, 0), ci64(f, L(0)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1));
    n = node(f, "Unsqueeze", 13, 1, 2, z, ci64(f, L(3)));
    err(f, n, ENGINE_ERR_SHAPE, "out of range");
    n = node(f, "Unsqueeze", 13, 1, 1, z);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "axes");
}

static void test_gather_shape(void **state) {
    fx *f = *state;
    engine_value *x = in_f32(f, L(5, 6, 7));
    engine_node *n = node(f, "Gather", 13, 1, 2, x, in_t(f, I64, L(2, 3)));
    ai(f, n, "axis", -2);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(5, 2, 3, 7));
    assert_int_equal(((const engine_axis_params *)n->params)->axis, 1);
    engine_value *idx = in_t(f, I64, NULL, 0);
    idx->flags &= ~(unsigned)ENGINE_VALUE_GRAPH_INPUT;
    int64_t *d = eng_alloc(f->ctx, 8);
    *d = -1;
    eng_value_set_data(f->g, idx, d);
    n = node(f, "Gather", 13, 1, 2, x, idx);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(6, 7));
    n = node(f, "Gather", 13, 1, 2, x, ci64(f, L(0, 5)));
    err(f, n, ENGINE_ERR_SHAPE, "index 5 is out of range");
    n = node(f, "Gather", 13, 1, 2, x, in_f32(f, L(2)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "indices");

    n = node(f, "Shape", 13, 1, 1, x);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(3));
    n = node(f, "Shape", 15, 1, 1, x);
    ai(f, n, "start", -2);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(2));
    assert_int_equal(((const engine_axis_params *)n->params)->start, 1);
    assert_int_equal(((const engine_axis_params *)n->params)->end, 3);
    n = node(f, "Shape", 15, 1, 1, x);
    ai(f, n, "start", 1);
    ai(f, n, "end", 100);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(2));
}

static void test_constants(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "Constant", 13, 1, 0);
    ais(f, n, "value_ints", L(4, 5, 6));
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(3));
    assert_true(OUT(n, 0)->flags & ENGINE_VALUE_CONST);
    assert_int_equal(((const int64_t *)OUT(n, 0)->data)[2], 6);
    n = node(f, "Constant", 13, 1, 0);
    af(f, n, "value_float", 2.5f);
    ok(f, n);
    shape_is(OUT(n, 0), F32, NULL, 0);
    assert_true(*(const float *)OUT(n, 0)->data == 2.5f);
    float vals[6] = {1, 2, 3, 4, 5, 6};
    n = node(f, "Constant", 13, 1, 0);
    at(f, n, "value", F32, L(2, 3), vals);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3));
    assert_true(((const float *)OUT(n, 0)->data)[5] == 6.0f);
    n = node(f, "Constant", 13, 1, 0);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "exactly one");

    n = node(f, "ConstantOfShape", 13, 1, 1, ci64(f, L(2, 3)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3));
    int64_t one = 7;
    n = node(f, "ConstantOfShape", 13, 1, 1, ci64(f, L(4)));
    at(f, n, "value", I64, L(1), &one);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(4));
    assert_true(((const engine_cast_params *)n->params)->value == 7.0);
    n = node(f, "ConstantOfShape", 13, 1, 1, in_t(f, I64, L(2)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "not constant");
}

static void test_misc_tensor(void **state) {
    fx *f = *state;
    engine_value *x = in_f32(f, L(1, 3, 4, 4));
    engine_node *n = node(f, "Identity", 13, 1, 1, x);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 4, 4));
    n = node(f, "Dropout", 13, 2, 1, x);
    ok(f, n);
    shape_is(OUT(n, 1), BOOL, L(1, 3, 4, 4));
    n = node(f, "Dropout", 10, 1, 1, x);
    af(f, n, "ratio", 0.3f);
    ok(f, n);

    /* Pad: attributes (2), inputs (11), axes (18), reflect limits */
    n = node(f, "Pad", 2, 1, 1, x);
    ais(f, n, "pads", L(0, 0, 1, 2, 0, 0, 3, 4));
    af(f, n, "value", 1.5f);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 8, 10));
    const engine_pad_params *p = n->params;
    assert_int_equal(p->pad_begin[2], 1);
    assert_int_equal(p->pad_end[3], 4);
    assert_true(p->value == 1.5);
    n = node(f, "Pad", 13, 1, 3, x, ci64(f, L(0, 0, -1, 1, 0, 0, 1, 1)), cf32_scalar(f, 2.0f));
    as(f, n, "mode", "reflect");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 4, 6));
    p = n->params;
    assert_int_equal(p->mode, ENGINE_PAD_REFLECT);
    assert_int_equal(p->pad_begin[2], -1);
    assert_true(p->value == 2.0);
    n = node(f, "Pad", 18, 1, 4, x, ci64(f, L(2, 1, 2, 1)), NULL, ci64(f, L(-1, 2)));
    as(f, n, "mode", "edge");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 3, 6, 8));
    assert_int_equal(((const engine_pad_params *)n->params)->pad_begin[3], 2);
    assert_int_equal(((const engine_pad_params *)n->params)->pad_end[2], 1);
    n = node(f, "Pad", 13, 1, 2, x, ci64(f, L(0, 0, 4, 0, 0, 0, 0, 0)));
    as(f, n, "mode", "reflect");
    err(f, n, ENGINE_ERR_SHAPE, "reflect");
    n = node(f, "Pad", 13, 1, 2, x, ci64(f, L(0, 0, 1, 1)));
    err(f, n, ENGINE_ERR_SHAPE, "pads has 4 values, expected 8");
    n = node(f, "Pad", 13, 1, 2, x, in_t(f, I64, L(8)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "not constant");

    n = node(f, "Cast", 13, 1, 1, x);
    ai(f, n, "to", ENGINE_DTYPE_I64);
    ok(f, n);
    shape_is(OUT(n, 0), I64, L(1, 3, 4, 4));
    assert_int_equal(((const engine_cast_params *)n->params)->to, ENGINE_DTYPE_I64);
    n = node(f, "Cast", 13, 1, 1, x);
    ai(f, n, "to", 8); /* string */
    err(f, n, ENGINE_ERR_UNSUPPORTED, "cast to type 8");

    n = node(f, "Expand", 13, 1, 2, in_f32(f, L(3, 1)), ci64(f, L(2, 1, 4)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(2, 3, 4));
    n = node(f, "Expand", 13, 1, 2, in_f32(f, L(3, 2)), ci64(f, L(4)));
    err(f, n, ENGINE_ERR_SHAPE, "broadcast");

    n = node(f, "Tile", 13, 1, 2, in_f32(f, L(2, 3)), ci64(f, L(2, 1)));
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(4, 3));
    n = node(f, "Tile", 13, 1, 2, in_f32(f, L(2, 3)), ci64(f, L(2)));
    err(f, n, ENGINE_ERR_SHAPE, "repeats has 1 values");

    n = node(f, "DepthToSpace", 13, 1, 1, in_f32(f, L(1, 8, 2, 3)));
    ai(f, n, "blocksize", 2);
    as(f, n, "mode", "CRD");
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 2, 4, 6));
    assert_int_equal(((const engine_axis_params *)n->params)->crd, 1);
    assert_int_equal(((const engine_axis_params *)n->params)->blocksize, 2);
    n = node(f, "DepthToSpace", 13, 1, 1, in_f32(f, L(1, 6, 2, 3)));
    ai(f, n, "blocksize", 2);
    err(f, n, ENGINE_ERR_SHAPE, "divisible");
    n = node(f, "SpaceToDepth", 13, 1, 1, in_f32(f, L(1, 2, 4, 6)));
    ai(f, n, "blocksize", 2);
    ok(f, n);
    shape_is(OUT(n, 0), F32, L(1, 8, 2, 3));
    n = node(f, "SpaceToDepth", 13, 1, 1, in_f32(f, L(1, 2, 4, 5)));
    ai(f, n, "blocksize", 2);
    err(f, n, ENGINE_ERR_SHAPE, "divisible");
}

/* Shapes whose element count overflows are refused, not wrapped. */
static void test_overflow(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "Tile", 13, 1, 2, in_f32(f, L(1 << 20, 1 << 20)), ci64(f, L(1 << 20, 1 << 20)));
    err(f, n, ENGINE_ERR_SHAPE, NULL);
    n = node(f, "Expand", 13, 1, 2, in_f32(f, L(1)), ci64(f, L(INT64_C(1) << 40, INT64_C(1) << 40)));
    err(f, n, ENGINE_ERR_SHAPE, "too many elements");
    n = node(f, "ConstantOfShape", 13, 1, 1, ci64(f, L(INT64_C(1) << 62, 4)));
    err(f, n, ENGINE_ERR_SHAPE, "too many elements");
    n = node(f, "Reshape", 13, 1, 2, in_f32(f, L(4)), ci64(f, L(INT64_C(1) << 62, INT64_C(1) << 62, -1)));
    err(f, n, ENGINE_ERR_SHAPE, NULL);
    n = node(f, "Resize", 13, 1, 3, in_f32(f, L(1, 1, 4, 4)), NULL, cf32(f, LF(1, 1, 1e30f, 1e30f)));
    err(f, n, ENGINE_ERR_SHAPE, "too large");
    n = node(f, "Conv", 13, 1, 2, in_f32(f, L(1, 1, 8, 8)), in_f32(f, L(1, 1, 3, 3)));
    ais(f, n, "dilations", L(INT64_C(1) << 62, 1));
    err(f, n, ENGINE_ERR_SHAPE, NULL);
}

/* ---- Einsum, GridSample, QuantizeLinear, DequantizeLinear ---- */

static engine_node *einsum(fx *f, const char *eq, int n_in, engine_value *a, engine_value *b) {
    engine_node *n = n_in == 1 ? node(f, "Einsum", 12, 1, 1, a) : node(f, "Einsum", 12, 1, 2, a, b);
    as(f, n, "equation", eq);
    return n;
}

static void test_ops25(void **state) {
    fx *f = *state;
    engine_node *n;
    /* Einsum: explicit, implicit (ASCII order), ellipsis broadcast, diagonal */
    n = einsum(f, "bhqd,bhkd->bhqk", 2, in_f32(f, L(2, 3, 5, 8)), in_f32(f, L(2, 3, 6, 8)));
    ok(f, n);
    shape_is(n->outputs[0], F32, L(2, 3, 5, 6));
    n = einsum(f, "bA,Ac", 2, in_f32(f, L(3, 4)), in_f32(f, L(4, 2)));
    ok(f, n);
    shape_is(n->outputs[0], F32, L(3, 2));
    n = einsum(f, "...ij,...jk->...ik", 2, in_f32(f, L(2, 1, 3, 4)), in_f32(f, L(5, 4, 6)));
    ok(f, n);
    shape_is(n->outputs[0], F32, L(2, 5, 3, 6));
    n = einsum(f, "ii", 1, in_f32(f, L(4, 4)), NULL);
    ok(f, n);
    assert_int_equal(n->outputs[0]->rank, 0);
    /* refusals: malformed equations, operand count, shapes */
    err(f, einsum(f, "ij,jk->ik", 1, in_f32(f, L(2, 3)), NULL), ENGINE_ERR_INVALID_MODEL, "more operands");
    err(f, einsum(f, "ij->ij", 2, in_f32(f, L(2, 3)), in_f32(f, L(3))), ENGINE_ERR_INVALID_MODEL,
        "1 operands; the node has 2 inputs");
    err(f, einsum(f, "ij,jk->iz", 2, in_f32(f, L(2, 3)), in_f32(f, L(3, 4))), ENGINE_ERR_INVALID_MODEL, "'z' is in no");
    err(f, einsum(f, "ij,jk->ii", 2, in_f32(f, L(2, 3)), in_f32(f, L(3, 4))), ENGINE_ERR_INVALID_MODEL, "twice");
    err(f, einsum(f, "i1,jk", 2, in_f32(f, L(2, 3)), in_f32(f, L(3, 4))), ENGINE_ERR_INVALID_MODEL, "'1'");
    err(f, einsum(f, "i..j->ij", 1, in_f32(f, L(2, 3)), NULL), ENGINE_ERR_INVALID_MODEL, "ellipsis");
    err(f, einsum(f, "ij->i->j", 1, in_f32(f, L(2, 3)), NULL), ENGINE_ERR_INVALID_MODEL, "stray");
    err(f, einsum(f, "ijk->i", 1, in_f32(f, L(2, 3)), NULL), ENGINE_ERR_SHAPE, "3 letters");
    err(f, einsum(f, "ij,jk->ik", 2, in_f32(f, L(2, 3)), in_f32(f, L(4, 5))), ENGINE_ERR_SHAPE, "letter 'j'");
    err(f, einsum(f, "ii->i", 1, in_f32(f, L(2, 3)), NULL), ENGINE_ERR_SHAPE, "repeats");
    err(f, einsum(f, "...i->i", 1, in_f32(f, L(2, 3)), NULL), ENGINE_ERR_INVALID_MODEL, "no '...'");
    err(f, einsum(f, "...i,...i->...i", 2, in_f32(f, L(2, 3)), in_f32(f, L(4, 3))), ENGINE_ERR_SHAPE, "broadcast");
    err(f, node(f, "Einsum", 12, 1, 1, in_f32(f, L(2))), ENGINE_ERR_INVALID_MODEL, "'equation'");
    err(f, einsum(f, "i,i", 2, in_f32(f, L(2)), in_t(f, I64, L(2))), ENGINE_ERR_INVALID_MODEL, "int64");

    /* GridSample: 16 (4-D), 20 (3-D sampling), refusals */
    n = node(f, "GridSample", 16, 1, 2, in_f32(f, L(2, 3, 5, 6)), in_f32(f, L(2, 4, 7, 2)));
    ok(f, n);
    shape_is(n->outputs[0], F32, L(2, 3, 4, 7));
    n = node(f, "GridSample", 20, 1, 2, in_f32(f, L(1, 2, 3, 4, 5)), in_f32(f, L(1, 6, 7, 8, 3)));
    as(f, n, "mode", "nearest");
    ok(f, n);
    shape_is(n->outputs[0], F32, L(1, 2, 6, 7, 8));
    n = node(f, "GridSample", 16, 1, 2, in_f32(f, L(2, 3, 5, 6)), in_f32(f, L(2, 4, 7, 2)));
    as(f, n, "mode", "linear"); /* opset 20's name */
    err(f, n, ENGINE_ERR_INVALID_MODEL, "mode 'linear'");
    n = node(f, "GridSample", 16, 1, 2, in_f32(f, L(2, 3, 5, 6)), in_f32(f, L(2, 4, 7, 2)));
    as(f, n, "padding_mode", "wrap");
    err(f, n, ENGINE_ERR_INVALID_MODEL, "padding_mode 'wrap'");
    err(f, node(f, "GridSample", 16, 1, 2, in_f32(f, L(2, 3, 5, 6)), in_f32(f, L(1, 4, 7, 2))), ENGINE_ERR_SHAPE,
        "grid has shape");
    err(f, node(f, "GridSample", 16, 1, 2, in_f32(f, L(2, 3, 5, 6)), in_f32(f, L(2, 4, 7, 3))), ENGINE_ERR_SHAPE,
        "grid has shape");
    err(f, node(f, "GridSample", 16, 1, 2, in_f32(f, L(2, 3, 5, 6, 7)), in_f32(f, L(2, 4, 7, 8, 3))),
        ENGINE_ERR_SHAPE, "opset 16");
    n = node(f, "GridSample", 20, 1, 2, in_f32(f, L(1, 2, 3, 4, 5)), in_f32(f, L(1, 6, 7, 8, 3)));
    as(f, n, "mode", "cubic");
    err(f, n, ENGINE_ERR_UNSUPPORTED, "cubic");
    err(f, node(f, "GridSample", 20, 1, 2, in_f32(f, L(1, 2, 9)), in_f32(f, L(1, 6, 1))), ENGINE_ERR_UNSUPPORTED,
        "1 spatial");
    err(f, node(f, "GridSample", 15, 1, 2, in_f32(f, L(2, 3, 5, 6)), in_f32(f, L(2, 4, 7, 2))),
        ENGINE_ERR_INVALID_MODEL, "opset 16");

    /* QuantizeLinear / DequantizeLinear */
    n = node(f, "QuantizeLinear", 13, 1, 3, in_f32(f, L(2, 3, 4)), in_f32(f, L(3)),
             in_t(f, ENGINE_DTYPE_I8, L(3)));
    ok(f, n);
    shape_is(n->outputs[0], ENGINE_DTYPE_I8, L(2, 3, 4));
    assert_int_equal(((const engine_quant_params *)n->params)->axis, 1);
    n = node(f, "QuantizeLinear", 10, 1, 2, in_f32(f, L(2, 3)), cf32_scalar(f, 0.5f));
    ok(f, n);
    shape_is(n->outputs[0], ENGINE_DTYPE_U8, L(2, 3));
    assert_int_equal(((const engine_quant_params *)n->params)->axis, -1);
    n = node(f, "QuantizeLinear", 21, 1, 2, in_f32(f, L(2, 5, 3)), in_f32(f, L(2, 3, 3)));
    ai(f, n, "block_size", 2);
    ok(f, n);
    assert_int_equal(((const engine_quant_params *)n->params)->block_size, 2);
    n = node(f, "DequantizeLinear", 13, 1, 2, in_t(f, I32, L(4, 2)), in_f32(f, L(4)));
    ai(f, n, "axis", 0);
    ok(f, n);
    shape_is(n->outputs[0], F32, L(4, 2));
    /* refusals */
    err(f, node(f, "DequantizeLinear", 13, 1, 3, in_t(f, ENGINE_DTYPE_U8, L(4)), in_f32(f, L(1)),
                in_t(f, ENGINE_DTYPE_I8, L(1))),
        ENGINE_ERR_INVALID_MODEL, "zero_point has type int8; x has uint8");
    n = node(f, "QuantizeLinear", 21, 1, 3, in_f32(f, L(4)), in_f32(f, L(1)), in_t(f, ENGINE_DTYPE_U8, L(1)));
    ai(f, n, "output_dtype", 3);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "differs from zero_point");
    n = node(f, "QuantizeLinear", 21, 1, 2, in_f32(f, L(4)), in_f32(f, L(1)));
    ai(f, n, "output_dtype", 17);
    err(f, n, ENGINE_ERR_UNSUPPORTED, "float8e4m3fn");
    n = node(f, "QuantizeLinear", 21, 1, 2, in_f32(f, L(4)), in_f32(f, L(1)));
    ai(f, n, "output_dtype", 5);
    err(f, n, ENGINE_ERR_UNSUPPORTED, "int16");
    n = node(f, "QuantizeLinear", 21, 1, 2, in_f32(f, L(4)), in_f32(f, L(1)));
    ai(f, n, "output_dtype", 22);
    err(f, n, ENGINE_ERR_UNSUPPORTED, "int4");
    err(f, node(f, "QuantizeLinear", 13, 1, 2, in_f32(f, L(2, 3)), in_f32(f, L(4))), ENGINE_ERR_SHAPE,
        "scale has 4 values");
    err(f, node(f, "QuantizeLinear", 10, 1, 2, in_f32(f, L(2, 3)), in_f32(f, L(3))), ENGINE_ERR_SHAPE, "opset 13");
    err(f, node(f, "QuantizeLinear", 13, 1, 3, in_f32(f, L(2, 3)), in_f32(f, L(3)), in_t(f, ENGINE_DTYPE_U8, L(2))),
        ENGINE_ERR_SHAPE, "zero_point has shape");
    n = node(f, "QuantizeLinear", 13, 1, 2, in_f32(f, L(2, 3)), in_f32(f, L(3)));
    ai(f, n, "axis", 2);
    err(f, n, ENGINE_ERR_SHAPE, "axis");
    n = node(f, "QuantizeLinear", 21, 1, 2, in_f32(f, L(2, 5)), in_f32(f, L(2, 2)));
    ai(f, n, "block_size", 2);
    err(f, n, ENGINE_ERR_SHAPE, "block_size 2");
    n = node(f, "QuantizeLinear", 21, 1, 2, in_f32(f, L(2, 5)), in_f32(f, L(2, 3)));
    ai(f, n, "block_size", -1);
    err(f, n, ENGINE_ERR_INVALID_MODEL, "negative");
    err(f, node(f, "QuantizeLinear", 13, 1, 2, in_t(f, I64, L(2)), in_f32(f, L(1))), ENGINE_ERR_UNSUPPORTED,
        "int64");
    err(f, node(f, "DequantizeLinear", 13, 1, 2, in_f32(f, L(2)), in_f32(f, L(1))), ENGINE_ERR_UNSUPPORTED, "float32");
    err(f, node(f, "DequantizeLinear", 13, 1, 2, in_t(f, ENGINE_DTYPE_U8, L(2)), in_t(f, I64, L(1))),
        ENGINE_ERR_UNSUPPORTED, "scale");
}

static void test_unknown_op(void **state) {
    fx *f = *state;
    engine_node *n = node(f, "FancyOp", 13, 1, 1, in_f32(f, L(2)));
    err(f, n, ENGINE_ERR_UNSUPPORTED, "FancyOp");
    n = node(f, "Relu", 13, 1, 2, in_f32(f, L(2)), in_f32(f, L(2)));
    err(f, n, ENGINE_ERR_INVALID_MODEL, "at most 1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conv_transpose, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_norm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops17, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elementwise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gemm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_softmax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reduce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concat_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reshape_family, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gather_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misc_tensor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ops25, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_op, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
