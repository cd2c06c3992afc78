"""Measuring a result against ground truth, beside the baselines every figure needs.

A ground-truth folder holds some of: ``input/`` (the opaque clip), ``glass/`` (the same
object rendered as glass: the target), ``plate/`` (the scene without the object),
``mask/`` or ``masks/`` (the object's silhouette per frame), ``frames/`` (a real clip's
frames when there is no ``input/``). :func:`evaluate` measures what the folder allows:

- **render** (needs ``glass/``): PSNR and SSIM inside the object region (the mask dilated
  by ``region_px``) and outside it; the temporal warping error inside the region under
  the input's flow (Lai et al., ECCV 2018) and *flicker*, the same error under the
  candidate's own flow (only changes no motion explains). Baselines: the opaque input,
  per-frame OpenCV inpainting of the object, their 50 % blend (the naive "make it
  transparent"), the true plate (invisible glass), and ``glass/`` itself (whose warping
  error is the floor real glass sets). Every candidate also gets its See-Through Score
  (:mod:`glassvid.score`, which uses no ground truth: the candidate, the input, the
  mask and a plate -- the result's ``plate=`` when given, else the true plate).
- **masks** (needs masks in the folder and ``masks=`` given): J (IoU) and F (DAVIS
  boundary measure) per frame, skipping the prompt frame; baseline: the prompt frame's
  mask held still.
- **plate** (needs ``plate/`` and ``plate=`` given): PSNR inside the mask against the true
  plate; baseline: per-frame OpenCV inpainting.

Everything streams frame by frame: memory does not grow with the clip's length.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from glassvid.errors import InputError
from glassvid.io import list_sequence, read_frames, read_image
from glassvid.metrics import boundary_f, compute_flow, dilate_mask, fb_consistency, iou, psnr, ssim, warping_error
from glassvid.score import see_through

REGION_PX = 4  # the object region is the mask dilated by this much
INPAINT_RADIUS_PX = 5
BASELINES = ("input", "inpaint", "blend50", "plate", "glass")


@dataclass
class RenderScores:
    """Render quality of one candidate over a clip (means over frames) and per frame."""

    psnr_in: float
    ssim_in: float
    psnr_out: float
    ssim_out: float
    warp_error: float  # under the input's flow (Lai et al.)
    flicker: float  # under the candidate's own flow
    see_through: float = math.nan  # See-Through Score (glassvid.score), no ground truth used
    per_frame: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class MaskScores:
    j: float
    f: float
    per_frame_j: list[float] = field(default_factory=list)
    per_frame_f: list[float] = field(default_factory=list)

    @property
    def jf(self) -> float:
        return (self.j + self.f) / 2


@dataclass
class EvalReport:
    """All figures of one result against one ground-truth folder."""

    gt: str
    result: str | None
    frames: int
    render: dict[str, RenderScores] = field(default_factory=dict)  # candidate -> scores
    masks: dict[str, MaskScores] = field(default_factory=dict)  # "glassvid", "held"
    plate: dict[str, float] = field(default_factory=dict)  # "glassvid", "inpaint" -> PSNR in mask
    plate_per_frame: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for name, m in self.masks.items():
            d["masks"][name]["jf"] = m.jf
        return _finite(d)


def _finite(x: Any) -> Any:
    """JSON-safe: inf -> "inf", nan -> None."""
    if isinstance(x, float):
        return None if math.isnan(x) else ("inf" if math.isinf(x) else x)
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


# ---------------------------------------------------------------------------- ground truth


@dataclass
class GroundTruth:
    """Paths of a ground-truth folder's per-frame files (any may be None)."""

    root: Path
    input: list[Path] | None
    glass: list[Path] | None
    plate: list[Path] | None
    mask: list[Path] | None

    @classmethod
    def open(cls, folder: str | os.PathLike) -> "GroundTruth":
        root = Path(folder)
        if not root.is_dir():
            raise InputError(f"ground-truth folder '{root}' does not exist; give a folder with input/, glass/, plate/, mask/ (or frames/, masks/)")

        def seq(*names: str) -> list[Path] | None:
            for n in names:
                if (root / n).is_dir():
                    return list_sequence(root / n)
            return None

        gt = cls(root, seq("input", "frames"), seq("glass"), seq("plate"), seq("mask", "masks", "masks_pseudo"))
        if gt.input is None and gt.mask is None:
            raise InputError(f"'{root}' has neither input/ (or frames/) nor mask/ (or masks/); it is not a ground-truth folder")
        return gt

    @property
    def count(self) -> int:
        return len(self.input or self.mask or [])

    def masks(self) -> Iterator[np.ndarray]:
        for p in self.mask or []:
            yield read_image(p, mode="gray") > 127


