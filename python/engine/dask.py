"""Map a model over many image or .npy files on a Dask cluster (Debian's python3-distributed).

    >>> from distributed import Client, LocalCluster
    >>> import engine.dask
    >>> client = Client(LocalCluster(processes=True, n_workers=2, threads_per_worker=1))
    >>> res = engine.dask.map_files(client, "resnet18.onnx", "photos/", backends=("cpu",),
    ...                             preprocess=engine.dask.Preprocess.imagenet())
    >>> res.failures                      # [FileResult(path=..., error="ParseError: ..."), ...]
    >>> res["photos/cat.png"].outputs     # {"logits": array([...], dtype=float32)}

How it runs:

- each worker loads the model once: :func:`register` installs a
  :class:`SessionPlugin` (a ``distributed.WorkerPlugin``) that creates an
  :class:`engine.Session` on every current and future worker, keyed by the
  model's path and the session options, so several models coexist;
- the files are cut into batches of ``batch_size``; one Dask task runs one
  batch: it decodes the files (:class:`Preprocess` for images, ``.npy`` as
  stored), stacks those of one shape into one run of the model, and returns
  one :class:`FileResult` per file, or writes the outputs beside the inputs;
- a file that fails (cannot be decoded, has the wrong shape, the engine
  refuses it) is reported in its own FileResult with the error, and the
  other files go on;
- a task that raises is retried ``retries`` times, and a task whose worker
  dies is re-run on another worker by the scheduler (up to Dask's
  ``distributed.scheduler.allowed-failures``), so a lost worker loses no
  results. Outputs written beside the inputs are written atomically (a
  temporary file, then a rename), so a re-run task writes the same files.

Nothing here is imported by ``import engine``: only ``import engine.dask``
needs Dask. See docs/PYTHON.md ("Dask").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

try:
    import distributed
    from distributed import WorkerPlugin
except ImportError as _exc:  # pragma: no cover - depends on the machine
    raise ImportError(
        f"engine.dask needs Dask's distributed (Debian: python3-distributed; pip: distributed): {_exc}"
    ) from _exc

from ._errors import EngineError, InvalidArgumentError
from ._session import Session

__all__ = [
    "Preprocess",
    "SessionPlugin",
    "FileResult",
    "MapResult",
    "register",
    "map_files",
    "list_files",
    "output_paths",
    "plugin_name",
]

log = logging.getLogger("engine")

PathLike = Union[str, "os.PathLike[str]"]
Loader = Callable[[str], np.ndarray]
"""A custom loader: a file's path -> one sample (the model input without its batch axis)."""

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm")
"""What :func:`list_files` takes from a folder besides ``.npy`` files (case-insensitive)."""

_DEFAULT_BACKENDS = ("opencl", "cpu")  # engine.Session's default

OUTPUT_TAG = ".out"
"""Outputs written beside ``x.png`` are ``x.png.out.npy`` (one output) or ``x.png.out.<name>.npy``."""


# ---- preprocessing ----------------------------------------------------------


