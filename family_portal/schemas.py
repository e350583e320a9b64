"""Response shapes (`XPublic`) of the family API (`family_portal.views`), for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Window(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    resident_id: str
    from_: float = Field(alias="from", description="window start, epoch s")
    to: float = Field(description="window end, epoch s")


class VisitPublic(BaseModel):
    zone: str
    entered_at: float
    left_at: float | None


class TrailEventPublic(BaseModel):
    ts: float
    type: str
    detail: dict[str, Any]


class TrailPublic(_Window):
    visits: list[VisitPublic]
    events: list[TrailEventPublic]


class ReadingPublic(BaseModel):
    ts: float
    kind: str
    values: dict[str, Any]
    source: str | None
    device_id: str | None


class VitalsPublic(_Window):
    readings: list[ReadingPublic]
    bands: dict[str, dict[str, list[float]]] = Field(
        description="normal band per kind and value, for charts"
    )


class SummaryPublic(BaseModel):
    """The day's figures (`care_hub.signal_core.behaviour.DailySummary`), keys as named there."""

    model_config = ConfigDict(extra="allow")

    resident_id: str
    day_start: float
    timezone: str


class FhirBundlePublic(BaseModel):
    """A FHIR R4 Bundle (type collection): the Patient, then Observations (family_portal.fhir)."""

    model_config = ConfigDict(extra="allow")

    resourceType: str = Field(description="Bundle")  # noqa: N815 (FHIR's own name)
    type: str = Field(description="collection")
    entry: list[dict[str, Any]]
