"""Test output parsers offline: recorded tensors in, detections or attributes out, compared.

A parser is a plain function of one sample's output layers, so it can be tested without a
model, a picture or a graph run. This module gives the pieces for that:

* :func:`record_tensors` (a ``python`` node function) and :func:`save_tensors` write the output
  layers of a stage that runs with ``output-tensor-meta=1`` to ``.npz`` files, one per frame
  or object; :func:`load_tensors` reads them back as :class:`~dsflow.model.Layer` objects, in
  the engine's output order, and :func:`load_network` the network input size recorded with them;
* :func:`run_bbox_parser` and :func:`run_classifier_parser` call a parser, given as a function
  or by the name an nvinfer config would use (a plugin's, or a ``custom_lib_path`` library's),
  exactly as the ``nvinfer.parse`` node calls it;
* :func:`assert_detections_equal` and :func:`assert_attributes_equal` compare results and say
  which object, which field, and what was got and expected.

Import it explicitly (``from dsflow import testing``); ``import dsflow`` does not load it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dsflow.cuda import to_numpy
from dsflow.errors import PluginError
from dsflow.frame import Attribute
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo

if TYPE_CHECKING:
    from dsflow.frame import Batch
    from dsflow.plugins.manager import PluginManager
    from dsflow.plugins.registry import Registry

__all__ = [
    "assert_attributes_equal",
    "assert_detections_equal",
    "load_network",
    "load_tensors",
    "record_tensors",
    "run_bbox_parser",
    "run_classifier_parser",
    "save_tensors",
]

META_KEY = "__dsflow__"
"""The entry of a recording that holds its layer order and network size (JSON)."""
FORMAT = 1

Layers = Sequence[Layer] | Mapping[str, Any] | str | os.PathLike
"""What the run functions take as outputs: layers, ``{name: array}`` in output order, or a recording's path."""
Network = NetworkInfo | tuple[int, int, int] | Sequence[int]


# -- recording --------------------------------------------------------------------------------------------


def save_tensors(path: str | os.PathLike, tensor_meta: Any, network: Network | None = None) -> Path:
    """Write one sample's output layers to ``path`` (``.npz``), keeping their order.

    ``tensor_meta`` is the :class:`~dsflow.infer.stage.TensorMeta` that a stage with
    ``output-tensor-meta=1`` puts in ``frame.tensors`` or ``object.tensors`` under
    ``tensor-meta-<gie-unique-id>`` (its network size is saved too), or a sequence of
    :class:`Layer`, or ``{name: array}``. The file is a compressed NumPy archive with every
    array under its layer name, so ``numpy.load(path)["heatmap"]`` works as well; small
    recordings can be committed next to a plugin's tests.
    """
    layers = _as_layers(tensor_meta, "save_tensors")
    network = network if network is not None else getattr(tensor_meta, "network", None)
    names = [layer.name for layer in layers]
    if META_KEY in names:
        msg = f"save_tensors: a layer may not be named {META_KEY!r}"
        raise ValueError(msg)
    meta: dict[str, Any] = {"format": FORMAT, "layers": names}
    if network is not None:
        net = _network(network, "save_tensors")
        meta["network"] = [net.width, net.height, net.channels]
    for key in ("unique_id", "maintain_aspect_ratio"):
        if hasattr(tensor_meta, key):
            meta[key] = _plain(getattr(tensor_meta, key))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {layer.name: to_numpy(layer.data) for layer in layers}
    with path.open("wb") as file:  # an open file: numpy would add ".npz" to a path without it
        np.savez_compressed(file, **{META_KEY: np.array(json.dumps(meta))}, **arrays)
    return path


def load_tensors(path: str | os.PathLike) -> list[Layer]:
    """The layers of a recording, in the order they were saved (the engine's output order).

    A plain ``.npz`` (written with ``numpy.savez``) works too; its layers come in file order.
    """
    layers, _ = _read(path)
    return layers


def load_network(path: str | os.PathLike) -> NetworkInfo | None:
    """The network input size saved with a recording; ``None`` when it has none."""
    return _read(path)[1]


