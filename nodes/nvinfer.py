"""nvinfer as graph nodes: ``nvinfer`` (one node per config) and its stages.

``nvinfer`` expands, when the graph is loaded, into ``nvinfer.preprocess`` →
``nvinfer.infer`` → ``nvinfer.parse`` named ``NAME/preprocess``, ``NAME/infer`` and
``NAME/parse``; each stage runs in its own thread, so preprocessing, inference and parsing of
consecutive batches overlap. The stages can also be written separately with the same params.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsflow import Attribute, Batch, NodeContext, ObjectMeta, hookimpl, param
from dsflow.errors import ConfigError, EngineError, GraphError
from dsflow.graph import NodeSpec
from dsflow.infer import config as nvconfig
from dsflow.infer.attach import attach_attributes, attach_detections, attach_detections_per_frame, label_attributes
from dsflow.infer.config import InferConfig
from dsflow.infer.engine import ModelSource, model_source, open_engine
from dsflow.infer.functions import input_initializer, resolve_function
from dsflow.infer.history import ObjectHistory, TrackedObject
from dsflow.infer.labels import read_labels
from dsflow.infer.preprocess import NCHW, Geometry, PreprocessSpec, preprocess, preprocess_spec, source_rects
from dsflow.infer.stage import (
    Samples,
    SegmentationMeta,
    TensorMeta,
    segmentation_key,
    stage_key,
    tensor_meta_key,
)
from dsflow.model import DetectionParams, Detections, Engine, Layer, NetworkInfo
from dsflow.node import Node
from dsflow.params import build_params
from dsflow.plugins.registry import Registry
from dsflow.yamlfile import MarkedDict

log = logging.getLogger("dsflow.nvinfer")

MIN_OBJECT_SIZE = 16
"""nvinfer never crops objects smaller than this (``input-object-min-*`` raise it)."""

# Parser family and default name per network-type (nvinfer's built-in parsers when no name is set).
PARSERS = {
    nvconfig.DETECTOR: ("bbox_parsers", "parse-bbox-func-name", "detectnet"),
    nvconfig.CLASSIFIER: ("classifier_parsers", "parse-classifier-func-name", "softmax"),
    nvconfig.SEGMENTATION: ("segmentation_parsers", "parse-segmentation-func-name", "argmax"),
    nvconfig.INSTANCE_SEGMENTATION: ("instance_mask_parsers", "parse-bbox-instance-mask-func-name", None),
}


@dataclass(frozen=True)
class NvInferParams:
    """The dsflow parameters of the nvinfer node types.

    Any nvinfer ``[property]`` key (``onnx-file``, ``network-type``...) can be written next to
    them, and ``class-attrs-all`` / ``class-attrs-N`` as mappings; they override the keys of
    ``config``.
    """

    config: str | None = param(None, doc="DeepStream nvinfer config file (key-file .txt, or .yml/.yaml).")
    backend: str = param("onnxruntime", doc="Engine backend that runs onnx-file.")
    threads: int = param(0, doc="Intra-op threads of the onnxruntime backend; 0 lets it choose (one per core).")


OWN_PARAMS = ("config", "backend", "threads")
"""The params of nvinfer nodes that are not nvinfer keys."""


@dataclass(frozen=True)
class Stage:
    """One inference stage as its three nodes share it: checked config, custom functions, labels."""

    config: InferConfig
    options: NvInferParams
    registry: Registry
    parser: Callable[..., Any] | None
    labels: list[list[str]]
    model: ModelSource
    initializer: Callable[..., Any] | None = None
    """Fills the model's non-image inputs (``input-init-func-name``, or the library's
    ``NvDsInferInitializeInputLayers``)."""
    crop: Callable[..., Any] | None = None
    """``crop-func-name``: each object's quadrilateral to warp into the network input."""

    def engine(self, ctx: NodeContext) -> Engine:
        return open_engine(self.config, self.registry, self.model, backend=self.options.backend, device=ctx.device,
                           stream=ctx.stream, threads=self.options.threads)  # fmt: skip


