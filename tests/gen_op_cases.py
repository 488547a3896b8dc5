#!/usr/bin/python3
"""Per-op conformance cases for engine, generated independently of the engine.

usage: gen_op_cases.py [--selfcheck] OUTDIR

Writes one folder per case (format: tests/README-cases.md):

    OUTDIR/<case>/model.onnx      one small ONNX graph (onnx.helper), weights as initializers
    OUTDIR/<case>/input_<k>.npy   one per non-initializer graph input, in graph order
    OUTDIR/<case>/output_<k>.npy  one per graph output, in graph order
    OUTDIR/<case>/tolerance       "allclose ATOL RTOL" or "rel_l2 TOL"
    OUTDIR/INDEX                  the case names, one per line

Expected outputs are computed in float64 with numpy or torch straight from the
ONNX operator spec, then cast to the output's dtype. Where torch implements
the same semantics as a numpy reference written here, both are computed and
must agree (an assertion), so each reference is checked by a second path.
Every model passes onnx.checker and onnx shape inference must agree with the
expected output shapes. Deterministic: each case has its own RNG seeded from
its name.
"""
import os
import sys
import zlib
import itertools
import shutil

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

TOL = "allclose 1e-5 1e-4"
INT64_MAX = 2**63 - 1
INT64_MIN = -2**63

NP2ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.bool_): TensorProto.BOOL,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int8): TensorProto.INT8,
}

CASES = []  # (name, model, inputs[list of arrays], outputs[list of arrays], tol)


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def make_case(name, nodes, inputs, outputs, inits=None, opset=13, tol=TOL, check=True, infer=True):
    """inputs: [(name, array)], outputs: [(name, expected array)], inits: {name: array}"""
    assert not any(c[0] == name for c in CASES), name
    inits = inits or {}
    g_inputs = [helper.make_tensor_value_info(n, NP2ONNX[a.dtype], list(a.shape)) for n, a in inputs]
    g_outputs = []
    outs = []
    for n, a in outputs:
        a = np.asarray(a)
        g_outputs.append(helper.make_tensor_value_info(n, NP2ONNX[a.dtype], list(a.shape)))
        outs.append(a)
    init_list = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    graph = helper.make_graph(nodes, name, g_inputs, g_outputs, init_list)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="gen_op_cases")
    assert 1 <= opset <= 21, (name, opset)  # the engine supports opsets 1 to 21
    if opset > 17:
        model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    if check and infer:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        for vi, exp in zip(inferred.graph.output, outs):
            tt = vi.type.tensor_type
            if tt.HasField("shape"):
                dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
                assert all(d is None or d == e for d, e in zip(dims, exp.shape)) and len(dims) == exp.ndim, \
                    (name, vi.name, dims, exp.shape)
    for _, a in inputs:
        assert a.size == 0 or a.dtype == np.bool_ or np.any(a != 0), name
    for a in outs:
        if a.dtype.kind == "f":
            assert np.all(np.isfinite(a)), name
    CASES.append((name, model, [a for _, a in inputs], outs, tol))


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32)


def normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def uniform(rng, shape, lo, hi):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def d64(a):
    return np.asarray(a).astype(np.float64)


def t64(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))


def same_close(a, b, what):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    assert np.allclose(a, b, atol=1e-10, rtol=1e-10), (what, np.max(np.abs(a - b)))


# --------------------------------------------------------------- references

def auto_pads(in_sp, k, s, d, mode):
    """Spec of auto_pad for Conv/pools: returns (begin, end) lists."""
    pb, pe = [], []
    for i in range(len(in_sp)):
        if mode == "VALID":
            pb.append(0)
            pe.append(0)
            continue
        out = -(-in_sp[i] // s[i])
        total = max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in_sp[i])
        if mode == "SAME_UPPER":
            pb.append(total // 2)
            pe.append(total - total // 2)
        else:
            pb.append(total - total // 2)
            pe.append(total // 2)
    return pb, pe


def conv_np(x, w, b, s, d, pb, pe, group):
    """Direct float64 convolution from the spec (any spatial rank)."""
    x = d64(x)
    w = d64(w)
    n, c = x.shape[:2]
    m = w.shape[0]
    sp = len(x.shape) - 2
    k = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pb[i], pe[i]) for i in range(sp)])
    out_sp = [(xp.shape[2 + i] - ((k[i] - 1) * d[i] + 1)) // s[i] + 1 for i in range(sp)]
    y = np.zeros((n, m) + tuple(out_sp))
    cg = c // group
    mg = m // group
    for g in range(group):
        for o in itertools.product(*[range(v) for v in out_sp]):
            for kk in itertools.product(*[range(v) for v in k]):
                idx = tuple(o[i] * s[i] + kk[i] * d[i] for i in range(sp))
                xs = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + idx]  # n, cg
                ws = w[(slice(g * mg, (g + 1) * mg), slice(None)) + tuple(kk)]  # mg, cg
                y[(slice(None), slice(g * mg, (g + 1) * mg)) + tuple(o)] += xs @ ws.T
    if b is not None:
        y += d64(b).reshape((1, m) + (1,) * sp)
    return y


def conv_torch(x, w, b, s, d, pb, pe, group):
    sp = x.ndim - 2
    pad = []
    for i in reversed(range(sp)):
        pad += [pb[i], pe[i]]
    xt = F.pad(t64(x), pad)
    fn = F.conv1d if sp == 1 else F.conv2d if sp == 2 else F.conv3d
    y = fn(xt, t64(w), None if b is None else t64(b), stride=s, dilation=d, groups=group)
    return y.numpy()


def conv_transpose_np(x, w, b, s, d, pb, pe, opad, group):
    """ConvTranspose from the spec: scatter every input pixel times the kernel
    into the full output, then drop pads (begin/end); output_padding adds at the end."""
    x = d64(x)
    w = d64(w)
    n, c = x.shape[:2]
    sp = x.ndim - 2
    cg = c // group
    mg = w.shape[1]
    m = mg * group
    k = w.shape[2:]
    in_sp = x.shape[2:]
    full = [s[i] * (in_sp[i] - 1) + (k[i] - 1) * d[i] + 1 + opad[i] for i in range(sp)]
    yfull = np.zeros((n, m) + tuple(full))
    for g in range(group):
        for p in itertools.product(*[range(v) for v in in_sp]):
            xv = x[(slice(None), slice(g * cg, (g + 1) * cg)) + p]  # n, cg
            for kk in itertools.product(*[range(v) for v in k]):
                o = tuple(p[i] * s[i] + kk[i] * d[i] for i in range(sp))
                wv = w[(slice(g * cg, (g + 1) * cg), slice(None)) + kk]  # cg, mg
                yfull[(slice(None), slice(g * mg, (g + 1) * mg)) + o] += xv @ wv
    out = [full[i] - pb[i] - pe[i] for i in range(sp)]
    y = yfull[(slice(None), slice(None)) + tuple(slice(pb[i], pb[i] + out[i]) for i in range(sp))]
    if b is not None:
        y = y + d64(b).reshape((1, m) + (1,) * sp)
    return y


def pool_out_len(n, k, s, d, pb, pe, ceil):
    eff = (k - 1) * d + 1
    num = n + pb + pe - eff
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= n + pb:  # a window may not start in the end padding
        o -= 1
    return o


def pool_np(x, kind, k, s, d, pb, pe, ceil, cip):
    x = d64(x)
    sp = x.ndim - 2
    in_sp = x.shape[2:]
    out_sp = [pool_out_len(in_sp[i], k[i], s[i], d[i], pb[i], pe[i], ceil) for i in range(sp)]
    y = np.zeros(x.shape[:2] + tuple(out_sp))
    for o in itertools.product(*[range(v) for v in out_sp]):
        axes_idx = []
        full_count = 1
        for i in range(sp):
            idx = [o[i] * s[i] - pb[i] + j * d[i] for j in range(k[i])]
            full_count *= sum(1 for t in idx if -pb[i] <= t < in_sp[i] + pe[i])
            axes_idx.append([t for t in idx if 0 <= t < in_sp[i]])
        win = x[np.ix_(range(x.shape[0]), range(x.shape[1]), *axes_idx)]
        win = win.reshape(x.shape[0], x.shape[1], -1)
        if kind == "max":
            v = win.max(axis=2)
        else:
            v = win.sum(axis=2) / (full_count if cip else win.shape[2])
        y[(slice(None), slice(None)) + o] = v
    return y


def pool_torch(x, kind, k, s, d, p, ceil, cip):
    sp = x.ndim - 2
    xt = t64(x)
    if kind == "max":
        fn = F.max_pool1d if sp == 1 else F.max_pool2d
        return fn(xt, k, s, p, d, ceil_mode=bool(ceil)).numpy()
    fn = F.avg_pool1d if sp == 1 else F.avg_pool2d
    return fn(xt, k, s, p, ceil_mode=bool(ceil), count_include_pad=bool(cip)).numpy()


def resize_coord(xo, scale, in_len, out_len, mode):
    if mode == "half_pixel":
        return (xo + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (xo + 0.5) / scale - 0.5 if out_len > 1 else 0.0 * xo
    if mode == "align_corners":
        return xo * (in_len - 1) / (out_len - 1) if out_len > 1 else 0.0 * xo
    if mode == "asymmetric":
        return xo / scale
    if mode == "tf_half_pixel_for_nn":  # Resize-11 only
        return (xo + 0.5) / scale
    raise ValueError(mode)


def nearest_index(xf, mode):
    if mode == "round_prefer_floor":
        return np.where(xf - np.floor(xf) == 0.5, np.floor(xf), np.round(xf))
    if mode == "round_prefer_ceil":
        return np.where(xf - np.floor(xf) == 0.5, np.ceil(xf), np.round(xf))
    if mode == "floor":
        return np.floor(xf)
    if mode == "ceil":
        return np.ceil(xf)
    raise ValueError(mode)


def resize_np(x, out_shape, scales, mode, coord, nearest="round_prefer_floor", a=-0.75, exclude_outside=0,
              antialias=0, roi=None, extrapolation=0.0):
    """Separable Resize from the ONNX spec, float64. scales: per dim (output/input); roi: per dim
    (start, end) for tf_crop_and_resize, whose positions outside the input are `extrapolation`."""
    y = d64(x)
    outside = np.zeros(tuple(out_shape), bool)
    for ax in range(x.ndim):
        n_in, n_out = y.shape[ax], out_shape[ax]
        if n_in == n_out and scales[ax] == 1.0 and coord != "tf_crop_and_resize":
            continue
        xo = np.arange(n_out, dtype=np.float64)
        if coord == "tf_crop_and_resize":
            r0, r1 = roi[ax]
            xf = (r0 * (n_in - 1) + xo * (r1 - r0) * (n_in - 1) / (n_out - 1) if n_out > 1
                  else 0.5 * (r0 + r1) * (n_in - 1) + 0 * xo)
            bad = (xf < 0) | (xf > n_in - 1)
            shape = [1] * x.ndim
            shape[ax] = n_out
            outside |= bad.reshape(shape)
            xf = np.clip(xf, 0, n_in - 1)
        else:
            xf = resize_coord(xo, np.float64(scales[ax]), n_in, n_out, coord)
        W = np.zeros((n_out, n_in))
        if antialias and mode in ("linear", "cubic") and scales[ax] < 1.0:
            # the filter stretched by 1/scale over every input position, edge-clamped
            # (or dropped with exclude_outside), normalised to sum 1
            s = np.float64(scales[ax])
            for r in range(n_out):
                span = int(np.ceil((2.0 if mode == "cubic" else 1.0) / s)) + 2
                ws = []
                for j in range(int(np.floor(xf[r])) - span, int(np.floor(xf[r])) + span + 1):
                    t = abs(j - xf[r]) * s
                    if mode == "linear":
                        wt = max(0.0, 1.0 - t)
                    elif t <= 1:
                        wt = ((a + 2) * t - (a + 3)) * t * t + 1
                    elif t < 2:
                        wt = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
                    else:
                        wt = 0.0
                    if exclude_outside and not (0 <= j < n_in):
                        wt = 0.0
                    ws.append((min(max(j, 0), n_in - 1), wt))
                tot = sum(v for _, v in ws)
                for j, v in ws:
                    W[r, j] += v / tot
        elif mode == "nearest":
            idx = np.clip(nearest_index(xf, nearest), 0, n_in - 1).astype(int)
            # the index must not depend on float32 vs float64 arithmetic
            if coord != "tf_crop_and_resize":
                xf32 = resize_coord(xo.astype(np.float32), np.float32(scales[ax]), n_in, n_out,
                                    coord).astype(np.float32)
                idx32 = np.clip(nearest_index(xf32, nearest), 0, n_in - 1).astype(int)
                assert np.array_equal(idx, idx32), ("fragile nearest", xf, xf32)
            W[np.arange(n_out), idx] = 1.0
        elif mode == "linear":
            x0 = np.floor(xf)
            t = xf - x0
            for off, wt in ((0, 1 - t), (1, t)):
                j = np.clip(x0 + off, 0, n_in - 1).astype(int)
                np.add.at(W, (np.arange(n_out), j), wt)
        elif mode == "cubic":
            x0 = np.floor(xf)
            t = xf - x0
            cs = [((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                  ((a + 2) * t - (a + 3)) * t * t + 1,
                  ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                  ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a]
            for r in range(n_out):
                ws = []
                for off in range(4):
                    j = int(x0[r]) - 1 + off
                    wt = cs[off][r]
                    if exclude_outside and not (0 <= j < n_in):
                        wt = 0.0
                    ws.append((min(max(j, 0), n_in - 1), wt))
                tot = sum(v for _, v in ws) if exclude_outside else 1.0
                for j, v in ws:
                    W[r, j] += v / tot
        y = np.moveaxis(np.tensordot(W, np.moveaxis(y, ax, 0), axes=(1, 0)), 0, ax)
    return np.where(outside, extrapolation, y)


# ------------------------------------------------------------------- cases

def unary(op, opset, ref, xgen=None, attrs=None, shape=(2, 3, 4, 5), suffix=""):
    name = op.lower() + suffix
    rng = rng_for(name)
    x = xgen(rng, shape) if xgen else normal(rng, shape, 2.0)
    node = helper.make_node(op, ["X"], ["Y"], **(attrs or {}))
    make_case(name, [node], [("X", x)], [("Y", f32(ref(d64(x))))], opset=opset)


def softplus(x):
    return np.logaddexp(0.0, x)


def gen_activations():
    pos = lambda r, s: uniform(r, s, 0.1, 4.0)
    unary("Relu", 13, lambda x: np.maximum(x, 0))
    unary("Relu", 7, lambda x: np.maximum(x, 0), suffix="_opset7", shape=(3, 7))
    unary("LeakyRelu", 7, lambda x: np.where(x >= 0, x, 0.01 * x))
    unary("LeakyRelu", 16, lambda x: np.where(x >= 0, x, 0.2 * x), attrs={"alpha": 0.2}, suffix="_alpha")
    unary("Sigmoid", 13, lambda x: 1 / (1 + np.exp(-x)))
    unary("HardSigmoid", 7, lambda x: np.clip(0.2 * x + 0.5, 0, 1))
    unary("HardSigmoid", 7, lambda x: np.clip(0.4 * x - 0.1, 0, 1), attrs={"alpha": 0.4, "beta": -0.1}, suffix="_ab")
    unary("HardSwish", 14, lambda x: x * np.clip(x / 6 + 0.5, 0, 1), xgen=lambda r, s: normal(r, s, 4.0))
    unary("Tanh", 13, np.tanh)
    unary("Softplus", 7, softplus)
    unary("Elu", 7, lambda x: np.where(x > 0, x, 1.0 * (np.exp(x) - 1)))
    unary("Elu", 7, lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)), attrs={"alpha": 0.5}, suffix="_alpha")
    sa, sg = 1.67326319217681884765625, 1.05070102214813232421875
    unary("Selu", 7, lambda x: sg * np.where(x > 0, x, sa * (np.exp(x) - 1)))
    unary("Selu", 7, lambda x: 1.5 * np.where(x > 0, x, 2.0 * (np.exp(x) - 1)),
          attrs={"alpha": 2.0, "gamma": 1.5}, suffix="_ag")
    # Mish is opset 18, unknown to onnx 1.12's checker: built unchecked.
    name = "mish"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4, 5), 2.0)
    make_case(name, [helper.make_node("Mish", ["X"], ["Y"])], [("X", x)],
              [("Y", f32(d64(x) * np.tanh(softplus(d64(x)))))], opset=18, check=False)
    unary("Sqrt", 13, np.sqrt, xgen=pos)
    unary("Exp", 13, np.exp)
    unary("Log", 13, np.log, xgen=pos)
    unary("Neg", 13, np.negative)
    unary("Abs", 13, np.abs)
    unary("Identity", 13, lambda x: x)
    unary("Identity", 16, lambda x: x, suffix="_opset16", shape=(5,))
    # Dropout in inference is the identity
    unary("Dropout", 12, lambda x: x, suffix="_opset12")
    unary("Dropout", 7, lambda x: x, attrs={"ratio": 0.3}, suffix="_opset7_ratio")
    name = "dropout_opset13_ratio_input"
    rng = rng_for(name)
    x = normal(rng, (3, 4))
    make_case(name, [helper.make_node("Dropout", ["X", "r"], ["Y"])], [("X", x)], [("Y", x)],
              inits={"r": np.array(0.5, np.float32)}, opset=13)
    # training_mode true at ratio 0 (torchvision's Swin exports its attention
    # dropout so): nothing drops, scale 1, the mask all true; no seed needed
    name = "dropout_training_zero_ratio"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("Dropout", ["X", "r", "t"], ["Y"])], [("X", x)], [("Y", x)],
              inits={"r": np.array(0.0, np.float32), "t": np.array(True)}, opset=13)
    name = "dropout_training_zero_ratio_mask"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("Dropout", ["X", "r", "t"], ["Y", "M"])], [("X", x)],
              [("Y", x), ("M", np.ones(x.shape, bool))],
              inits={"r": np.array(0.0, np.float32), "t": np.array(True)}, opset=13)

    # PRelu
    for name, slope_shape in (("prelu_channel", (3, 1, 1)), ("prelu_scalar", (1,)), ("prelu_full", (3, 4, 5))):
        rng = rng_for(name)
        x = normal(rng, (2, 3, 4, 5))
        sl = normal(rng, slope_shape, 0.5)
        make_case(name, [helper.make_node("PRelu", ["X", "slope"], ["Y"])], [("X", x)],
                  [("Y", f32(np.where(x >= 0, d64(x), d64(x) * d64(sl))))], inits={"slope": sl}, opset=9)
    name = "prelu_slope_input"
    rng = rng_for(name)
    x = normal(rng, (2, 4, 3))
    sl = normal(rng, (4, 1), 0.5)
    make_case(name, [helper.make_node("PRelu", ["X", "slope"], ["Y"])], [("X", x), ("slope", sl)],
              [("Y", f32(np.where(x >= 0, d64(x), d64(x) * d64(sl))))], opset=16)

    # Clip
    def clip_case(name, opset, lo, hi, attr_form):
        rng = rng_for(name)
        x = normal(rng, (2, 3, 4), 2.0)
        ref = np.clip(d64(x), -np.inf if lo is None else lo, np.inf if hi is None else hi)
        inits = {}
        if attr_form:
            attrs = {}
            if lo is not None:
                attrs["min"] = lo
            if hi is not None:
                attrs["max"] = hi
            node = helper.make_node("Clip", ["X"], ["Y"], **attrs)
        else:
            ins = ["X", "", ""]
            if lo is not None:
                ins[1] = "lo"
                inits["lo"] = np.array(lo, np.float32)
            if hi is not None:
                ins[2] = "hi"
                inits["hi"] = np.array(hi, np.float32)
            while ins and ins[-1] == "":
                ins.pop()
            node = helper.make_node("Clip", ins, ["Y"])
        make_case(name, [node], [("X", x)], [("Y", f32(ref))], inits=inits, opset=opset)

    clip_case("clip_opset10_attr_minmax", 10, -1.0, 1.5, True)
    clip_case("clip_opset7_attr_default", 7, None, None, True)
    clip_case("clip_opset10_attr_min_only", 10, 0.0, None, True)
    clip_case("clip_opset11_minmax", 11, -0.5, 0.7, False)
    clip_case("clip_opset11_min_only", 11, -0.3, None, False)
    clip_case("clip_opset11_max_only", 11, None, 0.4, False)
    clip_case("clip_opset13_relu6", 13, 0.0, 6.0, False)
    clip_case("clip_opset13_max_only", 13, None, -0.2, False)
    clip_case("clip_opset13_none", 13, None, None, False)


