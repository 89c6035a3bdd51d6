"""Small ONNX models for tests: built with ``onnx.helper``, run with ONNX Runtime.

``constant_model`` gives a real model whose outputs are fixed tensors, repeated over the input's batch
dimension, so parsers and infer stages can be tested on exact, hand-computed values that went through
an actual inference session (names, dtypes and batch layout as an engine produces them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from dsflow.model import Layer

OPSET = 17
IR_VERSION = 10
"""ONNX Runtime 1.32 reads IR versions up to 10 (onnx 1.23 would write 11 by default)."""


def constant_model(
    outputs: Mapping[str, np.ndarray],
    input_shape: Sequence[int] = (1, 3, 8, 8),
    input_name: str = "input",
    *,
    dynamic_batch: bool = True,
) -> bytes:
    """A model with one float input whose outputs are ``outputs`` (in that order), each with a batch dim.

    Output ``name`` has shape ``(batch, *value.shape)`` and ``value``'s dtype; every batch item is
    ``value``. The batch size is the input's (declared dynamic, ``"batch"``, unless ``dynamic_batch`` is
    False), taken with ``Shape`` and broadcast with ``Expand``, so the input is really consumed.
    """
    batch_dim: str | int = "batch" if dynamic_batch else int(input_shape[0])
    graph_input = helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, [batch_dim, *input_shape[1:]])
    nodes = [helper.make_node("Shape", [input_name], ["_batch"], start=0, end=1)]
    graph_outputs = []
    for i, (name, value) in enumerate(outputs.items()):
        value = np.asarray(value)
        const = numpy_helper.from_array(np.ascontiguousarray(value[None]), name=f"_value{i}")
        nodes.append(helper.make_node("Constant", [], [f"_value{i}"], value=const))
        shape = "_batch"
        if value.ndim:
            ones = numpy_helper.from_array(np.ones(value.ndim, np.int64), name=f"_ones{i}")
            nodes.append(helper.make_node("Constant", [], [f"_ones{i}"], value=ones))
            nodes.append(helper.make_node("Concat", ["_batch", f"_ones{i}"], [f"_shape{i}"], axis=0))
            shape = f"_shape{i}"
        nodes.append(helper.make_node("Expand", [f"_value{i}", shape], [name]))
        elem_type = helper.np_dtype_to_tensor_dtype(value.dtype)
        graph_outputs.append(helper.make_tensor_value_info(name, elem_type, [batch_dim, *value.shape]))
    graph = helper.make_graph(nodes, "constant_outputs", [graph_input], graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dsflow-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def run_model(model: bytes, inputs: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``model`` on the CPU; outputs by name, in the model's output order.

    A bare array is fed to the model's first input.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    if not isinstance(inputs, Mapping):
        inputs = {session.get_inputs()[0].name: inputs}
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(inputs)), strict=True))


def sample_layers(results: Mapping[str, np.ndarray], sample: int = 0) -> list[Layer]:
    """One batch item of ``results`` as output :class:`Layer` objects, in output order."""
    return [Layer(name, value[sample], index=i) for i, (name, value) in enumerate(results.items())]


def constant_layers(
    outputs: Mapping[str, np.ndarray], input_shape: Sequence[int] = (2, 3, 8, 8), sample: int = 0
) -> list[Layer]:
    """Build a :func:`constant_model`, run it on zeros of ``input_shape`` and return sample ``sample``'s layers."""
    model = constant_model(outputs, input_shape)
    return sample_layers(run_model(model, np.zeros(input_shape, np.float32)), sample)


# -- models whose outputs are functions of the picture (nvinfer node tests) -------------------------


def _finish(nodes: list, name: str, inputs: list, outputs: list) -> bytes:
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dsflow-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def _const(nodes: list, name: str, value: np.ndarray) -> str:
    """Append a Constant node making ``name``; returns the name."""
    nodes.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name=name)))
    return name


