"""Grouping frames of several streams into batches, the way a stream muxer does."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dsflow.frame import Batch, Frame


def batched(frames: Iterable[Frame], batch_size: int) -> Iterator[Batch]:
    """Yield batches of ``batch_size`` frames (the last one may be smaller)."""
    pending: list[Frame] = []
    for frame in frames:
        pending.append(frame)
        if len(pending) == batch_size:
            yield Batch(pending)
            pending = []
    if pending:
        yield Batch(pending)
