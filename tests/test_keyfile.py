"""Unit tests of dsflow.infer.keyfile: GLib key-file parsing and the typed getters.

Expected values were checked against GLib 2.74's ``g_key_file_*`` functions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dsflow.errors import ConfigError
from dsflow.infer.keyfile import (
    Entry,
    parse_keyfile,
    read_keyfile,
    to_bool,
    to_double,
    to_double_list,
    to_int,
    to_int_list,
    to_string,
    to_string_list,
)


def values(text: str, group: str = "g") -> list[tuple[str, str]]:
    """(key, value GLib reads) for each key of ``group``, in file order."""
    found = parse_keyfile(text, "cfg.txt").groups[group]
    return [(key, found.last(key).value) for key in found.keys()]


def value_error(convert: Callable[[str], object], raw: str) -> str:
    with pytest.raises(ValueError, match=r"^expected ") as info:
        convert(raw)
    return str(info.value)


def parse_error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_keyfile(text, "cfg.txt")
    return str(info.value)


# -- file structure -------------------------------------------------------------------------


def test_comments_and_blank_lines_are_skipped() -> None:
    text = "# top\n\n[g]\n# c\n   # indented\n\t#tab\n  \t \na=1\n\n#b=2\n"
    assert values(text) == [("a", "1")]


def test_whitespace_around_key_and_equals_is_ignored_and_trailing_value_space_kept() -> None:
    kf = parse_keyfile("[g]\n   a  =  1  \n\tb\t=\tx\t\n", "cfg.txt")
    assert kf.groups["g"].entries == [Entry("a", "1  ", 2), Entry("b", "x\t", 3)]


def test_keys_may_contain_spaces() -> None:
    assert values("[g]\nmy key = v\n") == [("my key", "v")]


def test_value_may_contain_equals_and_be_empty() -> None:
    assert values("[g]\na==1\nb=\nc =  \n") == [("a", "=1"), ("b", ""), ("c", "")]


def test_group_header_allows_trailing_blanks_and_keeps_inner_spaces() -> None:
    kf = parse_keyfile("  [g] \t\nk=1\n[ h ]\n", "cfg.txt")
    assert list(kf.groups) == ["g", " h "]
    assert kf.groups["g"].line == 1


def test_key_before_the_first_group_is_an_error_with_its_line() -> None:
    message = parse_error("# comment\nk=1\n[g]\n")
    assert message.startswith("cfg.txt:2: ")
    assert "'k'" in message
    assert "group" in message


@pytest.mark.parametrize("line", ["noequals", "=value", "  =1", "[g] x", "[unclosed", ";c"])
def test_line_that_is_no_group_key_or_comment_is_an_error_with_its_line(line: str) -> None:
    message = parse_error(f"[g]\nk=1\n{line}\n")
    assert message.startswith("cfg.txt:3: ")
    assert f"(got '{line.lstrip()}')" in message


@pytest.mark.parametrize("header", ["[]", "[a[b]", "[a\x01]"])
def test_invalid_group_name_is_an_error(header: str) -> None:
    assert parse_error(f"[g]\n{header}\n").startswith("cfg.txt:2: invalid group name")


@pytest.mark.parametrize("key", ["a]", "a[d e]", "a [de]"])
def test_invalid_key_name_is_an_error(key: str) -> None:
    assert parse_error(f"[g]\n{key}=1\n").startswith(f"cfg.txt:2: invalid key name '{key}'")


def test_locale_suffix_is_part_of_the_key() -> None:
    assert values("[g]\nname[de_DE.UTF-8@euro]=x\n") == [("name[de_DE.UTF-8@euro]", "x")]


def test_duplicate_groups_are_merged() -> None:
    kf = parse_keyfile("[a]\nx=1\n[b]\ny=2\n[a]\nz=3\n", "cfg.txt")
    assert list(kf.groups) == ["a", "b"]
    assert kf.groups["a"].line == 1
    assert kf.groups["a"].entries == [Entry("x", "1", 2), Entry("z", "3", 6)]


def test_duplicate_keys_are_listed_twice_and_the_last_wins() -> None:
    text = "[g]\nk=1\nm=2\n[h]\n[g]\nk=3\n"
    group = parse_keyfile(text, "cfg.txt").groups["g"]
    assert group.keys() == ["k", "m", "k"]
    assert group.last("k") == Entry("k", "3", 6)
    assert group.last("missing") is None
    assert values(text) == [("k", "3"), ("m", "2"), ("k", "3")]


def test_crlf_line_endings() -> None:
    kf = parse_keyfile("[g]\r\na=1 \r\nb=x\r", "cfg.txt")
    # GLib drops the \r of \r\n only; a last line without \n keeps its \r.
    assert kf.groups["g"].entries == [Entry("a", "1 ", 2), Entry("b", "x\r", 3)]


def test_encoding_key_of_the_first_group_must_be_utf8() -> None:
    assert values("[g]\nEncoding=utf-8\n") == [("Encoding", "utf-8")]
    assert values("[a]\n[g]\nEncoding=latin1\n") == [("Encoding", "latin1")]
    assert parse_error("[g]\nEncoding=latin1\n").startswith("cfg.txt:2: unsupported encoding")


def test_empty_file_has_no_groups() -> None:
    assert parse_keyfile("").groups == {}
    assert parse_keyfile("").path == "<config>"


def test_read_keyfile(tmp_path: Path) -> None:
    path = tmp_path / "config_infer.txt"
    path.write_text("[property]\nlabelfile-path=labels.txt\n", encoding="utf-8")
    kf = read_keyfile(path)
    assert kf.path == str(path)
    assert kf.groups["property"].last("labelfile-path") == Entry("labelfile-path", "labels.txt", 2)


def test_read_keyfile_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.txt"
    with pytest.raises(ConfigError, match=r"^.*missing\.txt: cannot read the config file"):
        read_keyfile(path)


def test_read_keyfile_rejects_invalid_utf8_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"[g]\nk=caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        read_keyfile(path)
    assert str(info.value) == f"{path}:2: expected UTF-8 text (got byte 0xe9)"


# -- typed values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5", 5),
        ("-5", -5),
        ("+5", 5),
        ("007", 7),
        ("5 ", 5),
        ("5 # note", 5),
        ("5\tx", 5),
        ("\v5", 5),
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
    ],
)
def test_int_accepts(raw: str, expected: int) -> None:
    assert to_int(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", " ", "1.0", "0x10", "5x", "5#x", "- 5", "five", "2147483648", "-2147483649", "99999999999999999999"]
)
def test_int_rejects(raw: str) -> None:
    assert value_error(to_int, raw) == f"expected an integer (got '{raw}')"


def test_int_ignores_a_trailing_comment_read_from_a_file() -> None:
    assert to_int(parse_keyfile("[g]\nk = 5 # note\n").groups["g"].last("k").value) == 5


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("false", False), ("1", True), ("0", False), ("true  ", True), ("0\t", False)]
)
def test_bool_accepts(raw: str, expected: bool) -> None:
    assert to_bool(raw) is expected


@pytest.mark.parametrize("raw", ["True", "TRUE", "yes", "on", "01", "true # x", " true", ""])
def test_bool_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^expected true, false, 1 or 0 \(got '.*'\)$"):
        to_bool(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.5", 0.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("1e-3", 0.001),
        ("-1E+2", -100.0),
        ("+.5", 0.5),
        ("3", 3.0),
        ("0.0039215697906911373", 0.0039215697906911373),
        ("0x10", 16.0),
        ("0x1p3", 8.0),
        ("1e-999", 0.0),
    ],
)
def test_double_accepts(raw: str, expected: float) -> None:
    assert to_double(raw) == expected


@pytest.mark.parametrize("raw", ["", "0.5 ", "1/255", "1e", ".", "1_0", "0x", "1,5", "0.5 # x"])
def test_double_rejects(raw: str) -> None:
    assert value_error(to_double, raw) == f"expected a number (got '{raw}')"


@pytest.mark.parametrize("raw", ["inf", "-inf", "infinity", "nan", "1e999"])
def test_double_rejects_non_finite_values(raw: str) -> None:
    # GLib returns inf or nan here; a config never means that.
    with pytest.raises(ValueError, match=r"^expected a (finite )?number"):
        to_double(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1;2;3", [1, 2, 3]),
        ("1; 2 ;3", [1, 2, 3]),
        ("3;640;640;", [3, 640, 640]),
        ("1 # x;2", [1, 2]),
        ("7", [7]),
        ("", []),
    ],
)
def test_int_list_accepts(raw: str, expected: list[int]) -> None:
    assert to_int_list(raw) == expected


@pytest.mark.parametrize(
    ("raw", "element"), [("1;;2", "2 is ''"), (";", "1 is ''"), ("1; ;2", "2 is ' '"), ("1;2; ", "3 is ' '")]
)
def test_int_list_rejects_empty_and_blank_elements(raw: str, element: str) -> None:
    # GLib reads a blank element as 0; dsflow refuses it.
    expected = f"expected a ';'-separated list of integers, element {element} (got '{raw}')"
    assert value_error(to_int_list, raw) == expected


@pytest.mark.parametrize("raw", ["1;2.5", "1;x", "1\\;2", "1;\\q"])
def test_int_list_rejects_bad_elements(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^expected a ';'-separated list of integers"):
        to_int_list(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.5;1;1e-3", [0.5, 1.0, 0.001]),
        ("123.675;116.28;103.53;", [123.675, 116.28, 103.53]),
        ("1; 2", [1.0, 2.0]),  # strtod skips leading blanks
        ("", []),
    ],
)
def test_double_list_accepts(raw: str, expected: list[float]) -> None:
    assert to_double_list(raw) == expected


@pytest.mark.parametrize("raw", ["1 ;2", "1;2 ", "1;;2", "1;2; ", "1;nan", "1;1/255"])
def test_double_list_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^expected a ';'-separated list of numbers"):
        to_double_list(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain text", "plain text"),
        ("trailing  ", "trailing  "),
        ("a;b", "a;b"),
        ("\\sx", " x"),
        ("a\\nb\\tc\\rd\\\\e", "a\nb\tc\rd\\e"),
        ("", ""),
    ],
)
def test_string_decodes_escapes(raw: str, expected: str) -> None:
    assert to_string(raw) == expected


def test_string_keeps_trailing_and_drops_leading_whitespace_of_a_file_value() -> None:
    assert to_string(parse_keyfile("[g]\nk=   model.onnx  \n").groups["g"].last("k").value) == "model.onnx  "


@pytest.mark.parametrize("raw", ["a\\;b", "a\\x", "C:\\models", "end\\"])
def test_string_rejects_invalid_escapes(raw: str) -> None:
    assert value_error(to_string, raw) == f"expected a string with escapes \\s \\n \\t \\r \\\\ only (got '{raw}')"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a;b", ["a", "b"]),
        ("a;b;", ["a", "b"]),
        ("a ; b", ["a ", " b"]),
        ("a\\;b;c", ["a;b", "c"]),
        ("a\\sb;c\\n", ["a b", "c\n"]),
        ("a;;b", ["a", "", "b"]),  # GLib keeps empty string elements
        (";", [""]),
        ("", []),
    ],
)
def test_string_list(raw: str, expected: list[str]) -> None:
    assert to_string_list(raw) == expected


@pytest.mark.parametrize("raw", ["a\\x;b", "a;\\"])
def test_string_list_rejects_invalid_escapes(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^expected a ';'-separated list of strings with escapes"):
        to_string_list(raw)


# -- a real config --------------------------------------------------------------------------

DEEPSTREAM_CONFIG = """\
################################################################################
# Primary detector, DeepStream nvinfer config
################################################################################

