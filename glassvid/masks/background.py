"""How far a box prompt's pixels are from what the other frames of the clip show at their place.

A box says where the object is, not what it is. Colour alone (GrabCut) goes wrong where the
box holds more background than object (a player and his long shadow: GrabCut takes the wall
band behind him), where background looks like the object, or where the object is thin (a
bike's wheels, filled by GrabCut with the road seen through them). But the other frames of
a clip usually show what lies behind the object: it moves over its background, or the
camera follows it while the background streams past. Those frames are aligned to the
prompt frame with the background's own motion (one homography per frame, fitted to the
optical flow, chained from frame to frame); a pixel of the object, and of what moves with
it (its cast shadow), then differs from what most of them show at its place, a pixel of
the background does not (background subtraction with a moving camera). The median over
the frames of that colour distance is what :meth:`glassvid.masks.classic.ClassicMasks.initial_mask`
weighs against GrabCut; the colour those frames show (:func:`background_view`) tells a part of the
object, in front of something else, from a slow object's trail, where they show the object itself.

The same question, asked of every frame while its mask is propagated, is :class:`NeighbourFrames`:
each frame against a few frames before and after it only, read on the propagator's own work grid,
so that it costs a few milliseconds a frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

import cv2
import numpy as np

BACKGROUND_FRAMES = 40  # frames (after the prompt frame, then before it) the prompt frame is compared with
_MIN_FRAMES = 5  # fewer frames than this cannot outvote an object that lingers at its place
_MARGIN = 0.5  # the difference is computed around the box, this far out (fraction of the box's size), as GrabCut's context
_WORK_PIXELS = 250_000  # ... on that region resampled to at most this many pixels (the frames' stack stays small)
_FIT_POINTS = 4000  # flow samples a frame-to-frame homography is fitted to: a grid over the whole frame, the object
# included (RANSAC leaves it out as outliers; leaving the box out made the alignment worse on the benchmark's clips)
_QUANTILE = 0.5  # the median distance: a pixel differs when most frames show something else there (lower ranks,
# which ask an object to be gone from more of the frames, found less of the benchmark's objects)
_RANSAC_FRACTION = 0.0025  # RANSAC's inlier distance: this fraction of the frame's longer side (2 px at 854 wide)


def background_view(frame: np.ndarray, box: tuple[int, int, int, int], chains: Iterable[Iterable[tuple[np.ndarray, np.ndarray]]]) -> tuple[np.ndarray, np.ndarray] | None:
    """How far each pixel of ``frame`` around ``box`` is from what the other frames show at its place, and what they show.

    Returns ``(difference, behind)`` or None: ``difference`` HxW float32, ``behind`` HxWx3
    float32 RGB (0-255), the colour of the frame whose distance is that quantile (what most
    frames show there: the background behind the object, or the object itself where a slow
    object covers the place in most of them); both NaN where unknown.

    The colour distance (RGB, 0-255) from the pixel to each other frame, aligned to
    ``frame`` by the background's motion, at the ``_QUANTILE`` over those frames. NaN
    where no frame reaches and outside the box's neighbourhood (only that is computed).

    ``chains``: runs of frames leading away from ``frame`` (after it, before it), each an
    iterable of ``(image, flow)`` in order: ``image`` HxWx3 uint8 RGB, ``flow`` HxWx2 from
    that image to the previous one of its run (``frame`` for the first). At most
    ``BACKGROUND_FRAMES`` images are used; None when fewer than ``_MIN_FRAMES`` come.
    """
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = box
    m = int(_MARGIN * max(x1 - x0, y1 - y0)) + 4
    rx0, ry0, rx1, ry1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    rw, rh = rx1 - rx0, ry1 - ry0
    if rw <= 0 or rh <= 0:
        return None
    s = min(1.0, float(np.sqrt(_WORK_PIXELS / (rw * rh))))
    ww, wh = max(2, int(round(rw * s))), max(2, int(round(rh * s)))
    to_work = np.array([[s, 0, -rx0 * s], [0, s, -ry0 * s], [0, 0, 1]], np.float64)
    here = cv2.warpPerspective(frame, to_work, (ww, wh), flags=cv2.INTER_LINEAR).astype(np.float32)
    points = _fit_grid(h, w)
    dists, images = [], []
    for run in chains:
        to_prompt = np.eye(3)  # this run's current image -> the prompt frame
        for image, flow in run:
            if len(dists) >= BACKGROUND_FRAMES:
                break
            step = _homography(points, flow, max(h, w))
            if step is None:
                break  # the background's motion is lost: frames further on cannot be aligned
            to_prompt = to_prompt @ step
            onto = to_work @ to_prompt
            warped = cv2.warpPerspective(image, onto, (ww, wh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            reached = cv2.warpPerspective(np.ones(image.shape[:2], np.uint8), onto, (ww, wh), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT) > 0
            dist = np.linalg.norm(warped.astype(np.float32) - here, axis=2)
            dist[~reached] = np.nan
            dists.append(dist)
            images.append(warped)
    if len(dists) < _MIN_FRAMES:
        return None
    diff, pick = _nan_quantile(np.stack(dists), _QUANTILE)
    shown = np.take_along_axis(np.stack(images), pick[None, :, :, None], axis=0)[0].astype(np.float32)
    shown[np.isnan(diff)] = np.nan
    out = np.full((h, w), np.nan, np.float32)
    behind = np.full((h, w, 3), np.nan, np.float32)
    out[ry0:ry1, rx0:rx1] = cv2.resize(diff, (rw, rh), interpolation=cv2.INTER_LINEAR) if s < 1 else diff
    behind[ry0:ry1, rx0:rx1] = cv2.resize(shown, (rw, rh), interpolation=cv2.INTER_NEAREST) if s < 1 else shown
    return out, behind


def _fit_grid(h: int, w: int, points: int = _FIT_POINTS) -> np.ndarray:
    """About ``points`` sample points (N x 2 float32, x y) on a grid over the frame."""
    step = max(2, int(np.sqrt(h * w / points)))
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def _homography(points: np.ndarray, flow: np.ndarray, size: int) -> np.ndarray | None:
    """The homography (3x3) that maps an image onto the previous one of its run, fitted to ``flow`` at ``points``."""
    d = np.asarray(flow[points[:, 1].astype(np.int32), points[:, 0].astype(np.int32)], np.float32)
    ok = np.isfinite(d).all(axis=1)
    if np.count_nonzero(ok) < 8:
        return None
    src = points[ok]
    hom, _ = cv2.findHomography(src, src + d[ok], cv2.RANSAC, _RANSAC_FRACTION * size)
    return hom


def _nan_quantile(stack: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel ``q``-quantile over axis 0 of ``stack`` (N x H x W), NaN values left out (NaN where all are),
    and which of the N it is (H x W int64).

    The nearest rank of the values sorted per pixel: a sort of a few dozen values per
    pixel is several times faster than ``np.nanquantile``'s general path.
    """
    n = stack.shape[0]
    flat = stack.reshape(n, -1).T
    order = np.argsort(flat, axis=1)  # NaN sort last
    values = np.take_along_axis(flat, order, axis=1)
    count = n - np.isnan(values).sum(axis=1)
    rank = np.clip(np.round(q * (count - 1)).astype(np.int64), 0, n - 1)
    out = np.take_along_axis(values, rank[:, None], axis=1)[:, 0]
    out[count == 0] = np.nan
    which = np.take_along_axis(order, rank[:, None], axis=1)[:, 0]
    return out.reshape(stack.shape[1:]), which.reshape(stack.shape[1:])


