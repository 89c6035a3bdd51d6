"""The Caffe Faster R-CNN sample's ``NvDsInferParseCustomFasterRCNN``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import clip, find_layer, result, rows, thresholds
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

FRCNN_CLASSES = 21
"""Hard-coded in the sample (PASCAL VOC + background); the tensors' row strides use it."""


def parse_faster_rcnn(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """Refine each ``rois`` box with ``bbox_pred`` for every class whose ``cls_prob`` passes its threshold.

    ``w = x2 − x1 + 1``, ``cx = x1 + w/2``; ``pcx = dx·w + cx``, ``pw = exp(dw)·w``; corners ``pc ∓ pw/2``
    are min'd with ``W−1`` then clipped to ``[0, W−1]``; width = x2' − x1' + 1. Classes parsed:
    ``min(21, num-detected-classes)`` (class 0 is background; configs give it a threshold above 1).
    Objects come out roi by roi, class by class.
    """
    parser = "NvDsInferParseCustomFasterRCNN"
    rois = rows(xp, find_layer(outputs, "rois", parser), 4)
    scores = rows(xp, find_layer(outputs, "cls_prob", parser), FRCNN_CLASSES)
    deltas = rows(xp, find_layer(outputs, "bbox_pred", parser), 4 * FRCNN_CLASSES)
    count = min(len(rois), len(scores), len(deltas))
    num = min(FRCNN_CLASSES, params.num_classes, len(params.pre_cluster_threshold))
    scores = scores[:count, :num]
    i, j = xp.nonzero(scores >= thresholds(xp, params)[:num])
    roi = rois[i]
    delta = deltas.reshape(-1, FRCNN_CLASSES, 4)[i, j]  # (k, 4): dx, dy, dw, dh
    dx, dy, dw, dh = delta[:, 0], delta[:, 1], delta[:, 2], delta[:, 3]

    width = roi[:, 2] - roi[:, 0] + 1
    height = roi[:, 3] - roi[:, 1] + 1
    centre_x = roi[:, 0] + 0.5 * width
    centre_y = roi[:, 1] + 0.5 * height
    pred_x, pred_y = dx * width + centre_x, dy * height + centre_y
    pred_w, pred_h = xp.exp(dw) * width, xp.exp(dh) * height
    last_x, last_y = float(network.width - 1), float(network.height - 1)
    x1 = clip(xp, xp.minimum(pred_x - 0.5 * pred_w, last_x), 0.0, last_x)
    y1 = clip(xp, xp.minimum(pred_y - 0.5 * pred_h, last_y), 0.0, last_y)
    x2 = clip(xp, xp.minimum(pred_x + 0.5 * pred_w, last_x), 0.0, last_x)
    y2 = clip(xp, xp.minimum(pred_y + 0.5 * pred_h, last_y), 0.0, last_y)
    return result(j, x1, y1, x2 - x1 + 1, y2 - y1 + 1, scores[i, j])
