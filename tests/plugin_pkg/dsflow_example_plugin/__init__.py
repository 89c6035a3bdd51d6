"""An example dsflow plugin: the ``example.tag`` node type and the ``example-threshold`` bbox parser.

dsflow finds it through the ``dsflow`` entry-point group declared in ``pyproject.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dsflow
from dsflow import Batch, Node, NodeContext, param


@dataclass(frozen=True)
class TagParams:
    """Parameters of ``example.tag``."""

    value: str = param(doc="What to store in every frame's metadata.")
    key: str = param("tag", doc="Where to store it: frames get ``meta[key] = value``.")


class TagNode(Node):
    """Stores a fixed value in ``frame.meta[key]`` of every frame."""

    kind = "example.tag"
    Params = TagParams

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        for frame in batch.frames:
            frame.meta[self.params.key] = self.params.value
        return batch


def parse_threshold(outputs: Any, network: Any, params: Any, *, xp: Any, stream: Any) -> list[Any]:
    """A bbox parser that finds nothing (the tests only check that it is registered by name)."""
    return []


@dsflow.hookimpl
def dsflow_register_nodes() -> list[type[Node]]:
    return [TagNode]


@dsflow.hookimpl
def dsflow_register_bbox_parsers() -> dict[str, Callable[..., Any]]:
    return {"example-threshold": parse_threshold}
