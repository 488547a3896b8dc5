#!/bin/sh
# check-install.sh BUILD_DIR: the two ways the Python package is installed
# (docs/PYTHON.md, "Installing") work from a finished build:
#  1. `meson install` into a staging root (DESTDIR): the staged libengine,
#     backend modules, headers, pkg-config file and package are where they
#     belong, and the staged package, imported by Debian's python3, runs
#     LeNet-5 on the staged cpu backend;
#  2. `pip install ./python` into a virtual environment (offline:
#     --no-build-isolation with Debian's setuptools), against that libengine
#     named by ENGINE_LIBRARY.
# Exits non-zero, saying which step failed.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

meson install -C "$build" --destdir "$tmp/stage" --quiet >/dev/null || fail "meson install failed"
prefix=$(meson introspect "$build" --buildoptions | "$py" -c \
  'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
stage=$tmp/stage$prefix
lib=$(find "$stage" -name 'libengine.so.0*' -type f | head -1)
[ -n "$lib" ] || fail "no libengine.so.0 under $stage"
for f in include/engine/engine.h include/engine/backend.h include/engine/plugin.h; do
  [ -f "$stage/$f" ] || fail "$f not installed"
done
find "$stage" -name engine.pc | grep -q . || fail "engine.pc not installed"
find "$stage" -path '*engine/backends/engine-backend-cpu.so' | grep -q . || fail "the cpu backend module is not installed"
pkg=$(find "$stage" -path '*dist-packages/engine/__init__.py' | head -1)
[ -n "$pkg" ] || fail "the Python package is not installed under $stage"
[ -f "$(dirname "$pkg")/_install.py" ] || fail "engine/_install.py (the installed libengine's path) is missing"
mods=$(dirname "$(find "$stage" -path '*engine/backends/engine-backend-cpu.so' | head -1)")
test_code='
import numpy as np, engine
s = engine.Session(sys.argv[1], backends=("cpu",), strict=True)
(y,) = s.run(feeds={"input": np.random.default_rng(0).random((1, 1, 32, 32), dtype=np.float32)})
assert y.shape == (1, 10) and np.isfinite(y).all(), y
print(engine.__file__)
'
out=$(ENGINE_LIBRARY="$lib" ENGINE_BACKEND_PATH="$mods" PYTHONPATH="$(dirname "$(dirname "$pkg")")" \
  "$py" -c "import sys$test_code" "$root/demo/lenet5.onnx") || fail "the staged package did not run LeNet-5"
case "$out" in "$tmp"/*) ;; *) fail "python imported the package from $out, not the staged one" ;; esac

"$py" -m venv --system-site-packages "$tmp/venv" >/dev/null || fail "cannot create a virtual environment"
"$tmp/venv/bin/pip" install --quiet --no-build-isolation --no-deps --no-index "$root/python" >/dev/null 2>"$tmp/pip.err" \
  || { cat "$tmp/pip.err" >&2; fail "pip install ./python failed"; }
out=$(cd "$tmp" && ENGINE_LIBRARY="$lib" ENGINE_BACKEND_PATH="$mods" "$tmp/venv/bin/python" -c "import sys$test_code" \
  "$root/demo/lenet5.onnx") || fail "the pip-installed package did not run LeNet-5"
case "$out" in "$tmp/venv"/*) ;; *) fail "the venv imported the package from $out, not its own" ;; esac
echo "check-install: meson install (staged) and pip install ./python both run LeNet-5"
