#!/bin/sh
# test_opencl_cli.sh ENGINE_RUN GENERATOR WORKDIR - the opencl backend through
# engine-run: device listing and selection, fallback when the kernel build
# fails (a real driver error: ENGINE_OPENCL_BUILD_OPTIONS with an option the
# driver refuses), --strict, the program-binary cache (cold, warm, corrupt,
# off), the convolution tuner's table (written, reused, corrupt), fp16 and
# profiling.
set -eu
run=$1 gen=$2 work=$3
py=${PYTHON:-/usr/bin/python3}
if [ ! -f "$work/cases/INDEX" ]; then
  rm -rf "$work/cases.tmp"
  mkdir -p "$work"
  "$py" "$gen" "$work/cases.tmp" >/dev/null
  rm -rf "$work/cases"
  mv "$work/cases.tmp" "$work/cases"
fi
model=$work/cases/conv2d_bias/model.onnx
[ -f "$model" ] || model=$(ls "$work"/cases/conv*/model.onnx | head -1)
fail() { echo "FAIL: $*"; exit 1; }
out=$work/out.txt err=$work/err.txt

# Listing: every device with its capabilities, the selected one marked.
"$run" --list-backends >"$out" 2>&1 || fail "--list-backends"
grep -q "opencl .*\[0:0\] .*fp16 \(yes\|no\), subgroups \(yes\|no\), images \(yes\|no\).*\*selected\*" "$out" ||
  { cat "$out"; fail "--list-backends does not list the OpenCL device"; }

# Selection: by index, by name, and a name that matches nothing.
"$run" "$model" -b opencl --strict --device 0:0 >"$out" 2>&1 || { cat "$out"; fail "--device 0:0"; }
ENGINE_OPENCL_DEVICE=0:0 "$run" "$model" -b opencl --strict >"$out" 2>&1 || { cat "$out"; fail "ENGINE_OPENCL_DEVICE"; }
if "$run" "$model" -b opencl --strict --device no-such-device >"$out" 2>&1; then fail "a missing device was accepted"; fi
grep -q "no OpenCL device matches 'no-such-device'" "$out" || { cat "$out"; fail "missing-device message"; }
# Without --strict the session goes on with the other backends.
"$run" "$model" -b opencl,ref --device no-such-device >"$out" 2>&1 || { cat "$out"; fail "fallback from a missing device"; }
grep -q "placement: ref" "$out" || { cat "$out"; fail "no fallback to ref for a missing device"; }

# A failed kernel build: fallback, or an error naming the device under --strict.
ENGINE_OPENCL_BUILD_OPTIONS=-cl-no-such-option "$run" "$model" -b opencl,ref >"$out" 2>&1 ||
  { cat "$out"; fail "no fallback when the kernel build fails"; }
grep -q "placement: ref" "$out" || { cat "$out"; fail "a failed build did not fall back to ref"; }
if ENGINE_OPENCL_BUILD_OPTIONS=-cl-no-such-option "$run" "$model" -b opencl --strict >"$out" 2>&1; then
  fail "--strict accepted a failed kernel build"
fi
grep -q "opencl: device '.*': kernel program build failed" "$out" || { cat "$out"; fail "build-failure message"; }

