"""The markdown summary of a pipeline run (the flow's ``train-pose-summary`` artifact): what ran,
the data hashes, the metrics and the registry decisions."""

from __future__ import annotations

import json
import os
from typing import Any

from pose.fileio import markdown_table

#: Where the MLflow UI runs (``make ui``'s default); the summary links the parent run there.
UI_ENV = "POSE_MLFLOW_UI"
DEFAULT_UI = "http://127.0.0.1:5000"


def run_link(mlflow: dict[str, Any] | None) -> str | None:
    """A markdown link to the MLflow parent run in the UI (``$POSE_MLFLOW_UI``, else ``make ui``'s address)."""
    if not mlflow or not mlflow.get("run_id"):
        return None
    base = os.environ.get(UI_ENV, DEFAULT_UI).rstrip("/")
    return f"[{mlflow['run_id']}]({base}/#/experiments/{mlflow.get('experiment_id', '0')}/runs/{mlflow['run_id']})"


def _table(rows: dict[str, Any]) -> str:
    return markdown_table(rows, header="| | |", digits=4)


def _decisions(published: dict[str, Any]) -> list[str]:
    parts = []
    for decision in (published.get("decision"), (published.get("detector") or {}).get("decision")):
        if decision:
            parts += [f"\n## Registry: {decision.get('name')}\n",
                      _table({k: decision.get(k) for k in ("name", "version", "verdict", "reason", "metric", "champion_metric")})]
    return parts


def summary_markdown(result: dict[str, Any]) -> str:
    """``run_pipeline``'s result as markdown; an "up to date" run shows hashes and changes only."""
    parts = [f"# train-pose: {result['status']}\n", _table({"data md5 before": result.get("data_before"),
             "data md5 after": result.get("data_after"), "seconds": result.get("seconds"),
             **({"MLflow parent run": link} if (link := run_link(result.get("mlflow"))) else {})})]
    if not result.get("up_to_date"):
        if result.get("stages"):
            parts += ["\n## Stages\n", _table(result["stages"])]
        if result.get("metrics"):
            parts += ["\n## Metrics (build/eval/metrics.json)\n", _table(result["metrics"])]
        parts += _decisions(result.get("publish") or {})
    if result.get("changes"):
        parts += ["\n## Changes (dvc status)\n", "```\n" + json.dumps(result["changes"], indent=1)[:3000] + "\n```\n"]
    return "\n".join(parts)
