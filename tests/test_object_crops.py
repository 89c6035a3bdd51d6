"""Secondary stages beyond boxes: crop functions (warped quads), points, fit-batch-width,
cluster-per-frame, set-object-label and functions configured per stage (``for_stage``).

Every test runs real ONNX models computed from the pixels (tests/onnx_models.py) through the
nvinfer nodes; the crop functions and parsers are registered by a plugin, as users do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import helpers_nodes as h
import numpy as np
import pytest
from onnx_models import Band, blob_model, identity_model
from test_nvinfer_nodes import Scene, noise, paint

import dsflow
from dsflow import Attribute, Frame, ObjectMeta, hookimpl
from dsflow.errors import ConfigError
from dsflow.infer.engine import clear_engine_cache
from dsflow.infer.parsers.yolo import parse_yolo
from dsflow.model import Detections, NetworkInfo

log = h.log  # the shared fixture


def box_corners(objects: Sequence[ObjectMeta]) -> np.ndarray:
    """``(n, 4, 2)``: each box's top-left, top-right, bottom-right, bottom-left."""
    b = np.array([o.box for o in objects], np.float64).reshape(-1, 4)
    left, top, right, bottom = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    return np.stack([np.stack([left, top], 1), np.stack([right, top], 1),
                     np.stack([right, bottom], 1), np.stack([left, bottom], 1)], 1)  # fmt: skip


class CropPlugin:
    """Crop functions and parsers a user plugin would register."""

    configured: list[str] = []  # noqa: RUF012 - what for_stage was called with, across the test

    @hookimpl
    def dsflow_register_crop_functions(self) -> dict[str, Any]:
        return {
            "quarter-turn": lambda objects, frames, network: box_corners(objects)[:, [3, 0, 1, 2]],
            "transposed": lambda objects, frames, network: box_corners(objects)[:, [0, 3, 2, 1]],
            "wrong-shape": lambda objects, frames, network: np.zeros((len(objects), 3, 2)),
        }

    @hookimpl
    def dsflow_register_bbox_parsers(self) -> dict[str, Any]:
        def with_corners(layers: Any, network: NetworkInfo, params: Any, **kwargs: Any) -> Detections:
            dets = parse_yolo(layers, network, params, **kwargs)
            xs = np.stack([dets.left, dets.right, dets.right, dets.left], 1)
            ys = np.stack([dets.top, dets.top, dets.bottom, dets.bottom], 1)
            dets.points["corners"] = np.stack([xs, ys], 2)
            return dets

        return {"yolo-with-corners": with_corners}

    @hookimpl
    def dsflow_register_classifier_parsers(self) -> dict[str, Any]:
        def brightest_channel(layers: Any, network: NetworkInfo, threshold: float, **kwargs: Any) -> list[Attribute]:
            msg = "for_stage's result must be called instead"
            raise AssertionError(msg)

        def for_stage(config: Any) -> Any:
            names = Path(config["labelfile-path"]).read_text(encoding="utf-8").split()
            CropPlugin.configured.append(config["labelfile-path"])

            def parse(layers: Any, network: NetworkInfo, threshold: float, **kwargs: Any) -> list[Attribute]:
                means = layers[0].data.reshape(3, -1).mean(axis=1)  # the identity model's input, CHW
                best = int(np.argmax(means))
                return [Attribute(names[best], best, 1.0, "colour")]

            return parse

        brightest_channel.for_stage = for_stage  # type: ignore[attr-defined]
        return {"brightest-channel": brightest_channel}


@pytest.fixture
def scene(tmp_path: Path, log: h.Log) -> Scene:
    return Scene(tmp_path, log)


@pytest.fixture(autouse=True)
def fresh_engines() -> Any:
    clear_engine_cache()
    yield
    clear_engine_cache()


