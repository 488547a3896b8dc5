#!/usr/bin/python3
"""Numeric cases for the graph passes (docs/PASSES.md), generated with torch.

usage: gen_pass_cases.py OUTDIR

One small torch module per pattern a pass rewrites, exported with
BatchNormalization kept as nodes (TrainingMode.PRESERVE, eval mode), with
the float64 torch output as reference. Same folder format as
gen_op_cases.py (tests/README-cases.md). run_cases.sh runs every case twice
per backend, optimised and --no-fuse, against the same reference within
rel L2 1e-5: so the graph before and after the passes agree with each other
(within 2e-5) and with float64 torch, on every backend that runs them,
fused epilogues included.

Each case lists the op types its exported graph must contain, checked here,
so a case keeps testing its pattern if the exporter changes.
"""
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
TOL = "rel_l2 1e-5"


def randomise(model, gen):
    """Non-trivial BN statistics and non-zero biases."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.3)
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.3)


class ConvAct(nn.Module):
    def __init__(self, act, bn=True, cin=3, cout=8):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=not bn)
        self.bn = nn.BatchNorm2d(cout) if bn else nn.Identity()
        self.act = act

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class DeconvSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.bn = nn.BatchNorm2d(6)

    def forward(self, x):
        return torch.sigmoid(self.bn(self.deconv(x)))


class LinearRelu6(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 7)
        self.bn = nn.BatchNorm1d(7)

    def forward(self, x):
        return F.relu6(self.bn(self.fc(x)))


class FlattenLinear(nn.Module):
    """A classifier head: conv features flattened into a Linear (Flatten ->
    Gemm: fuse_flatten_gemm), or through x.view(n, -1) (a Reshape fed by
    the Shape -> Gather -> Concat chain that constant folding resolves)."""

    def __init__(self, view):
        super().__init__()
        self.view = view
        self.conv = nn.Conv2d(4, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 5 * 5, 7)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = x.view(x.size(0), -1) if self.view else torch.flatten(x, 1)
        return F.hardswish(self.fc(x))


class Residual(nn.Module):
    """ResNet basic block, with a strided 1x1 downsample when `down`."""

    def __init__(self, c, down):
        super().__init__()
        m = 2 * c if down else c
        s = 2 if down else 1
        self.c1 = nn.Conv2d(c, m, 3, s, 1, bias=False)
        self.b1 = nn.BatchNorm2d(m)
        self.c2 = nn.Conv2d(m, m, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(m)
        self.down = nn.Sequential(nn.Conv2d(c, m, 1, s, bias=False), nn.BatchNorm2d(m)) if down else None

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class RepVGG(nn.Module):
    """RepVGG train-time blocks: 3x3+BN, 1x1+BN and (stride 1, C == M) BN(x)."""

    def __init__(self, c, m, stride, groups, blocks=2):
        super().__init__()
        self.blocks = nn.ModuleList()
        for k in range(blocks):
            cin, s = (c, stride) if k == 0 else (m, 1)
            blk = nn.Module()
            blk.c3 = nn.Sequential(nn.Conv2d(cin, m, 3, s, 1, groups=groups, bias=False), nn.BatchNorm2d(m))
            blk.c1 = nn.Sequential(nn.Conv2d(cin, m, 1, s, 0, groups=groups, bias=False), nn.BatchNorm2d(m))
            blk.id = nn.BatchNorm2d(cin) if (s == 1 and cin == m) else None
            self.blocks.append(blk)

    def forward(self, x):
        for b in self.blocks:
            y = b.c3(x) + b.c1(x)
            if b.id is not None:
                y = y + b.id(x)
            x = F.relu(y)
        return x


class DenseBN(nn.Module):
    """DenseNet pre-activation: Concat -> BN -> Relu -> Conv1x1, plus a BN
    straight on the input (no producer to fold into)."""

    def __init__(self):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(4)
        self.c0 = nn.Conv2d(4, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(10)
        self.conv = nn.Conv2d(10, 5, 1)

    def forward(self, x):
        a = self.bn_in(x)
        t = torch.cat([a, self.c0(a)], 1)
        return self.conv(F.relu(self.bn(t)))


class PadConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3)
        self.conv2 = nn.Conv2d(5, 4, 3, padding=1)

    def forward(self, x):
        y = self.conv(F.pad(x, (1, 2, 2, 1)))
        y = F.max_pool2d(F.pad(y, (1, 1, 0, 1), value=float("-inf")), 2)
        y = self.conv2(y)
        return F.avg_pool2d(F.pad(y, (1, 0, 1, 0)), 2)


class InceptionCat(nn.Module):
    """Inception block: three branches concatenated over channels (every
    branch output is stored in its slice: concat_alias)."""

    def __init__(self):
        super().__init__()
        self.b1 = nn.Conv2d(4, 3, 1)
        self.b2 = nn.Conv2d(4, 5, 3, padding=1)
        self.b3 = nn.Conv2d(4, 2, 1)
        self.out = nn.Conv2d(10, 4, 1)

    def forward(self, x):
        y = torch.cat([F.relu(self.b1(x)), F.relu(self.b2(x)), self.b3(F.max_pool2d(x, 3, 1, 1))], 1)
        return self.out(y)


class DenseCat(nn.Module):
    """DenseNet block as torchvision writes it: each layer concatenates
    every feature so far (nested prefixes, chained by concat_alias)."""

    def __init__(self, layers=3):
        super().__init__()
        self.c0 = nn.Conv2d(3, 4, 3, padding=1)
        self.layers = nn.ModuleList()
        for k in range(layers):
            cin = 4 + 2 * k
            self.layers.append(nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 2, 3, padding=1)))

    def forward(self, x):
        feats = [self.c0(x)]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return torch.cat(feats, 1)


class YoloCat(nn.Module):
    """YOLO route: an upsampled deep feature concatenated with a shallow one."""

    def __init__(self):
        super().__init__()
        self.shallow = nn.Conv2d(4, 4, 3, padding=1)
        self.deep = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.lat = nn.Conv2d(8, 3, 1)
        self.head = nn.Conv2d(7, 5, 1)

    def forward(self, x):
        s = F.leaky_relu(self.shallow(x), 0.1)
        u = F.interpolate(self.lat(F.leaky_relu(self.deep(s), 0.1)), scale_factor=2.0, mode="nearest")
        return self.head(torch.cat([u, s], 1))


class Batch2Cat(nn.Module):
    """Near miss of concat_alias: with batch 2 an input is not one byte run
    of the output."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 2, 1)
        self.b = nn.Conv2d(3, 3, 3, padding=1)
        self.out = nn.Conv2d(5, 2, 1)

    def forward(self, x):
        return self.out(torch.cat([self.a(x), torch.sigmoid(self.b(x))], 1))


