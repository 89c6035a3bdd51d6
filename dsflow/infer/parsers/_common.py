"""What the built-in parsers share: finding layers, C-style clipping and truncation, building results.

Arithmetic that decides a comparison or a pixel value is done in float32, as the C parsers do it in
``float``, so results at exact thresholds and clip edges agree with DeepStream.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo


def _listing(outputs: Sequence[Layer]) -> str:
    return ", ".join(layer.name for layer in outputs) or "none"


def find_layer(outputs: Sequence[Layer], names: str | Iterable[str], parser: str) -> Layer:
    """The first output named exactly one of ``names`` (tried in order); a clear error if none is."""
    layer = find_optional(outputs, names)
    if layer is None:
        names = (names,) if isinstance(names, str) else tuple(names)
        wanted = " or ".join(repr(name) for name in names)
        msg = f"parser {parser}: no output layer named {wanted} (outputs: {_listing(outputs)})"
        raise ValueError(msg)
    return layer


def find_optional(outputs: Sequence[Layer], names: str | Iterable[str]) -> Layer | None:
    """Like :func:`find_layer`, but ``None`` when no output has one of the names."""
    by_name = {layer.name: layer for layer in reversed(outputs)}  # first of equal names wins
    for name in (names,) if isinstance(names, str) else names:
        if name in by_name:
            return by_name[name]
    return None


def find_containing(outputs: Sequence[Layer], part: str, parser: str) -> Layer:
    """The last output whose name contains ``part`` (nvinfer's built-in scan keeps the last match)."""
    matches = [layer for layer in outputs if part in layer.name]
    if not matches:
        msg = f"parser {parser}: no output layer named like '*{part}*' (outputs: {_listing(outputs)})"
        raise ValueError(msg)
    return matches[-1]


def expect_outputs(outputs: Sequence[Layer], count: int, parser: str) -> None:
    """Parsers that take their layers by binding order need exactly ``count`` of them."""
    if len(outputs) != count:
        msg = f"parser {parser}: expected {count} output layers, got {len(outputs)} (outputs: {_listing(outputs)})"
        raise ValueError(msg)


def floats(xp: Any, layer: Layer) -> Any:
    """The layer's data as float32 (no copy when it already is)."""
    return xp.asarray(layer.data, dtype=xp.float32)


def rows(xp: Any, layer: Layer, width: int) -> Any:
    """The layer's data as float32 rows of ``width`` values, whatever its declared shape."""
    return floats(xp, layer).reshape(-1, width)


def first_int(layer: Layer) -> int:
    """Element 0 as C's ``(int)`` sees it (floats truncate toward zero): keep counts, num_detections."""
    return int(host(layer.data).reshape(-1)[0])


def truncate(xp: Any, values: Any) -> Any:
    """C's float-to-int conversion: truncation toward zero."""
    return xp.trunc(xp.asarray(values, dtype=xp.float64)).astype(xp.int64)


def clip(xp: Any, values: Any, low: float, high: float) -> Any:
    """The SDK's ``CLIP(a, min, max)`` = ``MAX(MIN(a, max), min)``."""
    return xp.maximum(xp.minimum(values, high), low)


def thresholds(xp: Any, params: DetectionParams) -> Any:
    return xp.asarray(params.pre_cluster_threshold, dtype=xp.float32)


def class_ok(xp: Any, class_id: Any, params: DetectionParams) -> Any:
    """Class ids a threshold can be looked up for: ``0 <= id < num-detected-classes``."""
    limit = min(params.num_classes, len(params.pre_cluster_threshold))
    return (class_id >= 0) & (class_id < limit)


def passes_pre_cluster(xp: Any, class_id: Any, confidence: Any, params: DetectionParams) -> Any:
    """Mask of objects nvinfer's pre-cluster filter keeps: a known class and ``confidence >= threshold``."""
    known = class_ok(xp, class_id, params)
    limits = thresholds(xp, params)
    if len(limits) == 0:
        return known
    return known & (confidence >= limits[xp.where(known, class_id, 0)])


def host(array: Any) -> np.ndarray:
    """A NumPy view or copy of a NumPy or CuPy array."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    return get() if callable(get) else np.asarray(array)


def result(
    class_id: Any, left: Any, top: Any, width: Any, height: Any, confidence: Any, masks: Any = None
) -> Detections:
    """:class:`Detections` from device or host columns."""
    return Detections(
        host(class_id), host(left), host(top), host(width), host(height), host(confidence),
        masks=None if masks is None else host(masks),
    )  # fmt: skip


def corner_result(
    xp: Any, x1: Any, y1: Any, x2: Any, y2: Any, confidence: Any, class_id: Any, network: NetworkInfo
) -> Detections:
    """DeepStream-Yolo's ``convertBBox`` + ``addBBoxProposal`` (also the objectDetector_Yolo sample's).

    Corners are clamped to ``[0, netW]`` / ``[0, netH]`` (note: not ``netW - 1``), width and height clamped
    likewise, and boxes narrower or lower than one pixel dropped.
    """
    net_w, net_h = float(network.width), float(network.height)
    x1, x2 = clip(xp, x1, 0.0, net_w), clip(xp, x2, 0.0, net_w)
    y1, y2 = clip(xp, y1, 0.0, net_h), clip(xp, y2, 0.0, net_h)
    width, height = clip(xp, x2 - x1, 0.0, net_w), clip(xp, y2 - y1, 0.0, net_h)
    keep = (width >= 1) & (height >= 1)
    return result(class_id[keep], x1[keep], y1[keep], width[keep], height[keep], confidence[keep])


def ceil_div(a: int, b: int) -> int:
    """The SDK's ``DIVIDE_AND_ROUND_UP`` / ``DIVUP`` on positive ints."""
    return -(-a // b)
