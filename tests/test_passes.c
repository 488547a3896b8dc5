/* Unit tests of the graph passes (engine/passes): each pattern fires, its
 * near misses do not, and the rewritten graph computes what the original
 * did (both evaluated node by node with the reference kernels). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "infer.h"
#include "model.h"
#include "passes.h"
#include "ref_kernels.h"

/* ---- building graphs ---- */

static uint64_t rng_state;
static float rnd(void) { /* uniform in [-1, 1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_state >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

static engine_context *new_ctx(void) {
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.no_default_backends = 1;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
    return ctx;
}

static eng_graph *new_graph(engine_context *ctx) {
    eng_graph *g;
    assert_int_equal(eng_graph_create(ctx, &g), ENGINE_OK);
    g->opset = 18; /* Mish exists from 18 */
    rng_state = 12345;
    return g;
}

static engine_value *value(eng_graph *g, const char *name) {
    engine_value *v;
    assert_int_equal(eng_graph_get_value(g, name, &v), ENGINE_OK);
    return v;
}

static void add_io(eng_graph *g, engine_value ***arr, int *count, engine_value *v) {
    engine_value **a = eng_realloc(g->ctx, *arr, (size_t)*count * sizeof *a, (size_t)(*count + 1) * sizeof *a);
    assert_non_null(a);
    a[(*count)++] = v;
    *arr = a;
}

static engine_value *input(eng_graph *g, const char *name, int rank, const int64_t *dims) {
    engine_value *v = value(g, name);
    assert_int_equal(eng_value_set_shape(g, v, ENGINE_DTYPE_F32, rank, dims), ENGINE_OK);
    v->flags |= ENGINE_VALUE_GRAPH_INPUT;
    add_io(g, &g->inputs, &g->n_inputs, v);
    return v;
}

static void output(eng_graph *g, const char *name) {
    engine_value *v = value(g, name);
    v->flags |= ENGINE_VALUE_GRAPH_OUTPUT;
    add_io(g, &g->outputs, &g->n_outputs, v);
}

/* A float constant of random values in [lo, hi). */
static engine_value *cfloat(eng_graph *g, const char *name, int rank, const int64_t *dims, float lo, float hi) {
    engine_value *v = value(g, name);
    assert_int_equal(eng_value_set_shape(g, v, ENGINE_DTYPE_F32, rank, dims), ENGINE_OK);
    int64_t n = engine_value_numel(v);
    float *d = eng_alloc(g->ctx, (size_t)n * sizeof *d + 1);
    assert_non_null(d);
    for (int64_t k = 0; k < n; ++k) d[k] = lo + (rnd() + 1.0f) * 0.5f * (hi - lo);
    eng_value_set_data(g, v, d);
    return v;
}

static engine_value *cints(eng_graph *g, const char *name, int n, const int64_t *vals) {
    engine_value *v = value(g, name);
    int64_t dims[1] = {n};
    assert_int_equal(eng_value_set_shape(g, v, ENGINE_DTYPE_I64, 1, dims), ENGINE_OK);
    int64_t *d = eng_alloc(g->ctx, (size_t)n * sizeof *d + 1);
    assert_non_null(d);
    memcpy(d, vals, (size_t)n * sizeof *d);
    eng_value_set_data(g, v, d);
    return v;
}

/* node(g, "Conv", "c1", "x,w,b", "y"): names "" for omitted inputs. */
static engine_node *node(eng_graph *g, const char *op, const char *name, const char *ins, const char *outs) {
    char buf[256];
    const char *lists[2] = {ins, outs};
    char names[2][8][64];
    int counts[2] = {0, 0};
    for (int l = 0; l < 2; ++l) {
        snprintf(buf, sizeof buf, "%s", lists[l]);
        char *p = buf;
        for (;;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            snprintf(names[l][counts[l]++], 64, "%.63s", p);
            if (!comma) break;
            p = comma + 1;
        }
    }
    engine_node *n;
    assert_int_equal(eng_graph_add_node(g, name, op, "", counts[0], counts[1], &n), ENGINE_OK);
    for (int k = 0; k < counts[0]; ++k)
        if (names[0][k][0]) eng_node_set_input(n, k, value(g, names[0][k]));
    for (int k = 0; k < counts[1]; ++k)
        if (names[1][k][0]) assert_int_equal(eng_node_set_output(g, n, k, value(g, names[1][k])), ENGINE_OK);
    return n;
}

static void attr_int(eng_graph *g, engine_node *n, const char *name, int64_t v) {
    engine_attr *a;
    assert_int_equal(eng_node_add_attr(g, n, name, ENGINE_ATTR_INT, &a), ENGINE_OK);
    a->i = v;
}

static void attr_float(eng_graph *g, engine_node *n, const char *name, float v) {
    engine_attr *a;
    assert_int_equal(eng_node_add_attr(g, n, name, ENGINE_ATTR_FLOAT, &a), ENGINE_OK);
    a->f = v;
}

static void attr_ints(eng_graph *g, engine_node *n, const char *name, int count, const int64_t *v) {
    engine_attr *a;
    assert_int_equal(eng_node_add_attr(g, n, name, ENGINE_ATTR_INTS, &a), ENGINE_OK);
    a->ints = eng_alloc(g->ctx, (size_t)count * sizeof *a->ints);
    assert_non_null(a->ints);
    memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n = count;
}

/* BatchNormalization "bn" over `c` channels: x -> y, statistics random
 * (var positive), epsilon 1e-3. */
static engine_node *batchnorm(eng_graph *g, const char *name, const char *x, const char *y, int64_t c) {
    char s[64], b[64], m[64], v[64], ins[320];
    snprintf(s, sizeof s, "%s_scale", name);
    snprintf(b, sizeof b, "%s_bias", name);
    snprintf(m, sizeof m, "%s_mean", name);
    snprintf(v, sizeof v, "%s_var", name);
    cfloat(g, s, 1, &c, 0.5f, 2.0f);
    cfloat(g, b, 1, &c, -1.0f, 1.0f);
    cfloat(g, m, 1, &c, -1.0f, 1.0f);
    cfloat(g, v, 1, &c, 0.1f, 3.0f);
    snprintf(ins, sizeof ins, "%s,%s,%s,%s,%s", x, s, b, m, v);
    engine_node *n = node(g, "BatchNormalization", name, ins, y);
    attr_float(g, n, "epsilon", 1e-3f);
    return n;
}

static void finish(eng_graph *g) {
    assert_int_equal(eng_graph_sort(g), ENGINE_OK);
    engine_status st = eng_graph_infer(g, NULL);
    if (st) fail_msg("shape inference: %s", engine_context_error(g->ctx));
}

static int count_op(const eng_graph *g, engine_op op) {
    int count = 0;
    for (int k = 0; k < g->n_nodes; ++k) count += g->nodes[k]->op == op;
    return count;
}

/* ---- evaluating graphs with the reference kernels ---- */

/* Runs g on seeded random inputs; returns a malloc'd copy of graph output
 * `out` (as float) and its element count. */
static float *evaluate(eng_graph *g, int out, uint64_t seed, int64_t *numel) {
    void **buf = calloc((size_t)g->n_values, sizeof *buf);
    assert_non_null(buf);
    uint64_t saved = rng_state;
    rng_state = seed;
    for (int k = 0; k < g->n_inputs; ++k) {
        engine_value *v = g->inputs[k];
        float *d = malloc(engine_value_nbytes(v) + 1);
        assert_non_null(d);
        for (int64_t i = 0; i < engine_value_numel(v); ++i) d[i] = rnd();
        buf[v->index] = d;
    }
    rng_state = saved;
    for (int k = 0; k < g->n_nodes; ++k) {
        engine_node *n = g->nodes[k];
        const void *in[16] = {0};
        void *o[16] = {0};
        for (int i = 0; i < n->n_inputs; ++i)
            if (n->inputs[i]) in[i] = n->inputs[i]->data ? n->inputs[i]->data : buf[n->inputs[i]->index];
        for (int i = 0; i < n->n_outputs; ++i)
            if (n->outputs[i]) {
                o[i] = buf[n->outputs[i]->index] = calloc(1, engine_value_nbytes(n->outputs[i]) + 1);
                assert_non_null(o[i]);
            }
        assert_non_null(ref_kernel_for(n->op));
        assert_int_equal(ref_kernel_for(n->op)(n, in, o), ENGINE_OK);
    }
    engine_value *y = g->outputs[out];
    assert_int_equal(y->dtype, ENGINE_DTYPE_F32);
    *numel = engine_value_numel(y);
    float *r = malloc((size_t)*numel * sizeof *r + 1);
    assert_non_null(r);
    memcpy(r, y->data ? y->data : buf[y->index], (size_t)*numel * sizeof *r);
    for (int k = 0; k < g->n_values; ++k) free(buf[k]);
    free(buf);
    return r;
}

static double rel_l2(const float *a, const float *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t k = 0; k < n; ++k) {
        double d = (double)a[k] - (double)ref[k];
        num += d * d;
        den += (double)ref[k] * ref[k];
    }
    return sqrt(num) / (den > 0 ? sqrt(den) : 1e-300);
}

typedef struct snapshot {
    float *y[4];
    int64_t n[4];
    int count;
} snapshot;

static snapshot run_all(eng_graph *g) {
    snapshot s;
    memset(&s, 0, sizeof s);
    s.count = g->n_outputs;
    assert_true(s.count <= 4);
    for (int k = 0; k < s.count; ++k) s.y[k] = evaluate(g, k, 777, &s.n[k]);
    return s;
}

/* The graph after the passes computes what `before` held. */
static void expect_same(eng_graph *g, snapshot *before) {
    assert_int_equal(eng_graph_sort(g), ENGINE_OK); /* still valid and ordered */
    snapshot after = run_all(g);
    assert_int_equal(after.count, before->count);
    for (int k = 0; k < before->count; ++k) {
        assert_int_equal(after.n[k], before->n[k]);
        double err = rel_l2(after.y[k], before->y[k], before->n[k]);
        if (err > 1e-5) fail_msg("output %d: rel L2 %.3g > 1e-5", k, err);
        free(after.y[k]);
        free(before->y[k]);
    }
}

/* Entries of the pipeline's stats: each pass, then remove_dead. */
#define N_PASS_STATS 16

/* Runs the default pipeline. */
static void optimise(eng_graph *g) {
    eng_pass_stat stats[ENG_MAX_PASS_STATS];
    int n = 0;
    assert_int_equal(eng_passes_run(g, stats, ENG_MAX_PASS_STATS, &n), ENGINE_OK);
    assert_int_equal(n, N_PASS_STATS);
}

/* Runs one pass and dead-node removal; returns the pass's rewrite count. */
static int run_pass(eng_graph *g, engine_status (*pass)(eng_graph *, int *)) {
    int changed = -1;
    assert_int_equal(pass(g, &changed), ENGINE_OK);
    eng_graph_remove_dead(g);
    return changed;
}

static void free_graph(engine_context *ctx, eng_graph *g) {
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

/* ---- fold_batchnorm ---- */

/* x[1,4,5,5] -> Conv(group 2, pads 1, bias optional) -> BN -> Relu -> y */
static void conv_bn(int with_bias) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {6, 2, 3, 3}, bd[1] = {6}, pads[4] = {1, 1, 1, 1};
    input(g, "x", 4, xd);
    cfloat(g, "w", 4, wd, -1, 1);
    if (with_bias) cfloat(g, "b", 1, bd, -1, 1);
    engine_node *c = node(g, "Conv", "conv", with_bias ? "x,w,b" : "x,w", "t");
    attr_int(g, c, "group", 2);
    attr_ints(g, c, "pads", 4, pads);
    batchnorm(g, "bn", "t", "u", 6);
    node(g, "Relu", "relu", "u", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fold_batchnorm), 1);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 0);
    assert_int_equal(g->n_nodes, 2);
    engine_node *conv = g->nodes[0];
    assert_int_equal(conv->op, ENGINE_OP_Conv);
    assert_int_equal(conv->n_inputs, 3);
    assert_non_null(conv->inputs[2]);
    assert_true(conv->inputs[2]->flags & ENGINE_VALUE_CONST);
    assert_string_equal(conv->outputs[0]->name, "u");
    assert_null(eng_graph_find(g, "t")); /* the intermediate is gone */
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_bn_conv_bias(void **state) {
    (void)state;
    conv_bn(1);
}

