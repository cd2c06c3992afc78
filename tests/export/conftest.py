"""A finished run of the moving-disc scene and an AR pack made from it, shared by the export tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from glassvid import Pipeline
from glassvid.config import load_config
from glassvid.prompts import Prompt, load_mask


@pytest.fixture(scope="session")
def glass_run(tmp_path_factory: pytest.TempPathFactory, scene) -> Path:
    """The work directory of a finished run (cached passes only, no video written)."""
    clip, mask_png, _ = scene
    work = tmp_path_factory.mktemp("export-run")
    report = Pipeline(load_config(), work_dir=work).run(clip, None, prompt=Prompt(mask=load_mask(mask_png)))
    assert report.status == "complete"
    return Path(report.work_dir)


@pytest.fixture(scope="session")
def pack(tmp_path_factory: pytest.TempPathFactory, glass_run: Path) -> Path:
    from glassvid.export import export_ar, open_run

    out = tmp_path_factory.mktemp("export-pack") / "pack"
    export_ar(open_run(glass_run), out)
    return out
