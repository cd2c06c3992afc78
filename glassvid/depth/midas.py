"""MiDaS / DPT monocular depth: the model backend of the depth stage
(``--set depth.backend=midas``, needs ``glassvid[models]``).

MiDaS (Ranftl et al., "Towards Robust Monocular Depth Estimation: Mixing Datasets for
Zero-shot Cross-dataset Transfer", TPAMI 2022) and DPT (Ranftl et al., "Vision
Transformers for Dense Prediction", ICCV 2021) predict *relative inverse depth*: larger
is nearer, and each frame is right only up to an unknown scale and shift (the models
are trained with a scale- and shift-invariant loss). This backend turns that into the
stage's :class:`~glassvid.depth.DepthResult`:

- ``height``: the silhouette inflation (:func:`~glassvid.depth.silhouette.inflate`)
  refined by the model's relief inside the mask (:func:`model_height`), blended with
  ``depth.object_weight``;
- ``scene``: relative depth (larger = farther), aligned over time
  (:class:`SceneAlignment`) so its scale does not flicker from frame to frame.

Models and how they load (``depth.model``; weights never download):

- ``midas_v21_small`` -- MiDaS v2.1 small: an EfficientNet-Lite3 encoder and a
  RefineNet-style decoder. Ported here (:class:`MidasSmallNet`, ~100 lines) on timm's
  ``tf_efficientnet_lite3`` built with ``pretrained=False``: the official network is
  itself that backbone (from gen-efficientnet-pytorch, timm's predecessor, same module
  names) plus a small decoder, so a port keeps the official state-dict keys and the
  released ``midas_v21_small_256.pt`` loads with strict key matching (safetensors or
  ``torch.load(weights_only=True)``). transformers has no MiDaS-small model.
- ``dpt_hybrid`` / ``dpt_large`` -- transformers' ``DPTForDepthEstimation`` from a local
  folder in transformers' format (``config.json`` + ``model.safetensors``), such as
  Intel's published conversions ``Intel/dpt-hybrid-midas`` and ``Intel/dpt-large`` saved
  to disk; they run at their config's ``image_size`` (384; transformers' hybrid takes
  no other size). transformers already implements the ViT / ViT-hybrid (BiT ResNet)
  encoder and the DPT decoder; a port would be several hundred lines, and reading the original
  ``dpt_*_384.pt`` needs a key remapping (timm's fused qkv split, BiT renames) that cannot
  be checked here without the weights. So the original-repo ``.pt`` files are refused
  with a hint to use the transformers folder (or transformers' conversion script).
  Missing or unexpected weights are an error, not a silent random initialisation.

Pre/post-processing follows MiDaS' ``run.py``: RGB in [0, 1], resized with bicubic
interpolation to a multiple of 32 near ``input_size`` (v2.1 small: ``upper_bound``, the
aspect kept and both sides at most ``input_size``), normalised (ImageNet mean/std for
v2.1 small, 0.5/0.5 for DPT); the prediction is upsampled to the frame with bicubic
interpolation. transformers' DPT reshapes its ViT tokens to a *square* grid
(``DPTReassembleStage``), so DPT inputs are resized to ``input_size`` squared, as transformers'
``DPTImageProcessor`` does by default (``keep_aspect_ratio=False``).

Device and dtype: the network runs where its parameters are (``device`` moves it;
``from_config`` uses ``runtime.device``) and in their dtype; results are float32 numpy.

State: one :class:`MidasDepth` per clip, called on its frames in order; call
:meth:`MidasDepth.reset` at a scene cut or before another clip.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from glassvid.config import DepthConfig, RuntimeConfig
from glassvid.depth import DepthResult
from glassvid.depth.silhouette import inflate
from glassvid.errors import BackendError, ConfigError, InputError
from glassvid.models import import_torch, load_state_dict, require_checkpoint, resolve_device

log = logging.getLogger(__name__)

torch = import_torch("the MiDaS depth backend")
nn = torch.nn

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
"""(mean, std) per RGB channel of MiDaS v2.1 (its EfficientNet was trained on ImageNet)."""
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
"""(mean, std) of the DPT models: inputs in [-1, 1]."""

MULTIPLE = 32
"""Input sides are multiples of 32: the encoders downsample 5 times and the decoder adds
each upsampled level to the skip connection of the same size."""

RESIZE_MODES = ("upper_bound", "minimal", "square")

MAX_RELATIVE_DEPTH = 100.0
"""Cap of ``scene`` in units of the first frame's median background depth: the sky and
anything the model sees as infinitely far (inverse depth <= 0) gets this depth."""

PEAK_PERCENTILE = 99.0
"""The object's nearest point is taken at this percentile of its relief, so a few
outlier pixels do not flatten the rest."""

FLAT_RELIEF = 1e-3
"""Relief inside the mask below this fraction of the object's inverse depth counts as
flat: the model then adds nothing to the silhouette's shape."""