def stage_from_params(values: MarkedDict, owner: str, registry: Registry) -> Stage:
    """Check a node's params: dsflow's own, then the nvinfer keys of its config file and inline."""
    own = {k: v for k, v in values.items() if k in OWN_PARAMS}
    own_values = MarkedDict(own)
    own_values.where, own_values.key_where, own_values.value_where = values.where, values.key_where, values.value_where
    options: NvInferParams = build_params(NvInferParams, own_values, owner)
    base_dir = Path(values.where.file).parent
    sources = []
    if options.config:
        path = options.config if Path(options.config).is_absolute() else str(base_dir / options.config)
        if not Path(path).is_file():
            msg = f"{values.at('config')}: {owner}: nvinfer config file not found: {path}"
            raise ConfigError(msg)
        sources.append(nvconfig.read_config_file(path))
    sources.append(nvconfig.read_inline(values, f"{values.where.file}", base_dir, skip=OWN_PARAMS))
    cfg = nvconfig.build_config(*sources, origin=sources[0].origin)
    if options.backend not in registry.tables["engine_backends"]:
        known = ", ".join(sorted(registry.tables["engine_backends"]))
        msg = f"{values.at('backend')}: {owner}: unknown backend {options.backend!r} (available: {known})"
        raise ConfigError(msg)
    return Stage(
        cfg, options, registry, _parser(cfg, registry), read_labels(cfg["labelfile-path"]),
        model_source(cfg, registry), input_initializer(cfg, registry), _crop_function(cfg, registry),
    )  # fmt: skip


def _crop_function(cfg: InferConfig, registry: Registry) -> Callable[..., Any] | None:
    name = cfg["crop-func-name"]
    if not name:
        return None
    if not cfg.secondary:
        raise cfg.error("crop-func-name", "crops objects: it needs process-mode=2 (secondary)")
    return resolve_function(cfg, registry, "crop_functions", "crop-func-name", name)


def _parser(cfg: InferConfig, registry: Registry) -> Callable[..., Any] | None:
    if cfg.network_type not in PARSERS:
        return None  # network-type 100: tensors only
    family, key, default = PARSERS[cfg.network_type]
    return resolve_function(cfg, registry, family, key, cfg[key] or default)


class _StageNode(Node):
    Params = NvInferParams

    @classmethod
    def parse_params(cls, values: MarkedDict, owner: str, registry: Registry) -> Stage:
        return stage_from_params(values, owner, registry)

    @classmethod
    def check_graph(cls, specs: list[NodeSpec]) -> None:
        """Each stage needs its own gie-unique-id: objects, attributes and batch data are keyed by it."""
        seen: dict[int, NodeSpec] = {}
        for spec in specs:
            uid = spec.params.config.unique_id
            first = seen.setdefault(uid, spec)
            if first is not spec:
                name, first_name = (s.part_of[0] if s.part_of else s.name for s in (spec, first))
                msg = (
                    f"{spec.where}: node {name!r}: gie-unique-id {uid} is already used by node {first_name!r} "
                    f"(line {first.where.line}); give each inference stage its own id"
                )
                raise GraphError(msg)

    @property
    def stage(self) -> Stage:
        return self.params  # type: ignore[no-any-return]

    @property
    def key(self) -> str:
        return stage_key(self.stage.config.unique_id)


class NvInferNode(_StageNode):
    """Runs a model the way DeepStream's Gst-nvinfer does, from an nvinfer config.

    ``params: {config: pgie.txt}`` is enough for a DeepStream config; keys can also be written
    inline. Expands into ``NAME/preprocess`` → ``NAME/infer`` → ``NAME/parse``.
    """

    kind = "nvinfer"

    @classmethod
    def expand(cls, params: Stage) -> list[tuple[str, type[Node], Any]]:
        return [("preprocess", PreprocessNode, params), ("infer", InferNode, params), ("parse", ParseNode, params)]


