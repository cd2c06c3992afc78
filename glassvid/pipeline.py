"""The pipeline: analyse, plate and render passes over a cached work directory.

1. **frames** (streaming decode) -> raw frames on disk, for the passes that need random
   or reverse access. Keyed by the input's identity and the frame range.
2. **analyse** (streaming): optical flow both ways between neighbours, masks from the
   prompt propagated forward and backward (or the user's mattes), the object's shape.
3. **plate**: background propagation forward, then backward, through the clip; what no
   frame shows is inpainted (or the user's plates are used).
4. **render** (streaming): glass render, temporal blend, encode (+ audio).

Each pass's folder is keyed by the hash of everything it depends on, so a run with only
the glass look changed reuses analyse and plate and re-does render; an interrupted run
continues from the per-frame files already written.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np

from glassvid.cache import PassStore, WorkDir, atomic_write, code_fingerprint, default_work_root, stable_hash
from glassvid.clip import ClipCache
from glassvid.config import Config
from glassvid.depth import DepthEstimator, build_depth
from glassvid.errors import InputError, OutputError, PromptError
from glassvid.flow import FlowEstimator, build_flow
from glassvid.flow.ops import chain, checked_step
from glassvid.io.images import parse_pattern
from glassvid.io import BackgroundWriter, ClipInfo, Frame, check_output_path, list_sequence, open_sink, probe, read_frames, read_image, write_image
from glassvid.masks import MaskPropagator, build_masks
from glassvid.masks.background import NeighbourFrames, background_view
from glassvid.masks.propagate import propagate
from glassvid.plate import Inpainter, build_inpainter
from glassvid.plate.recover import recover_plates
from glassvid.prompts import Prompt, as_prompts
from glassvid.render.sequence import render_clip

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
"""``(pass_name, frames_done, frames_total)``, called after each frame of a pass."""

PASSES = ("frames", "analyse", "plate", "render")
PROMPT_MOTION_FRAMES = 5  # frames of motion a box prompt is seeded with (see ClassicMasks.initial_mask)


@dataclass
class PassReport:
    status: str  # "ran", "reused" or "resumed"
    seconds: float = 0.0
    frames: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


@dataclass
class RunReport:
    """What a run did: the clip, each pass's status and speed, warnings, where things are."""

    input: str
    output: str | None
    frame_range: tuple[int, int]  # first and last source frame index, inclusive
    width: int
    height: int
    fps: float
    work_dir: str
    passes: dict[str, PassReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    mask_confidence: list[float] = field(default_factory=list)
    plate: dict[str, Any] = field(default_factory=dict)  # the plate pass's own report: provenance, model calls, loop scores
    # "incomplete" while the run works, "complete" when every pass it was asked for has
    # finished; with ``run`` it lets `glassvid export` reopen the cache (glassvid.export.run)
    status: str = "incomplete"
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        return self.frame_range[1] - self.frame_range[0] + 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name, p in self.passes.items():
            d["passes"][name]["fps"] = p.fps if np.isfinite(p.fps) else None
        return d


class Pipeline:
    """Turns clips into glass clips. Build once, :meth:`run` on any number of clips.

    Backends come from ``config``; tests and advanced users may pass their own parts
    (``flow``, ``masks``, ``depth``, ``inpainter``) built any way they like.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        work_dir: str | os.PathLike | None = None,
        progress: ProgressCallback | None = None,
        flow: FlowEstimator | None = None,
        masks: MaskPropagator | None = None,
        depth: DepthEstimator | None = None,
        inpainter: Inpainter | None = None,
    ) -> None:
        self.config = config or Config()
        self.work_root = Path(work_dir) if work_dir else default_work_root()
        self.progress = progress or (lambda name, done, total: None)
        self._flow = flow
        self._masks = masks
        self._depth = depth
        self._inpainter = inpainter

    # -- parts, built on first use so a cached run loads no model ------------------------
    @property
    def flow(self) -> FlowEstimator:
        if self._flow is None:
            self._flow = build_flow(self.config.flow, self.config.runtime)
        return self._flow

    @property
    def masks(self) -> MaskPropagator:
        if self._masks is None:
            self._masks = build_masks(self.config.masks, self.config.runtime)
        return self._masks

    @property
    def depth(self) -> DepthEstimator:
        if self._depth is None:
            self._depth = build_depth(self.config.depth, self.config.runtime)
        return self._depth

    @property
    def inpainter(self) -> Inpainter:
        if self._inpainter is None:
            self._inpainter = build_inpainter(self.config.plate, self.config.runtime)
        return self._inpainter

    # -- the run ----------------------------------------------------------------------------
    def run(
        self,
        input: str | os.PathLike,
        output: str | os.PathLike | None,
        *,
        prompt: Prompt | Sequence[Prompt] | None = None,
        matte: str | os.PathLike | None = None,
        plate: str | os.PathLike | None = None,
        frames: tuple[int, int] | None = None,
        save_masks: str | os.PathLike | None = None,
        save_plate: str | os.PathLike | None = None,
        fps: float | None = None,
    ) -> RunReport:
        """Convert ``input`` to ``output`` (a video file or an image-sequence pattern).

        ``prompt`` says which object (unless ``matte`` gives per-frame mattes): one
        prompt, or several on different frames (each later one replaces the propagated
        mask from its frame on);
        ``plate`` gives clean plates (a folder of per-frame images, or one image);
        ``frames`` is an inclusive ``(first, last)`` source frame range. With ``output``
        None, only the cached passes run (for evaluation and export).
        """
        prompts = as_prompts(prompt)
        clip, report, mattes = self._prepare(input, output, prompts, matte, plate, frames, save_masks, save_plate, fps)
        report.run = _run_record(clip, self.config, prompts, matte, plate, fps)
        _write_report(clip.work.root / "report.json", report)  # marks the run incomplete until it ends
        self._frames_pass(clip, report, fps)
        self._analyse_pass(clip, report, prompts, mattes)
        self._plate_pass(clip, report)
        if output is not None:
            self._render_pass(clip, report, output)
        if save_masks:
            self._save_masks(clip, Path(save_masks))
        if save_plate:
            self._save_plates(clip, Path(save_plate))
        report.status = "complete"
        _write_report(clip.work.root / "report.json", report)
        return report

    def analyse(self, input: str | os.PathLike, **kwargs: Any) -> ClipCache:
        """Run (or reuse) the frames, analyse and plate passes; return the clip's cache."""
        prompts = as_prompts(kwargs.get("prompt"))
        clip, report, mattes = self._prepare(input, None, prompts, kwargs.get("matte"), kwargs.get("plate"), kwargs.get("frames"), None, None, kwargs.get("fps"))
        self._frames_pass(clip, report, kwargs.get("fps"))
        self._analyse_pass(clip, report, prompts, mattes)
        self._plate_pass(clip, report)
        return clip

    # -- 0: validate everything before doing anything -----------------------------------
    def _prepare(self, input: Any, output: Any, prompts: tuple[Prompt, ...], matte: Any, plate: Any, frames: tuple[int, int] | None, save_masks: Any, save_plate: Any, fps: float | None) -> tuple[ClipCache, RunReport, list[Path] | None]:
        info = probe(input, fps=fps)
        if frames is None:
            rng = range(0, info.frame_count)
        else:
            a, b = frames
            if not (0 <= a <= b < info.frame_count):
                raise InputError(f"--frames {a}-{b} is outside the clip, which has frames 0-{info.frame_count - 1}; give a range inside it")
            rng = range(a, b + 1)
        if output is not None:
            check_output_path(output, input)
            pattern = parse_pattern(output)
            _check_writable_dir(pattern.folder if pattern is not None else Path(output).parent, "output")
        for label, folder in (("--save-masks", save_masks), ("--save-plate", save_plate)):
            if folder:
                _check_writable_dir(Path(folder), label)
        if matte is None:
            if not prompts:
                raise PromptError("no prompt given: say which object to turn into glass with --box X0,Y0,X1,Y1, --point X,Y or --mask PNG (or give --matte DIR)")
            for prompt in prompts:
                prompt.validate(info.width, info.height, info.frame_count)
                if prompt.frame not in rng:
                    raise PromptError(f"--prompt-frame {prompt.frame} is outside --frames {rng.start}-{rng.stop - 1}; prompt a frame inside the range")
        mattes = _check_per_frame_folder(matte, "--matte", info, rng) if matte is not None else None
        user_plates = _check_plate(plate, info, rng) if plate is not None else None

        work = WorkDir(self.work_root, stable_hash("clip", info.identity, rng.start, rng.stop))
        frame_key = stable_hash(info.identity, rng.start, rng.stop, fps, code_fingerprint())  # every later key builds on it: other code, other caches
        prompt_key = _prompt_key(prompts) if mattes is None else stable_hash([_file_id(p) for p in mattes])
        analyse_key = stable_hash(frame_key, self.config.section_hash("flow", "masks", "depth"), prompt_key)
        plate_key = stable_hash(analyse_key, self.config.section_hash("plate"), [_file_id(p) for p in user_plates] if user_plates else None)
        report = RunReport(
            input=str(input),
            output=str(output) if output is not None else None,
            frame_range=(rng.start, rng.stop - 1),
            width=info.width,
            height=info.height,
            fps=float(info.fps),
            work_dir=str(work.root),
        )
        clip = ClipCache(
            info=info,
            frames=rng,
            work=work,
            frame_store=work.store("frames", frame_key),
            analyse_store=work.store("analyse", analyse_key),
            plate_store=work.store("plate", plate_key),
            user_plates=user_plates,
        )
        return clip, report, mattes

    # -- 1: frames ----------------------------------------------------------------------------
    def _frames_pass(self, clip: ClipCache, report: RunReport, fps: float | None) -> None:
        store = clip.frame_store
        if store.is_complete():
            report.passes["frames"] = PassReport("reused")
            log.info("frames: reused %s", store.dir)
            return
        with _PassTimer(report, "frames", store) as t:
            pts: list[int | None] = []
            for frame in read_frames(clip.info.path, frames=clip.frames, fps=fps):
                i = frame.index - clip.frames.start
                if not store.has("rgb", i):
                    store.save_array("rgb", i, frame.rgb)
                pts.append(frame.pts)
                t.frames += 1
                self.progress("frames", i + 1, clip.n)
            store.mark_complete({"frames": clip.n, "pts": pts})

    # -- 2: analyse ---------------------------------------------------------------------------
    def _analyse_pass(self, clip: ClipCache, report: RunReport, prompts: tuple[Prompt, ...], mattes: list[Path] | None) -> None:
        store = clip.analyse_store
        if store.is_complete():
            report.passes["analyse"] = PassReport("reused")
            meta = store.meta()
            report.mask_confidence = meta.get("mask_confidence", [])
            report.warnings.extend(meta.get("warnings", []))
            log.info("analyse: reused %s", store.dir)
            return
        n = clip.n
        total = 3 * n  # flow, masks, shape: one progress unit each per frame
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            self.progress("analyse", done, total)

        with _PassTimer(report, "analyse", store) as t:
            # a: flow between neighbours, both directions, stored at the later frame
            prev = clip.frame(0)
            step()
            for i in range(1, n):
                cur = clip.frame(i)
                if not store.has("flow", i, "npy"):
                    fwd, bwd = self.flow.pair(prev, cur)
                    store.save_array("flow", i, np.stack([fwd, bwd]).astype(np.float16))
                prev = cur
                step()
            # b: masks
            confidence = [1.0] * n
            if mattes is not None:
                for i, path in enumerate(mattes):
                    if not store.has("mask", i, "png"):
                        store.save_mask("mask", i, read_image(path, mode="gray") > 127)
                    step()
            else:
                for i, conf in self._propagate_masks(clip, prompts):
                    confidence[i] = float(conf)
                    step()
            # c: the object's shape
            empty = []
            for i in range(n):
                mask = clip.mask(i)
                if not mask.any():
                    empty.append(clip.frames.start + i)
                if not store.has("depth", i, "npz"):
                    d = self.depth(clip.frame(i), mask)
                    # the height is 0 outside the object: keep only its box
                    x, y, w, h = cv2.boundingRect((d.height > 0).view(np.uint8))
                    store.save_arrays("depth", i, box=np.array([x, y, x + w, y + h]), height=d.height[y : y + h, x : x + w].astype(np.float16), radius=np.float32(d.radius_px))
                step()
            t.frames = n
            warnings = []
            if empty:
                warnings.append(f"the object is not found in {len(empty)} frame(s) ({_ranges(empty)}); they are left unchanged")
            # frames with a mask that is likely off the object (empty ones are named above)
            gone = set(empty)
            unsure = [f for f, c in enumerate(confidence, clip.frames.start) if c < self.config.masks.warn_below and f not in gone]
            if unsure:
                warnings.append(f"the mask is unsure in {len(unsure)} frame(s) ({_ranges(unsure)}): check them with --save-masks, and where the mask left the object add a prompt on one of them (--prompt-file: a list of prompts, each with its frame)")
            report.warnings.extend(warnings)
            report.mask_confidence = confidence
            store.mark_complete({"mask_confidence": confidence, "warnings": warnings})

    def _propagate_masks(self, clip: ClipCache, prompts: tuple[Prompt, ...]) -> Iterator[tuple[int, float]]:
        """Masks from the prompt frames outwards; yields ``(i, confidence)`` for every frame once.

        ``prompts``: at least one, sorted by frame (``_prepare`` has checked them).

        Backward from the earliest prompt frame to the clip's start; forward from each
        prompt frame up to the next one (which wins from its frame on) or the clip's end,
        each with its unsure stretches revisited (:func:`glassvid.masks.propagate.propagate`).
        Each such run is a unit of resumption: one that finished (its marker exists) is
        reused; one that was interrupted is propagated again from its prompt frame, so a
        resumed run gives exactly the masks of an uninterrupted one (the propagator's
        state, e.g. its colour model, depends on the whole path).
        """
        store = clip.analyse_store
        starts = [p.frame - clip.frames.start for p in prompts]
        for k, prompt in zip(starts, prompts):
            if not store.has("mask", k, "png"):
                hinted = prompt.box is not None and self.masks.uses_clip_hints
                motion = _prompt_motion(clip, k) if hinted else None
                view = _prompt_view(clip, k, prompt) if hinted else None
                difference, behind = view if view is not None else (None, None)
                store.save_mask("mask", k, self.masks.initial_mask(clip.frame(k), prompt, motion, difference, behind))
            yield k, 1.0
        runs = [(starts[0], -1, "backward")]
        for j, k in enumerate(starts):
            end = starts[j + 1] if j + 1 < len(starts) else clip.n
            runs.append((k, end, "forward" if j == 0 else f"forward-{k}"))
        for k, end, name in runs:
            direction = -1 if end < k else 1
            idx = range(k + direction, end, direction)
            marker = f"masks-{name}.json"
            if (store.dir / marker).is_file():
                yield from zip(idx, store.load_json(marker)["confidence"])
                continue
            state = self.masks.start(clip.frame(k), clip.mask(k))
            confidence = []
            neighbours = NeighbourFrames(clip.frame, lambda i: clip.flow(i, i - 1), clip.n) if self.masks.uses_clip_hints else None
            for i, mask, conf in propagate(self.masks, state, [k, *idx], clip.frame, lambda i, j: _checked_flow(clip, i, j), self.config.masks.revisit_below, neighbours):
                store.save_mask("mask", i, mask)
                confidence.append(float(conf))
                yield i, conf
            store.save_json(marker, {"confidence": confidence})

    # -- 3: plate -----------------------------------------------------------------------------
    def _plate_pass(self, clip: ClipCache, report: RunReport) -> None:
        store = clip.plate_store
        if clip.user_plates is not None:
            report.passes["plate"] = PassReport("reused")
            log.info("plate: using the given plates")
            return
        if store.is_complete():
            report.passes["plate"] = PassReport("reused")
            report.plate = store.meta()
            log.info("plate: reused %s", store.dir)
            return
        with _PassTimer(report, "plate", store) as t:
            meta = recover_plates(clip, self.config.plate, self.inpainter, lambda done, total: self.progress("plate", done, total), matte_feather_px=self.config.masks.feather_px)
            t.frames = clip.n
            store.mark_complete(meta)
            report.plate = meta

    # -- 4: render ------------------------------------------------------------------------------
    def _render_pass(self, clip: ClipCache, report: RunReport, output: Any) -> None:
        pts = clip.frame_store.meta()["pts"]
        audio = clip.info.path if clip.info.kind == "video" else None
        with _PassTimer(report, "render", None) as t:
            with open_sink(output, clip.info, frames=clip.frames, audio_from=audio) as sink, BackgroundWriter(sink) as writer:
                for i, out, _layer in render_clip(clip, self.config):
                    writer.write(Frame(index=clip.frames.start + i, rgb=out, pts=pts[i]))
                    t.frames += 1
                    self.progress("render", i + 1, clip.n)

    # -- side outputs -----------------------------------------------------------------------------
    def _save_masks(self, clip: ClipCache, folder: Path) -> None:
        for i in range(clip.n):
            write_image(folder / f"{clip.frames.start + i:05d}.png", np.where(clip.mask(i), 255, 0).astype(np.uint8))

    def _save_plates(self, clip: ClipCache, folder: Path) -> None:
        """Plates as ``folder/NNNNN.png`` and their confidence as ``folder/confidence/NNNNN.png`` (8-bit, 255 = seen in that frame)."""
        for i in range(clip.n):
            name = f"{clip.frames.start + i:05d}.png"
            write_image(folder / name, clip.plate(i))
            write_image(folder / "confidence" / name, np.clip(clip.plate_confidence(i) * 255.0 + 0.5, 0, 255).astype(np.uint8))


class _PassTimer:
    """Times a pass and records it in the report; marks 'resumed' if its folder had files."""

    def __init__(self, report: RunReport, name: str, store: PassStore | None) -> None:
        self.report = report
        self.name = name
        self.frames = 0
        self.resumed = store is not None and store.dir.is_dir() and any(store.dir.iterdir())

    def __enter__(self) -> "_PassTimer":
        self.t0 = time.perf_counter()
        log.info("%s: %s", self.name, "resuming" if self.resumed else "running")
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.report.passes[self.name] = PassReport("resumed" if self.resumed else "ran", time.perf_counter() - self.t0, self.frames)


# -- helpers -----------------------------------------------------------------------------------


def _write_report(path: Path, report: RunReport) -> None:
    text = json.dumps(report.to_dict(), indent=1, default=str)
    atomic_write(path, lambda p: Path(p).write_text(text))


def _run_record(clip: ClipCache, config: Config, prompts: tuple[Prompt, ...], matte: Any, plate: Any, fps: float | None) -> dict[str, Any]:
    """What reopening this run's cache needs (`glassvid export`): the resolved config,
    the clip, the pass folders, and the arguments that chose them (for the record)."""
    info = clip.info
    return {
        "config": config.to_dict(),
        "clip": {
            "path": info.path, "kind": info.kind, "width": info.width, "height": info.height,
            "frame_count": info.frame_count, "fps": str(info.fps), "time_base": str(info.time_base),
            "has_audio": info.has_audio, "identity": info.identity,
        },
        "frames": [clip.frames.start, clip.frames.stop - 1],
        "stores": {s.name: s.dir.name for s in (clip.frame_store, clip.analyse_store, clip.plate_store)},
        "user_plates": [str(p) for p in clip.user_plates] if clip.user_plates is not None else None,
        "prompts": [
            {"frame": p.frame, "box": p.box, "points": [list(pt) for pt in p.points], "mask": p.mask is not None} for p in prompts
        ],
        "matte": str(matte) if matte is not None else None,
        "plate": str(plate) if plate is not None else None,
        "fps": fps,
    }


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _prompt_key(prompts: tuple[Prompt, ...]) -> str:
    if not prompts:
        return "none"
    keys = []
    for p in prompts:
        mask_hash = stable_hash(np.packbits(p.mask).tobytes().hex()) if p.mask is not None else None
        keys.append(stable_hash(p.frame, p.box, p.points, mask_hash))
    return keys[0] if len(keys) == 1 else stable_hash(keys)


def _checked_flow(clip: ClipCache, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """The flow from frame ``i`` to its neighbour ``j`` (HxWx2 float32) and where it passes the forward-backward check (HxW bool)."""
    return checked_step(i, j, *clip.flows(max(i, j)))  # both directions from the one file stored at the later frame


def _prompt_motion(clip: ClipCache, k: int) -> np.ndarray | None:
    """Where frame ``k``'s pixels go over the next ``PROMPT_MOTION_FRAMES`` frames (the previous ones
    near the clip's end), along the cached flows: lets a box prompt tell a moving object from its background."""
    steps = min(PROMPT_MOTION_FRAMES, max(clip.n - 1 - k, k))
    if steps < 1:
        return None
    direction = 1 if clip.n - 1 - k >= steps else -1
    return chain(clip.flow(t, t + direction) for t in range(k, k + direction * steps, direction))


def _prompt_view(clip: ClipCache, k: int, prompt: Prompt) -> tuple[np.ndarray, np.ndarray] | None:
    """How far frame ``k``'s pixels around its box are from what the frames after it (then before it) show there,
    and what they show, aligned along the cached flows: lets a box prompt tell the object from its background
    (see background_view)."""
    box = prompt.clipped_box(clip.info.width, clip.info.height)
    if box is None or box[2] <= box[0] or box[3] <= box[1]:
        return None
    after = ((clip.frame(t), clip.flow(t, t - 1)) for t in range(k + 1, clip.n))
    before = ((clip.frame(t), clip.flow(t, t + 1)) for t in range(k - 1, -1, -1))
    return background_view(clip.frame(k), box, [after, before])


def _ranges(indices: Sequence[int]) -> str:
    """``[1,2,3,7]`` -> ``"1-3, 7"``."""
    out = []
    start = prev = indices[0]
    for v in list(indices[1:]) + [None]:
        if v is not None and v == prev + 1:
            prev = v
            continue
        out.append(f"{start}-{prev}" if prev != start else f"{start}")
        if v is not None:
            start = prev = v
    return ", ".join(out)


def _check_writable_dir(folder: Path, label: str) -> None:
    """Create ``folder`` if needed and prove it takes a file, before any pass runs."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe_file = folder / ".glassvid-write-test"
        probe_file.write_text("")
        probe_file.unlink()
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"{label} folder '{folder}' (or a folder above it) is a file, not a folder; choose another folder") from None
    except OSError as exc:
        raise OutputError(f"{label} folder '{folder}' is not writable ({exc.strerror or exc}); choose a folder you can write to") from None


def _check_per_frame_folder(folder: Any, label: str, info: ClipInfo, rng: range) -> list[Path]:
    """Per-frame images for the frames in ``rng`` (one per source frame, sorted by number)."""
    try:
        files = list_sequence(folder)
    except InputError as exc:
        raise InputError(f"{label}: {exc}") from None
    if len(files) != info.frame_count:
        raise InputError(f"{label} '{folder}' holds {len(files)} images but the clip has {info.frame_count} frames; give one image per frame")
    first = read_image(files[rng.start], mode="gray")
    if first.shape != (info.height, info.width):
        raise InputError(f"{label} images are {first.shape[1]}x{first.shape[0]} but the clip is {info.width}x{info.height}; give images of the clip's size")
    return [files[i] for i in rng]


def _check_plate(plate: Any, info: ClipInfo, rng: range) -> list[Path]:
    p = Path(plate)
    if p.is_file():
        img = read_image(p)
        if img.shape[:2] != (info.height, info.width):
            raise InputError(f"--plate image is {img.shape[1]}x{img.shape[0]} but the clip is {info.width}x{info.height}; give a plate of the clip's size")
        return [p]
    return _check_per_frame_folder(plate, "--plate", info, rng)


def convert(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    prompt: Prompt | Sequence[Prompt] | None = None,
    preset: str | None = None,
    config: Config | None = None,
    sets: Sequence[str] = (),
    work_dir: str | os.PathLike | None = None,
    progress: ProgressCallback | None = None,
    **kwargs: Any,
) -> RunReport:
    """One call: convert ``input`` to ``output`` with a preset and overrides (see :meth:`Pipeline.run`)."""
    from glassvid.config import load_config

    cfg = load_config(preset, None, sets, base=config)
    return Pipeline(cfg, work_dir=work_dir, progress=progress).run(input, output, prompt=prompt, **kwargs)
