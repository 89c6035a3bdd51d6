"""Custom functions from ``custom-lib-path`` libraries, resolved by name in real graphs.

Libraries are compiled here with the system compiler; the graphs run real ONNX Runtime
sessions, and their objects must equal those of the built-in Python parser on the same model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from onnx_models import Band, blob_model

import dsflow
from dsflow.native import include_dir

SOURCES = Path(__file__).parent / "native"
GCC = shutil.which("gcc")

pytestmark = pytest.mark.skipif(GCC is None, reason="needs gcc to build the test libraries")

# Two bright squares: red (channel 0) and blue (channel 2), found by blob_model's bands.
BANDS = [Band(0, 0.5, 0.9, 0), Band(2, 0.5, 0.8, 1)]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("custom_libraries")
    image = np.zeros((120, 160, 3), np.uint8)
    image[10:50, 20:70, 0] = 255  # red, RGB
    image[60:110, 90:150, 2] = 255  # blue
    assert cv2.imwrite(str(folder / "scene.png"), image[..., ::-1])
    (folder / "model.onnx").write_bytes(blob_model(BANDS, (160, 120)))
    (folder / "labels.txt").write_text("red\nblue\n", encoding="utf-8")
    lib = folder / "libyolo_rows.so"
    command = [GCC, "-shared", "-fPIC", "-O2", "-I", str(include_dir()), str(SOURCES / "dsflow" / "yolo_rows.c"),
               "-o", str(lib)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return folder


def graph_text(folder: Path, parser_keys: str) -> str:
    return f"""\
nodes:
  - {{name: images, type: source.images, params: {{path: {folder / "scene.png"}}}}}
  - name: det
    type: nvinfer
    input: images
    params:
      onnx-file: {folder / "model.onnx"}
      labelfile-path: {folder / "labels.txt"}
      gie-unique-id: 1
      num-detected-classes: 2
      cluster-mode: 4
{parser_keys}
  - {{name: out, type: sink.jsonl, input: det, params: {{path: {folder / "out.jsonl"}}}}}
"""


def run(folder: Path, parser_keys: str) -> list[dict]:
    path = folder / "graph.yaml"
    path.write_text(graph_text(folder, parser_keys), encoding="utf-8")
    result = dsflow.run_graph(dsflow.load_graph(path), device="cpu")
    assert result.error is None
    return [json.loads(line) for line in (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()]


def test_a_dsflow_abi_parser_from_the_library_equals_the_builtin(scene: Path) -> None:
    builtin = run(scene, "      parse-bbox-func-name: NvDsInferParseYolo")
    library = run(
        scene, f"      parse-bbox-func-name: DsflowYoloRows\n      custom-lib-path: {scene / 'libyolo_rows.so'}"
    )
    assert library == builtin
    objects = library[0]["objects"]
    assert [(o["label"], o["left"], o["top"], o["width"], o["height"]) for o in objects] == [
        ("red", 20.0, 10.0, 50.0, 40.0),
        ("blue", 90.0, 60.0, 60.0, 50.0),
    ]


def test_a_name_neither_registered_nor_in_the_library_is_a_located_error(scene: Path) -> None:
    path = scene / "graph.yaml"
    keys = f"      parse-bbox-func-name: NoSuchParser\n      custom-lib-path: {scene / 'libyolo_rows.so'}"
    path.write_text(graph_text(scene, keys), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "dsflow", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 4
    assert done.stderr.startswith(f"error: {path}:12:7: parse-bbox-func-name: unknown bbox parser 'NoSuchParser'")
    assert "Traceback" not in done.stderr
    lib = scene / "libyolo_rows.so"
    assert f"; and in custom-lib-path: custom function NoSuchParser ({lib}): the library has no symbol" in done.stderr
