#!/bin/sh
# test_oclgrind_cases.sh RUNNER RUN_CASES GENERATOR OUTDIR
# The op cases of the index, detect and normalisation kernels (index.cl,
# detect.cl, norm.cl's f_groupnorm and f_mvn, reduce.cl's f_reduce) and of
# the CPU devices' 2-D pools (pool.cl's f_pool2d_rv8: Oclgrind's device is a
# CPU device) through
# the whole opencl module on Oclgrind's simulator, with its checks for
# out-of-bounds accesses, data races, uninitialised reads and API errors:
# any report fails the test. Oclgrind's device is capped at work groups of
# 8 items, so that the tiled loops (TopK's rank count, the LayerNorm and
# GroupNorm reductions) run over several tiles on these small shapes.
# Three runs: fp32, fp16 storage, and the scatters by line
# (ENGINE_OPENCL_SCATTER=line; by destination otherwise). Kernels are built
# with -cl-opt-disable (Oclgrind 21.10's uninitialised-value checker does
# not know LLVM's freeze instruction). Exit 77 (skipped) without oclgrind.
set -eu
runner=$1 run_cases=$2 gen=$3 out=$4
command -v oclgrind >/dev/null 2>&1 || { echo "oclgrind not installed: skipped"; exit 77; }
sh "$run_cases" op - "$gen" "$out/cases" >/dev/null
scatters="scatter_elements_add scatter_elements_max scatter_elements_none scatternd_mul scatternd_none
scatter_elements_int32_add_dups scatter_elements_mul_1d_dups scatter_elements_min_int64 scatternd_add_dups_k2
scatternd_max_int32_points"
cases="gather_elements_axis1_negative gathernd_batch_dims1 gathernd_slices gather_elements_int32_idx_int64_data
gathernd_int32_data $scatters onehot_axis0_float_indices_int_values onehot_last_axis_negative_indices
onehot_int32_bool_values roialign_avg_half_pixel_sr2 roialign_avg_output_half_pixel roialign_max_half_pixel
topk_axis1_largest topk_int64_axis0 topk_last_smallest topk_opset1_attr_k groupnorm_opset18_per_group
groupnorm_opset21_per_channel layernorm_axis1_no_bias layernorm_last_axis meanvariancenormalization_axes1
reducemean_axes02_nokeep maxpool_k3s2_wide_pads maxpool_dilation2_wide maxpool_k3s1_same_28 avgpool_k3s1_wide_pads_cip
avgpool_k3s2_wide_pads avgpool_k3s3_wide"
# pick DIR CASES: a case folder of links to the chosen cases
pick() {
  rm -rf "$1"
  mkdir -p "$1"
  for c in $2; do
    [ -d "$out/cases/$c" ] || { echo "no op case $c"; exit 1; }
    ln -s "$out/cases/$c" "$1/$c"
    echo "$c" >>"$1/INDEX"
  done
}
pick "$out/all" "$cases"
pick "$out/scatter" "$scatters"
rm -rf "$out/fp16"
cp -rL "$out/all" "$out/fp16"
for t in "$out"/fp16/*/tolerance; do echo "allclose 2.5e-3 1e-3" >"$t"; done
fail=0
for run in fp32:all fp16:fp16 line:scatter; do
  mode=${run%%:*} dir=$out/${run#*:} log=$out/oclgrind.$mode.log
  prec= scatter=
  [ "$mode" = fp16 ] && prec=fp16
  [ "$mode" = line ] && scatter=line
  rm -f "$log"
  if ! ENGINE_OPENCL_PRECISION=$prec ENGINE_OPENCL_SCATTER=$scatter ENGINE_OPENCL_BUILD_OPTIONS=-cl-opt-disable \
       ENGINE_OPENCL_CACHE=0 oclgrind --check-api --data-races --uninitialized --max-errors 5 --max-wgsize 8 \
       --local-mem-size 32768 --log "$log" "$runner" --backend opencl "$dir" >"$out/runner.$mode.log" 2>&1; then
    grep -E '^case |FAILED' "$out/runner.$mode.log" || tail -5 "$out/runner.$mode.log"
    echo "FAILED: $mode: a case failed under Oclgrind"
    fail=1
  fi
  if [ -s "$log" ]; then
    head -40 "$log"
    echo "FAILED: $mode: Oclgrind reported errors ($log)"
    fail=1
  fi
  [ "$fail" -eq 0 ] && echo "$mode: $(grep -c '^\[       OK \]' "$out/runner.$mode.log") cases clean under Oclgrind"
done
exit "$fail"
