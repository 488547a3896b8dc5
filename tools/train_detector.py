#!/usr/bin/python3
"""Train a tiny YOLO-style shape detector on synthetic scenes and export it to ONNX.

The network (about 0.16M parameters, input 1x3x128x128, RGB in [0,1]):
Conv-BN-SiLU stem, C2f stages, SPPF, a two-level FPN/PAN neck (strides 8
and 16), a decoupled anchor-free head per level (box branch predicting a
distribution over 0..REG_MAX-1 per side, read by its expectation as in
YOLOv8's DFL; class branch with sigmoid scores). The exported graph holds
the whole post-processing: box decoding, the best class per box, a score
threshold, class-aware NonMaxSuppression (torchvision.ops.batched_nms) and
the first MAX_DET kept boxes; its one output `detections` is float32 [N,6],
each row x1,y1,x2,y2,score,class in the 128x128 input's pixels.

Data: scenes drawn by the script with PIL and numpy (no downloads): 0-5
objects of 5 classes (ellipse, rectangle, triangle, cross, ring), random
size, aspect, rotation, colour and position, on textured backgrounds
(gradients, value noise, stripes). Deterministic: fixed seeds, a fixed
thread count; CPU, a few minutes.

Writes (into demo/detect, or --out):
  detector.onnx           the exported model (opset 13)
  labels.txt              the class names, one a line (engine-run --labels)
  scene_<k>_<W>x<H>.png   sample scenes at several sizes (engine-run resizes them)
  truth.json              their objects: {"file": [{"box": [x1,y1,x2,y2], "label": id}, ...]}
  README.md               how these were made; accuracy on the held-out scenes

Usage: /usr/bin/python3 tools/train_detector.py [--out demo/detect] [--steps 3000] [--threads 2]
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image, ImageDraw

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_models import SPPF, cbs  # noqa: E402  (Conv-BN-SiLU and SPPF, shared with the zoo's YOLO)

SEED = 0
SIZE = 128            # network input (square)
CLASSES = ["ellipse", "rectangle", "triangle", "cross", "ring"]
REG_MAX = 8           # distance bins per box side (0..7 strides)
STRIDES = (8, 16)
CONF_THRESH = 0.25    # in the exported graph
IOU_THRESH = 0.45
MAX_DET = 100
SAMPLE_SIZES = [(128, 128), (256, 256), (320, 240), (240, 320), (400, 300), (200, 200)]


# ---------------------------------------------------------------- data

def background(rng, w, h):
    """A textured background, float32 [h,w,3] in 0..255."""
    base = rng.uniform(20, 235, size=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.broadcast_to(base, (h, w, 3)).astype(np.float32).copy()
    # a linear gradient in a random direction
    ang = rng.uniform(0, 2 * math.pi)
    g = (np.cos(ang) * xx / w + np.sin(ang) * yy / h)[..., None]
    img += g * rng.uniform(-60, 60, size=3)
    # value noise: a coarse random grid, bilinearly upscaled
    cells = int(rng.integers(3, 12))
    noise = rng.uniform(-1, 1, size=(cells, cells, 3)).astype(np.float32)
    noise = np.asarray(Image.fromarray(((noise + 1) * 127.5).astype(np.uint8)).resize((w, h), Image.BILINEAR),
                       dtype=np.float32) / 127.5 - 1
    img += noise * rng.uniform(0, 45)
    if rng.random() < 0.35:  # stripes
        period = rng.uniform(6, 30) * w / SIZE
        ang = rng.uniform(0, math.pi)
        s = np.sin((np.cos(ang) * xx + np.sin(ang) * yy) * 2 * math.pi / period)[..., None]
        img += s * rng.uniform(5, 30)
    img += rng.normal(0, rng.uniform(0, 6), size=img.shape)  # grain
    return np.clip(img, 0, 255)


def rotated(points, angle, cx, cy):
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]


def shape_polygons(rng, cls, cx, cy, rw, rh):
    """The polygons (lists of points, 128-space) of one object; ellipses are
    ('ellipse', box) entries. Returns (parts, holes)."""
    ang = rng.uniform(0, math.pi) if rng.random() < 0.6 else 0.0
    if cls == 0:  # ellipse (axis-aligned)
        return [("ellipse", (cx - rw, cy - rh, cx + rw, cy + rh))], []
    if cls == 1:  # rectangle
        return [("poly", rotated([(-rw, -rh), (rw, -rh), (rw, rh), (-rw, rh)], ang, cx, cy))], []
    if cls == 2:  # triangle: three points on the ellipse at jittered angles
        a0 = rng.uniform(0, 2 * math.pi)
        pts = [(rw * math.cos(a0 + k * 2 * math.pi / 3 + rng.uniform(-0.3, 0.3)),
                rh * math.sin(a0 + k * 2 * math.pi / 3 + rng.uniform(-0.3, 0.3))) for k in range(3)]
        return [("poly", [(cx + x, cy + y) for x, y in pts])], []
    if cls == 3:  # cross: two bars
        t = rng.uniform(0.25, 0.4)
        bar1 = [(-rw, -rh * t), (rw, -rh * t), (rw, rh * t), (-rw, rh * t)]
        bar2 = [(-rw * t, -rh), (rw * t, -rh), (rw * t, rh), (-rw * t, rh)]
        return [("poly", rotated(bar1, ang, cx, cy)), ("poly", rotated(bar2, ang, cx, cy))], []
    # ring: an ellipse with an elliptic hole
    k = rng.uniform(0.45, 0.65)
    return [("ellipse", (cx - rw, cy - rh, cx + rw, cy + rh))], \
        [("ellipse", (cx - rw * k, cy - rh * k, cx + rw * k, cy + rh * k))]


def part_box(part):
    kind, geo = part
    if kind == "ellipse":
        return geo
    xs, ys = [p[0] for p in geo], [p[1] for p in geo]
    return (min(xs), min(ys), max(xs), max(ys))


def iou_1n(box, boxes):
    if len(boxes) == 0:
        return np.zeros(0)
    b = np.asarray(boxes, dtype=np.float64)
    ix = np.clip(np.minimum(box[2], b[:, 2]) - np.maximum(box[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], b[:, 3]) - np.maximum(box[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)


def make_scene(rng, max_objects=5):
    """A scene description in 128-space: background seed and objects."""
    n = int(rng.integers(0, max_objects + 1))
    objects, boxes = [], []
    for _ in range(n * 4):
        if len(objects) == n:
            break
        cls = int(rng.integers(0, len(CLASSES)))
        r = rng.uniform(6, 26)
        aspect = math.exp(rng.uniform(-0.35, 0.35))
        rw, rh = r * aspect, r / aspect
        cx, cy = rng.uniform(rw + 1, SIZE - rw - 1), rng.uniform(rh + 1, SIZE - rh - 1)
        parts, holes = shape_polygons(rng, cls, cx, cy, rw, rh)
        bs = [part_box(p) for p in parts]
        box = (max(0.0, min(b[0] for b in bs)), max(0.0, min(b[1] for b in bs)),
               min(float(SIZE), max(b[2] for b in bs)), min(float(SIZE), max(b[3] for b in bs)))
        if box[2] - box[0] < 5 or box[3] - box[1] < 5:
            continue
        if len(boxes) and iou_1n(box, boxes).max() > 0.15:
            continue
        colour = rng.uniform(0, 255, size=3)
        objects.append({"cls": cls, "parts": parts, "holes": holes, "colour": colour,
                        "shade": rng.uniform(-40, 40), "noise": rng.uniform(0, 10)})
        boxes.append(box)
    return {"bg_seed": int(rng.integers(0, 2**31)), "objects": objects, "boxes": boxes}


def render(scene, w=SIZE, h=SIZE, supersample=2):
    """Draws a scene at w x h (objects scaled from 128-space); uint8 [h,w,3]
    and the boxes scaled to w x h."""
    rng = np.random.default_rng(scene["bg_seed"])
    W, H = w * supersample, h * supersample
    sx, sy = W / SIZE, H / SIZE
    img = background(rng, W, H)
    for obj in scene["objects"]:
        mask = Image.new("L", (W, H), 0)
        d = ImageDraw.Draw(mask)
        for fill, group in ((255, obj["parts"]), (0, obj["holes"])):
            for kind, geo in group:
                if kind == "ellipse":
                    d.ellipse([geo[0] * sx, geo[1] * sy, geo[2] * sx, geo[3] * sy], fill=fill)
                else:
                    d.polygon([(x * sx, y * sy) for x, y in geo], fill=fill)
        m = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
        # make sure the object stands out from what is under it
        under = (img * m).sum((0, 1)) / max(m.sum(), 1.0)
        colour = obj["colour"].copy()
        if np.abs(colour - under).sum() < 150:
            colour = np.where(under > 127, under - rng.uniform(110, 160, 3), under + rng.uniform(110, 160, 3))
        yy = np.linspace(-1, 1, H, dtype=np.float32)[:, None, None]
        fill = colour + yy * obj["shade"] + rng.normal(0, obj["noise"], size=(H, W, 3))
        img = img * (1 - m) + np.clip(fill, 0, 255) * m
    out = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8)).resize((w, h), Image.BOX)
    bx, by = w / SIZE, h / SIZE
    boxes = [(b[0] * bx, b[1] * by, b[2] * bx, b[3] * by) for b in scene["boxes"]]
    return np.asarray(out), boxes


def make_set(seed, count):
    rng = np.random.default_rng(seed)
    xs = np.zeros((count, SIZE, SIZE, 3), np.uint8)
    targets = []
    for i in range(count):
        scene = make_scene(rng)
        xs[i], boxes = render(scene)
        targets.append(np.array([[o["cls"], *b] for o, b in zip(scene["objects"], boxes)],
                                np.float32).reshape(-1, 5))
    return xs, targets


# ---------------------------------------------------------------- model

def fold_batchnorm(net):
    """Folds every BatchNorm that follows a convolution in an nn.Sequential
    (zoo_models.cbs: conv, BN, SiLU) into the convolution's weights and a
    bias, with the eval statistics; the BN becomes an Identity."""
    for seq in net.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        for k in range(len(seq) - 1):
            conv, bn = seq[k], seq[k + 1]
            if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
                continue
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              groups=conv.groups, bias=True)
            with torch.no_grad():
                fused.weight.copy_(conv.weight * scale[:, None, None, None])
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
            seq[k], seq[k + 1] = fused, nn.Identity()
    return net


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1, self.cv2 = cbs(c, c, 3), cbs(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """YOLOv8's C2f: split in two halves, a chain of bottlenecks on one,
    every intermediate concatenated, a 1x1 to mix."""

    def __init__(self, cin, cout, n=1, shortcut=True):
        super().__init__()
        self.c = cout // 2
        self.cv1 = cbs(cin, 2 * self.c)
        self.cv2 = cbs((2 + n) * self.c, cout)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Head(nn.Module):
    """Decoupled head of one level: box distribution and class logits."""

    def __init__(self, cin, nc, c=16):
        super().__init__()
        self.box = nn.Sequential(cbs(cin, c, 3), cbs(c, c, 3), nn.Conv2d(c, 4 * REG_MAX, 1))
        self.cls = nn.Sequential(cbs(cin, c, 3), cbs(c, c, 3), nn.Conv2d(c, nc, 1))

    def forward(self, x):
        return self.box(x), self.cls(x)


class TinyYolo(nn.Module):
    def __init__(self, nc=len(CLASSES)):
        super().__init__()
        self.nc = nc
        self.stem = nn.Sequential(cbs(3, 8, 3, 2), cbs(8, 16, 3, 2), C2f(16, 16))           # /4
        self.p3 = nn.Sequential(cbs(16, 32, 3, 2), C2f(32, 32))                             # /8
        self.p4 = nn.Sequential(cbs(32, 64, 3, 2), C2f(64, 64), SPPF(64, 64))               # /16
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n3 = C2f(64 + 32, 32, shortcut=False)
        self.down = cbs(32, 32, 3, 2)
        self.n4 = C2f(32 + 64, 64, shortcut=False)
        self.heads = nn.ModuleList([Head(32, nc), Head(64, nc)])
        for h in self.heads:  # a prior of 1% for every class score
            nn.init.constant_(h.cls[-1].bias, -math.log(99.0))

    def forward(self, x):
        """Raw outputs: box distribution logits [B,A,4,REG_MAX], class logits [B,A,nc]."""
        c3 = self.p3(self.stem(x))
        c4 = self.p4(c3)
        n3 = self.n3(torch.cat([self.up(c4), c3], 1))
        n4 = self.n4(torch.cat([self.down(n3), c4], 1))
        boxes, logits = [], []
        for feat, head in zip((n3, n4), self.heads):
            b, c = head(feat)
            boxes.append(b.flatten(2))
            logits.append(c.flatten(2))
        box = torch.cat(boxes, 2).transpose(1, 2)  # [B,A,4*REG_MAX]
        cls = torch.cat(logits, 2).transpose(1, 2)  # [B,A,nc]
        return box.reshape(box.shape[0], -1, 4, REG_MAX), cls


def anchor_points(size=SIZE):
    """Anchor centres [A,2] (x,y in input pixels) and their strides [A,1], level by level."""
    pts, strides = [], []
    for s in STRIDES:
        n = size // s
        ys, xs = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32),
                                indexing="ij")
        pts.append(torch.stack([xs, ys], -1).reshape(-1, 2) * s + s / 2)
        strides.append(torch.full((n * n, 1), float(s)))
    return torch.cat(pts), torch.cat(strides)


def decode(box_logits, anchors, strides):
    """ltrb distances as the expectation of each side's distribution -> x1y1x2y2."""
    bins = torch.arange(REG_MAX, dtype=torch.float32)
    dist = (box_logits.softmax(-1) * bins).sum(-1) * strides  # [B,A,4]
    return torch.cat([anchors - dist[..., :2], anchors + dist[..., 2:]], -1)


