"""Helpers of the benchmark runner (``benchmarks/run.py``): context, runs, floor, memory, sheets, plots.

Nothing here knows about a particular section; each function does one thing a section
needs and returns plain data. Frames are ``HxWx3`` uint8 RGB as everywhere in glassvid.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

# Torch-backed stages spin-wait with 2 OpenMP threads when another process holds a core
# (MACHINE-NOTES: 10-17x slower); the classic backends do not use torch, but a run with
# model backends might. Must be set before anything imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WORK = ROOT / "benchmarks" / "_work"  # default scratch folder of run.py and the standalone scripts
WORK_MARKER = ".glassvid-benchmarks"  # a scratch folder is only ever wiped if it holds this file


def claim_work(work: Path) -> Path:
    """Create ``work`` (if needed) and mark it as the benchmarks' scratch folder, which run.py may empty."""
    work.mkdir(parents=True, exist_ok=True)
    (work / WORK_MARKER).write_text("made by glassvid's benchmarks; emptied at the start of each benchmarks/run.py\n")
    return work

# the glassvid beside these scripts, always: a virtual environment may have another checkout
# installed (editable), and a benchmark of one worktree must not time the other's code
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from glassvid.config import Config  # noqa: E402
from glassvid.io import open_sink, probe, read_frames, read_image, write_clip  # noqa: E402
from glassvid.io.images import list_sequence  # noqa: E402
from glassvid.pipeline import Pipeline  # noqa: E402
from glassvid.prompts import Prompt, load_mask  # noqa: E402

# Generated PNGs are committed: keep each below this (contact sheets are palette-quantised above it).
PNG_BUDGET_BYTES = 350_000
SHEET_MAX_TILE_WIDTH = 427  # 854x480 clips are shown at half size
LABEL_BAND_PX = 22


# ---------------------------------------------------------------------------- context


@dataclass
class Context:
    """What every section gets: where things are, how thorough to be, where to log."""

    data: Path
    work: Path
    out: Path  # the RESULTS.md being written; plots/ and sheets/ go next to it
    quick: bool
    real_frames: int  # real clips are cut to their first N frames (0 = all)
    reuse: bool  # reuse finished glassvid runs found in work/runs (report formatting only)
    t0: float = field(default_factory=time.perf_counter)
    summary: list[str] = field(default_factory=list)  # headline lines, shown at the top
    _runs: dict[str, "Run"] = field(default_factory=dict)

    @property
    def plots(self) -> Path:
        p = self.out.parent / "plots"
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def sheets(self) -> Path:
        p = self.out.parent / "sheets"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def link(self, path: Path) -> str:
        """``path`` relative to RESULTS.md, for markdown links."""
        return os.path.relpath(path, self.out.parent)

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.t0:6.0f}s] {message}", flush=True)


# ---------------------------------------------------------------------------- machine


def machine_lines() -> list[str]:
    """Cores, CPU model, load, versions: what a reader needs to compare figures."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor() or model
    try:
        load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    import av
    import glassvid

    return [
        f"- machine: {os.cpu_count()} cores, {model}, {platform.system()} {platform.release()}; load average at start {load}",
        f"- python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}, PyAV {av.__version__}, glassvid {glassvid.__version__} ({Path(glassvid.__file__).parent})",
    ]


def git_commit() -> str:
    """Short commit of the project, and whether the package differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "glassvid", "configs"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    import glassvid

    if Path(glassvid.__file__).resolve().parent != ROOT / "glassvid":
        return f"{head} (but glassvid was imported from {Path(glassvid.__file__).parent}, not this checkout)"
    if dirty:
        n = len(dirty.splitlines())
        return f"{head} + uncommitted changes to {n} file(s) under glassvid/ or configs/"
    return head


def now() -> str:
    return datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


# ---------------------------------------------------------------------------- data


