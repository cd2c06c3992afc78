"""glassvid.score: the See-Through Score, on hand-made cases and against the ground-truth scenes.

The ground-truth tests read ``../shared/data/gt/`` (skipped when it is absent): per
scene, on three frames, the score must rank the rendered glass above glassvid's render
above the 50 % blend above the opaque input, and across a family of degraded results
(``tests/plate/score_family.py``: the opaque object mixed back in at 0-100 %, the plate
shifted by 2-8 px, the refraction scaled by 0.5-4) its Spearman correlation with PSNR
against ``glass/`` must be at least 0.8.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from scenes import background

from glassvid.errors import InputError
from glassvid.metrics import spearman
from glassvid.score import clip_score, local_score, seam_ratio, see_through

sys.path.insert(0, str(Path(__file__).parent / "plate"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # as tests/conftest.py (a module name other conftests shadow)
GT = SHARED_DATA / "gt"
SCENES = sorted(p.name for p in GT.iterdir() if (p / "glass").is_dir()) if GT.is_dir() else []
FRAMES = (8, 24, 40)


def disc(h, w, cx, cy, r):
    ys, xs = np.mgrid[0:h, 0:w]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r


@pytest.fixture(scope="module")
def synthetic():
    """A textured background, an opaque checkered disc over it, and the disc as perfect invisible glass."""
    h, w = 96, 128
    bg = background(w, h, seed=5)
    mask = disc(h, w, 64, 48, 24)
    ys, xs = np.mgrid[0:h, 0:w]
    checker = ((xs // 5 + ys // 5) % 2).astype(bool)
    frame = bg.copy()
    frame[mask & checker] = (220, 60, 40)
    frame[mask & ~checker] = (240, 230, 200)
    return frame, mask, bg


def mix(a, b, t):
    return np.clip((1 - t) * a.astype(np.float32) + t * b.astype(np.float32) + 0.5, 0, 255).astype(np.uint8)


def test_clear_is_high_opaque_is_zero_and_mixing_is_monotone(synthetic):
    frame, mask, bg = synthetic
    scores = [see_through(mix(bg, frame, t), frame, mask, bg).score for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert scores[0] > 0.9 and scores[-1] == 0.0
    assert all(a > b for a, b in zip(scores, scores[1:])), scores


def test_a_blurred_background_is_less_see_through(synthetic):
    frame, mask, bg = synthetic
    blurred = np.where(mask[..., None], cv2.GaussianBlur(bg, (0, 0), 3), bg)
    clear = see_through(bg, frame, mask, bg)
    smeared = see_through(blurred, frame, mask, blurred)
    assert smeared.background < 0.5 * clear.background and smeared.score < clear.score


def test_a_shifted_plate_breaks_continuity(synthetic):
    frame, mask, _ = synthetic
    # a background of 12-px blocks: straight edges that a misplaced plate breaks at its border
    rng = np.random.default_rng(1)
    blocks = np.kron(rng.integers(30, 225, (8, 11, 3)), np.ones((12, 12, 1)))[: mask.shape[0], : mask.shape[1]].astype(np.uint8)
    hole = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    ratios = []
    for s in (0, 2, 4, 8):
        shifted = np.where(hole[..., None], np.roll(blocks, (s // 2, s), axis=(0, 1)), blocks)
        ratios.append(seam_ratio(shifted, mask))
    assert ratios[0] < 1.5 and all(a < b for a, b in zip(ratios, ratios[1:])), ratios
    shifted = np.where(hole[..., None], np.roll(blocks, (4, 8), axis=(0, 1)), blocks)
    opaque = np.where(mask[..., None], frame, blocks)
    assert see_through(shifted, opaque, mask, shifted).continuity < 0.9 < see_through(blocks, opaque, mask, blocks).continuity == 1.0


def test_pieces_of_the_object_in_the_plate_count_against_it(synthetic):
    frame, mask, bg = synthetic
    plate = bg.copy()
    piece = disc(*mask.shape, 60, 44, 10)
    plate[piece] = frame[piece]  # a mask that missed the object let a piece of it into the plate
    assert see_through(plate, frame, mask, plate).score < 0.9 * see_through(bg, frame, mask, bg).score


def test_the_objects_rim_left_in_the_plate_counts_against_it(synthetic):
    """A mask that falls short of the object's edge leaves its rim in the plate: thin, a small
    share of the hole, but the glass shows it all along the outline."""
    frame, mask, bg = synthetic
    short = disc(*mask.shape, 64, 48, 20)  # the mask, 4 px inside the object's edge
    ring = mask & ~cv2.dilate(short.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))).astype(bool)
    plate = bg.copy()
    plate[ring] = frame[ring]  # outside the hole (the mask grown by 3 px): the object's own pixels
    clean = see_through(bg, frame, short, bg)
    rimmed = see_through(plate, frame, short, plate)
    assert ring.sum() < 0.2 * short.sum()
    assert rimmed.continuity < 0.8 * clean.continuity and rimmed.score < 0.85 * clean.score


def test_no_object_no_score_and_clip_mean(synthetic):
    frame, mask, bg = synthetic
    empty = see_through(frame, frame, np.zeros_like(mask), bg)
    assert empty.score is None
    full = see_through(bg, frame, mask, bg)
    assert clip_score([empty, full, full]) == pytest.approx(full.score)
    assert clip_score([empty]) is None


def test_local_score_marks_the_opaque_part(synthetic):
    frame, mask, bg = synthetic
    half = bg.copy()
    left = mask & (np.arange(mask.shape[1])[None, :] < 64)
    half[left] = frame[left]  # the left half still opaque
    local = local_score(half, frame, mask)
    right = mask & ~left
    assert local[left].mean() < 0.3 < local[right].mean() and (local[~mask] == 0).all()


def test_bad_inputs_are_clear_errors(synthetic):
    frame, mask, bg = synthetic
    with pytest.raises(InputError, match="HxWx3 uint8"):
        see_through(bg.astype(np.float32), frame, mask, bg)
    with pytest.raises(InputError, match="one size"):
        see_through(bg, frame[:50], mask, bg)
    with pytest.raises(InputError, match="mask has shape"):
        see_through(bg, frame, mask[:50], bg)


# -- against the ground truth ------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth():
    if not SCENES:
        pytest.skip("../shared/data/gt is absent")
    from score_family import load_frame

    return {scene: [load_frame(GT / scene, i) for i in FRAMES] for scene in SCENES}


def _mean_scores(frames, pick):
    out = {}
    for fr in frames:
        for r in pick(fr):
            out.setdefault(r.name, []).append((see_through(r.image, fr.input, fr.mask, r.plate).score, r.psnr))
    return {k: tuple(np.mean(v, axis=0)) for k, v in out.items()}


@pytest.mark.parametrize("scene", SCENES or ["(no scenes)"])
def test_ranks_glass_over_glassvid_over_blend_over_input(truth, scene):
    s = _mean_scores(truth[scene], lambda fr: fr.ranking.values())
    order = ["glass", "glassvid", "blend50", "input"]
    got = [s[k][0] for k in order]
    assert all(a > b for a, b in zip(got, got[1:])), dict(zip(order, got))


@pytest.mark.parametrize("scene", SCENES or ["(no scenes)"])
def test_agrees_with_psnr_across_degraded_results(truth, scene):
    s = _mean_scores(truth[scene], lambda fr: fr.family)
    names = list(s)
    rho = spearman([s[k][0] for k in names], [s[k][1] for k in names])
    assert rho >= 0.8, {k: (round(v[0], 3), round(v[1], 1)) for k, v in s.items()}
