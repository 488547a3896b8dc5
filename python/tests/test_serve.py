"""engine-serve (engine.serve): the Open Inference Protocol v2 over real HTTP on loopback.

One server process (``python3 -m engine.serve``, as a user starts it) serves
LeNet-5 and the two torch models of conftest on the cpu backend, with two
sessions per model and a 1 MiB request limit; the tests talk to it with
python3-requests and compare with a Session of their own (exact: same
backend, same threads) and with float64 PyTorch.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
import pytest

import engine

from conftest import rel_l2

pytest.importorskip("fastapi", reason="engine-serve needs python3-fastapi")
pytest.importorskip("uvicorn", reason="engine-serve needs python3-uvicorn")
requests = pytest.importorskip("requests", reason="the serving tests use python3-requests as the client")

LIMIT = 1 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(lenet: str, torch_models: Dict[str, object], loaded_backends: engine.Backends,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if "cpu" not in loaded_backends:
        pytest.skip("the cpu backend is not loaded here")
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    cmd = [sys.executable, "-m", "engine.serve", f"lenet={lenet}", f"cnn={torch_models['cnn']}",
           f"two={torch_models['two']}", "--port", str(port), "--backend", "cpu", "--sessions", "2",
           "--threads", "1", "--max-request-bytes", str(LIMIT), "--log-level", "warning"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"engine-serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if requests.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"engine-serve did not become ready:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def direct(lenet: str, torch_models: Dict[str, object]) -> Dict[str, engine.Session]:
    """Sessions as the server has them, to compare with."""
    return {
        "lenet": engine.Session(lenet, backends=("cpu",), threads=1),
        "cnn": engine.Session(str(torch_models["cnn"]), backends=("cpu",), threads=1),
        "two": engine.Session(str(torch_models["two"]), backends=("cpu",), threads=1),
    }


def tensor(name: str, arr: np.ndarray, datatype: str = "FP32") -> Dict[str, Any]:
    return {"name": name, "shape": list(arr.shape), "datatype": datatype, "data": arr.reshape(-1).tolist()}


def infer(url: str, model: str, body: Any, **kw: Any) -> "requests.Response":
    return requests.post(f"{url}/v2/models/{model}/infer", json=body, timeout=60, **kw)


def as_array(t: Dict[str, Any]) -> np.ndarray:
    dtypes = {"FP32": np.float32, "INT64": np.int64, "FP16": np.float16}
    return np.asarray(t["data"], dtype=dtypes[t["datatype"]]).reshape(t["shape"])


def binary_request(inputs: List[Tuple[str, np.ndarray, str]], extra: Optional[Dict[str, Any]] = None) -> Tuple[bytes, int]:
    """A body of the binary tensor data extension: the JSON header, then each input's bytes."""
    head: Dict[str, Any] = {"inputs": [
        {"name": n, "shape": list(a.shape), "datatype": d, "parameters": {"binary_data_size": a.nbytes}}
        for n, a, d in inputs]}
    head.update(extra or {})
    h = json.dumps(head).encode()
    return h + b"".join(np.ascontiguousarray(a).tobytes() for _, a, _ in inputs), len(h)


def split_binary(r: "requests.Response") -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """A binary-extension response: its JSON header and the binary outputs by name."""
    n = int(r.headers["Inference-Header-Content-Length"])
    head = json.loads(r.content[:n])
    at = n
    arrays = {}
    for t in head["outputs"]:
        size = t.get("parameters", {}).get("binary_data_size")
        if size is not None:
            dt = {"FP32": np.float32, "INT64": np.int64}[t["datatype"]]
            arrays[t["name"]] = np.frombuffer(r.content[at:at + size], dtype=dt).reshape(t["shape"])
            at += size
    assert at == len(r.content)
    return head, arrays


# ---- health and metadata


def test_health_and_server_metadata(server: str) -> None:
    for path, key in (("/v2/health/live", "live"), ("/v2/health/ready", "ready")):
        r = requests.get(server + path, timeout=10)
        assert r.status_code == 200 and r.json()[key] is True
    meta = requests.get(server + "/v2", timeout=10).json()
    assert meta["name"] == "engine" and meta["version"] == engine.__version__
    assert "binary_tensor_data" in meta["extensions"]


