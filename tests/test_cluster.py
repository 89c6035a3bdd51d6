"""Clustering modes and meta filters against hand-computed results and simple reference loops."""

from __future__ import annotations

import numpy as np
import pytest

from dsflow.infer import cluster as cluster_module
from dsflow.infer.cluster import ClassAttrs, ClusterMode, apply_object_filters, cluster, nms_keep
from dsflow.model import Detections


def make(rows: list[tuple[int, float, float, float, float, float]], **kwargs) -> Detections:
    """Detections from (class, left, top, width, height, confidence) rows."""
    if not rows:
        return Detections.empty()
    cls, left, top, width, height, conf = zip(*rows, strict=True)
    return Detections(cls, left, top, width, height, conf, **kwargs)


def rows_of(dets: Detections) -> list[tuple[int, float, float, float, float, float]]:
    return [
        (int(c), float(x), float(y), float(w), float(h), float(s))
        for c, x, y, w, h, s in zip(
            dets.class_id, dets.left, dets.top, dets.width, dets.height, dets.confidence, strict=True
        )
    ]


def f32(value: float) -> float:
    return float(np.float32(value))


# ----------------------------------------------------------------------------------------------------------------
# Pre-cluster filter and NONE


def test_pre_cluster_filter_drops_unknown_classes_and_low_scores():
    dets = make(
        [
            (-1, 0, 0, 5, 5, 0.9),
            (2, 0, 0, 5, 5, 0.9),
            (0, 0, 0, 5, 5, 0.19),
            (0, 10, 0, 5, 5, 0.2),
            (1, 0, 0, 5, 5, 0.5),
            (1, 20, 0, 5, 5, 0.49),
        ]
    )
    attrs = [ClassAttrs(), ClassAttrs(pre_cluster_threshold=0.5)]
    out = cluster(dets, ClusterMode.NONE, attrs)
    assert rows_of(out) == [(0, 10, 0, 5, 5, f32(0.2)), (1, 0, 0, 5, 5, 0.5)]


def test_none_groups_by_class_keeps_parser_order_and_applies_topk():
    dets = make([(1, 0, 0, 1, 1, 0.3), (0, 1, 0, 1, 1, 0.4), (1, 2, 0, 1, 1, 0.9), (0, 3, 0, 1, 1, 0.8)])
    out = cluster(dets, 4, [ClassAttrs(), ClassAttrs()])
    # topk −1 leaves each class in the order the parser produced it.
    assert out.left.tolist() == [1, 3, 0, 2]
    out = cluster(dets, ClusterMode.NONE, [ClassAttrs(topk=5), ClassAttrs(topk=1)])
    assert out.left.tolist() == [3, 1, 2]
    assert len(cluster(dets, ClusterMode.NONE, [ClassAttrs(topk=0), ClassAttrs(topk=0)])) == 0


def test_invalid_mode_and_empty_input():
    with pytest.raises(ValueError, match="ClusterMode"):
        cluster(Detections.empty(), 7, [ClassAttrs()])
    for mode in ClusterMode:
        assert len(cluster(Detections.empty(), mode, [ClassAttrs(min_boxes=1, group_threshold=1)])) == 0
        assert len(cluster(make([(0, 0, 0, 1, 1, 0.9)]), mode, [])) == 0


# ----------------------------------------------------------------------------------------------------------------
# NMS


def test_nms_suppresses_overlaps_and_sorts_by_confidence():
    dets = make([(0, 50, 50, 10, 10, 0.7), (0, 1, 1, 10, 10, 0.8), (0, 0, 0, 10, 10, 0.9)])
    out = cluster(dets, ClusterMode.NMS, [ClassAttrs(nms_iou_threshold=0.5)])
    # IoU((0,0,10,10), (1,1,10,10)) = 81 / 119 > 0.5.
    assert rows_of(out) == [(0, 0, 0, 10, 10, f32(0.9)), (0, 50, 50, 10, 10, f32(0.7))]


def test_nms_iou_exactly_at_threshold_is_kept():
    dets = make([(0, 0, 0, 10, 10, 0.9), (0, 0, 0, 10, 5, 0.8)])  # IoU = 50 / 100 = 0.5 exactly
    assert len(cluster(dets, ClusterMode.NMS, [ClassAttrs(nms_iou_threshold=0.5)])) == 2
    assert len(cluster(dets, ClusterMode.NMS, [ClassAttrs(nms_iou_threshold=0.49)])) == 1


