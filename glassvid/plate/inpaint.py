"""Filling what no frame ever shows: OpenCV inpainting (the classic backend)."""

from __future__ import annotations

import cv2
import numpy as np

_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def fill_unseen(rgb: np.ndarray, unknown: np.ndarray, *, radius_px: int = 5, method: str = "telea") -> np.ndarray:
    """Inpaint ``unknown`` pixels (HxW bool) of ``rgb`` (HxWx3 uint8) from their surroundings."""
    if not unknown.any():
        return rgb
    return cv2.inpaint(rgb, unknown.astype(np.uint8), radius_px, _METHODS[method])


class OpenCVInpainter:
    """The classic inpainter (Telea 2004 or Navier-Stokes), cheap enough for every frame."""

    per_keyframe = False

    def __init__(self, *, radius_px: int = 5, method: str = "telea") -> None:
        self.radius_px = radius_px
        self.method = method

    def __call__(self, rgb: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        return fill_unseen(rgb, unknown, radius_px=self.radius_px, method=self.method)
