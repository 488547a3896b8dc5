/* ops/tensor.c - shape inference for the data-movement and shape ops. */
#include <math.h>
#include <string.h>

#include "ops_util.h"

#define OOM(g, n) eng_node_error((g)->ctx, (n), ENGINE_ERR_OUT_OF_MEMORY, "out of memory")

static engine_axis_params *axis_params(eng_graph *g, engine_node *n, int n_sizes) {
    /* Split's sizes are a separate block, freed by the graph with the params. */
    engine_axis_params *p = eng_node_params(g, n, sizeof *p);
    if (p && n_sizes > 0) {
        p->sizes = eng_calloc(g->ctx, (size_t)n_sizes, sizeof(int64_t));
        if (!p->sizes) return NULL;
        p->n_sizes = n_sizes;
    }
    return p;
}

engine_status eng_infer_Concat(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, n->n_inputs > 0 ? n->n_inputs : 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "inputs", ENG_DT_ANY))) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 is a scalar; expected rank >= 1");
    /* Concat-1: axis optional, 1 by default; required from opset 4 */
    if (!engine_node_attr(n, "axis") && eng_opset(g, n) >= 4)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'axis' is missing");
    int64_t axis;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", 1, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    int64_t dims[ENGINE_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[ax] = 0;
    for (int k = 0; k < n->n_inputs; ++k) {
        const engine_value *v = n->inputs[k];
        if (!v) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "input %d is missing", k);
        if (v->dtype != x->dtype) return eng_check_same_dtype(g, n, 0, k);
        if (v->rank != x->rank)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input %d has rank %d but input 0 has rank %d", k,
                                  v->rank, x->rank);
        for (int d = 0; d < x->rank; ++d)
            if (d != ax && v->dims[d] != x->dims[d]) {
                char s0[ENG_SHAPE_BUF], sk[ENG_SHAPE_BUF];
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                      "input %d has shape %s but input 0 has %s: they differ on axis %d, not the "
                                      "concat axis %d",
                                      k, eng_shape_str(v->rank, v->dims, sk), eng_shape_str(x->rank, x->dims, s0), d,
                                      ax);
            }
        if (!eng_mul_dims(1, dims[ax] + v->dims[ax], &dims[ax]))
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "concatenated size overflows");
    }
    if ((st = eng_set_output(g, n, 0, x->dtype, x->rank, dims))) return st;
    engine_axis_params *p = axis_params(g, n, 0);
    if (!p) return OOM(g, n);
    p->axis = ax;
    return ENGINE_OK;
}

/* Split sizes: attribute 'split' (< 13), input 1 (>= 13), else equal parts
 * (opset 18: num_outputs, the last part smaller when uneven). */
