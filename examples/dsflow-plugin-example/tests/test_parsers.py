"""The plugin's parsers on recorded model outputs: no model, picture or graph run needed.

``data/tiles.npz`` holds the detector's outputs for demo/scene.png and ``data/tags_orange.npz``
the classifier's outputs for the orange tile; both were written by ``dsflow run record.yaml``
in demo/ (``dsflow.testing.record_tensors``). Run the tests from the example folder, with the
package installed (``pip install -e .``)::

    pytest
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dsflow import Attribute, PluginManager
from dsflow.testing import assert_attributes_equal, assert_detections_equal, run_bbox_parser, run_classifier_parser

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def plugins() -> PluginManager:
    """dsflow's built-ins and this package only, whatever else is installed: names resolve as in a graph."""
    pm = PluginManager(autoload=False)
    pm.load_module("dsflow_plugin_example")
    return pm


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_centernet_finds_the_tiles_of_the_recorded_scene(plugins: PluginManager) -> None:
    dets = run_bbox_parser("example-centernet", DATA / "tiles.npz", num_classes=3, pre_cluster_threshold=0.3,
                           plugins=plugins)  # fmt: skip
    # (class, left, top, width, height, confidence): the confidence is how far the tile's colour
    # channel exceeds the others, 0…1; by class, then from the top left
    assert_detections_equal(dets, [
        (0, 12, 12, 40, 28, 180 / 255),  # red
        (0, 64, 72, 36, 36, 80 / 255),  # orange
        (1, 72, 12, 32, 40, 140 / 255),  # green
        (2, 124, 16, 52, 24, 160 / 255),  # blue
        (2, 132, 76, 28, 36, 90 / 255),  # azure
    ], atol=1e-6)  # fmt: skip


def test_centernet_thresholds_are_per_class(plugins: PluginManager) -> None:
    dets = run_bbox_parser("example-centernet", DATA / "tiles.npz", num_classes=3,
                           pre_cluster_threshold=[0.5, 0.5, 0.2], plugins=plugins)  # fmt: skip
    assert_detections_equal(dets, [
        (0, 12, 12, 40, 28, 180 / 255),  # red
        (1, 72, 12, 32, 40, 140 / 255),  # green
        (2, 124, 16, 52, 24, 160 / 255),  # blue
        (2, 132, 76, 28, 36, 90 / 255),  # azure
        (2, 12, 80, 32, 32, 60 / 255),  # violet: too faint for 0.3
    ], atol=1e-6)  # fmt: skip


def test_centernet_takes_original_centernet_names(plugins: PluginManager) -> None:
    heat = np.zeros((1, 4, 6), np.float32)
    heat[0, 2, 3] = 0.9
    layers = {"hm": heat, "wh": np.full((2, 4, 6), 2, np.float32), "reg": np.full((2, 4, 6), 0.5, np.float32)}
    dets = run_bbox_parser("example-centernet", layers, (48, 32, 3), num_classes=1, plugins=plugins)
    assert_detections_equal(dets, [(0, 20, 12, 16, 16, 0.9)])  # stride 8: centre (3.5 · 8, 2.5 · 8), size 2 · 8


def test_multilabel_tags_the_orange_tile_red_and_green(plugins: PluginManager) -> None:
    attributes = run_classifier_parser("example-sigmoid-multilabel", DATA / "tags_orange.npz", threshold=0.5,
                                       plugins=plugins)  # fmt: skip
    # the classifier's logits are 8 · (mean of the channel − 0.5); orange is (240, 160, 40)
    assert_attributes_equal(attributes, [
        Attribute("", class_id=0, confidence=sigmoid(8 * (240 / 255 - 0.5)), index=0),
        Attribute("", class_id=1, confidence=sigmoid(8 * (160 / 255 - 0.5)), index=0),
    ])  # fmt: skip
