#!/bin/sh
# run_tv_zoo.sh SOURCE_ROOT OUTDIR EXPECTED BACKENDS REF_MAX_PARAMS [float|quantized]
# The torchvision zoo (tools/tv_zoo.py) in CI: generates the small cases of
# the builders CI runs (once; again when tools/tv_zoo.py or tools/zoo.py
# changes, by a hash in OUTDIR/STAMP), then runs them on each backend of the
# comma list BACKENDS through the Python package and checks the outcomes
# against EXPECTED. ref runs the models of at most REF_MAX_PARAMS
# parameters only (it is the float64 oracle: slow on big nets). Skipped
# (77) without torch and torchvision.
#
# float (the default): every family but the quantized, against PyTorch.
# quantized: the quantized classifiers, against ONNX Runtime layer by layer
# (tools/tv_zoo.py compare_quant; torch's int8 kernels are not the graph's
# computation). onnxruntime (ORT_PIN) is installed from PyPI into a virtual
# environment beside OUTDIR, once; skipped (77) where it cannot be.
set -eu
src=$1 out=$2 expected=$3 backends=$4 ref_max=$5 part=${6:-float}
py=${PYTHON:-/usr/bin/python3}
ORT_PIN=1.32.0
if ! "$py" -c 'import torch, torchvision, onnx' 2>/dev/null; then
  echo "skipped: $py lacks torch, torchvision or onnx"
  exit 77
fi
case $part in
  float) fam="--skip-families quantized" ;;
  quantized) fam="--families quantized" ;;
  *) echo "run_tv_zoo.sh: unknown part '$part'"; exit 1 ;;
esac
if [ "$part" = quantized ]; then
  venv="$out.ort-venv"
  if [ "$(cat "$venv/STAMP" 2>/dev/null)" != "onnxruntime==$ORT_PIN" ]; then
    rm -rf "$venv"
    if ! "$py" -m venv --system-site-packages "$venv" ||
       ! timeout 600 "$venv/bin/python" -m pip install --quiet --no-input --retries 1 --timeout 30 \
           "onnxruntime==$ORT_PIN"; then
      rm -rf "$venv"
      echo "SKIPPED: the quantized cases are compared with onnxruntime $ORT_PIN from PyPI, which could not be installed"
      exit 77
    fi
    echo "onnxruntime==$ORT_PIN" > "$venv/STAMP"
  fi
fi
stamp=$(cat "$src/tools/tv_zoo.py" "$src/tools/zoo.py" "$src/tools/ort_reference.py" | cksum)
stamp="$stamp $part $ORT_PIN"
if [ ! -f "$out/INDEX" ] || [ "$(cat "$out/STAMP" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$out.tmp"
  # shellcheck disable=SC2086
  "$py" "$src/tools/tv_zoo.py" gen --ci $fam "$out.tmp"
  if [ "$part" = quantized ]; then
    # ONNX Runtime's outputs of each case (graph optimisations off)
    for c in $(cat "$out.tmp/INDEX"); do
      "$venv/bin/python" "$src/tools/ort_reference.py" "$out.tmp/$c"
    done
  fi
  echo "$stamp" > "$out.tmp/STAMP"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
exec "$py" "$src/tools/tv_zoo.py" run "$out" --backends "$backends" --expected "$expected" \
  --ref-max-params "$ref_max"
