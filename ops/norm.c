/* ops/norm.c - shape inference for BatchNormalization, InstanceNormalization, LRN,
 * LpNormalization, MeanVarianceNormalization. */
#include <string.h>

#include "ops_util.h"

/* Inputs first..last must be 1-D of length c (per-channel vectors). */
static engine_status check_channel_vectors(eng_graph *g, const engine_node *n, int first, int last, int64_t c) {
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    for (int k = first; k <= last; ++k) {
        const engine_value *v = n->inputs[k];
        engine_status st = eng_check_dtype(g, n, k, names[k], ENG_DT_FLOAT);
        if (st) return st;
        if (v->rank != 1 || v->dims[0] != c) {
            char buf[ENG_SHAPE_BUF];
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                  "input %d (%s) has shape %s but input 0 (X) has %lld channels", k, names[k],
                                  eng_shape_str(v->rank, v->dims, buf), (long long)c);
        }
    }
    return ENGINE_OK;
}

engine_status eng_infer_BatchNormalization(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 5, 5);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if (x->rank < 2)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (X) has rank %d, expected at least 2 (N, C, ...)",
                              x->rank);
    int64_t c = x->dims[1];
    engine_scalar_params p;
    memset(&p, 0, sizeof p);
    if ((st = eng_attr_float(g, n, "epsilon", 1e-5f, &p.epsilon))) return st;
    /* Versions 1 (consumed_inputs: ignored) and 6 have is_test, whose
     * default 0 is training; 1 to 8 have spatial (default 1); 14 brings
     * training_mode. momentum only matters in training. */
    int opset = eng_opset(g, n);
    int64_t training = 0, spatial = 1, is_test = 1;
    if ((st = eng_attr_int(g, n, "training_mode", 0, &training))) return st;
    if ((st = eng_attr_int(g, n, "spatial", 1, &spatial))) return st;
    if (opset < 7 && (st = eng_attr_int(g, n, "is_test", 0, &is_test))) return st;
    if (training && opset < 14)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "training_mode is not defined in opset %d", opset);
    if (training) {
        /* batch statistics: Y normalised by the batch's mean and population
         * variance; outputs 1 and 2 the running statistics updated with
         * momentum */
        p.size = 1;
        if ((st = eng_attr_float(g, n, "momentum", 0.9f, &p.alpha))) return st;
        if (n->n_outputs > 3)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "has %d outputs, at most 3 in opset %d",
                                  n->n_outputs, opset);
    }
    if (!is_test)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "is_test=0 (opset %d: training mode, batch statistics, its default) is not supported; "
                              "inference needs is_test=1", opset);
    /* spatial=0 (opsets 1-8): statistics per activation, [C, D1, ...]; on
     * rank-2 input they are per channel, the same thing. */
    if (!spatial && opset < 9 && x->rank > 2)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "spatial=0 (per-activation statistics) on rank %d input is not supported", x->rank);
    if ((st = check_channel_vectors(g, n, 1, 4, c))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    /* Outputs 1-4 (running/saved statistics) exist only in training. Old
     * exporters sometimes declare them unused: give them a shape, but
     * refuse a graph that reads them, but for training_mode's running mean
     * and variance. */
    for (int k = 1; k < n->n_outputs; ++k) {
        engine_value *o = n->outputs[k];
        if (!o) continue;
        if (k > 4)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "has %d outputs, at most 5 allowed",
                                  n->n_outputs);
        if (!training && eng_graph_use_count(g, o) > 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "output %d ('%s') holds training statistics, which are not computed", k, o->name);
        if ((st = eng_set_output(g, n, k, ENGINE_DTYPE_F32, 1, &c))) return st;
    }
    engine_scalar_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}

engine_status eng_infer_InstanceNormalization(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if (x->rank < 3)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "input 0 (X) has rank %d, expected at least 3 (N, C, spatial...)", x->rank);
    if ((st = check_channel_vectors(g, n, 1, 2, x->dims[1]))) return st;
    engine_scalar_params p;
    memset(&p, 0, sizeof p);
    if ((st = eng_attr_float(g, n, "epsilon", 1e-5f, &p.epsilon))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_scalar_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}

engine_status eng_infer_LRN(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if (x->rank < 3)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                              "input 0 (X) has rank %d, expected at least 3 (N, C, spatial...)", x->rank);
    engine_scalar_params p;
    memset(&p, 0, sizeof p);
    if (!engine_node_attr(n, "size"))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'size' is missing");
    if ((st = eng_attr_int(g, n, "size", 0, &p.size))) return st;
    if (p.size < 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "size %lld must be positive", (long long)p.size);
    if ((st = eng_attr_float(g, n, "alpha", 1e-4f, &p.alpha))) return st;
    if ((st = eng_attr_float(g, n, "beta", 0.75f, &p.beta))) return st;
    if ((st = eng_attr_float(g, n, "bias", 1.0f, &p.bias))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_scalar_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}

