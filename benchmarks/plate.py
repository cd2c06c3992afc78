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
   and on, with the true mattes, glassvid's masks and degraded mattes; on real clips the
   plate against the one recovered with the true masks.

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


LOOP_MATTES = (("true mattes", None), ("glassvid's masks", None), ("mattes 5 px short of the object", ("short", 5)), ("mattes moved by up to 3 px", ("jitter", 3)))
LOOP_REAL = ("tennis", "davis_bmx-trees", "davis_blackswan", "schoolgirls", "dogs-jump")
_REFERENCE_REACH_PX = 11  # real clips: plates compared within the hole grown this far (hole 3 + rim 4 + 4 more)


def _degraded_mattes(work: Path, scene: Path, kind: str, px: int) -> Path:
    """The scene's true masks as a user's or a tracker's could be: ``short`` eroded by ``px``,
    ``jitter`` each moved by up to ``px`` in x and y (fixed seed); written once under ``work``."""
    folder = work / "mattes" / f"{scene.name}_{kind}{px}"
    if folder.is_dir():
        return folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for f in sorted((scene / "mask").glob("*.png")):
        m = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
        if kind == "short":
            m = cv2.erode(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1,) * 2))
        else:
            dx, dy = rng.integers(-px, px + 1, 2)
            m = np.roll(m, (int(dy), int(dx)), axis=(0, 1))
        cv2.imwrite(str(folder / f.name), m)
    return folder