class Deploy(nn.Module):
    """The network with its post-processing, for one image: [N,6] detections."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        anchors, strides = anchor_points()
        self.register_buffer("anchors", anchors)
        self.register_buffer("strides", strides)

    def forward(self, x):
        box_logits, cls_logits = self.net(x)
        boxes = decode(box_logits, self.anchors, self.strides)[0]  # [A,4]
        scores = cls_logits[0].sigmoid()
        score, label = scores.max(1)
        keep = score > CONF_THRESH
        boxes, score, label = boxes[keep], score[keep], label[keep]
        kept = torchvision.ops.batched_nms(boxes, score, label, IOU_THRESH)[:MAX_DET]
        return torch.cat([boxes[kept], score[kept, None], label[kept, None].float()], 1)


# ---------------------------------------------------------------- training

def box_iou_pairs(a, b):
    """IoU and GIoU of matching rows of a and b ([N,4] x1y1x2y2)."""
    ix1, iy1 = torch.max(a[:, 0], b[:, 0]), torch.max(a[:, 1], b[:, 1])
    ix2, iy2 = torch.min(a[:, 2], b[:, 2]), torch.min(a[:, 3], b[:, 3])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    cx1, cy1 = torch.min(a[:, 0], b[:, 0]), torch.min(a[:, 1], b[:, 1])
    cx2, cy2 = torch.max(a[:, 2], b[:, 2]), torch.max(a[:, 3], b[:, 3])
    hull = (cx2 - cx1) * (cy2 - cy1) + 1e-7
    return iou, iou - (hull - union) / hull


def assign(targets, anchors, strides, radius=2.5):
    """Static centre-sampling assignment: an anchor is positive for a box when
    its centre lies inside the box, within radius strides of the box centre,
    and the box's farthest side is within what its level represents
    (REG_MAX - 1 strides) and not tiny for the coarser level; an anchor
    claimed by several boxes takes the smallest. Returns, per anchor, the
    box index (-1 for none)."""
    A = anchors.shape[0]
    if targets.shape[0] == 0:
        return torch.full((A,), -1, dtype=torch.long)
    b = targets[:, 1:]  # [T,4]
    ax, ay = anchors[:, 0:1], anchors[:, 1:2]  # [A,1]
    l, t = ax - b[None, :, 0], ay - b[None, :, 1]
    r, btm = b[None, :, 2] - ax, b[None, :, 3] - ay
    ltrb = torch.stack([l, t, r, btm], -1)  # [A,T,4]
    inside = ltrb.min(-1).values > 0.5
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    near = ((ax - cx[None]).abs() < radius * strides) & ((ay - cy[None]).abs() < radius * strides)
    far = ltrb.max(-1).values
    fits = far < (REG_MAX - 1) * strides
    level_ok = fits & ((strides == STRIDES[0]) | (far > 1.5 * STRIDES[0]))
    ok = inside & near & level_ok
    # a box whose centre anchor misses every test still gets its nearest anchor on the fine level
    area = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))[None].expand(A, -1)
    cost = torch.where(ok, area, torch.full_like(area, float("inf")))
    best = cost.min(1)
    idx = torch.where(torch.isfinite(best.values), best.indices, torch.full_like(best.indices, -1))
    for k in range(b.shape[0]):
        if not (idx == k).any():
            d = (ax[:, 0] - cx[k]) ** 2 + (ay[:, 0] - cy[k]) ** 2 + (strides[:, 0] != STRIDES[0]) * 1e6
            idx[int(d.argmin())] = k
    return idx


def loss_fn(net, x, targets, anchors, strides):
    """Classification: BCE against IoU-aware targets (a positive anchor's
    target for its box's class is the IoU its predicted box reaches, so that
    scores rank boxes by how well they fit); boxes: GIoU loss and the
    distribution focal loss of DFL; each summed and divided by the positives."""
    box_logits, cls_logits = net(x)
    bi, ai, gts = [], [], []
    for i in range(len(targets)):
        idx = assign(targets[i], anchors, strides)
        pos = torch.nonzero(idx >= 0)[:, 0]
        if len(pos):
            bi.append(torch.full_like(pos, i))
            ai.append(pos)
            gts.append(targets[i][idx[pos]])
    cls_t = torch.zeros_like(cls_logits)
    if not bi:
        cls_loss = F.binary_cross_entropy_with_logits(cls_logits, cls_t, reduction="sum")
        return cls_loss, cls_loss.detach(), torch.zeros(())
    bi, ai, gt = torch.cat(bi), torch.cat(ai), torch.cat(gts)
    npos = len(ai)
    pred = box_logits[bi, ai]  # [P,4,REG_MAX]
    anc, st = anchors[ai], strides[ai]
    box = decode(pred[None], anc, st)[0]
    iou, giou = box_iou_pairs(box, gt[:, 1:])
    cls_t[bi, ai, gt[:, 0].long()] = iou.detach().clamp(min=0.0)
    cls_loss = F.binary_cross_entropy_with_logits(cls_logits, cls_t, reduction="sum") / npos
    box_loss = (1 - giou).sum() / npos
    # distribution focal loss: the target distance (in strides) split between its two bins
    tdist = torch.cat([anc - gt[:, 1:3], gt[:, 3:5] - anc], 1) / st
    tdist = tdist.clamp(0, REG_MAX - 1 - 1e-3)
    lo = tdist.floor().long()
    wl = lo + 1 - tdist
    logp = pred.log_softmax(-1)
    dfl = -(logp.gather(-1, lo[..., None])[..., 0] * wl + logp.gather(-1, (lo + 1)[..., None])[..., 0] * (1 - wl))
    dfl_loss = dfl.mean(-1).sum() / npos
    return cls_loss + 2.5 * box_loss + 0.5 * dfl_loss, cls_loss.detach(), iou.detach().mean()


# ---------------------------------------------------------------- evaluation

def to_tensor(xs):
    return torch.from_numpy(xs).permute(0, 3, 1, 2).float() / 255.0


def predict(net, xs, conf=CONF_THRESH, batch=64):
    """Post-processing as in the exported graph, per image: list of [N,6] arrays."""
    deploy = Deploy(net).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(xs), batch):
            box_logits, cls_logits = net(to_tensor(xs[i:i + batch]))
            boxes = decode(box_logits, deploy.anchors, deploy.strides)
            for b, c in zip(boxes, cls_logits.sigmoid()):
                score, label = c.max(1)
                keep = score > conf
                b, score, label = b[keep], score[keep], label[keep]
                kept = torchvision.ops.batched_nms(b, score, label, IOU_THRESH)[:MAX_DET]
                out.append(torch.cat([b[kept], score[kept, None], label[kept, None].float()], 1).numpy())
    return out


def match(dets, truth, iou_thresh=0.5):
    """Greedy matching in score order, same class: per detection 1 (true
    positive) or 0, and the number of truths found."""
    used = np.zeros(len(truth), bool)
    tp = np.zeros(len(dets))
    for k in np.argsort(-dets[:, 4], kind="stable"):
        d = dets[k]
        cand = [j for j in range(len(truth)) if not used[j] and int(truth[j, 0]) == int(d[5])]
        if not cand:
            continue
        ious = iou_1n(d[:4], truth[cand, 1:])
        j = int(np.argmax(ious))
        if ious[j] >= iou_thresh:
            used[cand[j]] = True
            tp[k] = 1
    return tp, int(used.sum())


def evaluate(all_dets, targets, nc=len(CLASSES)):
    """mAP@0.5 (all-point interpolated AP per class, averaged), precision and recall."""
    aps = []
    for c in range(nc):
        scores, tps, ntruth = [], [], 0
        for dets, truth in zip(all_dets, targets):
            d = dets[dets[:, 5] == c]
            t = truth[truth[:, 0] == c]
            ntruth += len(t)
            tp, _ = match(d, t)
            scores.extend(d[:, 4].tolist())
            tps.extend(tp.tolist())
        if ntruth == 0:
            continue
        order = np.argsort(-np.asarray(scores), kind="stable")
        tp = np.asarray(tps)[order]
        ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
        rec = ctp / ntruth
        prec = ctp / np.maximum(ctp + cfp, 1e-9)
        mrec = np.concatenate([[0], rec, [1]])
        mpre = np.concatenate([[1], prec, [0]])
        for k in range(len(mpre) - 2, -1, -1):
            mpre[k] = max(mpre[k], mpre[k + 1])
        steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
        aps.append(float(((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]).sum()))
    return float(np.mean(aps)) if aps else 0.0


def precision_recall(all_dets, targets):
    ntp = nd = nt = 0
    for dets, truth in zip(all_dets, targets):
        tp, found = match(dets, truth)
        ntp += int(tp.sum())
        nd += len(dets)
        nt += len(truth)
    return ntp / max(nd, 1), ntp / max(nt, 1), ntp, nd, nt


# ---------------------------------------------------------------- main

def seed_everything(seed, threads):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def train(net, xs, targets, steps, batch, lr, log):
    anchors, strides = anchor_points()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(SEED)
    n = len(xs)
    perm = torch.randperm(n, generator=g)
    pos = 0
    t0 = time.time()
    net.train()
    for step in range(steps):
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=g), 0
        idx = perm[pos:pos + batch].tolist()
        pos += batch
        x = to_tensor(xs[idx])
        tg = [torch.from_numpy(targets[i]).clone() for i in idx]
        # flips (horizontal and vertical): boxes follow
        flip = torch.rand(2, generator=g)
        if flip[0] < 0.5:
            x = x.flip(3)
            for t in tg:
                t[:, [1, 3]] = SIZE - t[:, [3, 1]]
        if flip[1] < 0.5:
            x = x.flip(2)
            for t in tg:
                t[:, [2, 4]] = SIZE - t[:, [4, 2]]
        loss, cls_loss, iou = loss_fn(net, x, tg, anchors, strides)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step:5d}/{steps}  loss {loss.item():.3f}  cls {cls_loss.item():.3f}  "
                f"iou {float(iou):.3f}  {time.time() - t0:.0f} s")


def export(net, path):
    deploy = Deploy(net).eval()
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(deploy, dummy, path, opset_version=13, input_names=["images"],
                          output_names=["detections"], dynamic_axes={"detections": {0: "n"}},
                          do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    import onnx
    onnx.checker.check_model(onnx.load(path))


def load_onnx_weights(net, path):
    """Loads weights exported by export() (BatchNorm folded) back into a
    TinyYolo: the graph's initializers carry the parameters' names."""
    import onnx
    from onnx import numpy_helper
    fold_batchnorm(net.eval())
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    state = net.state_dict()
    missing = []
    for name in state:
        key = "net." + name
        if key in inits and tuple(inits[key].shape) == tuple(state[name].shape):
            state[name] = torch.from_numpy(inits[key].copy())
        else:
            missing.append(name)
    if missing:
        raise RuntimeError(f"{path}: no initializer for {', '.join(missing[:5])}"
                           f"{' ...' if len(missing) > 5 else ''}")
    net.load_state_dict(state)
    return net.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "demo", "detect"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--train-images", type=int, default=4000)
    ap.add_argument("--test-images", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    seed_everything(SEED, args.threads)
    t0 = time.time()
    xs, targets = make_set(1, args.train_images)
    xte, tte = make_set(2, args.test_images)
    print(f"data: {len(xs)} training and {len(xte)} held-out scenes in {time.time() - t0:.0f} s")
    net = TinyYolo()
    nparams = sum(p.numel() for p in net.parameters())
    print(f"model: {nparams} parameters")
    t1 = time.time()
    train(net, xs, targets, args.steps, args.batch, args.lr, lambda m: print(m, flush=True))
    train_s = time.time() - t1
    fold_batchnorm(net.eval())
    dets = predict(net, xte, conf=0.01)
    map50 = evaluate(dets, tte)
    dets = predict(net, xte)
    prec, rec, ntp, nd, nt = precision_recall(dets, tte)
    print(f"training: {train_s:.0f} s; held-out ({len(xte)} scenes, {nt} objects): mAP@0.5 {map50:.3f}; "
          f"at score > {CONF_THRESH}: precision {prec:.3f} recall {rec:.3f} ({ntp} of {nd} detections right)")

    out = args.out
    os.makedirs(out, exist_ok=True)
    onnx_path = os.path.join(out, "detector.onnx")
    export(net, onnx_path)
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("".join(c + "\n" for c in CLASSES))
    for f in os.listdir(out):
        if f.startswith("scene_") and f.endswith(".png"):
            os.remove(os.path.join(out, f))
    rng = np.random.default_rng(3)
    truth = {}
    for k, (w, h) in enumerate(SAMPLE_SIZES):
        scene = make_scene(rng)
        while len(scene["objects"]) < 2:
            scene = make_scene(rng)
        img, boxes = render(scene, w, h)
        name = f"scene_{k}_{w}x{h}.png"
        Image.fromarray(img).save(os.path.join(out, name))
        truth[name] = [{"box": [round(v, 2) for v in b], "label": o["cls"]}
                       for o, b in zip(scene["objects"], boxes)]
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")

    # The exported graph, run by PyTorch on the held-out scenes, agrees with predict().
    reloaded = Deploy(load_onnx_weights(TinyYolo(), onnx_path)).eval()
    with torch.no_grad():
        for i in range(5):
            a = reloaded(to_tensor(xte[i:i + 1])).numpy()
            if a.shape != dets[i].shape or not np.allclose(a, dets[i], rtol=1e-4, atol=1e-3):
                print(f"error: the reloaded weights disagree on held-out scene {i}", file=sys.stderr)
                return 1

    with open(os.path.join(out, "README.md"), "w") as fh:
        fh.write(f"""# Demo assets: a tiny YOLO-style shape detector

