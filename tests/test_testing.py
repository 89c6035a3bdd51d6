"""dsflow.testing: tensors recorded from real graph runs, parsers re-run on them, results compared.

Two graphs run once per module on the CPU with ``output-tensor-meta=1`` and the recording
``python`` node: the example plugin's demo (CenterNet detector, multi-label classifier on each
tile) and the back-to-back graph's card detector (the built-in ``NvDsInferParseCustomResnet``).
The parsers run again on the recordings must give what the runs attached.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import dsflow
from dsflow import Attribute, PluginError, PluginManager
from dsflow.infer.cluster import ClassAttrs, ClusterMode, cluster
from dsflow.infer.engine import clear_engine_cache
from dsflow.infer.stage import TensorMeta
from dsflow.model import Detections, Layer, NetworkInfo
from dsflow.testing import (
    assert_attributes_equal,
    assert_detections_equal,
    load_network,
    load_tensors,
    record_tensors,
    run_bbox_parser,
    run_classifier_parser,
    save_tensors,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "dsflow-plugin-example"
DEMO = EXAMPLE / "demo"
B2B = REPO / "graphs" / "b2b"
NET_SCALE = np.float32(0.0039215697906911373)


@pytest.fixture(scope="module")
def example_path() -> Iterator[None]:
    """The example plugin importable from its source folder for this module, and forgotten afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(EXAMPLE))
        yield
    for name in [m for m in sys.modules if m.split(".")[0] == "dsflow_plugin_example"]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def plugins(example_path: None) -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.load_module("dsflow_plugin_example")
    return pm


def run(folder: Path, text: str, plugins: PluginManager) -> list[dict[str, Any]]:
    """Run a graph (YAML ``text``, ``$OUT`` replaced by ``folder``) on the CPU; the records of its jsonl sink."""
    path = folder / "graph.yaml"
    path.write_text(textwrap.dedent(text).replace("$OUT", str(folder)), encoding="utf-8")
    clear_engine_cache()
    result = dsflow.run_graph(dsflow.load_graph(path, plugins=plugins), device="cpu")
    assert result.error is None, result.error
    return [json.loads(line) for line in (folder / "out.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, plugins: PluginManager) -> tuple[Path, dict[str, Any]]:
    """The example's demo graph with both stages' tensors recorded: (folder, the one frame's record)."""
    folder = tmp_path_factory.mktemp("demo")
    (record,) = run(folder, f"""
        nodes:
          - {{name: scene, type: source.images, params: {{path: '{DEMO / "scene.png"}'}}}}
          - name: tiles
            type: nvinfer
            input: scene
            params: {{config: '{DEMO / "tiles_pgie.txt"}', output-tensor-meta: 1}}
          - name: tags
            type: nvinfer
            input: tiles
            params: {{config: '{DEMO / "tags_sgie.txt"}', output-tensor-meta: 1}}
          - name: record-tiles
            type: python
            input: tags
            params: {{function: "dsflow.testing:record_tensors", kwargs: {{folder: $OUT/tiles, unique_id: 1}}}}
          - name: record-tags
            type: python
            input: record-tiles
            params: {{function: "dsflow.testing:record_tensors", kwargs: {{folder: $OUT/tags, unique_id: 2}}}}
          - {{name: out, type: sink.jsonl, input: record-tags, params: {{path: $OUT/out.jsonl}}}}
    """, plugins)  # fmt: skip
    return folder, record


@pytest.fixture(scope="module")
def cards_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """graphs/back-to-back.yaml's card detector alone, tensors recorded: (folder, the one frame's record)."""
    folder = tmp_path_factory.mktemp("cards")
    (record,) = run(folder, f"""
        nodes:
          - {{name: scene, type: source.images, params: {{path: '{B2B / "scene.png"}'}}}}
          - name: cards
            type: nvinfer
            input: scene
            params: {{config: '{B2B / "cards_pgie.txt"}', output-tensor-meta: 1}}
          - name: record
            type: python
            input: cards
            params: {{function: "dsflow.testing:record_tensors", kwargs: {{folder: $OUT/rec}}}}
          - {{name: out, type: sink.jsonl, input: record, params: {{path: $OUT/out.jsonl}}}}
    """, PluginManager(autoload=False))  # fmt: skip
    return folder, record


def engine_outputs(model: Path, picture: Path) -> dict[str, np.ndarray]:
    """The model's outputs for the whole picture, preprocessed as the configs do it (1/255, no resize)."""
    import onnxruntime as ort

    image = cv2.cvtColor(cv2.imread(str(picture)), cv2.COLOR_BGR2RGB)
    x = (image.astype(np.float32) * NET_SCALE).transpose(2, 0, 1)[None]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, (v[0] for v in session.run(names, {session.get_inputs()[0].name: x})), strict=True))


