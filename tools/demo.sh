#!/bin/sh
# demo.sh - classify the demo digits with engine-run and measure held-out accuracy.
#
# Usage: tools/demo.sh [ENGINE_RUN]     (default: build/tools/engine-run)
#        extra engine-run options (e.g. --backend cpu) may follow ENGINE_RUN.
#
# 1. For each demo/digits/*.png: engine-run demo/lenet5.onnx --image FILE
#    --size 32 --mean 0 --std 1 --top 1, printing "FILE -> predicted P".
# 2. One run of demo/lenet5_batch.onnx over demo/heldout_x.npy (all held-out
#    digits), then argmax vs demo/heldout_y.npy with numpy: "accuracy: X/N = P%".
# 3. tools/demo_detect.sh: the shape detector of demo/detect on its sample
#    scenes, drawn into build/demo-detect/ (or $DEMO_OUT), found vs truth.
# Exits non-zero if engine-run fails, the accuracy is below 90% or the
# detector finds fewer than 80% of the objects.
# The assets come from tools/train_lenet.py (see demo/README.md) and
# tools/train_detector.py (demo/detect/README.md).
set -u

DEMO_SCRIPT=demo.sh
. "$(dirname "$0")/demo_env.sh"
[ $# -gt 0 ] && shift
DEMO="$ROOT/demo"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/engine-demo.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM

status=0
right=0
total=0
for f in "$DEMO"/digits/*.png; do
    [ -e "$f" ] || { echo "demo.sh: no PNGs in $DEMO/digits" >&2; exit 2; }
    name=$(basename "$f")
    if ! "$ENGINE_RUN" "$DEMO/lenet5.onnx" --image "$f" --size 32 --mean 0 --std 1 --top 1 "$@" \
            >"$TMP/out.txt" 2>&1; then
        echo "$name -> engine-run failed:" >&2
        sed 's/^/    /' "$TMP/out.txt" >&2
        status=1
        continue
    fi
    # First "class N" in the output (the contract is "  1: class 7  0.98";
    # "class=7", "Class: 7", "class #7" are accepted too).
    pred=$(sed -n 's/.*[Cc][Ll][Aa][Ss][Ss][ :=#]*\([0-9][0-9]*\).*/\1/p' "$TMP/out.txt" | head -n 1)
    label=$(echo "$name" | sed -n 's/.*label\([0-9][0-9]*\).*/\1/p')
    total=$((total + 1))
    if [ -z "$pred" ]; then
        echo "$name -> no class found in engine-run output:" >&2
        sed 's/^/    /' "$TMP/out.txt" >&2
        status=1
        continue
    fi
    mark=""
    if [ "$pred" = "$label" ]; then right=$((right + 1)); else mark="   (label $label)"; fi
    echo "$name -> predicted $pred$mark"
done
echo "sample digits: $right/$total correct"

echo "held-out set: $ENGINE_RUN demo/lenet5_batch.onnx -i demo/heldout_x.npy -o <tmp>/logits.npy"
if ! "$ENGINE_RUN" "$DEMO/lenet5_batch.onnx" -i "$DEMO/heldout_x.npy" -o "$TMP/logits.npy" "$@" \
        >"$TMP/out.txt" 2>&1; then
    echo "demo.sh: engine-run failed on the held-out batch:" >&2
    sed 's/^/    /' "$TMP/out.txt" >&2
    exit 1
fi

"$PYTHON" - "$TMP/logits.npy" "$DEMO/heldout_y.npy" <<'PY' || status=1
import sys
import numpy as np
logits = np.load(sys.argv[1])
labels = np.load(sys.argv[2])
logits = logits.reshape(labels.shape[0], -1)
right = int((logits.argmax(axis=1) == labels).sum())
n = labels.shape[0]
pct = 100.0 * right / n
print(f"accuracy: {right}/{n} = {pct:.2f}%")
if pct < 90.0:
    print("demo.sh: accuracy below 90%", file=sys.stderr)
    sys.exit(1)
PY

echo
"$ROOT/tools/demo_detect.sh" "$ENGINE_RUN" "$@" || status=1
exit $status
