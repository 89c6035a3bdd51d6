"""The ``dsflow`` command: as a subprocess (``python -m dsflow`` and the console script) and in-process.

Every error is checked for its exact message on stderr (``error: ...``), for the absence of a
Python traceback unless ``--traceback`` is given, and for its exit code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from dsflow import ExitCode, __version__
from dsflow.cli import main
from dsflow.cuda import gpu_available
from dsflow.nodes import sinks, sources

REPO = Path(__file__).resolve().parents[1]
TESTPATTERN = REPO / "graphs" / "testpattern.yaml"
BUILTIN_TYPES = ("python", "sink.jsonl", "sink.null", "source.images", "source.testpattern", "source.video")

FANOUT = """
nodes:
  - {name: cam, type: source.testpattern, params: {frames: 4, width: 32, height: 16}}
  - {name: bright, type: python, input: cam, params: {function: "dsflow.examples:mean_brightness"}}
  - {name: out, type: sink.jsonl, input: bright, params: {path: out.jsonl}}
  - {name: drop, type: sink.null, input: cam}
"""
"""Four nodes, three connections, one producer feeding two consumers."""

BAD_TYPE = """
nodes:
  - name: camera
    type: source.testpatern
"""

FAILING_STEP = """
def fail_on_frame_3(batch):
    for frame in batch.frames:
        if frame.frame_num == 3:
            frame.meta["ratio"] = 1 / 0
"""

FAILING_GRAPH = """
nodes:
  - {name: camera, type: source.testpattern, params: {frames: 20, width: 32, height: 16}}
  - {name: boom, type: python, input: camera, params: {function: "steps/fail.py:fail_on_frame_3"}}
  - {name: out, type: sink.jsonl, input: boom, params: {path: results/out.jsonl}}
"""


# -- ways to run the command ---------------------------------------------------------------------


def run_module(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m dsflow ARGS`` in a fresh process."""
    return _run([sys.executable, "-m", "dsflow", *map(str, args)], cwd)


def console_script() -> str:
    """The ``dsflow`` script installed next to this Python."""
    script = shutil.which("dsflow", path=str(Path(sys.executable).parent))
    assert script, f"no dsflow console script next to {sys.executable}: is dsflow installed (pip install -e .)?"
    return script


