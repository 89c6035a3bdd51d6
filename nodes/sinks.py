"""Sinks: ``sink.jsonl`` writes every frame's metadata as JSON Lines; ``sink.null`` discards."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dsflow import Batch, Frame, NodeContext, ObjectMeta, Sink, hookimpl, param


@dataclass(frozen=True)
class JsonlParams:
    """Parameters of ``sink.jsonl``."""

    path: str = param(doc="File to write, created with its folders; '-' writes to standard output.")
    append: bool = param(False, doc="Append to the file instead of replacing it.")


class JsonlSinkNode(Sink):
    """One JSON object per frame: stream, frame number, timestamp, size and every object.

    Objects carry their box (``left``, ``top``, ``width``, ``height`` in frame pixels),
    ``class_id``, ``label``, ``confidence``, ``component_id``, ``object_id``, ``parent``
    (index of the parent object in the same frame's list, or null), ``attributes`` and any
    ``extra`` values that JSON can hold. The file is flushed when the graph stops.
    """

    kind = "sink.jsonl"
    Params = JsonlParams
    host_only = True

    def start(self, ctx: NodeContext) -> None:
        p: JsonlParams = self.params
        if p.path == "-":
            self._file: IO[str] = sys.stdout
            return
        path = Path(p.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a" if p.append else "w", encoding="utf-8")
        ctx.wrote(p.path)

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        self._file.write("".join(json.dumps(frame_record(f), default=_jsonable) + "\n" for f in batch.frames))

    def stop(self, ctx: NodeContext) -> None:
        self._file.flush()
        if self._file is not sys.stdout:
            self._file.close()


def frame_record(frame: Frame) -> dict[str, Any]:
    """The JSON form of one frame's metadata."""
    index = {id(obj): i for i, obj in enumerate(frame.objects)}
    record: dict[str, Any] = {
        "source_id": frame.source_id,
        "frame_num": frame.frame_num,
        "pts": frame.pts,
        "width": frame.width,
        "height": frame.height,
        "objects": [_object_record(obj, index) for obj in frame.objects],
    }
    if frame.meta:
        record["meta"] = frame.meta
    return record


def _object_record(obj: ObjectMeta, index: dict[int, int]) -> dict[str, Any]:
    record = {
        "left": obj.left,
        "top": obj.top,
        "width": obj.width,
        "height": obj.height,
        "class_id": obj.class_id,
        "label": obj.label,
        "confidence": obj.confidence,
        "component_id": obj.component_id,
        "object_id": obj.object_id,
        "parent": index.get(id(obj.parent)) if obj.parent is not None else None,
        "attributes": [
            {
                "name": a.name,
                "label": a.label,
                "class_id": a.class_id,
                "confidence": a.confidence,
                "component_id": a.component_id,
            }
            for a in obj.attributes
        ],
    }
    if obj.extra:
        record["extra"] = obj.extra
    return record


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy arrays and scalars
        return value.tolist()
    return repr(value)


class NullSinkNode(Sink):
    """Discards everything; for benchmarks and graphs run only for their side effects."""

    kind = "sink.null"
    host_only = True

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        return None


@hookimpl
def dsflow_register_nodes() -> list[type]:
    return [JsonlSinkNode, NullSinkNode]
