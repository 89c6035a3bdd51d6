"""nvinfer nodes end to end: real ONNX models, run by ONNX Runtime in graphs on the CPU.

The models (tests/onnx_models.py) compute their outputs from the pixels they are given, so every
number that comes back (the preprocessed tensor, boxes, attributes, class maps, masks) can be
predicted from the frames written here and nvinfer's rules (docs/nvinfer-config.md): crops rounded to
even, letterboxing, normalization, clustering, the meta-attach filters, secondary object selection.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import cv2
import helpers_nodes as h
import numpy as np
import pytest
from onnx_models import Band, blob_model, channel_stats_model, identity_model, segmentation_model

import dsflow
from dsflow import ConfigError, Frame, NodeError
from dsflow.infer.engine import clear_engine_cache
from dsflow.infer.stage import SegmentationMeta, TensorMeta

log = h.log  # the shared fixture


@pytest.fixture(autouse=True)
def fresh_engines():
    """Engines are cached per process by model path: every test opens its own."""
    clear_engine_cache()
    yield
    clear_engine_cache()


# -- building and running graphs -------------------------------------------------------------------


def blank(width: int, height: int) -> np.ndarray:
    return np.zeros((height, width, 3), np.uint8)


def paint(image: np.ndarray, left: int, top: int, width: int, height: int, **channels: int) -> np.ndarray:
    """Set channels ``r``, ``g``, ``b`` of a rectangle (frame pixels, ``left``/``top`` included)."""
    for name, value in channels.items():
        image[top : top + height, left : left + width, "rgb".index(name)] = value
    return image


def noise(width: int, height: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def keyfile_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ";".join(map(str, value))
    return str(value)


def write_config(path: Path, props: dict[str, Any], groups: dict[str, dict[str, Any]] | None = None) -> Path:
    """A DeepStream key-file config: ``[property]`` then the ``groups`` (e.g. ``class-attrs-all``)."""
    lines = ["[property]", *(f"{k}={keyfile_value(v)}" for k, v in props.items())]
    for group, keys in (groups or {}).items():
        lines += [f"[{group}]", *(f"{k}={keyfile_value(v)}" for k, v in keys.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Scene:
    """One test's folder: frames (PNG files), models, configs, and the graph that runs them."""

    def __init__(self, root: Path, log: h.Log) -> None:
        self.root = root
        self.log = log

    def model(self, name: str, data: bytes) -> str:
        (self.root / name).write_bytes(data)
        return name

    def config(self, name: str, props: dict[str, Any], groups: dict[str, dict[str, Any]] | None = None) -> str:
        write_config(self.root / name, props, groups)
        return name

    def labels(self, name: str, text: str) -> str:
        (self.root / name).write_text(text, encoding="utf-8")
        return name

    def graph_file(self, images: Sequence[np.ndarray], stages: Iterable[tuple[str, str]], batch_size: int = 1) -> Path:
        """``src`` (source.images over ``images``) → one ``nvinfer`` node per (name, config) → ``out``."""
        folder = self.root / "frames"
        folder.mkdir(exist_ok=True)
        for i, image in enumerate(images):
            assert cv2.imwrite(str(folder / f"{i:03d}.png"), np.ascontiguousarray(image[..., ::-1]))
        lines = [
            "nodes:",
            f"  - {{name: src, type: source.images, params: {{path: '{folder}', batch-size: {batch_size}}}}}",
        ]
        previous = "src"
        for name, config in stages:
            lines.append(f"  - {{name: {name}, type: nvinfer, input: {previous}, params: {{config: {config}}}}}")
            previous = name
        lines.append(f"  - {{name: out, type: test.sink, input: {previous}, params: {{tag: {self.log.tag}}}}}")
        path = self.root / "graph.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def run(self, images: Sequence[np.ndarray], *stages: tuple[str, str], batch_size: int = 1) -> list[Frame]:
        """Run the graph on the CPU; the frames as the sink got them."""
        graph = dsflow.load_graph(self.graph_file(images, stages, batch_size), plugins=h.plugins())
        result = h.run_on_cpu(graph)
        assert result.error is None, result.error
        return [f for b in self.log.batches["out"] for f in b.frames]

    def run_error(self, images: Sequence[np.ndarray], *stages: tuple[str, str]) -> BaseException:
        result = h.run_on_cpu(dsflow.load_graph(self.graph_file(images, stages), plugins=h.plugins()))
        assert isinstance(result.error, NodeError)
        return result.error


@pytest.fixture
def scene(tmp_path: Path, log: h.Log) -> Scene:
    return Scene(tmp_path, log)


def boxes(frame: Frame) -> list[tuple[Any, ...]]:
    """(class_id, label, left, top, width, height, confidence, component_id) of every object."""
    return [
        (o.class_id, o.label, o.left, o.top, o.width, o.height, round(o.confidence, 6), o.component_id)
        for o in frame.objects
    ]


# -- preprocessing ---------------------------------------------------------------------------------


def reference_input(
    image: np.ndarray,
    size: tuple[int, int],
    *,
    color: int = 0,
    scale: float = 1.0,
    offsets: Sequence[float] | None = None,
    mean: np.ndarray | None = None,
    keep_aspect: bool = False,
    symmetric: bool = False,
    interpolation: int = cv2.INTER_NEAREST,
    nhwc: bool = False,
) -> np.ndarray:
    """The network input nvinfer makes from a whole frame, step by step from the DeepStream rules.

    Crop (width/height rounded down to even) → resize or letterbox into a zeroed uint8 W×H canvas →
    channels in model order (GRAY: an 8-bit picture) → ``scale · (x − mean)`` → CHW or HWC.
    """
    net_w, net_h = size
    crop_w, crop_h = image.shape[1] & ~1, image.shape[0] & ~1
    crop = image[:crop_h, :crop_w]
    canvas = np.zeros((net_h, net_w, 3), np.uint8)
    dest_w, dest_h, x0, y0 = net_w, net_h, 0, 0
    if keep_aspect:
        if net_w * crop_h / crop_w <= net_h:
            dest_h = int(net_w * crop_h / crop_w)
        else:
            dest_w = int(net_h * crop_w / crop_h)
        if symmetric:
            x0, y0 = (net_w - dest_w) // 2, (net_h - dest_h) // 2
    canvas[y0 : y0 + dest_h, x0 : x0 + dest_w] = cv2.resize(crop, (dest_w, dest_h), interpolation=interpolation)
    if color == 1:
        pixels = canvas[..., ::-1]
    elif color == 2:
        pixels = cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)[..., None]
    else:
        pixels = canvas
    x = pixels.astype(np.float32)
    if scale <= 0:  # nvinfer keeps scale 1 and drops the offsets
        scale, offsets = 1.0, None
    if mean is not None:
        x = x - mean.astype(np.float32)
    elif offsets:
        x = x - np.array(offsets, np.float32)
    x = x * np.float32(scale)
    return x if nhwc else x.transpose(2, 0, 1)


