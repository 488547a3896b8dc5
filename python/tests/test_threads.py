"""Threads: sessions in parallel (the GIL is released during a run), one session shared and serialised."""

from __future__ import annotations

import threading
import time
from typing import List

import numpy as np
import pytest

import engine


def _inputs(n: int, seed: int) -> List[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((1 + k % 2, 3, 24 + 4 * (k % 3), 32)).astype(np.float32) for k in range(n)]


def test_two_sessions_in_parallel(torch_models: dict) -> None:
    xs = _inputs(6, 10)
    want = [engine.Session(torch_models["cnn"], backends="ref").run(feeds={"image": x}) for x in xs]
    sessions = [engine.Session(torch_models["cnn"], backends=b, threads=1) for b in ("cpu", "ref")]
    errors: List[BaseException] = []

    def work(s: engine.Session) -> None:
        try:
            for _ in range(3):
                for x, w in zip(xs, want):
                    got = s.run(feeds={"image": x})
                    for g, v in zip(got, w):
                        np.testing.assert_allclose(g, v, rtol=1e-4, atol=1e-5)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_one_session_shared(torch_models: dict) -> None:
    s = engine.Session(torch_models["cnn"], backends="cpu", threads=1)
    xs = _inputs(8, 11)
    want = [s.run(feeds={"image": x}) for x in xs]
    errors: List[BaseException] = []

    def work(offset: int) -> None:
        try:
            for r in range(4):
                k = (offset + r) % len(xs)
                got = s.run(feeds={"image": xs[k]})
                for g, v in zip(got, want[k]):
                    np.testing.assert_array_equal(g, v)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_gil_released_during_run(torch_models: dict) -> None:
    """While one thread runs a model, another keeps running Python code.

    A run that held the GIL would stall the loop below for whole runs
    (about 0.1 s each here): the time spent in stalls over 50 ms stays
    well under half of the runs' time when the GIL is released.
    """
    s = engine.Session(torch_models["cnn"], backends="ref")
    x = np.zeros((4, 3, 160, 160), np.float32)
    s.run(feeds={"image": x})  # compile this shape first
    t0 = time.perf_counter()
    s.run(feeds={"image": x})
    one = time.perf_counter() - t0
    runs = max(2, min(20, int(0.8 / max(one, 1e-3))))
    done = threading.Event()

    def work() -> None:
        for _ in range(runs):
            s.run(feeds={"image": x})
        done.set()

    t = threading.Thread(target=work)
    start = last = time.perf_counter()
    stalled = 0.0
    t.start()
    while not done.is_set():
        time.sleep(0.002)
        now = time.perf_counter()
        if now - last > 0.05:
            stalled += now - last
        last = now
    total = time.perf_counter() - start
    t.join()
    if one < 0.05:
        pytest.skip(f"a run takes {one * 1000:.1f} ms here: too short to tell a held GIL from scheduling")
    assert stalled < 0.5 * total, (stalled, total, one)


def test_first_sessions_of_a_process_at_once(lenet: str) -> None:
    """Two threads of a new process create their first sessions together.

    Each session's context opens every loaded backend, and POCL's first
    device probe is not safe from two threads at once (this crashed 18
    times in 20 before the opencl module serialised opening). A fresh
    interpreter each time, since only a process's first opening races.
    """
    import os
    import subprocess
    import sys

    code = (
        "import threading, engine\n"
        "errs = []\n"
        "def mk():\n"
        "    try:\n"
        f"        engine.Session({lenet!r}, backends=('cpu',))\n"
        "    except Exception as e:\n"
        "        errs.append(e)\n"
        "ts = [threading.Thread(target=mk) for _ in range(2)]\n"
        "[t.start() for t in ts]\n"
        "[t.join() for t in ts]\n"
        "assert not errs, errs\n"
    )
    for _ in range(6):
        p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
