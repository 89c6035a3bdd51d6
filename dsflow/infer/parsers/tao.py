"""TAO detectors whose engines end in an NMS plugin, plus EfficientDet and Deformable-DETR.

These parsers threshold inside, as the SDK's do: the NMS-plugin heads compare every object with the
pre-cluster threshold of **class 0** (``perClassThreshold[0]``); DDETR uses each object's class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import (
    class_ok,
    clip,
    expect_outputs,
    find_layer,
    find_optional,
    first_int,
    floats,
    passes_pre_cluster,
    result,
    rows,
    truncate,
)
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

BATCHED_NMS_LIMIT = 200
"""The BatchedNMS parsers stop after this many objects. The SDK's loop test (``objectList.size() <= 200``)
actually lets a 201st through; dsflow caps at 200."""
DDETR_TOP_K = 200

EFFICIENTDET_NAMES = ("num_detections", "detection_boxes", "detection_scores", "detection_classes")
"""tao_apps' EfficientDet parser finds its layers by these names; the SDK's takes them in binding order."""


def _class0_threshold(xp: Any, params: DetectionParams) -> Any:
    return xp.float32(params.pre_cluster_threshold[0])


def parse_nms_tlt(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomNMSTLT``: [0] rows (image_id, label, conf, x1, y1, x2, y2 normalised), [1] keep count.

    ``left = clip(x1·W)``, ``width = clip((x2 − x1)·W)``, clips to ``[0, W−1]`` / ``[0, H−1]``. Labels
    outside the configured classes are dropped (the C code asserts on them).
    """
    parser = "NvDsInferParseCustomNMSTLT"
    expect_outputs(outputs, 2, parser)
    table = rows(xp, outputs[0], 7)[: max(first_int(outputs[1]), 0)]
    class_id, confidence = truncate(xp, table[:, 1]), table[:, 2]
    keep = (confidence >= _class0_threshold(xp, params)) & class_ok(xp, class_id, params)
    table, class_id, confidence = table[keep], class_id[keep], confidence[keep]
    width, height = float(network.width), float(network.height)
    last_x, last_y = width - 1, height - 1
    left = clip(xp, table[:, 3] * width, 0.0, last_x)
    top = clip(xp, table[:, 4] * height, 0.0, last_y)
    box_w = clip(xp, (table[:, 5] - table[:, 3]) * width, 0.0, last_x)
    box_h = clip(xp, (table[:, 6] - table[:, 4]) * height, 0.0, last_y)
    return result(class_id, left, top, box_w, box_h, confidence)


def _batched_nms(
    xp: Any, outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, normalised: bool, parser: str
) -> Detections:
    """BatchedNMS plugin outputs by binding order: keep count, boxes (x1, y1, x2, y2), scores, classes."""
    expect_outputs(outputs, 4, parser)
    count = max(first_int(outputs[0]), 0)
    boxes = rows(xp, outputs[1], 4)[:count]
    scores = floats(xp, outputs[2]).reshape(-1)[:count]
    class_id = truncate(xp, floats(xp, outputs[3]).reshape(-1)[:count])
    keep = (scores >= _class0_threshold(xp, params)) & class_ok(xp, class_id, params)
    keep &= (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])  # inverted boxes skipped
    if normalised:
        boxes = boxes * xp.asarray([network.width, network.height] * 2, dtype=xp.float32)
    last_x, last_y = float(network.width - 1), float(network.height - 1)
    left, top = clip(xp, boxes[:, 0], 0.0, last_x), clip(xp, boxes[:, 1], 0.0, last_y)
    width = clip(xp, boxes[:, 2], 0.0, last_x) - left
    height = clip(xp, boxes[:, 3], 0.0, last_y) - top
    keep &= (width >= 0) & (height >= 0)
    index = xp.nonzero(keep)[0][:BATCHED_NMS_LIMIT]
    return result(class_id[index], left[index], top[index], width[index], height[index], scores[index])


