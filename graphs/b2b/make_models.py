"""The synthetic scene and the three small models of graphs/back-to-back.yaml.

    python graphs/b2b/make_models.py [FOLDER]

writes, into FOLDER (default: the folder of this script), ``scene.png``, ``cards.onnx``,
``symbols.onnx``, ``shade.onnx`` and their label files. The output is the same on every run, so
the committed files can be checked against it.

The scene is a grey table with cards of two colours, each holding one or two coloured squares
("symbols") of a dark or a light shade. The models are not trained: their ONNX graphs compute
the answer from the pixels with colour tests and pooling, so they behave like detectors and a
classifier on any picture drawn with these colours, at any position and (within the grid
limits) any size:

* ``cards.onnx``, the primary detector, a DetectNet_v2 grid (``conv2d_cov/Sigmoid`` and
  ``conv2d_bbox``, read by ``NvDsInferParseCustomResnet``), 640×480, plain scaling;
* ``symbols.onnx``, the secondary detector on card crops, rows (x1, y1, x2, y2, score, class) read
  by ``NvDsInferParseYolo``, 256×256 letterboxed so squares stay square;
* ``shade.onnx``, the secondary classifier on symbol crops, softmax over (dark, light) from the
  mean intensity, 32×32 plain scaling (letterbox bars would darken the mean).

A detector finds rectangles of a class by scanning the class's mask: on a grid of cells (one
pixel sampled every ``stride``), the run of mask pixels through the sampled pixel gives the left
and right edges (rows) and the top and bottom edges (columns); a max-pool as long as the picture,
with the picture's length of padding, is that scan. A cell's score is how much of it the class
covers. Every cell of a rectangle reports the same box; nvinfer's clustering keeps one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dsflow.testing import OnnxBuilder

OPSET = 17
IR_VERSION = 10  # ONNX Runtime 1.32 reads IR versions up to 10
PRODUCER = "dsflow graphs/b2b/make_models.py"

SCENE_SIZE = (640, 480)
BACKGROUND = (128, 128, 128)
CARD_COLOURS = {"white": (235, 235, 235), "yellow": (235, 205, 70)}
SYMBOL_COLOURS = {
    ("red", "dark"): (140, 20, 20),
    ("red", "light"): (255, 150, 150),
    ("green", "dark"): (20, 120, 20),
    ("green", "light"): (150, 255, 150),
    ("blue", "dark"): (20, 20, 160),
    ("blue", "light"): (150, 150, 255),
}
CARD_LABELS = list(CARD_COLOURS)
SYMBOL_LABELS = ["red", "green", "blue"]
SHADE_LABELS = ["dark", "light"]

CARD_TOLERANCE = 40 / 255
"""A pixel is of a card colour when no channel is further than this from it (net-scale-factor 1/255)."""
SYMBOL_DOMINANCE = 64 / 255
"""A pixel is red (green, blue) when that channel exceeds both others by more than this."""
COVERAGE_GAIN = 12.0
"""score = sigmoid(gain · (covered fraction of the cell − 0.5)): 0.5 at half a cell, 0.9975 for a full one."""
SHADE_GAIN = 10.0
"""light logit = gain · (mean intensity − 0.5), dark logit its negative."""
BOX_NORM = 35.0
"""DetectNet_v2's box scale: offsets are stored divided by it."""


@dataclass(frozen=True)
class Symbol:
    """A coloured square; position in scene pixels."""

    colour: str
    shade: str
    left: int
    top: int
    size: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.size, self.size


@dataclass(frozen=True)
class Card:
    """A card and the symbols on it; position in scene pixels."""

    colour: str
    left: int
    top: int
    width: int
    height: int
    symbols: tuple[Symbol, ...]

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.width, self.height


# Even coordinates, because nvinfer crops objects from even positions with even sizes. Cards 3 and 4
# touch along y = 220 (the detector tells them apart by colour); cards 1 and 2 touch nothing.
SCENE = (
    Card("white", 40, 40, 240, 160, (Symbol("red", "dark", 72, 76, 48), Symbol("blue", "light", 200, 120, 40))),
    Card("yellow", 60, 270, 220, 160, (Symbol("blue", "dark", 130, 310, 52),)),
    Card("yellow", 360, 40, 200, 180, (Symbol("green", "light", 420, 90, 44),)),
    Card("white", 360, 220, 200, 200, (Symbol("green", "dark", 390, 260, 40), Symbol("red", "light", 470, 330, 48))),
)


def draw_scene() -> np.ndarray:
    """The scene as an RGB ``(H, W, 3)`` uint8 image."""
    width, height = SCENE_SIZE
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    for card in SCENE:
        image[card.top : card.top + card.height, card.left : card.left + card.width] = CARD_COLOURS[card.colour]
        for s in card.symbols:
            image[s.top : s.top + s.size, s.left : s.left + s.size] = SYMBOL_COLOURS[(s.colour, s.shade)]
    return image


