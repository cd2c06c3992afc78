#!/usr/bin/env python
"""Generate glassvid's demo clip: an opaque ceramic cup sliding across a table.

The scene is drawn procedurally and deterministically (fixed seed):

* a tiled wall with a rainbow-stripe poster, a sign with large text, a mosaic of
  coloured squares and a checkerboard, seen in true perspective;
* a gingham tablecloth on a table plane, in perspective;
* a matte-glazed ceramic cup with a handle (a lathe shape, ray-marched once as a
  signed-distance field) that slides from left to right, with lambert shading,
  a soft glaze highlight, self-shadowing, a soft contact shadow and ambient
  occlusion on the table.

Everything is supersampled (default 4x) in linear light and downscaled with
``cv2.INTER_AREA``; the object's silhouette mask is the downscaled coverage
thresholded at 0.5, so the mask matches the rendered object exactly.

Outputs (next to this script unless ``--out-dir`` is given): ``cup.mp4`` (H.264,
yuv420p, with a quiet AAC tone), ``cup.prompt.json`` (frame-0 box and point) and
``cup.mask.png`` (frame-0 silhouette, 0/255).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

SEED = 20240607
FPS = 24
DEFAULT_FRAMES = 60
DEFAULT_SIZE = (480, 272)
AUDIO_TONE_HZ = 330.0  # a quiet E4: the demo shows audio being copied through

# ----------------------------------------------------------------------------------
# Camera and scene geometry (world units; Y up, Z away from the camera).
# ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Camera:
    """A pinhole camera at height ``height`` looking down by ``pitch`` radians."""

    width: int
    height_px: int
    focal: float  # in output pixels
    pitch: float
    height: float  # camera height above the table plane (world units)

    @property
    def cx(self) -> float:
        return self.width / 2.0

    @property
    def cy(self) -> float:
        return self.height_px / 2.0

    def rays(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World ray directions (unnormalised) for image points in output pixels."""
        dx = (xs - self.cx) / self.focal
        dy = (ys - self.cy) / self.focal
        c, s = math.cos(self.pitch), math.sin(self.pitch)
        return dx, -dy * c - s, -dy * s + c

    def project(self, p: tuple[float, float, float]) -> tuple[float, float]:
        """Project a world point to output-pixel coordinates."""
        x, y, z = p[0], p[1] - self.height, p[2]
        c, s = math.cos(self.pitch), math.sin(self.pitch)
        zc = z * c - y * s  # along the view axis
        yc = -(y * c + z * s)  # image down
        return self.cx + self.focal * x / zc, self.cy + self.focal * yc / zc


@dataclass(frozen=True)
class Scene:
    """Scene layout, all derived from the output size."""

    cam: Camera
    wall_z: float  # the wall plane Z = wall_z; the table is Y = 0, Z < wall_z
    cup_z: float  # depth of the cup's axis on the table
    cup_scale: float  # output pixels per world unit at the cup
    cup_view_elev: float  # elevation of the view ray at the cup (radians)
    x_start: float  # world X of the cup axis at t = 0 and t = 1
    x_end: float


def make_scene(width: int, height: int) -> Scene:
    """Lay out the camera, wall, table and cup path for an output size."""
    k = height / 272.0
    cam = Camera(width, height, focal=560.0 * k, pitch=math.radians(11.0), height=2.6)
    # Put the table's back edge (the wall's foot) at 62% of the frame height.
    _, ry, rz = cam.rays(np.array(cam.cx), np.array(0.62 * height))
    t = cam.height / -float(ry)
    wall_z = t * float(rz)
    # The cup stands nearer, its foot at about 86% of the frame height.
    _, ry, rz = cam.rays(np.array(cam.cx), np.array(0.86 * height))
    t = cam.height / -float(ry)
    cup_z = t * float(rz)
    dist = math.hypot(cup_z, cam.height)
    elev = math.atan2(cam.height, cup_z)
    span = 0.19 * width * dist / cam.focal
    return Scene(cam, wall_z, cup_z, cam.focal / dist, elev, -span * 1.05, span * 0.95)


