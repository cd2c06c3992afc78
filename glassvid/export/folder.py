"""An output folder that appears whole or not at all.

Exports write into a hidden sibling (``.PACK.part-<hex>``) and rename it onto the
final name when everything is written, so an interrupted export never leaves a folder
that looks finished. An existing folder that is not empty is refused unless the caller
asked to overwrite it; then it is swapped out only after the new one is complete.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from types import TracebackType

from glassvid.errors import OutputError

#: Files that mark a folder as a glassvid export, which --overwrite may replace.
EXPORT_MARKERS = ("export.json", "manifest.json")


def check_output_folder(folder: Path, *, overwrite: bool, protect: tuple[Path, ...] = (), flag: str = "--overwrite") -> None:
    """Raise :class:`OutputError` unless ``folder`` may be written (see the module doc).

    ``protect``: paths that must survive (the run's cache, the input): ``folder`` may not
    be one of them or hold one of them, even with ``overwrite``.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"output '{folder}' is a file, not a folder; choose a folder name")
    resolved = folder.resolve()
    for p in protect:
        rp = Path(p).resolve()
        if rp == resolved or resolved in rp.parents:
            raise OutputError(f"output folder '{folder}' holds '{p}', which the export reads; choose another folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise OutputError(f"output folder '{folder}' is not empty; choose a new or empty folder, or pass {flag} to replace it")
        # replacing deletes the folder: only ever one of our own exports, never a home,
        # the working directory or a folder of someone's files
        cwd = Path.cwd().resolve()
        if resolved in (cwd, Path.home().resolve(), Path(resolved.anchor)) or resolved in cwd.parents:
            raise OutputError(f"will not replace '{folder}' (the current, home or root folder); export into a folder of its own")
        if not any((folder / marker).is_file() for marker in EXPORT_MARKERS):
            raise OutputError(f"will not replace '{folder}': it is not a glassvid export (no {' or '.join(EXPORT_MARKERS)}); choose a new or empty folder")
    parent = resolved.parent
    if not parent.is_dir():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create folder '{parent}': {exc.strerror or exc}; choose another output folder") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"folder '{parent}' is not writable; choose an output folder you can write to")


class StagedFolder:
    """``with StagedFolder(final, overwrite=...) as tmp:`` write into ``tmp``; on success
    ``tmp`` becomes ``final`` (replacing it), on any error it is deleted."""

    def __init__(self, final: str | os.PathLike, *, overwrite: bool = False, protect: tuple[Path, ...] = ()) -> None:
        self.final = Path(final)
        self.overwrite = overwrite
        check_output_folder(self.final, overwrite=overwrite, protect=protect)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        parent = self.final.resolve().parent
        for _ in range(8):
            tmp = parent / f".{self.final.name}.part-{secrets.token_hex(4)}"
            try:
                tmp.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(f"cannot write into '{parent}': {exc.strerror or exc}; choose another output folder") from None
            self.tmp = tmp
            return tmp
        raise OutputError(f"cannot create a temporary folder in '{parent}'; remove old .part folders there")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if self.tmp is None:
            raise RuntimeError("StagedFolder left without being entered; use it as `with StagedFolder(...) as tmp:`")
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        try:
            self._publish(self.tmp)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        return False

    def _publish(self, tmp: Path) -> None:
        final = self.final
        old = None
        if final.is_dir():
            if any(final.iterdir()) and not self.overwrite:  # filled while we worked
                raise OutputError(f"output folder '{final}' was filled while exporting; export again with --overwrite or to another folder")
            old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
            os.replace(final, old)
        try:
            os.replace(tmp, final)
        except OSError as exc:
            if old is not None:
                os.replace(old, final)
            raise OutputError(f"cannot move the export into '{final}': {exc.strerror or exc}; check the folder") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
