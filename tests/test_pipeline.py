"""End to end: decode -> analyse -> plate -> render -> encode on synthetic clips, with the cache."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from glassvid import Pipeline, convert
from glassvid.cache import source_digest
from glassvid.config import load_config
from glassvid.io import probe, read_frames
from glassvid.masks import build_masks
from glassvid.masks.matte import region
from glassvid.prompts import Prompt, load_mask


def frames_of(path: Path | str) -> list[np.ndarray]:
    return [f.rgb for f in read_frames(path)]


def test_png_sequence_output_is_exact_outside_the_object(tmp_path: Path, scene) -> None:
    clip, mask_png, masks = scene
    out = tmp_path / "out" / "frame.%05d.png"
    cfg = load_config()
    report = Pipeline(cfg, work_dir=tmp_path / "work").run(clip, out, prompt=Prompt(mask=load_mask(mask_png)), save_masks=tmp_path / "masks")
    src = frames_of(clip)
    dst = frames_of(out)
    assert len(dst) == len(src) == 12
    changed_inside = 0
    for i, (a, b) in enumerate(zip(src, dst)):
        saved = cv2.imread(str(tmp_path / "masks" / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        touched = region(saved, cfg.masks.feather_px + cfg.glass.edge_px)
        assert np.array_equal(a[~touched], b[~touched]), f"frame {i}: pixels outside the object changed"
        changed_inside += int(np.abs(a[touched].astype(int) - b[touched]).mean() > 3)
        # the saved masks stay on the object
        inter = (saved & masks[i]).sum() / max(1, (saved | masks[i]).sum())
        assert inter > 0.8, f"frame {i}: mask IoU {inter:.2f}"
    assert changed_inside >= 10  # the object really was re-rendered
    assert set(report.passes) == {"frames", "analyse", "plate", "render"}


def test_mp4_output_keeps_count_rate_size_and_audio(tmp_path: Path, scene) -> None:
    clip, mask_png, _ = scene
    out = tmp_path / "glass.mp4"
    convert(clip, out, prompt=Prompt(mask=load_mask(mask_png)), work_dir=tmp_path / "work")
    a, b = probe(clip), probe(out)
    assert (b.frame_count, b.fps, b.width, b.height) == (a.frame_count, a.fps, a.width, a.height)
    assert a.has_audio and b.has_audio


def test_changing_the_look_reruns_only_the_render(tmp_path: Path, scene) -> None:
    clip, mask_png, _ = scene
    prompt = Prompt(mask=load_mask(mask_png))
    first = Pipeline(load_config(), work_dir=tmp_path / "w").run(clip, tmp_path / "a.mp4", prompt=prompt)
    assert {k: v.status for k, v in first.passes.items()} == {"frames": "ran", "analyse": "ran", "plate": "ran", "render": "ran"}
    second = Pipeline(load_config(sets=["glass.ior=1.33"]), work_dir=tmp_path / "w").run(clip, tmp_path / "b.mp4", prompt=prompt)
    assert {k: v.status for k, v in second.passes.items()} == {"frames": "reused", "analyse": "reused", "plate": "reused", "render": "ran"}
    # a mask setting invalidates analyse and everything after it
    third = Pipeline(load_config(sets=["masks.refine_band_px=5"]), work_dir=tmp_path / "w").run(clip, tmp_path / "c.mp4", prompt=prompt)
    assert third.passes["frames"].status == "reused" and third.passes["analyse"].status == "ran" and third.passes["plate"].status == "ran"


def test_a_cache_written_by_other_code_is_not_reused(tmp_path: Path, scene, monkeypatch: pytest.MonkeyPatch) -> None:
    clip, mask_png, _ = scene
    prompt = Prompt(mask=load_mask(mask_png))
    Pipeline(load_config(), work_dir=tmp_path / "w").run(clip, tmp_path / "a.mp4", prompt=prompt)
    # an upgrade (or a local edit) of glassvid: its stages may compute other frames, masks, plates
    monkeypatch.setattr("glassvid.pipeline.code_fingerprint", lambda: "other-code")
    again = Pipeline(load_config(), work_dir=tmp_path / "w").run(clip, tmp_path / "b.mp4", prompt=prompt)
    assert {k: v.status for k, v in again.passes.items()} == {"frames": "ran", "analyse": "ran", "plate": "ran", "render": "ran"}


def test_the_code_fingerprint_follows_every_source_file(tmp_path: Path) -> None:
    (tmp_path / "stage").mkdir()
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "stage" / "b.py").write_text("B = 2\n")
    (tmp_path / "notes.txt").write_text("not code")
    first = source_digest(tmp_path)
    (tmp_path / "notes.txt").write_text("still not code")
    assert source_digest(tmp_path) == first
    (tmp_path / "stage" / "b.py").write_text("B = 3\n")
    assert source_digest(tmp_path) != first
    (tmp_path / "stage" / "b.py").write_text("B = 2\n")
    assert source_digest(tmp_path) == first
    (tmp_path / "stage" / "b.py").rename(tmp_path / "b.py")  # same content, another module
    assert source_digest(tmp_path) != first


def test_an_interrupted_run_resumes_with_the_same_result(tmp_path: Path, scene) -> None:
    clip, mask_png, _ = scene
    prompt = Prompt(mask=load_mask(mask_png))

    class Stop(Exception):
        pass

    def interrupt(name: str, done: int, total: int) -> None:
        if name == "analyse" and done == 20:
            raise Stop

    with pytest.raises(Stop):
        Pipeline(load_config(), work_dir=tmp_path / "w", progress=interrupt).run(clip, tmp_path / "a.png.%03d.png", prompt=prompt)
    assert not list(tmp_path.glob("a.png.*"))  # nothing that looks finished
    resumed = Pipeline(load_config(), work_dir=tmp_path / "w").run(clip, tmp_path / "r.%03d.png", prompt=prompt)
    assert resumed.passes["frames"].status == "reused"
    assert resumed.passes["analyse"].status == "resumed"
    Pipeline(load_config(), work_dir=tmp_path / "w2").run(clip, tmp_path / "c.%03d.png", prompt=prompt)
    for a, b in zip(frames_of(tmp_path / "r.%03d.png"), frames_of(tmp_path / "c.%03d.png")):
        assert np.array_equal(a, b)


def test_user_mattes_and_plate_skip_segmentation_and_recovery(tmp_path: Path, scene) -> None:
    clip, _, masks = scene
    mattes = tmp_path / "mattes"
    mattes.mkdir()
    for i, m in enumerate(masks):
        cv2.imwrite(str(mattes / f"{i:05d}.png"), np.where(m, 255, 0).astype(np.uint8))
    plate = tmp_path / "plate.png"
    from scenes import background

    cv2.imwrite(str(plate), background(96, 64)[..., ::-1])
    report = Pipeline(load_config(), work_dir=tmp_path / "w").run(clip, tmp_path / "o.%03d.png", matte=mattes, plate=plate, save_masks=tmp_path / "saved")
    for i, m in enumerate(masks):
        assert np.array_equal(cv2.imread(str(tmp_path / "saved" / f"{i:05d}.png"), 0) > 0, m)
    assert report.frame_count == 12


def test_frame_range(tmp_path: Path, scene) -> None:
    clip, _, masks = scene
    prompt = Prompt(frame=4, mask=masks[4])
    report = convert(clip, tmp_path / "o.%05d.png", prompt=prompt, frames=(3, 8), work_dir=tmp_path / "w")
    names = sorted(p.name for p in tmp_path.glob("o.*.png"))
    assert names == [f"o.{i:05d}.png" for i in range(3, 9)]
    assert report.frame_range == (3, 8)
    src = frames_of(clip)
    out = {int(p.name[2:7]): cv2.imread(str(p))[..., ::-1] for p in tmp_path.glob("o.*.png")}
    far_from_object = ~region(masks[3] | masks[8] | masks[5], 12)
    assert np.array_equal(out[3][far_from_object], src[3][far_from_object])


def test_box_prompt_finds_the_object(tmp_path: Path, scene) -> None:
    clip, _, masks = scene
    ys, xs = np.nonzero(masks[0])
    box = (xs.min() - 3, ys.min() - 3, xs.max() + 4, ys.max() + 4)
    Pipeline(load_config(), work_dir=tmp_path / "w").run(clip, None, prompt=Prompt(box=box), save_masks=tmp_path / "m")
    got = cv2.imread(str(tmp_path / "m" / "00000.png"), 0) > 0
    assert (got & masks[0]).sum() / (got | masks[0]).sum() > 0.8


@pytest.mark.parametrize("uses_hints", [True, False])
def test_a_box_prompt_gets_the_clips_hints_only_from_a_backend_that_uses_them(tmp_path: Path, scene, uses_hints: bool) -> None:
    """The background view behind a box prompt reads the whole clip: it is built only for a backend that asks for it."""
    clip, _, masks = scene
    ys, xs = np.nonzero(masks[0])
    classic = build_masks(load_config().masks)
    hints: list[tuple] = []

    class Recording:
        uses_clip_hints = uses_hints

        def initial_mask(self, frame, prompt, *given):
            hints.append(given)
            return classic.initial_mask(frame, prompt, *given)

        def __getattr__(self, name):
            return getattr(classic, name)

    Pipeline(load_config(), work_dir=tmp_path / "w", masks=Recording()).run(clip, None, prompt=Prompt(box=(xs.min() - 3, ys.min() - 3, xs.max() + 4, ys.max() + 4)), save_masks=tmp_path / "m")
    (motion, difference, behind), = hints
    if uses_hints:
        assert motion.shape == (64, 96, 2) and difference.shape == (64, 96) and behind.shape == (64, 96, 3)
    else:
        assert motion is None and difference is None and behind is None


def test_frames_with_an_unsure_mask_are_named_in_a_warning(tmp_path: Path, scene) -> None:
    """Frames whose mask confidence falls below masks.warn_below are named (not those with no object: they have their own
    warning), and a reused analysis reports them again."""
    clip, _, masks = scene
    classic = build_masks(load_config().masks)
    scripted = {4: 0.1, 5: 0.29, 6: 0.1, 9: 0.0}  # frame -> confidence; frame 9's mask is empty

    class Scripted:
        uses_clip_hints = True

        def __init__(self) -> None:
            self.frame = 0  # one forward run from the prompt on frame 0: the steps come in frame order

        def step(self, state, frame, flow_to_prev, valid=None, neighbours=None):
            self.frame += 1
            mask, _ = classic.step(state, frame, flow_to_prev, valid, neighbours)
            if self.frame == 9:
                mask = np.zeros_like(mask)
            return mask, scripted.get(self.frame, 0.9)

        def __getattr__(self, name):
            return getattr(classic, name)

    cfg = load_config(sets=["masks.revisit_below=0"])  # no revisits: each frame is stepped once
    report = Pipeline(cfg, work_dir=tmp_path / "w", masks=Scripted()).run(clip, None, prompt=Prompt(mask=masks[0]))
    unsure = [w for w in report.warnings if "unsure" in w]
    assert unsure == [unsure[0]] and "in 3 frame(s) (4-6)" in unsure[0] and "--prompt-file" in unsure[0]
    assert any("not found in 1 frame(s) (9)" in w for w in report.warnings)
    again = Pipeline(cfg, work_dir=tmp_path / "w", masks=Scripted()).run(clip, None, prompt=Prompt(mask=masks[0]))
    assert again.passes["analyse"].status == "reused" and again.warnings == report.warnings
    quiet = Pipeline(load_config(sets=["masks.revisit_below=0", "masks.warn_below=0"]), work_dir=tmp_path / "q", masks=Scripted()).run(clip, None, prompt=Prompt(mask=masks[0]))
    assert not any("unsure" in w for w in quiet.warnings)


def test_later_prompts_win_from_their_frame_on(tmp_path: Path, scene) -> None:
    """Two prompts: masks before the second prompt's frame follow the first, from it on the second."""
    clip, _, masks = scene
    other = np.zeros_like(masks[0])
    other[4:20, 70:90] = True  # a patch of static background in the top-right corner, away from the disc
    prompts = [Prompt(frame=6, mask=other), Prompt(frame=0, mask=masks[0])]  # any order
    Pipeline(load_config(), work_dir=tmp_path / "w").run(clip, None, prompt=prompts, save_masks=tmp_path / "m")
    saved = [cv2.imread(str(tmp_path / "m" / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) > 0 for i in range(12)]
    assert np.array_equal(saved[0], masks[0]) and np.array_equal(saved[6], other)
    for i in range(1, 6):  # the first prompt's object, carried forward
        assert (saved[i] & masks[i]).sum() / (saved[i] | masks[i]).sum() > 0.8, i
    for i in range(7, 12):  # the second prompt's patch, carried forward: nothing of the disc
        assert (saved[i] & other).sum() / (saved[i] | other).sum() > 0.8, i
        assert not (saved[i] & masks[i]).any(), i


def test_prompt_file_with_several_frames(tmp_path: Path, scene) -> None:
    import json

    from glassvid.errors import PromptError
    from glassvid.prompts import load_prompt_file

    clip, mask_png, masks = scene
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps([{"frame": 5, "box": [1, 2, 30, 40]}, {"frame": 0, "mask": str(mask_png)}]))
    prompts = load_prompt_file(path)
    assert [p.frame for p in prompts] == [0, 5] and prompts[1].box == (1, 2, 30, 40)
    assert np.array_equal(prompts[0].mask, masks[0])
    path.write_text(json.dumps({"prompts": [{"frame": 3, "box": [1, 2, 30, 40]}, {"frame": 3, "point": [5, 5]}]}))
    with pytest.raises(PromptError, match="two prompts are given on frame 3"):
        load_prompt_file(path)
    path.write_text(json.dumps([{"frame": "x"}]))
    with pytest.raises(PromptError, match="malformed"):
        load_prompt_file(path)


def test_the_render_pass_renders_each_frame_from_its_own_inputs(tmp_path: Path, scene) -> None:
    """render_clip makes each frame's view ahead, in another thread: its frames must be what
    rendering each frame alone, then the temporal stage in order, gives."""
    from glassvid.masks.matte import feather
    from glassvid.render.glass import render_glass
    from glassvid.render.sequence import render_clip, resolve_mode
    from glassvid.temporal import TemporalFilter

    clip_path, mask_png, _ = scene
    cfg = load_config()
    clip = Pipeline(cfg, work_dir=tmp_path / "work").analyse(clip_path, prompt=Prompt(mask=load_mask(mask_png)))
    glass = resolve_mode(clip, cfg.glass)
    steady = TemporalFilter(cfg.temporal)
    rendered = 0
    for i, out, layer in render_clip(clip, cfg):
        frame, matte = clip.frame(i), feather(clip.mask(i), cfg.masks.feather_px + glass.edge_px)
        alone, _ = render_glass(frame, clip.plate(i, frame), matte, *clip.depth(i), glass)
        assert np.array_equal(out, steady.step(frame, alone, matte > 0)), f"frame {i}"
        rendered += layer is not None
    assert rendered == clip.n == 12