def test_nms_zero_union_and_touching_boxes_do_not_suppress():
    dets = make([(0, 5, 5, 0, 0, 0.9), (0, 5, 5, 0, 0, 0.8), (0, 0, 0, 10, 10, 0.7), (0, 10, 0, 10, 10, 0.6)])
    out = cluster(dets, ClusterMode.NMS, [ClassAttrs(nms_iou_threshold=0.0)])
    assert out.confidence.tolist() == [f32(0.9), f32(0.8), f32(0.7), f32(0.6)]


def test_nms_ties_keep_input_order():
    # Equal scores: the first in input order wins the overlap and comes out first.
    dets = make([(0, 100, 0, 10, 10, 0.5), (0, 1, 0, 10, 10, 0.5), (0, 0, 0, 10, 10, 0.5), (0, 200, 0, 10, 10, 0.6)])
    out = cluster(dets, ClusterMode.NMS, [ClassAttrs(nms_iou_threshold=0.3)])
    assert out.left.tolist() == [200, 100, 1]


def test_nms_classes_are_independent_and_output_in_class_order():
    dets = make([(1, 0, 0, 10, 10, 0.95), (0, 0, 0, 10, 10, 0.6), (1, 0, 0, 10, 10, 0.9), (0, 0, 0, 10, 10, 0.7)])
    out = cluster(dets, ClusterMode.NMS, [ClassAttrs(), ClassAttrs()])
    assert rows_of(out) == [(0, 0, 0, 10, 10, f32(0.7)), (1, 0, 0, 10, 10, f32(0.95))]


def test_nms_per_class_thresholds():
    box = [(0, 0, 0, 10, 10, 0.9), (0, 0, 0, 10, 5, 0.8), (1, 0, 0, 10, 10, 0.9), (1, 0, 0, 10, 5, 0.8)]
    out = cluster(make(box), ClusterMode.NMS, [ClassAttrs(nms_iou_threshold=0.5), ClassAttrs(nms_iou_threshold=0.4)])
    assert out.class_id.tolist() == [0, 0, 1]


def test_post_cluster_threshold_strict_for_nms_inclusive_for_dbscan():
    dets = make([(0, 0, 0, 10, 10, 0.5), (0, 50, 0, 10, 10, 0.6)])
    attrs = [ClassAttrs(post_cluster_threshold=0.5)]
    assert cluster(dets, ClusterMode.NMS, attrs).left.tolist() == [50]
    assert cluster(dets, ClusterMode.DBSCAN_NMS_HYBRID, attrs).left.tolist() == [50]
    assert cluster(dets, ClusterMode.DBSCAN, attrs).left.tolist() == [0, 50]
    attrs = [ClassAttrs(post_cluster_threshold=0.5, min_boxes=1, eps=0.1)]
    assert cluster(dets, ClusterMode.DBSCAN, attrs).left.tolist() == [50, 0]


def test_topk_zero_keeps_none_minus_one_keeps_all():
    dets = make([(0, 30 * i, 0, 10, 10, 0.3 + 0.1 * i) for i in range(5)])
    assert len(cluster(dets, ClusterMode.NMS, [ClassAttrs(topk=0)])) == 0
    assert len(cluster(dets, ClusterMode.NMS, [ClassAttrs(topk=-1)])) == 5
    assert cluster(dets, ClusterMode.NMS, [ClassAttrs(topk=2)]).left.tolist() == [120, 90]
    assert len(cluster(dets, ClusterMode.DBSCAN, [ClassAttrs(topk=0)])) == 0
    assert cluster(dets, ClusterMode.DBSCAN, [ClassAttrs(topk=2)]).left.tolist() == [120, 90]


def test_nms_keeps_masks_and_extra_aligned():
    dets = make(
        [(0, 0, 0, 10, 10, 0.5), (0, 1, 1, 10, 10, 0.9), (0, 50, 0, 10, 10, 0.7)],
        masks=np.arange(3, dtype=np.float32).reshape(3, 1, 1) * np.ones((3, 2, 2), np.float32),
        extra={"landmarks": np.arange(30, dtype=np.float32).reshape(3, 10)},
    )
    out = cluster(dets, ClusterMode.NMS, [ClassAttrs()])
    assert out.left.tolist() == [1, 50]
    assert out.masks[:, 0, 0].tolist() == [1, 2]
    assert out.extra["landmarks"][:, 0].tolist() == [10, 20]


