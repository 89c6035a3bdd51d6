"""Detector clustering (cluster-mode 0…4) and the per-object filters nvinfer applies before attaching metadata.

Everything runs on :class:`~dsflow.model.Detections` columns. Work is vectorized over boxes: the only Python
loops are over classes, over blocks of a sorted list, and over small fixpoint iterations. Box arithmetic that
decides a comparison (IoU, thresholds) is done in float32, as libnvds_infer does it in C ``float``, so results at
exact thresholds agree with DeepStream.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dsflow.model import Detections

__all__ = ["ClassAttrs", "ClusterMode", "apply_object_filters", "cluster", "nms_keep"]

_NMS_BLOCK = 256
"""Boxes resolved together by NMS: bounds memory to (kept × block) and the fixpoint to ``block`` rounds."""

_GROUP_RECT_CONFIDENCE = np.float32(-0.1)
"""nvinfer reports no score for groupRectangles output."""

_INT_MIN, _INT_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max


@dataclass(frozen=True)
class ClassAttrs:
    """One class's clustering and filter parameters (``[class-attrs-*]``).

    The first eight fields are nvinfer's ``NvDsInferDetectionParams``; the rest are the meta-attach filters and
    OSD colours of the same config group.
    """

    pre_cluster_threshold: float = 0.2
    post_cluster_threshold: float = 0.0
    eps: float = 0.0
    group_threshold: int = 0
    min_boxes: int = 0
    dbscan_min_score: float = 0.0
    nms_iou_threshold: float = 0.3
    topk: int = -1
    """Objects kept per class after clustering; −1 keeps all."""
    roi_top_offset: int = 0
    roi_bottom_offset: int = 0
    detected_min_w: int = 0
    detected_min_h: int = 0
    detected_max_w: int = 0
    detected_max_h: int = 0
    border_color: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 1.0)
    bg_color: tuple[float, float, float, float] | None = None


class ClusterMode(enum.IntEnum):
    """``cluster-mode`` values."""

    GROUP_RECTANGLES = 0
    DBSCAN = 1
    NMS = 2
    DBSCAN_NMS_HYBRID = 3
    NONE = 4


def _column(attrs: Sequence[ClassAttrs], name: str, dtype: Any) -> np.ndarray:
    """One attribute of every class as an array indexed by class id."""
    return np.array([getattr(a, name) for a in attrs], dtype=dtype)


def _class_slices(class_id: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices grouped by class (input order within a class) and each class's bounds in that list."""
    order = np.argsort(class_id, kind="stable")
    bounds = np.searchsorted(class_id[order], np.arange(num_classes + 1), side="left")
    return order, bounds


# ----------------------------------------------------------------------------------------------------------------
# IoU and NMS


def _overlap_1d(a_min: np.ndarray, a_max: np.ndarray, b_min: np.ndarray, b_max: np.ndarray) -> np.ndarray:
    """Overlap of two spans the way nvinfer measures it.

    The span that starts first (the first argument on a tie) decides: if it ends before the other starts the
    overlap is 0, otherwise it is ``min(ends) - later start``. Kept literal so odd inputs (negative sizes)
    behave as in DeepStream.
    """
    first_max = np.where(a_min <= b_min, a_max, b_max)
    second_min = np.maximum(a_min, b_min)
    return np.where(first_max < second_min, np.float32(0), np.minimum(a_max, b_max) - second_min)


