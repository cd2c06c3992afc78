"""Pure optics on per-pixel vector fields (numpy, float32).

Convention: camera at the origin looking down +z; screen x right, y down, in pixels.
Vector fields are *planar*: shape ``(3, H, W)`` holding the x, y and z planes, which
keeps every dot product a few contiguous multiply-adds (an ``HxWx3`` layout spends
most of its time in strided reductions). A surface normal passed to :func:`refract`
faces against the incoming ray (``dot(n, d) < 0``).
"""

from __future__ import annotations

import cv2
import numpy as np

LINEAR_LUT = np.array(
    [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in np.arange(256) / 255.0], dtype=np.float32
)
SRGB_LUT_SIZE = 4096
SRGB_LUT = np.array(
    [
        np.clip(round(255.0 * (12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055)), 0, 255)
        for v in np.arange(SRGB_LUT_SIZE) / (SRGB_LUT_SIZE - 1)
    ],
    dtype=np.uint8,
)
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 luminance of linear RGB


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 linear light in [0, 1] (IEC 61966-2-1), via a table."""
    if rgb.ndim == 3 and rgb.shape[2] <= 4 or rgb.ndim == 2:
        # a crop is copied first: cv2.LUT on it is 5x faster than numpy's gather on the view (same table)
        return cv2.LUT(np.ascontiguousarray(rgb), LINEAR_LUT)
    return LINEAR_LUT[rgb]


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """float32 linear light (clipped to [0, 1]) -> uint8 sRGB, via a 4096-entry table."""
    idx = lin * (SRGB_LUT_SIZE - 1)
    idx += 0.5
    np.clip(idx, 0, SRGB_LUT_SIZE - 1, out=idx)  # in place: one temporary, not three
    return np.take(SRGB_LUT, idx.astype(np.uint16))


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel dot product of two planar fields: ``(3, H, W) x (3, H, W) -> (H, W)``."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def normalize(v: np.ndarray) -> np.ndarray:
    """Unit vectors of a planar field (zero vectors stay zero)."""
    n = np.sqrt(dot(v, v))
    return v / np.maximum(n, 1e-12)


def view_rays(shape: tuple[int, int]) -> np.ndarray:
    """The viewing direction (0, 0, 1) at every pixel (orthographic: objects are small in the frame)."""
    d = np.zeros((3,) + shape, np.float32)
    d[2] = 1.0
    return d


def height_normals(height_px: np.ndarray, *, facing: float = -1.0, at: np.ndarray | None = None) -> np.ndarray:
    """Outward unit normals of a surface at depth ``z0 + facing * height`` (HxW, pixels): 3xHxW.

    ``facing=-1``: the front surface bulging toward the camera (normals have z < 0);
    ``facing=+1``: the mirrored back surface (normals have z > 0). ``at``: flat pixel
    indices where only the normals are wanted (3xN), for a sparse object in a big box.
    """
    h = height_px.astype(np.float32)
    gx = cv2.Sobel(h, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(h, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    if at is not None:
        gx, gy = np.take(gx, at), np.take(gy, at)
    return normalize(np.stack([-gx, -gy, np.full_like(gx, facing)]))


def refract(d: np.ndarray, n: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Snell's law: direction of ``d`` after crossing a surface with normal ``n`` (facing ``-d``).

    ``eta`` = n_from / n_to. Returns ``(t, tir)``: the unit refracted directions and an HxW
    bool mask of total internal reflection (where ``t`` is the mirror reflection instead).
    """
    cosi = -dot(d, n)
    k = 1.0 - eta * eta * (1.0 - cosi * cosi)
    tir = k < 0
    t = eta * d + (eta * cosi - np.sqrt(np.maximum(k, 0.0))) * n
    if tir.any():
        t = np.where(tir, d + 2.0 * cosi * n, t)
    return normalize(t), tir


def reflect(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mirror direction of ``d`` about ``n``."""
    return d - 2.0 * dot(d, n) * n


def schlick(cos_theta: np.ndarray, ior: float) -> np.ndarray:
    """Schlick's approximation of Fresnel reflectance for an air/dielectric interface."""
    f0 = ((ior - 1.0) / (ior + 1.0)) ** 2
    c = np.clip(cos_theta, 0.0, 1.0)
    return f0 + (1.0 - f0) * (1.0 - c) ** 5
