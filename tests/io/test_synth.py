"""glassvid.io.synth: synthetic clips."""

from __future__ import annotations

from fractions import Fraction

import av
import pytest

from glassvid.io import probe, read_frames, write_clip
from glassvid.io.synth import pattern_index, test_pattern


@pytest.mark.parametrize("ext,codec", [("mp4", "aac"), ("mkv", "aac"), ("webm", "opus")])
def test_write_clip_with_tone_lasts_as_long_as_the_video(tmp_path, ext, codec):
    path = tmp_path / f"c.{ext}"
    write_clip(path, test_pattern(15, 64, 48), Fraction(30), audio_tone_hz=330)
    info = probe(path)
    assert (info.frame_count, info.fps, info.width, info.height, info.has_audio) == (15, 30, 64, 48, True)
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.name == codec
        packets = [p for p in c.demux(stream) if p.size]
        end = float((packets[-1].pts + packets[-1].duration) * stream.time_base)
    assert end == pytest.approx(15 / 30, abs=0.025)


def test_pattern_index_survives_lossy_coding(tmp_path):
    write_clip(tmp_path / "c.mp4", test_pattern(40, 64, 48), 24)
    assert [pattern_index(f.rgb) for f in read_frames(tmp_path / "c.mp4")] == [i % 29 for i in range(40)]


def test_write_clip_needs_frames(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_clip(tmp_path / "c.mp4", [])
