"""What every params schema shares: strict models (unknown keys refused) and key look-up for hints."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A params section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def nearest(name: str, options: list[str]) -> str:
    """Hint for a misspelt key: the closest valid one, else the list of valid ones."""
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(sorted(options))}"


def _fields(tp: Any) -> dict[str, Any] | None:
    """The fields of a pydantic model or pydantic dataclass type, else None."""
    return getattr(tp, "__pydantic_fields__", None) if isinstance(tp, type) else None


def keys_at(model: type[BaseModel], path: list[str]) -> list[str] | None:
    """Valid keys at ``path`` inside ``model``; None inside a free-form mapping."""
    cur: Any = model
    for p in path:
        if getattr(cur, "__origin__", None) is dict:
            return None
        field = (_fields(cur) or {}).get(p)
        if field is None:
            return []
        cur = field.annotation
    if getattr(cur, "__origin__", None) is dict:
        return None
    return list(_fields(cur) or [])
