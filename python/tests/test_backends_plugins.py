"""engine.backends() with descriptions and refusals; custom-op plugins."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

import engine
from conftest import build_root


def test_backends_listed(loaded_backends: engine.Backends) -> None:
    names = loaded_backends.names()
    assert "ref" in names and "cpu" in names  # built with the tests
    for b in loaded_backends:
        assert b.description and isinstance(b.score, int)
    assert len(set(names)) == len(names)


def test_refused_module_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = build_root() / "tests" / "engine-backend-badabi.so"
    if not bad.exists():
        pytest.skip(f"{bad} is not built")
    monkeypatch.setenv("ENGINE_BACKEND_PATH", str(bad))
    found = engine.backends()
    assert any("badabi" in r for r in found.refused), found.refused
    assert "cpu" in found  # the others still load


def _swish_model(path: str, beta: float) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("Swish", ["x"], ["y"], name="swish", domain="com.example", beta=beta)
    graph = helper.make_graph([node], "swish", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)])
    onnx.save(model, path)


def test_plugin(tmp_path, backend: str) -> None:  # type: ignore[no-untyped-def]
    plugin_dir = os.environ.get("ENGINE_TEST_PLUGIN_DIR") or str(build_root() / "plugins")
    swish = os.path.join(plugin_dir, "engine-plugin-swish.so")
    if not os.path.exists(swish):
        pytest.skip(f"{swish} is not built")
    path = str(tmp_path / "swish.onnx")
    _swish_model(path, 1.5)
    assert engine.load_plugin(swish) >= 1
    assert swish in engine.plugins()
    s = engine.Session(path, backends=(backend,))
    x = np.linspace(-4, 4, 10, dtype=np.float32).reshape(2, 5)
    (y,) = s.run(feeds={"x": x})
    np.testing.assert_allclose(y, x / (1 + np.exp(-1.5 * x)), rtol=1e-5, atol=1e-6)


def test_plugin_refused() -> None:
    plugin_dir = os.environ.get("ENGINE_TEST_PLUGIN_DIR") or str(build_root() / "plugins")
    bad = os.path.join(plugin_dir, "engine-plugin-broken-bad_abi.so")
    if not os.path.exists(bad):
        pytest.skip(f"{bad} is not built")
    with pytest.raises(engine.AbiError) as e:
        engine.load_plugin(bad)
    assert "bad_abi" in e.value.message
    assert bad not in engine.plugins()
    with pytest.raises(engine.NotFoundError):
        engine.load_plugin(os.path.join(plugin_dir, "no-such-plugin.so"))


def test_engine_messages_logged(caplog: pytest.LogCaptureFixture, lenet: str,
                                loaded_backends: engine.Backends) -> None:
    caplog.set_level(logging.INFO, logger="engine")
    engine.Session(lenet, backends="cpu")
    assert any("backend 'cpu' loaded" in r.getMessage() for r in caplog.records if r.name == "engine")
    if "opencl" not in loaded_backends:
        return
    caplog.clear()
    s = engine.Session(lenet, backends=("opencl", "cpu"), device="7:7")  # no such device: falls back
    assert "placement: cpu" in s.placement()
    warned = [r for r in caplog.records if r.name == "engine" and r.levelno == logging.WARNING]
    assert any("opencl" in r.getMessage() and "falling back" in r.getMessage() for r in warned)
