"""``pose train`` and ``pose train-det``: one set of options (``TrainFlags``), declared once, and one
way to load the params file and run a training (``run_training``)."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Optional, get_type_hints

import typer

from pose.cli.common import console, err_console
from pose.pipeline.options import Track

Resume = Annotated[Optional[str], typer.Option(help="'auto' (latest.pth in --work-dir), 'if-same' (latest.pth only if trained with the same params and data) or a checkpoint path.")]
LoadFrom = Annotated[Optional[Path], typer.Option(help="Start from these weights: a posepipe, MMPose 1.x, torchvision or timm file (key map + load report; a head for another keypoint count is skipped with a warning).")]
NoValidate = Annotated[bool, typer.Option("--no-validate", help="Skip validation during training.")]
Seed = Annotated[Optional[int], typer.Option(help="Overrides train.seed.")]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="Deterministic algorithms (exact resume).")]
Overrides = Annotated[list[str], typer.Option("--set", help="Override a param: --set train.epochs=5 (repeatable).")]
Launcher = Annotated[str, typer.Option(help="none or torchrun (DDP; run under torchrun).")]
AutoscaleLr = Annotated[bool, typer.Option("--autoscale-lr", help="Scale lr by total batch / train.base_batch_size.")]
Device = Annotated[str, typer.Option(help="auto, cpu or cuda[:N]; cuda without a GPU is an error.")]
ChampionChoice = Annotated[Optional[Path], typer.Option("--champion", help="With train.init: champion, the champion to start from as "
                           "`pose pipeline champion` resolved it (build/champion/<kind>.json); without it the registry is asked now.")]


@dataclass(frozen=True)
class TrainFlags:
    """The options ``pose train`` and ``pose train-det`` share, in their ``--help`` order."""

    resume: Resume = None
    load_from: LoadFrom = None
    no_validate: NoValidate = False
    seed: Seed = None
    deterministic: Deterministic = False
    set_: Overrides = ()  # type: ignore[assignment]  # (immutable default; typer passes a list)
    launcher: Launcher = "none"
    autoscale_lr: AutoscaleLr = False
    device: Device = "auto"
    track: Track = False
    champion: ChampionChoice = None


def _flag_parameters() -> list[inspect.Parameter]:
    """``TrainFlags`` as keyword-only parameters of a typer command (its options, with their defaults)."""
    hints = get_type_hints(TrainFlags, include_extras=True)
    return [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                              annotation=hints[f.name]) for f in fields(TrainFlags)]


TrainBody = Callable[[Path, Path, TrainFlags], None]


def training_command(config_help: str, work_dir: Path) -> Callable[[TrainBody], Callable[..., None]]:
    """Make ``body(config, work_dir, flags)`` a typer command: CONFIG, ``--work-dir`` (default
    ``work_dir``) and the ``TrainFlags`` options."""

    def wrap(body: TrainBody) -> Callable[..., None]:
        @functools.wraps(body)
        def command(config: Path, work_dir: Path, **flags: Any) -> None:
            body(config, work_dir, TrainFlags(**flags))

        command.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            inspect.Parameter("config", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Path,
                              default=typer.Argument(..., help=config_help)),
            inspect.Parameter("work_dir", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Path,
                              default=typer.Option(work_dir, "--work-dir", help="Checkpoints and logs.")),
            *_flag_parameters(),
        ], return_annotation=None)
        return command

    return wrap


@contextlib.contextmanager
def blame(config: Path) -> Iterator[None]:
    """A params value refused only once the model or data is built (an unknown preset, an input
    size the model cannot take) names the params file, as load-time errors do."""
    from pose.errors import ConfigError

    try:
        yield
    except ConfigError as e:
        if e.file is None and e.entry and not e.entry.startswith("-"):
            e.file = str(config)
        raise


def warm_start_params(kind: str, params: Any, choice_file: Path | None, work_dir: Path) -> tuple[Any, Any]:
    """``train.init: champion``: the params to train with and the champion ``Choice``
    (``pose.recipes.warmstart``), from ``choice_file`` or, without one, from the registry now."""
    from pose.recipes.warmstart import CHAMPION, Choice, read_choice, warm_start

    if params.train.init != CHAMPION:
        return params, Choice(kind)
    choice = read_choice(choice_file, kind) if choice_file is not None else None
    if choice is None or choice.init != CHAMPION:
        from pose.pipeline.champion import resolve

        choice = resolve(kind, params, Path(work_dir) / "champion")
    return warm_start(choice, params)


def run_training(trainer: Callable[..., dict[str, Any]], kind: str, config: Path, work_dir: Path, flags: TrainFlags, *,
                 stage: str, metric: str) -> None:
    """Load the ``kind`` params file (``--set`` and the ``train.*`` flags applied), train in the
    ``stage`` run when tracking, and print the time and best ``metric`` (rank 0 only)."""
    from pose.params import load_run_params
    from pose.tracking import callbacks, tracked

    with blame(config):
        params = load_run_params(config, kind, list(flags.set_), seed=flags.seed, deterministic=flags.deterministic,
                                 autoscale_lr=flags.autoscale_lr)
        params, choice = warm_start_params(kind, params, flags.champion, work_dir)
        with tracked(stage, flags.track, with_system_metrics=True) as run:
            if run is not None:
                run.set_tags(choice.tags())
            summary = trainer(params, work_dir, resume=flags.resume, load_from=str(flags.load_from) if flags.load_from else None,
                              device=flags.device, validate=not flags.no_validate, launcher=flags.launcher,
                              callbacks=callbacks(run), console=err_console, parent=choice.parent)
    best = summary.get("best")
    if summary["is_main"]:
        console.print(f"done in {summary['train_seconds']:.0f} s" + (f"; best {metric} {best:.4f}" if best is not None else ""))


@training_command("Params YAML (see params/pose.yaml).", Path("build/pose"))
def train(config: Path, work_dir: Path, flags: TrainFlags) -> None:
    """Train a top-down pose model."""
    from pose.recipes.topdown import train_pose

    run_training(train_pose, "pose", config, work_dir, flags, stage="train_pose", metric="AP")


@training_command("Params YAML (see params/detector.yaml).", Path("build/detector"))
def train_det(config: Path, work_dir: Path, flags: TrainFlags) -> None:
    """Train a person/animal detector (torchvision; from scratch or ImageNet / a checkpoint, per `pretrained`) on the dataset's boxes."""
    from pose.detection.train import train_detector

    run_training(train_detector, "detector", config, work_dir, flags, stage="train_detector", metric="bbox mAP")
