"""The only door to CuPy: GPU detection, streams and events, imported lazily.

``import dsflow`` never imports CuPy; these functions do, when a graph runs on a GPU.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from dsflow.errors import UsageError


@functools.cache
def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return bool(cupy.cuda.runtime.getDeviceCount() > 0)
    except Exception:
        return False


def resolve_device(requested: str) -> str:
    """Turn ``auto``/``cpu``/``gpu`` into ``cpu`` or ``gpu``."""
    if requested == "cpu":
        return "cpu"
    if requested == "gpu" and not gpu_available():
        msg = "device 'gpu' was requested but no GPU is usable (install 'dsflow[gpu]' and check the CUDA driver)"
        raise UsageError(msg)
    return "gpu" if requested == "gpu" or gpu_available() else "cpu"


def cupy_module() -> Any:
    """The ``cupy`` module (import it only on the GPU path)."""
    import cupy

    return cupy


def new_stream() -> Any:
    """A new non-blocking CUDA stream: it never waits on the legacy default stream."""
    return cupy_module().cuda.Stream(non_blocking=True)


def to_numpy(array: Any) -> Any:
    """A NumPy array of a NumPy or CuPy array (CuPy's ``get`` copies to the host on the current stream)."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    return get() if callable(get) else np.asarray(array)
