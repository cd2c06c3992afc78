"""Flow-guided background propagation that carries *where* background was seen, not its colour.

A sweep walks the clip in one direction. For each pixel of a box around the object's
hole it keeps a **sighting**: the frame ``src`` where the background at that pixel was
last seen well, and the displacement ``d`` to its position there (the pixel ``p`` of
frame ``i`` shows the background that frame ``src`` shows at ``p + d``). Moving to the
next frame composes ``d`` with the background motion; a visible pixel replaces the
carried sighting when it is better. The colour is then sampled from frame ``src`` once
(:mod:`.recover`), so a background carried over 40 frames is as sharp as one seen in
the previous frame; warping colours frame after frame blurs it a little at each step
(bilinear resampling) -- the blur is what carried plates showed before.

Background motion inside the hole (where the flow shows the object's motion, not the
background's), :func:`background_motion`: zero for a still camera (median flow below
``snap_px``: estimation noise, which would make long carries drift); else the camera's
homography where it explains the flow around the object; else one homography per
plane around it (a table and the wall behind: each hidden pixel moves with the plane
of the nearest pixel around the hole, instead of with the average of the two that a
smooth completion gives where they meet); else the homography plus a smooth
completion of the residual flow, in the spirit of FGVC's flow completion (Gao et al.,
ECCV 2020). On ``gt/sphere_orbit`` (an orbiting camera, a wall and a table behind the
sphere) the planes took the plate from 19.2 to 23.9 dB where the completion alone gave.

A sighting's **quality** is the distance from the hole where it was seen, over
``margin_px`` (capped at 1): the object's masked edge, its motion blur, its shadow and
the flow's bleeding across the motion boundary all live next to the hole, so a pixel
seen right beside the object is trusted less than one seen well clear of it. A carried
sighting's **confidence** is its quality halved every ``half_life`` frames of age; a
visible pixel replaces the carried sighting when its quality is at least that.

Convention: boxes are ``(x0, y0, x1, y1)`` in full-frame pixels, exclusive end; x
right, y down; flows follow :mod:`glassvid.flow.ops`. Memory is one box of state per
sweep, whatever the clip's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from glassvid.flow.ops import fill_holes_smooth
from glassvid.masks.matte import mask_box

NO_SOURCE = -1  # ``src`` of a pixel no frame has shown (yet)
_OUTSIDE = -2.0  # remap border value marking "outside the previous state's box"
_RING_STEP = 4  # the homography is checked around the hole on a grid of this many pixels
_MIN_GRID_POINTS = 12  # fewer background samples than this: no homography
_MAX_SAMPLES = 200  # flow samples given to one homography fit
_RANSAC_ITERS = 100  # a plane holding half the samples is found in 100 draws with certainty ~1 - 2e-3
_MAX_PLANES = 3  # planes tried around the hole (a floor, a wall, another wall)
_MIN_PLANE_SHARE = 0.3  # a first plane explaining less than this: the background is not made of planes
NON_PLANAR = 0.6  # planes explaining less than this share: a background not made of planes (see Motion.planar)
_MIX_TOL = 1e-3
_ROW = 1024  # points per row of a remap map laid out from a list (cv2.remap takes at most 32767 columns)  # linear vs nearest remap of src differ by more: neighbours from different frames


@dataclass
class MotionConfig:
    """How background motion behind the object is estimated (see :func:`background_motion`)."""

    flow_margin_px: int = 8  # flow this close to the hole is the object's (DIS bleeds across the boundary)
    grid_px: int = 16  # homography fit: one flow sample every grid_px pixels
    ransac_px: float = 1.0  # homography fit: inlier threshold
    min_inliers: float = 0.5  # fraction of samples the homography must explain to be used
    snap_px: float = 0.1  # motion below this is the flow's noise: set to exactly zero
    context_px: int = 32  # flow around the hole used to complete the motion inside it
    grid_step: int = 4  # motion models are fitted and completed on a grid of this many pixels
    planes_cover: float = 0.9  # the planes must explain this fraction of the samples around the hole


class FlowView:
    """A full-size flow (HxWx2, any float dtype, pixels) read on a grid ``scale`` times as fine.

    Pixel ``(j, i)`` of the small grid is the full-size block it covers; vectors come
    back in small-grid pixels. Only what is read is converted (a 854x480 float16 flow
    is 1.6 MB; converting and shrinking all of it for every frame costs more than the
    rest of the motion estimate).
    """

    def __init__(self, flow: np.ndarray, scale: float) -> None:
        self.flow = flow
        self.scale = float(scale)
        h, w = flow.shape[:2]
        self.shape = (max(1, int(np.ceil(h * scale))), max(1, int(np.ceil(w * scale))))

    def at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Vectors (Nx2 float32) at small-grid pixels (the full-size pixel nearest each one's centre)."""
        h, w = self.flow.shape[:2]
        fy = np.clip(((ys + 0.5) / self.scale).astype(np.int64), 0, h - 1)
        fx = np.clip(((xs + 0.5) / self.scale).astype(np.int64), 0, w - 1)
        return self.flow[fy, fx].astype(np.float32) * np.float32(self.scale)

    def crop(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """The small-grid flow over ``box`` (small-grid pixels): block averages of the full size."""
        x0, y0, x1, y1 = box
        if self.scale == 1.0:
            return self.flow[y0:y1, x0:x1].astype(np.float32)
        h, w = self.flow.shape[:2]
        inv = 1.0 / self.scale
        fx0, fy0 = int(round(x0 * inv)), int(round(y0 * inv))
        fx1, fy1 = min(w, int(round(x1 * inv))), min(h, int(round(y1 * inv)))
        part = self.flow[fy0:fy1, fx0:fx1].astype(np.float32)
        return cv2.resize(part, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA) * np.float32(self.scale)


@dataclass
class Sightings:
    """Per pixel of ``box``: where its background was seen.

    ``src`` HxW int32 frame index (``NO_SOURCE`` = never seen); ``d`` HxWx2 float32,
    the background at pixel ``p`` is at ``p + d`` in frame ``src``; ``quality`` HxW
    float32 in [0, 1] (see the module docstring).
    """

    box: tuple[int, int, int, int]
    src: np.ndarray
    d: np.ndarray
    quality: np.ndarray
    _stacked: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def confidence(self, i: int, half_life: float) -> np.ndarray:
        """HxW float32: quality halved every ``half_life`` frames between ``i`` and the source; 0 where unseen."""
        return confidence(self.src, self.quality, i, half_life)

    def stacked(self) -> np.ndarray:
        """HxWx4 float32 ``(src, quality, dx, dy)``, for remapping all four at once (built once: the
        next step's carry and the merge both read it)."""
        if self._stacked is None:
            self._stacked = np.dstack([self.src.astype(np.float32), self.quality, self.d])
        return self._stacked


def _grow(box: tuple[int, int, int, int], by: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    h, w = shape
    x0, y0, x1, y1 = box
    return max(0, x0 - by), max(0, y0 - by), min(w, x1 + by), min(h, y1 + by)


def sighting_quality(hole: np.ndarray, margin_px: float) -> np.ndarray:
    """HxW float32 in [0, 1]: distance to ``hole`` over ``margin_px``, capped at 1; 0 inside the hole."""
    if margin_px <= 0:
        return (~hole).astype(np.float32)
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    return np.minimum(dist / float(margin_px), 1.0).astype(np.float32)


# -- background motion ---------------------------------------------------------------------


def _grid_samples(flow: FlowView, exclude: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (Nx2, x y) on a grid of ``step`` px outside ``exclude`` and their flow (Nx2), float32."""
    h, w = exclude.shape
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    keep = ~exclude[ys, xs]
    pts = np.stack([xs[keep], ys[keep]], -1).astype(np.float32)
    return pts, flow.at(ys[keep], xs[keep])


def _subsample(pts: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most ``_MAX_SAMPLES`` evenly spread samples: RANSAC's cost grows with their number, its answer hardly."""
    if len(pts) <= _MAX_SAMPLES:
        return pts, f
    idx = np.linspace(0, len(pts) - 1, _MAX_SAMPLES).astype(np.int64)
    return pts[idx], f[idx]


def fit_homography(flow: FlowView, exclude: np.ndarray, cfg: MotionConfig) -> tuple[np.ndarray | None, bool]:
    """The camera's motion: the homography (3x3, ``p -> H p``) that best explains ``flow`` away from ``exclude``.

    ``flow`` is read every ``cfg.grid_px`` pixels; ``exclude`` HxW bool (the hole grown by
    the flow margin), on the flow's grid. Returns ``(H, still)``: ``still`` is
    True when the median motion of the samples is below ``cfg.snap_px`` (a camera that
    does not move: its flow is estimation noise). ``H`` is None when too few samples
    remain or it explains less than ``cfg.min_inliers`` of them (a non-rigid or strongly
    non-planar scene): the completion then does all the work.
    """
    pts, f = _grid_samples(flow, exclude, cfg.grid_px)
    if len(pts) < _MIN_GRID_POINTS:
        return None, False
    still = float(np.median(np.sqrt((f**2).sum(-1)))) < cfg.snap_px
    pts, f = _subsample(pts, f)
    H, inliers = cv2.findHomography(pts, pts + f, cv2.RANSAC, cfg.ransac_px, maxIters=_RANSAC_ITERS)
    if H is None or inliers is None or inliers.mean() < cfg.min_inliers:
        return None, still
    return H, still


def homography_flow(H: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``H p - p`` for the pixels of ``box``: HxWx2 float32."""
    x0, y0, x1, y1 = box
    xs, ys = np.meshgrid(np.arange(x1 - x0, dtype=np.float32), np.arange(y1 - y0, dtype=np.float32))
    return homography_flow_at(H, xs, ys, x0, y0)


def homography_flow_at(H: np.ndarray, xs: np.ndarray, ys: np.ndarray, x0: float, y0: float) -> np.ndarray:
    """``H p - p`` at the points ``p = (x0 + xs, y0 + ys)`` (xs, ys float32 arrays): ...x2 float32."""
    # relative to (x0, y0), so float32 keeps the precision of a small displacement far from the origin
    Hc = H.astype(np.float64) @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    Hc[0] -= x0 * Hc[2]
    Hc[1] -= y0 * Hc[2]
    Hc = (Hc / Hc[2, 2]).astype(np.float32)
    den = Hc[2, 0] * xs + Hc[2, 1] * ys + Hc[2, 2]
    u = (Hc[0, 0] * xs + Hc[0, 1] * ys + Hc[0, 2]) / den - xs
    v = (Hc[1, 0] * xs + Hc[1, 1] * ys + Hc[1, 2]) / den - ys
    return np.stack([u, v], -1)


def fit_planes(flow: np.ndarray, known: np.ndarray, origin: tuple[float, float], step: float, cfg: MotionConfig) -> tuple[list[np.ndarray] | None, float]:
    """Up to ``_MAX_PLANES`` homographies that together explain the flow around the hole.

    ``flow`` (hxwx2) and ``known`` (hxw bool) are a grid over the hole's surroundings
    whose pixel ``(j, i)`` lies at full-frame ``origin + step * (j, i)``. A background
    made of a few planes -- a table and the wall behind it, the commonest set behind an
    object -- moves as one homography per plane, and behind the object each pixel
    moves with its plane, not with an average of the two that a smooth completion
    gives where they meet. Returns ``(planes, share)``: ``share`` is the fraction of the
    samples the planes explain; ``planes`` is None when that is below ``cfg.planes_cover``
    (a non-rigid or cluttered background).
    """
    ii, jj = np.nonzero(known)
    if len(ii) < _MIN_GRID_POINTS:
        return None, 0.0
    pts = np.stack([origin[0] + step * jj, origin[1] + step * ii], -1).astype(np.float32)
    pts, f = _subsample(pts, flow[ii, jj])
    left = np.ones(len(pts), bool)
    planes: list[np.ndarray] = []
    for _ in range(_MAX_PLANES):
        if left.sum() < _MIN_GRID_POINTS:
            break
        H, inl = cv2.findHomography(pts[left], pts[left] + f[left], cv2.RANSAC, cfg.ransac_px, maxIters=_RANSAC_ITERS)
        if H is None or inl is None or inl.sum() < _MIN_GRID_POINTS:
            break
        planes.append(H)
        idx = np.flatnonzero(left)
        left[idx[inl.ravel() > 0]] = False
        if 1.0 - left.mean() >= cfg.planes_cover:
            return planes, float(1.0 - left.mean())
        if len(planes) == 1 and 1.0 - left.mean() < _MIN_PLANE_SHARE:
            break
    return None, float(1.0 - left.mean())


def _planes_motion(plane_flows: list[np.ndarray], flow: np.ndarray, known: np.ndarray, ransac_px: float) -> np.ndarray:
    """The hole's motion from the planes: each pixel moves with the plane of the nearest known pixel it explains."""
    err = np.stack([np.sqrt(((flow - p) ** 2).sum(-1)) for p in plane_flows])
    label = np.argmin(err, 0)
    explained = known & (err.min(0) <= ransac_px)
    if not explained.any():
        explained = known
    # a Voronoi split of the hole between the planes seen around it
    _, nearest = cv2.distanceTransformWithLabels((~explained).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    seeds = np.zeros(int(nearest.max()) + 1, np.int64)
    seeds[nearest[explained]] = label[explained]
    fill = seeds[nearest]
    stacked = np.stack(plane_flows)
    return np.take_along_axis(stacked, fill[None, ..., None].repeat(2, -1), 0)[0]


@dataclass
class Motion:
    """The background motion over a box: ``field`` HxWx2 float32, the ``model`` that gave it
    (``"still"``, ``"homography"``, ``"planes"``, ``"flow"``), and whether the surroundings
    looked planar (False when planes explained less than ``NON_PLANAR`` of them, so the
    next frames need not try again)."""

    field: np.ndarray
    model: str
    planar: bool = True


def background_motion(flow: FlowView, hole: np.ndarray, box: tuple[int, int, int, int], cfg: MotionConfig, *, try_planes: bool = True) -> Motion:
    """Background motion over ``box``: HxWx2 float32 (box-sized), and which model gave it.

    ``flow`` is the flow from this frame to the neighbour the sweep comes from, read on
    the sweep's grid; ``hole`` the whole frame's hole (HxW bool) on that grid. Inside
    the hole grown by ``cfg.flow_margin_px`` the flow is the object's, so the motion
    there is, in this order of preference: zero (a still camera), the camera's
    homography (a background it explains around the hole), one homography per plane
    around the hole (:func:`fit_planes`), or the homography plus a smooth completion
    of the residual flow (anything else). The models are fitted on a grid of
    ``cfg.grid_step`` px and interpolated (motion is smooth); known pixels keep their
    own flow. ``try_planes=False`` skips the plane fit.
    """
    shape = hole.shape
    bx0, by0, bx1, by1 = box
    near = _near_hole(hole, cfg.flow_margin_px)
    H, still = fit_homography(flow, near, cfg)
    if still:
        return Motion(np.zeros((by1 - by0, bx1 - bx0, 2), np.float32), "still")
    if H is not None:
        ring = _ring(near, box, cfg.context_px)
        fr = flow.at(ring[0], ring[1])
        residual = fr - homography_flow_at(H, ring[1].astype(np.float32) - bx0, ring[0].astype(np.float32) - by0, bx0, by0) if len(fr) else fr
        if not len(fr) or float(np.median(np.sqrt((residual**2).sum(-1)))) < cfg.snap_px:
            return Motion(homography_flow(H, box), "homography")
    # the surroundings on a coarse grid: the models are smooth
    ext = _grow(box, cfg.context_px, shape)
    ex0, ey0, ex1, ey1 = ext
    step = cfg.grid_step
    cw, ch = max(2, -(-(ex1 - ex0) // step)), max(2, -(-(ey1 - ey0) // step))
    f_full = flow.crop(ext)
    known_full = ~near[ey0:ey1, ex0:ex1]
    f_small = cv2.resize(f_full, (cw, ch), interpolation=cv2.INTER_AREA)
    known_small = cv2.resize(known_full.astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA) > 0.999
    sx, sy = (ex1 - ex0) / cw, (ey1 - ey0) / ch
    gx, gy = np.meshgrid((np.arange(cw, dtype=np.float32) + 0.5) * sx - 0.5, (np.arange(ch, dtype=np.float32) + 0.5) * sy - 0.5)
    planes, share = fit_planes(f_small, known_small, (ex0 + 0.5 * sx - 0.5, ey0 + 0.5 * sy - 0.5), float(sx), cfg) if try_planes and known_small.any() else (None, 0.0)
    if planes is not None:
        model_small = _planes_motion([homography_flow_at(P, gx, gy, ex0, ey0) for P in planes], f_small, known_small, cfg.ransac_px)
        model = "planes"
    else:
        base_small = homography_flow_at(H, gx, gy, ex0, ey0) if H is not None else np.zeros_like(f_small)
        model_small = base_small + _complete(f_small - base_small, known_small)
        model = "flow"
    motion = cv2.resize(model_small, (ex1 - ex0, ey1 - ey0), interpolation=cv2.INTER_LINEAR)
    motion = np.where(known_full[..., None], f_full, motion)
    return Motion(np.ascontiguousarray(motion[by0 - ey0 : by1 - ey0, bx0 - ex0 : bx1 - ex0]), model, planes is not None or not try_planes or share >= NON_PLANAR)


def _ring(near: np.ndarray, box: tuple[int, int, int, int], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (ys, xs) of known pixels around the hole, on a sparse grid, for checking a homography."""
    x0, y0, x1, y1 = _grow(box, width, near.shape)
    ys, xs = np.mgrid[y0:y1:_RING_STEP, x0:x1:_RING_STEP]
    keep = ~near[ys, xs]
    return ys[keep], xs[keep]


def _near_hole(hole: np.ndarray, margin: int) -> np.ndarray:
    if margin <= 0:
        return hole
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    box = mask_box(hole, margin + 1)
    out = np.zeros_like(hole)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    out[y0:y1, x0:x1] = cv2.dilate(hole[y0:y1, x0:x1].astype(np.uint8), k) > 0
    return out


def _complete(residual: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``residual`` (hxwx2) with the unknown part filled smoothly from the known (push-pull)."""
    if known.all():
        return residual
    return fill_holes_smooth(residual, known)


# -- the sweep -----------------------------------------------------------------------------


class SourceSweep:
    """One direction of propagation: call :meth:`step` on frames in sweep order.

    ``margin_px`` and ``half_life`` set the sightings' quality and confidence (module
    docstring); ``box_margin`` is how far around the hole the state is kept (it must
    exceed ``margin_px`` so the sightings beside the hole have a history).
    ``outside_seen``: a pixel outside the previous frame's box was seen there (true of
    the background, which is visible away from the hole; false for the keyframe sweep,
    where only the keyframes' invented regions count as seen).
    """

    def __init__(self, *, margin_px: float, half_life: float, box_margin: int, max_age: int = 0, outside_seen: bool = True) -> None:
        self.margin_px = float(margin_px)
        self.half_life = float(half_life)
        self.box_margin = int(box_margin)
        self.max_age = int(max_age)
        self.outside_seen = outside_seen
        self.prev: Sightings | None = None
        self.prev_index: int | None = None

    def reset(self) -> None:
        """Forget the state (the next step starts afresh)."""
        self.prev = self.prev_index = None

    def step(self, i: int, hole: np.ndarray, motion: np.ndarray | None, *, sighted: np.ndarray | None = None) -> Sightings | None:
        """Advance to frame ``i``; returns its sightings over the hole's box (None: no hole).

        ``hole`` HxW bool: the background is hidden there. ``motion``: the background
        motion from this frame to the previously stepped one over this frame's box
        (:func:`background_motion` of :meth:`box_for`), None at the start or after a
        frame without a hole. ``sighted`` HxW bool: where this frame shows background
        (default: outside the hole); the keyframe sweep passes its invented regions.
        """
        box = self.box_for(hole)
        if box is None:
            self.reset()
            return None
        x0, y0, x1, y1 = box
        hole_c = hole[y0:y1, x0:x1]
        sight_c = ~hole_c if sighted is None else sighted[y0:y1, x0:x1]
        h, w = hole_c.shape
        if self.prev is None or motion is None:
            src = np.full((h, w), NO_SOURCE, np.int32)
            d = np.zeros((h, w, 2), np.float32)
            quality = np.zeros((h, w), np.float32)
        else:
            src, d, quality = self._carry(box, motion, hole.shape)
            if self.max_age > 0:
                stale = (src >= 0) & (np.abs(i - src) > self.max_age)
                src[stale] = NO_SOURCE
                quality[stale] = 0.0
        # a sighting here replaces the carried one when it is at least as good
        q_new = sighting_quality(hole_c, self.margin_px) if sighted is None else sight_c.astype(np.float32)
        take = sight_c & (q_new > 0) & (q_new >= confidence(src, quality, i, self.half_life))
        src[take] = i
        d[take] = 0.0
        quality[take] = q_new[take]
        out = Sightings(box, src, d, quality)
        self.prev, self.prev_index = out, i
        return out

    def box_for(self, hole: np.ndarray) -> tuple[int, int, int, int] | None:
        """The box this sweep keeps state in for a frame with ``hole``."""
        return mask_box(hole, self.box_margin)

    def _previous(self) -> Sightings:
        """The last frame's sightings; carrying needs a frame before this one."""
        if self.prev is None or self.prev_index is None:
            raise RuntimeError("nothing to carry: the sweep has seen no frame yet (call step on a first frame before carrying)")
        return self.prev

    def _carry_still(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_carry` for zero motion: the previous state copied where the boxes overlap."""
        prev = self._previous()
        x0, y0, x1, y1 = box
        h, w = y1 - y0, x1 - x0
        # outside the previous box the previous frame showed the background clearly
        outside = self.prev_index if self.outside_seen else NO_SOURCE
        src = _paste(np.full((h, w), outside, np.int32), box, prev.src, prev.box)
        quality = _paste(np.full((h, w), 1.0 if self.outside_seen else 0.0, np.float32), box, prev.quality, prev.box)
        d = _paste(np.zeros((h, w, 2), np.float32), box, prev.d, prev.box)
        lost = src < 0
        quality[lost] = 0.0
        return src, d, quality

    def _carry(self, box: tuple[int, int, int, int], motion: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The previous frame's sightings moved onto this frame's ``box`` along ``motion``."""
        prev = self._previous()
        x0, y0, x1, y1 = box
        px0, py0, px1, py1 = prev.box
        H, W = shape
        if not motion.any():
            return self._carry_still(box)
        qx = np.arange(x0, x1, dtype=np.float32)[None, :] + motion[..., 0]
        qy = np.arange(y0, y1, dtype=np.float32)[:, None] + motion[..., 1]
        # position in the previous state's box; outside it the previous frame showed the
        # background clearly (farther than box_margin from its hole)
        mx, my = qx - px0, qy - py0
        # one remap per interpolation of the stacked state: (src, quality, dx, dy)
        state = prev.stacked()
        near = cv2.remap(state, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=(_OUTSIDE, 1.0, 0.0, 0.0))
        lin = cv2.remap(state, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(_OUTSIDE, 1.0, 0.0, 0.0))
        src_near = near[..., 0]
        # neighbours seen in different frames (or not at all): take the nearest's displacement, don't average
        mixed = np.abs(lin[..., 0] - src_near) > _MIX_TOL
        d_prev = lin[..., 2:]
        np.copyto(d_prev, near[..., 2:], where=mixed[..., None])
        outside_prev = src_near == _OUTSIDE
        np.copyto(d_prev, np.float32(0.0), where=outside_prev[..., None])
        src = np.where(outside_prev, self.prev_index if self.outside_seen else NO_SOURCE, src_near).astype(np.int32)
        d = motion + d_prev
        quality = np.ascontiguousarray(near[..., 1])
        lost = ~((qx >= 0) & (qx <= W - 1) & (qy >= 0) & (qy <= H - 1)) | (src < 0)
        src[lost] = NO_SOURCE
        d[lost] = 0.0
        quality[lost] = 0.0
        return src, d, quality


def resample(s: Sightings, xs: np.ndarray, ys: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sightings kept at ``scale`` of the frame size, read at full-size pixels ``(xs, ys)`` (1-D int arrays).

    A full-size pixel ``x`` lies at ``u = (x + 0.5) * scale - 0.5`` on the small grid; it
    takes the source frame of the nearest small pixel and the displacement interpolated
    between them (the nearest one's where they were seen in different frames), divided
    by ``scale``. Returns ``(src N int32, d Nx2 float32 full-size px, quality N float32)``.
    """
    n = len(xs)
    rows = max(1, -(-n // _ROW))
    mx = np.zeros(rows * _ROW, np.float32)
    my = np.zeros(rows * _ROW, np.float32)
    mx[:n] = (xs.astype(np.float32) + 0.5) * scale - 0.5 - s.box[0]
    my[:n] = (ys.astype(np.float32) + 0.5) * scale - 0.5 - s.box[1]
    mx, my = mx.reshape(rows, _ROW), my.reshape(rows, _ROW)
    state = s.stacked()
    border = (float(NO_SOURCE), 0.0, 0.0, 0.0)
    near = cv2.remap(state, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=border).reshape(-1, 4)[:n]
    lin = cv2.remap(state, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 4)[:n]
    mixed = np.abs(lin[:, 0] - near[:, 0]) > _MIX_TOL
    d = lin[:, 2:]
    np.copyto(d, near[:, 2:], where=mixed[:, None])
    d = d / np.float32(scale)
    src = near[:, 0].astype(np.int32)
    quality = np.where(src >= 0, near[:, 1], np.float32(0.0))
    return src, d, quality


def confidence(src: np.ndarray, quality: np.ndarray, i: int, half_life: float) -> np.ndarray:
    """A sighting's confidence: ``quality`` halved every ``half_life`` frames between ``i`` and ``src``; 0 where unseen."""
    age = np.abs(i - src).astype(np.float32)
    return np.where(src >= 0, quality * np.exp2(-age / max(half_life, 1e-6)), 0.0).astype(np.float32)


def _paste(dst: np.ndarray, dst_box: tuple[int, int, int, int], src: np.ndarray, src_box: tuple[int, int, int, int]) -> np.ndarray:
    """Copy the part of ``src`` (over ``src_box``) that overlaps ``dst_box`` into ``dst`` (over ``dst_box``)."""
    ax0, ay0 = max(dst_box[0], src_box[0]), max(dst_box[1], src_box[1])
    ax1, ay1 = min(dst_box[2], src_box[2]), min(dst_box[3], src_box[3])
    if ax0 < ax1 and ay0 < ay1:
        dst[ay0 - dst_box[1] : ay1 - dst_box[1], ax0 - dst_box[0] : ax1 - dst_box[0]] = src[ay0 - src_box[1] : ay1 - src_box[1], ax0 - src_box[0] : ax1 - src_box[0]]
    return dst


def merge(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], i: int, half_life: float, blend_ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two sweeps' sightings of frame ``i``, ``(src, quality)`` each (same pixels), combined.

    Returns ``(weight_a, conf, src)``: the weight given to ``a`` (1 = only ``a``, 0 =
    only ``b``; in between the two colours are averaged, which halves the noise of two
    independent sightings), the combined confidence, and the better sighting's source
    frame (``NO_SOURCE`` where neither saw the pixel). The two are blended where the
    weaker confidence is at least ``blend_ratio`` of the stronger (1 = never).
    """
    ca = confidence(a[0], a[1], i, half_life)
    cb = confidence(b[0], b[1], i, half_life)
    sa, sb = a[0] >= 0, b[0] >= 0
    strong = np.maximum(ca, cb)
    both = sa & sb & (np.minimum(ca, cb) >= blend_ratio * strong) & (blend_ratio < 1.0)
    wa = np.where(sa & (~sb | (ca >= cb)), 1.0, 0.0)
    wa = np.where(both, ca / np.maximum(ca + cb, 1e-6), wa).astype(np.float32)
    src = np.where(wa >= 0.5, a[0], b[0]).astype(np.int32)
    return wa, strong.astype(np.float32), src
