# Sourced by tools/demo.sh and tools/demo_detect.sh with the caller's
# arguments in "$@" and DEMO_SCRIPT set to its name: sets ROOT (the
# repository), PYTHON, and ENGINE_RUN (the first argument, default
# build/tools/engine-run; a relative path works from the repository root
# as well as from elsewhere); exits 2 when engine-run is not there. The
# caller shifts its first argument away itself.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ENGINE_RUN=${1:-build/tools/engine-run}
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$PYTHON" ] || PYTHON=python3
if [ ! -x "$ENGINE_RUN" ] && [ -x "$ROOT/$ENGINE_RUN" ]; then ENGINE_RUN="$ROOT/$ENGINE_RUN"; fi
if [ ! -x "$ENGINE_RUN" ]; then
    echo "$DEMO_SCRIPT: engine-run not found at '$ENGINE_RUN' (build first, or pass its path)" >&2
    exit 2
fi
