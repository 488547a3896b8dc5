#!/bin/bash
# The cpu backend's layout choice (backends/cpu/module.c find_blocked) on a
# MobileNet-style head, Conv 3 -> 32 3x3 s2, depthwise 3x3, 1x1 32 -> 16,
# at 224x224: the 3-channel stem runs on the direct kernel at every batch
# and thread count. The choice weighs per-image conv estimates against
# conversions; at batch 8 it had weighed the conversions of all 8 images
# and put the stem on the blocked kernel, 2.7x slower (docs/PERFORMANCE.md).
# A plan check, not a timing. Skips (77) where the ISA has no blocked layout.
# usage: test_cpu_plan.sh ENGINE_RUN
set -u
run=$1
. "$(dirname "$0")/cli_lib.sh"

"$py" - "$tmp/head.onnx" <<'PY' || { echo "cannot build the model"; exit 1; }
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
r = np.random.default_rng(0)
def w(name, *shape):
    return numpy_helper.from_array((r.standard_normal(shape) * 0.1).astype(np.float32), name)
nodes = [
    helper.make_node("Conv", ["input", "w0", "b0"], ["s"], "stem", kernel_shape=[3, 3], strides=[2, 2],
                     pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["s"], ["sr"], "stem_relu"),
    helper.make_node("Conv", ["sr", "w1", "b1"], ["d"], "dw", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=32),
    helper.make_node("Relu", ["d"], ["dr"], "dw_relu"),
    helper.make_node("Conv", ["dr", "w2", "b2"], ["output"], "pw", kernel_shape=[1, 1]),
]
g = helper.make_graph(nodes, "head",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 16, 112, 112])],
    [w("w0", 32, 3, 3, 3), w("b0", 32), w("w1", 32, 1, 3, 3), w("b1", 32), w("w2", 16, 32, 1, 1), w("b2", 16)])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
PY

for spec in "1 2" "8 1" "8 2"; do
  set -- $spec
  name="batch $1, $2 threads: the stem on the direct kernel"
  if ! ENGINE_CPU_VERBOSE=1 "$run" "$tmp/head.onnx" -b cpu --threads "$2" --shape "input=$1x3x224x224" \
      >"$tmp/out" 2>"$tmp/err"; then
    bad "$name (exit $?)" "$tmp/err"
    continue
  fi
  stem=$(grep "node 'stem'" "$tmp/err" | sed 's/.*(Conv): //')
  case "$stem" in
    "") bad "$name: no kernel line for the stem" "$tmp/err"; continue ;;
    *__avx512* | *__avx2*) ;;
    *) echo "skipped: no blocked layout on this ISA ($stem)"; exit 77 ;;
  esac
  case "$stem" in
    f32_conv_direct_m8__*) ok "$name" ;;
    *) bad "$name: got $stem" "$tmp/err" ;;
  esac
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
