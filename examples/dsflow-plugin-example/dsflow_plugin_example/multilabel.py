"""``example-sigmoid-multilabel``: independent yes/no tags from one logit per class.

nvinfer's built-in classifier parser keeps the single most probable class of each output
layer (a softmax). A multi-label head instead gives every class its own logit; each class
whose sigmoid passes ``classifier-threshold`` is a result, so one object can get several.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dsflow import Attribute
from dsflow.model import Layer, NetworkInfo


def parse_sigmoid_multilabel(
    outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
) -> list[Attribute]:
    """One attribute per class with ``sigmoid(logit) > threshold``, for every output layer.

    Layer ``k`` holds the logits of attribute ``k`` (all its values are classes, whatever the
    shape). The attribute's ``index`` is ``k`` and its ``class_id`` the class, so dsflow takes
    the label from line ``k`` of the labels file, element ``class_id``.
    """
    limit = np.float32(threshold)  # the config value is a C float, as nvinfer compares it
    attributes = []
    for index, layer in enumerate(outputs):
        logits = xp.asarray(layer.data, dtype=xp.float32).reshape(-1)
        probabilities = 1 / (1 + xp.exp(-logits))
        hits = xp.nonzero(probabilities > limit)[0]
        # one Attribute object per result is the contract; the arithmetic above is done for all classes at once
        chosen = probabilities[hits]
        attributes += [
            Attribute("", class_id=int(c), confidence=float(p), index=index)
            for c, p in zip(_host(hits).tolist(), _host(chosen).tolist(), strict=True)
        ]
    return attributes


def _host(array: Any) -> np.ndarray:
    get = getattr(array, "get", None)
    return get() if callable(get) else np.asarray(array)
