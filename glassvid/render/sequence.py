"""The render pass over a clip: glass render per frame, then temporal steadiness.

:func:`render_clip` is a generator of ``(i, frame_out, layer)`` so the video writer,
the VFX passes and the AR export all consume the same frames.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, NamedTuple

import numpy as np

from glassvid.clip import ClipCache
from glassvid.config import Config, GlassConfig
from glassvid.masks.matte import feather
from glassvid.render.glass import GlassLayer, ObjectView, circularity, mode_for_circularity, render_glass, view_object
from glassvid.temporal import CutSignature, TemporalFilter


_MODE_SAMPLES = 9  # frames whose silhouettes decide mode 'auto'


def resolve_mode(clip: ClipCache, glass: GlassConfig) -> GlassConfig:
    """``glass`` with mode 'auto' decided once for the clip (so it cannot flip between frames)."""
    if glass.mode != "auto":
        return glass
    picks = np.unique(np.linspace(0, clip.n - 1, min(_MODE_SAMPLES, clip.n)).astype(int))
    values = [circularity(m) for m in (clip.mask(int(i)) for i in picks) if m.any()]
    return dataclasses.replace(glass, mode=mode_for_circularity(float(np.median(values)) if values else 0.0))


class _Inputs(NamedTuple):
    """What frame ``i``'s render reads from the cache, and what is made from it ahead of the render."""

    frame: np.ndarray
    matte: np.ndarray
    height: np.ndarray
    radius: float
    plate: np.ndarray
    view: ObjectView | None  # None when there is nothing to render
    cut: CutSignature | None  # None when the temporal stage is off


def _inputs(clip: ClipCache, i: int, feather_px: float, gcfg: GlassConfig, steady: TemporalFilter) -> _Inputs:
    """Frame ``i``'s inputs: read, the matte feathered, the object's view and the frame's cut signature made."""
    frame = clip.frame(i)
    height, radius = clip.depth(i)
    plate = clip.plate(i, frame)
    matte = feather(clip.mask(i), feather_px)
    return _Inputs(frame, matte, height, radius, plate, view_object(frame, plate, matte, height, radius, gcfg), steady.signature(frame))


def render_clip(clip: ClipCache, config: Config) -> Iterator[tuple[int, np.ndarray, GlassLayer | None]]:
    """Render every frame of ``clip``: yields ``(i, HxWx3 uint8 output, glass layer)`` in order.

    The next frame's inputs are read from the cache (decoded, the matte feathered) in a
    thread while this one renders, with what does not depend on the rays (the object's
    :class:`~glassvid.render.glass.ObjectView`: its surfaces, Fresnel weight, reflection
    and highlights; the frame's cut signature): the reads wait on files and OpenCV, which
    release the interpreter, and one frame ahead keeps memory bounded.
    """
    gcfg, tcfg = resolve_mode(clip, config.glass), config.temporal
    feather_px = config.masks.feather_px + gcfg.edge_px
    steady = TemporalFilter(tcfg)  # one per clip: it carries the previous output
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="glassvid-prefetch") as reader:
        ahead = reader.submit(_inputs, clip, 0, feather_px, gcfg, steady) if clip.n else None
        for i in range(clip.n):
            now = ahead.result()  # type: ignore[union-attr]
            if i + 1 < clip.n:
                ahead = reader.submit(_inputs, clip, i + 1, feather_px, gcfg, steady)
            out, layer = render_glass(now.frame, now.plate, now.matte, now.height, now.radius, gcfg, now.view)
            flows = clip.flows(i) if i > 0 and steady.needs_object_flow else None
            out = steady.step(now.cut if now.cut is not None else now.frame, out, now.matte > 0, flows)
            yield i, out, layer
