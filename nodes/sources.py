"""``source.testpattern``: synthetic streams that need no files, for trying graphs and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsflow import Batch, Frame, NodeContext, Source, hookimpl, param
from dsflow.nodes._batching import batched

# Eight bars: white, yellow, cyan, green, magenta, red, blue, black (RGB).
_BARS = np.array(
    [[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16],
     [235, 16, 235], [235, 16, 16], [16, 16, 235], [16, 16, 16]],
    dtype=np.uint8,
)  # fmt: skip


@dataclass(frozen=True)
class TestPatternParams:
    """Parameters of ``source.testpattern``."""

    __test__ = False  # not a pytest test class despite the name

    streams: int = param(1, doc="Number of independent streams.")
    frames: int = param(300, doc="Frames per stream; 0 for endless (stop with Ctrl-C or --max-frames).")
    width: int = param(640, doc="Frame width in pixels.")
    height: int = param(480, doc="Frame height in pixels.")
    fps: float = param(30.0, doc="Frame rate, for timestamps and for realtime pacing.")
    batch_size: int = param(0, doc="Frames per batch, taken across streams; 0 means one frame of every stream.")
    realtime: bool = param(False, doc="Produce frames at 'fps' instead of as fast as possible.")

    def __post_init__(self) -> None:
        for name in ("streams", "width", "height"):
            if getattr(self, name) < 1:
                msg = f"parameter {name.replace('_', '-')!r} must be at least 1 (got {getattr(self, name)})"
                raise ValueError(msg)
        if self.frames < 0 or self.batch_size < 0 or self.fps <= 0:
            msg = "'frames' and 'batch-size' must be 0 or more and 'fps' above 0"
            raise ValueError(msg)


class TestPatternSourceNode(Source):
    """Moving colour bars, shifted per stream, in RGB; generated with NumPy or CuPy.

    Frames of all streams are interleaved like a stream muxer does: a batch holds frame
    ``n`` of every stream (or ``batch-size`` frames in that order).
    """

    __test__ = False  # not a pytest test class despite the name
    kind = "source.testpattern"
    Params = TestPatternParams

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        p: TestPatternParams = self.params
        ids = [ctx.new_stream(f"testpattern-{i}") for i in range(p.streams)]
        bases = [ctx.xp.asarray(self._bars(p.width, p.height, shift)) for shift in range(p.streams)]
        yield from batched(self._frames(ctx, ids, bases), p.batch_size or p.streams)
        for source_id in ids:
            ctx.end_stream(source_id)

    def _frames(self, ctx: NodeContext, ids: list[int], bases: list[Any]) -> Iterator[Frame]:
        p: TestPatternParams = self.params
        period_ns = 1e9 / p.fps
        started = time.monotonic()
        n = 0
        while p.frames == 0 or n < p.frames:
            if p.realtime:
                time.sleep(max(0.0, started + n / p.fps - time.monotonic()))
            step = (n * 4) % p.width  # the bars drift 4 px per frame
            for source_id, base in zip(ids, bases, strict=True):
                image = ctx.xp.roll(base, step, axis=1)
                yield Frame(source_id, n, round(n * period_ns), p.width, p.height, image)
            n += 1

    @staticmethod
    def _bars(width: int, height: int, shift: int) -> np.ndarray:
        columns = (np.arange(width) * len(_BARS) // width + shift) % len(_BARS)
        return np.ascontiguousarray(np.broadcast_to(_BARS[columns], (height, width, 3)))


@hookimpl
def dsflow_register_nodes() -> list[type]:
    return [TestPatternSourceNode]
