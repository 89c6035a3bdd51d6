"""Small ONNX models for tests: built with ``onnx.helper``, run with ONNX Runtime.

``constant_model`` gives a real model whose outputs are fixed tensors, repeated over the input's batch
dimension, so parsers and infer stages can be tested on exact, hand-computed values that went through
an actual inference session (names, dtypes and batch layout as an engine produces them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
