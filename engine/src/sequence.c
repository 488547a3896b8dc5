/* sequence.c - ONNX tensor sequences, resolved while a graph is inferred.
 *
 * Exporters write sequences where a Python list meets a loop: torch's
 * MViT, for one, collects the pieces of each pooling attention in a Loop
 * (SequenceEmpty before it, SequenceInsert in its body, SequenceAt after).
 * Inference unrolls such loops (control.c), so by the time a sequence op is
 * reached, the list it builds is a list of graph values, and its positions
 * are constants. So a sequence is never a runtime object here: each
 * sequence value maps to the graph values it holds (g->seqs), the ops
 * that only build lists disappear, and the ops that read a sequence become
 * the tensor ops that do the same thing:
 *  - SequenceEmpty, SequenceConstruct, SequenceInsert, SequenceErase, and
 *    Identity of a sequence (an If or Loop result): a new list, no node;
 *  - SequenceLength: a constant;
 *  - SequenceAt: Identity of the element (the noop pass removes it);
 *  - ConcatFromSequence: Concat of the elements (new_axis: each Unsqueezed
 *    first);
 *  - SplitToSequence: one Split node whose outputs are the elements
 *    (Squeezed when split is absent and keepdims is 0).
 * The nodes that replace a sequence op are inferred next, like any other. */
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "infer.h"
#include "ops_internal.h"

/* Elements one sequence may hold (a SplitToSequence of a long axis into
 * single slices, or inserts in a long unrolled loop). */
#define MAX_SEQUENCE_LENGTH 4096

typedef struct eng_seq {
    engine_value *v;
    engine_value **elems;
    int n;
    engine_dtype dtype; /* of the elements; UNDEFINED while unknown (an empty list) */
} eng_seq;

static const char *const seq_ops[] = {
    "SequenceEmpty", "SequenceConstruct",  "SequenceInsert",  "SequenceErase",
    "SequenceAt",    "SequenceLength",     "ConcatFromSequence", "SplitToSequence",
};

int eng_is_sequence_node(const engine_node *n) {
    if (n->domain[0]) return 0;
    for (size_t k = 0; k < sizeof seq_ops / sizeof seq_ops[0]; ++k)
        if (strcmp(n->op_type, seq_ops[k]) == 0) return 1;
    return strcmp(n->op_type, "Identity") == 0 && n->n_inputs == 1 && n->inputs[0] &&
           (n->inputs[0]->flags & ENG_VALUE_SEQUENCE);
}

void eng_sequences_clear(eng_graph *g) {
    for (int k = 0; k < g->n_seqs; ++k) eng_free(g->ctx, g->seqs[k].elems);
    eng_free(g->ctx, g->seqs);
    g->seqs = NULL;
    g->n_seqs = g->cap_seqs = 0;
}

static engine_status oom(eng_graph *g, const engine_node *n) {
    return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory resolving a tensor sequence");
}

/* The list input i of n holds (an error when it is not a sequence). */
static engine_status seq_input(eng_graph *g, const engine_node *n, int i, const eng_seq **out) {
    const engine_value *v = i < n->n_inputs ? n->inputs[i] : NULL;
    if (!v) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d (a sequence) is missing", i);
    if (v->flags & ENG_VALUE_SEQUENCE)
        for (int k = g->n_seqs - 1; k >= 0; --k) /* recent lists are the likely ones */
            if (g->seqs[k].v == v) {
                *out = &g->seqs[k];
                return ENGINE_OK;
            }
    if (v->flags & ENG_VALUE_DEFERRED)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "input %d '%s' is a sequence built from the data of the run; sequences must be "
                              "fixed by the input shapes",
                              i, v->name);
    return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d '%s' is not a tensor sequence", i, v->name);
}

