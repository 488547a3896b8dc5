/* backends/ref/activation.c - reference kernels for the elementwise unary ops.
 *
 * Every op maps float32 -> float32 elementwise (math in double); Neg, Abs
 * and Sign also take int64/int32 (wrapping like two's complement:
 * |INT_MIN| = INT_MIN, without signed-overflow UB); Not maps bool -> bool.
 * Round is half to even (rint in the default rounding mode). PRelu broadcasts its slope to X
 * (unidirectional numpy broadcasting). */
#include <math.h>
#include <stdint.h>

#include "ref_kernels.h"

typedef enum {
    U_RELU, U_LEAKY, U_CLIP, U_SIGMOID, U_HSIGMOID, U_HSWISH, U_TANH, U_SOFTPLUS, U_ELU, U_SELU, U_MISH,
    U_SQRT, U_EXP, U_LOG, U_NEG, U_ABS, U_FLOOR, U_CEIL, U_ROUND, U_SIGN, U_RECIP, U_ERF, U_SIN, U_COS,
    U_SOFTSIGN, U_GELU, U_THRESH, U_CELU, U_SHRINK, U_NOT
} unary_kind;

static double softplus(double x) {
    /* log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|. */
    return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

static double sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double apply(unary_kind k, const engine_scalar_params *p, double x) {
    switch (k) {
    case U_RELU: return x < 0 ? 0.0 : x; /* NaN passes through */
    case U_LEAKY: return x >= 0 ? x : (double)p->alpha * x;
    case U_CLIP: {
        /* NaN passes through; min/max are +-INFINITY when absent. */
        if (x < (double)p->min) x = p->min;
        if (x > (double)p->max) x = p->max;
        return x;
    }
    case U_SIGMOID: return sigmoid(x);
    case U_HSIGMOID: return fmax(0.0, fmin(1.0, (double)p->alpha * x + (double)p->beta));
    case U_HSWISH: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case U_TANH: return tanh(x);
    case U_SOFTPLUS: return softplus(x);
    case U_ELU: return x >= 0 ? x : (double)p->alpha * expm1(x);
    case U_SELU: return (double)p->gamma * (x > 0 ? x : (double)p->alpha * expm1(x));
    case U_MISH: return x * tanh(softplus(x));
    case U_SQRT: return sqrt(x);
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_NEG: return -x;
    case U_ABS: return fabs(x);
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return rint(x);
    case U_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : x; /* 0 and NaN pass through */
    case U_RECIP: return 1.0 / x;
    case U_ERF: return erf(x);
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_SOFTSIGN: return x / (1.0 + fabs(x));
    case U_GELU:
        if (p->size == 1) /* approximate = "tanh" */
            return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case U_THRESH: return x > (double)p->alpha ? x : 0.0;
    case U_CELU: return fmax(0.0, x) + fmin(0.0, (double)p->alpha * expm1(x / (double)p->alpha));
    case U_SHRINK:
        return x < -(double)p->alpha ? x + (double)p->bias : x > (double)p->alpha ? x - (double)p->bias : 0.0;
    case U_NOT: return x == 0.0; /* bool inputs only reach it through unary() */
    }
    return x;
}

static int needs_params(unary_kind k) {
    return k == U_LEAKY || k == U_CLIP || k == U_HSIGMOID || k == U_ELU || k == U_SELU || k == U_GELU ||
           k == U_THRESH || k == U_CELU || k == U_SHRINK;
}

static engine_status unary(const engine_node *n, const void *const *in, void *const *out, unary_kind k) {
    const engine_value *x = engine_node_input(n, 0);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!x || !y || !in[0] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->dtype != y->dtype) return ENGINE_ERR_UNSUPPORTED;
    const engine_scalar_params *p = n->params;
    if (needs_params(k) && !p) return ENGINE_ERR_INVALID_ARGUMENT;
    int64_t count = engine_value_numel(y);

    if (x->dtype == ENGINE_DTYPE_F32) {
        const float *a = in[0];
        float *b = out[0];
        for (int64_t i = 0; i < count; ++i) b[i] = (float)apply(k, p, a[i]);
        return ENGINE_OK;
    }
    if (k == U_NOT) {
        if (x->dtype != ENGINE_DTYPE_BOOL) return ENGINE_ERR_UNSUPPORTED;
        const uint8_t *a = in[0];
        uint8_t *b = out[0];
        for (int64_t i = 0; i < count; ++i) b[i] = a[i] == 0;
        return ENGINE_OK;
    }
    if (k != U_NEG && k != U_ABS && k != U_SIGN) return ENGINE_ERR_UNSUPPORTED;
    if (x->dtype == ENGINE_DTYPE_I64) {
        const int64_t *a = in[0];
        int64_t *b = out[0];
        for (int64_t i = 0; i < count; ++i) {
            uint64_t u = (uint64_t)a[i];
            if (k == U_SIGN) b[i] = (a[i] > 0) - (a[i] < 0);
            else b[i] = (k == U_NEG || a[i] < 0) ? (int64_t)(0u - u) : a[i];
        }
        return ENGINE_OK;
    }
    if (x->dtype == ENGINE_DTYPE_I32) {
        const int32_t *a = in[0];
        int32_t *b = out[0];
        for (int64_t i = 0; i < count; ++i) {
            uint32_t u = (uint32_t)a[i];
            if (k == U_SIGN) b[i] = (a[i] > 0) - (a[i] < 0);
            else b[i] = (k == U_NEG || a[i] < 0) ? (int32_t)(0u - u) : a[i];
        }
        return ENGINE_OK;
    }
    return ENGINE_ERR_UNSUPPORTED;
}

