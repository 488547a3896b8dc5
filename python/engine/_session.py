"""Sessions, backends, plugins: the Python face of engine.h."""

from __future__ import annotations

import ctypes
import logging
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib as L
from ._errors import DTypeError, InternalError, InvalidArgumentError, NotFoundError, ShapeError, error_for

Dim = Union[int, str, None]
"""A dim: an int, a symbolic dim's name ("batch"), or None (unnamed, or not known yet)."""

# engine_dtype <-> numpy
_DTYPES: Dict[int, np.dtype] = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
}


def _np_dtype(code: int) -> Optional[np.dtype]:
    return _DTYPES.get(code)


def _enc(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


# ---- contexts ---------------------------------------------------------------

_plugins: List[str] = []
_plugins_lock = threading.Lock()


log = logging.getLogger("engine")
"""The engine's own messages (a backend that failed to start and was skipped, ...) go to this logger.

Silent unless the application configures logging (a library's NullHandler).
"""
log.addHandler(logging.NullHandler())

# engine_log_level -> logging level
_LOG_LEVELS = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)


def _log_message(_user: Optional[int], level: int, message: Optional[bytes]) -> None:
    try:
        log.log(_LOG_LEVELS[level] if 0 <= level < len(_LOG_LEVELS) else logging.DEBUG, L.text(message))
    except Exception:  # never let an exception cross back into C
        pass


_LOG_CALLBACK = L.LOG_FN(_log_message)  # one for the process: contexts only point at it


class _Context:
    """One engine_context: backends discovered, registered plugins loaded, messages sent to ``log``."""

    def __init__(self, max_tensor_bytes: int = 0, plugins: bool = True) -> None:
        self._lib = L.lib()
        opts = L.ContextOptions()
        opts.max_tensor_bytes = max_tensor_bytes
        self._log_cb = _LOG_CALLBACK  # held by every context: alive as long as any (interpreter exit included)
        opts.log = ctypes.cast(self._log_cb, ctypes.c_void_p)
        # the most detailed level the logger would print (ERROR = 0 ... DEBUG = 3)
        opts.log_level = max(k for k, lv in enumerate(_LOG_LEVELS) if k == 0 or log.isEnabledFor(lv))
        handle = ctypes.c_void_p()
        st = self._lib.engine_context_create(ctypes.byref(opts), ctypes.byref(handle))
        if st != L.OK:
            raise error_for(st, "cannot create an engine context")
        self.handle = handle
        if plugins:
            with _plugins_lock:
                paths = list(_plugins)
            for p in paths:
                self.check(self._lib.engine_context_load_plugin(self.handle, _enc(p)))

    def error(self) -> str:
        return L.text(self._lib.engine_context_error(self.handle))

    def check(self, status: int) -> None:
        """Raises the EngineError for a non-OK status, with the context's message."""
        if status != L.OK:
            raise error_for(status, self.error())

    def close(self) -> None:
        if self.handle:
            self._lib.engine_context_destroy(self.handle)
            self.handle = ctypes.c_void_p()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


# ---- module-level functions -----------------------------------------------


def version() -> str:
    """The version of the libengine that was loaded (engine_version), e.g. "0.1.0"."""
    return L.text(L.lib().engine_version())


@dataclass(frozen=True)
class BackendInfo:
    """A backend module that loaded: its name, score (higher is preferred by "auto") and device description."""

    name: str
    score: int
    description: str


@dataclass(frozen=True)
class Backends:
    """What :func:`backends` found: the modules that loaded and those refused (with the reason).

    Iterating yields the loaded backends; ``"cpu" in backends()`` tests a name.
    """

    loaded: Tuple[BackendInfo, ...]
    refused: Tuple[str, ...]
    plugins_refused: Tuple[str, ...] = ()

    def names(self) -> List[str]:
        """Names of the loaded backends, in load order."""
        return [b.name for b in self.loaded]

    def __iter__(self) -> Iterator[BackendInfo]:
        return iter(self.loaded)

    def __len__(self) -> int:
        return len(self.loaded)

    def __contains__(self, name: object) -> bool:
        return name in self.names()


def _lines(s: str) -> Tuple[str, ...]:
    return tuple(line for line in s.splitlines() if line.strip())


