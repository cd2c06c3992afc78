"""The AR pack: layout, manifest, platform limits, WebM alpha round trip, the compositor."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np

from glassvid.export import composite_frame, export_ar, load_pack, open_run
from glassvid.export.colour import quantize, srgb_encode
from glassvid.render.optics import srgb_to_linear


def _rgba(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def test_pack_layout_and_manifest(pack: Path) -> None:
    m = json.loads((pack / "manifest.json").read_text())
    assert m["format"] == "glassvid-ar-pack" and m["frame_count"] == 12 and m["fps"] == 24.0
    w, h = m["size"]
    assert (m["crop"]["width"], m["crop"]["height"]) == (w, h)
    assert m["layers"]["glass"]["alpha"] == "premultiplied"
    for name in ("glass", "refraction", "normals"):
        files = sorted((pack / name).glob("*.png"))
        assert [f.name for f in files] == [f"{k:04d}.png" for k in range(12)]
        img = _rgba(files[5])
        assert img.shape == (h, w, 4 if name == "glass" else 3) and img.dtype == np.uint8
        for sheet in m["layers"][name]["sprites"]:
            s = _rgba(pack / sheet)
            assert s.shape[0] <= 1024 and s.shape[1] <= 1024
            assert (pack / sheet).stat().st_size <= 1_000_000
    for f in ("glass.webm", "background.png", "preview/index.html", "preview/preview.js"):
        assert (pack / f).is_file(), f
    u, v = m["anchor"]["uv"]
    assert 0.0 <= u <= 1.0 and 0.8 <= v <= 1.0  # bottom centre of the disc
    assert m["tint"] == [1.0, 1.0, 1.0]  # colourless glass
    assert m["warnings"] == []
    # the glass blocks little of the background and adds some light; the maps are data
    glass = _rgba(pack / "glass" / "0005.png")
    refr = _rgba(pack / "refraction" / "0005.png")
    on = refr[..., 2] == 255
    assert on.sum() > 300 and glass[..., 3][on].mean() < 0.5 * 255
    assert np.all(glass[..., 3][refr[..., 2] == 0] == 0)
    assert np.abs(refr[..., :2][on].astype(int) - 128).max() > 20  # it refracts


def test_webm_alpha_survives_encode_decode(pack: Path) -> None:
    decoder = av.CodecContext.create("libvpx-vp9", "r")  # FFmpeg's own vp9 decoder drops alpha
    frames = []
    with av.open(str(pack / "glass.webm")) as c:
        stream = c.streams.video[0]
        for packet in c.demux(stream):
            frames.extend(decoder.decode(packet if packet.size else None))
    assert len(frames) == 12 and frames[0].format.name == "yuva420p"
    for k in (0, 6, 11):
        # the alpha plane as decoded (swscale's yuva420p -> rgba garbles the last columns)
        plane = frames[k].planes[3]
        alpha = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width].astype(int)
        expected = _rgba(pack / "glass" / f"{k:04d}.png")[..., 3].astype(int)
        err = np.abs(alpha - expected)
        assert expected.max() > 50  # there is an alpha to keep
        # lossy: small everywhere, a few levels at the glass's hard edge
        assert (err.mean(), np.percentile(err, 99)) < (1.0, 8.0) and err.max() <= 32, (err.mean(), np.percentile(err, 99), err.max())


def test_compositor_over_the_plate_matches_the_glass_render(glass_run: Path, pack: Path) -> None:
    """Over the run's own clean plate, the pack composites to glassvid's glass layer over
    that plate (differences: 8-bit maps, and filtering in sRGB as a GPU does). The pack's
    offset map is point-sampled, as a shader without mip-maps does, so the reference is
    glassvid's point-sampled render (``glass.antialias`` off): the maps are what is tested."""
    run = open_run(glass_run, sets=["glass.antialias=false"])
    p = load_pack(pack)
    for i, _frame, layer in run.render([3, 9]):
        plate = run.clip.plate(i)
        comp = composite_frame(p, i, plate)
        lin = srgb_to_linear(plate)
        x0, y0, x1, y1 = layer.box
        a = layer.alpha[..., None]
        lin[y0:y1, x0:x1] = a * layer.rgb + (1 - a) * lin[y0:y1, x0:x1]
        expected = quantize(srgb_encode(lin))
        d = np.abs(comp.astype(int) - expected).max(-1)
        # 8-bit offsets move samples by up to half a step (range / 127): a few levels on
        # this sharp background, more at the rim where grazing rays are clipped to the range
        inner = d[y0:y1, x0:x1]
        assert d.mean() < 0.5 and np.median(inner) == 0 and np.percentile(inner, 90) <= 6, (d.mean(), np.percentile(inner, [50, 90, 99]))
        outside = np.ones(d.shape, bool)
        outside[y0:y1, x0:x1] = False
        assert np.all(d[outside] == 0)


def test_platform_limits_shrink_and_sample(glass_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "small"
    report = export_ar(open_run(glass_run), out, max_size=32, max_frames=5, frames=(1, 11))
    m = json.loads((out / "manifest.json").read_text())
    assert report.frame_step == 3 and m["frame_count"] == 4 and m["fps"] == 8.0
    assert m["source"]["frames"] == [1, 10]
    assert max(m["size"]) <= 32 and max(m["frame_size"]) <= 96
    for sheet in m["layers"]["glass"]["sprites"]:
        assert max(_rgba(out / sheet).shape[:2]) <= 32
    comp = composite_frame(out, 2)
    assert comp.shape == (m["frame_size"][1], m["frame_size"][0], 3)
