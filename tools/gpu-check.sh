#!/bin/bash
# tools/gpu-check.sh BUNDLE OUTDIR [--budget SECONDS] [--models a,b,c] [--mode LABEL VAR=VALUE]...  (bash)
#
# A one-shot check of the opencl backend on a GPU machine, in one call that
# needs nothing from the network and none of our build dependencies there.
#
#   here:   tools/gpu-bundle.sh .gpu-bundle         (build + libraries + test data, ~38 MiB)
#   there:  bash tools/gpu-check.sh .gpu-bundle "$OUT" [--budget 450]
#           (the working tree and the bundle folder travel; python3 with torch,
#           torchvision, onnx and numpy is expected there, onnxruntime is used
#           where present)
#   here, on POCL: bash tools/gpu-check.sh .gpu-bundle /tmp/gpu-out --budget 900
#
# Steps, each under `timeout` with a share of the budget (default 450 s in
# all); a step that fails or runs out of time is recorded and the script goes
# on; it exits 0 once the summary is written (2 if BUNDLE is missing):
#   probe   uname, nvidia-smi (-L, a --query-gpu of name, driver, clocks,
#           memory), ldconfig -p, libnvidia-opencl.so* (/usr/local/nvidia, the
#           usual lib folders), /etc/OpenCL/vendors. Where no vendor file names
#           the NVIDIA library, one is written in a temporary folder with its
#           full path and OCL_ICD_VENDORS points there (OCL_ICD_FILENAMES is
#           the next try); where the machine has no libOpenCL.so.1 the bundle's
#           ocl-icd is used. The first combination whose `clinfo -l` lists the
#           device wins; then clinfo, `engine-run --list-backends` (a GPU is
#           selected by `auto`; else ENGINE_OPENCL_DEVICE is set to it).
#   conformance  bin/case_runner --backend opencl (strict) over the bundled
#           zoo cases and op cases: fused first (before the bench); after the
#           peer, as the budget allows, --no-fuse and fp16 storage
#           (ENGINE_OPENCL_PRECISION=fp16; op cases at atol 2.5e-3 rtol 1e-3 and
#           tests/opencl/fp16_tolerances.txt; zoo cases with their rel L2
#           measured) as the budget allows; the larger zoo models are exported
#           here by this machine's torch (tools/gpu_check.py zoo-export, in the
#           background while the GPU runs) and run too, with the cpu backend
#           on the same files as a control.
#   bench   ResNet-18, ResNet-50, MobileNetV2 (torchvision, random weights,
#           batch 1, 224x224, opset 13, exported here: dynamo=False first,
#           dynamo=True if that fails; the bundle's weightless graphs with
#           random weights if both fail), engine-run -b opencl --strict --bench
#           --json: cold (empty engine and driver caches: compile ms, first
#           run ms), warm (same caches: median, p90, min), tuned (if
#           engine-run has --tune: one `--tune fast` run into the warm caches
#           under its own time limit, then a plain bench, which uses the
#           cached winners), fp16 (--precision fp16), and -b cpu --threads
#           $(nproc); outputs compared with PyTorch's CPU output (rel L2; with
#           onnxruntime's where the graph came from the bundle). When the first
#           cold compile takes over 5 s, later models start from its caches
#           (the program does not depend on the model; marked "(c)"). Timed
#           runs: N after a warm-up, N chosen from the cold run's median so
#           that one configuration takes about 1.2 % of the budget (5..200).
#   peer    PyTorch on CUDA where torch.cuda.is_available(): the same models
#           fp32 (TF32 defaults, TF32 off, channels_last + cudnn.benchmark),
#           median/p90 (tools/gpu_check.py peer).
#   --mode LABEL VAR=VALUE (repeatable): the op and bundled zoo cases once more,
#           fused, with VAR=VALUE in the environment (e.g. --mode tile
#           ENGINE_OPENCL_CONV_KERNEL=...), after fp16 and before --no-fuse.
# OUTDIR receives four files: summary.md (tables), results.json, log.txt
# (every step, its status and the failures' messages) and details.tar.gz
# (raw outputs). Nothing is read from or written to ~/.cache: every cache
# (XDG_CACHE_HOME, CUDA_CACHE_PATH, POCL_CACHE_DIR) is a fresh temporary folder.
# PYTHON picks the interpreter (default: the first of python3,
# /usr/bin/python3 that imports torch, torchvision, onnx and numpy).
# GPU_CHECK_KEEP=1 keeps the work folder (printed on the first line of the log).
set -uo pipefail
ulimit -c 0 2>/dev/null
export LC_ALL=C  # EPOCHREALTIME's decimal point, grep and sort behaviour

