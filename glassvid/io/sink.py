"""Writing clips: :func:`open_sink` returns a :class:`FrameSink`.

Outputs
    ``.mp4`` / ``.mov`` / ``.mkv``: H.264 (libx264), yuv420p, ``crf``, ``preset``;
    ``.webm``: VP9 (libvpx-vp9), yuv420p, constant quality ``crf`` (VP9's 0-63 scale);
    a pattern with one frame-number field (``out/frame.%05d.png``, ``shot.####.jpg``):
    one image per frame, named by the *source* frame index; .png is lossless, .jpg is
    quality 95, .tif/.tiff is 8-bit.
    Video keeps the input's frame count, frame rate, time base and each frame's source
    pts, so variable frame rate survives. Containers have the last word on the time
    base: Matroska/WebM store milliseconds, MP4/MOV raise a coarse one to >= 1/10000.
    A time base that cannot express one frame (1/1000 at 24 fps) is refined to one
    that can (1/24000), and pts within one tick of the constant-rate grid are put on
    it, so a WebM -> MP4 conversion is exactly 24 fps rather than 24.0075. Colours
    are written as BT.709 limited range and tagged so, which players and
    :func:`read_frames` honour.

Odd sizes
    H.264 4:2:0 cannot hold an odd width or height. The H.264 SPS can crop the coded
    picture (x264's ``crop-rect``, which libx264 honours through PyAV's
    ``x264-params``; PyAV decodes the cropped size), but in 4:2:0 the crop unit is
    two luma pixels (H.264 7.4.2.1.1, CropUnitX = SubWidthC, CropUnitY = SubHeightC),
    so x264 rejects ``crop-rect=0,0,1,1`` ("not divisible by 2x2") and no 4:2:0
    bitstream decodes to an odd size. The routes that keep the exact odd size are
    H.264 4:4:4 (``pix_fmt="yuv444p"``: High 4:4:4 profile, which browsers, QuickTime
    and most hardware decoders do not play), VP9 (``.webm``, which stores odd sizes
    natively) and image sequences. The default for H.264 is therefore: pad the frame by
    one edge-replicated column and/or row to the next even size and log a warning.
    Every source pixel keeps its position (the output's top-left ``W x H`` is the
    picture), and the file plays everywhere; crop it back with
    ``ffmpeg -vf crop=W:H:0:0`` if needed.

Audio
    ``audio_from`` (a video file with an audio stream) is stream-copied: packets go
    through untouched, no re-encode. With a ``frames`` range only packets whose start
    time lies in ``[time of the first written frame, end of the last written frame)``
    are kept, shifted by the same amount as the video so A/V sync holds. The cut is
    packet-precise, not sample-precise: one packet is ~21 ms of AAC at 48 kHz (1024
    samples) or 20 ms of Opus, so the audio may start up to one packet after the video.
    Without a range the whole audio stream is copied (like ``ffmpeg -c copy``), even
    where it runs past the video. Matroska cannot store negative times, so AAC's
    priming packet (-21 ms) shifts both streams by 21 ms there, keeping sync.
    If the container cannot hold the codec (AAC in WebM, Opus in MOV, ...), a warning
    is logged and the output has no audio. Image sequences get no audio.

Safety
    Output goes to a hidden temporary name in the target folder (``.out.mp4.part-<hex>``,
    or a ``.<name>.part-<hex>`` folder for sequences) and is renamed at :meth:`close`,
    so a crash never leaves a file at the final name that looks complete. The parent
    folder is created if missing. An existing output is replaced. Writing over the
    input is refused (:func:`check_output_path`).
"""

from __future__ import annotations

import io as _io
import logging
import math
import os
import queue
import secrets
import shutil
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from glassvid.errors import ConfigError, DecodeError, InputError, OutputError
from glassvid.io import images
from glassvid.io.source import ClipInfo, Frame, _open_video

logger = logging.getLogger(__name__)

__all__ = ["FrameSink", "BackgroundWriter", "open_sink", "check_output_path", "VIDEO_FORMATS"]

