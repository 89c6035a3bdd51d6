"""nvinfer's C++ custom-function ABI: nvinfer-style C++ sources from ``tests/native/nvinfer/``, compiled
against dsflow's compatibility headers (``nvdsinfer.h``, ``nvdsinfer_custom_impl.h``) with the system
g++ and called unchanged through :mod:`dsflow.native.nvinfer_abi`, one sample at a time as nvinfer
calls them, on the outputs of real ONNX Runtime sessions.

Results are compared with dsflow's built-in Python parsers on the same tensors; memory the functions
hand over (vectors, labels, masks, description strings) must come back freed.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx_models import (
    IR_VERSION,
    OPSET,
    Band,
    blob_model,
    channel_stats_model,
    constant_model,
    run_model,
    sample_layers,
    segmentation_model,
)

from dsflow.errors import EngineError, PluginError
from dsflow.frame import Attribute
from dsflow.infer.parsers.classifier import parse_softmax
from dsflow.infer.parsers.maskrcnn import parse_mrcnn_tlt_v2
from dsflow.infer.parsers.segmentation import parse_argmax
from dsflow.infer.parsers.yolo import parse_yolo
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.native import nvinfer_abi

SOURCES = Path(__file__).parent / "native" / "nvinfer"
INCLUDE = Path(nvinfer_abi.__file__).parent / "include"
GXX, GCC = shutil.which("g++"), shutil.which("gcc")
FLAGS = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror"]

pytestmark = pytest.mark.skipif(not GXX, reason="needs g++ to build the nvinfer-style test libraries")

NETWORK = NetworkInfo(64, 48, 3)
SHORT_LABELS = (("red", "green", "blue"), ("car", "bus", "van"))
LONG_LABELS = (
    ("a-vehicle-painted-red", "a-vehicle-painted-green", "a-vehicle-painted-blue"),
    ("a-passenger-car", "a-city-bus", "a-delivery-van"),
)


def compile_source(source: Path, output: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [str(GXX), *flags, "-I", str(INCLUDE), str(source), "-o", str(output)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def build(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., str]:
    """``build(source, *extra_flags)``: the path of the shared library built from ``source`` (cached)."""
    folder = tmp_path_factory.mktemp("nvinfer_abi")
    built: dict[tuple[str, ...], str] = {}

    def make(source: str, *extra: str) -> str:
        key = (source, *extra)
        if key not in built:
            output = folder / f"lib{Path(source).stem}_{len(built)}.so"
            done = compile_source(SOURCES / source, output, *FLAGS, *extra)
            assert done.returncode == 0, f"{source}:\n{done.stderr}"
            built[key] = str(output)
        return built[key]

    return make


@pytest.fixture(scope="session")
def load(build: Callable[..., str]) -> Callable[[str], ctypes.CDLL]:
    """``load(source)``: the library built from ``source``, opened as nvinfer and dsflow open it."""
    return lambda source: ctypes.CDLL(build(source), mode=os.RTLD_LAZY)


def function(lib: ctypes.CDLL, name: str, family: str) -> Any:
    return nvinfer_abi.wrap(lib, name, family)


def params_for(pre: list[float], post: list[float] | None = None) -> DetectionParams:
    post = post if post is not None else [0.0] * len(pre)
    return DetectionParams(len(pre), np.array(pre, np.float32), np.array(post, np.float32))


def assert_same(got: Detections, expected: Detections) -> None:
    for column in ("class_id", "left", "top", "width", "height", "confidence"):
        a, b = getattr(got, column), getattr(expected, column)
        assert a.dtype == b.dtype, column
        np.testing.assert_array_equal(a, b, err_msg=column)
    if expected.masks is None:
        assert got.masks is None
    else:
        assert isinstance(got.masks, np.ndarray)
        assert got.masks.dtype == np.float32
        np.testing.assert_array_equal(got.masks, np.asarray(expected.masks, np.float32))


def images(count: int, size: tuple[int, int] = (64, 48), seed: int = 0) -> np.ndarray:
    width, height = size
    return np.random.default_rng(seed).random((count, 3, height, width), dtype=np.float32)


# -- layouts and headers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("struct", "size"),
    [
        (nvinfer_abi.NvDsInferDims, 40),
        (nvinfer_abi.NvDsInferLayerInfo, 72),
        (nvinfer_abi.NvDsInferNetworkInfo, 12),
        (nvinfer_abi.NvDsInferObjectDetectionInfo, 24),
        (nvinfer_abi.NvDsInferInstanceMaskInfo, 48),
        (nvinfer_abi.NvDsInferAttribute, 24),
        (nvinfer_abi.NvDsInferDetectionParams, 32),
        (nvinfer_abi.StdVector, 24),
        (nvinfer_abi.StdString, 32),
        (nvinfer_abi.NvDsInferParseDetectionParams, 64),
    ],
)
def test_struct_sizes_are_the_documented_x86_64_ones(struct: type, size: int) -> None:
    assert ctypes.sizeof(struct) == size


@pytest.mark.skipif(not GCC, reason="needs gcc")
@pytest.mark.parametrize("standard", ["c11", "c17"])
def test_nvdsinfer_h_compiles_as_c(tmp_path: Path, standard: str) -> None:
    """The plain structs, enums and macros are C: a C translation unit (with layout asserts) compiles."""
    command = [str(GCC), f"-std={standard}", "-Wall", "-Wextra", "-Werror", "-c", "-I", str(INCLUDE),
               str(SOURCES / "plain_c.c"), "-o", str(tmp_path / "plain_c.o")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("standard", ["c++11", "c++17", "c++20"])
def test_custom_impl_header_layouts_hold_in_cpp(tmp_path: Path, standard: str) -> None:
    """Sizes and offsets (incl. NvDsInferContextInitParams, 51400 bytes) assert at compile time; the
    detection params' reference member refers to the object's own thresholds, also after a copy."""
    main = tmp_path / "main.cpp"
    main.write_text('#include "layouts.cpp"\nint main() { return referenceIsOwn() ? 0 : 1; }\n', encoding="ascii")
    done = compile_source(main, tmp_path / "layouts", f"-std={standard}", "-Wall", "-Wextra", "-pedantic",
                          "-Werror", "-I", str(SOURCES))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert subprocess.run([str(tmp_path / "layouts")], check=False).returncode == 0


def test_check_macro_rejects_a_wrong_prototype(tmp_path: Path) -> None:
    done = compile_source(SOURCES / "wrong_prototype.cpp", tmp_path / "wrong.so", *FLAGS)
    assert done.returncode != 0
    assert "NvDsInferParseWrongPrototype" in done.stderr
    assert "does not have the parameters and result of NvDsInferParseCustomFunc" in done.stderr


def test_check_macro_gives_c_linkage(build: Callable[..., str]) -> None:
    symbols = nvinfer_abi.dynamic_symbols(build("bbox_parsers.cpp"))
    for name in ("NvDsInferParseRows", "NvDsInferParseRowsFirstThreshold", "NvDsInferParseFails"):
        assert symbols.get(name) is True
    assert "NvDsInferParseForgotExternC" not in symbols


# -- bbox parsers --------------------------------------------------------------------------------------

ROWS = np.array(
    [
        [10, 5, 30, 25, 0.9, 0],  # inside
        [-5, -3, 20, 10, 0.8, 1],  # clamped at 0
        [50, 40, 70, 60, 0.7, 2],  # clamped at netW / netH
        [10, 10, 10.5, 30, 0.95, 0],  # narrower than one pixel: dropped
        [10, 10, 30, 30, 0.29, 1],  # under class 1's threshold (0.3)
        [10, 10, 30, 30, 0.3, 1],  # exactly at it: kept
        [1, 2, 3, 4, 0.99, 3],  # class 3 is not configured
        [1, 2, 3, 4, 0.99, -1],  # negative class
        [0, 0, 64, 48, 0.5, 2.7],  # class id truncated to 2
        [63.5, 47, 80, 60, 0.6, 0],  # half a pixel wide after clamping: dropped
    ],
    np.float32,
)


@pytest.fixture(scope="module")
def row_outputs() -> dict[str, np.ndarray]:
    """The rows above (and the same shifted by 3 px) as a batch of two, out of an ONNX Runtime session."""
    model = constant_model({"output": ROWS}, (2, 3, 8, 8))
    outputs = run_model(model, np.zeros((2, 3, 8, 8), np.float32))
    outputs["output"] = outputs["output"].copy()
    outputs["output"][1, :, :4] += 3  # a second sample that differs
    return outputs


def test_bbox_parser_matches_builtin_yolo_rows(load: Callable[[str], ctypes.CDLL], row_outputs: dict) -> None:
    parser = function(load("bbox_parsers.cpp"), "NvDsInferParseRows", "bbox_parsers")
    params = params_for([0.2, 0.3, 0.5])
    for sample in range(2):
        layers = sample_layers(row_outputs, sample)
        got = parser(layers, NETWORK, params, xp=np, stream=None)
        expected = parse_yolo(layers, NETWORK, params)
        assert len(expected) == 5
        assert_same(got, expected)


def test_bbox_parser_on_boxes_a_model_computes(load: Callable[[str], ctypes.CDLL]) -> None:
    bands = [Band(0, 0.995, 0.9, 0), Band(1, 0.99, 0.6, 1), Band(2, 0.999, 0.4, 2), Band(0, 2.0, 0.9, 1)]
    outputs = run_model(blob_model(bands, (64, 48), margin=1.5), images(3))
    parser = function(load("bbox_parsers.cpp"), "NvDsInferParseRows", "bbox_parsers")
    params = params_for([0.5, 0.5, 0.3])
    total = 0
    for sample in range(3):
        layers = sample_layers(outputs, sample)
        expected = parse_yolo(layers, NETWORK, params)
        assert_same(parser(layers, NETWORK, params, xp=np, stream=None), expected)
        total += len(expected)
    assert total == 9


def test_reference_member_points_at_the_pre_cluster_thresholds(
    load: Callable[[str], ctypes.CDLL], row_outputs: dict
) -> None:
    """A parser reading ``perClassThreshold[0]`` (through the reference slot) sees class 0's pre-cluster value."""
    parser = function(load("bbox_parsers.cpp"), "NvDsInferParseRowsFirstThreshold", "bbox_parsers")
    layers = sample_layers(row_outputs, 0)
    got = parser(layers, NETWORK, params_for([0.75, 0.3, 0.5]), xp=np, stream=None)
    expected = parse_yolo(layers, NETWORK, params_for([0.75, 0.75, 0.75]))
    assert_same(got, expected)
    assert got.confidence.tolist() == pytest.approx([0.9, 0.8])  # the 0.7 / 0.3 / 0.5 rows fall under 0.75


