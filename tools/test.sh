#!/bin/sh
# The full test suite: installs what it needs, then builds and tests twice,
# a normal (debugoptimized) build in build-test/ and an ASan+UBSan build in
# build-asan/; then the concurrency test in a ThreadSanitizer build
# (build-tsan/, only what that test needs), a release build that must
# compile (build-release/, -O3 warnings), the cpu backend's aarch64 (NEON)
# path cross-compiled and its kernel tests run under qemu
# (tools/check-aarch64.sh, build-aarch64/) and, in CI runs (CI=true), each
# libFuzzer target for FUZZ_SECONDS (default 60) through tools/fuzz.sh
# (build-fuzz/, clang-14). Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
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
  skip=$(grep -c '"result": "SKIP"' "$log" || true)
  all=$(grep -c '"result": ' "$log" || true)
  passed=$((passed + ok))
  skipped=$((skipped + skip))
  failed=$((failed + all - ok - skip))
  [ "$rc" -eq 0 ] || { echo "test.sh: $dir: meson test failed"; echo "$passed passed, $((failed > 0 ? failed : 1)) failed, $skipped skipped"; exit 1; }
done

# The package installs: `meson install` (staged) and `pip install ./python`
# each run LeNet-5 from the installed package (tools/check-install.sh).
# Counts as one test.
if tools/check-install.sh build-test; then passed=$((passed + 1)); else
  echo "test.sh: tools/check-install.sh: installing the package failed"; echo "$passed passed, $((failed + 1)) failed"; exit 1
fi

# ThreadSanitizer: tests/reliability/test_threads (several contexts at once,
# one session handed between threads) with the modules it loads, the cpu
# sessions on two threads of the backend's own pool (backends/cpu/cpu_pool.c,
# instrumented like the rest), once with a pool per context and once with
# the process-wide one; and tests/cpu/test_cpu_pool (several threads on one
# pool, several pools at once).
dir=build-tsan
opts="-Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug"
if [ -f "$dir/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson setup --reconfigure $opts "$dir" >/dev/null
else
  # shellcheck disable=SC2086
  meson setup $opts "$dir" >/dev/null
fi
targets="tests/reliability/test_threads backends/ref/engine-backend-ref.so"
tsan_tests=threads
if ninja -C "$dir" -t targets all | grep -q '^backends/cpu/engine-backend-cpu.so:'; then
  targets="$targets backends/cpu/engine-backend-cpu.so tests/cpu/test_cpu_pool"
  tsan_tests="threads cpu_pool"
fi
# shellcheck disable=SC2086
ninja -C "$dir" $targets
rc=0
# shellcheck disable=SC2086
ENGINE_TEST_CPU_THREADS=2 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/reliability/tsan.supp \
  meson test -C "$dir" --no-rebuild --print-errorlogs $tsan_tests || rc=$?
ntsan=$(echo $tsan_tests | wc -w)
# again with every context on the one process-wide pool (ENGINE_CPU_POOL=shared)
if [ "$rc" -eq 0 ] && [ "$ntsan" -gt 1 ]; then
  ENGINE_CPU_POOL=shared ENGINE_TEST_CPU_THREADS=2 \
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/reliability/tsan.supp \
    meson test -C "$dir" --no-rebuild --print-errorlogs threads || rc=$?
  ntsan=$((ntsan + 1))
fi
if [ "$rc" -eq 0 ]; then passed=$((passed + ntsan)); else failed=$((failed + 1)); fi
[ "$rc" -eq 0 ] || { echo "test.sh: $dir: threads failed under ThreadSanitizer"; echo "$passed passed, $failed failed"; exit 1; }

# A release build (-O3) must compile too: warnings are errors, and some
# (format truncation) only appear at -O3. Built, not tested (the code is
# the same as build-test's); counts as one test.
dir=build-release
if [ ! -f "$dir/build.ninja" ]; then meson setup -Dbuildtype=release "$dir" >/dev/null; fi
if ninja -C "$dir" >/dev/null; then passed=$((passed + 1)); else
  ninja -C "$dir" | tail -20
  echo "test.sh: $dir: the release build failed"; echo "$passed passed, $((failed + 1)) failed"; exit 1
fi

# The aarch64 (NEON) path, which no native build here compiles: the cpu
# module's sources cross-compiled at -O2 and -O3 (warnings are errors), the
# module linked with -z defs, and tests/cpu's GEMM and conv kernel tests run
# on NEON and scalar under qemu-aarch64. Counts as one test.
if tools/check-aarch64.sh; then passed=$((passed + 1)); else
  echo "test.sh: tools/check-aarch64.sh: the aarch64 (NEON) cross build or its emulated kernel tests failed"
  echo "$passed passed, $((failed + 1)) failed"; exit 1
fi

# Short fuzzing in CI: every target for FUZZ_SECONDS; each target counts as
# one test (a crash, leak, timeout or sanitizer report fails it).
fuzzed=""
if [ "${CI:-}" = true ]; then
  fuzzed=" (and the short fuzz runs)"
  rc=0
  out=$(FUZZ_SECONDS=${FUZZ_SECONDS:-60} tools/fuzz.sh) || rc=$?
  printf '%s\n' "$out"
  ok=$(printf '%s\n' "$out" | grep -c ', ok$' || true)
  all=$(printf '%s\n' "$out" | grep -c '^fuzz ' || true)
  passed=$((passed + ok))
  failed=$((failed + all - ok))
  [ "$rc" -eq 0 ] || { echo "test.sh: fuzzing failed"; echo "$passed passed, $((failed > 0 ? failed : 1)) failed"; exit 1; }
fi
echo "test.sh: every suite passed in build-test, build-asan and build-tsan, build-release compiled, the aarch64 check passed$fuzzed"
echo "$passed passed, $failed failed, $skipped skipped"
