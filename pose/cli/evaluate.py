"""``pose test``, ``pose test-det`` and ``pose eval``: score checkpoints and result files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pose.cli.common import console, print_pairs


def test_det(
    config: Path = typer.Argument(..., help="Params YAML the detector was trained with."),
    checkpoint: Path = typer.Argument(..., help="Detector checkpoint."),
    out: Optional[Path] = typer.Option(None, help="Write metrics JSON here (bbox results beside it)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
) -> None:
    """Score a detector: COCO bbox mAP, mAP50, mAP75, AR (pycocotools)."""
    from pose.detection.train import score_from_config

    metrics = score_from_config(config, checkpoint, out=out, device=device)
    print_pairs(f"detector {checkpoint}", ("metric", "value"),
                [(k, f"{v:.4f}" if isinstance(v, float) else str(v)) for k, v in metrics.items() if isinstance(v, (int, float))])


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