def object_rows(record: dict[str, Any], component_id: int) -> Detections:
    objects = [o for o in record["objects"] if o["component_id"] == component_id]
    columns = [[o[k] for o in objects] for k in ("class_id", "left", "top", "width", "height", "confidence")]
    return Detections(*columns)


# -- recording -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "model", "picture", "network"),
    [
        ("demo", DEMO / "centernet.onnx", DEMO / "scene.png", NetworkInfo(192, 128, 3)),
        ("cards", B2B / "cards.onnx", B2B / "scene.png", NetworkInfo(640, 480, 3)),
    ],
)
def test_a_recording_holds_the_engine_outputs_in_order(
    request: pytest.FixtureRequest, which: str, model: Path, picture: Path, network: NetworkInfo
) -> None:
    folder, _ = request.getfixturevalue(f"{which}_run")
    recording = folder / ("tiles" if which == "demo" else "rec") / "s0_f000000.npz"
    assert sorted(p.name for p in recording.parent.iterdir()) == ["s0_f000000.npz"]  # the frame's, no object's
    layers = load_tensors(recording)
    expected = engine_outputs(model, picture)
    assert [(lay.name, lay.index) for lay in layers] == [(name, i) for i, name in enumerate(expected)]
    for layer in layers:
        assert layer.data.dtype == np.float32
        assert np.array_equal(layer.data, expected[layer.name]), layer.name
    assert load_network(recording) == network
    with np.load(recording) as archive:  # a plain .npz: the arrays are there by layer name
        assert np.array_equal(archive[layers[0].name], layers[0].data)


def test_secondary_tensors_are_recorded_per_object(demo_run: tuple[Path, dict[str, Any]]) -> None:
    folder, record = demo_run
    names = sorted(p.name for p in (folder / "tags").iterdir())
    assert names == [f"s0_f000000_o{k}.npz" for k in range(len(record["objects"]))]
    layers = load_tensors(folder / "tags" / "s0_f000000_o0.npz")
    assert [(lay.name, lay.dims) for lay in layers] == [("logits", (3,))]
    assert load_network(folder / "tags" / "s0_f000000_o0.npz") == NetworkInfo(16, 16, 3)


def test_example_parser_on_the_recording_gives_what_the_run_found(
    demo_run: tuple[Path, dict[str, Any]], plugins: PluginManager
) -> None:
    folder, record = demo_run
    dets = run_bbox_parser("example-centernet", folder / "tiles" / "s0_f000000.npz", num_classes=3,
                           pre_cluster_threshold=0.3, plugins=plugins)  # fmt: skip
    # cluster-mode 4 and a network input the size of the frame: the parser's boxes are the objects
    assert_detections_equal(dets, object_rows(record, 1), atol=0)


def test_example_classifier_on_the_recordings(demo_run: tuple[Path, dict[str, Any]], plugins: PluginManager) -> None:
    folder, record = demo_run
    for k, obj in enumerate(record["objects"]):
        got = run_classifier_parser("example-sigmoid-multilabel", folder / "tags" / f"s0_f000000_o{k}.npz",
                                    threshold=0.5, plugins=plugins)  # fmt: skip
        # the node then fills label, name and component_id; the parser's own attributes have none
        expected = [Attribute("", a["class_id"], a["confidence"], index=0) for a in obj["attributes"]]
        assert_attributes_equal(got, expected)
        assert len(got) == len(obj["attributes"]) >= 1


def test_builtin_parser_on_the_recording_gives_what_the_run_found(cards_run: tuple[Path, dict[str, Any]]) -> None:
    folder, record = cards_run
    dets = run_bbox_parser("NvDsInferParseCustomResnet", folder / "rec" / "s0_f000000.npz", num_classes=2,
                           pre_cluster_threshold=0.5, plugins=PluginManager(autoload=False))  # fmt: skip
    assert len(dets) > 4  # every cell of a card reports its box; the run's NMS kept one per card
    attrs = [ClassAttrs(pre_cluster_threshold=0.5, nms_iou_threshold=0.5, topk=10)] * 2  # cards_pgie.txt
    expected = object_rows(record, 1)
    assert len(expected) == 4
    assert_detections_equal(cluster(dets, ClusterMode.NMS, attrs), expected, atol=1e-4, ordered=False)