def run_script(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The ``dsflow`` console script in a fresh process."""
    return _run([console_script(), *map(str, args)], cwd)


def _run(command: list[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def call(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """``dsflow.cli.main(ARGS)`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code: int, out: str, err: str, message: str, exit_code: int = ExitCode.USAGE_ERROR) -> None:
    """The command failed with ``error: MESSAGE`` alone on stderr and no traceback anywhere."""
    assert (code, err) == (exit_code, f"error: {message}\n"), err
    assert "Traceback" not in out + err


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as they need, so that rows are not wrapped (for this process and subprocesses)."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def write(tmp_path: Path) -> Any:
    """Write dedented text to a file under tmp_path and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


def table_row(*cells: str) -> str:
    """A regular expression for one row of a rich table with these first cells."""
    return r"│ " + r" +│ ".join(re.escape(c) for c in cells) + r" +│"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def frames_by_stream(records: list[dict[str, Any]]) -> dict[int, list[int]]:
    streams: dict[int, list[int]] = defaultdict(list)
    for record in records:
        streams[record["source_id"]].append(record["frame_num"])
    return dict(streams)


# -- --version, --help ------------------------------------------------------------------------------


def test_version_as_a_module() -> None:
    result = run_module("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"dsflow {__version__}\n", "")


def test_version_as_a_console_script() -> None:
    result = run_script("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"dsflow {__version__}\n", "")


def test_version_in_process_returns_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert call(capsys, "--version") == (0, f"dsflow {__version__}\n", "")


def test_help_in_process_returns_the_code(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "--help")
    assert (code, err) == (0, "")
    for command in ("run", "validate", "show", "plugins", "nodes"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), out


# -- validate -------------------------------------------------------------------------------------


def test_validate_ok_as_a_module() -> None:
    result = run_module("validate", TESTPATTERN)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{TESTPATTERN}: ok (3 nodes, 2 connections)\n"


def test_validate_ok_as_a_console_script() -> None:
    result = run_script("validate", TESTPATTERN)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{TESTPATTERN}: ok (3 nodes, 2 connections)\n", "")


def test_validate_ok_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert call(capsys, "validate", TESTPATTERN) == (0, f"{TESTPATTERN}: ok (3 nodes, 2 connections)\n", "")


BAD_TYPE_MESSAGE = "{}:3:11: node 'camera': unknown node type 'source.testpatern' (did you mean 'source.testpattern'?)"


def test_validate_error_as_a_module(write: Any) -> None:
    path = write("bad.yaml", BAD_TYPE)
    result = run_module("validate", path)
    assert_user_error(result.returncode, result.stdout, result.stderr, BAD_TYPE_MESSAGE.format(path))
    assert result.stdout == ""


def test_validate_error_as_a_console_script(write: Any) -> None:
    path = write("bad.yaml", BAD_TYPE)
    result = run_script("validate", path)
    assert_user_error(result.returncode, result.stdout, result.stderr, BAD_TYPE_MESSAGE.format(path))


def test_validate_error_in_process(capsys: pytest.CaptureFixture[str], write: Any) -> None:
    path = write("bad.yaml", BAD_TYPE)
    assert_user_error(*call(capsys, "validate", path), BAD_TYPE_MESSAGE.format(path))


def test_validate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert_user_error(*call(capsys, "validate", path), f"{path}: cannot read file (No such file or directory)")


@pytest.mark.parametrize("position", ["before", "after"])
def test_traceback_option_shows_the_traceback(write: Any, position: str) -> None:
    path = write("bad.yaml", BAD_TYPE)
    args = ["--traceback", "validate", path] if position == "before" else ["validate", path, "--traceback"]
    result = run_module(*args)
    assert result.returncode == ExitCode.USAGE_ERROR
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert f"dsflow.errors.ConfigError: {BAD_TYPE_MESSAGE.format(path)}\n" in result.stderr
    assert result.stderr.endswith(f"error: {BAD_TYPE_MESSAGE.format(path)}\n")


# -- run -------------------------------------------------------------------------------------------


def test_run_quiet_writes_every_stream_up_to_max_frames(tmp_path: Path) -> None:
    result = run_module(
        "run", TESTPATTERN, "--max-frames", "5", "-q", "--set", "metadata.path=results/out.jsonl", cwd=tmp_path
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    records = read_jsonl(tmp_path / "results" / "out.jsonl")
    assert frames_by_stream(records) == {0: [0, 1, 2, 3, 4], 1: [0, 1, 2, 3, 4]}
    assert all((r["width"], r["height"]) == (640, 360) for r in records)
    assert all(isinstance(r["meta"]["brightness"], float) for r in records)  # the python step ran on every frame
    assert not (tmp_path / "out").exists()  # the graph's own path was overridden


def test_run_prints_the_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "out.jsonl"
    code, out, err = call(capsys, "run", TESTPATTERN, "--max-frames", "3", "--set", f"metadata.path={out_file}")
    assert (code, err) == (0, "")
    assert "dsflow run: " in out
    assert ", 6 frames" in out
    for node, kind in (("camera", "source.testpattern"), ("brightness", "python"), ("metadata", "sink.jsonl")):
        assert re.search(table_row(node, kind) + r" +3 │ +6 │", out), out
    assert len(read_jsonl(out_file)) == 6


def test_run_with_overrides(capsys: pytest.CaptureFixture[str], write: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    write("graph.yaml", FANOUT)
    code, out, err = call(capsys, "run", "graph.yaml", "-q", "--set", "cam.frames=2", "--set", "cam.streams=3")
    assert (code, out, err) == (0, "", "")
    assert frames_by_stream(read_jsonl(tmp_path / "out.jsonl")) == {0: [0, 1], 1: [0, 1], 2: [0, 1]}


def test_run_override_type_error(capsys: pytest.CaptureFixture[str]) -> None:
    message = "--set camera.frames=many: node 'camera': parameter 'frames' expects an integer (got 'many')"
    assert_user_error(*call(capsys, "run", TESTPATTERN, "-q", "--set", "camera.frames=many"), message)


def test_run_override_syntax_error(capsys: pytest.CaptureFixture[str]) -> None:
    message = "--set 'camera.frames': expected NODE.PARAM=VALUE"
    assert_user_error(*call(capsys, "validate", TESTPATTERN, "--set", "camera.frames"), message)


def test_run_override_of_an_unknown_node(capsys: pytest.CaptureFixture[str]) -> None:
    message = "--set 'camra.frames=3': unknown node 'camra' (did you mean 'camera'?)"
    assert_user_error(*call(capsys, "run", TESTPATTERN, "--set", "camra.frames=3"), message)


def test_run_max_frames_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert_user_error(*call(capsys, "run", TESTPATTERN, "--max-frames", "0"), "--max-frames must be at least 1 (got 0)")


@pytest.mark.skipif(gpu_available(), reason="this machine has a GPU")
def test_run_on_a_gpu_without_one(capsys: pytest.CaptureFixture[str]) -> None:
    message = "device 'gpu' was requested but no GPU is usable (install 'dsflow[gpu]' and check the CUDA driver)"
    assert_user_error(*call(capsys, "run", TESTPATTERN, "--device", "gpu", "-q"), message)


FAILURE = "node 'boom' (python): ZeroDivisionError: division by zero"


def test_run_failure_in_a_node(write: Any, tmp_path: Path) -> None:
    write("steps/fail.py", FAILING_STEP)
    write("graph.yaml", FAILING_GRAPH)
    result = run_module("run", "graph.yaml", "-q", cwd=tmp_path)
    assert_user_error(result.returncode, result.stdout, result.stderr, FAILURE, ExitCode.RUN_FAILED)
    # the sink was stopped cleanly: what reached it before the failure is in its file
    assert frames_by_stream(read_jsonl(tmp_path / "results" / "out.jsonl")) == {0: [0, 1, 2]}


def test_run_failure_in_process_prints_the_summary_then_the_error(
    capsys: pytest.CaptureFixture[str], write: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    write("steps/fail.py", FAILING_STEP)
    write("graph.yaml", FAILING_GRAPH)
    code, out, err = call(capsys, "run", "graph.yaml")
    assert_user_error(code, "", err, FAILURE, ExitCode.RUN_FAILED)
    # three batches went through before the fourth failed
    assert re.search(table_row("boom", "python") + r" +3 │ +3 │", out), out
    assert frames_by_stream(read_jsonl(tmp_path / "results" / "out.jsonl")) == {0: [0, 1, 2]}


def test_run_failure_with_traceback(write: Any, tmp_path: Path) -> None:
    write("steps/fail.py", FAILING_STEP)
    write("graph.yaml", FAILING_GRAPH)
    result = run_module("run", "graph.yaml", "-q", "--traceback", cwd=tmp_path)
    assert result.returncode == ExitCode.RUN_FAILED
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert 'steps/fail.py", line 4, in fail_on_frame_3' in result.stderr
    assert result.stderr.endswith(f"ZeroDivisionError: division by zero\nerror: {FAILURE}\n")


BROKEN_NODE_PLUGIN = '''
from dsflow import Node, hookimpl


class Broken(Node):
    """Its Params is not a dataclass: a bug in the plugin."""

    kind = "local.broken"
    Params = dict


@hookimpl
def dsflow_register_nodes():
    return [Broken]
'''


def test_internal_error_shows_the_traceback(write: Any) -> None:
    write("broken_nodes.py", BROKEN_NODE_PLUGIN)
    path = write("graph.yaml", "plugins: [broken_nodes.py]\nnodes:\n  - {name: b, type: local.broken}\n")
    result = run_module("validate", path)
    assert result.returncode == ExitCode.INTERNAL_ERROR
    assert result.stderr.startswith("Traceback (most recent call last):\n")
    assert result.stderr.endswith("internal error: please report it with the traceback above\n")


# -- show ------------------------------------------------------------------------------------------


def test_show_text(capsys: pytest.CaptureFixture[str], write: Any) -> None:
    path = write("graph.yaml", FANOUT)
    code, out, err = call(capsys, "show", path)
    assert (code, err) == (0, "")
    assert out == (
        f"graph {path}: 4 nodes, 3 connections\n"
        "  cam (source.testpattern)\n"
        "  bright (python)  [in <- cam]\n"
        "  out (sink.jsonl)  [in <- bright]\n"
        "  drop (sink.null)  [in <- cam]\n"
    )


def test_show_dot(capsys: pytest.CaptureFixture[str], write: Any) -> None:
    code, out, err = call(capsys, "show", write("graph.yaml", FANOUT), "--format", "dot")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert (lines[0], lines[-1]) == ('digraph "graph" {', "}")
    nodes = (("cam", "source.testpattern"), ("bright", "python"), ("out", "sink.jsonl"), ("drop", "sink.null"))
    for name, kind in nodes:
        assert f'  "{name}" [label="{name}\\n{kind}"];' in lines
    edges = [line for line in lines if "->" in line]
    assert edges == ['  "cam" -> "bright";', '  "bright" -> "out";', '  "cam" -> "drop";']


def test_show_mermaid(capsys: pytest.CaptureFixture[str], write: Any) -> None:
    code, out, err = call(capsys, "show", write("graph.yaml", FANOUT), "--format", "mermaid")
    assert (code, err) == (0, "")
    assert out == textwrap.dedent("""\
        flowchart LR
          n0["cam<br/><i>source.testpattern</i>"]
          n1["bright<br/><i>python</i>"]
          n2["out<br/><i>sink.jsonl</i>"]
          n3["drop<br/><i>sink.null</i>"]
          n0 --> n1
          n1 --> n2
          n0 --> n3
    """)


def test_show_to_a_file(capsys: pytest.CaptureFixture[str], write: Any, tmp_path: Path) -> None:
    target = tmp_path / "graph.dot"
    result = call(capsys, "show", write("graph.yaml", FANOUT), "--format", "dot", "-o", target)
    assert result == (0, f"wrote {target}\n", "")
    assert target.read_text(encoding="utf-8").startswith('digraph "graph" {\n')


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000  # a drawing, not an empty canvas


def test_show_png(capsys: pytest.CaptureFixture[str], write: Any, tmp_path: Path) -> None:
    target = tmp_path / "pictures" / "graph.png"
    target.parent.mkdir()
    code, out, err = call(capsys, "show", write("graph.yaml", FANOUT), "--format", "png", "-o", target)
    assert (code, out, err) == (0, f"wrote {target}\n", "")
    assert_png(target)


def test_show_png_defaults_to_the_graph_name_in_the_current_folder(write: Any, tmp_path: Path) -> None:
    path = write("graphs/fanout.yaml", FANOUT)
    (tmp_path / "work").mkdir()
    result = run_module("show", path, "--format", "png", cwd=tmp_path / "work")
    assert (result.returncode, result.stdout, result.stderr) == (0, "wrote fanout.png\n", "")
    assert_png(tmp_path / "work" / "fanout.png")


def test_show_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "show", TESTPATTERN, "--format", "svg")
    assert (code, out) == (ExitCode.USAGE_ERROR, "")
    assert err.startswith("error: dsflow show: argument --format: invalid choice: 'svg' (choose from ")
    assert "Traceback" not in err


# -- nodes and plugins -------------------------------------------------------------------------------


def test_nodes_lists_the_builtin_types(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "nodes")
    assert (code, err) == (0, "")
    assert "dsflow node types" in out
    for kind in BUILTIN_TYPES:
        assert re.search(table_row(kind), out), kind
    for kind, plugin, node_type in (
        ("source.testpattern", "dsflow.nodes.sources", sources.TestPatternSourceNode),
        ("sink.jsonl", "dsflow.nodes.sinks", sinks.JsonlSinkNode),
    ):
        summary = node_type.__doc__.splitlines()[0]  # the first line of the docstring
        assert re.search(table_row(kind, plugin, summary), out), kind


def test_nodes_describes_a_type(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "nodes", "source.testpattern")
    assert (code, err) == (0, "")
    assert out.startswith("source.testpattern  (dsflow.nodes.sources.TestPatternSourceNode)\n")
    assert "ports: output 'out'\n" in out
    for name, kind, default in (
        ("streams", "an integer", "1"),
        ("frames", "an integer", "300"),
        ("fps", "a number", "30.0"),
        ("batch-size", "an integer", "0"),
        ("realtime", "true or false", "False"),
    ):
        assert re.search(table_row(name, kind, default), out), name
    assert "Number of independent streams." in out


def test_nodes_shows_required_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "nodes", "sink.jsonl")
    assert code == 0
    assert "ports: input 'in'\n" in out
    assert re.search(table_row("path", "a string", "(required)"), out)
    assert re.search(table_row("append", "true or false", "False"), out)


def test_nodes_unknown_type(capsys: pytest.CaptureFixture[str]) -> None:
    message = "unknown node type 'source.testpatern' (did you mean 'source.testpattern'?)"
    assert_user_error(*call(capsys, "nodes", "source.testpatern"), message)


def test_plugins_lists_the_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "plugins")
    assert (code, err) == (0, "")
    dist = f"dsflow {__version__}"
    for module, provides in (
        ("dsflow.nodes.sources", "node types: source.testpattern"),
        ("dsflow.nodes.video", "node types: source.video"),
        ("dsflow.nodes.images", "node types: source.images"),
        ("dsflow.nodes.python_node", "node types: python"),
        ("dsflow.nodes.sinks", "node types: sink.jsonl, sink.null"),
    ):
        assert re.search(table_row(module, "builtin", dist, provides), out), module


def test_plugins_as_a_module() -> None:
    result = run_module("plugins")
    assert (result.returncode, result.stderr) == (0, "")
    assert re.search(table_row("dsflow.nodes.sinks", "builtin", f"dsflow {__version__}"), result.stdout)


# -- usage errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "dsflow: the following arguments are required: COMMAND"),
        (("run",), "dsflow run: the following arguments are required: GRAPH"),
        (("show",), "dsflow show: the following arguments are required: GRAPH"),
        (("run", "g.yaml", "--max-frames", "x"), "dsflow run: argument --max-frames: invalid int value: 'x'"),
        (("run", "g.yaml", "--frames", "3"), "dsflow: unrecognized arguments: --frames 3"),
        (("nodes", "a", "b"), "dsflow: unrecognized arguments: b"),
        (("validate", "g.yaml", "--set"), "dsflow validate: argument --set: expected one argument"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str) -> None:
    assert_user_error(*call(capsys, *args), message)


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = call(capsys, "bogus")
    assert (code, out) == (ExitCode.USAGE_ERROR, "")
    assert err.startswith("error: dsflow: argument COMMAND: invalid choice: 'bogus' (choose from ")
    assert all(command in err for command in ("run", "validate", "show", "plugins", "nodes"))


def test_usage_error_as_a_module() -> None:
    result = run_module("bogus")
    assert result.returncode == ExitCode.USAGE_ERROR
    assert result.stderr.startswith("error: dsflow: argument COMMAND: invalid choice: 'bogus'")
    assert "Traceback" not in result.stderr
