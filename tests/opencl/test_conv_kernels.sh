#!/bin/sh
# test_conv_kernels.sh BENCH [--oclgrind]
# Runs tests/opencl/bench_conv_tiled (every conv_tiled.cl variant, split-K
# and Winograd, checked against a float64 host convolution) over small
# awkward layer shapes: channel counts that are not multiples of 8, odd
# sizes, stride 2, pads, 1x1 and 7x7, a map smaller than a tile; fp32 and
# fp16 storage; under the GPU-like limits (work groups of at most 256,
# which the tile kernels' reqd_work_group_size meets).
# --oclgrind: the same on tinier shapes under Oclgrind's simulator with its
# checks for out-of-bounds accesses, data races, uninitialised reads and
# barrier divergence (any report fails the test); exit 77 (skipped) when
# oclgrind is not installed.
set -eu
bench=$1
mode=${2:-}
if [ "$mode" = --oclgrind ]; then
  command -v oclgrind >/dev/null 2>&1 || { echo "oclgrind not installed: skipped"; exit 77; }
  shapes="8 5 6 10 3 1 1
9 7 5 12 1 1 0
3 9 9 8 3 2 1"
  run() { oclgrind --check-api --data-races --uninitialized --max-errors 5 --max-wgsize 256 --local-mem-size 32768 --log /tmp/oclgrind.$$.log "$bench" "$@" &&
          ! grep -q . /tmp/oclgrind.$$.log 2>/dev/null; }
  precisions="fp32"
else
  shapes="8 5 6 10 3 1 1
13 11 9 21 3 1 1
16 16 16 16 3 1 1
9 7 5 12 1 1 0
24 33 17 70 1 1 0
64 7 7 40 1 1 0
300 7 7 20 1 1 0
3 23 19 16 7 2 3
20 15 13 24 3 2 1
12 9 9 8 5 1 2
40 3 3 33 3 1 1"
  run() { "$bench" "$@"; }
  precisions="fp32 fp16"
fi
fail=0
for p in $precisions; do
  flag=
  [ "$p" = fp16 ] && flag=--fp16
  echo "$shapes" | while read -r c h w m k s pad; do
    # shellcheck disable=SC2086
    if ! run $flag "$c" "$h" "$w" "$m" "$k" "$s" "$pad" 1; then
      echo "FAILED: $p C$c ${h}x$w M$m k$k s$s p$pad"
      exit 1
    fi
  done || fail=1
done
rm -f /tmp/oclgrind.$$.log
[ "$fail" -eq 0 ] && echo "all conv kernel checks passed"
exit "$fail"
