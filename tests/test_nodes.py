"""The built-in node types: sources, the python node and the sinks, run in real graphs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import cv2
import helpers_nodes as h
import numpy as np
import pytest

from dsflow import ConfigError, NodeError

RED, GREEN, BLUE = (220, 40, 40), (40, 220, 40), (40, 40, 220)
YELLOW, CYAN = (220, 220, 40), (40, 220, 220)


log = h.log  # the shared fixture
run = h.run_on_cpu


def frames_of(log: h.Log, node: str = "out"):
    return [f for b in log.batches[node] for f in b.frames]


def by_stream(frames) -> dict[int, list]:
    out = defaultdict(list)
    for frame in frames:
        out[frame.source_id].append(frame)
    return dict(out)


def assert_colour(image: np.ndarray, rgb: tuple[int, int, int], tolerance: float = 8) -> None:
    """The whole picture is about ``rgb`` (lossy coding and YUV 4:2:0 move values a little)."""
    mean = image.reshape(-1, 3).mean(axis=0)
    assert np.all(np.abs(mean - rgb) <= tolerance), (mean, rgb)
    assert np.abs(image.astype(int) - rgb).max() <= 4 * tolerance


# -- source.testpattern ------------------------------------------------------------------------


def pattern_graph(log: h.Log, **params) -> object:
    text = ", ".join(f"{k}: {json.dumps(v)}" for k, v in params.items())
    return h.graph(
        f"""
        nodes:
          - {{name: cam, type: source.testpattern, params: {{{text}}}}}
          - {{name: out, type: test.sink, input: cam, params: {{tag: $TAG}}}}
        """,
        log,
    )


def test_testpattern_streams_frames_and_sizes(log):
    result = run(pattern_graph(log, streams=3, frames=4, width=32, height=16))

    assert result.error is None
    assert result.stream_frames == {0: 4, 1: 4, 2: 4}
    assert sorted(result.streams.values()) == ["testpattern-0", "testpattern-1", "testpattern-2"]
    # One frame of every stream per batch, by default.
    assert [[(f.source_id, f.frame_num) for f in b.frames] for b in log.batches["out"]] == [
        [(0, n), (1, n), (2, n)] for n in range(4)
    ]
    for frame in frames_of(log):
        assert (frame.width, frame.height) == (32, 16)
        assert isinstance(frame.image, np.ndarray)
        assert frame.image.shape == (16, 32, 3)
        assert frame.image.dtype == np.uint8
    assert sorted(log.ends("out")) == [0, 1, 2]


@pytest.mark.parametrize(("batch_size", "sizes"), [(2, [2] * 6), (5, [5, 5, 2]), (1, [1] * 12)])
def test_testpattern_batch_size_is_taken_across_streams(log, batch_size, sizes):
    assert run(pattern_graph(log, streams=3, frames=4, width=8, height=8, batch_size=batch_size)).error is None

    assert [len(b.frames) for b in log.batches["out"]] == sizes
    order = [(f.source_id, f.frame_num) for f in frames_of(log)]
    assert order == [(s, n) for n in range(4) for s in range(3)]


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_testpattern_timestamps_follow_fps(log, fps):
    assert run(pattern_graph(log, streams=2, frames=6, width=8, height=8, fps=fps)).error is None

    for frames in by_stream(frames_of(log)).values():
        assert [f.pts for f in frames] == [round(n * 1e9 / fps) for n in range(6)]


def test_testpattern_content_differs_between_streams_and_frames(log):
    assert run(pattern_graph(log, streams=2, frames=3, width=64, height=8)).error is None

    streams = by_stream(frames_of(log))
    first, second = streams[0], streams[1]
    for n in range(3):
        assert not np.array_equal(first[n].image, second[n].image)
    for frames in streams.values():
        for before, after in itertools.pairwise(frames):
            assert not np.array_equal(before.image, after.image)
            assert np.array_equal(after.image, np.roll(before.image, 4, axis=1))  # bars drift 4 px a frame
        image = frames[0].image
        assert set(np.unique(image)) <= {16, 235}  # colour bars, video levels
        assert np.array_equal(image[0], image[-1])  # vertical bars: every row the same
        assert len({tuple(px) for px in image[0]}) == 8  # eight bars


def test_testpattern_realtime_paces_frames_at_fps(log):
    result = run(pattern_graph(log, streams=1, frames=10, width=8, height=8, fps=50.0, realtime=True))

    assert result.error is None
    assert len(frames_of(log)) == 10
    # Frame 9 may not be produced before 9/50 s after the first; generous upper bound for slow CI.
    assert 0.17 <= result.seconds < 5


def test_testpattern_rejects_bad_parameters():
    with pytest.raises(ConfigError, match="streams"):
        h.graph(
            """
            nodes:
              - {name: cam, type: source.testpattern, params: {streams: 0}}
              - {name: out, type: sink.null, input: cam}
            """
        )


# -- source.video -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """Three small videos: 2, 3 and 6 frames of solid colours, at 10 frames per second."""
    folder = tmp_path_factory.mktemp("videos")
    return {
        "tiny": h.write_video(folder / "tiny.mp4", [CYAN, YELLOW], size=(32, 32)),
        "short": h.write_video(folder / "short.mp4", [RED, GREEN, BLUE], size=(64, 48)),
        "long": h.write_video(folder / "long.mp4", [RED, GREEN, BLUE, YELLOW, CYAN, RED], size=(96, 64)),
    }


def video_graph(log: h.Log, paths: list[Path], **params) -> object:
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in params.items())
    names = ", ".join(f"'{p}'" for p in paths)
    return h.graph(
        f"""
        nodes:
          - {{name: src, type: source.video, params: {{paths: [{names}]{extra}}}}}
          - {{name: out, type: test.sink, input: src, params: {{tag: $TAG}}}}
        """,
        log,
    )


def test_video_decodes_frames_sizes_colours_and_timestamps(log, videos):
    result = run(video_graph(log, [videos["short"]]))

    assert result.error is None
    assert result.streams == {0: str(videos["short"])}
    frames = frames_of(log)
    assert [(f.source_id, f.frame_num) for f in frames] == [(0, 0), (0, 1), (0, 2)]
    for frame, colour in zip(frames, [RED, GREEN, BLUE], strict=True):
        assert (frame.width, frame.height) == (64, 48)
        assert isinstance(frame.image, np.ndarray)
        assert frame.image.shape == (48, 64, 3)
        assert frame.image.dtype == np.uint8
        assert_colour(frame.image, colour)
    pts = [f.pts for f in frames]
    assert pts == sorted(set(pts))  # strictly increasing
    assert pts[1] - pts[0] == pytest.approx(100_000_000, abs=2_000_000)  # 10 fps, in ns
    assert log.ends("out") == [0]


def test_two_videos_are_two_streams_and_the_shorter_ends_first(log, videos):
    result = run(video_graph(log, [videos["short"], videos["long"]]))

    assert result.error is None
    ids = {name: sid for sid, name in result.streams.items()}
    short, long = ids[str(videos["short"])], ids[str(videos["long"])]
    assert short != long
    assert result.stream_frames == {short: 3, long: 6}
    streams = by_stream(frames_of(log))
    assert [f.frame_num for f in streams[short]] == [0, 1, 2]
    assert [f.frame_num for f in streams[long]] == list(range(6))
    assert {(f.width, f.height) for f in streams[short]} == {(64, 48)}
    assert {(f.width, f.height) for f in streams[long]} == {(96, 64)}
    for frame, colour in zip(streams[long], [RED, GREEN, BLUE, YELLOW, CYAN, RED], strict=True):
        assert_colour(frame.image, colour)
    for frames in streams.values():
        pts = [f.pts for f in frames]
        assert pts == sorted(set(pts))
    # The short stream's end is announced while the long one is still going.
    events = log.events
    end_short = events.index(("out", "end_stream", short))
    long_later = [i for i, e in enumerate(events) if e[:2] == ("out", "process") and (long, 3) in e[3]]
    assert end_short < long_later[0]
    assert log.ends("out") == [short, long]


@pytest.mark.parametrize("batch_size", [0, 1, 4])
def test_video_stream_end_comes_after_the_streams_last_frame(log, videos, batch_size):
    paths = [videos["tiny"], videos["short"], videos["long"]]
    result = run(video_graph(log, paths, batch_size=batch_size))

    assert result.error is None
    lengths = {str(videos["tiny"]): 2, str(videos["short"]): 3, str(videos["long"]): 6}
    assert {result.streams[sid]: n for sid, n in result.stream_frames.items()} == lengths
    seen: set[int] = set()
    ended: set[int] = set()
    for event in log.of("out"):
        if event[0] == "process":
            for sid, _ in event[2]:
                assert sid not in ended, f"frame of stream {sid} after its end"
                seen.add(sid)
        elif event[0] == "end_stream":
            assert event[1] not in ended
            ended.add(event[1])
    assert ended == seen == {0, 1, 2}
    if batch_size:
        assert all(len(b.frames) <= batch_size for b in log.batches["out"])


def test_video_loop_goes_on_until_max_frames(log, videos):
    result = run(video_graph(log, [videos["short"]], loop=True), max_frames=7)

    assert result.error is None
    frames = frames_of(log)
    assert [f.frame_num for f in frames] == list(range(7))
    for frame, colour in zip(frames, [RED, GREEN, BLUE, RED, GREEN, BLUE, RED], strict=True):
        assert_colour(frame.image, colour)
    pts = [f.pts for f in frames]
    steps = {b - a for a, b in zip(pts, pts[1:])}
    assert len(steps) == 1  # one frame duration apart, also across the restarts
    assert steps.pop() > 0
    assert log.ends("out") == [0]


def test_missing_video_is_a_clear_node_error(log, videos, tmp_path):
    missing = tmp_path / "nowhere" / "missing.mp4"
    result = run(video_graph(log, [videos["short"], missing]))

    error = result.error
    assert isinstance(error, NodeError)
    assert str(error).startswith(f"node 'src' (source.video): cannot open video '{missing}'")
    assert isinstance(error.__cause__, ConfigError)
    assert frames_of(log) == []  # checked before any frame flows


# -- source.images --------------------------------------------------------------------------------


@pytest.fixture
def images(tmp_path):
    """PNG files written with OpenCV (which takes BGR): red 20x10, green 30x16, blue 8x8."""
    folder = tmp_path / "shots"
    (folder / "nested").mkdir(parents=True)
    files = {}
    for name, rgb, (w, hgt) in [("red", (255, 0, 0), (20, 10)), ("green", (0, 255, 0), (30, 16)),
                                ("blue", (0, 0, 255), (8, 8))]:  # fmt: skip
        bgr = np.empty((hgt, w, 3), dtype=np.uint8)
        bgr[:] = rgb[::-1]
        files[name] = folder / f"{name}.png"
        assert cv2.imwrite(str(files[name]), bgr)
    files["nested"] = folder / "nested" / "deep.png"
    assert cv2.imwrite(str(files["nested"]), np.zeros((4, 4, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    files["folder"] = folder
    return files


def images_graph(log: h.Log, path: object, **params) -> object:
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in params.items())
    return h.graph(
        f"""
        nodes:
          - {{name: src, type: source.images, params: {{path: '{path}'{extra}}}}}
          - {{name: out, type: test.sink, input: src, params: {{tag: $TAG}}}}
        """,
        log,
    )


def test_images_single_file_is_rgb(log, images):
    result = run(images_graph(log, images["red"]))

    assert result.error is None
    [frame] = frames_of(log)
    assert (frame.width, frame.height) == (20, 10)
    assert frame.image.shape == (10, 20, 3)
    assert np.all(frame.image[..., 0] == 255)  # red is channel 0: converted from OpenCV's BGR
    assert np.all(frame.image[..., 1:] == 0)
    assert frame.meta["path"] == str(images["red"])
    assert result.streams == {0: str(images["red"])}
    assert log.ends("out") == [0]


def test_images_folder_in_name_order_with_sizes(log, images):
    assert run(images_graph(log, images["folder"])).error is None

    frames = frames_of(log)
    assert [Path(f.meta["path"]).name for f in frames] == ["blue.png", "green.png", "red.png"]
    assert [(f.width, f.height) for f in frames] == [(8, 8), (30, 16), (20, 10)]
    assert [f.image.shape for f in frames] == [(8, 8, 3), (16, 30, 3), (10, 20, 3)]
    assert [tuple(int(v) for v in f.image[0, 0]) for f in frames] == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    assert [f.frame_num for f in frames] == [0, 1, 2]
    assert {f.source_id for f in frames} == {0}


def test_images_glob_and_recursive_glob(log, images):
    assert run(images_graph(log, f"{images['folder']}/[gr]*.png")).error is None
    assert [f.meta["path"] for f in frames_of(log)] == [str(images["green"]), str(images["red"])]

    log2 = h.new_log()
    try:
        assert run(images_graph(log2, f"{images['folder']}/**/*.png")).error is None
        assert sorted(f.meta["path"] for f in frames_of(log2)) == sorted(
            str(images[k]) for k in ("red", "green", "blue", "nested")
        )
    finally:
        h.drop_log(log2)


def test_images_loop_batches_and_timestamps(log, images):
    assert run(images_graph(log, images["folder"], loop=2, fps=4.0, batch_size=2)).error is None

    assert [len(b.frames) for b in log.batches["out"]] == [2, 2, 2]
    frames = frames_of(log)
    assert [f.frame_num for f in frames] == list(range(6))
    assert [f.pts for f in frames] == [n * 250_000_000 for n in range(6)]
    assert [Path(f.meta["path"]).stem for f in frames] == ["blue", "green", "red"] * 2


def test_images_none_found_is_an_error(log, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for location in (empty, tmp_path / "nothing-*.png"):
        result = run(images_graph(log, location))
        assert isinstance(result.error, NodeError)
        assert str(result.error) == f"node 'src' (source.images): no images found at '{location}'"
        assert isinstance(result.error.__cause__, ConfigError)


def test_images_undecodable_file_is_an_error(log, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is no PNG")
    result = run(images_graph(log, bad))
    assert str(result.error) == f"node 'src' (source.images): cannot decode image '{bad}'"


# -- python --------------------------------------------------------------------------------------


STEPS = """
from dsflow import Batch