# -- building ONNX graphs ----------------------------------------------------------------------------


def _symbol_masks(b: OnnxBuilder, x: str) -> str:
    """``[N, 3, H, W]`` 0/1 masks of red, green and blue pixels (either shade)."""
    r, g, bl = b.ops("Split", x, count=3, axis=1)
    dominance = b.op(
        "Concat",
        b.op("Sub", r, b.op("Max", g, bl)),
        b.op("Sub", g, b.op("Max", r, bl)),
        b.op("Sub", bl, b.op("Max", r, g)),
        axis=1,
    )
    return b.op("Cast", b.op("Greater", dominance, b.const(SYMBOL_DOMINANCE)), to=1)


def _card_masks(b: OnnxBuilder, x: str) -> str:
    """``[N, K, H, W]`` 0/1 masks of the card colours: every channel within the tolerance."""
    refs = np.array(list(CARD_COLOURS.values()), np.float32).reshape(1, len(CARD_COLOURS), 3, 1, 1) / 255
    diff = b.op("Abs", b.op("Sub", b.op("Unsqueeze", x, b.ints(1)), b.const(refs)))
    distance = b.op("ReduceMax", diff, axes=[2], keepdims=0)
    return b.op("Cast", b.op("Less", distance, b.const(CARD_TOLERANCE)), to=1)


def _edges(b: OnnxBuilder, mask: str, axis: int, length: int, stride: int) -> tuple[str, str]:
    """First and one-past-last pixel of the run through each cell's sampled pixel, along ``axis``.

    ``mask`` is ``[N, K, H, W]``; the results ``[N, K, H/stride, W/stride]`` floats. The other axis
    is sampled first (every ``stride``-th row for horizontal runs), so only sampled lines are scanned.
    """
    other = 5 - axis
    lines = b.op("Slice", mask, b.ints(0), b.ints(1 << 30), b.ints(other), b.ints(stride))
    pads_before = [0] * 8
    pads_before[axis] = 1
    pads_after = [0] * 8
    pads_after[4 + axis] = 1
    previous = b.op("Slice", b.op("Pad", lines, b.ints(*pads_before)), b.ints(0), b.ints(length), b.ints(axis))
    following = b.op("Slice", b.op("Pad", lines, b.ints(*pads_after)), b.ints(1), b.ints(length + 1), b.ints(axis))
    shape = [1, 1, 1, 1]
    shape[axis] = length
    position = b.const(np.arange(1, length + 1, dtype=np.float32).reshape(shape))  # pixel index + 1
    one = b.const(1.0)
    starts = b.op("Mul", lines, b.op("Sub", one, previous))
    ends = b.op("Mul", lines, b.op("Sub", one, following))
    # start marker: its index where a run starts, −1 elsewhere; a running max gives the latest start
    start_index = b.op("Sub", b.op("Mul", starts, position), one)
    # end marker: −(index + 1) where a run ends, −big elsewhere; a running max from the right gives the nearest end
    big = b.const(float(1 << 20))
    end_index = b.op("Sub", b.op("Mul", ends, b.op("Sub", big, position)), big)
    kernel = [1, 1]
    kernel[axis - 2] = length
    strides = [1, 1]
    strides[axis - 2] = stride
    before, after = [0, 0, 0, 0], [0, 0, 0, 0]  # (H, W) begins, then (H, W) ends
    before[axis - 2] = length - 1
    after[axis] = length - 1
    first = b.op("MaxPool", start_index, kernel_shape=kernel, pads=before, strides=strides)
    past = b.op("Neg", b.op("MaxPool", end_index, kernel_shape=kernel, pads=after, strides=strides))
    return first, past


def _coverage(b: OnnxBuilder, mask: str, stride: int) -> str:
    """Per cell: sigmoid-scaled covered fraction, zero unless the cell's sampled pixel is in the mask."""
    fraction = b.op("AveragePool", mask, kernel_shape=[stride, stride], strides=[stride, stride])
    sampled = b.op("Slice", mask, b.ints(0, 0), b.ints(1 << 30, 1 << 30), b.ints(2, 3), b.ints(stride, stride))
    score = b.op("Sigmoid", b.op("Mul", b.op("Sub", fraction, b.const(0.5)), b.const(COVERAGE_GAIN)))
    return b.op("Mul", score, sampled)