engine_status eng_infer_Split(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 is a scalar; expected rank >= 1");
    int64_t axis;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", 0, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    int n_out = n->n_outputs;
    if (n_out < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "has no outputs");
    int64_t num_outputs;
    if ((st = eng_attr_int(g, n, "num_outputs", -1, &num_outputs))) return st;
    if (num_outputs != -1 && num_outputs != n_out)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "num_outputs is %lld but the node has %d outputs",
                              (long long)num_outputs, n_out);
    engine_axis_params *p = axis_params(g, n, n_out);
    if (!p) return OOM(g, n);
    p->axis = ax;
    int cnt = -1;
    if (eng_has_input(n, 1)) {
        if ((st = eng_const_ints(g, n, 1, p->sizes, n_out, &cnt))) return st;
    } else if ((st = eng_attr_ints(g, n, "split", p->sizes, n_out, &cnt))) {
        return st;
    }
    int64_t dim = x->dims[ax];
    if (cnt >= 0) {
        if (cnt != n_out)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "split has %d sizes but the node has %d outputs", cnt,
                                  n_out);
        int64_t sum = 0;
        for (int k = 0; k < n_out; ++k) {
            if (p->sizes[k] < 0 || p->sizes[k] > dim)
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "split size %d is %lld", k, (long long)p->sizes[k]);
            sum += p->sizes[k];
        }
        if (sum != dim)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "split sizes sum to %lld but axis %d has size %lld",
                                  (long long)sum, ax, (long long)dim);
    } else if (num_outputs != -1) {
        int64_t chunk = (dim + n_out - 1) / n_out;
        for (int k = 0; k < n_out; ++k) {
            int64_t left = dim - chunk * k;
            p->sizes[k] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
    } else {
        if (dim % n_out != 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "axis %d of size %lld does not split into %d equal parts",
                                  ax, (long long)dim, n_out);
        for (int k = 0; k < n_out; ++k) p->sizes[k] = dim / n_out;
    }
    int64_t dims[ENGINE_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    for (int k = 0; k < n_out; ++k) {
        dims[ax] = p->sizes[k];
        if ((st = eng_set_output(g, n, k, x->dtype, x->rank, dims))) return st;
    }
    return ENGINE_OK;
}

/* Slice: starts/ends/axes attributes before opset 10, then constant inputs
 * starts, ends, axes, steps; indices clamped as the spec says. */
engine_status eng_infer_Slice(eng_graph *g, engine_node *n) {
    int opset = eng_opset(g, n);
    engine_status st = eng_check_input_count(g, n, opset < 10 ? 1 : 3, opset < 10 ? 1 : 5);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    int r = x->rank;
    int64_t starts[ENGINE_MAX_RANK], ends[ENGINE_MAX_RANK], axes[ENGINE_MAX_RANK], steps[ENGINE_MAX_RANK];
    int ns, ne, na, nst = -1;
    if (opset < 10) {
        if (!engine_node_attr(n, "starts") || !engine_node_attr(n, "ends"))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attributes 'starts' and 'ends' missing");
        if ((st = eng_attr_ints(g, n, "starts", starts, ENGINE_MAX_RANK, &ns))) return st;
        if ((st = eng_attr_ints(g, n, "ends", ends, ENGINE_MAX_RANK, &ne))) return st;
        if ((st = eng_attr_ints(g, n, "axes", axes, ENGINE_MAX_RANK, &na))) return st;
    } else {
        if ((st = eng_const_ints(g, n, 1, starts, ENGINE_MAX_RANK, &ns))) return st;
        if ((st = eng_const_ints(g, n, 2, ends, ENGINE_MAX_RANK, &ne))) return st;
        if ((st = eng_const_ints(g, n, 3, axes, ENGINE_MAX_RANK, &na))) return st;
        if ((st = eng_const_ints(g, n, 4, steps, ENGINE_MAX_RANK, &nst))) return st;
    }
    if (ns != ne)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "starts has %d values but ends has %d", ns, ne);
    if (ns > r) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "starts has %d values for rank %d", ns, r);
    if (na >= 0 && na != ns)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "axes has %d values but starts has %d", na, ns);
    if (nst >= 0 && nst != ns)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "steps has %d values but starts has %d", nst, ns);
    engine_slice_params p;
    memset(&p, 0, sizeof p);
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < r; ++d) {
        p.start[d] = 0;
        p.step[d] = 1;
        dims[d] = x->dims[d];
    }
    uint32_t seen = 0;
    for (int k = 0; k < ns; ++k) {
        int ax = k;
        if (na >= 0 && (st = eng_norm_axis(g, n, axes[k], r, 0, "axes value", &ax))) return st;
        if (seen & (1u << ax)) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "axes repeats axis %d", ax);
        seen |= 1u << ax;
        int64_t step = nst >= 0 ? steps[k] : 1;
        if (step == 0) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "steps[%d] is 0", k);
        if (step < -INT64_MAX) step = -INT64_MAX; /* same result, and -step stays defined */
        int64_t dim = x->dims[ax], s = starts[k], e = ends[k], len;
        if (s < 0) s += dim; /* cannot overflow: dim >= 0 */
        if (e < 0) e += dim;
        if (dim == 0) {
            s = 0;
            len = 0;
        } else if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            len = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            len = s > e ? (s - e - 1) / -step + 1 : 0;
        }
        p.start[ax] = s;
        p.step[ax] = step;
        dims[ax] = len;
    }
    if ((st = eng_set_output(g, n, 0, x->dtype, r, dims))) return st;
    engine_slice_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return OOM(g, n);
    *out = p;
    return ENGINE_OK;
}

/* Reshape: the shape is an attribute in opsets 1-4 (consumed_inputs
 * ignored), input 1 from opset 5. */
