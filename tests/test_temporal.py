"""Temporal steadiness: flicker goes down, real change comes through, cuts reset, outside stays exact."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from glassvid.config import TemporalConfig, load_config
from glassvid.errors import ConfigError, InputError
from glassvid.metrics import compute_flow, fb_consistency, psnr, warping_error
from glassvid.temporal import CutSignature, TemporalFilter, cut_scores, is_scene_cut, temporal_blend

H, W = 96, 144


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random RGB texture (uint8): optical flow can follow it."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.random((h, w, 3), np.float32), (0, 0), 1.5)
    coarse = cv2.resize(rng.random((h // 12 + 1, w // 12 + 1, 3), np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = 0.6 * (fine - fine.mean()) / fine.std() + 0.4 * (coarse - coarse.mean()) / coarse.std()
    return np.clip(128 + 45 * img, 0, 255).astype(np.uint8)


def disc(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:H, :W]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def glass_clip(n: int, *, noise: float, speed: float = 2.0, seed: int = 0):
    """A disc sliding over a still textured background, rendered as 'glass': inside the disc
    the background shows through (it does not move with the disc), plus per-frame render
    noise (the flicker). Yields ``(input, render, clean_render, region)``."""
    rng = np.random.default_rng(seed)
    bg = texture(H, W, seed + 1)
    ceramic = texture(H, W, seed + 2)
    for t in range(n):
        region = disc(40 + speed * t, 48, 22)
        frame = np.where(region[..., None], ceramic, bg)
        clean = bg.copy()
        noisy = np.clip(bg + rng.normal(0, noise, bg.shape), 0, 255).astype(np.uint8)
        render = np.where(region[..., None], noisy, frame)
        yield frame, render, np.where(region[..., None], clean, frame), region


def run(cfg: TemporalConfig, clip) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    steady = TemporalFilter(cfg)
    return [(steady.step(frame, render, region), render, clean, region) for frame, render, clean, region in clip]


def flicker(frames: list[np.ndarray], regions: list[np.ndarray]) -> float:
    """Mean warping error inside the region under the frames' own flow (the eval's flicker)."""
    errs = []
    for prev, cur, reg in zip(frames, frames[1:], regions[1:]):
        f = compute_flow(cur, prev)
        errs.append(warping_error(prev, cur, f, fb_consistency(f, compute_flow(prev, cur)), reg))
    return float(np.mean(errs))


def test_blend_makes_a_flickering_render_steadier_and_closer_to_the_clean_one() -> None:
    res = run(load_config().temporal, glass_clip(12, noise=10.0))
    outs, renders, cleans, regions = (list(x) for x in zip(*res))
    off, on = flicker(renders, regions), flicker(outs, regions)
    assert on < 0.5 * off, f"flicker {off:.5f} -> {on:.5f}"
    # steadier, and the noise really went (not traded for smearing): closer to the clean render
    later = slice(4, None)
    p_on = np.mean([psnr(o, c, r) for o, c, r in list(zip(outs, cleans, regions))[later]])
    p_off = np.mean([psnr(o, c, r) for o, c, r in list(zip(renders, cleans, regions))[later]])
    assert p_on > p_off + 3.0, f"PSNR vs clean {p_off:.2f} -> {p_on:.2f}"


def test_an_object_appearing_comes_through_without_a_ghost() -> None:
    cfg = load_config().temporal
    clip = list(glass_clip(10, noise=6.0))
    square = np.zeros((H, W), bool)
    square[38:58, 50:70] = True  # inside the disc from frame 0 on
    appear = 6
    for t in range(appear, len(clip)):
        frame, render, clean, region = clip[t]
        assert region[square].all()
        render = render.copy()
        render[square] = (250, 40, 40)  # a red card slides in behind the glass
        clip[t] = (frame, render, clean, region)
    res = run(cfg, clip)
    for t in range(appear, len(clip)):
        out, render = res[t][0], res[t][1]
        diff = np.abs(out[square].astype(int) - render[square]).mean()
        assert diff < 2.0, f"frame {t}: the new content differs from the render by {diff:.2f} levels (ghost of the old)"
    # and just before it appeared, nothing of it leaks backwards or is invented
    assert np.abs(res[appear - 1][0][square].astype(int) - (250, 40, 40)).mean() > 50


def test_fast_motion_is_followed_not_smeared() -> None:
    """Textured content moving 9 px/frame inside the region, with render noise: the filter
    follows the motion (the noise goes down) instead of smearing it or giving up."""
    cfg = load_config().temporal
    rng = np.random.default_rng(0)
    layout = cv2.resize(rng.integers(0, 256, (4, 8, 3)).astype(np.uint8), (W + 100, H), interpolation=cv2.INTER_CUBIC)
    bg = ((layout.astype(np.uint16) + texture(H, W + 100, 5)) // 2).astype(np.uint8)  # a scene: large layout + fine detail
    steady = TemporalFilter(cfg)
    region = disc(72, 48, 30)
    before, after = [], []
    for t in range(8):
        clean = np.ascontiguousarray(bg[:, 9 * t : 9 * t + W])
        render = np.where(region[..., None], np.clip(clean + rng.normal(0, 6, clean.shape), 0, 255), clean).astype(np.uint8)
        out = steady.step(render, render, region)
        if t >= 3:
            before.append(psnr(render, clean, region))
            after.append(psnr(out, clean, region))
    assert np.mean(after) > np.mean(before) + 2.0, (before, after)


def test_render_motion_keeps_a_moving_glass_steady_where_object_motion_cannot() -> None:
    """Inside a glass that slides over a still background, what is seen does not move with
    the object: carrying the previous output by the object's flow cannot steady it, by the
    render's own flow (or stillness) it can."""
    clip = list(glass_clip(12, noise=10.0, speed=3.0))
    obj = np.zeros((H, W, 2), np.float32)
    scores = {}
    for motion in ("render", "object"):
        cfg = load_config(sets=[f"temporal.motion={motion}"]).temporal
        steady = TemporalFilter(cfg)
        outs = []
        for t, (frame, render, clean, region) in enumerate(clip):
            fwd, bwd = obj.copy(), obj.copy()
            if t:
                fwd[clip[t - 1][3]] = (3.0, 0.0)  # the object's motion, where the object is
                bwd[region] = (-3.0, 0.0)
            outs.append(steady.step(frame, render, region, (fwd, bwd) if t else None))
        scores[motion] = np.mean([psnr(o, c[2], c[3]) for o, c in list(zip(outs, clip))[4:]])
    assert scores["render"] > scores["object"] + 3.0, scores


