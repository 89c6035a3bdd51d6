"""graphs/back-to-back.yaml from the command line: cards, the squares on each card, each square's shade.

Expected objects come from the scene description in graphs/b2b/make_models.py, the script that
drew the picture and built the models. The graph also runs on the mirrored picture, so the boxes
must follow the pixels.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from helpers_env import load_script

REPO = Path(__file__).resolve().parents[1]
GRAPH = REPO / "graphs" / "back-to-back.yaml"
B2B = REPO / "graphs" / "b2b"
FRAMES = 30
TOLERANCE = 2.0
"""Pixels a box edge may be off: the symbol crops are resized to 256×256 with nearest-neighbour scaling."""


mm = load_script(B2B / "make_models.py", "b2b_make_models")
WIDTH, HEIGHT = mm.SCENE_SIZE


def dsflow(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The dsflow command in a fresh process, from the repository root (where the graph's image path points)."""
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTHONWARNINGS", None)
    command = [sys.executable, "-m", "dsflow", *map(str, args)]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def mirrored(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    left, top, width, height = box
    return WIDTH - left - width, top, width, height


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


SCORE = sigmoid(mm.COVERAGE_GAIN * 0.5)
"""Detection confidence of a box whose best cell lies wholly inside it."""


def shade_confidence(colour: str, shade: str) -> float:
    """What shade.onnx gives a crop of one flat colour: softmax of ±gain · (mean intensity − 0.5)."""
    light = mm.SHADE_GAIN * (sum(mm.SYMBOL_COLOURS[(colour, shade)]) / 3 / 255 - 0.5)
    return sigmoid(2 * light if shade == "light" else -2 * light)


@pytest.fixture(scope="module", params=["scene", "mirrored"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the graph on the committed picture, or on its mirror image (written to a tmp folder)."""
    folder = tmp_path_factory.mktemp(request.param)
    out = folder / "out.jsonl"
    overrides = ["--set", f"metadata.path={out}"]
    place = lambda box: box  # noqa: E731
    if request.param == "mirrored":
        picture = folder / "mirrored.png"
        assert cv2.imwrite(str(picture), cv2.flip(cv2.imread(str(B2B / "scene.png")), 1))
        overrides += ["--set", f"scene.path={picture}"]
        place = mirrored
    result = dsflow("run", GRAPH, *overrides)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {"result": result, "records": records, "place": place, "out": out}


def near(obj: dict[str, Any], box: tuple[int, int, int, int]) -> bool:
    got = (obj["left"], obj["top"], obj["left"] + obj["width"], obj["top"] + obj["height"])
    left, top, width, height = box
    return all(abs(g - w) <= TOLERANCE for g, w in zip(got, (left, top, left + width, top + height), strict=True))


def the_one(objects: list[dict[str, Any]], box: tuple[int, int, int, int], what: str) -> int:
    """Index of the only object within the tolerance of ``box``."""
    found = [i for i, obj in enumerate(objects) if near(obj, box)]
    assert len(found) == 1, f"{what} at {box}: {len(found)} objects within {TOLERANCE} px in {objects}"
    return found[0]


def test_every_frame_reaches_the_file(run: dict[str, Any]) -> None:
    records = run["records"]
    assert [(r["source_id"], r["frame_num"]) for r in records] == [(0, n) for n in range(FRAMES)]
    assert {(r["width"], r["height"]) for r in records} == {(WIDTH, HEIGHT)}


def test_summary_lists_the_expanded_stages(run: dict[str, Any]) -> None:
    out = run["result"].stdout
    assert f", {FRAMES} frames" in out
    stages = [(f"{name}/{stage}", f"nvinfer.{stage}") for name in ("cards", "symbols", "shade")
              for stage in ("preprocess", "infer", "parse")]  # fmt: skip
    for node, kind in [("scene", "source.images"), *stages, ("metadata", "sink.jsonl")]:
        row = r"│ " + re.escape(node) + r" +│ " + re.escape(kind) + rf" +│ +{FRAMES} │ +{FRAMES} │"
        assert re.search(row, out), f"no row for {node} in\n{out}"
    assert out.splitlines()[-1] == f"metadata (sink.jsonl) wrote {run['out']}"  # where the output went


def test_cards_symbols_and_shades(run: dict[str, Any]) -> None:
    place = run["place"]
    for record in run["records"]:
        objects = record["objects"]
        assert len(objects) == len(mm.SCENE) + sum(len(card.symbols) for card in mm.SCENE)
        for card in mm.SCENE:
            c = the_one(objects, place(card.box), f"{card.colour} card")
            assert {k: v for k, v in objects[c].items() if k not in ("left", "top", "width", "height")} == {
                "class_id": mm.CARD_LABELS.index(card.colour),
                "label": card.colour,
                "confidence": pytest.approx(SCORE, abs=1e-6),
                "component_id": 1,
                "object_id": -1,
                "parent": None,
                "attributes": [],
            }
            for symbol in card.symbols:
                s = the_one(objects, place(symbol.box), f"{symbol.colour} square")
                shade = {
                    "name": "shade",
                    "label": symbol.shade,
                    "class_id": mm.SHADE_LABELS.index(symbol.shade),
                    # the crop holds the square alone: no card pixel moves the mean
                    "confidence": pytest.approx(shade_confidence(symbol.colour, symbol.shade), abs=1e-5),
                    "component_id": 3,
                }
                assert {k: v for k, v in objects[s].items() if k not in ("left", "top", "width", "height")} == {
                    "class_id": mm.SYMBOL_LABELS.index(symbol.colour),
                    "label": symbol.colour,
                    "confidence": pytest.approx(SCORE, abs=1e-6),
                    "component_id": 2,
                    "object_id": -1,
                    "parent": c,
                    "attributes": [shade],
                }


def test_show_prints_the_expanded_stages() -> None:
    result = dsflow("show", GRAPH)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f"graph {GRAPH}: 11 nodes, 10 connections",
        "  scene (source.images)",
        "  cards/preprocess (nvinfer.preprocess)  [in <- scene]",
        "  cards/infer (nvinfer.infer)  [in <- cards/preprocess]",
        "  cards/parse (nvinfer.parse)  [in <- cards/infer]",
        "  symbols/preprocess (nvinfer.preprocess)  [in <- cards/parse]",
        "  symbols/infer (nvinfer.infer)  [in <- symbols/preprocess]",
        "  symbols/parse (nvinfer.parse)  [in <- symbols/infer]",
        "  shade/preprocess (nvinfer.preprocess)  [in <- symbols/parse]",
        "  shade/infer (nvinfer.infer)  [in <- shade/preprocess]",
        "  shade/parse (nvinfer.parse)  [in <- shade/infer]",
        "  metadata (sink.jsonl)  [in <- shade/parse]",
    ]


def test_the_committed_files_are_what_the_script_makes(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, B2B / "make_models.py", tmp_path], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    names = ["cards.onnx", "symbols.onnx", "shade.onnx", "cards.txt", "symbols.txt", "shade.txt"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (B2B / name).read_bytes(), f"{name} differs from the committed one"
    # PNG bytes depend on the zlib build: compare the pictures
    made, committed = (cv2.imread(str(folder / "scene.png"), cv2.IMREAD_UNCHANGED) for folder in (tmp_path, B2B))
    assert np.array_equal(made, committed)
    assert np.array_equal(cv2.cvtColor(committed, cv2.COLOR_BGR2RGB), mm.draw_scene())


def test_the_scene_keeps_its_promises() -> None:
    """Cards apart or touching only across colours, one or two squares each, all colours and shades used."""
    assert len({card.colour for card in mm.SCENE}) == 2
    for card in mm.SCENE:
        assert 1 <= len(card.symbols) <= 2
        for s in card.symbols:  # inside, with room: a square on the edge would merge with the table
            assert card.left + 8 <= s.left < s.left + s.size + 8 <= card.left + card.width
            assert card.top + 8 <= s.top < s.top + s.size + 8 <= card.top + card.height
    touching = [
        (a.colour, b.colour)
        for i, a in enumerate(mm.SCENE)
        for b in mm.SCENE[i + 1 :]
        if a.left <= b.left + b.width and b.left <= a.left + a.width and a.top <= b.top + b.height
        and b.top <= a.top + a.height
    ]  # fmt: skip
    assert touching == [("yellow", "white")]
    assert sorted((s.colour, s.shade) for card in mm.SCENE for s in card.symbols) == sorted(mm.SYMBOL_COLOURS)
