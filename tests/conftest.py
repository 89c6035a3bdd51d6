"""Shared fixtures and the hardware markers."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

# Tests must not pick up plugins installed in the environment unless they ask for them.
os.environ.setdefault("DSFLOW_DISABLE_PLUGIN_AUTOLOAD", "1")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-cuda", action="store_true", help="fail, instead of skipping, tests marked requires_cuda"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from dsflow.cuda import gpu_available

    if gpu_available() or config.getoption("--require-cuda"):
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "requires_cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def write_graph(tmp_path: Path):
    """Write YAML text (dedented) to a graph file in tmp_path and return its path."""

    def write(text: str, name: str = "graph.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
