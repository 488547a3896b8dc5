"""torchvision detection models, exported as torchvision documents it, against PyTorch.

Their graphs end in data-dependent work (TopK with a k from the data,
NonMaxSuppression, NonZero, Gather of what was kept, If on the number of
boxes): the engine runs them in stages (docs/ARCHITECTURE.md, "Sync
points"). Random weights give near-uniform scores, where the order of tied
candidates is an implementation's choice; so every BatchNorm gets random
statistics and the heads are scaled up, which spreads the scores. Faster
R-CNN must then give the same detections (labels exact, scores 1e-4, boxes
1e-3 relative; where torch's NMS chose between two candidates whose scores
differ by less than float noise, the other one's box is accepted), and
with a score threshold above every score, zero detections. On opencl,
RoiAlign, TopK and the Gather/Scatter family run on the device (the
placement lists the ops each backend runs). (SSDlite runs too, but even so
its anchors along the image's top edge get exactly equal scores from
random weights, from the first detection on, and which of equal boxes NMS
keeps is each implementation's choice: docs/CONFORMANCE.md.)
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

SIZE = 320
# Two NMS candidates whose scores differ by less than this are tied: which
# of them is kept is decided by float noise (the engine's scores match
# torch's to about 4e-7 here), not by the model.
TIE = 2e-6

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from tv_zoo import spread_scores  # noqa: E402  (the heads' scaling, shared with the torchvision zoo)


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
    spread_scores(m, g)
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
        ref, cands = reference(m, image)
        path = out / f"{key}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(m, ([image],), str(path), opset_version=11, input_names=["image"],
                              output_names=list(ref.keys()))
        want = {k: v.numpy() for k, v in ref.items()}
        want["candidates"] = cands
        models[key] = (str(path), want, image.numpy())
    return models


def reference(m, image):
    """torch's detections, and every candidate of its final NMS: the decoded,
    clipped box of each proposal for each class, with its score
    (roi_heads.postprocess_detections; the image is not resized, its size
    being the model's)."""
    heads = m.roi_heads
    post = heads.postprocess_detections
    cands = {}

    def record(class_logits, box_regression, proposals, image_shapes):
        boxes = heads.box_coder.decode(box_regression, proposals)
        cands["boxes"] = torchvision.ops.clip_boxes_to_image(boxes, image_shapes[0]).numpy()
        cands["scores"] = torch.softmax(class_logits, -1).numpy()
        return post(class_logits, box_regression, proposals, image_shapes)

    heads.postprocess_detections = record
    try:
        with torch.no_grad():
            ref = m([image])[0]
    finally:
        heads.postprocess_detections = post
    return ref, cands


def run(path: str, backend: str, image: np.ndarray) -> Dict[str, np.ndarray]:
    s = engine.Session(path, backends=(backend, "cpu"))
    names = [t.name for t in s.outputs()]
    got = dict(zip(names, s.run(feeds={"image": image})))
    # Which ops run where (each stage's backends, the host ops between):
    # shown with pytest -s, and on opencl the detection ops must be on the
    # device (RoiAlign, TopK, the Gather/Scatter family), none left to cpu.
    placement = s.placement()
    print(f"{Path(path).name} on {backend}:\n{placement}")
    if backend == "opencl":
        lines = placement.splitlines()
        assert any(ln.startswith("placement: opencl") and "RoiAlign" in ln for ln in lines), placement
        fallback = " ".join(ln for ln in lines if ln.startswith("placement: cpu"))
        for op in ("RoiAlign", "TopK", "GatherElements", "GatherND", "ScatterElements", "ScatterND"):
            assert op not in fallback, placement
    return got


def check_same(got: Dict[str, np.ndarray], want: Dict[str, np.ndarray], upto: int) -> None:
    """Same labels and scores; the same boxes, except where torch's own NMS
    chose between two candidates of one class whose scores differ by less
    than float noise (TIE): there the engine may keep the other one, and its
    box must then be that candidate's."""
    assert np.array_equal(got["labels"][:upto], want["labels"][:upto])
    np.testing.assert_allclose(got["scores"][:upto], want["scores"][:upto], rtol=1e-4, atol=1e-6)
    rtol, atol = 1e-3, 1e-3 * SIZE * 1e-3
    cands = want["candidates"]
    for i in range(upto):
        g, w = got["boxes"][i], want["boxes"][i]
        if np.allclose(g, w, rtol=rtol, atol=atol):
            continue
        label = want["labels"][i]
        tied = np.nonzero(np.abs(cands["scores"][:, label] - want["scores"][i]) <= TIE)[0]
        assert any(np.allclose(g, cands["boxes"][j, label], rtol=rtol, atol=atol) for j in tied), \
            f"detection {i}: box {g}, torch's {w}, and no candidate tied with it has this box"


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
