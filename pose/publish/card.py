"""The model card ``<name>-<sha8>.md`` written beside a published pose model: intended use, data,
metrics, lineage, params, codec and the ONNX inputs and outputs (with the parity check's result)."""

from __future__ import annotations

import time
from typing import Any

from pose.fileio import markdown_table
from pose.tracking import flatten


def _table(rows: dict[str, Any]) -> str:
    return markdown_table(rows) if rows else "_none recorded_\n"


def _onnx_rows(info: dict[str, Any]) -> dict[str, str]:
    w, h = info["input_size"]
    rows = {"input": f"uint8 (B, 3, {h}, {w}) RGB 0-255, normalised inside the graph"}
    rows.update({k: "float32 (" + ", ".join(map(str, v)) + ")" for k, v in info.get("outputs", {}).items()})
    return rows


def _parity_line(onnx_report: dict[str, Any] | None) -> list[str]:
    if not (onnx_report and onnx_report.get("parity")):
        return []
    p = onnx_report["parity"]
    source = "val" if p.get("crops_from") == "given" else "random"
    return [f"\nParity with PyTorch on {p['crops']} {source} crops: max |output diff| {p['max_abs_diff']:.2e}, "
            f"max keypoint diff {p['max_keypoint_px']:.3f} px.\n"]


def _warm_start_line(info: dict[str, Any]) -> list[str]:
    """"warm-started from <name> v<N>" when training started from a registered champion (``train.init: champion``)."""
    parent = (info.get("init") or {}).get("init.parent")
    return [f"Training was warm-started from {parent} (the registry's champion when it started).\n"] if parent else []


def model_card(info: dict[str, Any], sha256: str, *, onnx_report: dict[str, Any] | None = None) -> str:
    """The markdown model card: data, params, metrics, lineage, intended use, ONNX I/O."""
    dm = info["dataset_meta"]
    params = info.get("params") or {}
    w, h = info["input_size"]
    parts = [
        f"# {info['name']}\n",
        f"Top-down 2D keypoint model `{info['preset']}` for **{dm['name']}** ({dm.get('category', 'object')}, "
        f"{info['num_keypoints']} keypoints), input {w}x{h} (w x h). File sha256 `{sha256}`.\n",
        "## Intended use\n",
        "Keypoints of one instance per crop, given its bounding box (from a detector or labels), on images like "
        "the training data. Not validated for other species, viewpoints or image domains; re-evaluate before "
        "relying on it elsewhere. Outputs are input-pixel keypoints with per-keypoint scores; low scores mean "
        "unreliable points.\n",
        "## Data\n",
        _table({"dataset": params.get("dataset"), "train split": params.get("train_split"), "val split": params.get("val_split"),
                "keypoints": ", ".join(k["name"] for k in dm["keypoints"]), "OKS sigmas": "yes" if dm.get("sigmas") else "default"}),
        "\n## Metrics (val)\n", _table(info.get("metrics") or {}),
        "\n## Lineage\n", *_warm_start_line(info), _table(info.get("lineage") or {}),
        "\n## Initialisation\n", _table(info.get("init") or {"init.pretrained": "unknown"}),
        "\n## Params\n", _table(flatten({k: params[k] for k in ("model", "train", "test", "aug") if k in params})),
        "\n## Codec\n", _table(info.get("codec") or {}),
        "\n## ONNX\n", _table(_onnx_rows(info)),
        *_parity_line(onnx_report),
    ]
    parts.append(f"\n_Published {time.strftime('%Y-%m-%d %H:%M:%S %Z')} from `{info['source']['checkpoint']}` "
                 f"(epoch {info['source']['epoch']}, {info['source']['weights']} weights)._\n")
    return "\n".join(parts)
