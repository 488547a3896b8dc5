"""engine.dask on a real Dask cluster: LocalCluster(processes=True, n_workers=2, threads_per_worker=1).

A folder of generated PNG images and .npy files goes through a small torch
CNN (exported in tmp) and LeNet-5: results against a direct Session run and
float64 torch, a corrupt file reported on its own while the rest succeed,
outputs written beside the inputs, a worker killed mid-run with every result
still arriving.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Dict, Iterator

import numpy as np
import pytest

import engine

from conftest import rel_l2

try:
    import dask
    import distributed
except ImportError as exc:  # CI installs python3-distributed: there this runs
    pytest.skip(f"Dask's distributed is not installed ({exc})", allow_module_level=True)

import engine.dask as ed

PIL = pytest.importorskip("PIL.Image")

SIZE = (24, 32)  # (height, width) the images are resized to for the CNN
PRE = ed.Preprocess(size=SIZE, mean=(0.5, 0.4, 0.3), std=(0.25,))


@contextlib.contextmanager
def _cluster(folder: Path) -> Iterator[Any]:
    """A client of a LocalCluster(processes=True, n_workers=2, threads_per_worker=1), closed after."""
    # A result that lived on a worker that died is fetched from it until the
    # connect timeout (30 s by default) before it is recomputed: 10 s here
    # (the scheduler runs in this process) keeps the killed-worker test short.
    with dask.config.set({"distributed.comm.timeouts.connect": "10s"}):
        try:
            cluster = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1,
                                               dashboard_address=":0", silence_logs=40, local_directory=str(folder))
        except Exception as exc:  # e.g. no loopback networking in a sandbox
            pytest.skip(f"a LocalCluster cannot start here: {type(exc).__name__}: {exc}")
        c = distributed.Client(cluster)
        try:
            c.wait_for_workers(2, timeout=60)
            yield c
        finally:
            c.close()
            cluster.close()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with _cluster(tmp_path_factory.mktemp("dask-workers")) as c:
        yield c


def _image(rng: np.random.Generator, h: int, w: int, mode: str) -> Any:
    shape = (h, w) if mode == "L" else (h, w, 3)
    return PIL.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)


@pytest.fixture()
def rgb_folder(tmp_path: Path) -> Path:
    """10 PNGs of assorted sizes, 3 .npy samples, a corrupt PNG and two .npy files of the wrong shape."""
    rng = np.random.default_rng(7)
    d = tmp_path / "rgb"
    d.mkdir()
    for i in range(10):
        _image(rng, 20 + 3 * i, 40 - 2 * i, "RGB").save(d / f"img{i:02d}.png")
    for i in range(3):
        np.save(d / f"arr{i}.npy", rng.standard_normal((3,) + SIZE).astype(np.float32))
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    np.save(d / "flat.npy", np.zeros((3, 24), np.float32))  # rank 2: refused before the engine
    np.save(d / "five.npy", np.zeros((5,) + SIZE, np.float32))  # 5 channels: the engine's ShapeError
    return d


def _want(path: str) -> np.ndarray:
    """The sample the test expects for a file: its own preprocessing, written here from the Preprocess spec."""
    if path.endswith(".npy"):
        return np.load(path)
    with PIL.open(path) as im:
        im = im.convert("RGB").resize((SIZE[1], SIZE[0]), resample=PIL.Resampling.BILINEAR)
        pix = np.asarray(im, dtype=np.float64) / 255.0
    x = (pix - np.array([0.5, 0.4, 0.3])) / 0.25
    return x.transpose(2, 0, 1).astype(np.float32)


def test_folder_to_arrays(client: Any, torch_models: Dict[str, Any], rgb_folder: Path) -> None:
    torch = pytest.importorskip("torch")
    res = ed.map_files(client, torch_models["cnn"], rgb_folder, batch_size=4, backends=("cpu",), preprocess=PRE)
    files = ed.list_files(rgb_folder)
    assert [r.path for r in res] == files and len(files) == 16

    bad = {Path(r.path).name: r for r in res.failures}
    assert sorted(bad) == ["corrupt.png", "five.npy", "flat.npy"], [r.error for r in res.failures]
    assert bad["corrupt.png"].error.startswith("UnidentifiedImageError:")
    assert bad["flat.npy"].error.startswith("ValueError:") and "(3, 24)" in bad["flat.npy"].error
    assert bad["five.npy"].error.startswith("ShapeError:") and bad["five.npy"].status_name == "ENGINE_ERR_SHAPE"
    with pytest.raises(RuntimeError, match="3 of 16 files failed"):
        res.raise_on_failure()

    assert len(res.successes) == 13
    net = torch_models["cnn_torch"]
    with engine.Session(torch_models["cnn"], backends=("cpu",)) as s:
        for r in res.successes:
            x = _want(r.path)
            assert r.outputs is not None and sorted(r.outputs) == ["features", "logits"]
            direct = dict(zip(["logits", "features"], s.run(feeds={"image": x[None]})))
            with torch.no_grad():
                ref = net(torch.from_numpy(x[None].astype(np.float64)))
            for k, name in enumerate(("logits", "features")):
                got = r.outputs[name]
                assert got.shape == direct[name].shape[1:]
                # stacked runs against a run of one: the same kernels, other batch positions
                np.testing.assert_allclose(got, direct[name][0], rtol=1e-5, atol=1e-6)
                assert rel_l2(got, ref[k][0].numpy()) < 1e-4
    assert res[str(rgb_folder / "img03.png")].ok


def test_npy_beside_static_model(client: Any, lenet: str, tmp_path: Path) -> None:
    """LeNet-5 (fixed 1x1x32x32): grey PNGs resized to its input, one run per file, outputs written atomically."""
    rng = np.random.default_rng(5)
    d = tmp_path / "grey"
    d.mkdir()
    for i in range(6):
        _image(rng, 28 + i, 36 - i, "L").save(d / f"digit{i}.png")
    (d / "empty.png").write_bytes(b"")
    res = ed.map_files(client, lenet, d, batch_size=3, backends=("cpu",), output="npy-beside")
    assert [Path(r.path).name for r in res.failures] == ["empty.png"]
    assert len(res.successes) == 6
    with engine.Session(lenet, backends=("cpu",)) as s:
        for r in res.successes:
            assert r.outputs is None and r.written == (r.path + ".out.npy",)
            got = np.load(r.written[0])
            x = ed.Preprocess().load(r.path, s.inputs()[0].shape)
            assert x.shape == (1, 32, 32) and x.dtype == np.float32
            (want,) = s.run(feeds={"input": x[None]})
            np.testing.assert_array_equal(got, want[0])
    leftovers = [n for n in os.listdir(d) if n.startswith(".engine-")]
    assert leftovers == []
    # the outputs are not taken for inputs when the folder is mapped again
    assert ed.list_files(d) == sorted(str(d / n) for n in os.listdir(d) if n.endswith(".png"))


def test_register_once_per_worker(client: Any, lenet: str, torch_models: Dict[str, Any]) -> None:
    """One session per worker and model, kept across calls; two models side by side; threads = cores / workers."""
    a = ed.register(client, lenet, backends=("cpu",))
    b = ed.register(client, torch_models["cnn"], backends=("cpu",))
    assert a != b

    def sessions(dask_worker: Any) -> Dict[str, Any]:
        return {name: (id(p._session), p.threads_used) for name, p in dask_worker.plugins.items()
                if name.startswith("engine-session-")}

    before = client.run(sessions)
    assert ed.register(client, lenet, backends=("cpu",)) == a
    assert ed.register(client, lenet, backends=" cpu") == a  # the same options spelt another way
    after = client.run(sessions)
    assert before == after and len(after) == 2
    cores = len(os.sched_getaffinity(0))
    for per_worker in after.values():
        assert per_worker[a][0] != id(None) and per_worker[b][0] != id(None)
        assert per_worker[a][1] == max(1, cores // 2)


def test_model_errors(client: Any, tmp_path: Path) -> None:
    for _ in range(2):  # a model that failed to load is not kept registered: the second call fails too
        with pytest.raises(engine.EngineIOError):
            ed.register(client, tmp_path / "missing.onnx", backends=("cpu",))
    assert not any(n.startswith("engine-session-missing") for n in client.run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.worker_plugins)))
    with pytest.raises(engine.InvalidArgumentError):
        ed.map_files(client, tmp_path / "missing.onnx", [], output="csv")
    assert len(ed.map_files(client, tmp_path / "missing.onnx", [])) == 0


def test_worker_killed_mid_run(client: Any, torch_models: Dict[str, Any], rgb_folder: Path, tmp_path: Path) -> None:
    """A task kills its worker process once (os._exit, guarded by a marker file): the nanny restarts it,
    the scheduler re-runs the lost batch elsewhere, and every result still arrives."""
    marker = tmp_path / "killed-once"
    victim = str(rgb_folder / "img05.png")
    pre = PRE

    def loader(path: str) -> np.ndarray:  # pickled by value (a local function): runs on the workers
        if path.endswith(".npy"):
            return np.load(path)
        if path == victim and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(17)
        return pre.load(path)

    pids_before = set(client.run(os.getpid).values())
    good = [str(rgb_folder / f"img{i:02d}.png") for i in range(10)]
    good += [str(rgb_folder / f"arr{i}.npy") for i in range(3)]
    npy = [p for p in good if p.endswith(".npy")]
    res = ed.map_files(client, torch_models["cnn"], good, batch_size=2, backends=("cpu",),
                       preprocess=loader, output="npy-beside")
    assert marker.exists(), "the victim's task never ran"
    assert int(marker.read_text()) in pids_before
    assert [r.path for r in res] == good
    assert res.failures == [], [r.error for r in res.failures]
    with engine.Session(torch_models["cnn"], backends=("cpu",)) as s:
        for r in res:
            assert r.written == tuple(r.path + f".out.{n}.npy" for n in ("logits", "features"))
            x = np.load(r.path) if r.path in npy else _want(r.path)
            logits, features = s.run(feeds={"image": x[None]})
            np.testing.assert_allclose(np.load(r.written[0]), logits[0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(np.load(r.written[1]), features[0], rtol=1e-5, atol=1e-6)
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids_before  # one worker process is new


_SETUP_TOGETHER = """
import asyncio, sys
import engine.dask as ed

