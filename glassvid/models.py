"""Shared plumbing of the model backends: torch import, device choice, safe checkpoint loading.

Checkpoints load with ``safetensors`` or ``torch.load(weights_only=True)``: an
arbitrary pickle is never executed. A missing checkpoint is a :class:`BackendError`
naming the file, the setting that points at it and where the official weights are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from glassvid.config import RuntimeConfig
from glassvid.errors import BackendError
from glassvid.registry import require_torch


def import_torch(feature: str) -> Any:
    """torch, with a wait policy that does not spin when another process holds a core.

    With OpenMP's default active waiting, torch on 2 threads ran 10-17x slower beside
    another busy process (MACHINE-NOTES); passive waiting must be set before import.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return require_torch(feature)


def resolve_device(runtime: RuntimeConfig | None) -> Any:
    """The torch device named by ``runtime.device`` ('auto' = CUDA when available, else CPU)."""
    torch = import_torch("a model backend")
    runtime = runtime or RuntimeConfig()
    if runtime.threads > 0:
        torch.set_num_threads(runtime.threads)
    name = runtime.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise BackendError(f"runtime.device='{runtime.device}' is not a device torch knows; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(f"runtime.device='{runtime.device}' but this torch has no usable CUDA device; use --set runtime.device=cpu")
    return device


def require_checkpoint(path: str, *, what: str, setting: str, official: str) -> Path:
    """The checkpoint file/folder at ``path``, or a clear error saying how to get one."""
    if not path:
        raise BackendError(f"{what} needs a local checkpoint: pass --set {setting}=PATH (official weights: {official}); glassvid never downloads weights")
    p = Path(path).expanduser()
    if not p.exists():
        raise BackendError(f"{what} checkpoint '{p}' does not exist; fix --set {setting}=PATH (official weights: {official})")
    return p


def load_state_dict(path: str | os.PathLike) -> dict[str, Any]:
    """A state dict from ``.safetensors`` or a torch file, without executing pickles.

    Checkpoints that wrap the weights (``{"model": ...}``, ``{"state_dict": ...}``) are unwrapped.
    """
    torch = import_torch("loading a checkpoint")
    p = Path(path)
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p), device="cpu")
    try:
        data = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or pickled files
        raise BackendError(f"cannot load checkpoint '{p}' safely ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); give a .safetensors file or a weights-only .pth") from None
    for key in ("model", "state_dict", "model_state_dict"):
        if isinstance(data, dict) and key in data and isinstance(data[key], dict):
            data = data[key]
    if not isinstance(data, dict):
        raise BackendError(f"checkpoint '{p}' holds a {type(data).__name__}, not a state dict of weights")
    return data


def state_dict_misfit(expected: dict[str, Any], state: dict[str, Any]) -> str:
    """Why ``state`` cannot load strictly into a model whose state dict is ``expected``; '' when it can.

    Counts missing keys, unexpected keys and shape mismatches, each with an example,
    so a wrong checkpoint's error says what kind of wrong it is.
    """
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and tuple(getattr(state[k], "shape", ())) != tuple(expected[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s), e.g. '{missing[0]}'")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s), e.g. '{unexpected[0]}'")
    if shapes:
        k = shapes[0]
        parts.append(f"{len(shapes)} of another shape, e.g. '{k}' {tuple(state[k].shape)} in the file vs {tuple(expected[k].shape)} in the model")
    return "; ".join(parts)
