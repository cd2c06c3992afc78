"""glassvid.plate.keyframes: an expensive inpainter on keyframes only, its invention carried along.

The Stable Diffusion backend runs with a tiny random pipeline (``tests/models/tiny_sd.py``):
what it invents is noise, but where and how often it is called, and that what it
invents stays put from frame to frame, is what these tests check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from clips import OBJECT, make_clip, object_frames

from glassvid.plate.keyframes import choose_keyframes

SD_SETS = ("plate.inpaint=sd", "plate.steps=2", "plate.sd_resolution=64", "plate.sd_colour_ring_px=4", "plate.keyframe_interval=4")


def test_choose_keyframes():
    unknown = [0, 5, 9, 9, 2, 0, 0, 7, 7, 7, 7, 7, 1]
    hole = [True] * 5 + [False] + [True] * 7
    # runs of at most 4 frames with never-seen pixels, cut where a frame has no hole;
    # each run's keyframe is its frame with the most (the first among equals)
    assert choose_keyframes(unknown, hole, 4) == [2, 7, 11]
    assert choose_keyframes([0, 0, 0], [True] * 3, 4) == []
    assert choose_keyframes([3] * 10, [True] * 10, 100) == [0]


@pytest.mark.models
def test_sd_runs_on_keyframes_only_and_its_invention_stays_put(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
    from tiny_sd import build_tiny_pipe

    from glassvid.config import load_config
    from glassvid.plate.sd import SDInpainter

    n, w, h = 12, 96, 64
    # a box that never moves over a still background: what it hides is never seen
    frames, truth, masks = object_frames(n, w, h, pan_px=0.0, path=[(48, 32)] * n, half=(10, 10))
    sd = SDInpainter(pipe=build_tiny_pipe(0), cfg=load_config(sets=list(SD_SETS)).plate)
    s = make_clip(tmp_path, frames, truth, masks, sets=SD_SETS, inpainter=sd)
    meta = s.clip.plate_store.meta()
    assert meta["keyframes"] == [0, 4, 8]
    assert sd.calls == 3 and meta["inpaint_invocations"] == 3
    assert meta["inpaint_invocations_per_frame"] == pytest.approx(3 / n)
    plates = [s.clip.plate(i) for i in range(n)]
    m = masks[0]
    for i, p in enumerate(plates):
        assert not (p[m] == OBJECT).all(-1).any(), f"frame {i}: object left in the plate"
        crop = s.clip.plate_crop(i)
        x0, y0, x1, y1 = crop.box
        assert np.isinf(crop.age[m[y0:y1, x0:x1]]).all()  # invented, and marked so
    # within a keyframe's reach the invented background is the keyframe's, not re-invented
    for k in (0, 4, 8):
        for i in (k + 1,):
            np.testing.assert_array_equal(plates[i][m], plates[k][m])