class Worker:
    address = "tcp://127.0.0.1:1"

plugins = [ed.SessionPlugin(m, threads=1, backends="cpu") for m in sys.argv[1:]]

async def main():
    await asyncio.gather(*(p.setup(Worker()) for p in plugins))

asyncio.run(main())
print("loaded", len([p for p in plugins if p.session() is not None]))
"""


def test_plugins_set_up_together(lenet: str, torch_models: Dict[str, Any]) -> None:
    """A worker that starts with two models registered sets both plugins up at once (a restarted worker does):
    in a fresh process, each time (the sessions' creation is serialised; at once, POCL's first probes raced)."""
    import subprocess
    import sys

    for _ in range(4):
        p = subprocess.run([sys.executable, "-c", _SETUP_TOGETHER, lenet, torch_models["cnn"]],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and p.stdout.strip() == "loaded 2", (p.returncode, p.stdout, p.stderr[-2000:])


def test_file_that_always_kills_its_worker(lenet: str, tmp_path: Path) -> None:
    """A batch whose task kills every worker it runs on is given up after Dask's allowed failures:
    its files are reported with the KilledWorker error, not dropped. On a cluster of its own: after
    four deaths in a second, Dask 2022.12's nanny sometimes leaves a worker closed, not restarted."""
    rng = np.random.default_rng(11)
    victim = tmp_path / "deadly.png"
    _image(rng, 32, 32, "L").save(victim)

    def loader(path: str) -> np.ndarray:
        os._exit(19)

    (tmp_path / "workers").mkdir()
    with _cluster(tmp_path / "workers") as client:
        allowed = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
        if allowed > 3:
            pytest.skip(f"distributed.scheduler.allowed-failures is {allowed}: too many worker restarts for a test")
        res = ed.map_files(client, lenet, [victim], backends=("cpu",), preprocess=loader)
    (r,) = res.results
    assert r.path == str(victim) and r.error is not None and r.error.startswith("KilledWorker:"), r.error