def run(scene: Scene, images: Sequence[np.ndarray], *stages: tuple[str, str]) -> list[Frame] | BaseException:
    pm = h.plugins()
    pm.register(CropPlugin(), "crop-test-plugin")
    graph = dsflow.load_graph(scene.graph_file(images, stages), plugins=pm)
    result = h.run_on_cpu(graph)
    if result.error is not None:
        return result.error
    return [f for b in scene.log.batches["out"] for f in b.frames]


def red_detector(scene: Scene, size: tuple[int, int], **props: Any) -> tuple[str, str]:
    """Primary stage 1: one object, the box of the red pixels above 200."""
    scene.model("red.onnx", blob_model([Band(0, 200, 0.9, 0)], size))
    keys = {"gie-unique-id": 1, "onnx-file": "red.onnx", "num-detected-classes": 1,
            "parse-bbox-func-name": "NvDsInferParseYolo", "cluster-mode": 4}  # fmt: skip
    return ("pgie", scene.config("pgie.txt", keys | props))


def identity_sgie(scene: Scene, shape: Sequence[Any], **props: Any) -> tuple[str, str]:
    """Secondary stage 2 whose output is its input: the crop itself comes back as tensor meta."""
    scene.model("identity.onnx", identity_model(shape))
    keys = {"gie-unique-id": 2, "onnx-file": "identity.onnx", "process-mode": 2, "network-type": 100,
            "output-tensor-meta": 1}  # fmt: skip
    return ("sgie", scene.config("sgie.txt", keys | props))


def crop_of(obj: ObjectMeta, gie: int = 2) -> np.ndarray:
    """The network input a secondary stage made for ``obj``, as HWC."""
    return obj.tensors[f"tensor-meta-{gie}"].layers["output"].transpose(1, 2, 0)


# -- warped crops ----------------------------------------------------------------------------------


def test_a_quarter_turn_quad_gives_the_rotated_crop(scene: Scene) -> None:
    """Corners given as bottom-left, top-left, top-right, bottom-right turn the crop clockwise, pixel-exact."""
    frame = noise(60, 40, seed=3)
    frame[..., 0] //= 2
    paint(frame, 10, 6, 24, 16, r=255)
    frame[6:22, 10:34, 1] = np.arange(24, dtype=np.uint8)[None, :] * 10  # a ramp, so the turn is visible
    [out] = run(scene, [frame], red_detector(scene, (60, 40)),
                identity_sgie(scene, ["n", 3, 24, 16], **{"crop-func-name": "quarter-turn"}))  # fmt: skip
    [obj] = [o for o in out.objects if o.component_id == 1]
    assert obj.box == (10, 6, 24, 16)
    expected = np.rot90(frame[6:22, 10:34], k=-1)  # clockwise: 24 rows, 16 columns
    np.testing.assert_array_equal(crop_of(obj), expected.astype(np.float32))


def test_detections_in_a_warped_crop_come_back_in_frame_pixels(scene: Scene) -> None:
    """A transposed crop (MTCNN's convention): the blue mark found in it maps back to where it is in the frame,
    and so do the parser's points."""
    frame = np.zeros((48, 64, 3), np.uint8)
    paint(frame, 8, 4, 40, 32, r=255)
    paint(frame, 30, 10, 6, 14, b=255)  # inside the red box: x 30..36, y 10..24
    pgie = red_detector(scene, (64, 48))
    scene.model("blue.onnx", blob_model([Band(2, 200, 0.8, 0)], (32, 40)))
    sgie = scene.config("sgie.txt", {
        "gie-unique-id": 2, "process-mode": 2, "onnx-file": "blue.onnx", "num-detected-classes": 1,
        "parse-bbox-func-name": "yolo-with-corners", "cluster-mode": 4, "crop-func-name": "transposed",
    })  # fmt: skip
    [out] = run(scene, [frame], pgie, ("sgie", sgie))
    [child] = [o for o in out.objects if o.component_id == 2]
    assert child.parent is not None
    assert child.parent.component_id == 1
    np.testing.assert_allclose(child.box, (30, 10, 6, 14), atol=1e-4)
    corners = child.extra["corners"]  # the net's tl, tr, br, bl are the frame's tl, bl, br, tr
    np.testing.assert_allclose(corners, [[30, 10], [30, 24], [36, 24], [36, 10]], atol=1e-4)