def test_a_scene_cut_resets_the_filter() -> None:
    cfg = load_config().temporal
    a = list(glass_clip(6, noise=8.0, seed=0))
    b = []
    for frame, render, clean, region in glass_clip(6, noise=8.0, seed=10):
        b.append((255 - frame, 255 - render, 255 - clean, region))  # another shot: other colours and layout
    steady = TemporalFilter(cfg)
    outs = [steady.step(f, r, reg) for f, r, _, reg in a + b]
    assert steady.cuts == [6]
    assert np.array_equal(outs[6], b[0][1])  # nothing carried across the cut
    assert not np.array_equal(outs[7], b[1][1])  # and the blend resumes after it


def test_scene_cut_scores_separate_motion_from_cuts() -> None:
    cfg = TemporalConfig()

    def shot(seed: int) -> np.ndarray:  # a frame's large-scale layout: a few soft colour regions
        rng = np.random.default_rng(seed)
        return cv2.resize(rng.integers(0, 256, (3, 4, 3)).astype(np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)

    a = shot(1)
    pan = cv2.warpAffine(a, np.float32([[1, 0, 5], [0, 1, 0]]), (W, H), borderMode=cv2.BORDER_REPLICATE)
    assert not is_scene_cut(a, pan, cfg)  # a pan
    assert not is_scene_cut(a, (a * 0.85).astype(np.uint8), cfg)  # a fade step
    assert is_scene_cut(a, 255 - a, cfg)  # new colours
    same_colours = a[::-1, ::-1].copy()  # same histogram, another layout
    colour, structure = cut_scores(CutSignature(a), CutSignature(same_colours))
    assert colour == pytest.approx(0.0, abs=1e-6) and structure > cfg.cut_structure
    assert is_scene_cut(a, same_colours, cfg)
    assert is_scene_cut(a, shot(2), cfg)
    colour, structure = cut_scores(CutSignature(a), CutSignature(a))
    assert colour == pytest.approx(0.0) and structure == pytest.approx(0.0, abs=1e-5)


def test_outside_the_region_the_output_is_the_render_exactly() -> None:
    rng = np.random.default_rng(0)
    cfg = load_config().temporal
    steady = TemporalFilter(cfg)
    base = texture(H, W, 7)
    for t in range(5):
        render = np.clip(base.astype(int) + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)
        region = disc(50 + 3 * t, 40, 20)
        out = steady.step(render, render, region)
        assert np.array_equal(out[~region], render[~region])
        if t:
            assert not np.array_equal(out[region], render[region])
    # the pure function too, with a region touching the frame's border
    region = np.zeros((H, W), bool)
    region[:30, -25:] = True
    prev = texture(H, W, 8)
    out = temporal_blend(base, prev, region, cfg, render_flow=None)
    assert np.array_equal(out[~region], base[~region])


def test_strength_zero_is_off_and_empty_region_is_a_no_op() -> None:
    render = texture(H, W, 3)
    prev = texture(H, W, 4)
    region = disc(60, 40, 20)
    off = load_config(sets=["temporal.strength=0"]).temporal
    assert temporal_blend(render, prev, region, off) is render
    assert temporal_blend(render, prev, np.zeros((H, W), bool), TemporalConfig()) is render
    steady = TemporalFilter(off)
    assert steady.render_flow is None
    for _ in range(3):
        assert steady.step(render, render, region) is render


def test_temporal_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        load_config(sets=["temporal.strength=1.5"])
    with pytest.raises(ConfigError, match="render, object, all"):
        load_config(sets=["temporal.motion=background"])
    assert load_config(sets=["temporal.agreement_radius_px=0"]).temporal.agreement_radius_px == 0


def test_mismatched_sizes_are_a_clear_error() -> None:
    render = texture(H, W, 3)
    with pytest.raises(InputError, match="one size"):
        temporal_blend(render, render[:-1], disc(60, 40, 20), TemporalConfig())
    with pytest.raises(InputError, match="one size"):
        temporal_blend(render, render, np.ones((H, W + 1), bool), TemporalConfig())
