"""EXR passes: channel names, types and values read back; the STMap/offset conventions."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from glassvid.export import PASSES, export_passes, open_run
from glassvid.export.colour import REC709_CHROMATICITIES
from glassvid.export.exr import read_exr
from glassvid.export.run import layer_field
from glassvid.render.optics import srgb_to_linear

HALF_EPS = 2.0**-10  # relative precision of half floats


@pytest.fixture(scope="module")
def exr_export(glass_run: Path, tmp_path_factory: pytest.TempPathFactory):
    run = open_run(glass_run)
    out = tmp_path_factory.mktemp("exr") / "passes"
    report = export_passes(run, out, frames=(2, 4), start_frame=1001)
    rendered = {i: (frame, layer) for i, frame, layer in run.render(range(2, 5))}
    return run, out, report, rendered


def test_files_are_numbered_from_the_start_frame(exr_export) -> None:
    run, out, report, _ = exr_export
    assert report.frames == [1003, 1004, 1005] and report.source_frames == [2, 3, 4]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["export.json", "shot.1003.exr", "shot.1004.exr", "shot.1005.exr"]


def test_channels_read_back_with_names_types_and_values(exr_export) -> None:
    run, out, _, rendered = exr_export
    channels, header = read_exr(out / "shot.1004.exr")
    expected = [c for spec in PASSES.values() for c in spec.channels]
    assert sorted(channels) == sorted(expected)
    for name, spec in PASSES.items():
        for c in spec.channels:
            assert channels[c].dtype == (np.float16 if spec.exr_type == "half" else np.float32), c
            assert channels[c].shape == (run.clip.info.height, run.clip.info.width)
    frame, layer = rendered[3]
    beauty = srgb_to_linear(frame)
    for k, c in enumerate("RGB"):
        np.testing.assert_allclose(channels[c].astype(np.float32), beauty[..., k], rtol=HALF_EPS, atol=1e-6)
    matte = np.zeros(frame.shape[:2], np.float32)
    x0, y0, x1, y1 = layer.box
    matte[y0:y1, x0:x1] = layer.alpha
    np.testing.assert_allclose(channels["A"].astype(np.float32), matte, rtol=HALF_EPS, atol=1e-6)
    np.testing.assert_allclose(channels["glass.A"].astype(np.float32), matte, rtol=HALF_EPS, atol=1e-6)
    plate = srgb_to_linear(run.clip.plate(3))
    np.testing.assert_allclose(channels["plate.G"].astype(np.float32), plate[..., 1], rtol=HALF_EPS, atol=1e-6)
    # the object bulges toward the camera: Z < 0 on it, 0 elsewhere; normals face the camera
    on = run.clip.mask(3)
    assert (channels["Z"][on] < 0).mean() > 0.9 and np.all(channels["Z"][~on] <= 0)
    assert channels["N.Z"][on].astype(np.float32).mean() > 0.5
    assert np.all(channels["N.Z"][matte == 0] == 0)
    # motion vectors are the cached flow, y up
    fwd, _ = run.clip.flows(4)  # flow 3 -> 4, stored at frame 4
    np.testing.assert_allclose(channels["forward.u"], fwd[..., 0], atol=1e-6)
    np.testing.assert_allclose(channels["forward.v"], -fwd[..., 1], atol=1e-6)
    # the See-Through pass: the score of this very output, 0 off the mask, high on a clear glass render
    from glassvid.score import local_score

    score = local_score(frame, run.clip.frame(3), on)
    np.testing.assert_allclose(channels["seethrough"].astype(np.float32), score, rtol=HALF_EPS, atol=1e-3)
    assert np.all(channels["seethrough"][~on] == 0) and channels["seethrough"][on].astype(np.float32).mean() > 0.3
    assert header["glassvidFrame"] == 1004 and header["glassvidSourceFrame"] == 3
    np.testing.assert_allclose(header["chromaticities"], REC709_CHROMATICITIES, rtol=1e-6)


def test_stmap_is_nuke_style_and_agrees_with_offsets_and_the_render(exr_export) -> None:
    run, out, _, rendered = exr_export
    channels, _ = read_exr(out / "shot.1003.exr")
    h, w = run.clip.info.height, run.clip.info.width
    u, v = channels["stmap.u"].astype(np.float64), channels["stmap.v"].astype(np.float64)
    # Nuke's STMap: origin bottom-left, pixel centres at +0.5
    sx, sy = u * w - 0.5, (1.0 - v) * h - 0.5
    ys, xs = np.mgrid[0:h, 0:w]
    np.testing.assert_allclose(sx - xs, channels["offset.x"], atol=1e-3)
    np.testing.assert_allclose(-(sy - ys), channels["offset.y"], atol=1e-3)
    _, layer = rendered[2]
    x0, y0, x1, y1 = layer.box
    off = layer_field(layer, "offset")
    np.testing.assert_allclose(sx[y0:y1, x0:x1] - xs[y0:y1, x0:x1], off[..., 0], atol=1e-3)
    np.testing.assert_allclose(sy[y0:y1, x0:x1] - ys[y0:y1, x0:x1], off[..., 1], atol=1e-3)
    # identity away from the object: u, v are the pixel centres
    far = np.ones((h, w), bool)
    far[y0:y1, x0:x1] = False
    np.testing.assert_allclose(u[far], ((xs + 0.5) / w)[far], atol=1e-6)
    np.testing.assert_allclose(v[far], (1 - (ys + 0.5) / h)[far], atol=1e-6)
    # an STMap applied to the plate bends it the way the glass did somewhere
    warped = cv2.remap(run.clip.plate(2), sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_LINEAR)
    assert np.abs(warped.astype(int) - run.clip.plate(2)).max() > 30


def test_start_frame_and_pass_subset(glass_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub"
    export_passes(open_run(glass_run), out, frames=(0, 1), start_frame=1, passes=["beauty", "alpha", "stmap"])
    assert sorted(p.name for p in out.glob("*.exr")) == ["shot.0001.exr", "shot.0002.exr"]
    channels, _ = read_exr(out / "shot.0001.exr")
    assert sorted(channels) == ["A", "B", "G", "R", "stmap.u", "stmap.v"]
