"""What tests need from their surroundings: scripts of the repo loaded as modules, and PyPI."""

from __future__ import annotations

import importlib.util
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType


def load_script(path: Path, name: str) -> ModuleType:
    """Import the script at ``path`` (e.g. a ``make_models.py``) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def pypi_unreachable() -> str | None:
    """Why PyPI cannot be reached, or None when it can (tests that download skip only then)."""
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15):
            return None
    except (urllib.error.URLError, OSError) as exc:
        return str(exc)
