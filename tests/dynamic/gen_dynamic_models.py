#!/usr/bin/python3
"""Models with run-time shapes for tests/dynamic/test_dynamic.c.

Usage: gen_dynamic_models.py OUTDIR

Writes (onnx helper graphs, references from numpy / torch in float64):
  convnet.onnx       x[N,3,H,W] -> Conv3x3 -> Relu -> MaxPool2 -> Conv1x1, and
                     GlobalAveragePool -> Flatten -> Gemm: outputs "map"
                     [N,8,H/2,W/2] and "logits" [N,5]; Shape/Gather/Reshape
                     arithmetic as torch exports it (the Flatten is a Reshape
                     to [N, -1] computed from Shape(x)).
  convnet_1x3x16x12.onnx  the same graph with fixed dims (the static path).
  convnet_<N>x<H>x<W>.in.npy / .map.npy / .logits.npy  seeded inputs and
                     float64 references for the shapes in SHAPES.
  reshape_param.onnx x[2,6] float, shape[2] int64 (a graph input: a
                     shape parameter) -> Reshape -> y.
  shared_dim.onnx    a[N,4] + b[N,4] -> y (one symbolic name on two inputs).
  if_batch.onnx      x[N,4]: If (N == 1) then Relu(x) * 2 else x + bias (an
                     outer-scope value), the branch fixed by the shape.
  loop_data_stages.onnx  x[7]: Loop whose trip count is the number of
                     positive x, each iteration i appending the indices
                     where x > x[i] (NonZero: a stage cut inside every
                     iteration); outputs acc (all indices), scans (count + i).
  loop_while_data.onnx x[4]: Loop without a trip count whose condition the
                     body computes from the data (x halved while its sum
                     exceeds 1); outputs y, sums (one per iteration).
  loop_rows.onnx     x[N,4]: Loop over the N rows (trip count from Shape):
                     carried running sum of the rows (initial: an outer
                     value), scan output of each row times the iteration
                     number, cond passed through; outputs sum [4], scan [N,4].
  bigconv.onnx       x[N,16,H,W] -> Conv3x3 16->128 -> Relu -> Conv1x1
                     128->160 -> y: both weights 64 KiB or more (the ones a
                     session may release once packed, engine/src/weights.h);
  bigconv_b.onnx     the same with other weights (a file of the same size).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SHAPES = [(1, 16, 12), (2, 16, 12), (3, 9, 13), (1, 12, 16), (4, 20, 8)]


def convnet(dims):
    rng = np.random.default_rng(7)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((8, 8, 1, 1)) * 0.3).astype(np.float32)
    b2 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    wg = (rng.standard_normal((5, 8)) * 0.3).astype(np.float32)
    bg = (rng.standard_normal(5) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (wg, "wg"), (bg, "bg"),
              (np.array([0], np.int64), "zero"), (np.array([-1], np.int64), "minus1"))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["map"], name="conv2", kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["map"], ["gap"], name="gap"),
        # torch's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        helper.make_node("Shape", ["x"], ["xs"], name="shape"),
        helper.make_node("Gather", ["xs", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Concat", ["n", "minus1"], ["flat_shape"], name="concat", axis=0),
        helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "wg", "bg"], ["logits"], name="fc", transB=1),
    ]
    g = helper.make_graph(nodes, "convnet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info("map", TensorProto.FLOAT, ["N", 8, "h2", "w2"]),
                           helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m, (w1, b1, w2, b2, wg, bg)


def reference(x, params):
    import torch
    import torch.nn.functional as F
    w1, b1, w2, b2, wg, bg = (torch.from_numpy(p).double() for p in params)
    t = torch.from_numpy(x).double()
    c = F.relu(F.conv2d(t, w1, b1, padding=1))
    p = F.max_pool2d(c, 2, 2)
    m = F.conv2d(p, w2, b2)
    logits = F.linear(m.mean(dim=(2, 3)), wg, bg)
    return m.numpy().astype(np.float32), logits.numpy().astype(np.float32)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    data_dependent_models(out)
    m, params = convnet(["N", 3, "H", "W"])
    onnx.save(m, os.path.join(out, "convnet.onnx"))
    ms, _ = convnet([1, 3, 16, 12])
    onnx.save(ms, os.path.join(out, "convnet_1x3x16x12.onnx"))
    rng = np.random.default_rng(42)
    for n, h, w in SHAPES:
        x = rng.standard_normal((n, 3, h, w)).astype(np.float32)
        mp, lg = reference(x, params)
        base = os.path.join(out, f"convnet_{n}x{h}x{w}")
        np.save(base + ".in.npy", x)
        np.save(base + ".map.npy", mp)
        np.save(base + ".logits.npy", lg)

    g = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")], "reshape_param",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
                           helper.make_tensor_value_info("shape", TensorProto.INT64, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, "reshape_param.onnx"))

    g = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"], name="add")], "shared_dim",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 4]),
                           helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, "shared_dim.onnx"))
    control_models(out)
    onnx.save(bigconv(11), os.path.join(out, "bigconv.onnx"))
    onnx.save(bigconv(12), os.path.join(out, "bigconv_b.onnx"))


def bigconv(seed):
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((128, 16, 3, 3)) * 0.1).astype(np.float32)
    b1 = (rng.standard_normal(128) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((160, 128, 1, 1)) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["y"], name="conv2", kernel_shape=[1, 1]),
    ]
    g = helper.make_graph(nodes, "bigconv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16, "H", "W"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
                           numpy_helper.from_array(w2, "w2")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def control_models(out):
    I64, F, B = TensorProto.INT64, TensorProto.FLOAT, TensorProto.BOOL
    c = lambda name, arr: numpy_helper.from_array(np.asarray(arr), name)  # noqa: E731
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "two"], ["t_out"])], "then", [],
        [helper.make_tensor_value_info("t_out", F, None)], initializer=[c("two", np.float32(2.0))])
    else_g = helper.make_graph([helper.make_node("Add", ["x", "bias"], ["e_out"])], "else", [],
                               [helper.make_tensor_value_info("e_out", F, None)])
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Equal", ["n", "one"], ["is1"]),
        helper.make_node("If", ["is1"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
    ]
    g = helper.make_graph(nodes, "if_batch", [helper.make_tensor_value_info("x", F, ["N", 4])],
                          [helper.make_tensor_value_info("y", F, ["N", 4])],
                          initializer=[c("zero", np.int64(0)), c("one", np.int64(1)),
                                       c("bias", np.array([0.5, -1, 2, 0.25], np.float32))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "if_batch.onnx"))

    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Gather", ["x", "i"], ["row"], axis=0),
         helper.make_node("Add", ["acc_in", "row"], ["acc_out"]),
         helper.make_node("Cast", ["i"], ["fi"], to=F),
         helper.make_node("Mul", ["row", "fi"], ["scan"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", B, []),
         helper.make_tensor_value_info("acc_in", F, None)],
        [helper.make_tensor_value_info("cond_out", B, []), helper.make_tensor_value_info("acc_out", F, None),
         helper.make_tensor_value_info("scan", F, None)])
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Loop", ["n", "true", "init"], ["sum", "scans"], name="rows", body=body),
    ]
    g = helper.make_graph(nodes, "loop_rows", [helper.make_tensor_value_info("x", F, ["N", 4])],
                          [helper.make_tensor_value_info("sum", F, [4]),
                           helper.make_tensor_value_info("scans", F, ["N", 4])],
                          initializer=[c("zero", np.int64(0)), c("true", np.bool_(True)),
                                       c("init", np.array([1, 2, 3, 4], np.float32))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "loop_rows.onnx"))

    # An If on data (refused, named) and one on a bool graph input (a shape
    # parameter: each value its own specialisation).
    nodes = [helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
             helper.make_node("Equal", ["total", "zero_f"], ["is0"]),
             helper.make_node("If", ["is0"], ["y"], name="on_data", then_branch=then_g, else_branch=else_g)]
    g = helper.make_graph(nodes, "if_data", [helper.make_tensor_value_info("x", F, ["N", 4])],
                          [helper.make_tensor_value_info("y", F, ["N", 4])],
                          initializer=[c("zero_f", np.float32(0)),
                                       c("bias", np.array([0.5, -1, 2, 0.25], np.float32))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, "if_data.onnx"))
    nodes = [helper.make_node("If", ["flag"], ["y"], name="on_flag", then_branch=then_g, else_branch=else_g)]
    g = helper.make_graph(nodes, "if_flag", [helper.make_tensor_value_info("x", F, ["N", 4]),
                                             helper.make_tensor_value_info("flag", B, [])],
                          [helper.make_tensor_value_info("y", F, ["N", 4])],
                          initializer=[c("bias", np.array([0.5, -1, 2, 0.25], np.float32))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(out, "if_flag.onnx"))


def data_dependent_models(out):
    """Models whose output shapes depend on data: NonZero feeding a tail, NMS
    with a Gather of the kept boxes (inputs and torchvision's answer saved,
    one case with no detection), TopK whose k is counted from the data."""
    import torch
    import torchvision
    I64, F = TensorProto.INT64, TensorProto.FLOAT
    c = lambda name, arr: numpy_helper.from_array(np.asarray(arr), name)  # noqa: E731

    def save(nodes, name, inputs, outputs, inits, opset):
        g = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info(o, t, None) for o, t in outputs],
                              initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 7
        onnx.save(m, os.path.join(out, name + ".onnx"))

    save([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["nz"], name="nonzero"),
          helper.make_node("Transpose", ["nz"], ["nzt"], perm=[1, 0]),
          helper.make_node("ReduceSum", ["r"], ["s"], keepdims=0)],
         "nonzero_tail", [helper.make_tensor_value_info("x", F, ["N", 4])],
         [("nzt", I64), ("s", F), ("nz", I64)], [], 13)
    save([helper.make_node("NonMaxSuppression", ["boxes", "scores", "maxb", "iou", "sth"], ["sel"], name="nms"),
          helper.make_node("Gather", ["sel", "two"], ["bidx"], axis=1),
          helper.make_node("Squeeze", ["boxes"], ["b2"], axes=[0]),
          helper.make_node("Gather", ["b2", "bidx"], ["picked"], axis=0)],
         "nms_gather", [helper.make_tensor_value_info("boxes", F, [1, "B", 4]),
                        helper.make_tensor_value_info("scores", F, [1, 2, "B"])],
         [("sel", I64), ("picked", F)],
         [c("maxb", np.array([3], np.int64)), c("iou", np.array([0.5], np.float32)),
          c("sth", np.array([0.1], np.float32)), c("two", np.int64(2))], 11)
    rng = np.random.default_rng(7)
    for case, nb in enumerate((6, 9, 5)):
        b = rng.uniform(0, 10, (1, nb, 4)).astype(np.float32)
        b[..., 2:] = b[..., :2] + rng.uniform(1, 5, (1, nb, 2)).astype(np.float32)
        sc = rng.uniform(0, 1, (1, 2, nb)).astype(np.float32)
        if case == 2:
            sc *= 0.05  # below the score threshold: no detection
        sel = []
        for cl in range(2):
            idx = np.nonzero(sc[0, cl] > 0.1)[0]
            keep = torchvision.ops.nms(torch.tensor(b[0, idx]), torch.tensor(sc[0, cl, idx]), 0.5).numpy()[:3]
            sel += [[0, cl, int(idx[k])] for k in keep]
        base = os.path.join(out, "nms_%d" % case)
        np.save(base + ".boxes.npy", b)
        np.save(base + ".scores.npy", sc)
        np.save(base + ".sel.npy", np.array(sel, np.int64).reshape(-1, 3))
    # A Loop whose trip count is counted from the data and whose every
    # iteration has a data-dependent shape inside (a NonZero), so each
    # iteration is cut into stages: the stages must carry the loop's
    # progress (iteration number, trips left, scan outputs so far).
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Gather", ["x", "i"], ["xi"], axis=0),
         helper.make_node("Greater", ["x", "xi"], ["gt"]),
         helper.make_node("NonZero", ["gt"], ["nzb"]),
         helper.make_node("Reshape", ["nzb", "minus1"], ["flat"]),
         helper.make_node("Concat", ["acc_in", "flat"], ["acc_out"], axis=0),
         helper.make_node("Size", ["flat"], ["cnt"]),
         helper.make_node("Add", ["cnt", "i"], ["scan"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", I64, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", I64, None), helper.make_tensor_value_info("scan", I64, None)])
    save([helper.make_node("Greater", ["x", "zero_f"], ["pos"]), helper.make_node("NonZero", ["pos"], ["nzp"]),
          helper.make_node("Shape", ["nzp"], ["shp"]), helper.make_node("Gather", ["shp", "one_s"], ["m"], axis=0),
          helper.make_node("Loop", ["m", "true", "empty"], ["acc", "scans"], name="staged_loop", body=body)],
         "loop_data_stages", [helper.make_tensor_value_info("x", F, [7])], [("acc", I64), ("scans", I64)],
         [c("zero_f", np.float32(0)), c("one_s", np.int64(1)), c("true", np.bool_(True)),
          c("empty", np.zeros(0, np.int64)), c("minus1", np.array([-1], np.int64))], 13)
    # A while loop: no trip count, the condition computed by the body from
    # the data (halve x until its sum is at most 1); each iteration's
    # condition is a constant of the next stage.
    body = helper.make_graph(
        [helper.make_node("Mul", ["x_in", "half"], ["x_out"]),
         helper.make_node("ReduceSum", ["x_out"], ["sum"], keepdims=0),
         helper.make_node("Greater", ["sum", "one_f"], ["cond_out"]),
         helper.make_node("Identity", ["sum"], ["scan"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_in", F, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("x_out", F, None), helper.make_tensor_value_info("scan", F, None)],
        [numpy_helper.from_array(np.array(0.5, np.float32), "half"),
         numpy_helper.from_array(np.array(1.0, np.float32), "one_f")])
    save([helper.make_node("Loop", ["", "true", "x"], ["y", "sums"], name="while_loop", body=body)],
         "loop_while_data", [helper.make_tensor_value_info("x", F, [4])], [("y", F), ("sums", F)],
         [c("true", np.bool_(True))], 13)
    save([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("NonZero", ["r"], ["nz"]),
          helper.make_node("Shape", ["nz"], ["shp"]), helper.make_node("Slice", ["shp", "one", "two"], ["k"]),
          helper.make_node("TopK", ["x", "k"], ["vals", "idx"], axis=0, name="topk")],
         "topk_data", [helper.make_tensor_value_info("x", F, [10])], [("vals", F), ("idx", I64)],
         [c("one", np.array([1], np.int64)), c("two", np.array([2], np.int64))], 11)


if __name__ == "__main__":
    main()
