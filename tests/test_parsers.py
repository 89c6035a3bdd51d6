"""The built-in output parsers, on outputs of real ONNX Runtime sessions with hand-computed results.

Every test builds a constant-output model (``tests/onnx_models.py``), runs it on a batch of two,
takes one sample's layers as the infer node does, and compares every decoded column with values
worked out by hand from DeepStream's formulas (written literally below, with the arithmetic in
comments). Edge cases named in the reference are covered: clamps, +1 sizes, dropped degenerate
boxes, classes beyond num-detected-classes, ``>=`` versus ``>`` thresholds, count truncation, caps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from onnx_models import constant_layers, constant_model, run_model, sample_layers

from dsflow import PluginManager
from dsflow.infer import parsers
from dsflow.infer.parsers import classifier, detectnet, frcnn, maskrcnn, picodet, segmentation, ssd, tao, yolo
from dsflow.infer.parsers import yolo_darknet as darknet
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.plugins.manager import BUILTIN_PLUGINS

f32 = np.float32


def params(thresholds: Sequence[float], num_classes: int | None = None) -> DetectionParams:
    limits = np.asarray(thresholds, np.float32)
    return DetectionParams(len(limits) if num_classes is None else num_classes, limits, np.zeros_like(limits))


def net(width: int, height: int) -> NetworkInfo:
    return NetworkInfo(width, height, 3)


def check(found: Detections, expected: Sequence[Sequence[float]]) -> None:
    """``expected`` rows: (class_id, left, top, width, height, confidence), in output order."""
    want = np.asarray(expected, np.float64).reshape(-1, 6)
    np.testing.assert_array_equal(found.class_id, want[:, 0].astype(np.int32))
    got = np.stack([found.left, found.top, found.width, found.height, found.confidence], axis=1)
    np.testing.assert_allclose(got, want[:, 1:], rtol=1e-5, atol=2e-5)


def run(outputs: dict[str, np.ndarray]) -> list[Layer]:
    """One sample's layers from a real ONNX Runtime session (batch of two; sample 1)."""
    return constant_layers(outputs, (2, 3, 8, 8), sample=1)


# -- the ONNX helpers ------------------------------------------------------------------------------


def test_constant_model_outputs_keep_names_dtypes_and_batch() -> None:
    model = constant_model(
        {"a/b:0": np.arange(6, dtype=f32).reshape(2, 3), "count": np.array([3], np.int32), "s": np.array(2.5, f32)}
    )
    results = run_model(model, np.zeros((3, 3, 8, 8), f32))
    assert list(results) == ["a/b:0", "count", "s"]
    assert results["a/b:0"].shape == (3, 2, 3)
    assert results["count"].dtype == np.int32
    np.testing.assert_array_equal(results["a/b:0"][2], np.arange(6).reshape(2, 3))
    layers = sample_layers(results, 1)
    assert [(layer.name, layer.index, layer.dims) for layer in layers] == [
        ("a/b:0", 0, (2, 3)), ("count", 1, (1,)), ("s", 2, ()),
    ]  # fmt: skip


# -- registration ----------------------------------------------------------------------------------

BBOX_NAMES = {
    "detectnet", "NvDsInferParseCustomResnet", "NvDsInferParseCustomSSD", "NvDsInferParseCustomTfSSD",
    "NvDsInferParseCustomFasterRCNN", "NvDsInferParseCustomYoloV3", "NvDsInferParseCustomYoloV3Tiny",
    "NvDsInferParseCustomYoloV2", "NvDsInferParseCustomYoloV2Tiny", "NvDsInferParseCustomNMSTLT",
    "NvDsInferParseCustomBatchedNMSTLT", "NvDsInferParseYoloV5CustomBatchedNMSTLT", "NvDsInferParseCustomBatchedYoloV5NMSTLT",
    "NvDsInferParseCustomEfficientDetTAO", "NvDsInferParseCustomDDETRTAO", "NvDsInferParseYolo", "yolov5",
    "yolov8", "yolox", "picodet", "end-to-end",
}  # fmt: skip


def test_hooks_register_every_parser_by_name() -> None:
    assert set(parsers.dsflow_register_bbox_parsers()) == BBOX_NAMES
    assert set(parsers.dsflow_register_instance_mask_parsers()) == {
        "NvDsInferParseCustomMrcnnTLT", "NvDsInferParseCustomMrcnnTLTV2",
    }  # fmt: skip
    assert parsers.dsflow_register_classifier_parsers() == {"softmax": classifier.parse_softmax}
    assert parsers.dsflow_register_segmentation_parsers() == {"argmax": segmentation.parse_argmax}


def test_parsers_resolve_through_the_plugin_registry() -> None:
    manager = PluginManager(autoload=False)
    if "dsflow.infer.parsers" not in BUILTIN_PLUGINS:
        manager.register(parsers, "dsflow.infer.parsers")
    registry = manager.registry
    assert registry.lookup("bbox_parsers", "NvDsInferParseYolo") is yolo.parse_yolo
    assert registry.lookup("bbox_parsers", "detectnet") is detectnet.parse_detectnet
    assert registry.lookup("instance_mask_parsers", "NvDsInferParseCustomMrcnnTLTV2") is maskrcnn.parse_mrcnn_tlt_v2
    assert registry.lookup("segmentation_parsers", "argmax") is segmentation.parse_argmax


