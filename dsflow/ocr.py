"""Built-in OCR plugin: PaddleOCR's text detector, text-line crops and CTC recogniser as dsflow parts.

Three registered functions turn PP-OCR models (the ``zoo:pp-ocr-*`` catalogue entries) into a
primary detector → secondary recogniser pipeline (``graphs/ocr.yaml``, docs/how-to-ocr.md):

=========================  ==============================================================================
``dbnet`` (bbox parser)    DB post-processing of the detector's probability map: connected text regions,
                           a rotated rectangle each, scored, grown ("unclip") and returned with their
                           corners as ``points["quad"]``.
``text-line`` (crop)       The quad of each detected line, ordered so the recogniser sees the line
                           upright: tall crops turned 90°, lines classified ``180`` turned over.
``ctc-greedy`` (classifier) Greedy CTC decode of the recogniser's ``(T, C)`` softmax into text, with the
                           character table from the model's metadata or ``labelfile-path``.
=========================  ==============================================================================

Everything is vectorized over regions, objects and time steps: per sample the detector parser makes
three OpenCV calls (labelling, pixel listing, erosion) and NumPy does the rest; the recogniser's
parser decodes a whole batch at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dsflow.frame import Attribute, Frame, ObjectMeta
from dsflow.infer.parsers._common import host
from dsflow.model import DetectionParams, Detections, Layer, NetworkInfo
from dsflow.plugins import hookimpl

if TYPE_CHECKING:
    from dsflow.infer.config import InferConfig

# -- DB text detector ----------------------------------------------------------------------------------------------

UNCLIP_RATIO = 1.6
"""How far a region grows back: by ``area · ratio / perimeter`` on every side (PaddleOCR's ``unclip_ratio``).
The detector is trained on text shrunk by that much, so the grown rectangle covers the glyphs."""
MIN_SIDE = 3.0
"""Regions whose short side (between pixel centres) is below this are noise (PaddleOCR's ``min_size``)."""
MIN_SIDE_UNCLIPPED = MIN_SIDE + 2
"""The same check after unclipping, as PaddleOCR does it."""
MAX_CANDIDATES = 1000
"""At most this many regions per sample, the best scored first (PaddleOCR's ``max_candidates``)."""


def parse_dbnet(
    outputs: Sequence[Layer], network: NetworkInfo, params: DetectionParams, *, xp: Any = np, stream: Any = None
) -> Detections:
    """Text lines from a DB probability map ``(1, H, W)``: class 0, confidence = the region's score.

    The two DB thresholds come from the stage's class attributes, so a config sets them as usual:
    ``pre-cluster-threshold`` binarizes the map (a pixel is text when ``p > threshold``; PaddleOCR's
    ``thresh``, 0.3) and ``post-cluster-threshold`` drops regions whose mean probability is lower (its
    ``box_thresh``, 0.5). dsflow applies the pre-cluster threshold to the confidences again; that
    changes nothing, since a region's pixels all exceed it and so does their mean. Boxes are the
    axis-aligned bounds of the quads, in network-input pixels; ``points["quad"]`` holds the corners.
    """
    if len(outputs) != 1 or len(outputs[0].dims) not in (2, 3):
        dims = [layer.dims for layer in outputs]
        msg = f"parser dbnet: expected one probability map (1, H, W), got outputs with dims {dims}"
        raise ValueError(msg)
    if params.num_classes == 0:
        return Detections.empty()  # num-detected-classes=0 drops everything anyway
    prob = host(outputs[0].data)
    prob = prob.reshape(prob.shape[-2:])
    threshold, box_threshold = float(params.pre_cluster_threshold[0]), float(params.post_cluster_threshold[0])
    quads, scores = db_text_regions(prob, threshold, box_threshold)
    quads *= np.float32([network.width / prob.shape[1], network.height / prob.shape[0]])  # a smaller map scales up
    low, high = quads.min(axis=1), quads.max(axis=1)
    return Detections.from_corners(
        low[:, 0], low[:, 1], high[:, 0], high[:, 1], scores, np.zeros(len(scores), np.int32), points={"quad": quads}
    )


def db_text_regions(
    prob: np.ndarray, threshold: float = 0.3, box_threshold: float = 0.5, unclip_ratio: float = UNCLIP_RATIO
) -> tuple[np.ndarray, np.ndarray]:
    """Rotated text rectangles in a probability map: ``(N, 4, 2)`` float32 corners tl, tr, br, bl and scores.

    PaddleOCR traces each region's contour and fits ``cv2.minAreaRect``, one Python iteration per
    region. Here one labelling pass finds the regions and NumPy does the rest for all of them at
    once. The score is the mean probability over the region's pixels (PaddleOCR's
    ``score_mode="slow"``, which averages inside the contour). The rectangle is fitted to the
    region's edge pixels (those with a neighbour outside it, the only ones that can be extreme):
    its orientation is their principal axis (second moments; for a text line the rectangle of
    least area lies along it to within a degree), its extent the min and max of their coordinates
    along that axis and across it. Corners are in map pixels, clipped to the map, in reading order
    (top to bottom, then left to right, by centre).
    """
    bitmap = (prob > threshold).view(np.uint8)
    count, region, xs, ys, scores = _scored_regions(prob, bitmap)
    keep = np.zeros(count, bool)  # by label; 0 is the background
    keep[1 + _best(scores, box_threshold)] = True
    edge = _on_edge(bitmap, xs, ys) & keep[region]
    ids, centres, axis, along, across = _rectangles(region[edge], xs[edge], ys[edge], count)
    grow = along * across * unclip_ratio / np.maximum(2 * (along + across), 1e-9)  # the unclip offset
    short = np.minimum(along, across)
    big = (short >= MIN_SIDE) & (short + 2 * grow >= MIN_SIDE_UNCLIPPED)
    half_along, half_across = along[big] / 2 + grow[big], across[big] / 2 + grow[big]
    quads = _upright_corners(centres[big], axis[big], half_along, half_across).clip(0, [prob.shape[1], prob.shape[0]])
    reading = np.lexsort((centres[big, 0], centres[big, 1]))
    return quads[reading].astype(np.float32), scores[ids[big] - 1][reading].astype(np.float32)


def _scored_regions(prob: np.ndarray, bitmap: np.ndarray) -> tuple[Any, ...]:
    """Connected text regions: label count, per text pixel its label (1…) and x, y; per region its mean probability."""
    import cv2

    count, labels = cv2.connectedComponents(bitmap, connectivity=8, ltype=cv2.CV_32S)
    xs, ys = _nonzero(bitmap)
    flat = ys * bitmap.shape[1] + xs
    region = labels.reshape(-1).take(flat)
    sums = np.bincount(region, prob.reshape(-1).take(flat), count)
    scores = sums[1:] / np.maximum(np.bincount(region, minlength=count)[1:], 1)
    return count, region, xs, ys, scores


def _on_edge(bitmap: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Which of the text pixels at ``xs, ys`` have a neighbour outside their region or the map.

    Only those can be corners of a region's convex hull, so they alone decide its rectangle.
    """
    import cv2

    inner = cv2.erode(bitmap, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return inner.reshape(-1).take(ys * bitmap.shape[1] + xs) == 0


def _rectangles(region: np.ndarray, xs: np.ndarray, ys: np.ndarray, count: int) -> tuple[np.ndarray, ...]:
    """Per region present: its label, centre ``(n, 2)``, unit main axis ``(n, 2)`` and side lengths along and across.

    Sides are measured between pixel centres, as ``cv2.minAreaRect`` measures them on a contour.
    """
    xs, ys = xs.astype(np.float64), ys.astype(np.float64)
    axis = _principal_axes(region, xs, ys, count)
    ids, (lo_a, hi_a, lo_b, hi_b) = _extents(region, xs, ys, axis)
    axis = axis[ids]
    mid_a, mid_b = (lo_a + hi_a) / 2, (lo_b + hi_b) / 2
    centres = np.stack([mid_a * axis[:, 0] - mid_b * axis[:, 1], mid_a * axis[:, 1] + mid_b * axis[:, 0]], axis=1)
    return ids, centres, axis, hi_a - lo_a, hi_b - lo_b


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y (int32) of the non-zero pixels of a uint8 mask, in raster order (OpenCV's is 3x NumPy's speed)."""
    import cv2

    points = cv2.findNonZero(mask)
    if points is None:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    points = points.reshape(-1, 2)
    return points[:, 0], points[:, 1]


def _best(scores: np.ndarray, box_threshold: float) -> np.ndarray:
    """Indices of the regions scoring at least ``box_threshold``, at most :data:`MAX_CANDIDATES` of the best."""
    candidates = np.flatnonzero(scores >= box_threshold)
    return candidates[np.argsort(-scores[candidates], kind="stable")[:MAX_CANDIDATES]]


def _principal_axes(region: np.ndarray, xs: np.ndarray, ys: np.ndarray, n: int) -> np.ndarray:
    """Per label (``n`` of them), the unit direction ``(n, 2)`` along which its points spread most."""
    count = np.maximum(np.bincount(region, minlength=n), 1)
    mean_x, mean_y = np.bincount(region, xs, n) / count, np.bincount(region, ys, n) / count
    dx, dy = xs - mean_x[region], ys - mean_y[region]  # centred first: raw second moments lose precision
    cxx, cyy, cxy = (np.bincount(region, w, n) for w in (dx * dx, dy * dy, dx * dy))
    angle = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _extents(region: np.ndarray, xs: np.ndarray, ys: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, tuple]:
    """The labels present and, per label, min and max of its points' coordinates along and across its axis."""
    # Group the points by label (a stable radix sort when labels fit 16 bits), then reduce each group.
    order = np.argsort(region.astype(np.uint16) if len(axis) <= 1 << 16 else region, kind="stable")
    region, xs, ys = region[order], xs[order], ys[order]
    starts = np.flatnonzero(np.diff(region, prepend=-1))
    cos, sin = axis[region, 0], axis[region, 1]
    along, across = xs * cos + ys * sin, ys * cos - xs * sin
    reduce = (np.minimum.reduceat, np.maximum.reduceat)
    extents = tuple(f(values, starts) if len(starts) else values[:0] for values in (along, across) for f in reduce)
    return region[starts], extents


def _upright_corners(
    centres: np.ndarray, axis: np.ndarray, half_along: np.ndarray, half_across: np.ndarray
) -> np.ndarray:
    """Corners tl, tr, br, bl ``(n, 4, 2)`` of rectangles given by centre, main axis and half sides.

    The tl → tr edge is whichever side is closer to horizontal, pointing right (as PaddleOCR orders
    the points of its boxes): a vertical line gives a tall quad, which ``text-line`` turns.
    """
    swap = np.abs(axis[:, 0]) < np.abs(axis[:, 1])
    u = np.where(swap[:, None], np.stack([-axis[:, 1], axis[:, 0]], axis=1), axis)
    u *= np.where(u[:, 0] < 0, -1.0, 1.0)[:, None]
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)  # u turned 90° clockwise on screen: points down
    half_u = np.where(swap, half_across, half_along)[:, None, None]
    half_v = np.where(swap, half_along, half_across)[:, None, None]
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)  # tl, tr, br, bl in (u, v)
    return centres[:, None] + signs[:, :1] * half_u * u[:, None] + signs[:, 1:] * half_v * v[:, None]


# -- text-line crops -----------------------------------------------------------------------------------------------

TALL = 1.5
"""A crop at least this many times taller than wide is a vertical line: turned 90° (as PaddleOCR does)."""
DIRECTION_ATTRIBUTE = "text-direction"
"""``classifier-type`` of the optional direction classifier; its label ``180`` turns the crop over."""


def crop_text_lines(objects: Sequence[ObjectMeta], frames: Sequence[Frame], network: NetworkInfo) -> np.ndarray:
    """The frame-pixel corners ``(n, 4, 2)`` to warp onto each object's input tl, tr, br, bl.

    From the object's ``quad`` (set by ``dbnet``), or its box when it has none. Both turns are cyclic
    shifts of the corners, so they add up: a tall crop starts one corner later (turned 90°
    counter-clockwise, like ``np.rot90``), one whose ``text-direction`` is ``180`` two corners later.
    """
    quads = np.array([_quad_of(obj) for obj in objects], np.float64).reshape(-1, 4, 2)
    wide = np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1)
    tall = np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
    turned = np.array([_turned_over(obj) for obj in objects], bool)
    shift = (tall >= TALL * wide).astype(np.int64) + 2 * turned
    corners = (np.arange(4)[None, :] + shift[:, None]) % 4
    return np.take_along_axis(quads, corners[:, :, None], axis=1)