usage() {
  echo "usage: bash tools/gpu-check.sh BUNDLE OUTDIR [--budget SECONDS] [--models a,b,c] [--mode LABEL VAR=VALUE]..." >&2
  exit 2
}
[ $# -ge 2 ] || usage
bundle=$1 out=$2
shift 2
budget=450
models=resnet18,resnet50,mobilenet_v2
XMODES=()
while [ $# -gt 0 ]; do
  case $1 in
    --budget) budget=${2:?}; shift 2 ;;
    --budget=*) budget=${1#*=}; shift ;;
    --models) models=${2:?}; shift 2 ;;
    --models=*) models=${1#*=}; shift ;;
    --mode) [ $# -ge 3 ] || usage; XMODES+=("$2" "$3"); shift 3 ;;
    *) usage ;;
  esac
done
case $budget in '' | *[!0-9]*) usage ;; esac
if [ ! -x "$bundle/bin/engine-run" ] || [ ! -d "$bundle/lib/engine/backends" ]; then
  echo "gpu-check: $bundle is not a bundle (make one with tools/gpu-bundle.sh)" >&2
  exit 2
fi
B=$(cd "$bundle" && pwd)
mkdir -p "$out" || exit 2
OUT=$(cd "$out" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T0=${EPOCHREALTIME%.*}
DEADLINE=$((T0 + budget))
SUMMARY_RESERVE=15
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
RES=$WORK/res
mkdir -p "$RES"/probe "$RES"/conf "$RES"/bench "$RES"/export "$RES"/peer "$RES"/zoo-remote
# Nothing writes under ~: every cache is a temporary folder (steps that
# measure cold and warm starts get their own).
export XDG_CACHE_HOME=$WORK/cache-misc/xdg POCL_CACHE_DIR=$WORK/cache-misc/pocl CUDA_CACHE_PATH=$WORK/cache-misc/cuda
LOG=$OUT/log.txt
: >"$LOG"
: >"$RES/steps.tsv"
NPROC=$(nproc 2>/dev/null || echo 4)

now() { echo "${EPOCHREALTIME%.*}"; }
log() { printf '[%4ds] %s\n' "$(($(now) - T0))" "$*" | tee -a "$LOG" >&2; }
meta() { printf '%s=%s\n' "$1" "$2" >>"$RES/meta.txt"; }
penv() { printf '%s=%s\n' "$1" "$2" >>"$RES/probe/probe.env"; }
# permille of the budget, at least $2 (default 5) seconds
share() { local s=$((budget * $1 / 1000)); [ "$s" -lt "${2:-5}" ] && s=${2:-5}; echo "$s"; }
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES/steps.tsv"; }

# step NAME CAP RESERVE STDOUT STDERR CMD...: runs CMD under timeout (at most
# CAP s, and never into the last RESERVE + SUMMARY_RESERVE s of the budget);
# STDERR "=" merges it into STDOUT. Returns CMD's status (99: skipped).
step() {
  local name=$1 cap=$2 reserve=$3 so=$4 se=$5
  shift 5
  local left=$((DEADLINE - $(now) - reserve - SUMMARY_RESERVE)) lim=$cap
  [ "$left" -lt "$lim" ] && lim=$left
  if [ "$lim" -lt 5 ]; then
    record "$name" skipped - 0 "$lim" "no budget left"
    log "step $name: skipped (budget)"
    return 99
  fi
  log "step $name (limit ${lim}s): ${*##*/}"
  printf '%s\n' "$*" >>"$RES/commands.txt"
  local t0=$EPOCHREALTIME rc
  if [ "$se" = "=" ]; then
    timeout -k 5 "$lim" "$@" >"$so" 2>&1
  else
    timeout -k 5 "$lim" "$@" >"$so" 2>"$se"
  fi
  rc=$?
  local dt st=ok
  dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  case $rc in 0) ;; 124 | 137) st=timeout ;; *) st=fail ;; esac
  record "$name" "$st" "$rc" "$dt" "$lim" "${STEP_NOTE:-}"
  log "step $name: $st (rc $rc, ${dt}s)"
  if [ $rc -ne 0 ]; then
    local errf=$se
    [ "$se" = "=" ] && errf=$so
    tail -n 8 "$errf" 2>/dev/null | sed 's/^/    | /' | tee -a "$LOG" >&2
  fi
  return $rc
}

