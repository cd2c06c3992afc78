"""Classic mask propagation: competing motion hypotheses, a colour memory of the prompt frame, SnapCut-style fusion.

Per frame, everything runs in a window around the object, resampled to at most
``MaskConfig.work_pixels`` pixels, so the cost follows a bounded object size, not the frame's:

1. **Motion.** The previous mask is carried to this frame by several hypotheses:
   the dense flow, the object's own translation (masked template matching with a
   sub-pixel peak: it holds where DIS underestimates the motion of a textureless
   object, the aperture problem), an affine fit to the object's flow and one to the
   background's. Each pixel takes the label of the hypothesis that explains its
   neighbourhood best photometrically (a soft minimum), so background uncovered
   behind the object, where the dense flow smears the object's motion, is labelled
   by the background's own motion. Where no hypothesis explains a pixel (it was
   hidden in the previous frame) or the flow fails its forward-backward check, the
   carried label is trusted less. The object's velocity (it aligns the colour memory)
   may not jump to one that the memory fits clearly worse than the last one: when the
   mask holds some of an occluder or background moving past the object, the match and
   the flow inside it both follow that, and the memory would be pulled off the object.
2. **Appearance.** The prompt frame is the only ground truth, so its colours are
   kept, object-centric, in a grid over (cell y, cell x, R, G, B): object and
   background counts per cell, learned once from the prompt mask and looked up at
   the object's tracked offset, compared as shares of each class's samples in the
   cell (a cell where the object is a thin part does not vote background for all its
   colours, see :class:`ColourMemory`). It is a set of localized colour classifiers (Video
   SnapCut, Bai et al., SIGGRAPH 2009) that never drifts, because it never learns
   from its own output. Where it has no samples, a global colour model (the prompt
   frame's histograms mixed with a slowly updated one) answers, discounted inside
   the object's footprint: a colour never seen there is more likely uncovered
   background or an occluder.
3. **Fusion.** Colour and the carried shape are blended, colour taking at least a
   floor share (``colour_floor``, 0.7) everywhere within reach of the carried mask:
   enough to cut occluders out of the object and regrow parts the motion lost (a
   lower share keeps single steps closer to the carried mask, but the mask then
   shrinks over whole runs). As in SnapCut, colour may take more near the carried
   boundary (``snap_weight``, over a width that grows with how well colour separated
   object and background there on the prompt frame); with the defaults
   (``snap_weight`` 0.5 below the floor) that band adds nothing: raising it to 0.9 was
   measured level with the defaults (mask-prompt mean J&F 0.636 vs 0.649). The mask may not grow farther than a band
   around the carried one in one frame, so it cannot creep onto similar-looking
   background. Motion layers: where the object and the background move clearly
   differently (a camera following the object), a pixel whose colour the memory did
   not show on the object there and whose flow is the background's is background or
   an occluder passing with the background (a tree trunk in front of a rider), even
   if it was carried in the mask. Only such pixels: legs planted on the ground and
   shadows move like the background too, but their colours are the object's.
   Background subtraction (:func:`_neighbour_evidence`): given the frames around this one,
   aligned by the background's motion (:class:`glassvid.masks.background.NeighbourFrames`),
   a pixel that matches what they show at its place is lowered (object-coloured background
   the mask took, a road seen through a wheel; a colour seen on the object there less), and
   one that differs next to the carried mask is raised as far as its colour is the object's
   (thin parts, a cast shadow, which flow calls background). Weighed only as far as the
   carried mask differs more often than its surroundings: an object standing still, or
   matching its ground, reads as background too.
4. **Safeguards.** A mask that collapses in one frame with little evidence is
   replaced by the carried one (a short occlusion or a motion-blurred frame); a
   mask that leaves the frame shrinks with it and regrows when it comes back; a
   strand one or two pixels thick whose colour the prompt frame did not show on the
   object there (a background edge the object slides along) is cut; an
   object that is gone yields empty masks and confidence 0.
5. **Finding it again.** Flow cannot bridge an occluder that passes over the object
   (the flow there is the occluder's, and the mask leaves with it) or a loss. Every
   few steps, and on every unsure one, the prompt frame's object is looked for around
   the tracked place (around where it was last seen once lost, ever wider), at its
   tracked scale (followed by the object's own motion: the scale of the affine fit to
   its flow, on confident steps whose mask is inside the frame; an occluded object's
   mask shrinks, its flow does not): each placement is scored by how much likelier its
   colours are on the object at that place (the colour memory's object counts) than anywhere in the
   current frame, less a prior for the distance from where it was last seen with
   confidence (a look-alike far away loses to the object near its last place). The
   best place's scale is refined to the one that gathers the most evidence. A clearly
   better place elsewhere restarts the mask there as the prompt mask, moved and
   scaled (tracking by detection), unless the mask already covers that place (an
   articulated object is not reset to the prompt's shape). A mask
   that has left the place the memory follows (it went with an occluder while the
   velocity held on the object, see 1.) restarts there as soon as the object scores there.

A box prompt becomes the first mask by GrabCut in the box (plain, with the centre seeded, with
the part moving unlike the background seeded), weighed against the part of the box that differs
from what the clip's other frames show there (:mod:`glassvid.masks.background`): that part
replaces GrabCut's object when the two are different things, and otherwise lends it the thin
parts and shadows GrabCut missed, where their colours are the object's (learned where the two
cues agree), they differ clearly, and the other frames do not show the object there (a slow
object's trail) (:meth:`ClassicMasks._add_differing`).

A prompt mask drawn with a margin around the object (a padded removal or roto
matte) is followed by its core and returned with the same margin (:meth:`ClassicMasks._margin`);
a mask is taken for a padded one only when that core, grown back by the margin, rebuilds it
(a tight mask on background as busy as its edges would otherwise lose its thin parts).

Confidence per frame, in two parts. The step's own certainty: how decisive the
evidence is along the boundary, times the agreement of the result with the carried
mask, times the share of the mask whose colour the prompt frame showed at that place
on the object (it falls when the mask is left on background); it drives the
safeguards and re-detection (4., 5.). The reported confidence is that times how much
the tracked place still looks like the prompt object (:meth:`ClassicMasks._looks_like`:
the colour memory's and the re-detection's scores of the prompt object there against
the prompt frame's own, a factor from 0.5 to 1): a mask that follows a look-alike or
spread onto background with a decisive boundary is steady, not right. On the
benchmark's frames it tells J >= 0.5 from J < 0.5 with a ROC AUC of 0.95 (0.88 from the
step's certainty alone); an object that changes its look or size a lot (an articulated
player, one moving away) scores lower too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from glassvid.config import MaskConfig
from glassvid.errors import PromptError
from glassvid.masks.kernels import match_scores
from glassvid.masks.matte import mask_box
from glassvid.metrics import dilate_mask, iou
from glassvid.prompts import Prompt

Neighbours = Callable[[np.ndarray, np.ndarray], "np.ndarray | None"]
"""Given a frame resampled on a grid (hxwx3 float32) and the 3x3 map of the frame's pixels onto
it, how far each grid pixel is from what the frames around it show at its place (hxw float32, NaN
where unknown; None when nothing is known): one frame's
:meth:`glassvid.masks.background.NeighbourFrames.difference`."""

# -- internal constants: they shape the method (measured on the benchmark), they are not taste ---------------
_GRABCUT_ITERATIONS = 5
_GRABCUT_WORK_PIXELS = 60_000  # GrabCut runs on the prompt's neighbourhood resampled to at most this many pixels
_GRABCUT_MARGIN = 0.5  # context around a box for GrabCut's background model, fraction of the box's size
_GRABCUT_CORE = 0.1  # half-axes of the box's central ellipse seeded as object in the second try, fraction of the box
_MIN_BOX_FIT = 0.25  # below this IoU between the result's bounding box and the drawn box, GrabCut failed
_MOTION_RING = 0.3  # the background's motion is read around a box, this far out (fraction of its size)
_MOTION_MIN_PX = 2.0  # a box pixel moving less than this unlike the background is not told apart by motion
_MOTION_CONTRAST = 5.0  # moving and still parts of a box must differ this many times for motion to seed GrabCut
_MOTION_MIN_SHARE = 0.05  # ... and neither be less than this share of the box
_DIFFER_BLUR = 1.5  # sigma (px) the difference from the clip's background is smoothed with: one noisy pixel decides nothing
_DIFFER_LOW = 2.0  # a pixel differs from the background at this many times the difference typical around the box (its noise) ...
_DIFFER_HIGH = 6.0  # ... and a group of such pixels is the object when one of them differs this many times (hysteresis)
_DIFFER_MIN_NOISE = 1.0  # the difference's noise level is at least this (0-255 RGB): a lossless, perfectly aligned clip has none
_DIFFER_AGREE = 0.3  # below this IoU, GrabCut's object and the differing one are different things (see _weigh_difference)
_SETTLE_DIFFER_CLIP = 2.0  # a pixel's difference counts at most this much either way (log-likelihood ratio, see _add_differing)
_SETTLE_TINY = 1e-6  # a difference ratio is floored here before its log (a pixel matching the background exactly)
_NEIGHBOUR_WEIGHT = 1.5  # most the frames around a frame lower a pixel's log-odds: x _SETTLE_DIFFER_CLIP (see _neighbour_evidence)
_NEIGHBOUR_RAISE = 0.5  # ... and this share of that raises one that differs (times its colour's object probability)
_NEIGHBOUR_RAISE_PX = 2.0  # ... within this distance (work px) of the carried mask
_NEIGHBOUR_SEPARATION = 0.2  # no weight unless the carried mask differs this much more often than the ring around it ...
_NEIGHBOUR_SEPARATION_SPAN = 0.3  # ... full weight this much more often still
_NEIGHBOUR_SEEN = 0.75  # a pixel whose colour the prompt frame showed on the object there is lowered this share as much
_POINT_REGION = 0.2  # a point prompt's candidate region: a disc of this fraction of the frame's short side
_POINT_SEED = 0.02  # sure-object / sure-background disc at a point, fraction of the frame's short side
_MARGIN_FRACTION = 0.25  # window margin around the object, fraction of its size (plus its motion)
_MARGIN_MIN_PX = 8
_DOWNSCALE = cv2.INTER_LINEAR  # window -> work grid (10x faster than INTER_AREA, same scores on the benchmark)
_MATCH_PX = 32.0  # the coarse template-matching pass sees the object at most this many pixels across
_MATCH_MARGIN = 0.8  # the template match overrides the flow's translation only below this cost ratio
_MAX_JUMP = 0.15  # a velocity change larger than this (fraction of the object's size, + 2 px) needs a second witness
_PHOTO_RADIUS = 2  # photometric errors are averaged over a (2r+1)^2 window (work pixels)
_PHOTO_TEMPERATURE = 10.0  # soft minimum over hypotheses: error difference (sum over RGB, 0-255) for a factor e
_DENSE_BIAS = 5.0  # the dense flow wins ties: it is the only hypothesis that follows articulated parts
_PHOTO_TOLERANCE = 60.0  # mean RGB error (0-255) at which the carried label keeps half its trust
_INVALID_TRUST = 0.5  # trust kept where the flow fails its forward-backward check (mostly uncovered background)
_UNTRUSTED_PRIOR = 0.4  # what an untrusted carried label falls back to: uncovered pixels lean to background
_SIGMA_MIN = 1.0  # SnapCut: width (work px) over which colour decides where it separated nothing
_GLOBAL_CONFIDENCE = 0.3  # colour confidence credited to the global model where the memory has no samples
_LOCAL_PSEUDO_COUNT = 0.2  # samples (after blurring) at which the memory and the global model weigh the same
_NOVEL_PRIOR = 0.3  # object probability of a colour the memory never saw at that place (see novel_colour)
_SEEN_COUNT = 0.01  # memory samples (after blurring) for a colour to count as seen at a place
_SUPPORT_FULL = 0.5  # a mask with at least this share of seen colours keeps its full confidence
_MEMORY_MARGIN = 0.5  # the memory covers the prompt object's box grown by this fraction of its size
_MEMORY_MAX_PIXELS = 400_000  # prompt-frame samples for the memory (subsampled beyond)
_CELL_TOTAL_PAD = 0.2  # a memory cell's object and background totals are each padded by this share of its samples (see ColourMemory)
_HIST_RING_FRACTION = 0.5  # global model: background sampled this far around the object, fraction of its size
_HIST_FLOOR = 1e-5  # added to every normalised histogram bin: never-seen colours decide nothing
_AFFINE_SAMPLES = 400  # points an affine motion is fitted to
_AFFINE_RING = 0.05  # object interior / background ring for the affine fits: erosion / dilation, fraction of size
_COLLAPSE_CONFIDENCE = 0.35  # collapse / vanish rules apply only below this confidence
_THIN_PX = 1  # strands at most 2 * this many work pixels thick are cut (see _open_thin)
_PAD_MAX_FRACTION = 0.1  # a prompt mask's margin (see _margin) is looked for up to this fraction of its size,
_PAD_MIN_PX = 8  # but at least this far
_PAD_MAX_PX = 32  # and at most this far
_PAD_BASE_PX = 3  # the background's own texture is measured on the pixel layer this far outside the mask
_PAD_EDGE_CONTRAST = 2.0  # a layer whose median gradient is this many times the background's is an edge
_PAD_REBUILD = 0.9  # ... and the margin stands only when the core grown back by it rebuilds the mask to this IoU
_FIND_EVERY = 4  # every this many steps (and on every unsure one; once lost, every this many frames) the prompt object is looked for (see _find)
_FIND_BELOW = 0.35  # a step below this confidence looks at once
_FIND_RADIUS = 1.5  # the search reaches this many object sizes from the tracked place
_FIND_ACCEPT = 0.4  # a place is the object when its match score is at least this share of the prompt frame's own
_FIND_GAIN = 0.25  # ... and beats the tracked place's by this share of it (while the mask is not lost; plus the prior's difference, see _find)
_FIND_AWAY = 0.5  # ... and lies this far (fraction of the object's narrower side) from the tracked place
_FIND_SAMPLES = 400  # object pixels of the prompt frame each match is scored on
_FIND_LLR_CLIP = 3.0  # one sample's log-likelihood ratio counts at most this much either way
_FIND_MIN_SELF = 0.5  # a prompt object scoring less than this on its own frame is too like its surroundings to look for
_FIND_STEP = 0.15  # coarse search step, fraction of the object's narrower side (then refined to 1 px)
_FIND_COARSE_STRIDE = 4  # the coarse search scores every this many object samples
_FIND_MAX_OFFSETS = 20_000  # the coarse step grows so that no search scores more places than this
_FIND_SPREAD = 0.5  # once lost, the search radius grows by this many object sizes per frame
_FIND_SCALE_STEP = 2.0**0.25  # a match's scale is refined to this factor either way (see _find)
_FIND_SCALE_MIN = 0.25  # scales (relative to the prompt frame's object) are kept at least this
_FIND_SCALE_MAX = 4.0  # ... and at most this
_FIND_VISIBLE = 0.5  # a placement with at least this share of the object in the frame is scored on that part alone (less: proportionally less)
_FIND_OVERLAP = 0.3  # a match whose placed prompt mask lies this much inside the mask is where the mask already is: no restart
_FIND_RESCALE_STEP = 0.05  # a match tried at the next scale is refined from this step (fraction of the object's narrower side)
_FIND_REFINE_PEAKS = 3  # the coarse search's best this many separate places are refined
_FIND_PRIOR = 0.1  # a place one object size from the last confident one scores this share of the prompt frame's own less
_FIND_OBJECT_PRIOR = 0.25  # a memory cell's object colours are mixed with the object's overall ones, this share of a typical cell's count
_FIND_DENSITY_FLOOR = 1e-5  # added to every colour density before its log: never-seen colours decide nothing extreme
_FIND_LEFT = 0.2  # a mask with less than this share inside the prompt mask at the memory's place has left it ...
_LEFT_ACCEPT = 0.5  # ... and restarts there once the memory scores the prompt object there this share of its own score (_memory_scores)
_LAYER_MIN_PX = 2.0  # object and background motions closer than this (work px per frame) are not told apart by motion
_LAYER_FULL_PX = 4.0  # ... and fully told apart this much farther apart
_LAYER_SPREAD = 0.25  # the flow's spread around a layer's motion, fraction of the two motions' distance (plus 1 work px)
_LAYER_LOGIT = 2.0  # most a pixel's layer evidence counts (log-likelihood ratio, clipped) ...
_LAYER_WEIGHT = 2.0  # ... and its weight against the object's log-odds (2 x 2: an unseen pixel moving as the background keeps ~2 % of its odds)
_LAYER_RAISE = 0.5  # most the object's motion explaining a pixel better than the background's raises it (log-odds / _LAYER_WEIGHT): x e at most
_LAYER_NOISE = 10.0  # ... counting from this photometric error difference (sum over RGB, 0-255, see _PHOTO_RADIUS): compression noise decides nothing
_MEMORY_JUMP = 0.05  # a velocity this far from the last one (fraction of the object's size, + 2 px) must also fit the colour memory
_MEMORY_JUMP_GAIN = 0.1  # ... the last velocity stands when the memory scores it this share of the prompt frame's own score higher
_MEMORY_PSEUDO_COUNT = 0.05  # memory counts added to object and background before their log-ratio (see _memory_scores)
_SCALE_CONFIDENCE = 0.5  # the object's scale follows its motion only on steps at least this confident (see step) ...
_SCALE_STEP_MAX = 0.03  # ... by at most this factor either way per frame (one bad affine fit moves it little)
_LOOKS_FULL = 0.8  # the reported confidence is full when the prompt object scores at the tracked place this share of its own scores ...
_LOOKS_FLOOR = 0.5  # ... and falls linearly to this factor at a score of 0 or below (see _looks_like)
_LOOKS_DENSITY_STRIDE = 4  # _looks_like counts the frame's colour density on a frame this many times smaller each way


@dataclass
class ColourMemory:
    """The prompt frame's colours, object-centric.

    ``fg`` / ``bg``: (ny, nx, n, n, n) float32 counts of object / background samples per
    spatial cell and RGB bin (``n = 2**bits``), blurred over neighbouring cells and bins.
    Cell ``(0, 0)`` starts at ``origin`` (x, y; prompt-frame pixels); cells are ``cell``
    pixels wide. ``confidence``: (ny, nx) in [0, 1], how well the cell's classifier
    separates the object from the background along the prompt mask's boundary.

    A cell's object probability of a colour compares the colour's share of the cell's
    object samples with its share of the background samples (class-conditional densities,
    as the global model's histograms are), not the raw counts: raw counts carry the
    cell's area ratio as a prior, and where the object is a thin part (a shadow, a racket,
    a leg) that prior says background for every colour, so colour, which has the larger
    share in the fusion, cut thin parts that the motion carried well. Where the object is
    that thin the carried shape is the better prior. Each total is padded by
    ``_CELL_TOTAL_PAD`` of the cell's samples (the area ratio is divided out up to a factor
    of 1 / that): a few object samples in a cell (blurred in from the next one, the tip of
    a beak) must not make every colour they touch the object's.
    """

    fg: np.ndarray
    bg: np.ndarray
    origin: tuple[float, float]
    cell: float
    bits: int
    confidence: np.ndarray

    def __post_init__(self) -> None:
        # flat views with one empty cell appended: lookups of positions outside the grid land there
        n3 = self.fg[0, 0].size
        self.fg_flat = np.concatenate([self.fg.reshape(-1), np.zeros(n3, np.float32)])
        self.bg_flat = np.concatenate([self.bg.reshape(-1), np.zeros(n3, np.float32)])
        self.confidence_flat = np.concatenate([self.confidence.reshape(-1), np.zeros(1, np.float32)])
        # per cell: 1 / each class's total (padded), so counts times it are class-conditional densities
        nf = self.fg.reshape(self.confidence.size, -1).sum(1, dtype=np.float64)
        nb = self.bg.reshape(self.confidence.size, -1).sum(1, dtype=np.float64)
        pad = _CELL_TOTAL_PAD * (nf + nb) + 1e-9
        self.fg_scale_flat = np.concatenate([1.0 / (nf + pad), [0.0]]).astype(np.float32)
        self.bg_scale_flat = np.concatenate([1.0 / (nb + pad), [0.0]]).astype(np.float32)


@dataclass
class _Appearance:
    """The prompt frame's object, for finding it again after an occlusion or a loss.

    ``shape``: the prompt mask's crop (bool) whose top-left is ``corner`` (x, y).
    ``inside``: (K, 2) int prompt-frame (x, y) of sampled object pixels, ``inside_base``
    their colour memory cell's offset into the flat grids, ``obj_log`` the log density of
    the object's colours per cell (:func:`_object_log`). A placement is (scale, x, y): the
    object scaled about its box's centre, then moved. Its match score is
    :func:`_match_scores`; ``self_score`` is the prompt frame's own, ``memory_self`` its
    score by :func:`_memory_scores`.
    """

    shape: np.ndarray
    corner: tuple[int, int]
    inside: np.ndarray
    inside_base: np.ndarray
    obj_log: np.ndarray
    self_score: float = 1.0
    memory_self: float = 1.0

    @property
    def centre(self) -> tuple[float, float]:
        """The prompt mask's box centre (x, y): placements scale about it."""
        sh, sw = self.shape.shape
        return self.corner[0] + 0.5 * sw, self.corner[1] + 0.5 * sh

    def align(self, place: np.ndarray) -> np.ndarray:
        """3x3 map from a frame where the object sits at ``place`` (scale, x, y) to the prompt frame."""
        s, ox, oy = (float(v) for v in place)
        cx, cy = self.centre
        return np.array([[1.0 / s, 0.0, cx - (cx + ox) / s], [0.0, 1.0 / s, cy - (cy + oy) / s], [0.0, 0.0, 1.0]])

    def place(self, align: np.ndarray) -> np.ndarray:
        """The placement (scale, x, y) that ``align`` (no rotation) puts the object at."""
        s = 1.0 / float(align[0, 0])
        cx, cy = self.centre
        return np.array([s, s * (cx - float(align[0, 2])) - cx, s * (cy - float(align[1, 2])) - cy])