def tensors_of(frames: list[Frame], gie: int = 1, name: str = "output") -> list[np.ndarray]:
    metas = [f.tensors[f"tensor-meta-{gie}"] for f in frames]
    assert all(isinstance(m, TensorMeta) and m.unique_id == gie for m in metas)
    return [m.layers[name] for m in metas]


def identity_stage(scene: Scene, input_shape: Sequence[Any], **props: Any) -> tuple[str, str]:
    scene.model("identity.onnx", identity_model(input_shape, batch_output=True))
    keys = {"gie-unique-id": 1, "onnx-file": "identity.onnx", "network-type": 100, "output-tensor-meta": 1}
    return ("pgie", scene.config("pgie.txt", keys | props))


def test_scale_and_offsets(scene: Scene) -> None:
    frames = [noise(40, 24, seed=1), noise(40, 24, seed=2)]
    stage = identity_stage(scene, ["n", 3, 12, 16], **{"net-scale-factor": 0.5, "offsets": [10, 20, 30.5]})
    out = scene.run(frames, stage)
    got = tensors_of(out)
    for frame, tensor in zip(frames, got, strict=True):
        assert tensor.shape == (3, 12, 16)
        assert tensor.dtype == np.float32
        np.testing.assert_array_equal(tensor, reference_input(frame, (16, 12), scale=0.5, offsets=[10, 20, 30.5]))
    # By hand for one value: network pixel (0, 0) is frame pixel (0, 0) with nearest scaling.
    r, g, b = (float(v) for v in frames[0][0, 0])
    assert got[0][:, 0, 0].tolist() == [0.5 * (r - 10), 0.5 * (g - 20), 0.5 * (b - 30.5)]
    meta = out[0].tensors["tensor-meta-1"]
    assert (meta.network.width, meta.network.height, meta.network.channels) == (16, 12, 3)
    assert meta.maintain_aspect_ratio is False
    assert out[0].objects == []  # network-type 100: tensors only


@pytest.mark.parametrize("color", [0, 1, 2])
def test_model_color_format(scene: Scene, color: int) -> None:
    frame = noise(32, 20, seed=3)
    channels = 1 if color == 2 else 3
    offsets = [100] if color == 2 else [1, 2, 3]
    stage = identity_stage(scene, ["n", channels, 10, 16], **{"model-color-format": color, "offsets": offsets})
    [tensor] = tensors_of(scene.run([frame], stage))
    expected = reference_input(frame, (16, 10), color=color, offsets=offsets)
    np.testing.assert_array_equal(tensor, expected)
    if color == 1:  # offsets are in network order: B, G, R
        np.testing.assert_array_equal(tensor[0] + 1, tensor_plane(frame, 2, (16, 10)))
    if color == 2:  # an 8-bit gray picture, as the GRAY8 buffer nvinfer scales into
        assert np.array_equal(tensor + 100, np.rint(tensor + 100))


