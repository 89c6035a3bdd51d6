"""Output people can look at: ``sink.video`` (an annotated video per stream) and ``sink.images``
(annotated snapshots), both drawn by :func:`annotate`.

Drawing happens on a host copy of each frame with OpenCV, so the frames other branches of
the graph see are never changed.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dsflow import Batch, Frame, NodeContext, ObjectMeta, Sink, hookimpl, param
from dsflow.errors import ConfigError, NodeError

PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40),
)  # fmt: skip
"""RGB box colours; :func:`object_colour` picks one per (component, class)."""

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def object_colour(obj: ObjectMeta) -> tuple[int, int, int]:
    """A fixed RGB colour for the object's ``(component_id, class_id)``: the same in every frame and run."""
    return PALETTE[(obj.class_id + 5 * obj.component_id) % len(PALETTE)]


def object_text(obj: ObjectMeta, *, confidence: bool = True) -> str:
    """``label conf | attribute, attribute``, e.g. ``face 0.98 | male, 34``; an OCR object's label is its text."""
    head = obj.label or (str(obj.class_id) if obj.class_id >= 0 else "")
    if confidence and obj.confidence < 1.0:
        head = f"{head} {obj.confidence:.2f}".strip()
    attributes = ", ".join(a.label for a in obj.attributes if a.label and a.label != obj.label)  # set-object-label
    return f"{head} | {attributes}" if head and attributes else head or attributes


def annotate_frame(frame: Frame, p: VideoSinkParams | ImagesSinkParams, ctx: NodeContext) -> np.ndarray:
    """The frame's picture on the host with the objects of ``p.components`` (all when empty) drawn as ``p`` says."""
    objects = [o for o in frame.objects if o.component_id in p.components] if p.components else frame.objects
    return annotate(ctx.to_host(frame.image), objects, thickness=p.thickness, font_scale=p.font_scale,
                    confidence=p.confidence)  # fmt: skip


def annotate(
    image: np.ndarray,
    objects: Sequence[ObjectMeta],
    *,
    thickness: int = 2,
    font_scale: float = 0.5,
    confidence: bool = True,
) -> np.ndarray:
    """A copy of the RGB ``image`` with every object's box, text and landmarks drawn on it.

    Top-level objects get solid boxes, children (objects whose ``parent`` is drawn too) dashed ones; an
    object with a ``quad`` (``obj.extra["quad"]``, four frame points, e.g. a rotated text line)
    gets that outline instead. Landmarks come from ``obj.extra["landmarks"]``: ``(N, 2)`` or flat
    ``(2N,)`` x, y pairs in frame pixels.
    """
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    if not objects:
        return out
    height, width = out.shape[:2]
    boxes = np.array([obj.box for obj in objects], dtype=np.float64).reshape(-1, 4)
    boxes = np.nan_to_num(boxes)
    corners = np.rint(np.column_stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])).astype(np.int64)
    corners[:, 2:] -= 1  # the last pixel row/column inside the box
    corners[:, 0::2] = corners[:, 0::2].clip(-1, width)
    corners[:, 1::2] = corners[:, 1::2].clip(-1, height)
    drawn = {id(obj) for obj in objects}
    for obj, (x1, y1, x2, y2) in zip(objects, corners.tolist(), strict=True):
        colour = object_colour(obj)
        child = obj.parent is not None and id(obj.parent) in drawn  # its parent's box is there too
        quad = obj.extra.get("quad") if obj.extra else None
        if quad is not None:
            outline = np.rint(np.asarray(quad, np.float64).reshape(-1, 1, 2)).astype(np.int32)
            cv2.polylines(out, [outline], True, colour, max(1, thickness - child), cv2.LINE_8)
        elif not child:
            cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_8)
        else:
            _dashed_rectangle(out, x1, y1, x2, y2, colour, max(1, thickness - 1))
        landmarks = obj.extra.get("landmarks") if obj.extra else None
        if landmarks is not None:
            _landmarks(out, landmarks, colour, thickness)
        text = object_text(obj, confidence=confidence)
        if text:
            _label(out, text, x1, y1, colour, font_scale)
    return out