def gen_elementwise():
    shapes = [("same", (2, 3, 4), (2, 3, 4)), ("scalar", (2, 3, 4), ()), ("row", (2, 3, 4), (4,)),
              ("col", (2, 3, 4), (3, 1)), ("rank", (3, 1, 5), (2, 1, 4, 1)), ("scalar_left", (), (2, 3))]
    ops = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}
    for op, fn in ops.items():
        for tag, sa, sb in shapes:
            name = f"{op.lower()}_{tag}"
            rng = rng_for(name)
            if op == "Pow":
                a = uniform(rng, sa, 0.2, 3.0)
                b = uniform(rng, sb, -2.0, 2.0)
            elif op == "Div":
                a = normal(rng, sa)
                b = (uniform(rng, sb, 0.5, 2.0) * rng.choice([-1, 1], sb)).astype(np.float32)
            else:
                a = normal(rng, sa)
                b = normal(rng, sb)
            make_case(name, [helper.make_node(op, ["A", "B"], ["C"])], [("A", a), ("B", b)],
                      [("C", f32(fn(d64(a), d64(b))))], opset=13 if op != "Pow" else 15)
        # second operand as a constant initializer
        name = f"{op.lower()}_const"
        rng = rng_for(name)
        a = uniform(rng, (2, 3, 4), 0.2, 3.0)
        b = uniform(rng, (3, 1), 0.5, 2.0)
        make_case(name, [helper.make_node(op, ["A", "B"], ["C"])], [("A", a)],
                  [("C", f32(fn(d64(a), d64(b))))], inits={"B": b}, opset=7)
    # Above the cpu kernels' one-thread size: their work splits into runs
    # of floats whose ends fall inside rows of the broadcast pattern.
    big = [("same", (3, 37, 211), (3, 37, 211)), ("scalar", (3, 37, 211), ()), ("col", (3, 37, 211), (37, 1)),
           ("row", (5, 23, 173), (173,)), ("scalar_left", (), (5, 23, 173))]
    for op, fn in (("Add", np.add), ("Div", np.divide)):
        for tag, sa, sb in big:
            name = f"{op.lower()}_big_{tag}"
            rng = rng_for(name)
            a = normal(rng, sa)
            b = normal(rng, sb) if op == "Add" else \
                (uniform(rng, sb, 0.5, 2.0) * rng.choice([-1, 1], sb)).astype(np.float32)
            make_case(name, [helper.make_node(op, ["A", "B"], ["C"])], [("A", a), ("B", b)],
                      [("C", f32(fn(d64(a), d64(b))))], opset=13)
    # Pow with integer exponents on negative bases, and common exponents
    name = "pow_negative_base_int_exp"
    rng = rng_for(name)
    a = normal(rng, (3, 4), 2.0)
    b = np.array([2.0, 3.0, 0.0, 1.0], np.float32)
    make_case(name, [helper.make_node("Pow", ["A", "B"], ["C"])], [("A", a)],
              [("C", f32(np.power(d64(a), d64(b))))], inits={"B": b}, opset=13)
    name = "pow_sqrt_exp"
    rng = rng_for(name)
    a = uniform(rng, (2, 5), 0.1, 5.0)
    make_case(name, [helper.make_node("Pow", ["A", "B"], ["C"])], [("A", a)],
              [("C", f32(np.sqrt(d64(a))))], inits={"B": np.array(0.5, np.float32)}, opset=12)
    # int64 arithmetic
    for op, fn in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply)):
        name = f"{op.lower()}_int64"
        rng = rng_for(name)
        a = rng.integers(-50, 50, (2, 3, 4)).astype(np.int64)
        b = rng.integers(-50, 50, (3, 1)).astype(np.int64)
        make_case(name, [helper.make_node(op, ["A", "B"], ["C"])], [("A", a), ("B", b)],
                  [("C", fn(a, b).astype(np.int64))], opset=13)
    name = "div_int64"
    rng = rng_for(name)
    a = rng.integers(0, 100, (2, 3, 4)).astype(np.int64)
    b = rng.integers(1, 9, (4,)).astype(np.int64)
    make_case(name, [helper.make_node("Div", ["A", "B"], ["C"])], [("A", a), ("B", b)],
              [("C", (a // b).astype(np.int64))], opset=13)

    # Equal
    name = "equal_float"
    rng = rng_for(name)
    a = rng.integers(-2, 3, (2, 3, 4)).astype(np.float32)
    b = rng.integers(-2, 3, (3, 1)).astype(np.float32)
    make_case(name, [helper.make_node("Equal", ["A", "B"], ["C"])], [("A", a), ("B", b)],
              [("C", np.equal(a, b))], opset=13)
    name = "equal_int64"
    rng = rng_for(name)
    a = rng.integers(-2, 3, (3, 4)).astype(np.int64)
    b = rng.integers(-2, 3, (4,)).astype(np.int64)
    make_case(name, [helper.make_node("Equal", ["A", "B"], ["C"])], [("A", a), ("B", b)],
              [("C", np.equal(a, b))], opset=11)
    # Where
    name = "where_same"
    rng = rng_for(name)
    c = rng.integers(0, 2, (2, 3, 4)).astype(np.bool_)
    x = normal(rng, (2, 3, 4))
    y = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("Where", ["C", "X", "Y"], ["Z"])], [("C", c), ("X", x), ("Y", y)],
              [("Z", np.where(c, x, y))], opset=9)
    name = "where_broadcast"
    rng = rng_for(name)
    c = rng.integers(0, 2, (3, 1)).astype(np.bool_)
    x = normal(rng, (1, 4))
    y = normal(rng, (2, 1, 1))
    make_case(name, [helper.make_node("Where", ["C", "X", "Y"], ["Z"])], [("C", c), ("X", x), ("Y", y)],
              [("Z", np.where(c, x, y))], opset=16)
    name = "where_equal_chain"
    rng = rng_for(name)
    a = rng.integers(0, 3, (3, 4)).astype(np.float32)
    x = normal(rng, (3, 4))
    nodes = [helper.make_node("Equal", ["A", "k"], ["C"]), helper.make_node("Where", ["C", "X", "z"], ["Z"])]
    make_case(name, nodes, [("A", a), ("X", x)], [("Z", np.where(a == 1.0, x, np.float32(-1.5)))],
              inits={"k": np.array(1.0, np.float32), "z": np.array(-1.5, np.float32)}, opset=13)


def gen_ops17():
    """Issue 17's unary, binary, variadic, reduction and arg ops."""
    from math import erf as _erf
    verf = np.vectorize(_erf)

    def off_int(r, shape):
        # k + [0.1, 0.4] or k + [0.6, 0.9]: away from integers and halves, so
        # Floor/Ceil/Round give the same answer on fp16 storage
        k = r.integers(-4, 4, shape).astype(np.float64)
        f = r.uniform(0.1, 0.4, shape) + r.choice([0.0, 0.5], shape)
        return (k + f).astype(np.float32)

    unary("Floor", 13, np.floor, xgen=off_int)
    unary("Floor", 6, np.floor, xgen=off_int, suffix="_opset6", shape=(3, 5))
    unary("Ceil", 13, np.ceil, xgen=off_int)
    unary("Ceil", 1, np.ceil, xgen=off_int, suffix="_opset1", shape=(4, 3))
    unary("Round", 11, np.round, xgen=off_int)
    name = "round_halves"  # half to even
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 0.2, -0.7], np.float32)
    make_case(name, [helper.make_node("Round", ["X"], ["Y"])], [("X", x)], [("Y", f32(np.round(d64(x))))], opset=11)

    def away0(r, shape):
        return (normal(r, shape, 2.0) + np.where(r.random(shape) < 0.5, -0.2, 0.2)).astype(np.float32)
    unary("Sign", 13, np.sign, xgen=away0)
    name = "sign_int64"
    rng = rng_for(name)
    x = rng.integers(-5, 6, (3, 4)).astype(np.int64)
    x[0, 0] = 0
    make_case(name, [helper.make_node("Sign", ["X"], ["Y"])], [("X", x)], [("Y", np.sign(x))], opset=9)
    unary("Reciprocal", 13, lambda x: 1.0 / x, xgen=away0)
    unary("Reciprocal", 6, lambda x: 1.0 / x, xgen=lambda r, s: uniform(r, s, 0.5, 3.0), suffix="_opset6")
    unary("Erf", 13, verf)
    unary("Sin", 7, np.sin)
    unary("Cos", 7, np.cos)
    unary("Softsign", 1, lambda x: x / (1 + np.abs(x)))
    name = "not"
    rng = rng_for(name)
    x = rng.integers(0, 2, (2, 3, 4)).astype(np.bool_)
    make_case(name, [helper.make_node("Not", ["X"], ["Y"])], [("X", x)], [("Y", np.logical_not(x))], opset=1)
    unary("ThresholdedRelu", 10, lambda x: np.where(x > 1.0, x, 0.0))
    unary("ThresholdedRelu", 10, lambda x: np.where(x > 0.5, x, 0.0), attrs={"alpha": 0.5}, suffix="_alpha")
    unary("Celu", 12, lambda x: np.maximum(0, x) + np.minimum(0, np.expm1(x)))
    unary("Celu", 12, lambda x: np.maximum(0, x) + np.minimum(0, 2.0 * np.expm1(x / 2.0)), attrs={"alpha": 2.0},
          suffix="_alpha")
    unary("Shrink", 9, lambda x: np.where(x < -0.5, x, np.where(x > 0.5, x, 0.0)))
    unary("Shrink", 9, lambda x: np.where(x < -1.5, x + 0.3, np.where(x > 1.5, x - 0.3, 0.0)),
          attrs={"lambd": 1.5, "bias": 0.3}, suffix="_lambd_bias")
    # Gelu is opset 20: unknown to onnx 1.12's checker
    for tag, approx in (("", None), ("_tanh", "tanh")):
        name = "gelu" + tag
        rng = rng_for(name)
        x = normal(rng, (2, 3, 4, 5), 2.0)
        xd = d64(x)
        if approx:
            ref = 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd ** 3)))
            same_close(ref, F.gelu(t64(x), approximate="tanh").numpy(), name)
        else:
            ref = 0.5 * xd * (1 + verf(xd / np.sqrt(2)))
            same_close(ref, F.gelu(t64(x)).numpy(), name)
        attrs = {"approximate": approx} if approx else {}
        make_case(name, [helper.make_node("Gelu", ["X"], ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))], opset=20,
                  check=False)

    # comparisons and logical ops (float inputs are small integers, so fp16
    # storage compares the same values)
    cmps = {"Greater": (np.greater, 13), "Less": (np.less, 13), "GreaterOrEqual": (np.greater_equal, 16),
            "LessOrEqual": (np.less_equal, 12)}
    for op, (fn, opset) in cmps.items():
        name = f"{op.lower()}_float"
        rng = rng_for(name)
        a = rng.integers(-2, 3, (2, 3, 4)).astype(np.float32)
        b = rng.integers(-2, 3, (3, 1)).astype(np.float32)
        make_case(name, [helper.make_node(op, ["A", "B"], ["C"])], [("A", a), ("B", b)], [("C", fn(a, b))],
                  opset=opset)
        name = f"{op.lower()}_int64"
        rng = rng_for(name)
        a = rng.integers(-3, 4, (3, 4)).astype(np.int64)
        b = rng.integers(-3, 4, (4,)).astype(np.int64)
        make_case(name, [helper.make_node(op, ["A", "B"], ["C"])], [("A", a), ("B", b)], [("C", fn(a, b))],
                  opset=opset)
    name = "greater_opset7"
    rng = rng_for(name)
    a = rng.integers(-2, 3, (3, 4)).astype(np.float32)
    b = rng.integers(-2, 3, (4,)).astype(np.float32)
    make_case(name, [helper.make_node("Greater", ["A", "B"], ["C"])], [("A", a), ("B", b)],
              [("C", np.greater(a, b))], opset=7)
    for op, fn in (("And", np.logical_and), ("Or", np.logical_or), ("Xor", np.logical_xor)):
        name = op.lower()
        rng = rng_for(name)
        a = rng.integers(0, 2, (2, 3, 4)).astype(np.bool_)
        b = rng.integers(0, 2, (3, 1)).astype(np.bool_)
        make_case(name, [helper.make_node(op, ["A", "B"], ["C"])], [("A", a), ("B", b)], [("C", fn(a, b))], opset=7)
    # Greater feeding Where (a shape-subgraph idiom), and a Not of a Less
    name = "less_not_where"
    rng = rng_for(name)
    a = rng.integers(-3, 4, (3, 4)).astype(np.float32)
    x = normal(rng, (3, 4))
    nodes = [helper.make_node("Less", ["A", "k"], ["L"]), helper.make_node("Not", ["L"], ["C"]),
             helper.make_node("Where", ["C", "X", "z"], ["Z"])]
    make_case(name, nodes, [("A", a), ("X", x)], [("Z", np.where(~(a < 1.0), x, np.float32(0.5)))],
              inits={"k": np.array(1.0, np.float32), "z": np.array(0.5, np.float32)}, opset=13)

    # Mod
    name = "mod_fmod_float"
    rng = rng_for(name)
    a = off_int(rng, (2, 3, 4)) * 2
    b = np.array([1.5, -2.25, 3.0, -0.75], np.float32)
    make_case(name, [helper.make_node("Mod", ["A", "B"], ["C"], fmod=1)], [("A", a), ("B", b)],
              [("C", f32(np.fmod(d64(a), d64(b))))], opset=13)
    for fm in (0, 1):
        name = f"mod_int64_fmod{fm}"
        rng = rng_for(name)
        a = rng.integers(-20, 21, (3, 4)).astype(np.int64)
        b = np.array([3, -4, 5, -1], np.int64)
        exp = np.fmod(a, b) if fm else np.mod(a, b)
        make_case(name, [helper.make_node("Mod", ["A", "B"], ["C"], fmod=fm)], [("A", a), ("B", b)],
                  [("C", exp.astype(np.int64))], opset=10 if fm else 13)

    # variadic Min/Max/Sum/Mean
    fns = {"Min": np.minimum, "Max": np.maximum, "Sum": np.add, "Mean": None}
    for op, fn in fns.items():
        for tag, shapes, opset in (("one", [(2, 3)], 13), ("two", [(2, 3, 4), (3, 1)], 13),
                                   ("three", [(2, 1, 4), (3, 1), (4,)], 8), ("same_opset6", [(3, 4), (3, 4)], 6)):
            name = f"{op.lower()}_{tag}"
            rng = rng_for(name)
            xs = [normal(rng, s) for s in shapes]
            if op == "Mean":
                acc = sum(np.broadcast_to(d64(x), np.broadcast_shapes(*shapes)) for x in xs) / len(xs)
            else:
                acc = d64(xs[0])
                for x in xs[1:]:
                    acc = fn(acc, d64(x))
                acc = np.broadcast_to(acc, np.broadcast_shapes(*shapes))
            names = [f"X{k}" for k in range(len(xs))]
            make_case(name, [helper.make_node(op, names, ["Y"])], list(zip(names, xs)), [("Y", f32(acc))],
                      opset=opset)
    for op, fn in (("Min", np.minimum), ("Max", np.maximum)):
        name = f"{op.lower()}_int64"
        rng = rng_for(name)
        a = rng.integers(-9, 10, (3, 4)).astype(np.int64)
        b = rng.integers(-9, 10, (4,)).astype(np.int64)
        c = rng.integers(-9, 10, (3, 1)).astype(np.int64)
        make_case(name, [helper.make_node(op, ["A", "B", "C"], ["Y"])], [("A", a), ("B", b), ("C", c)],
                  [("Y", fn(fn(a, b), c))], opset=13)

    # reductions: attribute axes before 18, input axes from 18
    fns = {"ReduceMin": lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
           "ReduceProd": lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
           "ReduceL1": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
           "ReduceL2": lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)),
           "ReduceLogSumExp": lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
           "ReduceSumSquare": lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims)}
    for op, fn in fns.items():
        for tag, axes, keep, opset in (("axis1_keep", [1], 1, 13), ("axes23_nokeep", [2, 3], 0, 13),
                                       ("all_keep", None, 1, 13), ("neg_axis_opset18", [-1], 1, 18),
                                       ("axes02_nokeep_opset18", [0, 2], 0, 18), ("opset11", [0, -1], 1, 11)):
            name = f"{op.lower()}_{tag}"
            rng = rng_for(name)
            x = uniform(rng, (2, 3, 4, 5), 0.6, 1.5) if op == "ReduceProd" else normal(rng, (2, 3, 4, 5))
            ref = fn(d64(x), None if axes is None else tuple(axes), bool(keep))
            attrs = {"keepdims": keep}
            inits = {}
            ins = ["X"]
            if axes is not None:
                if opset >= 18:
                    inits["axes"] = np.array(axes, np.int64)
                    ins.append("axes")
                else:
                    attrs["axes"] = axes
            # reduce-18 is unknown to onnx 1.12's checker
            make_case(name, [helper.make_node(op, ins, ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                      inits=inits, opset=opset, check=opset < 18)
    name = "reducelogsumexp_large"  # needs the max subtracted
    rng = rng_for(name)
    x = normal(rng, (3, 6), 3.0) + np.float32(120.0)
    ref = np.log(np.sum(np.exp(d64(x) - 150.0), axis=1, keepdims=True)) + 150.0
    make_case(name, [helper.make_node("ReduceLogSumExp", ["X"], ["Y"], axes=[1])], [("X", x)], [("Y", f32(ref))],
              opset=13)
    name = "reducemin_empty_axes_noop"
    rng = rng_for(name)
    x = normal(rng, (2, 3))
    make_case(name, [helper.make_node("ReduceMin", ["X", "axes"], ["Y"], noop_with_empty_axes=1)], [("X", x)],
              [("Y", x)], inits={"axes": np.zeros((0,), np.int64)}, opset=18, check=False)
    name = "reducemin_int64"
    rng = rng_for(name)
    x = rng.integers(-50, 50, (3, 4, 5)).astype(np.int64)
    make_case(name, [helper.make_node("ReduceMin", ["X"], ["Y"], axes=[1], keepdims=0)], [("X", x)],
              [("Y", x.min(axis=1))], opset=13)
    # int64 reductions that stay integers, in wrapping arithmetic as numpy's
    # int64 (Mask R-CNN's mask Loop takes a ReduceMax of int64)
    for op, fn, lo, hi in (("ReduceMax", lambda a, ax: a.max(axis=ax, keepdims=True), -2**62, 2**62),
                           ("ReduceSum", lambda a, ax: a.sum(axis=ax, keepdims=True), 2**61, 2**62),
                           ("ReduceProd", lambda a, ax: a.prod(axis=ax, keepdims=True), -2**20, 2**20),
                           ("ReduceL1", lambda a, ax: np.abs(a).sum(axis=ax, keepdims=True), -2**40, 2**40),
                           ("ReduceSumSquare", lambda a, ax: (a * a).sum(axis=ax, keepdims=True), -2**31, 2**31)):
        name = f"{op.lower()}_int64"
        rng = rng_for(name)
        x = rng.integers(lo, hi, (3, 4, 5)).astype(np.int64)
        with np.errstate(over="ignore"):
            ref = fn(x, (0, 2))
        make_case(name, [helper.make_node(op, ["X"], ["Y"], axes=[0, 2])], [("X", x)], [("Y", ref)], opset=11)

    # ArgMax/ArgMin
    for op, fn in (("ArgMax", np.argmax), ("ArgMin", np.argmin)):
        for tag, axis, keep, last, opset in (("axis1_keep", 1, 1, 0, 13), ("neg_axis_nokeep", -1, 0, 0, 11),
                                             ("default", None, 1, 0, 1), ("last_index", 2, 1, 1, 12)):
            name = f"{op.lower()}_{tag}"
            rng = rng_for(name)
            if last:  # small integers: ties, where select_last_index matters
                x = rng.integers(-2, 3, (2, 3, 4)).astype(np.float32)
            else:
                x = normal(rng, (2, 3, 4))
            ax = 0 if axis is None else axis
            if last:
                flip = np.flip(x, axis=ax)
                ref = x.shape[ax] - 1 - fn(flip, axis=ax)
            else:
                ref = fn(x, axis=ax)
            if keep:
                ref = np.expand_dims(ref, ax)
            attrs = {"keepdims": keep}
            if axis is not None:
                attrs["axis"] = axis
            if last:
                attrs["select_last_index"] = 1
            make_case(name, [helper.make_node(op, ["X"], ["Y"], **attrs)], [("X", x)],
                      [("Y", ref.astype(np.int64))], opset=opset)
        name = f"{op.lower()}_int64"
        rng = rng_for(name)
        x = rng.integers(-9, 10, (4, 5)).astype(np.int64)
        make_case(name, [helper.make_node(op, ["X"], ["Y"], axis=0, keepdims=0)], [("X", x)],
                  [("Y", fn(x, axis=0).astype(np.int64))], opset=13)

    # a shape subgraph of the new ops, folded into Reshape's constant shape
    # at load (the folder runs the ref kernels): Floor, Ceil, Max, Min,
    # Greater, Sum, ReduceProd on Shape's values
    name = "fold_shape_subgraph"
    rng = rng_for(name)
    x = normal(rng, (2, 4, 6))
    nodes = [helper.make_node("Shape", ["X"], ["s"]), helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
             helper.make_node("Div", ["sf", "two"], ["half"]), helper.make_node("Floor", ["half"], ["fl"]),
             helper.make_node("Ceil", ["half"], ["ce"]), helper.make_node("Max", ["fl", "one"], ["mx"]),
             helper.make_node("Min", ["ce", "eight"], ["mn"]), helper.make_node("Greater", ["mx", "mn"], ["gt"]),
             helper.make_node("Where", ["gt", "mx", "mn"], ["w"]), helper.make_node("Sum", ["w", "fl"], ["sm"]),
             helper.make_node("ReduceProd", ["sm"], ["rp"], keepdims=1),
             helper.make_node("Cast", ["rp"], ["ri"], to=TensorProto.INT64),
             helper.make_node("Concat", ["minus1", "ri"], ["shape"], axis=0),
             helper.make_node("Reshape", ["X", "shape"], ["Y"])]
    make_case(name, nodes, [("X", x)], [("Y", x.reshape(1, 48))],
              inits={"two": np.array([2.0], np.float32), "one": np.array([1.0], np.float32),
                     "eight": np.array([8.0], np.float32), "minus1": np.array([-1], np.int64)}, opset=13)

    # Hardmax: 1 at the first maximum of each row (legacy 2-D rows before 13)
    for tag, axis, opset in (("axis1", 1, 13), ("last", -1, 13), ("legacy_axis1", 1, 11), ("default_opset1", None, 1)):
        name = f"hardmax_{tag}"
        rng = rng_for(name)
        x = normal(rng, (2, 3, 4))
        ax = (1 if opset < 13 else -1) if axis is None else axis
        if opset < 13:
            x2 = x.reshape(int(np.prod(x.shape[:ax])), -1)
            ref = np.zeros_like(x2)
            ref[np.arange(x2.shape[0]), np.argmax(x2, axis=1)] = 1
            ref = ref.reshape(x.shape)
        else:
            idx = np.expand_dims(np.argmax(x, axis=ax), ax)
            ref = np.zeros_like(x)
            np.put_along_axis(ref, idx, 1.0, axis=ax)
        attrs = {} if axis is None else {"axis": axis}
        make_case(name, [helper.make_node("Hardmax", ["X"], ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                  opset=opset)
    # LpNormalization (opset 1)
    for tag, axis, pn in (("default", None, None), ("axis1_p1", 1, 1), ("axis0_p2", 0, 2)):
        name = f"lpnormalization_{tag}"
        rng = rng_for(name)
        x = normal(rng, (3, 4, 5))
        ax = -1 if axis is None else axis
        pv = 2 if pn is None else pn
        xd = d64(x)
        nrm = np.sum(np.abs(xd), axis=ax, keepdims=True) if pv == 1 else np.sqrt(np.sum(xd * xd, axis=ax,
                                                                                         keepdims=True))
        same_close(xd / nrm, F.normalize(t64(x), p=pv, dim=ax).numpy(), name)
        attrs = {}
        if axis is not None:
            attrs["axis"] = axis
        if pn is not None:
            attrs["p"] = pn
        make_case(name, [helper.make_node("LpNormalization", ["X"], ["Y"], **attrs)], [("X", x)],
                  [("Y", f32(xd / nrm))], opset=1)
    # MeanVarianceNormalization: default axes [0, 2, 3], and others
    for tag, axes, opset in (("default", None, 13), ("axes1", [1], 9), ("axes_neg12", [-1, -2], 13)):
        name = f"meanvariancenormalization_{tag}"
        rng = rng_for(name)
        x = normal(rng, (2, 3, 4, 5), 2.0) + np.float32(0.5)
        ax = (0, 2, 3) if axes is None else tuple(a % 4 for a in axes)
        xd = d64(x)
        mean = xd.mean(axis=ax, keepdims=True)
        var = (xd * xd).mean(axis=ax, keepdims=True) - mean * mean
        ref = (xd - mean) / (np.sqrt(var) + 1e-9)
        attrs = {} if axes is None else {"axes": axes}
        make_case(name, [helper.make_node("MeanVarianceNormalization", ["X"], ["Y"], **attrs)], [("X", x)],
                  [("Y", f32(ref))], opset=opset)
    # CumSum: axis a constant input; exclusive, reverse
    for tag, axis, excl, rev, opset in (("axis1", 1, 0, 0, 14), ("neg_axis_exclusive", -1, 1, 0, 11),
                                        ("reverse", 0, 0, 1, 14), ("reverse_exclusive", 2, 1, 1, 14)):
        name = f"cumsum_{tag}"
        rng = rng_for(name)
        x = normal(rng, (3, 4, 5))
        xd = d64(x)
        src = np.flip(xd, axis) if rev else xd
        c = np.cumsum(src, axis=axis)
        if excl:
            c = c - src
        ref = np.flip(c, axis) if rev else c
        attrs = {}
        if excl:
            attrs["exclusive"] = 1
        if rev:
            attrs["reverse"] = 1
        make_case(name, [helper.make_node("CumSum", ["X", "axis"], ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                  inits={"axis": np.array(axis, np.int64)}, opset=opset)
    name = "cumsum_int64"
    rng = rng_for(name)
    x = rng.integers(-9, 10, (3, 6)).astype(np.int64)
    make_case(name, [helper.make_node("CumSum", ["X", "axis"], ["Y"])], [("X", x)],
              [("Y", np.cumsum(x, axis=1).astype(np.int64))], inits={"axis": np.array([1], np.int32)}, opset=14)
    # Trilu: upper/lower, k from a constant input
    for tag, upper, k in (("upper", 1, None), ("lower", 0, None), ("upper_k1", 1, 1), ("lower_kneg2", 0, -2),
                          ("upper_k_big", 1, 9)):
        name = f"trilu_{tag}"
        rng = rng_for(name)
        x = normal(rng, (2, 4, 5))
        kk = 0 if k is None else k
        ref = np.triu(x, kk) if upper else np.tril(x, kk)
        same_close(ref, (torch.triu(t64(x), kk) if upper else torch.tril(t64(x), kk)).numpy(), name)
        ins = ["X"] if k is None else ["X", "k"]
        inits = {} if k is None else {"k": np.array(k, np.int64)}
        make_case(name, [helper.make_node("Trilu", ins, ["Y"], upper=upper)], [("X", x)], [("Y", f32(ref))],
                  inits=inits, opset=14)
    name = "trilu_int64"
    rng = rng_for(name)
    x = rng.integers(1, 9, (3, 3)).astype(np.int64)
    make_case(name, [helper.make_node("Trilu", ["X"], ["Y"], upper=0)], [("X", x)], [("Y", np.tril(x))], opset=14)


def gen_conv():
    def case(name, xs, ws, bias=True, s=None, d=None, pads=None, group=1, auto_pad=None, opset=11, kshape_attr=False):
        rng = rng_for(name)
        x = normal(rng, xs)
        w = normal(rng, ws, 0.5)
        b = normal(rng, (ws[0],)) if bias else None
        sp = len(xs) - 2
        s_ = s or [1] * sp
        d_ = d or [1] * sp
        attrs = {}
        if s:
            attrs["strides"] = s
        if d:
            attrs["dilations"] = d
        if group != 1:
            attrs["group"] = group
        if kshape_attr:
            attrs["kernel_shape"] = list(ws[2:])
        if auto_pad:
            attrs["auto_pad"] = auto_pad
            pb, pe = auto_pads(xs[2:], ws[2:], s_, d_, auto_pad)
        else:
            p = pads or [0] * (2 * sp)
            if pads:
                attrs["pads"] = pads
            pb, pe = p[:sp], p[sp:]
        ref = conv_torch(x, w, b, s_, d_, pb, pe, group)
        if SELFCHECK:
            same_close(ref, conv_np(x, w, b, s_, d_, pb, pe, group), name)
        inits = {"W": w}
        ins = ["X", "W"]
        if bias:
            inits["B"] = b
            ins.append("B")
        make_case(name, [helper.make_node("Conv", ins, ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                  inits=inits, opset=opset)

    case("conv2d_pads1", (1, 3, 7, 7), (4, 3, 3, 3), pads=[1, 1, 1, 1])
    case("conv2d_nobias_stride2", (1, 2, 8, 8), (3, 2, 3, 3), bias=False, s=[2, 2])
    case("conv2d_asym_pads", (1, 2, 6, 5), (3, 2, 3, 3), pads=[0, 1, 2, 1])
    case("conv2d_dilation2", (1, 2, 9, 9), (2, 2, 3, 3), d=[2, 2], pads=[2, 2, 2, 2])
    case("conv2d_dilation_stride_mixed", (1, 2, 9, 8), (3, 2, 3, 2), d=[1, 2], s=[2, 1], pads=[1, 0, 0, 1])
    case("conv2d_group2", (1, 4, 6, 6), (6, 2, 3, 3), group=2, pads=[1, 1, 1, 1])
    case("conv2d_depthwise", (1, 4, 6, 6), (4, 1, 3, 3), group=4, pads=[1, 1, 1, 1])
    case("conv2d_depthwise_mult2_stride2", (1, 4, 7, 7), (8, 1, 3, 3), group=4, s=[2, 2], bias=False)
    case("conv2d_autopad_same_upper", (1, 2, 8, 8), (3, 2, 3, 3), s=[2, 2], auto_pad="SAME_UPPER")
    case("conv2d_autopad_same_lower", (1, 2, 8, 8), (3, 2, 3, 3), s=[2, 2], auto_pad="SAME_LOWER")
    case("conv2d_autopad_same_upper_k4", (1, 2, 7, 6), (2, 2, 4, 4), auto_pad="SAME_UPPER")
    case("conv2d_autopad_same_lower_k4", (1, 2, 7, 6), (2, 2, 4, 4), auto_pad="SAME_LOWER")
    case("conv2d_autopad_valid", (1, 2, 7, 7), (3, 2, 3, 3), s=[2, 2], auto_pad="VALID")
    case("conv2d_1x1", (2, 5, 4, 4), (3, 5, 1, 1))
    case("conv2d_batch2_kshape_attr", (2, 3, 5, 5), (2, 3, 3, 3), kshape_attr=True, pads=[1, 1, 1, 1])
    # images over the threads (cpu, 2+ threads): 9 images in uneven rounds, 4 in whole ones
    case("conv2d_batch9_stride2", (9, 5, 9, 8), (7, 5, 3, 3), s=[2, 2], pads=[1, 1, 1, 1])
    case("conv2d_batch4_depthwise", (4, 6, 10, 11), (6, 1, 3, 3), group=6, pads=[1, 1, 1, 1])
    case("conv2d_batch4_1x1_wide", (4, 24, 9, 9), (40, 24, 1, 1))
    # 3x3 stride 1 with 8+ channels: opencl's Winograd (on CPU devices its
    # GEMM on 8-wide panels); 20 tiles, channels not multiples of 8
    case("conv2d_wino_c9_m10_batch2", (2, 9, 7, 9), (10, 9, 3, 3), pads=[1, 1, 1, 1])
    case("conv2d_rect_kernel", (1, 2, 6, 9), (3, 2, 2, 3), s=[1, 2], opset=7)
    case("conv1d_basic", (1, 3, 10), (2, 3, 3), bias=False)
    case("conv1d_stride_dil_pads", (2, 3, 11), (4, 3, 3), s=[2], d=[2], pads=[1, 2])
    case("conv1d_autopad_same_upper_dil", (1, 2, 9), (2, 2, 3), d=[2], s=[2], auto_pad="SAME_UPPER")
    case("conv1d_group3", (1, 6, 8), (3, 2, 3), group=3, pads=[1, 1])
    case("conv3d_small", (1, 2, 4, 4, 4), (2, 2, 2, 2, 2), pads=[1, 0, 1, 0, 1, 0])

    # ConvTranspose
    def ct(name, xs, ws, bias=True, s=None, d=None, pads=None, opad=None, oshape=None, group=1,
           auto_pad=None, opset=11):
        rng = rng_for(name)
        x = normal(rng, xs)
        w = normal(rng, ws, 0.5)
        b = normal(rng, (ws[1] * group,)) if bias else None
        sp = len(xs) - 2
        s_ = s or [1] * sp
        d_ = d or [1] * sp
        op_ = opad or [0] * sp
        k = ws[2:]
        attrs = {}
        if s:
            attrs["strides"] = s
        if d:
            attrs["dilations"] = d
        if group != 1:
            attrs["group"] = group
        if opad:
            attrs["output_padding"] = opad
        if oshape or auto_pad:
            if oshape:
                attrs["output_shape"] = oshape
                target = oshape
            else:
                target = [xs[2 + i] * s_[i] for i in range(sp)]
            if auto_pad:
                attrs["auto_pad"] = auto_pad
            pb, pe = [], []
            for i in range(sp):
                total = s_[i] * (xs[2 + i] - 1) + op_[i] + ((k[i] - 1) * d_[i] + 1) - target[i]
                if auto_pad == "SAME_UPPER":
                    pb.append(total // 2)
                    pe.append(total - total // 2)
                else:
                    pb.append(total - total // 2)
                    pe.append(total // 2)
        else:
            p = pads or [0] * (2 * sp)
            if pads:
                attrs["pads"] = pads
            pb, pe = p[:sp], p[sp:]
        ref = conv_transpose_np(x, w, b, s_, d_, pb, pe, op_, group)
        if pb == pe and sp <= 2:
            fn = F.conv_transpose1d if sp == 1 else F.conv_transpose2d
            tr = fn(t64(x), t64(w), None if b is None else t64(b), stride=s_, padding=pb, output_padding=op_,
                    groups=group, dilation=d_).numpy()
            same_close(ref, tr, name)
        inits = {"W": w}
        ins = ["X", "W"]
        if bias:
            inits["B"] = b
            ins.append("B")
        make_case(name, [helper.make_node("ConvTranspose", ins, ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                  inits=inits, opset=opset)

    ct("convtranspose_basic", (1, 2, 4, 4), (2, 3, 3, 3), bias=False)
    ct("convtranspose_stride2_pads1", (1, 2, 4, 4), (2, 3, 3, 3), s=[2, 2], pads=[1, 1, 1, 1])
    ct("convtranspose_output_padding", (1, 2, 3, 4), (2, 2, 3, 3), s=[2, 2], pads=[1, 1, 1, 1], opad=[1, 1])
    ct("convtranspose_output_padding_rect", (1, 2, 3, 3), (2, 2, 3, 2), s=[3, 2], opad=[2, 1], bias=False)
    ct("convtranspose_output_shape", (1, 2, 4, 4), (2, 3, 3, 3), s=[2, 2], oshape=[8, 8])
    ct("convtranspose_output_shape_odd", (1, 2, 3, 3), (2, 2, 4, 4), s=[2, 2], oshape=[7, 8])
    ct("convtranspose_group2", (1, 4, 3, 3), (4, 2, 3, 3), group=2, s=[2, 2])
    ct("convtranspose_depthwise", (1, 3, 4, 4), (3, 1, 2, 2), group=3, s=[2, 2])
    ct("convtranspose_dilation2", (1, 2, 4, 4), (2, 2, 3, 3), d=[2, 2], pads=[1, 1, 1, 1])
    ct("convtranspose_asym_pads", (1, 2, 4, 4), (2, 2, 3, 3), s=[2, 2], pads=[0, 1, 1, 0])
    ct("convtranspose_autopad_same_upper", (1, 2, 4, 4), (2, 2, 3, 3), s=[2, 2], auto_pad="SAME_UPPER")
    ct("convtranspose_autopad_same_lower", (1, 2, 4, 4), (2, 2, 3, 3), s=[2, 2], auto_pad="SAME_LOWER")
    ct("convtranspose1d_stride3", (2, 2, 5), (2, 3, 4), s=[3], pads=[1, 1])
    ct("convtranspose_k2s2_upsample", (1, 4, 3, 3), (4, 2, 2, 2), s=[2, 2], opset=13)


def gen_norm():
    for opset, name, xs, eps in ((9, "batchnorm_opset9", (2, 3, 4, 4), 1e-5),
                                 (15, "batchnorm_opset15_eps", (2, 3, 4, 5), 1e-2),
                                 (14, "batchnorm_rank2", (4, 3), 1e-5),
                                 (7, "batchnorm_rank3_opset7", (2, 3, 6), 1e-3)):
        rng = rng_for(name)
        x = normal(rng, xs, 2.0)
        c = xs[1]
        sc, bi, mu = normal(rng, (c,)), normal(rng, (c,)), normal(rng, (c,))
        var = uniform(rng, (c,), 0.2, 2.0)
        bc = (1, c) + (1,) * (len(xs) - 2)
        ref = (d64(x) - d64(mu).reshape(bc)) / np.sqrt(d64(var).reshape(bc) + np.float64(np.float32(eps))) \
            * d64(sc).reshape(bc) + d64(bi).reshape(bc)
        attrs = {} if eps == 1e-5 else {"epsilon": eps}
        make_case(name, [helper.make_node("BatchNormalization", ["X", "s", "b", "m", "v"], ["Y"], **attrs)],
                  [("X", x)], [("Y", f32(ref))], inits={"s": sc, "b": bi, "m": mu, "v": var}, opset=opset)
    for name, xs, eps in (("instancenorm", (2, 3, 4, 5), None), ("instancenorm_eps_rank3", (2, 4, 7), 1e-2)):
        rng = rng_for(name)
        x = normal(rng, xs, 2.0) + 1.0
        c = xs[1]
        sc, bi = normal(rng, (c,)), normal(rng, (c,))
        ax = tuple(range(2, len(xs)))
        bc = (1, c) + (1,) * (len(xs) - 2)
        e = np.float64(np.float32(eps if eps else 1e-5))
        xd = d64(x)
        ref = (xd - xd.mean(axis=ax, keepdims=True)) / np.sqrt(xd.var(axis=ax, keepdims=True) + e) \
            * d64(sc).reshape(bc) + d64(bi).reshape(bc)
        attrs = {"epsilon": eps} if eps else {}
        make_case(name, [helper.make_node("InstanceNormalization", ["X", "s", "b"], ["Y"], **attrs)],
                  [("X", x)], [("Y", f32(ref))], inits={"s": sc, "b": bi}, opset=7)
    # the larger shapes run threaded on the cpu backend (more than 16384 elements), C not a multiple of 8
    for name, size, alpha, beta, bias, xs in (("lrn_default", 3, None, None, None, (2, 6, 3, 3)),
                                              ("lrn_size5_params", 5, 0.5, 0.6, 2.0, (2, 6, 3, 3)),
                                              ("lrn_size4_even", 4, 0.3, 0.75, 1.0, (2, 6, 3, 3)),
                                              ("lrn_size2_even", 2, 0.5, 0.75, 1.0, (1, 5, 4, 3)),
                                              ("lrn_size1", 1, 0.4, 0.75, 1.5, (1, 3, 2, 5)),
                                              ("lrn_size7_over_c", 7, 0.2, 0.75, 1.0, (2, 5, 3, 4)),
                                              ("lrn_size6_over_c_generic_beta", 6, 0.3, 0.9, 0.5, (1, 3, 4, 4)),
                                              ("lrn_size5_threaded", 5, 0.05, 0.75, 2.0, (2, 7, 33, 37)),
                                              ("lrn_size4_threaded_generic_beta", 4, 0.3, 0.6, 1.0,
                                               (1, 13, 40, 41))):
        rng = rng_for(name)
        x = normal(rng, xs, 2.0)
        a_ = alpha if alpha is not None else 1e-4
        b_ = beta if beta is not None else 0.75
        k_ = bias if bias is not None else 1.0
        xd = d64(x)
        C = x.shape[1]
        sq = np.zeros_like(xd)
        for c in range(C):
            lo = max(0, c - (size - 1) // 2)
            hi = min(C - 1, c + -(-(size - 1) // 2))
            sq[:, c] = (xd[:, lo:hi + 1] ** 2).sum(axis=1)
        ref = xd / (np.float64(np.float32(k_)) + np.float64(np.float32(a_)) / size * sq) ** np.float64(np.float32(b_))
        if size % 2 == 1:  # torch centres even windows the other way
            tr = F.local_response_norm(t64(x), size, float(np.float32(a_)), float(np.float32(b_)),
                                       float(np.float32(k_))).numpy()
            same_close(ref, tr, name)
        attrs = {"size": size}
        if alpha is not None:
            attrs.update(alpha=alpha, beta=beta, bias=bias)
        make_case(name, [helper.make_node("LRN", ["X"], ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))], opset=13)


def gen_pool():
    def case(name, kind, xs, k, s=None, d=None, pads=None, ceil=0, cip=0, auto_pad=None, opset=None):
        rng = rng_for(name)
        x = normal(rng, xs)
        sp = len(xs) - 2
        s_ = s or [1] * sp
        d_ = d or [1] * sp
        attrs = {"kernel_shape": k}
        if s:
            attrs["strides"] = s
        if d:
            attrs["dilations"] = d
        if ceil:
            attrs["ceil_mode"] = 1
        if cip:
            attrs["count_include_pad"] = 1
        if auto_pad:
            attrs["auto_pad"] = auto_pad
            pb, pe = auto_pads(xs[2:], k, s_, d_, auto_pad)
        else:
            p = pads or [0] * (2 * sp)
            if pads:
                attrs["pads"] = pads
            pb, pe = p[:sp], p[sp:]
        ref = pool_np(x, kind, k, s_, d_, pb, pe, ceil, cip)
        if pb == pe and all(pb[i] <= k[i] // 2 for i in range(sp)) and sp <= 2:
            same_close(ref, pool_torch(x, kind, k, s_, d_, pb, ceil, cip), name)
        op = "MaxPool" if kind == "max" else "AveragePool"
        if opset is None:
            opset = 12 if kind == "max" else 11
        # onnx 1.12's shape inference keeps a ceil_mode window that starts in
        # the end padding; the spec (and PyTorch, ORT, ops.h) drop it.
        dropped = ceil and any(pool_out_len(xs[2 + i], k[i], s_[i], d_[i], pb[i], pe[i], 1) !=
                               -(-(xs[2 + i] + pb[i] + pe[i] - (k[i] - 1) * d_[i] - 1) // s_[i]) + 1
                               for i in range(sp))
        make_case(name, [helper.make_node(op, ["X"], ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))], opset=opset,
                  infer=not dropped)

    for kind in ("max", "avg"):
        p = kind + "pool"
        case(f"{p}_k2s2", kind, (1, 2, 6, 6), [2, 2], s=[2, 2], opset=8 if kind == "max" else 7)
        case(f"{p}_k3s1_pads1", kind, (1, 2, 5, 5), [3, 3], pads=[1, 1, 1, 1])
        case(f"{p}_k3s2_ceil", kind, (1, 2, 8, 8), [3, 3], s=[2, 2], ceil=1)
        case(f"{p}_k3s2_ceil_pads", kind, (1, 2, 6, 7), [3, 3], s=[2, 2], pads=[1, 1, 1, 1], ceil=1)
        case(f"{p}_ceil_drop_last_window", kind, (1, 2, 5, 5), [2, 2], s=[2, 2], pads=[1, 1, 1, 1], ceil=1)
        case(f"{p}_asym_pads", kind, (1, 2, 5, 6), [3, 2], pads=[1, 0, 0, 1])
        case(f"{p}_rect_k_stride", kind, (1, 2, 6, 7), [2, 3], s=[2, 1])
        case(f"{p}_autopad_same_upper", kind, (1, 2, 7, 8), [3, 3], s=[2, 2], auto_pad="SAME_UPPER")
        case(f"{p}_autopad_same_lower", kind, (1, 2, 7, 8), [3, 3], s=[2, 2], auto_pad="SAME_LOWER")
        case(f"{p}_autopad_same_upper_k2", kind, (1, 2, 5, 5), [2, 2], auto_pad="SAME_UPPER")
        case(f"{p}_autopad_valid", kind, (1, 2, 7, 7), [3, 3], s=[2, 2], auto_pad="VALID")
        case(f"{p}1d", kind, (2, 3, 9), [3], s=[2], pads=[1, 1])
        case(f"{p}_batch2_k3s3", kind, (2, 3, 6, 6), [3, 3], s=[3, 3])
    # rows wider than the vector kernels' 16 and 32 lanes (cpu's max_rows / max_win)
    case("maxpool_k3s2_wide_pads", "max", (1, 3, 41, 45), [3, 3], s=[2, 2], pads=[1, 1, 1, 1])
    case("maxpool_k3s2_wide_ceil", "max", (1, 2, 37, 39), [3, 3], s=[2, 2], ceil=1)
    case("maxpool_k3s1_wide", "max", (1, 2, 9, 70), [3, 3])
    # rows of several 8-lane segments: opencl's f_pool2d_rv8 loads whole
    # segments inside the row (stride 1, 2) and gathers at its ends
    case("avgpool_k3s1_wide_pads_cip", "avg", (1, 2, 9, 70), [3, 3], pads=[1, 1, 1, 1], cip=1)
    case("avgpool_k3s2_wide_pads", "avg", (1, 3, 41, 45), [3, 3], s=[2, 2], pads=[1, 1, 1, 1])
    case("avgpool_k3s3_wide", "avg", (1, 2, 9, 70), [3, 3], s=[3, 3])
    # cpu's MaxPool through NCHW8c tiles (8 planes at a time, N * C >= 8; the planes past the last 8 by rows)
    case("maxpool_k3s2_ceil_tile8", "max", (1, 9, 13, 13), [3, 3], s=[2, 2], ceil=1)
    case("maxpool_k3s1_pads_tile8_batch2", "max", (2, 5, 9, 11), [3, 3], pads=[1, 1, 1, 1])
    case("maxpool_k2s2_tile8", "max", (1, 8, 8, 9), [2, 2], s=[2, 2])
    case("maxpool_k5s1_asym_pads_tile8", "max", (1, 16, 7, 12), [5, 4], pads=[2, 1, 2, 2])
    case("maxpool_ceil_drop_last_window_tile8", "max", (1, 8, 5, 5), [2, 2], s=[2, 2], pads=[1, 1, 1, 1], ceil=1)
    case("maxpool_k3s2_pads_tile8_wide", "max", (1, 8, 23, 57), [3, 3], s=[2, 2], pads=[1, 1, 1, 1])
    # cpu's separable average pool: DenseNet's 2x2 s2 transitions, and row ends in padding and ceil windows
    case("avgpool_k2s2_wide", "avg", (1, 3, 12, 58), [2, 2], s=[2, 2])
    case("avgpool_k3s2_wide_ceil_pads_cip", "avg", (1, 2, 11, 41), [3, 3], s=[2, 2], pads=[1, 1, 1, 1], ceil=1, cip=1)
    case("avgpool_k2s1_wide_asym_pads", "avg", (1, 2, 7, 37), [2, 3], pads=[0, 2, 1, 0])
    case("maxpool_dilation2_wide", "max", (1, 2, 10, 50), [3, 3], d=[2, 2], pads=[2, 2, 2, 2])
    case("maxpool_k2s2_wide", "max", (1, 2, 8, 66), [2, 2], s=[2, 2])
    case("maxpool_k3s1_same_28", "max", (1, 3, 28, 28), [3, 3], pads=[1, 1, 1, 1])  # inception's branch pools
    case("maxpool_k5s1_same_asym", "max", (1, 2, 13, 17), [5, 4], pads=[2, 1, 2, 2])
    case("maxpool_dilation2", "max", (1, 2, 7, 7), [2, 2], d=[2, 2])
    case("maxpool_dilation2_stride2_pads", "max", (1, 2, 8, 8), [3, 3], d=[2, 2], s=[2, 2], pads=[2, 2, 2, 2])
    case("maxpool_dilation_ceil", "max", (1, 1, 8, 8), [2, 2], d=[2, 1], s=[2, 2], ceil=1, opset=10)
    case("maxpool1d_dilation", "max", (1, 2, 10), [3], d=[3], opset=11)
    case("avgpool_k3s1_pads1_cip", "avg", (1, 2, 5, 5), [3, 3], pads=[1, 1, 1, 1], cip=1)
    case("avgpool_ceil_pads_cip", "avg", (1, 2, 6, 7), [3, 3], s=[2, 2], pads=[1, 1, 1, 1], ceil=1, cip=1)
    case("avgpool_ceil_drop_last_cip", "avg", (1, 2, 5, 5), [2, 2], s=[2, 2], pads=[1, 1, 1, 1], ceil=1, cip=1)
    case("avgpool_ceil_nopads_cip", "avg", (1, 2, 7, 7), [3, 3], s=[2, 2], ceil=1, cip=1)
    case("avgpool_asym_pads_cip", "avg", (1, 2, 5, 6), [3, 2], pads=[1, 0, 0, 1], cip=1)
    case("avgpool1d_cip", "avg", (2, 3, 9), [3], s=[2], pads=[1, 1], cip=1)

    # MaxPool's Indices (opset 8+): the flat index of the first maximum in the whole input;
    # torch's return_indices gives it within the plane, row major
    for name, xs, k, s, pads, order in (("maxpool_indices", (2, 3, 7, 8), [3, 3], [2, 2], [1, 1, 1, 1], 0),
                                        ("maxpool_indices_colmajor", (1, 2, 5, 6), [2, 3], [1, 2], None, 1),
                                        ("maxpool_indices_1d", (2, 2, 9), [3], [2], [1, 1], 0),
                                        ("maxpool_indices_3d", (1, 2, 4, 5, 4), [2, 2, 2], [2, 1, 2], None, 0)):
        rng = rng_for(name)
        x = normal(rng, xs)
        sp = len(xs) - 2
        p = pads or [0] * (2 * sp)
        attrs = {"kernel_shape": k, "strides": s}
        if pads:
            attrs["pads"] = pads
        if order:
            attrs["storage_order"] = 1
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[sp]
        yt, it = fn(t64(x), k, s, p[:sp], return_indices=True)
        it = it.numpy().astype(np.int64)
        plane = int(np.prod(xs[2:]))
        if order:  # column major over the spatial dims (2-D here): h + w * H
            H, W = xs[2], xs[3]
            it = (it // W) + (it % W) * H
        nc = np.arange(xs[0] * xs[1], dtype=np.int64).reshape(xs[0], xs[1], *([1] * sp)) * plane
        make_case(name, [helper.make_node("MaxPool", ["X"], ["Y", "I"], **attrs)], [("X", x)],
                  [("Y", f32(yt.numpy())), ("I", it + nc)], opset=12)

    for name, op, xs, fn in (("globalavgpool", "GlobalAveragePool", (2, 3, 4, 5), np.mean),
                             ("globalmaxpool", "GlobalMaxPool", (2, 3, 4, 5), np.max),
                             ("globalavgpool_1d", "GlobalAveragePool", (2, 3, 7), np.mean),
                             ("globalmaxpool_1d", "GlobalMaxPool", (1, 4, 6), np.max)):
        rng = rng_for(name)
        x = normal(rng, xs)
        ref = fn(d64(x), axis=tuple(range(2, len(xs))), keepdims=True)
        make_case(name, [helper.make_node(op, ["X"], ["Y"])], [("X", x)], [("Y", f32(ref))], opset=7)


def gen_gemm():
    M, K, N = 3, 4, 5
    for name, ta, tb, alpha, beta, cs, opset in (
            ("gemm_basic", 0, 0, None, None, (N,), 13),
            ("gemm_transA", 1, 0, None, None, (M, N), 13),
            ("gemm_transB", 0, 1, None, None, (1, N), 13),
            ("gemm_transAB_alpha_beta", 1, 1, 0.5, 2.0, (M, 1), 13),
            ("gemm_c_scalar", 0, 1, 1.5, 0.25, (), 13),
            ("gemm_c_1x1", 0, 0, None, -1.0, (1, 1), 11),
            ("gemm_no_c", 0, 1, 2.0, None, None, 13),
            ("gemm_opset9_fc", 0, 1, None, None, (N,), 9)):
        rng = rng_for(name)
        a = normal(rng, (K, M) if ta else (M, K))
        b = normal(rng, (N, K) if tb else (K, N))
        al = 1.0 if alpha is None else alpha
        be = 1.0 if beta is None else beta
        ref = al * (d64(a).T if ta else d64(a)) @ (d64(b).T if tb else d64(b))
        inits = {"B": b}
        ins = ["A", "B"]
        if cs is not None:
            c = normal(rng, cs)
            ref = ref + be * d64(c)
            inits["C"] = c
            ins.append("C")
        attrs = {}
        if ta:
            attrs["transA"] = 1
        if tb:
            attrs["transB"] = 1
        if alpha is not None:
            attrs["alpha"] = alpha
        if beta is not None:
            attrs["beta"] = beta
        make_case(name, [helper.make_node("Gemm", ins, ["Y"], **attrs)], [("A", a)], [("Y", f32(ref))],
                  inits=inits, opset=opset)
    name = "gemm_all_inputs"
    rng = rng_for(name)
    a, b, c = normal(rng, (2, 3)), normal(rng, (3, 4)), normal(rng, (2, 4))
    make_case(name, [helper.make_node("Gemm", ["A", "B", "C"], ["Y"], beta=0.5)], [("A", a), ("B", b), ("C", c)],
              [("Y", f32(d64(a) @ d64(b) + 0.5 * d64(c)))], opset=13)

    for name, sa, sb, const_b in (("matmul_2d", (3, 4), (4, 5), False),
                                  ("matmul_2d_const", (3, 4), (4, 5), True),
                                  ("matmul_batched", (2, 3, 4), (2, 4, 5), False),
                                  ("matmul_batch_broadcast", (2, 1, 3, 4), (3, 4, 2), False),
                                  ("matmul_3d_by_2d_const", (2, 3, 4), (4, 6), True),
                                  ("matmul_1d_left", (4,), (2, 4, 5), False),
                                  ("matmul_1d_right", (2, 3, 4), (4,), False),
                                  ("matmul_1d_both", (6,), (6,), False)):
        rng = rng_for(name)
        a, b = normal(rng, sa), normal(rng, sb)
        ref = np.matmul(d64(a), d64(b))
        make_case(name, [helper.make_node("MatMul", ["A", "B"], ["Y"])], [("A", a)] + ([] if const_b else [("B", b)]),
                  [("Y", f32(ref))], inits={"B": b} if const_b else None, opset=13)


def gen_softmax():
    def sm(x, axes, log):
        m = x.max(axis=axes, keepdims=True)
        e = np.exp(x - m)
        s = e.sum(axis=axes, keepdims=True)
        return (x - m - np.log(s)) if log else e / s

    for op in ("Softmax", "LogSoftmax"):
        log = op == "LogSoftmax"
        for opset, axis, xs in ((11, None, (2, 3, 4, 5)), (11, 1, (2, 3, 2, 2)), (11, 2, (2, 3, 4, 5)),
                                (11, -1, (2, 3, 4)), (13, None, (2, 3, 4, 5)), (13, 1, (2, 3, 4, 5)),
                                (13, 0, (3, 4)), (13, -2, (2, 3, 4)), (7, None, (3, 5))):
            name = f"{op.lower()}_opset{opset}_axis{'default' if axis is None else axis}_r{len(xs)}"
            rng = rng_for(name)
            x = normal(rng, xs, 3.0)
            xd = d64(x)
            if opset < 13:
                ax = 1 if axis is None else axis % len(xs)
                flat = xd.reshape(int(np.prod(xs[:ax])), -1)
                ref = sm(flat, 1, log).reshape(xs)
            else:
                ax = -1 if axis is None else axis
                ref = sm(xd, ax, log)
            attrs = {} if axis is None else {"axis": axis}
            make_case(name, [helper.make_node(op, ["X"], ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                      opset=opset)


def gen_reduce():
    fns = {"ReduceMean": np.mean, "ReduceSum": np.sum, "ReduceMax": np.max}
    for op, fn in fns.items():
        for tag, axes, keep in (("axis1_keep", [1], 1), ("axes23_nokeep", [2, 3], 0), ("all_keep", None, 1),
                                ("all_nokeep", None, 0), ("neg_axis", [-1], 1), ("axes02_nokeep", [0, 2], 0)):
            name = f"{op.lower()}_{tag}"
            rng = rng_for(name)
            x = normal(rng, (2, 3, 4, 5))
            ax = None if axes is None else tuple(axes)
            ref = fn(d64(x), axis=ax, keepdims=bool(keep))
            attrs = {"keepdims": keep}
            opset = 13
            inits = {}
            ins = ["X"]
            if op == "ReduceSum":
                if axes is not None:
                    inits["axes"] = np.array(axes, np.int64)
                    ins.append("axes")
            elif axes is not None:
                attrs["axes"] = axes
            make_case(name, [helper.make_node(op, ins, ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                      inits=inits, opset=opset)
    name = "reducesum_opset11_attr"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("ReduceSum", ["X"], ["Y"], axes=[0, -1], keepdims=1)], [("X", x)],
              [("Y", f32(d64(x).sum(axis=(0, 2), keepdims=True)))], opset=11)
    name = "reducesum_empty_axes_noop"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("ReduceSum", ["X", "axes"], ["Y"], noop_with_empty_axes=1)], [("X", x)],
              [("Y", x)], inits={"axes": np.zeros((0,), np.int64)}, opset=13)
    name = "reducesum_empty_axes_all"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("ReduceSum", ["X", "axes"], ["Y"], keepdims=0)], [("X", x)],
              [("Y", f32(d64(x).sum()))], inits={"axes": np.zeros((0,), np.int64)}, opset=13)
    # large enough for the cpu backend's threaded loop (ShuffleNet's mean
    # over H, W), and a max over three trailing axes
    name = "reducemean_axes23_threaded"
    rng = rng_for(name)
    x = normal(rng, (1, 1030, 7, 7))
    make_case(name, [helper.make_node("ReduceMean", ["X"], ["Y"], axes=[2, 3], keepdims=0)], [("X", x)],
              [("Y", f32(d64(x).mean(axis=(2, 3))))], opset=13)
    name = "reducemax_axes123_threaded"
    rng = rng_for(name)
    x = normal(rng, (3, 5, 33, 40))
    make_case(name, [helper.make_node("ReduceMax", ["X"], ["Y"], axes=[1, 2, 3], keepdims=1)], [("X", x)],
              [("Y", f32(d64(x).max(axis=(1, 2, 3), keepdims=True)))], opset=13)
    name = "reducemean_opset7_default"
    rng = rng_for(name)
    x = normal(rng, (3, 4))
    make_case(name, [helper.make_node("ReduceMean", ["X"], ["Y"])], [("X", x)],
              [("Y", f32(d64(x).mean(keepdims=True)))], opset=7)


def gen_resize():
    def case(name, xs, opset, mode, coord=None, nearest=None, scales=None, sizes=None, a=None, excl=None,
             torch_ref=None, antialias=0, roi=None, extrap=None):
        rng = rng_for(name)
        x = normal(rng, xs)
        attrs = {"mode": mode}
        if coord:
            attrs["coordinate_transformation_mode"] = coord
        if nearest:
            attrs["nearest_mode"] = nearest
        if a is not None:
            attrs["cubic_coeff_a"] = a
        if excl:
            attrs["exclude_outside"] = excl
        if antialias:
            attrs["antialias"] = 1
        if extrap is not None:
            attrs["extrapolation_value"] = extrap
        inits = {}
        if scales is not None:
            sc = [float(np.float32(v)) for v in scales]
            out_shape = [int(np.floor(xs[i] * sc[i])) for i in range(len(xs))]
            inits["scales"] = np.array(scales, np.float32)
            if opset < 13:
                inits["roi"] = np.zeros((0,), np.float32)
                ins = ["X", "roi", "scales"]
            else:
                ins = ["X", "", "scales"]
        else:
            out_shape = list(sizes)
            sc = [sizes[i] / xs[i] for i in range(len(xs))]
            inits["sizes"] = np.array(sizes, np.int64)
            if opset < 13:
                inits["roi"] = np.zeros((0,), np.float32)
                inits["scales"] = np.zeros((0,), np.float32)
                ins = ["X", "roi", "scales", "sizes"]
            else:
                ins = ["X", "", "", "sizes"]
        if roi is not None:  # tf_crop_and_resize: roi as input 1 (starts, then ends)
            inits["roi"] = np.array([r[0] for r in roi] + [r[1] for r in roi], np.float32)
            ins[1] = "roi"
        ref = resize_np(x, out_shape, sc, mode, coord or "half_pixel", nearest or "round_prefer_floor",
                        -0.75 if a is None else a, excl or 0, antialias,
                        None if roi is None else [(float(np.float32(r0)), float(np.float32(r1))) for r0, r1 in roi],
                        0.0 if extrap is None else extrap)
        if torch_ref is not None:
            tmode, ac = torch_ref
            kw = {"size": out_shape[2:]} if sizes is not None or ac else {"scale_factor": scales[2:]}
            if tmode != "nearest":
                kw["align_corners"] = ac
            if antialias:
                kw["antialias"] = True
            tr = F.interpolate(t64(x), mode=tmode, **kw).numpy()
            same_close(ref, tr, name)
        # Debian's onnx (1.12) knows Resize up to opset 13: its checker refuses antialias
        make_case(name, [helper.make_node("Resize", ins, ["Y"], **attrs)], [("X", x)], [("Y", f32(ref))],
                  inits=inits, opset=opset, check=opset < 18)

    X4 = (1, 2, 4, 4)
    case("resize13_nearest_asym_floor_x2", X4, 13, "nearest", "asymmetric", "floor", scales=[1, 1, 2, 2],
         torch_ref=("nearest", None))
    case("resize11_nearest_asym_floor_x2", X4, 11, "nearest", "asymmetric", "floor", scales=[1, 1, 2, 2],
         torch_ref=("nearest", None))
    case("resize13_nearest_asym_floor_x3x2", (1, 1, 3, 4), 13, "nearest", "asymmetric", "floor",
         scales=[1, 1, 3, 2], torch_ref=("nearest", None))
    case("resize13_nearest_default_mode_x2", X4, 13, "nearest", scales=[1, 1, 2, 2])
    case("resize13_nearest_round_prefer_floor_down", (1, 2, 6, 8), 13, "nearest", "half_pixel",
         "round_prefer_floor", scales=[1, 1, 0.5, 0.5])
    case("resize13_nearest_round_prefer_ceil_down", (1, 2, 6, 8), 13, "nearest", "half_pixel",
         "round_prefer_ceil", scales=[1, 1, 0.5, 0.5])
    case("resize13_nearest_round_prefer_ceil_sizes", (1, 1, 5, 4), 13, "nearest", "half_pixel",
         "round_prefer_ceil", sizes=[1, 1, 8, 7])
    case("resize11_nearest_ceil_asym_sizes", (1, 1, 4, 4), 11, "nearest", "asymmetric", "ceil", sizes=[1, 1, 6, 6])
    # tf_half_pixel_for_nn: Resize-11's own mode, dropped in 13
    case("resize11_nearest_tf_half_pixel_for_nn", (1, 2, 5, 4), 11, "nearest", "tf_half_pixel_for_nn", "floor",
         scales=[1, 1, 1.6, 2.5])
    case("resize11_nearest_tf_half_pixel_for_nn_down", (1, 1, 7, 6), 11, "nearest", "tf_half_pixel_for_nn",
         sizes=[1, 1, 3, 4])
    case("resize13_nearest_align_corners", (1, 1, 3, 4), 13, "nearest", "align_corners", "round_prefer_floor",
         sizes=[1, 1, 6, 7])
    case("resize13_nearest_floor_sizes_asym", (1, 2, 5, 3), 13, "nearest", "asymmetric", "floor",
         sizes=[1, 2, 8, 7], torch_ref=("nearest", None))
    case("resize13_linear_half_pixel_x2", X4, 13, "linear", "half_pixel", scales=[1, 1, 2, 2],
         torch_ref=("bilinear", False))
    case("resize11_linear_half_pixel_x2", X4, 11, "linear", "half_pixel", scales=[1, 1, 2, 2],
         torch_ref=("bilinear", False))
    case("resize13_linear_pytorch_half_pixel_x2", X4, 13, "linear", "pytorch_half_pixel", scales=[1, 1, 2, 2],
         torch_ref=("bilinear", False))
    case("resize13_linear_pytorch_half_pixel_len1", X4, 13, "linear", "pytorch_half_pixel", sizes=[1, 2, 1, 6])
    case("resize13_linear_align_corners_sizes", (1, 2, 3, 4), 13, "linear", "align_corners", sizes=[1, 2, 7, 5],
         torch_ref=("bilinear", True))
    case("resize11_linear_align_corners", X4, 11, "linear", "align_corners", scales=[1, 1, 2, 2],
         torch_ref=("bilinear", True))
    case("resize13_linear_asymmetric_x2", X4, 13, "linear", "asymmetric", scales=[1, 1, 2, 2])
    case("resize13_linear_asymmetric_sizes", (1, 1, 3, 5), 13, "linear", "asymmetric", sizes=[1, 1, 5, 8])
    case("resize13_linear_half_pixel_down", (1, 2, 8, 8), 13, "linear", "half_pixel", scales=[1, 1, 0.5, 0.5],
         torch_ref=("bilinear", False))
    case("resize13_linear_half_pixel_sizes", (1, 2, 5, 3), 13, "linear", "half_pixel", sizes=[1, 2, 8, 7],
         torch_ref=("bilinear", False))
    case("resize13_linear_rank3_last_axis", (2, 3, 5), 13, "linear", "half_pixel", scales=[1, 1, 2.0])
    case("resize13_linear_w_only", (1, 2, 3, 4), 13, "linear", "half_pixel", scales=[1, 1, 1, 2.5])
    # H or W kept, downscales, align_corners both ways, and shapes that run threaded on the cpu
    # backend (more than 16384 outputs; few planes: split by rows)
    case("resize13_linear_h_only", (1, 2, 5, 6), 13, "linear", "half_pixel", scales=[1, 1, 2, 1],
         torch_ref=("bilinear", False))
    case("resize13_linear_h_only_threaded", (1, 4, 60, 70), 13, "linear", "half_pixel", scales=[1, 1, 1.5, 1],
         torch_ref=("bilinear", False))
    case("resize13_linear_align_corners_down", (1, 3, 9, 11), 13, "linear", "align_corners", sizes=[1, 3, 4, 6],
         torch_ref=("bilinear", True))
    case("resize13_linear_align_corners_mixed", (2, 3, 7, 9), 13, "linear", "align_corners", sizes=[2, 3, 12, 5],
         torch_ref=("bilinear", True))
    case("resize13_linear_half_pixel_down_5_8", (1, 2, 16, 16), 13, "linear", "half_pixel",
         scales=[1, 1, 0.625, 0.625], torch_ref=("bilinear", False))
    case("resize13_linear_half_pixel_x2_threaded", (1, 3, 40, 44), 13, "linear", "half_pixel", scales=[1, 1, 2, 2],
         torch_ref=("bilinear", False))
    case("resize13_linear_pytorch_half_pixel_down_threaded", (1, 1, 200, 160), 13, "linear", "pytorch_half_pixel",
         sizes=[1, 1, 125, 140], torch_ref=("bilinear", False))  # ratios exact in float32, as the engine keeps them
    case("resize13_nearest_h_only", (1, 2, 4, 5), 13, "nearest", "asymmetric", "floor", scales=[1, 1, 3, 1],
         torch_ref=("nearest", None))
    case("resize13_nearest_x2_threaded", (2, 4, 30, 30), 13, "nearest", "asymmetric", "floor", scales=[1, 1, 2, 2],
         torch_ref=("nearest", None))
    case("resize13_nearest_sizes_threaded", (1, 3, 50, 41), 13, "nearest", "half_pixel", "round_prefer_floor",
         sizes=[1, 3, 73, 97])
    case("resize13_nearest_ceil_align_corners_down", (1, 2, 9, 10), 13, "nearest", "align_corners", "ceil",
         sizes=[1, 2, 5, 4])
    case("resize13_nearest_channels_too", (1, 2, 3, 3), 13, "nearest", "asymmetric", "floor", scales=[1, 2, 2, 2])
    case("resize13_cubic_half_pixel_x2", X4, 13, "cubic", "half_pixel", scales=[1, 1, 2, 2], a=-0.75,
         torch_ref=("bicubic", False))
    case("resize13_cubic_align_corners_sizes", (1, 1, 4, 5), 13, "cubic", "align_corners", sizes=[1, 1, 7, 9],
         a=-0.75, torch_ref=("bicubic", True))
    case("resize11_cubic_default_a_half_pixel", (1, 1, 5, 5), 11, "cubic", scales=[1, 1, 2, 2])
    case("resize13_cubic_exclude_outside", (1, 1, 4, 4), 13, "cubic", "half_pixel", scales=[1, 1, 2, 2], a=-0.5,
         excl=1)
    case("resize13_cubic_asymmetric", (1, 1, 4, 4), 13, "cubic", "asymmetric", scales=[1, 1, 2, 2], a=-0.75)
    case("resize13_cubic_pytorch_half_pixel_sizes", (1, 2, 4, 4), 13, "cubic", "pytorch_half_pixel",
         sizes=[1, 2, 6, 7], a=-0.75, torch_ref=("bicubic", False))
    # antialias (18): torch's antialiased interpolation keeps only the taps inside the input
    # (exclude_outside=1) and uses a = -0.5 for bicubic; edge-clamped taps (exclude_outside=0)
    # against the numpy form of the spec only
    case("resize18_linear_antialias_down", (1, 2, 13, 17), 18, "linear", "half_pixel", sizes=[1, 2, 5, 4],
         excl=1, antialias=1, torch_ref=("bilinear", False))
    case("resize18_cubic_antialias_down", (1, 2, 12, 15), 18, "cubic", "half_pixel", sizes=[1, 2, 5, 6],
         a=-0.5, excl=1, antialias=1, torch_ref=("bicubic", False))
    case("resize18_linear_antialias_clamped", (1, 1, 9, 11), 18, "linear", "half_pixel", scales=[1, 1, 0.4, 0.3],
         antialias=1)
    case("resize18_cubic_antialias_clamped_up_w", (1, 1, 9, 5), 18, "cubic", "asymmetric", scales=[1, 1, 0.5, 1.6],
         antialias=1)  # the filter widens only where the dim shrinks
    # tf_crop_and_resize: roi per axis, positions outside the input take extrapolation_value
    case("resize13_tf_crop_and_resize_linear", (1, 2, 6, 7), 13, "linear", "tf_crop_and_resize",
         sizes=[1, 2, 4, 5], roi=[(0, 1), (0, 1), (0.2, 0.7), (0.1, 0.9)])
    case("resize13_tf_crop_and_resize_extrapolate", (1, 1, 5, 6), 13, "linear", "tf_crop_and_resize",
         sizes=[1, 1, 4, 4], roi=[(0, 1), (0, 1), (-0.3, 0.8), (0.4, 1.5)], extrap=-2.5)
    case("resize13_tf_crop_and_resize_nearest_len1", (1, 1, 5, 6), 13, "nearest", "tf_crop_and_resize",
         sizes=[1, 1, 1, 3], roi=[(0, 1), (0, 1), (0.25, 0.75), (0, 1)])

    # Upsample (opset 9: scales input; opset 7: scales attribute); asymmetric coordinates
    for name, opset, mode, xs, scales in (("upsample9_nearest", 9, "nearest", (1, 2, 3, 4), [1, 1, 2, 3]),
                                          ("upsample7_nearest_attr", 7, "nearest", (1, 1, 3, 3), [1, 1, 2, 2]),
                                          ("upsample9_linear", 9, "linear", (1, 2, 3, 3), [1, 1, 2, 2])):
        rng = rng_for(name)
        x = normal(rng, xs)
        out_shape = [int(xs[i] * scales[i]) for i in range(4)]
        ref = resize_np(x, out_shape, scales, mode, "asymmetric", "floor")
        if opset >= 9:
            node = helper.make_node("Upsample", ["X", "scales"], ["Y"], mode=mode)
            inits = {"scales": np.array(scales, np.float32)}
        else:
            node = helper.make_node("Upsample", ["X"], ["Y"], mode=mode, scales=[float(v) for v in scales])
            inits = {}
        make_case(name, [node], [("X", x)], [("Y", f32(ref))], inits=inits, opset=opset)


def gen_opset_forms():
    """The forms of opsets 1-6 (and the other old attribute forms) that no
    node test covers: legacy broadcasting, consumed_inputs, is_test,
    attribute shapes, Cast-1's type names, Tile-1, Upsample-1; and Pad-19's
    wrap mode (onnx 1.12's checker predates opset 19: built unchecked)."""
    for name, xs, pads in (("pad_opset19_wrap", (1, 2, 3, 4), [0, 0, 1, 2, 0, 0, 2, 1]),
                           ("pad_opset19_wrap_full", (3, 4), [3, 0, 1, 4])):  # pads up to the size
        rng = rng_for(name)
        x = normal(rng, xs)
        r = len(xs)
        ref = np.pad(x, [(pads[d], pads[r + d]) for d in range(r)], mode="wrap")
        make_case(name, [helper.make_node("Pad", ["X", "p"], ["Y"], mode="wrap")], [("X", x)], [("Y", ref)],
                  inits={"p": np.array(pads, np.int64)}, opset=19, check=False)
    # Add/Sub/Mul/Div/Pow/Equal before opset 7: broadcast=1 aligns B at axis
    for name, op, opset, bshape, axis, fn in (
            ("add_opset6_broadcast_axis1", "Add", 6, (3, 4), 1, np.add),
            ("mul_opset6_broadcast_axis0", "Mul", 6, (2,), 0, np.multiply),
            ("sub_opset1_broadcast_suffix", "Sub", 1, (4, 5), None, np.subtract),
            ("div_opset6_broadcast_scalar", "Div", 6, (), None, np.divide),
            ("pow_opset1_broadcast_axis2", "Pow", 1, (4,), 2, np.power)):
        rng = rng_for(name)
        a = uniform(rng, (2, 3, 4, 5), 0.5, 2.0)
        b = uniform(rng, bshape, 0.5, 2.0)
        ax = 4 - len(bshape) if axis is None else axis
        bb = d64(b).reshape(bshape + (1,) * (4 - ax - len(bshape)))
        attrs = {"broadcast": 1}
        if axis is not None:
            attrs["axis"] = axis
        if opset == 1 and op != "Pow":
            attrs["consumed_inputs"] = [0, 0]
        make_case(name, [helper.make_node(op, ["A", "B"], ["C"], **attrs)], [("A", a)],
                  [("C", f32(fn(d64(a), bb)))], inits={"B": b}, opset=opset)
    name = "mul_opset6_shared_b_two_axes"  # one constant B aligned two ways: each node gets its own copy
    rng = rng_for(name)
    a1, a2, b = normal(rng, (2, 3, 4)), normal(rng, (3, 5)), normal(rng, (3,))
    make_case(name, [helper.make_node("Mul", ["A1", "B"], ["C1"], broadcast=1, axis=1),
                     helper.make_node("Mul", ["A2", "B"], ["C2"], broadcast=1, axis=0)], [("A1", a1), ("A2", a2)],
              [("C1", f32(d64(a1) * d64(b)[:, None])), ("C2", f32(d64(a2) * d64(b)[:, None]))], inits={"B": b},
              opset=6)
    name = "add_opset6_same_shape_inputs"
    rng = rng_for(name)
    a, b = normal(rng, (3, 4)), normal(rng, (3, 4))
    make_case(name, [helper.make_node("Add", ["A", "B"], ["C"])], [("A", a), ("B", b)],
              [("C", f32(d64(a) + d64(b)))], opset=6)
    name = "equal_opset1_broadcast_axis1"
    rng = rng_for(name)
    a = rng.integers(0, 3, (2, 3, 4)).astype(np.int64)
    b = rng.integers(0, 3, (3,)).astype(np.int64)
    make_case(name, [helper.make_node("Equal", ["A", "B"], ["C"], broadcast=1, axis=1)], [("A", a)],
              [("C", np.equal(a, b[:, None]))], inits={"B": b}, opset=1)

    # consumed_inputs (opset 1) is ignored
    name = "relu_opset1_consumed_inputs"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("Relu", ["X"], ["Y"], consumed_inputs=[0])], [("X", x)],
              [("Y", f32(np.maximum(d64(x), 0)))], opset=1)
    name = "clip_opset1_attrs"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4), 2.0)
    make_case(name, [helper.make_node("Clip", ["X"], ["Y"], min=-0.5, max=1.0, consumed_inputs=[0])], [("X", x)],
              [("Y", f32(np.clip(d64(x), -0.5, 1.0)))], opset=1)
    name = "leakyrelu_opset1"
    rng = rng_for(name)
    x = normal(rng, (2, 5))
    make_case(name, [helper.make_node("LeakyRelu", ["X"], ["Y"], alpha=0.2, consumed_inputs=[0])], [("X", x)],
              [("Y", f32(np.where(x >= 0, d64(x), 0.2 * d64(x))))], opset=1)

    # BatchNormalization: opset 1 (consumed_inputs, is_test), 6 (is_test), 7 spatial=0 on rank 2
    for name, opset, xs, attrs in (
            ("batchnorm_opset1_is_test", 1, (2, 3, 4, 4), {"is_test": 1, "consumed_inputs": [0, 0, 0, 1, 1]}),
            ("batchnorm_opset6_is_test", 6, (2, 3, 5), {"is_test": 1, "epsilon": 1e-3, "momentum": 0.8}),
            ("batchnorm_opset7_spatial0_rank2", 7, (4, 3), {"spatial": 0})):
        rng = rng_for(name)
        x = normal(rng, xs)
        c = xs[1]
        sc, bi, mu = normal(rng, (c,)), normal(rng, (c,)), normal(rng, (c,))
        var = uniform(rng, (c,), 0.5, 2.0)
        eps = attrs.get("epsilon", 1e-5)
        sh = (1, c) + (1,) * (len(xs) - 2)
        ref = (d64(x) - d64(mu).reshape(sh)) / np.sqrt(d64(var).reshape(sh) + eps) * d64(sc).reshape(sh) \
            + d64(bi).reshape(sh)
        make_case(name, [helper.make_node("BatchNormalization", ["X", "s", "b", "m", "v"], ["Y"], **attrs)],
                  [("X", x)], [("Y", f32(ref))], inits={"s": sc, "b": bi, "m": mu, "v": var}, opset=opset)
    name = "instancenorm_opset1_consumed_inputs"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4, 5))
    sc, bi = normal(rng, (3,)), normal(rng, (3,))
    mean = d64(x).mean(axis=(2, 3), keepdims=True)
    var = d64(x).var(axis=(2, 3), keepdims=True)
    ref = (d64(x) - mean) / np.sqrt(var + 1e-5) * d64(sc).reshape(1, 3, 1, 1) + d64(bi).reshape(1, 3, 1, 1)
    make_case(name, [helper.make_node("InstanceNormalization", ["X", "s", "b"], ["Y"], consumed_inputs=[0, 0, 0])],
              [("X", x)], [("Y", f32(ref))], inits={"s": sc, "b": bi}, opset=1)

    # Dropout with is_test=1 (opsets 1 and 6): the identity
    name = "dropout_opset6_is_test"
    rng = rng_for(name)
    x = normal(rng, (3, 4))
    make_case(name, [helper.make_node("Dropout", ["X"], ["Y"], is_test=1, ratio=0.4)], [("X", x)], [("Y", x)],
              opset=6)
    name = "dropout_opset7_unread_mask"  # the mask of opsets 1-9 has the data's type
    rng = rng_for(name)
    x = normal(rng, (2, 5))
    make_case(name, [helper.make_node("Dropout", ["X"], ["T", "M"]), helper.make_node("Relu", ["T"], ["Y"])],
              [("X", x)], [("Y", np.maximum(x, 0))], opset=7)

    # Reshape-1 (shape attribute), Concat-1 (axis 1 by default), Split-2 (attribute)
    name = "reshape_opset1_shape_attr"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("Reshape", ["X"], ["Y"], shape=[0, -1])], [("X", x)],
              [("Y", x.reshape(2, 12))], opset=1)
    name = "concat_opset1_default_axis"
    rng = rng_for(name)
    a, b = normal(rng, (2, 3, 2)), normal(rng, (2, 1, 2))
    make_case(name, [helper.make_node("Concat", ["A", "B"], ["C"])], [("A", a), ("B", b)],
              [("C", np.concatenate([a, b], axis=1))], opset=1, check=False)
    name = "split_opset2_attr"
    rng = rng_for(name)
    x = normal(rng, (2, 6))
    make_case(name, [helper.make_node("Split", ["X"], ["Y0", "Y1"], axis=1, split=[2, 4])], [("X", x)],
              [("Y0", x[:, :2]), ("Y1", x[:, 2:])], opset=2)
    name = "squeeze_unsqueeze_opset1_attr"
    rng = rng_for(name)
    x = normal(rng, (2, 1, 3))
    make_case(name, [helper.make_node("Squeeze", ["X"], ["T"], axes=[1]),
                     helper.make_node("Unsqueeze", ["T"], ["Y"], axes=[0])], [("X", x)],
              [("Y", x.reshape(1, 2, 3))], opset=1)
    name = "reducemean_opset1_axes_attr"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("ReduceMean", ["X"], ["Y"], axes=[2], keepdims=0)], [("X", x)],
              [("Y", f32(d64(x).mean(axis=2)))], opset=1)
    name = "softmax_opset1_axis1_rank3"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    x2 = d64(x).reshape(2, 12)
    e = np.exp(x2 - x2.max(axis=1, keepdims=True))
    make_case(name, [helper.make_node("Softmax", ["X"], ["Y"])], [("X", x)],
              [("Y", f32((e / e.sum(axis=1, keepdims=True)).reshape(2, 3, 4)))], opset=1)

    # Pad-1 (paddings) and Pad-2 (pads) attributes
    name = "pad_opset1_paddings"
    rng = rng_for(name)
    x = normal(rng, (2, 3))
    make_case(name, [helper.make_node("Pad", ["X"], ["Y"], paddings=[0, 1, 1, 2], value=1.5)], [("X", x)],
              [("Y", np.pad(x, ((0, 1), (1, 2)), constant_values=1.5))], opset=1)
    name = "pad_opset2_reflect"
    rng = rng_for(name)
    x = normal(rng, (1, 2, 4, 4))
    make_case(name, [helper.make_node("Pad", ["X"], ["Y"], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="reflect")],
              [("X", x)], [("Y", np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1)), mode="reflect"))], opset=2)

    # Cast-1: the type by name
    name = "cast_opset1_to_string"
    rng = rng_for(name)
    x = rng.integers(-5, 5, (3, 4)).astype(np.int64)
    make_case(name, [helper.make_node("Cast", ["X"], ["Y"], to="FLOAT")], [("X", x)],
              [("Y", x.astype(np.float32))], opset=1, check=False)

    # Tile-1: tiles copies along axis (two scalar inputs)
    name = "tile_opset1_tiles_axis"
    rng = rng_for(name)
    x = normal(rng, (2, 3))
    make_case(name, [helper.make_node("Tile", ["X", "t", "a"], ["Y"])], [("X", x)], [("Y", np.tile(x, (1, 3)))],
              inits={"t": np.array(3, np.int64), "a": np.array(1, np.int64)}, opset=1, check=False)

    # Upsample-1: height_scale/width_scale; Gemm-6 with broadcast; MaxPool-1
    name = "upsample_opset1_nearest"
    rng = rng_for(name)
    x = normal(rng, (1, 2, 3, 3))
    make_case(name, [helper.make_node("Upsample", ["X"], ["Y"], height_scale=2.0, width_scale=3.0)], [("X", x)],
              [("Y", x.repeat(2, axis=2).repeat(3, axis=3))], opset=1, check=False)
    name = "gemm_opset6_broadcast_c"
    rng = rng_for(name)
    a, b, c = normal(rng, (3, 4)), normal(rng, (4, 5)), normal(rng, (5,))
    make_case(name, [helper.make_node("Gemm", ["A", "B", "C"], ["Y"], broadcast=1, alpha=0.5)], [("A", a)],
              [("Y", f32(0.5 * d64(a) @ d64(b) + d64(c)))], inits={"B": b, "C": c}, opset=6)
    name = "maxpool_opset1"
    rng = rng_for(name)
    x = normal(rng, (1, 2, 4, 4))
    make_case(name, [helper.make_node("MaxPool", ["X"], ["Y"], kernel_shape=[2, 2], strides=[2, 2])], [("X", x)],
              [("Y", x.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5)))], opset=1)


def gen_tensor():
    # Concat
    for name, shapes, axis, const in (("concat_axis1", [(2, 3, 4), (2, 1, 4), (2, 2, 4)], 1, False),
                                      ("concat_neg_axis", [(2, 3), (2, 5)], -1, False),
                                      ("concat_axis0_const", [(1, 3, 2), (2, 3, 2)], 0, True),
                                      ("concat_4d_channels", [(1, 2, 3, 3), (1, 3, 3, 3)], -3, False)):
        rng = rng_for(name)
        arrs = [normal(rng, s) for s in shapes]
        names = [f"X{i}" for i in range(len(arrs))]
        inputs = list(zip(names, arrs))
        inits = {}
        if const:
            inits[names[-1]] = arrs[-1]
            inputs = inputs[:-1]
        make_case(name, [helper.make_node("Concat", names, ["Y"], axis=axis)], inputs,
                  [("Y", np.concatenate(arrs, axis=axis))], inits=inits, opset=13 if not const else 7)

    # Split
    def split_case(name, xs, axis, split, opset, n=None):
        rng = rng_for(name)
        x = normal(rng, xs)
        n_out = len(split) if split else n
        outs = [f"Y{i}" for i in range(n_out)]
        if split:
            parts = np.split(x, np.cumsum(split)[:-1], axis=axis or 0)
        else:
            parts = np.split(x, n_out, axis=axis or 0)
        attrs = {} if axis is None else {"axis": axis}
        inits = {}
        ins = ["X"]
        if split and opset < 13:
            attrs["split"] = split
        elif split:
            inits["split"] = np.array(split, np.int64)
            ins.append("split")
        make_case(name, [helper.make_node("Split", ins, outs, **attrs)], [("X", x)], list(zip(outs, parts)),
                  inits=inits, opset=opset)

    split_case("split_opset11_attr", (2, 6, 3), 1, [2, 3, 1], 11)
    split_case("split_opset11_equal_default_axis", (4, 3), None, None, 11, n=2)
    split_case("split_opset13_input", (2, 3, 7), -1, [4, 1, 2], 13)
    split_case("split_opset13_equal", (2, 3, 6), 2, None, 13, n=3)
    split_case("split_opset7_attr", (6, 2), 0, [1, 5], 7)

    # Slice
    def slice_ref(x, starts, ends, axes, steps):
        idx = [slice(None)] * x.ndim
        axes = axes if axes is not None else list(range(len(starts)))
        steps = steps if steps is not None else [1] * len(starts)
        for s, e, a, st in zip(starts, ends, axes, steps):
            a = a % x.ndim
            dim = x.shape[a]
            if s < 0:
                s += dim
            if e < 0:
                e += dim
            if st > 0:
                s, e = min(max(s, 0), dim), min(max(e, 0), dim)
            else:
                s, e = min(max(s, 0), dim - 1), min(max(e, -1), dim - 1)
            idx[a] = np.array(list(range(s, e, st)), dtype=np.int64)
        y = x
        for a in range(x.ndim):
            if not isinstance(idx[a], slice):
                y = np.take(y, idx[a], axis=a)
        return y

    for name, xs, starts, ends, axes, steps, opset in (
            ("slice_opset9_attr", (3, 4, 5), [0, 1], [2, 3], [0, 2], None, 9),
            ("slice_opset9_no_axes", (4, 5), [1, 0], [3, -1], None, None, 9),
            ("slice_opset7_clamp", (4, 5), [-10, 2], [100, 1000], [0, 1], None, 7),
            ("slice_opset13_axes_steps", (3, 6, 5), [0, 1], [3, 6], [1, 2], [2, 2], 13),
            ("slice_opset13_neg_step_reverse", (3, 5), [-1], [INT64_MIN], [1], [-1], 13),
            ("slice_opset13_neg_step2", (2, 7, 3), [5, 2], [0, -10], [1, 2], [-2, -1], 13),
            ("slice_opset13_clamp", (3, 4), [-100, 1], [100, INT64_MAX], [0, 1], None, 13),
            ("slice_opset13_neg_axes", (2, 3, 6), [1], [-1], [-1], None, 13),
            ("slice_opset13_no_axes", (4, 4), [1, -3], [4, -1], None, None, 11),
            ("slice_opset13_step3", (2, 10), [1], [INT64_MAX], [1], [3], 13),
            ("slice_opset13_empty_like_single", (3, 4), [2, 3], [3, 4], [0, 1], [1, 1], 13)):
        rng = rng_for(name)
        x = normal(rng, xs)
        ref = slice_ref(x, starts, ends, axes, steps)
        if opset < 10:
            attrs = {"starts": starts, "ends": ends}
            if axes is not None:
                attrs["axes"] = axes
            node = helper.make_node("Slice", ["X"], ["Y"], **attrs)
            inits = {}
        else:
            inits = {"starts": np.array(starts, np.int64), "ends": np.array(ends, np.int64)}
            ins = ["X", "starts", "ends"]
            if axes is not None:
                inits["axes"] = np.array(axes, np.int64)
                ins.append("axes")
            if steps is not None:
                if axes is None:
                    ins.append("")
                inits["steps"] = np.array(steps, np.int64)
                ins.append("steps")
            node = helper.make_node("Slice", ins, ["Y"])
        make_case(name, [node], [("X", x)], [("Y", ref)], inits=inits, opset=opset)

    # Reshape
    for name, xs, shape, opset in (("reshape_zero_neg1", (2, 3, 4), [0, -1], 13),
                                   ("reshape_neg1_first", (2, 3, 4), [-1, 4], 7),
                                   ("reshape_zero_mid", (2, 3, 4), [2, 0, 2, 2], 13),
                                   ("reshape_flatten_all", (2, 3, 4), [-1], 14),
                                   ("reshape_add_dims", (6,), [1, 2, 1, 3], 13)):
        rng = rng_for(name)
        x = normal(rng, xs)
        tgt = [xs[i] if v == 0 else v for i, v in enumerate(shape)]
        make_case(name, [helper.make_node("Reshape", ["X", "shape"], ["Y"])], [("X", x)],
                  [("Y", x.reshape(tgt))], inits={"shape": np.array(shape, np.int64)}, opset=opset)

    # Flatten
    for axis, opset in ((0, 13), (1, 13), (2, 11), (-1, 13), (None, 9), (4, 13)):
        name = f"flatten_axis{'default' if axis is None else axis}".replace("-", "neg")
        rng = rng_for(name)
        x = normal(rng, (2, 3, 4, 5))
        a = 1 if axis is None else axis % 4 if axis < 0 else axis
        ref = x.reshape(int(np.prod(x.shape[:a])), -1)
        attrs = {} if axis is None else {"axis": axis}
        make_case(name, [helper.make_node("Flatten", ["X"], ["Y"], **attrs)], [("X", x)], [("Y", ref)], opset=opset)

    # Transpose
    for name, xs, perm in (("transpose_default", (2, 3, 4), None), ("transpose_nchw_nhwc", (1, 2, 3, 4), [0, 2, 3, 1]),
                           ("transpose_2d", (3, 5), [1, 0]), ("transpose_rank5", (2, 1, 3, 2, 2), [4, 0, 3, 1, 2])):
        rng = rng_for(name)
        x = normal(rng, xs)
        attrs = {} if perm is None else {"perm": perm}
        make_case(name, [helper.make_node("Transpose", ["X"], ["Y"], **attrs)], [("X", x)],
                  [("Y", np.transpose(x, perm))], opset=13)

    # Squeeze / Unsqueeze
    for name, xs, axes, opset in (("squeeze_opset11_attr", (2, 1, 3, 1), [1], 11),
                                  ("squeeze_opset11_neg", (2, 1, 3, 1), [-1, 1], 11),
                                  ("squeeze_opset11_all", (1, 3, 1, 2), None, 11),
                                  ("squeeze_opset13_input", (1, 3, 1, 2), [0, 2], 13),
                                  ("squeeze_opset13_all", (1, 4, 1), None, 13)):
        rng = rng_for(name)
        x = normal(rng, xs)
        ref = np.squeeze(x, axis=None if axes is None else tuple(axes))
        inits = {}
        if axes is not None and opset >= 13:
            node = helper.make_node("Squeeze", ["X", "axes"], ["Y"])
            inits["axes"] = np.array(axes, np.int64)
        elif axes is not None:
            node = helper.make_node("Squeeze", ["X"], ["Y"], axes=axes)
        else:
            node = helper.make_node("Squeeze", ["X"], ["Y"])
        make_case(name, [node], [("X", x)], [("Y", ref)], inits=inits, opset=opset)
    for name, xs, axes, opset in (("unsqueeze_opset11_attr", (2, 3), [0, 3], 11),
                                  ("unsqueeze_opset11_neg", (2, 3), [-1], 11),
                                  ("unsqueeze_opset13_input", (2, 3, 4), [-1, 1], 13),
                                  ("unsqueeze_opset13_unsorted", (3, 2), [3, 0], 13),
                                  ("unsqueeze_opset7_attr", (4,), [1], 7)):
        rng = rng_for(name)
        x = normal(rng, xs)
        ref = np.expand_dims(x, tuple(axes))
        inits = {}
        if opset >= 13:
            node = helper.make_node("Unsqueeze", ["X", "axes"], ["Y"])
            inits["axes"] = np.array(axes, np.int64)
        else:
            node = helper.make_node("Unsqueeze", ["X"], ["Y"], axes=axes)
        make_case(name, [node], [("X", x)], [("Y", ref)], inits=inits, opset=opset)

    # Gather
    for name, xs, idx, axis, as_input in (("gather_axis0", (5, 4), [2, 0, 4], 0, False),
                                          ("gather_axis1_2d_idx", (3, 5, 2), [[0, 2], [1, -1]], 1, False),
                                          ("gather_negative_indices", (6, 3), [-1, -6, 2], 0, False),
                                          ("gather_scalar_index_axis1", (2, 4, 3), 3, 1, False),
                                          ("gather_scalar_index_axis0", (4, 3), -2, 0, False),
                                          ("gather_indices_input", (5, 3), [[4, 1], [0, 0]], 0, True),
                                          ("gather_neg_axis", (2, 3, 4), [3, 1], -1, False)):
        rng = rng_for(name)
        x = normal(rng, xs)
        ind = np.array(idx, np.int64)
        ref = np.take(x, ind, axis=axis)
        attrs = {} if axis == 0 else {"axis": axis}
        make_case(name, [helper.make_node("Gather", ["X", "I"], ["Y"], **attrs)],
                  [("X", x)] + ([("I", ind)] if as_input else []), [("Y", ref)],
                  inits=None if as_input else {"I": ind}, opset=13 if axis >= 0 else 11)
    name = "gather_int64_data"
    rng = rng_for(name)
    x = rng.integers(-100, 100, (4, 3)).astype(np.int64)
    make_case(name, [helper.make_node("Gather", ["X", "I"], ["Y"], axis=1)], [("X", x)],
              [("Y", np.take(x, np.array([2, 0], np.int64), axis=1))], inits={"I": np.array([2, 0], np.int64)},
              opset=13)

    # Shape (int64 outputs) and shape subgraphs
    for name, xs, start, end, opset in (("shape_opset13", (2, 3, 4), None, None, 13),
                                        ("shape_opset15_start_end", (2, 3, 4, 5), 1, -1, 15),
                                        ("shape_opset15_start_neg", (2, 3, 4, 5), -2, None, 15),
                                        ("shape_opset15_end_clamp", (2, 3, 4), None, 10, 15)):
        rng = rng_for(name)
        x = normal(rng, xs)
        attrs = {}
        if start is not None:
            attrs["start"] = start
        if end is not None:
            attrs["end"] = end
        r = len(xs)
        s = 0 if start is None else start
        e = r if end is None else end
        s = min(max(s + r if s < 0 else s, 0), r)
        e = min(max(e + r if e < 0 else e, 0), r)
        make_case(name, [helper.make_node("Shape", ["X"], ["Y"], **attrs)], [("X", x)],
                  [("Y", np.array(xs[s:e], np.int64))], opset=opset)
    name = "shape_reshape_like"
    rng = rng_for(name)
    x, y = normal(rng, (2, 3, 4)), normal(rng, (6, 4))
    make_case(name, [helper.make_node("Shape", ["X"], ["s"]), helper.make_node("Reshape", ["Y", "s"], ["Z"])],
              [("X", x), ("Y", y)], [("Z", y.reshape(2, 3, 4))], opset=13)
    name = "shape_gather_concat_reshape"  # the flatten pattern of PyTorch exports
    rng = rng_for(name)
    x = normal(rng, (2, 3, 2, 2))
    nodes = [helper.make_node("Shape", ["X"], ["s"]),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
             helper.make_node("Concat", ["n1", "m1"], ["shp"], axis=0),
             helper.make_node("Reshape", ["X", "shp"], ["Y"])]
    make_case(name, nodes, [("X", x)], [("Y", x.reshape(2, -1))],
              inits={"i0": np.array(0, np.int64), "ax0": np.array([0], np.int64), "m1": np.array([-1], np.int64)},
              opset=13)

    # Constant, ConstantOfShape
    name = "constant_tensor_add"
    rng = rng_for(name)
    x = normal(rng, (2, 3))
    cv = normal(rng, (2, 3))
    make_case(name, [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(cv)),
                     helper.make_node("Add", ["X", "c"], ["Y"])], [("X", x)], [("Y", f32(d64(x) + d64(cv)))], opset=11)
    name = "constant_value_float_mul"
    rng = rng_for(name)
    x = normal(rng, (3, 2))
    make_case(name, [helper.make_node("Constant", [], ["c"], value_float=2.5),
                     helper.make_node("Mul", ["X", "c"], ["Y"])], [("X", x)], [("Y", f32(d64(x) * 2.5))], opset=13)
    name = "constant_value_ints_reshape"
    rng = rng_for(name)
    x = normal(rng, (2, 6))
    make_case(name, [helper.make_node("Constant", [], ["c"], value_ints=[3, -1]),
                     helper.make_node("Reshape", ["X", "c"], ["Y"])], [("X", x)], [("Y", x.reshape(3, 4))], opset=13)
    name = "constantofshape_float_add"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("ConstantOfShape", ["shp"], ["c"],
                                      value=numpy_helper.from_array(np.array([1.25], np.float32))),
                     helper.make_node("Add", ["X", "c"], ["Y"])], [("X", x)],
              [("Y", f32(d64(x) + 1.25))], inits={"shp": np.array([3, 1], np.int64)}, opset=9)
    name = "constantofshape_default_zero_add"
    rng = rng_for(name)
    x = normal(rng, (2, 3))
    make_case(name, [helper.make_node("ConstantOfShape", ["shp"], ["c"]),
                     helper.make_node("Add", ["X", "c"], ["Y"])], [("X", x)],
              [("Y", x)], inits={"shp": np.array([2, 3], np.int64)}, opset=9)
    name = "constantofshape_int64_from_shape"
    rng = rng_for(name)
    x = normal(rng, (2, 3, 4))
    make_case(name, [helper.make_node("Shape", ["X"], ["s"]),
                     helper.make_node("ConstantOfShape", ["s"], ["Y"],
                                      value=numpy_helper.from_array(np.array([7], np.int64)))],
              [("X", x)], [("Y", np.full((2, 3, 4), 7, np.int64))], opset=13)

    # Pad
    def pad_ref(x, pads, mode, value=0.0):
        r = x.ndim
        pb, pe = pads[:r], pads[r:]
        y = d64(x)
        sl = tuple(slice(max(0, -pb[i]), y.shape[i] - max(0, -pe[i])) for i in range(r))
        y = y[sl]
        pw = [(max(0, pb[i]), max(0, pe[i])) for i in range(r)]
        if mode == "constant":
            return np.pad(y, pw, mode="constant", constant_values=value)
        return np.pad(y, pw, mode="reflect" if mode == "reflect" else "edge")

    for name, xs, pads, mode, value, opset in (
            ("pad11_constant_value", (1, 2, 3, 3), [0, 0, 1, 2, 0, 0, 2, 1], "constant", 1.5, 11),
            ("pad11_constant_default", (2, 3), [1, 0, 0, 2], "constant", None, 11),
            ("pad11_reflect", (1, 2, 4, 5), [0, 0, 2, 1, 0, 0, 1, 3], "reflect", None, 11),
            ("pad11_edge", (1, 2, 3, 4), [0, 0, 2, 1, 0, 0, 1, 3], "edge", None, 11),
            ("pad13_negative_crop", (2, 5, 6), [0, -1, 2, 0, 1, -2], "constant", -0.5, 13),
            ("pad11_reflect_rank3", (2, 3, 5), [0, 0, 2, 0, 0, 4], "reflect", None, 11),
            ("pad7_attr_constant", (2, 3, 3), [0, 1, 1, 0, 2, 0], "constant", 2.0, 7),
            ("pad10_attr_reflect", (1, 1, 4, 4), [0, 0, 1, 2, 0, 0, 2, 1], "reflect", None, 10),
            ("pad7_attr_edge", (3, 4), [1, 2, 2, 1], "edge", None, 7)):
        rng = rng_for(name)
        x = normal(rng, xs)
        ref = pad_ref(x, pads, mode, 0.0 if value is None else value)
        inits = {}
        if opset < 11:
            attrs = {"pads": pads}
            if mode != "constant":
                attrs["mode"] = mode
            if value is not None:
                attrs["value"] = value
            node = helper.make_node("Pad", ["X"], ["Y"], **attrs)
        else:
            ins = ["X", "pads"]
            inits["pads"] = np.array(pads, np.int64)
            if value is not None:
                inits["cv"] = np.array(value, np.float32)
                ins.append("cv")
            node = helper.make_node("Pad", ins, ["Y"], **({} if mode == "constant" else {"mode": mode}))
        make_case(name, [node], [("X", x)], [("Y", f32(ref))], inits=inits, opset=opset)

    # Cast
    name = "cast_float_to_int64"
    rng = rng_for(name)
    x = normal(rng, (3, 4), 10.0)
    make_case(name, [helper.make_node("Cast", ["X"], ["Y"], to=TensorProto.INT64)], [("X", x)],
              [("Y", np.trunc(d64(x)).astype(np.int64))], opset=13)
    name = "cast_int64_to_float"
    rng = rng_for(name)
    x = rng.integers(-1000, 1000, (2, 5)).astype(np.int64)
    make_case(name, [helper.make_node("Cast", ["X"], ["Y"], to=TensorProto.FLOAT)], [("X", x)],
              [("Y", x.astype(np.float32))], opset=13)
    name = "cast_float_to_bool"
    rng = rng_for(name)
    x = (rng.integers(-1, 2, (3, 4)) * rng.uniform(0.5, 2, (3, 4))).astype(np.float32)
    make_case(name, [helper.make_node("Cast", ["X"], ["Y"], to=TensorProto.BOOL)], [("X", x)],
              [("Y", x != 0)], opset=13)
    name = "cast_bool_to_float"
    rng = rng_for(name)
    x = rng.integers(0, 2, (2, 3, 2)).astype(np.bool_)
    x[0, 0, 0] = True
    make_case(name, [helper.make_node("Cast", ["X"], ["Y"], to=TensorProto.FLOAT)], [("X", x)],
              [("Y", x.astype(np.float32))], opset=9)
    name = "cast_float_to_float"
    rng = rng_for(name)
    x = normal(rng, (2, 3))
    make_case(name, [helper.make_node("Cast", ["X"], ["Y"], to=TensorProto.FLOAT)], [("X", x)], [("Y", x)], opset=7)

    # Expand
    for name, xs, shape in (("expand_col_to_3d", (3, 1), [2, 3, 4]), ("expand_bidirectional", (1, 4), [3, 1]),
                            ("expand_smaller_shape", (2, 3, 1), [4]), ("expand_ones", (2, 1, 3), [1, 4, 1]),
                            ("expand_scalar", (), [2, 3])):
        rng = rng_for(name)
        x = normal(rng, xs)
        ref = x * np.ones(shape, np.float32)
        make_case(name, [helper.make_node("Expand", ["X", "shape"], ["Y"])], [("X", x)], [("Y", ref)],
                  inits={"shape": np.array(shape, np.int64)}, opset=13 if xs else 8)

    # Tile
    for name, xs, reps in (("tile_3d", (2, 3, 4), [1, 2, 3]), ("tile_2d", (3, 4), [2, 1]), ("tile_4d", (1, 2, 2, 2), [2, 1, 2, 1])):
        rng = rng_for(name)
        x = normal(rng, xs)
        make_case(name, [helper.make_node("Tile", ["X", "r"], ["Y"])], [("X", x)], [("Y", np.tile(x, reps))],
                  inits={"r": np.array(reps, np.int64)}, opset=13)

    # DepthToSpace / SpaceToDepth
    def d2s(x, bs, mode):
        b, c, h, w = x.shape
        if mode == "DCR":
            t = x.reshape(b, bs, bs, c // (bs * bs), h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            t = x.reshape(b, c // (bs * bs), bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
        return t.reshape(b, c // (bs * bs), h * bs, w * bs)

    for name, xs, bs, mode, opset in (("depthtospace_dcr", (1, 8, 2, 3), 2, "DCR", 13),
                                      ("depthtospace_crd", (1, 8, 2, 3), 2, "CRD", 13),
                                      ("depthtospace_default_bs3", (2, 9, 2, 2), 3, None, 11),
                                      ("depthtospace_opset7", (1, 4, 2, 2), 2, None, 7)):
        rng = rng_for(name)
        x = normal(rng, xs)
        attrs = {"blocksize": bs}
        if mode:
            attrs["mode"] = mode
        ref = d2s(x, bs, mode or "DCR")
        if mode is None or mode == "DCR":
            # cross-check DCR against torch.pixel_shuffle after a channel permutation
            b, c, h, w = xs
            perm = x.reshape(b, bs * bs, c // (bs * bs), h, w).transpose(0, 2, 1, 3, 4).reshape(xs)
            same_close(ref, F.pixel_shuffle(t64(perm), bs).numpy(), name)
        else:
            same_close(ref, F.pixel_shuffle(t64(x), bs).numpy(), name)
        make_case(name, [helper.make_node("DepthToSpace", ["X"], ["Y"], **attrs)], [("X", x)], [("Y", ref)],
                  opset=opset)
    for name, xs, bs in (("spacetodepth_bs2", (1, 2, 4, 6), 2), ("spacetodepth_bs3", (2, 1, 3, 6), 3)):
        rng = rng_for(name)
        x = normal(rng, xs)
        b, c, h, w = xs
        ref = x.reshape(b, c, h // bs, bs, w // bs, bs).transpose(0, 3, 5, 1, 2, 4).reshape(b, c * bs * bs, h // bs, w // bs)
        same_close(d2s(ref, bs, "DCR"), x, name)  # inverse of DepthToSpace DCR
        make_case(name, [helper.make_node("SpaceToDepth", ["X"], ["Y"], blocksize=bs)], [("X", x)], [("Y", ref)],
                  opset=13)


SELFCHECK = False


def gen_index():
    """NonZero, TopK, Range, GatherElements, GatherND, ScatterElements,
    ScatterND, NonMaxSuppression, RoiAlign: numpy references from the spec,
    torch/torchvision as the second path where it has the op."""
    import torchvision

    # NonZero: output shape from the data (a host stage), zeros in the input
    for name, x in [("nonzero_2d", None), ("nonzero_bool_3d", None)]:
        rng = rng_for(name)
        if name == "nonzero_2d":
            x = f32(normal(rng, (4, 5)))
            x[x < 0.2] = 0
        else:
            x = rng.random((2, 3, 4)) > 0.6
        y = np.array(np.nonzero(x), np.int64)
        same_close(y, torch.nonzero(torch.tensor(x)).T.numpy(), name)
        make_case(name, [helper.make_node("NonZero", ["x"], ["y"])], [("x", x)], [("y", y)], opset=13)

    def topk_ref(x, k, axis, largest):
        key = -x if largest else x
        idx = np.argsort(key, axis=axis, kind="stable")
        idx = np.take(idx, np.arange(k), axis=axis)
        return np.take_along_axis(x, idx, axis), idx.astype(np.int64)

    for name, shape, k, axis, largest, opset, dt in [
            ("topk_axis1_largest", (3, 7, 4), 3, 1, 1, 11, np.float32),
            ("topk_last_smallest", (2, 9), 4, -1, 0, 11, np.float32),
            ("topk_int64_axis0", (6, 3), 2, 0, 1, 11, np.int64),
            ("topk_opset1_attr_k", (4, 5), 2, -1, 1, 1, np.float32)]:
        rng = rng_for(name)
        x = f32(normal(rng, shape)) if dt == np.float32 else rng.integers(-50, 50, shape).astype(np.int64)
        v, i = topk_ref(x, k, axis, largest)
        if dt == np.float32:
            tv, ti = torch.topk(torch.tensor(x), k, dim=axis, largest=bool(largest), sorted=True)
            same_close(v, tv.numpy(), name)
        attrs = {"axis": axis}
        if opset >= 11:
            attrs["largest"] = largest
        if opset < 10:
            attrs["k"] = k
            make_case(name, [helper.make_node("TopK", ["x"], ["v", "i"], **attrs)], [("x", x)],
                      [("v", v), ("i", i)], opset=opset)
        else:
            make_case(name, [helper.make_node("TopK", ["x", "k"], ["v", "i"], **attrs)], [("x", x)],
                      [("v", v), ("i", i)], inits={"k": np.array([k], np.int64)}, opset=opset)

    # Range: always folded (its inputs decide its shape), so fed to an Add
    for name, start, limit, delta, dt in [("range_float_add", 1.5, 9.0, 1.25, np.float32),
                                          ("range_int64_negative_delta", 10, -3, -3, np.int64)]:
        r = np.arange(start, limit, delta).astype(dt)
        rng = rng_for(name)
        x = f32(normal(rng, r.shape)) if dt == np.float32 else rng.integers(1, 9, r.shape).astype(np.int64)
        make_case(name, [helper.make_node("Range", ["s", "l", "d"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])],
                  [("x", x)], [("y", x + r)],
                  inits={"s": np.array(start, dt), "l": np.array(limit, dt), "d": np.array(delta, dt)}, opset=11)

    # GatherElements / ScatterElements: indices as graph inputs (read at run time), negatives included
    rng = rng_for("gather_elements")
    x = f32(normal(rng, (3, 4, 5)))
    idx = rng.integers(-4, 4, (3, 2, 5)).astype(np.int64)
    y = np.take_along_axis(x, idx % 4, axis=1)
    same_close(y, torch.gather(torch.tensor(x), 1, torch.tensor(idx % 4)).numpy(), "gather_elements")
    make_case("gather_elements_axis1_negative", [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=1)],
              [("x", x), ("i", idx)], [("y", y)], opset=13)
    for name, red, opset in [("scatter_elements_none", "none", 13), ("scatter_elements_add", "add", 16),
                             ("scatter_elements_max", "max", 18)]:
        rng = rng_for(name)
        x = f32(normal(rng, (4, 6)))
        # distinct targets per column for "none" (ONNX leaves duplicates unordered)
        idx = np.stack([rng.permutation(4)[:3] for _ in range(6)], axis=1).astype(np.int64)
        if red != "none":
            idx = rng.integers(0, 4, (3, 6)).astype(np.int64)
        u = f32(normal(rng, (3, 6)))
        y = x.astype(np.float64).copy()
        for r in range(3):
            for c in range(6):
                t = idx[r, c]
                y[t, c] = u[r, c] if red == "none" else y[t, c] + u[r, c] if red == "add" else max(y[t, c], u[r, c])
        if red == "none":
            same_close(f32(y), torch.tensor(x).scatter(0, torch.tensor(idx), torch.tensor(u)).numpy(), name)
        attrs = {"axis": 0} if red == "none" else {"axis": 0, "reduction": red}
        make_case(name, [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], **attrs)],
                  [("x", x), ("i", idx), ("u", u)], [("y", f32(y))], opset=opset)
    # the cpu backend's row path (indices' dims after the axis equal the
    # data's): axis 1 with a smaller leading dim, int32 and negative indices
    name = "scatter_elements_rows_axis1_int32"
    rng = rng_for(name)
    x = f32(normal(rng, (2, 5, 3, 4)))
    idx = np.zeros((1, 3, 3, 4), np.int32)
    for a in range(3):
        for b in range(4):
            idx[0, :, a, b] = rng.permutation(5)[:3]
    idx = np.where(rng.random(idx.shape) < 0.5, idx - 5, idx).astype(np.int32)
    u = f32(normal(rng, (1, 3, 3, 4)))
    y = x.copy()
    for r in range(3):
        for a in range(3):
            for b in range(4):
                y[0, idx[0, r, a, b] % 5, a, b] = u[0, r, a, b]
    same_close(y, torch.tensor(x).scatter(1, torch.tensor(idx % 5).long(), torch.tensor(u)).numpy(), name)
    make_case(name, [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=1)],
              [("x", x), ("i", idx), ("u", u)], [("y", y)], opset=13)
    # torchvision's MultiScaleRoIAlign: each level's RoIs placed by an
    # expanded index along axis 0 (int64 data here)
    name = "scatter_elements_rows_roi_levels"
    rng = rng_for(name)
    x = rng.integers(-100, 100, (4, 3, 2, 2)).astype(np.int64)
    rows = np.array([3, 0], np.int64)
    idx = np.ascontiguousarray(np.broadcast_to(rows[:, None, None, None], (2, 3, 2, 2)))
    u = rng.integers(-100, 100, (2, 3, 2, 2)).astype(np.int64)
    y = x.copy()
    y[rows] = u
    make_case(name, [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=0)],
              [("x", x), ("i", idx), ("u", u)], [("y", y)], opset=13)

    # GatherND (batch_dims 0 and 1) and ScatterND
    rng = rng_for("gathernd")
    x = f32(normal(rng, (2, 3, 4)))
    idx = np.array([[[1, 2], [0, -1]], [[2, 3], [1, 0]]], np.int64)  # batch_dims 1: index (dim1, dim2)
    y = np.stack([np.stack([x[b, i % 3, j % 4] for i, j in idx[b]]) for b in range(2)])
    make_case("gathernd_batch_dims1", [helper.make_node("GatherND", ["x", "i"], ["y"], batch_dims=1)],
              [("x", x), ("i", idx)], [("y", y)], opset=13)
    idx0 = np.array([[1, 0], [0, 2]], np.int64)
    make_case("gathernd_slices", [helper.make_node("GatherND", ["x", "i"], ["y"])], [("x", x), ("i", idx0)],
              [("y", np.stack([x[1, 0], x[0, 2]]))], opset=11)
    for name, red, opset in [("scatternd_none", "none", 13), ("scatternd_mul", "mul", 16)]:
        rng = rng_for(name)
        x = f32(normal(rng, (4, 3, 2)))
        idx = np.array([[2], [0]], np.int64) if red == "none" else np.array([[1], [1], [3]], np.int64)
        u = f32(normal(rng, (idx.shape[0], 3, 2)))
        y = x.astype(np.float64).copy()
        for k in range(idx.shape[0]):
            y[idx[k, 0]] = u[k] if red == "none" else y[idx[k, 0]] * u[k]
        attrs = {} if red == "none" else {"reduction": red}
        make_case(name, [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], **attrs)],
                  [("x", x), ("i", idx), ("u", u)], [("y", f32(y))], opset=opset)

    # NonMaxSuppression, center_point_box 1, two batches and classes, against torchvision's nms
    rng = rng_for("nms_center")
    nb = 8
    cxcy = rng.uniform(2, 10, (2, nb, 2))
    wh = rng.uniform(1, 5, (2, nb, 2))
    boxes = f32(np.concatenate([cxcy, wh], axis=2))
    scores = f32(rng.uniform(0, 1, (2, 2, nb)))
    sel = []
    for b in range(2):
        corners = torch.tensor(np.concatenate([cxcy[b] - wh[b] / 2, cxcy[b] + wh[b] / 2], axis=1))
        for c in range(2):
            keep_mask = scores[b, c] > 0.25
            ids = np.nonzero(keep_mask)[0]
            keep = torchvision.ops.nms(corners[ids], torch.tensor(scores[b, c, ids], dtype=torch.float64), 0.4).numpy()
            sel += [[b, c, int(ids[k])] for k in keep[:4]]
    make_case("nms_center_point_box", [helper.make_node("NonMaxSuppression", ["b", "s", "m", "t", "st"], ["y"],
                                                        center_point_box=1)],
              [("b", boxes), ("s", scores)], [("y", np.array(sel, np.int64))],
              inits={"m": np.array([4], np.int64), "t": np.array([0.4], np.float32),
                     "st": np.array([0.25], np.float32)}, opset=11)

    # RoiAlign: avg against torchvision (aligned = half_pixel), max against the numpy reference
    def roi_ref(x, rois, bidx, oh, ow, sr, scale, half, mode):
        n_r, c = rois.shape[0], x.shape[1]
        h, w = x.shape[2], x.shape[3]
        out = np.zeros((n_r, c, oh, ow))
        off = 0.5 if half else 0.0
        for r in range(n_r):
            x0, y0, x1, y1 = [float(v) * scale - off for v in rois[r]]
            rw, rh = x1 - x0, y1 - y0
            if not half:
                rw, rh = max(rw, 1.0), max(rh, 1.0)
            bh, bw = rh / oh, rw / ow
            gh = sr if sr > 0 else int(np.ceil(rh / oh))
            gw = sr if sr > 0 else int(np.ceil(rw / ow))
            for ph in range(oh):
                for pw in range(ow):
                    vals = []
                    for iy in range(gh):
                        yy = y0 + ph * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            xx = x0 + pw * bw + (ix + 0.5) * bw / gw
                            if yy < -1 or yy > h or xx < -1 or xx > w:
                                vals.append(np.zeros((4, c)))
                                continue
                            yv, xv = max(yy, 0.0), max(xx, 0.0)
                            ylo, xlo = int(yv), int(xv)
                            if ylo >= h - 1:
                                ylo = yhi = h - 1
                                yv = float(ylo)
                            else:
                                yhi = ylo + 1
                            if xlo >= w - 1:
                                xlo = xhi = w - 1
                                xv = float(xlo)
                            else:
                                xhi = xlo + 1
                            ly, lx = yv - ylo, xv - xlo
                            pl = x[bidx[r]].astype(np.float64)
                            vals.append(np.stack([(1 - ly) * (1 - lx) * pl[:, ylo, xlo], (1 - ly) * lx * pl[:, ylo, xhi],
                                                  ly * (1 - lx) * pl[:, yhi, xlo], ly * lx * pl[:, yhi, xhi]]))
                    v = np.stack(vals)  # samples, 4, c
                    out[r, :, ph, pw] = v.sum(axis=(0, 1)) / max(gh * gw, 1) if mode == "avg" else v.max(axis=1).max(axis=0)
        return out

    rng = rng_for("roialign")
    x = f32(normal(rng, (2, 3, 10, 12)))
    rois = f32(np.array([[1.2, 0.5, 7.9, 6.1], [0.0, 2.0, 11.5, 9.5], [3.3, 3.1, 4.0, 4.2], [-2.0, -1.0, 5.0, 3.0]]))
    bidx = np.array([0, 1, 1, 0], np.int64)
    for name, half, mode, sr, opset in [("roialign_avg_output_half_pixel", 0, "avg", 0, 10),
                                        ("roialign_avg_half_pixel_sr2", 1, "avg", 2, 16),
                                        ("roialign_max_half_pixel", 1, "max", 2, 16)]:
        y = roi_ref(x, rois, bidx, 3, 4, sr, 0.75, half, mode)
        if mode == "avg":
            tv = torchvision.ops.roi_align(torch.tensor(x, dtype=torch.float64),
                                           torch.tensor(np.concatenate([bidx[:, None], rois], 1), dtype=torch.float64),
                                           (3, 4), spatial_scale=0.75, sampling_ratio=sr if sr > 0 else -1,
                                           aligned=bool(half)).numpy()
            same_close(y, tv, name)
        attrs = {"output_height": 3, "output_width": 4, "sampling_ratio": sr, "spatial_scale": 0.75, "mode": mode}
        if opset >= 16:
            attrs["coordinate_transformation_mode"] = "half_pixel" if half else "output_half_pixel"
        make_case(name, [helper.make_node("RoiAlign", ["x", "r", "b"], ["y"], **attrs)],
                  [("x", x), ("r", rois), ("b", bidx)], [("y", f32(y))], opset=opset)


