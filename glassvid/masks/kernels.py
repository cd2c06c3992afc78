"""Compiled loops of the classic mask backend (numba).

Re-detection (:meth:`glassvid.masks.classic.ClassicMasks._find`) scores thousands of
placements of the prompt object, each on a few hundred colour samples: as numpy passes
that was a dozen (placements x samples) arrays per call, written and read back; here one
loop reads each sample once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True, fastmath=False)  # cached on disk: compiled once per machine, not per run


@njit(**_JIT)
def match_scores(places: np.ndarray, dx: np.ndarray, dy: np.ndarray, base: np.ndarray, codes: np.ndarray, obj_log: np.ndarray, frame_log: np.ndarray, cx: float, cy: float, clip: float, visible: float) -> np.ndarray:
    """Per placement (M x 3 float64: scale, x, y): the clipped log ratio ``obj_log[base + colour] - frame_log[colour]``
    averaged over the samples that land in the frame, times their share over ``visible`` (capped at 1).

    Sample ``k`` of placement ``(s, ox, oy)`` reads ``codes`` (HxW int32) at
    ``round(cx + s * dx[k] + ox), round(cy + s * dy[k] + oy)`` (half to even, as ``np.round``).
    """
    h, w = codes.shape
    m, k = places.shape[0], dx.shape[0]
    out = np.zeros(m, np.float64)
    for i in range(m):
        s, ox, oy = places[i, 0], places[i, 1], places[i, 2]
        total = 0.0
        seen = 0
        for j in range(k):
            x = int(np.rint(cx + s * dx[j] + ox))
            y = int(np.rint(cy + s * dy[j] + oy))
            if x < 0 or x >= w or y < 0 or y >= h:
                continue
            col = codes[y, x]
            lr = obj_log[base[j] + col] - frame_log[col]
            total += min(clip, max(-clip, lr))
            seen += 1
        if seen:
            out[i] = total / seen * min(1.0, seen / (visible * k))
    return out
