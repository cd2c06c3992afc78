"""Segmentation prompts: what the user says the object is, on one frame or several.

Several prompts (on different frames) correct drift: masks are propagated outwards
from the earliest prompt frame, and each later prompt replaces the propagated mask
from its frame on ("later prompts win").

Convention: pixel coordinates, x right, y down, origin at the top-left pixel's corner.
Boxes are XYXY with an exclusive end (``x1 = x0 + width``). Points are ``(x, y, label)``
with label 1 = on the object, 0 = on the background. Masks are HxW bool, True = object.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glassvid.errors import PromptError


@dataclass(frozen=True)
class Prompt:
    """A box, points and/or a mask on frame ``frame`` (0-based index in the clip)."""

    frame: int = 0
    box: tuple[float, float, float, float] | None = None
    points: tuple[tuple[float, float, int], ...] = field(default_factory=tuple)
    mask: np.ndarray | None = None

    def is_empty(self) -> bool:
        return self.box is None and not self.points and self.mask is None

    def validate(self, width: int, height: int, frame_count: int) -> None:
        """Raise :class:`PromptError` if the prompt cannot apply to a clip of this size."""
        if self.is_empty():
            raise PromptError("no prompt given: say which object to turn into glass with --box X0,Y0,X1,Y1, --point X,Y or --mask PNG (or give --matte DIR)")
        if not (0 <= self.frame < frame_count):
            raise PromptError(f"--prompt-frame {self.frame} does not exist: the clip has {frame_count} frames (0-{frame_count - 1}); pick a frame in that range")
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            if x1 <= x0 or y1 <= y0:
                raise PromptError(f"--box {_fmt(self.box)} has zero area: expected X0,Y0,X1,Y1 with X1 > X0 and Y1 > Y0 (pixels, exclusive end)")
            if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
                raise PromptError(f"--box {_fmt(self.box)} lies outside the {width}x{height} frame; give pixel coordinates inside it")
        for x, y, _ in self.points:
            if not (0 <= x < width and 0 <= y < height):
                raise PromptError(f"--point {_fmt((x, y))} lies outside the {width}x{height} frame; give x in 0..{width - 1} and y in 0..{height - 1}")
        if self.points and not any(label == 1 for _, _, label in self.points) and self.box is None and self.mask is None:
            raise PromptError("only background points were given; add at least one --point on the object (or a --box)")
        if self.mask is not None:
            if self.mask.shape[:2] != (height, width):
                mh, mw = self.mask.shape[:2]
                raise PromptError(f"--mask is {mw}x{mh} but the clip is {width}x{height}; give a mask of the clip's size")
            if not self.mask.any():
                raise PromptError("--mask is empty (no object pixels); paint the object white (255) on black")

    def clipped_box(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The box as integers clipped to the frame, or None."""
        if self.box is None:
            return None
        x0, y0, x1, y1 = self.box
        return (max(0, int(round(x0))), max(0, int(round(y0))), min(width, int(round(x1))), min(height, int(round(y1))))


def _fmt(values: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in values)


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"X0,Y0,X1,Y1"`` -> floats."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise PromptError(f"--box expects X0,Y0,X1,Y1 (four numbers, pixels), got '{text}'")
    return values  # type: ignore[return-value]


def parse_point(text: str, label: int = 1) -> tuple[float, float, int]:
    """``"X,Y"`` -> ``(x, y, label)``."""
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2:
        raise PromptError(f"--point expects X,Y (two numbers, pixels), got '{text}'")
    return (values[0], values[1], label)


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask image: any non-zero pixel (in the alpha channel if it has one) is the object."""
    from glassvid.io import read_image
    from glassvid.errors import DecodeError

    try:
        gray = read_image(path, mode="gray")
    except DecodeError as exc:
        raise PromptError(f"--mask: {exc}") from None
    return gray > 127


def as_prompts(prompt: Prompt | Sequence[Prompt] | None) -> tuple[Prompt, ...]:
    """One prompt or several as a tuple sorted by frame; two prompts on one frame are an error."""
    if prompt is None:
        return ()
    prompts = (prompt,) if isinstance(prompt, Prompt) else tuple(prompt)
    prompts = tuple(sorted(prompts, key=lambda p: p.frame))
    frames = [p.frame for p in prompts]
    for a, b in zip(frames, frames[1:]):
        if a == b:
            raise PromptError(f"two prompts are given on frame {a}; merge them into one (a box, points and a mask may go together)")
    return prompts


def load_prompt_file(path: str | os.PathLike) -> Prompt | tuple[Prompt, ...]:
    """Read a prompt JSON: one object ``{"frame": 0, "box": [..], "point": [x, y],
    "points": [[x, y, label], ..], "mask": "file.png"}`` (mask paths relative to the file),
    or a list of such objects on different frames (or ``{"prompts": [...]}``)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise PromptError(f"cannot read prompt file '{p}': {exc}; give a JSON file with frame/box/points/mask") from None
    if isinstance(data, dict) and "prompts" in data:
        data = data["prompts"]
    if isinstance(data, list):
        if not data or not all(isinstance(d, dict) for d in data):
            raise PromptError(f"prompt file '{p}' holds a list that is empty or not of objects; give objects with frame/box/points/mask")
        return as_prompts([_prompt_from_json(d, p) for d in data])
    if not isinstance(data, dict):
        raise PromptError(f"prompt file '{p}' holds neither an object nor a list of objects; give frame/box/points/mask")
    return _prompt_from_json(data, p)


def _prompt_from_json(data: dict, p: Path) -> Prompt:
    try:
        return _parse_prompt_json(data, p)
    except (TypeError, ValueError, IndexError) as exc:
        raise PromptError(f"prompt file '{p}': a prompt is malformed ({exc}); frame is an integer, box four numbers, points [x, y] or [x, y, label]") from None


def _parse_prompt_json(data: dict, p: Path) -> Prompt:
    points: list[tuple[float, float, int]] = []
    if "point" in data:
        points.append((float(data["point"][0]), float(data["point"][1]), int(data.get("point_label", 1))))
    for pt in data.get("points", []):
        points.append((float(pt[0]), float(pt[1]), int(pt[2]) if len(pt) > 2 else 1))
    mask = load_mask(p.parent / data["mask"]) if data.get("mask") else None
    box = tuple(float(v) for v in data["box"]) if data.get("box") else None
    return Prompt(frame=int(data.get("frame", data.get("frame_index", 0))), box=box, points=tuple(points), mask=mask)  # type: ignore[arg-type]
