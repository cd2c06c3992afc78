"""`glassvid export`, `export-ar` and `convert --passes`: they work, and bad input gets one
clear line, exit code 2, and leaves nothing half-written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from glassvid.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("glassvid: error: ") and "Traceback" not in err, err
    for n in needles:
        assert n.lower() in lines[0].lower(), lines[0]


def nothing_written(parent: Path, name: str) -> bool:
    return not any(p.name == name or p.name.startswith(f".{name}.") for p in parent.iterdir())


def test_export_and_export_ar(glass_run: Path, tmp_path: Path) -> None:
    code, _, err = run("export", glass_run, "-o", tmp_path / "vfx", "--format", "exr,png", "--pass", "beauty", "--pass", "alpha,stmap", "--frames", "3-4", "-q")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "vfx").glob("*.exr")) == ["shot.1004.exr", "shot.1005.exr"]
    assert len(list((tmp_path / "vfx").glob("shot.stmap.*.png"))) == 2
    # RUN may also be a copy of the run's report (`convert --report`): it names the work dir
    shutil.copy(glass_run / "report.json", tmp_path / "copy.json")
    code, _, err = run("export-ar", tmp_path / "copy.json", "-o", tmp_path / "ar", "--max-frames", "6", "-q")
    assert code == 0, err
    assert json.loads((tmp_path / "ar" / "manifest.json").read_text())["frame_count"] == 6
    # a look change re-renders; a change to the analysis is refused
    code, _, err = run("export", glass_run, "-o", tmp_path / "ior", "--set", "glass.ior=1.33", "--pass", "beauty", "--frames", "0-0", "-q")
    assert code == 0, err
    code, _, err = run("export", glass_run, "-o", tmp_path / "bad", "--set", "masks.feather_px=3")
    assert_clean_error(code, err, "masks.feather_px", "convert")
    assert nothing_written(tmp_path, "bad")


def test_a_non_empty_output_is_refused_unless_overwrite(glass_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for cmd in ("export", "export-ar"):
        code, _, err = run(cmd, glass_run, "-o", out)
        assert_clean_error(code, err, "not empty", "--overwrite")
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob(".out.*"))
    # --overwrite replaces an earlier export, never a folder of other files
    code, _, err = run("export", glass_run, "-o", out, "--overwrite")
    assert_clean_error(code, err, "not a glassvid export")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    (out / "keep.txt").unlink()
    for frames in ("0-3", "0-1"):
        code, _, err = run("export", glass_run, "-o", out, "--overwrite", "--pass", "alpha", "--frames", frames, "-q")
        assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["export.json", "shot.1001.exr", "shot.1002.exr"]
    assert not list(tmp_path.glob(".out.*"))
    # an empty folder is fine without --overwrite
    (tmp_path / "empty").mkdir()
    code, _, err = run("export", glass_run, "-o", tmp_path / "empty", "--pass", "alpha", "--frames", "0-0", "-q")
    assert code == 0, err


@pytest.mark.parametrize(
    "args, needles",
    [
        (("--frames", "5-40"), ("--frames 5-40", "0-11")),
        (("--frames", "7-3"), ("before the first",)),
        (("--pass", "beauty,sparkle"), ("unknown pass 'sparkle'", "stmap")),
        (("--format", "png", "--pass", "depth"), ("depth", "exr")),
        (("--format", "jpeg2000"), ("unknown export format",)),
        (("--start-frame", "-5"), ("--start-frame",)),
        (("--name", "../x"), ("--name",)),
    ],
)
def test_bad_options(glass_run: Path, tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    code, _, err = run("export", glass_run, "-o", tmp_path / "out", *args)
    assert_clean_error(code, err, *needles)
    assert nothing_written(tmp_path, "out")


def test_export_ar_bad_options(glass_run: Path, tmp_path: Path) -> None:
    for args, needle in ((("--frames", "0-99"), "outside the run"), (("--max-size", "4"), "--max-size"), (("--background", tmp_path / "nope.png"), "nope.png")):
        code, _, err = run("export-ar", glass_run, "-o", tmp_path / "pack", *args)
        assert_clean_error(code, err, needle)
        assert nothing_written(tmp_path, "pack")


def test_an_incomplete_run_or_no_run_is_a_clear_error(glass_run: Path, tmp_path: Path) -> None:
    broken = tmp_path / "run"
    shutil.copytree(glass_run, broken)
    report = json.loads((broken / "report.json").read_text())
    (broken / report["run"]["stores"]["plate"] / "complete.json").unlink()  # as if interrupted
    for cmd in ("export", "export-ar"):
        code, _, err = run(cmd, broken, "-o", tmp_path / "out")
        assert_clean_error(code, err, "incomplete", "plate")
        assert nothing_written(tmp_path, "out")
    code, _, err = run("export", tmp_path / "nowhere", "-o", tmp_path / "out")
    assert_clean_error(code, err, "does not exist")
    (tmp_path / "empty").mkdir()
    code, _, err = run("export", tmp_path / "empty", "-o", tmp_path / "out")
    assert_clean_error(code, err, "no report.json")
    del report["run"]
    (broken / "report.json").write_text(json.dumps(report))
    code, _, err = run("export", broken, "-o", tmp_path / "out")
    assert_clean_error(code, err, "older glassvid")
    assert nothing_written(tmp_path, "out")


def test_output_may_not_hold_the_run(glass_run: Path, tmp_path: Path) -> None:
    code, _, err = run("export", glass_run, "-o", glass_run.parent, "--overwrite")
    assert_clean_error(code, err, "which the export reads")
    assert (glass_run / "report.json").is_file()


def test_convert_with_passes(scene, tmp_path: Path) -> None:
    clip, mask_png, _ = scene
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    # a non-empty --passes folder fails before the run, and no video is written
    code, _, err = run("convert", clip, "--mask", mask_png, "-o", tmp_path / "o.mp4", "--passes", tmp_path / "full", "--work-dir", tmp_path / "w")
    assert_clean_error(code, err, "not empty")
    assert not (tmp_path / "o.mp4").exists()
    code, _, err = run("convert", clip, "--mask", mask_png, "-o", tmp_path / "o.mp4", "--passes", tmp_path / "p", "--pass", "unknown", "--work-dir", tmp_path / "w")
    assert_clean_error(code, err, "unknown pass")
    code, _, err = run("convert", clip, "--mask", mask_png, "-o", tmp_path / "o.mp4", "--passes", tmp_path / "p", "--passes-format", "exr,prores", "--start-frame", "101", "--work-dir", tmp_path / "w", "-q")
    assert code == 0, err
    assert (tmp_path / "o.mp4").is_file() and (tmp_path / "p" / "shot.mov").is_file()
    assert sorted(p.name for p in (tmp_path / "p").glob("*.exr"))[::11] == ["shot.0101.exr", "shot.0112.exr"]
