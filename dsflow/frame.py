"""What flows through a graph: batches of frames, the objects found in them, named tensors.

A :class:`Batch` holds frames (from one or several streams), named tensors (a model's input
or outputs) and ``ready``: on a GPU, the CUDA event recorded after the producing node queued
the work that fills the batch's device arrays (``None`` on the CPU). Metadata (objects,
attributes, masks) lives on the host; arrays (images, tensors) are NumPy or CuPy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, eq=False)
class Attribute:
    """One classifier result on an object (nvinfer's ``NvDsLabelInfo``)."""

    label: str
    """Human-readable result, e.g. ``"red"``."""
    class_id: int = -1
    """Index of the result within its attribute."""
    confidence: float = 1.0
    """Probability of the result."""
    name: str = ""
    """Which attribute this is, e.g. ``"color"`` (one classifier may give several)."""
    index: int = 0
    """Index of the attribute: the classifier output layer it came from (``attributeIndex``)."""
    component_id: int = 0
    """``gie-unique-id`` of the stage that attached it."""


@dataclass(slots=True, eq=False)
class ObjectMeta:
    """One object found in a frame: its box in frame pixels and what is known about it."""

    left: float
    top: float
    width: float
    height: float
    class_id: int = -1
    confidence: float = 1.0
    label: str = ""
    component_id: int = 0
    """``gie-unique-id`` of the stage that detected it; secondary stages select on it."""
    object_id: int = -1
    """Tracking id; -1 while untracked."""
    parent: ObjectMeta | None = None
    """The object this one was found in (back-to-back detectors)."""
    attributes: list[Attribute] = field(default_factory=list)
    mask: Any = None
    """Instance mask (2-D array over the box), when the model gives one."""
    tensors: dict[str, Any] = field(default_factory=dict)
    """Raw output tensors of secondary stages run on this object (``output-tensor-meta``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else plugins attach, e.g. landmarks."""

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(left, top, width, height)``."""
        return (self.left, self.top, self.width, self.height)


@dataclass(slots=True, eq=False)
class Frame:
    """One decoded picture of one stream and its metadata."""

    source_id: int
    """Index of the stream, unique in the graph."""
    frame_num: int
    """Index of the frame within its stream, from 0."""
    pts: int
    """Presentation timestamp in nanoseconds."""
    width: int
    height: int
    image: Any = None
    """The picture: ``(height, width, 3)`` uint8 RGB, NumPy on the CPU, CuPy on a GPU."""
    objects: list[ObjectMeta] = field(default_factory=list)
    tensors: dict[str, Any] = field(default_factory=dict)
    """Per-frame tensors: raw outputs (``output-tensor-meta``), segmentation maps."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Free-form user metadata."""

    def copy(self) -> Frame:
        """A copy whose lists and dicts can change without touching this frame (arrays are shared)."""
        return Frame(
            self.source_id, self.frame_num, self.pts, self.width, self.height, self.image,
            list(self.objects), dict(self.tensors), dict(self.meta),
        )  # fmt: skip


@dataclass(slots=True, eq=False)
class Batch:
    """The unit that moves between nodes."""

    frames: list[Frame]
    tensors: dict[str, Any] = field(default_factory=dict)
    """Named arrays of the whole batch, e.g. a model's input ``(N, 3, H, W)`` or its outputs."""
    ready: Any = None
    """CUDA event after which the batch's device arrays are valid; ``None`` on the CPU."""

    def __len__(self) -> int:
        return len(self.frames)

    def copy(self) -> Batch:
        """A copy for one of several consumers: frames and dicts copied, arrays shared."""
        return Batch([f.copy() for f in self.frames], dict(self.tensors), self.ready)


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """Marker sent downstream when one stream (``source_id``) has no more frames."""

    source_id: int
