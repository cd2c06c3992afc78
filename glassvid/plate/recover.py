"""The plate pass: where each hidden pixel's background was seen, forward and backward; then the rest.

1. **forward and backward sweeps** (:class:`~glassvid.plate.propagate.SourceSweep`): per
   frame, where each pixel around the hole was last seen coming from the start, and
   from the end, of the clip (optionally in two threads, ``plate.sweep_threads``).
2. **merge**: whichever sweep reaches a frame second takes, per pixel, the better of the
   two sightings (or both, averaged, when they are about as good) and samples it once
   from the frame that showed it (:class:`~glassvid.plate.sample.FrameSampler`); the
   first one's sightings wait on disk (a box per frame), so memory does not grow with
   the clip's length.
3. **never seen**: a per-frame inpainter (OpenCV) fills what neither sweep saw. A
   ``per_keyframe`` inpainter (Stable Diffusion) runs on keyframes only; what it invents
   becomes a sighting of its own, carried to the frames around by two more sweeps, so
   the invented background stays put over time. Pixels no keyframe covers fall back to
   the classic inpainter.
4. optionally the inpaint-and-score loop (:mod:`glassvid.plate.loop`) picks, per scored
   frame, the candidate plate whose glass render looks most see-through.

Each plate is a :class:`~glassvid.plate.PlateCrop` (``plate/<i>.npz``): the box, the
colours, the age and source frame of each pixel (provenance), and a confidence.
Resumable per stage: a stage whose marker file exists is not redone; an interrupted
stage is redone whole (a sweep's state at a frame depends on every frame before it).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from glassvid.clip import ClipCache
from glassvid.config import PlateConfig
from glassvid.errors import CacheError
from glassvid.masks.matte import mask_box
from glassvid.plate import Inpainter
from glassvid.plate.inpaint import OpenCVInpainter
from glassvid.plate.propagate import (
    NO_SOURCE,
    FlowView,
    MotionConfig,
    Sightings,
    SourceSweep,
    background_motion,
    merge,
    resample,
)
from glassvid.plate.sample import FrameSampler, NpyFrames

log = logging.getLogger(__name__)

_CONTEXT_PX = 16  # the plate's box reaches this far beyond the hole (inpainting context)
_INVENTED_SOURCE = -1  # ``source`` of an invented pixel
_NO_LOCK = threading.Lock()  # stands in where no other thread counts
_PLANES_RETRY = 8  # after a failed plane fit, frames before the sweep tries again
# frames each sweep's sampler keeps mapped: a still camera fills a frame from dozens of
# others (sam2_coffee-mug: 42 a sample call), and a frame mapped again faults its pages in
# again; but the pages read stay resident while mapped, so this bounds the pass's memory
# (peak RSS, 480 frames against 48 of the sample: 1.01x at 16, 1.10x at 32, 1.17x at 64,
# 1.32x at 128; the mug's plate pass 10-20 % slower at 32 than at 128). A map also holds
# a file descriptor (Python's mmap keeps one).
_MAPPED_FRAMES = 32


@dataclass
class PlateStats:
    """What the plate pass did, for the run's report (``complete.json`` of the plate pass)."""

    frames: int = 0
    frames_with_hole: int = 0
    hidden_px: int = 0  # pixels to recover, summed over frames
    seen_px: int = 0  # of which some frame showed
    invented_px: int = 0  # of which none did
    mean_age: float = 0.0  # frames between a recovered pixel and where it was seen
    motion_models: dict[str, int] = field(default_factory=dict)
    inpaint_invocations: int = 0  # calls of the never-seen inpainter (model invocations for 'sd')
    keyframes: list[int] = field(default_factory=list)
    loop: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        seen = self.seen_px / self.hidden_px if self.hidden_px else 1.0
        return {
            "frames": self.frames,
            "frames_with_hole": self.frames_with_hole,
            "hidden_px": self.hidden_px,
            "seen_fraction": seen,
            "invented_px": self.invented_px,
            "mean_age": self.mean_age,
            "motion_models": self.motion_models,
            "inpaint_invocations": self.inpaint_invocations,
            "inpaint_invocations_per_frame": self.inpaint_invocations / self.frames if self.frames else 0.0,
            "keyframes": self.keyframes,
            "loop": self.loop,
        }


