"""Synthetic clips for tests and samples.

:func:`write_clip` encodes RGB frames with the same encoder setup as
:func:`glassvid.io.open_sink` (H.264 for .mp4/.mov/.mkv, VP9 for .webm; odd sizes follow
the sink's rule), optionally with a sine-tone audio track (AAC, or Opus in WebM) as
long as the video. :func:`test_pattern` makes frames whose index can be read back
from the pixels after lossy coding (:func:`pattern_index`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from glassvid.errors import OutputError
from glassvid.io.sink import VIDEO_FORMATS, _AudioTone, _VideoSink
from glassvid.io.source import ClipInfo

__all__ = ["write_clip", "test_pattern", "pattern_index"]

#: Frame i of :func:`test_pattern` carries the grey level PATTERN_BASE + PATTERN_STEP * (i % PATTERN_PERIOD)
#: in a strip PATTERN_STRIP rows high along its bottom edge.
PATTERN_BASE = 16
PATTERN_STEP = 8
PATTERN_PERIOD = 29
PATTERN_STRIP = 16
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def write_clip(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: int | Fraction = 24,
    *,
    audio_tone_hz: float | None = None,
    audio_rate: int = 48000,
    crf: int = 18,
) -> None:
    """Encode ``frames`` (``HxWx3`` uint8 RGB, one size) to a video file at ``fps``.

    ``audio_tone_hz`` adds a mono sine tone of the clip's duration at ``audio_rate`` Hz
    (AAC; Opus for .webm, which needs 8/12/16/24/48 kHz). Written atomically.
    """
    text = os.fspath(path)
    suffix = Path(text).suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise OutputError(f"cannot write {text!r}: write_clip makes {', '.join(VIDEO_FORMATS)} files")
    iterator = iter(frames)
    try:
        first = next(iterator)
    except StopIteration:
        raise ValueError(f"write_clip({text!r}) got no frames") from None
    if not isinstance(first, np.ndarray) or first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(f"frames must be HxWx3 uint8 RGB arrays, got {getattr(first, 'shape', type(first))}")
    rate = Fraction(fps)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    muxer, codec, audio_codec = VIDEO_FORMATS[suffix]
    audio = None
    if audio_tone_hz is not None:
        if audio_codec == "libopus" and audio_rate not in OPUS_RATES:
            raise ValueError(f"Opus (.webm) audio needs a rate in {OPUS_RATES}, got {audio_rate}")
        audio = _AudioTone(audio_codec, audio_tone_hz, audio_rate)
    info = ClipInfo(
        path=text, kind="video", width=first.shape[1], height=first.shape[0], frame_count=0,
        fps=rate, time_base=1 / rate, has_audio=audio is not None, identity="synthetic",
    )
    sink = _VideoSink(
        text, info, None, muxer=muxer, codec=codec, crf=crf, preset="veryfast",
        pix_fmt="yuv420p", audio=audio,
    )
    with sink:
        for rgb in itertools.chain([first], iterator):
            sink.write(rgb)


def test_pattern(count: int, width: int = 96, height: int = 64) -> Iterator[np.ndarray]:
    """``count`` frames ``height x width x 3`` uint8 RGB: a moving square and gradients in
    green/blue over a flat red level, and a grey strip along the bottom whose level encodes
    the frame index (see :func:`pattern_index`).

    The index is grey, not a colour: 4:2:0 video keeps grey (luma) at full resolution, while
    a colour level beside saturated gradients drifted 1-3 levels per encode, which after
    two encodes could read as the next index.
    """
    y, x = np.mgrid[0:height, 0:width]
    strip = min(PATTERN_STRIP, height // 4)
    side = max(4, min(width, height - strip) // 4)
    for i in range(count):
        level = PATTERN_BASE + PATTERN_STEP * (i % PATTERN_PERIOD)
        rgb = np.empty((height, width, 3), np.uint8)
        rgb[..., 0] = level
        rgb[..., 1] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
        rgb[..., 2] = (y * 255 // max(height - 1, 1)).astype(np.uint8)
        x0 = (3 * i) % max(width - side, 1)
        y0 = (2 * i) % max(height - strip - side, 1)
        rgb[y0 : y0 + side, x0 : x0 + side, 1:] = (255, 40)
        rgb[height - strip :] = level
        yield rgb


test_pattern.__test__ = False  # not a pytest test, despite its name


def pattern_index(rgb: np.ndarray) -> int:
    """The frame index (modulo ``PATTERN_PERIOD``) that :func:`test_pattern` encoded in ``rgb``."""
    strip = min(PATTERN_STRIP, rgb.shape[0] // 4)
    level = float(np.median(rgb[rgb.shape[0] - strip + 1 : rgb.shape[0] - 1, 1:-1]))  # away from the strip's edges
    return int(round((level - PATTERN_BASE) / PATTERN_STEP)) % PATTERN_PERIOD
