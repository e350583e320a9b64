"""API shapes of video calls, resident screens, resident video settings and check-in schedules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from care_hub.kernel.fields import ApiModel, Id, Key, Text

Weekday = Annotated[int, Field(ge=1, le=7)]


class CallCreate(ApiModel):
    resident_id: Key
    # The acknowledged call alert of a resident's video-call press: the call opens at once.
    alert_id: Id | None = None
    kind: Literal["staff", "checkin"] = "staff"


class ScreenCreate(ApiModel):
    resident_id: Key
    name: Text = Field(min_length=1, max_length=200, examples=["R-0042 room tablet"])
    ttl_s: int = Field(default=365 * 86_400, ge=60, le=5 * 365 * 86_400)


class ScreenCreated(BaseModel):
    id: int
    name: str
    resident_id: str
    access_token: str
    url: str


class ResidentVideoSettings(ApiModel):
    auto_answer: bool | None = None
    family_may_join: bool | None = None
    # The resident's call button is a video caller: its call alerts offer video on acknowledge.
    call_button: bool | None = None


class ScheduleUpdate(ApiModel):
    # ISO weekdays, Monday = 1 .. Sunday = 7; [3] is every Wednesday.
    weekdays: list[Weekday] = Field(min_length=1, max_length=7)
    at_local: Text = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["10:00"])
    active: bool = True


class Ticket(BaseModel):
    ticket: str = Field(description="one use, for /ws/video?ticket=<ticket>")
    expires_in: int
