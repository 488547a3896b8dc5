#!/usr/bin/python3
"""The torchvision zoo: every builder torchvision offers, exported and run on the engine against PyTorch.

Usage:
  /usr/bin/python3 tools/tv_zoo.py gen OUTDIR [--ci | --full] [--only NAME,...] [--families F,...]
                                   [--skip-families F,...]
  /usr/bin/python3 tools/tv_zoo.py run OUTDIR [--backends ref,cpu,opencl] [--expected FILE [--update]]
                                   [--ref-max-params N] [--min-params N [--merge]] [--docs docs/CONFORMANCE.md]
  /usr/bin/python3 tools/tv_zoo.py docs OUTDIR FILE   (the table again from OUTDIR's last results)

The builders are enumerated from torchvision.models.list_models(), one
family per module (detection, segmentation, video, optical_flow,
quantization; the rest is classification): a builder torchvision adds is
picked up by itself. Each is built with weights=None (nothing downloaded),
seeded, in eval mode; BatchNorm statistics are randomised (tools/zoo.py's
randomise_bn) so BN is not an identity, and residual scales initialised
near zero (ConvNeXt's layer_scale, 1e-6) are set to O(1)
(randomise_layer_scales) so each block's branch reaches the output.

Sizes. Default (what CI generates with --ci): small inputs, widths kept:
classification 64x64 (or the smallest the architecture accepts: ViT gets
image_size 32/64, MaxViT its minimum 224), segmentation 64x64, video
1x3x4x32x32, optical flow two 1x3x64x64 frames and 4 flow updates,
detection one 3x128x128 image resized to 128 with fewer proposals and
detections. --full: the published sizes (224x224, inception 299, ViT-H
518, segmentation 520, detection 800, video 16 frames of 112 (MViT, S3D:
224), RAFT 368x496 with 12 updates), for use by hand. --ci further keeps
the builders of at most CI_MAX_PARAMS parameters (from the weights'
metadata, no build needed) and not the ones listed by MINIMUM_SIZE above
128 px (MaxViT, S3D, MViT): the rest are "skipped (CI size)" in CI.

Each exported builder gets OUTDIR/<name>/ in the case format of
tests/case_runner.c (model.onnx, input_<k>.npy, output_<k>.npy,
`tolerance`) plus meta.json (family, comparison, sizes, ops). The
reference is the model in float64 on the same input (cast to float32),
and float32 torch must be within 3e-5 of it (else BN gains are damped,
0.85 then 0.7, as tools/zoo.py does by hand for its deep nets).
Quantized builders (quantize=True, fbgemm where torch has it; BN
randomised before torchvision's own quantize_model, which the builder
would call; 65x65, so that every map is odd-sized and no average pool
ties) also get model_q.onnx, the model with every QuantizeLinear output as
a graph output; they are compared with ONNX Runtime's outputs of it
(ort_output_<k>.npy, written by tools/ort_reference.py in ONNX Runtime's
environment), layer by layer (compare_quant); torch's int8 output is
reported beside, not compared: it is not the graph's computation.
Detection models are compared as python/tests/test_detection.py does
(heads scaled up so scores spread; labels exact, same count, floats within
1e-3): a model whose torch output has tied scores (two within 1e-5
relative), or whose float32 and float64 detections differ, is
"tie-bound" and not run. OUTDIR/REPORT.json and REPORT.md list every
builder: exported (sizes, ops), export failed (torch's message) or
skipped (why).

`run` feeds each case to each backend through the engine's Python package
(ENGINE_LIBRARY, ENGINE_BACKEND_PATH, PYTHONPATH=python as in
python/meson.build), strict placement, and compares. With --expected it
checks the outcomes against that file (model, backend, pass|fail, the
engine's message) and exits 1 on any difference (a regression, or a new
pass to record with --update). With --docs it rewrites the generated
section of docs/CONFORMANCE.md.
"""
import argparse
import copy
import json
import os
import sys
import time
import traceback
import warnings

import numpy as np
import torch
import torch.nn as nn
import torchvision
import torchvision.models as tvm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo import randomise_bn, randomise_layer_scales, randomise_zero_biases, rel_l2  # noqa: E402

OPSET = 17
FLOAT_TOL = 1e-4
QUANT_TOL = 1e-2
DET_TOL = 1e-3
SANITY_REL_L2 = 3e-5
BN_GAINS = (1.0, 0.85, 0.7)
# Where a BN gain leaves float32 torch too far from float64 and the next one
# kills the signal (the output no longer depends on the input: the deep
# EfficientNet v2 M and L, whose signal shrinks as gain^depth), gains at
# these fractions of the way between the two are tried before giving up.
BN_GAIN_STEPS = (1 / 3, 2 / 3)
# The detection heads' weight gains tried in turn (spread_scores): x6 spreads
# the scores of most; heads whose random logits are already large saturate
# there (RetinaNet's sigmoids at exactly 1.0) and need less.
DET_SCORE_GAINS = (6.0, 3.0, 1.5, 1.0, 0.5, 0.25)
CI_MAX_PARAMS = 50_000_000
# The architecture's own minimum input, above the CI sizes (from
# get_model_weights(...).meta["min_size"] where that is the architecture's:
# fixed window partitions and pooling kernels).
MINIMUM_SIZE = {"maxvit_t": 224, "s3d": 224, "mvit_v1_b": 224, "mvit_v2_s": 224}
# Builders whose inputs their builder fixes at a size CI cannot afford
# (MViT: 16x224x224, attention over 25088 tokens); generated with --full
# only (docs/CONFORMANCE.md, "MViT", has their full-size results).
TOO_BIG_SMALL = {"mvit_v1_b": "the builder fixes 16x224x224 inputs (141 s to export, 76 s on ref: past CI's budget)",
                 "mvit_v2_s": "the builder fixes 16x224x224 inputs (torch's export asks for one 10 GB block there)"}