def record_tensors(batch: Batch, folder: str = "tensors", unique_id: int = 1) -> None:
    """A ``python`` node function that saves stage ``unique_id``'s tensors of every frame and object.

    Put it after a stage that runs with ``output-tensor-meta=1``::

        - name: record
          type: python
          input: detector
          params:
            function: "dsflow.testing:record_tensors"
            kwargs: {folder: recorded, unique_id: 1}

    ``folder`` is relative to where dsflow runs. A frame's tensors go to
    ``FOLDER/s<source_id>_f<frame_num>.npz`` (frame number in six
    digits), those of the object at index ``k`` of ``frame.objects`` (a secondary stage) to
    ``FOLDER/s<source_id>_f<frame_num>_o<k>.npz``.
    """
    key = f"tensor-meta-{unique_id}"
    for frame in batch.frames:
        stem = f"s{frame.source_id}_f{frame.frame_num:06d}"
        if key in frame.tensors:
            save_tensors(Path(folder) / f"{stem}.npz", frame.tensors[key])
        for k, obj in enumerate(frame.objects):
            if key in obj.tensors:
                save_tensors(Path(folder) / f"{stem}_o{k}.npz", obj.tensors[key])


def _read(path: str | os.PathLike) -> tuple[list[Layer], NetworkInfo | None]:
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        msg = f"load_tensors: no such file: {path}"
        raise FileNotFoundError(msg) from None
    except (OSError, ValueError) as exc:
        msg = f"load_tensors: {path} is not a .npz recording ({exc})"
        raise ValueError(msg) from None
    if not hasattr(archive, "files"):
        msg = f"load_tensors: {path} is a single array, not a .npz recording of output layers"
        raise ValueError(msg)
    with archive:
        names = [name for name in archive.files if name != META_KEY]
        network = None
        if META_KEY in archive.files:
            meta = json.loads(str(archive[META_KEY]))
            if meta.get("format") != FORMAT or sorted(meta.get("layers", [])) != sorted(names):
                msg = f"load_tensors: {path}: the recording's layer list does not match its arrays"
                raise ValueError(msg)
            names = meta["layers"]
            if meta.get("network"):
                network = NetworkInfo(*meta["network"])
        layers = [Layer(name, archive[name], index=i) for i, name in enumerate(names)]
    return layers, network


# -- running parsers --------------------------------------------------------------------------------------


def run_bbox_parser(
    parser: str | Callable[..., Any],
    layers: Layers,
    network: Network | None = None,
    *,
    num_classes: int,
    pre_cluster_threshold: float | Sequence[float] = 0.2,
    post_cluster_threshold: float | Sequence[float] = 0.0,
    plugins: PluginManager | Registry | None = None,
    custom_lib_path: str | os.PathLike | None = None,
    xp: Any = np,
) -> Detections:
    """Call a bbox parser on one sample's outputs, as the ``nvinfer.parse`` node does; its :class:`Detections`.

    ``parser`` is a function, or a name as in ``parse-bbox-func-name``, looked up in
    ``plugins`` (a :class:`~dsflow.PluginManager` or its ``registry``; default: a new manager,
    with installed plugins unless autoloading is turned off) and then, as a graph does, in the
    ``custom_lib_path`` library when one is given (a C or C++ parser). ``layers`` is a list of
    :class:`Layer`, ``{name: array}`` in output order, or the path of a recording. ``network``
    is ``(width, height, channels)``; a recording's own is used when it is left out.
    Thresholds are one value for every class or one per class (nvinfer's defaults: 0.2, 0.0).

    The result is the parser's own, before dsflow's pre-cluster filter and clustering, in
    network-input pixels.
    """
    outputs, recorded = _outputs(layers, "run_bbox_parser")
    net = _network(network if network is not None else recorded, "run_bbox_parser")
    params = DetectionParams(
        num_classes,
        _per_class(pre_cluster_threshold, num_classes, "pre_cluster_threshold"),
        _per_class(post_cluster_threshold, num_classes, "post_cluster_threshold"),
    )
    function, label = _resolve(parser, "bbox_parsers", plugins, custom_lib_path)
    result = function(outputs, net, params, xp=xp, stream=None)
    if not isinstance(result, Detections):
        msg = f"run_bbox_parser: parser {label} returned {type(result).__name__} (expected dsflow.model.Detections)"
        raise TypeError(msg)
    return result


