"""Custom functions in shared libraries: dsflow's C ABI, nvinfer's C++ ABI through ctypes, and their headers."""

from __future__ import annotations

from pathlib import Path


def include_dir() -> Path:
    """The folder of dsflow's C headers: ``dsflow/infer.h`` and the nvinfer compatibility headers."""
    return Path(__file__).resolve().parent / "include"
