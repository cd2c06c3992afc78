"""Synthetic clips for the plate tests: an opaque object moving over a known background.

Each clip is written as a PNG sequence with exact per-frame mattes, analysed by the
real pipeline (DIS flow, silhouette depth) into a :class:`~glassvid.clip.ClipCache`,
and comes with the true background of every frame, so a recovered plate can be
scored against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scenes import background

from glassvid.clip import ClipCache
from glassvid.config import Config, load_config
from glassvid.pipeline import Pipeline

OBJECT = np.array([255, 0, 255], np.uint8)  # the object: a colour the background never has


@dataclass
class SyntheticClip:
    clip: ClipCache
    config: Config
    truth: list[np.ndarray]  # the background of each frame (HxWx3 uint8)
    masks: list[np.ndarray]  # the object (HxW bool)


def object_frames(n: int, w: int, h: int, *, pan_px: float, path: list[tuple[float, float]], half: tuple[int, int]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A wide textured background panned by ``pan_px`` per frame, with a checkered box at ``path[i]``.

    Returns (frames, backgrounds, masks). The box's own checker moves with it, as an
    opaque object's texture would.
    """
    wide = background(int(w + abs(pan_px) * n + 8), h, seed=3)
    frames, truth, masks = [], [], []
    ys, xs = np.mgrid[0:h, 0:w]
    for i in range(n):
        shift = abs(pan_px) * i if pan_px >= 0 else abs(pan_px) * (n - 1 - i)
        # sub-pixel pan: interpolate the wide background
        m = np.float32([[1, 0, shift], [0, 1, 0]])
        bg = cv2.warpAffine(wide, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cx, cy = path[i]
        mask = (np.abs(xs - cx) <= half[0]) & (np.abs(ys - cy) <= half[1])
        checker = (((xs - int(cx)) // 4 + (ys - int(cy)) // 4) % 2).astype(bool)
        f = bg.copy()
        f[mask & checker] = OBJECT
        f[mask & ~checker] = (40, 200, 60)
        frames.append(f)
        truth.append(bg)
        masks.append(mask)
    return frames, truth, masks


def make_clip(folder: Path, frames: list[np.ndarray], truth: list[np.ndarray], masks: list[np.ndarray], *, sets: tuple[str, ...] = (), inpainter=None) -> SyntheticClip:
    """Write the clip and its mattes under ``folder`` and run the analyse and plate passes."""
    (folder / "in").mkdir(parents=True, exist_ok=True)
    (folder / "matte").mkdir(exist_ok=True)
    for i, (f, m) in enumerate(zip(frames, masks)):
        cv2.imwrite(str(folder / "in" / f"{i:05d}.png"), f[..., ::-1])
        cv2.imwrite(str(folder / "matte" / f"{i:05d}.png"), np.where(m, 255, 0).astype(np.uint8))
    cfg = load_config(sets=list(sets))
    clip = Pipeline(cfg, work_dir=folder / "work", inpainter=inpainter).analyse(folder / "in", matte=folder / "matte")
    return SyntheticClip(clip, cfg, truth, masks)


def psnr_in(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    err = ((a[mask].astype(np.float64) - b[mask]) ** 2).mean()
    return float(10 * np.log10(255.0**2 / max(err, 1e-10)))
