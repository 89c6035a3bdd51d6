"""From parser results to frame metadata: what nvinfer does after a parser returns.

Detections are clustered, mapped from network-input pixels back to the frame, filtered and
appended as objects; classifier attributes get their labels and are attached. The parse node
calls these once per row (or once per batch for ``cluster-per-frame``); they are public so
code that runs the same stages by hand (benchmarks, notebooks) gets the same objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dsflow.frame import Attribute, Frame, ObjectMeta
from dsflow.infer.cluster import ClusterMode, apply_object_filters, cluster
from dsflow.infer.labels import attribute_label, detector_label
from dsflow.model import Detections

if TYPE_CHECKING:
    from dsflow.infer.config import InferConfig
    from dsflow.infer.preprocess import Geometry


def attach_detections(
    cfg: InferConfig, labels: list[list[str]], frame: Frame, dets: Detections, geometry: Geometry, row: int,
    parent: ObjectMeta | None,
) -> None:  # fmt: skip
    """nvinfer's order for one sample: cluster (network pixels) → map → filters → new objects."""
    dets = cluster(dets, ClusterMode(cfg["cluster-mode"]), cfg.class_attrs)
    if not len(dets):
        return
    mapped = _filters(cfg, to_frame(dets, geometry, row), frame)
    _add_objects(cfg, labels, frame, mapped, geometry.origin[row], [parent] * len(mapped))


def attach_detections_per_frame(
    cfg: InferConfig, labels: list[list[str]], frames: Sequence[Frame], parts: Sequence[tuple[int, Detections]],
    geometry: Geometry, frame_index: Sequence[int], parents: Sequence[ObjectMeta | None],
) -> None:  # fmt: skip
    """``cluster-per-frame``: the detections of every row (``parts``: row, detections) of a frame are
    mapped to frame pixels, then clustered together, filtered and added with their own row's parent."""
    parts = [(row, dets) for row, dets in parts if len(dets)]
    if not parts:
        return
    rows = np.concatenate([np.full(len(dets), row) for row, dets in parts])
    mapped = to_frame(Detections.concat([dets for _, dets in parts]), geometry, rows)
    origin = geometry.origin[rows].astype(np.float32)  # all rows at once: one pass, not one per object
    mapped.left, mapped.top = mapped.left + origin[:, 0], mapped.top + origin[:, 1]
    mapped.points = {k: v + origin[:, None, :] for k, v in mapped.points.items()}
    mapped.extra["parent-row"] = rows
    frame_of_row = np.asarray(frame_index)[rows]
    for index in np.unique(frame_of_row).tolist():
        frame = frames[index]
        merged = cluster(mapped.take(frame_of_row == index), ClusterMode(cfg["cluster-mode"]), cfg.class_attrs)
        merged = _filters(cfg, merged, frame)
        owners = [parents[r] for r in merged.extra.pop("parent-row").tolist()]
        _add_objects(cfg, labels, frame, merged, (0.0, 0.0), owners)


def label_attributes(cfg: InferConfig, labels: list[list[str]], attributes: list[Attribute]) -> None:
    """Fill what the parser left out: the label from the labels file, the stage id, the classifier's name."""
    for a in attributes:
        a.label = a.label or attribute_label(labels, a.index, a.class_id)
        a.component_id = cfg.unique_id
        a.name = a.name or (cfg["classifier-type"] or "")


def attach_attributes(cfg: InferConfig, frame: Frame, obj: ObjectMeta | None, attributes: list[Attribute]) -> None:
    """Attach a classifier's result to ``obj``, or to a new full-frame object for a primary classifier."""
    if not any(a.label for a in attributes):
        return  # nvinfer attaches nothing when no attribute has a label
    if obj is None:
        obj = ObjectMeta(0.0, 0.0, float(frame.width), float(frame.height), -1, 1.0, "", cfg.unique_id)
        frame.objects.append(obj)
    obj.attributes.extend(attributes)
    if cfg["set-object-label"]:
        obj.label = attributes[0].label


