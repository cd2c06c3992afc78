"""Compiled per-pixel loops of the glass render (numba).

The optics are smooth and traced at a working resolution (:mod:`glassvid.render.glass`):
the surfaces' normals, a hollow object's cavity and each pixel's ray through them are
loops over that grid (below, "the optics at the working resolution"). What runs at full resolution -- the fields brought up to each object pixel, the width
of each pixel's lookup, the plate sampled there (blurred by frost, mip-mapped at the
rims), the shading and the composite -- is a few arithmetic operations per pixel on
a few dozen values. As numpy passes it was some 30 whole-box arrays per frame, each
written and read back (about two thirds of the render's time at 854x480); fused here
into one loop per step it touches each pixel once. Each loop's pixels are independent, so
it runs on all cores (``prange``): on the 2-core machine the three loops took 3.5 instead
of 5.9 ms of blackswan's 21 ms render, and the render was no slower than the one-thread
loops with another process busy on one core (``OMP_WAIT_POLICY=PASSIVE``, below).

Convention: images are HxWxC float32 (C-contiguous), pixel centres at integer
coordinates, x right and y down; points are 1-D float32 arrays of x and y.
Bilinear lookups replicate the edge (as ``cv2.BORDER_REPLICATE``); brought-up fields
use ``cv2.resize``'s INTER_LINEAR mapping, derivatives ``cv2.Sobel``'s 3-tap central
difference with its reflected border, so the compiled stage computes what the
OpenCV calls it replaces did (to float rounding; ``cv2.remap`` quantises positions to
1/32 px, these lookups do not).
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import njit, prange

_JIT = dict(cache=True, nogil=True, fastmath=False)  # cached on disk: compiled once per machine, not per run
# The per-pixel loops over the object run on all cores (numba's OpenMP layer); its threads
# must sleep, not spin, between loops, or they take the core the rest of the frame's work
# needs (MACHINE-NOTES: 10-17x slower with active waiting beside a busy process). Read by
# OpenMP when numba first starts its threads, so set here, before any loop runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
_PAR = dict(_JIT, parallel=True)


@njit(**_JIT)
def _taps(x: float, n: int) -> tuple[int, int, float]:
    """Bilinear taps along one axis of length ``n`` at ``x`` (edge replicated)."""
    f = math.floor(x)
    return min(max(f, 0), n - 1), min(max(f + 1, 0), n - 1), x - f


@njit(**_JIT)
def _reflect(i: int, n: int) -> int:
    """``cv2.BORDER_REFLECT_101`` index (what ``cv2.Sobel`` reads beyond an edge)."""
    if n == 1:
        return 0
    if i < 0:
        return -i
    if i >= n:
        return 2 * n - 2 - i
    return i


@njit(**_JIT)
def _resize_taps(n_dst: int, n_src: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per destination index of a ``cv2.resize`` (INTER_LINEAR: centres aligned, edge replicated): its two source taps and the weight of the second."""
    scale = n_src / n_dst
    i0 = np.empty(n_dst, np.int64)
    i1 = np.empty(n_dst, np.int64)
    w = np.empty(n_dst, np.float64)
    for d in range(n_dst):
        i0[d], i1[d], w[d] = _taps((d + 0.5) * scale - 0.5, n_src)
    return i0, i1, w


@njit(**_JIT)
def _lerp2(fields: np.ndarray, y0: int, y1: int, wy: float, x0: int, x1: int, wx: float, c: int) -> float:
    """Channel ``c`` of ``fields`` (HxWxC) between rows y0, y1 and columns x0, x1 (weights of the second: wy, wx)."""
    top = fields[y0, x0, c] * (1.0 - wx) + fields[y0, x1, c] * wx
    bottom = fields[y1, x0, c] * (1.0 - wx) + fields[y1, x1, c] * wx
    return top * (1.0 - wy) + bottom * wy


