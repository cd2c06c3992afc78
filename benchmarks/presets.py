"""Contact sheet of every look preset on the ground-truth scenes (issue 5), so a person can judge.

Each preset renders one frame of each scene with the true matte and plate (so only the
look differs), beside the opaque input and the path-traced glass. Run:
``python benchmarks/presets.py`` -> ``benchmarks/sheets/presets.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "gt"
sys.path.insert(0, str(ROOT))

from glassvid.config import list_presets, load_config  # noqa: E402
from glassvid.depth.silhouette import inflate  # noqa: E402
from glassvid.io import read_image, write_image  # noqa: E402
from glassvid.masks.matte import feather  # noqa: E402
from glassvid.render import render_glass  # noqa: E402

FRAME = 24
LABEL_HEIGHT = 18


def label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` with a dark caption strip above it."""
    strip = np.full((LABEL_HEIGHT, image.shape[1], 3), 24, np.uint8)
    cv2.putText(strip, text, (4, LABEL_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], 0)


def crop_around(mask: np.ndarray, margin: int = 24) -> tuple[slice, slice]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    return slice(max(0, ys.min() - margin), min(h, ys.max() + margin)), slice(max(0, xs.min() - margin), min(w, xs.max() + margin))


def scene_row(scene: Path, presets: list[str]) -> np.ndarray:
    frame = read_image(scene / "input" / f"{FRAME:05d}.png")
    plate = read_image(scene / "plate" / f"{FRAME:05d}.png")
    mask = read_image(scene / "mask" / f"{FRAME:05d}.png", mode="gray") > 127
    glass = read_image(scene / "glass" / f"{FRAME:05d}.png")
    height, radius = inflate(mask)
    cfg0 = load_config()
    matte = feather(mask, cfg0.masks.feather_px + cfg0.glass.edge_px)
    ys, xs = crop_around(mask)
    tiles = [label(frame[ys, xs], "input"), label(glass[ys, xs], "path-traced glass")]
    for name in ["(default)"] + presets:
        cfg = load_config(None if name == "(default)" else name).glass
        out, _ = render_glass(frame, plate, matte, height, radius, cfg)
        tiles.append(label(out[ys, xs], name))
    return np.concatenate(tiles, 1)


def main(out: Path | None = None) -> None:
    """Write the sheet to ``out`` (default ``benchmarks/sheets/presets.png``)."""
    presets = list(list_presets())
    rows = [scene_row(scene, presets) for scene in sorted(p for p in DATA.iterdir() if (p / "glass").is_dir())]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows]
    sheet = np.concatenate(rows, 0)
    out = out or ROOT / "benchmarks" / "sheets" / "presets.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(out, sheet)
    print(f"wrote {out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
