# Helpers of the CLI tests (test_engine_run.sh, test_engine_run_draw.sh),
# sourced by bash after `set -u`: a scratch folder $tmp removed on exit,
# pass/fail counters and the checks below. The caller ends with
#   echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]
py=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     /' "$2" | head -20; }

# expect_ok NAME CMD...: exit 0 (stdout in $tmp/out, stderr in $tmp/err)
expect_ok() { local name=$1; shift; if "$@" >"$tmp/out" 2>"$tmp/err"; then ok "$name"; else bad "$name (exit $?)" "$tmp/err"; fi; }
# expect_err NAME PATTERN CMD...: non-zero exit and exactly one line on stderr, matching PATTERN
expect_err() {
  local name=$1 pattern=$2; shift 2
  if "$@" >"$tmp/out" 2>"$tmp/err"; then bad "$name (exit 0)" "$tmp/out"; return; fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ]; then bad "$name (stderr is not one line)" "$tmp/err"; return; fi
  if grep -q -- "$pattern" "$tmp/err"; then ok "$name"; else bad "$name (no '$pattern' in stderr)" "$tmp/err"; fi
}
# check NAME PYTHON-CODE: the code exits 0 (sys.exit(msg) explains a failure)
check() {
  local name=$1; shift
  if "$py" -c "$1" >"$tmp/check" 2>&1; then ok "$name"; else bad "$name" "$tmp/check"; fi
}
