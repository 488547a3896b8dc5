#!/usr/bin/env python3
"""Writes the hostile-model catalogue: one folder per case, each holding a
malformed model.onnx (and whatever files the case needs), plus manifest.tsv
with one line per case: folder, expected engine_status number, a substring
the context's message must contain.

Models are built with onnx.helper and raw protobuf fields, never checked by
onnx.checker: the point is to hand the engine what the checker would refuse.
Usage: gen_hostile.py OUTDIR [STAMP]  (STAMP: a file touched when done, for
meson's custom_target)
"""
import os
import shutil
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

# engine_status numbers (engine.h)
PARSE, INVALID_MODEL, UNSUPPORTED, SHAPE, SECURITY = 4, 5, 6, 7, 11
INVALID_ARGUMENT = 1

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def vi(name, dims, elem=F):
    return helper.make_tensor_value_info(name, elem, dims)


def init(name, arr):
    arr = np.asarray(arr)
    return helper.make_tensor(name, onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[arr.dtype], arr.shape,
                              arr.tobytes(), raw=True)


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "hostile", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="gen_hostile")
    m.ir_version = 8
    return m


def rng_w(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def conv_model(**attrs):
    """X[1,4,8,8] -> Conv(W[4,2,3,3], group 2 by default) -> Y."""
    attrs.setdefault("group", 2)
    w_shape = attrs.pop("w_shape", (4, 4 // max(attrs["group"], 1) if attrs["group"] > 0 else 2, 3, 3))
    node = helper.make_node("Conv", ["X", "W"], ["Y"], name="conv", **attrs)
    return model([node], [vi("X", [1, 4, 8, 8])], [vi("Y", None)], [init("W", rng_w(w_shape, 1))])


def pool_model(**attrs):
    node = helper.make_node("MaxPool", ["X"], ["Y"], name="pool", **attrs)
    return model([node], [vi("X", [1, 2, 8, 8])], [vi("Y", None)])


def relu_model():
    return model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [1, 4])], [vi("Y", [1, 4])])


def ext_model(location, offset=None, length=None, n=4):
    """Relu(X) + W where W[n] lives in external data at `location`."""
    t = TensorProto()
    t.name = "W"
    t.data_type = F
    t.dims.append(n)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    nodes = [helper.make_node("Add", ["X", "W"], ["Y"], name="add")]
    return model(nodes, [vi("X", [n])], [vi("Y", [n])], [t])


CASES = []  # (name, status, substring, model or bytes, setup(folder) or None)


def case(name, status, substring, m, setup=None):
    CASES.append((name, status, substring, m, setup))


