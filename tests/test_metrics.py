"""Metric functions on hand-made arrays whose answer is known."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from glassvid.errors import GlassvidError
from glassvid.metrics import (
    _seg2bmap,
    boundary_f,
    clip_warping_error,
    compute_flow,
    dilate_mask,
    fb_consistency,
    iou,
    psnr,
    spearman,
    ssim,
    warp,
    warping_error,
)


def texture(h: int, w: int, seed: int = 0, sigma: float = 1.5) -> np.ndarray:
    """Smooth random texture, float32 in [0, 1], HxW."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), sigma)
    t -= t.min()
    return t / t.max()


def const_flow(h: int, w: int, dx: float, dy: float) -> np.ndarray:
    f = np.empty((h, w, 2), np.float32)
    f[..., 0], f[..., 1] = dx, dy
    return f


# ------------------------------------------------------------------------------ PSNR


def test_psnr_identical_is_inf():
    img = (np.random.default_rng(1).random((16, 20, 3)) * 255).astype(np.uint8)
    assert psnr(img, img) == math.inf
    assert psnr(img.astype(np.float32) / 255, img.astype(np.float32) / 255) == math.inf


def test_psnr_known_mse_uint8_and_float():
    a = np.zeros((8, 10, 3), np.uint8)
    b = np.full_like(a, 5)  # MSE = 25 on a 255 scale
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25), rel=1e-12)
    af = np.zeros((8, 10), np.float64)
    bf = af + 0.1  # MSE = 0.01 on a 1.0 scale -> 20 dB
    assert psnr(af, bf) == pytest.approx(20.0, rel=1e-9)
    assert psnr(af, bf, data_range=2.0) == pytest.approx(10 * math.log10(4 / 0.01), rel=1e-9)


def test_psnr_mask_excludes_differing_region():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    b[:, 5:] = 200  # differs in the right half only
    left = np.zeros((10, 10), bool)
    left[:, :5] = True
    assert psnr(a, b, left) == math.inf
    # half in, half out: MSE over the masked pixels = 200^2 / 2
    mid = np.zeros((10, 10), np.uint8)
    mid[:, 3:7] = 255  # 255 = object, like a mask PNG
    assert psnr(a, b, mid) == pytest.approx(10 * math.log10(255**2 / (200**2 / 2)), rel=1e-12)
    assert math.isnan(psnr(a, b, np.zeros((10, 10), bool)))


def test_psnr_rejects_mismatched_inputs():
    with pytest.raises(GlassvidError):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), np.ones((3, 3), bool))


# ------------------------------------------------------------------------------ SSIM


def test_ssim_identical_is_one():
    img = (texture(40, 50)[..., None] * np.array([1.0, 0.5, 0.25])).astype(np.float32)
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    u8 = (img * 255).astype(np.uint8)
    assert ssim(u8, u8) == pytest.approx(1.0, abs=1e-12)


def test_ssim_drops_with_noise_and_mask_excludes_it():
    a = texture(48, 64, seed=2)
    b = a.copy()
    b[:, 32:] = np.random.default_rng(3).random((48, 32))
    assert ssim(a, b) < 0.8
    left = np.zeros((48, 64), bool)
    left[:, :20] = True  # farther than the 11x11 window's reach from column 32
    assert ssim(a, b, left) == pytest.approx(1.0, abs=1e-9)
    right = ~left
    assert ssim(a, b, right) < ssim(a, b)


def test_ssim_constant_shift_matches_formula():
    # Constant images: sigma = 0, so SSIM = luminance term (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1).
    a = np.full((20, 20), 0.5)
    b = np.full((20, 20), 0.6)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.5 * 0.6 + c1) / (0.5**2 + 0.6**2 + c1)
    assert ssim(a, b) == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- dilate


def test_dilate_mask():
    m = np.zeros((21, 21), np.uint8)
    m[10, 10] = 255
    d = dilate_mask(m, 3)
    assert d.dtype == bool
    expected = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)).astype(bool)
    assert np.array_equal(d[7:14, 7:14], expected)
    assert d.sum() == expected.sum()
    assert np.array_equal(dilate_mask(m, 0), m > 0)
    with pytest.raises(ValueError):
        dilate_mask(m, -1)


# ------------------------------------------------------------------------ warp / flow


def test_warp_is_backward_and_constant_flow_shifts():
    img = texture(30, 40, seed=4)
    out = warp(img, const_flow(30, 40, 3, 2))  # out(y, x) = img(y + 2, x + 3)
    assert np.array_equal(out[:-2, :-3], img[2:, 3:])
    assert np.array_equal(out[-1, -1], img[-1, -1])  # border replicated
    rgb = np.stack([img, img, img], -1)
    assert warp(rgb, const_flow(30, 40, 0, 0)).shape == rgb.shape
    assert warp(img[..., None], const_flow(30, 40, 1, 0)).shape == (30, 40, 1)


