#!/bin/sh
# run_cases.sh KIND RUNNER GENERATOR OUTDIR [BACKENDS]  (default "ref")
# Generates the cases once (with Debian's python3: numpy, torch, onnx) and
# runs them through the engine twice: optimised (what engine-run runs) and
# with --no-fuse (the graph as loaded). KIND is "op" (per-op cases) or "zoo"
# (exported with BatchNorm kept as nodes, so the engine's own folding is
# what gets tested).
set -eu
kind=$1 runner=$2 gen=$3 out=$4 backends=${5:-ref}
py=${PYTHON:-/usr/bin/python3}
# GENARGS: extra generator options (run_conformance.sh: --onnx VERSION).
genargs=${GENARGS:-}
[ "$kind" = zoo ] && genargs="$genargs --preserve-bn"
# Regenerated when the generator's folder (its helper scripts included)
# changes: STAMP holds a hash of those sources, and of ops.h, which the node
# test selection reads.
stamp=$(cat "$(dirname "$gen")"/*.py "$(dirname "$0")/../engine/include/engine/ops.h" 2>/dev/null | cksum)
if [ ! -f "$out/INDEX" ] || [ "$(cat "$out/STAMP" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$out.tmp"
  # shellcheck disable=SC2086
  "$py" "$gen" $genargs "$out.tmp"
  echo "$stamp" > "$out.tmp/STAMP"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
# RUNNER "-": generate only (tests/conformance/run_conformance.sh).
[ "$runner" = - ] && exit 0
# BACKENDS: space-separated runs, each a --backend LIST, optionally
# "@ISA" to force the cpu backend's ISA (ENGINE_CPU_ISA), and ":blocked" to
# run every node that has a blocked-layout kernel on it
# (ENGINE_CPU_BLOCKED=all), or ":nchw" to run none (ENGINE_CPU_BLOCKED=0:
# the NCHW-only plans, such as the fused 1x1 + depthwise pairs), e.g.
# "ref cpu cpu@avx2 cpu:blocked cpu@avx2:blocked cpu@avx2:nchw".
for b in $backends; do
  blocked=
  case $b in
    *:blocked) blocked=all b=${b%:blocked} ;;
    *:nchw) blocked=0 b=${b%:nchw} ;;
  esac
  be=${b%%@*} isa=
  [ "$be" != "$b" ] && isa=${b#*@}
  ENGINE_CPU_BLOCKED=$blocked ENGINE_CPU_ISA=$isa "$runner" --backend "$be" "$out"
  ENGINE_CPU_BLOCKED=$blocked ENGINE_CPU_ISA=$isa "$runner" --backend "$be" --no-fuse "$out"
done