def gen_layer_group_norm():
    """LayerNormalization (17) against torch's layer_norm, with its Mean and
    InvStdDev outputs from numpy; GroupNormalization per group (18) from
    numpy and per channel (21) against torch's group_norm."""
    for name, shape, axis, bias in [("layernorm_last_axis", (2, 5, 8), -1, True),
                                    ("layernorm_axis1_no_bias", (3, 4, 2, 5), 1, False)]:
        rng = rng_for(name)
        x = f32(normal(rng, shape))
        ax = axis % len(shape)
        inner = shape[ax:]
        sc = f32(uniform(rng, inner, 0.5, 1.5))
        b = f32(normal(rng, inner)) if bias else None
        xd = d64(x)
        axes = tuple(range(ax, len(shape)))
        mean = xd.mean(axis=axes, keepdims=True)
        var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
        inv = 1.0 / np.sqrt(var + 1e-5)
        y = (xd - mean) * inv * d64(sc) + (d64(b) if bias else 0.0)
        yt = F.layer_norm(t64(x), inner, t64(sc), t64(b) if bias else None, eps=1e-5).numpy()
        same_close(y, yt, name)
        ins = ["x", "s"] + (["b"] if bias else [])
        inits = {"s": sc}
        if bias:
            inits["b"] = b
        make_case(name, [helper.make_node("LayerNormalization", ins, ["y", "m", "i"], axis=axis)], [("x", x)],
                  [("y", f32(y)), ("m", f32(mean)), ("i", f32(inv))], inits=inits, opset=17)
    for name, opset in [("groupnorm_opset18_per_group", 18), ("groupnorm_opset21_per_channel", 21)]:
        rng = rng_for(name)
        x = f32(normal(rng, (2, 6, 3, 4)))
        groups = 3
        n_sb = 6 if opset >= 21 else groups
        sc = f32(uniform(rng, (n_sb,), 0.5, 1.5))
        b = f32(normal(rng, (n_sb,)))
        xd = d64(x).reshape(2, groups, -1)
        mean = xd.mean(axis=2, keepdims=True)
        var = ((xd - mean) ** 2).mean(axis=2, keepdims=True)
        yn = ((xd - mean) / np.sqrt(var + 1e-5)).reshape(x.shape)
        scc = np.repeat(d64(sc), 2) if opset < 21 else d64(sc)
        bc = np.repeat(d64(b), 2) if opset < 21 else d64(b)
        y = yn * scc[None, :, None, None] + bc[None, :, None, None]
        yt = F.group_norm(t64(x), groups, torch.tensor(scc), torch.tensor(bc), eps=1e-5).numpy()
        same_close(y, yt, name)
        make_case(name, [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=groups)],
                  [("x", x)], [("y", f32(y))], inits={"s": sc, "b": b}, opset=opset, check=False)


