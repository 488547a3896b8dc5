#!/usr/bin/env python3
"""tools/ort_reference.py - ONNX Runtime's outputs as a case's reference.

    PYTHON_WITH_ONNXRUNTIME tools/ort_reference.py CASE_DIR [CASE_DIR...]

CASE_DIR is a case in tests/case_runner.c's format (model.onnx,
input_<k>.npy; model_q.onnx instead where tools/tv_zoo.py wrote one: the
model with its QuantizeLinear outputs as graph outputs). ONNX Runtime's CPU provider runs the model on those inputs
with its graph optimisations off, so that it computes the nodes as the file
writes them (with them on it would fuse DequantizeLinear -> Conv ->
QuantizeLinear into QLinearConv, whose fixed-point requantisation rounds
differently from the graph), and the outputs are written as
ort_output_<k>.npy, with ort.json naming the release.

Why: a quantized torchvision model's ONNX export is DequantizeLinear ->
float op -> QuantizeLinear, which is not what torch's int8 kernels compute,
so torch's int8 output is no oracle for the graph (docs/CONFORMANCE.md,
"Quantized models"). ONNX Runtime runs the graph as ONNX defines it.

Needs only numpy and onnxruntime (no torch, no onnx): it runs in the
virtual environment that tests/run_tv_zoo.sh or tools/bench.py makes, and
onnxruntime is a test oracle there, never a dependency of the engine.
"""
import json
import os
import sys

import numpy as np
import onnxruntime as ort


def reference(case):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    model = os.path.join(case, "model_q.onnx")
    if not os.path.exists(model):
        model = os.path.join(case, "model.onnx")
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feeds = {}
    for k, i in enumerate(sess.get_inputs()):
        feeds[i.name] = np.load(os.path.join(case, f"input_{k}.npy"))
    outs = sess.run(None, feeds)
    for k, y in enumerate(outs):
        np.save(os.path.join(case, f"ort_output_{k}.npy"), np.asarray(y))
    with open(os.path.join(case, "ort.json"), "w") as fh:
        json.dump({"onnxruntime": ort.__version__, "graph_optimization": "disabled",
                   "model": os.path.basename(model), "outputs": len(outs)}, fh)
    return len(outs)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__.split("\n\n")[1])
    for case in sys.argv[1:]:
        n = reference(case)
        print(f"{os.path.basename(os.path.normpath(case))}: {n} outputs from onnxruntime {ort.__version__}")


if __name__ == "__main__":
    main()
