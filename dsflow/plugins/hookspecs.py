"""Every extension point of dsflow, in one place.

A plugin is a Python module (or object) with functions named like the hooks below and
decorated with ``@dsflow.hookimpl``. It is found through the ``dsflow`` entry-point group
of an installed distribution, or named in a graph's ``plugins:`` list. Built-in node types
are registered through these same hooks.

Every hook here is a *registration* hook: it is called once per process, while dsflow builds
its registry, and returns what the plugin contributes **by name**. Graphs and nvinfer
configs then choose implementations per node by those names (``type: sink.jsonl``,
``parse-bbox-func-name=NvDsInferParseCustomYoloV8``...). Two plugins giving one name is
an error naming both. No hook is ever called per batch: the per-batch path calls the
registered objects directly.

The registered callables receive what nvinfer's C interface receives, as Python objects
(the :mod:`dsflow.model` types): the output layers with names, dims, dtypes and arrays, the
network's input size, the per-class detection parameters, the node's CUDA stream and the
array module (NumPy or CuPy). A name no plugin registers is looked up in the stage's
``custom-lib-path`` library, whose functions (nvinfer's C++ ABI or dsflow's C ABI) are wrapped
into callables with these same contracts (:mod:`dsflow.native`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dsflow.node import Node
from dsflow.plugins import hookspec

# ---------------------------------------------------------------------------------------
# Graph building blocks
# ---------------------------------------------------------------------------------------


@hookspec
def dsflow_register_nodes() -> Sequence[type[Node]]:
    """Return the node types this plugin adds.

    Each is a :class:`dsflow.Node` subclass whose ``kind`` is the ``type:`` used in graph
    files (lowercase, dotted: ``source.video``). Called once while the registry is built.
    """


# ---------------------------------------------------------------------------------------
# Output parsers: raw output tensors of a model into dsflow objects.
# Called once while the registry is built; each returns ``{name: callable}``.
# ---------------------------------------------------------------------------------------


@hookspec
def dsflow_register_bbox_parsers() -> dict[str, Callable[..., Any]]:
    """Return detector output parsers by name, chosen with ``parse-bbox-func-name``.

    A parser is called once per sample (a frame, or an object for secondary stages) as
    ``parser(outputs, network, params, *, xp, stream)`` with the output layers
    (:class:`dsflow.model.Layer`), the :class:`dsflow.model.NetworkInfo` and the
    :class:`dsflow.model.DetectionParams`; it returns :class:`dsflow.model.Detections`
    (boxes in network-input pixels; dsflow clusters them and maps them to the frame).
    It is nvinfer's ``NvDsInferParseCustomFunc``. A parser that also has
    ``parse_batch(outputs, count, network, params, *, xp, stream)`` (layers batch-first,
    ``count`` rows; one result per row) is called once per batch through it instead; the
    same holds for the other parser families.
    """


@hookspec
def dsflow_register_classifier_parsers() -> dict[str, Callable[..., Any]]:
    """Return classifier output parsers by name, chosen with ``parse-classifier-func-name``.

    Called as ``parser(outputs, network, threshold, *, xp, stream)``; returns a list of
    :class:`dsflow.Attribute` for the object or frame the classifier ran on (nvinfer's
    ``NvDsInferClassiferParseCustomFunc``).
    """


@hookspec
def dsflow_register_instance_mask_parsers() -> dict[str, Callable[..., Any]]:
    """Return instance-segmentation parsers by name, chosen with ``parse-bbox-instance-mask-func-name``.

    Called like a bbox parser; returns :class:`dsflow.model.Detections` with ``masks``
    (nvinfer's ``NvDsInferInstanceMaskParseCustomFunc``).
    """


@hookspec
def dsflow_register_segmentation_parsers() -> dict[str, Callable[..., Any]]:
    """Return semantic-segmentation parsers by name, chosen with ``parse-segmentation-func-name``.

    Called as ``parser(outputs, network, threshold, *, xp, stream, order)`` (``order`` is
    ``segmentation-output-order``: 0 NCHW, 1 NHWC); returns ``(class_map, probabilities)``: an
    ``(H, W)`` int array (-1 where no class passes) and the per-class probabilities or None.
    Gst-nvinfer only runs its built-in segmentation parser; DeepStream declares
    ``NvDsInferSemSegmentationParseCustomFunc`` for nvinferserver, and dsflow offers the hook
    for every infer node.
    """


# ---------------------------------------------------------------------------------------
# Models and engines. Called once while the registry is built; each returns ``{name: callable}``.
# ---------------------------------------------------------------------------------------


@hookspec
def dsflow_register_engine_backends() -> dict[str, Callable[..., Any]]:
    """Return inference backends by name (``onnxruntime``, ``tensorrt``, ``torch``...).

    A backend is called once per model (an engine is shared by the nodes and stages that run
    the same model with the same options) as ``backend(model, options, *, device, stream)``
    and returns an object implementing :class:`dsflow.model.Engine`. Infer nodes choose one
    with their ``backend`` key; built-in backends are registered through this same hook.
    """


@hookspec
def dsflow_register_engine_creators() -> dict[str, Callable[..., Any]]:
    """Return engine-creation functions by name, chosen with ``engine-create-func-name``.

    Called once per model, when the stage's nodes start, as ``creator(config)`` with the
    stage's checked configuration; returns an :class:`dsflow.model.Engine`, used as it is, or
    a model that the stage's backend loads (for ``onnxruntime``: a ``ModelProto``, ONNX bytes
    or a path). It is nvinfer's ``NvDsInferEngineCreateCustomFunc``.
    """


@hookspec
def dsflow_register_model_parsers() -> dict[str, Callable[..., Any]]:
    """Return model parsers by name, chosen with ``model-parser-func-name``: a custom format into a network.

    Called once per model, when the stage's nodes start, as ``parser(model_file, config)``
    with the ``model-file`` path and the stage's checked configuration; returns the network as
    an ONNX model (a ``ModelProto``, its bytes or a path) that the stage's backend loads. It
    plays the role of nvinfer's ``IModelParser`` from ``NvDsInferCreateModelParser``.
    """


@hookspec
def dsflow_register_input_initializers() -> dict[str, Callable[..., Any]]:
    """Return initializers of non-image input layers by name, chosen with ``input-init-func-name``.

    Called once per stage, when its infer node starts, as
    ``init(layers, network, max_batch_size, *, xp, stream)`` for the input layers the
    preprocess node does not feed (zero-filled, ``max_batch_size`` rows each, to fill in
    place); returns ``{layer_name: array}`` (nvinfer's ``NvDsInferInitializeInputLayers``).
    """


@hookspec
def dsflow_register_crop_functions() -> dict[str, Callable[..., Any]]:
    """Return object crop functions by name, chosen for a secondary stage with ``crop-func-name``.

    Called once per batch as ``crop(objects, frames, network)`` with the objects the stage
    infers on, the frame of each, and the :class:`dsflow.model.NetworkInfo`; returns a float
    array ``(n, 4, 2)``: per object, the four frame-pixel points warped onto the top-left,
    top-right, bottom-right and bottom-left corners of the picture in the network input. Any
    quadrilateral works (a rotated text line, a face aligned on its landmarks, a mirrored
    crop); the picture's natural size is ``(|p1 - p0|, |p3 - p0|)`` and detections found in it
    are mapped back through the inverse warp. dsflow's own extension: nvinfer crops boxes only.
    """


@hookspec
def dsflow_register_custom_layers() -> dict[str, Callable[..., Any]]:
    """Return custom-layer providers by name.

    A provider is called by the backend once for every engine it builds, before the model
    loads, as ``provider(backend, target)``: for ONNX Runtime ``target`` is the
    ``SessionOptions`` (register custom-op libraries or Python ops on it), for TensorRT the
    plugin registry. Every registered provider is called for every engine, as a
    ``custom-lib-path`` library is loaded for every model of the node that names it.
    """