@dataclass
class ClassicState:
    """Per-direction state of :class:`ClassicMasks`.

    ``frame`` (HxWx3 uint8 RGB) and ``mask`` (HxW bool) are the last frame and its mask;
    ``align`` (3x3) maps the last frame's pixels to the prompt frame's following the object's
    motion (it aligns the colour memory); ``velocity`` (x, y px) its last per-frame motion; the histograms are normalised
    joint-RGB densities (``histogram_bins**3``) of the object and of its surroundings.
    """

    frame: np.ndarray
    mask: np.ndarray
    memory: ColourMemory | None
    fg_hist: np.ndarray
    bg_hist: np.ndarray
    fg0: np.ndarray
    bg0: np.ndarray
    size0: float = 0.0  # the prompt object's size (largest side of its box, px) and area (px)
    area0: float = 0.0
    support: float = 1.0  # last step's share of the mask with colours the prompt frame showed there
    align: np.ndarray = field(default_factory=lambda: np.eye(3))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    margin: int = 0  # px the prompt mask reaches past the object's own boundary; masks are returned grown by it
    appearance: _Appearance | None = None
    anchor: np.ndarray = field(default_factory=lambda: np.float32([1, 0, 0]))  # last confident placement of the prompt object (scale, x, y px; see _Appearance)
    lost_for: int = 0  # frames since the mask was lost
    steps: int = 0  # steps taken (the search for the prompt object runs every _FIND_EVERY)
    scale: float = 1.0  # the object's size relative to the prompt frame's, as its own motion followed it (see step)


@dataclass
class _Window:
    """The crop of this step: full-frame box, work-grid size, full pixels per work pixel."""

    x0: int
    y0: int
    x1: int
    y1: int
    ww: int
    wh: int

    @property
    def sx(self) -> float:
        return (self.x1 - self.x0) / self.ww

    @property
    def sy(self) -> float:
        return (self.y1 - self.y0) / self.wh

    @property
    def scaled(self) -> bool:
        return self.ww != self.x1 - self.x0 or self.wh != self.y1 - self.y0

    def take(self, image: np.ndarray, *, mask: bool = False) -> np.ndarray:
        """``image`` cropped to the window and resampled to the work grid (area average).

        ``mask``: ``image`` is HxW bool; returns the covered fraction per work pixel (float32).
        """
        crop = image[self.y0 : self.y1, self.x0 : self.x1]
        if mask:
            crop = crop.view(np.uint8) if crop.dtype == np.bool_ else crop.astype(np.uint8)
            out = crop if not self.scaled else cv2.resize(crop * np.uint8(255), (self.ww, self.wh), interpolation=_DOWNSCALE)
            return out.astype(np.float32) * (1.0 / 255.0 if self.scaled else 1.0)
        if not self.scaled:
            return np.ascontiguousarray(crop)
        return cv2.resize(crop, (self.ww, self.wh), interpolation=_DOWNSCALE)

    @property
    def grid(self) -> np.ndarray:
        """3x3 map from the frame's pixels onto the work grid (the sampling of :meth:`take`)."""
        sx, sy = self.sx, self.sy
        return np.array([[1.0 / sx, 0.0, (0.5 - self.x0) / sx - 0.5], [0.0, 1.0 / sy, (0.5 - self.y0) / sy - 0.5], [0.0, 0.0, 1.0]])

    def untake(self, work: np.ndarray) -> np.ndarray:
        """A work-grid float image back at the crop's full resolution (bilinear)."""
        if not self.scaled:
            return work
        return cv2.resize(work, (self.x1 - self.x0, self.y1 - self.y0), interpolation=cv2.INTER_LINEAR)


