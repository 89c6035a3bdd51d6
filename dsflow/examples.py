"""Small functions used by the example graphs in ``graphs/`` (``python`` node targets)."""

from __future__ import annotations

from dsflow.frame import Batch


def mean_brightness(batch: Batch) -> None:
    """Store each frame's mean pixel value in ``frame.meta['brightness']``."""
    for frame in batch.frames:
        frame.meta["brightness"] = round(float(frame.image.mean()), 2)
