"""examples/dsflow-plugin-example: installed with pip, found through its entry point, used by name.

The expected objects come from the scene description in the example's demo/make_models.py, the
script that drew the picture and built the models: every tile whose colour excess reaches the
config's pre-cluster-threshold, with its exact box, and the tags of the channels above one half.
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
from onnx_models import run_model, sample_layers
from test_plugins import dsflow_cli, install_copy, table_row

from dsflow import Attribute, PluginManager
from dsflow.model import Layer
from dsflow.testing import (
    assert_attributes_equal,
    assert_detections_equal,
    load_network,
    load_tensors,
    run_bbox_parser,
    run_classifier_parser,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "dsflow-plugin-example"
DEMO = EXAMPLE / "demo"
THRESHOLD = 0.3
"""pre-cluster-threshold of demo/tiles_pgie.txt."""
NET_SCALE = np.float32(0.0039215697906911373)


mm = load_script(DEMO / "make_models.py", "example_make_models")


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def expected_tiles(threshold: float = THRESHOLD) -> list[Any]:
    """The tiles the detector reports, in its order: by class, then by the row and column of the centre cell."""
    found = [t for t in mm.SCENE if t.excess >= threshold]

    def cell(t: Any) -> tuple[int, int, int]:
        return t.class_id, (t.top + t.height // 2) // mm.STRIDE, (t.left + t.width // 2) // mm.STRIDE

    return sorted(found, key=cell)


def expected_tags(tile: Any) -> list[tuple[str, int, float]]:
    """(label, class_id, confidence) of the tags of a tile: channels whose sigmoid logit passes 0.5."""
    tags = []
    for c, value in enumerate(tile.colour):
        p = sigmoid(mm.GAIN * (value / 255 - 0.5))
        if p > 0.5:
            tags.append((mm.TAGS[c], c, p))
    return tags


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where examples/dsflow-plugin-example is installed (pip, offline, no build isolation)."""
    return install_copy(EXAMPLE, tmp_path_factory.mktemp("plugin-example"))


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A plugin manager with the example package loaded from its source folder, as a graph's plugins: would."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    pm = PluginManager(autoload=False)
    pm.load_module("dsflow_plugin_example")
    yield pm
    for name in [m for m in sys.modules if m.split(".")[0] == "dsflow_plugin_example"]:
        del sys.modules[name]


def scene_outputs() -> list[Layer]:
    """The detector's outputs for the committed scene, run by ONNX Runtime as the infer node runs it."""
    image = cv2.cvtColor(cv2.imread(str(DEMO / "scene.png")), cv2.COLOR_BGR2RGB)
    x = (image.astype(np.float32) * NET_SCALE).transpose(2, 0, 1)[None]
    return sample_layers(run_model((DEMO / "centernet.onnx").read_bytes(), x))


# -- installed -----------------------------------------------------------------------------------------


def test_plugins_lists_the_example_and_its_parsers(example_site: Path) -> None:
    result = dsflow_cli("plugins", path=[example_site])
    assert (result.returncode, result.stderr) == (0, "")
    row = table_row("plugin-example", "entry point", "dsflow-plugin-example 0.1.0", "bbox parsers: example-centernet")
    following = r"\n│ +│ +│ +│ classifier parsers: example-sigmoid-multilabel +│"
    assert re.search(row + following, result.stdout), result.stdout


def test_the_demo_graph_finds_and_tags_the_tiles(example_site: Path) -> None:
    result = dsflow_cli("run", "graph.yaml", "-q", path=[example_site], cwd=DEMO)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout + result.stderr
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (record["width"], record["height"]) == mm.SCENE_SIZE
    tiles = expected_tiles()
    assert [t.name for t in tiles] == ["red", "orange", "green", "blue", "azure"]  # violet is below the threshold
    objects = record["objects"]
    assert [(o["left"], o["top"], o["width"], o["height"]) for o in objects] == [t.box for t in tiles]
    for obj, tile in zip(objects, tiles, strict=True):
        attributes = [(a["label"], a["class_id"], pytest.approx(a["confidence"], abs=1e-6)) for a in obj["attributes"]]
        assert attributes == expected_tags(tile), tile.name
        assert {a["name"] for a in obj["attributes"]} == {"tags"}
        assert (obj["class_id"], obj["label"], obj["component_id"], obj["parent"]) == (
            tile.class_id,
            mm.CLASSES[tile.class_id],
            1,
            None,
        )
        assert obj["confidence"] == pytest.approx(tile.excess, abs=1e-6)