engine_status eng_infer_Reshape(eng_graph *g, engine_node *n) {
    int old = eng_opset(g, n) < 5;
    engine_status st = eng_check_input_count(g, n, old ? 1 : 2, old ? 1 : 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    int64_t shape[ENGINE_MAX_RANK];
    int cnt;
    if (old) {
        if ((st = eng_attr_ints(g, n, "shape", shape, ENGINE_MAX_RANK, &cnt))) return st;
        if (cnt < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute 'shape' is missing (opset %d)",
                                  eng_opset(g, n));
    } else if ((st = eng_const_ints(g, n, 1, shape, ENGINE_MAX_RANK, &cnt))) {
        return st;
    }
    int64_t allowzero;
    if ((st = eng_attr_int(g, n, "allowzero", 0, &allowzero))) return st;
    int64_t total;
    if (!eng_numel_checked(x->rank, x->dims, &total))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 has too many elements");
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < cnt; ++d) {
        if (shape[d] == -1) {
            if (infer >= 0)
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "shape has more than one -1 (at %d and %d)", infer,
                                      d);
            infer = d;
            continue;
        }
        if (shape[d] == 0 && !allowzero) {
            if (d >= x->rank)
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                      "shape[%d] = 0 copies input dim %d, but input 0 has rank %d", d, d, x->rank);
            shape[d] = x->dims[d];
        }
        if (shape[d] < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "shape[%d] = %lld is negative", d, (long long)shape[d]);
        if (!eng_mul_dims(known, shape[d], &known))
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "shape has too many elements");
    }
    if (infer >= 0) {
        if (known == 0 || total % known != 0) {
            char sx[ENG_SHAPE_BUF];
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                  "cannot infer the -1 dimension: %lld elements of input 0 %s are not a multiple of %lld",
                                  (long long)total, eng_shape_str(x->rank, x->dims, sx), (long long)known);
        }
        shape[infer] = total / known;
    } else if (known != total) {
        char sx[ENG_SHAPE_BUF], so[ENG_SHAPE_BUF];
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s (%lld elements)",
                              eng_shape_str(x->rank, x->dims, sx), (long long)total, eng_shape_str(cnt, shape, so),
                              (long long)known);
    }
    return eng_set_output(g, n, 0, x->dtype, cnt, shape);
}

engine_status eng_infer_Flatten(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    int64_t axis;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", 1, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 1, "axis", &ax))) return st;
    int64_t dims[2];
    if (!eng_numel_checked(ax, x->dims, &dims[0]) || !eng_numel_checked(x->rank - ax, x->dims + ax, &dims[1]))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 has too many elements");
    if ((st = eng_set_output(g, n, 0, x->dtype, 2, dims))) return st;
    engine_axis_params *p = axis_params(g, n, 0);
    if (!p) return OOM(g, n);
    p->axis = ax;
    return ENGINE_OK;
}

engine_status eng_infer_Transpose(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    int64_t perm[ENGINE_MAX_RANK];
    int cnt;
    if ((st = eng_attr_ints(g, n, "perm", perm, ENGINE_MAX_RANK, &cnt))) return st;
    if (cnt < 0) {
        cnt = x->rank;
        for (int d = 0; d < x->rank; ++d) perm[d] = x->rank - 1 - d;
    }
    if (cnt != x->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "perm has %d values but input 0 has rank %d", cnt, x->rank);
    engine_transpose_params p;
    memset(&p, 0, sizeof p);
    uint32_t seen = 0;
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < cnt; ++d) {
        if (perm[d] < 0 || perm[d] >= x->rank || (seen & (1u << perm[d])))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "perm is not a permutation of 0..%d (perm[%d] = %lld)",
                                  x->rank - 1, d, (long long)perm[d]);
        seen |= 1u << perm[d];
        p.perm[d] = (int)perm[d];
        dims[d] = x->dims[perm[d]];
    }
    if ((st = eng_set_output(g, n, 0, x->dtype, x->rank, dims))) return st;
    engine_transpose_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return OOM(g, n);
    *out = p;
    return ENGINE_OK;
}

/* Axes of Squeeze/Unsqueeze: attribute before opset 13, input 1 from 13
 * (either accepted, the input winning). */
static engine_status read_axes(eng_graph *g, const engine_node *n, int64_t *axes, int *cnt) {
    if (eng_has_input(n, 1)) return eng_const_ints(g, n, 1, axes, ENGINE_MAX_RANK, cnt);
    return eng_attr_ints(g, n, "axes", axes, ENGINE_MAX_RANK, cnt);
}

engine_status eng_infer_Squeeze(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    int64_t axes[ENGINE_MAX_RANK];
    int cnt;
    if ((st = read_axes(g, n, axes, &cnt))) return st;
    uint32_t mask = 0;
    if (cnt <= 0) {
        for (int d = 0; d < x->rank; ++d)
            if (x->dims[d] == 1) mask |= 1u << d;
    } else {
        for (int k = 0; k < cnt; ++k) {
            int ax;
            if ((st = eng_norm_axis(g, n, axes[k], x->rank, 0, "axes value", &ax))) return st;
            if (x->dims[ax] != 1)
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "cannot squeeze axis %d of size %lld", ax,
                                      (long long)x->dims[ax]);
            mask |= 1u << ax;
        }
    }
    int rank = 0;
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < x->rank; ++d)
        if (!(mask & (1u << d))) dims[rank++] = x->dims[d];
    return eng_set_output(g, n, 0, x->dtype, rank, dims);
}

