"""Kit readings judged against NEWS2, glucose and blood-pressure rules and the resident's baseline.

Reads the resident's recent measurements, calls the pure judges in `care_hub.signal_core`, and
raises or updates one `vitals` alert per resident and rule. Sources are cited in the judges.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import service
from care_hub.kernel.events import EventBus
from care_hub.kernel.models import Measurement, Resident
from care_hub.signal_core import kit_rules
from care_hub.signal_core.baselines import judge_against_baseline
from care_hub.signal_core.news2 import DEFAULT_WINDOW_S, Parameter, Reading
from devices.events import KitEvent
from devices.registry import DeviceInfo

BASELINE_DAYS = 14.0
# Observations recorded by hand (care_records): ACVPU, supplemental oxygen and a counted
# respiration rate, stored as measurements so NEWS2 reads them with the kit readings of the hour
# instead of taking those parameters as normal.
MANUAL_KIND = "manual_observation"
MANUAL_SOURCE = "manual"
MANUAL_PARAMETERS: tuple[Parameter, ...] = (
    "consciousness",
    "supplemental_oxygen",
    "respiration_rate",
)
# Which stored value is a vital's own series for its personal baseline.
BASELINE_SERIES = {
    ("pulse", "bpm"): "pulse",
    ("spo2", "percent"): "spo2",
    ("temperature", "celsius"): "temperature",
    ("blood_pressure", "systolic"): "systolic_bp",
    ("blood_pressure", "diastolic"): "diastolic_bp",
    ("glucose", "mmol_l"): "glucose",
}


def _recent_readings(rows: list[Measurement]) -> list[Reading]:
    out: list[Reading] = []
    for m in rows:
        if m.source == "kit":
            out += kit_rules.kit_news2_readings(m.kind, m.values, m.ts, "kit")
        elif m.kind == "radar_vitals" and m.values.get("breathing_bpm") is not None:
            out.append(Reading("respiration_rate", float(m.values["breathing_bpm"]), m.ts, "radar"))
        elif m.source == MANUAL_SOURCE:
            out += [
                Reading(p, m.values[p], m.ts, MANUAL_SOURCE)
                for p in MANUAL_PARAMETERS
                if m.values.get(p) is not None
            ]
    return out


async def judge_manual_observation(
    session: AsyncSession, bus: EventBus, *, resident: Resident, at: float, actor: str
) -> None:
    """NEWS2 again when a caregiver records ACVPU, oxygen or a counted rate: with the hour's kit
    and radar readings it may now reach a response band (a new confusion alone scores 3)."""
    rows = (
        await session.scalars(
            select(Measurement)
            .where(
                Measurement.resident_id == resident.id,
                Measurement.ts >= at - DEFAULT_WINDOW_S,
                Measurement.ts <= at,
            )
            .order_by(Measurement.ts)
        )
    ).all()
    judgement = kit_rules.judge_news2(
        _recent_readings(list(rows)), now_s=at, spo2_scale=2 if resident.hypercapnic else 1
    )
    if not (judgement.alert and judgement.severity):
        return
    await service.raise_alert(
        session,
        bus,
        type="vitals",
        severity=judgement.severity,
        facility_id=resident.facility_id,
        resident_id=resident.id,
        device_id=None,
        dedupe_key=f"vitals:{resident.id}:{judgement.rule_id}",
        actor=actor,
        detail={**judgement.detail(), "source": MANUAL_SOURCE},
    )


async def judge_kit_reading(
    session: AsyncSession, bus: EventBus, device: DeviceInfo, ev: KitEvent, facility_id: int
) -> None:
    resident = await session.get(Resident, ev.resident)
    ts = ev.env.ts
    rows = list(
        (
            await session.scalars(
                select(Measurement)
                .where(
                    Measurement.resident_id == ev.resident,
                    Measurement.ts >= ts - BASELINE_DAYS * 86_400,
                    Measurement.ts < ts,
                )
                .order_by(Measurement.ts)
            )
        ).all()
    )
    recent = [m for m in rows if m.ts >= ts - DEFAULT_WINDOW_S]
    judgement = kit_rules.judge_kit(
        ev.kit_kind,
        ev.values,
        ts_s=ts,
        context=ev.context,
        recent=_recent_readings(recent),
        spo2_scale=2 if resident is not None and resident.hypercapnic else 1,
    )
    if judgement.alert and judgement.severity:
        await _raise(
            session,
            bus,
            device,
            ev,
            facility_id,
            judgement.severity,
            judgement.rule_id,
            judgement.detail(),
        )
        return
    # Inside population bands: is it far from this resident's own usual?
    for (kind, name), series in BASELINE_SERIES.items():
        if kind != ev.kit_kind or name not in ev.values:
            continue
        history = [
            (m.ts, float(m.values[name])) for m in rows if m.kind == kind and name in m.values
        ]
        trend = judge_against_baseline(
            series, float(ev.values[name]), ts, [h[0] for h in history], [h[1] for h in history]
        )
        if trend.alert and trend.severity:
            await _raise(
                session,
                bus,
                device,
                ev,
                facility_id,
                trend.severity,
                f"baseline:{series}",
                trend.detail(),
            )
            return


async def _raise(
    session: AsyncSession,
    bus: EventBus,
    device: DeviceInfo,
    ev: KitEvent,
    facility_id: int,
    severity: str,
    rule: str,
    detail: dict[str, Any],
) -> None:
    await service.raise_alert(
        session,
        bus,
        type="vitals",
        severity=severity,
        facility_id=facility_id,
        resident_id=ev.resident,
        device_id=device.id,
        dedupe_key=f"vitals:{ev.resident}:{rule}",
        at=None,
        actor=device.id,
        detail={
            **detail,
            "kit_kind": ev.kit_kind,
            "values": dict(ev.values),
            "device_ts": ev.env.ts,
        },
    )
