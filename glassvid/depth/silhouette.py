"""Object shape from its silhouette alone: distance-transform inflation.

The distance from each inside pixel to the silhouette's edge, normalised by the
largest one (the object's half-width R), is turned into a height with a chosen
cross-section. 'round' is a circle: for a disc it gives a hemisphere exactly, for
an elongated shape (a bottle, a cup) a cylinder across its width, rounded at its ends
(cf. Johnston, "Lumo", NPAR 2002; Oswald et al., "Fast and globally optimal single
view reconstruction of curved objects", CVPR 2012).
"""

from __future__ import annotations

import cv2
import numpy as np

from glassvid.depth import DepthResult


def inflate(mask: np.ndarray, profile: str = "round") -> tuple[np.ndarray, float]:
    """Height field in [0, 1] from a bool mask, and the half-width R in pixels."""
    m = mask.astype(np.uint8)
    if not m.any():
        return np.zeros(mask.shape, np.float32), 0.0
    # distance to the nearest outside pixel, measured to the pixel edge (hence -0.5)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) - 0.5
    dist = np.maximum(dist, 0.0)
    radius = float(dist.max()) + 0.5
    u = np.clip(dist / radius, 0.0, 1.0)
    if profile == "round":
        h = np.sqrt(np.clip(1.0 - (1.0 - u) ** 2, 0.0, 1.0))
    else:  # 'flat': a slab with quarter-round edges one fifth of R wide
        e = 0.2
        v = np.clip(u / e, 0.0, 1.0)
        h = np.sqrt(np.clip(1.0 - (1.0 - v) ** 2, 0.0, 1.0))
    h[m == 0] = 0.0
    return h.astype(np.float32), radius


class SilhouetteDepth:
    """The classic depth backend: shape from the mask, no scene depth."""

    def __init__(self, *, profile: str = "round") -> None:
        self.profile = profile

    def __call__(self, frame: np.ndarray, mask: np.ndarray) -> DepthResult:
        h, radius = inflate(mask, self.profile)
        return DepthResult(height=h, radius_px=radius, scene=None)