/* Makes output 0 of n a sequence of the n_elems values in elems (copied). */
static engine_status set_seq(eng_graph *g, engine_node *n, engine_value *const *elems, int n_elems, engine_dtype dt) {
    engine_value *v = n->n_outputs >= 1 ? n->outputs[0] : NULL;
    if (!v) return ENGINE_OK; /* nobody reads it */
    if (n_elems > MAX_SEQUENCE_LENGTH)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "the sequence would hold more than %d tensors",
                              MAX_SEQUENCE_LENGTH);
    if (g->n_seqs == g->cap_seqs) {
        int ncap = g->cap_seqs ? g->cap_seqs * 2 : 16;
        eng_seq *ns = eng_realloc(g->ctx, g->seqs, (size_t)g->cap_seqs * sizeof *ns, (size_t)ncap * sizeof *ns);
        if (!ns) return oom(g, n);
        g->seqs = ns;
        g->cap_seqs = ncap;
    }
    eng_seq *s = &g->seqs[g->n_seqs];
    s->elems = eng_calloc(g->ctx, (size_t)n_elems + 1, sizeof *s->elems);
    if (!s->elems) return oom(g, n);
    if (n_elems) memcpy(s->elems, elems, (size_t)n_elems * sizeof *elems);
    s->n = n_elems;
    s->dtype = dt;
    s->v = v;
    g->n_seqs++;
    v->flags |= ENG_VALUE_SEQUENCE;
    v->dtype = dt;
    v->rank = -1;
    return ENGINE_OK;
}

/* The element dtype a tensor added to a list of dtype `have` leaves it. */
static engine_status join_dtype(eng_graph *g, const engine_node *n, engine_dtype have, const engine_value *t,
                                engine_dtype *out) {
    if (t->flags & ENG_VALUE_SEQUENCE)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "'%s' is a sequence; sequences of sequences are "
                              "not supported", t->name);
    *out = have;
    if (t->dtype == ENGINE_DTYPE_UNDEFINED) return ENGINE_OK; /* deferred: checked when it is made */
    if (have != ENGINE_DTYPE_UNDEFINED && have != t->dtype)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                              "tensor '%s' is %s but the sequence holds %s tensors", t->name,
                              engine_dtype_name(t->dtype), engine_dtype_name(have));
    *out = t->dtype;
    return ENGINE_OK;
}

/* Position input i of n (a constant integer scalar) in [-len, len - 1 + extra],
 * made non-negative; *pos = def when the input is absent. */
static engine_status position(eng_graph *g, const engine_node *n, int i, int len, int extra, int def, int *pos) {
    const engine_value *p = i < n->n_inputs ? n->inputs[i] : NULL;
    if (!p) {
        *pos = def;
        return ENGINE_OK;
    }
    if (!(p->flags & ENGINE_VALUE_CONST) || !p->data)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "the position '%s' depends on the data of the run; it must be fixed by the input "
                              "shapes",
                              p->name);
    if ((p->dtype != ENGINE_DTYPE_I64 && p->dtype != ENGINE_DTYPE_I32) || engine_value_numel(p) != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "the position '%s' must be one int32 or int64",
                              p->name);
    int64_t v = p->dtype == ENGINE_DTYPE_I64 ? *(const int64_t *)p->data : *(const int32_t *)p->data;
    if (v < -(int64_t)len || v > (int64_t)len - 1 + extra)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "position %lld is outside [%d, %d] for a sequence "
                              "of %d tensors", (long long)v, -len, len - 1 + extra, len);
    *pos = (int)(v < 0 ? v + len : v);
    return ENGINE_OK;
}

/* Adds attribute `name` = ints[0..cnt) (INTS) or ints[0] (INT) to node m. */
static engine_status add_ints_attr(eng_graph *g, engine_node *m, const char *name, const int64_t *ints, int cnt,
                                   int list) {
    engine_attr *a;
    engine_status st = eng_node_add_attr(g, m, name, list ? ENGINE_ATTR_INTS : ENGINE_ATTR_INT, &a);
    if (st) return st;
    if (!list) {
        a->i = ints[0];
        return ENGINE_OK;
    }
    if (!(a->ints = eng_alloc(g->ctx, (size_t)cnt * sizeof(int64_t) + 1))) return oom(g, m);
    if (cnt) memcpy(a->ints, ints, (size_t)cnt * sizeof(int64_t));
    a->n = cnt;
    return ENGINE_OK;
}