static void test_bn_conv_no_bias(void **state) {
    (void)state;
    conv_bn(0);
}

/* ConvTranspose(group 2): W [C_in=4, M/group=3, 3, 3], 6 output channels;
 * BN's output is the graph output. */
static void test_bn_convtranspose(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 4, 4}, wd[4] = {4, 3, 3, 3}, strides[2] = {2, 2};
    input(g, "x", 4, xd);
    cfloat(g, "w", 4, wd, -1, 1);
    engine_node *c = node(g, "ConvTranspose", "deconv", "x,w", "t");
    attr_int(g, c, "group", 2);
    attr_ints(g, c, "strides", 2, strides);
    batchnorm(g, "bn", "t", "y", 6);
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(g->nodes[0]->op, ENGINE_OP_ConvTranspose);
    assert_ptr_equal(eng_graph_find(g, "y")->producer, g->nodes[0]);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* Gemm with alpha/beta and both transB forms, with and without C. */
static void gemm_bn(int trans_b, int with_c) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[2] = {3, 5}, wd[2] = {trans_b ? 6 : 5, trans_b ? 5 : 6}, cd[2] = {1, 6};
    input(g, "x", 2, xd);
    cfloat(g, "w", 2, wd, -1, 1);
    if (with_c) cfloat(g, "c", 2, cd, -1, 1);
    engine_node *m = node(g, "Gemm", "fc", with_c ? "x,w,c" : "x,w", "t");
    attr_int(g, m, "transB", trans_b);
    attr_float(g, m, "alpha", 0.5f);
    attr_float(g, m, "beta", 2.0f);
    batchnorm(g, "bn", "t", "y", 6);
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(g->nodes[0]->op, ENGINE_OP_Gemm);
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_bn_gemm(void **state) {
    (void)state;
    gemm_bn(1, 1);
    gemm_bn(0, 0);
    gemm_bn(1, 0);
}

/* Two Convs share W: the folded one gets its own copy, the other still
 * reads the original contents. */
static void test_bn_shared_weight(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 3, 4, 4}, wd[4] = {3, 3, 1, 1}, bd[1] = {3};
    input(g, "x", 4, xd);
    engine_value *w = cfloat(g, "w", 4, wd, -1, 1);
    engine_value *b = cfloat(g, "b", 1, bd, -1, 1);
    float w0[9], b0[3];
    memcpy(w0, w->data, sizeof w0);
    memcpy(b0, b->data, sizeof b0);
    node(g, "Conv", "c1", "x,w,b", "t");
    batchnorm(g, "bn", "t", "u", 3);
    node(g, "Conv", "c2", "x,w,b", "v");
    node(g, "Add", "add", "u,v", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    /* fold_batchnorm alone: the full pipeline would merge the two branches */
    assert_int_equal(run_pass(g, eng_pass_fold_batchnorm), 1);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 0);
    engine_node *c1 = NULL, *c2 = NULL;
    for (int k = 0; k < g->n_nodes; ++k) {
        if (strcmp(g->nodes[k]->name, "c1") == 0) c1 = g->nodes[k];
        if (strcmp(g->nodes[k]->name, "c2") == 0) c2 = g->nodes[k];
    }
    assert_non_null(c1);
    assert_non_null(c2);
    assert_ptr_equal(c2->inputs[1], w);
    assert_ptr_equal(c2->inputs[2], b);
    assert_ptr_not_equal(c1->inputs[1], w);
    assert_ptr_not_equal(c1->inputs[2], b);
    assert_memory_equal(w->data, w0, sizeof w0);
    assert_memory_equal(b->data, b0, sizeof b0);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* Near misses: the BN stays and nothing changes numerically. */
static void bn_near_miss(int which) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 3, 4, 4}, wd[4] = {3, 3, 3, 3};
    input(g, "x", 4, xd);
    if (which == 2)
        input(g, "w", 4, wd); /* weights computed at run time */
    else
        cfloat(g, "w", 4, wd, -1, 1);
    switch (which) {
    case 0: /* Conv's output also read by a Relu */
        node(g, "Conv", "conv", "x,w", "t");
        batchnorm(g, "bn", "t", "u", 3);
        node(g, "Relu", "relu", "t", "r");
        node(g, "Add", "add", "u,r", "y");
        output(g, "y");
        break;
    case 1: /* BN straight on a graph input */
        batchnorm(g, "bn", "x", "y", 3);
        output(g, "y");
        break;
    case 2: /* non-constant weights */
        node(g, "Conv", "conv", "x,w", "t");
        batchnorm(g, "bn", "t", "y", 3);
        output(g, "y");
        break;
    case 3: /* Conv's output is itself a graph output */
        node(g, "Conv", "conv", "x,w", "t");
        batchnorm(g, "bn", "t", "y", 3);
        output(g, "y");
        output(g, "t");
        break;
    case 4: /* BN after a Relu: nothing to fold into */
        node(g, "Relu", "relu", "x", "t");
        batchnorm(g, "bn", "t", "y", 3);
        output(g, "y");
        break;
    }
    finish(g);
    int nodes = g->n_nodes;
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fold_batchnorm), 0);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 1);
    assert_int_equal(g->n_nodes, nodes);
    /* the whole pipeline still leaves no BN (batchnorm_to_conv) and the
     * same numbers */
    optimise(g);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 0);
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_bn_near_misses(void **state) {
    (void)state;
    for (int k = 0; k < 5; ++k) bn_near_miss(k);
}

/* ---- noop ---- */