#define UNARY_(Name, kind)                                                                       \
    engine_status ref_##Name(const engine_node *n, const void *const *in, void *const *out) {   \
        return unary(n, in, out, kind);                                                          \
    }
UNARY_(Relu, U_RELU)
UNARY_(LeakyRelu, U_LEAKY)
UNARY_(Clip, U_CLIP)
UNARY_(Sigmoid, U_SIGMOID)
UNARY_(HardSigmoid, U_HSIGMOID)
UNARY_(HardSwish, U_HSWISH)
UNARY_(Tanh, U_TANH)
UNARY_(Softplus, U_SOFTPLUS)
UNARY_(Elu, U_ELU)
UNARY_(Selu, U_SELU)
UNARY_(Mish, U_MISH)
UNARY_(Sqrt, U_SQRT)
UNARY_(Exp, U_EXP)
UNARY_(Log, U_LOG)
UNARY_(Neg, U_NEG)
UNARY_(Abs, U_ABS)
UNARY_(Floor, U_FLOOR)
UNARY_(Ceil, U_CEIL)
UNARY_(Round, U_ROUND)
UNARY_(Sign, U_SIGN)
UNARY_(Reciprocal, U_RECIP)
UNARY_(Erf, U_ERF)
UNARY_(Sin, U_SIN)
UNARY_(Cos, U_COS)
UNARY_(Softsign, U_SOFTSIGN)
UNARY_(Not, U_NOT)
UNARY_(Gelu, U_GELU)
UNARY_(ThresholdedRelu, U_THRESH)
UNARY_(Celu, U_CELU)
UNARY_(Shrink, U_SHRINK)
#undef UNARY_

/* PRelu: y = x < 0 ? slope * x : x, slope broadcast (right-aligned) to x. */
engine_status ref_PRelu(const engine_node *n, const void *const *in, void *const *out) {
    const engine_value *x = engine_node_input(n, 0), *s = engine_node_input(n, 1);
    const engine_value *y = n->n_outputs > 0 ? n->outputs[0] : NULL;
    if (!x || !s || !y || !in[0] || !in[1] || !out[0]) return ENGINE_ERR_INVALID_ARGUMENT;
    if (x->dtype != ENGINE_DTYPE_F32 || s->dtype != ENGINE_DTYPE_F32 || y->dtype != ENGINE_DTYPE_F32)
        return ENGINE_ERR_UNSUPPORTED;
    if (s->rank > y->rank || y->rank > ENGINE_MAX_RANK) return ENGINE_ERR_SHAPE;
    /* Strides of the slope seen at the output's rank, 0 on broadcast dims. */
    int64_t sstride[ENGINE_MAX_RANK] = {0};
    int64_t st = 1;
    for (int d = s->rank - 1; d >= 0; --d) {
        int od = d + (y->rank - s->rank);
        if (s->dims[d] != 1 && s->dims[d] != y->dims[od]) return ENGINE_ERR_SHAPE;
        sstride[od] = s->dims[d] == 1 ? 0 : st;
        st *= s->dims[d];
    }
    const float *a = in[0], *sl = in[1];
    float *b = out[0];
    int64_t count = engine_value_numel(y);
    for (int64_t i = 0; i < count; ++i) {
        int64_t rem = i, off = 0;
        for (int d = y->rank - 1; d >= 0; --d) {
            off += (rem % y->dims[d]) * sstride[d];
            rem /= y->dims[d];
        }
        b[i] = a[i] < 0 ? sl[off] * a[i] : a[i];
    }
    return ENGINE_OK;
}
