"""Running a graph: one thread per node, bounded channels between them.

Each connection is a channel holding at most ``queue-size`` items: a producer that gets
ahead blocks (backpressure), so memory stays bounded. Every node has one inbox fed by all
its incoming channels; a node's credits per channel bound what it may hold. Both queues are
:class:`queue.SimpleQueue` (implemented in C), which keeps the cost of a hop to a few
microseconds.

Stopping: when a node fails, or on Ctrl-C, or when ``max_frames`` is reached, sources stop
producing and everything already in flight drains through the graph; every node's ``stop``
runs, so sinks flush. A second Ctrl-C aborts at once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

import numpy

from dsflow import cuda
from dsflow.errors import DsflowError, NodeError
from dsflow.frame import Batch, StreamEnd
from dsflow.graph import Graph
from dsflow.node import Node, NodeContext, Source

_END = "end of input"  # sent once on every channel when its producer is done
_ABORT = "abort"  # sticky: whoever reads it puts it back and leaves


class _Aborted(Exception):
    """Raised inside node threads when the run is aborted."""


class _Channel:
    """One connection: credits bound what the producer may put into the consumer's inbox."""

    __slots__ = ("credits", "inbox", "index")

    def __init__(self, inbox: SimpleQueue[Any], index: int, capacity: int) -> None:
        self.inbox, self.index = inbox, index
        self.credits: SimpleQueue[Any] = SimpleQueue()
        for _ in range(capacity):
            self.credits.put(None)

    def put(self, item: Any) -> None:
        if self.credits.get() is _ABORT:
            self.credits.put(_ABORT)
            raise _Aborted
        self.inbox.put((self.index, item))


@dataclass
class NodeStats:
    """What one node did during a run."""

    name: str
    kind: str
    batches: int = 0
    frames: int = 0
    busy: float = 0.0
    """Seconds spent inside the node's own code (``process``/``generate``)."""
    files: list[str] = field(default_factory=list)
    """Files the node wrote (:meth:`NodeContext.wrote`), in the order it reported them."""


@dataclass
class RunResult:
    """The outcome of :func:`run_graph`."""

    nodes: list[NodeStats]
    seconds: float
    streams: dict[int, str]
    stream_frames: dict[int, int]
    error: NodeError | None = None
    interrupted: bool = False
    aborted: bool = False
    """A second Ctrl-C (or :meth:`Runtime.abort`) ended the run without draining it."""
    outputs: dict[str, Any] = field(default_factory=dict)