def test_nms_keep_scalar_threshold_and_order():
    idx = nms_keep([0, 1, 0], [0, 1, 0], [10, 10, 10], [10, 10, 10], [0.1, 0.9, 0.8], [1, 0, 0], 0.5)
    assert idx.tolist() == [1, 0]
    assert nms_keep([], [], [], [], [], [], 0.5).tolist() == []


def _iou32(a: np.ndarray, b: np.ndarray) -> np.float32:
    """Textbook IoU in float32 scalars (equals nvinfer's for non-negative sizes)."""
    ix = max(np.float32(0), min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(np.float32(0), min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return np.float32(0) if union == 0 else inter / union


def _greedy_nms(boxes: np.ndarray, conf: np.ndarray, cls: np.ndarray, thr: np.ndarray, scalar: bool) -> list[int]:
    """nvinfer's loop: per class, stable descending sort, keep a box if IoU with every kept box <= threshold."""
    result: list[int] = []
    for c in np.unique(cls):
        members = np.flatnonzero(cls == c)
        members = members[np.argsort(-conf[members], kind="stable")]
        kept: list[int] = []
        for i in members:
            if scalar:
                ok = all(_iou32(boxes[i], boxes[k]) <= thr[i] for k in kept)
            else:
                k = boxes[kept]
                ix = np.maximum(
                    np.float32(0),
                    np.minimum(boxes[i, 0] + boxes[i, 2], k[:, 0] + k[:, 2]) - np.maximum(boxes[i, 0], k[:, 0]),
                )
                iy = np.maximum(
                    np.float32(0),
                    np.minimum(boxes[i, 1] + boxes[i, 3], k[:, 1] + k[:, 3]) - np.maximum(boxes[i, 1], k[:, 1]),
                )
                inter = ix * iy
                union = boxes[i, 2] * boxes[i, 3] + k[:, 2] * k[:, 3] - inter
                with np.errstate(divide="ignore", invalid="ignore"):
                    iou = np.where(union == 0, np.float32(0), inter / union)
                ok = bool(np.all(iou <= thr[i]))
            if ok:
                kept.append(int(i))
        result += kept
    return result


def _random_boxes(rng: np.random.Generator, n: int, classes: int, extent: float = 200.0):
    """Boxes with integer and fractional coordinates, zero sizes and repeated scores, to hit ties."""
    xy = rng.uniform(0, extent, (n, 2)).astype(np.float32)
    xy[: n // 3] = np.round(xy[: n // 3])
    wh = rng.uniform(0, 40, (n, 2)).astype(np.float32)
    wh[rng.random(n) < 0.02] = 0
    boxes = np.concatenate([xy, wh], axis=1)
    dup = rng.random(n) < 0.1
    boxes[dup] = boxes[rng.integers(0, n, dup.sum())]
    conf = np.round(rng.uniform(0, 1, n) * 20).astype(np.float32) / 20
    cls = rng.integers(0, classes, n).astype(np.int32)
    return boxes, conf, cls


@pytest.mark.parametrize("seed", range(6))
def test_nms_matches_greedy_loop_on_random_boxes(seed: int):
    rng = np.random.default_rng(seed)
    boxes, conf, cls = _random_boxes(rng, 300 + 50 * seed, 4)
    per_class = np.float32([0.3, 0.5, 0.0, 0.7])
    expected = _greedy_nms(boxes, conf, cls, per_class[cls], scalar=True)
    got = nms_keep(*boxes.T, conf, cls, per_class[cls])
    assert got.tolist() == expected


@pytest.mark.parametrize("block", [1, 7, 64])
def test_nms_block_boundaries(monkeypatch: pytest.MonkeyPatch, block: int):
    rng = np.random.default_rng(block)
    boxes, conf, cls = _random_boxes(rng, 400, 3, extent=80.0)
    thr = np.full(len(cls), 0.4, np.float32)
    expected = _greedy_nms(boxes, conf, cls, thr, scalar=False)
    monkeypatch.setattr(cluster_module, "_NMS_BLOCK", block)
    assert nms_keep(*boxes.T, conf, cls, thr).tolist() == expected


def test_nms_chain_needs_many_rounds():
    # Each box overlaps only its neighbours: greedy keeps every other one, which a single round gets wrong.
    n = 600
    left = np.arange(n, dtype=np.float32) * 2  # IoU 0.5 with the next box, 0.2 with the one after
    conf = np.linspace(1, 0.1, n, dtype=np.float32)
    boxes = np.stack([left, np.zeros(n), np.full(n, 6), np.full(n, 6)], axis=1).astype(np.float32)
    cls = np.zeros(n, np.int32)
    thr = np.full(n, 0.3, np.float32)
    got = nms_keep(*boxes.T, conf, cls, thr)
    assert got.tolist() == list(range(0, n, 2))
    assert got.tolist() == _greedy_nms(boxes, conf, cls, thr, scalar=False)


@pytest.mark.parametrize("seed", [0, 1])
def test_nms_large_input_matches_greedy_loop(seed: int):
    # More than 4096 boxes in one frame and in one class.
    rng = np.random.default_rng(100 + seed)
    boxes, conf, cls = _random_boxes(rng, 6000, 2, extent=1500.0)
    cls[:4500] = 0
    thr = np.where(cls == 0, np.float32(0.45), np.float32(0.2)).astype(np.float32)
    expected = _greedy_nms(boxes, conf, cls, thr, scalar=False)
    assert nms_keep(*boxes.T, conf, cls, thr).tolist() == expected
    dets = Detections(cls, *boxes.T, conf)
    attrs = [
        ClassAttrs(pre_cluster_threshold=0, nms_iou_threshold=0.45),
        ClassAttrs(pre_cluster_threshold=0, nms_iou_threshold=0.2),
    ]
    out = cluster(dets, ClusterMode.NMS, attrs)
    expected = [i for i in expected if conf[i] > 0]  # post-cluster threshold 0 is strict
    assert out.left.tolist() == boxes[expected, 0].tolist()


# ----------------------------------------------------------------------------------------------------------------
# DBSCAN and hybrid


def test_dbscan_merges_cluster_and_drops_noise():
    dets = make(
        [(0, 100, 100, 10, 10, 0.8), (0, 1, 0, 10, 10, 0.6), (0, 0, 0, 10, 10, 0.9), (0, 0, 1, 10, 10, 0.5)],
        extra={"id": np.array([10, 11, 12, 13])},
        masks=[np.full((1, 1), i, np.float32) for i in range(4)],
    )
    out = cluster(dets, ClusterMode.DBSCAN, [ClassAttrs(eps=0.5, min_boxes=2)])
    assert len(out) == 1
    w = np.float32([0.6, 0.9, 0.5]).astype(np.float64)
    left = (w @ [1, 0, 0]) / w.sum()
    top = (w @ [0, 0, 1]) / w.sum()
    right = (w @ [11, 10, 10]) / w.sum()
    bottom = (w @ [10, 10, 11]) / w.sum()
    np.testing.assert_allclose(
        [out.left[0], out.top[0], out.width[0], out.height[0]], [left, top, right - left, bottom - top], rtol=1e-6
    )
    assert out.confidence[0] == np.float32(0.9)
    assert out.extra["id"].tolist() == [12]
    assert out.masks[0][0, 0] == 2


def test_dbscan_min_score_and_min_boxes():
    rows = [(0, 0, 0, 10, 10, 0.9), (0, 1, 0, 10, 10, 0.6), (0, 0, 1, 10, 10, 0.5)]
    # Neighbourhood scores are all 2.0 (everyone is everyone's neighbour).
    assert len(cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.5, min_boxes=2, dbscan_min_score=2.0)])) == 1
    assert len(cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.5, min_boxes=2, dbscan_min_score=2.01)])) == 0
    assert len(cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.5, min_boxes=4)])) == 0
    # eps 0: only identical boxes are neighbours, so min_boxes 1 keeps every box as its own cluster.
    out = cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.0, min_boxes=1)])
    assert rows_of(out) == rows_of(make(rows))