def tensor_plane(frame: np.ndarray, channel: int, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(frame[..., channel], size, interpolation=cv2.INTER_NEAREST).astype(np.float32)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize(("frame_size", "dest", "pad"), [((40, 24), (16, 9), (0, 3)), ((24, 40), (9, 16), (3, 0))])
def test_maintain_aspect_ratio(
    scene: Scene, symmetric: bool, frame_size: tuple[int, int], dest: tuple[int, int], pad: tuple[int, int]
) -> None:
    frame = noise(*frame_size, seed=4)
    props = {"maintain-aspect-ratio": 1, "symmetric-padding": int(symmetric), "net-scale-factor": 2, "offsets": "4;5;6"}
    [tensor] = tensors_of(scene.run([frame], identity_stage(scene, ["n", 3, 16, 16], **props)))
    expected = reference_input(frame, (16, 16), scale=2, offsets=[4, 5, 6], keep_aspect=True, symmetric=symmetric)
    np.testing.assert_array_equal(tensor, expected)
    # The picture sits at the padding offset; everything around it is s·(0 − mean).
    x0, y0 = pad if symmetric else (0, 0)
    picture = np.zeros((16, 16), bool)
    picture[y0 : y0 + dest[1], x0 : x0 + dest[0]] = True
    for k, offset in enumerate([4, 5, 6]):
        assert set(tensor[k][~picture].tolist()) == {2.0 * -offset}
        np.testing.assert_array_equal(tensor[k][picture].reshape(dest[1], dest[0]),
                                      2 * (tensor_plane(frame, k, dest) - offset))  # fmt: skip


@pytest.mark.parametrize(("scaling_filter", "interpolation"), [(0, cv2.INTER_NEAREST), (1, cv2.INTER_LINEAR)])
def test_scaling_filter(scene: Scene, scaling_filter: int, interpolation: int) -> None:
    frame = noise(50, 30, seed=5)
    stage = identity_stage(scene, ["n", 3, 12, 20], **{"scaling-filter": scaling_filter})
    [tensor] = tensors_of(scene.run([frame], stage))
    np.testing.assert_array_equal(tensor, reference_input(frame, (20, 12), interpolation=interpolation))
    other = cv2.INTER_LINEAR if interpolation == cv2.INTER_NEAREST else cv2.INTER_NEAREST
    assert not np.array_equal(tensor, reference_input(frame, (20, 12), interpolation=other))


def test_mean_file_takes_precedence_over_offsets(scene: Scene) -> None:
    frame = noise(32, 24, seed=6)
    mean = noise(16, 12, seed=7)
    (scene.root / "mean.ppm").write_bytes(b"P6\n# mean image\n16 12\n255\n" + mean.tobytes())
    props = {"mean-file": "mean.ppm", "offsets": [50, 50, 50], "net-scale-factor": 0.25}
    [tensor] = tensors_of(scene.run([frame], identity_stage(scene, ["n", 3, 12, 16], **props)))
    np.testing.assert_array_equal(tensor, reference_input(frame, (16, 12), scale=0.25, mean=mean))


def test_mean_file_of_the_wrong_size(scene: Scene) -> None:
    (scene.root / "mean.ppm").write_bytes(b"P6\n8 8\n255\n" + bytes(192))
    stage = identity_stage(scene, ["n", 3, 12, 16], **{"mean-file": "mean.ppm"})
    error = scene.run_error([noise(32, 24, seed=6)], stage)
    assert str(error) == (
        f"node 'pgie/preprocess' (nvinfer.preprocess): {scene.root / 'mean.ppm'}: mean-file: "
        "the image is 8x8, the network input is 16x12"
    )


@pytest.mark.parametrize("scale", [0, -1])
def test_scale_not_above_zero_is_one_and_drops_the_offsets(scene: Scene, scale: float) -> None:
    frame = noise(32, 24, seed=8)
    props = {"net-scale-factor": scale, "offsets": [50, 60, 70]}
    [tensor] = tensors_of(scene.run([frame], identity_stage(scene, ["n", 3, 12, 16], **props)))
    np.testing.assert_array_equal(tensor, reference_input(frame, (16, 12)))


def test_network_input_order_nhwc(scene: Scene) -> None:
    frame = noise(32, 24, seed=9)
    props = {"network-input-order": 1, "offsets": [1, 2, 3], "model-color-format": 1}
    [tensor] = tensors_of(scene.run([frame], identity_stage(scene, ["n", 12, 16, 3], **props)))
    assert tensor.shape == (12, 16, 3)
    np.testing.assert_array_equal(tensor, reference_input(frame, (16, 12), color=1, offsets=[1, 2, 3], nhwc=True))


def test_infer_dims_sizes_a_dynamic_model(scene: Scene) -> None:
    frame = noise(30, 20, seed=10)
    [tensor] = tensors_of(scene.run([frame], identity_stage(scene, ["n", 3, "h", "w"], **{"infer-dims": [3, 10, 14]})))
    assert tensor.shape == (3, 10, 14)
    np.testing.assert_array_equal(tensor, reference_input(frame, (14, 10)))


def test_dynamic_model_without_infer_dims(scene: Scene) -> None:
    error = scene.run_error([noise(30, 20, seed=10)], identity_stage(scene, ["n", 3, "h", "w"]))
    assert str(error) == (
        f"node 'pgie/preprocess' (nvinfer.preprocess): {scene.root / 'pgie.txt'}: infer-dims: "
        "the model input 'input' (None, 3, None, None) has dynamic sizes: set infer-dims c;h;w"
    )


def test_infer_dims_must_match_a_fixed_model(scene: Scene) -> None:
    stage = identity_stage(scene, ["n", 3, 8, 8], **{"infer-dims": [3, 8, 10]})
    error = scene.run_error([noise(30, 20, seed=10)], stage)
    assert str(error) == (
        f"node 'pgie/preprocess' (nvinfer.preprocess): {scene.root / 'pgie.txt'}:6: infer-dims: "
        "width 10 does not match the model input 'input' (None, 3, 8, 8)"
    )


def test_odd_frame_sizes_crop_to_even(scene: Scene) -> None:
    frame = noise(41, 25, seed=11)
    [tensor] = tensors_of(scene.run([frame], identity_stage(scene, ["n", 3, 12, 20])))
    np.testing.assert_array_equal(tensor, reference_input(frame, (20, 12)))
    # The crop is 40x24: nearest scaling by exactly 2 reads even columns and rows of it.
    np.testing.assert_array_equal(tensor, frame[:24:2, :40:2].transpose(2, 0, 1).astype(np.float32))


def test_fixed_batch_of_one_runs_one_row_at_a_time(scene: Scene) -> None:
    frames = [noise(16, 16, seed=s) for s in range(4)]
    out = scene.run(frames, identity_stage(scene, [1, 3, 8, 8], **{"batch-size": 4}), batch_size=4)
    assert len(scene.log.batches["out"]) == 1  # the four frames came in one batch
    assert [float(b[0]) for b in tensors_of(out, name="batch")] == [1.0, 1.0, 1.0, 1.0]
    for frame, tensor in zip(frames, tensors_of(out), strict=True):
        np.testing.assert_array_equal(tensor, reference_input(frame, (8, 8)))


def test_dynamic_batch_is_cut_into_batch_size_chunks(scene: Scene) -> None:
    frames = [noise(16, 16, seed=s) for s in range(3)]
    out = scene.run(frames, identity_stage(scene, ["n", 3, 8, 8], **{"batch-size": 2}), batch_size=3)
    assert [float(b[0]) for b in tensors_of(out, name="batch")] == [2.0, 2.0, 1.0]
    for frame, tensor in zip(frames, tensors_of(out), strict=True):
        np.testing.assert_array_equal(tensor, reference_input(frame, (8, 8)))


def test_fixed_batch_model_gets_its_last_chunk_padded(scene: Scene) -> None:
    frames = [noise(16, 16, seed=s) for s in range(3)]
    out = scene.run(frames, identity_stage(scene, [2, 3, 8, 8], **{"batch-size": 4}), batch_size=3)
    assert [float(b[0]) for b in tensors_of(out, name="batch")] == [2.0, 2.0, 2.0]
    for frame, tensor in zip(frames, tensors_of(out), strict=True):
        np.testing.assert_array_equal(tensor, reference_input(frame, (8, 8)))


def test_secondary_crops_are_rounded_to_even(scene: Scene) -> None:
    """Objects are cropped from left/top rounded up to even, width/height rounded down to even."""
    frame = noise(40, 30, seed=12)
    frame[..., 0] //= 2  # only the object's red is above 200
    paint(frame, 5, 3, 21, 19, r=255)
    scene.model("det.onnx", blob_model([Band(0, 200, 0.9, 0)], (40, 30)))
    pgie = scene.config("pgie.txt", {"gie-unique-id": 1, "onnx-file": "det.onnx", "num-detected-classes": 1,
                                     "parse-bbox-func-name": "NvDsInferParseYolo", "cluster-mode": 4})  # fmt: skip
    scene.model("identity.onnx", identity_model(["n", 3, 8, 10]))
    sgie = scene.config("sgie.txt", {"gie-unique-id": 2, "onnx-file": "identity.onnx", "process-mode": 2,
                                     "network-type": 100, "output-tensor-meta": 1})  # fmt: skip
    [out] = scene.run([frame], ("pgie", pgie), ("sgie", sgie))
    [obj] = out.objects
    assert obj.box == (5, 3, 21, 19)
    assert "tensor-meta-2" not in out.tensors
    meta = obj.tensors["tensor-meta-2"]
    crop = frame[4 : 4 + 18, 6 : 6 + 20]  # left 5 → 6, top 3 → 4, width 21 → 20, height 19 → 18
    np.testing.assert_array_equal(meta.layers["output"], reference_input(crop, (10, 8)))


# -- detectors -------------------------------------------------------------------------------------

RED, GREEN, BLUE = 0, 1, 2
MULTI_BANDS = [Band(RED, 50, 0.6, 0), Band(RED, 150, 0.9, 0), Band(GREEN, 100, 0.7, 1), Band(BLUE, 100, 0.8, 2)]
"""Class 0: the red box (score 0.6) and its brighter core (0.9); class 1 the green box; class 2 the blue one."""


def multi_frame() -> np.ndarray:
    """64x48: red 100 at (4, 4, 32, 32) with red 200 at (8, 8, 24, 24) inside; green (40, 2, 20, 10); blue
    (40, 20, 10, 24)."""
    image = paint(blank(64, 48), 4, 4, 32, 32, r=100)
    paint(image, 8, 8, 24, 24, r=200)
    paint(image, 40, 2, 20, 10, g=200)
    return paint(image, 40, 20, 10, 24, b=200)


OUTER = (4.0, 4.0, 32.0, 32.0, 0.6)
INNER = (8.0, 8.0, 24.0, 24.0, 0.9)
GREEN_BOX = (40.0, 2.0, 20.0, 10.0, 0.7)
BLUE_BOX = (40.0, 20.0, 10.0, 24.0, 0.8)


def detector(scene: Scene, props: dict[str, Any] | None = None, groups: dict[str, dict[str, Any]] | None = None,
             *, bands: Sequence[Band] = MULTI_BANDS, size: tuple[int, int] = (64, 48),
             margin: float = 0) -> tuple[str, str]:  # fmt: skip
    """A primary blob detector stage ``pgie`` with DeepStream-Yolo's parser and labels red, green, blue."""
    scene.model("pgie.onnx", blob_model(bands, size, margin=margin))
    scene.labels("labels.txt", "red\ngreen\nblue\n")
    keys = {"gie-unique-id": 1, "onnx-file": "pgie.onnx", "labelfile-path": "labels.txt",
            "num-detected-classes": 3, "parse-bbox-func-name": "NvDsInferParseYolo", "cluster-mode": 4}  # fmt: skip
    return ("pgie", scene.config("pgie.txt", keys | (props or {}), groups))


def found(frame: Frame) -> list[tuple[Any, ...]]:
    """(class_id, label, left, top, width, height, confidence) of every object, confidence to 6 places."""
    return [row[:7] for row in boxes(frame)]


def expect(class_id: int, box: tuple[float, ...]) -> tuple[Any, ...]:
    return (class_id, ["red", "green", "blue"][class_id], *box[:4], round(float(np.float32(box[4])), 6))


def test_detector_objects_labels_and_component_id(scene: Scene) -> None:
    [frame] = scene.run([multi_frame()], detector(scene, {"gie-unique-id": 7}))
    assert found(frame) == [expect(0, OUTER), expect(0, INNER), expect(1, GREEN_BOX), expect(2, BLUE_BOX)]
    assert {o.component_id for o in frame.objects} == {7}
    assert {o.parent for o in frame.objects} == {None}
    assert {o.object_id for o in frame.objects} == {-1}


@pytest.mark.parametrize(
    ("props", "groups", "expected"),
    [
        ({"cluster-mode": 4}, None, [(0, OUTER), (0, INNER), (1, GREEN_BOX), (2, BLUE_BOX)]),
        # NMS: the core (0.9) overlaps the red box by IoU 576/1024 > 0.3: the red box goes.
        ({"cluster-mode": 2}, None, [(0, INNER), (1, GREEN_BOX), (2, BLUE_BOX)]),
        ({"cluster-mode": 2}, {"class-attrs-0": {"nms-iou-threshold": 0.6}},
         [(0, INNER), (0, OUTER), (1, GREEN_BOX), (2, BLUE_BOX)]),
        ({"cluster-mode": 2}, {"class-attrs-all": {"post-cluster-threshold": 0.7}}, [(0, INNER), (2, BLUE_BOX)]),
        ({"cluster-mode": 4}, {"class-attrs-all": {"topk": 1}}, [(0, INNER), (1, GREEN_BOX), (2, BLUE_BOX)]),
        # DBSCAN with 2 boxes a cluster: the two red boxes (1 − IoU = 0.4375 ≤ eps) become their
        # confidence-weighted mean with the best confidence; classes 1 and 2 are not clustered.
        ({"cluster-mode": 1}, {"class-attrs-0": {"minBoxes": 2, "eps": 0.5}},
         [(0, (6.4, 6.4, 27.2, 27.2, 0.9)), (1, GREEN_BOX), (2, BLUE_BOX)]),
        ({"cluster-mode": 1}, {"class-attrs-0": {"minBoxes": 2, "eps": 0.4}}, [(1, GREEN_BOX), (2, BLUE_BOX)]),
    ],
)  # fmt: skip
def test_cluster_modes(scene: Scene, props: dict, groups: dict | None, expected: list) -> None:
    [frame] = scene.run([multi_frame()], detector(scene, props, groups))
    got = found(frame)
    assert [g[:2] for g in got] == [expect(c, box)[:2] for c, box in expected]
    for row, (c, box) in zip(got, expected, strict=True):
        assert row[2:] == pytest.approx(expect(c, box)[2:], rel=1e-6)


@pytest.mark.parametrize(
    ("props", "groups", "expected"),
    [
        ({}, {"class-attrs-all": {"pre-cluster-threshold": 0.65}}, [(0, INNER), (1, GREEN_BOX), (2, BLUE_BOX)]),
        ({}, {"class-attrs-all": {"pre-cluster-threshold": 0.65}, "class-attrs-1": {"pre-cluster-threshold": 0.75}},
         [(0, INNER), (2, BLUE_BOX)]),
        ({}, {"class-attrs-2": {"threshold": 0.8}}, [(0, OUTER), (0, INNER), (1, GREEN_BOX), (2, BLUE_BOX)]),
        ({}, {"class-attrs-2": {"threshold": 0.81}}, [(0, OUTER), (0, INNER), (1, GREEN_BOX)]),
        ({"num-detected-classes": 2}, None, [(0, OUTER), (0, INNER), (1, GREEN_BOX)]),
        ({"filter-out-class-ids": [0, 2]}, None, [(1, GREEN_BOX)]),
        ({}, {"class-attrs-all": {"detected-min-w": 21}}, [(0, OUTER), (0, INNER)]),
        ({}, {"class-attrs-all": {"detected-min-h": 11, "detected-max-h": 31}}, [(0, INNER), (2, BLUE_BOX)]),
        ({}, {"class-attrs-all": {"roi-top-offset": 3}}, [(0, OUTER), (0, INNER), (2, BLUE_BOX)]),
        ({}, {"class-attrs-2": {"roi-bottom-offset": 5}}, [(0, OUTER), (0, INNER), (1, GREEN_BOX)]),
        ({}, {"class-attrs-2": {"roi-bottom-offset": 4}}, [(0, OUTER), (0, INNER), (1, GREEN_BOX), (2, BLUE_BOX)]),
    ],
)  # fmt: skip
def test_thresholds_and_object_filters(scene: Scene, props: dict, groups: dict | None, expected: list) -> None:
    [frame] = scene.run([multi_frame()], detector(scene, props, groups))
    assert found(frame) == [expect(c, box) for c, box in expected]


def test_num_detected_classes_drops_higher_class_ids(scene: Scene) -> None:
    bands = [Band(RED, 150, 0.9, 0), Band(GREEN, 100, 0.7, 5)]
    [frame] = scene.run([multi_frame()], detector(scene, {"num-detected-classes": 5}, bands=bands))
    assert found(frame) == [expect(0, INNER)]  # class 5 is not below 5


def test_crop_objects_to_roi_boundary(scene: Scene) -> None:
    groups = {"class-attrs-all": {"roi-top-offset": 6, "roi-bottom-offset": 10}}
    [frame] = scene.run([multi_frame()], detector(scene, {"crop-objects-to-roi-boundary": 1}, groups))
    # Tops raised to row 6, bottoms cut at row 48 − 10 = 38.
    assert found(frame) == [
        expect(0, (4, 6, 32, 32, 0.6)),
        expect(0, INNER),
        expect(1, (40, 6, 20, 10, 0.7)),
        expect(2, (40, 20, 10, 18, 0.8)),
    ]


@pytest.mark.parametrize(
    ("props", "net_top", "net_height"),
    [({}, 4, 8), ({"maintain-aspect-ratio": 1}, 2, 4), ({"maintain-aspect-ratio": 1, "symmetric-padding": 1}, 10, 4)],
    ids=["stretched", "letterbox", "letterbox-centred"],
)
def test_boxes_come_back_in_frame_pixels(scene: Scene, props: dict[str, Any], net_top: int, net_height: int) -> None:
    """A 64x32 frame in a 32x32 network: scaled by 0.5 (or 0.5 and 1 stretched); the letterbox has 16 rows
    of padding, below the picture or 8 above and 8 below it."""
    image = paint(blank(64, 32), 8, 4, 16, 8, r=200)
    stage = detector(scene, props | {"output-tensor-meta": 1}, bands=[Band(RED, 100, 0.9, 0)], size=(32, 32))
    [frame] = scene.run([image], stage)
    assert found(frame) == [expect(0, (8, 4, 16, 8, 0.9))]
    # Where the detector saw it, in network pixels: (x1, y1, x2, y2, score, class).
    row = frame.tensors["tensor-meta-1"].layers["output"][0]
    assert row.tolist() == pytest.approx([4, net_top, 12, net_top + net_height, 0.9, 0])


def test_negative_left_is_clamped_to_zero(scene: Scene) -> None:
    """A 32x64 frame letterboxed into 32x32 with 8 columns of padding left; the model widens boxes by 2 px, so
    the box starts 2 network pixels (4 frame pixels) left of the picture."""
    image = paint(blank(32, 64), 0, 16, 8, 16, g=200)
    props = {"maintain-aspect-ratio": 1, "symmetric-padding": 1}
    stage = detector(scene, props, bands=[Band(GREEN, 100, 0.7, 1)], size=(32, 32), margin=2)
    [frame] = scene.run([image], stage)
    # network box (6, 6)–(14, 18): left (6 − 8)/0.5 = −4 → 0; top 12; width and height unchanged by the clamp
    assert found(frame) == [expect(1, (0, 12, 16, 24, 0.7))]


def test_interval_skips_batches(scene: Scene) -> None:
    frames = [multi_frame()] * 5
    out = scene.run(frames, detector(scene, {"interval": 1, "cluster-mode": 2}))
    assert [len(f.objects) for f in out] == [3, 0, 3, 0, 3]


# -- secondary stages --------------------------------------------------------------------------------


def two_cars(small: bool = False) -> np.ndarray:
    """80x48: a red car (2, 4, 32, 32) (14x14 when ``small``) and a blue one (40, 8, 32, 32), each with a
    green plate: (10, 14, 8, 12) and (48, 16, 16, 8)."""
    image = blank(80, 48)
    if small:
        paint(image, 2, 4, 14, 14, r=200)
        paint(image, 6, 8, 6, 6, g=200)
    else:
        paint(image, 2, 4, 32, 32, r=200)
        paint(image, 10, 14, 8, 12, g=200)
    paint(image, 40, 8, 32, 32, b=200)
    return paint(image, 48, 16, 16, 8, g=200)


RED_CAR = (0, "red", 2.0, 4.0, 32.0, 32.0, 0.9, 1)
BLUE_CAR = (2, "blue", 40.0, 8.0, 32.0, 32.0, 0.8, 1)
RED_PLATE = (0, "plate", 10.0, 14.0, 8.0, 12.0, 0.6, 2)
BLUE_PLATE = (0, "plate", 48.0, 16.0, 16.0, 8.0, 0.6, 2)


def car_detector(scene: Scene) -> tuple[str, str]:
    return detector(scene, bands=[Band(RED, 100, 0.9, 0), Band(BLUE, 100, 0.8, 2)], size=(80, 48))


def plate_detector(scene: Scene, **props: Any) -> tuple[str, str]:
    """A secondary detector of green plates inside the cars, 16x16 network (cars are scaled by 0.5)."""
    scene.model("plates.onnx", blob_model([Band(GREEN, 100, 0.6, 0)], (16, 16)))
    scene.labels("plates.txt", "plate\n")
    keys = {"gie-unique-id": 2, "process-mode": 2, "onnx-file": "plates.onnx", "labelfile-path": "plates.txt",
            "num-detected-classes": 1, "parse-bbox-func-name": "NvDsInferParseYolo", "cluster-mode": 4,
            "operate-on-gie-id": 1}  # fmt: skip
    return ("sgie", scene.config("sgie.txt", keys | props))


def test_secondary_detector_objects_are_children_in_frame_pixels(scene: Scene) -> None:
    [frame] = scene.run([two_cars()], car_detector(scene), plate_detector(scene))
    assert boxes(frame) == [RED_CAR, BLUE_CAR, RED_PLATE, BLUE_PLATE]
    red, blue, red_plate, blue_plate = frame.objects
    assert (red_plate.parent, blue_plate.parent) == (red, blue)
    assert (red.parent, blue.parent) == (None, None)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"operate-on-class-ids": [2]}, [BLUE_PLATE]),
        ({"operate-on-class-ids": [0, 2]}, [RED_PLATE, BLUE_PLATE]),
        ({"operate-on-gie-id": 9}, []),
        ({"operate-on-gie-id": -1}, [RED_PLATE, BLUE_PLATE]),
        ({"input-object-min-width": 32, "input-object-min-height": 32}, [RED_PLATE, BLUE_PLATE]),
        ({"input-object-min-width": 33}, []),
        ({"input-object-min-height": 33}, []),
        ({"input-object-max-width": 32, "input-object-max-height": 32}, [RED_PLATE, BLUE_PLATE]),
        ({"input-object-max-width": 31}, []),
        ({"input-object-max-height": 31}, []),
    ],
)
def test_secondary_object_selection(scene: Scene, props: dict[str, Any], expected: list) -> None:
    [frame] = scene.run([two_cars()], car_detector(scene), plate_detector(scene, **props))
    assert boxes(frame) == [RED_CAR, BLUE_CAR, *expected]