#: Output extension -> (FFmpeg muxer, video encoder, audio encoder used by synth.write_clip).
VIDEO_FORMATS = {
    ".mp4": ("mp4", "libx264", "aac"),
    ".m4v": ("mp4", "libx264", "aac"),
    ".mov": ("mov", "libx264", "aac"),
    ".mkv": ("matroska", "libx264", "aac"),
    ".webm": ("webm", "libvpx-vp9", "libopus"),
}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
#: x264 preset -> libvpx-vp9 ``cpu-used`` in ``deadline=good`` mode (5 is its fastest).
VP9_CPU_USED = {"ultrafast": 5, "superfast": 5, "veryfast": 5, "faster": 4, "fast": 3, "medium": 2, "slow": 1, "slower": 0, "veryslow": 0}
#: Largest time-base denominator the sink creates (MP4 timescales are 32-bit).
MAX_TIME_BASE_DEN = 10**6
CRF_RANGE = {"libx264": (0, 51), "libvpx-vp9": (0, 63)}
PIX_FMTS = {"libx264": ("yuv420p", "yuv444p"), "libvpx-vp9": ("yuv420p", "yuv444p")}

# H.264/H.265/VP9 colour tags: BT.709 primaries/transfer/matrix (1), limited range (1).
_BT709 = 1
_RANGE_MPEG = 1


# ---------------------------------------------------------------------------- path checks


def check_output_path(output: str | os.PathLike, input: str | os.PathLike | None) -> None:  # noqa: A002
    """Refuse an output that would overwrite the input (resolved paths, hard links and
    sequences included). Raises :class:`OutputError` naming the fix."""
    if input is None:
        return
    out_text, in_text = os.fspath(output), os.fspath(input)
    out_pattern = images.parse_pattern(out_text) if not os.path.isfile(out_text) else None
    in_is_dir = os.path.isdir(in_text)
    in_pattern = None if in_is_dir or os.path.isfile(in_text) else images.parse_pattern(in_text)
    fix = "choose another output name or folder"

    if out_pattern is None:
        out_path = Path(out_text).resolve()
        if in_is_dir or in_pattern is not None:
            if in_is_dir and out_path.parent == Path(in_text).resolve() and out_path.suffix.lower() in images.IMAGE_EXTENSIONS:
                raise OutputError(f"output {out_text!r} would be written into the input sequence folder {in_text!r}; {fix}")
            if in_pattern is not None and out_path.parent == in_pattern.folder.resolve() and in_pattern.match(out_path.name) is not None:
                raise OutputError(f"output {out_text!r} is a frame of the input sequence {in_text!r}; {fix}")
            return
        if out_path == Path(in_text).resolve() or _same_file(out_text, in_text):
            raise OutputError(f"output {out_text!r} is the input file; writing it would destroy the input; {fix}")
        return

    out_folder = out_pattern.folder.resolve()
    if in_is_dir:
        if out_folder == Path(in_text).resolve():
            raise OutputError(
                f"output {out_text!r} would write frames into the input sequence folder {in_text!r}, "
                f"mixing the two sequences; {fix}"
            )
        return
    if in_pattern is not None:
        if out_folder == in_pattern.folder.resolve() and (
            (out_pattern.prefix, out_pattern.suffix) == (in_pattern.prefix, in_pattern.suffix)
            or any(out_pattern.match(in_pattern.name(n)) is not None for n in (0, 1, 10, 100, 1000))
        ):
            raise OutputError(f"output {out_text!r} would overwrite the input sequence {in_text!r}; {fix}")
        return
    in_path = Path(in_text).resolve()
    if in_path.parent == out_folder and out_pattern.match(in_path.name) is not None:
        raise OutputError(f"output {out_text!r} would overwrite the input file {in_text!r}; {fix}")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# ---------------------------------------------------------------------------- sinks


