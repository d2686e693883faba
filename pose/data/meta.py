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
from typing import Any

import numpy as np
import yaml

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

        def err(entry: str, msg: str) -> DataError:
            return DataError(msg, file=source, entry=entry, hint="fix the dataset meta YAML")

        if not isinstance(d, dict):
            raise err("<top>", "a dataset meta must be a mapping with 'name' and 'keypoints'")
        unknown = set(d) - {"name", "category", "keypoints", "skeleton", "joint_weights", "sigmas"}
        if unknown:
            raise err(sorted(unknown)[0], "unknown key in dataset meta")
        kps = d.get("keypoints")
        if not isinstance(kps, list) or not kps:
            raise err("keypoints", "'keypoints' must be a non-empty list")
        names: list[str] = []
        raw: list[dict[str, Any]] = []
        for i, kp in enumerate(kps):
            item = {"name": kp} if isinstance(kp, str) else kp
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise err(f"keypoints[{i}]", "each keypoint is a name or a mapping with 'name'")
            names.append(item["name"])
            raw.append(item)
        swap = [str(item.get("swap") or "") for item in raw]
        if all(not s for s in swap) and not any("swap" in item for item in raw):
            swap = derive_swap(names)
        index = {n: i for i, n in enumerate(names)}
        links: list[list[int]] = []
        link_colors: list[Any] = []
        for j, link in enumerate(d.get("skeleton") or []):
            pair = link.get("link") if isinstance(link, dict) else link
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise err(f"skeleton[{j}]", "a link is a pair of keypoint names or 0-based ids")
            ids = []
            for p in pair:
                if isinstance(p, str):
                    if p not in index:
                        raise err(f"skeleton[{j}]", f"unknown keypoint '{p}'")
                    ids.append(index[p])
                elif isinstance(p, int) and not isinstance(p, bool) and 0 <= p < len(names):
                    ids.append(p)
                else:
                    raise err(f"skeleton[{j}]", f"unknown keypoint {p!r}")
            links.append(ids)
            link_colors.append(link.get("color") if isinstance(link, dict) else None)

        def colour(c: Any, default: tuple[int, int, int], entry: str) -> list[int]:
            if c is None:
                return list(default)
            if not isinstance(c, (list, tuple)) or len(c) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in c):
                raise err(entry, f"colour must be [r, g, b] in 0..255, got {c!r}")
            return list(c)

        kcol = [colour(item.get("color"), _side_colour(n), f"keypoints[{i}]") for i, (n, item) in enumerate(zip(names, raw))]
        scol = [
            colour(c, _side_colour(names[a]) if _side(names[a]) == _side(names[b]) else CENTER_COLOR, f"skeleton[{j}]")
            for j, (c, (a, b)) in enumerate(zip(link_colors, links))
        ]
        types = [str(item.get("type") or _guess_type(n)) for n, item in zip(names, raw)]

        def floats(key: str) -> np.ndarray | None:
            v = d.get(key)
            if v is None:
                return None
            try:
                return np.asarray(v, dtype=np.float32).reshape(-1)
            except (TypeError, ValueError):
                raise err(key, f"'{key}' must be a list of numbers") from None

        weights = floats("joint_weights")
        name = d.get("name")
        if not isinstance(name, str) or not name:
            raise err("name", "'name' must be a non-empty string")
        return cls(
            name=name,
            keypoint_names=names,
            swap=swap,
            skeleton=np.asarray(links, dtype=np.int64).reshape(-1, 2),
            keypoint_colors=np.asarray(kcol, dtype=np.uint8).reshape(-1, 3),
            skeleton_colors=np.asarray(scol, dtype=np.uint8).reshape(-1, 3),
            keypoint_types=types,
            joint_weights=weights if weights is not None else np.ones(len(names), np.float32),
            sigmas=floats("sigmas"),
            category=str(d.get("category") or "object"),
            source=source,
        )


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