class PreprocessNode(_StageNode):
    """Crops, scales and normalizes frames (primary) or objects (secondary) into the network input."""

    kind = "nvinfer.preprocess"

    def start(self, ctx: NodeContext) -> None:
        cfg = self.stage.config
        engine = self.stage.engine(ctx)
        self.spec, self.input_name = preprocess_spec(cfg, engine)
        self.network = NetworkInfo(self.spec.width, self.spec.height, self.spec.channels)
        self.batches_seen = 0
        self.history = None  # a new one on every run: the Stage outlives runs
        if cfg.secondary and cfg.network_type in (nvconfig.CLASSIFIER, nvconfig.DETECTOR):
            self.history = ObjectHistory(classifier=cfg.network_type == nvconfig.CLASSIFIER,
                                         interval=cfg["secondary-reinfer-interval"],
                                         async_mode=_async_classifier(cfg))  # fmt: skip
        if _async_classifier(cfg):
            log.warning("%s: classifier-async-mode skips untracked objects, as nvinfer does: without a tracker, "
                        "nothing is classified", cfg.where("classifier-async-mode"))  # fmt: skip

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        cfg = self.stage.config
        entries: list[TrackedObject | None] = []
        cached: list[tuple[int, ObjectMeta, TrackedObject]] = []
        if cfg.secondary:
            rows, entries, cached = self._select_objects(batch)
        else:
            due = self.batches_seen % (cfg["interval"] + 1) == 0
            self.batches_seen += 1
            rows = [(i, None) for i in range(len(batch.frames))] if due else []
        if not rows:
            if cached:  # nothing to infer, but the parse node attaches earlier results
                none = np.zeros((0, 2))
                batch.tensors[self.key] = Samples(cfg.unique_id, self.network, [], [], Geometry(none, none, none), {},
                                                  cached=cached)  # fmt: skip
            return batch
        frame_index = [i for i, _ in rows]
        objects = [obj for _, obj in rows]
        host = {i: ctx.to_host(batch.frames[i].image) for i in dict.fromkeys(frame_index)}
        frames = [batch.frames[i] for i in frame_index]
        tensor, geometry, network = network_input(self.stage, self.spec, frames, [host[i] for i in frame_index],
                                                  objects)  # fmt: skip
        inputs = {self.input_name: tensor}
        batch.tensors[self.key] = Samples(
            cfg.unique_id, network, frame_index, objects, geometry, inputs, entries=entries, cached=cached
        )
        return batch

    def end_stream(self, source_id: int, ctx: NodeContext) -> None:
        if self.history is not None:
            self.history.drop_source(source_id)

    def _select_objects(
        self, batch: Batch
    ) -> tuple[list[tuple[int, ObjectMeta]], list[TrackedObject | None], list[tuple[int, ObjectMeta, TrackedObject]]]:
        """nvinfer's ``should_infer_object`` for every object of every frame, then its re-inference rule
        for tracked ones: the rows, their history entries, and the objects that get an earlier result."""
        eligible = object_selector(self.stage.config)
        if self.history is None:  # segmentation, instance segmentation, tensors only: every object, every time
            rows = [(i, obj) for i, frame in enumerate(batch.frames) for obj in frame.objects if eligible(obj)]
            return rows, [], []
        rows, entries, cached = [], [], []
        for i, frame in enumerate(batch.frames):
            infer, reattach = self.history.select(frame, eligible)
            rows += [(i, obj) for obj, _ in infer]
            entries += [entry for _, entry in infer]
            cached += [(i, obj, entry) for obj, entry in reattach]
        self.history.end_batch()
        return rows, entries, cached


def network_input(
    stage: Stage, spec: PreprocessSpec, frames: list[Any], images: list[Any], objects: list[ObjectMeta | None]
) -> tuple[np.ndarray, Geometry, NetworkInfo]:
    """The network input of one run: whole frames (primary) or each object's crop (secondary, warped
    from the crop function's quads when there is one), its geometry, and the run's network size."""
    cfg = stage.config
    sizes = np.array([(f.width, f.height) for f in frames], np.int64)
    quads = None
    if cfg.secondary:
        rects = np.array([(o.left, o.top, o.width, o.height) for o in objects], np.float64)  # type: ignore[union-attr]
        origins = rects[:, :2]
        if stage.crop is not None:
            quads = _crop_quads(stage, objects, frames, NetworkInfo(spec.width, spec.height, spec.channels))
    else:
        rects = np.concatenate([np.zeros_like(sizes), sizes], axis=1).astype(np.float64)
        origins = np.zeros((len(frames), 2))
    tensor, geometry = preprocess(images, source_rects(rects, sizes), origins, spec, quads)
    width = int(tensor.shape[3 if spec.layout == NCHW else 2])  # with fit-batch-width, this run's own
    return tensor, geometry, NetworkInfo(width, spec.height, spec.channels)


