"""The See-Through Score: how see-through the object looks, in [0, 1], with no ground truth.

Per frame it reads four images every run has: the **output** ``out`` (the frame with
the object rendered as glass), the **input** ``frame`` (the opaque object), the object's
**mask** and the **plate** the output was rendered from (the recovered background).
Three factors, each in [0, 1], multiply::

    score = transparency * background * continuity

- **transparency** -- no leftover texture of the opaque object. Inside the object (the
  mask eroded by ``INTERIOR_PX``, so the silhouette's own edge, which glass shows too,
  does not count) the output's detail is regressed on the input's: with ``D`` a
  band-pass (difference of Gaussians, sigma ``TEXTURE_BAND``) of luminance,
  ``alpha = sum D(out) D(frame) / sum D(frame)^2``. A result that is the opaque object
  mixed in at ``a`` gives ``alpha = a`` (glass's own detail, the refracted background,
  is unrelated to the object's texture and averages out); transparency is
  ``1 - clip(alpha, 0, 1)``. An object without texture gives 1 here, and is judged by
  the next factor.
- **background** -- background structure visible inside the object. The output's fine
  detail inside the object, less the part the regression above gave to the opaque
  object (``D'(out) - alpha D'(frame)``, ``D'`` a finer band, sigma ``DETAIL_BAND``),
  against the fine detail of the background right around the object (the input in a
  ring ``RING_PX`` outside the mask): the ratio of their RMS, divided by the
  background's share ``1 - alpha`` (so the mixing is counted once, by transparency),
  capped at 1. Clear glass passes the background's detail through (about 1); a blurred
  or smeared plate, frost, or an opaque textureless object does not (towards 0).
  Detail beyond ``EXCESS_DETAIL`` times the background's was added rather than passed
  through (doubled images, noise) and counts against it: the factor is then
  ``EXCESS_DETAIL / ratio``. A background without detail gives 1.
- **continuity** -- the plate the glass shows is the background: it continues across
  the boundary of the hole it filled, and holds no piece of the object. The second
  part, ``leftover``, is the fraction of the hole whose colour a histogram model (object
  inside the mask vs the background in a ring around it, ``COLOUR_BINS`` bins per
  channel) calls the object's, beyond the rate it calls the background's own ring so (a
  mask that missed part of the object lets pieces of it into the plate), combined with
  the same fraction in a band ``LEFTOVER_EDGE_PX`` either side of the hole's boundary
  (the object's rim, left in the plate where the mask fell short of it: thin, so its
  share of the area is small, but the glass shows it along the whole outline); the
  first, the seam:
  the background continues across the boundary of the hole the plate filled. Along that boundary (the mask grown by ``hole_px``, as the plate pass grew
  it), the plate's luminance difference *across* the boundary (``SEAM_STEP_PX`` either
  side) is compared with the differences at the same spacing on each side of it; a
  plate that continues the background gives a ratio ``r`` near 1 (or below, if the
  fill is smooth), a misplaced or seamed one above; along a short boundary the ratio of
  a seamless plate varies by up to ``SEAM_TOLERANCE`` with the texture. Continuity is
  ``min(1, sqrt(SEAM_TOLERANCE / r)) * (1 - leftover)``.

A clip's score is the mean over its frames with an object (:func:`clip_score`). The
parts are reported separately (:class:`SeeThrough`), and :func:`local_score` gives a
per-pixel map of the first two for finding weak regions.

Agreement with ground truth (``tests/test_score.py``, ``benchmarks/plate.py``, frames 8,
24 and 40 of each scene of ``../shared/data/gt/``): it ranks ``glass/`` above glassvid's
render above the 50 % blend of the input with its inpainting above the opaque input on
both scenes (cup_slide 1.00 > 0.98 > 0.06 > 0; sphere_orbit 0.99 > 0.84 > 0.03 > 0).
Across the truth with defects applied (the opaque object mixed back in at 0-100 %, the
plate shifted by 2-8 px, the refraction scaled by 0.5-4x, the last two as the change
they make in glassvid's render) its Spearman correlation with PSNR against ``glass/`` is
0.89 and 0.84; without the refraction defects 1.00 and 0.98. It cannot tell a
refraction of the wrong strength (that needs the object's true shape and IOR), and
the same defects applied to glassvid's render instead of the truth give 0.71 and 0.71:
there PSNR barely moves (the render is 17-18 dB from the truth whatever is done to
it; mixing a quarter of the bright opaque sphere back in even raises it), while the
score falls with every defect.

Convention: images are HxWx3 uint8 RGB of one size; masks HxW bool, True on the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from glassvid.errors import InputError

INTERIOR_PX = 5  # the silhouette's edge, this deep, is left out of the object's interior
TEXTURE_BAND = (0.5, 2.0)  # sigmas (px) of the band the opaque object's texture is measured in
DETAIL_BAND = (0.5, 2.0)  # sigmas (px) of the band fine background detail is measured in
EXCESS_DETAIL = 1.5  # more fine detail than this many times the background's counts against it
RING_PX = (4, 16)  # the background around the object: this far outside the mask
SEAM_STEP_PX = 1.5  # the continuity test compares pixels this far either side of the hole's boundary
SEAM_TOLERANCE = 1.5  # a seamless plate's ratio varies about 1 by this much along a short boundary
HOLE_PX = 3  # default growth of the mask into the plate's hole (plate.hole_dilate_px)
COLOUR_BINS = 16  # per RGB channel, for telling the object's colours from the background's
COLOUR_RING_PX = 24  # the background's colours are taken this far around the object
OBJECT_POSTERIOR = 0.85  # a colour is the object's when the model gives it this probability (equal priors): at least 5.7x more frequent on the object than around it
LEFTOVER_EDGE_PX = 2  # the object's rim is looked for in the plate this far either side of the hole's boundary
_MIN_COLOUR_SEPARATION = 0.5  # the object's own pixels must be called object this much more often than the background's
_MIN_SHARE = 0.05  # below this background share the output is opaque: background detail is not rescaled further
_MIN_PIXELS = 16  # fewer interior or ring pixels than this: the factor is not measured (1)
_EPS = 1e-9
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass
class SeeThrough:
    """One frame's score and its parts (see the module docstring); ``score`` None without an object."""

    score: float | None
    transparency: float = 1.0
    background: float = 1.0
    continuity: float = 1.0
    alpha: float = 0.0  # the opaque object's share of the detail inside (before clipping)