def test_dbscan_border_boxes_join_but_do_not_extend():
    # A–B–C–D–E in a row, each overlapping only its neighbours (IoU 7.5 / 12.5 = 0.6). With min_boxes 3 and
    # min_score 2.0, B and C are core; A and D are border boxes; E only touches D (not core) and is noise.
    confs = [0.9, 0.8, 0.7, 0.6, 0.3]
    rows = [(0, i * 2.5, 0, 10, 10, confs[i]) for i in range(5)]
    out = cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.45, min_boxes=3, dbscan_min_score=2.0)])
    assert len(out) == 1
    w = np.float32(confs[:4]).astype(np.float64)
    lefts = np.array([0, 2.5, 5, 7.5])
    np.testing.assert_allclose(out.left, [w @ lefts / w.sum()], rtol=1e-6)
    np.testing.assert_allclose(out.width, [10], rtol=1e-6)
    assert out.confidence.tolist() == [f32(0.9)]
    # Without the score condition D is core too and E joins.
    out = cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.45, min_boxes=3)])
    w = np.float32(confs).astype(np.float64)
    np.testing.assert_allclose(out.left, [w @ np.arange(5) * 2.5 / w.sum()], rtol=1e-6)


def test_dbscan_two_clusters_sorted_by_confidence_and_min_boxes_zero_passthrough():
    rows = [(0, 0, 0, 10, 10, 0.5), (0, 0, 0, 10, 10, 0.4), (0, 50, 0, 10, 10, 0.7), (0, 50, 0, 10, 10, 0.6)]
    out = cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.1, min_boxes=2)])
    assert rows_of(out) == [(0, 50, 0, 10, 10, f32(0.7)), (0, 0, 0, 10, 10, f32(0.5))]
    out = cluster(make(rows), ClusterMode.DBSCAN, [ClassAttrs(eps=0.1, min_boxes=0)])
    assert rows_of(out) == rows_of(make(rows))


