"""Clean-plate stage: the background behind the object, per frame.

Classic path (no weights): for every hidden pixel, the sweeps find the nearest frames
that show its background, forward and backward through the clip, carrying *where* it
was seen along the background's motion (:mod:`.propagate`), and sample its colour from
that frame once (:mod:`.recover`); what no frame ever shows is inpainted
(:mod:`.inpaint`), or invented by a model on keyframes and carried likewise
(:mod:`.keyframes`). A plate is stored as a crop around the hole with its provenance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def paste_box(frame: np.ndarray, box: tuple[int, int, int, int], rgb: np.ndarray) -> np.ndarray:
    """A copy of ``frame`` (HxWx3) with ``rgb`` pasted into ``box`` (x0, y0, x1, y1, exclusive)."""
    out = frame.copy()
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = rgb
    return out


@dataclass
class PlateCrop:
    """The plate inside ``box`` (x0, y0, x1, y1, exclusive); outside it the plate is the frame.

    Provenance per pixel of the box: ``age`` (frames between this frame and the one that
    showed the pixel; 0 = visible here, inf = invented), ``source`` (that frame's index in
    the clip, -1 = invented) and ``conf`` (the plate pass's confidence in [0, 1]: 1 where
    visible, the sighting's quality halved every ``plate.confidence_half_life`` frames of
    age where carried, 0 where invented). ``source``/``conf`` are None in plates written
    before they existed.
    """

    box: tuple[int, int, int, int]
    rgb: np.ndarray  # hxwx3 uint8
    age: np.ndarray  # hxw float32
    source: np.ndarray | None = None  # hxw int32
    conf: np.ndarray | None = None  # hxw float32 in [0, 1]

    def paste(self, frame: np.ndarray) -> np.ndarray:
        """Full-frame plate: ``frame`` with this crop pasted in."""
        return paste_box(frame, self.box, self.rgb)

    def confidence(self, frame_shape: tuple[int, int], half_life: float = 8.0) -> np.ndarray:
        """HxW float32 in [0, 1] over the whole frame: 1 outside the box, ``conf`` inside.

        Without a stored ``conf``: 1 where seen in this frame, halving every ``half_life``
        frames of age, 0 where invented.
        """
        conf = np.ones(frame_shape, np.float32)
        x0, y0, x1, y1 = self.box
        if self.conf is not None:
            conf[y0:y1, x0:x1] = self.conf
        else:
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
