#!/usr/bin/env python3
"""gpu_check.py - the Python half of tools/gpu-check.sh (and of tools/gpu-bundle.sh).

Subcommands (each writes JSON that the summary reads; none needs a GPU):

  export OUTDIR MODELS [--fallback DIR]
      torchvision MODELS (comma list; random weights, seed 0, eval, batch 1,
      224x224) exported to ONNX opset 13 with static shapes by THIS python's
      torch: the TorchScript exporter (dynamo=False) first, the dynamo one if
      that fails; each file is checked with onnx.checker. Writes
      OUTDIR/<m>.onnx, <m>.input.npy, <m>.torch.npy (PyTorch CPU float32
      output), <m>.ort.npy (onnxruntime CPU, where installed) and
      OUTDIR/export.json (which exporter, versions, errors). A model that
      no exporter manages is taken from --fallback (graphs exported on the
      build machine with their weights stripped, see `strip`): its weights
      are filled with seeded random numbers (He-normal convolutions,
      uniform linear layers, as torchvision initialises them) and its
      reference is onnxruntime's output, if onnxruntime is installed.
  zoo-export OUTDIR NAMES [--jobs N]
      tools/zoo.py's export of NAMES (--preserve-bn) with this python's torch
      (TorchScript exporter first, dynamo if that fails), one process per
      model; writes OUTDIR/<name>/ case folders, OUTDIR/INDEX and
      OUTDIR/zoo-export.json.
  strip SRC.onnx DST.onnx
      (build machine) the graph with every float initializer of 64 or more
      elements emptied and listed in the model's metadata (gpu_check.stripped).
  peer OUT.json MODELS [--runs N] [--warmup W] [--budget S]
      PyTorch on CUDA: each model fp32 with torch's default TF32 settings,
      fp32 with TF32 off, and channels_last + cudnn.benchmark; device-resident
      timings (torch.cuda.synchronize after each run) and host-to-host ones
      (input copied in, output copied out, as engine-run measures).
  summary WORK OUTDIR
      reads WORK/res (what gpu-check.sh wrote) and writes OUTDIR/summary.md
      and OUTDIR/results.json.

Works with old torch (Debian's 1.13, no `dynamo` argument) and new (2.x).
"""
import glob
import json
import math
import os
import re
import statistics
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 224
OPSET = 13
STRIP_MIN = 64


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True, default=str)
    os.replace(tmp, path)


def read_json(path, default=None):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def read_text(path, default=""):
    try:
        with open(path, errors="replace") as fh:
            return fh.read()
    except OSError:
        return default


def rel_l2(a, ref):
    import numpy as np
    a = np.asarray(a, np.float64).ravel()
    ref = np.asarray(ref, np.float64).ravel()
    if a.shape != ref.shape:
        return None
    if not np.all(np.isfinite(a)):
        return float("inf")
    return float(np.linalg.norm(a - ref) / max(np.linalg.norm(ref), 1e-300))


# ---- ONNX export ---------------------------------------------------------------------------------

def onnx_export(export_fn, model, x, path, **kw):
    """export_fn (torch.onnx.export) with the TorchScript exporter where the
    torch has a choice (dynamo=False), else the dynamo one. Returns the
    exporter's name and notes on what failed; raises if none worked."""
    import inspect
    params = inspect.signature(export_fn).parameters
    attempts = [("torchscript", {})]
    if "dynamo" in params:
        dyn = {"dynamo": True}
        if "external_data" in params:
            dyn["external_data"] = False
        attempts = [("torchscript", {"dynamo": False}), ("dynamo", dyn)]
    notes = []
    varkw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    for name, extra in attempts:
        # keyword arguments this torch no longer takes are left out (and noted)
        args = {k: v for k, v in kw.items() if varkw or k in params}
        if len(args) < len(kw):
            notes.append(f"{name}: not passed: {sorted(set(kw) - set(args))}")
        if name == "dynamo":
            args.pop("training", None)  # TrainingMode is a TorchScript-exporter notion
        try:
            if os.path.exists(path):
                os.remove(path)
            export_fn(model, x, path, **args, **extra)
            return name, notes
        except Exception as e:  # noqa: BLE001 - any failure means: try the next exporter
            notes.append(f"{name}: {type(e).__name__}: {str(e)[:400]}")
    raise RuntimeError("; ".join(notes))


def torchvision_model(torch, name):
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    return model, x


def ort_output(path, x):
    """onnxruntime's CPU output for input x, or (None, why)."""
    try:
        import onnxruntime as ort
    except Exception as e:  # noqa: BLE001
        return None, f"no onnxruntime ({type(e).__name__})"
    try:
        so = ort.SessionOptions()
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        return sess.run(None, {name: x})[0], "onnxruntime " + ort.__version__
    except Exception as e:  # noqa: BLE001
        return None, f"onnxruntime failed: {type(e).__name__}: {str(e)[:300]}"


