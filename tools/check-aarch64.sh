#!/bin/sh
# The cpu backend's aarch64 (NEON) path, checked on an x86-64 machine:
#
# 1. cross-compiles, with aarch64-linux-gnu-gcc and the project's flags
#    (-std=c11 -D_GNU_SOURCE -fvisibility=hidden -fopenmp-simd -pthread, -Wall -Wextra
#    -Werror), every C file the cpu module is built from on aarch64: the
#    portable list, the NEON list (with its c_args) and module.c of
#    backends/cpu/meson.build, and the reference kernels it links
#    (ref_kernel_sources of backends/ref/meson.build); twice, at -O2 (as
#    the test builds) and at -O3 -DNDEBUG (as the release build: some
#    warnings only show there);
# 2. links engine-backend-cpu.so for aarch64 from each with -z defs: the
#    module takes nothing from its host (its only undefined symbols are
#    libc's and libm's), so a symbol that no object defines
#    fails the link; and checks that it exports engine_backend_entry and
#    holds the NEON kernel table;
# 3. unless --no-run: builds tests/cpu/test_cpu_gemm and
#    test_cpu_conv_special for aarch64 (the -O2 objects, cmocka for arm64
#    from $ENGINE_ARM64_ROOT) and runs them under qemu-aarch64 (user-mode
#    emulation): the GEMM micro-kernels and conv algorithms on NEON and
#    scalar against the reference.
#
# The file lists come from the meson.build files (and every
# backends/cpu/*.c must be in one of its lists), so a file added there is
# checked here too. Build files go to build-aarch64/ (a ninja file written
# here; rebuilds are incremental). Quiet on success; on failure prints the
# failing step's output and exits non-zero.
#
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user and cmocka
# for arm64 unpacked in $ENGINE_ARM64_ROOT (default /opt/engine-arm64);
# tools/install-deps.sh installs all of them.
set -eu
cd "$(dirname "$0")/.."
src=$PWD
run=1
case "${1:-}" in
  --no-run) run=0 ;;
  "") ;;
  *) echo "usage: tools/check-aarch64.sh [--no-run]" >&2; exit 2 ;;
esac
cc=aarch64-linux-gnu-gcc
qemu="qemu-aarch64"
sysroot=/usr/aarch64-linux-gnu
arm64_root=${ENGINE_ARM64_ROOT:-/opt/engine-arm64}
out=build-aarch64

die() { echo "check-aarch64: $*" >&2; exit 1; }

command -v "$cc" >/dev/null 2>&1 ||
  die "$cc not found (Debian package gcc-aarch64-linux-gnu; tools/install-deps.sh installs it)"
[ -f "$sysroot/include/stdio.h" ] ||
  die "no aarch64 C library headers in $sysroot (Debian package libc6-dev-arm64-cross; tools/install-deps.sh)"

