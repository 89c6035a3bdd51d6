"""nvinfer's built-in semantic segmentation parser (network-type 2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.infer.parsers._common import host
from dsflow.model import Layer, NetworkInfo

NCHW, NHWC = 0, 1
"""``segmentation-output-order`` values."""


def parse_argmax(
    outputs: Sequence[Layer],
    network: NetworkInfo,
    threshold: float,
    *,
    xp: Any = np,
    stream: Any = None,
    order: int = NCHW,
) -> tuple[np.ndarray, Any]:
    """Per pixel, the class with the highest probability among those ``> threshold``, else −1.

    Output layer 0 only: ``[C, H, W]`` (order 0) or ``[H, W, C]`` (order 1). As in nvinfer the running
    best starts at −1 and must be beaten strictly, so the first of equal maxima wins and values ``<= -1``
    never do. Returns the int32 ``(H, W)`` class map (host) and the layer's own array as probabilities.
    """
    if not outputs:
        msg = "parser argmax: no output layers"
        raise ValueError(msg)
    layer = outputs[0]
    if len(layer.dims) != 3 or order not in (NCHW, NHWC):
        msg = f"parser argmax: layer {layer.name!r} has dims {layer.dims} and order {order}; expected 3 dims, order 0/1"
        raise ValueError(msg)
    probs = xp.asarray(layer.data)
    axis = 0 if order == NCHW else 2
    valid = (probs > xp.float32(threshold)) & (probs > -1)
    best = xp.where(valid, probs, -xp.inf).argmax(axis=axis)
    class_map = xp.where(valid.any(axis=axis), best, -1).astype(xp.int32)
    return host(class_map), layer.data
