"""Soft mattes for compositing, derived from binary masks."""

from __future__ import annotations

import cv2
import numpy as np


def feather(mask: np.ndarray, width_px: float) -> np.ndarray:
    """Soft matte: 1 inside ``mask``, falling smoothly to 0 over ``width_px`` outside it.

    ``mask`` HxW bool (True = object). Returns HxW float32 in [0, 1], exactly 1 on the
    mask and exactly 0 farther than ``width_px`` from it, so compositing with it never
    touches pixels beyond that ring.
    """
    m = mask.astype(np.uint8)
    if width_px <= 0:
        return m.astype(np.float32)
    dist = cv2.distanceTransform(1 - m, cv2.DIST_L2, 3)
    t = np.clip(1.0 - dist / float(width_px + 0.5), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def region(mask: np.ndarray, width_px: float) -> np.ndarray:
    """The pixels a feathered matte of ``width_px`` may touch (HxW bool)."""
    return feather(mask, width_px) > 0