def _crop_quads(stage: Stage, objects: list[Any], frames: list[Any], network: NetworkInfo) -> np.ndarray:
    """The crop function's quadrilaterals, checked: a wrong shape is named with its key."""
    cfg = stage.config
    quads = np.asarray(stage.crop(objects, frames, network), np.float64)  # type: ignore[misc]
    if quads.shape != (len(objects), 4, 2) or not np.isfinite(quads).all():
        msg = (f"{cfg.where('crop-func-name')}: crop-func-name: {cfg['crop-func-name']!r} returned "
               f"{'non-finite values' if quads.shape == (len(objects), 4, 2) else f'shape {quads.shape}'} "
               f"(expected ({len(objects)}, 4, 2) frame points)")  # fmt: skip
        raise EngineError(msg)
    return quads


def object_selector(cfg: InferConfig) -> Callable[[ObjectMeta], bool]:
    """nvinfer's ``should_infer_object`` for a secondary stage: ``operate-on-*`` and ``input-object-*``."""
    gie = cfg["operate-on-gie-id"]
    classes = set(cfg["operate-on-class-ids"] or ())
    min_w = max(MIN_OBJECT_SIZE, cfg["input-object-min-width"])
    min_h = max(MIN_OBJECT_SIZE, cfg["input-object-min-height"])
    max_w, max_h = cfg["input-object-max-width"], cfg["input-object-max-height"]

    def eligible(obj: ObjectMeta) -> bool:
        return ((gie < 0 or obj.component_id == gie)
                and obj.width >= min_w and obj.height >= min_h
                and not (max_w > 0 and obj.width > max_w) and not (max_h > 0 and obj.height > max_h)
                and (not classes or obj.class_id in classes))  # fmt: skip

    return eligible


def _async_classifier(cfg: InferConfig) -> bool:
    """``classifier-async-mode`` counts for secondary classifiers only (nvinfer turns it off otherwise)."""
    return cfg.secondary and cfg["classifier-async-mode"] and cfg.network_type == nvconfig.CLASSIFIER


class InferNode(_StageNode):
    """Runs the stage's engine on the rows the preprocess node prepared, ``batch-size`` at a time."""

    kind = "nvinfer.infer"

    def start(self, ctx: NodeContext) -> None:
        self.engine = self.stage.engine(ctx)
        cfg = self.stage.config
        self.limit = min(cfg["batch-size"], self.engine.max_batch_size or cfg["batch-size"])
        self._check_output_names(cfg)
        self.extra_inputs = self._initialize_inputs(cfg, ctx)

    def _initialize_inputs(self, cfg: InferConfig, ctx: NodeContext) -> dict[str, np.ndarray]:
        """The non-image inputs, filled once for the largest batch (nvinfer's ``NvDsInferInitializeInputLayers``)."""
        others = self.engine.inputs[1:]
        if not others:
            return {}
        names = ", ".join(s.name for s in others)
        if self.stage.initializer is None:
            raise ConfigError(
                f"{cfg.origin}: the model has inputs besides the image ({names}): set input-init-func-name, or give "
                "a custom-lib-path that exports NvDsInferInitializeInputLayers"
            )
        rows = self.engine.max_batch_size or cfg["batch-size"]
        layers = []
        for index, spec in enumerate(others, start=1):
            if None in spec.sample_shape:
                raise ConfigError(f"{cfg.origin}: the non-image input {spec.name!r} {spec.shape} has dynamic sizes")
            layers.append(Layer(spec.name, np.zeros((rows, *spec.sample_shape), spec.dtype), index, is_input=True))
        image, _ = preprocess_spec(cfg, self.engine)
        network = NetworkInfo(image.width, image.height, image.channels)
        filled = self.stage.initializer(layers, network, rows, xp=np, stream=ctx.stream)
        missing = [s.name for s in others if s.name not in filled]
        if missing:
            raise ConfigError(f"{cfg.origin}: the input initializer did not fill {', '.join(missing)}")
        return {s.name: np.asarray(filled[s.name], s.dtype) for s in others}

    def _check_output_names(self, cfg: InferConfig) -> None:
        names = {o.name for o in self.engine.outputs}
        missing = [n for n in cfg["output-blob-names"] or () if n not in names]
        if missing:
            log.warning("%s: warning: output-blob-names %s are not outputs of the model (outputs: %s)",
                        cfg.where("output-blob-names"), ", ".join(missing), ", ".join(sorted(names)))  # fmt: skip

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        samples = batch.tensors.get(self.key)
        if samples is None or not len(samples):  # no rows: only earlier results to attach
            return batch
        (name, x), *_ = samples.inputs.items()
        fixed = self.engine.max_batch_size
        parts: list[dict[str, Any]] = []
        for start in range(0, len(x), self.limit):
            chunk = x[start : start + self.limit]
            n = len(chunk)
            if fixed is not None and n < fixed:  # a fixed-batch model: pad the last chunk
                chunk = np.concatenate([chunk, np.zeros((fixed - n, *chunk.shape[1:]), chunk.dtype)])
            feed = {name: chunk, **{k: v[: len(chunk)] for k, v in self.extra_inputs.items()}}
            out = self.engine.infer(feed, ctx.stream)
            parts.append({k: v[:n] for k, v in out.items()})
        samples.outputs = parts[0] if len(parts) == 1 else {k: _join_chunks([p[k] for p in parts]) for k in parts[0]}
        return batch