def test_a_crop_function_must_return_one_quad_per_object(scene: Scene) -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    paint(frame, 10, 6, 24, 16, r=255)
    error = run(scene, [frame], red_detector(scene, (60, 40)),
                identity_sgie(scene, ["n", 3, 8, 8], **{"crop-func-name": "wrong-shape"}))  # fmt: skip
    assert isinstance(error, BaseException)
    assert "sgie.txt" in str(error)
    assert "returned shape (1, 3, 2) (expected (1, 4, 2) frame points)" in str(error)


def test_crop_func_name_needs_secondary_mode(scene: Scene) -> None:
    scene.model("x.onnx", identity_model(["n", 3, 8, 8]))
    stage = ("pgie", scene.config("pgie.txt", {"gie-unique-id": 1, "onnx-file": "x.onnx", "crop-func-name": "x"}))
    pm = h.plugins()
    with pytest.raises(ConfigError, match=r"pgie.txt:\d+: crop-func-name: .*needs process-mode=2"):
        dsflow.load_graph(scene.graph_file([np.zeros((8, 8, 3), np.uint8)], [stage]), plugins=pm)


def test_an_unknown_crop_function_lists_the_registered_ones(scene: Scene) -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    pm = h.plugins()
    pm.register(CropPlugin(), "crop-test-plugin")
    stages = [red_detector(scene, (60, 40)), identity_sgie(scene, ["n", 3, 8, 8], **{"crop-func-name": "quarter-trun"})]
    path = scene.graph_file([frame], stages)
    with pytest.raises(ConfigError, match=r"unknown crop function 'quarter-trun'.*did you mean 'quarter-turn'"):
        dsflow.load_graph(path, plugins=pm)


# -- fit-batch-width -------------------------------------------------------------------------------


def two_objects() -> np.ndarray:
    """80x48: a red 40x16 object and a green 16x16 one (each ≥ 16 px, nvinfer's smallest crop)."""
    frame = noise(80, 48, seed=5)
    frame[..., :2] //= 2
    paint(frame, 2, 2, 40, 16, r=255)
    return paint(frame, 50, 24, 16, 16, g=255)


def two_object_detector(scene: Scene) -> tuple[str, str]:
    """Primary stage 1: the red object and the green one."""
    scene.model("two.onnx", blob_model([Band(0, 200, 0.9, 0), Band(1, 200, 0.8, 0)], (80, 48)))
    keys = {"gie-unique-id": 1, "onnx-file": "two.onnx", "num-detected-classes": 1,
            "parse-bbox-func-name": "NvDsInferParseYolo", "cluster-mode": 4}  # fmt: skip
    return ("pgie", scene.config("pgie.txt", keys))


@pytest.mark.parametrize(("max_width", "widths"), [(0, (40, 16)), (24, (24, 16))])
def test_fit_batch_width_keeps_the_height_and_pads_on_the_right(
    scene: Scene, max_width: int, widths: tuple[int, int]
) -> None:
    """Samples scale to the network height; the batch is as wide as the widest (or max-batch-width)."""
    frame = two_objects()
    sgie = identity_sgie(scene, ["n", 3, 16, None], **{"infer-dims": "3;16;12", "fit-batch-width": 1,
                                                       "max-batch-width": max_width, "batch-size": 4})  # fmt: skip
    [out] = run(scene, [frame], two_object_detector(scene), sgie)
    objects = [o for o in out.objects if o.component_id == 1]
    assert [o.box for o in objects] == [(2, 2, 40, 16), (50, 24, 16, 16)]
    for obj, width in zip(objects, widths, strict=True):
        left, top, w, h = (int(v) for v in obj.box)
        expected = np.zeros((16, max(widths), 3), np.float32)
        expected[:, :width] = cv2.resize(frame[top : top + h, left : left + w], (width, 16),
                                         interpolation=cv2.INTER_NEAREST)  # fmt: skip
        np.testing.assert_array_equal(crop_of(obj), expected)