/* x -> Relu -> a -> <op> -> b -> Relu -> y, with the op's extra inputs. */
static void noop_between(const char *op, int expect_removed) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {2, 3, 1, 4};
    input(g, "x", 4, xd);
    node(g, "Relu", "r1", "x", "a");
    engine_node *n = NULL;
    if (strcmp(op, "Identity") == 0) n = node(g, op, "op", "a", "b");
    if (strcmp(op, "Concat") == 0) {
        n = node(g, op, "op", "a", "b");
        attr_int(g, n, "axis", 1);
    }
    if (strcmp(op, "Dropout") == 0) n = node(g, op, "op", "a", "b,mask");
    if (strcmp(op, "Cast") == 0) {
        n = node(g, op, "op", "a", "b");
        attr_int(g, n, "to", 1); /* FLOAT */
    }
    if (strcmp(op, "Reshape") == 0) {
        int64_t s[4] = {2, 3, 1, 4};
        cints(g, "shape", 4, s);
        n = node(g, op, "op", "a,shape", "b");
    }
    if (strcmp(op, "ReshapeOther") == 0) {
        int64_t s[4] = {2, 3, 4, 1};
        cints(g, "shape", 4, s);
        n = node(g, "Reshape", "op", "a,shape", "b");
    }
    if (strcmp(op, "Squeeze") == 0) { /* no axes: drops the size-1 dim, a real reshape */
        n = node(g, op, "op", "a", "b");
    }
    if (strcmp(op, "Pad") == 0) {
        int64_t p[8] = {0};
        cints(g, "pads", 8, p);
        n = node(g, op, "op", "a,pads", "b");
    }
    if (strcmp(op, "PadOne") == 0) {
        int64_t p[8] = {0, 0, 0, 1, 0, 0, 0, 0};
        cints(g, "pads", 8, p);
        n = node(g, "Pad", "op", "a,pads", "b");
    }
    assert_non_null(n);
    node(g, "Relu", "r2", "b", "y");
    output(g, "y");
    finish(g);
    int nodes = g->n_nodes;
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, nodes - expect_removed);
    if (expect_removed) {
        assert_null(eng_graph_find(g, "b"));
        assert_ptr_equal(g->nodes[1]->inputs[0], eng_graph_find(g, "a"));
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_noop_fires(void **state) {
    (void)state;
    noop_between("Identity", 1);
    noop_between("Concat", 1);
    noop_between("Dropout", 1);
    noop_between("Cast", 1);
    noop_between("Reshape", 1);
    noop_between("Pad", 1);
}

static void test_noop_near_misses(void **state) {
    (void)state;
    noop_between("ReshapeOther", 0);
    noop_between("Squeeze", 0);
    noop_between("PadOne", 0);
}

/* Flatten of a 2-D tensor at axis 1 and Unsqueeze... only Flatten can keep
 * the shape; Dropout whose mask is read stays. */
static void test_noop_flatten_and_dropout_mask(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[2] = {3, 4};
    input(g, "x", 2, xd);
    node(g, "Relu", "r1", "x", "a");
    node(g, "Flatten", "flat", "a", "b");
    node(g, "Dropout", "drop", "b", "c,mask");
    node(g, "Cast", "mask_f", "mask", "m");
    attr_int(g, g->nodes[g->n_nodes - 1], "to", 1);
    node(g, "Add", "add", "c,m", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(count_op(g, ENGINE_OP_Flatten), 0);
    assert_int_equal(count_op(g, ENGINE_OP_Dropout), 1);
    assert_int_equal(count_op(g, ENGINE_OP_Cast), 1); /* bool -> float is a real cast */
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* Graph outputs keep their names. */
static void test_noop_graph_outputs(void **state) {
    (void)state;
    int64_t xd[2] = {3, 4};
    /* Relu -> a -> Identity -> y(output): Relu now writes y. */
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    input(g, "x", 2, xd);
    node(g, "Relu", "r1", "x", "a");
    node(g, "Identity", "id", "a", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 1);
    assert_ptr_equal(eng_graph_find(g, "y")->producer, g->nodes[0]);
    assert_null(eng_graph_find(g, "a"));
    expect_same(g, &before);
    free_graph(ctx, g);

    /* Graph input -> Identity -> y: nothing to rename, the node stays. */
    ctx = new_ctx();
    g = new_graph(ctx);
    input(g, "x", 2, xd);
    node(g, "Identity", "id", "x", "y");
    output(g, "y");
    finish(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 1);
    free_graph(ctx, g);

    /* a also read by another node: the Identity stays (a keeps its reader). */
    ctx = new_ctx();
    g = new_graph(ctx);
    input(g, "x", 2, xd);
    node(g, "Relu", "r1", "x", "a");
    node(g, "Identity", "id", "a", "y");
    node(g, "Sigmoid", "s", "a", "z");
    output(g, "y");
    output(g, "z");
    finish(g);
    before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 3);
    expect_same(g, &before);
    free_graph(ctx, g);

    /* a is itself a graph output: both names must stay. */
    ctx = new_ctx();
    g = new_graph(ctx);
    input(g, "x", 2, xd);
    node(g, "Relu", "r1", "x", "a");
    node(g, "Identity", "id", "a", "y");
    output(g, "a");
    output(g, "y");
    finish(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 2);
    free_graph(ctx, g);
}

/* A chain of no-ops and a BN behind them: noop runs first, so the BN then
 * sits right after the Conv and folds. Counts reach the model dump. */
static void dump_write(void *user, const char *text) {
    char *buf = user;
    size_t used = strlen(buf);
    snprintf(buf + used, 8192 - used, "%s", text);
}

static void test_pipeline_and_dump(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 2, 3, 3}, wd[4] = {4, 2, 1, 1};
    input(g, "x", 4, xd);
    cfloat(g, "w", 4, wd, -1, 1);
    node(g, "Conv", "conv", "x,w", "t");
    node(g, "Identity", "id", "t", "t2");
    batchnorm(g, "bn", "t2", "u", 4);
    node(g, "Relu", "relu", "u", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    engine_model *m = eng_calloc(ctx, 1, sizeof *m);
    assert_non_null(m);
    m->ctx = ctx;
    m->graph = g;
    assert_int_equal(engine_model_optimize(m, ENGINE_OPT_DEFAULT), ENGINE_OK);
    assert_int_equal(g->n_nodes, 1); /* Conv with the BN folded and the Relu fused */
    expect_same(g, &before);
    static char text[8192];
    text[0] = 0;
    assert_int_equal(engine_model_dump(m, NULL, 1, dump_write, text), ENGINE_OK);
    assert_non_null(strstr(text, "\"passes\":[{\"name\":\"noop\",\"before\":4,\"after\":3,\"changed\":1},"
                                 "{\"name\":\"fold_pad\",\"before\":3,\"after\":3,\"changed\":0},"
                                 "{\"name\":\"fold_batchnorm\",\"before\":3,\"after\":2,\"changed\":1},"
                                 "{\"name\":\"fold_bn_next\",\"before\":2,\"after\":2,\"changed\":0},"
                                 "{\"name\":\"batchnorm_to_conv\",\"before\":2,\"after\":2,\"changed\":0},"
                                 "{\"name\":\"merge_branches\",\"before\":2,\"after\":2,\"changed\":0},"
                                 "{\"name\":\"fuse_residual\",\"before\":2,\"after\":2,\"changed\":0},"
                                 "{\"name\":\"fuse_matmul_bias\",\"before\":2,\"after\":2,\"changed\":0},"
                                 "{\"name\":\"fold_layer_scale\",\"before\":2,\"after\":2,\"changed\":0},"
                                 "{\"name\":\"fuse_gelu\",\"before\":2,\"after\":2,\"changed\":0},"
                                 "{\"name\":\"fuse_activation\",\"before\":2,\"after\":1,\"changed\":1},"
                                 "{\"name\":\"fuse_flatten_gemm\",\"before\":1,\"after\":1,\"changed\":0},"
                                 "{\"name\":\"fuse_layernorm\",\"before\":1,\"after\":1,\"changed\":0},"
                                 "{\"name\":\"mark_exact_rounding\",\"before\":1,\"after\":1,\"changed\":0},"
                                 "{\"name\":\"concat_alias\",\"before\":1,\"after\":1,\"changed\":0},"
                                 "{\"name\":\"remove_dead\",\"before\":1,\"after\":1,\"changed\":"));
    text[0] = 0;
    assert_int_equal(engine_model_dump(m, NULL, 0, dump_write, text), ENGINE_OK);
    assert_non_null(strstr(text, "fold_batchnorm"));
    assert_non_null(strstr(text, "  fused=Relu")); /* the epilogue is shown on its node */
    text[0] = 0;
    assert_int_equal(engine_model_dump(m, NULL, 1, dump_write, text), ENGINE_OK);
    assert_non_null(strstr(text, "\"fused\":\"Relu\""));
    engine_model_free(m);
    engine_context_destroy(ctx);
}


/* ---- helpers for the fusion tests ---- */

static engine_value *cscalar(eng_graph *g, const char *name, float v) {
    engine_value *c = value(g, name);
    int64_t one = 1;
    assert_int_equal(eng_value_set_shape(g, c, ENGINE_DTYPE_F32, 0, &one), ENGINE_OK);
    float *d = eng_alloc(g->ctx, sizeof *d);
    assert_non_null(d);
    *d = v;
    eng_value_set_data(g, c, d);
    return c;
}

/* y = x * 0.5 * (1 + erf(x / sqrt(2))), as torch 1.13 exports GELU (the
 * nodes gdiv, gerf, gadd, gm1, gm2; constants sqrt2, one, half). */
static void erf_gelu(eng_graph *g, const char *x, const char *y) {
    char ins[64];
    cscalar(g, "sqrt2", 1.41421356f);
    cscalar(g, "one", 1.0f);
    cscalar(g, "half", 0.5f);
    snprintf(ins, sizeof ins, "%s,sqrt2", x);
    node(g, "Div", "gdiv", ins, "gd");
    node(g, "Erf", "gerf", "gd", "ge");
    node(g, "Add", "gadd", "ge,one", "ga");
    snprintf(ins, sizeof ins, "%s,ga", x);
    node(g, "Mul", "gm1", ins, "gx");
    node(g, "Mul", "gm2", "gx,half", y);
}

static engine_node *find_node(const eng_graph *g, const char *name) {
    for (int k = 0; k < g->n_nodes; ++k)
        if (strcmp(g->nodes[k]->name, name) == 0) return g->nodes[k];
    return NULL;
}

static const engine_epilogue *epi(const engine_node *n) {
    assert_non_null(n->params);
    if (n->op == ENGINE_OP_Gemm) return &((const engine_gemm_params *)n->params)->epilogue;
    return &((const engine_conv_params *)n->params)->epilogue;
}

/* ---- fuse_activation ---- */

/* x[1,3,6,6] -> Conv(pads 1, bias) -> t -> <kind> -> y; `want` is the
 * activation expected in the epilogue (ENGINE_ACT_NONE: no fusion). */
static void act_case(const char *kind, engine_act want) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 3, 6, 6}, wd[4] = {4, 3, 3, 3}, bd[1] = {4}, pads[4] = {1, 1, 1, 1};
    input(g, "x", 4, xd);
    cfloat(g, "w", 4, wd, -1, 1);
    cfloat(g, "b", 1, bd, -1, 1);
    engine_node *c = node(g, "Conv", "conv", "x,w,b", "t");
    attr_ints(g, c, "pads", 4, pads);
    int outputs_t = 0;
    if (strcmp(kind, "Clip6") == 0) {
        cscalar(g, "lo", 0.0f);
        cscalar(g, "hi", 0.3f); /* low enough that the upper bound bites */
        node(g, "Clip", "act", "t,lo,hi", "y");
    } else if (strcmp(kind, "LeakyRelu") == 0) {
        attr_float(g, node(g, "LeakyRelu", "act", "t", "y"), "alpha", 0.2f);
    } else if (strcmp(kind, "HardSigmoid") == 0) {
        engine_node *h = node(g, "HardSigmoid", "act", "t", "y");
        attr_float(g, h, "alpha", 0.3f);
        attr_float(g, h, "beta", 0.4f);
    } else if (strcmp(kind, "SiLU") == 0) {
        node(g, "Sigmoid", "sig", "t", "s");
        node(g, "Mul", "mul", "t,s", "y");
    } else if (strcmp(kind, "SiLU_swapped") == 0) {
        node(g, "Sigmoid", "sig", "t", "s");
        node(g, "Mul", "mul", "s,t", "y");
    } else if (strcmp(kind, "MishChain") == 0) {
        node(g, "Softplus", "sp", "t", "s");
        node(g, "Tanh", "th", "s", "u");
        node(g, "Mul", "mul", "t,u", "y");
    } else if (strcmp(kind, "HardSwishChain") == 0) {
        engine_node *h = node(g, "HardSigmoid", "hs", "t", "s");
        attr_float(g, h, "alpha", 1.0f / 6.0f);
        attr_float(g, h, "beta", 0.5f);
        node(g, "Mul", "mul", "t,s", "y");
    } else if (strcmp(kind, "HardSigmoidChainOther") == 0) { /* not torch's constants: no HardSwish */
        engine_node *h = node(g, "HardSigmoid", "hs", "t", "s");
        attr_float(g, h, "alpha", 0.25f);
        node(g, "Mul", "mul", "t,s", "y");
    } else if (strcmp(kind, "SiLU_other_input") == 0) { /* Mul(t, Sigmoid(x')) */
        node(g, "Relu", "r", "x", "x2");
        cfloat(g, "w2", 4, wd, -1, 1);
        engine_node *c2 = node(g, "Conv", "conv2", "x2,w2", "t2");
        attr_ints(g, c2, "pads", 4, pads);
        node(g, "Sigmoid", "sig", "t2", "s");
        node(g, "Mul", "mul", "t,s", "y");
    } else if (strcmp(kind, "SiLU_shared_sigmoid") == 0) { /* the sigmoid is also an output */
        node(g, "Sigmoid", "sig", "t", "s");
        node(g, "Mul", "mul", "t,s", "y");
        output(g, "s");
    } else if (strcmp(kind, "ReluReadElsewhere") == 0) {
        node(g, "Relu", "act", "t", "r");
        node(g, "Sigmoid", "sig", "t", "s");
        node(g, "Add", "add", "r,s", "y");
    } else if (strcmp(kind, "ReluGraphOutput") == 0) {
        node(g, "Relu", "act", "t", "y");
        outputs_t = 1;
    } else if (strcmp(kind, "ReluThenClip") == 0) { /* F.relu6's export: one Clip */
        cscalar(g, "lo", -0.5f);
        cscalar(g, "hi", 0.3f);
        node(g, "Relu", "act", "t", "r");
        node(g, "Clip", "clip", "r,lo,hi", "y");
    } else if (strcmp(kind, "ClipThenRelu") == 0) {
        cscalar(g, "lo", -0.5f);
        cscalar(g, "hi", 0.3f);
        node(g, "Clip", "clip", "t,lo,hi", "r");
        node(g, "Relu", "act", "r", "y");
    } else if (strcmp(kind, "ReluThenNegClip") == 0) { /* max below 0: not one clamp */
        cscalar(g, "lo", -0.5f);
        cscalar(g, "hi", -0.1f);
        node(g, "Relu", "act", "t", "r");
        node(g, "Clip", "clip", "r,lo,hi", "y");
    } else if (strcmp(kind, "ReluThenSigmoid") == 0) { /* only the first fuses */
        node(g, "Relu", "act", "t", "r");
        node(g, "Sigmoid", "sig", "r", "y");
    } else {
        node(g, kind, "act", "t", "y");
    }
    output(g, "y");
    if (outputs_t) output(g, "t");
    finish(g);
    int nodes = g->n_nodes;
    snapshot before = run_all(g);
    int changed = run_pass(g, eng_pass_fuse_activation);
    engine_node *conv = find_node(g, "conv");
    assert_non_null(conv);
    if (want == ENGINE_ACT_NONE) {
        /* SiLU_other_input: conv2 -> Sigmoid does fuse (a plain Sigmoid) */
        int other = strcmp(kind, "SiLU_other_input") == 0;
        if (changed != other) fail_msg("%s: fused but should not", kind);
        assert_int_equal(g->n_nodes, nodes - other);
        assert_int_equal(count_op(g, ENGINE_OP_Mul), strstr(kind, "SiLU") || strstr(kind, "Chain") ? 1 : 0);
        assert_int_equal(epi(conv)->act, ENGINE_ACT_NONE);
    } else {
        int composed = strcmp(kind, "ReluThenClip") == 0 || strcmp(kind, "ClipThenRelu") == 0;
        if (changed != 1 + composed) fail_msg("%s: not fused", kind);
        assert_int_equal(epi(conv)->act, want);
        if (composed) {
            assert_float_equal(epi(conv)->alpha, 0.0f, 0.0f);
            assert_float_equal(epi(conv)->beta, 0.3f, 0.0f);
        }
        if (strcmp(kind, "ReluThenSigmoid") == 0 || strcmp(kind, "ReluThenNegClip") == 0) {
            assert_int_equal(g->n_nodes, 2);
        } else {
            assert_int_equal(g->n_nodes, 1); /* the pattern's nodes are gone */
            assert_ptr_equal(eng_graph_find(g, "y")->producer, conv);
        }
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* ---- fuse_gelu ---- */

/* x[2,5,7] -> the exact GELU written out in one of the exporters' orders
 * -> y; `fuses`: whether it must become one Gelu. */
static void gelu_case(const char *form, int fuses) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[3] = {2, 5, 7};
    input(g, "x", 3, xd);
    cscalar(g, "one", 1.0f);
    cscalar(g, "half", 0.5f);
    if (strcmp(form, "mul_rsqrt2") == 0) {
        cscalar(g, "c", 0.70710678f);
        node(g, "Mul", "scale", "c,x", "d");
    } else {
        cscalar(g, "c", strcmp(form, "wrong_constant") == 0 ? 1.5f : 1.41421356f);
        node(g, "Div", "scale", "x,c", "d");
    }
    node(g, "Erf", "erf", "d", "e");
    node(g, "Add", "add", strcmp(form, "mul_rsqrt2") == 0 ? "one,e" : "e,one", "a");
    if (strcmp(form, "half_first") == 0) {
        node(g, "Mul", "h", "x,half", "hx");
        node(g, "Mul", "m", "a,hx", "y");
    } else {
        node(g, "Mul", "m1", strcmp(form, "mul_rsqrt2") == 0 ? "a,x" : "x,a", "xa");
        node(g, "Mul", "m", strcmp(form, "mul_rsqrt2") == 0 ? "half,xa" : "xa,half", "y");
    }
    output(g, "y");
    if (strcmp(form, "erf_is_output") == 0) output(g, "e");
    finish(g);
    int nodes = g->n_nodes;
    snapshot before = run_all(g);
    int changed = run_pass(g, eng_pass_fuse_gelu);
    if (changed != fuses) fail_msg("%s: %d rewrites, expected %d", form, changed, fuses);
    if (fuses) {
        assert_int_equal(g->n_nodes, 1);
        assert_int_equal(g->nodes[0]->op, ENGINE_OP_Gelu);
        assert_ptr_equal(g->nodes[0]->inputs[0], eng_graph_find(g, "x"));
        assert_ptr_equal(eng_graph_find(g, "y")->producer, g->nodes[0]);
    } else {
        assert_int_equal(g->n_nodes, nodes);
        assert_int_equal(count_op(g, ENGINE_OP_Gelu), 0);
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_fuse_gelu(void **state) {
    (void)state;
    gelu_case("torch", 1);
    gelu_case("mul_rsqrt2", 1);
    gelu_case("half_first", 1);
    gelu_case("wrong_constant", 0);
    gelu_case("erf_is_output", 0);
}

/* x[6,4] -> Gemm(bias) -> t[6,8] -> Reshape [2,3,8] -> r -> activation ->
 * y: the activation becomes the Gemm's epilogue through the Reshape, which
 * then writes y (how 0). gelu: the activation is the exact GELU written
 * out (fuse_gelu first makes it a Gelu), else a Relu. how 1: r is also a
 * graph output; how 2: r has a second reader: no fusion. */
static void reshape_act_case(int gelu, int how) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[2] = {6, 4}, wd[2] = {4, 8}, bd[1] = {8}, shape[3] = {2, 3, 8};
    input(g, "x", 2, xd);
    cfloat(g, "w", 2, wd, -1, 1);
    cfloat(g, "b", 1, bd, -1, 1);
    cints(g, "shape", 3, shape);
    node(g, "Gemm", "fc", "x,w,b", "t");
    node(g, "Reshape", "rs", "t,shape", "r");
    if (gelu) {
        erf_gelu(g, "r", "y");
    } else {
        node(g, "Relu", "act", "r", "y");
    }
    output(g, "y");
    if (how == 1) output(g, "r");
    if (how == 2) {
        node(g, "Sigmoid", "other", "r", "z");
        output(g, "z");
    }
    finish(g);
    snapshot before = run_all(g);
    if (gelu) assert_int_equal(run_pass(g, eng_pass_fuse_gelu), 1);
    const int nodes = g->n_nodes;
    const int changed = run_pass(g, eng_pass_fuse_activation);
    engine_node *fc = find_node(g, "fc");
    assert_non_null(fc);
    if (how == 0) {
        assert_int_equal(changed, 1);
        assert_int_equal(g->n_nodes, 2);
        assert_int_equal(epi(fc)->act, gelu ? ENGINE_ACT_GELU : ENGINE_ACT_RELU);
        assert_float_equal(epi(fc)->alpha, 0.0f, 0.0f); /* the erf form */
        assert_ptr_equal(eng_graph_find(g, "y")->producer, find_node(g, "rs"));
    } else {
        assert_int_equal(changed, 0);
        assert_int_equal(g->n_nodes, nodes);
        assert_int_equal(epi(fc)->act, ENGINE_ACT_NONE);
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_fuse_act_through_reshape(void **state) {
    (void)state;
    for (int gelu = 0; gelu < 2; ++gelu)
        for (int how = 0; how < 3; ++how) reshape_act_case(gelu, how);
}

/* ---- mark_exact_rounding ---- */

/* conv_dq reads a DequantizeLinear output, conv_q is read by a
 * QuantizeLinear, conv_f is neither: the first two are marked
 * (engine.exact_rounding and the param), the third is not, and nothing
 * computes differently on ref. */
static void test_mark_exact_rounding(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {2, 2, 3, 3};
    input(g, "x", 4, xd);
    cfloat(g, "w", 4, wd, -1, 1);
    cscalar(g, "s", 0.05f);
    node(g, "QuantizeLinear", "q0", "x,s", "xq");
    node(g, "DequantizeLinear", "dq0", "xq,s", "xd");
    node(g, "Conv", "conv_dq", "xd,w", "a");
    node(g, "Relu", "relu", "a", "y1");
    node(g, "Conv", "conv_q", "x,w", "b");
    node(g, "QuantizeLinear", "q1", "b,s", "bq");
    node(g, "DequantizeLinear", "dq1", "bq,s", "y2");
    node(g, "Conv", "conv_f", "x,w", "y3");
    output(g, "y1");
    output(g, "y2");
    output(g, "y3");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_mark_exact_rounding), 2);
    const char *names[3] = {"conv_dq", "conv_q", "conv_f"};
    for (int k = 0; k < 3; ++k) {
        const engine_node *n = NULL;
        for (int i = 0; i < g->n_nodes; ++i)
            if (strcmp(g->nodes[i]->name, names[k]) == 0) n = g->nodes[i];
        assert_non_null(n);
        const engine_conv_params *p = n->params;
        assert_int_equal(p->exact_rounding, k < 2);
        assert_int_equal(engine_node_attr(n, "engine.exact_rounding") != NULL, k < 2);
    }
    /* a second run changes nothing */
    assert_int_equal(run_pass(g, eng_pass_mark_exact_rounding), 0);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* ---- fuse_matmul_bias ---- */

/* x [shape] -> MatMul(W [K, N]) -> Add(bias) -> y; `fuses`: whether it
 * must become a Gemm (and a Reshape for rank > 2). */
static void linear_case(const char *form, int fuses) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int rank3 = strcmp(form, "rank2") != 0;
    int64_t xd[3] = {2, 5, 6}, x2[2] = {5, 6}, wd[2] = {6, 4}, bd[2] = {1, 4}, b3[3] = {1, 1, 4};
    input(g, "x", rank3 ? 3 : 2, rank3 ? xd : x2);
    cfloat(g, "w", 2, wd, -1, 1);
    if (strcmp(form, "bias_rank3") == 0) cfloat(g, "b", 3, b3, -1, 1);
    else if (strcmp(form, "bias_row") == 0) cfloat(g, "b", 2, bd, -1, 1);
    else cfloat(g, "b", 1, &bd[1], -1, 1);
    if (strcmp(form, "weight_computed") == 0) {
        input(g, "wi", 2, wd); /* a weight given at run time */
        node(g, "MatMul", "mm", "x,wi", "t");
    } else {
        node(g, "MatMul", "mm", "x,w", "t");
    }
    node(g, "Add", "add", strcmp(form, "bias_first") == 0 ? "b,t" : "t,b", "y");
    output(g, "y");
    if (strcmp(form, "t_is_output") == 0) output(g, "t");
    finish(g);
    snapshot before = run_all(g);
    int changed = run_pass(g, eng_pass_fuse_matmul_bias);
    if (changed != fuses) fail_msg("%s: %d rewrites, expected %d", form, changed, fuses);
    if (fuses) {
        assert_int_equal(count_op(g, ENGINE_OP_MatMul), 0);
        assert_int_equal(count_op(g, ENGINE_OP_Add), 0);
        assert_int_equal(count_op(g, ENGINE_OP_Gemm), 1);
        assert_int_equal(count_op(g, ENGINE_OP_Reshape), rank3);
        assert_true(eng_graph_find(g, "y")->producer->op == (rank3 ? ENGINE_OP_Reshape : ENGINE_OP_Gemm));
    } else {
        assert_int_equal(count_op(g, ENGINE_OP_Gemm), 0);
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_fuse_matmul_bias(void **state) {
    (void)state;
    linear_case("rank3", 1);
    linear_case("rank2", 1);
    linear_case("bias_first", 1);
    linear_case("bias_row", 1);
    linear_case("bias_rank3", 0);   /* Gemm's C takes rank <= 2 */
    linear_case("weight_computed", 0);
    linear_case("t_is_output", 0);
}

/* ---- fold_layer_scale ---- */

/* ConvNeXt's block end: x [2,3,4,6] channels last -> MatMul(W [6,5]) ->
 * Add(bias) -> Transpose to NCHW -> Mul(gamma [5,1,1]) -> y, after
 * fuse_matmul_bias; `folds`: whether the Mul must go into the Gemm.
 * "rank2": x [7,6], Transpose (1,0), gamma [5,1] (no Reshape between). */
static void layer_scale_case(const char *form, int folds) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    const int rank2 = strcmp(form, "rank2") == 0;
    int64_t xd[4] = {2, 3, 4, 6}, x2[2] = {7, 6}, wd[2] = {6, 5}, bd[1] = {5}, gd[3] = {5, 1, 1}, g2[2] = {5, 1};
    int64_t gw[1] = {4}, perm[4] = {0, 3, 1, 2}, perm2[2] = {1, 0};
    input(g, "x", rank2 ? 2 : 4, rank2 ? x2 : xd);
    cfloat(g, "w", 2, wd, -1, 1);
    cfloat(g, "b", 1, bd, -1, 1);
    if (strcmp(form, "wrong_axis") == 0) cfloat(g, "gamma", 1, gw, 0.5f, 1.5f); /* along W, not C */
    else cfloat(g, "gamma", rank2 ? 2 : 3, rank2 ? g2 : gd, 0.5f, 1.5f);
    node(g, "MatMul", "mm", "x,w", "t");
    node(g, "Add", "add", "t,b", "u");
    const char *tin = "u";
    if (strcmp(form, "relu_between") == 0) {
        node(g, "Relu", "relu", "u", "ur");
        tin = "ur";
    }
    char ins[16];
    snprintf(ins, sizeof ins, "%s", tin);
    attr_ints(g, node(g, "Transpose", "tr", ins, "p"), "perm", rank2 ? 2 : 4, rank2 ? perm2 : perm);
    node(g, "Mul", "mul", strcmp(form, "gamma_first") == 0 ? "gamma,p" : "p,gamma", "y");
    if (strcmp(form, "shared_weight") == 0) { /* W read by another layer too */
        node(g, "MatMul", "mm2", "x,w", "y2");
        output(g, "y2");
    }
    output(g, "y");
    if (strcmp(form, "p_is_output") == 0) output(g, "p");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fuse_matmul_bias), 1);
    int changed = run_pass(g, eng_pass_fold_layer_scale);
    if (changed != folds) fail_msg("%s: %d rewrites, expected %d", form, changed, folds);
    assert_int_equal(count_op(g, ENGINE_OP_Mul), !folds);
    if (folds) assert_int_equal(eng_graph_find(g, "y")->producer->op, ENGINE_OP_Transpose);
    if (folds) { /* scaled where it lies: no copy of the weights */
        const engine_node *gm = NULL;
        for (int k = 0; k < g->n_nodes; ++k)
            if (g->nodes[k]->op == ENGINE_OP_Gemm) gm = g->nodes[k];
        assert_non_null(gm);
        assert_ptr_equal(gm->inputs[1], eng_graph_find(g, "w"));
        assert_ptr_equal(gm->inputs[2], eng_graph_find(g, "b"));
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_fold_layer_scale(void **state) {
    (void)state;
    layer_scale_case("convnext", 1);
    layer_scale_case("gamma_first", 1);
    layer_scale_case("rank2", 1);
    layer_scale_case("shared_weight", 0); /* W read by another layer: folding would copy it */
    layer_scale_case("wrong_axis", 0);   /* gamma scales W positions, not the Gemm's columns */
    layer_scale_case("relu_between", 0); /* relu(y) * g is not relu(y * g) for negative g */
    layer_scale_case("p_is_output", 0);  /* the unscaled map is read too */
}

/* ---- fuse_layernorm ---- */

/* x [2,5,6] -> layer normalisation written out over `axes` -> y. */
static void layernorm_case(const char *form, int fuses) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[3] = {2, 5, 6}, cd[1] = {6}, c2[2] = {5, 6};
    int two_axes = strcmp(form, "two_axes") == 0;
    int64_t axes[2] = {two_axes ? -2 : -1, -1};
    if (strcmp(form, "not_trailing") == 0) axes[0] = 1;
    input(g, "x", 3, xd);
    cscalar(g, "two", 2.0f);
    cscalar(g, "eps", 1e-6f);
    cfloat(g, "gamma", two_axes ? 2 : 1, two_axes ? c2 : cd, 0.5f, 1.5f);
    cfloat(g, "beta", two_axes ? 2 : 1, two_axes ? c2 : cd, -1, 1);
    attr_ints(g, node(g, "ReduceMean", "m1", "x", "m"), "axes", two_axes ? 2 : 1, axes);
    node(g, "Sub", "sub", "x,m", "d");
    if (strcmp(form, "mul_square") == 0) node(g, "Mul", "sq", "d,d", "p");
    else node(g, "Pow", "sq", "d,two", "p");
    attr_ints(g, node(g, "ReduceMean", "m2", "p", "v"), "axes", two_axes ? 2 : 1, axes);
    node(g, "Add", "addeps", strcmp(form, "eps_first") == 0 ? "eps,v" : "v,eps", "ve");
    node(g, "Sqrt", "sqrt", "ve", "s");
    if (strcmp(form, "no_affine") == 0) {
        node(g, "Div", "div", "d,s", "y");
    } else {
        node(g, "Div", "div", "d,s", "n");
        node(g, "Mul", "mul", "n,gamma", "ng");
        node(g, "Add", "add", "ng,beta", "y");
    }
    output(g, "y");
    if (strcmp(form, "d_is_output") == 0) output(g, "d");
    finish(g);
    snapshot before = run_all(g);
    int changed = run_pass(g, eng_pass_fuse_layernorm);
    if (changed != fuses) fail_msg("%s: %d rewrites, expected %d", form, changed, fuses);
    if (fuses) {
        assert_int_equal(g->n_nodes, 1);
        assert_int_equal(g->nodes[0]->op, ENGINE_OP_LayerNormalization);
        assert_ptr_equal(eng_graph_find(g, "y")->producer, g->nodes[0]);
        assert_int_equal(((const engine_scalar_params *)g->nodes[0]->params)->size, two_axes ? 1 : 2);
    } else {
        assert_int_equal(count_op(g, ENGINE_OP_LayerNormalization), 0);
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_fuse_layernorm(void **state) {
    (void)state;
    layernorm_case("torch", 1);
    layernorm_case("mul_square", 1);
    layernorm_case("eps_first", 1);
    layernorm_case("no_affine", 1);
    layernorm_case("two_axes", 1);
    layernorm_case("not_trailing", 0);
    layernorm_case("d_is_output", 0);
}

static void test_act_fires(void **state) {
    (void)state;
    act_case("Relu", ENGINE_ACT_RELU);
    act_case("Clip6", ENGINE_ACT_CLIP);
    act_case("LeakyRelu", ENGINE_ACT_LEAKY_RELU);
    act_case("Sigmoid", ENGINE_ACT_SIGMOID);
    act_case("HardSigmoid", ENGINE_ACT_HARD_SIGMOID);
    act_case("HardSwish", ENGINE_ACT_HARD_SWISH);
    act_case("Tanh", ENGINE_ACT_TANH);
    act_case("Mish", ENGINE_ACT_MISH);
    act_case("SiLU", ENGINE_ACT_SILU);
    act_case("SiLU_swapped", ENGINE_ACT_SILU);
    act_case("MishChain", ENGINE_ACT_MISH);
    act_case("HardSwishChain", ENGINE_ACT_HARD_SWISH);
    act_case("ReluThenSigmoid", ENGINE_ACT_RELU);
    act_case("ReluThenClip", ENGINE_ACT_CLIP);
    act_case("ClipThenRelu", ENGINE_ACT_CLIP);
    act_case("ReluThenNegClip", ENGINE_ACT_RELU);
}

static void test_act_near_misses(void **state) {
    (void)state;
    act_case("HardSigmoidChainOther", ENGINE_ACT_NONE);
    act_case("SiLU_other_input", ENGINE_ACT_NONE);
    act_case("SiLU_shared_sigmoid", ENGINE_ACT_NONE);
    act_case("ReluReadElsewhere", ENGINE_ACT_NONE);
    act_case("ReluGraphOutput", ENGINE_ACT_NONE);
    act_case("Softplus", ENGINE_ACT_NONE); /* not an epilogue activation */
}

/* Gemm + Relu and ConvTranspose + Sigmoid; a Conv that already carries an
 * activation takes no second one. */
static void test_act_gemm_convtranspose(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[2] = {3, 5}, wd[2] = {6, 5}, cd[1] = {6};
    input(g, "x", 2, xd);
    cfloat(g, "w", 2, wd, -1, 1);
    cfloat(g, "c", 1, cd, -1, 1);
    attr_int(g, node(g, "Gemm", "fc", "x,w,c", "t"), "transB", 1);
    node(g, "Relu", "relu", "t", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(epi(g->nodes[0])->act, ENGINE_ACT_RELU);
    expect_same(g, &before);
    free_graph(ctx, g);

    ctx = new_ctx();
    g = new_graph(ctx);
    int64_t xd2[4] = {1, 4, 3, 3}, wd2[4] = {4, 2, 3, 3}, strides[2] = {2, 2};
    input(g, "x", 4, xd2);
    cfloat(g, "w", 4, wd2, -1, 1);
    engine_node *d = node(g, "ConvTranspose", "deconv", "x,w", "t");
    attr_ints(g, d, "strides", 2, strides);
    node(g, "Sigmoid", "sig", "t", "y");
    output(g, "y");
    finish(g);
    before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(epi(g->nodes[0])->act, ENGINE_ACT_SIGMOID);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* ---- fuse_residual ---- */

/* x -> Relu -> a; a -> Conv c1 (3x3 pad 1) -> t; T = the other operand;
 * Add -> Relu -> y. which: 0 Add(t, T), 1 Add(T, t), 2 T computed after
 * the conv in the given order, 3 broadcasting T, 4 t read elsewhere,
 * 5 Add(t, t), 6 conv already has an activation (fused first). */
static void residual_case(int which, int with_bias) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {4, 4, 3, 3}, bd[1] = {4}, pads[4] = {1, 1, 1, 1};
    input(g, "x", 4, xd);
    cfloat(g, "w", 4, wd, -1, 1);
    if (with_bias) cfloat(g, "b", 1, bd, -1, 1);
    node(g, "Relu", "r0", "x", "a");
    if (which == 3) {
        int64_t td[4] = {1, 4, 1, 1};
        cfloat(g, "T", 4, td, -1, 1);
    } else if (which != 2) {
        node(g, "Sigmoid", "other", "x", "T");
    }
    engine_node *c = node(g, "Conv", "conv", with_bias ? "a,w,b" : "a,w", "t");
    attr_ints(g, c, "pads", 4, pads);
    if (which == 2) node(g, "Sigmoid", "other", "x", "T");
    const char *tv = "t";
    if (which == 6) {
        node(g, "Relu", "pre", "t", "tr");
        tv = "tr";
    }
    char ins[32];
    snprintf(ins, sizeof ins, which == 1 ? "T,%s" : which == 5 ? "%s,%s" : "%s,T", tv, tv);
    node(g, "Add", "add", ins, "s");
    if (which == 4) {
        node(g, "Tanh", "side", "t", "z");
        output(g, "z");
    }
    node(g, "Relu", "relu", "s", "y");
    output(g, "y");
    finish(g);
    int nodes = g->n_nodes;
    snapshot before = run_all(g);
    if (which == 6) assert_int_equal(run_pass(g, eng_pass_fuse_activation), 1);
    int changed = run_pass(g, eng_pass_fuse_residual);
    engine_node *conv = find_node(g, "conv");
    assert_non_null(conv);
    if (which <= 2) {
        assert_int_equal(changed, 1);
        assert_int_equal(conv->n_inputs, 4);
        assert_ptr_equal(conv->inputs[3], eng_graph_find(g, "T"));
        if (!with_bias) assert_null(conv->inputs[2]);
        assert_true(epi(conv)->sum);
        assert_int_equal(count_op(g, ENGINE_OP_Add), 0);
        /* the Relu after the Add fuses after the sum: one node */
        assert_int_equal(run_pass(g, eng_pass_fuse_activation), 1);
        assert_int_equal(epi(conv)->act, ENGINE_ACT_RELU);
        assert_ptr_equal(eng_graph_find(g, "y")->producer, conv);
        assert_int_equal(g->n_nodes, nodes - 2);
        /* T's producer must precede the conv */
        assert_true(eng_graph_find(g, "T")->producer->index < conv->index);
    } else {
        assert_int_equal(changed, 0);
        assert_int_equal(count_op(g, ENGINE_OP_Add), 1);
    }
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_residual_fires(void **state) {
    (void)state;
    for (int which = 0; which <= 2; ++which) {
        residual_case(which, 1);
        residual_case(which, 0);
    }
}

static void test_residual_near_misses(void **state) {
    (void)state;
    for (int which = 3; which <= 6; ++which) residual_case(which, 1);
}

/* ResNet's downsample block: Add(conv2(..), conv_ds(x)) then Relu, through
 * the whole pipeline with BNs: one conv takes the other as its sum. */
static void test_residual_resnet_block(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 6, 6}, w1d[4] = {8, 4, 3, 3}, w2d[4] = {8, 8, 3, 3}, wdd[4] = {8, 4, 1, 1};
    int64_t pads[4] = {1, 1, 1, 1}, strides[2] = {2, 2};
    input(g, "x", 4, xd);
    cfloat(g, "w1", 4, w1d, -1, 1);
    cfloat(g, "w2", 4, w2d, -1, 1);
    cfloat(g, "wd", 4, wdd, -1, 1);
    engine_node *c1 = node(g, "Conv", "c1", "x,w1", "t1");
    attr_ints(g, c1, "pads", 4, pads);
    attr_ints(g, c1, "strides", 2, strides);
    batchnorm(g, "bn1", "t1", "u1", 8);
    node(g, "Relu", "r1", "u1", "a1");
    engine_node *c2 = node(g, "Conv", "c2", "a1,w2", "t2");
    attr_ints(g, c2, "pads", 4, pads);
    batchnorm(g, "bn2", "t2", "u2", 8);
    engine_node *cd = node(g, "Conv", "cd", "x,wd", "td");
    attr_ints(g, cd, "strides", 2, strides);
    batchnorm(g, "bnd", "td", "ud", 8);
    node(g, "Add", "add", "u2,ud", "s");
    node(g, "Relu", "relu", "s", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 3); /* c1+relu, cd, c2+sum+relu */
    assert_int_equal(count_op(g, ENGINE_OP_Conv), 3);
    engine_node *last = eng_graph_find(g, "y")->producer;
    assert_true(epi(last)->sum);
    assert_int_equal(epi(last)->act, ENGINE_ACT_RELU);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* ---- batchnorm_to_conv ---- */

/* DenseNet: Concat -> BN -> Relu -> Conv1x1: the BN becomes a depthwise
 * conv with the Relu fused; a BN on a graph input; a rank-2 BN stays. */
static void test_bn_to_conv(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 3, 4, 4}, wd[4] = {5, 6, 1, 1};
    input(g, "x", 4, xd);
    input(g, "z", 4, xd);
    cfloat(g, "w", 4, wd, -1, 1);
    attr_int(g, node(g, "Concat", "cat", "x,z", "c"), "axis", 1);
    batchnorm(g, "bn", "c", "u", 6);
    node(g, "Relu", "relu", "u", "v");
    node(g, "Conv", "conv", "v,w", "y");
    batchnorm(g, "bn_in", "x", "y2", 3);
    output(g, "y");
    output(g, "y2");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_batchnorm_to_conv), 2);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 0);
    engine_node *bn = find_node(g, "bn");
    assert_non_null(bn);
    assert_int_equal(bn->op, ENGINE_OP_Conv);
    assert_int_equal(((const engine_conv_params *)bn->params)->group, 6);
    assert_int_equal(bn->inputs[1]->rank, 4);
    optimise(g);
    assert_int_equal(g->n_nodes, 4); /* Concat, dw conv + Relu, conv, dw conv */
    assert_int_equal(epi(find_node(g, "bn"))->act, ENGINE_ACT_RELU);
    expect_same(g, &before);
    free_graph(ctx, g);

    ctx = new_ctx();
    g = new_graph(ctx);
    int64_t x2[2] = {3, 4};
    input(g, "x", 2, x2);
    batchnorm(g, "bn", "x", "y", 4);
    output(g, "y");
    finish(g);
    before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_batchnorm_to_conv), 0);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 1);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* ---- merge_branches (RepVGG) ---- */