def backends() -> Backends:
    """The backend modules a new session can use, with descriptions, and the refused ones with reasons.

    Backends are searched as the C library does: ``$ENGINE_BACKEND_PATH``,
    the build tree of the libengine loaded, then ``<libdir>/engine/backends``.
    Describing a backend starts it (the opencl backend opens its device).
    """
    ctx = _Context()
    try:
        lib = ctx._lib
        out = []
        for k in range(lib.engine_backend_count(ctx.handle)):
            out.append(
                BackendInfo(
                    name=L.text(lib.engine_backend_name(ctx.handle, k)),
                    score=int(lib.engine_backend_score(ctx.handle, k)),
                    description=L.text(lib.engine_backend_description(ctx.handle, k)),
                )
            )
        return Backends(
            loaded=tuple(out),
            refused=_lines(L.text(lib.engine_backend_rejections(ctx.handle))),
            plugins_refused=_lines(L.text(lib.engine_plugin_rejections(ctx.handle))),
        )
    finally:
        ctx.close()


def load_plugin(path: str) -> int:
    """Registers a custom-op plugin (a shared library, docs/PLUGINS.md) for every Session made afterwards.

    The plugin is loaded at once into a scratch context so that a refusal
    (another plugin ABI, no entry point, a duplicate op) raises here, with
    the engine's reason. Plugins in ``$ENGINE_PLUGIN_PATH`` are loaded by the
    engine itself. Loading the same path twice is a no-op.

    Returns the number of ops the plugin registers.
    """
    path = str(path)
    with _plugins_lock:
        if path in _plugins:
            return _plugin_ops(path)
    n = _plugin_ops(path)
    with _plugins_lock:
        if path not in _plugins:
            _plugins.append(path)
    return n


def _plugin_ops(path: str) -> int:
    ctx = _Context(plugins=False)
    try:
        before = ctx._lib.engine_plugin_op_count(ctx.handle)
        ctx.check(ctx._lib.engine_context_load_plugin(ctx.handle, _enc(path)))
        return int(ctx._lib.engine_plugin_op_count(ctx.handle) - before)
    finally:
        ctx.close()


def plugins() -> List[str]:
    """Paths registered with :func:`load_plugin`, in order."""
    with _plugins_lock:
        return list(_plugins)


# ---- sessions ----------------------------------------------------------------


@dataclass(frozen=True)
class TensorInfo:
    """A model input or output.

    Attributes:
        name: the graph's name for it.
        dtype: its numpy dtype (None for a type numpy lacks).
        shape: a tuple of dims: ints, the names of symbolic dims ("batch"),
            or None for an unnamed or not yet known dim; None as a whole when
            even the rank is unknown (an output of a dynamic model before
            its first run).
        shape_param: True for an input whose values decide shapes (each
            distinct value compiles its own specialisation).
    """

    name: str
    dtype: Optional[np.dtype]
    shape: Optional[Tuple[Dim, ...]]
    shape_param: bool = False


@dataclass(frozen=True)
class NodeTiming:
    """One node of a profiled run (Session.profile)."""

    node: str
    op: str
    backend: str
    start_ms: float
    ms: float


ArrayLike = Any
Feeds = Union[Mapping[str, ArrayLike], Sequence[ArrayLike]]