def test_fb_consistency_rejects_disagreeing_region():
    h, w = 20, 40
    fwd = const_flow(h, w, 2, 0)  # A -> B: everything moves 2 px right
    bwd = const_flow(h, w, -2, 0)  # B -> A: consistent ...
    bwd[:, 20:30] = (3, 0)  # ... except where B's columns 20..29 disagree
    valid = fb_consistency(fwd, bwd)
    expected = np.ones((h, w), bool)
    expected[:, 18:28] = False  # A's pixels landing on B's columns 20..29
    expected[:, 38:] = False  # targets x + 2 leave the frame
    assert np.array_equal(valid, expected)
    # Zero flow both ways: everything valid.
    assert fb_consistency(const_flow(h, w, 0, 0), const_flow(h, w, 0, 0)).all()


def test_fb_consistency_threshold_scales_with_motion():
    h, w = 10, 200
    # |fwd + bwd|^2 = 1; allowed = 0.01 * (|fwd|^2 + |bwd|^2) + 0.5
    small = fb_consistency(const_flow(h, w, 1, 0), const_flow(h, w, 0, 0))
    assert not small[:, :150].any()  # 1 > 0.01 * 1 + 0.5
    big = fb_consistency(const_flow(h, w, 10, 0), const_flow(h, w, -9, 0))
    assert big[:, :150].all()  # 1 <= 0.01 * (100 + 81) + 0.5


def test_warping_error_identical_static_frames_is_zero():
    f = texture(24, 32)
    rgb = np.stack([f, f * 0.5, f * 0.2], -1)
    assert warping_error(rgb, rgb, const_flow(24, 32, 0, 0)) == 0.0
    u8 = (rgb * 255).astype(np.uint8)
    assert warping_error(u8, u8, const_flow(24, 32, 0, 0)) == 0.0


def test_warping_error_known_shift():
    k = 4
    h, w = 40, 60
    base = texture(h, w + k, seed=5)
    prev = base[:, :w]
    cur = base[:, k : k + w]  # cur(x) = prev(x + k): flow t -> t-1 is (+k, 0)
    interior = np.zeros((h, w), bool)
    interior[:, : w - k] = True  # x + k stays inside prev
    assert warping_error(prev, cur, const_flow(h, w, k, 0), mask=interior) == pytest.approx(0.0, abs=1e-10)
    assert warping_error(prev, cur, const_flow(h, w, k, 0), valid=interior) == pytest.approx(0.0, abs=1e-10)
    zero = warping_error(prev, cur, const_flow(h, w, 0, 0), mask=interior)
    assert zero > 1e-3
    # A hand-computed value: a constant offset of 0.1 gives MSE 0.01.
    assert warping_error(prev, np.clip(prev + 0.1, None, 2.0), const_flow(h, w, 0, 0)) == pytest.approx(0.01)
    assert math.isnan(warping_error(prev, cur, const_flow(h, w, k, 0), mask=np.zeros((h, w), bool)))


def test_compute_flow_recovers_known_shift():
    h, w = 96, 128
    base = texture(h + 20, w + 20, seed=6, sigma=2.0)
    a = base[10 : 10 + h, 10 : 10 + w]
    b = base[8 : 8 + h, 7 : 7 + w]  # b(y, x) = a(y - 2, x - 3): content moved (+3, +2)
    flow = compute_flow(a, b)
    assert flow.shape == (h, w, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16]
    assert np.abs(inner[..., 0] - 3).max() < 0.5
    assert np.abs(inner[..., 1] - 2).max() < 0.5
    # and the convention: warp(b, flow_a_to_b) ≈ a
    assert np.abs(warp(b, flow) - a)[16:-16, 16:-16].mean() < 0.01


def test_clip_warping_error_static_moving_and_flicker():
    h, w = 64, 80
    base = texture(h + 20, w + 20, seed=7, sigma=2.0)
    static = [base[:h, :w]] * 4
    mean, per = clip_warping_error(iter(static))
    assert mean == 0.0 and per == [0.0, 0.0, 0.0]

    moving = [base[t * 2 : t * 2 + h, t * 3 : t * 3 + w] for t in range(4)]
    region = np.zeros((h, w), bool)
    region[12:-12, 12:-12] = True
    mean_mov, per_mov = clip_warping_error((f for f in moving), None, (region for _ in moving))
    assert len(per_mov) == 3 and mean_mov < 1e-3

    # Brightness flicker on a static clip: no flow explains it.
    flicker = [np.clip(static[0] + (0.1 if t % 2 else 0.0), 0, 1) for t in range(4)]
    mean_fl, _ = clip_warping_error(flicker, static, [region] * 4)
    assert mean_fl > 10 * max(mean_mov, 1e-6)

    with pytest.raises(ValueError, match="masks"):
        clip_warping_error(static, None, [region] * 3)