@njit(**_PAR)
def upsample_at(fields: np.ndarray, cols: int, rows: int, index: np.ndarray, offset_channel: int, footprint: bool) -> tuple[np.ndarray, np.ndarray]:
    """The working-grid ``fields`` (h x w x C) brought up to a ``rows x cols`` box, at its pixels ``index`` (flat, N).

    Returns ``(values CxN, width N)`` (planar: each field's values are one contiguous
    row, used as they are): ``width`` is the footprint of each pixel's plate
    lookup, ``sqrt(|det J|)`` with ``J = I + d(offset)`` and the offset the two channels
    from ``offset_channel`` (central differences of the brought-up field, as
    ``cv2.Sobel(ksize=1, scale=0.5)`` of the whole resized box); ones when not ``footprint``.
    The width is the side of the footprint's area: J's largest singular value, what a
    GPU's isotropic filtering takes, blurred a ball lens's sharp minified view on the
    ground-truth scenes. At a glass's rims refraction squeezes a wide view into a few
    pixels (footprints of hundreds of pixels), which a point sample aliases into speckle.
    """
    n = index.shape[0]
    nc = fields.shape[2]
    ax0, ax1, awx = _resize_taps(cols, fields.shape[1])
    ay0, ay1, awy = _resize_taps(rows, fields.shape[0])
    values = np.empty((nc, n), np.float32)
    width = np.ones(n, np.float32)
    ox, oy = offset_channel, offset_channel + 1
    for k in prange(n):
        y, x = divmod(index[k], cols)
        y0, y1, wy = ay0[y], ay1[y], awy[y]
        x0, x1, wx = ax0[x], ax1[x], awx[x]
        for c in range(nc):
            values[c, k] = _lerp2(fields, y0, y1, wy, x0, x1, wx, c)
        if footprint:
            r, l = _reflect(x + 1, cols), _reflect(x - 1, cols)
            d, u = _reflect(y + 1, rows), _reflect(y - 1, rows)
            dxx = _lerp2(fields, y0, y1, wy, ax0[r], ax1[r], awx[r], ox) - _lerp2(fields, y0, y1, wy, ax0[l], ax1[l], awx[l], ox)
            dxy = _lerp2(fields, y0, y1, wy, ax0[r], ax1[r], awx[r], oy) - _lerp2(fields, y0, y1, wy, ax0[l], ax1[l], awx[l], oy)
            dyx = _lerp2(fields, ay0[d], ay1[d], awy[d], x0, x1, wx, ox) - _lerp2(fields, ay0[u], ay1[u], awy[u], x0, x1, wx, ox)
            dyy = _lerp2(fields, ay0[d], ay1[d], awy[d], x0, x1, wx, oy) - _lerp2(fields, ay0[u], ay1[u], awy[u], x0, x1, wx, oy)
            j00 = 0.5 * dxx + 1.0
            j01 = 0.5 * dyx
            j10 = 0.5 * dxy
            j11 = 0.5 * dyy + 1.0
            width[k] = math.sqrt(max(abs(j00 * j11 - j01 * j10), 1e-6))
    return values, width


@njit(**_JIT)
def _bilinear(image: np.ndarray, x: float, y: float, c0: int, c1: int, out: np.ndarray, k: int) -> None:
    """``out[k, c0:c1]`` = channels ``c0:c1`` of ``image`` (HxWxC) at (x, y), edge replicated."""
    x0, x1, wx = _taps(x, image.shape[1])
    y0, y1, wy = _taps(y, image.shape[0])
    for c in range(c0, c1):
        out[k, c] = _lerp2(image, y0, y1, wy, x0, x1, wx, c)


@njit(**_JIT)
def _mip_level(base: np.ndarray, mip: np.ndarray, mip_shapes: np.ndarray, level: int, x: float, y: float, c0: int, c1: int, out: np.ndarray, k: int) -> None:
    """``out[k, c0:c1]`` from pyramid ``level`` (0: ``base``; see :func:`sample_plate`) at full-size position (x, y)."""
    f = 1.0 / (1 << level)
    px, py = (x + 0.5) * f - 0.5, (y + 0.5) * f - 0.5
    if level == 0:
        _bilinear(base, px, py, c0, c1, out, k)
    else:
        start, h, w = mip_shapes[level - 1, 0], mip_shapes[level - 1, 1], mip_shapes[level - 1, 2]
        _bilinear(mip[start : start + h * w * 3].reshape(h, w, 3), px, py, c0, c1, out, k)


