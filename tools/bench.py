#!/usr/bin/python3
"""bench.py - the cpu backend against PyTorch on torchvision CNNs, same run.

For each model (batch 1, 224x224; inception_v3 at 299; torchvision with
random weights, exported to ONNX once into a cache folder) it alternates
    engine-run MODEL --bench RUNS --json -b cpu --threads T
    PyTorch (torch.set_num_threads(T), no_grad, eval) RUNS timed runs
once per round; each round sweeps every model, so a model's --rounds
rounds are spread over the whole run (on a shared machine whose speed
changes for minutes at a time, consecutive rounds of one model all landed
in the same slow or fast spell)
and measures the machine's FMA peak for T threads with a tiny C probe
(compiled here with gcc, -fopenmp) before and after the models. It writes
docs/PERFORMANCE.md (the "cpu backend" section) with, per model, the median
ms of the engine and of PyTorch, the speed-up, the achieved GFLOP/s
(2 x MACs from engine-run's --json / median) and that as a % of the peak.

Needs Debian's /usr/bin/python3 (torch, torchvision, onnx). Usage:
    /usr/bin/python3 tools/bench.py [--build DIR] [--models a,b] [--runs N]
                                    [--rounds N] [--threads T] [--quick]

--shared: the cpu backend on shared cores (issue 21), against ONNX Runtime's
CPU provider. Per round, for each scenario (quiet; one competing busy loop
started by this script with setsid, i.e. in a session and so an autogroup
of its own, at nice 19; the same at nice 0; stopped by its pid after the
scenario) and each model, alternating which side goes first:
    engine-run MODEL -i INPUT.npy --bench RUNS --json -b cpu --threads T
    ONNX Runtime, intra_op_num_threads T, the same INPUT.npy, RUNS timed runs
    engine-run ... --threads 1 (the done-when compares T threads with 1)
ONNX Runtime comes from PyPI into a virtual environment the script creates
(--ort-venv, default ~/.cache/engine-bench/ort-venv, made with
`/usr/bin/python3 -m venv --system-site-packages`); a benchmark dependency
only, never installed into the system. It writes the section "cpu backend
on shared cores" of docs/PERFORMANCE.md. Models (default): resnet18,
squeezenet1_1, mobilenet_v2, googlenet.

--ort: the cpu backend against ONNX Runtime's CPU provider (issue 19), per
model, thread count (--thread-list, default 2,1) and batch (--batches,
default 1,8), on models exported once with a symbolic batch: per round the
two alternate (which goes first alternating too) on the same seeded input,
and the peak RSS of each is kept. It writes the section "cpu backend
against ONNX Runtime" of docs/PERFORMANCE.md. Models (default): issue 19's
ten, then convnext_tiny and vit_b_16.

--bf16: the cpu backend's --precision bf16 against its float32 and ONNX
Runtime's (float32), per model and thread count (--thread-list), batch 1:
per round the three alternate (the order rotating) on the same seeded
input; plus the rel L2 of the bf16 output against the float32 one and
whether their top-1 classes agree (one run each, -o). It writes the section
"cpu backend in bf16" of docs/PERFORMANCE.md. Models as --ort.
"""
import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (constructor keyword arguments, input size)
MODELS = {
    "resnet18": ({}, 224),
    "resnet50": ({}, 224),
    "mobilenet_v2": ({}, 224),
    "mobilenet_v3_large": ({}, 224),
    "shufflenet_v2_x1_0": ({}, 224),
    "squeezenet1_1": ({}, 224),
    "googlenet": ({"aux_logits": False, "init_weights": True}, 224),
    "densenet121": ({}, 224),
    "efficientnet_b0": ({}, 224),
    "vgg16": ({}, 224),
    "inception_v3": ({"aux_logits": False, "init_weights": True}, 299),
    "regnet_y_400mf": ({}, 224),
    "alexnet": ({}, 224),
    # transformer-style (issue 17): LayerNorm written out at opset 13, GELU, attention
    "convnext_tiny": ({}, 224),
    "vit_b_16": ({}, 224),
}
QUICK = ["resnet18", "mobilenet_v2", "squeezenet1_1"]
SHARED_MODELS = ["resnet18", "squeezenet1_1", "mobilenet_v2", "googlenet"]
# --ort: issue 19's table, then the transformer-style models
ORT_MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "shufflenet_v2_x1_0", "squeezenet1_1",
              "googlenet", "densenet121", "efficientnet_b0", "vgg16", "convnext_tiny", "vit_b_16"]
SCENARIOS = {"quiet": None, "nice19": 19, "nice0": 0}

