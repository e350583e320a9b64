"""Resident views shared by family and staff: activity trail and vitals (role-checked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from care_hub.kernel.db import now_s
from care_hub.kernel.deps import CurrentUser, SessionDep
from care_hub.kernel.fields import Key, Seconds, Text
from care_hub.kernel.local_time import DEFAULT_TIMEZONE
from care_hub.kernel.models import Facility, Measurement, Resident, ZoneVisit
from care_hub.kernel.responses import errors
from care_hub.signal_core.behaviour import ResidentSettings, daily_summary, local_midnight
from care_hub.signal_core.zones import ZoneVisit as ZoneVisitRecord
from family_portal.fhir import vitals_bundle
from family_portal.schemas import FhirBundlePublic, SummaryPublic, TrailPublic, VitalsPublic

router = APIRouter(prefix="/api/residents", tags=["residents"])
DAY_S = 86_400.0
# A chart needs no more; a week of one reading a minute is ~10,000.
MAX_READINGS = 10_000

# Normal bands for charts, per kind and value: the NEWS2 zero-score ranges (Royal College of
# Physicians, 2017) and, for glucose, the ADA/consensus target range 3.9-10.0 mmol/L (Battelino
# et al., Diabetes Care 2019). SpO2 scale 2 (hypercapnic failure) targets 88-92%.
NORMAL_BANDS: dict[str, dict[str, list[float]]] = {
    "blood_pressure": {"systolic": [111, 219], "pulse": [51, 90]},
    "spo2": {"percent": [96, 100], "pulse": [51, 90]},
    "pulse": {"bpm": [51, 90]},
    "temperature": {"celsius": [36.1, 38.0]},
    "glucose": {"mmol_l": [3.9, 10.0]},
    "radar_vitals": {"breathing_bpm": [12, 20], "heart_bpm": [51, 90]},
}
SPO2_SCALE2_BAND: list[float] = [88.0, 92.0]


async def _visible_resident(session: Any, resident_id: str, user: Any) -> Resident:
    resident = await session.get(Resident, resident_id)
    # 404 rather than 403 for someone else's relative: do not confirm who lives here.
    if resident is None or not user.can_see_resident(resident.id, resident.facility_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"resident {resident_id} not found")
    return resident


async def _measurements(
    session: Any, resident_id: str, start: float, end: float, kind: str | None = None
) -> list[Measurement]:
    query = select(Measurement).where(
        Measurement.resident_id == resident_id, Measurement.ts >= start, Measurement.ts <= end
    )
    if kind:
        query = query.where(Measurement.kind == kind)
    return list((await session.scalars(query.order_by(Measurement.ts).limit(MAX_READINGS))).all())


def _window(from_: float | None, to: float | None) -> tuple[float, float]:
    end = to if to is not None else now_s()
    start = from_ if from_ is not None else end - DAY_S
    if start > end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "'from' is after 'to'")
    return start, end


@router.get("/{resident_id}/trail", response_model=TrailPublic, responses=errors(401, 404, 422))
async def trail(
    resident_id: Key,
    session: SessionDep,
    user: CurrentUser,
    from_: Annotated[Seconds | None, Query(alias="from")] = None,
    to: Seconds | None = None,
) -> dict[str, Any]:
    await _visible_resident(session, resident_id, user)
    start, end = _window(from_, to)
    visits = (
        await session.scalars(
            select(ZoneVisit)
            .where(
                ZoneVisit.resident_id == resident_id,
                ZoneVisit.entered_at <= end,
                (ZoneVisit.left_at.is_(None)) | (ZoneVisit.left_at >= start),
            )
            .order_by(ZoneVisit.entered_at)
        )
    ).all()
    from alerts.models import Alert

    alerts = (
        await session.scalars(
            select(Alert)
            .where(
                Alert.resident_id == resident_id, Alert.raised_at >= start, Alert.raised_at <= end
            )
            .order_by(Alert.raised_at)
        )
    ).all()
    return {
        "resident_id": resident_id,
        "from": start,
        "to": end,
        "visits": [
            {"zone": v.zone, "entered_at": v.entered_at, "left_at": v.left_at} for v in visits
        ],
        "events": [
            {
                "ts": a.raised_at,
                "type": a.type,
                "detail": {"alert_id": a.id, "state": a.state, "severity": a.severity},
            }
            for a in alerts
        ],
    }


@router.get("/{resident_id}/vitals", response_model=VitalsPublic, responses=errors(401, 404, 422))
async def vitals(
    resident_id: Key,
    session: SessionDep,
    user: CurrentUser,
    kind: Annotated[Text | None, Query(max_length=40)] = None,
    from_: Annotated[Seconds | None, Query(alias="from")] = None,
    to: Seconds | None = None,
) -> dict[str, Any]:
    resident = await _visible_resident(session, resident_id, user)
    start, end = _window(from_, to)
    rows = await _measurements(session, resident_id, start, end, kind)
    return {
        "resident_id": resident_id,
        "from": start,
        "to": end,
        "readings": [
            {
                "ts": m.ts,
                "kind": m.kind,
                "values": m.values,
                "source": m.source,
                "device_id": m.device_id,
            }
            for m in rows
        ],
        "bands": _bands(resident),
    }


def _bands(resident: Resident) -> dict[str, dict[str, list[float]]]:
    bands = {kind: dict(values) for kind, values in NORMAL_BANDS.items()}
    if resident.hypercapnic:
        bands["spo2"]["percent"] = SPO2_SCALE2_BAND
    return bands


@router.get("/{resident_id}/summary", response_model=SummaryPublic, responses=errors(401, 404, 422))
async def summary(
    resident_id: Key,
    session: SessionDep,
    user: CurrentUser,
    day_start: Annotated[
        Seconds | None,
        Query(description="local midnight, epoch s; default: today's, in the facility's zone"),
    ] = None,
) -> dict[str, Any]:
    """Daily summary from the trail: time in bed, active and away, bathroom visits, night-time bed
    exits and room changes (`care_hub.signal_core.behaviour.daily_summary`)."""
    resident = await _visible_resident(session, resident_id, user)
    facility = await session.get(Facility, resident.facility_id)
    settings = ResidentSettings(
        lives_alone=resident.lives_alone,
        timezone=facility.timezone if facility is not None else DEFAULT_TIMEZONE,
    )
    now = now_s()
    # The day a person means: from local midnight in the care home's time zone.
    start = day_start if day_start is not None else local_midnight(now, settings)
    rows = (
        await session.scalars(
            select(ZoneVisit)
            .where(ZoneVisit.resident_id == resident_id, ZoneVisit.entered_at < start + DAY_S)
            .where((ZoneVisit.left_at.is_(None)) | (ZoneVisit.left_at >= start))
            .order_by(ZoneVisit.entered_at)
        )
    ).all()
    visits = [ZoneVisitRecord(0, v.zone, v.entered_at, v.left_at) for v in rows]  # type: ignore[arg-type]
    s = daily_summary(visits, start, settings, now_s=now)
    return {
        "resident_id": resident_id,
        "day_start": start,
        "timezone": settings.timezone,
        **{k: getattr(s, k) for k in s.__slots__},
    }


@router.get("/{resident_id}/fhir", response_model=FhirBundlePublic, responses=errors(401, 404, 422))
async def fhir_export(
    resident_id: Key,
    session: SessionDep,
    user: CurrentUser,
    from_: Annotated[Seconds | None, Query(alias="from")] = None,
    to: Seconds | None = None,
) -> dict[str, Any]:
    """The resident's vitals as a FHIR R4 Bundle of Observations (LOINC), for a clinic's system."""
    resident = await _visible_resident(session, resident_id, user)
    start, end = _window(from_, to)
    rows = await _measurements(session, resident_id, start, end)
    records = [{"kind": m.kind, "values": m.values, "ts": m.ts, "source": m.source} for m in rows]
    return vitals_bundle(resident_id, records, resident_name=resident.name)