def _dashed_rectangle(out: np.ndarray, x1: int, y1: int, x2: int, y2: int, colour: Any, thickness: int) -> None:
    """The box as dashes (8 pixels on, 6 off) from each corner, filled as rectangles in one call.

    Filled rectangles rather than thick lines: OpenCV's round line caps would close the gaps.
    """
    dash, gap = 8, 6
    lo = thickness // 2  # the band of the line: lo pixels before the edge, the rest after
    polygons: list[np.ndarray] = []
    for horizontal, fixed, a, b in ((True, y1, x1, x2), (True, y2, x1, x2), (False, x1, y1, y2), (False, x2, y1, y2)):
        starts = np.arange(a, b + 1, dash + gap)
        ends = np.minimum(starts + dash, b)
        near, far = np.full_like(starts, fixed - lo), np.full_like(starts, fixed - lo + thickness - 1)
        if horizontal:
            rects = np.stack([starts, near, ends, far], axis=1)
        else:
            rects = np.stack([near, starts, far, ends], axis=1)
        # (left, top, right, bottom) -> four corners each
        polygons.append(rects[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2))
    cv2.fillPoly(out, list(np.concatenate(polygons).astype(np.int32)), colour, cv2.LINE_8)


def _landmarks(out: np.ndarray, landmarks: Any, colour: Any, thickness: int) -> None:
    points = np.asarray(landmarks.get() if hasattr(landmarks, "get") else landmarks, dtype=np.float64)
    if points.size % 2:
        return  # not x, y pairs: nothing sensible to draw
    points = points.reshape(-1, 2)
    points = np.rint(points[np.isfinite(points).all(axis=1)]).astype(int)
    radius = max(2, thickness + 1)
    for x, y in points.tolist():
        cv2.circle(out, (x, y), radius, colour, -1, cv2.LINE_AA)


def _label(out: np.ndarray, text: str, x: int, y: int, colour: Any, font_scale: float) -> None:
    """Text on a filled band of the box colour, above the box, or inside it at the top edge."""
    (tw, th), base = cv2.getTextSize(text, _FONT, font_scale, 1)
    band = th + base + 2
    x = min(max(x, 0), max(out.shape[1] - tw - 2, 0))
    top = y - band if y - band >= 0 else max(y, 0)
    cv2.rectangle(out, (x, top), (x + tw + 2, top + band - 1), colour, -1)
    ink = (0, 0, 0) if 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 140 else (255, 255, 255)
    cv2.putText(out, text, (x + 1, top + th + 1), _FONT, font_scale, ink, 1, cv2.LINE_AA)


def _pattern_fields(pattern: str, where: str, allowed: set[str]) -> set[str]:
    """The ``{field}`` names of a path pattern; a clear error for bad braces or unknown names."""
    try:
        fields = {name for _, name, spec, conv in string.Formatter().parse(pattern) if name is not None}
    except ValueError as exc:
        msg = f"{where}: parameter 'path' is not a valid pattern ({exc}; got {pattern!r})"
        raise ValueError(msg) from exc
    unknown = fields - allowed
    if unknown or "" in fields:
        names = ", ".join(sorted("{" + n + "}" for n in unknown or {""}))
        expected = " and ".join("{" + n + "}" for n in sorted(allowed))
        msg = f"{where}: parameter 'path' may use only {expected} (got {names} in {pattern!r})"
        raise ValueError(msg)
    return fields


@dataclass(frozen=True)
class VideoSinkParams:
    """Parameters of ``sink.video``."""

    path: str = param(
        doc="Output file; for several streams a pattern with '{source_id}', e.g. 'out/cam{source_id}.mp4'."
    )
    thickness: int = param(2, doc="Box line width in pixels (children's dashed boxes are one pixel thinner).")
    font_scale: float = param(0.5, doc="OpenCV font scale of the label text.")
    confidence: bool = param(True, doc="Write the confidence after the label (not for confidence 1).")
    components: list[int] = param(
        default_factory=list, doc="Draw only objects of these gie-unique-ids (empty: every object)."
    )
    codec: str = param("", doc="FFmpeg encoder; empty: 'libx264' when PyAV has it, else 'mpeg4'.")
    fps: float = param(0.0, doc="Frame rate; 0: from the first two frames' timestamps, else 30.")
    crf: int | None = param(None, doc="Constant rate factor of x264/x265 (0 is lossless, 23 their default).")
    bit_rate: int | None = param(None, doc="Target bits per second (e.g. for 'mpeg4').")
    pix_fmt: str = param(
        "yuv420p", doc="Pixel format of the encoded video ('yuv444p' keeps thin coloured lines sharp)."
    )
    options: dict[str, str] = param(default_factory=dict, doc="Further encoder options, e.g. {preset: veryfast}.")

    def __post_init__(self) -> None:
        _pattern_fields(self.path, "sink.video", {"source_id"})
        try:
            self.path.format(source_id=0)
        except (ValueError, TypeError) as exc:
            msg = f"sink.video: parameter 'path' is not a valid pattern ({exc}; got {self.path!r})"
            raise ValueError(msg) from exc
        if self.fps < 0 or self.thickness < 1:
            msg = f"sink.video: 'fps' must be 0 or more and 'thickness' at least 1 (got {self.fps}, {self.thickness})"
            raise ValueError(msg)


