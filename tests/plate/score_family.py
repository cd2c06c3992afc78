"""Results of known quality on the ground-truth scenes, for testing the See-Through Score.

For a frame of a scene in ``../shared/data/gt/<scene>/`` this builds:

- the **ranking** candidates: ``glass`` (the rendered truth), ``glassvid`` (glassvid's
  renderer over the scene's plate, silhouette depth, default look), ``blend50`` (the
  input averaged with its per-frame OpenCV inpainting, as ``glassvid eval`` does) and
  ``input`` (the opaque object);
- a **family** of degraded results, each the truth with one defect of known size
  applied as the change it makes: the opaque object mixed back in at 0-100 %
  (``glass + a (input - glass)``), the plate shifted by 2-8 px (``glass`` plus the
  change a shifted plate makes in glassvid's render; the score is given the shifted
  plate, as the pipeline would give it the plate it rendered with), and the
  refraction scaled by 0.5-4 (``glass`` plus the change scaling the refraction makes
  in glassvid's render). Each carries its PSNR against ``glass`` inside the object
  region (the mask grown by 4 px, as ``glassvid eval`` measures).

Everything runs per frame; a few frames per scene take about a second.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from glassvid.config import DepthConfig, GlassConfig
from glassvid.depth import build_depth
from glassvid.io import read_image
from glassvid.masks.matte import feather
from glassvid.metrics import dilate_mask, psnr
from glassvid.render.glass import render_glass

MIX = (0.0, 0.25, 0.5, 0.75, 1.0)
SHIFT_PX = (2, 4, 8)
REFRACTION = (0.5, 2.0, 4.0)
HOLE_PX = 3  # plate.hole_dilate_px
FEATHER_PX = 2.5  # masks.feather_px + glass.edge_px


@dataclass
class Result:
    name: str
    image: np.ndarray
    plate: np.ndarray  # the plate the score is given with it
    psnr: float  # against glass/ in the object region


@dataclass
class Frame:
    input: np.ndarray
    mask: np.ndarray
    plate: np.ndarray
    ranking: dict[str, Result]
    family: list[Result]  # the truth with defects applied
    render_family: list[Result]  # glassvid's render with the same defects


def shifted(img: np.ndarray, s: float) -> np.ndarray:
    m = np.float32([[1, 0, s], [0, 1, 0.5 * s]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def load_frame(scene_dir: Path, i: int, plate: np.ndarray | None = None) -> Frame:
    """The ranking candidates and both families for frame ``i`` of ``scene_dir``."""
    I = read_image(scene_dir / "input" / f"{i:05d}.png")
    G = read_image(scene_dir / "glass" / f"{i:05d}.png")
    M = read_image(scene_dir / "mask" / f"{i:05d}.png", mode="gray") > 127
    P = read_image(scene_dir / "plate" / f"{i:05d}.png") if plate is None else plate
    region = dilate_mask(M, 4)
    d = build_depth(DepthConfig())(I, M)
    matte = feather(M, FEATHER_PX)
    look = GlassConfig()

    def render(p: np.ndarray, cfg: GlassConfig = look) -> np.ndarray:
        return render_glass(I, p, matte, d.height, d.radius_px, cfg)[0]

    def result(name: str, img: np.ndarray, plate_: np.ndarray = P) -> Result:
        return Result(name, img, plate_, min(psnr(img, G, region), 99.0))

    def add(base: np.ndarray, delta: np.ndarray) -> np.ndarray:
        return np.clip(base.astype(np.float32) + delta + 0.5, 0, 255).astype(np.uint8)

    R = render(P)
    inpaint = cv2.inpaint(I, dilate_mask(M, 2).astype(np.uint8), 5, cv2.INPAINT_TELEA)
    ranking = {
        "glass": result("glass", G),
        "glassvid": result("glassvid", R),
        "blend50": result("blend50", ((I.astype(np.uint16) + inpaint) // 2).astype(np.uint8)),
        "input": result("input", I),
    }
    hole = dilate_mask(M, HOLE_PX)
    family, render_family = [], []
    for a in MIX:
        family.append(result(f"mix{a:g}", add(G, a * (I.astype(np.float32) - G))))
        render_family.append(result(f"mix{a:g}", add(R, a * (I.astype(np.float32) - R))))
    for s in SHIFT_PX:
        Ps = np.where(hole[..., None], shifted(P, s), P)
        Rs = render(Ps)
        family.append(result(f"shift{s}", add(G, Rs.astype(np.float32) - R), Ps))
        render_family.append(result(f"shift{s}", Rs, Ps))
    for k in REFRACTION:
        Rk = render(P, dataclasses.replace(look, plate_distance=look.plate_distance * k, thickness=min(4.0, look.thickness * k) if k > 1 else look.thickness * k))
        family.append(result(f"refraction{k:g}", add(G, Rk.astype(np.float32) - R)))
        render_family.append(result(f"refraction{k:g}", Rk))
    return Frame(I, M, P, ranking, family, render_family)
