"""The picture and the two small models of the example graph (demo/graph.yaml).

    python demo/make_models.py [FOLDER]

writes, into FOLDER (default: the folder of this script), ``scene.png``, ``centernet.onnx``,
``tags.onnx`` and their label files. The output is the same on every run.

The scene is a grey picture with coloured rectangles ("tiles"). The models are not trained:
their ONNX graphs compute the answer from the pixels, so their outputs can be predicted exactly:

* ``centernet.onnx``, the detector, has a CenterNet head: per class a ``heatmap`` on a grid of
  ``STRIDE``-pixel cells that peaks at the cell holding a tile's centre, and per cell the tile's
  ``size`` (width, height in cells) and the ``offset`` of its centre within the cell. A pixel
  belongs to class red (green, blue) when that channel exceeds both others by more than
  ``MARGIN``; the peak value is that excess, so faint tiles score low. The parser
  ``example-centernet`` of the plugin decodes it.
* ``tags.onnx``, the classifier, gives one logit per colour channel of a tile's crop,
  ``GAIN · (mean − 0.5)``: independent yes/no tags, decoded by ``example-sigmoid-multilabel``.

The tile edges are found by scanning each class's mask: a max-pool as long as the picture turns
"a run starts here" markers into "the latest run start to the left", and likewise for run ends.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx

from dsflow.testing import OnnxBuilder

OPSET = 17
IR_VERSION = 10  # ONNX Runtime 1.18 and later read it
PRODUCER = "dsflow-plugin-example demo/make_models.py"

SCENE_SIZE = (192, 128)
"""Width and height of the picture, and of the detector's input: no scaling in between."""
BACKGROUND = (128, 128, 128)
CLASSES = ["red", "green", "blue"]
TAGS = ["red", "green", "blue"]
STRIDE = 4
"""Pixels per heatmap cell."""
MARGIN = 32 / 255
"""A pixel is of class c when channel c exceeds both others by more than this (input scaled to 0…1)."""
SIGMA = 1.0
"""Spread of the heatmap around the centre cell, in cells."""
GAIN = 8.0
"""Tag logits: GAIN · (mean of the channel − 0.5)."""
TAG_SIZE = 16
"""Input size of tags.onnx (crops are scaled to it)."""


@dataclass(frozen=True)
class Tile:
    """A rectangle of one colour; position in scene pixels."""

    name: str
    colour: tuple[int, int, int]
    left: int
    top: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.width, self.height

    @property
    def class_id(self) -> int:
        """The channel that dominates the colour."""
        return int(np.argmax(self.colour))

    @property
    def excess(self) -> float:
        """How far the dominant channel exceeds the others, 0…1: the tile's detection confidence."""
        ranked = sorted(self.colour)
        return (ranked[2] - ranked[1]) / 255


# Even coordinates, because nvinfer crops objects from even positions with even sizes. Tiles of one
# class share no row or column of pixels, so every run the scan finds is one tile's edge to edge.
SCENE = (
    Tile("red", (220, 40, 40), 12, 12, 40, 28),
    Tile("green", (40, 200, 60), 72, 12, 32, 40),
    Tile("blue", (40, 60, 220), 124, 16, 52, 24),
    Tile("orange", (240, 160, 40), 64, 72, 36, 36),  # red, tagged red and green
    Tile("azure", (40, 150, 240), 132, 76, 28, 36),  # blue, tagged green and blue
    Tile("violet", (170, 40, 230), 12, 80, 32, 32),  # blue by 60/255 only: below pre-cluster-threshold 0.3
)


def draw_scene() -> np.ndarray:
    """The scene as an RGB ``(H, W, 3)`` uint8 image."""
    width, height = SCENE_SIZE
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    for tile in SCENE:
        image[tile.top : tile.top + tile.height, tile.left : tile.left + tile.width] = tile.colour
    return image


# -- building ONNX graphs ----------------------------------------------------------------------------


def runs(b: OnnxBuilder, mask: str, axis: int, length: int) -> tuple[str, str]:
    """Start and one-past-end of the run of mask pixels through each pixel, along ``axis`` (2: y, 3: x).

    ``mask`` is ``[N, C, H, W]`` of 0/1. Where the mask is 0 the values are meaningless but finite.
    """
    before, after = [0] * 8, [0] * 8
    before[axis], after[4 + axis] = 1, 1
    previous = b.op("Slice", b.op("Pad", mask, b.ints(*before)), b.ints(0), b.ints(length), b.ints(axis))
    following = b.op("Slice", b.op("Pad", mask, b.ints(*after)), b.ints(1), b.ints(length + 1), b.ints(axis))
    shape = [1, 1, 1, 1]
    shape[axis] = length
    index = b.const(np.arange(length, dtype=np.float32).reshape(shape))
    one, big = b.const(1.0), b.const(float(1 << 20))
    starts = b.op("Mul", mask, b.op("Sub", one, previous))  # 1 where a run starts
    ends = b.op("Mul", mask, b.op("Sub", one, following))  # 1 where a run ends
    # index where a run starts, −1 elsewhere: the running max from the left is the latest start
    start_at = b.op("Sub", b.op("Mul", starts, b.op("Add", index, one)), one)
    # −(index + 1) where a run ends, −big elsewhere: the running max from the right is minus the nearest end
    end_at = b.op("Sub", b.op("Mul", ends, b.op("Sub", big, b.op("Add", index, one))), big)
    kernel = [1, 1]
    kernel[axis - 2] = length
    left_pads, right_pads = [0, 0, 0, 0], [0, 0, 0, 0]  # (H begin, W begin, H end, W end)
    left_pads[axis - 2] = length - 1
    right_pads[axis] = length - 1
    start = b.op("MaxPool", start_at, kernel_shape=kernel, pads=left_pads)
    end = b.op("Neg", b.op("MaxPool", end_at, kernel_shape=kernel, pads=right_pads))
    return start, end