class _Encoder:
    """One open output file: container, video track and the next frame index."""

    def __init__(self, av: Any, path: str, p: VideoSinkParams, codec: str, width: int, height: int, fps: float):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(path, "w")
        options = dict(p.options)
        if p.crf is not None:
            options["crf"] = str(p.crf)
        rate = Fraction(fps).limit_denominator(1001)
        self.track = self.container.add_stream(codec, rate=rate, options=options)
        # 4:2:0 and 4:2:2 need even sizes: odd frames get one replicated row/column
        even = p.pix_fmt.startswith(("yuv420", "yuv422", "yuvj420", "nv12"))
        self.width, self.height = width + (even and width % 2), height + (even and height % 2)
        self.track.width, self.track.height, self.track.pix_fmt = self.width, self.height, p.pix_fmt
        if p.bit_rate is not None:
            self.track.bit_rate = p.bit_rate
        self.av = av
        self.size = (width, height)
        self.count = 0

    def write(self, image: np.ndarray) -> None:
        if image.shape[1::-1] != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        pad = ((0, self.height - image.shape[0]), (0, self.width - image.shape[1]), (0, 0))
        if any(pad[0] + pad[1]):
            image = np.pad(image, pad, mode="edge")
        frame = self.av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self.count
        self.count += 1
        for packet in self.track.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.track.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()


class VideoSinkNode(Sink):
    """Writes the frames with their objects drawn on them (boxes, labels, attributes, landmarks).

    One file per stream: ``path`` names it, with ``{source_id}`` replaced by the stream number.
    Each file is opened at its stream's first frame (size from that frame) and finished when
    the stream ends or the graph stops. Encoded with PyAV: ``pip install 'dsflow[video]'``.
    """

    kind = "sink.video"
    Params = VideoSinkParams
    host_only = True

    def start(self, ctx: NodeContext) -> None:
        try:
            import av
        except ImportError as exc:
            msg = "sink.video needs PyAV: pip install 'dsflow[video]'"
            raise ConfigError(msg) from exc
        p: VideoSinkParams = self.params
        self._av = av
        self._codec = p.codec or ("libx264" if "libx264" in av.codecs_available else "mpeg4")
        try:
            codec = av.Codec(self._codec, "w")
        except (av.error.FFmpegError, ValueError) as exc:
            msg = (
                f"{self.name}: unknown video encoder {self._codec!r} (expected one of PyAV's, e.g. 'libx264', 'mpeg4')"
            )
            raise ConfigError(msg) from exc
        if codec.type != "video":
            msg = f"{self.name}: encoder {self._codec!r} is not a video encoder (it encodes {codec.type})"
            raise ConfigError(msg)
        self._per_stream = "source_id" in _pattern_fields(p.path, self.name, {"source_id"})
        self._encoders: dict[int, _Encoder] = {}
        self._waiting: dict[int, tuple[Frame, np.ndarray]] = {}  # first frame, until the second gives the rate
        self._paths: dict[int, str] = {}

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        p: VideoSinkParams = self.params
        for frame in batch.frames:
            image = annotate_frame(frame, p, ctx)
            sid = frame.source_id
            encoder = self._encoders.get(sid)
            if encoder is None:
                first = self._waiting.pop(sid, None)
                if first is None and p.fps == 0:
                    self._waiting[sid] = (frame, image)
                    continue
                fps = p.fps or _rate(first[0].pts if first else None, frame.pts)
                encoder = self._open(sid, image, fps)
                if first is not None:
                    encoder.write(first[1])
            encoder.write(image)

    def _open(self, source_id: int, image: np.ndarray, fps: float) -> _Encoder:
        p: VideoSinkParams = self.params
        if not self._per_stream and self._paths:
            msg = (
                f"{self.name}: frames of several streams arrived but 'path' ({p.path!r}) has no {{source_id}}"
                " (expected a pattern such as 'out/video-{source_id}.mp4')"
            )
            raise NodeError(msg)
        path = p.path.format(source_id=source_id)
        try:
            encoder = _Encoder(self._av, path, p, self._codec, image.shape[1], image.shape[0], fps)
        except (OSError, ValueError, self._av.error.FFmpegError) as exc:
            msg = f"{self.name}: cannot open {path!r} for {self._codec} video: {exc}"
            raise NodeError(msg) from exc
        self._encoders[source_id] = encoder
        self._paths[source_id] = path
        return encoder

    def _finish(self, source_id: int) -> None:
        pending = self._waiting.pop(source_id, None)
        if pending is not None:
            self._open(source_id, pending[1], 30.0).write(pending[1])
        encoder = self._encoders.pop(source_id, None)
        if encoder is not None:
            encoder.close()

    def end_stream(self, source_id: int, ctx: NodeContext) -> None:
        self._finish(source_id)

    def stop(self, ctx: NodeContext) -> None:
        errors = []
        for source_id in list(self._waiting) + list(self._encoders):
            try:
                self._finish(source_id)
            except Exception as exc:  # close every other file before reporting
                errors.append(exc)
        for path in self._paths.values():
            ctx.wrote(path)
        if errors:
            raise errors[0]


