"""Top-down pose models: backbones, heads, losses, the estimator and the preset factory."""

from pose.models.estimator import TopdownPoseEstimator
from pose.models.presets import PRESETS, Preset, build_model, list_models
from pose.models.summary import count_macs, count_params, model_summary, preset_summaries

__all__ = [
    "PRESETS",
    "Preset",
    "TopdownPoseEstimator",
    "build_model",
    "count_macs",
    "count_params",
    "list_models",
    "model_summary",
    "preset_summaries",
]
