"""VFX deliverables from a finished run: EXR passes, PNG/TIFF sequences, ProRes 4444.

Files (``NAME`` defaults to ``shot``; ``####`` is the frame number, ``start_frame`` for
the run's first frame, 1001 by convention, so source frame ``f`` is file number
``start_frame + f - first``)::

    DIR/NAME.####.exr           every pass in one multi-channel EXR per frame
    DIR/NAME.PASS.####.png      one image per pass and frame (8-bit; stmap 16-bit)
    DIR/NAME.PASS.####.tif      the same, 16-bit
    DIR/NAME.mov                ProRes 4444 with alpha: the beauty and its matte
    DIR/export.json             what was written: passes, channels, frames, conventions

Passes, and their EXR channels (scene-linear, Rec.709/sRGB primaries; colour channels are
half float; coordinates and depth are 32-bit float, because half's 11-bit mantissa would
move an STMap sample by up to 2 px on a 4K plate)::

    beauty   R G B                  glassvid's output frame, decoded from sRGB to linear
    alpha    A                      the object's soft matte (1 on the object, 0 beyond
                                    its feathered edge); with beauty it makes "RGBA"
                                    where RGB is the whole frame, not premultiplied
    glass    glass.R G B A          the glass element, premultiplied by its matte:
                                    beauty = glass + (1 - glass.A) * input (before the
                                    temporal blend)
    plate    plate.R G B            the clean plate (the background behind the object)
    depth    Z                      relative depth in pixels: 0 on the object's silhouette
                                    plane and outside it, -height of the front surface
                                    inside (larger = farther); the classic depth stage
                                    recovers the object's shape, not the scene's distance
    normals  N.X N.Y N.Z            front-surface normals, camera space, OpenGL axes
                                    (x right, y up, z toward the camera); 0 off the object
    stmap    stmap.u stmap.v        where each pixel samples the plate, as absolute 0-1
                                    coordinates with the origin at the bottom-left corner
                                    (Nuke's STMap: u = (x + 0.5) / W, v = 1 - (y + 0.5) / H
                                    for pixel x, y counted from the top-left); identity
                                    off the object
    offset   offset.x offset.y      the same as offsets in pixels, x right, y up
                                    (Nuke's IDistort convention); 0 off the object
    motion   forward.u forward.v    optical flow to the next frame and to the previous
             backward.u backward.v  one, pixels, x right, y up (Nuke's motion vectors);
                                    0 where there is no such frame
    seethrough  seethrough          the per-pixel See-Through Score of the output, 0-1
                                    (:func:`glassvid.score.local_score`: how much of the
                                    opaque object's texture is gone and background detail
                                    shows); 0 outside the object's mask

The refraction map is the green channel's (the renderer bends red and blue by slightly
different amounts when ``glass.dispersion`` > 0). PNG/TIFF hold the passes whose values
lie in 0-1: beauty (RGBA: the output's sRGB bytes and the matte, straight alpha), alpha,
glass (sRGB, straight alpha), plate, normals (``N * 0.5 + 0.5``, no transfer curve),
stmap (R = u, G = v, no transfer curve) and seethrough (gray, linear); depth, offset and
motion need EXR.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from glassvid.errors import ConfigError, InputError, OutputError
from glassvid.export.colour import REC709_CHROMATICITIES, quantize, srgb_encode
from glassvid.export.exr import write_exr
from glassvid.export.folder import StagedFolder, check_output_folder
from glassvid.export.run import Run, layer_field
from glassvid.io.images import encode_image
from glassvid.render.glass import GlassLayer
from glassvid.render.optics import srgb_to_linear
from glassvid.score import local_score

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

FORMATS = ("exr", "png", "tiff", "prores")
DEFAULT_START_FRAME = 1001
FRAME_PADDING = 4


@dataclass(frozen=True)
class PassSpec:
    """One pass: its EXR channels, their storage type, and whether 8/16-bit images can hold it."""

    channels: tuple[str, ...]
    exr_type: str  # "half" or "float"
    image: bool
    help: str


PASSES: dict[str, PassSpec] = {
    "beauty": PassSpec(("R", "G", "B"), "half", True, "the output frame, linear"),
    "alpha": PassSpec(("A",), "half", True, "the object's soft matte"),
    "glass": PassSpec(("glass.R", "glass.G", "glass.B", "glass.A"), "half", True, "the glass element, premultiplied"),
    "plate": PassSpec(("plate.R", "plate.G", "plate.B"), "half", True, "the clean plate, linear"),
    "depth": PassSpec(("Z",), "float", False, "relative depth in pixels (object's silhouette plane = 0, larger = farther)"),
    "normals": PassSpec(("N.X", "N.Y", "N.Z"), "half", True, "front-surface normals, camera space, x right, y up, z toward the camera"),
    "stmap": PassSpec(("stmap.u", "stmap.v"), "float", True, "refraction as absolute 0-1 source coordinates, origin bottom-left (Nuke STMap)"),
    "offset": PassSpec(("offset.x", "offset.y"), "float", False, "refraction as offsets in pixels, x right, y up (Nuke IDistort)"),
    "motion": PassSpec(("forward.u", "forward.v", "backward.u", "backward.v"), "float", False, "optical flow to the next/previous frame, pixels, x right, y up"),
    "seethrough": PassSpec(("seethrough",), "half", True, "per-pixel See-Through Score of the output in [0, 1] (glassvid.score.local_score); 0 outside the object's mask"),
}
IMAGE_EXT = {"png": ".png", "tiff": ".tif"}


@dataclass
class PassesPlan:
    """A validated export: which frames, passes and formats, and the file numbering."""

    indices: range  # clip indices (0-based in the run)
    formats: tuple[str, ...]
    passes: tuple[str, ...]  # for exr/png/tiff
    start_frame: int
    name: str

    def number(self, i: int) -> int:
        """File number of clip index ``i``."""
        return self.start_frame + i


@dataclass
class PassesReport:
    output: str
    formats: list[str]
    passes: list[str]
    frames: list[int]  # file numbers written
    source_frames: list[int]
    files: int = 0
    channels: list[str] = field(default_factory=list)


def plan_passes(
    run: Run,
    *,
    formats: Sequence[str] = ("exr",),
    passes: Sequence[str] | None = None,
    start_frame: int = DEFAULT_START_FRAME,
    frames: tuple[int, int] | None = None,
    name: str = "shot",
) -> PassesPlan:
    """Check every option before anything is written; raise one clear error."""
    formats, chosen = check_passes_options(formats, passes, start_frame, name)
    return PassesPlan(run.select(frames), formats, chosen, start_frame, name)


def check_passes_options(formats: Sequence[str], passes: Sequence[str] | None, start_frame: int, name: str = "shot") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The options that need no run: ``(formats, passes)`` resolved, or one clear error."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip())) or ("exr",)
    for f in formats:
        if f not in FORMATS:
            raise ConfigError(f"unknown export format '{f}'; known formats: {', '.join(FORMATS)}")
    chosen = resolve_passes(formats, passes)
    if isinstance(start_frame, bool) or not isinstance(start_frame, int) or start_frame < 0:
        raise InputError(f"--start-frame must be a whole number >= 0 (1001 by convention), got {start_frame!r}")
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name) or name.endswith("."):
        raise InputError(f"--name '{name}' cannot start a file name; use letters, digits, '_', '-' or '.', e.g. 'shot' or 'sh010_glass'")
    return formats, chosen


def resolve_passes(formats: Sequence[str], passes: Sequence[str] | None) -> tuple[str, ...]:
    """The passes to write: all (exr), the 0-1 ones (png/tiff), or ``passes`` checked."""
    if passes is None or len(passes) == 0:
        if any(f == "exr" for f in formats):
            return tuple(PASSES)
        return tuple(p for p, s in PASSES.items() if s.image)
    chosen = []
    for p in passes:
        p = p.strip().lower()
        if p not in PASSES:
            raise ConfigError(f"unknown pass '{p}'; known passes: {', '.join(PASSES)}")
        if p not in chosen:
            chosen.append(p)
    for f in formats:
        if f in IMAGE_EXT:
            bad = [p for p in chosen if not PASSES[p].image]
            if bad:
                raise ConfigError(f"pass '{bad[0]}' holds values outside 0-1 and cannot be written as {f.upper()}; write it with --format exr")
    return tuple(chosen)


# ---------------------------------------------------------------------------- per frame


class FrameData:
    """The passes of one rendered frame, computed on first use (full-frame arrays).

    Coordinates inside are glassvid's (x right, y down, pixels); the properties that
    feed files convert to the files' conventions (see the module doc).
    """

    def __init__(self, run: Run, i: int, out: np.ndarray, layer: GlassLayer | None) -> None:
        self.run, self.i, self.out, self.layer = run, i, out, layer
        self.h, self.w = out.shape[:2]

    def _paste(self, crop: np.ndarray, fill: float = 0.0) -> np.ndarray:
        full = np.full((self.h, self.w) + crop.shape[2:], fill, np.float32)
        x0, y0, x1, y1 = self.layer.box  # type: ignore[union-attr]
        full[y0:y1, x0:x1] = crop
        return full

    @cached_property
    def beauty(self) -> np.ndarray:
        """HxWx3 float32 linear: the output frame decoded exactly (8-bit sRGB table)."""
        return srgb_to_linear(self.out)

    @cached_property
    def matte(self) -> np.ndarray:
        """HxW float32 in [0, 1]."""
        return np.zeros((self.h, self.w), np.float32) if self.layer is None else self._paste(self.layer.alpha)

    @cached_property
    def inside(self) -> np.ndarray:
        """HxW bool: pixels on the glass object itself (not its feathered edge)."""
        return np.zeros((self.h, self.w), bool) if self.layer is None else self._paste(self.layer.thickness) > 0

    @cached_property
    def glass_rgb(self) -> np.ndarray:
        """HxWx3 float32 linear glass colour, not premultiplied (0 off the layer)."""
        return np.zeros((self.h, self.w, 3), np.float32) if self.layer is None else self._paste(self.layer.rgb)

    @cached_property
    def plate_u8(self) -> np.ndarray:
        return self.run.clip.plate(self.i)

    @cached_property
    def offset_px(self) -> np.ndarray:
        """HxWx2 float32: where each pixel samples the plate, relative, x right, y down."""
        return np.zeros((self.h, self.w, 2), np.float32) if self.layer is None else self._paste(layer_field(self.layer, "offset"))

    @cached_property
    def depth(self) -> np.ndarray:
        height, radius = self.run.clip.depth(self.i)
        return (-height * (self.run.config.glass.thickness * radius)).astype(np.float32)

    @cached_property
    def normals_gl(self) -> np.ndarray:
        """HxWx3 float32, OpenGL camera axes, 0 off the object."""
        if self.layer is None:
            return np.zeros((self.h, self.w, 3), np.float32)
        n = self._paste(layer_field(self.layer, "normals"))
        n = np.stack([n[..., 0], -n[..., 1], -n[..., 2]], -1)  # glassvid: y down, z away from the camera
        return np.where(self.inside[..., None], n, 0.0).astype(np.float32)

    @cached_property
    def stmap(self) -> np.ndarray:
        """HxWx2 float64 (u, v): absolute source coordinates in 0-1, origin bottom-left."""
        ys, xs = np.mgrid[0 : self.h, 0 : self.w].astype(np.float64)
        u = (xs + self.offset_px[..., 0] + 0.5) / self.w
        v = 1.0 - (ys + self.offset_px[..., 1] + 0.5) / self.h
        return np.stack([u, v], -1)

    @cached_property
    def motion(self) -> tuple[np.ndarray, np.ndarray]:
        """(forward, backward) HxWx2 float32 flow in pixels, x right, y down."""
        n = self.run.clip.n
        zero = np.zeros((self.h, self.w, 2), np.float32)
        fwd = self.run.clip.flows(self.i + 1)[0] if self.i + 1 < n else zero
        bwd = self.run.clip.flows(self.i)[1] if self.i >= 1 else zero
        return fwd, bwd

    @cached_property
    def seethrough(self) -> np.ndarray:
        """HxW float32 in [0, 1]: the output's per-pixel See-Through Score, 0 off the mask."""
        mask = self.run.clip.mask(self.i)
        if not mask.any():
            return np.zeros((self.h, self.w), np.float32)
        return local_score(self.out, self.run.clip.frame(self.i), mask)

    # -- in the files' conventions -----------------------------------------------------------
    def exr_channels(self, name: str) -> list[np.ndarray]:
        """The pass's EXR channels, in the order of ``PASSES[name].channels`` (float32)."""
        if name == "beauty":
            return [self.beauty[..., c] for c in range(3)]
        if name == "alpha":
            return [self.matte]
        if name == "glass":
            a = self.matte
            return [self.glass_rgb[..., c] * a for c in range(3)] + [a]
        if name == "plate":
            lin = srgb_to_linear(self.plate_u8)
            return [lin[..., c] for c in range(3)]
        if name == "depth":
            return [self.depth]
        if name == "normals":
            return [self.normals_gl[..., c] for c in range(3)]
        if name == "stmap":
            return [self.stmap[..., 0], self.stmap[..., 1]]
        if name == "offset":
            return [self.offset_px[..., 0], -self.offset_px[..., 1]]
        if name == "motion":
            fwd, bwd = self.motion
            return [fwd[..., 0], -fwd[..., 1], bwd[..., 0], -bwd[..., 1]]
        if name == "seethrough":
            return [self.seethrough]
        raise KeyError(name)

    def image(self, name: str, bits: int) -> np.ndarray:
        """The pass as an 8- or 16-bit image (RGB, RGBA or gray)."""
        def colour_u8(rgb_u8: np.ndarray) -> np.ndarray:
            return rgb_u8 if bits == 8 else rgb_u8.astype(np.uint16) * 257

        if name == "beauty":
            return np.dstack([colour_u8(self.out), quantize(self.matte, bits)])
        if name == "alpha":
            return quantize(self.matte, bits)
        if name == "glass":
            return np.dstack([quantize(srgb_encode(self.glass_rgb), bits), quantize(self.matte, bits)])
        if name == "plate":
            return colour_u8(self.plate_u8)
        if name == "normals":
            flat = np.where(self.inside[..., None], self.normals_gl, np.array([0.0, 0.0, 1.0], np.float32))
            return quantize(flat * 0.5 + 0.5, bits)
        if name == "stmap":
            st = self.stmap
            return quantize(np.dstack([st[..., 0], st[..., 1], np.zeros((self.h, self.w))]), 16)
        if name == "seethrough":
            return quantize(self.seethrough, bits)
        raise ConfigError(f"pass '{name}' cannot be written as an 8/16-bit image; write it with --format exr")


