"""The render pass over a clip: glass render per frame, then temporal steadiness.

:func:`render_clip` is a generator of ``(i, frame_out, layer)`` so the video writer,
the VFX passes and the AR export all consume the same frames.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import numpy as np

from glassvid.clip import ClipCache
from glassvid.config import Config, GlassConfig
from glassvid.masks.matte import feather
from glassvid.render.glass import GlassLayer, circularity, mode_for_circularity, render_glass
from glassvid.temporal import TemporalFilter


_MODE_SAMPLES = 9  # frames whose silhouettes decide mode 'auto'


def resolve_mode(clip: ClipCache, glass: GlassConfig) -> GlassConfig:
    """``glass`` with mode 'auto' decided once for the clip (so it cannot flip between frames)."""
    if glass.mode != "auto":
        return glass
    picks = np.unique(np.linspace(0, clip.n - 1, min(_MODE_SAMPLES, clip.n)).astype(int))
    values = [circularity(m) for m in (clip.mask(int(i)) for i in picks) if m.any()]
    return dataclasses.replace(glass, mode=mode_for_circularity(float(np.median(values)) if values else 0.0))


def _inputs(clip: ClipCache, i: int, feather_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """What frame ``i``'s render reads from the cache: ``(frame, matte, height, radius, plate)``."""
    frame = clip.frame(i)
    height, radius = clip.depth(i)
    return frame, feather(clip.mask(i), feather_px), height, radius, clip.plate(i, frame)


def render_clip(clip: ClipCache, config: Config) -> Iterator[tuple[int, np.ndarray, GlassLayer | None]]:
    """Render every frame of ``clip``: yields ``(i, HxWx3 uint8 output, glass layer)`` in order.

    The next frame's inputs are read from the cache (decoded, the matte feathered) in a
    thread while this one renders: the reads wait on files and OpenCV, which release the
    interpreter, and one frame ahead keeps memory bounded.
    """
    gcfg, tcfg = resolve_mode(clip, config.glass), config.temporal
    feather_px = config.masks.feather_px + gcfg.edge_px
    steady = TemporalFilter(tcfg)  # one per clip: it carries the previous output
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="glassvid-prefetch") as reader:
        ahead = reader.submit(_inputs, clip, 0, feather_px) if clip.n else None
        for i in range(clip.n):
            frame, matte, height, radius, plate = ahead.result()  # type: ignore[union-attr]
            if i + 1 < clip.n:
                ahead = reader.submit(_inputs, clip, i + 1, feather_px)
            out, layer = render_glass(frame, plate, matte, height, radius, gcfg)
            flows = clip.flows(i) if i > 0 and steady.needs_object_flow else None
            out = steady.step(frame, out, matte > 0, flows)
            yield i, out, layer
