"""glassvid.masks.sam: SamMasks on a real, tiny, randomly initialised SAM.

Random weights give meaningless masks, so what is checked is the code around the model:
shapes and dtypes at the frame's size, the prompts that reach SAM's predictor (recorded
by a SamPredictor subclass that then runs the real predictor), carrying the mask and
logits by flow, when the image is embedded, the vanished-object path, and checkpoint
loading and its errors. No download.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("segment_anything")

from safetensors.torch import save_file  # noqa: E402
from segment_anything import SamPredictor  # noqa: E402
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer  # noqa: E402

from glassvid.config import MaskConfig, RuntimeConfig  # noqa: E402
from glassvid.errors import BackendError, ConfigError, InputError, PromptError  # noqa: E402
from glassvid.masks import build_masks  # noqa: E402
from glassvid.masks import sam as sam_mod  # noqa: E402
from glassvid.masks.sam import LowResGeometry, SamMasks, SamState, deepest_point, sam_box  # noqa: E402
from glassvid.prompts import Prompt  # noqa: E402

pytestmark = pytest.mark.models

CPU = RuntimeConfig(device="cpu")
IMG = 128  # encoder input side: 8x8 embedding (patch 16), 32x32 low-res logits


def tiny_sam(embed_dim: int = 32, img_size: int = IMG, seed: int = 0) -> Sam:
    """A 1-block SAM with SAM's real modules; constraints: img_size % patch == 0, the
    embedding is img_size // patch, mask_in_chans % 4 == 0, prompt dim even and % 8 == 0
    (decoder upscaling), attention's internal dim (dim / 2) % heads == 0."""
    torch.manual_seed(seed)
    prompt_dim, patch = 32, 16
    grid = img_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=img_size,
            patch_size=patch,
            embed_dim=embed_dim,
            depth=1,
            num_heads=2,
            mlp_ratio=2.0,
            out_chans=prompt_dim,
            qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=False,
            window_size=0,
            global_attn_indexes=(),
        ),
        prompt_encoder=PromptEncoder(embed_dim=prompt_dim, image_embedding_size=(grid, grid), input_image_size=(img_size, img_size), mask_in_chans=8),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=prompt_dim, mlp_dim=64, num_heads=2),
            transformer_dim=prompt_dim,
            iou_head_depth=2,
            iou_head_hidden_dim=32,
        ),
    )
    return sam.eval()


class RecordingPredictor(SamPredictor):
    """The real SamPredictor, with its calls and outputs written down."""

    def __init__(self, sam: Sam) -> None:
        super().__init__(sam)
        self.embedded: list[tuple[int, ...]] = []  # shape of each image set
        self.calls: list[dict] = []

    def set_image(self, image, image_format="RGB"):
        self.embedded.append(image.shape)
        return super().set_image(image, image_format)

    def predict(self, point_coords=None, point_labels=None, box=None, mask_input=None, multimask_output=True, return_logits=False):
        out = super().predict(point_coords, point_labels, box, mask_input, multimask_output, return_logits)
        self.calls.append(
            dict(point_coords=point_coords, point_labels=point_labels, box=box, mask_input=mask_input, multimask_output=multimask_output, out=out)
        )
        return out


@pytest.fixture(scope="module")
def model() -> Sam:
    return tiny_sam()


def make(model: Sam, **cfg) -> SamMasks:
    return SamMasks(sam=model, cfg=MaskConfig(backend="sam", **cfg), device="cpu", predictor=RecordingPredictor(model))


def frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def rect(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


# ------------------------------------------------------------------------ initial_mask


@pytest.mark.parametrize("h,w", [(96, 128), (75, 97), (130, 61)])
def test_box_prompt_gives_a_frame_sized_mask_and_sam_gets_the_inclusive_box(model, h, w):
    m = make(model)
    out = m.initial_mask(frame(h, w), Prompt(box=(10, 12, 40, 50)))
    assert out.dtype == bool and out.shape == (h, w)
    (call,) = m.predictor.calls
    np.testing.assert_array_equal(call["box"], [10, 12, 39, 49])  # exclusive end -> last pixel inside
    assert call["multimask_output"] is False and call["point_coords"] is None
    assert m.predictor.embedded == [(h, w, 3)]


def test_takes_the_box_hints_a_caller_may_pass_every_backend(model):
    # the contract's initial_mask(frame, prompt, motion, difference, behind): SAM does not ask for the hints
    # (uses_clip_hints), but a caller such as the benchmark may pass them to every backend
    h, w = 75, 97
    m = make(model)
    out = m.initial_mask(frame(h, w), Prompt(box=(10, 12, 40, 50)), np.zeros((h, w, 2), np.float32), np.zeros((h, w), np.float32), np.zeros((h, w, 3), np.float32))
    assert out.dtype == bool and out.shape == (h, w)
    assert m.uses_clip_hints is False  # ... so the pipeline does not read the clip to make them


def test_box_is_clipped_to_the_frame(model):
    m = make(model)
    m.initial_mask(frame(75, 97), Prompt(box=(-5, 3, 200, 60)))
    np.testing.assert_array_equal(m.predictor.calls[0]["box"], [0, 3, 96, 59])


def test_single_point_is_ambiguous_and_the_best_predicted_iou_wins(model):
    m = make(model)
    out = m.initial_mask(frame(75, 97, seed=3), Prompt(points=((40, 30, 1),)))
    (call,) = m.predictor.calls
    assert call["multimask_output"] is True
    masks, ious, _ = call["out"]
    assert masks.shape == (3, 75, 97)
    np.testing.assert_array_equal(out, masks[int(np.argmax(ious))])
    np.testing.assert_array_equal(call["point_coords"], [[40, 30]])
    np.testing.assert_array_equal(call["point_labels"], [1])


def test_points_with_a_box_ask_for_one_mask(model):
    m = make(model)
    m.initial_mask(frame(96, 128), Prompt(box=(10, 10, 60, 60), points=((30, 30, 1), (5, 5, 0))))
    (call,) = m.predictor.calls
    assert call["multimask_output"] is False
    np.testing.assert_array_equal(call["point_labels"], [1, 0])


def test_mask_prompt_returns_that_mask_without_running_sam(model):
    m = make(model)
    mask = rect(75, 97, 20, 10, 60, 50)
    out = m.initial_mask(frame(75, 97), Prompt(box=(0, 0, 5, 5), mask=mask))
    assert out.dtype == bool
    np.testing.assert_array_equal(out, mask)
    assert m.predictor.calls == [] and m.predictor.embedded == []


def test_bad_prompts_and_frames_are_clear_errors(model):
    m = make(model)
    with pytest.raises(PromptError, match="75x60"):
        m.initial_mask(frame(75, 97), Prompt(mask=np.ones((60, 75), bool)))
    with pytest.raises(PromptError, match="no area"):
        m.initial_mask(frame(75, 97), Prompt(box=(200, 10, 300, 20)))
    with pytest.raises(InputError, match="uint8"):
        m.initial_mask(frame(75, 97).astype(np.float32), Prompt(box=(0, 0, 5, 5)))


# ------------------------------------------------------------------------ start / step


def test_start_keeps_sams_logits_and_embedding_from_the_prompt_frame(model):
    m = make(model, sam_keyframe_interval=4, sam_reembed_below_confidence=0.0)
    f = frame(96, 128)
    mask = m.initial_mask(f, Prompt(box=(20, 20, 80, 70)))
    state = m.start(f, mask)
    np.testing.assert_array_equal(state.logits, m.predictor.calls[0]["out"][2][:1])
    assert state.embedding is not None
    # the embedding is reused on the next frame: no second set_image
    m.step(state, frame(96, 128, 1), np.zeros((96, 128, 2), np.float32))
    assert len(m.predictor.embedded) == 1


def test_a_turned_state_steps_on_its_own(model):
    # the revisit of an unsure stretch (glassvid.masks.propagate) steps a turned copy back; the run goes on from the original
    m = make(model)
    state = m.start(frame(96, 128), rect(96, 128, 32, 16, 64, 48))
    mask, logits = state.mask.copy(), state.logits.copy()
    back = m.turn(state)
    m.step(back, frame(96, 128, 1), np.broadcast_to(np.array([-8, -4], np.float32), (96, 128, 2)).copy())
    assert not np.array_equal(back.mask, mask)
    np.testing.assert_array_equal(state.mask, mask)
    np.testing.assert_array_equal(state.logits, logits)


def test_start_from_a_mask_makes_binary_logits_on_the_low_res_grid(model):
    m = make(model)
    mask = rect(96, 128, 32, 16, 64, 48)  # SAM input = frame (long side 128); grid = /4
    state = m.start(frame(96, 128), mask)
    assert isinstance(state, SamState) and state.logits.shape == (1, 32, 32) and state.logits.dtype == np.float32
    lg = state.logits[0]
    assert (lg[4:12, 8:16] > 0).all()  # the object: rows 16..48 / 4, cols 32..64 / 4
    assert (lg[:4] < 0).all() and (lg[12:] < 0).all() and (lg[:, :8] < 0).all() and (lg[:, 16:] < 0).all()
    assert (lg[24:] < 0).all()  # padding below the 96-row frame: background
    assert m.predictor.embedded == []  # nothing embedded before the first step


def test_step_prompts_sam_with_the_flow_shifted_box_logits_and_point(model):
    m = make(model)
    h, w, dx, dy = 96, 128, 8, 4
    prev = rect(h, w, 30, 20, 70, 60)
    state = m.start(frame(h, w), prev)
    prev_logits = state.logits.copy()
    # constant flow to the previous frame (-dx, -dy): everything moved by (+dx, +dy)
    flow = np.broadcast_to(np.array([-dx, -dy], np.float32), (h, w, 2)).copy()
    mask, conf = m.step(state, frame(h, w, 1), flow)
    assert mask.dtype == bool and mask.shape == (h, w) and 0.0 <= conf <= 1.0
    (call,) = m.predictor.calls
    np.testing.assert_array_equal(call["box"], [30 + dx, 20 + dy, 69 + dx, 59 + dy])
    assert call["multimask_output"] is False
    # deepest interior point of the shifted rectangle (40x40, centre 50+dx, 40+dy)
    px, py = call["point_coords"][0]
    assert abs(px - (50 + dx)) <= 1 and abs(py - (40 + dy)) <= 1 and list(call["point_labels"]) == [1]
    # the logits moved by the flow on the 1/4 grid: (2, 1) cells
    mi = call["mask_input"]
    assert mi.shape == (1, 32, 32)
    np.testing.assert_allclose(mi[0, 1:24, 2:32], prev_logits[0, 0:23, 0:30], atol=1e-4)
    # the state now holds SAM's result
    np.testing.assert_array_equal(state.mask, mask)
    np.testing.assert_array_equal(state.logits, call["out"][2][:1])


def test_confidence_is_predicted_iou_times_agreement_with_the_carried_mask(model):
    m = make(model)
    h, w = 75, 97
    prev = rect(h, w, 20, 15, 70, 60)
    state = m.start(frame(h, w), prev)
    mask, conf = m.step(state, frame(h, w, 2), np.zeros((h, w, 2), np.float32))
    iou_pred = float(np.clip(m.predictor.calls[0]["out"][1][0], 0, 1))
    inter, union = np.count_nonzero(mask & prev), np.count_nonzero(mask | prev)
    assert conf == pytest.approx(iou_pred * inter / union)


def test_pixels_failing_the_flow_check_leave_the_carried_mask(model):
    m = make(model)
    h, w = 96, 128
    state = m.start(frame(h, w), rect(h, w, 32, 16, 72, 56))
    before = state.logits.copy()
    valid = np.ones((h, w), bool)
    valid[:, 52:] = False  # the right half of the object was hidden in the previous frame
    m.step(state, frame(h, w, 1), np.zeros((h, w, 2), np.float32), valid)
    call = m.predictor.calls[0]
    np.testing.assert_array_equal(call["box"], [32, 16, 51, 55])
    mi = call["mask_input"][0]
    assert (mi[:, 13:] <= 0).all() and np.array_equal(mi[:, :13], before[0, :, :13])


def test_interior_point_can_be_turned_off(model):
    m = make(model, sam_interior_point=False)
    state = m.start(frame(96, 128), rect(96, 128, 30, 20, 70, 60))
    m.step(state, frame(96, 128, 1), np.zeros((96, 128, 2), np.float32))
    assert m.predictor.calls[0]["point_coords"] is None


def test_object_gone_from_the_frame_gives_an_empty_mask_and_zero_confidence(model):
    m = make(model)
    h, w = 75, 97
    state = m.start(frame(h, w), rect(h, w, 0, 0, 20, 20))
    flow = np.broadcast_to(np.array([100, 100], np.float32), (h, w, 2)).copy()  # every pixel comes from outside: it left
    mask, conf = m.step(state, frame(h, w, 1), flow)
    assert mask.dtype == bool and mask.shape == (h, w) and not mask.any() and conf == 0.0
    assert m.predictor.calls == [] and m.predictor.embedded == []
    mask, conf = m.step(state, frame(h, w, 2), np.zeros((h, w, 2), np.float32))  # and stays gone
    assert not mask.any() and conf == 0.0


def _run(m: SamMasks, n: int) -> SamState:
    h, w = 96, 128
    state = m.start(frame(h, w), rect(h, w, 30, 20, 70, 60))
    for i in range(n):
        # keep the prompt alive whatever the random SAM returns: only the embedding schedule is tested
        state.mask = rect(h, w, 30, 20, 70, 60)
        m.step(state, frame(h, w, i + 1), np.zeros((h, w, 2), np.float32))
    return state


def test_every_frame_is_embedded_by_default(model):
    m = make(model)
    _run(m, 4)
    assert len(m.predictor.embedded) == 4


def test_keyframe_interval_reuses_the_embedding_in_between(model):
    m = make(model, sam_keyframe_interval=3, sam_reembed_below_confidence=0.0)
    _run(m, 7)
    # frames 1..7: embedded on 1 (nothing yet), 4 and 7
    assert len(m.predictor.embedded) == 3 and len(m.predictor.calls) == 7


def test_low_confidence_on_a_reused_embedding_re_embeds(model):
    m = make(model, sam_keyframe_interval=100, sam_reembed_below_confidence=1.0)
    _run(m, 3)  # confidence < 1 always on random weights: every reuse is redone
    assert len(m.predictor.embedded) == 3 and len(m.predictor.calls) == 5


def test_step_checks_the_flow_size(model):
    m = make(model)
    state = m.start(frame(75, 97), rect(75, 97, 10, 10, 30, 30))
    with pytest.raises(InputError, match="75x97x2"):
        m.step(state, frame(75, 97), np.zeros((97, 75, 2), np.float32))
    with pytest.raises(InputError, match="valid"):
        m.step(state, frame(75, 97), np.zeros((75, 97, 2), np.float32), np.ones((10, 10), bool))


def test_tiny_sam_is_fast(model):
    m = make(model)
    state = m.start(frame(480, 854), rect(480, 854, 300, 100, 500, 400))
    t = time.perf_counter()
    m.step(state, frame(480, 854, 1), np.zeros((480, 854, 2), np.float32))
    assert time.perf_counter() - t < 1.0


# ------------------------------------------------------------------------ pure helpers


def test_helpers():
    np.testing.assert_array_equal(sam_box((3, 4, 10, 20)), [3, 4, 9, 19])
    assert deepest_point(rect(50, 60, 10, 15, 31, 36)) == (20, 25)
    # cut by the frame's edge: the deepest point is still inside the visible part
    x, y = deepest_point(rect(50, 60, 0, 0, 11, 50))
    assert 0 <= x <= 10


def test_low_res_geometry_of_an_odd_frame(model):
    g = LowResGeometry.of(model, 75, 97)
    assert g.input_size == (99, 128) and g.grid_size == (32, 32)
    valid = g.valid()
    assert valid[:24].all() and not valid[26:].any()
    flow = g.flow_to_grid(np.full((75, 97, 2), 4.0, np.float32))
    assert flow[5, 5] == pytest.approx([4.0 * 128 / 97 / 4, 4.0 * 99 / 75 / 4], rel=1e-5)


# ------------------------------------------------------------------------ checkpoints


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(sam_mod.SAM_ARCHITECTURES, "tiny", lambda: tiny_sam(seed=123))
    monkeypatch.setitem(sam_mod.SAM_ARCHITECTURES, "tiny_wide", lambda: tiny_sam(embed_dim=48, seed=123))


def _same_weights(a: Sam, b: Sam) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_checkpoint_round_trip(tmp_path, registered, model, suffix):
    path = tmp_path / f"sam_tiny{suffix}"
    if suffix == ".pth":
        torch.save(model.state_dict(), path)
    else:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    m = SamMasks.from_config(MaskConfig(backend="sam", model="tiny", checkpoint=str(path)), CPU)
    assert _same_weights(m.sam, model) and not m.sam.training
    out = m.initial_mask(frame(75, 97), Prompt(box=(10, 10, 50, 50)))
    assert out.shape == (75, 97)
    # through the stage registry too
    assert isinstance(build_masks(MaskConfig(backend="sam", model="tiny", checkpoint=str(path)), CPU), SamMasks)


def test_wrapped_checkpoint_loads(tmp_path, registered, model):
    path = tmp_path / "wrapped.pth"
    torch.save({"model": model.state_dict()}, path)
    m = SamMasks.from_config(MaskConfig(backend="sam", model="tiny", checkpoint=str(path)), CPU)
    assert _same_weights(m.sam, model)


def test_missing_checkpoint_says_where_to_get_one(tmp_path):
    with pytest.raises(BackendError, match="masks.checkpoint") as exc:
        SamMasks.from_config(MaskConfig(backend="sam"), CPU)
    assert "sam_vit_b_01ec64.pth" in str(exc.value) and "sam_vit_h_4b8939.pth" in str(exc.value)
    with pytest.raises(BackendError, match="masks.checkpoint") as exc:
        SamMasks.from_config(MaskConfig(backend="sam", checkpoint=str(tmp_path / "nope.pth")), CPU)
    assert "nope.pth" in str(exc.value)


def test_wrong_architecture_names_the_file_and_model(tmp_path, registered):
    path = tmp_path / "wide.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_sam(embed_dim=48).state_dict().items()}, str(path))
    with pytest.raises(BackendError, match="masks.checkpoint") as exc:
        SamMasks.from_config(MaskConfig(backend="sam", model="tiny", checkpoint=str(path)), CPU)
    msg = str(exc.value)
    assert "wide.safetensors" in msg and "tiny" in msg and "another shape" in msg


def test_not_a_state_dict_or_a_pickle_is_refused(tmp_path, registered):
    path = tmp_path / "pickle.pth"
    torch.save({"weights": np.ones(3).tolist(), "obj": _Opaque()}, path)
    with pytest.raises(BackendError, match="safely"):
        SamMasks.from_config(MaskConfig(backend="sam", model="tiny", checkpoint=str(path)), CPU)


class _Opaque:
    pass


def test_unknown_model_lists_the_known_ones(tmp_path):
    path = tmp_path / "x.pth"
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="vit_b"):
        SamMasks.from_config(MaskConfig(backend="sam", model="vit_z", checkpoint=str(path)), CPU)
