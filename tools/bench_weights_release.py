#!/usr/bin/python3
"""bench_weights_release.py - what releasing a model's packed weights costs at a new shape.

For each model (~/.cache/engine-bench/M_dynbatch.onnx, as tools/bench.py --ort exports them), a
cpu session with max_specializations=1 runs batch 1 and batch 2 in turn, so every run compiles
a new signature; once with the default (the model's copy of packed weights released and read
back from the file at each new signature, docs/ARCHITECTURE.md "Weights released once packed")
and once with keep_weights=True, alternating, ROUNDS times. Prints each run's ms after the first
and the bytes released.

Usage: /usr/bin/python3 tools/bench_weights_release.py [--build build-release] [--models a,b]
                                                        [--threads 2] [--rounds 2]
"""
import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.expanduser("~/.cache/engine-bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build-release")
    ap.add_argument("--models", default="resnet50,googlenet")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("ENGINE_LIBRARY", os.path.join(build, "engine", "libengine.so"))
    os.environ.setdefault("ENGINE_BACKEND_PATH", os.path.join(build, "backends", "cpu"))
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import engine
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    for m in a.models.split(","):
        path = os.path.join(CACHE, f"{m}_dynbatch.onnx")
        for _ in range(a.rounds):
            for keep in (False, True):
                s = engine.Session(path, backends="cpu", threads=a.threads, strict=True, max_specializations=1,
                                   keep_weights=keep)
                ts = []
                for i in range(6):
                    xi = np.ascontiguousarray(np.repeat(x, 1 + i % 2, axis=0))
                    t0 = time.perf_counter()
                    s.run(None, {s.inputs()[0].name: xi})
                    ts.append((time.perf_counter() - t0) * 1e3)
                rel = s.stats()["released_weight_bytes"]
                print(f"{m:20s} {'keep_weights' if keep else 'default':12s} new-shape runs ms: "
                      + " ".join(f"{t:.0f}" for t in ts[1:]) + f"  released {rel / 1e6:.1f} MB", flush=True)
                s.close()


if __name__ == "__main__":
    main()