# ---------------------------------------------------------------------------- writers


class _Writer:
    def write(self, number: int, source_frame: int, data: FrameData) -> int:
        """Write one frame; returns the number of files written."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _ExrWriter(_Writer):
    def __init__(self, folder: Path, plan: PassesPlan, run: Run) -> None:
        self.folder, self.plan = folder, plan
        self.conventions = json.dumps({p: PASSES[p].help for p in plan.passes})
        self.fps = str(run.fps)

    def write(self, number: int, source_frame: int, data: FrameData) -> int:
        channels: dict[str, np.ndarray] = {}
        for p in self.plan.passes:
            dtype = np.float16 if PASSES[p].exr_type == "half" else np.float32
            for cname, array in zip(PASSES[p].channels, data.exr_channels(p)):
                channels[cname] = np.asarray(array).astype(dtype)
        attributes = {
            "chromaticities": REC709_CHROMATICITIES,
            "comments": "glassvid passes: scene-linear Rec.709; RGB is the output frame, A the object's matte (RGB not premultiplied)",
            "glassvidFrame": int(number),
            "glassvidSourceFrame": int(source_frame),
            "glassvidFps": self.fps,
            "glassvidPasses": self.conventions,
        }
        write_exr(self.folder / f"{self.plan.name}.{number:0{FRAME_PADDING}d}.exr", channels, attributes)
        return 1


class _ImageWriter(_Writer):
    def __init__(self, folder: Path, plan: PassesPlan, fmt: str) -> None:
        self.folder, self.plan, self.ext = folder, plan, IMAGE_EXT[fmt]
        self.bits = 8 if fmt == "png" else 16
        # with EXR alongside and no passes named, the sequences get the passes they can hold
        self.passes = [p for p in plan.passes if PASSES[p].image]

    def write(self, number: int, source_frame: int, data: FrameData) -> int:
        for p in self.passes:
            path = self.folder / f"{self.plan.name}.{p}.{number:0{FRAME_PADDING}d}{self.ext}"
            with open(path, "xb") as fh:
                fh.write(encode_image(data.image(p, self.bits), self.ext, what=f"{p} pass"))
        return len(self.passes)


class _ProresWriter(_Writer):
    """ProRes 4444 (``prores_ks`` profile 4, 10-bit 4:4:4 + 16-bit alpha) in a .mov:
    RGB = the output frame (sRGB, BT.709-tagged), A = the object's matte, straight."""

    PIX_FMT = "yuva444p10le"

    def __init__(self, path: Path, run: Run, plan: PassesPlan) -> None:
        import av

        self.path = path
        self.container = av.open(str(path), "w", format="mov")
        try:
            info = run.clip.info
            stream = self.container.add_stream("prores_ks", rate=info.fps)
            stream.width, stream.height = info.width, info.height
            stream.pix_fmt = self.PIX_FMT
            self.time_base = Fraction(1, 1) / info.fps
            stream.time_base = self.time_base
            cc = stream.codec_context
            cc.time_base = self.time_base
            cc.colorspace = cc.color_primaries = cc.color_trc = 1  # BT.709
            cc.color_range = 1  # limited ("MPEG") range, as ProRes is
            stream.options = {"profile": "4", "vendor": "apl0", "alpha_bits": "16"}
            if info.fps.denominator == 1:
                stream.metadata["timecode"] = _timecode(plan.number(plan.indices.start), int(info.fps))
            self.stream = stream
            self.count = 0
        except BaseException:
            self.container.close()
            raise

    def write(self, number: int, source_frame: int, data: FrameData) -> int:
        import av

        rgba = np.dstack([data.out, quantize(data.matte, 8)])
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgba), format="rgba")
        frame = frame.reformat(format=self.PIX_FMT, dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts = self.count
        frame.time_base = self.time_base
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        return 0

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the staging folder is deleted next
            log.debug("closing an aborted ProRes file failed", exc_info=True)


def _timecode(frame_number: int, fps: int) -> str:
    """SMPTE non-drop timecode of a frame number at an integer rate (1001 @ 24 -> 00:00:41:17)."""
    f = frame_number % fps
    s = frame_number // fps
    return f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}:{f:02d}"


