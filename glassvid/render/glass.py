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


def refraction_offsets(height_px: np.ndarray, cfg: GlassConfig, radius_px: float, ior: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel sees the plate, for one IOR.

    ``height_px``: HxW front-surface height in pixels (0 outside). Returns
    ``(offset HxWx2 px, path HxW px of glass crossed, cos_theta HxW at the front surface)``.
    """
    d = np.zeros(height_px.shape + (3,), np.float32)
    d[..., 2] = 1.0
    n_front = height_normals(height_px, facing=-1.0)
    cos_front = -n_front[..., 2]
    t1, _ = refract(d, n_front, 1.0 / ior)
    tz1 = np.maximum(t1[..., 2], 1e-3)
    inside = height_px > 0
    if cfg.mode == "solid":
        travel = 2.0 * height_px
        s1 = t1[..., :2] * (travel / tz1)[..., None]
        n_back = height_normals(height_px, facing=1.0)
        # the back normal where the ray arrives, not where it entered
        h, w = height_px.shape
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        mx = (xs + s1[..., 0]).astype(np.float32)
        my = (ys + s1[..., 1]).astype(np.float32)
        n_back = cv2.remap(n_back, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        n_back = normalize(n_back)
        e, _ = refract(t1, -n_back, ior)
        ez = np.maximum(e[..., 2], 1e-2)
        dist = cfg.plate_distance * radius_px
        s2 = e[..., :2] * (dist / ez)[..., None]
        offset = s1 + s2
        path = travel / tz1
    else:
        wall = cfg.wall * radius_px
        wall_z = wall / np.maximum(cos_front, 1e-3)
        through = height_px > wall_z  # the ray crosses the cavity, not only glass
        # front wall: into glass, out parallel to the view ray (thin slab)
        s_front = t1[..., :2] * (wall_z / tz1)[..., None]
        # back wall, entered from the cavity: its inner normal faces the camera
        n_back_in = height_normals(height_px, facing=1.0) * -1.0
        t2, _ = refract(d, n_back_in, 1.0 / ior)
        s_back = t2[..., :2] * (wall_z / np.maximum(t2[..., 2], 1e-3))[..., None]
        # rim: the ray runs through solid glass from front to back, like a lens
        travel = 2.0 * height_px
        e, _ = refract(t1, -height_normals(height_px, facing=1.0), ior)
        ez = np.maximum(e[..., 2], 1e-2)
        s_rim = t1[..., :2] * (travel / tz1)[..., None] + e[..., :2] * (cfg.plate_distance * radius_px / ez)[..., None]
        offset = np.where(through[..., None], s_front + s_back, s_rim)
        path = np.where(through, 2.0 * wall_z / tz1, travel / tz1)
    offset[~inside] = 0.0
    path[~inside] = 0.0
    return offset.astype(np.float32), path.astype(np.float32), cos_front.astype(np.float32)


def _sample(image: np.ndarray, box: tuple[int, int, int, int], offset: np.ndarray) -> np.ndarray:
    """Bilinear samples of a full-frame ``image`` at crop pixels + ``offset``."""
    x0, y0, x1, y1 = box
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    return cv2.remap(image, xs + offset[..., 0], ys + offset[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


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
    x0, y0, x1, y1 = box
    plate_lin = srgb_to_linear(plate)
    frame_c = frame[y0:y1, x0:x1]
    alpha = matte[y0:y1, x0:x1]
    h_px = height[y0:y1, x0:x1] * (cfg.thickness * radius_px)

    # 1-2: refraction (per channel when dispersive)
    offset, path, cos_front = refraction_offsets(h_px, cfg, radius_px, cfg.ior)
    sigma = cfg.frost * path / max(radius_px, 1e-6)
    if cfg.dispersion > 0:
        channels = []
        for c, dior in enumerate((-0.5, 0.0, 0.5)):
            off_c = offset if dior == 0 else refraction_offsets(h_px, cfg, radius_px, cfg.ior + dior * cfg.dispersion)[0]
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
    refl = schlick(cos_front, cfg.ior) * cfg.reflectivity
    if cfg.mode == "hollow":  # the back wall reflects too
        refl = refl + (1 - refl) * refl
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
    env = cv2.remap(env_small, ex, ey, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    # the input's own specular highlights: small, bright, nearly white spots
    frame_lin = srgb_to_linear(frame_c)
    spec = specular_highlights(frame_lin, radius_px, cfg.highlight_threshold)
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
