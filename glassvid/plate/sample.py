"""Sampling colours from the frames where the background was seen.

The sweeps say, per hidden pixel, which frame showed its background and where
(:class:`~glassvid.plate.propagate.Sightings`); this reads those frames back from the
work directory (memory-mapped, so only the rows needed are read) and samples each
position once, bilinearly. Memory: at most ``cache_size`` open memory maps.
"""

from __future__ import annotations

import io
import math
import mmap
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from glassvid.errors import CacheError
from glassvid.flow.ops import sample_points



class NpyFrames:
    """Frame ``k`` (the ``.npy`` file at ``path(k)``), memory-mapped read-only.

    ``np.load(mmap_mode="r")`` parses every file's header with ``ast`` and resolves its
    path: 0.2 ms a frame, more than sampling a few hundred pixels from it, and the plate
    pass opens a frame for every frame it fills a pixel from (tens per frame where the
    camera is still). The frames of a clip share one header, so it is parsed once per
    distinct header and the file mapped directly.
    """

    def __init__(self, path: Callable[[int], Path]) -> None:
        self.path = path
        self._layouts: dict[bytes, tuple[tuple[int, ...], np.dtype, int]] = {}

    def __call__(self, k: int) -> np.ndarray:
        with open(self.path(k), "rb") as f:
            lead = f.read(8)  # magic string (6 bytes) and format version (2)
            size = f.read(2 if lead[6:7] == b"\x01" else 4)  # the header's length, little-endian
            head = lead + size + f.read(int.from_bytes(size, "little"))
            layout = self._layouts.get(head)
            if layout is None:
                layout = self._layouts[head] = _layout(head, f.name)
            shape, dtype, offset = layout
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return np.frombuffer(data, dtype, count=math.prod(shape), offset=offset).reshape(shape)


def _layout(head: bytes, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, data offset)`` of the ``.npy`` file ``name`` from its first bytes."""
    f = io.BytesIO(head)
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    if fortran or dtype.hasobject:
        raise CacheError(f"cached frame '{name}' is not a C-ordered array of plain values (glassvid.cache saves frames so); delete the work directory and run again")
    return tuple(shape), dtype, len(head)


class FrameSampler:
    """Bilinear samples of frames by index.

    ``load(k)`` returns frame ``k`` (HxWxC, may be a memmap), or ``(image, x0, y0)`` for an
    image that covers only a box of the frame starting at ``(x0, y0)`` (the keyframes'
    invented crops); positions are always in full-frame pixels.
    """

    def __init__(self, load: Callable[[int], Any], *, cache_size: int = 64) -> None:
        self.load = load
        self.cache_size = cache_size
        self._cache: OrderedDict[int, tuple[np.ndarray, int, int]] = OrderedDict()
        self.frames_read = 0

    def _get(self, k: int) -> tuple[np.ndarray, int, int]:
        img = self._cache.get(k)
        if img is None:
            got = self.load(k)
            img = got if isinstance(got, tuple) else (got, 0, 0)
            self.frames_read += 1
            self._cache[k] = img
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(k)
        return img

    def image(self, k: int) -> np.ndarray:
        """The image ``load(k)`` gives (kept open like those sampled)."""
        return self._get(k)[0]

    def sample(self, src: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Colours at ``(x, y)`` of frame ``src`` for every element with ``src >= 0``.

        ``src`` int array (any shape), ``x``/``y`` float32 of the same shape in the source
        frame's pixels. Returns float32 of shape ``src.shape + (C,)``; 0 where ``src < 0``.
        Positions outside the frame take the nearest border pixel.
        """
        flat_src = src.ravel()
        out: np.ndarray | None = None
        valid = np.flatnonzero(flat_src >= 0)
        if len(valid):
            # grouped by frame: each group's positions are one slice of the sorted lists
            order = valid[np.argsort(flat_src[valid], kind="stable")]
            keys = flat_src[order]
            fx, fy = x.ravel()[order].astype(np.float32), y.ravel()[order].astype(np.float32)
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
            ends = np.r_[starts[1:], len(order)]
            # the frames already open first: a scan over more frames than the cache holds,
            # in the same order each call, would evict every frame just before its next use
            groups = sorted(zip(starts, ends), key=lambda g: int(keys[g[0]]) not in self._cache)
            vals: np.ndarray | None = None
            for s, e in groups:
                img, x0, y0 = self._get(int(keys[s]))
                if vals is None:
                    vals = np.empty((len(order), img.shape[2] if img.ndim == 3 else 1), np.float32)
                vals[s:e] = sample_points(img, fx[s:e] - x0, fy[s:e] - y0).reshape(e - s, -1)
            if vals is not None:
                out = np.zeros((flat_src.size, vals.shape[1]), np.float32)
                out[order] = vals
        if out is None:
            out = np.zeros((flat_src.size, 3), np.float32)
        return out.reshape(src.shape + (out.shape[1],))