@njit(**_PAR)
def sample_plate(
    levels: np.ndarray,
    level_sigmas: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    sigma: np.ndarray,
    mip: np.ndarray,
    mip_shapes: np.ndarray,
    lod: np.ndarray,
) -> np.ndarray:
    """The plate as each object pixel's refracted ray sees it: Nx3 linear RGB.

    ``levels``: LxHxWx3, the plate region and its Gaussian blurs by ``level_sigmas``
    (L; the first 0); ``xs``, ``ys``: RxN sample positions in the region, one row per
    channel group (R = 1: all channels, R = 3: one per channel, dispersion);
    ``sigma``: N frost blur per pixel, between the levels' (piecewise linear in the
    level index, as ``np.interp``). Where ``lod`` (N) is at least 0 the pixel is instead
    sampled trilinearly from the mip pyramid (``mip``: flat float32 of the halvings of
    the region, ``mip_shapes``: Kx3 int64 of each level's start, height and width;
    level 0 is ``levels[0]``) at that level of detail, its footprint (frost included),
    held to the pyramid's coarsest level.
    """
    n = xs.shape[1]
    nrows = xs.shape[0]
    nlev = levels.shape[0]
    top = mip_shapes.shape[0]  # pyramid levels beyond the region itself
    out = np.empty((n, 3), np.float32)
    second = np.empty((n, 3), np.float32)  # the upper level's sample, per pixel (the loop runs in parallel)
    for k in prange(n):
        for r in range(nrows):
            c0, c1 = (r, r + 1) if nrows == 3 else (0, 3)
            x, y = xs[r, k], ys[r, k]
            if lod[k] >= 0.0:
                # trilinear: levels lo and lo + 1 of the pyramid at the point's position in each
                lv = min(lod[k], float(top))
                lo = min(int(lv), max(top - 1, 0))
                frac = min(max(lv - lo, 0.0), 1.0)
                _mip_level(levels[0], mip, mip_shapes, lo, x, y, c0, c1, out, k)
                _mip_level(levels[0], mip, mip_shapes, min(lo + 1, top), x, y, c0, c1, second, k)
            elif nlev == 1:
                _bilinear(levels[0], x, y, c0, c1, out, k)
                continue
            else:
                s = sigma[k]
                pos = float(nlev - 1)
                if s <= level_sigmas[0]:
                    pos = 0.0
                else:
                    for i in range(nlev - 1):
                        if s <= level_sigmas[i + 1]:
                            pos = i + (s - level_sigmas[i]) / (level_sigmas[i + 1] - level_sigmas[i])
                            break
                lo = int(math.floor(pos))
                frac = pos - lo
                _bilinear(levels[lo], x, y, c0, c1, out, k)
                _bilinear(levels[min(lo + 1, nlev - 1)], x, y, c0, c1, second, k)
            for c in range(c0, c1):
                out[k, c] += frac * (second[k, c] - out[k, c])
    return out


@njit(**_PAR)
def shade_and_composite(
    index: np.ndarray,
    transmitted: np.ndarray,
    absorb: np.ndarray,
    refl: np.ndarray,
    env: np.ndarray,
    spec: np.ndarray,
    glass: np.ndarray,
    frame: np.ndarray,
    alpha: np.ndarray,
    box_x0: int,
    box_y0: int,
    linear_lut: np.ndarray,
    srgb_lut: np.ndarray,
) -> None:
    """Shade the object's pixels and composite the box into ``frame``, in place.

    At the pixels ``index`` (flat in the box, N), ``glass`` (box-sized HxWx3 linear,
    holding the plate elsewhere) takes the Fresnel mix ``(1 - refl) * transmitted *
    absorb + refl * env + spec`` clipped to [0, 1] (``transmitted`` Nx3; ``absorb`` 3xN,
    planar, or 0x0 for none; ``env`` 3xN, planar; ``spec`` N or empty). Then every box pixel
    with ``alpha`` > 0 becomes ``alpha * glass + (1 - alpha) * frame`` in linear light,
    back to sRGB through ``srgb_lut`` (as :func:`glassvid.render.optics.linear_to_srgb`);
    ``frame`` (uint8 HxWx3, the whole frame) keeps its bytes where ``alpha`` is 0.
    """
    rows, cols = alpha.shape
    tinted = absorb.shape[0] > 0
    has_spec = spec.shape[0] > 0
    for k in prange(index.shape[0]):
        y, x = divmod(index[k], cols)
        for c in range(3):
            t = transmitted[k, c]
            if tinted:
                t *= absorb[c, k]
            v = (1.0 - refl[k]) * t + refl[k] * env[c, k]
            if has_spec:
                v += spec[k]
            glass[y, x, c] = min(max(v, 0.0), 1.0)
    top = srgb_lut.shape[0] - 1
    for y in prange(rows):
        for x in range(cols):
            a = alpha[y, x]
            if a <= 0.0:
                continue
            for c in range(3):
                under = linear_lut[frame[box_y0 + y, box_x0 + x, c]]
                v = a * glass[y, x, c] + (1.0 - a) * under
                i = v * top + 0.5  # as linear_to_srgb: round half up, clip, truncate
                i = min(max(i, 0.0), float(top))
                frame[box_y0 + y, box_x0 + x, c] = srgb_lut[int(i)]


