#!/usr/bin/env python3
"""tools/ort_time.py - ONNX Runtime's median latency on one model, to set
beside `engine-run MODEL --bench N` in the same minutes (docs/PERFORMANCE.md).

    ORT_VENV_PYTHON tools/ort_time.py MODEL.onnx THREADS BATCH RUNS

ORT_VENV_PYTHON: the python of the virtual environment tools/bench.py makes
(~/.cache/engine-bench/ort-venv/bin/python; onnxruntime is a benchmark
dependency only). The CPU provider with intra-op THREADS, one inter-op
thread, sequential execution, on a seeded normal input of BATCHx3x224x224
(the first input's name), 10 warm-up runs, then RUNS timed ones; prints
the median in ms."""
import sys
import time

import numpy as np
import onnxruntime as ort


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__ + "\n")
        return 2
    model, threads, batch, runs = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    feed = {sess.get_inputs()[0].name: x}
    for _ in range(10):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    print("%.3f" % float(np.median(times)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
