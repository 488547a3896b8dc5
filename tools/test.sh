#!/bin/sh
# The full test suite: installs what it needs, then builds and tests twice,
# a normal (debugoptimized) build in build-test/ and an ASan+UBSan build in
# build-asan/. Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
passed=0 failed=0
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
  rc=0
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$dir" --print-errorlogs --num-processes 2 || rc=$?
  log=$dir/meson-logs/testlog.json
  ok=$(grep -c '"result": "OK"' "$log" || true)
  all=$(grep -c '"result": ' "$log" || true)
  passed=$((passed + ok))
  failed=$((failed + all - ok))
  [ "$rc" -eq 0 ] || { echo "test.sh: $dir: meson test failed"; echo "$passed passed, $((failed > 0 ? failed : 1)) failed"; exit 1; }
done
echo "test.sh: every suite passed in build-test and build-asan"
echo "$passed passed, $failed failed"