class ClassicMasks:
    """Weight-free mask propagation (see the module docstring)."""

    uses_clip_hints = True  # a box prompt is weighed against the clip's motion and background view

    def __init__(self, cfg: MaskConfig) -> None:
        self.cfg = cfg
        self.bins = cfg.histogram_bins

    # -- prompt -> first mask -----------------------------------------------------------------------------
    def initial_mask(self, frame: np.ndarray, prompt: Prompt, motion: np.ndarray | None = None, difference: np.ndarray | None = None, behind: np.ndarray | None = None) -> np.ndarray:
        """The object's mask on the prompt frame: the mask itself, else GrabCut from the box and/or points.

        ``frame``: HxWx3 uint8 RGB; returns HxW bool (True = object). A box runs GrabCut
        in the box's neighbourhood, plain and with the box's centre seeded as object, and,
        when ``motion`` (HxWx2, where the frame's pixels go over the next few frames)
        shows part of the box moving clearly unlike the background around it, a third
        time with that part seeded as object and the rest of the box as background
        (:func:`_moving_in_box`: a camera that follows its subject, a subject crossing a
        still shot). The result whose bounding box fits the drawn box best is kept (the
        motion-seeded one on a tie): a user draws the box tight around the object. When
        ``difference`` is given (HxW float, NaN where unknown: how far each pixel is from what
        the other frames show at its place; ``behind``, HxWx3 float RGB: what they show,
        :func:`glassvid.masks.background.background_view`), the part of the box that differs is
        a second opinion (:meth:`_weigh_difference`): a moving object and what moves with it
        (its shadow), thin parts included; it replaces GrabCut's object when the two are
        different things, and otherwise adds to it the differing parts that look like the
        object where the other frames do not show the object itself. Points without
        a box seed GrabCut with a disc around each positive point; only parts touching
        a positive point are kept. Raises :class:`PromptError` when nothing is selected.
        """
        h, w = frame.shape[:2]
        if prompt.mask is not None:
            return prompt.mask.astype(bool)
        box = prompt.clipped_box(w, h)
        positives = [(x, y) for x, y, label in prompt.points if label == 1]
        if box is not None:
            moving = _moving_in_box(motion, box) if motion is not None else None
            # the motion-seeded try first: on a tie (a still region inside the box, fitting it as
            # well as the object does) what moves is the object
            tries = [_grabcut(frame, box, prompt.points, core=False, moving=moving)] if moving is not None else []
            tries += [_grabcut(frame, box, prompt.points, core=False), _grabcut(frame, box, prompt.points, core=True)]
            fit, _, mask = max(((_box_fit(m, box), -k, m) for k, m in enumerate(tries)), key=lambda s: (s[0], s[1]))
            if fit < _MIN_BOX_FIT:
                # GrabCut found nothing that fills the box (a flat or ambiguous region): the box is the answer left
                mask = np.zeros((h, w), bool)
                mask[box[1] : box[3], box[0] : box[2]] = True
            if difference is not None and not prompt.points:  # points refine GrabCut: the user said what the object is
                mask = self._weigh_difference(frame, self._clean(mask, None), difference, box, behind)
        elif positives:
            mask = _grabcut_points(frame, prompt.points)
        else:
            mask = np.zeros((h, w), bool)
        mask = self._clean(mask, seed=_point_seeds(positives, (h, w)) if positives else None)
        if not mask.any():
            raise PromptError("the prompt selects no object on its frame; draw the box tighter around the object, add a --point on it, or give --mask")
        return mask

    def _weigh_difference(self, frame: np.ndarray, grabcut: np.ndarray, difference: np.ndarray, box: tuple[int, int, int, int], behind: np.ndarray | None = None) -> np.ndarray:
        """GrabCut's object from a box, weighed against the part of the box that differs from the other frames.

        The differing part (:meth:`_differing`) is what moves unlike the background: the
        object and its shadow, thin parts included, but also a hand that holds it, the wake
        of a swimming bird, the trail of a slow object over the frames; and it has holes where
        a uniform object slid over itself. GrabCut's colour segmentation is the better outline
        wherever it found the object at all. When the two are different things (IoU below
        ``_DIFFER_AGREE``) and the differing part fits the box at least as well, the differing
        part wins: GrabCut took background that fills the box as well as the object does (a
        wall band behind a player whose shadow stretches across the box). Otherwise GrabCut's
        object gains the differing parts it missed that also look like the object
        (:meth:`_add_differing`).
        """
        smooth, noise, around = self._difference_scale(difference, box)
        inside = np.zeros(grabcut.shape, bool)
        inside[box[1] : box[3], box[0] : box[2]] = True
        differing = self._differing(smooth, noise, around, inside)
        if differing is None:
            return grabcut
        if iou(grabcut, differing) < _DIFFER_AGREE and _box_fit(differing, box) >= _box_fit(grabcut, box):
            return differing
        return self._add_differing(frame, grabcut, differing, difference, noise, around | inside, behind)

    def _add_differing(self, frame: np.ndarray, grabcut: np.ndarray, differing: np.ndarray, difference: np.ndarray, noise: float, context: np.ndarray, behind: np.ndarray | None = None) -> np.ndarray:
        """``grabcut`` (HxW bool) and the pixels of ``differing`` outside it whose colour and difference say object.

        ``noise``: the difference's typical level around the box; ``context``: the box and the
        ring around it (HxW bool; see :meth:`_difference_scale`).

        GrabCut misses thin parts (a bike's frame and rims, an arm), parts whose colours it
        gave to the background (a dog's legs over a similar floor) and a faint shadow; the
        difference finds them, together with what only moves with the object (a wake, a
        neighbour brushed past) and noise where the alignment of a textured background is
        off. The two cues agree on the object's core: what both call object teaches the
        object's colours, what both leave out of the box and the ring around the box teach
        the background's (learned on this frame where the cues agree, so neither cue's
        mistakes teach them). A differing pixel outside GrabCut's object is added when its
        colour is likelier on the object (the difference alone adds nothing) and that
        log-likelihood ratio plus its difference's own (the log of how far the pixel's own
        difference, not the smoothed one that spills past the outline, is past the
        ``_DIFFER_LOW`` threshold, clipped to ``_SETTLE_DIFFER_CLIP``) is positive. With
        ``behind`` (HxWx3 float RGB, NaN where unknown: what most other frames show at each
        place, :func:`glassvid.masks.background.background_view`), a pixel where they show
        the object's colours is not added: a slow object differs from the later frames also
        where it is not yet, its trail, because they show it there. What GrabCut took stays:
        the difference's silence is no evidence against it (a uniform object sliding over
        itself, a textured background the alignment leaves noisy).
        """
        agreed = grabcut & differing
        if not agreed.any():
            return grabcut
        codes = self._quantise(frame)
        fg = self._density(codes[agreed])
        bg = self._density(codes[context & ~grabcut & ~differing])
        colour = np.log(fg[codes]) - np.log(bg[codes])
        differs = _differing_llr(np.nan_to_num(difference, nan=0.0), noise)
        added = differing & (colour > 0) & (colour + differs > 0)
        if behind is not None:
            known = np.isfinite(behind).all(axis=2)
            shown = self._quantise(np.nan_to_num(behind, nan=0.0).astype(np.uint8))
            added &= ~known | (fg[shown] <= bg[shown])
        return grabcut | added

    def _difference_scale(self, difference: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, float, np.ndarray]:
        """``difference`` smoothed (NaN as 0), its noise level (its median just around ``box``) and that ring (HxW bool).

        The ring is where :func:`_moving_in_box` reads the background's motion; the background
        should match the other frames there, so noise, compression and small misalignments set
        the scale. The ring is empty when nothing around the box is known (noise then at its floor).
        """
        h, w = difference.shape[:2]
        diff = cv2.GaussianBlur(np.nan_to_num(difference, nan=0.0), (0, 0), _DIFFER_BLUR)
        x0, y0, x1, y1 = box
        m = int(_MOTION_RING * max(x1 - x0, y1 - y0)) + 2
        around = np.zeros((h, w), bool)
        around[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m] = True
        around[y0:y1, x0:x1] = False
        around &= np.isfinite(difference)
        noise = max(float(np.median(diff[around])), _DIFFER_MIN_NOISE) if around.any() else _DIFFER_MIN_NOISE
        return diff, noise, around

    def _differing(self, diff: np.ndarray, noise: float, around: np.ndarray, inside: np.ndarray) -> np.ndarray | None:
        """The part of the box (``inside``, HxW bool) that differs from the other frames (HxW bool), or None when nothing does.

        ``diff``, ``noise``, ``around``: the smoothed difference, its typical level just around
        the box and that ring (:meth:`_difference_scale`). Groups of pixels that differ
        ``_DIFFER_LOW`` times that level and hold one that differs ``_DIFFER_HIGH`` times are
        kept (hysteresis: a shadow is faint, but it hangs on to the object).
        """
        if not around.any():
            return None
        weak = inside & (diff > _DIFFER_LOW * noise)
        n, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
        strong = np.zeros(n, bool)
        strong[np.unique(labels[weak & (diff > _DIFFER_HIGH * noise)])] = True
        strong[0] = False
        out = self._clean(strong[labels], None)
        return out if out.any() else None

    # -- propagation --------------------------------------------------------------------------------------
    def start(self, frame: np.ndarray, mask: np.ndarray) -> ClassicState:
        """State for one direction, seeded with a known frame (HxWx3 uint8 RGB) and its mask (HxW bool).

        A prompt mask drawn with a margin around the object (a removal or roto matte,
        padded on purpose) is followed by its tight core, and every mask is returned
        grown by the same margin (see :meth:`_margin`): propagation snaps to the
        object's edges, so without this the margin the user asked for is lost on the
        first frame.
        """
        margin, core = self._margin(frame, mask.astype(bool))
        state = self._state(frame, core)
        state.margin = margin
        return state

    def _state(self, frame: np.ndarray, mask: np.ndarray) -> ClassicState:
        fg, bg = self._histograms(frame, mask)
        memory = self._memory(frame, mask) if mask.any() else None
        box = mask_box(mask, 0)
        size0 = float(max(box[2] - box[0], box[3] - box[1])) if box is not None else 0.0
        state = ClassicState(frame=frame, mask=mask, memory=memory, fg_hist=fg, bg_hist=bg, fg0=fg.copy(), bg0=bg.copy(), size0=size0, area0=float(np.count_nonzero(mask)))
        if memory is not None:
            state.appearance = _appearance(memory, frame, mask)
        return state

    def _margin(self, frame: np.ndarray, mask: np.ndarray) -> tuple[int, np.ndarray]:
        """How far ``mask`` reaches past the object's edges on its own frame (px), and the object inside it.

        A tight mask's outline lies on the object's edge: the image gradient along it
        stands out from the background's texture just outside. A padded one (a removal
        or roto matte drawn generously) has its outline in background as flat as what
        lies outside, and the edge a few pixel layers in. So the gradient is profiled
        layer by layer from the outline inwards (median per layer, against the median
        of a layer ``_PAD_BASE_PX`` outside): the margin is the flat layers before the
        first one that stands out; 0 when the outline itself stands out or no layer does,
        or when the core grown back by the margin does not rebuild the mask (``_PAD_REBUILD``:
        a tight mask on background as busy as its edges, whose thin parts would be peeled off).
        """
        box = mask_box(mask, 0)
        if box is None:
            return 0, mask
        size = max(box[2] - box[0], box[3] - box[1])
        largest = min(_PAD_MAX_PX, max(_PAD_MIN_PX, int(_PAD_MAX_FRACTION * size)))
        x0, y0, x1, y1 = mask_box(mask, _PAD_BASE_PX + 2)  # type: ignore[misc]
        m = mask[y0:y1, x0:x1].astype(np.uint8)
        img = frame[y0:y1, x0:x1].astype(np.float32)
        gx, gy = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
        gradient = np.sqrt((gx * gx + gy * gy).sum(axis=2))
        depth_in = cv2.distanceTransform(m, cv2.DIST_L2, 5)
        depth_out = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5)

        def level(sel: np.ndarray) -> float:
            return float(np.median(gradient[sel])) if sel.any() else 0.0

        base = level((depth_out > _PAD_BASE_PX - 1) & (depth_out <= _PAD_BASE_PX))
        stands_out = _PAD_EDGE_CONTRAST * max(base, 1.0)
        if level((depth_out > 0) & (depth_out <= 1)) > stands_out:
            return 0, mask
        for d in range(largest + 1):
            layer = (depth_in > d) & (depth_in <= d + 1)
            if not layer.any():
                return 0, mask  # the mask is thinner than any margin: nothing to peel
            if level(layer) > stands_out:
                break
        else:
            return 0, mask
        if d == 0:
            return 0, mask
        core = np.zeros_like(mask)
        core[y0:y1, x0:x1] = depth_in > d
        if iou(dilate_mask(core, d), mask) < _PAD_REBUILD:
            # a padded matte is its object grown by the margin; a tight mask on busy background (no layer stands
            # out until deep inside) would lose its thin parts, a person's legs, and be followed as a sliver
            return 0, mask
        return d, core

    def step(self, state: ClassicState, frame: np.ndarray, flow_to_prev: np.ndarray, valid: np.ndarray | None = None, neighbours: Neighbours | None = None) -> tuple[np.ndarray, float]:
        """Mask of ``frame`` (HxW bool) and its confidence in [0, 1]; updates ``state`` in place.

        ``frame``: HxWx3 uint8 RGB. ``flow_to_prev``: HxWx2 float32, ``frame`` -> previous
        frame (x right, y down, pixels). ``valid``: HxW bool, where that flow passed the
        forward-backward check (None = everywhere). ``neighbours``: how far ``frame``'s pixels
        are from what the frames around it show at their place (see :data:`Neighbours`), weighed
        in by :func:`_neighbour_evidence`; None = not known.
        """
        cfg = self.cfg
        h, w = frame.shape[:2]
        # 1. the window: the object's box, grown by a margin and by how far it may have moved
        pbox = mask_box(state.mask, 0)
        if pbox is None:
            state.lost_for += 1
            state.frame = frame
            if state.lost_for % _FIND_EVERY:
                return state.mask, 0.0
            radius = state.size0 * state.anchor[0] * (1.0 + _FIND_SPREAD * state.lost_for)
            found = self._find(state, frame, state.anchor, radius, tracked=None)
            return found if found is not None else (state.mask, 0.0)
        win, size = self._window(pbox, flow_to_prev, state.velocity, (h, w))
        s = 1.0 / max(win.sx, win.sy)
        cur = win.take(frame)
        prev = win.take(state.frame).astype(np.float32)
        carried = win.take(state.mask, mask=True)
        flow = win.take(flow_to_prev)
        flow[..., 0] /= win.sx
        flow[..., 1] /= win.sy
        ok = win.take(valid, mask=True) if valid is not None else None
        curf = cur.astype(np.float32)

        # 2. motion hypotheses -> carried label (prior) and how much to trust it
        prior, trust, motion, bg_affine, growth, explained = self._motion_prior(state, win, curf, prev, carried, flow, ok, pbox, size * s, frame)
        align = state.align @ motion
        hard = prior > 0.5
        if not hard.any():
            return self._lost(state, frame)

        # 3. appearance: the prompt frame's colour memory at the object's offset, the global model elsewhere
        p_colour, c_colour, seen = self._colour(state, win, cur, align)

        # 4. fusion: colour decides near the carried boundary (width by its confidence), the carried shape elsewhere
        # the growth limit follows the prompt object's size, not the current mask's (a mask that leaked
        # would otherwise widen its own limit, and leak faster)
        band = max(cfg.refine_band_px * s, cfg.growth_fraction * state.size0 * s, 1.0)
        hu = hard.astype(np.uint8)
        d_out = cv2.distanceTransform(1 - hu, cv2.DIST_L2, 3)
        d_in = cv2.distanceTransform(hu, cv2.DIST_L2, 3)
        dist = d_out + d_in
        sigma = _SIGMA_MIN + (band - _SIGMA_MIN) * c_colour**2
        omega = np.maximum(cfg.snap_weight * np.exp(-np.minimum(dist * dist / (sigma * sigma), 50.0)), cfg.colour_floor)
        carried_p = trust * prior + (1.0 - trust) * _UNTRUSTED_PRIOR
        post = omega * p_colour + (1.0 - omega) * carried_p
        distance = neighbours(curf, win.grid) if neighbours is not None else None
        if distance is not None:
            post = _neighbour_evidence(post, distance, p_colour, seen, d_in, d_out, band)
        if bg_affine is not None:
            object_flow = -state.velocity / np.array([win.sx, win.sy], np.float32)
            judged, post = _motion_layers(post, flow, object_flow, bg_affine, ~seen, explained)
        else:
            judged = post  # what the step's certainty is judged on (see _motion_layers)
        reach = d_out <= band
        post = np.where(reach, post, 0.0).astype(np.float32)
        raw = post > 0.5
        new_w = self._clean(_open_thin(raw) | (raw & seen), hard)
        # confidence: decisiveness along the boundary band, agreement with the carried mask
        edge = reach & (d_in <= band)
        decisive = float(np.mean(np.abs(judged[edge] - 0.5)) * 2.0) if edge.any() else 0.0
        union = np.count_nonzero(new_w | hard)
        agreement = np.count_nonzero(new_w & hard) / union if union else 0.0
        # support: the share of the mask whose colour the prompt frame showed there on the object; a mask
        # left on background after the object vanished (or was covered for good) has almost none
        support = float(np.mean(seen[new_w])) if new_w.any() else 0.0
        # the step's own certainty: it drives the safeguards and re-detection below (not what is reported, see _looks_like)
        boundary = decisive * agreement * min(1.0, support / _SUPPORT_FULL)
        state.support = support

        # 5. safeguards: a one-frame collapse with weak evidence keeps the carried mask
        if np.count_nonzero(new_w) < cfg.collapse_ratio * np.count_nonzero(hard) and boundary < _COLLAPSE_CONFIDENCE:
            new_w = hard
            post = np.maximum(prior, 0.0)
        # an object reduced to a sliver of its prompt-frame size, on weak evidence, is gone (it left the
        # frame or vanished); a sliver kept alive would wander onto the background
        if not new_w.any() or (np.count_nonzero(new_w) * win.sx * win.sy < cfg.vanish_fraction * state.area0 and boundary < _COLLAPSE_CONFIDENCE):
            return self._lost(state, frame)
        # 6. back to full resolution: the soft result, restricted to the kept parts (and their filled holes)
        kept = cv2.dilate(new_w.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        full = win.untake(np.where(new_w & (post <= 0.5), 1.0, np.where(kept, post, 0.0)).astype(np.float32)) > 0.5
        mask = np.zeros((h, w), bool)
        mask[win.y0 : win.y1, win.x0 : win.x1] = full
        if not mask.any():
            return self._lost(state, frame)
        self._update_histograms(state, cur, new_w)
        state.align = align
        state.mask = mask
        state.frame = frame
        state.steps += 1
        if state.appearance is None:
            return _with_margin(mask, state.margin), float(boundary)
        # where the prompt object is now (x, y from the memory's alignment) and its size: the alignment
        # keeps the scale of the last restart; the object's own motion tells how it grew or shrank since
        # (confident steps only, and not while the frame's edge cuts the mask: a part's fit is not the whole's)
        inside = not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
        if growth is not None and boundary >= _SCALE_CONFIDENCE and inside:
            state.scale *= float(np.clip(growth, 1.0 - _SCALE_STEP_MAX, 1.0 + _SCALE_STEP_MAX))
        aligned = state.appearance.place(align)
        tracked = np.array([state.scale, aligned[1], aligned[2]])  # where re-detection looks, and at what size
        if boundary >= _FIND_BELOW:
            state.anchor = tracked.astype(np.float32)
        if boundary < _FIND_BELOW or state.steps % _FIND_EVERY == 0:
            # a mask that went with an occluder while the velocity held on the object has left the place the
            # colour memory follows: the object is there again as soon as it scores there
            found = self._restart_at(state, frame, tracked) if self._mask_left(state, tracked) else None
            if found is None:
                found = self._find(state, frame, tracked, _FIND_RADIUS * state.size0 * tracked[0], tracked=tracked)
            if found is not None:
                return found
        # the look is judged at the alignment's scale: a receding object scores lower, and so do masks off it more
        # clearly (benchmark frames, J >= 0.5 vs below: ROC AUC 0.952 so, 0.929 at the followed scale)
        return _with_margin(mask, state.margin), float(boundary * self._looks_like(state, frame, aligned))

    def turn(self, state: ClassicState) -> ClassicState:
        """A copy of ``state`` for stepping the other way from its frame: the object's velocity reversed.
        (A step replaces the state's arrays rather than writing into them, so the copy is shallow.)"""
        return replace(state, velocity=-state.velocity)

    # -- step parts ---------------------------------------------------------------------------------------
    def _window(self, pbox: tuple[int, int, int, int], flow: np.ndarray, velocity: np.ndarray, hw: tuple[int, int]) -> tuple[_Window, float]:
        h, w = hw
        bx0, by0, bx1, by1 = pbox
        size = float(max(bx1 - bx0, by1 - by0))
        # how far the object may have moved: the largest flow over its box (sampled), or its last motion
        step_px = max(1, int(size // 64))
        fl = flow[by0:by1:step_px, bx0:bx1:step_px]
        motion = float(np.abs(fl).max()) if fl.size else 0.0
        motion = max(motion, 1.5 * float(np.abs(velocity).max()) + 2.0)
        pad = max(_MARGIN_MIN_PX, int(_MARGIN_FRACTION * size)) + int(np.ceil(motion))
        x0, y0, x1, y1 = max(0, bx0 - pad), max(0, by0 - pad), min(w, bx1 + pad), min(h, by1 + pad)
        cw, ch = x1 - x0, y1 - y0
        s = min(1.0, float(np.sqrt(self.cfg.work_pixels / (cw * ch))))
        return _Window(x0, y0, x1, y1, max(4, int(round(cw * s))), max(4, int(round(ch * s)))), size

    def _motion_prior(self, state, win, cur, prev, carried, flow, ok, pbox, size_w, frame):
        """Carried label per work pixel (soft, [0, 1]), its trust ([0, 1]), the object's motion
        (3x3, full px, this frame -> previous), the background's (2x3 affine, work px, this frame ->
        previous; None when it could not be fitted) and the object's growth since the previous frame
        (the scale of the affine fit to its interior's flow; None when it could not be fitted), and per
        work pixel how much better the object's motion (the template match or the interior's affine
        fit, whichever is better there) explains this frame than the background's (the difference of
        their photometric errors; None without both), from competing motion hypotheses; updates
        ``state.velocity``. ``frame``: this frame (full, for the colour memory's check of the velocity)."""
        wh, ww = carried.shape
        gx = np.arange(ww, dtype=np.float32)
        gy = np.arange(wh, dtype=np.float32)
        mx = gx[None, :] + flow[..., 0]
        my = gy[:, None] + flow[..., 1]
        labels = [cv2.remap(carried, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)]
        errors = [_abs_error(cur, cv2.remap(prev, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)) + _DENSE_BIAS]
        affines = []
        bx0, by0, bx1, by1 = pbox
        pb = (int(np.floor((bx0 - win.x0) / win.sx)), int(np.floor((by0 - win.y0) / win.sy)), int(np.ceil((bx1 - win.x0) / win.sx)), int(np.ceil((by1 - win.y0) / win.sy)))
        inside = carried > 0.5
        guess = -np.median(flow[inside], axis=0) if inside.any() else np.zeros(2, np.float32)
        d = _match(cur, prev, carried, pb, guess)
        if d is not None:
            affines.append(np.float32([[1, 0, -d[0]], [0, 1, -d[1]]]))
        # the object's velocity (it aligns the colour memory, so an error here stays): the match, else the
        # flow; a jump from the last velocity that large is an occluder or a periodic texture, not the object
        scale = np.array([win.sx, win.sy], np.float32)
        g = guess.astype(np.float32) * scale
        last = state.velocity
        jump = _MAX_JUMP * size_w * win.sx + 2.0

        def near(a: np.ndarray, b: np.ndarray) -> bool:
            return bool(np.hypot(*(a - b)) <= jump)

        m = np.asarray(d, np.float32) * scale if d is not None else g
        if near(m, g) or near(m, last):
            v = m
        elif near(g, last):
            v = g
        else:
            v = last  # nothing agrees: keep going as before
        if np.hypot(*(v - last)) > _MEMORY_JUMP * size_w * win.sx + 2.0 and self._memory_prefers(state, frame, last, v):
            v = last  # the jump fits the prompt frame's object worse: an occluder or the background took the mask
        state.velocity = v.astype(np.float32)
        r = max(1, int(round(_AFFINE_RING * size_w)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        trusted = ok > 0.5 if ok is not None else np.ones_like(inside)
        iu = inside.astype(np.uint8)
        interior = (cv2.erode(iu, kernel) > 0) if np.count_nonzero(iu) > 50 else inside
        obj_affine = _fit_affine(interior & trusted, flow)
        bg_affine = _fit_affine((cv2.dilate(iu, kernel) == 0) & trusted, flow)
        n_object = len(affines) + (obj_affine is not None)  # the object's hypotheses: the match, its affine fit
        affines += [a for a in (obj_affine, bg_affine) if a is not None]
        # the object's motion (full px, this frame -> previous), for aligning the colour memory: its
        # translation (following also its scale and rotation, from the affine fit, was measured: no gain,
        # and a scale that drifts on an object leaving the frame)
        motion = np.eye(3)
        motion[:2, 2] = -state.velocity
        for a in affines:
            labels.append(cv2.warpAffine(carried, a, (ww, wh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0))
            moved = cv2.warpAffine(prev, a, (ww, wh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
            errors.append(_abs_error(cur, moved))
        k = (2 * _PHOTO_RADIUS + 1,) * 2
        errs = np.stack([cv2.boxFilter(e, -1, k) for e in errors])
        best = errs.min(0)
        weights = np.exp(-(errs - best) / _PHOTO_TEMPERATURE)
        prior = (weights * np.stack(labels)).sum(0) / weights.sum(0)
        trust = _PHOTO_TOLERANCE / (_PHOTO_TOLERANCE + best / 3.0)
        if ok is not None:
            trust = trust * (_INVALID_TRUST + (1.0 - _INVALID_TRUST) * ok)
        area = abs(float(np.linalg.det(obj_affine[:, :2]))) if obj_affine is not None else 0.0
        growth = 1.0 / np.sqrt(area) if area > 1e-6 else None
        # the errors list the dense flow first, the object's hypotheses next, the background's last
        explained = errs[-1] - errs[1 : 1 + n_object].min(0) if bg_affine is not None and n_object else None
        return prior.astype(np.float32), trust.astype(np.float32), motion, bg_affine, growth, explained

    def _memory_prefers(self, state: ClassicState, frame: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether velocity ``a`` (full px) puts the prompt frame's object where it fits the colour memory
        clearly better (by ``_MEMORY_JUMP_GAIN`` of the prompt frame's own score) than velocity ``b``."""
        app, mem = state.appearance, state.memory
        if app is None or mem is None or app.self_score < _FIND_MIN_SELF:
            return False
        here = app.place(state.align)
        sa, sb = _memory_scores(mem, app, frame, np.stack([here + (0.0, *a), here + (0.0, *b)]).astype(np.float64))
        return bool(sa > sb + _MEMORY_JUMP_GAIN * app.self_score)

    def _colour(self, state: ClassicState, win: _Window, cur: np.ndarray, align: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per work pixel: object probability from colour, the colour model's confidence, and whether
        the prompt frame showed this colour on the object at this place (``align``: frame -> prompt frame),
        i.e. its share of the object's samples there is larger than its share of the background's."""
        cfg = self.cfg
        fg = (1.0 - cfg.prompt_memory) * state.fg_hist + cfg.prompt_memory * state.fg0
        bg = (1.0 - cfg.prompt_memory) * state.bg_hist + cfg.prompt_memory * state.bg0
        q = self._quantise(cur)
        pf, pb = fg[q], bg[q]
        p_global = pf / (pf + pb)
        mem = state.memory
        if mem is None:
            return p_global.astype(np.float32), np.full(p_global.shape, _GLOBAL_CONFIDENCE, np.float32), p_global > 0.5
        ny, nx = mem.confidence.shape
        n = 1 << mem.bits
        # work pixel -> prompt-frame position (undo the object's motion) -> memory cell; outside -> an empty cell
        xs = win.x0 + (np.arange(win.ww, dtype=np.float32) + 0.5) * win.sx - 0.5
        ys = win.y0 + (np.arange(win.wh, dtype=np.float32) + 0.5) * win.sy - 0.5
        (a00, a01, a02), (a10, a11, a12) = align[0], align[1]
        if abs(a01) < 1e-9 and abs(a10) < 1e-9:  # no rotation: separable, cheap
            px = (a00 * xs + a02)[None, :]
            py = (a11 * ys + a12)[:, None]
        else:
            px = a00 * xs[None, :] + a01 * ys[:, None] + a02
            py = a10 * xs[None, :] + a11 * ys[:, None] + a12
        cx = np.floor((px - mem.origin[0]) / mem.cell).astype(np.int32)
        cy = np.floor((py - mem.origin[1]) / mem.cell).astype(np.int32)
        empty = ny * nx
        cell = np.minimum(np.where((cy >= 0) & (cy < ny), cy * nx, empty) + np.where((cx >= 0) & (cx < nx), cx, empty), empty)
        idx = cell * n**3 + _colour_codes(cur, mem.bits)
        lf = mem.fg_flat[idx]
        lb = mem.bg_flat[idx]
        count = lf + lb  # how much the memory knows about this colour here
        df = lf * mem.fg_scale_flat[cell]  # class-conditional densities: the cell's area ratio is no prior (see ColourMemory)
        db = lb * mem.bg_scale_flat[cell]
        p_local = (df + 1e-12) / (df + db + 2e-12)
        a = count / (count + _LOCAL_PSEUDO_COUNT)
        if self.cfg.novel_colour < 1.0:
            # a colour never seen at this place on the prompt frame (in a cell the memory covers) is more
            # likely background just uncovered, or an occluder, than the object
            known = cell != empty
            p_global = np.where(known, self.cfg.novel_colour * p_global + (1 - self.cfg.novel_colour) * _NOVEL_PRIOR, p_global)
        p = a * (p_local - p_global) + p_global
        conf = a * (mem.confidence_flat[cell] - _GLOBAL_CONFIDENCE) + _GLOBAL_CONFIDENCE
        seen = (count > _SEEN_COUNT) & (p_local > 0.5)
        return p.astype(np.float32), conf.astype(np.float32), seen

    def _looks_like(self, state: ClassicState, frame: np.ndarray, tracked: np.ndarray) -> float:
        """Factor in [``_LOOKS_FLOOR``, 1] on the reported confidence: whether the tracked place still looks like the prompt object.

        The step's own certainty (boundary decisiveness, agreement with the carried mask, seen colours)
        stays high on a mask that follows the wrong thing steadily: a look-alike (another girl, the other
        dog) or background it spread onto (issue 4). Two scores of the prompt object placed at the tracked
        placement, each as a share of the prompt frame's own, are averaged: the colour memory's
        (:func:`_memory_scores`, over the samples in the frame: the object's colours against what stood
        beside it, cell by cell) and the re-detection's match (:func:`_match_scores`: against the whole
        frame's colours, leaning on the object's overall colours, so an articulated object whose parts
        moved between cells, a tennis player, still scores). They fall from 1 to 0 or below on a
        look-alike or on background. The factor is full at ``_LOOKS_FULL`` of the prompt frame's score
        and never below ``_LOOKS_FLOOR``. Only the reported number: the safeguards and re-detection keep
        the step's own certainty (re-detecting on it cost 0.007 mean J&F on the benchmark). 1 when the
        prompt object does not stand out from its surroundings (``_FIND_MIN_SELF``).
        """
        app, mem = state.appearance, state.memory
        if app is None or mem is None or app.self_score < _FIND_MIN_SELF or app.memory_self <= 0:
            return 1.0
        at = np.asarray(tracked, np.float64)[None, :]
        memory = float(_memory_scores(mem, app, frame, at, visible_only=True)[0]) / app.memory_self
        # the frame's colour density from a 1/16 subsample (contiguous, so binned fast): a histogram, the same ranking
        h, w = frame.shape[:2]
        k = _LOOKS_DENSITY_STRIDE
        small = cv2.resize(frame, (max(1, w // k), max(1, h // k)), interpolation=cv2.INTER_NEAREST)
        match = _match_scores_near(app, frame, _frame_log_density(_colour_codes(small, mem.bits), mem.bits), mem.bits, at[0]) / app.self_score
        return _LOOKS_FLOOR + (1.0 - _LOOKS_FLOOR) * float(np.clip(0.5 * (memory + match) / _LOOKS_FULL, 0.0, 1.0))

    def _lost(self, state: ClassicState, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """The object is gone: empty mask, confidence 0; later steps look for it around where it was last seen."""
        state.mask = np.zeros(frame.shape[:2], bool)
        state.frame = frame
        state.lost_for = 0
        return state.mask, 0.0

    def _mask_left(self, state: ClassicState, tracked: np.ndarray) -> bool:
        """Whether less than ``_FIND_LEFT`` of the mask lies inside the prompt mask at placement ``tracked``."""
        app = state.appearance
        n = np.count_nonzero(state.mask)
        if app is None or n == 0:
            return False
        return np.count_nonzero(self._placed(app, tracked, state.mask.shape) & state.mask) < _FIND_LEFT * n

    def _find(self, state: ClassicState, frame: np.ndarray, centre: np.ndarray, radius: float, tracked: np.ndarray | None) -> tuple[np.ndarray, float] | None:
        """Look for the prompt object within ``radius`` px of placement ``centre`` (scale, x, y); on a clear match, restart there.

        Tracking-by-detection for what flow cannot bridge: an object that an occluder
        covered (the mask went with the occluder) or that was lost. Placements of the
        prompt frame's object at ``centre``'s scale are scored (:func:`_match_scores`),
        coarse to fine, less the distance from the last confident placement
        (``_FIND_PRIOR``: a look-alike far away loses to the object near where it was
        seen); the best one's scale is then refined to the one that gathers the most
        evidence there. A match is taken when its score is ``_FIND_ACCEPT`` of the prompt
        frame's own and, while a mask is tracked (``tracked``: its placement), beats the
        best placement near the tracked one, at the match's scale, by ``_FIND_GAIN`` of
        it plus the prior's difference between the two, and the mask does not already cover
        ``_FIND_OVERLAP`` of it. The mask restarts as the prompt mask moved and scaled there,
        with a confidence below ``_FIND_BELOW`` (so the next step looks again); the steps
        after refine it.
        """
        app, mem = state.appearance, state.memory
        if app is None or mem is None or app.self_score < _FIND_MIN_SELF:
            return None  # no prompt object, or one whose colours do not tell it from its surroundings
        codes = _colour_codes(frame, mem.bits)
        flog = _frame_log_density(codes, mem.bits)
        h, w = codes.shape
        sh, sw = app.shape.shape
        cx, cy = app.centre
        narrow = min(sh, sw)
        sc0 = float(centre[0])
        # placements that keep at least part of the scaled object in the frame
        hx, hy = 0.5 * sc0 * sw, 0.5 * sc0 * sh
        lo_x, hi_x = max(centre[1] - radius, -cx - hx + 1), min(centre[1] + radius, w - 1 - cx + hx)
        lo_y, hi_y = max(centre[2] - radius, -cy - hy + 1), min(centre[2] + radius, h - 1 - cy + hy)
        if lo_x > hi_x or lo_y > hi_y:
            return None
        step = max(1.0, _FIND_STEP * sc0 * narrow, float(np.sqrt((hi_x - lo_x + 1) * (hi_y - lo_y + 1) / _FIND_MAX_OFFSETS)))
        gx, gy = np.meshgrid(np.arange(lo_x, hi_x + 1e-6, step), np.arange(lo_y, hi_y + 1e-6, step))
        cand = np.stack([np.full(gx.size, sc0), gx.ravel(), gy.ravel()], 1)
        prior_at, prior_size = state.anchor, max(sh, sw) * float(state.anchor[0])

        def penalty(at: np.ndarray) -> np.ndarray:
            """The prior: distance from the last confident placement, in object sizes, times its weight."""
            return _FIND_PRIOR * app.self_score * np.hypot(at[:, 1] - prior_at[1], at[:, 2] - prior_at[2]) / prior_size

        def score(at: np.ndarray) -> np.ndarray:
            return _match_scores(app, codes, flog, at)

        def refine(at: np.ndarray, step: float) -> tuple[np.ndarray, float]:
            """The best placement around ``at`` (its scale, narrowing to 1 px, scored on every sample with the prior) and its score."""
            best, value, pen = at, -np.inf, 0.0
            step = max(3.0, step)  # the first grid (a third of it) is centred on ``at``: no separate look at ``at``
            while step > 1.0:
                step = max(1.0, step / 3.0)
                fx, fy = np.meshgrid(best[1] + step * np.arange(-2, 3), best[2] + step * np.arange(-2, 3))
                around = np.stack([np.full(fx.size, best[0]), fx.ravel(), fy.ravel()], 1)
                p = penalty(around)
                s = score(around) - p
                i = int(np.argmax(s))
                if float(s[i]) > value:
                    best, value, pen = around[i], float(s[i]), float(p[i])
            return best, value + pen

        quality = _match_scores(app, codes, flog, cand, stride=_FIND_COARSE_STRIDE)
        ranked = quality - penalty(cand)
        here = -np.inf
        if tracked is not None:
            # the match must be elsewhere than the tracked place, and beat the best near it
            near = np.hypot(cand[:, 1] - tracked[1], cand[:, 2] - tracked[2]) < _FIND_AWAY * tracked[0] * narrow
            here_at = tracked.astype(np.float64)
            if near.any():
                here_at, here = refine(cand[int(np.argmax(np.where(near, quality, -np.inf)))], step)
            tq = float(score(tracked[None, :].astype(np.float64))[0])
            if tq > here:
                here_at, here = tracked.astype(np.float64), tq
            ranked = np.where(near, -np.inf, ranked)
        if not np.isfinite(ranked).any():
            return None
        # the coarse grid can straddle a narrow peak: the best few separate candidates are refined
        best, value, top = None, -np.inf, -np.inf
        for _ in range(_FIND_REFINE_PEAKS):
            i = int(np.argmax(ranked))
            if not np.isfinite(ranked[i]):
                break
            b, v = refine(cand[i], step)
            if v - penalty(b[None, :])[0] > top:
                best, value, top = b, v, v - penalty(b[None, :])[0]
            ranked = np.where(np.hypot(cand[:, 1] - cand[i, 1], cand[:, 2] - cand[i, 2]) < _FIND_AWAY * sc0 * narrow, -np.inf, ranked)
        # the scale: the one next to the searched one that gathers the most evidence (score times scale
        # squared: a placement too large takes in background, one too small leaves object out)
        for f in (_FIND_SCALE_STEP, 1.0 / _FIND_SCALE_STEP):
            sc = float(np.clip(best[0] * f, _FIND_SCALE_MIN, _FIND_SCALE_MAX))
            b, v = refine(np.array([sc, best[1], best[2]]), _FIND_RESCALE_STEP * sc * narrow)
            if v * sc**2 > value * best[0] ** 2:
                best, value = b, v
        if tracked is not None and not np.isclose(best[0], tracked[0]):
            # scores compare at one scale: the tracked place, at the match's
            here = max(here, refine(np.array([best[0], tracked[1], tracked[2]]), _FIND_AWAY * best[0] * narrow)[1])
        # the prior counts here too: a match farther than the tracked place from where the object was last
        # seen with confidence must beat it by that much more
        farther = penalty(best[None, :])[0] - penalty(here_at[None, :])[0] if tracked is not None else 0.0
        if value < max(_FIND_ACCEPT * app.self_score, here + _FIND_GAIN * app.self_score + farther):
            return None
        if tracked is not None:
            placed = self._placed(app, best, (h, w))
            if np.count_nonzero(placed & state.mask) >= _FIND_OVERLAP * np.count_nonzero(placed):
                return None  # the mask is there already (an articulated object whose parts moved): not reset to the prompt shape
        return self._restart(state, app, frame, best, value)

    def _restart_at(self, state: ClassicState, frame: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, float] | None:
        """Restart at placement ``at`` when the colour memory scores the prompt object there at least ``_LEFT_ACCEPT`` of
        its own score (:func:`_memory_scores`: an object still partly behind the occluder it is coming out from scores
        on its visible part)."""
        app, mem = state.appearance, state.memory
        if app is None or mem is None or app.self_score < _FIND_MIN_SELF:
            return None
        memory = float(_memory_scores(mem, app, frame, np.asarray(at, np.float64)[None, :])[0])
        if memory < _LEFT_ACCEPT * app.memory_self:
            return None
        return self._restart(state, app, frame, at, app.self_score * memory / max(app.memory_self, 1e-6))

    def _restart(self, state: ClassicState, app: _Appearance, frame: np.ndarray, at: np.ndarray, score: float) -> tuple[np.ndarray, float] | None:
        """The mask restarted as the prompt mask at placement ``at`` (scale, x, y), with a confidence below
        ``_FIND_BELOW`` (so the next step looks again); None when that leaves it outside the frame."""
        mask = self._placed(app, at, frame.shape[:2])
        if not mask.any():
            return None
        state.mask, state.frame, state.align = mask, frame, app.align(at)
        state.velocity = np.zeros(2, np.float32)
        state.anchor = np.asarray(at, np.float32)
        state.scale = float(at[0])
        state.lost_for = 0
        return _with_margin(mask, state.margin), min(1.0, score / max(app.self_score, 1e-6)) * _FIND_BELOW

    @staticmethod
    def _placed(app: _Appearance, place: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        """The prompt mask at ``place`` (scale, x, y) in a frame of size ``hw`` (HxW bool)."""
        h, w = hw
        x0, y0 = app.corner
        s, ox, oy = (float(v) for v in place)
        cx, cy = app.centre
        m = np.float32([[s, 0, cx + ox - s * (cx - x0)], [0, s, cy + oy - s * (cy - y0)]])
        return cv2.warpAffine(app.shape.astype(np.uint8), m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0

    # -- colour models ------------------------------------------------------------------------------------
    def _memory(self, frame: np.ndarray, mask: np.ndarray) -> ColourMemory:
        """The prompt frame's object-centric colour grid (see :class:`ColourMemory`)."""
        cfg = self.cfg
        bx0, by0, bx1, by1 = mask_box(mask, 0)  # type: ignore[misc]
        size = max(bx1 - bx0, by1 - by0)
        h, w = mask.shape
        m = int(_MEMORY_MARGIN * size) + 2
        x0, y0, x1, y1 = max(0, bx0 - m), max(0, by0 - m), min(w, bx1 + m), min(h, by1 + m)
        cell = max(2.0, size / cfg.memory_cells)
        nx, ny = int(np.ceil((x1 - x0) / cell)), int(np.ceil((y1 - y0) / cell))
        step_px = max(1, int(np.ceil(np.sqrt((x1 - x0) * (y1 - y0) / _MEMORY_MAX_PIXELS))))
        lab = mask[y0:y1:step_px, x0:x1:step_px]
        cx = (np.arange(x0, x1, step_px) - x0) / cell
        cy = (np.arange(y0, y1, step_px) - y0) / cell
        cells = cy.astype(np.int64)[:, None] * nx + cx.astype(np.int64)[None, :]
        bits = cfg.memory_colour_bits
        n = 1 << bits
        idx = (cells * n**3 + _colour_codes(frame[y0:y1:step_px, x0:x1:step_px], bits)).ravel()
        total = ny * nx * n**3
        lf = lab.ravel().astype(np.float64)
        fg = np.bincount(idx, weights=lf, minlength=total).astype(np.float32).reshape(ny, nx, n, n, n)
        bg = np.bincount(idx, weights=1.0 - lf, minlength=total).astype(np.float32).reshape(ny, nx, n, n, n)
        for g in (fg, bg):
            for axis in range(5):
                _blur_axis(g, axis)
            g *= step_px * step_px / 4.0**5  # counts in prompt-frame pixels
        # confidence per cell: balanced accuracy of the cell's classifier on the prompt frame's own
        # samples near the mask's boundary (where it will be asked to decide)
        fr, br = fg.reshape(-1), bg.reshape(-1)
        pred = fr[idx] / (fr[idx] + br[idx] + 1e-9)
        err = np.abs(lf - pred)
        lab_u8 = lab.astype(np.uint8)
        dist = cv2.distanceTransform(lab_u8, cv2.DIST_L2, 3) + cv2.distanceTransform(1 - lab_u8, cv2.DIST_L2, 3)
        near = np.exp(-((dist * step_px / max(2.0, cfg.growth_fraction * size)) ** 2)).ravel()
        flat_cells = cells.ravel()
        nc = ny * nx
        wf, wb = lf * near, (1.0 - lf) * near
        nf = np.bincount(flat_cells, weights=wf, minlength=nc)
        nb = np.bincount(flat_cells, weights=wb, minlength=nc)
        ef = np.bincount(flat_cells, weights=err * wf, minlength=nc) / np.maximum(nf, 1e-6)
        eb = np.bincount(flat_cells, weights=err * wb, minlength=nc) / np.maximum(nb, 1e-6)
        has_f, has_b = nf > 1e-3, nb > 1e-3
        e = np.where(has_f & has_b, 0.5 * (ef + eb), np.where(has_f, ef, np.where(has_b, eb, 0.5)))
        conf = np.clip(1.0 - 2.0 * e, 0.0, 1.0).astype(np.float32).reshape(ny, nx)
        conf = cv2.GaussianBlur(conf, (3, 3), 0)
        return ColourMemory(fg=fg, bg=bg, origin=(float(x0), float(y0)), cell=float(cell), bits=bits, confidence=conf)

    def _quantise(self, rgb: np.ndarray) -> np.ndarray:
        b = self.bins
        q = (rgb.astype(np.int32) * b) >> 8
        return (q[..., 0] * b + q[..., 1]) * b + q[..., 2]

    def _histograms(self, frame: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised colour densities of the object and of a ring of background around it."""
        n = self.bins**3
        box = mask_box(mask, 0)
        if box is None:
            flat = np.full(n, 1.0 / n, np.float32)
            return flat, flat.copy()
        size = max(box[2] - box[0], box[3] - box[1])
        x0, y0, x1, y1 = mask_box(mask, max(12, int(_HIST_RING_FRACTION * size)))  # type: ignore[misc]
        q = self._quantise(frame[y0:y1, x0:x1])
        m = mask[y0:y1, x0:x1]
        return self._density(q[m]), self._density(q[~m])

    def _update_histograms(self, state: ClassicState, cur: np.ndarray, mask_w: np.ndarray) -> None:
        """Follow the object's appearance slowly (``model_update``), from this step's window."""
        a = self.cfg.model_update
        if a <= 0 or not mask_w.any() or mask_w.all():
            return
        q = self._quantise(cur)
        state.fg_hist = (1 - a) * state.fg_hist + a * self._density(q[mask_w])
        state.bg_hist = (1 - a) * state.bg_hist + a * self._density(q[~mask_w])

    def _density(self, codes: np.ndarray) -> np.ndarray:
        """Colour density from quantised codes: a histogram smoothed over neighbouring bins.

        Smoothing lets unseen shades of a seen colour count (shading varies frame to
        frame); the floor keeps never-seen colours from deciding anything (p = 0.5).
        """
        b = self.bins
        hist = np.bincount(codes.ravel(), minlength=b**3).astype(np.float32).reshape(b, b, b)
        for axis in range(3):
            hist = (hist + np.roll(hist, 1, axis) + np.roll(hist, -1, axis)) / 3.0
        hist = hist.ravel() / max(float(hist.sum()), 1.0) + _HIST_FLOOR
        return (hist / hist.sum()).astype(np.float32)

    def _clean(self, mask: np.ndarray, seed: np.ndarray | None) -> np.ndarray:
        """Drop small detached parts (and parts not touching ``seed``), fill small holes."""
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        if n <= 1:
            return mask
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = areas >= self.cfg.min_area_fraction * areas.max()
        if seed is not None:
            touched = np.bincount(labels[seed].ravel(), minlength=n)[1:] > 0
            keep &= touched
        out = np.concatenate([[False], keep])[labels]
        # fill holes that are small relative to the object (keeps real openings such as a handle's)
        m, hl, hs, _ = cv2.connectedComponentsWithStats((~out).astype(np.uint8), connectivity=4)
        if m > 2:
            border = np.unique(np.concatenate([hl[0], hl[-1], hl[:, 0], hl[:, -1]]))
            small = hs[:, cv2.CC_STAT_AREA] < 0.01 * np.count_nonzero(out)
            small[border] = False
            small[0] = False
            out |= small[hl]
        return out


# -- pure helpers ------------------------------------------------------------------------------------------
def _differing_llr(difference: np.ndarray, noise: float) -> np.ndarray:
    """How far past ``_DIFFER_LOW`` times ``noise`` each ``difference`` is, as a log ratio clipped to
    ``_SETTLE_DIFFER_CLIP`` either way: positive where a pixel differs from what other frames show at its place."""
    return np.clip(np.log(np.maximum(difference / (_DIFFER_LOW * noise), _SETTLE_TINY)), -_SETTLE_DIFFER_CLIP, _SETTLE_DIFFER_CLIP)


def _neighbour_evidence(post: np.ndarray, distance: np.ndarray, p_colour: np.ndarray, seen: np.ndarray, d_in: np.ndarray, d_out: np.ndarray, band: float) -> np.ndarray:
    """``post`` (object probability per work pixel) weighed with how far each pixel is from what the frames around show there.

    ``distance``: HxW float32 (NaN where unknown), see :class:`glassvid.masks.background.NeighbourFrames`;
    ``p_colour``: the colour's object probability; ``seen``: HxW bool, where the prompt frame showed
    that colour on the object (see :meth:`ClassicMasks._colour`); ``d_in`` / ``d_out``: distances
    (work px) into and out of the carried mask; ``band``: how far the mask may grow.

    Background subtraction with a moving camera: a pixel that matches what the frames around it
    show at its place (less than ``_DIFFER_LOW`` times the difference typical just outside the
    carried mask) is background: an object-coloured patch the mask leaked onto, the path seen
    through a wheel; its log-odds fall by up to ``_NEIGHBOUR_WEIGHT`` x ``_SETTLE_DIFFER_CLIP``,
    ``_NEIGHBOUR_SEEN`` of that where its colour is the object's there (a planted foot, a leg
    standing still while the body moves: they match the frames around them too).
    One that differs is raised, a ``_NEIGHBOUR_RAISE`` share of that, times its colour's object
    probability and only within ``_NEIGHBOUR_RAISE_PX`` of the carried mask: it holds thin parts
    and a cast shadow (which flow calls background: it follows the ground's texture), but other
    things move too (a dog jumping past the one followed), so it may not pull the mask away.

    The reading is only as good as the object's motion against its background: an object that
    stands still, or matches its background's colour, does not differ either. So the weight
    follows how much more often the carried mask differs than the ring around it (the share of
    pixels past the threshold, inside less outside): full from ``_NEIGHBOUR_SEPARATION`` +
    ``_NEIGHBOUR_SEPARATION_SPAN``, none below ``_NEIGHBOUR_SEPARATION``.
    """
    known = np.isfinite(distance)
    inside = (d_in > 0) & known
    ring = (d_out > 0) & (d_out <= band) & known
    if not inside.any() or not ring.any():
        return post
    noise = max(float(np.median(distance[ring])), _DIFFER_MIN_NOISE)
    differs = distance > _DIFFER_LOW * noise
    separation = float(np.mean(differs[inside])) - float(np.mean(differs[ring]))
    weight = _NEIGHBOUR_WEIGHT * float(np.clip((separation - _NEIGHBOUR_SEPARATION) / _NEIGHBOUR_SEPARATION_SPAN, 0.0, 1.0))
    if weight <= 0.0:
        return post
    llr = np.where(known, _differing_llr(np.where(known, distance, 0.0), noise), 0.0)
    llr = np.where(llr > 0.0, llr * (_NEIGHBOUR_RAISE * p_colour * (d_out <= _NEIGHBOUR_RAISE_PX)), llr * np.where(seen, _NEIGHBOUR_SEEN, 1.0))
    odds = np.clip(post, 1e-4, 1.0 - 1e-4)
    odds = odds / (1.0 - odds) * np.exp(weight * llr)
    return (odds / (1.0 + odds)).astype(np.float32)


def _colour_codes(frame: np.ndarray, bits: int) -> np.ndarray:
    """HxW int32 colour bin of each pixel, as the colour memory indexes them (in place: a third of the time of int64 temporaries)."""
    q = frame >> np.uint8(8 - bits)
    n = 1 << bits
    codes = q[..., 0].astype(np.int32)
    codes *= n
    codes += q[..., 1]
    codes *= n
    codes += q[..., 2]
    return codes


def _appearance(mem: ColourMemory, frame: np.ndarray, mask: np.ndarray) -> _Appearance:
    """Samples of the prompt frame's object for :func:`_match_scores` (see :class:`_Appearance`)."""
    x0, y0, x1, y1 = mask_box(mask, 0)  # type: ignore[misc]
    ys, xs = np.nonzero(mask)
    keep = np.linspace(0, len(xs) - 1, min(len(xs), _FIND_SAMPLES)).astype(np.int64)
    pts = np.stack([xs[keep], ys[keep]], 1).astype(np.int64)
    ny, nx = mem.confidence.shape
    cx = np.floor((pts[:, 0] - mem.origin[0]) / mem.cell).astype(np.int64)
    cy = np.floor((pts[:, 1] - mem.origin[1]) / mem.cell).astype(np.int64)
    cell = np.where((cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny), cy * nx + cx, ny * nx)  # off the grid: the empty cell
    app = _Appearance(mask[y0:y1, x0:x1].copy(), (x0, y0), pts, cell * (1 << (3 * mem.bits)), _object_log(mem))
    codes = _colour_codes(frame, mem.bits)
    app.memory_self = float(_memory_scores(mem, app, frame, np.array([[1.0, 0.0, 0.0]]))[0])
    app.self_score = float(_match_scores(app, codes, _frame_log_density(codes, mem.bits), np.array([[1.0, 0.0, 0.0]]))[0])
    return app


def _object_log(mem: ColourMemory) -> np.ndarray:
    """Flat log density of the object's colours per memory cell (the empty cell appended), for :func:`_match_scores`.

    Each cell's object counts, with ``_FIND_OBJECT_PRIOR`` (times a typical object cell's
    count) of the object's colours over all cells added: a cell with few samples (along
    the boundary) leans on the object's overall colours.
    """
    ncell = mem.fg.shape[0] * mem.fg.shape[1]
    fg = mem.fg.reshape(ncell, -1).astype(np.float64)
    per_cell = fg.sum(1)
    overall = fg.sum(0) / max(float(per_cell.sum()), 1e-9)
    k = _FIND_OBJECT_PRIOR * max(float(np.median(per_cell[per_cell > 1e-3])) if (per_cell > 1e-3).any() else 1.0, 1e-6)
    dens = (fg + k * overall[None, :]) / (per_cell[:, None] + k)
    dens = np.concatenate([dens, overall[None, :]])  # samples off the grid: the object's overall colours
    return np.log(dens + _FIND_DENSITY_FLOOR).astype(np.float32).reshape(-1)


def _frame_log_density(codes: np.ndarray, bits: int) -> np.ndarray:
    """Log density of a frame's colours in the colour memory's bins (blurred over neighbouring bins)."""
    n = 1 << bits
    hist = np.bincount(codes.ravel(), minlength=n**3).astype(np.float32).reshape(n, n, n)
    for axis in range(3):
        _blur_axis(hist, axis)
    return np.log(hist.reshape(-1) / max(float(hist.sum()), 1.0) + _FIND_DENSITY_FLOOR).astype(np.float32)


def _match_scores(app: _Appearance, codes: np.ndarray, frame_log: np.ndarray, places: np.ndarray, stride: int = 1) -> np.ndarray:
    """Per placement (M x 3: scale, x, y px): how much the frame there looks like the prompt object, against the frame.

    The mean over the object's samples, placed (scaled about the prompt box's centre, then
    moved), of the log ratio of the colour's density on the object at that place (the
    colour memory's cell) to its density over the whole frame (``frame_log``), clipped to
    +-``_FIND_LLR_CLIP``; samples outside the frame count 0. A colour common on the object
    there and rare in the frame scores high, one common everywhere (the background's) low.
    Times the scale squared it is the evidence summed over the placed object's area, which
    compares placements of different scales: a placement too large takes in background
    (negative), one too small leaves object out. ``stride``: score every so many samples.
    """
    cx, cy = app.centre
    pts, base = app.inside[::stride], app.inside_base[::stride]
    dx, dy = pts[:, 0].astype(np.float64) - cx, pts[:, 1].astype(np.float64) - cy
    return match_scores(np.ascontiguousarray(places, np.float64), dx, dy, np.ascontiguousarray(base), codes, app.obj_log, frame_log, float(cx), float(cy), _FIND_LLR_CLIP, _FIND_VISIBLE)


def _match_scores_near(app: _Appearance, frame: np.ndarray, frame_log: np.ndarray, bits: int, place: np.ndarray) -> float:
    """:func:`_match_scores` of one placement (scale, x, y px) on ``frame`` (HxWx3 uint8 RGB), with the frame's
    colour log density ``frame_log`` (:func:`_frame_log_density`), binning colours only over the placed object's box."""
    h, w = frame.shape[:2]
    cx, cy = app.centre
    s, ox, oy = (float(v) for v in place)
    xs = np.rint(cx + s * (app.inside[:, 0] - cx) + ox)
    ys = np.rint(cy + s * (app.inside[:, 1] - cy) + oy)
    x0, y0 = int(np.clip(xs.min(), 0, w)), int(np.clip(ys.min(), 0, h))
    x1, y1 = int(np.clip(xs.max() + 1, 0, w)), int(np.clip(ys.max() + 1, 0, h))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    codes = _colour_codes(frame[y0:y1, x0:x1], bits)  # the crop's samples land where the whole frame's would; those off it are off the frame
    return float(_match_scores(app, codes, frame_log, np.array([[s, ox - x0, oy - y0]]))[0])


def _memory_scores(mem: ColourMemory, app: _Appearance, frame: np.ndarray, places: np.ndarray, *, visible_only: bool = False) -> np.ndarray:
    """Per placement (M x 3: scale, x, y px): the colour memory's log-likelihood ratio (object vs background counts
    of the colour at that place on the object, clipped to +-``_FIND_LLR_CLIP``), averaged over the object's samples;
    samples outside the frame count as background, or, with ``visible_only``, not at all (a placement with none
    scores 0). ``frame``: HxWx3 uint8 RGB, binned only where it is read.

    The memory's background counts include what stood beside the object on the prompt
    frame: a velocity that moves the memory onto an occluder or the background scores low
    (:meth:`ClassicMasks._memory_prefers`); colours it never saw count nothing either way,
    so an object still partly behind an occluder scores on its visible part
    (:meth:`ClassicMasks._restart_at`). ``memory_self`` of :class:`_Appearance` is the prompt frame's own.
    """
    h, w = frame.shape[:2]
    cx, cy = app.centre
    sc = places[:, 0:1]
    pts, base = app.inside, app.inside_base
    x = np.round(cx + sc * (pts[None, :, 0] - cx) + places[:, 1:2]).astype(np.int64)
    y = np.round(cy + sc * (pts[None, :, 1] - cy) + places[:, 2:3]).astype(np.int64)
    in_frame = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    idx = base[None, :] + _colour_codes(frame[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)], mem.bits)
    llr = np.log((mem.fg_flat[idx] + _MEMORY_PSEUDO_COUNT) / (mem.bg_flat[idx] + _MEMORY_PSEUDO_COUNT))
    llr = np.clip(llr, -_FIND_LLR_CLIP, _FIND_LLR_CLIP)
    if visible_only:
        return np.where(in_frame, llr, 0.0).sum(axis=1) / np.maximum(np.count_nonzero(in_frame, axis=1), 1)
    return np.where(in_frame, llr, -_FIND_LLR_CLIP).mean(axis=1)


def _motion_layers(post: np.ndarray, flow: np.ndarray, object_flow: np.ndarray, bg_affine: np.ndarray, unseen: np.ndarray, explained: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``post`` (object probability per work pixel) lowered where an ``unseen`` pixel's flow is the background's;
    and that, also raised where the object's motion explains the pixel better than the background's.

    ``flow``: HxWx2 (work px, this frame -> previous); ``object_flow``: the object's translation
    (x, y, same units); ``bg_affine``: the background's motion (2x3, this frame -> previous). Per
    pixel, the log-likelihood ratio of the flow under the background's motion against the
    object's (Gaussian, spread ``_LAYER_SPREAD`` of the two motions' distance plus 1 px),
    clipped to ``[0, _LAYER_LOGIT]`` (a pixel moving as the object is left to colour), times
    how clearly the two motions differ there (from ``_LAYER_MIN_PX`` to ``_LAYER_FULL_PX``
    more), lowers the pixel's log-odds ``_LAYER_WEIGHT`` times.

    The flow alone does not raise a pixel: a smooth flow field spreads the object's motion onto
    the background next to it and inside its openings. ``explained`` (HxW, the photometric error
    under the background's motion less that under the object's, see ``_motion_prior``) is evidence
    from the pixels themselves: past ``_LAYER_NOISE``, every ``_PHOTO_TEMPERATURE`` of it raises
    an unseen pixel's log-odds as much as the flow lowers it, up to ``_LAYER_RAISE``, times the
    same distinctness. It keeps what moves with the object although the prompt frame never showed
    it there (a side that turns into view, in colours the background has). The step's certainty is
    judged on the first result, without the raise: the raise keeps parts, it does not make the
    boundary surer, so the safeguards and re-detection decide as they would without it.
    """
    wh, ww = post.shape
    gx = np.arange(ww, dtype=np.float32)[None, :]
    gy = np.arange(wh, dtype=np.float32)[:, None]
    bx = bg_affine[0, 0] * gx + bg_affine[0, 1] * gy + (bg_affine[0, 2] - gx)
    by = bg_affine[1, 0] * gx + bg_affine[1, 1] * gy + (bg_affine[1, 2] - gy)
    fx, fy = flow[..., 0], flow[..., 1]
    to_object = (fx - object_flow[0]) ** 2 + (fy - object_flow[1]) ** 2
    to_background = (fx - bx) ** 2 + (fy - by) ** 2
    apart = (bx - object_flow[0]) ** 2 + (by - object_flow[1]) ** 2
    llr = (to_object - to_background) / (2.0 * (_LAYER_SPREAD**2 * apart + 1.0))
    distinct = np.clip((np.sqrt(apart) - _LAYER_MIN_PX) / _LAYER_FULL_PX, 0.0, 1.0)
    weight = _LAYER_WEIGHT * np.where(unseen, distinct, 0.0)
    odds = np.clip(post, 1e-4, 1.0 - 1e-4)
    odds = odds / (1.0 - odds) * np.exp(-weight * np.clip(llr, 0.0, _LAYER_LOGIT))
    lowered = (odds / (1.0 + odds)).astype(np.float32)
    if explained is None:
        return lowered, lowered
    odds = odds * np.exp(weight * np.clip((explained - _LAYER_NOISE) / _PHOTO_TEMPERATURE, 0.0, _LAYER_RAISE))
    return lowered, (odds / (1.0 + odds)).astype(np.float32)


def _with_margin(mask: np.ndarray, margin: int) -> np.ndarray:
    """The mask as returned: grown by the prompt's margin (see ``ClassicMasks._margin``); itself, uncopied, without one."""
    return dilate_mask(mask, margin) if margin else mask


def _open_thin(mask: np.ndarray) -> np.ndarray:
    """``mask`` without strands at most ``2 * _THIN_PX`` work pixels thick.

    A strand along a background edge that runs with the motion (a line the object slides
    along) is explained by every motion hypothesis (the aperture problem) and, carried
    frame after frame, grows into a tail; a morphological opening cuts it. The caller
    keeps thin parts whose colour the prompt frame showed there on the object (a leg, a
    handle): cutting all of them cost 0.03 J&F on the real clips.
    """
    r = _THIN_PX
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0


def _blur_axis(g: np.ndarray, axis: int) -> None:
    """In place: [1 2 1] along ``axis``, zero outside (unnormalised: gain 4 away from the ends)."""
    a = np.moveaxis(g, axis, 0)
    c = a.copy()
    a *= 2.0
    a[1:] += c[:-1]
    a[:-1] += c[1:]


_SUM_RGB = np.ones((1, 3), np.float32)


def _abs_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel sum over RGB of ``|a - b|`` (float32 HxWx3 in, HxW out)."""
    return cv2.transform(cv2.absdiff(a, b), _SUM_RGB)


def _masked_ssd(img: np.ndarray, tpl: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Sum over the template of ``m * |img - tpl|^2`` at every placement (valid mode)."""
    mt = tpl * m[..., None]
    c = cv2.matchTemplate(img, mt, cv2.TM_CCORR)
    e = cv2.matchTemplate((img * img).sum(-1), m, cv2.TM_CCORR)
    return e - 2 * c + float((mt * tpl).sum())


def _subpixel(res: np.ndarray, by: int, bx: int) -> tuple[float, float]:
    """Parabola through the minimum of a cost map and its neighbours: sub-pixel offsets in [-0.5, 0.5]."""

    def one(a: float, b: float, c: float) -> float:
        den = a - 2 * b + c
        return float(np.clip(0.5 * (a - c) / den, -0.5, 0.5)) if den > 1e-9 else 0.0

    h, w = res.shape
    ox = one(res[by, bx - 1], res[by, bx], res[by, bx + 1]) if 0 < bx < w - 1 else 0.0
    oy = one(res[by - 1, bx], res[by, bx], res[by + 1, bx]) if 0 < by < h - 1 else 0.0
    return ox, oy


def _match(cur: np.ndarray, prev: np.ndarray, pm: np.ndarray, pb: tuple[int, int, int, int], guess: np.ndarray) -> tuple[float, float] | None:
    """Translation (work px, x, y) of the previous object (``prev`` under mask ``pm``, box ``pb``) in ``cur``.

    ``guess``: the dense flow's estimate of that translation (work px); it is kept unless
    the best match costs less than ``_MATCH_MARGIN`` times what it costs.

    Coarse to fine: the whole window searched with the object shrunk to ``_MATCH_PX``
    across, then refined at work resolution within one coarse pixel, then to a sub-pixel
    peak (a drift of half a pixel per frame adds up over a clip).
    """
    wh, ww = pm.shape
    x0, y0, x1, y1 = max(0, pb[0]), max(0, pb[1]), min(ww, pb[2]), min(wh, pb[3])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    c = max(1.0, max(x1 - x0, y1 - y0) / _MATCH_PX)
    if c > 1:
        cs = (max(4, int(round(ww / c))), max(4, int(round(wh / c))))
        curc = cv2.resize(cur, cs, interpolation=cv2.INTER_AREA)
        prevc = cv2.resize(prev, cs, interpolation=cv2.INTER_AREA)
        pmc = cv2.resize(pm, cs, interpolation=cv2.INTER_AREA)
        fx, fy = ww / cs[0], wh / cs[1]
    else:
        curc, prevc, pmc, fx, fy = cur, prev, pm, 1.0, 1.0
    cx0, cy0 = int(x0 / fx), int(y0 / fy)
    cx1 = min(max(cx0 + 2, int(np.ceil(x1 / fx))), curc.shape[1])
    cy1 = min(max(cy0 + 2, int(np.ceil(y1 / fy))), curc.shape[0])
    tm = np.ascontiguousarray(pmc[cy0:cy1, cx0:cx1])
    if tm.sum() < 1:
        return None
    res = _masked_ssd(curc, np.ascontiguousarray(prevc[cy0:cy1, cx0:cx1]), tm)
    j = int(np.argmin(res))
    by, bx = divmod(j, res.shape[1])
    # the flow's own estimate stands unless the match is clearly better: a periodic texture or a
    # partly occluded object can match somewhere else almost as well
    gy, gx = int(round(cy0 + guess[1] / fy)), int(round(cx0 + guess[0] / fx))
    if 0 <= gy < res.shape[0] and 0 <= gx < res.shape[1] and res[by, bx] > _MATCH_MARGIN * res[gy, gx]:
        by, bx = gy, gx
    dx, dy = (bx - cx0) * fx, (by - cy0) * fy
    if c <= 1:
        ox, oy = _subpixel(res, by, bx)
        return float(dx + ox), float(dy + oy)
    # refine at work resolution, within one coarse pixel
    r = int(np.ceil(max(fx, fy)))
    ix, iy = int(round(dx)), int(round(dy))
    sx0, sy0, sx1, sy1 = x0 + ix - r, y0 + iy - r, x1 + ix + r, y1 + iy + r
    ox0, oy0, ox1, oy1 = max(0, sx0), max(0, sy0), min(ww, sx1), min(wh, sy1)
    tx0, ty0 = x0 + (ox0 - sx0), y0 + (oy0 - sy0)
    tx1, ty1 = x1 - (sx1 - ox1), y1 - (sy1 - oy1)
    if tx1 - tx0 < 2 or ty1 - ty0 < 2:
        return float(dx), float(dy)
    tm2 = np.ascontiguousarray(pm[ty0:ty1, tx0:tx1])
    if tm2.sum() < 1:
        return float(dx), float(dy)
    res2 = _masked_ssd(np.ascontiguousarray(cur[oy0:oy1, ox0:ox1]), np.ascontiguousarray(prev[ty0:ty1, tx0:tx1]), tm2)
    j = int(np.argmin(res2))
    by, bx = divmod(j, res2.shape[1])
    ox, oy = _subpixel(res2, by, bx)
    return float(ox0 + bx - tx0 + ox), float(oy0 + by - ty0 + oy)


def _fit_affine(sel: np.ndarray, flow: np.ndarray, n: int = _AFFINE_SAMPLES) -> np.ndarray | None:
    """Affine map (2x3, current -> previous, work px) fitted robustly to the flow at the selected pixels.

    Least squares reweighted three times with Tukey's biweight (scale from the median
    residual): deterministic, unlike RANSAC, so a resumed run reproduces its masks.
    """
    k = max(1, int(np.sqrt(sel.size / (4 * n))))  # a regular grid of about 4n candidates
    ys, xs = np.nonzero(sel[::k, ::k])
    ys, xs = ys * k, xs * k
    if len(xs) < 12:
        return None
    if len(xs) > n:
        pick = np.linspace(0, len(xs) - 1, n).astype(np.int64)
        xs, ys = xs[pick], ys[pick]
    f = flow[ys, xs]
    a = np.stack([xs, ys, np.ones_like(xs)], 1).astype(np.float64)
    dst = np.stack([xs + f[:, 0], ys + f[:, 1]], 1).astype(np.float64)
    wts = np.ones(len(xs))
    for _ in range(3):
        sw = np.sqrt(wts)[:, None]
        sol, *_ = np.linalg.lstsq(a * sw, dst * sw, rcond=None)
        res = np.linalg.norm(a @ sol - dst, axis=1)
        scale = max(0.5, 4.685 * 1.4826 * float(np.median(res)))
        wts = np.clip(1.0 - (res / scale) ** 2, 0.0, None) ** 2
        if wts.sum() < 6:
            return None
    if np.count_nonzero(res < 1.0) < 0.3 * len(xs):
        return None  # no common motion: an articulated or non-rigid part
    return sol.T.astype(np.float32)


def _box_fit(mask: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """IoU of ``mask``'s bounding box with ``box`` (a user draws a box tight around the object)."""
    b = mask_box(mask, 0)
    if b is None:
        return 0.0
    ix = max(0, min(b[2], box[2]) - max(b[0], box[0]))
    iy = max(0, min(b[3], box[3]) - max(b[1], box[1]))
    inter = ix * iy
    union = (b[2] - b[0]) * (b[3] - b[1]) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return inter / union if union else 0.0


def _point_seeds(points: list[tuple[float, float]], hw: tuple[int, int]) -> np.ndarray:
    seeds = np.zeros(hw, np.uint8)
    r = max(2, int(round(_POINT_SEED * min(hw))))
    for x, y in points:
        cv2.circle(seeds, (int(round(x)), int(round(y))), r, 1, -1)
    return seeds > 0


def _run_grabcut(frame: np.ndarray, region: tuple[int, int, int, int], labels: np.ndarray, scale: float) -> np.ndarray:
    """GrabCut on ``frame[region]`` (resampled by ``scale``) from initial ``labels`` (GC_* codes, work size); full-frame bool."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = region
    crop = frame[y0:y1, x0:x1]
    if scale < 1:
        crop = cv2.resize(crop, (labels.shape[1], labels.shape[0]), interpolation=cv2.INTER_AREA)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut initialises its colour models with k-means: same prompt, same mask
    try:
        cv2.grabCut(np.ascontiguousarray(crop[..., ::-1]), labels, None, bgd, fgd, _GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        pass  # degenerate colour statistics (e.g. a flat region): keep the seeds as they are
    sub = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.float32)
    if scale < 1:
        sub = cv2.resize(sub, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = sub > 0.5
    return out


def _work_region(frame: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[tuple[int, int, int, int], float, tuple[int, int]]:
    h, w = frame.shape[:2]
    region = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
    rw, rh = region[2] - region[0], region[3] - region[1]
    scale = min(1.0, float(np.sqrt(_GRABCUT_WORK_PIXELS / max(1, rw * rh))))
    return region, scale, (max(2, int(round(rw * scale))), max(2, int(round(rh * scale))))


def _moving_in_box(motion: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """Pixels of ``box`` (HxW bool) that move clearly unlike the background around it; None when motion tells nothing.

    The background's motion is the median over a ring around the box; a pixel moves
    unlike it by more than half the box's 90th percentile of that difference (and
    ``_MOTION_MIN_PX``). Motion tells the object apart only when the pixels so split
    differ by ``_MOTION_CONTRAST`` times (median against median + 1 px) and neither
    part is a sliver of the box.
    """
    h, w = motion.shape[:2]
    x0, y0, x1, y1 = box
    m = int(_MOTION_RING * max(x1 - x0, y1 - y0)) + 2
    around = np.zeros((h, w), bool)
    around[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m] = True
    around[y0:y1, x0:x1] = False
    if not around.any():
        return None  # the box is the whole frame: nothing around it to compare with
    background = np.median(motion[around], axis=0)
    differs = np.linalg.norm(motion[y0:y1, x0:x1] - background, axis=2)
    split = max(_MOTION_MIN_PX, 0.5 * float(np.percentile(differs, 90)))
    moving = differs > split
    share = float(moving.mean())
    if not _MOTION_MIN_SHARE <= share <= 1.0 - _MOTION_MIN_SHARE:
        return None
    if np.median(differs[moving]) < _MOTION_CONTRAST * (np.median(differs[~moving]) + 1.0):
        return None
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = moving
    return out


def _grabcut(frame: np.ndarray, box: tuple[int, int, int, int], points, *, core: bool, moving: np.ndarray | None = None) -> np.ndarray:
    """GrabCut from a box (exclusive XYXY) in its neighbourhood; ``core`` seeds the box's central ellipse as object;
    ``moving`` (HxW bool) labels the box's moving pixels probable object and the others probable background."""
    bx0, by0, bx1, by1 = box
    m = int(_GRABCUT_MARGIN * max(bx1 - bx0, by1 - by0)) + 4
    region, s, (ww, wh) = _work_region(frame, bx0 - m, by0 - m, bx1 + m, by1 + m)
    labels = np.full((wh, ww), cv2.GC_BGD, np.uint8)

    def to_work(x: float, y: float) -> tuple[int, int]:
        return int(round((x - region[0]) * s)), int(round((y - region[1]) * s))

    (ax, ay), (bx, by) = to_work(bx0, by0), to_work(bx1, by1)
    labels[ay : max(ay + 1, by), ax : max(ax + 1, bx)] = cv2.GC_PR_FGD
    if moving is not None:
        still = cv2.resize(moving[region[1] : region[3], region[0] : region[2]].astype(np.uint8), (ww, wh), interpolation=cv2.INTER_NEAREST) == 0
        labels[(labels == cv2.GC_PR_FGD) & still] = cv2.GC_PR_BGD
    if core:
        cv2.ellipse(labels, ((ax + bx) // 2, (ay + by) // 2), (max(1, int(_GRABCUT_CORE * (bx - ax))), max(1, int(_GRABCUT_CORE * (by - ay)))), 0, 0, 360, cv2.GC_FGD, -1)
    r = max(1, int(round(_POINT_SEED * min(frame.shape[:2]) * s)))
    for x, y, label in points:
        cv2.circle(labels, to_work(x, y), r, cv2.GC_FGD if label == 1 else cv2.GC_BGD, -1)
    return _run_grabcut(frame, region, labels, s)


def _grabcut_points(frame: np.ndarray, points) -> np.ndarray:
    """GrabCut from points alone: a candidate disc around each positive point, sure discs at every point."""
    h, w = frame.shape[:2]
    pos = [(x, y) for x, y, label in points if label == 1]
    rad = _POINT_REGION * min(h, w)
    xs, ys = [p[0] for p in pos], [p[1] for p in pos]
    region, s, (ww, wh) = _work_region(frame, int(min(xs) - 2 * rad), int(min(ys) - 2 * rad), int(max(xs) + 2 * rad) + 1, int(max(ys) + 2 * rad) + 1)
    labels = np.full((wh, ww), cv2.GC_BGD, np.uint8)

    def to_work(x: float, y: float) -> tuple[int, int]:
        return int(round((x - region[0]) * s)), int(round((y - region[1]) * s))

    for x, y in pos:
        cv2.circle(labels, to_work(x, y), max(1, int(rad * s)), cv2.GC_PR_FGD, -1)
    r = max(1, int(round(_POINT_SEED * min(h, w) * s)))
    for x, y, label in points:
        cv2.circle(labels, to_work(x, y), r, cv2.GC_FGD if label == 1 else cv2.GC_BGD, -1)
    return _run_grabcut(frame, region, labels, s)
