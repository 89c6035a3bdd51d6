"""Node types and helpers shared by the runtime and node tests.

The nodes record what happens to them in a :class:`Log` chosen by their ``tag`` parameter,
so a test can look at the run from outside: which hooks were called, in which order, on
which thread, and what each batch held. They are registered through a plugin manager the
way a third-party plugin registers its node types.
"""

from __future__ import annotations

import itertools
import textwrap
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dsflow import (
    Batch,
    Frame,
    Graph,
    Node,
    NodeContext,
    ObjectMeta,
    PluginManager,
    Port,
    Sink,
    Source,
    hookimpl,
    load_graph_text,
    param,
    run_graph,
)

# -- what nodes record -----------------------------------------------------------------------


class Log:
    """Everything the nodes of one test record, in one global order."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        """What graph files give as the nodes' ``tag`` parameter (``$TAG`` in :func:`graph`)."""
        self.lock = threading.Lock()
        self.events: list[tuple[Any, ...]] = []
        """``(node, what, *details)`` in the order they happened, across all threads."""
        self.batches: dict[str, list[Batch]] = defaultdict(list)
        """The batches each recording node received (the objects themselves)."""
        self.counts: dict[str, int] = defaultdict(int)
        self.max_ahead = 0
        """Largest ``produced - consumed`` seen (backpressure test)."""
        self.values: dict[str, Any] = {}
        self.release = threading.Event()
        """Set by a test to let blocking nodes go on."""

    def add(self, *event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, node: str) -> list[tuple[Any, ...]]:
        """The events of one node, without the node name."""
        return [e[1:] for e in self.events if e[0] == node]

    def hooks(self, node: str) -> list[str]:
        """The names of the hooks called on one node, in order."""
        return [e[1] for e in self.events if e[0] == node]

    def frames(self, node: str) -> list[tuple[int, int]]:
        """``(source_id, frame_num)`` of every frame a node processed, in order."""
        return [(f.source_id, f.frame_num) for b in self.batches[node] for f in b.frames]

    def ends(self, node: str) -> list[int]:
        """The source ids whose end a node was told, in order."""
        return [e[2] for e in self.events if e[0] == node and e[1] == "end_stream"]


_LOGS: dict[str, Log] = {}


def new_log() -> Log:
    """A fresh log; its ``tag`` names it in graph files."""
    log = Log(uuid.uuid4().hex)
    _LOGS[log.tag] = log
    return log


def drop_log(log: Log) -> None:
    _LOGS.pop(log.tag, None)


def log_of(tag: str) -> Log:
    return _LOGS[tag]


class Boom(Exception):
    """What the failing test nodes raise."""


# -- node types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceParams:
    tag: str = param(doc="log to record in")
    frames: list[int] = param(default_factory=lambda: [5], doc="frames of each stream; 0 = endless")
    batch_size: int = param(0, doc="frames per batch across streams; 0 = one of every open stream")
    offsets: list[int] = param(default_factory=list, doc="round in which each stream starts (default 0)")
    fail_in: str = param("", doc="'start', 'generate' or 'stop' to raise there")
    fail_at: int = param(0, doc="with fail_in 'generate': raise before this batch")
    end_streams: bool = param(True, doc="announce each stream's end from inside generate")
    max_ahead_of: str = param("", doc="node whose processed count to compare with what was produced")


class TestSource(Source):
    """Streams of tiny frames; frame n of a stream has every pixel equal to n % 256.

    Frames of all streams are interleaved, one frame of each live stream per round; stream i
    starts in round ``offsets[i]``. A stream shorter than the others ends early and, with
    ``end-streams``, is announced at once (after its last frames were sent).
    """

    __test__ = False
    kind = "test.source"
    Params = SourceParams

    def start(self, ctx: NodeContext) -> None:
        self.log = log_of(self.params.tag)
        self.log.add(self.name, "start", threading.current_thread().name)
        if self.params.fail_in == "start":
            msg = "start failed"
            raise Boom(msg)

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        p: SourceParams = self.params
        self.log.add(self.name, "generate")
        ids = [ctx.new_stream(f"{self.name}-{i}") for i in range(len(p.frames))]
        self._produced = 0
        pending: list[Frame] = []
        offsets = list(p.offsets) + [0] * (len(ids) - len(p.offsets))
        streams = list(zip(ids, p.frames, offsets[: len(ids)], strict=True))
        for n in itertools.count():
            ending = [sid for sid, total, off in streams if total and n - off == total]
            if ending and p.end_streams:
                if pending:  # the ending streams' last frames go out before their end
                    yield self._batch(pending)
                    pending = []
                for sid in ending:
                    ctx.end_stream(sid)
            if all(total and n - off >= total for _, total, off in streams):
                break
            live = [(sid, n - off) for sid, total, off in streams if 0 <= n - off and (total == 0 or n - off < total)]
            for sid, num in live:
                pending.append(Frame(sid, num, num * 1000, 6, 4, np.full((4, 6, 3), num % 256, dtype=np.uint8)))
                if len(pending) >= (p.batch_size or len(live)):
                    yield self._batch(pending)
                    pending = []
        if pending:
            yield self._batch(pending)

    def _batch(self, frames: list[Frame]) -> Batch:
        p: SourceParams = self.params
        log = self.log
        if p.fail_in == "generate" and self._produced == p.fail_at:
            msg = "generate failed"
            raise Boom(msg)
        self._produced += 1
        with log.lock:
            log.counts[f"{self.name}.produced"] = self._produced
            if p.max_ahead_of:
                ahead = self._produced - log.counts[f"{p.max_ahead_of}.processed"]
                log.max_ahead = max(log.max_ahead, ahead)
        return Batch(frames)

    def stop(self, ctx: NodeContext) -> None:
        self.log.add(self.name, "stop")
        if self.params.fail_in == "stop":
            msg = "stop failed"
            raise Boom(msg)