log "gpu-check: bundle $B, out $OUT, work $WORK, budget ${budget}s, models $models"
meta started "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta uname "$(uname -srm)"
meta nproc "$NPROC"
meta budget "$budget"
meta models "$models"
meta git "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no .git')"
meta bundle_manifest "$(sed -n 2p "$B/MANIFEST.txt" 2>/dev/null)"
cp "$B/MANIFEST.txt" "$RES/" 2>/dev/null

# ---- python (torch for the exports and the peer; numpy for the summary) ----
PY=
for c in "${PYTHON:-}" python3 /usr/bin/python3 /usr/local/bin/python3; do
  if [ -z "$c" ] || ! command -v "$c" >/dev/null; then continue; fi
  if timeout 120 "$c" -c 'import numpy, onnx, torch, torchvision' 2>/dev/null; then PY=$(command -v "$c"); break; fi
done
if [ -z "$PY" ]; then
  for c in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$c" ] && command -v "$c" >/dev/null && timeout 60 "$c" -c 'import numpy' 2>/dev/null && { PY=$(command -v "$c"); break; }
  done
fi
PYV=$([ -n "$PY" ] && timeout 60 "$PY" -c 'import sys
v = [sys.version.split()[0]]
for m in ("numpy", "torch", "torchvision", "onnx", "onnxruntime"):
    try:
        v.append(m + " " + __import__(m).__version__)
    except Exception:
        v.append("no " + m)
print(", ".join(v))' 2>/dev/null)
meta python "${PY:-none} ($PYV)"
log "python: ${PY:-none} ($PYV)"

# ---- the exports, in the background (CPU only) while the GPU works ----
bench_lim=$(share 350 60)
zoo_names=$(grep -v '^#' "$B/data/zoo-remote.txt" 2>/dev/null | paste -sd, -)
if [ -n "$PY" ]; then
  (
    t0=$EPOCHREALTIME
    timeout -k 5 "$bench_lim" "$PY" "$ROOT/tools/gpu_check.py" export "$RES/export" "$models" \
      --fallback "$B/data/bench" >"$RES/export/export.log" 2>&1
    echo "$? $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" >"$RES/export/rc"
  ) &
  BG_EXPORT=$!
  if [ -n "$zoo_names" ]; then
    jobs=$((NPROC / 2))
    [ "$jobs" -gt 8 ] && jobs=8
    [ "$jobs" -lt 1 ] && jobs=1
    (
      t0=$EPOCHREALTIME
      timeout -k 5 "$bench_lim" "$PY" "$ROOT/tools/gpu_check.py" zoo-export "$WORK/zoo-remote" "$zoo_names" \
        --jobs "$jobs" >"$RES/zoo-remote/zoo-export.log" 2>&1
      echo "$? $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')" >"$RES/zoo-remote/rc"
    ) &
    BG_ZOO=$!
  fi
fi
log "background: bench export (pid ${BG_EXPORT:-none}), zoo export of ${zoo_names:-nothing} (pid ${BG_ZOO:-none}), limit ${bench_lim}s"

# Waits for a background export and records it as a step.
bg_wait() { # NAME PID RCFILE
  local name=$1 pid=$2 rcf=$3
  [ -n "$pid" ] || { record "$name" skipped - 0 - "no python with torch"; return; }
  wait "$pid" 2>/dev/null
  local rc dt st=ok
  read -r rc dt <"$rcf" 2>/dev/null || { rc='?'; dt=0; }
  case $rc in 0) ;; 124 | 137) st=timeout ;; *) st=fail ;; esac
  record "$name" "$st" "$rc" "$dt" "$bench_lim" "background"
  log "step $name: $st (rc $rc, ${dt}s, in the background)"
}

