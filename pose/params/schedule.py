"""``params/schedule.yaml``: the Prefect deployment."""

from __future__ import annotations

from pydantic import Field

from pose.params.base import Strict


class ScheduleParams(Strict):
    """``params/schedule.yaml``: the Prefect deployment."""

    cron: str = "0 3 * * 1"
    timezone: str = "UTC"
    retries: int = Field(2, ge=0, le=10, description="retries of the training stages")
    retry_delay_s: list[float] = Field(default_factory=lambda: [30.0, 120.0], description="back-off between retries")
    only_if_changed: bool = Field(True, description="scheduled runs stop when DVC reports nothing changed")
    stage_timeout_s: float = Field(3600.0, gt=0, description="Prefect task timeout of each non-training stage")
    training_timeout_s: float = Field(43200.0, gt=0, description="Prefect task timeout of each training stage (per try)")