engine_status eng_infer_Unsqueeze(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    int64_t axes[ENGINE_MAX_RANK];
    int cnt;
    if ((st = read_axes(g, n, axes, &cnt))) return st;
    if (cnt < 0) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "axes are missing");
    int rank = x->rank + cnt;
    if (rank > ENGINE_MAX_RANK)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "output rank %d exceeds %d", rank, ENGINE_MAX_RANK);
    uint32_t mask = 0;
    for (int k = 0; k < cnt; ++k) {
        int ax;
        if ((st = eng_norm_axis(g, n, axes[k], rank, 0, "axes value", &ax))) return st;
        if (mask & (1u << ax)) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "axes repeats axis %d", ax);
        mask |= 1u << ax;
    }
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0, src = 0; d < rank; ++d) dims[d] = (mask & (1u << d)) ? 1 : x->dims[src++];
    return eng_set_output(g, n, 0, x->dtype, rank, dims);
}

engine_status eng_infer_Gather(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0], *idx = n->inputs[1];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    if ((st = eng_check_dtype(g, n, 1, "indices", ENG_DT_INTS))) return st;
    if (x->rank < 1) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 (data) is a scalar");
    int64_t axis;
    int ax;
    if ((st = eng_attr_int(g, n, "axis", 0, &axis))) return st;
    if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
    int rank = x->rank - 1 + idx->rank;
    if (rank > ENGINE_MAX_RANK)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "output rank %d exceeds %d", rank, ENGINE_MAX_RANK);
    /* Constant indices are checked here so kernels can trust them. */
    if ((idx->flags & ENGINE_VALUE_CONST) && idx->data) {
        int64_t cntv = engine_value_numel(idx), dim = x->dims[ax];
        for (int64_t k = 0; k < cntv; ++k) {
            int64_t i = idx->dtype == ENGINE_DTYPE_I64 ? ((const int64_t *)idx->data)[k]
                                                       : ((const int32_t *)idx->data)[k];
            if (i < -dim || i >= dim)
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "index %lld is out of range for axis %d of size %lld",
                                      (long long)i, ax, (long long)dim);
        }
    }
    int64_t dims[ENGINE_MAX_RANK];
    int r = 0;
    for (int d = 0; d < ax; ++d) dims[r++] = x->dims[d];
    for (int d = 0; d < idx->rank; ++d) dims[r++] = idx->dims[d];
    for (int d = ax + 1; d < x->rank; ++d) dims[r++] = x->dims[d];
    if ((st = eng_set_output(g, n, 0, x->dtype, rank, dims))) return st;
    engine_axis_params *p = axis_params(g, n, 0);
    if (!p) return OOM(g, n);
    p->axis = ax;
    return ENGINE_OK;
}

engine_status eng_infer_Shape(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    int64_t r = x->rank, start, end;
    if ((st = eng_attr_int(g, n, "start", 0, &start))) return st;
    if ((st = eng_attr_int(g, n, "end", r, &end))) return st;
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t len = end > start ? end - start : 0;
    if ((st = eng_set_output(g, n, 0, ENGINE_DTYPE_I64, 1, &len))) return st;
    engine_axis_params *p = axis_params(g, n, 0);
    if (!p) return OOM(g, n);
    p->start = start;
    p->end = end > start ? end : start;
    return ENGINE_OK;
}

/* Makes output 0 a constant copy of `src` (data may be NULL when empty). */
static engine_status set_const_output(eng_graph *g, engine_node *n, engine_dtype dt, int rank, const int64_t *dims,
                                      const void *src) {
    engine_status st = eng_set_output(g, n, 0, dt, rank, dims);
    if (st || n->n_outputs < 1 || !n->outputs[0]) return st;
    engine_value *o = n->outputs[0];
    if ((o->flags & ENGINE_VALUE_CONST) && o->data) return ENGINE_OK; /* already made */
    size_t bytes = engine_value_nbytes(o);
    void *data = eng_alloc(g->ctx, bytes);
    if (!data) return OOM(g, n);
    if (bytes) {
        if (src) memcpy(data, src, bytes);
        else memset(data, 0, bytes);
    }
    eng_value_set_data(g, o, data);
    return ENGINE_OK;
}

