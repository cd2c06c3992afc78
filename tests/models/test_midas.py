"""glassvid.depth.midas: MidasDepth on tiny random MiDaS v2.1-small and DPT models.

Random weights give meaningless depth, so what is checked is the code around the
network: the output contract, pre/post-processing, the temporal alignment of the scene
depth (with a stand-in net whose output we choose), the height refinement, checkpoint
loading with strict keys (and the official v2.1-small key layout), and the errors.
No download: the DPT folder is written here by ``save_pretrained``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from safetensors.torch import save_file  # noqa: E402

from glassvid.config import DepthConfig, RuntimeConfig  # noqa: E402
from glassvid.depth import build_depth  # noqa: E402
from glassvid.depth.midas import (  # noqa: E402
    HALF,
    IMAGENET,
    MIDAS_MODELS,
    MidasDepth,
    build_midas_small,
    fit_scale_shift,
    model_input_size,
)
from glassvid.depth.silhouette import inflate  # noqa: E402
from glassvid.errors import BackendError, ConfigError, InputError  # noqa: E402

pytestmark = pytest.mark.models

CPU = RuntimeConfig(device="cpu")
SIZE = 64  # px the tiny models see frames at


def tiny_small() -> torch.nn.Module:
    """MiDaS v2.1 small's architecture at toy width: timm's test EfficientNet, 8 features."""
    return build_midas_small(features=8, backbone="test_efficientnet")


def frame_and_mask(h: int = 75, w: int = 97, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random RGB texture and an off-centre elliptical object mask."""
    frame = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    mask = ((xx - 0.55 * w) / (0.25 * w)) ** 2 + ((yy - 0.45 * h) / (0.3 * h)) ** 2 <= 1.0
    return frame, mask


@pytest.fixture(scope="module")
def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    net = tiny_small()
    # non-trivial BatchNorm statistics, so a round trip that dropped buffers would show
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


@pytest.fixture
def tiny_spec(monkeypatch):
    """``depth.model='midas_v21_small'`` builds the tiny architecture in this test."""
    spec = dataclasses.replace(MIDAS_MODELS["midas_v21_small"], build=tiny_small)
    monkeypatch.setitem(MIDAS_MODELS, "midas_v21_small", spec)
    return spec


class ChosenMap(torch.nn.Module):
    """Stand-in net: returns ``factor * base + shift`` with ``base`` a fixed map at the input's size.

    ``base`` is 1 + a vertical ramp (far at the top, near at the bottom, like a ground plane)
    + a bump in the middle (the object, nearer). Records the inputs it saw.
    """

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives MidasDepth a device and dtype
        self.factor, self.shift = 1.0, 0.0
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.clone())
        b, _, h, w = x.shape
        yy = torch.linspace(0.0, 1.0, h)[:, None].expand(h, w)
        xx = torch.linspace(0.0, 1.0, w)[None, :].expand(h, w)
        bump = torch.exp(-(((xx - 0.55) / 0.15) ** 2 + ((yy - 0.45) / 0.2) ** 2))
        base = 1.0 + yy + 2.0 * bump
        return (self.factor * base + self.shift).expand(b, h, w) + 0 * self.anchor


# ------------------------------------------------------------------ contract


@pytest.mark.parametrize("h,w", [(75, 97), (97, 75)])
def test_output_contract_on_odd_frame_sizes(small_net, h, w):
    est = MidasDepth(net=small_net, input_size=SIZE, cfg=DepthConfig(backend="midas"), device="cpu")
    frame, mask = frame_and_mask(h, w)
    out = est(frame, mask)
    assert out.height.shape == (h, w) and out.height.dtype == np.float32
    assert out.scene is not None and out.scene.shape == (h, w) and out.scene.dtype == np.float32
    assert np.isfinite(out.scene).all() and (out.scene > 0).all()
    assert 0.0 <= out.height.min() and out.height.max() <= 1.0 and out.height.max() > 0.0
    assert (out.height[~mask] == 0).all()
    assert out.radius_px > 0 and out.radius_px == pytest.approx(inflate(mask)[1])


def test_empty_mask_gives_flat_height_and_scene_depth(small_net):
    est = MidasDepth(net=small_net, input_size=SIZE, cfg=DepthConfig(), device="cpu")
    frame, _ = frame_and_mask()
    out = est(frame, np.zeros(frame.shape[:2], bool))
    assert (out.height == 0).all() and out.radius_px == 0.0 and np.isfinite(out.scene).all()


def test_inputs_are_validated(small_net):
    est = MidasDepth(net=small_net, input_size=SIZE, cfg=DepthConfig(), device="cpu")
    frame, mask = frame_and_mask()
    with pytest.raises(InputError, match="uint8 RGB"):
        est(frame.astype(np.float32), mask)
    with pytest.raises(InputError, match="mask"):
        est(frame, mask[:-1])


