"""The classic backend's compiled loops against the numpy they replace."""

from __future__ import annotations

import numpy as np

from glassvid.masks.kernels import match_scores


def test_match_scores_is_the_clipped_mean_log_ratio_over_the_samples_in_the_frame() -> None:
    rng = np.random.default_rng(0)
    h, w, n3, cells = 60, 80, 64, 5
    codes = rng.integers(0, n3, (h, w)).astype(np.int32)
    obj_log = rng.normal(0, 3, cells * n3).astype(np.float32)
    frame_log = rng.normal(0, 3, n3).astype(np.float32)
    k = 50
    dx, dy = rng.uniform(-12, 12, k), rng.uniform(-12, 12, k)
    base = rng.integers(0, cells, k) * n3
    places = np.stack([rng.uniform(0.5, 2, 20), rng.uniform(-40, 80, 20), rng.uniform(-30, 60, 20)], 1)
    places[0] = (1.0, 500.0, 0.0)  # wholly outside the frame: scores 0
    cx, cy, clip, visible = 30.0, 25.0, 3.0, 0.5
    got = match_scores(places, dx, dy, base, codes, obj_log, frame_log, cx, cy, clip, visible)
    # the numpy it replaces
    x = np.round(cx + places[:, :1] * dx[None] + places[:, 1:2]).astype(np.int64)
    y = np.round(cy + places[:, :1] * dy[None] + places[:, 2:3]).astype(np.int64)
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    col = codes[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]
    lr = np.clip(obj_log[base[None] + col] - frame_log[col], -clip, clip)
    seen = inside.sum(1)
    want = np.where(inside, lr, 0).sum(1) / np.maximum(seen, 1) * np.minimum(1.0, seen / (visible * k))
    assert not inside[0].any() and got[0] == 0.0
    assert (inside.mean(1) < 0.5).sum() > 2 and (inside.mean(1) > 0.5).sum() > 2  # partly visible placements of both kinds
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