engine_status eng_infer_Constant(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 0, 0);
    if (st) return st;
    static const char *const refused[] = {"sparse_value", "value_string", "value_strings"};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; ++k)
        if (engine_node_attr(n, refused[k]))
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "attribute '%s' is not supported", refused[k]);
    if (n->n_attrs != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "needs exactly one value attribute, has %d",
                              n->n_attrs);
    const engine_attr *a = &n->attrs[0];
    int64_t len;
    if (strcmp(a->name, "value") == 0) {
        if (a->type != ENGINE_ATTR_TENSOR || !a->t)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute 'value' is not a tensor");
        const engine_value *t = a->t;
        if (engine_dtype_size(t->dtype) == 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "value has unsupported type %s",
                                  engine_dtype_name(t->dtype));
        int64_t numel;
        if (t->rank < 0 || !eng_numel_checked(t->rank, t->dims, &numel))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "value tensor has an invalid shape");
        if (numel > 0 && !t->data)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "value tensor has no data");
        return set_const_output(g, n, t->dtype, t->rank, t->dims, t->data);
    }
    if (strcmp(a->name, "value_float") == 0 && a->type == ENGINE_ATTR_FLOAT)
        return set_const_output(g, n, ENGINE_DTYPE_F32, 0, NULL, &a->f);
    if (strcmp(a->name, "value_int") == 0 && a->type == ENGINE_ATTR_INT)
        return set_const_output(g, n, ENGINE_DTYPE_I64, 0, NULL, &a->i);
    if (strcmp(a->name, "value_floats") == 0 && a->type == ENGINE_ATTR_FLOATS) {
        len = a->n;
        return set_const_output(g, n, ENGINE_DTYPE_F32, 1, &len, a->floats);
    }
    if (strcmp(a->name, "value_ints") == 0 && a->type == ENGINE_ATTR_INTS) {
        len = a->n;
        return set_const_output(g, n, ENGINE_DTYPE_I64, 1, &len, a->ints);
    }
    return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "unexpected attribute '%s'", a->name);
}

engine_status eng_infer_ConstantOfShape(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT(ENGINE_DTYPE_I64)))) return st;
    int64_t dims[ENGINE_MAX_RANK];
    int cnt;
    if (n->inputs[0]->rank != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 has rank %d, expected 1", n->inputs[0]->rank);
    if ((st = eng_const_ints(g, n, 0, dims, ENGINE_MAX_RANK, &cnt))) return st;
    engine_dtype dt = ENGINE_DTYPE_F32;
    double value = 0.0;
    const engine_attr *a = engine_node_attr(n, "value");
    if (a) {
        if (a->type != ENGINE_ATTR_TENSOR || !a->t)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute 'value' is not a tensor");
        const engine_value *t = a->t;
        if (engine_dtype_size(t->dtype) == 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "value has unsupported type %s",
                                  engine_dtype_name(t->dtype));
        if (t->rank < 0 || engine_value_numel(t) != 1 || !t->data)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "value must hold exactly one element");
        dt = t->dtype;
        value = eng_tensor_elem(t, 0);
    }
    for (int d = 0; d < cnt; ++d)
        if (dims[d] < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "shape[%d] = %lld is negative", d, (long long)dims[d]);
    if ((st = eng_set_output(g, n, 0, dt, cnt, dims))) return st;
    engine_cast_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return OOM(g, n);
    p->to = (int)dt;
    p->value = value;
    return ENGINE_OK;
}

engine_status eng_infer_Identity(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    return eng_same_as_input(g, n, 0);
}

/* Dropout is the identity at inference; the optional mask (output 1) is
 * all true. From opset 12 ratio and training_mode are inputs. */
