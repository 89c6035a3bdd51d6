"""Addresses of NumPy arrays for ctypes calls, the fast way."""

from __future__ import annotations

import ctypes

import numpy as np

_char_over = ctypes.c_char.from_buffer


def address(array: np.ndarray) -> int:
    """The address of a C-contiguous array's data.

    ``ctypes.c_char.from_buffer`` takes a third of the time of ``array.ctypes.data`` (about 0.3
    to 0.5 µs against 0.9 to 1.7 µs), which counts when arrays are passed on every call; it needs a
    writable, C-contiguous, non-empty array (others take the slow way).
    """
    try:
        return ctypes.addressof(_char_over(array))
    except (TypeError, ValueError, BufferError):  # read-only, not C-contiguous or empty
        return array.ctypes.data
