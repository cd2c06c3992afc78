"""glassvid's own compositor of an AR pack: the preview shader's arithmetic in numpy.

``composite_frame(pack, k, background)`` gives the frame the preview page draws for
frame ``k`` over ``background`` (see :mod:`glassvid.export.ar` for the formula). It exists
to check the page (the browser test compares the canvas with it) and to render a pack
offline. Like the shader it filters the 8-bit, sRGB-encoded background bilinearly
*before* decoding it (as a GPU samples an 8-bit texture), clamps samples at the
background's edges, and rounds the sRGB result to 8 bits.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from glassvid.errors import InputError
from glassvid.export.ar import MANIFEST_FORMAT, OFFSET_STEPS, OFFSET_ZERO, read_image_any
from glassvid.export.colour import quantize, srgb_decode, srgb_encode
from glassvid.io import read_image


@dataclass
class Pack:
    """An AR pack on disk and its manifest."""

    root: Path
    manifest: dict[str, Any]

    @property
    def frame_count(self) -> int:
        return int(self.manifest["frame_count"])

    def layer(self, name: str, k: int) -> np.ndarray:
        """Frame ``k`` of layer ``name`` as stored: HxWx4 (glass) or HxWx3 uint8."""
        if not 0 <= k < self.frame_count:
            raise InputError(f"frame {k} is not in the pack, which has frames 0-{self.frame_count - 1}")
        return read_image_any(self.root / (self.manifest["layers"][name]["frames"] % k))

    def background(self) -> np.ndarray:
        return read_image(self.root / self.manifest["background"])


def load_pack(path: str | os.PathLike) -> Pack:
    root = Path(path)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"'{root}' is not an AR pack (cannot read manifest.json: {exc}); give the folder `glassvid export-ar` wrote") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise InputError(f"'{root}/manifest.json' is not a glassvid AR pack manifest; give the folder `glassvid export-ar` wrote")
    return Pack(root, manifest)


def bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` (HxWxC float) at pixel coordinates ``x``, ``y`` (pixel
    centres at integers), clamped to the edge: a GPU's LINEAR + CLAMP_TO_EDGE, in float64
    (OpenCV's remap rounds the weights to 1/32)."""
    h, w = image.shape[:2]
    x = np.clip(x, 0.0, w - 1.0)
    y = np.clip(y, 0.0, h - 1.0)
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def composite_frame(pack: Pack | str | os.PathLike, k: int, background: np.ndarray | None = None) -> np.ndarray:
    """Frame ``k`` of ``pack`` over ``background`` (HxWx3 uint8 sRGB RGB; default: the
    pack's ``background.png``; resized to the pack's ``frame_size`` if it differs).
    Returns HxWx3 uint8 sRGB at ``frame_size``."""
    if not isinstance(pack, Pack):
        pack = load_pack(pack)
    m = pack.manifest
    fw, fh = m["frame_size"]
    bg8 = pack.background() if background is None else background
    if bg8.shape[:2] != (fh, fw):
        bg8 = cv2.resize(bg8, (fw, fh), interpolation=cv2.INTER_LINEAR)
    bg = bg8.astype(np.float64) / 255.0  # sRGB-encoded, as the texture holds it
    out = srgb_decode(bg).astype(np.float64)
    crop = m["crop"]
    x0, y0, w, h = crop["x"], crop["y"], crop["width"], crop["height"]
    glass = pack.layer("glass", k).astype(np.float64) / 255.0
    refr = pack.layer("refraction", k).astype(np.float64)
    C = srgb_decode(glass[..., :3]).astype(np.float64)
    A = glass[..., 3:4]
    c = refr[..., 2:3] / 255.0
    d = (refr[..., :2] - OFFSET_ZERO) / OFFSET_STEPS * m["layers"]["refraction"]["offset_range"]
    ys, xs = np.mgrid[y0 : y0 + h, x0 : x0 + w].astype(np.float64)
    seen = srgb_decode(bilinear(bg, xs + d[..., 0] * w, ys + d[..., 1] * h)).astype(np.float64)
    tint = np.asarray(m["tint"], np.float64)
    here = out[y0 : y0 + h, x0 : x0 + w]
    out[y0 : y0 + h, x0 : x0 + w] = C + (1.0 - c) * here + np.maximum(c - A, 0.0) * tint * seen
    return quantize(srgb_encode(np.clip(out, 0.0, 1.0)))
