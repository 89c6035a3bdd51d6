"""Pictures of a graph: plain text, Graphviz DOT, Mermaid, or a PNG drawn with matplotlib."""

from __future__ import annotations

from pathlib import Path

import networkx as nx

from dsflow.errors import UsageError
from dsflow.graph import Edge, Graph

FORMATS = ("text", "dot", "mermaid", "png")


def to_text(graph: Graph) -> str:
    """Nodes in run order with their types and inputs."""
    lines = [f"graph {graph.path}: {len(graph.nodes)} nodes, {len(graph.edges)} connections"]
    for name in graph.topological_order():
        spec = graph.nodes[name]
        inputs = ", ".join(f"{e.dst_port} <- {_producer(e, graph)}" for e in graph.edges_to(name))
        lines.append(f"  {name} ({spec.kind})" + (f"  [{inputs}]" if inputs else ""))
    return "\n".join(lines) + "\n"


def to_dot(graph: Graph) -> str:
    """Graphviz DOT source (render with ``dot -Tsvg``)."""
    lines = [f"digraph {_quote(Path(graph.path).stem)} {{", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for group, names in _groups(graph).items():
        indent = "    " if group else "  "
        if group:
            lines.append(f"  subgraph {_quote('cluster_' + group[0])} {{")
            lines.append(f"    label={_quote(f'{group[0]} ({group[1]})')}; style=dashed;")
        for name in names:
            label = _quote(name)[:-1] + "\\n" + _quote(graph.nodes[name].kind)[1:]  # DOT's own \n line break
            lines.append(f"{indent}{_quote(name)} [label={label}];")
        if group:
            lines.append("  }")
    for e in graph.edges:
        label = _port_label(e, graph)
        lines.append(f"  {_quote(e.src)} -> {_quote(e.dst)}" + (f" [label={_quote(label)}];" if label else ";"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart (renders on GitHub and in many doc tools)."""
    ids = {name: f"n{i}" for i, name in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for group, names in _groups(graph).items():
        indent = "    " if group else "  "
        if group:
            lines.append(f'  subgraph {ids[names[0]]}g["{group[0]} ({group[1]})"]')
        for name in names:
            lines.append(f'{indent}{ids[name]}["{name}<br/><i>{graph.nodes[name].kind}</i>"]')
        if group:
            lines.append("  end")
    for e in graph.edges:
        label = _port_label(e, graph)
        arrow = f"-->|{label}|" if label else "-->"
        lines.append(f"  {ids[e.src]} {arrow} {ids[e.dst]}")
    return "\n".join(lines) + "\n"


def to_png(graph: Graph, path: Path) -> None:
    """Draw the graph left to right, one column per depth, into ``path``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        msg = "--format png needs matplotlib: pip install 'dsflow[show]'"
        raise UsageError(msg) from exc
    g = nx.DiGraph()
    for name in graph.nodes:
        g.add_node(name)
    for e in graph.edges:
        g.add_edge(e.src, e.dst, label=_port_label(e, graph))
    for depth, names in enumerate(nx.topological_generations(g)):
        for name in names:
            g.nodes[name]["depth"] = depth
    pos = nx.multipartite_layout(g, subset_key="depth")
    depth_count = 1 + max(g.nodes[n]["depth"] for n in g)
    width = max(6.0, 2.6 * depth_count)
    height = max(3.0, 1.3 * max(sum(1 for n in g if g.nodes[n]["depth"] == d) for d in range(depth_count)))
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    labels = {name: f"{name}\n({spec.kind})" for name, spec in graph.nodes.items()}
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=16, node_size=4200, edge_color="#555555")
    nx.draw_networkx_labels(
        g, pos, labels, ax=ax, font_size=9,
        bbox={"boxstyle": "round,pad=0.5", "fc": "#e8f0fe", "ec": "#3366cc"},
    )  # fmt: skip
    edge_labels = {(u, v): d["label"] for u, v, d in g.edges(data=True) if d["label"]}
    if edge_labels:
        nx.draw_networkx_edge_labels(g, pos, edge_labels, ax=ax, font_size=7)
    ax.set_title(Path(graph.path).name)
    ax.margins(0.15)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _groups(graph: Graph) -> dict[tuple[str, str] | None, list[str]]:
    """Nodes by the composite node they were expanded from (``None``: written as they are)."""
    groups: dict[tuple[str, str] | None, list[str]] = {}
    for name, spec in graph.nodes.items():
        groups.setdefault(spec.part_of, []).append(name)
    return groups


def _port_label(edge: Edge, graph: Graph) -> str:
    """Name ports only where a node has several, to keep pictures quiet."""
    parts = []
    if len(graph.nodes[edge.src].node_type.outputs) > 1:
        parts.append(edge.src_port)
    if len(graph.nodes[edge.dst].node_type.inputs) > 1:
        parts.append(edge.dst_port)
    return " -> ".join(parts)


def _producer(edge: Edge, graph: Graph) -> str:
    several = len(graph.nodes[edge.src].node_type.outputs) > 1
    return f"{edge.src}.{edge.src_port}" if several else edge.src


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
