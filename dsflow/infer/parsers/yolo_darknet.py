"""The objectDetector_Yolo sample's Darknet YOLO parsers (``NvDsInferParseCustomYoloV3`` and friends).

Each head is planar ``[B·(5+80), G_h, G_w]``: channel ``b·85 + k`` holds value ``k`` of box ``b``
(tx, ty, tw, th, objectness, 80 class scores) for every cell. The engine's plugins have already
activated them:

* V3 / V3-tiny (``YoloLayerV3``): sigmoid on tx, ty, objectness and class scores, ``exp`` on tw, th;
  ``bw = anchor_w · tw`` with anchors in input pixels.
* V2 / V2-tiny (``Region_TRT``): sigmoid on tx, ty, objectness, softmax on the class scores, but **not**
  ``exp`` on tw, th: the parser computes ``bw = anchor_w · stride · exp(tw)`` (anchors in grid units).

``stride = ceil(netW / G_w)``; ``centre = (cell + t) · stride``; conf = objectness × the highest class
score, class = its index (first of equals). Corners are clamped to ``[0, netW]`` / ``[0, netH]`` and
boxes under one pixel dropped; there is no threshold here, nvinfer's pre-cluster filter does that. A box
whose class scores are all 0 has no class (the C code emits class −1 as unsigned, which nvinfer's
filter drops), so it is dropped here. The class count is hard-coded to 80, as in the sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import ceil_div, corner_result, floats
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

YOLO_CLASSES = 80

V3_ANCHORS = ((10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198), (373, 326))
V3_MASKS = ((6, 7, 8), (3, 4, 5), (0, 1, 2))
"""Anchor indices per head, heads sorted by grid size ascending (coarsest first)."""
V3_TINY_ANCHORS = ((10, 14), (23, 27), (37, 58), (81, 82), (135, 169), (344, 319))
V3_TINY_MASKS = ((3, 4, 5), (1, 2, 3))
"""The sample uses {1, 2, 3} for the fine head, not {0, 1, 2}, on purpose ("as per output result")."""
V2_ANCHORS = ((0.57273, 0.677385), (1.87446, 2.06253), (3.33843, 5.47434), (7.88282, 3.52778), (9.77052, 9.16828))
"""Grid units (yolov2.cfg); the sample uses them for V2-tiny too, so dsflow does."""


def _decode_head(
    xp: Any, layer: Layer, anchors: Any, network: NetworkInfo, *, exp_wh: bool, parser: str
) -> tuple[Any, ...]:
    """One head's boxes in the sample's order (rows, columns, boxes) as corners, conf and class."""
    data = floats(xp, layer)
    boxes = len(anchors)
    if data.ndim != 3 or data.shape[0] != boxes * (5 + YOLO_CLASSES):
        msg = (
            f"parser {parser}: layer {layer.name!r} has dims {layer.dims}, "
            f"expected [{boxes * (5 + YOLO_CLASSES)}, H, W] ({boxes} boxes of 5 + {YOLO_CLASSES} values)"
        )
        raise ValueError(msg)
    _, grid_h, grid_w = data.shape
    stride = ceil_div(network.width, grid_w)
    t = data.reshape(boxes, 5 + YOLO_CLASSES, grid_h, grid_w).transpose(2, 3, 0, 1)  # (y, x, b, 85)
    probs = t[..., 5:]
    best = probs.max(axis=-1)
    has_class = best > 0  # the C loop starts from max 0 with index -1 and needs a strictly higher score
    y, x, b = xp.nonzero(has_class)
    t = t[y, x, b]
    if exp_wh:
        anchors = anchors * stride
        box_w, box_h = anchors[b, 0] * xp.exp(t[:, 2]), anchors[b, 1] * xp.exp(t[:, 3])
    else:
        box_w, box_h = anchors[b, 0] * t[:, 2], anchors[b, 1] * t[:, 3]
    centre_x = (x.astype(xp.float32) + t[:, 0]) * stride
    centre_y = (y.astype(xp.float32) + t[:, 1]) * stride
    x1, y1 = centre_x - box_w / 2, centre_y - box_h / 2
    confidence = t[:, 4] * best[y, x, b]
    class_id = probs[y, x, b].argmax(axis=-1)
    return x1, y1, x1 + box_w, y1 + box_h, confidence, class_id


def _parse_heads(
    xp: Any,
    heads: Sequence[Layer],
    anchor_sets: Sequence[Any],
    network: NetworkInfo,
    *,
    exp_wh: bool,
    parser: str,
) -> Detections:
    parts = [
        _decode_head(xp, layer, anchors, network, exp_wh=exp_wh, parser=parser)
        for layer, anchors in zip(heads, anchor_sets, strict=True)
    ]
    x1, y1, x2, y2, confidence, class_id = (xp.concatenate(column) for column in zip(*parts, strict=True))
    return corner_result(xp, x1, y1, x2, y2, confidence, class_id, network)


def _parse_v3(
    xp: Any,
    outputs: Sequence[Layer],
    network: NetworkInfo,
    anchors: Sequence[tuple[float, float]],
    masks: Sequence[tuple[int, ...]],
    parser: str,
) -> Detections:
    if len(outputs) != len(masks):
        names = ", ".join(layer.name for layer in outputs) or "none"
        msg = f"parser {parser}: expected {len(masks)} output layers (one per head), got {len(outputs)} ({names})"
        raise ValueError(msg)
    heads = sorted(outputs, key=lambda layer: layer.dims[1] if len(layer.dims) > 1 else 0)  # stable, as SortLayers
    table = xp.asarray(anchors, dtype=xp.float32)
    return _parse_heads(xp, heads, [table[list(mask)] for mask in masks], network, exp_wh=False, parser=parser)


def parse_yolo_v3(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomYoloV3``: three heads, masks {6,7,8}, {3,4,5}, {0,1,2} coarsest first."""
    return _parse_v3(xp, outputs, network, V3_ANCHORS, V3_MASKS, "NvDsInferParseCustomYoloV3")


def parse_yolo_v3_tiny(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomYoloV3Tiny``: two heads, masks {3,4,5}, {1,2,3} coarsest first."""
    return _parse_v3(xp, outputs, network, V3_TINY_ANCHORS, V3_TINY_MASKS, "NvDsInferParseCustomYoloV3Tiny")


def _parse_v2(xp: Any, outputs: Sequence[Layer], network: NetworkInfo, parser: str) -> Detections:
    if not outputs:
        msg = f"parser {parser}: no output layers"
        raise ValueError(msg)
    anchors = xp.asarray(V2_ANCHORS, dtype=xp.float32)
    return _parse_heads(xp, outputs[:1], [anchors], network, exp_wh=True, parser=parser)


def parse_yolo_v2(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomYoloV2``: output layer 0, five boxes per cell."""
    return _parse_v2(xp, outputs, network, "NvDsInferParseCustomYoloV2")


def parse_yolo_v2_tiny(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomYoloV2Tiny``: the sample runs the V2 parser, V2 anchors included."""
    return _parse_v2(xp, outputs, network, "NvDsInferParseCustomYoloV2Tiny")
