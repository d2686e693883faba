"""Which schema validates which ``params/*.yaml``."""

from __future__ import annotations

from pydantic import BaseModel

from pose.params.data import DataParams
from pose.params.detector import DetectorParams
from pose.params.eval import EvalParams
from pose.params.pose import PoseParams
from pose.params.publish import PublishParams
from pose.params.schedule import ScheduleParams

#: params file name -> its schema.
SCHEMAS: dict[str, type[BaseModel]] = {
    "data.yaml": DataParams,
    "pose.yaml": PoseParams,
    "detector.yaml": DetectorParams,
    "eval.yaml": EvalParams,
    "publish.yaml": PublishParams,
    "schedule.yaml": ScheduleParams,
}


def schema(kind: str) -> type[BaseModel]:
    """The schema of a params kind: ``"pose"`` (or ``"pose.yaml"``) -> ``PoseParams``."""
    name = kind if kind.endswith(".yaml") else f"{kind}.yaml"
    if name not in SCHEMAS:
        raise ValueError(f"no params kind '{kind}' (one of {', '.join(n.removesuffix('.yaml') for n in SCHEMAS)})")
    return SCHEMAS[name]
