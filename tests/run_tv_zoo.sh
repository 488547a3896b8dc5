#!/bin/sh
# run_tv_zoo.sh SOURCE_ROOT OUTDIR EXPECTED BACKENDS REF_MAX_PARAMS
# The torchvision zoo (tools/tv_zoo.py) in CI: generates the small cases of
# the builders CI runs (once; again when tools/tv_zoo.py or tools/zoo.py
# changes, by a hash in OUTDIR/STAMP), then runs them on each backend of the
# comma list BACKENDS through the Python package and checks the outcomes
# against EXPECTED. ref runs the models of at most REF_MAX_PARAMS
# parameters only (it is the float64 oracle: slow on big nets). Skipped
# (77) without torch and torchvision.
set -eu
src=$1 out=$2 expected=$3 backends=$4 ref_max=$5
py=${PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch, torchvision, onnx' 2>/dev/null; then
  echo "skipped: $py lacks torch, torchvision or onnx"
  exit 77
fi
stamp=$(cat "$src/tools/tv_zoo.py" "$src/tools/zoo.py" | cksum)
if [ ! -f "$out/INDEX" ] || [ "$(cat "$out/STAMP" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$out.tmp"
  "$py" "$src/tools/tv_zoo.py" gen --ci "$out.tmp"
  echo "$stamp" > "$out.tmp/STAMP"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
exec "$py" "$src/tools/tv_zoo.py" run "$out" --backends "$backends" --expected "$expected" \
  --ref-max-params "$ref_max"