MIN_FIT_PIXELS = 16
"""Fewer background pixels than this give no scale/shift fit (the last one is kept)."""


# ------------------------------------------------------------------ pure functions


def model_input_size(height: int, width: int, size: int, mode: str = "upper_bound") -> tuple[int, int]:
    """``(h, w)`` the network sees a ``height x width`` frame at: multiples of 32 near ``size``.

    ``mode`` as MiDaS' ``transforms.Resize`` with ``keep_aspect_ratio=True``:
    'upper_bound' (v2.1 small) fits the frame inside ``size x size``; 'minimal' (the
    original DPT) scales as little as possible so that one side becomes ``size``;
    'square' ignores the aspect (transformers' DPT needs a square token grid).
    """
    if mode not in RESIZE_MODES:
        raise ConfigError(f"resize mode '{mode}' is not one of {', '.join(RESIZE_MODES)}")
    if mode == "square":
        return size, size
    sh, sw = size / height, size / width
    if mode == "upper_bound":
        s = min(sh, sw)
    else:
        s = sw if abs(1.0 - sw) < abs(1.0 - sh) else sh

    def snap(x: float) -> int:
        y = round(x / MULTIPLE) * MULTIPLE
        if mode == "upper_bound" and y > size:
            y = int(np.floor(x / MULTIPLE)) * MULTIPLE
        return max(MULTIPLE, y)

    return snap(s * height), snap(s * width)


def fit_scale_shift(x: np.ndarray, y: np.ndarray, where: np.ndarray) -> tuple[float, float] | None:
    """Least-squares ``(s, t)`` minimising ``sum((s * x + t - y)**2)`` over ``where``.

    ``x``, ``y`` HxW float, ``where`` HxW bool. None when the fit is undetermined (fewer
    than ``MIN_FIT_PIXELS`` pixels, or ``x`` constant there) or inverts the relation (s <= 0).
    """
    xs = x[where].astype(np.float64)
    ys = y[where].astype(np.float64)
    if xs.size < MIN_FIT_PIXELS:
        return None
    mx, my = xs.mean(), ys.mean()
    dx = xs - mx
    var = float(np.dot(dx, dx))
    if not var > 1e-12 * max(1.0, float(np.dot(xs, xs))):
        return None
    s = float(np.dot(dx, ys - my)) / var
    if not s > 0.0:
        return None
    return s, float(my - s * mx)


