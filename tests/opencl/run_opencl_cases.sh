#!/bin/sh
# run_opencl_cases.sh KIND RUNNER GENERATOR OUTDIR FALLBACK_LIST [MODES [FP16_TOLERANCES]]
# Runs a case folder (KIND "op" or "zoo", generated once as run_cases.sh
# does) on the opencl backend with the case runner's strict placement, in
# each of MODES: "fused", "nofuse" (the graph as loaded) and "fp16" (fused,
# ENGINE_OPENCL_PRECISION=fp16, on a copy of the cases whose tolerances are
# atol 2.5e-3 rtol 1e-3, or the per-case ones of FP16_TOLERANCES), "tile"
# (fused, every fast convolution on the GPU's local-memory tile kernel,
# direct ones split along K in 3: ENGINE_OPENCL_CONV_KERNEL; and the 2-D
# pools on the GPUs' one-output-per-item f_pool2d: ENGINE_OPENCL_POOL) and "rb"
# (fused, the register-blocked kernel, no Winograd). Default "fused nofuse". Every case must pass, except those named in
# FALLBACK_LIST, which must fail precisely because opencl refuses one of
# their nodes (so they would fall back).
set -eu
kind=$1 runner=$2 gen=$3 out=$4 list=$5 modes=${6:-fused nofuse} fp16tol=${7:-}
py=${PYTHON:-/usr/bin/python3}
genargs=""
[ "$kind" = zoo ] && genargs="--preserve-bn"
# Regenerated when the generator changes (its checksum in STAMP).
stamp=$(cksum < "$gen")
if [ ! -f "$out/INDEX" ] || [ ! -f "$out/STAMP" ] || [ "$(cat "$out/STAMP")" != "$stamp" ]; then
  rm -rf "$out.tmp"
  # shellcheck disable=SC2086
  "$py" "$gen" $genargs "$out.tmp" >/dev/null
  echo "$stamp" > "$out.tmp/STAMP"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
expected=$(grep -v '^#' "$list" | grep -v '^$' | sort -u || true)
status=0
for mode in $modes; do
  flag="" dir=$out prec= kern= pool=
  [ "$mode" = nofuse ] && flag="--no-fuse"
  [ "$mode" = tile ] && kern=f_conv_tile_32x64,ks3 pool=scalar
  [ "$mode" = rb ] && kern=f_conv_rb_8x4,direct
  if [ "$mode" = fp16 ]; then
    dir=$out.fp16 prec=fp16
    rm -rf "$dir"
    cp -r "$out" "$dir"
    for t in "$dir"/*/tolerance; do echo "allclose 2.5e-3 1e-3" >"$t"; done
    if [ -n "$fp16tol" ]; then
      grep -v '^#' "$fp16tol" | while read -r c a r; do
        [ -n "$c" ] && echo "allclose $a $r" >"$dir/$c/tolerance"
      done
    fi
  fi
  log="$out.$mode.log"
  # shellcheck disable=SC2086
  ENGINE_OPENCL_PRECISION=$prec ENGINE_OPENCL_CONV_KERNEL=$kern ENGINE_OPENCL_POOL=$pool "$runner" --backend opencl $flag "$dir" >"$log" 2>&1 || true
  grep -q '^\[==========\] .* test(s) run\.' "$log" || { cat "$log"; echo "opencl $kind $mode: the runner did not finish"; exit 1; }
  failed=$(sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_.-]*\)$/\1/p' "$log" | sort -u)
  passed=$(grep -c '^\[       OK \]' "$log" || true)
  for c in $failed; do
    if ! printf '%s\n' "$expected" | grep -qx "$c"; then
      grep "^case $c:" "$log" || true
      echo "opencl $kind $mode: FAIL $c"
      status=1
    elif ! grep "^case $c:" "$log" | grep -q "not supported by backend 'opencl'"; then
      grep "^case $c:" "$log" || true
      echo "opencl $kind $mode: $c is listed as a fallback case but failed for another reason"
      status=1
    fi
  done
  if [ "$kind" = op ]; then
    for c in $expected; do
      printf '%s\n' "$failed" | grep -qx "$c" || { echo "opencl $kind $mode: $c now runs on opencl: drop it from $list"; status=1; }
    done
  fi
  nf=$(printf '%s\n' "$failed" | grep -c . || true)
  echo "opencl $kind $mode: $passed passed, $nf refused by design (fall back outside --strict)"
done
exit $status
