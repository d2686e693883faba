"""dvc.yaml's deps against the code: every dep path exists (or is another stage's output), and each
stage's code deps are exactly the ``pose/`` folders and top-level modules its command imports,
function-local imports included. A module move or a new import that dvc.yaml does not follow
fails here, naming the stage and the paths to add or remove."""

from __future__ import annotations

import ast
import inspect
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
#: Never code deps: the package root, the CLI package (options and output), error texts.
NOT_DEPS = {"pose", "pose.cli", "pose.errors"}
#: What a stage command imports only to log its run or declare options; code reached through the
#: library (e.g. the model card's params flattening in pose.tracking) still counts.
COMMAND_ONLY = {"pose.tracking", "pose.pipeline.options"}


def _stages() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _modules() -> dict[str, Path]:
    mods = {}
    for f in sorted((ROOT / "pose").rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(node: ast.AST, package: str) -> set[str]:
    """The ``pose`` modules ``node`` imports (relative imports resolved against ``package``)."""
    found = set()
    for n in ast.walk(node):
        names: list[str] = []
        if isinstance(n, ast.Import):
            names = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - n.level + 1] + ([n.module] if n.module else []))
            names = [base, *(f"{base}.{a.name}" for a in n.names)]
        found |= {m for m in map(_resolve, (x for x in names if x == "pose" or x.startswith("pose."))) if m}
    return found


def _never_dep(module: str) -> bool:
    return module in NOT_DEPS or module.startswith("pose.cli.")


def _package(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _command(words: list[str]) -> Callable[..., Any]:
    """The function behind ``pose WORDS...`` (typer app and sub-apps; words after the command are its arguments)."""
    from pose.cli import app

    typer_app = app
    for i, word in enumerate(words):
        for info in typer_app.registered_commands:
            if (info.name or info.callback.__name__.replace("_", "-")) == word:
                return inspect.unwrap(info.callback)
        group = next((g for g in typer_app.registered_groups if g.name == word), None)
        assert group is not None, f"no command 'pose {' '.join(words[: i + 1])}'"
        typer_app = group.typer_instance
    raise AssertionError(f"'pose {' '.join(words)}' is a group, not a command")


def _dep_path(module: str) -> str:
    """``pose.data.coco`` -> ``pose/data`` (a package folder); ``pose.fileio`` -> ``pose/fileio.py``."""
    top = module.split(".")[1]
    return f"pose/{top}" if (ROOT / "pose" / top).is_dir() else f"pose/{top}.py"


def code_deps(cmd: str) -> set[str]:
    """The ``pose/`` paths a stage command runs: its function's imports, its module's top-level
    imports (unless the module is ``pose.cli``), and everything those import, transitively."""
    words = [w for w in shlex.split(cmd)[1:] if not w.startswith("-")]
    fn = _command(words)
    module = fn.__module__
    tree = ast.parse(MODULES[module].read_text())
    body = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == fn.__name__)
    start = _imports(body, _package(module))
    if module != "pose.cli":
        top_level = ast.Module(body=[n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))], type_ignores=[])
        start |= _imports(top_level, _package(module))
    seen = set() if _never_dep(module) else {module}
    todo = [m for m in start if m not in COMMAND_ONLY]
    while todo:
        m = todo.pop()
        if m in seen or _never_dep(m):
            continue
        seen.add(m)
        todo += _imports(ast.parse(MODULES[m].read_text()), _package(m))
    return {_dep_path(m) for m in seen}


def _dep_names(stage: dict[str, Any]) -> list[str]:
    return [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]


def _out_names(stage: dict[str, Any]) -> list[str]:
    return [o if isinstance(o, str) else next(iter(o)) for key in ("outs", "metrics", "plots") for o in stage.get(key, [])]


def test_every_dep_exists_or_is_an_earlier_output() -> None:
    tracked = [o["path"] for o in yaml.safe_load((ROOT / "data.dvc").read_text())["outs"]]
    produced: list[str] = []
    for name, stage in _stages().items():
        for dep in _dep_names(stage):
            from_pipeline = any(dep == p or dep.startswith(p.rstrip("/") + "/") for p in produced + tracked)
            assert from_pipeline or (ROOT / dep).exists(), f"dvc.yaml stage '{name}': dep '{dep}' does not exist"
        produced += _out_names(stage)


@pytest.mark.parametrize("name", list(_stages()))
def test_code_deps_are_what_the_command_imports(name: str) -> None:
    stage = _stages()[name]
    declared = {d.rstrip("/") for d in _dep_names(stage) if d.startswith("pose")}
    needed = code_deps(stage["cmd"])
    assert declared == needed, (f"dvc.yaml stage '{name}': add {sorted(needed - declared)}, "
                                f"remove {sorted(declared - needed)}")


def test_command_module_folder_is_a_dep() -> None:
    """e.g. ``pose pipeline prepare`` lives in pose/pipeline, ``pose train`` delegates to pose/recipes."""
    deps = {n: set(_dep_names(s)) for n, s in _stages().items()}
    assert {"pose/pipeline", "pose/data"} <= deps["prepare"]
    assert {"pose/recipes", "pose/models", "pose/engine", "pose/codecs"} <= deps["train_pose"]
    assert {"pose/detection", "pose/engine"} <= deps["train_detector"]
    assert "pose/pipeline" in deps["evaluate"] and "pose/publish" in deps["publish"]


def test_bytecode_does_not_change_code_deps() -> None:
    ignored = (ROOT / ".dvcignore").read_text().split()
    assert "__pycache__/" in ignored and "*.pyc" in ignored
