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
"""

from __future__ import annotations

from collections.abc import Iterable

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


def _fit_grid(h: int, w: int) -> np.ndarray:
    """Sample points (N x 2 float32, x y) on a grid over the frame."""
    step = max(2, int(np.sqrt(h * w / _FIT_POINTS)))
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
