/* test_opencl_alias.c - the OpenCL module's Concat aliases and run-time
 * integer errors, through the backend ABI on hand-built partitions.
 *
 * Aliases (ir.h, engine_value.alias_of): a DenseNet-like chain
 *   a = Relu(x), s = Sigmoid(x)            aliased into c1 at 0 and 2 planes
 *   c1 = Concat(a, s)                      aliased into c2 at 0
 *   d = Abs(a)                             aliased into c2 after c1
 *   c2 = Concat(c1, d)                     the root, a partition output
 *   e = Exp(c1)                            read after c1 is complete
 * must give the plain results, with a smaller arena than with aliases off
 * (ENGINE_OPENCL_NO_ALIAS=1: every value its own slot); and the partition
 * {a, s, c1} alone, where c1 is an output and c2 is elsewhere, must ignore
 * the aliases (the contract's rule) and still be right.
 *
 * Run-time integer errors: Gather with an int64 indices input and int64
 * Div return ENGINE_ERR_INVALID_ARGUMENT naming the node for an index out
 * of range or a division by zero, and the right values otherwise. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "engine/backend.h"

const engine_backend_iface *engine_backend_entry(void);

static void *t_alloc(void *user, size_t size, size_t align) {
    (void)user;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    return posix_memalign(&p, align, size) ? NULL : p;
}

static void t_free(void *user, void *p) {
    (void)user;
    free(p);
}

static const engine_host_services host = {sizeof(engine_host_services), eng_plan_arena, NULL};

static void *create(void) {
    engine_backend_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator = (engine_allocator){t_alloc, t_free, NULL};
    cfg.host = &host;
    cfg.device = getenv("ENGINE_TEST_OPENCL_DEVICE");
    void *state = NULL;
    char err[512] = "";
    engine_status st = engine_backend_entry()->create(&cfg, &state, err, sizeof err);
    if (st) fail_msg("create: %s", err);
    return state;
}

static void value(engine_value *v, const char *name, engine_dtype dt, int rank, const int64_t *dims) {
    memset(v, 0, sizeof *v);
    v->name = (char *)name;
    v->dtype = dt;
    v->rank = rank;
    memcpy(v->dims, dims, sizeof(int64_t) * (size_t)rank);
}

static void node(engine_node *n, const char *name, const char *op_type, engine_op op, engine_value **in, int n_in,
                 engine_value **out, void *params, int index) {
    memset(n, 0, sizeof *n);
    n->name = (char *)name;
    n->op_type = (char *)op_type;
    n->domain = (char *)"";
    n->op = op;
    n->opset = 13;
    n->inputs = in;
    n->n_inputs = n_in;
    n->outputs = out;
    n->n_outputs = 1;
    n->params = params;
    n->index = index;
    out[0]->producer = n;
}

/* ---- the alias chain ---- */

#define HW 16 /* 4x4 plane */
enum { NX = 2, NS = NX }; /* Sigmoid(x) has x's shape */

typedef struct chain {
    engine_value x, a, s, c1, d, c2, e;
    engine_value *in_a[1], *out_a[1], *in_s[1], *out_s[1], *in_c1[2], *out_c1[1], *in_d[1], *out_d[1], *in_c2[2],
        *out_c2[1], *in_e[1], *out_e[1];
    engine_node na, ns, nc1, nd, nc2, ne;
    engine_axis_params cat;
    const engine_node *nodes[6];
    engine_value *p_in[1], *p_out[2];
    float xd[NX * HW];
} chain;

