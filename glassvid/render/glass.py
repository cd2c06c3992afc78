"""Render an object as glass over its clean plate.

Per pixel of the object (in a crop around it, so cost follows the object's size):

1. Geometry: the height field from the depth stage, scaled to pixels by the object's
   half-width R and ``glass.thickness``, gives the front surface and, mirrored, the back.
2. Refraction (Snell's law at every interface): ``solid`` traces the view ray into the
   front surface, through the object to where it meets the back surface, out, and on to
   the plate ``plate_distance`` half-widths behind; a sphere focuses and so inverts a far
   background. ``hollow`` crosses two thin meniscus walls, front and back, around a
   cavity: nearly straight through the middle, bent at the rims, where the ray runs
   through solid glass. The optics are smooth, so they are traced at a working
   resolution where the object is at most ``_WORK_RADIUS_PX`` wide and upsampled; the
   plate is then sampled at full resolution, so the background stays sharp.
3. Fresnel (Schlick) at each interface crossed mixes in a reflection of an environment
   made from the blurred plate and the scene's light colour; the input's specular
   highlights and the glint of the main light (its direction read from the opaque
   object's shading) are kept; Beer-Lambert tint by path length; frost as a
   path-length-scaled blur; dispersion as a per-channel IOR.
4. The glass layer is composited with a feathered matte; beyond the matte's ring the
   frame is the input, bit for bit.

Light transport is computed in linear light; frames are sRGB uint8 RGB.

What does not depend on where the rays land -- the box, the working grid, the surfaces,
the front surface's Fresnel weight, reflection and highlights -- is the frame's
:class:`ObjectView` (:func:`view_object`), which the render pass makes a frame ahead in
another thread.

Steps 1-3 up to the plate lookup run at the working resolution: the surfaces and the
rays' paths through them as compiled loops, the light and its reflection in numpy. From
there on (the fields brought up to each object pixel, the lookup's footprint, the plate
samples, shading and composite) the work is per full-size pixel and runs as compiled
loops too (:mod:`glassvid.render.kernels`).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from glassvid.config import GlassConfig
from glassvid.flow.ops import sample_points
from glassvid.render.kernels import cavity_fields, fill_ring, sample_plate, shade_and_composite, surface_normals, trace_rays, upsample_at
from glassvid.render.optics import (
    LINEAR_LUT,
    LUMA,
    SRGB_LUT,
    dot,
    reflect,
    schlick,
    srgb_to_linear,
    view_rays,
)

_WORK_RADIUS_PX = 40.0  # optics are traced where the object's half-width is at most this
_GROW_STEPS = 2  # working-resolution pixels fields are continued past the silhouette before upsampling
_RING_KERNEL = np.ones((3, 3), np.uint8)
_ENV_DOWNSCALE = 4  # the reflection environment is a blurred plate at this fraction of the size
_ENV_REACH = 0.5  # a grazing reflection samples the environment this many frame-heights away
_CROP_MARGIN_PX = 2
_EXIT_MARCH_STEPS = 8  # steps through the object's depth looking for where a ray leaves it
_EXIT_BISECTIONS = 4  # then halvings of the step that crossed the back surface
_MIN_EXIT_COS = 0.05  # rays leaving nearly sideways are held to this slope toward the plate
_MIP_MIN_FOOTPRINT = 4.0  # footprint width (plate px) above which the lookup is mip-mapped (the rims' are 10-1000 px; at 1.5 a ball lens's mildly minified view, which real glass shows textured, was smoothed too)
_MIP_LEVEL_BLUR = 1.0  # pyrDown's level L blurs like a box 2^(L+1) wide (Gaussian sigma ~0.58 * 2^L): a footprint of 2^L is level L - 1
_FROST_MIN_SIGMA = 0.3  # frost blurs below this (px) are not worth the blur levels: plain samples
_MIP_MAX_LOD = 6.0  # coarsest mip level used (64 px): beyond it the rims only flatten further (lower PSNR on the gt scenes)
_MAX_OFFSET_RADII = 50.0  # numerical guard: no sample farther than this many half-widths away
_SOLID_CIRCULARITY = 0.85  # 4*pi*area/perimeter^2 above which mode 'auto' renders solid (a pixel disc scores ~0.9)
_MIN_SHADING_PIXELS = 200  # fewer object pixels than this tell nothing about the light
_MIN_SHADING_R2 = 0.15  # share of luminance variance shading must explain to trust the light direction
_GLINT_SHININESS = 300.0  # Phong exponent of the main light's glint (a light of a few degrees)
# below this cosine the glint underflows float32's normal range (< 1.2e-38, nothing a frame
# can show), and pow's subnormal path is some 40x slower: only the lobe is raised
_GLINT_MIN_COS = float(np.finfo(np.float32).tiny) ** (1.0 / _GLINT_SHININESS)
_HIGHLIGHT_MIN_COS = 0.8  # input highlights are kept within ~37 degrees of the light's mirror direction
_HIGHLIGHT_SIZE = 0.1  # of R: highlights are spots narrower than this
_HIGHLIGHT_MAX_SATURATION = 0.35  # highlights are nearly colourless
_LIGHT_QUANTILE = 0.02  # the brightest 2 % of a frame tell the light's colour


@dataclass(eq=False)
class GlassLayer:
    """The render of one frame inside ``box`` (x0, y0, x1, y1, exclusive end).

    Arrays are crops of the box: ``rgb`` HxWx3 float32 linear light (not premultiplied),
    ``alpha`` HxW float32 matte, ``normals`` HxWx3 (front surface, camera space: x right,
    y down, z away from the camera), ``thickness`` HxW glass path length in pixels,
    ``offset`` HxWx2 where each pixel samples the plate relative to itself (pixels;
    green channel's IOR), ``reflectance`` HxW Fresnel weight, ``seen`` HxWx3 the plate
    as the refraction sampled it (mip-mapped at the rims when ``antialias``), before tint.

    Only ``rgb`` and ``alpha`` are made with the frame: the other passes are kept at the
    object's pixels (``pixels``, flat indices into the box) and spread into box-sized
    arrays when first read -- a plain video needs none of them, the VFX and AR exports
    read them all. Outside the object they are 0 (``seen``: the plate).
    """

    box: tuple[int, int, int, int]
    rgb: np.ndarray
    alpha: np.ndarray
    pixels: np.ndarray  # N int64, the object's pixels in the box
    pixel_normals: Callable[[], np.ndarray]  # -> 3xN front-surface normals (computed when asked)
    pixel_path: np.ndarray  # N
    pixel_offset: np.ndarray  # Nx2
    pixel_reflectance: np.ndarray  # N
    pixel_seen: np.ndarray  # Nx3
    plate: np.ndarray  # HxWx3 linear: the plate in the box

    @functools.cached_property
    def _grid(self) -> _Grid:
        return _Grid(self.pixels, self.alpha.shape)

    def _spread(self, values: np.ndarray) -> np.ndarray:
        return self._grid.spread(values)

    @functools.cached_property
    def normals(self) -> np.ndarray:
        return self._spread(np.ascontiguousarray(self.pixel_normals().T))

    @functools.cached_property
    def thickness(self) -> np.ndarray:
        return self._spread(self.pixel_path)

    @functools.cached_property
    def offset(self) -> np.ndarray:
        return self._spread(self.pixel_offset)

    @functools.cached_property
    def reflectance(self) -> np.ndarray:
        return self._spread(self.pixel_reflectance)

    @functools.cached_property
    def seen(self) -> np.ndarray:
        out = np.array(self.plate, np.float32)
        self._grid.put(out, self.pixel_seen)
        return out


@dataclass
class Refraction:
    """At each of the object's pixels (N, a :class:`_Grid`): where the view ray meets the plate and what it crossed."""

    offset: np.ndarray  # 2xN float32, pixels from the pixel to its plate sample
    path: np.ndarray  # N float32, length of glass crossed, pixels
    interfaces: np.ndarray  # N float32, glass/air interfaces crossed (2 solid, 4 hollow)


@dataclass(eq=False)
class Surfaces:
    """The object's glass surfaces over a grid, in its pixels (what :func:`~glassvid.render.kernels.trace_rays` reads).

    The front surface is at ``-height`` about the object's mid-plane and the back at
    ``+height``; a hollow object has a cavity inside walls of ``wall`` half-widths. A solid
    one has none: its cavity fields are empty (0x0).
    """

    height: np.ndarray  # HxW float32, the front surface's height (0 outside the object)
    normals: np.ndarray  # HxWx3 float32, its outward unit normals (the back's mirror them)
    cavity: np.ndarray  # HxW float32, the cavity's half-depth (0 where a ray meets none: the rims)
    cavity_normals: np.ndarray  # HxWx3 float32, the cavity's near face's normals
    wall_dz: np.ndarray  # HxW float32, the front wall's depth along the view


def glass_surfaces(height_px: np.ndarray, cfg: GlassConfig, radius_px: float) -> Surfaces:
    """The :class:`Surfaces` of a height field ``height_px`` (HxW, pixels) of half-width ``radius_px``:
    a ``solid`` without a cavity, a ``hollow`` object with one (:func:`~glassvid.render.kernels.cavity_fields`)."""
    height_px = np.ascontiguousarray(height_px, np.float32)
    normals = surface_normals(height_px)
    if cfg.mode == "hollow":
        h_in, wall_dz = cavity_fields(height_px / np.float32(max(cfg.thickness * radius_px, 1e-6)), float(radius_px), float(cfg.thickness), float(cfg.wall))
        return Surfaces(height_px, normals, h_in, surface_normals(h_in), wall_dz)
    return Surfaces(height_px, normals, np.zeros((0, 0), np.float32), np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32))


