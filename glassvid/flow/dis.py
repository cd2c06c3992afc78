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


_MIN_FINEST_WIDTH_PX = 160  # the finest pyramid level DIS refines is kept at least this wide


class DISFlow:
    """Dense flow from RGB frame ``a`` to ``b`` on grayscale, optionally at reduced scale.

    DIS presets stop refining 2 pyramid levels above full resolution; on small frames
    that level is too coarse to hold the motion (a 96-pixel frame would be solved at
    24 pixels), so the finest level is lowered until it is at least
    ``_MIN_FINEST_WIDTH_PX`` wide.
    """

    def __init__(self, *, preset: str = "fast", scale: float = 1.0) -> None:
        self.scale = scale
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
        self._preset_finest = self._dis.getFinestScale()
        self._width = -1

    def _fit_to(self, width: int) -> None:
        if width == self._width:
            return
        finest = self._preset_finest
        while finest > 0 and width / (2**finest) < _MIN_FINEST_WIDTH_PX:
            finest -= 1
        self._dis.setFinestScale(finest)
        self._width = width

    def _gray(self, rgb: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if self.scale != 1.0:
            g = cv2.resize(g, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        return g

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        ga, gb = self._gray(a), self._gray(b)
        self._fit_to(ga.shape[1])
        flow = self._dis.calc(ga, gb, None)
        return resize_flow(flow, a.shape[1], a.shape[0])

    def pair(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flow a -> b, flow b -> a)``: two calls (DIS has no batching to gain from)."""
        return self(a, b), self(b, a)
