"""Deliverables from a finished run: VFX passes and sequences, ProRes, an AR asset pack.

>>> run = open_run("~/.cache/glassvid/<clip-key>")          # the run's work directory
>>> export_passes(run, "shot_passes/", formats=["exr"], start_frame=1001)
>>> export_ar(run, "pack/")                                 # glass layer, maps, manifest, preview
"""

from __future__ import annotations

from glassvid.export.run import Run, open_run
from glassvid.export.passes import FORMATS, PASSES, export_passes

__all__ = ["FORMATS", "PASSES", "Run", "open_run", "export_passes", "export_ar", "composite_frame", "load_pack"]


def __getattr__(name: str):
    if name == "export_ar":
        from glassvid.export.ar import export_ar

        return export_ar
    if name in ("composite_frame", "load_pack"):
        from glassvid.export import composite

        return getattr(composite, name)
    raise AttributeError(f"module 'glassvid.export' has no attribute {name!r}")