static engine_status resolve_list_op(eng_graph *g, engine_node *n) {
    const char *op = n->op_type;
    engine_status st;
    const eng_seq *s;
    if (strcmp(op, "SequenceEmpty") == 0) {
        int64_t dt;
        if ((st = eng_attr_int(g, n, "dtype", ENGINE_DTYPE_F32, &dt))) return st;
        switch (dt) {
        case ENGINE_DTYPE_F32: case ENGINE_DTYPE_U8: case ENGINE_DTYPE_I8: case ENGINE_DTYPE_I32:
        case ENGINE_DTYPE_I64: case ENGINE_DTYPE_BOOL: case ENGINE_DTYPE_F16: case ENGINE_DTYPE_F64: break;
        default:
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "dtype %lld is not supported", (long long)dt);
        }
        return set_seq(g, n, NULL, 0, (engine_dtype)dt);
    }
    if (strcmp(op, "SequenceConstruct") == 0) {
        if (n->n_inputs < 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "SequenceConstruct needs at least one input");
        engine_dtype dt = ENGINE_DTYPE_UNDEFINED;
        for (int i = 0; i < n->n_inputs; ++i) {
            if (!n->inputs[i])
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d is missing", i);
            if ((st = join_dtype(g, n, dt, n->inputs[i], &dt))) return st;
        }
        return set_seq(g, n, n->inputs, n->n_inputs, dt);
    }
    if (strcmp(op, "Identity") == 0) {
        if ((st = seq_input(g, n, 0, &s))) return st;
        return set_seq(g, n, s->elems, s->n, s->dtype);
    }
    if ((st = seq_input(g, n, 0, &s))) return st;
    int len = s->n, pos;
    engine_value **list = eng_calloc(g->ctx, (size_t)len + 2, sizeof *list);
    if (!list) return oom(g, n);
    if (len) memcpy(list, s->elems, (size_t)len * sizeof *list);
    engine_dtype dt = s->dtype;
    if (strcmp(op, "SequenceInsert") == 0) {
        const engine_value *t = n->n_inputs >= 2 ? n->inputs[1] : NULL;
        if (!t) st = eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input 1 (the tensor) is missing");
        if (!st) st = join_dtype(g, n, dt, t, &dt);
        if (!st) st = position(g, n, 2, len, 1, len, &pos);
        if (!st) {
            memmove(list + pos + 1, list + pos, (size_t)(len - pos) * sizeof *list);
            list[pos] = n->inputs[1];
            st = set_seq(g, n, list, len + 1, dt);
        }
    } else { /* SequenceErase */
        if (len == 0) st = eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "erasing from an empty sequence");
        if (!st) st = position(g, n, 1, len, 0, len - 1, &pos);
        if (!st) {
            memmove(list + pos, list + pos + 1, (size_t)(len - pos - 1) * sizeof *list);
            st = set_seq(g, n, list, len - 1, dt);
        }
    }
    eng_free(g->ctx, list);
    return st;
}

static engine_status resolve_at(eng_graph *g, engine_node *n, int k) {
    const eng_seq *s;
    int pos;
    engine_status st = seq_input(g, n, 0, &s);
    if (st) return st;
    if (n->n_inputs < 2 || !n->inputs[1])
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input 1 (the position) is missing");
    if (s->n == 0) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "reading from an empty sequence");
    if ((st = position(g, n, 1, s->n, 0, 0, &pos))) return st;
    engine_value *out = n->n_outputs >= 1 ? n->outputs[0] : NULL, *elem = s->elems[pos];
    if (!out) return ENGINE_OK;
    out->producer = NULL;
    n->outputs[0] = NULL;
    int from = g->n_nodes;
    if ((st = eng_ctl_add_simple(g, n->name, "Identity", &elem, 1, out, NULL, 0, 0))) return st;
    eng_ctl_move_appended(g, from, k);
    return ENGINE_OK;
}

static engine_status resolve_length(eng_graph *g, engine_node *n) {
    const eng_seq *s;
    engine_status st = seq_input(g, n, 0, &s);
    if (st) return st;
    engine_value *out = n->n_outputs >= 1 ? n->outputs[0] : NULL;
    if (!out) return ENGINE_OK;
    int64_t *data = eng_alloc(g->ctx, sizeof *data);
    if (!data) return oom(g, n);
    *data = s->n;
    out->producer = NULL;
    n->outputs[0] = NULL;
    if ((st = eng_value_set_shape(g, out, ENGINE_DTYPE_I64, 0, NULL))) {
        eng_free(g->ctx, data);
        return st;
    }
    eng_value_set_data(g, out, data);
    return ENGINE_OK;
}

