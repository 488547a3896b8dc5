"""ctypes declarations of libengine's public C API (engine/include/engine/engine.h).

Only this module knows the C structures; the rest of the package works with
Python objects. Every foreign call goes through :class:`ctypes.CDLL`, which
releases the GIL for the duration of the call, so a long ``engine_session_run``
lets other Python threads run (never switch this to ``ctypes.PyDLL``).

The library is found, in this order, at:

1. ``$ENGINE_LIBRARY`` (a path to ``libengine.so``: the build tree in tests);
2. the path recorded by ``meson install`` in :mod:`engine._install`;
3. the dynamic loader's search (``libengine.so.0``, then what
   :func:`ctypes.util.find_library` reports), i.e. an installed libengine in a
   folder known to ``ld.so`` (``/usr/local/lib/<triplet>`` after
   ``meson install`` and ``ldconfig``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from typing import List, Optional

MAX_RANK = 8

# engine_status values (stable: part of the ABI).
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_OUT_OF_MEMORY = 2
ERR_IO = 3
ERR_PARSE = 4
ERR_INVALID_MODEL = 5
ERR_UNSUPPORTED = 6
ERR_SHAPE = 7
ERR_BACKEND = 8
ERR_NOT_FOUND = 9
ERR_ABI = 10
ERR_SECURITY = 11
ERR_INTERNAL = 12

OPT_NONE = 0
OPT_DEFAULT = 1


class Allocator(ctypes.Structure):
    _fields_ = [("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p), ("user", ctypes.c_void_p)]


class ContextOptions(ctypes.Structure):
    _fields_ = [
        ("allocator", Allocator),
        ("log", ctypes.c_void_p),
        ("log_user", ctypes.c_void_p),
        ("log_level", ctypes.c_int),
        ("backend_path", ctypes.c_char_p),
        ("no_default_backends", ctypes.c_int),
        ("max_tensor_bytes", ctypes.c_size_t),
    ]


class TensorInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_int),
        ("dims", ctypes.c_int64 * MAX_RANK),
    ]


class Tensor(ctypes.Structure):
    _fields_ = [
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_int),
        ("dims", ctypes.c_int64 * MAX_RANK),
        ("data", ctypes.c_void_p),
        ("name", ctypes.c_char_p),
    ]


class SessionOptions(ctypes.Structure):
    _fields_ = [
        ("backends", ctypes.c_char_p),
        ("strict", ctypes.c_int),
        ("threads", ctypes.c_int),
        ("device", ctypes.c_char_p),
        ("profile", ctypes.c_int),
        ("precision", ctypes.c_char_p),
        ("keep_intermediates", ctypes.c_int),
        ("tune", ctypes.c_char_p),
        ("shapes", ctypes.c_char_p),
        ("max_specializations", ctypes.c_int),
        ("max_specialization_bytes", ctypes.c_size_t),
        ("spin", ctypes.c_char_p),
        ("keep_weights", ctypes.c_int),
    ]


class CacheInfo(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("entries", ctypes.c_int),
        ("hits", ctypes.c_longlong),
        ("misses", ctypes.c_longlong),
        ("evictions", ctypes.c_longlong),
        ("bytes", ctypes.c_size_t),
        ("last_build_ms", ctypes.c_double),
        ("packed_weight_bytes", ctypes.c_size_t),
        ("released_weight_bytes", ctypes.c_size_t),
    ]


class SessionStats(ctypes.Structure):
    _fields_ = [
        ("seam_bytes", ctypes.c_size_t),
        ("arena_bytes", ctypes.c_size_t),
        ("weight_bytes", ctypes.c_size_t),
        ("device_bytes", ctypes.c_size_t),
        ("compile_ms", ctypes.c_double),
        ("kernels_from_cache", ctypes.c_int),
        ("kernels_built", ctypes.c_int),
        ("n_partitions", ctypes.c_int),
    ]


class NodeTiming(ctypes.Structure):
    _fields_ = [
        ("node", ctypes.c_char_p),
        ("op", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("start_ms", ctypes.c_double),
        ("ms", ctypes.c_double),
    ]


# void (*engine_log_fn)(void *user, engine_log_level level, const char *message)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

# void (*engine_write_fn)(void *user, const char *text)
WRITE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)

_P = ctypes.c_void_p
_I = ctypes.c_int
_S = ctypes.c_char_p

# name: (restype, argtypes)
_SIGNATURES = {
    "engine_version": (_S, []),
    "engine_status_str": (_S, [_I]),
    "engine_dtype_name": (_S, [_I]),
    "engine_context_create": (_I, [ctypes.POINTER(ContextOptions), ctypes.POINTER(_P)]),
    "engine_context_destroy": (None, [_P]),
    "engine_context_error": (_S, [_P]),
    "engine_context_load_backend": (_I, [_P, _S]),
    "engine_backend_count": (_I, [_P]),
    "engine_backend_name": (_S, [_P, _I]),
    "engine_backend_description": (_S, [_P, _I]),
    "engine_backend_score": (_I, [_P, _I]),
    "engine_backend_rejections": (_S, [_P]),
    "engine_context_load_plugin": (_I, [_P, _S]),
    "engine_plugin_rejections": (_S, [_P]),
    "engine_plugin_op_count": (_I, [_P]),
    "engine_model_load_file": (_I, [_P, _S, ctypes.POINTER(_P)]),
    "engine_model_free": (None, [_P]),
    "engine_model_optimize": (_I, [_P, ctypes.c_uint]),
    "engine_model_input_count": (_I, [_P]),
    "engine_model_output_count": (_I, [_P]),
    "engine_model_input_info": (_I, [_P, _I, ctypes.POINTER(TensorInfo)]),
    "engine_model_output_info": (_I, [_P, _I, ctypes.POINTER(TensorInfo)]),
    "engine_model_input_dim_name": (_S, [_P, _I, _I]),
    "engine_model_is_dynamic": (_I, [_P]),
    "engine_model_input_is_shape_param": (_I, [_P, _I]),
    "engine_model_node_count": (_I, [_P]),
    "engine_model_macs": (ctypes.c_int64, [_P]),
    "engine_session_create": (_I, [_P, ctypes.POINTER(SessionOptions), ctypes.POINTER(_P)]),
    "engine_session_create_sized": (_I, [_P, ctypes.POINTER(SessionOptions), ctypes.c_size_t, ctypes.POINTER(_P)]),
    "engine_session_free": (None, [_P]),
    "engine_session_run_tensors": (_I, [_P, ctypes.POINTER(Tensor), _I, ctypes.POINTER(Tensor), _I]),
    "engine_session_output_info": (_I, [_P, _I, ctypes.POINTER(TensorInfo)]),
    "engine_session_cache_info_get": (_I, [_P, ctypes.POINTER(CacheInfo)]),
    "engine_session_placement": (_I, [_P, WRITE_FN, _P]),
    "engine_session_get_stats": (_I, [_P, ctypes.POINTER(SessionStats)]),
    "engine_session_timings": (_I, [_P, ctypes.POINTER(ctypes.POINTER(NodeTiming)), ctypes.POINTER(_I)]),
    "engine_session_arena_bytes": (ctypes.c_size_t, [_P]),
}

_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def _candidates() -> List[str]:
    """Library paths or names to try, in order (see the module docstring)."""
    env = os.environ.get("ENGINE_LIBRARY")
    if env:
        return [env]  # explicit: no silent fallback to another libengine
    out: List[str] = []
    try:
        from . import _install  # written by meson install

        out.append(_install.LIBRARY)
    except ImportError:
        pass
    out.append("libengine.so.0")
    found = ctypes.util.find_library("engine")
    if found:
        out.append(found)
    return out


def lib() -> ctypes.CDLL:
    """The loaded libengine with every function's signature declared.

    Raises :class:`OSError` naming every place that was tried when no
    libengine can be loaded.
    """
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        errors = []
        handle = None
        for cand in _candidates():
            try:
                # RTLD_GLOBAL: plugins and modules resolve engine_* symbols
                # against the libengine that loads them, as they do in a
                # program linked with -lengine.
                handle = ctypes.CDLL(cand, mode=ctypes.RTLD_GLOBAL)
                break
            except OSError as e:
                errors.append(f"{cand}: {e}")
        if handle is None:
            raise OSError(
                "engine: cannot load libengine (set ENGINE_LIBRARY to the path of libengine.so): "
                + "; ".join(errors)
            )
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(handle, name)
            fn.restype = res
            fn.argtypes = args
        _lib = handle
        return _lib


def text(b: Optional[bytes]) -> str:
    """A C string from the library as str ("" for NULL)."""
    return b.decode("utf-8", "replace") if b else ""
