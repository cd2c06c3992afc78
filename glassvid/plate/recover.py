"""The plate pass: flow-guided propagation forward then backward, then the never-seen rest.

Memory is one frame of sweep state whatever the clip's length: the forward sweep
writes what it carried (inside each hole's box) to the work directory; the backward
sweep reads it back, keeps per pixel the nearer sighting, and hands what neither
direction saw to the inpainter. Resumable per sweep.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from glassvid.clip import ClipCache
from glassvid.config import PlateConfig
from glassvid.masks.classic import crop_box
from glassvid.plate import Inpainter
from glassvid.plate.propagate import BackgroundSweep

_CONTEXT_PX = 16  # context around the hole kept for inpainting the never-seen pixels


class HoleSource:
    """Per-frame hole (mask grown by ``grow_px``) and its box with inpainting context."""

    def __init__(self, clip: ClipCache, grow_px: int) -> None:
        self.clip = clip
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1, 2 * grow_px + 1)) if grow_px > 0 else None
        self._last: tuple[int, np.ndarray] | None = None

    def __call__(self, i: int) -> np.ndarray:
        if self._last is None or self._last[0] != i:
            m = self.clip.mask(i)
            if self.kernel is not None:
                m = cv2.dilate(m.astype(np.uint8), self.kernel) > 0
            self._last = (i, m)
        return self._last[1]

    def box(self, i: int) -> tuple[int, int, int, int] | None:
        return crop_box(self(i), _CONTEXT_PX)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def recover_plates(clip: ClipCache, cfg: PlateConfig, inpainter: Inpainter, progress: Callable[[int, int], None]) -> None:
    """Write ``plate/<i>.npz`` (box, rgb, age) for every frame with a hole into ``clip.plate_store``."""
    store = clip.plate_store
    n = clip.n
    holes = HoleSource(clip, cfg.hole_dilate_px)
    if not (store.dir / "forward.json").is_file():
        sweep = BackgroundSweep(max_age=cfg.max_age)
        for i in range(n):
            flow = None if i == 0 else clip.flows(i)[1]
            rgb, age = sweep.step(clip.frame(i), holes(i), flow)
            box = holes.box(i)
            if box is not None:
                x0, y0, x1, y1 = box
                store.save_arrays("forward", i, rgb=_to_uint8(rgb[y0:y1, x0:x1]), age=age[y0:y1, x0:x1])
            progress(i + 1, 2 * n)
        store.save_json("forward.json", {"frames": n})
    sweep = BackgroundSweep(max_age=cfg.max_age)
    for i in reversed(range(n)):
        flow = None if i == n - 1 else clip.flows(i + 1)[0]
        rgb_b, age_b = sweep.step(clip.frame(i), holes(i), flow)
        box = holes.box(i)
        if box is not None:
            x0, y0, x1, y1 = box
            fwd = store.load_arrays("forward", i)
            rgb_b = _to_uint8(rgb_b[y0:y1, x0:x1])
            age_b = age_b[y0:y1, x0:x1]
            take_fwd = fwd["age"] < age_b
            rgb = np.where(take_fwd[..., None], fwd["rgb"], rgb_b)
            age = np.where(take_fwd, fwd["age"], age_b)
            rgb = inpainter(np.ascontiguousarray(rgb), ~np.isfinite(age))
            store.save_arrays("plate", i, box=np.array(box), rgb=rgb, age=age)
            store.path("forward", i, "npz").unlink()
        progress(2 * n - i, 2 * n)