def run_classifier_parser(
    parser: str | Callable[..., Any],
    layers: Layers,
    network: Network | None = None,
    *,
    threshold: float = 0.0,
    plugins: PluginManager | Registry | None = None,
    custom_lib_path: str | os.PathLike | None = None,
    xp: Any = np,
) -> list[Attribute]:
    """Call a classifier parser on one sample's outputs, as the ``nvinfer.parse`` node does.

    Arguments as for :func:`run_bbox_parser`; ``threshold`` is ``classifier-threshold``
    (nvinfer's default: 0). Returns the parser's attributes as it made them: dsflow fills empty
    labels from the labels file, names and component ids only when it attaches them.
    """
    outputs, recorded = _outputs(layers, "run_classifier_parser")
    net = _network(network if network is not None else recorded, "run_classifier_parser")
    function, label = _resolve(parser, "classifier_parsers", plugins, custom_lib_path)
    result = function(outputs, net, threshold, xp=xp, stream=None)
    if not isinstance(result, list) or not all(isinstance(a, Attribute) for a in result):
        got = type(result).__name__ if not isinstance(result, list) else "a list holding other things than Attribute"
        msg = f"run_classifier_parser: parser {label} returned {got} (expected a list of dsflow.Attribute)"
        raise TypeError(msg)
    return result


def _resolve(
    parser: str | Callable[..., Any],
    family: str,
    plugins: PluginManager | Registry | None,
    custom_lib_path: str | os.PathLike | None,
) -> tuple[Callable[..., Any], str]:
    """A parser function, or the one registered under a name, else the library's function of that name."""
    if callable(parser):
        return parser, repr(getattr(parser, "__qualname__", parser))
    if not isinstance(parser, str):
        msg = f"parser must be a function or a registered name (got {type(parser).__name__})"
        raise TypeError(msg)
    if plugins is None:
        from dsflow.plugins.manager import PluginManager

        plugins = PluginManager()
    registry = getattr(plugins, "registry", plugins)
    try:
        return registry.lookup(family, parser), repr(parser)
    except PluginError as exc:
        if custom_lib_path is None:
            raise
        missing = exc
    from dsflow.native import library  # only here: ctypes wrappers are not needed for Python parsers

    path = os.fspath(custom_lib_path)
    try:
        return library.resolve(path, parser, family), f"{parser!r} ({path})"
    except PluginError as exc:
        msg = f"{missing}; and in custom-lib-path: {exc}"
        raise PluginError(msg) from None


def _outputs(layers: Layers, where: str) -> tuple[list[Layer], NetworkInfo | None]:
    if isinstance(layers, (str, os.PathLike)):
        return _read(layers)
    return _as_layers(layers, where), None


def _as_layers(source: Any, where: str) -> list[Layer]:
    if hasattr(source, "layers") and isinstance(source.layers, Mapping):  # a TensorMeta
        source = source.layers
    if isinstance(source, Mapping):
        return [Layer(str(name), data, index=i) for i, (name, data) in enumerate(source.items())]
    if isinstance(source, Sequence) and all(isinstance(layer, Layer) for layer in source):
        return list(source)
    msg = f"{where}: expected a TensorMeta, a list of Layer or a {{name: array}} mapping (got {type(source).__name__})"
    raise TypeError(msg)


def _network(network: Any, where: str) -> NetworkInfo:
    if isinstance(network, NetworkInfo):
        return network
    if network is None:
        msg = f"{where}: network (width, height, channels) is required: the layers carry no recorded network size"
        raise ValueError(msg)
    values = tuple(network)
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        msg = f"{where}: network must be (width, height, channels) as positive integers (got {network!r})"
        raise ValueError(msg)
    return NetworkInfo(*(int(v) for v in values))


