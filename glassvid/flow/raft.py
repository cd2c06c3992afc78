"""RAFT optical flow (Teed & Deng, "RAFT: Recurrent All-Pairs Field Transforms for
Optical Flow", ECCV 2020) through torchvision's implementation: the model backend
of the flow stage (``--set flow.backend=raft``, needs ``glassvid[models]``).

RAFT extracts features of both frames at 1/8 resolution, builds the correlation of
*every* pixel pair (a 4D volume, pooled into a 4-level pyramid) and refines the flow
with a recurrent update unit, ``iterations`` times; the 1/8 flow is upsampled to the
input size by a learned convex combination. Much better than DIS on large motion and
weak texture, but its cost grows with the square of the pixel count: RAFT small at
1080p needs about 14 GiB and 30 s a pair on a 2-core CPU (MACHINE-NOTES). So frames are
shrunk by ``scale`` first and the flow is resized back to full resolution, its vectors
multiplied by the size ratio (about ``1 / scale``): 0.5 costs ~4x less memory and
time than 1.0 at the price of detail on thin structures and motion boundaries.

Pre-processing follows torchvision's ``Raft_*_Weights.transforms`` (``[0, 255]`` ->
``[-1, 1]``); the frame is padded (replicate) to a multiple of 8, and to the least size
the correlation pyramid accepts (128 px for 4 levels), and the flow cropped back.

Device and dtype: the model runs where its parameters are (``device`` moves it; the
builder uses ``runtime.device``, 'auto' = CUDA if available) and in their dtype (a
caller may pass a ``.half()`` model on CUDA); inputs are converted to match, and the
returned flow is always a float32 numpy array on the CPU.

Convention (see :mod:`glassvid.flow.ops`): flow from A to B is HxWx2 float32,
``(dx, dy)`` in pixels of A's full resolution, x right, y down.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from glassvid.config import FlowConfig, RuntimeConfig
from glassvid.errors import BackendError, ConfigError, InputError
from glassvid.flow.ops import resize_flow
from glassvid.models import import_torch, load_state_dict, require_checkpoint, resolve_device, state_dict_misfit

log = logging.getLogger(__name__)

_STRIDE = 8
"""RAFT's encoders downsample by 8, and its forward() rejects sizes not divisible by 8."""


def _variants() -> dict[str, tuple[Any, Any]]:
    """``name -> (builder, official weights enum entry)`` of torchvision's RAFT models."""
    from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights, raft_large, raft_small

    # C_T_*_V2: trained on FlyingChairs + FlyingThings (+ Sintel, KITTI, HD1K for large);
    # the V2 entries are torchvision's recommended (DEFAULT) weights.
    return {
        "raft_small": (raft_small, Raft_Small_Weights.C_T_V2),
        "raft_large": (raft_large, Raft_Large_Weights.C_T_SKHT_V2),
    }


def _min_side(model: Any) -> int:
    """Least input height/width the model accepts.

    torchvision's CorrBlock pools the 1/8 feature maps ``num_levels - 1`` times and wants
    at least 2 values left, so inputs need ``8 * 2 * 2**(num_levels - 1)`` px (128 for 4).
    """
    corr = getattr(model, "corr_block", None)
    levels = getattr(corr, "num_levels", None)
    if not isinstance(levels, int):
        return _STRIDE
    return _STRIDE * 2 * 2 ** (levels - 1)