def _loop_sheet(path: Path, scene: Path, off: Any, on: Any, title: str) -> None:
    """Crops around the object on three frames: the input, the plate with the loop off and on, the
    true plate, the render with each plate and the true glass."""
    from common import contact_sheet

    cols: dict[str, dict[int, np.ndarray]] = {k: {} for k in ("input", "plate, loop off", "plate, loop on", "true plate", "glass, loop off", "glass, loop on", "true glass")}
    boxes = {}
    for i in SCORE_FRAMES:
        ys, xs = np.nonzero(dilate_mask(read_image(scene / "mask" / f"{i:05d}.png", mode="gray") > 127, 12))
        boxes[i] = (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
    ch = max(b[1] - b[0] for b in boxes.values())
    cw = max(b[3] - b[2] for b in boxes.values())
    for i in SCORE_FRAMES:
        y0, y1, x0, x1 = boxes[i]
        h, w = off.info.height, off.info.width
        top = int(min(max(0, (y0 + y1 - ch) // 2), h - ch))
        left = int(min(max(0, (x0 + x1 - cw) // 2), w - cw))
        crop = (slice(top, top + ch), slice(left, left + cw))  # one size on every row
        frame = off.frame(i)
        height, radius = off.depth(i)
        matte = feather(off.mask(i), 2.5)
        for tag, clip in (("loop off", off), ("loop on", on)):
            plate = clip.plate(i, frame)
            cols[f"plate, {tag}"][i] = plate[crop]
            cols[f"glass, {tag}"][i] = render_glass(frame, plate, matte, height, radius, GlassConfig())[0][crop]
        cols["input"][i] = frame[crop]
        cols["true plate"][i] = read_image(scene / "plate" / f"{i:05d}.png")[crop]
        cols["true glass"][i] = read_image(scene / "glass" / f"{i:05d}.png")[crop]
    contact_sheet(path, list(cols.items()), list(SCORE_FRAMES), title)


def loop_effect(work: Path, scenes: list[Path], real: list[Path], sheets: Path | None = None) -> str:
    rows, real_rows, links = [], [], []

    def loop_cell(lp: dict) -> list[str]:
        return [f"{lp['mean_score_recovered']:.3f} -> {lp['mean_score_chosen']:.3f}", f"{lp['changed_frames']}/{lp['scored_frames']}"]

    for scene in scenes:
        for label, degrade in LOOP_MATTES:
            res = {}
            for on in (0, 1):
                sets = (f"plate.loop_interval={on}",)
                if label == "glassvid's masks":
                    clip, cfg = _clip(work, scene, estimated=True, sets=sets)
                else:
                    mattes = scene / "mask" if degrade is None else _degraded_mattes(work, scene, *degrade)
                    cfg = load_config(sets=list(sets))
                    clip = Pipeline(cfg, work_dir=work).analyse(scene / "input", matte=mattes)
                meta, _, _ = _plate_pass(clip, cfg, f"loop{on}")
                res[on] = (_plate_psnr(clip, scene), _render_psnr(clip, scene), meta["loop"], clip)
            rows.append([scene.name, label, *loop_cell(res[1][2]), f"{res[0][0]:.2f} -> {res[1][0]:.2f}", f"{res[0][1]:.2f} -> {res[1][1]:.2f}"])
            if sheets is not None and degrade is not None and degrade[0] == "short":
                name = f"loop_{scene.name}.png"
                _loop_sheet(sheets / name, scene, res[0][3], res[1][3], f"{scene.name}, mattes 5 px short of the object: the loop takes the object's rim out of the plate")
                links.append(f"[{scene.name}](sheets/{name})")
    for folder in real:
        ref_cfg = load_config()
        reference = Pipeline(ref_cfg, work_dir=work).analyse(folder / "frames", matte=folder / "masks")
        _plate_pass(reference, ref_cfg, "reference")
        first = read_image(folder / "masks" / "00000.png", mode="gray") > 127
        res = {}
        for on in (0, 1):
            cfg = load_config(sets=[f"plate.loop_interval={on}"])
            clip = Pipeline(cfg, work_dir=work).analyse(folder / "frames", prompt=Prompt(frame=0, mask=first))
            meta, _, _ = _plate_pass(clip, cfg, f"loop{on}")
            vals = [psnr(clip.plate(i), reference.plate(i), near) for i in range(clip.n) if (near := dilate_mask(clip.mask(i), _REFERENCE_REACH_PX)).any()]
            res[on] = (float(np.mean(vals)), meta["loop"])
        real_rows.append([folder.name, *loop_cell(res[1][1]), f"{res[0][0]:.2f} -> {res[1][0]:.2f}"])
    return "\n".join([
        "### The inpaint-and-score loop (every frame scored, loop off -> on)",
        "",
        "Its candidate is the plate with the object's rim taken out (object-coloured pixels joined to the hole, up to 4 px outside it: "
        "what a mask that falls short of the object's edge leaves in the plate), kept when the See-Through Score rises by `plate.loop_margin`. "
        "Ground-truth scenes: with their true mattes, glassvid's masks (from the first frame's), mattes 5 px short of the object "
        "(the hole, grown by 3 px, leaves a 2 px rim) and mattes moved by up to 3 px; plate PSNR inside the true mask against `plate/`, "
        "render PSNR against `glass/` (default look).",
        "",
        _table(["scene", "mattes", "See-Through Score", "frames changed", "plate PSNR (dB)", "render PSNR vs glass/ (dB)"], rows),
        "",
        *([f"Sheets (mattes 5 px short of the object): {', '.join(links)}.", ""] if links else []),
        f"Real clips, glassvid's masks from the first frame's mask: no true plate, so the plate is compared with the plate recovered "
        f"with the clip's true masks (a reference, not the truth), within glassvid's hole grown by {_REFERENCE_REACH_PX} px.",
        "",
        _table(["clip", "See-Through Score", "frames changed", "PSNR vs the true-mask plate (dB)"], real_rows),
    ])


def section(work: Path | None = None, *, quick: bool = False, sheets: Path | None = None) -> str:
    """The plate benchmark as markdown (all four parts); ``work`` holds the pass caches, ``sheets``
    (optional) receives the loop's contact sheets."""
    work = Path(work) if work is not None else Path(tempfile.mkdtemp(prefix="glassvid-plate-bench-"))
    scenes = sorted(p for p in (DATA / "gt").iterdir() if (p / "plate").is_dir()) if (DATA / "gt").is_dir() else []
    clips = [DATA / "real" / c for c in SPEED_CLIPS if (DATA / "real" / c).is_dir()]
    if quick:
        clips = clips[:1]
    parts = ["## Background recovery and the See-Through Score", ""]
    if scenes:
        parts += [plate_quality(work, scenes), "", score_agreement(scenes), ""]
        if not quick:
            real = [DATA / "real" / c for c in LOOP_REAL if (DATA / "real" / c / "masks").is_dir()]
            parts += [loop_effect(work, scenes, real, sheets), ""]
    if clips:
        parts += [speed(work, clips, None), ""]
    return "\n".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here (default: print it)")
    ap.add_argument("--work", type=Path, default=None, help="cache folder for the passes (default: a temporary one)")
    ap.add_argument("--quick", action="store_true", help="one speed clip, no loop section")
    ap.add_argument("--sheets", type=Path, default=None, help="write the loop's contact sheets into this folder")
    args = ap.parse_args()
    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
    text = section(args.work, quick=args.quick, sheets=args.sheets)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
