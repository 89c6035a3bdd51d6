"""Faces as nvinfer stages: the MTCNN cascade, 5-point face alignment, age by expectation.

MTCNN (Zhang et al. 2016) is three networks run one after the other, each on what the previous
one found. In dsflow each network is an ordinary nvinfer stage (graphs/faces.yaml):

* **P-Net** (primary): ``mtcnn-pyramid`` is an engine that runs the fully convolutional P-Net over
  an image pyramid and returns every face-like cell as a candidate row; the ``mtcnn-proposals``
  parser merges them (NMS per scale, then across scales), applies the regression and squares the
  boxes.
* **R-Net** and **O-Net** (secondary detectors on the previous stage's objects): the
  ``mtcnn-transposed`` crop function feeds each face transposed (MTCNN's networks were trained on
  column-major images, width and height swapped), and ``mtcnn-refine`` / ``mtcnn-output`` read
  the score, the box regression and (O-Net) five landmarks. ``cluster-per-frame=1`` merges the
  refined boxes of all proposals of a frame.
* **Age and gender** (secondary classifiers on O-Net's faces): ``face-5-point`` warps each face
  onto dlib's 5-point template (eyes, nose, mouth corners) so the chip looks like the training
  chips, and ``age-expectation`` turns the age model's 81 probabilities into one age.

Coordinates: parsers return network-input pixels. With the transposed crop, the network's x
axis is the frame's y axis, so the R-Net and O-Net parsers write boxes and landmarks in the
network's transposed frame, and dsflow maps them back through the inverse of the crop's warp.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from dsflow.cuda import to_numpy
from dsflow.frame import Attribute, Frame, ObjectMeta
from dsflow.infer.cluster import nms_keep
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo, TensorSpec
from dsflow.plugins import hookimpl

if TYPE_CHECKING:
    from dsflow.infer.config import InferConfig

__all__ = [
    "FACE_TEMPLATE",
    "AgeExpectation",
    "PyramidEngine",
    "align_quads",
    "chip_points",
    "crop_face_5_point",
    "crop_transposed",
    "fit_similarity",
    "parse_output",
    "parse_proposals",
    "parse_refine",
    "pyramid_scales",
    "square_boxes",
]

# -- MTCNN constants ---------------------------------------------------------------------------------------------

CELL_SIZE = 12
"""P-Net looks at 12×12 windows..."""
CELL_STRIDE = 2
"""...every 2 pixels of a pyramid level."""
PYRAMID_FACTOR = 0.709
"""Scale step between pyramid levels (√0.5: each level has half the pixels of the one before)."""
DEFAULT_MIN_FACE = 20
"""Smallest face searched, in network-input pixels, when detected-min-w is not set."""
PER_SCALE_NMS = 0.5
"""IoU above which P-Net proposals of one pyramid level are merged."""
ACROSS_SCALES_NMS = 0.7
"""IoU above which P-Net proposals of different levels are merged."""
DEFAULT_THRESHOLDS = (0.6, 0.7, 0.7)
"""MTCNN's face-probability thresholds of P-Net, R-Net and O-Net (used when a stage has no classes)."""

CANDIDATE_COLUMNS = 10
"""A ``candidates`` row: x1, y1, x2, y2, score, dx1, dy1, dx2, dy2, pyramid level."""
X1, Y1, X2, Y2, SCORE, DX1, DY1, DX2, DY2, LEVEL = range(CANDIDATE_COLUMNS)

# -- the dlib face chip ------------------------------------------------------------------------------------------

FACE_TEMPLATE = np.array(
    [
        [0.2254, 0.2160],  # left eye (in the picture: the person's right eye)
        [0.7548, 0.2160],  # right eye
        [0.490127, 0.515625],  # nose tip
        [0.254149, 0.780233],  # left mouth corner
        [0.726104, 0.780233],  # right mouth corner
    ]
)
"""Where dlib's mean face puts MTCNN's five landmarks, in units of the unpadded chip side."""
CHIP_PADDING = 0.2
"""dlib's ``get_face_chip_details`` padding: the chip shows 0.2 of the face's size more on each side."""