# -- DetectNet -------------------------------------------------------------------------------------


def detectnet_tensors() -> tuple[np.ndarray, np.ndarray]:
    """64x48 input, 4x3 grid (stride 16), 3 coverage classes. Centre·35 = 16·i + 0.5."""
    cov = np.zeros((3, 3, 4), f32)
    bbox = np.zeros((12, 3, 4), f32)

    def cell(c: int, j: int, i: int, conf: float, offsets: tuple[float, float, float, float]) -> None:
        cov[c, j, i] = conf
        bbox[4 * c : 4 * c + 4, j, i] = offsets

    cell(0, 0, 0, 0.5, (0.2, 0.2, 0.4, 0.4))  # conf == threshold 0.5: kept (>=)
    cell(0, 1, 1, 0.9, (0.2, 0.2, 0.4, 0.4))
    cell(0, 2, 0, 0.8, (-1.0, 0.2, -0.5, 0.2))  # x1 = 0.5+35 = 35.5, x2 = -17.5+0.5 → 0: inverted
    cell(1, 2, 3, 0.7, (-0.1, 0.0, 1.0, 0.43))  # x2 = 35+48.5 = 83.5, y2 = 15.05+32.5 = 47.55
    cell(1, 0, 1, 0.59, (0.2, 0.2, 0.4, 0.4))  # under class 1's 0.6
    cell(2, 1, 2, 1.0, (0.2, 0.2, 0.4, 0.4))  # class 2 >= num-detected-classes: never read
    return cov, bbox


def test_detectnet_builtin_grid_decode() -> None:
    cov, bbox = detectnet_tensors()
    layers = run({"extra": np.zeros(2, f32), "output_cov/Sigmoid": cov, "output_bbox/BiasAdd": bbox})
    found = detectnet.parse_detectnet(layers, net(64, 48), params([0.5, 0.6]), xp=np, stream=None)
    check(found, [
        (0, 0.0, 0.0, 14.5, 14.5, 0.5),  # x1 = 0.5 - 7 → 0, x2 = 14 + 0.5
        (0, 9.5, 9.5, 21.0, 21.0, 0.9),  # 16.5 - 7 = 9.5, 14 + 16.5 = 30.5
        # (0, 2, 0) dropped: x2 < x1 after clamping
        (1, 52.0, 32.5, 11.0, 15.05, 0.7),  # x2 83.5 >= 64 → 63; y2 47.55 < 48 stays (not clipped to 47)
    ])  # fmt: skip
    assert found.masks is None


def test_resnet_custom_parser_clips_and_adds_one() -> None:
    cov, bbox = detectnet_tensors()
    layers = run({"conv2d_bbox": bbox, "conv2d_cov/Sigmoid": cov})
    found = detectnet.parse_resnet(layers, net(64, 48), params([0.5, 0.6]), xp=np, stream=None)
    check(found, [
        (0, 0.0, 0.0, 15.5, 15.5, 0.5),  # 14.5 - 0 + 1
        (0, 9.5, 9.5, 22.0, 22.0, 0.9),  # 30.5 - 9.5 + 1
        (0, 35.5, 25.5, -34.5, 15.0, 0.8),  # not dropped: clip(-17) - 35.5 + 1; y 39.5 - 25.5 + 1
        (1, 52.0, 32.5, 12.0, 15.5, 0.7),  # 63 - 52 + 1; y2 clipped to 47: 47 - 32.5 + 1
    ])  # fmt: skip


def test_detectnet_layer_lookup_errors_name_the_outputs() -> None:
    cov, bbox = detectnet_tensors()
    layers = run({"output_cov/Sigmoid": cov, "output_bbox/BiasAdd": bbox})
    with pytest.raises(ValueError, match=r"parser NvDsInferParseCustomResnet: no output layer named 'conv2d_cov/Sig"):
        detectnet.parse_resnet(layers, net(64, 48), params([0.5, 0.6]))
    with pytest.raises(ValueError, match=r"parser detectnet: .*\*bbox\*.*\(outputs: output_cov/Sigmoid\)"):
        detectnet.parse_detectnet(layers[:1], net(64, 48), params([0.5, 0.6]))


# -- SSD -------------------------------------------------------------------------------------------