def check_onnx(path):
    import onnx
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None)
    inp = proto.graph.input[0]
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in inp.type.tensor_type.shape.dim]
    return {"opset": opset, "input": inp.name, "input_shape": dims, "nodes": len(proto.graph.node),
            "bytes": os.path.getsize(path)}


def fill_stripped(src, dst, seed=0):
    """Fills the initializers `strip` emptied with seeded random weights."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    proto = onnx.load(src)
    meta = {p.key: p.value for p in proto.metadata_props}
    names = set(json.loads(meta.get("gpu_check.stripped", "[]")))
    rng = np.random.default_rng(seed)
    for t in proto.graph.initializer:
        if t.name not in names:
            continue
        shape = tuple(t.dims)
        if len(shape) == 4:  # conv weight [O, I/g, kh, kw]: kaiming normal, fan_out (torchvision)
            std = math.sqrt(2.0 / max(shape[0] * shape[2] * shape[3], 1))
            a = rng.standard_normal(shape) * std
        elif len(shape) == 2:  # Gemm weight [out, in] (transB=1): nn.Linear's bound
            b = 1.0 / math.sqrt(max(shape[1], 1))
            a = rng.uniform(-b, b, shape)
        else:
            a = rng.uniform(-0.1, 0.1, shape)
        t.CopyFrom(numpy_helper.from_array(a.astype(np.float32), t.name))
    onnx.save(proto, dst)
    return len(names)


def cmd_export(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="gpu_check.py export")
    ap.add_argument("outdir")
    ap.add_argument("models")
    ap.add_argument("--fallback", default="")
    a = ap.parse_args(argv)
    os.makedirs(a.outdir, exist_ok=True)
    import numpy as np
    info = {"python": sys.version.split()[0], "models": {}}
    try:
        import torch
        info["torch"] = torch.__version__
        import torchvision
        info["torchvision"] = torchvision.__version__
    except Exception as e:  # noqa: BLE001
        torch = None
        info["torch_error"] = f"{type(e).__name__}: {e}"
    try:
        import onnx
        info["onnx"] = onnx.__version__
    except Exception as e:  # noqa: BLE001
        info["onnx_error"] = f"{type(e).__name__}: {e}"
    force_fallback = os.environ.get("GPU_CHECK_FORCE_FALLBACK") == "1"
    for m in a.models.split(","):
        r = {}
        t0 = time.time()
        path = os.path.join(a.outdir, f"{m}.onnx")
        x = None
        try:
            if torch is None:
                raise RuntimeError("no torch")
            model, xt = torchvision_model(torch, m)
            x = xt.numpy()
            np.save(os.path.join(a.outdir, f"{m}.input.npy"), x)
            with torch.no_grad():
                np.save(os.path.join(a.outdir, f"{m}.torch.npy"), model(xt).numpy())
            r["reference"] = "torch cpu float32"
            if force_fallback:
                raise RuntimeError("GPU_CHECK_FORCE_FALLBACK=1")
            with torch.no_grad():
                r["exporter"], notes = onnx_export(torch.onnx.export, model, xt, path, opset_version=OPSET,
                                                   input_names=["input"], output_names=["output"],
                                                   do_constant_folding=True)
            if notes:
                r["export_notes"] = notes
            r["source"] = f"exported here by torch {torch.__version__} ({r['exporter']} exporter)"
        except Exception as e:  # noqa: BLE001
            r["export_error"] = f"{type(e).__name__}: {str(e)[:600]}"
            fb = os.path.join(a.fallback, f"{m}.graph.onnx") if a.fallback else ""
            if fb and os.path.exists(fb):
                try:
                    n = fill_stripped(fb, path)
                    r["exporter"] = "bundled-graph"
                    r["source"] = (f"graph exported on the build machine ({fb}), {n} weight tensors "
                                   f"filled with seeded random numbers here")
                    if x is None:
                        x = np.random.default_rng(1).standard_normal((1, 3, SIZE, SIZE)).astype(np.float32)
                        np.save(os.path.join(a.outdir, f"{m}.input.npy"), x)
                    if r.get("reference"):  # torch's weights differ from the filled ones
                        os.remove(os.path.join(a.outdir, f"{m}.torch.npy"))
                        r["reference"] = None
                except Exception as e2:  # noqa: BLE001
                    r["fallback_error"] = f"{type(e2).__name__}: {str(e2)[:400]}"
        if os.path.exists(path) and x is not None:
            try:
                r.update(check_onnx(path))
            except Exception as e:  # noqa: BLE001
                r["check_error"] = f"{type(e).__name__}: {str(e)[:400]}"
            y, how = ort_output(path, x)
            r["ort"] = how
            if y is not None:
                np.save(os.path.join(a.outdir, f"{m}.ort.npy"), y)
                tp = os.path.join(a.outdir, f"{m}.torch.npy")
                if os.path.exists(tp):
                    r["ort_vs_torch_rel_l2"] = rel_l2(y, np.load(tp))
            r["ok"] = "check_error" not in r
        else:
            r["ok"] = False
        r["seconds"] = round(time.time() - t0, 2)
        info["models"][m] = r
        print(f"export {m}: {r.get('exporter', 'FAILED')} {r.get('export_error', '')[:200]}", flush=True)
        write_json(os.path.join(a.outdir, "export.json"), info)
    write_json(os.path.join(a.outdir, "export.json"), info)
    return 0 if all(r["ok"] for r in info["models"].values()) else 1


def cmd_strip(argv):
    import onnx
    src, dst = argv
    proto = onnx.load(src)
    names = []
    for t in proto.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if t.data_type == onnx.TensorProto.FLOAT and n >= STRIP_MIN:
            name, dims = t.name, list(t.dims)
            t.Clear()
            t.name = name
            t.dims.extend(dims)
            t.data_type = onnx.TensorProto.FLOAT
            names.append(name)
    p = proto.metadata_props.add()
    p.key = "gpu_check.stripped"
    p.value = json.dumps(names)
    onnx.save(proto, dst)
    print(f"strip {src}: {len(names)} initializers emptied, {os.path.getsize(dst)} bytes")
    return 0


# ---- the zoo, exported by this machine's torch ---------------------------------------------------

def _zoo_one(job):
    name, outdir = job
    t0 = time.time()
    r = {"name": name}
    try:
        import torch
        import zoo
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        if not hasattr(torch.onnx, "TrainingMode"):  # a torch without the TorchScript exporter
            import enum
            torch.onnx.TrainingMode = enum.Enum("TrainingMode", "EVAL PRESERVE TRAINING")
        used = {}
        orig = torch.onnx.export

        def export(model, args, f, **kw):
            used["exporter"], notes = onnx_export(orig, model, args, f, **kw)
            if notes:
                used["notes"] = notes
        torch.onnx.export = export
        try:
            seed = list(zoo.MODELS).index(name)
            proto, ops, err, sens, oshape, opset = zoo.export_one(name, seed, outdir, preserve_bn=True)
        finally:
            torch.onnx.export = orig
        r.update(used)
        r.update({"ok": err <= zoo.SANITY_REL_L2 and sens >= zoo.MIN_SENSITIVITY, "f32_vs_f64": err,
                  "sensitivity": sens, "opset": opset, "nodes": len(proto.graph.node), "ops": ops})
    except Exception as e:  # noqa: BLE001
        r["ok"] = False
        r["error"] = f"{type(e).__name__}: {str(e)[:600]}"
        r["trace"] = traceback.format_exc()[-1500:]
    r["seconds"] = round(time.time() - t0, 2)
    print(f"zoo-export {name}: {r.get('exporter', '-')} ok={r['ok']} {r.get('error', '')[:200]}", flush=True)
    return r


def stub_missing(modules):
    """tools/zoo.py imports train_lenet, which imports sklearn and PIL for the
    demo's training; the zoo needs neither. Empty stand-ins where missing."""
    import types
    for full, attrs in modules.items():
        try:
            __import__(full)
        except Exception:  # noqa: BLE001
            parts = full.split(".")
            for i in range(1, len(parts) + 1):
                n = ".".join(parts[:i])
                if n not in sys.modules:
                    sys.modules[n] = types.ModuleType(n)
                if i > 1:
                    setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[n])
            for a in attrs:
                setattr(sys.modules[full], a, None)


