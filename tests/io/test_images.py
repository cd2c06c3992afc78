"""glassvid.io.images: single images and sequence listing."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from glassvid.errors import DecodeError, InputError, OutputError
from glassvid.io import list_sequence, read_image, write_image
from glassvid.io.images import parse_pattern, peek_size


def _rgb(h=20, w=30, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
def test_lossless_round_trip_is_exact_and_rgb_ordered(tmp_path, ext):
    rgb = _rgb()
    path = tmp_path / f"a{ext}"
    write_image(path, rgb)
    back = read_image(path)
    assert back.dtype == np.uint8 and back.flags.c_contiguous
    np.testing.assert_array_equal(back, rgb)
    # On disk it is a normal image: OpenCV (BGR) sees the channels swapped.
    np.testing.assert_array_equal(cv2.imread(str(path))[..., ::-1], rgb)


def test_jpeg_is_close(tmp_path):
    rgb = cv2.GaussianBlur(_rgb(64, 64), (0, 0), 3)
    write_image(tmp_path / "a.jpg", rgb)
    assert np.abs(read_image(tmp_path / "a.jpg").astype(int) - rgb).mean() < 3


def test_gray_16bit_and_alpha(tmp_path):
    gray = np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100
    write_image(tmp_path / "g16.png", gray)
    assert cv2.imread(str(tmp_path / "g16.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    g8 = read_image(tmp_path / "g16.png", mode="gray")
    assert g8.shape == (20, 30) and g8.dtype == np.uint8
    np.testing.assert_array_equal(g8, np.round(gray / 257).astype(np.uint8))
    rgb = read_image(tmp_path / "g16.png")
    assert rgb.shape == (20, 30, 3) and (rgb[..., 0] == g8).all()

    rgba = np.dstack([_rgb(), np.full((20, 30), 7, np.uint8)])
    write_image(tmp_path / "rgba.png", rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgba[..., :3])


def test_write_is_atomic_creates_parent_and_leaves_no_temp(tmp_path):
    target = tmp_path / "deep" / "er" / "x.png"
    write_image(target, _rgb())
    write_image(target, _rgb(seed=1))  # replace
    np.testing.assert_array_equal(read_image(target), _rgb(seed=1))
    assert os.listdir(target.parent) == ["x.png"]


def test_write_errors(tmp_path):
    with pytest.raises(OutputError, match="16-bit"):
        write_image(tmp_path / "a.jpg", np.zeros((4, 4, 3), np.uint16))
    with pytest.raises(OutputError, match=r"\.png"):
        write_image(tmp_path / "a.gif", _rgb())
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        write_image(tmp_path / "file" / "a.png", _rgb())
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((4, 4, 2), np.uint8))


def test_read_errors(tmp_path):
    with pytest.raises(DecodeError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(DecodeError, match="bad.png"):
        read_image(tmp_path / "bad.png")


def test_peek_size_matches_decoder(tmp_path):
    write_image(tmp_path / "a.png", _rgb(21, 33))
    write_image(tmp_path / "a.jpg", _rgb(21, 33))
    assert peek_size(tmp_path / "a.png") == (33, 21)
    assert peek_size(tmp_path / "a.jpg") == (33, 21)


def test_list_folder_sorts_by_number_not_name(tmp_path):
    for n in (10, 2, 1):
        write_image(tmp_path / f"frame{n}.png", _rgb(4, 4))
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ".hidden.png").write_bytes(b"ignored")
    assert [p.name for p in list_sequence(tmp_path)] == ["frame1.png", "frame2.png", "frame10.png"]


def test_list_pattern_respects_padding(tmp_path):
    for name in ("s.0001.png", "s.0002.png", "s.0010.png", "s.001.png", "t.0003.png"):
        write_image(tmp_path / name, _rgb(4, 4))
    names = ["s.0001.png", "s.0002.png", "s.0010.png"]
    assert [p.name for p in list_sequence(tmp_path / "s.%04d.png")] == names
    assert [p.name for p in list_sequence(tmp_path / "s.####.png")] == names
    with pytest.raises(DecodeError, match="zero padding"):  # %d never writes "0001", as in printf/FFmpeg
        list_sequence(tmp_path / "s.%d.png")


def test_list_pattern_unpadded(tmp_path):
    for name in ("f1.png", "f2.png", "f10.png", "f01.png"):
        write_image(tmp_path / name, _rgb(4, 4))
    assert [p.name for p in list_sequence(tmp_path / "f%d.png")] == ["f1.png", "f2.png", "f10.png"]


def test_list_errors(tmp_path):
    with pytest.raises(DecodeError, match="empty"):
        list_sequence(tmp_path)
    with pytest.raises(DecodeError, match="no file matches"):
        list_sequence(tmp_path / "x.%04d.png")
    with pytest.raises(DecodeError, match="does not exist"):
        list_sequence(tmp_path / "nope" / "x.%04d.png")
    write_image(tmp_path / "a1.png", _rgb(4, 4))
    write_image(tmp_path / "b1.png", _rgb(4, 4))
    with pytest.raises(InputError, match="two files numbered 1"):
        list_sequence(tmp_path)
    write_image(tmp_path / "sub" / "a1.png", _rgb(4, 4))
    write_image(tmp_path / "sub" / "a2.jpg", _rgb(4, 4))
    with pytest.raises(InputError, match="mixes image types"):
        list_sequence(tmp_path / "sub")
    with pytest.raises(InputError, match="exactly one"):
        parse_pattern("a.%04d.%04d.png")