def gen_onehot_size():
    """OneHot (negative and out-of-range indices, float indices, axes) from
    numpy and torch's one_hot; Size (folded, like Shape)."""
    def onehot_ref(idx, depth, off, on, axis):
        k = np.trunc(idx).astype(np.int64)
        valid = (k >= -depth) & (k < depth)
        k = np.where(k < 0, k + depth, k)
        oh = (np.arange(depth) == k[..., None]) & valid[..., None]
        out = np.where(oh, on, off)
        return np.moveaxis(out, -1, axis if axis >= 0 else out.ndim + axis)

    rng = rng_for("onehot")
    idx = rng.integers(-4, 4, (3, 5)).astype(np.int64)
    idx[0, 0] = 7  # out of range: a row of off_value
    vals = np.array([-1.5, 2.0], np.float32)
    y = f32(onehot_ref(idx, 4, vals[0], vals[1], -1))
    valid = (idx >= -4) & (idx < 4)
    yt = F.one_hot(torch.tensor(np.where(valid, idx % 4, 0)), 4).numpy()
    same_close(np.where(valid[..., None], np.where(yt == 1, 2.0, -1.5), -1.5), y, "onehot")
    make_case("onehot_last_axis_negative_indices", [helper.make_node("OneHot", ["i", "d", "v"], ["y"], axis=-1)],
              [("i", idx)], [("y", y)], inits={"d": np.array(4, np.int64), "v": vals}, opset=11)
    fi = f32(uniform(rng, (2, 3), -2.9, 5.9))
    vi = np.array([0, 9], np.int64)
    make_case("onehot_axis0_float_indices_int_values", [helper.make_node("OneHot", ["i", "d", "v"], ["y"], axis=0)],
              [("i", fi)], [("y", onehot_ref(fi, 5, 0, 9, 0).astype(np.int64))],
              inits={"d": np.array([5.0], np.float32), "v": vi}, opset=11)
    x = f32(normal(rng, (2, 3, 4)))
    make_case("size_3d", [helper.make_node("Size", ["x"], ["n"]), helper.make_node("Cast", ["n"], ["nf"], to=1),
                          helper.make_node("Mul", ["x", "nf"], ["y"])],
              [("x", x)], [("y", f32(d64(x) * 24.0))], opset=13)


