"""An example dsflow plugin: a CenterNet bbox parser and a multi-label classifier parser.

Installed, it is found through the ``dsflow`` entry-point group of ``pyproject.toml``, and an
nvinfer config picks its functions by name::

    parse-bbox-func-name=example-centernet
    parse-classifier-func-name=example-sigmoid-multilabel

This module only registers them: each hook below is called once, when dsflow builds its
registry, and returns ``{name: function}``. The functions live in their own modules so they
can be imported and tested without dsflow's plugin machinery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dsflow import hookimpl

from .centernet import parse_centernet
from .multilabel import parse_sigmoid_multilabel

__all__ = ["parse_centernet", "parse_sigmoid_multilabel"]


@hookimpl
def dsflow_register_bbox_parsers() -> dict[str, Callable[..., Any]]:
    return {"example-centernet": parse_centernet}


@hookimpl
def dsflow_register_classifier_parsers() -> dict[str, Callable[..., Any]]:
    return {"example-sigmoid-multilabel": parse_sigmoid_multilabel}
