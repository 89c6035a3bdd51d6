"""The plugin system: installed plugins found through entry points, and the checks on what plugins give.

``tests/plugin_pkg`` is a real plugin distribution; it is installed once per module with pip
(offline, into a temporary folder) and the ``dsflow`` command is run with that folder on
``PYTHONPATH`` and plugin autoloading on. Broken plugin distributions are written and
installed the same way. The checks on hook results run in-process, on plugin objects
registered through :meth:`dsflow.PluginManager.register`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dsflow
from dsflow import Node, PluginError, PluginManager, __version__
from dsflow.plugins.manager import AUTOLOAD_OFF_ENV
from dsflow.plugins.registry import Registry

PLUGIN_PKG = Path(__file__).resolve().parent / "plugin_pkg"
EXAMPLE = "plugin 'example' (dsflow-example-plugin 1.2.3)"
"""How dsflow names the example plugin in messages."""


# -- installing plugin distributions ------------------------------------------------------------------


def pip_install(project: Path, target: Path) -> Path:
    """Install ``project`` (a folder with a pyproject.toml) into ``target`` with pip, offline."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    command += ["--disable-pip-version-check", "--quiet", "--target", str(target), str(project)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"pip install {project} failed:\n{result.stdout}\n{result.stderr}"
    return target


