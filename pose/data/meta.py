"""Dataset meta info: keypoint names, flip (swap) partners, skeleton, colours, weights, OKS sigmas.

One validated ``DatasetMeta`` is the single source of flip pairs and sigmas for the whole
pipeline (augmentation, flip test, evaluation, drawing). Built-in presets live as YAML files
in ``pose/data/presets/``; a custom dataset gets its own ``meta.yaml`` of the same layout.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from pose.errors import DataError
from pose.fileio import write_text

PRESETS = ("coco", "ap10k", "animalpose", "mpii")

#: OKS sigma used for every keypoint when a meta has none. It is the median of COCO's 17
#: body sigmas (elbows), a middle-of-the-road tolerance; 1/K (as some tools use) makes AP
#: near 1.0 and meaningless. Every report that falls back to it says so loudly.
DEFAULT_SIGMA = 0.072

LEFT_COLOR = (0, 255, 0)
RIGHT_COLOR = (255, 128, 0)
CENTER_COLOR = (51, 153, 255)
_LOWER_WORDS = ("hip", "knee", "ankle", "foot", "feet", "toe", "heel", "leg", "paw", "hoof", "tail", "pelvis")


class SigmaDefaultWarning(UserWarning):
    """OKS sigmas were missing and ``DEFAULT_SIGMA`` was used."""


@dataclass(eq=False)
class DatasetMeta:
    """Everything about a keypoint set that is not per-image data. Colours are RGB."""

    name: str
    keypoint_names: list[str]
    swap: list[str]
    skeleton: np.ndarray  # (L, 2) int64, 0-based keypoint indices
    keypoint_colors: np.ndarray  # (K, 3) uint8
    skeleton_colors: np.ndarray  # (L, 3) uint8
    keypoint_types: list[str]  # "upper" | "lower"
    joint_weights: np.ndarray  # (K,) float32
    sigmas: np.ndarray | None  # (K,) float32, None when unknown
    category: str = "object"
    source: str = field(default="<memory>", repr=False)

    def __post_init__(self) -> None:
        self._check()

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @cached_property
    def flip_indices(self) -> np.ndarray:
        """``flip_indices[k]`` is the keypoint that ``k`` becomes after a horizontal flip."""
        index = {n: i for i, n in enumerate(self.keypoint_names)}
        return np.array([index[s] if s else i for i, s in enumerate(self.swap)], dtype=np.int64)

    @cached_property
    def flip_pairs(self) -> np.ndarray:
        """(P, 2) pairs ``(left, right)`` with ``left < right``, derived from the swap partners."""
        fi = self.flip_indices
        ids = np.arange(len(fi))
        keep = fi > ids
        return np.stack([ids[keep], fi[keep]], axis=1)

    @cached_property
    def upper_ids(self) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.keypoint_types) if t == "upper"], dtype=np.int64)

    @cached_property
    def lower_ids(self) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.keypoint_types) if t == "lower"], dtype=np.int64)

    def sigmas_or_default(self, *, warn: bool = True) -> tuple[np.ndarray, bool]:
        """The OKS sigmas and whether they were defaulted (with a loud warning)."""
        if self.sigmas is not None:
            return self.sigmas, False
        if warn:
            warnings.warn(
                f"dataset meta '{self.name}' has no OKS sigmas: using {DEFAULT_SIGMA} for every "
                "keypoint. AP is not comparable with published numbers; add `sigmas:` to the meta.",
                SigmaDefaultWarning,
                stacklevel=2,
            )
        return np.full(self.num_keypoints, DEFAULT_SIGMA, dtype=np.float32), True

    # ----------------------------------------------------------------- checks
    def _err(self, entry: str, message: str) -> DataError:
        return DataError(message, file=self.source, entry=entry, hint="fix the dataset meta YAML")

    def _check(self) -> None:
        k = len(self.keypoint_names)
        if k == 0:
            raise self._err("keypoints", "no keypoints defined")
        seen: set[str] = set()
        for i, n in enumerate(self.keypoint_names):
            if not isinstance(n, str) or not n:
                raise self._err(f"keypoints[{i}]", f"keypoint name must be a non-empty string, got {n!r}")
            if n in seen:
                raise self._err(f"keypoints[{i}]", f"duplicate keypoint name '{n}'")
            seen.add(n)
        if len(self.swap) != k:
            raise self._err("keypoints", f"{len(self.swap)} swap entries for {k} keypoints")
        names = dict(zip(self.keypoint_names, self.swap))
        for i, (n, s) in enumerate(zip(self.keypoint_names, self.swap)):
            if not s:
                continue
            if s not in names:
                raise self._err(f"keypoints[{i}] {n}", f"swap partner '{s}' is not a keypoint")
            if s == n:
                raise self._err(f"keypoints[{i}] {n}", "a keypoint cannot swap with itself (leave swap empty)")
            if names[s] != n:
                back = names[s] or "nothing"
                raise self._err(f"keypoints[{i}] {n}", f"swap partners are not mutual: {n} -> {s}, but {s} -> {back}")
        for name, arr in (("joint_weights", self.joint_weights), ("sigmas", self.sigmas)):
            if arr is None:
                continue
            if arr.shape != (k,):
                raise self._err(name, f"{arr.size} {name} for {k} keypoints")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0) or (name == "sigmas" and np.any(arr == 0)):
                raise self._err(name, f"{name} must be finite and positive")
        if self.skeleton.ndim != 2 or self.skeleton.shape[1] != 2:
            raise self._err("skeleton", "each skeleton link must be a pair of keypoints")
        if len(self.skeleton) and (self.skeleton.min() < 0 or self.skeleton.max() >= k):
            raise self._err("skeleton", f"skeleton index outside 0..{k - 1}")
        for i, t in enumerate(self.keypoint_types):
            if t not in ("upper", "lower"):
                raise self._err(f"keypoints[{i}]", f"type must be 'upper' or 'lower', got {t!r}")
        if self.keypoint_colors.shape != (k, 3) or self.skeleton_colors.shape != (len(self.skeleton), 3):
            raise self._err("colors", "one RGB colour per keypoint and per skeleton link")

    # --------------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        names = self.keypoint_names
        return {
            "name": self.name,
            "category": self.category,
            "keypoints": [
                {"name": n, "color": [int(c) for c in col], "type": t, "swap": s}
                for n, col, t, s in zip(names, self.keypoint_colors, self.keypoint_types, self.swap)
            ],
            "skeleton": [
                {"link": [names[a], names[b]], "color": [int(c) for c in col]}
                for (a, b), col in zip(self.skeleton.tolist(), self.skeleton_colors)
            ],
            "joint_weights": [round(float(w), 6) for w in self.joint_weights],
            "sigmas": None if self.sigmas is None else [round(float(s), 6) for s in self.sigmas],
        }

    def save(self, path: str | Path) -> None:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, width=100)
        write_text(path, text)

    @classmethod
    def from_dict(cls, d: Any, source: str = "<memory>") -> DatasetMeta:
        """Build from the YAML layout; keypoints may be plain names, links names or 0-based ids."""
        if not isinstance(d, dict):
            raise _meta_error("<top>", "a dataset meta must be a mapping with 'name' and 'keypoints'", source)
        try:
            spec = MetaSpec.model_validate(d)
        except ValidationError as e:
            raise _first_error(e, source) from None
        return spec.build(source)


# ----------------------------------------------------------------- the YAML layout (pydantic)
def _meta_error(entry: str, message: str, source: str) -> DataError:
    return DataError(message, file=source, entry=entry, hint="fix the dataset meta YAML")


def _colour(c: Any) -> Any:
    if c is not None and not (isinstance(c, (list, tuple)) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)):
        raise PydanticCustomError("colour", "colour must be [r, g, b] in 0..255, got {c}", {"c": repr(c)})
    return c


def _numbers(v: Any) -> Any:
    """Numbers as a flat list (a single number is a list of one), None as None."""
    if v is None:
        return None
    try:
        return np.asarray(v, dtype=np.float32).reshape(-1).tolist()
    except (TypeError, ValueError):
        raise PydanticCustomError("numbers", "must be a list of numbers") from None


Colour = Annotated[Any, AfterValidator(_colour)]
Numbers = Annotated[list[float] | None, BeforeValidator(_numbers)]


class KeypointSpec(BaseModel):
    """One keypoint: a plain name, or a mapping with ``name`` and optional colour, type, swap partner."""

    model_config = ConfigDict(extra="ignore")
    name: StrictStr
    color: Colour = None
    type: Any = None
    swap: Any = None

    @model_validator(mode="before")
    @classmethod
    def _plain_name(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v


class LinkSpec(BaseModel):
    """One skeleton link: a pair of keypoint names or 0-based ids, or a mapping with ``link``."""

    link: list[Any] = Field(min_length=2, max_length=2)
    color: Colour = None

    @model_validator(mode="before")
    @classmethod
    def _plain_pair(cls, v: Any) -> Any:
        return {"link": v} if isinstance(v, (list, tuple)) else v


class MetaSpec(BaseModel):
    """A dataset meta YAML as written; ``build`` resolves names, swaps, colours and types."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1)
    category: Any = None
    keypoints: list[KeypointSpec] = Field(min_length=1, strict=True)
    skeleton: Annotated[list[LinkSpec] | None, BeforeValidator(lambda v: v or None)] = None
    joint_weights: Numbers = None
    sigmas: Numbers = None

    def build(self, source: str) -> DatasetMeta:
        names = [kp.name for kp in self.keypoints]
        swap = [str(kp.swap or "") for kp in self.keypoints]
        if not any(swap) and not any("swap" in kp.model_fields_set for kp in self.keypoints):
            swap = derive_swap(names)
        links = [_link_ids(link.link, names, f"skeleton[{j}]", source) for j, link in enumerate(self.skeleton or [])]
        kcol = [kp.color or _side_colour(kp.name) for kp in self.keypoints]
        scol = [link.color or (_side_colour(names[a]) if _side(names[a]) == _side(names[b]) else CENTER_COLOR) for link, (a, b) in zip(self.skeleton or [], links)]
        return DatasetMeta(
            name=self.name,
            keypoint_names=names,
            swap=swap,
            skeleton=np.asarray(links, dtype=np.int64).reshape(-1, 2),
            keypoint_colors=np.asarray(kcol, dtype=np.uint8).reshape(-1, 3),
            skeleton_colors=np.asarray(scol, dtype=np.uint8).reshape(-1, 3),
            keypoint_types=[str(kp.type or _guess_type(kp.name)) for kp in self.keypoints],
            joint_weights=np.ones(len(names), np.float32) if self.joint_weights is None else np.asarray(self.joint_weights, np.float32),
            sigmas=None if self.sigmas is None else np.asarray(self.sigmas, np.float32),
            category=str(self.category or "object"),
            source=source,
        )