# -- the optics at the working resolution ---------------------------------------------------
# Planar fields (HxW, or 3xHxW for normals) sampled bilinearly at a point; a ray's steps are
# a few dozen dependent lookups and refractions per pixel, which as numpy passes over the
# object's pixels cost more in calls than in arithmetic (blackswan: 3.5 of a 13 ms render).

_MIN_DZ = 1e-3  # a ray's z component is held to this when dividing by it (nearly sideways rays)


@njit(**_JIT)
def _plane(field: np.ndarray, x: float, y: float, constant: bool) -> float:
    """``field`` (HxW) at (x, y), bilinear; beyond the edge the edge value, or 0 when ``constant``
    (``cv2.BORDER_REPLICATE`` / ``cv2.BORDER_CONSTANT``)."""
    h, w = field.shape
    fx, fy = math.floor(x), math.floor(y)
    ax, ay = x - fx, y - fy
    total = 0.0
    for dy in range(2):
        yy = int(fy) + dy
        wy = ay if dy else 1.0 - ay
        for dx in range(2):
            xx = int(fx) + dx
            wx = ax if dx else 1.0 - ax
            if constant and (xx < 0 or xx >= w or yy < 0 or yy >= h):
                continue
            total += wx * wy * field[min(max(yy, 0), h - 1), min(max(xx, 0), w - 1)]
    return total


@njit(**_JIT)
def _unit(x: float, y: float, z: float) -> tuple[float, float, float]:
    n = max(math.sqrt(x * x + y * y + z * z), 1e-12)
    return x / n, y / n, z / n


@njit(**_JIT)
def _normal_at(normals: np.ndarray, x: float, y: float, back: bool) -> tuple[float, float, float]:
    """The unit normal of the HxWx3 field at (x, y) (edge replicated); ``back``: of the surface
    mirrored front to back (z flips), turned to face a ray going away from the camera."""
    x0, x1, wx = _taps(x, normals.shape[1])
    y0, y1, wy = _taps(y, normals.shape[0])
    nx, ny, nz = _unit(_lerp2(normals, y0, y1, wy, x0, x1, wx, 0), _lerp2(normals, y0, y1, wy, x0, x1, wx, 1), _lerp2(normals, y0, y1, wy, x0, x1, wx, 2))
    return (-nx, -ny, nz) if back else (nx, ny, nz)


@njit(**_JIT)
def _refract(dx: float, dy: float, dz: float, nx: float, ny: float, nz: float, eta: float) -> tuple[float, float, float]:
    """Snell's law: the unit direction of ray ``d`` after crossing a surface of unit normal ``n``
    (facing against ``d``), ``eta`` = n_from / n_to; under total internal reflection, the
    mirror direction."""
    cosi = -(dx * nx + dy * ny + dz * nz)
    k = 1.0 - eta * eta * (1.0 - cosi * cosi)
    if k < 0.0:
        return _unit(dx + 2.0 * cosi * nx, dy + 2.0 * cosi * ny, dz + 2.0 * cosi * nz)
    a = eta * cosi - math.sqrt(k)
    return _unit(eta * dx + a * nx, eta * dy + a * ny, eta * dz + a * nz)


