/* tests/test_ref_kernels_b.c - reference kernels (activation, elementwise,
 * reduce, tensor families) and the ref backend module.
 *
 * Nodes and values are built by hand; expected values are hand-derived or
 * were computed once with Python's math module (double, rounded to float32)
 * and embedded. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "internal.h"
#include "ref_kernels.h"

/* The module's entry point (backends/ref/module.c), linked in directly. */
const engine_backend_iface *engine_backend_entry(void);

/* ---- building nodes ---- */

#define D(...) ((const int64_t[]){__VA_ARGS__})

static engine_value V(engine_dtype t, int rank, const int64_t *dims) {
    engine_value v;
    memset(&v, 0, sizeof v);
    v.name = (char *)"v";
    v.dtype = t;
    v.rank = rank;
    for (int d = 0; d < rank; ++d) v.dims[d] = dims[d];
    return v;
}

typedef struct tnode {
    engine_value *in[4];
    engine_value *out[3];
    engine_node n;
} tnode;

/* Wires a node; ins/outs end at the first NULL unless counts are given. */
static void T(tnode *t, engine_op op, const char *op_type, void *params, int nin, engine_value *i0,
              engine_value *i1, engine_value *i2, int nout, engine_value *o0, engine_value *o1) {
    memset(t, 0, sizeof *t);
    t->in[0] = i0;
    t->in[1] = i1;
    t->in[2] = i2;
    t->out[0] = o0;
    t->out[1] = o1;
    t->n.name = (char *)"n";
    t->n.op_type = (char *)op_type;
    t->n.domain = (char *)"";
    t->n.op = op;
    t->n.opset = 17;
    t->n.n_inputs = nin;
    t->n.inputs = t->in;
    t->n.n_outputs = nout;
    t->n.outputs = t->out;
    t->n.params = params;
}

#define OP_(name) ENGINE_OP_##name, #name

static engine_status call(tnode *t, const void *a, const void *b, const void *c, void *y, void *y1) {
    const void *in[3] = {a, b, c};
    void *out[2] = {y, y1};
    ref_kernel_fn fn = ref_kernel_for(t->n.op);
    assert_non_null(fn);
    return fn(&t->n, in, out);
}

static void assert_floats(const float *got, const float *want, int count, double rel) {
    for (int i = 0; i < count; ++i) {
        if (isnan(want[i])) {
            assert_true(isnan(got[i]));
            continue;
        }
        double tol = rel * fabs((double)want[i]) + 1e-44;
        if (!(fabs((double)got[i] - (double)want[i]) <= tol)) {
            print_error("index %d: got %.9g want %.9g\n", i, (double)got[i], (double)want[i]);
            fail();
        }
    }
}

/* ---- activations ---- */

/* Computed with Python math in double, rounded to float32. */
static const float act_x[12] = {-100.0f, -20.0f, -3.0f, -1.0f, -0.5f, 0.0f, 0.25f, 0.5f, 1.0f, 3.0f, 20.0f, 100.0f};
static const float exp_relu[12] = {0.000000000e+00f, 0.000000000e+00f, 0.000000000e+00f, 0.000000000e+00f, 0.000000000e+00f, 0.000000000e+00f, 2.500000000e-01f, 5.000000000e-01f, 1.000000000e+00f, 3.000000000e+00f, 2.000000000e+01f, 1.000000000e+02f};
static const float exp_leaky[12] = {-1.000000000e+01f, -2.000000000e+00f, -3.000000119e-01f, -1.000000015e-01f, -5.000000075e-02f, 0.000000000e+00f, 2.500000000e-01f, 5.000000000e-01f, 1.000000000e+00f, 3.000000000e+00f, 2.000000000e+01f, 1.000000000e+02f};
static const float exp_clip[12] = {-1.000000000e+00f, -1.000000000e+00f, -1.000000000e+00f, -1.000000000e+00f, -5.000000000e-01f, 0.000000000e+00f, 2.500000000e-01f, 5.000000000e-01f, 1.000000000e+00f, 2.000000000e+00f, 2.000000000e+00f, 2.000000000e+00f};
static const float exp_sigmoid[12] = {3.783505854e-44f, 2.061153692e-09f, 4.742587358e-02f, 2.689414322e-01f, 3.775406778e-01f, 5.000000000e-01f, 5.621765256e-01f, 6.224593520e-01f, 7.310585976e-01f, 9.525741339e-01f, 1.000000000e+00f, 1.000000000e+00f};
static const float exp_hsig[12] = {0.000000000e+00f, 0.000000000e+00f, 0.000000000e+00f, 3.000000119e-01f, 4.000000060e-01f, 5.000000000e-01f, 5.500000119e-01f, 6.000000238e-01f, 6.999999881e-01f, 1.000000000e+00f, 1.000000000e+00f, 1.000000000e+00f};
static const float exp_hswish[12] = {-0.000000000e+00f, -0.000000000e+00f, -0.000000000e+00f, -3.333333433e-01f, -2.083333284e-01f, 0.000000000e+00f, 1.354166716e-01f, 2.916666567e-01f, 6.666666865e-01f, 3.000000000e+00f, 2.000000000e+01f, 1.000000000e+02f};
static const float exp_tanh[12] = {-1.000000000e+00f, -1.000000000e+00f, -9.950547814e-01f, -7.615941763e-01f, -4.621171653e-01f, 0.000000000e+00f, 2.449186593e-01f, 4.621171653e-01f, 7.615941763e-01f, 9.950547814e-01f, 1.000000000e+00f, 1.000000000e+00f};
static const float exp_softplus[12] = {3.783505854e-44f, 2.061153692e-09f, 4.858735204e-02f, 3.132616878e-01f, 4.740769863e-01f, 6.931471825e-01f, 8.259394169e-01f, 9.740769863e-01f, 1.313261628e+00f, 3.048587322e+00f, 2.000000000e+01f, 1.000000000e+02f};
static const float exp_elu[12] = {-1.000000000e+00f, -1.000000000e+00f, -9.502129555e-01f, -6.321205497e-01f, -3.934693336e-01f, 0.000000000e+00f, 2.500000000e-01f, 5.000000000e-01f, 1.000000000e+00f, 3.000000000e+00f, 2.000000000e+01f, 1.000000000e+02f};
static const float exp_selu[12] = {-1.758099318e+00f, -1.758099318e+00f, -1.670568705e+00f, -1.111330748e+00f, -6.917582154e-01f, 0.000000000e+00f, 2.626752555e-01f, 5.253505111e-01f, 1.050701022e+00f, 3.152102947e+00f, 2.101402092e+01f, 1.050700989e+02f};
static const float exp_mish[12] = {-3.720447423e-42f, -4.122307118e-08f, -1.456474662e-01f, -3.034014702e-01f, -2.207437754e-01f, 0.000000000e+00f, 1.695724130e-01f, 3.752452135e-01f, 8.650984168e-01f, 2.986535072e+00f, 2.000000000e+01f, 1.000000000e+02f};
static const float exp_neg[12] = {1.000000000e+02f, 2.000000000e+01f, 3.000000000e+00f, 1.000000000e+00f, 5.000000000e-01f, -0.000000000e+00f, -2.500000000e-01f, -5.000000000e-01f, -1.000000000e+00f, -3.000000000e+00f, -2.000000000e+01f, -1.000000000e+02f};
static const float exp_abs[12] = {1.000000000e+02f, 2.000000000e+01f, 3.000000000e+00f, 1.000000000e+00f, 5.000000000e-01f, 0.000000000e+00f, 2.500000000e-01f, 5.000000000e-01f, 1.000000000e+00f, 3.000000000e+00f, 2.000000000e+01f, 1.000000000e+02f};
static const float exp_x[8] = {-20.0f, -3.0f, -0.5f, 0.0f, 0.5f, 1.0f, 3.0f, 20.0f};
static const float exp_exp[8] = {2.061153692e-09f, 4.978706688e-02f, 6.065306664e-01f, 1.000000000e+00f, 1.648721218e+00f, 2.718281746e+00f, 2.008553696e+01f, 4.851651840e+08f};
static const float pos_x[6] = {0.25f, 1.0f, 2.0f, 9.0f, 100.0f, 1.0000000031710769e-30f};
static const float exp_sqrt[6] = {5.000000000e-01f, 1.000000000e+00f, 1.414213538e+00f, 3.000000000e+00f, 1.000000000e+01f, 1.000000004e-15f};
static const float exp_log[6] = {-1.386294365e+00f, 0.000000000e+00f, 6.931471825e-01f, 2.197224617e+00f, 4.605170250e+00f, -6.907755280e+01f};

