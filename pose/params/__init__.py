"""Every ``params/*.yaml`` schema, typed all the way down, and how params are read and edited.

One module per file: ``data``, ``pose`` (``aug`` included), ``detector``, ``eval``, ``publish``,
``schedule``; ``train`` is the ``train:`` block the pose and detector files share and the engine
takes as is. ``load_params(path, kind_or_schema, overrides)`` reads a file (``--set a.b=c``
overrides checked against the schema's keys); ``set_params`` edits files in place. Unknown keys
are refused with the nearest valid name; wrong types and out-of-range values raise a
``ConfigError`` naming the file and the key. Imports only ``pose.errors`` and ``pose.fileio``.
"""

from pose.params.base import Strict
from pose.params.data import DataParams, SynthParams
from pose.params.detector import DetAug, DetectorAugParams, DetectorParams, DetectorTestParams
from pose.params.edit import set_params
from pose.params.eval import EvalParams
from pose.params.load import load_params, load_run_params, record_params, validate_params
from pose.params.overrides import apply_overrides, parse_assignment
from pose.params.pose import AugConfig, PoseModelParams, PoseParams, PoseTestParams
from pose.params.publish import PublishParams
from pose.params.schedule import ScheduleParams
from pose.params.schemas import SCHEMAS, schema
from pose.params.train import TrainParams

__all__ = [
    "SCHEMAS", "AugConfig", "DataParams", "DetAug", "DetectorAugParams", "DetectorParams", "DetectorTestParams", "EvalParams",
    "PoseModelParams", "PoseParams", "PoseTestParams", "PublishParams", "ScheduleParams", "Strict", "SynthParams", "TrainParams",
    "apply_overrides", "load_params", "load_run_params", "parse_assignment", "record_params", "schema", "set_params",
    "validate_params",
]