CENTERNET_CPP = r"""
// The example-centernet decoding as an nvinfer custom-library parser: one loop per cell, as C code does it.
#include <algorithm>
#include <cstring>

#include "nvdsinfer_custom_impl.h"

static const NvDsInferLayerInfo *find(std::vector<NvDsInferLayerInfo> const &layers, const char *name)
{
    for (auto const &layer : layers)
        if (std::strcmp(layer.layerName, name) == 0)
            return &layer;
    return nullptr;
}

extern "C" bool NvDsInferParseCustomCenterNet(std::vector<NvDsInferLayerInfo> const &outputs,
                                              NvDsInferNetworkInfo const &net,
                                              NvDsInferParseDetectionParams const &params,
                                              std::vector<NvDsInferObjectDetectionInfo> &objects)
{
    const NvDsInferLayerInfo *heat = find(outputs, "heatmap"), *size = find(outputs, "size"),
                             *offset = find(outputs, "offset");
    if (!heat || !size || !offset || heat->inferDims.numDims != 3)
        return false;
    const int classes = heat->inferDims.d[0], rows = heat->inferDims.d[1], cols = heat->inferDims.d[2];
    const int plane = rows * cols;
    const float *h = static_cast<const float *>(heat->buffer), *s = static_cast<const float *>(size->buffer),
                *o = static_cast<const float *>(offset->buffer);
    const float sx = float(net.width) / cols, sy = float(net.height) / rows;
    for (int c = 0; c < classes && c < int(params.numClassesConfigured); ++c)
        for (int i = 0; i < rows; ++i)
            for (int j = 0; j < cols; ++j) {
                const float v = h[c * plane + i * cols + j];
                if (v < params.perClassPreclusterThreshold[c])
                    continue;
                bool peak = true;
                for (int y = std::max(i - 1, 0); y <= std::min(i + 1, rows - 1); ++y)
                    for (int x = std::max(j - 1, 0); x <= std::min(j + 1, cols - 1); ++x)
                        peak = peak && h[c * plane + y * cols + x] <= v;
                if (!peak)
                    continue;
                const float cx = (j + o[i * cols + j]) * sx, cy = (i + o[plane + i * cols + j]) * sy;
                const float hw = s[i * cols + j] * sx / 2, hh = s[plane + i * cols + j] * sy / 2;
                const float net_w = float(net.width), net_h = float(net.height);
                const float x1 = std::clamp(cx - hw, 0.f, net_w), x2 = std::clamp(cx + hw, 0.f, net_w);
                const float y1 = std::clamp(cy - hh, 0.f, net_h), y2 = std::clamp(cy + hh, 0.f, net_h);
                objects.push_back({unsigned(c), x1, y1, x2 - x1, y2 - y1, v});
            }
    return true;
}
CHECK_CUSTOM_PARSE_FUNC_PROTOTYPE(NvDsInferParseCustomCenterNet);
"""