def gen_int_arith():
    """8-bit integer arithmetic (Add, Sub, Mul, Div, Mod, Min, Max wrap like numpy's uint8/int8)
    and Pow with an integer base (opset 12+: the result has the base's type)."""
    for dt in (np.uint8, np.int8):
        tn = np.dtype(dt).name
        for op, fn in (("Add", np.add), ("Sub", np.subtract), ("Mul", np.multiply)):
            name = f"{op.lower()}_{tn}_bcast"
            rng = rng_for(name)
            info = np.iinfo(dt)
            a = rng.integers(info.min, info.max + 1, (2, 3, 4)).astype(dt)
            b = rng.integers(info.min, info.max + 1, (3, 1)).astype(dt)
            make_case(name, [helper.make_node(op, ["A", "B"], ["Y"])], [("A", a), ("B", b)], [("Y", fn(a, b))],
                      opset=14)
        name = f"div_{tn}"
        rng = rng_for(name)
        a = rng.integers(-100 if dt == np.int8 else 0, 120, (3, 5)).astype(dt)
        b = rng.integers(1, 9, (3, 5)).astype(dt) * (np.where(rng.random((3, 5)) < 0.5, -1, 1).astype(dt)
                                                    if dt == np.int8 else 1)
        q = np.trunc(a.astype(np.float64) / b.astype(np.float64)).astype(dt)  # C's truncation toward zero
        make_case(name, [helper.make_node("Div", ["A", "B"], ["Y"])], [("A", a), ("B", b)], [("Y", q)], opset=14)
        for fm in (0, 1):
            name = f"mod_{tn}_fmod{fm}"
            r = np.fmod(a, b) if fm else np.mod(a, b)
            make_case(name, [helper.make_node("Mod", ["A", "B"], ["Y"], fmod=fm)], [("A", a), ("B", b)],
                      [("Y", r.astype(dt))], opset=13)
        for op, fn in (("Min", np.minimum), ("Max", np.maximum)):
            name = f"{op.lower()}_{tn}_3inputs"
            rng = rng_for(name)
            info = np.iinfo(dt)
            xs = [rng.integers(info.min, info.max + 1, s).astype(dt) for s in ((2, 4), (4,), (2, 1))]
            make_case(name, [helper.make_node(op, ["X0", "X1", "X2"], ["Y"])],
                      [(f"X{k}", x) for k, x in enumerate(xs)], [("Y", fn(fn(xs[0], xs[1]), xs[2]))], opset=13)
    name = "maxpool_uint8"
    rng = rng_for(name)
    x = rng.integers(0, 256, (1, 2, 5, 6)).astype(np.uint8)
    y = F.max_pool2d(torch.from_numpy(x.astype(np.float64)), 2, 2).numpy().astype(np.uint8)
    make_case(name, [helper.make_node("MaxPool", ["X"], ["Y"], kernel_shape=[2, 2], strides=[2, 2])], [("X", x)],
              [("Y", y)], opset=12)
    for bt, et in ((np.int32, np.int32), (np.int64, np.int64), (np.int32, np.float32), (np.int64, np.float32)):
        name = f"pow_{np.dtype(bt).name}_{np.dtype(et).name}"
        rng = rng_for(name)
        a = rng.integers(-6, 7, (3, 4)).astype(bt)
        # float exponents in quarters: exact in fp16 storage too (opencl's fp16 run)
        e = (rng.integers(0, 6, (4,)) if et != np.float32 else rng.integers(0, 12, (4,)) / 4.0).astype(et)
        ref = (np.power(a, e) if et != np.float32 else np.trunc(np.power(a.astype(np.float64), e))).astype(bt)
        ref = np.where(np.isnan(np.power(a.astype(np.float64), e.astype(np.float64))), 0, ref).astype(bt)
        make_case(name, [helper.make_node("Pow", ["A", "E"], ["Y"])], [("A", a), ("E", e)], [("Y", ref)], opset=15)
    # ReduceMax/ReduceMin of bool (opset 20: any / all)
    for name, op, fn in (("reducemax_bool", "ReduceMax", np.any), ("reducemin_bool", "ReduceMin", np.all)):
        rng = rng_for(name)
        x = rng.random((3, 4, 5)) < (0.15 if op == "ReduceMax" else 0.85)
        make_case(name, [helper.make_node(op, ["X", "A"], ["Y"], keepdims=1)], [("X", x)],
                  [("Y", fn(x, axis=(1,), keepdims=True))], inits={"A": np.array([1], np.int64)}, opset=20,
                  check=False)


