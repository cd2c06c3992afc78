"""The glass render's physics on drawn scenes: a sphere inverts, a thin shell looks through,
Fresnel grows at the rim, tint absorbs, rims do not alias, and outside the matte is the input."""

from __future__ import annotations

import dataclasses

import numpy as np

from glassvid.config import load_config
from glassvid.depth import build_depth
from glassvid.masks.matte import feather
from glassvid.render.glass import render_glass

H, W, R = 120, 160, 36.0
CX, CY = W / 2, H / 2


def _disc() -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W]
    return (xs - CX) ** 2 + (ys - CY) ** 2 <= R * R


def _gradient_plate() -> np.ndarray:
    """Dark on the left, bright on the right (and a vertical ramp in green)."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    return np.stack([20 + 215 * xs / (W - 1), 20 + 215 * ys / (H - 1), np.full_like(xs, 128)], -1).astype(np.uint8)


def _checker_plate(cell: int = 2) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W]
    on = ((xs // cell + ys // cell) % 2).astype(bool)
    return np.where(on[..., None], np.array([230, 40, 40], np.uint8), np.array([240, 240, 240], np.uint8))


def _render(plate: np.ndarray, **glass: object):
    cfg = load_config()
    g = dataclasses.replace(cfg.glass, **glass)
    mask = _disc()
    depth = build_depth(cfg.depth)(plate, mask)
    matte = feather(mask, cfg.masks.feather_px + g.edge_px)
    frame = np.full_like(plate, 90)
    frame[~mask] = plate[~mask]  # an opaque grey disc in front of the plate
    out, layer = render_glass(frame, plate, matte, depth.height, depth.radius_px, g)
    return frame, out, layer, matte


def _offset_at(layer, x: float, y: float) -> np.ndarray:
    x0, y0 = layer.box[:2]
    return layer.offset[int(y) - y0, int(x) - x0]


def test_outside_the_matte_is_the_input_exactly() -> None:
    frame, out, _, matte = _render(_gradient_plate())
    assert np.array_equal(out[matte == 0], frame[matte == 0])
    assert np.abs(out[_disc()].astype(int) - frame[_disc()]).mean() > 10  # the grey disc is gone


def test_a_solid_sphere_inverts_what_is_behind_it() -> None:
    _, out, layer, _ = _render(_gradient_plate(), mode="solid", ior=1.5)
    # the plate's red ramp rises to the right; seen through a ball lens near its centre it falls
    row = out[int(CY), int(CX - R / 3) : int(CX + R / 3), 0].astype(float)
    assert np.polyfit(np.arange(len(row)), row, 1)[0] < 0
    # a pixel left of the centre samples the plate to its right
    assert _offset_at(layer, CX - R / 3, CY)[0] > R / 3


def test_a_hollow_shell_looks_nearly_straight_through_its_middle() -> None:
    _, out, layer, _ = _render(_gradient_plate(), mode="hollow", ior=1.5)
    middle = np.abs(_offset_at(layer, CX - R / 4, CY))
    rim = np.abs(_offset_at(layer, CX - 0.95 * R, CY))
    assert middle.max() < 0.1 * R < rim.max()
    row = out[int(CY), int(CX - R / 3) : int(CX + R / 3), 0].astype(float)
    assert np.polyfit(np.arange(len(row)), row, 1)[0] > 0  # not inverted


def test_fresnel_reflectance_grows_toward_the_rim() -> None:
    _, _, layer, _ = _render(_gradient_plate(), mode="solid")
    centre = layer.reflectance[int(CY) - layer.box[1], int(CX) - layer.box[0]]
    rim = layer.reflectance[int(CY) - layer.box[1], int(CX - 0.97 * R) - layer.box[0]]
    assert 0.0 < centre < rim


def test_tint_absorbs_by_thickness() -> None:
    plate = np.full((H, W, 3), 200, np.uint8)
    _, clear, _, _ = _render(plate)
    _, amber, _, _ = _render(plate, tint=(1.0, 0.7, 0.3))
    inside = _disc()
    assert np.abs(clear[inside][:, 0].astype(int) - amber[inside][:, 0]).mean() < 3
    assert (amber[inside][:, 2].astype(int) < clear[inside][:, 2] - 20).mean() > 0.8


def test_rims_do_not_alias() -> None:
    """Over a fine checker the rims' squeezed view is averaged (mip-mapped), not point-sampled into speckle."""
    plate = _checker_plate()

    def rim_speckle(out: np.ndarray) -> float:
        inside = _disc()
        ys, xs = np.mgrid[0:H, 0:W]
        rim = inside & ((xs - CX) ** 2 + (ys - CY) ** 2 >= (0.85 * R) ** 2)
        img = out.astype(np.float32)
        diff = np.abs(np.diff(img, axis=1)).sum(-1)[:-1, :] + np.abs(np.diff(img, axis=0)).sum(-1)[:, :-1]
        return float(diff[rim[:-1, :-1]].mean())

    _, mip, _, _ = _render(plate, mode="hollow")
    _, point, _, _ = _render(plate, mode="hollow", antialias=False)
    assert rim_speckle(mip) < 0.6 * rim_speckle(point)


def test_a_prism_deviates_light_by_snells_law() -> None:
    """A height ramp is a symmetric prism (front face z = -h, back face z = +h): the ray leaves it
    turned by the angle two refractions give, whatever the tracer's steps."""
    ior, slope, thickness = 1.5, 0.3, 1.0
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    inside = (np.abs(xs - CX) < R) & (np.abs(ys - CY) < R)
    height_px = np.where(inside, 2.0 * R + slope * (xs - CX), 0.0).astype(np.float32)  # > 0 inside
    unit = height_px / (thickness * R)

    def offset_x(plate_distance: float) -> np.ndarray:
        g = dataclasses.replace(load_config().glass, mode="solid", ior=ior, thickness=thickness, plate_distance=plate_distance, frost=0.0, dispersion=0.0)
        _, layer = render_glass(np.full((H, W, 3), 90, np.uint8), _gradient_plate(), inside.astype(np.float32), unit, R, g)
        x0, y0 = layer.box[:2]
        return layer.offset[int(CY) - y0, int(CX - R / 2) - x0 : int(CX + R / 2) - x0, 0]

    theta = np.arctan(slope)  # each face's tilt; the apex angle is 2 theta
    r1 = np.arcsin(np.sin(theta) / ior)  # inside, after the front face
    exit_angle = np.arcsin(ior * np.sin(2 * theta - r1))  # after the back face, from its normal
    deviation = exit_angle - theta  # from the view axis, towards the thick side
    # the part of the offset that grows with the plate's distance is its tangent times that distance
    turned = (offset_x(8.0) - offset_x(4.0)) / (4.0 * R)
    np.testing.assert_allclose(turned, np.tan(deviation), rtol=0.005)
