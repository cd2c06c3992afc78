"""glassvid.io.sink: round trips through open_sink, audio copy, odd sizes, safety."""

from __future__ import annotations

import logging
import os
from fractions import Fraction

import av
import numpy as np
import pytest

from glassvid.errors import ConfigError, OutputError
from glassvid.io import BackgroundWriter, check_output_path, open_sink, probe, read_frames, write_clip, write_image
from glassvid.io.synth import pattern_index, test_pattern

W, H, N = 96, 64, 24


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sink_clips")
    out = {}
    for ext in ("mp4", "mkv", "webm", "mov"):
        out[ext] = folder / f"clip.{ext}"
        write_clip(out[ext], test_pattern(N, W, H), 24, audio_tone_hz=440)
    out["odd"] = folder / "odd.webm"
    write_clip(out["odd"], test_pattern(10, 161, 121), 24)
    return out


def transcode(src, dst, *, frames=None, **kwargs):
    info = probe(src)
    with open_sink(dst, info, frames=frames, **kwargs) as sink:
        for frame in read_frames(src, frames=frames):
            sink.write(frame)
    return info


def audio_summary(path):
    """(codec, seconds from the first packet's start to the last packet's end)."""
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        packets = [p for p in c.demux(stream) if p.size]
        first, last = packets[0], packets[-1]
        return stream.codec_context.name, float((last.pts + last.duration - first.pts) * stream.time_base)


def leftovers(folder):
    return [n for n in os.listdir(folder) if ".part-" in n]


@pytest.mark.parametrize("ext", ["mp4", "mkv", "webm", "mov"])
def test_round_trip_keeps_count_rate_timebase_size(tmp_path, clips, ext):
    out = tmp_path / f"out.{ext}"
    src = transcode(clips[ext], out)
    got = probe(out)
    assert (got.width, got.height, got.frame_count, got.fps, got.time_base) == (
        src.width, src.height, src.frame_count, src.fps, src.time_base)
    frames = list(read_frames(out))
    assert [pattern_index(f.rgb) for f in frames] == list(range(N))
    assert [f.pts for f in frames] == [f.pts for f in read_frames(clips[ext])]
    assert leftovers(tmp_path) == []


def test_png_sequence_output_is_exact_and_numbered_by_source_index(tmp_path, clips):
    decoded = {f.index: f.rgb for f in read_frames(clips["mp4"])}
    transcode(clips["mp4"], tmp_path / "seq" / "frame.%05d.png", frames=range(3, 9))
    assert sorted(os.listdir(tmp_path / "seq")) == [f"frame.{i:05d}.png" for i in range(3, 9)]
    info = probe(tmp_path / "seq" / "frame.%05d.png")
    assert (info.width, info.height, info.frame_count) == (W, H, 6)
    for pos, frame in enumerate(read_frames(tmp_path / "seq")):
        np.testing.assert_array_equal(frame.rgb, decoded[3 + pos])


@pytest.mark.parametrize("ext,tol", [("tif", 0), ("jpg", 3)])
def test_other_image_sequence_types(tmp_path, clips, ext, tol):
    decoded = [f.rgb for f in read_frames(clips["mkv"], frames=range(0, 4))]
    transcode(clips["mkv"], tmp_path / f"s.####.{ext}", frames=range(0, 4))
    got = [f.rgb for f in read_frames(tmp_path / f"s.%04d.{ext}")]
    assert len(got) == 4
    for a, b in zip(got, decoded):
        assert np.abs(a.astype(int) - b).mean() <= tol


def test_sequence_input_to_video(tmp_path):
    frames = list(test_pattern(10, 64, 48))
    for i, f in enumerate(frames):
        write_image(tmp_path / "in" / f"{i:03d}.png", f)
    transcode(tmp_path / "in", tmp_path / "out.mp4")
    info = probe(tmp_path / "out.mp4")
    assert (info.frame_count, info.fps, info.width, info.height) == (10, 24, 64, 48)
    assert [pattern_index(f.rgb) for f in read_frames(tmp_path / "out.mp4")] == list(range(10))


def test_audio_is_stream_copied(tmp_path, clips):
    out = tmp_path / "out.mp4"
    transcode(clips["mp4"], out, audio_from=clips["mp4"])
    codec, seconds = audio_summary(out)
    src_codec, src_seconds = audio_summary(clips["mp4"])
    assert codec == src_codec == "aac" and seconds == pytest.approx(src_seconds, abs=1e-3)
    with av.open(str(out)) as a, av.open(str(clips["mp4"])) as b:  # untouched bytes
        pa = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        pb = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
        assert pa == pb