class RAFTFlow:
    """Dense flow from RGB frame ``a`` to ``b`` with a torchvision RAFT model at reduced scale.

    ``model``: a torchvision ``RAFT`` (or any module with its call contract:
    ``model(image1, image2, num_flow_updates=N)`` on Bx3xHxW float in ``[-1, 1]``, H and W
    divisible by 8, returning a list of Bx2xHxW flow predictions, the last the best).
    ``scale``: fraction of the frame size RAFT runs at, in ``(0, 1]``.
    ``device``: where to run (a torch device or name); None keeps the model where it is.
    ``iterations``: recurrent refinement steps (RAFT's default is 12).
    """

    def __init__(self, *, model: Any, scale: float = 0.5, device: Any = None, iterations: int = 12) -> None:
        torch = import_torch("the RAFT flow backend")
        if not 0.0 < scale <= 1.0:
            raise ConfigError(f"RAFT scale must be in (0, 1], got {scale}; use e.g. 0.5 (--set flow.scale=0.5)")
        if iterations < 1:
            raise ConfigError(f"RAFT iterations must be >= 1, got {iterations}")
        self._torch = torch
        self.scale = float(scale)
        self.iterations = int(iterations)
        if device is not None:
            model = model.to(device)
        # eval(): raft_large's context encoder has BatchNorm; its running stats must be used,
        # which also makes a batch of 2 give the same flow as two batches of 1.
        self.model = model.eval()
        param = next(iter(model.parameters()), None)
        self.device = param.device if param is not None else torch.device(device or "cpu")
        self.dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        self._min_side = _min_side(model)

    @classmethod
    def from_config(cls, cfg: FlowConfig, runtime: RuntimeConfig | None = None) -> "RAFTFlow":
        """RAFT ``cfg.model`` with weights from ``cfg.checkpoint`` or torch's hub cache.

        Without ``cfg.checkpoint`` the official torchvision file is looked up where
        ``torchvision`` would have downloaded it (``$TORCH_HOME/hub/checkpoints``, by default
        ``~/.cache/torch/hub/checkpoints``); glassvid itself never downloads weights.
        """
        torch = import_torch("the RAFT flow backend")
        variants = _variants()
        if cfg.model not in variants:
            raise ConfigError(f"flow.model='{cfg.model}' is not a RAFT variant; known: {', '.join(sorted(variants))}")
        build, weights = variants[cfg.model]
        path = cfg.checkpoint
        hub = Path(torch.hub.get_dir()) / "checkpoints"  # honours $TORCH_HOME and $XDG_CACHE_HOME
        if not path:
            cached = hub / Path(weights.url).name
            if cached.is_file():
                log.info("RAFT: using %s from the torch hub cache", cached)
                path = str(cached)
        official = f"{weights.url}, or put that file in {hub}"
        ckpt = require_checkpoint(path, what=f"RAFT flow ({cfg.model})", setting="flow.checkpoint", official=official)
        model = build(weights=None)
        state = load_state_dict(ckpt)
        misfit = state_dict_misfit(model.state_dict(), state)
        if misfit:
            raise BackendError(
                f"checkpoint '{ckpt}' does not fit torchvision {cfg.model} ({misfit}); "
                f"point flow.checkpoint at a {cfg.model} checkpoint ({weights.url}) or set flow.model to the variant it was trained as"
            )
        model.load_state_dict(state, strict=True)
        return cls(model=model, scale=cfg.raft_scale, iterations=cfg.raft_iterations, device=resolve_device(runtime))

    # -- steps ---------------------------------------------------------------------------

    @staticmethod
    def _check_inputs(a: np.ndarray, b: np.ndarray) -> None:
        for name, x in (("a", a), ("b", b)):
            if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 3 or x.shape[2] != 3:
                got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
                raise InputError(f"RAFT flow needs HxWx3 uint8 RGB frames; frame {name} is {got}")
        if a.shape != b.shape:
            raise InputError(f"RAFT flow needs two frames of one size; got {a.shape} and {b.shape}")

    def _work_size(self, w: int, h: int) -> tuple[int, int]:
        return max(1, round(w * self.scale)), max(1, round(h * self.scale))

    def _prepare(self, frames: list[np.ndarray]) -> tuple[Any, tuple[int, int, int, int]]:
        """Frames -> Bx3xHpxWp tensor in [-1, 1] on the model's device/dtype, and the pad (l, r, t, b)."""
        torch = self._torch
        h, w = frames[0].shape[:2]
        sw, sh = self._work_size(w, h)
        if (sw, sh) != (w, h):
            # INTER_AREA: anti-aliased shrinking, as DISFlow does.
            frames = [cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) for f in frames]
        x = torch.from_numpy(np.ascontiguousarray(np.stack(frames))).to(self.device)
        x = x.permute(0, 3, 1, 2).to(self.dtype)
        # Raft_*_Weights.transforms: convert_image_dtype ([0, 1]) then normalise with mean = std = 0.5.
        x = x / 127.5 - 1.0
        pw = max(-(-sw // _STRIDE) * _STRIDE, self._min_side) - sw
        ph = max(-(-sh // _STRIDE) * _STRIDE, self._min_side) - sh
        # Centred padding, as the authors' InputPadder does for Sintel (princeton-vl/RAFT core/utils/utils.py).
        pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
        if pw or ph:
            x = torch.nn.functional.pad(x, pad, mode="replicate")
        return x, pad

    def _run(self, image1: Any, image2: Any, pad: tuple[int, int, int, int], size: tuple[int, int]) -> list[np.ndarray]:
        """Model on the prepared batch -> one full-resolution HxWx2 float32 flow per item."""
        with self._torch.inference_mode():
            flow = self.model(image1, image2, num_flow_updates=self.iterations)[-1]
        l, _, t, _ = pad
        sh, sw = image1.shape[-2] - pad[2] - pad[3], image1.shape[-1] - pad[0] - pad[1]
        flow = flow[:, :, t : t + sh, l : l + sw].float().permute(0, 2, 3, 1).cpu().numpy()
        w, h = size
        # resize_flow multiplies the vectors by the size ratio: pixels measured in the
        # reduced image are (about) 1 / scale full-resolution pixels.
        return [resize_flow(np.ascontiguousarray(f, dtype=np.float32), w, h) for f in flow]

    # -- public --------------------------------------------------------------------------

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Flow a -> b: HxWx2 float32, ``(dx, dy)`` full-resolution pixels; a, b HxWx3 uint8 RGB."""
        self._check_inputs(a, b)
        x, pad = self._prepare([a, b])
        return self._run(x[:1], x[1:], pad, (a.shape[1], a.shape[0]))[0]

    def pair(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flow a -> b, flow b -> a)`` in one batch of 2; each as :meth:`__call__` returns it."""
        self._check_inputs(a, b)
        x, pad = self._prepare([a, b])
        fwd, bwd = self._run(x, x.flip(0), pad, (a.shape[1], a.shape[0]))
        return fwd, bwd