def _quad_of(obj: ObjectMeta) -> Any:
    quad = obj.extra.get("quad")
    if quad is not None:
        return quad
    x0, y0, x1, y1 = obj.left, obj.top, obj.left + obj.width, obj.top + obj.height
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _turned_over(obj: ObjectMeta) -> bool:
    return any(a.name == DIRECTION_ATTRIBUTE and a.label == "180" for a in obj.attributes)


# -- CTC recogniser ------------------------------------------------------------------------------------------------

BLANK = "<blank>"


class CtcGreedyDecoder:
    """Classifier parser: the text of a ``(T, C)`` CTC output, as one ``text`` attribute.

    The most probable class of every time step, repeats collapsed, blanks (class 0) dropped, each class
    mapped through ``table``. Confidence is the mean probability of the kept steps; text whose
    confidence is not above ``classifier-threshold``, and empty text, gives no attribute. dsflow calls
    :meth:`parse_batch` once per batch; calling the decoder parses one sample.
    """

    def __init__(self, table: Sequence[str], source: str = "the character table", hint: str = "") -> None:
        self.table = np.array(list(table), dtype=object)
        self.source, self.hint = source, hint
        self._checked = False

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
    ) -> list[Attribute]:
        probs = host(outputs[0].data)
        (attributes,) = self.parse_batch([Layer(outputs[0].name, probs[None])], 1, network, threshold)
        return attributes

    def parse_batch(
        self, outputs: Sequence[Layer], count: int, network: NetworkInfo, threshold: float, *, xp: Any = np,
        stream: Any = None,
    ) -> list[list[Attribute]]:  # fmt: skip
        """The attributes of each of the ``count`` rows of the batch-first output ``(N, T, C)``."""
        probs = host(outputs[0].data)[:count]
        probs = probs.reshape(count, -1, probs.shape[-1])
        if not self._checked:
            self._check(probs.shape[-1])
        texts, confidences = ctc_greedy_decode_batch(probs, self.table)
        return [
            [Attribute(text, class_id=0, confidence=confidence, name="text")] if text and confidence > threshold else []
            for text, confidence in zip(texts, confidences.tolist(), strict=True)
        ]

    def _check(self, classes: int) -> None:
        if classes != len(self.table):
            msg = (
                f"parser ctc-greedy: the model outputs {classes} classes per step, but {self.source} gives "
                f"{len(self.table)} (blank + {len(self.table) - 2} characters + space){self.hint}"
            )
            raise ValueError(msg)
        self._checked = True