static void unary_case(engine_op op, const char *name, engine_scalar_params *p, const float *x, const float *want,
                       int count) {
    engine_value vx = V(ENGINE_DTYPE_F32, 1, D(count)), vy = vx;
    tnode t;
    T(&t, op, name, p, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    float y[16];
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_floats(y, want, count, 2e-7);
}

static void test_activations(void **state) {
    (void)state;
    engine_scalar_params p = {0};
    unary_case(OP_(Relu), NULL, act_x, exp_relu, 12);
    unary_case(OP_(Sigmoid), NULL, act_x, exp_sigmoid, 12);
    unary_case(OP_(HardSwish), NULL, act_x, exp_hswish, 12);
    unary_case(OP_(Tanh), NULL, act_x, exp_tanh, 12);
    unary_case(OP_(Softplus), NULL, act_x, exp_softplus, 12);
    unary_case(OP_(Mish), NULL, act_x, exp_mish, 12);
    unary_case(OP_(Neg), NULL, act_x, exp_neg, 12);
    unary_case(OP_(Abs), NULL, act_x, exp_abs, 12);
    unary_case(OP_(Exp), NULL, exp_x, exp_exp, 8);
    unary_case(OP_(Sqrt), NULL, pos_x, exp_sqrt, 6);
    unary_case(OP_(Log), NULL, pos_x, exp_log, 6);
    p.alpha = 0.1f;
    unary_case(OP_(LeakyRelu), &p, act_x, exp_leaky, 12);
    p.alpha = 1.0f;
    unary_case(OP_(Elu), &p, act_x, exp_elu, 12);
    p.alpha = 1.6732632f;
    p.gamma = 1.0507010f;
    unary_case(OP_(Selu), &p, act_x, exp_selu, 12);
    p.alpha = 0.2f;
    p.beta = 0.5f;
    unary_case(OP_(HardSigmoid), &p, act_x, exp_hsig, 12);
    p.min = -1.0f;
    p.max = 2.0f;
    unary_case(OP_(Clip), &p, act_x, exp_clip, 12);

    /* Edge values: Log(0) = -inf, Sqrt(-1) = NaN, Relu and Clip keep NaN, Exp overflows to inf. */
    const float edge_x[3] = {0.0f, -1.0f, NAN};
    float y[3];
    engine_value vx = V(ENGINE_DTYPE_F32, 1, D(3)), vy = vx;
    tnode t;
    T(&t, OP_(Log), NULL, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, edge_x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(isinf(y[0]) && y[0] < 0);
    T(&t, OP_(Sqrt), NULL, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, edge_x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(isnan(y[1]));
    T(&t, OP_(Relu), NULL, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, edge_x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 0.0f && y[1] == 0.0f && isnan(y[2]));
    T(&t, OP_(Clip), &p, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, edge_x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 0.0f && y[1] == -1.0f && isnan(y[2]));
    const float big[1] = {200.0f};
    engine_value v1 = V(ENGINE_DTYPE_F32, 1, D(1));
    T(&t, OP_(Exp), NULL, 1, &v1, NULL, NULL, 1, &v1, NULL);
    assert_int_equal(call(&t, big, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(isinf(y[0]));
    T(&t, OP_(Sigmoid), NULL, 1, &v1, NULL, NULL, 1, &v1, NULL);
    const float small[1] = {-1000.0f};
    assert_int_equal(call(&t, small, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 0.0f);
    T(&t, OP_(Softplus), NULL, 1, &v1, NULL, NULL, 1, &v1, NULL);
    assert_int_equal(call(&t, big, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 200.0f);
}

static void test_activation_int_and_dtypes(void **state) {
    (void)state;
    engine_value vx = V(ENGINE_DTYPE_I64, 1, D(4)), vy = vx;
    const int64_t x[4] = {-5, 0, 7, INT64_MIN};
    int64_t y[4];
    tnode t;
    T(&t, OP_(Neg), NULL, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 5 && y[1] == 0 && y[2] == -7 && y[3] == INT64_MIN);
    T(&t, OP_(Abs), NULL, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 5 && y[1] == 0 && y[2] == 7 && y[3] == INT64_MIN);
    engine_value wx = V(ENGINE_DTYPE_I32, 1, D(3)), wy = wx;
    const int32_t xi[3] = {-3, 4, INT32_MIN};
    int32_t yi[3];
    T(&t, OP_(Abs), NULL, 1, &wx, NULL, NULL, 1, &wy, NULL);
    assert_int_equal(call(&t, xi, NULL, NULL, yi, NULL), ENGINE_OK);
    assert_true(yi[0] == 3 && yi[1] == 4 && yi[2] == INT32_MIN);
    /* Relu on int64 and on float16 is not handled. */
    T(&t, OP_(Relu), NULL, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_false(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_ERR_UNSUPPORTED);
    engine_value h = V(ENGINE_DTYPE_F16, 1, D(4));
    T(&t, OP_(Tanh), NULL, 1, &h, NULL, NULL, 1, &h, NULL);
    assert_false(ref_supports(&t.n));
    /* A parametrised op without params is refused, not dereferenced. */
    engine_value f = V(ENGINE_DTYPE_F32, 1, D(4));
    T(&t, OP_(LeakyRelu), NULL, 1, &f, NULL, NULL, 1, &f, NULL);
    assert_false(ref_supports(&t.n));
}

static void test_prelu(void **state) {
    (void)state;
    engine_value vx = V(ENGINE_DTYPE_F32, 3, D(2, 2, 2)), vs = V(ENGINE_DTYPE_F32, 3, D(2, 1, 1)), vy = vx;
    const float x[8] = {-1, 2, -3, 4, -5, 6, -7, 8};
    const float s[2] = {0.5f, 0.25f};
    const float want[8] = {-0.5f, 2, -1.5f, 4, -1.25f, 6, -1.75f, 8};
    float y[8];
    tnode t;
    T(&t, OP_(PRelu), NULL, 2, &vx, &vs, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, s, NULL, y, NULL), ENGINE_OK);
    assert_floats(y, want, 8, 0);
}

/* ---- elementwise ---- */

static void test_broadcast_add(void **state) {
    (void)state;
    const float a[6] = {1, 2, 3, 4, 5, 6};
    float y[24];
    tnode t;
    engine_value va = V(ENGINE_DTYPE_F32, 2, D(2, 3)), vy = va;

    /* scalar (rank 0) */
    engine_value vs = V(ENGINE_DTYPE_F32, 0, NULL);
    const float s = 10;
    T(&t, OP_(Add), NULL, 2, &va, &vs, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, a, &s, NULL, y, NULL), ENGINE_OK);
    for (int i = 0; i < 6; ++i) assert_true(y[i] == a[i] + 10);

    /* row [3] */
    engine_value vr = V(ENGINE_DTYPE_F32, 1, D(3));
    const float r[3] = {100, 200, 300};
    T(&t, OP_(Sub), NULL, 2, &va, &vr, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, a, r, NULL, y, NULL), ENGINE_OK);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) assert_true(y[i * 3 + j] == a[i * 3 + j] - r[j]);

    /* column [2,1], operand order swapped */
    engine_value vc = V(ENGINE_DTYPE_F32, 2, D(2, 1));
    const float c[2] = {7, -2};
    T(&t, OP_(Div), NULL, 2, &vc, &va, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, c, a, NULL, y, NULL), ENGINE_OK);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j) assert_true(y[i * 3 + j] == c[i] / a[i * 3 + j]);

    /* rank mismatch: [2,1,3] * [4,1] -> [2,4,3] */
    engine_value v3 = V(ENGINE_DTYPE_F32, 3, D(2, 1, 3)), v41 = V(ENGINE_DTYPE_F32, 2, D(4, 1)),
                 vo = V(ENGINE_DTYPE_F32, 3, D(2, 4, 3));
    const float b[4] = {1, -1, 0.5f, 3};
    T(&t, OP_(Mul), NULL, 2, &v3, &v41, NULL, 1, &vo, NULL);
    assert_int_equal(call(&t, a, b, NULL, y, NULL), ENGINE_OK);
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 4; ++j)
            for (int k = 0; k < 3; ++k) assert_true(y[(i * 4 + j) * 3 + k] == a[i * 3 + k] * b[j]);

    /* incompatible shapes are a shape error */
    engine_value bad = V(ENGINE_DTYPE_F32, 1, D(4));
    T(&t, OP_(Add), NULL, 2, &va, &bad, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, a, b, NULL, y, NULL), ENGINE_ERR_SHAPE);
}

