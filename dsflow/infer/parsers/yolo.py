"""Modern YOLO-family outputs: DeepStream-Yolo's ``[N, 6]`` contract and raw YOLOv5/v8/YOLOX heads.

DeepStream-Yolo exports every model with a wrapper that turns the head into rows
(x1, y1, x2, y2, score, class) and parses them with ``NvDsInferParseYolo``. The raw-head parsers here
decode the head the same way the wrappers do and then finish like ``NvDsInferParseYolo``: rows with an
unknown class or ``score < pre-cluster threshold`` are skipped, corners clamped to ``[0, netW]`` /
``[0, netH]``, and boxes under one pixel dropped. Boxes are in network-input pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import (
    ceil_div,
    corner_result,
    find_optional,
    first_int,
    floats,
    passes_pre_cluster,
    rows,
    truncate,
)
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

YOLOX_STRIDES = (8, 16, 32)

E2E_COUNT = ("num_dets", "num_detections")
E2E_BOXES = ("boxes", "det_boxes", "detection_boxes")
E2E_SCORES = ("scores", "det_scores", "detection_scores")
E2E_CLASSES = ("classes", "labels", "det_classes", "detection_classes")


def _first_layer(outputs: Sequence[Layer], parser: str) -> Layer:
    if not outputs:
        msg = f"parser {parser}: no output layers"
        raise ValueError(msg)
    return outputs[0]


def _table(xp: Any, layer: Layer, parser: str) -> Any:
    """A head as ``[N, C]`` rows; a ``[C, N]`` head (first dim smaller) is transposed."""
    data = floats(xp, layer)
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim != 2:
        msg = f"parser {parser}: layer {layer.name!r} has dims {layer.dims}, expected [N, C] or [C, N]"
        raise ValueError(msg)
    return data.T if data.shape[0] < data.shape[1] else data


def _finish_rows(
    xp: Any, corners: Any, score: Any, class_id: Any, network: NetworkInfo, params: DetectionParams
) -> Detections:
    """``NvDsInferParseYolo`` on corner rows (x1, y1, x2, y2)."""
    keep = passes_pre_cluster(xp, class_id, score, params)
    x1, y1, x2, y2 = corners[keep].T
    return corner_result(xp, x1, y1, x2, y2, score[keep], class_id[keep], network)


def _parse_corner_rows(xp: Any, table: Any, network: NetworkInfo, params: DetectionParams) -> Detections:
    class_id = truncate(xp, table[:, 5])
    return _finish_rows(xp, table[:, :4], table[:, 4], class_id, network, params)


def _parse_centre_rows(
    xp: Any, boxes: Any, scores: Any, class_id: Any, network: NetworkInfo, params: DetectionParams
) -> Detections:
    """Rows of (cx, cy, w, h), as the export wrappers convert them: ``x1 = cx − w/2``, ``x2 = x1 + w``."""
    keep = passes_pre_cluster(xp, class_id, scores, params)
    boxes, scores, class_id = boxes[keep], scores[keep], class_id[keep]
    x1, y1 = boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2
    return corner_result(xp, x1, y1, x1 + boxes[:, 2], y1 + boxes[:, 3], scores, class_id, network)


def parse_yolo(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """DeepStream-Yolo's ``NvDsInferParseYolo``: output layer 0, rows (x1, y1, x2, y2, score, class)."""
    parser = "NvDsInferParseYolo"
    return _parse_corner_rows(xp, rows(xp, _first_layer(outputs, parser), 6), network, params)


