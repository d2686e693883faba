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