# ---- probe ----
probe_lim=$(share 30 10)
P=$RES/probe
uname -a >"$P/uname.txt"
{ cat /etc/os-release; echo; lscpu 2>/dev/null | head -20; echo; free -g 2>/dev/null; } >"$P/system.txt" 2>&1
{ ldconfig -p 2>&1 | grep -i -E 'opencl|nvidia|cuda'; } >"$P/ldconfig.txt"
{ ls -la /etc/OpenCL/vendors/ 2>&1; for f in /etc/OpenCL/vendors/*.icd; do [ -f "$f" ] && echo "$f: $(cat "$f")"; done; } \
  >"$P/vendors.txt"
ls -la /usr/local/nvidia /usr/local/nvidia/lib64 /usr/local/nvidia/lib >"$P/usr-local-nvidia.txt" 2>&1
NVLIB=
{
  ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so/ { print $NF }'
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 \
           /usr/lib /usr/local/cuda/compat /usr/local/cuda/lib64 /usr/local/lib; do
    ls "$d"/libnvidia-opencl.so* 2>/dev/null
  done
  find /usr/local/nvidia /usr/lib/x86_64-linux-gnu /usr/lib64 /run/nvidia -maxdepth 4 -name 'libnvidia-opencl.so*' 2>/dev/null
} | sort -u >"$P/nvidia-opencl-libs.txt"
NVLIB=$(grep '\.so\.1$' "$P/nvidia-opencl-libs.txt" | head -n 1)
[ -z "$NVLIB" ] && NVLIB=$(head -n 1 "$P/nvidia-opencl-libs.txt")
# To test the vendor-file path without an NVIDIA machine: GPU_CHECK_ICD_LIB=/usr/lib/x86_64-linux-gnu/libpocl.so.2
# (taken as the vendor library, as if no vendor file named it) and GPU_CHECK_NO_SYSTEM_LOADER=1
# (the bundle's ocl-icd only).
ICD_MATCH=nvidia
if [ -n "${GPU_CHECK_ICD_LIB:-}" ]; then NVLIB=$GPU_CHECK_ICD_LIB ICD_MATCH=device; fi
penv nvidia_lib "${NVLIB:-none found}"
log "libnvidia-opencl: ${NVLIB:-none found} ($(wc -l <"$P/nvidia-opencl-libs.txt") candidates)"
NVDIR=
[ -n "$NVLIB" ] && NVDIR=$(dirname "$NVLIB")
# nvidia-smi needs libnvidia-ml, which lives beside the OpenCL library
SMI_LDP=/usr/local/nvidia/lib64:/usr/local/nvidia/lib${NVDIR:+:$NVDIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
SMI=$(command -v nvidia-smi || true)
for c in /usr/local/nvidia/bin/nvidia-smi /usr/bin/nvidia-smi; do [ -z "$SMI" ] && [ -x "$c" ] && SMI=$c; done
smi_query() {
  env LD_LIBRARY_PATH="$SMI_LDP" timeout 15 "$SMI" --query-gpu=name,driver_version,pci.bus_id,memory.total,memory.used,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,pstate,power.draw,power.limit,temperature.gpu,compute_mode \
    --format=csv
}
if [ -n "$SMI" ]; then
  env LD_LIBRARY_PATH="$SMI_LDP" timeout 15 "$SMI" -L >"$P/nvidia-smi-L.txt" 2>&1
  smi_query >"$P/nvidia-smi-query.csv" 2>&1
  env LD_LIBRARY_PATH="$SMI_LDP" timeout 15 "$SMI" >"$P/nvidia-smi.txt" 2>&1
  penv nvidia_smi "$SMI"
  log "nvidia-smi: $(tail -n 1 "$P/nvidia-smi-query.csv")"
else
  echo "no nvidia-smi on PATH, /usr/local/nvidia/bin or /usr/bin" >"$P/nvidia-smi-L.txt"
  penv nvidia_smi none
  log "no nvidia-smi"
fi

# The environment of every engine command: the bundle's libraries (and the
# NVIDIA library's folder for its own dependencies: libcuda, the compiler),
# the bundle's modules, caches under WORK.
LDP=$B/lib${NVDIR:+:$NVDIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
OCLENV=()
# Does the opencl module find a libOpenCL.so.1 without the bundle's?
sys_loader=$(LD_LIBRARY_PATH=$LDP ldd "$B/lib/engine/backends/engine-backend-opencl.so" 2>/dev/null |
  awk '$1 == "libOpenCL.so.1" { print $3 }')
[ "$sys_loader" = "not" ] && sys_loader=
[ "${GPU_CHECK_NO_SYSTEM_LOADER:-0}" = 1 ] && sys_loader=
penv system_loader "${sys_loader:-none}"
nv_vendor=$(grep -l -i "$(basename "${NVLIB:-libnvidia-opencl}" | cut -d. -f1)" /etc/OpenCL/vendors/*.icd 2>/dev/null | head -n 1)
[ -n "${GPU_CHECK_ICD_LIB:-}" ] && nv_vendor=  # (the test: as if no vendor file named it)
penv system_vendor_file "${nv_vendor:-none}"
# Candidate (loader, vendor) combinations, best first.
loaders=()
[ -n "$sys_loader" ] && loaders+=(system)
loaders+=(bundle)
vmodes=()
if [ -z "$NVLIB" ] || [ -n "$nv_vendor" ]; then vmodes+=(as-is); fi
[ -n "$NVLIB" ] && vmodes+=(vendor-dir filenames)
mkdir -p "$WORK/vendors"
[ -n "$NVLIB" ] && echo "$NVLIB" >"$WORK/vendors/nvidia.icd"
oclenv_for() { # LOADER VMODE: sets LDP_USE and OCLENV
  LDP_USE=$LDP
  [ "$1" = bundle ] && LDP_USE=$B/lib/icd:$LDP
  OCLENV=()
  case $2 in
    vendor-dir) OCLENV=("OCL_ICD_VENDORS=$WORK/vendors") ;;
    filenames) OCLENV=("OCL_ICD_FILENAMES=$NVLIB") ;;
  esac
}
chosen=
k=0
for l in "${loaders[@]}"; do
  for v in "${vmodes[@]}"; do
    k=$((k + 1))
    oclenv_for "$l" "$v"
    env LD_LIBRARY_PATH="$LDP_USE" "${OCLENV[@]}" timeout 30 "$B/bin/clinfo" -l >"$P/clinfo-l.$k.txt" 2>&1
    echo "attempt $k: loader $l, vendors $v: rc $?, $(grep -c -i 'device' "$P/clinfo-l.$k.txt") device lines" \
      >>"$P/icd-attempts.txt"
    ok=0
    if [ -n "$NVLIB" ]; then
      grep -q -i "$ICD_MATCH" "$P/clinfo-l.$k.txt" && grep -q -i 'device' "$P/clinfo-l.$k.txt" && ok=1
    else
      grep -q -i 'device' "$P/clinfo-l.$k.txt" && ok=1
    fi
    if [ $ok = 1 ]; then chosen="$l $v"; break 2; fi
  done
done
HAVE_OCL=1
if [ -z "$chosen" ]; then
  HAVE_OCL=0
  chosen="${loaders[0]} ${vmodes[0]}"
  log "no OpenCL device through any loader/vendor combination (see probe/icd-attempts.txt)"
fi
# shellcheck disable=SC2086
oclenv_for $chosen
cp "$P/clinfo-l.$k.txt" "$P/clinfo-l.txt" 2>/dev/null
read -r LOADER VMODE <<<"$chosen"
penv loader_source "$LOADER"
penv loader "$(env LD_LIBRARY_PATH="$LDP_USE" ldd "$B/lib/engine/backends/engine-backend-opencl.so" 2>/dev/null |
  awk '$1 == "libOpenCL.so.1" { print $3 }')"
case $VMODE in
  as-is) penv vendor_mode "system (${OCL_ICD_VENDORS:-/etc/OpenCL/vendors})"
         penv vendor_detail "$(grep '^/' "$P/vendors.txt" | tr '\n' ' ')" ;;
  vendor-dir) penv vendor_mode "written: OCL_ICD_VENDORS=$WORK/vendors"; penv vendor_detail "nvidia.icd -> $NVLIB" ;;
  filenames) penv vendor_mode "OCL_ICD_FILENAMES=$NVLIB"; penv vendor_detail "" ;;
esac
penv ocl_attempts "$(tr '\n' ';' <"$P/icd-attempts.txt")"
log "OpenCL: loader $LOADER ($(grep '^loader=' "$P/probe.env" | cut -d= -f2)), vendors $VMODE; $(tr '\n' ' ' <"$P/clinfo-l.txt" | head -c 300)"

ENG=(env "LD_LIBRARY_PATH=$LDP_USE" "ENGINE_BACKEND_PATH=$B/lib/engine/backends" "${OCLENV[@]}")
CONF_CACHE=(XDG_CACHE_HOME="$WORK/cache-conf/xdg" CUDA_CACHE_PATH="$WORK/cache-conf/cuda" POCL_CACHE_DIR="$WORK/cache-conf/pocl")
step probe.clinfo "$probe_lim" 0 "$P/clinfo.txt" = "${ENG[@]}" "$B/bin/clinfo"
step probe.list-backends "$probe_lim" 0 "$P/list-backends.txt" = "${ENG[@]}" "${CONF_CACHE[@]}" \
  "$B/bin/engine-run" --list-backends
"${ENG[@]}" "$B/bin/engine-run" --help >"$P/engine-run-help.txt" 2>&1
DEVSEL=
sel=$(grep -o '\[[0-9]*:[0-9]*\] [^*]*\*selected\*' "$P/list-backends.txt" | head -n 1)
if [ -n "$sel" ] && ! printf '%s' "$sel" | grep -q '(GPU'; then
  gpu=$(grep -o '\[[0-9]*:[0-9]*\] [^(]*(GPU' "$P/list-backends.txt" | head -n 1 | sed 's/^\[\([0-9]*:[0-9]*\)\].*/\1/')
  if [ -n "$gpu" ]; then
    DEVSEL=$gpu
    ENG+=("ENGINE_OPENCL_DEVICE=$DEVSEL")
    log "auto did not pick the GPU; ENGINE_OPENCL_DEVICE=$DEVSEL"
  fi
fi
# No opencl line at all: the module did not load (or found no device).
grep -q '^ *opencl ' "$P/list-backends.txt" || HAVE_OCL=0
penv engine_device "${sel:-none}"
penv device_sel "${DEVSEL:-auto}"
log "engine opencl device: ${sel:-none (the opencl module did not load or found no device)}"

TUNE=0
if grep -q -- '--tune' "$P/engine-run-help.txt"; then TUNE=1; meta tuner "engine-run --tune (found in --help)"; else
  meta tuner "no tuner in this build (engine-run --help has no --tune)"; fi
FP16=0
grep -q -- '--precision' "$P/engine-run-help.txt" && FP16=1

# ---- conformance ----
# retol SRC DST TOLERANCE [PER_CASE_FILE]: SRC's cases as symlinks, with their
# tolerance replaced (per-case lines "case atol rtol" override it).
retol() {
  local src=$1 dst=$2 tol=$3 per=${4:-} c a r t
  rm -rf "$dst"
  [ -d "$src" ] || return 0
  cp -rs "$src" "$dst" || return 0
  find "$dst" -name tolerance -type l -delete
  for t in "$dst"/*/model.onnx; do
    [ -e "$t" ] && echo "$tol" >"${t%/model.onnx}/tolerance"
  done
  if [ -n "$per" ] && [ -f "$per" ]; then
    grep -v '^#' "$per" | while read -r c a r; do
      if [ -n "$c" ] && [ -d "$dst/$c" ]; then echo "allclose $a $r" >"$dst/$c/tolerance"; fi
    done
  fi
}
# conf SUITE MODE DIR CAP RESERVE [BACKEND [VAR=VALUE]]
conf() {
  local suite=$1 mode=$2 dir=$3 cap=$4 reserve=$5 be=${6:-opencl} flag=() envx=()
  [ -f "$dir/INDEX" ] || { record "conf.$suite.$mode" skipped - 0 - "no cases"; return; }
  [ "$mode" = nofuse ] && flag=(--no-fuse)
  [ "$mode" = fp16 ] && envx=(ENGINE_OPENCL_PRECISION=fp16)
  [ -n "${7:-}" ] && envx=("$7")
  [ "$be" = opencl ] && [ "$HAVE_OCL" = 0 ] && { record "conf.$suite.$mode" skipped - 0 - "no OpenCL device"; return; }
  local note=${7:-}
  case $suite.$mode in zoo*.fp16) note="rel L2 measured (tolerance 1e-30: every case reports it, rc 1)" ;; esac
  STEP_NOTE=$note step "conf.$suite.$mode" "$cap" "$reserve" "$RES/conf/$suite.$mode.log" = "${ENG[@]}" "${CONF_CACHE[@]}" \
    "${envx[@]}" "$B/bin/case_runner" --backend "$be" "${flag[@]}" "$dir"
  [ $? = 99 ] && return
  local log=$RES/conf/$suite.$mode.log
  log "  $suite.$mode: $(grep -c '^\[       OK \]' "$log") passed, $(grep -c '^case ' "$log") failed$(grep -q '^\[==========\] .* test(s) run\.' "$log" || echo ', did not finish')"
  grep '^case ' "$log" | head -n 40 | sed 's/^/    /' >>"$LOG"
}
ZOO=$B/data/zoo
OPC=$B/data/op
R_BENCH=$(share 450 60)  # kept for the bench and the peer while the first conformance runs
conf zoo fused "$ZOO" "$(share 130 20)" "$R_BENCH"  # (pays the cold program build)
conf op fused "$OPC" "$(share 150 20)" "$R_BENCH"

# ---- bench ----
bg_wait export "${BG_EXPORT:-}" "$RES/export/rc"
bg_wait zoo-export "${BG_ZOO:-}" "$RES/zoo-remote/rc"
cp "$WORK/zoo-remote/zoo-export.json" "$RES/zoo-remote/" 2>/dev/null
ZR=$WORK/zoo-remote
conf zoo-remote fused "$ZR" "$(share 120 20)" "$R_BENCH"
write_summary() {
  meta wall "$(($(now) - T0))"
  if [ -n "$PY" ] && timeout 120 "$PY" "$ROOT/tools/gpu_check.py" summary "$WORK" "$OUT" >"$RES/summary.log" 2>&1; then
    return 0
  fi
  { echo "# GPU check: the summary script failed"; echo; cat "$RES/summary.log" 2>/dev/null; echo;
    echo '| step | status | rc | s | limit | note |'; echo '| --- | --- | --- | --- | --- | --- |';
    sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$RES/steps.tsv"; } >"$OUT/summary.md"
}
R_PEER=$(share 130 30)
num() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p" "$2" 2>/dev/null | head -n 1; }
bench_s=$(share 12 3)  # seconds of timed runs per model and configuration
IFS=, read -r -a MODELS <<<"$models"
SLOW_BUILD='' SLOW_CACHE=''
for m in "${MODELS[@]}"; do
  onnx=$RES/export/$m.onnx
  if [ ! -f "$onnx" ]; then
    record "bench.$m" skipped - 0 - "no ONNX file (export failed)"
    log "bench $m: no ONNX file"
    continue
  fi
  inp=(-i "$RES/export/$m.input.npy")
  C=$WORK/cache-$m
  CACHE=(XDG_CACHE_HOME="$C/xdg" CUDA_CACHE_PATH="$C/cuda" POCL_CACHE_DIR="$C/pocl")
  bo=$RES/bench/$m
  n=20 w=3
  if [ "$HAVE_OCL" = 1 ]; then
    rm -rf "$C"
    if [ -n "$SLOW_BUILD" ]; then
      # The kernel program does not depend on the model: one slow cold build is enough.
      # Later models start from the first one's caches ("cold" = new process, CLBlast cold).
      cp -r "$SLOW_CACHE" "$C" 2>/dev/null
      STEP_NOTE="caches copied from ${SLOW_CACHE##*/cache-} (its cold compile took $SLOW_BUILD ms)"
    fi
    STEP_NOTE=${STEP_NOTE:-} step "bench.$m.opencl-cold" "$(share 120 20)" "$R_PEER" "$bo.opencl-cold.json" "$bo.opencl-cold.err" \
      "${ENG[@]}" "${CACHE[@]}" "$B/bin/engine-run" "$onnx" -b opencl --strict --bench 3 --warmup 0 --json \
      "${inp[@]}" -o "$bo.opencl-cold.npy"
    STEP_NOTE=
    est=$(num median "$bo.opencl-cold.json")
    cms=$(num compile_ms "$bo.opencl-cold.json")
    if [ -z "$SLOW_BUILD" ] && [ -n "$cms" ] && awk -v c="$cms" 'BEGIN { exit !(c > 5000) }'; then
      SLOW_BUILD=${cms%.*} SLOW_CACHE=$C
    fi
    if [ -n "$est" ]; then
      n=$(awk -v e="$est" -v s="$bench_s" 'BEGIN { n = int(s * 1000 / (e > 0.01 ? e : 0.01)); if (n < 5) n = 5; if (n > 200) n = 200; print n }')
      w=$(( n / 5 < 2 ? 2 : (n / 5 > 20 ? 20 : n / 5) ))
    fi
    STEP_NOTE="runs $n, warm-up $w" step "bench.$m.opencl-warm" "$(share 50 15)" "$R_PEER" "$bo.opencl-warm.json" \
      "$bo.opencl-warm.err" "${ENG[@]}" "${CACHE[@]}" "$B/bin/engine-run" "$onnx" -b opencl --strict \
      --bench "$n" --warmup "$w" --json "${inp[@]}" -o "$bo.opencl-warm.npy"
    if [ "$TUNE" = 1 ]; then
      # Tuning happens in the session compile (its compile_ms); the winners are
      # written into the warm cache, where a later run (tune level none) uses them.
      if step "bench.$m.tune" "$(share 60 15)" "$R_PEER" "$bo.tune.json" "$bo.tune.err" "${ENG[@]}" "${CACHE[@]}" \
        "$B/bin/engine-run" "$onnx" -b opencl --strict --tune fast --bench 1 --warmup 0 --json; then
        STEP_NOTE="runs $n, warm-up $w, tune none (the cached winners)" step "bench.$m.opencl-tuned" \
          "$(share 50 15)" "$R_PEER" "$bo.opencl-tuned.json" "$bo.opencl-tuned.err" "${ENG[@]}" "${CACHE[@]}" \
          "$B/bin/engine-run" "$onnx" -b opencl --strict --bench "$n" --warmup "$w" --json "${inp[@]}" \
          -o "$bo.opencl-tuned.npy"
      else
        record "bench.$m.opencl-tuned" skipped - 0 - "tuning did not finish"
      fi
    fi
    if [ "$FP16" = 1 ]; then
      STEP_NOTE="runs $n, warm-up $w" step "bench.$m.opencl-fp16" "$(share 80 15)" "$R_PEER" \
        "$bo.opencl-fp16.json" "$bo.opencl-fp16.err" "${ENG[@]}" "${CACHE[@]}" "$B/bin/engine-run" "$onnx" \
        -b opencl --strict --precision fp16 --bench "$n" --warmup "$w" --json "${inp[@]}" -o "$bo.opencl-fp16.npy"
    fi
  fi
  STEP_NOTE="runs 20, warm-up 3, threads $NPROC" step "bench.$m.cpu" "$(share 50 15)" "$R_PEER" "$bo.cpu.json" \
    "$bo.cpu.err" "${ENG[@]}" "${CACHE[@]}" "$B/bin/engine-run" "$onnx" -b cpu --strict --threads "$NPROC" \
    --bench 20 --warmup 3 --json "${inp[@]}" -o "$bo.cpu.npy"
done
write_summary

# ---- PyTorch on CUDA ----
if [ -n "$PY" ]; then
  plim=$(share 150 30)
  # (the driver's folder appended, in case libcuda.so.1 is only there)
  pldp=${LD_LIBRARY_PATH:-}
  [ -n "$NVDIR" ] && pldp=${pldp:+$pldp:}$NVDIR
  step peer "$plim" 0 "$RES/peer/peer.log" = env LD_LIBRARY_PATH="$pldp" \
    "$PY" "$ROOT/tools/gpu_check.py" peer "$RES/peer/peer.json" "$models" \
    --runs 100 --warmup 20 --budget "$((plim / 2))"
else
  record peer skipped - 0 - "no python"
fi
write_summary

# ---- the rest of the conformance, as the budget allows ----
conf zoo-remote.cpu fused "$ZR" "$(share 60 15)" 0 cpu
retol "$OPC" "$WORK/op.fp16" "allclose 2.5e-3 1e-3" "$ROOT/tests/opencl/fp16_tolerances.txt"
conf op fp16 "$WORK/op.fp16" "$(share 120 20)" 0
retol "$ZOO" "$WORK/zoo.fp16" "rel_l2 1e-30"
conf zoo fp16 "$WORK/zoo.fp16" "$(share 60 15)" 0
if [ -f "$ZR/INDEX" ]; then
  retol "$ZR" "$WORK/zoo-remote.fp16" "rel_l2 1e-30"
  conf zoo-remote fp16 "$WORK/zoo-remote.fp16" "$(share 100 15)" 0
fi
for ((i = 0; i + 1 < ${#XMODES[@]}; i += 2)); do
  conf op "${XMODES[i]}" "$OPC" "$(share 100 20)" 0 opencl "${XMODES[i + 1]}"
  conf zoo "${XMODES[i]}" "$ZOO" "$(share 60 15)" 0 opencl "${XMODES[i + 1]}"
done
conf op nofuse "$OPC" "$(share 120 20)" 0
conf zoo nofuse "$ZOO" "$(share 60 15)" 0
conf zoo-remote nofuse "$ZR" "$(share 100 15)" 0

# ---- end ----
[ -n "$SMI" ] && smi_query >"$P/nvidia-smi-query-end.csv" 2>&1
write_summary
tar -czf "$OUT/details.tar.gz" -C "$WORK" --exclude='*.onnx' --exclude='*.input.npy' res 2>>"$LOG"
log "done in $(($(now) - T0))s: $OUT/summary.md, results.json, log.txt, details.tar.gz ($(du -k "$OUT/details.tar.gz" | cut -f1) KiB)"
[ "${GPU_CHECK_KEEP:-0}" = 1 ] || rm -rf "$WORK"
exit 0
