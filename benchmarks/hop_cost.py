"""The framework's own cost per node hop per batch.

A source emits ready-made batches through a chain of K pass-through nodes into a null
sink. The cost of one hop is the extra wall time of the K-node chain over a 0-node chain
(same source, same sink), divided by batches x K. The baseline, measured in the same run,
is the plain way to do this in Python: one thread per stage and ``queue.Queue(maxsize)``
between them, with the same chain lengths and queue size.

    python benchmarks/hop_cost.py [--batches 20000] [--hops 8] [--queue-size 4] [--device cpu|gpu]

Goal: at most 8 us per hop (Holoscan's Python scheduler: 10-17 us per operator hop).
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import dsflow
from dsflow import Batch, Frame, Node, NodeContext, Source, hookimpl, param


@dataclass(frozen=True)
class _FeedParams:
    batches: int = param(1000, doc="batches to emit")
    batch_size: int = param(1, doc="frames per batch")


class FeedNode(Source):
    """Emits `batches` batches of `batch-size` frames with no image work."""

    kind = "bench.feed"
    Params = _FeedParams

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        source_id = ctx.new_stream("feed")
        size = self.params.batch_size
        for n in range(self.params.batches):
            yield Batch([Frame(source_id, n * size + i, 0, 1, 1) for i in range(size)])
        ctx.end_stream(source_id)


class PassNode(Node):
    """Returns its input batch unchanged."""

    kind = "bench.pass"

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        return batch


class HostPassNode(PassNode):
    """Returns its input batch unchanged and declares it never touches device arrays."""

    kind = "bench.pass-host"
    host_only = True


class _Plugin:
    @hookimpl
    def dsflow_register_nodes(self) -> list[type]:
        return [FeedNode, PassNode, HostPassNode]


def chain_yaml(hops: int, batches: int, batch_size: int, queue_size: int, device: str, kind: str) -> str:
    feed = f"  - {{name: feed, type: bench.feed, params: {{batches: {batches}, batch-size: {batch_size}}}}}"
    lines = [f"device: {device}", f"queue-size: {queue_size}", "nodes:", feed]
    previous = "feed"
    for i in range(hops):
        lines.append(f"  - {{name: p{i}, type: {kind}, input: {previous}}}")
        previous = f"p{i}"
    lines.append(f"  - {{name: sink, type: sink.null, input: {previous}}}")
    return "\n".join(lines) + "\n"


def time_dsflow(
    pm: dsflow.PluginManager, hops: int, batches: int, batch_size: int, queue_size: int, device: str, kind: str
) -> float:
    text = chain_yaml(hops, batches, batch_size, queue_size, device, kind)
    graph = dsflow.load_graph_text(text, "bench.yaml", pm)
    t0 = time.perf_counter()
    result = dsflow.run_graph(graph)
    elapsed = time.perf_counter() - t0
    assert result.error is None, result
    assert result.nodes[-1].batches == batches, result
    return elapsed


def time_queue_chain(hops: int, batches: int, batch_size: int, queue_size: int) -> float:
    """The baseline: threads and queue.Queue, the same chain shape, no framework."""
    end = object()
    queues = [queue.Queue(maxsize=queue_size) for _ in range(hops + 1)]

    def stage(q_in: queue.Queue, q_out: queue.Queue) -> None:
        while (item := q_in.get()) is not end:
            q_out.put(item)
        q_out.put(end)

    def sink(q_in: queue.Queue) -> None:
        while q_in.get() is not end:
            pass

    threads = [threading.Thread(target=stage, args=(queues[i], queues[i + 1])) for i in range(hops)]
    threads.append(threading.Thread(target=sink, args=(queues[-1],)))
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for n in range(batches):
        queues[0].put(Batch([Frame(0, n * batch_size + i, 0, 1, 1) for i in range(batch_size)]))
    queues[0].put(end)
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def per_hop_us(timer, hops: int, batches: int, repeats: int) -> float:
    """Median over repeats of (T(hops) - T(0)) / (batches * hops), in microseconds."""
    samples = []
    for _ in range(repeats):
        base = timer(0)
        full = timer(hops)
        samples.append((full - base) / (batches * hops) * 1e6)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20000)
    parser.add_argument("--hops", type=int, default=8)
    parser.add_argument("--queue-size", type=int, default=4)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    args = parser.parse_args()

    pm = dsflow.PluginManager(autoload=False)
    pm.register(_Plugin(), "benchmark")
    print(f"python {sys.version.split()[0]}, dsflow {dsflow.__version__}, device {args.device}, "
          f"{args.batches} batches, chain of {args.hops} pass-through nodes, queue-size {args.queue_size}")  # fmt: skip
    kinds = ["bench.pass"] + (["bench.pass-host"] if args.device == "gpu" else [])
    header = (
        f"{'nodes':<16} {'batch size':>10} {'dsflow us/hop':>14} {'queue.Queue us/hop':>19} {'ratio':>6} "
        f"{'goal 8 us':>9}"
    )
    print(header)
    for kind in kinds:
        for batch_size in (int(b) for b in args.batch_sizes.split(",")):
            ours = per_hop_us(
                lambda h, bs=batch_size, k=kind: time_dsflow(pm, h, args.batches, bs, args.queue_size, args.device, k),
                args.hops, args.batches, args.repeats,
            )  # fmt: skip
            baseline = per_hop_us(
                lambda h, bs=batch_size: time_queue_chain(h, args.batches, bs, args.queue_size),
                args.hops, args.batches, args.repeats,
            )  # fmt: skip
            verdict = "met" if ours <= 8.0 else "missed"
            ordered = "stream-ordered" if args.device == "gpu" else "pass-through"
            label = "host-only" if kind.endswith("host") else ordered
            print(f"{label:<16} {batch_size:>10} {ours:>14.2f} {baseline:>19.2f} {ours / baseline:>6.2f} {verdict:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
