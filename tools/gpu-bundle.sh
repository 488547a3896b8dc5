#!/bin/bash
# tools/gpu-bundle.sh [OUTDIR]  (bash) - prepares what tools/gpu-check.sh needs
# on a GPU machine that has no network and none of our build dependencies.
#
# Run here (Debian 12 with tools/install-deps.sh done), from anywhere:
#   tools/gpu-bundle.sh .gpu-bundle        (OUTDIR default: .gpu-bundle, git-ignored)
# Then carry OUTDIR with the working tree and run there:
#   bash tools/gpu-check.sh .gpu-bundle "$OUT"
#
# It configures a release build in build-gpu/ (GPU_BUNDLE_BUILD; warnings not
# fatal), builds the
# few targets needed (ninja -j${JOBS:-2}) and fills OUTDIR with:
#   bin/   engine-run, bench-shapes, case_runner and test_dynamic (tests/), bench_conv_tiled (tests/opencl/,
#          for tools/gpu-layers.sh), clinfo (Debian's clinfo package)
#   lib/   libengine.so.0; lib/engine/backends/engine-backend-{ref,cpu,opencl}.so
#          (the names the loader looks for: ENGINE_BACKEND_PATH, and
#          <folder of libengine>/engine/backends); the shared libraries those
#          need that a bare machine may lack, found with ldd (libclblast,
#          libprotobuf-c, libstb, libgomp, libcmocka; not glibc, libstdc++,
#          libgcc_s); lib/icd/libOpenCL.so.1 (ocl-icd), kept apart: gpu-check.sh
#          puts it on LD_LIBRARY_PATH only where the machine has no ICD loader.
#   data/op/     the per-op cases (tests/gen_op_cases.py, ~3 MB)
#   data/dynamic/ the models of tests/dynamic (symbolic dims, If, Loop; ~1 MB)
#   data/zoo/    the zoo cases that fit GPU_BUNDLE_ZOO_MB (default 28) MB, smallest
#                first (the full zoo is ~470 MB of random weights: the other
#                models are listed in data/zoo-remote.txt and exported on the GPU
#                machine by its own torch)
#   data/bench/  resnet18, resnet50, mobilenet_v2 (224x224) as graphs without
#                their weights (gpu_check.py strip, ~10-50 KB each): used only if
#                the GPU machine's torch cannot export them
#   MANIFEST.txt what was built from which commit, and the files' sizes.
# Where patchelf is installed (apt-get install patchelf) the copies lose their
# RUNPATH/RPATH; else they keep meson's RUNPATH ($ORIGIN/../engine: absent in
# the bundle, so harmless), since gpu-check.sh sets LD_LIBRARY_PATH, which
# wins over DT_RUNPATH (not over DT_RPATH: a file with one is reported here).
# Python for the data: /usr/bin/python3 (PYTHON), with numpy, torch,
# torchvision and onnx.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-.gpu-bundle}
build=${GPU_BUNDLE_BUILD:-build-gpu}
py=${PYTHON:-/usr/bin/python3}
zoo_mb=${GPU_BUNDLE_ZOO_MB:-28}
bench_models="resnet18 resnet50 mobilenet_v2"
cd "$root"
case $out in /*) ;; *) out=$root/$out ;; esac

say() { printf 'gpu-bundle: %s\n' "$*"; }
die() { printf 'gpu-bundle: %s\n' "$*" >&2; exit 1; }

# ---- build ----
# -Dwerror=false: a warning must not cost the GPU check (tools/test.sh's
# release build is where warnings fail).
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dbuildtype=release -Dwerror=false
else
  meson configure "$build" -Dbuildtype=release -Dwerror=false >/dev/null
fi
targets="tools/engine-run tools/bench-shapes tests/case_runner tests/dynamic/test_dynamic tests/opencl/bench_conv_tiled backends/ref/engine-backend-ref.so
backends/cpu/engine-backend-cpu.so backends/opencl/engine-backend-opencl.so"
# shellcheck disable=SC2086
ninja -C "$build" -j"${JOBS:-2}" $targets ||
  die "build failed (the opencl module needs OpenCL and CLBlast: tools/install-deps.sh)"
command -v clinfo >/dev/null || die "no clinfo (apt-get install clinfo)"

# ---- binaries and libraries ----
# Assembled inside the (ignored) build folder, then moved to OUTDIR.
b=$root/$build/gpu-bundle.tmp
case $build in /*) b=$build/gpu-bundle.tmp ;; esac
rm -rf "$b"
mkdir -p "$b/bin" "$b/lib/engine/backends" "$b/lib/icd" "$b/data"
cp "$build/tools/engine-run" "$build/tools/bench-shapes" "$build/tests/case_runner" "$build/tests/dynamic/test_dynamic" \
  "$build/tests/opencl/bench_conv_tiled" "$(command -v clinfo)" "$b/bin/"
cp -L "$build/engine/libengine.so.0" "$b/lib/libengine.so.0"
for m in ref cpu opencl; do
  cp "$build/backends/$m/engine-backend-$m.so" "$b/lib/engine/backends/"
done
# Every library the binaries and modules need, resolved as they run here,
# except what any Linux with a C/C++ toolchain has (and must not be mixed).
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libstdc\+\+\.so|libgcc_s\.so|libengine\.so)'
elves=$(ls "$b"/bin/* "$b"/lib/libengine.so.0 "$b"/lib/engine/backends/*.so)
for f in $elves; do
  LD_LIBRARY_PATH=$build/engine ldd "$f"
done | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u | while read -r name path; do
  if printf '%s\n' "$name" | grep -Eq "$skip"; then continue; fi
  dest=$b/lib
  [ "$name" = libOpenCL.so.1 ] && dest=$b/lib/icd
  cp -L "$path" "$dest/$name"
done
for f in $elves "$b"/lib/*.so* "$b"/lib/icd/*; do
  if command -v patchelf >/dev/null; then
    patchelf --remove-rpath "$f"
  elif LC_ALL=C readelf -d "$f" 2>/dev/null | grep -q '(RPATH)'; then
    say "WARNING: $f has DT_RPATH (LD_LIBRARY_PATH cannot override it): patchelf --remove-rpath it"
  fi
done
[ -f "$b/lib/icd/libOpenCL.so.1" ] || die "the opencl module does not link libOpenCL.so.1?"
LD_LIBRARY_PATH=$b/lib:$b/lib/icd ldd "$b/lib/engine/backends/engine-backend-opencl.so" "$b/bin/engine-run" \
  "$b/bin/case_runner" | grep -q 'not found' && die "a bundled file still misses a library (ldd)"

# ---- data ----
data=$build/gpu-data
PYTHON=$py tests/run_cases.sh op - tests/gen_op_cases.py "$data/op" >/dev/null
PYTHON=$py tests/run_cases.sh zoo - tools/zoo.py "$data/zoo" >/dev/null
cp -r "$data/op" "$b/data/op"
rm -f "$b/data/op/STAMP"
# The zoo: smallest first while the total stays under the limit, in INDEX order.
mkdir -p "$b/data/zoo"
keep=$(grep -v '^#' "$data/zoo/INDEX" | while read -r c; do
         printf '%s %s\n' "$(du -s --apparent-size -B1 "$data/zoo/$c" | cut -f1)" "$c"
       done | sort -n | awk -v lim=$((zoo_mb * 1048576)) '{ s += $1; if (s <= lim) print $2 }')
: >"$b/data/zoo/INDEX"
: >"$b/data/zoo-remote.txt"
grep -v '^#' "$data/zoo/INDEX" | while read -r c; do
  if printf '%s\n' "$keep" | grep -qx "$c"; then
    cp -r "$data/zoo/$c" "$b/data/zoo/$c"
    echo "$c" >>"$b/data/zoo/INDEX"
  else
    echo "$c" >>"$b/data/zoo-remote.txt"
  fi
done
# Models with run-time shapes (tests/dynamic; tools/gpu-dynamic.sh).
"$py" tests/dynamic/gen_dynamic_models.py "$b/data/dynamic" >/dev/null
# Bench graphs without weights (the fallback when the GPU machine cannot export).
mkdir -p "$b/data/bench" "$data/bench"
"$py" tools/gpu_check.py export "$data/bench" "$(echo "$bench_models" | tr ' ' ,)" >/dev/null
for m in $bench_models; do
  "$py" tools/gpu_check.py strip "$data/bench/$m.onnx" "$b/data/bench/$m.graph.onnx" >/dev/null
done

{
  echo "engine GPU bundle, made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- engine backends ops tools tests 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "build: $build (release); $(LD_LIBRARY_PATH=$b/lib:$b/lib/icd "$b/bin/engine-run" --version 2>/dev/null || true)"
  echo "python for the data: $py, torch $("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
  echo "zoo bundled: $(tr '\n' ' ' <"$b/data/zoo/INDEX")"
  echo "zoo exported on the GPU machine: $(tr '\n' ' ' <"$b/data/zoo-remote.txt")"
  echo "op cases: $(find "$b/data/op" -name model.onnx | wc -l)"
  echo "files:"
  (cd "$b" && find bin lib -type f -exec ls -l {} + | awk '{ print "  " $5, $9 }')
} >"$b/MANIFEST.txt"

rm -rf "$out"
mv "$b" "$out"
say "bundle in $out: $(du -s --apparent-size -B1 "$out" | cut -f1 | awk '{ printf "%.1f MiB", $1 / 1048576 }')" \
  "(bin+lib $(du -sc --apparent-size -B1 "$out/bin" "$out/lib" | tail -1 | cut -f1 | awk '{ printf "%.1f", $1 / 1048576 }')," \
  "data $(du -s --apparent-size -B1 "$out/data" | cut -f1 | awk '{ printf "%.1f", $1 / 1048576 }') MiB)"