def test_uff_ssd_truncates_to_unsigned_and_adds_one() -> None:
    rows = np.array([
        [0, 1, 0.9, 0.1, 0.25, 0.5, 0.75],  # x1 = 12.8 → 12; x2 = 64; y 16 … 48
        [0, 2, 0.3, 0.9, 0.5, 1.2, 1.0],  # conf == class-2 threshold; x2 153.6 → 153 → 127; y2 64 → 63
        [0, 3, 0.99, 0.0, 0.0, 0.5, 0.5],  # class 3 >= num-detected-classes
        [0, 0, 0.49, 0.0, 0.0, 0.5, 0.5],  # under 0.5
        [0, 1.7, 0.8, -0.05, 0.0, 0.5, 0.5],  # label truncates to 1; x1 -6.4 → 0
        [0, 1, 0.95, 0.0, 0.0, 1.0, 1.0],  # beyond the keep count
    ], f32)[None]  # fmt: skip
    layers = run({"NMS": rows, "NMS_1": np.array([5], np.int32)})
    found = ssd.parse_ssd(layers, net(128, 64), params([0.5, 0.5, 0.3]), xp=np, stream=None)
    check(found, [
        (1, 12, 16, 53, 33, 0.9),  # 64 - 12 + 1, 48 - 16 + 1
        (2, 115, 32, 13, 32, 0.3),  # trunc(115.2) = 115: 127 - 115 + 1; 63 - 32 + 1
        (1, 0, 0, 65, 33, 0.8),
    ])  # fmt: skip


def test_uff_ssd_reads_at_most_91_classes() -> None:
    rows = np.array([[0, 90, 0.9, 0, 0, 0.5, 0.5], [0, 91, 0.9, 0, 0, 0.5, 0.5]], f32)
    layers = run({"NMS_1": np.array([2], np.int32), "NMS": rows})
    found = ssd.parse_ssd(layers, net(128, 64), params(np.zeros(100)), xp=np, stream=None)
    check(found, [(90, 0, 0, 65, 33, 0.9)])


def tf_ssd_outputs(count: float | None) -> dict[str, np.ndarray]:
    outputs = {} if count is None else {"num_detections": np.array([count], f32)}
    outputs |= {
        "detection_scores": np.array([0.9, 0.6, 0.8, 0.7, 0.99], f32),
        "detection_classes": np.array([1, 2, 3, 0, 0], f32),
        "detection_boxes": np.array([  # y1, x1, y2, x2 normalised
            [0.25, 0.1, 0.75, 0.5],
            [0.5, 0.75, 1.5, 1.25],  # x2 160 → 127, y2 96 → 63
            [0.0, 0.0, 0.5, 0.5],  # class 3: unknown
            [0.5, 0.5, 0.5, 0.75],  # y2 == y1: dropped (<=)
            [0.0, 0.0, 0.5, 0.5],
        ], f32),
    }  # fmt: skip
    return outputs


def test_tf_ssd_reads_num_detections_rows() -> None:
    found = ssd.parse_tf_ssd(run(tf_ssd_outputs(4.0)), net(128, 64), params([0.5] * 3), xp=np, stream=None)
    check(found, [(1, 12.8, 16, 51.2, 32, 0.9), (2, 96, 32, 31, 31, 0.6)])


def test_tf_ssd_without_num_detections_reads_every_row() -> None:
    found = ssd.parse_tf_ssd(run(tf_ssd_outputs(None)), net(128, 64), params([0.5] * 3), xp=np, stream=None)
    check(found, [(1, 12.8, 16, 51.2, 32, 0.9), (2, 96, 32, 31, 31, 0.6), (0, 0, 0, 64, 32, 0.99)])


# -- Faster R-CNN ----------------------------------------------------------------------------------


def frcnn_outputs() -> dict[str, np.ndarray]:
    rois = np.array([[10, 10, 29, 19], [40, 30, 59, 45], [0, 0, 9, 9]], f32)
    probs = np.zeros((3, 21), f32)
    deltas = np.zeros((3, 21, 4), f32)
    probs[0, 0] = 0.9  # background: threshold 1.1
    probs[0, 3], deltas[0, 3] = 0.8, (0.1, -0.2, 0.0, math.log(2))
    probs[1, 5], deltas[1, 5] = 0.5, (0.5, 0.5, 0.0, 0.0)
    probs[1, 6] = 0.49
    probs[2, 20], deltas[2, 20] = 0.7, (-1.0, 0.0, 0.0, 0.0)
    return {"bbox_pred": deltas.reshape(3, 84), "cls_prob": probs, "rois": rois}


def test_faster_rcnn_refines_rois_per_class() -> None:
    found = frcnn.parse_faster_rcnn(run(frcnn_outputs()), net(64, 48), params([1.1] + [0.5] * 20), xp=np, stream=None)
    check(found, [
        (3, 12, 3, 21, 21, 0.8),  # w 20 h 10 c (20, 15) → pc (22, 13), ph 20 → 12…32, 3…23, +1
        (5, 50, 38, 14, 10, 0.5),  # pc (60, 46) → x2 70 → 63, y2 54 → 47
        (20, 0, 0, 1, 11, 0.7),  # pcx -5 → x1 -10 → 0, x2 0: width 0 + 1
    ])  # fmt: skip


def test_faster_rcnn_reads_only_configured_classes() -> None:
    found = frcnn.parse_faster_rcnn(run(frcnn_outputs()), net(64, 48), params([1.1] + [0.5] * 9), xp=np)
    assert found.class_id.tolist() == [3, 5]


# -- Darknet YOLO ----------------------------------------------------------------------------------


