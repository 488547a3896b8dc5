#!/bin/bash
# engine-run's outputs for people (README "engine-run", docs/CLI.md) on one
# backend: --json, --labels and --draw over the output conventions it reads
# (tiny models from gen_result_models.py), the demo detector on its sample
# scenes against their truth, and the refusals.
# usage: test_engine_run_draw.sh ENGINE_RUN SOURCE_ROOT BACKEND
# Exit 77 (skipped) when BACKEND is not loaded here (opencl without a device).
set -u
run=$1 src=$2 backend=$3
. "$(dirname "$0")/cli_lib.sh"

if ! "$run" --list-backends 2>/dev/null | grep -q "^  $backend "; then
  echo "SKIP: backend '$backend' is not loaded here"
  "$run" --list-backends 2>&1 | sed 's/^/     /'
  exit 77
fi
b=(-b "$backend")
det=$src/demo/detect

m=$tmp/models
"$py" "$src/tests/gen_result_models.py" "$m" || { echo "FAIL: gen_result_models.py"; exit 1; }
# a 45x60 picture for the 15x20 models: coordinates come back times 3
"$py" -c "
import numpy as np
from PIL import Image
Image.fromarray((np.random.default_rng(0).random((60, 45, 3)) * 255).astype(np.uint8)).save('$tmp/pic.png')"
printf 'zero\none\ntwo\nthree\nfour\nfive\n' >"$tmp/names.txt"

# --json for each convention, boxes scaled back to the picture, names from --labels
for name in tv_named tv_shapes yolo7 yolo6_batch; do
  expect_ok "$name: --json" "$run" "$m/$name.onnx" "${b[@]}" --image "$tmp/pic.png" --json --labels "$tmp/names.txt"
  cp "$tmp/out" "$tmp/$name.json"
  check "$name: detections as expected" "
import json, sys
got = json.load(open('$tmp/$name.json'))
want = json.load(open('$m/expected.json'))['$name']
names = open('$tmp/names.txt').read().split()
if len(got) != len(want['boxes']): sys.exit(f'{len(got)} detections, want {len(want[\"boxes\"])}')
for d, box, s, l in zip(got, want['boxes'], want['scores'], want['labels']):
    if any(abs(g - 3 * w) > 1e-4 for g, w in zip(d['box'], box)): sys.exit(f'box {d[\"box\"]} want 3 x {box}')
    if abs(d['score'] - s) > 1e-6 or d['label'] != l or d['name'] != names[l]: sys.exit(f'{d}')
    if 'keypoints' in want:
        kp = [[3 * x, 3 * y, v] for x, y, v in want['keypoints'][got.index(d)]]
        if d['keypoints'] != kp: sys.exit(f'keypoints {d[\"keypoints\"]} want {kp}')
"
done
expect_ok "seg: --json" "$run" "$m/seg.onnx" "${b[@]}" --image "$tmp/pic.png" --json --labels "$tmp/names.txt"
check "seg: pixels per class" "
import json, sys
got = json.load(open('$tmp/out'))
want = json.load(open('$m/expected.json'))['seg']['pixels']
if {str(d['label']): d['pixels'] for d in got} != want: sys.exit(f'{got} want {want}')
if [d['name'] for d in got] != ['zero', 'one', 'two']: sys.exit(f'{got}')"
expect_ok "cls6: --json (a [1,6] classifier, not detections)" "$run" "$m/cls6.onnx" "${b[@]}" --json --top 3
check "cls6: top-3" "
import json, sys
got = json.load(open('$tmp/out'))
if [d['label'] for d in got] != [3, 5, 1] or 'name' in got[0]: sys.exit(f'{got}')"
expect_ok "cls6: --top with --labels" "$run" "$m/cls6.onnx" "${b[@]}" --top 2 --labels "$tmp/names.txt"
grep -q "1: class 3 (three)" "$tmp/out" && grep -q "2: class 5 (five)" "$tmp/out" && ok "cls6: names in the top-k" \
  || bad "cls6: names in the top-k" "$tmp/out"

# --draw: a PNG of the picture's size, drawn where it should be
for name in tv_named yolo7 seg cls6; do
  expect_ok "$name: --draw" "$run" "$m/$name.onnx" "${b[@]}" --image "$tmp/pic.png" --labels "$tmp/names.txt" \
    --draw "$tmp/$name.png"
done
check "--draw writes RGB PNGs of the picture's size" "
import sys
from PIL import Image
for n in ['tv_named', 'yolo7', 'seg', 'cls6']:
    with open('$tmp/' + n + '.png', 'rb') as f:
        if f.read(8) != b'\x89PNG\r\n\x1a\n': sys.exit(n + ': not a PNG')
    im = Image.open('$tmp/' + n + '.png')
    if im.size != (45, 60) or im.mode != 'RGB': sys.exit(f'{n}: {im.size} {im.mode}')"
check "--draw: mask filled at >= 0.5 only, box outlines, segmentation blended" "
import sys
import numpy as np
from PIL import Image
pic = np.asarray(Image.open('$tmp/pic.png')).astype(int)
tv = np.asarray(Image.open('$tmp/tv_named.png')).astype(int)
seg = np.asarray(Image.open('$tmp/seg.png')).astype(int)
def changed(a, y, x): return bool((a[y, x] != pic[y, x]).any())
# mask 0 (0.8) covers rows 6..35, cols 3..26 of the picture; mask 1 (0.3) is not drawn
if not changed(tv, 25, 15): sys.exit('mask 0 not filled at (15,25)')
if changed(tv, 50, 36): sys.exit('mask 1 (0.3 < 0.5) was filled at (36,50)')
# the outline of box 1: x 12..42, y 15..57
if not (changed(tv, 57, 30) and changed(tv, 40, 42)): sys.exit('box 1 outline missing')
# segmentation: class 1 in the top half is blended, class 0 bottom-left is not
if not changed(seg, 25, 20) or changed(seg, 50, 5): sys.exit('segmentation blend wrong')
"