static void test_integer_arith(void **state) {
    (void)state;
    engine_value v = V(ENGINE_DTYPE_I64, 1, D(6));
    const int64_t a[6] = {7, -7, 7, -7, INT64_MIN, 0};
    const int64_t b[6] = {2, 2, -2, -2, -1, 5};
    int64_t y[6];
    tnode t;
    T(&t, OP_(Div), NULL, 2, &v, &v, NULL, 1, &v, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, a, b, NULL, y, NULL), ENGINE_OK);
    const int64_t want[6] = {3, -3, -3, 3, INT64_MIN, 0};
    assert_memory_equal(y, want, sizeof want);
    const int64_t z[6] = {1, 1, 1, 0, 1, 1};
    assert_int_equal(call(&t, a, z, NULL, y, NULL), ENGINE_ERR_INVALID_ARGUMENT);

    T(&t, OP_(Add), NULL, 2, &v, &v, NULL, 1, &v, NULL);
    const int64_t big[6] = {INT64_MAX, 1, 2, 3, 4, 5};
    assert_int_equal(call(&t, big, b, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == INT64_MIN + 1 && y[1] == 3 && y[5] == 10);

    engine_value w = V(ENGINE_DTYPE_I32, 1, D(4)), ws = V(ENGINE_DTYPE_I32, 0, NULL);
    const int32_t c[4] = {-9, 9, 10, -1};
    const int32_t d = -4;
    int32_t yi[4];
    T(&t, OP_(Div), NULL, 2, &w, &ws, NULL, 1, &w, NULL);
    assert_int_equal(call(&t, c, &d, NULL, yi, NULL), ENGINE_OK);
    assert_true(yi[0] == 2 && yi[1] == -2 && yi[2] == -2 && yi[3] == 0);
    T(&t, OP_(Mul), NULL, 2, &w, &ws, NULL, 1, &w, NULL);
    assert_int_equal(call(&t, c, &d, NULL, yi, NULL), ENGINE_OK);
    assert_true(yi[0] == 36 && yi[1] == -36 && yi[2] == -40 && yi[3] == 4);
    T(&t, OP_(Sub), NULL, 2, &w, &ws, NULL, 1, &w, NULL);
    assert_int_equal(call(&t, c, &d, NULL, yi, NULL), ENGINE_OK);
    assert_true(yi[0] == -5 && yi[1] == 13 && yi[2] == 14 && yi[3] == 3);

    /* mixed dtypes are refused */
    T(&t, OP_(Add), NULL, 2, &v, &w, NULL, 1, &v, NULL);
    assert_false(ref_supports(&t.n));
}

static void test_pow(void **state) {
    (void)state;
    engine_value va = V(ENGINE_DTYPE_F32, 1, D(4)), ve = V(ENGINE_DTYPE_I64, 0, NULL), vf = V(ENGINE_DTYPE_F32, 1, D(4));
    const float a[4] = {2, -3, 0.5f, 4};
    const int64_t e = 3;
    const float ef[4] = {0.5f, 2, -1, 1.5f};
    float y[4];
    tnode t;
    T(&t, OP_(Pow), NULL, 2, &va, &ve, NULL, 1, &va, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, a, &e, NULL, y, NULL), ENGINE_OK);
    const float want[4] = {8, -27, 0.125f, 64};
    assert_floats(y, want, 4, 0);
    T(&t, OP_(Pow), NULL, 2, &va, &vf, NULL, 1, &va, NULL);
    assert_int_equal(call(&t, a, ef, NULL, y, NULL), ENGINE_OK);
    const float want2[4] = {1.41421354f, 9, 2, 8};
    assert_floats(y, want2, 4, 1e-7);
}

/* Dropout in training_mode without a seed: about `ratio` of the elements
 * dropped, the rest scaled, the mask true where kept, and each run its
 * own draws; with a seed, the same drops every run. */
static void test_dropout_training(void **state) {
    (void)state;
    enum { N = 4000 };
    engine_value vx = V(ENGINE_DTYPE_F32, 1, D(N)), vm = V(ENGINE_DTYPE_BOOL, 1, D(N));
    static float x[N], y[N], y2[N];
    static uint8_t m[N], m2[N];
    for (int i = 0; i < N; ++i) x[i] = 1.0f + (float)(i % 7);
    engine_dropout_params p = {.ratio = 0.25f, .has_seed = 0, .seed = 0};
    tnode t;
    T(&t, OP_(Dropout), &p, 1, &vx, NULL, NULL, 2, &vx, &vm);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, m), ENGINE_OK);
    assert_int_equal(call(&t, x, NULL, NULL, y2, m2), ENGINE_OK);
    int dropped = 0, differ = 0;
    for (int i = 0; i < N; ++i) {
        dropped += !m[i];
        differ += m[i] != m2[i];
        assert_true(m[i] ? fabsf(y[i] - x[i] / 0.75f) < 1e-6f * y[i] : y[i] == 0.0f);
    }
    assert_in_range(dropped, N / 4 - 150, N / 4 + 150);
    assert_true(differ > 100);
    p.has_seed = 1;
    p.seed = 42;
    assert_int_equal(call(&t, x, NULL, NULL, y, m), ENGINE_OK);
    assert_int_equal(call(&t, x, NULL, NULL, y2, m2), ENGINE_OK);
    assert_memory_equal(m, m2, N);
    assert_memory_equal(y, y2, sizeof y);
}

static void test_equal_where(void **state) {
    (void)state;
    engine_value va = V(ENGINE_DTYPE_I64, 2, D(2, 3)), vb = V(ENGINE_DTYPE_I64, 1, D(3)),
                 vy = V(ENGINE_DTYPE_BOOL, 2, D(2, 3));
    const int64_t a[6] = {1, 2, 3, 3, 2, 1};
    const int64_t b[3] = {1, 2, 1};
    uint8_t m[6];
    tnode t;
    T(&t, OP_(Equal), NULL, 2, &va, &vb, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, a, b, NULL, m, NULL), ENGINE_OK);
    const uint8_t want[6] = {1, 1, 0, 0, 1, 1};
    assert_memory_equal(m, want, 6);

    engine_value fb = V(ENGINE_DTYPE_F32, 0, NULL), fa = V(ENGINE_DTYPE_F32, 2, D(2, 3));
    const float fx[6] = {0.5f, 1, 1.5f, 1, 1, -1};
    const float one = 1;
    T(&t, OP_(Equal), NULL, 2, &fa, &fb, NULL, 1, &vy, NULL);
    assert_int_equal(call(&t, fx, &one, NULL, m, NULL), ENGINE_OK);
    const uint8_t want_f[6] = {0, 1, 0, 1, 1, 0};
    assert_memory_equal(m, want_f, 6);

    engine_value bb = V(ENGINE_DTYPE_BOOL, 1, D(2));
    const uint8_t p[2] = {1, 0}, q[2] = {1, 1};
    T(&t, OP_(Equal), NULL, 2, &bb, &bb, NULL, 1, &bb, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, p, q, NULL, m, NULL), ENGINE_OK);
    assert_true(m[0] == 1 && m[1] == 0);

    /* Where: cond [2,1] (column), X [2,3], Y scalar -> [2,3] */
    engine_value vc = V(ENGINE_DTYPE_BOOL, 2, D(2, 1)), vx = V(ENGINE_DTYPE_F32, 2, D(2, 3)),
                 vs = V(ENGINE_DTYPE_F32, 0, NULL), vo = vx;
    const uint8_t c[2] = {0, 1};
    const float x[6] = {1, 2, 3, 4, 5, 6}, s = -1;
    float y[6];
    T(&t, OP_(Where), NULL, 3, &vc, &vx, &vs, 1, &vo, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, c, x, &s, y, NULL), ENGINE_OK);
    const float wy[6] = {-1, -1, -1, 4, 5, 6};
    assert_floats(y, wy, 6, 0);

    /* Where on int64 with a row condition: [3] cond, [2,3] X, [2,1] Y */
    engine_value rc = V(ENGINE_DTYPE_BOOL, 1, D(3)), ix = V(ENGINE_DTYPE_I64, 2, D(2, 3)),
                 iy = V(ENGINE_DTYPE_I64, 2, D(2, 1)), io = ix;
    const uint8_t rcd[3] = {1, 0, 1};
    const int64_t ixd[6] = {1, 2, 3, 4, 5, 6}, iyd[2] = {-10, -20};
    int64_t out[6];
    T(&t, OP_(Where), NULL, 3, &rc, &ix, &iy, 1, &io, NULL);
    assert_int_equal(call(&t, rcd, ixd, iyd, out, NULL), ENGINE_OK);
    const int64_t wout[6] = {1, -10, 3, 4, -20, 6};
    assert_memory_equal(out, wout, sizeof wout);
}

