"""Render-pass speed (issue 5): the glass render and the temporal stage per frame at 854x480.

A real 854x480 clip is analysed once with its true masks as mattes (so only the
rendering is timed), then ``render_clip`` runs over the cached clip with and without
the temporal stage; the glass render alone is timed on one frame. Frames/s are
wall-clock bests of a few repeats (the machine is shared), CPU time is given too.
Run alone: ``python benchmarks/render.py``; in ``run.py`` as the ``render`` section.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from common import DATA, WORK, claim_work, md_table  # noqa: E402

from glassvid.config import load_config  # noqa: E402
from glassvid.pipeline import Pipeline  # noqa: E402
from glassvid.render.glass import render_glass  # noqa: E402
from glassvid.render.sequence import render_clip  # noqa: E402
from glassvid.masks.matte import feather  # noqa: E402

CLIPS = (("sam2_coffee-mug", "masks_pseudo"), ("davis_blackswan", "masks"))
FRAMES = 24  # frames of render_clip timed per clip
REPEATS = 3


def _time_render_clip(clip: Any, config: Any, frames: int) -> tuple[float, float]:
    """Best wall seconds per frame over REPEATS, and CPU seconds per frame of the best."""
    best = (float("inf"), 0.0)
    for _ in range(REPEATS):
        w0, c0 = time.perf_counter(), time.process_time()
        n = 0
        for _i, _out, _layer in render_clip(clip, config):
            n += 1
            if n >= frames:
                break
        wall, cpu = (time.perf_counter() - w0) / n, (time.process_time() - c0) / n
        if wall < best[0]:
            best = (wall, cpu)
    return best


def _time_glass(clip: Any, config: Any) -> float:
    i = clip.n // 2
    frame, plate = clip.frame(i), clip.plate(i)
    matte = feather(clip.mask(i), config.masks.feather_px + config.glass.edge_px)
    height, radius = clip.depth(i)
    best = float("inf")
    for _ in range(REPEATS * 3):
        t = time.perf_counter()
        render_glass(frame, plate, matte, height, radius, config.glass)
        best = min(best, time.perf_counter() - t)
    return best


def section(ctx: Any = None) -> str:
    data = Path(getattr(ctx, "data", DATA))
    work = Path(getattr(ctx, "work", None) or claim_work(WORK)) / "render"
    rows = []
    for name, masks in CLIPS:
        folder = data / "real" / name
        if not (folder / "frames").is_dir():
            continue
        on = load_config()
        off = load_config(sets=["temporal.strength=0"])
        clip = Pipeline(on, work_dir=work).analyse(folder / "frames", matte=folder / masks)
        glass_s = _time_glass(clip, on)
        wall_off, cpu_off = _time_render_clip(clip, off, FRAMES)
        wall_on, cpu_on = _time_render_clip(clip, on, FRAMES)
        area = float(clip.mask(clip.n // 2).mean())
        rows.append([name, f"{clip.info.width}x{clip.info.height}", f"{100 * area:.1f} %", f"{1 / glass_s:.0f}", f"{1 / wall_off:.1f} ({1000 * cpu_off:.0f} ms CPU)", f"{1 / wall_on:.1f} ({1000 * cpu_on:.0f} ms CPU)"])
    table = md_table(["clip", "size", "object area", "glass render alone, frames/s", "render pass without temporal, frames/s", "render pass with temporal, frames/s"], rows)
    return "\n".join([
        "## Render speed (issue 5)",
        "",
        "The render pass over a cached clip (true masks as mattes): per frame it loads the frame, mask, shape and plate, renders the glass and (second column) the temporal stage; encoding is not included. "
        "The glass render alone is timed on the middle frame. Wall-clock bests of a few repeats on the shared 2-core machine; CPU time (all threads) beside.",
        "",
        table,
        "",
    ])


if __name__ == "__main__":
    print(section())