/* A RepVGG train-time block on x[1,C,7,7]: Conv3x3(pad 1)+BN,
 * Conv1x1(pad 0)+BN [, BN(x) when identity], Add, Relu. g3/g1: the
 * branches' groups. Through the whole pipeline it must become one Conv
 * (3x3, bias, Relu fused). */
static void repvgg_block(int64_t c, int64_t m, int stride, int64_t g3, int64_t g1, int identity) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, c, 7, 7}, w3d[4] = {m, c / g3, 3, 3}, w1d[4] = {m, c / g1, 1, 1};
    int64_t pads[4] = {1, 1, 1, 1}, strides[2] = {stride, stride};
    input(g, "x", 4, xd);
    node(g, "Relu", "pre", "x", "a"); /* x is an activation, not a graph input */
    cfloat(g, "w3", 4, w3d, -1, 1);
    cfloat(g, "w1", 4, w1d, -1, 1);
    engine_node *c3 = node(g, "Conv", "c3", "a,w3", "t3");
    attr_ints(g, c3, "pads", 4, pads);
    attr_ints(g, c3, "strides", 2, strides);
    attr_int(g, c3, "group", g3);
    batchnorm(g, "bn3", "t3", "u3", m);
    engine_node *c1 = node(g, "Conv", "c1", "a,w1", "t1");
    attr_ints(g, c1, "strides", 2, strides);
    attr_int(g, c1, "group", g1);
    batchnorm(g, "bn1", "t1", "u1", m);
    node(g, "Add", "add1", "u3,u1", "s1");
    const char *sum = "s1";
    if (identity) {
        batchnorm(g, "bnid", "a", "uid", c);
        node(g, "Add", "add2", "s1,uid", "s2");
        sum = "s2";
    }
    node(g, "Relu", "relu", sum, "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    assert_int_equal(count_op(g, ENGINE_OP_Conv), 1);
    assert_int_equal(count_op(g, ENGINE_OP_Add), 0);
    assert_int_equal(g->n_nodes, 2); /* pre-Relu, Conv */
    engine_node *conv = eng_graph_find(g, "y")->producer;
    const engine_conv_params *cp = conv->params;
    assert_int_equal(cp->kernel[0], 3);
    assert_int_equal(cp->kernel[1], 3);
    assert_int_equal(cp->group, g3 < g1 ? g3 : g1);
    assert_int_equal(cp->epilogue.act, ENGINE_ACT_RELU);
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_repvgg_merge(void **state) {
    (void)state;
    repvgg_block(4, 4, 1, 1, 1, 1); /* stride 1 with identity */
    repvgg_block(4, 8, 2, 1, 1, 0); /* stride 2: no identity */
    repvgg_block(4, 8, 2, 2, 2, 0); /* groups 2 */
    repvgg_block(8, 8, 1, 4, 4, 1); /* groups 4 with identity */
    repvgg_block(8, 8, 1, 2, 4, 1); /* 1x1 finer grouped than the 3x3 */
}

/* Near misses: branches over different inputs; a branch read elsewhere;
 * dilated 3x3; run-time weights; groups that do not nest (2 and 3 over 6
 * channels). Nothing merges; the numbers stay. */
static void repvgg_near_miss(int which) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t c = 6;
    int64_t xd[4] = {1, c, 7, 7}, w3d[4] = {c, c, 3, 3}, w1d[4] = {c, c, 1, 1}, pads[4] = {1, 1, 1, 1};
    int64_t dil[2] = {2, 2}, pads2[4] = {2, 2, 2, 2};
    input(g, "x", 4, xd);
    node(g, "Relu", "pre", "x", "a");
    node(g, "Sigmoid", "pre2", "x", "b");
    if (which == 4) {
        w3d[1] = c / 2;
        w1d[1] = c / 3;
    }
    if (which == 3)
        input(g, "w3", 4, w3d);
    else
        cfloat(g, "w3", 4, w3d, -1, 1);
    cfloat(g, "w1", 4, w1d, -1, 1);
    engine_node *c3 = node(g, "Conv", "c3", "a,w3", "t3");
    attr_ints(g, c3, "pads", 4, which == 2 ? pads2 : pads);
    if (which == 2) attr_ints(g, c3, "dilations", 2, dil);
    if (which == 4) attr_int(g, c3, "group", 2);
    engine_node *c1 = node(g, "Conv", "c1", which == 0 ? "b,w1" : "a,w1", "t1");
    if (which == 4) attr_int(g, c1, "group", 3);
    node(g, "Add", "add", "t3,t1", "y");
    output(g, "y");
    if (which == 1) output(g, "t1");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_merge_branches), 0);
    assert_int_equal(count_op(g, ENGINE_OP_Add), 1);
    assert_int_equal(count_op(g, ENGINE_OP_Conv), 2);
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_repvgg_near_misses(void **state) {
    (void)state;
    for (int k = 0; k < 5; ++k) repvgg_near_miss(k);
}

