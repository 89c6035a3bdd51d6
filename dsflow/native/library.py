"""Custom libraries (``custom-lib-path``): opened once per path, names resolved to callables.

A name the plugins do not provide is looked up here. The library says which ABI a function
uses: a function declared with dsflow's macros exports ``dsflow_info_<name>`` next to it
(dsflow's C ABI, ``dsflow/native/include/dsflow/infer.h``); any other symbol is taken as an
nvinfer C++ function (``nvdsinfer_custom_impl.h``). Either way the result is a callable
with the Python contract of its family, so nodes cannot tell the difference.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any

from dsflow.errors import PluginError

_libraries: dict[str, ctypes.CDLL] = {}
_lock = threading.Lock()


def open_library(path: str) -> ctypes.CDLL:
    """The library at ``path``, loaded once per process (``dlopen`` with ``RTLD_LAZY``, as nvinfer does)."""
    with _lock:
        lib = _libraries.get(path)
        if lib is None:
            if not os.path.isfile(path):
                msg = f"custom library not found: {path}"
                raise PluginError(msg)
            try:
                lib = ctypes.CDLL(path, mode=os.RTLD_LAZY)
            except OSError as exc:
                msg = f"cannot load custom library {path}: {exc}"
                raise PluginError(msg) from None
            _libraries[path] = lib
    return lib


def load_problem(path: str) -> str | None:
    """Why the library at ``path`` cannot be used (missing, or failing to load), or None."""
    try:
        open_library(path)
    except PluginError as exc:
        return str(exc)
    return None


def has_symbol(path: str, name: str) -> bool:
    """Whether the library exports ``name``; False for a library that is missing or does not load.

    Optional entry points (custom ops, input initialization) are probed this way, so a config
    that still names a DeepStream library whose functions dsflow provides itself keeps working
    (e.g. DeepStream-Yolo's library, which needs TensorRT to load).
    """
    return load_problem(path) is None and hasattr(open_library(path), name)


def resolve(path: str, name: str, family: str) -> Callable[..., Any]:
    """The function ``name`` of library ``path`` as a callable of ``family`` (a registry family key)."""
    from dsflow.native import dsflow_abi, nvinfer_abi

    lib = open_library(path)
    info = dsflow_abi.read_info(lib, name)
    if info is not None:
        return dsflow_abi.wrap(lib, name, family, info)
    return nvinfer_abi.wrap(lib, name, family)
