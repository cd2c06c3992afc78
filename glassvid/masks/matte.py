"""Soft mattes for compositing, derived from binary masks."""

from __future__ import annotations

import cv2
import numpy as np


def mask_box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), exclusive end, of ``mask`` (HxW bool) grown by ``margin`` px and clipped to the frame; None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (max(0, int(cols[0]) - margin), max(0, int(rows[0]) - margin), min(w, int(cols[-1]) + 1 + margin), min(h, int(rows[-1]) + 1 + margin))


def feather(mask: np.ndarray, width_px: float) -> np.ndarray:
    """Soft matte: 1 inside ``mask``, falling smoothly to 0 over ``width_px`` outside it.

    ``mask`` HxW bool (True = object). Returns HxW float32 in [0, 1], exactly 1 on the
    mask and exactly 0 farther than ``width_px`` from it, so compositing with it never
    touches pixels beyond that ring.
    """
    out = mask.astype(np.float32)
    box = mask_box(mask, int(np.ceil(width_px)) + 2) if width_px > 0 else None
    if box is None:
        return out
    # only the object's box, grown by the ring, can change: work there
    x0, y0, x1, y1 = box
    m = mask[y0:y1, x0:x1].astype(np.uint8)
    dist = cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)
    t = np.clip(1.0 - dist / float(width_px + 0.5), 0.0, 1.0)
    out[y0:y1, x0:x1] = t * t * (3.0 - 2.0 * t)
    return out


def region(mask: np.ndarray, width_px: float) -> np.ndarray:
    """The pixels a feathered matte of ``width_px`` may touch (HxW bool)."""
    return feather(mask, width_px) > 0