class FrameSink:
    """Write frames in order; a context manager.

    ``__exit__`` calls :meth:`close` when the block succeeds and :meth:`abort` when it
    raises. Nothing exists at the final path until :meth:`close` returns.
    """

    def __init__(self, path: str, info: ClipInfo, frames: range | None) -> None:
        self.path = path
        self.info = info
        self.frames = frames
        self.frames_written = 0
        self._done = False

    # -- public API
    def write(self, frame: Frame | np.ndarray) -> None:
        """Write one frame: a :class:`Frame` (keeps its index and pts) or an ``HxWx3``
        uint8 RGB array (index and pts follow from the write order)."""
        if self._done:
            raise RuntimeError(f"sink for {self.path!r} is already closed or aborted")
        if isinstance(frame, Frame):
            rgb, index, pts = frame.rgb, frame.index, frame.pts
        else:
            rgb, index, pts = frame, None, None
        if index is None:
            index = (self.frames.start if self.frames is not None else 0) + self.frames_written
        self._write(self._check_array(rgb), index, pts)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the output (flush the encoder, mux) and rename it to the final name."""
        if self._done:
            return
        if self.frames_written == 0:
            self.abort()
            raise OutputError(f"no frames were written to {self.path!r}; nothing to save (the input decoded no frames?)")
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._done = True
        expected = len(self.frames) if self.frames is not None else self.info.frame_count
        if expected and self.frames_written != expected:
            logger.warning(
                "%r holds %d frames but its source range has %d", self.path, self.frames_written, expected
            )

    def abort(self) -> None:
        """Delete everything temporary; the final path is left untouched."""
        if self._done:
            return
        self._done = True
        self._discard()

    def __enter__(self) -> FrameSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    # -- for subclasses
    def _check_array(self, rgb: np.ndarray) -> np.ndarray:
        expected = (self.info.height, self.info.width, 3)
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.shape != expected:
            got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise ValueError(f"frames for {self.path!r} must be uint8 arrays of shape {expected} (HxWx3 RGB), got {got}")
        return np.ascontiguousarray(rgb)

    def _write(self, rgb: np.ndarray, index: int, pts: int | None) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        raise NotImplementedError

    def _discard(self) -> None:
        raise NotImplementedError


class BackgroundWriter:
    """Hands a sink's writes to a thread of its own, so encoding a frame overlaps making the next one.

    The encoder (libx264's own threads, PNG's zlib) and the render both leave cores idle
    on a 2-core machine; overlapped, davis_blackswan's render pass to an mp4 ran at
    24.9-27.8 frames/s against 18.7-24.2 written in the caller's thread (5 alternating
    runs in one sitting). At most ``depth`` frames wait, so memory stays bounded.

    A context manager inside the sink's own ``with``: leaving it waits for the queued
    frames; an error in the thread is raised in the caller at its next :meth:`write` or
    on leaving, so the sink then aborts and no output that looks finished is left.
    """

    def __init__(self, sink: FrameSink, depth: int = 2) -> None:
        self.sink = sink
        self._queue: queue.Queue[Frame | np.ndarray | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="glassvid-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is None:  # after a failure the rest is drained, not written
                try:
                    self.sink.write(frame)
                except BaseException as exc:  # noqa: BLE001 -- handed to the caller's thread
                    self._error = exc

    def write(self, frame: Frame | np.ndarray) -> None:
        """Queue one frame (as :meth:`FrameSink.write`); waits while ``depth`` frames are queued."""
        self._raise()
        self._queue.put(frame)

    def finish(self) -> None:
        """Wait until every queued frame is written; raise the thread's error, if any."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.finish()
        elif self._thread.is_alive():  # the caller failed: stop, and leave the error to the sink's abort
            self._error = self._error or exc
            self._queue.put(None)
            self._thread.join()
        return False


