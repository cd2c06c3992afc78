"""glassvid.plate.loop: the inpaint-and-score loop keeps a better-scoring plate and reports every round."""

from __future__ import annotations

import numpy as np
from clips import make_clip, object_frames, psnr_in

from glassvid.plate.loop import PlateLoop

N, W, H = 10, 96, 64


def test_the_loop_replaces_a_spoiled_plate_and_reports_its_rounds(tmp_path):
    path = [(20 + 56 * i / (N - 1), 32) for i in range(N)]
    frames, truth, masks = object_frames(N, W, H, pan_px=0.0, path=path, half=(8, 10))
    s = make_clip(tmp_path, frames, truth, masks, sets=("plate.loop_interval=1",))
    store = s.clip.plate_store
    meta = store.meta()["loop"]
    assert meta["scored_frames"] == N and len(meta["frames"]) == N
    assert all(r["rounds"][0]["candidate"] == "recovered" for r in meta["frames"])
    assert meta["mean_score_chosen"] >= meta["mean_score_recovered"]

    # spoil frame 5's plate as a mask that missed the object would: a piece of the
    # object's own colours carried into the hole (the other sweep saw background there)
    i = 5
    d = store.load_arrays("plate", i)
    x0, y0, x1, y1 = (int(v) for v in d["box"])
    obj = masks[i][y0:y1, x0:x1]
    piece = obj & (np.arange(x1 - x0)[None, :] < (path[i][0] - x0))  # the object's left half
    clean = d["rgb"].copy()
    spoiled = clean.copy()
    spoiled[piece] = frames[i][y0:y1, x0:x1][piece]
    store.save_arrays("plate", i, **{**d, "rgb": spoiled, "alt": clean})
    before = psnr_in(s.clip.plate(i), truth[i], masks[i])

    loop = PlateLoop(s.config.plate, matte_feather_px=2.5)
    report = loop.run(s.clip)
    got = next(r for r in report["frames"] if r["frame"] == i)
    first = got["rounds"][0]["score"]
    assert got["chosen"] != "recovered" and got["score"] > first + s.config.plate.loop_margin
    assert len(got["rounds"]) <= s.config.plate.loop_iterations
    after = psnr_in(s.clip.plate(i), truth[i], masks[i])
    assert after > before + 10, (before, after)  # and the plate is really better
    assert "alt" not in store.load_arrays("plate", i)  # the loop leaves only the plate behind