def yolo_head(boxes: int, grid: int, cells: dict[tuple[int, int, int], dict[int, float]]) -> np.ndarray:
    """Planar head ``[boxes·85, grid, grid]``; ``cells[(b, y, x)] = {value index: value}``."""
    head = np.zeros((boxes * 85, grid, grid), f32)
    for (b, y, x), values in cells.items():
        for k, value in values.items():
            head[b * 85 + k, y, x] = value
    return head


def test_yolo_v3_sorts_heads_and_uses_activated_values() -> None:
    outputs = {
        "yolo_8": yolo_head(3, 8, {(2, 2, 3): {0: 0.5, 1: 0.5, 2: 1.0, 3: 1.0, 4: 0.5, 5 + 79: 0.6}}),
        "yolo_2": yolo_head(3, 2, {(1, 1, 0): {0: 0.5, 1: 0.25, 2: 0.5, 3: 0.5, 4: 0.8, 5 + 3: 0.9, 5 + 7: 0.9}}),
        "yolo_4": yolo_head(3, 4, {(0, 0, 0): {2: 0.02, 3: 1.0, 4: 1.0, 5: 1.0}}),  # bw 30·0.02 < 1: dropped
    }
    found = darknet.parse_yolo_v3(run(outputs), net(64, 64), params([0.0] * 80), xp=np, stream=None)
    check(found, [
        # grid 2, stride 32, anchor 6+1 = (156, 198): centre (16, 40), size (78, 99); class 3 wins the tie
        (3, 0, 0, 55, 64, 0.72),
        # grid 8, stride 8, anchor 2 = (33, 23): centre (28, 20)
        (79, 11.5, 8.5, 33, 23, 0.3),
    ])  # fmt: skip


def test_yolo_v3_tiny_uses_masks_345_and_123() -> None:
    outputs = {
        "fine": yolo_head(3, 4, {(0, 1, 2): {0: 0.5, 1: 0.5, 2: 2.0, 3: 1.0, 4: 1.0, 5 + 5: 0.4}}),
        "coarse": yolo_head(3, 2, {(2, 0, 1): {0: 0.5, 1: 0.5, 2: 0.25, 3: 0.25, 4: 0.5, 5 + 1: 1.0}}),
    }
    found = darknet.parse_yolo_v3_tiny(run(outputs), net(64, 64), params([0.0] * 80), xp=np, stream=None)
    check(found, [
        # coarse head, mask {3,4,5}, box 2 → anchor 5 (344, 319): centre (48, 16), size (86, 79.75)
        (1, 5, 0, 59, 55.875, 0.5),
        # fine head, mask {1,2,3}, box 0 → anchor 1 (23, 27): centre (40, 24), size (46, 27)
        (5, 17, 10.5, 46, 27, 0.4),
    ])  # fmt: skip


def test_yolo_v3_needs_one_layer_per_head() -> None:
    layers = run({"only": yolo_head(3, 2, {})})
    with pytest.raises(ValueError, match=r"NvDsInferParseCustomYoloV3: expected 3 output layers"):
        darknet.parse_yolo_v3(layers, net(64, 64), params([0.0] * 80))
    with pytest.raises(ValueError, match=r"expected \[255, H, W\]"):
        darknet.parse_yolo_v3_tiny(run({"a": np.zeros((85, 2, 2), f32), "b": np.zeros((85, 4, 4), f32)}),
                                   net(64, 64), params([0.0] * 80))  # fmt: skip


@pytest.mark.parametrize("parse", [darknet.parse_yolo_v2, darknet.parse_yolo_v2_tiny])
def test_yolo_v2_applies_exp_and_grid_anchors(parse) -> None:
    # Everything else is 0: exp(0) gives real sizes, but no class score beats 0, so no box.
    head = yolo_head(5, 2, {(1, 0, 1): {0: 0.5, 1: 0.5, 2: 0.0, 3: math.log(0.5), 4: 0.9, 5 + 2: 0.5}})
    found = parse(run({"region": head}), net(64, 64), params([0.0] * 80), xp=np, stream=None)
    # anchor 1 · stride 32 = (59.98272, 66.00096); size (59.98272, 33.00048) around (48, 16)
    check(found, [(2, 18.00864, 0, 45.99136, 32.50024, 0.45)])


# -- TAO NMS heads ---------------------------------------------------------------------------------


def test_nms_tlt_uses_class0_threshold_and_clips_sizes() -> None:
    rows = np.array([
        [0, 2, 0.5, 0.1, 0.25, 0.6, 0.75],  # class 2's own threshold (0.9) is not used
        [0, 1, 0.39, 0.0, 0.0, 0.5, 0.5],
        [0, 0, 0.95, -0.1, 0.5, 1.2, 1.5],  # width clip(166.4) = 127, height clip(64) = 63
        [0, 3, 0.9, 0.0, 0.0, 0.5, 0.5],  # unknown class
        [0, 1, 0.99, 0.0, 0.0, 0.5, 0.5],  # beyond the keep count
    ], f32)[None]  # fmt: skip
    layers = run({"NMS": rows, "NMS_1": np.array([4], np.int32)})
    found = tao.parse_nms_tlt(layers, net(128, 64), params([0.4, 0.9, 0.9]), xp=np, stream=None)
    check(found, [(2, 12.8, 16, 64, 32, 0.5), (0, 0, 32, 127, 63, 0.95)])
    with pytest.raises(ValueError, match="expected 2 output layers, got 1"):
        tao.parse_nms_tlt(layers[:1], net(128, 64), params([0.4]))