class HoleSource:
    """Per-frame hole: the object's mask grown by ``grow_px`` (HxW bool)."""

    def __init__(self, clip: ClipCache, grow_px: int) -> None:
        self.clip = clip
        self.grow_px = grow_px
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1, 2 * grow_px + 1)) if grow_px > 0 else None

    def __call__(self, i: int) -> np.ndarray:
        m = self.clip.mask(i)
        if self.kernel is None or not m.any():
            return m
        ys = np.flatnonzero(m.any(axis=1))
        xs = np.flatnonzero(m.any(axis=0))
        g = self.grow_px + 1
        y0, y1 = max(0, ys[0] - g), min(m.shape[0], ys[-1] + 1 + g)
        x0, x1 = max(0, xs[0] - g), min(m.shape[1], xs[-1] + 1 + g)
        out = np.zeros_like(m)
        out[y0:y1, x0:x1] = cv2.dilate(m[y0:y1, x0:x1].astype(np.uint8), self.kernel) > 0
        return out


def motion_config(cfg: PlateConfig, scale: float = 1.0) -> MotionConfig:
    """Motion settings in the pixels of a sweep run at ``scale`` of the frame size."""
    return MotionConfig(
        flow_margin_px=max(1, int(round(cfg.motion_margin_px * scale))),
        snap_px=cfg.motion_snap_px * scale,
        ransac_px=MotionConfig.ransac_px * scale,
        context_px=max(4, int(round(MotionConfig.context_px * scale))),
        grid_px=max(4, int(round(MotionConfig.grid_px * scale))),
        grid_step=max(2, int(round(MotionConfig.grid_step * scale))),
    )


def make_sweep(cfg: PlateConfig, scale: float = 1.0, *, outside_seen: bool = True) -> SourceSweep:
    """A sweep whose pixels are ``scale`` of the frame's."""
    margin = cfg.source_margin_px * scale
    return SourceSweep(margin_px=margin, half_life=cfg.confidence_half_life, box_margin=int(math.ceil(margin)) + 2, max_age=cfg.max_age, outside_seen=outside_seen)


def small_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, int(math.ceil(shape[0] * scale))), max(1, int(math.ceil(shape[1] * scale)))


