"""dsflow's C ABI (``dsflow/native/include/dsflow/infer.h``): real libraries compiled from
``tests/native/dsflow/`` with the system C and C++ compilers, called through
:mod:`dsflow.native.dsflow_abi` on the outputs of real ONNX Runtime sessions.

Parsers are checked against dsflow's built-in Python parsers on the same tensors, sample by
sample, for a whole batch in one C call, with buffers small enough that the parser must ask for
more space first.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx_models import IR_VERSION, OPSET, Band, blob_model, channel_stats_model, identity_model, run_model

from dsflow.errors import EngineError, PluginError
from dsflow.infer import config as nvconfig
from dsflow.infer.engine import onnxruntime_backend
from dsflow.infer.parsers.classifier import parse_softmax
from dsflow.infer.parsers.maskrcnn import parse_mrcnn_tlt_v2
from dsflow.infer.parsers.yolo import parse_yolo
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.native import dsflow_abi
from dsflow.native.dsflow_abi import read_info, wrap

SOURCES = Path(__file__).parent / "native" / "dsflow"
INCLUDE = Path(dsflow_abi.INCLUDE_DIR)
GCC, GXX = shutil.which("gcc"), shutil.which("g++")
C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared", "-fPIC", "-O2", "-fvisibility=hidden"]
CXX_FLAGS = ["-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared", "-fPIC", "-O2"]
LIBRARIES = ("yolo_rows", "classifier", "mask_parser", "input_init", "engine_creator", "bad_info")

pytestmark = pytest.mark.skipif(not (GCC and GXX), reason="needs gcc and g++ to build the test libraries")

NETWORK = NetworkInfo(64, 48, 3)


def compile_library(source: Path, output: Path, lang: str, *extra: str) -> subprocess.CompletedProcess[str]:
    compiler, flags = (GCC, C_FLAGS) if lang == "c" else (GXX, CXX_FLAGS)
    command = [str(compiler), *flags, "-I", str(INCLUDE), *extra, str(source), "-o", str(output)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def embedded_model() -> bytes:
    """The ONNX model the engine-creator library embeds: ``(n, 3, 4, 4)`` in, the same out."""
    return identity_model(["n", 3, 4, 4])


@pytest.fixture(scope="session")
def libs(tmp_path_factory: pytest.TempPathFactory, embedded_model: bytes) -> dict[tuple[str, str], ctypes.CDLL]:
    """Every test library, built as C99 (hidden visibility by default) and as C++11, warnings as errors."""
    folder = tmp_path_factory.mktemp("dsflow_abi")
    body = ",".join(str(b) for b in embedded_model)
    header = f"static const unsigned char dsflow_test_model[{len(embedded_model)}] = {{{body}}};\n"
    (folder / "embedded_model.h").write_text(header, encoding="ascii")
    built = {}
    for name in LIBRARIES:
        for lang in ("c", "c++"):
            output = folder / f"lib{name}_{lang.replace('+', 'x')}.so"
            done = compile_library(SOURCES / f"{name}.c", output, lang, "-I", str(folder))
            assert done.returncode == 0, f"{name} ({lang}):\n{done.stderr}"
            built[name, lang] = ctypes.CDLL(str(output), mode=os.RTLD_LAZY)
    return built


def function(lib: ctypes.CDLL, name: str, family: str) -> Any:
    """What ``dsflow.native.library`` does with a dsflow-ABI symbol."""
    info = read_info(lib, name)
    assert info is not None
    return wrap(lib, name, family, info)


def where(lib: ctypes.CDLL, name: str) -> str:
    return f"custom function {name} ({lib._name})"


def assert_same(got: Detections, expected: Detections) -> None:
    for column in ("class_id", "left", "top", "width", "height", "confidence"):
        a, b = getattr(got, column), getattr(expected, column)
        assert a.dtype == b.dtype, column
        np.testing.assert_array_equal(a, b, err_msg=column)
    if expected.masks is None:
        assert got.masks is None
    else:
        np.testing.assert_array_equal(got.masks, np.asarray(expected.masks, np.float32))


# -- struct layouts ------------------------------------------------------------------------------

STRUCTS = [
    dsflow_abi.DsflowTensor, dsflow_abi.DsflowNetworkInfo, dsflow_abi.DsflowDetectionParams, dsflow_abi.DsflowObject,
    dsflow_abi.DsflowObjects, dsflow_abi.DsflowAttribute, dsflow_abi.DsflowAttributes,
    dsflow_abi.DsflowEngineRequest, dsflow_abi.DsflowBlob, dsflow_abi.DsflowFunctionInfo,
]  # fmt: skip


@pytest.mark.parametrize("lang", ["c", "c++"])
def test_ctypes_mirrors_the_header_layouts(tmp_path: Path, lang: str) -> None:
    """Every size and field offset of the ctypes mirror equals the compiler's, in C and in C++."""
    expected: list[int] = []
    lines = ["#include <stddef.h>", "#include <dsflow/infer.h>", "DSFLOW_EXTERN DSFLOW_EXPORT const uint64_t layout[];",
             "const uint64_t layout[] = {"]  # fmt: skip
    for struct in STRUCTS:
        lines.append(f"sizeof({struct.__name__}),")
        expected.append(ctypes.sizeof(struct))
        for field, *_ in struct._fields_:
            lines.append(f"offsetof({struct.__name__}, {field}),")
            expected.append(getattr(struct, field).offset)
    lines.append("};")
    source = tmp_path / "layout.c"
    source.write_text("\n".join(lines), encoding="ascii")
    output = tmp_path / "liblayout.so"
    done = compile_library(source, output, lang)
    assert done.returncode == 0, done.stderr
    layout = (ctypes.c_uint64 * len(expected)).in_dll(ctypes.CDLL(str(output)), "layout")
    assert list(layout) == expected
    assert dsflow_abi.ABI_VERSION == 1
    assert "#define DSFLOW_ABI_VERSION 1\n" in (INCLUDE / "dsflow" / "infer.h").read_text(encoding="ascii")