static engine_status resolve_concat(eng_graph *g, engine_node *n, int k) {
    const eng_seq *s;
    engine_status st = seq_input(g, n, 0, &s);
    if (st) return st;
    engine_value *out = n->n_outputs >= 1 ? n->outputs[0] : NULL;
    if (!out) return ENGINE_OK;
    if (!engine_node_attr(n, "axis"))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'axis' missing");
    int64_t axis, new_axis;
    if ((st = eng_attr_int(g, n, "axis", 0, &axis)) || (st = eng_attr_int(g, n, "new_axis", 0, &new_axis)))
        return st;
    if (s->n == 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "concatenating an empty sequence");
    engine_value **parts = eng_calloc(g->ctx, (size_t)s->n + 1, sizeof *parts);
    if (!parts) return oom(g, n);
    memcpy(parts, s->elems, (size_t)s->n * sizeof *parts);
    int from = g->n_nodes;
    if (new_axis) {
        /* A negative axis counts from the end of the output (rank + 1). */
        if (axis < 0) {
            int r = parts[0]->rank;
            for (int e = 1; e < s->n; ++e)
                if (parts[e]->rank != r) r = -1;
            if (r < 0) st = eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                           "the elements' ranks differ or are unknown; a negative axis needs them");
            else if (axis < -(int64_t)r - 1)
                st = eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "axis %lld is out of range for rank %d + 1",
                                    (long long)axis, r);
            else axis += r + 1;
        }
        for (int e = 0; e < s->n && !st; ++e) {
            engine_value *u;
            if ((st = eng_ctl_fresh_value(g, n->name, "unsqueezed", &u))) break;
            st = eng_ctl_add_simple(g, n->name, "Unsqueeze", &parts[e], 1, u, "axes", axis, 1);
            parts[e] = u;
        }
    }
    if (!st) {
        out->producer = NULL;
        n->outputs[0] = NULL;
        st = eng_ctl_add_simple(g, n->name, "Concat", parts, s->n, out, "axis", axis, 0);
    }
    eng_free(g->ctx, parts);
    if (st) return st;
    eng_ctl_move_appended(g, from, k);
    return ENGINE_OK;
}

static engine_status resolve_split(eng_graph *g, engine_node *n, int k) {
    engine_status st;
    const engine_value *x = n->n_inputs >= 1 ? n->inputs[0] : NULL;
    if (!x) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input 0 is missing");
    if (x->flags & ENG_VALUE_DEFERRED)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "input '%s' has a shape that depends on the data of the run; a sequence's length must "
                              "be fixed by the input shapes",
                              x->name);
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input '%s' needs rank >= 1", x->name);
    int64_t axis, keepdims;
    if ((st = eng_attr_int(g, n, "axis", 0, &axis)) || (st = eng_attr_int(g, n, "keepdims", 1, &keepdims))) return st;
    if (axis < -(int64_t)x->rank || axis >= x->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis,
                              x->rank);
    if (axis < 0) axis += x->rank;
    int64_t dim = x->dims[axis];
    const engine_value *sp = n->n_inputs >= 2 ? n->inputs[1] : NULL;
    int64_t *sizes = NULL;
    int cnt = 0, squeeze = 0;
    if (!sp) {
        if (dim > MAX_SEQUENCE_LENGTH) goto too_long;
        cnt = (int)dim;
        squeeze = !keepdims;
        if (!(sizes = eng_alloc(g->ctx, (size_t)cnt * sizeof *sizes + 8))) return oom(g, n);
        for (int e = 0; e < cnt; ++e) sizes[e] = 1;
    } else {
        if (!(sp->flags & ENGINE_VALUE_CONST) || !sp->data)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "the split '%s' depends on the data of the run; it must be fixed by the input "
                                  "shapes",
                                  sp->name);
        if ((sp->dtype != ENGINE_DTYPE_I64 && sp->dtype != ENGINE_DTYPE_I32) || sp->rank > 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL,
                                  "the split '%s' must be an int32 or int64 scalar or 1-D tensor", sp->name);
        int64_t m = engine_value_numel(sp);
