"""Re-inference of tracked objects by secondary stages: ``secondary-reinfer-interval``, ``classifier-async-mode``.

Graphs: images → a primary blob detector → ``test.tracker`` (gives each class a fixed ``object_id``,
or leaves it untracked) → a secondary stage → a sink. The objects are painted with a colour value
that changes every frame (``value(n)``), and the secondary classifier reports the mean of that
colour, so the attributes an object carries name the frame they were computed on. With
``output-tensor-meta`` an object inferred on a frame also gets that frame's raw output: together
they show, per frame, whether the object was inferred and which inference its result comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import helpers_nodes as h
import numpy as np
import pytest
from onnx_models import Band, blob_model, channel_stats_model

import dsflow
from dsflow import Batch, Frame, Node, NodeContext, ObjectMeta, hookimpl, param
from dsflow.infer import history
from dsflow.infer.engine import clear_engine_cache
from dsflow.infer.history import ObjectHistory
from dsflow.infer.keys import INT32_MAX
from dsflow.infer.stage import tensor_meta_key

log = h.log  # the shared fixture

WIDTH, HEIGHT = 80, 48
RED, GREEN, BLUE = 0, 1, 2
CLASSIFIER_ID, DETECTOR_ID = 3, 2
RED_ID = 7
"""The tracker's id for red objects (class 0); blue ones (class 2) stay untracked unless a test says so."""


@pytest.fixture(autouse=True)
def fresh_engines():
    clear_engine_cache()
    yield
    clear_engine_cache()


# -- the tracker stand-in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackerParams:
    ids: list[int] = param(default_factory=list, doc="object_id per class_id; -1 or none leaves a class untracked")


class ClassTracker(Node):
    """Gives every object of class ``c`` the tracking id ``ids[c]``: one object per class, always the same id."""

    kind = "test.tracker"
    Params = TrackerParams
    host_only = True

    def process(self, batch: Batch, ctx: NodeContext) -> Batch:
        ids = self.params.ids
        for frame in batch.frames:
            for obj in frame.objects:
                if 0 <= obj.class_id < len(ids):
                    obj.object_id = ids[obj.class_id]
        return batch


class _TrackerPlugin:
    @hookimpl
    def dsflow_register_nodes(self) -> list[type]:
        return [ClassTracker]


def plugins() -> dsflow.PluginManager:
    pm = h.plugins()
    pm.register(_TrackerPlugin(), "dsflow-tracking-test-nodes")
    return pm


# -- scenes ---------------------------------------------------------------------------------------------


def value(n: int) -> int:
    """The colour value objects have on frame ``n`` (above the detector's 100, distinct per frame)."""
    return 104 + 4 * n


Box = tuple[int, int, int, int]


