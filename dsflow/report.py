"""What ``dsflow run`` shows: a live progress display and the per-node summary."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from dsflow.runtime import RunResult, Runtime

MAX_ROWS = 12


class Progress:
    """Frames and frames per second of each stream, redrawn in place on a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Live | None = None
        self._last: tuple[float, dict[int, int]] = (time.perf_counter(), {})
        self._fps: dict[int, float] = {}

    def __enter__(self) -> Progress:
        self._live = Live(Text("starting..."), console=self.console, refresh_per_second=4, transient=True)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def update(self, runtime: Runtime) -> None:
        """Called by the runtime's wait loop a few times a second."""
        now = time.perf_counter()
        then, before = self._last
        counts = dict(runtime.stream_frames)
        if now - then >= 0.5:
            for source_id, count in counts.items():
                rate = (count - before.get(source_id, 0)) / (now - then)
                self._fps[source_id] = rate if source_id not in self._fps else 0.5 * self._fps[source_id] + 0.5 * rate
            self._last = (now, counts)
        if self._live is not None:
            self._live.update(self.render(runtime, counts))

    def render(self, runtime: Runtime, counts: dict[int, int]) -> Any:
        """The display for the current counts."""
        elapsed = time.perf_counter() - runtime.started_at
        total = sum(counts.values())
        head = Text(f"{total} frames in {elapsed:.1f} s from {len(counts)} streams")
        if runtime.stopping:
            head.append("  (stopping)", style="yellow")
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("stream")
        table.add_column("frames", justify="right")
        table.add_column("fps", justify="right")
        for source_id in list(counts)[:MAX_ROWS]:
            name = runtime.streams.get(source_id, str(source_id))
            table.add_row(f"{source_id}: {name}", str(counts[source_id]), f"{self._fps.get(source_id, 0.0):.1f}")
        rest = len(counts) - MAX_ROWS
        return Group(head, table, Text(f"... and {rest} more streams")) if rest > 0 else Group(head, table)


def summary_table(result: RunResult) -> Table:
    """Per-node batches, frames, busy time and throughput of a finished run."""
    wall = max(result.seconds, 1e-9)
    table = Table(title=f"dsflow run: {result.seconds:.2f} s, {sum(result.stream_frames.values())} frames")
    for name, justify in (("node", "left"), ("type", "left"), ("batches", "right"), ("frames", "right"),
                          ("busy s", "right"), ("busy %", "right"), ("frames/s", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for stats in result.nodes:
        table.add_row(
            stats.name,
            stats.kind,
            str(stats.batches),
            str(stats.frames),
            f"{stats.busy:.3f}",
            f"{100 * stats.busy / wall:.1f}",
            f"{stats.frames / wall:.1f}",
        )
    return table


def written_files(result: RunResult, shown: int = 3) -> list[str]:
    """One line per node that wrote files: where its output went (the first ``shown`` files, then a count)."""
    lines = []
    for stats in result.nodes:
        if not stats.files:
            continue
        more = len(stats.files) - shown
        names = ", ".join(stats.files[:shown]) + (f" and {more} more" if more > 0 else "")
        lines.append(f"{stats.name} ({stats.kind}) wrote {names}")
    return lines
