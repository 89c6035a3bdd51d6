"""TAO Mask R-CNN instance segmentation: ``NvDsInferParseCustomMrcnnTLT`` and ``…TLTV2``.

``generate_detections`` holds rows (y1, x1, y2, x2, class_id, score) in network pixels; the mask layer
``[max_instances, classes, mh, mw]`` holds raw mask logits. Instance ``i`` takes mask plane
``i · num-detected-classes + class_id`` of the flattened planes: the configured count, not the
tensor's, exactly as the SDK indexes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import clip, find_layer, floats, result, rows, truncate
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo


def _parse(
    xp: Any, outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, mask_name: str, parser: str
) -> Detections:
    """Keep ``score >= pre-cluster threshold of class 0``; ``left = clip(x1)``, ``width = clip(x2) − x1``.

    Clips are to ``[0, W−1]`` / ``[0, H−1]``; x1 and y1 in the width and height are the unclipped
    ones; objects with width or height ``<= 0`` are dropped. Masks are float32 copies ``(N, mh, mw)``.
    """
    detections = rows(xp, find_layer(outputs, "generate_detections", parser), 6)
    mask_layer = find_layer(outputs, mask_name, parser)
    if len(mask_layer.dims) != 4:
        msg = f"parser {parser}: mask layer {mask_name!r} has dims {mask_layer.dims}, expected 4"
        raise ValueError(msg)
    instances, _, mask_h, mask_w = mask_layer.dims
    planes = floats(xp, mask_layer).reshape(-1, mask_h, mask_w)
    detections = detections[:instances]
    y1, x1, y2, x2, score = (detections[:, k] for k in (0, 1, 2, 3, 5))
    class_id = truncate(xp, detections[:, 4])
    last_x, last_y = float(network.width - 1), float(network.height - 1)
    left, top = clip(xp, x1, 0.0, last_x), clip(xp, y1, 0.0, last_y)
    width, height = clip(xp, x2, 0.0, last_x) - x1, clip(xp, y2, 0.0, last_y) - y1
    plane = xp.arange(len(detections)) * params.num_classes + class_id
    keep = (score >= xp.float32(params.pre_cluster_threshold[0])) & (width > 0) & (height > 0)
    keep &= (class_id >= 0) & (plane < len(planes))  # the C code would read outside the mask buffer
    masks = planes[plane[keep]]  # fancy indexing copies, as the C code's memcpy
    return result(class_id[keep], left[keep], top[keep], width[keep], height[keep], score[keep], masks)


def parse_mrcnn_tlt(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomMrcnnTLT``: mask layer ``mask_head/mask_fcn_logits/BiasAdd``."""
    parser = "NvDsInferParseCustomMrcnnTLT"
    return _parse(xp, outputs, network, params, "mask_head/mask_fcn_logits/BiasAdd", parser)


def parse_mrcnn_tlt_v2(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``NvDsInferParseCustomMrcnnTLTV2``: mask layer ``mask_fcn_logits/BiasAdd``."""
    return _parse(xp, outputs, network, params, "mask_fcn_logits/BiasAdd", "NvDsInferParseCustomMrcnnTLTV2")
