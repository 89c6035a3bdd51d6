"""Print the key tables of docs/nvinfer-config.md from dsflow.infer.keys, so the page never drifts.

Run ``python docs/_gen_keys.py`` and paste its output over the marked blocks, or ``--write`` to
replace them in place. tests/test_docs_keys.py fails when the page and this output differ.
The table in keys.py holds each key's type, default, meaning and status; what dsflow does
differently from DeepStream for a *supported* key is not in it, so it lives in ``DIFFERENCES``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dsflow.infer.keys import CLASS_KEYS, INT32_MAX, PROPERTY_KEYS, Key

PAGE = Path(__file__).with_name("nvinfer-config.md")
BLOCKS = {"property-keys": PROPERTY_KEYS, "class-keys": CLASS_KEYS}

TYPES = {
    "int": "int",
    "bool": "bool",
    "double": "double",
    "int-list": "int list",
    "double-list": "double list",
    "string": "string",
    "string-list": "string list",
    "path": "path",
}

DEFAULTS = {"gie-unique-id": "none (required)"}
"""Defaults whose table value would mislead (0 is what nvinfer starts from, and it fails)."""

DIFFERENCES = {
    "gie-unique-id": (
        "Also names the stage's tensors on the batch (`nvinfer-<id>`), so two stages of one graph with the same id "
        "are an error."
    ),
    "interval": "The count runs over every batch the node sees; DeepStream also restarts it at end of stream.",
    "gpu-id": "Part of the engine's identity only: the graph's `device` decides where it runs.",
    "secondary-reinfer-interval": "Needs an upstream node that sets `object_id` (dsflow has no tracker); see "
    "[re-inference of tracked objects](nodes.md#re-inference-of-tracked-objects).",
    "output-tensor-meta": "A `TensorMeta` in `frame.tensors` or `object.tensors` under `tensor-meta-<id>`.",
    "output-instance-mask": "Masks go to `ObjectMeta.mask`.",
    "batch-size": "Rows are run in chunks of at most this many (and at most the model's own fixed batch, which is "
    "padded). Outputs whose size changes from one run to the next (a variable number of candidates) are "
    "zero-padded to the largest when the runs are joined.",
    "output-blob-names": "Not needed: every output of the ONNX model is used, in model order.",
    "network-type": "100: no parser runs; combine with `output-tensor-meta`.",
    "infer-dims": "Required when the ONNX input has dynamic height or width.",
    "network-input-order": "When absent, dsflow reads the layout from the model input's shape (DeepStream assumes "
    "NCHW).",
    "model-color-format": "GRAY is BT.601 luma; it needs a 1-channel model input.",
    "offsets": "The number of values must equal the model's channels (checked when the node starts).",
    "mean-file": "PPM, P6 or P3, of the network size.",
    "scaling-filter": "OpenCV interpolation: nearest, linear, cubic, area, Lanczos4; 5 and 6 are nearest.",
    "scaling-compute-hw": "0 and 1 make no difference (scaling runs in OpenCV); 2 is an error.",
    "custom-lib-path": "Opened when a name has no Python implementation, or to probe for `RegisterCustomOps` "
    "(an ONNX Runtime custom-op library, registered with the session) and `NvDsInferInitializeInputLayers`. "
    "Functions may use nvinfer's C++ ABI or dsflow's C ABI: see [parser libraries](how-to-parser-library.md). "
    "A path that does not exist is a warning while every name has a Python implementation.",
    "parse-bbox-func-name": "A name registered by dsflow or a plugin (see [parsers](nvinfer-parsers.md)), "
    "else a function of custom-lib-path.",
    "parse-bbox-instance-mask-func-name": "A name registered by dsflow or a plugin, "
    "else a function of custom-lib-path.",
    "parse-classifier-func-name": "A name registered by dsflow or a plugin, else a function of custom-lib-path; "
    "the default is `softmax`.",
    "parse-segmentation-func-name": "A name registered by dsflow or a plugin, else a function of custom-lib-path; "
    "the default is `argmax`.",
    "engine-create-func-name": "A Python engine creator registered by a plugin, else a dsflow-ABI function of "
    "custom-lib-path; called with the stage's config, it returns an engine or a model for the backend. nvinfer's "
    "TensorRT-based creators need the TensorRT backend. An unknown name is an error when the graph is loaded.",
    "model-parser-func-name": "dsflow extension (nvinfer finds `NvDsInferCreateModelParser` in the library). "
    "A Python model parser registered by a plugin, called with model-file and the config; it returns an ONNX model.",
    "input-init-func-name": "dsflow extension. Without it, nvinfer's rule: `NvDsInferInitializeInputLayers` of "
    "custom-lib-path fills the non-image inputs when the library exports it.",
    "custom-network-config": "Handed to the engine creator with the rest of the config.",
    "onnx-file": "Required (unless an engine creator makes the model).",
    "num-detected-classes": "0 drops every detection, as in nvinfer (dsflow warns).",
    "cluster-mode": "Mode 0 does real `cv::groupRectangles` grouping: see "
    "[cluster-mode 0](nvinfer-parsers.md#cluster-mode-0-grouprectangles).",
    "classifier-async-mode": "Deterministic: a tracked object gets the result of its latest inference on an earlier "
    "frame, never the current one's; untracked objects are skipped (dsflow warns). See "
    "[re-inference of tracked objects](nodes.md#re-inference-of-tracked-objects).",
    "input-object-min-width": "The 16-pixel floor applies, as in nvinfer.",
    "input-object-min-height": "The 16-pixel floor applies, as in nvinfer.",
    "border-color": "Kept per class for drawing nodes; no built-in node draws yet.",
    "bg-color": "Kept per class for drawing nodes; no built-in node draws yet.",
    "dbscan-min-score": "DBSCAN is defined by dsflow: see [clustering](nvinfer-parsers.md#cluster-mode-1-dbscan).",
    "is-classifier": "true gives 1, false 0; ignored, with a warning, when network-type is set.",
    "input-dims": "The first three values become infer-dims (the order is dropped); ignored, with a warning, when "
    "infer-dims is set.",
    "uff-input-dims": "As input-dims.",
    "enable-dbscan": "true gives cluster-mode 1, false is dropped; ignored, with a warning, when cluster-mode is set.",
    "threshold": "Sets the same value as pre-cluster-threshold.",
    "model-file": "Allowed next to engine-create-func-name (the creator's weights file, e.g. DeepStream-Yolo's "
    "Darknet `.weights`) or model-parser-func-name (the file in a custom format it reads).",
    "post-cluster-threshold": "As nvinfer: NMS and hybrid keep `conf > threshold`, DBSCAN keeps `conf >= threshold`, "
    "GroupRectangles ignores it.",
    "group-threshold": "0, the default, skips grouping: cluster-mode 0 then passes every box on with confidence −0.1.",
    "roi-top-offset": "For a secondary detector, measured on the object's box before the parent's offset is added, "
    "as in nvinfer.",
    "roi-bottom-offset": "As roi-top-offset.",
    "topk": "The config value must be at least 0 (0 keeps none); −1 is only the default.",
}


def _default(key: Key) -> str:
    if key.name in DEFAULTS:
        return DEFAULTS[key.name]
    value = key.default
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if value == INT32_MAX and key.kind == "int":
        return f"{value} (G_MAXINT)"
    if isinstance(value, tuple):
        return ";".join(f"{v:g}" for v in value)
    return str(value)


def _status(key: Key) -> str:
    if key.status == "supported":
        text = "supported"
    elif key.status == "accepted":
        text = f"accepted, no effect: {key.note}"
    elif key.status == "legacy":
        text = f"legacy, converted with a warning: {key.note}"
    else:
        text = f"rejected, an error when true or not empty: {key.note}"
    extra = DIFFERENCES.get(key.name)
    return f"{text}. {extra}" if extra else text


def _cell(text: str) -> str:
    """Table-safe text: pipes escaped, and ``<``/``>`` outside code spans, so ``<task>`` is not read as HTML."""
    parts = text.replace("|", "\\|").replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def table(keys: tuple[Key, ...]) -> str:
    """One markdown table row per key, in the key table's order."""
    lines = ["| key | type | default | meaning | dsflow status / DeepStream differences |", "|---|---|---|---|---|"]
    for key in keys:
        cells = [f"`{key.name}`", TYPES[key.kind], _default(key), key.doc, _status(key)]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def block(name: str) -> str:
    """The marked block ``name`` as it belongs in the page."""
    return f"<!-- BEGIN {name}: generated by docs/_gen_keys.py -->\n{table(BLOCKS[name])}\n<!-- END {name} -->"


def committed(text: str, name: str) -> str:
    """The marked block ``name`` as it is in ``text``."""
    start = text.index(f"<!-- BEGIN {name}:")
    end = text.index(f"<!-- END {name} -->", start) + len(f"<!-- END {name} -->")
    return text[start:end]


def _check_differences() -> None:
    known = {k.name for keys in BLOCKS.values() for k in keys}
    stale = sorted(set(DIFFERENCES) - known)
    if stale:
        msg = f"DIFFERENCES names keys that are not in dsflow.infer.keys: {', '.join(stale)}"
        raise SystemExit(msg)


def main(argv: list[str]) -> None:
    _check_differences()
    if argv == ["--write"]:
        text = PAGE.read_text(encoding="utf-8")
        for name in BLOCKS:
            text = text.replace(committed(text, name), block(name))
        PAGE.write_text(text, encoding="utf-8")
        return
    print("\n\n".join(block(name) for name in BLOCKS))


if __name__ == "__main__":
    main(sys.argv[1:])