# ================================================================================================================
# P-Net: the image pyramid as an engine
# ================================================================================================================


def pyramid_scales(height: int, width: int, min_face: float = DEFAULT_MIN_FACE) -> list[float]:
    """MTCNN's pyramid: ``m·0.709^k`` with ``m = 12/min_face``, while the scaled short side is ≥ 12 px.

    Level 0 makes a ``min_face`` face 12 px, P-Net's window; each further level finds faces 1/0.709
    times larger.
    """
    m = CELL_SIZE / min_face
    short_side = min(height, width) * m
    scales = []
    while short_side >= CELL_SIZE:
        scales.append(m * PYRAMID_FACTOR ** len(scales))
        short_side *= PYRAMID_FACTOR
    return scales


def _pick_by_width(outputs: Sequence[Any], names: Sequence[str], preferred: str, width: int, what: str) -> int:
    """Index of the output named ``preferred``, else of the one whose last dimension is ``width``."""
    if preferred in names:
        return names.index(preferred)
    matches = [i for i, out in enumerate(outputs) if out.shape and out.shape[-1] == width]
    if len(matches) != 1:
        msg = f"MTCNN: cannot tell the {what} output ({preferred!r}, last dimension {width}) among {list(names)}"
        raise ValueError(msg)
    return matches[0]


