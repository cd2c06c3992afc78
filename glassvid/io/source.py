"""Reading clips: :func:`probe` and :func:`read_frames`.

A clip is a video file (anything FFmpeg opens: mp4, mov, mkv, webm, ...) or an image
sequence (a folder, or a pattern such as ``shot.%04d.png``; see
:mod:`glassvid.io.images`).

Convention: frames are ``HxWx3`` uint8 RGB, C-contiguous. Frame indices are 0-based
positions in the source: frame 0 is the first decoded frame of the video or the first
file of the sequence. ``pts`` is in ``ClipInfo.time_base`` units.

Colour: YUV is converted with the matrix and range the stream is tagged with. An
untagged stream is read as BT.709 when it is HD (width >= 1280 or height > 576) and
BT.601 otherwise -- the convention of mpv and most players -- so colours match what a
player shows. The sink tags what it writes (BT.709, limited range), so a round trip
through glassvid keeps colours.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import struct
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from glassvid.errors import DecodeError, InputError
from glassvid.io import images

logger = logging.getLogger(__name__)

__all__ = ["ClipInfo", "Frame", "probe", "read_frames", "DEFAULT_SEQUENCE_FPS"]

#: Frame rate of an image sequence when none is given.
DEFAULT_SEQUENCE_FPS = 24
#: Untagged YUV at least this wide, or taller than SD_MAX_HEIGHT, is read as BT.709.
HD_MIN_WIDTH = 1280
SD_MAX_HEIGHT = 576
#: A stream whose packets end this many frames before its stated duration is reported.
TRUNCATION_WARN_FRAMES = 2
#: Probe results kept in memory (keyed by path, size, mtime), so read_frames after probe
#: does not demux a file twice to count its frames.
PROBE_CACHE_SIZE = 64

_AVCOL_SPC_UNSPECIFIED = 2


@dataclass(frozen=True)
class ClipInfo:
    """What a clip is, without its pixels.

    ``fps`` is the average frame rate (sequences: the ``fps`` argument, default 24).
    ``frame_count`` is exact: taken from the container or counted by demuxing.
    ``identity`` is stable for cache keys: resolved path + size + mtime_ns (sequences:
    a hash over all files' names, sizes and mtimes).
    """

    path: str
    kind: str  # "video" or "sequence"
    width: int
    height: int
    frame_count: int
    fps: Fraction
    time_base: Fraction
    has_audio: bool
    identity: str


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded frame: ``rgb`` is ``HxWx3`` uint8 RGB; ``pts`` in the clip's time_base
    (None for image sequences)."""

    index: int
    rgb: np.ndarray
    pts: int | None


# ---------------------------------------------------------------------------- probe


def probe(path: str | os.PathLike, *, fps: float | Fraction | None = None) -> ClipInfo:
    """Describe a video file or image sequence.

    ``fps`` sets the frame rate of an image sequence (default 24); it is ignored for
    video files, which carry their own. Raises :class:`DecodeError` (missing,
    unreadable, truncated, no video stream, empty folder, pattern matching nothing,
    images of different sizes) or :class:`InputError` (bad ``fps``, ambiguous folder).
    """
    text = os.fspath(path)
    if images.is_sequence(text):
        return _probe_sequence(text, _sequence_rate(fps, text))
    if fps is not None:
        logger.debug("probe(%r): fps=%s ignored, a video file has its own frame rate", text, fps)
    st = _stat_video(text)
    key = (str(Path(text).resolve()), st.st_size, st.st_mtime_ns)
    info = _probe_cache.get(key)
    if info is None:
        info = _probe_video(text, *key)
        _probe_cache[key] = info
        while len(_probe_cache) > PROBE_CACHE_SIZE:
            _probe_cache.popitem(last=False)
    else:
        _probe_cache.move_to_end(key)
    return replace(info, path=text)


_probe_cache: OrderedDict[tuple[str, int, int], ClipInfo] = OrderedDict()


def _stat_video(text: str) -> os.stat_result:
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise DecodeError(f"cannot read {text!r}: no such file or folder; check the path") from None
    except OSError as e:
        raise DecodeError(f"cannot read {text!r}: {e.strerror or e}; check the path and its permissions") from None
    if not os.access(text, os.R_OK):
        raise DecodeError(f"cannot read {text!r}: permission denied; fix the file's permissions")
    if st.st_size == 0:
        raise DecodeError(f"cannot read {text!r}: the file is empty (0 bytes); re-export or re-copy it")
    return st


def _probe_video(text: str, resolved: str, size: int, mtime_ns: int) -> ClipInfo:
    container = _open_video(text)
    try:
        stream = _video_stream(container, text)
        frame_count = stream.frames
        if frame_count <= 0:
            frame_count = _count_packets(container, stream, text)
        if frame_count <= 0:
            raise DecodeError(
                f"cannot read {text!r}: the video stream holds no frames (the file may be truncated); "
                "re-copy or re-export it"
            )
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise DecodeError(
                f"cannot read {text!r}: FFmpeg cannot tell the video's size (damaged stream header); "
                "re-export the file"
            )
        return ClipInfo(
            path=resolved,
            kind="video",
            width=width,
            height=height,
            frame_count=frame_count,
            fps=_stream_rate(stream, frame_count, text),
            time_base=Fraction(stream.time_base),
            has_audio=len(container.streams.audio) > 0,
            identity=f"video:{resolved}:{size}:{mtime_ns}",
        )
    finally:
        container.close()


def _open_video(text: str) -> av.container.InputContainer:
    """Open for reading; every failure becomes a one-line :class:`DecodeError`."""
    try:
        return av.open(text, "r", metadata_errors="ignore")
    except FileNotFoundError:
        raise DecodeError(f"cannot read {text!r}: no such file; check the path") from None
    except PermissionError:
        raise DecodeError(f"cannot read {text!r}: permission denied; fix the file's permissions") from None
    except av.FFmpegError as e:
        raise DecodeError(f"cannot read {text!r}: {_diagnose(text, e)}") from None


def _diagnose(text: str, error: Exception) -> str:
    """Name the likely cause of FFmpeg refusing a file, and the fix."""
    try:
        with open(text, "rb") as f:
            head = f.read(4096)
    except OSError:
        head = b""
    if head[4:8] == b"ftyp":
        missing = _missing_mp4_box(text)
        if missing:
            return (
                f"{missing} (the file is truncated or was never finished, e.g. an interrupted "
                "recording, copy or export); re-copy or re-export it"
            )
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return (
            "the Matroska/WebM file is damaged or cut short (truncated, or the recording or "
            "export did not finish); re-copy or re-export it"
        )
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head[:512]):
        return "it is a text file, not a video; give a video file or an image sequence"
    reason = getattr(error, "strerror", None) or str(error)
    return f"FFmpeg cannot open it ({reason}); give a video file FFmpeg can read, or an image sequence"