def test_fit_batch_width_needs_a_dynamic_width(scene: Scene) -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    paint(frame, 10, 6, 24, 16, r=255)
    error = run(scene, [frame], red_detector(scene, (60, 40)),
                identity_sgie(scene, ["n", 3, 8, 8], **{"fit-batch-width": 1}))  # fmt: skip
    assert isinstance(error, BaseException)
    assert "fit-batch-width: needs a model input with a dynamic width" in str(error)


# -- cluster-per-frame, set-object-label, for_stage ---------------------------------------------------


def overlapping_parents(scene: Scene, **props: Any) -> list[Frame]:
    """A red and a green object overlap; both hold one blue mark, which the secondary detector finds in each."""
    frame = np.zeros((48, 64, 3), np.uint8)
    paint(frame, 4, 4, 36, 28, r=255)
    paint(frame, 10, 8, 40, 32, g=255)
    paint(frame, 20, 14, 8, 8, b=255)
    scene.model("two.onnx", blob_model([Band(0, 200, 0.9, 0), Band(1, 200, 0.8, 0)], (64, 48)))
    pgie = scene.config("pgie.txt", {"gie-unique-id": 1, "onnx-file": "two.onnx", "num-detected-classes": 1,
                                     "parse-bbox-func-name": "NvDsInferParseYolo", "cluster-mode": 4})  # fmt: skip
    scene.model("blue.onnx", blob_model([Band(2, 200, 0.7, 0)], (40, 32)))
    sgie = scene.config("sgie.txt", {
        "gie-unique-id": 2, "process-mode": 2, "onnx-file": "blue.onnx", "num-detected-classes": 1,
        "parse-bbox-func-name": "NvDsInferParseYolo", "cluster-mode": 2,
    } | props, {"class-attrs-all": {"nms-iou-threshold": 0.5}})  # fmt: skip
    [out] = run(scene, [frame], ("pgie", pgie), ("sgie", sgie))
    return [o for o in out.objects if o.component_id == 2]


def test_nvinfer_clusters_each_objects_detections_apart(scene: Scene) -> None:
    children = overlapping_parents(scene)
    assert len(children) == 2
    assert {c.parent.box for c in children} == {(4, 4, 36, 28), (10, 8, 40, 32)}


def test_cluster_per_frame_merges_the_detections_of_all_objects(scene: Scene) -> None:
    [child] = overlapping_parents(scene, **{"cluster-per-frame": 1})
    np.testing.assert_allclose(child.box, (20, 14, 8, 8), atol=1.0)
    assert child.parent is not None
    assert child.parent.box == (4, 4, 36, 28)  # equal scores: the first object's detection stays


def test_set_object_label_and_a_parser_configured_for_its_stage(scene: Scene) -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    paint(frame, 10, 6, 24, 16, r=255)
    scene.labels("colours.txt", "red green blue\n")
    CropPlugin.configured.clear()
    sgie = identity_sgie(scene, ["n", 3, 8, 8], **{"network-type": 1, "parse-classifier-func-name": "brightest-channel",
                                                   "labelfile-path": "colours.txt", "set-object-label": 1})  # fmt: skip
    [out] = run(scene, [frame], red_detector(scene, (60, 40)), sgie)
    [obj] = out.objects
    assert obj.label == "red"
    assert [(a.label, a.name, a.component_id) for a in obj.attributes] == [("red", "colour", 2)]
    assert CropPlugin.configured == [str(scene.root / "colours.txt")]  # once, when the graph was loaded