def _per_class(value: float | Sequence[float], num_classes: int, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    if array.ndim == 0:
        return np.full(num_classes, array, np.float32)
    if array.shape != (num_classes,):
        msg = f"run_bbox_parser: {name} needs one value or {num_classes} (num_classes), got {array.shape[0]}"
        raise ValueError(msg)
    return array


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# -- comparing results ------------------------------------------------------------------------------------

_FIELDS = ("class_id", "left", "top", "width", "height", "confidence")


def assert_detections_equal(
    actual: Detections, expected: Detections | Sequence[Sequence[float]], *, atol: float = 1e-4, ordered: bool = True
) -> None:
    """Fail with a readable message unless ``actual`` holds the objects of ``expected``.

    ``expected`` is a :class:`Detections` or rows ``(class_id, left, top, width, height,
    confidence)``. Class ids must be equal, the other fields within ``atol``; ``extra`` columns
    and ``masks`` that ``expected`` has are compared too. With ``ordered=False`` both sides are
    sorted by class, left, top, width, height and confidence first. The message names the
    object, the field, and the values::

        object 1 of 3, field 'left': got 14.0, expected 12.0 (atol 0.0001)
    """
    if not isinstance(actual, Detections):
        msg = f"expected dsflow.model.Detections, got {type(actual).__name__}"
        raise AssertionError(msg)
    if not isinstance(expected, Detections):
        rows = np.asarray(expected, dtype=np.float64).reshape(-1, 6)
        expected = Detections(rows[:, 0].astype(np.int32), *rows[:, 1:].T)
    if not ordered:
        actual, expected = _sorted(actual), _sorted(expected)
    if len(actual) != len(expected):
        msg = f"got {_count(len(actual), 'object')}, expected {len(expected)}\n" + _listings(actual, expected)
        raise AssertionError(msg)
    for name in _FIELDS:
        got, want = getattr(actual, name), getattr(expected, name)
        bad = got != want if name == "class_id" else ~np.isclose(got, want, rtol=0, atol=atol)
        if bad.any():
            _fail_object(int(np.argmax(bad)), len(actual), name, got, want, atol, actual, expected)
    for name, want in expected.extra.items():
        if name not in actual.extra:
            msg = f"extra column {name!r} is missing (got extra columns: {', '.join(actual.extra) or 'none'})"
            raise AssertionError(msg)
        _compare_columns(f"extra column {name!r}", actual.extra[name], want, atol, actual, expected)
    if expected.masks is not None:
        if actual.masks is None:
            msg = "masks are missing (expected one per object)"
            raise AssertionError(msg)
        _compare_columns("mask", actual.masks, expected.masks, atol, actual, expected)


def assert_attributes_equal(actual: Sequence[Attribute], expected: Sequence[Attribute], *, atol: float = 1e-6) -> None:
    """Fail with a readable message unless the attributes are the same, in the same order.

    Every field of :class:`~dsflow.Attribute` is compared: ``confidence`` within ``atol``, the
    others exactly. The message names the attribute, the field and both values::

        attribute 0 of 2, field 'class_id': got 2, expected 1
    """
    if len(actual) != len(expected):
        listing = "\n".join([
            "  got:", *(f"    {i}: {_attribute(a)}" for i, a in enumerate(actual)),
            "  expected:", *(f"    {i}: {_attribute(a)}" for i, a in enumerate(expected)),
        ])  # fmt: skip
        msg = f"got {_count(len(actual), 'attribute')}, expected {len(expected)}\n{listing}"
        raise AssertionError(msg)
    for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
        for name in ("class_id", "confidence", "label", "name", "index", "component_id"):
            a, b = getattr(got, name), getattr(want, name)
            same = abs(a - b) <= atol if name == "confidence" else a == b
            if not same:
                tolerance = f" (atol {atol})" if name == "confidence" else ""
                msg = (
                    f"attribute {i} of {len(actual)}, field {name!r}: got {a!r}, expected {b!r}{tolerance}\n"
                    f"  got:      {_attribute(got)}\n  expected: {_attribute(want)}"
                )
                raise AssertionError(msg)


def _sorted(dets: Detections) -> Detections:
    keys = [getattr(dets, name) for name in reversed(_FIELDS)]  # lexsort: the last key is the primary one
    return dets.take(np.lexsort(keys))


def _fail_object(
    i: int, n: int, name: str, got: np.ndarray, want: np.ndarray, atol: float, actual: Detections, expected: Detections
) -> None:
    tolerance = "" if name == "class_id" else f" (atol {atol})"
    msg = (
        f"object {i} of {n}, field {name!r}: got {got[i].item()!r}, expected {want[i].item()!r}{tolerance}\n"
        f"  got:      {_row(actual, i)}\n  expected: {_row(expected, i)}"
    )
    raise AssertionError(msg)


def _compare_columns(what: str, got: Any, want: Any, atol: float, actual: Detections, expected: Detections) -> None:
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=atol):
            detail = (
                f"got shape {a.shape}, expected shape {b.shape}"
                if a.shape != b.shape
                else f"got {a.tolist()}, expected {b.tolist()}"
            )
            msg = (
                f"object {i} of {len(actual)}, {what}: {detail} (atol {atol})\n"
                f"  got:      {_row(actual, i)}\n  expected: {_row(expected, i)}"
            )
            raise AssertionError(msg)


