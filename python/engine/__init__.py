"""engine: run ONNX convolutional networks on the engine's backends from Python.

A thin, pure-Python layer (ctypes + numpy) over libengine's C API
(engine/include/engine/engine.h); no compiled extension, so one install
serves every Python 3 version.

    >>> import engine, numpy as np
    >>> s = engine.Session("demo/lenet5.onnx", backends=("cpu",))
    >>> [t.name for t in s.inputs()]
    ['input']
    >>> (y,) = s.run(feeds={"input": np.zeros((1, 1, 32, 32), np.float32)})

See docs/PYTHON.md.
"""

from ._errors import (
    AbiError,
    BackendError,
    DTypeError,
    EngineError,
    EngineIOError,
    EngineMemoryError,
    InternalError,
    InvalidArgumentError,
    InvalidModelError,
    NotFoundError,
    ParseError,
    SecurityError,
    ShapeError,
    UnsupportedError,
)
from ._session import (
    BackendInfo,
    Backends,
    NodeTiming,
    Session,
    TensorInfo,
    backends,
    load_plugin,
    plugins,
    version,
)

__version__ = "0.1.0"

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
    "EngineError",
    "InvalidArgumentError",
    "DTypeError",
    "EngineMemoryError",
    "EngineIOError",
    "ParseError",
    "InvalidModelError",
    "UnsupportedError",
    "ShapeError",
    "BackendError",
    "NotFoundError",
    "AbiError",
    "SecurityError",
    "InternalError",
]
