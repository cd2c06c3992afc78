"""Shared test setup: quiet OpenMP waiting (before torch loads), a private cache, synthetic scenes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

from scenes import write_scene  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test's default work dir out of the user's cache."""
    monkeypatch.setenv("GLASSVID_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def scene(tmp_path_factory: pytest.TempPathFactory):
    """A 12-frame 96x64 mp4 (with audio) of a disc sliding over a textured background."""
    return write_scene(tmp_path_factory.mktemp("scene"))
