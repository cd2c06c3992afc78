"""The render's compiled stage computes what the OpenCV calls it replaced did: cv2.resize
(INTER_LINEAR) then cv2.Sobel for fields and footprints, bilinear lookups with the edge
replicated for the plate, and the linear-light composite through the sRGB tables."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from glassvid.render.kernels import sample_plate, shade_and_composite, upsample_at
from glassvid.render.optics import LINEAR_LUT, SRGB_LUT, linear_to_srgb, srgb_to_linear

_RNG = np.random.default_rng(7)


def test_upsample_at_is_resize_then_pick_and_its_footprint_is_the_sobel_jacobian() -> None:
    fields = _RNG.normal(0, 3, (23, 31, 5)).astype(np.float32)
    rows, cols = 57, 80
    index = np.sort(_RNG.choice(rows * cols, 900, replace=False)).astype(np.int64)
    values, width = upsample_at(fields, cols, rows, index, 1, True)
    big = cv2.resize(fields, (cols, rows), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(values, big.reshape(-1, 5)[index].T, atol=1e-4)  # planar: a row per field
    ox, oy = big[..., 1], big[..., 2]
    d = [cv2.Sobel(f, cv2.CV_32F, dx, dy, ksize=1, scale=0.5).reshape(-1)[index] for f in (ox, oy) for dx, dy in ((1, 0), (0, 1))]
    det = (d[0] + 1) * (d[3] + 1) - d[1] * d[2]
    np.testing.assert_allclose(width, np.sqrt(np.maximum(np.abs(det), 1e-6)), rtol=1e-3, atol=1e-3)
    _, ones = upsample_at(fields, cols, rows, index, 1, False)
    assert np.all(ones == 1.0)


def test_sample_plate_points_are_bilinear_with_the_edge_replicated() -> None:
    region = _RNG.random((40, 50, 3)).astype(np.float32)
    n = 500
    xs = _RNG.uniform(-5, 55, (1, n)).astype(np.float32)
    ys = _RNG.uniform(-5, 45, (1, n)).astype(np.float32)
    none = np.full(n, -1.0, np.float32)
    got = sample_plate(region[None], np.zeros(1, np.float32), xs, ys, np.zeros(n, np.float32), np.zeros(0, np.float32), np.zeros((0, 3), np.int64), none)
    want = cv2.remap(region, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
    np.testing.assert_allclose(got, want, atol=0.02)  # remap quantises positions to 1/32 px
    # one row per channel (dispersion): channel c follows row c
    xs3 = np.stack([xs[0], xs[0] + 3.0, xs[0] - 2.0])
    ys3 = np.stack([ys[0]] * 3)
    got3 = sample_plate(region[None], np.zeros(1, np.float32), xs3, ys3, np.zeros(n, np.float32), np.zeros(0, np.float32), np.zeros((0, 3), np.int64), none)
    for c in range(3):
        single = sample_plate(region[None], np.zeros(1, np.float32), xs3[c : c + 1], ys3, np.zeros(n, np.float32), np.zeros(0, np.float32), np.zeros((0, 3), np.int64), none)
        np.testing.assert_array_equal(got3[:, c], single[:, c])


def test_sample_plate_mip_level_is_the_pyramid_and_frost_interpolates_blur_levels() -> None:
    region = _RNG.random((64, 64, 3)).astype(np.float32)
    level1 = cv2.pyrDown(region)
    xs = np.float32([[10.0, 20.5, 40.25]])
    ys = np.float32([[12.0, 30.0, 50.75]])
    lod = np.float32([1.0, 1.0, 1.0])
    mip, shapes = level1.reshape(-1), np.array([[0, 32, 32]], np.int64)
    got = sample_plate(region[None], np.zeros(1, np.float32), xs, ys, np.zeros(3, np.float32), mip, shapes, lod)
    want = cv2.remap(level1, (xs + 0.5) / 2 - 0.5, (ys + 0.5) / 2 - 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0]
    np.testing.assert_allclose(got, want, atol=0.02)
    sigmas = np.float32([0.0, 2.0])
    blurred = cv2.GaussianBlur(region, (0, 0), 2.0)
    levels = np.stack([region, blurred])
    half = sample_plate(levels, sigmas, xs, ys, np.full(3, 1.0, np.float32), np.zeros(0, np.float32), np.zeros((0, 3), np.int64), np.full(3, -1.0, np.float32))
    a = sample_plate(region[None], np.zeros(1, np.float32), xs, ys, np.zeros(3, np.float32), np.zeros(0, np.float32), np.zeros((0, 3), np.int64), np.full(3, -1.0, np.float32))
    b = sample_plate(blurred[None], np.zeros(1, np.float32), xs, ys, np.zeros(3, np.float32), np.zeros(0, np.float32), np.zeros((0, 3), np.int64), np.full(3, -1.0, np.float32))
    np.testing.assert_allclose(half, 0.5 * (a + b), atol=1e-6)


def test_shade_and_composite_mixes_in_linear_light_and_keeps_bytes_where_alpha_is_zero() -> None:
    frame = _RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    x0, y0, rows, cols = 5, 4, 12, 20
    alpha = np.zeros((rows, cols), np.float32)
    alpha[2:10, 3:17] = _RNG.uniform(0.1, 1.0, (8, 14))
    index = np.flatnonzero(alpha.reshape(-1) > 0.5).astype(np.int64)
    n = len(index)
    transmitted = _RNG.random((n, 3)).astype(np.float32)
    absorb = _RNG.uniform(0.5, 1.0, (n, 3)).astype(np.float32)
    refl = _RNG.uniform(0, 0.3, n).astype(np.float32)
    env = _RNG.random((n, 3)).astype(np.float32)
    spec = _RNG.uniform(0, 0.5, n).astype(np.float32)
    plate = srgb_to_linear(frame[y0 : y0 + rows, x0 : x0 + cols]).copy()
    glass = plate.copy()
    out = frame.copy()
    shade_and_composite(index, transmitted, np.ascontiguousarray(absorb.T), refl, np.ascontiguousarray(env.T), spec, glass, out, alpha, x0, y0, LINEAR_LUT, SRGB_LUT)
    lit = np.clip((1 - refl)[:, None] * transmitted * absorb + refl[:, None] * env + spec[:, None], 0, 1)
    want_glass = plate.copy()
    want_glass.reshape(-1, 3)[index] = lit
    np.testing.assert_allclose(glass, want_glass, atol=1e-6)
    a = alpha[..., None]
    want = linear_to_srgb(a * want_glass + (1 - a) * plate)
    box = out[y0 : y0 + rows, x0 : x0 + cols]
    assert np.abs(box.astype(int) - want).max() <= 1
    untouched = np.ones(frame.shape[:2], bool)
    untouched[y0 : y0 + rows, x0 : x0 + cols] = alpha <= 0
    assert np.array_equal(out[untouched], frame[untouched])


def test_fill_ring_is_the_box_filter_of_the_known_values_over_the_known_mask() -> None:
    from glassvid.render.kernels import fill_ring

    known = np.zeros((30, 40), bool)
    known[5:20, 3:25] = True
    known[0:4, 36:40] = True  # a patch at the edge: the reflected border counts
    fields = np.where(known[..., None], _RNG.normal(0, 1, (30, 40, 4)), 0.0).astype(np.float32)
    want, k = fields.copy(), known.astype(np.float32)
    got, grown = fields.copy(), known.astype(np.uint8)
    for _ in range(2):  # two rings, as the OpenCV formulation it replaced
        weight = cv2.blur(k, (3, 3))
        ring = (weight > 0) & (k == 0)
        want[ring] = cv2.blur(want, (3, 3))[ring] / weight[ring, None]
        k[ring] = 1.0
        fill_ring(got, grown, np.flatnonzero(ring))
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.array_equal(grown > 0, k > 0)


def test_surface_normals_are_the_sobel_gradient_normalised() -> None:
    from glassvid.render.kernels import surface_normals

    height = _RNG.normal(0, 4, (17, 23)).astype(np.float32)
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    want = np.stack([-gx, -gy, -np.ones_like(gx)], -1)
    want /= np.linalg.norm(want, axis=-1, keepdims=True)
    np.testing.assert_allclose(surface_normals(height), want, atol=1e-6)


def test_cavity_of_a_cylinder_is_its_inner_circle() -> None:
    """A cylinder's cross-section (unit height sqrt(1 - (x/R)^2)) with walls W: the cavity's
    half-depth is sqrt((R - W)^2 - x^2), and the wall is what remains of the outer half-depth."""
    from glassvid.render.kernels import cavity_fields

    radius, wall = 20.0, 0.1
    x = np.arange(-19, 20, dtype=np.float32)
    unit = np.sqrt(1.0 - (x / radius) ** 2)[None, :].astype(np.float32)
    h_in, wall_dz = cavity_fields(unit, radius, 1.0, wall)
    inner = radius * (1 - wall)
    want = np.sqrt(np.clip(inner**2 - x**2, 0.0, None))
    np.testing.assert_allclose(h_in[0], want, atol=0.01)  # float32 where the circle is steep
    np.testing.assert_allclose(wall_dz[0], radius * unit[0] - want, atol=0.01)
    assert h_in[0, 0] == 0.0 and h_in[0, 19] == pytest.approx(inner)
