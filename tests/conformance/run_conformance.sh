#!/bin/sh
# run_conformance.sh MODE CONFORMANCE SRC_ROOT BUILD_TESTS_DIR
# MODE suite:   ONNX node tests + the model zoo on every loaded backend,
#               checked against tests/conformance/expected.txt (exit 1 on a
#               regression; new passes are reported, not failures).
# MODE node-new: the node tests of the pinned current onnx (PINNED_ONNX in
#               gen_node_tests.py), installed from PyPI into a virtual
#               environment in the build folder once, checked against
#               tests/conformance/expected-new.txt. Exit 77 (skipped) when
#               that onnx cannot be installed (no network): never a pass.
# MODE diverge: engine-conformance --diverge between ref and the skewed test
#               backend must name the zoo's first Relu, and ref vs ref must
#               find no divergence.
# The suites are generated once per build dir and regenerated only when
# their generators change (tests/run_cases.sh keeps a content stamp).
# ENGINE_CONFORMANCE_ARGS adds options (e.g. --markdown FILE, --update).
set -eu
mode=$1 conf=$2 src=$3 tdir=$4
py=${PYTHON:-/usr/bin/python3}
cases="$src/tests/run_cases.sh"

if [ "$mode" = node-new ]; then
  gen="$src/tests/conformance/gen_node_tests.py"
  pin=$(sed -n 's/^PINNED_ONNX = "\(.*\)"$/\1/p' "$gen")
  [ -n "$pin" ] || { echo "FAIL: no PINNED_ONNX in $gen"; exit 1; }
  venv="$tdir/conformance/onnx-venv"
  # The venv is made once per build folder; its STAMP names the release.
  if [ "$(cat "$venv/STAMP" 2>/dev/null)" != "onnx==$pin" ]; then
    rm -rf "$venv"
    if ! "$py" -m venv --system-site-packages "$venv" ||
       ! timeout 600 "$venv/bin/python" -m pip install --quiet --no-input --retries 1 --timeout 30 "onnx==$pin"; then
      rm -rf "$venv"
      echo "SKIPPED: the node-new suite needs onnx $pin from PyPI, which could not be installed"
      exit 77
    fi
    echo "onnx==$pin" > "$venv/STAMP"
  fi
  PYTHON="$venv/bin/python" GENARGS="--onnx $pin" sh "$cases" node-new - "$gen" "$tdir/conformance/node-new"
  # shellcheck disable=SC2086
  exec "$conf" --expected "$src/tests/conformance/expected-new.txt" ${ENGINE_CONFORMANCE_ARGS:-} \
    "$tdir/conformance/node-new"
fi

# Generation only (RUNNER "-"): shared with the zoo test's folder.
sh "$cases" zoo - "$src/tools/zoo.py" "$tdir/zoo"
sh "$cases" node - "$src/tests/conformance/gen_node_tests.py" "$tdir/conformance/node"
# Plugin ops are checked like built-ins: the example plugins' cases (numpy
# references) with the plugins loaded through ENGINE_PLUGIN_PATH.
sh "$cases" plugins - "$src/tests/plugins/gen_plugin_models.py" "$tdir/conformance/plugins"
# The generator also writes the refusal cases of tests/plugins; the suite
# takes the runnable ones, at the per-op tolerance.
pcases="swish_conv swish_default yolo yolo_noimg"
: > "$tdir/conformance/plugins/INDEX"
for c in $pcases; do
  echo "$c" >> "$tdir/conformance/plugins/INDEX"
  echo "allclose 1e-5 1e-4" > "$tdir/conformance/plugins/$c/tolerance"
done
plugdir="$tdir/../plugins"
ENGINE_PLUGIN_PATH="$plugdir/engine-plugin-swish.so:$plugdir/engine-plugin-yolo-decode.so"
export ENGINE_PLUGIN_PATH

case $mode in
suite)
  # shellcheck disable=SC2086
  exec "$conf" --expected "$src/tests/conformance/expected.txt" ${ENGINE_CONFORMANCE_ARGS:-} \
    "$tdir/conformance/node" "$tdir/conformance/plugins" "$tdir/zoo"
  ;;
diverge)
  model="$tdir/zoo/lenet5"
  want=$("$py" -c "import onnx,sys; m=onnx.load(sys.argv[1]); print(next(n.name for n in m.graph.node if n.op_type=='Relu'))" "$model/model.onnx")
  out=$("$conf" --backend-path "$tdir/conformance/engine-backend-skew.so" --diverge "$model" --backends ref,skew --no-fuse) && rc=0 || rc=$?
  echo "$out"
  [ "$rc" = 1 ] || { echo "FAIL: expected exit status 1 (a divergence), got $rc"; exit 1; }
  echo "$out" | grep -q "^first divergence: node [0-9]* '$want' (Relu)" ||
    { echo "FAIL: expected the first divergence at '$want' (Relu)"; exit 1; }
  out=$("$conf" --diverge "$model" --backends ref,ref) && rc=0 || rc=$?
  echo "$out"
  [ "$rc" = 0 ] || { echo "FAIL: ref vs ref diverged (exit $rc)"; exit 1; }
  echo "ok: first divergence found at '$want'; ref vs ref clean"
  ;;
*) echo "usage: run_conformance.sh suite|node-new|diverge CONFORMANCE SRC_ROOT BUILD_TESTS_DIR" >&2; exit 2 ;;
esac