def _link_ids(pair: list[Any], names: list[str], entry: str, source: str) -> list[int]:
    """A link's two keypoints as 0-based ids; each is a name or an id."""
    index = {n: i for i, n in enumerate(names)}
    ids = []
    for p in pair:
        if isinstance(p, str) and p in index:
            ids.append(index[p])
        elif isinstance(p, int) and not isinstance(p, bool) and 0 <= p < len(names):
            ids.append(p)
        else:
            raise _meta_error(entry, f"unknown keypoint {p!r}", source)
    return ids


#: The order problems are reported in: unknown keys (alphabetical), then by field, colours
#: (of keypoints, then of links) after the keypoints and links themselves.
_REPORT_ORDER = ("extra_forbidden", "keypoints", "skeleton", "colour", "joint_weights", "name", "sigmas")


def _report_order(error: Any) -> tuple[int, str, tuple[Any, ...]]:
    key = str(error["loc"][0])
    if error["type"] == "extra_forbidden":
        return 0, key, ()
    rank = _REPORT_ORDER.index("colour" if error["type"] == "colour" else key)
    return rank, key if rank == 3 else "", tuple(error["loc"][1:2])


def _first_error(e: ValidationError, source: str) -> DataError:
    """pydantic's first error (see ``_report_order``) as a one-line ``DataError``."""
    first = min(e.errors(), key=_report_order)
    loc = first["loc"]
    key = str(loc[0])
    entry = f"{key}[{loc[1]}]" if len(loc) > 1 and key in ("keypoints", "skeleton") else key
    if first["type"] == "extra_forbidden":
        return _meta_error(key, "unknown key in dataset meta", source)
    if first["type"] == "colour":
        return _meta_error(entry, first["msg"], source)
    message = {
        "name": "'name' must be a non-empty string",
        "keypoints": "'keypoints' must be a non-empty list" if len(loc) == 1 else "each keypoint is a name or a mapping with 'name'",
        "skeleton": "a link is a pair of keypoint names or 0-based ids",
    }.get(key, f"'{key}' must be a list of numbers")
    return _meta_error(entry, message, source)


