"""Without the ``pipeline`` extra (dvc, mlflow, prefect), every ``pose`` module imports and a command
that needs one of them says which extra to install. The packages are made unimportable in a child
interpreter (an import hook that refuses them), so this runs in the shared venv; the real thing,
a wheel installed without the extra, is tests/test_install.py (slow)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pose.errors import PIPELINE_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
BLOCK = f"""
import importlib.abc, sys
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {PIPELINE_PACKAGES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _Absent())
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK + code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow  # imports all of pose/ (torch, onnx, pandas, pynwb ...): 5-10 s of CPU
def test_every_module_imports_without_the_pipeline_packages() -> None:
    r = _run("""
import importlib, json, pkgutil, pose
failed = {}
for m in pkgutil.walk_packages(pose.__path__, "pose."):
    try:
        importlib.import_module(m.name)
    except Exception as e:
        failed[m.name] = f"{type(e).__name__}: {e}"
loaded = sorted(n for n in sys.modules if n.split(".")[0] in %r)
print(json.dumps({"failed": failed, "loaded": loaded}))
""" % (PIPELINE_PACKAGES,))
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"failed": {}, "loaded": []}, out


def test_the_hook_really_hides_them() -> None:
    r = _run("import mlflow")
    assert r.returncode != 0 and "No module named 'mlflow'" in r.stderr


@pytest.mark.slow  # `pose registry` loads torch before it reaches MLflow: about 6 s of CPU
def test_a_command_that_needs_mlflow_names_the_extra() -> None:
    r = _run("sys.argv = ['pose', 'registry']\nfrom pose.cli import main\nmain()")
    assert r.returncode == 2, r.stderr[-3000:]
    assert "needs mlflow" in r.stderr and 'posepipe[pipeline]' in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_pipeline_packages_are_imported_inside_functions_only() -> None:
    """A module-level ``import mlflow`` (or dvc, prefect) in pose/ would load it for every user of the module."""
    bad = []
    for f in sorted((ROOT / "pose").rglob("*.py")):
        for node in ast.parse(f.read_text()).body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{f.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in PIPELINE_PACKAGES]
    assert not bad, bad
