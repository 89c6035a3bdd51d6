"""nvinfer's preprocessing math: crop, scale (or letterbox), reorder channels, normalize, lay out.

The order is nvinfer's: crop → resize into a zeroed uint8 canvas of the network size →
channel order of the model → ``y = net-scale-factor · (x − mean)`` → NCHW or NHWC. Each
sample also gets the geometry needed to map boxes back to the frame (:class:`Geometry`).

This is the NumPy/OpenCV implementation; a CuPy one takes the same :class:`PreprocessSpec`
and returns the same arrays, so the node's contract does not change on a GPU.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dsflow.errors import ConfigError

if TYPE_CHECKING:
    from dsflow.infer.config import InferConfig
    from dsflow.model import Engine

RGB, BGR, GRAY = 0, 1, 2
NCHW, NHWC = 0, 1


@dataclass(frozen=True)
class PreprocessSpec:
    """What one stage's preprocessing needs, from its config and its engine's input."""

    width: int
    height: int
    channels: int
    color_format: int = RGB
    layout: int = NCHW
    scale: float = 1.0
    mean: np.ndarray | None = None
    """``(H, W, C)`` mean image, or ``(C,)`` offsets, in network channel order; None for no mean."""
    keep_aspect: bool = False
    symmetric_padding: bool = False
    interpolation: int = 0
    """An OpenCV ``INTER_*`` flag."""
    dtype: Any = np.float32
    fit_width: bool = False
    """``fit-batch-width``: samples keep the network height and their aspect; the batch is as wide as
    its widest sample, at least ``width`` and at most ``max_width`` (0: no limit)."""
    max_width: int = 0


@dataclass(frozen=True)
class Geometry:
    """Per sample: how network-input pixels map back to the frame.

    ``frame = (net − pad) / ratio + origin``, per axis; ``origin`` is the parent object's
    (unrounded) corner in secondary mode and 0 for full frames.
    """

    ratio: np.ndarray
    """``(n, 2)`` ratio_x, ratio_y."""
    pad: np.ndarray
    """``(n, 2)`` offset_left, offset_top of the picture in the network input."""
    origin: np.ndarray
    """``(n, 2)``."""
    homography: np.ndarray | None = None
    """``(n, 3, 3)`` network-input pixels → frame pixels, for samples warped from quadrilaterals
    (``crop-func-name``); then ``origin`` is 0 and the homography replaces ratio and pad."""


# nvinfer's scaling-filter values to OpenCV: 2 cubic, 3 super-sampling (area), 4 Lanczos; 5
# is ignored by the GPU scaler and 6 ("default") is nearest on GPU and VIC.
SCALING_FILTERS = {0: "INTER_NEAREST", 1: "INTER_LINEAR", 2: "INTER_CUBIC", 3: "INTER_AREA",
                   4: "INTER_LANCZOS4", 5: "INTER_NEAREST", 6: "INTER_NEAREST"}  # fmt: skip


def interpolation_flag(scaling_filter: int) -> int:
    import cv2

    return int(getattr(cv2, SCALING_FILTERS[scaling_filter]))


def source_rects(rects: np.ndarray, frame_sizes: np.ndarray) -> np.ndarray:
    """Crop rectangles as nvinfer takes them: left/top truncated then rounded up to even,
    width/height truncated then rounded down to even, kept inside the frame.

    ``rects`` is ``(n, 4)`` left, top, width, height; ``frame_sizes`` ``(n, 2)`` width, height.
    """
    r = np.maximum(rects, 0).astype(np.int64)
    left = (r[:, 0] + 1) & ~1
    top = (r[:, 1] + 1) & ~1
    width = np.minimum(r[:, 2], frame_sizes[:, 0] - left) & ~1
    height = np.minimum(r[:, 3], frame_sizes[:, 1] - top) & ~1
    return np.stack([left, top, width, height], axis=1)


def batch_width(src_w: np.ndarray, src_h: np.ndarray, spec: PreprocessSpec) -> int:
    """The network input width of one batch: ``spec.width``, or with ``fit_width`` its widest sample."""
    if not spec.fit_width or not len(src_w):
        return spec.width
    widest = int(np.ceil(spec.height * np.max(np.asarray(src_w, np.float64) / np.maximum(src_h, 1))))
    width = max(spec.width, widest)
    return min(width, spec.max_width) if spec.max_width else width


def scaled_sizes(
    src_w: np.ndarray, src_h: np.ndarray, spec: PreprocessSpec, width: int | None = None
) -> tuple[np.ndarray, ...]:
    """Destination size, ratios and padding offsets of each sample (nvinfer §5.1 formulas).

    ``width`` is the batch's network width when it differs from ``spec.width`` (``fit_width``).
    """
    w, h = width or spec.width, spec.height
    src_w = np.asarray(src_w, np.float64)
    src_h = np.asarray(src_h, np.float64)
    if spec.fit_width:  # full height; the width follows the aspect, squeezed to the batch width
        dest_w = np.minimum(np.ceil(h * src_w / np.maximum(src_h, 1)), w).astype(np.int64)
        dest_h = np.full(src_h.shape, h, np.int64)
    elif spec.keep_aspect:
        fit_h = w * src_h / src_w
        fit_w = h * src_w / src_h
        by_width = fit_h <= h
        dest_w = np.where(by_width, w, np.floor(fit_w)).astype(np.int64)
        dest_h = np.where(by_width, np.floor(fit_h), h).astype(np.int64)
    else:
        dest_w = np.full(src_w.shape, w, np.int64)
        dest_h = np.full(src_h.shape, h, np.int64)
    ratio = np.stack([dest_w / src_w, dest_h / src_h], axis=1)
    if spec.keep_aspect and spec.symmetric_padding and not spec.fit_width:
        pad = np.stack([(w - dest_w) // 2, (h - dest_h) // 2], axis=1)
    else:
        pad = np.zeros((len(dest_w), 2), np.int64)
    return dest_w, dest_h, ratio, pad


def preprocess(
    images: Sequence[np.ndarray], rects: np.ndarray, origins: np.ndarray, spec: PreprocessSpec,
    quads: np.ndarray | None = None,
) -> tuple[np.ndarray, Geometry]:  # fmt: skip
    """The network input for ``len(rects)`` samples, and their geometry.

    ``images[i]`` is the RGB frame of sample ``i`` (``(H, W, 3)`` uint8); ``rects`` ``(n, 4)``
    the source rectangle in it (already through :func:`source_rects`); ``origins`` ``(n, 2)``.
    With ``quads`` ``(n, 4, 2)`` (frame pixels warped onto the picture's top-left, top-right,
    bottom-right and bottom-left corners) the samples are warped from them instead of cropped.
    """
    if quads is not None:
        return _warp(images, np.asarray(quads, np.float64), spec)
    import cv2

    n = len(rects)
    width = batch_width(rects[:, 2], rects[:, 3], spec)
    dest_w, dest_h, ratio, pad = scaled_sizes(rects[:, 2], rects[:, 3], spec, width)
    canvas = np.zeros((n, spec.height, width, 3), np.uint8)
    for i in range(n):  # one OpenCV resize per sample, straight into its place on the canvas
        left, top, w, h = (int(v) for v in rects[i])
        crop = images[i][top : top + h, left : left + w]
        x, y = int(pad[i, 0]), int(pad[i, 1])
        w, h = int(dest_w[i]), int(dest_h[i])
        cv2.resize(crop, (w, h), dst=canvas[i, y : y + h, x : x + w],
                   interpolation=spec.interpolation)  # fmt: skip
    return normalize(canvas, spec), Geometry(ratio, pad.astype(np.float64), np.asarray(origins, np.float64))


# Quads and boxes are in pixel-edge coordinates (a box [0, w) covers pixels 0..w-1); OpenCV's warps
# take pixel centres at integers. Shifting by half a pixel on both sides makes the two agree, so a
# quarter turn of a box moves whole pixels, as a resize of the box would.
_HALF = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
_HALF_BACK = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])


def _warp(images: Sequence[np.ndarray], quads: np.ndarray, spec: PreprocessSpec) -> tuple[np.ndarray, Geometry]:
    """Samples warped from frame quadrilaterals; their geometry is the inverse warp of each."""
    import cv2

    n = len(quads)
    src_w = np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1)
    src_h = np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
    width = batch_width(src_w, src_h, spec)
    dest_w, dest_h, ratio, pad = scaled_sizes(np.maximum(src_w, 1), np.maximum(src_h, 1), spec, width)
    canvas = np.zeros((n, spec.height, width, 3), np.uint8)
    to_frame = np.empty((n, 3, 3))
    # Warps have no area filter; bilinear is the closest to what super-sampling would give.
    flag = cv2.INTER_LINEAR if spec.interpolation == cv2.INTER_AREA else spec.interpolation
    for i in range(n):  # one OpenCV warp per sample, into the picture's place on the canvas
        w, h = int(dest_w[i]), int(dest_h[i])
        x, y = int(pad[i, 0]), int(pad[i, 1])
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        warp = _HALF_BACK @ cv2.getPerspectiveTransform(quads[i].astype(np.float32), corners) @ _HALF
        cv2.warpPerspective(images[i], warp, (w, h), dst=canvas[i, y : y + h, x : x + w], flags=flag,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
        to_frame[i] = cv2.getPerspectiveTransform(corners + np.float32([x, y]), quads[i].astype(np.float32))
    geometry = Geometry(ratio, pad.astype(np.float64), np.zeros((n, 2)), to_frame)
    return normalize(canvas, spec), geometry


def normalize(canvas: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """``(n, H, W, 3)`` uint8 RGB → the network input: channel order, mean, scale, layout, dtype."""
    if spec.color_format == BGR:
        pixels = canvas[..., ::-1]
    elif spec.color_format == GRAY:  # nvinfer scales into an 8-bit GRAY8 buffer: BT.601 luma, rounded to uint8
        import cv2

        n, h, w, _ = canvas.shape
        pixels = cv2.cvtColor(canvas.reshape(n * h, w, 3), cv2.COLOR_RGB2GRAY).reshape(n, h, w, 1)
    else:
        pixels = canvas
    # One strided pass converts to float32, reorders channels and lays out at once; the arithmetic then
    # runs on contiguous memory (5x faster than convert → subtract → scale → transpose → copy, same values).
    n, h, w, c = pixels.shape
    x = np.empty((n, c, h, w) if spec.layout == NCHW else (n, h, w, c), np.float32)
    np.copyto(x.transpose(0, 2, 3, 1) if spec.layout == NCHW else x, pixels, casting="unsafe")
    if spec.mean is not None:
        mean = spec.mean.astype(np.float32)  # (C,) offsets or an (H, W, C) mean image
        if spec.layout == NCHW:
            mean = mean.reshape(c, 1, 1) if mean.ndim == 1 else mean.transpose(2, 0, 1)
        x -= mean
    if spec.scale != 1.0:
        x *= np.float32(spec.scale)
    return x if x.dtype == spec.dtype else x.astype(spec.dtype)


def read_mean_file(path: str, width: int, height: int, channels: int) -> np.ndarray:
    """A PPM mean image (P6 binary or P3 ASCII) as ``(H, W, C)`` float32, bytes in file order."""
    with open(path, "rb") as f:
        data = f.read()
    header = re.match(rb"(P[36])\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s+(?:#[^\n]*\n\s*)*(\d+)\s", data)
    if header is None:
        msg = f"{path}: mean-file: expected a PPM image (P6 or P3)"
        raise ConfigError(msg)
    magic, w, h, maxval = header.group(1), int(header.group(2)), int(header.group(3)), int(header.group(4))
    if (w, h) != (width, height):
        msg = f"{path}: mean-file: the image is {w}x{h}, the network input is {width}x{height}"
        raise ConfigError(msg)
    body = data[header.end() :]
    if magic == b"P6":
        dtype = np.uint8 if maxval < 256 else np.dtype(">u2")
        values = np.frombuffer(body, dtype, count=w * h * 3)
    else:
        values = np.array(body.split()[: w * h * 3], np.float32)
    if values.size != w * h * 3:
        msg = f"{path}: mean-file: expected {w * h * 3} values, the file has {values.size}"
        raise ConfigError(msg)
    mean = values.reshape(h, w, 3).astype(np.float32)
    return mean[..., :channels]


def preprocess_spec(cfg: InferConfig, engine: Engine) -> tuple[PreprocessSpec, str]:
    """Network size, layout and dtype from the engine's first input, checked against the config."""
    spec = engine.inputs[0]  # binding 0 is the image, as in nvinfer; the infer node feeds the others
    shape = spec.sample_shape
    if len(shape) != 3:
        raise ConfigError(
            f"{cfg.origin}: the model input {spec.name!r} has shape {spec.shape}; "
            "expected an image (N, C, H, W) or (N, H, W, C)"
        )
    if "network-input-order" in cfg:
        layout = cfg["network-input-order"]
    else:  # from the engine: channels first when the first dim looks like channels
        layout = NCHW if shape[0] in (1, 3, 4) or (shape[0] is None and shape[2] not in (1, 3, 4)) else NHWC
    c, h, w = shape if layout == NCHW else (shape[2], shape[0], shape[1])
    if cfg["fit-batch-width"] and w is not None:
        raise cfg.error("fit-batch-width", f"needs a model input with a dynamic width; {spec.name!r} is {spec.shape}")
    if cfg["fit-batch-width"] and cfg["mean-file"]:
        raise cfg.error("fit-batch-width", "cannot be used with mean-file (a mean image has one fixed width)")
    dims = cfg["infer-dims"]
    if dims:
        for name, got, want in (("channels", c, dims[0]), ("height", h, dims[1]), ("width", w, dims[2])):
            if got is not None and got != want:
                raise cfg.error(
                    "infer-dims", f"{name} {want} does not match the model input {spec.name!r} {spec.shape}"
                )
        c, h, w = dims
    if None in (c, h, w):
        raise cfg.error(
            "infer-dims", f"the model input {spec.name!r} {spec.shape} has dynamic sizes: set infer-dims c;h;w"
        )
    color = cfg["model-color-format"]
    if (color == 2) != (c == 1):
        raise cfg.error("model-color-format", f"{color} does not fit a model input with {c} channels")
    scale = cfg["net-scale-factor"]
    mean = None
    if cfg["mean-file"]:
        mean = read_mean_file(cfg["mean-file"], w, h, c)
    elif cfg["offsets"] and scale > 0:  # nvinfer ignores the offsets with a scale ≤ 0
        if len(cfg["offsets"]) != c:
            raise cfg.error("offsets", f"{len(cfg['offsets'])} values for a model with {c} channels")
        mean = np.array(cfg["offsets"], np.float32)
    dtype = spec.dtype if spec.dtype.kind == "f" else np.dtype(np.float32)
    return PreprocessSpec(
        width=w, height=h, channels=c, color_format=color, layout=layout, scale=scale if scale > 0 else 1.0,
        mean=mean, keep_aspect=cfg["maintain-aspect-ratio"], symmetric_padding=cfg["symmetric-padding"],
        interpolation=interpolation_flag(cfg["scaling-filter"]), dtype=dtype,
        fit_width=cfg["fit-batch-width"], max_width=cfg["max-batch-width"],
    ), spec.name  # fmt: skip