engine_status eng_infer_Dropout(eng_graph *g, engine_node *n) {
    int opset = eng_opset(g, n);
    engine_status st = eng_check_input_count(g, n, 1, opset < 12 ? 1 : 3);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    /* Opsets 1 and 6: is_test, whose default 0 is training (random drops) */
    int64_t is_test = 1;
    if (opset < 7 && (st = eng_attr_int(g, n, "is_test", 0, &is_test))) return st;
    if (!is_test)
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                              "is_test=0 (opset %d: training mode, its default) is not supported; inference needs "
                              "is_test=1", opset);
    double training = 0.0;
    int present = 0;
    if (eng_has_input(n, 2) && (st = eng_const_scalar(g, n, 2, &training, &present))) return st;
    if (n->n_outputs > 2) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "has %d outputs, at most 2", n->n_outputs);
    const engine_value *x = n->inputs[0];
    if (present && training != 0.0) {
        /* training_mode (12+): random drops, float32 data */
        if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_FLOAT))) return st;
        double ratio = 0.5;
        int have_ratio = 0;
        if (eng_has_input(n, 1) && (st = eng_const_scalar(g, n, 1, &ratio, &have_ratio))) return st;
        if (!(ratio >= 0.0 && ratio < 1.0))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "ratio %g must be in [0, 1)", ratio);
        engine_dropout_params *p = eng_node_params(g, n, sizeof *p);
        if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
        memset(p, 0, sizeof *p);
        p->ratio = (float)ratio;
        p->has_seed = engine_node_attr(n, "seed") != NULL;
        if ((st = eng_attr_int(g, n, "seed", 0, &p->seed))) return st;
    }
    if ((st = eng_same_as_input(g, n, 0))) return st;
    /* Before opset 10 the mask has the data's type; the backends write a
     * bool mask only, so an older mask must go unread. */
    if (opset < 10 && n->n_outputs > 1 && n->outputs[1]) {
        if (eng_graph_use_count(g, n->outputs[1]) > 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "output 1 (mask) of the data's type (opset %d) is not supported", opset);
        return eng_set_output(g, n, 1, x->dtype, x->rank, x->dims);
    }
    return eng_set_output(g, n, 1, ENGINE_DTYPE_BOOL, x->rank, x->dims);
}

/* Pad: paddings (opset 1) or pads (2-10) and value attributes; from 11
 * inputs pads, constant_value and (opset 18) axes; opset 19 adds mode
 * wrap, periodic along each axis (the spec's torus) whatever the pad
 * length; numpy's np.pad, which ONNX's reference runs, repeats otherwise
 * once a pad exceeds the axis. */
engine_status eng_infer_Pad(eng_graph *g, engine_node *n) {
    int opset = eng_opset(g, n);
    engine_status st = eng_check_input_count(g, n, opset < 11 ? 1 : 2, opset < 11 ? 1 : 4);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "data", ENG_DT_ANY))) return st;
    int r = x->rank;
    engine_pad_params p;
    memset(&p, 0, sizeof p);
    const char *mode;
    if ((st = eng_attr_string(g, n, "mode", "constant", &mode))) return st;
    if (strcmp(mode, "constant") == 0) p.mode = ENGINE_PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0) p.mode = ENGINE_PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0) p.mode = ENGINE_PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0 && opset >= 19) p.mode = ENGINE_PAD_WRAP;
    else return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "mode '%s' is not supported in opset %d", mode, opset);
    int64_t pads[2 * ENGINE_MAX_RANK], axes[ENGINE_MAX_RANK];
    int cnt, n_axes = -1;
    if (opset < 11) {
        const char *pname = opset < 2 ? "paddings" : "pads"; /* Pad-1 calls them paddings */
        if (!engine_node_attr(n, pname))
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute '%s' is missing (opset %d)",
                                  pname, opset);
        if ((st = eng_attr_ints(g, n, pname, pads, 2 * ENGINE_MAX_RANK, &cnt))) return st;
        float value;
        if ((st = eng_attr_float(g, n, "value", 0.0f, &value))) return st;
        p.value = value;
    } else {
        if ((st = eng_const_ints(g, n, 1, pads, 2 * ENGINE_MAX_RANK, &cnt))) return st;
        int present;
        if (eng_has_input(n, 2)) {
            if (n->inputs[2]->dtype != x->dtype) return eng_check_same_dtype(g, n, 0, 2);
            if ((st = eng_const_scalar(g, n, 2, &p.value, &present))) return st;
        }
        if ((st = eng_const_ints(g, n, 3, axes, ENGINE_MAX_RANK, &n_axes))) return st;
    }
    int na = n_axes >= 0 ? n_axes : r;
    if (cnt != 2 * na)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "pads has %d values, expected %d", cnt, 2 * na);
    uint32_t seen = 0;
    for (int k = 0; k < na; ++k) {
        int ax = k;
        if (n_axes >= 0) {
            if ((st = eng_norm_axis(g, n, axes[k], r, 0, "axes value", &ax))) return st;
            if (seen & (1u << ax)) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "axes repeats axis %d", ax);
            seen |= 1u << ax;
        }
        p.pad_begin[ax] = pads[k];
        p.pad_end[ax] = pads[na + k];
    }
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < r; ++d) {
        int64_t in = x->dims[d], b = p.pad_begin[d], e = p.pad_end[d];
        if (b < -ENG_MAX_NUMEL || b > ENG_MAX_NUMEL || e < -ENG_MAX_NUMEL || e > ENG_MAX_NUMEL)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "pads on axis %d are too large", d);
        dims[d] = in + b + e;
        if (dims[d] < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "pads %lld, %lld crop axis %d of size %lld below zero",
                                  (long long)b, (long long)e, d, (long long)in);
        if (p.mode == ENGINE_PAD_REFLECT && (b > 0 || e > 0) && (b >= in || e >= in))
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                  "reflect pads %lld, %lld on axis %d need an input larger than them (size %lld)",
                                  (long long)b, (long long)e, d, (long long)in);
        if ((p.mode == ENGINE_PAD_EDGE || p.mode == ENGINE_PAD_WRAP) && (b > 0 || e > 0) && in == 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "%s padding an empty axis %d",
                                  p.mode == ENGINE_PAD_EDGE ? "edge" : "wrap", d);
    }
    if ((st = eng_set_output(g, n, 0, x->dtype, r, dims))) return st;
    engine_pad_params *out = eng_node_params(g, n, sizeof *out);
    if (!out) return OOM(g, n);
    *out = p;
    return ENGINE_OK;
}

