#!/bin/sh
# run_cases.sh KIND RUNNER GENERATOR OUTDIR [BACKENDS]
# Generates the cases once (with Debian's python3: numpy, torch, onnx) and
# runs them through the engine. KIND is "op" (per-op cases) or "zoo".
set -eu
kind=$1 runner=$2 gen=$3 out=$4 backends=${5:-ref}
py=${PYTHON:-/usr/bin/python3}
if [ ! -f "$out/INDEX" ]; then
  rm -rf "$out.tmp"
  "$py" "$gen" "$out.tmp"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
exec "$runner" --backend "$backends" "$out"
