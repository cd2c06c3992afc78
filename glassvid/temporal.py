"""Temporal steadiness: blend each render with the previous output carried by flow.

Inside the object's region only: ``out = (1 - w) * render + w * warp(prev_out)``, where
``w = strength * valid * exp(-(|render - warped| / agreement)^2)``. ``valid`` is the
forward-backward flow check, so occlusions and disocclusions come through fresh; the
agreement term lets the previous output steady small frame-to-frame noise but not
drag old content over real change (no ghosting). A scene cut resets the state.
"""

from __future__ import annotations

import numpy as np

from glassvid.config import TemporalConfig
from glassvid.flow.ops import fb_consistency


def is_scene_cut(prev_frame: np.ndarray, frame: np.ndarray, threshold: float) -> bool:
    """A cut: the mean absolute difference of consecutive frames (0-1 scale) exceeds ``threshold``."""
    a = prev_frame[::4, ::4].astype(np.float32)
    b = frame[::4, ::4].astype(np.float32)
    return float(np.abs(a - b).mean()) / 255.0 > threshold


def temporal_blend(
    render: np.ndarray,
    prev_out: np.ndarray,
    flow_to_prev: np.ndarray,
    flow_from_prev: np.ndarray,
    region: np.ndarray,
    cfg: TemporalConfig,
) -> np.ndarray:
    """Steady ``render`` (HxWx3 uint8) with ``prev_out`` inside ``region`` (HxW bool).

    ``flow_to_prev``: flow from this frame to the previous one; ``flow_from_prev`` the
    reverse (for the validity check). Pixels outside ``region`` are ``render``'s, exactly.
    """
    if cfg.strength <= 0 or not region.any():
        return render
    ys, xs = np.nonzero(region)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    # warp needs the full flow for correct source positions; crop after
    f_c = flow_to_prev[y0:y1, x0:x1].copy()
    f_c[..., 0] += x0
    f_c[..., 1] += y0
    h, w = f_c.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    import cv2

    warped = cv2.remap(prev_out, gx + f_c[..., 0], gy + f_c[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    valid = fb_consistency(flow_to_prev, flow_from_prev)[y0:y1, x0:x1]
    r = render[y0:y1, x0:x1].astype(np.float32)
    diff = np.abs(r - warped.astype(np.float32)).max(-1) / 255.0
    wgt = cfg.strength * valid * np.exp(-((diff / cfg.agreement) ** 2))
    wgt = np.where(region[y0:y1, x0:x1], wgt, 0.0)[..., None]
    blended = (1 - wgt) * r + wgt * warped.astype(np.float32)
    out = render.copy()
    sub = region[y0:y1, x0:x1]
    out[y0:y1, x0:x1][sub] = np.clip(blended[sub] + 0.5, 0, 255).astype(np.uint8)
    return out
