"""Engines: the ONNX Runtime backend, and opening (once per process) the engine a stage runs.

A stage's preprocess and infer nodes share one engine: the preprocess node reads the input
size, layout and dtype from it, the infer node runs it. :func:`open_engine` caches engines by
what identifies them, so a model is loaded once however many nodes use it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dsflow.cuda import to_numpy
from dsflow.errors import ConfigError, EngineError, PluginError
from dsflow.model import Engine, TensorSpec
from dsflow.plugins import hookimpl

if TYPE_CHECKING:
    from dsflow.infer.config import InferConfig
    from dsflow.plugins.registry import Registry

log = logging.getLogger("dsflow.nvinfer")

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(int16)": np.int16, "tensor(int32)": np.int32,
    "tensor(int64)": np.int64, "tensor(bool)": np.bool_,
}  # fmt: skip


class OnnxRuntimeEngine:
    """An ONNX model run by ONNX Runtime: on the CPU, or with the CUDA provider when installed.

    ``model`` is a path or the serialized model. With ``device='gpu'`` and
    onnxruntime-gpu installed, the CUDA provider runs on the node's stream (unverified here:
    the test GPU machine has the CPU build of onnxruntime).
    """

    def __init__(self, model: str | bytes, *, device: str = "cpu", stream: Any = None, options: Any = None) -> None:
        import onnxruntime as ort

        self.options = options or ort.SessionOptions()
        providers: list[Any] = ["CPUExecutionProvider"]
        if device == "gpu" and "CUDAExecutionProvider" in ort.get_available_providers():
            cuda: dict[str, Any] = {}
            if stream is not None:
                cuda["user_compute_stream"] = str(stream.ptr)
            providers.insert(0, ("CUDAExecutionProvider", cuda))
        try:
            self.session = ort.InferenceSession(model, sess_options=self.options, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/NoSuchFile types
            name = model if isinstance(model, str) else "<model bytes>"
            msg = f"onnxruntime cannot load {name}: {exc}"
            raise EngineError(msg) from None
        self.inputs = [_spec(a) for a in self.session.get_inputs()]
        self.outputs = [_spec(a) for a in self.session.get_outputs()]
        batch = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else None
        self.max_batch_size = batch
        self._names = [o.name for o in self.outputs]

    def infer(self, inputs: Mapping[str, Any], stream: Any = None) -> dict[str, Any]:
        results = self.session.run(self._names, {k: to_numpy(v) for k, v in inputs.items()})
        return dict(zip(self._names, results, strict=True))


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in (arg.shape or ()))
    return TensorSpec(arg.name, shape, np.dtype(_ORT_TYPES.get(arg.type, np.float32)))


def onnxruntime_backend(model: Any, options: Mapping[str, Any], *, device: str, stream: Any) -> Engine:
    """The built-in ``onnxruntime`` backend: ``model`` is a path, bytes or an ``onnx.ModelProto``.

    ``options``: ``threads`` (intra-op threads, 0 for ONNX Runtime's choice), ``custom_layers``
    (providers called with the session options) and ``custom_op_libraries`` (paths of
    custom-op libraries, registered before the model is loaded).
    """
    import onnxruntime as ort

    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    elif isinstance(model, os.PathLike):
        model = os.fspath(model)
    session_options = ort.SessionOptions()
    for path in options.get("custom_op_libraries", ()):
        session_options.register_custom_ops_library(path)
    for hook in options.get("custom_layers", ()):
        hook("onnxruntime", session_options)
    threads = options.get("threads", 0)
    if threads:
        session_options.intra_op_num_threads = threads
    return OnnxRuntimeEngine(flush_subnormal_weights(model), device=device, stream=stream, options=session_options)


SMALLEST_NORMAL = np.finfo(np.float32).tiny


def flush_subnormal_weights(model: str | bytes) -> str | bytes:
    """The model with its float32 weights below the normal range set to zero, or itself when it has none.

    x86 CPUs multiply subnormal numbers on a slow path: the age model of the faces graph has 6,667
    such weights and runs 10x slower because of them. They are below 1.2e-38, so no result changes
    (measured: the faces graph's outputs are bit-identical, 2x faster). Models with external data
    files are left alone.
    """
    import onnx
    from onnx import numpy_helper

    try:
        proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(model, load_external_data=False)
    except Exception:  # not ours to judge: ONNX Runtime reports an unreadable model
        return model
    changed = False
    for tensor in proto.graph.initializer:
        if tensor.data_type != onnx.TensorProto.FLOAT or tensor.data_location == onnx.TensorProto.EXTERNAL:
            continue
        weights = numpy_helper.to_array(tensor)
        subnormal = (weights != 0) & (np.abs(weights) < SMALLEST_NORMAL)
        if subnormal.any():
            tensor.CopyFrom(numpy_helper.from_array(np.where(subnormal, np.float32(0), weights), tensor.name))
            changed = True
    return proto.SerializeToString() if changed else model


CUSTOM_OPS_SYMBOL = "RegisterCustomOps"
"""What an ONNX Runtime custom-op library exports; such a custom-lib-path is registered with the session."""


@dataclass(frozen=True)
class ModelSource:
    """Where a stage's model comes from, resolved when the graph is loaded."""

    creator: Callable[..., Any] | None = None
    """``engine-create-func-name``: called with the config; returns an engine or a model."""
    model_parser: Callable[..., Any] | None = None
    """``model-parser-func-name``: called with ``model-file`` and the config; returns an ONNX model."""
    custom_op_libraries: tuple[str, ...] = ()


def model_source(cfg: InferConfig, registry: Registry) -> ModelSource:
    """Resolve the stage's engine creator, model parser and custom-op library by name."""
    from dsflow.infer.functions import resolve_function
    from dsflow.native import library

    creator = parser = None
    if cfg["engine-create-func-name"] and cfg["model-parser-func-name"]:
        log.warning("%s: warning: model-parser-func-name is not used: engine-create-func-name makes the model",
                    cfg.where("model-parser-func-name"))  # fmt: skip
    if cfg["engine-create-func-name"]:
        creator = resolve_function(cfg, registry, "engine_creators", "engine-create-func-name",
                                   cfg["engine-create-func-name"])  # fmt: skip
    if cfg["model-parser-func-name"]:
        parser = resolve_function(cfg, registry, "model_parsers", "model-parser-func-name",
                                  cfg["model-parser-func-name"])  # fmt: skip
    lib = cfg["custom-lib-path"]
    problem = library.load_problem(lib) if lib else None
    if problem:
        log.warning("%s: warning: %s; only functions dsflow or its plugins provide can be used",
                    cfg.where("custom-lib-path"), problem)  # fmt: skip
    ops = (lib,) if lib and library.has_symbol(lib, CUSTOM_OPS_SYMBOL) else ()
    return ModelSource(creator, parser, ops)


_cache: dict[tuple[Any, ...], Engine] = {}
_lock = threading.Lock()


def open_engine(cfg: InferConfig, registry: Registry, model: ModelSource, *, backend: str, device: str,
                stream: Any = None, threads: int = 0) -> Engine:  # fmt: skip
    """The engine of stage ``cfg``, created on first use and shared afterwards.

    With ``engine-create-func-name`` the creator makes it (returning an engine, or a model for
    the backend); with ``model-parser-func-name`` the parser turns ``model-file`` into an ONNX
    model; otherwise the backend loads ``onnx-file``.
    """
    # The functions themselves (not their names) are part of the key: two graphs may register one name differently.
    layers = tuple(r.obj for r in registry.tables["custom_layers"].values())
    key = (cfg["onnx-file"], cfg["model-file"], cfg["custom-network-config"], model, layers, backend, device,
           cfg["gpu-id"], threads)  # fmt: skip
    with _lock:
        engine = _cache.get(key)
        if engine is None:
            engine = _cache[key] = _create(cfg, registry, model, backend, device, stream, threads)
    return engine


def _create(cfg: InferConfig, registry: Registry, source: ModelSource, backend: str, device: str, stream: Any,
            threads: int) -> Engine:  # fmt: skip
    try:
        make = registry.lookup("engine_backends", backend)
    except PluginError as exc:
        raise ConfigError(f"{cfg.origin}: backend: {exc}") from None
    options = {
        "threads": threads,
        "custom_layers": [r.obj for r in registry.tables["custom_layers"].values()],
        "custom_op_libraries": source.custom_op_libraries,
    }
    model: Any = cfg["onnx-file"]
    if source.creator is not None:
        made = source.creator(cfg)
        if isinstance(made, Engine):
            return made
        if made is None:
            raise cfg.error(
                "engine-create-func-name",
                f"{cfg['engine-create-func-name']} returned nothing (expected an engine or a model)",
            )
        if make is onnxruntime_backend and not _onnx_model(made):
            lacks = ", ".join(a for a in ("inputs", "outputs", "max_batch_size", "infer") if not hasattr(made, a))
            msg = (
                f"{cfg['engine-create-func-name']} returned a value of type {type(made).__name__}: neither an engine "
                f"(it lacks {lacks}) nor an ONNX model ({ONNX_MODEL_FORMS})"
            )
            error = cfg.error("engine-create-func-name", msg)
            raise error
        model = made
    elif source.model_parser is not None:
        model = source.model_parser(cfg["model-file"], cfg)
        if model is None or (make is onnxruntime_backend and not _onnx_model(model)):
            got = "nothing" if model is None else f"a value of type {type(model).__name__}"
            msg = f"{cfg['model-parser-func-name']} returned {got} (expected an ONNX model: {ONNX_MODEL_FORMS})"
            error = cfg.error("model-parser-func-name", msg)
            raise error
    return make(model, options, device=device, stream=stream)


ONNX_MODEL_FORMS = "a ModelProto, bytes or a path"
"""What the onnxruntime backend loads, as error messages name it."""


def _onnx_model(model: Any) -> bool:
    """Whether the onnxruntime backend can load ``model``: checked first, so a wrong return value of a
    creator or model parser is reported with its config key rather than as ONNX Runtime's type error."""
    return isinstance(model, (str, bytes, os.PathLike)) or hasattr(model, "SerializeToString")


@hookimpl
def dsflow_register_engine_backends() -> dict[str, Any]:
    return {"onnxruntime": onnxruntime_backend}


def clear_engine_cache() -> None:
    """Forget every opened engine (tests, or to reload models in a long-lived process)."""
    with _lock:
        _cache.clear()