class ParseNode(_StageNode):
    """Turns the outputs into objects (detectors), attributes (classifiers) or class maps (segmentation).

    Detections go through the parser, nvinfer's clustering and filters, and back to frame
    coordinates (the letterbox undone); secondary detectors' objects get the input object as parent.
    """

    kind = "nvinfer.parse"

    def start(self, ctx: NodeContext) -> None:
        cfg = self.stage.config
        attrs = cfg.class_attrs
        self.params_for_parser = DetectionParams(
            len(attrs),
            np.array([a.pre_cluster_threshold for a in attrs], np.float32),
            np.array([a.post_cluster_threshold for a in attrs], np.float32),
        )
        if cfg.network_type == nvconfig.DETECTOR and not attrs:
            log.warning("%s: warning: num-detected-classes is 0, so every detection is dropped (as in nvinfer)",
                        cfg.where("num-detected-classes"))  # fmt: skip
        self.async_mode = _async_classifier(cfg)
        per_frame = cfg["cluster-per-frame"] and cfg.secondary and cfg.network_type == nvconfig.DETECTOR
        self.per_frame: list[tuple[int, Detections]] | None = [] if per_frame else None

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        samples: Samples | None = batch.tensors.pop(self.key, None)
        if samples is None:
            return batch
        cfg = self.stage.config
        outputs = {k: ctx.to_host(v) for k, v in samples.outputs.items()}
        names = list(outputs)
        attach = {
            nvconfig.DETECTOR: self._detections,
            nvconfig.INSTANCE_SEGMENTATION: self._detections,
            nvconfig.CLASSIFIER: self._attributes,
            nvconfig.SEGMENTATION: self._segmentation,
        }.get(cfg.network_type)
        # Earlier results reach the objects of a frame after that frame's rows are parsed, or before
        # them in async mode, so an object never gets the result computed for its own frame there.
        pending = deque(samples.cached)
        ahead = 1 if self.async_mode else 0
        parsed = self._parse(outputs, samples, ctx) if attach is not None else []
        for row in range(len(samples)):
            while pending and pending[0][0] < samples.frame_index[row] + ahead:
                self._reattach(batch, *pending.popleft())
            layers = [Layer(name, outputs[name][row], i) for i, name in enumerate(names)]
            frame = batch.frames[samples.frame_index[row]]
            obj = samples.objects[row]
            if cfg["output-tensor-meta"] and not self.async_mode:  # nvinfer attaches none in async mode
                meta = TensorMeta(cfg.unique_id, {lay.name: lay.data for lay in layers}, samples.network,
                                  cfg["maintain-aspect-ratio"])  # fmt: skip
                (obj.tensors if obj is not None else frame.tensors)[tensor_meta_key(cfg.unique_id)] = meta
            if attach is not None:
                attach(parsed[row], samples, row, frame, obj)
        while pending:
            self._reattach(batch, *pending.popleft())
        if self.per_frame:
            attach_detections_per_frame(self.stage.config, self.stage.labels, batch.frames, self.per_frame,
                                        samples.geometry, samples.frame_index, samples.objects)  # fmt: skip
            self.per_frame.clear()
        return batch

    def _parse(self, outputs: dict[str, Any], samples: Samples, ctx: NodeContext) -> list[Any]:
        """The parser's result for every row: one call per row, or one per batch when it can."""
        cfg = self.stage.config
        parser = self.stage.parser
        assert parser is not None
        kind = cfg.network_type
        if kind in (nvconfig.DETECTOR, nvconfig.INSTANCE_SEGMENTATION):
            args: tuple[Any, ...] = (self.params_for_parser,)
        elif kind == nvconfig.CLASSIFIER:
            args = (cfg["classifier-threshold"],)
        else:
            args = (cfg["segmentation-threshold"],)
        extra = {"order": cfg["segmentation-output-order"]} if kind == nvconfig.SEGMENTATION else {}
        names = list(outputs)
        whole_batch = getattr(parser, "parse_batch", None)  # library parsers of dsflow's C ABI
        if whole_batch is not None:
            layers = [Layer(name, outputs[name], i) for i, name in enumerate(names)]
            results = list(whole_batch(layers, len(samples), samples.network, *args, xp=np, stream=ctx.stream, **extra))
        else:
            results = [
                parser([Layer(name, outputs[name][row], i) for i, name in enumerate(names)], samples.network, *args,
                       xp=np, stream=ctx.stream, **extra)
                for row in range(len(samples))
            ]  # fmt: skip
        self._check_results(results, len(samples))
        return results

    def _check_results(self, results: list[Any], rows: int) -> None:
        """A parser returning the wrong thing is named, instead of failing later in dsflow's code."""
        cfg = self.stage.config
        _, key, default = PARSERS[cfg.network_type]
        expected, ok = {
            nvconfig.DETECTOR: ("Detections", lambda r: isinstance(r, Detections)),
            nvconfig.INSTANCE_SEGMENTATION: ("Detections", lambda r: isinstance(r, Detections)),
            nvconfig.CLASSIFIER: ("a list of Attribute", lambda r: isinstance(r, list)),
            nvconfig.SEGMENTATION: ("(class_map, probabilities)", lambda r: isinstance(r, tuple) and len(r) == 2),
        }[cfg.network_type]
        problem = ""
        if len(results) != rows:
            problem = f"returned {len(results)} results for {rows} rows"
        else:
            bad = next((i for i, r in enumerate(results) if not ok(r)), None)
            if bad is not None:
                problem = f"returned {type(results[bad]).__name__} (expected {expected})"
        if problem:
            msg = f"{cfg.where(key)}: {key}: the parser {cfg[key] or default!r} {problem}"
            raise EngineError(msg)

    def _reattach(self, batch: Batch, frame_index: int, obj: ObjectMeta, entry: TrackedObject) -> None:
        """A tracked object not inferred now gets its latest result again."""
        self._attach(batch.frames[frame_index], obj, entry.cached())

    def _detections(self, dets: Detections, samples: Samples, row: int, frame: Any, parent: Any) -> None:
        if self.per_frame is not None:  # clustered with the other objects' detections once the batch is parsed
            self.per_frame.append((row, dets))
            return
        attach_detections(self.stage.config, self.stage.labels, frame, dets, samples.geometry, row, parent)

    def _attributes(self, attributes: list[Attribute], samples: Samples, row: int, frame: Any, obj: Any) -> None:
        label_attributes(self.stage.config, self.stage.labels, attributes)
        entry = samples.entries[row] if samples.entries else None
        if entry is not None:
            entry.store(attributes)
        if not self.async_mode:  # async: the object gets it when it shows up again
            self._attach(frame, obj, attributes)

    def _attach(self, frame: Any, obj: ObjectMeta | None, attributes: list[Attribute]) -> None:
        attach_attributes(self.stage.config, frame, obj, attributes)

    def _segmentation(self, result: tuple[Any, Any], samples: Samples, row: int, frame: Any, obj: Any) -> None:
        cfg = self.stage.config
        class_map, probabilities = result
        shape = next(iter(samples.outputs.values())).shape[1:]
        classes = shape[0] if cfg["segmentation-output-order"] == NCHW else shape[-1]
        meta = SegmentationMeta(cfg.unique_id, int(classes), class_map, probabilities)
        (obj.tensors if obj is not None else frame.tensors)[segmentation_key(cfg.unique_id)] = meta


def _join_chunks(chunks: list[np.ndarray]) -> np.ndarray:
    """One output of several inference runs, batch-first. Outputs whose size changes between runs (a
    variable number of candidates) are zero-padded to the largest, as fixed-size outputs pad unused rows."""
    largest = np.max([c.shape[1:] for c in chunks], axis=0)
    padded = [np.pad(c, [(0, 0), *((0, int(n - m)) for n, m in zip(largest, c.shape[1:], strict=True))])
              for c in chunks]  # fmt: skip
    return np.concatenate(padded)


@hookimpl
def dsflow_register_nodes() -> list[type]:
    return [NvInferNode, PreprocessNode, InferNode, ParseNode]