# The binary cache: cold (built), warm (loaded), corrupt (rebuilt silently), off.
cache=$work/xdg
rm -rf "$cache"
bench() { XDG_CACHE_HOME=$cache "$run" "$model" -b opencl --strict --bench 1 --warmup 0 --json; }
bench >"$out" 2>"$err" || { cat "$out" "$err"; fail "cold run"; }
grep -q '"kernels_built":1,"kernels_from_cache":0' "$out" || { cat "$out"; fail "cold start did not build"; }
bench >"$out" 2>"$err" || { cat "$out" "$err"; fail "warm run"; }
grep -q '"kernels_built":0,"kernels_from_cache":1' "$out" || { cat "$out"; fail "warm start did not use the cache"; }
for f in "$cache"/engine/opencl/*.bin; do printf 'ENGOCL01garbage' >"$f"; done
bench >"$out" 2>"$err" || { cat "$out" "$err"; fail "corrupt cache entry"; }
grep -q '"kernels_built":1,"kernels_from_cache":0' "$out" || { cat "$out"; fail "corrupt entry not rebuilt"; }
bench >"$out" 2>"$err" || fail "run after the rebuild"
grep -q '"kernels_from_cache":1' "$out" || { cat "$out"; fail "rebuilt entry not rewritten"; }
rm -rf "$cache"
ENGINE_OPENCL_CACHE=0 bench >"$out" 2>"$err" || { cat "$out" "$err"; fail "cache off"; }
[ ! -d "$cache/engine/opencl" ] || [ -z "$(ls "$cache/engine/opencl")" ] || fail "ENGINE_OPENCL_CACHE=0 wrote a cache file"

# The convolution tuner: --tune fast writes the winners into a table beside
# the program cache, with the untuned run's results; --tune none reuses the
# table and leaves it as it is; a corrupt table is ignored (the run still
# succeeds) and rewritten by the next tuning; an unknown level is refused.
rm -rf "$cache"
tuned() { XDG_CACHE_HOME=$cache "$run" "$model" -b opencl --strict -o "$work/$2.npy" --tune "$1"; }
tuned none untuned >"$out" 2>&1 || { cat "$out"; fail "--tune none without a table"; }
tuned fast tuned >"$out" 2>&1 || { cat "$out"; fail "--tune fast"; }
table=$(ls "$cache"/engine/opencl/tune-*.txt 2>/dev/null | head -n 1)
[ -n "$table" ] && head -n 1 "$table" | grep -q '^ENGTUNE1 [1-9]' || fail "--tune fast wrote no tuning table"
grep -q ' : [01] f_conv_' "$table" || { cat "$table"; fail "the tuning table has no winner"; }
"$py" -c "import numpy as np, sys; a, b = np.load(sys.argv[1]), np.load(sys.argv[2]); sys.exit(0 if np.allclose(a, b, 1e-4, 1e-5) else 1)" \
  "$work/untuned.npy" "$work/tuned.npy" || fail "the tuned choice changed the result"
cp "$table" "$work/table.saved"
tuned none reused >"$out" 2>&1 || { cat "$out"; fail "--tune none with a table"; }
cmp -s "$table" "$work/table.saved" || fail "--tune none rewrote the tuning table"
printf 'ENGTUNE1 1 0\nnot a line of the table\n' >"$table"
tuned none corrupt >"$out" 2>&1 || { cat "$out"; fail "a corrupt tuning table broke the run"; }
tuned fast retuned >"$out" 2>&1 || { cat "$out"; fail "--tune fast over a corrupt table"; }
head -n 1 "$table" | grep -q '^ENGTUNE1 [1-9]' || fail "the corrupt tuning table was not rewritten"
if "$run" "$model" -b opencl --tune extreme >"$out" 2>&1; then fail "--tune extreme accepted"; fi

# fp16 and profiling.
"$run" "$model" -b opencl --strict --precision fp16 >"$out" 2>&1 || { cat "$out"; fail "--precision fp16"; }
if "$run" "$model" -b opencl --precision fp8 >"$out" 2>&1; then fail "--precision fp8 accepted"; fi
"$run" "$model" -b opencl --strict --profile >"$out" 2>&1 || { cat "$out"; fail "--profile"; }
grep -q "Conv .* opencl " "$out" || { cat "$out"; fail "--profile has no opencl row"; }
"$run" "$model" -b opencl --strict --trace "$work/trace.json" >"$out" 2>&1 || { cat "$out"; fail "--trace"; }
grep -q '"ph"' "$work/trace.json" || fail "empty trace"
echo "opencl cli: ok"