def test_objects_under_16_pixels_are_not_inferred(scene: Scene) -> None:
    [frame] = scene.run([two_cars(small=True)], car_detector(scene), plate_detector(scene))
    assert boxes(frame) == [(0, "red", 2.0, 4.0, 14.0, 14.0, 0.9, 1), BLUE_CAR, BLUE_PLATE]


# -- classifiers --------------------------------------------------------------------------------------

SCALE = 0.00390625
"""1/256: pixel 128 becomes exactly 0.5."""


def painted_cars() -> np.ndarray:
    """64x32: a red car (0, 0, 32, 32), red 128 with a green 255 corner (0, 0, 16, 16); a blue car (32, 0, 32, 32)
    of blue 128."""
    image = paint(blank(64, 32), 0, 0, 32, 32, r=128)
    paint(image, 0, 0, 16, 16, g=255)
    return paint(image, 32, 0, 32, 32, b=128)


def classifier(scene: Scene, *, labels: bool = True, **props: Any) -> tuple[str, str]:
    """Attribute 0 is the channel with the highest mean, attribute 1 the one with the highest peak (8x8 input)."""
    scene.model("stats.onnx", channel_stats_model((8, 8)))
    keys = {"gie-unique-id": 3, "onnx-file": "stats.onnx", "network-type": 1, "net-scale-factor": SCALE,
            "process-mode": 2, "classifier-type": "color"}  # fmt: skip
    if labels:
        keys["labelfile-path"] = scene.labels("colors.txt", "red;green;blue\nwarm;grass;sky\n")
    return ("classify", scene.config("classify.txt", keys | props))