def gen_training_forms():
    """BatchNormalization with training_mode (14+): batch statistics, running mean and variance
    updated with momentum (population variance, as ONNX defines it)."""
    for name, xs, mom, outs in (("batchnorm_training_mode", (3, 4, 5, 6), 0.8, 3),
                                ("batchnorm_training_mode_rank2_default_momentum", (7, 5), None, 3)):
        rng = rng_for(name)
        x = normal(rng, xs, 2.0) + 0.5
        C = xs[1]
        sc, b = normal(rng, (C,)), normal(rng, (C,))
        rm, rv = normal(rng, (C,)), uniform(rng, (C,), 0.5, 2.0)
        axes = tuple(a for a in range(len(xs)) if a != 1)
        bm, bv = d64(x).mean(axis=axes), d64(x).var(axis=axes)
        shp = [1, C] + [1] * (len(xs) - 2)
        y = (d64(x) - bm.reshape(shp)) / np.sqrt(bv.reshape(shp) + 1e-5) * d64(sc).reshape(shp) + d64(b).reshape(shp)
        yt = F.batch_norm(t64(x), None, None, t64(sc), t64(b), training=True, eps=1e-5).numpy()
        same_close(y, yt, name)
        m = 0.9 if mom is None else mom
        attrs = {"training_mode": 1}
        if mom is not None:
            attrs["momentum"] = mom
        outputs = [("Y", f32(y)), ("RM", f32(d64(rm) * m + bm * (1 - m))), ("RV", f32(d64(rv) * m + bv * (1 - m)))]
        make_case(name, [helper.make_node("BatchNormalization", ["X", "S", "B", "M", "V"],
                                          [o[0] for o in outputs[:outs]], **attrs)],
                  [("X", x)], outputs[:outs], inits={"S": sc, "B": b, "M": rm, "V": rv}, opset=15)
    # Dropout with training_mode true and a seed: numpy's draws (np.random.seed(seed), then
    # uniform [0, 1) per element, dropped below ratio), as ONNX's reference draws them
    for name, xs, ratio, seed in (("dropout_training_seed_ratio03", (2, 3, 40), 0.3, 7),
                                  ("dropout_training_seed_ratio0", (4, 5), 0.0, 3)):
        rng = rng_for(name)
        x = normal(rng, xs)
        np.random.seed(seed)
        keep = np.random.uniform(0, 1.0, xs) >= np.float32(ratio)
        y = x * keep * (np.float32(1) / (np.float32(1) - np.float32(ratio)))
        make_case(name, [helper.make_node("Dropout", ["X", "R", "T"], ["Y", "M"], seed=seed)], [("X", x)],
                  [("Y", y.astype(np.float32)), ("M", keep)],
                  inits={"R": np.array(ratio, np.float32), "T": np.array(True)}, opset=13)