/* ---- fold_pad ---- */

/* x -> Relu -> a -> Pad(pads, value, mode) -> p -> consumer -> y.
 * consumer: "Conv" (3x3, pads 1 of its own), "AvgInclude" (count_include_pad
 * 1, pads 1), "AvgPlain" (no pads), "AvgExclude" (pads 1, exclude: refused),
 * "MaxPool". */
static void pad_case(const char *consumer, float value, const char *mode, int channel_pad, int expect) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 3, 6, 5}, wd[4] = {4, 3, 3, 3}, own[4] = {1, 1, 1, 1}, k[2] = {3, 3};
    int64_t pp[8] = {0, channel_pad, 1, 2, 0, 0, 2, 1};
    input(g, "x", 4, xd);
    node(g, "Relu", "r", "x", "a");
    cints(g, "pads", 8, pp);
    cscalar(g, "val", value);
    engine_node *pad = node(g, "Pad", "pad", "a,pads,val", "p");
    if (mode) {
        engine_attr *at;
        assert_int_equal(eng_node_add_attr(g, pad, "mode", ENGINE_ATTR_STRING, &at), ENGINE_OK);
        at->s = eng_strdup(g->ctx, mode);
    }
    engine_node *c;
    if (strcmp(consumer, "Conv") == 0) {
        if (channel_pad) wd[1] = 3 + channel_pad;
        cfloat(g, "w", 4, wd, -1, 1);
        c = node(g, "Conv", "cons", "p,w", "y");
        attr_ints(g, c, "pads", 4, own);
    } else {
        c = node(g, strcmp(consumer, "MaxPool") == 0 ? "MaxPool" : "AveragePool", "cons", "p", "y");
        attr_ints(g, c, "kernel_shape", 2, k);
        if (strcmp(consumer, "AvgPlain") != 0) attr_ints(g, c, "pads", 4, own);
        if (strcmp(consumer, "AvgInclude") == 0) attr_int(g, c, "count_include_pad", 1);
    }
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fold_pad), expect);
    assert_int_equal(count_op(g, ENGINE_OP_Pad), !expect);
    if (expect) assert_ptr_equal(find_node(g, "cons")->inputs[0], eng_graph_find(g, "a"));
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_fold_pad(void **state) {
    (void)state;
    pad_case("Conv", 0.0f, NULL, 0, 1);
    pad_case("AvgInclude", 0.0f, NULL, 0, 1);
    pad_case("AvgPlain", 0.0f, NULL, 0, 1);
    pad_case("MaxPool", -INFINITY, NULL, 0, 1);
    /* near misses */
    pad_case("Conv", 0.5f, NULL, 0, 0);       /* non-zero pad value */
    pad_case("Conv", 0.0f, "reflect", 0, 0);  /* not constant mode */
    pad_case("Conv", 0.0f, NULL, 1, 0);       /* pads the channels */
    pad_case("AvgExclude", 0.0f, NULL, 0, 0); /* count_include_pad 0 with pads */
    pad_case("MaxPool", 0.0f, NULL, 0, 0);    /* zeros can win a max */
}