def _box(alpha: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    x, y, bw, bh = cv2.boundingRect((alpha > 0).view(np.uint8))
    if bw == 0:
        return None
    h, w = alpha.shape
    return (max(0, x - margin), max(0, y - margin), min(w, x + bw + margin), min(h, y + bh + margin))


def _put_rows(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``target[index] = values`` for a C-contiguous N or NxC ``target``.

    Rows are written as single opaque items: numpy's row-wise fancy assignment moves
    them element by element, four times slower.
    """
    if target.ndim == 1:
        target[index] = values
        return
    row = np.dtype((np.void, target.itemsize * target.shape[1]))
    np.put(target.view(row), index, np.ascontiguousarray(values, target.dtype).view(row))


class _Grid:
    """Some pixels of a crop, as a list: crop-sized fields picked at them and spread back.

    The render traces and shades the object's pixels only, which can be a third of its
    box (davis_blackswan's outline): fields are picked at them, worked on as N-vectors,
    and spread back into the crop where a filter or a resize needs neighbours.
    """

    def __init__(self, index: np.ndarray, shape: tuple[int, int], rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> None:
        """``index``: flat indices into the crop, ascending; ``rows``, ``cols``: theirs, when known."""
        if rows is None or cols is None:
            rows, cols = np.divmod(index, shape[1])
        self.index = index
        self.shape = shape
        self.rows, self.cols = rows, cols  # int64, the pixels' coordinates in the crop

    @functools.cached_property
    def xs(self) -> np.ndarray:
        return self.cols.astype(np.float32)

    @functools.cached_property
    def ys(self) -> np.ndarray:
        return self.rows.astype(np.float32)

    @classmethod
    def of(cls, pick: np.ndarray) -> _Grid:
        """The pixels where the HxW bool ``pick`` is set."""
        rows, cols = np.nonzero(pick)  # coordinates at once: cheaper than dividing flat indices
        return cls(rows * pick.shape[1] + cols, pick.shape, rows, cols)

    def pick(self, field: np.ndarray) -> np.ndarray:
        """``field`` (HxW or planar CxHxW) at the pixels: N or CxN."""
        return np.take(field.reshape(*field.shape[:-2], -1), self.index, axis=-1)

    def pick_rows(self, field: np.ndarray) -> np.ndarray:
        """``field`` (HxWxC) at the pixels: NxC."""
        return np.take(field.reshape(-1, field.shape[-1]), self.index, axis=0)

    def put(self, field: np.ndarray, values: np.ndarray) -> None:
        """Write N or NxC ``values`` into ``field`` (C-contiguous HxW or HxWxC) at the pixels."""
        _put_rows(field.reshape(-1, *values.shape[1:]), self.index, values)

    def spread(self, values: np.ndarray) -> np.ndarray:
        """N or NxC values at the pixels on the crop (HxW or HxWxC), zero elsewhere."""
        field = np.zeros(self.shape + values.shape[1:], np.float32)
        self.put(field, values)
        return field


def refraction_offsets(surfaces: Surfaces, grid: _Grid, cfg: GlassConfig, radius_px: float, ior: float) -> Refraction:
    """Where each of the object's pixels ``grid`` sees the plate, for one IOR, traced at the given resolution.

    ``surfaces``: the object's (:func:`glass_surfaces`; ``grid`` its pixels where the
    height is above 0), ``radius_px`` its half-width in the same pixels. A solid is
    crossed as one piece of glass; a hollow object through two thin walls around its
    cavity, and at the rims, where a ray meets no cavity, through glass only (traced as a
    solid). The rays are traced by :func:`glassvid.render.kernels.trace_rays`.
    """
    far = 2.0 * max(float(surfaces.height.max()), 1.0)  # no ray runs deeper than twice the thickest point
    offset, path, through = trace_rays(
        surfaces.height, surfaces.normals, surfaces.cavity, surfaces.cavity_normals, surfaces.wall_dz, grid.index, float(ior),
        float(cfg.plate_distance * radius_px), far, _EXIT_MARCH_STEPS, _EXIT_BISECTIONS, _MIN_EXIT_COS,
    )
    limit = _MAX_OFFSET_RADII * radius_px
    interfaces = np.where(through, 4.0, 2.0).astype(np.float32)
    return Refraction(np.clip(offset, -limit, limit), path, interfaces)


def _reach(box: tuple[int, int, int, int], xs: list[np.ndarray], ys: list[np.ndarray], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """``box`` grown to hold the points (xs, ys) and their bilinear neighbours, within a frame of ``shape`` (h, w)."""
    x0, y0, x1, y1 = box
    for px, py in zip(xs, ys):
        if px.size:
            x0, x1 = min(x0, int(np.floor(px.min()))), max(x1, int(np.ceil(px.max())) + 2)
            y0, y1 = min(y0, int(np.floor(py.min()))), max(y1, int(np.ceil(py.max())) + 2)
    return max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)


def _mip(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The halvings of ``image`` (HxWx3 float32, by ``cv2.pyrDown``) down to a few pixels, as
    :func:`~glassvid.render.kernels.sample_plate` reads them: one flat array, and each
    level's (start, height, width) in it (Kx3 int64). The levels are written in place."""
    shapes, (h, w), start = [], image.shape[:2], 0
    while min(h, w) >= 4:
        h, w = (h + 1) // 2, (w + 1) // 2  # pyrDown's size
        shapes.append((start, h, w))
        start += h * w * 3
    flat = np.empty(start, np.float32)
    previous = image
    for s0, h, w in shapes:
        previous = cv2.pyrDown(previous, dst=flat[s0 : s0 + h * w * 3].reshape(h, w, 3))
    return flat, np.array(shapes, np.int64).reshape(-1, 3)


def specular_highlights(rgb_lin: np.ndarray, radius_px: float, threshold: float) -> np.ndarray:
    """HxW float32 strength of the specular highlights in a linear RGB crop.

    A highlight is narrower than the object's features (a white top-hat with a kernel a
    tenth of the object's half-width keeps only small bright spots, not a bright
    albedo pattern), nearly colourless (specular light takes the light's colour, not
    the surface's) and brighter than its surround by more than ``threshold``.
    """
    lum = rgb_lin @ LUMA
    k = max(3, int(_HIGHLIGHT_SIZE * radius_px) | 1)
    tophat = cv2.morphologyEx(lum, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    if float(tophat.max()) <= threshold:  # the common case: a matte object, no highlight
        return np.zeros_like(lum)
    r, g, b = rgb_lin[..., 0], rgb_lin[..., 1], rgb_lin[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    saturation = (mx - np.minimum(np.minimum(r, g), b)) / np.maximum(mx, 1e-4)
    colourless = np.clip(1.0 - saturation / _HIGHLIGHT_MAX_SATURATION, 0.0, 1.0)
    return (np.clip(tophat - threshold, 0.0, None) / max(1e-3, 1.0 - threshold) * colourless).astype(np.float32)


def circularity(mask: np.ndarray) -> float:
    """4 pi A / P^2 of the largest outline in ``mask``: 1 for a disc, ~0.78 for a square."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 0.0
    c = max(contours, key=cv2.contourArea)
    perimeter = cv2.arcLength(c, True)
    return float(4 * np.pi * cv2.contourArea(c) / perimeter**2) if perimeter > 0 else 0.0


def mode_for_circularity(value: float) -> str:
    """Mode 'auto': a disc-like silhouette is a solid (ball, paperweight), anything else a vessel."""
    return "solid" if value >= _SOLID_CIRCULARITY else "hollow"


def light_direction(rgb_lin: np.ndarray, normals: np.ndarray) -> np.ndarray | None:
    """Unit direction towards the main light (camera space), from an opaque object's shading.

    Fits luminance = a + c . n over the object (Lambertian shading with ambient light,
    Horn's shape-from-shading read backwards: we know the normals, we want the light).
    Returns None when the shading does not explain enough of the luminance (a flat-lit
    or heavily textured object), so no glint is invented. ``rgb_lin``: Nx3 linear RGB and
    ``normals``: 3xN front-surface normals of the object's pixels.
    """
    sel = np.flatnonzero(normals[2] < -0.05)
    if len(sel) < _MIN_SHADING_PIXELS:
        return None
    y = (np.take(rgb_lin, sel, axis=0) @ LUMA).astype(np.float64)
    a = np.column_stack([np.ones(len(y)), *np.take(normals, sel, axis=1)]).astype(np.float64)
    # least squares by its normal equations: 4 unknowns over thousands of pixels (an SVD of
    # the whole system costs ten times more and the fit is well posed: normals vary)
    try:
        coef = np.linalg.solve(a.T @ a, a.T @ y)
    except np.linalg.LinAlgError:  # degenerate normals (a flat patch): no light to read
        return None
    explained = 1.0 - np.var(y - a @ coef) / max(np.var(y), 1e-12)
    c = coef[1:]
    if explained < _MIN_SHADING_R2 or np.linalg.norm(c) < 1e-6:
        return None
    return (c / np.linalg.norm(c)).astype(np.float32)


def light_colour(image_lin: np.ndarray) -> np.ndarray:
    """Linear RGB of the scene's light: the mean of the brightest ``_LIGHT_QUANTILE`` of pixels."""
    small = image_lin[::4, ::4].reshape(-1, 3)
    lum = small @ LUMA
    top = small[lum >= np.quantile(lum, 1.0 - _LIGHT_QUANTILE)]
    return top.mean(0).astype(np.float32)


def _reflected(plate: np.ndarray, cfg: GlassConfig, xs: np.ndarray, ys: np.ndarray, r: np.ndarray) -> np.ndarray:
    """What surfaces at frame positions (xs, ys) (N) reflect along ``r`` (3xN), Nx3 linear: an
    environment made from ``plate`` (HxWx3 uint8 sRGB), shrunk and blurred, and the light above."""
    small = srgb_to_linear(cv2.resize(plate, None, fx=1 / _ENV_DOWNSCALE, fy=1 / _ENV_DOWNSCALE, interpolation=cv2.INTER_AREA))
    blurred = cv2.GaussianBlur(small, (0, 0), cfg.environment_blur_px / _ENV_DOWNSCALE) if cfg.environment_blur_px > 0 else small
    reach = _ENV_REACH * plate.shape[0]
    env = sample_points(blurred, (xs + r[0] * reach) / _ENV_DOWNSCALE, (ys + r[1] * reach) / _ENV_DOWNSCALE)
    # what lies above the frame lights the scene: rays reflected upwards see the light's
    # colour, estimated from the frame's brightest pixels (white-patch colour constancy)
    up = (np.clip(-r[1], 0.0, 1.0) * cfg.sky)[:, None]
    return (1.0 - up) * env + up * light_colour(small)[None, :]


def _grow(field: np.ndarray, inside: np.ndarray, steps: int = _GROW_STEPS) -> np.ndarray:
    """``field`` (HxWxC, 0 outside ``inside``) continued a few pixels past the silhouette by
    averaging the known neighbours, so resizing does not blend its edge with the zeros outside."""
    if inside.all():
        return field
    values = np.ascontiguousarray(field, np.float32)
    known = inside.astype(np.uint8)
    for _ in range(steps):
        ring = np.flatnonzero(cv2.dilate(known, _RING_KERNEL) > known)  # the next ring out: only it changes
        fill_ring(values, known, ring)
    return values


def _split(planar: np.ndarray, widths: list[int]) -> list[np.ndarray]:
    """The fields stacked as rows of ``planar`` (CxN), apart again: views, a width of 1 a row."""
    out, i = [], 0
    for wdt in widths:
        out.append(planar[i] if wdt == 1 else planar[i : i + wdt])
        i += wdt
    return out


@dataclass(eq=False)
class ObjectView:
    """The object as the render's optics take it, up to the rays: its box, and inside it,
    at the working resolution, its pixels and glass surfaces, and what its front surface
    shows besides the refracted plate -- the Fresnel weight, the reflected environment and
    the highlights.

    None of it depends on where the rays land, so the render pass makes it for the next
    frame in the thread that reads that frame, while this one is traced (:func:`view_object`).
    """

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive end) in the frame
    unit_full: np.ndarray  # the height field in the box, full size
    obj: _Grid  # the object's pixels in the box, full size
    unit: np.ndarray  # the height field at the working size
    small: bool  # whether the optics work below full size (the fields are resized, and grown before they are brought up)
    r_work: float  # the object's half-width, working pixels
    grid: _Grid  # the object's working pixels (N)
    surfaces: Surfaces  # at the working size
    normals: np.ndarray  # 3xN float32, the front surface's normals at the working pixels
    fresnel: np.ndarray  # N float32, Schlick's reflectance at the front surface (times the look's reflectivity)
    reflected: np.ndarray  # Nx3 float32 linear, what the front surface reflects
    highlights: np.ndarray  # N float32, the input's highlights and the light's glint kept on the glass


def view_object(frame: np.ndarray, plate: np.ndarray, matte: np.ndarray, height: np.ndarray, radius_px: float, cfg: GlassConfig) -> ObjectView | None:
    """The :class:`ObjectView` of a frame (arguments as :func:`render_glass`); None when there is nothing to render."""
    box = _box(matte, _CROP_MARGIN_PX)
    if box is None or radius_px <= 0:
        return None
    if cfg.mode == "auto":  # a single frame decides for itself; render_clip decides per clip
        cfg = dataclasses.replace(cfg, mode=mode_for_circularity(circularity(height > 0)))
    x0, y0, x1, y1 = box
    rows, cols = y1 - y0, x1 - x0
    unit_full = height[y0:y1, x0:x1]
    # the optics and the light are smooth: work where the object is at most
    # _WORK_RADIUS_PX wide; only the plate lookup and the composite run at full size
    scale = min(1.0, _WORK_RADIUS_PX / radius_px)
    size = (max(2, round(cols * scale)), max(2, round(rows * scale)))
    small = scale < 1.0
    unit = cv2.resize(unit_full, size, interpolation=cv2.INTER_AREA) if small else unit_full
    frame_c = frame[y0:y1, x0:x1]
    frame_lin = srgb_to_linear(cv2.resize(frame_c, size, interpolation=cv2.INTER_AREA) if small else frame_c)
    r_work = radius_px * (size[0] / cols)
    grid = _Grid.of(unit > 0)
    # frame coordinates of the working pixels' centres
    xs = (x0 + (np.arange(size[0]) + 0.5) * cols / size[0] - 0.5).astype(np.float32)[grid.cols]
    ys = (y0 + (np.arange(size[1]) + 0.5) * rows / size[1] - 0.5).astype(np.float32)[grid.rows]
    surfaces = glass_surfaces(unit * (cfg.thickness * r_work), cfg, r_work)
    normals = np.ascontiguousarray(grid.pick_rows(surfaces.normals).T)

    # 3: Fresnel (Schlick) at the front surface, and the environment it reflects
    f = np.clip(schlick(-normals[2], cfg.ior) * cfg.reflectivity, 0.0, 1.0)
    r = reflect(view_rays(grid.index.shape), normals)
    env = _reflected(plate, cfg, xs, ys, r)

    # the input's own specular highlights, and the glint of the scene's main light, whose
    # direction the opaque object's shading gives away
    spec = grid.pick(specular_highlights(frame_lin, r_work, cfg.highlight_threshold))
    light_dir = light_direction(grid.pick_rows(frame_lin), normals)
    if light_dir is not None:
        towards = np.clip(dot(r, light_dir[:, None]), 0.0, 1.0)
        # a bright spot is a highlight only where the surface mirrors the light to the
        # camera; elsewhere it is paint (a white pattern on the object), not light
        spec = spec * np.clip((towards - _HIGHLIGHT_MIN_COS) / (1.0 - _HIGHLIGHT_MIN_COS), 0.0, 1.0)
        lobe = np.power(towards, _GLINT_SHININESS, out=np.zeros_like(towards), where=towards > _GLINT_MIN_COS)
        spec = spec + cfg.glint * f * lobe
    spec = (spec * cfg.highlights).astype(np.float32)
    return ObjectView(box, unit_full, _Grid.of(unit_full > 0), unit, small, r_work, grid, surfaces, normals, f, env, spec)


def render_glass(
    frame: np.ndarray,
    plate: np.ndarray,
    matte: np.ndarray,
    height: np.ndarray,
    radius_px: float,
    cfg: GlassConfig,
    view: ObjectView | None = None,
) -> tuple[np.ndarray, GlassLayer | None]:
    """Render the object as glass and composite it into ``frame``.

    ``frame``, ``plate``: HxWx3 uint8 sRGB RGB. ``matte``: HxW float32 in [0, 1], the soft
    compositing matte (0 = untouched). ``height``: HxW float32 in [0, 1] from the depth
    stage, ``radius_px`` its scale. ``view``: ``view_object`` of these inputs and ``cfg``
    when the caller made it already (made here when None). Returns the composited frame
    (uint8; equal to ``frame`` wherever ``matte`` is 0) and the glass layer (None when the
    matte is empty).
    """
    view = view if view is not None else view_object(frame, plate, matte, height, radius_px, cfg)
    if view is None:
        return frame.copy(), None
    box, unit_full, obj, unit, r_work, grid, small = view.box, view.unit_full, view.obj, view.unit, view.r_work, view.grid, view.small
    x0, y0, x1, y1 = box
    rows, cols = y1 - y0, x1 - x0

    # 1-2: refraction (per channel when dispersive); offsets in working pixels
    iors = (cfg.ior - 0.5 * cfg.dispersion, cfg.ior, cfg.ior + 0.5 * cfg.dispersion) if cfg.dispersion > 0 else (cfg.ior,)
    rays = [refraction_offsets(view.surfaces, grid, cfg, r_work, ior) for ior in iors]
    ray = rays[len(rays) // 2]

    # 3: Beer-Lambert absorption along the glass path (tint is per half-width)
    tint = np.clip(np.asarray(cfg.tint, np.float32), 1e-4, 1.0)
    tinted = bool((tint < 1.0).any())
    absorb = np.exp(np.log(tint)[None, :] * (ray.path / max(r_work, 1e-6))[:, None]) if tinted else None

    # Fresnel: every interface the view ray crosses reflects -- front and back of a solid,
    # the four faces of a hollow object's two walls (incoherent sum of equal reflectances)
    refl = (1.0 - (1.0 - view.fresnel) ** ray.interfaces).astype(np.float32)
    env, spec = view.reflected, view.highlights
    has_spec = bool(spec.any())

    # to full size, on the object's pixels only (beyond its silhouette the glass layer is
    # the plate itself): the smooth fields, continued past the silhouette before they are
    # brought up (compiled: one pass over the object's pixels, no full-size field)
    k = cols / unit.shape[1]
    fields = [rr.offset.T * k for rr in rays] + [ray.path * k, refl, env]
    if tinted:
        fields.append(absorb)
    if has_spec:
        fields.append(spec)
    stacked = grid.spread(np.concatenate([f[:, None] if f.ndim == 1 else f for f in fields], axis=1))
    if small:
        stacked = _grow(stacked, unit > 0)

    def pixel_normals() -> np.ndarray:
        """The front-surface normals at the object's pixels; only the output passes use them, from the full-size surface."""
        return np.ascontiguousarray(obj.pick_rows(surface_normals(unit_full * np.float32(cfg.thickness * radius_px))).T) if small else view.normals

    mid = len(rays) // 2
    values, footprint = upsample_at(stacked, cols, rows, obj.index, 2 * mid, cfg.antialias)
    widths = [2] * len(rays) + [1, 1, 3] + [3] * tinted + [1] * has_spec
    picked = _split(values, widths)
    offsets = picked[: len(rays)]  # each 2xN
    path, refl, env = picked[len(rays) : len(rays) + 3]  # N, N, 3xN
    absorb = picked[len(rays) + 3] if tinted else np.zeros((0, 0), np.float32)  # 3xN
    spec = picked[-1] if has_spec else np.zeros(0, np.float32)

    # the plate, in linear light, sampled at full resolution where the rays land
    px, py = obj.xs + x0, obj.ys + y0
    sample_x = [px + o[0] for o in offsets]
    sample_y = [py + o[1] for o in offsets]
    bx0, by0, bx1, by1 = _reach(box, sample_x, sample_y, plate.shape[:2])
    region = srgb_to_linear(plate[by0:by1, bx0:bx1])
    sigma = (cfg.frost * path / max(radius_px, 1e-6)).astype(np.float32)
    smax = float(sigma.max()) if sigma.size else 0.0
    if smax < _FROST_MIN_SIGMA:
        levels, level_sigmas = region[None], np.zeros(1, np.float32)
    else:  # frost: a few blur levels, interpolated per pixel by its own blur
        level_sigmas = np.float32([0.0, smax / 4, smax / 2, smax])
        levels = np.stack([region] + [cv2.GaussianBlur(region, (0, 0), float(sd)) for sd in level_sigmas[1:]])
    # where refraction minifies the plate (the rims), sample a mip-map over the footprint
    # (widened by the frost's blur, as two blurs add in quadrature) instead of a point
    lod = np.full(len(obj.index), -1.0, np.float32)
    mip, mip_shapes = np.zeros(0, np.float32), np.zeros((0, 3), np.int64)
    wide = np.flatnonzero(footprint > _MIP_MIN_FOOTPRINT) if cfg.antialias else np.zeros(0, np.int64)
    if wide.size:
        lod[wide] = np.clip(0.5 * np.log2(footprint[wide] ** 2 + (2.0 * sigma[wide]) ** 2) - _MIP_LEVEL_BLUR, 0.0, _MIP_MAX_LOD)
        mip, mip_shapes = _mip(region)
    xs_region = np.stack(sample_x) - np.float32(bx0)
    ys_region = np.stack(sample_y) - np.float32(by0)
    transmitted = sample_plate(levels, level_sigmas, xs_region, ys_region, sigma, mip, mip_shapes, lod)

    # 3 (the rest) and 4: shade, then composite in linear light; pixels with alpha 0 stay the input's bytes
    plate_c = region[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
    glass = plate_c.copy()
    alpha = matte[y0:y1, x0:x1]
    out = frame.copy()
    shade_and_composite(obj.index, transmitted, absorb, refl, env, spec, glass, out, np.ascontiguousarray(alpha, np.float32), x0, y0, LINEAR_LUT, SRGB_LUT)

    layer = GlassLayer(
        box=box,
        rgb=glass,
        alpha=alpha,
        pixels=obj.index,
        pixel_normals=pixel_normals,
        pixel_path=path,
        pixel_offset=offsets[mid].T,
        pixel_reflectance=refl,
        pixel_seen=transmitted,
        plate=plate_c,
    )
    return out, layer