@pytest.fixture(scope="module")
def centernet_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CENTERNET_CPP built into a shared library against dsflow's nvinfer compatibility headers."""
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler (g++) to build the custom library")
    folder = tmp_path_factory.mktemp("native")
    (folder / "centernet.cpp").write_text(CENTERNET_CPP, encoding="utf-8")
    library = folder / "libcenternet.so"
    include = REPO / "dsflow" / "native" / "include"
    command = [compiler, "-std=c++17", "-O2", "-shared", "-fPIC", f"-I{include}", "-o", str(library),
               str(folder / "centernet.cpp")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return library


def test_a_cpp_parser_by_name_from_its_library_matches_the_python_one(
    demo_run: tuple[Path, dict[str, Any]], plugins: PluginManager, centernet_library: Path
) -> None:
    recording = demo_run[0] / "tiles" / "s0_f000000.npz"
    python = run_bbox_parser("example-centernet", recording, num_classes=3, pre_cluster_threshold=0.2, plugins=plugins)
    native = run_bbox_parser("NvDsInferParseCustomCenterNet", recording, num_classes=3, pre_cluster_threshold=0.2,
                             plugins=plugins, custom_lib_path=centernet_library)  # fmt: skip
    assert len(python) == 6  # violet included at this threshold
    assert_detections_equal(native, python, atol=0)
    with pytest.raises(PluginError, match=r"^unknown bbox parser 'NvDsInferParseCustomCentreNet' \(did you mean "
                                          r".*; and in custom-lib-path: "):  # fmt: skip
        run_bbox_parser("NvDsInferParseCustomCentreNet", recording, num_classes=3, plugins=plugins,
                        custom_lib_path=centernet_library)  # fmt: skip


# -- saving and loading ------------------------------------------------------------------------------------


def test_save_and_load_keep_order_names_and_dtypes(tmp_path: Path) -> None:
    layers = {
        "z/boxes": np.arange(12, dtype=np.float16).reshape(3, 4),
        "count": np.array([3], np.int64),
        "a:scores": np.linspace(0, 1, 5, dtype=np.float32),
    }
    meta = TensorMeta(4, layers, NetworkInfo(64, 48, 3), True)
    path = save_tensors(tmp_path / "deep" / "sample.rec", meta)  # any suffix: the file is written as named
    assert path == tmp_path / "deep" / "sample.rec"
    loaded = load_tensors(path)
    assert [(lay.name, lay.index, lay.dtype, lay.dims) for lay in loaded] == [
        ("z/boxes", 0, np.float16, (3, 4)), ("count", 1, np.int64, (1,)), ("a:scores", 2, np.float32, (5,)),
    ]  # fmt: skip
    assert all(np.array_equal(lay.data, layers[lay.name]) for lay in loaded)
    assert load_network(path) == NetworkInfo(64, 48, 3)
    with np.load(path) as archive:
        assert json.loads(str(archive["__dsflow__"])) == {
            "format": 1, "layers": ["z/boxes", "count", "a:scores"], "network": [64, 48, 3], "unique_id": 4,
            "maintain_aspect_ratio": True,
        }  # fmt: skip


def test_a_plain_npz_loads_in_file_order(tmp_path: Path) -> None:
    np.savez(tmp_path / "plain.npz", second=np.zeros(2), first=np.ones(3))
    assert [(lay.name, lay.index) for lay in load_tensors(tmp_path / "plain.npz")] == [("second", 0), ("first", 1)]
    assert load_network(tmp_path / "plain.npz") is None
    with pytest.raises(ValueError, match=r"^run_bbox_parser: network \(width, height, channels\) is required: "):
        run_bbox_parser(lambda *a, **k: Detections.empty(), tmp_path / "plain.npz", num_classes=1)


def test_loading_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"^load_tensors: no such file: {re.escape(str(tmp_path))}/none.npz$"):
        load_tensors(tmp_path / "none.npz")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"one\.npy is a single array, not a \.npz recording of output layers$"):
        load_tensors(tmp_path / "one.npy")
    (tmp_path / "text.npz").write_text("not numpy", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^load_tensors: .*text\.npz is not a \.npz recording \("):
        load_tensors(tmp_path / "text.npz")
    with pytest.raises(ValueError, match=r"^save_tensors: a layer may not be named '__dsflow__'$"):
        save_tensors(tmp_path / "x.npz", {"__dsflow__": np.zeros(1)})
    with pytest.raises(TypeError, match=r"^save_tensors: expected a TensorMeta, a list of Layer or a \{name: array\} "):
        save_tensors(tmp_path / "x.npz", np.zeros(3))


def test_record_tensors_skips_frames_without_the_stage(tmp_path: Path) -> None:
    frame = dsflow.Frame(0, 7, 0, 8, 8)
    obj = dsflow.ObjectMeta(0, 0, 4, 4)
    obj.tensors["tensor-meta-2"] = TensorMeta(2, {"out": np.ones(2, np.float32)}, NetworkInfo(4, 4, 3), False)
    frame.objects += [dsflow.ObjectMeta(0, 0, 2, 2), obj]
    record_tensors(dsflow.Batch([frame]), folder=str(tmp_path), unique_id=2)
    assert [p.name for p in tmp_path.iterdir()] == ["s0_f000007_o1.npz"]


# -- running parsers ---------------------------------------------------------------------------------------


def test_run_bbox_parser_calls_like_the_parse_node() -> None:
    seen: dict[str, Any] = {}

    def parser(outputs: list[Layer], network: NetworkInfo, params: Any, *, xp: Any, stream: Any) -> Detections:
        seen.update(outputs=outputs, network=network, params=params, xp=xp, stream=stream)
        return Detections.empty()

    run_bbox_parser(parser, {"b": np.zeros(2), "a": np.ones(1)}, (32, 16, 1), num_classes=2,
                    pre_cluster_threshold=[0.25, 0.5])  # fmt: skip
    assert [(lay.name, lay.index) for lay in seen["outputs"]] == [("b", 0), ("a", 1)]
    assert (seen["network"], seen["xp"], seen["stream"]) == (NetworkInfo(32, 16, 1), np, None)
    params = seen["params"]
    assert params.num_classes == 2
    assert params.pre_cluster_threshold.tolist() == [0.25, 0.5]
    assert params.post_cluster_threshold.tolist() == [0.0, 0.0]
    assert params.pre_cluster_threshold.dtype == np.float32


def boxes(*args: Any, **kwargs: Any) -> Detections:
    return Detections.empty()


class Mistaken:
    """A plugin that registers a bbox parser as a classifier parser."""

    @dsflow.hookimpl
    def dsflow_register_classifier_parsers(self) -> dict[str, Any]:
        return {"boxes": boxes}


def test_run_parser_errors() -> None:
    pm = PluginManager(autoload=False)
    with pytest.raises(PluginError, match=r"^unknown bbox parser 'NvDsInferParseCustomResNet' \(did you mean "
                                          r"'NvDsInferParseCustomResnet'\?\)"):  # fmt: skip
        run_bbox_parser("NvDsInferParseCustomResNet", [], (8, 8, 3), num_classes=1, plugins=pm)
    known = "age-expectation, ctc-greedy, softmax"  # the built-in classifier parsers
    with pytest.raises(PluginError, match=rf"^unknown classifier parser 'argmax' \(available: {known}\)$"):
        run_classifier_parser("argmax", [], (8, 8, 3), plugins=pm.registry)

    def wrong(*args: Any, **kwargs: Any) -> list[Any]:
        return []

    def wrong_items(*args: Any, **kwargs: Any) -> list[Any]:
        return [("red", 0.9)]

    message = r"^run_bbox_parser: parser 'test_run_parser_errors.<locals>.wrong' returned list \(expected "
    with pytest.raises(TypeError, match=message + r"dsflow.model.Detections\)$"):
        run_bbox_parser(wrong, [], (8, 8, 3), num_classes=1)
    pm.register(Mistaken(), "mistaken")
    with pytest.raises(TypeError, match=r"^run_classifier_parser: parser 'boxes' returned Detections \(expected a "
                                        r"list of dsflow.Attribute\)$"):  # fmt: skip
        run_classifier_parser("boxes", [], (8, 8, 3), plugins=pm)
    with pytest.raises(TypeError, match=r"returned a list holding other things than Attribute \(expected a list of "):
        run_classifier_parser(wrong_items, [], (8, 8, 3))
    with pytest.raises(ValueError, match=r"^run_bbox_parser: pre_cluster_threshold needs one value or 3 "
                                         r"\(num_classes\), got 2$"):  # fmt: skip
        run_bbox_parser(wrong, [], (8, 8, 3), num_classes=3, pre_cluster_threshold=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"^run_bbox_parser: network must be \(width, height, channels\) as positive "
                                         r"integers \(got \(8, 8\)\)$"):  # fmt: skip
        run_bbox_parser(wrong, [], (8, 8), num_classes=1)


# -- comparing ---------------------------------------------------------------------------------------------

THREE = Detections([0, 1, 1], [10, 20, 30], [5, 6, 7], [40, 41, 42], [50, 51, 52], [0.9, 0.8, 0.7])


def failure(function: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(AssertionError) as info:
        function(*args, **kwargs)
    return str(info.value)


def test_detections_equal_within_the_tolerance_and_in_any_order() -> None:
    assert_detections_equal(THREE, [(0, 10, 5, 40, 50, 0.9), (1, 20, 6, 41, 51, 0.8), (1, 30.00005, 7, 42, 52, 0.7)])
    shuffled = THREE.take([2, 0, 1])
    assert_detections_equal(shuffled, THREE, ordered=False)
    assert failure(assert_detections_equal, shuffled, THREE).startswith("object 0 of 3, field 'class_id': got 1, "
                                                                        "expected 0\n")  # fmt: skip


def test_detections_failure_names_the_object_the_field_and_the_values() -> None:
    wrong = [(0, 10, 5, 40, 50, 0.9), (1, 20, 6, 41, 51, 0.8), (1, 30, 7.5, 42, 52, 0.7)]
    assert failure(assert_detections_equal, THREE, wrong) == (
        "object 2 of 3, field 'top': got 7.0, expected 7.5 (atol 0.0001)\n"
        "  got:      class_id=1 left=30 top=7 width=42 height=52 confidence=0.7\n"
        "  expected: class_id=1 left=30 top=7.5 width=42 height=52 confidence=0.7"
    )


def test_detections_failure_on_the_count_lists_both_sides() -> None:
    assert failure(assert_detections_equal, THREE.take([0]), THREE.take([0, 2])) == (
        "got 1 object, expected 2\n"
        "  got:\n"
        "    0: class_id=0 left=10 top=5 width=40 height=50 confidence=0.9\n"
        "  expected:\n"
        "    0: class_id=0 left=10 top=5 width=40 height=50 confidence=0.9\n"
        "    1: class_id=1 left=30 top=7 width=42 height=52 confidence=0.7"
    )
    assert failure(assert_detections_equal, [], THREE) == "expected dsflow.model.Detections, got list"


def test_detections_extra_columns_and_masks() -> None:
    def with_extra(points: list[list[float]], masks: Any = None) -> Detections:
        return Detections([0, 0], [1, 2], [1, 2], [3, 3], [3, 3], [0.5, 0.6], masks=masks,
                          extra={"landmarks": np.array(points, np.float32)})  # fmt: skip

    expected = with_extra([[1, 2], [3, 4]], masks=np.zeros((2, 2, 2), np.float32))
    assert_detections_equal(with_extra([[1, 2], [3, 4]], masks=np.zeros((2, 2, 2))), expected)
    assert failure(assert_detections_equal, with_extra([[1, 2], [3, 5]], np.zeros((2, 2, 2))), expected) == (
        "object 1 of 2, extra column 'landmarks': got [3.0, 5.0], expected [3.0, 4.0] (atol 0.0001)\n"
        "  got:      class_id=0 left=2 top=2 width=3 height=3 confidence=0.6\n"
        "  expected: class_id=0 left=2 top=2 width=3 height=3 confidence=0.6"
    )
    assert failure(assert_detections_equal, THREE.take([0, 1]), expected) == (
        "object 1 of 2, field 'class_id': got 1, expected 0\n"
        "  got:      class_id=1 left=20 top=6 width=41 height=51 confidence=0.8\n"
        "  expected: class_id=0 left=2 top=2 width=3 height=3 confidence=0.6"
    )
    assert failure(assert_detections_equal, with_extra([[1, 2], [3, 4]]), expected) == (
        "masks are missing (expected one per object)"
    )
    assert failure(assert_detections_equal, with_extra([[1, 2], [3, 4]], np.zeros((2, 3, 2))), expected).startswith(
        "object 0 of 2, mask: got shape (3, 2), expected shape (2, 2) (atol 0.0001)\n"
    )


def test_attributes_failure_names_the_attribute_the_field_and_the_values() -> None:
    got = [Attribute("", 0, 0.9, index=0), Attribute("", 2, 0.75, index=0)]
    assert_attributes_equal(got, [Attribute("", 0, 0.9, index=0), Attribute("", 2, 0.7500001, index=0)])
    assert failure(assert_attributes_equal, got, [Attribute("", 0, 0.9), Attribute("", 1, 0.75)]) == (
        "attribute 1 of 2, field 'class_id': got 2, expected 1\n"
        "  got:      class_id=2 confidence=0.75 label='' name='' index=0 component_id=0\n"
        "  expected: class_id=1 confidence=0.75 label='' name='' index=0 component_id=0"
    )
    assert failure(assert_attributes_equal, got[:1], [Attribute("red", 0, 0.9)]).startswith(
        "attribute 0 of 1, field 'label': got '', expected 'red'\n"
    )
    assert failure(assert_attributes_equal, got[:1], [Attribute("", 0, 0.8)]).startswith(
        "attribute 0 of 1, field 'confidence': got 0.9, expected 0.8 (atol 1e-06)\n"
    )
    assert failure(assert_attributes_equal, got, got[:1]) == (
        "got 2 attributes, expected 1\n"
        "  got:\n"
        "    0: class_id=0 confidence=0.9 label='' name='' index=0 component_id=0\n"
        "    1: class_id=2 confidence=0.75 label='' name='' index=0 component_id=0\n"
        "  expected:\n"
        "    0: class_id=0 confidence=0.9 label='' name='' index=0 component_id=0"
    )


def test_import_dsflow_does_not_load_the_testing_module() -> None:
    code = "import sys, dsflow; print('dsflow.testing' in sys.modules, 'onnxruntime' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "False False\n", "")
    code = "import sys, dsflow.testing; print(sorted(m for m in ('onnxruntime', 'onnx', 'cv2') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")
