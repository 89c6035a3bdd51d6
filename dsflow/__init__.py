"""dsflow: dataflow graphs for video and image inference, on the CPU or on NVIDIA GPUs.

``import dsflow`` needs only the core dependencies: CuPy, TensorRT and PyAV are imported
when a graph uses them.
"""

from dsflow._version import __version__
from dsflow.errors import (
    ConfigError,
    DsflowError,
    EngineError,
    ExitCode,
    GraphError,
    NodeError,
    PluginError,
    PluginLoadError,
    UsageError,
)
from dsflow.frame import Attribute, Batch, Frame, ObjectMeta, StreamEnd
from dsflow.graph import Edge, Graph, NodeSpec, load_graph, load_graph_text
from dsflow.node import Node, NodeContext, NoParams, Port, Sink, Source
from dsflow.params import param
from dsflow.plugins import hookimpl
from dsflow.plugins.manager import PluginManager
from dsflow.runtime import NodeStats, RunResult, Runtime, run_graph

__all__ = [
    "Attribute",
    "Batch",
    "ConfigError",
    "DsflowError",
    "Edge",
    "EngineError",
    "ExitCode",
    "Frame",
    "Graph",
    "GraphError",
    "NoParams",
    "Node",
    "NodeContext",
    "NodeError",
    "NodeSpec",
    "NodeStats",
    "ObjectMeta",
    "PluginError",
    "PluginLoadError",
    "PluginManager",
    "Port",
    "RunResult",
    "Runtime",
    "Sink",
    "Source",
    "StreamEnd",
    "UsageError",
    "__version__",
    "hookimpl",
    "load_graph",
    "load_graph_text",
    "param",
    "run_graph",
]