# The generator's address-space limit: a model too big fails with
# MemoryError (reported) instead of drawing the kernel's OOM killer.
MAX_MEMORY_GB = 20
# rel L2 change of the output between two random inputs must be at least
# this (tools/zoo.py's MIN_SENSITIVITY): an output that ignores its input
# tests nothing.
MIN_SENSITIVITY = 1e-2
FAMILIES = (("detection", tvm.detection), ("segmentation", tvm.segmentation), ("video", tvm.video),
            ("optical_flow", tvm.optical_flow), ("quantized", tvm.quantization))
SECTION_BEGIN = "<!-- tv_zoo table: generated by tools/tv_zoo.py run --docs; do not edit -->"
SECTION_END = "<!-- end of tv_zoo table -->"


def builders():
    """name -> family, for every builder torchvision lists."""
    fam = {}
    for family, module in FAMILIES:
        for n in tvm.list_models(module=module):
            fam[n] = family
    return {n: fam.get(n, "classification") for n in tvm.list_models()}


def num_params(name):
    return int(list(tvm.get_model_weights(name))[0].meta["num_params"])


def ci_skip(name, family):
    """Why CI does not run this builder, or None."""
    if num_params(name) > CI_MAX_PARAMS:
        return f"CI size: {num_params(name) / 1e6:.0f}M parameters > {CI_MAX_PARAMS / 1e6:.0f}M"
    if MINIMUM_SIZE.get(name, 0) > 128:
        return f"CI size: needs {MINIMUM_SIZE[name]}px inputs"
    return None


# ---- what each family is built with and fed -----------------------------

def spec(name, family, full, size=None):
    """(builder kwargs, example inputs as a list of shapes, forward wrapper or None, opset)."""
    kw = {"weights": None}
    if family == "classification":
        size = size or (224 if full else 64)
        size = max(size, MINIMUM_SIZE.get(name, 0))
        if name.startswith("inception"):
            size = 299 if full else 75
        if name.startswith("vit_"):
            patch = int(name.split("_")[-1])
            if full:
                size = 518 if name == "vit_h_14" else 224
            else:
                size = 2 * patch if patch > 16 else 4 * patch
                kw["image_size"] = size
        if name in ("googlenet", "inception_v3"):
            kw.update(aux_logits=False, init_weights=True, transform_input=False)
        return kw, [(1, 3, size, size)], None, OPSET
    if family == "quantized":
        base = name[len("quantized_"):]
        size = 299 if base.startswith("inception") else 224
        if not full:
            size = 75 if base.startswith("inception") else 65
        kw.update(quantize=False)
        if base in ("googlenet", "inception_v3"):
            kw.update(aux_logits=False, init_weights=True, transform_input=False)
        return kw, [(1, 3, size, size)], None, 13
    if family == "segmentation":
        size = 520 if full else 64
        kw["weights_backbone"] = None
        return kw, [(1, 3, size, size)], None, OPSET
    if family == "video":
        if name in ("s3d", "mvit_v1_b", "mvit_v2_s"):
            t, size = 16, 224
        else:
            t, size = (16, 112) if full else (4, 32)
        return kw, [(1, 3, t, size, size)], None, OPSET
    if family == "optical_flow":
        # 128 is RAFT's least: its 4-level correlation pyramid of the 1/8
        # map must end above 1x1 (grid_sample of a 1x1 level gives NaN).
        h, w = (368, 496) if full else (128, 128)
        updates = 12 if full else 4
        return kw, [(1, 3, h, w), (1, 3, h, w)], ("flow", updates), OPSET
    if family == "detection":
        kw.update(weights_backbone=None)
        size = 800 if full else 128
        if not full:
            if name.startswith("ssd"):
                kw.update(topk_candidates=100, detections_per_img=20)
            elif name.startswith(("retinanet", "fcos")):
                kw.update(min_size=size, max_size=size, topk_candidates=100, detections_per_img=20)
            else:
                kw.update(min_size=size, max_size=size, rpn_pre_nms_top_n_test=200,
                          rpn_post_nms_top_n_test=50, box_detections_per_img=20)
        return kw, [(3, size, size)], ("detect", None), 11
    raise ValueError(family)