NEIGHBOUR_OFFSETS = (2, 4, 8)  # a frame is compared with the frames this far before and after it
_NEIGHBOUR_MIN = 3  # fewer frames than this reaching a pixel cannot outvote an object passing there: unknown (NaN)
_NEIGHBOUR_KEEP = 2 * max(NEIGHBOUR_OFFSETS) + 2  # frames and homographies kept: the offsets' span, both ways
_NEIGHBOUR_FIT_POINTS = 500  # flow samples each neighbouring pair's homography is fitted to (an eighth of _FIT_POINTS: it runs every frame)


class NeighbourFrames:
    """The frames around each frame of a clip, aligned to it by the background's motion: background subtraction frame by frame.

    :func:`background_view` compares one prompt frame with the whole clip; a mask
    propagator needs the same question answered for every frame, on its own work grid,
    within a few milliseconds. So each frame is compared with the frames
    ``NEIGHBOUR_OFFSETS`` before and after it only, aligned by one homography per pair of
    neighbouring frames (fitted to the optical flow, chained), and the colour distance's
    median over them is taken (:meth:`difference`). A moving object, and what moves with
    it (its cast shadow, thin parts such as a bike's rims), differs from what those frames
    show at its place; the background does not. Neither does an object that has not moved
    off its place within the offsets, or one that matches its background's colour: they
    read as background, so the reading is evidence to weigh, not a segmentation.

    ``frame(i)``: HxWx3 uint8 RGB; ``flow_back(i)``: HxWx2 float (16 or 32 bit), frame ``i`` -> ``i - 1``
    (``i >= 1``); ``n``: the clip's length. Memory is bounded: the last
    ``_NEIGHBOUR_KEEP`` frames and homographies read are kept.
    """

    def __init__(self, frame: Callable[[int], np.ndarray], flow_back: Callable[[int], np.ndarray], n: int) -> None:
        self._read_frame, self._flow_back, self.n = frame, flow_back, n
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._steps: OrderedDict[int, np.ndarray | None] = OrderedDict()

    def difference(self, t: int, here: np.ndarray, to_grid: np.ndarray) -> np.ndarray | None:
        """How far each pixel of ``here`` is from what the frames around frame ``t`` show at its place.

        ``here``: hxwx3 (uint8 or float32 RGB), frame ``t`` resampled on a grid; ``to_grid``:
        3x3, maps frame ``t``'s pixels onto that grid. Returns hxw float32, the median
        colour distance (RGB, 0-255) over the frames that reach each pixel (NaN where
        fewer than ``_NEIGHBOUR_MIN`` do), or None when fewer frames can be aligned at all.
        """
        gh, gw = here.shape[:2]
        here = np.asarray(here, np.float32)
        ones = np.ones((1, 3), np.float32)
        dists, reach = [], []
        for u in [t + k for k in NEIGHBOUR_OFFSETS] + [t - k for k in NEIGHBOUR_OFFSETS]:
            onto = self._onto(u, t)
            if onto is None:
                continue
            warp = to_grid @ onto
            image = self._frame(u)
            shown = cv2.warpPerspective(image, warp, (gw, gh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT).astype(np.float32)
            reached = _reached(warp, image.shape[:2], (gh, gw))
            away = cv2.subtract(shown, here)
            dists.append(np.where(reached, cv2.sqrt(cv2.transform(cv2.multiply(away, away), ones)), np.float32(np.inf)))
            reach.append(reached)
        if len(dists) < _NEIGHBOUR_MIN:
            return None
        return _median_few(dists, sum(r.view(np.uint8) for r in reach), _NEIGHBOUR_MIN)

    def _frame(self, i: int) -> np.ndarray:
        if i not in self._frames:
            self._frames[i] = self._read_frame(i)
            if len(self._frames) > _NEIGHBOUR_KEEP:
                self._frames.popitem(last=False)
        self._frames.move_to_end(i)
        return self._frames[i]

    def _step(self, i: int) -> np.ndarray | None:
        """The homography mapping frame ``i`` onto frame ``i - 1`` (None where the background's motion is lost)."""
        if i not in self._steps:
            flow = self._flow_back(i)
            h, w = flow.shape[:2]
            self._steps[i] = _homography(_fit_grid(h, w, _NEIGHBOUR_FIT_POINTS), flow, max(h, w))
            if len(self._steps) > _NEIGHBOUR_KEEP:
                self._steps.popitem(last=False)
        self._steps.move_to_end(i)
        return self._steps[i]

    def _onto(self, u: int, t: int) -> np.ndarray | None:
        """The homography mapping frame ``u`` onto frame ``t``, or None outside the clip or where the chain is lost."""
        if not 0 <= u < self.n or u == t:
            return None
        chain = np.eye(3)  # the later frame onto the earlier one, one step at a time
        for i in range(max(u, t), min(u, t), -1):
            step = self._step(i)
            if step is None:
                return None
            chain = step @ chain
        return chain if u > t else np.linalg.inv(chain)


def _reached(warp: np.ndarray, size: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
    """Which pixels of a grid (h, w) an image of ``size`` (h, w) covers once warped onto it by ``warp`` (3x3): HxW bool.

    The image's outline, inset by a pixel (bilinear sampling there mixes in the border), mapped
    onto the grid and filled: a homography between neighbouring frames keeps it convex.
    """
    h, w = size
    corners = np.float32([[[1, 1]], [[w - 2, 1]], [[w - 2, h - 2]], [[1, h - 2]]])
    outline = cv2.perspectiveTransform(corners, warp)
    out = np.zeros(grid, np.uint8)
    if np.isfinite(outline).all():
        cv2.fillConvexPoly(out, np.round(outline[:, 0] * 16).astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
    return out > 0


def _median_few(values: list[np.ndarray], count: np.ndarray, least: int) -> np.ndarray:
    """Per-pixel median (:func:`_nan_quantile`'s nearest rank at 0.5) of a few same-shaped float32 arrays
    whose unknown values are +inf; ``count``: how many are known per pixel. NaN where fewer than ``least`` are.

    An odd-even transposition sort over the arrays: for the half dozen of :class:`NeighbourFrames`
    it is several times faster than a sort along a stacked axis.
    """
    ranked = list(values)
    n = len(ranked)
    for r in range(n):
        for k in range(r % 2, n - 1, 2):
            low = np.minimum(ranked[k], ranked[k + 1])
            ranked[k + 1] = np.maximum(ranked[k], ranked[k + 1])
            ranked[k] = low
    rank = np.round(0.5 * (count.astype(np.float32) - 1.0))
    out = ranked[0].copy()
    for k in range(1, n):
        out = np.where(rank == k, ranked[k], out)
    out[count < least] = np.nan
    return out
