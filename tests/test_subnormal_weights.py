"""The onnxruntime backend zeroes float32 weights below the normal range (x86 multiplies them slowly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx_models import IR_VERSION

from dsflow.infer.engine import SMALLEST_NORMAL, flush_subnormal_weights, onnxruntime_backend

WEIGHTS = np.array([2.0, 1e-40, -3e-39, 0.0, SMALLEST_NORMAL], np.float32)  # two subnormals, the rest normal or 0


def scale_model(weights: np.ndarray) -> bytes:
    """``y = x * weights``, the weights an initializer."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["y"])], "scale",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", len(weights)])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", len(weights)])],
        [numpy_helper.from_array(weights, "w")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = IR_VERSION  # what older ONNX Runtime builds load
    return model.SerializeToString()


def test_subnormal_weights_become_zero_and_the_others_stay() -> None:
    flushed = onnx.load_from_string(flush_subnormal_weights(scale_model(WEIGHTS)))
    weights = numpy_helper.to_array(flushed.graph.initializer[0])
    np.testing.assert_array_equal(weights, [2.0, 0.0, 0.0, 0.0, SMALLEST_NORMAL])


def test_a_model_without_subnormal_weights_is_passed_on_untouched(tmp_path: Path) -> None:
    path = tmp_path / "normal.onnx"
    path.write_bytes(scale_model(np.array([1.0, 0.5], np.float32)))
    assert flush_subnormal_weights(str(path)) == str(path)  # ONNX Runtime loads the file itself


def test_the_backend_runs_the_flushed_model(tmp_path: Path) -> None:
    path = tmp_path / "subnormal.onnx"
    path.write_bytes(scale_model(WEIGHTS))
    engine = onnxruntime_backend(str(path), {}, device="cpu", stream=None)
    [y] = engine.infer({"x": np.ones((1, 5), np.float32)}).values()
    np.testing.assert_array_equal(y, [[2.0, 0.0, 0.0, 0.0, SMALLEST_NORMAL]])
