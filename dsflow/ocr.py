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

Everything is vectorized over regions, objects and time steps; the only per-sample OpenCV call is
the connected-component labelling of the bitmap.
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
    prob = host(outputs[0].data)
    prob = prob.reshape(prob.shape[-2:])
    quads, scores = db_text_regions(prob, float(params.pre_cluster_threshold[0]), float(params.post_cluster_threshold[0]))
    quads[..., 0] *= network.width / prob.shape[1]  # a map smaller than the input (none of PP-OCR's) scales up
    quads[..., 1] *= network.height / prob.shape[0]
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
    once: each region's orientation comes from its second moments (the principal axis of its
    pixels; for a text line the rectangle of least area lies along it to within a pixel), and its
    extent from the min and max of its pixels' coordinates along that axis and across it. The score
    is the mean probability over the region's pixels (PaddleOCR's ``score_mode="slow"``, which
    averages inside the contour). Corners are in map pixels, clipped to the map, ordered top to bottom.
    """
    import cv2

    height, width = prob.shape
    count, labels = cv2.connectedComponents((prob > threshold).view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    if count <= 1:
        return np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32)
    ys, xs = np.nonzero(labels)
    region = labels[ys, xs] - 1  # background is label 0
    n = count - 1
    pixels = np.bincount(region, minlength=n)
    scores = np.bincount(region, weights=prob[ys, xs], minlength=n) / pixels
    candidates = np.flatnonzero(scores >= box_threshold)
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")[:MAX_CANDIDATES]]
    keep = np.zeros(n, bool)
    keep[candidates] = True
    chosen = keep[region]
    region, xs, ys = region[chosen], xs[chosen].astype(np.float64), ys[chosen].astype(np.float64)
    centre, axis = _principal_axes(region, xs, ys, n)
    # Group the pixels by region (a stable sort keeps raster order inside each) and reduce per group.
    order = np.argsort(region.astype(np.uint16) if n < 1 << 16 else region, kind="stable")
    region, xs, ys = region[order], xs[order], ys[order]
    starts = np.flatnonzero(np.diff(region, prepend=-1))
    ids = region[starts]
    cos, sin = axis[region, 0], axis[region, 1]
    along, across = xs * cos + ys * sin, ys * cos - xs * sin
    lo_a, hi_a = np.minimum.reduceat(along, starts), np.maximum.reduceat(along, starts)
    lo_b, hi_b = np.minimum.reduceat(across, starts), np.maximum.reduceat(across, starts)
    long_side, short_side = hi_a - lo_a, hi_b - lo_b
    grow = long_side * short_side * unclip_ratio / np.maximum(2 * (long_side + short_side), 1e-9)
    ok = (np.minimum(long_side, short_side) >= MIN_SIDE) & (np.minimum(long_side, short_side) + 2 * grow >= MIN_SIDE_UNCLIPPED)
    ids, grow = ids[ok], grow[ok]
    mid_a, mid_b = (lo_a[ok] + hi_a[ok]) / 2, (lo_b[ok] + hi_b[ok]) / 2
    c, s = axis[ids, 0], axis[ids, 1]
    centres = np.stack([mid_a * c - mid_b * s, mid_a * s + mid_b * c], axis=1)
    quads = _upright_corners(centres, axis[ids], long_side[ok] / 2 + grow, short_side[ok] / 2 + grow)
    quads[..., 0] = quads[..., 0].clip(0, width)
    quads[..., 1] = quads[..., 1].clip(0, height)
    reading = np.lexsort((centres[:, 0], centres[:, 1]))
    return quads[reading].astype(np.float32), scores[ids][reading].astype(np.float32)


def _principal_axes(region: np.ndarray, xs: np.ndarray, ys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per region: centroid ``(n, 2)`` and the unit direction of its pixels' largest spread ``(n, 2)``."""
    count = np.maximum(np.bincount(region, minlength=n), 1)
    mx, my = np.bincount(region, xs, n) / count, np.bincount(region, ys, n) / count
    dx, dy = xs - mx[region], ys - my[region]  # centred first: raw second moments lose precision
    cxx, cyy, cxy = (np.bincount(region, w, n) for w in (dx * dx, dy * dy, dx * dy))
    angle = 0.5 * np.arctan2(2 * cxy, cxx - cyy)
    return np.stack([mx, my], axis=1), np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _upright_corners(centres: np.ndarray, axis: np.ndarray, half_along: np.ndarray, half_across: np.ndarray) -> np.ndarray:
    """Corners tl, tr, br, bl of rectangles given by centre, main axis and half sides.

    The tl → tr edge is whichever side is closer to horizontal, pointing right (as PaddleOCR orders
    the points of its boxes): a vertical line then gives a tall quad, which ``text-line`` turns.
    """
    swap = np.abs(axis[:, 0]) < np.abs(axis[:, 1])
    u = np.where(swap[:, None], np.stack([-axis[:, 1], axis[:, 0]], axis=1), axis)
    u *= np.where(u[:, 0] < 0, -1.0, 1.0)[:, None]
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)  # u turned 90° clockwise on screen: points down
    half_u = np.where(swap, half_across, half_along)[:, None]
    half_v = np.where(swap, half_along, half_across)[:, None]
    signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64)  # tl, tr, br, bl in (u, v)
    return centres[:, None, :] + signs[None, :, :1] * (half_u * u)[:, None, :] + signs[None, :, 1:] * (half_v * v)[:, None, :]


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
    """Classifier parser: the text of one ``(T, C)`` CTC output, as one ``text`` attribute.

    The most probable class of every time step, repeats collapsed, blanks (class 0) dropped, each class
    mapped through ``table``. Confidence is the mean probability of the kept steps; text whose
    confidence is not above ``classifier-threshold``, and empty text, gives no attribute.
    """

    def __init__(self, table: Sequence[str], source: str = "the character table", key: str = "") -> None:
        self.table = np.array(list(table), dtype=object)
        self.source, self.key = source, key
        self._checked = False

    def __call__(
        self, outputs: Sequence[Layer], network: NetworkInfo, threshold: float, *, xp: Any = np, stream: Any = None
    ) -> list[Attribute]:
        probs = host(outputs[0].data)
        probs = probs.reshape(-1, probs.shape[-1])
        if not self._checked:
            self._check(probs.shape[-1])
        text, confidence = ctc_greedy_decode(probs, self.table)
        if not text or not confidence > threshold:
            return []
        return [Attribute(text, class_id=0, confidence=confidence, name="text")]

    def _check(self, classes: int) -> None:
        if classes != len(self.table):
            msg = (
                f"parser ctc-greedy: the model outputs {classes} classes per step, but {self.source} gives "
                f"{len(self.table)} (blank + {len(self.table) - 2} characters + space): "
                "is the labels file the model's own dictionary?"
            )
            raise ValueError(msg)
        self._checked = True


