"""Render an object as glass over its clean plate.

Per pixel of the object (in a crop around it, so cost follows the object's size):

1. Geometry: the height field from the depth stage, scaled to pixels by the object's
   half-width R and ``glass.thickness``, gives the front surface and, mirrored, the back.
2. Refraction (Snell): ``solid`` traces the view ray into the front surface, across the
   object to the back surface, out, and on to the plate ``plate_distance`` half-widths
   behind; a sphere focuses and so inverts a far background. ``hollow`` crosses two thin
   walls (front and back), which cancel in the middle and shift the image at the rims,
   where the ray runs through solid glass.
3. Fresnel (Schlick) mixes in a reflection of an environment made from the blurred
   plate; the input's own specular highlights are kept; Beer-Lambert tint by path length;
   frost as a path-length-scaled blur; dispersion as a per-channel IOR.
4. The glass layer is composited with a feathered matte; beyond the matte's ring the
   frame is the input, bit for bit.

Light transport is computed in linear light; frames are sRGB uint8 RGB.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np

from glassvid.config import GlassConfig
from glassvid.render.optics import (
    height_normals,
    linear_to_srgb,
    normalize,
    reflect,
    refract,
    schlick,
    srgb_to_linear,
)

_ENV_DOWNSCALE = 4  # the reflection environment is a blurred plate at this fraction of the size
_ENV_REACH = 0.5  # a grazing reflection samples the environment this many frame-heights away
_CROP_MARGIN_PX = 2
_EXIT_MARCH_STEPS = 8  # steps through the object's depth looking for where a ray leaves it
_EXIT_BISECTIONS = 4  # then halvings of the step that crossed the back surface
_MIN_EXIT_COS = 0.05  # rays leaving nearly sideways are held to this slope toward the plate
_SOLID_CIRCULARITY = 0.85  # 4*pi*area/perimeter^2 above which mode 'auto' renders solid (disc ~0.9 in pixels)
_MIN_SHADING_PIXELS = 200  # fewer object pixels than this tell nothing about the light
_MIN_SHADING_R2 = 0.15  # share of luminance variance shading must explain to trust the light direction
_GLINT_SHININESS = 300.0
_HIGHLIGHT_MIN_COS = 0.8  # input highlights are kept within ~37 degrees of the light's mirror direction  # Phong exponent of the main light's glint (a light of a few degrees)
_LIGHT_QUANTILE = 0.02  # the brightest 2 % of a frame tell the light's colour
_MAX_OFFSET_RADII = 50.0  # numerical guard: no sample farther than this many half-widths away
_HIGHLIGHT_SIZE = 0.1  # of R: highlights are spots narrower than this
_HIGHLIGHT_MAX_SATURATION = 0.35  # highlights are nearly colourless


@dataclass
class GlassLayer:
    """The render of one frame inside ``box`` (x0, y0, x1, y1, exclusive end).

    Arrays are crops of the box: ``rgb`` HxWx3 float32 linear light (not premultiplied),
    ``alpha`` HxW float32 matte, ``normals`` HxWx3 (front surface, camera space),
    ``thickness`` HxW glass path length in pixels, ``offset`` HxWx2 where each pixel
    samples the plate relative to itself (pixels; green channel's IOR), ``reflectance``
    HxW Fresnel weight.
    """

    box: tuple[int, int, int, int]
    rgb: np.ndarray
    alpha: np.ndarray
    normals: np.ndarray
    thickness: np.ndarray
    offset: np.ndarray
    reflectance: np.ndarray


def _box(alpha: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(alpha > 0)
    if len(xs) == 0:
        return None
    h, w = alpha.shape
    return (max(0, xs.min() - margin), max(0, ys.min() - margin), min(w, xs.max() + 1 + margin), min(h, ys.max() + 1 + margin))


def _remap(field: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    return cv2.remap(field, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _through_solid(height_px: np.ndarray, t1: np.ndarray, ior: float, plate_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and glass path of rays that cross the object as a solid, front to back.

    The front surface is at ``-h`` and the back at ``+h`` about the object's mid-plane.
    The exit point is where the refracted ray ``t1`` first meets the back surface, found
    by marching and bisection (a ray bent inwards near the rim exits where the object is
    much thicker than where it entered, so a local estimate will not do). The ray then
    refracts out through the back normal there and travels ``plate_px`` to the plate.
    """
    h, w = height_px.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    tz = np.maximum(t1[..., 2], 1e-3)
    slope = t1[..., :2] / tz[..., None]

    def above_back(depth: np.ndarray) -> np.ndarray:
        """True where the ray, ``depth`` deep in z, has passed the back surface."""
        back = _remap(height_px, xs + slope[..., 0] * depth, ys + slope[..., 1] * depth)
        return depth - height_px >= back

    # march in z from the front surface in even steps, then bisect the crossing
    far = 2.0 * max(float(height_px.max()), 1.0)
    lo = np.zeros_like(height_px)
    hi = np.full_like(height_px, far)
    found = np.zeros(height_px.shape, bool)
    for k in range(1, _EXIT_MARCH_STEPS + 1):
        step = far * k / _EXIT_MARCH_STEPS
        crossed = ~found & above_back(np.full_like(height_px, step))
        hi = np.where(crossed, step, hi)
        lo = np.where(~found & ~crossed, step, lo)
        found |= crossed
    for _ in range(_EXIT_BISECTIONS):
        mid = 0.5 * (lo + hi)
        crossed = above_back(mid)
        hi = np.where(crossed, mid, hi)
        lo = np.where(crossed, lo, mid)
    depth = hi
    s1 = slope * depth[..., None]
    n_back = normalize(_remap(height_normals(height_px, facing=1.0), xs + s1[..., 0], ys + s1[..., 1]))
    e, _ = refract(t1, -n_back, ior)
    ez = np.maximum(e[..., 2], _MIN_EXIT_COS)
    offset = s1 + e[..., :2] * (plate_px / ez)[..., None]
    path = depth / tz
    return offset, path


def _through_hollow(height: np.ndarray, t1: np.ndarray, ior: float, plate_px: float, radius_px: float, cfg: GlassConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets and glass path of rays through a thin-walled shell (front wall, cavity, back wall).

    The outer surface is the inflated silhouette; the inner one is the same shape
    ``wall`` half-widths smaller (for a circular cross-section of radius R at distance r
    from the axis: ``sqrt((R - W)^2 - r^2)``). Each wall is a meniscus whose surfaces are
    not parallel, so it bends the ray a little -- a drinking glass slightly shrinks what
    is seen through its middle -- and the four refractions are traced one by one.
    Returns ``(offset, path, through)``: ``through`` marks rays that cross the cavity;
    the others only cross glass (the rim) and are traced as a solid by the caller.
    """
    rows, cols = height.shape
    xs, ys = np.meshgrid(np.arange(cols, dtype=np.float32), np.arange(rows, dtype=np.float32))
    thick = cfg.thickness
    r = radius_px * np.sqrt(np.clip(1.0 - height * height, 0.0, 1.0))  # distance from the axis
    inner_r = radius_px * (1.0 - cfg.wall)
    h_out = thick * radius_px * height
    h_in = (thick * np.sqrt(np.clip(inner_r * inner_r - r * r, 0.0, None))).astype(np.float32)
    through = h_in > 0
    n_in_front = height_normals(h_in, facing=-1.0)
    n_in_back = height_normals(h_in, facing=1.0)
    n_out_back = height_normals(h_out, facing=1.0)

    def at(field: np.ndarray, shift: np.ndarray) -> np.ndarray:
        return cv2.remap(field, xs + shift[..., 0], ys + shift[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def run(direction: np.ndarray, dz: np.ndarray) -> np.ndarray:
        return direction[..., :2] * (dz / np.maximum(direction[..., 2], 1e-3))[..., None]

    wall_dz = np.maximum(h_out - h_in, 0.0)
    shift = run(t1, wall_dz)  # through the front wall
    path = wall_dz / np.maximum(t1[..., 2], 1e-3)
    t2, _ = refract(t1, normalize(at(n_in_front, shift)), ior)  # into the cavity
    shift = shift + run(t2, 2.0 * at(h_in, shift))  # across it
    t3, _ = refract(t2, -normalize(at(n_in_back, shift)), 1.0 / ior)  # into the back wall
    back_dz = at(wall_dz, shift)
    shift = shift + run(t3, back_dz)
    path = path + back_dz / np.maximum(t3[..., 2], 1e-3)
    e, _ = refract(t3, -normalize(at(n_out_back, shift)), ior)  # out of the back
    offset = shift + run(e, np.full_like(height, plate_px))
    return offset, path, through


@dataclass
class Refraction:
    """Per pixel of a crop: where the view ray meets the plate and what it crossed."""

    offset: np.ndarray  # HxWx2 float32, pixels from the pixel to its plate sample
    path: np.ndarray  # HxW float32, length of glass crossed, pixels
    cos_front: np.ndarray  # HxW float32, cosine of incidence at the front surface
    interfaces: np.ndarray  # HxW float32, glass/air interfaces crossed (0 outside, 2 solid, 4 hollow)


def refraction_offsets(height_px: np.ndarray, cfg: GlassConfig, radius_px: float, ior: float) -> Refraction:
    """Where each pixel sees the plate, for one IOR.

    ``height_px``: HxW front-surface height in pixels (0 outside).
    """
    d = np.zeros(height_px.shape + (3,), np.float32)
    d[..., 2] = 1.0
    n_front = height_normals(height_px, facing=-1.0)
    cos_front = -n_front[..., 2]
    t1, _ = refract(d, n_front, 1.0 / ior)
    inside = height_px > 0
    plate_px = cfg.plate_distance * radius_px
    offset, path = _through_solid(height_px, t1, ior, plate_px)
    interfaces = np.where(inside, 2.0, 0.0)
    if cfg.mode == "hollow":
        unit = height_px / max(cfg.thickness * radius_px, 1e-6)
        h_off, h_path, through = _through_hollow(unit, t1, ior, plate_px, radius_px, cfg)
        offset = np.where(through[..., None], h_off, offset)
        path = np.where(through, h_path, path)
        interfaces = np.where(through & inside, 4.0, interfaces)
    limit = _MAX_OFFSET_RADII * radius_px
    offset = np.clip(offset, -limit, limit)
    offset[~inside] = 0.0
    path[~inside] = 0.0
    return Refraction(offset.astype(np.float32), path.astype(np.float32), cos_front.astype(np.float32), interfaces.astype(np.float32))


def _sample(image: np.ndarray, box: tuple[int, int, int, int], offset: np.ndarray) -> np.ndarray:
    """Bilinear samples of a full-frame ``image`` at crop pixels + ``offset``."""
    x0, y0, x1, y1 = box
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    # a ray that leaves the frame sees what lies beyond its edge: the edge, stretched
    return cv2.remap(image, xs + offset[..., 0], ys + offset[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _frosted(plate_lin: np.ndarray, box: tuple[int, int, int, int], offset: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Sample the plate blurred by a per-pixel ``sigma`` (interpolating a few blur levels)."""
    smax = float(sigma.max())
    if smax < 0.3:
        return _sample(plate_lin, box, offset)
    levels = [0.0, smax / 4, smax / 2, smax]
    x0, y0, x1, y1 = box
    pad = int(np.ceil(3 * smax + np.abs(offset).max())) + 2
    h, w = plate_lin.shape[:2]
    px0, py0, px1, py1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    sub = plate_lin[py0:py1, px0:px1]
    shifted = (x0 - px0, y0 - py0, x0 - px0 + (x1 - x0), y0 - py0 + (y1 - y0))
    samples = [_sample(sub if s == 0 else cv2.GaussianBlur(sub, (0, 0), s), shifted, offset) for s in levels]
    pos = np.interp(sigma, levels, np.arange(len(levels))).astype(np.float32)
    lo = np.floor(pos).astype(np.int32)
    hi = np.minimum(lo + 1, len(levels) - 1)
    frac = (pos - lo)[..., None]
    stack = np.stack(samples)
    iy, ix = np.indices(sigma.shape)
    return (1 - frac) * stack[lo, iy, ix] + frac * stack[hi, iy, ix]


def specular_highlights(rgb_lin: np.ndarray, radius_px: float, threshold: float) -> np.ndarray:
    """HxW float32 strength of the specular highlights in a linear RGB crop.

    A highlight is narrower than the object's features (a white top-hat with a kernel a
    tenth of the object's half-width keeps only small bright spots, not a bright
    albedo pattern), nearly colourless (specular light takes the light's colour, not
    the surface's) and brighter than its surround by more than ``threshold``.
    """
    lum = rgb_lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    k = max(3, int(_HIGHLIGHT_SIZE * radius_px) | 1)
    tophat = cv2.morphologyEx(lum, cv2.MORPH_TOPHAT, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mx = rgb_lin.max(-1)
    saturation = (mx - rgb_lin.min(-1)) / np.maximum(mx, 1e-4)
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


def light_direction(rgb_lin: np.ndarray, normals: np.ndarray, inside: np.ndarray) -> np.ndarray | None:
    """Unit direction towards the main light (camera space), from an opaque object's shading.

    Fits luminance = a + c . n over the object (Lambertian shading with ambient light,
    Horn's shape-from-shading read backwards: we know the normals, we want the light).
    Returns None when the shading does not explain enough of the luminance (a flat-lit
    or heavily textured object), so no glint is invented.
    """
    sel = inside & (normals[..., 2] < -0.05)
    if sel.sum() < _MIN_SHADING_PIXELS:
        return None
    y = (rgb_lin[sel] @ np.array([0.2126, 0.7152, 0.0722], np.float32)).astype(np.float64)
    a = np.column_stack([np.ones(len(y)), normals[sel].astype(np.float64)])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    explained = 1.0 - np.var(y - a @ coef) / max(np.var(y), 1e-12)
    c = coef[1:]
    if explained < _MIN_SHADING_R2 or np.linalg.norm(c) < 1e-6:
        return None
    return (c / np.linalg.norm(c)).astype(np.float32)


def light_colour(image_lin: np.ndarray) -> np.ndarray:
    """Linear RGB of the scene's light: the mean of the brightest ``_LIGHT_QUANTILE`` of pixels."""
    small = image_lin[::4, ::4].reshape(-1, 3)
    lum = small @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    top = small[lum >= np.quantile(lum, 1.0 - _LIGHT_QUANTILE)]
    return top.mean(0).astype(np.float32)


def render_glass(
    frame: np.ndarray,
    plate: np.ndarray,
    matte: np.ndarray,
    height: np.ndarray,
    radius_px: float,
    cfg: GlassConfig,
) -> tuple[np.ndarray, GlassLayer | None]:
    """Render the object as glass and composite it into ``frame``.

    ``frame``, ``plate``: HxWx3 uint8 sRGB RGB. ``matte``: HxW float32 in [0, 1], the soft
    compositing matte (0 = untouched). ``height``: HxW float32 in [0, 1] from the depth
    stage, ``radius_px`` its scale. Returns the composited frame (uint8; equal to
    ``frame`` wherever ``matte`` is 0) and the glass layer (None when the matte is empty).
    """
    box = _box(matte, _CROP_MARGIN_PX)
    if box is None or radius_px <= 0:
        return frame.copy(), None
    if cfg.mode == "auto":  # a single frame decides for itself; render_clip decides per clip
        cfg = dataclasses.replace(cfg, mode=mode_for_circularity(circularity(height > 0)))
    x0, y0, x1, y1 = box
    plate_lin = srgb_to_linear(plate)
    frame_c = frame[y0:y1, x0:x1]
    alpha = matte[y0:y1, x0:x1]
    h_px = height[y0:y1, x0:x1] * (cfg.thickness * radius_px)

    # 1-2: refraction (per channel when dispersive)
    ray = refraction_offsets(h_px, cfg, radius_px, cfg.ior)
    offset, path, cos_front = ray.offset, ray.path, ray.cos_front
    sigma = cfg.frost * path / max(radius_px, 1e-6)
    if cfg.dispersion > 0:
        channels = []
        for c, dior in enumerate((-0.5, 0.0, 0.5)):
            off_c = offset if dior == 0 else refraction_offsets(h_px, cfg, radius_px, cfg.ior + dior * cfg.dispersion).offset
            channels.append(_frosted(plate_lin[..., c], box, off_c, sigma))
        transmitted = np.stack(channels, -1)
    else:
        transmitted = _frosted(plate_lin, box, offset, sigma)

    # 3: Beer-Lambert absorption along the glass path (tint is per half-width)
    tint = np.clip(np.asarray(cfg.tint, np.float32), 1e-4, 1.0)
    absorb = np.exp(np.log(tint)[None, None, :] * (path / max(radius_px, 1e-6))[..., None])
    transmitted = transmitted * absorb

    # Fresnel reflection of an environment made from the blurred plate
    inside = h_px > 0
    n_front = height_normals(h_px, facing=-1.0)
    # every interface the view ray crosses reflects: front and back of a solid, the four
    # faces of a hollow object's two walls (incoherent sum of equal reflectances)
    f = np.clip(schlick(cos_front, cfg.ior) * cfg.reflectivity, 0.0, 1.0)
    refl = 1.0 - (1.0 - f) ** ray.interfaces
    refl = np.where(inside, np.clip(refl, 0.0, 1.0), 0.0).astype(np.float32)
    env_small = cv2.resize(plate_lin, None, fx=1 / _ENV_DOWNSCALE, fy=1 / _ENV_DOWNSCALE, interpolation=cv2.INTER_AREA)
    if cfg.environment_blur_px > 0:
        env_small = cv2.GaussianBlur(env_small, (0, 0), cfg.environment_blur_px / _ENV_DOWNSCALE)
    d = np.zeros(h_px.shape + (3,), np.float32)
    d[..., 2] = 1.0
    r = reflect(d, n_front)
    reach = _ENV_REACH * frame.shape[0]
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    ex = (xs + r[..., 0] * reach) / _ENV_DOWNSCALE
    ey = (ys + r[..., 1] * reach) / _ENV_DOWNSCALE
    env = cv2.remap(env_small, ex, ey, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # what lies above the frame lights the scene: rays reflected upwards see the light's
    # colour, estimated from the frame's brightest pixels (white-patch colour constancy)
    up = np.clip(-r[..., 1], 0.0, 1.0)[..., None] * cfg.sky
    env = (1.0 - up) * env + up * light_colour(plate_lin)[None, None, :]

    # the input's own specular highlights: small, bright, nearly white spots
    frame_lin = srgb_to_linear(frame_c)
    spec = specular_highlights(frame_lin, radius_px, cfg.highlight_threshold)
    # and the glint of the scene's main light, whose direction the opaque object's
    # shading gives away; glass, being smooth, shows it as a sharp highlight
    light = light_direction(frame_lin, n_front, inside)
    if light is not None:
        towards = np.clip((r * light[None, None, :]).sum(-1), 0.0, 1.0)
        # a bright spot is a highlight only where the surface mirrors the light to the
        # camera; elsewhere it is paint (a white pattern on the object), not light
        spec = spec * np.clip((towards - _HIGHLIGHT_MIN_COS) / (1.0 - _HIGHLIGHT_MIN_COS), 0.0, 1.0)
        spec = spec + cfg.glint * f * towards**_GLINT_SHININESS
    spec = np.where(inside, spec * cfg.highlights, 0.0).astype(np.float32)

    glass = (1.0 - refl)[..., None] * transmitted + refl[..., None] * env + spec[..., None]
    # outside the silhouette (the feather ring) the glass layer is the plate itself
    plate_c = plate_lin[y0:y1, x0:x1]
    glass = np.where(inside[..., None], glass, plate_c)
    glass = np.clip(glass, 0.0, 1.0).astype(np.float32)

    # 4: composite in linear light; pixels with alpha 0 stay the input's bytes
    out = frame.copy()
    a = alpha[..., None]
    comp = linear_to_srgb(a * glass + (1.0 - a) * frame_lin)
    touched = alpha > 0
    out_c = out[y0:y1, x0:x1]
    out_c[touched] = comp[touched]
    layer = GlassLayer(box=box, rgb=glass, alpha=alpha, normals=n_front, thickness=path, offset=offset, reflectance=refl)
    return out, layer
