/* ops/attr.c - attribute and input helpers shared by the shape functions. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops_util.h"

static const char *attr_type_name(engine_attr_type t) {
    switch (t) {
    case ENGINE_ATTR_FLOAT: return "float";
    case ENGINE_ATTR_INT: return "int";
    case ENGINE_ATTR_STRING: return "string";
    case ENGINE_ATTR_TENSOR: return "tensor";
    case ENGINE_ATTR_GRAPH: return "graph";
    case ENGINE_ATTR_FLOATS: return "floats";
    case ENGINE_ATTR_INTS: return "ints";
    case ENGINE_ATTR_STRINGS: return "strings";
    case ENGINE_ATTR_UNDEFINED: break;
    }
    return "undefined";
}

static engine_status wrong_type(eng_graph *g, const engine_node *n, const engine_attr *a, const char *want) {
    return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s' has type %s, expected %s", a->name,
                          attr_type_name(a->type), want);
}

engine_status eng_attr_int(eng_graph *g, const engine_node *n, const char *name, int64_t def, int64_t *out) {
    const engine_attr *a = engine_node_attr(n, name);
    if (!a) {
        *out = def;
        return ENGINE_OK;
    }
    if (a->type != ENGINE_ATTR_INT) return wrong_type(g, n, a, "int");
    *out = a->i;
    return ENGINE_OK;
}

engine_status eng_attr_float(eng_graph *g, const engine_node *n, const char *name, float def, float *out) {
    const engine_attr *a = engine_node_attr(n, name);
    if (!a) {
        *out = def;
        return ENGINE_OK;
    }
    /* Some exporters write integral floats as ints; accept them. */
    if (a->type == ENGINE_ATTR_INT) {
        *out = (float)a->i;
        return ENGINE_OK;
    }
    if (a->type != ENGINE_ATTR_FLOAT) return wrong_type(g, n, a, "float");
    *out = a->f;
    return ENGINE_OK;
}

engine_status eng_attr_string(eng_graph *g, const engine_node *n, const char *name, const char *def,
                              const char **out) {
    const engine_attr *a = engine_node_attr(n, name);
    if (!a) {
        *out = def;
        return ENGINE_OK;
    }
    if (a->type != ENGINE_ATTR_STRING) return wrong_type(g, n, a, "string");
    *out = a->s ? a->s : "";
    return ENGINE_OK;
}

engine_status eng_attr_ints(eng_graph *g, const engine_node *n, const char *name, int64_t *out, int max,
                            int *count) {
    const engine_attr *a = engine_node_attr(n, name);
    if (!a) {
        *count = -1;
        return ENGINE_OK;
    }
    if (a->type == ENGINE_ATTR_INT) { /* a single int where a list was expected */
        if (max < 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s' has 1 value, at most %d allowed",
                                  name, max);
        out[0] = a->i;
        *count = 1;
        return ENGINE_OK;
    }
    if (a->type != ENGINE_ATTR_INTS) return wrong_type(g, n, a, "ints");
    if (a->n > max)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s' has %d values, at most %d allowed",
                              name, a->n, max);
    for (int k = 0; k < a->n; ++k) out[k] = a->ints[k];
    *count = a->n;
    return ENGINE_OK;
}

engine_status eng_attr_floats(eng_graph *g, const engine_node *n, const char *name, float *out, int max,
                              int *count) {
    const engine_attr *a = engine_node_attr(n, name);
    if (!a) {
        *count = -1;
        return ENGINE_OK;
    }
    if (a->type == ENGINE_ATTR_FLOAT) {
        if (max < 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s' has 1 value, at most %d allowed",
                                  name, max);
        out[0] = a->f;
        *count = 1;
        return ENGINE_OK;
    }
    if (a->type != ENGINE_ATTR_FLOATS) return wrong_type(g, n, a, "floats");
    if (a->n > max)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute '%s' has %d values, at most %d allowed",
                              name, a->n, max);
    for (int k = 0; k < a->n; ++k) out[k] = a->floats[k];
    *count = a->n;
    return ENGINE_OK;
}

int eng_has_input(const engine_node *n, int k) {
    return k >= 0 && k < n->n_inputs && n->inputs[k] != NULL;
}

engine_status eng_require_input(eng_graph *g, const engine_node *n, int k, engine_value **out) {
    if (!eng_has_input(n, k))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required input %d is missing", k);
    engine_value *v = n->inputs[k];
    if (v->rank < 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d ('%s') has no known shape", k,
                              v->name ? v->name : "");
    *out = v;
    return ENGINE_OK;
}

static int value_is_const(const engine_value *v) {
    if (!(v->flags & ENGINE_VALUE_CONST) || v->rank < 0) return 0;
    return v->data != NULL || engine_value_numel(v) == 0;
}

