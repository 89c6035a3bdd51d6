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
import helpers_nodes as h
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx_models import Band, blob_model, identity_model

import dsflow
from dsflow.native import include_dir

SOURCES = Path(__file__).parent / "native"
GCC = shutil.which("gcc")

pytestmark = pytest.mark.skipif(GCC is None, reason="needs gcc to build the test libraries")

log = h.log  # the shared fixture


def im_info_model() -> bytes:
    """Two inputs, as Faster R-CNN has: the image (passed through) and ``im_info`` (N, 3) (passed through)."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"]), helper.make_node("Identity", ["im_info"], ["info"])],
        "two_inputs",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, 12, 16]),
         helper.make_tensor_value_info("im_info", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3, 12, 16]),
         helper.make_tensor_value_info("info", TensorProto.FLOAT, ["n", 3])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model.SerializeToString()


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


# -- several functions of one library, engine creation, model parsing, input layers ---------------------


def tensor_meta_of(text: str, log) -> list[dict[str, np.ndarray]]:
    """Run a graph whose stage ``stage`` (gie-unique-id 7) attaches its tensors; return them per frame."""
    from dsflow.infer.engine import clear_engine_cache
    from dsflow.infer.stage import tensor_meta_key

    clear_engine_cache()
    assert dsflow.run_graph(h.graph(text, log), device="cpu").error is None
    return [f.tensors[tensor_meta_key(7)].layers for b in log.batches["rec"] for f in b.frames]


def tensor_graph(folder: Path, keys: str) -> str:
    return f"""
        nodes:
          - {{name: images, type: source.images, params: {{path: {folder / "scene.png"}}}}}
          - name: stage
            type: nvinfer
            input: images
            params:
              gie-unique-id: 7
              network-type: 100
              output-tensor-meta: true
              net-scale-factor: 0.00392156862745098
{keys}
          - {{name: rec, type: test.record, input: stage, params: {{tag: $TAG}}}}
    """


@pytest.fixture(scope="module")
def creator_lib(scene: Path) -> Path:
    (scene / "embedded_model.h").write_text(
        "static const unsigned char dsflow_test_model[1] = {0};\n", encoding="ascii"
    )
    lib = scene / "libengine_creator.so"
    command = [GCC, "-shared", "-fPIC", "-O2", "-I", str(include_dir()), "-I", str(scene),
               str(SOURCES / "dsflow" / "engine_creator.c"), "-o", str(lib)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    (scene / "small.onnx").write_bytes(identity_model(["n", 3, 12, 16]))
    return lib


def expected_input(scene: Path) -> np.ndarray:
    """The stage's input for the scene, computed independently: resize to 16×12, scale, CHW."""
    image = cv2.imread(str(scene / "scene.png"))[..., ::-1]
    small = cv2.resize(image, (16, 12), interpolation=cv2.INTER_NEAREST)
    return (small.astype(np.float32) * np.float32(0.00392156862745098)).transpose(2, 0, 1)


