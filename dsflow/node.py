"""Nodes: the base classes node types derive from, their ports, and the context they run in.

Lifecycle, on every run: :meth:`Node.start` runs once before the first batch;
:meth:`Node.process` is called for each batch, never before ``start`` nor after ``stop``;
:meth:`Node.stop` runs once when all inputs have ended (or the graph is stopping), if and
only if ``start`` returned. Batches a node returns or emits in ``stop`` still flow downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from dsflow.frame import Batch
from dsflow.params import build_params

if TYPE_CHECKING:
    from dsflow.graph import NodeSpec
    from dsflow.plugins.registry import Registry
    from dsflow.yamlfile import MarkedDict


@dataclass(frozen=True)
class Port:
    """A named input or output of a node type."""

    name: str
    doc: str = ""
    optional: bool = False
    """For inputs: the node runs even when nothing is connected here."""


@dataclass(frozen=True)
class NoParams:
    """For node types without parameters."""


class NodeContext:
    """What the runtime gives a node: its stream, array module and ways to emit.

    On a GPU, ``stream`` is the node's own CUDA stream and ``xp`` is CuPy. The runtime makes
    ``stream`` current around ``start``, ``process`` and ``stop``, makes it wait on each
    incoming batch's ``ready`` event first, and records a new event on every batch the node
    emits. So CuPy work a node queues is ordered after its inputs, and consumers wait for it,
    without anyone synchronizing the device. On the CPU ``stream`` is ``None`` and ``xp`` is NumPy.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        device: str,
        stream: Any,
        xp: Any,
        emit: Callable[[Batch, str | None], None],
        new_stream: Callable[[str], int],
        end_stream: Callable[[int], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.name = name
        self.kind = kind
        self.device = device
        self.stream = stream
        self.xp = xp
        self.input_port = ""
        """The input port the batch being processed came in on."""
        self.ready: Any = None
        """The ``ready`` event of the batch being processed."""
        self.log = logging.getLogger(f"dsflow.node.{name}")
        self.files: list[str] = []
        """Files this node wrote, shown after the run (see :meth:`wrote`)."""
        self._emit = emit
        self._new_stream = new_stream
        self._end_stream = end_stream
        self._stopping = stopping

    def emit(self, batch: Batch, port: str | None = None) -> None:
        """Send ``batch`` out of ``port`` (default: the first output port)."""
        self._emit(batch, port)

    def new_stream(self, name: str) -> int:
        """Register a stream this source produces; returns its graph-wide ``source_id``."""
        return self._new_stream(name)

    def end_stream(self, source_id: int) -> None:
        """Tell downstream nodes that stream ``source_id`` has no more frames."""
        self._end_stream(source_id)

    def wrote(self, path: str) -> None:
        """Report a file this node writes, so ``dsflow run`` can tell the user where the output went."""
        if path not in self.files:
            self.files.append(path)

    @property
    def stopping(self) -> bool:
        """True once the graph was asked to stop (error elsewhere, Ctrl-C, frame limit)."""
        return self._stopping()

    def to_host(self, array: Any) -> Any:
        """A NumPy copy of ``array``, waiting only for this node's stream, never the device."""
        if self.stream is None or not hasattr(array, "get"):
            return array
        if self.ready is not None:  # a no-op for stream-ordered nodes, needed by host-only ones
            self.stream.wait_event(self.ready)
        host = array.get(stream=self.stream)
        self.stream.synchronize()
        return host


class Node:
    """Base class of node types.

    A subclass sets ``kind`` (the ``type:`` name in graph files, e.g. ``"sink.jsonl"``),
    ``Params`` (a dataclass of :func:`dsflow.param` fields), ``inputs`` and ``outputs``,
    and overrides :meth:`process`. Its docstring is what ``dsflow nodes KIND`` shows.
    """

    kind: ClassVar[str]
    Params: ClassVar[type] = NoParams
    host_only: ClassVar[bool] = False
    """True for nodes that never touch device arrays (metadata only): on a GPU the runtime then
    skips the event wait and record for them and their output keeps the input's ``ready`` event."""
    inputs: ClassVar[tuple[Port, ...]] = (Port("in"),)
    outputs: ClassVar[tuple[Port, ...]] = (Port("out"),)

    def __init__(self, name: str, params: Any) -> None:
        self.name = name
        self.params = params

    @classmethod
    def parse_params(cls, values: MarkedDict, owner: str, registry: Registry) -> Any:
        """Check the ``params`` mapping of a graph file; the default builds ``Params``.

        Node types whose parameters are not a fixed set (e.g. ``nvinfer``, which takes any
        nvinfer config key) override this. ``registry`` resolves names given in the params.
        """
        return build_params(cls.Params, values, owner)

    @classmethod
    def check_graph(cls, specs: list[NodeSpec]) -> None:
        """Check what concerns several nodes of this type in one graph (``specs``: all of them).

        Called once per node type after the graph is built; raise :class:`dsflow.GraphError`.
        """

    @classmethod
    def expand(cls, params: Any) -> list[tuple[str, type[Node], Any]] | None:
        """For composite node types: the ``(suffix, node type, params)`` chain this node stands for.

        The graph replaces such a node by nodes named ``NAME/suffix`` connected in order.
        """
        return None

    def start(self, ctx: NodeContext) -> None:
        """Open files, load models. Runs once, before the first batch."""

    def process(self, batch: Batch, ctx: NodeContext) -> Batch | None:
        """Handle one batch; a returned batch goes out of the first output port."""
        return batch

    def end_stream(self, source_id: int, ctx: NodeContext) -> None:
        """Stream ``source_id`` ended upstream; the runtime forwards the marker afterwards."""

    def stop(self, ctx: NodeContext) -> None:
        """Flush and close. Runs once after the last batch, also when the graph stops on an error."""


class Source(Node):
    """A node without inputs that produces batches, e.g. from files or cameras."""

    inputs: ClassVar[tuple[Port, ...]] = ()

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        """Yield batches until the streams end; check ``ctx.stopping`` in long waits."""
        raise NotImplementedError

    def process(self, batch: Batch, ctx: NodeContext) -> Batch | None:  # pragma: no cover - never called
        """Sources have no inputs."""
        raise NotImplementedError


class Sink(Node):
    """A node without outputs, e.g. writing metadata to a file."""

    outputs: ClassVar[tuple[Port, ...]] = ()

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        """Consume one batch (nothing goes on: a sink has no outputs)."""
