"""Safe YAML loading that remembers where every key and value came from.

Mappings load as :class:`MarkedDict` and sequences as :class:`MarkedList`; both know the
:class:`Location` of themselves and of each of their entries, so errors can point at
``graph.yaml:12:5``. Duplicate keys are errors (plain PyYAML keeps the last one silently).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsflow.errors import ConfigError


@dataclass(frozen=True)
class Location:
    """A place in a text file, 1-based like editors show it."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        if not self.col:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.col}"


class MarkedDict(dict[str, Any]):
    """A dict loaded from YAML, with the location of itself, its keys and its values."""

    where: Location
    key_where: dict[str, Location]
    value_where: dict[str, Location]

    def at(self, key: str) -> Location:
        """Location of ``key``'s value, or of the mapping when the key is absent."""
        return self.value_where.get(key, self.where)


class MarkedList(list[Any]):
    """A list loaded from YAML, with the location of itself and of each item."""

    where: Location
    item_where: list[Location]

    def at(self, index: int) -> Location:
        """Location of item ``index``."""
        return self.item_where[index]


def marked(value: Any, where: Location) -> Any:
    """Wrap a plain dict or list (e.g. built in Python) so it carries locations."""
    if isinstance(value, (MarkedDict, MarkedList)):
        return value
    if isinstance(value, dict):
        out = MarkedDict({str(k): marked(v, where) for k, v in value.items()})
        out.where, out.key_where = where, dict.fromkeys(out, where)
        out.value_where = dict(out.key_where)
        return out
    if isinstance(value, list):
        items = MarkedList(marked(v, where) for v in value)
        items.where, items.item_where = where, [where] * len(items)
        return items
    return value


def _loader_for(filename: str) -> type[yaml.SafeLoader]:
    def loc(node: yaml.Node) -> Location:
        return Location(filename, node.start_mark.line + 1, node.start_mark.column + 1)

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> MarkedDict:  # type: ignore[override]
            self.flatten_mapping(node)
            out = MarkedDict()
            out.where, out.key_where, out.value_where = loc(node), {}, {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, (str, int, float, bool)):
                    msg = f"{loc(key_node)}: mapping keys must be plain scalars (got {type(key).__name__})"
                    raise ConfigError(msg)
                key = str(key)
                if key in out:
                    msg = f"{loc(key_node)}: duplicate key {key!r} (first given at line {out.key_where[key].line})"
                    raise ConfigError(msg)
                out[key] = self.construct_object(value_node, deep=True)
                out.key_where[key] = loc(key_node)
                out.value_where[key] = loc(value_node)
            return out

        def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> MarkedList:  # type: ignore[override]
            out = MarkedList(self.construct_object(child, deep=True) for child in node.value)
            out.where, out.item_where = loc(node), [loc(child) for child in node.value]
            return out

    Loader.add_constructor("tag:yaml.org,2002:map", Loader.construct_mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", Loader.construct_sequence)
    return Loader


def load_text(text: str, filename: str) -> Any:
    """Parse YAML ``text``; ``filename`` is only used in locations."""
    try:
        return yaml.load(text, Loader=_loader_for(filename))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        msg = f"{where}: invalid YAML: {exc.problem or exc.context}"
        raise ConfigError(msg) from exc


def load_file(path: str | Path) -> Any:
    """Read and parse a YAML file, with locations relative to how ``path`` was given."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"{path}: cannot read file ({exc.strerror or exc})"
        raise ConfigError(msg) from exc
    return load_text(text, str(path))