def _reference_dbscan(boxes: np.ndarray, conf: np.ndarray, eps: float, min_boxes: int, min_score: float):
    """dsflow's DBSCAN definition as a plain breadth-first search, merged boxes in descending confidence."""
    order = list(np.argsort(-conf, kind="stable"))
    n = len(order)
    near = [
        [i == j or np.float32(1) - _iou32(boxes[order[i]], boxes[order[j]]) <= np.float32(eps) for j in range(n)]
        for i in range(n)
    ]
    core = [
        sum(near[i]) >= min_boxes and sum(float(conf[order[j]]) for j in range(n) if near[i][j]) >= min_score
        for i in range(n)
    ]
    label = [-1] * n
    for i in range(n):
        if core[i] and label[i] < 0:
            label[i] = i
            queue = [i]
            while queue:
                k = queue.pop()
                for j in range(n):
                    if near[k][j] and core[j] and label[j] < 0:
                        label[j] = i
                        queue.append(j)
    for i in range(n):
        if not core[i]:
            cores = [j for j in range(n) if near[i][j] and core[j]]
            if cores:
                label[i] = label[cores[0]]
    out = []
    for lab in sorted({x for x in label if x >= 0}, key=lambda lab: label.index(lab)):
        members = [order[i] for i in range(n) if label[i] == lab]
        w = conf[members].astype(np.float64)
        b = boxes[members].astype(np.float64)
        corners = np.stack(
            [b[:, 0], b[:, 1], (boxes[members, 0] + boxes[members, 2]), (boxes[members, 1] + boxes[members, 3])], 1
        )
        mean = w @ corners / w.sum() if w.sum() > 0 else corners.mean(axis=0)
        out.append((mean[0], mean[1], mean[2] - mean[0], mean[3] - mean[1], conf[members].max()))
    return out


