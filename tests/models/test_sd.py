"""glassvid.plate.sd: SDInpainter on a tiny, randomly initialised diffusers inpainting pipeline.

Random weights invent noise, so what is checked is the code around the model: the
inpainter contract (shape, dtype, known pixels bit-exact, unknown pixels replaced,
odd sizes and holes at the border), determinism from the seed, the invocation count,
the crop / colour-match / paste functions, and loading from a diffusers folder and a
single original-layout file, with their errors. Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (MACHINE-NOTES)
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub loads: a stray download fails loudly
torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from tiny_sd import build_tiny_pipe, to_ldm_checkpoint  # noqa: E402

from glassvid.config import PlateConfig, RuntimeConfig, load_config  # noqa: E402
from glassvid.errors import BackendError, ConfigError, InputError  # noqa: E402
from glassvid.plate import build_inpainter  # noqa: E402
from glassvid.plate.sd import (  # noqa: E402
    SDInpainter,
    context_box,
    feathered_paste,
    match_colour,
    model_size,
)

pytestmark = pytest.mark.models

CPU = RuntimeConfig(device="cpu")
# 2 steps at 64 px: enough to run every code path, 0.1-0.3 s a call on 2 cores.
CFG = PlateConfig(inpaint="sd", steps=2, sd_resolution=64, sd_colour_ring_px=4)
MAGENTA = np.array([255, 0, 255], np.uint8)  # the "object": a colour the background never has


def frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random-coloured background, HxWx3 uint8, without pure magenta."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0.2, 0.8, 3)
    b = rng.uniform(-1, 1, (2, 3)) / max(h, w)
    img = a + xx[..., None] * b[0] + yy[..., None] * b[1] + rng.normal(0, 0.02, (h, w, 3))
    return np.clip(img * 255, 0, 254).astype(np.uint8)


def disc(h: int, w: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def with_object(rgb: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[unknown] = MAGENTA
    return out


@pytest.fixture(scope="module")
def pipe():
    return build_tiny_pipe(seed=0)


@pytest.fixture(scope="module")
def saved(pipe, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_sd")
    pipe.save_pretrained(folder)
    return folder


# -- the inpainter contract ------------------------------------------------------------------


@pytest.mark.parametrize(
    "h, w, hole",
    [
        (75, 97, lambda h, w: disc(h, w, 90, 40, 9)),  # odd size, blob cut by the right border
        (75, 97, lambda h, w: disc(h, w, 3, 70, 6)),  # blob in the bottom-left corner
        (30, 41, lambda h, w: disc(h, w, 20, 15, 7)),  # frame smaller than sd_resolution: non-square crop
        (75, 97, lambda h, w: np.pad(np.ones((70, 90), bool), ((2, 3), (3, 4)))),  # hole almost the whole frame
    ],
    ids=["right-border", "corner", "small-frame", "huge-hole"],
)
def test_contract(pipe, h, w, hole):
    unknown = hole(h, w)
    rgb = with_object(frame(h, w), unknown)
    sd = SDInpainter(pipe=pipe, cfg=CFG)
    out = sd(rgb, unknown)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~unknown], rgb[~unknown])  # known pixels bit-exact
    changed = (out[unknown] != MAGENTA).any(axis=1)
    assert changed.mean() > 0.99
    assert sd.calls == 1


def test_same_seed_same_plate_and_calls_count(pipe):
    h, w = 75, 97
    unknown = disc(h, w, 50, 30, 10)
    rgb = with_object(frame(h, w), unknown)
    sd = SDInpainter(pipe=pipe, cfg=CFG)
    a, b = sd(rgb, unknown), sd(rgb, unknown)
    np.testing.assert_array_equal(a, b)
    assert sd.calls == 2
    other = SDInpainter(pipe=pipe, cfg=dataclasses.replace(CFG, seed=1))(rgb, unknown)
    assert not np.array_equal(other, a)


def test_no_unknown_pixels_no_call(pipe):
    rgb = frame(20, 30)
    sd = SDInpainter(pipe=pipe, cfg=CFG)
    out = sd(rgb, np.zeros((20, 30), bool))
    np.testing.assert_array_equal(out, rgb)
    assert out is not rgb and sd.calls == 0


def test_prompt_and_guidance_reach_the_pipeline(pipe, monkeypatch):
    seen = {}
    real = type(pipe).__call__

    def spy(self, *args, **kwargs):
        seen.update(kwargs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", spy)
    cfg = dataclasses.replace(CFG, prompt="brick wall", negative_prompt="", guidance_scale=1.0, steps=3, seed=7)
    unknown = disc(75, 97, 40, 40, 8)
    SDInpainter(pipe=pipe, cfg=cfg)(with_object(frame(75, 97), unknown), unknown)
    assert seen["prompt"] == "brick wall" and seen["negative_prompt"] is None
    assert seen["num_inference_steps"] == 3 and seen["guidance_scale"] == 1.0
    assert (seen["width"], seen["height"]) == (64, 64)
    assert seen["generator"].initial_seed() == 7
    mask = np.asarray(seen["mask_image"]) > 0
    assert 0 < mask.mean() < 0.5  # the crop shows the hole with surroundings


def test_bad_inputs_are_clear_errors(pipe):
    sd = SDInpainter(pipe=pipe, cfg=CFG)
    with pytest.raises(InputError, match="HxWx3 uint8"):
        sd(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), bool))
    with pytest.raises(InputError, match="HxW mask"):
        sd(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9), bool))
    with pytest.raises(ConfigError, match="multiple of 8"):
        SDInpainter(pipe=pipe, cfg=dataclasses.replace(CFG, sd_resolution=100))


def test_registry_builds_it(saved):
    cfg = load_config(sets=["plate.inpaint=sd", f"plate.checkpoint={saved}", "plate.steps=2", "plate.sd_resolution=64"])
    sd = build_inpainter(cfg.plate, CPU)
    assert isinstance(sd, SDInpainter) and sd.per_keyframe
    assert sd.pipe.unet.dtype == torch.float32 and sd.pipe.device.type == "cpu"
    assert sd.pipe.safety_checker is None


# -- the pieces ------------------------------------------------------------------------------


def test_context_box_square_inside_frame_and_holds_the_hole():
    unknown = disc(75, 97, 90, 40, 9)
    x0, y0, x1, y1 = context_box(unknown, context=0.5, min_side=32)
    assert x1 - x0 == y1 - y0 == 38  # 19 px blob + 50 % of it per side, shifted left to fit the frame
    assert 0 <= x0 and x1 <= 97 and 0 <= y0 and y1 <= 75
    ys, xs = np.nonzero(unknown)
    assert x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1
    # larger than the frame's short side: clipped to the frame, still holding the hole
    assert context_box(unknown, context=0.5, min_side=512) == (0, 0, 97, 75)


def test_model_size_keeps_aspect_in_multiples_of_8():
    assert model_size(300, 300, 512) == (512, 512)
    assert model_size(97, 75, 64) == (64, 48)
    assert model_size(10, 400, 64) == (8, 64)


def test_match_colour_undoes_a_drift():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.2, 0.8, (40, 40, 3)).astype(np.float32)
    drifted = truth * np.float32([0.8, 1.1, 0.9]) + np.float32([0.1, -0.05, 0.02])
    ring = np.zeros((40, 40), bool)
    ring[5:35, 5:35] = True
    ring[10:30, 10:30] = False
    fixed = match_colour(drifted, truth, ring)
    np.testing.assert_allclose(fixed, truth, atol=1e-5)  # an affine drift per channel is undone exactly
    assert match_colour(drifted, truth, np.zeros_like(ring)) is drifted  # no ring, no change


def test_feathered_paste_fades_in_from_the_known_side():
    rgb = np.full((30, 30, 3), 200, np.uint8)
    unknown = np.zeros((30, 30), bool)
    unknown[5:25, 5:25] = True
    gen = np.zeros((30, 30, 3), np.float32)  # generated black
    out = feathered_paste(rgb, gen, unknown, feather_px=2.0)
    np.testing.assert_array_equal(out[~unknown], rgb[~unknown])
    assert out[15, 15, 0] == 0  # deep inside: the generated value
    assert 0 < out[15, 5, 0] < out[15, 4, 0] == 200  # first unknown pixel: mostly the known side
    assert out[15, 5, 0] > out[15, 6, 0] > out[15, 7, 0]  # fading in over the feather
    hard = feathered_paste(rgb, gen, unknown, feather_px=0.0)
    assert (hard[unknown] == 0).all()


# -- loading ---------------------------------------------------------------------------------


def test_load_diffusers_folder_matches_in_memory(pipe, saved):
    unknown = disc(75, 97, 60, 35, 12)
    rgb = with_object(frame(75, 97), unknown)
    loaded = SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(saved)), CPU)
    np.testing.assert_array_equal(loaded(rgb, unknown), SDInpainter(pipe=pipe, cfg=CFG)(rgb, unknown))


def test_load_single_file_with_config_folder(pipe, saved, tmp_path):
    configs = tmp_path / "configs"  # the model's configs and tokenizer, no weights
    shutil.copytree(saved, configs, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    ckpt = to_ldm_checkpoint(pipe, tmp_path / "tiny-inpainting.safetensors")
    unknown = disc(75, 97, 30, 40, 12)
    rgb = with_object(frame(75, 97), unknown)
    expected = SDInpainter(pipe=pipe, cfg=CFG)(rgb, unknown)

    explicit = SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(ckpt), sd_config=str(configs)), CPU)
    np.testing.assert_array_equal(explicit(rgb, unknown), expected)
    # beside its configs, the file needs no plate.sd_config
    beside = shutil.copy(ckpt, configs / ckpt.name)
    np.testing.assert_array_equal(SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(beside)), CPU)(rgb, unknown), expected)


def test_single_file_without_configs_says_what_to_give(pipe, tmp_path):
    ckpt = to_ldm_checkpoint(pipe, tmp_path / "model.safetensors")
    with pytest.raises(BackendError, match=r"plate\.sd_config=DIR.*model_index\.json.*tokenizer/.*hf download"):
        SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(ckpt)), CPU)
    with pytest.raises(BackendError, match="has no model_index.json"):
        SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(ckpt), sd_config=str(tmp_path)), CPU)


@pytest.mark.parametrize("checkpoint", ["", "/nonexistent/sd-inpainting"])
def test_missing_checkpoint_names_the_setting_and_the_weights(checkpoint):
    with pytest.raises(BackendError, match=r"plate\.checkpoint.*huggingface\.co/stable-diffusion-v1-5/stable-diffusion-inpainting"):
        SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=checkpoint), CPU)


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(BackendError, match="without model_index.json"):
        SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(tmp_path)), CPU)
    other = tmp_path / "weights.onnx"
    other.write_bytes(b"\0")
    with pytest.raises(BackendError, match="neither a diffusers folder nor"):
        SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(other)), CPU)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionInpaintPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}')
    with pytest.raises(BackendError, match="cannot load the Stable Diffusion inpainting model"):
        SDInpainter.from_config(dataclasses.replace(CFG, checkpoint=str(broken)), CPU)