class _SequenceSink(FrameSink):
    """Images named by source frame index, written into a hidden folder, moved at close."""

    def __init__(self, path: str, info: ClipInfo, frames: range | None, pattern: images.SequencePattern) -> None:
        super().__init__(path, info, frames)
        self._pattern = pattern
        self._ext = Path("f" + pattern.suffix).suffix.lower()
        self._tmp = _make_temp_dir(pattern.folder, pattern.name(0), path)
        self._names: list[str] = []

    def _write(self, rgb: np.ndarray, index: int, pts: int | None) -> None:
        name = self._pattern.name(index)
        data = images.encode_image(rgb, self._ext, what=f"frame {index}")
        try:
            with open(self._tmp / name, "xb") as f:
                f.write(data)
        except FileExistsError:
            raise ValueError(f"frame {index} was written twice to {self.path!r}; write each frame once") from None
        except OSError as e:
            raise OutputError(f"cannot write frame {index} of {self.path!r}: {e.strerror or e}; free disk space or choose another folder") from None
        self._names.append(name)

    def _finish(self) -> None:
        folder = self._pattern.folder
        try:
            for name in self._names:
                os.replace(self._tmp / name, folder / name)
            self._tmp.rmdir()
        except OSError as e:
            raise OutputError(f"cannot move frames of {self.path!r} into place: {e.strerror or e}; check the folder") from None
        written = set(self._names)
        stale = [e.name for e in os.scandir(folder) if self._pattern.match(e.name) is not None and e.name not in written]
        if stale:
            logger.warning(
                "%r: %d older files also match the pattern (e.g. %r); they are not part of this output",
                self.path, len(stale), sorted(stale)[0],
            )

    def _discard(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


class _VideoSink(FrameSink):
    """Encode to a temporary file with PyAV, mux audio alongside, rename at close."""

    def __init__(
        self,
        path: str,
        info: ClipInfo,
        frames: range | None,
        *,
        muxer: str,
        codec: str,
        crf: int,
        preset: str,
        pix_fmt: str,
        audio: _AudioTrack | None,
    ) -> None:
        super().__init__(path, info, frames)
        final = Path(path)
        self._final = final
        self._tmp = _make_temp_file(final, path)
        self._audio: _AudioTrack | None = None
        self._container = None
        try:
            self._pad = (0, 0)
            width, height = info.width, info.height
            if pix_fmt == "yuv420p" and codec == "libx264" and (width % 2 or height % 2):
                self._pad = (height % 2, width % 2)
                logger.warning(
                    "%r: H.264 4:2:0 cannot store the odd size %dx%d; writing %dx%d with the last "
                    "column/row repeated (the picture is the top-left %dx%d). For the exact size write "
                    ".webm, an image sequence, or pass pix_fmt='yuv444p' (plays in fewer players)",
                    path, width, height, width + self._pad[1], height + self._pad[0], width, height,
                )
            options = {"movflags": "+faststart"} if muxer in ("mp4", "mov") else {}
            self._container = av.open(str(self._tmp), "w", format=muxer, options=options)
            stream = self._container.add_stream(codec, rate=info.fps)
            stream.width, stream.height = width + self._pad[1], height + self._pad[0]
            stream.pix_fmt = pix_fmt
            self._time_base = _output_time_base(info)
            stream.time_base = self._time_base
            cc = stream.codec_context
            cc.time_base = self._time_base
            cc.colorspace = cc.color_primaries = cc.color_trc = _BT709
            cc.color_range = _RANGE_MPEG
            stream.options = _encoder_options(codec, crf, preset)
            self._stream = stream
            self._frame_seconds = 1 / info.fps
            # (source index, source time) of the first frame: the constant-rate grid's origin.
            self._anchor: tuple[int, Fraction] | None = None
            self._shift = Fraction(0)  # seconds subtracted from all times (a range starts at 0)
            self._last_pts: int | None = None
            self._last_time: Fraction | None = None
            if audio is not None and audio.attach(self._container, muxer, path):
                self._audio = audio
            elif audio is not None:
                audio.close()
        except BaseException:
            if audio is not None:
                audio.close()
            self._discard()
            raise

    def _write(self, rgb: np.ndarray, index: int, pts: int | None) -> None:
        out_pts, source_time = self._timestamp(index, pts)
        if self._last_pts is not None and out_pts <= self._last_pts:
            raise ValueError(
                f"frames must be written to {self.path!r} in increasing time order; frame {index} "
                f"at {float(source_time):.4f} s comes after {float(self._last_time):.4f} s"
            )
        self._last_pts, self._last_time = out_pts, source_time
        if self._pad != (0, 0):
            rgb = np.pad(rgb, ((0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        vframe = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        vframe = vframe.reformat(format=self._stream.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
        vframe.pts = out_pts
        vframe.time_base = self._time_base
        vframe.duration = round(self._frame_seconds / self._time_base)
        try:
            for packet in self._stream.encode(vframe):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.mux_until(source_time)
        except av.FFmpegError as e:
            raise OutputError(f"encoding frame {index} to {self.path!r} failed: {e}; check free disk space") from None

    def _finish(self) -> None:
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.finish(self._last_time + self._frame_seconds)
                self._audio.close()
                self._audio = None
            self._container.close()
            self._container = None
        except av.FFmpegError as e:
            raise OutputError(f"finishing {self.path!r} failed: {e}; check free disk space") from None
        try:
            os.replace(self._tmp, self._final)
        except OSError as e:
            raise OutputError(f"cannot rename the finished output to {self.path!r}: {e.strerror or e}; check the folder") from None

    def _discard(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the file is deleted next; its state does not matter
                logger.debug("closing the aborted output %r failed", self.path, exc_info=True)
            self._container = None
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass

    def _timestamp(self, index: int, pts: int | None) -> tuple[int, Fraction]:
        """(output pts in the output time base, source time in seconds) of one frame.

        Source pts are kept (VFR survives). A pts within one source tick of the
        constant-rate grid is snapped onto it: containers that store milliseconds
        (Matroska/WebM) round 1/24 s to 41/42 ms, and carrying that rounding into an
        MP4 would change its average frame rate.
        """
        tb = self.info.time_base
        source_time = index * self._frame_seconds if pts is None else pts * tb
        if self._anchor is None:
            self._anchor = (index, source_time)
            if self.frames is not None:
                # A range starts the output at time 0; audio is shifted by the same amount.
                self._shift = source_time
                if self._audio is not None:
                    self._audio.start(source_time)
        first_index, first_time = self._anchor
        grid_time = first_time + (index - first_index) * self._frame_seconds
        if pts is None or abs(source_time - grid_time) <= tb:
            source_time = grid_time
        return round((source_time - self._shift) / self._time_base), source_time


def _output_time_base(info: ClipInfo) -> Fraction:
    """The input's time base, refined (1/1000 -> 1/24000 at 24 fps) when it cannot
    express one frame duration exactly, so constant-rate timing is exact in MP4/MOV."""
    tb = info.time_base
    if (1 / (info.fps * tb)).denominator == 1 or tb.numerator != 1:
        return tb
    finer = Fraction(1, math.lcm(tb.denominator, info.fps.numerator))
    return finer if finer.denominator <= MAX_TIME_BASE_DEN else tb


def _encoder_options(codec: str, crf: int, preset: str) -> dict[str, str]:
    low, high = CRF_RANGE[codec]
    if isinstance(crf, bool) or not isinstance(crf, int) or not low <= crf <= high:
        raise ConfigError(f"crf for {codec} must be an integer in {low}-{high} (lower is better), got {crf!r}; e.g. 18")
    if preset not in X264_PRESETS:
        raise ConfigError(f"unknown encoder preset {preset!r}; choose one of {', '.join(X264_PRESETS)}")
    if codec == "libx264":
        return {"crf": str(crf), "preset": preset}
    return {"crf": str(crf), "b": "0", "deadline": "good", "cpu-used": str(VP9_CPU_USED[preset]), "row-mt": "1"}


def _make_temp_file(final: Path, text: str) -> Path:
    images.make_parent(final)
    for _ in range(8):
        tmp = final.with_name(f".{final.name}.part-{secrets.token_hex(4)}")
        try:
            with open(tmp, "xb"):
                return tmp
        except FileExistsError:
            continue
        except PermissionError:
            raise OutputError(
                f"cannot write {text!r}: permission denied in folder {str(final.parent)!r}; "
                "choose a writable folder or fix its permissions"
            ) from None
        except OSError as e:
            raise OutputError(f"cannot write {text!r}: {e.strerror or e}; choose another output folder") from None
    raise OutputError(f"cannot create a temporary file next to {text!r}; clean up .part files in that folder")


def _make_temp_dir(folder: Path, first_name: str, text: str) -> Path:
    images.make_parent(folder / first_name)
    for _ in range(8):
        tmp = folder / f".{first_name}.part-{secrets.token_hex(4)}"
        try:
            tmp.mkdir()
            return tmp
        except FileExistsError:
            continue
        except PermissionError:
            raise OutputError(
                f"cannot write {text!r}: permission denied in folder {str(folder)!r}; "
                "choose a writable folder or fix its permissions"
            ) from None
        except OSError as e:
            raise OutputError(f"cannot write {text!r}: {e.strerror or e}; choose another output folder") from None
    raise OutputError(f"cannot create a temporary folder next to {text!r}; clean up .part folders there")


# ---------------------------------------------------------------------------- audio


class _AudioTrack:
    """An audio stream muxed alongside the video, in step with it (interleaved)."""

    def attach(self, container, muxer: str, out_text: str) -> bool:
        """Add the stream to ``container``; False (after logging why) to go without audio."""
        raise NotImplementedError

    def start(self, t0: Fraction) -> None:
        """A frames range starts at source time ``t0`` (seconds): drop audio before, shift by it."""

    def mux_until(self, t: Fraction) -> None:
        """Mux audio up to source time ``t`` (seconds)."""
        raise NotImplementedError

    def finish(self, t_end: Fraction) -> None:
        """Mux what is left; ``t_end`` is the end time of the last video frame (seconds)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release inputs; safe to call twice."""


class _AudioCopy(_AudioTrack):
    """Stream copy of another file's first audio stream (no re-encode)."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._input = _open_video(source)
        self._in_stream = self._input.streams.audio[0]
        self._packets = None
        self._pending = None
        self._t0: Fraction | None = None
        self._shift = 0
        self._out = None
        self._container = None

    def attach(self, container, muxer: str, out_text: str) -> bool:
        codec = self._in_stream.codec_context.name
        reason = _cannot_hold(muxer, self._in_stream)
        if reason is not None:
            logger.warning(
                "%r: the %s container cannot hold the %s audio of %r (%s); writing it without audio. "
                "Write .mkv to keep the audio, or add it later with ffmpeg",
                out_text, muxer, codec, self._source, reason,
            )
            return False
        self._container = container
        self._out = container.add_stream_from_template(self._in_stream)
        self._packets = self._input.demux(self._in_stream)
        return True

    def start(self, t0: Fraction) -> None:
        self._t0 = t0
        self._shift = round(t0 / Fraction(self._in_stream.time_base))

    def _next(self):
        if self._pending is not None:
            packet, self._pending = self._pending, None
            return packet
        for packet in self._packets:
            if packet.size:
                return packet
        return None

    def mux_until(self, t: Fraction | None) -> None:
        tb = Fraction(self._in_stream.time_base)
        try:
            while (packet := self._next()) is not None:
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is not None and t is not None and ts * tb >= t:
                    self._pending = packet
                    return
                if self._t0 is not None:
                    if ts is None or ts * tb < self._t0:
                        continue
                    packet.pts = None if packet.pts is None else packet.pts - self._shift
                    packet.dts = None if packet.dts is None else packet.dts - self._shift
                packet.stream = self._out
                self._container.mux(packet)
        except av.FFmpegError as e:
            raise DecodeError(
                f"copying audio from {self._source!r} failed ({e}); the audio is damaged: "
                "write the output without audio_from"
            ) from None

    def finish(self, t_end: Fraction | None) -> None:
        # Without a frames range the whole audio stream is copied, like ffmpeg -c copy.
        self.mux_until(t_end if self._t0 is not None else None)
        self._pending = None

    def close(self) -> None:
        if self._input is not None:
            self._input.close()
            self._input = None


def _cannot_hold(muxer: str, stream) -> str | None:
    """Why ``muxer`` cannot take a copy of ``stream`` (FFmpeg's own check), or None."""
    try:
        with av.open(_io.BytesIO(), "w", format=muxer) as probe_out:
            probe_out.add_stream_from_template(stream)
            probe_out.start_encoding()
    except (av.FFmpegError, ValueError) as e:
        return str(e).split(";")[0]
    return None


class _AudioTone(_AudioTrack):
    """A sine tone encoded on the fly (synthetic clips)."""

    AMPLITUDE = 0.25

    def __init__(self, codec: str, hz: float, rate: int) -> None:
        self._codec, self._hz, self._rate = codec, hz, rate
        self._samples = 0
        self._out = None
        self._container = None

    def attach(self, container, muxer: str, out_text: str) -> bool:
        self._container = container
        self._out = container.add_stream(self._codec, rate=self._rate)
        self._out.layout = "mono"
        cc = self._out.codec_context
        cc.format = "fltp" if self._codec == "aac" else "flt"
        cc.open()  # to learn frame_size
        self._frame_size = cc.frame_size or 1024
        return True

    def _emit(self, upto: int, *, partial: bool) -> None:
        while self._samples < upto:
            count = min(self._frame_size, upto - self._samples)
            if count < self._frame_size and not partial:
                return
            t = np.arange(self._samples, self._samples + count) / self._rate
            wave = (self.AMPLITUDE * np.sin(2 * math.pi * self._hz * t)).astype(np.float32)[None, :]
            aframe = av.AudioFrame.from_ndarray(wave, format=self._out.codec_context.format.name, layout="mono")
            aframe.sample_rate = self._rate
            aframe.pts = self._samples
            aframe.time_base = Fraction(1, self._rate)
            for packet in self._out.encode(aframe):
                self._container.mux(packet)
            self._samples += count

    def mux_until(self, t: Fraction) -> None:
        self._emit(math.floor(t * self._rate), partial=False)

    def finish(self, t_end: Fraction) -> None:
        self._emit(round(t_end * self._rate), partial=True)
        for packet in self._out.encode(None):
            self._container.mux(packet)


# ---------------------------------------------------------------------------- open_sink


def open_sink(
    path: str | os.PathLike,
    info: ClipInfo,
    *,
    frames: range | None = None,
    audio_from: str | os.PathLike | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    pix_fmt: str = "yuv420p",
) -> FrameSink:
    """Open an output for the clip described by ``info`` (size, rate, time base).

    ``path``: a video file (.mp4/.mov/.mkv: H.264; .webm: VP9) or an image-sequence
    pattern with one frame-number field (``out/frame.%05d.png``; .png/.jpg/.tif).
    ``frames``: the source range being written (output timing starts at its first
    frame; sequence files are still numbered by source index). ``audio_from``: copy
    this file's audio (see the module docstring for precision and skipped codecs).
    ``crf``/``preset``: encoder quality/speed. ``pix_fmt``: "yuv420p" (plays
    everywhere) or "yuv444p" (exact odd sizes and full chroma; H.264 High 4:4:4 plays
    in fewer players). Raises :class:`OutputError` (unsupported extension, output is
    the input, unwritable folder) or :class:`ConfigError` (crf/preset/pix_fmt).
    """
    text = os.fspath(path)
    check_output_path(text, info.path)
    if audio_from is not None:
        check_output_path(text, audio_from)
    if frames is not None and (not isinstance(frames, range) or frames.step != 1 or frames.start < 0 or len(frames) == 0):
        raise InputError(f"frames must be a non-empty contiguous range of indices >= 0, got {frames!r}; e.g. range(0, 24)")
    pattern = images.parse_pattern(text)
    suffix = Path(text).suffix.lower()
    if pattern is not None:
        if suffix not in images.WRITE_EXTENSIONS:
            raise OutputError(
                f"cannot write sequence {text!r}: images must be one of {', '.join(images.WRITE_EXTENSIONS)}; "
                "e.g. 'out/frame.%05d.png'"
            )
        if audio_from is not None:
            logger.info("%r is an image sequence; audio from %r is not written", text, os.fspath(audio_from))
        return _SequenceSink(text, info, frames, pattern)
    if suffix in images.WRITE_EXTENSIONS:
        raise OutputError(
            f"cannot write {text!r}: an image output needs a frame-number field; "
            f"e.g. '{Path(text).with_suffix('').name}.%05d{suffix}'"
        )
    if suffix not in VIDEO_FORMATS:
        raise OutputError(
            f"cannot write {text!r}: unsupported output type {suffix or '(none)'!r}; use "
            f"{', '.join(VIDEO_FORMATS)} or an image pattern such as 'out/frame.%05d.png'"
        )
    muxer, codec, _ = VIDEO_FORMATS[suffix]
    if pix_fmt not in PIX_FMTS[codec]:
        raise ConfigError(f"pix_fmt for {suffix} must be one of {', '.join(PIX_FMTS[codec])}, got {pix_fmt!r}")
    _encoder_options(codec, crf, preset)  # validate before creating files
    audio = _audio_source(audio_from, text)
    return _VideoSink(text, info, frames, muxer=muxer, codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, audio=audio)


def _audio_source(audio_from: str | os.PathLike | None, out_text: str) -> _AudioTrack | None:
    if audio_from is None:
        return None
    source = os.fspath(audio_from)
    if images.is_sequence(source):
        logger.info("audio_from %r is an image sequence, which has no audio; %r gets none", source, out_text)
        return None
    container = _open_video(source)
    try:
        has_audio = len(container.streams.audio) > 0
    finally:
        container.close()
    if not has_audio:
        logger.info("%r has no audio stream; %r gets none", source, out_text)
        return None
    return _AudioCopy(source)
