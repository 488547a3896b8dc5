#!/bin/sh
# Installs the Debian 12 packages engine needs to build, test and run its
# demo, and unpacks cmocka for arm64 for the aarch64 tests (below). Does
# nothing when they are all present. Runs apt-get through sudo when not
# root.
set -eu
# What each is for: gcc/meson/ninja/pkg-config build it; protobuf-c decodes
# ONNX; cmocka runs the unit tests; stb decodes images for --image;
# ocl-icd + opencl-c-headers + CLBlast build the OpenCL backend and POCL
# runs it on the CPU in tests; oclgrind simulates a device to check the
# OpenCL kernels for out-of-bounds accesses, races and barrier divergence; clang-14 + its runtime give libFuzzer and
# ThreadSanitizer; gcc-aarch64-linux-gnu + libc6-dev-arm64-cross (its C
# library, only a recommendation of the compiler, so named here)
# cross-compile the cpu backend's aarch64 (NEON) path and qemu-user runs
# its kernel tests (tools/check-aarch64.sh); python3 with
# torch/torchvision/onnx is the test oracle (generates models and reference
# outputs, never runs inside the engine); python3-pytest runs the Python
# package's tests (python/tests); python3-distributed (Dask) runs
# engine.dask, the scale-out over image sets (python/engine/dask.py);
# python3-fastapi + python3-uvicorn serve the Open Inference Protocol
# (engine-serve) and python3-requests is its test client; python3-venv and
# python3-setuptools let tools/check-install.sh pip-install the package
# into a virtual environment, offline.
pkgs="gcc meson ninja-build pkg-config libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libstb-dev
      ocl-icd-opencl-dev opencl-c-headers libclblast-dev pocl-opencl-icd clinfo oclgrind
      clang-14 libclang-rt-14-dev
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
      python3 python3-numpy python3-torch python3-torchvision python3-onnx python3-sklearn python3-pil python3-pytest
      python3-distributed python3-fastapi python3-uvicorn python3-requests python3-venv python3-setuptools"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing$missing"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing
fi

# cmocka for arm64, which the aarch64 kernel tests link (tools/check-aarch64.sh):
# Debian's libcmocka0 and libcmocka-dev arm64 packages, fetched with a
# private apt state (arm64 package lists in a temporary folder) and
# unpacked into $ENGINE_ARM64_ROOT. The system's apt and dpkg are not
# touched: no foreign architecture is added, so nothing here can change or
# break the amd64 installs, and a failure here only warns (the aarch64 test
# then fails and says why).
arm64_root=${ENGINE_ARM64_ROOT:-/opt/engine-arm64}
[ -e "$arm64_root/usr/lib/aarch64-linux-gnu/libcmocka.so.0" ] && [ -f "$arm64_root/usr/include/cmocka.h" ] && exit 0
echo "install-deps: fetching cmocka for arm64 into $arm64_root"
tmp=$(mktemp -d)
trap '$sudo rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/debs"
: >"$tmp/status"
# apt downloads as the user _apt where it can
if id _apt >/dev/null 2>&1; then $sudo chown -R _apt "$tmp/lists" "$tmp/cache" "$tmp/debs"; fi
apt_arm64() {
  $sudo apt-get -qq -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
    -o Dir::State::Lists="$tmp/lists" -o Dir::State::status="$tmp/status" -o Dir::Cache="$tmp/cache" \
    -o Debug::NoLocking=1 "$@"
}
if apt_arm64 update >"$tmp/log" 2>&1 &&
   (cd "$tmp/debs" && apt_arm64 download libcmocka0:arm64 libcmocka-dev:arm64) >>"$tmp/log" 2>&1 &&
   $sudo rm -rf "$arm64_root.new" && $sudo mkdir -p "$arm64_root.new" &&
   (for deb in "$tmp"/debs/*.deb; do $sudo dpkg-deb -x "$deb" "$arm64_root.new" || exit 1; done) >>"$tmp/log" 2>&1 &&
   [ -e "$arm64_root.new/usr/lib/aarch64-linux-gnu/libcmocka.so.0" ]; then
  $sudo rm -rf "$arm64_root"
  $sudo mv "$arm64_root.new" "$arm64_root"
else
  cat "$tmp/log"
  $sudo rm -rf "$arm64_root.new"
  echo "install-deps: warning: could not fetch cmocka for arm64; tools/check-aarch64.sh will fail (--no-run still cross-compiles)" >&2
fi
