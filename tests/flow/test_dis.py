"""DIS backend: presets, the finest-level fit, reduced scale, both directions, accuracy on a known motion."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from glassvid.config import FlowConfig, load_config
from glassvid.errors import ConfigError
from glassvid.flow import build_flow
from glassvid.flow.dis import MIN_FINEST_WIDTH_PX, DISFlow


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random RGB texture (blurred noise at two scales): DIS can lock on to it anywhere."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.random((h, w, 3), np.float32), (0, 0), 2.0)
    coarse = cv2.resize(rng.random((h // 16 + 1, w // 16 + 1, 3), np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = 0.6 * (fine - fine.mean()) / fine.std() + 0.4 * (coarse - coarse.mean()) / coarse.std()
    return np.clip(128 + 40 * img, 0, 255).astype(np.uint8)


def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` moved by (dx, dy): the flow from ``img`` to the result is (dx, dy) everywhere."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def epe(flow: np.ndarray, dx: float, dy: float, margin: int = 12) -> float:
    inner = flow[margin:-margin, margin:-margin]
    return float(np.hypot(inner[..., 0] - dx, inner[..., 1] - dy).mean())


def test_default_preset_is_ultrafast_and_builds_from_config() -> None:
    assert FlowConfig().preset == "ultrafast"
    est = build_flow(load_config().flow)
    assert isinstance(est, DISFlow) and est.preset == "ultrafast"


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="ultrafast, fast, medium"):
        DISFlow(preset="turbo")
    with pytest.raises(ConfigError):
        load_config(sets=["flow.preset=turbo"])


@pytest.mark.parametrize("preset", ["ultrafast", "fast", "medium"])
def test_each_preset_recovers_a_known_shift(preset: str) -> None:
    a = texture(120, 200)
    b = shifted(a, 3.4, -1.7)
    flow = DISFlow(preset=preset)(a, b)
    assert flow.shape == (120, 200, 2) and flow.dtype == np.float32
    assert epe(flow, 3.4, -1.7) < 0.5


def test_finest_level_is_kept_at_least_min_width_wide() -> None:
    dis = DISFlow(preset="ultrafast")
    a = texture(64, 96)
    dis(a, a)
    assert dis.finest_scale == 0  # a 96-px frame is solved at full size, not at 24 px
    big = texture(240, 854)
    dis(big, big)
    assert dis.finest_scale == 2  # the preset's own level: 854 / 4 = 213 px >= 160
    assert 854 / 2**dis.finest_scale >= MIN_FINEST_WIDTH_PX
    coarse = DISFlow(preset="ultrafast", min_width_px=20)
    coarse(a, a)
    assert coarse.finest_scale == 2  # never finer-than-needed beyond the preset's level


def test_half_scale_at_854_wide_solves_at_the_same_level() -> None:
    """At 854 px, scale 0.5 only moves work out of DIS's pyramid: it is solved 213 px wide either way."""
    a = texture(240, 854, seed=1)
    b = shifted(a, 5.0, 2.0)
    full, half = DISFlow(preset="ultrafast"), DISFlow(preset="ultrafast", scale=0.5)
    f_full, f_half = full(a, b), half(a, b)
    assert f_half.shape == f_full.shape
    assert 854 / 2**full.finest_scale == pytest.approx(427 / 2**half.finest_scale, abs=1)
    assert epe(f_half, 5.0, 2.0) < 0.6 and epe(f_full, 5.0, 2.0) < 0.6


def test_reduced_scale_upsamples_vectors_back_to_full_size() -> None:
    a = texture(200, 320, seed=2)
    b = shifted(a, 6.0, 0.0)
    flow = DISFlow(preset="fast", scale=0.5, min_width_px=40)(a, b)
    assert flow.shape == (200, 320, 2)
    assert epe(flow, 6.0, 0.0) < 0.8  # vectors are in full-size pixels


def test_pair_gives_both_directions() -> None:
    a = texture(120, 200, seed=3)
    b = shifted(a, -2.5, 1.5)
    fwd, bwd = DISFlow().pair(a, b)
    assert epe(fwd, -2.5, 1.5) < 0.5
    assert epe(bwd, 2.5, -1.5) < 0.5
    assert np.array_equal(fwd, DISFlow()(a, b))


def test_bad_scale_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        DISFlow(scale=0.0)
