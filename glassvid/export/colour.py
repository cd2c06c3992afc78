"""sRGB <-> scene-linear, exactly, in floating point.

glassvid's frames are 8-bit sRGB (IEC 61966-2-1: Rec.709 primaries, D65 white, the
piecewise sRGB transfer curve). Light is added, blended and refracted in *linear* light,
and every file that claims "scene-linear" (EXR) holds linear values with Rec.709/sRGB
primaries (the EXR ``chromaticities`` attribute says so). The curve::

    linear = c / 12.92                      if c <= 0.04045
             ((c + 0.055) / 1.055) ** 2.4   otherwise
    c      = 12.92 * linear                 if linear <= 0.0031308
             1.055 * linear ** (1/2.4) - 0.055

Alpha and data (offsets, normals, STMaps, depth, coverage) are never passed through
the curve. :mod:`glassvid.render.optics` holds the same curve as 8-bit lookup tables for
the renderer; these float versions serve encoders of 16-bit files and the AR compositor,
which must match the preview shader's arithmetic (the shader uses this exact formula).
"""

from __future__ import annotations

import numpy as np

#: CIE xy of the red, green, blue primaries and the white point of sRGB / Rec.709 (D65).
REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


def srgb_decode(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0, 1] (float) -> linear light (float32)."""
    c = np.asarray(c, np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def srgb_encode(lin: np.ndarray) -> np.ndarray:
    """Linear light (float, clipped to [0, 1]) -> sRGB-encoded values in [0, 1] (float32)."""
    v = np.clip(np.asarray(lin, np.float32), 0.0, 1.0)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.maximum(v, 0.0031308) ** (1 / 2.4) - 0.055).astype(np.float32)


def quantize(x: np.ndarray, bits: int = 8) -> np.ndarray:
    """Values in [0, 1] -> uint8 (``bits=8``) or uint16 (``bits=16``), rounded to nearest."""
    top = (1 << bits) - 1
    q = np.rint(np.clip(np.asarray(x, np.float32), 0.0, 1.0) * top)
    return q.astype(np.uint8 if bits == 8 else np.uint16)
