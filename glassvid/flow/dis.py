"""OpenCV DIS optical flow (Kroeger et al., ECCV 2016): the classic, weight-free default.

DIS solves the flow on an image pyramid from coarse to fine and stops at a *finest*
level: 'ultrafast' and 'fast' stop two levels above full size (a 854x480 frame is solved
at 213x120 and the flow upsampled), 'medium' one level above (427x240). What a preset
costs and how accurate it is therefore depends mostly on the width of that finest level.

Measured at 854x480 (``benchmarks/temporal.py``, 2-core machine shared with other jobs):

| preset | solved at | ms per flow | endpoint error, px (1.5 / 6 / 18 px affine motion) |
|---|---|---|---|
| ultrafast | 213 px | ~5 | 0.44 / 0.58 / 0.94 |
| fast | 213 px | ~10 | 0.28 / 0.36 / 0.57 |
| medium | 427 px | ~55 | 0.15 / 0.19 / 0.30 |

On real consecutive frames the photometric warping error of 'ultrafast' and 'fast' is
the same (0.0014 vs 0.0015 MSE); 'ultrafast' is the default because it is the only
preset whose two flows per frame leave time for the rest of a 60 frames/s budget.

:meth:`DISFlow.pair` solves the two directions at once, in two threads with a DIS
instance each: at 854x480 a pair took 9.0 ms that way against 12.5 ms one after the
other (both with OpenCV's 2 threads; DIS's own parallel loops keep 2 cores only half
busy at these sizes). The flows are the same either way.
"""

from __future__ import annotations

import cv2
import numpy as np

from glassvid.errors import ConfigError
from glassvid.flow.ops import resize_flow
from glassvid.workers import helper

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

MIN_FINEST_WIDTH_PX = 160  # default: the finest pyramid level DIS refines is kept at least this wide


class DISFlow:
    """Dense flow from RGB frame ``a`` to ``b`` (HxWx3 uint8) on grayscale; returns HxWx2 float32.

    ``scale`` < 1 shrinks the frames before DIS runs (the flow is resized back, vectors
    scaled). DIS presets stop refining 2 pyramid levels above full resolution; on small
    frames that level is too coarse to hold the motion (a 96-pixel frame would be solved
    at 24 pixels), so the finest level is lowered until it is at least ``min_width_px``
    wide. Hence ``scale`` only saves time where the finest level stays that wide:
    at 854x480, 'fast' at scale 0.5 is solved at the same 213 px as at scale 1.
    """

    def __init__(self, *, preset: str = "ultrafast", scale: float = 1.0, min_width_px: int = MIN_FINEST_WIDTH_PX) -> None:
        if preset not in _PRESETS:
            raise ConfigError(f"unknown DIS preset '{preset}'; known: {', '.join(_PRESETS)}")
        if not 0.0 < scale <= 1.0:
            raise ConfigError(f"DIS scale must be in (0, 1], got {scale}")
        self.preset = preset
        self.scale = scale
        self.min_width_px = min_width_px
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
        self._dis_back = cv2.DISOpticalFlow_create(_PRESETS[preset])  # the reverse direction of pair(), in parallel
        self._preset_finest = self._dis.getFinestScale()
        self._width = -1

    @property
    def finest_scale(self) -> int:
        """The pyramid level DIS stops at for the last frame size it saw (0 = the given size)."""
        return self._dis.getFinestScale()

    def _fit_to(self, width: int) -> None:
        if width == self._width:
            return
        finest = self._preset_finest
        while finest > 0 and width / (2**finest) < self.min_width_px:
            finest -= 1
        self._dis.setFinestScale(finest)
        self._dis_back.setFinestScale(finest)
        self._width = width

    def _gray(self, rgb: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
        if self.scale != 1.0:
            g = cv2.resize(g, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)
        return g

    def _calc(self, ga: np.ndarray, gb: np.ndarray, width: int, height: int) -> np.ndarray:
        self._fit_to(ga.shape[1])
        return resize_flow(self._dis.calc(ga, gb, None), width, height)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self._calc(self._gray(a), self._gray(b), a.shape[1], a.shape[0])

    def pair(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flow a -> b, flow b -> a)``: two DIS runs, at once, on one grayscale conversion of each frame."""
        ga, gb = self._gray(a), self._gray(b)
        self._fit_to(ga.shape[1])
        back = helper().submit(self._dis_back.calc, gb, ga, None)
        fwd = self._dis.calc(ga, gb, None)
        width, height = a.shape[1], a.shape[0]
        return resize_flow(fwd, width, height), resize_flow(back.result(), width, height)
