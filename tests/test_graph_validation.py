"""Graph files: every check of dsflow.graph, each with the exact located message it gives.

Graphs are written as YAML text and built with the real loader, so line and column numbers
are the ones a user would see. Node types beyond the built-in ones (several inputs, several
outputs, every parameter type) are registered through a plugin manager, the way a
third-party plugin registers them.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

import dsflow
from dsflow import ConfigError, Graph, GraphError, Node, PluginError, PluginManager, Port, UsageError, param
from dsflow.graph import build_graph, load_graph, load_graph_text
from dsflow.yamlfile import load_text

REPO = Path(__file__).resolve().parents[1]
GRAPH = "graph.yaml"


# -- node types used by these tests -----------------------------------------------------------


@dataclass(frozen=True)
class AllTypesParams:
    """One parameter of every type dsflow.params understands."""

    count: int = param(doc="An integer (required).")
    ratio: float = param(0.5, doc="A number.")
    label: str = param("x", doc="A string.")
    enabled: bool = param(False, doc="A flag.")
    sizes: list[int] = param(default_factory=list, doc="A list.")
    shape: tuple[int, ...] = param((1, 1), doc="A tuple.")
    weights: dict[str, float] = param(default_factory=dict, doc="A mapping.")
    mode: Literal["fast", "accurate"] = param("fast", doc="A choice of strings.")
    level: Literal[0, 1, 2] = param(0, doc="A choice of integers.")
    limit: int | None = param(None, doc="An optional integer.")
    grid: list[list[int]] = param(default_factory=list, doc="A nested list.")
    extra: Any = param(None, doc="Anything.")

    def __post_init__(self) -> None:
        if not 0 <= self.ratio <= 1:
            msg = f"parameter 'ratio' must be between 0 and 1 (got {self.ratio})"
            raise ValueError(msg)


class AllTypesNode(Node):
    """Passes batches on; has a parameter of every type."""

    kind = "test.types"
    Params = AllTypesParams


class MergeNode(Node):
    """Two required inputs and an optional one."""

    kind = "test.merge"
    inputs = (Port("left"), Port("right"), Port("extra", optional=True))


class SplitNode(Node):
    """Two outputs."""

    kind = "test.split"
    outputs = (Port("even"), Port("odd"))


class NodeTypes:
    """A plugin object registering the node types above."""

    @dsflow.hookimpl
    def dsflow_register_nodes(self) -> list[type[Node]]:
        return [AllTypesNode, MergeNode, SplitNode]


@pytest.fixture
def pm() -> PluginManager:
    manager = PluginManager(autoload=False)
    manager.register(NodeTypes(), "test-node-types")
    return manager


# -- helpers -------------------------------------------------------------------------------------


def load(text: str, pm: PluginManager | None = None, overrides: tuple[str, ...] = ()) -> Graph:
    """Build the graph written in ``text`` (dedented), as file ``graph.yaml``."""
    doc = load_text(textwrap.dedent(text).lstrip("\n"), GRAPH)
    return build_graph(doc, GRAPH, pm or PluginManager(autoload=False), overrides)


def error(text: str, kind: type[Exception] = ConfigError, pm: PluginManager | None = None, **kwargs: Any) -> str:
    """The message of the error of exactly type ``kind`` that building ``text`` raises."""
    with pytest.raises(kind) as info:
        load(text, pm, **kwargs)
    assert type(info.value) is kind, f"{type(info.value).__name__}: {info.value}"
    return str(info.value)


SOURCE = """
nodes:
  - name: camera
    type: source.testpattern
