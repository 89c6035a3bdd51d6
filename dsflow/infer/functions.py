"""Custom functions by name: a plugin's Python implementation first, then ``custom-lib-path``.

Every ``*-func-name`` key of a stage resolves here when the graph is loaded, so a misspelt
name or a missing symbol is reported by ``dsflow validate`` with the key's file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dsflow.errors import PluginError
from dsflow.native import library

if TYPE_CHECKING:
    from dsflow.infer.config import InferConfig
    from dsflow.plugins.registry import Registry

INPUT_INIT_SYMBOL = "NvDsInferInitializeInputLayers"
"""nvinfer calls this function of the custom library, when it exists, to fill non-image inputs."""


def resolve_function(cfg: InferConfig, registry: Registry, family: str, key: str, name: str) -> Callable[..., Any]:
    """The implementation of ``name`` (configured with ``key``) in ``family``; errors list what exists.

    A Python function with a ``for_stage`` attribute is configured for this stage first: its
    ``for_stage(config)`` returns what is called (e.g. a decoder holding the model's character table).
    """
    try:
        function = registry.lookup(family, name)
    except PluginError as exc:
        missing = exc
    else:
        configure = getattr(function, "for_stage", None)
        return configure(cfg) if configure is not None else function  # type: ignore[no-any-return]
    lib = cfg["custom-lib-path"]
    if not lib:
        raise cfg.error(key, str(missing))
    try:
        return library.resolve(lib, name, family)
    except PluginError as exc:
        raise cfg.error(key, f"{missing}; and in custom-lib-path: {exc}") from None


def input_initializer(cfg: InferConfig, registry: Registry) -> Callable[..., Any] | None:
    """``input-init-func-name``, else the custom library's ``NvDsInferInitializeInputLayers``, else None."""
    name = cfg["input-init-func-name"]
    if name:
        return resolve_function(cfg, registry, "input_initializers", "input-init-func-name", name)
    lib = cfg["custom-lib-path"]
    if lib and library.has_symbol(lib, INPUT_INIT_SYMBOL):
        return library.resolve(lib, INPUT_INIT_SYMBOL, "input_initializers")
    return None
