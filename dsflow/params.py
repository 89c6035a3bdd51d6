"""Node parameters: declared as a frozen dataclass, checked against what a graph file gives.

A node type declares its parameters as a dataclass whose fields are made with :func:`param`.
Graph files spell names with dashes (``batch-size``), as nvinfer config files do; the
field is ``batch_size``. Values are checked against the field's type annotation: ``int``,
``float``, ``str``, ``bool``, ``list[T]``, ``tuple[T, ...]``, ``dict[str, T]``, ``Literal``,
``X | None`` and ``Any`` are understood.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union

from dsflow.errors import ConfigError, did_you_mean
from dsflow.yamlfile import Location, MarkedDict, MarkedList

_MISSING: Any = dataclasses.MISSING


def param(default: Any = _MISSING, *, doc: str, default_factory: Any = _MISSING) -> Any:
    """Declare one parameter of a node: its default (none = required) and its documentation."""
    meta = {"doc": doc}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class ParamSpec:
    """What ``dsflow nodes TYPE`` shows about one parameter."""

    name: str
    field: str
    type: Any
    required: bool
    default: Any
    doc: str

    @property
    def type_name(self) -> str:
        """The type as users read it (``integer``, ``list of string``...)."""
        return type_name(self.type)


@cache
def param_specs(params_type: type) -> tuple[ParamSpec, ...]:
    """The parameters of a params dataclass, in declaration order."""
    hints = typing.get_type_hints(params_type)
    specs = []
    for f in dataclasses.fields(params_type):
        required = f.default is _MISSING and f.default_factory is _MISSING
        default = None if required else (f.default if f.default is not _MISSING else f.default_factory())
        specs.append(
            ParamSpec(f.name.replace("_", "-"), f.name, hints[f.name], required, default, f.metadata.get("doc", ""))
        )
    return tuple(specs)


def build_params(params_type: type, values: dict[str, Any], owner: str) -> Any:
    """Check ``values`` (a mapping from a graph file) and build the params object.

    ``owner`` names who the parameters belong to in messages, e.g. ``node 'det'``.
    """
    if not isinstance(values, MarkedDict):
        msg = f"{owner}: parameters must be a mapping (got {type(values).__name__})"
        raise ConfigError(msg)
    specs = {spec.name: spec for spec in param_specs(params_type)}
    kwargs = {}
    for key, value in values.items():
        spec = specs.get(key) or specs.get(key.replace("_", "-"))
        if spec is None:
            hint = did_you_mean(key, specs) or f" (known: {', '.join(specs) or 'none'})"
            msg = f"{values.key_where[key]}: {owner}: unknown parameter {key!r}{hint}"
            raise ConfigError(msg)
        kwargs[spec.field] = check_value(value, spec.type, values.at(key), f"{owner}: parameter {spec.name!r}")
    for spec in specs.values():
        if spec.required and spec.field not in kwargs:
            msg = f"{values.where}: {owner}: missing required parameter {spec.name!r} ({spec.type_name})"
            raise ConfigError(msg)
    try:
        return params_type(**kwargs)
    except (ValueError, TypeError) as exc:  # __post_init__ checks of the params class
        msg = f"{values.where}: {owner}: {exc}"
        raise ConfigError(msg) from exc


def check_value(value: Any, tp: Any, where: Location, label: str) -> Any:
    """Return ``value`` converted to ``tp`` or raise a located :class:`ConfigError`."""
    ok, converted = _convert(value, tp, where, label)
    if not ok:
        msg = f"{where}: {label} expects {type_name(tp)} (got {_show(value)})"
        raise ConfigError(msg)
    return converted


def _convert(value: Any, tp: Any, where: Location, label: str) -> tuple[bool, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return True, value
    if origin in (Union, types.UnionType):
        for arg in args:
            ok, converted = _convert(value, arg, where, label)
            if ok:
                return True, converted
        return False, None
    if tp is type(None):
        return value is None, None
    if origin is Literal:  # compare types too: 1 == True in Python, not in a graph file
        return any(type(value) is type(a) and value == a for a in args), value
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return is_number, float(value) if is_number else None
    if tp is str:
        return isinstance(value, str), value
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list):
            return False, None
        item_type = args[0] if args else Any
        item_where = value.item_where if isinstance(value, MarkedList) else [where] * len(value)
        items = [
            check_value(v, item_type, w, f"{label} item {i}")
            for i, (v, w) in enumerate(zip(value, item_where, strict=True))
        ]
        return True, tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            return False, None
        value_type = args[1] if args else Any
        at = value.at if isinstance(value, MarkedDict) else (lambda _k: where)
        return True, {k: check_value(v, value_type, at(k), f"{label} key {k!r}") for k, v in value.items()}
    msg = f"unsupported parameter type {tp!r} in {label}"
    raise TypeError(msg)


def type_name(tp: Any) -> str:
    """Describe a parameter type in words."""
    return _type_name(tp, plural=False)


_SIMPLE_NAMES = {
    int: ("an integer", "integers"),
    float: ("a number", "numbers"),
    str: ("a string", "strings"),
    bool: ("true or false", "true or false"),
    Any: ("any value", "any values"),
}


def _type_name(tp: Any, plural: bool) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp in _SIMPLE_NAMES:
        return _SIMPLE_NAMES[tp][plural]
    if origin in (Union, types.UnionType):
        names = [_type_name(a, plural) for a in args if a is not type(None)]
        suffix = " or null" if type(None) in args else ""
        return " or ".join(names) + suffix
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple) or tp in (list, tuple):
        noun = "lists" if plural else "a list"
        return f"{noun} of {_type_name(args[0], plural=True)}" if args else noun
    if origin is dict or tp is dict:
        noun = "mappings" if plural else "a mapping"
        return f"{noun} of {_type_name(args[1], plural=True)}" if args else noun
    return str(tp)


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return f"{value!r}" if value is not None else "null"
