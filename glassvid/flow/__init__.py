"""Optical flow stage: ``estimator(a, b) -> flow a->b`` (see :mod:`glassvid.flow.ops` for the convention)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from glassvid.config import FlowConfig, RuntimeConfig
from glassvid.registry import Registry

class FlowEstimator(Protocol):
    """Dense optical flow between two RGB uint8 frames of one size."""

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``HxWx2 float32`` flow from ``a`` to ``b``."""

    def pair(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both directions, ``(flow a->b, flow b->a)``, batched where the backend can."""

FLOW_BACKENDS: Registry[FlowEstimator] = Registry("flow")


@FLOW_BACKENDS.register("dis")
def build_dis(cfg: FlowConfig, runtime: RuntimeConfig | None = None) -> FlowEstimator:
    from glassvid.flow.dis import DISFlow

    return DISFlow(preset=cfg.preset, scale=cfg.scale)


@FLOW_BACKENDS.register("raft")
def build_raft(cfg: FlowConfig, runtime: RuntimeConfig | None = None) -> FlowEstimator:
    from glassvid.flow.raft import RAFTFlow

    return RAFTFlow.from_config(cfg, runtime)


def build_flow(cfg: FlowConfig, runtime: RuntimeConfig | None = None) -> FlowEstimator:
    """The flow estimator named by ``cfg.backend``."""
    return FLOW_BACKENDS.build(cfg.backend, cfg, runtime)