# Run by the virtual environment's python: one ONNX Runtime session (CPU
# provider, T intra-op threads, sequential), warm-up, then RUNS timed runs
# on the .npy input; prints {"times": [...ms], "version": ...}.
ORT_TIMER = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort
path, inp_path, threads, runs, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
so = ort.SessionOptions()
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
def hwm_kb():  # this address space's high-water mark (ru_maxrss keeps the parent's from before exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
base_kb = hwm_kb()
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
name = sess.get_inputs()[0].name
x = np.load(inp_path)
for _ in range(warmup):
    sess.run(None, {name: x})
t = []
for _ in range(runs):
    t0 = time.perf_counter()
    sess.run(None, {name: x})
    t.append((time.perf_counter() - t0) * 1e3)
peak_kb = hwm_kb()
print(json.dumps({"times": t, "version": ort.__version__, "peak_kb": peak_kb, "base_kb": base_kb}))
"""

# ncnn's benchncnn on a machine of this kind (issue 5), ms at 2 threads.
NCNN_MS = {
    "resnet50": 42.9, "resnet18": 15.1, "vgg16": 79.9, "googlenet": 17.0, "mobilenet_v2": 6.97,
    "mobilenet_v3_large": 5.93, "shufflenet_v2_x1_0": 4.13, "efficientnet_b0": 8.8, "squeezenet1_1": 5.36,
    "regnet_y_400mf": 9.4, "alexnet": 14.1,
}
# The targets as % of the FMA peak.
TARGET_PCT = {
    "resnet50": 60, "resnet18": 70, "vgg16": 110, "googlenet": 50, "mobilenet_v2": 25,
    "mobilenet_v3_large": 25, "shufflenet_v2_x1_0": 25, "efficientnet_b0": 25,
}

PROBE_C = r"""
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
/* Independent FMA chains per thread (enough to cover latency on two pipes),
 * no memory traffic: the machine's FMA throughput for T threads. */
#ifdef __AVX512F__
typedef __m512 V; enum { W = 16 };
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET(x) _mm512_set1_ps(x)
#define RED(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 V; enum { W = 8 };
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET(x) _mm256_set1_ps(x)
static float RED(V v) { float t[8]; _mm256_storeu_ps(t, v); return t[0]+t[1]+t[2]+t[3]+t[4]+t[5]+t[6]+t[7]; }
#endif
int main(int argc, char **argv) {
    int T = atoi(argv[1]); long iters = atol(argv[2]); float seed = argc > 3 ? (float)atof(argv[3]) : 1e-3f;
    double best = 0; float sink = 0;
    for (int rep = 0; rep < 5; ++rep) {
        double t0 = omp_get_wtime();
#pragma omp parallel num_threads(T) reduction(+:sink)
        {
            /* Twelve chains that start from different values, taken from the
             * command line so the compiler cannot prove any two equal: chains
             * that start equal and see the same operations are one chain to
             * GCC, which then issued one FMA per iteration for the twelve
             * counted (the probe read 3x the true peak before this). */
            const float s = seed;
            V a0 = SET(s), a1 = SET(2 * s), a2 = SET(3 * s), a3 = SET(4 * s), a4 = SET(5 * s), a5 = SET(6 * s),
              a6 = SET(7 * s), a7 = SET(8 * s), a8 = SET(9 * s), a9 = SET(10 * s), a10 = SET(11 * s),
              a11 = SET(12 * s);
            V m = SET(0.999f), c = SET(1e-4f);
            for (long i = 0; i < iters; ++i) {
                a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);
                a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);
                a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);
            }
            sink += RED(a0) + RED(a1) + RED(a2) + RED(a3) + RED(a4) + RED(a5) + RED(a6) + RED(a7) + RED(a8) +
                    RED(a9) + RED(a10) + RED(a11);
        }
        double dt = omp_get_wtime() - t0, gf = 2.0 * 12 * W * (double)iters * T / dt * 1e-9;
        if (gf > best) best = gf;
    }
    printf("%.2f %d %g\n", best, W, (double)sink);
    return 0;
}
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def build_probe(tmp):
    src = os.path.join(tmp, "fma_probe.c")
    exe = os.path.join(tmp, "fma_probe")
    with open(src, "w") as f:
        f.write(PROBE_C)
    isa = ["-mavx512f", "-mfma"] if "avx512f" in cpu_flags() else ["-mavx2", "-mfma"]
    subprocess.run(["gcc", "-O2", "-fopenmp"] + isa + [src, "-o", exe], check=True)
    return exe, ("AVX-512" if "-mavx512f" in isa else "AVX2") + " FMA"


def run_probe(exe, threads):
    out = subprocess.run([exe, str(threads), "20000000", "1e-3"], capture_output=True, text=True, check=True,
                         env=os.environ).stdout.split()
    return float(out[0])


