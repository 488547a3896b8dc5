#!/bin/sh
# run_dynamic.sh TEST GENERATOR OUTDIR: generates the models with run-time
# shapes (once per generator version, like tests/run_cases.sh) and runs the
# cmocka test on them.
set -eu
test=$1 gen=$2 out=$3
py=${PYTHON:-/usr/bin/python3}
stamp=$(cksum < "$gen")
if [ ! -f "$out/STAMP" ] || [ "$(cat "$out/STAMP")" != "$stamp" ]; then
  rm -rf "$out.tmp"
  "$py" "$gen" "$out.tmp"
  echo "$stamp" > "$out.tmp/STAMP"
  rm -rf "$out"
  mv "$out.tmp" "$out"
fi
exec "$test" "$out"
