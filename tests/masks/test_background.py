"""What the other frames show behind a box (glassvid.masks.background) on a synthetic panning shot."""

from __future__ import annotations

import numpy as np

from glassvid.flow.dis import DISFlow
from glassvid.masks.background import background_view

W, H = 160, 120


def _scene(count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A camera panning over a textured wall (it streams left 3 px a frame) while a disc it follows moves right."""
    rng = np.random.default_rng(0)
    import cv2

    wall = cv2.resize(rng.uniform(30, 225, (40, 80, 3)).astype(np.float32), (2 * W, H), interpolation=cv2.INTER_CUBIC)
    wall = np.clip(wall + rng.normal(0, 8, wall.shape), 0, 255).astype(np.uint8)
    ys, xs = np.mgrid[0:H, 0:W]
    frames, masks = [], []
    for i in range(count):
        f = wall[:, 3 * i : 3 * i + W].copy()
        m = (xs - (60 + i)) ** 2 + (ys - 60) ** 2 <= 15 * 15
        f[m] = np.where((((xs - i) // 5 + ys // 5) % 2 == 0)[..., None], [240, 240, 240], [20, 20, 200])[m].astype(np.uint8)
        frames.append(f)
        masks.append(m)
    return frames, masks


def _chain(frames: list[np.ndarray]):
    dis = DISFlow(preset="fast")
    return ((frames[t], dis(frames[t], frames[t - 1])) for t in range(1, len(frames)))


def test_the_object_differs_from_what_the_other_frames_show_and_the_background_does_not() -> None:
    frames, masks = _scene(16)
    box = (40, 40, 80, 80)
    view = background_view(frames[0], box, [_chain(frames)])
    assert view is not None
    diff = view[0]
    assert diff.shape == (H, W) and diff.dtype == np.float32
    inside = np.zeros((H, W), bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    assert np.median(diff[masks[0]]) > 10 * np.median(diff[inside & ~masks[0]])
    assert np.isnan(diff[0, W - 1])  # far from the box: not computed


def test_too_few_frames_tell_nothing() -> None:
    frames, _ = _scene(4)
    assert background_view(frames[0], (40, 40, 80, 80), [_chain(frames)]) is None


def test_what_the_other_frames_show_is_the_background_behind_the_object() -> None:
    frames, masks = _scene(16)
    box = (40, 40, 80, 80)
    view = background_view(frames[0], box, [_chain(frames)])
    assert view is not None
    diff, behind = view
    assert behind.shape == (H, W, 3) and behind.dtype == np.float32
    assert np.array_equal(np.isnan(diff), np.isnan(behind).any(axis=2))
    inside = np.zeros((H, W), bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    distance = np.abs(behind - frames[0].astype(np.float32)).sum(axis=2)
    assert np.median(distance[inside & ~masks[0]]) < 20  # the background shows itself
    assert np.median(distance[masks[0]]) > 100  # the object's place shows the wall behind it
