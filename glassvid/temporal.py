"""Temporal steadiness: carry each output forward by motion, so the glass does not shimmer.

Per frame, inside the object's region only (outside it the output is the render, which
is the input, bit for bit)::

    out_t = render_t + w * (carried_t - render_t)
    w     = strength * exp(-(change / agreement)^2)

``carried_t`` is the previous *output* brought onto frame t by motion: a recursive
(exponential) filter along motion trajectories -- the classic motion-compensated
temporal filter -- so a steady part of the object is an average over about
``1 / (1 - strength)`` frames and its frame-to-frame noise shrinks by
``sqrt((1 - strength) / (1 + strength))``. Its effect is measured as Lai et al. (ECCV
2018) do, by the warping error of the output (``glassvid eval``: ``flicker``).
``change`` is the local mean colour difference between the render and ``carried_t``
(averaged over ``agreement_radius_px`` so per-pixel noise counts little and coherent
change counts fully): where the object really changed -- new content, a disocclusion,
motion the carried image does not follow -- ``change`` exceeds ``agreement``, ``w``
falls to 0 and the new render comes through without a ghost.

Which motion carries the previous output matters for glass. What is seen inside a clear
object is mostly the background behind it, refracted; it does not move with the object.
Warping by the object's (input) flow drags that background along with the object. So
the previous output is carried by several motions and, per pixel, the one whose result
agrees best with the render is used (``TemporalConfig.motion``):

- ``render``: the optical flow of the rendered output itself, from the new render to the
  previous output, computed on the object's crop (whatever moves in the output -- the
  refracted background, the rims, the highlights -- moves by it);
- ``object``: the input's flow (the object's own motion, from the analyse pass, trusted
  where its forward-backward check passes): rims, highlights, tint and frost ride on it;
- ``still``: no motion (a static background seen through the glass of a still shot).

Measured on ``cup_slide`` (a glass sliding over a still background, true matte and plate;
issue 7): flicker 0.00343 off, 0.00307 carried by the object's flow, 0.00238 by the
render's own flow and stillness (the default, ``render``), 0.00231 with all three
(``all``, which also needs the analyse pass's flow at every frame: about twice the cost).

A scene cut (the colours or the layout of the frame change at once) resets
the filter: nothing is carried across it.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from glassvid.config import TemporalConfig
from glassvid.errors import InputError
from glassvid.flow import FlowEstimator
from glassvid.flow.ops import fb_agrees

# The flow of the render is computed on the region's bounding box grown by this much, so
# DIS sees some context around the object (its patches are 8 px; its coarsest levels a few
# times that).
_FLOW_CONTEXT_PX = 16
# Scene-cut thumbnails: a hue-saturation histogram (brightness left out, so an exposure
# change is not a cut) taken at this size, the structure (luminance correlation) at a
# smaller one, where noise and small motion no longer matter.
_CUT_HIST_SIZE = (160, 90)
_CUT_HUE_BINS, _CUT_SAT_BINS = 12, 6
_CUT_STRUCTURE_SIZE = (16, 9)
# Forward-backward check of the object's flow (Sundaram et al. 2010), as in flow.ops.
_FB_ALPHA1, _FB_ALPHA2 = 0.01, 0.5

MOTIONS = {
    "render": ("render", "still"),
    "object": ("object",),
    "all": ("render", "object", "still"),
}


# ----------------------------------------------------------------------------- scene cuts


class CutSignature:
    """What :func:`is_scene_cut` compares of a frame: a hue-saturation histogram and a luminance thumbnail."""

    __slots__ = ("hist", "thumb")

    def __init__(self, frame: np.ndarray) -> None:
        """``frame``: HxWx3 uint8 RGB."""
        # bilinear to twice the size, then area: near the cost of sampling, most of the anti-aliasing
        w, h = _CUT_HIST_SIZE
        small = cv2.resize(cv2.resize(frame, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR), _CUT_HIST_SIZE, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [_CUT_HUE_BINS, _CUT_SAT_BINS], [0, 180, 0, 256]).ravel()
        self.hist = hist / max(float(hist.sum()), 1.0)
        lum = cv2.resize(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), _CUT_STRUCTURE_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)
        lum -= lum.mean()
        self.thumb = lum / max(float(np.sqrt((lum * lum).mean())), 1.0)  # a flat frame stays ~0


def cut_scores(a: CutSignature, b: CutSignature) -> tuple[float, float]:
    """``(colour, structure)`` change between two frames.

    ``colour``: total-variation distance of the 12x6 hue-saturation histograms, 0 (same
    colours) to 1 (disjoint); brightness does not enter. ``structure``: 1 - the
    correlation of the 16x9 luminance thumbnails, 0 (same layout) to 2 (inverted).
    """
    colour = 0.5 * float(np.abs(a.hist - b.hist).sum())
    structure = 1.0 - float((a.thumb * b.thumb).mean())
    return colour, structure


def is_scene_cut(prev_frame: np.ndarray | CutSignature, frame: np.ndarray | CutSignature, cfg: TemporalConfig) -> bool:
    """Whether ``frame`` starts a new shot after ``prev_frame`` (HxWx3 uint8 RGB, or their signatures).

    A cut when the colours change at once (``cfg.cut_colour``) or the layout does
    (``cfg.cut_structure``). On the shared clips, consecutive frames reach at most 0.08
    (colour) and 0.10 (structure, fast motion); pairs of different clips at least 0.44
    (colour) and 0.33 (structure).
    """
    a = prev_frame if isinstance(prev_frame, CutSignature) else CutSignature(prev_frame)
    b = frame if isinstance(frame, CutSignature) else CutSignature(frame)
    colour, structure = cut_scores(a, b)
    return colour > cfg.cut_colour or structure > cfg.cut_structure


# ----------------------------------------------------------------------------- the blend


def _box(region: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of ``region``'s bounding box grown by ``margin``, clipped to the frame."""
    x, y, w, h = cv2.boundingRect(region.view(np.uint8))
    rows, cols = region.shape
    return max(0, y - margin), min(rows, y + h + margin), max(0, x - margin), min(cols, x + w + margin)