def _row(dets: Detections, i: int) -> str:
    return " ".join(f"{name}={getattr(dets, name)[i].item():g}" for name in _FIELDS)


def _listings(actual: Detections, expected: Detections) -> str:
    lines = ["  got:", *(f"    {i}: {_row(actual, i)}" for i in range(len(actual)))]
    lines += ["  expected:", *(f"    {i}: {_row(expected, i)}" for i in range(len(expected)))]
    return "\n".join(lines)


def _attribute(a: Attribute) -> str:
    return (
        f"class_id={a.class_id} confidence={a.confidence:g} label={a.label!r} name={a.name!r} "
        f"index={a.index} component_id={a.component_id}"
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


# -- small ONNX models for tests and demos ----------------------------------------------------------


class OnnxBuilder:
    """Builds an ONNX model node by node, with generated, deterministic names.

    For test and demo models computed by ONNX ops from the pixels (so they run in any
    backend): ``b.op("Relu", x)`` returns the output's name; ``b.const(value)`` adds an
    initializer. The same calls give byte-identical models.
    """

    def __init__(self, opset: int = 17, ir_version: int = 10, producer: str = "dsflow.testing") -> None:
        self.opset, self.ir_version, self.producer = opset, ir_version, producer
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, value: object, dtype: type = np.float32) -> str:
        from onnx import numpy_helper

        name = f"const_{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    def op(self, op_type: str, *inputs: str, name: str | None = None, **attrs: object) -> str:
        """Add a node with one output; returns the output's name (``name`` names the node and the output)."""
        return self.ops(op_type, *inputs, count=1, name=name, **attrs)[0]

    def ops(self, op_type: str, *inputs: str, count: int, name: str | None = None, **attrs: object) -> list[str]:
        """Add a node with ``count`` outputs; returns their names."""
        from onnx import helper

        base = name or f"{op_type.lower()}_{len(self.nodes)}"
        outputs = [base] if count == 1 else [f"{base}_{i}" for i in range(count)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=base, **attrs))
        return outputs

    def model(self, graph_name: str, input_name: str, input_shape: list[object], outputs: list[tuple]) -> bytes:
        """The checked, serialized model; ``outputs`` are ``(name, shape)`` (float) or ``(name, elem_type, shape)``."""
        import onnx
        from onnx import helper

        def output(spec: tuple) -> Any:
            name, elem, shape = spec if len(spec) == 3 else (spec[0], onnx.TensorProto.FLOAT, spec[1])
            return helper.make_tensor_value_info(name, elem, shape)

        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, input_shape)],
            [output(spec) for spec in outputs],
            self.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", self.opset)], producer_name=self.producer
        )
        model.ir_version = self.ir_version
        onnx.checker.check_model(model, full_check=True)
        return model.SerializeToString()