/* Common checks of a constant shape-like input; *numel gets its length. */
static engine_status const_input(eng_graph *g, const engine_node *n, int k, int max, const engine_value **vout,
                                 int64_t *numel) {
    const engine_value *v = n->inputs[k];
    if (v->rank < 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d ('%s') has no known shape", k, v->name);
    if (!value_is_const(v))
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "input %d ('%s') is not constant; only static shapes are supported", k, v->name);
    int64_t count;
    if (!eng_numel_checked(v->rank, v->dims, &count) || count > max)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d ('%s') has too many values (at most %d allowed)",
                              k, v->name, max);
    *vout = v;
    *numel = count;
    return ENGINE_OK;
}

engine_status eng_const_ints(eng_graph *g, const engine_node *n, int k, int64_t *out, int max, int *count) {
    if (!eng_has_input(n, k)) {
        *count = -1;
        return ENGINE_OK;
    }
    const engine_value *v;
    int64_t numel;
    engine_status st = const_input(g, n, k, max, &v, &numel);
    if (st) return st;
    if (v->dtype == ENGINE_DTYPE_I64) {
        const int64_t *p = v->data;
        for (int64_t i = 0; i < numel; ++i) out[i] = p[i];
    } else if (v->dtype == ENGINE_DTYPE_I32) {
        const int32_t *p = v->data;
        for (int64_t i = 0; i < numel; ++i) out[i] = p[i];
    } else {
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d ('%s') has type %s, expected int64", k,
                              v->name, engine_dtype_name(v->dtype));
    }
    *count = (int)numel;
    return ENGINE_OK;
}

engine_status eng_const_floats(eng_graph *g, const engine_node *n, int k, float *out, int max, int *count) {
    if (!eng_has_input(n, k)) {
        *count = -1;
        return ENGINE_OK;
    }
    const engine_value *v;
    int64_t numel;
    engine_status st = const_input(g, n, k, max, &v, &numel);
    if (st) return st;
    if (v->dtype != ENGINE_DTYPE_F32 && v->dtype != ENGINE_DTYPE_F16 && v->dtype != ENGINE_DTYPE_F64)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d ('%s') has type %s, expected float", k,
                              v->name, engine_dtype_name(v->dtype));
    for (int64_t i = 0; i < numel; ++i) out[i] = (float)eng_tensor_elem(v, i);
    *count = (int)numel;
    return ENGINE_OK;
}

double eng_tensor_elem(const engine_value *v, int64_t k) {
    const void *d = v->data;
    if (!d) return 0.0;
    switch (v->dtype) {
    case ENGINE_DTYPE_F32: return ((const float *)d)[k];
    case ENGINE_DTYPE_F64: return ((const double *)d)[k];
    case ENGINE_DTYPE_F16: return eng_f16_to_f32(((const uint16_t *)d)[k]);
    case ENGINE_DTYPE_I64: return (double)((const int64_t *)d)[k];
    case ENGINE_DTYPE_I32: return ((const int32_t *)d)[k];
    case ENGINE_DTYPE_I8: return ((const int8_t *)d)[k];
    case ENGINE_DTYPE_U8: return ((const uint8_t *)d)[k];
    case ENGINE_DTYPE_BOOL: return ((const uint8_t *)d)[k] ? 1.0 : 0.0;
    case ENGINE_DTYPE_UNDEFINED: break;
    }
    return 0.0;
}

engine_status eng_const_scalar(eng_graph *g, const engine_node *n, int k, double *out, int *present) {
    *present = 0;
    if (!eng_has_input(n, k)) return ENGINE_OK;
    const engine_value *v;
    int64_t numel;
    engine_status st = const_input(g, n, k, 1, &v, &numel);
    if (st) return st;
    if (numel == 0) return ENGINE_OK; /* an empty tensor reads as absent */
    if (engine_dtype_size(v->dtype) == 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "input %d ('%s') has unsupported type %s", k, v->name,
                              engine_dtype_name(v->dtype));
    *out = eng_tensor_elem(v, 0);
    *present = 1;
    return ENGINE_OK;
}

