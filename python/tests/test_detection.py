"""torchvision detection models, exported as torchvision documents it, against PyTorch.

Their graphs end in data-dependent work (TopK with a k from the data,
NonMaxSuppression, NonZero, Gather of what was kept, If on the number of
boxes): the engine runs them in stages (docs/ARCHITECTURE.md, "Sync
points"). Random weights give near-uniform scores, where the order of tied
candidates is an implementation's choice; so every BatchNorm gets random
statistics and the heads are scaled up, which spreads the scores. Faster
R-CNN must then give the same detections (labels exact, scores 1e-4, boxes
1e-3 relative), and with a score threshold above every score, zero
detections. (SSDlite runs too, but even so its anchors along the image's
top edge get exactly equal scores from random weights, from the first
detection on, and which of equal boxes NMS keeps is each implementation's
choice: docs/CONFORMANCE.md.)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

SIZE = 320


def build(name: str, score_thresh: float | None = None):
    torch.manual_seed(0)
    m = getattr(torchvision.models.detection, name)(weights=None, weights_backbone=None, num_classes=5).eval()
    if score_thresh is not None:
        m.roi_heads.score_thresh = score_thresh
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d) or type(mod).__name__ == "FrozenBatchNorm2d":
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.2)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(mod.bias.shape, generator=g) * 0.2)
        for pname, p in m.named_parameters():
            if any(t in pname for t in ("cls", "classification", "score", "bbox_pred", "regression")):
                if p.dim() > 1:
                    p.mul_(6.0)
                else:
                    p.add_(torch.randn(p.shape, generator=g) * 0.5)
    return m


@pytest.fixture(scope="module")
def detectors(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, tuple]:
    """name -> (onnx path, torch's outputs as a dict, the input image)."""
    out = tmp_path_factory.mktemp("detection")
    torch.manual_seed(0)
    image = torch.rand(3, SIZE, SIZE)
    models = {}
    for key, name, thresh in [("frcnn", "fasterrcnn_mobilenet_v3_large_320_fpn", None),
                              ("frcnn_none", "fasterrcnn_mobilenet_v3_large_320_fpn", 0.99)]:
        m = build(name, thresh)
        with torch.no_grad():
            ref = m([image])[0]
        path = out / f"{key}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(m, ([image],), str(path), opset_version=11, input_names=["image"],
                              output_names=list(ref.keys()))
        models[key] = (str(path), {k: v.numpy() for k, v in ref.items()}, image.numpy())
    return models


def run(path: str, backend: str, image: np.ndarray) -> Dict[str, np.ndarray]:
    s = engine.Session(path, backends=(backend, "cpu"))
    names = [t.name for t in s.outputs()]
    return dict(zip(names, s.run(feeds={"image": image})))


def check_same(got: Dict[str, np.ndarray], want: Dict[str, np.ndarray], upto: int) -> None:
    assert np.array_equal(got["labels"][:upto], want["labels"][:upto])
    np.testing.assert_allclose(got["scores"][:upto], want["scores"][:upto], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["boxes"][:upto], want["boxes"][:upto], rtol=1e-3, atol=1e-3 * SIZE * 1e-3)


def test_faster_rcnn(detectors, backend: str) -> None:
    path, want, image = detectors["frcnn"]
    got = run(path, backend, image)
    assert got["boxes"].shape == want["boxes"].shape and len(want["scores"]) > 10
    check_same(got, want, len(want["scores"]))


def test_faster_rcnn_no_detection(detectors, backend: str) -> None:
    path, want, image = detectors["frcnn_none"]
    assert len(want["scores"]) == 0
    got = run(path, backend, image)
    assert got["boxes"].shape == (0, 4) and got["scores"].shape == (0,) and got["labels"].shape == (0,)
