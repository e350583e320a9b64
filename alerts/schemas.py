"""API shapes of the alert engine: requests for handling alerts and for the coverage roster."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from alerts.policy import MAX_SNOOZE_S

Outcome = Literal[
    "real_fall",
    "false_alarm",
    "assisted",
    "transferred_to_hospital",
    "resolved",
    "no_action_needed",
    "referred_to_gp",
]


class FallAnswers(BaseModel):
    """The three questions care homes record after a fall alarm; they tune the system."""

    on_floor: bool | None = None
    was_resident: bool | None = None
    unintentional: bool | None = None


class AckRequest(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class ResolveRequest(BaseModel):
    note: str | None = Field(default=None, max_length=2000)
    outcome: Outcome | None = None
    answers: FallAnswers | None = None


class AssignRequest(BaseModel):
    user_id: int
    note: str | None = Field(default=None, max_length=2000)


class CommentCreate(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class SnoozeRequest(BaseModel):
    seconds: float = Field(gt=0, le=MAX_SNOOZE_S, description=f"at most {MAX_SNOOZE_S} s")
    note: str | None = Field(default=None, max_length=2000)


class CoverageCreate(BaseModel):
    facility_id: int
    user_id: int
    shift: str = Field(min_length=1, max_length=20, examples=["day", "night"])
    duty: Literal["caregiver", "charge_nurse"] = "caregiver"
    floors: list[str] = Field(default_factory=list)
    wings: list[str] = Field(default_factory=list)
    resident_ids: list[str] = Field(default_factory=list)
