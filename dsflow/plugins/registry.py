"""The registry: every named thing plugins provide, one table per extension family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dsflow.errors import PluginError, did_you_mean
from dsflow.node import Node

if TYPE_CHECKING:
    from dsflow.plugins.manager import PluginInfo


@dataclass(frozen=True)
class Family:
    """One extension family: the hook that fills it and the config key that chooses from it."""

    key: str
    hook: str
    title: str
    chosen_by: str


FAMILIES = (
    Family("nodes", "dsflow_register_nodes", "node types", "type"),
    Family("bbox_parsers", "dsflow_register_bbox_parsers", "bbox parsers", "parse-bbox-func-name"),
    Family(
        "classifier_parsers", "dsflow_register_classifier_parsers", "classifier parsers", "parse-classifier-func-name"
    ),
    Family(
        "instance_mask_parsers",
        "dsflow_register_instance_mask_parsers",
        "instance mask parsers",
        "parse-bbox-instance-mask-func-name",
    ),
    Family(
        "segmentation_parsers",
        "dsflow_register_segmentation_parsers",
        "segmentation parsers",
        "parse-segmentation-func-name",
    ),
    Family("engine_backends", "dsflow_register_engine_backends", "engine backends", "backend"),
    Family("engine_creators", "dsflow_register_engine_creators", "engine creators", "engine-create-func-name"),
    Family("model_parsers", "dsflow_register_model_parsers", "model parsers", "model-parser-func-name"),
    Family(
        "input_initializers",
        "dsflow_register_input_initializers",
        "input initializers",
        "input-init-func-name",
    ),
    Family("crop_functions", "dsflow_register_crop_functions", "crop functions", "crop-func-name"),
    Family("custom_layers", "dsflow_register_custom_layers", "custom layers", "(all, before each engine build)"),
)


@dataclass(frozen=True)
class Registered:
    """One registered object and the plugin that gave it."""

    name: str
    obj: Any
    plugin: PluginInfo


class Registry:
    """Tables of named implementations; ``registry.nodes["sink.jsonl"].obj`` is a class."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Registered]] = {family.key: {} for family in FAMILIES}

    @property
    def nodes(self) -> dict[str, Registered]:
        """Node types by ``kind``."""
        return self.tables["nodes"]

    def lookup(self, family_key: str, name: str) -> Any:
        """The implementation registered as ``name``; the error lists what is available."""
        table = self.tables[family_key]
        if name not in table:
            family = next(f for f in FAMILIES if f.key == family_key)
            known = ", ".join(sorted(table)) or "none"
            msg = f"unknown {family.title[:-1]} {name!r}{did_you_mean(name, table)} (available: {known})"
            raise PluginError(msg)
        return table[name].obj

    def add(self, family: Family, result: Any, plugin: PluginInfo) -> list[str]:
        """Add what one hook implementation returned; returns the names added."""
        if result is None:
            return []
        if family.key == "nodes":
            if not isinstance(result, (list, tuple)):
                msg = f"{plugin.label}: hook {family.hook} must return a list of Node subclasses (got {result!r})"
                raise PluginError(msg)
            items = [(_node_kind(cls, plugin), cls) for cls in result]
        elif isinstance(result, dict):
            items = list(result.items())
            for name, obj in items:
                if not isinstance(name, str) or not callable(obj):
                    msg = (
                        f"{plugin.label}: hook {family.hook} must return a dict of name to callable "
                        f"(got {name!r}: {obj!r})"
                    )
                    raise PluginError(msg)
        else:
            got = type(result).__name__
            msg = f"{plugin.label}: hook {family.hook} must return a dict of name to callable (got {got})"
            raise PluginError(msg)
        table = self.tables[family.key]
        for name, obj in items:
            if name in table:
                first = table[name].plugin
                msg = f"{family.title[:-1]} {name!r} is registered twice: by {first.label} and by {plugin.label}"
                raise PluginError(msg)
            table[name] = Registered(name, obj, plugin)
        return [name for name, _ in items]


def _node_kind(cls: Any, plugin: PluginInfo) -> str:
    if not (isinstance(cls, type) and issubclass(cls, Node)) or not isinstance(getattr(cls, "kind", None), str):
        msg = f"{plugin.label}: dsflow_register_nodes must return Node subclasses with a 'kind' (got {cls!r})"
        raise PluginError(msg)
    return cls.kind
