#!/usr/bin/python3
"""Generate ONNX's own node tests in the engine's case format.

Usage: PYTHON tests/conformance/gen_node_tests.py OUTDIR [--ops-h PATH] [--onnx VERSION]

Two suites come from it: `node`, from Debian's onnx 1.12 (/usr/bin/python3),
and `node-new`, from onnx PINNED_ONNX below, which run_conformance.sh
installs from PyPI into a virtual environment in the build folder (that
release reaches opset 21). --onnx VERSION refuses to run under another onnx.

Runs the test-case generators shipped with the installed onnx package
(onnx.backend.test.case.node, the ones `python3 -m onnx.backend.test.cmd_tools
generate-data` runs) and writes, for every test whose ops are all in the
engine's op list (engine/include/engine/ops.h) and whose tensors are of types
the engine loads:
  OUTDIR/<test>/model.onnx        the test's model, as generated (parameter
                                  inputs such as Reshape's shape stay graph
                                  inputs, as ONNX ships them)
  OUTDIR/<test>/input_<k>.npy     data set 0 (data set i > 0: <test>@<i>)
  OUTDIR/<test>/output_<k>.npy    ONNX's expected outputs
  OUTDIR/<test>/tolerance         "allclose ATOL RTOL": the test's own
                                  (ONNX's default 1e-7 / 1e-3)
  OUTDIR/INDEX                    the selected tests, one a line
  OUTDIR/EXCLUDED                 every other test: "<name>\t<reason>"
The inputs/outputs are converted from the generators' numpy arrays to .npy
here (the same arrays generate-data would write as TensorProto .pb).
"""
import argparse
import os
import re
import shutil
import sys

import numpy as np

# onnx 1.12's generators still use aliases numpy removed in 1.24.
for _alias, _t in (("float", float), ("int", int), ("bool", bool), ("object", object),
                   ("complex", complex), ("str", str)):
    if _alias not in np.__dict__:
        setattr(np, _alias, _t)

import onnx  # noqa: E402
import onnx.numpy_helper  # noqa: E402
from onnx.backend.test.case import node as node_cases  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OPS_H = os.path.join(HERE, "..", "..", "engine", "include", "engine", "ops.h")

# numpy dtypes whose tensors the engine reads and writes (engine_tensor_load:
# .npy float32/int64/int32/bool/uint8). float16/float64 and the rest are out
# of scope for the node tests.
SUPPORTED_DTYPES = {np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.int32),
                    np.dtype(np.bool_), np.dtype(np.uint8)}
ELEM_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.INT64, onnx.TensorProto.INT32,
              onnx.TensorProto.BOOL, onnx.TensorProto.UINT8}


# The engine's range of the default domain (engine/src/onnx.c).
MIN_OPSET, MAX_OPSET = 1, 21
# The onnx release of the `node-new` suite (run_conformance.sh reads this
# line): the newest whose opsets stay within MAX_OPSET (1.17 brings 22), and
# which installs beside Debian's numpy 1.24 and protobuf 3.21.
PINNED_ONNX = "1.16.2"


# Ops the engine resolves while it infers a graph rather than running them
# (engine/src/control.c, sequence.c): not in ops.h, read all the same.
GRAPH_OPS = {"If", "Loop", "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SequenceAt",
             "SequenceLength", "ConcatFromSequence", "SplitToSequence"}


def engine_ops(path):
    with open(path) as fh:
        return set(re.findall(r"^\s*X\((\w+),\s*\w+\)", fh.read(), re.M)) | GRAPH_OPS


def all_nodes(graph):
    """Nodes of the graph and of any subgraph (If/Loop bodies)."""
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from all_nodes(a.g)
            for g in a.graphs:
                yield from all_nodes(g)


def value_types(graph):
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        yield v.name, v.type


