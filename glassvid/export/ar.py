"""An AR asset pack: the glass as layers a real-time engine composites over a live camera.

Layout of ``PACK/``::

    manifest.json               fps, frame count, sizes, anchor, layers, how to composite
    glass.webm                  the glass layer, VP9 with alpha (premultiplied, see below)
    glass/0000.png ...          the glass layer per frame, RGBA
    refraction/0000.png ...     refraction offset map per frame, RGB
    normals/0000.png ...        normal map per frame, RGB
    sprites/glass-0.png ...     the same three layers as sprite sheets (<= 1024x1024 each)
    sprites/refraction-0.png
    sprites/normals-0.png
    background.png              the clean plate of the first frame (the preview's default)
    preview/index.html          a static page (+ preview.js) that plays the pack over a
                                background image or video with a WebGL shader

The layers cover the object's box (the union over the clip, plus its soft edge), at most
``max_size`` pixels on a side; at most ``max_frames`` frames (a long clip is sampled every
k-th frame and the fps divided by k).

The compositing model (linear light; ``bg(p)`` is the background at pixel ``p``)::

    C, A = glass layer: RGB decoded from sRGB, premultiplied; A linear
    c    = refraction.B                      coverage: 1 on the glass, 0 off it
    d    = (refraction.RG * 255 - 128) / 127 * offset_range
                                             where the pixel sees the background, in
                                             layer UV units (x right, y down)
    out  = C + (1 - c) * bg(p) + max(c - A, 0) * tint * bg(p + d * layer size)

``C`` is the light the glass adds (Fresnel reflections of the scene, highlights); ``A``
how much of the background it blocks (reflection and absorption), so that a plain
premultiplied "over" (``out = C + (1 - A) * bg``) is already a fair glass without
refraction; ``c - A`` is the transmitted share, which the shader takes from the
refracted position; ``tint`` (manifest) is the colour of that transmission relative to
its mean (1, 1, 1 for colourless glass; for tinted glass the clip's average, so the hue
is exact and the thickness-dependent saturation averaged). Frost and dispersion are in
the VFX exports but not here: the engine refracts its live camera image sharply, with
one sample per pixel (glassvid's own render also mip-maps the rims, ``glass.antialias``).
:func:`glassvid.export.composite.composite_frame` is this formula in Python, and the
preview's shader is the same formula in GLSL.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from glassvid.errors import InputError, OutputError
from glassvid.export.colour import quantize, srgb_encode
from glassvid.export.folder import StagedFolder
from glassvid.export.run import Run, layer_field
from glassvid.io import read_image
from glassvid.io.images import encode_image
from glassvid.render.glass import GlassLayer
from glassvid.render.optics import srgb_to_linear

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

MANIFEST_FORMAT = "glassvid-ar-pack"
MANIFEST_VERSION = 1
DEFAULT_MAX_SIZE = 1024  # px per side of any texture: a common limit of mobile AR platforms
DEFAULT_MAX_FRAMES = 199  # "fewer than 200 frames"
DEFAULT_MAX_IMAGE_BYTES = 1_000_000  # about 1 MB per image file
LAYER_MARGIN_PX = 2  # around the object's soft edge
OFFSET_ZERO = 128  # 8-bit code of a zero offset; codes 1..255 span -range..+range
OFFSET_STEPS = 127
# the 8-bit offset range covers this percentile of each frame's offsets (the largest over
# the frames); the few grazing rays at the rim beyond it are clipped to the range
OFFSET_RANGE_PERCENTILE = 99.5
SPRITE_SHRINK_TRIES = 8
WEBM_CRF = 10  # VP9 constant quality (0-63): high, so the alpha and premultiplied colour survive
PREVIEW_FILES = ("index.html", "preview.js")


@dataclass
class ArReport:
    output: str
    frames: int
    fps: float
    size: tuple[int, int]
    frame_step: int
    sheets: int
    warnings: list[str] = field(default_factory=list)


def _object_box(run: Run, indices: Sequence[int]) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]] | None:
    """Union over ``indices`` of the object's box and of the box its soft matte may touch."""
    cfg = run.config
    grow = int(math.ceil(cfg.masks.feather_px + cfg.glass.edge_px + 0.5)) + LAYER_MARGIN_PX
    w, h = run.clip.info.width, run.clip.info.height
    obj = None
    for i in indices:
        ys, xs = np.nonzero(run.clip.mask(i))
        if len(xs) == 0:
            continue
        b = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        obj = b if obj is None else (min(obj[0], b[0]), min(obj[1], b[1]), max(obj[2], b[2]), max(obj[3], b[3]))
    if obj is None:
        return None
    layer = (max(0, obj[0] - grow), max(0, obj[1] - grow), min(w, obj[2] + grow), min(h, obj[3] + grow))
    return obj, layer