@pytest.mark.parametrize("ext", ["mp4", "webm"])
def test_audio_with_frames_range_is_cut_and_shifted(tmp_path, clips, ext):
    out = tmp_path / f"cut.{ext}"
    transcode(clips[ext], out, frames=range(6, 18), audio_from=clips[ext])
    codec, seconds = audio_summary(out)
    assert codec == audio_summary(clips[ext])[0]
    assert seconds == pytest.approx(12 / 24, abs=0.025)  # one packet of precision
    with av.open(str(out)) as c:
        first = next(p for p in c.demux(c.streams.audio[0]) if p.size)
        assert 0 <= float(first.pts * c.streams.audio[0].time_base) < 0.025
    assert [pattern_index(f.rgb) for f in read_frames(out)] == list(range(6, 18))
    assert probe(out).frame_count == 12


def test_audio_codec_the_container_cannot_hold_is_skipped(tmp_path, clips, caplog):
    out = tmp_path / "out.webm"
    with caplog.at_level(logging.WARNING, logger="glassvid.io.sink"):
        transcode(clips["mp4"], out, audio_from=clips["mp4"])  # AAC cannot go into WebM
    assert "without audio" in caplog.text
    assert probe(out).frame_count == N and not probe(out).has_audio


def test_odd_size(tmp_path, clips, caplog):
    src = [f.rgb for f in read_frames(clips["odd"])]
    assert src[0].shape == (121, 161, 3)  # VP9 stores odd sizes exactly
    transcode(clips["odd"], tmp_path / "exact.webm")
    assert (probe(tmp_path / "exact.webm").width, probe(tmp_path / "exact.webm").height) == (161, 121)
    transcode(clips["odd"], tmp_path / "exact.mkv", pix_fmt="yuv444p")
    assert (probe(tmp_path / "exact.mkv").width, probe(tmp_path / "exact.mkv").height) == (161, 121)
    # Documented fallback for H.264 4:2:0: pad one edge-replicated column/row, warn.
    with caplog.at_level(logging.WARNING, logger="glassvid.io.sink"):
        transcode(clips["odd"], tmp_path / "padded.mp4")
    assert "odd size 161x121" in caplog.text
    info = probe(tmp_path / "padded.mp4")
    assert (info.width, info.height, info.frame_count) == (162, 122, 10)
    out = [f.rgb for f in read_frames(tmp_path / "padded.mp4")]
    for a, b in zip(out, src):
        assert np.abs(a[:121, :161].astype(int) - b).mean() < 4
        assert np.abs(a[:, 161].astype(int) - a[:, 160]).mean() < 6  # the pad repeats the edge


def test_output_equal_to_input_is_refused(tmp_path, clips):
    info = probe(clips["mp4"])
    with pytest.raises(OutputError, match="is the input"):
        open_sink(clips["mp4"], info)
    rel = os.path.relpath(clips["mp4"])
    with pytest.raises(OutputError, match="is the input"):
        check_output_path(rel, clips["mp4"])
    link = tmp_path / "link.mp4"
    link.symlink_to(clips["mp4"])
    with pytest.raises(OutputError, match="is the input"):
        check_output_path(link, clips["mp4"])
    # sequences
    for i, f in enumerate(test_pattern(2, 32, 32)):
        write_image(tmp_path / "seq" / f"f.{i:04d}.png", f)
    with pytest.raises(OutputError, match="input sequence"):
        check_output_path(tmp_path / "seq" / "f.%04d.png", tmp_path / "seq" / "f.####.png")
    with pytest.raises(OutputError, match="input sequence folder"):
        check_output_path(tmp_path / "seq" / "out.%04d.png", tmp_path / "seq")
    check_output_path(tmp_path / "other" / "f.%04d.png", tmp_path / "seq")  # fine
    assert sorted(os.listdir(tmp_path / "seq")) == ["f.0000.png", "f.0001.png"]


def test_unwritable_output_folder(tmp_path, clips):
    info = probe(clips["mp4"])
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(OutputError, match="permission denied.*writable folder"):
                open_sink(locked / "out.mp4", info)
        finally:
            locked.chmod(0o700)
    (tmp_path / "afile").write_text("x")
    for target in ("afile/out.mp4", "afile/sub/frame.%04d.png"):
        with pytest.raises(OutputError, match="is a file, not a folder"):
            open_sink(tmp_path / target, info)


def test_parent_folder_is_created(tmp_path, clips):
    transcode(clips["mkv"], tmp_path / "a" / "b" / "out.mkv", frames=range(0, 2))
    assert probe(tmp_path / "a" / "b" / "out.mkv").frame_count == 2


@pytest.mark.parametrize("target", ["out.mp4", "seq/f.%04d.png"])
def test_abort_and_exceptions_leave_nothing(tmp_path, clips, target):
    info = probe(clips["mp4"])
    frames = read_frames(clips["mp4"])
    sink = open_sink(tmp_path / target, info, audio_from=clips["mp4"] if target.endswith("mp4") else None)
    for _ in range(3):
        sink.write(next(frames))
    sink.abort()
    folder = (tmp_path / target).parent
    assert os.listdir(folder) == []
    with pytest.raises(RuntimeError, match="boom"):
        with open_sink(tmp_path / target, info) as sink:
            sink.write(next(frames))
            raise RuntimeError("boom")
    assert os.listdir(folder) == []


