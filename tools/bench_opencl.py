#!/usr/bin/python3
"""tools/bench_opencl.py BUILD MODELS [ROUNDS] - OpenCL figures for the benchmark models at their bench
resolution (224x224, inception_v3 299), beside the cpu backend of the same run.

Per model: a cold start (empty engine binary cache, empty POCL kernel cache: compile ms), then ROUNDS
(default 3) alternating rounds of `engine-run -b opencl --strict --bench 10` (warm caches) and
`engine-run -b cpu --strict --bench 10`, so that both see the same spells of a shared machine. The
opencl and cpu columns are the medians of the rounds' medians; opencl/cpu is their ratio (issue 18's
target on POCL: at most 3). ENGINE_OPENCL_TUNE and the other variables pass through.

Usage: /usr/bin/python3 tools/bench_opencl.py BUILD_DIR resnet18,resnet50,... [ROUNDS]
(ONNX files from tools/bench.py's cache, ~/.cache/engine-bench/NAME.onnx or NAME_dynbatch.onnx; the
GMACs column is "-" for a model with a symbolic batch, whose count engine-run does not report; its
compile times include the specialisation at the input's shape, which happens at the first run)"""
import json, os, shutil, statistics, subprocess, sys, tempfile

B = sys.argv[1]
models = sys.argv[2].split(",")
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
cache = os.path.expanduser("~/.cache/engine-bench")
exe = f"{B}/tools/engine-run"


def run(path, backend, n, env):
    out = subprocess.run([exe, path, "-b", backend, "--strict", "--bench", str(n), "--warmup", "2", "--json"],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"{path} on {backend}: {out.stderr[-500:]}")
    return json.loads(out.stdout)


print("| model | GMACs | cold compile ms | warm compile ms | opencl median ms | cpu median ms | opencl/cpu |"
      " opencl rounds | cpu rounds | device MB |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for m in models:
    path = f"{cache}/{m}.onnx"
    if not os.path.exists(path):  # tools/bench.py's exports have a symbolic batch
        path = f"{cache}/{m}_dynbatch.onnx"
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, XDG_CACHE_HOME=f"{tmp}/xdg", POCL_CACHE_DIR=f"{tmp}/pocl")
    cold = run(path, "opencl", 1, env)
    ocl, cpu, warm = [], [], None
    for _ in range(rounds):
        warm = run(path, "opencl", 10, env)
        ocl.append(warm["latency_ms"]["median"])
        cpu.append(run(path, "cpu", 10, os.environ)["latency_ms"]["median"])
    shutil.rmtree(tmp)
    o, c = statistics.median(ocl), statistics.median(cpu)
    print("| %s | %s | %.0f | %.0f | %.1f | %.1f | %.2f | %s | %s | %.1f |" % (
        m, "%.2f" % (warm["macs"] / 1e9) if warm["macs"] else "-", cold["compile_ms"] + cold.get("specialize_ms", 0),
        warm["compile_ms"] + warm.get("specialize_ms", 0), o, c, o / c,
        " ".join("%.1f" % v for v in ocl), " ".join("%.1f" % v for v in cpu), warm["device_bytes"] / 2**20),
        flush=True)
