"""SAM-propagated masks: Segment Anything (Kirillov et al., ICCV 2023) re-prompted on every
frame from the flow-carried previous mask (``--set masks.backend=sam``, needs
``glassvid[models]`` and a local ``sam_vit_*.pth``).

SAM segments one image from prompts; it has no memory. To follow an object through a
clip, each frame is prompted with what the previous frame's result says about it:
the previous binary mask and SAM's own low-resolution mask logits are carried to the
current frame by optical flow (:func:`glassvid.flow.ops.warp`), then SAM gets the
carried mask's bounding box, the carried logits as ``mask_input`` (the refinement
input SAM was trained with: its own logits of a previous round) and, optionally, a
positive point at the carried mask's deepest interior pixel, with
``multimask_output=False`` (the prompt is not ambiguous). Confidence is SAM's predicted
IoU (clipped to [0, 1]) times the IoU of SAM's mask with the carried mask: low when
SAM doubts its mask or when it disagrees with where the flow says the object is.

Cost: the image embedding (``SamPredictor.set_image``) is the expensive part (vit_b:
20+ s per 854x480 frame on a 2-core CPU, then 0.17 s per prompt; MACHINE-NOTES). It
is computed on every frame by default. ``masks.sam_keyframe_interval = N`` embeds only
every N-th frame and reuses the last embedding, with the current frame's carried
prompts, in between; ``masks.sam_reembed_below_confidence`` re-embeds a frame in
between whose confidence falls below it. Reusing an embedding means SAM sees an older
image than the one the prompts describe: this trades accuracy for speed and is only
sound while the object moves little between keyframes.

Convention: frames are HxWx3 uint8 RGB; masks HxW bool (True = object); flow as in
:mod:`glassvid.flow.ops` (``flow_to_prev`` maps a pixel of the current frame to the
previous one). Boxes here are XYXY pixels with an exclusive end (:mod:`glassvid.prompts`);
SAM's box corners are the first and last pixel *inside* the box (it adds half a pixel to
reach their centres, ``PromptEncoder._embed_boxes``), so ``x1, y1`` lose one on the way.
Points name a pixel and pass unchanged. SAM's low-res logits live in its padded input
frame: the frame resized so its long side is ``img_size`` (``ResizeLongestSide``),
padded right/bottom to ``img_size`` square, then shrunk to ``mask_input_size``
(``img_size / 4``); logit > 0 = object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

import cv2
import numpy as np

from glassvid.config import MaskConfig, RuntimeConfig
from glassvid.errors import BackendError, ConfigError, InputError, PromptError
from glassvid.flow.ops import warp
from glassvid.masks.matte import mask_box
from glassvid.models import import_torch, load_state_dict, require_checkpoint, resolve_device, state_dict_misfit
from glassvid.prompts import Prompt

if TYPE_CHECKING:
    from segment_anything import SamPredictor
    from segment_anything.modeling import Sam

log = logging.getLogger(__name__)

OFFICIAL_CHECKPOINTS: dict[str, str] = {
    "vit_b": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
    "vit_l": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
    "vit_h": "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
}
"""Where Meta publishes the weights of each variant (segment-anything README)."""

_ENCODER_WIDTHS = {768: "vit_b", 1024: "vit_l", 1280: "vit_h"}
"""Width of ``image_encoder.patch_embed.proj`` -> variant, to say which one a checkpoint is."""

_MASK_LOGIT = 10.0
"""Logit magnitude given to a binary mask turned into SAM's ``mask_input`` (object +10,
background -10): confidently on one side of SAM's threshold (0), as SAM's own logits are
away from the object's edge, without saturating its mask-embedding convolutions."""


def _official() -> str:
    return ", ".join(f"{name} {url}" for name, url in OFFICIAL_CHECKPOINTS.items())


def _require_segment_anything() -> Any:
    try:
        import segment_anything
    except ImportError:
        raise BackendError("the SAM mask backend needs segment-anything: pip install 'glassvid[models]' (or use masks.backend=classic, the default)") from None
    return segment_anything


def _official_builder(name: str) -> Callable[[], "Sam"]:
    def build() -> "Sam":
        from segment_anything.build_sam import sam_model_registry

        # checkpoint=None: segment_anything's own loading is a bare torch.load (runs
        # pickles, fails on CPU-only machines for CUDA-saved files); weights are loaded
        # by SamMasks.from_config through glassvid.models.load_state_dict instead.
        return sam_model_registry[name](checkpoint=None)

    return build


