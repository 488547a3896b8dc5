#!/usr/bin/env python3
"""Models and references for the plugin tests (run with /usr/bin/python3).

Writes one folder per case under OUT: model.onnx, input_k.npy, output_k.npy.
References are computed independently here with numpy in float64 (Conv by
explicit patch sums, Swish and the YOLO decoder from their formulas), never
by the engine. Seeded, so the files are the same on every run."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(20261123)
OPSETS = [helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]


def save(folder, graph, inputs, outputs, opsets=OPSETS):
    os.makedirs(folder, exist_ok=True)
    model = helper.make_model(graph, opset_imports=opsets, producer_name="gen_plugin_models")
    model.ir_version = 8
    onnx.save(model, os.path.join(folder, "model.onnx"))
    for k, a in enumerate(inputs):
        np.save(os.path.join(folder, f"input_{k}.npy"), a.astype(np.float32))
    for k, a in enumerate(outputs):
        np.save(os.path.join(folder, f"output_{k}.npy"), a.astype(np.float32))


def conv2d(x, w, b, pad):
    """NCHW convolution, stride 1, symmetric padding, in float64."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = x.shape
    m, _, kh, kw = w.shape
    oh, ow = h - kh + 1, wd - kw + 1
    y = np.zeros((n, m, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,mc->nmhw", x[:, :, i:i + oh, j:j + ow], w[:, :, i, j].astype(np.float64))
    return y + b.astype(np.float64).reshape(1, m, 1, 1)


def swish(x, beta):
    return x / (1.0 + np.exp(-beta * x))


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def swish_conv(out):
    """Conv -> com.example Swish(beta) -> Conv: the issue's done-when model."""
    x = rng.standard_normal((1, 3, 12, 10)).astype(np.float32)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((4, 8, 3, 3)) * 0.2).astype(np.float32)
    b2 = (rng.standard_normal(4) * 0.1).astype(np.float32)
    beta = 0.75
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Swish", ["c1"], ["s1"], name="swish1", domain="com.example", beta=beta),
        helper.make_node("Conv", ["s1", "w2", "b2"], ["y"], name="conv2", pads=[1, 1, 1, 1]),
    ]
    graph = helper.make_graph(
        nodes, "swish_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))])
    y = conv2d(swish(conv2d(x, w1, b1, 1), beta), w2, b2, 1)
    save(os.path.join(out, "swish_conv"), graph, [x], [y])


def swish_default(out):
    """A lone Swish without beta: the schema default 1.0 applies."""
    x = (rng.standard_normal((2, 5, 7)) * 3).astype(np.float32)
    node = helper.make_node("Swish", ["x"], ["y"], name="swish_default", domain="com.example")
    graph = helper.make_graph([node], "swish_default",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    save(os.path.join(out, "swish_default"), graph, [x], [swish(x.astype(np.float64), 1.0)])


def yolo_ref(x, anchors, stride, img=None):
    n, ch, h, w = x.shape
    a = len(anchors) // 2
    f = ch // a
    x = x.astype(np.float64).reshape(n, a, f, h, w).transpose(0, 1, 3, 4, 2)  # n a h w f
    gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    anc = np.asarray(anchors, np.float64).reshape(a, 2)
    y = np.empty_like(x)
    y[..., 0] = (sigmoid(x[..., 0]) + gx) * stride
    y[..., 1] = (sigmoid(x[..., 1]) + gy) * stride
    y[..., 2] = np.exp(x[..., 2]) * anc[:, 0].reshape(1, a, 1, 1)
    y[..., 3] = np.exp(x[..., 3]) * anc[:, 1].reshape(1, a, 1, 1)
    y[..., 4:] = sigmoid(x[..., 4:])
    if img is not None:
        y[..., 0] /= img[1]
        y[..., 2] /= img[1]
        y[..., 1] /= img[0]
        y[..., 3] /= img[0]
    return y.reshape(n, a * h * w, f)


def yolo(out):
    """YoloDecode after a Conv head, with and without the img_size input."""
    anchors = [10.0, 13.0, 16.0, 30.0, 33.0, 23.0]
    classes, stride = 2, 8
    ch = 3 * (5 + classes)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = (rng.standard_normal((ch, 4, 1, 1)) * 0.5).astype(np.float32)
    b = (rng.standard_normal(ch) * 0.1).astype(np.float32)
    img = np.array([40.0, 48.0], np.float32)
    head = conv2d(x, w, b, 0)
    for name, with_img in (("yolo", True), ("yolo_noimg", False)):
        ins = ["h", "img"] if with_img else ["h"]
        attrs = {"anchors": anchors}
        if with_img:  # the other case leaves stride at its default (32)
            attrs["stride"] = stride
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["h"], name="head"),
                 helper.make_node("YoloDecode", ins, ["y"], name="decode", domain="com.example", **attrs)]
        inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)]
        if with_img:
            inputs.append(helper.make_tensor_value_info("img", TensorProto.FLOAT, img.shape))
        graph = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                  [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
        ref = yolo_ref(head, anchors, stride if with_img else 32, img if with_img else None)
        save(os.path.join(out, name), graph, [x, img] if with_img else [x], [ref])


def refusals(out):
    """Models whose load must fail: a failing shape function, an unknown
    attribute, a mistyped attribute, a missing required attribute."""
    x = rng.standard_normal((1, 2, 3)).astype(np.float32)
    cases = {
        "shape_fail": helper.make_node("FailShape", ["x"], ["y"], name="fail1", domain="com.broken"),
        "unknown_attr": helper.make_node("Swish", ["x"], ["y"], name="swish_gamma", domain="com.example", gamma=2.0),
        "typed_attr": helper.make_node("Swish", ["x"], ["y"], name="swish_int_beta", domain="com.example", beta=2),
        "missing_attr": helper.make_node("YoloDecode", ["x"], ["y"], name="decode_no_anchors", domain="com.example"),
    }
    for name, node in cases.items():
        graph = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        opsets = [helper.make_opsetid("", 13), helper.make_opsetid(node.domain, 1)]
        save(os.path.join(out, name), graph, [x], [], opsets)


def main():
    out = sys.argv[1]
    swish_conv(out)
    swish_default(out)
    yolo(out)
    refusals(out)


if __name__ == "__main__":
    main()
