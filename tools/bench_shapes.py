#!/usr/bin/python3
"""bench_shapes.py - what run-time shapes cost, for docs/PERFORMANCE.md.

For each model (torchvision, random weights) it exports two ONNX files into
the cache folder: one with fixed dims [1,3,224,224] and one with dynamic
batch, height and width (torch.onnx.export(..., dynamic_axes=...)), then
runs build/tools/bench-shapes on each backend (see bench_shapes.c: steady
state of the dynamic model vs the static one in alternating rounds, the
first run at 8 new shapes vs the steady state there, resident memory over
1,000 runs cycling 20 shapes with the default cache) and prints a markdown
table.

Usage: /usr/bin/python3 tools/bench_shapes.py [--build DIR] [--models a,b]
                                              [--backends cpu,opencl] [--threads T]
"""
import argparse
import json
import os
import subprocess
import sys

CACHE = os.path.expanduser("~/.cache/engine-bench")


def export(name, dynamic):
    path = os.path.join(CACHE, f"{name}{'.dyn' if dynamic else ''}.onnx")
    if os.path.exists(path):
        return path
    import torch
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    axes = {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch"}} if dynamic else None
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=13, input_names=["input"], output_names=["output"],
                          do_constant_folding=True, dynamic_axes=axes)
    os.replace(tmp, path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--models", default="resnet18,resnet50,mobilenet_v2")
    ap.add_argument("--backends", default="cpu,opencl")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(CACHE, exist_ok=True)
    exe = os.path.join(args.build, "tools", "bench-shapes")
    rows = []
    for name in args.models.split(","):
        dyn, sta = export(name, True), export(name, False)
        for backend in args.backends.split(","):
            cmd = [exe, dyn, sta, backend, str(args.threads), "1", "3", "224", "224"]
            print("$", " ".join(cmd), file=sys.stderr)
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                print(p.stderr, file=sys.stderr)
                continue
            r = json.loads(p.stdout)
            r["model"] = name
            rows.append(r)
            print(json.dumps(r), file=sys.stderr)
    print("| model | backend | steady, dynamic ms | steady, static ms | first run at a new shape ms "
          "| its steady ms | first / steady (median, max) | device program rebuilt | RSS after 100 / 500 / 1,000 "
          "cycling runs (MiB) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        rss = " / ".join(f"{v / 1024:.0f}" for v in r["rss_kb"])
        print(f"| {r['model']} | {r['backend']} | {r['steady_dynamic_ms']:.2f} | {r['steady_static_ms']:.2f} "
              f"| {r['first_run_ms']:.2f} | {r['steady_new_ms']:.2f} | {r['first_over_steady']:.2f}, "
              f"{r['first_over_steady_max']:.2f} | {'yes' if r['device_program_rebuilt'] else 'no'} | {rss} |")


if __name__ == "__main__":
    main()