def tag(batch, label="none", times=1):
    for frame in batch.frames:
        frame.meta["label"] = label * times

def with_ctx(batch, ctx):
    for frame in batch.frames:
        frame.meta["ctx"] = [ctx.name, ctx.kind, ctx.device, ctx.xp.__name__, ctx.stream]

def first_only(batch):
    return Batch(batch.frames[:1])

def wrong(batch):
    return 42
"""


@pytest.fixture
def steps(tmp_path, monkeypatch):
    """A module of step functions, importable by a unique name and as a file."""
    name = f"steps_{uuid.uuid4().hex[:12]}"
    path = tmp_path / f"{name}.py"
    path.write_text(STEPS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, path
    sys.modules.pop(name, None)


def python_graph(log: h.Log, params: str) -> object:
    return h.graph(
        f"""
        nodes:
          - {{name: cam, type: source.testpattern, params: {{streams: 2, frames: 3, width: 8, height: 8}}}}
          - {{name: py, type: python, input: cam, params: {params}}}
          - {{name: out, type: test.sink, input: py, params: {{tag: $TAG}}}}
        """,
        log,
    )


def test_python_function_from_a_module_with_kwargs(log, steps):
    module, _ = steps
    result = run(python_graph(log, f"{{function: '{module}:tag', kwargs: {{label: ab, times: 2}}}}"))

    assert result.error is None
    frames = frames_of(log)
    assert len(frames) == 6
    assert all(f.meta == {"label": "abab"} for f in frames)


def test_python_function_from_a_file(log, steps):
    _, path = steps
    result = run(python_graph(log, f"{{function: '{path}:tag'}}"))

    assert result.error is None
    assert [f.meta["label"] for f in frames_of(log)] == ["none"] * 6


def test_python_function_gets_ctx_when_it_asks(log, steps):
    module, _ = steps
    assert run(python_graph(log, f"{{function: '{module}:with_ctx'}}")).error is None
    assert all(f.meta["ctx"] == ["py", "python", "cpu", "numpy", None] for f in frames_of(log))


def test_python_function_may_return_a_new_batch(log, steps):
    module, _ = steps
    assert run(python_graph(log, f"{{function: '{module}:first_only'}}")).error is None
    assert [(f.source_id, f.frame_num) for f in frames_of(log)] == [(0, 0), (0, 1), (0, 2)]


def test_python_function_returning_a_wrong_type_is_an_error(log, steps):
    module, _ = steps
    result = run(python_graph(log, f"{{function: '{module}:wrong'}}"))

    assert isinstance(result.error, NodeError)
    assert str(result.error) == (f"node 'py' (python): TypeError: {module}:wrong must return a Batch or None (got int)")
    assert isinstance(result.error.__cause__, TypeError)
    assert frames_of(log) == []


@pytest.mark.parametrize("spec", ["nocolon", "module:", "module:not-a-name"])
def test_python_bad_function_spec_fails_validation(log, spec):
    with pytest.raises(ConfigError, match="must look like 'module:function'"):
        python_graph(log, f"{{function: '{spec}'}}")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz:f'"),
        ("json:no_such_function", "module 'json' has no function 'no_such_function'"),
        ("missing_file.py:f", "file 'missing_file.py' not found"),
    ],
)
def test_python_function_that_cannot_be_loaded_fails_at_start(log, spec, message):
    result = run(python_graph(log, f"{{function: '{spec}'}}"))
    assert isinstance(result.error, NodeError)
    assert str(result.error).startswith("node 'py' (python): ")
    assert message in str(result.error)
    assert isinstance(result.error.__cause__, ConfigError)


# -- sink.jsonl and sink.null ----------------------------------------------------------------------


OBJECTS = """
import numpy as np
from dsflow import Attribute, ObjectMeta