/* ---- reduce ---- */

static void test_reduce(void **state) {
    (void)state;
    float x[12];
    for (int i = 0; i < 12; ++i) x[i] = (float)i;
    engine_value vx = V(ENGINE_DTYPE_F32, 3, D(2, 3, 2)), keep = V(ENGINE_DTYPE_F32, 3, D(1, 3, 1)),
                 drop = V(ENGINE_DTYPE_F32, 1, D(3));
    engine_reduce_params p = {(1u << 0) | (1u << 2), 1};
    float y[3];
    tnode t;
    T(&t, OP_(ReduceSum), &p, 1, &vx, NULL, NULL, 1, &keep, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float wsum[3] = {14, 22, 30};
    assert_floats(y, wsum, 3, 0);
    p.keepdims = 0;
    T(&t, OP_(ReduceMean), &p, 1, &vx, NULL, NULL, 1, &drop, NULL);
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float wmean[3] = {3.5f, 5.5f, 7.5f};
    assert_floats(y, wmean, 3, 0);
    T(&t, OP_(ReduceMax), &p, 1, &vx, NULL, NULL, 1, &drop, NULL);
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float wmax[3] = {7, 9, 11};
    assert_floats(y, wmax, 3, 0);

    /* all axes, keepdims 1 -> [1,1,1]; keepdims 0 -> scalar */
    engine_reduce_params all = {7u, 1};
    engine_value one = V(ENGINE_DTYPE_F32, 3, D(1, 1, 1)), scal = V(ENGINE_DTYPE_F32, 0, NULL);
    T(&t, OP_(ReduceMean), &all, 1, &vx, NULL, NULL, 1, &one, NULL);
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 5.5f);
    all.keepdims = 0;
    T(&t, OP_(ReduceMax), &all, 1, &vx, NULL, NULL, 1, &scal, NULL);
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    assert_true(y[0] == 11);

    /* int64 ReduceSum over axis 1 of [2,3] */
    engine_value ix = V(ENGINE_DTYPE_I64, 2, D(2, 3)), iy = V(ENGINE_DTYPE_I64, 2, D(2, 1));
    const int64_t xi[6] = {1, -2, 3, 40, 50, -60};
    int64_t yi[2];
    engine_reduce_params p1 = {1u << 1, 1};
    T(&t, OP_(ReduceSum), &p1, 1, &ix, NULL, NULL, 1, &iy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, xi, NULL, NULL, yi, NULL), ENGINE_OK);
    assert_true(yi[0] == 2 && yi[1] == 30);
    T(&t, OP_(ReduceMax), &p1, 1, &ix, NULL, NULL, 1, &iy, NULL);
    assert_int_equal(call(&t, xi, NULL, NULL, yi, NULL), ENGINE_OK);
    assert_true(yi[0] == 3 && yi[1] == 50);
    T(&t, OP_(ReduceMean), &p1, 1, &ix, NULL, NULL, 1, &iy, NULL);
    assert_false(ref_supports(&t.n));
    assert_int_equal(call(&t, xi, NULL, NULL, yi, NULL), ENGINE_ERR_UNSUPPORTED);
}

/* ---- tensor ---- */

static void iota_f(float *x, int n) {
    for (int i = 0; i < n; ++i) x[i] = (float)i;
}

static void test_slice(void **state) {
    (void)state;
    float x[12], y[12];
    iota_f(x, 12);
    engine_value vx = V(ENGINE_DTYPE_F32, 2, D(3, 4)), vy = V(ENGINE_DTYPE_F32, 2, D(3, 2));
    engine_slice_params p = {{2, 3}, {-1, -2}};
    tnode t;
    T(&t, OP_(Slice), &p, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float want[6] = {11, 9, 7, 5, 3, 1};
    assert_floats(y, want, 6, 0);
    /* positive step 2 on rows 0..2, columns 1..2, int8 elements */
    engine_value bx = V(ENGINE_DTYPE_I8, 2, D(3, 4)), by = V(ENGINE_DTYPE_I8, 2, D(2, 2));
    int8_t b[12], c[4];
    for (int i = 0; i < 12; ++i) b[i] = (int8_t)(i - 6);
    engine_slice_params q = {{0, 1}, {2, 1}};
    T(&t, OP_(Slice), &q, 1, &bx, NULL, NULL, 1, &by, NULL);
    assert_int_equal(call(&t, b, NULL, NULL, c, NULL), ENGINE_OK);
    const int8_t wc[4] = {-5, -4, 3, 4};
    assert_memory_equal(c, wc, 4);
    /* out of range start is a shape error, not a wild read */
    engine_slice_params r = {{3, 0}, {1, 1}};
    T(&t, OP_(Slice), &r, 1, &bx, NULL, NULL, 1, &by, NULL);
    assert_int_equal(call(&t, b, NULL, NULL, c, NULL), ENGINE_ERR_SHAPE);
}

static void test_pad(void **state) {
    (void)state;
    const float x[6] = {1, 2, 3, 4, 5, 6};
    float y[32];
    engine_value vx = V(ENGINE_DTYPE_F32, 2, D(2, 3)), vy = V(ENGINE_DTYPE_F32, 2, D(2, 6));
    engine_pad_params p;
    memset(&p, 0, sizeof p);
    p.pad_begin[1] = 2;
    p.pad_end[1] = 1;
    tnode t;
    T(&t, OP_(Pad), &p, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));

    p.mode = ENGINE_PAD_REFLECT;
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float wr[12] = {3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5};
    assert_floats(y, wr, 12, 0);

    p.mode = ENGINE_PAD_EDGE;
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float we[12] = {1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6};
    assert_floats(y, we, 12, 0);

    p.mode = ENGINE_PAD_CONSTANT;
    p.value = 9.5;
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float wc[12] = {9.5f, 9.5f, 1, 2, 3, 9.5f, 9.5f, 9.5f, 4, 5, 6, 9.5f};
    assert_floats(y, wc, 12, 0);

    /* negative pad crops: begin {1,-1}, end {0,0} -> [3,2] */
    engine_pad_params c;
    memset(&c, 0, sizeof c);
    c.pad_begin[0] = 1;
    c.pad_begin[1] = -1;
    c.value = -7;
    engine_value vc = V(ENGINE_DTYPE_F32, 2, D(3, 2));
    T(&t, OP_(Pad), &c, 1, &vx, NULL, NULL, 1, &vc, NULL);
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float wcrop[6] = {-7, -7, 2, 3, 5, 6};
    assert_floats(y, wcrop, 6, 0);

    /* reflect on both dims of int64 data, pads 1 on every side: [4,5] */
    engine_value ix = V(ENGINE_DTYPE_I64, 2, D(2, 3)), iy = V(ENGINE_DTYPE_I64, 2, D(4, 5));
    const int64_t xi[6] = {1, 2, 3, 4, 5, 6};
    int64_t yi[20];
    engine_pad_params r;
    memset(&r, 0, sizeof r);
    r.mode = ENGINE_PAD_REFLECT;
    for (int d = 0; d < 2; ++d) r.pad_begin[d] = r.pad_end[d] = 1;
    T(&t, OP_(Pad), &r, 1, &ix, NULL, NULL, 1, &iy, NULL);
    assert_int_equal(call(&t, xi, NULL, NULL, yi, NULL), ENGINE_OK);
    const int64_t wri[20] = {5, 4, 5, 6, 5, 2, 1, 2, 3, 2, 5, 4, 5, 6, 5, 2, 1, 2, 3, 2};
    assert_memory_equal(yi, wri, sizeof wri);
    /* constant int64 pad value */
    r.mode = ENGINE_PAD_CONSTANT;
    r.value = -3;
    assert_int_equal(call(&t, xi, NULL, NULL, yi, NULL), ENGINE_OK);
    const int64_t wci[20] = {-3, -3, -3, -3, -3, -3, 1, 2, 3, -3, -3, 4, 5, 6, -3, -3, -3, -3, -3, -3};
    assert_memory_equal(yi, wci, sizeof wci);
}

