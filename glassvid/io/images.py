"""Single images and image sequences on disk.

Convention: arrays are ``HxWx3`` RGB or ``HxW`` gray, ``uint8`` (``uint16`` accepted by
:func:`write_image`), C-contiguous; x right, y down, pixels. OpenCV's BGR order never
leaves this module.

A *sequence* is named either by a folder (its image files, ordered by the number in
their names) or by a pattern with one frame-number field in the file name:
printf style (``shot.%04d.png``, ``frames/%d.jpg``) or hashes (``shot.####.png``,
the same as ``%04d``). :func:`list_sequence` resolves both and is what
:func:`glassvid.io.probe`, :func:`glassvid.io.read_frames` and per-frame mask folders use.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from glassvid.errors import DecodeError, InputError, OutputError

logger = logging.getLogger(__name__)

__all__ = ["read_image", "write_image", "list_sequence", "IMAGE_EXTENSIONS"]

#: File extensions treated as images when listing a sequence folder.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr")
#: Extensions :func:`write_image` (and sequence sinks) can write.
WRITE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: JPEG quality (0-100) used when writing .jpg frames: visually lossless.
JPEG_QUALITY = 95

# One frame-number field: %d, %0Nd (printf) or a run of '#' (N hashes = %0Nd).
_FIELD = re.compile(r"%(0?)(\d*)d|#+")


@dataclass(frozen=True)
class SequencePattern:
    """A parsed sequence pattern ``<folder>/<prefix><number><suffix>``.

    ``pad`` is the minimum number of digits (0: no padding), as printf ``%0{pad}d``.
    """

    folder: Path
    prefix: str
    pad: int
    suffix: str

    def name(self, number: int) -> str:
        """The file name of frame ``number`` (not the full path)."""
        return f"{self.prefix}{number:0{self.pad}d}{self.suffix}" if self.pad else f"{self.prefix}{number}{self.suffix}"

    def match(self, name: str) -> int | None:
        """The frame number if ``name`` is a file name this pattern produces, else None."""
        if not (name.startswith(self.prefix) and name.endswith(self.suffix)):
            return None
        digits = name[len(self.prefix) : len(name) - len(self.suffix)]
        if not digits.isascii() or not digits.isdigit():
            return None
        # printf never writes a leading zero beyond the padding, so "007" is not %04d.
        if len(digits) < max(self.pad, 1) or (len(digits) > max(self.pad, 1) and digits[0] == "0"):
            return None
        return int(digits)


def parse_pattern(path: str | os.PathLike) -> SequencePattern | None:
    """Parse a sequence pattern; None if the file name has no frame-number field.

    Raises :class:`InputError` for more than one field or a field in a folder name.
    """
    text = os.fspath(path)
    folder, name = os.path.split(text)
    if _FIELD.search(folder):
        raise InputError(
            f"sequence pattern {text!r} has a frame-number field in a folder name; "
            "put the field in the file name, e.g. 'frames/shot.%04d.png'"
        )
    fields = list(_FIELD.finditer(name))
    if not fields:
        return None
    if len(fields) > 1:
        raise InputError(
            f"sequence pattern {text!r} has {len(fields)} frame-number fields; "
            "use exactly one, e.g. 'shot.%04d.png'"
        )
    m = fields[0]
    pad = len(m.group(0)) if m.group(0).startswith("#") else int(m.group(2) or 0)
    if m.group(0).startswith("%") and m.group(2) and not m.group(1):
        # %4d pads with spaces; file names with spaces are not a sequence anyone wants.
        raise InputError(
            f"sequence pattern {text!r} uses space padding ({m.group(0)}); "
            f"use zero padding, e.g. '%0{m.group(2)}d'"
        )
    return SequencePattern(Path(folder or "."), name[: m.start()], pad, name[m.end() :])


def is_sequence(path: str | os.PathLike) -> bool:
    """True if ``path`` names an image sequence (an existing folder or a pattern)."""
    text = os.fspath(path)
    if os.path.isdir(text):
        return True
    if os.path.isfile(text):  # a real file whose name happens to contain '%d' or '#'
        return False
    pattern = parse_pattern(text)
    return pattern is not None and Path("f" + pattern.suffix).suffix.lower() in IMAGE_EXTENSIONS


def list_sequence(path_or_pattern: str | os.PathLike) -> list[Path]:
    """The image files of a sequence, in frame order.

    ``path_or_pattern`` is a folder (its non-hidden image files, sorted by the last
    number in their names; files without numbers sort by name) or a pattern with one
    frame-number field (``shot.%04d.png``, ``shot.####.png``). Gaps in the numbering
    are allowed and logged; position in the returned list is the frame index.

    Raises :class:`DecodeError` for a missing or empty folder or a pattern that
    matches nothing, :class:`InputError` for an ambiguous folder (mixed extensions,
    two files with the same number, numbered and unnumbered files mixed).
    """
    text = os.fspath(path_or_pattern)
    if os.path.isdir(text):
        return _list_folder(Path(text), text)
    if os.path.isfile(text):
        raise InputError(
            f"{text!r} is a single file, not a sequence; give a folder of images "
            "or a pattern such as 'shot.%04d.png'"
        )
    pattern = parse_pattern(text)
    if pattern is None:
        raise DecodeError(
            f"cannot read {text!r}: no such file or folder; check the path "
            "(a sequence is a folder or a pattern such as 'shot.%04d.png')"
        )
    return _list_pattern(pattern, text)


def _list_folder(folder: Path, text: str) -> list[Path]:
    files = [
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    ]
    if not files:
        others = sum(1 for p in folder.iterdir() if not p.name.startswith("."))
        what = f"no image files (it holds {others} other entries)" if others else "it is empty"
        raise DecodeError(
            f"cannot read sequence {text!r}: {what}; give a folder of numbered images "
            f"({', '.join(IMAGE_EXTENSIONS[:5])}, ...) or a pattern such as 'shot.%04d.png'"
        )
    exts = sorted({p.suffix.lower().replace(".jpeg", ".jpg").replace(".tiff", ".tif") for p in files})
    if len(exts) > 1:
        raise InputError(
            f"sequence folder {text!r} mixes image types ({', '.join(exts)}); "
            "keep one type per folder or give a pattern such as 'shot.%04d.png'"
        )
    numbered: dict[int, Path] = {}
    unnumbered: list[Path] = []
    for p in files:
        digits = re.findall(r"\d+", p.stem)
        if not digits:
            unnumbered.append(p)
            continue
        n = int(digits[-1])
        if n in numbered:
            raise InputError(
                f"sequence folder {text!r} has two files numbered {n} "
                f"({numbered[n].name!r} and {p.name!r}); remove one or give a pattern such as 'shot.%04d.png'"
            )
        numbered[n] = p
    if numbered and unnumbered:
        raise InputError(
            f"sequence folder {text!r} mixes numbered and unnumbered images "
            f"(e.g. {unnumbered[0].name!r}); move the odd files out or give a pattern such as 'shot.%04d.png'"
        )
    if unnumbered:
        return sorted(unnumbered, key=lambda p: p.name)
    _log_gaps(sorted(numbered), text)
    return [numbered[n] for n in sorted(numbered)]


def _list_pattern(pattern: SequencePattern, text: str) -> list[Path]:
    if not pattern.folder.is_dir():
        raise DecodeError(
            f"cannot read sequence {text!r}: folder {str(pattern.folder)!r} does not exist; check the path"
        )
    found: dict[int, Path] = {}
    for entry in os.scandir(pattern.folder):
        n = pattern.match(entry.name)
        if n is not None and entry.is_file():
            found[n] = Path(entry.path)
    if not found:
        example = pattern.name(0) + ", " + pattern.name(1)
        raise DecodeError(
            f"cannot read sequence {text!r}: no file matches it (expected names like {example} "
            f"in {str(pattern.folder)!r}); check the pattern's prefix and zero padding"
        )
    _log_gaps(sorted(found), text)
    return [found[n] for n in sorted(found)]


def _log_gaps(numbers: list[int], text: str) -> None:
    missing = (numbers[-1] - numbers[0] + 1) - len(numbers)
    if missing:
        logger.warning(
            "sequence %r skips %d numbers between %d and %d; frames are indexed by position",
            text, missing, numbers[0], numbers[-1],
        )


# ---------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike, *, mode: str = "rgb") -> np.ndarray:
    """Read one image file.

    ``mode="rgb"``: ``HxWx3`` uint8 RGB (gray is replicated, alpha dropped).
    ``mode="gray"``: ``HxW`` uint8 (colour converted with Rec.601 luma weights).
    16-bit images are rounded to 8 bits (``round(v / 257)``); float images (HDR) are
    clipped to [0, 1] and scaled. Raises :class:`DecodeError` if the file is missing or
    cannot be decoded.
    """
    if mode not in ("rgb", "gray"):
        raise ValueError(f"read_image mode must be 'rgb' or 'gray', got {mode!r}")
    text = os.fspath(path)
    try:
        data = np.fromfile(text, dtype=np.uint8)
    except FileNotFoundError:
        raise DecodeError(f"cannot read image {text!r}: no such file; check the path") from None
    except IsADirectoryError:
        raise DecodeError(f"cannot read image {text!r}: it is a folder; give an image file") from None
    except PermissionError:
        raise DecodeError(f"cannot read image {text!r}: permission denied; fix the file's permissions") from None
    except OSError as e:
        raise DecodeError(f"cannot read image {text!r}: {e.strerror or e}; check the file") from None
    # ANYDEPTH keeps 16-bit; ANYCOLOR keeps gray as gray and drops alpha.
    flags = cv2.IMREAD_ANYDEPTH | (cv2.IMREAD_GRAYSCALE if mode == "gray" else cv2.IMREAD_ANYCOLOR)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        hint = (
            "this OpenCV build cannot read EXR; convert the frames to 16-bit PNG or TIFF"
            if text.lower().endswith(".exr")
            else "the file is empty, damaged or not an image; re-export it as PNG, JPEG or TIFF"
        )
        raise DecodeError(f"cannot read image {text!r}: OpenCV cannot decode it; {hint}")
    image = _to_uint8(image, text)
    if mode == "gray":
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return np.ascontiguousarray(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[:, :, 2::-1])


def _to_uint8(image: np.ndarray, text: str) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype in (np.float16, np.float32, np.float64):
        return (np.clip(np.nan_to_num(image), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    raise DecodeError(
        f"cannot read image {text!r}: unsupported sample type {image.dtype}; "
        "convert it to 8- or 16-bit PNG or TIFF"
    )


def peek_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from a PNG or JPEG header without decoding; None otherwise.

    Lets :func:`glassvid.io.probe` check every frame of a long sequence cheaply.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
                w, h = struct.unpack(">II", head[16:24])
                return int(w), int(h)
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(f)
    except OSError:
        return None
    return None


def _jpeg_size(f) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        while kind == 0xFF:  # fill bytes
            kind = f.read(1)[0]
        if kind in (0xD8, 0x01) or 0xD0 <= kind <= 0xD7:
            continue
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        # SOF0..SOF15 carry the size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):
            body = f.read(5)
            if len(body) < 5:
                return None
            h, w = struct.unpack(">HH", body[1:5])
            return int(w), int(h)
        f.seek(length - 2, os.SEEK_CUR)


# ---------------------------------------------------------------------------- writing


def encode_image(array: np.ndarray, ext: str, *, what: str = "image") -> bytes:
    """Encode an RGB/RGBA/gray uint8 or uint16 array to the bytes of a ``ext`` file."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{what} must be a numpy array, got {type(array).__name__}")
    if array.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{what} must be uint8 or uint16, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"{what} must be HxW, HxWx3 (RGB) or HxWx4 (RGBA), got shape {array.shape}")
    ext = ext.lower()
    if ext not in WRITE_EXTENSIONS:
        raise OutputError(
            f"cannot write a {ext or 'extensionless'} {what}; use one of {', '.join(WRITE_EXTENSIONS)}"
        )
    if ext in (".jpg", ".jpeg") and (array.dtype == np.uint16 or (array.ndim == 3 and array.shape[2] == 4)):
        raise OutputError(
            f"JPEG cannot hold a {'16-bit' if array.dtype == np.uint16 else 'alpha'} {what}; "
            "write .png or .tif instead"
        )
    if array.ndim == 3:
        code = cv2.COLOR_RGB2BGR if array.shape[2] == 3 else cv2.COLOR_RGBA2BGRA
        array = cv2.cvtColor(np.ascontiguousarray(array), code)
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(array), params)
    if not ok:
        raise OutputError(f"OpenCV could not encode the {what} as {ext}; try .png")
    return buf.tobytes()