@dataclass
class _Geometry:
    """Where the layer sits: the union box in source pixels, and in the pack's (scaled) pixels.

    Layer sizes are even where the frame allows (4:2:0 video needs it: libvpx garbles the
    alpha of an odd last column), grown by a pixel of transparent margin rather than shrunk.
    """

    box: tuple[int, int, int, int]  # source px
    scale: float  # pack px per source px (the frame's)
    frame_size: tuple[int, int]  # pack px (W, H)
    crop: tuple[int, int, int, int]  # pack px: x, y, width, height

    @classmethod
    def make(cls, box: tuple[int, int, int, int], width: int, height: int, max_size: int) -> "_Geometry":
        x0, x1 = _even_span(box[0], box[2], width)
        y0, y1 = _even_span(box[1], box[3], height)
        bw, bh = x1 - x0, y1 - y0
        scale = min(1.0, max_size / max(bw, bh))
        if scale == 1.0:
            return cls((x0, y0, x1, y1), 1.0, (width, height), (x0, y0, bw, bh))
        fw, fh = max(1, round(width * scale)), max(1, round(height * scale))
        w, h = (max(1, min(n, round(b * scale))) for n, b in ((fw, bw), (fh, bh)))
        w, h = (v - 1 if v % 2 and v > 1 else v for v in (w, h))
        cx, cy = min(int(x0 * scale), fw - w), min(int(y0 * scale), fh - h)
        return cls((x0, y0, x1, y1), scale, (fw, fh), (cx, cy, w, h))

    @property
    def axis_scale(self) -> np.ndarray:
        """Pack px per source px along x and y for the layer (the crop's own rounding)."""
        x0, y0, x1, y1 = self.box
        return np.array([self.crop[2] / (x1 - x0), self.crop[3] / (y1 - y0)], np.float32)

    def fit(self, crop: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
        """A source-px array of the union box, at the pack's crop size."""
        w, h = self.crop[2], self.crop[3]
        if crop.shape[1] == w and crop.shape[0] == h:
            return crop
        return cv2.resize(crop, (w, h), interpolation=interpolation)


def _even_span(a: int, b: int, limit: int) -> tuple[int, int]:
    """``[a, b)`` made even in length inside ``[0, limit)``: grown by one, else shrunk by one."""
    if (b - a) % 2 == 0:
        return a, b
    if b < limit:
        return a, b + 1
    if a > 0:
        return a - 1, b
    return a, b - 1 if b - a > 1 else b


def _layer_arrays(run: Run, i: int, layer: GlassLayer | None, geo: _Geometry) -> dict[str, np.ndarray]:
    """One frame's layer quantities over the union box (source px), then fitted to the pack.

    ``premul`` HxWx3 linear light the glass adds, times coverage; ``occlusion`` HxW (A);
    ``coverage`` HxW; ``offset`` HxWx2 in source px (x right, y down); ``normals``
    HxWx3 OpenGL axes (flat (0, 0, 1) off the object); ``transmission`` HxWx3 (per channel,
    times coverage, for the tint statistics).
    """
    x0, y0, x1, y1 = geo.box
    h, w = y1 - y0, x1 - x0
    out = {
        "premul": np.zeros((h, w, 3), np.float32),
        "occlusion": np.zeros((h, w), np.float32),
        "coverage": np.zeros((h, w), np.float32),
        "offset": np.zeros((h, w, 2), np.float32),
        "normals": np.tile(np.array([0.0, 0.0, 1.0], np.float32), (h, w, 1)),
        "transmission": np.zeros((h, w, 3), np.float32),
    }
    if layer is not None:
        bx0, by0, bx1, by1 = layer.box
        # the part of the layer's box inside the union box (it always is, by construction)
        ix0, iy0, ix1, iy1 = max(bx0, x0), max(by0, y0), min(bx1, x1), min(by1, y1)
        if ix1 > ix0 and iy1 > iy0:
            src = np.s_[iy0 - by0 : iy1 - by0, ix0 - bx0 : ix1 - bx0]
            dst = np.s_[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
            inside = layer.thickness[src] > 0
            cov = np.where(inside, layer.alpha[src], 0.0).astype(np.float32)
            rho = layer.reflectance[src]
            _, radius = run.clip.depth(i)
            tint = np.clip(np.asarray(run.config.glass.tint, np.float32), 1e-4, 1.0)
            absorb = np.exp(np.log(tint)[None, None, :] * (layer.thickness[src] / max(radius, 1e-6))[..., None])
            trans = (1.0 - rho)[..., None] * absorb
            # the light the glass adds: its colour less what it lets through from the plate
            ys, xs = np.mgrid[iy0:iy1, ix0:ix1].astype(np.float32)
            off = layer_field(layer, "offset")[src]
            if layer.seen is not None:
                seen = layer.seen[src]
            else:
                plate = srgb_to_linear(run.clip.plate(i))
                seen = cv2.remap(plate, xs + off[..., 0], ys + off[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            emitted = np.clip(layer.rgb[src] - trans * seen, 0.0, None)
            out["premul"][dst] = np.where(inside[..., None], emitted, 0.0) * cov[..., None]
            out["occlusion"][dst] = cov * (1.0 - trans.mean(-1))
            out["coverage"][dst] = cov
            # a sample beyond the frame sees its edge (clamped, per axis, as a GPU's
            # CLAMP_TO_EDGE does), so clamping the offsets there changes no pixel and
            # keeps grazing rim rays from stretching the 8-bit range
            W, H = run.clip.info.width, run.clip.info.height
            off = np.stack([np.clip(xs + off[..., 0], 0, W - 1) - xs, np.clip(ys + off[..., 1], 0, H - 1) - ys], -1)
            out["offset"][dst] = np.where(inside[..., None], off, 0.0)
            n = layer_field(layer, "normals")[src]
            out["normals"][dst] = np.where(inside[..., None], np.stack([n[..., 0], -n[..., 1], -n[..., 2]], -1), out["normals"][dst])
            out["transmission"][dst] = trans * cov[..., None]
    fitted = {k: geo.fit(v) for k, v in out.items()}
    fitted["offset"] = fitted["offset"] * geo.axis_scale
    n = fitted["normals"]
    fitted["normals"] = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6)
    return fitted


def _encode_glass(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """RGBA uint8: premultiplied light, sRGB-encoded; A linear."""
    return np.dstack([quantize(srgb_encode(arrays["premul"])), quantize(arrays["occlusion"])])


def _encode_refraction(offset: np.ndarray, coverage_u8: np.ndarray, offset_range: float, crop: tuple[int, int, int, int]) -> np.ndarray:
    """RGB uint8: offsets (pack px) as codes 1-255 around 128 over +-``offset_range`` layer
    UV units, and the 8-bit coverage."""
    d_uv = offset / np.array([crop[2], crop[3]], np.float32)
    code = np.clip(np.rint(OFFSET_ZERO + d_uv / offset_range * OFFSET_STEPS), OFFSET_ZERO - OFFSET_STEPS, OFFSET_ZERO + OFFSET_STEPS).astype(np.uint8)
    return np.dstack([code, coverage_u8])


def check_ar_options(max_size: int, max_frames: int, max_image_bytes: int) -> None:
    if not (16 <= max_size <= 16384):
        raise InputError(f"--max-size must be 16-16384 pixels (1024 fits most AR platforms), got {max_size}")
    if not (1 <= max_frames <= 100000):
        raise InputError(f"--max-frames must be at least 1 (199 keeps under the common 200-frame limit), got {max_frames}")
    if max_image_bytes < 10_000:
        raise InputError(f"--max-image-kb must be at least 10, got {max_image_bytes // 1000}")


def export_ar(
    run: Run,
    output: str | os.PathLike,
    *,
    frames: tuple[int, int] | None = None,
    max_size: int = DEFAULT_MAX_SIZE,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    background: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ArReport:
    """Write the AR asset pack of ``run`` into the folder ``output`` (see the module doc).

    ``frames``: inclusive source frame range (default: the whole run). ``background``: an
    image for the preview (default: the clean plate of the first frame). ``output`` must
    be new or empty unless ``overwrite``; it appears only when the pack is complete.
    """
    progress = progress or (lambda name, done, total: None)
    check_ar_options(max_size, max_frames, max_image_bytes)
    selected = run.select(frames)
    step = max(1, math.ceil(len(selected) / max_frames))
    chosen = list(selected)[::step]
    bg_image = read_image(background) if background is not None else None
    boxes = _object_box(run, chosen)
    if boxes is None:
        raise InputError(f"the object is not found in source frames {run.first + selected.start}-{run.first + selected.stop - 1}; nothing to pack (check the run's masks)")
    obj_box, layer_box = boxes
    info = run.clip.info
    geo = _Geometry.make(layer_box, info.width, info.height, max_size)
    fps = Fraction(info.fps) / step
    with StagedFolder(output, overwrite=overwrite, protect=(run.root, Path(info.path))) as tmp:
        n = len(chosen)
        work = tmp / ".work"
        for name in ("glass", "refraction", "normals", ".work"):
            (tmp / name).mkdir()
        # 1: render; write the glass layer and the normals; keep the offsets (half floats,
        # compressed: they are 0 off the object) until their 8-bit range is known
        max_uv = 0.0
        trans_sum = np.zeros(3, np.float64)
        webm = _WebmWriter(tmp / "glass.webm", geo.crop[2], geo.crop[3], fps)
        try:
            for k, (i, _out, layer) in enumerate(run.render(chosen)):
                arrays = _layer_arrays(run, i, layer, geo)
                d_uv = np.abs(arrays["offset"] / np.array([geo.crop[2], geo.crop[3]], np.float32))[arrays["coverage"] > 0]
                if d_uv.size:
                    max_uv = max(max_uv, float(np.percentile(d_uv, OFFSET_RANGE_PERCENTILE)))
                trans_sum += arrays["transmission"].reshape(-1, 3).sum(0)
                glass = _encode_glass(arrays)
                _write_png(tmp / "glass" / f"{k:04d}.png", glass)
                _write_png(tmp / "normals" / f"{k:04d}.png", quantize(arrays["normals"] * 0.5 + 0.5))
                webm.write(glass)
                np.savez_compressed(work / f"{k:05d}.npz", offset=arrays["offset"].astype(np.float16), coverage=quantize(arrays["coverage"]))
                progress("render", k + 1, n)
            webm.close()
        except BaseException:
            webm.abort()
            raise
        offset_range = float(np.ceil(max(max_uv, 1e-4) * 1e4) / 1e4)  # layer UV units
        tint = (trans_sum / trans_sum.mean()) if trans_sum.mean() > 0 else np.ones(3)
        # 2: the refraction maps, now that the range is known; then the sprite sheets
        for k in range(n):
            with np.load(work / f"{k:05d}.npz") as data:
                refraction = _encode_refraction(data["offset"].astype(np.float32), data["coverage"], offset_range, geo.crop)
            _write_png(tmp / "refraction" / f"{k:04d}.png", refraction)
            progress("encode", k + 1, n)
        shutil.rmtree(work)
        report = ArReport(output=os.fspath(output), frames=n, fps=float(fps), size=(geo.crop[2], geo.crop[3]), frame_step=step, sheets=0)
        sprites = _write_sprites(tmp, n, (geo.crop[2], geo.crop[3]), max_size, max_image_bytes, report.warnings)
        report.sheets = len(sprites["sheets"]["glass"])
        # 3: the background the preview shows by default, the manifest, the page
        fw, fh = geo.frame_size
        bg = bg_image if bg_image is not None else run.clip.plate(chosen[0])
        if bg.shape[:2] != (fh, fw):
            bg = cv2.resize(bg, (fw, fh), interpolation=cv2.INTER_AREA if bg.shape[1] > fw else cv2.INTER_LINEAR)
        _write_png(tmp / "background.png", bg)
        for img in sorted((tmp / "glass").iterdir()):
            if img.stat().st_size > max_image_bytes:
                report.warnings.append(f"{img.name} of the glass layer is {img.stat().st_size // 1000} kB, over the {max_image_bytes // 1000} kB per image asked for; lower --max-size")
                break
        manifest = _manifest(run, geo, obj_box, chosen, step, fps, offset_range, tint, sprites, report.warnings)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        _copy_preview(tmp / "preview")
    return report


def _write_png(path: Path, img: np.ndarray) -> None:
    try:
        path.write_bytes(encode_image(img, ".png", what=path.name))
    except OSError as exc:
        raise OutputError(f"cannot write '{path}': {exc.strerror or exc}; check free disk space") from None


class _WebmWriter:
    """VP9 with alpha (yuva420p) in WebM. Decoders must be libvpx's to see the alpha:
    FFmpeg's native ``vp9`` decoder drops it (the stream says yuv420p; the alpha plane
    rides in block side data, flagged by the ``alpha_mode`` tag)."""

    def __init__(self, path: Path, width: int, height: int, fps: Fraction) -> None:
        import av

        self.container = av.open(str(path), "w", format="webm")
        stream = self.container.add_stream("libvpx-vp9", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuva420p"
        self.time_base = Fraction(1, 1) / fps
        stream.codec_context.time_base = self.time_base
        stream.options = {"crf": str(WEBM_CRF), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
        self.stream = stream
        self.count = 0

    def write(self, rgba: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgba), format="rgba")
        frame = frame.reformat(format="yuva420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts = self.count
        frame.time_base = self.time_base
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the staging folder is deleted next
            log.debug("closing an aborted WebM failed", exc_info=True)


def _write_sprites(folder: Path, n: int, cell: tuple[int, int], max_size: int, max_bytes: int, warnings: list[str]) -> dict[str, Any]:
    """Tile the per-frame PNGs into sheets of at most ``max_size`` x ``max_size``, each file
    under ``max_bytes`` (the cells shrink until they fit), left to right, top to bottom."""
    out_dir = folder / "sprites"
    factor = 1.0
    for attempt in range(SPRITE_SHRINK_TRIES):
        cw, ch = max(1, round(cell[0] * factor)), max(1, round(cell[1] * factor))
        cols = max(1, min(n, max_size // cw))
        rows = max(1, min(math.ceil(n / cols), max_size // ch))
        per_sheet = cols * rows
        sheets = math.ceil(n / per_sheet)
        largest = 0
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir()
        files: dict[str, list[str]] = {"glass": [], "refraction": [], "normals": []}
        for name in files:
            channels = 4 if name == "glass" else 3
            for s in range(sheets):
                count = min(per_sheet, n - s * per_sheet)
                used_rows = math.ceil(count / cols)
                sheet = np.zeros((used_rows * ch, (cols if sheets > 1 or count >= cols else count) * cw, channels), np.uint8)
                if name == "refraction":
                    sheet[..., :2] = OFFSET_ZERO
                elif name == "normals":
                    sheet[...] = (128, 128, 255)
                for k in range(count):
                    img = read_image_any(folder / name / f"{s * per_sheet + k:04d}.png")
                    if (cw, ch) != cell:
                        img = cv2.resize(img, (cw, ch), interpolation=cv2.INTER_AREA)
                    r, c = divmod(k, cols)
                    sheet[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw] = img
                path = out_dir / f"{name}-{s}.png"
                _write_png(path, sheet)
                files[name].append(f"sprites/{path.name}")
                largest = max(largest, path.stat().st_size)
        if largest <= max_bytes:
            break
        if attempt == SPRITE_SHRINK_TRIES - 1 or min(cw, ch) <= 8:
            warnings.append(f"a sprite sheet is {largest // 1000} kB, over the {max_bytes // 1000} kB asked for, even with cells of {cw}x{ch}")
            break
        factor *= 0.95 * math.sqrt(max_bytes / largest)
    return {"cell": [cw, ch], "scale": cw / cell[0], "columns": cols, "rows": rows, "frames_per_sheet": per_sheet, "sheets": files,
            "order": "left to right, then top to bottom; frame k is on sheet k // frames_per_sheet"}


def read_image_any(path: Path) -> np.ndarray:
    """An 8-bit PNG as written here: RGB or RGBA (channels in RGB order)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OutputError(f"cannot read back '{path}'; check free disk space")
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def _manifest(run: Run, geo: _Geometry, obj_box: tuple[int, int, int, int], chosen: list[int], step: int, fps: Fraction,
              offset_range: float, tint: np.ndarray, sprites: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    cx, cy, cw, ch = geo.crop
    ox0, oy0, ox1, oy1 = obj_box
    bx0, by0, bx1, by1 = geo.box
    anchor_uv = (((ox0 + ox1) / 2 - bx0) / (bx1 - bx0), (oy1 - by0) / (by1 - by0))
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "fps": float(fps),
        "fps_rational": [fps.numerator, fps.denominator],
        "frame_count": len(chosen),
        "size": [cw, ch],
        "frame_size": [geo.frame_size[0], geo.frame_size[1]],
        "crop": {"x": cx, "y": cy, "width": cw, "height": ch,
                 "meaning": "where the layer sits in the source frame scaled to frame_size (pixels, origin top-left)"},
        "anchor": {
            "uv": [round(anchor_uv[0], 5), round(anchor_uv[1], 5)],
            "pixel": [round(cx + anchor_uv[0] * cw, 2), round(cy + anchor_uv[1] * ch, 2)],
            "meaning": "bottom centre of the object (where it rests on a surface): uv in the layer (0-1, origin top-left), pixel in frame_size",
        },
        "source": {
            "run": str(run.root), "input": run.clip.info.path, "size": [run.clip.info.width, run.clip.info.height],
            "fps": float(run.fps), "frames": [run.first + chosen[0], run.first + chosen[-1]], "frame_step": step, "scale": geo.scale,
        },
        "colour": "RGB of the glass layer and background: sRGB transfer, Rec.709 primaries; alpha, refraction and normal maps are linear data. Composite in linear light.",
        "layers": {
            "glass": {
                "frames": "glass/%04d.png", "video": "glass.webm", "sprites": sprites["sheets"]["glass"],
                "channels": "RGBA", "alpha": "premultiplied",
                "meaning": "RGB: light the glass adds (reflections, highlights), premultiplied by coverage and sRGB-encoded; A: how much of the background the glass blocks (reflection, absorption, tint)",
                "video_codec": "VP9 with alpha (yuva420p), BT.709; decode with libvpx to keep the alpha",
            },
            "refraction": {
                "frames": "refraction/%04d.png", "sprites": sprites["sheets"]["refraction"], "channels": "RGB",
                "offset_range": offset_range,
                "meaning": "R, G: where each pixel sees the background, relative, in layer UV units (x right, y down): d = (v * 255 - 128) / 127 * offset_range; B: coverage (1 on the glass)",
            },
            "normals": {
                "frames": "normals/%04d.png", "sprites": sprites["sheets"]["normals"], "channels": "RGB",
                "meaning": "front-surface normal: N = rgb * 2 - 1, camera space, x right, y up, z toward the camera; (0, 0, 1) off the glass",
            },
        },
        "sprites": {k: v for k, v in sprites.items() if k != "sheets"},
        "tint": [round(float(t), 5) for t in tint],
        "composite": {
            "space": "linear light: decode sRGB after sampling, encode the result to sRGB",
            "formula": "out = C + (1 - c) * bg(p) + max(c - A, 0) * tint * bg(p + d * size)",
            "terms": {
                "C, A": "glass layer RGB (sRGB-decoded, premultiplied) and alpha",
                "c": "refraction.B",
                "d": "refraction offset (layer UV units), times the layer's size on screen",
                "bg": "the background (live camera), bilinear, clamped at its edges",
                "tint": "manifest tint",
            },
            "without_refraction": "out = C + (1 - A) * bg  (plain premultiplied over)",
            "outside_the_layer": "out = bg",
        },
        "background": "background.png",
        "preview": "preview/index.html",
        "warnings": warnings,
    }


def _copy_preview(folder: Path) -> None:
    src = Path(__file__).resolve().parent / "preview"
    folder.mkdir()
    for name in PREVIEW_FILES:
        shutil.copyfile(src / name, folder / name)