def test_the_record_graph_writes_what_the_example_tests_read(example_site: Path, tmp_path: Path) -> None:
    result = dsflow_cli("run", DEMO / "record.yaml", "-q", "--set", f"scene.path={DEMO / 'scene.png'}",
                        path=[example_site], cwd=tmp_path)  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    recorded = tmp_path / "recorded"
    assert sorted(p.relative_to(recorded).as_posix() for p in recorded.rglob("*") if p.is_file()) == [
        "objects.jsonl", "tags/s0_f000000_o0.npz", "tags/s0_f000000_o1.npz", "tags/s0_f000000_o2.npz",
        "tags/s0_f000000_o3.npz", "tags/s0_f000000_o4.npz", "tiles/s0_f000000.npz",
    ]  # fmt: skip
    data = EXAMPLE / "tests" / "data"
    for made, committed in [("tiles/s0_f000000.npz", "tiles.npz"), ("tags/s0_f000000_o1.npz", "tags_orange.npz")]:
        got, want = load_tensors(recorded / made), load_tensors(data / committed)
        assert [lay.name for lay in got] == [lay.name for lay in want]
        assert all(np.array_equal(a.data, b.data) for a, b in zip(got, want, strict=True)), committed
        assert load_network(recorded / made) == load_network(data / committed)


def test_the_examples_own_tests_pass(example_site: Path) -> None:
    """What a plugin author runs: pytest in the plugin's folder, with the plugin installed."""
    source = example_site.parent / "src"  # the copy that was installed
    env = dict(os.environ, PYTHONPATH=str(example_site))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"]
    result = subprocess.run(command, cwd=source, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^4 passed in ", result.stdout.splitlines()[-1]), result.stdout


def test_the_demo_graph_needs_the_plugin(tmp_path: Path) -> None:
    result = dsflow_cli("validate", "graph.yaml", path=[], cwd=DEMO)
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr == (
        "error: graph.yaml:7:5: plugin 'dsflow_plugin_example' failed to import: "
        "ModuleNotFoundError: No module named 'dsflow_plugin_example'\n"
    )


def test_the_committed_demo_files_are_what_the_script_makes(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, DEMO / "make_models.py", tmp_path], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    for name in ["centernet.onnx", "tags.onnx", "tiles.txt", "tags.txt"]:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), f"{name} differs from the committed one"
    made, committed = (cv2.imread(str(folder / "scene.png"), cv2.IMREAD_UNCHANGED) for folder in (tmp_path, DEMO))
    assert np.array_equal(made, committed)  # PNG bytes depend on the zlib build: compare the pictures
    assert np.array_equal(cv2.cvtColor(committed, cv2.COLOR_BGR2RGB), mm.draw_scene())


def test_the_scene_keeps_its_promises() -> None:
    """Even coordinates, two cells or more each way, a cell apart; one below the threshold, two with two tags."""
    for i, a in enumerate(mm.SCENE):
        assert all(v % 2 == 0 for v in a.box)
        assert min(a.width, a.height) >= 2 * mm.STRIDE + 2  # a cell's middle pixel lies in the tile
        for b in mm.SCENE[i + 1 :]:  # so scanned runs end at tile edges, and the heatmap peaks are apart
            gap_x = max(b.left - (a.left + a.width), a.left - (b.left + b.width))
            gap_y = max(b.top - (a.top + a.height), a.top - (b.top + b.height))
            assert max(gap_x, gap_y) >= mm.STRIDE, (a.name, b.name)
    assert [t.name for t in mm.SCENE if t.excess < THRESHOLD] == ["violet"]
    assert [t.name for t in expected_tiles() if len(expected_tags(t)) == 2] == ["orange", "azure"]


# -- the parsers, in process -------------------------------------------------------------------------


def rows(tiles: list[Any]) -> list[tuple[float, ...]]:
    """Expected detections: (class_id, left, top, width, height, confidence)."""
    return [(t.class_id, *t.box, np.float32(t.excess)) for t in tiles]


def test_centernet_decodes_the_scene_exactly(plugins: PluginManager) -> None:
    layers = scene_outputs()
    assert [(lay.name, lay.dims) for lay in layers] == [("heatmap", (3, 32, 48)), ("size", (2, 32, 48)),
                                                         ("offset", (2, 32, 48))]  # fmt: skip
    dets = run_bbox_parser("example-centernet", layers, (192, 128, 3), num_classes=3, pre_cluster_threshold=THRESHOLD,
                           plugins=plugins)  # fmt: skip
    assert_detections_equal(dets, rows(expected_tiles()), atol=1e-6)
    box = np.stack([dets.left, dets.top, dets.width, dets.height], axis=1)
    assert box.tolist() == [list(t.box) for t in expected_tiles()]  # exact: every step is a power-of-two scaling


