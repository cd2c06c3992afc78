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

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from glassvid.cache import PassStore, WorkDir, default_work_root, stable_hash
from glassvid.config import Config
from glassvid.depth import DepthEstimator, build_depth
from glassvid.errors import InputError, OutputError, PromptError
from glassvid.flow import FlowEstimator, build_flow
from glassvid.flow.ops import fb_consistency
from glassvid.io.images import parse_pattern
from glassvid.io import ClipInfo, Frame, check_output_path, list_sequence, open_sink, probe, read_frames, read_image, write_image
from glassvid.masks import MaskPropagator, build_masks
from glassvid.masks.matte import feather
from glassvid.plate import PlateCrop
from glassvid.plate.inpaint import fill_unseen
from glassvid.plate.propagate import BackgroundSweep
from glassvid.prompts import Prompt
from glassvid.render import render_glass
from glassvid.temporal import is_scene_cut, temporal_blend

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]
"""``(pass_name, frames_done, frames_total)``, called after each frame of a pass."""

PASSES = ("frames", "analyse", "plate", "render")
_PLATE_CONTEXT_PX = 16  # context around the hole kept for inpainting the never-seen pixels


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

    @property
    def frame_count(self) -> int:
        return self.frame_range[1] - self.frame_range[0] + 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name, p in self.passes.items():
            d["passes"][name]["fps"] = p.fps if np.isfinite(p.fps) else None
        return d


@dataclass
class _Run:
    """Per-run state shared by the passes (kept apart from the Pipeline's models)."""

    info: ClipInfo
    frames: range  # source frame indices
    work: WorkDir
    frame_store: PassStore
    analyse_store: PassStore
    plate_store: PassStore
    report: RunReport
    user_plates: list[Path] | None = None

    @property
    def n(self) -> int:
        return len(self.frames)

    def frame(self, i: int) -> np.ndarray:
        return self.frame_store.load_array("rgb", i)