/* LpNormalization (opset 1): axis (default -1), p 1 or 2 (default 2). */
engine_status eng_infer_LpNormalization(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_FLOAT))) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 is a scalar; expected rank >= 1");
    int64_t axis, pn;
    if ((st = eng_attr_int(g, n, "axis", -1, &axis))) return st;
    if ((st = eng_attr_int(g, n, "p", 2, &pn))) return st;
    if (pn != 1 && pn != 2)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute p must be 1 or 2, got %lld",
                              (long long)pn);
    int ax;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_scan_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    memset(p, 0, sizeof *p);
    p->axis = ax;
    p->p = (int)pn;
    return ENGINE_OK;
}

/* MeanVarianceNormalization (opsets 9, 13): axes attribute (default
 * [0, 2, 3]), each in range and not repeated. */
engine_status eng_infer_MeanVarianceNormalization(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    int64_t axes[ENGINE_MAX_RANK * 2] = {0, 2, 3};
    int cnt;
    if ((st = eng_attr_ints(g, n, "axes", axes, ENGINE_MAX_RANK * 2, &cnt))) return st;
    if (cnt < 0) cnt = 3;
    uint32_t mask = 0;
    for (int k = 0; k < cnt; ++k) {
        int ax;
        if ((st = eng_norm_axis(g, n, axes[k], x->rank, 0, "axes value", &ax))) return st;
        if (mask & (1u << ax))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "axes repeats axis %d", ax);
        mask |= 1u << ax;
    }
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_reduce_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    p->axes_mask = mask;
    p->keepdims = 1;
    return ENGINE_OK;
}

/* Scale/bias of a normalisation: present, float32, `want` elements. */
static engine_status check_vector(eng_graph *g, const engine_node *n, int k, const char *what, int64_t want) {
    if (!eng_has_input(n, k)) return ENGINE_OK;
    engine_status st = eng_check_dtype(g, n, k, what, ENG_DT_FLOAT);
    if (st) return st;
    if (engine_value_numel(n->inputs[k]) != want)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "%s has %lld elements; %lld expected", what,
                              (long long)engine_value_numel(n->inputs[k]), (long long)want);
    return ENGINE_OK;
}

engine_status eng_infer_LayerNormalization(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "X is a scalar");
    int64_t axis, stash;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", -1, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    if ((st = eng_attr_int(g, n, "stash_type", 1, &stash))) return st;
    if (stash != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "stash_type %lld (only 1, float32, is supported)",
                              (long long)stash);
    int64_t inner = 1;
    for (int d = ax; d < x->rank; ++d) inner *= x->dims[d];
    if ((st = check_vector(g, n, 1, "Scale", inner))) return st;
    if ((st = check_vector(g, n, 2, "B", inner))) return st;
    engine_scalar_params p;
    memset(&p, 0, sizeof p);
    if ((st = eng_attr_float(g, n, "epsilon", 1e-5f, &p.epsilon))) return st;
    p.size = ax;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    int64_t sd[ENGINE_MAX_RANK];
    for (int d = 0; d < x->rank; ++d) sd[d] = d < ax ? x->dims[d] : 1;
    for (int k = 1; k < 3; ++k)
        if ((st = eng_set_output(g, n, k, ENGINE_DTYPE_F32, x->rank, sd))) return st;
    engine_scalar_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}

engine_status eng_infer_GroupNormalization(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 3, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "X", ENG_DT_FLOAT))) return st;
    if (x->rank < 2) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "X has rank %d; [N, C, ...] expected", x->rank);
    int64_t groups, stash = 1;
    if (!engine_node_attr(n, "num_groups"))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'num_groups' is missing");
    if ((st = eng_attr_int(g, n, "num_groups", 1, &groups))) return st;
    if (groups < 1 || x->dims[1] % groups != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "num_groups %lld does not divide the %lld channels",
                              (long long)groups, (long long)x->dims[1]);
    int per_channel = eng_opset(g, n) >= 21;
    if (per_channel && (st = eng_attr_int(g, n, "stash_type", 1, &stash))) return st;
    if (stash != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "stash_type %lld (only 1, float32, is supported)",
                              (long long)stash);
    int64_t want = per_channel ? x->dims[1] : groups;
    if ((st = check_vector(g, n, 1, "scale", want))) return st;
    if ((st = check_vector(g, n, 2, "bias", want))) return st;
    engine_scalar_params p;
    memset(&p, 0, sizeof p);
    if ((st = eng_attr_float(g, n, "epsilon", 1e-5f, &p.epsilon))) return st;
    p.size = groups;
    p.alpha = (float)per_channel;
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_scalar_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    *out = p;
    return ENGINE_OK;
}
