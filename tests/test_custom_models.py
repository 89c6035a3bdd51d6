"""The custom-model interface from Python, end to end: graphs run on the CPU with real ONNX Runtime.

Each family a plugin can give by name is exercised through an ``nvinfer`` stage: engine creators
(``engine-create-func-name``) returning an engine object, an ONNX ``ModelProto`` or ONNX bytes; a model
parser (``model-parser-func-name``) reading a model in a format of its own; an input initializer
(``input-init-func-name``) filling a model's non-image input; and custom layers, both a compiled
custom-op library named by ``custom-lib-path`` and a Python operator registered by a
``dsflow_register_custom_layers`` provider (onnxruntime-extensions provides both).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import helpers_nodes as h
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx_models import IR_VERSION, OPSET, custom_op_model, identity_model, scaled_sum_model

import dsflow
from dsflow import ConfigError, DsflowError, EngineError, Frame, Graph, NodeError, PluginManager, hookimpl
from dsflow.infer.config import InferConfig
from dsflow.infer.engine import clear_engine_cache
from dsflow.infer.stage import TensorMeta
from dsflow.model import Engine, Layer, NetworkInfo, TensorSpec

log = h.log  # the shared fixture

try:
    import onnxruntime_extensions as ortx
except ImportError:  # a dev dependency: only a bare install lacks it
    ortx = None

needs_ortx = pytest.mark.skipif(ortx is None, reason="onnxruntime-extensions is not installed (pip install -e .[dev])")


@pytest.fixture(autouse=True)
def fresh_engines():
    """Engines are cached per process: every test opens its own."""
    clear_engine_cache()
    yield
    clear_engine_cache()


# -- plugins, graphs and frames ---------------------------------------------------------------------


class Functions:
    """A plugin giving named functions of the custom-model families (``engine_creators=...`` etc.)."""

    def __init__(self, **families: dict[str, Callable[..., Any]]) -> None:
        self.families = families

    @hookimpl
    def dsflow_register_engine_creators(self) -> dict[str, Callable[..., Any]] | None:
        return self.families.get("engine_creators")

    @hookimpl
    def dsflow_register_model_parsers(self) -> dict[str, Callable[..., Any]] | None:
        return self.families.get("model_parsers")

    @hookimpl
    def dsflow_register_input_initializers(self) -> dict[str, Callable[..., Any]] | None:
        return self.families.get("input_initializers")

    @hookimpl
    def dsflow_register_custom_layers(self) -> dict[str, Callable[..., Any]] | None:
        return self.families.get("custom_layers")


def write_config(path: Path, props: dict[str, Any]) -> str:
    """A DeepStream key-file config with a ``[property]`` group."""

    def text(value: Any) -> str:
        return ";".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)

    path.write_text("[property]\n" + "".join(f"{k}={text(v)}\n" for k, v in props.items()), encoding="utf-8")
    return str(path)


class Scene:
    """One test's folder: frames, configs, and the graph ``src`` → one ``nvinfer`` stage ``det`` → ``out``."""

    def __init__(self, root: Path, log: h.Log) -> None:
        self.root = root
        self.log = log

    def config(self, props: dict[str, Any], name: str = "stage.txt") -> str:
        return write_config(self.root / name, props)

    def graph(self, images: Sequence[np.ndarray], config: str, *plugins: Any, batch_size: int = 1) -> Graph:
        """Load the graph with the built-in and test nodes and ``plugins`` registered."""
        folder = self.root / "frames"
        folder.mkdir(exist_ok=True)
        for i, image in enumerate(images):
            assert cv2.imwrite(str(folder / f"{i:03d}.png"), np.ascontiguousarray(image[..., ::-1]))
        path = self.root / "graph.yaml"
        path.write_text(
            "nodes:\n"
            f"  - {{name: src, type: source.images, params: {{path: '{folder}', batch-size: {batch_size}}}}}\n"
            f"  - {{name: det, type: nvinfer, input: src, params: {{config: '{config}'}}}}\n"
            f"  - {{name: out, type: test.sink, input: det, params: {{tag: {self.log.tag}}}}}\n",
            encoding="utf-8",
        )
        return dsflow.load_graph(path, plugins=manager(*plugins))

    def run(self, graph: Graph) -> list[Frame]:
        result = h.run_on_cpu(graph)
        assert result.error is None, result.error
        return [f for b in self.log.batches["out"] for f in b.frames]

    def run_error(self, graph: Graph, *nodes: str) -> BaseException:
        """The cause of the run's error, after checking that one of ``nodes`` of stage ``det`` failed."""
        error = h.run_on_cpu(graph).error
        assert isinstance(error, NodeError)
        failed = re.match(r"node 'det/(\w+)' \(nvinfer\.(\w+)\): ", str(error))
        assert failed is not None, str(error)
        assert failed[1] == failed[2], str(error)
        assert failed[1] in nodes, str(error)
        assert error.__cause__ is not None
        cause = error.__cause__
        detail = str(cause) if isinstance(cause, DsflowError) else f"{type(cause).__name__}: {cause}"
        assert str(error) == failed[0] + detail
        return cause


