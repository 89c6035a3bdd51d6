"""Real pipelines against a per-frame loop: graphs/faces.yaml and graphs/ocr.yaml on the CPU.

For each graph, both sides run in one process with the same models, the same stage configs and the
same ONNX Runtime session settings, and both are warmed up:

* **graph**: the graph file's nodes and configs as they are, with its sinks (annotated video, JSON
  Lines) replaced by ``bench.collect``, which keeps every frame's objects in memory and stamps their
  arrival. Neither side encodes video.
* **loop**: the way most users start. Decode a frame, then run each stage's ONNX Runtime session on
  it in turn (a secondary stage on all of that frame's crops in one ``session.run``): one frame at a
  time, one stage after the other, no threads. So that its outputs are the graph's, the loop calls
  dsflow's building blocks as a library: nvinfer's preprocessing, each stage's parser, crop function
  and engine function (P-Net's image pyramid), clustering, the object filters and the mapping back
  to frame pixels.

Only the execution model differs. The graph runs each node in its own thread, so decoding,
preprocessing, inference and parsing of different frames and stages overlap, and it batches frames
(the source's ``batch-size``) and crops (each stage's ``batch-size``) into one model run.

Rates count the frames after the first WARMUP, from the moment the WARMUP-th frame is done (left
the loop, or reached ``bench.collect``) to the last one: model loading and the graph's pipeline
fill are left out. Clips shorter than ``--frames`` are played again from the start. Each repeat
times the loop, then the graph. A repeat during which other processes used more than 5% of a core
(``/proc/stat``) is reported, left out of the medians and run again (at most ``2 × --repeats``
runs in all). Every repeat also checks that both sides found the same objects: per frame the same
count, boxes and points within 1e-3 px, the same classes, labels, parents and attributes
(confidences within 1e-4).

    python benchmarks/pipelines.py [--graph faces|ocr|all] [--frames 192] [--repeats 5] [--threads T]
        [--spinning default|0|1] [--loop-threads T] [--loop-spinning default|0|1] [--set NODE.KEY=VALUE]

ONNX Runtime settings. Without options each stage uses what its graph file says (the nvinfer node's
``threads`` param; 0 is ONNX Runtime's default, one thread per core), on both sides.
``--threads`` sets every stage's intra-op threads and ``--spinning`` its
``session.intra_op.allow_spinning`` (for the graph through a custom-layers provider, which gets
every session's ``SessionOptions``), on both sides; ``--loop-threads`` and ``--loop-spinning`` give
the loop other settings than the graph's, e.g. its own best. P-Net's session is made by its engine
function (``mtcnn-pyramid``), which takes neither: it runs with ONNX Runtime's defaults on both
sides. ``--set`` changes the graph as ``dsflow run --set`` does (e.g. ``--set age.batch-size=32``,
``--set text.threads=1``); what it changes in a stage's config reaches the loop too. Paths are taken
from the repository root. Goal: the graph reaches at least 1.5x the loop's rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml
from _machine import machine_cpu  # benchmarks/ is on sys.path when a script of it runs

import dsflow
from dsflow import Batch, Frame, NodeContext, ObjectMeta, Sink, hookimpl, param
from dsflow.graph import build_graph
from dsflow.infer import config as nvconfig
from dsflow.infer.attach import attach_attributes, attach_detections, attach_detections_per_frame, label_attributes
from dsflow.infer.engine import onnxruntime_backend
from dsflow.infer.preprocess import Geometry, preprocess_spec
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.nodes.nvinfer import Stage, network_input, object_selector
from dsflow.yamlfile import load_text

REPO = Path(__file__).resolve().parents[1]
GRAPHS = {"faces": REPO / "graphs/faces.yaml", "ocr": REPO / "graphs/ocr.yaml"}
WARMUP = 8
"""Frames left out of each rate (a multiple of the faces graph's source batch of 4)."""
BOX_TOLERANCE = 1e-3
"""Pixels: boxes and points of both sides must agree to this."""
CONFIDENCE_TOLERANCE = 1e-4
SPINNING = ("default", "0", "1")


def stamp() -> tuple[float, float, float]:
    """Wall clock, this process's CPU time, the machine's CPU time."""
    return time.perf_counter(), time.process_time(), machine_cpu()


# -- what both sides produce, in a form that can be compared ----------------------------------


@dataclass(frozen=True)
class ObjectRecord:
    """One object as both sides report it; ``parent`` is its parent's index in the frame's list."""

    component_id: int
    class_id: int
    label: str
    confidence: float
    box: tuple[float, float, float, float]
    parent: int | None
    attributes: tuple[tuple[str, str, int, float], ...]
    points: tuple[tuple[str, np.ndarray], ...]


Records = dict[int, tuple[ObjectRecord, ...]]
"""Each frame's objects, by frame number."""


def frame_record(frame: Frame) -> tuple[ObjectRecord, ...]:
    """Every object of ``frame`` (what ``sink.jsonl`` writes, minus ids and timestamps)."""
    index = {id(obj): i for i, obj in enumerate(frame.objects)}
    return tuple(
        ObjectRecord(
            o.component_id,
            o.class_id,
            o.label,
            float(o.confidence),
            (o.left, o.top, o.width, o.height),
            index.get(id(o.parent)) if o.parent is not None else None,
            tuple((a.name, a.label, a.class_id, float(a.confidence)) for a in o.attributes),
            tuple((k, np.asarray(v, np.float64)) for k, v in sorted(o.extra.items())),
        )
        for o in frame.objects
    )


def differences(loop: Records, graph: Records) -> list[str]:
    """What differs between the two sides' objects, frame by frame (empty: identical)."""
    found = []
    if sorted(loop) != sorted(graph):
        found.append(f"frames: loop has {len(loop)}, graph {len(graph)}")
    for n in sorted(set(loop) & set(graph)):
        a, b = loop[n], graph[n]
        if len(a) != len(b):
            stages = sorted({o.component_id for o in a + b})
            counts = {c: (sum(o.component_id == c for o in a), sum(o.component_id == c for o in b)) for c in stages}
            found.append(f"frame {n}: {len(a)} objects in the loop, {len(b)} in the graph (per stage: {counts})")
            continue
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            problem = _object_difference(x, y)
            if problem:
                found.append(f"frame {n} object {i} (stage {x.component_id}): {problem}")
    return found


def _object_difference(x: ObjectRecord, y: ObjectRecord) -> str:
    ids_x, ids_y = (x.component_id, x.class_id, x.label, x.parent), (y.component_id, y.class_id, y.label, y.parent)
    if ids_x != ids_y:
        return f"(stage, class, label, parent) loop {ids_x}, graph {ids_y}"
    box = np.abs(np.subtract(x.box, y.box)).max()
    if box > BOX_TOLERANCE:
        return f"boxes differ by {box:.4g} px: loop {x.box}, graph {y.box}"
    if abs(x.confidence - y.confidence) > CONFIDENCE_TOLERANCE:
        return f"confidence loop {x.confidence:.6f}, graph {y.confidence:.6f}"
    if [a[:3] for a in x.attributes] != [a[:3] for a in y.attributes]:
        return f"attributes loop {x.attributes}, graph {y.attributes}"
    gap = max((abs(a[3] - b[3]) for a, b in zip(x.attributes, y.attributes, strict=True)), default=0.0)
    if gap > CONFIDENCE_TOLERANCE:
        return f"attribute confidences differ by {gap:.3g}"
    if [k for k, _ in x.points] != [k for k, _ in y.points]:
        return f"extra loop {[k for k, _ in x.points]}, graph {[k for k, _ in y.points]}"
    for (name, p), (_, q) in zip(x.points, y.points, strict=True):
        if p.shape != q.shape or (p.size and np.abs(p - q).max() > BOX_TOLERANCE):
            return f"extra[{name!r}] differs: loop {p.tolist()}, graph {q.tolist()}"
    return ""


# -- the graph side ---------------------------------------------------------------------------


@dataclass
class Arrivals:
    """What ``bench.collect`` saw in one run: (stamp, frames so far) per batch and each frame's objects."""

    stamps: list[tuple[tuple[float, float, float], int]] = field(default_factory=list)
    records: Records = field(default_factory=dict)


_arrivals: dict[str, Arrivals] = {}


@dataclass(frozen=True)
class _CollectParams:
    tag: str = param(doc="key of the run in the benchmark's table")


class CollectNode(Sink):
    """Keeps each frame's objects in memory and stamps when each batch arrived."""

    kind = "bench.collect"
    Params = _CollectParams
    host_only = True

    def start(self, ctx: NodeContext) -> None:
        self.arrivals = _arrivals.setdefault(self.params.tag, Arrivals())
        self.frames = 0

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        self.frames += len(batch.frames)
        self.arrivals.stamps.append((stamp(), self.frames))
        for frame in batch.frames:
            self.arrivals.records[frame.frame_num] = frame_record(frame)


class _Plugin:
    def __init__(self, config_entries: dict[str, str]) -> None:
        self.config_entries = config_entries

    @hookimpl
    def dsflow_register_nodes(self) -> list[type]:
        return [CollectNode]

    @hookimpl
    def dsflow_register_custom_layers(self) -> dict[str, Any]:
        def session_settings(backend: str, target: Any) -> None:  # gets every session's SessionOptions
            if backend == "onnxruntime":
                for key, value in self.config_entries.items():
                    target.add_session_config_entry(key, value)

        return {"bench-session-settings": session_settings}


def config_entries(spinning: str) -> dict[str, str]:
    """ONNX Runtime session config entries for ``--spinning``."""
    return {} if spinning == "default" else {"session.intra_op.allow_spinning": spinning}


def bench_graph(path: Path, pm: dsflow.PluginManager, threads: int | None, overrides: list[str]) -> dsflow.Graph:
    """The graph of ``path`` with its sinks replaced by ``bench.collect`` and its video played in a loop.

    Loaded under the graph file's own name, so config paths stay relative to it.
    """
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    sinks = [n for n in doc["nodes"] if str(n["type"]).startswith("sink.")]
    inputs = {n["input"] for n in sinks}
    if len(inputs) != 1:
        msg = f"{path}: expected sinks that all read one node, found inputs {sorted(inputs)}"
        raise SystemExit(msg)
    nodes = [n for n in doc["nodes"] if n not in sinks]
    for node in nodes:
        if node["type"] == "source.video":
            node.setdefault("params", {})["loop"] = True  # bench frames beyond the clip's end
        if node["type"] == "nvinfer" and threads is not None:
            node.setdefault("params", {})["threads"] = threads
    nodes.append({"name": "collect", "type": "bench.collect", "input": inputs.pop(), "params": {"tag": "run"}})
    doc["nodes"] = nodes
    text = yaml.safe_dump(doc, sort_keys=False)
    return build_graph(load_text(text, str(path)), str(path), pm, overrides)


@dataclass
class Window:
    """One timed stretch: frames, wall seconds, CPU seconds of this process and of everything else."""

    frames: int
    wall: float
    cpu: float
    others: float

    @classmethod
    def of(cls, stamps: list[tuple[tuple[float, float, float], int]], warmup: int) -> Window:
        """From the stamp at which ``warmup`` frames were done to the last one."""
        (w0, c0, m0), done = next((s, n) for s, n in stamps if n >= warmup)
        (w1, c1, m1), total = stamps[-1]
        return cls(total - done, w1 - w0, c1 - c0, max(0.0, (m1 - m0) - (c1 - c0)))

    @property
    def fps(self) -> float:
        return self.frames / self.wall

    @property
    def disturbed(self) -> bool:
        """Other processes used more than 5% of one core meanwhile (NaN, without /proc/stat, counts as calm)."""
        return self.others > 0.05 * self.wall


def time_graph(graph: dsflow.Graph, frames: int) -> tuple[Window, Records, dict[str, float]]:
    """One run of WARMUP + frames frames: the window, each frame's objects, ms per frame in each node's code."""
    _arrivals.pop("run", None)
    runtime = dsflow.Runtime(graph, max_frames=WARMUP + frames)
    runtime.start()
    result = runtime.wait()
    if result.error is not None:
        raise result.error
    arrivals = _arrivals.pop("run")
    total = arrivals.stamps[-1][1]
    busy = {s.name: s.busy / total * 1e3 for s in result.nodes if s.name != "collect"}
    return Window.of(arrivals.stamps, WARMUP), arrivals.records, busy


# -- the loop side ----------------------------------------------------------------------------


class LoopStage:
    """One nvinfer stage of the graph, run the plain way on one frame: its own ONNX Runtime session."""

    def __init__(self, name: str, stage: Stage, threads: int, entries: dict[str, str]) -> None:
        self.name, self.stage = name, stage
        cfg = self.config = stage.config
        if stage.model.creator is not None:  # P-Net: the plugin's engine function makes its own session
            engine = stage.model.creator(cfg)
        else:  # dsflow's onnxruntime backend: the same session settings as the graph's

            def session_entries(_backend: str, options: Any) -> None:
                for key, value in entries.items():
                    options.add_session_config_entry(key, value)

            engine = onnxruntime_backend(cfg["onnx-file"], {"threads": threads, "custom_layers": [session_entries]},
                                         device="cpu", stream=None)  # fmt: skip
        input_name = engine.inputs[0].name
        self.run_model: Callable[[np.ndarray], dict[str, Any]] = lambda x: engine.infer({input_name: x})
        self.spec, _ = preprocess_spec(cfg, engine)
        self.network = NetworkInfo(self.spec.width, self.spec.height, self.spec.channels)
        attrs = cfg.class_attrs
        self.detection_params = DetectionParams(
            len(attrs),
            np.array([a.pre_cluster_threshold for a in attrs], np.float32),
            np.array([a.post_cluster_threshold for a in attrs], np.float32),
        )
        self.detector = cfg.network_type == nvconfig.DETECTOR
        self.per_frame = bool(cfg["cluster-per-frame"] and cfg.secondary and self.detector)
        self.eligible = object_selector(cfg)  # nvinfer's choice of objects (untracked ones: every time)

    def __call__(self, frame: Frame) -> None:
        """Preprocess the frame (or all its crops), one model run, parse, attach the results."""
        cfg = self.config
        objects: list[Any] = [o for o in frame.objects if self.eligible(o)] if cfg.secondary else [None]
        if not objects:
            return
        n = len(objects)
        x, geometry, network = network_input(self.stage, self.spec, [frame] * n, [frame.image] * n, objects)
        outputs = self.run_model(x)
        layers = [[Layer(name, out[row], i) for i, (name, out) in enumerate(outputs.items())] for row in range(n)]
        if self.detector:
            results = [self.stage.parser(rows, network, self.detection_params, xp=np, stream=None) for rows in layers]
            self._detections(frame, results, geometry, objects)
        else:
            threshold = cfg["classifier-threshold"]
            for rows, obj in zip(layers, objects, strict=True):
                self._attributes(frame, self.stage.parser(rows, network, threshold, xp=np, stream=None), obj)

    def _detections(self, frame: Frame, results: list[Detections], geometry: Geometry, parents: list[Any]) -> None:
        if self.per_frame:  # cluster-per-frame: all crops' detections together, in frame pixels
            parts = list(enumerate(results))
            attach_detections_per_frame(self.config, self.stage.labels, [frame], parts, geometry, [0] * len(parts),
                                        parents)  # fmt: skip
            return
        for row, dets in enumerate(results):
            attach_detections(self.config, self.stage.labels, frame, dets, geometry, row, parents[row])

    def _attributes(self, frame: Frame, attributes: list[dsflow.Attribute], obj: ObjectMeta | None) -> None:
        label_attributes(self.config, self.stage.labels, attributes)
        attach_attributes(self.config, frame, obj, attributes)


def decoded_frames(path: str, count: int) -> Iterator[Frame]:
    """``count`` RGB frames of the video, played again from the start when it ends (as ``source.video``)."""
    import av

    frame_num = 0
    while frame_num < count:
        with av.open(path) as container:
            track = container.streams.video[0]
            track.thread_type = "AUTO"  # the source node's decoder settings
            for decoded in container.decode(track):
                yield Frame(0, frame_num, 0, decoded.width, decoded.height, decoded.to_ndarray(format="rgb24"))
                frame_num += 1
                if frame_num == count:
                    return


def loop_stages(graph: dsflow.Graph, threads: int | None, entries: dict[str, str]) -> tuple[str, list[LoopStage]]:
    """The video path and the nvinfer stages of ``graph``, in order, each with its own session.

    ``threads`` None: each stage's ``threads`` param, as in the graph.
    """
    video = next(spec.params.paths[0] for spec in graph.nodes.values() if spec.kind == "source.video")
    stages = []
    for name in graph.topological_order():
        spec = graph.nodes[name]
        if spec.kind == "nvinfer.infer":
            stage: Stage = spec.params
            own = stage.options.threads if threads is None else threads
            stages.append(LoopStage(spec.part_of[0], stage, own, entries))
    return video, stages


def time_loop(video: str, stages: list[LoopStage], frames: int) -> tuple[Window, Records, dict[str, float]]:
    """WARMUP + frames frames through the loop: the window, each frame's objects, ms per frame in each step."""
    clock = time.perf_counter
    spent = dict.fromkeys(["decode", *(s.name for s in stages)], 0.0)
    stamps, records = [], {}
    decoder = decoded_frames(video, WARMUP + frames)
    while True:
        t0 = clock()
        frame = next(decoder, None)
        spent["decode"] += clock() - t0
        if frame is None:
            break
        for stage in stages:
            t0 = clock()
            stage(frame)
            spent[stage.name] += clock() - t0
        records[frame.frame_num] = frame_record(frame)
        stamps.append((stamp(), len(records)))
    return Window.of(stamps, WARMUP), records, {k: v / len(records) * 1e3 for k, v in spent.items()}


# -- the benchmark ----------------------------------------------------------------------------


@dataclass
class Repeat:
    loop: Window
    graph: Window
    loop_ms: dict[str, float]
    graph_ms: dict[str, float]
    problems: list[str]

    @property
    def disturbed(self) -> bool:
        return self.loop.disturbed or self.graph.disturbed

    def summary(self, records: Records) -> str:
        loop, graph = self.loop, self.graph
        same = (f"outputs identical ({len(records)} frames, {sum(map(len, records.values()))} objects)"
                if not self.problems else f"{len(self.problems)} DIFFERENCES")  # fmt: skip
        return (f"loop {loop.fps:5.2f} fps, graph {graph.fps:5.2f} fps, ratio {graph.fps / loop.fps:4.2f}x; "
                f"CPU ms/frame loop {loop.cpu / loop.frames * 1e3:.0f}, graph {graph.cpu / graph.frames * 1e3:.0f}; "
                f"other processes {loop.others / loop.wall:.0%} / {graph.others / graph.wall:.0%} of a core; {same}"
                f"{'  DISTURBED: excluded, run again' if self.disturbed else ''}")  # fmt: skip


def bench(name: str, args: argparse.Namespace) -> None:
    """Time one graph against its loop until ``args.repeats`` repeats were undisturbed; print them and the medians."""
    pm = dsflow.PluginManager()
    pm.register(_Plugin(config_entries(args.spinning)), "benchmark")
    graph = bench_graph(GRAPHS[name], pm, args.threads, args.set)
    loop_threads = args.threads if args.loop_threads is None else args.loop_threads
    loop_spinning = args.spinning if args.loop_spinning is None else args.loop_spinning
    video, stages = loop_stages(graph, loop_threads, config_entries(loop_spinning))
    threads = {s.name: s.stage.options.threads for s in stages}
    own_threads = {s.name: s.stage.options.threads if loop_threads is None else loop_threads for s in stages}
    print(f"\n== {name}: {GRAPHS[name].relative_to(REPO)} on {Path(video).name}, {WARMUP} warm-up + {args.frames} "
          f"timed frames{'; --set ' + ' '.join(args.set) if args.set else ''}\n"
          f"ONNX Runtime intra-op threads per stage (0: its default): graph {threads}, loop {own_threads}; "
          f"allow_spinning: graph {args.spinning}, loop {loop_spinning}")  # fmt: skip
    repeats: list[Repeat] = []
    while sum(not r.disturbed for r in repeats) < args.repeats and len(repeats) < 2 * args.repeats:
        loop, loop_records, loop_ms = time_loop(video, stages, args.frames)
        graph_window, graph_records, graph_ms = time_graph(graph, args.frames)
        repeat = Repeat(loop, graph_window, loop_ms, graph_ms, differences(loop_records, graph_records))
        repeats.append(repeat)
        print(f"repeat {len(repeats)}: {repeat.summary(loop_records)}")
        for problem in repeat.problems[:10]:
            print(f"    {problem}")
    calm = [r for r in repeats if not r.disturbed] or repeats
    if len(calm) < len(repeats):
        print(f"{len(calm)} of {len(repeats)} repeats undisturbed")
    loop_fps = statistics.median(r.loop.fps for r in calm)
    graph_fps = statistics.median(r.graph.fps for r in calm)
    ratios = sorted(r.graph.fps / r.loop.fps for r in calm)
    ratio = statistics.median(ratios)
    median_ms = {side: {k: statistics.median(getattr(r, side)[k] for r in calm) for k in getattr(calm[0], side)}
                 for side in ("loop_ms", "graph_ms")}  # fmt: skip
    print(f"  wall ms/frame in each step of the loop: {_listing(median_ms['loop_ms'])}")
    print(f"  wall ms/frame in each node's code:      {_listing(median_ms['graph_ms'])}")
    identical = "identical in every repeat" if not any(r.problems for r in repeats) else "DIFFERENT (see above)"
    print(f"  per-frame loop {loop_fps:6.2f} frames/s ({1e3 / loop_fps:.1f} ms/frame)")
    print(f"  dsflow graph   {graph_fps:6.2f} frames/s ({1e3 / graph_fps:.1f} ms/frame)")
    print(f"  graph/loop     {ratio:6.2f}x (per-repeat {ratios[0]:.2f}x to {ratios[-1]:.2f}x); goal >= 1.5x: "
          f"{'met' if ratio >= 1.5 else 'missed'}; outputs {identical}")  # fmt: skip


def _listing(ms: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in ms.items() if v >= 0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", choices=("faces", "ocr", "all"), default="all", help="which graph to time")
    parser.add_argument(
        "--frames", type=int, default=192, help=f"timed frames per measurement (after {WARMUP} warm-up ones)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="undisturbed loop + graph measurements (disturbed ones are run again, up to 2x)",
    )
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads of every stage, both sides")
    parser.add_argument("--spinning", choices=SPINNING, default="default",
                        help="session.intra_op.allow_spinning of every session, both sides")  # fmt: skip
    parser.add_argument("--loop-threads", type=int, help="the loop's intra-op threads, when not the graph's")
    parser.add_argument("--loop-spinning", choices=SPINNING, help="the loop's allow_spinning, when not the graph's")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.KEY=VALUE", help="change the graph")
    args = parser.parse_args()
    os.chdir(REPO)  # graph files name their videos relative to the repository root
    print(f"python {sys.version.split()[0]}, onnxruntime {ort.__version__}, dsflow {dsflow.__version__}, "
          f"numpy {np.__version__}, {os.cpu_count()} cpus")  # fmt: skip
    for name in ("faces", "ocr") if args.graph == "all" else (args.graph,):
        bench(name, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