@pytest.mark.parametrize(("seed", "eps"), [(0, 0.6), (1, 0.6), (2, 0.3), (3, 0.8), (4, 1.0), (5, 0.5)])
def test_dbscan_matches_reference_search(seed: int, eps: float):
    rng = np.random.default_rng(seed)
    boxes, conf, cls = _random_boxes(rng, 120, 1, extent=60.0)
    conf = np.maximum(conf, np.float32(0.05))
    min_boxes, min_score = 1 + seed % 4, 0.2 * (seed % 4)
    out = cluster(
        Detections(cls, *boxes.T, conf),
        ClusterMode.DBSCAN,
        [ClassAttrs(pre_cluster_threshold=0, eps=eps, min_boxes=min_boxes, dbscan_min_score=min_score)],
    )
    expected = _reference_dbscan(boxes, conf, eps, min_boxes, min_score)
    assert len(out) == len(expected)
    np.testing.assert_allclose(
        np.stack([out.left, out.top, out.width, out.height, out.confidence], 1),
        np.array(expected, np.float32).reshape(-1, 5),
        rtol=1e-5,
        atol=1e-4,
    )


def test_hybrid_drops_noise_without_merging_then_nms():
    rows = [(0, 100, 100, 10, 10, 0.95), (0, 0, 0, 10, 10, 0.9), (0, 1, 0, 10, 10, 0.6), (0, 0, 1, 10, 10, 0.5)]
    attrs = [ClassAttrs(eps=0.5, min_boxes=2, nms_iou_threshold=0.9)]
    out = cluster(make(rows), ClusterMode.DBSCAN_NMS_HYBRID, attrs)
    assert rows_of(out) == [(0, 0, 0, 10, 10, f32(0.9)), (0, 1, 0, 10, 10, f32(0.6)), (0, 0, 1, 10, 10, f32(0.5))]
    attrs = [ClassAttrs(eps=0.5, min_boxes=2, nms_iou_threshold=0.3, topk=1)]
    assert rows_of(cluster(make(rows), ClusterMode.DBSCAN_NMS_HYBRID, attrs)) == [(0, 0, 0, 10, 10, f32(0.9))]
    # min_boxes 0: just NMS.
    attrs = [ClassAttrs(nms_iou_threshold=0.3)]
    assert rows_of(cluster(make(rows), ClusterMode.DBSCAN_NMS_HYBRID, attrs)) == rows_of(
        cluster(make(rows), ClusterMode.NMS, attrs)
    )


# ----------------------------------------------------------------------------------------------------------------
# groupRectangles


def test_group_rectangles_passthrough_truncates_and_sets_confidence():
    dets = make([(0, 1.9, -1.5, 10.7, 3.2, 0.9), (0, 5, 5, 1, 1, 0.3)], extra={"id": np.array([1, 2])})
    out = cluster(dets, ClusterMode.GROUP_RECTANGLES, [ClassAttrs(pre_cluster_threshold=0)])
    assert rows_of(out) == [(0, 1, -1, 10, 3, f32(-0.1)), (0, 5, 5, 1, 1, f32(-0.1))]
    assert out.extra["id"].tolist() == [1, 2]


def test_group_rectangles_averages_groups_and_drops_small_ones():
    rows = [(0, 0, 0, 10, 10, 0.5), (0, 1, 2, 10, 10, 0.9), (0, 80, 80, 10, 10, 0.9), (0, 0, 1, 11, 10, 0.6)]
    out = cluster(
        make(rows, extra={"id": np.arange(4)}), ClusterMode.GROUP_RECTANGLES, [ClassAttrs(group_threshold=1, eps=0.2)]
    )
    # x: 1/3 → 0, y: 3/3 = 1, w: 31/3 → 10, h: 10. The lone rect (1 member ≤ 1) is dropped.
    assert rows_of(out) == [(0, 0, 1, 10, 10, f32(-0.1))]
    assert out.extra["id"].tolist() == [1]
    # Half-way averages round to even: (0 + 1) / 2 → 0, (1 + 2) / 2 → 2.
    out = cluster(make([(0, 0, 1, 10, 10, 0.5), (0, 1, 2, 10, 10, 0.5)]), 0, [ClassAttrs(group_threshold=1, eps=0.2)])
    assert rows_of(out) == [(0, 0, 2, 10, 10, f32(-0.1))]


