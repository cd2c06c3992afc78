"""OpenCV DIS optical flow (Kroeger et al., ECCV 2016): the classic, weight-free default."""

from __future__ import annotations

import cv2
import numpy as np

from glassvid.flow.ops import resize_flow

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class DISFlow:
    """Dense flow from RGB frame ``a`` to ``b`` on grayscale, optionally at reduced scale."""

    def __init__(self, *, preset: str = "fast", scale: float = 1.0) -> None:
        self.scale = scale
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])

    def _gray(self, rgb: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if self.scale != 1.0:
            g = cv2.resize(g, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        return g

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        flow = self._dis.calc(self._gray(a), self._gray(b), None)
        return resize_flow(flow, a.shape[1], a.shape[0])
