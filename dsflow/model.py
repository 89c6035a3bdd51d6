"""The custom-model contract: what parsers, engines and initializers receive and return.

These are nvinfer's ``NvDsInferLayerInfo``, ``NvDsInferNetworkInfo``,
``NvDsInferParseDetectionParams`` and ``NvDsInferObjectDetectionInfo`` as Python objects, and
the engine interface the infer node runs. Arrays are NumPy (or CuPy on a GPU); detections
are kept as columns (one array per field) so parsers and clustering stay vectorized.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Layer:
    """One output (or input) layer of one sample: nvinfer's ``NvDsInferLayerInfo``."""

    name: str
    data: Any
    """The sample's slice of the layer: shape ``dims``, NumPy or CuPy."""
    index: int = 0
    """Binding index: position among the engine's outputs (inputs for initializers)."""
    is_input: bool = False

    @property
    def dims(self) -> tuple[int, ...]:
        """Shape of ``data``: one sample's for parsers (nvinfer's ``inferDims``, no batch dimension);
        input initializers get whole ``(max_batch_size, ...)`` arrays."""
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """Size of the network input (nvinfer's ``NvDsInferNetworkInfo``)."""

    width: int
    height: int
    channels: int


@dataclass(frozen=True, slots=True)
class DetectionParams:
    """Per-class thresholds a bbox parser may use (``NvDsInferParseDetectionParams``).

    dsflow applies the pre-cluster threshold again after the parser, as nvinfer does, so a
    parser may ignore it; using it early just saves work.
    """

    num_classes: int
    """``num-detected-classes``: classes with a higher id are dropped."""
    pre_cluster_threshold: np.ndarray
    """float32 ``(num_classes,)``."""
    post_cluster_threshold: np.ndarray
    """float32 ``(num_classes,)``."""


_FIELDS = ("class_id", "left", "top", "width", "height", "confidence")