def identity_model(
    input_shape: Sequence[int | str | None],
    *,
    input_name: str = "input",
    output_name: str = "output",
    batch_output: bool = False,
) -> bytes:
    """A model whose output is its input (``Identity``): the preprocessed tensor itself comes back.

    ``input_shape`` includes the batch dimension; ``None`` or a string makes a dimension dynamic.
    With ``batch_output`` a second float output ``batch`` ``(N, 1)`` holds the batch size the model
    ran with, so a test can see how the infer node cut its rows into chunks.
    """
    dims = [d if isinstance(d, int) else (d or f"d{i}") for i, d in enumerate(input_shape)]
    x = helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, dims)
    nodes = [helper.make_node("Identity", [input_name], [output_name])]
    outputs = [y]
    if batch_output:
        one = _const(nodes, "_one", np.array([1], np.int64))
        nodes += [
            helper.make_node("Shape", [input_name], ["_n"], start=0, end=1),
            helper.make_node("Cast", ["_n"], ["_nf"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Concat", ["_n", one], ["_shape"], axis=0),
            helper.make_node("Expand", ["_nf", "_shape"], ["batch"]),
        ]
        outputs.append(helper.make_tensor_value_info("batch", onnx.TensorProto.FLOAT, [dims[0], 1]))
    return _finish(nodes, "identity", [x], outputs)


@dataclass(frozen=True)
class Band:
    """One output row of :func:`blob_model`: the bounding box of the pixels of ``channel`` above ``threshold``."""

    channel: int
    threshold: float
    score: float
    class_id: int


def blob_model(
    bands: Sequence[Band],
    size: tuple[int, int],
    *,
    channels: int = 3,
    margin: float = 0.0,
    layout: str = "yolo",
    dynamic_batch: bool = True,
) -> bytes:
    """A detector computed by ONNX ops from the pixels: one row per band, ``(N, len(bands), 6)``.

    For band ``k`` on an input ``(N, channels, H, W)`` (``size`` is ``(W, H)``): the columns and rows
    holding a value ``> threshold`` of ``channel`` give the box ``x1 = first column − margin``,
    ``x2 = last column + 1 + margin`` (likewise y); the score is ``score`` when such a pixel exists,
    else 0. With no such pixel x1 = W, x2 = 0 (an empty box). ``layout='yolo'`` writes one output
    ``output`` of rows (x1, y1, x2, y2, score, class), DeepStream-Yolo's contract; ``layout='mrcnn'``
    writes TAO Mask R-CNN's ``generate_detections`` rows (y1, x1, y2, x2, class, score) and
    ``mask_fcn_logits/BiasAdd`` ``(N, len(bands), 1, H, W)``: band ``k``'s 0/1 pixel mask.
    """
    if layout not in ("yolo", "mrcnn"):
        msg = f"layout must be 'yolo' or 'mrcnn' (got {layout!r})"
        raise ValueError(msg)
    width, height = size
    batch: str | int = "batch" if dynamic_batch else 1
    nodes: list = []
    ramp_x = _const(nodes, "_ramp_x", np.arange(1, width + 1, dtype=np.float32))  # column + 1
    back_x = _const(nodes, "_back_x", np.arange(width, 0, -1, dtype=np.float32))  # W − column
    ramp_y = _const(nodes, "_ramp_y", np.arange(1, height + 1, dtype=np.float32))
    back_y = _const(nodes, "_back_y", np.arange(height, 0, -1, dtype=np.float32))
    full_w = _const(nodes, "_w", np.array(width, np.float32))
    full_h = _const(nodes, "_h", np.array(height, np.float32))
    pad = _const(nodes, "_margin", np.array(margin, np.float32))
    zero = _const(nodes, "_zero", np.array(0, np.float32))
    rows, masks = [], []
    for k, band in enumerate(bands):
        p = f"_b{k}_"

        def node(op: str, inputs: list[str], out: str, _p: str = p, **attrs: object) -> str:
            nodes.append(helper.make_node(op, inputs, [_p + out], **attrs))
            return _p + out

        plane = node("Gather", ["input", _const(nodes, p + "c", np.array(band.channel, np.int64))], "plane", axis=1)
        above = node("Greater", [plane, _const(nodes, p + "t", np.array(band.threshold, np.float32))], "above")
        mask = node("Cast", [above], "mask", to=onnx.TensorProto.FLOAT)  # (N, H, W)
        cols = node("ReduceMax", [mask], "cols", axes=[1], keepdims=0)  # (N, W): column has a pixel
        lines = node("ReduceMax", [mask], "lines", axes=[2], keepdims=0)  # (N, H)
        found = node("ReduceMax", [cols], "found", axes=[1], keepdims=1)  # (N, 1)

        def last(has: str, ramp: str, axis: str) -> str:  # last index + 1, or 0
            return node("ReduceMax", [node("Mul", [has, ramp], f"r{axis}")], f"last{axis}", axes=[1], keepdims=1)

        def first(has: str, back: str, full: str, axis: str) -> str:  # first index, or the size
            high = node("ReduceMax", [node("Mul", [has, back], f"b{axis}")], f"back{axis}", axes=[1], keepdims=1)
            return node("Sub", [full, high], f"first{axis}")

        x1 = node("Sub", [first(cols, back_x, full_w, "x"), pad], "x1")
        y1 = node("Sub", [first(lines, back_y, full_h, "y"), pad], "y1")
        x2 = node("Add", [last(cols, ramp_x, "x"), pad], "x2")
        y2 = node("Add", [last(lines, ramp_y, "y"), pad], "y2")
        score = node("Mul", [found, _const(nodes, p + "s", np.array(band.score, np.float32))], "score")
        class_id = _const(nodes, p + "k", np.array(band.class_id, np.float32))
        cls = node("Add", [node("Mul", [found, zero], "z"), class_id], "cls")
        fields = [x1, y1, x2, y2, score, cls] if layout == "yolo" else [y1, x1, y2, x2, cls, score]
        rows.append(node("Concat", fields, "row", axis=1))  # (N, 6)
        masks.append(node("Unsqueeze", [mask, _const(nodes, p + "ax", np.array([1, 2], np.int64))], "m5"))
    table = "output" if layout == "yolo" else "generate_detections"
    flat = "_rows"
    nodes.append(helper.make_node("Concat", rows, [flat], axis=1))
    shape = _const(nodes, "_rows_shape", np.array([-1, len(bands), 6], np.int64))
    nodes.append(helper.make_node("Reshape", [flat, shape], [table]))
    x = helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [batch, channels, height, width])
    outputs = [helper.make_tensor_value_info(table, onnx.TensorProto.FLOAT, [batch, len(bands), 6])]
    if layout == "mrcnn":
        name = "mask_fcn_logits/BiasAdd"
        nodes.append(helper.make_node("Concat", masks, [name], axis=1))
        mask_shape = [batch, len(bands), 1, height, width]
        outputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, mask_shape))
    return _finish(nodes, "blobs", [x], outputs)


