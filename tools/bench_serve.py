#!/usr/bin/python3
"""bench_serve.py - a loopback load generator for engine-serve (Open Inference Protocol v2).

Starts `python3 -m engine.serve MODEL --sessions S --threads T` on a free
loopback port, waits until /v2/health/ready answers, then for each
concurrency level C runs C client threads (python3-requests, one
keep-alive connection each) that send infer requests back to back for
--seconds (after --warmup requests each), every one with its own seeded
random input and id, and checks that each answer carries that id and an
output of the expected shape. It prints, per level, the requests, the
requests/s, and the p50/p99 latency (ms, measured by the client from
sending to the whole answer), as a markdown table.

The clients are Python threads in the same machine: on a 2-core machine
they take CPU from the server, so the figures are of the whole loop
(client + HTTP + JSON or binary coding + the model), not of the model.

Usage (from the repository root, after `ninja -C build`):
    ENGINE_LIBRARY=build/engine/libengine.so PYTHONPATH=python \\
        /usr/bin/python3 tools/bench_serve.py MODEL.onnx [--backend cpu] [--sessions 2] [--threads 1] \\
        [--concurrency 1,2,4,8] [--seconds 10] [--binary | --json]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, port):
    cmd = [sys.executable, "-m", "engine.serve", f"m={args.model}", "--port", str(port), "--backend", args.backend,
           "--sessions", str(args.sessions), "--threads", str(args.threads), "--log-level", "warning"]
    proc = subprocess.Popen(cmd)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench_serve: the server exited with {proc.returncode}")
        try:
            if requests.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    proc.terminate()
    sys.exit("bench_serve: the server did not become ready")


def input_shape(meta, batch, size):
    (inp,) = meta["inputs"]
    shape = list(inp["shape"])
    if shape[0] == -1:
        shape[0] = batch
    return [size if d == -1 else d for d in shape], inp["name"]


def make_request(name, shape, seed, rid, binary):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if binary:
        head = json.dumps({"id": rid, "inputs": [{"name": name, "shape": shape, "datatype": "FP32",
                                                  "parameters": {"binary_data_size": x.nbytes}}],
                           "parameters": {"binary_data_output": True}}).encode()
        return head + x.tobytes(), {"Inference-Header-Content-Length": str(len(head))}
    body = json.dumps({"id": rid, "inputs": [{"name": name, "shape": shape, "datatype": "FP32",
                                              "data": x.reshape(-1).tolist()}]}).encode()
    return body, {"Content-Type": "application/json"}


def answer_id(r, binary):
    if binary:
        n = int(r.headers["Inference-Header-Content-Length"])
        return json.loads(r.content[:n])["id"]
    return r.json()["id"]


def level(url, name, shape, clients, seconds, warmup, binary):
    lat = [[] for _ in range(clients)]
    errors = []
    start = threading.Barrier(clients + 1)
    stop_at = [float("inf")]  # set once every client is ready

    def client(c):
        http = requests.Session()
        infer = url + "/v2/models/m/infer"
        try:
            # a pool of distinct requests per client, made before timing
            bodies = [make_request(name, shape, 7919 * c + k, f"{c}-{k}", binary) for k in range(16)]
            for k in range(warmup):
                body, hdr = bodies[k % len(bodies)]
                http.post(infer, data=body, headers=hdr, timeout=120).raise_for_status()
            start.wait()
            k = 0
            while time.monotonic() < stop_at[0]:
                body, hdr = bodies[k % len(bodies)]
                t0 = time.perf_counter()
                r = http.post(infer, data=body, headers=hdr, timeout=120)
                r.raise_for_status()
                rid = answer_id(r, binary)
                lat[c].append(time.perf_counter() - t0)
                if rid != f"{c}-{k % len(bodies)}":
                    errors.append(f"client {c}: sent {c}-{k % len(bodies)}, got {rid}")
                k += 1
        except Exception as e:
            errors.append(f"client {c}: {e!r}")
            start.abort()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    t0 = time.monotonic()
    stop_at[0] = t0 + seconds
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    if errors:
        sys.exit("bench_serve: " + "; ".join(errors[:5]))
    all_lat = np.array([x for l in lat for x in l]) * 1e3
    return len(all_lat), len(all_lat) / elapsed, float(np.percentile(all_lat, 50)), float(np.percentile(all_lat, 99))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--concurrency", default="1,2,4,8")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=int, default=3, help="requests per client before timing")
    ap.add_argument("--batch", type=int, default=1, help="batch of a dynamic model")
    ap.add_argument("--size", type=int, default=224, help="height and width of a dynamic model")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--binary", dest="binary", action="store_true", default=True,
                     help="binary tensor data extension in and out (default)")
    fmt.add_argument("--json", dest="binary", action="store_false", help="JSON tensors in and out")
    args = ap.parse_args()

    proc, url = start_server(args, free_port())
    try:
        meta = requests.get(url + "/v2/models/m", timeout=10).json()
        shape, name = input_shape(meta, args.batch, args.size)
        print(f"model {Path(args.model).name}, input {name} {shape}, backend {args.backend}, "
              f"{args.sessions} session(s) x {args.threads} thread(s), {'binary' if args.binary else 'JSON'} "
              f"tensors, {args.seconds:g} s per level, {os.cpu_count()} cores", flush=True)
        print("\n| clients | requests | requests/s | p50 ms | p99 ms |\n| ---: | ---: | ---: | ---: | ---: |")
        for c in (int(v) for v in args.concurrency.split(",")):
            n, rps, p50, p99 = level(url, name, shape, c, args.seconds, args.warmup, args.binary)
            print(f"| {c} | {n} | {rps:.1f} | {p50:.2f} | {p99:.2f} |", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
