"""Errors users see, and the exit codes the CLI maps them to.

::

    DsflowError                      base of every error dsflow raises on purpose
      UsageError                     bad command-line usage
      ConfigError(ValueError)        a graph or config file is invalid (located: file:line:col)
      GraphError(ValueError)         wiring: unknown node or port, cycle, two producers, ...
      PluginError                    a plugin is broken: duplicate names, bad hooks
        PluginLoadError(ImportError) a plugin module or its distribution failed to import
      NodeError(RuntimeError)        a node failed while the graph ran; the cause is chained
      EngineError(RuntimeError)      an inference engine could not be built or run
      ModelFetchError                a catalogue model could not be downloaded or failed its checksum

Every message starts with where the problem is (``graph.yaml:12:5``, ``node 'det' (infer)``,
``plugin 'x' (dist 1.0)``), then says what is wrong, what was expected and what was found.
Only :mod:`dsflow.cli` prints errors; library code raises them.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable


class ExitCode(enum.IntEnum):
    """Process exit codes of the ``dsflow`` command (the last three match pytest's)."""

    OK = 0
    RUN_FAILED = 1
    INTERRUPTED = 2
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4


class DsflowError(Exception):
    """Base class of the errors dsflow raises for users; never raised itself."""

    exit_code = ExitCode.USAGE_ERROR


class UsageError(DsflowError):
    """The command line asks for something that cannot be done."""


class ConfigError(DsflowError, ValueError):
    """A graph file or a configuration value is invalid."""


class GraphError(DsflowError, ValueError):
    """The graph's wiring is invalid."""


class PluginError(DsflowError):
    """A plugin is broken or two plugins clash."""


class PluginLoadError(PluginError, ImportError):
    """A plugin could not be imported."""


class NodeError(DsflowError, RuntimeError):
    """A node raised while the graph was running."""

    exit_code = ExitCode.RUN_FAILED


class EngineError(DsflowError, RuntimeError):
    """An inference engine could not be built or failed to run."""

    exit_code = ExitCode.RUN_FAILED


class ModelFetchError(DsflowError):
    """A catalogue model (``zoo:NAME``) could not be downloaded, or its file failed the sha256 check."""

    exit_code = ExitCode.RUN_FAILED


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
