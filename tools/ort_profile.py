#!/usr/bin/env python3
"""tools/ort_profile.py - ONNX Runtime's per-node times, to set beside
`engine-run MODEL -b cpu --profile` (docs/PERFORMANCE.md, "Convolutional
nets against ORT, per layer").

    ORT_VENV_PYTHON tools/ort_profile.py MODEL.onnx [THREADS [RUNS [BATCH]]]

ORT_VENV_PYTHON: the python of the virtual environment tools/bench.py makes
(~/.cache/engine-bench/ort-venv/bin/python; onnxruntime is a benchmark
dependency only). The CPU provider runs MODEL with intra-op THREADS
(default 1) on a seeded normal input (symbolic dims taken as 1, the first
as BATCH, default 1), 5 warm-up
runs, then RUNS (default 50) profiled ones (SessionOptions.enable_profiling);
prints, per node in execution order, its name, op and median kernel time
in ms over the runs, then their sum. ORT's node names carry its fusions
(a Conv named after the Relu or Add it absorbed, ReorderInput/Output for
its NCHWc layout)."""
import collections
import json
import os
import sys
import tempfile

import numpy as np
import onnxruntime as ort


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__ + "\n")
        return 2
    model = argv[1]
    threads = int(argv[2]) if len(argv) > 2 else 1
    runs = int(argv[3]) if len(argv) > 3 else 50
    batch = int(argv[4]) if len(argv) > 4 else 1
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.enable_profiling = True
    tmp = tempfile.mkdtemp(prefix="ort_profile_")
    so.profile_file_prefix = os.path.join(tmp, "ort")
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    inp = s.get_inputs()[0]
    shape = [d if isinstance(d, int) else (batch if i == 0 else 1) for i, d in enumerate(inp.shape)]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(5):
        s.run(None, {inp.name: x})
    for _ in range(runs):
        s.run(None, {inp.name: x})
    with open(s.end_profiling()) as f:
        events = json.load(f)
    times = collections.OrderedDict()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            key = (e["name"][: -len("_kernel_time")], e["args"].get("op_name", "?"))
            times.setdefault(key, []).append(e["dur"])
    total = 0.0
    for (name, op), d in times.items():
        med = sorted(d)[len(d) // 2] / 1000.0
        total += med
        print(f"{name[:60]:60s} {op:22s} {med:8.4f}")
    print(f"{'total':60s} {'':22s} {total:8.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
