#!/bin/sh
# Out-of-tree plugin build against an installed engine: installs the build
# into a temporary staging folder (meson install --destdir), then runs the
# walk-through of docs/PLUGINS.md literally (extract_walkthrough.py) with
# ENGINE_PREFIX/ENGINE_LIBDIR pointing at the staged install: swish.c is
# compiled with pkg-config's flags and run by the installed engine-run on
# every backend it finds, strict, against numpy.
# usage: test_out_of_tree.sh BUILD_ROOT SOURCE_ROOT PREFIX LIBDIR
set -eu
build=$1 src=$2 prefix=$3 libdir=$4
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHON
tmp=$(mktemp -d /tmp/engine-oot-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --no-rebuild --destdir "$tmp/stage" --quiet >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; echo "FAIL: meson install"; exit 1; }
ENGINE_PREFIX=$tmp/stage$prefix
ENGINE_LIBDIR=$ENGINE_PREFIX/$libdir
export ENGINE_PREFIX ENGINE_LIBDIR
for f in "$ENGINE_LIBDIR/libengine.so" "$ENGINE_LIBDIR/pkgconfig/engine.pc" "$ENGINE_PREFIX/include/engine/plugin.h" \
         "$ENGINE_PREFIX/include/engine/engine.h" "$ENGINE_LIBDIR/engine/backends/engine-backend-ref.so" \
         "$ENGINE_PREFIX/bin/engine-run"; do
    [ -e "$f" ] || { echo "FAIL: $f is not installed"; exit 1; }
done

# The installed engine must load its installed modules, not the build tree's.
LD_LIBRARY_PATH=$ENGINE_LIBDIR LD_DEBUG=files "$ENGINE_PREFIX/bin/engine-run" --list-backends >"$tmp/list.txt" 2>"$tmp/ld.txt"
grep -q "file=$ENGINE_LIBDIR/engine/backends/engine-backend-ref.so" "$tmp/ld.txt" ||
    { cat "$tmp/list.txt"; echo "FAIL: the installed engine-run did not load the installed ref module"; exit 1; }

"$PYTHON" "$src/tests/plugins/extract_walkthrough.py" "$src/docs/PLUGINS.md" "$tmp/walkthrough.sh"
mkdir "$tmp/work"
(cd "$tmp/work" && sh "$tmp/walkthrough.sh") || { echo "FAIL: the walk-through of docs/PLUGINS.md"; exit 1; }
cmp "$tmp/work/swish-plugin/swish.c" "$src/plugins/swish/swish.c" ||
    { echo "FAIL: docs/PLUGINS.md's swish.c differs from plugins/swish/swish.c"; exit 1; }
echo "out-of-tree plugin build: OK"
