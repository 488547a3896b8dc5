#!/bin/bash
# tools/gpu-layers.sh BUNDLE OUTDIR  (bash) - per-layer figures of the fast
# convolution kernels (backends/opencl/conv_tiled.cl) on the machine's
# OpenCL device, for the device check (run after tools/gpu-check.sh in the
# same call; tools/gpu-bundle.sh puts tests/opencl/bench_conv_tiled in the
# bundle). For each layer shape of ResNet-18/50 and MobileNetV2 it runs
# every variant the layer allows (direct, split-K 2 and 5, Winograd), each
# checked against a float64 host convolution, median of 20 runs, into
# OUTDIR/layers.txt. The ICD is found as gpu-check.sh does: the system's
# loader and vendor files, else the bundle's loader with a vendor file
# written for the NVIDIA library.
set -u
bundle=$1 out=$2
mkdir -p "$out"
export LD_LIBRARY_PATH="$bundle/lib:$bundle/lib/icd${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! grep -qil nvidia /etc/OpenCL/vendors/*.icd 2>/dev/null; then
  nv=$(find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib -name 'libnvidia-opencl.so*' 2>/dev/null | head -n 1)
  if [ -n "$nv" ]; then
    v=$(mktemp -d)
    echo "$nv" >"$v/nvidia.icd"
    export OCL_ICD_VENDORS=$v
  fi
fi
layers="64 56 56 64 3 1 1
128 28 28 128 3 1 1
256 14 14 256 3 1 1
512 7 7 512 3 1 1
256 56 56 64 1 1 0
64 56 56 256 1 1 0
1024 14 14 256 1 1 0
2048 7 7 512 1 1 0
3 224 224 64 7 2 3
128 56 56 128 3 2 1
32 112 112 16 1 1 0
96 56 56 24 1 1 0"
{
  echo "# tools/gpu-layers.sh: $(date -u +%FT%TZ), bench_conv_tiled C H W M K S PAD 20"
  echo "$layers" | while read -r c h w m k s p; do
    # shellcheck disable=SC2086
    timeout 60 "$bundle/bin/bench_conv_tiled" $c $h $w $m $k $s $p 20 2>&1 || echo "(exit $?)"
  done
} >"$out/layers.txt" 2>&1
echo "gpu-layers: $(grep -c ' ok$' "$out/layers.txt") kernel runs ok, $(grep -c MISMATCH "$out/layers.txt") mismatches -> $out/layers.txt"
