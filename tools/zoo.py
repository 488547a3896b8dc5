#!/usr/bin/python3
"""Export the model zoo: small CNNs with seeded random weights plus references.

Usage: /usr/bin/python3 tools/zoo.py OUTDIR [--only NAME,...] [--list]

For each model writes OUTDIR/<name>/:
  model.onnx     opset 13, static shapes, constants folded, eval mode
  input_0.npy    float32 input, seeded N(0,1)
  output_0.npy   reference output: the model in float64 on the float64 input,
                 cast to float32
  tolerance      "rel_l2 1e-4" (what tests/case_runner.c compares with)
and OUTDIR/INDEX, one model name a line (the models of this run, in order).

Weights are torch's seeded default initialisation (no downloads, nothing
pretrained); BatchNorm statistics and affine parameters are randomised so
BN is not an identity, and all-zero Conv/Linear biases get N(0,0.1). Each model is checked with onnx.checker, and its
float32 torch output against the float64 reference (rel L2 <= 3e-5), and
the output must depend on the input (see randomise_bn).
Deterministic: the same command writes the same arrays (the .onnx bytes
may differ between torch versions).
"""
import argparse
import copy
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision.models as tvm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_lenet import LeNet5  # noqa: E402

OPSET = 13
TOLERANCE = "rel_l2 1e-4"
# torch float32 vs the float64 reference. Deep nets with live signals reach
# ~1e-5 (mobilenet_v2: 1.3e-5), an order below the engine's 1e-4.
SANITY_REL_L2 = 3e-5
# rel L2 change of the output between two random inputs must be at least this.
MIN_SENSITIVITY = 1e-2

# name -> (constructor, input shape). Seeds are per model (index in this table).
MODELS = {
    "lenet5": (lambda: LeNet5(), (1, 1, 32, 32)),
    "resnet18": (lambda: tvm.resnet18(weights=None), (1, 3, 64, 64)),
    "mobilenet_v2": (lambda: tvm.mobilenet_v2(weights=None), (1, 3, 64, 64)),
    "squeezenet1_1": (lambda: tvm.squeezenet1_1(weights=None), (1, 3, 64, 64)),
    "googlenet": (lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=True,
                                        transform_input=False), (1, 3, 64, 64)),
    "densenet121": (lambda: tvm.densenet121(weights=None), (1, 3, 64, 64)),
    "shufflenet_v2_x1_0": (lambda: tvm.shufflenet_v2_x1_0(weights=None), (1, 3, 64, 64)),
}


def randomise_bn(model, shape, gen):
    """Make every BatchNorm a non-trivial affine map that still keeps the
    signal alive.

    With torch's default init the activations' real scale drifts layer by
    layer; plain random running stats (mean ~ N(0,0.1), var ~ U(0.5,1.5))
    then let it vanish in the deep nets (mobilenet_v2, googlenet, shufflenet:
    the output moved by ~1e-7 relative when the input changed), which would
    make the reference test nothing but the last bias. So the running stats
    are first calibrated on a batch of 16 seeded N(0,1) inputs (train-mode
    forward, cumulative average), then perturbed:
      mean += N(0,0.1) * std,  var *= U(0.5,1.5),
      weight ~ U(0.5,1.5),     bias ~ N(0,0.1).
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: exactly the batch stats
    model.train()
    with torch.no_grad():
        model(torch.randn((16,) + tuple(shape[1:]), generator=gen))
    model.eval()
    with torch.no_grad():
        for m in bns:
            c = m.num_features
            m.running_mean.add_(torch.randn(c, generator=gen) * 0.1 * m.running_var.sqrt())
            m.running_var.mul_(torch.rand(c, generator=gen) + 0.5)
            if m.affine:
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
            m.momentum = 0.1
            m.num_batches_tracked.zero_()


def randomise_zero_biases(model, gen):
    """Conv/Linear biases that the init left all zero (squeezenet, densenet's
    classifier) get N(0,0.1), so bias adds are tested (and the exporter does
    not fold identical zero tensors into Identity nodes)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None \
                    and not bool(m.bias.any()):
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)


def rel_l2(a, ref):
    a = np.asarray(a, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    return float(np.linalg.norm(a - ref) / max(np.linalg.norm(ref), 1e-300))


def export_one(name, seed, outdir, preserve_bn=False):
    ctor, shape = MODELS[name]
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = ctor()
    randomise_zero_biases(model, torch.Generator().manual_seed(seed + 2000))
    randomise_bn(model, shape, torch.Generator().manual_seed(seed + 1000))
    model.eval()

    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    x2 = np.random.default_rng(seed + 99).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        y32 = model(torch.from_numpy(x)).numpy()
        # How much the output depends on the input: a dead trunk tests nothing.
        sens = rel_l2(model(torch.from_numpy(x2)).numpy(), y32)
        m64 = copy.deepcopy(model).double().eval()
        y64 = m64(torch.from_numpy(x).double()).numpy()
    ref = y64.astype(np.float32)
    err = rel_l2(y32, y64)

    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(model, torch.from_numpy(x), path, opset_version=OPSET,
                      input_names=["input"], output_names=["output"],
                      do_constant_folding=True,
                      # PRESERVE keeps BatchNormalization as nodes (EVAL lets
                      # the exporter fold them), to exercise our own fold.
                      training=(torch.onnx.TrainingMode.PRESERVE if preserve_bn
                                else torch.onnx.TrainingMode.EVAL))
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    np.save(os.path.join(d, "input_0.npy"), x)
    np.save(os.path.join(d, "output_0.npy"), ref)
    with open(os.path.join(d, "tolerance"), "w") as fh:
        fh.write(TOLERANCE + "\n")

    ops = sorted({n.op_type for n in proto.graph.node})
    return proto, ops, err, sens, ref.shape


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--list", action="store_true", help="print the model names and exit")
    ap.add_argument("--preserve-bn", action="store_true",
                    help="export BatchNormalization as nodes (TrainingMode.PRESERVE) instead of folded")
    args = ap.parse_args()
    if args.list:
        print("\n".join(MODELS))
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    names = list(MODELS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        bad = [n for n in names if n not in MODELS]
        if bad:
            ap.error(f"unknown model(s) {', '.join(bad)}; known: {', '.join(MODELS)}")

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.outdir, exist_ok=True)
    all_ops = set()
    failed = []
    t0 = time.time()
    for name in names:
        t = time.time()
        seed = list(MODELS).index(name)
        proto, ops, err, sens, oshape = export_one(name, seed, args.outdir, args.preserve_bn)
        all_ops.update(ops)
        ok = err <= SANITY_REL_L2 and sens >= MIN_SENSITIVITY
        if not ok:
            failed.append(name)
        print(f"{name:20s} nodes {len(proto.graph.node):4d}  out {list(oshape)}  "
              f"f32-vs-f64 rel_l2 {err:.1e}  input-sensitivity {sens:.2f}"
              f"{'' if ok else ' BAD'}  "
              f"{time.time() - t:5.1f}s  ops {','.join(ops)}", flush=True)
    with open(os.path.join(args.outdir, "INDEX"), "w") as fh:
        fh.write("".join(n + "\n" for n in names))
    print(f"{len(names)} models in {time.time() - t0:.1f}s -> {args.outdir}")
    print(f"op types ({len(all_ops)}): {' '.join(sorted(all_ops))}")
    if failed:
        print(f"error: float32 torch far from the float64 reference, or output ignores the input: {' '.join(failed)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
