"""Rules read from the source (ast): no shell strings in subprocesses, every ``torch.load`` is
``weights_only=True``, every ONNX session is opened only after ``check_file``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(PROJECT / "pose").rglob("*.py"), *(PROJECT / "flows").rglob("*.py")])
SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"}


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (n for n in ast.walk(tree) if isinstance(n, ast.Call))


def _name(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return f.id if isinstance(f, ast.Name) else ""


def _parsed() -> Iterator[tuple[str, ast.AST]]:
    for path in SOURCES:
        yield str(path.relative_to(PROJECT)), ast.parse(path.read_text("utf-8"), str(path))


def test_sources_found() -> None:
    names = {p.name for p in SOURCES}
    assert {"run.py", "train_pose.py", "lineage.py", "checkpoint.py"} <= names


def test_subprocesses_take_argument_lists_never_a_shell() -> None:
    seen, bad = 0, []
    for rel, tree in _parsed():
        for call in _calls(tree):
            name = _name(call)
            if name in ("os.system", "os.popen") or name in {f"subprocess.{n}" for n in ("getoutput", "getstatusoutput")}:
                bad.append(f"{rel}:{call.lineno} {name} runs a shell")
            if name not in {f"subprocess.{n}" for n in SUBPROCESS}:
                continue
            seen += 1
            for kw in call.keywords:
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    bad.append(f"{rel}:{call.lineno} {name}(shell=...)")
            first = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "args"), None)
            is_list = isinstance(first, (ast.List, ast.Tuple, ast.ListComp)) or (
                isinstance(first, ast.Call) and _name(first) in ("server_command", "list"))
            if not is_list:
                bad.append(f"{rel}:{call.lineno} {name} first argument is not a list literal")
        bad += [f"{rel}:{n.lineno} from subprocess import (calls the scan cannot see)" for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.module == "subprocess"]
    assert seen >= 4, "the scan should find the project's subprocess calls (dvc, git, prefect, bench)"
    assert not bad, "\n".join(bad)


def test_every_torch_load_is_weights_only() -> None:
    loads = []
    for rel, tree in _parsed():
        for call in _calls(tree):
            if _name(call) == "torch.load":
                kw = {k.arg: k.value for k in call.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                loads.append((f"{rel}:{call.lineno}", ok))
    assert loads, "torch.load is used somewhere (checkpoint.py)"
    assert all(ok for _, ok in loads), [where for where, ok in loads if not ok]


def test_onnx_sessions_are_opened_after_check_file() -> None:
    found = []
    for rel, tree in _parsed():
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            names = [(c.lineno, _name(c) or getattr(c.func, "attr", "")) for c in _calls(fn)]
            sessions = [line for line, n in names if n.endswith("InferenceSession")]
            if sessions:
                checks = [line for line, n in names if n == "check_file"]
                found.append((f"{rel}:{fn.name}", bool(checks) and min(checks) < min(sessions)))
    assert found, "onnxruntime sessions are opened somewhere (pose/modelio/onnx.py)"
    assert all(ok for _, ok in found), found
