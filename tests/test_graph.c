/* Unit tests of the IR container: values, nodes, validation, order, dead
 * nodes, and out-of-memory behaviour of graph building. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static engine_context *new_ctx(void) {
    engine_context_options o;
    memset(&o, 0, sizeof o);
    o.no_default_backends = 1;
    engine_context *ctx = NULL;
    assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
    return ctx;
}

/* x -> Relu(a) -> t -> Relu(b) -> y, added in the given order. */
static eng_graph *chain(engine_context *ctx, int reversed) {
    eng_graph *g;
    assert_int_equal(eng_graph_create(ctx, &g), ENGINE_OK);
    engine_value *x, *t, *y;
    assert_int_equal(eng_graph_add_value(g, "x", &x), ENGINE_OK);
    int64_t dims[2] = {2, 3};
    assert_int_equal(eng_value_set_shape(g, x, ENGINE_DTYPE_F32, 2, dims), ENGINE_OK);
    x->flags |= ENGINE_VALUE_GRAPH_INPUT;
    assert_int_equal(eng_graph_get_value(g, "t", &t), ENGINE_OK);
    assert_int_equal(eng_graph_get_value(g, "y", &y), ENGINE_OK);
    g->inputs = eng_calloc(ctx, 1, sizeof *g->inputs);
    g->inputs[0] = x;
    g->n_inputs = 1;
    g->outputs = eng_calloc(ctx, 1, sizeof *g->outputs);
    g->outputs[0] = y;
    g->n_outputs = 1;
    y->flags |= ENGINE_VALUE_GRAPH_OUTPUT;
    engine_node *a, *b;
    if (reversed) {
        assert_int_equal(eng_graph_add_node(g, "b", "Relu", "", 1, 1, &b), ENGINE_OK);
        assert_int_equal(eng_graph_add_node(g, "a", "Relu", "", 1, 1, &a), ENGINE_OK);
    } else {
        assert_int_equal(eng_graph_add_node(g, "a", "Relu", "", 1, 1, &a), ENGINE_OK);
        assert_int_equal(eng_graph_add_node(g, "b", "Relu", "", 1, 1, &b), ENGINE_OK);
    }
    eng_node_set_input(a, 0, x);
    assert_int_equal(eng_node_set_output(g, a, 0, t), ENGINE_OK);
    eng_node_set_input(b, 0, t);
    assert_int_equal(eng_node_set_output(g, b, 0, y), ENGINE_OK);
    return g;
}

