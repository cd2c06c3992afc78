"""Per-clip state of a run: what was decoded and analysed, read back from the work directory.

Kept apart from the :class:`~glassvid.pipeline.Pipeline` (which holds the models), in
the manner of SAM 2's per-video inference state, so a pass is a function of a clip
and a config: the stage modules read frames, masks, flows and depth through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glassvid.cache import PassStore, WorkDir
from glassvid.io import ClipInfo, read_image
from glassvid.plate import PlateCrop, paste_box


@dataclass
class ClipCache:
    """One clip's cached passes. Frame indices ``i`` are 0-based within ``frames``."""

    info: ClipInfo
    frames: range  # source frame indices covered
    work: WorkDir
    frame_store: PassStore
    analyse_store: PassStore
    plate_store: PassStore
    user_plates: list[Path] | None = None

    @property
    def n(self) -> int:
        return len(self.frames)

    def frame(self, i: int) -> np.ndarray:
        """Decoded frame ``i``: HxWx3 uint8 RGB."""
        return self.frame_store.load_array("rgb", i)

    def mask(self, i: int) -> np.ndarray:
        """Binary object mask of frame ``i``: HxW bool."""
        return self.analyse_store.load_mask("mask", i)

    def flows(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(flow i-1 -> i, flow i -> i-1)`` as HxWx2 float32, for ``i >= 1``."""
        both = self.analyse_store.load_array("flow", i, mmap=True)  # 2xHxWx2 float16: forward, backward
        return both[0].astype(np.float32), both[1].astype(np.float32)

    def flow(self, i: int, j: int) -> np.ndarray:
        """Flow from frame ``i`` to its neighbour ``j = i +- 1``, HxWx2 float16 as stored (reads that direction only)."""
        if abs(i - j) != 1:
            raise ValueError(f"flow({i}, {j}): only neighbouring frames have flow")
        direction, at = (1, i) if j < i else (0, j)
        return np.asarray(self.analyse_store.load_array("flow", at, mmap=True)[direction])

    def depth(self, i: int) -> tuple[np.ndarray, float]:
        """The object's height field (HxW float32 in [0, 1]) and its half-width in pixels."""
        d = self.analyse_store.load_arrays("depth", i)
        height = np.zeros((self.info.height, self.info.width), np.float32)
        x0, y0, x1, y1 = (int(v) for v in d["box"])
        height[y0:y1, x0:x1] = d["height"]
        return height, float(d["radius"])

    def plate_crop(self, i: int) -> PlateCrop | None:
        """The recovered plate of frame ``i`` inside its hole's box (None: no hole)."""
        if not self.plate_store.has("plate", i, "npz"):
            return None
        d = self.plate_store.load_arrays("plate", i)
        conf = d["conf"].astype(np.float32) if "conf" in d else None
        return PlateCrop(box=tuple(int(v) for v in d["box"]), rgb=d["rgb"], age=d["age"], source=d.get("source"), conf=conf)  # type: ignore[arg-type]

    def plate_confidence(self, i: int) -> np.ndarray:
        """HxW float32 in [0, 1]: how sure the plate pass is of each pixel of frame ``i``'s plate.

        1 where the frame shows the background itself (and everywhere for the user's
        plates), lower the longer ago a hidden pixel was seen, 0 where it was invented.
        """
        shape = (self.info.height, self.info.width)
        crop = self.plate_crop(i) if self.user_plates is None else None
        return np.ones(shape, np.float32) if crop is None else crop.confidence(shape)

    def plate(self, i: int, frame: np.ndarray | None = None) -> np.ndarray:
        """Full-frame clean plate of frame ``i`` (the user's, or the recovered one)."""
        if self.user_plates is not None:
            return read_image(self.user_plates[0] if len(self.user_plates) == 1 else self.user_plates[i])
        frame = self.frame(i) if frame is None else frame
        if not self.plate_store.has("plate", i, "npz"):
            return frame
        d = self.plate_store.load_arrays("plate", i, ("box", "rgb"))  # not the provenance: a fifth of the bytes
        return paste_box(frame, tuple(int(v) for v in d["box"]), d["rgb"])  # type: ignore[arg-type]
