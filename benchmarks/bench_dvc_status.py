"""`dvc status` / no-op `dvc repro` time on a dataset of N images tracked as one directory output.

A throwaway git + DVC repo whose one stage writes N small JPEGs (distinct bytes, so DVC hashes
every file) into ``build/dataset/images``, as the pipeline's prepare stage does. After the first
`dvc repro`, the timed calls find everything up to date (DVC's per-file hash cache is warm, as it
is in a project after its first run).

Run: .venv/bin/python benchmarks/bench_dvc_status.py [--images 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

WRITER = """
import sys, pathlib, numpy as np, cv2
out = pathlib.Path("build/dataset/images"); out.mkdir(parents=True, exist_ok=True)
base = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
for i in range(int(sys.argv[1])):
    img = base.copy(); img[0, 0] = (i % 256, (i // 256) % 256, i // 65536)
    cv2.imwrite(str(out / f"{i:06d}.png"), img)
"""


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        (repo / "writer.py").write_text(WRITER)
        (repo / "dvc.yaml").write_text(
            f"stages:\n  prepare:\n    cmd: {Path(sys.executable).name} writer.py {a.images}\n"
            "    deps: [writer.py]\n    outs: [build/dataset]\n")
        _run(["git", "init", "-q"], repo, env)
        _run([str(bin_dir / "dvc"), "init", "-q"], repo, env)
        first = _run([str(bin_dir / "dvc"), "repro", "-q"], repo, env)
        status = min(_run([str(bin_dir / "dvc"), "status", "-q"], repo, env) for _ in range(a.repeats))
        noop = min(_run([str(bin_dir / "dvc"), "repro", "-q"], repo, env) for _ in range(a.repeats))
    rows = [{"images": a.images, "first_repro_s": round(first, 2), "dvc_status_s": round(status, 2), "noop_repro_s": round(noop, 2)}]
    report("dvc_status", rows, title=f"DVC on {a.images} images in one directory output (best of {a.repeats})")


if __name__ == "__main__":
    main()