def gen_transformer_forms():
    """What transformer-style exports write out: a linear layer on tokens (MatMul + Add(bias),
    fused into a Gemm by the passes), the exact GELU as Div/Erf/Add/Mul/Mul (one Gelu after
    the passes), and a LayerNormalization large enough to run threaded on the cpu backend."""
    name = "linear_tokens_gelu"
    rng = rng_for(name)
    x = normal(rng, (2, 9, 24))
    w, b = normal(rng, (24, 40), 0.3), normal(rng, (40,))
    t = torch.from_numpy(d64(x)) @ torch.from_numpy(d64(w)) + torch.from_numpy(d64(b))
    y = F.gelu(t).numpy()
    c = {"W": w, "B": b, "S2": np.array(1.4142135381698608, np.float32), "ONE": np.array(1.0, np.float32),
         "HALF": np.array(0.5, np.float32)}
    nodes = [helper.make_node("MatMul", ["X", "W"], ["t"]), helper.make_node("Add", ["t", "B"], ["u"]),
             helper.make_node("Div", ["u", "S2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "ONE"], ["a"]), helper.make_node("Mul", ["u", "a"], ["m"]),
             helper.make_node("Mul", ["m", "HALF"], ["Y"])]
    make_case(name, nodes, [("X", x)], [("Y", f32(y))], inits=c, opset=13)
    name = "layernorm_threaded"
    rng = rng_for(name)
    x = normal(rng, (2, 30, 40, 96))
    sc, bi = normal(rng, (96,)), normal(rng, (96,))
    y = F.layer_norm(t64(x), (96,), t64(sc), t64(bi), eps=1e-6).numpy()
    make_case(name, [helper.make_node("LayerNormalization", ["X", "S", "B"], ["Y"], axis=-1, epsilon=1e-6)],
              [("X", x)], [("Y", f32(y))], inits={"S": sc, "B": bi}, opset=17)
    # products on the cpu backend's packed GEMM: both operands at run time (attention, batch
    # dims broadcast; batches spread over threads, or one large batch threaded inside), a
    # constant weight over many rows, Gemm with a row-vector C and a full C
    for name, xa, xb in (("matmul_dyn_attention", (2, 3, 37, 16), (2, 3, 16, 41)),
                         ("matmul_dyn_bcast_one_batch", (1, 70, 33), (33, 50)),
                         ("matmul_dyn_bcast_b", (3, 2, 19, 8), (2, 8, 23))):
        rng = rng_for(name)
        a, b = normal(rng, xa), normal(rng, xb)
        make_case(name, [helper.make_node("MatMul", ["A", "B"], ["Y"])], [("A", a), ("B", b)],
                  [("Y", f32(np.matmul(d64(a), d64(b))))], opset=13)
    name = "matmul_const_many_rows"
    rng = rng_for(name)
    a, w = normal(rng, (2, 50, 24)), normal(rng, (24, 40))
    make_case(name, [helper.make_node("MatMul", ["A", "W"], ["Y"])], [("A", a)],
              [("Y", f32(np.matmul(d64(a), d64(w))))], inits={"W": w}, opset=13)
    # attention scores: rows of 197 (not a vector multiple), threaded, a masked (-inf) band
    name = "softmax_attention_rows"
    rng = rng_for(name)
    x = normal(rng, (1, 4, 37, 197), 3.0)
    x[..., 150:160] = -np.inf
    e = np.exp(d64(x) - d64(x).max(axis=-1, keepdims=True))
    make_case(name, [helper.make_node("Softmax", ["X"], ["Y"], axis=-1)], [("X", x)],
              [("Y", f32(e / e.sum(axis=-1, keepdims=True)))], opset=13)
    for name, cs in (("gemm_many_rows_c_row", (1, 30)), ("gemm_many_rows_c_full", (45, 30))):
        rng = rng_for(name)
        a, w, cc = normal(rng, (45, 20)), normal(rng, (30, 20)), normal(rng, cs)
        make_case(name, [helper.make_node("Gemm", ["A", "W", "C"], ["Y"], transB=1)], [("A", a)],
                  [("Y", f32(d64(a) @ d64(w).T + d64(cc)))], inits={"W": w, "C": cc}, opset=13)


def half_exact(a):
    """float32 values that float16 holds exactly."""
    return np.asarray(a, np.float32).astype(np.float16).astype(np.float32)


def gen_ops25():
    """Einsum (numpy's einsum and torch.einsum, in float64, must agree),
    GridSample (torch's grid_sample in float64), QuantizeLinear and
    DequantizeLinear (numpy from the ONNX text: x / scale in float32, rounded
    half to even, plus the zero point, saturated; (x - zp) * scale)."""
    # ---- Einsum ----
    einsum_cases = [
        ("einsum_batch_matmul", "bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("einsum_attention_scores", "bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 6, 8)]),
        ("einsum_ellipsis_broadcast_matmul", "...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 6)]),
        ("einsum_matvec", "ij,j->i", [(5, 7), (7,)]),
        ("einsum_b_transposed", "ij,kj->ik", [(4, 6), (5, 6)]),
        ("einsum_output_swapped", "ij,jk->ki", [(3, 4), (4, 5)]),
        ("einsum_implicit_matmul", "ij,jk", [(3, 4), (4, 5)]),
        ("einsum_implicit_inner", "i,i", [(6,), (6,)]),
        ("einsum_implicit_uppercase_order", "bA,Ac", [(3, 4), (4, 2)]),
        ("einsum_transpose", "ij->ji", [(3, 5)]),
        ("einsum_diagonal", "ii->i", [(4, 4)]),
        ("einsum_trace_implicit", "ii", [(5, 5)]),
        ("einsum_batch_diagonal", "...ii->...i", [(2, 3, 4, 4)]),
        ("einsum_sum_all", "ijk->", [(2, 3, 4)]),
        ("einsum_sum_one_axis", "ijk->ik", [(2, 3, 4)]),
        ("einsum_outer", "i,j->ij", [(3,), (4,)]),
        ("einsum_three_chain", "bij,bjk,bkl->bil", [(2, 3, 4), (2, 4, 2), (2, 2, 5)]),
        ("einsum_bilinear", "bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
        ("einsum_spaces_and_sum_in_both", " bij , bkj -> bk ", [(2, 3, 4), (2, 5, 4)]),
        ("einsum_permuted_batch", "ibj,jbk->bik", [(3, 2, 4), (4, 2, 5)]),
        # big enough for opencl's CLBlast path (M*N*K >= 32768): B transposed,
        # A transposed, and the output column-first (operands swapped)
        ("einsum_large_attention", "bhqd,bhkd->bhqk", [(1, 2, 40, 24), (1, 2, 48, 24)]),
        ("einsum_large_a_transposed", "bji,bjk->bik", [(2, 40, 36), (2, 40, 30)]),
        ("einsum_large_output_swapped", "ij,jk->ki", [(40, 32), (32, 36)]),
    ]
    for name, eq, shapes in einsum_cases:
        rng = rng_for(name)
        xs = [f32(normal(rng, sh)) for sh in shapes]
        ref = np.einsum(eq.replace(" ", ""), *[d64(x) for x in xs])
        same_close(ref, torch.einsum(eq.replace(" ", ""), *[t64(x) for x in xs]).numpy(), name)
        names = [f"x{k}" for k in range(len(xs))]
        # onnx 1.12's inference refuses an ellipsis that broadcasts (numpy allows it)
        make_case(name, [helper.make_node("Einsum", names, ["y"], equation=eq)],
                  list(zip(names, xs)), [("y", f32(ref))], opset=12, infer="broadcast" not in name)
    rng = rng_for("einsum_int64")
    a = rng.integers(-9, 9, (3, 4)).astype(np.int64)
    b = rng.integers(-9, 9, (4, 2)).astype(np.int64)
    make_case("einsum_int64_matmul", [helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij,jk->ik")],
              [("a", a), ("b", b)], [("y", np.einsum("ij,jk->ik", a, b))], opset=12)
    # a constant operand (a weight): folded with the other when both are
    rng = rng_for("einsum_const_weight")
    x = f32(normal(rng, (2, 5, 6)))
    w = f32(normal(rng, (6, 3)))
    make_case("einsum_const_weight", [helper.make_node("Einsum", ["x", "w"], ["y"], equation="btc,cd->btd")],
              [("x", x)], [("y", f32(np.einsum("btc,cd->btd", d64(x), d64(w))))], inits={"w": w}, opset=12)

    # ---- GridSample ----
    def grid_case(name, mode, pad, ac, xshape, gshape, opset=16, grid=None, tmode=None):
        rng = rng_for(name)
        x = f32(normal(rng, xshape))
        # grid values half holds exactly: fp16 storage samples the same points
        g = half_exact(uniform(rng, gshape, -1.25, 1.25)) if grid is None else grid
        y = F.grid_sample(t64(x), t64(g), mode=tmode or mode, padding_mode=pad, align_corners=bool(ac)).numpy()
        make_case(name, [helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=pad,
                                          align_corners=ac)],
                  [("x", x), ("g", g)], [("y", f32(y))], opset=opset, check=opset < 20)

    for mode in ("bilinear", "nearest", "bicubic"):
        for pad in ("zeros", "border", "reflection"):
            for ac in (0, 1):
                grid_case(f"gridsample_{mode}_{pad}_ac{ac}", mode, pad, ac, (2, 3, 5, 6), (2, 4, 7, 2))
    # nearest on exact ties (x = k + 0.5): torch rounds half to even
    tie = np.array([-0.5, 0.0, 0.5, -1.0, 1.0, 0.25, -0.75, 0.75], np.float32)
    gt = np.stack(np.meshgrid(tie, tie[::-1]), axis=-1)[None].astype(np.float32)
    for ac in (0, 1):
        grid_case(f"gridsample_nearest_ties_ac{ac}", "nearest", "zeros", ac, (1, 2, 4, 4), gt.shape, grid=gt)
    # opset 20: the new mode names, and 3-D (volumetric) sampling
    grid_case("gridsample_opset20_cubic_border", "cubic", "border", 0, (1, 2, 4, 5), (1, 3, 6, 2), opset=20,
              tmode="bicubic")
    for mode, tmode in (("linear", "bilinear"), ("nearest", "nearest")):
        for pad, ac in (("zeros", 0), ("border", 1), ("reflection", 0), ("reflection", 1)):
            grid_case(f"gridsample_opset20_3d_{mode}_{pad}_ac{ac}", mode, pad, ac, (2, 2, 3, 4, 5), (2, 2, 3, 4, 3),
                      opset=20, tmode=tmode)

    # ---- QuantizeLinear / DequantizeLinear ----
    def spread(x, scale, zp, axis, block, zdt):
        """scale and zero point (zdt) broadcastable against x: per tensor, per axis or per block."""
        sc = np.asarray(scale, np.float32)
        z = np.zeros(sc.shape, zdt) if zp is None else np.asarray(zp).astype(zdt)
        if block:
            cut = tuple(slice(0, n) for n in x.shape)
            return np.repeat(sc, block, axis=axis)[cut], np.repeat(z, block, axis=axis)[cut]
        if sc.ndim == 1 and sc.size > 1:
            shape = [1] * x.ndim
            shape[axis] = sc.size
            return sc.reshape(shape), z.reshape(shape)
        return sc, z

    def q_ref(x, scale, zp, axis, block, dt):
        info = np.iinfo(dt)
        sc, z = spread(x, scale, zp, axis, block, np.int64)
        if x.dtype == np.int32:
            q = x.astype(np.float64) / sc.astype(np.float64)
        else:
            q = (x / sc).astype(np.float32)
        return np.clip(np.rint(q).astype(np.int64) + z, info.min, info.max).astype(dt)

    def dq_ref(x, scale, zp, axis, block):
        sc, z = spread(x, scale, zp, axis, block, np.float32)
        return ((x.astype(np.float32) - z) * sc).astype(np.float32)

    # (name, opset, x shape, scale shape, zp dtype or None, axis attr, block_size, output dtype, extra attrs)
    q_cases = [
        ("quantizelinear_opset10_per_tensor_uint8", 10, (3, 8), (), np.uint8, None, 0, np.uint8, {}),
        ("quantizelinear_per_axis_int8", 13, (2, 3, 4), (3,), np.int8, 1, 0, np.int8, {}),
        ("quantizelinear_per_axis_negative_axis", 13, (2, 3, 5), (5,), np.uint8, -1, 0, np.uint8, {}),
        ("quantizelinear_no_zero_point_saturates", 13, (4, 6), (), None, None, 0, np.uint8, {}),
        ("quantizelinear_opset19_saturate_int8", 19, (3, 5), (1,), np.int8, None, 0, np.int8, {"saturate": 1}),
        ("quantizelinear_opset21_blocked", 21, (2, 5, 3), (2, 3, 3), np.int8, 1, 2, np.int8, {}),
        ("quantizelinear_opset21_output_dtype_int8", 21, (3, 4), (), None, None, 0, np.int8, {"output_dtype": 3}),
    ]
    for name, opset, xs, ss, zdt, axis, block, odt, extra in q_cases:
        rng = rng_for(name)
        x = f32(normal(rng, xs, 3.0))
        sc = f32(uniform(rng, ss, 0.02, 0.08)) if ss else np.array(0.5, np.float32)
        if name.endswith("saturates"):
            x = f32(normal(rng, xs, 100.0))
        if ss == ():
            x.flat[:6] = [0.25, 0.75, -0.25, -0.75, 1.25, 2.25]  # x / 0.5 = k + 0.5: ties go to even
        # values half holds exactly, so that opencl's fp16 storage quantizes the same numbers
        x, sc = half_exact(x), half_exact(sc)
        zp = None
        ins = ["x", "s"]
        inits = {"s": sc}
        if zdt is not None:
            info = np.iinfo(zdt)
            zp = rng.integers(max(info.min, -20), min(info.max, 20) + 1, ss).astype(zdt)
            if zdt == np.uint8:
                zp = np.asarray(zp + 100, np.uint8)
            ins.append("z")
            inits["z"] = zp
        attrs = dict(extra)
        if axis is not None:
            attrs["axis"] = axis
        if block:
            attrs["block_size"] = block
        ax = axis if axis is not None else 1
        y = q_ref(x, sc, zp, ax % x.ndim, block, odt)
        make_case(name, [helper.make_node("QuantizeLinear", ins, ["y"], **attrs)], [("x", x)], [("y", y)],
                  inits=inits, opset=opset, check=opset < 19)
    rng = rng_for("quantizelinear_int32_input")
    xi = rng.integers(-5000, 5000, (3, 4)).astype(np.int32)
    sc = np.array(37.0, np.float32)
    zp = np.array(-3, np.int8)
    make_case("quantizelinear_int32_input", [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])],
              [("x", xi)], [("y", q_ref(xi, sc, zp, 1, 0, np.int8))], inits={"s": sc, "z": zp}, opset=13)

    dq_cases = [
        ("dequantizelinear_opset10_per_tensor_uint8", 10, (3, 7), (), np.uint8, None, 0),
        ("dequantizelinear_per_axis_int8_axis0", 13, (4, 3, 2), (4,), np.int8, 0, 0),
        ("dequantizelinear_int32_no_zero_point", 13, (2, 6), (), np.int32, None, 0),
        ("dequantizelinear_opset21_blocked_uint8", 21, (3, 7), (3, 3), np.uint8, -1, 3),
    ]
    for name, opset, xs, ss, dt, axis, block in dq_cases:
        rng = rng_for(name)
        info = np.iinfo(dt)
        x = rng.integers(max(info.min, -100000), min(info.max, 100000) + 1, xs).astype(dt)
        sc = f32(uniform(rng, ss, 0.01, 0.1))
        ins = ["x", "s"]
        inits = {"s": sc}
        zp = None
        if dt != np.int32:
            zp = rng.integers(max(info.min, -10), min(info.max, 10) + 1, ss).astype(dt)
            ins.append("z")
            inits["z"] = zp
        attrs = {}
        if axis is not None:
            attrs["axis"] = axis
        if block:
            attrs["block_size"] = block
        ax = axis if axis is not None else 1
        y = dq_ref(x, sc, zp, ax % x.ndim, block)
        make_case(name, [helper.make_node("DequantizeLinear", ins, ["y"], **attrs)], [("x", x)], [("y", y)],
                  inits=inits, opset=opset, check=opset < 19)
    # a QDQ pair on a constant weight (folded at load) feeding a MatMul, and
    # fake quantization of the activation (a Q then DQ at run time)
    rng = rng_for("qdq_weight_and_activation")
    x = half_exact(normal(rng, (3, 6)))
    wq = rng.integers(-127, 128, (6, 4)).astype(np.int8)
    ws = f32(uniform(rng, (4,), 0.01, 0.03))
    xs_ = np.array(0.0625, np.float32)
    xz = np.array(128, np.uint8)
    wd = dq_ref(wq, ws, None, 1, 0)
    xq = q_ref(x, xs_, xz, 1, 0, np.uint8)
    xd = dq_ref(xq, xs_, xz, 1, 0)
    y = f32(d64(xd) @ d64(wd))
    make_case("qdq_weight_and_activation",
              [helper.make_node("DequantizeLinear", ["wq", "ws"], ["w"], axis=1),
               helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
               helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
               helper.make_node("MatMul", ["xd", "w"], ["y"])],
              [("x", x)], [("y", y)], inits={"wq": wq, "ws": ws, "xs": xs_, "xz": xz}, opset=13)


