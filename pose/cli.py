"""The ``pose`` command line. Heavy libraries are imported inside commands so ``--help`` is instant.

User mistakes (``PoseError``) print one line naming the file and entry, plus a hint, and exit 2;
``--debug`` shows the traceback instead. The library logs through ``logging`` (loggers under
``pose``); the CLI alone installs a handler for them (``--quiet`` / ``--verbose``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from pose.errors import PoseError, missing_extra
from pose.pipeline.options import Track

err_console = Console(stderr=True, highlight=False)
console = Console(highlight=False)

# --------------------------------------------------------------------------- logging
#: The verbosity a ``pose`` process passes on to the ``pose`` processes it starts (DVC stages).
LOG_LEVEL_ENV = "POSE_LOG_LEVEL"
LOG_LEVELS = {"quiet": logging.WARNING, "info": logging.INFO, "verbose": logging.DEBUG}


class _LogPrefix(logging.Formatter):
    """The message, with ``warning:`` / ``error:`` before records above INFO (as the CLI's own errors)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno <= logging.INFO else f"{record.levelname.lower()}: {text}"


def _log_handler() -> logging.Handler:
    """A rich handler on ``err_console`` (log lines and progress bars share one live display) that
    prints each record as its message alone: no time/level/path columns, no padding."""
    from rich.highlighter import NullHighlighter
    from rich.logging import RichHandler

    class Handler(RichHandler):
        def render(self, *, record: logging.LogRecord, traceback: Any, message_renderable: Any) -> Any:
            return message_renderable

    handler = Handler(console=err_console, markup=False, highlighter=NullHighlighter(), show_path=False)
    handler.setFormatter(_LogPrefix())
    handler.set_name("pose-cli")
    return handler


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Route the ``pose`` loggers to stderr: INFO, WARNING with ``quiet``, DEBUG with ``verbose``;
    neither: what a parent ``pose`` process asked for (``POSE_LOG_LEVEL``), else INFO. A flag is
    passed on to the processes this one starts (``pose pipeline run`` -> DVC -> stage commands)."""
    inherited = os.environ.get(LOG_LEVEL_ENV, "info")
    level = "quiet" if quiet else "verbose" if verbose else inherited if inherited in LOG_LEVELS else "info"
    logger = logging.getLogger("pose")
    for old in [h for h in logger.handlers if h.get_name() == "pose-cli"]:
        logger.removeHandler(old)
    logger.addHandler(_log_handler())
    logger.setLevel(LOG_LEVELS[level])
    if quiet or verbose:
        os.environ[LOG_LEVEL_ENV] = level

app = typer.Typer(
    help="posepipe: train, evaluate and publish 2D pose models from labelled images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Options shared by `pose train` and `pose train-det`.
Resume = Annotated[Optional[str], typer.Option(help="'auto' (latest.pth in --work-dir), 'if-same' (latest.pth only if trained with the same params and data) or a checkpoint path.")]
LoadFrom = Annotated[Optional[Path], typer.Option(help="Start from these weights: a posepipe, MMPose 1.x, torchvision or timm file (key map + load report; a head for another keypoint count is skipped with a warning).")]
NoValidate = Annotated[bool, typer.Option("--no-validate", help="Skip validation during training.")]
Seed = Annotated[Optional[int], typer.Option(help="Overrides train.seed.")]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="Deterministic algorithms (exact resume).")]
Overrides = Annotated[list[str], typer.Option("--set", help="Override a param: --set train.epochs=5 (repeatable).")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda[:N]; cuda without a GPU is an error.")]
Launcher = Annotated[str, typer.Option(help="none or torchrun (DDP; run under torchrun).")]
AutoscaleLr = Annotated[bool, typer.Option("--autoscale-lr", help="Scale lr by total batch / train.base_batch_size.")]

data_app = typer.Typer(help="Datasets: generate, convert, validate, inspect.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Warnings and errors only: no progress or per-epoch lines."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug messages too (e.g. every DVC command run)."),
) -> None:
    """posepipe: labelled images in, a tracked, published, scheduled pose model out."""
    from pose.errors import ConfigError

    if quiet and verbose:
        raise ConfigError("give --quiet or --verbose, not both", entry="--quiet/--verbose")
    setup_logging(quiet, verbose)


@app.command()
def version() -> None:
    """Print the posepipe version."""
    from pose import __version__

    console.print(__version__)


# --------------------------------------------------------------------------- data
@data_app.command("synth")
def data_synth(
    out: Path = typer.Argument(..., help="Dataset folder to write (replaced atomically)."),
    kind: str = typer.Option("human", help="human (COCO 17 keypoints) or quadruped (AP-10K 17)."),
    images: int = typer.Option(400, help="Number of images (train + val)."),
    seed: int = typer.Option(0, help="Same seed and version -> byte-identical files."),
    size: int = typer.Option(320, help="Long image side in pixels."),
    val_fraction: float = typer.Option(0.2, help="Fraction of images in the val split."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Generate the embedded synthetic dataset (deterministic, nothing downloaded)."""
    from pose.data.synth import generate

    s = generate(out, kind=kind, images=images, seed=seed, size=size, val_fraction=val_fraction, progress=not no_progress)
    console.print(f"wrote {out}: {s['images']['train']} train / {s['images']['val']} val images, "
                  f"{s['instances']['train'] + s['instances']['val']} instances in {s['seconds']:.1f} s")


@data_app.command("convert")
def data_convert(
    src: Path = typer.Argument(..., help="Source: a file or folder in the --from format."),
    out: Path = typer.Argument(..., help="Output dataset folder (written atomically)."),
    from_: str = typer.Option(..., "--from", help="yolo | dlc | sleap | lightning-pose | labelme | coco (with --to yolo)."),
    to: str = typer.Option("coco", "--to", help="coco (a dataset folder) or yolo (from a coco dataset folder)."),
    split: str = typer.Option("train", help="Split name of the written annotations (YOLO keeps its own split names)."),
    overwrite: bool = typer.Option(False, help="Replace a non-empty output folder."),
) -> None:
    """Convert a labelling tool's format to a dataset folder (COCO keypoints + images + meta)."""
    from pose.data.convert import REPORT, run_convert

    report = run_convert(from_, src, out, to=to, split=split, overwrite=overwrite)
    report.print(err_console)
    console.print(f"wrote {out} (report: {out / REPORT})")


@data_app.command("validate")
def data_validate(
    dataset: Path = typer.Argument(..., help="Dataset folder, or a COCO JSON with --images."),
    split: str = typer.Option("train", help="Split of a dataset folder."),
    images: Optional[Path] = typer.Option(None, help="Image root (default: DATASET/images, or the JSON's folder)."),
    meta: Optional[str] = typer.Option(None, help="Preset name or meta YAML (default: DATASET/meta.yaml, else drafted)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the JSON report here (and a flip-check PNG beside it)."),
    decode: bool = typer.Option(False, "--decode", help="Decode every image fully (slower; catches corrupt pixel data)."),
    no_images: bool = typer.Option(False, "--no-images", help="Skip image files (annotations only)."),
) -> None:
    """Check a dataset and report ALL problems at once. Exit 0: clean or warnings; 1: errors."""
    from pose.data.validate import validate_source

    report = validate_source(dataset, split=split, images=images, meta=meta, check_images=not no_images, decode=decode)
    report.print(console)
    if json_out is not None:
        png = report.save(json_out)
        console.print(f"report: {json_out}" + (f"  flip check: {png}" if png else ""))
    raise typer.Exit(report.exit_code)


@data_app.command("show")
def data_show(
    dataset: Path = typer.Argument(..., help="Dataset folder or COCO JSON."),
    out: Path = typer.Option(Path("grid.png"), "--out", "-o", help="PNG/JPEG grid to write."),
    num: int = typer.Option(16, "--num", "-n", min=1, help="Instances to draw."),
    split: str = typer.Option("train", help="Split of a dataset folder."),
    images: Optional[Path] = typer.Option(None, help="Image root for a loose COCO file."),
    meta: Optional[str] = typer.Option(None, help="Preset name or meta YAML."),
    augment: bool = typer.Option(True, "--augment/--no-augment", help="Pair each crop with an augmented, flipped one."),
    seed: int = typer.Option(0, help="Sample and augmentation seed."),
    input_size: tuple[int, int] = typer.Option((192, 256), help="Crop size W H."),
) -> None:
    """Draw skeletons over sample crops (plain | augmented+flipped) to eyeball labels and flips."""
    from pose.data.layout import load_dataset
    from pose.data.preview import GridOptions, show_grid

    data, m = load_dataset(dataset, split=split, images=images, meta=meta)
    console.print(f"wrote {show_grid(data, m, out, GridOptions(num=num, seed=seed, input_size=input_size, augment=augment))}")


@data_app.command("meta-from-coco")
def data_meta_from_coco(
    annotations: Path = typer.Argument(..., help="COCO keypoints JSON."),
    out: Path = typer.Option(Path("meta.yaml"), "--out", "-o", help="Meta YAML to write."),
    name: Optional[str] = typer.Option(None, help="Dataset name (default: the category name)."),
    category_id: Optional[int] = typer.Option(None, help="Category to use (default: the first with keypoints)."),
    sigmas: Optional[str] = typer.Option(None, help="OKS sigmas: comma-separated numbers, or a preset name to copy from."),
) -> None:
    """Draft a dataset meta (names, skeleton, left/right swap partners) from a COCO file."""
    from pose.data.coco import read_json
    from pose.data.meta import PRESETS, load_meta, meta_from_coco_category
    from pose.errors import ConfigError, DataError

    d = read_json(annotations)
    cats = [c for c in (d.get("categories") or []) if isinstance(c, dict)] if isinstance(d, dict) else []
    if category_id is not None:
        cats = [c for c in cats if c.get("id") == category_id]
    cats = [c for c in cats if c.get("keypoints")]
    if not cats:
        raise DataError("no category with keypoint names", file=annotations, entry="categories" if category_id is None else f"categories[id={category_id}]")
    sig: list[float] | None = None
    if sigmas:
        if sigmas in PRESETS:
            s = load_meta(sigmas).sigmas
            sig = None if s is None else s.tolist()
        else:
            try:
                sig = [float(v) for v in sigmas.split(",")]
            except ValueError:
                raise ConfigError(f"not a list of numbers: '{sigmas}'", entry="--sigmas", hint=f"e.g. 0.05,0.05 or a preset: {', '.join(PRESETS)}") from None
    meta = meta_from_coco_category(cats[0], name=name, sigmas=sig, source=str(annotations))
    meta.save(out)
    pairs = ", ".join(f"{meta.keypoint_names[a]}<->{meta.keypoint_names[b]}" for a, b in meta.flip_pairs)
    console.print(f"wrote {out}: {meta.num_keypoints} keypoints, flip pairs: {pairs or 'none'}")
    if meta.sigmas is None:
        err_console.print("[yellow]warning:[/] no OKS sigmas: evaluation will fall back to a default with a warning; add `sigmas:` or pass --sigmas.")


@data_app.command("info")
def data_info(
    dataset: Path = typer.Argument(..., help="Dataset folder or COCO JSON."),
    split: str = typer.Option("train", help="Split of a dataset folder."),
    images: Optional[Path] = typer.Option(None, help="Image root for a loose COCO file."),
    meta: Optional[str] = typer.Option(None, help="Preset name or meta YAML."),
) -> None:
    """Summarise a dataset split: images, instances, keypoint visibility."""
    from rich.table import Table

    from pose.data.layout import load_dataset

    data, m = load_dataset(dataset, split=split, images=images, meta=meta)
    vis = data.visibility
    t = Table(title=f"{dataset} [{split}] meta={m.name}")
    t.add_column("what")
    t.add_column("value", justify="right")
    per_image = len(data) / max(1, len(data.image_ids))
    for k, v in [
        ("images", len(data.image_ids)),
        ("instances", len(data)),
        ("instances per image", f"{per_image:.2f}"),
        ("crowd instances", int(data.iscrowd.sum())),
        ("keypoints per instance", data.num_keypoints),
        ("visible (v=2)", f"{(vis == 2).mean():.1%}" if vis.size else "-"),
        ("occluded (v=1)", f"{(vis == 1).mean():.1%}" if vis.size else "-"),
        ("unlabelled (v=0)", f"{(vis == 0).mean():.1%}" if vis.size else "-"),
    ]:
        t.add_row(k, str(v))
    for k, v in sorted(data.filled.items()):
        t.add_row(f"filled on load: {k}", str(v), style="yellow")
    console.print(t)


# --------------------------------------------------------------------------- training
@app.command("train")
def train(
    config: Path = typer.Argument(..., help="Params YAML (see params/pose.yaml)."),
    work_dir: Path = typer.Option(Path("build/pose"), "--work-dir", help="Checkpoints and logs."),
    resume: Resume = None,
    load_from: LoadFrom = None,
    no_validate: NoValidate = False,
    seed: Seed = None,
    deterministic: Deterministic = False,
    set_: Overrides = [],
    launcher: Launcher = "none",
    autoscale_lr: AutoscaleLr = False,
    device: Device = "auto",
    track: Track = False,
) -> None:
    """Train a top-down pose model."""
    from pose.params import PoseParams, load_run_params
    from pose.recipes.topdown import train_pose
    from pose.tracking import callbacks, tracked

    params = load_run_params(config, PoseParams, list(set_), seed=seed, deterministic=deterministic, autoscale_lr=autoscale_lr)

    with _blame(config), tracked("train_pose", track, with_system_metrics=True) as run:
        summary = train_pose(params, work_dir, resume=resume, load_from=str(load_from) if load_from else None, device=device,
                             validate=not no_validate, launcher=launcher, callbacks=callbacks(run), console=err_console)
    best = summary.get("best")
    if not summary["is_main"]:
        return
    console.print(f"done in {summary['train_seconds']:.0f} s; best AP {best:.4f}" if best is not None else f"done in {summary['train_seconds']:.0f} s")


@contextlib.contextmanager
def _blame(config: Path) -> Iterator[None]:
    """A params value refused only once the model or data is built (an unknown preset, an input
    size the model cannot take) names the params file, as load-time errors do."""
    from pose.errors import ConfigError

    try:
        yield
    except ConfigError as e:
        if e.file is None and e.entry and not e.entry.startswith("-"):
            e.file = str(config)
        raise


@app.command("train-det")
def train_det(
    config: Path = typer.Argument(..., help="Params YAML (see params/detector.yaml)."),
    work_dir: Path = typer.Option(Path("build/detector"), "--work-dir", help="Checkpoints and logs."),
    resume: Resume = None,
    load_from: LoadFrom = None,
    no_validate: NoValidate = False,
    seed: Seed = None,
    deterministic: Deterministic = False,
    set_: Overrides = [],
    launcher: Launcher = "none",
    autoscale_lr: AutoscaleLr = False,
    device: Device = "auto",
    track: Track = False,
) -> None:
    """Train a person/animal detector (torchvision, from scratch) on the dataset's boxes."""
    from pose.detection.train import train_from_config
    from pose.tracking import callbacks, tracked

    with _blame(config), tracked("train_detector", track, with_system_metrics=True) as run:
        summary = train_from_config(config, work_dir, resume=resume, load_from=str(load_from) if load_from else None, validate=not no_validate,
                                    seed=seed, deterministic=deterministic, overrides=list(set_), device=device, callbacks=callbacks(run),
                                    console=err_console, launcher=launcher, autoscale_lr=autoscale_lr)
    best = summary.get("best")
    if not summary["is_main"]:
        return
    console.print(f"done in {summary['train_seconds']:.0f} s" + (f"; best bbox mAP {best:.4f}" if best is not None else ""))


@app.command("test-det")
def test_det(
    config: Path = typer.Argument(..., help="Params YAML the detector was trained with."),
    checkpoint: Path = typer.Argument(..., help="Detector checkpoint."),
    out: Optional[Path] = typer.Option(None, help="Write metrics JSON here (bbox results beside it)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Score a detector: COCO bbox mAP, mAP50, mAP75, AR (pycocotools)."""
    from rich.table import Table

    from pose.detection.train import score_from_config

    metrics = score_from_config(config, checkpoint, out=out, device=device)
    t = Table(title=f"detector {checkpoint}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in metrics.items():
        if isinstance(v, (int, float)):
            t.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(t)


@app.command("test")
def test(
    checkpoint: Path = typer.Argument(..., help="Training checkpoint (best.pth / latest.pth)."),
    dataset: Optional[str] = typer.Option(None, help="Dataset folder (default: the one it was trained on)."),
    split: Optional[str] = typer.Option(None, help="Split (default: the training val split)."),
    det_results: Optional[Path] = typer.Option(None, help="COCO detection results to crop from instead of GT boxes."),
    flip: bool = typer.Option(True, "--flip/--no-flip", help="Flip test."),
    out: Optional[Path] = typer.Option(None, help="Write metrics JSON here (results beside it)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Score a pose checkpoint with COCO AP (pycocotools) and PCK/AUC/EPE."""
    from pose.evaluation.coco import print_metrics
    from pose.fileio import write_json
    from pose.recipes.topdown import score_checkpoint

    metrics = score_checkpoint(checkpoint, dataset=dataset, split=split, det_results=det_results, flip=flip, device=device,
                        out_dir=out.parent if out else None)
    print_metrics(metrics, console)
    if out is not None:
        write_json(out, metrics, indent=2)
        console.print(f"wrote {out}")


# --------------------------------------------------------------------------- inference
@app.command("infer")
def infer(
    src: str = typer.Argument(..., help="Image, folder of images, video file, or webcam index (e.g. 0)."),
    pose_model: Path = typer.Option(..., "--pose-model", help="Training checkpoint, published .pth or .onnx."),
    det_model: Optional[Path] = typer.Option(None, "--det-model", help="Detector checkpoint (or use --full-frame)."),
    full_frame: bool = typer.Option(False, "--full-frame", help="No detector: the whole frame is one box."),
    bbox_thr: float = typer.Option(0.3, help="Detector score threshold."),
    kpt_thr: float = typer.Option(0.3, help="Keypoints below this score are not drawn."),
    nms_thr: float = typer.Option(0.3, help="Box NMS IoU threshold."),
    radius: int = typer.Option(3, help="Keypoint radius."),
    thickness: int = typer.Option(2, help="Skeleton line thickness."),
    draw_bbox: bool = typer.Option(False, "--draw-bbox", help="Draw boxes."),
    draw_heatmap: bool = typer.Option(False, "--draw-heatmap", help="Blend the max heatmap over the frame."),
    show_kpt_idx: bool = typer.Option(False, "--show-kpt-idx", help="Write keypoint indices."),
    show: bool = typer.Option(False, "--show", help="Show a window (needs a display)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output image, folder or video (.mp4/.avi/...)."),
    save_json: Optional[Path] = typer.Option(None, "--save-json", help="Write COCO-style results per frame."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, min=1, help="Frames per batch."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for torch (default: torch's choice)."),
    save_dlc: Optional[Path] = typer.Option(None, "--save-dlc", help="Folder for DeepLabCut <video>DLC_<model>.h5 + .csv."),
    save_slp: Optional[Path] = typer.Option(None, "--save-slp", help="SLEAP predictions .slp file."),
    save_nwb: Optional[Path] = typer.Option(None, "--save-nwb", help="NWB file (ndx-pose)."),
    track_ids: bool = typer.Option(False, "--track-ids", help="Identities across video frames (track ids in every output)."),
    track_thr: float = typer.Option(0.3, "--track-thr", help="Least OKS (or box IoU) of a track match."),
    max_tracks: Optional[int] = typer.Option(None, "--max-tracks", help="Known number of animals (1: single-animal outputs)."),
    smooth: bool = typer.Option(False, "--smooth", help="One Euro smoothing per track (turns --track-ids on)."),
    smooth_min_cutoff: float = typer.Option(1.0, "--smooth-min-cutoff", help="Hz; lower is smoother at rest."),
    smooth_beta: float = typer.Option(0.05, "--smooth-beta", help="Cutoff gain per px/s; higher lags less."),
) -> None:
    """Detect and estimate poses on images, folders, videos or a webcam; draw, save JSON and lab files."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from pose.inference.analysis import AnalysisOptions
    from pose.inference.infer import InferOptions, run_infer
    from pose.inference.visualize import DrawOptions

    draw = DrawOptions(kpt_thr=kpt_thr, radius=radius, thickness=thickness, draw_bbox=draw_bbox, draw_heatmap=draw_heatmap,
                       show_kpt_idx=show_kpt_idx)
    options = InferOptions(pose_model, det_model=det_model, full_frame=full_frame, bbox_thr=bbox_thr, nms_thr=nms_thr, draw=draw,
                           show=show, out=out, save_json=save_json, device=device, batch_size=batch_size,
                           analysis=AnalysisOptions(track_ids, track_thr, max_tracks, smooth, smooth_min_cutoff, smooth_beta,
                                                    save_dlc, save_slp, save_nwb))
    run_infer(src, options, console=err_console)


# --------------------------------------------------------------------------- publishing
@app.command("publish")
def publish(
    checkpoint: Path = typer.Argument(..., help="Training checkpoint (best.pth)."),
    out: Path = typer.Option(Path("build/publish"), "--out", help="Folder for <name>-<sha8>.pth/.onnx/.md."),
    name: Optional[str] = typer.Option(None, help="Model name (default: <dataset>-<preset>)."),
    register: bool = typer.Option(False, "--register", help="Register in MLflow and run the champion gate."),
    onnx: bool = typer.Option(True, "--onnx/--no-onnx", help="Also export ONNX with a parity check."),
    min_gain: float = typer.Option(0.0, help="AP the challenger must gain over the champion to be promoted."),
    dataset: Optional[str] = typer.Option(None, help="Val dataset for the gate (default: the training one)."),
    split: Optional[str] = typer.Option(None, help="Val split for the gate."),
) -> None:
    """Strip a checkpoint to weights + meta, name it by sha256, export ONNX, optionally register."""
    import json

    from pose.publish.command import publish_command

    result = publish_command(checkpoint, out, name=name, register=register, onnx=onnx, min_gain=min_gain, dataset=dataset, split=split)
    console.print_json(json.dumps(result, default=str))


@app.command("export")
def export(
    source: Path = typer.Argument(..., help="Training checkpoint or published .pth."),
    out: Path = typer.Option(..., "--out", help="ONNX file to write."),
    check: bool = typer.Option(True, "--check/--no-check", help="onnxruntime parity check (max diff < 1e-3, keypoints < 0.5 px)."),
    opset: int = typer.Option(17, min=17, help="ONNX opset."),
    input_dtype: str = typer.Option("uint8", help="uint8 or float32 input (0-255 RGB NCHW)."),
) -> None:
    """Export a pose model to ONNX (dynamic batch, raw head outputs)."""
    import json

    from pose.publish.command import export_command

    result = export_command(source, out, check=check, opset=opset, input_dtype=input_dtype)  # type: ignore[arg-type]
    console.print_json(json.dumps(result, default=str))


@app.command("registry")
def registry(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List registered models: versions, aliases (champion/challenger), metrics, lineage tags."""
    from pose.publish.registry import registry_command

    text = registry_command(as_json=as_json)
    if as_json:
        typer.echo(text)  # plain: rich would read [..] in values as markup
    else:
        console.print(text, soft_wrap=True, markup=False)


# --------------------------------------------------------------------------- models
@app.command("models")
def models(
    pattern: str = typer.Argument("*", help="Wildcard over preset names, e.g. 'rtmpose-*'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    num_keypoints: int = typer.Option(17, help="Keypoints for the size count."),
) -> None:
    """List model presets with parameters and GFLOPs (multiply-accumulates, as MMPose reports)."""
    import json

    from rich.table import Table

    from pose.models import list_models, model_summary
    from pose.models.presets import PRESETS

    rows = []
    for name in list_models(pattern):
        s = model_summary(name, num_keypoints=num_keypoints)
        p = PRESETS[name]
        rows.append({**s, "codec": p.codec, "head": p.head})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    t = Table(title="model presets")
    for col in ("preset", "input (w, h)", "params (M)", "GFLOPs", "codec", "head", "pretrained"):
        t.add_column(col, no_wrap=True)
    for r in rows:
        t.add_row(r["preset"], str(tuple(r["input_size"])), f"{r['params'] / 1e6:.2f}", f"{r['gflops']:.2f}", str(r["codec"]), str(r["head"]),
                  r["pretrained"] or "-")
    console.print(t)


# --------------------------------------------------------------------------- evaluation
@app.command("eval")
def eval_(
    gt: Path = typer.Option(..., "--gt", help="Ground truth: a COCO JSON or a dataset folder."),
    pred: Path = typer.Option(..., "--pred", help="COCO keypoint results JSON (a list of detections)."),
    images: Optional[Path] = typer.Option(None, help="Image root for a loose COCO file (not read; for PCK boxes only)."),
    meta: Optional[str] = typer.Option(None, help="Preset name or meta YAML (its OKS sigmas are used)."),
    out: Optional[Path] = typer.Option(None, help="Write metrics JSON here (scored results beside it)."),
    split: str = typer.Option("val", help="Split when --gt is a dataset folder."),
) -> None:
    """COCO keypoint AP/AR (pycocotools, dataset sigmas) plus PCK, AUC, EPE for GT-box results."""
    from pose.evaluation import evaluate_files

    evaluate_files(gt, pred, images=images, meta=meta, out=out, split=split, console=console)


# --------------------------------------------------------------------------- benchmarks
@app.command("bench")
def bench(
    names: list[str] = typer.Argument(None, help="Benchmarks to run (default: all), e.g. codecs train_step."),
    list_only: bool = typer.Option(False, "--list", help="List the benchmarks and exit."),
) -> None:
    """Run benchmarks/bench_<name>.py from the project root: tables on screen, JSON in benchmarks/results/."""
    import subprocess

    from pose.errors import ConfigError

    root = Path.cwd()
    found = {p.stem.removeprefix("bench_"): p for p in sorted((root / "benchmarks").glob("bench_*.py"))}
    if not found:
        raise ConfigError("no benchmarks/ folder here", file=root / "benchmarks", hint="run from the project root")
    if list_only:
        console.print("\n".join(found))
        return
    for name in names or list(found):
        if name not in found:
            raise ConfigError(f"unknown benchmark '{name}'", entry="NAMES", hint=f"one of: {', '.join(found)}")
        console.rule(name)
        rc = subprocess.run([sys.executable, str(found[name])], cwd=root).returncode
        if rc:
            raise typer.Exit(rc)


# --------------------------------------------------------------------------- pipeline
from pose.pipeline.commands import pipeline_app  # noqa: E402  (after the other commands: `pose pipeline ...`)

app.add_typer(pipeline_app, name="pipeline")


# --------------------------------------------------------------------------- entry point
def _fail(e: PoseError) -> None:
    err_console.print(f"[bold red]error:[/] {escape(str(e))}", soft_wrap=True)
    if e.hint:
        err_console.print(f"[dim]hint:[/] {escape(e.hint)}", soft_wrap=True)
    sys.exit(2)


def main() -> None:
    """Console-script entry: one-line errors (exit 2) unless ``--debug``. The global flags
    (``--debug``, ``--quiet``, ``--verbose``) work anywhere on the line."""
    argv = sys.argv[1:]
    flags = [f for f in ("--quiet", "--verbose") if f in argv]
    debug = "--debug" in argv or os.environ.get("POSE_DEBUG") == "1"
    args = [a for a in argv if a not in ("--debug", "--quiet", "--verbose")]
    try:
        app(args=(["--debug"] if debug else []) + flags + args, prog_name="pose")
    except PoseError as e:
        if debug:
            raise
        _fail(e)
    except ModuleNotFoundError as e:  # dvc / mlflow / prefect without the pipeline extra
        missing = missing_extra(e)
        if missing is None or debug:
            raise
        _fail(missing)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
