#!/usr/bin/python3
"""Expected outputs for tests/test_ref_kernels_a.c (run with Debian's python3,
which has torch and numpy):  /usr/bin/python3 tests/gen_ref_kernels_a.py

Inputs are the same xorshift32 streams the C test draws (seed per input), so
only the expected outputs are embedded in the test. Expected values come from
torch (conv, pools, norms, interpolate) or a direct numpy transcription of the
ONNX formulas (Gemm, MatMul, softmax, resize modes torch lacks)."""
import math
import numpy as np
import torch
import torch.nn.functional as F


def rng(seed, shape, kind=0):
    n = int(np.prod(shape)) if len(shape) else 1
    s = seed & 0xFFFFFFFF or 1
    out = np.empty(n, np.float32)
    for i in range(n):
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        v = (s >> 8) / 8388608.0 - 1.0  # [-1, 1), exact in float32
        out[i] = v if kind == 0 else v * 0.5 + 1.0  # kind 1: [0.5, 1.5)
    return out.reshape(shape)


def t(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def lit(v):
    s = "%.9g" % v
    return (s if any(ch in s for ch in ".e") else s + ".0") + "f"


def emit(name, arr):
    a = np.asarray(arr, dtype=np.float32).ravel()
    body = ",\n    ".join(", ".join(lit(v) for v in a[i:i + 6]) for i in range(0, len(a), 6))
    print("static const float exp_%s[%d] = {\n    %s};" % (name, max(len(a), 1), body))


def conv_case():
    # Conv2d: groups 2, dilation (2,1), stride (2,1), pads begin (1,0) end (2,1), bias.
    x, w, b = rng(101, (2, 4, 7, 6)), rng(102, (6, 2, 3, 2)), rng(103, (6,))
    xp = F.pad(t(x), (0, 1, 1, 2))  # (W left, W right, H top, H bottom)
    emit("conv2d", F.conv2d(xp, t(w), t(b), stride=(2, 1), dilation=(2, 1), groups=2))
    # Depthwise 3x3, pad 1, no bias.
    x, w = rng(111, (2, 3, 5, 5)), rng(112, (3, 1, 3, 3))
    emit("conv_dw", F.conv2d(t(x), t(w), None, padding=1, groups=3))
    # Conv1d stride 2 pad 1, bias.
    x, w, b = rng(121, (1, 2, 9)), rng(122, (3, 2, 3)), rng(123, (3,))
    emit("conv1d", F.conv1d(t(x), t(w), t(b), stride=2, padding=1))
    # Conv3d 2x2x2 pad 1 stride (1,2,1).
    x, w, b = rng(131, (1, 2, 3, 4, 3)), rng(132, (2, 2, 2, 2, 2)), rng(133, (2,))
    emit("conv3d", F.conv3d(t(x), t(w), t(b), stride=(1, 2, 1), padding=1))
    # ConvTranspose2d: groups 2, stride 2, pad 1, output_padding 1, dilation (1,2), bias.
    x, w, b = rng(141, (1, 4, 3, 4)), rng(142, (4, 3, 3, 3)), rng(143, (6,))
    emit("convt2d", F.conv_transpose2d(t(x), t(w), t(b), stride=2, padding=1, output_padding=1, groups=2,
                                       dilation=(1, 2)))
    # ConvTranspose1d: stride 3, asymmetric pads (2 begin, 1 end), output_padding 2, no bias.
    x, w = rng(151, (2, 2, 4)), rng(152, (2, 3, 3))
    full = F.conv_transpose1d(t(x), t(w), None, stride=3, output_padding=2)  # length 3*3+3+2 = 14
    emit("convt1d", full[:, :, 2:14 - 1])


def pool_case():
    x = rng(201, (2, 2, 8, 7))
    emit("maxpool_ceil", F.max_pool2d(t(x), 3, stride=2, padding=1, dilation=2, ceil_mode=True))
    x = rng(211, (1, 2, 6, 7))
    emit("avgpool_incl", F.avg_pool2d(t(x), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=True))
    emit("avgpool_excl", F.avg_pool2d(t(x), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False))
    # Asymmetric pads H (0 top, 1 bottom), W (1 left, 0 right), count_include_pad=1, k 2x3 stride 1x2.
    xp = F.pad(t(x), (1, 0, 0, 1))
    emit("avgpool_asym", F.avg_pool2d(xp, (2, 3), stride=(1, 2)))
    x = rng(221, (1, 3, 10))
    y, idx = F.max_pool1d(t(x), 3, stride=3, padding=1, ceil_mode=True, return_indices=True)
    emit("maxpool1d", y)
    emit("maxpool1d_idx", idx.numpy() + np.arange(3).reshape(1, 3, 1) * 10)  # ONNX: flat over the tensor
    x = rng(231, (1, 2, 3, 4, 5))
    emit("avgpool3d", F.avg_pool3d(t(x), 2, stride=2, padding=1, count_include_pad=False))
    x = rng(241, (2, 3, 4, 5))
    emit("gap", x.mean(axis=(2, 3), dtype=np.float64))
    emit("gmp", x.max(axis=(2, 3)))


def norm_case():
    x = rng(301, (2, 3, 4, 5))
    sc, bi, mu, var = rng(302, (3,)), rng(303, (3,)), rng(304, (3,)), rng(305, (3,), 1)
    emit("batchnorm", F.batch_norm(t(x), t(mu), t(var), t(sc), t(bi), training=False, eps=1e-3))
    x, sc, bi = rng(311, (2, 3, 4, 5)), rng(312, (3,)), rng(313, (3,))
    emit("instnorm", F.instance_norm(t(x), weight=t(sc), bias=t(bi), eps=1e-5))
    x = rng(321, (2, 7, 3, 3))
    emit("lrn5", F.local_response_norm(t(x), 5, alpha=1e-2, beta=0.75, k=1.5))
    # Even size: ONNX window [c - 1, c + 2] for size 4 (torch centres it differently).
    x64 = x.astype(np.float64)
    y = np.empty_like(x64)
    for c in range(7):
        lo, hi = max(0, c - 1), min(6, c + 2)
        sq = (x64[:, lo:hi + 1] ** 2).sum(axis=1)
        y[:, c] = x64[:, c] / (2.0 + 0.3 / 4 * sq) ** 0.6
    emit("lrn4", y)


def gemm_case():
    M, K, N = 3, 5, 4
    a, b = rng(401, (K, M)).astype(np.float64), rng(402, (N, K)).astype(np.float64)
    ab = 0.7 * (a.T @ b.T)
    for i, shape in enumerate([(), (N,), (M, 1), (1, N), (M, N)]):
        c = rng(410 + i, shape).astype(np.float64)
        emit("gemm_c%d" % i, ab + 1.3 * c)
    emit("gemm_noc", ab)
    a, b = rng(421, (M, K)).astype(np.float64), rng(422, (K, N)).astype(np.float64)
    emit("gemm_plain", a @ b + rng(423, (N,)))
    emit("matmul_bcast", rng(431, (2, 1, 3, 4)).astype(np.float64) @ rng(432, (3, 4, 5)).astype(np.float64))
    emit("matmul_vec_a", rng(441, (4,)).astype(np.float64) @ rng(442, (2, 4, 3)).astype(np.float64))
    emit("matmul_vec_b", rng(451, (2, 3, 4)).astype(np.float64) @ rng(452, (4,)).astype(np.float64))
    emit("matmul_dot", rng(461, (6,)).astype(np.float64) @ rng(462, (6,)).astype(np.float64))


def softmax_case():
    x = rng(501, (2, 3, 4)).astype(np.float64) * 4.0
    def sm(v, axes):
        e = np.exp(v - v.max(axis=axes, keepdims=True))
        return e / e.sum(axis=axes, keepdims=True)
    emit("softmax_legacy", sm(x, (1, 2)))
    emit("softmax_13", sm(x, 1))
    emit("softmax_last", sm(x, 2))
    emit("logsoftmax_legacy", np.log(sm(x, (1, 2))))
    emit("logsoftmax_13", np.log(sm(x, 1)))


# ---- Resize: a numpy transcription of onnx/reference/ops/op_resize.py (1.13+) ----
def _cubic_coeffs(r, s, A=-0.75):
    return np.array([((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
                     ((A + 2) * r - (A + 3)) * r * r + 1,
                     ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
                     ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A])


def _nearest_coeffs(r, mode):
    if float(r).is_integer():
        return np.array([0, 1])
    return {"round_prefer_floor": np.array([r <= 0.5, r > 0.5]), "round_prefer_ceil": np.array([r < 0.5, r >= 0.5]),
            "floor": np.array([1, 0]), "ceil": np.array([0, 1])}[mode]


def _interp_1d(data, scale, out_len, x, coeffs_fn, ctm, exclude_outside):
    in_len = len(data)
    if ctm == "align_corners":
        # ONNX's reference takes length_resized = scale * length_original,
        # unrounded (its node tests depend on it); equal to out_len for sizes.
        len_resized = scale * in_len
        xo = 0.0 if len_resized <= 1 else x * (in_len - 1) / (len_resized - 1)
    elif ctm == "asymmetric":
        xo = x / scale
    elif ctm == "pytorch_half_pixel":
        xo = (x + 0.5) / scale - 0.5 if out_len > 1 else 0.0
    elif ctm == "half_pixel":
        xo = (x + 0.5) / scale - 0.5
    else:  # half_pixel_symmetric
        adj = out_len / (scale * in_len)
        xo = in_len / 2 * (1 - adj) + (x + 0.5) / scale - 0.5
    xi = int(np.floor(xo))
    ratio = 1 if float(xo).is_integer() else xo - xi
    c = np.array(coeffs_fn(ratio), dtype=np.float64)
    n = len(c)
    pw = int(math.ceil(n / 2))
    padded = np.pad(data, pw, mode="edge")
    xp = xo + pw
    idx = sorted(sorted(range(len(padded)), key=lambda i: (abs(xp - i), i))[:n])
    pts = padded[idx]
    if exclude_outside:
        for k, i in enumerate(idx):
            if i - pw < 0 or i - pw >= in_len:
                c[k] = 0
        c /= c.sum()
    return float(np.dot(c, pts))


def _interp_nd(data, scales, out_shape, coeffs_fn, ctm, exclude_outside=False):
    if data.ndim == 1:
        return np.array([_interp_1d(data, scales[0], out_shape[0], x, coeffs_fn, ctm, exclude_outside)
                         for x in range(out_shape[0])])
    res = np.empty(out_shape)
    # Interpolate along the first dim last: resize every sub-array first.
    inner = np.stack([_interp_nd(data[i], scales[1:], out_shape[1:], coeffs_fn, ctm, exclude_outside)
                      for i in range(data.shape[0])])
    for idx in np.ndindex(*out_shape[1:]):
        col = inner[(slice(None),) + idx]
        for x in range(out_shape[0]):
            res[(x,) + idx] = _interp_1d(col, scales[0], out_shape[0], x, coeffs_fn, ctm, exclude_outside)
    return res


def resize_case():
    x = rng(601, (1, 2, 4, 5))
    # nearest asymmetric floor (PyTorch's nearest export): scales 2, 1.5
    emit("rs_nearest", F.interpolate(t(x), scale_factor=(2.0, 1.5), mode="nearest"))
    emit("rs_linear_hp", F.interpolate(t(x), scale_factor=(1.5, 0.6), mode="bilinear", align_corners=False))
    emit("rs_linear_ac", F.interpolate(t(x), size=(7, 3), mode="bilinear", align_corners=True))
    emit("rs_cubic", F.interpolate(t(x), scale_factor=(2.0, 1.6), mode="bicubic", align_corners=False))
    # pytorch_half_pixel with an output length of 1 along H: x_original = 0 there.
    x64 = x.astype(np.float64)
    emit("rs_linear_php", _interp_nd(x64, [1, 1, 0.25, 1.4], [1, 2, 1, 7], lambda r: [1 - r, r],
                                     "pytorch_half_pixel"))
    # Modes PyTorch does not export, against the ONNX reference formulas.
    x1 = rng(611, (7,)).astype(np.float64)
    for i, mode in enumerate(["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]):
        emit("rs_near_%d" % i, _interp_nd(x1, [1.5], [10], lambda r: _nearest_coeffs(r, mode), "half_pixel"))
    emit("rs_near_down", _interp_nd(x1, [0.5], [3], lambda r: _nearest_coeffs(r, "round_prefer_ceil"),
                                    "align_corners"))
    emit("rs_cubic_excl", _interp_nd(x1, [1.7], [11], lambda r: _cubic_coeffs(r, 0, -0.5), "half_pixel", True))
    emit("rs_cubic_sym", _interp_nd(x1, [0.7], [4], lambda r: _cubic_coeffs(r, 0, -0.75), "half_pixel_symmetric"))
    emit("rs_linear_sym", _interp_nd(x1, [1.3], [9], lambda r: [1 - r, r], "half_pixel_symmetric"))
    x3 = rng(621, (2, 3, 4)).astype(np.float64)
    emit("rs_trilinear", _interp_nd(x3, [1.5, 2.0, 0.75], [3, 6, 3], lambda r: [1 - r, r], "asymmetric"))


print("/* BEGIN GENERATED by tests/gen_ref_kernels_a.py: do not edit by hand. */")
conv_case()
pool_case()
norm_case()
gemm_case()
softmax_case()
resize_case()
print("/* END GENERATED */")