# ----------------------------------------------------------------------------------
# Colour helpers.
# ----------------------------------------------------------------------------------


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0,1] to linear light."""
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """Linear light to sRGB-encoded [0,1] (clipped)."""
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055).astype(np.float32)


def hexrgb(h: str) -> tuple[int, int, int]:
    """'#rrggbb' to an (r, g, b) tuple of ints (RGB order)."""
    h = h.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


# ----------------------------------------------------------------------------------
# Wall texture (drawn once, in wall-plane units, then seen in perspective).
# ----------------------------------------------------------------------------------

WALL_X = (-6.0, 6.0)  # extent of the wall texture in world X
WALL_Y = (0.0, 3.6)  # and in world Y (0 is the table top)
WALL_TEXELS = 220  # texels per world unit


def _wall_px(x: float, y: float) -> tuple[int, int]:
    """World wall coordinates to wall-texture pixel coordinates (col, row)."""
    return (
        int(round((x - WALL_X[0]) * WALL_TEXELS)),
        int(round((WALL_Y[1] - y) * WALL_TEXELS)),
    )


def _text_centered(img: np.ndarray, text: str, cx: float, cy: float, height: float,
                   color: tuple[int, int, int], font: int = cv2.FONT_HERSHEY_DUPLEX,
                   weight: float = 0.12) -> None:
    """Draw ``text`` centred at world (cx, cy) with a cap height in world units."""
    h_px = height * WALL_TEXELS
    scale = h_px / 22.0
    thick = max(1, int(round(h_px * weight)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    px, py = _wall_px(cx, cy)
    cv2.putText(img, text, (px - tw // 2, py + th // 2), font, scale, color, thick, cv2.LINE_AA)


def _rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float,
          color: tuple[int, int, int]) -> None:
    """Fill a wall rectangle given in world units (y0 < y1)."""
    p0 = _wall_px(x0, y1)
    p1 = _wall_px(x1, y0)
    cv2.rectangle(img, p0, (p1[0] - 1, p1[1] - 1), color, -1, cv2.LINE_AA)


@lru_cache(maxsize=2)
def wall_texture() -> np.ndarray:
    """The wall as an sRGB uint8 image (RGB), rows from top (high Y) to bottom."""
    rng = np.random.default_rng(SEED)
    w = int((WALL_X[1] - WALL_X[0]) * WALL_TEXELS)
    h = int((WALL_Y[1] - WALL_Y[0]) * WALL_TEXELS)

    # Tiled wall: 0.4-unit square tiles, slightly varying cream glaze, grey grout.
    tile = 0.4
    ntx = int(math.ceil((WALL_X[1] - WALL_X[0]) / tile))
    nty = int(math.ceil((WALL_Y[1] - WALL_Y[0]) / tile))
    base = np.array(hexrgb("#ece3d0"), np.float32)
    jitter = 1.0 + 0.04 * rng.standard_normal((nty, ntx, 1))
    tint = (base[None, None, :] * jitter).astype(np.float32)
    tint = np.clip(tint, 0.0, 255.0)
    img = cv2.resize(tint, (ntx * 64, nty * 64), interpolation=cv2.INTER_NEAREST)
    img = cv2.resize(img, (int(ntx * tile * WALL_TEXELS), int(nty * tile * WALL_TEXELS)),
                     interpolation=cv2.INTER_NEAREST)[:h, :w]
    img = np.ascontiguousarray(img)
    grout = hexrgb("#8d857a")
    gw = max(2, int(0.03 * WALL_TEXELS))
    for i in range(ntx + 1):
        x = int(round(i * tile * WALL_TEXELS))
        cv2.rectangle(img, (x - gw // 2, 0), (x + gw // 2, h), grout, -1)
    for j in range(nty + 1):
        y = h - int(round(j * tile * WALL_TEXELS))
        cv2.rectangle(img, (0, y - gw // 2), (w, y + gw // 2), grout, -1)
    img = img.astype(np.uint8)

    # Left: a poster of rainbow stripes with a black-and-white bullseye.
    _rect(img, -4.55, 0.78, -1.75, 3.25, hexrgb("#1d1d24"))
    stripes = ["#e63946", "#f4a261", "#f1d302", "#2a9d8f", "#3a86ff", "#8338ec", "#ff006e",
               "#fb5607", "#ffbe0b", "#06d6a0", "#118ab2", "#073b4c"]
    x0, x1, n = -4.45, -1.85, len(stripes)
    for i, c in enumerate(stripes):
        _rect(img, x0 + (x1 - x0) * i / n, 0.88, x0 + (x1 - x0) * (i + 1) / n, 3.15, hexrgb(c))
    cx, cy = _wall_px(-3.15, 2.3)
    for i, r in enumerate(np.linspace(0.75, 0.12, 6)):
        col = (20, 20, 24) if i % 2 == 0 else (245, 245, 240)
        cv2.circle(img, (cx, cy), int(r * WALL_TEXELS), col, -1, cv2.LINE_AA)
    _text_centered(img, "REFRACT", -3.15, 1.18, 0.28, (250, 250, 245), weight=0.16)

    # Centre: a yellow sign with big text and a smaller line beneath.
    _rect(img, -1.35, 1.05, 1.95, 2.75, hexrgb("#222222"))
    _rect(img, -1.28, 1.12, 1.88, 2.68, hexrgb("#ffd23f"))
    _text_centered(img, "GLASS", 0.30, 2.15, 0.62, (25, 25, 30), weight=0.2)
    _text_centered(img, "see-through  *  fresnel  *  24 fps", 0.30, 1.45, 0.13, (40, 40, 50),
                   font=cv2.FONT_HERSHEY_SIMPLEX, weight=0.16)

    # Right: a mosaic of saturated squares above a black-and-white checkerboard.
    palette = ["#ef476f", "#ffd166", "#06d6a0", "#118ab2", "#073b4c", "#f78c6b", "#83c5be",
               "#e76f51", "#264653", "#e9c46a"]
    s = 0.3
    for j in range(4):
        for i in range(7):
            c = palette[int(rng.integers(len(palette)))]
            _rect(img, 2.3 + i * s + 0.02, 1.75 + j * s + 0.02, 2.3 + (i + 1) * s - 0.02,
                  1.75 + (j + 1) * s - 0.02, hexrgb(c))
    s = 0.15
    for j in range(6):
        for i in range(14):
            col = (25, 25, 28) if (i + j) % 2 == 0 else (248, 248, 244)
            _rect(img, 2.3 + i * s, 0.7 + j * s, 2.3 + (i + 1) * s, 0.7 + (j + 1) * s, col)

    # Along the bottom of the wall (what the cup passes in front of): a band of
    # bold diagonal stripes and a row of coloured words.
    band = np.zeros((int(0.22 * WALL_TEXELS), w, 3), np.uint8)
    yy, xx = np.mgrid[0 : band.shape[0], 0:w]
    phase = ((xx + yy) / (0.16 * WALL_TEXELS)) % 2.0
    band[:] = np.where((phase < 1.0)[..., None], np.array(hexrgb("#1b263b"), np.uint8),
                       np.array(hexrgb("#f8f4e3"), np.uint8))
    r0 = _wall_px(0, 0.30)[1]
    img[r0 : r0 + band.shape[0]] = band
    # A dark skirting board where wall meets table.
    _rect(img, WALL_X[0], 0.0, WALL_X[1], 0.08, hexrgb("#3b2f2a"))
    words = ["snell", "IOR 1.5", "fresnel", "caustics", "beer", "schlick", "frost", "glassvid"]
    inks = ["#d62828", "#1d3557", "#2a9d8f", "#7b2cbf", "#e76f51", "#005f73", "#c9184a",
            "#283618"]
    for i, (word, ink) in enumerate(zip(words, inks)):
        _text_centered(img, word, -5.1 + i * 1.45, 0.5, 0.15, hexrgb(ink),
                       font=cv2.FONT_HERSHEY_DUPLEX, weight=0.16)

    # Subtle plaster-like low-frequency variation.
    noise = rng.standard_normal((h // 40 + 1, w // 40 + 1)).astype(np.float32)
    noise = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)[..., None]
    img = np.clip(img.astype(np.float32) * (1.0 + 0.025 * noise), 0, 255).astype(np.uint8)
    return img


# ----------------------------------------------------------------------------------
# Static background (wall + table + lighting), at supersampled resolution, linear.
# ----------------------------------------------------------------------------------

LIGHT_DIR = np.array([-0.66, 0.62, -0.30])  # world, towards the light (upper left, front)
LIGHT_DIR = LIGHT_DIR / np.linalg.norm(LIGHT_DIR)


def _gingham(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A red gingham pattern in linear RGB for table-plane coordinates (u, v)."""
    period = 0.36
    a = ((u / period) % 1.0) < 0.5
    b = ((v / period) % 1.0) < 0.5
    red = srgb_to_linear(np.array(hexrgb("#c1121f"), np.float32) / 255.0)
    white = srgb_to_linear(np.array(hexrgb("#f6f1e7"), np.float32) / 255.0)
    # Two overlapping sets of translucent bands: 0, 1 or 2 layers of red dye.
    layers = a.astype(np.float32) + b.astype(np.float32)
    f = np.array([0.0, 0.55, 1.0], np.float32)[layers.astype(np.int64)][..., None]
    return white * (1 - f) + red * f


