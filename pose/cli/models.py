"""``pose models``: the model presets with their size and compute."""

from __future__ import annotations

import typer

from pose.cli.common import console


def models(
    pattern: str = typer.Argument("*", help="Wildcard over preset names, e.g. 'rtmpose-*'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    num_keypoints: int = typer.Option(17, help="Keypoints for the size count."),
) -> None:
    """List model presets with parameters and GFLOPs (multiply-accumulates, as MMPose reports)."""
    import json

    from rich.table import Table

    from pose.models import preset_summaries

    rows = preset_summaries(pattern, num_keypoints=num_keypoints)
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