def write_image(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically (temporary file, then ``os.replace``).

    ``array``: ``HxWx3`` RGB, ``HxWx4`` RGBA (PNG/TIFF) or ``HxW`` gray; uint8 or
    uint16 (PNG/TIFF). The format follows the extension: .png (lossless), .jpg/.jpeg
    (quality 95), .tif/.tiff. The parent folder is created if missing.
    """
    text = os.fspath(path)
    target = Path(text)
    data = encode_image(array, target.suffix, what=f"image {text!r}")
    make_parent(target)
    tmp = target.with_name(f".{target.name}.part-{secrets.token_hex(4)}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, target)
    except OSError as e:
        _unlink_quiet(tmp)
        raise OutputError(
            f"cannot write {text!r}: {e.strerror or e}; choose a writable folder or fix its permissions"
        ) from None


def make_parent(target: Path) -> None:
    """Create ``target``'s parent folder; :class:`OutputError` with the fix if impossible."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(
            f"cannot write {str(target)!r}: {str(parent)!r} (or a folder above it) is a file, not a folder; "
            "choose another output folder"
        ) from None
    except PermissionError:
        raise OutputError(
            f"cannot write {str(target)!r}: permission denied creating folder {str(parent)!r}; "
            "choose a writable folder or fix its permissions"
        ) from None
    except OSError as e:
        raise OutputError(f"cannot create folder {str(parent)!r}: {e.strerror or e}; choose another output folder") from None
    if not parent.is_dir():
        raise OutputError(
            f"cannot write {str(target)!r}: {str(parent)!r} is not a folder; choose another output folder"
        )


def _unlink_quiet(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
