"""Synthetic scenes for pipeline tests: a textured background and an opaque disc moving across it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from glassvid.io import write_clip


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A detailed, deterministic background: stripes, a grid and smooth noise (HxWx3 uint8 RGB)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([
        127 + 100 * np.sin(xs / 5.0),
        127 + 100 * np.sin(ys / 7.0 + xs / 11.0),
        127 + 100 * np.cos((xs + ys) / 9.0),
    ], -1)
    img[(xs.astype(int) % 16 == 0) | (ys.astype(int) % 16 == 0)] = (20, 20, 20)
    noise = cv2.GaussianBlur(rng.normal(0, 30, (height, width, 3)).astype(np.float32), (0, 0), 1.5)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def disc_mask(width: int, height: int, cx: float, cy: float, r: float) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


def moving_disc(count: int = 12, width: int = 96, height: int = 64, radius: float = 12.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of a shaded, checkered disc sliding left to right, and its exact masks."""
    bg = background(width, height)
    frames, masks = [], []
    for i in range(count):
        cx = 24 + (width - 48) * i / max(1, count - 1)
        cy = height / 2
        m = disc_mask(width, height, cx, cy, radius)
        ys, xs = np.mgrid[0:height, 0:width]
        shade = np.clip(1.0 - ((xs - cx + 4) ** 2 + (ys - cy + 4) ** 2) / (2.2 * radius * radius), 0.3, 1.0)
        f = bg.copy()
        # a checker painted on the disc moves with it, as a decorated cup's pattern would
        checker = (((xs - cx) // 5 + (ys - cy) // 5) % 2).astype(np.float32)
        albedo = np.where(checker[..., None] > 0, np.array([230, 140, 40], np.float32), np.array([250, 235, 210], np.float32))
        obj = (albedo * shade[..., None]).astype(np.uint8)
        f[m] = obj[m]
        frames.append(f)
        masks.append(m)
    return frames, masks


def write_scene(folder: Path, *, count: int = 12, audio: bool = True, ext: str = ".mp4") -> tuple[Path, Path, list[np.ndarray]]:
    """Write the moving-disc clip and its frame-0 mask PNG; returns (clip, mask_png, masks)."""
    frames, masks = moving_disc(count)
    clip = folder / f"scene{ext}"
    write_clip(clip, frames, 24, audio_tone_hz=440.0 if audio else None)
    mask_png = folder / "mask0.png"
    cv2.imwrite(str(mask_png), np.where(masks[0], 255, 0).astype(np.uint8))
    return clip, mask_png, masks