# ------------------------------------------------------------------ pre/post-processing


def test_model_input_size_follows_midas_resize_modes():
    # v2.1 small on 854x480: fit inside 256, sides multiples of 32 (rounded down when over)
    assert model_input_size(480, 854, 256, "upper_bound") == (128, 256)
    # original DPT: the least scaling that makes one side 384
    assert model_input_size(480, 854, 384, "minimal") == (384, 672)
    assert model_input_size(480, 854, 384, "square") == (384, 384)
    for h, w in [(75, 97), (1080, 1920), (31, 5)]:
        nh, nw = model_input_size(h, w, 256, "upper_bound")
        assert nh % 32 == 0 and nw % 32 == 0 and 32 <= nh <= 256 and 32 <= nw <= 256


@pytest.mark.parametrize("normalization", [IMAGENET, HALF])
def test_preprocessing_normalises_and_prediction_comes_back_at_frame_size(normalization):
    net = ChosenMap()
    est = MidasDepth(net=net, input_size=100, cfg=DepthConfig(), normalization=normalization)
    assert est.input_size == 96  # rounded to a multiple of 32
    frame = np.full((75, 97, 3), (255, 128, 0), np.uint8)
    inv = est.inverse_depth(frame)
    x = net.inputs[-1]
    assert tuple(x.shape) == (1, 3, *model_input_size(75, 97, 96, "upper_bound"))
    mean, std = (np.asarray(v) for v in normalization)
    expected = (np.array([255, 128, 0]) / 255.0 - mean) / std
    np.testing.assert_allclose(x[0, :, 10, 10].numpy(), expected, atol=1e-5)
    assert inv.shape == (75, 97) and inv.dtype == np.float32
    # bicubic upsampling of the ramp keeps it: top (far) smaller than bottom (near)
    assert inv[0].mean() < inv[-1].mean()


# ------------------------------------------------------------------ temporal alignment


def test_fit_scale_shift_recovers_an_affine_map():
    x = np.random.default_rng(1).random((20, 30)).astype(np.float32)
    where = np.ones_like(x, bool)
    s, t = fit_scale_shift(x, 3.0 * x - 0.25, where)
    assert s == pytest.approx(3.0, rel=1e-5) and t == pytest.approx(-0.25, abs=1e-5)
    assert fit_scale_shift(np.ones_like(x), x, where) is None  # constant: undetermined
    assert fit_scale_shift(x, -x, where) is None  # inverted: refused
    assert fit_scale_shift(x, x, np.zeros_like(where)) is None  # nothing to fit


def test_scene_depth_is_aligned_over_time():
    net = ChosenMap()
    est = MidasDepth(net=net, input_size=SIZE, cfg=DepthConfig(), device="cpu")
    frame, mask = frame_and_mask()
    first = est(frame, mask).scene
    # the same frame, the network's answer scaled by 2 and shifted: aligned, the scene is the same
    net.factor, net.shift = 2.0, 0.7
    second = est(frame, mask).scene
    np.testing.assert_allclose(second, first, rtol=1e-4, atol=1e-5)
    # the first frame is normalised: median background depth 1
    assert float(np.median(first[~mask])) == pytest.approx(1.0, rel=1e-3)

    # without alignment each frame is normalised alone, and the shift shows
    alone = MidasDepth(net=net, input_size=SIZE, cfg=DepthConfig(temporal_alignment=False))
    net.factor, net.shift = 1.0, 0.0
    a = alone(frame, mask).scene
    net.factor, net.shift = 2.0, 0.7
    b = alone(frame, mask).scene
    assert np.abs(b - a).max() > 0.05


def test_reset_forgets_the_clip():
    net = ChosenMap()
    est = MidasDepth(net=net, input_size=SIZE, cfg=DepthConfig(), device="cpu")
    frame, mask = frame_and_mask()
    est(frame, mask)
    net.factor, net.shift = 2.0, 0.7
    est.reset()
    assert est.alignment.reference is None
    after = est(frame, mask).scene
    # normalised afresh: median background depth 1 again (not the aligned, unshifted one)
    assert float(np.median(after[~mask])) == pytest.approx(1.0, rel=1e-3)


