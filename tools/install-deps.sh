#!/bin/sh
# Installs the Debian 12 packages engine needs to build, test and run its
# demo. Does nothing when they are all present. Runs apt-get through sudo
# when not root.
set -eu
# What each is for: gcc/meson/ninja/pkg-config build it; protobuf-c decodes
# ONNX; cmocka runs the unit tests; stb decodes images for --image;
# ocl-icd + opencl-c-headers + CLBlast build the OpenCL backend and POCL
# runs it on the CPU in tests; clang-14 + its runtime give libFuzzer and
# ThreadSanitizer; python3 with torch/torchvision/onnx is the test oracle
# (generates models and reference outputs, never runs inside the engine).
pkgs="gcc meson ninja-build pkg-config libprotobuf-c-dev protobuf-c-compiler libcmocka-dev libstb-dev
      ocl-icd-opencl-dev opencl-c-headers libclblast-dev pocl-opencl-icd clinfo
      clang-14 libclang-rt-14-dev
      python3 python3-numpy python3-torch python3-torchvision python3-onnx python3-sklearn python3-pil"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing
