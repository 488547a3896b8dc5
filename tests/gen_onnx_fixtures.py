#!/usr/bin/env python3
"""Writes ONNX and .npy fixtures made by the reference implementations
(python onnx, numpy) into the folder given as argv[1]. Run by
tests/test_onnx.c and tests/test_tensor_io.c at test time."""
import os
import sys

import numpy as np


def onnx_fixtures(out):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.arange(2 * 3 * 1 * 1, dtype=np.float32).reshape(2, 3, 1, 1) - 2.5
    b = np.array([0.5, -1.25], dtype=np.float16)
    shape = np.array([1, -1], dtype=np.int64)
    k = np.array([3.0], dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[1, 1], pads=[0, 0, 0, 0]),
        helper.make_node("Constant", [], ["k"], name="const_k", value=numpy_helper.from_array(k, "k")),
        helper.make_node("Add", ["c", "k"], ["a"], name="add"),
        helper.make_node("LeakyRelu", ["a"], ["y"], name="lrelu", alpha=0.25),
        helper.make_node("Reshape", ["y", "shape"], ["z"], name="reshape"),
    ]
    graph = helper.make_graph(
        nodes, "fixture",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 32])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
                     numpy_helper.from_array(shape, "shape")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, "model.onnx"))

    os.makedirs(os.path.join(out, "ext"), exist_ok=True)
    onnx.save_model(model, os.path.join(out, "ext", "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)

    t = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "t")
    with open(os.path.join(out, "tensor_raw.pb"), "wb") as f:
        f.write(t.SerializeToString())
    t2 = helper.make_tensor("typed", TensorProto.INT64, [3], [-1, 0, 7], raw=False)
    with open(os.path.join(out, "tensor_typed.pb"), "wb") as f:
        f.write(t2.SerializeToString())


def npy_fixtures(out):
    np.save(os.path.join(out, "f32_r4.npy"), np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) / 8)
    np.save(os.path.join(out, "i64_scalar.npy"), np.array(-7, dtype=np.int64))
    np.save(os.path.join(out, "bool_3.npy"), np.array([True, False, True]))
    np.save(os.path.join(out, "f16_4.npy"), np.array([1.0, -2.5, 65504.0, 0.0], dtype=np.float16))
    np.save(os.path.join(out, "f64_2x2.npy"), np.array([[1.5, -2.0], [1e300, 0.25]], dtype=np.float64))
    np.save(os.path.join(out, "u8_5.npy"), np.array([0, 1, 127, 128, 255], dtype=np.uint8))
    np.save(os.path.join(out, "i8_3.npy"), np.array([-128, 0, 127], dtype=np.int8))
    np.save(os.path.join(out, "i32_2.npy"), np.array([-2147483648, 2147483647], dtype=np.int32))
    np.save(os.path.join(out, "empty.npy"), np.zeros((0, 3), dtype=np.float32))
    a = np.array([[1, 2, 3]], dtype=np.float32)
    for version in ((2, 0), (3, 0)):
        with open(os.path.join(out, "v%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    np.save(os.path.join(out, "big_endian.npy"), np.array([1.0, 2.0], dtype=">f4"))
    np.save(os.path.join(out, "fortran.npy"), np.asfortranarray(np.ones((2, 3), dtype=np.float32)))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    npy_fixtures(out)
    try:
        onnx_fixtures(out)
    except ImportError:
        print("python onnx missing: ONNX fixtures skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