def ctc_greedy_decode_batch(probs: np.ndarray, table: np.ndarray) -> tuple[list[str], np.ndarray]:
    """``(N, T, C)`` per-step class probabilities → N texts and the mean probability of each one's kept steps."""
    best = probs.argmax(axis=2)
    top = np.take_along_axis(probs, best[..., None], axis=2)[..., 0]
    keep = best != 0  # not blank, and not the class of the step before
    keep[:, 1:] &= np.diff(best, axis=1) != 0
    kept = keep.sum(axis=1)
    rows = np.repeat(np.arange(len(best)), kept)
    confidences = np.bincount(rows, top[keep], len(best)) / np.maximum(kept, 1)
    characters = np.split(table[best[keep]], np.cumsum(kept)[:-1])
    return ["".join(row.tolist()) for row in characters], confidences


def ctc_greedy_decode(probs: np.ndarray, table: np.ndarray) -> tuple[str, float]:
    """``(T, C)`` per-step class probabilities → (text, mean probability of the kept steps; 0 for no text)."""
    (text,), (confidence,) = ctc_greedy_decode_batch(probs[None], table)
    return text, float(confidence)


def ctc_table_for_stage(config: InferConfig) -> CtcGreedyDecoder:
    """The decoder of one stage: characters from ``labelfile-path`` (one per line), else the model's metadata."""
    path = config["labelfile-path"]
    if path:
        try:
            with open(path, encoding="utf-8", newline="") as f:
                text = f.read()
            # One character per line, as PaddleOCR reads them: split on "\n" only (str.splitlines would also
            # split on characters such as U+2028 that a dictionary may hold); drop a Windows "\r".
            chars = [line.removesuffix("\r") for line in text.removesuffix("\n").split("\n")] if text else []
        except OSError as exc:
            raise config.error("labelfile-path", f"cannot read the character list ({exc.strerror})") from None
        source, key = f"labelfile-path ({len(chars)} lines)", "labelfile-path"
        hint = ": is the labels file the model's own dictionary, one character per line?"
    else:
        chars = _metadata_characters(config)
        source, key, hint = f"the model's 'character' metadata ({len(chars)} characters)", "onnx-file", ""
    if not chars:
        raise config.error(key, "the character list is empty")
    return CtcGreedyDecoder([BLANK, *chars, " "], source, hint)