def batched_outputs(boxes: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "BatchedNMS": np.array([5], np.int32),
        "BatchedNMS_1": boxes,
        "BatchedNMS_2": np.array([0.9, 0.2, 0.9, 0.8, 0.3, 0.9], f32),
        "BatchedNMS_3": np.array([1, 0, 3, 0, 0, 0], f32),
    }


def test_batched_nms_tlt_scales_normalised_boxes() -> None:
    boxes = np.array([
        [0.1, 0.25, 0.5, 0.75],
        [0.1, 0.1, 0.2, 0.2],  # score 0.2
        [0.1, 0.1, 0.2, 0.2],  # class 3
        [0.5, 0.1, 0.4, 0.2],  # x2 < x1
        [0.9, 0.9, 1.5, 1.2],  # 115.2…192 → 127, 57.6…76.8 → 63
        [0.1, 0.1, 0.2, 0.2],  # beyond the keep count
    ], f32)  # fmt: skip
    layers = run(batched_outputs(boxes))
    found = tao.parse_batched_nms_tlt(layers, net(128, 64), params([0.3, 0.9, 0.9]), xp=np, stream=None)
    check(found, [(1, 12.8, 16, 51.2, 32, 0.9), (0, 115.2, 57.6, 11.8, 5.4, 0.3)])


def test_yolov5_batched_nms_tlt_takes_pixel_boxes() -> None:
    boxes = np.array([[12.5, 16, 64, 48], [0, 0, 9, 9], [0, 0, 9, 9], [50, 10, 40, 20], [120, 60, 200, 100],
                      [0, 0, 9, 9]], f32)  # fmt: skip
    layers = run(batched_outputs(boxes))
    found = tao.parse_yolov5_batched_nms_tlt(layers, net(128, 64), params([0.3, 0.9, 0.9]), xp=np, stream=None)
    check(found, [(1, 12.5, 16, 51.5, 32, 0.9), (0, 120, 60, 7, 3, 0.3)])


def test_batched_nms_tlt_stops_after_200_objects() -> None:
    outputs = {
        "keep": np.array([250], np.int32),
        "boxes": np.tile(np.array([0.25, 0.25, 0.5, 0.5], f32), (300, 1)),
        "scores": np.full(300, 0.9, f32),
        "classes": (np.arange(300) % 3).astype(f32),
    }
    found = tao.parse_batched_nms_tlt(run(outputs), net(128, 64), params([0.5] * 3), xp=np, stream=None)
    assert len(found) == 200
    np.testing.assert_array_equal(found.class_id, np.arange(200) % 3)


def efficientdet_columns() -> tuple[np.ndarray, np.ndarray]:
    boxes = np.array([
        [10, 20, 40, 60],  # y1, x1, y2, x2
        [-5, 100, 70, 150],  # top clip(-5) = 0, but height = clip(70 + 5) = 63; width 50
        [40, 10, 30, 20],  # y2 < y1
        [0, 0, 10, 10],  # score under 0.5
        [0, 0, 10, 10],  # beyond num_detections
    ], f32)  # fmt: skip
    return boxes, np.array([0.9, 0.5, 0.9, 0.49, 0.99], f32)


def test_efficientdet_tao_by_name_with_int_classes() -> None:
    boxes, scores = efficientdet_columns()
    layers = run({
        "detection_scores": scores, "detection_classes": np.array([2, 1, 0, 0, 0], np.int32),
        "num_detections": np.array([4], np.int32), "detection_boxes": boxes,
    })  # fmt: skip
    found = tao.parse_efficientdet_tao(layers, net(128, 64), params([0.5, 0.9, 0.9]), xp=np, stream=None)
    check(found, [(2, 20, 10, 40, 30, 0.9), (1, 100, 0, 50, 63, 0.5)])


def test_efficientdet_tao_by_binding_order_with_float_classes() -> None:
    boxes, scores = efficientdet_columns()
    layers = run({
        "count": np.array([4], np.int32), "bboxes": boxes, "confs": scores,
        "labels": np.array([2, 1, 0, 0, 0], f32),
    })  # fmt: skip
    found = tao.parse_efficientdet_tao(layers, net(128, 64), params([0.5, 0.9, 0.9]), xp=np, stream=None)
    check(found, [(2, 20, 10, 40, 30, 0.9), (1, 100, 0, 50, 63, 0.5)])


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_ddetr_tao_skips_background_and_keeps_last_of_equal_confidences() -> None:
    logits = np.array([[0, 2, 1, 0], [3, 0, 0, 0], [0, 0, 0, 0.5], [0, 0, 1, 0], [0, 2, 0, 0]], f32)
    boxes = np.array([
        [0.5, 0.5, 0.25, 0.5],  # replaced: query 4 has the same confidence
        [0.5, 0.5, 0.5, 0.5],  # background
        [0.5, 0.5, 0.5, 0.5],  # sigmoid(0.5) = 0.62 under class 3's 0.7
        [0.9, 0.1, 0.4, 0.4],  # x 89.6…140.8 → 127; y -6.4 → 0 … 19.2
        [0.25, 0.25, 0.5, 0.5],  # 0…64, 0…32
    ], f32)  # fmt: skip
    layers = run({"pred_boxes": boxes, "pred_logits": logits})
    found = tao.parse_ddetr_tao(layers, net(128, 64), params([0.5, 0.5, 0.5, 0.7]), xp=np, stream=None)
    check(found, [(1, 0, 0, 64, 32, sigmoid(2)), (2, 89.6, 0, 37.4, 19.2, sigmoid(1))])