engine_status eng_infer_Cast(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    const engine_attr *ta = engine_node_attr(n, "to");
    if (!ta) return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'to' is missing");
    int64_t to = 0;
    if (ta->type == ENGINE_ATTR_STRING && eng_opset(g, n) < 6) {
        /* Cast-1: the type by its TensorProto name */
        static const struct { const char *name; int64_t type; } names[] = {
            {"FLOAT", ENGINE_DTYPE_F32}, {"UINT8", ENGINE_DTYPE_U8}, {"INT8", ENGINE_DTYPE_I8},
            {"INT32", ENGINE_DTYPE_I32}, {"INT64", ENGINE_DTYPE_I64}, {"BOOL", ENGINE_DTYPE_BOOL},
            {"FLOAT16", ENGINE_DTYPE_F16}, {"DOUBLE", ENGINE_DTYPE_F64}};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; ++k)
            if (ta->s && strcmp(ta->s, names[k].name) == 0) to = names[k].type;
        if (!to)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "cast to type '%s' is not supported",
                                  ta->s ? ta->s : "");
    } else if ((st = eng_attr_int(g, n, "to", 0, &to))) {
        return st;
    }
    if (to <= 0 || to >= 32 || !(ENG_DT_ANY & ENG_DT(to)))
        return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED, "cast to type %lld is not supported", (long long)to);
    const engine_value *x = n->inputs[0];
    if ((st = eng_set_output(g, n, 0, (engine_dtype)to, x->rank, x->dims))) return st;
    engine_cast_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return OOM(g, n);
    p->to = (int)to;
    return ENGINE_OK;
}

engine_status eng_infer_Expand(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    if ((st = eng_check_dtype(g, n, 1, "shape", ENG_DT(ENGINE_DTYPE_I64)))) return st;
    int64_t shape[ENGINE_MAX_RANK];
    int cnt;
    if ((st = eng_const_ints(g, n, 1, shape, ENGINE_MAX_RANK, &cnt))) return st;
    for (int d = 0; d < cnt; ++d)
        if (shape[d] < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "shape[%d] = %lld is negative", d, (long long)shape[d]);
    int rank;
    int64_t dims[ENGINE_MAX_RANK];
    if ((st = eng_broadcast_dims(g, n, x->rank, x->dims, cnt, shape, &rank, dims))) return st;
    return eng_set_output(g, n, 0, x->dtype, rank, dims);
}

/* Tile: repeats per axis (input 1) from opset 6; Tile-1 takes two scalars
 * instead, tiles (input 1) copies along axis (input 2). The kernels read
 * only the input and output shapes. */
engine_status eng_infer_Tile(eng_graph *g, engine_node *n) {
    int old = eng_opset(g, n) < 6;
    engine_status st = eng_check_input_count(g, n, old ? 3 : 2, old ? 3 : 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    int64_t rep[ENGINE_MAX_RANK];
    int cnt;
    if (old) {
        double tiles, axis;
        int present;
        if ((st = eng_const_scalar(g, n, 1, &tiles, &present))) return st;
        if ((st = eng_const_scalar(g, n, 2, &axis, &present))) return st;
        int ax;
        if ((st = eng_norm_axis(g, n, (int64_t)axis, x->rank, 0, "axis", &ax))) return st;
        cnt = x->rank;
        for (int d = 0; d < cnt; ++d) rep[d] = d == ax ? (int64_t)tiles : 1;
    } else {
        if ((st = eng_check_dtype(g, n, 1, "repeats", ENG_DT(ENGINE_DTYPE_I64)))) return st;
        if ((st = eng_const_ints(g, n, 1, rep, ENGINE_MAX_RANK, &cnt))) return st;
    }
    if (cnt != x->rank)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "repeats has %d values but input 0 has rank %d", cnt,
                              x->rank);
    int64_t dims[ENGINE_MAX_RANK];
    for (int d = 0; d < x->rank; ++d) {
        if (rep[d] < 0)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "repeats[%d] = %lld is negative", d, (long long)rep[d]);
        if (!eng_mul_dims(x->dims[d], rep[d], &dims[d]))
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "tiled size on axis %d overflows", d);
    }
    return eng_set_output(g, n, 0, x->dtype, x->rank, dims);
}