Made by `/usr/bin/python3 tools/train_detector.py` (deterministic: fixed
seeds, {args.threads} threads; CPU, {train_s / 60:.0f} minutes of training here; no downloads).
`tools/demo_detect.sh` runs it on the sample scenes with engine-run.

Data: synthetic 128x128 scenes drawn by the script: 0 to 5 objects of
{len(CLASSES)} classes ({", ".join(CLASSES)}) with random size (12 to 52
pixels), aspect, rotation, colour and shading, on textured backgrounds
(gradient, value noise, stripes, grain); {args.train_images} training scenes,
each batch flipped at random; {args.test_images} held-out scenes.

Model: {nparams} parameters. Conv-BN-SiLU, C2f blocks, SPPF, an FPN/PAN neck
over strides 8 and 16, a decoupled anchor-free head per level (box sides as
distributions over {REG_MAX} bins, read by their expectation; sigmoid class
scores). Positives: anchors inside a box and within 2.5 strides of its
centre, on the levels that can represent it; loss: BCE against IoU-aware
class targets, GIoU and DFL. {args.steps} AdamW steps of batch {args.batch}, one-cycle
LR up to {args.lr}. BatchNorm is folded into the convolutions before export.

Held-out accuracy (PyTorch, {nt} objects in {len(xte)} scenes): **mAP@0.5 = {map50:.3f}**
(scores above 0.01); at the exported threshold (score > {CONF_THRESH}):
precision {prec:.3f}, recall {rec:.3f}.

| file | what |
| --- | --- |
| `detector.onnx` | opset 13; input `images` float32 [1,3,{SIZE},{SIZE}] (RGB / 255); output `detections` float32 [N,6]: x1,y1,x2,y2 (input pixels), score, class; decoding, score > {CONF_THRESH}, class-aware NMS (IoU {IOU_THRESH}) and the first {MAX_DET} inside the graph |
| `labels.txt` | the class names, in class order |
| `scene_<k>_<W>x<H>.png` | sample scenes drawn at W x H (not used in training) |
| `truth.json` | their objects, boxes in the scene's pixels |

`engine-run demo/detect/detector.onnx --image demo/detect/scene_1_256x256.png --labels demo/detect/labels.txt --json --draw out.png`
""")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
