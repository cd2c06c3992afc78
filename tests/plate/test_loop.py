"""glassvid.plate.loop: the inpaint-and-score loop takes the object's rim out of the plate where
the matte fell short of it, leaves a good plate alone, and reports every round."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from clips import make_clip, object_frames, psnr_in

from glassvid.plate.loop import KINDS, PlateLoop

N, W, H = 10, 128, 96
PATH = [(28 + 72 * i / (N - 1), 48) for i in range(N)]


def _clip(tmp_path, short_px: int):
    """A checkered box sliding over a textured background, its mattes ``short_px`` inside its edge."""
    frames, truth, masks = object_frames(N, W, H, pan_px=0.0, path=PATH, half=(14, 18))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * short_px + 1,) * 2)
    mattes = [cv2.erode(m.astype(np.uint8), kernel) > 0 for m in masks] if short_px else masks
    s = make_clip(tmp_path, frames, truth, mattes)
    return s, truth, masks


def _plates_psnr(s, truth, masks) -> float:
    return float(np.mean([psnr_in(s.clip.plate(i), truth[i], masks[i]) for i in range(N)]))


def test_the_loop_takes_the_objects_rim_out_of_the_plate(tmp_path):
    # mattes 5 px inside the object's edge: the plate's hole (the matte grown by 3 px) leaves
    # a 2 px rim of the object in the plate, all around it
    s, truth, masks = _clip(tmp_path, 5)
    before = _plates_psnr(s, truth, masks)
    report = PlateLoop(s.config.plate, matte_feather_px=2.5).run(s.clip)
    assert report["scored_frames"] == 0  # loop_interval 0: off

    cfg = s.config.plate.__class__(**{**s.config.plate.__dict__, "loop_interval": 1})
    report = PlateLoop(cfg, matte_feather_px=2.5).run(s.clip)
    assert report["scored_frames"] == N
    assert all(r["rounds"][0]["candidate"] == "recovered" for r in report["frames"])
    assert all(len(r["rounds"]) <= cfg.loop_iterations and {x["candidate"] for x in r["rounds"]} <= set(KINDS) for r in report["frames"])
    assert report["changed_frames"] >= N - 1
    assert report["mean_score_chosen"] > report["mean_score_recovered"] + cfg.loop_margin
    after = _plates_psnr(s, truth, masks)
    assert after > before + 3.0, (before, after)  # and the plate is really better inside the object


def test_the_loop_leaves_a_good_plate_alone(tmp_path):
    s, truth, masks = _clip(tmp_path, 0)
    before = [s.clip.plate(i) for i in range(N)]
    cfg = s.config.plate.__class__(**{**s.config.plate.__dict__, "loop_interval": 1})
    report = PlateLoop(cfg, matte_feather_px=2.5).run(s.clip)
    assert report["scored_frames"] == N and report["changed_frames"] == 0
    assert all(np.array_equal(a, s.clip.plate(i)) for i, a in enumerate(before))


def test_the_loop_runs_in_the_plate_pass_and_reports_to_it(tmp_path):
    frames, truth, masks = object_frames(N, W, H, pan_px=0.0, path=PATH, half=(14, 18))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
    mattes = [cv2.erode(m.astype(np.uint8), kernel) > 0 for m in masks]
    off = make_clip(tmp_path / "off", frames, truth, mattes)
    on = make_clip(tmp_path / "on", frames, truth, mattes, sets=("plate.loop_interval=3",))
    meta = on.clip.plate_store.meta()["loop"]
    # every third frame scored; the frames between take the last scored frame's choice
    assert meta["scored_frames"] == len(range(0, N, 3)) and meta["changed_frames"] >= 3
    assert _plates_psnr(on, truth, masks) > _plates_psnr(off, truth, masks) + 3.0


def test_unknown_candidate_is_a_clear_error(tmp_path):
    loop = PlateLoop(__import__("glassvid.config", fromlist=["PlateConfig"]).PlateConfig(), matte_feather_px=2.5)
    with pytest.raises(ValueError, match="known: recovered, rim"):
        loop.candidate("bogus", np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), bool), (0, 0, 4, 4))