engine_status eng_broadcast_dims(eng_graph *g, const engine_node *n, int ra, const int64_t *da, int rb,
                                 const int64_t *db, int *rank, int64_t *dims) {
    int r = ra > rb ? ra : rb;
    if (r > ENGINE_MAX_RANK)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "broadcast rank %d exceeds %d", r, ENGINE_MAX_RANK);
    int64_t out[ENGINE_MAX_RANK];
    for (int k = 0; k < r; ++k) {
        int ia = k - (r - ra), ib = k - (r - rb);
        int64_t a = ia >= 0 ? da[ia] : 1, b = ib >= 0 ? db[ib] : 1;
        if (a == b || b == 1) {
            out[k] = a;
        } else if (a == 1) {
            out[k] = b;
        } else {
            char sa[ENG_SHAPE_BUF], sb[ENG_SHAPE_BUF];
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "shapes %s and %s cannot be broadcast (dim %d: %lld vs %lld)",
                                  eng_shape_str(ra, da, sa), eng_shape_str(rb, db, sb), k, (long long)a, (long long)b);
        }
    }
    for (int k = 0; k < r; ++k) dims[k] = out[k];
    *rank = r;
    return ENGINE_OK;
}

engine_status eng_broadcast(eng_graph *g, const engine_node *n, const engine_value *a, const engine_value *b,
                            int *rank, int64_t *dims) {
    return eng_broadcast_dims(g, n, a->rank, a->dims, b->rank, b->dims, rank, dims);
}

/* ---- ops_util.h ---- */

int eng_opset(const eng_graph *g, const engine_node *n) {
    if (n->opset > 0) return n->opset;
    if (g->opset > 0) return g->opset;
    return 18;
}

const char *eng_shape_str(int rank, const int64_t *dims, char *buf) {
    size_t len = 0;
    buf[len++] = '[';
    buf[len] = '\0';
    for (int k = 0; k < rank && len < ENG_SHAPE_BUF - 24; ++k) {
        int w = snprintf(buf + len, ENG_SHAPE_BUF - len, "%s%lld", k ? "," : "", (long long)dims[k]);
        if (w < 0) break;
        len += (size_t)w;
    }
    if (len < ENG_SHAPE_BUF - 1) buf[len++] = ']';
    buf[len] = '\0';
    return buf;
}

int eng_mul_dims(int64_t a, int64_t b, int64_t *out) {
    if (a < 0 || b < 0) return 0;
    if (a != 0 && b > ENG_MAX_NUMEL / a) return 0;
    *out = a * b;
    return 1;
}

int eng_numel_checked(int rank, const int64_t *dims, int64_t *out) {
    int64_t count = 1;
    for (int k = 0; k < rank; ++k)
        if (!eng_mul_dims(count, dims[k], &count)) return 0;
    *out = count;
    return 1;
}

engine_status eng_check_input_count(eng_graph *g, const engine_node *n, int min, int max) {
    if (n->n_inputs > max)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "has %d inputs, at most %d allowed", n->n_inputs,
                              max);
    for (int k = 0; k < min; ++k)
        if (!eng_has_input(n, k))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "needs at least %d inputs, input %d is missing",
                                  min, k);
    for (int k = 0; k < n->n_inputs; ++k)
        if (n->inputs[k] && n->inputs[k]->rank < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d ('%s') has no known shape", k,
                                  n->inputs[k]->name);
    return ENGINE_OK;
}

engine_status eng_check_dtype(eng_graph *g, const engine_node *n, int k, const char *what, unsigned mask) {
    const engine_value *v = n->inputs[k];
    if ((unsigned)v->dtype < 32 && (mask & ENG_DT(v->dtype))) return ENGINE_OK;
    char allowed[160];
    size_t len = 0;
    allowed[0] = '\0';
    static const engine_dtype all[] = {ENGINE_DTYPE_F32, ENGINE_DTYPE_F16, ENGINE_DTYPE_F64, ENGINE_DTYPE_I64,
                                       ENGINE_DTYPE_I32, ENGINE_DTYPE_I8,  ENGINE_DTYPE_U8,  ENGINE_DTYPE_BOOL};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) {
        if (!(mask & ENG_DT(all[i]))) continue;
        int w = snprintf(allowed + len, sizeof allowed - len, "%s%s", len ? ", " : "", engine_dtype_name(all[i]));
        if (w < 0 || (size_t)w >= sizeof allowed - len) break;
        len += (size_t)w;
    }
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "input %d (%s) has type %s; supported: %s", k, what,
                          engine_dtype_name(v->dtype), allowed);
}

engine_status eng_check_same_dtype(eng_graph *g, const engine_node *n, int a, int b) {
    const engine_value *va = n->inputs[a], *vb = n->inputs[b];
    if (va->dtype == vb->dtype) return ENGINE_OK;
    return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d has type %s but input %d has type %s", a,
                          engine_dtype_name(va->dtype), b, engine_dtype_name(vb->dtype));
}

