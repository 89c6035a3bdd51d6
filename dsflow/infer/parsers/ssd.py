"""SSD heads: the UFF sample's ``NvDsInferParseCustomSSD`` and the SDK's ``NvDsInferParseCustomTfSSD``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import (
    clip,
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

SSD_CLASSES = 91
"""The UFF sample's hard-coded class count (COCO with background)."""


def parse_ssd(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomSSD``: ``NMS`` rows (image_id, label, conf, x1, y1, x2, y2 normalised) and ``NMS_1``.

    The first ``NMS_1[0]`` rows are read; class ``>= min(91, num-detected-classes)`` and ``conf < threshold``
    are skipped. Corners times W/H are truncated to unsigned int (negative ones taken as 0: the C
    conversion is undefined there), clipped to ``W-1``/``H-1``, and width = x2 − x1 + 1.
    """
    parser = "NvDsInferParseCustomSSD"
    table = rows(xp, find_layer(outputs, "NMS", parser), 7)
    keep_count = first_int(find_layer(outputs, "NMS_1", parser))
    table = table[: max(keep_count, 0)]
    class_id = truncate(xp, table[:, 1])
    confidence = table[:, 2]
    limit = min(SSD_CLASSES, params.num_classes)
    keep = (class_id < limit) & passes_pre_cluster(xp, class_id, confidence, params)
    table, class_id, confidence = table[keep], class_id[keep], confidence[keep]

    scale = xp.asarray([network.width, network.height, network.width, network.height], dtype=xp.float32)
    corners = xp.maximum(xp.trunc(table[:, 3:7] * scale), 0)  # (unsigned int) of the scaled float
    last_x, last_y = float(network.width - 1), float(network.height - 1)
    left, top = xp.minimum(corners[:, 0], last_x), xp.minimum(corners[:, 1], last_y)
    width = xp.minimum(corners[:, 2], last_x) - left + 1
    height = xp.minimum(corners[:, 3], last_y) - top + 1
    return result(class_id, left, top, width, height, confidence)


def parse_tf_ssd(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomTfSSD``: TF Object Detection API outputs, boxes (y1, x1, y2, x2) normalised.

    ``N = min(num_detections, rows)`` (all rows without ``num_detections``); float class ids are
    truncated; unknown classes and ``conf < threshold`` skipped; corners × W/H clipped to ``W-1``/``H-1``;
    boxes with ``x2 <= x1`` or ``y2 <= y1`` dropped; width = x2 − x1.
    """
    parser = "NvDsInferParseCustomTfSSD"
    scores = floats(xp, find_layer(outputs, "detection_scores", parser)).reshape(-1)
    classes = floats(xp, find_layer(outputs, "detection_classes", parser)).reshape(-1)
    boxes = rows(xp, find_layer(outputs, "detection_boxes", parser), 4)
    count = len(classes)
    num_layer = find_optional(outputs, "num_detections")
    if num_layer is not None:
        wanted = first_int(num_layer)
        # C: the int goes into an unsigned counter, so a negative count reads every row.
        count = count if wanted < 0 else min(wanted, count)
    scores, classes, boxes = scores[:count], classes[:count], boxes[:count]

    class_id = truncate(xp, classes)
    keep = passes_pre_cluster(xp, class_id, scores, params)
    scale = xp.asarray([network.height, network.width, network.height, network.width], dtype=xp.float32)
    pixels = boxes * scale
    x1 = clip(xp, pixels[:, 1], 0.0, float(network.width - 1))
    y1 = clip(xp, pixels[:, 0], 0.0, float(network.height - 1))
    x2 = clip(xp, pixels[:, 3], 0.0, float(network.width - 1))
    y2 = clip(xp, pixels[:, 2], 0.0, float(network.height - 1))
    keep &= (x2 > x1) & (y2 > y1)
    return result(class_id[keep], x1[keep], y1[keep], (x2 - x1)[keep], (y2 - y1)[keep], scores[keep])
