#!/bin/bash
# The cpu backend's layout choice (backends/cpu/module.c find_blocked) on a
# MobileNet-style head, Conv 3 -> 32 3x3 s2, depthwise 3x3, 1x1 32 -> 16,
# at 224x224: the 3-channel stem runs on a direct kernel (the NCHW one, or
# the one that writes the blocked layout for the blocked depthwise conv
# after it) at every batch and thread count, never on the blocked kernel
# that pads its 3 channels to a block. The choice weighs per-image conv
# estimates against conversions; at batch 8 it had weighed the conversions
# of all 8 images and put the stem on that kernel, 2.7x slower
# (docs/PERFORMANCE.md). Then three ConvNeXt blocks (see below). Plan checks, not timings. Skips (77)
# where the ISA has no blocked layout.
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
    f32_conv_direct_m8__* | f32_conv_direct_blkout__*) ok "$name" ;;
    *) bad "$name: got $stem" "$tmp/err" ;;
  esac
done
# A 1x1 conv, three ConvNeXt blocks at stage 1's size (96 x 56x56,
# channels-last MLP, layer scale, residual) and the Transpose to channels
# last that the next stage starts with: the Transposes back to NCHW
# write the blocked layout and the residual stream stays blocked into the
# next block's depthwise conv, which then converts nothing. No single node's flip pays
# for itself there (each adds a conversion); only the whole chain's does.
"$py" - "$tmp/convnext.onnx" <<'PY' || { echo "cannot build the model"; exit 1; }
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
r = np.random.default_rng(1)
C = 96
inits, nodes = [], []
def w(name, *shape, scale=0.1):
    inits.append(numpy_helper.from_array((r.standard_normal(shape) * scale).astype(np.float32), name))
    return name
nodes.append(helper.make_node("Conv", ["input", w("stem_w", C, C, 1, 1), w("stem_b", C)], ["x0"], "stem"))
x = "x0"
for b in range(3):
    p = f"b{b}_"
    nodes += [
        helper.make_node("Conv", [x, w(p + "dw", C, 1, 7, 7), w(p + "dwb", C)], [p + "d"], p + "dw",
                         kernel_shape=[7, 7], pads=[3, 3, 3, 3], group=C),
        helper.make_node("Transpose", [p + "d"], [p + "t"], p + "to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", [p + "t", w(p + "lg", C), w(p + "lb", C)], [p + "n"], p + "ln",
                         axis=-1, epsilon=1e-6),
        helper.make_node("MatMul", [p + "n", w(p + "w1", C, 4 * C)], [p + "m1"], p + "fc1"),
        helper.make_node("Add", [p + "m1", w(p + "b1", 4 * C)], [p + "a1"], p + "fc1_bias"),
        helper.make_node("Relu", [p + "a1"], [p + "h"], p + "act"),
        helper.make_node("MatMul", [p + "h", w(p + "w2", 4 * C, C)], [p + "m2"], p + "fc2"),
        helper.make_node("Add", [p + "m2", w(p + "b2", C)], [p + "a2"], p + "fc2_bias"),
        helper.make_node("Transpose", [p + "a2"], [p + "u"], p + "to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Mul", [w(p + "gamma", C, 1, 1), p + "u"], [p + "s"], p + "layer_scale"),
        helper.make_node("Add", [p + "s", x], [p + "y"], p + "residual"),
    ]
    x = p + "y"
# the next stage's downsampling LayerNorm reads channels last
nodes.append(helper.make_node("Transpose", [x], ["out"], "head", perm=[0, 2, 3, 1]))
g = helper.make_graph(nodes, "convnext3",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, C, 56, 56])],
    [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 56, 56, C])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
PY
for t in 1 2; do
  name="ConvNeXt blocks, $t threads: the residual stream blocked"
  if ! ENGINE_CPU_VERBOSE=1 "$run" "$tmp/convnext.onnx" -b cpu --threads "$t" >"$tmp/out" 2>"$tmp/err"; then
    bad "$name (exit $?)" "$tmp/err"
    continue
  fi
  back=$(grep "node 'b0_to_nchw'" "$tmp/err" | sed 's/.*(Transpose): //')
  dw=$(grep "node 'b1_dw'" "$tmp/err" | sed 's/.*(Conv): //')
  case "$back|$dw" in
    x32_transpose_nhwc_to_nchw*c__*"|"f32_dwconv_blk__avx512 | x32_transpose_nhwc_to_nchw*c__*"|"f32_dwconv_blk__avx2) ok "$name" ;;
    *) bad "$name: b0_to_nchw '$back', b1_dw '$dw'" "$tmp/err" ;;
  esac
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
