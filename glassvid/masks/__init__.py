"""Mask stage: a prompt on one frame, propagated forward and backward through the clip.

Contract: a propagator is built once per clip; ``start(frame, mask)`` returns the
per-direction state, ``step(state, frame, flow_to_prev)`` returns the next frame's
``(mask, confidence)``: HxW bool (True = object) and a float in [0, 1]; ``turn(state)``
a copy to step the other way from the same frame. A run of frames is propagated by
:func:`glassvid.masks.propagate.propagate`, which revisits unsure stretches that way.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from glassvid.config import MaskConfig, RuntimeConfig
from glassvid.registry import Registry


class MaskPropagator(Protocol):
    #: whether the propagator uses the clip's hints: for a box prompt, ``initial_mask``'s ``motion``,
    #: ``difference`` and ``behind``; for every step, ``step``'s ``neighbours``. The pipeline computes
    #: them only then (they read the frames around each frame, the background view every frame of the clip)
    uses_clip_hints: bool

    def initial_mask(self, frame: np.ndarray, prompt: Any, motion: np.ndarray | None = None, difference: np.ndarray | None = None, behind: np.ndarray | None = None) -> np.ndarray:
        """The object's mask on the prompt frame (RGB uint8 HxWx3 in, HxW bool out).

        ``motion``: HxWx2, where the frame's pixels go over the next few frames (or the
        previous ones); ``difference``: HxW float32 (NaN where unknown), how far each pixel is
        from what the other frames show at its place, and ``behind``: HxWx3 float32, what they
        show (:func:`glassvid.masks.background.background_view`). A backend may use them to
        tell a moving object from its background.
        """

    def start(self, frame: np.ndarray, mask: np.ndarray) -> Any:
        """Per-direction state seeded with a known frame and its mask."""

    def step(self, state: Any, frame: np.ndarray, flow_to_prev: np.ndarray, valid: np.ndarray | None = None, neighbours: Any = None) -> tuple[np.ndarray, float]:
        """Mask of ``frame`` given the state of the previous frame and flow frame -> previous frame.

        ``valid``: HxW bool, where that flow passed the forward-backward check (None = all).
        ``neighbours``: how far ``frame``'s pixels are from what the frames around it show at
        their place, on any grid (:data:`glassvid.masks.classic.Neighbours`); None = not known.
        """

    def turn(self, state: Any) -> Any:
        """A copy of ``state`` for stepping the other way from its frame; ``state`` is left as it is."""


MASK_BACKENDS: Registry[MaskPropagator] = Registry("masks")


@MASK_BACKENDS.register("classic")
def build_classic(cfg: MaskConfig, runtime: RuntimeConfig | None = None) -> MaskPropagator:
    from glassvid.masks.classic import ClassicMasks

    return ClassicMasks(cfg)


@MASK_BACKENDS.register("sam")
def build_sam(cfg: MaskConfig, runtime: RuntimeConfig | None = None) -> MaskPropagator:
    from glassvid.masks.sam import SamMasks

    return SamMasks.from_config(cfg, runtime)


def build_masks(cfg: MaskConfig, runtime: RuntimeConfig | None = None) -> MaskPropagator:
    """The mask propagator named by ``cfg.backend``."""
    return MASK_BACKENDS.build(cfg.backend, cfg, runtime)
