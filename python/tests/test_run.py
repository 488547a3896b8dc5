"""Sessions on every backend: a static model, a torch model with dynamic batch/height/width against float64 torch."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from conftest import rel_l2


def test_version() -> None:
    assert engine.version() == engine.__version__


def test_lenet_static(backend: str, lenet: str) -> None:
    s = engine.Session(lenet, backends=(backend,), strict=True)
    (inp,) = s.inputs()
    assert inp.name == "input" and inp.dtype == np.float32 and inp.shape == (1, 1, 32, 32)
    assert not inp.shape_param and not s.dynamic
    (out,) = s.outputs()
    assert out.name == "logits" and out.shape == (1, 10) and out.dtype == np.float32
    x = np.random.default_rng(0).random((1, 1, 32, 32), dtype=np.float32)
    (y,) = s.run(feeds={"input": x})
    assert y.shape == (1, 10) and y.dtype == np.float32
    ref = engine.Session(lenet, backends="ref", strict=True).run(None, [x])[0]
    assert rel_l2(y, ref) <= 1e-5
    assert f"{backend}" in s.placement()
    st = s.stats()
    assert st["partitions"] >= 1 and st["specializations"] == 1 and s.macs > 0
    # the held-out digits that ship with the demo: the argmax is the label most of the time
    xs = np.load(engine_root() / "demo" / "heldout_x.npy")[:16].astype(np.float32)
    ys = np.load(engine_root() / "demo" / "heldout_y.npy")[:16]
    hits = sum(int(np.argmax(s.run(feeds={"input": xs[k : k + 1].reshape(1, 1, 32, 32)})[0]) == ys[k])
               for k in range(len(xs)))
    assert hits >= 14


def engine_root():  # type: ignore[no-untyped-def]
    from conftest import ROOT

    return ROOT


def test_torch_dynamic_against_float64(backend: str, torch_models: dict) -> None:
    torch = pytest.importorskip("torch")
    s = engine.Session(torch_models["cnn"], backends=[backend], strict=True)
    assert s.dynamic
    (inp,) = s.inputs()
    assert inp.shape == ("batch", 3, "height", "width")
    assert [o.shape for o in s.outputs()] == [None, None]  # nothing run yet
    rng = np.random.default_rng(1)
    shapes = [(1, 3, 64, 80), (3, 3, 37, 53)]
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        logits, feats = s.run(feeds={"image": x})
        with torch.no_grad():
            want = torch_models["cnn_torch"](torch.from_numpy(x.astype(np.float64)))
        assert logits.shape == tuple(want[0].shape) and feats.shape == tuple(want[1].shape)
        assert rel_l2(logits, want[0].numpy()) <= 1e-4, shape
        assert rel_l2(feats, want[1].numpy()) <= 1e-4, shape
        assert [o.shape for o in s.outputs()] == [logits.shape, feats.shape]
        # one named output, and a list of outputs in the caller's order
        (only,) = s.run(["features"], {"image": x})
        np.testing.assert_array_equal(only, feats)
        f2, l2 = s.run(["features", "logits"], {"image": x})
        np.testing.assert_array_equal(l2, logits)
    st = s.stats()
    assert st["specializations"] == 2 and st["cache_misses"] == 2 and st["cache_hits"] >= 2


def test_shapes_option_compiles_ahead(torch_models: dict) -> None:
    s = engine.Session(torch_models["cnn"], backends="cpu", shapes={"image": (2, 3, 32, 32)})
    assert [o.shape for o in s.outputs()] == [(2, 10), (2, 32, 4, 4)]
    assert s.stats()["cache_misses"] == 1
    x = np.zeros((2, 3, 32, 32), np.float32)
    s.run(feeds={"image": x})
    st = s.stats()
    assert st["cache_misses"] == 1 and st["specializations"] == 1


def test_inputs_without_copy_and_converted(torch_models: dict) -> None:
    s = engine.Session(torch_models["cnn"], backends="cpu")
    x = np.random.default_rng(2).standard_normal((1, 3, 20, 24)).astype(np.float32)
    assert s._prepare(0, x) is x  # C-contiguous float32: the caller's own buffer
    xt = np.asfortranarray(x)
    assert s._prepare(0, xt) is not xt and s._prepare(0, xt).flags.c_contiguous
    want = s.run(feeds={"image": x})[0]
    # float64, Fortran order, a strided view, a nested list: converted once, same result
    np.testing.assert_allclose(s.run(feeds={"image": x.astype(np.float64)})[0], want, rtol=1e-6)
    np.testing.assert_array_equal(s.run(feeds={"image": xt})[0], want)
    big = np.zeros((1, 3, 40, 48), np.float32)
    big[:, :, ::2, ::2] = x
    np.testing.assert_array_equal(s.run(feeds={"image": big[:, :, ::2, ::2]})[0], want)
    np.testing.assert_array_equal(s.run(feeds={"image": x.tolist()})[0], want)


def test_outputs_are_copies(torch_models: dict) -> None:
    s = engine.Session(torch_models["cnn"], backends="cpu")
    a = s.run(feeds={"image": np.ones((1, 3, 16, 16), np.float32)})[0]
    keep = a.copy()
    s.run(feeds={"image": np.full((1, 3, 16, 16), -3, np.float32)})
    np.testing.assert_array_equal(a, keep)  # the next run did not overwrite it


def test_out_buffers(torch_models: dict) -> None:
    s = engine.Session(torch_models["cnn"], backends="cpu")
    # dynamic: the dtype the file declares is known before the first run, so a buffer works there too
    first, _ = s.run(feeds={"image": np.ones((1, 3, 8, 8), np.float32)}, out=[np.empty(100, np.float32), None])
    assert first.shape == (1, 10)
    x = np.random.default_rng(3).standard_normal((2, 3, 16, 16)).astype(np.float32)
    want = s.run(feeds={"image": x})
    buf = np.empty(100, np.float32)
    logits, feats = s.run(feeds={"image": x}, out=[buf, None])
    assert np.shares_memory(logits, buf) and logits.shape == (2, 10)
    np.testing.assert_array_equal(logits, want[0])
    np.testing.assert_array_equal(feats, want[1])
    with pytest.raises(engine.ShapeError):
        s.run(feeds={"image": x}, out=[np.empty(5, np.float32), None])
    with pytest.raises(engine.DTypeError):
        s.run(feeds={"image": x}, out=[np.empty(100, np.float64), None])


def test_profile(torch_models: dict) -> None:
    s = engine.Session(torch_models["cnn"], backends="cpu", profile=True)
    s.run(feeds={"image": np.zeros((1, 3, 16, 16), np.float32)})
    t = s.profile()
    assert t and all(n.backend == "cpu" and n.ms >= 0 for n in t)
    assert any(n.op == "Conv" or n.op.startswith("Conv") for n in t)
    plain = engine.Session(torch_models["cnn"], backends="cpu")
    with pytest.raises(engine.InvalidArgumentError):
        plain.profile()


def test_default_backends_and_close(lenet: str, loaded_backends: engine.Backends) -> None:
    with engine.Session(lenet) as s:  # ("opencl", "cpu"): whichever are here
        text = s.placement()
        first = "opencl" if "opencl" in loaded_backends else "cpu"
        assert f"placement: {first}" in text
    with pytest.raises(engine.InvalidArgumentError, match="closed"):
        s.run(feeds={"input": np.zeros((1, 1, 32, 32), np.float32)})
    s.close()  # twice is fine


def test_torchvision_resnet18(backend: str, resnet18: dict) -> None:
    """The issue's 'done when': a torchvision model on each backend, at two shapes, against float64 torch."""
    torch = pytest.importorskip("torch")
    s = engine.Session(resnet18["path"], backends=(backend,), strict=True)
    assert s.inputs()[0].shape == ("batch", 3, "height", "width")
    rng = np.random.default_rng(18)
    for shape in [(1, 3, 64, 64), (2, 3, 49, 71)]:
        x = rng.standard_normal(shape).astype(np.float32)
        (y,) = s.run(feeds={"input": x})
        with torch.no_grad():
            want = resnet18["torch"](torch.from_numpy(x.astype(np.float64))).numpy()
        assert y.shape == want.shape == (shape[0], 100)
        assert rel_l2(y, want) <= 1e-4, (backend, shape, rel_l2(y, want))


def test_bf16_dynamic_against_float64(torch_models: dict) -> None:
    """precision="bf16" on the cpu backend: the same dynamic model, bf16 bounds, the backend says so."""
    torch = pytest.importorskip("torch")
    flags = open("/proc/cpuinfo").read() if __import__("os").path.exists("/proc/cpuinfo") else ""
    if "avx512_bf16" not in flags:
        pytest.skip("this CPU has no AVX512_BF16")
    s = engine.Session(torch_models["cnn"], backends=["cpu"], strict=True, precision="bf16")
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 80)).astype(np.float32)
    logits, feats = s.run(feeds={"image": x})
    with torch.no_grad():
        want = torch_models["cnn_torch"](torch.from_numpy(x.astype(np.float64)))
    # bf16 keeps 8 significant bits: a few 1e-3 through a few convs, far from float32's 1e-6
    err = rel_l2(logits, want[0].numpy())
    assert 1e-6 < err <= 3e-2, err
    assert rel_l2(feats, want[1].numpy()) <= 3e-2