SAM_ARCHITECTURES: dict[str, Callable[[], "Sam"]] = {name: _official_builder(name) for name in OFFICIAL_CHECKPOINTS}
"""``masks.model`` -> builder of that SAM architecture with random weights (in the style of
``segment_anything.sam_model_registry``). Tests register tiny architectures here."""


# ------------------------------------------------------------------------------ pure helpers


def sam_box(box: tuple[float, float, float, float]) -> np.ndarray:
    """A box XYXY with exclusive end -> SAM's box (first and last pixel inside), float32 (4,)."""
    x0, y0, x1, y1 = box
    return np.array([x0, y0, x1 - 1, y1 - 1], np.float32)


def deepest_point(mask: np.ndarray) -> tuple[int, int]:
    """``(x, y)`` of the pixel of ``mask`` (HxW bool, not empty) farthest from its boundary."""
    # Pad so the frame's edge does not count as the object's boundary's absence:
    # an object cut by the edge still has its deepest point inside the visible part.
    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two HxW bool masks; 0 when both are empty."""
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0


@dataclass(frozen=True)
class LowResGeometry:
    """Where a frame lies in SAM's low-res logit grid (see the module docstring)."""

    frame_size: tuple[int, int]  # (H, W) of the frame
    input_size: tuple[int, int]  # (H, W) after ResizeLongestSide
    img_size: int  # side of the padded square SAM's encoder sees
    grid_size: tuple[int, int]  # (H, W) of the low-res logits (mask_input_size)

    @classmethod
    def of(cls, sam: "Sam", h: int, w: int) -> "LowResGeometry":
        from segment_anything.utils.transforms import ResizeLongestSide

        img_size = int(sam.image_encoder.img_size)
        ih, iw = ResizeLongestSide.get_preprocess_shape(h, w, img_size)
        gh, gw = (int(v) for v in sam.prompt_encoder.mask_input_size)
        return cls(frame_size=(h, w), input_size=(int(ih), int(iw)), img_size=img_size, grid_size=(gh, gw))

    def to_grid(self, image: np.ndarray) -> np.ndarray:
        """HxW or HxWxC float32 at frame size -> the same quantity on the low-res grid.

        As SAM transforms the image: resize to ``input_size``, pad with 0 right and bottom to
        ``img_size`` square, then area-average down to ``grid_size`` (an integer factor).
        """
        ih, iw = self.input_size
        h, w = self.frame_size
        interp = cv2.INTER_AREA if ih <= h else cv2.INTER_LINEAR
        x = cv2.resize(image.astype(np.float32), (iw, ih), interpolation=interp)
        pad = ((0, self.img_size - ih), (0, self.img_size - iw)) + ((0, 0),) * (x.ndim - 2)
        x = np.pad(x, pad)
        gh, gw = self.grid_size
        return cv2.resize(x, (gw, gh), interpolation=cv2.INTER_AREA)

    def valid(self) -> np.ndarray:
        """Low-res pixels that lie (mostly) on the frame rather than on the padding: HxW bool."""
        return self.to_grid(np.ones(self.frame_size, np.float32)) > 0.5

    def flow_to_grid(self, flow: np.ndarray) -> np.ndarray:
        """A frame-size flow (pixels) -> the low-res grid, vectors in low-res pixels; 0 on the padding."""
        g = self.to_grid(flow)
        h, w = self.frame_size
        ih, iw = self.input_size
        g[..., 0] *= (iw / w) * (self.grid_size[1] / self.img_size)
        g[..., 1] *= (ih / h) * (self.grid_size[0] / self.img_size)
        return g

    def mask_to_logits(self, mask: np.ndarray) -> np.ndarray:
        """HxW bool mask -> 1 x grid_h x grid_w float32 logits (+-``_MASK_LOGIT``, edges in between)."""
        p = self.to_grid(mask.astype(np.float32))
        logits = (2.0 * p - 1.0) * _MASK_LOGIT
        logits[~self.valid()] = -_MASK_LOGIT
        return logits[None].astype(np.float32)

    def carry_logits(self, logits: np.ndarray, flow_to_prev: np.ndarray) -> np.ndarray:
        """Previous frame's 1 x gh x gw logits carried to the current frame by ``flow_to_prev``.

        Whatever comes from outside the frame (the padding, beyond the grid) is background.
        """
        valid = self.valid()
        background = -_MASK_LOGIT
        prev = np.where(valid, logits[0], background).astype(np.float32)
        # warp's constant border is 0: shift so that 0 means background, then shift back.
        moved = warp(prev - background, self.flow_to_grid(flow_to_prev), border=cv2.BORDER_CONSTANT) + background
        return np.where(valid, moved, background)[None].astype(np.float32)