def picture(n: int, red: Box | None = None, blue: Box | None = None) -> np.ndarray:
    """Frame ``n``: a red box of red ``value(n)`` and a blue box of blue ``value(n)`` (either may be absent)."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for box, channel in ((red, RED), (blue, BLUE)):
        if box is not None:
            left, top, width, height = box
            image[top : top + height, left : left + width, channel] = value(n)
    return image


def with_plates(image: np.ndarray) -> np.ndarray:
    """Green plates inside the boxes of :data:`CAR` and :data:`VAN`, for the secondary detector."""
    image[14:26, 10:18, GREEN] = 200
    image[16:24, 48:64, GREEN] = 200
    return image


CAR: Box = (2, 4, 32, 32)
VAN: Box = (40, 8, 32, 32)


def write_config(path: Path, props: dict[str, Any]) -> str:
    lines = ["[property]", *(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in props.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path.name


class Scene:
    def __init__(self, root: Path, log: h.Log) -> None:
        self.root = root
        self.log = log
        (root / "pgie.onnx").write_bytes(blob_model([Band(RED, 100, 0.9, 0), Band(BLUE, 100, 0.8, 2)], (WIDTH, HEIGHT)))
        (root / "labels.txt").write_text("red\ngreen\nblue\n", encoding="utf-8")
        write_config(root / "pgie.txt", {"gie-unique-id": 1, "onnx-file": "pgie.onnx", "labelfile-path": "labels.txt",
                                         "num-detected-classes": 3, "parse-bbox-func-name": "NvDsInferParseYolo",
                                         "cluster-mode": 4})  # fmt: skip

    def classifier(self, **props: Any) -> str:
        """Attribute 0: the channel with the highest mean (confidence: that mean); attribute 1: the highest peak."""
        (self.root / "stats.onnx").write_bytes(channel_stats_model((8, 8)))
        (self.root / "colors.txt").write_text("red;green;blue\nwarm;grass;sky\n", encoding="utf-8")
        keys = {"gie-unique-id": CLASSIFIER_ID, "process-mode": 2, "network-type": 1, "onnx-file": "stats.onnx",
                "labelfile-path": "colors.txt", "net-scale-factor": 0.00390625, "classifier-type": "color",
                "operate-on-gie-id": 1, "output-tensor-meta": 1}  # fmt: skip
        return write_config(self.root / "sgie.txt", keys | props)

    def detector(self, **props: Any) -> str:
        """Green plates inside the objects (16x16 network: the 32x32 boxes are scaled by 0.5)."""
        (self.root / "plates.onnx").write_bytes(blob_model([Band(GREEN, 100, 0.6, 0)], (16, 16)))
        (self.root / "plates.txt").write_text("plate\n", encoding="utf-8")
        keys = {"gie-unique-id": DETECTOR_ID, "process-mode": 2, "onnx-file": "plates.onnx",
                "labelfile-path": "plates.txt", "num-detected-classes": 1, "parse-bbox-func-name": "NvDsInferParseYolo",
                "cluster-mode": 4, "operate-on-gie-id": 1}  # fmt: skip
        return write_config(self.root / "sgie.txt", keys | props)

    def graph(self, images: Sequence[np.ndarray], sgie: str, ids: Sequence[int], batch_size: int = 1) -> dsflow.Graph:
        folder = self.root / "frames"
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for i, image in enumerate(images):
            assert cv2.imwrite(str(folder / f"{i:03d}.png"), np.ascontiguousarray(image[..., ::-1]))
        text = (
            "nodes:\n"
            f"  - {{name: src, type: source.images, params: {{path: '{folder}', batch-size: {batch_size}}}}}\n"
            "  - {name: pgie, type: nvinfer, input: src, params: {config: pgie.txt}}\n"
            f"  - {{name: track, type: test.tracker, input: pgie, params: {{ids: {list(ids)}}}}}\n"
            f"  - {{name: sgie, type: nvinfer, input: track, params: {{config: {sgie}}}}}\n"
            f"  - {{name: out, type: test.sink, input: sgie, params: {{tag: {self.log.tag}}}}}\n"
        )
        path = self.root / "graph.yaml"
        path.write_text(text, encoding="utf-8")
        return dsflow.load_graph(path, plugins=plugins())

    def run(self, graph: dsflow.Graph) -> list[Frame]:
        self.log.batches.clear()
        result = h.run_on_cpu(graph)
        assert result.error is None, result.error
        return [f for b in self.log.batches["out"] for f in b.frames]


@pytest.fixture
def scene(tmp_path: Path, log: h.Log) -> Scene:
    return Scene(tmp_path, log)


def colour_attributes(class_id: int, n: int) -> list[tuple[Any, ...]]:
    """The classifier's attributes for an object of ``class_id`` painted ``value(n)``: both its mean and
    its peak are ``value(n) / 256`` in its own channel."""
    conf = value(n) / 256
    names = {RED: ("red", "warm"), BLUE: ("blue", "sky")}[class_id]
    return [
        ("color", names[0], class_id, conf, 0, CLASSIFIER_ID),
        ("color", names[1], class_id, conf, 1, CLASSIFIER_ID),
    ]


def trail(frames: Sequence[Frame], class_id: int) -> list[tuple[bool, int | None]]:
    """Per frame, for the one primary object of ``class_id``: was it inferred on that frame (its tensor
    meta is there), and from which frame its attributes come (None: it has none)."""
    out = []
    for frame in frames:
        [obj] = [o for o in frame.objects if o.class_id == class_id and o.component_id == 1]
        got = [(a.name, a.label, a.class_id, a.confidence, a.index, a.component_id) for a in obj.attributes]
        source = None
        if got:
            source = round((got[0][3] * 256 - value(0)) / 4)
            assert got == colour_attributes(class_id, source), got
        out.append((tensor_meta_key(CLASSIFIER_ID) in obj.tensors, source))
    return out


def plates(frames: Sequence[Frame], parent_class: int) -> list[int]:
    """Per frame, how many plates the secondary detector found in the object of ``parent_class``."""
    return [
        sum(1 for o in f.objects if o.component_id == DETECTOR_ID and o.parent.class_id == parent_class) for f in frames
    ]


# -- secondary classifiers --------------------------------------------------------------------------------

GROWING = [(20, 20), (20, 20), (20, 24), (20, 25), (20, 25), (20, 30), (20, 31)]
"""Red box sizes: 400 px², 400, 480 (exactly +20 %: no), 500 (+25 %: again), 500, 600 (exactly +20 % of
500: no), 620 (again)."""


@pytest.mark.parametrize("batch_size", [1, 4])
def test_classifier_infers_a_tracked_object_again_only_when_it_grew_by_more_than_20_percent(
    scene: Scene, batch_size: int
) -> None:
    images = [picture(n, red=(4, 4, w, h), blue=(50, 10, 20, 20)) for n, (w, h) in enumerate(GROWING)]
    frames = scene.run(scene.graph(images, scene.classifier(), ids=[RED_ID], batch_size=batch_size))
    assert trail(frames, RED) == [(True, 0), (False, 0), (False, 0), (True, 3), (False, 3), (False, 3), (True, 6)]
    # The blue object is untracked: inferred on every frame, whatever its size does.
    assert trail(frames, BLUE) == [(True, n) for n in range(7)]
    assert {o.object_id for f in frames for o in f.objects} == {RED_ID, -1}


def test_cached_attributes_are_copies_of_the_last_result(scene: Scene) -> None:
    images = [picture(n, red=CAR) for n in range(3)]
    frames = scene.run(scene.graph(images, scene.classifier(), ids=[RED_ID]))
    assert trail(frames, RED) == [(True, 0), (False, 0), (False, 0)]
    first, second, third = (f.objects[0].attributes for f in frames)
    assert all(a is not b and b is not c for a, b, c in zip(first, second, third, strict=True))


@pytest.mark.parametrize(
    ("interval", "sizes", "expected"),
    [
        (0, [(20, 20)] * 4, [(True, 0), (True, 1), (True, 2), (True, 3)]),
        (
            2,
            [(20, 20)] * 8,
            [(True, 0), (False, 0), (False, 0), (True, 3), (False, 3), (False, 3), (True, 6), (False, 6)],
        ),
        # Growth at frame 1 restarts the count.
        (2, [(20, 20)] + [(30, 30)] * 5, [(True, 0), (True, 1), (False, 1), (False, 1), (True, 4), (False, 4)]),
    ],
)
@pytest.mark.parametrize("batch_size", [1, 3])
def test_classifier_infers_again_after_more_than_the_interval(
    scene: Scene, interval: int, sizes: list, expected: list, batch_size: int
) -> None:
    images = [picture(n, red=(4, 4, w, h)) for n, (w, h) in enumerate(sizes)]
    sgie = scene.classifier(**{"secondary-reinfer-interval": interval})
    frames = scene.run(scene.graph(images, sgie, ids=[RED_ID], batch_size=batch_size))
    assert trail(frames, RED) == expected


def test_untracked_objects_are_inferred_on_every_frame(scene: Scene) -> None:
    images = [picture(n, red=CAR, blue=VAN) for n in range(3)]
    frames = scene.run(scene.graph(images, scene.classifier(), ids=[]))
    assert trail(frames, RED) == trail(frames, BLUE) == [(True, 0), (True, 1), (True, 2)]


def test_a_tracked_object_that_is_no_longer_selected_keeps_its_result(scene: Scene) -> None:
    """Below the 16-pixel minimum nothing is inferred, but a classified tracked object still gets its result."""
    images = [
        picture(0, red=(4, 4, 20, 20), blue=(50, 10, 20, 20)),
        picture(1, red=(4, 4, 14, 14), blue=(50, 10, 14, 14)),
    ]
    frames = scene.run(scene.graph(images, scene.classifier(), ids=[RED_ID]))
    assert trail(frames, RED) == [(True, 0), (False, 0)]
    assert trail(frames, BLUE) == [(True, 0), (False, None)]


def test_history_starts_afresh_on_every_run(scene: Scene) -> None:
    graph = scene.graph([picture(n, red=CAR) for n in range(3)], scene.classifier(), ids=[RED_ID])
    expected = [(True, 0), (False, 0), (False, 0)]
    assert trail(scene.run(graph), RED) == expected
    assert trail(scene.run(graph), RED) == expected


# -- classifier-async-mode --------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 3])
def test_async_mode_attaches_only_results_of_earlier_frames(scene: Scene, batch_size: int) -> None:
    """Interval 1: inferred on frames 0, 2, 4; each frame gets the latest result of an earlier frame."""
    images = [picture(n, red=CAR, blue=VAN) for n in range(6)]
    sgie = scene.classifier(**{"classifier-async-mode": 1, "secondary-reinfer-interval": 1})
    frames = scene.run(scene.graph(images, sgie, ids=[RED_ID], batch_size=batch_size))
    # No tensor meta in async mode; frame 2 is inferred, yet it carries frame 0's result.
    assert trail(frames, RED) == [(False, None), (False, 0), (False, 0), (False, 2), (False, 2), (False, 4)]
    assert trail(frames, BLUE) == [(False, None)] * 6  # untracked: skipped


def test_sync_mode_with_the_same_scene(scene: Scene) -> None:
    images = [picture(n, red=CAR, blue=VAN) for n in range(6)]
    frames = scene.run(scene.graph(images, scene.classifier(**{"secondary-reinfer-interval": 1}), ids=[RED_ID]))
    assert trail(frames, RED) == [(True, 0), (False, 0), (True, 2), (False, 2), (True, 4), (False, 4)]
    assert trail(frames, BLUE) == [(True, n) for n in range(6)]


# -- secondary detectors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({}, [1] * 7),  # the default interval: every frame
        ({"secondary-reinfer-interval": 2}, [1, 0, 0, 1, 0, 0, 1]),
        ({"secondary-reinfer-interval": 0}, [1] * 7),
    ],
)
def test_secondary_detector_skips_tracked_objects_within_the_interval(
    scene: Scene, props: dict[str, Any], expected: list[int]
) -> None:
    images = [with_plates(picture(n, red=CAR, blue=VAN)) for n in range(7)]
    frames = scene.run(scene.graph(images, scene.detector(**props), ids=[RED_ID]))
    assert plates(frames, RED) == expected
    assert plates(frames, BLUE) == [1] * 7  # untracked
    red_plates = [o for f in frames for o in f.objects if o.component_id == DETECTOR_ID and o.parent.class_id == RED]
    assert {o.box for o in red_plates} == {(10.0, 14.0, 8.0, 12.0)}


# -- purging the history ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        # Last seen on frame 1; the purge after frame 5 finds it unseen for 4 > 3 frames: frame 7 infers anew.
        ([0, 1, 7], [(True, 0), (False, 0), (True, 7)]),
        # Seen again on frame 5 before that purge: kept, not inferred again.
        ([0, 1, 5], [(True, 0), (False, 0), (False, 0)]),
    ],
)
def test_unseen_entries_are_purged(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, visible: list[int], expected: list
) -> None:
    monkeypatch.setattr(history, "PURGE_INTERVAL", 2)  # purges after batches 3 and 6 (1 frame each)
    monkeypatch.setattr(history, "UNSEEN_FRAMES", 3)
    images = [picture(n, red=CAR if n in visible else None) for n in range(visible[-1] + 1)]
    frames = scene.run(scene.graph(images, scene.classifier(), ids=[RED_ID]))
    assert trail([f for f in frames if f.objects], RED) == expected


def tracked_frame(source_id: int, frame_num: int, *ids: int) -> Frame:
    objects = [ObjectMeta(0, 0, 20, 20, object_id=i) for i in ids]
    return Frame(source_id, frame_num, 0, WIDTH, HEIGHT, objects=objects)


def every(obj: ObjectMeta) -> bool:
    return True


def test_purge_on_nvinfer_schedule() -> None:
    """The real constants: the first purge runs after batch 1801 and drops entries unseen for over 150 frames."""
    assert (history.UNSEEN_FRAMES, history.PURGE_INTERVAL) == (150, 1800)
    hist = ObjectHistory(classifier=True, interval=INT32_MAX, async_mode=False)
    for n in range(1801):
        ids = {0: (1, 2, 3), 1649: (2,), 1650: (3,)}.get(n, ())
        hist.select(tracked_frame(0, n, *ids), every)
        hist.end_batch()
        if n == 1799:
            assert sorted(hist.tracked(0)) == [1, 2, 3]
    # After frame 1800: 1 unseen for 1800 frames, 2 for 151, 3 for 150.
    assert sorted(hist.tracked(0)) == [3]


def test_history_is_per_source() -> None:
    hist = ObjectHistory(classifier=True, interval=INT32_MAX, async_mode=False)
    infer, _ = hist.select(tracked_frame(0, 0, 5), every)
    assert len(infer) == 1
    infer, reattach = hist.select(tracked_frame(1, 0, 5), every)  # same id, other stream: a new object
    assert (len(infer), reattach) == (1, [])
    infer, reattach = hist.select(tracked_frame(0, 1, 5), every)
    assert (infer, len(reattach)) == ([], 1)
    hist.drop_source(0)
    assert (hist.tracked(0), sorted(hist.tracked(1))) == ({}, [5])
