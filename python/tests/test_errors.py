"""Every failure is an EngineError subclass carrying the engine's status and message."""

from __future__ import annotations

import numpy as np
import pytest

import engine


def test_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nope.onnx"
    with pytest.raises(engine.EngineIOError) as e:
        engine.Session(str(path))
    assert e.value.status == 3 and e.value.status_name == "ENGINE_ERR_IO"
    assert str(path) in e.value.message and isinstance(e.value, OSError)


def test_garbage_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\xff\x00this is not a protobuf" * 10)
    with pytest.raises(engine.EngineError) as e:
        engine.Session(str(path))
    assert e.value.status in (4, 5) and "garbage.onnx" in e.value.message


def test_feed_errors(lenet: str) -> None:
    s = engine.Session(lenet, backends="cpu")
    x = np.zeros((1, 1, 32, 32), np.float32)
    with pytest.raises(engine.NotFoundError, match="no input 'image'") as e:
        s.run(feeds={"image": x})
    assert e.value.status == 9 and isinstance(e.value, LookupError)
    with pytest.raises(engine.NotFoundError, match="no array for input input"):
        s.run(feeds={})
    with pytest.raises(engine.NotFoundError, match="no output 'probs'"):
        s.run(["probs"], {"input": x})
    with pytest.raises(engine.InvalidArgumentError, match="2 arrays"):
        s.run(None, [x, x])
    # dtypes that cannot become float32: refused before the run, naming both
    for bad in (x.astype(np.complex64), np.full((1, 1, 32, 32), "a"), x.astype(object)):
        with pytest.raises(engine.DTypeError, match="input 'input'") as e:
            s.run(feeds={"input": bad})
        assert isinstance(e.value, TypeError) and e.value.status == 1
    # rank
    with pytest.raises(engine.ShapeError, match="rank 3") as e:
        s.run(feeds={"input": np.zeros((1, 32, 32), np.float32)})
    assert e.value.status == 7 and isinstance(e.value, ValueError)
    # a fixed dim that differs: the engine's message names input and axis
    with pytest.raises(engine.ShapeError) as e:
        s.run(feeds={"input": np.zeros((1, 1, 28, 28), np.float32)})
    assert "input" in e.value.message and e.value.status_name == "ENGINE_ERR_SHAPE"
    # and the session still works after every refusal
    assert s.run(feeds={"input": x})[0].shape == (1, 10)


def test_symbolic_dim_conflict(torch_models: dict) -> None:
    s = engine.Session(torch_models["two"], backends="cpu")
    assert [t.shape for t in s.inputs()] == [("batch", 3, 8, 8), ("batch", 4, 8, 8)]
    x = np.ones((2, 3, 8, 8), np.float32)
    with pytest.raises(engine.ShapeError) as e:
        s.run(feeds={"x": x, "y": np.ones((3, 4, 8, 8), np.float32)})
    assert "batch" in e.value.message
    (z,) = s.run(feeds={"x": x, "y": np.ones((2, 4, 8, 8), np.float32)})
    assert z.shape == (2, 4, 8, 8)


def test_bad_options(lenet: str, torch_models: dict) -> None:
    with pytest.raises(engine.NotFoundError, match="nosuch"):
        engine.Session(lenet, backends=("nosuch",), strict=True)
    with pytest.raises(engine.NotFoundError, match="no input 'img'"):
        engine.Session(torch_models["cnn"], backends="cpu", shapes={"img": (1, 3, 8, 8)})
    with pytest.raises(engine.ShapeError):
        engine.Session(torch_models["cnn"], backends="cpu", shapes={"image": (1, 4, 8, 8)})
    # not strict: a backend that is not loaded is skipped
    s = engine.Session(lenet, backends=("nosuch", "ref"))
    assert "placement: ref" in s.placement()


def test_error_classes() -> None:
    e = engine.EngineError("x", 12)
    assert e.status == 12 and e.status_name == "ENGINE_ERR_INTERNAL" and str(e) == "x [ENGINE_ERR_INTERNAL]"
    assert issubclass(engine.UnsupportedError, NotImplementedError)
    assert engine.SecurityError("y").status == 11