def _filters(cfg: InferConfig, mapped: Detections, frame: Frame) -> Detections:
    return apply_object_filters(mapped, cfg.class_attrs, frame.height, frame.width,
                                cfg["filter-out-class-ids"] or (), cfg["crop-objects-to-roi-boundary"])  # fmt: skip


def _add_objects(
    cfg: InferConfig, labels: list[list[str]], frame: Frame, mapped: Detections, origin: Any, parents: list[Any]
) -> None:
    """One ObjectMeta per detection (frame pixels once ``origin`` is added), points in ``extra``."""
    origin_x, origin_y = (float(v) for v in origin)
    masks = mapped.masks if cfg["output-instance-mask"] else None
    shift = np.array([origin_x, origin_y])
    columns = {**mapped.extra, **{k: v.astype(np.float64) + shift for k, v in mapped.points.items()}}
    for i, (cid, left, top, width, height, conf) in enumerate(zip(
        mapped.class_id.tolist(), (mapped.left + origin_x).tolist(), (mapped.top + origin_y).tolist(),
        mapped.width.tolist(), mapped.height.tolist(), mapped.confidence.tolist(), strict=True,
    )):  # fmt: skip
        frame.objects.append(ObjectMeta(
            left, top, width, height, cid, conf, detector_label(labels, cid), cfg.unique_id, parent=parents[i],
            mask=masks[i] if masks is not None else None,
            extra={name: column[i] for name, column in columns.items()},
        ))  # fmt: skip


def to_frame(dets: Detections, g: Geometry, row: int | np.ndarray) -> Detections:
    """Detections from network-input pixels to frame pixels, relative to their row's ``g.origin``.

    ``row`` is the row of all of them, or one per detection. Box crops undo the scaling and padding
    (left and top clamped at 0, as nvinfer does); warped samples go through their homography, boxes
    becoming the bounds of their mapped corners.
    """
    rows = np.broadcast_to(np.asarray(row), (len(dets),))
    if g.homography is not None:
        to_frame = g.homography[rows]  # (n, 3, 3)
        xs = np.stack([dets.left, dets.right, dets.right, dets.left], 1)
        ys = np.stack([dets.top, dets.top, dets.bottom, dets.bottom], 1)
        mapped = _apply_homography(to_frame, np.stack([xs, ys], axis=2))  # corners (n, 4, 2)
        low, high = mapped.min(axis=1), mapped.max(axis=1)
        points = {k: _apply_homography(to_frame, v) for k, v in dets.points.items()}
        return Detections(dets.class_id, low[:, 0], low[:, 1], high[:, 0] - low[:, 0], high[:, 1] - low[:, 1],
                          dets.confidence, masks=dets.masks, extra=dict(dets.extra), points=points)  # fmt: skip
    ratio, pad = g.ratio[rows], g.pad[rows]  # float64, as nvinfer computes the mapping
    return Detections(
        dets.class_id,
        np.maximum((dets.left - pad[:, 0]) / ratio[:, 0], 0),
        np.maximum((dets.top - pad[:, 1]) / ratio[:, 1], 0),
        dets.width / ratio[:, 0],
        dets.height / ratio[:, 1],
        dets.confidence,
        masks=dets.masks,
        extra=dict(dets.extra),
        points={k: (v - pad[:, None, :]) / ratio[:, None, :] for k, v in dets.points.items()},
    )


def _apply_homography(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points ``(n, k, 2)`` through homographies ``h`` ``(n, 3, 3)``, one per point set."""
    p = points.astype(np.float64)
    xy = np.einsum("nij,nkj->nki", h[:, :2, :2], p) + h[:, None, :2, 2]
    w = np.einsum("nj,nkj->nk", h[:, 2, :2], p) + h[:, None, 2, 2]
    return (xy / w[..., None]).astype(np.float32)
