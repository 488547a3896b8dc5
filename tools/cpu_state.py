#!/usr/bin/env python3
"""tools/cpu_state.py - which placement this VM's CPUs are in, and what it
does to the engine and to ONNX Runtime at 1 and 2 threads.

    /usr/bin/python3 tools/cpu_state.py [--model squeezenet1_1] [--rounds 10]

Each round, back to back: a 64 MB copy in one process, then in two at once
(GB/s each; two processes that each keep full bandwidth means the two
vCPUs sit on separate dies, "state B" in docs/PERFORMANCE.md), then
engine-run (cpu, 2 and 1 threads) and ONNX Runtime (2 and 1 threads) on the
same seeded input, median ms of --runs runs each. Uses tools/bench.py's
export cache and its ONNX Runtime virtual environment.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

COPY = r"""
import numpy as np, time
a = np.ones(16 * 1024 * 1024, np.float32); b = np.empty_like(a)
for _ in range(3): np.copyto(b, a)
t = time.perf_counter()
for _ in range(10): np.copyto(b, a)
print(f"{10 * 2 * a.nbytes / (time.perf_counter() - t) / 1e9:.1f}")
"""


def copy_gbs(n):
    ps = [subprocess.Popen(["/usr/bin/python3", "-c", COPY], stdout=subprocess.PIPE, text=True) for _ in range(n)]
    return [float(p.communicate()[0]) for p in ps]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="squeezenet1_1")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build"))
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "engine-bench"))
    ap.add_argument("--ort-venv", default=os.path.join(os.path.expanduser("~"), ".cache", "engine-bench", "ort-venv"))
    args = ap.parse_args()
    import numpy as np
    engine_run = bench.find_engine_run(args.build)
    py = bench.ort_python(args.ort_venv)
    path = bench.export(args.model, args.cache, dynamic=True)
    size = bench.MODELS[args.model][1]
    print("time      copy 1p GB/s  copy 2p GB/s   engine T2  engine T1   ORT T2   ORT T1  (median ms)")
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "x.npy")
        np.save(inp, np.random.default_rng(42).standard_normal((1, 3, size, size)).astype(np.float32))
        timer = os.path.join(tmp, "ort_timer.py")
        with open(timer, "w") as f:
            f.write(bench.ORT_TIMER)
        for _ in range(args.rounds):
            one, two = copy_gbs(1), copy_gbs(2)
            e = [bench.time_engine(engine_run, path, t, args.runs, 5, inp)["latency_ms"]["median"] for t in (2, 1)]
            o = [statistics.median(bench.time_ort(py, timer, path, inp, t, args.runs, 5)["times"]) for t in (2, 1)]
            print(f"{time.strftime('%H:%M:%S')}  {one[0]:12.1f}  {two[0]:5.1f} {two[1]:5.1f}   {e[0]:9.2f}  {e[1]:9.2f}"
                  f"  {o[0]:7.2f}  {o[1]:7.2f}", flush=True)


if __name__ == "__main__":
    main()