def attributes(obj: Any) -> list[tuple[Any, ...]]:
    return [(a.name, a.label, a.class_id, a.confidence, a.index, a.component_id) for a in obj.attributes]


def car_stage(scene: Scene) -> tuple[str, str]:
    return detector(scene, bands=[Band(RED, 100, 0.9, 0), Band(BLUE, 100, 0.8, 2)], size=(64, 32))


def test_secondary_classifier_attaches_labelled_attributes(scene: Scene) -> None:
    [frame] = scene.run([painted_cars()], car_stage(scene), classifier(scene))
    red, blue = frame.objects
    assert boxes(frame) == [(0, "red", 0.0, 0.0, 32.0, 32.0, 0.9, 1), (2, "blue", 32.0, 0.0, 32.0, 32.0, 0.8, 1)]
    # Red car: means (0.5, 0.25 · 255/256, 0), peaks (0.5, 255/256, 0).
    assert attributes(red) == [("color", "red", 0, 0.5, 0, 3), ("color", "grass", 1, 0.99609375, 1, 3)]
    assert attributes(blue) == [("color", "blue", 2, 0.5, 0, 3), ("color", "sky", 2, 0.5, 1, 3)]


@pytest.mark.parametrize(
    ("threshold", "red", "blue"),
    [
        (0.49, [("red", 0.5), ("grass", 0.99609375)], [("blue", 0.5), ("sky", 0.5)]),
        (0.5, [("grass", 0.99609375)], []),  # strictly above the threshold
        (0.99609375, [], []),
    ],
)
def test_classifier_threshold_is_strict(scene: Scene, threshold: float, red: list, blue: list) -> None:
    [frame] = scene.run([painted_cars()], car_stage(scene), classifier(scene, **{"classifier-threshold": threshold}))
    assert [[(a.label, a.confidence) for a in o.attributes] for o in frame.objects] == [red, blue]