def parse_batched_nms_tlt(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomBatchedNMSTLT`` (TAO YOLOv3/v4, RetinaNet, SSD, DSSD): boxes normalised.

    Skipped: score < class-0 threshold, unknown class, x2 < x1 or y2 < y1. Corners × W/H are clipped
    to ``[0, W−1]`` / ``[0, H−1]``; width = clip(x2) − left. At most 200 objects, first ones first.
    """
    return _batched_nms(xp, outputs, network, params, normalised=True, parser="NvDsInferParseCustomBatchedNMSTLT")


def parse_yolov5_batched_nms_tlt(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseYoloV5CustomBatchedNMSTLT``: as the BatchedNMS parser with boxes already in pixels."""
    parser = "NvDsInferParseYoloV5CustomBatchedNMSTLT"
    return _batched_nms(xp, outputs, network, params, normalised=False, parser=parser)


def parse_efficientdet_tao(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomEfficientDetTAO``: count, boxes (y1, x1, y2, x2 pixels), scores, classes.

    Layers by name when all four of ``num_detections``, ``detection_boxes``, ``detection_scores``,
    ``detection_classes`` exist (tao_apps), else by binding order in that sequence (SDK). Skipped:
    score < class-0 threshold, unknown class, y2 < y1 or x2 < x1. ``left = clip(x1)`` but
    ``width = clip(x2 − x1)`` from the unclipped x1 (same for y), clips to ``[0, W−1]`` / ``[0, H−1]``.
    """
    parser = "NvDsInferParseCustomEfficientDetTAO"
    expect_outputs(outputs, 4, parser)
    named = [find_optional(outputs, name) for name in EFFICIENTDET_NAMES]
    count_layer, box_layer, score_layer, class_layer = named if all(named) else outputs
    count = max(first_int(count_layer), 0)
    boxes = rows(xp, box_layer, 4)[:count]
    scores = floats(xp, score_layer).reshape(-1)[:count]
    class_id = truncate(xp, xp.asarray(class_layer.data).reshape(-1)[:count])
    keep = (scores >= _class0_threshold(xp, params)) & class_ok(xp, class_id, params)
    keep &= (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])
    boxes, scores, class_id = boxes[keep], scores[keep], class_id[keep]
    last_x, last_y = float(network.width - 1), float(network.height - 1)
    left, top = clip(xp, boxes[:, 1], 0.0, last_x), clip(xp, boxes[:, 0], 0.0, last_y)
    width = clip(xp, boxes[:, 3] - boxes[:, 1], 0.0, last_x)
    height = clip(xp, boxes[:, 2] - boxes[:, 0], 0.0, last_y)
    return result(class_id, left, top, width, height, scores)


def parse_ddetr_tao(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomDDETRTAO``: ``pred_logits`` ``[Q, C]``, ``pred_boxes`` ``[Q, 4]`` (cx, cy, w, h; 0…1).

    class = argmax of the logits (first of equals), conf = sigmoid(max logit). Class 0 (background),
    unknown classes and ``conf < threshold[class]`` are skipped; ``x1 = (cx − w/2)·W``,
    ``x2 = x1 + w·W``, both clipped to ``[0, W−1]``. The C code collects objects in a ``std::map`` keyed
    by confidence, so of equal confidences only the last query survives; then the 200 most confident
    are kept, most confident first. (This follows tao_apps' row indexing; the SDK 6.3 copy steps through
    the logits with the box stride, a bug not reproduced.)
    """
    parser = "NvDsInferParseCustomDDETRTAO"
    logits = floats(xp, find_layer(outputs, "pred_logits", parser))
    logits = logits.reshape(-1, logits.shape[-1])
    boxes = rows(xp, find_layer(outputs, "pred_boxes", parser), 4)[: len(logits)]
    class_id = logits.argmax(axis=1)
    best = logits.max(axis=1).astype(xp.float64)
    confidence = (1.0 / (1.0 + xp.exp(-best))).astype(xp.float32)
    keep = (class_id != 0) & passes_pre_cluster(xp, class_id, confidence, params)
    index = xp.nonzero(keep)[0]
    # std::map<float, ...>: a later equal key replaces the earlier one; iterate from the largest key.
    _, last = xp.unique(confidence[index][::-1], return_index=True)
    index = index[::-1][last][::-1][:DDETR_TOP_K]

    width, height = float(network.width), float(network.height)
    box = boxes[index]
    x1 = (box[:, 0] - box[:, 2] / 2) * width
    y1 = (box[:, 1] - box[:, 3] / 2) * height
    x2 = x1 + box[:, 2] * width
    y2 = y1 + box[:, 3] * height
    x1, x2 = clip(xp, x1, 0.0, width - 1), clip(xp, x2, 0.0, width - 1)
    y1, y2 = clip(xp, y1, 0.0, height - 1), clip(xp, y2, 0.0, height - 1)
    return result(class_id[index], x1, y1, x2 - x1, y2 - y1, confidence[index])