def test_model_metadata_and_ready(server: str) -> None:
    m = requests.get(server + "/v2/models/lenet", timeout=10).json()
    assert m["name"] == "lenet" and m["versions"] == ["1"] and m["platform"] == "onnx"
    assert m["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [1, 1, 32, 32]}]
    assert m["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [1, 10]}]
    assert requests.get(server + "/v2/models/lenet/versions/1", timeout=10).json() == m
    cnn = requests.get(server + "/v2/models/cnn", timeout=10).json()
    assert cnn["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, -1, -1]}]
    assert [o["name"] for o in cnn["outputs"]] == ["logits", "features"]
    # a dynamic model's output types are what its file declares, before any run
    assert cnn["outputs"][0]["datatype"] == "FP32"
    x = np.zeros((1, 3, 16, 16), np.float32)
    assert infer(server, "cnn", {"inputs": [tensor("image", x)], "outputs": [{"name": "logits"}]}).status_code == 200
    cnn = requests.get(server + "/v2/models/cnn", timeout=10).json()
    assert cnn["outputs"][0] == {"name": "logits", "datatype": "FP32", "shape": [-1, 10]}
    for path in ("/v2/models/cnn/ready", "/v2/models/cnn/versions/1/ready"):
        r = requests.get(server + path, timeout=10)
        assert r.status_code == 200 and r.json()["ready"] is True


# ---- inference


def test_infer_json_matches_session_and_torch(server: str, direct: Dict[str, engine.Session],
                                              torch_models: Dict[str, object]) -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 3, 24, 40)).astype(np.float32)
    r = infer(server, "cnn", {"id": "req-1", "inputs": [tensor("image", x)]})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["id"] == "req-1" and body["model_name"] == "cnn" and body["model_version"] == "1"
    got = {t["name"]: as_array(t) for t in body["outputs"]}
    assert list(got) == ["logits", "features"]
    want = direct["cnn"].run(feeds={"image": x})
    np.testing.assert_array_equal(got["logits"], want[0])
    np.testing.assert_array_equal(got["features"], want[1])
    with torch.no_grad():
        ref = torch_models["cnn_torch"](torch.from_numpy(x.astype(np.float64)))
    assert rel_l2(got["logits"], ref[0].numpy()) < 1e-4
    assert rel_l2(got["features"], ref[1].numpy()) < 1e-4


def test_infer_nested_data_versioned_path_and_two_inputs(server: str, direct: Dict[str, engine.Session]) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
    y = rng.standard_normal((3, 4, 8, 8)).astype(np.float32)
    body = {"inputs": [{"name": "y", "shape": [3, 4, 8, 8], "datatype": "FP32", "data": y.tolist()},
                       tensor("x", x)]}
    r = requests.post(server + "/v2/models/two/versions/1/infer", json=body, timeout=60)
    assert r.status_code == 200, r.text
    (z,) = r.json()["outputs"]
    np.testing.assert_array_equal(as_array(z), direct["two"].run(feeds={"x": x, "y": y})[0])


def test_requested_outputs_subset(server: str, direct: Dict[str, engine.Session]) -> None:
    x = np.random.default_rng(3).standard_normal((1, 3, 16, 16)).astype(np.float32)
    r = infer(server, "cnn", {"inputs": [tensor("image", x)], "outputs": [{"name": "features"}]})
    assert r.status_code == 200, r.text
    outs = r.json()["outputs"]
    assert [o["name"] for o in outs] == ["features"]
    np.testing.assert_array_equal(as_array(outs[0]), direct["cnn"].run(["features"], {"image": x})[0])


def test_binary_inputs_and_outputs(server: str, direct: Dict[str, engine.Session]) -> None:
    x = np.random.default_rng(4).standard_normal((2, 3, 20, 12)).astype(np.float32)
    want = direct["cnn"].run(feeds={"image": x})
    body, n = binary_request([("image", x, "FP32")], {"parameters": {"binary_data_output": True}})
    r = requests.post(server + "/v2/models/cnn/infer", data=body, timeout=60,
                      headers={"Inference-Header-Content-Length": str(n), "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    head, arrays = split_binary(r)
    assert [o["name"] for o in head["outputs"]] == ["logits", "features"]
    assert all("data" not in o for o in head["outputs"])
    np.testing.assert_array_equal(arrays["logits"], want[0])
    np.testing.assert_array_equal(arrays["features"], want[1])

    # binary in, one output binary and one JSON (per-output parameter)
    body, n = binary_request([("image", x, "FP32")], {"outputs": [
        {"name": "features", "parameters": {"binary_data": True}}, {"name": "logits"}]})
    r = requests.post(server + "/v2/models/cnn/infer", data=body, timeout=60,
                      headers={"Inference-Header-Content-Length": str(n)})
    assert r.status_code == 200, r.text
    head, arrays = split_binary(r)
    assert [o["name"] for o in head["outputs"]] == ["features", "logits"]
    np.testing.assert_array_equal(arrays["features"], want[1])
    np.testing.assert_array_equal(as_array(head["outputs"][1]), want[0])

    # JSON in, binary out
    d = np.random.default_rng(5).random((1, 1, 32, 32), dtype=np.float32)
    r = infer(server, "lenet", {"inputs": [tensor("input", d)],
                                "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]})
    assert r.status_code == 200, r.text
    head, arrays = split_binary(r)
    np.testing.assert_array_equal(arrays["logits"], direct["lenet"].run(feeds={"input": d})[0])


# ---- errors


def error_of(r: "requests.Response", status: int, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    msg = r.json()["error"]
    assert isinstance(msg, str) and msg
    for w in words:
        assert w in msg, msg
    return msg


def test_not_found(server: str) -> None:
    error_of(requests.get(server + "/v2/models/nope", timeout=10), 404, "nope")
    error_of(requests.get(server + "/v2/models/lenet/versions/7", timeout=10), 404, "version")
    error_of(requests.get(server + "/v2/models/nope/ready", timeout=10), 404)
    x = np.zeros((1, 1, 32, 32), np.float32)
    error_of(infer(server, "nope", {"inputs": [tensor("input", x)]}), 404, "nope")
    error_of(requests.post(server + "/v2/models/lenet/versions/2/infer", json={"inputs": [tensor("input", x)]},
                           timeout=10), 404, "version")
    error_of(requests.get(server + "/v2/elsewhere", timeout=10), 404)
    error_of(requests.get(server + "/v2/models/lenet/infer", timeout=10), 405)


def test_malformed_requests(server: str) -> None:
    x = np.zeros((1, 1, 32, 32), np.float32)
    good = tensor("input", x)
    post = lambda body: infer(server, "lenet", body)  # noqa: E731
    error_of(requests.post(server + "/v2/models/lenet/infer", data=b"{not json", timeout=10), 400, "JSON")
    error_of(post([1, 2]), 400, "object")
    error_of(post({}), 400, "inputs")
    error_of(post({"inputs": [dict(good, name="image")]}), 400, "no such input")
    error_of(post({"inputs": [good, good]}), 400, "twice")
    error_of(post({"inputs": [dict(good, datatype="INT64")]}), 400, "datatype")
    error_of(post({"inputs": [dict(good, datatype="FLOAT")]}), 400, "unknown datatype")
    error_of(post({"inputs": [dict(good, datatype="BYTES")]}), 400, "datatype")
    error_of(post({"inputs": [dict(good, shape=[1, 1, 32])]}), 400, "rank")
    error_of(post({"inputs": [dict(good, shape=[1, 1, 32, 31], data=[0.0] * 992)]}), 400, "dim 3")
    error_of(post({"inputs": [dict(good, shape=[1, 1, 32, "32"])]}), 400, "shape")
    error_of(post({"inputs": [dict(good, shape=[1, 1, -32, -32])]}), 400, "negative")
    error_of(post({"inputs": [dict(good, data=[0.0] * 1000)]}), 400, "1000", "1024")
    error_of(post({"inputs": [dict(good, data=["a"] * 1024)]}), 400, "strings")
    error_of(post({"inputs": [dict(good, data=[[0.0, 1.0], [2.0]])]}), 400, "data")
    error_of(post({"inputs": [{k: v for k, v in good.items() if k != "data"}]}), 400, "data")
    error_of(post({"inputs": [good], "outputs": [{"name": "nothing"}]}), 400, "no such output")
    error_of(post({"inputs": [good], "outputs": "logits"}), 400, "outputs")
    error_of(post({"inputs": [good], "parameters": {"binary_data_output": "yes"}}), 400, "binary_data_output")
    error_of(post({"inputs": [good], "id": 5}), 400, "id")
    deep = b'{"inputs": [{"name": "input", "shape": [1, 1, 32, 32], "datatype": "FP32", "data": ' + \
        b"[" * 100000 + b"]" * 100000 + b"}]}"
    error_of(requests.post(server + "/v2/models/lenet/infer", data=deep, timeout=30), 400)
    deeper: Any = [0.0] * 1024
    for _ in range(40):  # deeper than numpy's 32 dims
        deeper = [deeper]
    nested = dict(good, data=deeper)
    error_of(post({"inputs": [nested]}), 400, "data")
    # a symbolic dim bound to two values across inputs
    two = {"inputs": [tensor("x", np.zeros((2, 3, 8, 8), np.float32)), tensor("y", np.zeros((3, 4, 8, 8), np.float32))]}
    error_of(infer(server, "two", two), 400, "batch")
    error_of(infer(server, "two", {"inputs": [two["inputs"][0]]}), 400, "needs input")


def test_binary_errors(server: str) -> None:
    x = np.zeros((1, 1, 32, 32), np.float32)
    url = server + "/v2/models/lenet/infer"
    body, n = binary_request([("input", x, "FP32")])
    hdr = lambda v: {"Inference-Header-Content-Length": str(v)}  # noqa: E731
    error_of(requests.post(url, data=body[:-4], headers=hdr(n), timeout=10), 400, "body ends")
    error_of(requests.post(url, data=body + b"xx", headers=hdr(n), timeout=10), 400, "no input claims")
    error_of(requests.post(url, data=body, headers=hdr(len(body) + 1), timeout=10), 400, "outside")
    error_of(requests.post(url, data=body, headers=hdr("ten"), timeout=10), 400, "not a number")
    error_of(requests.post(url, data=body, headers=hdr(n - 1), timeout=10), 400, "JSON")
    bad, m = binary_request([("input", x[..., :16], "FP32")])
    head = json.loads(bad[:m])
    head["inputs"][0]["shape"] = [1, 1, 32, 32]
    h = json.dumps(head).encode()
    error_of(requests.post(url, data=h + bad[m:], headers=hdr(len(h)), timeout=10), 400, "binary_data_size")
    # binary_data_size without the header
    error_of(requests.post(url, data=body[:n], timeout=10), 400, "header")


def test_content_type_and_size_limits(server: str) -> None:
    url = server + "/v2/models/lenet/infer"
    x = np.zeros((1, 1, 32, 32), np.float32)
    error_of(requests.post(url, data=json.dumps({"inputs": [tensor("input", x)]}),
                           headers={"Content-Type": "text/plain"}, timeout=10), 415, "text/plain")
    body, n = binary_request([("input", x, "FP32")])
    error_of(requests.post(url, data=body, headers={"Inference-Header-Content-Length": str(n),
                                                    "Content-Type": "multipart/form-data"}, timeout=10), 415)
    big = b'{"inputs": [' + b" " * (LIMIT + 10) + b"]}"
    error_of(requests.post(url, data=big, timeout=30), 413, "limit")  # refused by Content-Length

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused by the running count
        for _ in range(4):
            yield b" " * (LIMIT // 2)

    error_of(requests.post(url, data=chunks(), timeout=30), 413, "limit")
    # the server is still fine
    assert infer(server, "lenet", {"inputs": [tensor("input", x)]}).status_code == 200


# ---- load: concurrent clients on loopback, no request lost or mixed up


def test_loopback_load(server: str, direct: Dict[str, engine.Session]) -> None:
    clients, per_client = 8, 50
    lenet = direct["lenet"]
    results: Dict[Tuple[int, int], Any] = {}
    errors: List[str] = []

    def client(c: int) -> None:
        http = requests.Session()
        try:
            for k in range(per_client):
                x = np.random.default_rng(1000 * c + k).standard_normal((1, 1, 32, 32)).astype(np.float32)
                rid = f"{c}-{k}"
                if k % 2:
                    body, n = binary_request([("input", x, "FP32")],
                                             {"id": rid, "parameters": {"binary_data_output": True}})
                    r = http.post(server + "/v2/models/lenet/infer", data=body, timeout=60,
                                  headers={"Inference-Header-Content-Length": str(n)})
                    head, arrays = split_binary(r)
                    results[(c, k)] = (r.status_code, head.get("id"), arrays["logits"])
                else:
                    r = http.post(server + "/v2/models/lenet/infer", timeout=60,
                                  json={"id": rid, "inputs": [tensor("input", x)]})
                    body_json = r.json()
                    results[(c, k)] = (r.status_code, body_json.get("id"), as_array(body_json["outputs"][0]))
        except Exception as e:  # reported below, with the others
            errors.append(f"client {c}: {e!r}")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert not errors, errors
    assert len(results) == clients * per_client
    for (c, k), (status, rid, logits) in results.items():
        assert status == 200 and rid == f"{c}-{k}"
        x = np.random.default_rng(1000 * c + k).standard_normal((1, 1, 32, 32)).astype(np.float32)
        np.testing.assert_array_equal(logits, lenet.run(feeds={"input": x})[0], err_msg=f"request {c}-{k}")
    print(f"loopback load: {clients * per_client} requests in {elapsed:.2f} s "
          f"({clients * per_client / elapsed:.0f}/s)")