@njit(**_JIT)
def _exit_depth(height: np.ndarray, x: float, y: float, slope_x: float, slope_y: float, far: float, march: int, bisect: int) -> float:
    """How deep below the front surface a ray with screen slope (slope_x, slope_y) per unit of
    depth, entering at (x, y), meets the back surface ``+height``: marched in ``march`` steps
    to ``far``, then ``bisect`` halvings of the step that crossed it (``far`` if none did).
    (A ray bent inwards near the rim exits where the object is much thicker than where it
    entered, so a local estimate will not do.)"""
    here = height[int(y), int(x)]
    lo, hi = 0.0, far
    for k in range(1, march + 1):
        step = far * k / march
        if step - here >= _plane(height, x + slope_x * step, y + slope_y * step, True):
            hi = step
            break
        lo = step
    for _ in range(bisect):
        mid = 0.5 * (lo + hi)
        if mid - here >= _plane(height, x + slope_x * mid, y + slope_y * mid, True):
            hi = mid
        else:
            lo = mid
    return hi


# The surfaces' fields run on one core: the render pass makes them a frame ahead in its
# prefetch thread (render.glass.ObjectView), beside the main thread's parallel loops. On all
# cores (prange) they are twice as fast alone, but the render pass was no faster (blackswan,
# interleaved runs: medians 70.6 and 69.2 frames/s serial, 68.5 and 69.7 with prange).
@njit(**_JIT)
def surface_normals(height: np.ndarray) -> np.ndarray:
    """Outward unit normals (HxWx3) of the front surface ``z = -height`` (HxW, pixels), facing the
    camera (z < 0): ``(-dh/dx, -dh/dy, -1)`` normalised, the derivatives central differences
    with the edge replicated (``cv2.Sobel`` with ``ksize=1``, ``scale=0.5``)."""
    h, w = height.shape
    out = np.empty((h, w, 3), np.float32)
    for y in range(h):
        up, down = max(y - 1, 0), min(y + 1, h - 1)
        for x in range(w):
            gx = 0.5 * (height[y, min(x + 1, w - 1)] - height[y, max(x - 1, 0)])
            gy = 0.5 * (height[down, x] - height[up, x])
            nx, ny, nz = _unit(-gx, -gy, -1.0)
            out[y, x, 0], out[y, x, 1], out[y, x, 2] = nx, ny, nz
    return out


@njit(**_JIT)
def cavity_fields(unit_height: np.ndarray, radius_px: float, thickness: float, wall: float) -> tuple[np.ndarray, np.ndarray]:
    """A thin-walled shell's cavity over the working grid: ``(h_in, wall_dz)``, HxW float32.

    The outer surface is the inflated silhouette (``unit_height`` in [0, 1], half-depth
    ``thickness * radius_px * unit_height``); the inner one is the same shape ``wall``
    half-widths smaller: for a circular cross-section of radius R at distance r from the
    axis, ``sqrt((R - W)^2 - r^2)``. ``h_in`` is the cavity's half-depth (pixels, 0 where a
    ray meets no cavity: the rims), ``wall_dz`` the wall's depth along the view.
    """
    h, w = unit_height.shape
    h_in = np.empty((h, w), np.float32)
    wall_dz = np.empty((h, w), np.float32)
    inner_r = radius_px * (1.0 - wall)
    for y in range(h):
        for x in range(w):
            u = unit_height[y, x]
            r = radius_px * math.sqrt(min(max(1.0 - u * u, 0.0), 1.0))  # distance from the axis
            h_in[y, x] = thickness * math.sqrt(max(inner_r * inner_r - r * r, 0.0))
            wall_dz[y, x] = max(thickness * radius_px * u - h_in[y, x], 0.0)
    return h_in, wall_dz