# The quoted names of `VAR = files(...)` in a meson.build, one a line.
meson_files() {
  awk -v var="$2" -v q="'" '
    BEGIN { re = q "[^" q "]*" q }
    $0 ~ "^" var " *= *files\\(" { on = 1 }
    on {
      s = $0; sub(/#.*/, "", s)
      while (match(s, re)) { print substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH) }
      if (s ~ /\)/) on = 0
    }' "$1"
}
cpu_sources=$(meson_files backends/cpu/meson.build cpu_sources)
neon_sources=$(meson_files backends/cpu/meson.build cpu_neon_sources)
x86_sources="$(meson_files backends/cpu/meson.build cpu_avx512_sources) $(meson_files backends/cpu/meson.build cpu_avx2_sources) $(meson_files backends/cpu/meson.build cpu_bf16_sources)"
ref_sources=$(meson_files backends/ref/meson.build ref_kernel_sources)
# The c_args of the cpu_neon static library (the NEON list's own flags).
neon_args=$(awk -v q="'" '
  /static_library\(.cpu_neon./ { on = 1 }
  on && /c_args *:/ {
    s = $0; sub(/.*c_args *: *\[/, "", s); sub(/\].*/, "", s); gsub(q, "", s); gsub(",", " ", s); print s; exit
  }' backends/cpu/meson.build)
{ [ -n "$cpu_sources" ] && [ -n "$neon_sources" ] && [ -n "$ref_sources" ] && [ -n "$neon_args" ]; } ||
  die "could not read the file lists from backends/cpu/meson.build and backends/ref/meson.build (did their shape change?)"
# shellcheck disable=SC2086
listed=" $(printf '%s ' $cpu_sources $neon_sources $x86_sources)"
for f in backends/cpu/*.c; do
  b=${f#backends/cpu/}
  [ "$b" = module.c ] && continue
  case "$listed" in
    *" $b "*) ;;
    *) die "$f is in none of the file lists of backends/cpu/meson.build this script reads (cpu_sources, cpu_neon_sources, cpu_avx2_sources, cpu_avx512_sources, cpu_bf16_sources)" ;;
  esac
done
for f in $cpu_sources $neon_sources module.c; do [ -f "backends/cpu/$f" ] || die "backends/cpu/$f (from meson.build) is missing"; done
for f in $ref_sources; do [ -f "backends/ref/$f" ] || die "backends/ref/$f (from meson.build) is missing"; done

if [ "$run" -eq 1 ]; then
  command -v "$qemu" >/dev/null 2>&1 ||
    die "$qemu not found (Debian package qemu-user; tools/install-deps.sh installs it; --no-run skips the emulated tests)"
  { [ -f "$arm64_root/usr/include/cmocka.h" ] && [ -e "$arm64_root/usr/lib/aarch64-linux-gnu/libcmocka.so" ]; } ||
    die "no cmocka for arm64 in $arm64_root (tools/install-deps.sh unpacks Debian's libcmocka0/libcmocka-dev arm64 packages there; --no-run skips the emulated tests)"
fi

# ---- the ninja file ----
mkdir -p "$out"
nf=$out/build.ninja.new
cmocka_lib=$arm64_root/usr/lib/aarch64-linux-gnu
{
  echo "# Written by tools/check-aarch64.sh; do not edit."
  echo "cc = $cc"
  echo "common = -I$src/backends/cpu -I$src/engine/include -I$src/backends/ref -D_FILE_OFFSET_BITS=64 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -fvisibility=hidden -fPIC -fopenmp-simd -pthread"
  echo "rule cc"
  echo "  command = \$cc -MD -MF \$out.d \$common \$flags -c \$in -o \$out"
  echo "  depfile = \$out.d"
  echo "  deps = gcc"
  echo "  description = CC \$out"
  # -z defs: the module must define (or take from libc, libm)
  # every symbol it uses; meson links it the same way (-shared,
  # -z nodelete, -lm, -pthread) without the check.
  echo "rule ar"
  echo "  command = rm -f \$out && aarch64-linux-gnu-ar crs \$out \$in"
  echo "  description = AR \$out"
  echo "rule module"
  echo "  command = \$cc -shared -fPIC -o \$out \$in -Wl,-z,defs -Wl,-z,nodelete -Wl,--as-needed -lm -pthread"
  echo "  description = LINK \$out"
  echo "rule exe"
  echo "  command = \$cc -o \$out \$in -Wl,--as-needed -Wl,--no-undefined -L$cmocka_lib -Wl,-rpath,$cmocka_lib -lcmocka -lm -pthread"
  echo "  description = LINK \$out"
  for v in O2 O3; do
    if [ "$v" = O2 ]; then opt="-O2"; else opt="-O3 -DNDEBUG"; fi
    objs=""
    for f in $cpu_sources; do
      o=$v/cpu/${f%.c}.o
      echo "build $o: cc $src/backends/cpu/$f"
      echo "  flags = $opt"
      objs="$objs $o"
    done
    for f in $neon_sources; do
      o=$v/cpu/${f%.c}.o
      echo "build $o: cc $src/backends/cpu/$f"
      echo "  flags = $opt $neon_args"
      objs="$objs $o"
    done
    # the ref kernels as meson links them: a static library
    refobjs=""
    for f in $ref_sources; do
      o=$v/ref/${f%.c}.o
      echo "build $o: cc $src/backends/ref/$f"
      echo "  flags = $opt"
      refobjs="$refobjs $o"
    done
    echo "build $v/libref_kernels.a: ar$refobjs"
    objs="$objs $v/libref_kernels.a"
    echo "build $v/cpu/module.o: cc $src/backends/cpu/module.c"
    echo "  flags = $opt"
    echo "build $v/engine-backend-cpu.so: module $v/cpu/module.o$objs"
    if [ "$v" = O2 ]; then
      for t in test_cpu_gemm test_cpu_conv_special; do
        echo "build $v/tests/$t.o: cc $src/tests/cpu/$t.c"
        echo "  flags = $opt -I$arm64_root/usr/include"
        echo "build $v/tests/$t: exe $v/tests/$t.o$objs"
      done
    fi
  done
  echo "build modules: phony O2/engine-backend-cpu.so O3/engine-backend-cpu.so"
  echo "build tests: phony O2/tests/test_cpu_gemm O2/tests/test_cpu_conv_special"
  echo "default modules"
} >"$nf"
mv "$nf" "$out/build.ninja"

log=$out/check.log
targets=modules
[ "$run" -eq 1 ] && targets="modules tests"
# shellcheck disable=SC2086
if ! ninja -C "$out" $targets >"$log" 2>&1; then
  grep -v '^\[[0-9]*/[0-9]*\] ' "$log" | tail -60
  die "the aarch64 cross build failed (full log: $log)"
fi

for v in O2 O3; do
  so=$out/$v/engine-backend-cpu.so
  aarch64-linux-gnu-readelf -h "$so" | grep -q 'Machine:.*AArch64' || die "$so is not an AArch64 object"
  aarch64-linux-gnu-nm -D --defined-only "$so" | grep -q ' T engine_backend_entry$' ||
    die "$so does not export engine_backend_entry"
  aarch64-linux-gnu-nm "$so" | grep -q ' cpu_kernels_neon$' || die "$so lacks the NEON kernel table (cpu_kernels_neon)"
done

if [ "$run" -eq 1 ]; then
  for t in test_cpu_gemm test_cpu_conv_special; do
    rc=0
    OMP_WAIT_POLICY=passive timeout 300 "$qemu" -L "$sysroot" "$out/O2/tests/$t" >"$out/$t.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
      tail -40 "$out/$t.log"
      die "$t failed on aarch64 under $qemu (exit $rc; full log: $out/$t.log)"
    fi
  done
fi
exit 0
