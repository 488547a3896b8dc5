#!/bin/sh
# tools/fuzz.sh [TARGET...]  - builds the libFuzzer targets (tests/fuzz) with
# clang-14 + ASan + UBSan in build-fuzz/ and runs each for FUZZ_SECONDS
# (default 60), each on one core, FUZZ_JOBS targets at a time. Targets:
# load session run tensor plugin (default: all).
#
# Environment:
#   FUZZ_SECONDS  seconds per target (default 60; the long runs recorded in
#                 docs/RELIABILITY.md used 600 and more)
#   FUZZ_JOBS     targets fuzzed at once (default: the cores, at most 2;
#                 libFuzzer's own process is single-threaded)
#   FUZZ_BUILD    build folder (default build-fuzz)
#   CC            the fuzzing compiler (default clang-14)
#
# The corpus of each target lives in $FUZZ_BUILD/corpus/<target> and grows
# from run to run; it is seeded from the op cases (tests/gen_op_cases.py),
# the hostile catalogue (tests/reliability/gen_hostile.py), the zoo models
# under 1 MB (tools/zoo.py; bigger ones only slow the mutator down, their
# ops are in the op cases) and the op cases' .npy tensors; the plugin target
# from the plugin test models (tests/plugins/gen_plugin_models.py). Crashes, leaks
# and timeouts are written to $FUZZ_BUILD/artifacts/<target>/ and make the
# script exit non-zero. One line per target at the end:
#   fuzz <target>: <seconds> s, <executions> executions, corpus <n> files, <status>
set -eu
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
cc=${CC:-clang-14}
py=${PYTHON:-/usr/bin/python3}
targets=${*:-load session run tensor plugin}

if [ ! -f "$build/build.ninja" ]; then
  # The library itself is instrumented for coverage (fuzzer-no-link); the
  # targets link libFuzzer's main (tests/fuzz/meson.build).
  CC=$cc meson setup "$build" -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
exes=""
for t in $targets; do exes="$exes tests/fuzz/fuzz_$t"; done
# shellcheck disable=SC2086
ninja -C "$build" $exes backends/ref/engine-backend-ref.so plugins/engine-plugin-swish.so \
  plugins/engine-plugin-yolo-decode.so >/dev/null

seeds=$build/seeds
if [ ! -f "$seeds/.done" ]; then
  rm -rf "$seeds"
  mkdir -p "$seeds/models" "$seeds/tensors"
  "$py" tests/gen_op_cases.py "$seeds/op" >/dev/null
  "$py" tests/reliability/gen_hostile.py "$seeds/hostile" >/dev/null
  for f in "$seeds"/op/*/model.onnx "$seeds"/hostile/*/model.onnx "$seeds"/hostile/small.onnx \
           "$seeds"/hostile/small_dyn.onnx "$seeds"/hostile/small_dd.onnx; do
    d=$(basename "$(dirname "$f")")
    cp "$f" "$seeds/models/$d-$(basename "$f")"
  done
  # Tensor seeds: the first byte picks the reader (even: .npy, odd: .pb).
  n=0
  for f in "$seeds"/op/*/input_0.npy; do
    n=$((n + 1))
    [ $n -gt 200 ] && break
    { printf '\000'; cat "$f"; } >"$seeds/tensors/npy$n"
  done
  "$py" - "$seeds/tensors" <<'EOF'
import sys, numpy as np
from onnx import numpy_helper
rng = np.random.default_rng(3)
for k, arr in enumerate([rng.standard_normal((2, 3)).astype(np.float32), np.arange(6, dtype=np.int64),
                         rng.standard_normal(4).astype(np.float16), np.array([True, False]),
                         rng.standard_normal((1, 2, 2)).astype(np.float64)]):
    with open(f"{sys.argv[1]}/pb{k}", "wb") as f:
        f.write(b"\x01" + numpy_helper.from_array(arr, f"t{k}").SerializeToString())
EOF
  mkdir -p "$seeds/plugin_models"
  "$py" tests/plugins/gen_plugin_models.py "$seeds/plugin" >/dev/null
  for f in "$seeds"/plugin/*/model.onnx; do
    cp "$f" "$seeds/plugin_models/$(basename "$(dirname "$f")").onnx"
  done
  if "$py" tools/zoo.py --preserve-bn --only lenet5,alexnet "$seeds/zoo" >/dev/null 2>&1; then
    for d in "$seeds"/zoo/*/; do
      [ -f "$d/model.onnx" ] && cp "$d/model.onnx" "$seeds/models/zoo-$(basename "$d").onnx"
    done
  else
    echo "fuzz.sh: zoo export failed; seeding without the zoo" >&2
  fi
  touch "$seeds/.done"
fi

jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
[ "$jobs" -le 2 ] || jobs=2

# fuzz_one TARGET: one target's run; its exit status in $build/fuzz-TARGET.rc
fuzz_one() {
  t=$1
  corpus=$build/corpus/$t art=$build/artifacts/$t
  mkdir -p "$corpus" "$art"
  case $t in
    tensor) seed=$seeds/tensors ;;
    plugin) seed=$seeds/plugin_models ;;
    *) seed=$seeds/models ;;
  esac
  trc=0
  # -timeout: one input taking longer is a hang; -rss_limit_mb: a leak or an
  # unbounded allocation. Leaks are checked (detect_leaks=1).
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art/" "$corpus" "$seed" >"$build/fuzz-$t.log" 2>&1 || trc=$?
  echo "$trc" > "$build/fuzz-$t.rc"
}

# FUZZ_JOBS at a time: each batch waits for its last target
running=0
for t in $targets; do
  rm -f "$build/fuzz-$t.rc"
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait; running=0; fi
done
wait

rc=0
summary=""
for t in $targets; do
  log=$build/fuzz-$t.log corpus=$build/corpus/$t art=$build/artifacts/$t
  trc=$(cat "$build/fuzz-$t.rc" 2>/dev/null || echo "no status")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  if [ "$trc" = 0 ]; then status=ok; else status="FAILED (exit $trc, see $log and $art)"; rc=1; fi
  summary="${summary}fuzz $t: $seconds s, ${execs:-?} executions, corpus $files files, $status
"
done
printf '%s' "$summary"
exit $rc