def channel_stats_model(size: tuple[int, int], channels: int = 3) -> bytes:
    """A classifier computed from the picture: ``mean`` and ``peak`` ``(N, channels)``, the mean and the
    maximum of each input channel (two output layers, so two attributes)."""
    width, height = size
    x = helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", channels, height, width])
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[2, 3], keepdims=0),
        helper.make_node("ReduceMax", ["input"], ["peak"], axes=[2, 3], keepdims=0),
    ]
    outputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["batch", channels]) for n in ("mean", "peak")]
    return _finish(nodes, "channel_stats", [x], outputs)


def segmentation_model(size: tuple[int, int], channels: int = 3, *, nhwc_output: bool = False) -> bytes:
    """Semantic segmentation where class ``c``'s score at a pixel is input channel ``c`` there.

    The output ``seg`` is ``(N, C, H, W)``, or ``(N, H, W, C)`` with ``nhwc_output``.
    """
    width, height = size
    x = helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["batch", channels, height, width])
    if nhwc_output:
        nodes = [helper.make_node("Transpose", ["input"], ["seg"], perm=[0, 2, 3, 1])]
        shape = ["batch", height, width, channels]
    else:
        nodes = [helper.make_node("Identity", ["input"], ["seg"])]
        shape = ["batch", channels, height, width]
    return _finish(nodes, "segmentation", [x], [helper.make_tensor_value_info("seg", onnx.TensorProto.FLOAT, shape)])


# -- models for the custom-model interface (tests/test_custom_models.py) ---------------------------


def scaled_sum_model(size: tuple[int, int], channels: int = 3, *, batch: int | None = None) -> bytes:
    """A model with a second, non-image input: ``sums = ReduceSum(input over H, W) · scale``.

    Inputs ``input`` ``(N, channels, H, W)`` (binding 0, the image) and ``scale`` ``(N, channels)``;
    output ``sums`` ``(N, channels)``. The batch dimension is dynamic unless ``batch`` fixes it.
    """
    width, height = size
    n: str | int = "batch" if batch is None else batch
    x = helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [n, channels, height, width])
    scale = helper.make_tensor_value_info("scale", onnx.TensorProto.FLOAT, [n, channels])
    nodes: list = []
    axes = _const(nodes, "_axes", np.array([2, 3], np.int64))
    nodes += [
        helper.make_node("ReduceSum", ["input", axes], ["_sum"], keepdims=0),
        helper.make_node("Mul", ["_sum", "scale"], ["sums"]),
    ]
    out = helper.make_tensor_value_info("sums", onnx.TensorProto.FLOAT, [n, channels])
    return _finish(nodes, "scaled_sum", [x, scale], [out])


def custom_op_model(
    op_type: str,
    size: tuple[int, int],
    outputs: Sequence[str],
    *,
    channels: int = 3,
    offset: float | None = None,
    domain: str = "ai.onnx.contrib",
) -> bytes:
    """``outputs = op_type(input − offset)``: one node of a custom-operator domain on the image.

    The outputs are declared float with the input's shape (elementwise operators). ONNX's checker
    does not know custom domains, so only the standard part of the model is checked.
    """
    width, height = size
    dims = ["batch", channels, height, width]
    x = helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, dims)
    nodes: list = []
    source = "input"
    if offset is not None:
        nodes.append(helper.make_node("Sub", ["input", _const(nodes, "_offset", np.array(offset, np.float32))], ["_x"]))
        source = "_x"
    nodes.append(helper.make_node(op_type, [source], list(outputs), domain=domain))
    graph = helper.make_graph(
        nodes, op_type, [x], [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, dims) for o in outputs]
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(domain, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="dsflow-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()