class Pipeline:
    """Turns clips into glass clips. Build once, :meth:`run` on any number of clips.

    Backends come from ``config``; tests and advanced users may pass their own parts
    (``flow``, ``masks``, ``depth``) built any way they like.
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
    ) -> None:
        self.config = config or Config()
        self.work_root = Path(work_dir) if work_dir else default_work_root()
        self.progress = progress or (lambda name, done, total: None)
        self._flow = flow
        self._masks = masks
        self._depth = depth

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

    # -- the run ----------------------------------------------------------------------------
    def run(
        self,
        input: str | os.PathLike,
        output: str | os.PathLike | None,
        *,
        prompt: Prompt | None = None,
        matte: str | os.PathLike | None = None,
        plate: str | os.PathLike | None = None,
        frames: tuple[int, int] | None = None,
        save_masks: str | os.PathLike | None = None,
        save_plate: str | os.PathLike | None = None,
        fps: float | None = None,
    ) -> RunReport:
        """Convert ``input`` to ``output`` (a video file or an image-sequence pattern).

        ``prompt`` says which object (unless ``matte`` gives per-frame mattes);
        ``plate`` gives clean plates (a folder of per-frame images, or one image);
        ``frames`` is an inclusive ``(first, last)`` source frame range. With ``output``
        None, only the cached passes run (for evaluation and export).
        """
        run = self._prepare(input, output, prompt, matte, plate, frames, save_masks, save_plate, fps)
        self._frames_pass(run, input, fps)
        self._analyse_pass(run, prompt, matte)
        self._plate_pass(run)
        if output is not None:
            self._render_pass(run, output)
        if save_masks:
            self._save_masks(run, Path(save_masks))
        if save_plate:
            self._save_plates(run, Path(save_plate))
        run.work.root.joinpath("report.json").write_text(__import__("json").dumps(run.report.to_dict(), indent=1, default=str))
        return run.report

    # -- 0: validate everything before doing anything -----------------------------------
    def _prepare(self, input, output, prompt, matte, plate, frames, save_masks, save_plate, fps) -> _Run:
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
            if prompt is None:
                raise PromptError("no prompt given: say which object to turn into glass with --box X0,Y0,X1,Y1, --point X,Y or --mask PNG (or give --matte DIR)")
            prompt.validate(info.width, info.height, info.frame_count)
            if prompt.frame not in rng:
                raise PromptError(f"--prompt-frame {prompt.frame} is outside --frames {rng.start}-{rng.stop - 1}; prompt a frame inside the range")
        mattes = _check_per_frame_folder(matte, "--matte", info, rng) if matte is not None else None
        user_plates = _check_plate(plate, info, rng) if plate is not None else None

        clip_key = stable_hash("clip", info.identity, rng.start, rng.stop)
        work = WorkDir(self.work_root, clip_key)
        frame_key = stable_hash(info.identity, rng.start, rng.stop, fps)
        prompt_key = _prompt_key(prompt) if mattes is None else stable_hash([_file_id(p) for p in mattes])
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
        return _Run(
            info=info,
            frames=rng,
            work=work,
            frame_store=work.store("frames", frame_key),
            analyse_store=work.store("analyse", analyse_key),
            plate_store=work.store("plate", plate_key),
            report=report,
            user_plates=user_plates,
        )

    def _timed(self, run: _Run, name: str, store: PassStore | None) -> "_PassTimer":
        return _PassTimer(run.report, name, store)

    # -- 1: frames ----------------------------------------------------------------------------
    def _frames_pass(self, run: _Run, input: Any, fps: float | None) -> None:
        store = run.frame_store
        if store.is_complete():
            run.report.passes["frames"] = PassReport("reused")
            log.info("frames: reused %s", store.dir)
            return
        with self._timed(run, "frames", store) as t:
            pts: list[int | None] = []
            for frame in read_frames(input, frames=run.frames, fps=fps):
                i = frame.index - run.frames.start
                if not store.has("rgb", i):
                    store.save_array("rgb", i, frame.rgb)
                pts.append(frame.pts)
                t.tick(1)
                self.progress("frames", i + 1, run.n)
            store.mark_complete({"frames": run.n, "pts": pts})

    # -- 2: analyse ---------------------------------------------------------------------------
    def _analyse_pass(self, run: _Run, prompt: Prompt | None, matte: Any) -> None:
        store = run.analyse_store
        if store.is_complete():
            run.report.passes["analyse"] = PassReport("reused")
            meta = store.meta()
            run.report.mask_confidence = meta.get("mask_confidence", [])
            run.report.warnings.extend(meta.get("warnings", []))
            log.info("analyse: reused %s", store.dir)
            return
        with self._timed(run, "analyse", store) as t:
            n = run.n
            total = 3 * n  # flow, masks, depth: one progress unit each per frame
            done = 0
            # a: flow between neighbours, both directions, stored at the later frame
            prev = run.frame(0)
            for i in range(1, n):
                cur = run.frame(i)
                if not store.has("flow", i, "npz"):
                    fwd, bwd = self.flow.pair(prev, cur)
                    store.save_arrays("flow", i, fwd=fwd.astype(np.float16), bwd=bwd.astype(np.float16))
                prev = cur
                done += 1
                self.progress("analyse", done, total)
            done += 1
            # b: masks
            confidence = [1.0] * n
            if matte is not None:
                for i, path in enumerate(_check_per_frame_folder(matte, "--matte", run.info, run.frames)):
                    if not store.has("mask", i, "png"):
                        store.save_mask("mask", i, read_image(path, mode="gray") > 127)
                    done += 1
                    self.progress("analyse", done, total)
            else:
                for i, conf in self._propagate_masks(run, prompt):  # prompt validated in _prepare
                    confidence[i] = conf
                    done += 1
                    self.progress("analyse", done, total)
            # c: shape of the object
            empty = []
            for i in range(n):
                if not store.has("depth", i, "npz"):
                    mask = store.load_mask("mask", i)
                    if not mask.any():
                        empty.append(run.frames.start + i)
                    d = self.depth(run.frame(i), mask)
                    store.save_arrays("depth", i, height=d.height.astype(np.float16), radius=np.float32(d.radius_px))
                done += 1
                self.progress("analyse", done, total)
                t.tick(0)
            t.frames = n
            warnings = []
            if empty:
                warnings.append(f"the object is not found in {len(empty)} frame(s) ({_ranges(empty)}); they are left unchanged")
            run.report.warnings.extend(warnings)
            run.report.mask_confidence = confidence
            store.mark_complete({"mask_confidence": confidence, "warnings": warnings})

    def _propagate_masks(self, run: _Run, prompt: Prompt | None) -> Iterator[tuple[int, float]]:
        """Masks from the prompt frame outwards; yields ``(i, confidence)`` for every frame.

        Each direction is a unit of resumption: a direction that finished (its marker
        exists) is reused; one that was interrupted is propagated again from the prompt
        frame, so a resumed run gives exactly the masks of an uninterrupted one (the
        propagator's state, e.g. its colour model, depends on the whole path).
        """
        store = run.analyse_store
        if prompt is None:
            raise PromptError("no prompt given: say which object to turn into glass with --box, --point or --mask (or give --matte DIR)")
        k = prompt.frame - run.frames.start
        if not store.has("mask", k, "png"):
            store.save_mask("mask", k, self.masks.initial_mask(run.frame(k), prompt))
        yield k, 1.0
        for direction, name in ((1, "forward"), (-1, "backward")):
            idx = range(k + direction, run.n if direction > 0 else -1, direction)
            marker = f"masks-{name}.json"
            if (store.dir / marker).is_file():
                confidence = store.load_json(marker)["confidence"]
                yield from zip(idx, confidence)
                continue
            state = self.masks.start(run.frame(k), store.load_mask("mask", k))
            confidence = []
            for i in idx:
                pair = store.load_arrays("flow", max(i, i - direction))
                to_prev, from_prev = (pair["bwd"], pair["fwd"]) if direction > 0 else (pair["fwd"], pair["bwd"])
                to_prev = to_prev.astype(np.float32)
                valid = fb_consistency(to_prev, from_prev.astype(np.float32))
                mask, conf = self.masks.step(state, run.frame(i), to_prev, valid)
                store.save_mask("mask", i, mask)
                confidence.append(float(conf))
                yield i, conf
            store.save_json(marker, {"confidence": confidence})

    # -- 3: plate -----------------------------------------------------------------------------
    def _plate_pass(self, run: _Run) -> None:
        store = run.plate_store
        if run.user_plates is not None:
            run.report.passes["plate"] = PassReport("reused")
            log.info("plate: using the given plates")
            return
        if store.is_complete():
            run.report.passes["plate"] = PassReport("reused")
            log.info("plate: reused %s", store.dir)
            return
        cfg = self.config.plate
        n = run.n
        with self._timed(run, "plate", store) as t:
            holes = _HoleSource(run, cfg.hole_dilate_px)
            # forward sweep: store what it carried, inside the hole's box
            if not (store.dir / "forward.json").is_file():
                sweep = BackgroundSweep(max_age=cfg.max_age)
                for i in range(n):
                    flow = None if i == 0 else run.analyse_store.load_arrays("flow", i)["bwd"].astype(np.float32)
                    hole = holes(i)
                    rgb, age = sweep.step(run.frame(i), hole, flow)
                    box = holes.box(i)
                    if box is not None:
                        x0, y0, x1, y1 = box
                        store.save_arrays("forward", i, rgb=np.clip(rgb[y0:y1, x0:x1] + 0.5, 0, 255).astype(np.uint8), age=age[y0:y1, x0:x1])
                    self.progress("plate", i + 1, 2 * n)
                store.save_json("forward.json", {"frames": n})
            # backward sweep: combine with the forward result, inpaint the never-seen rest
            sweep = BackgroundSweep(max_age=cfg.max_age)
            for i in reversed(range(n)):
                flow = None if i == n - 1 else run.analyse_store.load_arrays("flow", i + 1)["fwd"].astype(np.float32)
                frame = run.frame(i)
                hole = holes(i)
                rgb_b, age_b = sweep.step(frame, hole, flow)
                box = holes.box(i)
                if box is not None:
                    x0, y0, x1, y1 = box
                    fwd = store.load_arrays("forward", i)
                    rgb_b = np.clip(rgb_b[y0:y1, x0:x1] + 0.5, 0, 255).astype(np.uint8)
                    age_b = age_b[y0:y1, x0:x1]
                    take_fwd = fwd["age"] < age_b
                    rgb = np.where(take_fwd[..., None], fwd["rgb"], rgb_b)
                    age = np.where(take_fwd, fwd["age"], age_b)
                    unknown = ~np.isfinite(age)
                    rgb = fill_unseen(np.ascontiguousarray(rgb), unknown, radius_px=cfg.inpaint_radius_px, method=cfg.inpaint_method)
                    store.save_arrays("plate", i, box=np.array(box), rgb=rgb, age=age)
                    store.path("forward", i, "npz").unlink()
                self.progress("plate", 2 * n - i, 2 * n)
                t.tick(0)
            t.frames = n
            store.mark_complete({"frames": n})

    def plate_crop(self, run: _Run, i: int) -> PlateCrop | None:
        """The recovered plate of frame ``i`` (None when the frame has no hole)."""
        store = run.plate_store
        if not store.has("plate", i, "npz"):
            return None
        d = store.load_arrays("plate", i)
        return PlateCrop(box=tuple(int(v) for v in d["box"]), rgb=d["rgb"], age=d["age"])  # type: ignore[arg-type]

    def _plate_frame(self, run: _Run, i: int, frame: np.ndarray) -> np.ndarray:
        if run.user_plates is not None:
            path = run.user_plates[0] if len(run.user_plates) == 1 else run.user_plates[i]
            return read_image(path)
        crop = self.plate_crop(run, i)
        return frame if crop is None else crop.paste(frame)

    # -- 4: render ------------------------------------------------------------------------------
    def _render_pass(self, run: _Run, output: Any) -> None:
        gcfg, tcfg = self.config.glass, self.config.temporal
        feather_px = self.config.masks.feather_px + gcfg.edge_px
        pts = run.frame_store.meta()["pts"]
        with self._timed(run, "render", None) as t:
            with open_sink(output, run.info, frames=run.frames, audio_from=run.info.path if run.info.kind == "video" else None) as sink:
                prev_frame = prev_out = None
                for i in range(run.n):
                    frame = run.frame(i)
                    mask = run.analyse_store.load_mask("mask", i)
                    depth = run.analyse_store.load_arrays("depth", i)
                    matte = feather(mask, feather_px)
                    plate = self._plate_frame(run, i, frame)
                    out, _layer = render_glass(frame, plate, matte, depth["height"].astype(np.float32), float(depth["radius"]), gcfg)
                    if prev_out is not None and not is_scene_cut(prev_frame, frame, tcfg.cut_threshold):
                        flows = run.analyse_store.load_arrays("flow", i)
                        out = temporal_blend(out, prev_out, flows["bwd"].astype(np.float32), flows["fwd"].astype(np.float32), matte > 0, tcfg)
                    sink.write(Frame(index=run.frames.start + i, rgb=out, pts=pts[i]))
                    prev_frame, prev_out = frame, out
                    t.tick(1)
                    self.progress("render", i + 1, run.n)

    # -- side outputs -----------------------------------------------------------------------------
    def _save_masks(self, run: _Run, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(run.n):
            write_image(folder / f"{run.frames.start + i:05d}.png", np.where(run.analyse_store.load_mask("mask", i), 255, 0).astype(np.uint8))

    def _save_plates(self, run: _Run, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(run.n):
            frame = run.frame(i)
            write_image(folder / f"{run.frames.start + i:05d}.png", self._plate_frame(run, i, frame))


class _PassTimer:
    """Times a pass and records it in the report; marks 'resumed' if its folder had files."""

    def __init__(self, report: RunReport, name: str, store: PassStore | None) -> None:
        self.report = report
        self.name = name
        self.frames = 0
        self.resumed = store is not None and store.dir.is_dir() and any(store.dir.iterdir())

    def tick(self, k: int) -> None:
        self.frames += k

    def __enter__(self) -> "_PassTimer":
        self.t0 = time.perf_counter()
        log.info("%s: %s", self.name, "resuming" if self.resumed else "running")
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.report.passes[self.name] = PassReport("resumed" if self.resumed else "ran", time.perf_counter() - self.t0, self.frames)


class _HoleSource:
    """Per-frame hole (mask grown by ``grow_px``) and its box with inpainting context."""

    def __init__(self, run: _Run, grow_px: int) -> None:
        import cv2

        self.run = run
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow_px + 1, 2 * grow_px + 1)) if grow_px > 0 else None
        self._cache: dict[int, np.ndarray] = {}

    def __call__(self, i: int) -> np.ndarray:
        import cv2

        if i not in self._cache:
            self._cache.clear()
            m = self.run.analyse_store.load_mask("mask", i)
            if self.kernel is not None:
                m = cv2.dilate(m.astype(np.uint8), self.kernel) > 0
            self._cache[i] = m
        return self._cache[i]

    def box(self, i: int) -> tuple[int, int, int, int] | None:
        from glassvid.masks.classic import crop_box

        return crop_box(self(i), _PLATE_CONTEXT_PX)


# -- helpers -----------------------------------------------------------------------------------


def _file_id(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _prompt_key(prompt: Prompt | None) -> str:
    if prompt is None:
        return "none"
    mask_hash = stable_hash(np.packbits(prompt.mask).tobytes().hex()) if prompt.mask is not None else None
    return stable_hash(prompt.frame, prompt.box, prompt.points, mask_hash)


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
    prompt: Prompt | None = None,
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