def test_existing_output_is_only_replaced_at_close(tmp_path, clips):
    out = tmp_path / "out.mkv"
    transcode(clips["mkv"], out, frames=range(0, 3))
    before = out.read_bytes()
    info = probe(clips["mkv"])
    with pytest.raises(RuntimeError):
        with open_sink(out, info) as sink:
            for frame in read_frames(clips["mkv"]):
                sink.write(frame)
            assert out.read_bytes() == before  # still the old, complete file
            raise RuntimeError("crash before close")
    assert out.read_bytes() == before


def test_misuse_errors(tmp_path, clips):
    info = probe(clips["mp4"])
    with pytest.raises(OutputError, match=r"\.mp4"):
        open_sink(tmp_path / "out.avi", info)
    with pytest.raises(OutputError, match="frame-number field"):
        open_sink(tmp_path / "out.png", info)
    with pytest.raises(ConfigError, match="crf"):
        open_sink(tmp_path / "out.mp4", info, crf=99)
    with pytest.raises(ConfigError, match="preset"):
        open_sink(tmp_path / "out.mp4", info, preset="warp")
    with pytest.raises(OutputError, match="no frames"):
        with open_sink(tmp_path / "out.mp4", info):
            pass
    with open_sink(tmp_path / "out.mkv", info) as sink:
        with pytest.raises(ValueError, match="shape"):
            sink.write(np.zeros((10, 10, 3), np.uint8))
        frames = list(read_frames(clips["mp4"], frames=range(0, 2)))
        sink.write(frames[1])
        with pytest.raises(ValueError, match="increasing time"):
            sink.write(frames[0])
    assert leftovers(tmp_path) == []


def test_write_numpy_arrays_without_frames(tmp_path):
    from glassvid.io.source import ClipInfo

    info = ClipInfo("none", "sequence", 64, 48, 5, Fraction(30000, 1001), Fraction(1001, 30000), False, "x")
    with open_sink(tmp_path / "o.mp4", info) as sink:
        for rgb in test_pattern(5, 64, 48):
            sink.write(rgb)
    got = probe(tmp_path / "o.mp4")
    assert got.frame_count == 5 and got.fps == Fraction(30000, 1001)


def test_millisecond_timestamps_become_exact_frame_rate_in_mp4(tmp_path, clips):
    """Matroska stores 1/24 s as 41/42 ms; the MP4 keeps exactly 24 fps, not 24.0075."""
    out = tmp_path / "out.mp4"
    transcode(clips["webm"], out, audio_from=clips["webm"])  # Opus copies into MP4
    info = probe(out)
    assert (info.fps, info.frame_count) == (24, N)
    assert audio_summary(out)[0] == "opus"
    steps = np.diff([f.pts for f in read_frames(out)])
    assert len(set(steps.tolist())) == 1


def test_background_writer_writes_the_same_file_in_order(tmp_path, clips):
    # lossless (a PNG sequence): every frame must be the one written directly, bit for bit
    direct, queued = tmp_path / "direct" / "f.%03d.png", tmp_path / "queued" / "f.%03d.png"
    transcode(clips["mkv"], direct)
    info = probe(clips["mkv"])
    with open_sink(queued, info) as sink, BackgroundWriter(sink) as writer:
        for frame in read_frames(clips["mkv"]):
            writer.write(frame)
    assert sorted(p.name for p in queued.parent.iterdir()) == sorted(p.name for p in direct.parent.iterdir())
    for a, b in zip(read_frames(queued), read_frames(direct)):
        np.testing.assert_array_equal(a.rgb, b.rgb)
    # a video: the same timestamps, the frames in order (libx264 with threads is not
    # bit-reproducible from one encode to the next: about 1 in 40 differs by a few levels)
    video = tmp_path / "queued.mkv"
    with open_sink(video, info) as sink, BackgroundWriter(sink) as writer:
        for frame in read_frames(clips["mkv"]):
            writer.write(frame)
    assert [f.pts for f in read_frames(video)] == [f.pts for f in read_frames(clips["mkv"])]
    assert [pattern_index(f.rgb) for f in read_frames(video)] == list(range(N))


@pytest.mark.parametrize("where", ["sink", "caller"])
def test_background_writer_failure_leaves_no_output(tmp_path, clips, where):
    """An error in the writing thread reaches the caller; either failure aborts the sink: nothing at the final path."""
    info = probe(clips["mp4"])
    out = tmp_path / "out.mp4"
    frames = list(read_frames(clips["mp4"], frames=range(0, 6)))
    expected = (ValueError, "shape") if where == "sink" else (RuntimeError, "boom")
    with pytest.raises(expected[0], match=expected[1]):
        with open_sink(out, info) as sink, BackgroundWriter(sink) as writer:
            for k, frame in enumerate(frames):
                writer.write(frame if k != 2 or where != "sink" else np.zeros((10, 10, 3), np.uint8))
            if where == "caller":
                raise RuntimeError("boom")
    assert not out.exists() and leftovers(tmp_path) == []