def exclusion(case, ops):
    """Why `case` is out of scope, or None when it is selected."""
    g = case.model.graph
    bad_ops = sorted({f"{n.domain + '.' if n.domain else ''}{n.op_type}" for n in all_nodes(g)
                      if n.domain not in ("", "ai.onnx") or n.op_type not in ops})
    if bad_ops:
        return "unsupported op: " + ",".join(bad_ops)
    opset = max((o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        return f"unsupported opset: {opset} (the engine reads {MIN_OPSET}-{MAX_OPSET})"
    for name, t in value_types(g):
        kind = t.WhichOneof("value")
        if kind != "tensor_type":
            return f"non-tensor value {name} ({kind})"
        if t.tensor_type.elem_type not in ELEM_TYPES:
            return "unsupported dtype: " + onnx.TensorProto.DataType.Name(t.tensor_type.elem_type).lower()
    for init in g.initializer:
        if init.data_type not in ELEM_TYPES:
            return "unsupported dtype: " + onnx.TensorProto.DataType.Name(init.data_type).lower()
    for inputs, outputs in case.data_sets:
        for a in list(inputs) + list(outputs):
            if isinstance(a, np.generic):  # some generators return numpy scalars
                a = np.asarray(a)
            if not isinstance(a, np.ndarray):
                return f"non-tensor data ({type(a).__name__})"
            if a.dtype not in SUPPORTED_DTYPES:
                return f"unsupported dtype: {a.dtype}"
    if len(g.input) - len(g.initializer) <= 0 and not g.output:
        return "no inputs or outputs"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--ops-h", default=DEFAULT_OPS_H)
    ap.add_argument("--onnx", metavar="VERSION", help="fail unless the onnx imported is this release")
    args = ap.parse_args()
    if args.onnx and onnx.__version__ != args.onnx:
        print(f"error: onnx {onnx.__version__} imported, {args.onnx} required", file=sys.stderr)
        return 1
    ops = engine_ops(args.ops_h)
    if not ops:
        print(f"error: no ops found in {args.ops_h}", file=sys.stderr)
        return 1
    cases = sorted(node_cases.collect_testcases(None), key=lambda c: c.name)
    os.makedirs(args.outdir, exist_ok=True)
    selected, excluded, seen = [], [], {}
    for case in cases:
        # onnx 1.12 registers a few tests twice (test_resize_tf_crop_and_resize):
        # keep both, the second as <name>#2.
        seen[case.name] = seen.get(case.name, 0) + 1
        base = case.name if seen[case.name] == 1 else f"{case.name}#{seen[case.name]}"
        why = exclusion(case, ops)
        if why:
            excluded.append((base, why))
            continue
        for i, (inputs, outputs) in enumerate(case.data_sets):
            name = base if i == 0 else f"{base}@{i}"
            d = os.path.join(args.outdir, name)
            if os.path.exists(d):
                shutil.rmtree(d)
            os.makedirs(d)
            # As ONNX ships it: parameter inputs (shapes, axes, pads, Clip
            # bounds, ...) stay graph inputs; the engine specialises on their
            # values (docs/ARCHITECTURE.md, "Shapes at run time").
            with open(os.path.join(d, "model.onnx"), "wb") as fh:
                fh.write(case.model.SerializeToString())
            for k, a in enumerate(inputs):
                np.save(os.path.join(d, f"input_{k}.npy"), np.ascontiguousarray(np.asarray(a)))
            for k, a in enumerate(outputs):
                np.save(os.path.join(d, f"output_{k}.npy"), np.ascontiguousarray(np.asarray(a)))
            with open(os.path.join(d, "tolerance"), "w") as fh:
                fh.write(f"allclose {case.atol:g} {case.rtol:g}\n")
            selected.append(name)
    with open(os.path.join(args.outdir, "INDEX"), "w") as fh:
        fh.write("".join(n + "\n" for n in selected))
    with open(os.path.join(args.outdir, "EXCLUDED"), "w") as fh:
        fh.write("".join(f"{n}\t{r}\n" for n, r in excluded))
    print(f"onnx {onnx.__version__}: {len(cases)} node tests, {len(selected)} selected, "
          f"{len(excluded)} out of scope -> {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