static void test_transpose(void **state) {
    (void)state;
    float x[24], y[24];
    iota_f(x, 24);
    engine_value vx = V(ENGINE_DTYPE_F32, 3, D(2, 3, 4)), vy = V(ENGINE_DTYPE_F32, 3, D(4, 2, 3));
    engine_transpose_params p = {{2, 0, 1}};
    tnode t;
    T(&t, OP_(Transpose), &p, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 2; ++b)
            for (int c = 0; c < 3; ++c) assert_true(y[(a * 2 + b) * 3 + c] == x[(b * 3 + c) * 4 + a]);
    /* 2-D uint16-sized (float16) transpose */
    engine_value hx = V(ENGINE_DTYPE_F16, 2, D(2, 3)), hy = V(ENGINE_DTYPE_F16, 2, D(3, 2));
    const uint16_t h[6] = {1, 2, 3, 4, 5, 6};
    uint16_t g[6];
    engine_transpose_params q = {{1, 0}};
    T(&t, OP_(Transpose), &q, 1, &hx, NULL, NULL, 1, &hy, NULL);
    assert_int_equal(call(&t, h, NULL, NULL, g, NULL), ENGINE_OK);
    const uint16_t wg[6] = {1, 4, 2, 5, 3, 6};
    assert_memory_equal(g, wg, sizeof wg);
}

static void test_gather(void **state) {
    (void)state;
    float x[12], y[12];
    iota_f(x, 12);
    engine_value vx = V(ENGINE_DTYPE_F32, 2, D(3, 4));
    engine_value vi = V(ENGINE_DTYPE_I64, 1, D(2)), vy = V(ENGINE_DTYPE_F32, 2, D(2, 4));
    const int64_t idx[2] = {-1, 0};
    engine_axis_params p;
    memset(&p, 0, sizeof p);
    tnode t;
    T(&t, OP_(Gather), &p, 2, &vx, &vi, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, idx, NULL, y, NULL), ENGINE_OK);
    const float w0[8] = {8, 9, 10, 11, 0, 1, 2, 3};
    assert_floats(y, w0, 8, 0);

    /* axis 1, int32 indices of shape [1,2] -> [3,1,2] */
    engine_value wi = V(ENGINE_DTYPE_I32, 2, D(1, 2)), wy = V(ENGINE_DTYPE_F32, 3, D(3, 1, 2));
    const int32_t idx2[2] = {3, -3};
    p.axis = 1;
    T(&t, OP_(Gather), &p, 2, &vx, &wi, NULL, 1, &wy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, idx2, NULL, y, NULL), ENGINE_OK);
    const float w1[6] = {3, 1, 7, 5, 11, 9};
    assert_floats(y, w1, 6, 0);

    /* scalar index on int64 data (the shape-subgraph pattern) and an out-of-range index */
    engine_value sx = V(ENGINE_DTYPE_I64, 1, D(4)), si = V(ENGINE_DTYPE_I64, 0, NULL), sy = si;
    const int64_t dims[4] = {1, 3, 224, 224}, k = -3;
    int64_t out;
    p.axis = 0;
    T(&t, OP_(Gather), &p, 2, &sx, &si, NULL, 1, &sy, NULL);
    assert_int_equal(call(&t, dims, &k, NULL, &out, NULL), ENGINE_OK);
    assert_true(out == 3);
    const int64_t bad = 4;
    assert_int_equal(call(&t, dims, &bad, NULL, &out, NULL), ENGINE_ERR_INVALID_ARGUMENT);
}

static uint16_t f2h(float f) {
    engine_value vx = V(ENGINE_DTYPE_F32, 0, NULL), vy = V(ENGINE_DTYPE_F16, 0, NULL);
    engine_cast_params p = {ENGINE_DTYPE_F16, 0};
    tnode t;
    T(&t, OP_(Cast), &p, 1, &vx, NULL, NULL, 1, &vy, NULL);
    uint16_t h = 0;
    assert_int_equal(call(&t, &f, NULL, NULL, &h, NULL), ENGINE_OK);
    return h;
}

static void test_cast_f16(void **state) {
    (void)state;
    struct {
        float f;
        uint16_t h;
    } cases[] = {
        {1.0f, 0x3c00},        {-2.0f, 0xc000},          {0.0f, 0x0000},          {-0.0f, 0x8000},
        {65504.0f, 0x7bff},    {65520.0f, 0x7c00},       {65519.0f, 0x7bff},      {1e6f, 0x7c00},
        {INFINITY, 0x7c00},    {-INFINITY, 0xfc00},      {0x1p-24f, 0x0001},      {0x1p-25f, 0x0000},
        {0x1.8p-25f, 0x0001},  {0x1.8p-24f, 0x0002},     {0x1.ff8p-15f, 0x03ff},  {0x1p-14f, 0x0400},
        {0x1.ffcp-15f, 0x0400}, {0x1.002p+0f, 0x3c00},   {0x1.006p+0f, 0x3c02},   {0.1f, 0x2e66},
        {-0x1p-26f, 0x8000},   {1e-40f, 0x0000},         {0x1.ff8p-16f, 0x0200}, {0x1.ff4p-16f, 0x01ff}, {0x1.ffcp-16f, 0x0200}, {0x1.002p-14f, 0x0400}, {0x1.004p-14f, 0x0401}, {0x1.006p-14f, 0x0402},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        uint16_t h = f2h(cases[i].f);
        if (h != cases[i].h) {
            print_error("case %zu: %a -> 0x%04x, want 0x%04x\n", i, (double)cases[i].f, h, cases[i].h);
            fail();
        }
    }
    uint16_t nan_h = f2h(NAN);
    assert_true((nan_h & 0x7c00) == 0x7c00 && (nan_h & 0x3ff) != 0);

    /* Every non-NaN half survives f16 -> f32 -> f16, and f16 -> f32 is exact. */
    static uint16_t all[65536];
    static float as_f[65536];
    static uint16_t back[65536];
    for (int i = 0; i < 65536; ++i) all[i] = (uint16_t)i;
    engine_value h = V(ENGINE_DTYPE_F16, 1, D(65536)), f = V(ENGINE_DTYPE_F32, 1, D(65536));
    engine_cast_params to32 = {ENGINE_DTYPE_F32, 0}, to16 = {ENGINE_DTYPE_F16, 0};
    tnode t;
    T(&t, OP_(Cast), &to32, 1, &h, NULL, NULL, 1, &f, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, all, NULL, NULL, as_f, NULL), ENGINE_OK);
    T(&t, OP_(Cast), &to16, 1, &f, NULL, NULL, 1, &h, NULL);
    assert_int_equal(call(&t, as_f, NULL, NULL, back, NULL), ENGINE_OK);
    for (int i = 0; i < 65536; ++i) {
        int is_nan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff) != 0;
        if (is_nan) {
            assert_true(isnan(as_f[i]));
            continue;
        }
        /* value = (-1)^s * 2^(e-15) * (1 + m/1024), or m * 2^-24 when e == 0 */
        int s = i >> 15, e = (i >> 10) & 31, m = i & 1023;
        double want = e == 0 ? ldexp(m, -24) : e == 31 ? INFINITY : ldexp(1024 + m, e - 25);
        if (s) want = -want;
        assert_true((double)as_f[i] == want);
        assert_int_equal(back[i], i);
    }
}

