"""An expensive inpainter on keyframes only, its invention carried to the frames around.

Run after the backward sweep has written ``known/<i>.npz`` (the plate where some frame
showed the background, with the never-seen pixels marked). Steps:

1. **choose keyframes**: the frames with never-seen pixels are cut into runs of at
   most ``plate.keyframe_interval`` frames (a frame without a hole also ends a run);
   each run's keyframe is its frame with the most never-seen pixels.
2. **invent**: the inpainter fills each keyframe's never-seen pixels and a margin of
   ``plate.keyframe_pad_px`` around them inside the hole (``invented/<k>.npz``), so the
   frames around, whose never-seen region has moved a little, find invented
   background where theirs lies. One model invocation per keyframe.
3. **carry**: two more sweeps (:func:`~glassvid.plate.recover.run_sweep`) in which a
   keyframe's invented region counts as *seen* and nothing else does, so every frame
   learns where in the nearest keyframe its never-seen pixels are. They take those
   colours; the invented background stays put over time instead of being re-invented
   differently in every frame. What no keyframe covers falls back to the classic
   inpainter.

The final plate replaces ``known/<i>.npz`` with ``plate/<i>.npz``; invented pixels keep
``age`` inf, ``source`` -1 and confidence 0. Each stage is resumable; an interrupted
sweep is redone whole.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Callable

import cv2
import numpy as np

from glassvid.clip import ClipCache
from glassvid.config import PlateConfig
from glassvid.errors import CacheError
from glassvid.plate import Inpainter
from glassvid.plate.propagate import NO_SOURCE, Sightings, merge, resample
from glassvid.plate.sample import FrameSampler

if TYPE_CHECKING:  # recover imports this module: the name is for annotations only
    from glassvid.plate.recover import PlateStats


def choose_keyframes(unknown_px: list[int], has_hole: list[bool], interval: int) -> list[int]:
    """Keyframes among frames with never-seen pixels (``unknown_px[i] > 0``), per the module docstring."""
    keys: list[int] = []
    run: list[int] = []

    def close() -> None:
        if run:
            keys.append(max(run, key=lambda j: (unknown_px[j], -j)))
            run.clear()

    for i, (u, h) in enumerate(zip(unknown_px, has_hole)):
        if not h:
            close()
            continue
        if u > 0:
            if run and i - run[0] >= interval:
                close()
            run.append(i)
    close()
    return keys


def invent_on_keyframes(
    clip: ClipCache,
    cfg: PlateConfig,
    inpainter: Inpainter,
    fallback: Inpainter,
    stats: PlateStats,
    progress: Callable[[int], None],
) -> None:
    """Stages 1-3 of the module docstring over ``clip.plate_store``; updates ``stats``."""
    from glassvid.plate.recover import (
        _full,
        _pack,
        _save_sightings,
        _sightings,
        _unpack,
        run_sweep,
    )

    store = clip.plate_store
    n = clip.n
    shape = (clip.info.height, clip.info.width)

    def known(i: int) -> dict[str, np.ndarray] | None:
        return store.load_arrays("known", i) if store.has("known", i, "npz") else None

    # 1: keyframes
    if (store.dir / "keyframes.json").is_file():
        keys = store.load_json("keyframes.json")["keyframes"]
    else:
        unknown_px, has_hole = [], []
        for i in range(n):
            d = known(i)
            has_hole.append(d is not None)
            unknown_px.append(int((~np.isfinite(d["age"])).sum()) if d is not None else 0)
        keys = choose_keyframes(unknown_px, has_hole, cfg.keyframe_interval)
        store.save_json("keyframes.json", {"keyframes": keys})
    stats.keyframes = list(keys)

    # 2: invent on each keyframe
    pad = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * cfg.keyframe_pad_px + 1,) * 2) if cfg.keyframe_pad_px > 0 else None
    for k in keys:
        if store.has("invented", k, "npz"):
            continue
        d = known(k)
        if d is None:
            raise CacheError(f"the plate cache has no recovered background for keyframe {k}; delete the work directory's plate folder and run again")
        box = tuple(int(v) for v in d["box"])
        hole_c = _unpack(d["hole"], box)  # type: ignore[arg-type]
        unknown = ~np.isfinite(d["age"])
        region = (cv2.dilate(unknown.astype(np.uint8), pad) > 0) & hole_c if pad is not None else unknown
        rgb = inpainter(np.ascontiguousarray(d["rgb"]), region)
        store.save_arrays("invented", k, box=np.array(box), rgb=rgb, region=_pack(region))
    stats.inpaint_invocations = int(getattr(inpainter, "calls", len(keys)))
    progress(n // 2)

    # 3: carry the inventions: a keyframe's invented region is "seen", nothing else is
    key_set = set(keys)

    def hole_of(i: int) -> np.ndarray | None:
        d = known(i)
        if d is None:
            return None
        box = tuple(int(v) for v in d["box"])
        return _full(_unpack(d["hole"], box), box, shape)  # type: ignore[arg-type]

    def sighted(i: int) -> np.ndarray:
        out = np.zeros(shape, bool)
        if i in key_set:
            with np.load(store.path("invented", i, "npz")) as e:
                box = tuple(int(v) for v in e["box"])
                out = _full(_unpack(e["region"], box), box, shape)  # type: ignore[arg-type]
        return out

    kcfg = cfg if cfg.source_margin_px == 0 else _no_margin(cfg)
    if not (store.dir / "keyframes-forward.json").is_file():
        def keep(i: int, hole: np.ndarray | None, s: Sightings | None) -> None:
            if s is not None:
                store.save_arrays("kfwd", i, **_save_sightings(s))

        run_sweep(clip, kcfg, range(n), hole_of, keep, sighted=sighted)
        store.save_json("keyframes-forward.json", {"frames": n})

    def load_invented(k: int) -> tuple[np.ndarray, int, int]:
        with np.load(store.path("invented", k, "npz")) as e:
            x0, y0 = int(e["box"][0]), int(e["box"][1])
            return e["rgb"], x0, y0

    sampler = FrameSampler(load_invented)

    def finish(i: int, hole: np.ndarray | None, s: Sightings | None) -> None:
        d = known(i)
        if d is not None:
            rgb = d["rgb"].copy()
            unknown = ~np.isfinite(d["age"])
            if unknown.any() and s is not None and store.has("kfwd", i, "npz"):
                x0, y0 = int(d["box"][0]), int(d["box"][1])
                ys, xs = np.nonzero(unknown)
                px, py = xs + x0, ys + y0
                fa = resample(_sightings(store.load_arrays("kfwd", i)), px, py, kcfg.sweep_scale)
                fb = resample(s, px, py, kcfg.sweep_scale)
                # the nearer keyframe wins; two keyframes' inventions are never averaged (they differ)
                wa, _, src = merge((fa[0], fa[2]), (fb[0], fb[2]), i, cfg.confidence_half_life, 1.0)
                pick = np.where(wa[:, None] >= 0.5, fa[1], fb[1])
                got = src >= 0
                col = sampler.sample(np.where(got, src, NO_SOURCE), px + pick[:, 0], py + pick[:, 1])
                rgb[ys[got], xs[got]] = np.clip(col[got] + 0.5, 0, 255).astype(np.uint8)
                left = np.zeros_like(unknown)
                left[ys[~got], xs[~got]] = True
                if left.any():
                    rgb = fallback(rgb, left)
            elif unknown.any():
                rgb = fallback(rgb, unknown)
            store.save_arrays("plate", i, box=d["box"], rgb=rgb, age=d["age"], source=d["source"], conf=d["conf"])
        progress(n // 2 + (n - i) // 2)

    if not (store.dir / "keyframes-done.json").is_file():
        run_sweep(clip, kcfg, range(n - 1, -1, -1), hole_of, finish, sighted=sighted)
        store.save_json("keyframes-done.json", {"frames": n})
    for name in ("known", "kfwd"):
        shutil.rmtree(store.dir / name, ignore_errors=True)


def _no_margin(cfg: PlateConfig) -> PlateConfig:
    """``cfg`` for the keyframe sweeps: an invented pixel is as good next to the hole as far from it."""
    import dataclasses

    return dataclasses.replace(cfg, source_margin_px=0.0)
