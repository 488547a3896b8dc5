"""engine-serve: a model server speaking the Open Inference Protocol v2 (REST).

The protocol of KServe, Triton and Seldon MLServer ("V2 inference
protocol"), so that serving platforms can route to and scale out the
engine:

    GET  /v2/health/live                         200 while the process serves
    GET  /v2/health/ready                        200 once every model is loaded
    GET  /v2                                     server metadata
    GET  /v2/models/{name}[/versions/{v}]        model metadata
    GET  /v2/models/{name}[/versions/{v}]/ready  model readiness
    POST /v2/models/{name}[/versions/{v}]/infer  inference (JSON tensors, or
                                                 the binary tensor data extension)

Each model is served by a pool of Sessions: a request takes a free one,
runs on it in a worker thread (libengine runs without the GIL) and gives it
back, so N sessions serve N requests at the same time and no Session is
ever used by two threads at once.

Run: ``python3 -m engine.serve MODEL.onnx [NAME=MODEL.onnx ...] [--port 8000]``
(or the installed ``engine-serve``). FastAPI and uvicorn are imported by
this module only: ``import engine`` does not need them. See docs/SERVING.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import __version__
from ._errors import EngineError, InvalidArgumentError, InvalidModelError, NotFoundError, ParseError, ShapeError
from ._session import Session, TensorInfo

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as e:  # pragma: no cover - depends on the machine
    raise ImportError(
        f"engine.serve needs FastAPI and uvicorn (Debian: python3-fastapi python3-uvicorn): {e}"
    ) from e

SERVER_NAME = "engine"
MODEL_VERSION = "1"
DEFAULT_MAX_REQUEST_BYTES = 64 << 20
HEADER_LENGTH = "inference-header-content-length"
INLINE_BYTES = 64 << 10  # requests (and answers of a quarter of it) coded on the event loop itself

# protocol datatype <-> numpy dtype. BYTES (strings) and BF16 have no engine tensor type.
_DATATYPES: Dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
_NAMES: Dict[np.dtype, str] = {v: k for k, v in _DATATYPES.items()}
_KNOWN_UNSUPPORTED = ("BYTES", "BF16")


class ProtocolError(Exception):
    """A request the server refuses: an HTTP status and the message of the {"error": ...} body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def datatype_name(dtype: Optional[np.dtype]) -> str:
    """The protocol's name of a numpy dtype ("FP32"); "" for one it lacks."""
    if dtype is None:
        return ""
    return _NAMES.get(np.dtype(dtype), "")


# ---- models -----------------------------------------------------------------


@dataclass
class ModelPool:
    """One served model: its sessions (a queue of free ones) and what it takes and gives."""

    name: str
    path: str
    sessions: List[Session]
    inputs: List[TensorInfo]
    outputs: List[Tuple[str, Optional[np.dtype], Optional[Tuple[int, ...]]]]
    _free: "Optional[asyncio.Queue[Session]]" = None  # made in the server's event loop (Python < 3.10 binds one)

    @classmethod
    def load(cls, name: str, path: str, count: int, **session_options: Any) -> "ModelPool":
        if count < 1:
            raise ValueError("a model needs at least one session")
        sessions = [Session(path, **session_options) for _ in range(count)]
        first = sessions[0]
        return cls(name=name, path=path, sessions=sessions, inputs=first.inputs(), outputs=_model_outputs(first))

    async def run(self, feeds: Dict[str, np.ndarray], names: List[str]) -> List[np.ndarray]:
        """Runs on a free session (waiting for one) in a worker thread."""
        if self._free is None:
            self._free = asyncio.Queue()
            for s in self.sessions:
                self._free.put_nowait(s)
        session = await self._free.get()
        try:
            results = await run_in_threadpool(session.run, names, feeds)
        finally:
            self._free.put_nowait(session)
        self._learn(names, results)
        return results

    def _learn(self, names: List[str], results: Sequence[np.ndarray]) -> None:
        """A dynamic model's output types and ranks are known per run: keep what a run showed."""
        got = dict(zip(names, results))
        for k, (name, dtype, shape) in enumerate(self.outputs):
            if (dtype is None or shape is None) and name in got:
                arr = got[name]
                self.outputs[k] = (name, dtype or arr.dtype, shape or (-1,) * arr.ndim)

    def close(self) -> None:
        for s in self.sessions:
            s.close()