static void test_cast_other(void **state) {
    (void)state;
    tnode t;
    engine_cast_params p = {0, 0};
    /* float32 -> int32 truncates toward zero; -> bool is x != 0; -> uint8 */
    const float fx[5] = {-1.7f, 2.9f, -0.5f, 0.0f, NAN};
    engine_value f5 = V(ENGINE_DTYPE_F32, 1, D(5)), i5 = V(ENGINE_DTYPE_I32, 1, D(5)), b5 = V(ENGINE_DTYPE_BOOL, 1, D(5));
    int32_t yi[5];
    uint8_t yb[5];
    p.to = ENGINE_DTYPE_I32;
    T(&t, OP_(Cast), &p, 1, &f5, NULL, NULL, 1, &i5, NULL);
    assert_int_equal(call(&t, fx, NULL, NULL, yi, NULL), ENGINE_OK);
    assert_true(yi[0] == -1 && yi[1] == 2 && yi[2] == 0 && yi[3] == 0);
    p.to = ENGINE_DTYPE_BOOL;
    T(&t, OP_(Cast), &p, 1, &f5, NULL, NULL, 1, &b5, NULL);
    assert_int_equal(call(&t, fx, NULL, NULL, yb, NULL), ENGINE_OK);
    const uint8_t wb[5] = {1, 1, 1, 0, 1};
    assert_memory_equal(yb, wb, 5);

    /* int64 -> float32, int32, int8, uint8, float64 */
    const int64_t ix[4] = {-1, 300, 16777217, -129};
    engine_value i4 = V(ENGINE_DTYPE_I64, 1, D(4));
    engine_value f4 = V(ENGINE_DTYPE_F32, 1, D(4)), d4 = V(ENGINE_DTYPE_F64, 1, D(4)),
                 s4 = V(ENGINE_DTYPE_I8, 1, D(4)), u4 = V(ENGINE_DTYPE_U8, 1, D(4)), w4 = V(ENGINE_DTYPE_I32, 1, D(4));
    float yf[4];
    double yd[4];
    int8_t ys[4];
    uint8_t yu[4];
    int32_t yw[4];
    T(&t, OP_(Cast), &p, 1, &i4, NULL, NULL, 1, &f4, NULL);
    assert_int_equal(call(&t, ix, NULL, NULL, yf, NULL), ENGINE_OK);
    assert_true(yf[0] == -1.0f && yf[1] == 300.0f && yf[2] == 16777216.0f && yf[3] == -129.0f);
    T(&t, OP_(Cast), &p, 1, &i4, NULL, NULL, 1, &d4, NULL);
    assert_int_equal(call(&t, ix, NULL, NULL, yd, NULL), ENGINE_OK);
    assert_true(yd[2] == 16777217.0);
    T(&t, OP_(Cast), &p, 1, &i4, NULL, NULL, 1, &s4, NULL);
    assert_int_equal(call(&t, ix, NULL, NULL, ys, NULL), ENGINE_OK);
    assert_true(ys[0] == -1 && ys[1] == 44 && ys[2] == 1 && ys[3] == 127);
    T(&t, OP_(Cast), &p, 1, &i4, NULL, NULL, 1, &u4, NULL);
    assert_int_equal(call(&t, ix, NULL, NULL, yu, NULL), ENGINE_OK);
    assert_true(yu[0] == 255 && yu[1] == 44 && yu[2] == 1 && yu[3] == 127);
    T(&t, OP_(Cast), &p, 1, &i4, NULL, NULL, 1, &w4, NULL);
    assert_int_equal(call(&t, ix, NULL, NULL, yw, NULL), ENGINE_OK);
    assert_true(yw[0] == -1 && yw[1] == 300 && yw[2] == 16777217 && yw[3] == -129);

    /* bool -> float32, float64 -> float32, uint8 -> int64 */
    const uint8_t bx[4] = {0, 1, 1, 0};
    engine_value bb = V(ENGINE_DTYPE_BOOL, 1, D(4));
    T(&t, OP_(Cast), &p, 1, &bb, NULL, NULL, 1, &f4, NULL);
    assert_int_equal(call(&t, bx, NULL, NULL, yf, NULL), ENGINE_OK);
    assert_true(yf[0] == 0 && yf[1] == 1 && yf[2] == 1 && yf[3] == 0);
    const double dx[4] = {0.1, -2.5, 1e300, -1e-300};
    T(&t, OP_(Cast), &p, 1, &d4, NULL, NULL, 1, &f4, NULL);
    assert_int_equal(call(&t, dx, NULL, NULL, yf, NULL), ENGINE_OK);
    assert_true(yf[0] == 0.1f && yf[1] == -2.5f && isinf(yf[2]) && yf[3] == 0.0f && signbit(yf[3]));
    const uint8_t ux[4] = {0, 200, 255, 7};
    int64_t yl[4];
    T(&t, OP_(Cast), &p, 1, &u4, NULL, NULL, 1, &i4, NULL);
    assert_int_equal(call(&t, ux, NULL, NULL, yl, NULL), ENGINE_OK);
    assert_true(yl[0] == 0 && yl[1] == 200 && yl[2] == 255 && yl[3] == 7);
    /* huge float -> int64 saturates instead of UB */
    const float huge[4] = {1e30f, -1e30f, 5.5f, -5.5f};
    T(&t, OP_(Cast), &p, 1, &f4, NULL, NULL, 1, &i4, NULL);
    assert_int_equal(call(&t, huge, NULL, NULL, yl, NULL), ENGINE_OK);
    assert_true(yl[0] == INT64_MAX && yl[1] == INT64_MIN && yl[2] == 5 && yl[3] == -5);
}

static void test_tile_expand(void **state) {
    (void)state;
    const float x[4] = {1, 2, 3, 4};
    float y[24];
    engine_value vx = V(ENGINE_DTYPE_F32, 2, D(2, 2)), vy = V(ENGINE_DTYPE_F32, 2, D(4, 6));
    tnode t;
    T(&t, OP_(Tile), NULL, 2, &vx, NULL, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 6; ++j) assert_true(y[i * 6 + j] == x[(i % 2) * 2 + j % 2]);

    const float c[3] = {5, 6, 7};
    engine_value vc = V(ENGINE_DTYPE_F32, 2, D(3, 1)), ve = V(ENGINE_DTYPE_F32, 3, D(2, 3, 4));
    T(&t, OP_(Expand), NULL, 2, &vc, NULL, NULL, 1, &ve, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, c, NULL, NULL, y, NULL), ENGINE_OK);
    for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 3; ++b)
            for (int k = 0; k < 4; ++k) assert_true(y[(a * 3 + b) * 4 + k] == c[b]);

    /* bool Expand of a scalar */
    engine_value bs = V(ENGINE_DTYPE_BOOL, 0, NULL), bo = V(ENGINE_DTYPE_BOOL, 2, D(2, 2));
    const uint8_t one = 1;
    uint8_t ob[4] = {0};
    T(&t, OP_(Expand), NULL, 2, &bs, NULL, NULL, 1, &bo, NULL);
    assert_int_equal(call(&t, &one, NULL, NULL, ob, NULL), ENGINE_OK);
    assert_true(ob[0] && ob[1] && ob[2] && ob[3]);
}

