#!/usr/bin/python3
"""Train LeNet-5 on sklearn's 8x8 digits and export the demo assets.

Deterministic (fixed seeds, one thread, deterministic algorithms); runs on
CPU in a few seconds, no downloads. Writes into demo/ (or --out):

  lenet5.onnx        opset 13, input 'input' [1,1,32,32], output 'logits' [1,10]
  lenet5_batch.onnx  the same network with the batch fixed to N (held-out size)
  heldout_x.npy      float32 [N,1,32,32], all held-out digits, values in [0,1]
  heldout_y.npy      int64 [N], their labels
  digits/digit_<i>_label<k>.png   one held-out sample per class, 32x32 8-bit
                     grayscale (= round(x*255)); preprocess with pixel/255
  README.md          what these are, how they were made, the accuracy

Usage: /usr/bin/python3 tools/train_lenet.py [--out demo] [--epochs 40] [--lr 3e-3]
"""
import argparse
import os
import random
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0


class LeNet5(nn.Module):
    """conv5x5(1->6) relu maxpool, conv5x5(6->16) relu maxpool, fc120, fc84, fc10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def load_data():
    """Digits 8x8 (0..16) -> [0,1] -> bilinear 32x32; stratified 80/20 split."""
    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x = x.clamp(0.0, 1.0).numpy().astype(np.float32)
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.2, random_state=0, stratify=y)
    return x[tr], y[tr], x[te], y[te], te


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    return float((pred == y).mean()), pred


def export(model, path, batch):
    dummy = torch.zeros(batch, 1, 32, 32)
    torch.onnx.export(model, dummy, path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    import onnx
    onnx.checker.check_model(onnx.load(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--out", default=os.path.join(root, "demo"))
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--lr", type=float, default=3e-3)
    args = ap.parse_args()

    seed_everything(SEED)
    xtr, ytr, xte, yte, te_idx = load_data()
    model = LeNet5()
    # AdamW + one-cycle LR; augment with a random +-2 pixel shift per batch.
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    batch = 64
    steps = args.epochs * ((len(ytr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    g = torch.Generator().manual_seed(SEED)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), batch):
            b = perm[i:i + batch]
            dx, dy = torch.randint(-2, 3, (2,), generator=g).tolist()
            xb = torch.roll(xt[b], (dy, dx), (2, 3))
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yt[b])
            loss.backward()
            opt.step()
            sched.step()
    acc, pred = accuracy(model, xte, yte)
    n = len(yte)
    print(f"PyTorch held-out accuracy: {int((pred == yte).sum())}/{n} = {acc * 100:.2f}%")
    if acc < 0.95:
        print("error: accuracy below 95%", file=sys.stderr)
        return 1

    out = args.out
    os.makedirs(os.path.join(out, "digits"), exist_ok=True)
    model.eval()
    export(model, os.path.join(out, "lenet5.onnx"), 1)
    export(model, os.path.join(out, "lenet5_batch.onnx"), n)
    np.save(os.path.join(out, "heldout_x.npy"), np.ascontiguousarray(xte, dtype=np.float32))
    np.save(os.path.join(out, "heldout_y.npy"), yte.astype(np.int64))

    for f in os.listdir(os.path.join(out, "digits")):
        if f.endswith(".png"):
            os.remove(os.path.join(out, "digits", f))
    # One held-out sample per class: the first one (in split order) of each label.
    pngs = []
    for k in range(10):
        j = int(np.nonzero(yte == k)[0][0])
        img = np.rint(xte[j, 0] * 255.0).clip(0, 255).astype(np.uint8)
        name = f"digit_{int(te_idx[j]):04d}_label{k}.png"
        Image.fromarray(img, mode="L").save(os.path.join(out, "digits", name))
        pngs.append(name)

    # Sanity: the PNGs, read back as pixel/255, classify as in the float data.
    with torch.no_grad():
        for name in pngs:
            a = np.asarray(Image.open(os.path.join(out, "digits", name)), dtype=np.float32) / 255.0
            p = int(model(torch.from_numpy(a)[None, None]).argmax(1))
            print(f"{name} -> predicted {p}")

    with open(os.path.join(out, "README.md"), "w") as fh:
        fh.write(f"""# Demo assets: LeNet-5 on sklearn digits

Made by `/usr/bin/python3 tools/train_lenet.py` (deterministic: fixed seeds,
one thread; CPU, a few seconds; no downloads). Run the demo with
`tools/demo.sh build/tools/engine-run`.

Data: `sklearn.datasets.load_digits` (1797 8x8 images, values 0..16), scaled
to [0,1] and upscaled to 32x32 with bilinear interpolation; stratified split
`train_test_split(test_size=0.2, random_state=0)`; {n} held-out digits.

Model: LeNet-5 (conv 5x5 1->6, ReLU, max-pool 2, conv 5x5 6->16, ReLU,
max-pool 2, fc 400->120, ReLU, fc 120->84, ReLU, fc 84->10); AdamW
(weight decay 1e-2), one-cycle LR up to {args.lr}, {args.epochs} epochs of
batch 64, each batch shifted by a random +-2 pixels.

PyTorch held-out accuracy: **{int((pred == yte).sum())}/{n} = {acc * 100:.2f}%**

| file | what |
| --- | --- |
| `lenet5.onnx` | opset 13, input `input` float32 [1,1,32,32], output `logits` [1,10] |
| `lenet5_batch.onnx` | the same weights, batch fixed to {n}: input [{n},1,32,32], output [{n},10] |
| `heldout_x.npy` | float32 [{n},1,32,32], every held-out digit, values in [0,1] |
| `heldout_y.npy` | int64 [{n}], their labels |
| `digits/digit_<index>_label<k>.png` | one held-out digit per class; 32x32 8-bit grayscale, `round(x*255)`; `<index>` is the row in `load_digits()` |

Preprocessing for the PNGs is pixel/255 only:
`engine-run demo/lenet5.onnx --image demo/digits/FILE.png --size 32 --mean 0 --std 1 --top 1`.
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())