static engine_status block_common(eng_graph *g, engine_node *n, engine_axis_params *out, int64_t *dims) {
    engine_status st = eng_check_input_count(g, n, 1, 1);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    if (x->rank != 4) return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 has rank %d, expected 4", x->rank);
    if (!engine_node_attr(n, "blocksize"))
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "required attribute 'blocksize' is missing");
    if ((st = eng_attr_int(g, n, "blocksize", 0, &out->blocksize))) return st;
    if (out->blocksize < 1 || out->blocksize > 65536)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "blocksize %lld is invalid",
                              (long long)out->blocksize);
    memcpy(dims, x->dims, 4 * sizeof(int64_t));
    return ENGINE_OK;
}

engine_status eng_infer_DepthToSpace(eng_graph *g, engine_node *n) {
    engine_axis_params p;
    memset(&p, 0, sizeof p);
    int64_t dims[4];
    engine_status st = block_common(g, n, &p, dims);
    if (st) return st;
    const char *mode;
    if ((st = eng_attr_string(g, n, "mode", "DCR", &mode))) return st;
    if (strcmp(mode, "CRD") == 0) p.crd = 1;
    else if (strcmp(mode, "DCR") != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "unknown mode '%s'", mode);
    int64_t b = p.blocksize, bb = b * b;
    if (dims[1] % bb != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "%lld channels are not divisible by blocksize^2 = %lld",
                              (long long)dims[1], (long long)bb);
    dims[1] /= bb;
    if (!eng_mul_dims(dims[2], b, &dims[2]) || !eng_mul_dims(dims[3], b, &dims[3]))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output size overflows");
    if ((st = eng_set_output(g, n, 0, n->inputs[0]->dtype, 4, dims))) return st;
    engine_axis_params *out = axis_params(g, n, 0);
    if (!out) return OOM(g, n);
    *out = p;
    return ENGINE_OK;
}

engine_status eng_infer_SpaceToDepth(eng_graph *g, engine_node *n) {
    engine_axis_params p;
    memset(&p, 0, sizeof p);
    int64_t dims[4];
    engine_status st = block_common(g, n, &p, dims);
    if (st) return st;
    int64_t b = p.blocksize;
    if (dims[2] % b != 0 || dims[3] % b != 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "spatial size %lldx%lld is not divisible by blocksize %lld",
                              (long long)dims[2], (long long)dims[3], (long long)b);
    if (!eng_mul_dims(dims[1], b * b, &dims[1]))
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "output size overflows");
    dims[2] /= b;
    dims[3] /= b;
    if ((st = eng_set_output(g, n, 0, n->inputs[0]->dtype, 4, dims))) return st;
    engine_axis_params *out = axis_params(g, n, 0);
    if (!out) return OOM(g, n);
    *out = p;
    return ENGINE_OK;
}

/* Trilu (opset 14): rank >= 2, any dtype; k the optional constant scalar
 * input 1 (int64, default 0), upper (default 1). */
engine_status eng_infer_Trilu(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 1, 2);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "input", ENG_DT_ANY))) return st;
    if (x->rank < 2)
        return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 0 has rank %d, expected at least 2", x->rank);
    int64_t upper, k = 0;
    if ((st = eng_attr_int(g, n, "upper", 1, &upper))) return st;
    if (upper != 0 && upper != 1)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "attribute upper must be 0 or 1, got %lld",
                              (long long)upper);
    if (eng_has_input(n, 1)) {
        if ((st = eng_check_dtype(g, n, 1, "k", ENG_DT(ENGINE_DTYPE_I64)))) return st;
        if (engine_value_numel(n->inputs[1]) != 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "input 1 (k) must hold one value, got %lld",
                                  (long long)engine_value_numel(n->inputs[1]));
        int cnt;
        if ((st = eng_const_ints(g, n, 1, &k, 1, &cnt))) return st;
    }
    if ((st = eng_same_as_input(g, n, 0))) return st;
    engine_scan_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory for params");
    memset(p, 0, sizeof *p);
    p->upper = (int)upper;
    p->k = k;
    return ENGINE_OK;
}