static void test_depth_space(void **state) {
    (void)state;
    float x[32], y[32], z[32];
    iota_f(x, 32);
    engine_axis_params p;
    memset(&p, 0, sizeof p);
    p.blocksize = 2;
    tnode t;
    /* [1,8,1,1] -> [1,2,2,2] */
    engine_value vx = V(ENGINE_DTYPE_F32, 4, D(1, 8, 1, 1)), vy = V(ENGINE_DTYPE_F32, 4, D(1, 2, 2, 2));
    T(&t, OP_(DepthToSpace), &p, 1, &vx, NULL, NULL, 1, &vy, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float dcr[8] = {0, 2, 4, 6, 1, 3, 5, 7};
    assert_floats(y, dcr, 8, 0);
    p.crd = 1;
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float crd[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    assert_floats(y, crd, 8, 0);

    /* SpaceToDepth: [1,2,2,2] -> [1,8,1,1] */
    p.crd = 0;
    T(&t, OP_(SpaceToDepth), &p, 1, &vy, NULL, NULL, 1, &vx, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    const float s2d[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    assert_floats(y, s2d, 8, 0);

    /* With spatial extent: DCR DepthToSpace [1,8,2,2] -> [1,2,4,4], undone by SpaceToDepth. */
    engine_value bx = V(ENGINE_DTYPE_F32, 4, D(1, 8, 2, 2)), by = V(ENGINE_DTYPE_F32, 4, D(1, 2, 4, 4));
    T(&t, OP_(DepthToSpace), &p, 1, &bx, NULL, NULL, 1, &by, NULL);
    assert_int_equal(call(&t, x, NULL, NULL, y, NULL), ENGINE_OK);
    for (int c = 0; c < 2; ++c)
        for (int h = 0; h < 4; ++h)
            for (int w = 0; w < 4; ++w) {
                int ch = ((h % 2) * 2 + w % 2) * 2 + c;
                assert_true(y[(c * 4 + h) * 4 + w] == x[(ch * 2 + h / 2) * 2 + w / 2]);
            }
    T(&t, OP_(SpaceToDepth), &p, 1, &by, NULL, NULL, 1, &bx, NULL);
    assert_int_equal(call(&t, y, NULL, NULL, z, NULL), ENGINE_OK);
    assert_floats(z, x, 32, 0);
}

static void test_concat_split_misc(void **state) {
    (void)state;
    tnode t;
    engine_axis_params p;
    memset(&p, 0, sizeof p);
    p.axis = 1;
    /* Concat [2,1] + [2,2] on axis 1 -> [2,3], int64 */
    engine_value a = V(ENGINE_DTYPE_I64, 2, D(2, 1)), b = V(ENGINE_DTYPE_I64, 2, D(2, 2)),
                 y = V(ENGINE_DTYPE_I64, 2, D(2, 3));
    const int64_t ad[2] = {1, 2}, bd[4] = {3, 4, 5, 6};
    int64_t yd[6];
    T(&t, OP_(Concat), &p, 2, &a, &b, NULL, 1, &y, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, ad, bd, NULL, yd, NULL), ENGINE_OK);
    const int64_t wy[6] = {1, 3, 4, 2, 5, 6};
    assert_memory_equal(yd, wy, sizeof wy);
    /* and Split it back */
    int64_t a2[2], b2[4];
    T(&t, OP_(Split), &p, 1, &y, NULL, NULL, 2, &a, &b);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, yd, NULL, NULL, a2, b2), ENGINE_OK);
    assert_memory_equal(a2, ad, sizeof ad);
    assert_memory_equal(b2, bd, sizeof bd);

    /* Shape with start/end */
    engine_value x = V(ENGINE_DTYPE_F32, 4, D(1, 3, 224, 112)), s = V(ENGINE_DTYPE_I64, 1, D(2));
    engine_axis_params sp;
    memset(&sp, 0, sizeof sp);
    sp.start = 2;
    sp.end = 4;
    int64_t sd[2];
    T(&t, OP_(Shape), &sp, 1, &x, NULL, NULL, 1, &s, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, NULL, NULL, NULL, sd, NULL), ENGINE_OK);
    assert_true(sd[0] == 224 && sd[1] == 112);

    /* ConstantOfShape int64 and float32 */
    engine_cast_params cp = {0, 7.0};
    engine_value shp = V(ENGINE_DTYPE_I64, 1, D(1)), ci = V(ENGINE_DTYPE_I64, 1, D(3)), cf = V(ENGINE_DTYPE_F32, 1, D(3));
    const int64_t three = 3;
    int64_t cid[3];
    float cfd[3];
    T(&t, OP_(ConstantOfShape), &cp, 1, &shp, NULL, NULL, 1, &ci, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, &three, NULL, NULL, cid, NULL), ENGINE_OK);
    assert_true(cid[0] == 7 && cid[2] == 7);
    cp.value = 0.25;
    T(&t, OP_(ConstantOfShape), &cp, 1, &shp, NULL, NULL, 1, &cf, NULL);
    assert_int_equal(call(&t, &three, NULL, NULL, cfd, NULL), ENGINE_OK);
    assert_true(cfd[0] == 0.25f && cfd[2] == 0.25f);

    /* Constant: from the output's data, else from the 'value' attribute */
    const float cdata[3] = {1.5f, 2.5f, 3.5f};
    engine_value co = V(ENGINE_DTYPE_F32, 1, D(3));
    co.data = (void *)cdata;
    T(&t, OP_(Constant), NULL, 0, NULL, NULL, NULL, 1, &co, NULL);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, NULL, NULL, NULL, cfd, NULL), ENGINE_OK);
    assert_floats(cfd, cdata, 3, 0);
    engine_value tv = co, co2 = V(ENGINE_DTYPE_F32, 1, D(3));
    engine_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.name = (char *)"value";
    attr.type = ENGINE_ATTR_TENSOR;
    attr.t = &tv;
    T(&t, OP_(Constant), NULL, 0, NULL, NULL, NULL, 1, &co2, NULL);
    t.n.n_attrs = 1;
    t.n.attrs = &attr;
    memset(cfd, 0, sizeof cfd);
    assert_int_equal(call(&t, NULL, NULL, NULL, cfd, NULL), ENGINE_OK);
    assert_floats(cfd, cdata, 3, 0);

    /* Dropout: copy and an all-true mask; Reshape and Flatten copy bytes */
    engine_value dx = V(ENGINE_DTYPE_F32, 2, D(1, 3)), dm = V(ENGINE_DTYPE_BOOL, 2, D(1, 3));
    float dy[3];
    uint8_t mask[3] = {0};
    T(&t, OP_(Dropout), NULL, 1, &dx, NULL, NULL, 2, &dx, &dm);
    assert_true(ref_supports(&t.n));
    assert_int_equal(call(&t, cdata, NULL, NULL, dy, mask), ENGINE_OK);
    assert_floats(dy, cdata, 3, 0);
    assert_true(mask[0] == 1 && mask[1] == 1 && mask[2] == 1);
    assert_int_equal(call(&t, cdata, NULL, NULL, dy, NULL), ENGINE_OK);
    engine_value r = V(ENGINE_DTYPE_F32, 1, D(3));
    T(&t, OP_(Reshape), NULL, 2, &dx, &shp, NULL, 1, &r, NULL);
    assert_true(ref_supports(&t.n));
    memset(dy, 0, sizeof dy);
    assert_int_equal(call(&t, cdata, &three, NULL, dy, NULL), ENGINE_OK);
    assert_floats(dy, cdata, 3, 0);
    engine_value r4 = V(ENGINE_DTYPE_F32, 1, D(4));
    T(&t, OP_(Flatten), NULL, 1, &dx, NULL, NULL, 1, &r4, NULL);
    assert_int_equal(call(&t, cdata, NULL, NULL, dy, NULL), ENGINE_ERR_SHAPE);
}

/* ---- the module ---- */

typedef struct counting {
    int allocs, frees, fail_at; /* fail_at: the allocation number to refuse (1-based), 0 never */
    size_t largest;
} counting;

static void *c_alloc(void *user, size_t size, size_t align) {
    counting *c = user;
    if (c->fail_at && c->allocs + 1 == c->fail_at) return NULL;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
    c->allocs++;
    if (size > c->largest) c->largest = size;
    return p;
}

static void c_free(void *user, void *ptr) {
    counting *c = user;
    if (ptr) c->frees++;
    free(ptr);
}

static int timing_calls;
static void on_timing(void *user, int k, double start, double ms) {
    (void)user;
    assert_int_equal(k, timing_calls);
    assert_true(start >= 0 && ms >= 0);
    timing_calls++;
}

#define BIG 4096