def manager(*plugins: Any) -> PluginManager:
    pm = h.plugins()
    for i, plugin in enumerate(plugins):
        pm.register(plugin, f"custom-models-{i}")
    return pm


@pytest.fixture
def scene(tmp_path: Path, log: h.Log) -> Scene:
    return Scene(tmp_path, log)


def paint(image: np.ndarray, left: int, top: int, width: int, height: int, channel: int, value: int) -> np.ndarray:
    image[top : top + height, left : left + width, channel] = value
    return image


def noise(width: int, height: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def network_input(frame: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """What the preprocess node makes of a frame the size of the network (no scaling, RGB, no offsets)."""
    return frame.transpose(2, 0, 1).astype(np.float32) * np.float32(scale)


def tensors(frames: list[Frame], name: str) -> list[np.ndarray]:
    """Output ``name`` of stage 1 for every frame (``output-tensor-meta=1``)."""
    metas = [f.tensors["tensor-meta-1"] for f in frames]
    assert all(isinstance(m, TensorMeta) for m in metas)
    return [m.layers[name] for m in metas]


# -- 1. engine creators -----------------------------------------------------------------------------


class BrightBoxEngine:
    """A detector computed with NumPy, no ONNX at all: row ``k`` boxes the pixels of channel ``k`` above 128.

    Output ``output`` ``(N, C, 6)`` holds DeepStream-Yolo rows (x1, y1, x2, y2, score, class) for the
    built-in ``NvDsInferParseYolo``; a channel with no bright pixel scores 0. Every batch it is given
    is kept, so a test can see what the infer node fed it.
    """

    SCORES = np.array([0.9, 0.8, 0.7], np.float32)

    def __init__(self, width: int, height: int) -> None:
        self.inputs = [TensorSpec("image", (None, 3, height, width), np.dtype(np.float32))]
        self.outputs = [TensorSpec("output", (None, 3, 6), np.dtype(np.float32))]
        self.max_batch_size: int | None = None
        self.fed: list[dict[str, np.ndarray]] = []

    def infer(self, inputs: dict[str, Any], stream: Any = None) -> dict[str, Any]:
        self.fed.append({k: np.array(v) for k, v in inputs.items()})
        bright = np.asarray(inputs["image"]) > 128  # (N, C, H, W)
        cols, lines = bright.any(axis=2), bright.any(axis=3)  # (N, C, W), (N, C, H)
        width, height = cols.shape[-1], lines.shape[-1]
        x1, x2 = cols.argmax(axis=2), width - cols[..., ::-1].argmax(axis=2)
        y1, y2 = lines.argmax(axis=2), height - lines[..., ::-1].argmax(axis=2)
        score = np.where(cols.any(axis=2), self.SCORES, 0)
        class_id = np.broadcast_to(np.arange(3), score.shape)
        return {"output": np.stack([x1, y1, x2, y2, score, class_id], axis=-1).astype(np.float32)}


DETECTOR = {"gie-unique-id": 1, "num-detected-classes": 3, "parse-bbox-func-name": "NvDsInferParseYolo",
            "cluster-mode": 4}  # fmt: skip


def test_engine_creator_returns_a_numpy_engine(scene: Scene) -> None:
    made: list[BrightBoxEngine] = []
    configs: list[InferConfig] = []

    def make_engine(cfg: InferConfig) -> BrightBoxEngine:
        configs.append(cfg)
        made.append(BrightBoxEngine(32, 24))
        return made[-1]

    first = paint(paint(np.zeros((24, 32, 3), np.uint8), 3, 4, 10, 8, 0, 200), 20, 10, 8, 6, 1, 255)
    second = paint(np.zeros((24, 32, 3), np.uint8), 0, 12, 32, 12, 2, 129)
    config = scene.config(DETECTOR | {"engine-create-func-name": "make-engine", "batch-size": 2})
    graph = scene.graph([first, second], config, Functions(engine_creators={"make-engine": make_engine}), batch_size=2)
    stage = graph.nodes["det/infer"].params
    assert stage.model.creator is make_engine
    assert graph.nodes["det/preprocess"].params is stage
    out = scene.run(graph)

    assert configs == [stage.config]  # once, shared by the stage's nodes
    assert configs[0] is stage.config
    [engine] = made
    assert isinstance(engine, Engine)
    [feed] = engine.fed  # both frames in one call
    assert list(feed) == ["image"]
    np.testing.assert_array_equal(feed["image"], np.stack([network_input(first), network_input(second)]))
    assert [[(o.class_id, o.box, round(o.confidence, 6), o.component_id) for o in f.objects] for f in out] == [
        [(0, (3.0, 4.0, 10.0, 8.0), 0.9, 1), (1, (20.0, 10.0, 8.0, 6.0), 0.8, 1)],
        [(2, (0.0, 12.0, 32.0, 12.0), 0.7, 1)],
    ]


def gain_model(cfg: InferConfig) -> onnx.ModelProto:
    """``output = input · gain``, with ``gain`` read from ``custom-network-config`` (``gain=3``), built with
    ``onnx.helper`` for the input size of ``infer-dims``."""
    gain = float(dict([cfg["custom-network-config"].split("=")])["gain"])
    c, height, width = cfg["infer-dims"]
    dims = ["batch", c, height, width]
    value = numpy_helper.from_array(np.array(gain, np.float32), "gain")
    graph = helper.make_graph(
        [
            helper.make_node("Constant", [], ["gain"], value=value),
            helper.make_node("Mul", ["input", "gain"], ["output"]),
        ],
        "gain",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, dims)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


@pytest.mark.parametrize("form", ["proto", "bytes"])
def test_engine_creator_returns_an_onnx_model(scene: Scene, form: str) -> None:
    """A ``ModelProto`` or its serialized bytes go to the onnxruntime backend."""
    returned: list[Any] = []

    def make_model(cfg: InferConfig) -> onnx.ModelProto | bytes:
        model = gain_model(cfg)
        returned.append(model if form == "proto" else model.SerializeToString())
        return returned[-1]

    frames = [noise(16, 8, seed=1), noise(16, 8, seed=2)]
    props = {"gie-unique-id": 1, "network-type": 100, "output-tensor-meta": 1, "infer-dims": [3, 8, 16],
             "engine-create-func-name": "make-model", "custom-network-config": "gain=3"}  # fmt: skip
    graph = scene.graph(frames, scene.config(props), Functions(engine_creators={"make-model": make_model}))
    out = scene.run(graph)
    assert len(returned) == 1
    assert isinstance(returned[0], onnx.ModelProto if form == "proto" else bytes)
    for frame, tensor in zip(frames, tensors(out, "output"), strict=True):
        np.testing.assert_array_equal(tensor, network_input(frame) * 3)


def test_engine_creator_returning_nothing(scene: Scene) -> None:
    config = scene.config(DETECTOR | {"engine-create-func-name": "make-nothing"})
    graph = scene.graph([noise(16, 8, seed=1)], config, Functions(engine_creators={"make-nothing": lambda cfg: None}))
    error = scene.run_error(graph, "preprocess", "infer")
    assert isinstance(error, ConfigError)
    message = "make-nothing returned nothing (expected an engine or a model)"
    assert str(error) == f"{config}:6: engine-create-func-name: {message}"


class NoInfer:
    """Has an engine's tensors but no ``infer``: not a :class:`dsflow.model.Engine`."""

    def __init__(self) -> None:
        self.inputs = [TensorSpec("image", (None, 3, 8, 16), np.dtype(np.float32))]
        self.outputs = [TensorSpec("output", (None, 3, 6), np.dtype(np.float32))]


def test_engine_creator_returning_neither_engine_nor_model(scene: Scene) -> None:
    config = scene.config(DETECTOR | {"engine-create-func-name": "make-half"})
    graph = scene.graph([noise(16, 8, seed=1)], config, Functions(engine_creators={"make-half": lambda cfg: NoInfer()}))
    error = scene.run_error(graph, "preprocess", "infer")
    assert isinstance(error, ConfigError)
    assert str(error) == (
        f"{config}:6: engine-create-func-name: make-half returned a value of type NoInfer: neither an engine (it lacks "
        "max_batch_size, infer) nor an ONNX model (a ModelProto, bytes or a path)"
    )


@pytest.mark.parametrize(
    ("creators", "listed"),
    [
        (
            {"make-engine": gain_model, "build": gain_model},
            " (did you mean 'make-engine'?) (available: build, make-engine, mtcnn-pyramid)",
        ),
        ({}, " (available: mtcnn-pyramid)"),  # the faces plugin's pyramid engine is built in
    ],
)
def test_unknown_engine_creator_fails_at_load(scene: Scene, creators: dict[str, Any], listed: str) -> None:
    config = scene.config(DETECTOR | {"engine-create-func-name": "make-engin"})
    with pytest.raises(ConfigError) as caught:
        scene.graph([noise(16, 8, seed=1)], config, Functions(engine_creators=creators))
    assert str(caught.value) == f"{config}:6: engine-create-func-name: unknown engine creator 'make-engin'{listed}"


# -- 2. a model parser for a format of its own ------------------------------------------------------


def read_layer_list(model_file: str, cfg: InferConfig) -> onnx.ModelProto:
    """A network described by a JSON layer list, its weights in the ``.npz`` next to it, as ONNX.

    Layers: ``conv`` (``weights``/``bias``: array names in the npz, ``stride``; no padding), ``relu``,
    ``global_avg_pool`` (to ``(N, C)``) and ``softmax``. The input size is the stage's ``infer-dims``.
    """
    path = Path(model_file)
    layers = json.loads(path.read_text(encoding="utf-8"))
    with np.load(path.with_suffix(".npz")) as npz:
        weights = dict(npz)
    c, height, width = cfg["infer-dims"]
    nodes, initializers = [], []
    x = "input"
    for i, layer in enumerate(layers):
        y = f"layer{i}"
        kind = layer["type"]
        if kind == "conv":
            for key in ("weights", "bias"):
                initializers.append(numpy_helper.from_array(weights[layer[key]].astype(np.float32), layer[key]))
            stride = layer.get("stride", 1)
            nodes.append(helper.make_node("Conv", [x, layer["weights"], layer["bias"]], [y], strides=[stride, stride]))
        elif kind == "relu":
            nodes.append(helper.make_node("Relu", [x], [y]))
        elif kind == "global_avg_pool":
            nodes.append(helper.make_node("GlobalAveragePool", [x], [y + "_pooled"]))
            nodes.append(helper.make_node("Flatten", [y + "_pooled"], [y], axis=1))
        elif kind == "softmax":
            nodes.append(helper.make_node("Softmax", [x], [y], axis=1))
        else:
            msg = f"{model_file}: layer {i}: unknown type {kind!r} (expected conv, relu, global_avg_pool or softmax)"
            raise ValueError(msg)
        x = y
    nodes.append(helper.make_node("Identity", [x], ["probs"]))
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", c, height, width])],
        [helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, None)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def forward(x: np.ndarray, layers: list[dict[str, Any]], weights: dict[str, np.ndarray]) -> np.ndarray:
    """The same network in NumPy, in float64, for one ``(C, H, W)`` input: the class probabilities."""
    x = x.astype(np.float64)
    for layer in layers:
        if layer["type"] == "conv":
            w, b, s = weights[layer["weights"]], weights[layer["bias"]], layer["stride"]
            k_h, k_w = w.shape[2:]
            windows = np.lib.stride_tricks.sliding_window_view(x, (k_h, k_w), axis=(1, 2))[:, ::s, ::s]
            x = np.einsum("chwij,ocij->ohw", windows, w) + b[:, None, None]
        elif layer["type"] == "relu":
            x = np.maximum(x, 0)
        elif layer["type"] == "global_avg_pool":
            x = x.mean(axis=(1, 2))
        elif layer["type"] == "softmax":
            e = np.exp(x - x.max())
            x = e / e.sum()
    return x


def tint(image: np.ndarray, channel: int) -> np.ndarray:
    """Noise with one channel much brighter than the others."""
    image //= 4
    image[..., channel] += 190
    return image


NET = [
    {"type": "conv", "weights": "w0", "bias": "b0", "stride": 2},
    {"type": "relu"},
    {"type": "global_avg_pool"},
    {"type": "softmax"},
]


def write_net(root: Path, layers: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """``net.json`` (the layer list) and ``net.npz`` (its weights, seeded) in ``root``; returns the weights."""
    rng = np.random.default_rng(7)
    weights = {
        "w0": rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32),
        "b0": rng.normal(0, 0.5, 4).astype(np.float32),
    }
    (root / "net.json").write_text(json.dumps(layers), encoding="utf-8")
    np.savez(root / "net.npz", **weights)
    return weights


CLASSIFIER = {"gie-unique-id": 1, "network-type": 1, "infer-dims": [3, 10, 12], "net-scale-factor": 1 / 255,
              "model-parser-func-name": "layer-list", "model-file": "net.json", "labelfile-path": "labels.txt",
              "classifier-type": "kind", "classifier-threshold": 0.1, "batch-size": 2}  # fmt: skip


@pytest.mark.parametrize("form", ["proto", "path"])
def test_model_parser_builds_a_classifier_from_a_layer_list(scene: Scene, form: str) -> None:
    """The parser's network classifies like a NumPy forward pass of the same weights.

    It returns the ``ModelProto``, or (``path``) saves it next to the model file and returns that path.
    """
    weights = write_net(scene.root, NET)
    (scene.root / "labels.txt").write_text("a;b;c;d\n", encoding="utf-8")
    calls: list[tuple[str, InferConfig]] = []

    def parser(model_file: str, cfg: InferConfig) -> onnx.ModelProto | Path:
        calls.append((model_file, cfg))
        model = read_layer_list(model_file, cfg)
        if form == "proto":
            return model
        onnx.save(model, Path(model_file).with_suffix(".onnx"))
        return Path(model_file).with_suffix(".onnx")

    frames = [tint(noise(12, 10, seed=s), s % 3) for s in range(5)]
    config = scene.config(CLASSIFIER)
    graph = scene.graph(frames, config, Functions(model_parsers={"layer-list": parser}), batch_size=3)
    stage = graph.nodes["det/parse"].params
    assert stage.model.model_parser is parser
    out = scene.run(graph)

    assert calls == [(str(scene.root / "net.json"), stage.config)]  # model-file is relative to the config
    chosen = []
    for frame, result in zip(frames, out, strict=True):
        probs = forward(network_input(frame, 1 / 255), NET, weights)
        best = int(probs.argmax())
        chosen.append(best)
        [obj] = result.objects  # a primary classifier's result sits on a full-frame object
        assert (obj.box, obj.class_id, obj.component_id) == ((0.0, 0.0, 12.0, 10.0), -1, 1)
        [a] = obj.attributes
        assert (a.name, a.label, a.class_id, a.index, a.component_id) == ("kind", "abcd"[best], best, 0, 1)
        assert a.confidence == pytest.approx(probs[best], rel=1e-5)
    assert len(set(chosen)) > 1  # the weights tell the frames apart


@pytest.mark.parametrize(
    ("returned", "got"),
    [(None, "nothing"), ({"layers": NET}, "a value of type dict")],
)
def test_model_parser_returning_no_model(scene: Scene, returned: Any, got: str) -> None:
    write_net(scene.root, NET)
    config = scene.config(CLASSIFIER | {"labelfile-path": ""})
    plugin = Functions(model_parsers={"layer-list": lambda model_file, cfg: returned})
    error = scene.run_error(scene.graph([noise(12, 10, seed=1)], config, plugin), "preprocess", "infer")
    assert isinstance(error, ConfigError)
    expected = f"layer-list returned {got} (expected an ONNX model: a ModelProto, bytes or a path)"
    assert str(error) == f"{config}:6: model-parser-func-name: {expected}"


def test_model_parser_error_reaches_the_user(scene: Scene) -> None:
    """What the parser raises ends the run with its own message."""
    write_net(scene.root, [*NET[:1], {"type": "tanh"}, *NET[1:]])
    config = scene.config(CLASSIFIER | {"labelfile-path": ""})
    graph = scene.graph([noise(12, 10, seed=1)], config, Functions(model_parsers={"layer-list": read_layer_list}))
    error = scene.run_error(graph, "preprocess", "infer")
    assert isinstance(error, ValueError)
    assert str(error) == (
        f"{scene.root / 'net.json'}: layer 1: unknown type 'tanh' (expected conv, relu, global_avg_pool or softmax)"
    )


# -- 3. input-layer initialization ------------------------------------------------------------------


class ScaleInit:
    """Fills the ``scale`` input in place with ``rows[i]`` for row ``i`` and records every call."""

    def __init__(self, rows: Callable[[int], np.ndarray]) -> None:
        self.rows = rows
        self.calls: list[tuple[list[tuple[str, tuple[int, ...], np.dtype, int, bool]], Any, int, Any, Any]] = []
        self.given: list[np.ndarray] = []

    def __call__(self, layers: list[Layer], network: NetworkInfo, max_batch_size: int, *, xp: Any,
                 stream: Any) -> dict[str, np.ndarray]:  # fmt: skip
        self.calls.append(([(x.name, x.dims, x.dtype, x.index, x.is_input) for x in layers], network, max_batch_size,
                           xp, stream))  # fmt: skip
        [layer] = layers
        assert not layer.data.any()  # zero-filled
        layer.data[:] = self.rows(max_batch_size)
        self.given.append(layer.data)
        return {layer.name: layer.data}


def counting(rows: int) -> np.ndarray:
    """Row ``i`` is ``(i + 1, 10 (i + 1), 100 (i + 1))``."""
    return np.arange(1, rows + 1, dtype=np.float32)[:, None] * np.array([1, 10, 100], np.float32)


def halves(rows: int) -> np.ndarray:
    return np.full((rows, 3), 0.5, np.float32)


def colours() -> list[np.ndarray]:
    """Three 8x4 frames of distinct solid colours."""
    return [np.full((4, 8, 3), rgb, np.uint8) for rgb in ([1, 2, 3], [10, 20, 30], [7, 0, 255])]


SUMS = {"gie-unique-id": 1, "network-type": 100, "output-tensor-meta": 1, "onnx-file": "sums.onnx"}


@pytest.mark.parametrize(
    ("rows", "batch", "model_batch", "expected_rows", "filled"),
    [
        (counting, 2, None, [0, 1, 0], 2),  # dynamic model, batch-size 2: chunks of 2 and 1 frames
        (counting, 4, 2, [0, 1, 0], 2),  # fixed batch 2 (the last chunk padded)
        (counting, 3, None, [0, 1, 2], 3),
        (halves, 2, None, [0, 0, 0], 2),  # other values, other outputs
    ],
)
def test_input_initializer_fills_the_second_input(
    scene: Scene,
    rows: Callable[[int], np.ndarray],
    batch: int,
    model_batch: int | None,
    expected_rows: list[int],
    filled: int,
) -> None:
    """The initializer fills ``filled`` rows once (the model's fixed batch, else ``batch-size``); each chunk of
    ``n`` frames gets the first ``n`` rows, so frame ``k`` is scaled by row ``expected_rows[k]``."""
    (scene.root / "sums.onnx").write_bytes(scaled_sum_model((8, 4), batch=model_batch))
    init = ScaleInit(rows)
    config = scene.config(SUMS | {"input-init-func-name": "fill-scale", "batch-size": batch})
    graph = scene.graph(colours(), config, Functions(input_initializers={"fill-scale": init}), batch_size=3)
    assert graph.nodes["det/infer"].params.initializer is init
    out = scene.run(graph)

    assert init.calls == [
        ([("scale", (filled, 3), np.dtype(np.float32), 1, True)], NetworkInfo(8, 4, 3), filled, np, None)
    ]
    scale = rows(filled)
    np.testing.assert_array_equal(init.given[0], scale)
    for frame, row, sums in zip(colours(), expected_rows, tensors(out, "sums"), strict=True):
        expected = network_input(frame).sum(axis=(1, 2)) * scale[row]
        np.testing.assert_array_equal(sums, expected)
    assert len(scene.log.batches["out"]) == 1  # the three frames came in one batch


def test_model_with_an_extra_input_needs_an_initializer(scene: Scene) -> None:
    (scene.root / "sums.onnx").write_bytes(scaled_sum_model((8, 4)))
    config = scene.config(SUMS)
    error = scene.run_error(scene.graph(colours(), config), "infer")
    assert isinstance(error, ConfigError)
    assert str(error) == (
        f"{config}: the model has inputs besides the image (scale): set input-init-func-name, or give a "
        "custom-lib-path that exports NvDsInferInitializeInputLayers"
    )


def test_initializer_that_leaves_an_input_out(scene: Scene) -> None:
    (scene.root / "sums.onnx").write_bytes(scaled_sum_model((8, 4)))
    config = scene.config(SUMS | {"input-init-func-name": "fill-nothing"})
    plugin = Functions(input_initializers={"fill-nothing": lambda layers, network, rows, *, xp, stream: {}})
    error = scene.run_error(scene.graph(colours(), config, plugin), "infer")
    assert isinstance(error, ConfigError)
    assert str(error) == f"{config}: the input initializer did not fill scale"


def test_unknown_input_initializer_fails_at_load(scene: Scene) -> None:
    (scene.root / "sums.onnx").write_bytes(scaled_sum_model((8, 4)))
    config = scene.config(SUMS | {"input-init-func-name": "fill-scales"})
    with pytest.raises(ConfigError) as caught:
        scene.graph(colours(), config, Functions(input_initializers={"fill-scale": ScaleInit(counting)}))
    assert str(caught.value) == (
        f"{config}:6: input-init-func-name: unknown input initializer 'fill-scales' (did you mean 'fill-scale'?) "
        "(available: fill-scale)"
    )


# -- 4. custom layers -------------------------------------------------------------------------------

NEGPOS = {"gie-unique-id": 1, "network-type": 100, "output-tensor-meta": 1, "onnx-file": "negpos.onnx"}
"""``NegPos`` of onnxruntime-extensions' compiled library (domain ``ai.onnx.contrib``): ``neg = min(x, 0)``,
``pos = max(x, 0)``; the model applies it to ``input − 100``."""


@needs_ortx
def test_custom_op_library_from_custom_lib_path(scene: Scene) -> None:
    library = ortx.get_library_path()
    (scene.root / "negpos.onnx").write_bytes(custom_op_model("NegPos", (16, 8), ["neg", "pos"], offset=100))
    frames = [noise(16, 8, seed=1), noise(16, 8, seed=2)]
    graph = scene.graph(frames, scene.config(NEGPOS | {"custom-lib-path": library}))
    assert graph.nodes["det/infer"].params.model.custom_op_libraries == (library,)
    out = scene.run(graph)
    for frame, neg, pos in zip(frames, tensors(out, "neg"), tensors(out, "pos"), strict=True):
        x = network_input(frame) - 100
        np.testing.assert_array_equal(neg, np.minimum(x, 0))
        np.testing.assert_array_equal(pos, np.maximum(x, 0))
        assert neg.min() < 0 < pos.max()


def test_custom_op_without_its_library(scene: Scene) -> None:
    """ONNX Runtime's own message comes back as an EngineError (this needs no onnxruntime-extensions)."""
    (scene.root / "negpos.onnx").write_bytes(custom_op_model("NegPos", (16, 8), ["neg", "pos"], offset=100))
    config = scene.config(NEGPOS)
    error = scene.run_error(scene.graph([noise(16, 8, seed=1)], config), "preprocess", "infer")
    assert isinstance(error, EngineError)
    model = scene.root / "negpos.onnx"
    assert str(error).startswith(f"onnxruntime cannot load {model}: [ONNXRuntimeError]"), str(error)
    assert str(error).endswith("ai.onnx.contrib:NegPos(-1) is not a registered function/op"), str(error)


@functools.cache
def python_quantize_op() -> str:
    """Define (once per process) the Python operator ``DsflowTestQuantize``: ``floor(x / 64)``."""

    @ortx.onnx_op(op_type="DsflowTestQuantize", inputs=[ortx.PyCustomOpDef.dt_float],
                  outputs=[ortx.PyCustomOpDef.dt_float])  # fmt: skip
    def quantize(x: np.ndarray) -> np.ndarray:
        return np.floor(x / 64).astype(np.float32)

    return "DsflowTestQuantize"


@needs_ortx
def test_python_operator_from_a_custom_layers_provider(scene: Scene) -> None:
    op = python_quantize_op()
    calls: list[tuple[str, Any]] = []

    def add_python_ops(backend: str, session_options: Any) -> None:
        calls.append((backend, session_options))
        session_options.register_custom_ops_library(ortx.get_library_path())

    (scene.root / "quantize.onnx").write_bytes(custom_op_model(op, (16, 8), ["levels"]))
    props = {"gie-unique-id": 1, "network-type": 100, "output-tensor-meta": 1, "onnx-file": "quantize.onnx"}
    frames = [noise(16, 8, seed=3), noise(16, 8, seed=4)]
    plugin = Functions(custom_layers={"python-ops": add_python_ops})
    out = scene.run(scene.graph(frames, scene.config(props), plugin))

    import onnxruntime as ort

    [(backend, target)] = calls  # once: one engine
    assert backend == "onnxruntime"
    assert isinstance(target, ort.SessionOptions)
    for frame, levels in zip(frames, tensors(out, "levels"), strict=True):
        np.testing.assert_array_equal(levels, network_input(frame) // 64)
        assert set(np.unique(levels).tolist()) == {0.0, 1.0, 2.0, 3.0}


@needs_ortx
def test_python_operator_without_the_provider(scene: Scene) -> None:
    op = python_quantize_op()
    (scene.root / "quantize.onnx").write_bytes(custom_op_model(op, (16, 8), ["levels"]))
    props = {"gie-unique-id": 1, "network-type": 100, "onnx-file": "quantize.onnx"}
    error = scene.run_error(scene.graph([noise(16, 8, seed=3)], scene.config(props)), "preprocess", "infer")
    assert isinstance(error, EngineError)
    assert str(error).endswith(f"ai.onnx.contrib:{op}(-1) is not a registered function/op"), str(error)


def test_a_parser_returning_the_wrong_type_is_named(tmp_path: Path) -> None:
    """A parser's mistake is reported with its config key and name, not as an error inside dsflow."""

    class Plugin:
        @hookimpl
        def dsflow_register_bbox_parsers(self) -> dict:
            return {"sloppy": lambda outputs, network, params, *, xp, stream: [(1, 2, 3, 4)]}

    pm = h.plugins()
    pm.register(Plugin(), "sloppy-plugin")
    (tmp_path / "model.onnx").write_bytes(identity_model(["n", 3, 8, 8]))
    graph = dsflow.load_graph_text(
        f"""
nodes:
  - {{name: cam, type: source.testpattern, params: {{frames: 1, width: 8, height: 8}}}}
  - name: det
    type: nvinfer
    input: cam
    params: {{onnx-file: {tmp_path / "model.onnx"}, gie-unique-id: 1, parse-bbox-func-name: sloppy}}
  - {{name: out, type: sink.null, input: det}}
""",
        "graph.yaml",
        plugins=pm,
    )
    result = dsflow.run_graph(graph, device="cpu")
    message = str(result.error.__cause__)
    assert re.fullmatch(r"graph\.yaml:7:\d+: parse-bbox-func-name: the parser 'sloppy' returned list "
                        r"\(expected Detections\)", message), message  # fmt: skip
