#!/bin/sh
# demo_detect.sh - run the demo shape detector on its sample scenes and draw what it finds.
#
# Usage: tools/demo_detect.sh [ENGINE_RUN [engine-run options...]]
#        (default build/tools/engine-run; tools/demo.sh calls this)
#
# For each demo/detect/scene_*.png: engine-run demo/detect/detector.onnx
# --image SCENE --labels demo/detect/labels.txt --json --draw OUT/SCENE,
# then the detections against demo/detect/truth.json (same class, IoU >= 0.5):
# "scene_1_256x256.png: 4 found, truth 4, 4 right: ring 0.91, ...".
# OUT is $DEMO_OUT, else demo-detect/ beside engine-run's build folder
# (build/demo-detect). Exits non-zero if engine-run fails or fewer than 80%
# of the objects are found. The assets come from tools/train_detector.py.
set -u

DEMO_SCRIPT=demo_detect.sh
. "$(dirname "$0")/demo_env.sh"
[ $# -gt 0 ] && shift
DET="$ROOT/demo/detect"

OUT=${DEMO_OUT:-$(cd "$(dirname "$ENGINE_RUN")/.." && pwd)/demo-detect}
mkdir -p "$OUT" || exit 2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/engine-demo-detect.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM

echo "detector: $ENGINE_RUN demo/detect/detector.onnx --image SCENE --labels demo/detect/labels.txt --json --draw $OUT/SCENE"
status=0
for f in "$DET"/scene_*.png; do
    [ -e "$f" ] || { echo "demo_detect.sh: no scenes in $DET" >&2; exit 2; }
    name=$(basename "$f")
    if ! "$ENGINE_RUN" "$DET/detector.onnx" --image "$f" --labels "$DET/labels.txt" --json --draw "$OUT/$name" "$@" \
            >"$TMP/$name.json" 2>"$TMP/err.txt"; then
        echo "$name -> engine-run failed:" >&2
        sed 's/^/    /' "$TMP/err.txt" >&2
        status=1
    fi
done
[ $status -eq 0 ] || exit 1

"$PYTHON" - "$DET/truth.json" "$TMP" <<'PY' || status=1
import json
import os
import sys

truth = json.load(open(sys.argv[1]))


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


found = total = right = 0
for name, objects in sorted(truth.items()):
    dets = json.load(open(os.path.join(sys.argv[2], name + ".json")))
    used = set()
    for o in objects:
        cands = [(iou(d["box"], o["box"]), k) for k, d in enumerate(dets) if d["label"] == o["label"] and k not in used]
        best = max(cands, default=(0.0, -1))
        if best[0] >= 0.5:
            used.add(best[1])
    found += len(dets)
    total += len(objects)
    right += len(used)
    what = ", ".join(f"{d.get('name', d['label'])} {d['score']:.2f}" for d in dets)
    print(f"{name}: {len(dets)} found, truth {len(objects)}, {len(used)} right: {what}")
print(f"detector: {found} objects found, {total} in the truth, {right} right (same class, IoU >= 0.5)")
if right < 0.8 * total:
    print("demo_detect.sh: fewer than 80% of the objects found", file=sys.stderr)
    sys.exit(1)
PY
echo "drawings: $OUT/scene_*.png"
exit $status