def shrink_mask(mask: np.ndarray, scale: float, *, any_pixel: bool) -> np.ndarray:
    """``mask`` (HxW bool) at ``scale``: a small pixel is set when any (``any_pixel``) or all of its pixels are."""
    if scale == 1.0:
        return mask
    hs, ws = small_shape(mask.shape, scale)
    out = np.zeros((hs, ws), bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return out
    cols = np.flatnonzero(mask.any(axis=0))
    # the mask's box, widened to whole small pixels
    inv = 1.0 / scale
    sx0, sy0 = int(cols[0] * scale), int(rows[0] * scale)
    sx1, sy1 = min(ws, int(math.ceil((cols[-1] + 1) * scale))), min(hs, int(math.ceil((rows[-1] + 1) * scale)))
    fx0, fy0 = int(round(sx0 * inv)), int(round(sy0 * inv))
    fx1, fy1 = min(mask.shape[1], int(round(sx1 * inv))), min(mask.shape[0], int(round(sy1 * inv)))
    part = cv2.resize(mask[fy0:fy1, fx0:fx1].astype(np.float32), (sx1 - sx0, sy1 - sy0), interpolation=cv2.INTER_AREA)
    out[sy0:sy1, sx0:sx1] = part > 0 if any_pixel else part > 0.999
    return out


def _pack(hole_c: np.ndarray) -> np.ndarray:
    return np.packbits(hole_c, axis=None)


def _unpack(bits: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    n = (x1 - x0) * (y1 - y0)
    return np.unpackbits(bits, count=n).astype(bool).reshape(y1 - y0, x1 - x0)


def _full(crop: np.ndarray, box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = crop
    return out


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


class _Spool:
    """One sweep's sightings and holes, appended to one file (``path``) as it goes and read
    back by the other sweep: the hole when it reaches the frame, the sightings when it
    merges it (once each).

    One file for the sweep instead of one ``.npz`` per frame: creating, renaming and
    deleting a file per frame cost more than writing the box's 16 bytes a pixel; and the
    hole read back saves the other sweep decoding and growing the mask again (2.5 ms at
    854x480). The sweeps are redone whole when interrupted, so nothing here needs to
    outlive a run. Written by one thread and read by the other (each through its own
    handle); a frame is listed only once its record is written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out = open(path, "wb", buffering=0)
        self._in = open(path, "rb", buffering=0)
        self._end = 0
        self._at: dict[int, tuple[int, tuple[int, int, int, int], tuple[int, int, int, int]]] = {}  # frame -> (offset, sightings' box, hole's box)

    def put(self, i: int, s: Sightings, hole: np.ndarray) -> None:
        """Append frame ``i``'s sightings and its full-frame ``hole`` (HxW bool, not empty)."""
        start = self._end
        hole_box = mask_box(hole, 0)
        if hole_box is None:
            raise RuntimeError(f"frame {i} has sightings but an empty hole; this is a glassvid bug, please report it")
        x0, y0, x1, y1 = hole_box
        for a in (s.src.astype(np.int32, copy=False), s.quality.astype(np.float32, copy=False), s.d.astype(np.float32, copy=False), _pack(hole[y0:y1, x0:x1])):
            data = memoryview(np.ascontiguousarray(a)).cast("B")
            if self._out.write(data) != data.nbytes:
                raise CacheError(f"could not write frame {i}'s sightings to '{self.path}'; is the disk full?")
            self._end += data.nbytes
        self._at[i] = (start, s.box, hole_box)

    def hole(self, i: int, shape: tuple[int, int]) -> np.ndarray | None:
        """Frame ``i``'s hole (HxW bool) if this sweep has been there, else None."""
        rec = self._at.get(i)
        if rec is None:
            return None
        start, (x0, y0, x1, y1), box = rec
        bits = self._read(start + 16 * (y1 - y0) * (x1 - x0), -(-(box[2] - box[0]) * (box[3] - box[1]) // 8), i)
        return _full(_unpack(bits, box), box, shape)

    def take(self, i: int) -> Sightings:
        """Frame ``i``'s sightings (each frame is taken once)."""
        start, box, _ = self._at.pop(i)
        x0, y0, x1, y1 = box
        h, w = y1 - y0, x1 - x0
        buf = self._read(start, 16 * h * w, i)
        src = buf[: 4 * h * w].view(np.int32).reshape(h, w)
        quality = buf[4 * h * w : 8 * h * w].view(np.float32).reshape(h, w)
        d = buf[8 * h * w :].view(np.float32).reshape(h, w, 2)
        return Sightings(box, src, d, quality)

    def _read(self, start: int, size: int, i: int) -> np.ndarray:
        buf = np.empty(size, np.uint8)
        self._in.seek(start)
        if self._in.readinto(memoryview(buf)) != size:
            raise CacheError(f"'{self.path}' ended early while reading frame {i}; is the disk full? Run the plate pass again")
        return buf

    def close(self) -> None:
        """Close and delete the file."""
        self._out.close()
        self._in.close()
        self.path.unlink(missing_ok=True)


def _sightings(d: dict[str, np.ndarray], prefix: str = "") -> Sightings:
    box = tuple(int(v) for v in d[prefix + "box"])
    return Sightings(box, d[prefix + "src"].astype(np.int32), d[prefix + "d"].astype(np.float32), d[prefix + "quality"].astype(np.float32))  # type: ignore[arg-type]


def _save_sightings(s: Sightings, prefix: str = "") -> dict[str, np.ndarray]:
    return {prefix + "box": np.array(s.box), prefix + "src": s.src, prefix + "d": s.d, prefix + "quality": s.quality}


# -- the sweeps ----------------------------------------------------------------------------------


def run_sweep(
    clip: ClipCache,
    cfg: PlateConfig,
    order: range,
    holes: Callable[[int], np.ndarray | None],
    on_frame: Callable[[int, np.ndarray | None, Sightings | None], None],
    *,
    sighted: Callable[[int], np.ndarray | None] | None = None,
    stats: PlateStats | None = None,
    lock: threading.Lock | None = None,
) -> None:
    """Step a :class:`SourceSweep` over ``order`` and hand each frame's sightings to ``on_frame``.

    ``holes(i)`` gives frame ``i``'s full-frame hole (None = no hole); ``sighted(i)``
    optionally where frame ``i`` shows background (default: outside the hole). The
    sweep runs at ``cfg.sweep_scale`` of the frame size: its sightings' boxes and
    displacements are in those pixels (:func:`~glassvid.plate.propagate.resample`
    reads them at full size).
    """
    scale = cfg.sweep_scale
    sweep = make_sweep(cfg, scale, outside_seen=sighted is None)
    mcfg = motion_config(cfg, scale)
    prev: int | None = None
    planes_again = 0  # frames until the plane fit is tried again after it failed
    for i in order:
        hole = holes(i)
        if hole is None or not hole.any():
            sweep.reset()  # nothing hidden: the next hole starts afresh
            on_frame(i, hole, None)
            prev = None
            continue
        hole_s = shrink_mask(hole, scale, any_pixel=True)
        motion = None
        if prev is not None and sweep.prev is not None:
            box = sweep.box_for(hole_s)
            if box is None:  # shrink_mask(any_pixel=True) keeps every hole non-empty
                raise RuntimeError(f"frame {i}: the hole vanished when shrunk for the sweep; this is a glassvid bug, please report it")
            m = background_motion(FlowView(clip.flow(i, prev), scale), hole_s, box, mcfg, try_planes=planes_again == 0)
            motion, model = m.field, m.model
            # a background far from planar (water, foliage) seldom becomes so from one frame to the next
            planes_again = _PLANES_RETRY if not m.planar else max(0, planes_again - 1)
            if stats is not None:
                with lock or _NO_LOCK:
                    stats.motion_models[model] = stats.motion_models.get(model, 0) + 1
        seen = None if sighted is None else sighted(i)
        s = sweep.step(i, hole_s, motion, sighted=None if seen is None else shrink_mask(seen, scale, any_pixel=False))
        on_frame(i, hole, s)
        prev = i


def recover_plates(
    clip: ClipCache,
    cfg: PlateConfig,
    inpainter: Inpainter,
    progress: Callable[[int, int], None],
    *,
    matte_feather_px: float = 1.5,
) -> dict[str, Any]:
    """Write ``plate/<i>.npz`` for every frame with a hole into ``clip.plate_store``; returns the pass's report.

    ``matte_feather_px`` is the compositing matte's feather (``masks.feather_px``), which
    the inpaint-and-score loop renders with (:mod:`glassvid.plate.loop`; it runs when
    ``plate.loop_interval`` and ``plate.loop_iterations`` are above 0).
    """
    store = clip.plate_store
    n = clip.n
    stats = PlateStats(frames=n)
    keyframed = bool(getattr(inpainter, "per_keyframe", False))
    stages = 4 if keyframed else 2
    loop_on = cfg.loop_interval > 0 and cfg.loop_iterations > 0

    # 1-2: the forward and backward sweeps, side by side; a frame is merged (sampled,
    # filled, written) by whichever sweep reaches it second, from the other's sightings
    # on disk, so memory stays one box per sweep and the merging work is shared
    fallback = inpainter if not keyframed else OpenCVInpainter(radius_px=cfg.inpaint_radius_px, method=cfg.inpaint_method)
    if not (store.dir / "sweeps.json").is_file():
        merger = _Merger(clip, cfg, inpainter, stats, keyframed=keyframed)
        done = [0]

        holes = HoleSource(clip, cfg.hole_dilate_px)
        shape = (clip.info.height, clip.info.width)

        def sweep(direction: str) -> None:
            order = range(n) if direction == "fwd" else range(n - 1, -1, -1)
            sampler = FrameSampler(NpyFrames(lambda k: clip.frame_store.path("rgb", k, "npy")), cache_size=_MAPPED_FRAMES)
            other = merger.spools["bwd" if direction == "fwd" else "fwd"]

            def hole(i: int) -> np.ndarray:
                got = other.hole(i, shape)
                return holes(i) if got is None else got

            def arrive(i: int, hole: np.ndarray | None, s: Sightings | None) -> None:
                if s is not None and hole is not None:
                    merger.arrive(direction, i, hole, s, sampler)
                with merger.lock:
                    done[0] += 1
                    progress(done[0], stages * n)

            run_sweep(clip, cfg, order, hole, arrive, stats=stats, lock=merger.lock)

        try:
            _both(sweep, threaded=cfg.sweep_threads > 1)
        finally:
            merger.close()
        merger.finish()
        store.save_json("sweeps.json", {k: v for k, v in stats.to_dict().items() if k not in ("loop",)})
    else:
        _restore(stats, store.load_json("sweeps.json"))

    # 3: keyframes for a per-keyframe inpainter
    if keyframed:
        from glassvid.plate.keyframes import invent_on_keyframes

        invent_on_keyframes(clip, cfg, inpainter, fallback, stats, lambda done: progress(2 * n + done, stages * n))

    # 4: the inpaint-and-score loop
    if loop_on:
        from glassvid.config import GlassConfig
        from glassvid.plate.loop import PlateLoop

        if (store.dir / "loop.json").is_file():
            stats.loop = store.load_json("loop.json")
        else:
            stats.loop = PlateLoop(cfg, matte_feather_px=matte_feather_px + GlassConfig().edge_px).run(clip)
            store.save_json("loop.json", stats.loop)
    return stats.to_dict()


def _restore(stats: PlateStats, d: dict[str, Any]) -> None:
    for k in ("frames_with_hole", "hidden_px", "invented_px", "mean_age", "inpaint_invocations"):
        if k in d:
            setattr(stats, k, d[k])
    stats.seen_px = stats.hidden_px - stats.invented_px


class _Merger:
    """Meets the two sweeps at each frame: the first to arrive leaves its sightings on disk
    (its :class:`_Spool`), the second merges them with its own into the frame's plate (or
    ``known/`` for keyframes)."""

    def __init__(self, clip: ClipCache, cfg: PlateConfig, inpainter: Inpainter, stats: PlateStats, *, keyframed: bool) -> None:
        self.clip, self.cfg, self.inpainter, self.stats = clip, cfg, inpainter, stats
        self.keyframed = keyframed
        self.store = clip.plate_store
        self.store.dir.mkdir(parents=True, exist_ok=True)
        self.spools = {d: _Spool(self.store.dir / f"{d}.sightings") for d in ("fwd", "bwd")}
        self.lock = threading.Lock()
        self.written = threading.Condition(self.lock)
        self.arrived: dict[int, str] = {}
        self.ages: list[float] = []

    def arrive(self, direction: str, i: int, hole: np.ndarray, s: Sightings, sampler: FrameSampler) -> None:
        """Sweep ``direction`` ("fwd" or "bwd") has reached frame ``i`` with sightings ``s``."""
        with self.lock:
            first = i not in self.arrived
            if first:
                self.arrived[i] = "writing"
        if first:
            self.spools[direction].put(i, s, hole)
            with self.written:
                self.arrived[i] = "written"
                self.written.notify_all()
            return
        with self.written:  # the two meet at one frame at most: wait until the other's is on disk
            self.written.wait_for(lambda: self.arrived[i] == "written")
            del self.arrived[i]
        other = "bwd" if direction == "fwd" else "fwd"
        theirs = self.spools[other].take(i)
        fwd, bwd = (s, theirs) if direction == "fwd" else (theirs, s)
        self.merge(i, hole, fwd, bwd, sampler)

    def merge(self, i: int, hole: np.ndarray, fwd: Sightings, bwd: Sightings, sampler: FrameSampler) -> None:
        cfg, store = self.cfg, self.store
        rgb, age, src, conf, hole_c = _combine(i, fwd, bwd, hole, cfg, sampler)
        unknown = hole_c & ~np.isfinite(age)
        seen = hole_c & np.isfinite(age)
        box = np.array(plate_box(hole))
        if self.keyframed:
            store.save_arrays("known", i, box=box, rgb=rgb, age=age, source=src, conf=conf.astype(np.float16), hole=_pack(hole_c))
        else:
            if unknown.any():
                rgb = self.inpainter(np.ascontiguousarray(rgb), unknown)
            store.save_arrays("plate", i, box=box, rgb=rgb, age=age, source=src, conf=conf.astype(np.float16))
        with self.lock:
            st = self.stats
            st.frames_with_hole += 1
            st.hidden_px += int(hole_c.sum())
            st.invented_px += int(unknown.sum())
            if unknown.any() and not self.keyframed:
                st.inpaint_invocations += 1
            if seen.any():
                self.ages.append(float(age[seen].mean()))

    def finish(self) -> None:
        self.stats.seen_px = self.stats.hidden_px - self.stats.invented_px
        self.stats.mean_age = float(np.mean(self.ages)) if self.ages else 0.0

    def close(self) -> None:
        """Delete the sweeps' sightings."""
        for spool in self.spools.values():
            spool.close()


def _both(sweep: Callable[[str], None], *, threaded: bool) -> None:
    """Run ``sweep("fwd")`` and ``sweep("bwd")``, side by side in two threads or one after the other.

    NumPy and OpenCV release the interpreter lock in their loops, so two threads use two
    cores. An exception in either is raised here.
    """
    if not threaded:
        sweep("fwd")
        sweep("bwd")
        return
    errors: list[BaseException] = []

    def run() -> None:
        try:
            sweep("fwd")
        except BaseException as exc:  # noqa: BLE001 (re-raised below, in the caller's thread)
            errors.append(exc)

    # each sweep on one core: OpenCV's own worker threads on top would oversubscribe them
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    t = threading.Thread(target=run, name="glassvid-forward-sweep")
    t.start()
    try:
        sweep("bwd")
    finally:
        t.join()
        cv2.setNumThreads(cv_threads)
    if errors:
        raise errors[0]


def plate_box(hole: np.ndarray) -> tuple[int, int, int, int]:
    """The plate's box for a frame with ``hole``: the hole with ``_CONTEXT_PX`` around it."""
    box = mask_box(hole, _CONTEXT_PX)
    if box is None:
        raise ValueError("plate_box needs a hole with at least one pixel; frames without one have no plate box")
    return box


def _combine(
    i: int,
    fwd_small: Sightings,
    bwd_small: Sightings,
    hole: np.ndarray,
    cfg: PlateConfig,
    sampler: FrameSampler,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Frame ``i``'s plate inside its box from the two sweeps' sightings.

    Returns ``(rgb hxwx3 uint8, age hxw float32 (0 visible, inf unseen), source hxw int32
    (the frame shown; -1 unseen), conf hxw float32, hole_c hxw bool)`` over :func:`plate_box`.
    """
    box = plate_box(hole)
    x0, y0, x1, y1 = box
    hole_c = hole[y0:y1, x0:x1]
    rgb = np.array(sampler.image(i)[y0:y1, x0:x1])
    h, w = hole_c.shape
    age = np.zeros((h, w), np.float32)
    src = np.full((h, w), i, np.int32)
    conf = np.ones((h, w), np.float32)
    ys, xs = np.nonzero(hole_c)
    px, py = xs + x0, ys + y0
    fa = resample(fwd_small, px, py, cfg.sweep_scale)
    fb = resample(bwd_small, px, py, cfg.sweep_scale)
    wa, c, s = merge((fa[0], fa[2]), (fb[0], fb[2]), i, cfg.confidence_half_life, cfg.blend_ratio)
    seen = s >= 0
    fx, fy = px.astype(np.float32), py.astype(np.float32)
    # each sweep's colour where it counts (both where blended)
    cols = []
    for (src_k, d_k, _), weight in ((fa, wa), (fb, 1.0 - wa)):
        use = weight > 0
        cols.append(sampler.sample(np.where(use, src_k, NO_SOURCE), fx + d_k[:, 0], fy + d_k[:, 1]) if use.any() else np.zeros((len(ys), 3), np.float32))
    col = wa[:, None] * cols[0] + (1.0 - wa)[:, None] * cols[1]
    sy, sx = ys[seen], xs[seen]
    rgb[sy, sx] = _to_uint8(col[seen])
    age[ys, xs] = np.where(seen, np.abs(i - s), np.inf)
    src[ys, xs] = np.where(seen, s, _INVENTED_SOURCE)
    conf[ys, xs] = np.where(seen, c, 0.0)
    return rgb, age, src, conf, hole_c
