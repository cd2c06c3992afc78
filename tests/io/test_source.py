"""glassvid.io.source: probe and read_frames on real files made with PyAV."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from glassvid.errors import DecodeError, InputError
from glassvid.io import probe, read_frames, write_clip, write_image
from glassvid.io.synth import pattern_index, test_pattern

W, H, N = 96, 64, 24


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The same 24-frame test pattern in each container, with audio where it fits."""
    folder = tmp_path_factory.mktemp("clips")
    out = {}
    for ext in ("mp4", "mkv", "webm", "mov"):
        out[ext] = folder / f"clip.{ext}"
        write_clip(out[ext], test_pattern(N, W, H), 24, audio_tone_hz=440)
    return out


def encode_raw(path, frames, codec, pix_fmt, fps=24, from_format="rgb24"):
    """Encode with PyAV directly, to make inputs the sink never writes."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        for i, a in enumerate(frames):
            f = av.VideoFrame.from_ndarray(a, format=from_format).reformat(format=pix_fmt)
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize("ext,time_base", [("mp4", Fraction(1, 12288)), ("mkv", Fraction(1, 1000)),
                                           ("webm", Fraction(1, 1000)), ("mov", Fraction(1, 12288))])
def test_probe_and_read_every_container(clips, ext, time_base):
    info = probe(clips[ext])
    assert (info.kind, info.width, info.height, info.frame_count) == ("video", W, H, N)
    assert info.fps == 24 and info.time_base == time_base and info.has_audio
    assert info.path == str(clips[ext])
    frames = list(read_frames(clips[ext]))
    assert [f.index for f in frames] == list(range(N))
    assert [pattern_index(f.rgb) for f in frames] == list(range(N))
    f0 = frames[0]
    assert f0.rgb.shape == (H, W, 3) and f0.rgb.dtype == np.uint8 and f0.rgb.flags.c_contiguous
    assert [f.pts for f in frames] == sorted(f.pts for f in frames) and frames[0].pts == 0
    # Colours survive the encode (BT.709 tagged and honoured): mean error of a few levels.
    expected = next(iter(test_pattern(1, W, H)))
    assert np.abs(f0.rgb.astype(int) - expected).mean() < 4


def test_identity_is_stable_and_tracks_changes(tmp_path, clips):
    a = probe(clips["mp4"])
    assert probe(clips["mp4"]).identity == a.identity
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clips["mp4"].read_bytes())
    assert probe(copy).identity != a.identity


def test_frames_range_selects_exact_frames(clips):
    got = list(read_frames(clips["mkv"], frames=range(5, 12)))
    assert [f.index for f in got] == list(range(5, 12))
    assert [pattern_index(f.rgb) for f in got] == list(range(5, 12))
    with pytest.raises(DecodeError, match="has 24 frames"):
        read_frames(clips["mkv"], frames=range(20, 30))
    with pytest.raises(InputError, match="contiguous"):
        read_frames(clips["mkv"], frames=range(0, 10, 2))


@pytest.mark.parametrize("codec,pix_fmt,tol", [
    ("ffv1", "yuv420p10le", 3), ("ffv1", "yuv444p", 2), ("ffv1", "gray", 2), ("ffv1", "bgra", 0),
    ("png", "rgba", 0), ("libx264", "yuv444p", 3),
])
def test_any_pixel_format_becomes_rgb24(tmp_path, codec, pix_fmt, tol):
    frames = list(test_pattern(4, 64, 48))
    if pix_fmt == "gray":
        frames = [np.repeat(f[..., 1:2], 3, axis=2) for f in frames]
    path = tmp_path / ("x.mov" if codec == "png" else "x.mkv")
    encode_raw(path, frames, codec, pix_fmt)
    got = list(read_frames(path))
    assert len(got) == 4
    for f, want in zip(got, frames):
        assert f.rgb.shape == (48, 64, 3) and f.rgb.dtype == np.uint8 and f.rgb.flags.c_contiguous
        assert np.abs(f.rgb.astype(int) - want).mean() <= tol + 0.5


def _write_sequence(folder, count, name="{:05d}.png", w=W, h=H):
    frames = list(test_pattern(count, w, h))
    for i, f in enumerate(frames):
        write_image(folder / name.format(i), f)
    return frames


def test_sequence_folder_and_patterns(tmp_path):
    frames = _write_sequence(tmp_path / "seq", 6, "shot.{:04d}.png")
    for spec in (tmp_path / "seq", tmp_path / "seq" / "shot.%04d.png", str(tmp_path / "seq" / "shot.####.png")):
        info = probe(spec, fps=30)
        assert (info.kind, info.width, info.height, info.frame_count) == ("sequence", W, H, 6)
        assert info.fps == 30 and info.time_base == Fraction(1, 30) and not info.has_audio
        got = list(read_frames(spec, frames=range(2, 5)))
        assert [f.index for f in got] == [2, 3, 4] and all(f.pts is None for f in got)
        for f in got:
            np.testing.assert_array_equal(f.rgb, frames[f.index])
    assert probe(tmp_path / "seq").fps == 24
    assert probe(tmp_path / "seq", fps=29.97).fps == Fraction(30000, 1001)


def test_sequence_identity_changes_with_any_file(tmp_path):
    _write_sequence(tmp_path, 3)
    before = probe(tmp_path).identity
    assert probe(tmp_path).identity == before
    write_image(tmp_path / "00001.png", np.zeros((H, W, 3), np.uint8))
    assert probe(tmp_path).identity != before


def test_sequence_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DecodeError, match="empty"):
        probe(tmp_path / "empty")
    with pytest.raises(DecodeError, match="no file matches"):
        probe(tmp_path / "empty" / "f.%04d.png")
    _write_sequence(tmp_path / "mixed", 3)
    write_image(tmp_path / "mixed" / "00003.png", np.zeros((H + 2, W, 3), np.uint8))
    with pytest.raises(DecodeError, match="one size"):
        probe(tmp_path / "mixed")
    with pytest.raises(InputError, match="positive"):
        probe(tmp_path / "mixed", fps=0)


def test_missing_file(tmp_path):
    with pytest.raises(DecodeError, match="no such file"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(DecodeError, match="no such file"):
        read_frames(tmp_path / "nope.mp4")


def test_text_file_renamed_mp4(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 20)
    with pytest.raises(DecodeError, match="notes.mp4.*text file"):
        probe(bad)


def test_audio_only_file(tmp_path):
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("aac", rate=48000)
        s.layout = "mono"
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts, f.time_base = 48000, i * 1024, Fraction(1, 48000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(DecodeError, match="no video stream.*only audio"):
        probe(path)


def test_truncated_mp4_index_at_end(tmp_path):
    """MP4 written without faststart: cutting it loses the 'moov' index -> fails at probe."""
    src = tmp_path / "plain.mp4"
    encode_raw(src, list(test_pattern(12, 64, 48)), "libx264", "yuv420p")
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="cut.mp4.*moov.*truncated"):
        probe(cut)


def test_truncated_mp4_index_at_start(tmp_path, clips):
    """Faststart MP4 (what the sink writes): the index survives, frames are missing ->
    probe counts 24, decoding runs short -> DecodeError mid-decode naming what decoded."""
    data = clips["mp4"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    info = probe(cut)
    assert info.frame_count == N
    with pytest.raises(DecodeError, match=r"decoded only \d+ of 24 frames.*frames=range\(0, \d+\)"):
        for _ in read_frames(cut):
            pass


def test_variable_frame_rate_pts_are_kept(tmp_path):
    from glassvid.io import open_sink
    from glassvid.io.source import ClipInfo, Frame

    pts = [0, 40, 100, 120, 200, 210, 300, 333]
    info = ClipInfo("in", "video", 64, 48, len(pts), Fraction(24), Fraction(1, 1000), False, "x")
    out = tmp_path / "vfr.mkv"
    with open_sink(out, info) as sink:
        for i, (p, rgb) in enumerate(zip(pts, test_pattern(len(pts), 64, 48))):
            sink.write(Frame(i, rgb, p))
    assert [f.pts for f in read_frames(out)] == pts
