#!/usr/bin/python3
"""torchvision models exported the everyday way, with dynamic batch, height
and width (torch.onnx.export(..., dynamic_axes=...)), as cases for
tests/case_runner.c at several shapes each.

Usage: /usr/bin/python3 tests/dynamic/gen_tv_dynamic.py OUTDIR

For each model M and each shape NxHxW in SHAPES writes OUTDIR/M_NxHxW/:
  model.onnx      a link to OUTDIR/M.onnx: one export with symbolic dims
                  "batch", "height", "width", shared by the model's cases
  input_0.npy     seeded N(0,1) float32
  output_0.npy    the model in float64 on the float64 input, cast to float32
  tolerance       "rel_l2 1e-4"
and OUTDIR/INDEX. Weights are torch's seeded initialisation with the zoo's
randomised BatchNorm statistics (tools/zoo.py), nothing downloaded. The
float32 torch output must be within 3e-5 of float64 (else the case could
not be met by any float32 engine) and each model must run at every shape.
"""
import os
import sys

import numpy as np
import onnx
import torch
import torchvision.models as tvm
import torchvision.models.segmentation as tvs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import zoo  # noqa: E402  (randomise_bn, randomise_zero_biases)

# Batch 1-4 and odd sizes (97x131: nothing divides evenly through the
# strides). Kept small enough for the float64-accumulating ref backend.
SHAPES = [(1, 64, 64), (2, 97, 131), (4, 40, 56)]


class SegOut(torch.nn.Module):
    """torchvision's segmenters return a dict; the export takes its 'out'."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)["out"]


MODELS = {
    "resnet18": (lambda: tvm.resnet18(weights=None, num_classes=10), False),
    "mobilenet_v3_small": (lambda: tvm.mobilenet_v3_small(weights=None, num_classes=10), False),
    # Resize to the input's size, computed from Shape(input) at run time.
    "lraspp_mobilenet_v3_large": (lambda: SegOut(tvs.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=3)), True),
}


def rel_l2(a, b):
    return float(np.linalg.norm((a - b).ravel()) / max(np.linalg.norm(b.ravel()), 1e-30))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    index = []
    for seed, (name, (ctor, seg)) in enumerate(MODELS.items()):
        torch.manual_seed(seed)
        model = ctor()
        zoo.randomise_zero_biases(model, torch.Generator().manual_seed(seed + 2000))
        zoo.randomise_bn(model, (1, 3, 64, 64), torch.Generator().manual_seed(seed + 1000))
        model.eval()
        axes = {"input": {0: "batch", 2: "height", 3: "width"},
                "output": {0: "batch", 2: "height", 3: "width"} if seg else {0: "batch"}}
        path = os.path.join(out, name + ".onnx")
        x0 = torch.from_numpy(np.random.default_rng(seed).standard_normal((1, 3, 64, 64)).astype(np.float32))
        with torch.no_grad():
            torch.onnx.export(model, x0, path, opset_version=13, input_names=["input"], output_names=["output"],
                              dynamic_axes=axes, do_constant_folding=True)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        m64 = zoo.copy.deepcopy(model).double()
        for n, h, w in SHAPES:
            case = f"{name}_{n}x{h}x{w}"
            d = os.path.join(out, case)
            os.makedirs(d, exist_ok=True)
            x = np.random.default_rng(seed * 100 + h).standard_normal((n, 3, h, w)).astype(np.float32)
            with torch.no_grad():
                ref = m64(torch.from_numpy(x).double()).numpy()
                f32 = model(torch.from_numpy(x)).numpy()
            err = rel_l2(f32.astype(np.float64), ref)
            if err > zoo.SANITY_REL_L2:
                sys.exit(f"{case}: float32 torch is {err:.2e} from float64; no float32 engine could meet 1e-4")
            if os.path.lexists(os.path.join(d, "model.onnx")):
                os.remove(os.path.join(d, "model.onnx"))
            os.symlink(os.path.join("..", name + ".onnx"), os.path.join(d, "model.onnx"))
            np.save(os.path.join(d, "input_0.npy"), x)
            np.save(os.path.join(d, "output_0.npy"), ref.astype(np.float32))
            with open(os.path.join(d, "tolerance"), "w") as fh:
                fh.write("rel_l2 1e-4\n")
            index.append(case)
    with open(os.path.join(out, "INDEX"), "w") as fh:
        fh.write("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