def test_ddetr_tao_keeps_the_200_most_confident() -> None:
    logits = np.stack([np.full(250, -10.0), np.arange(250) / 50 - 2.5], axis=1).astype(f32)
    boxes = np.tile(np.array([0.5, 0.5, 0.25, 0.25], f32), (250, 1))
    found = tao.parse_ddetr_tao(run({"pred_logits": logits, "pred_boxes": boxes}), net(128, 64), params([0, 0]))
    assert len(found) == 200
    expected = 1.0 / (1.0 + np.exp(-logits[249:49:-1, 1].astype(np.float64)))
    np.testing.assert_allclose(found.confidence, expected, rtol=1e-6)
    check(found.take([0]), [(1, 48, 24, 32, 16, expected[0])])


# -- Mask R-CNN ------------------------------------------------------------------------------------


def mrcnn_outputs(mask_name: str) -> dict[str, np.ndarray]:
    detections = np.array([
        [5, 10, 25, 40, 2, 0.9],  # y1, x1, y2, x2, class, score
        [-4, -6, 60, 30, 1, 0.5],  # left clip(-6) = 0 but width = 30 - (-6); height clip(60) = 47 - (-4)
        [0, 50, 10, 50, 0, 0.95],  # width 0: dropped
    ], f32)  # fmt: skip
    pattern = np.array([[0.0, 0.1], [0.2, 0.3]], f32)
    masks = np.array([[10 * i + c + pattern for c in range(3)] for i in range(3)], f32)  # [3, 3, 2, 2]
    return {"generate_detections": detections, mask_name: masks}


@pytest.mark.parametrize(
    ("parse", "mask_name"),
    [
        (maskrcnn.parse_mrcnn_tlt, "mask_head/mask_fcn_logits/BiasAdd"),
        (maskrcnn.parse_mrcnn_tlt_v2, "mask_fcn_logits/BiasAdd"),
    ],
)
def test_mrcnn_tlt_boxes_and_mask_planes(parse, mask_name) -> None:
    layers = run(mrcnn_outputs(mask_name))
    found = parse(layers, net(64, 48), params([0.5, 0.99, 0.99]), xp=np, stream=None)
    check(found, [(2, 10, 5, 30, 20, 0.9), (1, 0, 0, 36, 51, 0.5)])
    pattern = np.array([[0.0, 0.1], [0.2, 0.3]], f32)
    np.testing.assert_allclose(found.masks, [2 + pattern, 11 + pattern], rtol=1e-6)  # planes 0·3+2, 1·3+1
    assert found.masks.dtype == np.float32


def test_mrcnn_tlt_indexes_masks_with_the_configured_class_count() -> None:
    layers = run(mrcnn_outputs("mask_fcn_logits/BiasAdd"))
    found = maskrcnn.parse_mrcnn_tlt_v2(layers, net(64, 48), params([0.5, 0.99]), xp=np, stream=None)
    pattern = np.array([[0.0, 0.1], [0.2, 0.3]], f32)
    # plane 0·2+2 = flat 2 (instance 0, class 2); plane 1·2+1 = flat 3 (instance 1, class 0)
    np.testing.assert_allclose(found.masks, [2 + pattern, 10 + pattern], rtol=1e-6)


# -- classifier and segmentation -------------------------------------------------------------------


def test_softmax_classifier_strict_threshold_per_layer() -> None:
    layers = run({
        "attr0": np.array([0.1, 0.6, 0.6, 0.2], f32),  # tie: first wins
        "attr1": np.array([0.2, 0.5, 0.3], f32).reshape(3, 1, 1),  # 0.5 is not > 0.5: no attribute
        "attr2": np.array([0.3, 0.7], f32),
    })  # fmt: skip
    found = classifier.parse_softmax(layers, net(32, 32), 0.5, xp=np, stream=None)
    assert [(a.label, a.index, a.class_id) for a in found] == [("", 0, 1), ("", 2, 1)]
    np.testing.assert_allclose([a.confidence for a in found], [0.6, 0.7], rtol=1e-6)


def test_softmax_classifier_needs_a_positive_probability() -> None:
    layers = run({"attr": np.array([0.0, -0.5], f32)})
    assert classifier.parse_softmax(layers, net(32, 32), -1.0, xp=np, stream=None) == []


