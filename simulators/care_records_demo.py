"""Demo care records: assessments, plans and tasks for the first demo residents (issue 16).

Separate from the site seed (`care_hub.seed`), and idempotent: a resident who already has an
assessment is left alone. Every score is computed from item answers by `care_records.service`,
like any assessment; guidance is then checked once, so the demo opens with suggestions to decide.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from care_hub.kernel.db import now_s
from care_hub.kernel.models import Resident
from care_records import guidance_service, service
from care_records.models import Assessment
from care_records.scales import ad8, barthel, gbt42195, mmse, moca, morse

DEMO_ACTOR = service.Actor("demo-assessor")
DAY_S = 86_400.0


def _full(items: Any, **less: int) -> dict[str, int]:
    answers = {i.key: i.max_points for i in items}
    for key, minus in less.items():
        answers[key] -= minus
    return answers


def _zero(items: Any, **set_: int) -> dict[str, int]:
    return {i.key: 0 for i in items} | set_


# Three profiles: mostly independent; frail with a fall history; the cognitive care zone.
PROFILES: tuple[dict[str, Any], ...] = (
    {
        "assessments": [
            ("gbt42195", _full(gbt42195.ITEMS, bathing=2, stairs=2, transport=2, memory=1), {}),
            ("barthel", _full(barthel.ITEMS, bathing=5, stairs=5), {}),
            ("morse", _zero(morse.ITEMS, secondary_diagnosis=15, ambulatory_aid=15), {}),
            ("ad8", _zero(ad8.ITEMS, appointments=1), {}),
        ],
        "plan": ("协助洗澡，每天散步两次。", ["保持独立行走", "每周洗澡两次"]),
        "tasks": [
            {"kind": "blood_pressure", "recurrence": "daily", "time_of_day": "08:00"},
            {
                "kind": "hydration",
                "recurrence": "every_hours",
                "interval_h": 3.0,
                "shifts": ["day"],
            },
        ],
    },
    {
        "assessments": [
            (
                "gbt42195",
                _full(
                    gbt42195.ITEMS,
                    bathing=3,
                    dressing_lower=2,
                    toileting=2,
                    walking=2,
                    stairs=2,
                    bed_chair_transfer=2,
                    memory=2,
                    time_orientation=2,
                    daily_affairs=3,
                    transport=3,
                    social=2,
                    urine_control=2,
                ),
                {},
            ),
            (
                "barthel",
                _full(
                    barthel.ITEMS,
                    bathing=5,
                    stairs=10,
                    mobility=10,
                    transfers=5,
                    toilet_use=5,
                    bladder=5,
                ),
                {},
            ),
            ("morse", _zero(morse.ITEMS, history_of_falling=25, ambulatory_aid=15, gait=10), {}),
            ("ad8", _zero(ad8.ITEMS, repeats=1, appointments=1, forgets_month_year=1), {}),
            (
                "mmse",
                _full(
                    mmse.ITEMS,
                    time_date=1,
                    time_weekday=1,
                    place_district=1,
                    serial_sevens_correct=4,
                    recall_words=3,
                    three_stage_command=1,
                ),
                {"education_years": 3},
            ),
        ],
        "plan": ("扶行；夜间防跌倒。", ["三个月内不再跌倒"]),
        "tasks": [{"kind": "assisted_toileting", "recurrence": "every_hours", "interval_h": 4.0}],
    },
    {
        "assessments": [
            (
                "gbt42195",
                _full(
                    gbt42195.ITEMS,
                    memory=2,
                    time_orientation=2,
                    place_orientation=2,
                    daily_affairs=3,
                    transport=3,
                ),
                {"dementia": True},
            ),
            (
                "moca",
                _full(
                    moca.ITEMS,
                    clock_hands=1,
                    recall_face=1,
                    recall_velvet=1,
                    recall_church=1,
                    orientation_date=1,
                    abstraction_2=1,
                )
                | {"letter_tapping_errors": 0, "serial_sevens_correct": 3, "fluency_words": 9},
                {"education_years": 9},
            ),
        ],
        "plan": ("认知照护专区：每天怀旧和手工训练。", ["维持日常生活能力", "减少夜间走动"]),
        "tasks": [
            {"kind": "cognitive_reminiscence", "recurrence": "daily", "time_of_day": "10:00"},
            {"kind": "cognitive_hand_skills", "recurrence": "daily", "time_of_day": "15:00"},
        ],
    },
)


async def seed_care_records(*, session: AsyncSession, now: float | None = None) -> int:
    """Records for the first residents (by id), one profile each; returns residents seeded."""
    now = now_s() if now is None else now
    residents = (
        await session.scalars(select(Resident).order_by(Resident.id).limit(len(PROFILES)))
    ).all()
    seeded = 0
    for resident, profile in zip(residents, PROFILES, strict=False):
        if await session.scalar(select(Assessment.id).where(Assessment.resident_id == resident.id)):
            continue
        for n, (scale, items, context) in enumerate(profile["assessments"]):
            await service.record_assessment(
                session,
                resident=resident,
                scale=scale,
                items=items,
                context=context,
                actor=DEMO_ACTOR,
                assessed_at=now - (30 - n) * DAY_S,
                reason="admission",
            )
        summary, goals = profile["plan"]
        plan = await service.save_plan(
            session, resident=resident, actor=DEMO_ACTOR, summary=summary, goals=goals
        )
        for spec in profile["tasks"]:
            await service.add_task(session, plan=plan, actor=DEMO_ACTOR, starts_at=now, **spec)
        await guidance_service.refresh(session, resident=resident, now=now)
        seeded += 1
    return seeded
