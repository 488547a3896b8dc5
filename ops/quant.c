/* ops/quant.c - shape functions of QuantizeLinear and DequantizeLinear
 * (opsets 10, 13: axis, 19: saturate and float8, 21: block_size and
 * output_dtype).
 *
 * The quantized side is uint8 or int8 (and int32 for DequantizeLinear's
 * input); scales are float32. Wider, narrower and float8 types are refused
 * by name: the loader refuses such tensors already (engine/src/onnx.c), and
 * output_dtype (21) asks for them by code, which is checked here. */
#include <string.h>

#include "ops_util.h"

/* ONNX TensorProto codes output_dtype may hold, named for the refusal. */
static const char *onnx_type_name(int64_t t) {
    switch (t) {
    case 1: return "float";
    case 2: return "uint8";
    case 3: return "int8";
    case 4: return "uint16";
    case 5: return "int16";
    case 6: return "int32";
    case 7: return "int64";
    case 10: return "float16";
    case 11: return "double";
    case 12: return "uint32";
    case 13: return "uint64";
    case 16: return "bfloat16";
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    default: return NULL;
    }
}

/* Checks scale (input 1) and zero_point (input 2, optional) against x's
 * shape and fills the params: per tensor (axis -1), per axis or blocked. */
static engine_status quant_layout(eng_graph *g, engine_node *n, const engine_value *x) {
    const int opset = eng_opset(g, n);
    const engine_value *sc = n->inputs[1], *zp = eng_has_input(n, 2) ? n->inputs[2] : NULL;
    engine_status st = eng_check_dtype(g, n, 1, "scale", ENG_DT_FLOAT);
    if (st) return st;
    int64_t axis = 1, block = 0;
    if (opset >= 13 && (st = eng_attr_int(g, n, "axis", 1, &axis))) return st;
    if (opset >= 21 && (st = eng_attr_int(g, n, "block_size", 0, &block))) return st;
    if (block < 0)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "block_size %lld is negative", (long long)block);
    char b1[ENG_SHAPE_BUF], b2[ENG_SHAPE_BUF];
    if (zp) {
        int same = zp->rank == sc->rank;
        for (int d = 0; same && d < sc->rank; ++d) same = zp->dims[d] == sc->dims[d];
        if (!same)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "zero_point has shape %s; scale has %s (they must agree)",
                                  eng_shape_str(zp->rank, zp->dims, b1), eng_shape_str(sc->rank, sc->dims, b2));
    }
    int ax = -1;
    if (block > 0) {
        if (sc->rank != x->rank || x->rank < 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                  "blocked quantization needs scale of x's rank %d; scale has shape %s", x->rank,
                                  eng_shape_str(sc->rank, sc->dims, b1));
        if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
        for (int d = 0; d < x->rank; ++d) {
            int64_t want = d == ax ? (x->dims[d] + block - 1) / block : x->dims[d];
            if (sc->dims[d] != want)
                return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE,
                                      "scale has shape %s; x %s with block_size %lld on axis %d needs %lld at dim %d",
                                      eng_shape_str(sc->rank, sc->dims, b1), eng_shape_str(x->rank, x->dims, b2),
                                      (long long)block, ax, (long long)want, d);
        }
    } else if (sc->rank == 0 || (sc->rank == 1 && sc->dims[0] == 1)) {
        ax = -1; /* one scale for the whole tensor */
    } else {
        if (opset < 13 || sc->rank != 1)
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "scale has shape %s; expected a scalar%s",
                                  eng_shape_str(sc->rank, sc->dims, b1),
                                  opset < 13 ? " (per-axis scales come with opset 13)" : " or a 1-D per-axis scale");
        if ((st = eng_norm_axis(g, n, axis, x->rank, 0, "axis", &ax))) return st;
        if (sc->dims[0] != x->dims[ax])
            return eng_node_error(g->ctx, n, ENGINE_ERR_SHAPE, "scale has %lld values; x has %lld along axis %d",
                                  (long long)sc->dims[0], (long long)x->dims[ax], ax);
    }
    engine_quant_params *p = eng_node_params(g, n, sizeof *p);
    if (!p) return eng_node_error(g->ctx, n, ENGINE_ERR_OUT_OF_MEMORY, "out of memory");
    p->axis = ax;
    p->block_size = ax >= 0 ? block : 0;
    return ENGINE_OK;
}

#define QDT (ENG_DT(ENGINE_DTYPE_U8) | ENG_DT(ENGINE_DTYPE_I8))

engine_status eng_infer_QuantizeLinear(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    const int opset = eng_opset(g, n);
    if ((st = eng_check_dtype(g, n, 0, "x", ENG_DT_FLOAT | ENG_DT(ENGINE_DTYPE_I32)))) return st;
    engine_dtype yt = ENGINE_DTYPE_U8;
    if (eng_has_input(n, 2)) {
        if ((st = eng_check_dtype(g, n, 2, "zero_point", QDT))) return st;
        yt = n->inputs[2]->dtype;
    }
    int64_t sat = 1, odt = 0;
    if (opset >= 19 && (st = eng_attr_int(g, n, "saturate", 1, &sat))) return st; /* float8 only: unused */
    (void)sat;
    if (opset >= 21 && (st = eng_attr_int(g, n, "output_dtype", 0, &odt))) return st;
    if (odt != 0) {
        const char *name = onnx_type_name(odt);
        if (odt != 2 && odt != 3)
            return eng_node_error(g->ctx, n, ENGINE_ERR_UNSUPPORTED,
                                  "output_dtype %s (%lld) is not supported (uint8 and int8 are)", name ? name : "unknown",
                                  (long long)odt);
        engine_dtype want = odt == 2 ? ENGINE_DTYPE_U8 : ENGINE_DTYPE_I8;
        if (eng_has_input(n, 2) && want != yt)
            return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "output_dtype %s differs from zero_point's %s",
                                  name, engine_dtype_name(yt));
        yt = want;
    }
    if ((st = quant_layout(g, n, x))) return st;
    return eng_set_output(g, n, 0, yt, x->rank, x->dims);
}

engine_status eng_infer_DequantizeLinear(eng_graph *g, engine_node *n) {
    engine_status st = eng_check_input_count(g, n, 2, 3);
    if (st) return st;
    const engine_value *x = n->inputs[0];
    if ((st = eng_check_dtype(g, n, 0, "x", QDT | ENG_DT(ENGINE_DTYPE_I32)))) return st;
    if (eng_has_input(n, 2) && n->inputs[2]->dtype != x->dtype)
        return eng_node_error(g->ctx, n, ENGINE_ERR_INVALID_MODEL, "zero_point has type %s; x has %s (they must agree)",
                              engine_dtype_name(n->inputs[2]->dtype), engine_dtype_name(x->dtype));
    if ((st = quant_layout(g, n, x))) return st;
    return eng_set_output(g, n, 0, ENGINE_DTYPE_F32, x->rank, x->dims);
}
