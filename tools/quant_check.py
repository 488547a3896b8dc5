#!/usr/bin/env python3
"""tools/quant_check.py - where a quantized model's engine output leaves
ONNX Runtime's, QuantizeLinear by QuantizeLinear.

    /usr/bin/python3 tools/quant_check.py CASE_DIR [CASE_DIR...] [--backend ref]

CASE_DIR is a case in tools/tv_zoo.py's format (model.onnx, input_0.npy),
e.g. build/tests/tv_zoo/quantized_resnet18. Every QuantizeLinear output of
the model becomes a graph output; the engine (engine-run --output-dir, at
most 60 extra outputs per call) and ONNX Runtime's CPU provider (graph
optimisations off, so it runs the nodes as exported) run the same input,
and the script prints, per QuantizeLinear, how many integer values differ
and by how much, then the first node that differs.

Why: torchvision's quantized models compute in torch's int8 kernels
(qnnpack here), whose requantisation is fixed-point, while their ONNX
export is DequantizeLinear -> float op -> QuantizeLinear. The two are not
the same computation, so torch's int8 output is no oracle for the graph
(docs/CONFORMANCE.md, "Quantized models"). ONNX Runtime runs the graph as
ONNX defines it; agreement with it node by node is the check.

ONNX Runtime is a benchmark / oracle dependency only: it is taken from
tools/bench.py's virtual environment (--ort-venv, created on first use),
and this script re-executes itself there.
"""
import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHUNK = 60  # engine-run takes at most 64 inputs + outputs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="+")
    ap.add_argument("--backend", default="ref")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--ort-venv", default=os.path.join(os.path.expanduser("~"), ".cache", "engine-bench", "ort-venv"))
    args = ap.parse_args()
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        sys.path.insert(0, HERE)
        from bench import ort_python
        py = ort_python(args.ort_venv)
        os.execv(py, [py] + sys.argv)
    for case in args.cases:
        check(case, args)


def check(case, args):
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import shape_inference

    model = shape_inference.infer_shapes(onnx.load(os.path.join(case, "model.onnx")))
    x = np.load(os.path.join(case, "input_0.npy"))
    known = {v.name: v for v in model.graph.value_info}
    qs = [n.output[0] for n in model.graph.node if n.op_type == "QuantizeLinear" and n.output[0] in known]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    env = dict(os.environ, ENGINE_BACKEND_PATH=os.pathsep.join(
        os.path.join(args.build, "backends", b) for b in ("ref", "cpu", "opencl")))
    print(f"== {os.path.basename(os.path.normpath(case))}: {len(qs)} QuantizeLinear outputs, backend {args.backend}")
    first = None
    with tempfile.TemporaryDirectory() as tmp:
        for off in range(0, len(qs), CHUNK):
            names = qs[off:off + CHUNK]
            m = onnx.ModelProto()
            m.CopyFrom(model)
            n_out = len(m.graph.output)
            for nm in names:
                m.graph.output.append(known[nm])
            path = os.path.join(tmp, "m.onnx")
            onnx.save(m, path)
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            want = sess.run(None, {sess.get_inputs()[0].name: x})
            r = subprocess.run([os.path.join(args.build, "tools", "engine-run"), path, "-b", args.backend, "--strict",
                                "-i", os.path.join(case, "input_0.npy"), "--output-dir", tmp],
                               capture_output=True, text=True, env=env)
            if r.returncode:
                sys.exit(f"engine-run failed: {r.stderr.strip()}")
            for k, nm in enumerate(names):
                got = np.load(os.path.join(tmp, f"output_{n_out + k}.npy")).astype(np.int64)
                ref = want[n_out + k].astype(np.int64)
                d = np.abs(got - ref)
                n_diff = int((d > 0).sum())
                print(f"  {nm}: {n_diff}/{d.size} differ" + (f", by at most {d.max()}" if n_diff else ""))
                if n_diff and first is None:
                    first = nm
    print(f"  first difference: {first or 'none'}")


if __name__ == "__main__":
    main()