def _model_outputs(session: Session) -> List[Tuple[str, Optional[np.dtype], Optional[Tuple[int, ...]]]]:
    """(name, dtype, shape) of each output as the model declares it: -1 for a dim known per run,
    shape None where the rank too is known per run (a dynamic model's outputs)."""
    import ctypes

    from . import _lib as L

    out = []
    for k, name in enumerate(session._out_names):
        info = L.TensorInfo()
        st = session._lib.engine_model_output_info(session._model, k, ctypes.byref(info))
        shape: Optional[Tuple[int, ...]] = None
        if st == L.OK and info.rank >= 0:
            shape = tuple(int(info.dims[d]) if info.dims[d] >= 0 else -1 for d in range(info.rank))
        out.append((name, session._out_dtypes[k], shape))
    return out


def _protocol_shape(shape: Optional[Tuple[Any, ...]]) -> List[int]:
    if shape is None:
        return [-1]
    return [d if isinstance(d, int) else -1 for d in shape]


# ---- decoding a request -----------------------------------------------------


def _parameters(obj: Dict[str, Any], where: str) -> Dict[str, Any]:
    p = obj.get("parameters", {})
    if p is None:
        return {}
    if not isinstance(p, dict):
        raise ProtocolError(400, f"{where}: 'parameters' must be an object")
    return p


def _shape_of(t: Dict[str, Any], where: str) -> Tuple[int, ...]:
    shape = t.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise ProtocolError(400, f"{where}: 'shape' must be a list of integers")
    if any(d < 0 for d in shape):
        raise ProtocolError(400, f"{where}: shape {shape} has a negative dim")
    return tuple(shape)


def _check_against_model(info: TensorInfo, shape: Tuple[int, ...], bound: Dict[str, Tuple[int, str]],
                         where: str) -> None:
    """Rank and fixed dims as the model has them; one value per symbolic dim across inputs."""
    model_shape = info.shape or ()
    if len(shape) != len(model_shape):
        raise ProtocolError(400, f"{where}: shape {list(shape)} has rank {len(shape)}, the model's input has "
                                 f"rank {len(model_shape)} (shape {_protocol_shape(info.shape)})")
    for axis, (got, want) in enumerate(zip(shape, model_shape)):
        if isinstance(want, int):
            if got != want:
                raise ProtocolError(400, f"{where}: dim {axis} is {got}, the model's input has {want} there "
                                         f"(shape {_protocol_shape(info.shape)})")
        elif isinstance(want, str):
            if want in bound and bound[want][0] != got:
                raise ProtocolError(400, f"{where}: dim {axis} ('{want}') is {got}, but {bound[want][1]} gave "
                                         f"'{want}' the value {bound[want][0]}")
            bound.setdefault(want, (got, where))


def _json_values(data: Any, dtype: np.dtype, count: int, where: str) -> np.ndarray:
    """The 'data' of a JSON tensor (flat or nested, row-major) as a flat array of dtype."""
    if not isinstance(data, list):
        data = [data]
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError, RecursionError) as e:
        raise ProtocolError(400, f"{where}: 'data' is not a regular array of numbers ({e})") from None
    if arr.size != count:
        raise ProtocolError(400, f"{where}: 'data' holds {arr.size} elements, the shape needs {count}")
    if count == 0:
        return np.zeros(0, dtype)
    kind = arr.dtype.kind
    if dtype.kind == "b":
        ok = kind == "b"
    elif dtype.kind in "iu":
        ok = kind in "iu"
    else:
        ok = kind in "iuf"
    if not ok:
        what = {"b": "booleans", "i": "integers", "u": "integers", "f": "numbers", "U": "strings",
                "O": "mixed or out-of-range values"}.get(kind, f"values of kind {arr.dtype}")
        raise ProtocolError(400, f"{where}: 'data' holds {what}, which do not fit datatype {_NAMES[dtype]}")
    if dtype.kind in "iu":
        lim = np.iinfo(dtype)
        if arr.min() < lim.min or arr.max() > lim.max:
            raise ProtocolError(400, f"{where}: 'data' has values outside the range of {_NAMES[dtype]}")
    return arr.astype(dtype, copy=False).reshape(-1)


@dataclass
class Decoded:
    feeds: Dict[str, np.ndarray]
    outputs: List[str]
    binary: List[bool]  # per requested output: in the binary section of the response
    request_id: Optional[str]


