"""Graph files: parse, check every node and connection, and build the validated graph.

Nothing runs before the whole file is checked; each error names its place in the file.
The wiring is held in a :class:`networkx.MultiDiGraph` (one edge per connection).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from dsflow.errors import ConfigError, GraphError, PluginError, UsageError, did_you_mean
from dsflow.node import Node, Source
from dsflow.params import check_value
from dsflow.plugins.manager import PluginManager
from dsflow.yamlfile import Location, MarkedDict, MarkedList, load_file, load_text, marked

GRAPH_KEYS = ("plugins", "nodes", "device", "queue-size", "description")
NODE_KEYS = ("name", "type", "params", "input", "inputs", "description")
DEVICES = ("auto", "cpu", "gpu")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class NodeSpec:
    """One node of a graph file, with its checked parameters."""

    name: str
    kind: str
    node_type: type[Node]
    params: Any
    where: Location
    part_of: tuple[str, str] | None = None
    """``(name, type)`` of the composite node (e.g. ``nvinfer``) this node was expanded from."""

    def create(self) -> Node:
        """A fresh node instance for one run."""
        return self.node_type(self.name, self.params)


@dataclass(frozen=True)
class Edge:
    """A connection from an output port to an input port."""

    src: str
    src_port: str
    dst: str
    dst_port: str
    where: Location

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


class Graph:
    """A validated graph: nodes in file order, edges, and graph-level settings."""

    def __init__(self, path: str, nodes: dict[str, NodeSpec], edges: list[Edge], device: str, queue_size: int) -> None:
        self.path = path
        self.nodes = nodes
        self.edges = edges
        self.device = device
        self.queue_size = queue_size
        self._nx = nx.MultiDiGraph()
        self._nx.add_nodes_from(nodes)
        self._nx.add_edges_from((e.src, e.dst, {"edge": e}) for e in edges)

    def topological_order(self) -> list[str]:
        """Node names, every producer before its consumers (file order among equals)."""
        order = {name: i for i, name in enumerate(self.nodes)}
        return list(nx.lexicographical_topological_sort(self._nx, key=order.__getitem__))

    def edges_from(self, name: str) -> list[Edge]:
        """The connections leaving node ``name``."""
        return [e for e in self.edges if e.src == name]

    def edges_to(self, name: str) -> list[Edge]:
        """The connections entering node ``name``."""
        return [e for e in self.edges if e.dst == name]

    def sources(self) -> list[str]:
        """Names of the source nodes."""
        return [n for n, spec in self.nodes.items() if issubclass(spec.node_type, Source)]


def load_graph(
    path: str | Path, plugins: PluginManager | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Graph:
    """Read, check and build the graph in file ``path``.

    ``overrides`` are ``node.param=value`` strings (from ``--set``); values are YAML scalars.
    """
    return build_graph(load_file(path), str(path), plugins, overrides)


def load_graph_text(text: str, filename: str = "<graph>", plugins: PluginManager | None = None) -> Graph:
    """Like :func:`load_graph` for YAML given as a string."""
    return build_graph(load_text(text, filename), filename, plugins)


def build_graph(
    doc: Any, path: str, plugins: PluginManager | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Graph:
    """Check a parsed graph document and build the :class:`Graph`."""
    where = Location(path, 1, 1)
    if not isinstance(doc, MarkedDict):
        msg = f"{where}: a graph file must be a mapping with a 'nodes' list (got {_kind_of(doc)})"
        raise ConfigError(msg)
    _check_keys(doc, GRAPH_KEYS, "graph")
    pm = plugins or PluginManager()
    _load_plugins(doc, pm, Path(path).parent)

    entries = doc.get("nodes")
    if not isinstance(entries, MarkedList) or not entries:
        msg = f"{doc.at('nodes')}: 'nodes' must be a non-empty list of nodes (got {_kind_of(entries)})"
        raise ConfigError(msg)
    for i, entry in enumerate(entries):
        if not isinstance(entry, MarkedDict):
            msg = f"{entries.at(i)}: each node must be a mapping with 'name' and 'type' (got {_kind_of(entry)})"
            raise ConfigError(msg)
    _apply_overrides(entries, overrides)

    nodes: dict[str, NodeSpec] = {}
    for entry in entries:
        spec = _node_spec(entry, pm)
        if spec.name in nodes:
            first = nodes[spec.name].where.line
            msg = f"{entry.at('name')}: duplicate node name {spec.name!r} (first defined at line {first})"
            raise GraphError(msg)
        nodes[spec.name] = spec
    edges = [edge for entry in entries for edge in _edges(entry, nodes)]
    _check_wiring(nodes, edges)
    nodes, edges = _expand(nodes, edges)
    for node_type in dict.fromkeys(spec.node_type for spec in nodes.values()):
        node_type.check_graph([spec for spec in nodes.values() if spec.node_type is node_type])
    device = _setting(doc, "device", str, "auto")
    if device not in DEVICES:
        msg = f"{doc.at('device')}: 'device' must be one of {', '.join(DEVICES)} (got {device!r})"
        raise ConfigError(msg)
    queue_size = _setting(doc, "queue-size", int, 4)
    if queue_size < 1:
        msg = f"{doc.at('queue-size')}: 'queue-size' must be at least 1 (got {queue_size})"
        raise ConfigError(msg)
    return Graph(path, nodes, edges, device, queue_size)


def _load_plugins(doc: MarkedDict, pm: PluginManager, base_dir: Path) -> None:
    names = doc.get("plugins", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        msg = f"{doc.at('plugins')}: 'plugins' must be a list of module names or .py files"
        raise ConfigError(msg)
    for i, name in enumerate(names):
        pm.load_module(name, base_dir, str(names.at(i)))


def _apply_overrides(entries: MarkedList, overrides: list[str] | tuple[str, ...]) -> None:
    by_name = {e.get("name"): e for e in entries}
    for text in overrides:
        target, eq, raw = text.partition("=")
        node, dot, key = target.partition(".")
        if not (eq and dot and node and key):
            msg = f"--set {text!r}: expected NODE.PARAM=VALUE"
            raise UsageError(msg)
        if node not in by_name:
            msg = f"--set {text!r}: unknown node {node!r}{did_you_mean(node, [str(n) for n in by_name])}"
            raise UsageError(msg)
        entry = by_name[node]
        where = Location(f"--set {text}")
        value = marked(load_text(raw, where.file) if raw.strip() else "", where)
        params = entry.get("params")
        if params is None:  # located at the node, so paths in it stay relative to the graph file
            params = entry["params"] = marked({}, entry.where)
            entry.key_where["params"] = entry.value_where["params"] = where
        if not isinstance(params, MarkedDict):
            continue  # the params error is reported with the node
        params[key] = value
        params.key_where[key] = params.value_where[key] = where


def _node_spec(entry: MarkedDict, pm: PluginManager) -> NodeSpec:
    _check_keys(entry, NODE_KEYS, "node")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        msg = (
            f"{entry.at('name')}: node name must be letters, digits, '_' or '-', not starting with a digit "
            f"(got {name!r})"
        )
        raise ConfigError(msg)
    kind = entry.get("type")
    if not isinstance(kind, str):
        msg = f"{entry.at('type')}: node {name!r}: 'type' must name a node type (got {_kind_of(kind)})"
        raise ConfigError(msg)
    try:
        node_type = pm.node_type(kind)
    except PluginError as exc:
        msg = f"{entry.at('type')}: node {name!r}: {exc}"
        raise ConfigError(msg) from None
    params = entry.get("params", marked({}, entry.where))
    if params is None:
        params = marked({}, entry.at("params"))
    elif not isinstance(params, MarkedDict):
        msg = (
            f"{entry.at('params')}: node {name!r}: 'params' must be a mapping of parameter names to values "
            f"(got {_kind_of(params)})"
        )
        raise ConfigError(msg)
    params = node_type.parse_params(params, f"node {name!r}", pm.registry)
    return NodeSpec(name, kind, node_type, params, entry.where)


def _edges(entry: MarkedDict, nodes: dict[str, NodeSpec]) -> list[Edge]:
    spec = nodes[entry["name"]]
    in_ports = [p.name for p in spec.node_type.inputs]
    if "input" in entry and "inputs" in entry:
        msg = f"{entry.key_where['inputs']}: node {spec.name!r}: give 'input' or 'inputs', not both"
        raise ConfigError(msg)
    if "input" in entry:
        if not in_ports:
            msg = f"{entry.key_where['input']}: node {spec.name!r} ({spec.kind}) has no inputs"
            raise GraphError(msg)
        if len(in_ports) > 1:
            msg = (
                f"{entry.key_where['input']}: node {spec.name!r} ({spec.kind}) has several inputs "
                f"({', '.join(in_ports)}): connect them with 'inputs: {{PORT: NODE}}'"
            )
            raise GraphError(msg)
        wiring = {in_ports[0]: entry["input"]}
        locations = {in_ports[0]: entry.at("input")}
    else:
        wiring = entry.get("inputs", {})
        if not isinstance(wiring, dict):
            msg = f"{entry.at('inputs')}: node {spec.name!r}: 'inputs' must map input ports to producers"
            raise ConfigError(msg)
        locations = {port: wiring.at(port) for port in wiring} if isinstance(wiring, MarkedDict) else {}
    edges = []
    for port, producer in wiring.items():
        where = locations.get(port, entry.where)
        if port not in in_ports:
            hint = did_you_mean(port, in_ports) or f" (inputs: {', '.join(in_ports) or 'none'})"
            msg = f"{where}: node {spec.name!r} ({spec.kind}) has no input port {port!r}{hint}"
            raise GraphError(msg)
        src, src_port = _producer(producer, nodes, where, spec.name)
        edges.append(Edge(src, src_port, spec.name, port, where))
    return edges


def _producer(text: Any, nodes: dict[str, NodeSpec], where: Location, consumer: str) -> tuple[str, str]:
    if not isinstance(text, str):
        msg = f"{where}: node {consumer!r}: an input names a producer as 'NODE' or 'NODE.PORT' (got {_kind_of(text)})"
        raise ConfigError(msg)
    name, _, port = text.partition(".")
    if name not in nodes:
        msg = f"{where}: node {consumer!r}: input from unknown node {name!r}{did_you_mean(name, nodes)}"
        raise GraphError(msg)
    producer = nodes[name]
    out_ports = [p.name for p in producer.node_type.outputs]
    if not out_ports:
        msg = f"{where}: node {consumer!r}: node {name!r} ({producer.kind}) has no outputs"
        raise GraphError(msg)
    if not port:
        if len(out_ports) > 1:
            msg = (
                f"{where}: node {consumer!r}: node {name!r} ({producer.kind}) has several outputs "
                f"({', '.join(out_ports)}): name one as '{name}.PORT'"
            )
            raise GraphError(msg)
        return name, out_ports[0]
    if port not in out_ports:
        hint = did_you_mean(port, out_ports) or f" (outputs: {', '.join(out_ports)})"
        msg = f"{where}: node {consumer!r}: node {name!r} ({producer.kind}) has no output port {port!r}{hint}"
        raise GraphError(msg)
    return name, port


def _check_wiring(nodes: dict[str, NodeSpec], edges: list[Edge]) -> None:
    for spec in nodes.values():
        for port in spec.node_type.inputs:
            incoming = [e for e in edges if e.dst == spec.name and e.dst_port == port.name]
            if not incoming and not port.optional:
                msg = f"{spec.where}: node {spec.name!r} ({spec.kind}): required input {port.name!r} is not connected"
                raise GraphError(msg)
    wiring = nx.DiGraph()
    wiring.add_nodes_from(nodes)
    for e in edges:
        wiring.add_edge(e.src, e.dst, edge=e)
    try:
        cycle = nx.find_cycle(wiring)
    except nx.NetworkXNoCycle:
        return
    path = " -> ".join([u for u, _v in cycle] + [cycle[0][0]])
    closing = wiring.edges[cycle[-1][0], cycle[-1][1]]["edge"]
    msg = f"{closing.where}: the graph has a cycle: {path}"
    raise GraphError(msg)


def _expand(nodes: dict[str, NodeSpec], edges: list[Edge]) -> tuple[dict[str, NodeSpec], list[Edge]]:
    """Replace composite nodes (e.g. ``nvinfer``) by the chain of nodes they stand for."""
    expanded: dict[str, NodeSpec] = {}
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    chains: list[Edge] = []
    for name, spec in nodes.items():
        parts = spec.node_type.expand(spec.params)
        if not parts:
            expanded[name] = spec
            continue
        names = [f"{name}/{suffix}" for suffix, _, _ in parts]
        for part_name, (_, node_type, params) in zip(names, parts, strict=True):
            expanded[part_name] = NodeSpec(
                part_name, node_type.kind, node_type, params, spec.where, part_of=(name, spec.kind)
            )
        for a, b in itertools.pairwise(names):
            a_port = expanded[a].node_type.outputs[0].name
            b_port = expanded[b].node_type.inputs[0].name
            chains.append(Edge(a, a_port, b, b_port, spec.where))
        first[name], last[name] = names[0], names[-1]
    rewired = []
    for e in edges:
        src, src_port, dst, dst_port = e.src, e.src_port, e.dst, e.dst_port
        if src in last:
            src = last[src]
        if dst in first:
            dst = first[dst]
        rewired.append(Edge(src, src_port, dst, dst_port, e.where))
    return expanded, rewired + chains


def _check_keys(mapping: MarkedDict, allowed: tuple[str, ...], what: str) -> None:
    for key in mapping:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f" (expected one of: {', '.join(allowed)})"
            name = mapping.get("name")
            owner = f"node {name!r}" if what == "node" and isinstance(name, str) else what
            msg = f"{mapping.key_where[key]}: {owner}: unknown key {key!r}{hint}"
            raise ConfigError(msg)


def _setting(doc: MarkedDict, key: str, tp: type, default: Any) -> Any:
    return check_value(doc.get(key, default), tp, doc.at(key), f"graph setting {key!r}")


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