def _luma(img: np.ndarray) -> np.ndarray:
    return (img.astype(np.float32) / 255.0) @ _LUMA


def _band(x: np.ndarray, sigmas: tuple[float, float]) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigmas[0]) - cv2.GaussianBlur(x, (0, 0), sigmas[1])


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _check(out: np.ndarray, frame: np.ndarray, mask: np.ndarray, plate: np.ndarray | None) -> None:
    for name, img in (("out", out), ("frame", frame)) + ((("plate", plate),) if plate is not None else ()):
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            got = f"{img.dtype} array of shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
            raise InputError(f"see_through: {name} must be an HxWx3 uint8 RGB image, got a {got}")
        if img.shape != out.shape:
            raise InputError(f"see_through: {name} is {img.shape[1]}x{img.shape[0]} but out is {out.shape[1]}x{out.shape[0]}; give images of one size")
    if mask.shape != out.shape[:2]:
        raise InputError(f"see_through: mask has shape {mask.shape}, expected {out.shape[:2]}")


def _crop(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    ys = np.flatnonzero(mask.any(axis=1))
    if len(ys) == 0:
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return slice(max(0, ys[0] - margin), min(h, ys[-1] + 1 + margin)), slice(max(0, xs[0] - margin), min(w, xs[-1] + 1 + margin))


def see_through(out: np.ndarray, frame: np.ndarray, mask: np.ndarray, plate: np.ndarray | None = None, *, hole_px: int = HOLE_PX) -> SeeThrough:
    """The See-Through Score of one frame (module docstring); ``plate`` None skips continuity."""
    mask = np.asarray(mask).astype(bool)
    _check(out, frame, mask, plate)
    margin = max(RING_PX[1], hole_px + 2 * int(np.ceil(SEAM_STEP_PX * 3))) + int(3 * TEXTURE_BAND[1]) + 2
    win = _crop(mask, margin)
    if win is None:
        return SeeThrough(None)
    o, i_, m = _luma(out[win]), _luma(frame[win]), mask[win]
    m8 = m.astype(np.uint8)
    interior = cv2.erode(m8, _disk(INTERIOR_PX)) > 0
    if interior.sum() < _MIN_PIXELS:
        interior = m
    dist_out = cv2.distanceTransform(1 - m8, cv2.DIST_L2, 3)
    ring = (dist_out > RING_PX[0]) & (dist_out <= RING_PX[1])

    # transparency: the opaque object's texture left in the output
    to, ti = _band(o, TEXTURE_BAND), _band(i_, TEXTURE_BAND)
    energy = float((ti[interior] ** 2).sum())
    alpha = float((to[interior] * ti[interior]).sum() / energy) if energy > _EPS * interior.sum() * 1e3 else 0.0
    a = min(1.0, max(0.0, alpha))
    transparency = 1.0 - a

    # background: fine detail passed through, against the background's own around the object
    fo, fi = _band(o, DETAIL_BAND), _band(i_, DETAIL_BAND)
    res = fo[interior] - a * fi[interior]
    ref = float((fi[ring] ** 2).mean()) if ring.sum() >= _MIN_PIXELS else 0.0
    # the background's share of the output is 1 - a: judge the detail within that share
    # (the mixing is transparency's to count, once)
    share = max(1.0 - a, _MIN_SHARE)
    ratio = float(np.sqrt((res**2).mean() / ref)) / share if ref > 1e-7 else 1.0
    # detail well beyond the background's own was added, not passed through (doubled images, noise)
    background = min(1.0, ratio, EXCESS_DETAIL / ratio) if ratio > 0 else 0.0

    continuity = leftover = 1.0
    if plate is not None:
        r = seam_ratio(plate[win], m, hole_px)
        continuity = min(1.0, float(np.sqrt(SEAM_TOLERANCE / r))) if r is not None and r > 0 else 1.0
        leftover = 1.0 - plate_leftover(plate[win], frame[win], m, hole_px)
    return SeeThrough(transparency * background * continuity * leftover, transparency, background, continuity * leftover, alpha)


def colour_model(frame: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The object's colours against the background's around it, from the input ``frame``.

    Returns ``(posterior, background_rate)``: ``posterior`` maps a colour (``COLOUR_BINS``
    bins per RGB channel, flattened) to the probability that it is the object's (equal
    priors); ``background_rate`` is the fraction of the ring around
    the object that the model already calls object (its false alarms). None when the
    colours do not separate the two (an object the colour of its background) or either
    side has too few pixels.
    """
    m8 = mask.astype(np.uint8)
    interior = cv2.erode(m8, _disk(INTERIOR_PX)) > 0
    dist = cv2.distanceTransform(1 - m8, cv2.DIST_L2, 3)
    ring = (dist > RING_PX[0]) & (dist <= COLOUR_RING_PX)
    if interior.sum() < _MIN_PIXELS or ring.sum() < _MIN_PIXELS:
        return None
    n = COLOUR_BINS**3
    ho = np.bincount(_colour_index(frame[interior]), minlength=n).astype(np.float64)
    hb = np.bincount(_colour_index(frame[ring]), minlength=n).astype(np.float64)
    # per-class frequencies; a colour neither side shows stays undecided (0.5), not "object"
    po = ho / ho.sum()
    pb = hb / hb.sum()
    posterior = (po + _EPS) / (po + pb + 2 * _EPS)
    self_rate = float((posterior[_colour_index(frame[interior])] > OBJECT_POSTERIOR).mean())
    background_rate = float((posterior[_colour_index(frame[ring])] > OBJECT_POSTERIOR).mean())
    if self_rate - background_rate < _MIN_COLOUR_SEPARATION:
        return None
    return posterior, background_rate


def _colour_index(pixels: np.ndarray) -> np.ndarray:
    q = (pixels // (256 // COLOUR_BINS)).astype(np.int64)
    return (q[..., 0] * COLOUR_BINS + q[..., 1]) * COLOUR_BINS + q[..., 2]


def object_coloured(plate: np.ndarray, frame: np.ndarray, mask: np.ndarray, hole_px: int = HOLE_PX, *, rim_px: int = 0) -> np.ndarray | None:
    """HxW bool: pixels of the plate's hole whose colour is the object's rather than the background's.

    A plate is the background: object colours in it are pieces of the object carried in
    from frames whose mask missed them. ``rim_px`` > 0 looks instead outside the hole
    (the mask grown by ``hole_px``), up to that far, at object-coloured pixels joined to
    the hole: the object's rim, left where the mask fell short of its edge. None when the colour
    model does not separate object and background (:func:`colour_model`).
    """
    model = colour_model(frame, mask)
    if model is None:
        return None
    posterior, _ = model
    hole = cv2.dilate(mask.astype(np.uint8), _disk(hole_px)) > 0 if hole_px > 0 else mask
    like = posterior[_colour_index(plate)] > OBJECT_POSTERIOR
    if rim_px <= 0:
        return hole & like
    near = like & ~hole & (cv2.dilate(hole.astype(np.uint8), _disk(rim_px)) > 0)
    # only what touches the hole: object-coloured background further out is not the object's rim
    _, parts = cv2.connectedComponents((near | hole).astype(np.uint8), connectivity=8)
    joined = np.unique(parts[hole])
    return near & np.isin(parts, joined[joined > 0])


def plate_leftover(plate: np.ndarray, frame: np.ndarray, mask: np.ndarray, hole_px: int = HOLE_PX) -> float:
    """How much of the plate looks like the object, beyond the background's own rate (0-1).

    Two measures, combined as independent defects (``1 - (1 - area) (1 - edge)``): the
    share of the plate's hole (the mask grown by ``hole_px``) in the object's colours --
    pieces carried in from frames whose mask missed them -- and the same share in a band
    ``LEFTOVER_EDGE_PX`` either side of the hole's boundary -- the object's rim, left
    where the mask fell short of the object's edge. A rim is thin: as a share of the
    hole's area it would hardly count, yet the glass shows it all along its outline.
    """
    model = colour_model(frame, mask)
    if model is None:
        return 0.0
    posterior, rate = model
    hole = cv2.dilate(mask.astype(np.uint8), _disk(hole_px)) > 0 if hole_px > 0 else mask
    like = posterior[_colour_index(plate)] > OBJECT_POSTERIOR

    def beyond_rate(sel: np.ndarray) -> float:
        frac = float(like[sel].mean()) if sel.any() else 0.0
        return min(1.0, max(0.0, (frac - rate) / max(1.0 - rate, 1e-6)))

    h8 = hole.astype(np.uint8)
    din = cv2.distanceTransform(h8, cv2.DIST_L2, 3)
    dout = cv2.distanceTransform(1 - h8, cv2.DIST_L2, 3)
    edge = ((din > 0) & (din <= LEFTOVER_EDGE_PX)) | ((dout > 0) & (dout <= LEFTOVER_EDGE_PX))
    return 1.0 - (1.0 - beyond_rate(hole)) * (1.0 - beyond_rate(edge))


def seam_ratio(plate: np.ndarray, mask: np.ndarray, hole_px: int = HOLE_PX) -> float | None:
    """How much more the plate changes across the hole's boundary than beside it (1 = seamless).

    ``plate`` HxWx3 uint8, ``mask`` HxW bool (the object); the hole is the mask grown by
    ``hole_px``. For each boundary pixel with outward normal ``n`` the luminance
    differences ``p(b + s n) - p(b - s n)`` (across) and ``p(b + s n) - p(b + 3 s n)``,
    ``p(b - s n) - p(b - 3 s n)`` (each side) are taken, ``s = SEAM_STEP_PX``; the ratio
    is mean squared across over mean squared beside. None when the hole has no boundary.
    """
    hole = cv2.dilate(mask.astype(np.uint8), _disk(hole_px)) > 0 if hole_px > 0 else mask
    h8 = hole.astype(np.uint8)
    din = cv2.distanceTransform(h8, cv2.DIST_L2, 5)
    dout = cv2.distanceTransform(1 - h8, cv2.DIST_L2, 5)
    signed = cv2.GaussianBlur(dout - din, (0, 0), 1.5)  # > 0 outside the hole
    edge = hole & (din <= 1.0)
    ys, xs = np.nonzero(edge)
    if len(ys) < _MIN_PIXELS:
        return None
    gx = cv2.Sobel(signed, cv2.CV_32F, 1, 0, ksize=3)[ys, xs]
    gy = cv2.Sobel(signed, cv2.CV_32F, 0, 1, ksize=3)[ys, xs]
    norm = np.sqrt(gx * gx + gy * gy) + 1e-6
    nx, ny = gx / norm, gy / norm
    p = _luma(plate)

    def at(t: float) -> np.ndarray:
        mx = (xs + nx * t).astype(np.float32).reshape(1, -1)
        my = (ys + ny * t).astype(np.float32).reshape(1, -1)
        return cv2.remap(p, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT).ravel()

    s = SEAM_STEP_PX
    out1, in1 = at(s), at(-s)
    across = float(((out1 - in1) ** 2).mean())
    beside = 0.5 * float(((at(3 * s) - out1) ** 2).mean() + ((in1 - at(-3 * s)) ** 2).mean())
    if beside <= 1e-8:
        return None if across <= 1e-8 else float("inf")
    return across / beside


def local_score(out: np.ndarray, frame: np.ndarray, mask: np.ndarray, *, window_px: float = 8.0) -> np.ndarray:
    """HxW float32 in [0, 1]: transparency x background measured in Gaussian windows of ``window_px``.

    0 outside the mask. Where it is low the output shows the opaque object's texture or
    no background detail; the inpaint-and-score loop refills such regions.
    """
    mask = np.asarray(mask).astype(bool)
    _check(out, frame, mask, None)
    o, i_ = _luma(out), _luma(frame)
    m8 = mask.astype(np.uint8)
    dist_out = cv2.distanceTransform(1 - m8, cv2.DIST_L2, 3)
    ring = (dist_out > RING_PX[0]) & (dist_out <= RING_PX[1])
    to, ti = _band(o, TEXTURE_BAND), _band(i_, TEXTURE_BAND)
    g = lambda x: cv2.GaussianBlur(x, (0, 0), window_px)  # noqa: E731
    alpha = np.clip(g(to * ti) / (g(ti * ti) + 1e-6), 0.0, 1.0)
    fo, fi = _band(o, DETAIL_BAND), _band(i_, DETAIL_BAND)
    ref = float((fi[ring] ** 2).mean()) if ring.sum() >= _MIN_PIXELS else 0.0
    res = fo - alpha * fi
    background = np.clip(np.sqrt(g(res * res) / ref), 0.0, 1.0) if ref > 1e-7 else np.ones_like(o)
    return np.where(mask, (1.0 - alpha) * background, 0.0).astype(np.float32)


def clip_score(frames: Iterable[SeeThrough]) -> float | None:
    """Mean score over the frames that have an object; None if none has."""
    vals = [f.score for f in frames if f.score is not None]
    return float(np.mean(vals)) if vals else None