def export(name, cache, dynamic=False):
    """The model exported once into the cache; dynamic: with a symbolic batch dimension (the
    engine and ONNX Runtime then take any batch)."""
    path = os.path.join(cache, f"{name}_dynbatch.onnx" if dynamic else f"{name}.onnx")
    if os.path.exists(path):
        return path
    import torch
    import torchvision
    kwargs, size = MODELS[name]
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
    x = torch.randn(1, 3, size, size)
    tmp = path + ".tmp"
    # not under no_grad: there torchvision's attention takes PyTorch's fused fast path, which
    # torch.onnx cannot export (aten::_native_multi_head_attention)
    axes = {"dynamic_axes": {"input": {0: "batch"}, "output": {0: "batch"}}} if dynamic else {}
    torch.onnx.export(model, x, tmp, opset_version=13, input_names=["input"], output_names=["output"],
                      do_constant_folding=True, **axes)
    os.replace(tmp, path)
    return path


def torch_model(name):
    import torch
    import torchvision
    kwargs, size = MODELS[name]
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **kwargs).eval()
    return model, torch.randn(1, 3, size, size)


def time_torch(model, x, runs, warmup):
    import torch
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(runs):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def time_engine(engine_run, path, threads, runs, warmup, inp=None, extra=()):
    cmd = [engine_run, path, "-b", "cpu", "--strict", "--threads", str(threads), "--bench", str(runs),
           "--warmup", str(warmup), "--json"] + (["-i", inp] if inp else []) + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr.strip()[-400:]}")
    line = [l for l in p.stdout.splitlines() if l.startswith("{")][-1]
    return json.loads(line)


def ort_python(venv):
    """The virtual environment's python with onnxruntime, made on first use."""
    py = os.path.join(venv, "bin", "python")
    if not os.access(py, os.X_OK):
        log(f"creating {venv} (--system-site-packages)")
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv], check=True)
    if subprocess.run([py, "-c", "import onnxruntime"], capture_output=True).returncode != 0:
        log(f"installing onnxruntime into {venv}")
        subprocess.run([py, "-m", "pip", "install", "-q", "onnxruntime"], check=True)
    return py


def time_ort(py, timer, path, inp, threads, runs, warmup):
    p = subprocess.run([py, timer, path, inp, str(threads), str(runs), str(warmup)], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"onnxruntime on {path} failed: {p.stderr.strip()[-400:]}")
    return json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])