# ------------------------------------------------------------------------ J and F


def test_iou_known_rectangles():
    a = np.zeros((20, 20), bool)
    b = np.zeros((20, 20), np.uint8)
    a[0:10, 0:10] = True  # 100 px
    b[5:15, 5:15] = 255  # 100 px, overlap 5x5 = 25
    assert iou(a, b) == pytest.approx(25 / 175)
    assert iou(a, a) == 1.0
    assert iou(np.zeros((5, 5)), np.zeros((5, 5))) == 1.0
    assert iou(a, np.zeros_like(a)) == 0.0


def test_seg2bmap_matches_hand_computed_map():
    seg = np.zeros((6, 6), bool)
    seg[2:4, 2:4] = True
    expected = np.zeros((6, 6), bool)
    for y, x in [(1, 1), (1, 2), (1, 3), (2, 1), (3, 1), (2, 3), (3, 2), (3, 3)]:
        expected[y, x] = True
    assert np.array_equal(_seg2bmap(seg), expected)


def _rect(h, w, y0, x0, rh, rw):
    m = np.zeros((h, w), bool)
    m[y0 : y0 + rh, x0 : x0 + rw] = True
    return m


def test_boundary_f_davis_cases():
    h, w = 480, 854
    gt = _rect(h, w, 100, 200, 200, 300)
    assert boundary_f(gt, gt) == 1.0
    assert boundary_f(_rect(h, w, 101, 200, 200, 300), gt) == 1.0  # 1 px << 8 px tolerance
    assert boundary_f(_rect(h, w, 150, 250, 200, 300), gt) < 0.5  # 50 px diagonal shift
    empty = np.zeros((h, w), bool)
    assert boundary_f(empty, empty) == 1.0
    assert boundary_f(empty, gt) == 0.0
    assert boundary_f(gt, empty) == 0.0


def test_boundary_f_tolerance_is_ceil_of_diagonal_fraction():
    # ceil(0.008 * hypot(480, 854)) = ceil(7.84) = 8 px: a straight edge moved by
    # 8 px still matches, by 9 px it does not.
    h, w = 480, 854
    gt = np.zeros((h, w), bool)
    gt[200:] = True
    at8 = np.zeros((h, w), bool)
    at8[208:] = True
    at9 = np.zeros((h, w), bool)
    at9[209:] = True
    assert boundary_f(at8, gt) == 1.0
    assert boundary_f(at9, gt) == 0.0
    assert boundary_f(at9, gt, bound_th=9) == 1.0  # >= 1 means pixels


def _dist_to(bmap: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of every pixel to the nearest True pixel of bmap."""
    return cv2.distanceTransform((~bmap).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def test_boundary_f_matches_distance_based_definition():
    # Independent check of the disk dilation: a boundary pixel matches when the other
    # boundary has a pixel within Euclidean distance bound_pix (exact L2 distance).
    rng = np.random.default_rng(8)
    h, w = 60, 90
    for bound_th, r in [(0.008, math.ceil(0.008 * math.hypot(h, w))), (5, 5), (7, 7)]:
        blobs = [cv2.GaussianBlur(rng.random((h, w)), (0, 0), 4) for _ in range(2)]
        pred, gt = (b > np.median(b) for b in blobs)
        pb, gb = _seg2bmap(pred), _seg2bmap(gt)
        p = np.count_nonzero(pb & (_dist_to(gb) <= r)) / np.count_nonzero(pb)
        rec = np.count_nonzero(gb & (_dist_to(pb) <= r)) / np.count_nonzero(gb)
        assert 0.2 < boundary_f(pred, gt, bound_th=bound_th) < 1.0
        assert boundary_f(pred, gt, bound_th=bound_th) == pytest.approx(2 * p * rec / (p + rec), rel=1e-12)


# ------------------------------------------------------------------------ spearman


def test_spearman():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert spearman(x, [10, 20, 30, 40, 50]) == pytest.approx(1.0)
    assert spearman(x, [1, 4, 9, 16, 100]) == pytest.approx(1.0)  # monotone, not linear
    assert spearman(x, x[::-1]) == pytest.approx(-1.0)
    # Ties: ranks x = [1, 2.5, 2.5, 4], y = [1, 2, 3, 4] -> rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9), rel=1e-12)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2, 3])