def test_classifier_without_labels_attaches_nothing(scene: Scene) -> None:
    [frame] = scene.run([painted_cars()], car_stage(scene), classifier(scene, labels=False))
    assert [o.attributes for o in frame.objects] == [[], []]


def test_classifier_on_selected_objects_only(scene: Scene) -> None:
    [frame] = scene.run([painted_cars()], car_stage(scene), classifier(scene, **{"operate-on-class-ids": [2]}))
    blue = [("color", "blue", 2, 0.5, 0, 3), ("color", "sky", 2, 0.5, 1, 3)]
    assert [attributes(o) for o in frame.objects] == [[], blue]


def test_primary_classifier_makes_a_full_frame_object(scene: Scene) -> None:
    [frame] = scene.run([painted_cars()], classifier(scene, **{"process-mode": 1}))
    [obj] = frame.objects
    assert boxes(frame) == [(-1, "", 0.0, 0.0, 64.0, 32.0, 1.0, 3)]
    assert obj.parent is None
    # 8x8 input: red and blue cover half of it each (means 0.25: the first class wins), green 8 pixels.
    assert attributes(obj) == [("color", "red", 0, 0.25, 0, 3), ("color", "grass", 1, 0.99609375, 1, 3)]


def test_primary_classifier_without_labels_makes_no_object(scene: Scene) -> None:
    [frame] = scene.run([painted_cars()], classifier(scene, labels=False, **{"process-mode": 1}))
    assert frame.objects == []