#define SPLIT_AT(e) (sp->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)sp->data)[e] : ((const int32_t *)sp->data)[e])
        if (sp->rank == 0) {
            int64_t chunk = SPLIT_AT(0);
            if (chunk <= 0)
                return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "split size %lld is not positive",
                                      (long long)chunk);
            int64_t pieces = dim / chunk + (dim % chunk != 0);
            if (pieces > MAX_SEQUENCE_LENGTH) goto too_long;
            cnt = (int)pieces;
            if (!(sizes = eng_alloc(g->ctx, (size_t)cnt * sizeof *sizes + 8))) return oom(g, n);
            for (int e = 0; e < cnt; ++e) sizes[e] = e == cnt - 1 ? dim - chunk * e : chunk;
        } else {
            if (m > MAX_SEQUENCE_LENGTH) goto too_long;
            cnt = (int)m;
            if (!(sizes = eng_alloc(g->ctx, (size_t)cnt * sizeof *sizes + 8))) return oom(g, n);
            int64_t sum = 0;
            for (int e = 0; e < cnt; ++e) {
                sizes[e] = SPLIT_AT(e);
                if (sizes[e] < 0 || sizes[e] > dim) {
                    eng_free(g->ctx, sizes);
                    return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "split size %d is %lld", e,
                                          (long long)SPLIT_AT(e));
                }
                sum += sizes[e];
            }
            if (sum != dim) {
                eng_free(g->ctx, sizes);
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                      "split sizes sum to %lld but axis %lld has size %lld", (long long)sum,
                                      (long long)axis, (long long)dim);
            }
        }
#undef SPLIT_AT
    }
    engine_value **elems = eng_calloc(g->ctx, (size_t)cnt + 1, sizeof *elems);
    if (!elems) {
        eng_free(g->ctx, sizes);
        return oom(g, n);
    }
    int from = g->n_nodes;
    st = ENGINE_OK;
    if (cnt > 0) {
        char name[512];
        snprintf(name, sizeof name, "%.240s/Split", n->name);
        engine_node *m;
        if (!(st = eng_graph_add_node(g, name, "Split", "", 1, cnt, &m))) {
            m->opset = g->opset;
            m->inputs[0] = n->inputs[0];
            st = add_ints_attr(g, m, "axis", &axis, 1, 0);
            if (!st) st = add_ints_attr(g, m, "split", sizes, cnt, 1);
            for (int e = 0; e < cnt && !st; ++e) {
                engine_value *part;
                if ((st = eng_ctl_fresh_value(g, n->name, "part", &part))) break;
                if ((st = eng_node_set_output(g, m, e, part))) break;
                elems[e] = part;
                if (squeeze) {
                    engine_value *sq;
                    if ((st = eng_ctl_fresh_value(g, n->name, "squeezed", &sq))) break;
                    st = eng_ctl_add_simple(g, n->name, "Squeeze", &part, 1, sq, "axes", axis, 1);
                    elems[e] = sq;
                }
            }
        }
    }
    if (!st) st = set_seq(g, n, elems, cnt, x->dtype);
    eng_free(g->ctx, elems);
    eng_free(g->ctx, sizes);
    if (st) return st;
    if (n->outputs[0]) n->outputs[0]->producer = NULL;
    n->outputs[0] = NULL;
    eng_ctl_move_appended(g, from, k);
    return ENGINE_OK;
too_long:
    return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "the sequence would hold more than %d tensors",
                          MAX_SEQUENCE_LENGTH);
}

engine_status eng_expand_sequence(eng_graph *g, int k) {
    engine_node *n = g->nodes[k];
    const char *op = n->op_type;
    engine_status st;
    if (n->n_outputs > 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "%s has one output; this node has %d", op,
                              n->n_outputs);
    if (strcmp(op, "SequenceAt") == 0) st = resolve_at(g, n, k);
    else if (strcmp(op, "SequenceLength") == 0) st = resolve_length(g, n);
    else if (strcmp(op, "ConcatFromSequence") == 0) st = resolve_concat(g, n, k);
    else if (strcmp(op, "SplitToSequence") == 0) st = resolve_split(g, n, k);
    else st = resolve_list_op(g, n);
    if (st) return st;
    /* The node's output is a list now (or another node's): it goes. */
    if (n->n_outputs >= 1 && n->outputs[0] && n->outputs[0]->producer == n) {
        n->outputs[0]->producer = NULL;
        n->outputs[0] = NULL;
    }
    eng_graph_remove_node(g, n);
    return ENGINE_OK;
}
