"""Response shapes (`XPublic`) of the alerts, auth and system routers, for the OpenAPI schema.

They describe what `alerts.service.public_alert`, `alerts.routing.family_view` and the routers
return; extra keys pass through (`extra="allow"`), so a field added later is served before it is
documented, never dropped.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AlertPublic(_Open):
    """An alert; a family member gets a subset (no device, room or staff names) plus `status`
    and `acknowledged_by_role`."""

    id: int
    type: str = Field(description="fall, call, vitals, apnea, inactivity, bed_exit, ...")
    severity: str | None = Field(default=None, description="critical, high, medium or low")
    priority: str | None = None
    state: str | None = Field(default=None, description="open, acknowledged or resolved")
    resident_id: str | None = None
    resident_name: str | None = None
    room: str | None = None
    device_id: str | None = None
    facility_id: int | None = None
    raised_at: float | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    outcome: str | None = None
    detail: dict[str, Any] | None = None


class AlertHistoryEntry(_Open):
    at: float
    action: str
    actor: str | None = None
    source: str | None = None
    note: str | None = None
    data: dict[str, Any] | None = None


class AlertWithHistoryPublic(AlertPublic):
    history: list[AlertHistoryEntry] = Field(default_factory=list)


class CommentPublic(BaseModel):
    id: int
    alert_id: int
    at: float
    actor: str | None
    text: str | None


class CoveragePublic(BaseModel):
    id: int
    facility_id: int
    user_id: int
    shift: str | None
    duty: str | None
    floors: list[Any] | None
    wings: list[Any] | None
    resident_ids: list[str] | None
    active: bool


class RosterPublic(BaseModel):
    current_shift: str | None
    assignments: list[CoveragePublic]


class ResponseTimesPublic(_Open):
    """Median and p90 per facility, shift and type, false-alarm rates and their definitions."""


class TokenPublic(_Open):
    access_token: str
    token_type: str = Field(description="bearer")
    role: str | None = None
    user_id: int | None = None
    name: str | None = None


class MePublic(_Open):
    id: int
    username: str
    name: str
    role: str
    facility_id: int | None
    resident_ids: list[str]
