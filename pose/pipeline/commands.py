"""``pose pipeline ...``: the commands ``dvc.yaml``, the Makefile and the Prefect flow call.

Stage commands take their inputs and outputs as options with the ``dvc.yaml`` defaults, log a
child MLflow run (``--track``, on in ``dvc.yaml``) and write every output atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console

from pose.pipeline.options import Track

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

if TYPE_CHECKING:
    from pose.params import DataParams

pipeline_app = typer.Typer(help="The DVC pipeline: bootstrap data, stage commands, run, params overrides.", no_args_is_help=True)


def _data_params(path: Path) -> DataParams:
    from pose.params import DataParams, load_params

    return load_params(path, DataParams)


@pipeline_app.command("data")
def data(params: Path = typer.Option(Path("params/data.yaml"), help="Data params.")) -> None:
    """Make the raw input exist under data/: regenerate the embedded set, or `dvc pull` when a remote is set."""
    from pose.pipeline.prepare import ensure_data

    console.print(ensure_data(Path.cwd(), _data_params(params)))


@pipeline_app.command("prepare")
def prepare(
    params: Path = typer.Option(Path("params/data.yaml"), help="Data params."),
    out: Path = typer.Option(Path("build/dataset"), help="Canonical dataset folder to write."),
    track: Track = False,
) -> None:
    """Stage `prepare`: data/ -> the canonical dataset (converted; val split by image when missing)."""
    from pose.pipeline.prepare import prepare as run
    from pose.tracking import tracked

    p = _data_params(params)
    with tracked("prepare", track) as tracking_run:
        summary = run(Path.cwd(), p, out)
        if tracking_run:
            tracking_run.log_params(p.model_dump(mode="json"))
            tracking_run.log_metrics({f"{s}_{k}": v for s, c in summary["splits"].items() for k, v in c.items()})
    console.print(json.dumps(summary))


@pipeline_app.command("validate")
def validate(
    dataset: Path = typer.Option(Path("build/dataset"), help="Dataset folder."),
    out: Path = typer.Option(Path("build/validation"), help="Report folder: <split>.json, flip checks, summary.json."),
    decode: bool = typer.Option(False, "--decode", help="Decode every image fully."),
    track: Track = False,
) -> None:
    """Stage `validate`: report every split; exit 1 (failing the pipeline) on any error."""
    from pose.tracking import tracked
    from pose.pipeline.validate import validate_dataset

    with tracked("validate", track) as tracking_run:
        summary, reports = validate_dataset(dataset, out, decode=decode)
        if tracking_run:
            tracking_run.log_metrics({"errors": summary["errors"], "warnings": summary["warnings"]})
            tracking_run.log_artifact(out / "summary.json")
    for r in reports:
        r.print(console)
    if summary["errors"]:
        err_console.print(f"[bold red]error:[/] {summary['errors']} validation error(s); reports in {out}")
        raise typer.Exit(1)


@pipeline_app.command("champion")
def champion(
    dataset: Path = typer.Option(Path("build/dataset"), help="Dataset folder the models train on."),
    out: Path = typer.Option(Path("build/champion"), help="<kind>.json per model (and the champions' weights) go here."),
    pose_params: Path = typer.Option(Path("params/pose.yaml"), "--pose-params", help="Pose params."),
    detector_params: Path = typer.Option(Path("params/detector.yaml"), "--detector-params", help="Detector params."),
) -> None:
    """Stage `champion`: the registry champion each training stage starts from (train.init: champion), or why none."""
    from pose.pipeline.champion import champion_stage, describe

    for kind, choice in champion_stage(str(dataset), out, {"pose": pose_params, "detector": detector_params}).items():
        console.print(f"{kind}: {describe(choice)}")


@pipeline_app.command("evaluate")
def evaluate(
    pose_checkpoint: Path = typer.Option(Path("build/pose/best.pth"), "--pose", help="Pose checkpoint."),
    det_checkpoint: Path = typer.Option(Path("build/detector/best.pth"), "--det", help="Detector checkpoint."),
    dataset: Path = typer.Option(Path("build/dataset"), help="Dataset folder."),
    params: Path = typer.Option(Path("params/eval.yaml"), help="Eval params."),
    out: Path = typer.Option(Path("build/eval"), help="metrics.json, pck_curve.json, predictions/, plots/ go here."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    track: Track = False,
) -> None:
    """Stage `evaluate`: pose AP/PCK on GT and detector boxes, detector mAP, plots."""
    from pose.fileio import write_json
    from pose.params import EvalParams, load_params
    from pose.pipeline.evaluate import evaluate_pipeline
    from pose.tracking import tracked

    p = load_params(params, EvalParams)
    with tracked("evaluate", track) as tracking_run:
        result = evaluate_pipeline(pose_checkpoint, det_checkpoint, dataset, p, out_dir=out / "predictions", plots_dir=out / "plots", device=device)
        write_json(out / "pck_curve.json", result["curve"], indent=1)
        write_json(out / "metrics.json", result["metrics"], indent=2)
        if tracking_run:
            tracking_run.log_params(p.model_dump(mode="json"))
            tracking_run.log_metrics(result["metrics"])
            for png in sorted((out / "plots").glob("*.png")):
                tracking_run.log_artifact(png, "plots")
    console.print(json.dumps(result["metrics"], indent=2))


@pipeline_app.command("publish")
def publish(
    checkpoint: Path = typer.Option(Path("build/pose/best.pth"), help="Pose checkpoint."),
    det: Optional[Path] = typer.Option(None, "--det", help="Detector checkpoint, published and registered as <dataset>-detector."),
    params: Path = typer.Option(Path("params/publish.yaml"), help="Publish params."),
    out: Path = typer.Option(Path("build/publish"), help="Published files and publish.json."),
) -> None:
    """Stage `publish`: `pose publish CHECKPOINT --out DIR [--register]` with params/publish.yaml; result in DIR/publish.json."""
    from pose.fileio import write_json
    from pose.params import PublishParams, load_params
    from pose.pipeline.dvc import PUBLISH_RESULT
    from pose.publish.command import publish_command

    p = load_params(params, PublishParams)
    result = publish_command(checkpoint, out, name=p.name, register=p.registry, onnx=p.onnx, min_gain=p.min_gain, detector=det)
    write_json(out / Path(PUBLISH_RESULT).name, result, indent=2)
    console.print_json(json.dumps(result, default=str))


@pipeline_app.command("set")
def set_(assignments: list[str] = typer.Argument(..., help="FILE:KEY=VALUE, e.g. params/pose.yaml:train.epochs=1")) -> None:
    """Change params files (checked against their schema, written atomically), as `dvc exp run -S` would."""
    from pose.params import set_params

    changed = set_params(Path.cwd(), assignments)
    console.print("changed: " + (", ".join(str(p) for p in changed) or "nothing"))


@pipeline_app.command("run")
def run(
    stages: list[str] = typer.Argument(None, help="Stages to reproduce (default: all)."),
    force: bool = typer.Option(False, "--force", help="Re-run even when nothing changed."),
) -> None:
    """Bootstrap data/, then `dvc repro` under the project lock and one MLflow parent run."""
    import time

    from pose.pipeline.run import Steps, run_pipeline

    t0 = time.perf_counter()
    summary = run_pipeline(Path.cwd(), stages=stages or (), force=force, bootstrap=True, steps=Steps(echo=console.print))
    if summary["up_to_date"]:
        console.print(f"up to date (dvc status clean) in {time.perf_counter() - t0:.1f} s; nothing to run")
        return
    decision = (summary.get("publish") or {}).get("decision") or {}
    console.print(f"pipeline done in {time.perf_counter() - t0:.1f} s; data changed: {summary['data_changed']}; "
                  f"AP {summary['metrics'].get('AP', '-')}; registry: {decision.get('verdict', '-')} {decision.get('reason', '')}")


@pipeline_app.command("server")
def server(
    port: Optional[int] = typer.Option(None, help="Port (default: a free one)."),
    host: str = typer.Option("127.0.0.1", help="Listen address; anything but loopback prints a warning."),
) -> None:
    """A local Prefect server for this project (state in .prefect/, URL in .prefect/api_url) until Ctrl-C."""
    from pose.pipeline.prefect_server import host_warning, run_server

    if warning := host_warning(host):
        err_console.print(warning)
    code = run_server(Path.cwd(), port, host, announce=lambda url: console.print(
        f"Prefect server: {url}; then, in another shell: make deploy, make worker, make trigger (Ctrl-C stops it)"))
    raise typer.Exit(code)


@pipeline_app.command("deploy")
def deploy(
    api_url: Optional[str] = typer.Option(None, help="Prefect API URL (default: the local server's, .prefect/api_url)."),
) -> None:
    """Deploy train-pose/train-pose from prefect.yaml to the process work pool (created when missing)."""
    from pose.pipeline.deployment import deploy as run

    r = run(Path.cwd(), api_url)
    console.print(f"deployed {r['deployment']} to work pool {r['work_pool']}{' (created)' if r['pool_created'] else ''} "
                  f"at {r['api_url']}; schedule {r['cron']} ({r['timezone']}); start a worker: make worker")
