/* ops/activation.c - shape inference for the elementwise unary ops:
 * the output has input 0's dtype and shape; the params hold the op's
 * scalar attributes (ops.h, engine_scalar_params). */
#include <math.h>
#include <string.h>

#include "ops_util.h"

static engine_status attach(eng_graph *g, engine_node *n, const engine_scalar_params *p) {
    engine_scalar_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = *p;
    return ENGINE_OK;
}

/* One input of a dtype in mask, output like the input, params attached. */
static engine_status unary(eng_graph *g, engine_node *n, unsigned mask, const engine_scalar_params *p) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "X", mask))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    return attach(g, n, p);
}

static engine_scalar_params defaults(void) {
    engine_scalar_params p;
    memset(&p, 0, sizeof p);
    p.min = -INFINITY;
    p.max = INFINITY;
    return p;
}

#define PLAIN_UNARY_(Name, mask)                                                                                      \
    engine_status eng_infer_##Name(eng_graph *g, engine_node *n) {                                                   \
        engine_scalar_params p = defaults();                                                                         \
        return unary(g, n, mask, &p);                                                                                \
    }

PLAIN_UNARY_(Relu, ENG_DT_FLOAT)
PLAIN_UNARY_(Sigmoid, ENG_DT_FLOAT)
PLAIN_UNARY_(HardSwish, ENG_DT_FLOAT)
PLAIN_UNARY_(Tanh, ENG_DT_FLOAT)
PLAIN_UNARY_(Softplus, ENG_DT_FLOAT)
PLAIN_UNARY_(Mish, ENG_DT_FLOAT)
PLAIN_UNARY_(Sqrt, ENG_DT_FLOAT)
PLAIN_UNARY_(Exp, ENG_DT_FLOAT)
PLAIN_UNARY_(Log, ENG_DT_FLOAT)
PLAIN_UNARY_(Neg, ENG_DT_NUM)
PLAIN_UNARY_(Abs, ENG_DT_NUM)
PLAIN_UNARY_(Floor, ENG_DT_FLOAT)
PLAIN_UNARY_(Ceil, ENG_DT_FLOAT)
PLAIN_UNARY_(Round, ENG_DT_FLOAT)
PLAIN_UNARY_(Sign, ENG_DT_NUM)
PLAIN_UNARY_(Reciprocal, ENG_DT_FLOAT)
PLAIN_UNARY_(Sin, ENG_DT_FLOAT)
PLAIN_UNARY_(Cos, ENG_DT_FLOAT)
PLAIN_UNARY_(Softsign, ENG_DT_FLOAT)
PLAIN_UNARY_(Not, ENG_DT(ENGINE_DTYPE_BOOL))
/* Erf (ONNX allows integer inputs too) and Shrink below: float32 only here;
 * an integer input is refused by eng_check_dtype with its dtype named. */
PLAIN_UNARY_(Erf, ENG_DT_FLOAT)
#undef PLAIN_UNARY_

engine_status eng_infer_ThresholdedRelu(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st = eng_attr_float(g, n, "alpha", 1.0f, &p.alpha);
    return st ? st : unary(g, n, ENG_DT_FLOAT, &p);
}

engine_status eng_infer_Celu(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st = eng_attr_float(g, n, "alpha", 1.0f, &p.alpha);
    if (st) return st;
    if (p.alpha == 0.0f || isnan(p.alpha))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute alpha must be non-zero, got %g",
                              (double)p.alpha);
    return unary(g, n, ENG_DT_FLOAT, &p);
}

/* Shrink: y = x < -lambd ? x + bias : x > lambd ? x - bias : 0. */
engine_status eng_infer_Shrink(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st = eng_attr_float(g, n, "lambd", 0.5f, &p.alpha);
    if (!st) st = eng_attr_float(g, n, "bias", 0.0f, &p.bias);
    return st ? st : unary(g, n, ENG_DT_FLOAT, &p);
}

/* Gelu (opset 20): approximate "none" (erf) or "tanh". */
engine_status eng_infer_Gelu(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    const char *mode;
    engine_status st = eng_attr_string(g, n, "approximate", "none", &mode);
    if (st) return st;
    if (strcmp(mode, "tanh") == 0) p.size = 1;
    else if (strcmp(mode, "none") != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "attribute approximate must be \"none\" or \"tanh\", got \"%s\"", mode);
    return unary(g, n, ENG_DT_FLOAT, &p);
}

engine_status eng_infer_LeakyRelu(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st = eng_attr_float(g, n, "alpha", 0.01f, &p.alpha);
    return st ? st : unary(g, n, ENG_DT_FLOAT, &p);
}

engine_status eng_infer_Elu(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st = eng_attr_float(g, n, "alpha", 1.0f, &p.alpha);
    return st ? st : unary(g, n, ENG_DT_FLOAT, &p);
}

engine_status eng_infer_Selu(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st = eng_attr_float(g, n, "alpha", 1.67326319217681884765625f, &p.alpha);
    if (!st) st = eng_attr_float(g, n, "gamma", 1.05070102214813232421875f, &p.gamma);
    return st ? st : unary(g, n, ENG_DT_FLOAT, &p);
}

engine_status eng_infer_HardSigmoid(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st = eng_attr_float(g, n, "alpha", 0.2f, &p.alpha);
    if (!st) st = eng_attr_float(g, n, "beta", 0.5f, &p.beta);
    return st ? st : unary(g, n, ENG_DT_FLOAT, &p);
}

/* PRelu: the slope broadcasts to X one way (its dims, right-aligned, are 1
 * or X's). */
engine_status eng_infer_PRelu(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0], *s = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if ((st = eng_check_dtype(g, n, 1, "slope", ENG_DT_FLOAT))) return st;
    int ok = s->rank <= x->rank;
    for (int k = 0; ok && k < s->rank; ++k) {
        int64_t sd = s->dims[s->rank - 1 - k], xd = x->dims[x->rank - 1 - k];
        ok = sd == 1 || sd == xd;
    }
    if (!ok) {
        char bs[ENG_SHAPE_BUF], bx[ENG_SHAPE_BUF];
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "input 1 (slope) of shape %s does not broadcast to input 0 (X) of shape %s",
                              eng_shape_str(s->rank, s->dims, bs), eng_shape_str(x->rank, x->dims, bx));
    }
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_scalar_params p = defaults();
    return attach(g, n, &p);
}

/* Clip: min/max attributes before opset 11, optional constant inputs 1 and
 * 2 from opset 11. Absent bounds are -inf/+inf. */
engine_status eng_infer_Clip(eng_graph *g, engine_node *n) {
    engine_scalar_params p = defaults();
    engine_status st;
    if (eng_opset(g, n) < 11) {
        if ((st = eng_check_input_count(g, n, 1, 1))) return st;
        if ((st = eng_attr_float(g, n, "min", -INFINITY, &p.min))) return st;
        if ((st = eng_attr_float(g, n, "max", INFINITY, &p.max))) return st;
    } else {
        if ((st = eng_check_input_count(g, n, 1, 3))) return st;
        static const char *const names[] = {"input", "min", "max"};
        float *dst[3] = {NULL, &p.min, &p.max};
        for (int k = 1; k <= 2; ++k) {
            if (!eng_has_input(n, k)) continue;
            if ((st = eng_check_dtype(g, n, k, names[k], ENG_DT_FLOAT))) return st;
            double v;
            int present;
            if ((st = eng_const_scalar(g, n, k, &v, &present))) return st;
            if (present) *dst[k] = (float)v;
        }
    }
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    return attach(g, n, &p);
}