# -- segmentation --------------------------------------------------------------------------------------


def regions() -> np.ndarray:
    """32x16: red 200 in columns 0–7, green 200 in columns 8–15 of rows 0–7, blue 100 in columns 16–23."""
    image = paint(blank(32, 16), 0, 0, 8, 16, r=200)
    paint(image, 8, 0, 8, 8, g=200)
    return paint(image, 16, 0, 8, 16, b=100)


def expected_class_map(blue: bool) -> np.ndarray:
    """On the 16x8 network input: a pixel's class is its channel above the threshold, else −1."""
    class_map = np.full((8, 16), -1, np.int32)
    class_map[:, 0:4] = 0
    class_map[0:4, 4:8] = 1
    if blue:
        class_map[:, 8:12] = 2
    return class_map


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize(("threshold", "blue"), [(0.0, True), (0.390625, False), (0.5, False)])
def test_semantic_segmentation(scene: Scene, order: int, threshold: float, blue: bool) -> None:
    scene.model("seg.onnx", segmentation_model((16, 8), nhwc_output=bool(order)))
    keys = {"gie-unique-id": 4, "onnx-file": "seg.onnx", "network-type": 2, "net-scale-factor": SCALE,
            "segmentation-threshold": threshold, "segmentation-output-order": order}  # fmt: skip
    [frame] = scene.run([regions()], ("seg", scene.config("seg.txt", keys)))
    meta = frame.tensors["segmentation-4"]
    assert isinstance(meta, SegmentationMeta)
    assert (meta.unique_id, meta.classes) == (4, 3)
    assert meta.class_map.dtype == np.int32
    np.testing.assert_array_equal(meta.class_map, expected_class_map(blue))
    probabilities = reference_input(regions(), (16, 8), scale=SCALE, nhwc=bool(order))
    np.testing.assert_array_equal(meta.probabilities, probabilities)
    assert frame.objects == []


# -- instance segmentation ---------------------------------------------------------------------------


def test_instance_segmentation_objects_carry_masks(scene: Scene) -> None:
    image = paint(blank(32, 32), 4, 8, 16, 16, r=200)
    paint(image, 22, 2, 6, 4, b=200)
    bands = [Band(RED, 100, 0.9, 0), Band(BLUE, 100, 0.8, 0)]
    scene.model("mrcnn.onnx", blob_model(bands, (16, 16), layout="mrcnn"))
    keys = {"gie-unique-id": 5, "onnx-file": "mrcnn.onnx", "network-type": 3, "num-detected-classes": 1,
            "parse-bbox-instance-mask-func-name": "NvDsInferParseCustomMrcnnTLTV2", "cluster-mode": 4,
            "output-instance-mask": 1, "labelfile-path": scene.labels("things.txt", "thing\n")}  # fmt: skip
    [frame] = scene.run([image], ("mrcnn", scene.config("mrcnn.txt", keys)))
    assert boxes(frame) == [(0, "thing", 4.0, 8.0, 16.0, 16.0, 0.9, 5), (0, "thing", 22.0, 2.0, 6.0, 4.0, 0.8, 5)]
    red_mask, blue_mask = (np.zeros((16, 16), np.float32) for _ in range(2))
    red_mask[4:12, 2:10] = 1  # the red pixels on the 16x16 network input
    blue_mask[1:3, 11:14] = 1
    np.testing.assert_array_equal(frame.objects[0].mask, red_mask)
    np.testing.assert_array_equal(frame.objects[1].mask, blue_mask)


def test_instance_segmentation_threshold_and_masks_off(scene: Scene) -> None:
    image = paint(blank(32, 32), 4, 8, 16, 16, r=200)
    paint(image, 22, 2, 6, 4, b=200)
    scene.model("mrcnn.onnx", blob_model([Band(RED, 100, 0.9, 0), Band(BLUE, 100, 0.8, 0)], (16, 16), layout="mrcnn"))
    keys = {"gie-unique-id": 5, "onnx-file": "mrcnn.onnx", "network-type": 3, "num-detected-classes": 1,
            "parse-bbox-instance-mask-func-name": "NvDsInferParseCustomMrcnnTLTV2", "cluster-mode": 4}  # fmt: skip
    groups = {"class-attrs-all": {"pre-cluster-threshold": 0.85}}
    [frame] = scene.run([image], ("mrcnn", scene.config("mrcnn.txt", keys, groups)))
    assert boxes(frame) == [(0, "", 4.0, 8.0, 16.0, 16.0, 0.9, 5)]
    assert frame.objects[0].mask is None  # output-instance-mask is off


# -- the one-node form, the CLI and the JSON Lines sink ------------------------------------------------


