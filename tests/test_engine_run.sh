#!/bin/bash
# End-to-end tests of engine-run's contract (README "engine-run").
# usage: test_engine_run.sh ENGINE_RUN SOURCE_ROOT
set -u
run=$1 src=$2
. "$(dirname "$0")/cli_lib.sh"

model=$src/demo/lenet5.onnx

expect_ok "version" "$run" --version
grep -q "engine-run" "$tmp/out" || bad "version text" "$tmp/out"
expect_ok "help" "$run" --help
grep -q -- "--backend" "$tmp/out" || bad "help lists --backend" "$tmp/out"
expect_ok "list-backends" "$run" --list-backends
grep -q "ref" "$tmp/out" && ok "list-backends names ref" || bad "list-backends names ref" "$tmp/out"

# Random input, summary output.
expect_ok "run with seeded random input" "$run" "$model" -b ref
grep -q "output 'logits'" "$tmp/out" && ok "summary names the output" || bad "summary names the output" "$tmp/out"
grep -q "placement: ref" "$tmp/err" && ok "placement summary" || bad "placement summary" "$tmp/err"

# Each demo digit is classified as its label.
for png in "$src"/demo/digits/*.png; do
  label=$(basename "$png" | sed -n 's/.*label\([0-9]\).*/\1/p')
  "$run" "$model" -b ref --image "$png" --size 32 --mean 0 --std 1 --top 3 >"$tmp/out" 2>"$tmp/err" || { bad "image $png" "$tmp/err"; continue; }
  got=$(sed -n 's/^ *1: class \([0-9]*\).*/\1/p' "$tmp/out")
  [ "$got" = "$label" ] && ok "image $(basename "$png") -> $got" || bad "image $(basename "$png") -> '$got' (label $label)" "$tmp/out"
done

# .npy in, .npy out, --output-dir; compare against the same run twice.
"$py" -c "import numpy as np; np.save('$tmp/x.npy', np.random.default_rng(1).standard_normal((1,1,32,32)).astype(np.float32))"
expect_ok "npy input/output" "$run" "$model" -b ref -i "$tmp/x.npy" -o "$tmp/y.npy"
mkdir -p "$tmp/outs"
expect_ok "named input, output-dir" "$run" "$model" -b ref -i "input=$tmp/x.npy" --output-dir "$tmp/outs"
"$py" -c "
import numpy as np, sys
a = np.load('$tmp/y.npy'); b = np.load('$tmp/outs/output_0.npy')
sys.exit(0 if a.shape == (1, 10) and a.dtype == np.float32 and np.array_equal(a, b) else 1)" \
  && ok "output files agree" || bad "output files agree"

# Benchmark JSON.
expect_ok "bench json" "$run" "$model" -b ref --bench 5 --warmup 1 --json
"$py" -c "
import json, sys
d = json.load(open('$tmp/out'))
l = d['latency_ms']
sys.exit(0 if l['min'] <= l['median'] <= l['p90'] <= l['max'] and d['macs'] > 0 else 1)" \
  && ok "bench json fields" || bad "bench json fields" "$tmp/out"
expect_ok "bench text" "$run" "$model" -b ref --bench 3
grep -q "median" "$tmp/out" && ok "bench text has median" || bad "bench text has median" "$tmp/out"

# Graph dump, profile, trace.
expect_ok "dump-graph json" "$run" "$model" -b ref --dump-graph --json
"$py" -c "
import json, sys
d = json.load(open('$tmp/out'))
sys.exit(0 if d['nodes'] and all(n['backend'] == 'ref' and n['op'] and n['outputs'] for n in d['nodes']) else 1)" \
  && ok "dump-graph json fields" || bad "dump-graph json fields" "$tmp/out"
expect_ok "dump-graph text" "$run" "$model" -b ref --dump-graph
grep -q "Conv" "$tmp/out" && ok "dump-graph lists Conv" || bad "dump-graph lists Conv" "$tmp/out"
expect_ok "profile" "$run" "$model" -b ref --profile
grep -q "^total" "$tmp/out" && grep -q "Conv" "$tmp/out" && ok "profile table" || bad "profile table" "$tmp/out"
expect_ok "trace" "$run" "$model" -b ref --trace "$tmp/trace.json"
"$py" -c "
import json, sys
d = json.load(open('$tmp/trace.json'))
sys.exit(0 if d['traceEvents'] and all(e['ph'] == 'X' and e['dur'] >= 0 for e in d['traceEvents']) else 1)" \
  && ok "trace json" || bad "trace json"

# Errors: one clear line, non-zero exit.
expect_err "missing model file" "no-such.onnx" "$run" "$tmp/no-such.onnx"
head -c 300 /dev/urandom >"$tmp/garbage.onnx"
expect_err "garbage model" "garbage.onnx" "$run" "$tmp/garbage.onnx"
expect_err "unknown backend" "backend 'nosuch'" "$run" "$model" -b nosuch
expect_err "unknown input name" "no input named" "$run" "$model" -i "nosuch=$tmp/x.npy"
"$py" -c "import numpy as np; np.save('$tmp/wrong.npy', np.zeros((1,1,16,16), np.float32) + 1)"
expect_err "wrong input shape" "expects" "$run" "$model" -i "$tmp/wrong.npy"
expect_err "missing input file" "nosuch.npy" "$run" "$model" -i "$tmp/nosuch.npy"
expect_err "bad option value" "bad value" "$run" "$model" --bench x
expect_err "no model" "no MODEL" "$run"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