/* ---- every pass at once, and out of memory at each allocation ---- */

/* Pad -> Conv -> BN -> SiLU -> a; a RepVGG block on a with its identity
 * BN; a residual Conv -> BN -> Add(., a) -> Relu; a standalone BN on the
 * result: every pass fires once at least. */
static eng_graph *all_passes_graph(engine_context *ctx) {
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 5, 5}, w3[4] = {4, 4, 3, 3}, w1[4] = {4, 4, 1, 1}, pads[4] = {1, 1, 1, 1};
    int64_t pp[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    input(g, "x", 4, xd);
    cints(g, "pads", 8, pp);
    node(g, "Pad", "pad", "x,pads", "p");
    cfloat(g, "w0", 4, w3, -1, 1);
    node(g, "Conv", "c0", "p,w0", "t0");
    batchnorm(g, "bn0", "t0", "u0", 4);
    node(g, "Sigmoid", "sig", "u0", "s0");
    node(g, "Mul", "mul", "u0,s0", "a");
    cfloat(g, "w3", 4, w3, -1, 1);
    cfloat(g, "w1", 4, w1, -1, 1);
    attr_ints(g, node(g, "Conv", "c3", "a,w3", "t3"), "pads", 4, pads);
    batchnorm(g, "bn3", "t3", "u3", 4);
    node(g, "Conv", "c1", "a,w1", "t1");
    batchnorm(g, "bn1", "t1", "u1", 4);
    batchnorm(g, "bnid", "a", "uid", 4);
    node(g, "Add", "add1", "u3,u1", "s1");
    node(g, "Add", "add2", "s1,uid", "s2");
    node(g, "Relu", "r2", "s2", "r");
    cfloat(g, "wr", 4, w3, -1, 1);
    attr_ints(g, node(g, "Conv", "cr", "r,wr", "tr"), "pads", 4, pads);
    batchnorm(g, "bnr", "tr", "ur", 4);
    node(g, "Add", "addr", "ur,a", "sr");
    node(g, "Relu", "rr", "sr", "y");
    batchnorm(g, "bnz", "y", "z", 4);
    int64_t wf[2] = {3, 4};
    node(g, "GlobalAveragePool", "gap", "z", "gz");
    node(g, "Flatten", "flat", "gz", "fz");
    cfloat(g, "wf", 2, wf, -1, 1);
    attr_int(g, node(g, "Gemm", "fc", "fz,wf", "o"), "transB", 1);
    /* the exact GELU written out (fuse_gelu) */
    erf_gelu(g, "o", "og");
    /* a linear layer as MatMul + Add (fuse_matmul_bias) */
    int64_t wl[2] = {3, 5}, bl[1] = {5};
    cfloat(g, "wl", 2, wl, -1, 1);
    cfloat(g, "bl", 1, bl, -1, 1);
    node(g, "MatMul", "lin", "og,wl", "lt");
    node(g, "Add", "lbias", "bl,lt", "lo");
    /* layer normalisation written out over the last axis (fuse_layernorm) */
    int64_t last[1] = {-1};
    cscalar(g, "two", 2.0f);
    cscalar(g, "eps", 1e-5f);
    cfloat(g, "lg", 1, bl, 0.5f, 1.5f);
    cfloat(g, "lb", 1, bl, -1, 1);
    attr_ints(g, node(g, "ReduceMean", "lm1", "lo", "lmean"), "axes", 1, last);
    node(g, "Sub", "lsub", "lo,lmean", "ld");
    node(g, "Pow", "lpow", "ld,two", "lsq");
    attr_ints(g, node(g, "ReduceMean", "lm2", "lsq", "lvar"), "axes", 1, last);
    node(g, "Add", "leps", "lvar,eps", "lve");
    node(g, "Sqrt", "lsqrt", "lve", "lstd");
    node(g, "Div", "ldiv", "ld,lstd", "ln");
    node(g, "Mul", "lmul", "ln,lg", "lng");
    node(g, "Add", "ladd", "lng,lb", "lnout");
    output(g, "lnout");
    /* a quantized conv (mark_exact_rounding) */
    int64_t qxd[4] = {1, 2, 4, 4}, qwd[4] = {2, 2, 3, 3};
    input(g, "qx", 4, qxd);
    cfloat(g, "qw", 4, qwd, -1, 1);
    cscalar(g, "qs", 0.05f);
    node(g, "QuantizeLinear", "qq", "qx,qs", "qxq");
    node(g, "DequantizeLinear", "qdq", "qxq,qs", "qxd");
    node(g, "Conv", "qconv", "qxd,qw", "qy");
    output(g, "qy");
    /* a channels-last linear layer back to NCHW times a layer scale
     * (fuse_matmul_bias, then fold_layer_scale) */
    int64_t sxd[4] = {1, 2, 2, 3}, swd[2] = {3, 4}, sbd[1] = {4}, sgd[3] = {4, 1, 1}, sperm[4] = {0, 3, 1, 2};
    input(g, "sx", 4, sxd);
    cfloat(g, "sw", 2, swd, -1, 1);
    cfloat(g, "sb", 1, sbd, -1, 1);
    cfloat(g, "sg", 3, sgd, 0.5f, 1.5f);
    node(g, "MatMul", "slin", "sx,sw", "st");
    node(g, "Add", "sbias", "st,sb", "su");
    attr_ints(g, node(g, "Transpose", "stp", "su", "sp"), "perm", 4, sperm);
    node(g, "Mul", "sscale", "sg,sp", "sy");
    output(g, "sy");
    finish(g);
    return g;
}

