"""The inpaint-and-score loop: candidate plates -> glass render -> See-Through Score -> keep the best.

Runs on the finished plates of the plate pass, on every ``plate.loop_interval``-th
frame with a hole. Per scored frame, round 1 scores the plate as recovered; each
further round (up to ``plate.loop_iterations`` in all) scores one more candidate,
until the best score reaches ``plate.loop_target``. A candidate replaces the recovered
plate only when it scores ``plate.loop_margin`` higher (the score's frame-to-frame
noise would otherwise pick winners among equals). The candidates:

1. ``recovered`` -- the plate as the pass made it;
2. ``rim`` -- the object's rim taken out of the plate. Where the mask falls short of the
   object's edge (a tight roto matte, a mask that lags a moving object), the pixels
   just outside the plate's hole are the object's own, and the glass shows them all
   along its outline. Object-coloured pixels joined to the hole, up to ``_RIM_PX``
   outside it (:func:`glassvid.score.object_coloured`), are filled from their
   surroundings like never-seen ones; the score's ``leftover`` sees the rim
   (:func:`glassvid.score.plate_leftover`) and, with it gone, the seam.

Measured with ``benchmarks/plate.py`` (loop section): on the ground-truth scenes with
mattes that fall 5 px short of the object the loop takes ``rim`` on nearly every frame
and the plate gains several dB inside the object; with the true mattes, glassvid's own
masks and mattes jittered by 3 px it changes nothing or next to nothing. Other
candidates were measured and left out, as each made the plate worse on some real clip
(against the plate recovered with the true masks): the object's colours inside the hole
refilled or taken from the other sweep (a black swan's reflection in the water is the
swan's colour), the never-seen pixels filled by OpenCV's other methods (their streaks
pass for background detail), the weak regions of the local score refilled.

The render uses the default glass look, not the run's: the plate must not depend on
the look, so that changing the IOR or the tint re-renders without recovering the
background again. The best candidate replaces the plate; on the frames between two
scored ones the winner's kind is applied without scoring. Every round's score goes to
the pass's report (``complete.json`` -> ``loop``).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from glassvid.clip import ClipCache
from glassvid.config import GlassConfig, PlateConfig
from glassvid.plate.inpaint import fill_unseen

_RIM_PX = 4  # the object's rim is looked for this far outside the hole (2, 4 and 8 measured: all safe, 4 the middle)
_RIM_GROW = np.ones((3, 3), np.uint8)  # ... and refilled with 1 px around it
KINDS = ("recovered", "rim")


class PlateLoop:
    """The loop over one clip's plates. ``look`` is the glass the candidates are rendered as."""

    def __init__(self, cfg: PlateConfig, *, matte_feather_px: float, look: GlassConfig | None = None) -> None:
        self.cfg = cfg
        self.feather_px = matte_feather_px
        self.look = look or GlassConfig()

    def candidate(self, kind: str, rgb: np.ndarray, frame: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        """The plate crop (``rgb``, frame ``box``) of candidate ``kind``; None when it would equal ``rgb``."""
        if kind == "recovered":
            return None
        if kind == "rim":
            from glassvid.score import object_coloured

            x0, y0, x1, y1 = box
            plate = frame.copy()
            plate[y0:y1, x0:x1] = rgb
            rim = object_coloured(plate, frame, mask, self.cfg.hole_dilate_px, rim_px=_RIM_PX)
            if rim is None or not rim[y0:y1, x0:x1].any():
                return None
            refill = cv2.dilate(rim[y0:y1, x0:x1].astype(np.uint8), _RIM_GROW) > 0
            return fill_unseen(rgb, refill, radius_px=self.cfg.inpaint_radius_px, method=self.cfg.inpaint_method)
        raise ValueError(f"unknown loop candidate '{kind}'; known: {', '.join(KINDS)}")

    def run(self, clip: ClipCache, stats: Any = None) -> dict[str, Any]:
        """Score and improve the plates in ``clip.plate_store``; returns the report for ``complete.json``."""
        from glassvid.masks.matte import feather
        from glassvid.render.glass import render_glass
        from glassvid.score import see_through

        cfg = self.cfg
        store = clip.plate_store
        frames = [i for i in range(clip.n) if store.has("plate", i, "npz")]
        scored = set(frames[:: cfg.loop_interval]) if cfg.loop_interval > 0 else set()
        report: list[dict[str, Any]] = []
        winner = "recovered"
        for i in frames:
            d = store.load_arrays("plate", i)
            box = tuple(int(v) for v in d["box"])
            x0, y0, x1, y1 = box
            frame, mask = clip.frame(i), clip.mask(i)
            if i not in scored:  # the last scored frame's choice holds until the next one
                new = self.candidate(winner, d["rgb"], frame, mask, box)
                if new is not None:
                    store.save_arrays("plate", i, **{**d, "rgb": new})
                continue
            height, radius = clip.depth(i)
            matte = feather(mask, self.feather_px)

            def score(rgb: np.ndarray) -> float:
                plate = frame.copy()
                plate[y0:y1, x0:x1] = rgb
                out, _ = render_glass(frame, plate, matte, height, radius, self.look)
                st = see_through(out, frame, mask, plate, hole_px=cfg.hole_dilate_px)
                return st.score if st.score is not None else 1.0

            best_rgb, best, best_kind = d["rgb"], score(d["rgb"]), "recovered"
            rounds = [{"candidate": "recovered", "score": best}]
            for kind in KINDS[1:]:
                if len(rounds) >= cfg.loop_iterations or best >= cfg.loop_target:
                    break
                rgb = self.candidate(kind, d["rgb"], frame, mask, box)
                if rgb is None:
                    continue
                s = score(rgb)
                rounds.append({"candidate": kind, "score": s})
                # a change must be clearly better: the score's noise alone picks a winner among equals
                if s > best + (cfg.loop_margin if best_kind == "recovered" else 0.0):
                    best, best_rgb, best_kind = s, rgb, kind
            winner = best_kind
            if best_kind != "recovered":
                store.save_arrays("plate", i, **{**d, "rgb": best_rgb})
            report.append({"frame": clip.frames.start + i, "rounds": rounds, "chosen": best_kind, "score": best})
        first = [r["rounds"][0]["score"] for r in report]
        final = [r["score"] for r in report]
        return {
            "frames": report,
            "scored_frames": len(report),
            "mean_score_recovered": float(np.mean(first)) if first else None,
            "mean_score_chosen": float(np.mean(final)) if final else None,
            "changed_frames": sum(r["chosen"] != "recovered" for r in report),
        }
