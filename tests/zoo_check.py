#!/usr/bin/python3
"""Check zoo cases (and the demo model) with an independent numpy ONNX evaluator.

Usage: /usr/bin/python3 tests/zoo_check.py ZOODIR [--only NAME,...]
       /usr/bin/python3 tests/zoo_check.py --demo [DEMODIR]

For each case in ZOODIR/INDEX (as written by tools/zoo.py) it runs
model.onnx on input_0.npy in float64 with the tiny interpreter below (only
the ops the zoo uses; no onnxruntime needed) and compares with output_0.npy:
the exported graph must reproduce torch's float64 reference to rel L2 1e-5.
(Not 0: the exporter folds BatchNorm into Conv weights in float32, and that
rounding alone moves mobilenet_v2's output by ~5e-6; the others by <1e-6.)
This separates exporter surprises from engine bugs: if this passes and the
engine does not, the engine is wrong.

--demo runs DEMODIR/lenet5_batch.onnx (default demo/) on heldout_x.npy and
prints the accuracy against heldout_y.npy.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def windows(x, kshape, strides, pads, ceil_mode, fill):
    """x [N,C,H,W] -> [N,C,Ho,Wo,kh,kw] pooling/conv windows (dilation 1)."""
    kh, kw = kshape
    sh, sw = strides
    pt, pl, pb, pr = pads
    H, W = x.shape[2:]
    def out(n, p0, p1, k, s):
        span = n + p0 + p1 - k
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= n + p0:
            o -= 1
        return o
    Ho, Wo = out(H, pt, pb, kh, sh), out(W, pl, pr, kw, sw)
    eb = max(0, (Ho - 1) * sh + kh - (H + pt + pb))
    er = max(0, (Wo - 1) * sw + kw - (W + pl + pr))
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb + eb), (pl, pr + er)), constant_values=fill)
    v = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return v[:, :, :Ho, :Wo]


def pool_args(a, nd=2):
    k = list(a["kernel_shape"])
    s = list(a.get("strides", [1] * nd))
    p = list(a.get("pads", [0] * 2 * nd))
    assert a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"), "auto_pad"
    assert all(d == 1 for d in a.get("dilations", [1] * nd)), "dilations"
    return k, s, [p[0], p[1], p[2], p[3]], a.get("ceil_mode", 0)


def op_conv(node, x, w, b=None):
    a = attrs(node)
    k, s, p, _ = pool_args({**a, "kernel_shape": a.get("kernel_shape", w.shape[2:])})
    g = a.get("group", 1)
    win = windows(x, k, s, p, 0, 0.0)  # N C Ho Wo kh kw
    N, C, Ho, Wo = win.shape[:4]
    O = w.shape[0]
    win = win.reshape(N, g, C // g, Ho, Wo, k[0], k[1])
    wg = w.reshape(g, O // g, C // g, k[0], k[1])
    y = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True).reshape(N, O, Ho, Wo)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def op_maxpool(node, x):
    k, s, p, c = pool_args(attrs(node))
    return windows(x, k, s, p, c, -np.inf).max(axis=(4, 5))


def op_avgpool(node, x):
    a = attrs(node)
    k, s, p, c = pool_args(a)
    tot = windows(x, k, s, p, c, 0.0).sum(axis=(4, 5))
    ones = np.ones((1, 1) + x.shape[2:])
    if a.get("count_include_pad", 0):
        # padding counts, the ceil_mode overhang does not
        ones = np.pad(ones, ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])), constant_values=1.0)
        cnt = windows(ones, k, s, [0, 0, 0, 0], c, 0.0).sum(axis=(4, 5))
    else:
        cnt = windows(ones, k, s, p, c, 0.0).sum(axis=(4, 5))
    return tot / cnt


def op_gemm(node, A, B, C=None):
    a = attrs(node)
    if a.get("transA", 0):
        A = A.T
    if a.get("transB", 0):
        B = B.T
    y = a.get("alpha", 1.0) * (A @ B)
    if C is not None:
        y = y + a.get("beta", 1.0) * C
    return y


def op_div(node, a, b):
    if np.issubdtype(a.dtype, np.integer):
        q = np.abs(a) // np.abs(b)
        return (q * np.sign(a) * np.sign(b)).astype(a.dtype)  # truncation, as C
    return a / b


def op_reshape(node, x, shape):
    shape = [int(v) for v in shape]
    shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(shape)


def op_slice(node, x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        sl[int(ax)] = slice(int(s), int(e), int(st))
    return x[tuple(sl)]


def op_pad(node, x, pads, value=None):
    a = attrs(node)
    assert a.get("mode", b"constant") in (b"constant", "constant"), "Pad mode"
    n = x.ndim
    pads = [int(v) for v in pads]
    assert min(pads) >= 0, "negative pads"
    v = 0.0 if value is None else value.item()
    return np.pad(x, [(pads[i], pads[i + n]) for i in range(n)], constant_values=v)


def op_clip(node, x, lo=None, hi=None):
    if lo is not None:
        x = np.maximum(x, lo)
    if hi is not None:
        x = np.minimum(x, hi)
    return x


def op_lrn(node, x):
    """ONNX LRN: the window over channels runs from c - floor((size-1)/2) to
    c + ceil((size-1)/2); y = x / (bias + alpha / size * sum x^2) ^ beta."""
    a = attrs(node)
    size = a["size"]
    lo, hi = (size - 1) // 2, -(-(size - 1) // 2)
    sq = np.pad(x * x, ((0, 0), (lo, hi)) + ((0, 0),) * (x.ndim - 2))
    acc = sum(sq[:, i:i + x.shape[1]] for i in range(size))
    return x / (a.get("bias", 1.0) + a.get("alpha", 1e-4) / size * acc) ** a.get("beta", 0.75)


def op_convtranspose(node, x, w, b=None):
    """2-D ConvTranspose by scatter: every input pixel adds w * x at
    stride-spaced output positions, then the pads are cropped."""
    a = attrs(node)
    g = a.get("group", 1)
    s = list(a.get("strides", [1, 1]))
    p = list(a.get("pads", [0, 0, 0, 0]))
    op = list(a.get("output_padding", [0, 0]))
    assert all(d == 1 for d in a.get("dilations", [1, 1])), "dilations"
    assert "output_shape" not in a and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"), "output_shape/auto_pad"
    N, C, H, W = x.shape
    kh, kw = w.shape[2:]
    O = w.shape[1] * g
    full = np.zeros((N, O, (H - 1) * s[0] + kh + op[0], (W - 1) * s[1] + kw + op[1]))
    xg = x.reshape(N, g, C // g, H, W)
    wg = w.reshape(g, C // g, O // g, kh, kw)
    for i in range(kh):
        for j in range(kw):
            contrib = np.einsum("ngchw,gco->ngohw", xg, wg[:, :, :, i, j]).reshape(N, O, H, W)
            full[:, :, i:i + s[0] * (H - 1) + 1:s[0], j:j + s[1] * (W - 1) + 1:s[1]] += contrib
    y = full[:, :, p[0]:full.shape[2] - p[2], p[1]:full.shape[3] - p[3]]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def op_resize(node, x, roi=None, scales=None, sizes=None):
    """Resize/Upsample, nearest with asymmetric coordinates and floor
    rounding (what nn.Upsample(mode="nearest") exports), the only form the
    zoo uses."""
    a = attrs(node)
    for k, want in (("mode", "nearest"), ("coordinate_transformation_mode", "asymmetric"),
                    ("nearest_mode", "floor")):
        v = a.get(k, want)
        v = v.decode() if isinstance(v, bytes) else v
        assert v == want or (k == "nearest_mode" and node.op_type == "Upsample"), f"Resize {k}={v}"
    if node.op_type == "Upsample":
        scales = roi
    if sizes is not None and len(sizes):
        out = [int(v) for v in sizes]
        scales = [o / i for o, i in zip(out, x.shape)]
    else:
        out = [int(np.floor(d * sc)) for d, sc in zip(x.shape, scales)]
    for ax, (n, sc) in enumerate(zip(out, scales)):
        idx = np.minimum(np.floor(np.arange(n) / sc).astype(np.int64), x.shape[ax] - 1)
        x = np.take(x, idx, axis=ax)
    return x


def op_bn(node, x, scale, bias, mean, var):
    eps = attrs(node).get("epsilon", 1e-5)
    sh = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * scale.reshape(sh) + bias.reshape(sh)


OPS = {
    "Conv": op_conv,
    "MaxPool": op_maxpool,
    "AveragePool": op_avgpool,
    "GlobalAveragePool": lambda n, x: x.mean(axis=tuple(range(2, x.ndim)), keepdims=True),
    "Gemm": op_gemm,
    "Relu": lambda n, x: np.maximum(x, 0),
    "LeakyRelu": lambda n, x: np.where(x < 0, attrs(n).get("alpha", 0.01) * x, x),
    "Sigmoid": lambda n, x: 1 / (1 + np.exp(-x)),
    "HardSigmoid": lambda n, x: np.clip(attrs(n).get("alpha", 0.2) * x + attrs(n).get("beta", 0.5), 0, 1),
    "HardSwish": lambda n, x: x * np.clip(x / 6 + 0.5, 0, 1),
    "LRN": op_lrn,
    "ConvTranspose": op_convtranspose,
    "Resize": op_resize,
    "Upsample": op_resize,
    "Clip": op_clip,
    "Add": lambda n, a, b: a + b,
    "Mul": lambda n, a, b: a * b,
    "Div": op_div,
    "Concat": lambda n, *xs: np.concatenate(xs, axis=attrs(n)["axis"]),
    "Flatten": lambda n, x: x.reshape(int(np.prod(x.shape[:attrs(n).get("axis", 1)])), -1),
    "Reshape": op_reshape,
    "Transpose": lambda n, x: np.transpose(x, attrs(n).get("perm")),
    "Shape": lambda n, x: np.array(x.shape, dtype=np.int64),
    "Gather": lambda n, x, i: np.take(x, i, axis=attrs(n).get("axis", 0)),
    "Slice": op_slice,
    "Pad": op_pad,
    "ReduceMean": lambda n, x: x.mean(axis=tuple(attrs(n)["axes"]),
                                      keepdims=bool(attrs(n).get("keepdims", 1))),
    "BatchNormalization": op_bn,
    "Identity": lambda n, x: x,
    "Dropout": lambda n, x, *r: x,
    "Constant": lambda n: numpy_helper.to_array(attrs(n)["value"]),
}


def f64(a):
    return a.astype(np.float64) if a.dtype in (np.float32, np.float16) else a


def run_model(path, inputs):
    """Runs the graph in float64; inputs: list of arrays bound in graph-input order."""
    m = onnx.load(path)
    env = {t.name: f64(numpy_helper.to_array(t)) for t in m.graph.initializer}
    real = [i for i in m.graph.input if i.name not in env]
    for vi, x in zip(real, inputs):
        env[vi.name] = f64(x)
    for node in m.graph.node:
        fn = OPS.get(node.op_type)
        if fn is None:
            raise NotImplementedError(f"zoo_check: op {node.op_type} not in the evaluator")
        args = [env[n] if n else None for n in node.input]
        while args and args[-1] is None:
            args.pop()
        out = fn(node, *args)
        env[node.output[0]] = np.asarray(out)
    return [env[o.name] for o in m.graph.output]


def rel_l2(a, ref):
    a = np.asarray(a, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    return float(np.linalg.norm(a - ref) / max(np.linalg.norm(ref), 1e-300))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("zoodir", nargs="?")
    ap.add_argument("--only", default="")
    ap.add_argument("--demo", nargs="?", const="demo", default=None, metavar="DEMODIR")
    args = ap.parse_args()
    bad = 0
    if args.demo is not None:
        d = args.demo
        x = np.load(os.path.join(d, "heldout_x.npy"))
        y = np.load(os.path.join(d, "heldout_y.npy"))
        (logits,) = run_model(os.path.join(d, "lenet5_batch.onnx"), [x])
        right = int((logits.argmax(1) == y).sum())
        print(f"demo lenet5_batch.onnx: accuracy {right}/{len(y)} = {100.0 * right / len(y):.2f}%")
        bad += right < 0.95 * len(y)
    if args.zoodir:
        with open(os.path.join(args.zoodir, "INDEX")) as fh:
            names = [ln.strip() for ln in fh if ln.strip()]
        if args.only:
            names = [n for n in names if n in args.only.split(",")]
        for name in names:
            d = os.path.join(args.zoodir, name)
            x = np.load(os.path.join(d, "input_0.npy"))
            outs = run_model(os.path.join(d, "model.onnx"), [x])
            # Every output (the YOLO-style net has two).
            for k, out in enumerate(outs):
                ref = np.load(os.path.join(d, f"output_{k}.npy"))
                err = rel_l2(out, ref)
                ok = out.shape == ref.shape and err <= 1e-5
                bad += not ok
                print(f"{name:20s} output {k} shape {list(out.shape)} rel_l2 {err:.1e} {'ok' if ok else 'FAIL'}",
                      flush=True)
    if args.demo is None and not args.zoodir:
        ap.error("give ZOODIR and/or --demo")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