class Flow(nn.Module):
    """RAFT with a fixed number of flow updates, giving the last flow only."""

    def __init__(self, raft, updates):
        super().__init__()
        self.raft, self.updates = raft, updates

    def forward(self, a, b):
        return self.raft(a, b, num_flow_updates=self.updates)[-1]


class Detect(nn.Module):
    """A detector on one image, giving its boxes, scores, labels (and masks or keypoints) as a tuple."""

    def __init__(self, det):
        super().__init__()
        self.det = det

    def forward(self, image):
        out = self.det([image])[0]
        return tuple(out[k] for k in sorted(out))


def spread_scores(model, gen, gain=6.0):
    """The heads' weights x gain (6 by default) and their biases jittered,
    so random weights give scores far enough apart to order
    (python/tests/test_detection.py uses it too)."""
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if any(t in pname for t in ("cls", "classification", "score", "bbox_pred", "regression")):
                if p.dim() > 1:
                    p.mul_(gain)
                else:
                    p.add_(torch.randn(p.shape, generator=gen) * 0.5)


def as_list(y):
    if isinstance(y, dict):
        return [v for _, v in sorted(y.items())], sorted(y)
    if isinstance(y, (tuple, list)):
        return list(y), None
    return [y], None


def forward(model, xs):
    ys, _ = as_list(model(*xs))
    return [y.detach().numpy() for y in ys]


def build(name, family, full, seed, size=None):
    kw, shapes, wrap, opset = spec(name, family, full, size)
    torch.manual_seed(seed)
    model = tvm.get_model(name, **kw).eval()
    if wrap and wrap[0] == "flow":
        model = Flow(model, wrap[1]).eval()
    elif wrap and wrap[0] == "detect":
        model = Detect(model).eval()
    return model, shapes, opset


class Batched(nn.Module):
    """randomise_bn's batch of 16 examples fed to a detector (the first
    image only: it takes a list) or to RAFT (the two frames stacked)."""

    def __init__(self, model, detector):
        super().__init__()
        self.model, self.detector = model, detector

    def forward(self, x):
        return self.model(x[0]) if self.detector else self.model(x[:, 0], x[:, 1])