def test_group_rectangles_drops_cluster_inside_heavier_cluster():
    big = [(0, 0, 0, 100, 100, 0.5)] * 4
    small3 = [(0, 10, 10, 20, 20, 0.5)] * 3
    attrs = [ClassAttrs(group_threshold=1, eps=0.2)]
    # 3 members inside a 4-member cluster: dropped (4 > max(3, 3)).
    out = cluster(make(small3 + big), ClusterMode.GROUP_RECTANGLES, attrs)
    assert rows_of(out) == [(0, 0, 0, 100, 100, f32(-0.1))]
    # 3 inside 3: both stay, in order of first member.
    out = cluster(make(small3 + big[:3]), ClusterMode.GROUP_RECTANGLES, attrs)
    assert out.width.tolist() == [20, 100]
    # 2 members are always dropped inside another valid cluster, even a lighter one.
    out = cluster(make(small3[:2] + big[:2]), ClusterMode.GROUP_RECTANGLES, attrs)
    assert out.width.tolist() == [100]
    # A cluster that is itself too small removes nothing.
    assert cluster(make(small3[:2] + big[:1]), ClusterMode.GROUP_RECTANGLES, attrs).width.tolist() == [20]


def _reference_group_rectangles(rects: list[list[int]], threshold: int, eps: float) -> list[list[int]]:
    """A direct transcription of OpenCV's partition + groupRectangles with plain loops."""
    if threshold <= 0 or not rects:
        return [list(r) for r in rects]

    def similar(a, b):
        delta = eps * (min(a[2], b[2]) + min(a[3], b[3])) * 0.5
        return (
            abs(a[0] - b[0]) <= delta
            and abs(a[1] - b[1]) <= delta
            and abs(a[0] + a[2] - b[0] - b[2]) <= delta
            and abs(a[1] + a[3] - b[1] - b[3]) <= delta
        )

    n = len(rects)
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(n):
        for j in range(n):
            if i != j and similar(rects[i], rects[j]):
                parent[root(j)] = root(i)
    labels, names = [], {}
    for i in range(n):
        labels.append(names.setdefault(root(i), len(names)))
    sums = [[0, 0, 0, 0] for _ in names]
    weights = [0] * len(names)
    for r, lab in zip(rects, labels, strict=True):
        for k in range(4):
            sums[lab][k] += r[k]
        weights[lab] += 1
    avg = []
    for s, w in zip(sums, weights, strict=True):
        scale = np.float32(1) / np.float32(w)
        avg.append([int(np.rint(np.float32(v) * scale)) for v in s])
    out = []
    for i, (r1, n1) in enumerate(zip(avg, weights, strict=True)):
        if n1 <= threshold:
            continue
        inside = False
        for j, (r2, n2) in enumerate(zip(avg, weights, strict=True)):
            if j == i or n2 <= threshold:
                continue
            dx, dy = int(np.rint(r2[2] * eps)), int(np.rint(r2[3] * eps))
            if (
                r1[0] >= r2[0] - dx
                and r1[1] >= r2[1] - dy
                and r1[0] + r1[2] <= r2[0] + r2[2] + dx
                and r1[1] + r1[3] <= r2[1] + r2[3] + dy
                and (n2 > max(3, n1) or n1 < 3)
            ):
                inside = True
                break
        if not inside:
            out.append(r1)
    return out


