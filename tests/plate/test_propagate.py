"""glassvid.plate: background recovered by flow-guided propagation on synthetic clips with a known background.

The clips (``clips.py``) are an opaque checkered box sliding over a textured background
that is still or pans; the true background of every frame is known, so the recovered
plate is scored against it inside the object and compared with per-frame inpainting,
the baseline ``glassvid eval`` uses.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from clips import make_clip, object_frames, psnr_in

from glassvid.plate.inpaint import fill_unseen

N, W, H = 16, 96, 64
SLIDE = [(20 + 56 * i / (N - 1), 32) for i in range(N)]


def baseline(frames, masks):
    """Per-frame OpenCV (Telea) inpainting of the object grown by 2 px, as ``glassvid eval`` does."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    return [fill_unseen(f, cv2.dilate(m.astype(np.uint8), k) > 0, radius_px=5, method="telea") for f, m in zip(frames, masks)]


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    frames, truth, masks = object_frames(N, W, H, pan_px=0.0, path=SLIDE, half=(8, 10))
    return make_clip(tmp_path_factory.mktemp("still"), frames, truth, masks), frames


@pytest.fixture(scope="module")
def panning(tmp_path_factory):
    frames, truth, masks = object_frames(N, W, H, pan_px=1.5, path=SLIDE, half=(8, 10))
    return make_clip(tmp_path_factory.mktemp("pan"), frames, truth, masks), frames


@pytest.mark.parametrize("which, margin_db, floor_db", [("still", 20.0, 40.0), ("panning", 12.0, 28.0)])
def test_recovers_the_background_far_better_than_inpainting(which, margin_db, floor_db, request):
    s, frames = request.getfixturevalue(which)
    plate = np.mean([psnr_in(s.clip.plate(i), s.truth[i], s.masks[i]) for i in range(N)])
    inpaint = np.mean([psnr_in(b, t, m) for b, t, m in zip(baseline(frames, s.masks), s.truth, s.masks)])
    assert plate > floor_db, f"{which}: plate {plate:.1f} dB"
    assert plate > inpaint + margin_db, f"{which}: plate {plate:.1f} dB vs inpainting {inpaint:.1f} dB"


