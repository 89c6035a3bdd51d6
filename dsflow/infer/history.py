"""Which tracked objects a secondary stage infers again: nvinfer's per-source object history.

A secondary classifier or detector remembers, per source and tracking id (``object_id`` ≥ 0),
when it last inferred an object, how big the object was then and (classifiers) what came
out. An untracked object (``object_id`` −1) has no history: it is inferred every time, or
never in ``classifier-async-mode``.

The preprocess node owns the map and decides; the parse node only replaces the result of the
entries the :class:`~dsflow.infer.stage.Samples` hand it (``TrackedObject.attributes``) and
reads them back. No field is written by both threads, so no lock is needed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from dsflow.frame import Attribute, Frame, ObjectMeta
from dsflow.infer.keys import INT32_MAX

REINFER_AREA_GROWTH = 0.2
"""A classifier infers a tracked object again when its area grew by more than this (20 %)."""
UNSEEN_FRAMES = 150
"""Entries not used for more than this many frames of their source are purged."""
PURGE_INTERVAL = 1800
"""Purges run once more than this many batches went by (and a source advanced this many frames)."""


@dataclass(slots=True, eq=False)
class TrackedObject:
    """What a stage remembers of one tracked object."""

    last_inferred: int
    """Frame number of its last inference."""
    last_seen: int
    """Frame number at which the history last used it (nvinfer's ``last_accessed_frame_num``)."""
    area: float
    """Box area at its last inference."""
    attributes: list[Attribute] = field(default_factory=list)
    """Classifiers: the attributes of its latest inference that reached the parse node."""

    def store(self, attributes: list[Attribute]) -> None:
        """Keep a new result; the latest replaces the earlier one whole (nvinfer's merge does)."""
        self.attributes = [dataclasses.replace(a) for a in attributes]

    def cached(self) -> list[Attribute]:
        """Copies of the kept result, for one more object."""
        return [dataclasses.replace(a) for a in self.attributes]


@dataclass(slots=True, eq=False)
class _Source:
    objects: dict[int, TrackedObject] = field(default_factory=dict)
    last_frame: int = 0
    last_purge_frame: int = 0


class ObjectHistory:
    """nvinfer's re-inference rule for a secondary classifier (``classifier=True``) or detector.

    Classifier: a tracked object is inferred again when its area grew by more than 20 % since
    its last inference or more than ``interval`` frames went by; otherwise it gets its last
    result again. Detector: inferred again when more than ``interval`` frames went by, or on
    every frame while ``interval`` is the default. Frame numbers going back count as a long gap.
    """

    def __init__(self, *, classifier: bool, interval: int, async_mode: bool) -> None:
        self.classifier = classifier
        self.interval = interval
        self.async_mode = async_mode
        self._sources: dict[int, _Source] = {}
        self._batches = 0
        self._last_purge_batch = 0

    def select(
        self, frame: Frame, eligible: Callable[[ObjectMeta], bool]
    ) -> tuple[list[tuple[ObjectMeta, TrackedObject | None]], list[tuple[ObjectMeta, TrackedObject]]]:
        """The objects of ``frame`` to infer, with their entry (None: untracked), and those that
        get their entry's result attached instead (classifiers; in async mode also inferred ones).

        ``eligible`` is nvinfer's object selection (gie id, sizes, classes); an object that fails
        it is not inferred, but a classifier still gives it its earlier result.
        """
        source = self._sources.setdefault(frame.source_id, _Source())
        source.last_frame = frame.frame_num
        infer: list[tuple[ObjectMeta, TrackedObject | None]] = []
        reattach: list[tuple[ObjectMeta, TrackedObject]] = []
        for obj in frame.objects:
            if obj.object_id < 0:
                if not self.async_mode and eligible(obj):
                    infer.append((obj, None))
                continue
            entry = source.objects.get(obj.object_id)
            due = eligible(obj) and (entry is None or self._due(entry, frame.frame_num, obj))
            if entry is not None and self.classifier and (self.async_mode or not due):
                entry.last_seen = frame.frame_num
                reattach.append((obj, entry))
            if not due:
                continue  # a skipped detector object does not count as seen, as in nvinfer
            if entry is None:
                entry = source.objects[obj.object_id] = TrackedObject(frame.frame_num, frame.frame_num, 0.0)
            entry.last_inferred = entry.last_seen = frame.frame_num
            entry.area = obj.width * obj.height
            infer.append((obj, entry))
        return infer, reattach

    def _due(self, entry: TrackedObject, frame_num: int, obj: ObjectMeta) -> bool:
        gap = frame_num - entry.last_inferred
        late = gap < 0 or gap > self.interval  # nvinfer's unsigned difference makes going back huge
        if self.classifier:
            return late or entry.area * (1 + REINFER_AREA_GROWTH) < obj.width * obj.height
        return late or self.interval == INT32_MAX  # the default: every frame

    def end_batch(self) -> None:
        """Count a batch; purge entries unseen for long, on nvinfer's schedule."""
        self._batches += 1
        if self._batches - self._last_purge_batch <= PURGE_INTERVAL:
            return
        self._last_purge_batch = self._batches
        for source in self._sources.values():
            if source.last_frame - source.last_purge_frame < PURGE_INTERVAL:
                continue
            source.last_purge_frame = source.last_frame
            source.objects = {
                oid: e for oid, e in source.objects.items() if source.last_frame - e.last_seen <= UNSEEN_FRAMES
            }

    def drop_source(self, source_id: int) -> None:
        """Forget an ended stream (its source id is not used again)."""
        self._sources.pop(source_id, None)

    def tracked(self, source_id: int) -> dict[int, TrackedObject]:
        """The entries of one source by tracking id (a copy of the map)."""
        source = self._sources.get(source_id)
        return dict(source.objects) if source is not None else {}
