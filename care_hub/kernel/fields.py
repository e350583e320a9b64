"""Constrained input types shared by every API schema, so bad input is a 422, never a 500.

Ids fit the 64-bit integer columns (a larger one is an OverflowError in the driver), times are
finite (NaN cannot be compared nor written as JSON), and no text carries a NUL character
(PostgreSQL rejects it in text and JSON). Use them for path, query and body fields alike.
"""

from __future__ import annotations

from typing import Annotated, Any

import annotated_types
from pydantic import AfterValidator, AllowInfNan, BaseModel, StringConstraints, model_validator

# Largest value of a signed 64-bit column (BIGINT; SQLite INTEGER).
MAX_DB_INT = 2**63 - 1
NUL = "\x00"


def _no_nul(value: str) -> str:
    if NUL in value:
        raise ValueError("text must not contain NUL characters")
    return value


# A database id: sequences start at 1. Bare annotated_types (not pydantic.Field) so FastAPI
# accepts the alias in path and query parameters as well as in bodies.
Id = Annotated[int, annotated_types.Ge(1), annotated_types.Le(MAX_DB_INT)]
# Epoch seconds or a duration: finite.
Seconds = Annotated[float, AllowInfNan(False)]
# Free text without NUL characters.
Text = Annotated[str, AfterValidator(_no_nul)]
# Device and resident ids (PROTOCOL: `[A-Za-z0-9_-]{1,64}`).
Key = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def find_nul(value: Any, path: str = "") -> str | None:
    """Where a NUL character hides in nested JSON-like input (keys too), or None."""
    if isinstance(value, str):
        return path or "value" if NUL in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and NUL in k:
                return f"{path}.{k!r}" if path else repr(k)
            if (found := find_nul(v, f"{path}.{k}" if path else str(k))) is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            if (found := find_nul(v, f"{path}[{i}]")) is not None:
                return found
    return None


class ApiModel(BaseModel):
    """Base of request bodies: no NUL character anywhere, free-form dicts included."""

    @model_validator(mode="before")
    @classmethod
    def _reject_nul(cls, data: Any) -> Any:
        if (where := find_nul(data)) is not None:
            raise ValueError(f"{where}: text must not contain NUL characters")
        return data