def centernet_model(width: int = SCENE_SIZE[0], height: int = SCENE_SIZE[1], stride: int = STRIDE) -> bytes:
    """The detector: outputs ``heatmap`` ``[N, 3, H/s, W/s]``, ``size`` and ``offset`` ``[N, 2, H/s, W/s]``."""
    b = OnnxBuilder(OPSET, IR_VERSION, PRODUCER)
    x = "image"
    r, g, bl = b.ops("Split", x, count=3, axis=1)
    excess = b.op(
        "Concat",
        b.op("Sub", r, b.op("Max", g, bl)),
        b.op("Sub", g, b.op("Max", r, bl)),
        b.op("Sub", bl, b.op("Max", r, g)),
        axis=1,
    )
    mask = b.op("Cast", b.op("Greater", excess, b.const(MARGIN)), to=onnx.TensorProto.FLOAT)
    left, right = runs(b, mask, 3, width)
    top, bottom = runs(b, mask, 2, height)
    half, per_cell = b.const(0.5), b.const(1.0 / stride)
    centre_x = b.op("Mul", b.op("Add", left, right), half)
    centre_y = b.op("Mul", b.op("Add", top, bottom), half)
    cell_x = b.op("Floor", b.op("Mul", centre_x, per_cell))  # the cell holding the centre
    cell_y = b.op("Floor", b.op("Mul", centre_y, per_cell))
    # heatmap: the excess times a Gaussian of the distance (in cells) to the centre cell, best pixel per cell
    pixel_cell_x = b.const((np.arange(width) // stride).astype(np.float32).reshape(1, 1, 1, width))
    pixel_cell_y = b.const((np.arange(height) // stride).astype(np.float32).reshape(1, 1, height, 1))
    dx, dy = b.op("Sub", pixel_cell_x, cell_x), b.op("Sub", pixel_cell_y, cell_y)
    distance = b.op("Add", b.op("Mul", dx, dx), b.op("Mul", dy, dy))
    gauss = b.op("Exp", b.op("Mul", distance, b.const(-1.0 / (2 * SIGMA * SIGMA))))
    heat = b.op("Mul", b.op("Mul", mask, excess), gauss)
    b.op("MaxPool", heat, kernel_shape=[stride, stride], strides=[stride, stride], name="heatmap")

    # size and offset: class-agnostic, read at each cell's middle pixel (inside any tile at least 2 cells wide)
    def plane(value: str) -> str:
        return b.op("ReduceSum", b.op("Mul", mask, value), b.ints(1), keepdims=1)

    def at_cells(planes: list[str], name: str) -> str:
        both = b.op("Concat", *planes, axis=1)
        first, huge = stride // 2, 1 << 30
        return b.op("Slice", both, b.ints(first, first), b.ints(huge, huge), b.ints(2, 3), b.ints(stride, stride),
                    name=name)  # fmt: skip

    at_cells([plane(b.op("Mul", b.op("Sub", right, left), per_cell)),
              plane(b.op("Mul", b.op("Sub", bottom, top), per_cell))], "size")  # fmt: skip
    at_cells([plane(b.op("Sub", b.op("Mul", centre_x, per_cell), cell_x)),
              plane(b.op("Sub", b.op("Mul", centre_y, per_cell), cell_y))], "offset")  # fmt: skip
    grid = [height // stride, width // stride]
    return b.model(
        "centernet",
        x,
        ["N", 3, height, width],
        [("heatmap", ["N", len(CLASSES), *grid]), ("size", ["N", 2, *grid]), ("offset", ["N", 2, *grid])],
    )


def tags_model(size: int = TAG_SIZE) -> bytes:
    """The classifier: ``logits`` ``[N, 3]`` = GAIN · (mean of each channel − 0.5)."""
    b = OnnxBuilder(OPSET, IR_VERSION, PRODUCER)
    x = "crop"
    mean = b.op("ReduceMean", x, axes=[2, 3], keepdims=0)
    b.op("Mul", b.op("Sub", mean, b.const(0.5)), b.const(GAIN), name="logits")
    return b.model("tags", x, ["N", 3, size, size], [("logits", ["N", len(TAGS)])])


def write_all(folder: Path) -> list[Path]:
    """Write the scene, the models and the label files into ``folder``; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "centernet.onnx": centernet_model(),
        "tags.onnx": tags_model(),
        "tiles.txt": "".join(f"{label}\n" for label in CLASSES).encode(),
        "tags.txt": (";".join(TAGS) + "\n").encode(),  # a classifier's labels: one line per output layer
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