def trimmed(ctx: Context, src: Path, n: int, subdirs: Sequence[str]) -> Path:
    """``src`` cut to its first ``n`` frames: a folder under work/ of symlinks (nothing copied).

    Every folder of ``subdirs`` that exists in ``src`` gets its first ``n`` files. With
    ``n`` 0 or at least the clip's length, ``src`` itself is returned.
    """
    first = next((src / d for d in subdirs if (src / d).is_dir()), None)
    if n <= 0 or first is None or len(list_sequence(first)) <= n:
        return src
    dst = ctx.work / "data" / f"{src.parent.name}_{src.name}_{n}"
    if dst.is_dir():
        shutil.rmtree(dst)
    for d in subdirs:
        if not (src / d).is_dir():
            continue
        (dst / d).mkdir(parents=True)
        for p in list_sequence(src / d)[:n]:
            (dst / d / p.name).symlink_to(p.resolve())
    return dst


def count_frames(folder: Path) -> int:
    return len(list_sequence(folder))


# ---------------------------------------------------------------------------- glassvid runs


@dataclass
class Run:
    """One finished glassvid run: where its outputs are and how long each pass took."""

    name: str
    output: str | None
    masks: str | None
    plate: str | None
    seconds: float  # wall time of Pipeline.run
    cpu_seconds: float  # CPU time of this process (all threads) during Pipeline.run
    frames: int
    width: int
    height: int
    passes: dict[str, dict[str, Any]]  # name -> {status, seconds, frames, fps}
    warnings: list[str]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else math.inf


def run_glassvid(
    ctx: Context,
    name: str,
    input: str | os.PathLike,
    output: str | None,
    *,
    prompt: Prompt | None = None,
    config: Config | None = None,
    save_masks: bool = False,
    save_plate: bool = False,
    fresh: bool = False,
    **kwargs: Any,
) -> Run:
    """Run glassvid once as ``name`` (outputs under work/runs/<name>/), memoised per invocation.

    ``output`` is a file name or pattern inside the run's folder (``"out/%05d.png"``,
    ``"out.mp4"``) or None. Each run gets its own cache folder, removed first, so its
    timings are of a cold run; with ``ctx.reuse`` a run finished by an earlier
    invocation is read back instead (its figures are then that invocation's).
    """
    if name in ctx._runs and not fresh:
        return ctx._runs[name]
    folder = ctx.work / "runs" / name
    record = folder / "run.json"
    if ctx.reuse and not fresh and record.is_file():
        run = Run(**json.loads(record.read_text()))
        ctx._runs[name] = run
        ctx.log(f"  {name}: reused the run of an earlier invocation")
        return run
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    out = str(folder / output) if output else None
    masks = str(folder / "masks") if save_masks else None
    plate = str(folder / "plate") if save_plate else None
    done_passes: set[str] = set()

    def progress(pass_name: str, done: int, total: int) -> None:
        if done == total and pass_name not in done_passes:
            done_passes.add(pass_name)
            ctx.log(f"    {name}: {pass_name} done ({total} steps)")

    pipeline = Pipeline(config or Config(), work_dir=folder / "cache", progress=progress)
    t0, c0 = time.perf_counter(), time.process_time()
    report = pipeline.run(input, out, prompt=prompt, save_masks=masks, save_plate=plate, **kwargs)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    d = report.to_dict()
    run = Run(
        name=name, output=out, masks=masks, plate=plate, seconds=seconds, cpu_seconds=cpu_seconds, frames=report.frame_count,
        width=report.width, height=report.height, passes=d["passes"], warnings=list(report.warnings),
    )
    record.write_text(json.dumps(run.__dict__, indent=1, default=str))
    shutil.rmtree(folder / "cache", ignore_errors=True)  # the pass cache is not needed again
    ctx._runs[name] = run
    ctx.log(f"  {name}: {run.frames} frames {run.width}x{run.height} in {seconds:.1f} s ({run.fps:.2f} frames/s)")
    for w in run.warnings:
        ctx.log(f"    warning: {w}")
    return run


def mask_prompt(path: Path, frame: int = 0) -> Prompt:
    return Prompt(frame=frame, mask=load_mask(path))


