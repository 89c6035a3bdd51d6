"""What an inference stage's nodes hand each other on a batch, and what they attach to frames.

The preprocess node puts a :class:`Samples` on ``batch.tensors[stage_key(uid)]``: the network
input and, per row, which frame (and object) it is and how it was scaled. The infer node
adds the outputs; the parse node turns them into objects, attributes or maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsflow.frame import ObjectMeta
from dsflow.infer.history import TrackedObject
from dsflow.infer.preprocess import Geometry
from dsflow.model import NetworkInfo


def stage_key(unique_id: int) -> str:
    """Key of a stage's :class:`Samples` in ``batch.tensors``."""
    return f"nvinfer-{unique_id}"


def tensor_meta_key(unique_id: int) -> str:
    """Key of a stage's :class:`TensorMeta` in ``frame.tensors`` or ``object.tensors``."""
    return f"tensor-meta-{unique_id}"


def segmentation_key(unique_id: int) -> str:
    """Key of a stage's :class:`SegmentationMeta` in ``frame.tensors`` or ``object.tensors``."""
    return f"segmentation-{unique_id}"


@dataclass(eq=False)
class Samples:
    """The rows one stage runs for one batch."""

    unique_id: int
    network: NetworkInfo
    frame_index: list[int]
    """Row → index of its frame in ``batch.frames``."""
    objects: list[ObjectMeta | None]
    """Row → the object it was cropped from (secondary mode) or None (full frame)."""
    geometry: Geometry
    inputs: dict[str, Any]
    """Input name → batch-first array."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """Output name → batch-first array, in the engine's output order (set by the infer node)."""
    entries: list[TrackedObject | None] = field(default_factory=list)
    """Row → the tracked object's history entry, which keeps a classifier's result (secondary
    classifiers and detectors); None for untracked objects. Empty when no row has one."""
    cached: list[tuple[int, ObjectMeta, TrackedObject]] = field(default_factory=list)
    """(frame index, object, entry), in frame order: tracked objects that get their entry's last
    result attached. A Samples may have these and no row; then nothing is inferred."""

    def __len__(self) -> int:
        return len(self.frame_index)


@dataclass(eq=False)
class TensorMeta:
    """Raw outputs of one stage for one frame or object (nvinfer's ``NvDsInferTensorMeta``)."""

    unique_id: int
    layers: dict[str, Any]
    """Output name → this sample's array, in the engine's output order."""
    network: NetworkInfo
    maintain_aspect_ratio: bool


@dataclass(eq=False)
class SegmentationMeta:
    """A semantic segmentation result (nvinfer's ``NvDsInferSegmentationMeta``)."""

    unique_id: int
    classes: int
    class_map: Any
    """``(H, W)`` int32 class per pixel of the network output, -1 where no class passes."""
    probabilities: Any = None
    """The raw per-class output, or None."""