def parse_yolov5(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """YOLOv5/v7 head ``[N, 5+nc]``: (cx, cy, w, h, objectness, class scores), all already activated.

    score = objectness × the highest class score, class = its index.
    """
    table = _table(xp, _first_layer(outputs, "yolov5"), "yolov5")
    scores = table[:, 5:]
    class_id = scores.argmax(axis=1)
    return _parse_centre_rows(xp, table[:, :4], table[:, 4] * scores.max(axis=1), class_id, network, params)


def parse_yolov8(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """YOLOv8 / YOLO11 head ``[4+nc, N]`` (or ``[N, 4+nc]``): (cx, cy, w, h, class scores), no objectness."""
    table = _table(xp, _first_layer(outputs, "yolov8"), "yolov8")
    scores = table[:, 4:]
    return _parse_centre_rows(xp, table[:, :4], scores.max(axis=1), scores.argmax(axis=1), network, params)


def _yolox_grid(xp: Any, network: NetworkInfo) -> tuple[Any, Any]:
    """Cell (x, y) and stride of every YOLOX row: strides 8, 16, 32, each row-major (y, then x)."""
    cells, strides = [], []
    for stride in YOLOX_STRIDES:
        grid_h, grid_w = ceil_div(network.height, stride), ceil_div(network.width, stride)
        y, x = xp.meshgrid(xp.arange(grid_h), xp.arange(grid_w), indexing="ij")
        cells.append(xp.stack([x.reshape(-1), y.reshape(-1)], axis=1))
        strides.append(xp.full(grid_h * grid_w, stride))
    return xp.concatenate(cells).astype(xp.float32), xp.concatenate(strides).astype(xp.float32)


def parse_yolox(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """Raw YOLOX grid output ``[N, 5+nc]``: ``xy = (xy + cell)·stride``, ``wh = exp(wh)·stride``.

    Objectness and class scores are already sigmoided; score = objectness × the highest class score.
    Rows follow YOLOX's ``demo_postprocess``: strides 8, 16, 32, each over a ``ceil(H/s) × ceil(W/s)``
    grid (what the network's stride-2 convolutions produce), rows then columns.
    """
    table = _table(xp, _first_layer(outputs, "yolox"), "yolox")
    cells, strides = _yolox_grid(xp, network)
    if len(table) != len(cells):
        msg = f"parser yolox: {len(table)} rows, but a {network.width}x{network.height} input gives {len(cells)}"
        raise ValueError(msg)
    scores = table[:, 5:]
    score = table[:, 4] * scores.max(axis=1)
    class_id = scores.argmax(axis=1)
    keep = passes_pre_cluster(xp, class_id, score, params)
    table, cells, strides = table[keep], cells[keep], strides[keep, None]
    boxes = xp.concatenate([(table[:, :2] + cells) * strides, xp.exp(table[:, 2:4]) * strides], axis=1)
    return _parse_centre_rows(xp, boxes, score[keep], class_id[keep], network, params)


def parse_end_to_end(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """Models with NMS inside (YOLOv10, RT-DETR, EfficientNMS/NMS exports), boxes (x1, y1, x2, y2) pixels.

    Either one output of rows (x1, y1, x2, y2, score, class), or outputs found by name: a count
    (``num_dets`` / ``num_detections``, optional), boxes (``boxes`` / ``det_boxes`` / ``detection_boxes``),
    scores (``scores`` / ``det_scores`` / ``detection_scores``) and classes (``classes`` / ``labels`` /
    ``det_classes`` / ``detection_classes``). Only the first count rows are valid.
    """
    parser = "end-to-end"
    box_layer = find_optional(outputs, E2E_BOXES)
    if box_layer is None:
        return _parse_corner_rows(xp, rows(xp, _first_layer(outputs, parser), 6), network, params)
    score_layer, class_layer = find_optional(outputs, E2E_SCORES), find_optional(outputs, E2E_CLASSES)
    if score_layer is None or class_layer is None:
        names = ", ".join(layer.name for layer in outputs)
        msg = f"parser {parser}: boxes {box_layer.name!r} found, but no scores or classes layer (outputs: {names})"
        raise ValueError(msg)
    boxes = rows(xp, box_layer, 4)
    scores = floats(xp, score_layer).reshape(-1)
    class_id = truncate(xp, xp.asarray(class_layer.data).reshape(-1))
    count = min(len(boxes), len(scores), len(class_id))
    count_layer = find_optional(outputs, E2E_COUNT)
    if count_layer is not None:
        count = min(max(first_int(count_layer), 0), count)
    boxes, scores, class_id = boxes[:count], scores[:count], class_id[:count]
    return _finish_rows(xp, boxes, scores, class_id, network, params)