"""
"""A one-node graph to append nodes to (the first appended line is line 4)."""


def with_source(nodes: str) -> str:
    """``SOURCE`` followed by more node entries (``nodes`` is written from column 0 and indented here)."""
    return SOURCE + textwrap.indent(textwrap.dedent(nodes).lstrip("\n"), "  ")


def types_node(params: str) -> str:
    """A graph with a ``test.types`` node ``t`` whose ``params:`` block is ``params`` (from line 8)."""
    return with_source(
        "- name: t\n  type: test.types\n  input: camera\n  params:\n"
        + textwrap.indent(textwrap.dedent(params).lstrip("\n"), "    ")
    )


# -- a valid graph ------------------------------------------------------------------------------


def test_example_graph_is_valid() -> None:
    graph = load_graph(REPO / "graphs" / "testpattern.yaml", PluginManager(autoload=False))
    assert list(graph.nodes) == ["camera", "brightness", "metadata"]
    assert [str(e) for e in graph.edges] == ["camera.out -> brightness.in", "brightness.out -> metadata.in"]
    assert graph.topological_order() == ["camera", "brightness", "metadata"]
    assert graph.sources() == ["camera"]
    assert (graph.device, graph.queue_size) == ("auto", 4)
    assert graph.nodes["camera"].params.streams == 2


def test_helpers_build_what_they_say(pm: PluginManager) -> None:
    graph = load(with_source("- name: s\n  type: sink.null\n  input: camera\n"))
    assert (graph.nodes["s"].where.line, graph.nodes["s"].where.col) == (4, 5)
    assert load(types_node("count: 7\n"), pm).nodes["t"].params.count == 7


# -- the file as a whole ---------------------------------------------------------------------


def test_invalid_yaml() -> None:
    message = error("nodes:\n  - name: a\n    type: [sink.null\n")
    assert message.startswith("graph.yaml:4:1: invalid YAML: expected ',' or ']'")


def test_invalid_yaml_tab_indentation() -> None:
    message = error("nodes:\n\t- name: a\n")
    assert message == "graph.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token"


def test_invalid_yaml_in_a_file_names_the_file(write_graph: Any) -> None:
    path = write_graph("nodes: [\n")
    with pytest.raises(ConfigError) as info:
        load_graph(path)
    assert str(info.value) == f"{path}:2:1: invalid YAML: expected the node content, but found '<stream end>'"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as info:
        load_graph(path)
    assert str(info.value) == f"{path}: cannot read file (No such file or directory)"


def test_duplicate_top_level_key() -> None:
    message = error("nodes: []\ndevice: cpu\nnodes: []\n")
    assert message == "graph.yaml:3:1: duplicate key 'nodes' (first given at line 1)"


def test_duplicate_key_in_params() -> None:
    message = error(types_node("count: 1\nratio: 0.1\ncount: 2\n"))
    assert message == "graph.yaml:10:7: duplicate key 'count' (first given at line 8)"


@pytest.mark.parametrize(
    ("text", "got"),
    [("- name: a\n", "a list"), ("just text\n", "'just text'"), ("", "nothing"), ("# only a comment\n", "nothing")],
    ids=["list", "scalar", "empty", "comment"],
)
def test_top_level_must_be_a_mapping(text: str, got: str) -> None:
    assert error(text) == f"graph.yaml:1:1: a graph file must be a mapping with a 'nodes' list (got {got})"


def test_unknown_top_level_key_with_a_close_match() -> None:
    message = error(SOURCE + "devise: cpu\n")
    assert message == "graph.yaml:4:1: graph: unknown key 'devise' (did you mean 'device'?)"


def test_unknown_top_level_key_lists_the_known_ones() -> None:
    message = error(SOURCE + "author: me\n")
    assert message == (
        "graph.yaml:4:1: graph: unknown key 'author' (expected one of: plugins, nodes, device, queue-size, description)"
    )


def test_description_is_allowed() -> None:
    assert list(load("description: a camera\n" + SOURCE).nodes) == ["camera"]


@pytest.mark.parametrize(
    ("text", "where", "got"),
    [
        ("device: cpu\n", "1:1", "nothing"),
        ("nodes:\n", "1:7", "nothing"),
        ("nodes: []\n", "1:8", "a list"),
        ("nodes:\n  camera: {type: source.testpattern}\n", "2:3", "a mapping"),
        ("nodes: camera\n", "1:8", "'camera'"),
    ],
    ids=["missing", "null", "empty", "mapping", "scalar"],
)
def test_nodes_must_be_a_non_empty_list(text: str, where: str, got: str) -> None:
    assert error(text) == f"graph.yaml:{where}: 'nodes' must be a non-empty list of nodes (got {got})"


# -- nodes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "where", "got"),
    [("camera", "4:5", "'camera'"), ("[camera, source.testpattern]", "4:5", "a list"), ("", "4:4", "nothing")],
    ids=["scalar", "list", "null"],
)
def test_node_must_be_a_mapping(entry: str, where: str, got: str) -> None:
    message = error(SOURCE + f"  - {entry}\n")
    assert message == f"graph.yaml:{where}: each node must be a mapping with 'name' and 'type' (got {got})"


@pytest.mark.parametrize(
    ("name", "shown"),
    [("1st", "'1st'"), ("my camera", "'my camera'"), ("cam.0", "'cam.0'"), ("'42'", "'42'"), ("42", "42")],
)
def test_bad_node_name(name: str, shown: str) -> None:
    message = error(f"nodes:\n  - name: {name}\n    type: source.testpattern\n")
    assert message == (
        f"graph.yaml:2:11: node name must be letters, digits, '_' or '-', not starting with a digit (got {shown})"
    )


def test_missing_node_name() -> None:
    message = error("nodes:\n  - type: source.testpattern\n")
    assert message == (
        "graph.yaml:2:5: node name must be letters, digits, '_' or '-', not starting with a digit (got None)"
    )


def test_names_with_dashes_and_underscores_are_fine() -> None:
    graph = load("nodes:\n  - {name: _front-cam_2, type: source.testpattern}\n")
    assert list(graph.nodes) == ["_front-cam_2"]


def test_duplicate_node_name() -> None:
    message = error(with_source("- name: camera\n  type: sink.null\n  input: camera\n"), GraphError)
    assert message == "graph.yaml:4:11: duplicate node name 'camera' (first defined at line 2)"


def test_unknown_node_key() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  imput: camera\n"))
    assert message == "graph.yaml:6:5: node 's': unknown key 'imput' (did you mean 'input'?)"


def test_unknown_node_type_with_a_close_match() -> None:
    message = error("nodes:\n  - name: camera\n    type: source.testpatern\n")
    assert message == (
        "graph.yaml:3:11: node 'camera': unknown node type 'source.testpatern' (did you mean 'source.testpattern'?)"
    )


def test_unknown_node_type_lists_the_known_ones(pm: PluginManager) -> None:
    message = error("nodes:\n  - name: camera\n    type: webcam\n", pm=pm)
    assert message == (
        "graph.yaml:3:11: node 'camera': unknown node type 'webcam' (known types: nvinfer, nvinfer.infer, nvinfer.parse, "
        "nvinfer.preprocess, python, sink.images, sink.jsonl, sink.null, sink.video, source.images, "
        "source.testpattern, source.video, test.merge, test.split, test.types)"
    )


def test_missing_node_type() -> None:
    message = error("nodes:\n  - name: camera\n")
    assert message == "graph.yaml:2:5: node 'camera': 'type' must name a node type (got nothing)"


# -- parameters ------------------------------------------------------------------------------------


def test_unknown_parameter_with_a_close_match() -> None:
    message = error(SOURCE + "    params:\n      batchsize: 4\n")
    assert message == "graph.yaml:5:7: node 'camera': unknown parameter 'batchsize' (did you mean 'batch-size'?)"


def test_unknown_parameter_lists_the_known_ones() -> None:
    message = error(SOURCE + "    params:\n      colour: red\n")
    assert message == (
        "graph.yaml:5:7: node 'camera': unknown parameter 'colour' "
        "(known: streams, frames, width, height, fps, batch-size, realtime)"
    )


def test_parameter_on_a_node_type_without_parameters() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  input: camera\n  params: {path: x}\n"))
    assert message == "graph.yaml:7:14: node 's': unknown parameter 'path' (known: none)"


def test_parameter_spelt_with_underscores_is_accepted() -> None:
    graph = load(SOURCE + "    params:\n      batch_size: 4\n")
    assert graph.nodes["camera"].params.batch_size == 4


def test_missing_required_parameter() -> None:
    message = error(with_source("- name: out\n  type: sink.jsonl\n  input: camera\n"))
    assert message == "graph.yaml:4:5: node 'out': missing required parameter 'path' (a string)"


def test_missing_required_parameter_with_other_params(pm: PluginManager) -> None:
    message = error(types_node("ratio: 0.2\n"), pm=pm)
    assert message == "graph.yaml:8:7: node 't': missing required parameter 'count' (an integer)"


@pytest.mark.parametrize(("params", "got"), [("[frames: 3]", "a list"), ("3", "3"), ("frames=3", "'frames=3'")])
def test_params_must_be_a_mapping(params: str, got: str) -> None:
    message = error(SOURCE + f"    params: {params}\n")
    assert message == (
        f"graph.yaml:4:13: node 'camera': 'params' must be a mapping of parameter names to values (got {got})"
    )


def test_empty_params_means_defaults() -> None:
    assert load(SOURCE + "    params:\n").nodes["camera"].params.frames == 300


WRONG_TYPES = [
    ("count: '3'", "8:14: node 't': parameter 'count' expects an integer (got '3')"),
    ("count: 2.5", "8:14: node 't': parameter 'count' expects an integer (got 2.5)"),
    ("count: true", "8:14: node 't': parameter 'count' expects an integer (got True)"),
    ("count: ~", "8:14: node 't': parameter 'count' expects an integer (got null)"),
    ("enabled: 1", "8:16: node 't': parameter 'enabled' expects true or false (got 1)"),
    ("enabled: 'yes'", "8:16: node 't': parameter 'enabled' expects true or false (got 'yes')"),
    ("ratio: high", "8:14: node 't': parameter 'ratio' expects a number (got 'high')"),
    ("label: 3", "8:14: node 't': parameter 'label' expects a string (got 3)"),
    ("sizes: 3", "8:14: node 't': parameter 'sizes' expects a list of integers (got 3)"),
    ("sizes: [1, x, 3]", "8:18: node 't': parameter 'sizes' item 1 expects an integer (got 'x')"),
    ("shape: {w: 1}", "8:14: node 't': parameter 'shape' expects a list of integers (got a mapping)"),
    ("shape: [2, 2.5]", "8:18: node 't': parameter 'shape' item 1 expects an integer (got 2.5)"),
    ("weights: [1]", "8:16: node 't': parameter 'weights' expects a mapping of numbers (got a list)"),
    ("weights: {car: heavy}", "8:22: node 't': parameter 'weights' key 'car' expects a number (got 'heavy')"),
    ("mode: slow", "8:13: node 't': parameter 'mode' expects one of 'fast', 'accurate' (got 'slow')"),
    ("level: 3", "8:14: node 't': parameter 'level' expects one of 0, 1, 2 (got 3)"),
    ("level: true", "8:14: node 't': parameter 'level' expects one of 0, 1, 2 (got True)"),
    ("limit: none", "8:14: node 't': parameter 'limit' expects an integer or null (got 'none')"),
    ("grid: [[1, 2], [3, x]]", "8:26: node 't': parameter 'grid' item 1 item 1 expects an integer (got 'x')"),
]
"""A line of ``test.types`` parameters and the error it gives (it is line 8 of the graph)."""


@pytest.mark.parametrize(("line", "problem"), WRONG_TYPES, ids=[line for line, _ in WRONG_TYPES])
def test_wrong_parameter_types(pm: PluginManager, line: str, problem: str) -> None:
    other = "ratio: 0.5" if line.startswith("count") else "count: 1"  # so that the line tested is line 8
    assert error(types_node(f"{line}\n{other}\n"), pm=pm) == f"graph.yaml:{problem}"


def test_every_parameter_type_converts(pm: PluginManager) -> None:
    graph = load(
        types_node("""
            count: 3
            ratio: 1
            label: front
            enabled: true
            sizes: [1, 2]
            shape: [640, 480]
            weights: {car: 1, bus: 0.5}
            mode: accurate
            level: 2
            limit: ~
            grid: [[1], [2, 3]]
            extra: {anything: [1, two]}
        """),
        pm,
    )
    assert graph.nodes["t"].params == AllTypesParams(
        count=3,
        ratio=1.0,
        label="front",
        enabled=True,
        sizes=[1, 2],
        shape=(640, 480),
        weights={"car": 1.0, "bus": 0.5},
        mode="accurate",
        level=2,
        limit=None,
        grid=[[1], [2, 3]],
        extra={"anything": [1, "two"]},
    )
    params = graph.nodes["t"].params
    assert type(params.ratio) is float
    assert type(params.shape) is tuple
    assert all(type(w) is float for w in params.weights.values())


def test_defaults_apply(pm: PluginManager) -> None:
    params = load(types_node("count: 1\n"), pm).nodes["t"].params
    assert params == AllTypesParams(count=1)
    assert params.limit is None
    assert params.shape == (1, 1)


def test_post_init_error_is_located(pm: PluginManager) -> None:
    with pytest.raises(ConfigError) as info:
        load(types_node("count: 1\nratio: 1.5\n"), pm)
    assert str(info.value) == "graph.yaml:8:7: node 't': parameter 'ratio' must be between 0 and 1 (got 1.5)"
    assert isinstance(info.value.__cause__, ValueError)


def test_post_init_error_of_a_builtin_node() -> None:
    message = error(SOURCE + "    params:\n      streams: 0\n")
    assert message == "graph.yaml:5:7: node 'camera': parameter 'streams' must be at least 1 (got 0)"


# -- wiring ------------------------------------------------------------------------------------------


def test_unknown_producer_with_a_close_match() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  input: camra\n"), GraphError)
    assert message == "graph.yaml:6:12: node 's': input from unknown node 'camra' (did you mean 'camera'?)"


def test_unknown_producer_without_a_close_match() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  inputs:\n    in: webcam\n"), GraphError)
    assert message == "graph.yaml:7:11: node 's': input from unknown node 'webcam'"


def test_producer_is_not_a_name() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  input: [camera]\n"))
    assert message == "graph.yaml:6:12: node 's': an input names a producer as 'NODE' or 'NODE.PORT' (got a list)"


def test_producer_without_outputs() -> None:
    text = with_source("- name: a\n  type: sink.null\n  input: camera\n- name: b\n  type: sink.null\n  input: a\n")
    assert error(text, GraphError) == "graph.yaml:9:12: node 'b': node 'a' (sink.null) has no outputs"


def test_unknown_output_port_with_a_close_match() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  input: camera.outt\n"), GraphError)
    assert message == (
        "graph.yaml:6:12: node 's': node 'camera' (source.testpattern) has no output port 'outt' (did you mean 'out'?)"
    )


def test_unknown_output_port_lists_the_outputs() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  input: camera.video\n"), GraphError)
    assert message == (
        "graph.yaml:6:12: node 's': node 'camera' (source.testpattern) has no output port 'video' (outputs: out)"
    )


def test_producer_with_several_outputs_needs_a_port(pm: PluginManager) -> None:
    text = with_source(
        "- name: split\n  type: test.split\n  input: camera\n- name: s\n  type: sink.null\n  input: split\n"
    )
    assert error(text, GraphError, pm) == (
        "graph.yaml:9:12: node 's': node 'split' (test.split) has several outputs (even, odd): name one as 'split.PORT'"
    )


def test_named_output_port(pm: PluginManager) -> None:
    text = with_source(
        "- name: split\n  type: test.split\n  input: camera\n- name: s\n  type: sink.null\n  input: split.odd\n"
    )
    assert [str(e) for e in load(text, pm).edges_to("s")] == ["split.odd -> s.in"]


def test_unknown_input_port_with_a_close_match() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  inputs:\n    inn: camera\n"), GraphError)
    assert message == "graph.yaml:7:12: node 's' (sink.null) has no input port 'inn' (did you mean 'in'?)"


def test_unknown_input_port_lists_the_inputs(pm: PluginManager) -> None:
    text = with_source("- name: m\n  type: test.merge\n  inputs:\n    left: camera\n    centre: camera\n")
    assert error(text, GraphError, pm) == (
        "graph.yaml:8:15: node 'm' (test.merge) has no input port 'centre' (inputs: left, right, extra)"
    )


def test_input_on_a_node_with_several_inputs(pm: PluginManager) -> None:
    message = error(with_source("- name: m\n  type: test.merge\n  input: camera\n"), GraphError, pm)
    assert message == (
        "graph.yaml:6:5: node 'm' (test.merge) has several inputs (left, right, extra): "
        "connect them with 'inputs: {PORT: NODE}'"
    )


def test_input_on_a_source() -> None:
    message = error(SOURCE + "    input: camera\n", GraphError)
    assert message == "graph.yaml:4:5: node 'camera' (source.testpattern) has no inputs"


def test_both_input_and_inputs() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  input: camera\n  inputs: {in: camera}\n"))
    assert message == "graph.yaml:7:5: node 's': give 'input' or 'inputs', not both"


def test_inputs_must_be_a_mapping() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n  inputs: [camera]\n"))
    assert message == "graph.yaml:6:13: node 's': 'inputs' must map input ports to producers"


def test_two_producers_for_one_input_is_a_duplicate_key(pm: PluginManager) -> None:
    # 'inputs' is a mapping, so the only way to write two producers for one port is to give
    # the port twice; the YAML loader refuses that, naming the port and both lines.
    text = with_source(
        "- name: other\n  type: source.testpattern\n"
        "- name: m\n  type: test.merge\n  inputs:\n    left: camera\n    right: other\n    left: other\n"
    )
    assert error(text, ConfigError, pm) == "graph.yaml:11:7: duplicate key 'left' (first given at line 9)"


def test_required_input_not_connected(pm: PluginManager) -> None:
    message = error(with_source("- name: m\n  type: test.merge\n  inputs: {left: camera}\n"), GraphError, pm)
    assert message == "graph.yaml:4:5: node 'm' (test.merge): required input 'right' is not connected"


def test_sink_without_input() -> None:
    message = error(with_source("- name: s\n  type: sink.null\n"), GraphError)
    assert message == "graph.yaml:4:5: node 's' (sink.null): required input 'in' is not connected"


def test_optional_input_may_stay_unconnected(pm: PluginManager) -> None:
    graph = load(with_source("- name: m\n  type: test.merge\n  inputs: {left: camera, right: camera}\n"), pm)
    assert sorted(str(e) for e in graph.edges) == ["camera.out -> m.left", "camera.out -> m.right"]


def test_one_output_may_feed_several_consumers() -> None:
    graph = load(
        with_source("- name: a\n  type: sink.null\n  input: camera\n- name: b\n  type: sink.null\n  input: camera\n")
    )
    assert [str(e) for e in graph.edges_from("camera")] == ["camera.out -> a.in", "camera.out -> b.in"]


def test_cycle_of_one_node() -> None:
    text = with_source("- name: loop\n  type: python\n  inputs: {in: loop}\n  params: {function: 'm:f'}\n")
    message = error(text, GraphError)
    assert message == "graph.yaml:6:18: the graph has a cycle: loop -> loop"


def test_cycle_of_two_nodes() -> None:
    text = """
        nodes:
          - {name: a, type: python, input: b, params: {function: 'm:f'}}
          - {name: b, type: python, input: a, params: {function: 'm:f'}}
    """
    assert error(text, GraphError) == "graph.yaml:2:36: the graph has a cycle: a -> b -> a"


def test_cycle_fed_by_a_source(pm: PluginManager) -> None:
    text = """
        nodes:
          - name: camera
            type: source.testpattern
          - name: merge
            type: test.merge
            inputs:
              left: camera
              right: check
          - {name: detect, type: python, input: merge, params: {function: 'm:f'}}
          - {name: check, type: python, input: detect, params: {function: 'm:f'}}
    """
    assert error(text, GraphError, pm) == "graph.yaml:8:14: the graph has a cycle: merge -> detect -> check -> merge"


# -- graph settings ----------------------------------------------------------------------------------


def test_settings_defaults_and_values() -> None:
    assert (load(SOURCE).device, load(SOURCE).queue_size) == ("auto", 4)
    graph = load("device: cpu\nqueue-size: 16\n" + SOURCE)
    assert (graph.device, graph.queue_size) == ("cpu", 16)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("device: tpu", "graph.yaml:1:9: 'device' must be one of auto, cpu, gpu (got 'tpu')"),
        ("device: GPU", "graph.yaml:1:9: 'device' must be one of auto, cpu, gpu (got 'GPU')"),
        ("device: 0", "graph.yaml:1:9: graph setting 'device' expects a string (got 0)"),
        ("queue-size: 0", "graph.yaml:1:13: 'queue-size' must be at least 1 (got 0)"),
        ("queue-size: -3", "graph.yaml:1:13: 'queue-size' must be at least 1 (got -3)"),
        ("queue-size: big", "graph.yaml:1:13: graph setting 'queue-size' expects an integer (got 'big')"),
        ("queue-size: 2.5", "graph.yaml:1:13: graph setting 'queue-size' expects an integer (got 2.5)"),
        ("queue-size: true", "graph.yaml:1:13: graph setting 'queue-size' expects an integer (got True)"),
    ],
)
def test_bad_settings(setting: str, message: str) -> None:
    assert error(f"{setting}\n{SOURCE}") == message


# -- plugins named by the graph ------------------------------------------------------------------------


def test_plugin_module_not_found() -> None:
    with pytest.raises(PluginError) as info:
        load("plugins: [dsflow_no_such_plugin]\n" + SOURCE)
    assert str(info.value) == (
        "graph.yaml:1:11: plugin 'dsflow_no_such_plugin' failed to import: "
        "ModuleNotFoundError: No module named 'dsflow_no_such_plugin'"
    )


def test_plugin_file_not_found(write_graph: Any, tmp_path: Path) -> None:
    path = write_graph("plugins:\n  - ./my_nodes.py\n" + SOURCE)
    with pytest.raises(PluginError) as info:
        load_graph(path, PluginManager(autoload=False))
    assert str(info.value) == f"{path}:2:5: plugin './my_nodes.py': file not found ({tmp_path / 'my_nodes.py'})"


def test_plugin_file_that_fails_to_import(write_graph: Any, tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('no licence key')\n", encoding="utf-8")
    path = write_graph("plugins: [broken.py]\n" + SOURCE)
    with pytest.raises(PluginError) as info:
        load_graph(path, PluginManager(autoload=False))
    assert str(info.value) == f"{path}:1:11: plugin 'broken.py' failed to import: RuntimeError: no licence key"


PLUGIN_FILE = '''
from dsflow import Node, hookimpl


class Double(Node):
    """Passes batches on."""

    kind = "local.double"


@hookimpl
def dsflow_register_nodes():
    return [Double]
'''


def test_plugin_file_is_found_next_to_the_graph(
    write_graph: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "graphs").mkdir()
    (tmp_path / "graphs" / "local_nodes.py").write_text(PLUGIN_FILE, encoding="utf-8")
    path = write_graph(
        with_source("- name: d\n  type: local.double\n  input: camera\n") + "plugins: [./local_nodes.py]\n",
        "graphs/graph.yaml",
    )
    monkeypatch.chdir(tmp_path)  # not the graph's folder: the plugin is found relative to the graph
    pm = PluginManager(autoload=False)
    graph = load_graph(Path("graphs/graph.yaml"), pm)
    assert graph.nodes["d"].kind == "local.double"
    assert graph.nodes["d"].where.file == str(Path("graphs/graph.yaml")) != str(path)
    info = next(p for p in pm.plugins() if p.name == "./local_nodes.py")
    assert (info.origin, info.provides) == ("graph", {"node types": ["local.double"]})


def test_builtin_plugin_named_again_is_accepted() -> None:
    pm = PluginManager(autoload=False)
    graph = load("plugins: [dsflow.nodes.sinks]\n" + SOURCE, pm)
    assert list(graph.nodes) == ["camera"]
    assert list(pm.plugin_names()).count("dsflow.nodes.sinks") == 1


def test_plugins_must_be_a_list_of_names() -> None:
    message = error("plugins: my_plugin\n" + SOURCE)
    assert message == "graph.yaml:1:10: 'plugins' must be a list of module names or .py files"


# -- --set overrides ------------------------------------------------------------------------------------


def test_override_changes_a_parameter() -> None:
    graph = load(SOURCE + "    params: {frames: 10}\n", overrides=("camera.frames=3", "camera.width=32"))
    params = graph.nodes["camera"].params
    assert (params.frames, params.width, params.height) == (3, 32, 480)


def test_override_on_a_node_without_params() -> None:
    graph = load(SOURCE, overrides=("camera.fps=12.5",))
    assert graph.nodes["camera"].params.fps == 12.5


def test_override_values_are_yaml(pm: PluginManager) -> None:
    text = with_source("- name: t\n  type: test.types\n  input: camera\n  params: {count: 1}\n")
    overrides = ("t.sizes=[4, 5]", "t.weights={a: 2}", "t.label='007'", "t.limit=null", "t.enabled=true")
    params = load(text, pm, overrides).nodes["t"].params
    assert (params.sizes, params.weights, params.label) == ([4, 5], {"a": 2.0}, "007")
    assert (params.limit, params.enabled) == (None, True)


def test_override_with_an_empty_value() -> None:
    text = with_source("- name: out\n  type: sink.jsonl\n  input: camera\n  params: {path: a.jsonl}\n")
    graph = load(text, overrides=("out.path=",))
    assert graph.nodes["out"].params.path == ""


@pytest.mark.parametrize("text", ["camera.frames", "frames=3", ".frames=3", "camera.=3", "=3"])
def test_override_syntax(text: str) -> None:
    assert error(SOURCE, UsageError, overrides=(text,)) == f"--set {text!r}: expected NODE.PARAM=VALUE"


def test_override_of_an_unknown_node() -> None:
    message = error(SOURCE, UsageError, overrides=("camra.frames=3",))
    assert message == "--set 'camra.frames=3': unknown node 'camra' (did you mean 'camera'?)"


def test_override_of_an_unknown_parameter() -> None:
    message = error(SOURCE, overrides=("camera.frame=3",))
    assert message == "--set camera.frame=3: node 'camera': unknown parameter 'frame' (did you mean 'frames'?)"


def test_override_with_a_wrong_type() -> None:
    message = error(SOURCE + "    params: {frames: 10}\n", overrides=("camera.frames=many",))
    assert message == "--set camera.frames=many: node 'camera': parameter 'frames' expects an integer (got 'many')"


def test_override_with_invalid_yaml() -> None:
    message = error(SOURCE, overrides=("camera.frames=[1,",))
    assert message.startswith("--set camera.frames=[1,")
    assert "invalid YAML" in message


# -- the public entry points agree ------------------------------------------------------------------


def test_load_graph_text_and_load_graph_give_the_same_message(write_graph: Any) -> None:
    text = "nodes:\n  - name: camera\n    type: source.testpatern\n"
    with pytest.raises(ConfigError) as from_text:
        load_graph_text(text, "mine.yaml")
    path = write_graph(text)
    with pytest.raises(ConfigError) as from_file:
        load_graph(path)
    assert str(from_text.value).startswith("mine.yaml:3:11: node 'camera': unknown node type")
    assert str(from_file.value) == str(from_text.value).replace("mine.yaml", str(path), 1)


def test_errors_are_dsflow_errors_with_the_usage_exit_code() -> None:
    for kind in (ConfigError, GraphError, PluginError, UsageError):
        assert issubclass(kind, dsflow.DsflowError)
        assert kind.exit_code == dsflow.ExitCode.USAGE_ERROR
    assert issubclass(ConfigError, ValueError)
    assert issubclass(GraphError, ValueError)
