"""``source.video``: video files decoded with PyAV; several files make several streams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dsflow import Batch, Frame, NodeContext, Source, hookimpl, models, param
from dsflow.errors import ConfigError


@dataclass(frozen=True)
class VideoParams:
    """Parameters of ``source.video``."""

    paths: list[str] = param(doc="Video files (relative to the current folder) or zoo:NAME; each is one stream.")
    batch_size: int = param(0, doc="Frames per batch, taken across streams; 0 means one frame of every stream.")
    loop: bool = param(False, doc="Start each file again at its end (endless; stop with Ctrl-C or --max-frames).")

    def __post_init__(self) -> None:
        if not self.paths:
            msg = "parameter 'paths' must name at least one file"
            raise ValueError(msg)
        if self.batch_size < 0:
            msg = f"parameter 'batch-size' must be 0 or more (got {self.batch_size})"
            raise ValueError(msg)
        object.__setattr__(self, "paths", [models.resolve(p) for p in self.paths])  # zoo:NAME -> the cached file


class VideoSourceNode(Source):
    """Decodes each file's first video track to RGB frames, streams interleaved frame by frame.

    Timestamps come from the container (nanoseconds). A stream that ends is announced
    downstream while the others go on. Needs PyAV: ``pip install 'dsflow[video]'``.
    """

    kind = "source.video"
    Params = VideoParams

    def start(self, ctx: NodeContext) -> None:
        try:
            import av
        except ImportError as exc:
            msg = "source.video needs PyAV: pip install 'dsflow[video]'"
            raise ConfigError(msg) from exc
        self._av = av
        for path in self.params.paths:  # fail before any frame flows
            self._open(path).close()

    def _open(self, path: str) -> Any:
        try:
            container = self._av.open(path)
        except (OSError, self._av.error.FFmpegError) as exc:
            msg = f"cannot open video {path!r}: {getattr(exc, 'strerror', None) or exc}"
            raise ConfigError(msg) from exc
        if not container.streams.video:
            container.close()
            msg = f"{path!r} has no video track"
            raise ConfigError(msg)
        return container

    def generate(self, ctx: NodeContext) -> Iterator[Batch]:
        p: VideoParams = self.params
        streams = {ctx.new_stream(path): path for path in p.paths}
        size = p.batch_size or len(streams)
        pending: list[Frame] = []
        ended: list[int] = []  # streams whose last frames wait in ``pending``
        for item in self._interleave(ctx, streams):
            if isinstance(item, Frame):
                pending.append(item)
                if len(pending) == size:
                    yield Batch(pending)
                    pending = []
                    for source_id in ended:
                        ctx.end_stream(source_id)
                    ended.clear()
            elif any(f.source_id == item for f in pending):
                ended.append(item)  # announced once its last frames have gone out
            else:
                ctx.end_stream(item)
        if pending:
            yield Batch(pending)
        for source_id in ended:
            ctx.end_stream(source_id)

    def _interleave(self, ctx: NodeContext, streams: dict[int, str]) -> Iterator[Frame | int]:
        """Frames of every stream in turn; the ``source_id`` of a stream when it has no more."""
        decoders = {source_id: self._decode(source_id, path, ctx) for source_id, path in streams.items()}
        while decoders:
            for source_id, decoder in list(decoders.items()):
                frame = next(decoder, None)
                if frame is None:
                    del decoders[source_id]
                    yield source_id
                else:
                    yield frame

    def _decode(self, source_id: int, path: str, ctx: NodeContext) -> Iterator[Frame]:
        frame_num, offset_ns = 0, 0
        while True:
            last_pts = step_ns = 0
            with self._open(path) as container:
                track = container.streams.video[0]
                track.thread_type = "AUTO"
                for decoded in container.decode(track):
                    seconds = decoded.time if decoded.time is not None else 0.0
                    pts = offset_ns + round(seconds * 1e9)
                    step_ns, last_pts = pts - last_pts, pts
                    image = decoded.to_ndarray(format="rgb24")
                    if ctx.stream is not None:
                        image = ctx.xp.asarray(image)
                    yield Frame(source_id, frame_num, pts, decoded.width, decoded.height, image)
                    frame_num += 1
            if not self.params.loop or frame_num == 0:
                return
            offset_ns = last_pts + max(step_ns, 1)  # the next pass starts one frame later


@hookimpl
def dsflow_register_nodes() -> list[type]:
    return [VideoSourceNode]