def model_height(inverse_depth: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The object's relief from the model: HxW float32 in [0, 1], 0 outside ``mask``.

    The inverse depth inside the mask, measured from its median on the mask's rim (the
    silhouette's edge, where the surface turns away) and divided by its near peak
    (``PEAK_PERCENTILE``), clipped to [0, 1]. None when the relief is flat or the mask empty.
    """
    m = mask.astype(bool)
    if not m.any():
        return None
    inner = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    rim = m & ~inner
    base = float(np.median(inverse_depth[rim]))
    rel = inverse_depth.astype(np.float32) - base
    peak = float(np.percentile(rel[m], PEAK_PERCENTILE))
    level = float(np.abs(inverse_depth[m]).max())
    if not peak > FLAT_RELIEF * max(level, 1e-12):
        return None
    h = np.clip(rel / peak, 0.0, 1.0).astype(np.float32)
    h[~m] = 0.0
    return h


def inverse_to_depth(inverse_depth: np.ndarray) -> np.ndarray:
    """Relative depth (larger = farther) from aligned inverse depth, capped at ``MAX_RELATIVE_DEPTH``."""
    return (1.0 / np.maximum(inverse_depth, 1.0 / MAX_RELATIVE_DEPTH)).astype(np.float32)


# ------------------------------------------------------------------ temporal alignment


@dataclass
class SceneAlignment:
    """Per-clip state that keeps the scene depth's scale steady over time.

    MiDaS' inverse depth ``d`` is right per frame only up to scale and shift. The first
    frame is normalised so its background's median inverse depth is 1 (its median
    background depth is 1). Each later frame's ``s * d + t`` is fitted by least squares,
    over the background (outside the object's mask: the object moves against it), to
    ``reference``, the aligned inverse depth of the frames before it with an exponential
    memory: ``reference = memory * reference + (1 - memory) * aligned``. Memory 0 aligns
    to the previous frame only; more memory damps the drift that chaining frame-to-frame
    fits accumulates. An undetermined fit (no background, flat prediction) keeps the last
    ``(scale, shift)``.
    """

    memory: float = 0.5
    reference: np.ndarray | None = None  # HxW float32 aligned inverse depth
    scale: float = 1.0
    shift: float = 0.0

    def reset(self) -> None:
        """Forget the clip so far (a scene cut, a new clip)."""
        self.reference = None
        self.scale, self.shift = 1.0, 0.0

    def align(self, inverse_depth: np.ndarray, background: np.ndarray) -> np.ndarray:
        """Aligned inverse depth (HxW float32) of this frame; updates the state."""
        if self.reference is not None and self.reference.shape != inverse_depth.shape:
            log.debug("MiDaS: frame size changed, scene alignment restarts")
            self.reset()
        if self.reference is None:
            self.scale, self.shift = normalise_first(inverse_depth, background), 0.0
        else:
            fit = fit_scale_shift(inverse_depth, self.reference, background)
            if fit is not None:
                self.scale, self.shift = fit
        aligned = (self.scale * inverse_depth + self.shift).astype(np.float32)
        if self.reference is None:
            self.reference = aligned.copy()
        else:
            self.reference = (self.memory * self.reference + (1.0 - self.memory) * aligned).astype(np.float32)
        return aligned


def normalise_first(inverse_depth: np.ndarray, background: np.ndarray) -> float:
    """Scale that gives the background (or, without one, the frame) a median inverse depth of 1.

    No shift: MiDaS' output is non-negative (a final ReLU) with the far sky near 0, so a
    zero shift is the natural start.
    """
    values = inverse_depth[background] if background.any() else inverse_depth.ravel()
    med = float(np.median(values))
    if med > 0.0:
        return 1.0 / med
    top = float(np.abs(values).max()) if values.size else 0.0
    return 1.0 / top if top > 0.0 else 1.0


# ------------------------------------------------------------------ MiDaS v2.1 small


class _ResidualConvUnit(nn.Module):
    """MiDaS ``ResidualConvUnit_custom`` without batch norm: x + conv(relu(conv(relu(x))))."""

    def __init__(self, features: int, activation: Any) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=3, padding=1, bias=True)
        self.conv2 = nn.Conv2d(features, features, kernel_size=3, padding=1, bias=True)
        self.activation = activation

    def forward(self, x: Any) -> Any:
        out = self.conv1(self.activation(x))
        out = self.conv2(self.activation(out))
        return out + x


class _FusionBlock(nn.Module):
    """MiDaS ``FeatureFusionBlock_custom``: add the skip, refine, upsample x2, 1x1 conv
    (halving the channels when ``expand``); bilinear with ``align_corners=True`` as v2.1 small."""

    def __init__(self, features: int, activation: Any, *, expand: bool) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features // 2 if expand else features, kernel_size=1, bias=True)
        self.resConfUnit1 = _ResidualConvUnit(features, activation)
        self.resConfUnit2 = _ResidualConvUnit(features, activation)

    def forward(self, x: Any, skip: Any = None) -> Any:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        x = nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class _Upsample2x(nn.Module):
    """MiDaS ``Interpolate(scale_factor=2, mode='bilinear')`` (align_corners=False)."""

    def forward(self, x: Any) -> Any:
        return nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class MidasSmallNet(nn.Module):
    """MiDaS v2.1 small (isl-org/MiDaS ``midas/midas_net_custom.py`` ``MidasNet_small``
    with ``features=64, backbone='efficientnet_lite3', blocks={'expand': True}``).

    Module names follow the original so its checkpoint loads strictly:
    ``pretrained.layer1..4`` are the EfficientNet cut at strides 4, 8, 16 and 32
    (``_make_efficientnet_backbone``: stem + blocks[0:2], blocks[2:3], blocks[3:5],
    blocks[5:]), ``scratch.layer*_rn`` project them to ``features * (1, 2, 4, 8)``
    channels, ``scratch.refinenet4..1`` fuse them coarse to fine, ``scratch.output_conv``
    predicts one channel at the input size.

    ``backbone``: a timm EfficientNet (``conv_stem``, ``bn1``, ``blocks``, ``feature_info``),
    e.g. ``timm.create_model('tf_efficientnet_lite3', pretrained=False)``; timm's ``bn1``
    includes the activation, so the original's separate ``act1`` (index 2) is an Identity.
    Input Bx3xHxW, H and W multiples of 32; output BxHxW relative inverse depth (>= 0 when
    ``non_negative``).
    """

    def __init__(self, *, backbone: Any, features: int = 64, non_negative: bool = True) -> None:
        super().__init__()
        ends: dict[int, int] = {}
        chans: dict[int, int] = {}
        for info in backbone.feature_info:
            if str(info["module"]).startswith("blocks."):
                ends[int(info["reduction"])] = int(str(info["module"]).split(".")[1])
                chans[int(info["reduction"])] = int(info["num_chs"])
        if not all(r in ends for r in (4, 8, 16, 32)):
            raise BackendError(f"MiDaS small needs an EfficientNet with stages at strides 4, 8, 16 and 32; this backbone has {sorted(ends)}")
        e4, e8, e16, e32 = (ends[r] for r in (4, 8, 16, 32))
        blocks = list(backbone.blocks)
        self.pretrained = nn.Module()
        self.pretrained.layer1 = nn.Sequential(backbone.conv_stem, backbone.bn1, nn.Identity(), *blocks[: e4 + 1])
        self.pretrained.layer2 = nn.Sequential(*blocks[e4 + 1 : e8 + 1])
        self.pretrained.layer3 = nn.Sequential(*blocks[e8 + 1 : e16 + 1])
        self.pretrained.layer4 = nn.Sequential(*blocks[e16 + 1 : e32 + 1])

        widths = [features, features * 2, features * 4, features * 8]  # 'expand': True
        self.scratch = nn.Module()
        for i, (r, w) in enumerate(zip((4, 8, 16, 32), widths), start=1):
            setattr(self.scratch, f"layer{i}_rn", nn.Conv2d(chans[r], w, kernel_size=3, padding=1, bias=False))
        self.scratch.activation = nn.ReLU(False)
        act = self.scratch.activation
        self.scratch.refinenet4 = _FusionBlock(widths[3], act, expand=True)
        self.scratch.refinenet3 = _FusionBlock(widths[2], act, expand=True)
        self.scratch.refinenet2 = _FusionBlock(widths[1], act, expand=True)
        self.scratch.refinenet1 = _FusionBlock(widths[0], act, expand=False)
        self.scratch.output_conv = nn.Sequential(
            nn.Conv2d(features, features // 2, kernel_size=3, padding=1),
            _Upsample2x(),
            nn.Conv2d(features // 2, 32, kernel_size=3, padding=1),
            act,
            nn.Conv2d(32, 1, kernel_size=1),
            nn.ReLU(True) if non_negative else nn.Identity(),
            nn.Identity(),
        )

    def forward(self, x: Any) -> Any:
        l1 = self.pretrained.layer1(x)
        l2 = self.pretrained.layer2(l1)
        l3 = self.pretrained.layer3(l2)
        l4 = self.pretrained.layer4(l3)
        s = self.scratch
        path = s.refinenet4(s.layer4_rn(l4))
        path = s.refinenet3(path, s.layer3_rn(l3))
        path = s.refinenet2(path, s.layer2_rn(l2))
        path = s.refinenet1(path, s.layer1_rn(l1))
        return s.output_conv(path).squeeze(1)


def build_midas_small(*, features: int = 64, backbone: str = "tf_efficientnet_lite3", **backbone_kwargs: Any) -> MidasSmallNet:
    """MiDaS v2.1 small with random weights (the official one: the defaults).

    ``backbone``: a timm EfficientNet name, always built with ``pretrained=False``
    (tests pass e.g. ``'test_efficientnet'`` and ``features=8`` for a tiny model).
    """
    try:
        import timm
    except ImportError:
        raise BackendError("the MiDaS v2.1 small depth model needs timm: pip install 'glassvid[models]'") from None
    effnet = timm.create_model(backbone, pretrained=False, **backbone_kwargs)
    return MidasSmallNet(backbone=effnet, features=features)


class _PredictedDepth(nn.Module):
    """transformers' ``DPTForDepthEstimation`` with the call contract ``net(x) -> BxHxW``.

    ``native_size``: the square input size of its config (``image_size``); ``fixed``:
    whether it accepts only that size (the ViT-hybrid embeddings refuse others).
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        size = getattr(model.config, "image_size", 384)
        self.native_size = int(size if isinstance(size, int) else size[0])
        self.fixed = bool(getattr(model.config, "is_hybrid", False))

    def forward(self, x: Any) -> Any:
        return self.model(pixel_values=x).predicted_depth


# ------------------------------------------------------------------ models by name


@dataclass(frozen=True)
class ModelSpec:
    """How one ``depth.model`` is built, fed and loaded."""

    input_size: int  # px, the size it was trained at
    normalization: tuple[tuple[float, float, float], tuple[float, float, float]]
    resize_mode: str
    official: str  # where the official weights are published
    format: str  # 'native': a state-dict file for ``build()``; 'transformers': a model folder
    build: Callable[[], Any] | None = None


_SMALL_URL = "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt"
_DPT_RELEASES = "the original dpt_*_384.pt are at https://github.com/isl-org/MiDaS/releases (v3), convert them with transformers' convert_dpt_*_to_pytorch.py"

MIDAS_MODELS: dict[str, ModelSpec] = {
    "midas_v21_small": ModelSpec(
        input_size=256, normalization=IMAGENET, resize_mode="upper_bound", format="native", build=build_midas_small,
        official=f"midas_v21_small_256.pt from the MiDaS releases, {_SMALL_URL}",
    ),
    "dpt_hybrid": ModelSpec(
        input_size=384, normalization=HALF, resize_mode="square", format="transformers",
        official=f"a transformers folder of https://huggingface.co/Intel/dpt-hybrid-midas (config.json + model.safetensors); {_DPT_RELEASES}",
    ),
    "dpt_large": ModelSpec(
        input_size=384, normalization=HALF, resize_mode="square", format="transformers",
        official=f"a transformers folder of https://huggingface.co/Intel/dpt-large (config.json + model.safetensors); {_DPT_RELEASES}",
    ),
}
"""``depth.model`` -> its spec. Tests swap in tiny builds under the same names."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _load_native(path: Path, name: str, spec: ModelSpec) -> Any:
    """``spec.build()`` with the state dict in ``path``, keys matched strictly."""
    fix = f"point --set depth.checkpoint at {spec.official}, or set depth.model to the variant it is"
    if path.is_dir():
        raise BackendError(f"depth.model='{name}' needs a checkpoint file, but depth.checkpoint '{path}' is a folder; {fix}")
    try:
        state = load_state_dict(path)
    except BackendError as exc:
        raise BackendError(f"{exc} (depth.checkpoint)") from None
    except Exception as exc:  # safetensors and zip readers raise their own types on foreign files
        raise BackendError(f"cannot read depth.checkpoint '{path}' ({_first_line(exc)}); {fix}") from None
    net = spec.build()
    own = net.state_dict()
    # BatchNorm's num_batches_tracked counter does not affect inference; checkpoints
    # saved without it still fit.
    for key, value in own.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        what = []
        if missing:
            what.append(f"{len(missing)} weights missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            what.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        hint = ""
        if "pretrained.model.cls_token" in state:
            hint = " It looks like an original-repo DPT checkpoint: for DPT give depth.model=dpt_hybrid/dpt_large a transformers folder."
        raise BackendError(f"checkpoint '{path}' does not fit MiDaS {name}: {'; '.join(what)}.{hint} Fix: {fix}")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # same keys, other shapes (another width)
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:2])[:200]
        raise BackendError(f"checkpoint '{path}' does not fit MiDaS {name} ({detail}); {fix}") from None
    return net


def _load_transformers_dpt(path: Path, name: str, spec: ModelSpec) -> Any:
    """transformers ``DPTForDepthEstimation`` from a local folder; every weight must be there."""
    fix = f"point --set depth.checkpoint at {spec.official}"
    if not path.is_dir() or not (path / "config.json").is_file():
        kind = "a file" if path.is_file() else "a folder without config.json"
        raise BackendError(f"depth.model='{name}' loads a transformers DPT folder (config.json + model.safetensors), but depth.checkpoint '{path}' is {kind}; {fix}")
    try:
        model_type = json.loads((path / "config.json").read_text()).get("model_type")
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot read '{path / 'config.json'}' ({_first_line(exc)}); {fix}") from None
    if model_type != "dpt":
        raise BackendError(f"depth.checkpoint '{path}' holds a '{model_type}' model, not a DPT one (model_type 'dpt'); {fix}")
    try:
        from transformers import DPTForDepthEstimation
    except ImportError:
        raise BackendError(f"depth.model='{name}' needs transformers: pip install 'glassvid[models]'") from None
    try:
        # local_files_only: a folder path never reaches the hub; .bin files load with weights_only.
        model, info = DPTForDepthEstimation.from_pretrained(str(path), local_files_only=True, output_loading_info=True)
    except Exception as exc:  # transformers raises OSError, ValueError, RuntimeError, ... on bad folders
        raise BackendError(f"cannot load the DPT model in depth.checkpoint '{path}' ({_first_line(exc)}); {fix}") from None
    bad = [f"{k.replace('_', ' ')}: {', '.join(sorted(map(str, v))[:3])}" for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v]
    if bad:
        raise BackendError(f"depth.checkpoint '{path}' does not fit its config.json ({'; '.join(bad)}); {fix}")
    return _PredictedDepth(model.float())


# ------------------------------------------------------------------ the estimator


class MidasDepth:
    """Depth stage backend on a MiDaS / DPT network: ``(frame, mask) -> DepthResult``.

    ``net``: a module with the MiDaS call contract, ``net(x) -> BxHxW`` (or Bx1xHxW)
    relative inverse depth for x Bx3xHxW normalised RGB, H and W multiples of 32.
    ``input_size``: px the frame is resized to (see :func:`model_input_size`), rounded
    to a multiple of 32. ``cfg``: :class:`DepthConfig` (``profile``, ``object_weight``,
    ``temporal_alignment``, ``temporal_memory``). ``device``: where to run (None keeps
    the net where it is). ``normalization``: (mean, std) per RGB channel, :data:`IMAGENET`
    or :data:`HALF`. ``resize_mode``: one of :data:`RESIZE_MODES`.
    """

    def __init__(
        self,
        *,
        net: Any,
        input_size: int,
        cfg: DepthConfig,
        device: Any = None,
        normalization: tuple[tuple[float, float, float], tuple[float, float, float]] = IMAGENET,
        resize_mode: str = "upper_bound",
    ) -> None:
        if not isinstance(input_size, int) or input_size < 1:
            raise ConfigError(f"MiDaS input_size must be a positive number of pixels, got {input_size!r} (--set depth.input_size=256)")
        if resize_mode not in RESIZE_MODES:
            raise ConfigError(f"MiDaS resize_mode '{resize_mode}' is not one of {', '.join(RESIZE_MODES)}")
        mean, std = (np.asarray(v, np.float32) for v in normalization)
        if mean.shape != (3,) or std.shape != (3,) or not (std > 0).all():
            raise ConfigError(f"MiDaS normalization must be ((3 means), (3 positive stds)), got {normalization!r}")
        self.input_size = max(MULTIPLE, int(round(input_size / MULTIPLE)) * MULTIPLE)
        self.resize_mode = resize_mode
        self.cfg = cfg
        self._mean, self._std = mean, std
        if device is not None:
            net = net.to(device)
        # eval(): the EfficientNet's BatchNorm must use its running statistics.
        self.net = net.eval()
        param = next(iter(net.parameters()), None)
        self.device = param.device if param is not None else torch.device(device or "cpu")
        self.dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        self.alignment = SceneAlignment(memory=float(cfg.temporal_memory))

    @classmethod
    def from_config(cls, cfg: DepthConfig, runtime: RuntimeConfig | None = None) -> "MidasDepth":
        """``cfg.model`` with weights from ``cfg.checkpoint`` (a local path; nothing downloads)."""
        spec = MIDAS_MODELS.get(cfg.model)
        if spec is None:
            raise ConfigError(f"depth.model='{cfg.model}' is not a MiDaS model; known: {', '.join(sorted(MIDAS_MODELS))}")
        ckpt = require_checkpoint(cfg.checkpoint, what=f"MiDaS depth ({cfg.model})", setting="depth.checkpoint", official=spec.official)
        load = _load_native if spec.format == "native" else _load_transformers_dpt
        net = load(ckpt, cfg.model, spec)
        size = cfg.input_size or getattr(net, "native_size", spec.input_size)
        if getattr(net, "fixed", False) and size != net.native_size:
            raise ConfigError(
                f"depth.input_size={cfg.input_size}: the DPT-hybrid model in '{ckpt}' only takes {net.native_size} px inputs "
                f"(transformers' ViT-hybrid embeddings); set depth.input_size=0"
            )
        log.info("MiDaS: %s from %s at %d px", cfg.model, ckpt, size)
        return cls(net=net, input_size=size, cfg=cfg, device=resolve_device(runtime), normalization=spec.normalization, resize_mode=spec.resize_mode)

    def reset(self) -> None:
        """Forget the scene-depth alignment (call at a scene cut or before another clip)."""
        self.alignment.reset()

    # -- steps ---------------------------------------------------------------------------

    @staticmethod
    def check_inputs(frame: np.ndarray, mask: np.ndarray) -> None:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise InputError(f"MiDaS depth needs an HxWx3 uint8 RGB frame; got {got}")
        if not isinstance(mask, np.ndarray) or mask.shape != frame.shape[:2]:
            got = str(mask.shape) if isinstance(mask, np.ndarray) else type(mask).__name__
            raise InputError(f"MiDaS depth needs an HxW mask the size of the frame {frame.shape[:2]}; got {got}")

    def _prepare(self, frame: np.ndarray) -> Any:
        """RGB uint8 -> 1x3xhxw normalised tensor on the net's device/dtype."""
        h, w = frame.shape[:2]
        nh, nw = model_input_size(h, w, self.input_size, self.resize_mode)
        # Resized as float in [0, 1] with bicubic interpolation, as MiDaS' run.py does.
        x = cv2.resize(frame.astype(np.float32) / 255.0, (nw, nh), interpolation=cv2.INTER_CUBIC)
        x = (x - self._mean) / self._std
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        return t.to(device=self.device, dtype=self.dtype)

    def inverse_depth(self, frame: np.ndarray) -> np.ndarray:
        """The network's relative inverse depth (larger = nearer) at the frame's size: HxW float32.

        Unaligned: its scale and shift are arbitrary per frame. ``frame``: HxWx3 uint8 RGB.
        """
        h, w = frame.shape[:2]
        x = self._prepare(frame)
        with torch.inference_mode():
            pred = self.net(x)
            pred = getattr(pred, "predicted_depth", pred)
            if pred.ndim == 3:
                pred = pred[:, None]
            pred = nn.functional.interpolate(pred.float(), size=(h, w), mode="bicubic", align_corners=False)
        return np.ascontiguousarray(pred[0, 0].cpu().numpy(), dtype=np.float32)

    # -- public --------------------------------------------------------------------------

    def __call__(self, frame: np.ndarray, mask: np.ndarray) -> DepthResult:
        """Object height and aligned scene depth of one frame of the clip.

        ``frame``: HxWx3 uint8 RGB. ``mask``: HxW bool (True = the object).
        Returns ``height`` HxW float32 in [0, 1], 0 outside the mask; ``radius_px`` the
        silhouette's half-width; ``scene`` HxW float32 relative depth (larger = farther,
        1 = the first frame's median background depth, at most ``MAX_RELATIVE_DEPTH``).
        """
        # 1. validate
        self.check_inputs(frame, mask)
        mask = mask.astype(bool)
        # 2. the network's inverse depth at the frame's size
        inv = self.inverse_depth(frame)
        # 3. object shape: silhouette inflation refined by the model's relief
        height, radius = inflate(mask, self.cfg.profile)
        weight = float(self.cfg.object_weight)
        relief = model_height(inv, mask) if weight > 0.0 else None
        if relief is not None:
            height = np.clip((1.0 - weight) * height + weight * relief, 0.0, 1.0).astype(np.float32)
            height[~mask] = 0.0
        # 4. scene depth, aligned over time over the background
        background = ~mask
        if self.cfg.temporal_alignment:
            aligned = self.alignment.align(inv, background)
        else:
            aligned = (inv * normalise_first(inv, background)).astype(np.float32)
        return DepthResult(height=height, radius_px=radius, scene=inverse_to_depth(aligned))
