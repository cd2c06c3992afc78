"""glassvid.flow.raft: RAFTFlow on real torchvision RAFT modules with random weights.

Random weights give meaningless flow, so what is checked is the code around the model:
shapes at full resolution, pre-processing (scale, [-1, 1], padding to 8), vector
rescaling and crop, checkpoint loading and its errors, and pair() batching. No download.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from safetensors.torch import save_file  # noqa: E402
from torchvision.models.optical_flow import Raft_Small_Weights, raft_small  # noqa: E402

from glassvid.config import FlowConfig, RuntimeConfig  # noqa: E402
from glassvid.errors import BackendError, ConfigError, InputError  # noqa: E402
from glassvid.flow import build_flow  # noqa: E402
from glassvid.flow.dis import DISFlow  # noqa: E402
from glassvid.flow.raft import RAFTFlow  # noqa: E402

pytestmark = pytest.mark.models

ITER = 2  # refinement steps: enough to exercise the loop, cheap on 2 cores
CPU = RuntimeConfig(device="cpu")


def frames(w: int, h: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two RGB uint8 frames of random texture, the content moving 3 px right and 1 px down."""
    big = np.random.default_rng(seed).integers(0, 256, (h + 8, w + 8, 3), dtype=np.uint8)
    return big[4 : 4 + h, 4 : 4 + w].copy(), big[3 : 3 + h, 1 : 1 + w].copy()


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return raft_small(weights=None).eval()


class FakeRaft(torch.nn.Module):
    """Stand-in with RAFT's call contract; records its inputs, returns a chosen flow.

    ``mode='constant'``: every vector is ``vector`` (in the pixels of the image it saw).
    ``mode='coords'``: the vector at padded pixel (x, y) is (x, y), to check the crop.
    """

    def __init__(self, mode: str = "constant", vector: tuple[float, float] = (2.0, -1.0)) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the wrapper a device and dtype
        self.mode, self.vector = mode, vector
        self.calls: list[tuple[torch.Tensor, torch.Tensor, int]] = []

    def forward(self, image1, image2, num_flow_updates: int = 12):
        self.calls.append((image1.clone(), image2.clone(), num_flow_updates))
        b, _, h, w = image1.shape
        if self.mode == "constant":
            flow = torch.tensor(self.vector, dtype=image1.dtype).view(1, 2, 1, 1).expand(b, 2, h, w)
        else:
            ys, xs = torch.meshgrid(torch.arange(h, dtype=image1.dtype), torch.arange(w, dtype=image1.dtype), indexing="ij")
            flow = torch.stack([xs, ys])[None].expand(b, 2, h, w)
        return [torch.zeros_like(flow), flow.clone()]  # RAFT: one prediction per iteration, last is best


# -- shapes on the real module ---------------------------------------------------------


@pytest.mark.parametrize("scale", [0.5, 1.0])
def test_odd_size_gives_full_resolution_float32(small_model, scale):
    a, b = frames(97, 75)
    flow = RAFTFlow(model=small_model, scale=scale, iterations=ITER)(a, b)
    assert flow.shape == (75, 97, 2)
    assert flow.dtype == np.float32
    assert np.isfinite(flow).all()


# -- pre/post-processing with a stand-in -------------------------------------------------


def test_vectors_scale_back_to_full_resolution():
    fake = FakeRaft(vector=(2.0, -1.0))
    a, b = frames(128, 96)
    flow = RAFTFlow(model=fake, scale=0.5, iterations=5)(a, b)
    # (2, -1) px in the half-size image the model saw are (4, -2) px at full size.
    assert flow.shape == (96, 128, 2)
    np.testing.assert_allclose(flow[..., 0], 4.0, atol=1e-5)
    np.testing.assert_allclose(flow[..., 1], -2.0, atol=1e-5)
    image1, image2, n = fake.calls[0]
    assert tuple(image1.shape) == (1, 3, 48, 64) and tuple(image2.shape) == (1, 3, 48, 64)
    assert n == 5


def test_inputs_reach_model_padded_to_8_and_in_minus1_to_1():
    fake = FakeRaft(vector=(2.0, -1.0))
    a, b = frames(100, 70)  # at 0.5: 50x35, padded to 56x40
    a[:2, :2] = 0  # 2x2 blocks survive the 2x area shrink
    a[-2:, -2:] = 255
    flow = RAFTFlow(model=fake, scale=0.5, iterations=ITER)(a, b)
    image1, image2, _ = fake.calls[0]
    assert image1.shape[-2] % 8 == 0 and image1.shape[-1] % 8 == 0
    assert tuple(image1.shape[-2:]) == (40, 56)
    assert image1.dtype == torch.float32
    assert image1.min() == -1.0 and image1.max() == 1.0  # 0 -> -1 and 255 -> 1, not [0, 1]
    # 50x35 -> 100x70 is exactly 2x on both axes
    assert flow.shape == (70, 100, 2)
    np.testing.assert_allclose(flow[..., 0], 4.0, atol=1e-5)
    np.testing.assert_allclose(flow[..., 1], -2.0, atol=1e-5)


def test_normalisation_matches_torchvision_transforms():
    fake = FakeRaft()
    a, b = frames(64, 48)  # already a multiple of 8: no padding, no resizing at scale 1
    RAFTFlow(model=fake, scale=1.0, iterations=ITER)(a, b)
    image1, image2, _ = fake.calls[0]
    ref1, ref2 = Raft_Small_Weights.C_T_V2.transforms()(torch.from_numpy(a).permute(2, 0, 1)[None], torch.from_numpy(b).permute(2, 0, 1)[None])
    torch.testing.assert_close(image1, ref1)
    torch.testing.assert_close(image2, ref2)