def reinit_zero_weights(model):
    """Layers the builder zero-initialises (ViT's classifier head) get
    torch's default initialisation: a zero weight makes the output a constant."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)) and not bool(m.weight.any()):
                m.reset_parameters()


def calibrate_bn(model, family, shapes, seed, gain):
    """tools/zoo.py's randomise_zero_biases and randomise_bn on this model's inputs."""
    gen = torch.Generator().manual_seed(seed + 1000)
    reinit_zero_weights(model)
    randomise_zero_biases(model, torch.Generator().manual_seed(seed + 2000))
    randomise_layer_scales(model, torch.Generator().manual_seed(seed + 3000))
    if family == "detection":
        randomise_bn(Batched(model, True), (1,) + tuple(shapes[0]), gen, gain)
    elif family == "optical_flow":
        randomise_bn(Batched(model, False), (1, 2) + tuple(shapes[0][1:]), gen, gain)
    else:
        randomise_bn(model, shapes[0], gen, gain)


def quant_engine():
    """The builders' default quantized engine, fbgemm, where this torch has
    it; else qnnpack (Debian's torch 1.13 lacks fbgemm: quantize=True fails
    there with "Quantized backend not supported")."""
    engines = torch.backends.quantized.supported_engines
    return "fbgemm" if "fbgemm" in engines else "qnnpack"


def quantize(model):
    """What the builder does with quantize=True (fuse, calibrate on one
    random 299x299 image, convert to int8), after BN is randomised."""
    from torchvision.models.quantization.utils import quantize_model
    quantize_model(model, quant_engine())
    return model


def export_one(name, family, full, seed, outdir, size=None):
    """Export one builder into outdir/name; returns its report entry."""
    t0 = time.time()
    x_shapes = spec(name, family, full, size)[1]
    rng = np.random.default_rng(seed)
    if family == "detection":
        xs = [rng.random(s).astype(np.float32) for s in x_shapes]
    else:
        xs = [rng.standard_normal(s).astype(np.float32) for s in x_shapes]
    entry = {"name": name, "family": family, "inputs": [list(s) for s in x_shapes],
             "params": num_params(name)}
    # detectors: BN gain 1, and the first head gain whose scores neither
    # saturate nor tie (see detection_ties)
    tries = [(1.0, g) for g in DET_SCORE_GAINS] if family == "detection" else [(g, None) for g in BN_GAINS]
    loud_gain = None  # the last BN gain whose output depended on the input (float32 too far off there)
    t = 0
    while t < len(tries):
        gain, score_gain = tries[t]
        t += 1
        model, _, opset = build(name, family, full, seed, size)
        calibrate_bn(model, family, x_shapes, seed, gain)
        if family == "detection":
            spread_scores(model, torch.Generator().manual_seed(seed + 3000), score_gain)
            entry["score_gain"] = score_gain
        model.eval()
        with torch.no_grad():
            y32 = forward(model, [torch.from_numpy(x) for x in xs])
        if family == "detection" and score_gain != DET_SCORE_GAINS[-1] and detection_ties(y32, y32):
            continue  # float32 already ties: no need for the float64 run
        if family == "quantized":
            entry["reference"] = f"torch int8 ({quant_engine()})"
            model = quantize(model)
            with torch.no_grad():
                refs = forward(model, [torch.from_numpy(x) for x in xs])
            err = 0.0
            break
        try:
            with torch.no_grad():
                m64 = copy.deepcopy(model).double().eval()
                y64 = forward(m64, [torch.from_numpy(x).double() for x in xs])
            entry["reference"] = "float64 torch"
        except RuntimeError as e:  # RAFT builds float32 coordinate grids
            y64 = y32
            entry["reference"] = f"float32 torch (float64 fails: {str(e).splitlines()[0]})"
        refs = [y.astype(np.float32) if y.dtype == np.float64 else y for y in y64]
        if family == "detection":
            entry["tie_bound"] = detection_ties(y32, y64)
            err = 0.0
            if entry["tie_bound"] and score_gain != DET_SCORE_GAINS[-1]:
                continue
            break
        with torch.no_grad():
            x2 = [torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32)) for x in xs]
            sens = min(rel_l2(a, b) for a, b in zip(forward(model, x2), y32))
        entry["input_sensitivity"] = round(sens, 3)
        finite = all(np.isfinite(y).all() for y in y32)
        err = max(rel_l2(a, b) for a, b in zip(y32, y64)) if finite else float("inf")
        if finite and sens < MIN_SENSITIVITY and loud_gain is not None:
            # between the loud gain and this one: try the steps once
            tries[t:t] = [(loud_gain - (loud_gain - gain) * f, None) for f in BN_GAIN_STEPS]
            loud_gain = None
            continue
        if finite and sens >= MIN_SENSITIVITY:
            loud_gain = gain
        if not finite or sens < MIN_SENSITIVITY:
            entry["status"] = "skipped"
            entry["reason"] = ("torch's output is not finite" if not finite else
                               f"torch's output hardly depends on the input (rel change {sens:.1e})")
            return entry
        if err <= SANITY_REL_L2:
            break
    entry.update(bn_gain=gain, torch_f32_rel_l2=err, opset=opset)
    if not err <= SANITY_REL_L2:
        entry["status"] = "skipped"
        entry["reason"] = f"float32 torch is {err:.1e} from float64 even at BN gain {gain}: no float32 engine can be held to 1e-4"
        return entry

    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    in_names = [f"input_{k}" for k in range(len(xs))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(torch.from_numpy(x) for x in xs), path, opset_version=opset,
                          input_names=in_names, do_constant_folding=True)
    import onnx
    proto = onnx.load(path)
    if family == "quantized":
        entry["q_outputs"] = write_quant_probe(proto, os.path.join(d, "model_q.onnx"))
    for k, x in enumerate(xs):
        np.save(os.path.join(d, f"input_{k}.npy"), x)
    for k, r in enumerate(refs):
        np.save(os.path.join(d, f"output_{k}.npy"), r)
    compare = {"quantized": "class", "detection": "detection"}.get(family, "rel_l2")
    with open(os.path.join(d, "tolerance"), "w") as fh:
        fh.write(f"rel_l2 {QUANT_TOL if family == 'quantized' else FLOAT_TOL:g}\n")
    entry.update(status="exported", compare=compare, outputs=[list(r.shape) for r in refs],
                 nodes=len(proto.graph.node), ops=sorted({n.op_type for n in proto.graph.node}),
                 seconds=round(time.time() - t0, 1))
    with open(os.path.join(d, "meta.json"), "w") as fh:
        json.dump(entry, fh, indent=1)
    return entry


def write_quant_probe(proto, path):
    """model_q.onnx: the model with every QuantizeLinear output (in node
    order) appended to its outputs, for the layer-by-layer comparison with
    ONNX Runtime (compare_quant). Returns how many were appended."""
    import onnx
    from onnx import shape_inference
    m = shape_inference.infer_shapes(proto)
    known = {v.name: v for v in m.graph.value_info}
    outs = {o.name for o in m.graph.output}
    n = 0
    for node in m.graph.node:
        if node.op_type == "QuantizeLinear" and node.output[0] in known and node.output[0] not in outs:
            m.graph.output.append(known[node.output[0]])
            n += 1
    onnx.save(m, path)
    return n


def detection_ties(y32, y64):
    """Why a detector's comparison would hang on ties or rounding, or None."""
    if [a.shape for a in y32] != [b.shape for b in y64]:
        return "float32 and float64 torch keep different numbers of detections"
    # outputs are sorted by key: boxes, labels, [masks|keypoints...], scores
    scores = y64[-1].astype(np.float64)
    if scores.size < 2:
        return f"{scores.size} detection(s): too few to compare an order"
    if scores.size > 1:
        s = np.sort(scores)
        gap = np.min(np.diff(s) / np.maximum(np.abs(s[1:]), 1e-30))
        if gap < 1e-5:
            return f"two detection scores within {gap:.1e} relative of each other"
    for a, b in zip(y32, y64):
        if a.dtype.kind in "iu" and not np.array_equal(a, b):
            return "float32 and float64 torch label the detections differently"
    for k, (a, b) in enumerate(zip(y32, y64)):
        if a.dtype.kind == "f" and a is not b:
            d = np.abs(a.astype(np.float64) - b) / (1 + np.abs(b))
            if d.size and d.max() > DET_TOL / 2:
                # a box edge or mask pixel that float rounding moves: no
                # float32 engine can be held to DET_TOL there
                return f"float32 torch is {d.max():.1e} from float64 on output {k} (ill-conditioned)"
    return None