def ctc_greedy_decode(probs: np.ndarray, table: np.ndarray) -> tuple[str, float]:
    """``(T, C)`` per-step class probabilities → (text, mean probability of the kept steps)."""
    best = probs.argmax(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    if not keep.any():
        return "", 0.0
    confidence = float(probs[np.flatnonzero(keep), best[keep]].mean())
    return "".join(table[best[keep]].tolist()), confidence


def ctc_table_for_stage(config: InferConfig) -> CtcGreedyDecoder:
    """The decoder of one stage: characters from ``labelfile-path`` (one per line), else the model's metadata."""
    path = config["labelfile-path"]
    if path:
        try:
            with open(path, encoding="utf-8", newline="") as f:
                chars = [line.rstrip("\r\n") for line in f.read().splitlines(keepends=True)]
        except OSError as exc:
            raise config.error("labelfile-path", f"cannot read the character list ({exc.strerror})") from None
        source, key = f"labelfile-path ({len(chars)} lines)", "labelfile-path"
    else:
        chars = _metadata_characters(config)
        source, key = f"the model's 'character' metadata ({len(chars)} characters)", "onnx-file"
    if not chars:
        raise config.error(key, "the character list is empty")
    return CtcGreedyDecoder([BLANK, *chars, " "], source, key)


def _metadata_characters(config: InferConfig) -> list[str]:
    import onnx

    model_path = config["onnx-file"]
    if not model_path:
        raise config.error("labelfile-path", "ctc-greedy needs a character list: set labelfile-path or onnx-file")
    try:
        model = onnx.load(model_path, load_external_data=False)
    except (OSError, onnx.onnx_cpp2py_export.checker.ValidationError, Exception) as exc:  # noqa: BLE001
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
