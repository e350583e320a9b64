"""API shapes of the alert engine: requests for handling alerts and for the coverage roster."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from alerts.policy import MAX_SNOOZE_S
from care_hub.kernel.fields import ApiModel, Id, Key, Seconds, Text

Outcome = Literal[
    "real_fall",
    "false_alarm",
    "assisted",
    "transferred_to_hospital",
    "resolved",
    "no_action_needed",
    "referred_to_gp",
]


class FallAnswers(ApiModel):
    """The three questions care homes record after a fall alarm; they tune the system."""

    on_floor: bool | None = None
    was_resident: bool | None = None
    unintentional: bool | None = None


class AckRequest(ApiModel):
    note: Text | None = Field(default=None, max_length=2000)


class ResolveRequest(ApiModel):
    note: Text | None = Field(default=None, max_length=2000)
    outcome: Outcome | None = None
    answers: FallAnswers | None = None


class AssignRequest(ApiModel):
    user_id: Id
    note: Text | None = Field(default=None, max_length=2000)


class CommentCreate(ApiModel):
    text: Text = Field(min_length=1, max_length=4000)


class SnoozeRequest(ApiModel):
    seconds: Seconds = Field(gt=0, le=MAX_SNOOZE_S, description=f"at most {MAX_SNOOZE_S} s")
    note: Text | None = Field(default=None, max_length=2000)


class CoverageCreate(ApiModel):
    facility_id: Id
    user_id: Id
    shift: Text = Field(min_length=1, max_length=20, examples=["day", "night"])
    duty: Literal["caregiver", "charge_nurse"] = "caregiver"
    floors: list[Annotated[Text, Field(max_length=50)]] = Field(default_factory=list)
    wings: list[Annotated[Text, Field(max_length=50)]] = Field(default_factory=list)
    resident_ids: list[Key] = Field(default_factory=list)