def cards_model(width: int = 640, height: int = 480, stride: int = 16) -> bytes:
    """Primary detector: cards by colour, as a DetectNet_v2 coverage/bbox pair (inclusive corners).

    A card's region is its colour plus any symbol colour, so the squares on it do not cut its runs,
    while a touching card of the other colour does.
    """
    b = OnnxBuilder(OPSET, IR_VERSION, PRODUCER)
    x = "input_1"
    cards = _card_masks(b, x)
    region = b.op("Max", cards, b.op("ReduceMax", _symbol_masks(b, x), axes=[1], keepdims=1))
    left, right = _edges(b, region, 3, width, stride)
    top, bottom = _edges(b, region, 2, height, stride)
    one = b.const(1.0)
    grid_w, grid_h = width // stride, height // stride
    centre_x = b.const((np.arange(grid_w, dtype=np.float32) * stride + 0.5).reshape(1, 1, 1, grid_w))
    centre_y = b.const((np.arange(grid_h, dtype=np.float32) * stride + 0.5).reshape(1, 1, grid_h, 1))
    offsets = [
        b.op("Sub", centre_x, left),
        b.op("Sub", centre_y, top),
        b.op("Sub", b.op("Sub", right, one), centre_x),  # x2, y2: the last pixel, as the resnet parser adds 1
        b.op("Sub", b.op("Sub", bottom, one), centre_y),
    ]
    planes = b.op("Concat", *(b.op("Unsqueeze", o, b.ints(2)) for o in offsets), axis=2)  # [N, K, 4, Gh, Gw]
    scaled = b.op("Div", planes, b.const(BOX_NORM))
    classes = len(CARD_COLOURS)
    b.op("Reshape", scaled, b.ints(0, 4 * classes, grid_h, grid_w), name="conv2d_bbox")
    b.op("Identity", _coverage(b, cards, stride), name="conv2d_cov/Sigmoid")
    return b.model(
        "cards",
        x,
        ["N", 3, height, width],
        [
            ("conv2d_bbox", 1, ["N", 4 * classes, grid_h, grid_w]),
            ("conv2d_cov/Sigmoid", 1, ["N", classes, grid_h, grid_w]),
        ],
    )


def symbols_model(size: int = 256, stride: int = 8) -> bytes:
    """Secondary detector: red, green and blue squares, one row (x1, y1, x2, y2, score, class) per cell."""
    b = OnnxBuilder(OPSET, IR_VERSION, PRODUCER)
    x = "images"
    masks = _symbol_masks(b, x)
    region = b.op("ReduceMax", masks, axes=[1], keepdims=1)
    x1, x2 = _edges(b, region, 3, size, stride)
    y1, y2 = _edges(b, region, 2, size, stride)
    scores = _coverage(b, masks, stride)
    score = b.op("ReduceMax", scores, axes=[1], keepdims=1)
    class_id = b.op("Cast", b.op("ArgMax", scores, axis=1, keepdims=1), to=1)
    cells = (size // stride) ** 2
    table = b.op("Reshape", b.op("Concat", x1, y1, x2, y2, score, class_id, axis=1), b.ints(0, 6, cells))
    b.op("Transpose", table, perm=[0, 2, 1], name="output")
    return b.model("symbols", x, ["N", 3, size, size], [("output", 1, ["N", cells, 6])])


def shade_model(size: int = 32) -> bytes:
    """Secondary classifier: softmax over (dark, light) from the crop's mean intensity."""
    b = OnnxBuilder(OPSET, IR_VERSION, PRODUCER)
    x = "input"
    mean = b.op("ReduceMean", x, axes=[1, 2, 3], keepdims=0)
    light = b.op("Mul", b.op("Sub", mean, b.const(0.5)), b.const(SHADE_GAIN))
    dark = b.op("Neg", light)
    logits = b.op("Concat", b.op("Unsqueeze", dark, b.ints(1)), b.op("Unsqueeze", light, b.ints(1)), axis=1)
    b.op("Softmax", logits, axis=1, name="predictions/Softmax")
    return b.model("shade", x, ["N", 3, size, size], [("predictions/Softmax", 1, ["N", 2])])


def write_all(folder: Path) -> list[Path]:
    """Write the scene, the models and the label files into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "cards.onnx": cards_model(),
        "symbols.onnx": symbols_model(),
        "shade.onnx": shade_model(),
        "cards.txt": "".join(f"{label}\n" for label in CARD_LABELS).encode(),
        "symbols.txt": "".join(f"{label}\n" for label in SYMBOL_LABELS).encode(),
        "shade.txt": (";".join(SHADE_LABELS) + "\n").encode(),  # a classifier's labels: one line per output
    }
    written = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        written.append(folder / name)
    scene = folder / "scene.png"
    if not cv2.imwrite(str(scene), cv2.cvtColor(draw_scene(), cv2.COLOR_RGB2BGR)):
        msg = f"cannot write {scene}"
        raise OSError(msg)
    return [*written, scene]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in write_all(target):
        print(f"{path}: {path.stat().st_size} bytes")
