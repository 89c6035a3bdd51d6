"""Unit tests of dsflow.params: type wording, value checks and conversions, parameter specs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, Optional

import pytest

from dsflow import ConfigError, param
from dsflow.nodes import sinks, sources
from dsflow.params import build_params, check_value, param_specs, type_name
from dsflow.yamlfile import Location, load_text

WHERE = Location("f.yaml", 3, 4)


def yaml_value(text: str) -> Any:
    """``text`` parsed as a one-key YAML document ``v: TEXT``: the value, with real locations."""
    return load_text(f"v: {text}\n", "f.yaml")["v"]


def check_error(value: Any, tp: Any, where: Location = WHERE) -> str:
    with pytest.raises(ConfigError) as info:
        check_value(value, tp, where, "parameter 'p'")
    return str(info.value)


# -- type_name ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tp", "words"),
    [
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (bool, "true or false"),
        (Any, "any value"),
        (list, "a list"),
        (dict, "a mapping"),
        (list[int], "a list of integers"),
        (list[str], "a list of strings"),
        (list[bool], "a list of true or false"),
        (list[Any], "a list of any values"),
        (tuple[float, ...], "a list of numbers"),
        (dict[str, int], "a mapping of integers"),
        (dict[str, bool], "a mapping of true or false"),
        (Literal["fast", "accurate"], "one of 'fast', 'accurate'"),
        (Literal[0, 1], "one of 0, 1"),
        (int | None, "an integer or null"),
        (Optional[str], "a string or null"),  # noqa: UP045 - the typing spelling must work too
        (int | str, "an integer or a string"),
        (list[int] | None, "a list of integers or null"),
        (list[Literal["x", "y"]], "a list of one of 'x', 'y'"),
        (list[list[int]], "a list of lists of integers"),
        (dict[str, list[float]], "a mapping of lists of numbers"),
        (list[dict[str, str]], "a list of mappings of strings"),
        (list[int | str], "a list of integers or strings"),
    ],
    ids=str,
)
def test_type_name_wording(tp: Any, words: str) -> None:
    assert type_name(tp) == words


# -- check_value: accepted values and conversions ----------------------------------------


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        (3, int, 3),
        (-7, int, -7),
        (2.5, float, 2.5),
        ("x", str, "x"),
        ("", str, ""),
        (False, bool, False),
        ([1, 2], list[int], [1, 2]),
        ([], list[str], []),
        ([1, 2], tuple[int, ...], (1, 2)),
        ({"a": "x"}, dict[str, str], {"a": "x"}),
        ("fast", Literal["fast", "slow"], "fast"),
        (1, Literal[0, 1], 1),
        (None, int | None, None),
        (4, int | None, 4),
        (None, Optional[list[str]], None),  # noqa: UP045
        ("four", int | str, "four"),
        ({"k": [1, {"x": None}]}, Any, {"k": [1, {"x": None}]}),
        ([[1], [2, 3]], list[list[int]], [[1], [2, 3]]),
        ([1, "a"], list, [1, "a"]),
    ],
    ids=repr,
)
def test_check_value_accepts(value: Any, tp: Any, expected: Any) -> None:
    converted = check_value(value, tp, WHERE, "parameter 'p'")
    assert converted == expected
    assert type(converted) is type(expected)


def test_float_accepts_an_integer_and_converts_it() -> None:
    assert check_value(25, float, WHERE, "p") == 25.0
    assert type(check_value(25, float, WHERE, "p")) is float


def test_conversions_apply_inside_containers() -> None:
    weights = check_value({"a": 1, "b": 0.5}, dict[str, float], WHERE, "p")
    assert weights == {"a": 1.0, "b": 0.5}
    assert all(type(w) is float for w in weights.values())
    sizes = check_value([1, 2.5], tuple[float, ...], WHERE, "p")
    assert sizes == (1.0, 2.5)
    assert type(sizes[0]) is float


# -- check_value: rejected values -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tp", "problem"),
    [
        ("3", int, "expects an integer (got '3')"),
        (1.5, int, "expects an integer (got 1.5)"),
        (True, int, "expects an integer (got True)"),
        (None, int, "expects an integer (got null)"),
        (1, bool, "expects true or false (got 1)"),
        ("true", bool, "expects true or false (got 'true')"),
        ("fast", float, "expects a number (got 'fast')"),
        (False, float, "expects a number (got False)"),
        (3, str, "expects a string (got 3)"),
        ({"a": 1}, list[int], "expects a list of integers (got a mapping)"),
        ("a, b", list[str], "expects a list of strings (got 'a, b')"),
        ([1, 2], dict[str, int], "expects a mapping of integers (got a list)"),
        ("medium", Literal["fast", "slow"], "expects one of 'fast', 'slow' (got 'medium')"),
        (True, Literal[0, 1], "expects one of 0, 1 (got True)"),
        (1, Literal[True], "expects one of True (got 1)"),
        ("x", int | None, "expects an integer or null (got 'x')"),
        ([1], int | str, "expects an integer or a string (got a list)"),
    ],
    ids=repr,
)
def test_check_value_rejects(value: Any, tp: Any, problem: str) -> None:
    assert check_error(value, tp) == f"f.yaml:3:4: parameter 'p' {problem}"


def test_a_bad_list_item_is_located_at_the_item() -> None:
    sizes = yaml_value("[1, 2, three]")
    assert check_error(sizes, list[int]) == "f.yaml:1:11: parameter 'p' item 2 expects an integer (got 'three')"


def test_a_bad_nested_item_names_every_index() -> None:
    grid = yaml_value("[[1, 2], [3, x]]")
    assert check_error(grid, list[list[int]]) == "f.yaml:1:17: parameter 'p' item 1 item 1 expects an integer (got 'x')"


def test_a_bad_mapping_value_is_located_at_the_value() -> None:
    weights = yaml_value("{car: 1.0, bus: heavy}")
    message = check_error(weights, dict[str, float])
    assert message == "f.yaml:1:20: parameter 'p' key 'bus' expects a number (got 'heavy')"


def test_an_unsupported_annotation_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match=r"unsupported parameter type <class 'bytes'> in parameter 'p'"):
        check_value(b"x", bytes, WHERE, "parameter 'p'")


# -- param_specs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExampleParams:
    model_path: str = param(doc="The model file.")
    batch_size: int = param(1, doc="Frames per batch.")
    labels: list[str] = param(default_factory=list, doc="Class names.")
    mode: Literal["fast", "accurate"] = param("fast", doc="Speed or accuracy.")
    threshold: float | None = param(None, doc="Minimum confidence; null keeps everything.")


def test_param_specs_in_declaration_order_with_dashed_names() -> None:
    specs = param_specs(ExampleParams)
    assert [s.name for s in specs] == ["model-path", "batch-size", "labels", "mode", "threshold"]
    assert [s.field for s in specs] == ["model_path", "batch_size", "labels", "mode", "threshold"]


def test_param_specs_required_and_defaults() -> None:
    specs = {s.name: s for s in param_specs(ExampleParams)}
    assert specs["model-path"].required
    assert specs["model-path"].default is None
    assert not specs["batch-size"].required
    assert specs["batch-size"].default == 1
    assert not specs["labels"].required
    assert specs["labels"].default == []  # default_factory is called for the default shown
    assert specs["threshold"].default is None
    assert not specs["threshold"].required


def test_param_specs_types_and_docs() -> None:
    specs = {s.name: s for s in param_specs(ExampleParams)}
    assert specs["model-path"].doc == "The model file."
    assert specs["threshold"].doc == "Minimum confidence; null keeps everything."
    assert specs["labels"].type == list[str]
    assert specs["labels"].type_name == "a list of strings"
    assert specs["mode"].type_name == "one of 'fast', 'accurate'"
    assert specs["threshold"].type_name == "a number or null"


def test_param_specs_of_builtin_nodes() -> None:
    specs = {s.name: s for s in param_specs(sources.TestPatternParams)}
    assert specs["batch-size"].field == "batch_size"
    assert specs["batch-size"].type_name == "an integer"
    assert specs["fps"].default == 30.0
    assert specs["realtime"].type_name == "true or false"
    assert not any(s.required for s in specs.values())
    (path, append) = param_specs(sinks.JsonlParams)
    assert (path.name, path.required, append.required, append.default) == ("path", True, False, False)


def test_param_specs_is_cached() -> None:
    assert param_specs(ExampleParams) is param_specs(ExampleParams)


def test_param_without_doc_is_refused() -> None:
    with pytest.raises(TypeError, match="doc"):
        param(1)  # type: ignore[call-arg]


# -- build_params ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedParams:
    low: int = param(0, doc="Lower bound.")
    high: int = param(10, doc="Upper bound.")

    def __post_init__(self) -> None:
        if self.low > self.high:
            msg = f"'low' must not be above 'high' (got {self.low} > {self.high})"
            raise ValueError(msg)


def build(text: str, params_type: type = ExampleParams) -> Any:
    return build_params(params_type, load_text(text, "f.yaml"), "node 'n'")


def build_error(text: str, params_type: type = ExampleParams) -> str:
    with pytest.raises(ConfigError) as info:
        build(text, params_type)
    return str(info.value)


def test_build_params_checks_and_converts() -> None:
    params = build("model-path: m.onnx\nbatch-size: 4\nthreshold: 1\n")
    assert params == ExampleParams("m.onnx", 4, [], "fast", 1.0)
    assert dataclasses.is_dataclass(params)


def test_build_params_accepts_the_field_spelling() -> None:
    assert build("model_path: m.onnx\nbatch_size: 2\n").batch_size == 2


def test_build_params_unknown_parameter_with_a_close_match() -> None:
    message = build_error("model-path: m.onnx\nbatchsize: 4\n")
    assert message == "f.yaml:2:1: node 'n': unknown parameter 'batchsize' (did you mean 'batch-size'?)"


def test_build_params_unknown_parameter_lists_the_known_ones() -> None:
    message = build_error("colour: red\n", CheckedParams)
    assert message == "f.yaml:1:1: node 'n': unknown parameter 'colour' (known: low, high)"


def test_build_params_missing_required_parameter() -> None:
    assert build_error("batch-size: 4\n") == "f.yaml:1:1: node 'n': missing required parameter 'model-path' (a string)"


def test_build_params_post_init_error_is_located() -> None:
    with pytest.raises(ConfigError) as info:
        build("low: 5\nhigh: 1\n", CheckedParams)
    assert str(info.value) == "f.yaml:1:1: node 'n': 'low' must not be above 'high' (got 5 > 1)"
    assert isinstance(info.value.__cause__, ValueError)


def test_build_params_wants_a_mapping() -> None:
    with pytest.raises(ConfigError, match=r"^node 'n': parameters must be a mapping"):
        build_params(CheckedParams, [1, 2], "node 'n'")  # type: ignore[arg-type]
