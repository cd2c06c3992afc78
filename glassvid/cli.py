"""The ``glassvid`` command line: a click group over the library.

Heavy imports happen inside the commands so ``glassvid --version`` and ``--help`` are
fast. User errors (:class:`GlassvidError`) print one line and exit with code 2.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from glassvid import __version__
from glassvid.errors import GlassvidError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _fail(message: str) -> None:
    click.echo(f"glassvid: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


class _Group(click.Group):
    """Turns user errors into one line and exit code 2; Ctrl-C into a resume hint."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GlassvidError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo("glassvid: interrupted; run the same command again to resume from the cache", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="glassvid")
def main() -> None:
    """Turn a video of an object into a video where that object is clear glass."""


class _Bars:
    """One tqdm bar per pass, with frames/s; nothing when quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: dict[str, Any] = {}

    def __call__(self, name: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        bar = self.bars.get(name)
        if bar is None:
            for other in self.bars.values():
                other.close()
            bar = self.bars[name] = tqdm(total=total, desc=f"{name:>8}", unit="step" if name in ("analyse", "plate") else "frame", leave=True, dynamic_ncols=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _parse_frames(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    from glassvid.errors import InputError

    try:
        a, b = (int(v) for v in text.split("-", 1))
    except ValueError:
        raise InputError(f"--frames expects FIRST-LAST (inclusive frame indices, e.g. 0-47), got '{text}'") from None
    if b < a:
        raise InputError(f"--frames {text}: the last frame comes before the first; give FIRST-LAST with FIRST <= LAST")
    return a, b


def _setup_logging(quiet: bool, verbose: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="glassvid: %(message)s", stream=sys.stderr)
    logging.getLogger("glassvid").setLevel(level)


@main.command()
@click.argument("input", type=click.Path(dir_okay=True, path_type=str))
@click.option("-o", "--output", required=True, help="Video file (.mp4/.mov/.mkv/.webm) or image-sequence pattern (out/frame.%05d.png).")
@click.option("--box", help="Prompt: X0,Y0,X1,Y1 box around the object (pixels, exclusive end).")
@click.option("--point", "points", multiple=True, help="Prompt: X,Y on the object (repeatable).")
@click.option("--bg-point", "bg_points", multiple=True, help="Prompt: X,Y on the background, not the object (repeatable).")
@click.option("--mask", "mask_path", type=click.Path(path_type=str), help="Prompt: PNG of the object on the prompt frame (white = object).")
@click.option("--prompt-frame", type=int, default=0, show_default=True, help="Frame the prompt is drawn on.")
@click.option("--prompt-file", type=click.Path(path_type=str), help="Prompt as JSON (frame, box, point(s), mask), or a list of them on several frames (later prompts win from their frame on).")
@click.option("--preset", help="Look preset (see `glassvid presets`).")
@click.option("--config", "config_file", type=click.Path(path_type=str), help="YAML config (sections flow, masks, depth, plate, glass, temporal).")
@click.option("--set", "sets", multiple=True, help="Override one setting: section.key=value (repeatable), e.g. glass.ior=1.33.")
@click.option("--matte", type=click.Path(path_type=str), help="Folder of per-frame mattes you already have (skips segmentation).")
@click.option("--plate", type=click.Path(path_type=str), help="Clean plate you already have: one image, or a folder of per-frame images (skips background recovery).")
@click.option("--save-masks", type=click.Path(path_type=str), help="Also write the per-frame masks (0/255 PNG) to this folder.")
@click.option("--save-plate", type=click.Path(path_type=str), help="Also write the per-frame clean plates (PNG) to this folder, and their confidence (8-bit, 255 = seen in that frame, 0 = invented) to its confidence/ folder.")
@click.option("--work-dir", type=click.Path(path_type=str), help="Cache folder (default: $GLASSVID_CACHE or ~/.cache/glassvid).")
@click.option("--frames", "frame_range", help="Process only frames FIRST-LAST (inclusive, 0-based).")
@click.option("--fps", type=float, help="Frame rate of an image-sequence input (default 24).")
@click.option("--report", type=click.Path(path_type=str), help="Write the run's JSON report here.")
@click.option("--passes", "passes_dir", type=click.Path(path_type=str), help="Also write VFX passes into this new or empty folder: a multi-channel EXR per frame (see `glassvid export --help`).")
@click.option("--passes-format", "passes_formats", multiple=True, help="Format(s) for --passes: exr (default), png, tiff, prores (repeatable or comma-separated).")
@click.option("--pass", "pass_names", multiple=True, help="Passes for --passes (repeatable or comma-separated; default: all the format holds).")
@click.option("--start-frame", type=int, default=1001, show_default=True, help="File number of the first frame in --passes.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or info messages.")
@click.option("-v", "--verbose", is_flag=True, help="Debug messages.")
def convert(input: str, output: str, box: str | None, points: tuple[str, ...], bg_points: tuple[str, ...], mask_path: str | None, prompt_frame: int, prompt_file: str | None, preset: str | None, config_file: str | None, sets: tuple[str, ...], matte: str | None, plate: str | None, save_masks: str | None, save_plate: str | None, work_dir: str | None, frame_range: str | None, fps: float | None, report: str | None, passes_dir: str | None, passes_formats: tuple[str, ...], pass_names: tuple[str, ...], start_frame: int, quiet: bool, verbose: bool) -> None:
    """Convert INPUT (a video file, an image folder or pattern) so the prompted object becomes glass."""
    _setup_logging(quiet, verbose)
    import json

    if passes_dir:  # fail before the long run, not after it
        from glassvid.export.passes import check_passes_options, check_passes_output

        check_passes_options(_split(passes_formats), _split(pass_names), start_frame)
        check_passes_output(passes_dir)

    from glassvid.config import load_config
    from glassvid.pipeline import Pipeline
    from glassvid.prompts import Prompt, load_mask, load_prompt_file, parse_box, parse_point

    cfg = load_config(preset, config_file, sets)
    if prompt_file:
        prompt = load_prompt_file(prompt_file)
    else:
        prompt = Prompt(
            frame=prompt_frame,
            box=parse_box(box) if box else None,
            points=tuple(parse_point(p, 1) for p in points) + tuple(parse_point(p, 0) for p in bg_points),
            mask=load_mask(mask_path) if mask_path else None,
        )
    bars = _Bars(quiet)
    try:
        result = Pipeline(cfg, work_dir=work_dir, progress=bars).run(
            input,
            output,
            prompt=None if isinstance(prompt, Prompt) and prompt.is_empty() and matte else prompt,
            matte=matte,
            plate=plate,
            frames=_parse_frames(frame_range),
            save_masks=save_masks,
            save_plate=save_plate,
            fps=fps,
        )
    finally:
        bars.close()
    if report:
        with open(report, "w") as fh:
            json.dump(result.to_dict(), fh, indent=1, default=str)
    log = logging.getLogger("glassvid")
    for name, p in result.passes.items():
        speed = f", {p.fps:.1f} frames/s" if p.status != "reused" and p.frames else ""
        log.info("%s: %s%s", name, p.status, speed)
    for w in result.warnings:
        log.warning("warning: %s", w)
    log.info("wrote %s (%d frames, %dx%d, %.3g fps)", output, result.frame_count, result.width, result.height, result.fps)
    log.info("the run is cached in %s (export from it with `glassvid export` / `glassvid export-ar`)", result.work_dir)
    if passes_dir:
        from glassvid.export import export_passes, open_run

        bars = _Bars(quiet)
        try:
            done = export_passes(open_run(result.work_dir), passes_dir, formats=_split(passes_formats), passes=_split(pass_names), start_frame=start_frame, progress=bars)
        finally:
            bars.close()
        log.info("wrote %d files of passes to %s (frames %d-%d)", done.files, passes_dir, done.frames[0], done.frames[-1])


def _split(values: tuple[str, ...]) -> list[str]:
    """Repeatable options that also take comma-separated lists: ('a,b', 'c') -> ['a', 'b', 'c']."""
    return [v.strip() for text in values for v in text.split(",") if v.strip()]


@main.command("export")
@click.argument("run", type=click.Path(path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(path_type=str), help="New or empty folder for the files.")
@click.option("--format", "formats", multiple=True, help="exr (default), png, tiff, prores (repeatable or comma-separated).")
@click.option("--pass", "pass_names", multiple=True, help="beauty, alpha, glass, plate, depth, normals, stmap, offset, motion (repeatable or comma-separated; default: all the format holds).")
@click.option("--start-frame", type=int, default=1001, show_default=True, help="File number of the run's first frame.")
@click.option("--frames", "frame_range", help="Only source frames FIRST-LAST (inclusive, 0-based, as `convert --frames`).")
@click.option("--name", default="shot", show_default=True, help="File name prefix: NAME.####.exr, NAME.PASS.####.png, NAME.mov.")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it is not empty.")
@click.option("--preset", help="Re-render with this look preset (glass/temporal settings only).")
@click.option("--config", "config_file", type=click.Path(path_type=str), help="Re-render with this YAML config (glass/temporal settings only).")
@click.option("--set", "sets", multiple=True, help="Re-render with glass.key=value or temporal.key=value (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or info messages.")
def export_command(run: str, output: str, formats: tuple[str, ...], pass_names: tuple[str, ...], start_frame: int, frame_range: str | None, name: str, overwrite: bool, preset: str | None, config_file: str | None, sets: tuple[str, ...], quiet: bool) -> None:
    """VFX deliverables from a finished RUN: per-frame multi-channel EXR (beauty, alpha, glass,
    plate, depth, normals, STMap, offsets, motion vectors), PNG/16-bit TIFF sequences,
    ProRes 4444 with alpha. RUN is the run's work directory (printed by `glassvid
    convert`; holds report.json) or a copy of its report."""
    _setup_logging(quiet, False)
    from glassvid.export import export_passes, open_run

    bars = _Bars(quiet)
    try:
        done = export_passes(
            open_run(run, preset=preset, config_file=config_file, sets=sets), output,
            formats=_split(formats), passes=_split(pass_names), start_frame=start_frame,
            frames=_parse_frames(frame_range), name=name, overwrite=overwrite, progress=bars,
        )
    finally:
        bars.close()
    logging.getLogger("glassvid").info("wrote %d files to %s: frames %d-%d (source %d-%d), %s", done.files, output, done.frames[0], done.frames[-1], done.source_frames[0], done.source_frames[-1], ", ".join(done.formats))


@main.command("export-ar")
@click.argument("run", type=click.Path(path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(path_type=str), help="New or empty folder for the pack.")
@click.option("--frames", "frame_range", help="Only source frames FIRST-LAST (inclusive, 0-based).")
@click.option("--max-size", type=int, default=1024, show_default=True, help="Largest texture side, pixels (layers and sprite sheets).")
@click.option("--max-frames", type=int, default=199, show_default=True, help="Most frames; a longer clip is sampled every k-th frame.")
@click.option("--max-image-kb", type=int, default=1000, show_default=True, help="Aim for image files (sprite sheets) under this size.")
@click.option("--background", type=click.Path(path_type=str), help="Image the preview shows by default (default: the clean plate).")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it is not empty.")
@click.option("--preset", help="Re-render with this look preset (glass/temporal settings only).")
@click.option("--set", "sets", multiple=True, help="Re-render with glass.key=value (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or info messages.")
def export_ar_command(run: str, output: str, frame_range: str | None, max_size: int, max_frames: int, max_image_kb: int, background: str | None, overwrite: bool, preset: str | None, sets: tuple[str, ...], quiet: bool) -> None:
    """An AR asset pack from a finished RUN: the glass layer (premultiplied RGBA: WebM VP9 with
    alpha, PNG sequence, sprite sheets), refraction offset and normal maps, manifest.json,
    and preview/index.html, which plays it over a background with a WebGL shader.
    RUN is the run's work directory (printed by `glassvid convert`)."""
    _setup_logging(quiet, False)
    from glassvid.export import export_ar, open_run

    bars = _Bars(quiet)
    try:
        done = export_ar(
            open_run(run, preset=preset, sets=sets), output, frames=_parse_frames(frame_range), max_size=max_size,
            max_frames=max_frames, max_image_bytes=max_image_kb * 1000, background=background, overwrite=overwrite, progress=bars,
        )
    finally:
        bars.close()
    log = logging.getLogger("glassvid")
    for w in done.warnings:
        log.warning("warning: %s", w)
    log.info("wrote %s: %d frames at %.3g fps, layer %dx%d, %d sprite sheet(s) per layer; open %s/preview/index.html", output, done.frames, done.fps, done.size[0], done.size[1], done.sheets, output)


@main.command("eval")
@click.argument("result", required=False, type=click.Path(path_type=str))
@click.option("--gt", "gt", required=True, type=click.Path(path_type=str), help="Ground-truth folder (input/, glass/, plate/, mask/ or frames/, masks/).")
@click.option("--masks", type=click.Path(path_type=str), help="Folder of the result's per-frame masks (scores J and F).")
@click.option("--plate", type=click.Path(path_type=str), help="Folder of the result's per-frame plates (scores background recovery).")
@click.option("--prompt-frame", type=int, default=0, show_default=True, help="Frame the masks were prompted on (not scored).")
@click.option("--no-baselines", is_flag=True, help="Skip the baselines (input, inpainting, 50 % blend, true plate).")
@click.option("--json", "json_out", type=click.Path(path_type=str), help="Write every figure, per frame too, as JSON.")
def eval_command(result: str | None, gt: str, masks: str | None, plate: str | None, prompt_frame: int, no_baselines: bool, json_out: str | None) -> None:
    """Measure RESULT (a video or image sequence) against ground truth and baselines."""
    import json

    from glassvid.evaluate import evaluate, format_report

    report = evaluate(result, gt, masks=masks, plate=plate, prompt_frame=prompt_frame, baselines=not no_baselines)
    click.echo(format_report(report))
    if json_out:
        with open(json_out, "w") as fh:
            json.dump(report.to_dict(), fh, indent=1)


@main.command()
def presets() -> None:
    """List the look presets, one line each."""
    from glassvid.config import list_presets

    items = list_presets()
    width = max((len(k) for k in items), default=0)
    for name, desc in items.items():
        click.echo(f"{name:<{width}}  {desc}")


@main.command("config")
def show_config() -> None:
    """Every setting with its default, unit/range and meaning (the keys --set takes)."""
    from glassvid.config import describe_fields

    for key, default, rule, help_text in describe_fields():
        click.echo(f"{key} = {default}  [{rule}]\n    {help_text}")


if __name__ == "__main__":  # pragma: no cover
    main()