def test_padding_is_replicated_and_cropped_back():
    fake = FakeRaft(mode="coords")
    a, b = frames(100, 70)  # scale 1: padded 104x72, so 2 columns left and 1 row on top
    flow = RAFTFlow(model=fake, scale=1.0, iterations=ITER)(a, b)
    image1, _, _ = fake.calls[0]
    assert tuple(image1.shape[-2:]) == (72, 104)
    torch.testing.assert_close(image1[..., 1:-1, 0], image1[..., 1:-1, 2])  # replicate, left
    torch.testing.assert_close(image1[..., 0, 2:-2], image1[..., 1, 2:-2])  # replicate, top
    ys, xs = np.mgrid[0:70, 0:100].astype(np.float32)
    np.testing.assert_array_equal(flow[..., 0], xs + 2)
    np.testing.assert_array_equal(flow[..., 1], ys + 1)


def test_tiny_frames_padded_to_the_pyramid_minimum(small_model):
    # torchvision's 4-level correlation pyramid needs 128 px; 40x30 at 0.5 is 20x15.
    a, b = frames(40, 30)
    assert RAFTFlow(model=small_model, scale=0.5, iterations=1)(a, b).shape == (30, 40, 2)


def test_bad_inputs_and_settings():
    flow = RAFTFlow(model=FakeRaft(), scale=1.0)
    a, b = frames(64, 48)
    with pytest.raises(InputError, match="HxWx3 uint8"):
        flow(a[..., 0], b[..., 0])
    with pytest.raises(InputError, match="one size"):
        flow(a, b[:40])
    with pytest.raises(ConfigError, match="scale"):
        RAFTFlow(model=FakeRaft(), scale=0.0)
    with pytest.raises(ConfigError, match="iterations"):
        RAFTFlow(model=FakeRaft(), iterations=0)


# -- pair() ------------------------------------------------------------------------------


def test_pair_equals_two_calls(small_model):
    a, b = frames(97, 75)
    raft = RAFTFlow(model=small_model, scale=0.5, iterations=ITER)
    fwd, bwd = raft.pair(a, b)
    np.testing.assert_allclose(fwd, raft(a, b), atol=1e-4)
    np.testing.assert_allclose(bwd, raft(b, a), atol=1e-4)


def test_pair_runs_one_batch_of_two():
    fake = FakeRaft()
    a, b = frames(64, 48)
    RAFTFlow(model=fake, scale=1.0).pair(a, b)
    assert len(fake.calls) == 1
    image1, image2, _ = fake.calls[0]
    assert image1.shape[0] == 2
    torch.testing.assert_close(image1[0], image2[1])
    torch.testing.assert_close(image1[1], image2[0])


def test_dis_pair_equals_two_calls():
    a, b = frames(96, 64)
    dis = DISFlow(preset="fast")
    fwd, bwd = dis.pair(a, b)
    np.testing.assert_array_equal(fwd, dis(a, b))
    np.testing.assert_array_equal(bwd, dis(b, a))


# -- checkpoints --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_checkpoint_round_trip(small_model, tmp_path, fmt):
    path = tmp_path / f"raft_small.{fmt}"
    state = small_model.state_dict()
    if fmt == "pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    cfg = FlowConfig(backend="raft", model="raft_small", checkpoint=str(path), scale=0.5)
    loaded = build_flow(cfg, CPU)
    assert isinstance(loaded, RAFTFlow)
    loaded.iterations = ITER
    a, b = frames(97, 75)
    expected = RAFTFlow(model=small_model, scale=0.5, iterations=ITER)(a, b)
    np.testing.assert_array_equal(loaded(a, b), expected)


def test_official_file_found_in_torch_hub_cache(small_model, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    name = Raft_Small_Weights.C_T_V2.url.rsplit("/", 1)[-1]
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(small_model.state_dict(), tmp_path / "hub" / "checkpoints" / name)
    raft = RAFTFlow.from_config(FlowConfig(backend="raft", model="raft_small"), CPU)
    for p, q in zip(raft.model.parameters(), small_model.parameters()):
        torch.testing.assert_close(p, q)


def test_missing_checkpoint_names_the_setting_and_official_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache
    with pytest.raises(BackendError, match="flow.checkpoint") as err:
        RAFTFlow.from_config(FlowConfig(backend="raft", model="raft_small"), CPU)
    assert Raft_Small_Weights.C_T_V2.url in str(err.value)
    with pytest.raises(BackendError, match="does not exist.*flow.checkpoint"):
        RAFTFlow.from_config(FlowConfig(backend="raft", checkpoint=str(tmp_path / "nope.pth")), CPU)


def test_wrong_architecture_checkpoint(small_model, tmp_path):
    path = tmp_path / "small.pth"
    torch.save(small_model.state_dict(), path)
    with pytest.raises(BackendError, match="does not fit torchvision raft_large.*flow.checkpoint") as err:
        RAFTFlow.from_config(FlowConfig(backend="raft", model="raft_large", checkpoint=str(path)), CPU)
    assert str(path) in str(err.value)
    other = tmp_path / "other.safetensors"
    save_file({"encoder.weight": torch.zeros(3, 3)}, str(other))
    with pytest.raises(BackendError, match="flow.checkpoint"):
        RAFTFlow.from_config(FlowConfig(backend="raft", model="raft_small", checkpoint=str(other)), CPU)
