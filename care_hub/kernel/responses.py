"""Documented error responses, shared by the API and family portal routers: `errors(401, 404)`.

Every error the API sends is `{"detail": ...}`: a sentence from an `HTTPException`, or FastAPI's
list of field errors for a request that fails validation (422).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

DESCRIPTIONS = {
    400: "bad request",
    401: "no bearer token, or an invalid, expired or revoked one",
    403: "the caller's role or facility may not do this",
    404: "no such object (or not one the caller may see)",
    409: "the object's state does not allow this, or it already exists",
    422: "the request fails validation (the field is named)",
    429: "too many attempts: retry after the Retry-After header's seconds",
    503: "busy: retry after the Retry-After header's seconds",
}


class ErrorPublic(BaseModel):
    detail: str | list[dict[str, Any]] | dict[str, Any] = Field(
        description="what went wrong: a sentence, or FastAPI's field errors"
    )


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry documenting these error codes with `ErrorPublic`."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorPublic, "description": DESCRIPTIONS[code]}
        if code in (429, 503):
            entry["headers"] = {
                "Retry-After": {"description": "seconds", "schema": {"type": "integer"}}
            }
        out[code] = entry
    return out
