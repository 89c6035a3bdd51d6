"""Packaging promises: what `import dsflow` loads, the public API, where built-in nodes live."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import dsflow


def test_import_dsflow_loads_no_optional_dependency():
    code = (
        "import sys, dsflow; "
        "print(__import__('json').dumps(sorted(m for m in ('cupy', 'tensorrt', 'av', 'cv2', 'torch', 'onnxruntime', "
        "'matplotlib', 'rich') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_public_api_is_sorted_and_complete():
    assert dsflow.__all__ == sorted(dsflow.__all__)
    for name in dsflow.__all__:
        assert hasattr(dsflow, name), name


def test_wheel_ships_builtin_nodes_as_dsflow_nodes_and_no_top_level_nodes(tmp_path):
    root, src = Path(dsflow.__file__).parent.parent, tmp_path / "src"
    for part in ("dsflow", "nodes"):  # build from a copy: setuptools writes build/ beside the sources
        shutil.copytree(root / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(root / part, src / part)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("dsflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dsflow/nodes/sources.py" in names
    assert "dsflow/plugins/hookspecs.py" in names
    assert not [n for n in names if n.startswith("nodes/")]
    for sub_package in ("infer", "infer/parsers", "native"):
        assert f"dsflow/{sub_package}/__init__.py" in names
    # every header of the source tree ships, so `dsflow include` works from an installed wheel
    headers = {str(p.relative_to(root)) for p in (root / "dsflow" / "native" / "include").rglob("*.h")}
    assert headers
    assert headers <= set(names)


def test_include_prints_the_header_folder():
    out = subprocess.run([sys.executable, "-m", "dsflow", "include"], capture_output=True, text=True, check=True)
    folder = Path(out.stdout.strip())
    assert folder == Path(dsflow.__file__).resolve().parent / "native" / "include"
    assert folder.is_dir()


def test_python_dash_m_dsflow_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "dsflow", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"dsflow {dsflow.__version__}"
