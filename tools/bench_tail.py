#!/usr/bin/env python3
"""bench_tail.py - what a new detection count costs: the first run whose
data-dependent counts (NMS keeps, boxes over a threshold) have not been seen
before, against the steady state of the same image.

A detector's graph is cut at its data-dependent ops (docs/ARCHITECTURE.md,
"Sync points"); the part after each cut is specialised on the count it
receives and kept in the session's cache, so a count seen before is a cache
hit. This runs a stream of images through one session; for each image it
times the first run (a cache miss when the session's miss counter moved)
and then the median of REPEAT further runs of the same image (all hits), and
reports, per model and backend, the first/steady ratio of the runs that
missed and of those that hit, the specialisations held, and on opencl the
OpenCL programs built after the first image (none expected: programs are
built once per source and options, never per count). On cpu, where
onnxruntime imports (run it with the benchmark venv's python, as
tools/bench.py makes it), ONNX Runtime's CPU provider runs each image too,
alternating with the engine's steady runs, same threads.

Models: the repository's demo detector (demo/detect/detector.onnx, 128x128,
NMS in the graph; scenes drawn by tools/train_detector.py with 0-5 objects)
and torchvision's fasterrcnn_mobilenet_v3_large_320_fpn (random weights,
heads spread as in python/tests/test_detection.py; images of random noise).

    ENGINE_LIBRARY=build/engine/libengine.so PYTHONPATH=python \\
      ENGINE_BACKEND_PATH=build/backends/ref:build/backends/cpu:build/backends/opencl \\
      ~/.cache/engine-bench/ort-venv/bin/python tools/bench_tail.py --backends cpu,opencl --images 40
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)


def demo_inputs(n, seed):
    import train_detector as td
    xs, _ = td.make_set(seed, n)
    return [np.ascontiguousarray(x.transpose(2, 0, 1)[None].astype(np.float32) / 255.0) for x in xs]


def frcnn_model(path):
    import torch
    sys.path.insert(0, os.path.join(ROOT, "python", "tests"))
    from test_detection import build  # random BatchNorm statistics and spread heads, as the test's
    m = build("fasterrcnn_mobilenet_v3_large_320_fpn")
    image = torch.rand(3, 320, 320)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, ([image],), path, opset_version=11, input_names=["image"])


def frcnn_inputs(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        # noise at a random contrast: the heads' scores and so the counts vary
        x = rng.random((3, 320, 320), dtype=np.float32) * np.float32(rng.uniform(0.2, 1.0))
        out.append(np.ascontiguousarray(x))
    return out


def ort_session(path, threads):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def bench(engine, path, inputs, backend, repeat, threads):
    s = engine.Session(path, backends=[backend, "cpu"] if backend == "opencl" else [backend], threads=threads)
    peer = ort_session(path, threads) if backend == "cpu" else None
    peer_in = peer.get_inputs()[0].name if peer else None
    rows = []
    built0 = None
    for k, x in enumerate(inputs):
        m0 = s.stats()["cache_misses"]
        t0 = time.perf_counter()
        outs = s.run(feeds=[x])
        t1 = time.perf_counter()
        st = s.stats()
        missed = st["cache_misses"] > m0
        if k == 0:
            built0 = st["kernels_built"]
        steady, ort_t = [], []
        for _ in range(repeat):
            # alternating with ONNX Runtime (cpu rows, where it is installed)
            t2 = time.perf_counter()
            s.run(feeds=[x])
            steady.append(time.perf_counter() - t2)
            if peer:
                t3 = time.perf_counter()
                peer.run(None, {peer_in: x})
                ort_t.append(time.perf_counter() - t3)
        count = int(outs[0].shape[0])
        rows.append((k, count, missed, (t1 - t0) * 1e3, statistics.median(steady) * 1e3,
                     statistics.median(ort_t) * 1e3 if ort_t else None))
    st = s.stats()
    s.close()
    return rows, st, st["kernels_built"] - (built0 or 0)


def summarise(name, backend, rows, st, built_after):
    rest = rows[1:]  # the first image compiles the head too
    miss = [r[3] / r[4] for r in rest if r[2]]
    hit = [r[3] / r[4] for r in rest if not r[2]]
    counts = sorted({r[1] for r in rows})
    steady = statistics.median(r[4] for r in rows)

    ort = [r[5] for r in rows if r[5] is not None]
    peer = f"{statistics.median(ort):.1f} ({statistics.median(ort) / steady:.2f}x)" if ort else "-"

    def fmt(v):
        return f"{statistics.median(v):.2f}x (max {max(v):.2f}x, {len(v)} runs)" if v else "-"
    print(f"| {name} | {backend} | {len(rows)} | {len(counts)} ({counts[0]}-{counts[-1]}) | {steady:.2f} | {peer} | "
          f"{fmt(miss)} | {fmt(hit)} | {st['specializations']} | {built_after} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="cpu")
    ap.add_argument("--models", default="demo,frcnn")
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose", action="store_true", help="one line per image")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import engine
    tmp = tempfile.mkdtemp(prefix="bench-tail-")
    models = []
    for m in args.models.split(","):
        if m == "demo":
            models.append(("demo detector", os.path.join(ROOT, "demo", "detect", "detector.onnx"),
                           demo_inputs(args.images, args.seed)))
        elif m == "frcnn":
            path = os.path.join(tmp, "frcnn.onnx")
            frcnn_model(path)
            models.append(("fasterrcnn_mobilenet_v3_large_320_fpn", path, frcnn_inputs(args.images, args.seed)))
        else:
            ap.error(f"unknown model {m}")
    print("| model | backend | images | distinct counts | steady ms (median) | ONNX Runtime ms (engine speed vs it) "
          "| first run at new counts / steady | first run at seen counts / steady | specialisations held "
          "| programs built after image 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, path, inputs in models:
        for b in args.backends.split(","):
            rows, st, built = bench(engine, path, inputs, b, args.repeat, args.threads)
            if args.verbose:
                for r in rows:
                    print(f"#  {r[0]:3d} count {r[1]:3d} {'miss' if r[2] else 'hit '} first {r[3]:8.2f} ms "
                          f"steady {r[4]:8.2f} ms", file=sys.stderr)
            summarise(name, b, rows, st, built)


if __name__ == "__main__":
    main()