# ---------------------------------------------------------------------------- export


def export_passes(
    run: Run,
    output: str | os.PathLike,
    *,
    formats: Sequence[str] = ("exr",),
    passes: Sequence[str] | None = None,
    start_frame: int = DEFAULT_START_FRAME,
    frames: tuple[int, int] | None = None,
    name: str = "shot",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> PassesReport:
    """Render ``run`` again and write its VFX deliverables into the folder ``output``.

    See the module doc for the files, passes and conventions. ``frames`` is an inclusive
    range of source frame indices (as ``glassvid convert --frames``); ``start_frame`` is
    the file number of the run's first frame. ``output`` must be new or empty unless
    ``overwrite``; it appears only when every file is written.
    """
    plan = plan_passes(run, formats=formats, passes=passes, start_frame=start_frame, frames=frames, name=name)
    progress = progress or (lambda name, done, total: None)
    protect = (run.root, Path(run.clip.info.path))
    report = PassesReport(output=os.fspath(output), formats=list(plan.formats), passes=list(plan.passes), frames=[], source_frames=[])
    with StagedFolder(output, overwrite=overwrite, protect=protect) as tmp:
        writers: list[_Writer] = []
        try:
            for f in plan.formats:
                if f == "exr":
                    writers.append(_ExrWriter(tmp, plan, run))
                elif f in IMAGE_EXT:
                    writers.append(_ImageWriter(tmp, plan, f))
                else:
                    writers.append(_ProresWriter(tmp / f"{plan.name}.mov", run, plan))
            for done, (i, out, layer) in enumerate(run.render(plan.indices), 1):
                data = FrameData(run, i, out, layer)
                number, source = plan.number(i), run.first + i
                for w in writers:
                    report.files += w.write(number, source, data)
                report.frames.append(number)
                report.source_frames.append(source)
                progress("export", done, len(plan.indices))
            for w in writers:
                w.close()
        except BaseException:
            for w in writers:
                w.abort()
            raise
        if "prores" in plan.formats:
            report.files += 1
        report.channels = [c for p in plan.passes for c in PASSES[p].channels] if "exr" in plan.formats else []
        _write_json(tmp / "export.json", {
            "tool": "glassvid export",
            "run": str(run.root),
            "formats": list(plan.formats),
            "passes": {p: {"channels": list(PASSES[p].channels), "exr_type": PASSES[p].exr_type, "meaning": PASSES[p].help} for p in plan.passes},
            "frames": {"first": report.frames[0], "last": report.frames[-1], "source_first": report.source_frames[0], "source_last": report.source_frames[-1], "start_frame": plan.start_frame},
            "fps": float(run.fps),
            "size": [run.clip.info.width, run.clip.info.height],
            "colour": "EXR: scene-linear, Rec.709/sRGB primaries, D65. PNG/TIFF/ProRes colour: sRGB transfer. Alpha and data channels: linear, no transfer curve.",
            "files": {
                "exr": f"{plan.name}.{'#' * FRAME_PADDING}.exr",
                "png": f"{plan.name}.PASS.{'#' * FRAME_PADDING}.png",
                "tiff": f"{plan.name}.PASS.{'#' * FRAME_PADDING}.tif",
                "prores": f"{plan.name}.mov",
            },
        })
    return report


def check_passes_output(output: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Refuse a non-empty output folder before a long run starts (``convert --passes``)."""
    check_output_folder(Path(output), overwrite=overwrite, flag="--overwrite (on `glassvid export`)")


def _write_json(path: Path, data: Any) -> None:
    try:
        path.write_text(json.dumps(data, indent=1))
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}; check free disk space") from None
