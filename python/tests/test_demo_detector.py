"""The demo detector (demo/detect/detector.onnx, made by tools/train_detector.py) against PyTorch.

The ONNX graph holds the box decoding, the score threshold, class-aware
NonMaxSuppression and the first 100 kept (data-dependent shapes: the engine
runs it in stages). PyTorch runs the same network, its weights read back
from the file's initializers (train_detector.load_onnx_weights), on each
sample scene; the engine must give the same detections: the same count and
order, labels exact, scores 1e-4, boxes 1e-3 relative.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("onnx")
Image = pytest.importorskip("PIL.Image")

ROOT = Path(__file__).resolve().parents[2]
DET = ROOT / "demo" / "detect"


def trainer():
    spec = importlib.util.spec_from_file_location("train_detector", ROOT / "tools" / "train_detector.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def reference():
    """scene -> (input [1,3,128,128], PyTorch's detections [N,6])."""
    T = trainer()
    net = T.Deploy(T.load_onnx_weights(T.TinyYolo(), str(DET / "detector.onnx"))).eval()
    out = {}
    for name in sorted(json.load(open(DET / "truth.json"))):
        img = Image.open(DET / name).convert("RGB").resize((T.SIZE, T.SIZE), Image.BILINEAR)
        x = np.ascontiguousarray((np.asarray(img, np.float32) / 255.0).transpose(2, 0, 1)[None])
        with torch.no_grad():
            out[name] = (x, net(torch.from_numpy(x)).numpy())
    assert sum(len(r) for _, r in out.values()) > 0, "PyTorch finds nothing: the test would prove nothing"
    return out


def test_detector_matches_pytorch(backend: str, reference) -> None:
    # opencl runs the index and detection ops on cpu, by placement
    s = engine.Session(str(DET / "detector.onnx"), backends=(backend, "cpu"))
    for name, (x, ref) in reference.items():
        (got,) = s.run(feeds={"images": x})
        assert got.shape == ref.shape, f"{name}: {got.shape} detections, PyTorch {ref.shape}"
        np.testing.assert_array_equal(got[:, 5], ref[:, 5], err_msg=f"{name}: labels")
        np.testing.assert_allclose(got[:, 4], ref[:, 4], rtol=1e-4, atol=1e-6, err_msg=f"{name}: scores")
        np.testing.assert_allclose(got[:, :4], ref[:, :4], rtol=1e-3, atol=1e-3, err_msg=f"{name}: boxes")


def test_detector_finds_the_objects(reference) -> None:
    """PyTorch's detections on the sample scenes agree with their truth
    (what the demo prints): at least 80% found, same class, IoU >= 0.5."""
    truth = json.load(open(DET / "truth.json"))
    right = total = 0
    for name, (_, dets) in reference.items():
        w, h = Image.open(DET / name).size
        used = set()
        for o in truth[name]:
            tb = np.array(o["box"]) / [w / 128, h / 128, w / 128, h / 128]
            for k, d in enumerate(dets):
                if k in used or int(d[5]) != o["label"]:
                    continue
                ix = max(0.0, min(d[2], tb[2]) - max(d[0], tb[0]))
                iy = max(0.0, min(d[3], tb[3]) - max(d[1], tb[1]))
                union = (d[2] - d[0]) * (d[3] - d[1]) + (tb[2] - tb[0]) * (tb[3] - tb[1]) - ix * iy
                if ix * iy / union >= 0.5:
                    used.add(k)
                    break
        right += len(used)
        total += len(truth[name])
    assert right >= 0.8 * total, f"{right} of {total} objects found"