def _missing_mp4_box(text: str) -> str | None:
    """Walk an ISO-BMFF file's top-level boxes; describe what makes it unreadable."""
    size_total = os.path.getsize(text)
    seen = set()
    with open(text, "rb") as f:
        offset = 0
        while offset + 8 <= size_total:
            f.seek(offset)
            header = f.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1 and len(header) >= 16:
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = size_total - offset
            if size < 8:
                return "a damaged MP4/MOV box header"
            seen.add(kind)
            if offset + size > size_total and kind != b"moov":
                break
            if offset + size > size_total:
                return "the 'moov' index box is cut short"
            offset += size
    if b"moov" not in seen:
        return "'moov atom not found': the MP4/MOV index is missing"
    return None


def _video_stream(container: av.container.InputContainer, text: str) -> av.video.stream.VideoStream:
    """The first video stream that is not cover art."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    if container.streams.audio:
        what = "it holds only audio"
    elif container.streams.video:
        what = "it holds only a cover picture"
    else:
        with open(text, "rb") as f:
            is_mp4 = f.read(8)[4:8] == b"ftyp"
        problem = _missing_mp4_box(text) if is_mp4 else None
        if problem:
            raise DecodeError(
                f"cannot read {text!r}: {problem} (the file is truncated or was never finished); "
                "re-copy or re-export it"
            )
        what = "it holds no audio or video streams"
    raise DecodeError(f"cannot read {text!r}: no video stream ({what}); give a video file or an image sequence")


def _count_packets(container, stream, text: str) -> int:
    """Exact frame count for containers that do not store it (mkv, webm): demux, no decode."""
    count = 0
    end = None
    try:
        for packet in container.demux(stream):
            if packet.size:
                count += 1
                if packet.pts is not None:
                    packet_end = packet.pts + (packet.duration or 0)
                    end = packet_end if end is None else max(end, packet_end)
    except av.FFmpegError as e:
        raise DecodeError(
            f"cannot read {text!r}: the file is damaged after {count} video packets "
            f"({getattr(e, 'strerror', None) or e}); re-export or re-copy it"
        ) from None
    stated = _stated_seconds(stream)
    if end is not None and stated is not None and stream.average_rate:
        missing = (stated - float(end * stream.time_base)) * float(stream.average_rate)
        if missing >= TRUNCATION_WARN_FRAMES:
            logger.warning(
                "%r states a video duration of %.2f s but its frames end at %.2f s; the file "
                "is probably truncated, only %d frames will be read",
                text, stated, float(end * stream.time_base), count,
            )
    return count


def _stated_seconds(stream) -> float | None:
    """The stream duration a muxer wrote in its header (Matroska's DURATION tag), if any."""
    tag = next((v for k, v in stream.metadata.items() if k.upper() == "DURATION"), None)
    if not tag:
        return None
    try:
        h, m, sec = tag.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def _stream_rate(stream, frame_count: int, text: str) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and rate > 0:
            return Fraction(rate)
    if stream.duration and stream.time_base:
        seconds = stream.duration * stream.time_base
        if seconds > 0:
            return Fraction(frame_count) / Fraction(seconds)
    logger.warning("%r does not state a frame rate; assuming %d fps", text, DEFAULT_SEQUENCE_FPS)
    return Fraction(DEFAULT_SEQUENCE_FPS)


def _sequence_rate(fps: float | Fraction | None, text: str) -> Fraction:
    if fps is None:
        return Fraction(DEFAULT_SEQUENCE_FPS)
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)) or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"frame rate for sequence {text!r} must be a positive number, got {fps!r}; e.g. fps=24")
    if isinstance(fps, Fraction):
        return fps
    # 23.976 / 29.97 / 59.94 mean the NTSC rates n*1000/1001, not the decimal.
    for base in (24, 30, 48, 60, 120):
        if abs(fps - base * 1000 / 1001) < 5e-4:
            return Fraction(base * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def _probe_sequence(text: str, rate: Fraction) -> ClipInfo:
    files = images.list_sequence(text)
    digest = hashlib.sha256()
    for p in files:
        st = p.stat()
        digest.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    anchor = Path(text).resolve() if os.path.isdir(text) else images.parse_pattern(text).folder.resolve()
    width, height = _sequence_size(files, text)
    return ClipInfo(
        path=text,
        kind="sequence",
        width=width,
        height=height,
        frame_count=len(files),
        fps=rate,
        time_base=1 / rate,
        has_audio=False,
        identity=f"sequence:{anchor}:{digest.hexdigest()[:32]}",
    )


def _sequence_size(files: list[Path], text: str) -> tuple[int, int]:
    first = images.read_image(files[0])
    height, width = first.shape[:2]
    # PNG/JPEG sizes come from headers, so checking a long sequence costs one small read
    # per file; other formats are checked as each frame is decoded in read_frames.
    for p in files[1:]:
        size = images.peek_size(p)
        if size is not None and size != (width, height):
            raise DecodeError(
                f"cannot read sequence {text!r}: {p.name!r} is {size[0]}x{size[1]} but "
                f"{files[0].name!r} is {width}x{height}; all images of a sequence must have one size"
            )
    return width, height


# ---------------------------------------------------------------------------- read


def read_frames(
    path: str | os.PathLike,
    *,
    frames: range | None = None,
    fps: float | Fraction | None = None,
) -> Iterator[Frame]:
    """Decode a clip frame by frame, in order, holding only a few frames at a time.

    ``frames`` selects a contiguous range of indices (step 1): frames before it are
    decoded and skipped, decoding stops after it. The path, the range and the clip are
    checked when this is called; decoding problems surface while iterating, as
    :class:`DecodeError` naming how many frames decoded and how to proceed (e.g. a
    truncated file that decodes fewer frames than :func:`probe` counted).
    """
    info = probe(path, fps=fps)
    selected = _check_range(frames, info)
    if info.kind == "sequence":
        return _read_sequence(info, selected)
    return _read_video(info, selected)


def _check_range(frames: range | None, info: ClipInfo) -> range:
    if frames is None:
        return range(info.frame_count)
    if not isinstance(frames, range):
        raise TypeError(f"frames must be a range of frame indices, got {type(frames).__name__}")
    if frames.step != 1 or frames.start < 0 or frames.stop <= frames.start:
        raise InputError(
            f"frames must be a non-empty contiguous range of indices >= 0, got "
            f"range({frames.start}, {frames.stop}, {frames.step}); e.g. range(0, 24)"
        )
    if frames.stop > info.frame_count:
        raise DecodeError(
            f"cannot read frames {frames.start}-{frames.stop - 1} of {info.path!r}: it has "
            f"{info.frame_count} frames (0-{info.frame_count - 1}); choose a range inside it"
        )
    return frames


def _read_sequence(info: ClipInfo, selected: range) -> Iterator[Frame]:
    files = images.list_sequence(info.path)
    if len(files) != info.frame_count:
        raise DecodeError(
            f"sequence {info.path!r} changed since it was probed ({info.frame_count} -> {len(files)} files); "
            "probe it again"
        )
    for index in selected:
        rgb = images.read_image(files[index])
        if rgb.shape[:2] != (info.height, info.width):
            raise DecodeError(
                f"cannot read sequence {info.path!r}: {files[index].name!r} is "
                f"{rgb.shape[1]}x{rgb.shape[0]} but the sequence is {info.width}x{info.height}; "
                "all images of a sequence must have one size"
            )
        yield Frame(index=index, rgb=rgb, pts=None)


def _read_video(info: ClipInfo, selected: range) -> Iterator[Frame]:
    container = _open_video(info.path)
    try:
        stream = _video_stream(container, info.path)
        stream.thread_type = "AUTO"
        ticks_per_frame = 1 / (info.fps * info.time_base)
        index = 0
        try:
            for vframe in container.decode(stream):
                if index >= selected.start:
                    pts = vframe.pts
                    if pts is None:  # raw streams without timestamps: derive from the rate
                        pts = round(index * ticks_per_frame)
                    yield Frame(index=index, rgb=to_rgb(vframe), pts=pts)
                index += 1
                if index >= selected.stop:
                    break
        except av.FFmpegError as e:
            raise DecodeError(
                f"decoding {info.path!r} failed after {index} of {info.frame_count} frames "
                f"({getattr(e, 'strerror', None) or e}); the file is damaged: re-export it, or pass "
                f"frames=range(0, {index}) to use the frames that decode"
            ) from None
        if index < selected.stop:
            raise DecodeError(
                f"{info.path!r} decoded only {index} of {info.frame_count} frames (the file is truncated "
                f"or damaged); re-copy or re-export it, or pass frames=range(0, {index}) to use the frames that decode"
            )
    finally:
        container.close()


def to_rgb(vframe: av.VideoFrame) -> np.ndarray:
    """Convert a decoded frame of any pixel format (8/10/12-bit YUV 4:2:0/4:2:2/4:4:4,
    RGB(A), gray, palette) to ``HxWx3`` uint8 RGB, C-contiguous; alpha is dropped."""
    kwargs = {}
    fmt = vframe.format
    if vframe.colorspace == _AVCOL_SPC_UNSPECIFIED and not fmt.is_rgb and len(fmt.components) >= 3:
        hd = vframe.width >= HD_MIN_WIDTH or vframe.height > SD_MAX_HEIGHT
        kwargs["src_colorspace"] = "ITU709" if hd else "ITU601"
    rgb = vframe.to_ndarray(format="rgb24", **kwargs)
    return np.ascontiguousarray(rgb)