@dataclass(frozen=True)
class RecordParams:
    tag: str = param(doc="log to record in")
    fail_in: str = param("", doc="'start', 'process', 'end_stream' or 'stop' to raise there")
    fail_at: int = param(0, doc="with fail_in 'process': raise on this batch (0-based)")
    error: str = param("boom", doc="message of the exception raised")
    delay: float = param(0.0, doc="seconds to sleep in each process call")
    fail_when_stopping: bool = param(False, doc="wait in process until the graph stops, then raise")
    block: bool = param(False, doc="wait in process until the test sets the log's release event")
    label: str = param("", doc="append an object with this label to every frame, and set meta['branch']")


class RecordNode(Node):
    """Records every hook call and every batch, passes batches on, and fails on request."""

    kind = "test.record"
    Params = RecordParams

    def start(self, ctx: NodeContext) -> None:
        self.log = log_of(self.params.tag)
        self.log.add(self.name, "start", threading.current_thread().name)
        self._seen = 0
        if self.params.fail_in == "start":
            raise Boom(self.params.error)

    def process(self, batch: Batch, ctx: NodeContext) -> Batch | None:
        p: RecordParams = self.params
        log = self.log
        log.add(self.name, "process", ctx.input_port, [(f.source_id, f.frame_num) for f in batch.frames])
        log.batches[self.name].append(batch)
        index = self._seen
        self._seen += 1
        if p.block:
            log.release.wait(30)
        if p.delay:
            time.sleep(p.delay)
        if p.fail_when_stopping:
            deadline = time.monotonic() + 10
            while not ctx.stopping and time.monotonic() < deadline:
                time.sleep(0.002)
            raise RuntimeError(p.error)
        if p.fail_in == "process" and index == p.fail_at:
            raise Boom(p.error)
        if p.label:
            for frame in batch.frames:
                frame.objects.append(ObjectMeta(1, 2, 3, 4, label=p.label))
                frame.meta["branch"] = p.label
        with log.lock:
            log.counts[f"{self.name}.processed"] += 1
        return batch

    def end_stream(self, source_id: int, ctx: NodeContext) -> None:
        self.log.add(self.name, "end_stream", source_id)
        if self.params.fail_in == "end_stream":
            raise Boom(self.params.error)

    def stop(self, ctx: NodeContext) -> None:
        self.log.add(self.name, "stop")
        if self.params.fail_in == "stop":
            raise Boom(self.params.error)


class RecordSink(RecordNode, Sink):
    """:class:`RecordNode` without outputs."""

    kind = "test.sink"
    outputs = ()

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        super().process(batch, ctx)  # records; a sink has nowhere to send the batch


class JoinNode(RecordNode):
    """Two inputs, ``left`` and ``right``; records which port each batch came in on."""

    kind = "test.join"
    inputs = (Port("left"), Port("right"))


class _Plugin:
    @hookimpl
    def dsflow_register_nodes(self) -> list[type]:
        return [TestSource, RecordNode, RecordSink, JoinNode]


def plugins() -> PluginManager:
    """A plugin manager with the built-in nodes and the test nodes, nothing from the environment."""
    pm = PluginManager(autoload=False)
    pm.register(_Plugin(), "dsflow-test-nodes")
    return pm


def graph(text: str, log: Log | None = None) -> Graph:
    """Build a graph from YAML text (dedented), with the test nodes available.

    ``$TAG`` in the text is replaced by ``log``'s tag.
    """
    if log is not None:
        text = text.replace("$TAG", log.tag)
    return load_graph_text(textwrap.dedent(text), plugins=plugins())


# -- media files -----------------------------------------------------------------------------


def video_codec() -> str:
    """H.264 when PyAV's FFmpeg has libx264, else MPEG-4 part 2."""
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_video(
    path: Path, colors: list[tuple[int, int, int]], size: tuple[int, int] = (64, 48), fps: int = 10
) -> Path:
    """Encode one frame of each solid RGB colour into ``path``."""
    import av

    width, height = size
    with av.open(str(path), "w") as container:
        codec = video_codec()
        options = {"preset": "ultrafast", "crf": "10"} if codec == "libx264" else {}
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "mpeg4":
            stream.bit_rate = 4_000_000
        for color in colors:
            image = np.empty((height, width, 3), dtype=np.uint8)
            image[:] = color
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture
def log():
    """A fresh event log for one test, dropped afterwards."""
    log = new_log()
    yield log
    drop_log(log)


def run_on_cpu(graph, **kwargs):
    """Run on the CPU (also on a machine with a GPU, where 'auto' would pick it)."""
    kwargs.setdefault("device", "cpu")
    return run_graph(graph, **kwargs)
