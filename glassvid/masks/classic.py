"""Classic mask propagation: flow-warped prior, refined by a colour model in a band.

Per frame: the previous mask is carried to the current frame by optical flow (the
prior); inside a band around the prior's boundary a foreground/background colour
model (joint RGB histograms learned from the previous frame, the background sampled
only near the object, where it matters) pulls the boundary onto the object's real
edge; outside the band the prior stands, so the mask cannot creep far onto similar
background in one frame. Small detached parts are dropped. Everything runs in a crop
around the object, so the cost follows the object's size, not the frame's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from glassvid.config import MaskConfig
from glassvid.errors import PromptError
from glassvid.flow.ops import warp
from glassvid.prompts import Prompt

_BG_RING_FACTOR = 0.5  # background sample ring: this fraction of the object's size, at least _BG_RING_MIN_PX
_BG_RING_MIN_PX = 12
_GRABCUT_ITERATIONS = 5
_PRIOR_CAP = 0.12  # a warped mask's 0/1 is read as 0.12/0.88: flow is good, not certain
_COLOUR_CAP = 0.02
_DENSITY_FLOOR = 1e-5
_REALIGN_RADIUS_PX = 2  # largest per-frame correction of the carried mask's position  # added to every normalised histogram bin
_DISOCCLUDED_PRIOR = 0.3  # prior of object where the flow fails its forward-backward check
_POINT_SEED_RADIUS_FRACTION = 0.01  # seed disk of a point prompt, fraction of the frame diagonal


@dataclass
class ClassicState:
    """Per-direction state: the previous mask and the colour model."""

    mask: np.ndarray  # HxW bool
    fg_hist: np.ndarray  # bins^3 float32, sums to 1
    bg_hist: np.ndarray


def crop_box(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), exclusive end, of ``mask`` grown by ``margin``; None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    h, w = mask.shape
    return (max(0, xs.min() - margin), max(0, ys.min() - margin), min(w, xs.max() + 1 + margin), min(h, ys.max() + 1 + margin))


def _logit(p: np.ndarray, eps: float) -> np.ndarray:
    p = np.clip(p, eps, 1.0 - eps)
    return np.log(p / (1.0 - p))


def fuse(prior: np.ndarray, colour: np.ndarray, colour_weight: float) -> np.ndarray:
    """Combine the flow prior and the colour posterior as weighted log-odds.

    The prior of a warped binary mask is 0 or 1 almost everywhere, so it is capped
    (``_PRIOR_CAP``) to leave room for evidence; a decisive colour model then moves the
    boundary, an ambiguous one (similar colours on both sides) leaves the prior standing.
    """
    w = 2.0 * colour_weight
    z = (2.0 - w) * _logit(prior, _PRIOR_CAP) + w * _logit(colour, _COLOUR_CAP)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def realign(prior: np.ndarray, p_colour: np.ndarray, radius: int) -> np.ndarray:
    """Shift ``prior`` by the whole-pixel translation (up to ``radius``) that best fits the colour model.

    Flow inside a textureless object (a plain cup) underestimates its motion -- the
    aperture problem -- so a carried mask lags a little every frame. The object's
    outline is what the colour model sees best: slide the carried mask over the colour
    log-odds and keep the shift with the highest total agreement (a matched filter).
    """
    if radius <= 0:
        return prior
    score = _logit(p_colour, _COLOUR_CAP).astype(np.float32)
    padded = cv2.copyMakeBorder(score, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0.0)
    fit = cv2.matchTemplate(padded, prior.astype(np.float32), cv2.TM_CCORR)
    dy, dx = np.unravel_index(int(np.argmax(fit)), fit.shape)
    if fit[dy, dx] <= fit[radius, radius] + 1e-3 * max(1.0, float(prior.sum())):
        return prior
    m = np.float32([[1, 0, dx - radius], [0, 1, dy - radius]])
    return cv2.warpAffine(prior, m, (prior.shape[1], prior.shape[0]), flags=cv2.INTER_NEAREST, borderValue=0.0)


class ClassicMasks:
    """Weight-free mask propagation (see module docstring)."""

    def __init__(self, cfg: MaskConfig) -> None:
        self.cfg = cfg
        self.bins = cfg.histogram_bins

    # -- prompt -> first mask ---------------------------------------------------------
    def initial_mask(self, frame: np.ndarray, prompt: Prompt) -> np.ndarray:
        """Mask on the prompt frame: the mask itself, or GrabCut from the box and points."""
        h, w = frame.shape[:2]
        if prompt.mask is not None:
            return prompt.mask.astype(bool)
        gc = np.full((h, w), cv2.GC_BGD, np.uint8)
        box = prompt.clipped_box(w, h)
        if box is not None:
            x0, y0, x1, y1 = box
            gc[y0:y1, x0:x1] = cv2.GC_PR_FGD
        else:
            gc[:] = cv2.GC_PR_BGD
        radius = max(2, int(round(_POINT_SEED_RADIUS_FRACTION * np.hypot(h, w))))
        for x, y, label in prompt.points:
            cv2.circle(gc, (int(round(x)), int(round(y))), radius, cv2.GC_FGD if label == 1 else cv2.GC_BGD, -1)
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(np.ascontiguousarray(frame[..., ::-1]), gc, None, bgd, fgd, _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            pass  # degenerate colour statistics: keep the seeds as they are
        mask = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
        mask = self._clean(mask, seed=None)
        if not mask.any():
            raise PromptError("the prompt selects no object on its frame; draw the box tighter around the object or give --mask")
        return mask

    # -- propagation ---------------------------------------------------------------------
    def start(self, frame: np.ndarray, mask: np.ndarray) -> ClassicState:
        fg, bg = self._histograms(frame, mask)
        return ClassicState(mask=mask.astype(bool), fg_hist=fg, bg_hist=bg)

    def step(self, state: ClassicState, frame: np.ndarray, flow_to_prev: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Propagate ``state.mask`` onto ``frame``; updates ``state`` in place.

        ``valid`` (HxW bool, optional): where ``flow_to_prev`` passed the forward-backward
        check. Pixels that fail it were hidden in the previous frame -- mostly background
        the object just uncovered -- so the prior there leans to background instead of
        trusting a flow that smears the object's motion into its wake.
        """
        h, w = frame.shape[:2]
        prior = warp(state.mask.astype(np.float32), flow_to_prev, border=cv2.BORDER_CONSTANT)
        if valid is not None:
            prior = np.where(valid, prior, np.minimum(prior, _DISOCCLUDED_PRIOR))
        hard = prior > 0.5
        band_px = self.cfg.refine_band_px
        box = crop_box(hard, band_px + 2)
        if box is None:
            state.mask = np.zeros((h, w), bool)
            return state.mask, 0.0
        x0, y0, x1, y1 = box
        crop = frame[y0:y1, x0:x1]
        p = prior[y0:y1, x0:x1]
        hc = hard[y0:y1, x0:x1].astype(np.uint8)
        if band_px > 0 and self.cfg.colour_weight > 0:
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band_px + 1, 2 * band_px + 1))
            band = (cv2.dilate(hc, k) > 0) & ~(cv2.erode(hc, k) > 0)
            p_col = self._fg_probability(crop, state.fg_hist, state.bg_hist)
            p = realign(p, p_col, _REALIGN_RADIUS_PX)
            hc = (p > 0.5).astype(np.uint8)
            band = (cv2.dilate(hc, k) > 0) & ~(cv2.erode(hc, k) > 0)
            post = np.where(band, fuse(p, p_col, self.cfg.colour_weight), p)
            post = cv2.GaussianBlur(post, (0, 0), 1.0)
            confidence = float(np.mean(np.abs(post[band] - 0.5)) * 2.0) if band.any() else 1.0
        else:
            post = p
            confidence = 1.0
        sub = post > 0.5
        sub = self._clean(sub, seed=hc > 0)
        mask = np.zeros((h, w), bool)
        mask[y0:y1, x0:x1] = sub
        fg, bg = self._histograms(frame, mask)
        a = self.cfg.model_update
        if mask.any():
            state.fg_hist = (1 - a) * state.fg_hist + a * fg
            state.bg_hist = (1 - a) * state.bg_hist + a * bg
        state.mask = mask
        return mask, confidence

    # -- helpers -------------------------------------------------------------------------
    def _quantise(self, rgb: np.ndarray) -> np.ndarray:
        q = (rgb.astype(np.int32) * self.bins) >> 8
        return (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]

    def _histograms(self, frame: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised colour histograms of the object and of a ring of background around it."""
        n = self.bins**3
        box = crop_box(mask, 0)
        if box is None:
            flat = np.full(n, 1.0 / n, np.float32)
            return flat, flat.copy()
        size = max(box[2] - box[0], box[3] - box[1])
        ring = max(_BG_RING_MIN_PX, int(_BG_RING_FACTOR * size))
        x0, y0, x1, y1 = crop_box(mask, ring)  # type: ignore[misc]
        m = mask[y0:y1, x0:x1]
        q = self._quantise(frame[y0:y1, x0:x1])
        return self._density(q[m]), self._density(q[~m])

    def _density(self, codes: np.ndarray) -> np.ndarray:
        """Colour density from quantised codes: a histogram smoothed over neighbouring bins.

        Smoothing lets unseen shades of a seen colour count (shading varies frame to
        frame); the floor keeps never-seen colours from deciding anything (p = 0.5).
        """
        b = self.bins
        hist = np.bincount(codes, minlength=b**3).astype(np.float32).reshape(b, b, b)
        for axis in range(3):
            hist = (hist + np.roll(hist, 1, axis) + np.roll(hist, -1, axis)) / 3.0
        hist = hist.ravel() / max(float(hist.sum()), 1.0) + _DENSITY_FLOOR
        return (hist / hist.sum()).astype(np.float32)

    def _fg_probability(self, rgb: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
        q = self._quantise(rgb)
        pf = fg[q]
        pb = bg[q]
        return (pf / (pf + pb)).astype(np.float32)

    def _clean(self, mask: np.ndarray, seed: np.ndarray | None) -> np.ndarray:
        """Drop small detached parts (and parts not touching the prior), fill small holes."""
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if n <= 1:
            return mask
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = areas >= self.cfg.min_area_fraction * areas.max()
        if seed is not None:
            touched = np.bincount(labels[seed].ravel(), minlength=n)[1:] > 0
            keep &= touched
        lut = np.concatenate([[False], keep])
        out = lut[labels]
        # fill holes that are small relative to the object (keeps real openings such as a handle's)
        inv = (~out).astype(np.uint8)
        m, hl, hs, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
        if m > 2:
            border = np.unique(np.concatenate([hl[0], hl[-1], hl[:, 0], hl[:, -1]]))
            small = hs[:, cv2.CC_STAT_AREA] < 0.01 * out.sum()
            small[border] = False
            small[0] = False
            out |= small[hl]
        return out