class BNNextConv(nn.Module):
    """BN with no producer, then an unpadded conv (folds: fold_bn_next),
    and a BN before a padded conv (must not fold)."""

    def __init__(self):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(4)
        self.c0 = nn.Conv2d(4, 6, 3, groups=2)
        self.bn1 = nn.BatchNorm2d(4)
        self.c1 = nn.Conv2d(4, 6, 3, padding=1)

    def forward(self, x):
        return self.c0(self.bn0(x))[:, :, :, :] + self.c1(self.bn1(x))[:, :, 1:-1, 1:-1]


class SEConv(nn.Module):
    """Squeeze-Excitation then a conv (EfficientNet, MobileNet v3): the
    cpu backend runs the Mul inside the conv (its GEMM scales the rows it
    packs). scale_first: Mul(s, x). k: the conv after it (3: the im2col
    path). reuse: the product is also read by an Add (no fusion)."""

    def __init__(self, c=13, k=1, scale_first=False, reuse=False, hard=False):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.fc1 = nn.Conv2d(c, 4, 1)
        self.fc2 = nn.Conv2d(4, c, 1)
        self.proj = nn.Conv2d(c, 7 if reuse else 11, k, padding=k // 2)
        self.scale_first, self.reuse, self.hard = scale_first, reuse, hard

    def forward(self, x):
        y = F.silu(self.dw(x))
        s = F.adaptive_avg_pool2d(y, 1)
        s = self.fc2(F.relu(self.fc1(s)))
        s = F.hardsigmoid(s) if self.hard else torch.sigmoid(s)
        z = s * y if self.scale_first else y * s
        out = self.proj(z)
        if self.reuse:
            out = out + z[:, :7]
        return out


class PwDw(nn.Module):
    """Inverted-residual front (MobileNet v2/v3, EfficientNet): 1x1
    expansion + act -> depthwise kxk -> 1x1 projection. On maps large
    enough the cpu backend runs the expansion inside the depthwise kernel
    (conv_pw_dw.c). residual: + x after the projection; dw_sum: the
    depthwise output plus the block input (a residual on the depthwise
    conv itself; needs cexp == cin); reuse: the expansion also read by an
    Add (no fusion)."""

    def __init__(self, cin, cexp, k, stride, act, residual=False, dw_sum=False, reuse=False):
        super().__init__()
        self.pw = nn.Conv2d(cin, cexp, 1)
        self.dw = nn.Conv2d(cexp, cexp, k, stride, k // 2, groups=cexp)
        self.proj = nn.Conv2d(cexp, cin, 1)
        self.act, self.residual, self.dw_sum, self.reuse = act, residual, dw_sum, reuse

    def forward(self, x):
        e = self.act(self.pw(x))
        d = self.dw(e)
        if self.dw_sum:
            d = d + x
        d = self.act(d)
        if self.reuse:
            d = d + e
        y = self.proj(d)
        return y + x if self.residual else y


class Views(nn.Module):
    """Nodes the cpu backend runs as views of their input's storage (no
    copy): Reshape/Flatten/Squeeze/Unsqueeze, a channel-range Slice of one
    image, a Transpose moving only size-1 dims; the ShuffleNet v2 unit
    (split, branch, concat, channel shuffle) and its batch-2 near miss
    (the slices are strided there: copied)."""

    def __init__(self, c=8):
        super().__init__()
        self.a = nn.Conv2d(c, c, 1)
        self.b = nn.Conv2d(c // 2, c // 2, 3, padding=1)
        self.d = nn.Conv2d(c // 2, c // 2, 3, padding=1, groups=c // 2)
        self.e = nn.Conv2d(c, 3, 1)

    def forward(self, x):
        n, c, h, w = x.shape
        y = self.a(x)
        x1, x2 = y[:, : c // 2], y[:, c // 2:]
        z = torch.cat([x1, F.relu(self.d(self.b(x2)))], 1)
        z = z.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        u = self.e(z).unsqueeze(2).transpose(1, 2).squeeze(1)  # transpose of a size-1 dim
        return u.flatten(1) * 0.5 + torch.sigmoid(u.reshape(n, -1))


class BlockedChain(nn.Module):
    """A chain the cpu backend can keep in its blocked channel layout
    (NCHW16c / NCHW8c; the tests run it with ENGINE_CPU_BLOCKED=all too):
    channel counts that are not multiples of 8 (the padding lanes), a
    standalone Sigmoid and Div (ops that do not map 0 to 0, so the padding
    lanes must be rewritten), pools, a depthwise conv, a residual sum, a
    per-channel scale from a global pool (SE) and a scalar operand."""

    def __init__(self, c=20):
        super().__init__()
        self.a = nn.Conv2d(3, c, 3, padding=1)
        self.b = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(2 * c, 2 * c, 5, padding=2, groups=2 * c)
        self.pw = nn.Conv2d(2 * c, 2 * c, 1)
        self.fc = nn.Conv2d(2 * c, 2 * c, 1)
        self.d = nn.Parameter(torch.rand(1, 2 * c, 1, 1) + 0.5)

    def forward(self, x):
        y = F.max_pool2d(F.relu(self.a(x)), 3, 1, 1)
        y = self.b(y)
        z = torch.sigmoid(self.dw(y)) / self.d
        z = F.relu(self.pw(z) + y)
        s = torch.sigmoid(self.fc(F.adaptive_avg_pool2d(z, 1)))
        z = F.avg_pool2d(z * s, 3, 1, 1, count_include_pad=False) - 0.25
        return F.adaptive_max_pool2d(z, 1) + F.adaptive_avg_pool2d(torch.tanh(z), 1)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block: a depthwise 7x7 conv, its output moved to channels
    last (Transpose 0,2,3,1: the cpu backend reads it from the blocked
    layout), LayerNorm, the MLP with GELU, back to NCHW, a per-channel
    scale and the residual. 20 channels: padding lanes in both VLs."""

    def __init__(self, c=20):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.ln = nn.LayerNorm(c, eps=1e-6)
        self.fc1 = nn.Linear(c, 4 * c)
        self.fc2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.rand(c, 1, 1) + 0.5)

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.fc2(F.gelu(self.fc1(self.ln(y)))).permute(0, 3, 1, 2)
        return x + self.gamma * y


def cases():
    g = nn.Hardsigmoid()
    return [
        # name, module, input shape, opset, ops the export must contain
        ("conv_bn_relu", ConvAct(nn.ReLU()), (1, 3, 9, 9), 13, {"BatchNormalization", "Relu"}),
        ("conv_relu6", ConvAct(nn.ReLU6(), bn=False), (1, 3, 9, 9), 13, {"Clip"}),
        ("conv_leaky", ConvAct(nn.LeakyReLU(0.1)), (1, 3, 9, 9), 13, {"LeakyRelu"}),
        ("conv_sigmoid", ConvAct(nn.Sigmoid()), (1, 3, 9, 9), 13, {"Sigmoid"}),
        ("conv_tanh", ConvAct(nn.Tanh()), (1, 3, 9, 9), 13, {"Tanh"}),
        ("conv_hardsigmoid", ConvAct(g), (1, 3, 9, 9), 13, {"HardSigmoid"}),
        ("conv_hardswish_op", ConvAct(nn.Hardswish()), (1, 3, 9, 9), 14, {"HardSwish"}),
        ("conv_hardswish_mul", ConvAct(nn.Hardswish()), (1, 3, 9, 9), 13, {"HardSigmoid", "Mul"}),
        ("conv_silu", ConvAct(nn.SiLU()), (1, 3, 9, 9), 13, {"Sigmoid", "Mul"}),
        ("conv_mish", ConvAct(nn.Mish()), (1, 3, 9, 9), 13, {"Softplus", "Tanh", "Mul"}),
        ("deconv_bn_sigmoid", DeconvSigmoid(), (1, 4, 5, 5), 13, {"ConvTranspose", "Sigmoid"}),
        ("linear_bn_relu6", LinearRelu6(), (3, 12), 13, {"Gemm", "BatchNormalization", "Clip"}),
        ("flatten_linear", FlattenLinear(False), (2, 4, 5, 5), 13, {"Flatten", "Gemm"}),
        ("view_linear", FlattenLinear(True), (3, 4, 5, 5), 13, {"Reshape", "Gemm"}),
        ("residual_relu", Residual(4, False), (1, 4, 8, 8), 13, {"Add", "Relu"}),
        ("residual_downsample", Residual(4, True), (1, 4, 8, 8), 13, {"Add", "Relu"}),
        ("repvgg_s1", RepVGG(4, 4, 1, 1), (1, 4, 8, 8), 13, {"Add", "BatchNormalization"}),
        ("repvgg_s2", RepVGG(4, 8, 2, 1), (1, 4, 8, 8), 13, {"Add", "BatchNormalization"}),
        ("repvgg_groups", RepVGG(8, 8, 2, 2, blocks=3), (1, 8, 8, 8), 13, {"Add", "BatchNormalization"}),
        ("bn_standalone", DenseBN(), (1, 4, 6, 6), 13, {"Concat", "BatchNormalization"}),
        ("pad_fold", PadConv(), (1, 3, 9, 8), 13, {"Pad", "MaxPool", "AveragePool"}),
        ("concat_inception", InceptionCat(), (1, 4, 8, 8), 13, {"Concat", "MaxPool"}),
        ("concat_densenet", DenseCat(), (1, 3, 6, 6), 13, {"Concat", "BatchNormalization"}),
        ("concat_yolo", YoloCat(), (1, 4, 8, 8), 13, {"Concat", "Resize", "LeakyRelu"}),
        ("concat_batch2", Batch2Cat(), (2, 3, 6, 6), 13, {"Concat"}),
        ("bn_next_conv", BNNextConv(), (1, 4, 7, 7), 13, {"BatchNormalization", "Slice"}),
        ("se_conv1x1", SEConv(), (1, 13, 9, 10), 13, {"GlobalAveragePool", "Mul"}),
        ("convnext_block", ConvNeXtBlock(), (1, 20, 9, 11), 13, {"Transpose", "Erf"}),
        ("se_conv1x1_batch2_hard", SEConv(c=24, scale_first=True, hard=True), (2, 24, 7, 7), 13,
         {"GlobalAveragePool", "Mul", "HardSigmoid"}),
        ("se_conv3x3", SEConv(k=3), (1, 13, 8, 8), 13, {"GlobalAveragePool", "Mul"}),
        ("se_reused", SEConv(c=9, reuse=True), (1, 9, 6, 6), 13, {"GlobalAveragePool", "Mul", "Add"}),
        ("views_shuffle", Views(), (1, 8, 9, 10), 13, {"Reshape", "Transpose", "Slice", "Concat", "Squeeze"}),
        ("views_shuffle_batch2", Views(12), (2, 12, 7, 6), 13, {"Reshape", "Transpose", "Slice", "Concat"}),
        ("pw_dw_mbv2", PwDw(16, 21, 3, 1, nn.ReLU6(), residual=True), (1, 16, 113, 111), 13, {"Clip", "Add"}),
        ("pw_dw_s2_5x5_silu_batch2", PwDw(8, 36, 5, 2, nn.SiLU()), (2, 8, 89, 93), 13, {"Sigmoid", "Mul"}),
        ("pw_dw_dw_sum", PwDw(24, 24, 3, 1, nn.ReLU(), dw_sum=True), (1, 24, 107, 104), 13, {"Add", "Relu"}),
        ("pw_dw_reused", PwDw(16, 24, 3, 1, nn.ReLU(), reuse=True), (1, 16, 107, 104), 13, {"Add"}),
        ("blocked_chain", BlockedChain(), (1, 3, 15, 14), 13, {"MaxPool", "Sigmoid", "Div", "GlobalAveragePool"}),
        ("blocked_chain_batch2", BlockedChain(13), (2, 3, 12, 9), 13, {"AveragePool", "Sub", "Tanh"}),
    ]


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    names = []
    for k, (name, model, shape, opset, want) in enumerate(cases()):
        torch.manual_seed(1000 + k)
        randomise(model, torch.Generator().manual_seed(2000 + k))
        model.eval()
        x = np.random.default_rng(3000 + k).standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            import copy
            ref = copy.deepcopy(model).double()(torch.from_numpy(x).double()).numpy()
        d = os.path.join(out, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        path = os.path.join(d, "model.onnx")
        torch.onnx.export(model, torch.from_numpy(x), path, opset_version=opset, input_names=["input"],
                          output_names=["output"], do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE)
        proto = onnx.load(path)
        onnx.checker.check_model(proto, full_check=True)
        ops = {n.op_type for n in proto.graph.node}
        assert want <= ops, f"{name}: export lacks {sorted(want - ops)} (has {sorted(ops)})"
        np.save(os.path.join(d, "input_0.npy"), x)
        np.save(os.path.join(d, "output_0.npy"), ref.astype(np.float32))
        with open(os.path.join(d, "tolerance"), "w") as f:
            f.write(TOL + "\n")
        names.append(name)
    with open(os.path.join(out, "INDEX"), "w") as f:
        f.write("".join(n + "\n" for n in names))
    print(f"gen_pass_cases: {len(names)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