def build_cases():
    # ---- the model itself ----
    m = model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [1, 4])], [vi("Y", None)])
    m.ir_version = 0
    case("ir_version_0", INVALID_MODEL, "ir_version is 0", m)
    # ---- ranks, dims, sizes ----
    t = init("W", np.zeros([1] * 9, np.float32))
    case("rank9_initializer", UNSUPPORTED, "rank 9 is above the supported 8",
         model([helper.make_node("Identity", ["W"], ["Y"], name="id")], [], [vi("Y", None)], [t]))
    case("rank9_input", UNSUPPORTED, "has rank 9; at most 8",
         model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [1] * 9)], [vi("Y", None)]))
    t = TensorProto(name="W", data_type=F, dims=[2, -3])
    case("negative_dim_initializer", PARSE, "negative dimension -3",
         model([helper.make_node("Identity", ["W"], ["Y"], name="id")], [], [vi("Y", None)], [t]))
    case("negative_dim_input", PARSE, "negative dimension -2",
         model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [1, -2])], [vi("Y", None)]))
    t = TensorProto(name="W", data_type=F, dims=[1 << 31, 1 << 31, 1 << 31])
    case("numel_overflow", PARSE, "dimensions overflow",
         model([helper.make_node("Identity", ["W"], ["Y"], name="id")], [], [vi("Y", None)], [t]))
    # 2^60 elements fit in 64 bits, their 2^62 bytes of float32 do not fit a sane size
    t = TensorProto(name="W", data_type=F, dims=[1 << 30, 1 << 30])
    case("bytesize_overflow", PARSE, "dimensions overflow",
         model([helper.make_node("Identity", ["W"], ["Y"], name="id")], [], [vi("Y", None)], [t]))
    case("input_too_large", SHAPE, "is too large",
         model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [1 << 40, 1 << 40])], [vi("Y", None)]))
    t = TensorProto(name="W", data_type=F, dims=[4], raw_data=b"\0" * 8)
    case("raw_data_short", PARSE, "raw_data has 8 bytes, expected 16",
         model([helper.make_node("Add", ["X", "W"], ["Y"], name="add")], [vi("X", [4])], [vi("Y", None)], [t]))
    t = TensorProto(name="W", data_type=F, dims=[4], raw_data=b"\0" * 20)
    case("raw_data_long", PARSE, "raw_data has 20 bytes, expected 16",
         model([helper.make_node("Add", ["X", "W"], ["Y"], name="add")], [vi("X", [4])], [vi("Y", None)], [t]))
    t = TensorProto(name="W", data_type=F, dims=[4], float_data=[1.0, 2.0, 3.0])
    case("float_data_short", PARSE, "float_data has 3 elements, expected 4",
         model([helper.make_node("Add", ["X", "W"], ["Y"], name="add")], [vi("X", [4])], [vi("Y", None)], [t]))

    # ---- attributes out of range ----
    case("softmax_axis", SHAPE, "axis",
         model([helper.make_node("Softmax", ["X"], ["Y"], name="sm", axis=5)], [vi("X", [2, 3])], [vi("Y", None)]))
    # issue 17's ops: bad attributes are refused, naming node, op and reason
    case("argmax_axis", SHAPE, "axis 3 is out of range",
         model([helper.make_node("ArgMax", ["X"], ["Y"], name="am", axis=3)], [vi("X", [2, 3])], [vi("Y", None, I64)]))
    case("mod_float_fmod0", INVALID_MODEL, "need attribute fmod = 1",
         model([helper.make_node("Mod", ["X", "X"], ["Y"], name="mod")], [vi("X", [2, 3])], [vi("Y", None)]))
    case("gelu_approximate", INVALID_MODEL, "approximate must be",
         model([helper.make_node("Gelu", ["X"], ["Y"], name="gelu", approximate="fast")], [vi("X", [2])],
               [vi("Y", None)], opset=20))
    case("lpnorm_p3", INVALID_MODEL, "p must be 1 or 2",
         model([helper.make_node("LpNormalization", ["X"], ["Y"], name="lp", p=3)], [vi("X", [2, 3])],
               [vi("Y", None)]))
    case("trilu_rank1", SHAPE, "expected at least 2",
         model([helper.make_node("Trilu", ["X"], ["Y"], name="tri")], [vi("X", [4])], [vi("Y", None)], opset=14))
    # Einsum, GridSample, QuantizeLinear, DequantizeLinear (issue 17's last ops)
    def es(name, status, sub, eq, shapes):
        ins = [vi(f"x{k}", sh) for k, sh in enumerate(shapes)]
        case(name, status, sub, model([helper.make_node("Einsum", [i.name for i in ins], ["Y"], name="es", equation=eq)],
                                      ins, [vi("Y", None)], opset=12))
    # An empty input name is "absent" in ONNX; every Einsum operand is required (found by fuzz_load).
    case("einsum_missing_operand", INVALID_MODEL, "input 1 is missing",
         model([helper.make_node("Einsum", ["x0", "", "x2"], ["Y"], name="es", equation="bn,anm,bm->ba")],
               [vi("x0", [2, 3]), vi("x2", [2, 5])], [vi("Y", None)], opset=12))
    es("einsum_operand_count", INVALID_MODEL, "has 1 operands; the node has 2 inputs", "ij->ji", [[2, 3], [3]])
    es("einsum_bad_character", INVALID_MODEL, "character '#'", "i#,jk->ik", [[2, 3], [3, 4]])
    es("einsum_two_arrows", INVALID_MODEL, "a stray", "ij->j->i", [[2, 3]])
    es("einsum_rank_mismatch", SHAPE, "operand 0 has 3 letters; input 0 has rank 2", "ijk->i", [[2, 3]])
    es("einsum_letter_dims", SHAPE, "letter 'j' is 4 in input 1 but 3 elsewhere", "ij,jk->ik", [[2, 3], [4, 5]])
    es("einsum_output_letter_unknown", INVALID_MODEL, "output letter 'q' is in no operand", "ij->iq", [[2, 3]])
    es("einsum_no_output_ellipsis", INVALID_MODEL, "no '...'", "...ij->ij", [[5, 2, 3]])
    gs_in = [vi("X", [1, 2, 4, 4]), vi("G", [1, 3, 3, 2])]
    case("gridsample_mode", INVALID_MODEL, "mode 'bilinear' is not one of nearest, linear, cubic at opset 20",
         model([helper.make_node("GridSample", ["X", "G"], ["Y"], name="gs", mode="bilinear")], gs_in,
               [vi("Y", None)], opset=20))
    case("gridsample_grid_shape", SHAPE, "grid has shape [1,3,3,3]",
         model([helper.make_node("GridSample", ["X", "G"], ["Y"], name="gs")],
               [vi("X", [1, 2, 4, 4]), vi("G", [1, 3, 3, 3])], [vi("Y", None)], opset=16))
    qx = [vi("X", [2, 3])]
    case("quantize_zero_point_dtype", INVALID_MODEL, "zero_point has type int8; x has uint8",
         model([helper.make_node("DequantizeLinear", ["X", "S", "Z"], ["Y"], name="dq")],
               [vi("X", [2, 3], TensorProto.UINT8)], [vi("Y", None)],
               [init("S", np.array(0.5, np.float32)), init("Z", np.array(1, np.int8))]))
    case("quantize_scale_shape", SHAPE, "scale has 4 values; x has 3 along axis 1",
         model([helper.make_node("QuantizeLinear", ["X", "S"], ["Y"], name="q")], qx, [vi("Y", None)],
               [init("S", np.ones(4, np.float32))]))
    case("quantize_axis", SHAPE, "axis 2 is out of range",
         model([helper.make_node("QuantizeLinear", ["X", "S"], ["Y"], name="q", axis=2)], qx, [vi("Y", None)],
               [init("S", np.ones(3, np.float32))]))
    case("quantize_float8", UNSUPPORTED, "output_dtype float8e5m2 (19) is not supported",
         model([helper.make_node("QuantizeLinear", ["X", "S"], ["Y"], name="q", output_dtype=19)], qx,
               [vi("Y", None)], [init("S", np.array(0.5, np.float32))], opset=21))
    case("quantize_int16_tensor", UNSUPPORTED, "data type int16 (5) is not supported",
         model([helper.make_node("QuantizeLinear", ["X", "S", "Z"], ["Y"], name="q")], qx, [vi("Y", None)],
               [init("S", np.array(0.5, np.float32)), init("Z", np.array(1, np.int16))]))
    case("concat_axis", SHAPE, "axis",
         model([helper.make_node("Concat", ["X", "X"], ["Y"], name="cat", axis=-4)], [vi("X", [2, 3])],
               [vi("Y", None)]))
    case("transpose_perm_repeat", INVALID_MODEL, "perm is not a permutation",
         model([helper.make_node("Transpose", ["X"], ["Y"], name="tr", perm=[0, 0, 1])], [vi("X", [2, 3, 4])],
               [vi("Y", None)]))
    case("transpose_perm_range", INVALID_MODEL, "perm is not a permutation",
         model([helper.make_node("Transpose", ["X"], ["Y"], name="tr", perm=[0, 1, 7])], [vi("X", [2, 3, 4])],
               [vi("Y", None)]))
    case("transpose_perm_length", SHAPE, "perm has 2 values but input 0 has rank 3",
         model([helper.make_node("Transpose", ["X"], ["Y"], name="tr", perm=[1, 0])], [vi("X", [2, 3, 4])],
               [vi("Y", None)]))
    case("split_sizes_sum", SHAPE, "split sizes sum to 5 but axis 1 has size 6",
         model([helper.make_node("Split", ["X"], ["A", "B"], name="split", axis=1, split=[2, 3])],
               [vi("X", [2, 6])], [vi("A", None), vi("B", None)], opset=11))
    case("split_size_negative", SHAPE, "split size 0 is -1",
         model([helper.make_node("Split", ["X", "S"], ["A", "B"], name="split", axis=1)],
               [vi("X", [2, 6])], [vi("A", None), vi("B", None)], [init("S", np.array([-1, 7], np.int64))]))
    case("gather_index", SHAPE, "index 7 is out of range for axis 0 of size 5",
         model([helper.make_node("Gather", ["D", "I"], ["Y"], name="gather", axis=0)], [], [vi("Y", None)],
               [init("D", np.arange(5, dtype=np.float32)), init("I", np.array([1, 7], np.int64))]))
    case("gather_index_negative", SHAPE, "index -6 is out of range",
         model([helper.make_node("Gather", ["D", "I"], ["Y"], name="gather", axis=0)], [], [vi("Y", None)],
               [init("D", np.arange(5, dtype=np.float32)), init("I", np.array([-6], np.int64))]))
    case("conv_pads_negative", INVALID_MODEL, "pads on spatial axis 0 are negative",
         conv_model(pads=[-1, 0, 0, 0]))
    case("conv_pads_length", INVALID_MODEL, "pads has 3 values, expected 4", conv_model(pads=[1, 1, 1]))
    case("conv_strides_zero", INVALID_MODEL, "strides[0] = 0 must be positive", conv_model(strides=[0, 1]))
    case("conv_dilations_zero", INVALID_MODEL, "dilations[1] = 0 must be positive", conv_model(dilations=[1, 0]))
    case("conv_kernel_zero", SHAPE, "kernel size 0 on spatial axis 0 is not positive", conv_model(w_shape=(4, 2, 0, 3)))
    case("conv_kernel_shape_zero", SHAPE, "kernel_shape[0] = 0 but input 1 (W) has 3", conv_model(kernel_shape=[0, 3]))
    case("conv_group_zero", INVALID_MODEL, "group 0 must be positive", conv_model(group=0))
    case("conv_group_not_dividing", SHAPE, "not divisible by group 3", conv_model(group=3, w_shape=(3, 1, 3, 3)))
    case("pool_kernel_zero", INVALID_MODEL, "kernel_shape[0] = 0 is out of range", pool_model(kernel_shape=[0, 2]))
    case("pool_strides_zero", INVALID_MODEL, "strides[1] = 0 is out of range",
         pool_model(kernel_shape=[2, 2], strides=[1, 0]))

    # ---- graph structure ----
    case("duplicate_producer", INVALID_MODEL, "is also produced by node 'r1'",
         model([helper.make_node("Relu", ["X"], ["Y"], name="r1"), helper.make_node("Relu", ["X"], ["Y"], name="r2")],
               [vi("X", [4])], [vi("Y", None)]))
    case("duplicate_initializer", INVALID_MODEL, "'W' is defined twice",
         model([helper.make_node("Add", ["X", "W"], ["Y"], name="add")], [vi("X", [2])], [vi("Y", None)],
               [init("W", np.ones(2, np.float32)), init("W", np.ones(2, np.float32))]))
    case("duplicate_input", INVALID_MODEL, "graph input 'X' is listed twice",
         model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [4]), vi("X", [4])], [vi("Y", None)]))
    case("output_is_input", INVALID_MODEL, "output 'X' is also a graph input",
         model([helper.make_node("Relu", ["X"], ["X"], name="relu")], [vi("X", [4])], [vi("X", None)]))
    case("cycle", INVALID_MODEL, "cycle",
         model([helper.make_node("Add", ["X", "B"], ["A"], name="a"), helper.make_node("Relu", ["A"], ["B"], name="b")],
               [vi("X", [4])], [vi("B", None)]))
    case("self_loop", INVALID_MODEL, "cycle",
         model([helper.make_node("Add", ["X", "A"], ["A"], name="a")], [vi("X", [4])], [vi("A", None)]))
    case("missing_input", INVALID_MODEL, "input 1 'nowhere' is not produced by any node",
         model([helper.make_node("Add", ["X", "nowhere"], ["Y"], name="add")], [vi("X", [4])], [vi("Y", None)]))
    case("output_not_produced", INVALID_MODEL, "graph output 'Z' is not produced by any node",
         model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [4])], [vi("Y", None), vi("Z", None)]))
    case("no_outputs", INVALID_MODEL, "no outputs",
         model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [4])], []))
    case("unknown_op", UNSUPPORTED, "node 'f' (Frobnicate): op 'Frobnicate' is not supported",
         model([helper.make_node("Frobnicate", ["X"], ["Y"], name="f")], [vi("X", [4])], [vi("Y", None)]))
    case("extra_output", INVALID_MODEL, "node 'relu' (Relu): has 2 outputs; output 1 'Z' is not one the op defines",
         model([helper.make_node("Relu", ["X"], ["Y", "Z"], name="relu")], [vi("X", [4])], [vi("Y", None)]))
    case("unknown_ops", UNSUPPORTED, "2 more ops are not built in: 'FrobnicateB' (node 'f2'), 'Zorp' (node 'z')",
         model([helper.make_node("FrobnicateA", ["X"], ["A"], name="f1"),
                helper.make_node("FrobnicateB", ["A"], ["B"], name="f2"),
                helper.make_node("Relu", ["B"], ["C"], name="relu"),
                helper.make_node("Zorp", ["C"], ["Y"], name="z")], [vi("X", [4])], [vi("Y", None)]))
    m = model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [4])], [vi("Y", None)])
    m.graph.node[0].domain = "com.nowhere"
    case("unknown_domain", INVALID_MODEL, "domain 'com.nowhere' is not in the model's opset_import", m)
    case("unknown_dtype_input", PARSE, "unknown data type 99",
         model([helper.make_node("Relu", ["X"], ["Y"], name="relu")], [vi("X", [4], 99)], [vi("Y", None)]))
    t = TensorProto(name="W", data_type=77, dims=[1], raw_data=b"\0")
    case("unknown_dtype_initializer", PARSE, "unknown data type 77",
         model([helper.make_node("Identity", ["W"], ["Y"], name="id")], [], [vi("Y", None)], [t]))
    case("string_dtype", UNSUPPORTED, "data type string (8) is not supported",
         model([helper.make_node("Identity", ["X"], ["Y"], name="id")], [vi("X", [4], TensorProto.STRING)],
               [vi("Y", None)]))
    m = relu_model()
    m.opset_import[0].version = 0
    case("opset_too_old", UNSUPPORTED, "ONNX opset 0 is not supported (supported: 1 to 21)", m)
    m = relu_model()
    m.opset_import[0].version = 99
    case("opset_too_new", UNSUPPORTED, "ONNX opset 99 is not supported", m)
    m = relu_model()
    del m.opset_import[:]
    case("no_opset", PARSE, "no opset_import", m)
    # ---- old opsets: forms refused with the node, op, opset and reason ----
    bn = [init(k, np.ones([2], np.float32)) for k in ("s", "b", "m", "v")]
    case("bn_opset6_training", UNSUPPORTED, "'bn' (BatchNormalization): is_test=0 (opset 6",
         model([helper.make_node("BatchNormalization", ["X", "s", "b", "m", "v"], ["Y"], name="bn")],
               [vi("X", [1, 2, 3, 3])], [vi("Y", None)], bn, opset=6))
    case("bn_opset7_spatial0", UNSUPPORTED, "'bn' (BatchNormalization): spatial=0",
         model([helper.make_node("BatchNormalization", ["X", "s", "b", "m", "v"], ["Y"], name="bn", spatial=0)],
               [vi("X", [1, 2, 3, 3])], [vi("Y", None)], bn, opset=7))
    case("dropout_opset6_training", UNSUPPORTED, "'drop' (Dropout): is_test=0 (opset 6",
         model([helper.make_node("Dropout", ["X"], ["Y"], name="drop")], [vi("X", [1, 4])], [vi("Y", None)],
               opset=6))
    case("dropout_training_ratio_1", INVALID_MODEL, "'drop' (Dropout): ratio 1 must be in [0, 1)",
         model([helper.make_node("Dropout", ["X", "R", "T"], ["Y"], name="drop")], [vi("X", [1, 4])],
               [vi("Y", None)], [init("R", np.array(1.0, np.float32)), init("T", np.array(True))], opset=13))
    case("add_opset6_computed_b_axis", UNSUPPORTED, "'add' (Add): broadcast of a computed B",
         model([helper.make_node("Add", ["X", "B"], ["Y"], name="add", broadcast=1, axis=1)],
               [vi("X", [2, 3, 4]), vi("B", [3])], [vi("Y", None)], opset=6))
    case("add_opset6_no_broadcast", SHAPE, "'add' (Add): opset 6 without broadcast=1 needs equal shapes",
         model([helper.make_node("Add", ["X", "B"], ["Y"], name="add")], [vi("X", [2, 3]), vi("B", [3])],
               [vi("Y", None)], opset=6))
    case("mish_before_opset18", INVALID_MODEL, "'mish' (Mish): Mish is not defined in opset 17",
         model([helper.make_node("Mish", ["X"], ["Y"], name="mish")], [vi("X", [4])], [vi("Y", None)], opset=17))
    case("resize_crop_without_roi", INVALID_MODEL, "'rs' (Resize): tf_crop_and_resize needs input 1 (roi)",
         model([helper.make_node("Resize", ["X", "", "S"], ["Y"], name="rs", mode="linear",
                                 coordinate_transformation_mode="tf_crop_and_resize")],
               [vi("X", [1, 1, 4, 4])], [vi("Y", None)], [init("S", np.array([1, 1, 0.5, 0.5], np.float32))],
               opset=13))
    case("resize_crop_roi_nan", SHAPE, "'rs' (Resize): roi of axis 2 is not finite",
         model([helper.make_node("Resize", ["X", "R", "", "Z"], ["Y"], name="rs", mode="linear",
                                 coordinate_transformation_mode="tf_crop_and_resize")],
               [vi("X", [1, 1, 4, 4])], [vi("Y", None)],
               [init("R", np.array([0, 0, np.nan, 0, 1, 1, 1, 1], np.float32)),
                init("Z", np.array([1, 1, 3, 3], np.int64))], opset=13))
    m = model([helper.make_node("If", ["C"], ["Y"], name="if",
                                then_branch=relu_model().graph, else_branch=relu_model().graph)],
              [vi("C", [], TensorProto.BOOL)], [vi("Y", None)])
    case("if_branch_with_inputs", INVALID_MODEL, "an If branch takes no inputs", m)
    m = model([helper.make_node("Scan", ["X"], ["Y"], name="scan", num_scan_inputs=1, body=relu_model().graph)],
              [vi("X", [1, 4])], [vi("Y", None)])
    case("scan", UNSUPPORTED, "only If and Loop bodies are supported", m)
    # ---- tensor sequences (engine/src/sequence.c) ----
    sq = helper.make_tensor_sequence_value_info
    case("sequence_output", UNSUPPORTED, "model output 'S' is a tensor sequence",
         model([helper.make_node("SequenceConstruct", ["X"], ["S"], name="sc")], [vi("X", [2])],
               [sq("S", F, None)], opset=11))
    case("sequence_at_out_of_range", INVALID_MODEL, "'at' (SequenceAt): position 5 is outside [-2, 1]",
         model([helper.make_node("SequenceConstruct", ["X", "X"], ["S"], name="sc"),
                helper.make_node("SequenceAt", ["S", "P"], ["Y"], name="at")], [vi("X", [2])], [vi("Y", None)],
               [init("P", np.array(5, np.int64))], opset=11))
    case("sequence_at_empty", INVALID_MODEL, "'at' (SequenceAt): reading from an empty sequence",
         model([helper.make_node("SequenceEmpty", [], ["S"], name="se"),
                helper.make_node("SequenceAt", ["S", "P"], ["Y"], name="at")], [], [vi("Y", None)],
               [init("P", np.array(0, np.int64))], opset=11))
    case("sequence_into_relu", INVALID_MODEL, "'relu' (Relu): input 'S' is a tensor sequence",
         model([helper.make_node("SequenceConstruct", ["X"], ["S"], name="sc"),
                helper.make_node("Relu", ["S"], ["Y"], name="relu")], [vi("X", [2])], [vi("Y", None)], opset=11))
    case("sequence_insert_dtype", INVALID_MODEL, "'ins' (SequenceInsert): tensor 'I' is int64",
         model([helper.make_node("SequenceConstruct", ["X"], ["S"], name="sc"),
                helper.make_node("SequenceInsert", ["S", "I"], ["T"], name="ins"),
                helper.make_node("ConcatFromSequence", ["T"], ["Y"], axis=0, name="cat")],
               [vi("X", [2]), vi("I", [2], I64)], [vi("Y", None)], opset=11))
    case("split_to_sequence_sizes", SHAPE, "'sp' (SplitToSequence): split sizes sum to 4 but axis 0 has size 3",
         model([helper.make_node("SplitToSequence", ["X", "N"], ["S"], name="sp"),
                helper.make_node("ConcatFromSequence", ["S"], ["Y"], axis=0, name="cat")],
               [vi("X", [3])], [vi("Y", None)], [init("N", np.array([1, 3], np.int64))], opset=11))
    case("split_to_sequence_too_long", UNSUPPORTED, "'sp' (SplitToSequence): the sequence would hold more than",
         model([helper.make_node("SplitToSequence", ["X"], ["S"], name="sp"),
                helper.make_node("ConcatFromSequence", ["S"], ["Y"], axis=0, name="cat")],
               [vi("X", [5000])], [vi("Y", None)], opset=11))
    case("concat_from_empty_sequence", INVALID_MODEL, "'cat' (ConcatFromSequence): concatenating an empty sequence",
         model([helper.make_node("SequenceEmpty", [], ["S"], name="se"),
                helper.make_node("ConcatFromSequence", ["S"], ["Y"], axis=0, name="cat")], [], [vi("Y", None)],
               opset=11))

    # ---- external data ----
    def write_weights(folder, name="w.bin", nbytes=16):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(np.arange(nbytes // 4, dtype=np.float32).tobytes())

    case("ext_absolute", SECURITY, "external data path '/etc/passwd' is absolute", ext_model("/etc/passwd"))
    case("ext_dotdot", SECURITY, "contains '..'", ext_model("../outside.bin"))
    case("ext_nested_dotdot", SECURITY, "contains '..'", ext_model("a/../../outside.bin"),
         lambda d: os.makedirs(os.path.join(d, "a"), exist_ok=True))
    case("ext_backslash_dotdot", SECURITY, "contains '..'", ext_model("a\\..\\..\\outside.bin"))

    def symlink_out(d):
        os.symlink(os.path.join("..", "outside.bin"), os.path.join(d, "link.bin"))
    case("ext_symlink", SECURITY, "outside the model folder", ext_model("link.bin"), symlink_out)

    def symlink_dir_out(d):
        os.symlink("..", os.path.join(d, "up"))
    case("ext_symlink_dir", SECURITY, "outside the model folder", ext_model("up/outside.bin"), symlink_dir_out)

    def hardlink_out(d):
        os.link(os.path.join(os.path.dirname(d), "outside.bin"), os.path.join(d, "hard.bin"))
    case("ext_hardlink", SECURITY, "has 2 hard links", ext_model("hard.bin"), hardlink_out)
    case("ext_offset_past_end", PARSE, "runs past its end", ext_model("w.bin", offset=32), write_weights)
    case("ext_length_past_end", PARSE, "runs past its end", ext_model("w.bin", offset=8, length=16), write_weights)
    case("ext_length_mismatch", PARSE, "external data length 8, expected 16", ext_model("w.bin", length=8),
         write_weights)
    case("ext_bad_offset", PARSE, "bad external data offset '-4'", ext_model("w.bin", offset=-4), write_weights)
    case("ext_missing_file", 3, "cannot open external data", ext_model("nothere.bin"))
    case("ext_directory", 3, "not a regular file", ext_model("sub"),
         lambda d: os.makedirs(os.path.join(d, "sub"), exist_ok=True))

    # ---- bytes that are not a model ----
    case("garbage_bytes", PARSE, "protobuf decoding failed", bytes(range(7, 250, 3)) * 4)
    case("empty_file", PARSE, "no graph", b"")
    # a length-delimited field claiming more bytes than the file has
    case("truncated_field", PARSE, "protobuf decoding failed", b"\x3a\xff\xff\xff\x0f\x0a\x02")


def main():
    out = sys.argv[1]
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    with open(os.path.join(out, "outside.bin"), "wb") as f:  # the file escapes aim at
        f.write(struct.pack("<4f", 1, 2, 3, 4))
    build_cases()
    lines = []
    for name, status, substring, m, setup in CASES:
        d = os.path.join(out, name)
        os.makedirs(d)
        data = m if isinstance(m, bytes) else m.SerializeToString()
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(data)
        if setup:
            setup(d)
        assert "\t" not in substring and "\n" not in substring
        lines.append(f"{name}\t{status}\t{substring}\n")
    # A small valid model for the truncation and byte-flip sweeps.
    rng = np.random.default_rng(8)
    nodes = [helper.make_node("Conv", ["X", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1], group=1),
             helper.make_node("BatchNormalization", ["c", "s", "b", "mu", "var"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Reshape", ["p", "S"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G", "H"], ["g"], name="fc", transB=1),
             helper.make_node("Softmax", ["g"], ["sm"], name="sm", axis=1),
             # a tensor sequence that gives the same Y back (the sweeps reach sequence.c)
             helper.make_node("SplitToSequence", ["sm"], ["parts"], name="split", axis=1),
             helper.make_node("ConcatFromSequence", ["parts"], ["Y"], name="join", axis=1)]
    inits = [init("W", rng.standard_normal((3, 2, 3, 3)).astype(np.float32)),
             init("B", rng.standard_normal(3).astype(np.float32)),
             init("s", rng.uniform(0.5, 1.5, 3).astype(np.float32)),
             init("b", rng.standard_normal(3).astype(np.float32)),
             init("mu", rng.standard_normal(3).astype(np.float32)),
             init("var", rng.uniform(0.5, 1.5, 3).astype(np.float32)),
             init("S", np.array([1, -1], np.int64)),
             init("G", rng.standard_normal((5, 48)).astype(np.float32)),
             init("H", rng.standard_normal(5).astype(np.float32))]
    small = model(nodes, [vi("X", [1, 2, 8, 8])], [vi("Y", [1, 5])], inits)
    onnx.checker.check_model(small)
    with open(os.path.join(out, "small.onnx"), "wb") as f:
        f.write(small.SerializeToString())
    # Its dynamic twin (symbolic batch, height and width): the sweeps also
    # run it at two shapes.
    nodes = [helper.make_node("Conv", ["X", "W", "B"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "G", "H"], ["Y"], name="fc", transB=1)]
    inits = [init("W", rng.standard_normal((3, 2, 3, 3)).astype(np.float32)),
             init("B", rng.standard_normal(3).astype(np.float32)),
             init("G", rng.standard_normal((5, 3)).astype(np.float32)),
             init("H", rng.standard_normal(5).astype(np.float32))]
    dyn = model(nodes, [vi("X", ["N", 2, "H", "W"])], [vi("Y", ["N", 5])], inits)
    onnx.checker.check_model(dyn)
    with open(os.path.join(out, "small_dyn.onnx"), "wb") as f:
        f.write(dyn.SerializeToString())
    # Output shapes from data, for the truncation and byte-flip sweeps: NMS
    # (its limits as initializers a flip can make huge, negative or NaN),
    # NonZero feeding TopK's k, and a Gather by the kept indices.
    nodes = [helper.make_node("NonMaxSuppression", ["B", "S", "maxb", "iou", "sth"], ["sel"], name="nms"),
             helper.make_node("Gather", ["sel", "two"], ["bi"], axis=1),
             helper.make_node("Squeeze", ["B"], ["b2"], axes=[0]),
             helper.make_node("Gather", ["b2", "bi"], ["picked"], axis=0),
             helper.make_node("Relu", ["S"], ["r"]),
             helper.make_node("NonZero", ["r"], ["nz"]),
             helper.make_node("Shape", ["nz"], ["shp"]),
             helper.make_node("Slice", ["shp", "one", "two1"], ["k"]),
             helper.make_node("Reshape", ["S", "flat"], ["sf"]),
             helper.make_node("TopK", ["sf", "k"], ["tv", "ti"], axis=0, name="topk")]
    inits = [init("maxb", np.array([4], np.int64)), init("iou", np.array([0.5], np.float32)),
             init("sth", np.array([0.2], np.float32)), init("two", np.array(2, np.int64)),
             init("one", np.array([1], np.int64)), init("two1", np.array([2], np.int64)),
             init("flat", np.array([-1], np.int64))]
    dd = model(nodes, [vi("B", [1, 6, 4]), vi("S", [1, 2, 6])], [vi("picked", None), vi("tv", None), vi("ti", None)],
               inits, opset=11)
    with open(os.path.join(out, "small_dd.onnx"), "wb") as f:
        f.write(dd.SerializeToString())
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.writelines(lines)
    runtime_cases(out)
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write(f"{len(lines)} cases\n")


def runtime_cases(out):
    """Valid models given hostile values at run time: indices out of range,
    NaN boxes, negative counts. Each either fails with a message (status 0
    in the manifest means it must succeed; its output 0 is then compared
    with out.npy when written). runtime.tsv: NAME, STATUS, SUBSTRING, INPUTS."""
    I64 = TensorProto.INT64
    rows = []

    def rt(name, nodes, inputs, arrays, status, substring, outputs=("y",), expect=None, opset=16, inits=()):
        m = model(nodes, inputs, [vi(o, None) for o in outputs], inits, opset=opset)
        d = os.path.join(out, "rt_" + name)
        os.makedirs(d)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(m.SerializeToString())
        for k, a in enumerate(arrays):
            np.save(os.path.join(d, "input_%d.npy" % k), a)
        if expect is not None:
            np.save(os.path.join(d, "out.npy"), expect)
        rows.append(f"rt_{name}\t{status}\t{substring}\t{len(arrays)}\n")

    x23 = np.arange(6, dtype=np.float32).reshape(2, 3)
    ge = [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1, name="ge")]
    ge_in = [vi("x", [2, 3]), vi("i", [2, 2], I64)]
    rt("gather_elements_oob", ge, ge_in, [x23, np.array([[0, 5], [1, 2]], np.int64)], INVALID_ARGUMENT,
       "node 'ge' (GatherElements): an index read at run time is out of range")
    neg = np.array([[-1, 0], [1, -3]], np.int64)
    rt("gather_elements_negative", ge, ge_in, [x23, neg], 0, "", expect=np.take_along_axis(x23, neg % 3, 1))
    rt("gathernd_oob", [helper.make_node("GatherND", ["x", "i"], ["y"], name="gnd")],
       [vi("x", [2, 3]), vi("i", [1, 2], I64)], [x23, np.array([[2, 0]], np.int64)], INVALID_ARGUMENT,
       "node 'gnd' (GatherND): an index read at run time is out of range")
    rt("scatter_elements_oob", [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=0, name="se")],
       [vi("x", [2, 3]), vi("i", [1, 3], I64), vi("u", [1, 3])],
       [x23, np.array([[0, 7, 1]], np.int64), np.ones((1, 3), np.float32)], INVALID_ARGUMENT,
       "node 'se' (ScatterElements): an index read at run time is out of range")
    rt("scatternd_oob", [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], name="snd")],
       [vi("x", [2, 3]), vi("i", [1, 1], I64), vi("u", [1, 3])],
       [x23, np.array([[-3]], np.int64), np.ones((1, 3), np.float32)], INVALID_ARGUMENT,
       "node 'snd' (ScatterND): an index read at run time is out of range")
    roi = [helper.make_node("RoiAlign", ["x", "r", "b"], ["y"], output_height=2, output_width=2, name="roi")]
    roi_in = [vi("x", [1, 1, 4, 4]), vi("r", [1, 4]), vi("b", [1], I64)]
    xm = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    rt("roialign_nan_box", roi, roi_in, [xm, np.array([[0, 0, np.nan, 3]], np.float32), np.zeros(1, np.int64)],
       INVALID_ARGUMENT, "node 'roi' (RoiAlign): a batch index out of range, or a box coordinate that is not finite")
    rt("roialign_batch_oob", roi, roi_in, [xm, np.array([[0, 0, 2, 3]], np.float32), np.array([3], np.int64)],
       INVALID_ARGUMENT, "node 'roi' (RoiAlign): a batch index out of range")
    nms = [helper.make_node("NonMaxSuppression", ["b", "s", "m", "t"], ["y"], name="nms")]
    nms_in = [vi("b", [1, 3, 4]), vi("s", [1, 1, 3]), vi("m", [1], I64), vi("t", [1])]
    boxes = np.array([[[0, 0, 1, 1], [np.nan, 0, 1, 1], [0, 0, 1, 1]]], np.float32)
    rt("nms_nan", nms, nms_in, [boxes, np.array([[[0.9, 0.8, np.nan]]], np.float32), np.array([5], np.int64),
                                np.array([0.5], np.float32)], 0, "",
       expect=np.array([[0, 0, 0], [0, 0, 1]], np.int64), opset=11)
    rt("nms_negative_max", nms, nms_in, [boxes, np.array([[[0.9, 0.8, 0.7]]], np.float32),
                                         np.array([-5], np.int64), np.array([0.5], np.float32)], 0, "",
       expect=np.zeros((0, 3), np.int64), opset=11)
    tk = [helper.make_node("TopK", ["x", "k"], ["y", "yi"], name="topk")]
    tk_in = [vi("x", [2, 3]), vi("k", [1], I64)]
    rt("topk_k_too_large", tk, tk_in, [x23, np.array([4], np.int64)], SHAPE,
       "node 'topk' (TopK): k = 4 is outside [0, 3]", outputs=("y", "yi"), opset=11)
    rt("topk_k_negative", tk, tk_in, [x23, np.array([-1], np.int64)], SHAPE,
       "node 'topk' (TopK): k = -1 is outside [0, 3]", outputs=("y", "yi"), opset=11)
    # GridSample: NaN and infinite grid coordinates read as outside the input
    # (zeros), +-inf clamped to the edge by border padding; never a read out
    # of range. X is 1..6 in a 2x3 map; ac0 y = 0 is halfway between the rows.
    gx = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 2, 3)
    gg = np.array([[[[np.nan, 0], [np.inf, 0], [-np.inf, np.nan], [1e30, 0]]]], np.float32)
    # (reflection takes 1e30 to some pixel inside: only non-finite values there)
    gr = np.array([[[[np.nan, 0], [np.inf, 0], [-np.inf, np.nan], [0, -np.inf]]]], np.float32)
    gs_in = [vi("x", [1, 1, 2, 3]), vi("g", [1, 1, 4, 2])]
    for mode, pad, exp, grid in (("bilinear", "border", [0, 4.5, 0, 4.5], gg), ("bilinear", "zeros", [0, 0, 0, 0], gg),
                                 ("bicubic", "zeros", [0, 0, 0, 0], gg), ("nearest", "reflection", [0, 0, 0, 0], gr)):
        rt(f"gridsample_nonfinite_{mode}_{pad}",
           [helper.make_node("GridSample", ["x", "g"], ["y"], name="gs", mode=mode, padding_mode=pad)], gs_in,
           [gx, grid], 0, "", expect=np.array(exp, np.float32).reshape(1, 1, 1, 4))
    # QuantizeLinear of NaN (the zero point), +-inf and huge values
    # (saturated), and by a zero scale given at run time
    qn = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], name="q")]
    q_in = [vi("x", [4]), vi("s", [])]
    zp = init("z", np.array(10, np.uint8))
    rt("quantize_nonfinite", qn, q_in, [np.array([np.nan, np.inf, -np.inf, 1e30], np.float32),
                                        np.array(1.0, np.float32)], 0, "",
       expect=np.array([10, 255, 0, 255], np.uint8), opset=13, inits=(zp,))
    rt("quantize_zero_scale", qn, q_in, [np.array([1, -1, 0, np.nan], np.float32), np.array(0.0, np.float32)], 0, "",
       expect=np.array([255, 0, 10, 10], np.uint8), opset=13, inits=(zp,))
    # Sequence positions: a graph input's value is a shape parameter (constant
    # in each specialisation); one computed from the data is refused.
    seq_at = [helper.make_node("SequenceConstruct", ["x", "x2"], ["s"], name="sc"),
              helper.make_node("Mul", ["x", "x"], ["x2"], name="sq"),
              helper.make_node("SequenceAt", ["s", "p"], ["y"], name="at")]
    seq_in = [vi("x", [2, 3]), vi("p", [], I64)]
    rt("sequence_at_input_position", seq_at, seq_in, [x23, np.array(-1, np.int64)], 0, "", expect=x23 * x23, opset=11)
    rt("sequence_at_input_position_oob", seq_at, seq_in, [x23, np.array(2, np.int64)], INVALID_MODEL,
       "node 'at' (SequenceAt): position 2 is outside [-2, 1]", opset=11)
    # (a count of non-zeros: values reaching a position through ordinary ops
    # are specialised on, as the case above; a NonZero's length is not)
    seq_data = [helper.make_node("NonZero", ["i"], ["nz"], name="nz"),
                helper.make_node("Shape", ["nz"], ["nzs"], name="shape"),
                helper.make_node("Gather", ["nzs", "one"], ["p"], name="count")] + seq_at
    rt("sequence_at_data_position", seq_data, [vi("x", [2, 3]), vi("i", [4], I64)],
       [x23, np.array([0, 1, 0, 0], np.int64)], UNSUPPORTED,
       "node 'at' (SequenceAt): the position 'p' depends on the data of the run", opset=11,
       inits=(init("one", np.array(1, np.int64)),))
    with open(os.path.join(out, "runtime.tsv"), "w") as f:
        f.writelines(rows)


if __name__ == "__main__":
    main()