def _clustered_rects(rng: np.random.Generator, n: int) -> np.ndarray:
    """Jittered copies of a few rects, plus smaller rects inside some of them (to hit the inside-cluster rule)."""
    big = n * 3 // 5
    centres = rng.uniform(0, 300, (max(1, big // 6), 4)) * [1, 1, 0.3, 0.3] + [0, 0, 10, 10]
    outer = np.abs(centres[rng.integers(0, len(centres), big)] + rng.normal(0, 2.5, (big, 4)))
    host = outer[rng.integers(0, big, n - big)]
    corner = host[:, :2] + host[:, 2:] * rng.uniform(0.05, 0.4, (n - big, 2))
    size = host[:, 2:] * rng.uniform(0.2, 0.5, (n - big, 2))
    return np.concatenate([outer, np.concatenate([corner, size], axis=1)]).astype(np.float32)


@pytest.mark.parametrize("seed", range(8))
def test_group_rectangles_matches_reference_loop(seed: int):
    rng = np.random.default_rng(seed)
    boxes = _clustered_rects(rng, 150)
    cls = rng.integers(0, 2, len(boxes))
    conf = rng.uniform(0.3, 1, len(boxes)).astype(np.float32)
    attrs = [
        ClassAttrs(group_threshold=1 + seed % 3, eps=0.1 + 0.05 * seed),
        ClassAttrs(group_threshold=seed % 2, eps=0.3),
    ]
    out = cluster(Detections(cls, *boxes.T, conf), ClusterMode.GROUP_RECTANGLES, attrs)
    expected = []
    for c, a in enumerate(attrs):
        rects = [[int(v) for v in b] for b in boxes[cls == c]]
        expected += [(c, *r) for r in _reference_group_rectangles(rects, a.group_threshold, a.eps)]
    got = [
        (int(c), int(x), int(y), int(w), int(h))
        for c, x, y, w, h in zip(out.class_id, out.left, out.top, out.width, out.height, strict=True)
    ]
    assert got == expected
    assert np.all(out.confidence == np.float32(-0.1))


@pytest.mark.parametrize("seed", range(8))
def test_group_rectangles_matches_opencv(seed: int):
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "groupRectangles"):
        pytest.skip("this OpenCV build has no groupRectangles (removed in OpenCV 5)")
    rng = np.random.default_rng(seed)
    boxes = _clustered_rects(rng, 200)
    threshold, eps = 1 + seed % 4, 0.1 + 0.04 * seed
    out = cluster(
        Detections(np.zeros(len(boxes)), *boxes.T, np.ones(len(boxes))),
        ClusterMode.GROUP_RECTANGLES,
        [ClassAttrs(group_threshold=threshold, eps=eps)],
    )
    rects = [[int(v) for v in b] for b in boxes]
    grouped, _ = cv2.groupRectangles(rects, threshold, eps)
    expected = np.asarray(grouped).reshape(-1, 4).tolist()
    assert np.stack([out.left, out.top, out.width, out.height], 1).astype(int).tolist() == expected
    assert _reference_group_rectangles(rects, threshold, eps) == expected


# ----------------------------------------------------------------------------------------------------------------
# Meta filters


def test_object_filters_drop_in_order():
    attrs = [
        ClassAttrs(detected_min_w=10, detected_min_h=5, detected_max_w=50, detected_max_h=0),
        ClassAttrs(roi_top_offset=20, roi_bottom_offset=30),
        ClassAttrs(),
    ]
    dets = make(
        [
            (0, 0, 0, 10, 5, 0.9),  # exactly the minimum: kept
            (0, 0, 0, 9.5, 5, 0.9),  # too narrow
            (0, 0, 0, 10, 4, 0.9),  # too short
            (0, 0, 0, 50, 100, 0.9),  # max width reached, height unlimited: kept
            (0, 0, 0, 51, 5, 0.9),  # too wide
            (1, 0, 20, 5, 50, 0.9),  # top on the band, bottom 70 = 100 − 30: kept
            (1, 0, 19, 5, 5, 0.9),  # above the band
            (1, 0, 21, 5, 50, 0.9),  # below the band
            (2, 0, 0, 5, 5, 0.9),  # filtered-out class
            (3, 0, 0, 5, 5, 0.9),  # no attributes
        ],
        extra={"id": np.arange(10)},
    )
    out = apply_object_filters(dets, attrs, 100, 200, {2})
    assert out.extra["id"].tolist() == [0, 3, 5]


def test_object_filters_crop_to_roi():
    attrs = [ClassAttrs(roi_top_offset=20, roi_bottom_offset=30)]
    dets = make([(0, 150, 10, 60, 30, 0.9), (0, 0, 30, 10, 90, 0.9), (0, 190, 40, 10, 10, 0.9), (0, 0, 80, 5, 5, 0.9)])
    out = apply_object_filters(
        dets, attrs, frame_height=100, frame_width=200, filter_out_class_ids=(), crop_to_roi=True
    )
    assert rows_of(out) == [
        (0, 150, 20, 50, 30, f32(0.9)),  # top raised to 20 (height kept), width cut at the right edge
        (0, 0, 30, 10, 40, f32(0.9)),  # height cut at 100 − 30
        (0, 190, 40, 10, 10, f32(0.9)),  # left + width == W: width recomputed as W − left, unchanged
        (0, 0, 80, 5, -10, f32(0.9)),  # starts below the band: nvinfer leaves a negative height
    ]
    assert len(apply_object_filters(Detections.empty(), attrs, 100, 200)) == 0
