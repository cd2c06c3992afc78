"""Make ``docs/before-after.png`` (the README's picture) from the sample clip.

Converts ``samples/cup.mp4`` exactly as the README's first command does and puts frame 30
of the input and of the output side by side, labelled. Run from anywhere::

    python docs/make_before_after.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

from glassvid import convert
from glassvid.io import read_frames, write_image
from glassvid.prompts import load_prompt_file

ROOT = Path(__file__).resolve().parents[1]
FRAME = 30


def _labelled(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.putText(out, text, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4, cv2.LINE_AA)
    cv2.putText(out, text, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    clip = ROOT / "samples" / "cup.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cup-glass.mp4"
        convert(clip, out, prompt=load_prompt_file(ROOT / "samples" / "cup.prompt.json"), preset="hollow-cup", work_dir=Path(tmp) / "work")
        before = next(f.rgb for i, f in enumerate(read_frames(clip)) if i == FRAME)
        after = next(f.rgb for i, f in enumerate(read_frames(out)) if i == FRAME)
    gap = np.full((before.shape[0], 6, 3), 255, np.uint8)
    sheet = np.concatenate([_labelled(before, "input"), gap, _labelled(after, "glassvid (hollow-cup)")], axis=1)
    write_image(ROOT / "docs" / "before-after.png", sheet)
    print(f"wrote {ROOT / 'docs' / 'before-after.png'}")


if __name__ == "__main__":
    main()
