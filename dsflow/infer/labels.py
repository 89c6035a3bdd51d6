"""Labels files (``labelfile-path``), read as nvinfer reads them.

Empty lines are skipped and each line splits on ``;``. Detectors use ``labels[class_id][0]``
(one class per line); classifiers use ``labels[attribute][class]`` (one line per output
layer). Nothing is trimmed, like nvinfer, except the line ending itself.
"""

from __future__ import annotations

from dsflow.errors import ConfigError


def read_labels(path: str | None) -> list[list[str]]:
    """The labels of ``path``; no path gives no labels."""
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
    except OSError as exc:
        msg = f"{path}: cannot read the labels file ({exc.strerror})"
        raise ConfigError(msg) from None
    return [line.split(";") for line in lines if line]


def detector_label(labels: list[list[str]], class_id: int) -> str:
    """The label of a detected class, or ``""`` when the file has none for it."""
    return labels[class_id][0] if 0 <= class_id < len(labels) else ""


def attribute_label(labels: list[list[str]], index: int, class_id: int) -> str:
    """The label of class ``class_id`` of classifier output ``index``, or ``""``."""
    if 0 <= index < len(labels) and 0 <= class_id < len(labels[index]):
        return labels[index][class_id]
    return ""