@lru_cache(maxsize=2)
def background(
    width: int, height: int, ss: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Static background, linear RGB float32 at ``ss`` x supersampling.

    Returns ``(rgb, table_mask, table_u, table_v)``: the lit image, where the
    table plane is visible, and its plane coordinates (world X and Z).
    """
    sc = make_scene(width, height)
    cam = sc.cam
    H, W = height * ss, width * ss
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    xs = (xs + 0.5) / ss
    ys = (ys + 0.5) / ss
    dx, dy, dz = cam.rays(xs, ys)

    # Table plane Y = 0.
    with np.errstate(divide="ignore", invalid="ignore"):
        t_tab = np.where(dy < 0, cam.height / -dy, np.inf)
    tz = t_tab * dz
    table = np.isfinite(t_tab) & (tz < sc.wall_z)
    tu = np.where(table, t_tab * dx, 0.0).astype(np.float32)
    tv = np.where(table, tz, 0.0).astype(np.float32)

    # Wall plane Z = wall_z.
    t_wall = sc.wall_z / dz
    wx = t_wall * dx
    wy = cam.height + t_wall * dy
    tex = srgb_to_linear(wall_texture().astype(np.float32) / 255.0)
    mx = ((wx - WALL_X[0]) * WALL_TEXELS - 0.5).astype(np.float32)
    my = ((WALL_Y[1] - wy) * WALL_TEXELS - 0.5).astype(np.float32)
    wall = cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    tab = _gingham(tu, tv)
    img = np.where(table[..., None], tab, wall).astype(np.float32)

    # Lighting: a warm key light from upper left plus cool ambient, with a soft
    # pool of light centred left of the middle, and a little wall shade near the table.
    key = np.array([1.0, 0.94, 0.84], np.float32)
    amb = np.array([0.62, 0.68, 0.80], np.float32)
    n_tab, n_wall = LIGHT_DIR[1], -LIGHT_DIR[2]
    px = np.where(table, tu, wx)
    py = np.where(table, 0.0, wy)
    pz = np.where(table, tv, sc.wall_z)
    pool = np.exp(-((px + 0.8) ** 2 + (py - 0.6) ** 2 + (pz - sc.cup_z - 1.0) ** 2) / 40.0)
    lam = np.where(table, n_tab, n_wall)
    light = (0.35 + 0.9 * pool * lam)[..., None] * key + 0.22 * amb
    wall_ao = np.where(table, 1.0, 1.0 - 0.25 * np.exp(-np.maximum(wy, 0) / 0.25))
    img = img * light * wall_ao[..., None].astype(np.float32)
    # Vignette.
    r2 = ((xs - cam.cx) / cam.cx) ** 2 + ((ys - cam.cy) / cam.cy) ** 2
    img = img * (1.0 - 0.16 * r2)[..., None]
    return img.astype(np.float32), table, tu, tv


# ----------------------------------------------------------------------------------
# The cup: a signed-distance lathe shape with a handle, ray-marched once.
# ----------------------------------------------------------------------------------

# Cup dimensions in output pixels at the cup's depth, for a 272-pixel-high frame.
CUP_H = 96.0  # height
CUP_RB = 28.0  # outer radius at the base
CUP_RT = 36.0  # outer radius at the rim
CUP_WALL = 3.2  # wall thickness
CUP_FLOOR = 7.0  # height of the inner floor
CUP_FILLET = 9.0  # rounding of the base


def _smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.maximum(a, b) + h * h * k * 0.25


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    return -_smax(-a, -b, k)


def _r_out(y: np.ndarray, s: float) -> np.ndarray:
    """Outer radius of the cup at height ``y`` (slightly convex taper, rounded base)."""
    h, rb, rt, fr = CUP_H * s, CUP_RB * s, CUP_RT * s, CUP_FILLET * s
    q = np.clip(y / h, 0.0, 1.0)
    r = rb + (rt - rb) * q + 2.5 * s * np.sin(np.pi * q)
    yy = np.clip(y, 0.0, fr)
    return r - fr + np.sqrt(np.maximum(fr * fr - (fr - yy) ** 2, 0.0))


def cup_sdf(x: np.ndarray, y: np.ndarray, z: np.ndarray, s: float) -> np.ndarray:
    """Approximate signed distance to the cup (object frame, Y up, Z to camera)."""
    h, wt, fl = CUP_H * s, CUP_WALL * s, CUP_FLOOR * s
    rho = np.sqrt(x * x + z * z)
    ro = _r_out(y, s)
    outer = _smax(_smax(rho - ro, -y, 1.5 * s), y - h, 1.2 * s)
    cavity = _smax(rho - (ro - wt), fl - y, 2.5 * s)
    body = _smax(outer, -cavity, 1.0 * s)
    # Handle: a tube along a vertical half-ellipse on the +X side.
    hy = 0.56 * h
    ha, hb = 17.0 * s, 26.0 * s
    hx = _r_out(np.asarray(hy), s) + 0.2 * s
    px = x - hx
    py = (y - hy) * (ha / hb)
    dp = np.sqrt(px * px + py * py) - ha
    handle = np.sqrt(dp * dp + z * z) - 3.6 * s
    handle = np.maximum(handle, (ro - 0.5 * wt) - x)
    return _smin(body, handle, 3.0 * s)


@dataclass(frozen=True)
class CupSprite:
    """The rendered cup at supersampled resolution, ready to paste."""

    rgb: np.ndarray  # HxWx3 linear RGB (undefined where alpha == 0)
    alpha: np.ndarray  # HxW bool coverage at supersampled resolution
    ox: int  # supersampled pixel of the object origin (foot of the axis) in the sprite
    oy: int


@lru_cache(maxsize=2)
def cup_sprite(width: int, height: int, ss: int) -> CupSprite:
    """Ray-march the cup once (orthographic view at the cup's elevation) and shade it."""
    sc = make_scene(width, height)
    s = height / 272.0
    e = sc.cup_view_elev
    ce, se = math.cos(e), math.sin(e)
    rmax = (CUP_RT + 2.5 + 2 * 17.0 + 4.0) * s  # reach of the handle
    left, right = (CUP_RT + 4.0) * s, rmax + 2.0 * s
    top = CUP_H * s * ce + (CUP_RT + 3.0) * s * se + 2.0 * s
    bottom = (CUP_RB + 3.0) * s * se + 2.0 * s
    left = math.ceil(left * ss) / ss
    top = math.ceil(top * ss) / ss
    w_ss = int(math.ceil((left + right) * ss))
    h_ss = int(math.ceil((top + bottom) * ss))
    jj, ii = np.meshgrid(np.arange(w_ss), np.arange(h_ss))
    xs = ((jj + 0.5) / ss - left).astype(np.float32).ravel()
    ys = ((ii + 0.5) / ss - top).astype(np.float32).ravel()

    # Ray: P(t) = (x, -y cos e + t sin e, y sin e + t cos e); larger t is nearer.
    def point(t: np.ndarray, idx: np.ndarray | slice = slice(None)
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x, y = xs[idx], ys[idx]
        if t.ndim == 2:
            x, y = x[:, None], y[:, None]
        return x + 0 * t, -y * ce + t * se, y * se + t * ce

    zr = rmax + 1.0 * s
    t_hi = (zr - ys * se) / ce
    t_lo = (-zr - ys * se) / ce
    step = 0.4 * s
    n_steps = int(math.ceil((t_hi - t_lo).max() / step)) + 1
    hit_t = np.full(xs.shape, np.nan, np.float32)
    chunk = 4096
    for c0 in range(0, xs.size, chunk):
        sl = slice(c0, c0 + chunk)
        ts = t_hi[sl, None] - step * np.arange(n_steps, dtype=np.float32)[None, :]
        px, py, pz = point(ts, sl)
        inside = cup_sdf(px, py, pz, s) < 0
        anyin = inside.any(axis=1)
        first = inside.argmax(axis=1)
        hit = np.where(anyin, t_hi[sl] - step * first, np.nan)
        hit_t[sl] = hit
    mask = np.isfinite(hit_t)
    idx = np.nonzero(mask)[0]
    # Refine by bisection between the first inside sample and the one before it.
    hi = hit_t[idx] + step
    lo = hit_t[idx].copy()
    for _ in range(10):
        mid = 0.5 * (hi + lo)
        px, py, pz = point(mid, idx)
        ins = cup_sdf(px, py, pz, s) < 0
        lo = np.where(ins, mid, lo)
        hi = np.where(ins, hi, mid)
    t = lo
    px, py, pz = point(t, idx)

    # Normals from the SDF gradient.
    eps = 0.05 * s
    nx = cup_sdf(px + eps, py, pz, s) - cup_sdf(px - eps, py, pz, s)
    ny = cup_sdf(px, py + eps, pz, s) - cup_sdf(px, py - eps, pz, s)
    nz = cup_sdf(px, py, pz + eps, s) - cup_sdf(px, py, pz - eps, s)
    nn = np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12
    nx, ny, nz = nx / nn, ny / nn, nz / nn

    # Light in the object frame (object Z points at the camera: world Z flipped).
    L = np.array([LIGHT_DIR[0], LIGHT_DIR[1], -LIGHT_DIR[2]])
    V = np.array([0.0, se, ce])
    Hh = (L + V) / np.linalg.norm(L + V)
    ndl = np.maximum(nx * L[0] + ny * L[1] + nz * L[2], 0.0)
    ndh = np.maximum(nx * Hh[0] + ny * Hh[1] + nz * Hh[2], 0.0)

    # Self-shadowing: march towards the light.
    lit = np.ones(idx.size, bool)
    ox_, oy_, oz_ = px + nx * 0.6 * s, py + ny * 0.6 * s, pz + nz * 0.6 * s
    for k in range(1, 200):
        d = 0.8 * s * k
        qx, qy, qz = ox_ + L[0] * d, oy_ + L[1] * d, oz_ + L[2] * d
        if qy.min() > CUP_H * s + 2:
            break
        lit &= cup_sdf(qx, qy, qz, s) >= 0
    shadow = np.where(lit, 1.0, 0.0)
    shadow = shadow.astype(np.float32)

    # Inside the cup (inner wall or inner floor) versus outside glaze.
    rho = np.sqrt(px * px + pz * pz)
    inner = (rho < _r_out(py, s) - 0.5 * CUP_WALL * s) & (py > CUP_FLOOR * s - 1.5 * s) & \
            (py < CUP_H * s - 0.8 * s)
    depth_in = np.clip((CUP_H * s - py) / (CUP_H * s - CUP_FLOOR * s), 0.0, 1.0)
    ao = np.where(inner, 1.0 - 0.55 * depth_in ** 0.8, 1.0 - 0.35 * np.exp(-py / (6.0 * s)))

    glaze = srgb_to_linear(np.array(hexrgb("#2f7f86"), np.float32) / 255.0)  # teal glaze
    cream = srgb_to_linear(np.array(hexrgb("#efe6d2"), np.float32) / 255.0)  # inside
    albedo = np.where(inner[:, None], cream, glaze)
    # A cream band just under the rim, outside.
    band = (~inner) & (py > CUP_H * s - 11.0 * s) & (py < CUP_H * s - 6.0 * s) & \
           (px < _r_out(py, s) + 0.5 * s)
    albedo = np.where(band[:, None], cream, albedo)

    key = np.array([1.0, 0.94, 0.84], np.float32)
    amb = np.array([0.62, 0.68, 0.80], np.float32)
    hemi = (0.55 + 0.45 * ny)[:, None]
    diffuse = albedo * (1.05 * (ndl * shadow)[:, None] * key + 0.30 * hemi * amb * ao[:, None])
    spec = (0.30 * ndh ** 50 * shadow)[:, None] * key
    rim_light = (0.05 * (1 - np.clip(nx * V[0] + ny * V[1] + nz * V[2], 0, 1)) ** 3)[:, None] * amb
    col = diffuse + spec + rim_light

    rgb = np.zeros((xs.size, 3), np.float32)
    rgb[idx] = col
    return CupSprite(rgb.reshape(h_ss, w_ss, 3), mask.reshape(h_ss, w_ss),
                     int(round(left * ss)), int(round(top * ss)))


# ----------------------------------------------------------------------------------
# Frames.
# ----------------------------------------------------------------------------------


def cup_x(t: float, sc: Scene) -> float:
    """World X of the cup's axis at normalised time ``t`` in [0, 1] (gentle ease)."""
    t = min(max(t, 0.0), 1.0)
    p = 0.55 * t + 0.45 * (0.5 - 0.5 * math.cos(math.pi * t))
    return sc.x_start + (sc.x_end - sc.x_start) * p


def _shadow(sc: Scene, table: np.ndarray, tu: np.ndarray, tv: np.ndarray, cx: float) -> np.ndarray:
    """Multiplicative soft shadow + contact occlusion on the table for a cup at X = cx."""
    s_world = 1.0 / sc.cup_scale  # world units per cup pixel
    k = sc.cam.height_px / 272.0  # cup dimensions are given for a 272-pixel frame
    rb = CUP_RB * k * s_world
    h = CUP_H * k * s_world
    # Capsule from the foot along the light's horizontal direction, away from the light.
    dirx, dirz = -LIGHT_DIR[0], -LIGHT_DIR[2]
    length = h * math.hypot(dirx, dirz) / LIGHT_DIR[1]
    nrm = math.hypot(dirx, dirz)
    dirx, dirz = dirx / nrm, dirz / nrm
    qu, qv = tu - cx, tv - sc.cup_z
    along = np.clip(qu * dirx + qv * dirz, 0.0, length * 0.9)
    du, dv = qu - along * dirx, qv - along * dirz
    dist = np.sqrt(du * du + dv * dv)
    frac = along / length
    radius = rb * (1.0 + 0.25 * frac)
    soft = rb * (0.15 + 0.6 * frac)
    sh = 0.78 * (1.0 - frac * 0.45) * np.clip((radius + soft - dist) / (2 * soft), 0.0, 1.0)
    d0 = np.sqrt(qu * qu + qv * qv)
    contact = 0.55 * np.exp(-np.maximum(d0 - rb * 0.85, 0.0) / (0.18 * rb))
    occ = 1.0 - np.maximum(sh, contact)
    return np.where(table, occ, 1.0).astype(np.float32)


def render_frame(t: float, size: tuple[int, int] = DEFAULT_SIZE, ss: int = 4
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Render the scene at normalised time ``t`` in [0, 1].

    Returns ``(rgb, mask)``: an HxWx3 uint8 sRGB image and the cup's HxW uint8
    0/255 silhouette (downscaled coverage >= 0.5).
    """
    width, height = size
    sc = make_scene(width, height)
    bg, table, tu, tv = background(width, height, ss)
    spr = cup_sprite(width, height, ss)
    cx = cup_x(t, sc)
    fx, fy = sc.cam.project((cx, 0.0, sc.cup_z))
    img = bg * _shadow(sc, table, tu, tv, cx)[..., None]
    cov = np.zeros(img.shape[:2], np.float32)
    # Paste at an integer supersampled offset (1/ss output-pixel precision).
    X0 = int(round(fx * ss)) - spr.ox
    Y0 = int(round(fy * ss)) - spr.oy
    hs, ws = spr.alpha.shape
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(X0, 0), max(Y0, 0), min(X0 + ws, W), min(Y0 + hs, H)
    if x1 > x0 and y1 > y0:
        a = spr.alpha[y0 - Y0 : y1 - Y0, x0 - X0 : x1 - X0]
        region = img[y0:y1, x0:x1]
        region[a] = spr.rgb[y0 - Y0 : y1 - Y0, x0 - X0 : x1 - X0][a]
        cov[y0:y1, x0:x1] = a
    small = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    cov_s = cv2.resize(cov, (width, height), interpolation=cv2.INTER_AREA)
    # Gentle filmic shoulder, then sRGB.
    small = small / (1.0 + 0.12 * small)
    rgb = (linear_to_srgb(small * 1.08) * 255.0 + 0.5).astype(np.uint8)
    mask = np.where(cov_s >= 0.5, 255, 0).astype(np.uint8)
    return rgb, mask


def frames(n: int, size: tuple[int, int] = DEFAULT_SIZE, ss: int = 4) -> Iterator[np.ndarray]:
    """Yield the ``n`` RGB frames of the clip."""
    for i in range(n):
        yield render_frame(i / max(n - 1, 1), size, ss)[0]


# ----------------------------------------------------------------------------------
# Prompt and encoding.
# ----------------------------------------------------------------------------------


def prompt_from_mask(mask: np.ndarray, mask_name: str) -> dict:
    """Frame-0 prompt: tight box (xyxy, exclusive end), an interior point, note."""
    ys, xs = np.nonzero(mask)
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    # The point: the interior pixel farthest from the silhouette edge.
    dist = cv2.distanceTransform((mask > 0).astype(np.uint8), cv2.DIST_L2, 5)
    py, px = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return {
        "frame": 0,
        "box": box,
        "point": [int(px), int(py)],
        "mask": mask_name,
        "note": "teal ceramic cup with a handle, sliding left to right on a gingham table; "
                "box is xyxy in pixels with exclusive end; mask is the exact frame-0 silhouette",
    }


def _write_clip_pyav(path: Path, frames_: Iterable[np.ndarray], fps: int,
                     audio_tone_hz: float | None, audio_rate: int = 48000) -> None:
    """Fallback encoder: H.264 yuv420p + an AAC sine tone, with PyAV."""
    import av

    tmp = path.with_name(path.stem + ".part" + path.suffix)
    n = 0
    with av.open(str(tmp), "w") as out:
        it = iter(frames_)
        first = next(it)
        h, w = first.shape[:2]
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.time_base = Fraction(1, fps)
        vs.options = {"crf": "17", "preset": "slow"}
        as_ = None
        if audio_tone_hz:
            as_ = out.add_stream("aac", rate=audio_rate)
            as_.layout = "stereo"
        for fr in _chain(first, it):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(fr), format="rgb24")
            vf.pts = n
            vf.time_base = Fraction(1, fps)
            out.mux(vs.encode(vf))
            n += 1
        out.mux(vs.encode())
        if as_ is not None:
            total = int(round(n / fps * audio_rate))
            tt = np.arange(total) / audio_rate
            env = np.minimum(1.0, np.minimum(tt / 0.05, (tt[-1] - tt) / 0.2 + 1e-9))
            sig = (0.12 * env * np.sin(2 * np.pi * audio_tone_hz * tt)).astype(np.float32)
            fs = 1024
            for k in range(0, total, fs):
                chunk = sig[k : k + fs]
                af = av.AudioFrame.from_ndarray(np.stack([chunk, chunk]), format="fltp",
                                                layout="stereo")
                af.sample_rate = audio_rate
                af.pts = k
                af.time_base = Fraction(1, audio_rate)
                out.mux(as_.encode(af))
            out.mux(as_.encode())
    tmp.replace(path)


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def write_clip(path: Path, make_frames: Callable[[], Iterable[np.ndarray]], fps: int = FPS,
               audio_tone_hz: float | None = AUDIO_TONE_HZ) -> str:
    """Encode with the package's ``glassvid.io.synth.write_clip`` when available.

    ``make_frames`` returns a fresh frame iterable (called again if the package's
    encoder fails and the PyAV fallback takes over). Returns which encoder was used
    (``"glassvid"`` or ``"pyav"``).
    """
    repo = str(Path(__file__).resolve().parent.parent)
    if repo not in sys.path:
        sys.path.append(repo)  # run from a checkout without an installed package
    try:
        from glassvid.io.synth import write_clip as gv_write_clip
    except ImportError:
        gv_write_clip = None
    if gv_write_clip is not None:
        try:
            gv_write_clip(path, make_frames(), fps, audio_tone_hz=audio_tone_hz)
            return "glassvid"
        except Exception as exc:  # noqa: BLE001 - fall back to the local encoder
            print(f"glassvid.io.synth.write_clip failed ({exc!r}); encoding with PyAV")
    _write_clip_pyav(path, make_frames(), fps, audio_tone_hz)
    return "pyav"


def main(argv: list[str] | None = None) -> None:
    """Command line: render the clip, its frame-0 mask and prompt."""
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=here, help="where to write (default: samples/)")
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="number of frames (60)")
    ap.add_argument("--size", default=f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}",
                    help="WxH, both even (480x272)")
    ap.add_argument("--ss", type=int, default=4, help="supersampling factor (4)")
    ap.add_argument("--name", default="cup", help="base name of the outputs (cup)")
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    if w % 2 or h % 2:
        ap.error("--size must have even width and height (yuv420p)")
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    _, mask0 = render_frame(0.0, (w, h), args.ss)
    mask_name = f"{args.name}.mask.png"
    cv2.imwrite(str(out / mask_name), mask0)
    prompt = prompt_from_mask(mask0, mask_name)
    body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in prompt.items())
    (out / f"{args.name}.prompt.json").write_text("{\n" + body + "\n}\n")
    used = write_clip(out / f"{args.name}.mp4", lambda: frames(args.frames, (w, h), args.ss), FPS)
    print(f"wrote {out / (args.name + '.mp4')} ({args.frames} frames, {w}x{h}, {FPS} fps, "
          f"encoder: {used}), {mask_name}, {args.name}.prompt.json")


if __name__ == "__main__":
    main()
