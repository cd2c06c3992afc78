"""The command line: bad input gets one clear line, exit code 2, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from glassvid.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    """Exit 2, exactly one line on stderr starting 'glassvid: error:', containing every needle."""
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("glassvid: error: ")
    assert "Traceback" not in err
    for n in needles:
        assert n.lower() in lines[0].lower(), lines[0]


def no_output_left(folder: Path, name: str) -> bool:
    return not any(p.name.startswith(name) or p.name.startswith("." + name) for p in folder.iterdir())


def test_version_and_presets() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "glassvid" in out
    code, out, _ = run("presets")
    assert code == 0
    names = [ln.split()[0] for ln in out.strip().splitlines()]
    for preset in ("clear-glass", "hollow-cup", "solid-crystal", "frosted", "amber-bottle", "water"):
        assert preset in names
    assert all(len(ln.split(None, 1)) == 2 for ln in out.strip().splitlines())  # each has a description


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = run("convert", str(tmp_path / "nope.mp4"), "--box", "1,1,5,5", "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "nope.mp4")
    assert no_output_left(tmp_path, "o.mp4")


def test_not_a_video(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n" * 100)
    code, _, err = run("convert", str(bad), "--box", "1,1,5,5", "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "notes.mp4")
    assert no_output_left(tmp_path, "o.mp4")


def test_no_video_stream(tmp_path: Path) -> None:
    audio_only = tmp_path / "sound.m4a"
    with av.open(str(audio_only), "w") as c:
        s = c.add_stream("aac", rate=48000)
        s.layout = "mono"
        t = np.linspace(0, 1, 48000, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray((0.1 * np.sin(2 * np.pi * 440 * t))[None, :], format="fltp", layout="mono")
        frame.sample_rate = 48000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    code, _, err = run("convert", str(audio_only), "--box", "1,1,5,5", "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "no video stream")


def test_truncated_file(tmp_path: Path, scene) -> None:
    clip, _, _ = scene
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    code, _, err = run("convert", str(cut), "--box", "30,20,60,44", "-o", str(tmp_path / "o.mp4"), "-q")
    assert_clean_error(code, err, "cut.mp4")
    assert no_output_left(tmp_path, "o.mp4")


@pytest.mark.parametrize(
    "prompt, needle",
    [
        (["--point", "500,10"], "outside"),
        (["--box", "10,10,10,40"], "zero area"),
        (["--box", "200,200,300,300"], "outside"),
        (["--box", "10,10,40,40", "--prompt-frame", "99"], "does not exist"),
        (["--box", "1,2,3"], "four numbers"),
        ([], "no prompt"),
    ],
)
def test_bad_prompt(tmp_path: Path, scene, prompt: list[str], needle: str) -> None:
    clip, _, _ = scene
    code, _, err = run("convert", str(clip), *prompt, "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, needle)
    assert no_output_left(tmp_path, "o.mp4")


def test_empty_and_wrong_size_mask(tmp_path: Path, scene) -> None:
    clip, _, _ = scene
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), np.zeros((64, 96), np.uint8))
    code, _, err = run("convert", str(clip), "--mask", str(empty), "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "empty")
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((10, 10), 255, np.uint8))
    code, _, err = run("convert", str(clip), "--mask", str(small), "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "10x10", "96x64")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--preset", "no-such-look"], "unknown preset"),
        (["--set", "glass.sparkle=2"], "unknown config key"),
        (["--set", "nosection.ior=2"], "unknown config section"),
        (["--set", "glass.ior=9"], "out of range"),
        (["--set", "glass.mode=liquid"], "not one of"),
        (["--set", "glass.ior"], "section.key=value"),
    ],
)
def test_bad_config(tmp_path: Path, scene, args: list[str], needle: str) -> None:
    clip, mask, _ = scene
    code, _, err = run("convert", str(clip), "--mask", str(mask), *args, "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, needle)


def test_bad_config_file(tmp_path: Path, scene) -> None:
    clip, mask, _ = scene
    cfg = tmp_path / "look.yaml"
    cfg.write_text("glass:\n  ior: [unclosed\n")
    code, _, err = run("convert", str(clip), "--mask", str(mask), "--config", str(cfg), "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "not valid yaml")


def test_output_equals_input(tmp_path: Path, scene) -> None:
    clip, mask, _ = scene
    copy = tmp_path / "in.mp4"
    copy.write_bytes(clip.read_bytes())
    before = copy.read_bytes()
    code, _, err = run("convert", str(copy), "--mask", str(mask), "-o", str(tmp_path / "." / "in.mp4"))
    assert_clean_error(code, err, "input")
    assert copy.read_bytes() == before  # the input is never touched


def test_unwritable_output_folder(tmp_path: Path, scene) -> None:
    clip, mask, _ = scene
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    code, _, err = run("convert", str(clip), "--mask", str(mask), "-o", str(blocker / "out.mp4"))
    assert_clean_error(code, err, "afile")
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = run("convert", str(clip), "--mask", str(mask), "-o", str(locked / "out.mp4"))
        assert_clean_error(code, err, "locked")


def test_bad_frames_range(tmp_path: Path, scene) -> None:
    clip, mask, _ = scene
    code, _, err = run("convert", str(clip), "--mask", str(mask), "--frames", "5-500", "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "outside the clip")
    code, _, err = run("convert", str(clip), "--mask", str(mask), "--frames", "abc", "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "FIRST-LAST")


def test_matte_folder_with_wrong_count(tmp_path: Path, scene) -> None:
    clip, _, masks = scene
    mattes = tmp_path / "mattes"
    mattes.mkdir()
    for i, m in enumerate(masks[:5]):
        cv2.imwrite(str(mattes / f"{i:05d}.png"), np.where(m, 255, 0).astype(np.uint8))
    code, _, err = run("convert", str(clip), "--matte", str(mattes), "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "5 images", "12 frames")


def test_real_entry_point_exit_code(tmp_path: Path) -> None:
    """The installed command (not only click's runner) exits 2 with one line and no traceback."""
    proc = subprocess.run([sys.executable, "-m", "glassvid", "convert", str(tmp_path / "missing.mov"), "--box", "1,1,4,4", "-o", str(tmp_path / "o.mp4")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("glassvid: error:") and len(proc.stderr.strip().splitlines()) == 1


def test_prompt_file_on_a_missing_frame(tmp_path: Path, scene) -> None:
    """Every prompt of a several-frame prompt file is checked before anything runs."""
    clip, mask, _ = scene
    path = tmp_path / "p.json"
    path.write_text(f'[{{"frame": 0, "mask": "{mask}"}}, {{"frame": 40, "box": [1, 1, 20, 20]}}]')
    code, _, err = run("convert", str(clip), "--prompt-file", str(path), "-o", str(tmp_path / "o.mp4"))
    assert_clean_error(code, err, "40", "does not exist")
    assert no_output_left(tmp_path, "o.mp4")