static void test_all_passes(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = all_passes_graph(ctx);
    snapshot before = run_all(g);
    eng_pass_stat stats[ENG_MAX_PASS_STATS];
    int n = 0;
    assert_int_equal(eng_passes_run(g, stats, ENG_MAX_PASS_STATS, &n), ENGINE_OK);
    /* every pass but noop changed something */
    for (int k = 1; k < n - 1; ++k)
        if (stats[k].before == stats[k].after && stats[k].changed == 0 && strcmp(stats[k].name, "concat_alias") != 0 &&
            strcmp(stats[k].name, "fold_bn_next") != 0)
            fail_msg("pass %s did nothing", stats[k].name);
    /* c0 (SiLU), the merged RepVGG conv (Relu), cr (sum, Relu), bnz (dw),
     * the pool, one Gemm reading the pooled [1,4,1,1] with the Gelu as its
     * epilogue, the linear layer's Gemm (2-D: no Reshape), the
     * LayerNormalization, the quantized conv's three nodes, and the
     * scaled linear layer's Gemm, Reshape and Transpose */
    assert_int_equal(g->n_nodes, 14);
    assert_int_equal(count_op(g, ENGINE_OP_Mul), 0);
    assert_int_equal(count_op(g, ENGINE_OP_LayerNormalization), 1);
    assert_int_equal(count_op(g, ENGINE_OP_Gelu), 0);
    assert_int_equal(count_op(g, ENGINE_OP_Conv), 5);
    expect_same(g, &before);
    free_graph(ctx, g);
}

typedef struct failing {
    long countdown; /* allocations left before one fails; < 0: never */
    long live;
} failing;

static void *fail_alloc(void *user, size_t size, size_t align) {
    failing *f = user;
    if (f->countdown >= 0 && f->countdown-- == 0) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1)) return NULL;
    f->live++;
    return p;
}

static void fail_free(void *user, void *ptr) {
    failing *f = user;
    if (ptr) f->live--;
    free(ptr);
}

/* Fails allocation i of the pipeline for every i: the pipeline returns
 * ENGINE_OK (then with the right numbers) or ENGINE_ERR_OUT_OF_MEMORY,
 * never crashes, and the graph (possibly half rewritten) frees cleanly. */
static void oom_sweep(eng_graph *(*build)(engine_context *), int min_failures) {
    int failures = 0;
    for (long i = 0;; ++i) {
        failing f = {-1, 0};
        engine_context_options o;
        memset(&o, 0, sizeof o);
        o.no_default_backends = 1;
        o.allocator = (engine_allocator){fail_alloc, fail_free, &f};
        engine_context *ctx = NULL;
        assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
        eng_graph *g = build(ctx);
        snapshot before = run_all(g);
        f.countdown = i;
        eng_pass_stat stats[ENG_MAX_PASS_STATS];
        int n = 0;
        engine_status st = eng_passes_run(g, stats, ENG_MAX_PASS_STATS, &n);
        int reached = f.countdown < 0; /* allocation i happened (and failed) */
        f.countdown = -1;
        if (st == ENGINE_OK) {
            expect_same(g, &before);
        } else {
            if (st != ENGINE_ERR_OUT_OF_MEMORY) fail_msg("allocation %ld: status %d", i, st);
            for (int k = 0; k < before.count; ++k) free(before.y[k]);
            failures++;
        }
        eng_graph_free(g);
        engine_context_destroy(ctx);
        if (f.live != 0) fail_msg("allocation %ld: %ld blocks leaked", i, f.live);
        if (!reached) break; /* the pipeline finished without reaching allocation i */
    }
    assert_true(failures >= min_failures);
}

static void test_passes_out_of_memory(void **state) {
    (void)state;
    oom_sweep(all_passes_graph, 21);
}


/* ---- fold_bn_next ---- */

/* x -> BN -> Conv(weights [m, c/group, k, k], no padding) -> y; the BN
 * folds into the conv: one node left, reading x. */
static void bn_next_case(int64_t group, int64_t k, int64_t stride, int with_bias) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 7, 6}, wd[4] = {8, 4 / group, k, k}, bd[1] = {8}, st[2] = {stride, stride};
    input(g, "x", 4, xd);
    batchnorm(g, "bn", "x", "t", 4);
    cfloat(g, "w", 4, wd, -1, 1);
    if (with_bias) cfloat(g, "b", 1, bd, -1, 1);
    engine_node *c = node(g, "Conv", "conv", with_bias ? "t,w,b" : "t,w", "y");
    attr_int(g, c, "group", group);
    attr_ints(g, c, "strides", 2, st);
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fold_bn_next), 1);
    assert_int_equal(g->n_nodes, 1);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 0);
    assert_ptr_equal(g->nodes[0]->inputs[0], eng_graph_find(g, "x"));
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_bn_next_fires(void **state) {
    (void)state;
    bn_next_case(1, 3, 1, 1);
    bn_next_case(2, 3, 2, 0);
    bn_next_case(4, 1, 1, 1);
    bn_next_case(1, 1, 2, 0);
}

/* Near misses: a padded conv (a padded tap reads 0, not BN(0)), a BN
 * output read twice or a graph output, a non-constant weight. The BN then
 * becomes a depthwise conv in the full pipeline, which still agrees. */
static void bn_next_near_miss(int which) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {3, 4, 3, 3}, pads[4] = {1, 1, 1, 1};
    input(g, "x", 4, xd);
    batchnorm(g, "bn", "x", "t", 4);
    if (which == 3) input(g, "w", 4, wd);
    else cfloat(g, "w", 4, wd, -1, 1);
    engine_node *c = node(g, "Conv", "conv", "t,w", "y");
    if (which == 0) attr_ints(g, c, "pads", 4, pads);
    output(g, "y");
    if (which == 1) {
        node(g, "Relu", "other", "t", "r");
        output(g, "r");
    }
    if (which == 2) output(g, "t");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fold_bn_next), 0);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 1);
    optimise(g);
    assert_int_equal(count_op(g, ENGINE_OP_BatchNormalization), 0);
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_bn_next_near_misses(void **state) {
    (void)state;
    for (int k = 0; k < 4; ++k) bn_next_near_miss(k);
}

/* ---- fuse_flatten_gemm ---- */

/* x[n,4,3,2] -> Flatten(axis) or Reshape -> Gemm (transB, C) -> Relu -> y.
 * `reshape` selects Reshape to [n, -1] (PyTorch's x.view(n, -1)). */
static void flatten_gemm_case(int64_t n, int reshape, int64_t axis) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {n, 4, 3, 2}, rows = 1, cols = 1;
    for (int d = 0; d < 4; ++d) *(d < axis ? &rows : &cols) *= xd[d];
    int64_t wd[2] = {5, cols}, cd[1] = {5}, shape[2] = {rows, -1};
    input(g, "x", 4, xd);
    cfloat(g, "w", 2, wd, -1, 1);
    cfloat(g, "c", 1, cd, -1, 1);
    if (reshape) {
        cints(g, "shape", 2, shape);
        node(g, "Reshape", "flat", "x,shape", "f");
    } else {
        attr_int(g, node(g, "Flatten", "flat", "x", "f"), "axis", axis);
    }
    engine_node *m = node(g, "Gemm", "fc", "f,w,c", "t");
    attr_int(g, m, "transB", 1);
    attr_float(g, m, "alpha", 0.75f);
    node(g, "Relu", "act", "t", "y");
    output(g, "y");
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fuse_flatten_gemm), 1);
    assert_int_equal(count_op(g, reshape ? ENGINE_OP_Reshape : ENGINE_OP_Flatten), 0);
    engine_node *fc = find_node(g, "fc");
    assert_non_null(fc);
    assert_ptr_equal(fc->inputs[0], eng_graph_find(g, "x"));
    const engine_gemm_params *p = fc->params;
    assert_int_equal(p->m, rows);
    assert_int_equal(p->k, cols);
    assert_int_equal(p->n, 5);
    assert_true(p->flatten_axis >= 0);
    expect_same(g, &before);
    /* The whole pipeline keeps it one node with the Relu fused. */
    before = run_all(g);
    optimise(g);
    assert_int_equal(g->n_nodes, 1);
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_flatten_gemm_fires(void **state) {
    (void)state;
    flatten_gemm_case(1, 0, 1);
    flatten_gemm_case(3, 0, 1);
    flatten_gemm_case(2, 0, 2);
    flatten_gemm_case(1, 0, 0);
    flatten_gemm_case(3, 1, 1);
}

/* Near misses: the flattened value read elsewhere too, or a graph output;
 * transA = 1; a Reshape whose rows are no prefix of the input's dims
 * ([2,4,3,2] -> [4,12]). */
static void flatten_gemm_near_miss(int which) {
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {2, 4, 3, 2}, wd[2] = {5, 24}, shape[2] = {4, 12}, wd3[2] = {5, 12};
    input(g, "x", 4, xd);
    cfloat(g, "w", 2, which == 3 ? wd3 : wd, -1, 1);
    if (which == 3) {
        cints(g, "shape", 2, shape);
        node(g, "Reshape", "flat", "x,shape", "f");
    } else {
        node(g, "Flatten", "flat", "x", "f");
    }
    engine_node *m = node(g, "Gemm", "fc", "f,w", "y");
    attr_int(g, m, "transB", 1);
    output(g, "y");
    if (which == 0) {
        node(g, "Relu", "other", "f", "r");
        output(g, "r");
    }
    if (which == 1) output(g, "f");
    if (which == 2) {
        /* transA: Flatten(axis=3) gives A = [24, 2], read as op(A) = [2, 24]. */
        attr_int(g, find_node(g, "flat"), "axis", 3);
        attr_int(g, m, "transA", 1);
    }
    finish(g);
    snapshot before = run_all(g);
    assert_int_equal(run_pass(g, eng_pass_fuse_flatten_gemm), 0);
    assert_int_equal(count_op(g, which == 3 ? ENGINE_OP_Reshape : ENGINE_OP_Flatten), 1);
    expect_same(g, &before);
    free_graph(ctx, g);
}

static void test_flatten_gemm_near_misses(void **state) {
    (void)state;
    for (int k = 0; k < 4; ++k) flatten_gemm_near_miss(k);
}

