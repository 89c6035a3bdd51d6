"""``example-centernet``: boxes from a CenterNet head (heatmap, size, offset).

A CenterNet model predicts, on a grid of cells ``stride`` pixels wide, one heatmap per class
whose local maxima are object centres, plus per cell the object's size and the position of
its centre within the cell. Decoding is three array operations over the whole grid: a 3×3
max-pool to find the peaks, a threshold, and a gather at the peaks. No Python loop runs per
cell or per box.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce
from typing import Any

import numpy as np

from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

NAME = "example-centernet"
HEATMAP = ("heatmap", "hm")
SIZE = ("size", "wh")
OFFSET = ("offset", "reg")
"""Accepted output names: this example's, then those of the original CenterNet export."""


def parse_centernet(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """Decode one sample's ``heatmap`` ``(C, H, W)``, ``size`` and ``offset`` ``(2, H, W)`` outputs.

    A cell is an object of class ``c`` when its heatmap value is the largest of its 3×3
    neighbourhood and at least ``params.pre_cluster_threshold[c]``; classes from
    ``params.num_classes`` on are ignored. The box centre is ``(cell + offset) · stride``, its
    size ``size · stride`` (sizes are in cells), with ``stride = network size / grid size``; the
    confidence is the heatmap value. Boxes are in network-input pixels, clipped to the input.
    """
    heat = _floats(xp, _find(outputs, HEATMAP))
    if heat.ndim != 3:
        msg = f"parser {NAME}: output {HEATMAP[0]!r} must be (classes, height, width), got shape {heat.shape}"
        raise ValueError(msg)
    classes, rows, cols = heat.shape
    size = _floats(xp, _find(outputs, SIZE))
    offset = _floats(xp, _find(outputs, OFFSET))
    for names, layer in ((SIZE, size), (OFFSET, offset)):
        if layer.shape != (2, rows, cols):
            msg = f"parser {NAME}: output {names[0]!r} must have shape {(2, rows, cols)}, got {layer.shape}"
            raise ValueError(msg)

    # peaks: equal to the maximum of their 3×3 neighbourhood (cells outside the grid count as -inf)
    padded = xp.pad(heat, ((0, 0), (1, 1), (1, 1)), constant_values=-xp.inf)
    shifted = (padded[:, dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3))
    pooled = reduce(xp.maximum, shifted)
    limits = xp.full(classes, xp.inf, dtype=xp.float32)  # classes without a threshold never pass
    known = min(classes, params.num_classes, len(params.pre_cluster_threshold))
    limits[:known] = xp.asarray(params.pre_cluster_threshold[:known], dtype=xp.float32)
    peaks = (heat == pooled) & (heat >= limits[:, None, None])
    class_id, row, col = xp.nonzero(peaks)

    stride_x = xp.float32(network.width / cols)
    stride_y = xp.float32(network.height / rows)
    centre_x = (col.astype(xp.float32) + offset[0, row, col]) * stride_x
    centre_y = (row.astype(xp.float32) + offset[1, row, col]) * stride_y
    half_w = size[0, row, col] * stride_x / 2
    half_h = size[1, row, col] * stride_y / 2
    x1 = xp.clip(centre_x - half_w, 0, network.width)
    y1 = xp.clip(centre_y - half_h, 0, network.height)
    x2 = xp.clip(centre_x + half_w, 0, network.width)
    y2 = xp.clip(centre_y + half_h, 0, network.height)
    confidence = heat[class_id, row, col]
    return Detections.from_corners(*(_host(a) for a in (x1, y1, x2, y2, confidence, class_id)))


def _find(outputs: Sequence[Layer], names: tuple[str, ...]) -> Layer:
    """The output with the first of ``names`` that exists; a message listing the outputs otherwise."""
    by_name = {layer.name: layer for layer in outputs}
    for name in names:
        if name in by_name:
            return by_name[name]
    wanted = " or ".join(repr(n) for n in names)
    listing = ", ".join(layer.name for layer in outputs) or "none"
    msg = f"parser {NAME}: no output layer named {wanted} (outputs: {listing})"
    raise ValueError(msg)


def _floats(xp: Any, layer: Layer) -> Any:
    return xp.asarray(layer.data, dtype=xp.float32)


def _host(array: Any) -> np.ndarray:
    """NumPy from NumPy or CuPy: :class:`Detections` keeps host columns."""
    get = getattr(array, "get", None)
    return get() if callable(get) else np.asarray(array)