static void chain_init(chain *g) {
    memset(g, 0, sizeof *g);
    for (int k = 0; k < NX * HW; ++k) g->xd[k] = (float)((k * 37) % 23) / 7.0f - 1.5f; /* seeded, signs mixed */
    const int64_t dx[] = {1, NX, 4, 4}, ds[] = {1, NS, 4, 4}, dc1[] = {1, NX + NS, 4, 4},
                  dc2[] = {1, 2 * NX + NS, 4, 4};
    value(&g->x, "x", ENGINE_DTYPE_F32, 4, dx);
    g->x.flags = ENGINE_VALUE_GRAPH_INPUT;
    value(&g->a, "a", ENGINE_DTYPE_F32, 4, dx);
    value(&g->s, "s", ENGINE_DTYPE_F32, 4, ds);
    value(&g->c1, "c1", ENGINE_DTYPE_F32, 4, dc1);
    value(&g->d, "d", ENGINE_DTYPE_F32, 4, dx);
    value(&g->c2, "c2", ENGINE_DTYPE_F32, 4, dc2);
    g->c2.flags = ENGINE_VALUE_GRAPH_OUTPUT;
    value(&g->e, "e", ENGINE_DTYPE_F32, 4, dc1);
    g->e.flags = ENGINE_VALUE_GRAPH_OUTPUT;
    /* the pass's annotations: byte offsets inside the parent */
    g->a.alias_of = &g->c1;
    g->a.alias_offset = 0;
    g->s.alias_of = &g->c1;
    g->s.alias_offset = NX * HW * sizeof(float);
    g->c1.alias_of = &g->c2;
    g->c1.alias_offset = 0;
    g->d.alias_of = &g->c2;
    g->d.alias_offset = (NX + NS) * HW * sizeof(float);
    g->cat.axis = 1;
    g->in_a[0] = g->in_s[0] = &g->x;
    g->out_a[0] = &g->a;
    g->out_s[0] = &g->s;
    g->in_c1[0] = &g->a, g->in_c1[1] = &g->s, g->out_c1[0] = &g->c1;
    g->in_d[0] = &g->a, g->out_d[0] = &g->d;
    g->in_c2[0] = &g->c1, g->in_c2[1] = &g->d, g->out_c2[0] = &g->c2;
    g->in_e[0] = &g->c1, g->out_e[0] = &g->e;
    node(&g->na, "relu", "Relu", ENGINE_OP_Relu, g->in_a, 1, g->out_a, NULL, 0);
    node(&g->ns, "sigmoid", "Sigmoid", ENGINE_OP_Sigmoid, g->in_s, 1, g->out_s, NULL, 1);
    node(&g->nc1, "concat1", "Concat", ENGINE_OP_Concat, g->in_c1, 2, g->out_c1, &g->cat, 2);
    node(&g->nd, "abs", "Abs", ENGINE_OP_Abs, g->in_d, 1, g->out_d, NULL, 3);
    node(&g->nc2, "concat2", "Concat", ENGINE_OP_Concat, g->in_c2, 2, g->out_c2, &g->cat, 4);
    node(&g->ne, "exp", "Exp", ENGINE_OP_Exp, g->in_e, 1, g->out_e, NULL, 5);
    const engine_node *ns[6] = {&g->na, &g->ns, &g->nc1, &g->nd, &g->nc2, &g->ne};
    memcpy(g->nodes, ns, sizeof ns);
    g->p_in[0] = &g->x;
}

static void chain_expected(const chain *g, float *c2, float *e) {
    for (int k = 0; k < NX * HW; ++k) {
        float v = g->xd[k], r = v > 0 ? v : 0;
        c2[k] = r;
        c2[(NX + NS) * HW + k] = r;
    }
    for (int k = 0; k < NS * HW; ++k) {
        float v = g->xd[k % (NX * HW)];
        c2[NX * HW + k] = 1.0f / (1.0f + expf(-v));
    }
    for (int k = 0; k < (NX + NS) * HW; ++k) e[k] = expf(c2[k]);
}

static void check_close(const float *got, const float *exp, int n, const char *what) {
    for (int k = 0; k < n; ++k)
        if (!(fabsf(got[k] - exp[k]) <= 1e-5f + 1e-4f * fabsf(exp[k])))
            fail_msg("%s[%d]: got %g, expected %g", what, k, (double)got[k], (double)exp[k]);
}

