"""Flow-guided background propagation (one sweep through the clip, in either direction).

The sweep carries a full-frame background estimate from frame to frame. Where the
current frame shows background, the estimate takes it; inside the hole (the object)
it keeps what was carried along the flow. The flow inside the hole is the object's
own motion, not the background's, so it is replaced by the background motion around
the hole, interpolated smoothly (push-pull) -- a first-order flow completion in the
spirit of FGVC (Gao et al., ECCV 2020). Memory is one frame of state, whatever the
clip's length; run it forward and backward and keep, per pixel, the nearer sighting.
"""

from __future__ import annotations

import cv2
import numpy as np

from glassvid.flow.ops import fill_holes_smooth, resize_flow, warp

_FLOW_FILL_SCALE = 0.25  # complete the background flow at this fraction of the frame size
_KNOWN_THRESHOLD = 0.999  # a warped "known" weight below this touched unknown pixels


class BackgroundSweep:
    """One direction of propagation. Call :meth:`step` on frames in sweep order."""

    def __init__(self, *, max_age: int = 0) -> None:
        self.max_age = float(max_age) if max_age > 0 else np.inf
        self.rgb: np.ndarray | None = None  # HxWx3 float32
        self.known: np.ndarray | None = None  # HxW float32 (1 known)
        self.age: np.ndarray | None = None  # HxW float32

    def reset(self) -> None:
        self.rgb = self.known = self.age = None

    def step(self, frame: np.ndarray, hole: np.ndarray, flow_to_prev: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Advance to ``frame`` (HxWx3 uint8) whose ``hole`` (HxW bool) hides the background.

        ``flow_to_prev``: flow from this frame to the previously stepped one (None at the
        start). Returns ``(rgb HxWx3 float32, age HxW float32)``; age is inf where unknown.
        """
        visible = ~hole
        if self.rgb is None or flow_to_prev is None:
            rgb = frame.astype(np.float32)
            known = visible.astype(np.float32)
            age = np.where(visible, 0.0, np.inf).astype(np.float32)
        else:
            bg_flow = background_flow(flow_to_prev, hole)
            rgb_w = warp(self.rgb, bg_flow)
            known_w = warp(self.known, bg_flow, border=cv2.BORDER_CONSTANT)
            age_w = warp(np.where(np.isfinite(self.age), self.age, 1e9).astype(np.float32), bg_flow, interpolation=cv2.INTER_NEAREST) + 1.0
            carried = hole & (known_w >= _KNOWN_THRESHOLD) & (age_w <= self.max_age)
            rgb = np.where(hole[..., None], rgb_w, frame.astype(np.float32))
            known = np.where(visible, 1.0, np.where(carried, 1.0, 0.0)).astype(np.float32)
            age = np.where(visible, 0.0, np.where(carried, age_w, np.inf)).astype(np.float32)
        self.rgb, self.known, self.age = rgb, known, age
        return rgb, age


def background_flow(flow: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``flow`` with the motion inside ``hole`` replaced by the smooth completion of the motion around it."""
    if not hole.any():
        return flow
    h, w = hole.shape
    sw, sh = max(8, int(w * _FLOW_FILL_SCALE)), max(8, int(h * _FLOW_FILL_SCALE))
    small = resize_flow(flow, sw, sh)
    small_hole = cv2.resize(hole.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    small_hole = cv2.dilate(small_hole.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    filled = fill_holes_smooth(small, ~small_hole)
    full = resize_flow(filled, w, h)
    return np.where(hole[..., None], full, flow).astype(np.float32)
