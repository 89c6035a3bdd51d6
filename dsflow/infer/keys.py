"""Every nvinfer configuration key dsflow knows: its type, default, check, meaning and status.

The table follows DeepStream 6.3's ``gstnvinfer_property_parser.cpp`` (see docs/nvinfer-config.md).
``status`` says what dsflow does with a key: ``supported`` (same semantics), ``accepted`` (read
and checked, no effect on this backend: the reason is in ``note``), ``legacy`` (converted to
its successor with a warning) or ``rejected`` (an error whose message is ``note``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["int", "bool", "double", "int-list", "double-list", "string", "string-list", "path"]
Status = Literal["supported", "accepted", "legacy", "rejected"]

INT32_MAX = 2**31 - 1
MAX_BATCH_SIZE = 1024


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None
    """Returns what is wrong with a typed value, or None."""
    status: Status = "supported"
    note: str = ""


def at_least(low: float) -> Callable[[Any], str | None]:
    return lambda v: None if v >= low else f"must be at least {low} (got {v})"


def between(low: float, high: float) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high} (got {v})"


def one_of(*choices: int) -> Callable[[Any], str | None]:
    return lambda v: None if v in choices else f"must be one of {', '.join(map(str, choices))} (got {v})"


def count(*sizes: int) -> Callable[[Any], str | None]:
    return lambda v: None if len(v) in sizes else f"must have {' or '.join(map(str, sizes))} values (got {len(v)})"


def max_count(n: int) -> Callable[[Any], str | None]:
    return lambda v: None if len(v) <= n else f"must have at most {n} values (got {len(v)})"


def _formats(allowed_types: set[str], allowed_formats: set[str], shape: str) -> Callable[[Any], str | None]:
    def check(values: list[str]) -> str | None:
        for item in values:
            parts = item.split(":")
            if len(parts) != 3 or parts[1] not in allowed_types or parts[2] not in allowed_formats:
                return f"each value must be {shape} (got {item!r})"
        return None

    return check


TRT_ONLY = "TensorRT build option; recorded, no effect with the onnxruntime backend"
NO_POOL = "dsflow allocates outputs per batch; there is no buffer pool to size"
CAFFE = (
    "Caffe models are not supported by TensorRT 10 and dsflow: convert the model to ONNX "
    "(e.g. with caffe2onnx or through PyTorch) and set onnx-file"
)
UFF = (
    "UFF models were removed from TensorRT: export the original TensorFlow model to ONNX with tf2onnx and set onnx-file"
)
ETLT = (
    "encrypted TAO .etlt models cannot be read outside TensorRT's TAO path: export the model to ONNX "
    "with TAO (tao model <task> export) and set onnx-file"
)

PROPERTY_KEYS: tuple[Key, ...] = (
    Key("gie-unique-id", "int", 0, "ID of this inference stage, stamped on the objects and attributes it makes; required, > 0.",
        at_least(1)),
    Key("process-mode", "int", 1, "1 = primary (full frames), 2 = secondary (objects of earlier stages).", one_of(1, 2)),
    Key("interval", "int", 0, "Primary mode: number of batches skipped between inferences.", at_least(0)),
    Key("labelfile-path", "path", None, "Labels file: one line per class (detectors) or per attribute with ';'-separated classes."),
    Key("gpu-id", "int", 0, "CUDA device of the stage.", at_least(0)),
    Key("secondary-reinfer-interval", "int", INT32_MAX,
        "Frames after which a tracked object is inferred again (needs tracked objects; untracked ones are always inferred).",
        at_least(0)),
    Key("output-tensor-meta", "bool", False, "Attach the raw output tensors to frames (primary) or objects (secondary)."),
    Key("output-instance-mask", "bool", False, "Attach instance masks to objects; needs cluster-mode 4."),
    Key("auto-inc-mem", "int", 1, "Let the output buffer pool grow.", status="accepted", note=NO_POOL),
    Key("max-gpu-mem-per", "int", 99, "GPU memory cap for the output buffer pool.", status="accepted", note=NO_POOL),
    Key("tensor-meta-pool-size", "int", 2, "Number of output buffer sets.", at_least(1), status="accepted", note=NO_POOL),
    Key("enable-dla", "bool", False, "Run on a Jetson DLA core.", status="rejected",
        note="DLA cores exist only on Jetson; dsflow's engines run on the GPU or the CPU: remove enable-dla"),
    Key("use-dla-core", "int", 0, "DLA core index.", at_least(0), status="accepted", note="only meaningful with enable-dla"),
    Key("batch-size", "int", 1, "Largest batch the engine runs (frames, or objects in secondary mode).",
        between(1, MAX_BATCH_SIZE)),
    Key("network-mode", "int", 0, "Precision: 0 FP32, 1 INT8, 2 FP16.", one_of(0, 1, 2), status="accepted", note=TRT_ONLY),
    Key("model-engine-file", "path", None, "Serialized TensorRT engine, tried before building one.", status="accepted",
        note="a TensorRT engine file; the onnxruntime backend runs onnx-file instead"),
    Key("int8-calib-file", "path", None, "INT8 calibration cache.", status="accepted", note=TRT_ONLY),
    Key("workspace-size", "int", 0, "Builder workspace in MiB.", status="accepted", note=TRT_ONLY),
    Key("output-blob-names", "string-list", None,
        "Output layer names; checked against the model's outputs (a warning names the missing ones)."),
    Key("output-io-formats", "string-list", None, "Output binding formats, 'layer:type:format'.",
        _formats({"fp32", "fp16", "int32", "int8"}, {"chw", "chw2", "chw4", "hwc8", "chw16", "chw32"}, "layer:type:format"),
        status="accepted", note=TRT_ONLY),
    Key("layer-device-precision", "string-list", None, "Per-layer precision and device, 'layer:precision:device'.",
        _formats({"fp32", "fp16", "int8"}, {"gpu", "dla"}, "layer:precision:device"), status="accepted", note=TRT_ONLY),
    Key("is-classifier", "bool", None, "Legacy: true means network-type 1.", status="legacy", note="use network-type"),
    Key("network-type", "int", 0, "0 detector, 1 classifier, 2 segmentation, 3 instance segmentation, 100 other (tensors only).",
        one_of(0, 1, 2, 3, 100)),
    Key("force-implicit-batch-dim", "bool", False, "Build an implicit-batch network.", status="accepted", note=TRT_ONLY),
    Key("infer-dims", "int-list", None, "Network input 'c;h;w' (sets the size of dynamic inputs; must match fixed ones).",
        count(3)),
    Key("input-dims", "int-list", None, "Legacy 'c;h;w;order'.", count(4), status="legacy", note="use infer-dims"),
    Key("uff-input-dims", "int-list", None, "Legacy 'c;h;w;order'.", count(4), status="legacy", note="use infer-dims"),
    Key("uff-input-order", "int", 0, "UFF input order.", one_of(0, 1, 2), status="accepted", note="UFF only"),
    Key("uff-input-blob-name", "string", None, "UFF input name.", status="accepted", note="UFF only"),
    Key("network-input-order", "int", 0, "Layout the preprocessing writes: 0 NCHW, 1 NHWC.", one_of(0, 1)),
    Key("model-color-format", "int", 0, "Channels fed to the network: 0 RGB, 1 BGR, 2 GRAY.", one_of(0, 1, 2)),
    Key("net-scale-factor", "double", 1.0, "Multiplier s in y = s·(x − mean); ignored (with the offsets) when ≤ 0."),
    Key("offsets", "double-list", None, "Per-channel mean in network channel order.", max_count(4)),
    Key("mean-file", "path", None, "Per-pixel mean image (PPM, network size); takes precedence over offsets."),
    Key("maintain-aspect-ratio", "bool", False, "Letterbox: scale keeping the aspect ratio, pad with zeros."),
    Key("symmetric-padding", "bool", False, "With maintain-aspect-ratio: centre the picture instead of top-left."),
    Key("scaling-filter", "int", 6,
        "Interpolation: 0 nearest, 1 bilinear, 2 cubic, 3 super-sampling (area), 4 Lanczos, 5 and 6 (default) nearest.",
        one_of(0, 1, 2, 3, 4, 5, 6)),
    Key("scaling-compute-hw", "int", 0, "Scaler: 0 default, 1 GPU, 2 VIC (Jetson only).", one_of(0, 1, 2)),
    Key("input-tensor-from-meta", "bool", False, "Use tensors prepared by nvdspreprocess.", status="rejected",
        note=("dsflow has no nvdspreprocess element: its preprocess node is the equivalent. Use an nvinfer.infer node "
              "after your own tensor-producing node, or remove input-tensor-from-meta")),
    Key("custom-lib-path", "path", None, "Shared library with custom functions (parsers, engine creation...)."),
    Key("parse-bbox-func-name", "string", None, "Detector output parser (default: the built-in DetectNet parser)."),
    Key("parse-bbox-instance-mask-func-name", "string", None, "Instance segmentation parser; required for network-type 3."),
    Key("parse-classifier-func-name", "string", None, "Classifier parser (default: the built-in softmax parser)."),
    Key("parse-segmentation-func-name", "string", None,
        "Semantic segmentation parser (default: the built-in argmax parser); DeepStream ≥ 6.4 key."),
    Key("engine-create-func-name", "string", None, "Function that creates the engine (or the model) for this stage."),
    Key("custom-network-config", "string", None, "Free-form path handed to custom functions (not resolved)."),
    Key("model-parser-func-name", "string", None,
        "dsflow: function that turns model-file (a custom format) into an ONNX model, the role of nvinfer's IModelParser."),
    Key("input-init-func-name", "string", None,
        "dsflow: function that fills the model's non-image inputs (default: NvDsInferInitializeInputLayers of custom-lib-path)."),
    Key("crop-func-name", "string", None,
        "dsflow, secondary: function giving each object's quadrilateral to warp into the network input (rotated text, "
        "aligned faces); default: the object's box."),
    Key("fit-batch-width", "bool", False,
        "dsflow: for a dynamic input width, scale samples to the network height keeping their aspect, and make the "
        "batch as wide as its widest sample (at least the infer-dims width); PaddleOCR's recogniser input."),
    Key("max-batch-width", "int", 0, "dsflow, with fit-batch-width: widest batch; wider samples are squeezed (0: no limit).",
        at_least(0)),
    Key("model-file", "path", None,
        "Caffe model; allowed as the input of engine-create-func-name or model-parser-func-name.", status="rejected",
        note=CAFFE),
    Key("proto-file", "path", None, "Caffe prototxt.", status="rejected", note=CAFFE),
    Key("uff-file", "path", None, "UFF model.", status="rejected", note=UFF),
    Key("tlt-encoded-model", "path", None, "TAO .etlt model.", status="rejected", note=ETLT),
    Key("tlt-model-key", "string", None, "TAO model key.", status="rejected", note=ETLT),
    Key("onnx-file", "path", None, "ONNX model."),
    Key("num-detected-classes", "int", 0, "Number of classes; objects with a higher class id are dropped.", at_least(0)),
    Key("enable-dbscan", "bool", None, "Legacy: true means cluster-mode 1.", status="legacy", note="use cluster-mode"),
    Key("cluster-mode", "int", 0, "0 GroupRectangles, 1 DBSCAN, 2 NMS, 3 DBSCAN + NMS, 4 none.", one_of(0, 1, 2, 3, 4)),
    Key("crop-objects-to-roi-boundary", "bool", False, "Clamp objects to the ROI band instead of dropping them."),
    Key("filter-out-class-ids", "int-list", None, "Detector: drop these classes."),
    Key("cluster-per-frame", "bool", False,
        "dsflow, secondary detectors: cluster the detections of all objects of a frame together, in frame pixels "
        "(nvinfer clusters each object's own); merges proposals or overlapping tiles."),
    Key("classifier-type", "string", None, "Name of the classifier, given to its attributes."),
    Key("classifier-threshold", "double", 0.0, "Minimum probability (strictly above) of an attribute.", at_least(0)),
    Key("set-object-label", "bool", False,
        "dsflow, secondary classifiers: the first attribute's label becomes the object's label (recognised text, a plate)."),
    Key("classifier-async-mode", "bool", False,
        "Secondary classifiers: do not hold frames for results; results attach to the tracked object later."),
    Key("segmentation-threshold", "double", 0.0, "Minimum probability (strictly above) of a class in a pixel.", at_least(0)),
    Key("segmentation-output-order", "int", 0, "Segmentation output layout: 0 NCHW, 1 NHWC.", one_of(0, 1)),
    Key("input-object-min-width", "int", 0, "Secondary: skip narrower objects (at least 16 px are needed).", at_least(0)),
    Key("input-object-min-height", "int", 0, "Secondary: skip lower objects (at least 16 px are needed).", at_least(0)),
    Key("input-object-max-width", "int", 0, "Secondary: skip wider objects (0: no limit).", at_least(0)),
    Key("input-object-max-height", "int", 0, "Secondary: skip higher objects (0: no limit).", at_least(0)),
    Key("operate-on-gie-id", "int", -1, "Secondary: only objects made by this stage (-1: any)."),
    Key("operate-on-class-ids", "int-list", None, "Secondary: only objects of these classes (empty: all)."),
)  # fmt: skip

CLASS_KEYS: tuple[Key, ...] = (
    Key("pre-cluster-threshold", "double", 0.2, "Objects below this confidence are dropped before clustering.", at_least(0)),
    Key("threshold", "double", None, "Legacy name of pre-cluster-threshold.", at_least(0), status="legacy",
        note="use pre-cluster-threshold"),
    Key("post-cluster-threshold", "double", 0.0, "Objects below this confidence are dropped after clustering.", at_least(0)),
    Key("eps", "double", 0.0, "DBSCAN / GroupRectangles epsilon.", at_least(0)),
    Key("group-threshold", "int", 0, "GroupRectangles: groups with this many boxes or fewer are dropped.", at_least(0)),
    Key("minBoxes", "int", 0, "DBSCAN: boxes needed to form a cluster (0: no clustering).", at_least(0)),
    Key("dbscan-min-score", "double", 0.0, "DBSCAN: minimum summed confidence of a neighbourhood.", at_least(0)),
    Key("nms-iou-threshold", "double", 0.3, "NMS: boxes overlapping a kept one more than this are dropped.", between(0, 1)),
    Key("topk", "int", -1, "Keep the K most confident objects per class after clustering (-1: all).", at_least(0)),
    Key("roi-top-offset", "int", 0, "Drop objects above this frame row.", at_least(0)),
    Key("roi-bottom-offset", "int", 0, "Drop objects below frame height minus this.", at_least(0)),
    Key("detected-min-w", "int", 0, "Drop narrower objects (frame pixels).", at_least(0)),
    Key("detected-min-h", "int", 0, "Drop lower objects (frame pixels).", at_least(0)),
    Key("detected-max-w", "int", 0, "Drop wider objects (0: no limit).", at_least(0)),
    Key("detected-max-h", "int", 0, "Drop higher objects (0: no limit).", at_least(0)),
    Key("border-color", "double-list", (1.0, 0.0, 0.0, 1.0), "Box colour r;g;b;a (0…1) for drawing sinks.", count(4)),
    Key("bg-color", "double-list", None, "Box fill colour r;g;b;a (0…1) for drawing sinks.", count(4)),
)  # fmt: skip

PROPERTY = {k.name: k for k in PROPERTY_KEYS}
CLASS_ATTRS = {k.name: k for k in CLASS_KEYS}

KNOWN_UNPARSED = {
    "disable-output-host-copy": "DeepStream 6.3 does not read it either",
    "parse-func": "legacy key",
    "dump-input-tensor": "not supported",
    "dump-output-tensor": "not supported",
}
"""Keys DeepStream users may have in their files that are warned about as unknown or legacy."""
