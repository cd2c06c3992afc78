"""Configuration: one dataclass per stage, presets in ``configs/*.yaml``.

Every field carries its help text, unit and valid range (or choices) in its metadata,
so one place validates a value whether it came from a preset, a YAML file, a
``--set section.key=value`` override or the Python API. Presets map one-to-one onto
these classes: a preset names only the fields it changes.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from glassvid.errors import ConfigError


def _f(
    default: Any,
    help: str,
    *,
    unit: str = "",
    range: tuple[float, float] | None = None,
    choices: Sequence[str] | None = None,
) -> Any:
    """A dataclass field with its documentation and validation rule in metadata."""
    meta = {"help": help, "unit": unit, "range": range, "choices": tuple(choices) if choices else None}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda d=default: tuple(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class FlowConfig:
    """Optical flow between consecutive frames (analyse pass)."""

    backend: str = _f("dis", "Flow backend: 'dis' (OpenCV DIS, no weights) or 'raft' (torchvision RAFT, [models]).", choices=("dis", "raft"))
    preset: str = _f("ultrafast", "DIS preset: speed/quality trade-off. At 854x480: 'ultrafast' ~5 ms per flow, endpoint error ~0.4-0.9 px; 'fast' ~10 ms, ~0.3-0.6 px; 'medium' ~55 ms, ~0.15-0.3 px (see glassvid/flow/dis.py).", choices=("ultrafast", "fast", "medium"))
    scale: float = _f(1.0, "DIS: shrink frames to this fraction before computing flow (upsampled back). DIS already solves 2 pyramid levels above full size (1 for 'medium') but never narrower than 160 px, so this only saves time where that level stays 160 px wide: at 854x480, 0.5 gives the same flow as 1.", unit="fraction", range=(0.1, 1.0))
    raft_scale: float = _f(0.5, "RAFT: compute flow at this fraction of the frame size (RAFT's memory grows with the square of the pixel count: 14 GiB at 1080p full size).", unit="fraction", range=(0.1, 1.0))
    raft_iterations: int = _f(12, "RAFT: refinement iterations (more = slower, slightly better).", unit="iterations", range=(1, 32))
    model: str = _f("raft_small", "RAFT variant for the 'raft' backend.", choices=("raft_small", "raft_large"))
    checkpoint: str = _f("", "Local RAFT checkpoint (.pth / .safetensors) for the 'raft' backend.")


@dataclass
class MaskConfig:
    """Object segmentation: a prompt on one frame, propagated through the clip."""

    backend: str = _f("classic", "Mask backend: 'classic' (flow + colour refinement, no weights) or 'sam' ([models]).", choices=("classic", "sam"))
    refine_band_px: int = _f(4, "Classic: the mask may grow at most this far past the carried one in a frame (at least; see growth_fraction), and the colour model moves its boundary within this band.", unit="px", range=(0, 64))
    growth_fraction: float = _f(0.08, "Classic: largest growth of the mask in one frame, as a fraction of the object's size (the larger of this and refine_band_px): limits creep onto similar-looking background.", unit="fraction of object size", range=(0.0, 0.5))
    snap_weight: float = _f(0.5, "Classic: share of the colour model at the carried boundary (Video SnapCut's shape/colour blend); acts only where it exceeds colour_floor (not with the defaults); 0 = the floor alone.", unit="fraction", range=(0.0, 1.0))
    colour_floor: float = _f(0.7, "Classic: share of the colour model everywhere within reach of the carried mask; lets colour cut occluders out and regrow parts the motion lost. 0 = colour only near the boundary.", unit="fraction", range=(0.0, 1.0))
    memory_cells: float = _f(12.0, "Classic: the prompt frame's colour memory has this many cells across the object; more = more local colour models, fewer samples each.", unit="cells", range=(1.0, 64.0))
    memory_colour_bits: int = _f(4, "Classic: bits per RGB channel of the colour memory's bins (4 = 16 levels).", unit="bits", range=(2, 6))
    prompt_memory: float = _f(0.3, "Classic: share of the prompt frame's histograms in the global colour model (the rest follows the object, see model_update).", unit="fraction", range=(0.0, 1.0))
    histogram_bins: int = _f(16, "Bins per channel of the global foreground/background colour histograms.", unit="bins", range=(4, 64))
    model_update: float = _f(0.1, "How fast the global colour model follows the object's appearance each frame.", unit="fraction/frame", range=(0.0, 1.0))
    min_area_fraction: float = _f(0.01, "Connected parts smaller than this fraction of the largest part are dropped (specks). Small: an object's real parts can be small and detached in the mask (a bike's wheel rims, a racket, a hand past a thin wrist); 0.05 lost them (measured: multi-start J&F 0.616 vs 0.629).", unit="fraction", range=(0.0, 1.0))
    collapse_ratio: float = _f(0.3, "Classic: a mask that shrinks below this fraction of the carried one in one frame with weak evidence is replaced by the carried one (short occlusion, blurred frame). 0 = off.", unit="fraction", range=(0.0, 1.0))
    vanish_fraction: float = _f(0.05, "Classic: a mask smaller than this fraction of the object's prompt-frame area (at its tracked scale), on weak evidence, means the object is gone: empty masks from then on in that direction.", unit="fraction", range=(0.0, 1.0))
    novel_colour: float = _f(0.5, "Classic: how much the global colour model is believed for a colour the prompt frame never showed at that place on the object (the rest leans to background: uncovered background, an occluder). 1 = fully.", unit="fraction", range=(0.0, 1.0))
    revisit_below: float = _f(0.35, "Frames whose mask confidence is below this are stepped again, backward from the next confident frame, and keep the more confident mask (a stretch the object was covered or lost in, seen from the side where it is clear again). 0 = off.", unit="confidence", range=(0.0, 1.0))
    warn_below: float = _f(0.3, "Frames (not empty) whose final mask confidence is below this are named in a warning, to check and correct with a prompt there. Measured with the classic backend on the benchmark's real clips (benchmarks/RESULTS.md): 79 % of such frames have IoU < 0.5, and none of the rendered scenes' frames fall below it. 0 = no warning.", unit="confidence", range=(0.0, 1.0))
    work_pixels: int = _f(40000, "Classic: the window around the object is processed at most at this many pixels (cost per frame is bounded by it; the mask is returned at full resolution).", unit="px", range=(1000, 4000000))
    feather_px: float = _f(1.5, "Width of the soft edge of the compositing matte, outside the binary mask.", unit="px", range=(0.0, 32.0))
    model: str = _f("vit_b", "SAM variant for the 'sam' backend.", choices=("vit_b", "vit_l", "vit_h"))
    checkpoint: str = _f("", "Local SAM checkpoint (sam_vit_*.pth) for the 'sam' backend.")
    sam_keyframe_interval: int = _f(1, "SAM backend: compute the image embedding (the expensive part) every N frames; in between, the last embedding is reused with the flow-carried prompts, faster but only sound for small motion. 1 = every frame.", unit="frames", range=(1, 100000))
    sam_reembed_below_confidence: float = _f(0.5, "SAM backend, with sam_keyframe_interval > 1: re-embed a frame between keyframes when its confidence with the reused embedding falls below this (0 = never).", unit="fraction", range=(0.0, 1.0))
    sam_interior_point: bool = _f(True, "SAM backend: besides the carried box and mask logits, prompt each frame with a positive point at the carried mask's deepest interior pixel.")


@dataclass
class DepthConfig:
    """Object shape and scene depth (analyse pass)."""

    backend: str = _f("silhouette", "Depth backend: 'silhouette' (inflate the matte, no weights) or 'midas' ([models]).", choices=("silhouette", "midas"))
    profile: str = _f("round", "Cross-section of the inflated silhouette: 'round' (circular, like a sphere or bottle) or 'flat' (rounded slab).", choices=("round", "flat"))
    model: str = _f("midas_v21_small", "MiDaS/DPT variant for the 'midas' backend: 'midas_v21_small' (EfficientNet-Lite3, fast) or a DPT model, 'dpt_hybrid' / 'dpt_large' (ViT, slower, better).", choices=("midas_v21_small", "dpt_hybrid", "dpt_large"))
    checkpoint: str = _f("", "Local checkpoint for the 'midas' backend: midas_v21_small_256.pt (or .safetensors) for midas_v21_small; a transformers folder (config.json + model.safetensors, e.g. Intel/dpt-hybrid-midas) for the DPT models.")
    input_size: int = _f(0, "Size the 'midas' model sees the frame at (rounded to a multiple of 32); 0 = the model's own (256 for midas_v21_small, 384 for DPT). Larger = finer detail, slower (cost grows with its square).", unit="px", range=(0, 2048))
    object_weight: float = _f(0.5, "How much the model's depth inside the mask shapes the object's height, against the inflated silhouette (0 = silhouette only).", unit="fraction", range=(0.0, 1.0))
    temporal_alignment: bool = _f(True, "Fit each frame's scene depth to the previous frames' (scale and shift over the background) so its scale does not flicker; off = each frame normalised alone.")
    temporal_memory: float = _f(0.5, "Share of the alignment reference carried over from earlier frames each frame (0 = align to the previous frame only).", unit="fraction/frame", range=(0.0, 0.95))


@dataclass
class PlateConfig:
    """Clean plate: the background hidden behind the object (plate pass)."""

    inpaint: str = _f("opencv", "Fill for pixels no frame ever shows: 'opencv' (inpainting, no weights) or 'sd' (Stable Diffusion inpainting on keyframes, [models]).", choices=("opencv", "sd"))
    max_age: int = _f(0, "Farthest frame (in frames) background may be carried from; 0 = the whole clip.", unit="frames", range=(0, 100000))
    hole_dilate_px: int = _f(3, "Grow the object's mask by this much before recovering what is behind it, so its anti-aliased edge and shadow fringe are replaced too.", unit="px", range=(0, 64))
    inpaint_radius_px: int = _f(5, "Neighbourhood radius of OpenCV inpainting for pixels no frame ever shows.", unit="px", range=(1, 64))
    inpaint_method: str = _f("smooth", "Classic fill of never-seen pixels: 'smooth' (push-pull membrane: the smoothest continuation of the border), 'telea' or 'ns' (OpenCV inpainting).", choices=("smooth", "telea", "ns"))
    checkpoint: str = _f("", "Local Stable Diffusion inpainting model (diffusers folder or single .safetensors file) for inpaint='sd'.")
    steps: int = _f(25, "Denoising steps of Stable Diffusion inpainting.", unit="steps", range=(1, 200))
    prompt: str = _f("empty background, photo", "Text prompt for Stable Diffusion inpainting.")
    seed: int = _f(0, "Random seed of Stable Diffusion inpainting (same seed, same plate).", range=(0, 2**31 - 1))
    negative_prompt: str = _f("object, person, animal, text, watermark, frame, blurry", "What Stable Diffusion inpainting should avoid inventing (used when guidance_scale > 1); empty = none.")
    guidance_scale: float = _f(7.5, "Classifier-free guidance of Stable Diffusion inpainting: how strongly the prompts steer; 1 = off (one UNet pass per step, half the time).", unit="", range=(1.0, 30.0))
    sd_resolution: int = _f(512, "Side of the square Stable Diffusion inpainting runs at (a multiple of 8; 512 for SD 1.5 / 2 inpainting); the crop around the hole is resized to it and back.", unit="px", range=(64, 2048))
    sd_context: float = _f(0.5, "Surroundings the model sees around the hole's bounding box, per side, as a fraction of the box's longer side (the crop is at least sd_resolution px wide where the frame allows).", unit="fraction", range=(0.0, 4.0))
    sd_feather_px: float = _f(2.0, "Width inside the hole over which the generated pixels fade in from the known surroundings; known pixels are never changed.", unit="px", range=(0.0, 16.0))
    sd_colour_ring_px: int = _f(8, "Width of the ring of known pixels around the hole on which the generated colours are matched to the input (mean and spread per channel); 0 = no matching.", unit="px", range=(0, 128))
    sd_config: str = _f("", "For a single-file plate.checkpoint: a local diffusers folder with the model's configs and tokenizer (model_index.json, scheduler/, tokenizer/, text_encoder/, unet/, vae/ configs; no weights needed). Empty = the checkpoint's own folder.")
    source_margin_px: float = _f(32.0, "A background pixel seen this close to the object counts less (its masked edge, motion blur, shadow and bleeding flow live there): a sighting's quality is its distance from the hole over this, capped at 1; 0 = every visible pixel counts fully.", unit="px", range=(0.0, 256.0))
    confidence_half_life: float = _f(24.0, "A carried sighting's confidence halves every this many frames of age; a pixel seen again replaces it when its quality is at least that confidence.", unit="frames", range=(0.5, 100000.0))
    blend_ratio: float = _f(0.25, "Where the forward and backward sweeps both saw a hidden pixel and the weaker confidence is at least this fraction of the stronger, their colours are averaged (less noise); 1 = always take the better one.", unit="fraction", range=(0.0, 1.0))
    sweep_scale: float = _f(0.5, "The sweeps that find where each hidden pixel was seen run at this fraction of the frame size (colours are still sampled at full size, from the frame that showed them): 1 = full size, slower.", unit="fraction", range=(0.125, 1.0))
    sweep_threads: int = _f(2, "Threads for the forward and backward sweeps: 2 runs them side by side (same result; faster where a second core is free), 1 one after the other.", unit="threads", range=(1, 2))
    motion_margin_px: int = _f(8, "Flow this close to the object is the object's motion, not the background's: inside the hole grown by this much the background motion is the camera homography plus a smooth completion of the flow around it.", unit="px", range=(0, 256))
    motion_snap_px: float = _f(0.1, "Background motion below this (the flow's noise on a still camera) is set to exactly zero, so long carries do not drift.", unit="px", range=(0.0, 10.0))
    keyframe_interval: int = _f(12, "inpaint='sd': run the model on a keyframe every this many frames among those with never-seen pixels; the frames between take its result carried along the flow.", unit="frames", range=(1, 100000))
    keyframe_pad_px: int = _f(8, "inpaint='sd': a keyframe invents this far beyond its own never-seen pixels (inside the hole), so the frames around it find invented background where theirs lies.", unit="px", range=(0, 256))
    loop_iterations: int = _f(5, "Inpaint-and-score loop: most rounds of candidates -> glass render -> See-Through Score per scored frame; 0 = off.", unit="rounds", range=(0, 100))
    loop_target: float = _f(0.9, "Inpaint-and-score loop: stop refining a frame once its See-Through Score reaches this.", unit="score", range=(0.0, 1.0))
    loop_interval: int = _f(0, "Inpaint-and-score loop: score every this many frames with a hole (1 = every one); the choice made on a scored frame holds until the next one. 0 = no loop.", unit="frames", range=(0, 100000))
    loop_margin: float = _f(0.05, "Inpaint-and-score loop: a candidate replaces the recovered plate only when its score is higher by this much.", unit="score", range=(0.0, 1.0))


@dataclass
class GlassConfig:
    """The look of the glass (render pass): every value has a physical meaning."""

    mode: str = _f("auto", "'solid': the object is a lens (a sphere inverts what is behind it); 'hollow': thin walls, distortion mostly at the rims (a drinking glass, bottle, vase); 'auto': solid for a disc-like silhouette (a ball, a paperweight), hollow otherwise.", choices=("auto", "solid", "hollow"))
    ior: float = _f(1.5, "Index of refraction (water 1.33, glass 1.5, crystal 1.6, diamond 2.42).", unit="", range=(1.0, 3.0))
    thickness: float = _f(1.0, "Depth of the object front to back, as a fraction of its half-width on screen (1 = round like a sphere).", unit="half-widths", range=(0.05, 4.0))
    wall: float = _f(0.08, "Wall thickness of a hollow object, as a fraction of its half-width.", unit="half-widths", range=(0.005, 1.0))
    plate_distance: float = _f(2.0, "Distance from the object's back to the background it shows, in object half-widths (farther = stronger lens inversion).", unit="half-widths", range=(0.0, 100.0))
    reflectivity: float = _f(1.0, "Scale on Schlick's Fresnel reflectance (1 = physical for the IOR).", unit="", range=(0.0, 4.0))
    sky: float = _f(1.0, "How much surfaces facing up reflect the scene's light (estimated from the frame's brightest pixels) rather than the blurred frame (0 = only the frame).", unit="fraction", range=(0.0, 1.0))
    environment_blur_px: float = _f(12.0, "Blur of the environment (taken from the plate) seen in reflections.", unit="px", range=(0.0, 200.0))
    highlights: float = _f(1.0, "How much of the input's specular highlights is kept on the glass.", unit="", range=(0.0, 4.0))
    glint: float = _f(4.0, "Brightness of the glint of the scene's main light, whose direction is read from the opaque object's shading (0 = none).", unit="x white", range=(0.0, 50.0))
    highlight_threshold: float = _f(0.12, "Brightness above the local surround that counts as a highlight.", unit="fraction of white", range=(0.0, 1.0))
    tint: tuple[float, float, float] = _f((1.0, 1.0, 1.0), "Linear RGB transmittance through one half-width of material (Beer-Lambert); (1,1,1) = colourless.", unit="per half-width", range=(0.0, 1.0))
    frost: float = _f(0.0, "Blur of the transmitted image per half-width of thickness (frosted glass).", unit="px per half-width", range=(0.0, 100.0))
    dispersion: float = _f(0.0, "IOR difference between blue and red (Abbe-style spread; crown glass ~0.01, flint ~0.03).", unit="", range=(0.0, 0.2))
    antialias: bool = _f(True, "Mip-map the plate where refraction squeezes a wide view into a few pixels (the rims), so they do not alias into speckle; off = point samples, as a GPU shader without mip-maps (the AR preview) shows them.")
    edge_px: float = _f(1.0, "Anti-aliased edge width of the glass layer.", unit="px", range=(0.0, 16.0))


@dataclass
class TemporalConfig:
    """Steadiness (render pass): carry the previous output forward by motion and blend it in.

    Inside the object's region only: ``out = render + w * (carried - render)`` with
    ``w = strength * exp(-(change / agreement)^2)``, ``carried`` the previous output moved
    by the best-agreeing of the ``motion`` candidates and ``change`` its local colour
    difference to the render (see :mod:`glassvid.temporal`).
    """

    strength: float = _f(0.75, "Largest weight of the carried previous output, where it agrees with the render (0 = off). A steady part becomes an average over about 1/(1-strength) frames (0.75: 4), its frame-to-frame noise scaled by sqrt((1-strength)/(1+strength)) (0.75: 0.38).", unit="fraction", range=(0.0, 0.95))
    agreement: float = _f(0.055, "Local colour difference between the render and the carried previous output at which the weight falls to 37 % of strength (2 % at twice it): larger steadies more, but lets real change (new content, unfollowed motion) trail.", unit="fraction of white", range=(0.001, 1.0))
    agreement_radius_px: int = _f(2, "Radius of the box over which that difference is averaged, so per-pixel noise counts little and coherent change fully; 0 = per pixel.", unit="px", range=(0, 16))
    motion: str = _f("render", "Motions that may carry the previous output, the best-agreeing one per pixel: 'render' (the flow of the rendered output itself, and stillness), 'object' (the input's flow, i.e. the object's motion, where its forward-backward check passes), 'all' (both).", choices=("render", "object", "all"))
    flow_preset: str = _f("ultrafast", "DIS preset of the render's own flow (computed per frame on the object's box).", choices=("ultrafast", "fast", "medium"))
    flow_width_px: int = _f(100, "The render's own flow (per frame, on the object's box) is solved on the coarsest DIS pyramid level at least this wide, then upsampled: smaller = faster, coarser; a box narrower than this is solved at full size.", unit="px", range=(16, 4096))
    cut_colour: float = _f(0.3, "Scene cut when the hue-saturation histograms of consecutive input frames differ by more than this total-variation distance (brightness does not count); a cut resets the blend. Consecutive frames of the shared clips reach 0.08, different clips 0.44 and more.", unit="fraction", range=(0.0, 1.0))
    cut_structure: float = _f(0.25, "Scene cut also when 1 - the correlation of consecutive frames' 16x9 luminance thumbnails exceeds this (0 = same layout, 1 = unrelated): a cut between shots of the same colours. Consecutive frames of the shared clips reach 0.10 (fast motion), different clips 0.33 and more.", unit="", range=(0.0, 2.0))


@dataclass
class RuntimeConfig:
    """Where model backends run."""

    device: str = _f("auto", "Device for model backends: 'auto' (CUDA if available, else CPU), 'cpu', 'cuda', 'cuda:N', 'mps'.")
    threads: int = _f(0, "CPU threads for model backends; 0 = library default.", unit="threads", range=(0, 256))


@dataclass
class Config:
    """All settings of a glassvid run."""

    flow: FlowConfig = field(default_factory=FlowConfig)
    masks: MaskConfig = field(default_factory=MaskConfig)
    depth: DepthConfig = field(default_factory=DepthConfig)
    plate: PlateConfig = field(default_factory=PlateConfig)
    glass: GlassConfig = field(default_factory=GlassConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested dict (tuples become lists), for YAML/JSON and hashing."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def section_hash(self, *sections: str) -> str:
        """Stable hash of the named sections, for cache keys."""
        d = self.to_dict()
        blob = json.dumps({s: d[s] for s in sections}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> "Config":
        """A copy with ``{section: {key: value}}`` applied and validated."""
        new = copy.deepcopy(self)
        for section, values in overrides.items():
            if section in ("description",):
                continue
            target = _section(new, section)
            if not isinstance(values, Mapping):
                raise ConfigError(f"config section '{section}' must be a mapping of keys to values, got {values!r}")
            for key, value in values.items():
                _assign(target, section, key, value)
        return new


SECTIONS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Config))


def _section(cfg: Config, name: str) -> Any:
    if name not in SECTIONS:
        raise ConfigError(f"unknown config section '{name}'; known sections: {', '.join(SECTIONS)}")
    return getattr(cfg, name)


def _assign(target: Any, section: str, key: str, value: Any) -> None:
    """Validate ``value`` against the field's type, range and choices, then set it."""
    fields = {f.name: f for f in dataclasses.fields(target)}
    if key not in fields:
        raise ConfigError(f"unknown config key '{section}.{key}'; known keys in '{section}': {', '.join(fields)}")
    f = fields[key]
    meta = f.metadata
    name = f"{section}.{key}"
    current = getattr(target, key)
    value = _coerce(name, value, current)
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(meta['choices'])}")
    rng = meta.get("range")
    if rng is not None:
        items = value if isinstance(value, tuple) else (value,)
        for v in items:
            if not (rng[0] <= v <= rng[1]):
                unit = f" {meta['unit']}" if meta.get("unit") else ""
                raise ConfigError(f"{name}={value!r} is out of range: expected {rng[0]} to {rng[1]}{unit}")
    setattr(target, key, value)