@njit(**_PAR)
def trace_rays(
    height: np.ndarray,
    n_front: np.ndarray,
    h_in: np.ndarray,
    n_in: np.ndarray,
    wall_dz: np.ndarray,
    index: np.ndarray,
    ior: float,
    plate_px: float,
    far: float,
    march: int,
    bisect: int,
    min_exit_cos: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the view ray of each object pixel ``index`` (flat in the HxW working grid) meets the plate.

    The object's front surface is at ``-height`` and its back at ``+height`` about its
    mid-plane (pixels; ``n_front`` HxWx3 the front's outward normals, the back's mirror
    them). A view ray (0, 0, 1) refracts into the front (Snell, ``1 / ior``) and then:

    - *solid* (``h_in`` empty, and the rims of a hollow object): crosses the glass to where
      it first meets the back surface (:func:`_exit_depth`), refracts out there and travels
      ``plate_px`` (along z) to the plate; a sphere focuses and so inverts a far background.
    - *hollow* (``h_in``: HxW half-depth of the cavity, 0 where a ray meets none; ``n_in``
      its near face's normals, HxWx3, the far face mirrors them; ``wall_dz`` the wall's depth
      along z): crosses the front wall, refracts into the cavity, across it, into the back
      wall and out of the back -- four refractions at two meniscus walls, so the middle
      looks nearly straight through and the rims bend.

    Returns ``(offset 2xN, path N, through N bool)``: pixels from each pixel to its plate
    sample, glass crossed (pixels), and whether the ray crossed a cavity.
    """
    n = index.shape[0]
    w = height.shape[1]
    hollow = h_in.shape[0] > 0
    offset = np.empty((2, n), np.float32)
    path = np.empty(n, np.float32)
    through = np.zeros(n, np.bool_)
    for k in prange(n):
        yi, xi = divmod(index[k], w)
        x, y = float(xi), float(yi)
        t1x, t1y, t1z = _refract(0.0, 0.0, 1.0, n_front[yi, xi, 0], n_front[yi, xi, 1], n_front[yi, xi, 2], 1.0 / ior)
        if hollow and h_in[yi, xi] > 0.0:
            through[k] = True
            front_dz = wall_dz[yi, xi]
            tz = max(t1z, _MIN_DZ)
            sx, sy = t1x * front_dz / tz, t1y * front_dz / tz
            length = front_dz / tz
            nx, ny, nz = _normal_at(n_in, x + sx, y + sy, False)
            t2x, t2y, t2z = _refract(t1x, t1y, t1z, nx, ny, nz, ior)  # into the cavity
            dz = 2.0 * _plane(h_in, x + sx, y + sy, False) / max(t2z, _MIN_DZ)  # across it
            sx, sy = sx + t2x * dz, sy + t2y * dz
            nx, ny, nz = _normal_at(n_in, x + sx, y + sy, True)
            t3x, t3y, t3z = _refract(t2x, t2y, t2z, nx, ny, nz, 1.0 / ior)  # into the back wall
            back_dz = _plane(wall_dz, x + sx, y + sy, False)
            tz = max(t3z, _MIN_DZ)
            sx, sy = sx + t3x * back_dz / tz, sy + t3y * back_dz / tz
            length += back_dz / tz
            nx, ny, nz = _normal_at(n_front, x + sx, y + sy, True)
            ex, ey, ez = _refract(t3x, t3y, t3z, nx, ny, nz, ior)  # out of the back
            go = plate_px / max(ez, _MIN_DZ)
        else:
            tz = max(t1z, _MIN_DZ)
            depth = _exit_depth(height, x, y, t1x / tz, t1y / tz, far, march, bisect)
            sx, sy = t1x / tz * depth, t1y / tz * depth
            length = depth / tz
            nx, ny, nz = _normal_at(n_front, x + sx, y + sy, True)
            ex, ey, ez = _refract(t1x, t1y, t1z, nx, ny, nz, ior)
            go = plate_px / max(ez, min_exit_cos)
        offset[0, k] = sx + ex * go
        offset[1, k] = sy + ey * go
        path[k] = length
    return offset, path, through


@njit(**_JIT)
def fill_ring(fields: np.ndarray, known: np.ndarray, ring: np.ndarray) -> None:
    """Each pixel of ``ring`` (flat indices, N) takes the mean of its known 3x3 neighbours in
    ``fields`` (HxWxC, in place), then is known (``known``: HxW uint8, in place): a 3x3 box
    filter of the known values over one of the known mask, ``cv2.blur``'s reflected border.
    Unknown pixels of ``fields`` must hold 0; the ring is written after it is found, so
    its pixels do not feed each other."""
    h, w, nc = fields.shape
    sums = np.zeros((ring.shape[0], nc), np.float64)
    for k in range(ring.shape[0]):
        y, x = divmod(ring[k], w)
        weight = 0.0
        for dy in range(-1, 2):
            yy = _reflect(y + dy, h)
            for dx in range(-1, 2):
                xx = _reflect(x + dx, w)
                if known[yy, xx]:
                    weight += 1.0
                    for c in range(nc):
                        sums[k, c] += fields[yy, xx, c]
        for c in range(nc):
            sums[k, c] /= max(weight, 1.0)
    for k in range(ring.shape[0]):
        y, x = divmod(ring[k], w)
        known[y, x] = 1
        for c in range(nc):
            fields[y, x, c] = sums[k, c]