SEG_PROBS = np.array([  # [C=3, H=2, W=3]
    [[0.9, 0.6, 0.5], [0.1, 0.3, 0.55]],
    [[0.1, 0.7, 0.4], [0.2, 0.8, 0.2]],
    [[0.2, 0.1, 0.1], [0.8, 0.8, 0.3]],
], f32)  # fmt: skip
SEG_MAP = [[0, 1, -1], [2, 1, 0]]  # 0.5 is not > 0.5; a tie (0.8, 0.8) goes to the first class


@pytest.mark.parametrize(("order", "probs"), [(0, SEG_PROBS), (1, SEG_PROBS.transpose(1, 2, 0))])
def test_segmentation_argmax(order, probs) -> None:
    layers = run({"seg": np.ascontiguousarray(probs)})
    class_map, probabilities = segmentation.parse_argmax(layers, net(3, 2), 0.5, xp=np, stream=None, order=order)
    assert class_map.dtype == np.int32
    np.testing.assert_array_equal(class_map, SEG_MAP)
    assert probabilities is layers[0].data


# -- modern YOLO outputs ---------------------------------------------------------------------------

YOLO_ROWS = np.array([
    [10, 5, 30, 25, 0.9, 1],
    [-5, 40, 70, 60, 0.3, 0],  # score == threshold; x 0…64, y 40…48
    [0, 0, 10, 10, 0.49, 1],  # under class 1's 0.5
    [0, 0, 10, 10, 0.9, 2],  # class 2 >= num-detected-classes
    [20, 20, 20.5, 30, 0.9, 0],  # narrower than one pixel
    [63.5, 10, 80, 20, 0.9, 0],  # 63.5…64 after the clamp: narrower than one pixel
], f32)  # fmt: skip
YOLO_EXPECTED = [(1, 10, 5, 20, 20, 0.9), (0, 0, 40, 64, 8, 0.3)]


def test_deepstream_yolo_rows() -> None:
    found = yolo.parse_yolo(run({"output": YOLO_ROWS}), net(64, 48), params([0.3, 0.5]), xp=np, stream=None)
    check(found, YOLO_EXPECTED)


def test_end_to_end_single_output_rows() -> None:
    found = yolo.parse_end_to_end(run({"output": YOLO_ROWS}), net(64, 48), params([0.3, 0.5]), xp=np, stream=None)
    check(found, YOLO_EXPECTED)


E2E_BOXES = np.array([[10, 5, 30, 25], [-5, 40, 70, 60], [0, 0, 20, 20], [0, 0, 20, 20]], f32)
E2E_SCORES = np.array([0.9, 0.3, 0.9, 0.9], f32)


def test_end_to_end_named_outputs_stop_at_num_dets() -> None:
    layers = run({
        "num_dets": np.array([2], np.int32), "det_boxes": E2E_BOXES, "det_scores": E2E_SCORES,
        "det_classes": np.array([1, 0, 0, 0], np.int32),
    })  # fmt: skip
    found = yolo.parse_end_to_end(layers, net(64, 48), params([0.3, 0.5]), xp=np, stream=None)
    check(found, YOLO_EXPECTED)


def test_end_to_end_other_names_and_no_count() -> None:
    outputs = {"boxes": E2E_BOXES, "scores": E2E_SCORES, "labels": np.array([1, 0, 0, 0], np.int64)}
    counted = run({"num_detections": np.array([3], np.int64), **outputs})
    found = yolo.parse_end_to_end(counted, net(64, 48), params([0.3, 0.5]), xp=np, stream=None)
    check(found, [*YOLO_EXPECTED, (0, 0, 0, 20, 20, 0.9)])
    found = yolo.parse_end_to_end(run(outputs), net(64, 48), params([0.3, 0.5]), xp=np, stream=None)
    check(found, [*YOLO_EXPECTED, (0, 0, 0, 20, 20, 0.9), (0, 0, 0, 20, 20, 0.9)])


YOLOV5_ROWS = np.zeros((8, 7), f32)  # cx, cy, w, h, objectness, 2 class scores
YOLOV5_ROWS[:4] = [
    [32, 32, 20, 10, 0.9, 0.5, 0.8],  # 0.9 · 0.8
    [10, 10, 40, 40, 0.5, 0.9, 0.1],  # 0.45, x -10 → 0 … 30
    [50, 50, 10, 10, 0.9, 0.1, 0.5],  # 0.45 under class 1's 0.5
    [5, 5, 0.5, 4, 1.0, 1.0, 0.0],  # narrower than one pixel
]


@pytest.mark.parametrize("table", [YOLOV5_ROWS, YOLOV5_ROWS.T])
def test_yolov5_head(table) -> None:
    layers = run({"output0": np.ascontiguousarray(table)})
    found = yolo.parse_yolov5(layers, net(64, 64), params([0.3, 0.5]), xp=np, stream=None)
    check(found, [(1, 22, 27, 20, 10, 0.72), (0, 0, 0, 30, 30, 0.45)])


YOLOV8_HEAD = np.zeros((6, 8), f32)  # [4 + nc, N]
YOLOV8_HEAD[:, :3] = np.array([
    [32, 32, 20, 10, 0.2, 0.7],
    [60, 10, 20, 20, 0.4, 0.1],  # x 50…70 → 64, y 0…20
    [30, 30, 10, 10, 0.1, 0.45],  # under class 1's 0.5
], f32).T  # fmt: skip