def test_two_stages_use_two_functions_of_one_library(scene: Path) -> None:
    lib = scene / "libyolo_rows.so"

    def stage(name: str, gie: int, function: str) -> str:
        return f"""\
  - name: {name}
    type: nvinfer
    input: {"images" if gie == 1 else "det"}
    params:
      onnx-file: {scene / "model.onnx"}
      labelfile-path: {scene / "labels.txt"}
      gie-unique-id: {gie}
      num-detected-classes: 2
      cluster-mode: 4
      parse-bbox-func-name: {function}
      custom-lib-path: {lib}
"""

    path = scene / "two.yaml"
    path.write_text(
        "nodes:\n"
        f"  - {{name: images, type: source.images, params: {{path: {scene / 'scene.png'}}}}}\n"
        + stage("det", 1, "DsflowYoloRows")
        + stage("again", 2, "DsflowYoloRowsReversed")
        + f"  - {{name: out, type: sink.jsonl, input: again, params: {{path: {scene / 'two.jsonl'}}}}}\n",
        encoding="utf-8",
    )
    graph = dsflow.load_graph(path)
    first, second = graph.nodes["det/parse"].params.parser, graph.nodes["again/parse"].params.parser
    assert (first.name, second.name) == ("DsflowYoloRows", "DsflowYoloRowsReversed")
    assert first.library == second.library == str(lib)
    assert dsflow.run_graph(graph, device="cpu").error is None
    (frame,) = [json.loads(line) for line in (scene / "two.jsonl").read_text(encoding="utf-8").splitlines()]
    boxes = {(o["component_id"], o["label"], o["left"], o["top"], o["width"], o["height"]) for o in frame["objects"]}
    assert boxes == {
        (gie, label, *box)
        for gie in (1, 2)
        for label, box in (("red", (20.0, 10.0, 50.0, 40.0)), ("blue", (90.0, 60.0, 60.0, 50.0)))
    }


def test_an_engine_creator_from_the_library_makes_the_model(scene: Path, creator_lib: Path, log) -> None:
    keys = (
        f"              onnx-file: {scene / 'small.onnx'}\n"
        "              engine-create-func-name: DsflowOnnxFromRequest\n"
        f"              custom-lib-path: {creator_lib}"
    )
    (layers,) = tensor_meta_of(tensor_graph(scene, keys), log)
    np.testing.assert_array_equal(layers["output"], expected_input(scene))


def test_a_model_parser_from_the_library_reads_a_custom_format(scene: Path, creator_lib: Path, log) -> None:
    container = scene / "model.dsm"
    container.write_bytes(b"DSFLOWM1" + (scene / "small.onnx").read_bytes())
    keys = (
        f"              model-file: {container}\n"
        "              model-parser-func-name: DsflowContainerToOnnx\n"
        f"              custom-lib-path: {creator_lib}"
    )
    (layers,) = tensor_meta_of(tensor_graph(scene, keys), log)
    np.testing.assert_array_equal(layers["output"], expected_input(scene))


def test_an_nvinfer_library_initializes_the_other_inputs(scene: Path, log) -> None:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("needs g++")
    lib = scene / "libinput_init.so"
    command = [gxx, "-shared", "-fPIC", "-O2", "-I", str(include_dir()),
               str(SOURCES / "nvinfer" / "input_initializers.cpp"), "-o", str(lib)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    model = scene / "two_inputs.onnx"
    model.write_bytes(im_info_model())
    keys = f"              onnx-file: {model}\n              custom-lib-path: {lib}"
    (layers,) = tensor_meta_of(tensor_graph(scene, keys), log)
    np.testing.assert_array_equal(layers["info"], [12.0, 16.0, 1.0])  # {netH, netW, 1}, as nvinfer's samples fill it
    np.testing.assert_array_equal(layers["output"], expected_input(scene))


def test_a_library_that_does_not_load_is_only_a_warning_while_dsflow_has_the_names(
    scene: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Like DeepStream-Yolo's library on a machine without TensorRT: the names it holds are built in."""
    broken = scene / "libbroken.so"
    broken.write_text("not an ELF file\n", encoding="utf-8")
    path = scene / "graph.yaml"
    keys = f"      parse-bbox-func-name: NvDsInferParseYolo\n      custom-lib-path: {broken}"
    path.write_text(graph_text(scene, keys), encoding="utf-8")
    dsflow.load_graph(path)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"{path}:13:7: warning: cannot load custom library {broken}: ")
    assert warning.endswith("; only functions dsflow or its plugins provide can be used")
    path.write_text(graph_text(scene, keys.replace("NvDsInferParseYolo", "Elsewhere")), encoding="utf-8")
    with pytest.raises(dsflow.ConfigError) as info:
        dsflow.load_graph(path)
    assert f"; and in custom-lib-path: cannot load custom library {broken}: " in str(info.value)