def test_height_blends_silhouette_and_model_relief():
    frame, mask = frame_and_mask()
    sil, _ = inflate(mask)
    only_sil = MidasDepth(net=ChosenMap(), input_size=SIZE, cfg=DepthConfig(object_weight=0.0))(frame, mask).height
    # (to 1e-6: OpenCV's precise distance transform differed by 1 ulp between calls in one run)
    np.testing.assert_allclose(only_sil, sil, rtol=0, atol=1e-6)
    only_model = MidasDepth(net=ChosenMap(), input_size=SIZE, cfg=DepthConfig(object_weight=1.0))(frame, mask).height
    assert (only_model[~mask] == 0).all() and only_model.max() == pytest.approx(1.0)
    # the stand-in's bump is nearest at its centre: the height peaks there
    cy, cx = np.unravel_index(np.argmax(only_model), only_model.shape)
    assert abs(cy - 0.45 * 75) < 8 and abs(cx - 0.55 * 97) < 8
    half = MidasDepth(net=ChosenMap(), input_size=SIZE, cfg=DepthConfig(object_weight=0.5))(frame, mask).height
    np.testing.assert_allclose(half, 0.5 * sil + 0.5 * only_model, atol=1e-6)


# ------------------------------------------------------------------ checkpoints


# Official midas_v21_small_256.pt layout (isl-org/MiDaS midas/midas_net_custom.py MidasNet_small,
# midas/blocks.py _make_efficientnet_backbone / _make_scratch / FeatureFusionBlock_custom,
# features=64, expand=True, EfficientNet-Lite3 channels [32, 48, 136, 384]).
OFFICIAL_SMALL_KEYS = {
    "pretrained.layer1.0.weight": (32, 3, 3, 3),  # conv_stem
    "pretrained.layer1.1.running_var": (32,),  # bn1 (index 2 is act1, no weights)
    "pretrained.layer1.3.0.conv_dw.weight": (32, 1, 3, 3),  # blocks[0][0], depthwise-separable
    "pretrained.layer1.4.0.conv_pw.weight": (144, 24, 1, 1),  # blocks[1][0], inverted residual
    "pretrained.layer2.0.0.conv_pwl.weight": (48, 192, 1, 1),  # blocks[2][0]
    "pretrained.layer3.1.0.bn3.bias": (136,),  # blocks[4][0]
    "pretrained.layer4.1.0.conv_dw.weight": (1392, 1, 3, 3),  # blocks[6][0]
    "scratch.layer1_rn.weight": (64, 32, 3, 3),
    "scratch.layer4_rn.weight": (512, 384, 3, 3),
    "scratch.refinenet4.out_conv.weight": (256, 512, 1, 1),
    "scratch.refinenet4.resConfUnit1.conv1.weight": (512, 512, 3, 3),
    "scratch.refinenet1.resConfUnit2.conv2.bias": (64,),
    "scratch.output_conv.0.weight": (32, 64, 3, 3),
    "scratch.output_conv.2.weight": (32, 32, 3, 3),
    "scratch.output_conv.4.weight": (1, 32, 1, 1),
}


def test_full_size_port_has_the_official_key_layout():
    net = build_midas_small()  # full width, random weights
    state = net.state_dict()
    for key, shape in OFFICIAL_SMALL_KEYS.items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key
    # nothing but the original's two trees; 21M parameters as the MiDaS README says
    assert {k.split(".")[0] for k in state} == {"pretrained", "scratch"}
    assert {k.split(".")[1] for k in state if k.startswith("pretrained.")} == {"layer1", "layer2", "layer3", "layer4"}
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(21.3e6, rel=0.01)


@pytest.mark.parametrize("fmt", [".pt", ".safetensors"])
def test_checkpoint_round_trip_is_strict_and_exact(small_net, tiny_spec, tmp_path, fmt):
    path = tmp_path / f"midas_v21_small_256{fmt}"
    state = {k: v.contiguous() for k, v in small_net.state_dict().items()}
    if fmt == ".pt":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    cfg = DepthConfig(backend="midas", model="midas_v21_small", checkpoint=str(path), input_size=SIZE)
    loaded = MidasDepth.from_config(cfg, CPU)
    ref = MidasDepth(net=small_net, input_size=SIZE, cfg=cfg, device="cpu")
    frame, mask = frame_and_mask()
    np.testing.assert_array_equal(loaded.inverse_depth(frame), ref.inverse_depth(frame))
    for k, v in loaded.net.state_dict().items():
        assert torch.equal(v, state[k]), k
    # the stage registry builds the same backend
    assert isinstance(build_depth(cfg, CPU), MidasDepth)


def test_checkpoint_without_batchnorm_counters_still_loads(small_net, tiny_spec, tmp_path):
    path = tmp_path / "old.pt"
    torch.save({k: v for k, v in small_net.state_dict().items() if not k.endswith("num_batches_tracked")}, path)
    MidasDepth.from_config(DepthConfig(backend="midas", checkpoint=str(path), input_size=SIZE), CPU)


def test_missing_checkpoint_names_the_setting_and_the_official_weights(tmp_path):
    for path in ("", str(tmp_path / "nope.pt")):
        with pytest.raises(BackendError, match="depth.checkpoint") as err:
            MidasDepth.from_config(DepthConfig(backend="midas", checkpoint=path), CPU)
        assert "github.com/isl-org/MiDaS" in str(err.value)