@pytest.mark.parametrize("head", [YOLOV8_HEAD, YOLOV8_HEAD.T])
def test_yolov8_head(head) -> None:
    layers = run({"output0": np.ascontiguousarray(head)})
    found = yolo.parse_yolov8(layers, net(64, 64), params([0.3, 0.5]), xp=np, stream=None)
    check(found, [(1, 22, 27, 20, 10, 0.7), (0, 50, 0, 14, 20, 0.4)])


def test_yolox_grid_decode() -> None:
    rows = np.zeros((16 + 4 + 1, 6), f32)  # 32x32 input: grids 4x4, 2x2, 1x1
    rows[1 * 4 + 2] = [0.5, 0.25, math.log(2), 0.0, 0.8, 0.5]  # stride 8, cell x 2, y 1: centre (20, 10), 16x8
    rows[16 + 1 * 2 + 0] = [0, 0, 0, 0, 0.9, 0.9]  # stride 16, cell x 0, y 1: centre (0, 16), 16x16
    rows[20] = [0, 0, 0, 0, 0.5, 0.4]  # 0.2 under 0.25
    found = yolo.parse_yolox(run({"output": rows}), net(32, 32), params([0.25]), xp=np, stream=None)
    check(found, [(0, 12, 6, 16, 8, 0.4), (0, 0, 8, 8, 16, 0.81)])
    with pytest.raises(ValueError, match="20 rows, but a 32x32 input gives 21"):
        yolo.parse_yolox(run({"output": rows[:20]}), net(32, 32), params([0.25]))


def one_hot_bins(*sides: Sequence[int]) -> np.ndarray:
    """DFL logits ``[4·8]``: large equal logits on the given bins of each side (l, t, r, b)."""
    logits = np.zeros((4, 8), f32)
    for side, bins in enumerate(sides):
        logits[side, list(bins)] = 30.0
    return logits.reshape(-1)


def test_picodet_dfl_decode() -> None:
    # 64x48 input: strides 8, 16, 32, 64 → grids 6x8, 3x4, 2x2, 1x1
    sizes = {8: 48, 16: 12, 32: 4, 64: 1}
    scores = {s: np.zeros((n, 3), f32) for s, n in sizes.items()}
    boxes = {s: np.zeros((n, 32), f32) for s, n in sizes.items()}
    scores[8][2 * 8 + 3] = [0.1, 0.8, 0.3]  # cell x 3, y 2: centre (28, 20)
    boxes[8][2 * 8 + 3] = one_hot_bins([2], [1, 2], [1], [3])  # (2, 1.5, 1, 3) · 8
    scores[32][1 * 2 + 0] = [0.6, 0.0, 0.0]  # cell x 0, y 1: centre (16, 48)
    boxes[32][1 * 2 + 0] = one_hot_bins([1], [0, 1], [0], [0, 1])  # (1, 0.5, 0, 0.5) · 32
    outputs = {}
    for k, s in enumerate(sizes):
        outputs[f"transpose_{2 * k}.tmp_0"] = scores[s]
        outputs[f"transpose_{2 * k + 1}.tmp_0"] = boxes[s]
    expected = [(1, 12, 8, 24, 36, 0.8), (0, 0, 32, 16, 16, 0.6)]  # (-16, 32, 16, 64) clamped
    check(picodet.parse_picodet(run(outputs), net(64, 48), params([0.5] * 3), xp=np, stream=None), expected)
    shuffled = dict(reversed(outputs.items()))  # pairing does not depend on binding order
    check(picodet.parse_picodet(run(shuffled), net(64, 48), params([0.5] * 3), xp=np, stream=None), expected)


EMPTY_CASES = [
    (detectnet.parse_detectnet, {"cov": np.zeros((2, 3, 4), f32), "bbox": np.zeros((8, 3, 4), f32)}, (64, 48)),
    (ssd.parse_ssd, {"NMS": np.zeros((1, 3, 7), f32), "NMS_1": np.array([0], np.int32)}, (64, 48)),
    (tao.parse_ddetr_tao, {"pred_logits": np.zeros((3, 2), f32), "pred_boxes": np.zeros((3, 4), f32)}, (64, 48)),
    (yolo.parse_yolox, {"output": np.zeros((21, 6), f32)}, (32, 32)),
    (darknet.parse_yolo_v2, {"region": np.zeros((425, 2, 2), f32)}, (64, 64)),
    (picodet.parse_picodet, {"scores": np.zeros((1, 3), f32), "boxes": np.zeros((1, 32), f32)}, (8, 8)),
]


@pytest.mark.parametrize(("parse", "outputs", "size"), EMPTY_CASES)
def test_nothing_over_threshold_gives_empty_detections(parse, outputs, size) -> None:
    found = parse(run(outputs), net(*size), params([0.5, 0.5]), xp=np, stream=None)
    assert len(found) == 0
    assert found.class_id.dtype == np.int32
