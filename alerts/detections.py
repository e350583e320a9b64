"""Turn signal-core detections into alerts, trail visits and stored radar vitals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import service
from alerts.policy import DEFAULT_SEVERITY
from care_hub.kernel.detections import (
    ApneaFound,
    BehaviourFound,
    Detection,
    FallFound,
    VisitFound,
    VitalsAbnormal,
    VitalsFound,
)
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import Measurement, ZoneVisit
from devices.registry import DeviceInfo

# A person on the floor for minutes without a recognised fall still needs checking: lower than a
# confirmed fall (which is critical), but an immediate-response priority all the same.
FLOOR_DWELL_SEVERITY = "high"
# An apnea of 10 s alerts at once (AASM definition); it turns critical at 20 s or when repeated.
APNEA_ONSET_SEVERITY = "high"
# A radar rate in a NEWS2 single-parameter '3' band: "urgent ward response" (RCP 2017).
RADAR_VITALS_SEVERITY = "medium"


def fall_key(device_id: str) -> str:
    return f"fall:{device_id}"


async def handle_detection(
    session: AsyncSession, bus: EventBus, device: DeviceInfo, d: Detection
) -> None:
    base: dict[str, Any] = {
        "facility_id": device.facility_id,
        "resident_id": device.resident_id,
        "device_id": device.id,
    }
    if isinstance(d, VisitFound):
        await _visit(session, bus, device, d)
    elif isinstance(d, VitalsFound):
        session.add(
            Measurement(
                resident_id=device.resident_id,
                device_id=device.id,
                kind="radar_vitals",
                ts=d.ts,
                source="radar",
                values={
                    "breathing_bpm": d.breathing_bpm,
                    "heart_bpm": d.heart_bpm,
                    "quality": round(d.quality, 3),
                },
            )
        )
    elif isinstance(d, FallFound):
        await _fall(session, bus, device, d)
    elif isinstance(d, ApneaFound):
        severity = "critical" if d.severity == "critical" else APNEA_ONSET_SEVERITY
        detail = {
            "phase": d.phase,
            "start_ts": d.start_ts,
            "end_ts": d.end_ts,
            "duration_s": round(d.duration_s, 1),
            "recent_count": d.recent_count,
            "rule": "AASM apnea: >=90% drop in breathing amplitude for >=10 s",
        }
        active = await service.find_active(session, f"apnea:{device.id}")
        if d.phase == "end" and active is None:
            return
        alert, _ = await service.raise_alert(
            session,
            bus,
            type="apnea",
            severity=severity,
            dedupe_key=f"apnea:{device.id}",
            detail=detail,
            **base,
        )
        if severity == "critical" and alert.severity != "critical":
            alert.severity = "critical"  # escalated in place: one alert per situation
    elif isinstance(d, VitalsAbnormal):
        await service.raise_alert(
            session,
            bus,
            type="vitals",
            severity=RADAR_VITALS_SEVERITY,
            dedupe_key=f"vitals:radar:{device.id}:{d.parameter}",
            detail={
                "rule": f"news2:{d.parameter}",
                "source": "radar",
                "parameter": d.parameter,
                "value": round(d.value, 1),
                "news2_score": d.news2_score,
                "sustained_s": round(d.sustained_s),
                "reason": "NEWS2 single-parameter score 3 (RCP 2017)",
            },
            **base,
        )
    elif isinstance(d, BehaviourFound):
        await service.raise_alert(
            session,
            bus,
            type=d.kind,
            severity=DEFAULT_SEVERITY.get(d.kind, "medium"),
            dedupe_key=f"{d.kind}:{device.id}:{d.key}",
            detail={"reason": d.reason, "since_ts": d.since_s},
            **base,
        )


async def _visit(session: AsyncSession, bus: EventBus, device: DeviceInfo, d: VisitFound) -> None:
    """One stay in a zone: an ongoing one (left_at None) is stored open and closed when it ends,
    and every change is a `presence.changed` event for the floor's wall and the family page."""
    ongoing = select(ZoneVisit).where(ZoneVisit.device_id == device.id, ZoneVisit.left_at.is_(None))
    if d.left_at is None:
        # A stay the hub never saw end (a restart) ends where this one begins.
        for stale in (await session.scalars(ongoing)).all():
            stale.left_at = max(stale.entered_at, d.entered_at)
        row = None
    else:
        row = await session.scalar(
            ongoing.where(ZoneVisit.zone == d.zone, ZoneVisit.entered_at == d.entered_at)
        )
    if row is not None:
        row.left_at = d.left_at
    else:
        session.add(
            ZoneVisit(
                resident_id=device.resident_id,
                device_id=device.id,
                zone=d.zone,
                entered_at=d.entered_at,
                left_at=d.left_at,
            )
        )
    if device.resident_id is not None and d.left_at is None:
        bus.record(
            session,
            type="presence.changed",
            data={
                "resident_id": device.resident_id,
                "zone": d.zone,
                "entered_at": d.entered_at,
                "left_at": d.left_at,
            },
            facility_id=device.facility_id,
            resident_id=device.resident_id,
        )