def cmd_zoo_export(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="gpu_check.py zoo-export")
    ap.add_argument("outdir")
    ap.add_argument("names")
    ap.add_argument("--jobs", type=int, default=4)
    a = ap.parse_args(argv)
    os.makedirs(a.outdir, exist_ok=True)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    stub_missing({"PIL.Image": ["Image"], "sklearn.datasets": ["load_digits"],
                  "sklearn.model_selection": ["train_test_split"]})
    __import__("torch")  # imported before the fork, once
    __import__("zoo")
    names = [n for n in a.names.split(",") if n]
    jobs = [(n, a.outdir) for n in names]
    info = {"torch": sys.modules["torch"].__version__, "models": {}}
    if a.jobs > 1 and len(jobs) > 1:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(min(a.jobs, len(jobs))) as pool:
            for r in pool.imap_unordered(_zoo_one, jobs):
                info["models"][r["name"]] = r
                write_json(os.path.join(a.outdir, "zoo-export.json"), info)
    else:
        for j in jobs:
            r = _zoo_one(j)
            info["models"][r["name"]] = r
            write_json(os.path.join(a.outdir, "zoo-export.json"), info)
    with open(os.path.join(a.outdir, "INDEX"), "w") as fh:
        for n in names:
            if info["models"].get(n, {}).get("exporter") and os.path.exists(os.path.join(a.outdir, n, "tolerance")):
                fh.write(n + "\n")
    write_json(os.path.join(a.outdir, "zoo-export.json"), info)
    return 0 if all(r["ok"] for r in info["models"].values()) else 1


