/* test_onnx.c - ONNX import: models built here with protobuf-c, and (when
 * the test is given `python3 gen_onnx_fixtures.py` as arguments) models
 * written by the python onnx package. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph.h"
#include "internal.h"
#include "onnx-subset.pb-c.h"
#include "onnx.h"

/* ---- a counting allocator that can fail the i-th allocation ---- */

typedef struct counting {
    long live;
    long count;
    long fail_at; /* -1: never */
} counting;

static void *c_alloc(void *user, size_t size, size_t align) {
    counting *c = user;
    if (c->fail_at >= 0 && c->count == c->fail_at) {
        c->count++;
        return NULL;
    }
    c->count++;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
    c->live++;
    return p;
}

static void c_free(void *user, void *ptr) {
    counting *c = user;
    if (!ptr) return;
    c->live--;
    free(ptr);
}

typedef struct fixture {
    counting cnt;
    engine_context *ctx;
    char *warnings;
} fixture;

static void log_fn(void *user, engine_log_level level, const char *msg) {
    fixture *f = user;
    (void)level;
    size_t old = f->warnings ? strlen(f->warnings) : 0;
    f->warnings = realloc(f->warnings, old + strlen(msg) + 2);
    memcpy(f->warnings + old, msg, strlen(msg));
    f->warnings[old + strlen(msg)] = '\n';
    f->warnings[old + strlen(msg) + 1] = 0;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->cnt.fail_at = -1;
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.allocator.alloc = c_alloc;
    o.allocator.free = c_free;
    o.allocator.user = &f->cnt;
    o.no_default_backends = 1;
    o.log = log_fn;
    o.log_user = f;
    o.log_level = ENGINE_LOG_WARN;
    assert_int_equal(engine_context_create(&o, &f->ctx), ENGINE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    engine_context_destroy(f->ctx);
    assert_int_equal(f->cnt.live, 0); /* nothing leaked */
    free(f->warnings);
    free(f);
    return 0;
}

/* ---- building models with protobuf-c (everything malloc'd; freed with
 * protobuf_c_message_free_unpacked(msg, NULL)) ---- */

#define APPEND(arr, n, item)                                                     \
    do {                                                                         \
        (arr) = realloc((arr), ((n) + 1) * sizeof *(arr));                       \
        (arr)[(n)++] = (item);                                                   \
    } while (0)

static char *sdup(const char *s) {
    return s ? strdup(s) : NULL;
}

static Onnx__TensorProto *tensor(const char *name, int dtype, int rank, const int64_t *dims) {
    Onnx__TensorProto *t = malloc(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = sdup(name);
    t->has_data_type = 1;
    t->data_type = dtype;
    for (int k = 0; k < rank; ++k) APPEND(t->dims, t->n_dims, dims[k]);
    return t;
}

static Onnx__TensorProto *tensor_raw(const char *name, int dtype, int rank, const int64_t *dims, const void *bytes,
                                     size_t nbytes) {
    Onnx__TensorProto *t = tensor(name, dtype, rank, dims);
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = malloc(nbytes ? nbytes : 1);
    memcpy(t->raw_data.data, bytes, nbytes);
    return t;
}

static Onnx__TensorProto *tensor_floats(const char *name, int rank, const int64_t *dims, const float *v, size_t n) {
    Onnx__TensorProto *t = tensor(name, ENGINE_DTYPE_F32, rank, dims);
    for (size_t k = 0; k < n; ++k) APPEND(t->float_data, t->n_float_data, v[k]);
    return t;
}

static void external(Onnx__TensorProto *t, const char *location, const char *offset, const char *length) {
    const char *keys[3] = {"location", "offset", "length"};
    const char *vals[3] = {location, offset, length};
    for (int k = 0; k < 3; ++k) {
        if (!vals[k]) continue;
        Onnx__StringStringEntryProto *e = malloc(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = sdup(keys[k]);
        e->value = sdup(vals[k]);
        APPEND(t->external_data, t->n_external_data, e);
    }
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

static Onnx__ValueInfoProto *value_info(const char *name, int elem, int rank, const int64_t *dims) {
    Onnx__ValueInfoProto *v = malloc(sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = sdup(name);
    if (elem < 0) return v; /* no type at all */
    v->type = malloc(sizeof *v->type);
    onnx__type_proto__init(v->type);
    v->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    v->type->tensor_type = malloc(sizeof *v->type->tensor_type);
    onnx__type_proto__tensor__init(v->type->tensor_type);
    v->type->tensor_type->has_elem_type = 1;
    v->type->tensor_type->elem_type = elem;
    if (rank < 0) return v;
    Onnx__TensorShapeProto *s = malloc(sizeof *s);
    onnx__tensor_shape_proto__init(s);
    for (int k = 0; k < rank; ++k) {
        Onnx__TensorShapeProto__Dimension *d = malloc(sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[k] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[k];
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = sdup(dims[k] == -1 ? "N" : "H");
        }
        APPEND(s->dim, s->n_dim, d);
    }
    v->type->tensor_type->shape = s;
    return v;
}

/* inputs/outputs: NULL-terminated lists */
static Onnx__NodeProto *node(const char *op, const char *name, const char *const *in, const char *const *out) {
    Onnx__NodeProto *n = malloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = sdup(op);
    n->name = sdup(name);
    for (; in && *in; ++in) APPEND(n->input, n->n_input, sdup(*in));
    for (; out && *out; ++out) APPEND(n->output, n->n_output, sdup(*out));
    return n;
}

static Onnx__AttributeProto *attr(Onnx__NodeProto *n, const char *name, int type) {
    Onnx__AttributeProto *a = malloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = sdup(name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    APPEND(n->attribute, n->n_attribute, a);
    return a;
}

static Onnx__ModelProto *model(int opset) {
    Onnx__ModelProto *m = malloc(sizeof *m);
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = sdup("test_onnx");
    Onnx__OperatorSetIdProto *op = malloc(sizeof *op);
    onnx__operator_set_id_proto__init(op);
    op->domain = sdup("");
    op->has_version = 1;
    op->version = opset;
    APPEND(m->opset_import, m->n_opset_import, op);
    m->graph = malloc(sizeof *m->graph);
    onnx__graph_proto__init(m->graph);
    m->graph->name = sdup("g");
    return m;
}

static void import_domain(Onnx__ModelProto *m, const char *domain, int version) {
    Onnx__OperatorSetIdProto *op = malloc(sizeof *op);
    onnx__operator_set_id_proto__init(op);
    op->domain = sdup(domain);
    op->has_version = 1;
    op->version = version;
    APPEND(m->opset_import, m->n_opset_import, op);
}

#define G(m) ((m)->graph)
#define ADD_INIT(m, t) APPEND(G(m)->initializer, G(m)->n_initializer, (t))
#define ADD_NODE(m, n) APPEND(G(m)->node, G(m)->n_node, (n))
#define ADD_INPUT(m, v) APPEND(G(m)->input, G(m)->n_input, (v))
#define ADD_OUTPUT(m, v) APPEND(G(m)->output, G(m)->n_output, (v))
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static uint8_t *pack(Onnx__ModelProto *m, size_t *size) {
    *size = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = malloc(*size ? *size : 1);
    onnx__model_proto__pack(m, buf);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return buf;
}

static engine_status load(fixture *f, Onnx__ModelProto *m, const char *base_dir, eng_graph **g) {
    size_t size;
    uint8_t *buf = pack(m, &size);
    *g = NULL;
    engine_status st = eng_onnx_load(f->ctx, buf, size, base_dir, g);
    free(buf);
    if (st) assert_null(*g);
    return st;
}

static void expect_error(fixture *f, Onnx__ModelProto *m, const char *base_dir, engine_status want,
                         const char *needle1, const char *needle2) {
    eng_graph *g;
    engine_status st = load(f, m, base_dir, &g);
    const char *msg = engine_context_error(f->ctx);
    if (st != want || (needle1 && !strstr(msg, needle1)) || (needle2 && !strstr(msg, needle2)))
        print_error("status %d (want %d), message: %s\n", st, want, msg);
    assert_int_equal(st, want);
    if (needle1) assert_non_null(strstr(msg, needle1));
    if (needle2) assert_non_null(strstr(msg, needle2));
    eng_graph_free(g);
}

/* x[1,3,2,2] -> Conv(W raw, B typed) -> Relu -> y; W also listed as an input (IR 3 style). */
static Onnx__ModelProto *conv_model(void) {
    Onnx__ModelProto *m = model(13);
    static const float w[6] = {1, 2, 3, 4, 5, 6};
    static const float b[2] = {0.5f, -0.5f};
    ADD_INIT(m, tensor_raw("W", ENGINE_DTYPE_F32, 4, (int64_t[]){2, 3, 1, 1}, w, sizeof w));
    ADD_INIT(m, tensor_floats("B", 1, (int64_t[]){2}, b, 2));
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 4, (int64_t[]){1, 3, 2, 2}));
    ADD_INPUT(m, value_info("W", ENGINE_DTYPE_F32, 4, (int64_t[]){2, 3, 1, 1}));
    Onnx__NodeProto *conv = node("Conv", "conv1", L("x", "W", "B"), L("c"));
    Onnx__AttributeProto *a = attr(conv, "kernel_shape", ENGINE_ATTR_INTS);
    APPEND(a->ints, a->n_ints, 1);
    APPEND(a->ints, a->n_ints, 1);
    a = attr(conv, "auto_pad", ENGINE_ATTR_STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)sdup("NOTSET");
    a->s.len = 6;
    a = attr(conv, "group", ENGINE_ATTR_INT);
    a->has_i = 1;
    a->i = 1;
    ADD_NODE(m, conv);
    Onnx__NodeProto *relu = node("LeakyRelu", "act", L("c"), L("y"));
    a = attr(relu, "alpha", ENGINE_ATTR_FLOAT);
    a->has_f = 1;
    a->f = 0.125f;
    ADD_NODE(m, relu);
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    return m;
}

static void test_conv_model(void **state) {
    fixture *f = *state;
    eng_graph *g;
    assert_int_equal(load(f, conv_model(), NULL, &g), ENGINE_OK);
    assert_int_equal(g->opset, 13);
    assert_string_equal(g->name, "g");
    assert_int_equal(g->n_inputs, 1);
    assert_string_equal(g->inputs[0]->name, "x");
    assert_int_equal(g->inputs[0]->flags, ENGINE_VALUE_GRAPH_INPUT);
    assert_int_equal(g->inputs[0]->rank, 4);
    assert_int_equal(g->inputs[0]->dims[1], 3);
    assert_int_equal(g->n_outputs, 1);
    assert_string_equal(g->outputs[0]->name, "y");
    assert_true(g->outputs[0]->flags & ENGINE_VALUE_GRAPH_OUTPUT);
    engine_value *w = eng_graph_find(g, "W"), *b = eng_graph_find(g, "B");
    assert_non_null(w);
    assert_true(w->flags & ENGINE_VALUE_CONST);
    assert_false(w->flags & ENGINE_VALUE_GRAPH_INPUT);
    assert_int_equal(w->dtype, ENGINE_DTYPE_F32);
    assert_int_equal(w->rank, 4);
    assert_true(((float *)w->data)[5] == 6.0f);
    assert_int_equal(b->rank, 1);
    assert_true(((float *)b->data)[1] == -0.5f);
    assert_int_equal(g->n_nodes, 2);
    engine_node *conv = g->nodes[0], *act = g->nodes[1];
    assert_string_equal(conv->name, "conv1");
    assert_string_equal(conv->op_type, "Conv");
    assert_string_equal(conv->domain, "");
    assert_int_equal(conv->op, ENGINE_OP_Conv);
    assert_int_equal(conv->opset, 13);
    assert_int_equal(conv->n_inputs, 3);
    assert_ptr_equal(conv->inputs[0], g->inputs[0]);
    assert_ptr_equal(conv->inputs[1], w);
    assert_ptr_equal(conv->outputs[0]->producer, conv);
    assert_ptr_equal(act->inputs[0], conv->outputs[0]);
    const engine_attr *ks = engine_node_attr(conv, "kernel_shape");
    assert_non_null(ks);
    assert_int_equal(ks->type, ENGINE_ATTR_INTS);
    assert_int_equal(ks->n, 2);
    assert_int_equal(ks->ints[1], 1);
    assert_string_equal(engine_node_attr(conv, "auto_pad")->s, "NOTSET");
    assert_int_equal(engine_node_attr(conv, "group")->i, 1);
    assert_true(engine_node_attr(act, "alpha")->f == 0.125f);
    eng_graph_free(g);
}

/* One way of loading a model (from bytes or from a file). */
typedef struct loader {
    const uint8_t *buf;
    size_t size;
    const char *path; /* not NULL: eng_onnx_load_file */
} loader;

/* Fails every allocation of a load in turn until one succeeds: each
 * failure is an error and leaks nothing. */
static void oom_sweep(fixture *f, const loader *l) {
    int succeeded = 0;
    for (long i = 0; i < 100000 && !succeeded; ++i) {
        long live = f->cnt.live;
        f->cnt.fail_at = f->cnt.count + i;
        eng_graph *g = NULL;
        engine_status st = l->path ? eng_onnx_load_file(f->ctx, l->path, "/tmp", &g, NULL)
                                   : eng_onnx_load(f->ctx, l->buf, l->size, NULL, &g);
        f->cnt.fail_at = -1;
        if (st == ENGINE_OK) {
            succeeded = 1;
            eng_graph_free(g);
        } else {
            /* protobuf-c reports its own allocation failures as decode failures */
            assert_true(st == ENGINE_ERR_OUT_OF_MEMORY || st == ENGINE_ERR_PARSE);
            assert_null(g);
        }
        assert_int_equal(f->cnt.live, live);
    }
    assert_true(succeeded);
}

/* Out-of-memory at every allocation: an error, nothing leaked. */
static void test_oom_sweep(void **state) {
    fixture *f = *state;
    size_t size;
    uint8_t *buf = pack(conv_model(), &size);
    const loader l = {buf, size, NULL};
    oom_sweep(f, &l);
    free(buf);
}

static void test_dtypes(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = model(18);
    uint16_t h[3] = {0x3c00, 0xc000, 0x3555}; /* 1, -2, ~0.333 */
    ADD_INIT(m, tensor_raw("h_raw", ENGINE_DTYPE_F16, 1, (int64_t[]){3}, h, sizeof h));
    Onnx__TensorProto *t = tensor("h_typed", ENGINE_DTYPE_F16, 1, (int64_t[]){2});
    APPEND(t->int32_data, t->n_int32_data, 0x3800); /* 0.5 */
    APPEND(t->int32_data, t->n_int32_data, 0x7c00); /* inf */
    ADD_INIT(m, t);
    t = tensor("d", ENGINE_DTYPE_F64, 2, (int64_t[]){1, 2});
    APPEND(t->double_data, t->n_double_data, 1.5);
    APPEND(t->double_data, t->n_double_data, -1e10);
    ADD_INIT(m, t);
    t = tensor("i64", ENGINE_DTYPE_I64, 1, (int64_t[]){2});
    APPEND(t->int64_data, t->n_int64_data, INT64_MIN);
    APPEND(t->int64_data, t->n_int64_data, 42);
    ADD_INIT(m, t);
    t = tensor("bools", ENGINE_DTYPE_BOOL, 1, (int64_t[]){3});
    APPEND(t->int32_data, t->n_int32_data, 1);
    APPEND(t->int32_data, t->n_int32_data, 0);
    APPEND(t->int32_data, t->n_int32_data, 1);
    ADD_INIT(m, t);
    int8_t i8[2] = {-5, 100};
    ADD_INIT(m, tensor_raw("i8", ENGINE_DTYPE_I8, 1, (int64_t[]){2}, i8, 2));
    int32_t i32[1] = {-77};
    ADD_INIT(m, tensor_raw("i32", ENGINE_DTYPE_I32, 0, NULL, i32, 4)); /* scalar */
    ADD_INIT(m, tensor_raw("empty", ENGINE_DTYPE_F32, 2, (int64_t[]){0, 3}, "", 0));
    ADD_NODE(m, node("Identity", "id", L("h_raw"), L("y")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    eng_graph *g;
    assert_int_equal(load(f, m, NULL, &g), ENGINE_OK);
    assert_int_equal(g->opset, 18);
    engine_value *v = eng_graph_find(g, "h_raw");
    assert_int_equal(v->dtype, ENGINE_DTYPE_F32);
    assert_true(((float *)v->data)[0] == 1.0f);
    assert_true(((float *)v->data)[1] == -2.0f);
    assert_true(((float *)v->data)[2] > 0.3332f && ((float *)v->data)[2] < 0.3334f);
    v = eng_graph_find(g, "h_typed");
    assert_int_equal(v->dtype, ENGINE_DTYPE_F32);
    assert_true(((float *)v->data)[0] == 0.5f);
    assert_true(((float *)v->data)[1] > 1e38f);
    v = eng_graph_find(g, "d");
    assert_int_equal(v->dtype, ENGINE_DTYPE_F32);
    assert_true(((float *)v->data)[1] == -1e10f);
    v = eng_graph_find(g, "i64");
    assert_int_equal(v->dtype, ENGINE_DTYPE_I64);
    assert_true(((int64_t *)v->data)[0] == INT64_MIN);
    v = eng_graph_find(g, "bools");
    assert_int_equal(v->dtype, ENGINE_DTYPE_BOOL);
    assert_memory_equal(v->data, "\1\0\1", 3);
    v = eng_graph_find(g, "i8");
    assert_int_equal(((int8_t *)v->data)[0], -5);
    v = eng_graph_find(g, "i32");
    assert_int_equal(v->rank, 0);
    assert_int_equal(((int32_t *)v->data)[0], -77);
    v = eng_graph_find(g, "empty");
    assert_int_equal(v->rank, 2);
    assert_non_null(v->data);
    eng_graph_free(g);
}

static void test_constant_nodes(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = model(13);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 1, (int64_t[]){4}));
    Onnx__NodeProto *c = node("Constant", "c_tensor", NULL, L("k"));
    Onnx__AttributeProto *a = attr(c, "value", ENGINE_ATTR_TENSOR);
    a->t = tensor_floats("", 1, (int64_t[]){1}, (float[]){2.5f}, 1);
    ADD_NODE(m, c);
    c = node("Constant", "c_float", NULL, L("kf"));
    a = attr(c, "value_float", ENGINE_ATTR_FLOAT);
    a->has_f = 1;
    a->f = -1.5f;
    ADD_NODE(m, c);
    c = node("Constant", NULL, NULL, L("shape"));
    a = attr(c, "value_ints", ENGINE_ATTR_INTS);
    APPEND(a->ints, a->n_ints, 2);
    APPEND(a->ints, a->n_ints, 2);
    ADD_NODE(m, c);
    ADD_NODE(m, node("Mul", "mul", L("x", "k"), L("m")));
    ADD_NODE(m, node("Add", "add", L("m", "kf"), L("s")));
    ADD_NODE(m, node("Reshape", "r", L("s", "shape"), L("y")));
    /* ConstantOfShape keeps its tensor attribute as attr->t */
    Onnx__NodeProto *cos = node("ConstantOfShape", "cos", L("shape"), L("z"));
    a = attr(cos, "value", ENGINE_ATTR_TENSOR);
    int64_t one = 7;
    a->t = tensor_raw("fill", ENGINE_DTYPE_I64, 1, (int64_t[]){1}, &one, 8);
    ADD_NODE(m, cos);
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    ADD_OUTPUT(m, value_info("z", ENGINE_DTYPE_I64, -1, NULL));
    eng_graph *g;
    assert_int_equal(load(f, m, NULL, &g), ENGINE_OK);
    assert_int_equal(g->n_nodes, 4); /* the Constants are gone */
    for (int k = 0; k < g->n_nodes; ++k) assert_string_not_equal(g->nodes[k]->op_type, "Constant");
    engine_value *k = eng_graph_find(g, "k");
    assert_true(k->flags & ENGINE_VALUE_CONST);
    assert_null(k->producer);
    assert_true(((float *)k->data)[0] == 2.5f);
    engine_value *kf = eng_graph_find(g, "kf");
    assert_int_equal(kf->rank, 0);
    assert_true(((float *)kf->data)[0] == -1.5f);
    engine_value *shape = eng_graph_find(g, "shape");
    assert_int_equal(shape->dtype, ENGINE_DTYPE_I64);
    assert_int_equal(shape->rank, 1);
    assert_int_equal(shape->dims[0], 2);
    engine_node *n = NULL;
    for (int j = 0; j < g->n_nodes; ++j)
        if (strcmp(g->nodes[j]->name, "cos") == 0) n = g->nodes[j];
    assert_non_null(n);
    const engine_attr *va = engine_node_attr(n, "value");
    assert_int_equal(va->type, ENGINE_ATTR_TENSOR);
    assert_non_null(va->t);
    assert_int_equal(va->t->dtype, ENGINE_DTYPE_I64);
    assert_int_equal(((int64_t *)va->t->data)[0], 7);
    eng_graph_free(g);

    m = model(13);
    c = node("Constant", "cs", NULL, L("k"));
    a = attr(c, "value_string", ENGINE_ATTR_STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)sdup("hi");
    a->s.len = 2;
    ADD_NODE(m, c);
    ADD_OUTPUT(m, value_info("k", ENGINE_DTYPE_F32, -1, NULL));
    expect_error(f, m, NULL, ENGINE_ERR_UNSUPPORTED, "cs", "value_string");
}

static Onnx__ModelProto *relu_model(int opset) {
    Onnx__ModelProto *m = model(opset);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 2, (int64_t[]){1, 4}));
    ADD_NODE(m, node("Relu", "relu", L("x"), L("y")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    return m;
}

static void test_opsets(void **state) {
    fixture *f = *state;
    expect_error(f, relu_model(0), NULL, ENGINE_ERR_UNSUPPORTED, "opset 0", NULL);
    expect_error(f, relu_model(22), NULL, ENGINE_ERR_UNSUPPORTED, "opset 22", NULL);
    eng_graph *g;
    assert_int_equal(load(f, relu_model(1), NULL, &g), ENGINE_OK);
    assert_int_equal(g->nodes[0]->opset, 1);
    eng_graph_free(g);
    assert_int_equal(load(f, relu_model(21), NULL, &g), ENGINE_OK);
    assert_int_equal(g->nodes[0]->opset, 21);
    eng_graph_free(g);
    Onnx__ModelProto *m = relu_model(18);
    free(m->opset_import[0]->domain);
    m->opset_import[0]->domain = sdup("ai.onnx");
    assert_int_equal(load(f, m, NULL, &g), ENGINE_OK);
    assert_int_equal(g->opset, 18);
    eng_graph_free(g);
    /* a custom domain: imported -> its version; not imported -> invalid */
    m = relu_model(13);
    G(m)->node[0]->domain = sdup("com.example");
    expect_error(f, m, NULL, ENGINE_ERR_INVALID_MODEL, "com.example", "relu");
    m = relu_model(13);
    G(m)->node[0]->domain = sdup("com.example");
    import_domain(m, "com.example", 3);
    assert_int_equal(load(f, m, NULL, &g), ENGINE_OK);
    assert_int_equal(g->nodes[0]->opset, 3);
    assert_string_equal(g->nodes[0]->domain, "com.example");
    eng_graph_free(g);
    /* no default-domain import at all */
    m = relu_model(13);
    free(m->opset_import[0]->domain);
    m->opset_import[0]->domain = sdup("com.other");
    expect_error(f, m, NULL, ENGINE_ERR_UNSUPPORTED, "opset", NULL);
}

/* ---- external data ---- */

static char tmpdir[256];

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static Onnx__ModelProto *ext_model(const char *location, const char *offset, const char *length) {
    Onnx__ModelProto *m = model(13);
    Onnx__TensorProto *t = tensor("W", ENGINE_DTYPE_F32, 1, (int64_t[]){4});
    external(t, location, offset, length);
    ADD_INIT(m, t);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 1, (int64_t[]){4}));
    ADD_NODE(m, node("Add", "add", L("x", "W"), L("y")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    return m;
}

static int ext_setup(void **state) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_onnx_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    char path[512];
    snprintf(path, sizeof path, "%s/model", tmpdir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/model/sub", tmpdir);
    mkdir(path, 0700);
    float data[8] = {0, 0, 0, 0, 1, 2, 3, 4};
    snprintf(path, sizeof path, "%s/model/w.bin", tmpdir);
    write_bytes(path, data, sizeof data);
    snprintf(path, sizeof path, "%s/model/sub/w2.bin", tmpdir);
    write_bytes(path, data + 4, 16);
    snprintf(path, sizeof path, "%s/secret.bin", tmpdir); /* outside the model folder */
    write_bytes(path, data, sizeof data);
    char target[512];
    snprintf(target, sizeof target, "%s/secret.bin", tmpdir);
    snprintf(path, sizeof path, "%s/model/link.bin", tmpdir);
    if (symlink(target, path) != 0) return -1;
    snprintf(target, sizeof target, "%s", tmpdir);
    snprintf(path, sizeof path, "%s/model/uplink", tmpdir);
    if (symlink(target, path) != 0) return -1;
    return setup(state);
}

static int ext_teardown(void **state) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) return -1;
    return teardown(state);
}

static void test_external_data(void **state) {
    fixture *f = *state;
    char base[512], abs_path[600];
    snprintf(base, sizeof base, "%s/model", tmpdir);
    eng_graph *g;
    assert_int_equal(load(f, ext_model("w.bin", "16", "16"), base, &g), ENGINE_OK);
    engine_value *w = eng_graph_find(g, "W");
    assert_true(((float *)w->data)[0] == 1.0f && ((float *)w->data)[3] == 4.0f);
    eng_graph_free(g);
    assert_int_equal(load(f, ext_model("sub/w2.bin", NULL, NULL), base, &g), ENGINE_OK);
    assert_true(((float *)eng_graph_find(g, "W")->data)[2] == 3.0f);
    eng_graph_free(g);
    assert_int_equal(load(f, ext_model("./sub//w2.bin", "0", NULL), base, &g), ENGINE_OK);
    eng_graph_free(g);

    snprintf(abs_path, sizeof abs_path, "%s/model/w.bin", tmpdir);
    expect_error(f, ext_model(abs_path, "16", NULL), base, ENGINE_ERR_SECURITY, "absolute", "'W'");
    expect_error(f, ext_model("../secret.bin", NULL, "16"), base, ENGINE_ERR_SECURITY, "..", "'W'");
    expect_error(f, ext_model("sub/../w.bin", "16", NULL), base, ENGINE_ERR_SECURITY, "..", NULL);
    expect_error(f, ext_model("link.bin", NULL, "16"), base, ENGINE_ERR_SECURITY, "outside", "link.bin");
    expect_error(f, ext_model("uplink/secret.bin", NULL, "16"), base, ENGINE_ERR_SECURITY, "outside", NULL);
    expect_error(f, ext_model("w.bin", "16", NULL), NULL, ENGINE_ERR_SECURITY, "w.bin", NULL);
    expect_error(f, ext_model("w.bin", "24", "16"), base, ENGINE_ERR_PARSE, "w.bin", "past its end");
    expect_error(f, ext_model("w.bin", "0", "8"), base, ENGINE_ERR_PARSE, "length", NULL);
    expect_error(f, ext_model("w.bin", "x1", NULL), base, ENGINE_ERR_PARSE, "offset", NULL);
    expect_error(f, ext_model("missing.bin", NULL, NULL), base, ENGINE_ERR_IO, "missing.bin", NULL);
    expect_error(f, ext_model("sub", NULL, NULL), base, ENGINE_ERR_IO, "sub", NULL);
}

/* ---- malformed bytes and invalid graphs ---- */

static void test_garbage_and_truncation(void **state) {
    fixture *f = *state;
    eng_graph *g = NULL;
    static const uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(eng_onnx_load(f->ctx, junk, sizeof junk, NULL, &g), ENGINE_ERR_PARSE);
    assert_non_null(strstr(engine_context_error(f->ctx), "not an ONNX model"));
    assert_null(g);
    const char *text = "ir_version: 8\ngraph { }\n"; /* a text proto is not a model */
    assert_int_equal(eng_onnx_load(f->ctx, text, strlen(text), NULL, &g), ENGINE_ERR_PARSE);
    assert_int_equal(eng_onnx_load(f->ctx, "", 0, NULL, &g), ENGINE_ERR_PARSE);
    size_t size;
    uint8_t *buf = pack(conv_model(), &size);
    for (size_t cut = 0; cut < size; ++cut) {
        engine_status st = eng_onnx_load(f->ctx, buf, cut, NULL, &g);
        assert_int_equal(st, ENGINE_ERR_PARSE);
        assert_null(g);
    }
    /* flipped bytes: any status, no crash, no leak (checked at teardown) */
    srand(1234);
    for (int round = 0; round < 2000; ++round) {
        uint8_t *copy = malloc(size);
        memcpy(copy, buf, size);
        for (int k = 0; k < 3; ++k) copy[(size_t)rand() % size] = (uint8_t)rand();
        engine_status st = eng_onnx_load(f->ctx, copy, size, NULL, &g);
        if (st == ENGINE_OK) eng_graph_free(g);
        free(copy);
    }
    free(buf);
}

static void test_invalid_graphs(void **state) {
    fixture *f = *state;
    /* two producers of y */
    Onnx__ModelProto *m = relu_model(13);
    ADD_NODE(m, node("Sigmoid", "sig", L("x"), L("y")));
    expect_error(f, m, NULL, ENGINE_ERR_INVALID_MODEL, "'relu'", "'sig'");
    /* raw_data of the wrong length */
    m = relu_model(13);
    ADD_INIT(m, tensor_raw("bad_w", ENGINE_DTYPE_F32, 1, (int64_t[]){3}, "12345678", 8));
    expect_error(f, m, NULL, ENGINE_ERR_PARSE, "bad_w", "raw_data");
    /* a forged huge shape is refused before anything is allocated for it */
    m = relu_model(13);
    ADD_INIT(m, tensor_raw("forged", ENGINE_DTYPE_F32, 2, (int64_t[]){1 << 24, 1 << 24}, "1234", 4));
    expect_error(f, m, NULL, ENGINE_ERR_PARSE, "forged", "raw_data");
    /* typed data of the wrong length */
    m = relu_model(13);
    ADD_INIT(m, tensor_floats("short", 1, (int64_t[]){3}, (float[]){1, 2}, 2));
    expect_error(f, m, NULL, ENGINE_ERR_PARSE, "short", "float_data");
    /* negative dimension, unknown dtype, overflowing dims */
    m = relu_model(13);
    ADD_INIT(m, tensor_raw("neg", ENGINE_DTYPE_F32, 1, (int64_t[]){-1}, "", 0));
    expect_error(f, m, NULL, ENGINE_ERR_PARSE, "neg", "negative");
    m = relu_model(13);
    ADD_INIT(m, tensor_raw("odd", 99, 1, (int64_t[]){1}, "1234", 4));
    expect_error(f, m, NULL, ENGINE_ERR_PARSE, "odd", "99");
    m = relu_model(13);
    ADD_INIT(m, tensor_raw("str", 8, 1, (int64_t[]){1}, "1234", 4));
    expect_error(f, m, NULL, ENGINE_ERR_UNSUPPORTED, "str", "string");
    m = relu_model(13);
    ADD_INIT(m, tensor_raw("huge", ENGINE_DTYPE_F32, 3, (int64_t[]){INT64_MAX / 2, 4, 4}, "", 0));
    expect_error(f, m, NULL, ENGINE_ERR_PARSE, "huge", "overflow");
    /* initializer defined twice */
    m = relu_model(13);
    ADD_INIT(m, tensor_floats("k", 0, NULL, (float[]){1}, 1));
    ADD_INIT(m, tensor_floats("k", 0, NULL, (float[]){2}, 1));
    expect_error(f, m, NULL, ENGINE_ERR_INVALID_MODEL, "'k'", NULL);
    /* a node writing an initializer */
    m = relu_model(13);
    ADD_INIT(m, tensor_floats("y", 0, NULL, (float[]){1}, 1));
    expect_error(f, m, NULL, ENGINE_ERR_INVALID_MODEL, "'y'", "relu");
    /* a dangling input */
    m = relu_model(13);
    ADD_NODE(m, node("Add", "add", L("y", "nowhere"), L("z")));
    expect_error(f, m, NULL, ENGINE_ERR_INVALID_MODEL, "nowhere", NULL);
    /* a cycle */
    m = relu_model(13);
    ADD_NODE(m, node("Add", "a1", L("y", "b"), L("a")));
    ADD_NODE(m, node("Relu", "a2", L("a"), L("b")));
    expect_error(f, m, NULL, ENGINE_ERR_INVALID_MODEL, "cycle", NULL);
    /* subgraph attributes */
    m = relu_model(13);
    Onnx__NodeProto *n = node("If", "branch", L("x"), L("z"));
    Onnx__AttributeProto *a = attr(n, "then_branch", ENGINE_ATTR_GRAPH);
    a->g = malloc(sizeof *a->g);
    onnx__graph_proto__init(a->g);
    ADD_NODE(m, n);
    expect_error(f, m, NULL, ENGINE_ERR_INVALID_MODEL, "branch", "then_branch"); /* an empty body */
    /* an input without a shape */
    m = model(13);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, -1, NULL));
    ADD_NODE(m, node("Relu", "relu", L("x"), L("y")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    expect_error(f, m, NULL, ENGINE_ERR_UNSUPPORTED, "'x'", "shape");
    /* no graph */
    m = model(13);
    protobuf_c_message_free_unpacked(&m->graph->base, NULL);
    m->graph = NULL;
    expect_error(f, m, NULL, ENGINE_ERR_PARSE, "graph", NULL);
}

static void test_symbolic_dims(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = model(13);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 4, (int64_t[]){-1, 3, 8, 8}));
    ADD_NODE(m, node("Relu", "relu", L("x"), L("y")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    eng_graph *g;
    assert_int_equal(load(f, m, NULL, &g), ENGINE_OK);
    /* Symbolic dims are kept (-1) with their names, bound per run. */
    assert_int_equal(g->inputs[0]->dims[0], -1);
    assert_int_equal(g->inputs[0]->dims[3], 8);
    assert_non_null(g->input_syms);
    assert_string_equal(g->input_syms[0], "N");
    assert_null(g->input_syms[3]);
    eng_graph_free(g);
    m = model(13);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 4, (int64_t[]){1, 3, -2, 8}));
    ADD_NODE(m, node("Relu", "relu", L("x"), L("y")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    assert_int_equal(load(f, m, NULL, &g), ENGINE_OK);
    assert_int_equal(g->inputs[0]->dims[2], -1);
    assert_string_equal(g->input_syms[2], "H");
    eng_graph_free(g);
}

static void test_omitted_inputs(void **state) {
    fixture *f = *state;
    Onnx__ModelProto *m = model(13);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 2, (int64_t[]){1, 4}));
    ADD_INIT(m, tensor_floats("hi", 0, NULL, (float[]){6}, 1));
    ADD_NODE(m, node("Clip", NULL, L("x", "", "hi"), L("c")));
    ADD_NODE(m, node("Dropout", NULL, L("c", "", ""), L("y", "")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    eng_graph *g;
    assert_int_equal(load(f, m, NULL, &g), ENGINE_OK);
    engine_node *clip = g->nodes[0], *drop = g->nodes[1];
    assert_string_equal(clip->name, "Clip_0");
    assert_int_equal(clip->n_inputs, 3);
    assert_null(clip->inputs[1]);
    assert_non_null(clip->inputs[2]);
    assert_int_equal(drop->n_inputs, 1);
    assert_int_equal(drop->n_outputs, 1);
    assert_string_equal(drop->name, "Dropout_1");
    eng_graph_free(g);
}

static void test_read_file(void **state) {
    fixture *f = *state;
    void *data;
    size_t size;
    assert_int_equal(eng_onnx_read_file(f->ctx, "/nonexistent/model.onnx", &data, &size), ENGINE_ERR_IO);
    assert_non_null(strstr(engine_context_error(f->ctx), "/nonexistent/model.onnx"));
    assert_int_equal(eng_onnx_read_file(f->ctx, "/tmp", &data, &size), ENGINE_ERR_IO);
}

/* ---- eng_onnx_load_file: large raw_data read from the file into place ----
 * A model with a 24 KiB initializer (read from the file), a 64-byte one
 * and a typed one (both in the skeleton): the same graph as loading the
 * bytes; a wrong raw_data length on the large one; every prefix of the
 * file refused; every allocation failed in turn, nothing leaked. */

static Onnx__ModelProto *big_model(size_t big_bytes) {
    Onnx__ModelProto *m = model(13);
    float *w = malloc(6144 * sizeof(float));
    for (int k = 0; k < 6144; ++k) w[k] = (float)k * 0.5f - 7.0f;
    ADD_INIT(m, tensor_raw("W", ENGINE_DTYPE_F32, 2, (int64_t[]){96, 64}, w, big_bytes));
    ADD_INIT(m, tensor_raw("S", ENGINE_DTYPE_F32, 1, (int64_t[]){16}, w, 64));
    static const float b[2] = {0.5f, -0.5f};
    ADD_INIT(m, tensor_floats("B", 1, (int64_t[]){2}, b, 2));
    free(w);
    ADD_INPUT(m, value_info("x", ENGINE_DTYPE_F32, 2, (int64_t[]){1, 96}));
    ADD_NODE(m, node("MatMul", "mm", L("x", "W"), L("y")));
    ADD_OUTPUT(m, value_info("y", ENGINE_DTYPE_F32, -1, NULL));
    return m;
}

static void write_file(const char *path, const uint8_t *buf, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    fclose(fp);
}

static void test_load_file(void **state) {
    fixture *f = *state;
    char path[300];
    snprintf(path, sizeof path, "/tmp/test_onnx_file_%d.onnx", (int)getpid());
    size_t size;
    uint8_t *buf = pack(big_model(6144 * sizeof(float)), &size);
    write_file(path, buf, size);
    eng_graph *a = NULL, *b = NULL;
    assert_int_equal(eng_onnx_load(f->ctx, buf, size, NULL, &a), ENGINE_OK);
    assert_int_equal(eng_onnx_load_file(f->ctx, path, "/tmp", &b, NULL), ENGINE_OK);
    const char *names[3] = {"W", "S", "B"};
    for (int k = 0; k < 3; ++k) {
        const engine_value *va = eng_graph_find(a, names[k]), *vb = eng_graph_find(b, names[k]);
        assert_non_null(va);
        assert_non_null(vb);
        assert_int_equal(va->rank, vb->rank);
        size_t n = engine_dtype_size(va->dtype);
        for (int d = 0; d < va->rank; ++d) n *= (size_t)va->dims[d];
        assert_memory_equal(va->data, vb->data, n);
        assert_true(((uintptr_t)vb->data % 64) == 0);
    }
    assert_true(((float *)eng_graph_find(b, "W")->data)[6143] == 6143 * 0.5f - 7.0f);
    assert_int_equal(a->n_nodes, b->n_nodes);
    eng_graph_free(a);
    eng_graph_free(b);

    /* every allocation failed in turn: out of memory (or a decode failure), nothing leaked */
    const loader l = {NULL, 0, path};
    oom_sweep(f, &l);

    /* every prefix refused, through the pass or the fallback */
    for (size_t cut = 0; cut < size; cut += cut < 64 ? 1 : 97) {
        write_file(path, buf, cut);
        eng_graph *g = NULL;
        engine_status st = eng_onnx_load_file(f->ctx, path, "/tmp", &g, NULL);
        if (st != ENGINE_ERR_PARSE) print_error("prefix %zu of %zu: status %d\n", cut, size, st);
        assert_int_equal(st, ENGINE_ERR_PARSE);
        assert_null(g);
    }
    free(buf);

    /* the large raw_data one float short of its shape */
    buf = pack(big_model(6143 * sizeof(float)), &size);
    write_file(path, buf, size);
    eng_graph *g = NULL;
    assert_int_equal(eng_onnx_load_file(f->ctx, path, "/tmp", &g, NULL), ENGINE_ERR_PARSE);
    assert_non_null(strstr(engine_context_error(f->ctx), "raw_data has 24572 bytes, expected 24576"));
    assert_null(g);
    free(buf);
    unlink(path);
    assert_int_equal(eng_onnx_load_file(f->ctx, path, "/tmp", &g, NULL), ENGINE_ERR_IO);
}

/* ---- models written by python onnx ---- */

static const char *py_python, *py_script;
static char fx_dir[256];

static int py_setup(void **state) {
    snprintf(fx_dir, sizeof fx_dir, "/tmp/test_onnx_fx_XXXXXX");
    if (!mkdtemp(fx_dir)) return -1;
    if (py_python && py_script) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "'%s' '%s' '%s'", py_python, py_script, fx_dir);
        if (system(cmd) != 0) fx_dir[0] = 0;
    }
    return setup(state);
}