# ---------------------------------------------------------------------------- floor


def floor(clip: str | os.PathLike, out: str | os.PathLike) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this process, all threads) and frames of a plain decode
    (PyAV) + H.264 encode (libx264 veryfast) of ``clip``.

    The same decoder and sink glassvid uses, with nothing in between: the least any
    tool that reads and writes the clip must spend (MACHINE-NOTES.md).
    """
    info = probe(clip)
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with open_sink(out, info, preset="veryfast") as sink:
        for frame in read_frames(clip):
            sink.write(frame)
            n += 1
    return time.perf_counter() - t0, time.process_time() - c0, n


def make_mp4(path: Path, frames: Iterable[np.ndarray], fps: int = 24) -> Path:
    """Encode frames to an H.264 file (crf 18, as glassvid writes) for timing on a real video."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_clip(path, frames, fps)
    return path


def read_sequence(folder: Path, n: int = 0) -> Iterable[np.ndarray]:
    files = list_sequence(folder)
    for p in files[: n or None]:
        yield read_image(p)


# ---------------------------------------------------------------------------- memory

# Peak memory is read from /proc/self/status VmHWM, not getrusage's ru_maxrss: on Linux
# ru_maxrss survives exec and starts at the *parent's* resident size (a child of a 800 MB
# process reports >= 800 MB however little it uses), while VmHWM belongs to the new image.
_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1
from glassvid.config import Config
from glassvid.pipeline import Pipeline
from glassvid.prompts import Prompt, load_mask
imports = hwm_kib()
t0 = time.perf_counter()
if sys.argv[2] != "-":
    Pipeline(Config(), work_dir=sys.argv[4]).run(sys.argv[2], sys.argv[5], prompt=Prompt(frame=0, mask=load_mask(sys.argv[3])))
print(json.dumps({"peak_kib": hwm_kib(), "imports_kib": imports, "seconds": time.perf_counter() - t0}))
"""


def peak_rss(clip: str | None, mask: Path | None, work: Path) -> dict[str, float]:
    """Peak resident memory (KiB) of a fresh Python process that runs glassvid on ``clip``.

    ``clip`` None: the process only imports glassvid (the floor of any run).
    """
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    args = [sys.executable, "-c", _CHILD, str(ROOT), clip or "-", str(mask or "-"), str(work / "cache"), str(work / "out.mp4")]
    proc = subprocess.run(args, cwd=work, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    shutil.rmtree(work, ignore_errors=True)
    return result


# ---------------------------------------------------------------------------- pictures


def frames_at(path: str | os.PathLike, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """The frames of a clip (video or sequence) at ``indices``, decoding in order."""
    want = set(indices)
    got: dict[int, np.ndarray] = {}
    for f in read_frames(path):
        if f.index in want:
            got[f.index] = f.rgb
        if len(got) == len(want):
            break
    return got


def outlined(frame: np.ndarray, masks: Sequence[tuple[np.ndarray, tuple[int, int, int]]], width: int = 2) -> np.ndarray:
    """``frame`` with each mask's outline drawn in its RGB colour (masks: HxW bool, True = object)."""
    out = frame.copy()
    for mask, colour in masks:
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour, width, cv2.LINE_AA)
    return out


