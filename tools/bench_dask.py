#!/usr/bin/python3
"""bench_dask.py - engine.dask's throughput (images/s) on a LocalCluster of 1 and 2 workers.

A folder of N generated JPEG images (320x240, smooth gradients plus noise,
so that decoding costs what a photo's does) goes through a model with
engine.dask.map_files and Preprocess.imagenet() (decode, resize to
224x224, normalise): the full path, decoding included. For each worker
count W it starts a LocalCluster (W processes, one Dask thread each, the
cpu backend with cores / W threads per worker) and registers the model
(the load time is reported apart). For comparison, "in-process" is the
same work without Dask: one Session with all the cores, the same
Preprocess, one file at a time, in this process. All setups stay up; after
one warm-up map each, every round times a map over all N files on each
setup, in an order that rotates from round to round (a shared machine's
load changes for minutes at a time), and the median images/s of the
--rounds rounds is reported with the slowest and fastest round.

Models: a name looks for ~/.cache/engine-bench/<name>.onnx (exported once
from torchvision with random weights if missing); a path is used as it is.

Needs Debian's /usr/bin/python3 (numpy, PIL, distributed; torchvision to
export a missing model). Usage:
    /usr/bin/python3 tools/bench_dask.py [--build DIR] [--model resnet18] [--images 64]
                                         [--batch-size 8] [--workers 1,2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from typing import Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.expanduser("~/.cache/engine-bench")


def model_path(name: str) -> str:
    """A model file: the path given, or the cached torchvision export (made now if missing)."""
    if os.path.sep in name or name.endswith(".onnx"):
        return os.path.abspath(name)
    path = os.path.join(CACHE, name + ".onnx")
    if not os.path.exists(path):
        import torch
        import torchvision

        os.makedirs(CACHE, exist_ok=True)
        net = getattr(torchvision.models, name)(weights=None).eval()
        tmp = path + f".tmp{os.getpid()}"
        torch.onnx.export(net, torch.randn(1, 3, 224, 224), tmp, input_names=["input"], output_names=["output"],
                          opset_version=13)
        os.replace(tmp, path)
    return path


def make_images(folder: str, n: int) -> List[str]:
    """n JPEGs of 320x240: a gradient per image plus noise (seeded)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(2026)
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    paths = []
    for i in range(n):
        a, b, c = rng.uniform(0.2, 1.0, 3)
        base = np.stack([xx * a / 320, yy * b / 240, (xx + yy) * c / 560], axis=2) * 255
        pix = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = os.path.join(folder, f"img{i:04d}.jpg")
        Image.fromarray(pix, mode="RGB").save(path, quality=90)
        paths.append(path)
    return paths


class InProcess:
    """The same work without Dask: Preprocess.load + Session.run, one file per run, in this process."""

    def __init__(self, model: str, backend: str, threads: int) -> None:
        import engine
        import engine.dask as ed

        self.pre = ed.Preprocess.imagenet()
        self.session = engine.Session(model, backends=(backend,), threads=threads)
        self.info = self.session.inputs()[0]

    def run(self, files: List[str]) -> None:
        for f in files:
            self.session.run(feeds={self.info.name: self.pre.load(f, self.info.shape)[None]})

    def close(self) -> None:
        self.session.close()


class OnCluster:
    """map_files on a LocalCluster of `workers` processes (one Dask thread each)."""

    def __init__(self, model: str, backend: str, workers: int, batch_size: int) -> None:
        import distributed

        import engine.dask as ed

        self.ed = ed
        self.model, self.backend, self.batch_size = model, backend, batch_size
        self.pre = ed.Preprocess.imagenet()
        self.cluster = distributed.LocalCluster(processes=True, n_workers=workers, threads_per_worker=1,
                                                dashboard_address=":0", silence_logs=40)
        self.client = distributed.Client(self.cluster)
        self.client.wait_for_workers(workers, timeout=120)
        t0 = time.perf_counter()
        name = ed.register(self.client, model, backends=(backend,))
        self.load_s = time.perf_counter() - t0
        self.threads = sorted(self.client.run(lambda dask_worker: dask_worker.plugins[name].threads_used).values())

    def run(self, files: List[str]) -> None:
        res = self.ed.map_files(self.client, self.model, files, batch_size=self.batch_size, backends=(self.backend,),
                                preprocess=self.pre)
        res.raise_on_failure()

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the meson build folder (its libengine)")
    ap.add_argument("--model", default="resnet18", help="a torchvision name (cached export) or an .onnx path")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8, help="files per Dask task")
    ap.add_argument("--workers", default="1,2", help="worker counts, comma separated")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()

    # the workers are spawned processes: they inherit this environment
    os.environ.setdefault("ENGINE_LIBRARY", os.path.join(os.path.abspath(args.build), "engine", "libengine.so"))
    os.environ["PYTHONPATH"] = os.path.join(ROOT, "python") + os.pathsep + os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, os.path.join(ROOT, "python"))

    cores = len(os.sched_getaffinity(0))
    load_start = os.getloadavg()[0]
    model = model_path(args.model)
    counts = [int(w) for w in args.workers.split(",") if w.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as folder:
        files = make_images(folder, args.images)
        # every setup stays up for the whole run and each round times them
        # all, in an order that rotates: on a shared machine whose load
        # changes for minutes at a time, no setup gets all the quiet spells
        setups: List[Tuple[str, str, object]] = [("in-process (no Dask)", f"1 x {cores}",
                                                   InProcess(model, args.backend, cores))]
        for w in counts:
            c = OnCluster(model, args.backend, w, args.batch_size)
            threads = c.threads[0] if len(set(c.threads)) == 1 else c.threads
            setups.append((f"LocalCluster, {w} worker{'s' if w > 1 else ''}", f"{w} x {threads}", c))
        try:
            for _, _, s in setups:  # warm-up: every worker has run the model
                s.run(files[:2 * max(counts + [1])])
            rates: Dict[int, List[float]] = {k: [] for k in range(len(setups))}
            for r in range(args.rounds):
                for j in range(len(setups)):
                    k = (j + r) % len(setups)
                    t0 = time.perf_counter()
                    setups[k][2].run(files)
                    rates[k].append(len(files) / (time.perf_counter() - t0))
        finally:
            for _, _, s in setups:
                s.close()
        rows = [(name, shape, rates[k], getattr(s, "load_s", None)) for k, (name, shape, s) in enumerate(setups)]

    load = os.getloadavg()
    print(f"model {os.path.basename(model)}, {args.images} JPEGs 320x240 -> 224x224 (Preprocess.imagenet()), "
          f"backend {args.backend}, batch_size {args.batch_size}, {args.rounds} rounds; "
          f"{cores} cores ({cpu_name()}), load average {load_start:.1f} at the start, {load[0]:.1f} at the end")
    print()
    print("| run | processes x cpu threads | images/s, median of the rounds | slowest - fastest round "
          "| model load on the workers |")
    print("| --- | --- | --- | --- | --- |")
    for name, shape, got, load_s in rows:
        load_txt = "-" if load_s is None else f"{load_s:.2f} s"
        print(f"| {name} | {shape} | {statistics.median(got):.1f} | {min(got):.1f} - {max(got):.1f} | {load_txt} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
