"""PicoDet / GFL anchor-free heads with a distribution (DFL) box branch, exported without post-processing.

Per level there is a score tensor ``[N_l, nc]`` (sigmoided) and a box tensor ``[N_l, 4·(reg_max+1)]``
(raw logits over distance bins for l, t, r, b). Levels are strides 8, 16, 32, 64 (as many as there are
pairs), level ``k`` with stride ``8·2^k`` over a ``ceil(H/s) × ceil(W/s)`` grid, rows then columns; the
level with the most rows is the finest. The distance along each side is ``s · Σ i·softmax(bins)_i``
from the cell centre ``((x+0.5)·s, (y+0.5)·s)``; the box is ``(cx − l, cy − t, cx + r, cy + b)``.
score = the highest class score, class = its index; then as DeepStream-Yolo (corners clamped to the
network size, boxes under one pixel dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import ceil_div, corner_result, floats, passes_pre_cluster
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

PARSER = "picodet"
FIRST_STRIDE = 8


def _levels(outputs: Sequence[Layer]) -> list[tuple[Layer, Layer]]:
    """(scores, boxes) per level, finest first.

    Layers pair up by row count. In a pair the box tensor is the one whose width is a multiple of 4
    (four sides of ``reg_max + 1`` bins); when both are, the one earlier in binding order holds the
    scores, as PicoDet exports emit them.
    """
    by_rows: dict[int, list[Layer]] = {}
    for layer in outputs:
        if len(layer.dims) != 2:
            msg = f"parser {PARSER}: layer {layer.name!r} has dims {layer.dims}, expected [N, C]"
            raise ValueError(msg)
        by_rows.setdefault(layer.dims[0], []).append(layer)
    levels = []
    for count in sorted(by_rows, reverse=True):
        pair = by_rows[count]
        if len(pair) != 2:
            names = ", ".join(layer.name for layer in pair)
            msg = f"parser {PARSER}: expected one score and one box layer with {count} rows, got: {names}"
            raise ValueError(msg)
        first, second = pair
        box_first = first.dims[1] % 4 == 0 and second.dims[1] % 4 != 0
        levels.append((second, first) if box_first else (first, second))
    if not levels:
        msg = f"parser {PARSER}: no output layers"
        raise ValueError(msg)
    return levels


def _centres(xp: Any, network: NetworkInfo, stride: int, rows: int) -> Any:
    grid_h, grid_w = ceil_div(network.height, stride), ceil_div(network.width, stride)
    if grid_h * grid_w != rows:
        msg = (
            f"parser {PARSER}: stride {stride} level has {rows} rows, "
            f"a {network.width}x{network.height} input gives {grid_h}x{grid_w} = {grid_h * grid_w}"
        )
        raise ValueError(msg)
    y, x = xp.meshgrid(xp.arange(grid_h), xp.arange(grid_w), indexing="ij")
    return ((xp.stack([x.reshape(-1), y.reshape(-1)], axis=1) + 0.5) * stride).astype(xp.float32)


def parse_picodet(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """Decode every level, keep rows passing the pre-cluster threshold, then apply the DFL box decode."""
    parts = []
    for level, (score_layer, box_layer) in enumerate(_levels(outputs)):
        stride = FIRST_STRIDE << level
        scores, dist = floats(xp, score_layer), floats(xp, box_layer)
        if dist.shape[1] % 4:
            msg = f"parser {PARSER}: box layer {box_layer.name!r} width {dist.shape[1]} is not 4·(reg_max+1)"
            raise ValueError(msg)
        centres = _centres(xp, network, stride, len(scores))
        score, class_id = scores.max(axis=1), scores.argmax(axis=1)
        keep = xp.nonzero(passes_pre_cluster(xp, class_id, score, params))[0]
        logits = dist[keep].reshape(len(keep), 4, dist.shape[1] // 4)
        weights = xp.exp(logits - logits.max(axis=2, keepdims=True))
        bins = xp.arange(logits.shape[2], dtype=xp.float32)
        distance = (weights * bins).sum(axis=2) / weights.sum(axis=2) * stride  # (k, 4): l, t, r, b
        centre = centres[keep]
        corners = xp.concatenate([centre - distance[:, :2], centre + distance[:, 2:]], axis=1)
        parts.append((corners, score[keep], class_id[keep]))
    corners, score, class_id = (xp.concatenate(column) for column in zip(*parts, strict=True))
    return corner_result(xp, corners[:, 0], corners[:, 1], corners[:, 2], corners[:, 3], score, class_id, network)
