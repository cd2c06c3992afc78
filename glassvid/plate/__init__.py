"""Clean-plate stage: the background behind the object, per frame.

Classic path (no weights): background seen in other frames is carried to each frame
along the flow, forward and backward through the clip (:mod:`.propagate`); what no
frame ever shows is inpainted (:func:`.inpaint.fill_unseen`). A plate is stored as a
crop around the hole with its provenance: how many frames away each pixel was seen
(``age``; 0 = visible in this frame, ``inf`` = never seen, invented).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PlateCrop:
    """The plate inside ``box`` (x0, y0, x1, y1, exclusive); outside it the plate is the frame."""

    box: tuple[int, int, int, int]
    rgb: np.ndarray  # hxwx3 uint8
    age: np.ndarray  # hxw float32: frames between this frame and where the pixel was seen; inf = invented

    def paste(self, frame: np.ndarray) -> np.ndarray:
        """Full-frame plate: ``frame`` with this crop pasted in."""
        out = frame.copy()
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.rgb
        return out

    def confidence(self, frame_shape: tuple[int, int], half_life: float = 8.0) -> np.ndarray:
        """HxW float32 in [0, 1]: 1 where seen in this frame, halving every ``half_life`` frames, 0 where invented."""
        conf = np.ones(frame_shape, np.float32)
        x0, y0, x1, y1 = self.box
        conf[y0:y1, x0:x1] = np.where(np.isfinite(self.age), 0.5 ** (self.age / half_life), 0.0)
        return conf


# -- filling what no frame shows ----------------------------------------------------------

from typing import Protocol  # noqa: E402

from glassvid.config import PlateConfig, RuntimeConfig  # noqa: E402
from glassvid.registry import Registry  # noqa: E402


class Inpainter(Protocol):
    """Fills never-seen pixels: ``(rgb HxWx3 uint8, unknown HxW bool) -> HxWx3 uint8``.

    Known pixels come back unchanged. ``per_keyframe`` is True for expensive backends,
    which the plate pass runs on keyframes only and carries to the frames between
    along the flow, so what they invent stays put over time.
    """

    per_keyframe: bool

    def __call__(self, rgb: np.ndarray, unknown: np.ndarray) -> np.ndarray: ...


INPAINT_BACKENDS: Registry[Inpainter] = Registry("inpaint")


@INPAINT_BACKENDS.register("opencv")
def build_opencv(cfg: PlateConfig, runtime: RuntimeConfig | None = None) -> Inpainter:
    from glassvid.plate.inpaint import OpenCVInpainter

    return OpenCVInpainter(radius_px=cfg.inpaint_radius_px, method=cfg.inpaint_method)


@INPAINT_BACKENDS.register("sd")
def build_sd(cfg: PlateConfig, runtime: RuntimeConfig | None = None) -> Inpainter:
    from glassvid.plate.sd import SDInpainter

    return SDInpainter.from_config(cfg, runtime)


def build_inpainter(cfg: PlateConfig, runtime: RuntimeConfig | None = None) -> Inpainter:
    """The inpainter named by ``cfg.inpaint``."""
    return INPAINT_BACKENDS.build(cfg.inpaint, cfg, runtime)
