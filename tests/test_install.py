"""`pip install posepipe` without the `pipeline` extra: build the wheel, install it into a fresh venv
that has none of dvc / mlflow / prefect, then generate data, train one epoch, publish and run
`pose infer` there; the keypoints equal those of this checkout's venv.

The venv: `python -m venv` (no system site packages) plus one `.pth` line naming a folder of
symlinks to exactly the installed distributions the wheel's core requirements resolve to
(Requires-Dist without extras, followed transitively in this venv), then `pip install --no-index
WHEEL`, which installs posepipe alone and fails if any requirement is not in that folder. A venv
that installs those requirements from the index takes the same packages, but its pip had not even
finished resolving after 6.4 minutes here (torch with its CUDA libraries is 5.5 GB more); this
takes seconds.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pose.errors import PIPELINE_PACKAGES

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _core_closure(requires: list[str]) -> dict[str, md.Distribution]:
    """Installed distributions the requirements need, transitively (extras only where asked)."""
    found: dict[str, md.Distribution] = {}
    todo = [(Requirement(r), "") for r in requires]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        dist = md.distribution(req.name)
        first = name not in found
        found[name] = dist
        for wanted in ([""] if first else []) + sorted(req.extras):
            todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return found


def _top_levels(dist: md.Distribution) -> set[str]:
    return {Path(f).parts[0] for f in dist.files or [] if not Path(f).parts[0].startswith("..") and Path(f).parts[0] != "__pycache__"}


def _link_closure(dists: dict[str, md.Distribution], site: Path, into: Path) -> None:
    """Symlink the closure's top-level files and folders; a folder that other distributions share
    (a namespace such as ``google/``) is made here and filled with the closure's entries only."""
    owners: dict[str, set[str]] = {}
    for d in md.distributions():
        for top in _top_levels(d):
            owners.setdefault(top, set()).add(canonicalize_name(d.metadata["Name"]))
    for name, dist in dists.items():
        for top in _top_levels(dist):
            if (into / top).exists() or top.endswith(".pth") or not (site / top).exists():
                continue
            if owners[top] <= set(dists) or not (site / top).is_dir():
                (into / top).symlink_to(site / top)
                continue
            (into / top).mkdir()
            for sub in {Path(f).parts[1] for d in (dists[o] for o in owners[top] if o in dists) for f in d.files or []
                        if Path(f).parts[0] == top and len(Path(f).parts) > 1}:
                (into / top / sub).symlink_to(site / top / sub)


def _build_wheel(out: Path) -> Path:
    """``python -m build`` (sdist, then the wheel from it: nothing is written into the checkout's build/)."""
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return next(out.glob("posepipe-*.whl"))


def _fresh_venv(root: Path, wheel: Path) -> Path:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    closure = _core_closure(requires)
    assert not set(closure) & set(PIPELINE_PACKAGES), f"a core requirement pulls in {set(closure) & set(PIPELINE_PACKAGES)}"
    deps = root / "deps"
    deps.mkdir()
    site = Path(md.distribution("torch").locate_file(""))
    _link_closure(closure, site, deps)
    (next(venv.glob("lib/python*/site-packages")) / "posepipe_deps.pth").write_text(f"{deps}\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "--no-index",
                        "--no-cache-dir", "--quiet", str(wheel)], env=_env(venv), capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return venv


def _env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "POSE_PROJECT_ROOT", "MLFLOW_TRACKING_URI")}
    return {**env, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "OMP_NUM_THREADS": "1"}


def _pose(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(venv / "bin/pose"), *args], cwd=cwd, env=_env(venv), capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, f"pose {' '.join(args)}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


def test_wheel_without_the_pipeline_extra_trains_publishes_and_infers(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    venv = _fresh_venv(tmp_path, _build_wheel(tmp_path / "dist"))
    t_install = time.perf_counter() - t0
    py = str(venv / "bin/python")
    probe = subprocess.run([py, "-c", "import importlib.util, json, pose; print(json.dumps([pose.__file__, "
                            f"[m for m in {PIPELINE_PACKAGES!r} if importlib.util.find_spec(m)]]))"],
                           cwd=tmp_path, env=_env(venv), capture_output=True, text=True, check=True)
    where, present = json.loads(probe.stdout)
    assert Path(where).is_relative_to(venv) and present == [], (where, present)
    assert not any((venv / "bin" / exe).exists() for exe in PIPELINE_PACKAGES)

    work = tmp_path / "work"
    work.mkdir()
    _pose(venv, "data", "synth", "ds", "--kind", "human", "--images", "4", "--size", "128", "--seed", "3", "--val-fraction", "0.5",
          "--no-progress", cwd=work)
    _pose(venv, "train", str(ROOT / "params/pose.yaml"), "--work-dir", "train", "--set", "dataset=ds", "--set", "model.input_size=[64,64]",
          "--set", "train.epochs=1", "--set", "train.batch_size=2", "--set", "train.workers=0", "--set", "train.warmup_iters=1",
          "--set", "train.amp=none", "--set", "test.flip=false", cwd=work)
    _pose(venv, "publish", "train/best.pth", "--out", "published", cwd=work)
    model = next((work / "published").glob("*.pth"))
    image = next((work / "ds/images").iterdir())
    _pose(venv, "infer", str(image), "--pose-model", str(model), "--full-frame", "--save-json", "fresh.json", cwd=work)
    t_all = time.perf_counter() - t0

    here = subprocess.run([str(BIN / "pose"), "infer", str(image), "--pose-model", str(model), "--full-frame", "--save-json", "here.json"],
                          cwd=work, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600, check=False)
    assert here.returncode == 0, here.stderr[-3000:]
    fresh, ours = (json.loads((work / f).read_text()) for f in ("fresh.json", "here.json"))
    assert len(fresh["results"]) == len(ours["results"]) == 1 and len(fresh["results"][0]["keypoints"]) == 17 * 3
    assert fresh["results"][0]["keypoints"] == pytest.approx(ours["results"][0]["keypoints"], abs=1e-4)
    assert {k: v for k, v in fresh.items() if k != "results"} == {k: v for k, v in ours.items() if k != "results"}
    print(f"\nwheel + venv {t_install:.1f} s, data/train/publish/infer {t_all - t_install:.1f} s")
