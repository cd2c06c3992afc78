"""Reopening a finished run's cache for export.

A run lives in its work directory (``WORK/<clip-key>/``, printed by ``glassvid convert``
and recorded as ``work_dir`` in its report). :meth:`glassvid.pipeline.Pipeline.run`
writes ``report.json`` there when it starts (``"status": "incomplete"``) and again when
it ends (``"complete"``); its ``run`` block holds what reopening needs: the resolved
config, the clip's description, the first and last source frame, and the names of the
frames, analyse and plate pass folders. An export re-renders from those folders with
:func:`glassvid.render.sequence.render_clip` (the render pass is cheap and streams);
it never runs the analysis again, so an interrupted run is an error, not a re-run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from glassvid.cache import PassStore, WorkDir
from glassvid.clip import ClipCache
from glassvid.config import Config, load_config
from glassvid.errors import CacheError, ConfigError, InputError
from glassvid.io import ClipInfo
from glassvid.render.glass import GlassLayer

#: Config sections an export may change: they only affect the render pass.
RENDER_SECTIONS = ("glass", "temporal", "runtime")


@dataclass
class Run:
    """A finished run: its cache as a :class:`ClipCache` and the config to render with."""

    root: Path
    report: dict[str, Any]
    config: Config
    clip: ClipCache

    @property
    def first(self) -> int:
        """First source frame index the run covers."""
        return self.clip.frames.start

    @property
    def last(self) -> int:
        """Last source frame index the run covers (inclusive)."""
        return self.clip.frames.stop - 1

    @property
    def fps(self) -> Fraction:
        return self.clip.info.fps

    def select(self, frames: tuple[int, int] | None, flag: str = "--frames") -> range:
        """Clip indices (0-based within the run) of an inclusive source frame range.

        ``frames`` are source frame indices, as ``glassvid convert --frames`` takes them;
        None means the whole run. Raises :class:`InputError` outside the run's frames.
        """
        if frames is None:
            return range(0, self.clip.n)
        a, b = frames
        if b < a:
            raise InputError(f"{flag} {a}-{b}: the last frame comes before the first; give FIRST-LAST with FIRST <= LAST")
        if not (self.first <= a <= b <= self.last):
            raise InputError(f"{flag} {a}-{b} is outside the run, which has source frames {self.first}-{self.last}; give a range inside it")
        return range(a - self.first, b - self.first + 1)

    def render(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray, GlassLayer | None]]:
        """``(i, HxWx3 uint8 output, glass layer)`` for the clip indices in ``indices``.

        The render always starts at the run's first frame, because each output is blended
        with the previous one (temporal steadiness); frames before ``indices`` are
        rendered and dropped, and rendering stops after the last one wanted.
        """
        from glassvid.render.sequence import render_clip

        wanted = set(indices)
        last = max(wanted) if wanted else -1
        for i, out, layer in render_clip(self.clip, self.config):
            if i in wanted:
                yield i, out, layer
            if i >= last:
                return


def open_run(
    path: str | os.PathLike,
    *,
    preset: str | None = None,
    config_file: str | os.PathLike | None = None,
    sets: Sequence[str] = (),
) -> Run:
    """Open the run whose work directory (or ``report.json``) is ``path``.

    ``preset``/``config_file``/``sets`` change the look on top of the run's own config
    (only ``glass.*``, ``temporal.*`` and ``runtime.*``: the rest shaped the cached analysis).
    Raises :class:`CacheError` when ``path`` holds no run, or the run is incomplete.
    """
    root, report = _find_report(Path(path))
    record = report.get("run")
    if not isinstance(record, dict) or "stores" not in record:
        raise CacheError(f"the run in '{root}' was recorded by an older glassvid and cannot be reopened; run `glassvid convert` on its input again, then export")
    try:
        base = Config().with_overrides(record["config"])
    except ConfigError as exc:
        raise CacheError(f"the run in '{root}' has a config this glassvid does not accept ({exc}); run `glassvid convert` again") from None
    config = load_config(preset, config_file, sets, base=base)
    before, after = base.to_dict(), config.to_dict()
    for section in after:
        if section not in RENDER_SECTIONS and after[section] != before[section]:
            changed = next(k for k in after[section] if after[section][k] != before[section].get(k))
            raise ConfigError(f"{section}.{changed} shaped the cached analysis and cannot change in an export (only glass.*, temporal.* can); run `glassvid convert` with it instead")

    c = record["clip"]
    info = ClipInfo(
        path=c["path"], kind=c["kind"], width=int(c["width"]), height=int(c["height"]), frame_count=int(c["frame_count"]),
        fps=Fraction(c["fps"]), time_base=Fraction(c["time_base"]), has_audio=bool(c["has_audio"]), identity=c["identity"],
    )
    first, last = (int(v) for v in record["frames"])
    stores = {}
    for name in ("frames", "analyse", "plate"):
        folder = record["stores"].get(name)
        if not folder:
            raise CacheError(f"the run in '{root}' does not name its {name} pass folder; run `glassvid convert` again")
        store = PassStore(root, name, folder.split("-", 1)[1] if "-" in folder else folder)
        stores[name] = store
    user_plates = [Path(p) for p in record["user_plates"]] if record.get("user_plates") else None
    for name, store in stores.items():
        if name == "plate" and user_plates is not None:
            continue
        if not store.is_complete():
            raise CacheError(
                f"the run in '{root}' is incomplete: its {name} pass did not finish (interrupted?); "
                "run the same `glassvid convert` command again to finish it, then export"
            )
    for p in user_plates or []:
        if not p.is_file():
            raise CacheError(f"the run in '{root}' used the clean plate '{p}', which no longer exists; put it back or run `glassvid convert` again")
    clip = ClipCache(
        info=info, frames=range(first, last + 1), work=_ReadOnlyWorkDir(root),
        frame_store=stores["frames"], analyse_store=stores["analyse"], plate_store=stores["plate"], user_plates=user_plates,
    )
    return Run(root=root, report=report, config=config, clip=clip)


class _ReadOnlyWorkDir(WorkDir):
    """The run's folder, opened without WorkDir's write probe: an export only reads it."""

    def __init__(self, root: Path) -> None:  # noqa: D107 - deliberately not calling super()
        self.root = root


def _find_report(path: Path) -> tuple[Path, dict[str, Any]]:
    if path.is_file():
        report_path = path
    elif path.is_dir():
        report_path = path / "report.json"
        if not report_path.is_file():
            raise CacheError(f"'{path}' holds no glassvid run (no report.json); give the run's work directory, which `glassvid convert` prints")
    else:
        raise CacheError(f"run '{path}' does not exist; give the run's work directory, which `glassvid convert` prints")
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError) as exc:
        raise CacheError(f"cannot read the run's report '{report_path}' ({exc}); give the run's work directory") from None
    if not isinstance(report, dict):
        raise CacheError(f"'{report_path}' is not a glassvid run report; give the run's work directory")
    root = report_path.parent
    stores = (report.get("run") or {}).get("stores") or {}
    if stores and not all((root / name).is_dir() for name in stores.values()):
        # a copy written by `convert --report`, or a moved cache: look where it says
        work = Path(str(report.get("work_dir", "")))
        if report.get("work_dir") and (work / "report.json").is_file() and work.resolve() != root.resolve():
            return _find_report(work)
    return root, report


def layer_field(layer: GlassLayer, name: str) -> np.ndarray:
    """``layer.<name>`` (``normals`` or ``offset``) as HxWxC, the layout the layer documents.

    The renderer computes vector fields as planes (CxHxW) internally; this accepts either
    layout, telling them apart by the matte's HxW, so an export never misreads one.
    """
    a = np.asarray(getattr(layer, name))
    hw = layer.alpha.shape
    if a.shape[:2] == hw:
        return a
    if a.shape[1:] == hw:
        return np.moveaxis(a, 0, -1)
    raise ValueError(f"GlassLayer.{name} has shape {a.shape}, which fits neither HxWxC nor CxHxW for a {hw} matte")