def add_objects(batch):
    for frame in batch.frames:
        car = ObjectMeta(10, 20, 30.5, 40, class_id=2, confidence=0.75, label="car", component_id=1, object_id=7)
        car.attributes.append(Attribute("red", class_id=3, confidence=0.5, name="color", component_id=3))
        car.extra["score"] = np.float32(0.25)
        car.extra["points"] = np.array([[1, 2], [3, 4]], dtype=np.int16)
        car.extra["count"] = np.int64(3)
        plate = ObjectMeta(12, 30, 8, 4, class_id=5, label="plate", component_id=2, parent=car)
        frame.objects += [car, plate]
        frame.meta["note"] = f"frame {frame.frame_num}"
"""


def jsonl_graph(tmp_path: Path, out: str, *, append: bool = False, objects: bool = True) -> object:
    steps = tmp_path / "objects.py"
    steps.write_text(OBJECTS, encoding="utf-8")
    function = f"{steps}:add_objects" if objects else "dsflow.examples:mean_brightness"
    return h.graph(
        f"""
        nodes:
          - {{name: cam, type: source.testpattern, params: {{streams: 2, frames: 2, width: 16, height: 8, fps: 10}}}}
          - {{name: py, type: python, input: cam, params: {{function: '{function}'}}}}
          - {{name: meta, type: sink.jsonl, input: py, params: {{path: '{out}', append: {str(append).lower()}}}}}
        """
    )


def read_jsonl(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_jsonl_records_frames_and_objects(tmp_path):
    out = tmp_path / "deep" / "folder" / "meta.jsonl"  # folders are created
    assert run(jsonl_graph(tmp_path, str(out))).error is None

    records = read_jsonl(out)
    assert [(r["source_id"], r["frame_num"]) for r in records] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    first = records[2]
    assert {k: v for k, v in first.items() if k != "objects"} == {
        "source_id": 0,
        "frame_num": 1,
        "pts": 100_000_000,
        "width": 16,
        "height": 8,
        "meta": {"note": "frame 1"},
    }
    car, plate = first["objects"]
    assert car == {
        "left": 10,
        "top": 20,
        "width": 30.5,
        "height": 40,
        "class_id": 2,
        "label": "car",
        "confidence": 0.75,
        "component_id": 1,
        "object_id": 7,
        "parent": None,
        "attributes": [{"name": "color", "label": "red", "class_id": 3, "confidence": 0.5, "component_id": 3}],
        "extra": {"score": 0.25, "points": [[1, 2], [3, 4]], "count": 3},
    }
    assert plate == {
        "left": 12,
        "top": 30,
        "width": 8,
        "height": 4,
        "class_id": 5,
        "label": "plate",
        "confidence": 1.0,
        "component_id": 2,
        "object_id": -1,
        "parent": 0,  # index of the car in the same frame's list
        "attributes": [],
    }


def test_jsonl_replaces_or_appends(tmp_path):
    out = tmp_path / "meta.jsonl"
    for _ in range(2):
        assert run(jsonl_graph(tmp_path, str(out), objects=False)).error is None
    assert len(read_jsonl(out)) == 4  # replaced

    assert run(jsonl_graph(tmp_path, str(out), append=True, objects=False)).error is None
    records = read_jsonl(out)
    assert len(records) == 8
    assert records[:4] == records[4:]
    assert all("brightness" in r["meta"] for r in records)


def test_jsonl_dash_writes_to_stdout(tmp_path, write_graph):
    path = write_graph(
        """
        device: cpu
        nodes:
          - name: cam
            type: source.testpattern
            params: {streams: 2, frames: 3, width: 16, height: 8}
          - name: meta
            type: sink.jsonl
            input: cam
            params: {path: '-'}
        """
    )
    proc = subprocess.run(
        [sys.executable, "-m", "dsflow", "run", "-q", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["source_id"], r["frame_num"]) for r in records] == [(s, n) for n in range(3) for s in range(2)]
    assert all(r["objects"] == [] and (r["width"], r["height"]) == (16, 8) for r in records)
    assert list(tmp_path.iterdir()) == [path]  # no file named '-'


def test_null_sink_takes_everything():
    graph = h.graph(
        """
        nodes:
          - {name: cam, type: source.testpattern, params: {streams: 2, frames: 5, width: 8, height: 8}}
          - {name: sink, type: sink.null, input: cam}
        """
    )
    result = run(graph)
    assert result.error is None
    stats = {s.name: s for s in result.nodes}
    assert (stats["sink"].batches, stats["sink"].frames) == (5, 10)
    assert result.stream_frames == {0: 5, 1: 5}