/* Compiles and runs the full chain; returns the program's arena bytes. */
static size_t run_chain(void *state, chain *g) {
    const engine_backend_iface *it = engine_backend_entry();
    engine_partition part = {g->nodes, 6, g->p_in, 1, g->p_out, 2};
    g->p_out[0] = &g->c2;
    g->p_out[1] = &g->e;
    void *prog = NULL;
    char err[512] = "";
    if (it->compile(state, &part, &prog, err, sizeof err)) fail_msg("compile: %s", err);
    float c2[(2 * NX + NS) * HW], e[(NX + NS) * HW], ec2[(2 * NX + NS) * HW], ee[(NX + NS) * HW];
    memset(c2, 0xff, sizeof c2); /* NaN: every element must be written */
    memset(e, 0xff, sizeof e);
    const void *ins[1] = {g->xd};
    void *outs[2] = {c2, e};
    for (int rep = 0; rep < 2; ++rep) { /* a second run reuses the same buffers */
        if (it->run(state, prog, ins, outs, NULL, NULL, err, sizeof err)) fail_msg("run: %s", err);
        chain_expected(g, ec2, ee);
        check_close(c2, ec2, (2 * NX + NS) * HW, "c2");
        check_close(e, ee, (NX + NS) * HW, "e");
    }
    engine_program_stats ps;
    assert_int_equal(it->program_stats(state, prog, &ps), ENGINE_OK);
    it->release(state, prog);
    return ps.arena_bytes;
}

static void test_alias_chain(void **st_) {
    (void)st_;
    void *state = create();
    chain g;
    chain_init(&g);
    setenv("ENGINE_OPENCL_NO_ALIAS", "1", 1);
    size_t plain = run_chain(state, &g);
    unsetenv("ENGINE_OPENCL_NO_ALIAS");
    size_t aliased = run_chain(state, &g);
    /* a, s, c1 and d live inside c2: less arena than one slot each */
    if (!(aliased < plain)) fail_msg("arena with aliases %zu bytes, without %zu", aliased, plain);
    engine_backend_entry()->destroy(state);
}

/* {relu, sigmoid, concat1} with c1 a partition output and c2 not written
 * here: no alias may be honoured; the result is the same. */
static void test_alias_chain_cut(void **st_) {
    (void)st_;
    void *state = create();
    chain g;
    chain_init(&g);
    const engine_backend_iface *it = engine_backend_entry();
    g.p_out[0] = &g.c1;
    engine_partition part = {g.nodes, 3, g.p_in, 1, g.p_out, 1};
    void *prog = NULL;
    char err[512] = "";
    if (it->compile(state, &part, &prog, err, sizeof err)) fail_msg("compile: %s", err);
    float c1[(NX + NS) * HW], ec2[(2 * NX + NS) * HW], ee[(NX + NS) * HW];
    const void *ins[1] = {g.xd};
    void *outs[1] = {c1};
    if (it->run(state, prog, ins, outs, NULL, NULL, err, sizeof err)) fail_msg("run: %s", err);
    chain_expected(&g, ec2, ee);
    check_close(c1, ec2, (NX + NS) * HW, "c1");
    it->release(state, prog);
    it->destroy(state);
}

/* ---- run-time integer errors ---- */