def sheet_rows(n: int) -> list[int]:
    """First, middle and last frame."""
    return sorted({0, (n - 1) // 2, n - 1})


def _label(img: np.ndarray, text: str, *, band: bool) -> np.ndarray:
    """White text on a dark band above ``img`` (band=True) or in its top-left corner."""
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    if band:
        top = np.full((LABEL_BAND_PX, img.shape[1], 3), 32, np.uint8)
        cv2.putText(top, text, (6, LABEL_BAND_PX - 7), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
        return np.concatenate([top, img], 0)
    out = img.copy()
    (w, h), _ = cv2.getTextSize(text, font, scale, thick)
    cv2.rectangle(out, (0, 0), (w + 8, h + 8), (32, 32, 32), -1)
    cv2.putText(out, text, (4, h + 3), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def contact_sheet(path: Path, columns: Sequence[tuple[str, dict[int, np.ndarray]]], rows: Sequence[int], title: str) -> int:
    """Write a grid PNG: one row per frame index in ``rows``, one labelled column per source.

    Tiles wider than SHEET_MAX_TILE_WIDTH are shrunk (INTER_AREA). Returns the file size.
    """
    grid = []
    for r_i, idx in enumerate(rows):
        tiles = []
        for label, frames in columns:
            tile = frames[idx]
            if tile.shape[1] > SHEET_MAX_TILE_WIDTH:
                h = round(tile.shape[0] * SHEET_MAX_TILE_WIDTH / tile.shape[1])
                tile = cv2.resize(tile, (SHEET_MAX_TILE_WIDTH, h), interpolation=cv2.INTER_AREA)
            tile = _label(tile, f"frame {idx}", band=False)
            if r_i == 0:
                tile = _label(tile, label, band=True)
            tiles.append(tile)
            tiles.append(np.full((tile.shape[0], 2, 3), 255, np.uint8))
        grid.append(np.concatenate(tiles[:-1], 1))
        grid.append(np.full((2, grid[-1].shape[1], 3), 255, np.uint8))
    sheet = _label(np.concatenate(grid[:-1], 0), title, band=True)
    return save_png(path, sheet)


def save_png(path: Path, rgb: np.ndarray) -> int:
    """Save ``rgb`` as PNG within PNG_BUDGET_BYTES: full colour if it fits, else the best-looking
    256-colour palette that fits (dithered first), else 128 colours. Returns the file size."""
    from PIL import Image

    img = Image.fromarray(rgb)

    def palette(method: Any, colours: int = 256, dither: bool = True) -> Any:
        pal = img.quantize(colours, method=method)
        return img.quantize(palette=pal, dither=Image.Dither.FLOYDSTEINBERG) if dither else pal

    ladder = (
        lambda: img,
        lambda: palette(Image.Quantize.FASTOCTREE),
        lambda: palette(Image.Quantize.MEDIANCUT),
        lambda: palette(Image.Quantize.FASTOCTREE, dither=False),
        lambda: palette(Image.Quantize.FASTOCTREE, 128, dither=False),
    )
    for make in ladder:
        data = _png_bytes(make())
        if len(data) <= PNG_BUDGET_BYTES:
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def _png_bytes(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def line_plot(
    path: Path,
    title: str,
    ylabel: str,
    series: dict[str, tuple[Sequence[int], Sequence[float]]],
    *,
    panels: dict[str, dict[str, tuple[Sequence[int], Sequence[float]]]] | None = None,
    log_y: bool = False,
) -> None:
    """A small PNG of per-frame values: ``series`` name -> (frame indices, values).

    With ``panels`` (panel title -> series) one panel each, sharing the x axis; non-finite
    values are left as gaps.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = panels or {title: series}
    fig, axes = plt.subplots(len(groups), 1, figsize=(7.5, 2.6 * len(groups) + 0.4), dpi=90, sharex=True, squeeze=False)
    styles = {"glassvid": dict(lw=2.2, color="black"), "glassvid (GT matte+plate)": dict(lw=1.8, color="tab:purple", ls="--")}
    for ax, (ptitle, ser) in zip(axes[:, 0], groups.items()):
        for name, (xs, ys) in ser.items():
            y = np.array([v if v is not None and math.isfinite(v) else np.nan for v in ys], float)
            ax.plot(list(xs), y, label=name, **styles.get(name, dict(lw=1.2)))
        ax.set_title(ptitle, fontsize=10)
        ax.set_ylabel(ylabel, fontsize=9)
        if log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, ncol=3, loc="best")
    axes[-1, 0].set_xlabel("frame", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------- markdown


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def fmt(v: float | None, digits: int = 2) -> str:
    """A number for a table: inf as ∞, NaN/None as n/a."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return f"{v:.{digits}f}"