@dataclass(frozen=True)
class Preprocess:
    """How an image file becomes one sample of the model's input (``.npy`` files are used as stored).

    The image is decoded with PIL, converted to ``mode``, resized to
    ``size``, and each channel c becomes ``(pixel * scale - mean[c]) / std[c]``
    in float32, laid out as ``layout`` (without the batch axis). With the
    defaults (scale 1/255, mean 0, std 1) this is ``engine-run --image``'s
    preprocessing; the resampling is PIL's (``resample``), not stb's, so
    resized pixels may differ slightly from engine-run's.

    Attributes:
        size: (height, width) to resize to; None: the model input's fixed
            height and width, or for a model with symbolic height and width
            the image's own size (files of different sizes then run in
            separate runs).
        mode: "RGB", "BGR" (RGB with the channels reversed) or "L" (grey,
            one channel); None: "L" for a model input with one channel, else "RGB".
        scale: multiplies the 8-bit pixel values (1/255: [0, 1]).
        mean, std: one value for all channels, or one per channel (after ``scale``).
        layout: "NCHW" (channels first) or "NHWC" (channels last), the model input's layout.
        resample: PIL's filter for resizing: "nearest", "bilinear", "bicubic", "lanczos", "box", "hamming".
    """

    size: Optional[Tuple[int, int]] = None
    mode: Optional[str] = None
    scale: float = 1.0 / 255.0
    mean: Tuple[float, ...] = (0.0,)
    std: Tuple[float, ...] = (1.0,)
    layout: str = "NCHW"
    resample: str = "bilinear"

    def __post_init__(self) -> None:
        if self.mode not in (None, "RGB", "BGR", "L"):
            raise InvalidArgumentError(f"Preprocess: mode '{self.mode}' is not RGB, BGR, L or None")
        if self.layout not in ("NCHW", "NHWC"):
            raise InvalidArgumentError(f"Preprocess: layout '{self.layout}' is not NCHW or NHWC")
        if self.resample not in _RESAMPLE_NAMES:
            raise InvalidArgumentError(
                f"Preprocess: resample '{self.resample}' is not one of {', '.join(_RESAMPLE_NAMES)}"
            )
        if self.size is not None:
            size = tuple(int(v) for v in self.size)
            if len(size) != 2 or min(size) <= 0:
                raise InvalidArgumentError(f"Preprocess: size {self.size} is not (height, width) > 0")
            object.__setattr__(self, "size", size)
        mean = tuple(float(v) for v in np.atleast_1d(self.mean))
        std = tuple(float(v) for v in np.atleast_1d(self.std))
        if not mean or not std or any(s == 0.0 for s in std):
            raise InvalidArgumentError("Preprocess: mean and std need at least one value each, std none zero")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def imagenet(cls, size: Tuple[int, int] = (224, 224), mode: str = "RGB") -> "Preprocess":
        """ImageNet's normalisation (torchvision's): RGB, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)."""
        return cls(size=size, mode=mode, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

    def load(self, path: str, input_shape: Optional[Sequence[Any]] = None) -> np.ndarray:
        """Decodes and preprocesses one image file into a float32 sample (no batch axis).

        Args:
            path: the image file.
            input_shape: the model input's shape (ints, or names/None for
                symbolic dims); its fixed channel count and height and width
                are used where ``mode`` and ``size`` are None.

        Raises:
            OSError, ValueError: a file PIL cannot read (PIL's message); an
                image whose channels cannot match the model's.
        """
        from PIL import Image  # Debian's python3-pil; only the workers that decode images need it

        c_dim, h_dim, w_dim = _chw_dims(input_shape, self.layout)
        mode = self.mode
        if mode is None:
            mode = "L" if c_dim == 1 else "RGB"
        channels = 1 if mode == "L" else 3
        if isinstance(c_dim, int) and c_dim != channels:
            raise ValueError(f"mode {mode} gives {channels} channel(s); the model input has {c_dim}")
        size = self.size
        if size is None and isinstance(h_dim, int) and isinstance(w_dim, int):
            size = (h_dim, w_dim)
        with Image.open(path) as im:
            im = im.convert("L" if mode == "L" else "RGB")
            if size is not None and (im.height, im.width) != size:
                im = im.resize((size[1], size[0]), resample=_resample(self.resample))
            pix = np.asarray(im, dtype=np.float32)
        if pix.ndim == 2:
            pix = pix[:, :, None]
        if mode == "BGR":
            pix = pix[:, :, ::-1]
        mean = np.asarray(_per_channel(self.mean, channels, "mean"), dtype=np.float32)
        std = np.asarray(_per_channel(self.std, channels, "std"), dtype=np.float32)
        x = (pix * np.float32(self.scale) - mean) / std
        if self.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x, dtype=np.float32)


_RESAMPLE_NAMES = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def _resample(name: str) -> int:
    from PIL import Image

    enum = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 has Image.Resampling
    return int(getattr(enum, name.upper()))