static void test_gather_runtime_indices(void **st_) {
    (void)st_;
    void *state = create();
    const engine_backend_iface *it = engine_backend_entry();
    engine_value x, ix, y;
    const int64_t dx[] = {4, 3}, di[] = {3}, dy[] = {3, 3};
    value(&x, "data", ENGINE_DTYPE_F32, 2, dx);
    value(&ix, "indices", ENGINE_DTYPE_I64, 1, di);
    value(&y, "y", ENGINE_DTYPE_F32, 2, dy);
    engine_value *in[2] = {&x, &ix}, *out[1] = {&y};
    engine_axis_params ap;
    memset(&ap, 0, sizeof ap);
    engine_node n;
    node(&n, "gather", "Gather", ENGINE_OP_Gather, in, 2, out, &ap, 0);
    assert_true(it->supports(state, &n));
    const engine_node *nodes[1] = {&n};
    engine_value *p_in[2] = {&x, &ix}, *p_out[1] = {&y};
    engine_partition part = {nodes, 1, p_in, 2, p_out, 1};
    void *prog = NULL;
    char err[512] = "";
    if (it->compile(state, &part, &prog, err, sizeof err)) fail_msg("compile: %s", err);
    float xd[12], yd[9];
    for (int k = 0; k < 12; ++k) xd[k] = (float)k * 0.5f - 2.0f;
    int64_t good[3] = {3, -4, 1}, bad[3] = {0, 4, 1};
    const void *ins[2] = {xd, good};
    void *outs[1] = {yd};
    assert_int_equal(it->run(state, prog, ins, outs, NULL, NULL, err, sizeof err), ENGINE_OK);
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
            int64_t row = good[r] < 0 ? good[r] + 4 : good[r];
            assert_true(yd[r * 3 + c] == xd[row * 3 + c]);
        }
    ins[1] = bad;
    assert_int_equal(it->run(state, prog, ins, outs, NULL, NULL, err, sizeof err), ENGINE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "node 'gather' (Gather)"));
    assert_non_null(strstr(err, "out of range"));
    /* the flag is cleared per run */
    ins[1] = good;
    assert_int_equal(it->run(state, prog, ins, outs, NULL, NULL, err, sizeof err), ENGINE_OK);
    it->release(state, prog);
    it->destroy(state);
}

static void test_int_div(void **st_) {
    (void)st_;
    void *state = create();
    const engine_backend_iface *it = engine_backend_entry();
    engine_value a, b, y;
    const int64_t d4[] = {4};
    value(&a, "a", ENGINE_DTYPE_I32, 1, d4);
    value(&b, "b", ENGINE_DTYPE_I32, 1, d4);
    value(&y, "y", ENGINE_DTYPE_I32, 1, d4);
    engine_value *in[2] = {&a, &b}, *out[1] = {&y};
    engine_node n;
    node(&n, "div", "Div", ENGINE_OP_Div, in, 2, out, NULL, 0);
    assert_true(it->supports(state, &n));
    const engine_node *nodes[1] = {&n};
    engine_value *p_in[2] = {&a, &b}, *p_out[1] = {&y};
    engine_partition part = {nodes, 1, p_in, 2, p_out, 1};
    void *prog = NULL;
    char err[512] = "";
    if (it->compile(state, &part, &prog, err, sizeof err)) fail_msg("compile: %s", err);
    /* truncation toward zero; INT32_MIN / -1 wraps to INT32_MIN as in ref */
    int32_t ad[4] = {7, -7, INT32_MIN, 9}, bd[4] = {2, 2, -1, -4}, yd[4], zero[4] = {1, 0, 1, 1};
    const void *ins[2] = {ad, bd};
    void *outs[1] = {yd};
    assert_int_equal(it->run(state, prog, ins, outs, NULL, NULL, err, sizeof err), ENGINE_OK);
    assert_int_equal(yd[0], 3);
    assert_int_equal(yd[1], -3);
    assert_int_equal(yd[2], INT32_MIN);
    assert_int_equal(yd[3], -2);
    ins[1] = zero;
    assert_int_equal(it->run(state, prog, ins, outs, NULL, NULL, err, sizeof err), ENGINE_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "node 'div' (Div)"));
    assert_non_null(strstr(err, "division by zero"));
    it->release(state, prog);
    it->destroy(state);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alias_chain),
        cmocka_unit_test(test_alias_chain_cut),
        cmocka_unit_test(test_gather_runtime_indices),
        cmocka_unit_test(test_int_div),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