class Session:
    """A model loaded and compiled for the engine's backends: run it many times.

    Each Session owns its own engine context (backends, plugins, model,
    compiled session), so two sessions run in parallel from two threads:
    the GIL is released for every call into the engine. The engine allows
    one thread at a time per context, so each Session serialises its own
    calls with a lock: a Session shared by threads gives correct results,
    one run after another.

    Args:
        path: the ONNX file.
        backends: backend names in priority order (a sequence, or a comma
            list), or "auto": every loaded backend by score. Nodes a backend
            does not support fall back to the next one. Unless strict, names
            of backends that are not loaded on this machine are skipped (as
            the engine skips a backend that fails to start); the default
            prefers opencl, then cpu, then whatever else is loaded.
        threads: worker threads for the cpu backend (0: one per core).
        precision: "fp32", "fp16" storage where a backend offers it (opencl), or
            "bf16" convolutions with float32 sums (cpu with AVX512_BF16 or AMX).
        shapes: shapes to compile at creation, ``{input name: dims}``, for a
            model with symbolic dims (the session option "shapes"); other
            shapes are compiled at the first run that uses them.
        strict: use the first named backend only, and fail instead of
            falling back (a node it cannot run, a backend that is not
            loaded or does not start: the EngineError says which).
        profile: record per-node timings of each run (:meth:`profile`).
        optimize: run the graph passes (folding, fusions) before compiling.
        device: a backend-specific device selector (opencl: "0:0"), or None.
        tune: opencl kernel auto-tuning: None (the default), "none", "fast", "full".
        max_specializations: compiled signatures kept for a dynamic model (0: the engine's 8).
        max_tensor_bytes: refuse models with a tensor, or activations in
            all, bigger than this many bytes (0: no limit).

    Raises:
        EngineError (a subclass per status) with the engine's message, e.g.
        EngineIOError for a missing file, UnsupportedError for an op the
        engine lacks.
    """

    def __init__(
        self,
        path: str,
        backends: Union[str, Sequence[str]] = ("opencl", "cpu"),
        threads: int = 0,
        precision: str = "fp32",
        shapes: Optional[Mapping[str, Sequence[int]]] = None,
        strict: bool = False,
        *,
        profile: bool = False,
        optimize: bool = True,
        device: Optional[str] = None,
        tune: Optional[str] = None,
        max_specializations: int = 0,
        max_tensor_bytes: int = 0,
        keep_weights: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self._session = ctypes.c_void_p()
        self._model = ctypes.c_void_p()
        self._ctx: Optional[_Context] = None
        self.path = str(path)
        self._profile = bool(profile)
        ctx = _Context(max_tensor_bytes=int(max_tensor_bytes))
        self._ctx = ctx
        lib = self._lib = ctx._lib
        ctx.check(lib.engine_model_load_file(ctx.handle, _enc(self.path), ctypes.byref(self._model)))
        if optimize:
            ctx.check(lib.engine_model_optimize(self._model, L.OPT_DEFAULT))

        # What the model takes and gives (fixed for the session's life).
        self._inputs: List[TensorInfo] = []
        self._in_raw: List[L.TensorInfo] = []
        for k in range(lib.engine_model_input_count(self._model)):
            info = L.TensorInfo()
            ctx.check(lib.engine_model_input_info(self._model, k, ctypes.byref(info)))
            dims: List[Dim] = []
            for d in range(info.rank):
                if info.dims[d] >= 0:
                    dims.append(int(info.dims[d]))
                else:
                    sym = L.text(lib.engine_model_input_dim_name(self._model, k, d))
                    dims.append(sym or None)
            self._in_raw.append(info)
            self._inputs.append(
                TensorInfo(
                    name=L.text(info.name),
                    dtype=_np_dtype(info.dtype),
                    shape=tuple(dims),
                    shape_param=bool(lib.engine_model_input_is_shape_param(self._model, k)),
                )
            )
        self._n_out = int(lib.engine_model_output_count(self._model))
        self._out_names: List[str] = []
        self._out_dtypes: List[Optional[np.dtype]] = []
        self._out_codes: List[int] = []
        for k in range(self._n_out):
            info = L.TensorInfo()
            ctx.check(lib.engine_model_output_info(self._model, k, ctypes.byref(info)))
            self._out_names.append(L.text(info.name))
            self._out_dtypes.append(_np_dtype(info.dtype))
            self._out_codes.append(int(info.dtype))
        self._in_index = {t.name: k for k, t in enumerate(self._inputs)}
        self._out_index = {n: k for k, n in enumerate(self._out_names)}

        opts = L.SessionOptions()
        opts.backends = _enc(self._backend_list(backends, strict))
        opts.strict = 1 if strict else 0
        opts.threads = int(threads)
        opts.device = _enc(device)
        opts.profile = 1 if profile else 0
        opts.precision = _enc(precision)
        opts.tune = _enc(tune)
        opts.shapes = _enc(self._shapes_option(shapes)) if shapes else None
        opts.max_specializations = int(max_specializations)
        opts.keep_weights = 1 if keep_weights else 0
        # Sized: a libengine of another version reads what both know.
        ctx.check(lib.engine_session_create_sized(self._model, ctypes.byref(opts), ctypes.sizeof(opts),
                                                  ctypes.byref(self._session)))

    # -- construction helpers

    def _backend_list(self, backends: Union[str, Sequence[str]], strict: bool) -> str:
        names = [b.strip() for b in (backends.split(",") if isinstance(backends, str) else backends)]
        names = [b for b in names if b]
        if not names or names == ["auto"]:
            return "auto"
        if strict:
            return ",".join(names)
        lib, h = self._lib, self._ctx.handle  # type: ignore[union-attr]
        loaded = {L.text(lib.engine_backend_name(h, k)) for k in range(lib.engine_backend_count(h))}
        kept = [b for b in names if b in loaded]
        return ",".join(kept) if kept else "auto"

    def _shapes_option(self, shapes: Mapping[str, Sequence[int]]) -> str:
        parts = []
        for name, dims in shapes.items():
            if name not in self._in_index:
                raise NotFoundError(
                    f"shapes: the model has no input '{name}' (inputs: {', '.join(self._in_index)})"
                )
            dims = tuple(int(d) for d in dims)
            parts.append(f"{name}=" + "x".join(str(d) for d in dims))
        return ";".join(parts)

    # -- lifetime

    def close(self) -> None:
        """Frees the session, model and context now (a closed Session raises on use)."""
        with self._lock:
            lib = getattr(self, "_lib", None)
            if lib is not None:
                if self._session:
                    lib.engine_session_free(self._session)
                if self._model:
                    lib.engine_model_free(self._model)
            self._session = ctypes.c_void_p()
            self._model = ctypes.c_void_p()
            if self._ctx is not None:
                self._ctx.close()
                self._ctx = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _live(self) -> _Context:
        if self._ctx is None or not self._session:
            raise InvalidArgumentError("the session is closed")
        return self._ctx

    # -- what the model is

    def inputs(self) -> List[TensorInfo]:
        """The model's inputs (initializers excluded), in graph order."""
        return list(self._inputs)

    def outputs(self) -> List[TensorInfo]:
        """The model's outputs, in graph order.

        Shapes are the session's current signature's (a static model's, or
        a dynamic model's after a run or with ``shapes``); None before a
        dynamic model's first run.
        """
        with self._lock:
            ctx = self._live()
            out = []
            for k in range(self._n_out):
                info = L.TensorInfo()
                st = self._lib.engine_session_output_info(self._session, k, ctypes.byref(info))
                if st == L.OK and info.rank >= 0:
                    shape: Optional[Tuple[Dim, ...]] = tuple(int(info.dims[d]) for d in range(info.rank))
                    dtype = _np_dtype(info.dtype)
                elif st == L.ERR_INVALID_ARGUMENT:  # no signature yet
                    shape, dtype = None, self._out_dtypes[k]
                else:
                    ctx.check(st)
                    shape, dtype = None, self._out_dtypes[k]
                out.append(TensorInfo(name=self._out_names[k], dtype=dtype, shape=shape))
            return out

    @property
    def dynamic(self) -> bool:
        """True when the model has symbolic dims or shape-parameter inputs (specialised per run shape)."""
        with self._lock:
            self._live()
            return bool(self._lib.engine_model_is_dynamic(self._model))

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one run (0 for a dynamic model, whose MACs depend on the shapes)."""
        with self._lock:
            self._live()
            return int(self._lib.engine_model_macs(self._model))

    # -- running

    def _prepare(self, k: int, value: ArrayLike) -> np.ndarray:
        """Input k as a C-contiguous, aligned array of its dtype: `value` itself when it already is one."""
        t = self._inputs[k]
        want = t.dtype
        if want is None:
            raise DTypeError(f"input '{t.name}': its element type has no numpy equivalent")
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        if arr.dtype != want:
            if arr.dtype.kind in "OSUVMm" or not np.can_cast(arr.dtype, want, casting="same_kind"):
                raise DTypeError(
                    f"input '{t.name}': cannot use an array of dtype {arr.dtype} for an input of dtype {want}"
                )
        assert t.shape is not None
        if arr.ndim != len(t.shape):
            raise ShapeError(
                f"input '{t.name}': an array of rank {arr.ndim} (shape {tuple(arr.shape)}) for an input of "
                f"rank {len(t.shape)} (shape {_fmt_shape(t.shape)})"
            )
        return np.require(arr, dtype=want, requirements=["C_CONTIGUOUS", "ALIGNED"])

    def run(
        self,
        outputs: Optional[Sequence[str]] = None,
        feeds: Optional[Feeds] = None,
        *,
        out: Optional[Sequence[Optional[np.ndarray]]] = None,
    ) -> List[np.ndarray]:
        """Runs the model once and returns the outputs as numpy arrays with their run-time shapes.

        Args:
            outputs: names of the outputs to return, in that order; None: all, in graph order.
            feeds: the inputs: ``{name: array}``, or a sequence in input order.
                An array that is C-contiguous of the input's dtype is passed
                without a copy; others are converted once (a same-kind
                conversion: float64 to float32 is fine, float to int is
                refused with DTypeError). Each array's shape is the run's
                shape for that input (symbolic dims take its values).
            out: optional buffers, one per model output (None entries: the
                engine's storage, copied): C-contiguous, writable, of the
                output's dtype; the engine writes into them directly and the
                returned array is a view of the buffer's first elements with
                the output's shape. A buffer too small raises ShapeError.

        Returns:
            one array per requested output. Arrays not written into ``out``
            are copies the caller owns (the engine's own storage is reused by
            the next run).

        Raises:
            NotFoundError: a feed for no input, a missing feed, an unknown output name.
            DTypeError: an array whose dtype cannot become the input's.
            ShapeError: a wrong rank, a fixed dim that differs, one symbolic
                dim bound to two values, an ``out`` buffer too small.
            EngineError: anything else the engine reports.
        """
        n_in = len(self._inputs)
        if feeds is None:
            feeds = {}
        given: List[Optional[ArrayLike]] = [None] * n_in
        if isinstance(feeds, Mapping):
            for name, value in feeds.items():
                k = self._in_index.get(name)
                if k is None:
                    raise NotFoundError(
                        f"feeds: the model has no input '{name}' (inputs: {', '.join(self._in_index) or 'none'})"
                    )
                given[k] = value
        else:
            seq = list(feeds)
            if len(seq) != n_in:
                raise InvalidArgumentError(f"feeds: {len(seq)} arrays for a model with {n_in} inputs")
            given = seq
        missing = [self._inputs[k].name for k in range(n_in) if given[k] is None]
        if missing:
            raise NotFoundError(f"feeds: no array for input{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        arrays = [self._prepare(k, given[k]) for k in range(n_in)]

        if outputs is None:
            wanted = list(range(self._n_out))
        else:
            if isinstance(outputs, str):
                outputs = [outputs]
            wanted = []
            for name in outputs:
                k = self._out_index.get(name)
                if k is None:
                    raise NotFoundError(
                        f"outputs: the model has no output '{name}' (outputs: {', '.join(self._out_names)})"
                    )
                wanted.append(k)

        bufs: List[Optional[np.ndarray]] = [None] * self._n_out
        if out is not None:
            if len(out) != self._n_out:
                raise InvalidArgumentError(f"out: {len(out)} buffers for a model with {self._n_out} outputs")
            for k, b in enumerate(out):
                if b is None:
                    continue
                code = self._out_code(k)
                want = _np_dtype(code) if code else None
                if want is None:
                    raise InvalidArgumentError(
                        f"out[{k}] ('{self._out_names[k]}'): the model file declares no dtype for this output; "
                        "it is known after a first run"
                    )
                if (
                    not isinstance(b, np.ndarray)
                    or b.dtype != want
                    or not b.flags.c_contiguous
                    or not b.flags.writeable
                    or not b.flags.aligned
                ):
                    raise DTypeError(
                        f"out[{k}] ('{self._out_names[k]}'): a writable C-contiguous array of dtype {want} is needed"
                    )
                bufs[k] = b

        tin = (L.Tensor * max(n_in, 1))()
        for k, a in enumerate(arrays):
            raw = self._in_raw[k]
            tin[k].dtype = raw.dtype
            tin[k].rank = a.ndim
            for d in range(a.ndim):
                tin[k].dims[d] = a.shape[d]
            tin[k].data = a.ctypes.data
            tin[k].name = raw.name
        tout = (L.Tensor * max(self._n_out, 1))()
        for k, b in enumerate(bufs):
            if b is not None:
                flat = b.reshape(-1)
                tout[k].rank = 1
                tout[k].dims[0] = flat.size
                tout[k].data = b.ctypes.data
                tout[k].dtype = self._out_code(k)

        with self._lock:
            ctx = self._live()
            st = self._lib.engine_session_run_tensors(self._session, tin, n_in, tout, self._n_out)
            ctx.check(st)
            results: List[np.ndarray] = []
            for k in wanted:
                t = tout[k]
                shape = tuple(int(t.dims[d]) for d in range(t.rank))
                dtype = _np_dtype(t.dtype)
                if dtype is None:
                    raise DTypeError(f"output '{self._out_names[k]}': its element type has no numpy equivalent")
                b = bufs[k]
                if b is not None:
                    if dtype != b.dtype:  # the engine wrote another type than the buffer's
                        raise InternalError(f"output '{self._out_names[k]}' came back as {dtype}, not {b.dtype}")
                    n = int(np.prod(shape, dtype=np.int64))
                    results.append(b.reshape(-1)[:n].reshape(shape))
                    continue
                n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if n_bytes == 0 or not t.data:
                    results.append(np.empty(shape, dtype=dtype))
                    continue
                raw = (ctypes.c_char * n_bytes).from_address(t.data)
                results.append(np.frombuffer(raw, dtype=dtype).reshape(shape).copy())
        del arrays  # kept alive until here: the engine read them during the call
        return results

    def _out_code(self, k: int) -> int:
        """engine_dtype of output k: the model's, else the current signature's (0 when unknown)."""
        if self._out_codes[k]:
            return self._out_codes[k]
        info = L.TensorInfo()
        with self._lock:
            self._live()
            if self._lib.engine_session_output_info(self._session, k, ctypes.byref(info)) == L.OK:
                return int(info.dtype)
        return 0

    # -- reports

    def placement(self) -> str:
        """The placement summary: one line per backend with its node count, then the seam copies."""
        chunks: List[bytes] = []

        def write(_user: Optional[int], text: Optional[bytes]) -> None:
            if text:
                chunks.append(text)

        cb = L.WRITE_FN(write)
        with self._lock:
            ctx = self._live()
            ctx.check(self._lib.engine_session_placement(self._session, cb, None))
        return b"".join(chunks).decode("utf-8", "replace")

    def stats(self) -> Dict[str, Union[int, float]]:
        """Memory and build figures (engine_session_get_stats) and the specialisation cache's counters.

        Keys: seam_bytes, arena_bytes, weight_bytes, device_bytes,
        compile_ms, kernels_from_cache, kernels_built, partitions (of the
        current signature), and specializations (compiled signatures held),
        cache_hits, cache_misses, cache_evictions, cache_bytes,
        last_build_ms, packed_weight_bytes.
        """
        s = L.SessionStats()
        c = L.CacheInfo()
        c.struct_size = ctypes.sizeof(L.CacheInfo)
        with self._lock:
            ctx = self._live()
            ctx.check(self._lib.engine_session_get_stats(self._session, ctypes.byref(s)))
            ctx.check(self._lib.engine_session_cache_info_get(self._session, ctypes.byref(c)))
        return {
            "seam_bytes": int(s.seam_bytes),
            "arena_bytes": int(s.arena_bytes),
            "weight_bytes": int(s.weight_bytes),
            "device_bytes": int(s.device_bytes),
            "compile_ms": float(s.compile_ms),
            "kernels_from_cache": int(s.kernels_from_cache),
            "kernels_built": int(s.kernels_built),
            "partitions": int(s.n_partitions),
            "specializations": int(c.entries),
            "cache_hits": int(c.hits),
            "cache_misses": int(c.misses),
            "cache_evictions": int(c.evictions),
            "cache_bytes": int(c.bytes),
            "last_build_ms": float(c.last_build_ms),
            "packed_weight_bytes": int(c.packed_weight_bytes),
            "released_weight_bytes": int(c.released_weight_bytes),
        }

    def profile(self) -> List[NodeTiming]:
        """Per-node timings of the last run, in execution order (needs ``Session(..., profile=True)``)."""
        if not self._profile:
            raise InvalidArgumentError("profile(): create the Session with profile=True")
        ptr = ctypes.POINTER(L.NodeTiming)()
        count = ctypes.c_int()
        with self._lock:
            ctx = self._live()
            ctx.check(self._lib.engine_session_timings(self._session, ctypes.byref(ptr), ctypes.byref(count)))
            return [
                NodeTiming(
                    node=L.text(ptr[k].node),
                    op=L.text(ptr[k].op),
                    backend=L.text(ptr[k].backend),
                    start_ms=float(ptr[k].start_ms),
                    ms=float(ptr[k].ms),
                )
                for k in range(count.value)
            ]

    def __repr__(self) -> str:
        ins = ", ".join(f"{t.name}{_fmt_shape(t.shape)}" for t in self._inputs)
        return f"<engine.Session {self.path!r} inputs: {ins}>"


def _fmt_shape(shape: Optional[Tuple[Dim, ...]]) -> str:
    if shape is None:
        return "[?]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


__all__ = [
    "Session",
    "TensorInfo",
    "NodeTiming",
    "BackendInfo",
    "Backends",
    "backends",
    "load_plugin",
    "plugins",
    "version",
]