class PyramidEngine:
    """P-Net over an image pyramid, for a whole batch at once per pyramid level.

    Input ``image``: ``(N, H, W, 3)`` float32, already normalized by the stage's preprocessing
    (``(x − 127.5)·0.0078125``, RGB, NHWC). Output ``candidates``: ``(N, K, 10)`` rows (see
    :data:`CANDIDATE_COLUMNS`) of the cells whose face probability is at least ``threshold``, boxes
    in input pixels; rows past a sample's own count are zeros (score 0), K being the batch's largest
    count.
    """

    def __init__(self, session: Any, threshold: float, min_face: float = DEFAULT_MIN_FACE) -> None:
        self.session = session
        self.threshold = np.float32(threshold)
        self.min_face = float(min_face)
        self.inputs = [TensorSpec("image", (None, None, None, 3), np.dtype(np.float32))]
        self.outputs = [TensorSpec("candidates", (None, None, CANDIDATE_COLUMNS), np.dtype(np.float32))]
        self.max_batch_size: int | None = None
        (image,) = session.get_inputs()
        if len(image.shape) != 4 or any(isinstance(d, int) for d in image.shape[1:3]):
            msg = f"expected P-Net, whose input is any-sized NHWC pictures [N, H, W, 3]; this model's is {image.shape}"
            raise ValueError(msg)
        self._input_name = image.name
        specs = session.get_outputs()
        self._names = [o.name for o in specs]
        self._regression = _pick_by_width(specs, self._names, "conv2d_4", 4, "box regression")
        self._probability = _pick_by_width(specs, self._names, "softmax", 2, "face probability")

    def infer(self, inputs: Mapping[str, Any], stream: Any = None) -> dict[str, Any]:
        images = np.asarray(to_numpy(inputs["image"]), np.float32)
        n, height, width, _ = images.shape
        scales = pyramid_scales(height, width, self.min_face)
        parts = [self._level(images, level, scale) for level, scale in enumerate(scales)]
        sample = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.intp)
        rows = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, CANDIDATE_COLUMNS), np.float32)
        return {"candidates": _pad_per_sample(sample, rows, n)}

    def _level(self, images: np.ndarray, level: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Sample index and candidate row of every cell of one pyramid level that passes the threshold."""
        _, height, width, _ = images.shape
        size = (math.ceil(width * scale), math.ceil(height * scale))
        # One OpenCV call per image (it has no batch resize); INTER_AREA as MTCNN's reference.
        scaled = np.stack([cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in images])
        # The networks were trained on transposed images: swap W and H going in, and back coming out.
        outputs = self.session.run(self._names, {self._input_name: np.ascontiguousarray(scaled.transpose(0, 2, 1, 3))})
        regression = outputs[self._regression].transpose(0, 2, 1, 3)  # (N, H', W', 4)
        face = outputs[self._probability][..., 1].transpose(0, 2, 1)  # (N, H', W')
        sample, row, col = np.nonzero(face >= self.threshold)
        cells = np.stack([col, row], axis=1).astype(np.float64)
        first = np.trunc((CELL_STRIDE * cells + 1) / scale)
        last = np.trunc((CELL_STRIDE * cells + CELL_SIZE) / scale)
        rows = np.column_stack([
            first, last, face[sample, row, col], regression[sample, row, col], np.full(len(sample), level),
        ]).astype(np.float32)  # fmt: skip
        return sample, rows


def _pad_per_sample(sample: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """``(n, K, C)``: each sample's rows first, zeros after; K is the largest count."""
    order = np.argsort(sample, kind="stable")
    sample, rows = sample[order], rows[order]
    counts = np.bincount(sample, minlength=n)
    out = np.zeros((n, int(counts.max(initial=0)), rows.shape[1]), np.float32)
    rank = np.arange(len(sample)) - (np.cumsum(counts) - counts)[sample]
    out[sample, rank] = rows
    return out


def create_pyramid_engine(config: InferConfig) -> PyramidEngine:
    """``engine-create-func-name=mtcnn-pyramid``: P-Net (``onnx-file``) over an image pyramid.

    The stage's ``pre-cluster-threshold`` is the cell threshold (MTCNN: 0.6) and its
    ``detected-min-w``, when set, the smallest face searched (MTCNN: 20 px).
    """
    from dsflow.infer.engine import onnxruntime_backend

    path = config["onnx-file"]
    if not path:
        raise config.error("engine-create-func-name", "mtcnn-pyramid needs onnx-file: the P-Net model")
    attrs = config.class_attrs[0] if config.class_attrs else config.default_attrs
    min_face = attrs.detected_min_w if attrs.detected_min_w > 0 else DEFAULT_MIN_FACE
    try:
        session = onnxruntime_backend(path, {}, device="cpu", stream=None).session  # dsflow's loading rules
        return PyramidEngine(session, attrs.pre_cluster_threshold, min_face)
    except Exception as exc:  # onnxruntime's own error types, or a model that is not P-Net-like
        raise config.error("onnx-file", f"mtcnn-pyramid cannot use {path}: {exc}") from None


# ================================================================================================================
# Parsers
# ================================================================================================================


def square_boxes(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> tuple[np.ndarray, ...]:
    """MTCNN's ``rerec``: each box grown to a square of its longer side, about the same centre."""
    width, height = x2 - x1, y2 - y1
    side = np.maximum(width, height)
    left = x1 + (width - side) / 2
    top = y1 + (height - side) / 2
    return left, top, left + side, top + side


def _threshold(params: DetectionParams, default: float) -> np.float32:
    """Class 0's pre-cluster threshold (the face class), or MTCNN's when the stage has no classes."""
    limits = params.pre_cluster_threshold
    return np.float32(limits[0] if len(limits) else default)


def _rows(outputs: Sequence[Layer], name: str, size: int, count: int, parser: str) -> np.ndarray:
    """``(count, size)`` float64 values of the output named ``name``, else of the only one with ``size`` per row."""
    layer = next((layer for layer in outputs if layer.name == name), None)
    if layer is None:
        matches = [layer for layer in outputs if int(np.prod(layer.dims[1:])) == size]
        if len(matches) != 1:
            listing = ", ".join(f"{layer.name} {layer.dims[1:]}" for layer in outputs)
            msg = f"parser {parser}: no output named {name!r} nor exactly one with {size} values (outputs: {listing})"
            raise ValueError(msg)
        layer = matches[0]
    return np.asarray(to_numpy(layer.data), np.float64).reshape(-1, size)[:count]


def _one_sample(batch_parser: Callable[..., list[Detections]]) -> Callable[..., Detections]:
    """The per-sample form of a batch parser, with the batch one as its ``parse_batch``."""

    def parse(
        outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
    ) -> Detections:
        rows = [Layer(layer.name, np.asarray(to_numpy(layer.data))[None], layer.index) for layer in outputs]
        return batch_parser(rows, 1, network, params, xp=xp, stream=stream)[0]

    parse.parse_batch = batch_parser  # type: ignore[attr-defined]
    parse.__name__ = parse.__qualname__ = batch_parser.__name__.removesuffix("_batch")
    parse.__doc__ = batch_parser.__doc__
    return parse


def parse_proposals(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """``mtcnn-proposals``: P-Net candidates (``mtcnn-pyramid``'s output) into squared face proposals.

    As MTCNN's first stage: NMS at IoU 0.5 within each pyramid level, then 0.7 across levels (IoU
    counted on MTCNN's inclusive pixels, width + 1), the box regression (relative to the cell's box),
    squared boxes with coordinates truncated toward zero. Cells below ``pre-cluster-threshold`` (the
    padding rows included) are dropped first.
    """
    rows = None
    for layer in outputs:
        if layer.name == "candidates" or (layer.dims and layer.dims[-1] == CANDIDATE_COLUMNS):
            rows = np.asarray(to_numpy(layer.data), np.float32).reshape(-1, CANDIDATE_COLUMNS)
            break
    if rows is None:
        msg = "parser mtcnn-proposals: no 'candidates' output (use engine-create-func-name=mtcnn-pyramid)"
        raise ValueError(msg)
    score = rows[:, SCORE]
    rows = rows[(score > 0) & (score >= _threshold(params, DEFAULT_THRESHOLDS[0]))]
    for per_level, iou in ((True, PER_SCALE_NMS), (False, ACROSS_SCALES_NMS)):
        groups = rows[:, LEVEL] if per_level else np.zeros(len(rows))  # the level as the class: one call for all
        width, height = rows[:, X2] - rows[:, X1] + 1, rows[:, Y2] - rows[:, Y1] + 1
        rows = rows[nms_keep(rows[:, X1], rows[:, Y1], width, height, rows[:, SCORE], groups, iou)]
    rows = rows.astype(np.float64)
    width, height = rows[:, X2] - rows[:, X1], rows[:, Y2] - rows[:, Y1]
    corners = square_boxes(
        rows[:, X1] + rows[:, DX1] * width, rows[:, Y1] + rows[:, DY1] * height,
        rows[:, X2] + rows[:, DX2] * width, rows[:, Y2] + rows[:, DY2] * height,
    )  # fmt: skip
    x1, y1, x2, y2 = (np.trunc(c) for c in corners)
    return Detections.from_corners(x1, y1, x2, y2, rows[:, SCORE], np.zeros(len(rows), np.int32))


def _refined_box(regression: np.ndarray, network: NetworkInfo) -> tuple[np.ndarray, ...]:
    """The regressed boxes of transposed crops, in network-input pixels: ``(n, 4)`` → x1, y1, x2, y2.

    The regression (dx1, dy1, dx2, dy2) is relative to the crop, in the frame's axes: frame x runs
    along the network's y axis, frame y along its x axis.
    """
    dx1, dy1, dx2, dy2 = regression.T
    w, h = float(network.width), float(network.height)
    return dy1 * w, dx1 * h, w + dy2 * w, h + dx2 * h


def _per_row(
    kept: np.ndarray, corners: Sequence[np.ndarray], confidence: np.ndarray, points: np.ndarray | None = None
) -> list[Detections]:
    """One :class:`Detections` per row from the columns of the kept rows (zero or one object each)."""
    x1, y1, x2, y2 = (np.asarray(c, np.float32) for c in corners)
    columns = (np.zeros(len(x1), np.int32), x1, y1, x2 - x1, y2 - y1, np.asarray(confidence, np.float32))
    bounds = np.concatenate([[0], np.cumsum(kept)]).tolist()
    result = Detections.split_columns(columns, None, bounds)
    if points is not None:
        for detections, a, b in zip(result, bounds[:-1], bounds[1:], strict=True):
            detections.points = {"landmarks": points[a:b]}
    return result


def parse_refine_batch(
    outputs: Sequence[Layer], count: int, network: NetworkInfo, params: DetectionParams, *, xp: Any = np,
    stream: Any = None,
) -> list[Detections]:  # fmt: skip
    """``mtcnn-refine``: R-Net on (transposed) face proposals: keep each, refine it, square it.

    Outputs: ``dense_2`` [4] box regression, ``softmax_1`` [2] (face is channel 1), found by name or
    by size. A face is kept when its probability is above ``pre-cluster-threshold`` (MTCNN: 0.7).
    """
    p = _rows(outputs, "softmax_1", 2, count, "mtcnn-refine")[:, 1]
    kept = p > _threshold(params, DEFAULT_THRESHOLDS[1])
    regression = _rows(outputs, "dense_2", 4, count, "mtcnn-refine")[kept]
    return _per_row(kept, square_boxes(*_refined_box(regression, network)), p[kept])


def parse_output_batch(
    outputs: Sequence[Layer], count: int, network: NetworkInfo, params: DetectionParams, *, xp: Any = np,
    stream: Any = None,
) -> list[Detections]:  # fmt: skip
    """``mtcnn-output``: O-Net on (transposed) faces: keep each, refine its box, read its five landmarks.

    Outputs: ``dense_5`` [4] box regression, ``dense_6`` [10] landmarks (x1..x5 then y1..y5, as
    fractions of the crop in the frame's axes), ``softmax_2`` [2]. Landmarks go to
    ``points["landmarks"]`` ``(1, 5, 2)``: left eye, right eye, nose, left and right mouth corner
    (as seen in the picture). The box is not squared (MTCNN's last stage does not).
    """
    p = _rows(outputs, "softmax_2", 2, count, "mtcnn-output")[:, 1]
    kept = p > _threshold(params, DEFAULT_THRESHOLDS[2])
    regression = _rows(outputs, "dense_5", 4, count, "mtcnn-output")[kept]
    marks = _rows(outputs, "dense_6", 10, count, "mtcnn-output")[kept]
    # frame x = crop x1 + w·lx runs along the network's y axis, frame y along its x axis
    landmarks = np.stack([marks[:, 5:] * network.width, marks[:, :5] * network.height], axis=2).astype(np.float32)
    return _per_row(kept, _refined_box(regression, network), p[kept], landmarks)


parse_refine = _one_sample(parse_refine_batch)
parse_output = _one_sample(parse_output_batch)


# ================================================================================================================
# Crop functions
# ================================================================================================================


def _boxes(objects: Sequence[ObjectMeta]) -> np.ndarray:
    return np.array([(o.left, o.top, o.width, o.height) for o in objects], np.float64).reshape(-1, 4)


def crop_transposed(objects: Sequence[ObjectMeta], frames: Sequence[Frame], network: NetworkInfo) -> np.ndarray:
    """``mtcnn-transposed``: each object's box, squared, with corners tl, bl, br, tr: a W↔H transposed crop.

    The network's top-right corner gets the box's bottom-left, so the network sees the face with
    rows and columns swapped, as MTCNN's networks expect. The box is squared about its centre first
    (MTCNN always crops squares; a face box cut at the frame edge would otherwise be stretched), and
    the part of the square outside the frame is black, as MTCNN's zero padding.
    """
    left, top, width, height = _boxes(objects).T
    x1, y1, x2, y2 = square_boxes(left, top, left + width, top + height)
    return np.stack([np.stack([x1, y1], 1), np.stack([x1, y2], 1), np.stack([x2, y2], 1), np.stack([x2, y1], 1)], 1)


def chip_points(width: int, height: int) -> np.ndarray:
    """:data:`FACE_TEMPLATE` in pixels of a ``width`` × ``height`` chip with dlib's 0.2 padding."""
    return (FACE_TEMPLATE + CHIP_PADDING) / (1 + 2 * CHIP_PADDING) * np.array([width, height], np.float64)


def fit_similarity(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares similarity transforms (rotation, uniform scale, shift; no reflection) ``source → target``.

    ``source`` is ``(n, K, 2)`` (one point set per face), ``target`` ``(K, 2)`` or ``(n, K, 2)``. The
    fit is closed-form: with both sets centred, ``x' = a·x − b·y``, ``y' = b·x + a·y`` where
    ``a = Σ(x·x' + y·y') / Σ(x² + y²)`` and ``b = Σ(x·y' − y·x') / Σ(x² + y²)``. Returns ``a``, ``b``
    ``(n,)`` and the shifts ``(n, 2)``; ``a = b = 0`` where the source points coincide.
    """
    source = np.asarray(source, np.float64)
    target = np.broadcast_to(np.asarray(target, np.float64), source.shape)
    source_mean, target_mean = source.mean(axis=1), target.mean(axis=1)
    p, q = source - source_mean[:, None], target - target_mean[:, None]
    spread = (p**2).sum(axis=(1, 2))
    safe = np.where(spread > 0, spread, 1.0)
    a = np.where(spread > 0, (p * q).sum(axis=(1, 2)) / safe, 0.0)
    b = np.where(spread > 0, (p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0]).sum(axis=1) / safe, 0.0)
    shift = target_mean - np.stack([a * source_mean[:, 0] - b * source_mean[:, 1],
                                    b * source_mean[:, 0] + a * source_mean[:, 1]], axis=1)  # fmt: skip
    return a, b, shift


def align_quads(landmarks: np.ndarray, network: NetworkInfo) -> tuple[np.ndarray, np.ndarray]:
    """The frame quads (tl, tr, br, bl) that warp onto a network-sized chip aligned on ``landmarks``.

    ``landmarks`` ``(n, 5, 2)`` frame pixels. Returns ``(n, 4, 2)`` quads and a mask of the faces
    whose landmarks allow a fit (the rest of the quads are NaN).
    """
    w, h = network.width, network.height
    a, b, shift = fit_similarity(landmarks, chip_points(w, h))
    norm = a**2 + b**2
    ok = norm > 0
    # chip → frame: p = M⁻¹·(q − shift), with M = [[a, −b], [b, a]] and M⁻¹ = [[a, b], [−b, a]] / (a² + b²)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64) - shift[:, None]
    inverse_a, inverse_b = (np.where(ok, c / np.where(ok, norm, 1.0), np.nan)[:, None] for c in (a, b))
    x = inverse_a * corners[..., 0] + inverse_b * corners[..., 1]
    y = -inverse_b * corners[..., 0] + inverse_a * corners[..., 1]
    return np.stack([x, y], axis=-1), ok


def crop_face_5_point(objects: Sequence[ObjectMeta], frames: Sequence[Frame], network: NetworkInfo) -> np.ndarray:
    """``face-5-point``: dlib-style aligned face chips from each object's ``extra["landmarks"]`` (5 × x, y).

    The similarity transform that best maps the five landmarks onto dlib's mean face (padding 0.2)
    is fitted for all faces at once; the quad returned is what lands on the chip's corners. An
    object without five usable landmarks is cropped by its box.
    """
    quads = np.zeros((len(objects), 4, 2))
    landmarks = [np.asarray(to_numpy(o.extra.get("landmarks", ())), np.float64).reshape(-1) for o in objects]
    marked = np.array([len(points) == 10 for points in landmarks], bool)
    if marked.any():
        points = np.stack([p for p, m in zip(landmarks, marked, strict=True) if m]).reshape(-1, 5, 2)
        aligned, ok = align_quads(points, network)
        index = np.flatnonzero(marked)
        quads[index[ok]] = aligned[ok]
        marked[index[~ok]] = False
    if not marked.all():
        left, top, width, height = _boxes(objects)[~marked].T
        right, bottom = left + width, top + height
        quads[~marked] = np.stack([np.stack(c, 1) for c in ((left, top), (right, top), (right, bottom),
                                                           (left, bottom))], 1)  # fmt: skip
    return quads


# ================================================================================================================
# Age as the expectation of a classifier over ages
# ================================================================================================================


@dataclass(frozen=True)
class AgeExpectation:
    """``age-expectation``: one attribute whose value is ``Σ p·value`` over the classes of one output.

    ``values`` are the classes' values (for dlib's age model 0.25, 1, 2 … 80 years); per stage they
    come from the one line of ``labelfile-path`` (:meth:`for_stage`); unbound, class ``i`` is worth
    ``i``. The attribute's label is the expectation rounded to a whole number and its ``class_id``
    the class whose value is nearest to it. Its ``confidence`` is the largest class probability, how
    sure the model is of any one value; as for nvinfer's softmax parser, the attribute is given only
    when that is above ``classifier-threshold``. (The probability of the nearest class itself would be
    misleading: an expectation between two likely ages can fall on an unlikely one.)
    """

    values: tuple[float, ...] | None = None
    name: str = "age"

    def for_stage(self, config: InferConfig) -> AgeExpectation:
        path = config["labelfile-path"]
        if not path:
            needs = "age-expectation needs a label file: one line of the classes' values, e.g. '0.25;1;2;…'"
            raise config.error("labelfile-path", needs)
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
        try:
            values = tuple(float(v) for v in lines[0].split(";")) if len(lines) == 1 else ()
        except ValueError:
            values = ()
        if not values:
            raise config.error("labelfile-path", f"{path}: age-expectation expects one line of ';'-separated numbers")
        return AgeExpectation(values, config["classifier-type"] or self.name)

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
    ) -> list[Attribute]:
        probabilities = np.asarray(to_numpy(outputs[0].data), np.float64).reshape(-1)
        values = np.arange(len(probabilities), dtype=np.float64) if self.values is None else np.array(self.values)
        if len(values) != len(probabilities):
            msg = f"parser age-expectation: {len(values)} class values for an output of {len(probabilities)} classes"
            raise ValueError(msg)
        expected = float(probabilities @ values / max(probabilities.sum(), 1e-12))
        nearest = int(np.argmin(np.abs(values - expected)))
        confidence = float(probabilities.max(initial=0.0))
        if not confidence > threshold:
            return []
        return [Attribute(f"{expected:.0f}", class_id=nearest, confidence=confidence, name=self.name)]


# ================================================================================================================
# Registration
# ================================================================================================================


@hookimpl
def dsflow_register_engine_creators() -> dict[str, Callable[..., Any]]:
    return {"mtcnn-pyramid": create_pyramid_engine}


@hookimpl
def dsflow_register_bbox_parsers() -> dict[str, Callable[..., Any]]:
    return {"mtcnn-proposals": parse_proposals, "mtcnn-refine": parse_refine, "mtcnn-output": parse_output}


@hookimpl
def dsflow_register_classifier_parsers() -> dict[str, Callable[..., Any]]:
    return {"age-expectation": AgeExpectation()}


@hookimpl
def dsflow_register_crop_functions() -> dict[str, Callable[..., Any]]:
    return {"mtcnn-transposed": crop_transposed, "face-5-point": crop_face_5_point}
