"""PNG and 16-bit TIFF sequences, and ProRes 4444 whose alpha survives encode -> decode."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from glassvid.export import export_passes, open_run


@pytest.fixture(scope="module")
def seq_export(glass_run: Path, tmp_path_factory: pytest.TempPathFactory):
    run = open_run(glass_run)
    out = tmp_path_factory.mktemp("seq") / "out"
    export_passes(run, out, formats=["png", "tiff", "prores"], frames=(4, 9))
    rendered = {i: (frame, layer) for i, frame, layer in run.render(range(4, 10))}
    return run, out, rendered


def _matte(frame: np.ndarray, layer) -> np.ndarray:
    m = np.zeros(frame.shape[:2], np.float32)
    x0, y0, x1, y1 = layer.box
    m[y0:y1, x0:x1] = layer.alpha
    return m


def test_png_and_tiff_sequences(seq_export) -> None:
    run, out, rendered = seq_export
    for ext in ("png", "tif"):
        for p in ("beauty", "alpha", "glass", "plate", "normals", "stmap"):
            assert sorted(x.name for x in out.glob(f"shot.{p}.*.{ext}")) == [f"shot.{p}.{n}.{ext}" for n in range(1005, 1011)]
        assert not list(out.glob(f"shot.depth.*.{ext}"))  # values outside 0-1 need EXR
    frame, layer = rendered[6]
    png = cv2.imread(str(out / "shot.beauty.1007.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint8 and png.shape[2] == 4
    assert np.array_equal(png[..., 2::-1], frame)  # the output's bytes, exactly
    assert np.abs(png[..., 3] / 255.0 - _matte(frame, layer)).max() <= 0.5 / 255 + 1e-6
    tif = cv2.imread(str(out / "shot.beauty.1007.tif"), cv2.IMREAD_UNCHANGED)
    assert tif.dtype == np.uint16 and np.array_equal(tif[..., 2::-1], frame.astype(np.uint16) * 257)
    st = cv2.imread(str(out / "shot.stmap.1007.png"), cv2.IMREAD_UNCHANGED)
    assert st.dtype == np.uint16  # an 8-bit STMap would be off by up to 2 px here
    h, w = frame.shape[:2]
    assert abs(st[0, 0, 2] / 65535 - 0.5 / w) < 1e-4 and abs(st[0, 0, 1] / 65535 - (1 - 0.5 / h)) < 1e-4


def test_prores_4444_keeps_alpha(seq_export) -> None:
    run, out, rendered = seq_export
    with av.open(str(out / "shot.mov")) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "prores" and stream.codec_context.profile == "4444"
        assert stream.metadata.get("timecode") == "00:00:41:21"  # frame 1005 at 24 fps
        frames = [f for f in c.decode(stream)]
        assert "yuva444" in frames[0].format.name
        decoded = [f.to_ndarray(format="rgba") for f in frames]
    assert len(decoded) == 6
    for k, i in enumerate(range(4, 10)):
        frame, layer = rendered[i]
        rgba = decoded[k]
        assert np.abs(rgba[..., 3].astype(int) - np.rint(_matte(frame, layer) * 255)).max() <= 1
        assert np.abs(rgba[..., :3].astype(int) - frame).mean() < 1.0
