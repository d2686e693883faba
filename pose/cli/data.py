"""``pose data ...``: generate, convert, validate, draw and summarise datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pose.cli.common import console, err_console, print_pairs

data_app = typer.Typer(help="Datasets: generate, convert, validate, inspect.", no_args_is_help=True)
# Options of the commands that read a dataset (`pose data show`, `pose data info`).
Dataset = Annotated[Path, typer.Argument(help="Dataset folder or COCO JSON.")]
Split = Annotated[str, typer.Option(help="Split of a dataset folder.")]
Images = Annotated[Optional[Path], typer.Option(help="Image root for a loose COCO file.")]
Meta = Annotated[Optional[str], typer.Option(help="Preset name or meta YAML.")]


@data_app.command("synth")
def synth(
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
def convert(
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
def validate(
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
def show(
    dataset: Dataset,
    out: Path = typer.Option(Path("grid.png"), "--out", "-o", help="PNG/JPEG grid to write."),
    num: int = typer.Option(16, "--num", "-n", min=1, help="Instances to draw."),
    split: Split = "train",
    images: Images = None,
    meta: Meta = None,
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
def meta_from_coco(
    annotations: Path = typer.Argument(..., help="COCO keypoints JSON."),
    out: Path = typer.Option(Path("meta.yaml"), "--out", "-o", help="Meta YAML to write."),
    name: Optional[str] = typer.Option(None, help="Dataset name (default: the category name)."),
    category_id: Optional[int] = typer.Option(None, help="Category to use (default: the first with keypoints)."),
    sigmas: Optional[str] = typer.Option(None, help="OKS sigmas: comma-separated numbers, or a preset name to copy from."),
) -> None:
    """Draft a dataset meta (names, skeleton, left/right swap partners) from a COCO file."""
    from pose.data.meta_coco import meta_from_coco_file

    meta = meta_from_coco_file(annotations, name=name, category_id=category_id, sigmas=sigmas)
    meta.save(out)
    pairs = ", ".join(f"{meta.keypoint_names[a]}<->{meta.keypoint_names[b]}" for a, b in meta.flip_pairs)
    console.print(f"wrote {out}: {meta.num_keypoints} keypoints, flip pairs: {pairs or 'none'}")
    if meta.sigmas is None:
        err_console.print("[yellow]warning:[/] no OKS sigmas: evaluation will fall back to a default with a warning; add `sigmas:` or pass --sigmas.")


@data_app.command("info")
def info(dataset: Dataset, split: Split = "train", images: Images = None, meta: Meta = None) -> None:
    """Summarise a dataset split: images, instances, keypoint visibility."""
    from pose.data.layout import load_dataset
    from pose.data.summary import filled_summary, split_summary

    data, m = load_dataset(dataset, split=split, images=images, meta=meta)
    print_pairs(f"{dataset} [{split}] meta={m.name}", ("what", "value"), split_summary(data), warnings=filled_summary(data))


@data_app.command("outliers")
def outliers(
    video: Path = typer.Argument(..., help="Video to scan."),
    model: Path = typer.Option(..., "--model", help="Pose model: training checkpoint, published .pth or .onnx."),
    out: Path = typer.Option(..., "--out", help="New (or empty) folder for the frames and draft labels."),
    num: int = typer.Option(20, "--num", "-n", help="Frames to pick."),
    fmt: str = typer.Option("dlc", "--format", help="dlc (labeled-data/<video>/ + CollectedData) or labelme (JSON per frame)."),
    det_model: Optional[Path] = typer.Option(None, "--det-model", help="Detector checkpoint (default: --follow, one animal)."),
    full_frame: bool = typer.Option(False, "--full-frame", help="No detector: the whole frame is the box (not --follow)."),
    scorer: str = typer.Option("posepipe", help="DLC scorer of CollectedData_<scorer> (use your config.yaml's 'scorer')."),
    min_gap: Optional[int] = typer.Option(None, "--min-gap", help="Least frames between picks (default: frames / (2 num))."),
    start: float = typer.Option(0.0, help="Fraction of the video where scanning starts."),
    stop: float = typer.Option(1.0, help="Fraction of the video where scanning stops."),
    jump_weight: float = typer.Option(1.0, "--jump-weight", help="Weight of jumps between frames (0: keypoint scores only)."),
    kpt_thr: float = typer.Option(0.0, "--kpt-thr", help="Draft points scored lower are left empty."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for torch (default: torch's choice)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar."),
) -> None:
    """Frames the model is least sure about (low keypoint scores, jumps), written as draft labels to correct."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from pose.inference.infer import InferOptions
    from pose.inference.outliers import DraftOptions, OutlierOptions, scan_video, write_outliers

    drafts = DraftOptions(out, fmt, scorer, kpt_thr, force)
    drafts.check()
    options = OutlierOptions(num, min_gap, start, stop, jump_weight)
    follow = det_model is None and not full_frame
    infer = InferOptions(model, det_model=det_model, full_frame=full_frame, follow=follow, device=device, progress=not no_progress)
    found = scan_video(video, infer, options, console=err_console)
    doc = write_outliers(found, drafts)
    picked = ", ".join(f"{p['frame']} ({p['score']:.2f})" for p in doc["picked"])  # type: ignore[union-attr]
    console.print(f"wrote {len(found.picked)} frames to {out} ({fmt}): {picked}")