def install_copy(project: Path, root: Path) -> Path:
    """Install a copy of ``project`` (building writes into the source folder) into ``root/site``."""
    source = root / "src"
    shutil.copytree(project, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return pip_install(source, root / "site")


def install_plugin(root: Path, dist: str, version: str, entry_point: str, module: str, source: str) -> Path:
    """Write a one-module plugin distribution under ``root`` and install it; returns its site folder."""
    project = root / "src"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(f"""\
            [build-system]
            requires = ["setuptools>=69"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "{version}"

            [project.entry-points.dsflow]
            {entry_point} = "{module}"

            [tool.setuptools]
            py-modules = ["{module}"]
        """),
        encoding="utf-8",
    )
    (project / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return pip_install(project, root / "site")


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where tests/plugin_pkg (distribution dsflow-example-plugin 1.2.3) is installed."""
    return install_copy(PLUGIN_PKG, tmp_path_factory.mktemp("example-plugin"))


def dsflow_cli(
    *args: str | Path, path: list[Path], autoload: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dsflow ARGS`` with ``path`` on PYTHONPATH and entry-point plugins loaded."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)), COLUMNS="200")
    env.pop(AUTOLOAD_OFF_ENV, None)  # the test process turns autoloading off; this run wants it on
    if not autoload:
        env[AUTOLOAD_OFF_ENV] = "1"
    command = [sys.executable, "-m", "dsflow", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def table_row(*cells: str) -> str:
    """A regular expression for one row of a rich table with these first cells."""
    return r"│ " + r" +│ ".join(re.escape(c) for c in cells) + r" +│"


def assert_fails(result: subprocess.CompletedProcess[str], message: str) -> None:
    """The command printed ``error: MESSAGE`` alone and exited with the usage-error code."""
    assert (result.returncode, result.stdout, result.stderr) == (4, "", f"error: {message}\n")


TAG_GRAPH = """\
nodes:
  - {name: camera, type: source.testpattern, params: {streams: 2, frames: 3, width: 32, height: 16}}
  - {name: tag, type: example.tag, input: camera, params: {value: seen, key: by}}
  - {name: out, type: sink.jsonl, input: tag, params: {path: out.jsonl}}
"""


# -- an installed plugin ------------------------------------------------------------------------------


def test_plugins_lists_the_installed_plugin(example_site: Path) -> None:
    result = dsflow_cli("plugins", path=[example_site])
    assert (result.returncode, result.stderr) == (0, "")
    row = table_row("example", "entry point", "dsflow-example-plugin 1.2.3", "node types: example.tag")
    assert re.search(row + r"\n│ +│ +│ +│ bbox parsers: example-threshold +│", result.stdout), result.stdout
    assert re.search(table_row("dsflow.nodes.sinks", "builtin", f"dsflow {__version__}"), result.stdout)


def test_autoload_can_be_turned_off(example_site: Path) -> None:
    result = dsflow_cli("plugins", path=[example_site], autoload=False)
    assert result.returncode == 0
    assert "dsflow.nodes.sinks" in result.stdout
    assert "example" not in result.stdout


def test_nodes_lists_and_describes_the_plugin_node_type(example_site: Path) -> None:
    listing = dsflow_cli("nodes", path=[example_site])
    assert listing.returncode == 0
    summary = "Stores a fixed value in ``frame.meta[key]`` of every frame."
    assert re.search(table_row("example.tag", "example", summary), listing.stdout), listing.stdout
    described = dsflow_cli("nodes", "example.tag", path=[example_site])
    assert described.returncode == 0
    assert described.stdout.startswith("example.tag  (dsflow_example_plugin.TagNode)\n")
    assert re.search(table_row("value", "a string", "(required)"), described.stdout)
    doc = "Where to store it: frames get ``meta[key] = value``."  # brackets shown as written, not as markup
    assert re.search(table_row("key", "a string", "'tag'", doc), described.stdout), described.stdout


def test_run_a_graph_using_the_plugin_node_type(example_site: Path, tmp_path: Path) -> None:
    (tmp_path / "graph.yaml").write_text(TAG_GRAPH, encoding="utf-8")
    result = dsflow_cli("run", "graph.yaml", "-q", path=[example_site], cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    assert all('"meta": {"by": "seen"}' in line for line in lines)


def test_graph_without_the_plugin_loaded(example_site: Path, tmp_path: Path) -> None:
    path = tmp_path / "graph.yaml"
    path.write_text(TAG_GRAPH, encoding="utf-8")
    result = dsflow_cli("validate", path, path=[example_site], autoload=False)
    assert_fails(
        result,
        f"{path}:3:23: node 'tag': unknown node type 'example.tag' (known types: nvinfer, nvinfer.infer, "
        "nvinfer.parse, nvinfer.preprocess, python, sink.images, sink.jsonl, sink.null, sink.video, source.images, "
        "source.testpattern, source.video)",
    )


@pytest.mark.parametrize("autoload", [True, False], ids=["autoload", "no-autoload"])
def test_graph_may_name_an_installed_plugin(example_site: Path, tmp_path: Path, autoload: bool) -> None:
    # Named in 'plugins:' the graph works without autoloading, and naming it must not clash
    # with the same module loaded through its entry point.
    path = tmp_path / "graph.yaml"
    path.write_text("plugins: [dsflow_example_plugin]\n" + TAG_GRAPH, encoding="utf-8")
    result = dsflow_cli("validate", path, path=[example_site], autoload=autoload)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{path}: ok (3 nodes, 2 connections)\n", "")


@pytest.fixture
def example_importable(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example plugin's folder on sys.path of this process, and its module forgotten afterwards."""
    monkeypatch.syspath_prepend(str(example_site))
    yield
    sys.modules.pop("dsflow_example_plugin", None)


@pytest.mark.usefixtures("example_importable")
def test_entry_point_plugin_in_process() -> None:
    pm = PluginManager(autoload=True)
    info = next(p for p in pm.plugins() if p.name == "example")
    assert (info.origin, info.distribution, info.version) == ("entry point", "dsflow-example-plugin", "1.2.3")
    assert info.provides == {"node types": ["example.tag"], "bbox parsers": ["example-threshold"]}
    assert info.label == EXAMPLE
    assert pm.node_type("example.tag").__module__ == "dsflow_example_plugin"
    parser = pm.registry.lookup("bbox_parsers", "example-threshold")
    assert parser.__name__ == "parse_threshold"
    assert parser([], None, None, xp=None, stream=None) == []


@pytest.mark.usefixtures("example_importable")
def test_entry_points_are_not_loaded_when_autoload_is_off() -> None:
    pm = PluginManager(autoload=False)
    assert "example" not in pm.plugin_names()
    pm.load_entry_points()
    assert "example" in pm.plugin_names()


# -- broken plugin distributions --------------------------------------------------------------------------


def test_plugin_that_fails_to_import(tmp_path: Path) -> None:
    source = "raise RuntimeError('needs a licence key')\n"
    site = install_plugin(tmp_path, "dsflow-broken-plugin", "0.1", "broken", "broken_plugin", source)
    message = (
        "plugin 'broken' (dsflow-broken-plugin 0.1) failed to import (broken_plugin): "
        "RuntimeError: needs a licence key"
    )
    assert_fails(dsflow_cli("plugins", path=[site]), message)
    assert_fails(dsflow_cli("nodes", path=[site]), message)


CLASHING_PLUGIN = """
    from dsflow import Node, hookimpl


    class Tag(Node):
        kind = "example.tag"


    @hookimpl
    def dsflow_register_nodes():
        return [Tag]
"""


def test_two_plugins_register_the_same_node_type(example_site: Path, tmp_path: Path) -> None:
    site = install_plugin(tmp_path, "dsflow-clash-plugin", "2.0", "clash", "clash_plugin", CLASHING_PLUGIN)
    message = (
        "node type 'example.tag' is registered twice: "
        f"by plugin 'clash' (dsflow-clash-plugin 2.0) and by {EXAMPLE}"
    )
    assert_fails(dsflow_cli("plugins", path=[example_site, site]), message)


def test_two_distributions_use_the_same_plugin_name(example_site: Path, tmp_path: Path) -> None:
    site = install_plugin(tmp_path, "dsflow-other-plugin", "0.9", "example", "other_plugin", "")
    other = "plugin 'example' (dsflow-other-plugin 0.9)"
    # Neither is dropped silently; which one is seen first follows sys.path.
    taken = "the plugin name 'example' is already taken by"
    assert_fails(dsflow_cli("plugins", path=[example_site, site]), f"{other}: {taken} {EXAMPLE}")
    assert_fails(dsflow_cli("plugins", path=[site, example_site]), f"{EXAMPLE}: {taken} {other}")


# -- plugin objects registered in-process -----------------------------------------------------------------


class Stamp(Node):
    """A node type for these tests."""

    kind = "test.stamp"


class NullSink(Node):
    """Claims a built-in node type's name."""

    kind = "sink.null"


def yolo(*args: Any, **kwargs: Any) -> list[Any]:
    return []


def ssd(*args: Any, **kwargs: Any) -> list[Any]:
    return []


class Provides:
    """A plugin object whose hooks return what it was given (``None``: the hook gives nothing)."""

    def __init__(self, nodes: Any = None, bbox_parsers: Any = None) -> None:
        self.nodes, self.bbox_parsers = nodes, bbox_parsers

    @dsflow.hookimpl
    def dsflow_register_nodes(self) -> Any:
        return self.nodes

    @dsflow.hookimpl
    def dsflow_register_bbox_parsers(self) -> Any:
        return self.bbox_parsers


def manager(**plugins: Any) -> PluginManager:
    """A plugin manager with the built-ins and ``plugins`` registered under their keyword names."""
    pm = PluginManager(autoload=False)
    for name, plugin in plugins.items():
        pm.register(plugin, name.replace("_", "-"))
    return pm


def registry_error(pm: PluginManager) -> str:
    with pytest.raises(PluginError) as info:
        _ = pm.registry
    return str(info.value)


def test_registered_plugin_provides_by_name() -> None:
    pm = manager(acme=Provides([Stamp], {"yolo": yolo}))
    assert pm.node_type("test.stamp") is Stamp
    assert pm.registry.lookup("bbox_parsers", "yolo") is yolo
    info = next(p for p in pm.plugins() if p.name == "acme")
    assert (info.origin, info.provides) == ("api", {"node types": ["test.stamp"], "bbox parsers": ["yolo"]})
    assert pm.registry.nodes["test.stamp"].plugin is info


def test_same_node_type_from_two_plugins() -> None:
    pm = PluginManager(autoload=False)
    pm.register(Provides([Stamp]), "acme", "acme-nodes", "1.0")
    pm.register(Provides([Stamp]), "zeta", "zeta-nodes", "2.1")
    assert registry_error(pm) == (
        "node type 'test.stamp' is registered twice: "
        "by plugin 'acme' (acme-nodes 1.0) and by plugin 'zeta' (zeta-nodes 2.1)"
    )


def test_plugin_claiming_a_builtin_node_type() -> None:
    assert registry_error(manager(mine=Provides([NullSink]))) == (
        f"node type 'sink.null' is registered twice: by plugin 'dsflow.nodes.sinks' (dsflow {__version__}) "
        "and by plugin 'mine'"
    )


def test_same_parser_name_from_two_plugins() -> None:
    pm = manager(first=Provides(bbox_parsers={"yolo": yolo}), second=Provides(bbox_parsers={"yolo": ssd}))
    assert registry_error(pm) == "bbox parser 'yolo' is registered twice: by plugin 'first' and by plugin 'second'"


class Misspelt:
    @dsflow.hookimpl
    def dsflow_register_node(self) -> list[type[Node]]:
        return [Stamp]


class UnknownArgument:
    @dsflow.hookimpl
    def dsflow_register_nodes(self, device: str) -> list[type[Node]]:
        return [Stamp]


def test_misspelt_hook_name() -> None:
    pm = PluginManager(autoload=False)
    with pytest.raises(PluginError, match=r"^plugin 'typo': unknown hook 'dsflow_register_node' in plugin "):
        pm.register(Misspelt(), "typo")
    assert "typo" not in pm.plugin_names()
    assert pm.node_type("sink.null").kind == "sink.null"  # the manager still works


def test_hook_with_an_argument_the_spec_does_not_have() -> None:
    pm = PluginManager(autoload=False)
    with pytest.raises(PluginError) as info:
        pm.register(UnknownArgument(), "args")
    assert str(info.value).startswith("plugin 'args': Plugin 'args' for hook 'dsflow_register_nodes'")
    assert "Argument(s) {'device'} are declared in the hookimpl but can not be found in the hookspec" in str(info.value)
    assert "args" not in pm.plugin_names()


def test_same_plugin_name_twice() -> None:
    pm = manager(acme=Provides([Stamp]))
    with pytest.raises(PluginError, match=r"^plugin 'acme': Plugin name already registered: acme="):
        pm.register(Provides(), "acme")


class NoKind(Node):
    """Forgot its kind."""


@pytest.mark.parametrize(
    ("plugin", "problem"),
    [
        (Provides(nodes=Stamp), f"hook dsflow_register_nodes must return a list of Node subclasses (got {Stamp!r})"),
        (Provides(nodes={"test.stamp": Stamp}), "hook dsflow_register_nodes must return a list of Node subclasses"),
        (Provides(nodes=[Stamp, "test.other"]), "dsflow_register_nodes must return Node subclasses with a 'kind'"),
        (Provides(nodes=[NoKind]), "dsflow_register_nodes must return Node subclasses with a 'kind'"),
        (Provides(nodes=[Stamp("s", None)]), "dsflow_register_nodes must return Node subclasses with a 'kind'"),
        (
            Provides(bbox_parsers=[yolo]),
            "hook dsflow_register_bbox_parsers must return a dict of name to callable (got list)",
        ),
        (Provides(bbox_parsers={"yolo": "yolo"}), "must return a dict of name to callable (got 'yolo': 'yolo')"),
        (Provides(bbox_parsers={1: yolo}), "must return a dict of name to callable (got 1: <function yolo"),
    ],
    ids=["a class", "a dict of nodes", "a string", "no kind", "an instance", "a list", "not callable", "not a name"],
)
def test_hook_returning_the_wrong_shape(plugin: Provides, problem: str) -> None:
    message = registry_error(manager(wrong=plugin))
    assert message.startswith("plugin 'wrong': ")
    assert problem in message


class Raises:
    @dsflow.hookimpl
    def dsflow_register_nodes(self) -> list[type[Node]]:
        msg = "model zoo unreachable"
        raise ConnectionError(msg)


def test_hook_that_raises() -> None:
    pm = PluginManager(autoload=False)
    pm.register(Raises(), "flaky", "flaky-dist", "0.1")
    with pytest.raises(PluginError) as info:
        _ = pm.registry
    assert str(info.value) == (
        "plugin 'flaky' (flaky-dist 0.1): hook dsflow_register_nodes failed: ConnectionError: model zoo unreachable"
    )
    assert isinstance(info.value.__cause__, ConnectionError)


# -- Registry.lookup ------------------------------------------------------------------------------------


def test_lookup_of_a_registered_name() -> None:
    registry = manager(acme=Provides([Stamp], {"acme-yolo8": yolo, "acme-ssd": ssd})).registry
    assert registry.lookup("bbox_parsers", "acme-ssd") is ssd
    assert registry.lookup("nodes", "test.stamp") is Stamp


def test_lookup_of_an_unknown_name_with_a_close_match() -> None:
    registry = manager(acme=Provides(bbox_parsers={"acme-yolo8": yolo, "acme-ssd": ssd})).registry
    with pytest.raises(PluginError) as info:
        registry.lookup("bbox_parsers", "acme-yolo")
    message = str(info.value)
    assert message.startswith("unknown bbox parser 'acme-yolo' (did you mean 'acme-yolo8'?) (available: ")
    assert "acme-ssd, acme-yolo8" in message and "yolox" in message  # plugins' names next to the built-ins


def test_lookup_of_an_unknown_name_lists_what_is_available() -> None:
    registry = manager().registry
    with pytest.raises(PluginError) as info:
        registry.lookup("nodes", "camera")
    assert str(info.value) == (
        "unknown node type 'camera' "
        "(available: nvinfer, nvinfer.infer, nvinfer.parse, nvinfer.preprocess, python, sink.images, sink.jsonl, "
        "sink.null, sink.video, source.images, source.testpattern, source.video)"
    )


def test_lookup_in_an_empty_family() -> None:
    with pytest.raises(PluginError) as info:
        Registry().lookup("classifier_parsers", "softmax")
    assert str(info.value) == "unknown classifier parser 'softmax' (available: none)"


def test_node_type_of_an_unknown_name() -> None:
    with pytest.raises(PluginError) as info:
        manager().node_type("sink.jsnl")
    assert str(info.value) == "unknown node type 'sink.jsnl' (did you mean 'sink.jsonl'?)"