def decode_request(model: ModelPool, body: bytes, header_length: Optional[int]) -> Decoded:
    """Parses and checks an infer request (JSON, or JSON followed by binary tensor data)."""
    head = body if header_length is None else body[:header_length]
    try:
        req = json.loads(head)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(400, f"the request is not valid JSON: {e}") from None
    except RecursionError:
        raise ProtocolError(400, "the request's JSON is nested too deeply") from None
    if not isinstance(req, dict):
        raise ProtocolError(400, "the request must be a JSON object")
    request_id = req.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError(400, "'id' must be a string")
    params = _parameters(req, "the request")
    inputs = req.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError(400, "the request needs 'inputs', a non-empty list of tensors")

    by_name = {t.name: t for t in model.inputs}
    binary_at = 0 if header_length is None else header_length
    feeds: Dict[str, np.ndarray] = {}
    bound: Dict[str, Tuple[int, str]] = {}
    for k, t in enumerate(inputs):
        if not isinstance(t, dict):
            raise ProtocolError(400, f"inputs[{k}] must be an object")
        name = t.get("name")
        if not isinstance(name, str):
            raise ProtocolError(400, f"inputs[{k}] needs a 'name' (a string)")
        where = f"input '{name}'"
        if name not in by_name:
            raise ProtocolError(400, f"{where}: model '{model.name}' has no such input (its inputs: "
                                     f"{', '.join(by_name)})")
        if name in feeds:
            raise ProtocolError(400, f"{where} is given twice")
        info = by_name[name]
        datatype = t.get("datatype")
        if not isinstance(datatype, str):
            raise ProtocolError(400, f"{where} needs a 'datatype' (a string such as \"FP32\")")
        want = datatype_name(info.dtype)
        if datatype != want:
            if datatype not in _DATATYPES and datatype not in _KNOWN_UNSUPPORTED:
                raise ProtocolError(400, f"{where}: unknown datatype '{datatype}'")
            raise ProtocolError(400, f"{where}: datatype {datatype}, the model's input is {want or 'of a type the protocol lacks'}")
        dtype = _DATATYPES[datatype]
        shape = _shape_of(t, where)
        _check_against_model(info, shape, bound, where)
        count = math.prod(shape)
        tparams = _parameters(t, where)
        size = tparams.get("binary_data_size")
        if size is not None:
            if header_length is None:
                raise ProtocolError(400, f"{where}: 'binary_data_size' without the {HEADER_LENGTH} header")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ProtocolError(400, f"{where}: 'binary_data_size' must be a non-negative integer")
            if "data" in t:
                raise ProtocolError(400, f"{where}: both 'data' and 'binary_data_size'")
            if size != count * dtype.itemsize:
                raise ProtocolError(400, f"{where}: binary_data_size {size} bytes, the shape {list(shape)} of "
                                         f"{datatype} needs {count * dtype.itemsize}")
            if binary_at + size > len(body):
                raise ProtocolError(400, f"{where}: the body ends {binary_at + size - len(body)} bytes before "
                                         f"this tensor's binary data does")
            raw = body[binary_at:binary_at + size]
            binary_at += size
            arr = np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False)
            if dtype.kind == "b":
                arr = np.frombuffer(raw, dtype=np.uint8).astype(np.bool_)
        else:
            if "data" not in t:
                raise ProtocolError(400, f"{where} needs 'data' (or parameters.binary_data_size)")
            arr = _json_values(t["data"], dtype, count, where)
        feeds[name] = arr.reshape(shape)
    if header_length is not None and binary_at != len(body):
        raise ProtocolError(400, f"the body has {len(body) - binary_at} bytes of binary data that no input claims")
    missing = [n for n in by_name if n not in feeds]
    if missing:
        raise ProtocolError(400, f"model '{model.name}' needs input(s) {', '.join(missing)}")

    binary_default = params.get("binary_data_output", False)
    if not isinstance(binary_default, bool):
        raise ProtocolError(400, "parameters.binary_data_output must be true or false")
    out_names = [o[0] for o in model.outputs]
    requested = req.get("outputs")
    names: List[str] = []
    binary: List[bool] = []
    if requested is None:
        names = out_names
        binary = [binary_default] * len(names)
    else:
        if not isinstance(requested, list):
            raise ProtocolError(400, "'outputs' must be a list")
        for k, o in enumerate(requested):
            if not isinstance(o, dict) or not isinstance(o.get("name"), str):
                raise ProtocolError(400, f"outputs[{k}] must be an object with a 'name'")
            name = o["name"]
            if name not in out_names:
                raise ProtocolError(400, f"output '{name}': model '{model.name}' has no such output (its outputs: "
                                         f"{', '.join(out_names)})")
            if name in names:
                raise ProtocolError(400, f"output '{name}' is requested twice")
            b = _parameters(o, f"output '{name}'").get("binary_data", binary_default)
            if not isinstance(b, bool):
                raise ProtocolError(400, f"output '{name}': parameters.binary_data must be true or false")
            names.append(name)
            binary.append(b)
        if not names:
            names = out_names
            binary = [binary_default] * len(names)
    return Decoded(feeds=feeds, outputs=names, binary=binary, request_id=request_id)