def cli_graph(scene: Scene, out: Path, parser: str = "NvDsInferParseYolo") -> Path:
    folder = scene.root / "frames"
    folder.mkdir()
    assert cv2.imwrite(str(folder / "000.png"), multi_frame()[..., ::-1])
    scene.model("det.onnx", blob_model(MULTI_BANDS, (64, 48)))
    config = scene.config("pgie.txt", {"gie-unique-id": 1, "onnx-file": "det.onnx", "num-detected-classes": 3,
                                       "labelfile-path": scene.labels("labels.txt", "red\ngreen\nblue\n"),
                                       "parse-bbox-func-name": parser, "cluster-mode": 2})  # fmt: skip
    path = scene.root / "graph.yaml"
    path.write_text(
        "device: cpu\n"
        "nodes:\n"
        f"  - {{name: src, type: source.images, params: {{path: frames}}}}\n"
        f"  - {{name: pgie, type: nvinfer, input: src, params: {{config: {config}}}}}\n"
        f"  - {{name: meta, type: sink.jsonl, input: pgie, params: {{path: '{out}'}}}}\n",
        encoding="utf-8",
    )
    return path


def dsflow_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dsflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_one_node_expands_into_three_stages(scene: Scene) -> None:
    path = cli_graph(scene, scene.root / "out.jsonl")
    proc = dsflow_cli("show", str(path), cwd=scene.root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"graph {path}: 5 nodes, 4 connections",
        "  src (source.images)",
        "  pgie/preprocess (nvinfer.preprocess)  [in <- src]",
        "  pgie/infer (nvinfer.infer)  [in <- pgie/preprocess]",
        "  pgie/parse (nvinfer.parse)  [in <- pgie/infer]",
        "  meta (sink.jsonl)  [in <- pgie/parse]",
    ]
    graph = dsflow.load_graph(path)
    assert sorted(str(e) for e in graph.edges) == [
        "pgie/infer.out -> pgie/parse.in",
        "pgie/parse.out -> meta.in",
        "pgie/preprocess.out -> pgie/infer.in",
        "src.out -> pgie/preprocess.in",
    ]
    assert {name: spec.part_of for name, spec in graph.nodes.items()} == {
        "src": None,
        "pgie/preprocess": ("pgie", "nvinfer"),
        "pgie/infer": ("pgie", "nvinfer"),
        "pgie/parse": ("pgie", "nvinfer"),
        "meta": None,
    }


def test_run_from_the_cli_writes_the_objects_as_json_lines(scene: Scene) -> None:
    out = scene.root / "objects.jsonl"
    proc = dsflow_cli("run", "-q", str(cli_graph(scene, out)), cwd=scene.root)
    assert proc.returncode == 0, proc.stderr
    [record] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (record["width"], record["height"], record["frame_num"]) == (64, 48, 0)
    got = [(o["class_id"], o["label"], o["left"], o["top"], o["width"], o["height"], round(o["confidence"], 6),
            o["component_id"], o["parent"], o["attributes"]) for o in record["objects"]]  # fmt: skip
    assert got == [(*expect(c, box), 1, None, []) for c, box in [(0, INNER), (1, GREEN_BOX), (2, BLUE_BOX)]]


def test_unknown_parser_lists_the_available_ones(scene: Scene) -> None:
    path = cli_graph(scene, scene.root / "out.jsonl", parser="NvDsInferParseYOLO")
    with pytest.raises(ConfigError) as info:
        dsflow.load_graph(path)
    message = str(info.value)
    assert message.startswith(
        f"{scene.root / 'pgie.txt'}:6: parse-bbox-func-name: unknown bbox parser 'NvDsInferParseYOLO' "
        "(did you mean 'NvDsInferParseYolo'?) (available: NvDsInferParseCustomBatchedNMSTLT, "
    )
    for name in ("NvDsInferParseYolo", "detectnet", "end-to-end", "yolov8", "NvDsInferParseCustomTfSSD"):
        assert f" {name}," in message or message.endswith(f" {name})")
    proc = dsflow_cli("validate", str(path), cwd=scene.root)
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "", f"error: {message}\n")


def test_inline_keys_and_the_three_stages_written_out(scene: Scene) -> None:
    """The same stage configured inline, once as ``nvinfer`` and once as its three stage nodes."""
    folder = scene.root / "frames"
    folder.mkdir()
    assert cv2.imwrite(str(folder / "000.png"), multi_frame()[..., ::-1])
    scene.model("det.onnx", blob_model(MULTI_BANDS, (64, 48)))
    scene.labels("labels.txt", "red\ngreen\nblue\n")
    params = (
        "{gie-unique-id: 6, onnx-file: det.onnx, labelfile-path: labels.txt, num-detected-classes: 3, "
        "parse-bbox-func-name: NvDsInferParseYolo, cluster-mode: 2, class-attrs-1: {pre-cluster-threshold: 0.75}}"
    )
    one = (
        "nodes:\n"
        f"  - {{name: src, type: source.images, params: {{path: '{folder}'}}}}\n"
        f"  - {{name: det, type: nvinfer, input: src, params: {params}}}\n"
        f"  - {{name: out, type: test.sink, input: det, params: {{tag: {scene.log.tag}}}}}\n"
    )
    three = (
        "nodes:\n"
        f"  - {{name: src, type: source.images, params: {{path: '{folder}'}}}}\n"
        f"  - {{name: pre, type: nvinfer.preprocess, input: src, params: {params}}}\n"
        f"  - {{name: run, type: nvinfer.infer, input: pre, params: {params}}}\n"
        f"  - {{name: parse, type: nvinfer.parse, input: run, params: {params}}}\n"
        f"  - {{name: out, type: test.sink, input: parse, params: {{tag: {scene.log.tag}}}}}\n"
    )
    expected = [(*expect(0, INNER), 6), (*expect(2, BLUE_BOX), 6)]  # green (0.7) is below class 1's 0.75
    for text in (one, three):
        scene.log.batches.clear()
        path = scene.root / "graph.yaml"
        path.write_text(text, encoding="utf-8")
        result = h.run_on_cpu(dsflow.load_graph(path, plugins=h.plugins()))
        assert result.error is None, result.error
        [frame] = [f for b in scene.log.batches["out"] for f in b.frames]
        assert boxes(frame) == expected