# ---------------------------------------------------------------------------- evaluation


def evaluate(
    result: str | os.PathLike | None,
    gt: str | os.PathLike,
    *,
    masks: str | os.PathLike | None = None,
    plate: str | os.PathLike | None = None,
    prompt_frame: int = 0,
    baselines: bool = True,
    region_px: int = REGION_PX,
) -> EvalReport:
    """Measure ``result`` (a video or image sequence) against the ground-truth folder ``gt``.

    ``masks``: a folder of the result's per-frame masks; ``plate``: a folder of its
    plates. ``prompt_frame`` is skipped in mask scores. ``result`` may be None to
    measure only masks/plates and the baselines.
    """
    truth = GroundTruth.open(gt)
    report = EvalReport(gt=str(gt), result=str(result) if result is not None else None, frames=truth.count)
    if truth.glass is not None and truth.input is not None and truth.mask is not None:
        plates = list_sequence(plate) if plate is not None else None
        if plates is not None:
            _check_count("--plate", len(plates), truth.count)
        report.render = _render_scores(truth, result, baselines, region_px, plates)
    if masks is not None:
        if truth.mask is None:
            raise InputError(f"'{gt}' has no mask/ folder to score --masks against")
        report.masks = _mask_scores(truth, list_sequence(masks), prompt_frame, baselines)
    if plate is not None:
        if truth.plate is None or truth.mask is None or truth.input is None:
            raise InputError(f"'{gt}' needs plate/, mask/ and input/ to score --plate")
        report.plate, report.plate_per_frame = _plate_scores(truth, list_sequence(plate), baselines)
    return report


def _check_count(name: str, n: int, expected: int) -> None:
    if n != expected:
        raise InputError(f"{name} has {n} frames but the ground truth has {expected}; evaluate a result of the whole clip")