def _coerce(name: str, value: Any, current: Any) -> Any:
    """Convert ``value`` (possibly a string from the command line) to the type of ``current``."""
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if isinstance(current, tuple):
            if isinstance(value, str):
                value = [v for v in value.replace("(", "").replace(")", "").replace("[", "").replace("]", "").split(",") if v.strip()]
            items = tuple(float(v) for v in value)
            if len(items) != len(current):
                raise ValueError(value)
            return items
        if isinstance(current, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, str):
            return "" if value is None else str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    kind = f"{len(current)} comma-separated numbers" if isinstance(current, tuple) else type(current).__name__
    raise ConfigError(f"{name}={value!r} is not a valid {kind}")


# ---------------------------------------------------------------------------- presets


def configs_dir() -> Path:
    """Folder holding the preset YAML files (``$GLASSVID_CONFIGS`` overrides)."""
    env = os.environ.get("GLASSVID_CONFIGS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "configs"


def list_presets() -> dict[str, str]:
    """Preset name -> its one-line description, sorted by name."""
    out: dict[str, str] = {}
    folder = configs_dir()
    for path in sorted(folder.glob("*.yaml")):
        data = _read_yaml(path)
        out[path.stem] = str(data.get("description", "")).strip()
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file '{path}': {exc.strerror or exc}; check the path") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"config file '{path}' is not valid YAML{where}; fix the syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of sections (flow, masks, glass, ...), got {type(data).__name__}")
    return data


def parse_set(expr: str) -> tuple[str, str, str]:
    """Split ``section.key=value`` into its parts."""
    if "=" not in expr or "." not in expr.split("=", 1)[0]:
        raise ConfigError(f"--set expects section.key=value (e.g. glass.ior=1.33), got '{expr}'")
    lhs, value = expr.split("=", 1)
    section, key = lhs.strip().split(".", 1)
    return section, key, value.strip()


def load_config(
    preset: str | None = None,
    config_file: str | os.PathLike | None = None,
    sets: Sequence[str] = (),
    *,
    base: Config | None = None,
) -> Config:
    """Build a :class:`Config`: ``base`` (or defaults), then a preset, a YAML file, ``--set`` overrides."""
    cfg = copy.deepcopy(base) if base is not None else Config()
    if preset:
        path = configs_dir() / f"{preset}.yaml"
        if not path.is_file():
            known = ", ".join(list_presets()) or "(none found)"
            raise ConfigError(f"unknown preset '{preset}'; known presets: {known} (see `glassvid presets`)")
        cfg = cfg.with_overrides(_read_yaml(path))
    if config_file:
        cfg = cfg.with_overrides(_read_yaml(Path(config_file)))
    overrides: dict[str, dict[str, Any]] = {}
    for expr in sets:
        section, key, value = parse_set(expr)
        overrides.setdefault(section, {})[key] = value
    return cfg.with_overrides(overrides)


def describe_fields() -> list[tuple[str, str, str, str]]:
    """(``section.key``, default, unit/range, help) for every field: the reference for docs and ``--help``."""
    rows = []
    default = Config()
    for section in SECTIONS:
        obj = getattr(default, section)
        for f in dataclasses.fields(obj):
            m = f.metadata
            if m.get("choices"):
                rule = "one of " + "|".join(m["choices"])
            elif m.get("range"):
                rule = f"{m['range'][0]}..{m['range'][1]} {m.get('unit', '')}".strip()
            else:
                rule = m.get("unit", "")
            rows.append((f"{section}.{f.name}", repr(getattr(obj, f.name)), rule, m.get("help", "")))
    return rows