# The demo detector on its sample scenes: --json against the truth, in each scene's own pixels
"$py" -c "import json; print(' '.join(json.load(open('$det/truth.json'))))" >"$tmp/scenes" || bad "truth.json"
for scene in $(cat "$tmp/scenes"); do
  "$run" "$det/detector.onnx" "${b[@]}" --image "$det/$scene" --labels "$det/labels.txt" --json \
    >"$tmp/det_$scene.json" 2>"$tmp/err" || bad "detector on $scene" "$tmp/err"
done
check "detector: the sample scenes' objects found (IoU >= 0.5, same class), boxes in the scenes' pixels" "
import json, sys
truth = json.load(open('$det/truth.json'))
names = open('$det/labels.txt').read().split()
def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0])); iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / u
found = total = ndet = 0
for scene, objs in truth.items():
    dets = json.load(open('$tmp/det_' + scene + '.json'))
    for d in dets:
        if d['name'] != names[d['label']] or not 0.25 < d['score'] <= 1: sys.exit(f'{scene}: {d}')
    ndet += len(dets)
    used = set()
    for o in objs:
        best = max((iou(d['box'], o['box']), k) for k, d in enumerate(dets) if d['label'] == o['label'] and k not in used) if dets else (0, -1)
        if best[0] >= 0.5: used.add(best[1]); found += 1
    total += len(objs)
print(f'found {found} of {total} objects with {ndet} detections')
if found < 0.8 * total or ndet > 1.25 * total: sys.exit('too few found or too many detections')"
scene=$(head -c 1000 "$tmp/scenes" | tr ' ' '\n' | grep 400x300 | head -1)
expect_ok "detector: --draw on $scene" "$run" "$det/detector.onnx" "${b[@]}" --image "$det/$scene" \
  --labels "$det/labels.txt" --draw "$tmp/drawn.png"
check "detector: the drawing is 400x300 and differs from the scene" "
import sys
import numpy as np
from PIL import Image
a = np.asarray(Image.open('$tmp/drawn.png')); s = np.asarray(Image.open('$det/$scene').convert('RGB'))
if a.shape != (300, 400, 3): sys.exit(f'{a.shape}')
if (a != s).any(axis=2).mean() < 0.005: sys.exit('nothing drawn')"
grep -q " detections\? (\[N,6\] rows x1,y1,x2,y2,score,class)" "$tmp/out" && ok "detector: text report with --draw" \
  || bad "detector: text report with --draw" "$tmp/out"
grep -Eq "^  (ellipse|rectangle|triangle|cross|ring) " "$tmp/out" && ok "detector: class names in the text report" \
  || bad "detector: class names in the text report" "$tmp/out"

# Refusals: one line on stderr, non-zero exit, nothing half-written
expect_err "--draw without --image" "needs --image" "$run" "$m/seg.onnx" "${b[@]}" --draw "$tmp/x.png"
expect_err "--draw to an unwritable path" "cannot write '$tmp/no/such/dir/x.png'" \
  "$run" "$m/seg.onnx" "${b[@]}" --image "$tmp/pic.png" --draw "$tmp/no/such/dir/x.png"
expect_err "--draw onto a directory" "cannot write" "$run" "$m/seg.onnx" "${b[@]}" --image "$tmp/pic.png" --draw "$tmp"
expect_err "outputs that fit no convention (--json)" "saw 'odd' float32\[2,3,5\]" \
  "$run" "$m/odd.onnx" "${b[@]}" --image "$tmp/pic.png" --json
expect_err "outputs that fit no convention (--draw)" "saw 'odd' float32\[2,3,5\]" \
  "$run" "$m/odd.onnx" "${b[@]}" --image "$tmp/pic.png" --draw "$tmp/odd.png"
[ -e "$tmp/odd.png" ] && bad "no PNG left after a refusal" || ok "no PNG left after a refusal"
expect_err "two [N,6] outputs are ambiguous" "'a' and 'b'" "$run" "$m/two_yolo.onnx" "${b[@]}" --json
expect_err "boxes of the wrong shape" "output 'boxes' is float32\[2,3\]" "$run" "$m/bad_boxes.onnx" "${b[@]}" --json
expect_err "--top on detections" "--top needs" "$run" "$m/yolo7.onnx" "${b[@]}" --top 1
expect_err "--labels: missing file" "nosuch.txt" "$run" "$m/seg.onnx" "${b[@]}" --json --labels "$tmp/nosuch.txt"
expect_err "--labels: a directory" "not a regular file" "$run" "$m/seg.onnx" "${b[@]}" --json --labels "$tmp"
: >"$tmp/empty.txt"
expect_err "--labels: an empty file" "no class names" "$run" "$m/seg.onnx" "${b[@]}" --json --labels "$tmp/empty.txt"
# a PNG whose header claims 12000 x 12000 pixels (stb would try; over the
# CLI's 2^27): refused before decoding
"$py" -c "
import struct, zlib
ihdr = struct.pack('>IIBBBBB', 12000, 12000, 8, 2, 0, 0, 0)
chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
open('$tmp/huge.png', 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IEND', b''))"
expect_err "--image claiming 1.44e8 pixels" "12000x12000 pixels, more than" \
  "$run" "$m/seg.onnx" "${b[@]}" --image "$tmp/huge.png" --json
head -c 500 /dev/urandom >"$tmp/garbage.png"
expect_err "--image that is no picture" "garbage.png" "$run" "$m/seg.onnx" "${b[@]}" --image "$tmp/garbage.png" --draw "$tmp/g.png"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