# ------------------------------------------------------------------------------ state


@dataclass
class SamEmbedding:
    """One frame's image embedding as ``SamPredictor`` holds it, so it can be put back."""

    features: Any  # torch.Tensor 1 x C x h x w on the model's device
    input_size: tuple[int, int]
    original_size: tuple[int, int]


@dataclass
class SamState:
    """Per-direction state: the previous frame's result and the embedding last computed."""

    mask: np.ndarray  # HxW bool, previous frame
    logits: np.ndarray  # 1 x gh x gw float32, SAM's low-res logits of ``mask`` (see module docstring)
    embedding: SamEmbedding | None = None  # last embedding computed in this direction
    embedding_age: int = 0  # frames between the embedded frame and the previous frame


@dataclass
class _Initial:
    """What initial_mask learned on the prompt frame, for start() on that same frame."""

    frame: np.ndarray
    mask: np.ndarray
    logits: np.ndarray
    embedding: SamEmbedding


# ------------------------------------------------------------------------------ backend


class SamMasks:
    """SAM-propagated masks (see module docstring).

    ``sam``: a ``segment_anything.modeling.Sam`` (any size; tests pass a tiny random one).
    ``cfg``: the ``masks`` settings (``sam_keyframe_interval``, ``sam_reembed_below_confidence``,
    ``sam_interior_point``). ``device``: where to run (torch device or name); None keeps
    the model where it is. ``predictor``: the ``SamPredictor`` around ``sam`` to use
    (default: a new one); tests pass a subclass that records its calls.
    """

    uses_clip_hints = False  # SAM tells the object from a box by itself: the pipeline need not read the clip for it

    def __init__(self, *, sam: "Sam", cfg: MaskConfig, device: Any = None, predictor: "SamPredictor | None" = None) -> None:
        import_torch("the SAM mask backend")
        sa = _require_segment_anything()
        if cfg.sam_keyframe_interval < 1:
            raise ConfigError(f"masks.sam_keyframe_interval must be >= 1 frame, got {cfg.sam_keyframe_interval}")
        if device is not None:
            sam = sam.to(device)
        self.sam = sam.eval()
        if predictor is None:
            predictor = sa.SamPredictor(self.sam)
        elif predictor.model is not self.sam:
            raise BackendError("SamMasks: the predictor given wraps another model than `sam`; build it as SamPredictor(sam)")
        self.predictor = predictor
        self.cfg = cfg
        self._initial: _Initial | None = None

    @classmethod
    def from_config(cls, cfg: MaskConfig, runtime: RuntimeConfig | None = None) -> "SamMasks":
        """SAM ``cfg.model`` with weights from the local file ``cfg.checkpoint`` (never downloaded)."""
        import_torch("the SAM mask backend")
        _require_segment_anything()
        if cfg.model not in SAM_ARCHITECTURES:
            raise ConfigError(f"masks.model='{cfg.model}' is not a SAM variant; known: {', '.join(sorted(SAM_ARCHITECTURES))}")
        path = require_checkpoint(cfg.checkpoint, what=f"the SAM mask backend ({cfg.model})", setting="masks.checkpoint", official=_official())
        device = resolve_device(runtime)
        state = load_state_dict(path)
        sam = SAM_ARCHITECTURES[cfg.model]()
        _check_fits(sam, state, path=str(path), model=cfg.model)
        sam.load_state_dict(state, strict=True)
        return cls(sam=sam, cfg=cfg, device=device)

    # -- prompt -> first mask ---------------------------------------------------------------
    def initial_mask(self, frame: np.ndarray, prompt: Prompt, motion: np.ndarray | None = None, difference: np.ndarray | None = None, behind: np.ndarray | None = None) -> np.ndarray:
        """The object's mask on the prompt frame: HxW bool of ``frame``'s size (``motion``,
        ``difference`` and ``behind`` are not needed: SAM tells the object from a box or points by itself).

        A mask prompt is returned as it is: it is the user's exact answer, and SAM takes a
        mask only as ``mask_input``, a refinement input trained on its own logits from a
        previous round, not as a prompt standing alone. Otherwise SAM is prompted with the
        box and points; a single point (no box) is ambiguous (a part or the whole?), so SAM
        gives three masks and the one with the highest predicted IoU is kept (as SAM's
        authors advise in ``SamPredictor.predict``).
        """
        _check_frame(frame)
        h, w = frame.shape[:2]
        if prompt.mask is not None:
            if prompt.mask.shape[:2] != (h, w):
                mh, mw = prompt.mask.shape[:2]
                raise PromptError(f"--mask is {mw}x{mh} but the frame is {w}x{h}; give a mask of the clip's size")
            return prompt.mask.astype(bool)
        box = prompt.clipped_box(w, h)
        if box is None and not prompt.points:
            raise PromptError("no prompt given: say which object to turn into glass with --box X0,Y0,X1,Y1, --point X,Y or --mask PNG")
        if box is not None and (box[2] <= box[0] or box[3] <= box[1]):
            raise PromptError(f"--box {prompt.box} has no area inside the {w}x{h} frame; give X0,Y0,X1,Y1 with X1 > X0 and Y1 > Y0 inside it")
        coords = labels = None
        if prompt.points:
            coords = np.array([(x, y) for x, y, _ in prompt.points], np.float32)
            labels = np.array([label for _, _, label in prompt.points], np.int64)
        ambiguous = box is None and len(prompt.points) == 1
        embedding = self._embed(frame)
        masks, ious, logits = self.predictor.predict(
            point_coords=coords,
            point_labels=labels,
            box=None if box is None else sam_box(box),
            multimask_output=ambiguous,
        )
        best = int(np.argmax(ious))
        mask = np.asarray(masks[best], bool)
        if not mask.any():
            raise PromptError("the prompt selects no object on its frame; draw the box tighter around the object or give --mask")
        self._initial = _Initial(frame=frame.copy(), mask=mask, logits=logits[best : best + 1].astype(np.float32), embedding=embedding)
        return mask

    # -- propagation ------------------------------------------------------------------------
    def start(self, frame: np.ndarray, mask: np.ndarray) -> SamState:
        """State seeded with ``frame`` (HxWx3 uint8) and its ``mask`` (HxW bool).

        If ``initial_mask`` just produced this mask on this frame, SAM's own logits and the
        embedding are kept; otherwise the mask becomes binary logits (``+-_MASK_LOGIT``) and
        nothing is embedded until the first step.
        """
        _check_frame(frame)
        mask = np.asarray(mask, bool)
        if mask.shape != frame.shape[:2]:
            raise InputError(f"SAM masks: the mask is {mask.shape[1]}x{mask.shape[0]} but the frame is {frame.shape[1]}x{frame.shape[0]}")
        init = self._initial
        if init is not None and init.mask.shape == mask.shape and np.array_equal(init.mask, mask) and np.array_equal(init.frame, frame):
            return SamState(mask=mask.copy(), logits=init.logits.copy(), embedding=init.embedding, embedding_age=0)
        geometry = LowResGeometry.of(self.sam, *mask.shape)
        return SamState(mask=mask.copy(), logits=geometry.mask_to_logits(mask))

    def step(self, state: SamState, frame: np.ndarray, flow_to_prev: np.ndarray, valid: np.ndarray | None = None, neighbours: Any = None) -> tuple[np.ndarray, float]:
        """Mask of ``frame`` (HxW bool) and its confidence in [0, 1]; updates ``state`` in place.
        ``neighbours`` is not used (``uses_clip_hints`` is False: SAM judges from the image).

        ``valid`` (HxW bool, optional): where ``flow_to_prev`` passed the forward-backward
        check. Pixels failing it were hidden in the previous frame (mostly background the
        object just uncovered), so, as in the classic backend, the carried mask drops them
        and the carried logits there are capped at 0 (undecided: SAM judges from the image).

        1. carry the previous mask and logits to this frame by ``flow_to_prev`` (HxWx2);
        2. an empty carried mask: the object left or vanished -> empty mask, confidence 0;
        3. embed this frame, or reuse the last embedding between keyframes;
        4. SAM with the carried box, logits and (optionally) deepest interior point;
        5. between keyframes, re-embed and redo 4 if the confidence is too low.
        """
        _check_frame(frame)
        h, w = frame.shape[:2]
        if flow_to_prev.shape != (h, w, 2):
            raise InputError(f"SAM masks: flow_to_prev must be {h}x{w}x2 (the frame's size), got {flow_to_prev.shape}")
        if state.mask.shape != (h, w):
            raise InputError(f"SAM masks: the state holds a {state.mask.shape[1]}x{state.mask.shape[0]} mask but the frame is {w}x{h}")
        if valid is not None and valid.shape != (h, w):
            raise InputError(f"SAM masks: valid must be {h}x{w} (the frame's size), got {valid.shape}")
        # 1. carry
        flow = flow_to_prev.astype(np.float32)
        carried = warp(state.mask.astype(np.float32), flow, border=cv2.BORDER_CONSTANT) > 0.5
        geometry = LowResGeometry.of(self.sam, h, w)
        carried_logits = geometry.carry_logits(state.logits, flow)
        if valid is not None:
            carried &= valid
            disoccluded = geometry.to_grid(valid.astype(np.float32)) < 0.5
            carried_logits[0] = np.where(disoccluded, np.minimum(carried_logits[0], 0.0), carried_logits[0])
        state.embedding_age += 1
        # 2. vanished
        box = mask_box(carried, 0)
        if box is None:
            state.mask = carried
            state.logits = np.full_like(state.logits, -_MASK_LOGIT)
            return carried, 0.0
        # 3. embedding
        interval = self.cfg.sam_keyframe_interval
        reused = state.embedding is not None and state.embedding_age < interval
        if reused:
            self._use(state.embedding)  # type: ignore[arg-type]
        else:
            state.embedding = self._embed(frame)
            state.embedding_age = 0
        # 4. SAM
        point = deepest_point(carried) if self.cfg.sam_interior_point else None
        mask, confidence, logits = self._predict(carried, carried_logits, box, point)
        # 5. low confidence on a reused embedding: pay for this frame's own
        if reused and confidence < self.cfg.sam_reembed_below_confidence:
            log.debug("SAM: confidence %.2f below %.2f on a reused embedding; re-embedding", confidence, self.cfg.sam_reembed_below_confidence)
            state.embedding = self._embed(frame)
            state.embedding_age = 0
            mask, confidence, logits = self._predict(carried, carried_logits, box, point)
        state.mask = mask
        state.logits = logits
        return mask, confidence

    def turn(self, state: SamState) -> SamState:
        """A copy of ``state`` for stepping the other way from its frame (SAM's state has no direction in it)."""
        return replace(state)

    # -- helpers ----------------------------------------------------------------------------
    def _embed(self, frame: np.ndarray) -> SamEmbedding:
        """The expensive part: SAM's image encoder on ``frame``."""
        self.predictor.set_image(frame, image_format="RGB")
        p = self.predictor
        return SamEmbedding(features=p.features, input_size=tuple(p.input_size), original_size=tuple(p.original_size))  # type: ignore[arg-type]

    def _use(self, embedding: SamEmbedding) -> None:
        """Put a stored embedding back into the predictor (it holds one image at a time)."""
        p = self.predictor
        if p.is_image_set and p.features is embedding.features:
            return
        p.features = embedding.features
        p.input_size = embedding.input_size
        p.original_size = embedding.original_size
        p.is_image_set = True

    def _predict(
        self, carried: np.ndarray, carried_logits: np.ndarray, box: tuple[int, int, int, int], point: tuple[int, int] | None
    ) -> tuple[np.ndarray, float, np.ndarray]:
        """SAM on the current embedding with the carried prompts -> (mask, confidence, logits)."""
        coords = labels = None
        if point is not None:
            coords = np.array([point], np.float32)
            labels = np.array([1], np.int64)
        masks, ious, logits = self.predictor.predict(
            point_coords=coords,
            point_labels=labels,
            box=sam_box(box),
            mask_input=carried_logits,
            multimask_output=False,
        )
        mask = np.asarray(masks[0], bool)
        confidence = float(np.clip(ious[0], 0.0, 1.0)) * mask_iou(mask, carried)
        return mask, confidence, logits[:1].astype(np.float32)


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InputError(f"SAM masks need HxWx3 uint8 RGB frames; got {got}")


def _check_fits(sam: "Sam", state: dict[str, Any], *, path: str, model: str) -> None:
    """Raise a :class:`BackendError` naming the file and model if ``state`` is not this architecture's."""
    misfit = state_dict_misfit(sam.state_dict(), state)
    if not misfit:
        return
    official = OFFICIAL_CHECKPOINTS.get(model) or _official()
    fix = f"point masks.checkpoint at a SAM {model} checkpoint ({official}) or set masks.model to the checkpoint's variant"
    patch = state.get("image_encoder.patch_embed.proj.weight")
    variant = _ENCODER_WIDTHS.get(int(patch.shape[0])) if patch is not None and patch.ndim == 4 else None
    if variant is not None and variant != model:
        fix = f"it looks like a {variant} checkpoint: set masks.model={variant}, or point masks.checkpoint at a SAM {model} checkpoint ({official})"
    raise BackendError(f"checkpoint '{path}' does not fit SAM {model} ({misfit}); {fix}")
