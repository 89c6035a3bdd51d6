"""``sink.video`` and ``sink.images`` in real graphs: the written files are decoded and their pixels checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import helpers_nodes as h
import numpy as np
import pytest

from dsflow import Attribute, ConfigError, GraphError, NodeError, ObjectMeta
from dsflow.nodes.annotate import PALETTE, annotate, object_colour, object_text

av = pytest.importorskip("av", reason="sink.video needs PyAV")

REPO = Path(__file__).resolve().parents[1]
SCENE = (100, 120, 140)  # RGB of the test picture
W, H = 160, 120
# lossless H.264 in 4:4:4: only the RGB <-> YUV rounding remains
EXACT = "codec: libx264, crf: 0, pix-fmt: yuv444p"

OBJECTS = '''
from dsflow import Attribute, ObjectMeta


def add(batch):
    """A face with attributes and landmarks, and an eye inside it (a child)."""
    for frame in batch.frames:
        face = ObjectMeta(20, 30, 100, 60, class_id=0, confidence=0.98, label="face", component_id=1)
        face.attributes += [Attribute("male", name="gender"), Attribute("34", name="age")]
        face.extra["landmarks"] = [100.0, 70.0, 110.0, 70.0]
        eye = ObjectMeta(40, 50, 20, 20, class_id=1, label="eye", component_id=2, parent=face)
        frame.objects += [face, eye]
'''


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    """A one-colour picture and the python function that puts known objects on it."""
    image = np.empty((H, W, 3), dtype=np.uint8)
    image[:] = SCENE
    cv2.imwrite(str(tmp_path / "scene.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (tmp_path / "objects.py").write_text(OBJECTS)
    return tmp_path


def graph_text(source: str, sink: str, objects: Path | None = None) -> str:
    middle = "src"
    text = f"nodes:\n  - {{name: src, {source}}}\n"
    if objects is not None:
        text += f"  - {{name: draw, type: python, input: src, params: {{function: '{objects}/objects.py:add'}}}}\n"
        middle = "draw"
    return text + f"  - {{name: out, input: {middle}, {sink}}}\n"


def run(text: str) -> None:
    result = h.run_on_cpu(h.graph(text))
    if result.error is not None:
        raise result.error


def decode(path: Path) -> tuple[list[np.ndarray], object]:
    with av.open(str(path)) as container:
        track = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(track)]
        return frames, track.average_rate


def near(pixel: np.ndarray, rgb: tuple[int, int, int], tolerance: int) -> bool:
    return bool(np.abs(pixel.astype(int) - rgb).max() <= tolerance)


FACE = ObjectMeta(20, 30, 100, 60, class_id=0, component_id=1)
EYE = ObjectMeta(40, 50, 20, 20, class_id=1, component_id=2, parent=FACE)


# -- drawing ---------------------------------------------------------------------------------


def test_text_of_objects() -> None:
    face = ObjectMeta(0, 0, 1, 1, label="face", confidence=0.98)
    face.attributes += [Attribute("male"), Attribute("34")]
    assert object_text(face) == "face 0.98 | male, 34"
    assert object_text(face, confidence=False) == "face | male, 34"
    assert object_text(ObjectMeta(0, 0, 1, 1, label="HELLO 42")) == "HELLO 42"  # OCR: the label is the text
    assert object_text(ObjectMeta(0, 0, 1, 1, class_id=3, confidence=0.5)) == "3 0.50"


def test_colours_are_fixed_per_component_and_class() -> None:
    assert object_colour(FACE) == PALETTE[(0 + 5 * 1) % len(PALETTE)]
    assert object_colour(EYE) == PALETTE[(1 + 5 * 2) % len(PALETTE)]
    assert object_colour(ObjectMeta(0, 0, 1, 1, class_id=1, component_id=1)) != object_colour(FACE)


def test_annotate_leaves_the_input_alone() -> None:
    image = np.full((H, W, 3), SCENE, dtype=np.uint8)
    out = annotate(image, [FACE], thickness=2)
    assert np.all(image == SCENE)
    assert tuple(out[60, 20]) == object_colour(FACE)
    assert tuple(out[60, 60]) == SCENE


def test_a_child_is_dashed_only_when_its_parent_is_drawn() -> None:
    image = np.full((H, W, 3), SCENE, dtype=np.uint8)
    left_edge = [tuple(p) for p in annotate(image, [FACE, EYE], thickness=2)[50:70, 40]]
    assert SCENE in left_edge  # gaps between the dashes
    alone = [tuple(p) for p in annotate(image, [EYE], thickness=2)[50:70, 40]]
    assert alone == [object_colour(EYE)] * 20  # solid: e.g. the final faces drawn without their proposals


def test_a_quad_is_outlined_and_a_label_set_from_the_text_is_written_once() -> None:
    line = ObjectMeta(20, 30, 100, 30, label="HELLO", component_id=1)
    line.attributes.append(Attribute("HELLO", name="text"))  # set-object-label copied it to the label
    line.extra["quad"] = np.array([[20.0, 40.0], [120.0, 30.0], [120.0, 50.0], [20.0, 60.0]])
    assert object_text(line) == "HELLO"
    out = annotate(np.full((H, W, 3), SCENE, dtype=np.uint8), [line], thickness=1)
    assert tuple(out[50, 20]) == object_colour(line)  # on the quad's left side
    assert tuple(out[31, 25]) == SCENE  # the box's top-left corner is outside the quad: not drawn


# -- sink.video ------------------------------------------------------------------------------


def test_video_has_every_frame_and_the_boxes(scene: Path) -> None:
    out = scene / "out" / "video.mp4"
    run(
        graph_text(
            f"type: source.images, params: {{path: '{scene}/scene.png', loop: 6, fps: 25}}",
            f"type: sink.video, params: {{path: '{out}', thickness: 4, {EXACT}}}",
            scene,
        )
    )
    frames, rate = decode(out)
    assert len(frames) == 6
    assert rate == 25  # from the frames' timestamps
    face, eye = object_colour(FACE), object_colour(EYE)
    for image in frames:
        assert image.shape == (H, W, 3)
        assert near(image[60, 20], face, 3)  # left edge of the face box
        assert near(image[89, 70], face, 3)  # bottom edge (last row inside the box)
        assert near(image[80, 60], SCENE, 3)  # inside the face: the scene
        assert near(image[54, 59], eye, 3)  # the eye's dashed right edge: a dash...
        assert near(image[61, 59], SCENE, 3)  # ...and a gap
        assert near(image[70, 110], face, 3)  # a landmark
        band = image[10:30, 20:120]  # the label band above the face: white text on the (dark) box colour
        assert (np.abs(band.astype(int) - face).max(axis=2) <= 3).mean() > 0.5
        assert (band.min(axis=2) > 200).any()


def test_default_codec_and_odd_sizes(scene: Path) -> None:
    out = scene / "odd.mp4"
    run(
        graph_text(
            "type: source.testpattern, params: {frames: 4, width: 63, height: 47, fps: 10}",
            f"type: sink.video, params: {{path: '{out}', codec: mpeg4, bit-rate: 4000000}}",
        )
    )
    frames, rate = decode(out)
    assert len(frames) == 4
    assert frames[0].shape == (48, 64, 3)  # 4:2:0 needs even sizes: one replicated row and column
    assert rate == 10


def test_several_streams_make_several_files(scene: Path) -> None:
    pattern = scene / "cams" / "cam-{source_id}.mp4"
    run(
        graph_text(
            "type: source.testpattern, params: {streams: 3, frames: 5, width: 64, height: 48}",
            f"type: sink.video, params: {{path: '{pattern}', {EXACT}}}",
        )
    )
    assert sorted(p.name for p in (scene / "cams").iterdir()) == ["cam-0.mp4", "cam-1.mp4", "cam-2.mp4"]
    bars = []
    for i in range(3):
        frames, rate = decode(scene / "cams" / f"cam-{i}.mp4")
        assert len(frames) == 5
        assert frames[0].shape == (48, 64, 3)
        assert rate == 30
        bars.append(frames[0][24, 4])
    assert not near(bars[0], tuple(bars[1]), 20)  # each stream's pattern is shifted: different files


def test_several_streams_need_source_id_in_the_path(scene: Path) -> None:
    text = graph_text(
        "type: source.testpattern, params: {streams: 2, frames: 3, width: 32, height: 32}",
        f"type: sink.video, params: {{path: '{scene}/one.mp4', codec: mpeg4}}",
    )
    with pytest.raises(NodeError, match=r"out: frames of several streams arrived but 'path' .* has no \{source_id\}"):
        run(text)


def test_stop_flushes_the_file(scene: Path) -> None:
    """An endless source ended by --max-frames: the file is complete and decodable."""
    out = scene / "endless.mp4"
    graph = scene / "g.yaml"
    graph.write_text(
        graph_text(
            "type: source.testpattern, params: {frames: 0, width: 64, height: 48}",
            f"type: sink.video, params: {{path: '{out}', codec: libx264}}",
        )
    )
    env = {**os.environ, "COLUMNS": "200"}
    command = [sys.executable, "-m", "dsflow", "run", str(graph), "--max-frames", "7", "--device", "cpu"]
    done = subprocess.run(command, cwd=scene, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    frames, _ = decode(out)
    assert len(frames) == 7


def test_a_single_frame_is_written_at_30_fps(scene: Path) -> None:
    out = scene / "one.mp4"
    run(
        graph_text(
            f"type: source.images, params: {{path: '{scene}/scene.png'}}",
            f"type: sink.video, params: {{path: '{out}', {EXACT}}}",
        )
    )
    frames, rate = decode(out)
    assert len(frames) == 1
    assert rate == 30


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("out/{camera}.mp4", r"sink.video: parameter 'path' may use only \{source_id\} \(got \{camera\}"),
        ("out/{source_id.mp4", r"sink.video: parameter 'path' is not a valid pattern"),
        ("out/{}.mp4", r"may use only \{source_id\} \(got \{\}"),
    ],
)
def test_bad_video_path_patterns(path: str, message: str) -> None:
    text = graph_text("type: source.testpattern", f"type: sink.video, params: {{path: '{path}'}}")
    with pytest.raises((GraphError, ConfigError), match=message):
        h.graph(text)


def test_unknown_codec_fails_at_start(scene: Path) -> None:
    text = graph_text(
        "type: source.testpattern, params: {frames: 2, width: 32, height: 32}",
        f"type: sink.video, params: {{path: '{scene}/x.mp4', codec: nosuchcodec}}",
    )
    with pytest.raises(
        NodeError, match=r"node 'out' \(sink.video\): out: unknown video encoder 'nosuchcodec' \(expected one of PyAV's"
    ):
        run(text)
    assert not (scene / "x.mp4").exists()


def test_back_to_back_graph_with_a_video_branch(tmp_path: Path) -> None:
    """The example of docs/how-to-back-to-back.md: a sink.video next to the JSON Lines sink."""
    video, jsonl = tmp_path / "b2b.mp4", tmp_path / "b2b.jsonl"
    text = (REPO / "graphs" / "back-to-back.yaml").read_text()
    text = text.replace("out/back-to-back.jsonl", str(jsonl))
    text += (
        "\n  - name: video\n    type: sink.video\n    input: shade\n"
        f"    params: {{path: '{video}', codec: libx264, crf: 0, pix-fmt: yuv444p}}\n"
    )
    graph = tmp_path / "b2b.yaml"
    graph.write_text(text.replace("{config: b2b/", f"{{config: {REPO}/graphs/b2b/"))
    command = [sys.executable, "-m", "dsflow", "run", str(graph), "--device", "cpu"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert len(jsonl.read_text().splitlines()) == 30
    frames, rate = decode(video)
    assert len(frames) == 30
    assert rate == 30
    assert frames[0].shape == (480, 640, 3)
    card = object_colour(ObjectMeta(0, 0, 1, 1, class_id=0, component_id=1))  # white card at (40, 40), 240×160
    assert near(frames[0][120, 40], card, 3)
    picture = cv2.cvtColor(cv2.imread(str(REPO / "graphs" / "b2b" / "scene.png")), cv2.COLOR_BGR2RGB)
    assert near(frames[0][120, 160], tuple(picture[120, 160]), 3)  # inside the card, away from its squares


# -- sink.images -----------------------------------------------------------------------------


def test_snapshots_every_n_frames(scene: Path) -> None:
    pattern = scene / "snaps" / "s{source_id}-{frame_num:03d}.png"
    run(
        graph_text(
            "type: source.testpattern, params: {streams: 2, frames: 7, width: 64, height: 48}",
            f"type: sink.images, params: {{path: '{pattern}', every: 3}}",
        )
    )
    names = sorted(p.name for p in (scene / "snaps").iterdir())
    assert names == [f"s{s}-{n:03d}.png" for s in (0, 1) for n in (0, 3, 6)]


def test_snapshots_are_annotated(scene: Path) -> None:
    run(
        graph_text(
            f"type: source.images, params: {{path: '{scene}/scene.png', loop: 2}}",
            f"type: sink.images, params: {{path: '{scene}/snap-{{frame_num}}.png', thickness: 4}}",
            scene,
        )
    )
    for n in (0, 1):
        image = cv2.cvtColor(cv2.imread(str(scene / f"snap-{n}.png")), cv2.COLOR_BGR2RGB)
        assert tuple(image[60, 20]) == object_colour(FACE)  # PNG: exact
        assert tuple(image[80, 60]) == SCENE
        assert tuple(image[54, 59]) == object_colour(EYE)
        assert tuple(image[61, 59]) == SCENE


def test_snapshots_of_some_components_only(scene: Path) -> None:
    run(
        graph_text(
            f"type: source.images, params: {{path: '{scene}/scene.png'}}",
            f"type: sink.images, params: {{path: '{scene}/snap-{{frame_num}}.png', thickness: 4, components: [2]}}",
            scene,
        )
    )
    image = cv2.cvtColor(cv2.imread(str(scene / "snap-0.png")), cv2.COLOR_BGR2RGB)
    assert tuple(image[60, 20]) == SCENE  # the face (component 1) is not drawn
    assert [tuple(p) for p in image[50:70, 40]] == [object_colour(EYE)] * 20  # the eye is, solid


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("out/snap.png", r"sink.images: parameter 'path' must contain \{frame_num\}"),
        ("out/{frame}.png", r"may use only \{frame_num\} and \{source_id\} \(got \{frame\}"),
        ("out/{frame_num}.nope", r"OpenCV cannot write '.nope' files"),
    ],
)
def test_bad_snapshot_patterns(path: str, message: str) -> None:
    text = graph_text("type: source.testpattern", f"type: sink.images, params: {{path: '{path}'}}")
    with pytest.raises((GraphError, ConfigError), match=message):
        h.graph(text)
