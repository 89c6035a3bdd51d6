"""Finding, loading and describing plugins, and building the registry from their hooks."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from dsflow.errors import PluginError, PluginLoadError, did_you_mean
from dsflow.plugins import PROJECT, hookspecs
from dsflow.plugins.registry import FAMILIES, Registry

BUILTIN_PLUGINS = (
    "dsflow.nodes.sources",
    "dsflow.nodes.video",
    "dsflow.nodes.images",
    "dsflow.nodes.python_node",
    "dsflow.nodes.sinks",
    "dsflow.nodes.annotate",
    "dsflow.nodes.nvinfer",
    "dsflow.infer.engine",
    "dsflow.infer.parsers",
    "dsflow.ocr",
    "dsflow.faces",
)
"""Modules registered before any third-party plugin, exactly like one."""

AUTOLOAD_OFF_ENV = "DSFLOW_DISABLE_PLUGIN_AUTOLOAD"


@dataclass
class PluginInfo:
    """Where a plugin came from, for messages and ``dsflow plugins``."""

    name: str
    origin: str
    """``builtin``, ``entry point`` or ``graph``."""
    distribution: str = ""
    version: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``plugin 'name' (dist 1.0)`` as used in error messages."""
        dist = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"plugin {self.name!r}{dist}"


class PluginManager:
    """A typed facade over :class:`pluggy.PluginManager` for dsflow's hooks."""

    def __init__(self, *, autoload: bool | None = None) -> None:
        self._pm = pluggy.PluginManager(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        own_version = _version()
        for module_name in BUILTIN_PLUGINS:
            self._add(importlib.import_module(module_name), PluginInfo(module_name, "builtin", "dsflow", own_version))
        if autoload is None:
            autoload = not os.environ.get(AUTOLOAD_OFF_ENV)
        if autoload:
            self.load_entry_points()

    # -- loading -----------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Import and register every plugin of the ``dsflow`` entry-point group."""
        for ep in sorted(importlib.metadata.entry_points(group=PROJECT), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            dist_name, version = (dist.metadata["Name"], dist.version) if dist else ("unknown distribution", "")
            info = PluginInfo(ep.name, "entry point", dist_name, version)
            if ep.name in self._info:
                first = self._info[ep.name]
                if (first.distribution, first.version) == (dist_name, version):
                    continue  # the same distribution seen twice on sys.path
                msg = f"{info.label}: the plugin name {ep.name!r} is already taken by {first.label}"
                raise PluginError(msg)
            try:
                plugin = ep.load()
            except Exception as exc:
                msg = f"{info.label} failed to import ({ep.value}): {type(exc).__name__}: {exc}"
                raise PluginLoadError(msg) from exc
            self._add(plugin, info)

    def load_module(self, spec: str, base_dir: Path | None = None, where: str = "") -> None:
        """Register a plugin named in a graph: a module (``pkg.mod``) or a file (``./my_plugin.py``)."""
        prefix = f"{where}: " if where else ""
        if spec in self._info:
            return
        try:
            if spec.endswith(".py"):
                module = _import_file(Path(base_dir or ".") / spec)
            else:
                module = importlib.import_module(spec)
        except FileNotFoundError as exc:
            msg = f"{prefix}plugin {spec!r}: file not found ({exc.filename})"
            raise PluginLoadError(msg) from exc
        except Exception as exc:
            msg = f"{prefix}plugin {spec!r} failed to import: {type(exc).__name__}: {exc}"
            raise PluginLoadError(msg) from exc
        if self._pm.is_registered(module):
            return  # already loaded, e.g. through its entry point
        self._add(module, PluginInfo(spec, "graph", *_distribution_of(module)))

    def register(self, plugin: Any, name: str, distribution: str = "", version: str = "") -> None:
        """Register a plugin object directly (tests, embedding applications)."""
        self._add(plugin, PluginInfo(name, "api", distribution, version))

    def _add(self, plugin: Any, info: PluginInfo) -> None:
        try:
            self._pm.register(plugin, name=info.name)
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self._pm.unregister(name=info.name)
            msg = f"{info.label}: {exc}"
            raise PluginError(msg) from exc
        except ValueError as exc:  # pluggy: name or object already registered
            msg = f"{info.label}: {exc}"
            raise PluginError(msg) from exc
        self._info[info.name] = info
        self._registry = None

    # -- what the plugins give ---------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """Everything the registered plugins provide, by name (built on first use)."""
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for family in FAMILIES:
            caller = getattr(self._pm.hook, family.hook)
            for impl in caller.get_hookimpls():  # registration order (pluggy calls them in reverse)
                info = self._info[impl.plugin_name]
                try:
                    result = impl.function()
                except Exception as exc:
                    msg = f"{info.label}: hook {family.hook} failed: {type(exc).__name__}: {exc}"
                    raise PluginError(msg) from exc
                for name in registry.add(family, result, info):
                    info.provides.setdefault(family.title, []).append(name)
        return registry

    def plugins(self) -> list[PluginInfo]:
        """The registered plugins in registration order, with what each provides."""
        _ = self.registry  # fills PluginInfo.provides
        return list(self._info.values())

    def plugin_names(self) -> Iterable[str]:
        """Names of the registered plugins."""
        return self._info.keys()

    def node_type(self, kind: str) -> type:
        """The node class registered as ``kind``; raises with close matches when unknown."""
        nodes = self.registry.nodes
        if kind not in nodes:
            hint = did_you_mean(kind, nodes) or f" (known types: {', '.join(sorted(nodes))})"
            msg = f"unknown node type {kind!r}{hint}"
            raise PluginError(msg)
        return nodes[kind].obj  # type: ignore[no-any-return]


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    name = f"dsflow_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _distribution_of(module: ModuleType) -> tuple[str, str]:
    top = module.__name__.split(".")[0]
    for dist_name in importlib.metadata.packages_distributions().get(top, []):
        return dist_name, importlib.metadata.version(dist_name)
    return "", ""


def _version() -> str:
    from dsflow import __version__

    return __version__