engine_status eng_set_output(eng_graph *g, engine_node *n, int k, engine_dtype dtype, int rank, const int64_t *dims) {
    if (k >= n->n_outputs || !n->outputs[k]) return ENGINE_OK;
    char buf[ENG_SHAPE_BUF];
    if (rank < 0 || rank > ENGINE_MAX_RANK)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "output %d would have rank %d; at most %d supported",
                              k, rank, ENGINE_MAX_RANK);
    for (int d = 0; d < rank; ++d)
        if (dims[d] < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output %d would have negative dimension: %s", k,
                                  eng_shape_str(rank, dims, buf));
    int64_t numel;
    if (!eng_numel_checked(rank, dims, &numel))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output %d shape %s has too many elements", k,
                              eng_shape_str(rank, dims, buf));
    int64_t zero = 0;
    return eng_value_set_shape(g, n->outputs[k], dtype, rank, rank ? dims : &zero);
}

engine_status eng_same_as_input(eng_graph *g, engine_node *n, int k) {
    const engine_value *x = n->inputs[0];
    return eng_set_output(g, n, k, x->dtype, x->rank, x->dims);
}

engine_status eng_norm_axis(eng_graph *g, const engine_node *n, int64_t axis, int rank, int allow_end,
                            const char *what, int *out) {
    int64_t hi = allow_end ? rank : rank - 1;
    if (axis < -(int64_t)rank || axis > hi)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "%s %lld is out of range [%d, %lld] for rank %d", what,
                              (long long)axis, -rank, (long long)hi, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return ENGINE_OK;
}

/* ---- fused epilogues ---- */

static const char *const act_names[] = {
    [ENGINE_ACT_NONE] = "None",           [ENGINE_ACT_RELU] = "Relu",       [ENGINE_ACT_CLIP] = "Clip",
    [ENGINE_ACT_LEAKY_RELU] = "LeakyRelu", [ENGINE_ACT_SIGMOID] = "Sigmoid", [ENGINE_ACT_HARD_SIGMOID] = "HardSigmoid",
    [ENGINE_ACT_HARD_SWISH] = "HardSwish", [ENGINE_ACT_SILU] = "Silu",       [ENGINE_ACT_MISH] = "Mish",
    [ENGINE_ACT_TANH] = "Tanh",            [ENGINE_ACT_GELU] = "Gelu",
};

const char *eng_act_name(engine_act act) {
    if ((int)act < 0 || (size_t)act >= sizeof act_names / sizeof act_names[0]) return NULL;
    return act_names[act];
}

engine_act eng_act_from_name(const char *name, int *ok) {
    for (size_t k = 0; name && k < sizeof act_names / sizeof act_names[0]; ++k)
        if (strcmp(act_names[k], name) == 0) {
            *ok = 1;
            return (engine_act)k;
        }
    *ok = 0;
    return ENGINE_ACT_NONE;
}

engine_status eng_read_epilogue(eng_graph *g, const engine_node *n, int allow_sum, int rank, const int64_t *dims,
                                engine_epilogue *e) {
    memset(e, 0, sizeof *e);
    const char *name = NULL;
    engine_status st = eng_attr_string(g, n, "engine.activation", "None", &name);
    if (st) return st;
    int ok;
    e->act = eng_act_from_name(name, &ok);
    if (!ok) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "unknown engine.activation '%s'", name);
    float da = e->act == ENGINE_ACT_CLIP ? -INFINITY : e->act == ENGINE_ACT_HARD_SIGMOID ? 0.2f : 0.01f;
    float db = e->act == ENGINE_ACT_CLIP ? INFINITY : e->act == ENGINE_ACT_HARD_SIGMOID ? 0.5f : 0.0f;
    if ((st = eng_attr_float(g, n, "engine.alpha", da, &e->alpha))) return st;
    if ((st = eng_attr_float(g, n, "engine.beta", db, &e->beta))) return st;
    int64_t sum;
    if ((st = eng_attr_int(g, n, "engine.sum", 0, &sum))) return st;
    if (sum && !allow_sum)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "engine.sum is not allowed on %s", n->op_type);
    if (!sum) {
        if (n->n_inputs > 3 && n->inputs[3])
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "has %d inputs, expected at most 3",
                                  n->n_inputs);
        return ENGINE_OK;
    }
    if (n->n_inputs < 4 || !n->inputs[3] || n->inputs[3]->rank < 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "engine.sum is set but input 3 (sum) is missing");
    const engine_value *v = n->inputs[3];
    if (v->dtype != ENGINE_DTYPE_F32)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "input 3 (sum) is not float32");
    int same = v->rank == rank;
    for (int d = 0; same && d < rank; ++d) same = v->dims[d] == dims[d];
    if (!same) {
        char a[ENG_SHAPE_BUF], b[ENG_SHAPE_BUF];
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 3 (sum) has shape %s but the output is %s",
                              eng_shape_str(v->rank, v->dims, a), eng_shape_str(rank, dims, b));
    }
    e->sum = 1;
    return ENGINE_OK;
}