def _rate(first_pts: int | None, second_pts: int) -> float:
    """Frames per second from two timestamps in nanoseconds; 30 when they say nothing."""
    if first_pts is None or second_pts <= first_pts:
        return 30.0
    return 1e9 / (second_pts - first_pts)


@dataclass(frozen=True)
class ImagesSinkParams:
    """Parameters of ``sink.images``."""

    path: str = param(
        doc="File pattern with '{frame_num}' (and '{source_id}' for several streams); the extension picks the format."
    )
    every: int = param(1, doc="Write frames 0, N, 2N... of each stream.")
    thickness: int = param(2, doc="Box line width in pixels (children's dashed boxes are one pixel thinner).")
    font_scale: float = param(0.5, doc="OpenCV font scale of the label text.")
    confidence: bool = param(True, doc="Write the confidence after the label (not for confidence 1).")
    components: list[int] = param(
        default_factory=list, doc="Draw only objects of these gie-unique-ids (empty: every object)."
    )

    def __post_init__(self) -> None:
        fields = _pattern_fields(self.path, "sink.images", {"source_id", "frame_num"})
        if "frame_num" not in fields:
            msg = f"sink.images: parameter 'path' must contain {{frame_num}} (got {self.path!r})"
            raise ValueError(msg)
        try:
            sample = self.path.format(source_id=0, frame_num=0)
        except (ValueError, TypeError) as exc:
            msg = f"sink.images: parameter 'path' is not a valid pattern ({exc}; got {self.path!r})"
            raise ValueError(msg) from exc
        if not cv2.haveImageWriter(sample):
            suffix = Path(sample).suffix or "no extension"
            msg = f"sink.images: OpenCV cannot write {suffix!r} files (expected .png, .jpg...; got {self.path!r})"
            raise ValueError(msg)
        if self.every < 1 or self.thickness < 1:
            msg = f"sink.images: 'every' and 'thickness' must be at least 1 (got {self.every}, {self.thickness})"
            raise ValueError(msg)


class ImagesSinkNode(Sink):
    """Annotated snapshots: frame 0, ``every``, 2 × ``every``... of each stream, one image file each."""

    kind = "sink.images"
    Params = ImagesSinkParams
    host_only = True

    def start(self, ctx: NodeContext) -> None:
        self._per_stream = "source_id" in _pattern_fields(self.params.path, self.name, {"source_id", "frame_num"})
        self._sources: set[int] = set()

    def process(self, batch: Batch, ctx: NodeContext) -> None:
        p: ImagesSinkParams = self.params
        for frame in batch.frames:
            if frame.frame_num % p.every:
                continue
            self._sources.add(frame.source_id)
            if not self._per_stream and len(self._sources) > 1:
                msg = f"{self.name}: frames of several streams arrived but 'path' ({p.path!r}) has no {{source_id}}"
                raise NodeError(msg)
            image = annotate_frame(frame, p, ctx)
            path = Path(p.path.format(source_id=frame.source_id, frame_num=frame.frame_num))
            path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                msg = f"{self.name}: could not write {str(path)!r}"
                raise NodeError(msg)
            ctx.wrote(str(path))


@hookimpl
def dsflow_register_nodes() -> list[type]:
    return [VideoSinkNode, ImagesSinkNode]
