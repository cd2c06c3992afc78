"""What the other frames show behind a box, and around each frame (glassvid.masks.background), on a synthetic panning shot."""

from __future__ import annotations

import numpy as np

from glassvid.flow.dis import DISFlow
import cv2

from glassvid.masks.background import _NEIGHBOUR_KEEP, NeighbourFrames, _median_few, _nan_quantile, _reached, background_view

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


def _neighbours(frames: list[np.ndarray]) -> NeighbourFrames:
    """The scene's frames around each frame, aligned along DIS flow to the previous frame (as the pipeline's cached flow)."""
    dis = DISFlow(preset="fast")
    return NeighbourFrames(frames.__getitem__, lambda i: dis(frames[i], frames[i - 1]), len(frames))


def test_each_frame_differs_from_its_neighbours_on_the_object_only() -> None:
    frames, masks = _scene(20)
    neighbours = _neighbours(frames)
    for t in (0, 10, 19):  # from the clip's start, middle and end: the offsets that exist
        distance = neighbours.difference(t, frames[t], np.eye(3))
        assert distance is not None and distance.shape == (H, W) and distance.dtype == np.float32
        core = cv2.erode(masks[t].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        wall = ~(cv2.dilate(masks[t].astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & np.isfinite(distance)
        assert np.median(distance[core]) > 10 * max(np.median(distance[wall]), 1.0)
        assert np.isfinite(distance[core]).all()


def test_the_difference_is_read_on_any_grid() -> None:
    """A half-size grid shifted by the window's corner sees the same object as the full frame at that place."""
    frames, masks = _scene(20)
    t, x0, y0, s = 10, 30, 20, 0.5
    grid = np.array([[s, 0, (0.5 - x0) * s - 0.5], [0, s, (0.5 - y0) * s - 0.5], [0, 0, 1.0]])
    here = cv2.warpAffine(frames[t], grid[:2], (50, 40), flags=cv2.INTER_LINEAR)
    distance = _neighbours(frames).difference(t, here, grid)
    assert distance is not None and distance.shape == (40, 50)
    on_grid = cv2.warpAffine(masks[t].astype(np.uint8), grid[:2], (50, 40), flags=cv2.INTER_NEAREST) > 0
    core = cv2.erode(on_grid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.median(distance[core]) > 10 * max(np.median(distance[~on_grid & np.isfinite(distance)]), 1.0)


def test_a_standing_object_does_not_differ() -> None:
    """What the reading cannot tell: an object that keeps its place against the background reads as background."""
    frames, masks = _scene(20)
    pinned = [np.roll(frames[10], -3 * (i - 10), axis=1) for i in range(20)]  # the disc of frame 10 streams with the wall
    distance = _neighbours(pinned).difference(10, pinned[10], np.eye(3))
    assert distance is not None
    core = cv2.erode(masks[10].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.median(distance[core]) < 5


def test_too_few_neighbours_tell_nothing() -> None:
    frames, _ = _scene(3)
    assert _neighbours(frames).difference(1, frames[1], np.eye(3)) is None


def test_memory_stays_bounded_over_a_long_clip() -> None:
    frames, _ = _scene(40)
    neighbours = _neighbours(frames)
    for t in range(40):
        neighbours.difference(t, frames[t], np.eye(3))
    assert len(neighbours._frames) <= _NEIGHBOUR_KEEP and len(neighbours._steps) <= _NEIGHBOUR_KEEP


def test_the_median_of_a_few_is_the_nearest_rank_median_of_the_known_values() -> None:
    rng = np.random.default_rng(1)
    values = [rng.random((30, 40)).astype(np.float32) for _ in range(6)]
    for v in values:
        v[rng.random(v.shape) < 0.3] = np.nan
    expected, _ = _nan_quantile(np.stack(values), 0.5)
    expected[sum(~np.isnan(v) for v in values) < 3] = np.nan
    got = _median_few([np.where(np.isnan(v), np.float32(np.inf), v) for v in values], sum((~np.isnan(v)).astype(np.uint8) for v in values), 3)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.array_equal(got[~np.isnan(got)], expected[~np.isnan(expected)])


def test_reached_is_the_warped_frame_outline() -> None:
    warp = np.array([[0.5, 0.01, -20.0], [0.0, 0.5, 10.0], [0.0, 0.0, 1.0]])
    reached = _reached(warp, (480, 854), (200, 300))
    warped = cv2.warpPerspective(np.ones((480, 854), np.uint8), warp, (300, 200), flags=cv2.INTER_NEAREST) > 0
    assert not (reached & ~warped).any()  # never claims a pixel no frame pixel lands on
    assert np.count_nonzero(warped & ~reached) <= 2 * (300 + 200)  # misses at most the inset outline
