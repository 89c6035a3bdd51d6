"""Engines: the ONNX Runtime backend, and opening (once per process) the engine a stage runs.

A stage's preprocess and infer nodes share one engine: the preprocess node reads the input
size, layout and dtype from it, the infer node runs it. :func:`open_engine` caches engines by
what identifies them, so a model is loaded once however many nodes use it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from dsflow.errors import ConfigError, EngineError
from dsflow.model import Engine, TensorSpec
from dsflow.plugins import hookimpl

if TYPE_CHECKING:
    from dsflow.infer.config import InferConfig
    from dsflow.plugins.registry import Registry

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
        results = self.session.run(self._names, {k: _host(v) for k, v in inputs.items()})
        return dict(zip(self._names, results))


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in (arg.shape or ()))
    return TensorSpec(arg.name, shape, np.dtype(_ORT_TYPES.get(arg.type, np.float32)))


def _host(array: Any) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)


def onnxruntime_backend(model: Any, options: Mapping[str, Any], *, device: str, stream: Any) -> Engine:
    """The built-in ``onnxruntime`` backend: ``model`` is a path, bytes or an ``onnx.ModelProto``."""
    import onnxruntime as ort

    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    session_options = ort.SessionOptions()
    for hook in options.get("custom_layers", ()):
        hook("onnxruntime", session_options)
    threads = options.get("threads", 0)
    if threads:
        session_options.intra_op_num_threads = threads
    return OnnxRuntimeEngine(model, device=device, stream=stream, options=session_options)


_cache: dict[tuple[Any, ...], Engine] = {}
_lock = threading.Lock()


def open_engine(cfg: InferConfig, registry: Registry, *, backend: str, device: str, stream: Any = None,
                threads: int = 0) -> Engine:  # fmt: skip
    """The engine of stage ``cfg``, created on first use and shared afterwards.

    With ``engine-create-func-name`` the named creator makes it (returning an engine, or a
    model for the backend); otherwise the backend loads ``onnx-file``.
    """
    key = (cfg["onnx-file"], cfg["engine-create-func-name"], cfg["custom-network-config"], backend, device,
           cfg["gpu-id"], threads)  # fmt: skip
    with _lock:
        engine = _cache.get(key)
        if engine is None:
            engine = _cache[key] = _create(cfg, registry, backend, device, stream, threads)
    return engine


def _create(cfg: InferConfig, registry: Registry, backend: str, device: str, stream: Any, threads: int) -> Engine:
    from dsflow.errors import PluginError

    try:
        make = registry.lookup("engine_backends", backend)
    except PluginError as exc:
        raise ConfigError(f"{cfg.origin}: backend: {exc}") from None
    options = {"threads": threads, "custom_layers": [r.obj for r in registry.tables["custom_layers"].values()]}
    model: Any = cfg["onnx-file"]
    creator_name = cfg["engine-create-func-name"]
    if creator_name:
        try:
            creator = registry.lookup("engine_creators", creator_name)
        except PluginError as exc:
            raise cfg.error("engine-create-func-name", str(exc)) from None
        made = creator(cfg)
        if isinstance(made, Engine):
            return made
        if made is None:
            raise cfg.error(
                "engine-create-func-name", f"{creator_name} returned nothing (expected an engine or a model)"
            )
        model = made
    return make(model, options, device=device, stream=stream)


@hookimpl
def dsflow_register_engine_backends() -> dict[str, Any]:
    return {"onnxruntime": onnxruntime_backend}


def clear_engine_cache() -> None:
    """Forget every opened engine (tests, or to reload models in a long-lived process)."""
    with _lock:
        _cache.clear()