def cmd_gen(args):
    names = builders()
    only = [n for n in args.only.split(",") if n]
    if only:
        bad = [n for n in only if n not in names]
        if bad:
            sys.exit(f"unknown builder(s): {', '.join(bad)}")
    torch.set_num_threads(1)
    import resource
    limit = int(MAX_MEMORY_GB * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.makedirs(args.outdir, exist_ok=True)
    report, index = [], []
    t0 = time.time()
    fams = [f for f in args.families.split(",") if f]
    skip_fams = [f for f in args.skip_families.split(",") if f]
    for seed, (name, family) in enumerate(sorted(names.items())):
        if (only and name not in only) or (fams and family not in fams) or family in skip_fams:
            continue
        why = ci_skip(name, family) if args.ci else None
        if not args.full and name in TOO_BIG_SMALL:
            why = TOO_BIG_SMALL[name] + "; --full tries it"
        if why:
            entry = {"name": name, "family": family, "status": "skipped", "reason": why,
                     "params": num_params(name)}
        else:
            try:
                try:
                    entry = export_one(name, family, args.full, seed, args.outdir)
                except Exception as e:
                    # torch exports adaptive pooling only to a divisor of
                    # the input: AlexNet's and VGG's 6x6/7x7 need 224.
                    if "not factor of input size" not in str(e) or family != "classification" or args.full:
                        raise
                    entry = export_one(name, family, args.full, seed, args.outdir, 224)
                    entry["note"] = "at 64x64 torch cannot export its adaptive pooling (6x6/7x7 of a smaller map): 224x224"
            except Exception as e:  # torch's own reason, kept
                msg = f"{type(e).__name__}: {e}".strip().splitlines()
                entry = {"name": name, "family": family, "status": "export failed",
                         "reason": " ".join(ln.strip() for ln in msg[:3])[:400],
                         "params": num_params(name)}
                if args.verbose:
                    traceback.print_exc()
        if entry["status"] == "exported" and not entry.get("tie_bound"):
            index.append(name)
        report.append(entry)
        print(f"{name:38s} {family:13s} {entry['status']:13s} "
              f"{entry.get('reason') or entry.get('tie_bound') or ''}"
              f"{' %.1fs' % entry['seconds'] if 'seconds' in entry else ''}", flush=True)
    with open(os.path.join(args.outdir, "INDEX"), "w") as fh:
        fh.write("".join(n + "\n" for n in index))
    with open(os.path.join(args.outdir, "REPORT.json"), "w") as fh:
        json.dump({"torch": torch.__version__, "torchvision": torchvision.__version__,
                   "sizes": "full" if args.full else "small", "models": report}, fh, indent=1)
    with open(os.path.join(args.outdir, "REPORT.md"), "w") as fh:
        fh.write(report_md(report))
    print(f"{len(index)} cases of {len(report)} builders in {time.time() - t0:.0f}s -> {args.outdir}")
    return 0


def report_md(report):
    lines = ["| model | family | status | inputs | outputs | ops / reason |", "|---|---|---|---|---|---|"]
    for e in report:
        why = e.get("tie_bound") and f"tie-bound: {e['tie_bound']}" or e.get("reason") or ", ".join(e.get("ops", []))
        lines.append(f"| {e['name']} | {e['family']} | {e['status']} | {e.get('inputs', '')} | "
                     f"{e.get('outputs', '')} | {why.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


# ---- running the cases on the engine -------------------------------------

def compare(meta, got, want):
    """None when `got` matches `want`, else what differs."""
    if len(got) != len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    kind = meta["compare"]
    for k, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            return f"output {k}: shape {list(g.shape)}, expected {list(w.shape)}"
        if w.dtype.kind in "iub":
            if not np.array_equal(g, w):
                return f"output {k}: {int(np.sum(g != w))} of {w.size} integers differ"
            continue
        if kind == "detection":
            bad = np.abs(g.astype(np.float64) - w) > DET_TOL * (1 + np.abs(w))
            if bad.any():
                return f"output {k}: {int(bad.sum())} of {w.size} values beyond 1e-3"
            continue
        e = rel_l2(g, w)
        tol = QUANT_TOL if kind == "class" else FLOAT_TOL
        if kind == "class" and int(np.argmax(g)) != int(np.argmax(w)):
            return f"top class {int(np.argmax(g))}, expected {int(np.argmax(w))} (rel L2 {e:.1e})"
        if not e <= tol:
            return f"output {k}: rel L2 {e:.1e} > {tol:g}"
    return None


NO_ORT = ("no ONNX Runtime reference (tools/ort_reference.py; tests/run_tv_zoo.sh makes it where onnxruntime "
          "can be installed from PyPI)")
# A float32 evaluation of DequantizeLinear -> op -> QuantizeLinear moves a
# value across a rounding boundary where float noise decides (the engine's
# summation order against ONNX Runtime's): such flips are one step, and rare.
# 1e-3 held on the Intel Xeon (AVX-512); on an AMD EPYC (AVX2 only) ONNX
# Runtime's GlobalAveragePool sums in another order, and GoogLeNet's last
# pool (3x3 at the CI size) rounded one step apart on 5 (ref) to 9 (cpu,
# opencl) of its 1024 channels, so the bound is 1%.
QUANT_FLIP_FRACTION = 1e-2


def compare_quant(d, meta, got, want):
    """A quantized case against ONNX Runtime (ort_output_<k>.npy of
    model_q.onnx: the model's outputs, then every QuantizeLinear output in
    node order). Every QuantizeLinear output must equal ONNX Runtime's up
    to the first one that differs at all; that one may differ only by
    rounding flips (at most one step, at most QUANT_FLIP_FRACTION of its
    elements), and the layers after it, which carry the flips on, are not
    compared. Where no layer differs, the model's outputs must be
    identical. torch's int8 output (output_<k>.npy) is reported only: it is
    not the graph's computation (docs/CONFORMANCE.md, "Quantized models").
    Returns (outcome, message, rel L2 of output 0 against ONNX Runtime)."""
    with open(os.path.join(d, "ort.json")) as fh:
        n_ort = json.load(fh)["outputs"]
    ort = [np.load(os.path.join(d, f"ort_output_{k}.npy")) for k in range(n_ort)]
    if len(got) != len(ort):
        return "fail", f"{len(got)} outputs, ONNX Runtime gave {len(ort)}", None
    n = len(want)
    err = rel_l2(got[0], ort[0]) if got[0].shape == ort[0].shape else None
    info = (f"torch int8: top class {int(np.argmax(got[0]))} vs {int(np.argmax(want[0]))}, rel L2 "
            f"{rel_l2(got[0], want[0]):.1e}" if got[0].shape == want[0].shape else "")
    if ort[0].size and np.ptp(ort[0]) == 0:
        info += "; the model's output is constant at this size (its layers are what is compared)"
    for k in range(n, len(ort)):
        g, w = got[k], ort[k]
        if g.shape != w.shape or g.dtype != w.dtype:
            return "fail", f"QuantizeLinear output {k - n}: {g.dtype}{list(g.shape)}, ONNX Runtime {w.dtype}{list(w.shape)}", err
        diff = np.abs(g.astype(np.int64) - w.astype(np.int64))
        bad = int((diff > 0).sum())
        if not bad:
            continue
        where = f"QuantizeLinear output {k - n} of {len(ort) - n}: {bad} of {diff.size} differ by up to {int(diff.max())}"
        if diff.max() > 1 or bad > max(1, QUANT_FLIP_FRACTION * diff.size):
            return "fail", where + " (more than rounding flips)", err
        return "pass", f"same integers as ONNX Runtime up to a rounding flip at {where}; {info}", err
    for k in range(n):
        if not np.array_equal(got[k], ort[k]):
            return "fail", f"every QuantizeLinear output as ONNX Runtime's, but output {k} differs", err
    return "pass", f"identical to ONNX Runtime at all {len(ort) - n} QuantizeLinear outputs; {info}", err


def run_case(engine, d, backend):
    """(outcome, message, rel L2 of output 0 or None)."""
    with open(os.path.join(d, "meta.json")) as fh:
        meta = json.load(fh)
    xs = {f"input_{k}": np.load(os.path.join(d, f"input_{k}.npy")) for k in range(len(meta["inputs"]))}
    want = [np.load(os.path.join(d, f"output_{k}.npy")) for k in range(len(meta["outputs"]))]
    note = ""
    path = os.path.join(d, "model.onnx")
    quant = meta["compare"] == "class"
    if quant:
        if not os.path.exists(os.path.join(d, "ort.json")):
            return "skipped", NO_ORT, None
        path = os.path.join(d, "model_q.onnx")
    try:
        try:
            got = engine.Session(path, backends=(backend,), strict=True).run(feeds=xs)
        except engine.UnsupportedError as e:
            # (at creation, or at run time in a later stage of a model with
            # data-dependent shapes)
            if backend in ("ref", "cpu"):
                raise
            # A device backend runs what it has and leaves the rest to cpu,
            # as applications run it; the note keeps what strict refused.
            note = "with cpu fallback (strict: " + " ".join(str(e).split())[:160] + ")"
            got = engine.Session(path, backends=(backend, "cpu")).run(feeds=xs)
    except Exception as e:  # the engine's message is the result
        return "fail", " ".join(str(e).replace(path, "model.onnx").split())[:300], None
    got = [np.asarray(g) for g in got]
    err = rel_l2(got[0], want[0]) if got and got[0].shape == want[0].shape else None
    if quant:
        return compare_quant(d, meta, got, want)
    why = compare(meta, got, want)
    return ("fail", why, err) if why else ("pass", note, err)


def report_names(report):
    """The builders REPORT.json lists (generated or not)."""
    return [e["name"] for e in report["models"]]


def read_expected(path):
    exp = {}
    if path and os.path.exists(path):
        with open(path) as fh:
            for ln in fh:
                if ln.strip() and not ln.startswith("#"):
                    f = ln.rstrip("\n").split("\t")
                    exp[(f[0], f[1])] = (f[2], f[3] if len(f) > 3 else "")
    return exp


def cmd_run(args):
    import engine
    loaded = engine.backends()
    backends = [b for b in args.backends.split(",") if b]
    with open(os.path.join(args.outdir, "INDEX")) as fh:
        index = [ln.strip() for ln in fh if ln.strip()]
    with open(os.path.join(args.outdir, "REPORT.json")) as fh:
        report = json.load(fh)
    results = {}
    t0 = time.time()
    for name in index:
        d = os.path.join(args.outdir, name)
        with open(os.path.join(d, "meta.json")) as fh:
            params = json.load(fh)["params"]
        for b in backends:
            if b not in loaded:
                continue
            if params <= args.min_params:
                continue
            if b == "ref" and params > args.ref_max_params:
                results[(name, b)] = ("skipped", f"ref runs models of at most {args.ref_max_params / 1e6:g}M parameters", None)
                continue
            t = time.time()
            results[(name, b)] = run_case(engine, d, b)
            r = results[(name, b)]
            print(f"{name:38s} {b:7s} {r[0]:5s} {time.time() - t:6.1f}s "
                  f"{'' if r[2] is None else 'rel_l2 %.1e ' % r[2]}{r[1]}", flush=True)
    print(f"ran in {time.time() - t0:.0f}s")
    if args.merge and os.path.exists(os.path.join(args.outdir, "RESULTS.json")):
        # the earlier run's results for every (model, backend) not run now
        with open(os.path.join(args.outdir, "RESULTS.json")) as fh:
            earlier = {(r[0], r[1]): tuple(r[2:]) for r in json.load(fh)}
        results = {**earlier, **results}
    with open(os.path.join(args.outdir, "RESULTS.json"), "w") as fh:
        json.dump([[n, b] + list(r) for (n, b), r in sorted(results.items())], fh, indent=1)
    if args.docs:
        write_docs(args.docs, report, results, backends)
    if not args.expected:
        return 1 if any(r[0] == "fail" for r in results.values()) else 0
    got = {k: (r[0], r[1]) for k, r in results.items() if r[0] != "skipped"}
    exp = read_expected(args.expected)
    if args.update:
        # a case skipped here (no ONNX Runtime) keeps what the file says
        generated = set(report_names(report))
        kept = {k: v for k, v in exp.items() if k[0] not in generated or results.get(k, ("",))[0] == "skipped"}
        write_expected(args.expected, {**kept, **got})
        return 0
    diffs = []
    for k, (outcome, msg) in sorted(got.items()):
        want = exp.get(k)
        if want is None:
            diffs.append(f"{k[0]} on {k[1]}: {outcome} {msg} (not in {args.expected})")
        elif want[0] != outcome:
            what = "NEW PASS (record it with --update)" if outcome == "pass" else f"REGRESSION: {msg}"
            diffs.append(f"{k[0]} on {k[1]}: expected {want[0]}, got {what}")
    skipped = {k: r[1] for k, r in results.items() if r[0] == "skipped"}
    generated = set(report_names(report))
    for k in sorted(set(exp) - set(got)):
        if k[0] not in generated:
            continue  # another family's file (tv_zoo and tv_zoo_quant share one expectation file)
        if k in skipped:
            print(f"  {k[0]} on {k[1]}: skipped ({skipped[k]}); {args.expected} says {exp[k][0]}")
        elif k[1] in loaded and k[1] in backends:
            diffs.append(f"{k[0]} on {k[1]}: expected {exp[k][0]}, not run (not generated?)")
    print(f"{sum(r[0] == 'pass' for r in got.values())} pass, {sum(r[0] == 'fail' for r in got.values())} "
          f"expected failures or failures, {len(diffs)} differences from {args.expected}")
    for ln in diffs:
        print("  " + ln)
    return 1 if diffs else 0


def write_expected(path, got):
    with open(path, "w") as fh:
        fh.write("# tv_zoo outcomes: MODEL<TAB>BACKEND<TAB>pass|fail<TAB>the engine's message or the comparison's\n"
                 "# Rewritten by: tools/tv_zoo.py run OUTDIR --expected THIS_FILE --update\n")
        for (n, b), (outcome, msg) in sorted(got.items()):
            fh.write(f"{n}\t{b}\t{outcome}\t{msg}\n")


def write_docs(path, report, results, backends):
    lines = [SECTION_BEGIN, "",
             f"torch {report['torch']}, torchvision {report['torchvision']}, {report['sizes']} sizes; "
             "rel L2 of output 0 against float64 torch (quantized models: against ONNX Runtime, "
             "QuantizeLinear output by QuantizeLinear output, \"Quantized models\" above); "
             "\"pass (+cpu)\": opencl refused an op under strict placement and cpu ran it; "
             "\"not run\": ref runs the models up to `--ref-max-params`.", "",
             "| model | family | exported | " + " | ".join(backends) + " | rel L2 |",
             "|---|---|---|" + "---|" * len(backends) + "---|"]
    counts = {b: [0, 0] for b in backends}
    failed_export = []
    for e in report["models"]:
        exp = e["status"]
        if e.get("tie_bound"):
            exp = "tie-bound"
        if e["status"] == "export failed":
            failed_export.append(e)
        cells, err = [], None
        for b in backends:
            r = results.get((e["name"], b))
            if r is None:
                cells.append("")
                continue
            if r[0] in ("pass", "fail"):
                counts[b][r[0] == "fail"] += 1
            if r[0] == "skipped":
                cells.append("not run (ref: too big)" if "parameters" in r[1] else "not run (no ONNX Runtime)")
            elif r[0] == "pass":
                cells.append("pass (+cpu)" if "cpu fallback" in r[1] else
                             "pass (= ORT)" if r[1].startswith("identical") else
                             "pass (a rounding flip vs ORT)" if "rounding flip" in r[1] else "pass")
            else:
                cells.append(f"{r[0]}: {r[1]}".replace("|", "/")[:120])
            err = err if r[2] is None else max(err or 0.0, r[2])
        if exp == "skipped" and e.get("reason"):
            exp = f"skipped ({e['reason']})"
        lines.append(f"| {e['name']} | {e['family']} | {exp} | " + " | ".join(cells)
                     + f" | {'' if err is None else '%.1e' % err} |")
    n_exp = sum(e["status"] == "exported" for e in report["models"])
    n_tie = sum(bool(e.get("tie_bound")) for e in report["models"])
    n_skip = sum(e["status"] == "skipped" for e in report["models"])
    lines += ["", f"{len(report['models'])} builders: {n_exp} exported ({n_tie} of them tie-bound detectors, "
              f"not run), {len(failed_export)} export failed, {n_skip} skipped; "
              + "; ".join(f"{b}: {c[0]} pass, {c[1]} fail" for b, c in counts.items()) + ".", ""]
    lines += ["Builders torch cannot export, with torch's reason:", ""]
    lines += [f"- {e['name']}: {e['reason']}" for e in failed_export] or ["- none"]
    lines += ["", SECTION_END]
    with open(path) as fh:
        text = fh.read()
    if SECTION_BEGIN in text:
        head, rest = text.split(SECTION_BEGIN, 1)
        tail = rest.split(SECTION_END, 1)[1]
        text = head + "\n".join(lines) + tail
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    with open(path, "w") as fh:
        fh.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="export the builders into OUTDIR")
    g.add_argument("outdir")
    g.add_argument("--ci", action="store_true", help="only the builders CI runs (CI_MAX_PARAMS, MINIMUM_SIZE)")
    g.add_argument("--full", action="store_true", help="the published input sizes (a benchmark, by hand)")
    g.add_argument("--only", default="", help="comma-separated builder names")
    g.add_argument("--families", default="", help="comma-separated families to generate (default: all)")
    g.add_argument("--skip-families", default="", help="comma-separated families not to generate")
    g.add_argument("--verbose", action="store_true", help="print torch's traceback of a failed export")
    r = sub.add_parser("run", help="run OUTDIR's cases on the engine")
    r.add_argument("outdir")
    r.add_argument("--backends", default="ref,cpu,opencl")
    r.add_argument("--ref-max-params", type=float, default=float("inf"),
                   help="run on ref only models of at most this many parameters")
    r.add_argument("--min-params", type=float, default=0.0,
                   help="run only models of more than this many parameters (with --merge: ref on the big ones)")
    r.add_argument("--merge", action="store_true",
                   help="keep OUTDIR's earlier RESULTS.json rows for the (model, backend) pairs not run now")
    r.add_argument("--expected", help="expectation file to check (or --update)")
    r.add_argument("--update", action="store_true")
    r.add_argument("--docs", help="rewrite the generated section of this file (docs/CONFORMANCE.md)")
    t = sub.add_parser("docs", help="rewrite the table from OUTDIR's REPORT.json and RESULTS.json (of the last run)")
    t.add_argument("outdir")
    t.add_argument("file")
    t.add_argument("--backends", default="ref,cpu,opencl")
    args = ap.parse_args()
    if args.cmd == "docs":
        with open(os.path.join(args.outdir, "REPORT.json")) as fh:
            report = json.load(fh)
        with open(os.path.join(args.outdir, "RESULTS.json")) as fh:
            results = {(r[0], r[1]): tuple(r[2:]) for r in json.load(fh)}
        write_docs(args.file, report, results, args.backends.split(","))
        return 0
    return cmd_gen(args) if args.cmd == "gen" else cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