def test_info_describes_the_function(libs: dict) -> None:
    lib = libs["yolo_rows", "c"]
    assert read_info(lib, "DsflowYoloRows") == dsflow_abi.FunctionInfo(1, dsflow_abi.KIND_BBOX_PARSER, 96, 28)
    assert read_info(libs["classifier", "c++"], "DsflowBestClass") == dsflow_abi.FunctionInfo(1, 3, 96, 144)
    assert read_info(libs["input_init", "c"], "DsflowImInfo") == dsflow_abi.FunctionInfo(1, 4, 96, 12)
    assert read_info(libs["engine_creator", "c"], "DsflowEmbeddedOnnx") == dsflow_abi.FunctionInfo(1, 5, 96, 48)
    assert read_info(lib, "NvDsInferParseYolo") is None  # not a dsflow-ABI function: nvinfer's ABI then
    assert read_info(lib, "dsflow_test_calls") is None


# -- bbox parsers --------------------------------------------------------------------------------


def yolo_rows() -> np.ndarray:
    """Three samples of 40 DeepStream-Yolo rows: corners partly outside the network, unknown classes,
    scores on both sides of the thresholds, boxes under one pixel; sample 2 has nothing that passes."""
    rng = np.random.default_rng(7)
    x1 = rng.uniform(-10, 70, (3, 40))
    y1 = rng.uniform(-10, 55, (3, 40))
    x2 = x1 + rng.uniform(0, 40, (3, 40))
    y2 = y1 + rng.uniform(0, 30, (3, 40))
    score = rng.uniform(0, 1, (3, 40))
    class_id = rng.integers(-1, 5, (3, 40)).astype(np.float64)
    rows = np.stack([x1, y1, x2, y2, score, class_id], axis=-1).astype(np.float32)
    rows[0, :3] = [[2, 3, 2.5, 20, 0.9, 0], [5, 5, 30, 5.9, 0.9, 1], [1, 1, 10, 10, 0.5, 1]]  # thin, flat, at 0.5
    rows[2, :, 4] = 0.1
    return rows


DETECTION_PARAMS = DetectionParams(3, np.array([0.2, 0.5, 0.7], np.float32), np.array([0.3, 0.3, 0.3], np.float32))