def test_wrong_checkpoint_names_the_file_and_the_setting(small_net, tiny_spec, tmp_path):
    other = tmp_path / "other.pt"
    torch.save(torch.nn.Conv2d(3, 4, 3).state_dict(), other)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    folder = tmp_path / "folder"
    folder.mkdir()
    wider = tmp_path / "wider.pt"
    torch.save(build_midas_small(features=16, backbone="test_efficientnet").state_dict(), wider)
    for path in (other, garbage, folder, wider):
        with pytest.raises(BackendError, match="depth.checkpoint") as err:
            MidasDepth.from_config(DepthConfig(backend="midas", checkpoint=str(path)), CPU)
        assert str(path) in str(err.value)


# ------------------------------------------------------------------ DPT through transformers


@pytest.fixture(scope="module")
def dpt_folder(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.DPTConfig(
        hidden_size=16, num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=SIZE,
        patch_size=16, backbone_out_indices=(0, 1, 2, 3), neck_hidden_sizes=(8, 8, 16, 16), fusion_hidden_size=8,
    )
    folder = tmp_path_factory.mktemp("tiny-dpt")
    transformers.DPTForDepthEstimation(config).eval().save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def dpt_hybrid_folder(tmp_path_factory):
    """A tiny DPT-hybrid: BiT ResNet stages, then ViT layers (as Intel/dpt-hybrid-midas, at toy width)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    bit = transformers.BitConfig(
        num_groups=4, embedding_size=8, hidden_sizes=[8, 16, 32], depths=[1, 1, 1], out_features=["stage1", "stage2", "stage3"],
        layer_type="bottleneck", global_padding="same", embedding_dynamic_padding=True,
    )
    config = transformers.DPTConfig(
        is_hybrid=True, backbone_config=bit, backbone_featmap_shape=[1, 32, SIZE // 16, SIZE // 16], hidden_size=16,
        num_hidden_layers=4, num_attention_heads=2, intermediate_size=32, image_size=SIZE, patch_size=16,
        backbone_out_indices=(0, 1, 2, 3), neck_hidden_sizes=(8, 16, 16, 16), reassemble_factors=(1, 1, 1, 0.5), fusion_hidden_size=8,
    )
    folder = tmp_path_factory.mktemp("tiny-dpt-hybrid")
    transformers.DPTForDepthEstimation(config).eval().save_pretrained(str(folder))
    return folder


def test_dpt_hybrid_runs_at_its_config_size(dpt_hybrid_folder):
    est = MidasDepth.from_config(DepthConfig(backend="midas", model="dpt_hybrid", checkpoint=str(dpt_hybrid_folder)), CPU)
    assert est.input_size == SIZE  # the config's image_size, not the 384 of the real model
    frame, mask = frame_and_mask()
    out = est(frame, mask)
    assert out.height.shape == mask.shape and out.scene.shape == mask.shape and np.isfinite(out.scene).all()
    with pytest.raises(ConfigError, match="depth.input_size"):
        MidasDepth.from_config(DepthConfig(backend="midas", model="dpt_hybrid", checkpoint=str(dpt_hybrid_folder), input_size=2 * SIZE), CPU)


def test_dpt_loads_from_a_transformers_folder(dpt_folder):
    # the plain ViT DPT interpolates its position embeddings: another size is fine
    cfg = DepthConfig(backend="midas", model="dpt_large", checkpoint=str(dpt_folder), input_size=2 * SIZE)
    est = MidasDepth.from_config(cfg, CPU)
    assert est.resize_mode == "square" and est.input_size == 2 * SIZE
    assert np.allclose(est._mean, 0.5) and np.allclose(est._std, 0.5)
    frame, mask = frame_and_mask()
    out = est(frame, mask)
    assert out.height.shape == mask.shape and out.scene.shape == mask.shape
    assert (out.height[~mask] == 0).all() and 0 <= out.height.min() and out.height.max() <= 1


def test_dpt_refuses_incomplete_folders_and_original_files(dpt_folder, tmp_path):
    from safetensors.torch import load_file

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((dpt_folder / "config.json").read_text())
    weights = load_file(str(dpt_folder / "model.safetensors"))
    weights.pop(sorted(weights)[0])
    save_file(weights, str(broken / "model.safetensors"))
    original = tmp_path / "dpt_hybrid_384.pt"
    torch.save({"pretrained.model.cls_token": torch.zeros(1, 1, 768)}, original)
    for path in (broken, original):
        with pytest.raises(BackendError, match="depth.checkpoint") as err:
            MidasDepth.from_config(DepthConfig(backend="midas", model="dpt_hybrid", checkpoint=str(path)), CPU)
        assert str(path) in str(err.value)