def start_busy(nice):
    """One busy loop in a session of its own (setsid: its own autogroup, as
    another service would be; a loop in this script's session at nice 19
    gets almost no CPU and shows nothing). setsid and nice exec, so the pid
    is the loop's."""
    p = subprocess.Popen(["setsid", "nice", "-n", str(nice), "/bin/sh", "-c", "while :; do :; done"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    try:
        if os.getsid(p.pid) != p.pid:
            log(f"warning: the busy loop {p.pid} is not a session leader")
    except OSError:
        pass
    return p


def stop_busy(p):
    if p is None or p.poll() is not None:
        return
    os.kill(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()


def cell(v):
    """A table cell: the median of the round medians and their range."""
    if not v:
        return "-"
    return f"{statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})" if len(v) > 1 else f"{v[0]:.2f}"


def replace_section(path, title, text):
    """Writes text as the section `title` of the markdown file, in place of the old one or appended."""
    old = open(path).read() if os.path.exists(path) else "# Performance\n"
    pat = re.compile(re.escape(title) + r"\n.*?(?=\n## |\Z)", re.S)
    new = pat.sub(lambda m: text.rstrip("\n") + "\n", old, count=1) if pat.search(old) else \
        old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def write_shared_doc(path, rows, meta):
    section = ["## cpu backend on shared cores (tools/bench.py --shared)", ""]
    section.append(f"Measured {meta['date']} on **{meta['machine']}** ({meta['cores']} logical CPUs), batch 1, "
                   f"random weights, float32; engine `ENGINE_CPU_SPIN={meta['spin']}`, ONNX Runtime "
                   f"{meta['ort']} (CPU provider, default spinning). Command: `{meta['command']}`")
    section.append(f"Load average at start / end: {meta['load_start']:.2f} / {meta['load_end']:.2f}"
                   + (" - other jobs were running on this shared machine as well, so every figure is noisy; "
                      "compare within a row." if max(meta['load_start'], meta['load_end']) > 2.5 else
                      " (the script's own runs and busy loop account for up to ~2)."))
    section.append("")
    section.append("Scenarios: `quiet`; `nice19` / `nice0`: one busy loop (`setsid nice -n N sh -c 'while :; do :; "
                   "done'`, started and stopped by the script by its pid) for the whole scenario. Each cell: "
                   "median over the rounds of each round's median (runs per round in the command), and the range "
                   "of the round medians. Done when (issue 21): under contention T threads within 1.5x of 1 "
                   "thread, and no slower than ONNX Runtime at T threads.")
    section.append("")
    T = meta["threads"]
    section.append(f"| scenario | model | engine {T}T ms | engine 1T ms | {T}T / 1T | ONNX Runtime {T}T ms | "
                   f"engine / ORT |")
    section.append("|---|---|---|---|---|---|---|")

    for r in rows:
        if r.get("error"):
            section.append(f"| {r['scenario']} | {r['model']} | failed: {r['error']} | | | | |")
            continue
        e, e1, o = r["eng"], r["eng1"], r["ort"]
        ratio1 = f"{statistics.median(e) / statistics.median(e1):.2f}" if e and e1 else "-"
        ratio_o = f"{statistics.median(e) / statistics.median(o):.2f}" if e and o else "-"
        section.append(f"| {r['scenario']} | {r['model']} | {cell(e)} | {cell(e1)} | {ratio1} | {cell(o)} | "
                       f"{ratio_o} |")
    section.append("")
    replace_section(path, section[0], "\n".join(section) + "\n")


def main_shared(args, engine_run):
    names = args.models.split(",") if args.models else SHARED_MODELS
    scen = args.scenarios.split(",")
    for sc in scen:
        if sc not in SCENARIOS:
            sys.exit(f"bench.py: unknown scenario '{sc}' (known: {', '.join(SCENARIOS)})")
    import numpy as np
    py = ort_python(args.ort_venv)
    load_start = load_avg()[0]
    rows = {(sc, n): {"scenario": sc, "model": n, "eng": [], "eng1": [], "ort": []} for sc in scen for n in names}
    ort_version = "?"
    with tempfile.TemporaryDirectory() as tmp:
        timer = os.path.join(tmp, "ort_timer.py")
        with open(timer, "w") as f:
            f.write(ORT_TIMER)
        paths, inputs = {}, {}
        for n in names:
            paths[n] = export(n, args.cache)
            size = MODELS[n][1]
            inputs[n] = os.path.join(tmp, f"{n}_input.npy")
            np.save(inputs[n], np.random.default_rng(42).standard_normal((1, 3, size, size)).astype(np.float32))
        for r in range(args.rounds):
            for sc in scen:
                busy = start_busy(SCENARIOS[sc]) if SCENARIOS[sc] is not None else None
                try:
                    for n in names:
                        row = rows[(sc, n)]
                        if row.get("error"):
                            continue
                        try:
                            sides = ["eng", "ort", "eng1"] if r % 2 == 0 else ["ort", "eng", "eng1"]
                            for side in sides:
                                if side == "ort":
                                    j = time_ort(py, timer, paths[n], inputs[n], args.threads, args.runs, args.warmup)
                                    ort_version = j["version"]
                                    row["ort"].append(statistics.median(j["times"]))
                                else:
                                    th = args.threads if side == "eng" else 1
                                    j = time_engine(engine_run, paths[n], th, args.runs, args.warmup, inputs[n])
                                    row[side].append(j["latency_ms"]["median"])
                            log(f"round {r + 1} {sc:6s} {n:14s} engine {row['eng'][-1]:8.2f} ms  1T "
                                f"{row['eng1'][-1]:8.2f} ms  ORT {row['ort'][-1]:8.2f} ms")
                        except Exception as e:  # one failing model does not stop the others
                            row["error"] = str(e).replace("|", "/")[:200]
                            log(f"{sc} {n}: {row['error']}")
                finally:
                    stop_busy(busy)
    cmd = "/usr/bin/python3 tools/bench.py " + " ".join(a for a in sys.argv[1:])
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": cpu_model(),
            "cores": os.cpu_count(), "threads": args.threads, "command": cmd.strip(),
            "spin": os.environ.get("ENGINE_CPU_SPIN", "default"), "ort": ort_version,
            "load_start": load_start, "load_end": load_avg()[0]}
    out = [rows[(sc, n)] for sc in scen for n in names]
    write_shared_doc(args.out, out, meta)
    for r in out:
        if r.get("error"):
            print(f"{r['scenario']:6s} {r['model']:14s} failed: {r['error']}")
            continue
        e, e1, o = (statistics.median(r[k]) for k in ("eng", "eng1", "ort"))
        print(f"{r['scenario']:6s} {r['model']:14s} engine {e:8.2f} ms  1T {e1:8.2f} ms ({e / e1:.2f}x)  "
              f"ORT {o:8.2f} ms (engine/ORT {e / o:.2f})")
    log(f"wrote {args.out}")


def write_ort_doc(path, rows, meta):
    title = "## cpu backend against ONNX Runtime (tools/bench.py --ort)"
    sec = [title, ""]
    sec.append(f"Measured {meta['date']} on **{meta['machine']}** ({meta['cores']} logical CPUs), random weights, "
               f"float32, models exported with a symbolic batch (opset 13), ONNX Runtime {meta['ort']} (CPU "
               f"provider, intra-op threads = T, sequential). Command: `{meta['command']}`")
    sec.append(f"Load average at start / end: {meta['load_start']:.2f} / {meta['load_end']:.2f}"
               + (" - other jobs were running on this shared machine as well, so every figure is noisy; "
                  "compare within a row." if max(meta['load_start'], meta['load_end']) > 1.5 else "."))
    sec.append("")
    sec.append("Each cell: median over the rounds of each round's median (engine and ONNX Runtime alternate, "
               "which goes first alternating too), and the range of the round medians. `speed vs ORT` is ORT ms / "
               "engine ms (above 1: the engine is faster); `paired` is the median of each round's own ratio "
               "(the two sides of a round run back to back, so a change of the host's state between rounds, "
               "such as the two vCPUs landing on one physical core's SMT siblings, cancels out), with its range. "
               "Peak RSS: engine-run's process high-water mark; ONNX "
               "Runtime's less its interpreter's own (numpy and onnxruntime imported, before the session).")
    sec.append("")
    sec.append("| model | T | batch | engine ms | ONNX Runtime ms | speed vs ORT | paired | engine peak RSS MB | "
               "ORT peak RSS MB |")
    sec.append("|---|---|---|---|---|---|---|---|---|")

    for r in rows:
        if r.get("error"):
            sec.append(f"| {r['model']} | {r['threads']} | {r['batch']} | failed: {r['error']} | | | | | |")
            continue
        sp = f"{statistics.median(r['ort']) / statistics.median(r['eng']):.2f}x" if r["eng"] and r["ort"] else "-"
        er = f"{max(r['eng_rss']) / 1024:.0f}" if r["eng_rss"] else "-"
        orr = f"{max(r['ort_rss']) / 1024:.0f}" if r["ort_rss"] else "-"
        pr = [o / e for e, o in zip(r["eng"], r["ort"]) if e > 0]
        pc = f"{statistics.median(pr):.2f}x ({min(pr):.2f}-{max(pr):.2f})" if pr else "-"
        sec.append(f"| {r['model']} | {r['threads']} | {r['batch']} | {cell(r['eng'])} | {cell(r['ort'])} | {sp} | "
                   f"{pc} | {er} | {orr} |")
    sec.append("")
    replace_section(path, title, "\n".join(sec) + "\n")


def main_bf16(args, engine_run):
    """Issue 19's bf16 figures: engine fp32, engine bf16 and ORT fp32 alternating per round."""
    names = args.models.split(",") if args.models else ORT_MODELS
    threads = [int(t) for t in args.thread_list.split(",")]
    import numpy as np
    py = ort_python(args.ort_venv)
    os.makedirs(args.cache, exist_ok=True)
    rows = [{"model": n, "threads": t, "fp32": [], "bf16": [], "ort": []} for n in names for t in threads]
    acc = {}
    sides = ["fp32", "bf16", "ort"]
    with tempfile.TemporaryDirectory() as tmp:
        timer = os.path.join(tmp, "ort_timer.py")
        with open(timer, "w") as f:
            f.write(ORT_TIMER)
        paths, inputs = {}, {}
        for r in range(args.rounds):
            for row in rows:
                n, t = row["model"], row["threads"]
                if row.get("error"):
                    continue
                try:
                    if n not in paths:
                        paths[n] = export(n, args.cache, dynamic=True)
                        size = MODELS[n][1]
                        inputs[n] = os.path.join(tmp, f"{n}.npy")
                        np.save(inputs[n], np.random.default_rng(42).standard_normal((1, 3, size, size))
                                .astype(np.float32))
                        outs = {}
                        for prec in ("fp32", "bf16"):
                            o = os.path.join(tmp, f"{n}_{prec}.npy")
                            subprocess.run([engine_run, paths[n], "-b", "cpu", "--strict", "-i", inputs[n], "-o", o,
                                            "--precision", prec], check=True, capture_output=True)
                            outs[prec] = np.load(o).astype(np.float64)
                        a, b = outs["fp32"], outs["bf16"]
                        acc[n] = (float(np.linalg.norm(a - b) / np.linalg.norm(a)),
                                  bool((a.reshape(a.shape[0], -1).argmax(1) == b.reshape(b.shape[0], -1).argmax(1)).all()))
                    k = r % 3
                    for side in sides[k:] + sides[:k]:
                        if side == "ort":
                            j = time_ort(py, timer, paths[n], inputs[n], t, args.runs, args.warmup)
                            row["ort"].append(statistics.median(j["times"]))
                            row["ort_version"] = j["version"]
                        else:
                            j = time_engine(engine_run, paths[n], t, args.runs, args.warmup, inputs[n],
                                            ["--precision", side])
                            row[side].append(j["latency_ms"]["median"])
                    log(f"round {r + 1} {n:20s} T{t}: fp32 {row['fp32'][-1]:8.2f}  bf16 {row['bf16'][-1]:8.2f}  "
                        f"ORT {row['ort'][-1]:8.2f} ms")
                except Exception as e:
                    row["error"] = str(e).replace("|", "/")[:200]
                    log(f"{n} T{t}: {row['error']}")
    cmd = "/usr/bin/python3 tools/bench.py " + " ".join(a for a in sys.argv[1:])
    sec = ["## cpu backend in bf16 (tools/bench.py --bf16)", ""]
    sec.append(f"Measured {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} on **{cpu_model()}** "
               f"({os.cpu_count()} logical CPUs), batch 1, random weights; `--precision bf16` against the "
               f"engine's float32 and ONNX Runtime's float32 CPU provider, the three alternating in each of "
               f"{args.rounds} rounds of {args.runs} runs (medians of the round medians, range in brackets). "
               f"Command: `{cmd.strip()}`")
    sec.append("")
    sec.append("| model | threads | fp32 ms | bf16 ms | bf16 speed-up | ORT fp32 ms | bf16 speed vs ORT | "
               "bf16 vs fp32 rel L2 | same top-1 |")
    sec.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        if row.get("error"):
            sec.append(f"| {row['model']} | {row['threads']} | failed: {row['error']} | | | | | | |")
            continue
        f32, b16, o = (statistics.median(row[k]) for k in ("fp32", "bf16", "ort"))
        e, same = acc[row["model"]]
        sec.append(f"| {row['model']} | {row['threads']} | {cell(row['fp32'])} | {cell(row['bf16'])} | "
                   f"{f32 / b16:.2f}x | {cell(row['ort'])} | {o / b16:.2f}x | {e:.1e} | {'yes' if same else 'no'} |")
    sec.append("")
    replace_section(args.out, sec[0], "\n".join(sec) + "\n")
    for row in rows:
        if not row.get("error"):
            f32, b16, o = (statistics.median(row[k]) for k in ("fp32", "bf16", "ort"))
            print(f"{row['model']:20s} T{row['threads']}  fp32 {f32:8.2f}  bf16 {b16:8.2f} ({f32 / b16:.2f}x)  "
                  f"ORT {o:8.2f} (bf16 {o / b16:.2f}x of ORT)")
    log(f"wrote {args.out}")


def main_ort(args, engine_run):
    """Issue 19's comparison: for each model, thread count and batch, engine-run and ONNX Runtime
    alternate over the rounds on the same seeded input."""
    names = args.models.split(",") if args.models else ORT_MODELS
    for n in names:
        if n not in MODELS:
            sys.exit(f"bench.py: unknown model '{n}' (known: {', '.join(MODELS)})")
    threads = [int(t) for t in args.thread_list.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    import numpy as np
    py = ort_python(args.ort_venv)
    os.makedirs(args.cache, exist_ok=True)
    load_start = load_avg()[0]
    rows = [{"model": n, "threads": t, "batch": b, "eng": [], "ort": [], "eng_rss": [], "ort_rss": []}
            for n in names for t in threads for b in batches]
    ort_version = "?"
    with tempfile.TemporaryDirectory() as tmp:
        timer = os.path.join(tmp, "ort_timer.py")
        with open(timer, "w") as f:
            f.write(ORT_TIMER)
        paths, inputs = {}, {}
        for r in range(args.rounds):
            for row in rows:
                n, t, b = row["model"], row["threads"], row["batch"]
                if row.get("error"):
                    continue
                try:
                    if n not in paths:
                        paths[n] = export(n, args.cache, dynamic=True)
                    key = (n, b)
                    if key not in inputs:
                        size = MODELS[n][1]
                        inputs[key] = os.path.join(tmp, f"{n}_b{b}.npy")
                        np.save(inputs[key], np.random.default_rng(42).standard_normal((b, 3, size, size))
                                .astype(np.float32))
                    for side in (["eng", "ort"] if r % 2 == 0 else ["ort", "eng"]):
                        if side == "ort":
                            j = time_ort(py, timer, paths[n], inputs[key], t, args.runs, args.warmup)
                            ort_version = j["version"]
                            row["ort"].append(statistics.median(j["times"]))
                            row["ort_rss"].append(j["peak_kb"] - j["base_kb"])
                        else:
                            j = time_engine(engine_run, paths[n], t, args.runs, args.warmup, inputs[key])
                            row["eng"].append(j["latency_ms"]["median"])
                            row["eng_rss"].append(j.get("peak_rss_kb", 0))
                    log(f"round {r + 1} {n:20s} T{t} b{b}: engine {row['eng'][-1]:9.2f} ms  ORT "
                        f"{row['ort'][-1]:9.2f} ms")
                except Exception as e:  # one failing model does not stop the others
                    row["error"] = str(e).replace("|", "/")[:200]
                    log(f"{n} T{t} b{b}: {row['error']}")
    cmd = "/usr/bin/python3 tools/bench.py " + " ".join(a for a in sys.argv[1:])
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": cpu_model(),
            "cores": os.cpu_count(), "command": cmd.strip(), "ort": ort_version, "load_start": load_start,
            "load_end": load_avg()[0]}
    write_ort_doc(args.out, rows, meta)
    for r in rows:
        if r.get("error"):
            print(f"{r['model']:20s} T{r['threads']} b{r['batch']} failed: {r['error']}")
            continue
        e, o = statistics.median(r["eng"]), statistics.median(r["ort"])
        print(f"{r['model']:20s} T{r['threads']} b{r['batch']}  engine {e:9.2f} ms  ORT {o:9.2f} ms  "
              f"speed vs ORT {o / e:.2f}x")
    log(f"wrote {args.out}")


def find_engine_run(build):
    cands = [build] if build else [os.path.join(ROOT, d) for d in ("build", "build-test", "builddir")]
    for c in cands:
        exe = os.path.join(c, "tools", "engine-run")
        if c and os.access(exe, os.X_OK):
            return exe
    sys.exit(f"bench.py: no tools/engine-run under {cands}; build first or pass --build")


def load_avg():
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def write_doc(path, rows, meta):
    section = ["## cpu backend (backends/cpu)", ""]
    section.append(f"Measured {meta['date']} on **{meta['machine']}** ({meta['cores']} logical CPUs), "
                   f"{meta['threads']} threads, batch 1, random weights, float32.")
    section.append(f"Command: `{meta['command']}`")
    section.append("")
    section.append(f"FMA peak ({meta['probe_isa']}, {meta['threads']} threads, measured in the same run by a "
                   f"register-only FMA probe): **{meta['peak']:.1f} GFLOP/s** (before the models "
                   f"{meta['peak_before']:.1f}, after {meta['peak_after']:.1f}; the higher is used).")
    section.append(f"Load average at start / end: {meta['load_start']:.2f} / {meta['load_end']:.2f}"
                   + (" - other jobs were running on this shared machine, so absolute figures are noisy."
                      if max(meta['load_start'], meta['load_end']) > 1.5 else "."))
    section.append("")
    section.append("| model | input | GMACs | engine ms (median) | engine rounds (min-max) | PyTorch ms (median) | "
                   "speed-up vs PyTorch | engine GFLOP/s | % of peak | target % | ncnn ms (issue) |")
    section.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            section.append(f"| {r['model']} | {r['size']} | - | failed: {r['error']} | | | | | | | |")
            continue
        tgt = TARGET_PCT.get(r["model"])
        nc = NCNN_MS.get(r["model"])
        section.append(
            f"| {r['model']} | {r['size']} | {r['macs'] / 1e9:.2f} | {r['engine_ms']:.2f} | "
            f"{r['engine_lo']:.2f}-{r['engine_hi']:.2f} | {r['torch_ms']:.2f} | "
            f"{r['torch_ms'] / r['engine_ms']:.2f}x | {r['gflops']:.1f} | {r['pct']:.0f}% | "
            f"{str(tgt) + '%' if tgt else '-'} | {nc if nc else '-'} |")
    section.append("")
    section.append("Engine: median over the rounds of engine-run's per-round median (each round loads and "
                   "compiles the model, then warms up; every round sweeps all models, so one model's rounds "
                   "are minutes apart); the min-max column is the spread of those round medians, the "
                   "machine's own noise. PyTorch: median of all timed runs, in the same process "
                   "as this script, alternating with the engine. GFLOP/s = 2 x MACs (engine-run --json, the "
                   "convolution and Gemm MACs of the graph) / engine median.")
    section.append("")
    text = "\n".join(section) + "\n"

    head = ("# Performance\n\nFigures per backend, each section written by its benchmark. "
            "Targets are those of the issue that asks for the backend.\n\n")
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if not old:
        old = head
    pat = re.compile(r"## cpu backend \(backends/cpu\)\n.*?(?=\n## |\Z)", re.S)
    if pat.search(old):
        new = pat.sub(lambda m: text.rstrip("\n") + "\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="build folder holding tools/engine-run (default: build, build-test)")
    ap.add_argument("--models", help="comma list (default: all): " + ",".join(MODELS))
    ap.add_argument("--runs", type=int, default=10, help="timed runs per round and side (default 10)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per model (default 3)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="3 small models, 5 runs, 2 rounds")
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "engine-bench"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    ap.add_argument("--shared", action="store_true",
                    help="the shared-cores scenarios against ONNX Runtime (issue 21; see above)")
    ap.add_argument("--scenarios", default="quiet,nice19,nice0", help="--shared: comma list of quiet,nice19,nice0")
    ap.add_argument("--ort", action="store_true",
                    help="engine against ONNX Runtime's CPU provider per model, thread count and batch (issue 19)")
    ap.add_argument("--thread-list", default="2,1", help="--ort: comma list of thread counts (default 2,1)")
    ap.add_argument("--batches", default="1,8", help="--ort: comma list of batch sizes (default 1,8)")
    ap.add_argument("--ort-venv", default=os.path.join(os.path.expanduser("~"), ".cache", "engine-bench", "ort-venv"),
                    help="--shared: the virtual environment holding onnxruntime (created when missing)")
    ap.add_argument("--bf16", action="store_true",
                    help="engine --precision bf16 against its float32 and ONNX Runtime's per model and thread count")
    args = ap.parse_args()
    if args.bf16:
        if args.quick:
            args.runs, args.rounds = 5, 2
        main_bf16(args, find_engine_run(args.build))
        return
    if args.ort:
        if args.quick:
            args.runs, args.rounds = 5, 2
        main_ort(args, find_engine_run(args.build))
        return
    if args.shared:
        if args.quick:
            args.runs, args.rounds = 5, 2
        main_shared(args, find_engine_run(args.build))
        return
    if args.quick:
        args.runs, args.rounds = 5, 2
    names = args.models.split(",") if args.models else (QUICK if args.quick else list(MODELS))
    for n in names:
        if n not in MODELS:
            sys.exit(f"bench.py: unknown model '{n}' (known: {', '.join(MODELS)})")
    engine_run = find_engine_run(args.build)
    os.makedirs(args.cache, exist_ok=True)
    # OpenMP's wait policy is left at libgomp's default (spin a while, then
    # sleep) for both sides, unless the caller set OMP_WAIT_POLICY.

    import torch
    torch.set_num_threads(args.threads)

    load_start = load_avg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        probe, probe_isa = build_probe(tmp)
        peak_before = run_probe(probe, args.threads)
        log(f"FMA peak ({probe_isa}, {args.threads} threads): {peak_before:.1f} GFLOP/s")
        rows, state = [], {}
        for name in names:
            size = MODELS[name][1]
            rows.append({"model": name, "size": f"{size}x{size}"})
        for r in range(args.rounds):
            for row in rows:
                name = row["model"]
                if "error" in row:
                    continue
                try:
                    if name not in state:
                        path = export(name, args.cache)
                        model, x = torch_model(name)
                        state[name] = {"path": path, "model": model, "x": x, "eng": [], "tor": []}
                    st = state[name]
                    j = time_engine(engine_run, st["path"], args.threads, args.runs, args.warmup)
                    st["eng"].append(j["latency_ms"]["median"])
                    row["macs"] = j["macs"]
                    st["tor"] += time_torch(st["model"], st["x"], args.runs, args.warmup if r == 0 else 1)
                    log(f"{name} round {r + 1}: engine {st['eng'][-1]:.2f} ms, "
                        f"torch {statistics.median(st['tor']):.2f} ms")
                except Exception as e:  # one failing model does not stop the others
                    row["error"] = str(e).replace("|", "/")[:200]
                    log(f"{name}: {row['error']}")
        for row in rows:
            st = state.get(row["model"])
            if "error" not in row and st:
                row.update(engine_ms=statistics.median(st["eng"]), engine_lo=min(st["eng"]),
                           engine_hi=max(st["eng"]), torch_ms=statistics.median(st["tor"]))
        state.clear()
        peak_after = run_probe(probe, args.threads)
    peak = max(peak_before, peak_after)
    for r in rows:
        if "error" not in r:
            r["gflops"] = 2.0 * r["macs"] / (r["engine_ms"] * 1e-3) * 1e-9
            r["pct"] = 100.0 * r["gflops"] / peak
    cmd = "/usr/bin/python3 tools/bench.py " + " ".join(a for a in sys.argv[1:])
    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": cpu_model(),
        "cores": os.cpu_count(), "threads": args.threads, "command": cmd.strip(), "probe_isa": probe_isa,
        "peak": peak, "peak_before": peak_before, "peak_after": peak_after, "load_start": load_start,
        "load_end": load_avg()[0],
    }
    write_doc(args.out, rows, meta)
    for r in rows:
        if "error" in r:
            print(f"{r['model']:22s} failed: {r['error']}")
        else:
            print(f"{r['model']:22s} engine {r['engine_ms']:8.2f} ms  torch {r['torch_ms']:8.2f} ms  "
                  f"x{r['torch_ms'] / r['engine_ms']:.2f}  {r['gflops']:6.1f} GFLOP/s  {r['pct']:4.0f}% of peak")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
