"""Benchmark of background recovery and the See-Through Score (issue 6).

Sections of the markdown it writes (:func:`section`, pluggable into ``benchmarks/run.py``):

1. **plate quality** on the ground-truth scenes of ``../shared/data/gt/``: PSNR of the
   recovered plate inside the true mask against ``plate/``, beside per-frame OpenCV
   inpainting (the baseline ``glassvid eval`` uses), with the true masks (plate quality
   alone) and with the masks glassvid finds from the first frame's (the whole
   pipeline), and with each classic fill of never-seen pixels;
2. **speed** of the plate pass at 854x480 on real clips (their own masks given as
   mattes, so only the plate pass is timed), as frames per second of process CPU time
   with OpenCV on one thread (what one core does, whatever else the machine runs) and
   of wall time;
3. **the See-Through Score against ground truth**: its ranking of ``glass/``, glassvid's
   render, the 50 % blend and the input, and its Spearman correlation with PSNR across
   degraded results (``tests/plate/score_family.py``);
4. **the inpaint-and-score loop**: score, plate PSNR and render PSNR with the loop off
   and on.

Usage::

    python benchmarks/plate.py --out RESULTS-plate.md [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "plate"))

from glassvid.cache import PassStore  # noqa: E402
from glassvid.config import GlassConfig, load_config  # noqa: E402
from glassvid.io import read_image  # noqa: E402
from glassvid.masks.matte import feather  # noqa: E402
from glassvid.metrics import dilate_mask, psnr, spearman  # noqa: E402
from glassvid.pipeline import Pipeline  # noqa: E402
from glassvid.plate import build_inpainter  # noqa: E402
from glassvid.plate.recover import recover_plates  # noqa: E402
from glassvid.prompts import Prompt  # noqa: E402
from glassvid.render.glass import render_glass  # noqa: E402
from glassvid.score import see_through  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SPEED_CLIPS = ("davis_blackswan", "davis_bmx-trees", "sam2_coffee-mug")
SCORE_FRAMES = (8, 24, 40)


def _clip(work: Path, gt_scene: Path | None = None, *, real: Path | None = None, estimated: bool = False, sets: tuple[str, ...] = ()):
    cfg = load_config(sets=list(sets))
    p = Pipeline(cfg, work_dir=work)
    if gt_scene is not None:
        if estimated:
            m = read_image(gt_scene / "mask" / "00000.png", mode="gray") > 127
            return p.analyse(gt_scene / "input", prompt=Prompt(frame=0, mask=m)), cfg
        return p.analyse(gt_scene / "input", matte=gt_scene / "mask"), cfg
    assert real is not None
    masks = next(real / d for d in ("masks", "masks_pseudo") if (real / d).is_dir())
    return p.analyse(real / "frames", matte=masks), cfg


def _plate_pass(clip: Any, cfg: Any, name: str) -> tuple[dict[str, Any], float, float]:
    """Run the plate pass into a fresh store; returns (report, cpu seconds, wall seconds)."""
    store = PassStore(clip.work.root, "plate", "bench-" + name)
    store.clear()
    clip.plate_store = store
    inpainter = build_inpainter(cfg.plate)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        t, c = time.perf_counter(), time.process_time()
        meta = recover_plates(clip, cfg.plate, inpainter, lambda a, b: None, matte_feather_px=cfg.masks.feather_px)
        cpu, wall = time.process_time() - c, time.perf_counter() - t
    finally:
        cv2.setNumThreads(threads)
    return meta, cpu, wall


def _plate_psnr(clip: Any, scene: Path) -> float:
    vals = []
    for i in range(clip.n):
        m = read_image(scene / "mask" / f"{i:05d}.png", mode="gray") > 127
        vals.append(psnr(clip.plate(i), read_image(scene / "plate" / f"{i:05d}.png"), m))
    return float(np.mean(vals))


def _inpaint_psnr(scene: Path, n: int) -> float:
    vals = []
    for i in range(n):
        m = read_image(scene / "mask" / f"{i:05d}.png", mode="gray") > 127
        f = read_image(scene / "input" / f"{i:05d}.png")
        fill = cv2.inpaint(f, dilate_mask(m, 2).astype(np.uint8), 5, cv2.INPAINT_TELEA)
        vals.append(psnr(fill, read_image(scene / "plate" / f"{i:05d}.png"), m))
    return float(np.mean(vals))


def _render_psnr(clip: Any, scene: Path, step: int = 4) -> float:
    vals = []
    for i in range(0, clip.n, step):
        f = clip.frame(i)
        h, r = clip.depth(i)
        out, _ = render_glass(f, clip.plate(i, f), feather(clip.mask(i), 2.5), h, r, GlassConfig())
        m = read_image(scene / "mask" / f"{i:05d}.png", mode="gray") > 127
        vals.append(psnr(out, read_image(scene / "glass" / f"{i:05d}.png"), dilate_mask(m, 4)))
    return float(np.mean(vals))


def _table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows])


def plate_quality(work: Path, scenes: list[Path]) -> str:
    rows = []
    for scene in scenes:
        base = _inpaint_psnr(scene, len(list((scene / "mask").glob("*.png"))))
        for label, est, sets in (
            ("true masks", False, ()),
            ("true masks, fill telea", False, ("plate.inpaint_method=telea",)),
            ("glassvid's masks", True, ()),
        ):
            clip, cfg = _clip(work, scene, estimated=est, sets=sets)
            meta, _, _ = _plate_pass(clip, cfg, "quality")
            got = _plate_psnr(clip, scene)
            models = ", ".join(f"{k} {v}" for k, v in sorted(meta["motion_models"].items()))
            rows.append([scene.name, label, f"{got:.2f}", f"{base:.2f}", f"{got - base:+.2f}", f"{meta['seen_fraction']:.3f}", f"{meta['mean_age']:.1f}", models])
    return "\n".join([
        "### Plate quality: PSNR (dB) inside the true mask against `plate/`",
        "",
        "Per-frame OpenCV inpainting (Telea, radius 5, the object grown by 2 px) is the baseline of `glassvid eval`. "
        "*seen* is the share of hidden pixels some frame showed, *age* the mean number of frames they were carried.",
        "",
        _table(["scene", "masks", "glassvid", "inpainting", "gain", "seen", "age", "background motion (sweep steps)"], rows),
    ])


def speed(work: Path, clips: list[Path], frames: int | None) -> str:
    rows = []
    for real in clips:
        clip, cfg = _clip(work, real=real)
        meta, cpu, wall = _plate_pass(clip, cfg, "speed")
        n = clip.n
        rows.append([real.name, f"{clip.info.width}x{clip.info.height}", str(n), f"{n / cpu:.1f}", f"{n / wall:.1f}", f"{meta['seen_fraction']:.3f}", f"{meta['hidden_px'] / max(1, meta['frames_with_hole']):.0f}"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "\n".join([
        "### Plate pass speed",
        "",
        f"Classic backends, default config (the two sweeps in two threads, `plate.sweep_threads=2`), the clips' own "
        f"masks as mattes (only the plate pass is timed). frames/s of process CPU time (all threads: one core's worth) "
        f"and of wall time (load average {load:.1f} on {os.cpu_count()} cores while measuring; other jobs share them).",
        "",
        _table(["clip", "size", "frames", "frames/s (CPU)", "frames/s (wall)", "seen", "hidden px/frame"], rows),
    ])


def score_agreement(scenes: list[Path]) -> str:
    from score_family import load_frame

    rows, rank_rows = [], []
    for scene in scenes:
        frames = [load_frame(scene, i) for i in SCORE_FRAMES]

        def mean(pick):
            acc: dict[str, list] = {}
            for fr in frames:
                for r in pick(fr):
                    acc.setdefault(r.name, []).append((see_through(r.image, fr.input, fr.mask, r.plate).score, r.psnr))
            return {k: tuple(np.mean(v, axis=0)) for k, v in acc.items()}

        rank = mean(lambda fr: fr.ranking.values())
        fam = mean(lambda fr: fr.family)
        rfam = mean(lambda fr: fr.render_family)
        rfam_glass = dict(rfam, glass=rank["glass"])
        rank_rows.append([scene.name] + [f"{rank[k][0]:.3f} ({rank[k][1]:.1f})" for k in ("glass", "glassvid", "blend50", "input")])

        def rho(d, keys=None):
            keys = keys or list(d)
            return spearman([d[k][0] for k in keys], [d[k][1] for k in keys])

        see_through_only = [k for k in fam if not k.startswith("refraction")]
        rows.append([scene.name, f"{rho(fam):.3f}", f"{rho(fam, see_through_only):.3f}", f"{rho(rfam_glass):.3f}"])
    return "\n".join([
        "### The See-Through Score against ground truth",
        "",
        f"Means over frames {', '.join(map(str, SCORE_FRAMES))}; score (PSNR in dB against `glass/` in the object region).",
        "",
        _table(["scene", "glass", "glassvid's render", "50 % blend", "opaque input"], rank_rows),
        "",
        "Spearman correlation of the score with PSNR against `glass/`: *truth family* = `glass/` with each defect applied "
        "(opaque object mixed back in at 0-100 %, plate shifted 2-8 px, refraction scaled 0.5-4x, the last two as the change "
        "they make in glassvid's render); *render family* = glassvid's render with the same defects, plus `glass/`.",
        "",
        _table(["scene", "truth family", "truth family without refraction", "render family"], rows),
    ])


def loop_effect(work: Path, scenes: list[Path]) -> str:
    rows = []
    for scene in scenes:
        for label, est in (("true masks", False), ("glassvid's masks", True)):
            res = {}
            for on in (0, 1):
                clip, cfg = _clip(work, scene, estimated=est, sets=(f"plate.loop_interval={on}",))
                meta, _, _ = _plate_pass(clip, cfg, f"loop{on}")
                res[on] = (_plate_psnr(clip, scene), _render_psnr(clip, scene), meta["loop"])
            lp = res[1][2]
            rows.append([scene.name, label, f"{lp['mean_score_recovered']:.3f} -> {lp['mean_score_chosen']:.3f}", f"{lp['changed_frames']}/{lp['scored_frames']}",
                         f"{res[0][0]:.2f} -> {res[1][0]:.2f}", f"{res[0][1]:.2f} -> {res[1][1]:.2f}"])
    return "\n".join([
        "### The inpaint-and-score loop (every frame scored, 5 rounds at most)",
        "",
        _table(["scene", "masks", "See-Through Score", "frames changed", "plate PSNR (dB)", "render PSNR vs glass/ (dB)"], rows),
    ])


def section(work: Path | None = None, *, quick: bool = False) -> str:
    """The plate benchmark as markdown (all four parts); ``work`` holds the pass caches."""
    work = Path(work) if work is not None else Path(tempfile.mkdtemp(prefix="glassvid-plate-bench-"))
    scenes = sorted(p for p in (DATA / "gt").iterdir() if (p / "plate").is_dir()) if (DATA / "gt").is_dir() else []
    clips = [DATA / "real" / c for c in SPEED_CLIPS if (DATA / "real" / c).is_dir()]
    if quick:
        clips = clips[:1]
    parts = ["## Background recovery and the See-Through Score", ""]
    if scenes:
        parts += [plate_quality(work, scenes), "", score_agreement(scenes), ""]
        if not quick:
            parts += [loop_effect(work, scenes), ""]
    if clips:
        parts += [speed(work, clips, None), ""]
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here (default: print it)")
    ap.add_argument("--work", type=Path, default=None, help="cache folder for the passes (default: a temporary one)")
    ap.add_argument("--quick", action="store_true", help="one speed clip, no loop section")
    args = ap.parse_args()
    text = section(args.work, quick=args.quick)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