static int py_teardown(void **state) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
    if (fx_dir[0] && system(cmd) != 0) return -1;
    return teardown(state);
}

static void check_python_model(fixture *f, const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    void *data;
    size_t size;
    assert_int_equal(eng_onnx_read_file(f->ctx, path, &data, &size), ENGINE_OK);
    eng_graph *g = NULL;
    engine_status st = eng_onnx_load(f->ctx, data, size, dir, &g);
    eng_free(f->ctx, data);
    if (st) print_error("%s: %s\n", path, engine_context_error(f->ctx));
    assert_int_equal(st, ENGINE_OK);
    assert_int_equal(g->opset, 13);
    assert_int_equal(g->n_inputs, 1);
    assert_int_equal(g->inputs[0]->dims[0], -1); /* symbolic N, kept */
    assert_string_equal(g->input_syms[0], "N");
    assert_int_equal(g->inputs[0]->dims[2], 4);
    assert_int_equal(g->n_nodes, 4); /* Constant folded */
    engine_value *w = eng_graph_find(g, "W");
    assert_int_equal(w->rank, 4);
    assert_true(((float *)w->data)[0] == -2.5f && ((float *)w->data)[5] == 2.5f);
    engine_value *b = eng_graph_find(g, "B");
    assert_int_equal(b->dtype, ENGINE_DTYPE_F32);
    assert_true(((float *)b->data)[0] == 0.5f && ((float *)b->data)[1] == -1.25f);
    engine_value *k = eng_graph_find(g, "k");
    assert_true(k->flags & ENGINE_VALUE_CONST);
    assert_true(((float *)k->data)[0] == 3.0f);
    engine_value *shape = eng_graph_find(g, "shape");
    assert_int_equal(shape->dtype, ENGINE_DTYPE_I64);
    assert_int_equal(((int64_t *)shape->data)[1], -1);
    assert_true(engine_node_attr(g->nodes[2], "alpha")->f == 0.25f);
    assert_string_equal(g->outputs[0]->name, "z");
    eng_graph_free(g);
}

static void test_python_models(void **state) {
    fixture *f = *state;
    if (!fx_dir[0] || !py_script) skip();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/model.onnx", fx_dir);
    if (access(dir, R_OK) != 0) skip(); /* python onnx missing */
    check_python_model(f, fx_dir);
    snprintf(dir, sizeof dir, "%s/ext", fx_dir);
    check_python_model(f, dir);
}

int main(int argc, char **argv) {
    /* python onnx fixtures: argv[1] = python3, argv[2] = gen_onnx_fixtures.py,
     * or $PYTHON and the source tree's script; skipped without either. */
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
        cmocka_unit_test_setup_teardown(test_conv_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dtypes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constant_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_data, ext_setup, ext_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_and_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_graphs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbolic_dims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_omitted_inputs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_python_models, py_setup, py_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