def _per_channel(values: Tuple[float, ...], channels: int, what: str) -> Tuple[float, ...]:
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ValueError(f"Preprocess.{what} has {len(values)} values for an image of {channels} channel(s)")
    return values


def _chw_dims(shape: Optional[Sequence[Any]], layout: str) -> Tuple[Any, Any, Any]:
    """(channels, height, width) of a rank-4 input shape; Nones when unknown."""
    if shape is None or len(shape) != 4:
        return None, None, None
    if layout == "NCHW":
        return shape[1], shape[2], shape[3]
    return shape[3], shape[1], shape[2]


def _load_npy(path: str, rank: int) -> np.ndarray:
    """One sample from a .npy file: an array of the input's rank minus one, or of its rank with a batch of 1."""
    arr = np.load(path, allow_pickle=False)
    if arr.ndim == rank and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != rank - 1:
        raise ValueError(
            f"an array of shape {tuple(arr.shape)}: one sample of a rank-{rank} input is an array of rank "
            f"{rank - 1} (or rank {rank} with a batch of 1)"
        )
    return arr


# ---- results ----------------------------------------------------------------


@dataclass
class FileResult:
    """What became of one file.

    Attributes:
        path: the input file, as given to :func:`map_files` (made absolute).
        outputs: ``{output name: array}`` with the model's outputs for this
            file (a run with a batch of one, without the batch axis), when
            the results come back as arrays; None otherwise.
        written: the files written beside the input (``output="npy-beside"``).
        error: None on success; else ``"<ExceptionClass>: <message>"`` (the
            engine's message for an EngineError).
        status_name: the engine status (``"ENGINE_ERR_SHAPE"``) when the error is an EngineError.
    """

    path: str
    outputs: Optional[Dict[str, np.ndarray]] = None
    written: Tuple[str, ...] = ()
    error: Optional[str] = None
    status_name: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True when the file was processed."""
        return self.error is None


@dataclass
class MapResult:
    """The results of :func:`map_files`: one :class:`FileResult` per file, in the order of the files given."""

    results: List[FileResult] = field(default_factory=list)

    @property
    def successes(self) -> List[FileResult]:
        """The files processed, in order."""
        return [r for r in self.results if r.ok]

    @property
    def failures(self) -> List[FileResult]:
        """The files that failed, in order, each with its error."""
        return [r for r in self.results if not r.ok]

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[FileResult]:
        return iter(self.results)

    def __getitem__(self, path: PathLike) -> FileResult:
        """The result for a file, by its path (relative paths are made absolute, as map_files does)."""
        key = os.path.abspath(os.fspath(path))
        if self.__dict__.get("_indexed") != len(self.results):  # (re)built when results were added
            index: Dict[str, FileResult] = {}
            for r in self.results:
                index.setdefault(r.path, r)
            self.__dict__["_index"], self.__dict__["_indexed"] = index, len(self.results)
        found = self.__dict__["_index"].get(key)
        if found is None:
            raise KeyError(f"no result for {key}")
        return found

    def raise_on_failure(self) -> None:
        """Raises RuntimeError listing every failed file and its error, if any failed."""
        bad = self.failures
        if bad:
            lines = "\n".join(f"  {r.path}: {r.error}" for r in bad)
            raise RuntimeError(f"{len(bad)} of {len(self.results)} files failed:\n{lines}")


def _describe(exc: BaseException) -> Tuple[str, Optional[str]]:
    msg = getattr(exc, "message", None) if isinstance(exc, EngineError) else None
    text = f"{type(exc).__name__}: {msg if msg else exc}"
    return text, getattr(exc, "status_name", None)


def _failed(path: str, exc: BaseException) -> FileResult:
    text, status = _describe(exc)
    return FileResult(path=path, error=text, status_name=status)


# ---- the worker plugin --------------------------------------------------------


# Sessions of one worker process are created one at a time. Two created at
# once from two threads crash a fresh process now and then: the opencl
# backend, which every session opens (it is loaded, and fallback may use
# it), probes the device through POCL, whose first clGetDeviceInfo calls
# race (SIGSEGV in libpocl under ocl_open/probe_device). A worker sets up
# its plugins concurrently (one executor thread each) when it starts with
# several models registered, e.g. after a restart; this lock keeps it alive.
_CREATE_LOCK = threading.Lock()


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class SessionPlugin(WorkerPlugin):
    """Loads one :class:`engine.Session` on a Dask worker, once, when the plugin is registered (or the worker joins).

    Its name (the plugin's key on the worker) is derived from the model's
    path and the session options, so two models, or one model with two
    sets of options, are two plugins side by side. Tasks get the session
    through :meth:`session`. If loading failed at setup (registration then
    raises on the client for the workers present), :meth:`session` tries
    again and raises the engine's error in the task.

    Args:
        model: the ONNX file, a path valid on every worker.
        threads: the cpu backend's threads per worker; None: the worker
            machine's cores divided by the number of workers on that
            machine (from ``workers_per_host``), at least 1.
        workers_per_host: ``{host: workers}``, for the default of ``threads``.
        session_options: the other :class:`engine.Session` arguments
            (``backends``, ``precision``, ``shapes``, ``strict``, ...).
    """

    def __init__(
        self,
        model: str,
        threads: Optional[int] = None,
        workers_per_host: Optional[Mapping[str, int]] = None,
        **session_options: Any,
    ) -> None:
        self.model = str(model)
        self.threads = threads
        self.workers_per_host = dict(workers_per_host or {})
        self.session_options = dict(session_options)
        self.name = plugin_name(self.model, threads, self.session_options)
        self._session: Optional[Session] = None
        self._lock = threading.Lock()
        self.threads_used: Optional[int] = None

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_session"] = None  # a Session never travels; each worker loads its own
        state["_lock"] = None
        state.pop("_worker", None)
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _threads_for(self, worker: Any) -> int:
        if self.threads is not None:
            return int(self.threads)
        host = distributed.comm.get_address_host(worker.address) if worker is not None else None
        share = max(1, int(self.workers_per_host.get(host, 1))) if host else 1
        return max(1, _cores() // share)

    def _load(self, worker: Any) -> Session:
        with self._lock:
            if self._session is None:
                threads = self._threads_for(worker)
                with _CREATE_LOCK:
                    self._session = Session(self.model, threads=threads, **self.session_options)
                self.threads_used = threads
            return self._session

    async def setup(self, worker: Any) -> None:
        """Loads the session off the worker's event loop (compiling can take a while), so heartbeats go on."""
        self._worker = worker
        await asyncio.get_running_loop().run_in_executor(None, self._load, worker)

    def teardown(self, worker: Any) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def session(self) -> Session:
        """The worker's session (loaded now if setup failed or has not run)."""
        if self._session is not None:
            return self._session
        return self._load(getattr(self, "_worker", None))


def plugin_name(model: str, threads: Optional[int], session_options: Mapping[str, Any]) -> str:
    """The plugin's key for a model and options: ``engine-session-<model file name>-<hash of all>``."""
    key = repr((model, threads, sorted((k, repr(v)) for k, v in session_options.items())))
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
    return f"engine-session-{Path(model).name}-{digest}"


def _workers_per_host(client: distributed.Client) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for info in client.scheduler_info().get("workers", {}).values():
        host = info.get("host")
        if host:
            counts[host] = counts.get(host, 0) + 1
    return counts


def register(
    client: distributed.Client,
    model: PathLike,
    *,
    threads: Optional[int] = None,
    reload: bool = False,
    **session_options: Any,
) -> str:
    """Loads a model on every worker of the client's cluster (and on workers that join later).

    Registering the same model with the same options again does nothing
    (unless ``reload``), so :func:`map_files` can be called many times and
    each worker keeps the session it loaded.

    Args:
        client: a ``distributed.Client``.
        model: the ONNX file; made absolute here, so on a cluster of several
            machines it must name the same file on each (a shared filesystem).
        threads: the cpu backend's threads in each worker; None: the
            worker machine's cores divided by its number of workers (counted now).
        reload: register even if registered already (each worker loads the model again).
        session_options: :class:`engine.Session` arguments (``backends``, ``precision``, ...).

    Returns:
        the plugin's name (a key for ``worker.plugins``).

    Raises:
        the worker's exception (an EngineError with the engine's message)
        when a worker present cannot load the model.
    """
    path = os.path.abspath(os.fspath(model))
    # one spelling per backend list, so that equal options give one plugin name
    backends = session_options.get("backends", _DEFAULT_BACKENDS)
    if not isinstance(backends, str):
        backends = ",".join(str(b).strip() for b in backends)
    session_options["backends"] = ",".join(b.strip() for b in backends.split(",") if b.strip())
    plugin = SessionPlugin(path, threads=threads, workers_per_host=_workers_per_host(client), **session_options)

    def registered(dask_scheduler: Any, name: str) -> bool:  # pickled by value: the scheduler needs no engine
        return name in getattr(dask_scheduler, "worker_plugins", {})

    if not reload and client.run_on_scheduler(registered, name=plugin.name):
        return plugin.name
    try:
        client.register_worker_plugin(plugin, name=plugin.name)
    except BaseException:
        # a plugin whose setup failed stays registered: take it away, so
        # that the next call loads the model again instead of finding it
        try:
            client.unregister_worker_plugin(plugin.name)
        except Exception as exc:  # the setup's error matters more; say this one too
            log.warning("engine.dask: could not unregister %s: %s", plugin.name, exc)
        raise
    return plugin.name


# ---- the task: one batch of files ---------------------------------------------


def output_paths(path: PathLike, names: Sequence[str]) -> List[str]:
    """Where ``output="npy-beside"`` writes the outputs ``names`` of one input file.

    One output: ``<input>.out.npy``; several: ``<input>.out.<name>.npy``
    each, the name with characters other than letters, digits, ``_``, ``-``
    and ``.`` replaced by ``_``.
    """
    base = os.fspath(path)
    if len(names) == 1:
        return [base + OUTPUT_TAG + ".npy"]
    return [base + OUTPUT_TAG + "." + re.sub(r"[^A-Za-z0-9_.-]", "_", n) + ".npy" for n in names]


def _save_atomic(path: str, array: np.ndarray) -> None:
    """np.save to a temporary file in the same folder, then rename: readers never see half a file."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".engine-", suffix=".npy.tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@dataclass(frozen=True)
class _Job:
    """What every batch task of one map_files call shares."""

    plugin: str
    input_name: Optional[str]
    outputs: Optional[Tuple[str, ...]]
    preprocess: Union[Preprocess, Loader]
    write: bool


def _batched_ok(dim0: Any) -> bool:
    return not isinstance(dim0, int)  # a symbolic batch dim: several files in one run


def _run(session: Session, input_name: str, outputs: Optional[Sequence[str]], batch: np.ndarray, n: int
         ) -> List[Dict[str, np.ndarray]]:
    """Runs a stacked batch of n samples; per sample, {name: its slice}. Raises if an output has no batch axis of n."""
    names = list(outputs) if outputs is not None else [t.name for t in session.outputs()]
    arrays = session.run(outputs=names, feeds={input_name: batch})
    for name, a in zip(names, arrays):
        if a.ndim == 0 or a.shape[0] != n:
            raise ValueError(f"output '{name}' of shape {tuple(a.shape)} has no batch axis of {n}")
    return [{name: np.array(a[i]) for name, a in zip(names, arrays)} for i in range(n)]


def _run_one(session: Session, input_name: str, outputs: Optional[Sequence[str]], sample: np.ndarray
             ) -> Dict[str, np.ndarray]:
    names = list(outputs) if outputs is not None else [t.name for t in session.outputs()]
    arrays = session.run(outputs=names, feeds={input_name: sample[None]})
    return {name: (np.array(a[0]) if a.ndim > 0 and a.shape[0] == 1 else a) for name, a in zip(names, arrays)}


def _process_batch(job: _Job, files: Sequence[str]) -> List[FileResult]:
    """One Dask task: decode, run and (optionally) write a batch of files; a FileResult per file, in order."""
    worker = distributed.get_worker()
    plugin = worker.plugins.get(job.plugin)
    if plugin is None:
        raise RuntimeError(f"worker {worker.address} has no plugin '{job.plugin}' (the model is not registered)")
    session: Session = plugin.session()
    inputs = session.inputs()
    if job.input_name is None:
        if len(inputs) != 1:
            raise InvalidArgumentError(
                f"the model has {len(inputs)} inputs ({', '.join(t.name for t in inputs)}): name the one the files feed"
            )
        info = inputs[0]
    else:
        found = [t for t in inputs if t.name == job.input_name]
        if not found:
            raise InvalidArgumentError(f"the model has no input '{job.input_name}'")
        info = found[0]
    shape = tuple(info.shape or ())

    results: Dict[int, FileResult] = {}
    samples: Dict[int, np.ndarray] = {}
    for k, path in enumerate(files):
        try:
            if callable(job.preprocess):
                sample = np.asarray(job.preprocess(path))
            elif path.lower().endswith(".npy"):
                sample = _load_npy(path, len(shape))
            else:
                sample = job.preprocess.load(path, shape)
            samples[k] = sample
        except Exception as exc:  # a bad file is its own result; the others go on
            results[k] = _failed(path, exc)

    # Files of one shape run together when the batch dim is symbolic; a
    # refused stacked run is retried file by file to say which file it was.
    groups: Dict[Tuple[Tuple[int, ...], str], List[int]] = {}
    for k, s in samples.items():
        groups.setdefault((tuple(s.shape), s.dtype.str), []).append(k)
    for idxs in groups.values():
        outs: Optional[List[Dict[str, np.ndarray]]] = None
        if len(idxs) > 1 and shape and _batched_ok(shape[0]):
            try:
                outs = _run(session, info.name, job.outputs, np.stack([samples[k] for k in idxs]), len(idxs))
            except Exception:
                outs = None
        for j, k in enumerate(idxs):
            try:
                got = outs[j] if outs is not None else _run_one(session, info.name, job.outputs, samples[k])
                if job.write:
                    names = list(got)
                    targets = output_paths(files[k], names)
                    for name, target in zip(names, targets):
                        _save_atomic(target, got[name])
                    results[k] = FileResult(path=files[k], written=tuple(targets))
                else:
                    results[k] = FileResult(path=files[k], outputs=got)
            except Exception as exc:
                results[k] = _failed(files[k], exc)
    return [results[k] for k in range(len(files))]


# ---- the client's side -----------------------------------------------------------


def _is_output(name: str) -> bool:
    return re.search(re.escape(OUTPUT_TAG) + r"(\.[^/]*)?\.npy$", name) is not None


def list_files(folder: PathLike, suffixes: Sequence[str] = IMAGE_SUFFIXES + (".npy",)) -> List[str]:
    """The image and .npy files directly in a folder, sorted, absolute.

    Outputs this module wrote (``*.out.npy``, ``*.out.<name>.npy``) and its temporary files are left out.
    """
    root = os.path.abspath(os.fspath(folder))
    want = tuple(s.lower() for s in suffixes)
    names = sorted(n for n in os.listdir(root)
                   if n.lower().endswith(want) and not _is_output(n) and not n.startswith(".engine-")
                   and os.path.isfile(os.path.join(root, n)))
    return [os.path.join(root, n) for n in names]


def map_files(
    client: distributed.Client,
    model: PathLike,
    files: Union[PathLike, Iterable[PathLike]],
    *,
    batch_size: int = 8,
    backends: Union[str, Sequence[str]] = _DEFAULT_BACKENDS,
    threads: Optional[int] = None,
    preprocess: Union[Preprocess, Loader, None] = None,
    output: str = "arrays",
    input_name: Optional[str] = None,
    outputs: Optional[Sequence[str]] = None,
    retries: int = 2,
    **session_options: Any,
) -> MapResult:
    """Runs a model over files on a Dask cluster; one result (or error) per file.

    Args:
        client: a ``distributed.Client``.
        model: the ONNX file (see :func:`register`: it is loaded once per worker).
        files: a folder (its image and .npy files, :func:`list_files`) or
            the files themselves. Paths are made absolute here: on a cluster
            of several machines they must be valid on every worker.
        batch_size: files per Dask task. Within a task, files whose samples
            have the same shape run as one batch when the model's batch dim
            is symbolic (otherwise one at a time).
        backends, threads, session_options: the :class:`engine.Session` of
            each worker (``threads`` None: cores / workers on that machine).
        preprocess: a :class:`Preprocess` for images (default ``Preprocess()``:
            RGB or grey by the model's channels, [0, 1], resized to the
            model's fixed size), or a callable ``path -> sample`` used for
            every file instead. ``.npy`` files hold one sample as is (the
            input without its batch axis, or with a batch of 1).
        output: "arrays": the outputs come back in ``FileResult.outputs``;
            "npy-beside": each output is written beside its input
            (:func:`output_paths`: ``<input>.out.npy``), atomically, and only
            the paths come back.
        input_name: the model input the files feed (default: its only input).
        outputs: the output names wanted (default: all).
        retries: how many times Dask re-runs a task that raised (a worker
            that dies is handled by the scheduler: its tasks run elsewhere).

    Returns:
        a :class:`MapResult`, one FileResult per file in the order given. A
        batch whose task failed for good (e.g. ``KilledWorker`` after the
        allowed worker deaths) gives each of its files a FileResult with that error.

    Raises:
        InvalidArgumentError: a bad ``output`` or ``batch_size``.
        the workers' exception when a worker cannot load the model (:func:`register`).
    """
    if output not in ("arrays", "npy-beside"):
        raise InvalidArgumentError(f"output must be 'arrays' or 'npy-beside', not '{output}'")
    if batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be at least 1, not {batch_size}")
    if isinstance(files, (str, os.PathLike)) and os.path.isdir(files):
        paths = list_files(files)
    elif isinstance(files, (str, os.PathLike)):
        paths = [os.path.abspath(os.fspath(files))]
    else:
        paths = [os.path.abspath(os.fspath(f)) for f in files]
    if not paths:
        return MapResult([])

    name = register(client, model, threads=threads, backends=backends, **session_options)
    job = _Job(
        plugin=name,
        input_name=input_name,
        outputs=tuple(outputs) if outputs is not None else None,
        preprocess=preprocess if preprocess is not None else Preprocess(),
        write=(output == "npy-beside"),
    )
    batches = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    call = uuid.uuid4().hex[:12]
    keys = [f"engine-batch-{call}-{i}" for i in range(len(batches))]
    futures = client.map(_process_batch, [job] * len(batches), batches, key=keys, retries=retries)
    where = {f.key: i for i, f in enumerate(futures)}

    by_batch: Dict[int, List[FileResult]] = {}
    for fut in distributed.as_completed(futures):
        i = where[fut.key]
        try:
            got = fut.result()
            if len(got) != len(batches[i]):
                raise RuntimeError(f"a batch of {len(batches[i])} files gave {len(got)} results")
            by_batch[i] = got
        except Exception as exc:  # the whole task failed for good: each of its files says why
            by_batch[i] = [_failed(p, exc) for p in batches[i]]
        fut.release()  # its results are here now: the worker may forget them
    return MapResult([r for i in range(len(batches)) for r in by_batch[i]])
