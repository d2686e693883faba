"""The markdown summary of a pipeline run (the flow's ``train-pose-summary`` artifact): what ran,
the data hashes, the metrics and the registry decisions."""

from __future__ import annotations

import json
from typing import Any


def _table(rows: dict[str, Any]) -> str:
    return "| | |\n|---|---|\n" + "".join(f"| {k} | {v:.4g} |\n" if isinstance(v, float) else f"| {k} | {v} |\n" for k, v in rows.items())


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
             "data md5 after": result.get("data_after"), "seconds": result.get("seconds")})]
    if not result.get("up_to_date"):
        if result.get("stages"):
            parts += ["\n## Stages\n", _table(result["stages"])]
        if result.get("metrics"):
            parts += ["\n## Metrics (build/eval/metrics.json)\n", _table(result["metrics"])]
        parts += _decisions(result.get("publish") or {})
    if result.get("changes"):
        parts += ["\n## Changes (dvc status)\n", "```\n" + json.dumps(result["changes"], indent=1)[:3000] + "\n```\n"]
    return "\n".join(parts)