/* ---- concat_alias ---- */

static engine_value *val(const eng_graph *g, const char *name) {
    engine_value *v = eng_graph_find(g, name);
    assert_non_null(v);
    return v;
}

/* v is stored in `of` at byte offset `off` (of NULL: not aliased). */
static void expect_alias(const eng_graph *g, const char *v, const char *of, size_t off) {
    const engine_value *x = val(g, v);
    if (!of) {
        if (x->alias_of) fail_msg("%s: aliased into %s, expected none", v, x->alias_of->name);
        return;
    }
    if (!x->alias_of || strcmp(x->alias_of->name, of) != 0)
        fail_msg("%s: alias of %s, expected %s", v, x->alias_of ? x->alias_of->name : "nothing", of);
    if (x->alias_offset != off) fail_msg("%s: offset %zu, expected %zu", v, x->alias_offset, off);
}

static void conv1x1(eng_graph *g, const char *name, const char *x, const char *y, int64_t cin, int64_t cout) {
    char w[64], ins[160];
    int64_t wd[4] = {cout, cin, 1, 1};
    snprintf(w, sizeof w, "%s_w", name);
    snprintf(ins, sizeof ins, "%s,%s", x, w);
    cfloat(g, w, 4, wd, -1, 1);
    node(g, "Conv", name, ins, y);
}

static engine_node *concat(eng_graph *g, const char *name, const char *ins, const char *y, int64_t axis) {
    engine_node *n = node(g, "Concat", name, ins, y);
    attr_int(g, n, "axis", axis);
    return n;
}

/* Inception: three branches (1x1; 1x1 -> Relu; MaxPool -> 1x1) concatenated
 * over channels, then a 1x1 conv. Every branch output lands in its slice. */
static void test_concat_inception(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 4, 6, 6}, k3[2] = {3, 3}, p1[4] = {1, 1, 1, 1}, s1[2] = {1, 1};
    input(g, "x", 4, xd);
    conv1x1(g, "ca", "x", "a", 4, 3);
    conv1x1(g, "cb", "x", "tb", 4, 5);
    node(g, "Relu", "rb", "tb", "b");
    engine_node *mp = node(g, "MaxPool", "mp", "x", "m");
    attr_ints(g, mp, "kernel_shape", 2, k3);
    attr_ints(g, mp, "pads", 4, p1);
    attr_ints(g, mp, "strides", 2, s1);
    conv1x1(g, "cc", "m", "c", 4, 2);
    concat(g, "cat", "a,b,c", "y", 1);
    conv1x1(g, "out", "y", "z", 10, 4);
    output(g, "z");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    const size_t plane = 36 * sizeof(float);
    expect_alias(g, "a", "y", 0);
    expect_alias(g, "b", "y", 3 * plane); /* the Relu fused: b is the conv's output now */
    expect_alias(g, "c", "y", 8 * plane);
    expect_alias(g, "y", NULL, 0);
    assert_int_equal(eng_pass_concat_copy_free(g), 1);
    expect_same(g, &before);
    /* the dump names them */
    engine_model *m = eng_calloc(ctx, 1, sizeof *m);
    assert_non_null(m);
    m->ctx = ctx;
    m->graph = g;
    static char text[8192];
    text[0] = 0;
    assert_int_equal(engine_model_dump(m, NULL, 0, dump_write, text), ENGINE_OK);
    assert_non_null(strstr(text, "c float32[1,2,6,6] (alias of y +1152)"));
    assert_non_null(strstr(text, "3 values stored in a Concat output, 1 Concats copy nothing"));
    text[0] = 0;
    assert_int_equal(engine_model_dump(m, NULL, 1, dump_write, text), ENGINE_OK);
    assert_non_null(strstr(text, "\"aliases\":[{\"value\":\"a\",\"of\":\"y\",\"offset\":0}]"));
    assert_non_null(strstr(text, "\"aliased\":3,\"copy_free_concats\":1"));
    engine_model_free(m);
    engine_context_destroy(ctx);
}

/* DenseNet as torchvision exports it: each layer concatenates every feature
 * so far (nested prefixes). Each Concat output becomes the head of the next
 * one, so every feature sits where every Concat wants it. */
static void test_concat_densenet(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 3, 16, 16};
    input(g, "x", 4, xd);
    conv1x1(g, "c0", "x", "f0", 3, 4);
    conv1x1(g, "c1", "f0", "f1", 4, 2);
    concat(g, "cat2", "f0,f1", "y2", 1);
    conv1x1(g, "c2", "y2", "f2", 6, 2);
    concat(g, "cat3", "f0,f1,f2", "y3", 1);
    conv1x1(g, "c3", "y3", "t3", 8, 2);
    node(g, "Relu", "r3", "t3", "f3");
    concat(g, "cat4", "f0,f1,f2,f3", "y4", 1);
    conv1x1(g, "out", "y4", "z", 10, 3);
    output(g, "z");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    const size_t plane = 256 * sizeof(float);
    expect_alias(g, "f0", "y2", 0);
    expect_alias(g, "f1", "y2", 4 * plane);
    expect_alias(g, "y2", "y3", 0);
    expect_alias(g, "f2", "y3", 6 * plane);
    expect_alias(g, "y3", "y4", 0);
    expect_alias(g, "f3", "y4", 8 * plane);
    expect_alias(g, "y4", NULL, 0);
    assert_int_equal(eng_pass_concat_copy_free(g), 3);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* Near misses: batch 2 (inputs are not one byte run each), a graph output,
 * a value read twice by the Concat, a constant, a graph input; and the
 * safety check: Concat(c1, a) with a already in c1's head would read a
 * inside the bytes it writes, so a keeps its own storage. */
static void test_concat_near_misses(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 2, 3, 3}, x2d[4] = {2, 2, 3, 3}, kd[4] = {1, 1, 3, 3};
    input(g, "x", 4, xd);
    input(g, "x2", 4, x2d);
    /* batch 2 */
    conv1x1(g, "p", "x2", "p1", 2, 2);
    conv1x1(g, "q", "x2", "q1", 2, 3);
    concat(g, "cat_b2", "p1,q1", "yb", 1);
    conv1x1(g, "ob", "yb", "zb", 5, 1);
    output(g, "zb");
    /* graph output, twice-read, constant, graph input */
    conv1x1(g, "ga", "x", "a", 2, 2);
    conv1x1(g, "gb", "x", "b", 2, 2);
    conv1x1(g, "gc", "x", "c", 2, 1);
    cfloat(g, "k", 4, kd, -1, 1);
    concat(g, "cat_mix", "a,b,b,k,x,c", "ym", 1);
    conv1x1(g, "om", "ym", "zm", 10, 1);
    output(g, "zm");
    output(g, "a");
    /* the safety check */
    conv1x1(g, "gd", "x", "d", 2, 2);
    conv1x1(g, "ge", "x", "e", 2, 1);
    concat(g, "cat1", "d,e", "c1", 1);
    concat(g, "cat2", "c1,d", "c2", 1);
    conv1x1(g, "oc", "c2", "zc", 5, 1);
    output(g, "zc");
    finish(g);
    snapshot before = run_all(g);
    optimise(g);
    const size_t plane = 9 * sizeof(float);
    expect_alias(g, "p1", NULL, 0);
    expect_alias(g, "q1", NULL, 0);
    expect_alias(g, "a", NULL, 0);
    expect_alias(g, "b", NULL, 0);
    expect_alias(g, "k", NULL, 0);
    expect_alias(g, "x", NULL, 0);
    expect_alias(g, "c", "ym", 9 * plane);
    expect_alias(g, "d", NULL, 0);
    expect_alias(g, "e", "c1", 2 * plane);
    expect_alias(g, "c1", "c2", 0);
    assert_int_equal(eng_pass_concat_copy_free(g), 0);
    expect_same(g, &before);
    free_graph(ctx, g);
}

/* Two concatenating blocks for the out-of-memory sweep of concat_alias
 * (whose arena planning allocates). */
static eng_graph *concat_oom_graph(engine_context *ctx) {
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 3, 4, 4};
    input(g, "x", 4, xd);
    conv1x1(g, "c0", "x", "f0", 3, 4);
    conv1x1(g, "c1", "f0", "f1", 4, 2);
    concat(g, "cat2", "f0,f1", "y2", 1);
    conv1x1(g, "c2", "y2", "f2", 6, 2);
    concat(g, "cat3", "f0,f1,f2", "y3", 1);
    node(g, "Relu", "r", "y3", "a");
    node(g, "Sigmoid", "s", "y3", "b");
    concat(g, "cat4", "a,b", "z", 1);
    output(g, "z");
    finish(g);
    return g;
}

static void test_concat_out_of_memory(void **state) {
    (void)state;
    oom_sweep(concat_oom_graph, 3);
}

/* A Concat along an inner axis with all outer dims 1 qualifies; the pass
 * is idempotent (it starts from no aliases); and dead-node removal drops
 * an alias into a value it frees. */
static void test_concat_axis_rerun_dead(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = new_graph(ctx);
    int64_t xd[4] = {1, 1, 2, 3};
    input(g, "x", 4, xd);
    node(g, "Relu", "r", "x", "a");
    node(g, "Neg", "n", "x", "b");
    concat(g, "cat", "a,b", "y", 2);
    node(g, "Sigmoid", "s", "y", "z");
    output(g, "z");
    finish(g);
    int changed = 0;
    assert_int_equal(eng_pass_concat_alias(g, &changed), ENGINE_OK);
    assert_int_equal(changed, 2);
    assert_int_equal(eng_pass_concat_alias(g, &changed), ENGINE_OK);
    assert_int_equal(changed, 2);
    expect_alias(g, "b", "y", 6 * sizeof(float));
    /* z now reads a: the Concat is dead, and with it the aliases into y. */
    eng_node_set_input(find_node(g, "s"), 0, val(g, "a"));
    assert_true(eng_graph_remove_dead(g) >= 1);
    expect_alias(g, "a", NULL, 0);
    assert_null(eng_graph_find(g, "y"));
    free_graph(ctx, g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flatten_gemm_fires),
        cmocka_unit_test(test_flatten_gemm_near_misses),
        cmocka_unit_test(test_bn_conv_bias),
        cmocka_unit_test(test_bn_conv_no_bias),
        cmocka_unit_test(test_bn_convtranspose),
        cmocka_unit_test(test_bn_gemm),
        cmocka_unit_test(test_bn_shared_weight),
        cmocka_unit_test(test_bn_near_misses),
        cmocka_unit_test(test_noop_fires),
        cmocka_unit_test(test_noop_near_misses),
        cmocka_unit_test(test_noop_flatten_and_dropout_mask),
        cmocka_unit_test(test_noop_graph_outputs),
        cmocka_unit_test(test_pipeline_and_dump),
        cmocka_unit_test(test_act_fires),
        cmocka_unit_test(test_fuse_gelu),
        cmocka_unit_test(test_fuse_act_through_reshape),
        cmocka_unit_test(test_fuse_matmul_bias),
        cmocka_unit_test(test_fold_layer_scale),
        cmocka_unit_test(test_fuse_layernorm),
        cmocka_unit_test(test_mark_exact_rounding),
        cmocka_unit_test(test_act_near_misses),
        cmocka_unit_test(test_act_gemm_convtranspose),
        cmocka_unit_test(test_residual_fires),
        cmocka_unit_test(test_residual_near_misses),
        cmocka_unit_test(test_residual_resnet_block),
        cmocka_unit_test(test_bn_to_conv),
        cmocka_unit_test(test_repvgg_merge),
        cmocka_unit_test(test_repvgg_near_misses),
        cmocka_unit_test(test_fold_pad),
        cmocka_unit_test(test_all_passes),
        cmocka_unit_test(test_passes_out_of_memory),
        cmocka_unit_test(test_bn_next_fires),
        cmocka_unit_test(test_bn_next_near_misses),
        cmocka_unit_test(test_concat_inception),
        cmocka_unit_test(test_concat_densenet),
        cmocka_unit_test(test_concat_near_misses),
        cmocka_unit_test(test_concat_axis_rerun_dead),
        cmocka_unit_test(test_concat_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