def _metadata_characters(config: InferConfig) -> list[str]:
    import onnx

    model_path = config["onnx-file"]
    if not model_path:
        raise config.error("labelfile-path", "ctc-greedy needs a character list: set labelfile-path or onnx-file")
    try:
        model = onnx.load(model_path, load_external_data=False)
    except Exception as exc:  # OSError, or protobuf's DecodeError for a file that is not ONNX
        raise config.error("onnx-file", f"cannot read the model's metadata ({exc})") from None
    table = {p.key: p.value for p in model.metadata_props}.get("character")
    if table is None:
        raise config.error(
            "onnx-file",
            "the model has no 'character' metadata: set labelfile-path to its dictionary (one character per line)",
        )
    return table.split("\n")


def parse_ctc_greedy(
    outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
) -> list[Attribute]:
    """Needs its stage's character table: dsflow calls :attr:`for_stage` when the graph loads."""
    msg = "parser ctc-greedy: called without its stage's character table (for_stage was not applied)"
    raise RuntimeError(msg)


parse_ctc_greedy.for_stage = ctc_table_for_stage  # type: ignore[attr-defined]


# -- registration --------------------------------------------------------------------------------------------------


@hookimpl
def dsflow_register_bbox_parsers() -> dict[str, Any]:
    return {"dbnet": parse_dbnet}


@hookimpl
def dsflow_register_classifier_parsers() -> dict[str, Any]:
    return {"ctc-greedy": parse_ctc_greedy}


@hookimpl
def dsflow_register_crop_functions() -> dict[str, Any]:
    return {"text-line": crop_text_lines}