def test_a_still_camera_carries_exact_pixels(still):
    """No resampling blur: every hidden pixel is a pixel of the frame that showed it."""
    s, frames = still
    for i in (0, N // 2, N - 1):
        crop = s.clip.plate_crop(i)
        x0, y0, x1, y1 = crop.box
        hidden = np.isfinite(crop.age) & (crop.age > 0)
        assert hidden.any()
        ys, xs = np.nonzero(hidden)
        src = crop.source[ys, xs]
        np.testing.assert_array_equal(crop.rgb[ys, xs], np.stack([frames[k][y + y0, x + x0] for k, y, x in zip(src, ys, xs)]))


@pytest.mark.parametrize("which", ["still", "panning"])
def test_provenance(which, request):
    """age = |i - source|; the source frame shows background there; 0 and this frame where visible."""
    s, frames = request.getfixturevalue(which)
    for i in range(N):
        crop = s.clip.plate_crop(i)
        assert crop is not None and crop.source is not None and crop.conf is not None
        x0, y0, x1, y1 = crop.box
        obj = s.masks[i][y0:y1, x0:x1]
        visible = crop.age == 0
        assert not (visible & obj).any()  # the object is never "visible background"
        assert (crop.source[visible] == i).all() and (crop.conf[visible] == 1).all()
        carried = np.isfinite(crop.age) & (crop.age > 0)
        assert (crop.age[carried] == np.abs(i - crop.source[carried])).all()
        assert ((crop.conf[carried] > 0) & (crop.conf[carried] <= 1)).all()
        # the source frame showed background at the pixel's place (the background is still
        # in the first clip; in the panning one it moved by 1.5 px per frame)
        for k in np.unique(crop.source[carried]):
            sel = carried & (crop.source == k)
            ys, xs = np.nonzero(sel)
            shift = 1.5 * (k - i) if which == "panning" else 0.0
            sx = np.clip(np.round(xs + x0 - shift).astype(int), 0, W - 1)
            assert not s.masks[k][ys + y0, sx].any(), f"frame {i}: pixels said to be seen in frame {k} were hidden there"


def test_never_seen_background_is_invented_and_marked(tmp_path):
    """A box that never moves hides the same background in every frame: it is inpainted, age inf, confidence 0."""
    frames, truth, masks = object_frames(8, W, H, pan_px=0.0, path=[(48, 32)] * 8, half=(8, 8))
    s = make_clip(tmp_path, frames, truth, masks)
    for i in range(8):
        crop = s.clip.plate_crop(i)
        x0, y0, x1, y1 = crop.box
        obj = masks[i][y0:y1, x0:x1]
        assert np.isinf(crop.age[obj]).all() and (crop.source[obj] == -1).all() and (crop.conf[obj] == 0).all()
        assert not (s.clip.plate(i)[masks[i]] == (255, 0, 255)).all(-1).any()  # no object colour left
    meta = s.clip.plate_store.meta()
    assert meta["seen_fraction"] < 0.2 and meta["inpaint_invocations"] == 8


def test_plate_confidence_is_saved_with_the_plates(tmp_path, still):
    from glassvid.pipeline import Pipeline

    s, _ = still
    clip = s.clip
    Pipeline(s.config, work_dir=clip.work.root.parent)._save_plates(clip, tmp_path / "plates")
    conf = cv2.imread(str(tmp_path / "plates" / "confidence" / "00005.png"), cv2.IMREAD_UNCHANGED)
    assert conf.dtype == np.uint8 and conf.shape == (H, W)
    hole = cv2.dilate(s.masks[5].astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0  # plate.hole_dilate_px = 3
    assert (conf[~hole] == 255).all() and (conf[s.masks[5]] < 255).all()
    assert (tmp_path / "plates" / "00005.png").is_file()


def test_the_pass_reports_what_it_did(panning):
    s, _ = panning
    meta = s.clip.plate_store.meta()
    assert meta["frames"] == N and meta["frames_with_hole"] == N
    assert meta["seen_fraction"] > 0.9 and meta["mean_age"] > 0
    assert sum(meta["motion_models"].values()) == 2 * (N - 1)  # both sweeps, every step


def test_an_interrupted_pass_resumes_to_the_same_plates(tmp_path, panning):
    from glassvid.cache import PassStore
    from glassvid.plate import build_inpainter
    from glassvid.plate.recover import recover_plates

    s, _ = panning
    clip, cfg = s.clip, s.config.plate
    reference = [s.clip.plate(i) for i in range(N)]

    class Stop(Exception):
        pass

    def stop_in_backward(done: int, total: int) -> None:
        if done == N + N // 2:  # halfway through the backward sweep
            raise Stop

    original = clip.plate_store
    clip.plate_store = PassStore(tmp_path, "plate", "resumed")
    try:
        with pytest.raises(Stop):
            recover_plates(clip, cfg, build_inpainter(cfg), stop_in_backward)
        recover_plates(clip, cfg, build_inpainter(cfg), lambda done, total: None)
        for i in range(N):
            np.testing.assert_array_equal(clip.plate(i), reference[i])
        assert not (clip.plate_store.dir / "fwd").exists()  # the sweeps' working files are gone
    finally:
        clip.plate_store = original


def test_the_sweeps_side_by_side_give_the_same_plates(tmp_path, panning):
    s, frames = panning
    assert s.config.plate.sweep_threads == 2
    one = make_clip(tmp_path, frames, s.truth, s.masks, sets=("plate.sweep_threads=1",))
    for i in range(N):
        np.testing.assert_array_equal(one.clip.plate(i), s.clip.plate(i))