async def _fall(session: AsyncSession, bus: EventBus, device: DeviceInfo, d: FallFound) -> None:
    detail: dict[str, Any] = {
        "impact_ts": d.impact_s,
        "pre_height_m": _r(d.pre_height_m),
        "floor_height_m": _r(d.floor_height_m),
        "x_m": _r(d.x_m),
        "y_m": _r(d.y_m),
        "detected_ts": d.at_s,
    }
    # What was seen: the alert says why it was raised (descent, speed, time down, the score).
    seen = {
        "descent_s": _r(d.descent_s),
        "peak_fall_mps": _r(d.peak_fall_mps),
        "down_s": _r(d.down_s),
        "drop_m": _r(d.pre_height_m - d.floor_height_m),
        "score": _r(d.score),
    }
    # every key, unknown ones as None: a later detection updating the open alert must not keep
    # an earlier one's descent or drop as if it had been seen again
    detail.update(seen)
    if d.features:
        detail["features"] = {name: _r(value) for name, value in d.features}
    if d.kind == "suspected":
        # Not an alert yet (the resident may get up or cancel), but screens may show it.
        bus.record(
            session,
            type="fall.suspected",
            data={"device_id": device.id, **detail},
            facility_id=device.facility_id,
            resident_id=device.resident_id,
        )
    elif d.kind == "cancelled":
        bus.record(
            session,
            type="fall.cancelled",
            data={"device_id": device.id, "reason": d.reason, **detail},
            facility_id=device.facility_id,
            resident_id=device.resident_id,
        )
        if d.reason == "button_late":
            await _cancel_confirmed(session, bus, device, d)
    elif d.kind in ("confirmed", "floor_dwell"):
        severity = DEFAULT_SEVERITY["fall"] if d.kind == "confirmed" else FLOOR_DWELL_SEVERITY
        await service.raise_alert(
            session,
            bus,
            type="fall",
            severity=severity,
            facility_id=device.facility_id,
            resident_id=device.resident_id,
            device_id=device.id,
            dedupe_key=fall_key(device.id),
            detail={"kind": d.kind, **detail},
        )


async def _cancel_confirmed(
    session: AsyncSession, bus: EventBus, device: DeviceInfo, d: FallFound
) -> None:
    """The resident pressed cancel before the confirmation ended, and the press reached the
    detector after it: close the alert that confirmation raised, as a cancel in time would have
    prevented it (only that fall's alert, and only while it is open)."""
    alert = await service.find_active(session, fall_key(device.id), lock=True)
    if alert is None or alert.detail.get("kind") != "confirmed":
        return
    impact = alert.detail.get("impact_ts")
    if not isinstance(impact, int | float) or abs(impact - d.impact_s) > 0.01:
        return  # a later fall's alert, or one another detection updated
    await service.resolve(
        session,
        bus,
        alert,
        actor=device.id,
        source="device",
        outcome="cancelled",
        note="cancelled by the resident at the button before the fall was confirmed"
        " (the press reached the hub after the confirmation)",
    )


def _r(v: float) -> float | None:
    return None if v != v else round(float(v), 2)  # NaN -> None for JSON