def test_centernet_thresholds_per_class(plugins: PluginManager) -> None:
    layers = scene_outputs()

    def names(**kwargs: Any) -> list[str]:
        dets = run_bbox_parser("example-centernet", layers, (192, 128, 3), plugins=plugins, **kwargs)
        by_box = {t.box: t.name for t in mm.SCENE}
        columns = (dets.left.tolist(), dets.top.tolist(), dets.width.tolist(), dets.height.tolist())
        return [by_box[box] for box in zip(*columns, strict=True)]

    assert names(num_classes=3, pre_cluster_threshold=0.2) == ["red", "orange", "green", "blue", "azure", "violet"]
    assert names(num_classes=3, pre_cluster_threshold=[0.5, 0.5, 0.3]) == ["red", "green", "blue", "azure"]
    assert names(num_classes=2, pre_cluster_threshold=0.2) == ["red", "orange", "green"]  # class 2 is unknown


def test_centernet_says_which_output_it_misses(plugins: PluginManager) -> None:
    layers = [lay if lay.name != "size" else Layer("wh_out", lay.data, lay.index) for lay in scene_outputs()]
    with pytest.raises(ValueError, match=r"^parser example-centernet: no output layer named 'size' or 'wh' "
                                         r"\(outputs: heatmap, wh_out, offset\)$"):  # fmt: skip
        run_bbox_parser("example-centernet", layers, (192, 128, 3), num_classes=3, plugins=plugins)
    layers = [Layer("hm", np.zeros((3, 4, 6), np.float32)), Layer("wh", np.zeros((2, 4, 5), np.float32)),
              Layer("reg", np.zeros((2, 4, 6), np.float32))]  # fmt: skip
    with pytest.raises(ValueError, match=r"^parser example-centernet: output 'size' must have shape \(2, 4, 6\), "
                                         r"got \(2, 4, 5\)$"):  # fmt: skip
        run_bbox_parser("example-centernet", layers, (24, 16, 3), num_classes=3, plugins=plugins)


def test_centernet_on_a_hand_made_head(plugins: PluginManager) -> None:
    """Original CenterNet names; a plateau of two equal cells gives two peaks; boxes are clipped to the input."""
    heat = np.zeros((2, 4, 6), np.float32)
    heat[0, 1, 1] = heat[0, 1, 2] = 0.8  # equal neighbours: both are the maximum of their neighbourhood
    heat[0, 2, 1] = 0.7  # beside a higher cell: not a peak
    heat[1, 3, 5] = 0.6
    size = np.full((2, 4, 6), 2.0, np.float32)
    size[:, 3, 5] = (4.0, 3.0)
    offset = np.full((2, 4, 6), 0.25, np.float32)
    layers = {"hm": heat, "wh": size, "reg": offset}
    dets = run_bbox_parser("example-centernet", layers, (48, 32, 3), num_classes=2, pre_cluster_threshold=0.5,
                           plugins=plugins)  # fmt: skip
    # stride 8: centre (col + 0.25) · 8, half size 8; the last box's right and bottom edges are clipped
    assert_detections_equal(dets, [(0, 2, 2, 16, 16, 0.8), (0, 10, 2, 16, 16, 0.8), (1, 26, 14, 22, 18, 0.6)])


def test_multilabel_gives_every_class_above_the_threshold(plugins: PluginManager) -> None:
    logits = np.array([2.0, -1.0, 0.5, 0.0], np.float32)
    second = np.array([[-3.0], [3.0]], np.float32)  # a second attribute, shape (2, 1): every value is a class
    attributes = run_classifier_parser("example-sigmoid-multilabel", {"colour": logits, "size": second}, (16, 16, 3),
                                       threshold=0.5, plugins=plugins)  # fmt: skip
    assert_attributes_equal(attributes, [
        Attribute("", class_id=0, confidence=sigmoid(2.0), index=0),
        Attribute("", class_id=2, confidence=sigmoid(0.5), index=0),
        Attribute("", class_id=1, confidence=sigmoid(3.0), index=1),
    ])  # fmt: skip  # logit 0 gives exactly 0.5: not above the threshold
