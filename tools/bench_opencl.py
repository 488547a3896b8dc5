#!/usr/bin/python3
"""tools/bench_opencl.py BUILD MODELS - OpenCL (POCL) figures for the issue-5 benchmark models at their bench resolution
(224x224, inception_v3 299): cold start (empty engine binary cache and
empty POCL kernel cache), warm start (same caches again), median latency."""
# Usage: /usr/bin/python3 tools/bench_opencl.py BUILD_DIR resnet18,resnet50,...  (ONNX files from tools/bench.py's cache)
# Prints one table row per model: model | GMACs | cold compile ms | warm compile ms | opencl median ms | device MB | cpu median ms
import json, os, subprocess, sys, tempfile, shutil
B = sys.argv[1]
models = sys.argv[2].split(",")
cache = os.path.expanduser("~/.cache/engine-bench")
rows = []
for m in models:
    path = f"{cache}/{m}.onnx"
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, XDG_CACHE_HOME=f"{tmp}/xdg", POCL_CACHE_DIR=f"{tmp}/pocl")
    def run(n):
        out = subprocess.run([f"{B}/tools/engine-run", path, "-b", "opencl", "--strict", "--bench", str(n),
                              "--warmup", "1", "--json"], capture_output=True, text=True, env=env)
        if out.returncode:
            sys.exit(f"{m}: {out.stderr[-500:]}")
        return json.loads(out.stdout)
    cold = run(1)
    warm = run(5)
    shutil.rmtree(tmp)
    row = (m, warm["macs"] / 1e9, cold["compile_ms"], warm["compile_ms"], warm["latency_ms"]["median"],
           warm["device_bytes"] / 2**20, cold["kernels_built"], warm["kernels_from_cache"])
    cpu = subprocess.run([f"{B}/tools/engine-run", path, "-b", "cpu", "--strict", "--bench", "5", "--warmup", "1",
                          "--json"], capture_output=True, text=True)
    cpu_ms = json.loads(cpu.stdout)["latency_ms"]["median"] if cpu.returncode == 0 else float("nan")
    print("| %s | %.2f | %.0f | %.0f | %.1f | %.1f | %.1f |" % (row[:6] + (cpu_ms,)), flush=True)