class Runtime:
    """One run of a graph. Use :func:`run_graph` unless you need to watch it run."""

    def __init__(self, graph: Graph, *, device: str | None = None, max_frames: int | None = None) -> None:
        self.graph = graph
        self.device = cuda.resolve_device(device or graph.device)
        self.max_frames = max_frames
        self.streams: dict[int, str] = {}
        self.stream_frames: dict[int, int] = {}
        self.error: NodeError | None = None
        self.interrupted = False
        self.aborted = False
        self.started_at = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._runners = [_Runner(self, graph, name) for name in graph.topological_order()]
        by_name = {r.name: r for r in self._runners}
        for edge in graph.edges:
            consumer = by_name[edge.dst]
            channel = _Channel(consumer.inbox, len(consumer.in_channels), graph.queue_size)
            consumer.in_channels.append(channel)
            consumer.in_ports.append(edge.dst_port)
            by_name[edge.src].out[edge.src_port].append(channel)
        self._threads = [threading.Thread(target=r.run, name=f"dsflow:{r.name}", daemon=True) for r in self._runners]

    @property
    def stats(self) -> list[NodeStats]:
        """Per-node statistics so far."""
        return [r.stats for r in self._runners]

    @property
    def stopping(self) -> bool:
        """True once sources were told to stop."""
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Let sources finish their current batch and drain the graph."""
        self._stop.set()

    def fail(self, runner: _Runner, exc: BaseException) -> None:
        """Record the first node error and stop the graph."""
        with self._lock:
            if self.error is None:
                detail = str(exc) if isinstance(exc, DsflowError) else f"{type(exc).__name__}: {exc}"
                err = NodeError(f"node {runner.name!r} ({runner.kind}): {detail}")
                err.__cause__ = exc
                self.error = err
        self.request_stop()

    def abort(self) -> None:
        """Unblock and end every node thread now (in-flight batches are lost, no ``stop`` runs)."""
        self.aborted = True
        self._stop.set()
        for runner in self._runners:
            runner.inbox.put((-1, _ABORT))
            for channels in runner.out.values():
                for channel in channels:
                    channel.credits.put(_ABORT)

    def new_stream(self, name: str) -> int:
        """Allocate a graph-wide source id."""
        with self._lock:
            source_id = len(self.streams)
            self.streams[source_id] = name
            self.stream_frames[source_id] = 0
        return source_id

    def start(self) -> None:
        """Start every node thread."""
        self.started_at = time.perf_counter()
        for thread in self._threads:
            thread.start()

    def wait(self, on_tick: Callable[[Runtime], None] | None = None, tick: float = 0.25) -> RunResult:
        """Wait for the run to end; Ctrl-C drains the graph, a second Ctrl-C aborts it."""
        while True:
            try:
                for thread in self._threads:
                    while thread.is_alive():
                        thread.join(tick)
                        if on_tick:
                            on_tick(self)
                break
            except KeyboardInterrupt:
                if self.interrupted:
                    self.abort()
                    break
                self.interrupted = True
                self.request_stop()
        return RunResult(
            self.stats,
            time.perf_counter() - self.started_at,
            dict(self.streams),
            dict(self.stream_frames),
            self.error,
            self.interrupted,
            self.aborted,
        )


def run_graph(
    graph: Graph,
    *,
    device: str | None = None,
    max_frames: int | None = None,
    on_tick: Callable[[Runtime], None] | None = None,
) -> RunResult:
    """Run ``graph`` to the end and return what happened (errors are in ``result.error``)."""
    runtime = Runtime(graph, device=device, max_frames=max_frames)
    runtime.start()
    return runtime.wait(on_tick)


class _Runner:
    """The thread body of one node."""

    def __init__(self, runtime: Runtime, graph: Graph, name: str) -> None:
        spec = graph.nodes[name]
        self.runtime = runtime
        self.name, self.kind = name, spec.kind
        self.node: Node = spec.create()
        self.stats = NodeStats(name, spec.kind)
        self.inbox: SimpleQueue[Any] = SimpleQueue()
        self.in_channels: list[_Channel] = []
        self.in_ports: list[str] = []
        self.out: dict[str, list[_Channel]] = {p.name: [] for p in spec.node_type.outputs}
        self.default_port = spec.node_type.outputs[0].name if spec.node_type.outputs else ""
        self.open_streams: set[int] = set()
        self.ended_streams: set[int] = set()
        self.failed = False
        self.stream = cuda.new_stream() if runtime.device == "gpu" else None
        xp = cuda.cupy_module() if self.stream is not None else numpy
        self.ctx = NodeContext(
            name, spec.kind, runtime.device, self.stream, xp,
            self.emit, self._new_stream, self._end_stream, lambda: runtime.stopping,
        )  # fmt: skip
        self.ctx.files = self.stats.files
        # Host-only nodes leave device data alone: their batches keep the event they came with.
        stream_ordered = self.stream is not None and not self.node.host_only
        self._event_type = cuda.cupy_module().cuda.Event if stream_ordered else None

    # -- what NodeContext calls ----------------------------------------------------------

    def emit(self, batch: Batch, port: str | None = None) -> None:
        try:
            channels = self.out[port or self.default_port]
        except KeyError:
            msg = f"emit to unknown output port {port!r} (outputs: {', '.join(self.out) or 'none'})"
            raise ValueError(msg) from None
        if self._event_type is not None:
            event = self._event_type(disable_timing=True)
            event.record(self.stream)
            batch.ready = event
        elif batch.ready is None:
            batch.ready = self.ctx.ready  # a host-only node's new batch still needs the input's event
        for channel in channels[1:]:
            channel.put(batch.copy())  # every extra consumer gets lists of its own
        if channels:
            channels[0].put(batch)

    def _new_stream(self, name: str) -> int:
        source_id = self.runtime.new_stream(name)
        self.open_streams.add(source_id)
        return source_id

    def _end_stream(self, source_id: int) -> None:
        if source_id in self.ended_streams:
            return  # already ended (e.g. by max_frames before the source ended it itself)
        self.ended_streams.add(source_id)
        self.open_streams.discard(source_id)
        self._send_all(StreamEnd(source_id))

    def _send_all(self, item: Any) -> None:
        for channels in self.out.values():
            for channel in channels:
                channel.put(item)

    # -- the thread -----------------------------------------------------------------------

    def run(self) -> None:
        try:
            if self.stream is not None:
                self.stream.use()  # current stream of this thread: CuPy work goes there
            started = self._call(self.node.start)
            if isinstance(self.node, Source):
                if started:
                    self._generate()
            else:
                self._consume(started)
            if started:
                self._call(self.node.stop)
            for source_id in sorted(self.open_streams):
                self._end_stream(source_id)
            self._send_all(_END)
        except _Aborted:
            return

    def _call(self, method: Callable[[NodeContext], Any]) -> bool:
        try:
            method(self.ctx)
        except _Aborted:
            raise
        except BaseException as exc:
            self.failed = True
            self.runtime.fail(self, exc)
            return False
        return True

    def _generate(self) -> None:
        runtime, stats, clock = self.runtime, self.stats, time.perf_counter
        limit, counts = runtime.max_frames, runtime.stream_frames
        try:
            batches = self.node.generate(self.ctx)  # type: ignore[attr-defined]
            while not runtime.stopping:
                t0 = clock()
                batch = next(batches, None)
                stats.busy += clock() - t0
                if batch is None:
                    break
                kept = []
                for frame in batch.frames:
                    count = counts.get(frame.source_id, 0)
                    if limit is None or count < limit:
                        counts[frame.source_id] = count + 1
                        kept.append(frame)
                if len(kept) != len(batch.frames):
                    batch.frames = kept
                if kept:
                    stats.batches += 1
                    stats.frames += len(kept)
                    self.emit(batch)
                if limit is not None:
                    for source_id in [s for s in self.open_streams if counts.get(s, 0) >= limit]:
                        self._end_stream(source_id)
                    if self.ended_streams and not self.open_streams:
                        break
            batches.close()
        except _Aborted:
            raise
        except BaseException as exc:
            self.failed = True
            runtime.fail(self, exc)

    def _consume(self, started: bool) -> None:
        node, ctx, stats, inbox = self.node, self.ctx, self.stats, self.inbox
        channels, ports = self.in_channels, self.in_ports
        stream = self.stream if self._event_type is not None else None
        clock = time.perf_counter
        open_inputs = len(channels)
        ends: Counter[int] = Counter()
        run = started
        while open_inputs:
            index, item = inbox.get()
            if item is _ABORT:
                inbox.put((index, item))
                raise _Aborted
            channels[index].credits.put(None)
            if item.__class__ is Batch:
                if not run:
                    continue  # failed: keep draining so producers never block
                ctx.input_port = ports[index]
                ctx.ready = item.ready
                if stream is not None and item.ready is not None:
                    stream.wait_event(item.ready)
                frames = len(item.frames)  # counted before process, which may edit the batch
                t0 = clock()
                try:
                    out = node.process(item, ctx)
                    stats.busy += clock() - t0
                    stats.batches += 1
                    stats.frames += frames
                    if out is not None:
                        self.emit(out)
                except _Aborted:
                    raise
                except BaseException as exc:
                    self.failed, run = True, False
                    self.runtime.fail(self, exc)
            elif item is _END:
                open_inputs -= 1
            else:  # StreamEnd: forward once every input has ended that stream
                ends[item.source_id] += 1
                if ends[item.source_id] == len(channels):
                    del ends[item.source_id]
                    run = self._stream_ended(item, run)
        for source_id in sorted(ends):
            run = self._stream_ended(StreamEnd(source_id), run)

    def _stream_ended(self, marker: StreamEnd, run: bool) -> bool:
        """Call ``end_stream`` (while the node runs) and forward the marker; False once the node failed."""
        if run and not self._call(lambda ctx: self.node.end_stream(marker.source_id, ctx)):
            run = False  # failed: no more batches for it, but downstream still hears of the end
        self._send_all(marker)
        return run
