"""``source.images``: still images from a file, a folder or a glob pattern, as one stream."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsflow import Batch, Frame, NodeContext, Source, hookimpl, models, param
from dsflow.errors import ConfigError
from dsflow.nodes._batching import batched

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass(frozen=True)
class ImagesParams:
    """Parameters of ``source.images``."""

    path: str = param(doc="An image file, a folder of images, a glob such as 'shots/**/*.jpg', or zoo:NAME.")
    batch_size: int = param(1, doc="Images per batch.")
    fps: float = param(1.0, doc="Rate used for the frames' timestamps.")
    loop: int = param(1, doc="How many times to go through the images; 0 for endless.")

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.fps <= 0 or self.loop < 0:
            msg = "'batch-size' must be at least 1, 'fps' above 0 and 'loop' 0 or more"
            raise ValueError(msg)
        object.__setattr__(self, "path", models.resolve(self.path))  # zoo:NAME -> the cached file


class ImagesSourceNode(Source):
    """Reads images in name order and decodes them to RGB with OpenCV; one stream.

    Images of different sizes may follow each other: every frame carries its own size.
    Needs OpenCV: ``pip install 'dsflow[images]'``.
    """

    kind = "source.images"
    Params = ImagesParams

    def start(self, ctx: NodeContext) -> None:
        try:
            import cv2
        except ImportError as exc:
            msg = "source.images needs OpenCV: pip install 'dsflow[images]'"
            raise ConfigError(msg) from exc
        self._cv2 = cv2
        self._files = image_files(self.params.path)

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        source_id = ctx.new_stream(self.params.path)
        yield from batched(self._frames(source_id, ctx), self.params.batch_size)

    def _frames(self, source_id: int, ctx: NodeContext) -> Iterator[Frame]:
        p: ImagesParams = self.params
        n, rounds = 0, 0
        while p.loop == 0 or rounds < p.loop:
            for path in self._files:
                image = self._read(path)
                if ctx.stream is not None:
                    image = ctx.xp.asarray(image)
                height, width = image.shape[:2]
                frame = Frame(source_id, n, round(n * 1e9 / p.fps), width, height, image)
                frame.meta["path"] = str(path)
                yield frame
                n += 1
            rounds += 1

    def _read(self, path: Path) -> Any:
        cv2 = self._cv2
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            msg = f"cannot decode image {str(path)!r}"
            raise ConfigError(msg)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_files(location: str) -> list[Path]:
    """The image files ``location`` names, sorted; an error when there are none."""
    path = Path(location)
    if path.is_dir():
        files = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    elif path.is_file():
        files = [path]
    else:
        files = [Path(p) for p in glob.glob(location, recursive=True) if Path(p).is_file()]
    if not files:
        msg = f"no images found at {location!r}"
        raise ConfigError(msg)
    return sorted(files)


@hookimpl
def dsflow_register_nodes() -> list[type]:
    return [ImagesSourceNode]
