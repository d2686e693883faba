"""The shipped recipe on the real labelled sets in ../shared/data: train time, EPE (px), PCK@0.05,
PCK@0.1 and COCO AP on each set's val split (GT boxes, as the evaluate stage scores them).

    .venv/bin/python benchmarks/bench_real.py [--sets dlc_openfield,...] [--epochs N] [--quick] [--set KEY=VALUE]
    pose bench real                                 # the same, all sets, shipped params

Each set goes through the pipeline's own converter (``pose data convert --from <format>``) and is
split by frame as ``pose pipeline prepare`` splits a source without a val split
(``params/data.yaml`` ``val_fraction`` 0.2, ``split_seed`` 0); the model is trained with
``params/pose.yaml`` as shipped (``--epochs`` overrides ``train.epochs``). Sets:

- ``dlc_openfield``: the DeepLabCut project (116 frames, 4 keypoints), ``--from dlc``;
- ``lightning_pose_mirror_mouse``: the Lightning Pose CSV (90 labelled frames, 17 keypoints), ``--from lightning-pose``;
- ``sleap_flies``: every 15th labelled frame of ``sleap_samples/tracks/clip.slp`` (100 frames, 2 flies
  each, 13 nodes), ``--from sleap`` (frames decoded from clip.mp4).

``--quick`` trains one epoch at 64x64 (proves the script, measures nothing). A full run trains
several minutes per set: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from pose.data.convert import run_convert  # noqa: E402
from pose.data.convert.sleap import subset_slp as subset_of_labels  # noqa: E402
from pose.params import DataParams, PoseParams  # noqa: E402
from pose.params.overrides import apply_overrides  # noqa: E402
from pose.pipeline.prepare import split_by_image  # noqa: E402
from pose.recipes.topdown import score_checkpoint, train_pose  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
QUICK = {"model": {"input_size": [64, 64]}, "train": {"epochs": 1, "batch_size": 8, "workers": 0, "warmup_iters": 1,
                                                     "val_interval": 1}, "test": {"flip": False}}
METRICS = ("EPE", "PCK@0.05", "PCK@0.1", "AP")


@dataclass(frozen=True)
class RealSet:
    """A labelled set in ../shared/data: its converter and source path (relative to shared/data)."""

    source: str
    path: str
    slp_step: int = 0  # SLEAP: keep every n-th labelled frame


SETS = {
    "dlc_openfield": RealSet("dlc", "dlc_openfield/openfield-Pranav-2018-10-30"),
    "lightning_pose_mirror_mouse": RealSet("lightning-pose", "lightning_pose_mirror_mouse"),
    "sleap_flies": RealSet("sleap", "sleap_samples/tracks/clip.slp", slp_step=15),
}


def subset_slp(src: Path, dst: Path, step: int) -> Path:
    """``pose.data.convert.sleap.subset_slp``, with the source's videos linked beside the copy."""
    subset_of_labels(src, dst, step)
    for video in src.parent.glob("*.mp4"):
        (dst.parent / video.name).symlink_to(video)
    return dst


def prepare_set(spec: RealSet, shared: Path, out: Path, data: DataParams) -> dict[str, int]:
    """Convert and split by frame into the dataset folder ``out``; returns image counts per split."""
    src = shared / spec.path
    if spec.slp_step:
        (out.parent / "slp").mkdir()
        src = subset_slp(src, out.parent / "slp" / src.name, spec.slp_step)
    run_convert(spec.source, src, out, split="train")
    ann = out / "annotations"
    train, val = split_by_image(json.loads((ann / "train.json").read_text()), data.val_fraction, data.split_seed)
    (ann / "train.json").write_text(json.dumps(train))
    (ann / "val.json").write_text(json.dumps(val))
    return {"train": len(train["images"]), "val": len(val["images"])}


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {k: merged(base.get(k, {}), v) if isinstance(v, dict) else v for k, v in extra.items()} | \
        {k: v for k, v in base.items() if k not in extra}


def run_set(name: str, shared: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Prepare, train and score one set: one table row."""
    folder = tmp / name
    folder.mkdir()
    counts = prepare_set(SETS[name], shared, folder / "dataset", DataParams())
    cfg = yaml.safe_load(Path(args.params).read_text())
    cfg = merged(cfg, QUICK) if args.quick else cfg
    cfg["dataset"] = str(folder / "dataset")
    if args.epochs:
        cfg["train"]["epochs"] = args.epochs
    params = PoseParams.model_validate(apply_overrides(cfg, args.set, PoseParams))
    t0 = time.perf_counter()
    train_pose(params, folder / "work", device=args.device)
    seconds = time.perf_counter() - t0
    metrics = score_checkpoint(folder / "work" / "best.pth", device=args.device)
    row: dict[str, Any] = {"set": name, "train/val": f"{counts['train']}/{counts['val']}", "epochs": params.train.epochs,
                           "input": "x".join(map(str, summary_size(folder / "work"))), "train_min": round(seconds / 60, 2)}
    return row | {k: float(metrics[k]) for k in METRICS}


def summary_size(work: Path) -> list[int]:
    """The input size (w, h) the run trained at (resolved when ``auto``), from its recorded params."""
    return list(yaml.safe_load((work / "params.yaml").read_text())["model"]["input_size"])


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    ap.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    ap.add_argument("--quick", action="store_true", help="one epoch at 64x64: proves the script, measures nothing")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a params/pose.yaml key, e.g. --set model.input_size=auto (repeatable)")
    ap.add_argument("--params", default=str(ROOT / "params" / "pose.yaml"))
    ap.add_argument("--shared", default=str(SHARED), help="the shared/data folder")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default=None, help="write the JSON here instead of benchmarks/results/real.json")
    args = ap.parse_args(argv)
    names = [s for s in args.sets.split(",") if s]
    unknown = [s for s in names if s not in SETS]
    if unknown:
        ap.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    with tempfile.TemporaryDirectory(prefix="bench_real.") as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*has no OKS sigmas.*")  # none of the sets has sigmas: noted in the JSON
        rows = [run_set(name, Path(args.shared), Path(tmp), args) for name in names]
    extra = {"AP": "COCO AP with the default OKS sigma 0.072 for every keypoint (no set has sigmas)", "quick": args.quick, "params": args.params, "set": args.set, "split": "by frame, val_fraction 0.2, seed 0"}
    title = "Shipped recipe on real lab sets (val split, GT boxes)" + (" -- QUICK, not a measurement" if args.quick else "")
    return report("real", rows, title=title, extra=extra, out=None if args.json is None else Path(args.json))


if __name__ == "__main__":
    main()