def _inpaint(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The per-frame OpenCV inpainting baseline: the object (grown by the region margin) filled from around it."""
    hole = dilate_mask(mask, 2).astype(np.uint8)
    return cv2.inpaint(frame, hole, INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)


def _render_scores(truth: GroundTruth, result: Any, baselines: bool, region_px: int, plates: list[Path] | None = None) -> dict[str, RenderScores]:
    """Render scores per candidate; the See-Through Score of every candidate is taken with
    the same plate: the result's (``plates``) when given, else the true one, else none."""
    n = truth.count
    inputs, glasses, masks = truth.input or [], truth.glass or [], truth.mask or []
    candidates: dict[str, Callable[[int, dict[str, np.ndarray]], np.ndarray]] = {}
    result_frames: Iterator[np.ndarray] | None = None
    if result is not None:
        result_frames = (f.rgb for f in read_frames(result))
        candidates["glassvid"] = lambda i, c: next(result_frames)  # type: ignore[arg-type]
    if baselines:
        candidates["input"] = lambda i, c: c["input"]
        candidates["inpaint"] = lambda i, c: c["inpaint"]
        candidates["blend50"] = lambda i, c: ((c["input"].astype(np.uint16) + c["inpaint"]) // 2).astype(np.uint8)
        if truth.plate is not None:
            candidates["plate"] = lambda i, c: read_image(truth.plate[i])  # type: ignore[index]
        candidates["glass"] = lambda i, c: c["glass"]
    acc = {name: {k: [] for k in ("psnr_in", "ssim_in", "psnr_out", "ssim_out", "warp_error", "flicker", "see_through")} for name in candidates}
    plate_files = plates if plates is not None else truth.plate
    prev: dict[str, np.ndarray] = {}
    prev_input = None
    for i in range(n):
        ctx = {"input": read_image(inputs[i]), "glass": read_image(glasses[i])}
        mask = read_image(masks[i], mode="gray") > 127
        ctx["inpaint"] = _inpaint(ctx["input"], mask)
        region = dilate_mask(mask, region_px)
        score_plate = read_image(plate_files[i]) if plate_files is not None else None
        if prev_input is not None:
            f_in = compute_flow(ctx["input"], prev_input)
            valid_in = fb_consistency(f_in, compute_flow(prev_input, ctx["input"]))
        for name, get in candidates.items():
            try:
                frame = get(i, ctx)
            except StopIteration:
                raise InputError(f"result '{result}' ends at frame {i} but the ground truth has {n} frames; evaluate a result of the whole clip") from None
            if frame.shape != ctx["glass"].shape:
                raise InputError(f"result frames are {frame.shape[1]}x{frame.shape[0]} but the ground truth is {ctx['glass'].shape[1]}x{ctx['glass'].shape[0]}")
            a = acc[name]
            a["psnr_in"].append(psnr(frame, ctx["glass"], region))
            a["ssim_in"].append(ssim(frame, ctx["glass"], region))
            a["psnr_out"].append(psnr(frame, ctx["glass"], ~region))
            a["ssim_out"].append(ssim(frame, ctx["glass"], ~region))
            st = see_through(frame, ctx["input"], mask, score_plate)
            a["see_through"].append(st.score if st.score is not None else math.nan)
            if prev_input is not None:
                a["warp_error"].append(warping_error(prev[name], frame, f_in, valid_in, region))
                f_own = compute_flow(frame, prev[name])
                valid_own = fb_consistency(f_own, compute_flow(prev[name], frame))
                a["flicker"].append(warping_error(prev[name], frame, f_own, valid_own, region))
            prev[name] = frame
        prev_input = ctx["input"]
    if result_frames is not None and next(result_frames, None) is not None:
        raise InputError(f"result '{result}' has more frames than the ground truth ({n}); evaluate a result of the same clip")
    return {name: RenderScores(**{k: _mean(v) for k, v in a.items()}, per_frame=a) for name, a in acc.items()}


def _mean(values: list[float]) -> float:
    """Mean over finite values; PSNR of identical frames (inf) counts as inf only if all are."""
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return math.nan
    finite = [v for v in vals if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf


def _mask_scores(truth: GroundTruth, predicted: list[Path], prompt_frame: int, baselines: bool) -> dict[str, MaskScores]:
    gts = truth.mask or []
    _check_count("--masks", len(predicted), len(gts))
    out: dict[str, MaskScores] = {}
    held = read_image(gts[prompt_frame], mode="gray") > 127
    sources = {"glassvid": lambda i: read_image(predicted[i], mode="gray") > 127}
    if baselines:
        sources["held"] = lambda i: held
    for name, get in sources.items():
        js, fs = [], []
        for i, path in enumerate(gts):
            if i == prompt_frame:
                continue
            g = read_image(path, mode="gray") > 127
            p = get(i)
            js.append(iou(p, g))
            fs.append(boundary_f(p, g))
        out[name] = MaskScores(j=float(np.mean(js)), f=float(np.mean(fs)), per_frame_j=js, per_frame_f=fs)
    return out


def _plate_scores(truth: GroundTruth, plates: list[Path], baselines: bool) -> tuple[dict[str, float], dict[str, list[float]]]:
    _check_count("--plate", len(plates), truth.count)
    per: dict[str, list[float]] = {"glassvid": []}
    if baselines:
        per["inpaint"] = []
    for i in range(truth.count):
        mask = read_image(truth.mask[i], mode="gray") > 127  # type: ignore[index]
        true_plate = read_image(truth.plate[i])  # type: ignore[index]
        per["glassvid"].append(psnr(read_image(plates[i]), true_plate, mask))
        if baselines:
            per["inpaint"].append(psnr(_inpaint(read_image(truth.input[i]), mask), true_plate, mask))  # type: ignore[index]
    return {k: _mean(v) for k, v in per.items()}, per


# ---------------------------------------------------------------------------- text


def format_report(report: EvalReport) -> str:
    """The report as markdown tables."""
    lines = [f"ground truth: {report.gt}", f"result: {report.result}", ""]
    if report.render:
        lines += ["| candidate | PSNR in | SSIM in | PSNR out | SSIM out | warp err (input flow) | flicker (own flow) | see-through |", "|---|---|---|---|---|---|---|---|"]
        for name, s in report.render.items():
            lines.append(f"| {name} | {s.psnr_in:.2f} | {s.ssim_in:.4f} | {s.psnr_out:.2f} | {s.ssim_out:.4f} | {s.warp_error:.5f} | {s.flicker:.5f} | {s.see_through:.3f} |")
        lines.append("")
    if report.masks:
        lines += ["| masks | J | F | J&F |", "|---|---|---|---|"]
        for name, m in report.masks.items():
            lines.append(f"| {name} | {m.j:.3f} | {m.f:.3f} | {m.jf:.3f} |")
        lines.append("")
    if report.plate:
        lines += ["| plate | PSNR in mask |", "|---|---|"]
        for name, v in report.plate.items():
            lines.append(f"| {name} | {v:.2f} |")
        lines.append("")
    return "\n".join(lines)
