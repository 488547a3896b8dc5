"""Exceptions: every engine_status other than ENGINE_OK becomes an EngineError.

The subclass chosen follows the status, and each also derives from the
built-in exception a Python user would expect (a shape error is a
ValueError, a missing input a LookupError, ...), so ``except ValueError``
keeps working in code that does not know this package.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

from . import _lib as L

_STATUS_NAMES = {
    L.OK: "ENGINE_OK",
    L.ERR_INVALID_ARGUMENT: "ENGINE_ERR_INVALID_ARGUMENT",
    L.ERR_OUT_OF_MEMORY: "ENGINE_ERR_OUT_OF_MEMORY",
    L.ERR_IO: "ENGINE_ERR_IO",
    L.ERR_PARSE: "ENGINE_ERR_PARSE",
    L.ERR_INVALID_MODEL: "ENGINE_ERR_INVALID_MODEL",
    L.ERR_UNSUPPORTED: "ENGINE_ERR_UNSUPPORTED",
    L.ERR_SHAPE: "ENGINE_ERR_SHAPE",
    L.ERR_BACKEND: "ENGINE_ERR_BACKEND",
    L.ERR_NOT_FOUND: "ENGINE_ERR_NOT_FOUND",
    L.ERR_ABI: "ENGINE_ERR_ABI",
    L.ERR_SECURITY: "ENGINE_ERR_SECURITY",
    L.ERR_INTERNAL: "ENGINE_ERR_INTERNAL",
}


class EngineError(Exception):
    """An error reported by the engine (or found by this package before a call).

    Attributes:
        status: the ``engine_status`` code (an int, stable across versions).
        status_name: its C name, e.g. ``"ENGINE_ERR_SHAPE"``.
        message: the engine's message (``engine_context_error``): the file,
            node, op and reason where there is one.
    """

    status: int = -1

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        if status is not None:
            self.status = status
        self.status_name: str = _STATUS_NAMES.get(self.status, f"status {self.status}")
        self.message: str = message
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} [{self.status_name}]"


class InvalidArgumentError(EngineError, ValueError):
    """ENGINE_ERR_INVALID_ARGUMENT: a bad option, handle or index."""

    status = L.ERR_INVALID_ARGUMENT


class DTypeError(InvalidArgumentError, TypeError):
    """An array whose dtype cannot be converted to the input's (found before the run)."""


class EngineMemoryError(EngineError, MemoryError):
    """ENGINE_ERR_OUT_OF_MEMORY: an allocation failed; nothing leaked."""

    status = L.ERR_OUT_OF_MEMORY


class EngineIOError(EngineError, OSError):
    """ENGINE_ERR_IO: a file could not be opened, read or written."""

    status = L.ERR_IO


class ParseError(EngineError, ValueError):
    """ENGINE_ERR_PARSE: malformed bytes (protobuf, .npy, image)."""

    status = L.ERR_PARSE


class InvalidModelError(EngineError, ValueError):
    """ENGINE_ERR_INVALID_MODEL: well-formed bytes, invalid graph."""

    status = L.ERR_INVALID_MODEL


class UnsupportedError(EngineError, NotImplementedError):
    """ENGINE_ERR_UNSUPPORTED: an op, attribute, dtype or opset the engine lacks."""

    status = L.ERR_UNSUPPORTED


class ShapeError(EngineError, ValueError):
    """ENGINE_ERR_SHAPE: shapes that do not fit (an input's rank or dims, a symbolic dim bound twice)."""

    status = L.ERR_SHAPE


class BackendError(EngineError, RuntimeError):
    """ENGINE_ERR_BACKEND: a backend failed to load, compile or run."""

    status = L.ERR_BACKEND


class NotFoundError(EngineError, LookupError):
    """ENGINE_ERR_NOT_FOUND: no such input, output, backend or file."""

    status = L.ERR_NOT_FOUND


class AbiError(EngineError, RuntimeError):
    """ENGINE_ERR_ABI: a module or plugin built for another ABI version."""

    status = L.ERR_ABI


class SecurityError(EngineError, PermissionError):
    """ENGINE_ERR_SECURITY: refused, e.g. external data escaping the model's folder."""

    status = L.ERR_SECURITY


class InternalError(EngineError, RuntimeError):
    """ENGINE_ERR_INTERNAL: a broken invariant inside the engine (a bug: please report it)."""

    status = L.ERR_INTERNAL


_BY_STATUS: Dict[int, Type[EngineError]] = {
    cls.status: cls
    for cls in (
        InvalidArgumentError,
        EngineMemoryError,
        EngineIOError,
        ParseError,
        InvalidModelError,
        UnsupportedError,
        ShapeError,
        BackendError,
        NotFoundError,
        AbiError,
        SecurityError,
        InternalError,
    )
}


def error_for(status: int, message: str) -> EngineError:
    """The exception for an engine status and message."""
    cls = _BY_STATUS.get(status, EngineError)
    return cls(message, status)