static void test_values_and_lookup(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g;
    assert_int_equal(eng_graph_create(ctx, &g), ENGINE_OK);
    char name[32];
    for (int k = 0; k < 500; ++k) { /* enough to grow the name map several times */
        engine_value *v;
        snprintf(name, sizeof name, "v%d", k);
        assert_int_equal(eng_graph_add_value(g, name, &v), ENGINE_OK);
        assert_int_equal(v->rank, -1);
    }
    for (int k = 0; k < 500; ++k) {
        snprintf(name, sizeof name, "v%d", k);
        engine_value *v = eng_graph_find(g, name);
        assert_non_null(v);
        assert_string_equal(v->name, name);
        assert_int_equal(v->index, k);
    }
    assert_null(eng_graph_find(g, "nope"));
    engine_value *dup;
    assert_int_equal(eng_graph_add_value(g, "v7", &dup), ENGINE_ERR_INVALID_MODEL);
    assert_non_null(strstr(engine_context_error(ctx), "v7"));
    engine_value *anon1, *anon2;
    assert_int_equal(eng_graph_add_value(g, NULL, &anon1), ENGINE_OK);
    assert_int_equal(eng_graph_add_value(g, "", &anon2), ENGINE_OK);
    assert_string_not_equal(anon1->name, anon2->name);
    int64_t bad[2] = {2, -1};
    assert_int_equal(eng_value_set_shape(g, anon1, ENGINE_DTYPE_F32, 2, bad), ENGINE_ERR_SHAPE);
    int64_t huge[3] = {INT64_MAX / 2, 4, 4};
    assert_int_equal(eng_value_set_shape(g, anon1, ENGINE_DTYPE_F32, 3, huge), ENGINE_ERR_SHAPE);
    assert_int_equal(eng_value_set_shape(g, anon1, ENGINE_DTYPE_F32, ENGINE_MAX_RANK + 1, huge), ENGINE_ERR_UNSUPPORTED);
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

static void test_sort_orders_nodes(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = chain(ctx, 1);
    assert_string_equal(g->nodes[0]->name, "b");
    assert_int_equal(eng_graph_sort(g), ENGINE_OK);
    assert_string_equal(g->nodes[0]->name, "a");
    assert_string_equal(g->nodes[1]->name, "b");
    assert_int_equal(g->nodes[0]->index, 0);
    assert_int_equal(g->nodes[0]->op, ENGINE_OP_Relu);
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

static void test_cycle_is_reported(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = chain(ctx, 0);
    /* a reads y, which b produces from a's output: a cycle. */
    g->nodes[0]->inputs[0] = eng_graph_find(g, "y");
    assert_int_equal(eng_graph_sort(g), ENGINE_ERR_INVALID_MODEL);
    assert_non_null(strstr(engine_context_error(ctx), "cycle"));
    assert_non_null(strstr(engine_context_error(ctx), "node '"));
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

static void test_missing_producer_is_reported(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = chain(ctx, 0);
    engine_value *ghost;
    assert_int_equal(eng_graph_add_value(g, "ghost", &ghost), ENGINE_OK);
    g->nodes[1]->inputs[0] = ghost;
    assert_int_equal(eng_graph_sort(g), ENGINE_ERR_INVALID_MODEL);
    assert_non_null(strstr(engine_context_error(ctx), "node 'b' (Relu)"));
    assert_non_null(strstr(engine_context_error(ctx), "ghost"));
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

static void test_two_producers_refused(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = chain(ctx, 0);
    engine_node *c;
    assert_int_equal(eng_graph_add_node(g, "c", "Relu", "", 1, 1, &c), ENGINE_OK);
    eng_node_set_input(c, 0, eng_graph_find(g, "x"));
    assert_int_equal(eng_node_set_output(g, c, 0, eng_graph_find(g, "t")), ENGINE_ERR_INVALID_MODEL);
    assert_non_null(strstr(engine_context_error(ctx), "node 'c'"));
    assert_non_null(strstr(engine_context_error(ctx), "node 'a'"));
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

static void test_attributes(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = chain(ctx, 0);
    engine_attr *a;
    assert_int_equal(eng_node_add_attr(g, g->nodes[0], "alpha", ENGINE_ATTR_FLOAT, &a), ENGINE_OK);
    a->f = 0.5f;
    assert_int_equal(eng_node_add_attr(g, g->nodes[0], "pads", ENGINE_ATTR_INTS, &a), ENGINE_OK);
    a->ints = eng_calloc(ctx, 4, sizeof *a->ints);
    a->n = 4;
    a->ints[3] = 7;
    assert_int_equal(eng_node_add_attr(g, g->nodes[0], "alpha", ENGINE_ATTR_FLOAT, &a), ENGINE_ERR_INVALID_MODEL);
    const engine_attr *got = engine_node_attr(g->nodes[0], "pads");
    assert_non_null(got);
    assert_int_equal(got->ints[3], 7);
    assert_true(engine_node_attr(g->nodes[0], "alpha")->f == 0.5f);
    assert_null(engine_node_attr(g->nodes[0], "beta"));
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

static void test_dead_nodes_removed(void **state) {
    (void)state;
    engine_context *ctx = new_ctx();
    eng_graph *g = chain(ctx, 0);
    /* An extra branch nobody reads. */
    engine_node *d;
    engine_value *u;
    assert_int_equal(eng_graph_add_node(g, "dead", "Relu", "", 1, 1, &d), ENGINE_OK);
    assert_int_equal(eng_graph_add_value(g, "unused", &u), ENGINE_OK);
    eng_node_set_input(d, 0, eng_graph_find(g, "x"));
    assert_int_equal(eng_node_set_output(g, d, 0, u), ENGINE_OK);
    assert_int_equal(eng_graph_sort(g), ENGINE_OK);
    assert_int_equal(eng_graph_use_count(g, eng_graph_find(g, "x")), 2);
    assert_int_equal(eng_graph_remove_dead(g), 1);
    assert_int_equal(g->n_nodes, 2);
    assert_null(eng_graph_find(g, "unused"));
    assert_non_null(eng_graph_find(g, "t"));
    for (int k = 0; k < g->n_values; ++k) assert_int_equal(g->values[k]->index, k);
    eng_graph_free(g);
    engine_context_destroy(ctx);
}

/* Allocator that fails the n-th allocation. */
typedef struct failing {
    int countdown;
    int live;
} failing;

static void *fail_alloc(void *user, size_t size, size_t align) {
    failing *f = user;
    if (f->countdown-- == 0) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size)) return NULL;
    f->live++;
    return p;
}

static void fail_free(void *user, void *ptr) {
    failing *f = user;
    if (ptr) f->live--;
    free(ptr);
}

static void test_out_of_memory_sweep(void **state) {
    (void)state;
    /* For every i, fail the i-th allocation while building and sorting a
     * graph: every failure is reported as out of memory and nothing leaks. */
    for (int i = 1; i < 200; ++i) {
        failing f = {i, 0};
        engine_context_options o;
        memset(&o, 0, sizeof o);
        o.no_default_backends = 1;
        o.allocator.alloc = fail_alloc;
        o.allocator.free = fail_free;
        o.allocator.user = &f;
        engine_context *ctx = NULL;
        assert_int_equal(engine_context_create(&o, &ctx), ENGINE_OK);
        eng_graph *g = NULL;
        engine_status st = eng_graph_create(ctx, &g);
        int done = 0;
        if (st == ENGINE_OK) {
            char name[16];
            engine_value *prev = NULL;
            for (int k = 0; k < 40 && st == ENGINE_OK; ++k) {
                engine_value *v;
                snprintf(name, sizeof name, "v%d", k);
                st = eng_graph_add_value(g, name, &v);
                if (st) break;
                if (!prev) {
                    v->flags |= ENGINE_VALUE_GRAPH_INPUT;
                } else {
                    engine_node *n;
                    st = eng_graph_add_node(g, NULL, "Relu", "", 1, 1, &n);
                    if (st) break;
                    eng_node_set_input(n, 0, prev);
                    st = eng_node_set_output(g, n, 0, v);
                }
                prev = v;
            }
            if (st == ENGINE_OK) st = eng_graph_sort(g);
            done = st == ENGINE_OK;
            eng_graph_free(g);
        }
        if (!done) assert_int_equal(st, ENGINE_ERR_OUT_OF_MEMORY);
        engine_context_destroy(ctx);
        assert_int_equal(f.live, 0);
        if (done && f.countdown >= 0) break; /* the whole build ran without reaching the failure */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_lookup),       cmocka_unit_test(test_sort_orders_nodes),
        cmocka_unit_test(test_cycle_is_reported),       cmocka_unit_test(test_missing_producer_is_reported),
        cmocka_unit_test(test_two_producers_refused),   cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_dead_nodes_removed),      cmocka_unit_test(test_out_of_memory_sweep),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
