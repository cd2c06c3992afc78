"""Compiled per-pixel loops of the glass render's full-resolution stage (numba).

The optics are smooth and traced at a working resolution (:mod:`glassvid.render.glass`);
what runs at full resolution -- the fields brought up to each object pixel, the width
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

    Returns ``(values NxC, width N)``: ``width`` is the footprint of each pixel's plate
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
    values = np.empty((n, nc), np.float32)
    width = np.ones(n, np.float32)
    ox, oy = offset_channel, offset_channel + 1
    for k in prange(n):
        y, x = divmod(index[k], cols)
        y0, y1, wy = ay0[y], ay1[y], awy[y]
        x0, x1, wx = ax0[x], ax1[x], awx[x]
        for c in range(nc):
            values[k, c] = _lerp2(fields, y0, y1, wy, x0, x1, wx, c)
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
    absorb + refl * env + spec`` clipped to [0, 1] (``transmitted`` Nx3, ``absorb`` Nx3
    or 0x3 for none, ``spec`` N or empty). Then every box pixel
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
                t *= absorb[k, c]
            v = (1.0 - refl[k]) * t + refl[k] * env[k, c]
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
