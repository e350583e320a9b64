"""Report data: a resident's month (activity and sleep from the trail, vitals with NEWS2 bands,
alerts and response times, assessments, care delivered), reassessment reminders, and the family's
summary. Reads only; the PDF is drawn from the same data (`care_records.pdf`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.models import Alert
from alerts.policy import is_false_alarm
from care_hub.kernel.models import Facility, Measurement, Resident, Room, ZoneVisit
from care_hub.signal_core import news2
from care_records import evidence, scales, service
from care_records import reminders as due_rules
from care_records.models import Assessment, CareTask, Observation
from care_records.schemas import (
    ActivitySummary,
    AlertSummary,
    AssessmentPublic,
    CareDelivered,
    FamilyCareDone,
    FamilyCareSummary,
    FamilyTask,
    MonthlyReport,
    ReminderPublic,
    VitalSummary,
)

# Which NEWS2 score judges each stored value (RCP 2017 chart 1): a reading "in band" scores 0.
NEWS2_SCORER: dict[tuple[str, str], Any] = {
    ("blood_pressure", "systolic"): news2.score_systolic_bp,
    ("blood_pressure", "pulse"): news2.score_pulse,
    ("spo2", "pulse"): news2.score_pulse,
    ("pulse", "bpm"): news2.score_pulse,
    ("temperature", "celsius"): news2.score_temperature,
    ("radar_vitals", "breathing_bpm"): news2.score_respiration_rate,
    ("radar_vitals", "heart_bpm"): news2.score_pulse,
}
MAX_MEASUREMENTS = 200_000  # a month of one radar reading a minute is ~45,000


def assessment_public(a: Assessment) -> AssessmentPublic:
    return AssessmentPublic(
        id=a.id,
        resident_id=a.resident_id,
        scale=a.scale,
        items=a.items,
        context=a.context,
        total=a.total,
        max_total=scales.max_total_of(a.scale),
        level=a.level,
        positive=a.positive,
        subscores=a.subscores,
        result=a.result,
        reason=a.reason,
        assessed_at=a.assessed_at,
        assessor=a.assessor,
        note=a.note,
    )


def month_bounds(month: str, ft: service.FacilityTime) -> tuple[date, date, float, float]:
    year, mon = (int(x) for x in month.split("-"))
    first = date(year, mon, 1)
    nxt = date(year + (mon == 12), mon % 12 + 1, 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=ft.tz).timestamp()
    end = datetime.combine(nxt, datetime.min.time(), tzinfo=ft.tz).timestamp()
    return first, nxt, start, end


def _mean(values: list[float] | list[int]) -> float | None:
    return round(float(statistics.fmean(values)), 2) if values else None


def vital_summaries(rows: list[Measurement], spo2_scale: int) -> list[VitalSummary]:
    series: dict[tuple[str, str], list[float]] = defaultdict(list)
    for m in rows:
        if m.source == "manual":
            continue
        for name, value in (m.values or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                series[(m.kind, name)].append(float(value))
    out = []
    for (kind, name), values in sorted(series.items()):
        arr = np.asarray(values, dtype=np.float64)
        if (kind, name) == ("spo2", "percent"):
            scores = news2.score_spo2(arr, spo2_scale)
        elif (kind, name) in NEWS2_SCORER:
            scores = NEWS2_SCORER[(kind, name)](arr)
        else:
            scores = None
        out.append(
            VitalSummary(
                kind=kind,
                name=name,
                count=len(values),
                minimum=round(float(arr.min()), 1),
                median=round(float(np.median(arr)), 1),
                maximum=round(float(arr.max()), 1),
                in_band=None if scores is None else round(float(np.mean(scores == 0)), 3),
                score3=None if scores is None else round(float(np.mean(scores >= 3)), 3),
            )
        )
    return out


def alert_summaries(rows: list[Alert]) -> list[AlertSummary]:
    by_type: dict[str, list[Alert]] = defaultdict(list)
    for a in rows:
        by_type[a.type].append(a)
    out = []
    for kind, alerts in sorted(by_type.items()):
        acks = [a.acknowledged_at - a.raised_at for a in alerts if a.acknowledged_at is not None]
        out.append(
            AlertSummary(
                type=kind,
                count=len(alerts),
                acknowledged=len(acks),
                median_ack_s=round(float(statistics.median(acks)), 1) if acks else None,
                false_alarms=sum(
                    1
                    for a in alerts
                    if a.state == "resolved"
                    and is_false_alarm(a.type, a.outcome, (a.detail or {}).get("answers"))
                ),
            )
        )
    return out


async def monthly(session: AsyncSession, *, resident: Resident, month: str) -> MonthlyReport:
    ft = await service.facility_time(session, resident.facility_id)
    first, nxt, start, end = month_bounds(month, ft)
    days = [first + timedelta(days=n) for n in range((nxt - first).days)]
    visits = [
        evidence.Visit(v.zone, v.entered_at, v.left_at)
        for v in (
            await session.scalars(
                select(ZoneVisit).where(
                    ZoneVisit.resident_id == resident.id,
                    ZoneVisit.entered_at < end + 86_400.0,
                    (ZoneVisit.left_at.is_(None)) | (ZoneVisit.left_at >= start - 86_400.0),
                )
            )
        ).all()
    ]
    now = min(end, datetime.now(ft.tz).timestamp())
    out_of_bed = evidence.out_of_bed_hours(visits, days, ft.tz, now=now)
    nights = [d for d in days if evidence.night_window(d, ft.tz)[1] <= now]
    in_bed_night = []
    for d in nights:
        s, e = evidence.night_window(d, ft.tz)
        if any(v.entered_at < e and (v.left_at or now) > s for v in visits):
            in_bed_night.append(
                sum(
                    max(0.0, min(e, v.left_at or now) - max(s, v.entered_at))
                    for v in visits
                    if v.zone == evidence.BED
                )
                / 3600.0
            )
    activity = ActivitySummary(
        days_covered=len(out_of_bed),
        out_of_bed_h_per_day=_mean(out_of_bed),
        in_bed_night_h=_mean(in_bed_night),
        night_bed_exits_per_night=_mean(evidence.night_bed_exits(visits, nights, ft.tz, now=now)),
        night_bathroom_per_night=_mean(
            evidence.night_zone_visits(visits, evidence.BATHROOM, nights, ft.tz, now=now)
        ),
    )
    measurements = list(
        (
            await session.scalars(
                select(Measurement)
                .where(
                    Measurement.resident_id == resident.id,
                    Measurement.ts >= start,
                    Measurement.ts < end,
                )
                .limit(MAX_MEASUREMENTS)
            )
        ).all()
    )
    alerts = list(
        (
            await session.scalars(
                select(Alert).where(
                    Alert.resident_id == resident.id,
                    Alert.raised_at >= start,
                    Alert.raised_at < end,
                )
            )
        ).all()
    )
    in_month = [
        a
        for a in await service.assessments_of(session, resident_id=resident.id, limit=1000)
        if a.assessed_at < end
    ]
    latest: dict[str, Assessment] = {}
    for a in sorted(in_month, key=lambda a: (a.assessed_at, a.id)):
        latest[a.scale] = a
    kinds = {
        t.id: t.kind
        for t in (
            await session.scalars(select(CareTask).where(CareTask.resident_id == resident.id))
        ).all()
    }
    care: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in await service.completions_of(
        session, resident_id=resident.id, start=start, end=end, limit=100_000
    ):
        care[kinds.get(c.task_id, "task")][0 if c.outcome == "done" else 1] += 1
    observations = len(
        (
            await session.scalars(
                select(Observation.id).where(
                    Observation.resident_id == resident.id,
                    Observation.observed_at >= start,
                    Observation.observed_at < end,
                )
            )
        ).all()
    )
    room = await session.get(Room, resident.room_id) if resident.room_id else None
    facility = await session.get(Facility, resident.facility_id)
    return MonthlyReport(
        resident_id=resident.id,
        resident_name=resident.name,
        room=room.name if room else None,
        facility=facility.name if facility else None,
        month=month,
        start=start,
        end=end,
        timezone=str(ft.tz),
        activity=activity,
        vitals=vital_summaries(measurements, 2 if resident.hypercapnic else 1),
        alerts=alert_summaries(alerts),
        assessments=[assessment_public(a) for a in in_month if a.assessed_at >= start],
        latest={s: assessment_public(a) for s, a in latest.items()},
        care=[CareDelivered(kind=k, done=v[0], declined=v[1]) for k, v in sorted(care.items())],
        observations=observations,
    )


async def reminders(
    session: AsyncSession, *, residents: list[Resident], now: float
) -> list[ReminderPublic]:
    """Reassessments due: never assessed, 6-monthly, or after a fall or a hospital transfer."""
    ids = [r.id for r in residents]
    latest = await service.latest_assessments(session, resident_ids=ids)
    falls: dict[str, list[float]] = defaultdict(list)
    hospital: dict[str, list[float]] = defaultdict(list)
    if ids:
        rows = (
            await session.execute(
                select(
                    Alert.resident_id,
                    Alert.type,
                    Alert.raised_at,
                    Alert.outcome,
                    Alert.resolved_at,
                    Alert.detail,
                ).where(
                    Alert.resident_id.in_(ids),
                    Alert.raised_at
                    >= now - 2 * due_rules.DEFAULT_REASSESS_MONTHS * due_rules.MONTH_S,
                )
            )
        ).all()
        for rid, kind, raised, outcome, resolved, detail in rows:
            if outcome == "transferred_to_hospital":
                hospital[rid].append(resolved or raised)
            if kind == "fall" and not is_false_alarm(kind, outcome, (detail or {}).get("answers")):
                falls[rid].append(raised)
    times: dict[int, service.FacilityTime] = {}
    out = []
    for r in residents:
        ft = times.get(r.facility_id) or await service.facility_time(session, r.facility_id)
        times[r.facility_id] = ft
        months = (ft.settings.get("care") or {}).get("reassess_months")
        every = (
            float(months)
            if isinstance(months, int | float) and months > 0
            else (due_rules.DEFAULT_REASSESS_MONTHS)
        )
        for scale in due_rules.REMINDED_SCALES:
            last = latest.get(r.id, {}).get(scale)
            due = due_rules.reassessment_due(
                scale,
                last_assessed_at=last.assessed_at if last else None,
                now=now,
                falls=falls.get(r.id, ()),
                hospital_stays=hospital.get(r.id, ()),
                every_months=every,
            )
            if due is not None:
                out.append(
                    ReminderPublic(
                        resident_id=r.id,
                        resident_name=r.name,
                        scale=scale,
                        reason=due.reason,
                        since=due.since,
                    )
                )
    return out


async def family_summary(
    session: AsyncSession, *, resident: Resident, now: float, days: int
) -> FamilyCareSummary:
    """Plan summary, goals, tasks and care delivered; no staff notes, no staff names."""
    plan = await service.active_plan(session, resident_id=resident.id)
    tasks = await service.tasks_of(session, resident_id=resident.id)
    every = {
        t.id: t
        for t in (
            await session.scalars(select(CareTask).where(CareTask.resident_id == resident.id))
        ).all()
    }
    done = await service.completions_of(
        session, resident_id=resident.id, start=now - days * 86_400.0, end=now + 1
    )
    return FamilyCareSummary(
        resident_id=resident.id,
        resident_name=resident.name,
        summary=plan.summary if plan else "",
        goals=[str(g) for g in plan.goals] if plan else [],
        tasks=[
            FamilyTask(
                kind=t.kind,
                title=t.title,
                recurrence=t.recurrence,
                interval_h=t.interval_h,
                time_of_day=t.time_of_day,
                shift=t.shift,
            )
            for t in tasks
        ],
        delivered=[
            FamilyCareDone(
                kind=every[c.task_id].kind if c.task_id in every else "task",
                title=every[c.task_id].title if c.task_id in every else "",
                done_at=c.done_at,
                outcome=c.outcome,
            )
            for c in done
        ],
    )
