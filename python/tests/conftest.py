"""Fixtures of the engine package's tests: models exported from torch, and the backends to run them on.

The package and libengine come from the environment meson's test sets
(PYTHONPATH = python/, ENGINE_LIBRARY = the build tree's libengine.so,
whose backend modules are found beside it). Run by hand from a build:

    ENGINE_LIBRARY=build/engine/libengine.so PYTHONPATH=python python3 -m pytest python/tests
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("ref", "cpu", "opencl")


@pytest.fixture(scope="session")
def loaded_backends() -> engine.Backends:
    return engine.backends()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, loaded_backends: engine.Backends) -> str:
    """Each backend in turn; skipped (with the reason) where it did not load."""
    name = request.param
    if name not in loaded_backends:
        why = "; ".join(loaded_backends.refused) or "no module found"
        pytest.skip(f"backend '{name}' is not loaded here ({why})")
    return name


@pytest.fixture(scope="session")
def lenet() -> str:
    return str(ROOT / "demo" / "lenet5.onnx")


def build_root() -> Path:
    """The meson build folder (ENGINE_TEST_BUILD_ROOT, else the one holding ENGINE_LIBRARY)."""
    env = os.environ.get("ENGINE_TEST_BUILD_ROOT")
    if env:
        return Path(env)
    lib = os.environ.get("ENGINE_LIBRARY")
    if lib:
        return Path(lib).resolve().parents[1]
    return ROOT / "build"


def rel_l2(got: np.ndarray, want: np.ndarray) -> float:
    want = np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(got.astype(np.float64) - want) / max(np.linalg.norm(want), 1e-300))


@pytest.fixture(scope="session")
def torch_models(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    """A small CNN and a two-input net, exported with dynamic batch, height and width; their float64 twins."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(20)

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
            self.bn = nn.BatchNorm2d(c)
            self.pw = nn.Conv2d(c, c, 1)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return torch.relu(x + self.pw(torch.relu(self.bn(self.dw(x)))))

    class SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
            self.block = Block(16)
            self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.pool = nn.MaxPool2d(2, ceil_mode=True)
            self.head = nn.Linear(32, 10)

        def forward(self, x):  # type: ignore[no-untyped-def]
            y = self.pool(torch.relu(self.down(self.block(self.stem(x)))))
            return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1)), torch.sigmoid(y)

    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x, y):  # type: ignore[no-untyped-def]
            return self.conv(x) * y

    out = tmp_path_factory.mktemp("models")
    cnn = SmallCNN().eval()
    with torch.no_grad():  # BatchNorm statistics that are not the identity
        for m in cnn.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    dyn = {0: "batch", 2: "height", 3: "width"}
    cnn_path = out / "small_cnn.onnx"
    torch.onnx.export(cnn, torch.randn(1, 3, 40, 48), str(cnn_path), input_names=["image"],
                      output_names=["logits", "features"], opset_version=13,
                      dynamic_axes={"image": dyn, "logits": {0: "batch"}, "features": dyn})
    two = TwoInputs().eval()
    two_path = out / "two_inputs.onnx"
    torch.onnx.export(two, (torch.randn(2, 3, 8, 8), torch.randn(2, 4, 8, 8)), str(two_path),
                      input_names=["x", "y"], output_names=["z"], opset_version=13,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}, "z": {0: "batch"}})
    return {
        "cnn": str(cnn_path),
        "cnn_torch": cnn.double(),
        "two": str(two_path),
        "two_torch": two.double(),
    }


@pytest.fixture(scope="session")
def resnet18(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    """torchvision ResNet-18 with seeded random weights, exported with dynamic batch, height and width."""
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(18)
    net = tv.models.resnet18(weights=None, num_classes=100).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("resnet18") / "resnet18_dynamic.onnx"
    torch.onnx.export(net, torch.randn(1, 3, 64, 64), str(path), input_names=["input"], output_names=["logits"],
                      opset_version=13,
                      dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}})
    return {"path": str(path), "torch": net.double()}