def test_preprocess_spec() -> None:
    with pytest.raises(engine.InvalidArgumentError):
        ed.Preprocess(mode="CMYK")
    with pytest.raises(engine.InvalidArgumentError):
        ed.Preprocess(std=(1.0, 0.0, 1.0))
    with pytest.raises(engine.InvalidArgumentError):
        ed.Preprocess(size=(0, 3))
    p = ed.Preprocess.imagenet()
    assert p.size == (224, 224) and p.mean == (0.485, 0.456, 0.406)
    assert ed.output_paths("/d/a.png", ["y"]) == ["/d/a.png.out.npy"]
    assert ed.output_paths("/d/a.png", ["y", "z:0"]) == ["/d/a.png.out.y.npy", "/d/a.png.out.z_0.npy"]


def test_preprocess_bgr_nhwc(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    PIL.fromarray(img, mode="RGB").save(path)
    x = ed.Preprocess(mode="BGR", layout="NHWC", scale=1.0, mean=(1.0, 2.0, 3.0), std=(2.0,)).load(str(path))
    want = (img[:, :, ::-1].astype(np.float32) - np.array([1.0, 2.0, 3.0], np.float32)) / 2.0
    np.testing.assert_array_equal(x, want)
    grey = ed.Preprocess().load(str(path), (1, 1, 5, 7))
    assert grey.shape == (1, 5, 7)
    with pytest.raises(ValueError, match="2 values"):
        ed.Preprocess(mean=(0.1, 0.2)).load(str(path))
