"""DeepStream nvinfer config files in GLib's key-file format, read by GLib's rules.

nvinfer loads its config with ``g_key_file_load_from_file`` (flags NONE) and reads values with the
``g_key_file_get_*`` getters. :func:`parse_keyfile` keeps every entry with its line; the ``to_*``
functions type a raw value the way the matching getter does. The rules were checked against GLib 2.74:

* ``[group]`` headers (spaces or tabs may follow the ``]``); ``key = value`` lines; blank lines and
  lines starting with ``#`` are comments. Space, tab, form feed and carriage return around a line, a
  key or a value are GLib whitespace; vertical tab is not.
* A group seen twice is one group; a key seen twice is listed twice and the last value wins.
* The value keeps its trailing whitespace; the getters decide what it means.
* Lists split on ``;``, a trailing ``;`` ends the list, ``\\;`` is a literal ``;`` inside an element.

Deliberate differences: non-finite doubles (``inf``, ``nan``, overflow) and blank integer list
elements (GLib reads ``1; ;2`` as ``[1, 0, 2]``) are rejected. Localized keys such as ``name[de]``
are kept as plain keys, where GLib drops those not for the process's locale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dsflow.errors import ConfigError

_GLIB_SPACE = " \t\n\f\r"  # g_ascii_isspace: no vertical tab
_C_SPACE = " \t\n\v\f\r"  # isspace: strtol and strtod skip it before the number
_GROUP = re.compile(r"\[([^\]]*)\][ \t]*")
_GROUP_NAME = re.compile(r"[^\[\]\x00-\x1f\x7f]+")
_KEY = re.compile(r"([^\[\]]+)(\[[\w.@-]*\])?")
_INT = re.compile(f"[{_C_SPACE}]*([+-]?[0-9]+)(?:[{_GLIB_SPACE}].*)?", re.DOTALL)
_DEC = re.compile(f"[{_C_SPACE}]*[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?")
_HEX = re.compile(f"[{_C_SPACE}]*[+-]?0[xX]([0-9a-fA-F]+\\.?[0-9a-fA-F]*|\\.[0-9a-fA-F]+)([pP][+-]?[0-9]+)?")
_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_INT32 = range(-(2**31), 2**31)
_T = TypeVar("_T")
_STRING_ESCAPES = r"a string with escapes \s \n \t \r \\ only"
_LIST_ESCAPES = r"with escapes \s \n \t \r \\ \; only"


@dataclass(frozen=True)
class Entry:
    """One ``key=value`` line: the value as GLib stores it (leading whitespace gone, trailing kept)."""

    key: str
    value: str
    line: int


@dataclass
class Group:
    """A ``[name]`` group; headers seen again add their entries here."""

    name: str
    line: int
    entries: list[Entry] = field(default_factory=list)

    def keys(self) -> list[str]:
        """Keys in file order, a repeated key listed each time (like ``g_key_file_get_keys``)."""
        return [e.key for e in self.entries]

    def last(self, key: str) -> Entry | None:
        """The entry GLib reads for ``key``: its last one."""
        return next((e for e in reversed(self.entries) if e.key == key), None)


@dataclass
class KeyFile:
    """A parsed key file: groups in order of first appearance."""

    path: str
    groups: dict[str, Group] = field(default_factory=dict)


def parse_keyfile(text: str, path: str = "<config>") -> KeyFile:
    """Parse key-file ``text``; errors are :class:`ConfigError` naming ``path`` and the line."""
    kf = KeyFile(path)
    group: Group | None = None
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if number < len(lines):
            line = line.removesuffix("\r")  # GLib drops the \r of a \r\n ending, not a lone \r at the end
        line = line.lstrip(_GLIB_SPACE)
        where = f"{path}:{number}"
        if not line or line.startswith("#"):
            continue
        if header := _GROUP.fullmatch(line):
            name = header.group(1)
            if not _GROUP_NAME.fullmatch(name):
                msg = f"{where}: invalid group name '{name}': expected no '[', ']' or control characters"
                raise ConfigError(msg)
            group = kf.groups.setdefault(name, Group(name, number))
            continue
        if "=" not in line or line.startswith("="):
            msg = f"{where}: expected a '[group]' header, a 'key=value' line or a '#' comment (got '{line}')"
            raise ConfigError(msg)
        key, value = line.split("=", 1)
        key, value = key.rstrip(_GLIB_SPACE), value.lstrip(_GLIB_SPACE)
        if group is None:
            msg = f"{where}: key '{key}' comes before any group: expected a '[group]' header first"
            raise ConfigError(msg)
        match = _KEY.fullmatch(key)
        if not match or match.group(1).endswith(" "):
            msg = f"{where}: invalid key name '{key}': expected no '[' or ']' except a trailing '[locale]'"
            raise ConfigError(msg)
        if key == "Encoding" and group is next(iter(kf.groups.values())) and value.lower() != "utf-8":
            msg = f"{where}: unsupported encoding: expected 'UTF-8' (got '{value}')"
            raise ConfigError(msg)
        group.entries.append(Entry(key, value, number))
    return kf


def read_keyfile(path: str | Path) -> KeyFile:
    """Read and parse the UTF-8 key file at ``path``."""
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot read the config file: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = f"{path}:{line}: expected UTF-8 text (got byte 0x{data[exc.start]:02x})"
        raise ConfigError(msg) from None
    return parse_keyfile(text, path)


def _expected(what: str, raw: str) -> str:
    return f"expected {what} (got '{raw}')"


def to_int(raw: str) -> int:
    """``g_key_file_get_integer``: a decimal int32; anything after whitespace is ignored (``5 # x`` is 5)."""
    match = _INT.fullmatch(raw)
    if not match or int(match.group(1)) not in _INT32:
        raise ValueError(_expected("an integer", raw))
    return int(match.group(1))


def to_bool(raw: str) -> bool:
    """``g_key_file_get_boolean``: exactly ``true``, ``false``, ``1`` or ``0``, trailing whitespace allowed."""
    word = raw.rstrip(_GLIB_SPACE)
    if word not in ("true", "false", "1", "0"):
        raise ValueError(_expected("true, false, 1 or 0", raw))
    return word in ("true", "1")


def to_double(raw: str) -> float:
    """``g_key_file_get_double``: C ``strtod`` syntax, the whole value, nothing after it (not even a space)."""
    if _DEC.fullmatch(raw):
        value = float(raw.lstrip(_C_SPACE))
    elif _HEX.fullmatch(raw):
        value = float.fromhex(raw.lstrip(_C_SPACE))
    else:
        raise ValueError(_expected("a number", raw))
    if not math.isfinite(value):
        raise ValueError(_expected("a finite number", raw))
    return value


def _decode(raw: str, in_list: bool) -> list[str]:
    """GLib's escape decoding; in a list, ``;`` splits elements (``\\;`` does not) and may end the list."""
    pieces, current, chars = [], [], iter(raw)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if escaped in _ESCAPES:
                current.append(_ESCAPES[escaped])
            elif in_list and escaped == ";":
                current.append(";")
            else:
                what = f"a ';'-separated list of strings {_LIST_ESCAPES}" if in_list else _STRING_ESCAPES
                raise ValueError(_expected(what, raw))
        elif char == ";" and in_list:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    if current or not in_list:
        pieces.append("".join(current))
    return pieces


def to_string(raw: str) -> str:
    """``g_key_file_get_string``: the value with ``\\s \\n \\t \\r \\\\`` decoded; other escapes are errors."""
    return _decode(raw, in_list=False)[0]


def to_string_list(raw: str) -> list[str]:
    """``g_key_file_get_string_list``: ``;``-separated, escapes decoded; ``a;;b`` has an empty element."""
    return _decode(raw, in_list=True)


def to_int_list(raw: str) -> list[int]:
    """``g_key_file_get_integer_list``: elements read by :func:`to_int` (``1; 2 ;3`` is fine)."""
    return _typed_list(raw, to_int, "integers")


def to_double_list(raw: str) -> list[float]:
    """``g_key_file_get_double_list``: elements read by :func:`to_double` (``1 ;2`` is not a list)."""
    return _typed_list(raw, to_double, "numbers")


def _typed_list(raw: str, convert: Callable[[str], _T], what: str) -> list[_T]:
    try:
        pieces = _decode(raw, in_list=True)
    except ValueError:
        raise ValueError(_expected(f"a ';'-separated list of {what} {_LIST_ESCAPES}", raw)) from None
    values = []
    for index, piece in enumerate(pieces, 1):
        try:
            values.append(convert(piece))
        except ValueError:
            msg = _expected(f"a ';'-separated list of {what}, element {index} is '{piece}'", raw)
            raise ValueError(msg) from None
    return values
