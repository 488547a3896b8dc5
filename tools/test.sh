#!/bin/sh
# The full test suite: installs what it needs, then builds and tests twice,
# a normal (debugoptimized) build in build-test/ and an ASan+UBSan build in
# build-asan/. Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
for cfg in test asan; do
  dir=build-$cfg
  if [ "$cfg" = asan ]; then
    opts="-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug"
  else
    opts="-Dbuildtype=debugoptimized"
  fi
  if [ -f "$dir/build.ninja" ]; then
    # shellcheck disable=SC2086
    meson setup --reconfigure $opts "$dir" >/dev/null
  else
    # shellcheck disable=SC2086
    meson setup $opts "$dir"
  fi
  ninja -C "$dir"
  # Sanitizers: fail on any report; leaks are reported at exit.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$dir" --print-errorlogs --num-processes 2
done
echo "test.sh: all test suites passed (build-test and build-asan)"
