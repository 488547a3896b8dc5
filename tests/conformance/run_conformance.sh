#!/bin/sh
# run_conformance.sh MODE CONFORMANCE SRC_ROOT BUILD_TESTS_DIR
# MODE suite:   ONNX node tests + the model zoo on every loaded backend,
#               checked against tests/conformance/expected.txt (exit 1 on a
#               regression; new passes are reported, not failures).
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
*) echo "usage: run_conformance.sh suite|diverge CONFORMANCE SRC_ROOT BUILD_TESTS_DIR" >&2; exit 2 ;;
esac
