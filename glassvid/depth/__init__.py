"""Depth stage: the object's shape as a height field inside its mask.

Contract: ``estimator(frame, mask) -> DepthResult``; ``height`` is HxW float32 in
[0, 1] (1 = the part of the object nearest the camera relative to its silhouette,
0 on and outside the silhouette), ``radius_px`` the object's half-width in pixels
that scales it to screen units, ``scene`` an optional HxW relative depth of the scene.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from glassvid.config import DepthConfig, RuntimeConfig
from glassvid.registry import Registry


@dataclass
class DepthResult:
    height: np.ndarray  # HxW float32 in [0, 1], 0 outside the mask
    radius_px: float  # half-width of the object on screen
    scene: np.ndarray | None = None  # HxW float32 relative scene depth (larger = farther), optional


DepthEstimator = Callable[[np.ndarray, np.ndarray], DepthResult]

DEPTH_BACKENDS: Registry[DepthEstimator] = Registry("depth")


@DEPTH_BACKENDS.register("silhouette")
def build_silhouette(cfg: DepthConfig, runtime: RuntimeConfig | None = None) -> DepthEstimator:
    from glassvid.depth.silhouette import SilhouetteDepth

    return SilhouetteDepth(profile=cfg.profile)


@DEPTH_BACKENDS.register("midas")
def build_midas(cfg: DepthConfig, runtime: RuntimeConfig | None = None) -> DepthEstimator:
    from glassvid.depth.midas import MidasDepth

    return MidasDepth.from_config(cfg, runtime)


def build_depth(cfg: DepthConfig, runtime: RuntimeConfig | None = None) -> DepthEstimator:
    """The depth estimator named by ``cfg.backend``."""
    return DEPTH_BACKENDS.build(cfg.backend, cfg, runtime)
