"""nvinfer's built-in classifier parser (``parseAttributesFromSoftmaxLayers``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow.frame import Attribute
from dsflow.infer.parsers._common import host
from dsflow.model import Layer, NetworkInfo


def parse_softmax(
    outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
) -> list[Attribute]:
    """One attribute per output layer: the most probable class among those with ``p > threshold``.

    Layer ``l`` holds ``C = dims[0]`` probabilities (the first ``C`` values of the sample). The C loop
    starts from a best of 0 and needs strictly higher values, so ``p`` must also exceed 0, and the first
    of equal maxima wins. A layer with no such class gives no attribute. Labels are left empty: the
    infer node fills them from the label file.
    """
    limit = np.float32(threshold)  # the config value is a C float
    attributes = []
    for index, layer in enumerate(outputs):
        count = layer.dims[0] if layer.dims else 1
        probs = host(layer.data).reshape(-1)[:count].astype(np.float32, copy=False)
        candidates = np.where((probs > limit) & (probs > 0), probs, -np.inf)
        if len(candidates) == 0:
            continue
        best = int(np.argmax(candidates))
        if np.isfinite(candidates[best]):
            attributes.append(Attribute("", class_id=best, confidence=float(probs[best]), index=index))
    return attributes
