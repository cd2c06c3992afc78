"""Benchmark of the classic mask backend (issue 4): J, F, J&F per clip and frames/s.

Runs the mask propagator over every clip of ``../shared/data/real/`` that has masks,
prompted (a) by the first frame's ground-truth mask and (b) by the box of its
``prompt.json`` (inclusive pixels there, made exclusive here), and over the rendered
scenes of ``../shared/data/gt/`` from their first mask. Scores are DAVIS's region
similarity J (:func:`glassvid.metrics.iou`) and contour accuracy F
(:func:`glassvid.metrics.boundary_f`), each the mean over the frames after the prompt
frame. A clip with only ``masks_pseudo/`` (colour-threshold masks, not human ground
truth) is scored but kept out of the means.

Flows are computed as the pipeline does: DIS with the default config's preset, stored as
float16, both directions, the forward-backward check of :mod:`glassvid.flow.ops`.
``--cache DIR`` keeps them between runs.

A single start is chaotic: a one-pixel change of a first mask can move a clip's J&F by
0.05 when it decides whether a re-detection fires twenty frames later. ``--starts`` adds
a steadier check (:func:`multi_start`): each clip propagated from the ground-truth mask
of a start every ``MULTI_STEP`` frames, forward to the end and backward to the start
(runs of at least ``MULTI_MIN_FRAMES`` frames), J&F averaged over the runs. With the flows
cached it adds about a third to the benchmark's time.

Usage::

    python benchmarks/masks.py --out RESULTS-masks.md [--cache /tmp/gvflow] [--set masks.KEY=VALUE ...] [--starts]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glassvid.config import MaskConfig, load_config  # noqa: E402
from glassvid.flow import build_flow  # noqa: E402
from glassvid.flow.ops import chain, checked_step, fb_consistency  # noqa: E402
from glassvid.masks import build_masks  # noqa: E402
from glassvid.masks.background import NeighbourFrames, background_view  # noqa: E402
from glassvid.masks.propagate import propagate  # noqa: E402
from glassvid.metrics import boundary_f, iou  # noqa: E402
from glassvid.pipeline import PROMPT_MOTION_FRAMES  # noqa: E402
from glassvid.prompts import Prompt  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
REAL_CLIPS = ("davis_blackswan", "davis_bmx-trees", "dogs-jump", "schoolgirls", "tennis")
FPS_SIZE = (854, 480)  # frames/s are reported on the clips of this size
FLOW = load_config().flow  # the pipeline's default flow (DIS, its default preset)
MULTI_STEP = 20  # multi-start check: a run starts every this many frames, each way ...
MULTI_MIN_FRAMES = 25  # ... when at least this many frames lie ahead of it


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray]  # RGB uint8
    masks: list[np.ndarray]  # bool
    box: tuple[float, float, float, float] | None = None  # exclusive XYXY
    pseudo: bool = False  # masks are not human ground truth


@dataclass
class Score:
    clip: str
    prompt: str
    j: float
    f: float
    frames: int
    mask_s: float  # seconds spent in the mask steps
    init_s: float = 0.0
    min_j: float = 0.0
    size: tuple[int, int] = (0, 0)
    per_frame_j: list[float] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)

    @property
    def jf(self) -> float:
        return 0.5 * (self.j + self.f)

    @property
    def fps(self) -> float:
        return (self.frames - 1) / self.mask_s if self.mask_s > 0 else float("inf")


def _read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(path)
    return np.ascontiguousarray(img[..., ::-1])


def load_real(folder: Path) -> Clip | None:
    """A clip of ``data/real``: frames, masks (or pseudo masks) and the prompt box; None without masks."""
    mask_dir = folder / "masks"
    pseudo = False
    if not mask_dir.is_dir():
        mask_dir = folder / "masks_pseudo"
        pseudo = True
    if not mask_dir.is_dir():
        return None
    names = sorted(p.name for p in (folder / "frames").iterdir())
    frames = [_read_rgb(folder / "frames" / n) for n in names]
    masks = [cv2.imread(str(mask_dir / (Path(n).stem + ".png")), cv2.IMREAD_GRAYSCALE) > 127 for n in names]
    box = None
    prompt_file = folder / "prompt.json"
    if prompt_file.is_file():
        data = json.loads(prompt_file.read_text())
        if "bbox" in data:
            x0, y0, x1, y1 = data["bbox"]
            box = (float(x0), float(y0), float(x1 + 1), float(y1 + 1))  # inclusive -> exclusive
    return Clip(folder.name, frames, masks, box, pseudo)


def load_gt_scene(folder: Path) -> Clip:
    """A rendered scene of ``data/gt``: ``input/`` frames and ``mask/`` masks."""
    names = sorted(p.name for p in (folder / "input").glob("*.png"))
    frames = [_read_rgb(folder / "input" / n) for n in names]
    masks = [cv2.imread(str(folder / "mask" / n), cv2.IMREAD_GRAYSCALE) > 127 for n in names]
    return Clip(folder.name, frames, masks)


class Flows:
    """Flow frame i -> i-1 (float32, through float16 as the pipeline stores it) and its forward-backward check."""

    def __init__(self, clip: Clip, cache: Path | None) -> None:
        self.clip = clip
        self.dir = cache / f"{clip.name}_{clip.frames[0].shape[1]}x{clip.frames[0].shape[0]}_{len(clip.frames)}_{FLOW.preset}" if cache else None
        self._dis = build_flow(FLOW)
        self._mem: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def pair(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(flow i -> i-1, flow i-1 -> i) as float16, as the pipeline caches them."""
        if self.dir is not None:
            p = self.dir / f"{i:05d}.npy"
            if p.is_file():
                both = np.load(p)
                return both[0], both[1]
        prev, cur = self.clip.frames[i - 1], self.clip.frames[i]
        fwd = self._dis(prev, cur).astype(np.float16)
        bwd = self._dis(cur, prev).astype(np.float16)
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            np.save(self.dir / f"{i:05d}.npy", np.stack([bwd, fwd]))
        return bwd, fwd

    def to(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(flow i -> j float32, valid HxW bool) for neighbours ``j = i +- 1``, exactly as the pipeline passes them."""
        if (i, j) not in self._mem:
            bwd, fwd = self.pair(max(i, j))  # (later -> earlier, earlier -> later)
            self._mem = {(i, j): checked_step(i, j, fwd, bwd)}  # keep one: memory must not grow with the clip
        return self._mem[(i, j)]


def multi_start(cfg: MaskConfig, clip: Clip, flows: Flows) -> list[float]:
    """J&F of every run of the multi-start check on ``clip`` (mask prompt; see the module docstring): forward runs first."""
    n = len(clip.frames)
    orders = [list(range(s, n)) for s in range(0, n - MULTI_MIN_FRAMES + 1, MULTI_STEP)]
    orders += [list(range(e, -1, -1)) for e in range(n - 1, MULTI_MIN_FRAMES - 2, -MULTI_STEP)]
    return [run_clip(cfg, clip, flows, "mask", order).jf for order in orders]


def run_clip(cfg: MaskConfig, clip: Clip, flows: Flows, prompt: str, order: list[int] | None = None) -> Score:
    """Propagate from frame ``order[0]`` through ``order`` (default: the whole clip forward) with a ``'mask'``
    or ``'box'`` prompt (frame 0 only), as the pipeline does (:func:`glassvid.masks.propagate.propagate`);
    score the frames after the prompt frame. Its time (for frames/s) is the propagator's, revisits included."""
    masker = build_masks(cfg)
    order = order if order is not None else list(range(len(clip.frames)))
    first = clip.frames[order[0]]
    if prompt == "mask":
        p = Prompt(frame=0, mask=clip.masks[order[0]])
    elif prompt == "box" and order[0] == 0:
        p = Prompt(frame=0, box=clip.box)
        # as the pipeline seeds a box prompt: where frame 0's pixels go over the next frames, and how far
        # they are from what the frames after it show there (each frame with its flow to the one before)
        motion, difference, behind = None, None, None
        if masker.uses_clip_hints:
            motion = chain(flows.pair(t)[1] for t in range(1, min(PROMPT_MOTION_FRAMES, len(clip.frames) - 1) + 1))
            box = p.clipped_box(first.shape[1], first.shape[0])
            view = background_view(first, box, [((clip.frames[t], flows.pair(t)[0]) for t in range(1, len(clip.frames)))]) if box is not None else None
            difference, behind = view if view is not None else (None, None)
    else:
        raise ValueError(f"prompt {prompt!r} from frame {order[0]}: a mask prompt from any frame, a box from frame 0")
    t0 = time.perf_counter()
    mask0 = masker.initial_mask(first, p, motion, difference, behind) if prompt == "box" else masker.initial_mask(first, p)
    init_s = time.perf_counter() - t0
    state = masker.start(first, mask0)
    js, fs, conf = [], [], []
    other_s = 0.0  # time in flow loading and scoring, taken out of the propagator's

    def loading(read: Callable[..., Any]) -> Callable[..., Any]:
        """``read``, its time counted as flow loading (``other_s``), not as the propagator's."""

        def timed(*args: int) -> Any:
            nonlocal other_s
            t = time.perf_counter()
            out = read(*args)
            other_s += time.perf_counter() - t
            return out

        return timed

    flow_to = loading(flows.to)
    # as the pipeline passes them: the frames around each frame, aligned by the background's motion along the
    # flow to the previous frame (float16, as the pipeline reads it)
    neighbours = NeighbourFrames(clip.frames.__getitem__, loading(lambda i: flows.pair(i)[0]), len(clip.frames)) if masker.uses_clip_hints else None
    t0 = time.perf_counter()
    for i, mask, c in propagate(masker, state, order, clip.frames.__getitem__, flow_to, cfg.revisit_below, neighbours):
        t = time.perf_counter()
        js.append(iou(mask, clip.masks[i]))
        fs.append(boundary_f(mask, clip.masks[i]))
        conf.append(float(c))
        other_s += time.perf_counter() - t
    mask_s = time.perf_counter() - t0 - other_s
    h, w = first.shape[:2]
    return Score(clip.name, prompt, float(np.mean(js)), float(np.mean(fs)), len(order), mask_s, init_s, float(np.min(js)), (w, h), js, conf)


def flow_seconds_per_frame(clip: Clip, frames: int = 20) -> float:
    """Seconds per frame of what the pipeline does for flow: DIS both ways, float16, the check."""
    dis = build_flow(FLOW)
    n = min(frames, len(clip.frames) - 1)
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        fwd = dis(clip.frames[i - 1], clip.frames[i]).astype(np.float16)
        bwd = dis(clip.frames[i], clip.frames[i - 1]).astype(np.float16)
        fb_consistency(bwd.astype(np.float32), fwd.astype(np.float32))
    return (time.perf_counter() - t0) / n


def evaluate(cfg: MaskConfig, *, data: Path = DATA, cache: Path | None = None, clips: list[str] | None = None, prompts: tuple[str, ...] = ("mask", "box"), gt: bool = True, log=print) -> list[Score]:
    """Every score of the benchmark (real clips with each prompt, then the rendered scenes)."""
    scores: list[Score] = []
    real = sorted(p for p in (data / "real").iterdir() if p.is_dir())
    for folder in real:
        if clips and folder.name not in clips:
            continue
        clip = load_real(folder)
        if clip is None:
            continue
        flows = Flows(clip, cache)
        for prompt in prompts:
            if prompt == "box" and clip.box is None:
                continue
            s = run_clip(cfg, clip, flows, prompt)
            s.clip = clip.name + (" (pseudo-GT)" if clip.pseudo else "")
            scores.append(s)
            log(f"{s.clip:28s} {prompt:4s} J {s.j:.3f} F {s.f:.3f} J&F {s.jf:.3f} minJ {s.min_j:.3f} {s.fps:6.1f} fps")
    if gt:
        for folder in sorted(p for p in (data / "gt").iterdir() if (p / "input").is_dir()):
            if clips and folder.name not in clips:
                continue
            clip = load_gt_scene(folder)
            s = run_clip(cfg, clip, Flows(clip, cache), "mask")
            s.prompt = "gt-mask"
            scores.append(s)
            log(f"{s.clip:28s} mask J {s.j:.3f} F {s.f:.3f} J&F {s.jf:.3f} minJ {s.min_j:.3f} {s.fps:6.1f} fps")
    return scores


def summary(scores: list[Score]) -> dict[str, float]:
    """Means: real clips (human masks) per prompt, rendered scenes' J, frames/s at 854x480."""
    out: dict[str, float] = {}
    for prompt in ("mask", "box"):
        s = [x for x in scores if x.prompt == prompt and "pseudo" not in x.clip]
        if s:
            out[f"real_{prompt}_jf"] = float(np.mean([x.jf for x in s]))
            out[f"real_{prompt}_min_jf"] = float(np.min([x.jf for x in s]))
    g = [x for x in scores if x.prompt == "gt-mask"]
    if g:
        out["gt_j"] = float(np.mean([x.j for x in g]))
    big = [x for x in scores if x.size == FPS_SIZE]
    if big:
        out["mask_fps_854x480"] = sum(x.frames - 1 for x in big) / sum(x.mask_s for x in big)
    return out


def unsure_line(scores: list[Score], warn_below: float) -> str:
    """How well the pipeline's unsure-frames warning (confidence below ``masks.warn_below``) points at bad masks."""
    def flagged(group: list[Score]) -> tuple[np.ndarray, np.ndarray]:
        j = np.concatenate([np.asarray(s.per_frame_j, float) for s in group]) if group else np.zeros(0)
        c = np.concatenate([np.asarray(s.confidence, float) for s in group]) if group else np.zeros(0)
        return j, c < warn_below

    j, flag = flagged([s for s in scores if s.prompt in ("mask", "box") and "pseudo" not in s.clip])
    if not j.size:
        return ""
    bad = j < 0.5
    line = (f"- frames with confidence below `masks.warn_below` {warn_below:.2f} (the pipeline names them in a warning, less any with no mask), real clips, both prompts: "
            f"{flag.mean():.0%} of the frames; {np.mean(bad[flag]) if flag.any() else float('nan'):.0%} of them have J < 0.5, "
            f"and they are {np.mean(flag[bad]) if bad.any() else float('nan'):.0%} of the frames with J < 0.5")
    gj, gflag = flagged([s for s in scores if s.prompt == "gt-mask"])
    if gj.size:
        line += f"; rendered scenes: {gflag.mean():.0%} of the frames"
    return line


def table(scores: list[Score], flow_s: float | None, warn_below: float | None = None) -> str:
    """The markdown report (with the unsure-frames warning's check when ``warn_below`` is given)."""
    lines = ["| clip | prompt | size | frames | J | F | J&F | min J | mask frames/s |", "|---|---|---|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.clip} | {s.prompt} | {s.size[0]}x{s.size[1]} | {s.frames} | {s.j:.3f} | {s.f:.3f} | {s.jf:.3f} | {s.min_j:.3f} | {s.fps:.0f} |")
    m = summary(scores)
    lines.append("")
    for prompt in ("mask", "box"):
        if f"real_{prompt}_jf" in m:
            lines.append(f"- real clips, {prompt} prompt: mean J&F **{m[f'real_{prompt}_jf']:.4f}**, lowest clip {m[f'real_{prompt}_min_jf']:.3f} (pseudo-GT clip excluded)")
    if "gt_j" in m:
        lines.append(f"- rendered scenes, first-frame mask: mean J (IoU) **{m['gt_j']:.3f}**")
    if warn_below:
        lines.append(unsure_line(scores, warn_below))
    if "mask_fps_854x480" in m:
        fps = m["mask_fps_854x480"]
        lines.append(f"- mask propagation at 854x480: **{fps:.0f} frames/s** (mask step alone, flow excluded)")
        if flow_s is not None:
            lines.append(f"- flow (DIS {FLOW.preset}, both directions, forward-backward check) at 854x480: {1.0 / flow_s:.0f} frames/s; flow + mask: **{1.0 / (flow_s + 1.0 / fps):.0f} frames/s**")
    return "\n".join(lines) + "\n"


def multi_start_table(cfg: MaskConfig, *, data: Path = DATA, cache: Path | None = None, clips: list[str] | None = None, gt: bool = True, log=print) -> str:
    """The multi-start check on every real clip with human masks (and the rendered scenes), as markdown."""
    folders = [p for p in sorted((data / "real").iterdir()) if p.is_dir() and (p / "masks").is_dir()]
    if gt:
        folders += [p for p in sorted((data / "gt").iterdir()) if (p / "input").is_dir()]
    lines = ["", f"Multi-start check (mask prompt; a start every {MULTI_STEP} frames, forward and backward):", "", "| clip | runs | mean | per run (forward starts, then backward) |", "|---|---|---|---|"]
    real_means = []
    for folder in folders:
        if clips and folder.name not in clips:
            continue
        real = folder.parent.name == "real"
        clip = load_real(folder) if real else load_gt_scene(folder)
        if clip is None:
            continue
        runs = multi_start(cfg, clip, Flows(clip, cache))
        mean = float(np.mean(runs))
        if real:
            real_means.append(mean)
        label = clip.name if real else f"{clip.name} (rendered)"
        log(f"{label:28s} multi-start mean {mean:.3f} over {len(runs)} runs")
        lines.append(f"| {label} | {len(runs)} | {mean:.3f} | {' '.join(f'{r:.2f}' for r in runs)} |")
    if real_means:
        lines += ["", f"- real clips, multi-start: mean J&F **{np.mean(real_means):.3f}**, lowest clip {min(real_means):.3f}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="shared data folder (with real/ and gt/)")
    ap.add_argument("--out", type=Path, help="write the markdown table here")
    ap.add_argument("--cache", type=Path, help="keep flows in this folder between runs")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config override, e.g. masks.refine_band_px=8")
    ap.add_argument("--clips", nargs="*", help="only these clips/scenes")
    ap.add_argument("--prompts", default="mask,box", help="comma-separated: mask, box")
    ap.add_argument("--no-gt", action="store_true", help="skip the rendered scenes")
    ap.add_argument("--starts", action="store_true", help="also the multi-start check (every clip from several start frames, both ways)")
    args = ap.parse_args(argv)
    cfg = load_config(sets=args.sets).masks
    scores = evaluate(cfg, data=args.data, cache=args.cache, clips=args.clips, prompts=tuple(args.prompts.split(",")), gt=not args.no_gt)
    flow_s = None
    big = [s for s in scores if s.size == FPS_SIZE]
    if big:
        clip = load_real(args.data / "real" / big[0].clip.split(" ")[0])
        flow_s = flow_seconds_per_frame(clip) if clip is not None else None
    text = table(scores, flow_s, cfg.warn_below)
    if args.starts:
        text += multi_start_table(cfg, data=args.data, cache=args.cache, clips=args.clips, gt=not args.no_gt)
    print(text)
    if args.out:
        args.out.write_text(text)
    return summary(scores)


if __name__ == "__main__":
    main()
