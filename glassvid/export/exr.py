"""Multi-channel OpenEXR files through the ``openexr`` package (3.x, ``OpenEXR.File``).

OpenCV 5 wheels carry no EXR codec, so EXR goes through OpenEXR's own bindings.
Channels are named ``layer.channel`` (``plate.R``, ``N.X``, ``forward.u``) as Nuke and
most compositors read them; ``R G B A Z`` without a layer are the default layer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from glassvid.errors import DecodeError, OutputError


def _openexr() -> Any:
    try:
        import OpenEXR
    except ImportError:  # pragma: no cover - a default dependency
        raise OutputError("EXR output needs the 'openexr' package; install it with `pip install openexr`") from None
    return OpenEXR


def write_exr(path: str | os.PathLike, channels: dict[str, np.ndarray], attributes: dict[str, Any] | None = None) -> None:
    """Write one scanline EXR (ZIP compression) with ``channels``: name -> HxW float16
    (half) or float32 (float) array, all one size. ``attributes`` go into the header
    (str, int, float, tuples of floats). Not atomic by itself: write into a staging folder.
    """
    OpenEXR = _openexr()
    shapes = {a.shape for a in channels.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"EXR channels must be HxW arrays of one size, got shapes {sorted(shapes)}")
    for name, a in channels.items():
        if a.dtype not in (np.float16, np.float32):
            raise ValueError(f"EXR channel {name!r} must be float16 or float32, got {a.dtype}")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    header.update(attributes or {})
    # OpenEXR.File wraps the dict's arrays in place; give it its own dict
    data = {k: np.ascontiguousarray(v) for k, v in channels.items()}
    try:
        OpenEXR.File(header, data).write(os.fspath(path))
    except Exception as exc:  # noqa: BLE001 - OpenEXR raises bare RuntimeError for I/O and header problems
        raise OutputError(f"cannot write EXR '{path}': {exc}; check free disk space and the folder") from None


def read_exr(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read an EXR: ``({channel name: HxW array in its stored type}, header)``."""
    OpenEXR = _openexr()
    if not Path(path).is_file():
        raise DecodeError(f"cannot read EXR '{path}': no such file; check the path")
    try:
        f = OpenEXR.File(os.fspath(path), separate_channels=True)
    except Exception as exc:  # noqa: BLE001
        raise DecodeError(f"cannot read EXR '{path}': {exc}; the file is damaged or not an EXR") from None
    return {name: ch.pixels for name, ch in f.channels().items()}, dict(f.header())
