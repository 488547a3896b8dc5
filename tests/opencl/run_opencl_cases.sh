#!/bin/sh
# run_opencl_cases.sh KIND RUNNER GENERATOR OUTDIR FALLBACK_LIST [MODES]
# Runs a case folder (KIND "op" or "zoo", generated once as run_cases.sh
# does) on the opencl backend with the case runner's strict placement, in
# each of MODES ("fused" and/or "nofuse", default both). Every case must
# pass, except those named in FALLBACK_LIST, which must fail precisely
# because opencl refuses one of their nodes (so they would fall back).
set -eu
kind=$1 runner=$2 gen=$3 out=$4 list=$5 modes=${6:-fused nofuse}
py=${PYTHON:-/usr/bin/python3}
genargs=""
[ "$kind" = zoo ] && genargs="--preserve-bn"
if [ ! -f "$out/INDEX" ]; then
  rm -rf "$out.tmp"
  # shellcheck disable=SC2086
  "$py" "$gen" $genargs "$out.tmp" >/dev/null
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
expected=$(grep -v '^#' "$list" | grep -v '^$' | sort -u || true)
status=0
for mode in $modes; do
  flag=""
  [ "$mode" = nofuse ] && flag="--no-fuse"
  log="$out.$mode.log"
  # shellcheck disable=SC2086
  "$runner" --backend opencl $flag "$out" >"$log" 2>&1 || true
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
