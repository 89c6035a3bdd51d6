"""The short video that graphs/ocr.yaml reads: known English sentences, moving and changing.

    python graphs/ocr/make_clip.py [OUTPUT]

writes OUTPUT (default: ``clip.mp4`` next to this script): 3 s at 10 fps, 640×360, H.264 (or MPEG-4
part 2 when PyAV has no x264). Text is drawn with OpenCV's Hershey fonts, which ship with OpenCV, so
nothing is downloaded. Every frame holds three lines (see :func:`clip_lines`):

* a title that stays where it is;
* a sentence that slides from left to right across the frame;
* a caption that changes every second, drawn slightly tilted (3°).

:func:`clip_lines` returns what each frame shows, so a test can compare what dsflow reads with it;
:func:`draw_lines` and :func:`write_video` are reused by tests/test_ocr.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

SIZE = (640, 360)
FPS = 10
FRAMES = 30

TITLE = "Reading text in video"
SLIDING = "The quick brown fox jumps"
CAPTIONS = ("Pack my box with five dozen jugs", "Sphinx of black quartz", "How vexingly quick")


@dataclass(frozen=True)
class TextLine:
    """One line of text to draw: what, where (baseline start, before any tilt) and how."""

    text: str
    origin: tuple[int, int]
    font: int = cv2.FONT_HERSHEY_SIMPLEX
    scale: float = 1.0
    thickness: int = 2
    colour: tuple[int, int, int] = (20, 20, 20)  # RGB
    angle: float = 0.0
    """Degrees counter-clockwise (as seen on screen) about the text's centre."""


def clip_lines(index: int) -> list[TextLine]:
    """The lines of frame ``index`` of the clip, top to bottom."""
    slide_x = 20 + 7 * index  # 7 pixels per frame: the line is at a new place in every frame
    return [
        TextLine(TITLE, (40, 60), cv2.FONT_HERSHEY_DUPLEX, 1.2, 2, (150, 20, 20)),
        TextLine(SLIDING, (slide_x, 170), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 2),
        TextLine(CAPTIONS[index // FPS % len(CAPTIONS)], (60, 290), cv2.FONT_HERSHEY_COMPLEX, 0.9, 2, (20, 40, 120), 3),
    ]


def background(size: tuple[int, int] = SIZE) -> np.ndarray:
    """A light RGB background with a soft vertical gradient, so the picture is not just black on white."""
    width, height = size
    rows = np.linspace(250, 215, height, dtype=np.float32)[:, None, None]
    tint = np.array([1.0, 0.98, 0.92], np.float32)
    return np.ascontiguousarray(np.broadcast_to(rows * tint, (height, width, 3)), np.uint8)


def draw_lines(image: np.ndarray, lines: Iterable[TextLine]) -> np.ndarray:
    """``image`` (RGB, changed in place and returned) with the lines drawn, anti-aliased."""
    for line in lines:
        if not line.angle:
            cv2.putText(image, line.text, line.origin, line.font, line.scale, line.colour, line.thickness, cv2.LINE_AA)
            continue
        # A tilted line: drawn upright into a mask around it, turned, then blended in with its colour.
        (w, h), base = cv2.getTextSize(line.text, line.font, line.scale, line.thickness)
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.putText(mask, line.text, line.origin, line.font, line.scale, 255, line.thickness, cv2.LINE_AA)
        centre = (line.origin[0] + w / 2, line.origin[1] - (h - base) / 2)
        turn = cv2.getRotationMatrix2D(centre, line.angle, 1.0)
        alpha = cv2.warpAffine(mask, turn, mask.shape[::-1], flags=cv2.INTER_LINEAR)[..., None] / np.float32(255)
        blended = image * (1 - alpha) + np.float32(line.colour) * alpha
        image[...] = np.rint(blended).astype(np.uint8)
    return image


def render_clip() -> list[np.ndarray]:
    """Every frame of the clip, RGB."""
    return [draw_lines(background(), clip_lines(i)) for i in range(FRAMES)]


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: int = FPS) -> str:
    """Encode RGB frames with PyAV; returns the encoder used (``libx264`` when available, else ``mpeg4``)."""
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # Sharp text at a small size: x264 at CRF 20 keeps the glyph edges, MPEG-4 gets a fixed quantizer.
        stream.options = {"crf": "20", "preset": "slow"} if codec == "libx264" else {"qscale": "3"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return codec


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("clip.mp4")
    codec = write_video(path, render_clip())
    print(f"wrote {path} ({FRAMES} frames, {SIZE[0]}x{SIZE[1]}, {FPS} fps, {codec}, {path.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv)
