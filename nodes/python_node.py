"""``python``: call a function of your own on every batch, named as ``module:function``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsflow import Batch, Node, NodeContext, hookimpl, param
from dsflow.errors import ConfigError


@dataclass(frozen=True)
class PythonParams:
    """Parameters of the ``python`` node."""

    function: str = param(
        doc="What to call, as 'package.module:function' or 'path/to/file.py:function' (relative to the current folder)."
    )
    kwargs: dict[str, Any] = param(default_factory=dict, doc="Keyword arguments passed on every call.")
    host_only: bool = param(
        False, doc="The function reads and writes metadata only, never device arrays: on a GPU, skip stream ordering."
    )

    def __post_init__(self) -> None:
        target, _, name = self.function.rpartition(":")
        if not target or not name.isidentifier():
            msg = f"parameter 'function' must look like 'module:function' (got {self.function!r})"
            raise ValueError(msg)


class PythonNode(Node):
    """Calls ``function(batch, **kwargs)`` for each batch.

    The function may change the batch in place and return ``None`` (the batch goes on), or
    return a new :class:`dsflow.Batch`. If it has a parameter named ``ctx`` it also gets
    the :class:`dsflow.NodeContext` (its CUDA stream and array module on a GPU).
    """

    kind = "python"
    Params = PythonParams
    _call: Callable[..., Any]

    def __init__(self, name: str, params: PythonParams) -> None:
        super().__init__(name, params)
        self.host_only = params.host_only

    def start(self, ctx: NodeContext) -> None:
        function = load_function(self.params.function)
        kwargs = dict(self.params.kwargs)
        if "ctx" in inspect.signature(function).parameters:
            kwargs["ctx"] = ctx
        self._call = lambda batch: function(batch, **kwargs)

    def process(self, batch: Batch, ctx: NodeContext) -> Batch | None:
        result = self._call(batch)
        if result is None:
            return batch
        if not isinstance(result, Batch):
            msg = f"{self.params.function} must return a Batch or None (got {type(result).__name__})"
            raise TypeError(msg)
        return result


def load_function(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``file.py:function``."""
    target, _, name = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            path = Path(target)
            module_name = f"dsflow_user_{path.stem}"
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            if loader_spec is None or loader_spec.loader is None or not path.is_file():
                msg = f"cannot import {spec!r}: file {target!r} not found"
                raise ConfigError(msg)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[module_name] = module
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ImportError as exc:
        msg = f"cannot import {spec!r}: {exc}"
        raise ConfigError(msg) from exc
    function = getattr(module, name, None)
    if not callable(function):
        msg = f"cannot import {spec!r}: module {target!r} has no function {name!r}"
        raise ConfigError(msg)
    return function  # type: ignore[no-any-return]


@hookimpl
def dsflow_register_nodes() -> list[type]:
    return [PythonNode]
