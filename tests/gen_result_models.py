#!/usr/bin/python3
"""Tiny ONNX models whose outputs follow (or do not follow) the conventions
engine-run reads for --json and --draw (tools/results.h, docs/CLI.md).

Each has one input `images` float32 [1,3,20,15] (H=20, W=15) and outputs
made of constants plus 0 * mean(images), so that they depend on the input
and run on the backends; the constants are written beside the models as
expected.json for tests/test_engine_run_draw.sh.

Usage: gen_result_models.py OUTDIR
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

H, W = 20, 15


def model(path, outputs, opset=13):
    """outputs: list of (name, numpy array). Each output = const + 0*mean(images),
    cast back for integer arrays."""
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
    ]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for name, arr in outputs:
        c = name + "_const"
        inits.append(numpy_helper.from_array(arr.astype(np.float32), c))
        if arr.dtype == np.float32:
            nodes.append(helper.make_node("Add", [c, "z"], [name]))
            outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(arr.shape)))
        else:
            nodes.append(helper.make_node("Add", [c, "z"], [name + "_f"]))
            nodes.append(helper.make_node("Cast", [name + "_f"], [name], to=TensorProto.INT64))
            outs.append(helper.make_tensor_value_info(name, TensorProto.INT64, list(arr.shape)))
    graph = helper.make_graph(nodes, os.path.basename(path),
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, H, W])], outs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    expected = {}

    # torchvision-style, by name, with masks and keypoints
    boxes = np.array([[1, 2, 9, 12], [4, 5, 14, 19]], np.float32)
    scores = np.array([0.9, 0.6], np.float32)
    labels = np.array([2, 1], np.int64)
    masks = np.zeros((2, 1, H, W), np.float32)
    masks[0, 0, 2:12, 1:9] = 0.8
    masks[1, 0, 5:19, 4:14] = 0.3  # below 0.5: not drawn
    kps = np.array([[[2, 3, 1], [5, 6, 1], [8, 11, 0]], [[6, 7, 1], [10, 10, 1], [13, 18, 1]]], np.float32)
    model(os.path.join(out, "tv_named.onnx"),
          [("boxes", boxes), ("labels", labels), ("scores", scores), ("masks", masks), ("keypoints", kps)])
    expected["tv_named"] = {"boxes": boxes.tolist(), "scores": scores.tolist(), "labels": labels.tolist(),
                            "keypoints": kps.tolist()}

    # torchvision-style by shape alone (no telling names)
    model(os.path.join(out, "tv_shapes.onnx"), [("out_a", boxes), ("out_b", scores), ("out_c", labels)])
    expected["tv_shapes"] = {k: v for k, v in expected["tv_named"].items() if k != "keypoints"}

    # YOLOv7-style [N,7]: batch, x1, y1, x2, y2, class, score
    y7 = np.array([[0, 1, 2, 9, 12, 3, 0.8], [0, 4, 5, 14, 19, 0, 0.5]], np.float32)
    model(os.path.join(out, "yolo7.onnx"), [("output", y7)])
    expected["yolo7"] = {"boxes": y7[:, 1:5].tolist(), "scores": y7[:, 6].tolist(), "labels": [3, 0]}

    # [1,N,6] with the batch axis
    y6 = np.array([[[1, 2, 9, 12, 0.7, 4], [3, 3, 6, 6, 0.4, 1]]], np.float32)
    model(os.path.join(out, "yolo6_batch.onnx"), [("dets", y6)])
    expected["yolo6_batch"] = {"boxes": y6[0, :, :4].tolist(), "scores": y6[0, :, 4].tolist(), "labels": [4, 1]}

    # a segmentation [1,3,H,W]: class 1 in the top half, class 2 in a bottom-right block
    seg = np.zeros((1, 3, H, W), np.float32)
    seg[0, 0] = 1.0
    seg[0, 1, :10, :] = 2.0
    seg[0, 2, 15:, 10:] = 3.0
    model(os.path.join(out, "seg.onnx"), [("out", seg)])
    expected["seg"] = {"pixels": {"0": int(H * W - 10 * W - 25), "1": 10 * W, "2": 25}}

    # a 6-class classifier [1,6]: the fixed batch of 1 says it is not [N,6] detections
    cls = np.array([[0.1, 0.5, 0.2, 3.0, 0.0, 1.0]], np.float32)
    model(os.path.join(out, "cls6.onnx"), [("logits", cls)])
    expected["cls6"] = {"top": [3, 5, 1]}

    # fits nothing
    model(os.path.join(out, "odd.onnx"), [("odd", np.ones((2, 3, 5), np.float32))])
    # two [N,6] candidates: ambiguous
    model(os.path.join(out, "two_yolo.onnx"), [("a", np.ones((1, 2, 6), np.float32)),
                                               ("b", np.ones((1, 3, 6), np.float32))])
    # named boxes of the wrong shape
    model(os.path.join(out, "bad_boxes.onnx"), [("boxes", np.ones((2, 3), np.float32)),
                                                ("scores", np.ones((2,), np.float32))])

    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)


if __name__ == "__main__":
    main()
