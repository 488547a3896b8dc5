#!/bin/bash
# tools/gpu-dynamic.sh BUNDLE OUTDIR [MODELS]  (bash) - run-time shapes on the
# machine's OpenCL device, for the device check (after tools/gpu-check.sh in
# the same call; tools/gpu-bundle.sh puts bench-shapes, test_dynamic and the
# tests/dynamic models in the bundle). Into OUTDIR:
#   dynamic.txt   test_dynamic on the bundle's models (symbolic dims at five
#                 shapes against float64 torch references, the signature cache,
#                 If/Loop, shape parameters, bad shapes) with the device as the
#                 opencl backend;
#   tv/           torchvision ResNet-18, MobileNetV3-small and LR-ASPP exported
#                 with dynamic batch/height/width by this machine's torch
#                 (tests/dynamic/gen_tv_dynamic.py) and case_runner on them
#                 (tv.txt);
#   shapes.jsonl  tools/bench-shapes for MODELS (default resnet18,resnet50):
#                 static and dynamic exports, steady state, first run at new
#                 shapes, memory over 200 cycling runs, on opencl.
# The ICD is found as gpu-check.sh does.
set -u
bundle=$1 out=$2 models=${3:-resnet18,resnet50}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
mkdir -p "$out/tv" "$out/models"
export LD_LIBRARY_PATH="$bundle/lib:$bundle/lib/icd${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ENGINE_BACKEND_PATH="$bundle/lib/engine/backends"
export XDG_CACHE_HOME="$out/cache"
if ! grep -qil nvidia /etc/OpenCL/vendors/*.icd 2>/dev/null; then
  nv=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib -name 'libnvidia-opencl.so*' 2>/dev/null | head -n 1)
  if [ -n "$nv" ]; then
    v=$(mktemp -d)
    echo "$nv" >"$v/nvidia.icd"
    export OCL_ICD_VENDORS=$v
  fi
fi
echo "gpu-dynamic: $(date -u +%FT%TZ)"
timeout 120 "$bundle/bin/test_dynamic" "$bundle/data/dynamic" >"$out/dynamic.txt" 2>&1
echo "gpu-dynamic: test_dynamic exit $? ($(grep -c 'OK \]' "$out/dynamic.txt") ok, $(grep -c 'FAILED \]' "$out/dynamic.txt") failed)"
if timeout 180 "$py" "$root/tests/dynamic/gen_tv_dynamic.py" "$out/tv" >"$out/tv-gen.txt" 2>&1; then
  timeout 120 "$bundle/bin/case_runner" --backend opencl "$out/tv" >"$out/tv.txt" 2>&1
  echo "gpu-dynamic: torchvision dynamic cases on opencl: exit $? ($(grep -E 'PASSED|FAILED' "$out/tv.txt" | tr '\n' ' '))"
else
  echo "gpu-dynamic: could not export the torchvision cases here (tv-gen.txt)"
fi
for m in $(echo "$models" | tr , ' '); do
  for dyn in 0 1; do
    f="$out/models/$m$([ $dyn = 1 ] && echo .dyn).onnx"
    timeout 120 "$py" - "$m" "$dyn" "$f" <<'PY' >>"$out/export.txt" 2>&1 || echo "gpu-dynamic: export of $f failed"
import sys, torch, torchvision
name, dyn, path = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
torch.manual_seed(0)
model = getattr(torchvision.models, name)(weights=None).eval()
axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}} if dyn else None
with torch.no_grad():
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), path, opset_version=13, input_names=["input"],
                      output_names=["output"], do_constant_folding=True, dynamic_axes=axes)
PY
  done
  if [ -f "$out/models/$m.dyn.onnx" ] && [ -f "$out/models/$m.onnx" ]; then
    timeout 240 "$bundle/bin/bench-shapes" "$out/models/$m.dyn.onnx" "$out/models/$m.onnx" opencl 0 1 3 224 224 200 \
      >>"$out/shapes.jsonl" 2>>"$out/shapes.err" || echo "gpu-dynamic: bench-shapes $m failed (shapes.err)"
  fi
done
rm -rf "$out/models" "$out/tv"/*/ "$out/tv"/*.onnx
echo "gpu-dynamic: $(date -u +%FT%TZ) done"
cat "$out/shapes.jsonl" 2>/dev/null