def test_parser_receives_the_detection_params_block(load: Callable[[str], ctypes.CDLL]) -> None:
    parser = function(load("bbox_parsers.cpp"), "NvDsInferParseEchoParams", "bbox_parsers")
    params = params_for([0.25, 0.5, 0.125], [0.0, 0.75, 1.0])
    got = parser([], NETWORK, params, xp=np, stream=None)
    # per class: (100 + c, pre[c], post[c], numClassesConfigured, offset of the reference, offset of post)
    assert got.class_id.tolist() == [100, 101, 102, 200]
    assert got.left.tolist() == [0.25, 0.5, 0.125, 64]
    assert got.top.tolist() == [0.0, 0.75, 1.0, 48]
    assert got.width.tolist() == [3, 3, 3, 3]
    assert got.height.tolist() == [8, 8, 8, 0]
    assert got.confidence.tolist() == [32, 32, 32, 1]


def test_detection_params_are_reused_per_object_and_see_edits(load: Callable[[str], ctypes.CDLL]) -> None:
    """The wrapper keeps the params block per ``DetectionParams`` object; it points into the arrays, so an
    edit of their values reaches the next call, and another object (or float64 thresholds) gets its own."""
    parser = function(load("bbox_parsers.cpp"), "NvDsInferParseEchoParams", "bbox_parsers")
    params = params_for([0.25, 0.5], [0.0, 0.75])
    assert parser([], NETWORK, params, xp=np, stream=None).left.tolist() == [0.25, 0.5, 64]
    params.pre_cluster_threshold[1] = 0.125
    got = parser([], NETWORK, params, xp=np, stream=None)
    assert got.left.tolist() == [0.25, 0.125, 64]
    assert got.top.tolist() == [0.0, 0.75, 48]
    other = DetectionParams(3, np.array([0.5, 0.25, 1.0]), np.array([1.0, 0.5, 0.0]))  # float64: converted
    got = parser([], NetworkInfo(32, 16, 1), other, xp=np, stream=None)
    assert got.class_id.tolist() == [100, 101, 102, 200]
    assert got.left.tolist() == [0.5, 0.25, 1.0, 32]
    assert got.top.tolist() == [1.0, 0.5, 0.0, 16]
    assert got.width.tolist() == [3, 3, 3, 1]
    assert parser([], NETWORK, params, xp=np, stream=None).left.tolist() == [0.25, 0.125, 64]


