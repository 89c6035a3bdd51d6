"""DetectNet_v2 grids: nvinfer's built-in default parser and the SDK's ``NvDsInferParseCustomResnet``.

Coverage ``[C, Gh, Gw]`` holds per-class sigmoid scores. Bbox ``[4C, Gh, Gw]`` holds four planes per
class, (x1, y1, x2, y2) offsets from each cell's centre divided by the box norm 35:
``x1 = (cx - o_x1)·35``, ``x2 = (o_x2 + cx)·35`` with ``cx = (i·stride_x + 0.5) / 35`` and
``stride_x = ceil(netW / Gw)``. Only the first ``min(C, num-detected-classes)`` classes are read, and a
cell counts when its coverage is ``>=`` the class's pre-cluster threshold. Objects come out class by
class, rows then columns, as nvinfer's loops emit them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import ceil_div, clip, find_containing, find_layer, floats, result, thresholds
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

BOX_NORM = np.float32(35.0)

RESNET_COVERAGE = ("conv2d_cov/Sigmoid", "output_cov/Sigmoid:0")
"""Exact names the custom variant accepts: the resnet10 sample's, then the one newer SDKs look for."""
RESNET_BBOX = ("conv2d_bbox", "output_bbox/BiasAdd:0")


def _decode(
    xp: Any, coverage: Layer, bbox: Layer, network: NetworkInfo, params: DetectionParams, parser: str
) -> tuple[Any, ...]:
    """Cells over their class threshold as ``(class_id, confidence, x1, y1, x2, y2)`` before any clipping."""
    cov, box = floats(xp, coverage), floats(xp, bbox)
    if cov.ndim != 3 or box.ndim != 3 or cov.shape[1:] != box.shape[1:]:
        msg = f"parser {parser}: coverage {coverage.dims} and bbox {bbox.dims} must be [C,H,W] and [4C,H,W]"
        raise ValueError(msg)
    _, grid_h, grid_w = cov.shape
    num = min(cov.shape[0], params.num_classes, len(params.pre_cluster_threshold))
    if box.shape[0] < 4 * num:
        msg = f"parser {parser}: bbox layer {bbox.name!r} has {box.shape[0]} planes, {4 * num} needed"
        raise ValueError(msg)
    stride_x, stride_y = ceil_div(network.width, grid_w), ceil_div(network.height, grid_h)
    centre_x = (xp.arange(grid_w) * stride_x + 0.5).astype(xp.float32) / BOX_NORM
    centre_y = (xp.arange(grid_h) * stride_y + 0.5).astype(xp.float32) / BOX_NORM

    hot = cov[:num] >= thresholds(xp, params)[:num, None, None]
    c, j, i = xp.nonzero(hot)
    offsets = box[: 4 * num].reshape(num, 4, grid_h, grid_w)[c, :, j, i]  # (k, 4)
    x1 = (offsets[:, 0] - centre_x[i]) * -BOX_NORM
    y1 = (offsets[:, 1] - centre_y[j]) * -BOX_NORM
    x2 = (offsets[:, 2] + centre_x[i]) * BOX_NORM
    y2 = (offsets[:, 3] + centre_y[j]) * BOX_NORM
    return c, cov[c, j, i], x1, y1, x2, y2


def _limit(xp: Any, values: Any, size: int) -> Any:
    """The built-in parser's clamp: ``v >= size`` becomes ``size - 1``, then ``v < 0`` becomes 0.

    Unlike a clip to ``[0, size - 1]`` this leaves values in ``(size - 1, size)`` as they are.
    """
    values = xp.where(values >= size, xp.float32(size - 1), values)
    return xp.where(values < 0, xp.float32(0), values)


def parse_detectnet(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """nvinfer's built-in ``parseBoundingBox``: layers found by ``cov`` / ``bbox`` in their names.

    Corners are clamped, boxes with ``x2 < x1`` or ``y2 < y1`` dropped, and width = x2 − x1.
    """
    parser = "detectnet"
    coverage = find_containing(outputs, "cov", parser)
    bbox = find_containing(outputs, "bbox", parser)
    c, conf, x1, y1, x2, y2 = _decode(xp, coverage, bbox, network, params, parser)
    x1, x2 = _limit(xp, x1, network.width), _limit(xp, x2, network.width)
    y1, y2 = _limit(xp, y1, network.height), _limit(xp, y2, network.height)
    keep = ((x2 - x1) >= 0) & ((y2 - y1) >= 0)
    return result(c[keep], x1[keep], y1[keep], (x2 - x1)[keep], (y2 - y1)[keep], conf[keep])


def parse_resnet(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomResnet``: exact layer names, ``[0, W-1]`` clips, and inclusive (+1) sizes.

    Nothing is dropped: an inverted box keeps its (zero or negative) size.
    """
    parser = "NvDsInferParseCustomResnet"
    coverage = find_layer(outputs, RESNET_COVERAGE, parser)
    bbox = find_layer(outputs, RESNET_BBOX, parser)
    c, conf, x1, y1, x2, y2 = _decode(xp, coverage, bbox, network, params, parser)
    last_x, last_y = float(network.width - 1), float(network.height - 1)
    left, top = clip(xp, x1, 0.0, last_x), clip(xp, y1, 0.0, last_y)
    width = clip(xp, x2, 0.0, last_x) - left + 1
    height = clip(xp, y2, 0.0, last_y) - top + 1
    return result(c, left, top, width, height, conf)
