"""Guidance use cases: gather a resident's facts, store what the rules suggest, accept or dismiss.

Never commits (the caller does). Accepting is the only way a suggestion changes anything, and
what it changes (resident flags, tasks added) is audited with the suggestion.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.kernel.db import now_s
from care_hub.kernel.models import Measurement, Resident, ZoneVisit
from care_records import evidence, guidance, service
from care_records.models import Guidance
from care_records.scales import COGNITIVE_SCREENS

WEEK_DAYS = 7
BASELINE_DAYS = 21  # the three weeks before the last one: the resident's own usual
# After a suggestion of a rule, the same rule stays quiet for a week (accepted or dismissed),
# so a dismissed suggestion is not put back on the next check of the same data.
QUIET_S = 7 * 86_400.0
STATES = ("suggested", "accepted", "dismissed")
RADAR_VITALS = "radar_vitals"


class GuidanceStateError(ValueError):
    """Deciding a suggestion that is already decided."""


async def resident_facts(
    session: AsyncSession, *, resident: Resident, now: float
) -> guidance.ResidentFacts:
    """The facts the guidance rules read: latest assessments, and four weeks of trail and vitals."""
    ft = await service.facility_time(session, resident.facility_id)
    latest = (await service.latest_assessments(session, resident_ids=[resident.id])).get(
        resident.id, {}
    )
    ability, fall_scale = latest.get("gbt42195"), latest.get("morse")
    screens = tuple(
        guidance.Screen(a.scale, a.id, a.total, bool(a.positive), a.assessed_at)
        for scale in COGNITIVE_SCREENS
        if (a := latest.get(scale)) is not None
    )
    since = now - (WEEK_DAYS * 2 + BASELINE_DAYS + 2) * 86_400.0
    visits = [
        evidence.Visit(v.zone, v.entered_at, v.left_at)
        for v in (
            await session.scalars(
                select(ZoneVisit)
                .where(ZoneVisit.resident_id == resident.id, ZoneVisit.entered_at >= since)
                .order_by(ZoneVisit.entered_at)
            )
        ).all()
    ]
    vitals = (
        await session.scalars(
            select(Measurement).where(
                Measurement.resident_id == resident.id,
                Measurement.kind == RADAR_VITALS,
                Measurement.ts >= since,
            )
        )
    ).all()
    breathing = [
        (m.ts, float(m.values["breathing_bpm"]))
        for m in vitals
        if m.values.get("breathing_bpm") is not None
    ]
    heart = [
        (m.ts, float(m.values["heart_bpm"]))
        for m in vitals
        if m.values.get("heart_bpm") is not None
    ]
    today = datetime.fromtimestamp(now, ft.tz).date()
    this_week = evidence.past_days(today, WEEK_DAYS)
    last_week = evidence.past_days(today, WEEK_DAYS, skip=WEEK_DAYS)
    baseline = evidence.past_days(today, BASELINE_DAYS, skip=WEEK_DAYS)
    # Nights are named by the evening they start: last night started yesterday.
    return guidance.ResidentFacts(
        ability_level=ability.level if ability else None,
        ability_assessment_id=ability.id if ability else None,
        morse_total=fall_scale.total if fall_scale else None,
        morse_assessment_id=fall_scale.id if fall_scale else None,
        screens=screens,
        night_bed_exits=tuple(evidence.night_bed_exits(visits, this_week, ft.tz, now=now)),
        night_bathroom_this_week=tuple(
            evidence.night_zone_visits(visits, evidence.BATHROOM, this_week, ft.tz, now=now)
        ),
        night_bathroom_last_week=tuple(
            evidence.night_zone_visits(visits, evidence.BATHROOM, last_week, ft.tz, now=now)
        ),
        resting_breathing_week=tuple(evidence.daily_medians(breathing, this_week, ft.tz)),
        resting_breathing_baseline=tuple(evidence.daily_medians(breathing, baseline, ft.tz)),
        resting_heart_week=tuple(evidence.daily_medians(heart, this_week, ft.tz)),
        resting_heart_baseline=tuple(evidence.daily_medians(heart, baseline, ft.tz)),
        out_of_bed_h_this_week=tuple(evidence.out_of_bed_hours(visits, this_week, ft.tz, now=now)),
        out_of_bed_h_last_week=tuple(evidence.out_of_bed_hours(visits, last_week, ft.tz, now=now)),
    )


async def refresh(
    session: AsyncSession, *, resident: Resident, now: float | None = None
) -> list[Guidance]:
    """Run the rules for one resident and store new suggestions (each rule at most once a week,
    never while one of its suggestions waits for a decision). Returns the new ones."""
    now = now_s() if now is None else now
    facts = await resident_facts(session, resident=resident, now=now)
    recent = (
        await session.scalars(
            select(Guidance).where(
                Guidance.resident_id == resident.id,
                (Guidance.state == "suggested") | (Guidance.created_at >= now - QUIET_S),
            )
        )
    ).all()
    quiet = {g.rule_id for g in recent}
    created = []
    for s in guidance.evaluate(facts):
        if s.rule_id in quiet:
            continue
        row = Guidance(
            resident_id=resident.id,
            facility_id=resident.facility_id,
            rule_id=s.rule_id,
            evidence=s.evidence,
            state="suggested",
            created_at=now,
        )
        session.add(row)
        await session.flush()
        service.audit(
            session,
            actor=service.Actor("system"),
            action="guidance.suggested",
            entity="guidance",
            entity_id=row.id,
            resident_id=resident.id,
            data={"rule_id": s.rule_id},
            at=now,
        )
        created.append(row)
    return created


async def decide(
    session: AsyncSession,
    *,
    item: Guidance,
    accept: bool,
    actor: service.Actor,
    note: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Accept (apply what the rule suggests) or dismiss. Returns what changed."""
    if item.state != "suggested":
        raise GuidanceStateError(f"guidance {item.id} is already {item.state}")
    now = now_s() if now is None else now
    item.state = "accepted" if accept else "dismissed"
    item.decided_at, item.decided_by, item.note = now, actor.username, note
    changes: dict[str, Any] = {"resident": {}, "task_ids": []}
    rule = guidance.RULES_BY_ID.get(item.rule_id)
    if accept and rule is not None:
        resident = await session.get(Resident, item.resident_id)
        if resident is not None:
            for name, value in rule.set_resident.items():
                if getattr(resident, name) != value:
                    changes["resident"][name] = {"before": getattr(resident, name), "after": value}
                    setattr(resident, name, value)
            if rule.add_tasks:
                plan = await service.active_plan(session, resident_id=resident.id)
                if plan is None:
                    plan = await service.save_plan(session, resident=resident, actor=actor)
                for spec in rule.add_tasks:
                    task = await service.add_task(
                        session, plan=plan, actor=actor, guidance_id=item.id, starts_at=now, **spec
                    )
                    changes["task_ids"].append(task.id)
    service.audit(
        session,
        actor=actor,
        action=f"guidance.{item.state}",
        entity="guidance",
        entity_id=item.id,
        resident_id=item.resident_id,
        data={"rule_id": item.rule_id, **changes},
        at=now,
    )
    return changes
