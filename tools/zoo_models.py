"""Hand-written zoo architectures for tools/zoo.py (the families torchvision
does not ship, or ships only too large for the reference backend).

Each class follows its paper's structure (block layout, grouping, branch
form); widths and input sizes are reduced where noted so the naive
reference backend runs each model in about a second. Seeded default torch
initialisation; nothing pretrained.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k=3, s=1, groups=1, act=nn.ReLU):
    """Conv (no bias) + BatchNorm + activation (None: no activation)."""
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class _LRNFn(torch.autograd.Function):
    """Local response normalisation with a symbolic that exports the ONNX
    LRN op (torch's own F.local_response_norm is written in Python and
    exports as a Pad/AveragePool/Pow decomposition)."""

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class LRN(nn.Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=2.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return _LRNFn.apply(x, self.size, self.alpha, self.beta, self.k)


class AlexNet(nn.Module):
    """AlexNet as published (Krizhevsky et al. 2012): 11x11/4 stem, local
    response normalisation after conv1 and conv2 (exported as ONNX LRN),
    overlapping 3x3 stride-2 max pooling, and the two-GPU split kept as
    groups=2 on conv2, conv4 and conv5 (the layers whose inputs stayed on
    one GPU). Widths are a quarter of the paper's (96-256-384-384-256 ->
    24-64-96-96-64), the input 67x67 instead of 224x224."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 24, 11, 4, 2), nn.ReLU(inplace=True),
            LRN(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(24, 64, 5, 1, 2, groups=2), nn.ReLU(inplace=True),
            LRN(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 96, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(96, 96, 3, 1, 1, groups=2), nn.ReLU(inplace=True),
            nn.Conv2d(96, 64, 3, 1, 1, groups=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(64 * 1 * 1, 128), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(128, 128), nn.ReLU(inplace=True),
            nn.Linear(128, num_classes))
        # He init: with torch's default (uniform, gain 1/sqrt(3)) the signal
        # shrinks layer by layer until the biases alone decide the output.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class MobileNetV1(nn.Module):
    """MobileNet v1 (Howard et al. 2017): a 3x3/2 stem then 13
    depthwise-separable blocks (3x3 depthwise + BN + ReLU, 1x1 pointwise +
    BN + ReLU), global average pooling, one FC. Width multiplier 0.5."""

    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
           (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, width=0.5, num_classes=10):
        super().__init__()
        c = int(32 * width)
        layers = [conv_bn(3, c, 3, 2)]
        for out, s in self.CFG:
            out = int(out * width)
            layers += [conv_bn(c, c, 3, s, groups=c), conv_bn(c, out, 1)]
            c = out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.fc(torch.flatten(x, 1))


def channel_shuffle(x, groups):
    """ShuffleNet's shuffle: (N, g*c, H, W) -> reshape (N, g, c, H, W) ->
    transpose the group axes -> flatten back. Exports as Reshape,
    Transpose, Reshape."""
    n, ch, h, w = x.shape
    x = x.reshape(n, groups, ch // groups, h, w).transpose(1, 2)
    return x.reshape(n, ch, h, w)


class ShuffleUnitV1(nn.Module):
    """ShuffleNet v1 unit (Zhang et al. 2017): grouped 1x1 conv + BN + ReLU,
    channel shuffle, 3x3 depthwise (stride s) + BN, grouped 1x1 conv + BN;
    stride 1: residual add then ReLU; stride 2: concat with a 3x3/2 average
    pool of the input then ReLU. The first unit of the net leaves its first
    1x1 ungrouped (its input has too few channels), as in the paper."""

    def __init__(self, cin, cout, stride, groups, first_group=True):
        super().__init__()
        self.stride, self.groups = stride, groups
        if stride == 2:
            cout -= cin
        mid = cout // 4
        g1 = groups if first_group else 1
        self.g1 = g1
        self.conv1 = conv_bn(cin, mid, 1, groups=g1)
        self.dw = conv_bn(mid, mid, 3, stride, groups=mid, act=None)
        self.conv2 = conv_bn(mid, cout, 1, groups=groups, act=None)

    def forward(self, x):
        y = self.conv1(x)
        if self.g1 > 1:
            y = channel_shuffle(y, self.g1)
        y = self.conv2(self.dw(y))
        if self.stride == 1:
            return F.relu(x + y)
        return F.relu(torch.cat([F.avg_pool2d(x, 3, 2, 1), y], 1))


class ShuffleNetV1(nn.Module):
    """ShuffleNet v1, g=3, scale 0.5x (stage widths 120-240-480), repeats
    4-8-4 as published."""

    def __init__(self, groups=3, widths=(120, 240, 480), repeats=(4, 8, 4), num_classes=10):
        super().__init__()
        self.stem = conv_bn(3, 24, 3, 2)
        self.pool = nn.MaxPool2d(3, 2, 1)
        units, c = [], 24
        for i, (w, r) in enumerate(zip(widths, repeats)):
            for j in range(r):
                units.append(ShuffleUnitV1(c, w, 2 if j == 0 else 1, groups, first_group=not (i == 0 and j == 0)))
                c = w
        self.units = nn.Sequential(*units)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.units(self.pool(self.stem(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class RepVGGBlock(nn.Module):
    """RepVGG train-time block (Ding et al. 2021): relu(BN(conv3x3(x)) +
    BN(conv1x1(x)) + BN(x)); the identity branch exists only when the
    shapes allow (same channels, stride 1). Kept unmerged so the engine's
    own branch merge / BN folding is what gets tested."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.b3 = conv_bn(cin, cout, 3, stride, act=None)
        self.b1 = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))
        self.bid = nn.BatchNorm2d(cout) if cin == cout and stride == 1 else None

    def forward(self, x):
        y = self.b3(x) + self.b1(x)
        if self.bid is not None:
            y = y + self.bid(x)
        return F.relu(y)


class RepVGG(nn.Module):
    """RepVGG-A0 as published: stages of 1, 2, 4, 14, 1 blocks, widths
    48, 48, 96, 192, 1280 (a = 0.75, b = 2.5), the first block of each
    stage with stride 2; global average pool, FC."""

    def __init__(self, blocks=(1, 2, 4, 14, 1), widths=(48, 48, 96, 192, 1280), num_classes=10):
        super().__init__()
        layers, c = [], 3
        for n, w in zip(blocks, widths):
            for j in range(n):
                layers.append(RepVGGBlock(c, w, 2 if j == 0 else 1))
                c = w
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.body(x), 1), 1))


class CSPStage(nn.Module):
    """Cross Stage Partial stage (Wang et al. 2019, CSPDarknet form): a
    3x3/2 downsample, then the features split by two 1x1 convs; one part
    runs through residual bottlenecks, the other bypasses; the two are
    concatenated and fused by a 1x1 transition conv. LeakyReLU(0.1) as in
    darknet."""

    def __init__(self, cin, cout, n):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.1)  # noqa: E731
        h = cout // 2
        self.down = conv_bn(cin, cout, 3, 2, act=act)
        self.part1 = conv_bn(cout, h, 1, act=act)
        self.part2 = conv_bn(cout, h, 1, act=act)
        self.blocks = nn.ModuleList(
            nn.Sequential(conv_bn(h, h, 1, act=act), conv_bn(h, h, 3, act=act)) for _ in range(n))
        self.post = conv_bn(h, h, 1, act=act)
        self.trans = conv_bn(2 * h, cout, 1, act=act)

    def forward(self, x):
        x = self.down(x)
        a, b = self.part1(x), self.part2(x)
        for blk in self.blocks:
            b = b + blk(b)
        return self.trans(torch.cat([self.post(b), a], 1))


class CSPNet(nn.Module):
    """A small CSPDarknet-style classifier: stem, four CSP stages."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = conv_bn(3, 16, 3, 1, act=lambda: nn.LeakyReLU(0.1))
        self.stages = nn.Sequential(CSPStage(16, 32, 1), CSPStage(32, 64, 2), CSPStage(64, 128, 2),
                                    CSPStage(128, 256, 1))
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class OSAModule(nn.Module):
    """VoVNet one-shot aggregation module (Lee et al. 2019): a chain of 3x3
    convs whose outputs, together with the module input, are concatenated
    once and aggregated by a 1x1 conv; then effective squeeze-excitation
    (VoVNetV2's eSE: global pool, 1x1 conv, hard sigmoid gate) and an
    identity residual where shapes allow."""

    def __init__(self, cin, mid, cout, layers=3, residual=False):
        super().__init__()
        self.convs = nn.ModuleList()
        c = cin
        for _ in range(layers):
            self.convs.append(conv_bn(c, mid, 3))
            c = mid
        self.concat = conv_bn(cin + layers * mid, cout, 1)
        self.ese = nn.Conv2d(cout, cout, 1)
        self.residual = residual

    def forward(self, x):
        outs, y = [x], x
        for c in self.convs:
            y = c(y)
            outs.append(y)
        y = self.concat(torch.cat(outs, 1))
        y = y * F.hardsigmoid(self.ese(F.adaptive_avg_pool2d(y, 1)))
        return y + x if self.residual else y


class VoVNet(nn.Module):
    """A small VoVNet-style classifier: a stem, OSA stages separated by 3x3/2
    max pooling (ceil mode, as in the reference code)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 32, 3, 2), conv_bn(32, 32, 3), conv_bn(32, 64, 3, 2))
        self.stage2 = OSAModule(64, 32, 64, residual=True)
        self.stage3 = nn.Sequential(OSAModule(64, 48, 128), OSAModule(128, 48, 128, residual=True))
        self.stage4 = OSAModule(128, 64, 192)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.fc = nn.Linear(192, num_classes)

    def forward(self, x):
        x = self.stage2(self.stem(x))
        x = self.stage3(self.pool(x))
        x = self.stage4(self.pool(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def cbs(cin, cout, k=1, s=1):
    """YOLOv5's Conv: conv + BN + SiLU."""
    return conv_bn(cin, cout, k, s, act=nn.SiLU)


class C3(nn.Module):
    """YOLOv5's C3 (a CSP bottleneck with 3 convs)."""

    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        h = cout // 2
        self.cv1, self.cv2, self.cv3 = cbs(cin, h), cbs(cin, h), cbs(2 * h, cout)
        self.m = nn.ModuleList(nn.Sequential(cbs(h, h), cbs(h, h, 3)) for _ in range(n))
        self.shortcut = shortcut

    def forward(self, x):
        a = self.cv1(x)
        for m in self.m:
            a = a + m(a) if self.shortcut else m(a)
        return self.cv3(torch.cat([a, self.cv2(x)], 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5/1 max pools (pad 2)
    whose outputs are concatenated with their input."""

    def __init__(self, cin, cout):
        super().__init__()
        h = cin // 2
        self.cv1, self.cv2 = cbs(cin, h), cbs(4 * h, cout)
        self.pool = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        return self.cv2(torch.cat([x, y1, y2, self.pool(y2)], 1))


class YOLOish(nn.Module):
    """A small YOLOv5-style detector: SiLU backbone with C3 blocks and SPPF,
    an FPN neck with nearest 2x upsampling (Resize) and Concat, a
    LeakyReLU(0.1) conv before each head (darknet style), and two 1x1 heads
    (strides 16 and 32) with 3 anchors x (5 + 4 classes) channels each. Two
    graph outputs."""

    def __init__(self, num_out=3 * (5 + 4)):
        super().__init__()
        self.b1 = nn.Sequential(cbs(3, 16, 3, 2), cbs(16, 32, 3, 2), C3(32, 32), cbs(32, 64, 3, 2), C3(64, 64, 2))
        self.b2 = nn.Sequential(cbs(64, 96, 3, 2), C3(96, 96))
        self.b3 = nn.Sequential(cbs(96, 128, 3, 2), C3(128, 128), SPPF(128, 128))
        self.lat = cbs(128, 96)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.fuse = C3(192, 96, shortcut=False)
        self.pre16 = conv_bn(96, 96, 3, act=lambda: nn.LeakyReLU(0.1))
        self.pre32 = conv_bn(96, 96, 3, act=lambda: nn.LeakyReLU(0.1))
        self.head16 = nn.Conv2d(96, num_out, 1)
        self.head32 = nn.Conv2d(96, num_out, 1)

    def forward(self, x):
        p3 = self.b1(x)
        p4 = self.b2(p3)
        p5 = self.lat(self.b3(p4))
        f4 = self.fuse(torch.cat([self.up(p5), p4], 1))
        return self.head16(self.pre16(f4)), self.head32(self.pre32(p5))


class FCN(nn.Module):
    """An FCN-style segmenter (Long et al. 2015, FCN-16s form): a VGG-like
    encoder (conv-BN-ReLU, 2x2 max pools to stride 32), a 1x1 class scorer,
    a learned 2x ConvTranspose upsampling fused with the stride-16 scores,
    then a 16x ConvTranspose back to the input size."""

    def __init__(self, num_classes=5):
        super().__init__()
        def stage(cin, cout, n):
            layers = []
            for i in range(n):
                layers.append(conv_bn(cin if i == 0 else cout, cout, 3))
            return nn.Sequential(*layers, nn.MaxPool2d(2, 2))
        self.s1, self.s2, self.s3 = stage(3, 16, 1), stage(16, 32, 1), stage(32, 48, 2)
        self.s4, self.s5 = stage(48, 64, 2), stage(64, 64, 2)
        self.score5 = nn.Conv2d(64, num_classes, 1)
        self.score4 = nn.Conv2d(64, num_classes, 1)
        self.up2 = nn.ConvTranspose2d(num_classes, num_classes, 4, 2, 1, bias=False)
        self.up16 = nn.ConvTranspose2d(num_classes, num_classes, 32, 16, 8, bias=True)

    def forward(self, x):
        p4 = self.s4(self.s3(self.s2(self.s1(x))))
        s = self.up2(self.score5(self.s5(p4))) + self.score4(p4)
        return self.up16(s)
