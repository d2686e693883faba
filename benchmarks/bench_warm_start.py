"""Warm-started retraining (``train.init: champion``) against training from scratch, per second:
train a champion on part of the training data, register it (a real MLflow store in a temp
folder), add the rest of the data, then time (a) from scratch and (b) warm-started from the
champion as the pipeline resolves it, until each reaches the champion's AP on the same val split.

    .venv/bin/python benchmarks/bench_warm_start.py [--dataset DIR] [--part 0.5] [--quick]

Clocks count training only: after every epoch the trainer's ``latest.pth`` is scored (EMA
weights, GT boxes, as validation does) with the clock stopped, and a run stops once it reaches
the target. ``--quick`` proves the script on a tiny set in a few minutes (the numbers mean
nothing); the full run uses ``params/pose.yaml`` as it is. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUICK = {"images": 24, "size": 128, "input_size": [64, 64], "epochs": 4, "finetune_epochs": 2, "batch_size": 8}


class Reached(Exception):
    """A run reached its target AP."""


class Clock:
    """Trainer callback: training seconds and AP after every epoch (scored with the clock stopped)."""

    def __init__(self, target: float | None) -> None:
        self.target, self.rows = target, []  # type: ignore[var-annotated]
        self.seconds, self.t = 0.0, time.perf_counter()

    def on_train_start(self, info: dict[str, Any]) -> None:
        self.t = time.perf_counter()

    def on_checkpoint(self, path: Path, kind: str) -> None:
        from pose.recipes.topdown import score_checkpoint

        if kind != "latest" or self.target is None:  # the champion's run has no target: nothing to score
            return
        self.seconds += time.perf_counter() - self.t
        ap = float(score_checkpoint(path, device="cpu")["AP"])
        self.rows.append({"epoch": len(self.rows) + 1, "seconds": round(self.seconds, 1), "AP": ap})
        self.t = time.perf_counter()
        if self.target is not None and ap >= self.target:
            raise Reached


def split_part(full: Path, out: Path, part: float) -> Path:
    """``full`` with only the first ``part`` of its training images (same val split, images linked)."""
    out.mkdir(parents=True)
    (out / "annotations").mkdir()
    os.symlink(full / "images", out / "images")
    shutil.copy2(full / "meta.yaml", out / "meta.yaml")
    shutil.copy2(full / "annotations/val.json", out / "annotations/val.json")
    train = json.loads((full / "annotations/train.json").read_text())
    keep = {im["id"] for im in train["images"][: max(1, round(len(train["images"]) * part))]}
    train["images"] = [im for im in train["images"] if im["id"] in keep]
    train["annotations"] = [a for a in train["annotations"] if a["image_id"] in keep]
    (out / "annotations/train.json").write_text(json.dumps(train))
    return out


def train_run(params: Any, work: Path, target: float | None, parent: dict[str, Any] | None = None) -> Clock:
    """Train ``params`` in ``work``; the clock of its epochs (stopped early at ``target``)."""
    from pose.recipes.topdown import train_pose

    clock = Clock(target)
    try:
        train_pose(params, work, device="cpu", validate=False, callbacks=[clock], parent=parent)
    except Reached:
        pass
    return clock


def champion(params: Any, part: Path, root: Path, work: Path) -> tuple[float, str]:
    """Train the champion on ``part``, publish, register and promote it; (its AP on val, registered name)."""
    from pose.publish import registry
    from pose.publish.command import publish
    from pose.recipes.topdown import score_checkpoint

    base = params.model_copy(update={"dataset": str(part)})
    train_run(base, work, None)
    ap = float(score_checkpoint(work / "latest.pth", device="cpu")["AP"])
    pm = publish(work / "latest.pth", work / "published", metrics={"AP": ap}, onnx=False)
    reg = registry.register(pm.path, root=root)
    registry.promote_if_better(reg["name"], reg["version"], ap, None, root=root)
    return ap, reg["name"]


def base_params(args: argparse.Namespace, dataset: Path) -> Any:
    from pose.params import PoseParams

    d = yaml.safe_load(Path(args.params).read_text())
    d["dataset"], d["train"]["init"] = str(dataset), "champion"
    if args.quick:
        d["model"]["input_size"] = QUICK["input_size"]
        d["train"].update({k: QUICK[k] for k in ("epochs", "finetune_epochs", "batch_size")}, warmup_iters=2)
    return PoseParams.model_validate(d)


def compare(args: argparse.Namespace, tmp: Path, full: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Champion on a part, then scratch and warm-started on everything; the table rows and the curves."""
    from pose.pipeline.champion import resolve
    from pose.recipes.warmstart import warm_start

    params = base_params(args, full)
    target, name = champion(params, split_part(full, tmp / "part", args.part), tmp, tmp / "champion")
    choice = resolve("pose", params, tmp / "choice", root=tmp)
    warm, _ = warm_start(choice, params)
    assert choice.use, f"the champion was not used: {choice.reason}"
    scratch_params = params.model_copy(update={"train": params.train.model_copy(update={"init": "configured"})})
    runs = {"scratch": train_run(scratch_params, tmp / "scratch", target),
            "warm-started": train_run(warm, tmp / "warm", target, parent=choice.parent)}
    rows = []
    for label, clock in runs.items():
        hit = next((r for r in clock.rows if r["AP"] >= target), None)
        rows.append({"run": label, "target_AP": round(target, 4), "seconds_to_target": hit["seconds"] if hit else None,
                     "epochs_to_target": hit["epoch"] if hit else None, "epochs_run": len(clock.rows),
                     "last_AP": clock.rows[-1]["AP"] if clock.rows else None, "seconds_run": clock.rows[-1]["seconds"] if clock.rows else 0.0})
    s, w = (r["seconds_to_target"] for r in rows)
    extra = {"champion": name, "part": args.part, "quick": args.quick, "ratio_warm_to_scratch": (w / s) if s and w else None,
             "curves": {k: c.rows for k, c in runs.items()}}
    return rows, extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", help="dataset folder (default: a fresh synthetic one)")
    ap.add_argument("--params", default=str(ROOT / "params" / "pose.yaml"))
    ap.add_argument("--part", type=float, default=0.5, help="share of the training images the champion sees")
    ap.add_argument("--quick", action="store_true", help="tiny settings, to prove the script")
    args = ap.parse_args()
    for var in ("MLFLOW_TRACKING_URI", "POSE_PROJECT_ROOT", "POSE_MLFLOW_PARENT_RUN"):
        os.environ.pop(var, None)
    with tempfile.TemporaryDirectory() as tmp:
        from pose.data.synth import generate

        full = Path(args.dataset) if args.dataset else Path(tmp) / "synth"
        if not args.dataset:
            generate(full, **({"images": QUICK["images"], "size": QUICK["size"]} if args.quick else {}), progress=False)
        rows, extra = compare(args, Path(tmp), full.resolve())
    report("warm_start" + ("_quick" if args.quick else ""), rows, title="Seconds of training to reach the champion's AP "
           f"(champion on {args.part:.0%} of the train images, then all of them)", extra=extra)
    if extra["ratio_warm_to_scratch"] is not None:
        print(f"warm-started / scratch seconds to the champion's AP: {extra['ratio_warm_to_scratch']:.2f}")


if __name__ == "__main__":
    main()
