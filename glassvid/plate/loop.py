"""The inpaint-and-score loop: candidate plates -> glass render -> See-Through Score -> keep the best.

Runs on the finished plates of the plate pass, on every ``plate.loop_interval``-th
frame with a hole. Per scored frame, round 1 scores the plate as recovered; each
further round (up to ``plate.loop_iterations`` in all) scores one more candidate,
until the best score reaches ``plate.loop_target``. A candidate replaces the recovered
plate only when it scores ``plate.loop_margin`` higher (the score's frame-to-frame
noise would otherwise pick winners among equals):

1. ``recovered`` -- the plate as the pass made it;
2. ``object-colour`` -- pixels of the plate whose colour is the object's (pieces of it
   carried in from frames whose mask missed them, :func:`glassvid.score.object_coloured`)
   taken from the other sweep where that one saw background, else filled like
   never-seen ones;
3. ``other-sweep`` -- every pixel seen by both sweeps taken from the one that did not
   win it (a sighting spoiled in one direction, e.g. by a mask that missed the object
   there, may be clean in the other);
4. ``low-confidence`` -- pixels carried from far away or seen right beside the object
   (confidence below ``plate.loop_low_confidence``) are filled like never-seen ones
   instead (propagation vs inpainting where propagation is unsure);
5. ``fill:<method>`` -- the never-seen pixels filled by each other classic method;
6. ``refine`` -- the best so far, with its weak regions (where the local score,
   :func:`glassvid.score.local_score`, is below half the frame's) refilled.

The render uses the default glass look, not the run's: the plate must not depend on
the look, so that changing the IOR or the tint re-renders without recovering the
background again. The best candidate replaces the plate; on the frames between two
scored ones the winner's kind is applied without scoring. Every round's score goes to
the pass's report (``complete.json`` -> ``loop``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import cv2
import numpy as np

from glassvid.clip import ClipCache
from glassvid.config import GlassConfig, PlateConfig
from glassvid.plate.inpaint import METHODS, fill_unseen

_REFINE_FRACTION = 0.5  # "weak": local score below this fraction of the frame's score
_GROW = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))  # object-coloured pieces are refilled with 2 px around them


@dataclass
class Candidate:
    name: str
    rgb: np.ndarray  # the plate crop


class PlateLoop:
    """The loop over one clip's plates. ``look`` is the glass the candidates are rendered as."""

    def __init__(self, cfg: PlateConfig, *, matte_feather_px: float, look: GlassConfig | None = None, candidates: list[str] | None = None) -> None:
        self.cfg = cfg
        self.candidates = candidates
        self.feather_px = matte_feather_px
        self.look = look or GlassConfig()

    # -- candidates ---------------------------------------------------------------------------
    def candidate(
        self,
        kind: str,
        rgb: np.ndarray,
        age: np.ndarray,
        conf: np.ndarray,
        hole: np.ndarray,
        *,
        frame_ctx: Callable[[np.ndarray], np.ndarray] | None = None,
        object_like: np.ndarray | None = None,
        alt: np.ndarray | None = None,
        alt_object_like: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """The plate crop of candidate ``kind`` (None when it would equal ``rgb``)."""
        unknown = ~np.isfinite(age)
        method, radius = self.cfg.inpaint_method, self.cfg.inpaint_radius_px
        if kind == "object-colour":
            if object_like is None:
                return None
            bad = cv2.dilate((object_like & hole & (age > 0)).astype(np.uint8), _GROW) > 0
            bad &= hole & (age > 0)
            if not bad.any():
                return None
            out = rgb.copy()
            if alt is not None and alt_object_like is not None:
                # where the other sweep saw something that is not the object, take that
                swap = bad & ~alt_object_like & np.any(alt != rgb, axis=-1)
                out[swap] = alt[swap]
                bad &= ~swap
            return fill_unseen(out, bad, radius_px=radius, method=method) if bad.any() else out
        if kind == "other-sweep":
            if alt is None or not np.any(alt != rgb):
                return None
            return alt
        if kind == "low-confidence":
            low = hole & np.isfinite(age) & (age > 0) & (conf < self.cfg.loop_low_confidence)
            if not low.any():
                return None
            return fill_unseen(rgb, unknown | low, radius_px=radius, method=method)
        if kind.startswith("fill:"):
            other = kind.split(":", 1)[1]
            if not unknown.any() or other == method:
                return None
            return fill_unseen(rgb, unknown, radius_px=radius, method=other)
        if kind == "refine":
            if frame_ctx is None:
                return None
            weak = frame_ctx(rgb) & hole
            if not weak.any():
                return None
            return fill_unseen(rgb, weak, radius_px=radius, method=method)
        raise ValueError(f"unknown loop candidate '{kind}'")

    def kinds(self) -> list[str]:
        if self.candidates is not None:
            return ["recovered"] + [k for k in self.candidates if k != "recovered"]
        return ["recovered", "object-colour", "other-sweep", "low-confidence"] + [f"fill:{m}" for m in METHODS if m != self.cfg.inpaint_method] + ["refine"]

    def _extra(self, *, kind: str, rgb: np.ndarray, alt: np.ndarray | None, frame: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, Any]:
        """What candidate ``kind`` needs besides the plate: the other sweep's colours, object-colour maps."""
        if kind == "object-colour":
            return {
                "object_like": self._object_like(rgb, frame, mask, box),
                "alt": alt,
                "alt_object_like": self._object_like(alt, frame, mask, box) if alt is not None else None,
            }
        if kind == "other-sweep":
            return {"alt": alt}
        return {}

    def _object_like(self, rgb: np.ndarray, frame: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
        from glassvid.score import object_coloured

        x0, y0, x1, y1 = box
        plate = frame.copy()
        plate[y0:y1, x0:x1] = rgb
        like = object_coloured(plate, frame, mask, self.cfg.hole_dilate_px)
        return None if like is None else like[y0:y1, x0:x1]

    # -- the loop -----------------------------------------------------------------------------
    def run(self, clip: ClipCache, stats: Any = None) -> dict[str, Any]:
        """Score and improve the plates in ``clip.plate_store``; returns the report for ``complete.json``."""
        from glassvid.masks.matte import feather
        from glassvid.render.glass import render_glass
        from glassvid.score import local_score, see_through

        cfg = self.cfg
        store = clip.plate_store
        frames = [i for i in range(clip.n) if store.has("plate", i, "npz")]
        scored = frames[:: cfg.loop_interval] if cfg.loop_interval > 0 else []
        report: list[dict[str, Any]] = []
        winner = "recovered"
        for i in frames:
            d = store.load_arrays("plate", i)
            box = tuple(int(v) for v in d["box"])
            x0, y0, x1, y1 = box
            frame = clip.frame(i)
            mask = clip.mask(i)
            hole = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * cfg.hole_dilate_px + 1,) * 2)) > 0 if cfg.hole_dilate_px > 0 else mask
            hole_c = hole[y0:y1, x0:x1]
            conf = d["conf"].astype(np.float32) if "conf" in d else np.where(np.isfinite(d["age"]), 1.0, 0.0)
            alt = d.pop("alt", None)
            if alt is not None:
                # the other sweep offers nothing where no frame showed the background: there its
                # array still holds the frame (the object itself), the plate the fill
                alt = np.where(np.isfinite(d["age"])[..., None], alt, d["rgb"])
            extra = self._extra(kind=winner, rgb=d["rgb"], alt=alt, frame=frame, mask=mask, box=box)
            if i not in scored:
                new = None
                if winner not in ("recovered", "refine"):  # the last scored frame's choice holds until the next one
                    new = self.candidate(winner, d["rgb"], d["age"], conf, hole_c, **extra)
                store.save_arrays("plate", i, **{**d, "rgb": new if new is not None else d["rgb"]})
                continue
            height, radius = clip.depth(i)
            matte = feather(mask, self.feather_px)

            def score(rgb: np.ndarray) -> tuple[float, np.ndarray]:
                plate = frame.copy()
                plate[y0:y1, x0:x1] = rgb
                out, _ = render_glass(frame, plate, matte, height, radius, self.look)
                st = see_through(out, frame, mask, plate, hole_px=cfg.hole_dilate_px)
                return (st.score if st.score is not None else 1.0), out

            best_rgb, (best, best_out) = d["rgb"], score(d["rgb"])
            best_kind = "recovered"
            rounds = [{"candidate": "recovered", "score": best}]
            for kind in self.kinds()[1:]:
                if len(rounds) >= cfg.loop_iterations or best >= cfg.loop_target:
                    break

                def weak(rgb: np.ndarray, out: np.ndarray = best_out, s: float = best) -> np.ndarray:
                    local = local_score(out, frame, mask)[y0:y1, x0:x1]
                    return local < _REFINE_FRACTION * s

                extra = self._extra(kind=kind, rgb=d["rgb"], alt=alt, frame=frame, mask=mask, box=box)
                rgb = self.candidate(kind, best_rgb if kind == "refine" else d["rgb"], d["age"], conf, hole_c, frame_ctx=weak, **extra)
                if rgb is None:
                    continue
                s, out = score(rgb)
                rounds.append({"candidate": kind, "score": s})
                # a change must be clearly better: the score's noise alone picks a winner among equals
                if s > best + (cfg.loop_margin if best_kind == "recovered" else 0.0):
                    best, best_rgb, best_out, best_kind = s, rgb, out, kind
            winner = best_kind
            store.save_arrays("plate", i, **{**d, "rgb": best_rgb})  # without the alternative colours
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