def test_layer_vectors_are_reused_per_layer_set_and_thread(load: Callable[[str], ctypes.CDLL]) -> None:
    """Alternating layer sets each reach the function as they are, and two threads calling one wrapper at
    once (the C call releases the GIL) each see their own data: layer vectors are kept per thread."""
    import threading

    parser = function(load("classifiers.cpp"), "NvDsInferClassifierEchoLayers", "classifier_parsers")

    def echo(layers: list[Layer], network: NetworkInfo = NETWORK) -> str:
        return parser(layers, network, 0.5, xp=np, stream=None).description

    for value in (3, 4):
        assert echo([Layer("a", np.array([value, 1], np.int32))]) == (
            f"a type=3 dims=2 n=2 binding=0 input=0 first={value}\nnet=64x48x3 threshold=0.5"
        )
        assert echo([Layer("b", np.full((2, 3), value, np.uint8), 2), Layer("a", np.array([9.0], np.float32))],
                    NetworkInfo(8, 4, 1)) == (
            f"b type=5 dims=2x3 n=6 binding=2 input=0 first={value}\n"
            "a type=0 dims=1 n=1 binding=0 input=0 first=9\nnet=8x4x1 threshold=0.5"
        )  # fmt: skip
        strided = np.array([[value, 7], [8, 9]], np.int32)[:, 0]  # not contiguous: a copy is passed
        assert echo([Layer("a", strided)]).startswith(f"a type=3 dims=2 n=2 binding=0 input=0 first={value}\n")

    wrong: list[str] = []

    def worker(offset: int) -> None:
        for value in range(offset, offset + 1500):
            text = echo([Layer("a", np.array([value, 0], np.int32))])
            if not text.startswith(f"a type=3 dims=2 n=2 binding=0 input=0 first={value}\n"):
                wrong.append(text)

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in (0, 100_000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_parser_returning_false_is_an_engine_error(load: Callable[[str], ctypes.CDLL], row_outputs: dict) -> None:
    lib = load("bbox_parsers.cpp")
    parser = function(lib, "NvDsInferParseFails", "bbox_parsers")
    with pytest.raises(EngineError) as info:
        parser(sample_layers(row_outputs), NETWORK, params_for([0.5]), xp=np, stream=None)
    assert str(info.value) == f"custom function NvDsInferParseFails ({lib._name}) returned false"


def test_missing_symbol_is_a_plugin_error(load: Callable[[str], ctypes.CDLL]) -> None:
    lib = load("bbox_parsers.cpp")
    with pytest.raises(PluginError) as info:
        function(lib, "NvDsInferParseNothing", "bbox_parsers")
    text = str(info.value)
    assert text.startswith(f"custom function NvDsInferParseNothing ({lib._name}): the library has no symbol")
    assert 'declare it extern "C"' in text
    assert "CHECK_CUSTOM_*_PROTOTYPE" in text
    assert "found only" not in text


def test_mangled_only_symbol_is_named(load: Callable[[str], ctypes.CDLL]) -> None:
    lib = load("bbox_parsers.cpp")
    with pytest.raises(PluginError) as info:
        function(lib, "NvDsInferParseForgotExternC", "bbox_parsers")
    assert "found only a C++-mangled symbol (_Z27NvDsInferParseForgotExternC" in str(info.value)


def test_tensorrt_families_and_unknown_families_are_refused(load: Callable[[str], ctypes.CDLL]) -> None:
    lib = load("bbox_parsers.cpp")
    for family, what in (
        ("engine_creators", "NvDsInferEngineCreateCustomFunc"),
        ("model_parsers", "NvDsInferCreateModelParser"),
    ):
        with pytest.raises(PluginError, match=f"nvinfer's {what}.* needs the TensorRT backend"):
            function(lib, "NvDsInferParseRows", family)
    with pytest.raises(PluginError, match="no nvinfer function type for the family 'tracker'"):
        function(lib, "NvDsInferParseRows", "tracker")


# -- classifier parsers --------------------------------------------------------------------------------


def labelled(attributes: list[Attribute], labels: tuple[tuple[str, ...], ...]) -> list[tuple]:
    return [(labels[a.index][a.class_id], a.class_id, a.confidence, a.index) for a in attributes]


@pytest.mark.parametrize(("name", "labels"), [("NvDsInferClassifierShortLabels", SHORT_LABELS),
                                              ("NvDsInferClassifierLongLabels", LONG_LABELS)])  # fmt: skip
def test_classifier_matches_builtin_softmax(load: Callable[[str], ctypes.CDLL], name: str, labels: tuple) -> None:
    """Attributes as the built-in parser finds them, with the library's labels and its descString
    (short ones fit the string's own buffer, long ones are heap-allocated)."""
    outputs = run_model(channel_stats_model((16, 12)), images(4, (16, 12), seed=3))
    parser = function(load("classifiers.cpp"), name, "classifier_parsers")
    seen = 0
    for sample in range(4):
        layers = sample_layers(outputs, sample)
        for threshold in (0.0, 0.5, 0.9):
            got = parser(layers, NETWORK, threshold, xp=np, stream=None)
            expected = parse_softmax(layers, NETWORK, threshold)
            got_rows = [(a.label, a.class_id, a.confidence, a.index) for a in got]
            assert got_rows == labelled(expected, labels)
            assert got.description == "".join(f"{label} " for label, *_ in got_rows)
            seen += len(got)
    assert seen > 8


def test_classifier_edge_values(load: Callable[[str], ctypes.CDLL]) -> None:
    """Ties go to the first class; a layer with nothing above the threshold gives no attribute."""
    values = {"a": np.array([0.2, 0.5, 0.5], np.float32), "b": np.array([0.1, 0.3, 0.05], np.float32)}
    outputs = run_model(constant_model(values), np.zeros((1, 3, 8, 8), np.float32))
    parser = function(load("classifiers.cpp"), "NvDsInferClassifierShortLabels", "classifier_parsers")
    got = parser(sample_layers(outputs), NETWORK, 0.3, xp=np, stream=None)
    assert [(a.label, a.class_id, a.index) for a in got] == [("green", 1, 0)]
    assert got.description == "green "
    got = parser(sample_layers(outputs), NETWORK, 0.25, xp=np, stream=None)
    assert [(a.label, a.class_id, a.index) for a in got] == [("green", 1, 0), ("bus", 1, 1)]


def test_layers_reach_the_function_as_nvinfer_describes_them(load: Callable[[str], ctypes.CDLL]) -> None:
    """Names, NvDsInferDataType codes, per-sample dims and element counts, binding indexes, sample slices."""
    values = {
        "scores/float": np.arange(6, dtype=np.float32).reshape(2, 3) + 7,
        "ids": np.array([-4, 5, 6, 7], np.int32),
        "big": np.full((1, 2, 2), 2**40, np.int64),
        "bytes": np.array([250, 1, 2, 3, 4], np.uint8),
        "small": np.array([-7, 3], np.int8),
        "half": np.array([1.0, 2.0, 3.0], np.float16),
        "flags": np.array([True, False]),
        "count": np.array(9, np.int32),  # a scalar per sample: no dims, one element
    }
    outputs = run_model(constant_model(values), np.zeros((2, 3, 8, 8), np.float32))
    parser = function(load("classifiers.cpp"), "NvDsInferClassifierEchoLayers", "classifier_parsers")
    got = parser(sample_layers(outputs, 1), NETWORK, 0.5, xp=np, stream=None)
    assert list(got) == []
    assert got.description == (
        "scores/float type=0 dims=2x3 n=6 binding=0 input=0 first=7\n"
        "ids type=3 dims=4 n=4 binding=1 input=0 first=-4\n"
        f"big type=4 dims=1x2x2 n=4 binding=2 input=0 first={2**40}\n"
        "bytes type=5 dims=5 n=5 binding=3 input=0 first=250\n"
        "small type=2 dims=2 n=2 binding=4 input=0 first=-7\n"
        f"half type=1 dims=3 n=3 binding=5 input=0 first={int(np.float16(1.0).view(np.uint16))}\n"
        "flags type=5 dims=2 n=2 binding=6 input=0 first=1\n"
        "count type=3 dims= n=1 binding=7 input=0 first=9\n"
        "net=64x48x3 threshold=0.5"
    )
    with pytest.raises(EngineError, match=r"layer 'x' has dtype float64, which nvinfer's NvDsInferDataType cannot"):
        parser([Layer("x", np.zeros(3))], NETWORK, 0.5, xp=np, stream=None)


def test_classifier_returning_false(load: Callable[[str], ctypes.CDLL]) -> None:
    lib = load("classifiers.cpp")
    parser = function(lib, "NvDsInferClassifierFails", "classifier_parsers")
    layers = [Layer("a", np.array([0.5, 0.25, 0.25], np.float32))]
    with pytest.raises(EngineError, match=r"^custom function NvDsInferClassifierFails \(.*\) returned false$"):
        parser(layers, NETWORK, 0.0, xp=np, stream=None)


def test_classifier_built_with_the_old_string_abi_is_refused(build: Callable[..., str]) -> None:
    lib = ctypes.CDLL(build("classifiers.cpp", "-D_GLIBCXX_USE_CXX11_ABI=0"), mode=os.RTLD_LAZY)
    with pytest.raises(PluginError, match=r"pre-C\+\+11 std::string \(_GLIBCXX_USE_CXX11_ABI=0\)"):
        function(lib, "NvDsInferClassifierShortLabels", "classifier_parsers")
    function(lib, "NvDsInferClassifierShortLabels", "bbox_parsers")  # no std::string in that prototype


# -- instance masks ------------------------------------------------------------------------------------


def test_instance_mask_parser_matches_builtin_mrcnn(load: Callable[[str], ctypes.CDLL]) -> None:
    bands = [Band(0, 0.99, 0.9, 0), Band(1, 0.995, 0.7, 0), Band(2, 0.999, 0.3, 0), Band(1, 2.0, 0.9, 0)]
    outputs = run_model(blob_model(bands, (64, 48), layout="mrcnn"), images(3, seed=5))
    parser = function(load("instance_mask_parsers.cpp"), "NvDsInferParseMaskRows", "instance_mask_parsers")
    params = params_for([0.5])
    total = 0
    for sample in range(3):
        layers = sample_layers(outputs, sample)
        expected = parse_mrcnn_tlt_v2(layers, NETWORK, params)
        got = parser(layers, NETWORK, params, xp=np, stream=None)
        assert_same(got, expected)
        assert got.masks.shape == (len(expected), 48, 64)
        total += len(expected)
    assert total == 6


def test_masks_of_different_sizes_and_null_masks(load: Callable[[str], ctypes.CDLL]) -> None:
    parser = function(load("instance_mask_parsers.cpp"), "NvDsInferParseMixedMasks", "instance_mask_parsers")
    got = parser([], NETWORK, params_for([0.5]), xp=np, stream=None)
    assert got.class_id.tolist() == [0, 1, 2]
    assert [m.shape for m in got.masks] == [(2, 3), (0, 0), (1, 1)]
    np.testing.assert_array_equal(got.masks[0], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert got.masks[2].tolist() == [[10.0]]


def test_mask_size_in_floats_is_an_engine_error(load: Callable[[str], ctypes.CDLL]) -> None:
    parser = function(load("instance_mask_parsers.cpp"), "NvDsInferParseMaskSizeInFloats", "instance_mask_parsers")
    with pytest.raises(EngineError, match=r"object 1 has a 2x2 mask but mask_size 4 \(expected at least 16 bytes"):
        parser([], NETWORK, params_for([0.5]), xp=np, stream=None)


# -- semantic segmentation -----------------------------------------------------------------------------


def test_segmentation_parser_matches_builtin_argmax(load: Callable[[str], ctypes.CDLL]) -> None:
    lib = load("segmentation_parsers.cpp")
    picture = images(2, (10, 6), seed=9)
    picture[0, :, 0, 0] = 0.1  # nothing above the threshold there
    picture[0, :2, 1, 1] = 0.8  # a tie: the first class wins
    chw = sample_layers(run_model(segmentation_model((10, 6)), picture), 0)
    parser = function(lib, "NvDsInferParseSegmentationCHW", "segmentation_parsers")
    class_map, probabilities = parser(chw, NETWORK, 0.3, xp=np, stream=None, order=0)
    expected_map, expected_probabilities = parse_argmax(chw, NETWORK, 0.3, order=0)
    np.testing.assert_array_equal(class_map, expected_map)
    assert class_map[0, 0] == -1
    assert class_map[1, 1] == 0
    assert np.shares_memory(probabilities, chw[0].data)  # the layer itself, as nvinfer keeps it
    np.testing.assert_array_equal(probabilities, expected_probabilities)

    hwc = sample_layers(run_model(segmentation_model((10, 6), nhwc_output=True), picture), 0)
    parser = function(lib, "NvDsInferParseSegmentationHWC", "segmentation_parsers")
    class_map, probabilities = parser(hwc, NETWORK, 0.3, xp=np, stream=None, order=1)
    np.testing.assert_array_equal(class_map, expected_map)
    np.testing.assert_array_equal(probabilities, hwc[0].data * 2)  # the library's own buffer, copied
    assert not np.shares_memory(probabilities, hwc[0].data)


# -- input layers --------------------------------------------------------------------------------------


def two_input_model() -> bytes:
    """Image ``input`` plus ``im_info`` ``(N, 3)`` and ``ids`` ``(N, 2, 2)``; outputs ``2·im_info`` and ``ids``."""
    inputs = [
        helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["n", 3, 8, 8]),
        helper.make_tensor_value_info("im_info", onnx.TensorProto.FLOAT, ["n", 3]),
        helper.make_tensor_value_info("ids", onnx.TensorProto.INT32, ["n", 2, 2]),
    ]
    two = helper.make_tensor("two", onnx.TensorProto.FLOAT, [], [2.0])
    nodes = [
        helper.make_node("Constant", [], ["two"], value=two),
        helper.make_node("Mul", ["im_info", "two"], ["scaled"]),
        helper.make_node("Identity", ["ids"], ["ids_out"]),
    ]
    outputs = [
        helper.make_tensor_value_info("scaled", onnx.TensorProto.FLOAT, ["n", 3]),
        helper.make_tensor_value_info("ids_out", onnx.TensorProto.INT32, ["n", 2, 2]),
    ]
    graph = helper.make_graph(nodes, "two_inputs", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model.SerializeToString()


def test_input_initializer_fills_the_extra_inputs(load: Callable[[str], ctypes.CDLL]) -> None:
    init = function(load("input_initializers.cpp"), "NvDsInferInitializeInputLayers", "input_initializers")
    im_info = np.zeros((4, 3), np.float32)
    ids = np.zeros((4, 2, 2), np.int32)
    layers = [Layer("im_info", im_info, 1, True), Layer("ids", ids, 2, True)]
    filled = init(layers, NETWORK, 4, xp=np, stream=None)
    assert filled["im_info"] is im_info  # filled in place
    assert im_info.tolist() == [[48, 64, 1]] * 4
    assert ids.tolist() == [[[b * 1000 + 0, b * 1000 + 1], [b * 1000 + 2, b * 1000 + 3]] for b in range(4)]

    n = 3  # the infer node feeds a chunk the first n rows
    picture = np.zeros((n, 3, 8, 8), np.float32)
    out = run_model(two_input_model(), {"input": picture, "im_info": im_info[:n], "ids": ids[:n]})
    assert out["scaled"].tolist() == [[96, 128, 2]] * n
    np.testing.assert_array_equal(out["ids_out"], ids[:n])


def test_input_initializer_copies_what_it_cannot_fill_in_place(load: Callable[[str], ctypes.CDLL]) -> None:
    init = function(load("input_initializers.cpp"), "NvDsInferInitializeInputLayers", "input_initializers")
    frozen = np.zeros((2, 3), np.float32)
    frozen.flags.writeable = False
    filled = init([Layer("im_info", frozen, 1, True)], NETWORK, 2, xp=np, stream=None)
    assert frozen.tolist() == [[0, 0, 0]] * 2
    assert filled["im_info"].tolist() == [[48, 64, 1]] * 2
    with pytest.raises(EngineError, match=r"input layer 'im_info' has shape \(2, 3\), expected \(4, ...\)"):
        init([Layer("im_info", np.zeros((2, 3), np.float32), 1, True)], NETWORK, 4, xp=np, stream=None)
    with pytest.raises(EngineError, match=r"NvDsInferInitializeInputLayers \(.*\) returned false"):
        init([Layer("other", np.zeros((2, 3), np.float32), 1, True)], NETWORK, 2, xp=np, stream=None)


def test_input_initializer_of_another_name(load: Callable[[str], ctypes.CDLL]) -> None:
    init = function(load("input_initializers.cpp"), "NvDsInferInitializeRefuses", "input_initializers")
    with pytest.raises(EngineError, match=r"^custom function NvDsInferInitializeRefuses \(.*\) returned false$"):
        init([], NETWORK, 1, xp=np, stream=None)


# -- memory --------------------------------------------------------------------------------------------


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]  # fmt: skip


def heap_in_use() -> Callable[[], int]:
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("needs glibc's mallinfo2 (glibc 2.33 or later)")
    libc.mallinfo2.restype = MallInfo2

    def in_use() -> int:
        info = libc.mallinfo2()
        return int(info.uordblks + info.hblkhd)

    return in_use


@pytest.mark.parametrize(
    ("source", "name", "family"),
    [
        ("bbox_parsers.cpp", "NvDsInferParseRows", "bbox_parsers"),
        ("bbox_parsers.cpp", "NvDsInferParseFails", "bbox_parsers"),
        ("classifiers.cpp", "NvDsInferClassifierLongLabels", "classifier_parsers"),
        ("classifiers.cpp", "NvDsInferClassifierFails", "classifier_parsers"),
        ("instance_mask_parsers.cpp", "NvDsInferParseMixedMasks", "instance_mask_parsers"),
    ],
)
def test_memory_the_functions_hand_over_is_freed(
    load: Callable[[str], ctypes.CDLL], row_outputs: dict, source: str, name: str, family: str
) -> None:
    """Thousands of calls, each handing over vectors, labels, masks or a heap descString, leave the heap as it was."""
    in_use = heap_in_use()
    fn = function(load(source), name, family)
    if family == "classifier_parsers":
        layers = [Layer("a", np.array([0.1, 0.7, 0.2], np.float32)), Layer("b", np.array([0.6, 0.4], np.float32), 1)]
        argument: Any = 0.0
    else:
        layers, argument = sample_layers(row_outputs), params_for([0.2, 0.3, 0.5])

    def call() -> None:
        try:
            fn(layers, NETWORK, argument, xp=np, stream=None)
        except EngineError:
            pass

    for _ in range(200):
        call()
    before = in_use()
    calls = 4000
    for _ in range(calls):
        call()
    grown = in_use() - before
    assert grown < calls * 4, f"the heap grew by {grown} bytes over {calls} calls"


# -- in a graph ----------------------------------------------------------------------------------------


def test_graph_runs_an_nvinfer_parser_from_custom_lib_path(tmp_path: Path, build: Callable[..., str]) -> None:
    """``custom-lib-path`` + ``parse-bbox-func-name`` naming an nvinfer-ABI function: the same objects as the
    built-in ``NvDsInferParseYolo`` on the same model."""
    import cv2

    import dsflow

    image = np.zeros((120, 160, 3), np.uint8)
    image[10:50, 20:70, 0] = 255  # red (RGB)
    image[60:110, 90:150, 2] = 255  # blue
    assert cv2.imwrite(str(tmp_path / "scene.png"), image[..., ::-1])
    (tmp_path / "model.onnx").write_bytes(blob_model([Band(0, 0.5, 0.9, 0), Band(2, 0.5, 0.8, 1)], (160, 120)))
    (tmp_path / "labels.txt").write_text("red\nblue\n", encoding="utf-8")

    def run(parser_keys: str) -> list[dict]:
        path = tmp_path / "graph.yaml"
        path.write_text(
            f"""\
nodes:
  - {{name: images, type: source.images, params: {{path: {tmp_path / "scene.png"}}}}}
  - name: det
    type: nvinfer
    input: images
    params:
      onnx-file: {tmp_path / "model.onnx"}
      labelfile-path: {tmp_path / "labels.txt"}
      gie-unique-id: 1
      num-detected-classes: 2
      cluster-mode: 4
{parser_keys}
  - {{name: out, type: sink.jsonl, input: det, params: {{path: {tmp_path / "out.jsonl"}}}}}
""",
            encoding="utf-8",
        )
        result = dsflow.run_graph(dsflow.load_graph(path), device="cpu")
        assert result.error is None
        return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]

    builtin = run("      parse-bbox-func-name: NvDsInferParseYolo")
    library = run(f"      parse-bbox-func-name: NvDsInferParseRows\n      custom-lib-path: {build('bbox_parsers.cpp')}")
    assert library == builtin
    objects = library[0]["objects"]
    assert [(o["label"], o["left"], o["top"], o["width"], o["height"]) for o in objects] == [
        ("red", 20.0, 10.0, 50.0, 40.0),
        ("blue", 90.0, 60.0, 60.0, 50.0),
    ]
