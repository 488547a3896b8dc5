#!/bin/sh
# test_bf16_zoo.sh RUNNER GENERATOR OUTDIR TOLERANCES
# The model zoo (tools/zoo.py, generated into OUTDIR once as run_cases.sh
# does) on the cpu backend in --precision bf16 (ENGINE_CPU_PRECISION), on
# every bf16 level the machine runs: AMX when the OS grants it, and
# AVX512_BF16 (ENGINE_CPU_AMX=0). Each model against its float64 torch
# reference with the rel L2 tolerance of TOLERANCES (see that file for why
# those bounds). Checks that convolutions really ran in bf16 (the kernel
# names); exit 77 (skipped) on a CPU without AVX512_BF16.
set -eu
runner=$1 gen=$2 out=$3 tols=$4
here=$(dirname "$0")
grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null || { echo "bf16 zoo: this CPU has no AVX512_BF16: skipped"; exit 77; }
sh "$here/run_cases.sh" zoo - "$gen" "$out"
dir=$out.bf16
rm -rf "$dir"
cp -r "$out" "$dir"
grep -v '^#' "$tols" | while read -r c t; do
  [ -n "$c" ] && [ -d "$dir/$c" ] && echo "rel_l2 $t" >"$dir/$c/tolerance"
done
for c in $(cat "$dir/INDEX"); do
  grep -q "^$c " "$tols" || { echo "bf16 zoo: $c has no bf16 tolerance in $tols"; exit 1; }
done
status=0
for amx in 1 0; do
  log=$dir.amx$amx.log
  ENGINE_CPU_PRECISION=bf16 ENGINE_CPU_AMX=$amx ENGINE_CPU_VERBOSE=1 "$runner" --backend cpu "$dir" >"$log" 2>&1 || status=1
  grep -q '^\[==========\] .* test(s) run\.' "$log" || { cat "$log"; echo "bf16 zoo: the runner did not finish"; exit 1; }
  kernel=$(grep -o 'bf16_conv[a-z0-9_]*__[a-z0-9]*' "$log" | sed 's/.*__//' | sort -u | tr '\n' ' ')
  [ -n "$kernel" ] || { echo "bf16 zoo (amx=$amx): no convolution ran in bf16"; exit 1; }
  grep '^\[  FAILED  \]\|^case .*rel_l2' "$log" || true
  echo "bf16 zoo (amx=$amx, kernels: $kernel): $(grep -c '^\[       OK \]' "$log") passed"
done
exit $status
