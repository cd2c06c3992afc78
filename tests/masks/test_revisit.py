"""A run of propagation with unsure stretches revisited (glassvid.masks.propagate, issue 4)."""

from __future__ import annotations

import numpy as np

from glassvid.config import MaskConfig
from glassvid.flow.dis import DISFlow
from glassvid.flow.ops import fb_consistency
from glassvid.masks import build_masks
from glassvid.masks.propagate import REVISIT_MAX, propagate
from glassvid.metrics import iou

from test_classic import _occluder_passing_over_a_still_object  # the synthetic clips of the classic backend's tests


def _run(frames: list[np.ndarray], first: np.ndarray, revisit_below: float) -> list[tuple[int, np.ndarray, float]]:
    """The classic backend through ``frames`` from ``first`` (frame 0's mask), flows as the pipeline checks them."""
    dis = DISFlow(preset="fast")
    masker = build_masks(MaskConfig())

    def flow_to(i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        to = dis(frames[i], frames[j]).astype(np.float16).astype(np.float32)
        return to, fb_consistency(to, dis(frames[j], frames[i]).astype(np.float16).astype(np.float32))

    return list(propagate(masker, masker.start(frames[0], first), list(range(len(frames))), frames.__getitem__, flow_to, revisit_below))


def test_frames_an_occluder_took_the_mask_in_are_recovered_from_the_frame_that_finds_the_object_again() -> None:
    # a grey disc slides over the still object and on; the mask leaves with it for a few frames until
    # the object is found again. Stepped back from there, those frames see the object leave the occluder
    frames, masks = _occluder_passing_over_a_still_object()
    plain = _run(frames, masks[0], 0.0)
    revisited = _run(frames, masks[0], MaskConfig().revisit_below)
    assert [i for i, _, _ in revisited] == list(range(1, 20))  # every frame once, in order
    before = [iou(m, masks[i]) for i, m, _ in plain]
    after = [iou(m, masks[i]) for i, m, _ in revisited]
    assert min(before[6:10]) < 0.1, before  # the premise: forward alone loses those frames
    assert min(after[6:10]) > 0.8, after
    assert all(a >= b - 1e-9 or ca > cb for a, b, (_, _, ca), (_, _, cb) in zip(after, before, revisited, plain))  # a mask is replaced only by a more confident one
    # the revisit steps a turned copy: the forward run goes on from the state it had (frames 10.. as without)
    assert all((m == p).all() and c == pc for (_, m, c), (_, p, pc) in zip(revisited[10:], plain[10:]))


class _Scripted:
    """A propagator whose confidences are given per (direction, frame); it records its steps. For the driver's bookkeeping only."""

    def __init__(self, forward: dict[int, float], backward: dict[int, float]) -> None:
        self.conf = {1: forward, -1: backward}
        self.steps: list[tuple[int, int, int]] = []
        self.around: list[int | None] = []  # what each step's neighbours answered

    def step(self, state: dict, frame: np.ndarray, flow: np.ndarray, valid: np.ndarray | None = None, neighbours=None) -> tuple[np.ndarray, float]:
        i, j = int(flow[0, 0, 0]), int(flow[0, 0, 1])  # flow_to below writes (i, j) into the flow
        self.steps.append((state["way"], i, j))
        self.around.append(neighbours(frame, np.eye(3)) if neighbours is not None else None)
        return np.full((2, 2), state["way"] > 0), self.conf[state["way"]][i]

    def turn(self, state: dict) -> dict:
        return {"way": -state["way"]}


class _Numbered:
    """Stands in for NeighbourFrames: answers with the frame it was asked about."""

    def difference(self, t: int, here: np.ndarray, to_grid: np.ndarray) -> int:
        return t


def _drive(masker: _Scripted, n: int, below: float, neighbours: _Numbered | None = None) -> list[tuple[int, np.ndarray, float]]:
    def flow_to(i: int, j: int) -> tuple[np.ndarray, None]:
        return np.full((1, 1, 2), (i, j), np.float32), None

    return list(propagate(masker, {"way": 1}, list(range(n)), lambda i: np.zeros((2, 2, 3), np.uint8), flow_to, below, neighbours))


def test_every_step_is_given_its_own_frames_neighbours_revisits_included() -> None:
    masker = _Scripted({1: 0.9, 2: 0.2, 3: 0.1, 4: 0.8}, {3: 0.5, 2: 0.5})
    _drive(masker, 5, 0.5, _Numbered())
    assert [i for _, i, _ in masker.steps] == [1, 2, 3, 4, 3, 2]  # forward, then back over the unsure 2-3
    assert masker.around == [1, 2, 3, 4, 3, 2]
    without = _Scripted({1: 0.9}, {})
    _drive(without, 2, 0.5)
    assert without.around == [None]


def test_only_an_unsure_stretch_ended_by_a_sure_frame_is_stepped_back_over_and_the_surer_mask_kept() -> None:
    forward = {1: 0.9, 2: 0.2, 3: 0.1, 4: 0.3, 5: 0.8, 6: 0.2, 7: 0.1}  # 2-4 end at 5; 6-7 never end
    backward = {4: 0.6, 3: 0.05, 2: 0.5}
    masker = _Scripted(forward, backward)
    out = _drive(masker, 8, 0.35)
    assert [i for i, _, _ in out] == list(range(1, 8))
    assert [s for s in masker.steps if s[0] < 0] == [(-1, 4, 5), (-1, 3, 4), (-1, 2, 3)]  # from frame 5, back over 4, 3, 2
    kept = {i: (bool(m.all()), c) for i, m, c in out}
    assert kept[4] == (False, 0.6) and kept[3] == (True, 0.1) and kept[2] == (False, 0.5)
    assert kept[6] == (True, 0.2) and kept[7] == (True, 0.1)


def test_a_revisit_reaches_back_at_most_revisit_max_frames() -> None:
    n = REVISIT_MAX + 10
    forward = {i: 0.1 for i in range(1, n - 1)} | {n - 1: 0.9}
    masker = _Scripted(forward, {i: 0.5 for i in range(n)})
    out = _drive(masker, n, 0.35)
    assert [i for i, _, _ in out] == list(range(1, n))
    back = [i for way, i, _ in masker.steps if way < 0]
    assert back == list(range(n - 2, n - 2 - REVISIT_MAX, -1))
    assert all(c == 0.1 for i, _, c in out if i < n - 1 - REVISIT_MAX) and all(c == 0.5 for i, _, c in out if n - 1 - REVISIT_MAX <= i < n - 1)


def test_zero_is_plain_propagation() -> None:
    masker = _Scripted({1: 0.1, 2: 0.9}, {1: 1.0})
    assert [c for _, _, c in _drive(masker, 3, 0.0)] == [0.1, 0.9] and all(way > 0 for way, _, _ in masker.steps)