def gen_index_wide():
    """The index ops on integer dtypes, duplicate indices under every
    reduction, and rows longer than a work group (the OpenCL kernels serialise
    scatters per line and reduce LayerNorm/GroupNorm/TopK rows in tiles of up
    to 256): expected values from numpy loops in float64 / exact integers."""
    rng = rng_for("gather_elements_int32_idx")
    x = rng.integers(-2**40, 2**40, (3, 4)).astype(np.int64)
    idx = rng.integers(-3, 3, (2, 4)).astype(np.int32)
    make_case("gather_elements_int32_idx_int64_data", [helper.make_node("GatherElements", ["x", "i"], ["y"], axis=0)],
              [("x", x), ("i", idx)], [("y", np.take_along_axis(x, idx % 3, axis=0))], opset=13)

    def scatter_el_ref(x, idx, u, axis, red):
        y = x.copy()
        for p in np.ndindex(*idx.shape):
            q = list(p)
            q[axis] = idx[p] % x.shape[axis]
            q = tuple(q)
            y[q] = u[p] if red == "none" else y[q] + u[p] if red == "add" else y[q] * u[p] if red == "mul" \
                else max(y[q], u[p]) if red == "max" else min(y[q], u[p])
        return y

    rng = rng_for("scatter_elements_int32_add_dups")
    x = rng.integers(2**31 - 8, 2**31 - 1, (3, 5)).astype(np.int32)
    idx = rng.integers(-5, 5, (3, 4)).astype(np.int64)
    u = rng.integers(1, 9, (3, 4)).astype(np.int32)
    # int32 addition wraps (two's complement), as numpy's int32
    y = scatter_el_ref(x.astype(np.int64), idx, u.astype(np.int64), 1, "add")
    y = ((y + 2**31) % 2**32 - 2**31).astype(np.int32)
    make_case("scatter_elements_int32_add_dups", [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=1,
                                                                   reduction="add")],
              [("x", x), ("i", idx), ("u", u)], [("y", y)], opset=16)
    rng = rng_for("scatter_elements_mul_1d_dups")
    x = f32(uniform(rng, (7,), 0.5, 1.5))
    idx = rng.integers(0, 7, (300,)).astype(np.int64)
    u = f32(uniform(rng, (300,), 0.9, 1.1))
    make_case("scatter_elements_mul_1d_dups", [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"],
                                                                reduction="mul")],
              [("x", x), ("i", idx), ("u", u)], [("y", f32(scatter_el_ref(d64(x), idx, d64(u), 0, "mul")))],
              opset=16, tol="allclose 1e-5 1e-4")
    rng = rng_for("scatter_elements_min_int64")
    x = rng.integers(-50, 50, (4, 3)).astype(np.int64)
    idx = rng.integers(0, 4, (5, 3)).astype(np.int64)
    u = rng.integers(-80, 80, (5, 3)).astype(np.int64)
    make_case("scatter_elements_min_int64", [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=0,
                                                              reduction="min")],
              [("x", x), ("i", idx), ("u", u)], [("y", scatter_el_ref(x, idx, u, 0, "min"))], opset=18)

    def scatter_nd_ref(x, idx, u, red):
        y = x.copy()
        k = idx.shape[-1]
        for t in np.ndindex(*idx.shape[:-1]):
            at = tuple(int(v) % x.shape[q] for q, v in enumerate(idx[t]))
            y[at] = u[t] if red == "none" else y[at] + u[t] if red == "add" else np.maximum(y[at], u[t])
        return y

    rng = rng_for("scatternd_add_dups_k2")
    x = f32(normal(rng, (3, 4, 5)))
    idx = np.array([[[0, 1], [2, -1]], [[0, 1], [1, 2]], [[2, 3], [0, 1]]], np.int64)
    u = f32(normal(rng, (3, 2, 5)))
    make_case("scatternd_add_dups_k2", [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="add")],
              [("x", x), ("i", idx), ("u", u)], [("y", f32(scatter_nd_ref(d64(x), idx, d64(u), "add")))], opset=16)
    rng = rng_for("scatternd_max_int32_points")
    x = rng.integers(-100, 100, (6, 7)).astype(np.int32)
    idx = rng.integers(0, 6, (40, 2)).astype(np.int64)
    idx[:, 1] = rng.integers(-7, 7, 40)
    u = rng.integers(-100, 100, (40,)).astype(np.int32)
    make_case("scatternd_max_int32_points", [helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="max")],
              [("x", x), ("i", idx), ("u", u)], [("y", scatter_nd_ref(x, idx, u, "max"))], opset=18)

    rng = rng_for("gathernd_int32_data")
    x = rng.integers(-1000, 1000, (4, 3, 2)).astype(np.int32)
    idx = np.array([[[3, -1, 1]], [[0, 2, 0]]], np.int64)
    make_case("gathernd_int32_data", [helper.make_node("GatherND", ["x", "i"], ["y"])], [("x", x), ("i", idx)],
              [("y", np.array([[x[3, 2, 1]], [x[0, 2, 0]]], np.int32))], opset=13)

    rng = rng_for("onehot_int32_bool_values")
    idx = rng.integers(-3, 5, (2, 4)).astype(np.int32)
    vals = np.array([False, True])
    y = np.zeros((2, 3, 4), np.bool_)
    for a in range(2):
        for c in range(4):
            v = idx[a, c]
            if -3 <= v < 3:
                y[a, v % 3, c] = True
    make_case("onehot_int32_bool_values", [helper.make_node("OneHot", ["i", "d", "v"], ["y"], axis=1)],
              [("i", idx)], [("y", y)], inits={"d": np.array(3, np.int32), "v": vals}, opset=11)

    rng = rng_for("layernorm_long_rows_stats")
    x = f32(normal(rng, (3, 700), 2.0) + 1.5)
    sc = f32(uniform(rng, (700,), 0.5, 1.5))
    b = f32(normal(rng, (700,)))
    xd = d64(x)
    mean = xd.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(((xd - mean) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    make_case("layernorm_long_rows_stats", [helper.make_node("LayerNormalization", ["x", "s", "b"], ["y", "m", "iv"])],
              [("x", x)], [("y", f32((xd - mean) * inv * d64(sc) + d64(b))), ("m", f32(mean)), ("iv", f32(inv))],
              inits={"s": sc, "b": b}, opset=17)
    rng = rng_for("groupnorm_large_groups")
    x = f32(normal(rng, (2, 4, 19, 21)))
    sc = f32(uniform(rng, (4,), 0.5, 1.5))
    b = f32(normal(rng, (4,)))
    xd = d64(x).reshape(2, 2, -1)
    mean = xd.mean(axis=2, keepdims=True)
    yn = ((xd - mean) / np.sqrt(((xd - mean) ** 2).mean(axis=2, keepdims=True) + 1e-5)).reshape(x.shape)
    make_case("groupnorm_large_groups", [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)],
              [("x", x)], [("y", f32(yn * d64(sc)[None, :, None, None] + d64(b)[None, :, None, None]))],
              inits={"s": sc, "b": b}, opset=21, check=False)

    # TopK over rows longer than a work group, many ties (broken by the lower index)
    rng = rng_for("topk_long_rows_ties")
    x = rng.integers(0, 40, (2, 600, 3)).astype(np.float32)
    idx = np.take(np.argsort(-x, axis=1, kind="stable"), np.arange(7), axis=1)
    make_case("topk_long_rows_ties", [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=1)], [("x", x)],
              [("v", np.take_along_axis(x, idx, 1)), ("i", idx.astype(np.int64))],
              inits={"k": np.array([7], np.int64)}, opset=11)

    # k counted from data, as a detector's level takes the top scores of those that passed its
    # threshold (torchvision's FCOS / RetinaNet heads): NonZero -> Shape -> k, and TopK's index
    # output read again by a Gather. With no score above the threshold k is 0 and both outputs
    # are empty, yet the Gather after them still runs (opencl once left the index slot unset).
    for name, hi in (("topk_k_from_data_empty", 0.45), ("topk_k_from_data", 0.9)):
        rng = rng_for(name)
        x = rng.uniform(-0.5, hi, (16,)).astype(np.float32)
        x[x == 0] = 0.25
        keep = np.nonzero(x > 0.5)[0]
        xs = x[keep]
        idx = np.argsort(-xs, kind="stable")
        v = xs[idx]
        make_case(name, [helper.make_node("Greater", ["x", "thr"], ["m"]),
                         helper.make_node("NonZero", ["m"], ["nz"]),
                         helper.make_node("Reshape", ["nz", "flat"], ["keep"]),
                         helper.make_node("Gather", ["x", "keep"], ["xs"], axis=0),
                         helper.make_node("Shape", ["keep"], ["k"]),
                         helper.make_node("TopK", ["xs", "k"], ["v", "i"], axis=0),
                         helper.make_node("Gather", ["keep", "i"], ["orig"], axis=0)],
                  [("x", x)], [("v", v), ("orig", keep[idx].astype(np.int64))],
                  inits={"thr": np.array(0.5, np.float32), "flat": np.array([-1], np.int64)},
                  opset=11, infer=False)


def gen_sequences():
    """Tensor sequences: resolved while the graph is inferred (engine/src/sequence.c), as
    torch's MViT writes them (a Loop that SequenceInserts, SequenceAt after it) and in the
    other forms the ONNX text defines, with tensor inputs and outputs."""
    seq_f = helper.make_tensor_sequence_value_info

    # MViT's form: SequenceEmpty, a Loop with a constant trip count inserting one tensor
    # per iteration, SequenceAt and SequenceLength after it.
    name = "sequence_loop_insert"
    rng = rng_for(name)
    x = normal(rng, (2, 3))
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT),
         helper.make_node("Add", ["fi", "one"], ["fi1"]),
         helper.make_node("Mul", ["x", "fi1"], ["xi"]),
         helper.make_node("SequenceInsert", ["seq_in", "xi"], ["seq_out"]),
         helper.make_node("Identity", ["c"], ["c_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c", TensorProto.BOOL, []),
         seq_f("seq_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         seq_f("seq_out", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.array(1.0, np.float32), "one")])
    nodes = [helper.make_node("SequenceEmpty", [], ["empty"], dtype=TensorProto.FLOAT),
             helper.make_node("Loop", ["trips", "true", "empty"], ["seq"], body=body),
             helper.make_node("SequenceAt", ["seq", "p1"], ["a"]),
             helper.make_node("SequenceAt", ["seq", "m1"], ["b"]),
             helper.make_node("SequenceLength", ["seq"], ["len"]),
             helper.make_node("Cast", ["len"], ["flen"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["b", "flen"], ["bl"]),
             helper.make_node("Sub", ["bl", "a"], ["Y"])]
    ref = d64(x) * 4 * 4 - d64(x) * 2
    make_case(name, nodes, [("x", x)], [("Y", f32(ref))],
              inits={"trips": np.array(4, np.int64), "true": np.array(True), "p1": np.array(1, np.int64),
                     "m1": np.array(-1, np.int32)}, opset=13)

    # SequenceConstruct, inserts at the front and in the middle, an erase; ConcatFromSequence
    # along an existing axis and along a new one (negative axis: counted from the end).
    name = "sequence_construct_insert_erase"
    rng = rng_for(name)
    a, b, c, d = (normal(rng, (2, 3)) for _ in range(4))
    nodes = [helper.make_node("SequenceConstruct", ["a", "b"], ["s0"]),
             helper.make_node("SequenceInsert", ["s0", "c", "zero"], ["s1"]),    # c a b
             helper.make_node("SequenceInsert", ["s1", "d", "m1"], ["s2"]),      # c a d b
             helper.make_node("SequenceErase", ["s2", "one"], ["s3"]),           # c d b
             helper.make_node("ConcatFromSequence", ["s3"], ["Y"], axis=1),
             helper.make_node("ConcatFromSequence", ["s2"], ["Z"], axis=-1, new_axis=1),
             helper.make_node("SequenceErase", ["s3"], ["s4"]),                  # c d
             helper.make_node("ConcatFromSequence", ["s4"], ["W"], axis=0)]
    make_case(name, nodes, [("a", a), ("b", b), ("c", c), ("d", d)],
              [("Y", np.concatenate([c, d, b], axis=1)), ("Z", np.stack([c, a, d, b], axis=-1)),
               ("W", np.concatenate([c, d], axis=0))],
              inits={"zero": np.array(0, np.int64), "m1": np.array(-1, np.int64), "one": np.array(1, np.int32)},
              opset=11)

    # SplitToSequence: single slices (keepdims 0), a scalar chunk with a shorter last
    # piece, and explicit sizes; read back through SequenceAt and ConcatFromSequence.
    name = "sequence_split"
    rng = rng_for(name)
    x = normal(rng, (2, 5, 3))
    nodes = [helper.make_node("SplitToSequence", ["x"], ["s1"], axis=1, keepdims=0),
             helper.make_node("ConcatFromSequence", ["s1"], ["Y"], axis=2, new_axis=1),
             helper.make_node("SplitToSequence", ["x", "two"], ["s2"], axis=-2),
             helper.make_node("SequenceAt", ["s2", "m1"], ["Z"]),
             helper.make_node("SplitToSequence", ["x", "sizes"], ["s3"], axis=1),
             helper.make_node("SequenceAt", ["s3", "one"], ["W"]),
             helper.make_node("SequenceLength", ["s2"], ["L"])]
    make_case(name, nodes, [("x", x)],
              [("Y", np.stack([x[:, k] for k in range(5)], axis=2)), ("Z", x[:, 4:5]), ("W", x[:, 1:4]),
               ("L", np.array(3, np.int64))],
              inits={"two": np.array(2, np.int64), "m1": np.array(-1, np.int64),
                     "sizes": np.array([1, 3, 1], np.int64), "one": np.array(1, np.int64)},
              opset=11)

    # A sequence chosen by an If whose condition the input shape fixes.
    name = "sequence_if_branch"
    rng = rng_for(name)
    x = normal(rng, (3, 4))
    then_g = helper.make_graph([helper.make_node("SequenceConstruct", ["x", "x2"], ["st"])], "then", [],
                               [seq_f("st", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("SequenceConstruct", ["x2", "x"], ["se"])], "else", [],
                               [seq_f("se", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("Mul", ["x", "x"], ["x2"]),
             helper.make_node("Shape", ["x"], ["shp"]),
             helper.make_node("Gather", ["shp", "zero"], ["rows"]),
             helper.make_node("Equal", ["rows", "three"], ["cond"]),
             helper.make_node("If", ["cond"], ["s"], then_branch=then_g, else_branch=else_g),
             helper.make_node("ConcatFromSequence", ["s"], ["Y"], axis=0)]
    make_case(name, nodes, [("x", x)], [("Y", np.concatenate([x, f32(d64(x) * d64(x))], axis=0))],
              inits={"zero": np.array(0, np.int64), "three": np.array(3, np.int64)}, opset=13)


def main(argv):
    global SELFCHECK
    args = [a for a in argv[1:] if not a.startswith("--")]
    SELFCHECK = "--selfcheck" in argv
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    out = args[0]
    gen_activations()
    gen_elementwise()
    gen_ops17()
    gen_conv()
    gen_norm()
    gen_pool()
    gen_gemm()
    gen_softmax()
    gen_reduce()
    gen_resize()
    gen_tensor()
    gen_index()
    gen_layer_group_norm()
    gen_onehot_size()
    gen_ops25()
    gen_index_wide()
    gen_opset_forms()
    gen_int_arith()
    gen_training_forms()
    gen_transformer_forms()
    gen_sequences()

    # every op of ENGINE_OP_LIST must be covered
    ops_h = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "engine", "include", "engine", "ops.h")
    if os.path.exists(ops_h):
        import re
        text = open(ops_h).read()
        listed = set(re.findall(r"X\((\w+),\s*\w+\)", text)) - {"Name"}
        covered = {n.op_type for c in CASES for n in c[1].graph.node}
        missing = listed - covered
        assert not missing, f"ops without cases: {sorted(missing)}"

    os.makedirs(out, exist_ok=True)
    names = []
    for name, model, ins, outs, tol in CASES:
        d = os.path.join(out, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(model.SerializeToString())
        for k, a in enumerate(ins):
            np.save(os.path.join(d, f"input_{k}.npy"), np.array(a, order="C"))
        for k, a in enumerate(outs):
            np.save(os.path.join(d, f"output_{k}.npy"), np.array(a, order="C"))
        with open(os.path.join(d, "tolerance"), "w") as f:
            f.write(tol + "\n")
        names.append(name)
    with open(os.path.join(out, "INDEX"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    print(f"gen_op_cases: {len(names)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