def encode_response(model: ModelPool, dec: Decoded, results: Sequence[np.ndarray]) -> Tuple[bytes, Optional[int]]:
    """The response body, and the JSON header's length when binary data follows it."""
    outs = []
    chunks: List[bytes] = []
    for name, arr, binary in zip(dec.outputs, results, dec.binary):
        t: Dict[str, Any] = {"name": name, "datatype": datatype_name(arr.dtype), "shape": list(arr.shape)}
        if binary:
            raw = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
            t["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            t["data"] = arr.reshape(-1).tolist()
        outs.append(t)
    resp: Dict[str, Any] = {"model_name": model.name, "model_version": MODEL_VERSION, "outputs": outs}
    if dec.request_id is not None:
        resp["id"] = dec.request_id
    head = json.dumps(resp, separators=(",", ":")).encode("utf-8")
    if not chunks:
        return head, None
    return b"".join([head] + chunks), len(head)


# ---- HTTP -------------------------------------------------------------------


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _engine_status(e: EngineError) -> int:
    """400 for what the request got wrong (shapes, values, names), 500 for the engine's own failures."""
    if isinstance(e, (ShapeError, InvalidArgumentError, NotFoundError, ParseError, InvalidModelError)):
        return 400
    return 500


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it passes `limit` bytes (by Content-Length before reading any of it,
    else by the running count). An over-long body is read to its end and dropped, unstored, so that the
    client gets the 413 instead of a reset connection."""
    declared = request.headers.get("content-length")
    too_big = False
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise ProtocolError(400, f"Content-Length '{declared}' is not a number") from None
        too_big = n > limit
    buf = bytearray()
    async for chunk in request.stream():
        if too_big:
            continue
        buf += chunk
        if len(buf) > limit:
            too_big = True
            buf = bytearray()
    if too_big:
        raise ProtocolError(413, f"the request body is larger than the server's limit of {limit} bytes "
                                 f"(engine-serve --max-request-bytes)")
    return bytes(buf)


def _check_content_type(request: Request, binary: bool) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "" or ctype == "application/json" or ctype.endswith("+json"):
        return
    if binary and ctype == "application/octet-stream":
        return
    allowed = "application/json or application/octet-stream" if binary else "application/json"
    raise ProtocolError(415, f"content type '{ctype}' for an infer request; this one takes {allowed}")


def create_app(models: Dict[str, ModelPool], max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> FastAPI:
    """The FastAPI application serving `models` (name -> pool)."""
    app = FastAPI(title="engine-serve", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(ProtocolError)
    async def protocol_error(_request: Request, e: ProtocolError) -> JSONResponse:
        return _error(e.status, e.message)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, e: Exception) -> JSONResponse:
        # anything else is the server's fault: still the protocol's error body
        return _error(500, f"internal error: {type(e).__name__}: {e}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail))

    def model_of(name: str, version: Optional[str]) -> ModelPool:
        model = models.get(name)
        if model is None:
            raise ProtocolError(404, f"no model '{name}' (served: {', '.join(models)})")
        if version is not None and version != MODEL_VERSION:
            raise ProtocolError(404, f"model '{name}' has no version '{version}' (it has '{MODEL_VERSION}')")
        return model

    @app.get("/v2/health/live")
    async def live() -> Dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready() -> Dict[str, bool]:
        return {"ready": True}  # the models are loaded before the server listens

    @app.get("/v2")
    async def server_metadata() -> Dict[str, Any]:
        return {"name": SERVER_NAME, "version": __version__, "extensions": ["binary_tensor_data"]}

    def metadata(name: str, version: Optional[str]) -> Dict[str, Any]:
        m = model_of(name, version)
        return {
            "name": m.name,
            "versions": [MODEL_VERSION],
            "platform": "onnx",
            "inputs": [{"name": t.name, "datatype": datatype_name(t.dtype), "shape": _protocol_shape(t.shape)}
                       for t in m.inputs],
            "outputs": [{"name": n, "datatype": datatype_name(d), "shape": _protocol_shape(s)}
                        for n, d, s in m.outputs],
        }

    @app.get("/v2/models/{name}")
    async def model_metadata(name: str) -> Dict[str, Any]:
        return metadata(name, None)

    @app.get("/v2/models/{name}/versions/{version}")
    async def model_version_metadata(name: str, version: str) -> Dict[str, Any]:
        return metadata(name, version)

    @app.get("/v2/models/{name}/ready")
    async def model_ready(name: str) -> Dict[str, Any]:
        return {"name": model_of(name, None).name, "ready": True}

    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_version_ready(name: str, version: str) -> Dict[str, Any]:
        return {"name": model_of(name, version).name, "ready": True}

    async def infer(request: Request, name: str, version: Optional[str]) -> Response:
        model = model_of(name, version)
        header = request.headers.get(HEADER_LENGTH)
        _check_content_type(request, header is not None)
        body = await _read_body(request, max_request_bytes)
        header_length: Optional[int] = None
        if header is not None:
            try:
                header_length = int(header)
            except ValueError:
                raise ProtocolError(400, f"{HEADER_LENGTH} '{header}' is not a number") from None
            if not 0 <= header_length <= len(body):
                raise ProtocolError(400, f"{HEADER_LENGTH} {header_length} is outside the body's "
                                         f"{len(body)} bytes")
        # Coding a small request or answer takes less than a hop to a worker thread and back: it stays on
        # the event loop; big ones go to a worker, so that the loop keeps serving others meanwhile.
        if len(body) <= INLINE_BYTES:
            dec = decode_request(model, body, header_length)
        else:
            dec = await run_in_threadpool(decode_request, model, body, header_length)
        try:
            results = await model.run(dec.feeds, dec.outputs)
        except EngineError as e:
            raise ProtocolError(_engine_status(e), e.message) from None
        if sum(r.nbytes for r in results) <= INLINE_BYTES // 4:
            content, head_len = encode_response(model, dec, results)
        else:
            content, head_len = await run_in_threadpool(encode_response, model, dec, results)
        if head_len is None:
            return Response(content, media_type="application/json")
        return Response(content, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(head_len)})

    @app.post("/v2/models/{name}/infer")
    async def model_infer(request: Request, name: str) -> Response:
        return await infer(request, name, None)

    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def model_version_infer(request: Request, name: str, version: str) -> Response:
        return await infer(request, name, version)

    return app


# ---- command line -----------------------------------------------------------


def parse_model_arg(arg: str) -> Tuple[str, str]:
    """'name=path' or 'path' (the name is the file's stem)."""
    if "=" in arg:
        name, path = arg.split("=", 1)
    else:
        name, path = Path(arg).stem, arg
    if not name or "/" in name:
        raise ValueError(f"'{arg}': a model name must be non-empty and without '/'")
    return name, path


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="engine-serve",
        description="Serve ONNX models over the Open Inference Protocol v2 (KServe/Triton REST).")
    ap.add_argument("models", nargs="+", metavar="MODEL", help="an ONNX file, or NAME=FILE")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    ap.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    ap.add_argument("--backend", default="opencl,cpu", help="backends in priority order, or 'auto' (default opencl,cpu)")
    ap.add_argument("--sessions", type=int, default=2, help="sessions per model: requests run at once (default 2)")
    ap.add_argument("--threads", type=int, default=0,
                    help="cpu backend threads per session (default 0: the cores divided among the sessions)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    ap.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES,
                    help=f"largest request body accepted, else 413 (default {DEFAULT_MAX_REQUEST_BYTES})")
    ap.add_argument("--max-tensor-bytes", type=int, default=0,
                    help="refuse models with bigger tensors or activations (engine option; 0: no limit)")
    ap.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    args = ap.parse_args(argv)

    try:
        import uvicorn
    except ImportError as e:
        print(f"engine-serve: needs uvicorn (Debian: python3-uvicorn): {e}", file=sys.stderr)
        return 2
    if args.sessions < 1:
        ap.error("--sessions must be at least 1")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.sessions)
    models: Dict[str, ModelPool] = {}
    try:
        for arg in args.models:
            name, path = parse_model_arg(arg)
            if name in models:
                raise ValueError(f"two models are named '{name}' (use NAME=FILE)")
            models[name] = ModelPool.load(name, path, args.sessions, backends=args.backend, threads=threads,
                                          precision=args.precision, max_tensor_bytes=args.max_tensor_bytes)
    except (EngineError, ValueError) as e:
        print(f"engine-serve: {e}", file=sys.stderr)
        return 1
    app = create_app(models, max_request_bytes=args.max_request_bytes)
    for m in models.values():
        print(f"engine-serve: model '{m.name}' from {m.path}: {len(m.sessions)} session(s), {threads} thread(s) each",
              file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    for m in models.values():
        m.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
