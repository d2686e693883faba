"""``pose publish``, ``pose export`` and ``pose registry``: published files, ONNX and the MLflow registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from pose.cli.common import console


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
    from pose.publish.command import publish_command

    result = publish_command(checkpoint, out, name=name, register=register, onnx=onnx, min_gain=min_gain, dataset=dataset, split=split)
    console.print_json(json.dumps(result, default=str))


def export(
    source: Path = typer.Argument(..., help="Training checkpoint or published .pth."),
    out: Path = typer.Option(..., "--out", help="ONNX file to write."),
    check: bool = typer.Option(True, "--check/--no-check", help="onnxruntime parity check (max diff < 1e-3, keypoints < 0.5 px)."),
    opset: int = typer.Option(17, min=17, help="ONNX opset."),
    input_dtype: str = typer.Option("uint8", help="uint8 or float32 input (0-255 RGB NCHW)."),
) -> None:
    """Export a pose model to ONNX (dynamic batch, raw head outputs)."""
    from pose.publish.command import export_command

    result = export_command(source, out, check=check, opset=opset, input_dtype=input_dtype)  # type: ignore[arg-type]
    console.print_json(json.dumps(result, default=str))


def registry(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List registered models: versions, aliases (champion/challenger), metrics, lineage tags."""
    from pose.publish.registry import registry_command

    text = registry_command(as_json=as_json)
    if as_json:
        typer.echo(text)  # plain: rich would read [..] in values as markup
    else:
        console.print(text, soft_wrap=True, markup=False)