# ---- PyTorch on CUDA -----------------------------------------------------------------------------

# The TF32 switches of torch <= 2.8 (allow_tf32) and of 2.9+ (fp32_precision).
FLAGS = ("backends.cuda.matmul.allow_tf32", "backends.cudnn.allow_tf32", "backends.cudnn.benchmark",
         "backends.fp32_precision", "backends.cuda.matmul.fp32_precision", "backends.cudnn.conv.fp32_precision")


def get_attr(obj, path):
    try:
        for p in path.split("."):
            obj = getattr(obj, p)
        return obj
    except Exception:  # noqa: BLE001
        return None


def set_attr(obj, path, value):
    parts = path.split(".")
    try:
        setattr(get_attr(obj, ".".join(parts[:-1])), parts[-1], value)
        return None
    except Exception as e:  # noqa: BLE001
        return f"{path}={value}: {type(e).__name__}: {str(e)[:200]}"


def set_flags(torch, defaults, tf32, benchmark):
    """tf32 None: torch's defaults; False/True: TF32 off/on through allow_tf32,
    else through fp32_precision ("ieee"/"tf32"). Returns the errors met."""
    errs = []
    e = set_attr(torch, "backends.cudnn.benchmark",
                 bool(defaults.get("backends.cudnn.benchmark")) if benchmark is None else benchmark)
    if e:
        errs.append(e)
    for old, new in (("backends.cuda.matmul.allow_tf32", "backends.cuda.matmul.fp32_precision"),
                     ("backends.cudnn.allow_tf32", "backends.cudnn.conv.fp32_precision")):
        if tf32 is None:
            if isinstance(defaults.get(old), bool):
                e = set_attr(torch, old, defaults[old])
            elif defaults.get(new) is not None:
                e = set_attr(torch, new, defaults[new])
            else:
                e = None
        else:
            e = set_attr(torch, old, tf32)
            if e:
                e2 = set_attr(torch, new, "tf32" if tf32 else "ieee")
                e = None if e2 is None else f"{e}; {e2}"
        if e:
            errs.append(e)
    return errs


def pct(xs, q):
    s = sorted(xs)
    i = max(0, math.ceil(q * len(s)) - 1)
    return s[i]


