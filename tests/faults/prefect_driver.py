"""Runs the real Prefect flow ``train-pose`` (flows/train_pose.py) on a minimal DVC repo, once
per plan given as JSON on the command line; prints one JSON line per run (final state and message).

Only the flow's project root is pointed at the minimal repo, whose ``dvc.yaml`` stages the flow
runs (``train_detector`` -> ``train_pose``, so the configured training retries apply).
"""

import importlib.util
import json
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def main() -> None:
    repo, plans = Path(sys.argv[1]), json.loads(sys.argv[2])
    spec = importlib.util.spec_from_file_location("train_pose_flow", PROJECT / "flows" / "train_pose.py")
    flows = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = flows
    spec.loader.exec_module(flows)
    flows.ROOT = repo
    for plan in plans:
        (repo / "plan.json").write_text(json.dumps(plan))
        state = flows.train_pose(flows.RunOptions(), return_state=True)
        print(json.dumps({"type": state.type.value, "message": state.message or ""}), flush=True)


if __name__ == "__main__":
    main()
