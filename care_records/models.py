"""ORM models of care records: assessments, plans, tasks and their completions, guidance,
hand-recorded observations, and the audit of every change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from care_hub.kernel.db import Base, now_s
from care_hub.kernel.limits import MAX_RESIDENT_CHARS

ACTOR_CHARS = 100  # a username (users.username is 100)


class Assessment(Base):
    """One scale administered to a resident: the item answers and what the scale computed."""

    __tablename__ = "care_assessments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    scale: Mapped[str] = mapped_column(String(20))  # gbt42195 | barthel | ad8 | mmse | moca | morse
    items: Mapped[dict[str, Any]] = mapped_column()  # item key -> answer, as the form records it
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # education years, diagnoses...
    # Computed from `items` and `context` by care_records.scales; never typed in.
    total: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(20))
    positive: Mapped[bool | None] = mapped_column(Boolean)
    subscores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the scale's detail
    reason: Mapped[str] = mapped_column(String(20), default="routine")  # admission, after_fall...
    assessed_at: Mapped[float] = mapped_column(Float)
    assessor: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)  # staff only
    created_at: Mapped[float] = mapped_column(Float, default=now_s)
    __table_args__ = (
        Index("ix_care_assessments_resident_scale_at", "resident_id", "scale", "assessed_at"),
    )


class CarePlan(Base):
    """A resident's plan: goals and a summary a family may read, staff notes they never see."""

    __tablename__ = "care_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    goals: Mapped[list[Any]] = mapped_column(default=list)  # short texts
    staff_notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    created_at: Mapped[float] = mapped_column(Float, default=now_s)
    updated_at: Mapped[float] = mapped_column(Float, default=now_s)


class CareTask(Base):
    """A recurring task of a plan: every N hours, daily at a local time, or once per shift.

    `shifts` limits when an every-N-hours task runs (night checks only at night); `area` says
    which floors/wings' caregivers it belongs to when the resident's room does not (home care).
    """

    __tablename__ = "care_tasks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("care_plans.id"), index=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # night_check, blood_pressure, ... (catalogue)
    title: Mapped[str] = mapped_column(String(200), default="")  # optional free text
    recurrence: Mapped[str] = mapped_column(String(20))  # every_hours | daily | per_shift
    interval_h: Mapped[float | None] = mapped_column(Float)
    time_of_day: Mapped[str | None] = mapped_column(String(5))  # "HH:MM", facility local time
    shift: Mapped[str | None] = mapped_column(String(20))  # per_shift: which shift
    shifts: Mapped[list[Any]] = mapped_column(default=list)  # every_hours: only in these shifts
    area: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"floors": [...], "wings": [...]}
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    starts_at: Mapped[float] = mapped_column(Float, default=now_s)
    guidance_id: Mapped[int | None] = mapped_column(Integer)  # the accepted guidance it came from
    created_by: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    created_at: Mapped[float] = mapped_column(Float, default=now_s)


class TaskCompletion(Base):
    """A task done (or declined by the resident): proof of care, with who and when."""

    __tablename__ = "care_task_completions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("care_tasks.id"))
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
    done_at: Mapped[float] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20), default="done")  # done | declined
    done_by: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    note: Mapped[str | None] = mapped_column(Text)  # staff only
    __table_args__ = (
        Index("ix_care_task_completions_task_at", "task_id", "done_at"),
        Index("ix_care_task_completions_resident_at", "resident_id", "done_at"),
    )


class Guidance(Base):
    """A suggestion from a guidance rule, with its evidence, until staff accept or dismiss it."""

    __tablename__ = "care_guidance"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(60))
    evidence: Mapped[dict[str, Any]] = mapped_column()
    state: Mapped[str] = mapped_column(String(12), default="suggested")  # accepted | dismissed
    created_at: Mapped[float] = mapped_column(Float, default=now_s)
    decided_at: Mapped[float | None] = mapped_column(Float)
    decided_by: Mapped[str | None] = mapped_column(String(ACTOR_CHARS))
    note: Mapped[str | None] = mapped_column(Text)  # staff only


class Observation(Base):
    """What no device measures, recorded by hand: the NEWS2 inputs ACVPU, oxygen and a counted
    respiration rate (Royal College of Physicians, NEWS2, 2017). A copy goes to `measurements`
    (source `manual`) so the NEWS2 judgement in alerts.vitals reads it with the kit readings."""

    __tablename__ = "care_observations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"))
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), index=True)
    observed_at: Mapped[float] = mapped_column(Float)
    consciousness: Mapped[str | None] = mapped_column(String(1))  # A C V P U
    supplemental_oxygen: Mapped[bool | None] = mapped_column(Boolean)
    respiration_rate: Mapped[int | None] = mapped_column(Integer)  # breaths/min, counted 60 s
    recorded_by: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    note: Mapped[str | None] = mapped_column(Text)  # staff only
    measurement_id: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (Index("ix_care_observations_resident_at", "resident_id", "observed_at"),)


class CareAudit(Base):
    """Every change to care records: who, when, what, and the values it changed."""

    __tablename__ = "care_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, default=now_s)
    actor: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    action: Mapped[str] = mapped_column(String(40))  # assessment.recorded, task.completed, ...
    entity: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(Integer)
    resident_id: Mapped[str | None] = mapped_column(String(MAX_RESIDENT_CHARS), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