@pytest.fixture(scope="module")
def yolo_outputs() -> dict[str, np.ndarray]:
    """The rows through a real ONNX Runtime session (an identity model), batch-first ``(3, 40, 6)``."""
    return run_model(identity_model(["n", 40, 6]), yolo_rows())


@pytest.mark.parametrize("lang", ["c", "c++"])
def test_bbox_parser_parses_the_whole_batch_like_the_builtin(
    libs: dict, yolo_outputs: dict, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One C call per batch (two the first time: the buffer of 2 objects is too small), and each sample's
    detections equal the built-in ``NvDsInferParseYolo`` on that sample's slice."""
    monkeypatch.setattr(dsflow_abi, "INITIAL_CAPACITY", 2)
    lib = libs["yolo_rows", lang]
    parser = function(lib, "DsflowYoloRows", "bbox_parsers")
    calls = ctypes.c_uint32.in_dll(lib, "dsflow_test_calls")
    layers = [Layer("output", yolo_outputs["output"], 0)]
    expected = [
        parse_yolo([Layer("output", yolo_outputs["output"][b], 0)], NETWORK, DETECTION_PARAMS) for b in range(3)
    ]
    assert [len(e) for e in expected] == [7, 7, 0]
    assert expected[0].confidence[0] == np.float32(0.5)  # row 2: exactly at its threshold; rows 0, 1 too small

    before = calls.value
    got = parser.parse_batch(layers, 3, NETWORK, DETECTION_PARAMS, xp=np, stream=None)
    assert calls.value - before == 2  # DSFLOW_NEED_MORE_SPACE, then the call with room for 14
    assert len(got) == 3
    for g, e in zip(got, expected, strict=True):
        assert_same(g, e)
    assert parser.capacity == 14

    before = calls.value
    again = parser.parse_batch(layers, 3, NETWORK, DETECTION_PARAMS, xp=np, stream=None)
    assert calls.value - before == 1  # the wrapper remembers the size
    for g, e in zip(again, expected, strict=True):
        assert_same(g, e)

    for b in range(3):  # the per-sample contract of bbox parsers
        one = parser([Layer("output", yolo_outputs["output"][b], 0)], NETWORK, DETECTION_PARAMS, xp=np, stream=None)
        assert_same(one, expected[b])


def test_objects_in_any_sample_order_are_split_per_sample(libs: dict, yolo_outputs: dict) -> None:
    parser = function(libs["yolo_rows", "c"], "DsflowYoloRowsReversed", "bbox_parsers")
    got = parser.parse_batch([Layer("output", yolo_outputs["output"], 0)], 3, NETWORK, DETECTION_PARAMS)
    for b in range(3):
        assert_same(got[b], parse_yolo([Layer("output", yolo_outputs["output"][b], 0)], NETWORK, DETECTION_PARAMS))


def test_stream_reaches_the_function(libs: dict, yolo_outputs: dict) -> None:
    class Stream:  # what CuPy's Stream exposes
        ptr = 1234

    parser = function(libs["yolo_rows", "c"], "DsflowStreamEcho", "bbox_parsers")
    layers = [Layer("output", yolo_outputs["output"], 0)]
    assert parser.parse_batch(layers, 3, NETWORK, DETECTION_PARAMS, stream=Stream())[0].class_id.tolist() == [1234]
    assert parser.parse_batch(layers, 3, NETWORK, DETECTION_PARAMS, stream=None)[0].class_id.tolist() == [0]


def test_parser_failures_name_the_function_and_library(libs: dict, yolo_outputs: dict) -> None:
    lib = libs["yolo_rows", "c"]
    layers = [Layer("output", yolo_outputs["output"], 0)]

    def error(name: str, batch_layers: list[Layer] = layers) -> str:
        parser = function(lib, name, "bbox_parsers")
        with pytest.raises(EngineError) as info:
            parser.parse_batch(batch_layers, 3, NETWORK, DETECTION_PARAMS)
        return str(info.value)

    assert error("DsflowFailingParser") == f"{where(lib, 'DsflowFailingParser')} returned status 1 (DSFLOW_ERROR)"
    assert error("DsflowNoProgressParser") == (
        f"{where(lib, 'DsflowNoProgressParser')} returned DSFLOW_NEED_MORE_SPACE but asked for 0 records (has 256) "
        "and 0 mask floats (has 0): set count (and the mask dims) to what it needs"
    )
    assert error("DsflowBadSampleParser") == (
        f"{where(lib, 'DsflowBadSampleParser')} returned an object of sample 3, but the batch has 3 samples"
    )
    doubles = [Layer("output", yolo_outputs["output"].astype(np.float64), 0)]
    assert error("DsflowYoloRows", doubles) == (
        f"{where(lib, 'DsflowYoloRows')}: layer 'output' has dtype float64 "
        "(expected one of float32, float16, int8, int32, int64, uint8)"
    )
    short = [Layer("output", yolo_outputs["output"][:2], 0)]
    assert error("DsflowYoloRows", short) == (
        f"{where(lib, 'DsflowYoloRows')}: layer 'output' has shape (2, 40, 6) (expected 3 rows first, at most 8 dims)"
    )


# -- classifier parsers ----------------------------------------------------------------------------


def test_classifier_parses_the_whole_batch_like_the_builtin(libs: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-channel mean and peak of three different pictures; the C parser writes layer by layer
    (samples interleaved), dsflow returns each sample's attributes in layer order."""
    monkeypatch.setattr(dsflow_abi, "INITIAL_CAPACITY", 1)
    rng = np.random.default_rng(3)
    pictures = np.zeros((3, 3, 6, 8), np.float32)
    pictures[0] = rng.uniform(0, 1, (3, 6, 8))
    pictures[1, 2] = 0.8  # only channel 2
    outputs = run_model(channel_stats_model((8, 6)), pictures)  # sample 2 is black: no attribute passes p > 0
    lib = libs["classifier", "c"]
    parser = function(lib, "DsflowBestClass", "classifier_parsers")
    layers = [Layer(name, value, i) for i, (name, value) in enumerate(outputs.items())]
    got = parser.parse_batch(layers, 3, NETWORK, 0.3, xp=np, stream=None)
    assert parser.capacity == 4

    def fields(attributes: list) -> list[tuple]:
        return [(a.index, a.class_id, a.confidence) for a in attributes]

    for b in range(3):
        expected = parse_softmax([Layer(name, value[b], i) for i, (name, value) in enumerate(outputs.items())],
                                 NETWORK, 0.3)  # fmt: skip
        assert fields(got[b]) == fields(expected)
        one = parser([Layer(name, value[b], i) for i, (name, value) in enumerate(outputs.items())], NETWORK, 0.3,
                     xp=np, stream=None)  # fmt: skip
        assert fields(one) == fields(expected)
    best_mean = int(np.argmax(outputs["mean"][0]))
    assert [a.label for a in got[0]] == [f"mean:{best_mean}", f"peak:{int(np.argmax(outputs['peak'][0]))}"]
    assert [a.label for a in got[1]] == ["mean:2", "peak:2"]
    assert got[1][0].confidence == np.float32(0.8)
    assert got[2] == []


# -- instance-mask parsers ---------------------------------------------------------------------------


def test_instance_mask_parser_parses_the_whole_batch_like_the_builtin(
    libs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TAO Mask R-CNN V2 outputs of three pictures from a real model; room for one object and ten mask
    floats first, so the parser asks for more."""
    monkeypatch.setattr(dsflow_abi, "INITIAL_CAPACITY", 1)
    monkeypatch.setattr(dsflow_abi, "INITIAL_MASK_CAPACITY", 10)
    bands = [Band(0, 0.5, 0.9, 0), Band(1, 0.5, 0.8, 0), Band(2, 0.5, 0.7, 0)]
    pictures = np.zeros((3, 3, 12, 16), np.float32)
    pictures[0, 0, 2:6, 3:9] = 1
    pictures[0, 1, 7:11, 1:15] = 1
    pictures[1, 2, 0:12, 10:16] = 1
    outputs = run_model(blob_model(bands, (16, 12), layout="mrcnn"), pictures)
    params = DetectionParams(1, np.array([0.5], np.float32), np.array([0.3], np.float32))
    network = NetworkInfo(16, 12, 3)
    lib = libs["mask_parser", "c++"]
    parser = function(lib, "DsflowMrcnnV2", "instance_mask_parsers")
    layers = [Layer(name, value, i) for i, (name, value) in enumerate(outputs.items())]
    got = parser.parse_batch(layers, 3, network, params, xp=np, stream=None)
    assert (parser.capacity, parser.mask_capacity) == (3, 3 * 12 * 16)
    for b in range(3):
        sample = [Layer(name, value[b], i) for i, (name, value) in enumerate(outputs.items())]
        expected = parse_mrcnn_tlt_v2(sample, network, params)
        assert_same(got[b], expected)
        assert_same(parser(sample, network, params, xp=np, stream=None), expected)
    assert [len(g) for g in got] == [2, 1, 0]
    assert got[0].masks.shape == (2, 12, 16)
    np.testing.assert_array_equal(got[0].masks[0], pictures[0, 0] > 0.5)
    assert got[2].masks.shape == (0, 12, 16)


# -- input initializers ------------------------------------------------------------------------------


def two_input_model() -> bytes:
    """``input`` (the picture), ``im_info`` ``(N, 3)`` and ``row_id`` ``(N, 1)`` int32 in; ``info`` =
    ``im_info`` × 2 and ``row`` = ``row_id`` as float out."""
    inputs = [
        helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["n", 3, 48, 64]),
        helper.make_tensor_value_info("im_info", onnx.TensorProto.FLOAT, ["n", 3]),
        helper.make_tensor_value_info("row_id", onnx.TensorProto.INT32, ["n", 1]),
    ]
    nodes = [
        helper.make_node("Add", ["im_info", "im_info"], ["info"]),
        helper.make_node("Cast", ["row_id"], ["row"], to=onnx.TensorProto.FLOAT),
    ]
    outputs = [
        helper.make_tensor_value_info("info", onnx.TensorProto.FLOAT, ["n", 3]),
        helper.make_tensor_value_info("row", onnx.TensorProto.FLOAT, ["n", 1]),
    ]
    model = helper.make_model(helper.make_graph(nodes, "two_inputs", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", OPSET)])  # fmt: skip
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def test_input_initializer_fills_the_other_inputs(libs: dict) -> None:
    lib = libs["input_init", "c"]
    init = function(lib, "DsflowImInfo", "input_initializers")
    im_info = np.zeros((4, 3), np.float32)
    row_id = np.zeros((4, 1), np.int32)[:, :1]
    filled = init([Layer("im_info", im_info, 1, True), Layer("row_id", row_id, 2, True)], NETWORK, 4,
                  xp=np, stream=None)  # fmt: skip
    assert list(filled) == ["im_info", "row_id"]
    assert filled["im_info"] is im_info  # filled in place
    np.testing.assert_array_equal(im_info, [[48, 64, 1]] * 4)
    np.testing.assert_array_equal(filled["row_id"], [[0], [1], [2], [3]])

    readonly = np.zeros((4, 3), np.float32)
    readonly.flags.writeable = False
    copied = init([Layer("im_info", readonly, 1, True)], NETWORK, 4, xp=np, stream=None)["im_info"]
    assert copied is not readonly
    assert not readonly.any()
    np.testing.assert_array_equal(copied, [[48, 64, 1]] * 4)

    n = 3  # the infer node feeds each inference the first n rows
    feeds = {"input": np.zeros((n, 3, 48, 64), np.float32), **{k: v[:n] for k, v in filled.items()}}
    out = run_model(two_input_model(), feeds)
    np.testing.assert_array_equal(out["info"], [[96, 128, 2]] * n)
    np.testing.assert_array_equal(out["row"], [[0], [1], [2]])

    with pytest.raises(EngineError) as info:
        init([Layer("mystery", np.zeros((4, 2), np.float32), 1, True)], NETWORK, 4, xp=np, stream=None)
    assert str(info.value) == f"{where(lib, 'DsflowImInfo')} returned status 1 (DSFLOW_ERROR)"


# -- engine creators -----------------------------------------------------------------------------------


@pytest.fixture
def creator_config(tmp_path: Path) -> nvconfig.InferConfig:
    model = identity_model(["n", 3, 4, 4])
    (tmp_path / "model.onnx").write_bytes(model)
    (tmp_path / "weights.bin").write_bytes(b"w")
    path = tmp_path / "pgie.txt"
    path.write_text(
        "[property]\ngie-unique-id=1\nonnx-file=model.onnx\nmodel-file=weights.bin\nbatch-size=4\nnetwork-mode=2\n"
        "custom-network-config=yolo.cfg\nengine-create-func-name=DsflowOnnxFromRequest\n",
        encoding="utf-8",
    )
    return nvconfig.build_config(nvconfig.read_config_file(path))


def test_engine_creator_returns_the_model_and_releases_it(libs: dict, creator_config: Any, tmp_path: Path) -> None:
    lib = libs["engine_creator", "c"]
    creator = function(lib, "DsflowOnnxFromRequest", "engine_creators")
    releases = ctypes.c_uint32.in_dll(lib, "dsflow_test_releases")
    before = releases.value
    model = creator(creator_config)
    assert releases.value - before == 1
    assert model == (tmp_path / "model.onnx").read_bytes()

    def seen(name: str) -> str:
        return (ctypes.c_char * 4096).in_dll(lib, f"dsflow_test_{name}").value.decode()

    assert seen("config_path") == str(tmp_path / "pgie.txt") == creator_config.origin
    assert seen("onnx_file") == str(tmp_path / "model.onnx")
    assert seen("model_file") == str(tmp_path / "weights.bin")
    assert seen("custom_network_config") == "yolo.cfg"
    assert ctypes.c_uint32.in_dll(lib, "dsflow_test_max_batch_size").value == 4
    assert ctypes.c_int32.in_dll(lib, "dsflow_test_network_mode").value == 2
    assert ctypes.c_int32.in_dll(lib, "dsflow_test_stream_is_null").value == 1

    engine = onnxruntime_backend(model, {}, device="cpu", stream=None)  # what the infer node does with it
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    np.testing.assert_array_equal(engine.infer({"input": x})["output"], x)


def test_engine_creator_with_a_model_compiled_in(libs: dict, creator_config: Any, embedded_model: bytes) -> None:
    """Static bytes with no release function: copied, nothing released."""
    lib = libs["engine_creator", "c++"]
    releases = ctypes.c_uint32.in_dll(lib, "dsflow_test_releases")
    before = releases.value
    assert function(lib, "DsflowEmbeddedOnnx", "engine_creators")(creator_config) == embedded_model
    assert releases.value == before


def test_engine_creator_failures_still_release(libs: dict, creator_config: Any) -> None:
    lib = libs["engine_creator", "c"]
    releases = ctypes.c_uint32.in_dll(lib, "dsflow_test_releases")
    before = releases.value
    with pytest.raises(EngineError) as info:
        function(lib, "DsflowTensorRtEngine", "engine_creators")(creator_config)
    assert str(info.value) == (
        f"{where(lib, 'DsflowTensorRtEngine')} returned a serialized TensorRT engine (DSFLOW_BLOB_SERIALIZED_ENGINE); "
        "the onnxruntime backend cannot run it: return the model as ONNX (DSFLOW_BLOB_ONNX)"
    )
    with pytest.raises(EngineError) as info:
        function(lib, "DsflowFailingCreator", "engine_creators")(creator_config)
    assert str(info.value) == f"{where(lib, 'DsflowFailingCreator')} returned status 1 (DSFLOW_ERROR)"
    assert releases.value - before == 2


# -- refusals ------------------------------------------------------------------------------------------


def test_abi_version_mismatch(libs: dict) -> None:
    lib = libs["bad_info", "c"]
    with pytest.raises(PluginError) as info:
        function(lib, "FromTheFuture", "bbox_parsers")
    assert str(info.value) == (
        f"{where(lib, 'FromTheFuture')}: built against dsflow ABI 2, this dsflow has 1; rebuild it with this "
        "dsflow's header (the directory `dsflow include` prints)"
    )


def test_struct_size_mismatch(libs: dict) -> None:
    lib = libs["bad_info", "c"]
    with pytest.raises(PluginError) as info:
        function(lib, "SmallTensor", "bbox_parsers")
    assert str(info.value) == (
        f"{where(lib, 'SmallTensor')}: DsflowTensor is 88 bytes in the library, 96 in this dsflow; rebuild it "
        "with this dsflow's header (the directory `dsflow include` prints)"
    )


def test_kind_mismatch(libs: dict) -> None:
    lib = libs["classifier", "c"]
    with pytest.raises(PluginError) as info:
        function(lib, "DsflowBestClass", "bbox_parsers")
    assert str(info.value) == (
        f"{where(lib, 'DsflowBestClass')}: declared as a classifier parser (DSFLOW_CLASSIFIER_PARSER), "
        "but configured as a bbox parser (DSFLOW_BBOX_PARSER)"
    )
    bad = libs["bad_info", "c"]
    with pytest.raises(PluginError) as info:
        function(bad, "StrangeKind", "engine_creators")
    assert str(info.value) == (
        f"{where(bad, 'StrangeKind')}: declared as unknown kind 9, but configured as an engine creator "
        "(DSFLOW_ENGINE_CREATOR)"
    )


def test_family_without_a_kind_and_missing_symbols(libs: dict) -> None:
    lib = libs["yolo_rows", "c"]
    with pytest.raises(PluginError) as info:
        wrap(lib, "DsflowYoloRows", "segmentation_parsers")
    assert str(info.value) == (
        f"{where(lib, 'DsflowYoloRows')}: dsflow's C ABI has no segmentation parsers (it has DSFLOW_BBOX_PARSER, "
        "DSFLOW_INSTANCE_MASK_PARSER, DSFLOW_CLASSIFIER_PARSER, DSFLOW_INPUT_INITIALIZER, DSFLOW_ENGINE_CREATOR, "
        "DSFLOW_MODEL_PARSER)"
    )
    with pytest.raises(PluginError) as info:
        wrap(lib, "Nowhere", "bbox_parsers")
    assert str(info.value) == (
        f"{where(lib, 'Nowhere')}: no dsflow_info_Nowhere exported (declare it with DSFLOW_BBOX_PARSER(Nowhere))"
    )
    bad = libs["bad_info", "c"]
    with pytest.raises(PluginError) as info:
        function(bad, "OnlyInfo", "bbox_parsers")
    assert (
        str(info.value)
        == f"{where(bad, 'OnlyInfo')}: dsflow_info_OnlyInfo is exported, but the function OnlyInfo is not"
    )


# -- the header at compile time ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["c", "c++"])
@pytest.mark.parametrize("definition_first", [False, True])
def test_wrong_prototype_does_not_compile(tmp_path: Path, lang: str, definition_first: bool) -> None:
    """A parser without its cuda_stream parameter, the macro before or after the definition."""
    extra = ["-DDEFINITION_FIRST"] if definition_first else []
    done = compile_library(SOURCES / "wrong_prototype.c", tmp_path / "libwrong.so", lang, *extra)
    assert done.returncode != 0
    message = "conflicting types for 'WrongParser'" if lang == "c" else "conflicting declaration of C function"
    assert message in done.stderr.replace("‘", "'").replace("’", "'")


def test_cxx_overload_is_refused_when_loaded(tmp_path: Path) -> None:
    """In C++ a wrong parameter list after the macro is an overload, which compiles; the macro's
    reference to the C function makes loading the library fail, naming it."""
    output = tmp_path / "liboverload.so"
    done = compile_library(SOURCES / "cxx_overload.cpp", output, "c++")
    assert done.returncode == 0, done.stderr
    with pytest.raises(OSError, match="undefined symbol: WrongParser"):
        ctypes.CDLL(str(output), mode=os.RTLD_LAZY)


def test_functions_are_exported_with_hidden_default_visibility(libs: dict) -> None:
    """The C libraries were built with -fvisibility=hidden: the macros still export function and info,
    and nothing else (the static helpers) leaks."""
    lib = libs["yolo_rows", "c"]
    assert hasattr(lib, "DsflowYoloRows")
    assert hasattr(lib, "dsflow_info_DsflowYoloRows")
    assert not hasattr(lib, "dsflow_check_DsflowYoloRows")
    assert not hasattr(lib, "clip")