def load_meta(spec: str | Path) -> DatasetMeta:
    """A preset name (``coco``, ``ap10k``, ``animalpose``, ``mpii``) or a path to a meta YAML."""
    if isinstance(spec, str) and spec in PRESETS:
        text = resources.files("pose.data").joinpath(f"presets/{spec}.yaml").read_text("utf-8")
        return DatasetMeta.from_dict(yaml.safe_load(text), source=f"preset:{spec}")
    path = Path(spec)
    if not path.is_file():
        raise DataError(
            "no such meta file or preset", file=path, hint=f"use a YAML path or one of {', '.join(PRESETS)}"
        )
    try:
        d = yaml.safe_load(path.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise DataError(f"not valid YAML ({' '.join(str(e).split())})", file=path, entry="<top>") from None
    return DatasetMeta.from_dict(d, source=str(path))


# ----------------------------------------------------------------- drafting from names
_LR = re.compile(r"(?i)(left|right)")
_TOKEN_LR = re.compile(r"(?i)(?<![a-z])(l|r)(?![a-z])")


def _flip_word(m: re.Match[str]) -> str:
    w = m.group(0)
    other = {"left": "right", "right": "left", "l": "r", "r": "l"}[w.lower()]
    if w.isupper():
        return other.upper()
    return other.capitalize() if w[0].isupper() else other


def _mirror_name(name: str) -> str | None:
    if _LR.search(name):
        return _LR.sub(_flip_word, name)
    if _TOKEN_LR.search(name):
        return _TOKEN_LR.sub(_flip_word, name)
    return None


def derive_swap(names: list[str]) -> list[str]:
    """Swap partners from left/right naming (``left_eye``, ``l_eye``, ``LeftEar``, ``leftear``)."""
    present = set(names)
    swap = []
    for n in names:
        m = _mirror_name(n)
        swap.append(m if m and m != n and m in present else "")
    index = dict(zip(names, swap))
    return [s if s and index.get(s) == n else "" for n, s in zip(names, swap)]


def _side(name: str) -> str:
    m = _mirror_name(name)
    if m is None:
        return "center"
    hit = _LR.search(name) or _TOKEN_LR.search(name)
    return "left" if hit and hit.group(0).lower().startswith("l") else "right"


def _side_colour(name: str) -> tuple[int, int, int]:
    return {"left": LEFT_COLOR, "right": RIGHT_COLOR}.get(_side(name), CENTER_COLOR)


def _guess_type(name: str) -> str:
    low = name.lower()
    return "lower" if any(w in low for w in _LOWER_WORDS) else "upper"


def meta_from_coco_category(
    category: dict[str, Any], *, name: str | None = None, sigmas: list[float] | None = None, source: str = "<coco>"
) -> DatasetMeta:
    """Draft a meta from a COCO category: names, 1-based skeleton, swap partners from names."""
    kps = category.get("keypoints") or []
    if not kps:
        raise DataError(
            "category has no keypoint names",
            file=source,
            entry=f"categories[id={category.get('id')}]",
            hint="write the meta YAML by hand (see pose/data/presets/coco.yaml)",
        )
    skel = category.get("skeleton") or []
    flat = [v for link in skel for v in link] if skel else []
    k = len(kps)
    if flat and (min(flat) < 1 or max(flat) > k):
        raise DataError(
            f"skeleton index outside 1..{k} (COCO skeletons are 1-based)",
            file=source,
            entry=f"categories[id={category.get('id')}].skeleton",
        )
    d = {
        "name": name or str(category.get("name") or "custom"),
        "category": str(category.get("name") or "object"),
        "keypoints": list(kps),
        "skeleton": [[a - 1, b - 1] for a, b in skel],
        "sigmas": sigmas,
    }
    return DatasetMeta.from_dict(d, source=source)
