"""Pure optics on per-pixel vector fields (numpy, float32).

Convention: camera at the origin looking down +z; screen x right, y down, in pixels.
Vector fields are *planar*: shape ``(3, H, W)`` holding the x, y and z planes, which
keeps every dot product a few contiguous multiply-adds (an ``HxWx3`` layout spends
most of its time in strided reductions). Surface normals face against the incoming
ray (``dot(n, d) < 0``). Refraction itself is traced per pixel in compiled code
(:func:`glassvid.render.kernels.trace_rays`).
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


def view_rays(shape: tuple[int, int]) -> np.ndarray:
    """The viewing direction (0, 0, 1) at every pixel (orthographic: objects are small in the frame)."""
    d = np.zeros((3,) + shape, np.float32)
    d[2] = 1.0
    return d


def reflect(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Mirror direction of ``d`` about ``n``."""
    return d - 2.0 * dot(d, n) * n


def schlick(cos_theta: np.ndarray, ior: float) -> np.ndarray:
    """Schlick's approximation of Fresnel reflectance for an air/dielectric interface."""
    f0 = ((ior - 1.0) / (ior + 1.0)) ** 2
    c = np.clip(cos_theta, 0.0, 1.0)
    return f0 + (1.0 - f0) * (1.0 - c) ** 5