static void test_module(void **state) {
    (void)state;
    const engine_backend_iface *iface = engine_backend_entry();
    assert_non_null(iface);
    assert_int_equal(iface->abi_version, ENGINE_BACKEND_ABI_VERSION);
    assert_int_equal(iface->struct_size, sizeof(engine_backend_iface));
    assert_string_equal(iface->name, "ref");

    counting cnt = {0, 0, 0, 0};
    engine_backend_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.allocator.alloc = c_alloc;
    cfg.allocator.free = c_free;
    cfg.allocator.user = &cnt;
    static const engine_host_services host = {sizeof(engine_host_services), eng_plan_arena, NULL};
    cfg.host = &host;
    void *st = NULL;
    char err[256] = "";
    assert_int_equal(iface->create(&cfg, &st, err, sizeof err), ENGINE_OK);
    assert_int_equal(iface->score(st), 10);
    assert_non_null(iface->describe(st));

    /* x -> Relu -> t1 -> Mul(t1, w) -> t2 -> Add(t2, x) -> y; t1 is also a partition output. */
    engine_value x = V(ENGINE_DTYPE_F32, 1, D(4)), t1 = x, t2 = x, y = x, w = x;
    x.name = (char *)"x";
    t1.name = (char *)"t1";
    t2.name = (char *)"t2";
    y.name = (char *)"y";
    const float wd[4] = {2, 3, 4, 5};
    w.data = (void *)wd;
    w.flags = ENGINE_VALUE_CONST;
    tnode n0, n1, n2;
    T(&n0, OP_(Relu), NULL, 1, &x, NULL, NULL, 1, &t1, NULL);
    T(&n1, OP_(Mul), NULL, 2, &t1, &w, NULL, 1, &t2, NULL);
    T(&n2, OP_(Add), NULL, 2, &t2, &x, NULL, 1, &y, NULL);
    n0.n.name = (char *)"relu0";
    const engine_node *nodes[3] = {&n0.n, &n1.n, &n2.n};
    engine_value *pin[1] = {&x}, *pout[2] = {&y, &t1};
    engine_partition part = {nodes, 3, pin, 1, pout, 2};
    for (int k = 0; k < 3; ++k) assert_true(iface->supports(st, nodes[k]));

    void *prog = NULL;
    assert_int_equal(iface->compile(st, &part, &prog, err, sizeof err), ENGINE_OK);
    for (int rep = 0; rep < 2; ++rep) {
        const float xd[4] = {-1, 2, -3, 4.0f + (float)rep};
        float yd[4], t1d[4];
        const void *ins[1] = {xd};
        void *outs[2] = {yd, t1d};
        int before = cnt.allocs;
        timing_calls = 0;
        assert_int_equal(iface->run(st, prog, ins, outs, on_timing, NULL, err, sizeof err), ENGINE_OK);
        assert_int_equal(timing_calls, 3);
        assert_int_equal(cnt.allocs, before); /* nothing allocated per run */
        for (int i = 0; i < 4; ++i) {
            float r = xd[i] > 0 ? xd[i] : 0;
            assert_true(t1d[i] == r);
            assert_true(yd[i] == r * wd[i] + xd[i]);
        }
        assert_int_equal(iface->run(st, prog, ins, outs, NULL, NULL, err, sizeof err), ENGINE_OK);
    }
    iface->release(st, prog);

    /* Arena reuse: a 4-node chain of BIG floats, t1 [0,1], t2 [1,2], t3 [2,3]:
     * t3 takes t1's bytes, so the arena holds two buffers, not three. */
    static float bx[BIG], by[BIG];
    engine_value cx = V(ENGINE_DTYPE_F32, 1, D(BIG)), c1 = cx, c2 = cx, c3 = cx, cy = cx;
    tnode m0, m1, m2, m3;
    T(&m0, OP_(Neg), NULL, 1, &cx, NULL, NULL, 1, &c1, NULL);
    T(&m1, OP_(Abs), NULL, 1, &c1, NULL, NULL, 1, &c2, NULL);
    T(&m2, OP_(Neg), NULL, 1, &c2, NULL, NULL, 1, &c3, NULL);
    T(&m3, OP_(Relu), NULL, 1, &c3, NULL, NULL, 1, &cy, NULL);
    const engine_node *chain[4] = {&m0.n, &m1.n, &m2.n, &m3.n};
    engine_value *cin[1] = {&cx}, *cout[1] = {&cy};
    engine_partition cpart = {chain, 4, cin, 1, cout, 1};
    cnt.largest = 0;
    assert_int_equal(iface->compile(st, &cpart, &prog, err, sizeof err), ENGINE_OK);
    assert_int_equal(cnt.largest, 2 * BIG * sizeof(float));
    for (int i = 0; i < BIG; ++i) bx[i] = (float)(i % 7) - 3;
    const void *ins[1] = {bx};
    void *outs[1] = {by};
    assert_int_equal(iface->run(st, prog, ins, outs, NULL, NULL, err, sizeof err), ENGINE_OK);
    for (int i = 0; i < BIG; ++i) assert_true(by[i] == 0.0f); /* Relu(-|x|) */
    iface->release(st, prog);

    /* Out of memory at every allocation of compile: an error, and nothing leaks. */
    int total = cnt.allocs;
    assert_int_equal(iface->compile(st, &part, &prog, err, sizeof err), ENGINE_OK);
    int per_compile = cnt.allocs - total;
    iface->release(st, prog);
    for (int k = 1; k <= per_compile; ++k) {
        int a0 = cnt.allocs, f0 = cnt.frees;
        cnt.fail_at = a0 + k;
        prog = NULL;
        assert_int_equal(iface->compile(st, &part, &prog, err, sizeof err), ENGINE_ERR_OUT_OF_MEMORY);
        assert_null(prog);
        assert_int_equal(cnt.allocs - a0, cnt.frees - f0);
        cnt.fail_at = 0;
    }

    /* An unsupported node names itself and the dtypes. */
    engine_value h = V(ENGINE_DTYPE_F16, 1, D(4)), h2 = h;
    tnode bad;
    T(&bad, OP_(Relu), NULL, 1, &h, NULL, NULL, 1, &h2, NULL);
    bad.n.name = (char *)"halfrelu";
    const engine_node *bn[1] = {&bad.n};
    engine_value *bin[1] = {&h}, *bout[1] = {&h2};
    engine_partition bpart = {bn, 1, bin, 1, bout, 1};
    assert_int_equal(iface->compile(st, &bpart, &prog, err, sizeof err), ENGINE_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "node 'halfrelu' (Relu): not supported by ref"));
    assert_non_null(strstr(err, "float16"));

    /* A kernel failure at run names the node: integer division by zero. */
    engine_value ia = V(ENGINE_DTYPE_I64, 1, D(2)), ib = ia, iy = ia;
    tnode dv;
    T(&dv, OP_(Div), NULL, 2, &ia, &ib, NULL, 1, &iy, NULL);
    dv.n.name = (char *)"div0";
    const engine_node *dn[1] = {&dv.n};
    engine_value *din[2] = {&ia, &ib}, *dout[1] = {&iy};
    engine_partition dpart = {dn, 1, din, 2, dout, 1};
    assert_int_equal(iface->compile(st, &dpart, &prog, err, sizeof err), ENGINE_OK);
    const int64_t num[2] = {4, 5}, den[2] = {2, 0};
    int64_t q[2];
    const void *dins[2] = {num, den};
    void *douts[1] = {q};
    assert_int_not_equal(iface->run(st, prog, dins, douts, NULL, NULL, err, sizeof err), ENGINE_OK);
    assert_non_null(strstr(err, "node 'div0' (Div): "));
    iface->release(st, prog);

    iface->destroy(st);
    assert_int_equal(cnt.allocs, cnt.frees);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_activation_int_and_dtypes),
        cmocka_unit_test(test_prelu),
        cmocka_unit_test(test_broadcast_add),
        cmocka_unit_test(test_integer_arith),
        cmocka_unit_test(test_pow),
        cmocka_unit_test(test_dropout_training),
        cmocka_unit_test(test_equal_where),
        cmocka_unit_test(test_reduce),
        cmocka_unit_test(test_slice),
        cmocka_unit_test(test_pad),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_cast_f16),
        cmocka_unit_test(test_cast_other),
        cmocka_unit_test(test_tile_expand),
        cmocka_unit_test(test_depth_space),
        cmocka_unit_test(test_concat_split_misc),
        cmocka_unit_test(test_module),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
