"""Stable Diffusion inpainting for background no frame ever shows (``plate.inpaint=sd``).

The plate pass runs this on keyframes only and carries the result along the flow to
the frames between (``per_keyframe``), so what it invents stays put over time.

Convention: images are HxWx3 uint8 RGB; ``unknown`` is HxW bool, True where the
pixel must be invented; boxes are ``(x0, y0, x1, y1)`` in pixels, x right, y down,
``x1``/``y1`` exclusive.

Per call (:meth:`SDInpainter.__call__`):

1. crop a context box around the unknown region (square where the frame allows,
   at least ``sd_resolution`` px so the model works near its training scale);
2. resize it to the model's size (``sd_resolution``, multiples of 8), with a mask
   that covers every model pixel touching the unknown region, so no pixel of the
   object reaches the model;
3. run the pipeline (prompt, steps, guidance, a generator seeded from ``seed``);
4. resize back, match the colours of the result to the input on a ring of known
   pixels around the hole (few steps drift in colour);
5. paste only the unknown pixels, feathered over ``sd_feather_px`` inside the hole
   from a smooth extension of the known surroundings to the generated pixels.
   Known pixels come back bit-exact.

Weights are never downloaded: ``plate.checkpoint`` is a local diffusers folder or a
single ``.safetensors``/``.ckpt`` file (which also needs the model's config folder,
``plate.sd_config``; see :func:`load_inpaint_pipeline`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from glassvid.config import PlateConfig, RuntimeConfig
from glassvid.errors import BackendError, ConfigError, InputError
from glassvid.models import import_torch, require_checkpoint, resolve_device

log = logging.getLogger(__name__)

OFFICIAL_WEIGHTS = (
    "diffusers folders at https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-inpainting "
    "or https://huggingface.co/stabilityai/stable-diffusion-2-inpainting, "
    "fetched once with e.g. `hf download stable-diffusion-v1-5/stable-diffusion-inpainting --local-dir DIR`"
)
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
# What from_single_file reads besides the weights; weights in this folder are not needed.
CONFIG_FILES = (
    "model_index.json, scheduler/scheduler_config.json, tokenizer/ (vocab.json + merges.txt, or tokenizer.json), "
    "text_encoder/config.json, unet/config.json, vae/config.json"
)
# A latent pixel covers 8x8 image pixels in SD's VAE; the pipeline requires sizes in multiples of it.
SIZE_MULTIPLE = 8
# Colour matching corrects drift, not content: a gain beyond this means the ring's
# statistics are unreliable (a flat ring, a tiny ring), not that the model drifted 2x.
MAX_COLOUR_GAIN = 2.0
_EPS = 1e-6


# -- pure functions --------------------------------------------------------------------------


def context_box(unknown: np.ndarray, *, context: float, min_side: int) -> tuple[int, int, int, int]:
    """The box the model sees: the unknown region's bounding box grown by ``context``.

    Square of side ``max(box side * (1 + 2 * context), min_side)`` centred on the
    region, shifted to stay inside the frame; clipped to the frame where it is larger.
    Always contains every unknown pixel. ``unknown`` HxW bool with at least one True.
    """
    h, w = unknown.shape
    ys, xs = np.nonzero(unknown)
    bx0, bx1, by0, by1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    side = max(int(np.ceil(max(bx1 - bx0, by1 - by0) * (1.0 + 2.0 * context))), min_side)

    def span(b0: int, b1: int, size: int) -> tuple[int, int]:
        s = min(max(side, b1 - b0), size)
        a = min(max(b0 - (s - (b1 - b0)) // 2, 0), size - s)
        return a, a + s

    x0, x1 = span(bx0, bx1, w)
    y0, y1 = span(by0, by1, h)
    return x0, y0, x1, y1


def model_size(width: int, height: int, resolution: int) -> tuple[int, int]:
    """(width, height) the model runs at: the longer side ``resolution``, aspect kept, multiples of 8."""
    scale = resolution / max(width, height)

    def r(v: int) -> int:
        return max(SIZE_MULTIPLE, int(round(v * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE)

    return r(width), r(height)


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``img`` resized to ``size`` (width, height): area averaging down, bicubic up."""
    if (img.shape[1], img.shape[0]) == size:
        return img
    shrink = size[0] < img.shape[1] or size[1] < img.shape[0]
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``mask`` (HxW bool) at ``size``: True wherever any True pixel contributes (conservative)."""
    if (mask.shape[1], mask.shape[0]) == size:
        return mask.copy()
    shrink = size[0] < mask.shape[1] or size[1] < mask.shape[0]
    out = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out > 0


def match_colour(generated: np.ndarray, reference: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """``generated`` with per-channel gain and offset so that, on ``ring``, its mean/std equal ``reference``'s.

    Both HxWx3 float32 in [0, 1], ``ring`` HxW bool: known pixels around the hole,
    where the model's output and the true input show the same content, so their
    difference in mean and spread is the model's colour drift (Reinhard et al. 2001
    colour transfer, restricted to the ring). Gains are clipped to
    [1/MAX_COLOUR_GAIN, MAX_COLOUR_GAIN]; an empty ring returns ``generated``.
    """
    if not ring.any():
        return generated
    g, r = generated[ring], reference[ring]
    g_mean, g_std = g.mean(axis=0), g.std(axis=0)
    r_mean, r_std = r.mean(axis=0), r.std(axis=0)
    gain = np.where(g_std > _EPS, r_std / np.maximum(g_std, _EPS), 1.0)
    gain = np.clip(gain, 1.0 / MAX_COLOUR_GAIN, MAX_COLOUR_GAIN)
    out = (generated - g_mean) * gain + r_mean
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def feathered_paste(rgb: np.ndarray, generated: np.ndarray, unknown: np.ndarray, *, feather_px: float) -> np.ndarray:
    """``rgb`` (HxWx3 uint8) with its ``unknown`` pixels replaced by ``generated`` (HxWx3 float in [0, 1]).

    Within ``feather_px`` of the known pixels (inside the hole only) the generated
    value is blended with a smooth extension of the known pixels (normalised
    convolution), so the seam fades in; known pixels are returned unchanged.
    """
    out = rgb.copy()
    gen = generated
    known = ~unknown
    if feather_px > 0 and known.any():
        # distance (px) from each unknown pixel to the nearest known one: 1 next to the boundary
        dist = cv2.distanceTransform(unknown.astype(np.uint8), cv2.DIST_L2, 3)
        weight = np.clip(dist / (feather_px + 1.0), 0.0, 1.0)[..., None]
        sigma = feather_px + 1.0
        k = known.astype(np.float32)
        num = cv2.GaussianBlur(rgb.astype(np.float32) / 255.0 * k[..., None], (0, 0), sigma)
        den = cv2.GaussianBlur(k, (0, 0), sigma)[..., None]
        extension = np.where(den > _EPS, num / np.maximum(den, _EPS), gen)
        gen = weight * gen + (1.0 - weight) * extension
    pasted = np.clip(np.rint(gen * 255.0), 0, 255).astype(np.uint8)
    out[unknown] = pasted[unknown]
    return out


# -- loading ---------------------------------------------------------------------------------


def _import_diffusers() -> Any:
    try:
        import diffusers
    except ImportError:
        raise BackendError("plate.inpaint=sd needs diffusers and transformers: pip install 'glassvid[models]' (or use plate.inpaint=opencv, the default)") from None
    return diffusers


def _has_safetensors(folder: Path) -> bool:
    return any(folder.glob("*/*.safetensors"))


def load_inpaint_pipeline(path: Path, *, config_dir: str = "") -> Any:
    """A ``StableDiffusionInpaintPipeline`` (fp32, CPU, safety checker off) from local files only.

    ``path`` is either a diffusers folder (``model_index.json`` plus one subfolder per
    component) or a single original-layout ``.safetensors``/``.ckpt`` file. A single
    file holds the weights only: diffusers 0.42 takes the component configs and the
    tokenizer from ``config=`` a local diffusers folder (weights not needed). Without
    one, ``from_single_file`` fetches them from the Hub even with
    ``local_files_only=True`` (it overrides it with a warning), and ``original_config=``
    (the LDM yaml) does not help offline: the tokenizer still comes from the Hub
    (``openai/clip-vit-large-patch14``). So a single file needs ``config_dir``, or a
    ``model_index.json`` beside it.
    """
    diffusers = _import_diffusers()
    pipe_cls = diffusers.StableDiffusionInpaintPipeline
    # No safety checker: its weights are another download, and a plate is background.
    common = {"safety_checker": None, "requires_safety_checker": False, "local_files_only": True}
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise BackendError(f"plate.checkpoint '{path}' is a folder without model_index.json, so not a diffusers model; give a diffusers inpainting folder or a single .safetensors/.ckpt file (official weights: {OFFICIAL_WEIGHTS})")
        kwargs = {**common, "feature_extractor": None, "use_safetensors": _has_safetensors(path)}
        what, load = f"diffusers folder '{path}'", lambda: pipe_cls.from_pretrained(str(path), **kwargs)
    else:
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise BackendError(f"plate.checkpoint '{path}' is neither a diffusers folder nor a {' / '.join(SINGLE_FILE_SUFFIXES)} file; give one of those")
        cfg_dir = Path(config_dir).expanduser() if config_dir else path.parent
        if not (cfg_dir / "model_index.json").is_file():
            where = f"plate.sd_config '{cfg_dir}' has no model_index.json" if config_dir else f"no plate.sd_config is set and '{cfg_dir}' has no model_index.json"
            raise BackendError(
                f"the single-file checkpoint '{path}' needs its model's diffusers configs to load offline, but {where}: "
                f"pass --set plate.sd_config=DIR, a folder with {CONFIG_FILES} (no weights needed) from the model the file was trained as, "
                "e.g. `hf download stable-diffusion-v1-5/stable-diffusion-inpainting --include '*.json' '*.txt' --local-dir DIR` "
                "(SD 2: stabilityai/stable-diffusion-2-inpainting), or give the whole diffusers folder as plate.checkpoint"
            )
        what, load = f"single file '{path}' with configs from '{cfg_dir}'", lambda: pipe_cls.from_single_file(str(path), config=str(cfg_dir), **common)
    try:
        pipe = load()
    except BackendError:
        raise
    except Exception as exc:  # diffusers/transformers/safetensors raise many types for a bad or partial model
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise BackendError(f"cannot load the Stable Diffusion inpainting model from {what} ({type(exc).__name__}: {first}); check that it is a complete SD inpainting model") from None
    return pipe


# -- the backend -----------------------------------------------------------------------------


class SDInpainter:
    """Stable Diffusion inpainting of never-seen background; ``(rgb, unknown) -> rgb``.

    ``pipe`` is a diffusers ``StableDiffusionInpaintPipeline`` (any size: tests pass a
    tiny random one); ``cfg`` supplies prompt, steps, seed, guidance and the crop/paste
    geometry; ``device`` moves the pipe there, in fp16 on CUDA and fp32 elsewhere
    (None leaves it as it is). ``calls`` counts model invocations (one per frame that
    has unknown pixels), so the plate pass can report invocations per frame.

    Depth guidance is not used yet. A depth-conditioned inpainter (e.g. diffusers'
    ``StableDiffusionControlNetInpaintPipeline`` with a depth ControlNet) would take the
    scene depth, cropped and resized like the image in step 2 of :meth:`__call__`, as
    its ``control_image`` in step 3; the plate pass has it in the analyse cache and
    would pass it as an optional ``depth`` argument.
    """

    per_keyframe = True

    def __init__(self, *, pipe: Any, cfg: PlateConfig, device: Any = None) -> None:
        self.check_config(cfg)
        self.cfg = cfg
        if device is not None:
            torch = import_torch("the Stable Diffusion inpainter")
            device = torch.device(device)
            pipe = pipe.to(device=device, dtype=torch.float16 if device.type == "cuda" else torch.float32)
        if getattr(pipe.unet.config, "in_channels", 9) != 9:
            log.warning("plate.checkpoint is not an inpainting model (its UNet takes %s channels, not 9); diffusers falls back to blending latents, which leaves seams: use an inpainting checkpoint", pipe.unet.config.in_channels)
        pipe.set_progress_bar_config(disable=True)  # the library draws no bars (STYLE 10)
        self.pipe = pipe
        self.calls = 0

    @classmethod
    def from_config(cls, cfg: PlateConfig, runtime: RuntimeConfig | None = None) -> "SDInpainter":
        """Load ``cfg.checkpoint`` (local only) onto ``runtime.device``."""
        cls.check_config(cfg)
        import_torch("plate.inpaint=sd")
        path = require_checkpoint(cfg.checkpoint, what="Stable Diffusion inpainting (plate.inpaint=sd)", setting="plate.checkpoint", official=OFFICIAL_WEIGHTS)
        device = resolve_device(runtime)
        pipe = load_inpaint_pipeline(path, config_dir=cfg.sd_config)
        log.info("loaded Stable Diffusion inpainting from %s on %s", path, device)
        return cls(pipe=pipe, cfg=cfg, device=device)

    @staticmethod
    def check_config(cfg: PlateConfig) -> None:
        """Reject settings the pipeline cannot run with, naming the fix."""
        if cfg.sd_resolution % SIZE_MULTIPLE:
            raise ConfigError(f"plate.sd_resolution={cfg.sd_resolution} must be a multiple of {SIZE_MULTIPLE} (512 for SD 1.5/2 inpainting)")

    @staticmethod
    def check_inputs(rgb: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        """Validate the frame and the hole; returns ``unknown`` as bool."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            got = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise InputError(f"SDInpainter expects rgb as an HxWx3 uint8 RGB array, got a {got}")
        unknown = np.asarray(unknown)
        if unknown.shape != rgb.shape[:2]:
            raise InputError(f"SDInpainter expects unknown as an HxW mask of the frame's size {rgb.shape[:2]}, got shape {unknown.shape}")
        return unknown.astype(bool, copy=False)

    def __call__(self, rgb: np.ndarray, unknown: np.ndarray) -> np.ndarray:
        """``rgb`` (HxWx3 uint8 RGB) with ``unknown`` (HxW bool) pixels invented; same shape and dtype."""
        unknown = self.check_inputs(rgb, unknown)
        if not unknown.any():
            return rgb.copy()
        cfg = self.cfg
        # 1. context crop
        x0, y0, x1, y1 = context_box(unknown, context=cfg.sd_context, min_side=cfg.sd_resolution)
        crop, hole = rgb[y0:y1, x0:x1], unknown[y0:y1, x0:x1]
        # 2. the model's size; the mask covers every model pixel that touches the hole
        size = model_size(crop.shape[1], crop.shape[0], cfg.sd_resolution)
        image, mask = resize(crop, size), resize_mask(hole, size)
        # 3. generate
        generated = self._generate(image, mask)
        # 4. back to the crop's size; undo the colour drift measured on the known ring
        generated = np.clip(resize(generated, (crop.shape[1], crop.shape[0])), 0.0, 1.0)
        if cfg.sd_colour_ring_px > 0:
            ring_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * cfg.sd_colour_ring_px + 1,) * 2)
            ring = cv2.dilate(hole.astype(np.uint8), ring_kernel).astype(bool) & ~hole
            generated = match_colour(generated, crop.astype(np.float32) / 255.0, ring)
        # 5. paste the unknown pixels only
        out = rgb.copy()
        out[y0:y1, x0:x1] = feathered_paste(crop, generated, hole, feather_px=cfg.sd_feather_px)
        return out

    def _generate(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One pipeline run: ``image`` hxwx3 uint8, ``mask`` hxw bool -> hxwx3 float32 in [0, 1]."""
        torch = import_torch("the Stable Diffusion inpainter")
        from PIL import Image

        cfg = self.cfg
        # A CPU generator gives the same noise on every device: same seed, same plate.
        generator = torch.Generator(device="cpu").manual_seed(cfg.seed)
        result = self.pipe(
            prompt=cfg.prompt,
            negative_prompt=cfg.negative_prompt or None,
            image=Image.fromarray(image),
            mask_image=Image.fromarray(mask.astype(np.uint8) * 255),
            height=image.shape[0],
            width=image.shape[1],
            num_inference_steps=cfg.steps,
            guidance_scale=cfg.guidance_scale,
            generator=generator,
            output_type="np",
        )
        self.calls += 1
        return np.asarray(result.images[0], dtype=np.float32)