def _sample(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``image`` sampled (bilinear, edges replicated) at ``where``: HxWx2 float32 absolute (x, y)."""
    return cv2.remap(image, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


_MEAN_RGB = np.full((1, 3), 1.0 / (3 * 255.0), np.float32)


def _change(render: np.ndarray, carried: np.ndarray, cfg: TemporalConfig) -> np.ndarray:
    """``(local change / agreement)^2``, HxW float32: the local mean absolute colour difference
    (0-1 scale, box of radius ``agreement_radius_px``) over the agreement, squared."""
    d = cv2.transform(cv2.absdiff(render, carried).astype(np.float32), _MEAN_RGB)
    if cfg.agreement_radius_px > 0:
        d = cv2.blur(d, (2 * cfg.agreement_radius_px + 1,) * 2)
    d *= np.float32(1.0 / cfg.agreement)
    return d * d


def temporal_blend(
    render: np.ndarray,
    prev_out: np.ndarray,
    region: np.ndarray,
    cfg: TemporalConfig,
    *,
    render_flow: FlowEstimator | None = None,
    object_flows: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Steady ``render`` with ``prev_out`` inside ``region``; a new array, ``render`` elsewhere.

    Args:
        render: HxWx3 uint8 RGB, this frame's render.
        prev_out: HxWx3 uint8 RGB, the previous frame's *output* (already steadied).
        region: HxW bool, where the render may differ from the input (the matte > 0).
        cfg: strength, agreement, motions (see :class:`~glassvid.config.TemporalConfig`).
        render_flow: flow estimator for the ``render`` motion (called on the region's
            box: flow from the render to ``prev_out``); that motion is skipped when None.
        object_flows: ``(flow t-1 -> t, flow t -> t-1)`` of the input, HxWx2 float32
            (x right, y down, pixels), for the ``object`` motion; skipped when None.

    Pixels outside ``region`` are ``render``'s exactly.
    """
    region = np.asarray(region, dtype=bool)
    if render.shape != prev_out.shape or render.shape[:2] != region.shape or render.ndim != 3:
        raise InputError(f"temporal_blend: render {render.shape}, previous output {prev_out.shape} and region {region.shape} must be HxWx3 and HxW of one size")
    if cfg.strength <= 0 or not region.any():
        return render
    y0, y1, x0, x1 = _box(region, _FLOW_CONTEXT_PX)
    r = render[y0:y1, x0:x1]
    grid = _frame_grid(*region.shape)[y0:y1, x0:x1]  # absolute coordinates of the box's pixels
    best_change = best = None
    for motion in MOTIONS[cfg.motion]:  # ties go to the earlier motion
        trusted = None
        if motion == "still":
            carried = prev_out[y0:y1, x0:x1]
        elif motion == "render":
            if render_flow is None:
                continue
            f = render_flow(r, prev_out[y0:y1, x0:x1])
            carried = _sample(prev_out, cv2.add(f, grid))
        else:  # object: trusted where the input's flow passes its forward-backward check
            if object_flows is None:
                continue
            fwd, bwd = object_flows
            f = np.ascontiguousarray(bwd[y0:y1, x0:x1], dtype=np.float32)
            where = cv2.add(f, grid)
            trusted = fb_agrees(f, _sample(fwd, where), _FB_ALPHA1, _FB_ALPHA2)
            carried = _sample(prev_out, where)
        change = _change(r, carried, cfg)
        if trusted is not None:
            change[~trusted] = np.inf
        if best is None:
            best_change, best = change, carried
        else:
            better = (change < best_change).view(np.uint8)
            if np.may_share_memory(best, prev_out):  # never write into the previous output
                best = best.copy()
            cv2.copyTo(change, better, best_change)
            cv2.copyTo(carried, better, best)
    if best is None:
        return render
    w = cv2.exp(-best_change)
    w *= np.float32(cfg.strength)
    blended = cv2.blendLinear(r, best, 1.0 - w, w)
    out = render.copy()
    cv2.copyTo(blended, region[y0:y1, x0:x1].view(np.uint8), out[y0:y1, x0:x1])
    return out


@functools.lru_cache(maxsize=2)
def _frame_grid(rows: int, cols: int) -> np.ndarray:
    """HxWx2 float32 pixel coordinates (x, y) of a frame (read-only: kept for the next frame of that size)."""
    gx, gy = np.meshgrid(np.arange(cols, dtype=np.float32), np.arange(rows, dtype=np.float32))
    grid = cv2.merge([gx, gy])
    grid.flags.writeable = False
    return grid


class TemporalFilter:
    """The temporal stage over one clip: feed frames in order, get steadied outputs.

    ``render_flow`` is the flow estimator for the ``render`` motion (default: DIS with
    ``cfg.flow_preset``, solved about ``cfg.flow_width_px`` wide); tests may pass their own.
    """

    def __init__(self, cfg: TemporalConfig, *, render_flow: FlowEstimator | None = None) -> None:
        self.cfg = cfg
        if render_flow is None and "render" in MOTIONS[cfg.motion] and cfg.strength > 0:
            from glassvid.flow.dis import DISFlow

            render_flow = DISFlow(preset=cfg.flow_preset, min_width_px=cfg.flow_width_px)
        self.render_flow = render_flow
        self.needs_object_flow = "object" in MOTIONS[cfg.motion] and cfg.strength > 0
        self._prev_sig: CutSignature | None = None
        self._prev_out: np.ndarray | None = None
        self.cuts: list[int] = []  # frame numbers (calls to step, from 0) where a cut reset the filter
        self._t = 0

    def reset(self) -> None:
        """Forget the past (the next frame is taken as it is)."""
        self._prev_sig = self._prev_out = None

    def signature(self, frame: np.ndarray) -> CutSignature | None:
        """What :meth:`step` compares of ``frame`` to find cuts (None when the stage is off);
        a caller may make it ahead, in another thread, and pass it to :meth:`step`."""
        return CutSignature(frame) if self.cfg.strength > 0 else None

    def step(
        self,
        frame: np.ndarray | CutSignature,
        render: np.ndarray,
        region: np.ndarray,
        object_flows: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """This frame's output. ``frame``: the input (HxWx3 uint8 RGB, for cut detection) or its
        :meth:`signature`; ``render``: its glass render; ``region``: HxW bool;
        ``object_flows``: see :func:`temporal_blend`. Outside ``region`` the result is
        ``render``, exactly.
        """
        t, self._t = self._t, self._t + 1
        if self.cfg.strength <= 0:
            return render
        sig = frame if isinstance(frame, CutSignature) else CutSignature(frame)
        out = render
        if self._prev_out is not None:
            if is_scene_cut(self._prev_sig, sig, self.cfg):  # type: ignore[arg-type]
                self.cuts.append(t)
            else:
                out = temporal_blend(render, self._prev_out, region, self.cfg, render_flow=self.render_flow, object_flows=object_flows)
        self._prev_sig, self._prev_out = sig, out
        return out
