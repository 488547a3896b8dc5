#!/bin/sh
# run_cases.sh KIND RUNNER GENERATOR OUTDIR [BACKENDS]
# Generates the cases once (with Debian's python3: numpy, torch, onnx) and
# runs them through the engine twice: optimised (what engine-run runs) and
# with --no-fuse (the graph as loaded). KIND is "op" (per-op cases) or "zoo"
# (exported with BatchNorm kept as nodes, so the engine's own folding is
# what gets tested).
set -eu
kind=$1 runner=$2 gen=$3 out=$4 backends=${5:-ref}
py=${PYTHON:-/usr/bin/python3}
genargs=""
[ "$kind" = zoo ] && genargs="--preserve-bn"
if [ ! -f "$out/INDEX" ]; then
  rm -rf "$out.tmp"
  # shellcheck disable=SC2086
  "$py" "$gen" $genargs "$out.tmp"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
"$runner" --backend "$backends" "$out"
"$runner" --backend "$backends" --no-fuse "$out"