[property]
gpu-id=0
net-scale-factor=0.0039215697906911373
onnx-file=yolov8s.onnx
model-engine-file=model_b1_gpu0_fp16.engine
labelfile-path=labels.txt
batch-size=1
network-mode=2
num-detected-classes=80
interval=0
gie-unique-id=1
process-mode=1
network-type=0
cluster-mode=2
maintain-aspect-ratio=1
symmetric-padding=1
offsets=0;0;0
output-blob-names=boxes;scores;classes
#parse-bbox-func-name=NvDsInferParseYolo

[class-attrs-all]
pre-cluster-threshold=0.25
topk=300
nms-iou-threshold=0.45

[class-attrs-0]
pre-cluster-threshold=0.4
"""


def test_realistic_deepstream_config() -> None:
    kf = parse_keyfile(DEEPSTREAM_CONFIG, "config_infer_primary.txt")
    assert list(kf.groups) == ["property", "class-attrs-all", "class-attrs-0"]
    prop = kf.groups["property"]
    assert prop.line == 5
    assert prop.keys()[:3] == ["gpu-id", "net-scale-factor", "onnx-file"]
    assert "parse-bbox-func-name" not in prop.keys()

    def get(group: str, key: str) -> str:
        entry = kf.groups[group].last(key)
        assert entry is not None
        return entry.value

    assert to_int(get("property", "gpu-id")) == 0
    assert to_double(get("property", "net-scale-factor")) == 0.0039215697906911373
    assert to_string(get("property", "onnx-file")) == "yolov8s.onnx"
    assert to_string(get("property", "labelfile-path")) == "labels.txt"
    assert to_int(get("property", "batch-size")) == 1
    assert to_int(get("property", "network-mode")) == 2
    assert to_int(get("property", "num-detected-classes")) == 80
    assert to_int(get("property", "cluster-mode")) == 2
    assert to_bool(get("property", "maintain-aspect-ratio")) is True
    assert to_double_list(get("property", "offsets")) == [0.0, 0.0, 0.0]
    assert to_string_list(get("property", "output-blob-names")) == ["boxes", "scores", "classes"]
    assert to_double(get("class-attrs-all", "pre-cluster-threshold")) == 0.25
    assert to_int(get("class-attrs-all", "topk")) == 300
    assert to_double(get("class-attrs-all", "nms-iou-threshold")) == 0.45
    assert to_double(get("class-attrs-0", "pre-cluster-threshold")) == 0.4
    assert kf.groups["class-attrs-0"].last("pre-cluster-threshold").line == 31