def _iou(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
    """Broadcast float32 IoU of boxes given as (left, top, right, bottom, width, height).

    inter / (area1 + area2 − inter), no +1 on sizes, 0 when the union is 0.
    """
    l1, t1, r1, b1, w1, h1 = a
    l2, t2, r2, b2, w2, h2 = b
    inter = _overlap_1d(l1, r1, l2, r2) * _overlap_1d(t1, b1, t2, b2)
    union = w1 * h1 + w2 * h2 - inter
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        iou = inter / union
    return np.where(union == 0, np.float32(0), iou)


@dataclass(slots=True)
class _Boxes:
    """Float32 box columns with right/bottom precomputed once (``left + width`` as nvinfer adds them)."""

    left: np.ndarray
    top: np.ndarray
    right: np.ndarray
    bottom: np.ndarray
    width: np.ndarray
    height: np.ndarray

    @classmethod
    def of(cls, left: Any, top: Any, width: Any, height: Any) -> _Boxes:
        left, top = np.asarray(left, np.float32).reshape(-1), np.asarray(top, np.float32).reshape(-1)
        width, height = np.asarray(width, np.float32).reshape(-1), np.asarray(height, np.float32).reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            return cls(left, top, left + width, top + height, width, height)

    def take(self, index: Any) -> _Boxes:
        return _Boxes(*(getattr(self, f)[index] for f in self.__slots__))

    def iou_pairs(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """IoU of box ``i[k]`` with box ``j[k]`` for every k."""
        with np.errstate(over="ignore", invalid="ignore"):
            return _iou([getattr(self, f)[i] for f in self.__slots__], [getattr(self, f)[j] for f in self.__slots__])

    def iou(self, rows: Any, cols: Any) -> np.ndarray:
        """IoU matrix between the boxes at ``rows`` and those at ``cols``."""
        a = [getattr(self, f)[rows][:, None] for f in self.__slots__]
        b = [getattr(self, f)[cols][None, :] for f in self.__slots__]
        with np.errstate(over="ignore", invalid="ignore"):
            return _iou(a, b)


def _settle(candidate: np.ndarray, suppresses: np.ndarray) -> np.ndarray:
    """Greedy NMS inside one block, as a fixpoint.

    ``suppresses[i, j]`` (only for i < j, i.e. i scores higher) says box i removes box j if i is kept. Box j is
    kept when it is a candidate and no kept earlier box suppresses it. Because the relation only points
    forward, the equation has exactly one solution (the greedy result) and Jacobi iteration reaches it: after
    round k the first k boxes are final. Real detections settle in a few rounds; the bound is the block size.
    """
    keep = candidate
    for _ in range(len(candidate) + 1):
        new = candidate & ~suppresses[keep].any(axis=0)
        if np.array_equal(new, keep):
            break
        keep = new
    return keep


def nms_keep(
    left: Any, top: Any, width: Any, height: Any, confidence: Any, class_id: Any, iou_threshold: Any
) -> np.ndarray:
    """Indices of the boxes per-class greedy NMS keeps, ordered by class, then confidence descending (stable).

    This is nvinfer's NMS exactly: within a class, boxes are visited in stable descending-confidence order and
    one is kept when its IoU with every box already kept is ``<= iou_threshold`` (threshold of the box's row;
    a scalar applies to all). Boxes of different classes never suppress each other.

    All classes are processed together, sorted by (class, −confidence), in blocks of ``_NMS_BLOCK`` boxes:
    a block's candidates are first checked against the boxes already kept of the same classes (one
    vectorized kept × block IoU), then the block is resolved by :func:`_settle`. This gives the same answer
    as the sequential loop, never builds an n × n matrix (memory stays kept × block for any n, so large
    classes need no separate slow path), and costs about what the greedy loop's IoU evaluations cost.
    """
    boxes = _Boxes.of(left, top, width, height)
    conf = np.asarray(confidence, np.float32).reshape(-1)
    cls = np.asarray(class_id, np.int64).reshape(-1)
    n = len(cls)
    thr = np.broadcast_to(np.asarray(iou_threshold, np.float32), (n,))
    if n == 0:
        return np.zeros(0, np.intp)
    order = np.lexsort((-conf, cls))
    boxes, cls, thr = boxes.take(order), cls[order], thr[order]
    class_start = np.searchsorted(cls, cls, side="left")

    def suppresses(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        # nvinfer keeps a box when ``iou <= threshold``; anything else (including NaN) suppresses it.
        return ~(boxes.iou(rows, cols) <= thr[cols][None, :]) & (cls[rows][:, None] == cls[cols][None, :])

    kept = np.zeros(0, np.intp)
    for start in range(0, n, _NMS_BLOCK):
        block = np.arange(start, min(start + _NMS_BLOCK, n))
        # Kept boxes of the block's classes: a suffix of ``kept``, since classes are contiguous.
        earlier = kept[np.searchsorted(kept, class_start[start]) :]
        candidate = np.ones(len(block), bool)
        if len(earlier):
            candidate = ~suppresses(earlier, block).any(axis=0)
        within = np.triu(suppresses(block, block), k=1)
        kept = np.concatenate([kept, block[_settle(candidate, within)]])
    return order[kept]


# ----------------------------------------------------------------------------------------------------------------
# Helpers shared by the modes


def _components(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes: the smallest node index in its component.

    ``src``/``dst`` list the edges in both directions. Min-label propagation with pointer jumping over the
    edge list: labels only decrease and stay inside their component, so the loop ends, typically after a
    handful of rounds (at worst about the component's diameter).
    """
    nodes = np.arange(n)
    src, dst = np.concatenate([src, nodes]), np.concatenate([dst, nodes])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    starts = np.searchsorted(src, nodes)
    label = nodes
    for _ in range(n + 1):
        new = np.minimum.reduceat(label[dst], starts)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    return label


def _topk(index: np.ndarray, dets: Detections, topk: np.ndarray) -> np.ndarray:
    """nvinfer's ``filterTopKOutputs`` per class on ``index`` (grouped by class, ascending).

    A class with topk < 0 is left as it is, order included; otherwise it is stable-sorted by descending
    confidence and cut to topk objects.
    """
    if len(index) == 0:
        return index
    cls = dets.class_id[index]
    k = topk[cls]
    key = np.where(k >= 0, -dets.confidence[index].astype(np.float64), 0.0)
    index = index[np.lexsort((key, cls))]
    cls, k = dets.class_id[index], topk[dets.class_id[index]]
    rank = np.arange(len(index)) - np.searchsorted(cls, cls, side="left")
    return index[(k < 0) | (rank < k)]


def _dbscan_labels(boxes: _Boxes, conf: np.ndarray, eps: float, min_boxes: int, min_score: float) -> np.ndarray:
    """dsflow's DBSCAN over one class's boxes: cluster label per box, −1 for noise (see :func:`cluster`).

    Works on the list of neighbour pairs. Boxes are taken in stable descending-confidence order, so a label is
    the sorted position of the highest-confidence core box of its cluster.
    """
    n = len(conf)
    order = np.argsort(-conf, kind="stable")
    b = boxes.take(order)
    eps32 = np.float32(eps)
    if eps32 < 1:
        # A neighbour needs IoU >= 1 − eps > 0, so a non-zero horizontal overlap: prune pairs on that first.
        overlap = _overlap_1d(b.left[:, None], b.right[:, None], b.left[None, :], b.right[None, :])
        i, j = np.nonzero(overlap != 0)
    else:
        i, j = np.divmod(np.arange(n * n), n)
    near = (i != j) & (np.float32(1) - b.iou_pairs(i, j) <= eps32)
    i, j = i[near], j[near]  # still sorted by (i, j)
    weights = conf[order].astype(np.float64)
    # Every box is its own neighbour.
    count = np.bincount(i, minlength=n) + 1
    score = np.bincount(i, weights[j], minlength=n) + weights
    core = (count >= min_boxes) & (score >= min_score)
    label = np.full(n, -1, np.intp)
    if core.any():
        core_index = np.flatnonzero(core)
        position = np.cumsum(core) - 1
        both = core[i] & core[j]
        label[core] = core_index[_components(len(core_index), position[i[both]], position[j[both]])]
        # A border box joins the cluster of its highest-confidence core neighbour: its first such pair.
        bi, bj = i[~core[i] & core[j]], j[~core[i] & core[j]]
        first = np.r_[True, bi[1:] != bi[:-1]] if len(bi) else np.zeros(0, bool)
        label[bi[first]] = label[bj[first]]
    out = np.empty(n, np.intp)
    out[order] = label
    return out


# ----------------------------------------------------------------------------------------------------------------
# The modes


def _mode_nms(
    dets: Detections, rows: np.ndarray, nms_iou: np.ndarray, post: np.ndarray, topk: np.ndarray
) -> np.ndarray:
    """nvinfer's NMS path on ``rows``: NMS, keep ``conf > post``, top-k. Returns indices into ``dets``."""
    cls = dets.class_id[rows]
    boxes = (dets.left[rows], dets.top[rows], dets.width[rows], dets.height[rows])
    keep = rows[nms_keep(*boxes, dets.confidence[rows], cls, nms_iou[cls])]
    keep = keep[dets.confidence[keep] > post[dets.class_id[keep]]]
    return _topk(keep, dets, topk)


def _mode_dbscan(dets: Detections, attrs: Sequence[ClassAttrs], post: np.ndarray, topk: np.ndarray) -> Detections:
    order, bounds = _class_slices(dets.class_id, len(attrs))
    boxes = _Boxes.of(dets.left, dets.top, dets.width, dets.height)
    reps: list[np.ndarray] = []
    columns: list[tuple[np.ndarray, ...]] = []
    for c, a in enumerate(attrs):
        rows = order[bounds[c] : bounds[c + 1]]
        if len(rows) == 0:
            continue
        if a.min_boxes <= 0:
            reps.append(rows)
            columns.append((dets.left[rows], dets.top[rows], dets.width[rows], dets.height[rows]))
            continue
        rows = rows[np.argsort(-dets.confidence[rows], kind="stable")]
        label = _dbscan_labels(boxes.take(rows), dets.confidence[rows], a.eps, a.min_boxes, a.dbscan_min_score)
        member = label >= 0
        rows, label = rows[member], label[member]
        if len(rows) == 0:
            continue
        # ``rows`` is in descending confidence: a cluster's first member is its best one, and clusters are
        # numbered in the order of their best members.
        _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
        cluster_of = np.argsort(np.argsort(first))[inverse.reshape(-1)]
        best = np.sort(first)
        conf = dets.confidence[rows].astype(np.float64)
        count = np.bincount(cluster_of).astype(np.float64)
        weight_sum = np.bincount(cluster_of, conf)
        uniform = weight_sum == 0
        weights = np.where(uniform[cluster_of], 1.0, conf)
        total = np.where(uniform, count, weight_sum)
        left, top, right, bottom = (
            np.bincount(cluster_of, weights * col[rows].astype(np.float64)) / total
            for col in (boxes.left, boxes.top, boxes.right, boxes.bottom)
        )
        reps.append(rows[best])
        columns.append((left, top, right - left, bottom - top))
    if not reps:
        return dets.take(np.zeros(0, np.intp))
    result = dets.take(np.concatenate(reps))
    result.left, result.top, result.width, result.height = (
        np.concatenate([part[i] for part in columns]).astype(np.float32) for i in range(4)
    )
    # nvinfer drops ``conf < post`` here (equal stays), unlike the NMS path.
    keep = np.flatnonzero(~(result.confidence < post[result.class_id]))
    return result.take(_topk(keep, result, topk))


def _mode_hybrid(
    dets: Detections, attrs: Sequence[ClassAttrs], nms_iou: np.ndarray, post: np.ndarray, topk: np.ndarray
) -> Detections:
    order, bounds = _class_slices(dets.class_id, len(attrs))
    boxes = _Boxes.of(dets.left, dets.top, dets.width, dets.height)
    survivors = []
    for c, a in enumerate(attrs):
        rows = order[bounds[c] : bounds[c + 1]]
        if len(rows) and a.min_boxes > 0:
            label = _dbscan_labels(boxes.take(rows), dets.confidence[rows], a.eps, a.min_boxes, a.dbscan_min_score)
            rows = rows[label >= 0]
        survivors.append(rows)
    rows = np.concatenate(survivors) if survivors else np.zeros(0, np.intp)
    return dets.take(_mode_nms(dets, np.sort(rows), nms_iou, post, topk))


def _to_int(values: np.ndarray) -> np.ndarray:
    """C++ float → int conversion (truncation toward zero), clamped to int32 where C would be undefined."""
    values = np.nan_to_num(np.trunc(values.astype(np.float64)), nan=0.0)
    return np.clip(values, _INT_MIN, _INT_MAX).astype(np.int64)


def _group_rectangles(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, group_threshold: int, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cv::groupRectangles`` on integer rects: (cluster of each rect, averaged rects (m, 4), rects kept (m,)).

    Cluster ids are numbered in order of each cluster's first rect, as OpenCV's ``partition`` numbers them,
    and the kept clusters come out in that order.
    """
    n = len(x)
    if eps >= 0:
        # delta(i, j) <= eps * (w_i + h_i) / 2, so this cheap test keeps every similar pair.
        i, j = np.nonzero(np.abs(x[:, None] - x[None, :]) <= (eps * (w + h) * 0.5)[:, None])
    else:
        i, j = np.divmod(np.arange(n * n), n)
    delta = eps * (np.minimum(w[i], w[j]) + np.minimum(h[i], h[j])) * 0.5
    similar = (
        (np.abs(x[i] - x[j]) <= delta)
        & (np.abs(y[i] - y[j]) <= delta)
        & (np.abs(x[i] + w[i] - x[j] - w[j]) <= delta)
        & (np.abs(y[i] + h[i] - y[j] - h[j]) <= delta)
    )
    _, cluster_of, count = np.unique(_components(n, i[similar], j[similar]), return_inverse=True, return_counts=True)
    # OpenCV averages as float: sum * (1.f / n), rounded half-to-even by saturate_cast<int>.
    scale = np.float32(1) / count.astype(np.float32)
    avg = np.stack(
        [np.rint(np.bincount(cluster_of, v.astype(np.float64)).astype(np.float32) * scale) for v in (x, y, w, h)],
        axis=1,
    ).astype(np.int64)
    valid = np.flatnonzero(count > group_threshold)
    # Drop a valid cluster that lies (within eps of the other's size) inside a heavier valid cluster.
    ax, ay, aw, ah = avg[valid].T
    n_valid = count[valid]
    dx = np.rint(aw * eps).astype(np.int64)
    dy = np.rint(ah * eps).astype(np.int64)
    inside = (
        (ax[:, None] >= (ax - dx)[None, :])
        & (ay[:, None] >= (ay - dy)[None, :])
        & ((ax + aw)[:, None] <= (ax + aw + dx)[None, :])
        & ((ay + ah)[:, None] <= (ay + ah + dy)[None, :])
        & ((n_valid[None, :] > np.maximum(3, n_valid)[:, None]) | (n_valid < 3)[:, None])
    )
    np.fill_diagonal(inside, False)
    kept = np.zeros(len(count), bool)
    kept[valid[~inside.any(axis=1)]] = True
    return cluster_of, avg, kept


def _mode_group_rectangles(dets: Detections, attrs: Sequence[ClassAttrs]) -> Detections:
    order, bounds = _class_slices(dets.class_id, len(attrs))
    rects = np.stack([_to_int(dets.left), _to_int(dets.top), _to_int(dets.width), _to_int(dets.height)], axis=1)
    reps, outs = [], []
    for c, a in enumerate(attrs):
        rows = order[bounds[c] : bounds[c + 1]]
        if len(rows) == 0:
            continue
        if a.group_threshold <= 0:
            reps.append(rows)
            outs.append(rects[rows])
            continue
        cluster_of, avg, kept = _group_rectangles(*rects[rows].T, a.group_threshold, a.eps)
        # Other columns come from each cluster's highest-confidence rect (first one on ties).
        by_best = np.lexsort((-dets.confidence[rows], cluster_of))
        best = by_best[np.flatnonzero(np.r_[True, np.diff(cluster_of[by_best]) != 0])]
        reps.append(rows[best[kept]])
        outs.append(avg[kept])
    if not reps:
        return dets.take(np.zeros(0, np.intp))
    result = dets.take(np.concatenate(reps))
    rect = np.concatenate(outs).astype(np.float32)
    result.left, result.top, result.width, result.height = rect.T.copy()
    result.confidence = np.full(len(result), _GROUP_RECT_CONFIDENCE, np.float32)
    return result


def cluster(dets: Detections, mode: ClusterMode | int, attrs: Sequence[ClassAttrs]) -> Detections:
    """Cluster one frame's parsed detections as nvinfer does, class by class.

    First the pre-cluster filter drops objects whose class id is outside ``0 … len(attrs) − 1`` or whose
    confidence is below the class's ``pre_cluster_threshold``. The result lists class 0's objects, then class
    1's, and so on. Per mode:

    * ``NMS``: greedy NMS (:func:`nms_keep`), keep ``conf > post_cluster_threshold``, then ``topk``; objects in
      descending confidence order.
    * ``DBSCAN``: if ``min_boxes > 0``, dsflow's DBSCAN (below) merges each cluster into one object; then
      objects with ``conf < post_cluster_threshold`` are dropped (equal ones stay) and ``topk`` applies.
      Clusters come out in descending confidence; with ``min_boxes == 0`` objects are untouched.
    * ``DBSCAN_NMS_HYBRID``: if ``min_boxes > 0`` the DBSCAN noise boxes are dropped (cluster members are not
      merged), then the NMS path runs.
    * ``GROUP_RECTANGLES``: boxes become integer rects (truncated) and, if ``group_threshold > 0``, go through
      ``cv::groupRectangles(rects, group_threshold, eps)``. Confidence becomes −0.1; no threshold or top-k.
      Output follows OpenCV's order (input order when not grouping).
    * ``NONE``: no clustering; ``topk`` only.

    ``topk`` follows nvinfer's ``filterTopKOutputs``: −1 changes nothing (so DBSCAN without clustering and
    NONE keep the parser's order), K ≥ 0 stable-sorts by descending confidence and keeps K (0 keeps none).

    DBSCAN is closed source in DeepStream (metric, output confidence and its ATHR filter are not
    documented), so dsflow defines it: the distance between two boxes of a class is 1 − IoU; a box's
    neighbourhood is the boxes at distance ≤ ``eps``, itself included; a core box has at least ``min_boxes``
    neighbours whose confidences sum to at least ``dbscan_min_score``; clusters are the connected components
    of core boxes plus border boxes (non-core boxes next to a core box, attached to their highest-confidence
    core neighbour); the rest is noise and is dropped. A cluster becomes the confidence-weighted mean of its
    members' left/top/right/bottom (plain mean if all weights are 0) with the members' highest confidence.
    The ATHR filter is not applied.

    Where objects are merged (DBSCAN, groupRectangles), masks and ``extra`` columns are those of the member
    with the highest confidence (the first one on ties), so they stay aligned with the boxes.
    """
    mode = ClusterMode(mode)
    num_classes = len(attrs)
    cls = dets.class_id
    pre = _column(attrs, "pre_cluster_threshold", np.float32)
    in_range = (cls >= 0) & (cls < num_classes)
    keep = np.flatnonzero(in_range)
    keep = keep[~(dets.confidence[keep] < pre[cls[keep]])]
    dets = dets.take(keep)
    post = _column(attrs, "post_cluster_threshold", np.float32)
    topk = _column(attrs, "topk", np.int64)
    if mode is ClusterMode.NMS:
        nms_iou = _column(attrs, "nms_iou_threshold", np.float32)
        return dets.take(_mode_nms(dets, np.arange(len(dets)), nms_iou, post, topk))
    if mode is ClusterMode.DBSCAN:
        return _mode_dbscan(dets, attrs, post, topk)
    if mode is ClusterMode.DBSCAN_NMS_HYBRID:
        return _mode_hybrid(dets, attrs, _column(attrs, "nms_iou_threshold", np.float32), post, topk)
    if mode is ClusterMode.GROUP_RECTANGLES:
        return _mode_group_rectangles(dets, attrs)
    order, _ = _class_slices(dets.class_id, num_classes)
    return dets.take(_topk(order, dets, topk))


# ----------------------------------------------------------------------------------------------------------------
# Meta-attach filters


def apply_object_filters(
    dets_in_frame_coords: Detections,
    attrs: Sequence[ClassAttrs],
    frame_height: int,
    frame_width: int,
    filter_out_class_ids: Collection[int] = (),
    crop_to_roi: bool = False,
) -> Detections:
    """nvinfer's filters on objects already mapped to frame pixels, in its order.

    1. class in ``filter_out_class_ids`` → dropped; 2. width < ``detected_min_w`` or height <
    ``detected_min_h`` → dropped; 3. a positive ``detected_max_w``/``detected_max_h`` exceeded → dropped;
    4. the class's ROI band: without ``crop_to_roi`` an object with top < ``roi_top_offset`` or top + height >
    H − ``roi_bottom_offset`` is dropped; with it the object is cut instead (top raised to the band, width cut
    at the frame's right edge, height cut at the band's bottom; a height can end up ≤ 0, as in nvinfer).
    Objects whose class id has no attributes are dropped (the pre-cluster filter removes them anyway).
    """
    dets = dets_in_frame_coords
    cls = dets.class_id
    valid = (cls >= 0) & (cls < len(attrs))
    c = np.where(valid, cls, 0)

    def per_object(name: str) -> np.ndarray:
        column = _column(attrs, name, np.float32)
        return column[c] if len(column) else np.zeros(len(c), np.float32)

    width, height, top = dets.width, dets.height, dets.top
    keep = valid & ~np.isin(cls, np.fromiter(filter_out_class_ids, np.int64))
    keep &= ~(width < per_object("detected_min_w")) & ~(height < per_object("detected_min_h"))
    max_w, max_h = per_object("detected_max_w"), per_object("detected_max_h")
    keep &= ~((max_w > 0) & (width > max_w)) & ~((max_h > 0) & (height > max_h))
    roi_top = per_object("roi_top_offset")
    band_bottom = np.float32(frame_height) - per_object("roi_bottom_offset")
    if not crop_to_roi:
        keep &= ~(top < roi_top) & ~(top + height > band_bottom)
        return dets.take(np.flatnonzero(keep))
    index = np.flatnonzero(keep)
    out = dets.take(index)
    roi_top, band_bottom = roi_top[index], band_bottom[index]
    out.top = np.where(out.top < roi_top, roi_top, out.top)
    frame_w = np.float32(frame_width)
    out.width = np.where(out.left + out.width >= frame_w, frame_w - out.left, out.width)
    out.height = np.where(out.top + out.height > band_bottom, band_bottom - out.top, out.height)
    return out