@dataclass(slots=True, eq=False)
class Detections:
    """Objects in network-input pixels, as columns (``NvDsInferObjectDetectionInfo`` × N).

    ``masks`` (instance segmentation) is ``None`` or one float array ``(N, mask_h, mask_w)``
    over each object's box, as nvinfer's ``NvDsInferInstanceMaskInfo.mask``.
    """

    class_id: np.ndarray
    left: np.ndarray
    top: np.ndarray
    width: np.ndarray
    height: np.ndarray
    confidence: np.ndarray
    masks: Any = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-object columns a parser adds (e.g. a track embedding ``(N, 128)``); kept through clustering."""
    points: dict[str, np.ndarray] = field(default_factory=dict)
    """Per-object point sets ``(N, K, 2)`` (x, y) in network-input pixels, e.g. ``landmarks`` or a text
    ``quad``; kept through clustering, mapped to frame pixels with the boxes, and attached to each object
    as ``ObjectMeta.extra[name]`` ``(K, 2)``."""

    def __post_init__(self) -> None:
        self.class_id = np.asarray(self.class_id, dtype=np.int32).reshape(-1)
        n = len(self.class_id)
        for name in _FIELDS[1:]:
            column = np.asarray(getattr(self, name), dtype=np.float32).reshape(-1)
            if len(column) != n:
                msg = f"Detections: column {name!r} has {len(column)} values, class_id has {n}"
                raise ValueError(msg)
            setattr(self, name, column)
        for name, value in self.points.items():
            value = np.asarray(value, dtype=np.float32)
            if value.ndim != 3 or value.shape[0] != n or value.shape[2] != 2:
                msg = f"Detections: points {name!r} has shape {value.shape}, expected ({n}, K, 2)"
                raise ValueError(msg)
            self.points[name] = value
        if self.masks is not None and len(self.masks) != n:
            msg = f"Detections: {len(self.masks)} masks for {n} objects"
            raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.class_id)

    @classmethod
    def from_columns(
        cls, class_id: np.ndarray, left: np.ndarray, top: np.ndarray, width: np.ndarray, height: np.ndarray,
        confidence: np.ndarray, masks: Any = None,
    ) -> Detections:  # fmt: skip
        """Detections over columns that already are 1-D int32 / float32 arrays of one length.

        Skips ``__post_init__``'s checks and conversions (a few µs, which count when a library
        parser is called once per sample): for callers that build the columns themselves.
        """
        detections = object.__new__(cls)
        detections.class_id, detections.left, detections.top = class_id, left, top
        detections.width, detections.height, detections.confidence = width, height, confidence
        detections.masks = masks
        detections.extra, detections.points = {}, {}
        return detections

    @classmethod
    def split_columns(cls, columns: Sequence[np.ndarray], masks: Any, bounds: Sequence[int]) -> list[Detections]:
        """One :class:`Detections` per sample over slices ``bounds[i]:bounds[i+1]`` of batch-wide columns.

        As :meth:`from_columns`, without checks; written as one loop because library parsers of a
        whole batch make one per sample (a function call each would cost a third more).
        """
        class_id, left, top, width, height, confidence = columns
        # Samples without objects (most of them) share zero-length columns.
        empty = tuple(column[:0] for column in columns) if len(class_id) else tuple(columns)
        no_masks = masks if masks is None or not len(masks) else masks[:0]
        new = object.__new__
        result = []
        for a, b in itertools.pairwise(bounds):
            d = new(cls)
            if a == b:
                d.class_id, d.left, d.top, d.width, d.height, d.confidence = empty
                d.masks = no_masks
            else:
                d.class_id, d.left, d.top = class_id[a:b], left[a:b], top[a:b]
                d.width, d.height, d.confidence = width[a:b], height[a:b], confidence[a:b]
                d.masks = None if masks is None else masks[a:b]
            d.extra, d.points = {}, {}
            result.append(d)
        return result

    @classmethod
    def empty(cls) -> Detections:
        z = np.zeros(0, np.float32)
        return cls(np.zeros(0, np.int32), z, z, z, z, z)

    @classmethod
    def from_corners(
        cls, x1: Any, y1: Any, x2: Any, y2: Any, confidence: Any, class_id: Any, **kwargs: Any
    ) -> Detections:
        """Build from corner coordinates ``(x1, y1, x2, y2)``."""
        x1, y1 = np.asarray(x1, np.float32), np.asarray(y1, np.float32)
        return cls(
            class_id, x1, y1, np.asarray(x2, np.float32) - x1, np.asarray(y2, np.float32) - y1, confidence, **kwargs
        )

    @classmethod
    def concat(cls, parts: Sequence[Detections]) -> Detections:
        """All objects of ``parts``, in order."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len(parts) == 1:
            return parts[0]
        masks = None
        if all(p.masks is not None for p in parts):
            masks = [m for p in parts for m in p.masks]
        def joined(group: str) -> dict[str, np.ndarray]:  # the columns every part has
            first = getattr(parts[0], group)
            return {k: np.concatenate([getattr(p, group)[k] for p in parts]) for k in first
                    if all(k in getattr(p, group) for p in parts)}  # fmt: skip

        cols = {name: np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS}
        return cls(**cols, masks=masks, extra=joined("extra"), points=joined("points"))

    def take(self, index: Any) -> Detections:
        """The objects at ``index`` (an integer array or a boolean mask), in that order."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        masks = None
        if self.masks is not None:
            masks = self.masks[index] if isinstance(self.masks, np.ndarray) else [self.masks[i] for i in index]
        return Detections(
            *(getattr(self, name)[index] for name in _FIELDS),
            masks=masks,
            extra={k: v[index] for k, v in self.extra.items()},
            points={k: v[index] for k, v in self.points.items()},
        )

    @property
    def right(self) -> np.ndarray:
        return self.left + self.width

    @property
    def bottom(self) -> np.ndarray:
        return self.top + self.height


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output of an engine."""

    name: str
    shape: tuple[int | None, ...]
    """Full shape including the batch dimension; ``None`` where the size is dynamic."""
    dtype: np.dtype

    @property
    def sample_shape(self) -> tuple[int | None, ...]:
        """Shape without the batch dimension."""
        return self.shape[1:]


@runtime_checkable
class Engine(Protocol):
    """What the infer node runs. Backends (ONNX Runtime, TensorRT, torch...) implement it.

    ``infer`` takes batch-first arrays by input name and returns batch-first arrays by output
    name, in the order of ``outputs``. It runs on ``stream`` when the backend uses CUDA.
    """

    inputs: Sequence[TensorSpec]
    outputs: Sequence[TensorSpec]
    max_batch_size: int | None
    """The largest batch ``infer`` accepts; ``None`` for any size."""

    def infer(self, inputs: Mapping[str, Any], stream: Any = None) -> dict[str, Any]: ...