def cmd_peer(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="gpu_check.py peer")
    ap.add_argument("out")
    ap.add_argument("models")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--budget", type=float, default=120.0, help="seconds for all models and settings")
    a = ap.parse_args(argv)
    t_start = time.time()
    res = {"python": sys.version.split()[0], "models": {}}
    try:
        import torch
        import torchvision
        res["torch"] = torch.__version__
        res["torchvision"] = torchvision.__version__
    except Exception as e:  # noqa: BLE001
        res["note"] = f"no torch: {type(e).__name__}: {e}"
        write_json(a.out, res)
        return 0
    res["cuda_available"] = bool(torch.cuda.is_available())
    on_cpu = os.environ.get("GPU_CHECK_PEER_CPU") == "1"  # to test this code without a GPU
    if not res["cuda_available"] and not on_cpu:
        res["note"] = f"no CUDA (torch {torch.__version__}, torch.version.cuda={torch.version.cuda})"
        write_json(a.out, res)
        print(res["note"])
        return 0
    if on_cpu:
        dev = torch.device("cpu")
        res["device"] = "cpu (GPU_CHECK_PEER_CPU=1)"

        def sync():
            pass
    else:
        dev = torch.device("cuda")
        res["device"] = torch.cuda.get_device_name(0)
        sync = torch.cuda.synchronize
    res["cuda"] = torch.version.cuda
    res["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    defaults = {k: get_attr(torch, k) for k in FLAGS}
    defaults = {k: (v if isinstance(v, bool) or v is None else str(v)) for k, v in defaults.items()}
    res["defaults"] = defaults
    settings = [
        ("fp32 (torch defaults)", {}),
        ("fp32, TF32 off", {"tf32": False}),
        ("fp32, channels_last + cudnn.benchmark", {"channels_last": True, "benchmark": True}),
    ]
    models = a.models.split(",")
    per = a.budget / max(len(models) * len(settings), 1)
    for m in models:
        out = {}
        try:
            model, x = torchvision_model(torch, m)
            with torch.no_grad():
                y_cpu = model(x).numpy()
        except Exception as e:  # noqa: BLE001
            res["models"][m] = {"error": f"{type(e).__name__}: {e}"}
            continue
        for label, s in settings:
            r = {}
            try:
                errs = set_flags(torch, defaults, s.get("tf32"), s.get("benchmark"))
                if errs:
                    r["flag_errors"] = errs
                r["flags"] = {k: (v if isinstance(v, bool) or v is None else str(v))
                              for k, v in ((k, get_attr(torch, k)) for k in FLAGS)}
                mf = torch.channels_last if s.get("channels_last") else torch.contiguous_format
                md = model.to(dev, memory_format=mf)
                xd = x.to(dev).contiguous(memory_format=mf)
                with torch.inference_mode():
                    for _ in range(a.warmup):
                        md(xd)
                    sync()
                    est = []
                    for _ in range(5):
                        t = time.perf_counter()
                        md(xd)
                        sync()
                        est.append(time.perf_counter() - t)
                    t_one = statistics.median(est)
                    runs = a.runs
                    if t_one > 0 and runs * t_one * 2 > per:
                        runs = max(10, int(per / (2 * t_one)))
                    dt = []
                    for _ in range(runs):
                        t = time.perf_counter()
                        md(xd)
                        sync()
                        dt.append((time.perf_counter() - t) * 1e3)
                    h2h = []
                    for _ in range(runs):
                        t = time.perf_counter()
                        y = md(x.to(dev).contiguous(memory_format=mf)).cpu()
                        h2h.append((time.perf_counter() - t) * 1e3)
                r.update({"runs": runs, "warmup": a.warmup, "median_ms": statistics.median(dt),
                          "p90_ms": pct(dt, 0.9), "min_ms": min(dt), "h2h_median_ms": statistics.median(h2h),
                          "h2h_p90_ms": pct(h2h, 0.9), "rel_l2_vs_cpu": rel_l2(y.float().numpy(), y_cpu)})
            except Exception as e:  # noqa: BLE001
                r["error"] = f"{type(e).__name__}: {str(e)[:400]}"
            out[label] = r
            print(f"peer {m} [{label}]: " + (f"median {r['median_ms']:.3f} ms p90 {r['p90_ms']:.3f} ms"
                                             if "median_ms" in r else r.get("error", "")), flush=True)
        res["models"][m] = out
        model.to("cpu")
        if not on_cpu:
            torch.cuda.empty_cache()
        write_json(a.out, res)
    res["seconds"] = round(time.time() - t_start, 1)
    write_json(a.out, res)
    return 0


# ---- summary -------------------------------------------------------------------------------------

def parse_cases(log):
    """cmocka output of tests/case_runner: passed, failed (name -> message), finished."""
    passed = re.findall(r"^\[       OK \] (\S+)$", log, re.M)
    failed = {}
    for name in re.findall(r"^\[  FAILED  \] ([A-Za-z0-9_.-]+)$", log, re.M):
        failed.setdefault(name, "")
    for name, msg in re.findall(r"^case ([A-Za-z0-9_.-]+): (.*)$", log, re.M):
        failed[name] = msg
    finished = re.search(r"^\[==========\] .* test\(s\) run\.", log, re.M) is not None
    total = re.search(r"^\[==========\] Running (\d+) test\(s\)\.", log, re.M)
    return {"passed": len(set(passed)), "failed": len(failed), "failures": failed, "finished": finished,
            "total": int(total.group(1)) if total else None}


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return str(v)
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def fmt_e(v):
    return "-" if v is None else (str(v) if not isinstance(v, float) or math.isinf(v) else f"{v:.1e}")


def cmd_summary(argv):
    work, outdir = argv[0], argv[1]
    res = os.path.join(work, "res")
    import numpy as np  # noqa: F401 - rel L2 of the outputs
    R = {"schema": 1}
    meta = {}
    for line in read_text(os.path.join(res, "meta.txt")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            meta[k] = v
    R["meta"] = meta
    steps = []
    for line in read_text(os.path.join(res, "steps.tsv")).splitlines():
        f = line.split("\t")
        if len(f) >= 5:
            steps.append({"step": f[0], "status": f[1], "rc": f[2], "seconds": float(f[3] or 0), "limit_s": f[4],
                          "note": f[5] if len(f) > 5 else ""})
    R["steps"] = steps
    status = {st["step"]: st for st in steps}
    probe = {}
    for line in read_text(os.path.join(res, "probe", "probe.env")).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            probe[k] = v
    probe["nvidia_smi_query"] = read_text(os.path.join(res, "probe", "nvidia-smi-query.csv")).strip()
    probe["nvidia_smi_L"] = read_text(os.path.join(res, "probe", "nvidia-smi-L.txt")).strip()
    probe["clinfo_l"] = read_text(os.path.join(res, "probe", "clinfo-l.txt")).strip()
    probe["list_backends"] = read_text(os.path.join(res, "probe", "list-backends.txt")).strip()
    R["probe"] = probe

    # Conformance.
    conf = {}
    for log in sorted(glob.glob(os.path.join(res, "conf", "*.log"))):
        key = os.path.basename(log)[:-4]
        conf[key] = parse_cases(read_text(log))
    zoo_meas = {}
    for key, c in conf.items():
        if key.endswith(".fp16") and key.startswith("zoo"):
            # measured mode: every case "fails" with its rel_l2; a real failure has another message
            vals, real = {}, {}
            for name, msg in c["failures"].items():
                m = re.search(r"rel_l2 ([0-9.eE+-]+|nan|inf) > 1e-30", msg)
                if m:
                    vals[name] = float(m.group(1))
                else:
                    real[name] = msg
            c["fp16_rel_l2"] = vals
            c["failures"] = real
            c["failed"] = len(real) + sum(1 for v in vals.values() if not v <= FP16_ZOO_FLAG)
            c["passed"] = sum(1 for v in vals.values() if v <= FP16_ZOO_FLAG)
            zoo_meas.update(vals)
    R["conformance"] = conf
    R["zoo_export"] = read_json(os.path.join(res, "zoo-remote", "zoo-export.json"))

    # Bench.
    export = read_json(os.path.join(res, "export", "export.json"), {}) or {}
    R["export"] = export
    bench = {}
    models = [m for m in meta.get("models", "").split(",") if m]
    for m in models:
        b = {"export": (export.get("models") or {}).get(m)}
        ref = None
        for kind in ("torch", "ort"):
            p = os.path.join(res, "export", f"{m}.{kind}.npy")
            if os.path.exists(p):
                ref = (kind, np.load(p))
                break
        b["reference"] = ref[0] if ref else None
        if ref:
            b["reference_rms"] = float(np.sqrt(np.mean(np.square(ref[1].astype(np.float64)))))
        for cfg in ("opencl-cold", "opencl-warm", "opencl-tuned", "opencl-fp16", "cpu", "tune"):
            j = read_json(os.path.join(res, "bench", f"{m}.{cfg}.json"))
            if j is None:
                txt = read_text(os.path.join(res, "bench", f"{m}.{cfg}.out")).strip()
                if txt.startswith("{"):
                    try:
                        j = json.loads(txt.splitlines()[-1])
                    except ValueError:
                        j = None
            e = read_text(os.path.join(res, "bench", f"{m}.{cfg}.err")).strip()
            d = {"json": j}
            st = status.get(f"bench.{m}.{cfg}")
            if st:
                d["step"] = st
            if j is None and (e or (st and st["status"] != "ok")):
                why = e.splitlines()[-1][:300] if e else ""
                if st and st["status"] != "ok":
                    why = f"{st['status']} after {st['seconds']:.0f} s" + (f": {why}" if why else "")
                d["error"] = why
            if e:
                d["placement"] = [ln for ln in e.splitlines() if "placement" in ln.lower() or "->" in ln][:4]
            npy = os.path.join(res, "bench", f"{m}.{cfg}.npy")
            if ref and os.path.exists(npy):
                try:
                    d["rel_l2"] = rel_l2(np.load(npy), ref[1])
                except Exception as ex:  # noqa: BLE001
                    d["rel_l2_error"] = str(ex)
            b[cfg] = d
        try:
            pa = os.path.join(res, "bench", f"{m}.opencl-warm.npy")
            pb = os.path.join(res, "bench", f"{m}.cpu.npy")
            if os.path.exists(pa) and os.path.exists(pb):
                b["opencl_vs_cpu_rel_l2"] = rel_l2(np.load(pa), np.load(pb))
        except Exception as ex:  # noqa: BLE001
            b["opencl_vs_cpu_error"] = str(ex)
        bench[m] = b
    R["bench"] = bench
    peer = read_json(os.path.join(res, "peer", "peer.json"), {}) or {}
    R["peer"] = peer
    R["tuner"] = meta.get("tuner", "")

    write_json(os.path.join(outdir, "results.json"), R)
    with open(os.path.join(outdir, "summary.md"), "w") as fh:
        fh.write(render(R))
    return 0


FP16_ZOO_FLAG = 0.1  # fp16 storage through a whole zoo net: flagged above this rel L2


def render(R):
    meta, probe = R["meta"], R["probe"]
    L = []
    w = L.append
    w(f"# GPU check ({meta.get('started', '?')})\n")
    w(f"- host: {meta.get('uname', '?')}; {meta.get('nproc', '?')} cores; budget {meta.get('budget', '?')} s, "
      f"wall {meta.get('wall', '?')} s")
    w(f"- repo: {meta.get('git', '?')}; bundle: {meta.get('bundle_manifest', '?')}")
    w(f"- python for export/peer: {meta.get('python', '?')}")
    gpu = probe.get("nvidia_smi_query") or "no nvidia-smi"
    w(f"- nvidia-smi: {gpu.splitlines()[-1] if gpu else '-'}")
    w(f"- OpenCL ICD loader: {probe.get('loader', '?')} ({probe.get('loader_source', '?')})")
    w(f"- NVIDIA OpenCL library: {probe.get('nvidia_lib', 'none found')}; vendors: "
      f"{probe.get('vendor_mode', '?')} {probe.get('vendor_detail', '')}")
    w(f"- engine opencl device: {probe.get('engine_device', '?')} (ENGINE_OPENCL_DEVICE={probe.get('device_sel', '')})")
    w(f"- tuner: {R.get('tuner') or '?'}\n")

    w("## Steps\n")
    w("| step | status | rc | s | limit s | note |")
    w("| --- | --- | --- | --- | --- | --- |")
    for s in R["steps"]:
        w(f"| {s['step']} | {s['status']} | {s['rc']} | {s['seconds']:.1f} | {s['limit_s']} | {s['note']} |")
    w("")

    w("## Conformance on the OpenCL device (strict, `case_runner --backend opencl`)\n")
    w("| suite.mode | passed | failed | total | finished |")
    w("| --- | --- | --- | --- | --- |")
    for k, c in R["conformance"].items():
        w(f"| {k} | {c['passed']} | {c['failed']} | {c['total'] if c['total'] is not None else '?'} | "
          f"{'yes' if c['finished'] else 'NO (timeout or crash)'} |")
    w("")
    w("zoo: the bundled cases were exported on the build machine (same files CI runs on POCL), zoo-remote "
      "the larger zoo models exported here by this machine's torch; `.cpu` rows are the cpu backend on the "
      f"same files (a control). fp16 zoo rows: rel L2 measured, counted as failed above {FP16_ZOO_FLAG} "
      "(output 0 only).\n")
    fails = [(k, n, msg) for k, c in R["conformance"].items() for n, msg in c["failures"].items()]
    if fails:
        w("Failures (first 40; all in log.txt):\n")
        for k, n, msg in fails[:40]:
            w(f"- {k} {n}: {msg[:300]}")
        w("")
    meas = {k: c.get("fp16_rel_l2") for k, c in R["conformance"].items() if c.get("fp16_rel_l2")}
    if meas:
        w("fp16 zoo rel L2 (vs float64 PyTorch): " + "; ".join(
            f"{k}: " + ", ".join(f"{n} {v:.1e}" for n, v in sorted(vals.items())) for k, vals in meas.items()) + "\n")
    ze = R.get("zoo_export")
    if ze:
        ex = {}
        for n, r in (ze.get("models") or {}).items():
            ex.setdefault(r.get("exporter", "failed"), []).append(n)
        w("zoo-remote export (torch " + str(ze.get("torch")) + "): " +
          "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in ex.items()) + "\n")

    w("## Models at batch 1, 224x224 (ms)\n")
    peer = R.get("peer") or {}
    pm = peer.get("models") or {}
    w("| model | source | cold compile | cold first run | warm compile | warm median | warm p90 | warm min | "
      "tuned median | fp16 median | cpu median | torch CUDA median | p90 | engine/torch | rel L2 opencl | "
      "rel L2 fp16 | rel L2 cpu |")
    w("| --- " * 17 + "|")
    for m, b in R["bench"].items():
        def j(cfg, *path):
            d = (b.get(cfg) or {}).get("json") or {}
            for p in path:
                d = d.get(p) if isinstance(d, dict) else None
            return d
        ex = b.get("export") or {}
        src = ex.get("exporter", "export failed")
        t = (pm.get(m) or {}).get("fp32, TF32 off") or {}
        tmed = t.get("median_ms")
        wmed = j("opencl-warm", "latency_ms", "median")
        ratio = (wmed / tmed) if (wmed and tmed) else None
        copied = "copied" in (((b.get("opencl-cold") or {}).get("step") or {}).get("note") or "")
        mark = " (c)" if copied and j("opencl-cold", "compile_ms") is not None else ""
        w(f"| {m} | {src} | {fmt(j('opencl-cold', 'compile_ms'))}{mark} | {fmt(j('opencl-cold', 'first_run_ms'))} | "
          f"{fmt(j('opencl-warm', 'compile_ms'))} | {fmt(wmed, 2)} | {fmt(j('opencl-warm', 'latency_ms', 'p90'), 2)} | "
          f"{fmt(j('opencl-warm', 'latency_ms', 'min'), 2)} | {fmt(j('opencl-tuned', 'latency_ms', 'median'), 2)} | "
          f"{fmt(j('opencl-fp16', 'latency_ms', 'median'), 2)} | {fmt(j('cpu', 'latency_ms', 'median'), 2)} | "
          f"{fmt(tmed, 3)} | {fmt(t.get('p90_ms'), 3)} | {fmt(ratio, 1)} | "
          f"{fmt_e((b.get('opencl-warm') or {}).get('rel_l2'))} | {fmt_e((b.get('opencl-fp16') or {}).get('rel_l2'))} | "
          f"{fmt_e((b.get('cpu') or {}).get('rel_l2'))} |")
    w("")
    w("(c): not cold: the caches were copied from the first model's cold run, which took more than 5 s to "
      "build the (model-independent) program; the cold figure of that model is the cold start. "
      "cold: empty engine cache (XDG_CACHE_HOME), empty driver caches (CUDA_CACHE_PATH, POCL_CACHE_DIR); "
      "warm: the same caches again. compile = session compile (program build or cache load, CLBlast, trial "
      "run); first run = the first session run of that process. engine/torch = opencl warm median over "
      "PyTorch fp32 with TF32 off (device-resident timing). rel L2 against the reference named below.\n")
    w("Random weights: torchvision's MobileNetV2 init gives outputs of rms ~1e-9, below half's smallest "
      "subnormal (6e-8): in fp16 storage its output is all zeros and its fp16 rel L2 (1.0) says nothing (the "
      "fp16 zoo rows test MobileNetV2 with live signals). Check the reference rms before reading an fp16 rel L2.\n")
    w("| model | kernels built / from cache (cold) | (warm) | tune compile ms | device MB | GMACs | runs (warm) | "
      "reference | reference rms | rel L2 opencl vs cpu | errors |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for m, b in R["bench"].items():
        def jj(cfg, k):
            v = ((b.get(cfg) or {}).get("json") or {}).get(k)
            return "-" if v is None else v
        errs = "; ".join(f"{cfg}: {(b.get(cfg) or {}).get('error')}" for cfg in
                         ("opencl-cold", "opencl-warm", "tune", "opencl-tuned", "opencl-fp16", "cpu")
                         if (b.get(cfg) or {}).get("error"))
        dev = ((b.get("opencl-warm") or {}).get("json") or {}).get("device_bytes")
        macs = (((b.get("opencl-warm") or {}).get("json") or {}).get("macs")
                or ((b.get("cpu") or {}).get("json") or {}).get("macs"))
        w(f"| {m} | {jj('opencl-cold', 'kernels_built')} / {jj('opencl-cold', 'kernels_from_cache')} | "
          f"{jj('opencl-warm', 'kernels_built')} / {jj('opencl-warm', 'kernels_from_cache')} | "
          f"{fmt(((b.get('tune') or {}).get('json') or {}).get('compile_ms'))} | "
          f"{fmt(dev / 2**20 if dev else None)} | {fmt(macs / 1e9 if macs else None, 2)} | {jj('opencl-warm', 'runs')} | "
          f"{b.get('reference') or '-'} | {fmt_e(b.get('reference_rms'))} | {fmt_e(b.get('opencl_vs_cpu_rel_l2'))} | "
          f"{errs[:300]} |")
    w("")

    w("## PyTorch peer\n")
    if not peer:
        w("not run\n")
    elif not peer.get("models"):
        w(f"{peer.get('note', 'no CUDA')}\n")
    else:
        w(f"torch {peer.get('torch')} CUDA {peer.get('cuda')} cuDNN {peer.get('cudnn')} on {peer.get('device')}; "
          f"defaults: {json.dumps(peer.get('defaults'))}\n")
        w("| model | setting | median ms | p90 ms | min ms | host-to-host median ms | runs | rel L2 vs torch CPU |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for m, rows in pm.items():
            if "error" in rows:
                w(f"| {m} | error: {rows['error']} | | | | | | |")
                continue
            for label, r in rows.items():
                if "error" in r:
                    w(f"| {m} | {label} | error: {r['error'][:200]} | | | | | |")
                else:
                    w(f"| {m} | {label} | {r['median_ms']:.3f} | {r['p90_ms']:.3f} | {r['min_ms']:.3f} | "
                      f"{r['h2h_median_ms']:.3f} | {r['runs']} | {fmt_e(r.get('rel_l2_vs_cpu'))} |")
        w("")
    w("## Files\n")
    w("log.txt: every step's command, status and the failures' messages; details.tar.gz: the raw outputs "
      "(probe, case runner logs, engine-run JSON and stderr, export and peer JSON).\n")
    return "\n".join(L) + "\n"


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, argv = sys.argv[1], sys.argv[2:]
    fn = {"export": cmd_export, "zoo-export": cmd_zoo_export, "strip": cmd_strip, "peer": cmd_peer,
          "summary": cmd_summary}.get(cmd)
    if not fn:
        print(f"gpu_check.py: unknown command {cmd!r}", file=sys.stderr)
        return 2
    return fn(argv)


if __name__ == "__main__":
    sys.exit(main())
